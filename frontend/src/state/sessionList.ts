// The "my sessions" list: loaded from `GET /api/sessions`, kept live by the
// notices of `user:<me>`, filtered by status and name. Pure.

import type { Session, SessionStatus, UserNotice } from '../types';

export interface ListFilter {
  status: SessionStatus | 'all';
  query: string;
}

/** Applies one personal-feed notice to the list. */
export function applyNotice(list: Session[], notice: UserNotice): Session[] {
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
    default:
      return list;
  }
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
