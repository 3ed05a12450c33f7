import { describe, expect, it } from 'vitest';
import { ago, applyNotice, filterSessions, mergeFetched, plural, type Tops } from '../../src/state/sessionList';
import { MemoryStorage } from '../../src/state/outbox';
import { SeenStore, unread } from '../../src/state/unread';
import { snapshot } from './fixtures';

const s = snapshot().session;

describe('session list', () => {
  it('follows the personal feed', () => {
    let list = applyNotice([], { type: 'session.added', session: s });
    list = applyNotice(list, { type: 'session.status_changed', session_id: 'sid', from: 'active', to: 'archived' });
    expect(list.map((x) => x.status)).toEqual(['archived']);
    expect(filterSessions(list, { status: 'active', query: '' })).toEqual([]);
    expect(filterSessions(list, { status: 'all', query: 'TRI' })).toHaveLength(1);
    expect(applyNotice(list, { type: 'session.removed', session_id: 'sid' })).toEqual([]);
  });

  it('takes counts and last activity from session.activity notices; an older notice never wins', () => {
    const other = { ...s, id: 'other', last_activity_at: '2025-01-01T11:00:00Z' };
    const tops: Tops = new Map();
    const notice = (offset: number, count: number, at: string) =>
      ({ type: 'session.activity', session_id: 'sid', message_count: count, last_activity_at: at, offset, actor: 'bob', event: 'chat.message' }) as const;
    let list = applyNotice([s, other], notice(12, 11, '2025-01-01T12:00:00Z'), tops);
    expect(list.map((x) => [x.id, x.message_count])).toEqual([
      ['sid', 11],
      ['other', 0],
    ]);
    expect(tops.get('sid')).toEqual({ offset: 12, actor: 'bob', event: 'chat.message' });
    list = applyNotice(list, notice(9, 8, '2025-01-01T11:30:00Z'), tops);
    expect(list[0].message_count).toBe(11);
  });

  it('merges a refetch: membership from the fetch, the newest counts kept', () => {
    const known = [{ ...s, message_count: 11, last_activity_at: '2025-01-02T00:00:00Z' }];
    const fetched = [{ ...s, message_count: 4 }, { ...s, id: 'new' }];
    const merged = mergeFetched(known, fetched);
    expect(merged.map((x) => [x.id, x.message_count])).toEqual([
      ['sid', 11],
      ['new', 0],
    ]);
    expect(mergeFetched(known, [])).toEqual([]);
  });

  it('speaks English', () => {
    expect(plural(1, 'message')).toBe('1 message');
    expect(plural(11, 'message')).toBe('11 messages');
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(ago('2025-01-01T11:59:50Z', now)).toBe('just now');
    expect(ago('2025-01-01T11:55:00Z', now)).toBe('5 min ago');
    expect(ago('2025-01-01T09:00:00Z', now)).toBe('3 h ago');
    expect(ago('2024-12-31T12:00:00Z', now)).toBe('1 day ago');
  });
});

describe('unread markers', () => {
  it('compare what was seen (kept in storage) with the list data', () => {
    const storage = new MemoryStorage();
    const seen = new SeenStore(storage, 'seen.bob');
    expect(unread(3, 7, seen.get('sid'))).toEqual({ messages: 3, activity: false });
    seen.mark('sid', 3, 7);
    expect(unread(3, 7, seen.get('sid'))).toEqual({ messages: 0, activity: false });
    expect(unread(5, 9, seen.get('sid'))).toEqual({ messages: 2, activity: true });
    expect(unread(3, 8, new SeenStore(storage, 'seen.bob').get('sid'))).toEqual({ messages: 0, activity: true });
    seen.mark('sid', 2, 5); // never goes back
    expect(seen.get('sid')).toEqual({ messages: 3, offset: 7 });
    seen.prune(new Set());
    expect(new SeenStore(storage, 'seen.bob').get('sid')).toBeUndefined();
  });
});
