// Makes the outbox's writes on the server, each so that a replay applies it
// once (see state/writes.ts), and says what happened in the outbox's terms.

import { ApiClient, ApiError, toFailure } from './api';
import { describeEdit, planEdit } from './state/mission';
import type { OutboxItem } from './state/outbox';
import { ASSET_KEY_FIELD, failed, LIFECYCLE_TARGET, type SendOutcome, type WriteOp } from './state/writes';
import type { ChatMessage, Mission, Session } from './types';

/** What the app knows locally of an open session (saves a round trip). */
export interface Local {
  mission(sessionId: string): Mission | null | undefined;
  session(sessionId: string): Session | undefined;
}

/** A delivered chat message (shown before its echo arrives), or null for other writes. */
export type Delivered = ChatMessage | null;

const MAX_PLANS = 4;

/**
 * Deletes something; a 404 means it is gone already (someone else, or an
 * earlier attempt whose answer was lost) unless `stillThere` says otherwise
 * (then the 404 was for the session itself).
 */
async function removed(remove: () => Promise<unknown>, stillThere: () => Promise<boolean>): Promise<void> {
  try {
    await remove();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    if (await stillThere()) throw err;
  }
}

export class Writer {
  constructor(
    private readonly api: ApiClient,
    private readonly local: Local,
  ) {}

  async send(item: OutboxItem): Promise<SendOutcome<Delivered>> {
    try {
      return await this.make(item, item.op);
    } catch (err) {
      return failed(toFailure(err));
    }
  }

  private async make(item: OutboxItem, op: WriteOp): Promise<SendOutcome<Delivered>> {
    const sid = item.sessionId;
    const done: SendOutcome<Delivered> = { ok: true, result: null };
    switch (op.kind) {
      case 'chat':
        return { ok: true, result: await this.api.sendMessage(sid, op.content, item.key, op.role) };
      case 'mission':
        return this.mission(sid, op);
      case 'assetAdd': {
        // A retry looks first whether an earlier attempt landed (its response lost).
        if (item.attempts > 1) {
          const assets = await this.api.listAssets(sid);
          if (assets.some((a) => a.metadata?.[ASSET_KEY_FIELD] === item.key)) return done;
        }
        await this.api.addAsset(sid, op.asset, { [ASSET_KEY_FIELD]: item.key });
        return done;
      }
      case 'assetRemove':
        await removed(
          () => this.api.removeAsset(sid, op.assetId),
          async () => (await this.api.listAssets(sid)).some((a) => a.id === op.assetId),
        );
        return done;
      case 'lifecycle':
        try {
          await this.api.lifecycle(sid, op.action);
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 'illegal_transition')) throw err;
          const { session } = await this.api.getSession(sid);
          if (session.status === LIFECYCLE_TARGET[op.action]) return done;
          return { ok: false, retry: false, conflict: `the session is ${session.status} now, so "${op.action}" no longer applies` };
        }
        return done;
      case 'share':
        await this.api.share(sid, op.user, op.role);
        return done;
      case 'revoke':
        await removed(
          () => this.api.revoke(sid, op.user),
          async () => (await this.api.collaborators(sid)).some((c) => c.user_id === op.user),
        );
        return done;
      case 'rename': {
        const session = this.local.session(sid) ?? (await this.api.getSession(sid)).session;
        if (session.name === op.to) return done;
        if (session.name !== op.from && !op.force) {
          return { ok: false, retry: false, conflict: `the session was renamed to "${session.name}" meanwhile` };
        }
        await this.api.updateSession(sid, { name: op.to });
        return done;
      }
    }
  }

  /** Plans the edit on the newest mission known, re-planning after each `409 stale_revision`. */
  private async mission(sid: string, op: Extract<WriteOp, { kind: 'mission' }>): Promise<SendOutcome<Delivered>> {
    let mission = this.local.mission(sid) ?? (await this.api.getMission(sid));
    for (let i = 0; i < MAX_PLANS; i++) {
      const plan = planEdit(mission, op.edit, op.force);
      if (!plan.ok) {
        return plan.conflict
          ? { ok: false, retry: false, conflict: plan.reason }
          : { ok: false, retry: false, error: `${describeEdit(op.edit)}: ${plan.reason}` };
      }
      if (plan.ops.length === 0) return { ok: true, result: null };
      try {
        await this.api.patchMission(sid, plan.ops, mission.revision);
        return { ok: true, result: null };
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 'stale_revision')) throw err;
        mission = await this.api.getMission(sid);
      }
    }
    return { ok: false, retry: false, conflict: 'the mission kept changing while this edit was sent' };
  }
}
