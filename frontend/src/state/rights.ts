// What the user may do in a session now, and why not: from their role, the
// session's status and the connection. Writes that go through the outbox
// (chat, mission, assets, sharing, lifecycle, rename) stay possible offline;
// the rest (create, delete, export, import, fork) need the server there and
// are disabled with a reason meanwhile. Pure.

import type { Role, SessionStatus } from '../types';
import type { Phase } from './connection';
import type { LifecycleAction } from './writes';

/** The status machine (SPEC §2): the actions valid from each status. */
export const LIFECYCLE_ACTIONS: Record<SessionStatus, LifecycleAction[]> = {
  active: ['complete', 'archive'],
  completed: ['archive'],
  abandoned: ['reopen', 'archive'],
  archived: ['restore'],
};

export interface Rights {
  /** Chat, mission, assets, rename (queued while offline). */
  write: boolean;
  /** Why writing is off, or a word on the status when it is on. */
  writeNote: string | null;
  /** Share, change roles, revoke (owner; queued while offline). */
  share: boolean;
  /** Lifecycle actions offered now. */
  lifecycle: LifecycleAction[];
  /** How to get where no direct action leads (completed → active). */
  lifecycleHint: string | null;
  /** Delete for good (owner; needs the server). */
  delete: boolean;
  /** Export, fork, create a mission: need the server. */
  online: boolean;
  /** Why the controls that need the server are off. */
  onlineNote: string | null;
}

export interface SessionFacts {
  role: Role | null;
  status: SessionStatus;
  gone: string | null;
}

/** Why the server cannot be used now, or null when it can. */
export function offlineReason(phase: Phase): string | null {
  switch (phase.kind) {
    case 'connected':
      return null;
    case 'offline':
      return 'You are offline: this needs a connection.';
    case 'signin':
      return 'Sign in again first: this needs the server.';
    default:
      return 'Not connected to the server right now: this needs a connection.';
  }
}

export function rightsFor(s: SessionFacts, phase: Phase): Rights {
  const writer = s.role === 'owner' || s.role === 'editor';
  const onlineNote = offlineReason(phase);
  const none: Rights = {
    write: false,
    writeNote: s.gone,
    share: false,
    lifecycle: [],
    lifecycleHint: null,
    delete: false,
    online: false,
    onlineNote,
  };
  if (s.gone || !s.role) return none;
  let writeNote: string | null = null;
  if (!writer) writeNote = 'You are a viewer here: you can read, not write.';
  else if (s.status === 'archived') writeNote = 'This session is archived: read-only until restored.';
  else if (s.status === 'completed') writeNote = 'This session is completed; messages and edits are still stored.';
  else if (s.status === 'abandoned') writeNote = 'This session was idle and marked abandoned; writing brings it back.';
  return {
    write: writer && s.status !== 'archived',
    writeNote,
    share: s.role === 'owner' && s.status !== 'archived',
    lifecycle: writer ? LIFECYCLE_ACTIONS[s.status] : [],
    lifecycleHint:
      writer && s.status === 'completed'
        ? 'A completed session cannot become active directly: archive it, then restore it.'
        : null,
    delete: s.role === 'owner' && onlineNote === null,
    online: onlineNote === null,
    onlineNote,
  };
}
