import type { ChatMessage, Mission, SessionEvent, Snapshot } from '../../src/types';

export const T0 = '2025-01-01T10:00:00Z';

export function snapshot(offset = 2, extra: Partial<Snapshot> = {}): Snapshot {
  return {
    session: {
      id: 'sid',
      name: 'Trip',
      owner: 'alice',
      collaborators: [{ user_id: 'alice', role: 'owner', added_at: T0 }],
      status: 'active',
      metadata: {},
      mission_id: null,
      created_at: T0,
      updated_at: T0,
      last_activity_at: T0,
      message_count: 0,
    },
    mission: null,
    messages: [],
    assets: [],
    collaborators: [
      { user_id: 'alice', role: 'owner', added_at: T0 },
      { user_id: 'bob', role: 'editor', added_at: T0 },
    ],
    role: 'editor',
    position: { offset, epoch: 'e1' },
    ...extra,
  };
}

export function message(offset: number, content: string, key?: string): ChatMessage {
  return {
    id: `m${offset}`,
    session_id: 'sid',
    author: 'alice',
    role: 'user',
    content,
    created_at: T0,
    offset,
    idempotency_key: key,
  };
}

export function chat(offset: number, content: string): SessionEvent {
  return { offset, type: 'chat.message', actor: 'alice', at: T0, data: { message: message(offset, content) } };
}

export function mission(): Mission {
  return {
    id: 'mid',
    title: 'Plan',
    goal: '',
    status: 'proposed',
    hops: [
      {
        id: 'h1',
        name: 'Flights',
        status: 'pending',
        steps: [{ id: 's1', name: 'Search', tool: 'web.search', status: 'pending', inputs: null, outputs: null }],
      },
    ],
    revision: 2,
    owner: 'alice',
    session_id: 'sid',
    created_at: T0,
    updated_at: T0,
  };
}

/** A `mission.updated` event from revision `revision - 1` to `revision`. */
export function missionUpdated(offset: number, revision: number, patch: unknown[], actor = 'alice'): SessionEvent {
  return { offset, type: 'mission.updated', actor, at: T0, data: { mission_id: 'mid', base_revision: revision - 1, revision, patch } };
}
