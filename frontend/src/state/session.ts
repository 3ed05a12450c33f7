// The state of one open session, rebuilt from a snapshot plus the events of
// `session:<id>` (the same rules as the server's src/sessions/replay.rs).
// Pure: no DOM, no network.

import type {
  Asset,
  ChatMessage,
  Collaborator,
  Mission,
  PatchOp,
  Role,
  Session,
  SessionEvent,
  SessionStatus,
  Snapshot,
} from '../types';
import { applyPatch } from './jsonpatch';
import { rollUp } from './rollup';
import { Sequencer, type Arrival } from './sequencer';

export interface SessionState {
  session: Session;
  mission: Mission | null;
  messages: ChatMessage[];
  assets: Asset[];
  /** The caller's role. */
  role: Role | null;
  /** Set when the session was deleted or access was revoked. */
  gone: string | null;
  /** Stream position the state reflects. */
  offset: number;
  epoch: string;
}

export function fromSnapshot(snap: Snapshot): SessionState {
  return {
    session: { ...snap.session, collaborators: snap.collaborators ?? snap.session.collaborators },
    mission: snap.mission,
    messages: [...snap.messages].sort((a, b) => a.offset - b.offset),
    assets: [...snap.assets],
    role: snap.role,
    gone: null,
    offset: snap.position.offset,
    epoch: snap.position.epoch,
  };
}

/** Applies one event (the caller guarantees offset order) and returns the new state. */
export function applyEvent(state: SessionState, event: SessionEvent, me: string): SessionState {
  const s: SessionState = { ...state, offset: event.offset };
  const session = { ...state.session };
  s.session = session;
  const d = event.data ?? {};
  switch (event.type) {
    case 'session.created':
    case 'session.imported':
    case 'session.forked':
      if (d.session) Object.assign(session, d.session);
      if ('mission' in d) s.mission = d.mission;
      break;
    case 'session.updated':
      if (typeof d.name === 'string') session.name = d.name;
      if (d.metadata && typeof d.metadata === 'object') session.metadata = d.metadata;
      session.updated_at = event.at;
      break;
    case 'session.status_changed':
      session.status = d.to as SessionStatus;
      session.updated_at = event.at;
      break;
    case 'session.deleted':
      s.gone = `This session was deleted by ${event.actor}.`;
      break;
    case 'collaborator.added':
    case 'collaborator.updated': {
      const c = d.collaborator as Collaborator;
      const i = session.collaborators.findIndex((x) => x.user_id === c.user_id);
      session.collaborators =
        i >= 0
          ? session.collaborators.map((x, j) => (j === i ? { ...x, role: c.role } : x))
          : [...session.collaborators, c];
      if (c.user_id === me) s.role = c.role;
      break;
    }
    case 'collaborator.removed':
      session.collaborators = session.collaborators.filter((x) => x.user_id !== d.user_id);
      if (d.user_id === me) {
        s.role = null;
        s.gone = `${event.actor} removed your access to this session.`;
      }
      break;
    case 'chat.message': {
      const message: ChatMessage = { ...d.message, offset: event.offset };
      s.messages = [...state.messages, message];
      session.message_count += 1;
      break;
    }
    case 'mission.linked':
      s.mission = d.mission;
      session.mission_id = d.mission?.id ?? null;
      break;
    case 'mission.updated':
      if (state.mission) {
        // The server rolls hop statuses up from their steps after every patch.
        const patched = rollUp(applyPatch(state.mission, d.patch as PatchOp[]));
        s.mission = { ...patched, revision: d.revision, updated_at: event.at };
      }
      break;
    case 'asset.added':
      s.assets = [...state.assets.filter((a) => a.id !== d.asset?.id), d.asset];
      break;
    case 'asset.removed':
      s.assets = state.assets.filter((a) => a.id !== d.asset_id);
      break;
    default:
      break;
  }
  if (event.at > session.last_activity_at) session.last_activity_at = event.at;
  return s;
}

/**
 * A session's state fed by events that may arrive twice or out of order
 * (live publications, recovered ones, a reloaded snapshot): applies each
 * offset once, in order.
 */
export class SessionStore {
  private seq: Sequencer<SessionEvent>;
  private current: SessionState;
  private readonly listeners = new Set<(state: SessionState, applied: SessionEvent[]) => void>();

  constructor(
    snapshot: Snapshot,
    private readonly me: string,
  ) {
    this.current = fromSnapshot(snapshot);
    this.seq = new Sequencer(this.current.offset);
  }

  get state(): SessionState {
    return this.current;
  }

  /** Offsets buffered behind a gap. */
  get waiting(): number[] {
    return this.seq.waiting;
  }

  /**
   * Events that arrive while a snapshot is being reloaded are held here and
   * applied after it (those it already contains are dropped as duplicates).
   */
  private held: SessionEvent[] | null = null;

  receive(event: SessionEvent): Arrival {
    if (this.held) {
      this.held.push(event);
      return 'buffered';
    }
    const applied: SessionEvent[] = [];
    const arrival = this.seq.push(event.offset, event, (e) => {
      this.current = applyEvent(this.current, e, this.me);
      applied.push(e);
    });
    if (applied.length > 0) this.emit(applied);
    return arrival;
  }

  /** Starts holding incoming events: a snapshot reload is under way. */
  beginReload(): void {
    this.held ??= [];
  }

  /** Whether a reload is under way. */
  get reloading(): boolean {
    return this.held !== null;
  }

  /**
   * Replaces the state with a fresh snapshot (after recovery failed, or a
   * new epoch), then applies the events held since `beginReload` that come
   * after the snapshot's position.
   */
  reload(snapshot: Snapshot): void {
    const held = this.held ?? [];
    this.held = null;
    this.current = fromSnapshot(snapshot);
    this.seq.reset(this.current.offset);
    this.emit([]);
    for (const e of held) this.receive(e);
  }

  /** Gives up a reload (it failed): the held events are replayed on the old state. */
  cancelReload(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const e of held) this.receive(e);
  }

  onChange(listener: (state: SessionState, applied: SessionEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(applied: SessionEvent[]): void {
    for (const l of this.listeners) l(this.current, applied);
  }
}
