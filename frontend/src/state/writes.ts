// Every write the app makes, as data: what goes into the outbox, how it is
// described to the user, and what a failed attempt means (retry later, ask
// the user, or give up). Each write is idempotent when replayed: chat
// messages carry an idempotency key; mission edits are intents planned
// against the current revision (a replay of an applied edit plans nothing);
// an added asset carries its outbox key in its metadata, so a replay finds
// it; deletes of what is gone are done; a lifecycle change that already
// happened is done, and one overtaken by someone else's change is a conflict.
// Pure: no DOM, no network.

import type { AssetScope, MessageRole, Role, SessionStatus } from '../types';
import { describeEdit, type MissionEdit } from './mission';

export type LifecycleAction = 'complete' | 'archive' | 'restore' | 'reopen';

/** The status each lifecycle action leads to. */
export const LIFECYCLE_TARGET: Record<LifecycleAction, SessionStatus> = {
  complete: 'completed',
  archive: 'archived',
  restore: 'active',
  reopen: 'active',
};

export interface NewAsset {
  name: string;
  media_type: string;
  scope: AssetScope;
  content?: string;
  uri?: string;
}

export type WriteOp =
  | { kind: 'chat'; content: string; role?: MessageRole }
  | { kind: 'mission'; edit: MissionEdit; force?: boolean }
  | { kind: 'assetAdd'; asset: NewAsset }
  | { kind: 'assetRemove'; assetId: string; name: string }
  | { kind: 'lifecycle'; action: LifecycleAction; from: SessionStatus }
  | { kind: 'share'; user: string; role: Exclude<Role, 'owner'> }
  | { kind: 'revoke'; user: string }
  | { kind: 'rename'; from: string; to: string; force?: boolean };

/** The metadata key that carries an added asset's outbox key. */
export const ASSET_KEY_FIELD = 'client_key';

export function describeWrite(op: WriteOp): string {
  switch (op.kind) {
    case 'chat':
      return `message "${op.content.length > 40 ? `${op.content.slice(0, 39)}…` : op.content}"`;
    case 'mission':
      return describeEdit(op.edit);
    case 'assetAdd':
      return `add asset "${op.asset.name}"`;
    case 'assetRemove':
      return `delete asset "${op.name}"`;
    case 'lifecycle':
      return `${op.action} the session`;
    case 'share':
      return `share with ${op.user} as ${op.role}`;
    case 'revoke':
      return `remove ${op.user}`;
    case 'rename':
      return `rename the session to "${op.to}"`;
  }
}

/** What a failed request looks like to the outbox (from `ApiError`/`NetworkError`). */
export interface Failure {
  /** No answer at all (offline, server down). */
  network?: boolean;
  status?: number;
  code?: string;
  message: string;
}

/** What a send attempt says. */
export type SendOutcome<T> =
  | { ok: true; result: T }
  /** Not reached the server, no answer, or not signed in: keep it and retry later. */
  | { ok: false; retry: true }
  /** Refused for good (e.g. 403, 409 archived, 413): kept, marked failed, never retried by itself. */
  | { ok: false; retry: false; error: string }
  /** Overtaken by someone else's change: the user keeps theirs or discards it. */
  | { ok: false; retry: false; conflict: string };

/** Whether a failure is worth retrying by itself later. */
export function isTransient(f: Failure): boolean {
  if (f.network) return true;
  const s = f.status ?? 0;
  return s === 401 || s === 408 || s === 429 || s >= 500;
}

/** The outcome of a failed attempt that has no special meaning for its write. */
export function failed<T>(f: Failure): SendOutcome<T> {
  if (isTransient(f)) return { ok: false, retry: true };
  if (f.status === 404) return { ok: false, retry: false, error: 'the session no longer exists (or is no longer shared with you)' };
  if (f.status === 403) return { ok: false, retry: false, error: 'you may no longer make this change (your role changed)' };
  if (f.code === 'archived') return { ok: false, retry: false, error: 'the session is archived: restore it first' };
  return { ok: false, retry: false, error: f.message };
}

/** Words for an error shown to a person ("Failed to fetch" says nothing). */
export function humanError(f: Failure): string {
  if (f.network) return 'Cannot reach the server. Check the connection; Tandem retries by itself.';
  if (f.status === 401) return 'The server did not accept your sign-in.';
  if (f.status === 503) return 'The server is busy or its storage is unreachable; try again in a moment.';
  return f.message;
}
