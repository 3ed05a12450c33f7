// The "my sessions" list: loaded from `GET /api/sessions`, kept live by the
// notices of `user:<me>` (membership, roles, statuses, and the coalesced
// `session.activity` notices with counts and last activity), filtered by
// status and name. `session.activity` is ephemeral (no history), so whenever
// the feed (re)subscribes the list is fetched again. Pure.

import type { Session, SessionStatus, UserNotice } from '../types';

export interface ListFilter {
  status: SessionStatus | 'all';
  query: string;
}

/** Stream tops seen in `session.activity` notices, by session (not in the REST list). */
export type Tops = Map<string, { offset: number; actor: string; event: string }>;

/** Applies one personal-feed notice to the list. */
export function applyNotice(list: Session[], notice: UserNotice, tops?: Tops): Session[] {
  switch (notice.type) {
    case 'session.added':
    case 'session.role_changed': {
      const rest = list.filter((s) => s.id !== notice.session.id);
      return sortSessions([notice.session, ...rest]);
    }
    case 'session.removed':
      return list.filter((s) => s.id !== notice.session_id);
    case 'session.status_changed':
      return list.map((s) => (s.id === notice.session_id ? { ...s, status: notice.to } : s));
    case 'session.activity': {
      const known = tops?.get(notice.session_id);
      // Coalesced notices may overtake each other: the higher offset wins.
      if (known && known.offset > notice.offset) return list;
      tops?.set(notice.session_id, { offset: notice.offset, actor: notice.actor, event: notice.event });
      return sortSessions(
        list.map((s) =>
          s.id === notice.session_id
            ? {
                ...s,
                message_count: notice.message_count,
                last_activity_at: notice.last_activity_at > s.last_activity_at ? notice.last_activity_at : s.last_activity_at,
              }
            : s,
        ),
      );
    }
    default:
      return list;
  }
}

/**
 * Merges a freshly fetched list with what is known: the fetch is the truth
 * for membership; counts and times keep the newest of both.
 */
export function mergeFetched(known: Session[], fetched: Session[]): Session[] {
  const byId = new Map(known.map((s) => [s.id, s]));
  return sortSessions(
    fetched.map((f) => {
      const k = byId.get(f.id);
      if (!k || f.last_activity_at >= k.last_activity_at) return f;
      return { ...f, message_count: Math.max(f.message_count, k.message_count), last_activity_at: k.last_activity_at };
    }),
  );
}

/** Adds or replaces one session (e.g. the one just created or changed). */
export function upsert(list: Session[], session: Session): Session[] {
  return sortSessions([session, ...list.filter((s) => s.id !== session.id)]);
}

/** Most recently active first. */
export function sortSessions(list: Session[]): Session[] {
  return [...list].sort((a, b) => b.last_activity_at.localeCompare(a.last_activity_at));
}

export function filterSessions(list: Session[], filter: ListFilter): Session[] {
  const q = filter.query.trim().toLowerCase();
  return list.filter(
    (s) => (filter.status === 'all' || s.status === filter.status) && (q === '' || s.name.toLowerCase().includes(q)),
  );
}

/** "1 message", "11 messages". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", or the date. */
export function ago(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d < 14) return plural(d, 'day') + ' ago';
  return new Date(t).toISOString().slice(0, 10);
}
