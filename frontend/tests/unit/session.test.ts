import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../src/state/session';
import { chat, mission, missionUpdated, snapshot, T0 } from './fixtures';

const texts = (store: SessionStore) => store.state.messages.map((m) => m.content);

describe('SessionStore', () => {
  it('applies events after the snapshot in offset order', () => {
    const store = new SessionStore(snapshot(2), 'bob');
    store.receive(chat(3, 'one'));
    store.receive(chat(4, 'two'));
    expect(texts(store)).toEqual(['one', 'two']);
    expect(store.state.offset).toBe(4);
    expect(store.state.session.message_count).toBe(2);
  });

  it('ignores events the snapshot already has and duplicates', () => {
    const store = new SessionStore(snapshot(3, { messages: [chat(3, 'one').data.message] }), 'bob');
    expect(store.receive(chat(3, 'one'))).toBe('duplicate');
    store.receive(chat(4, 'two'));
    expect(store.receive(chat(4, 'two'))).toBe('duplicate');
    expect(texts(store)).toEqual(['one', 'two']);
  });

  it('buffers out-of-order events and applies them once the gap fills', () => {
    const store = new SessionStore(snapshot(2), 'bob');
    const changes: number[][] = [];
    store.onChange((_, applied) => changes.push(applied.map((e) => e.offset)));
    expect(store.receive(chat(5, 'three'))).toBe('buffered');
    expect(store.receive(chat(4, 'two'))).toBe('buffered');
    expect(texts(store)).toEqual([]);
    expect(store.waiting).toEqual([4, 5]);
    store.receive(chat(3, 'one'));
    expect(texts(store)).toEqual(['one', 'two', 'three']);
    expect(changes).toEqual([[3, 4, 5]]);
  });

  it('applies mission patches, status changes, collaborators and assets', () => {
    const store = new SessionStore(snapshot(2, { mission: mission() }), 'bob');
    store.receive(
      missionUpdated(3, 3, [
        { op: 'replace', path: '/hops/0/steps/0/status', value: 'completed' },
        { op: 'add', path: '/hops/-', value: { id: 'h2', name: 'Hotel', status: 'pending', steps: [] } },
      ]),
    );
    store.receive({ offset: 4, type: 'session.status_changed', actor: 'alice', at: T0, data: { from: 'active', to: 'completed' } });
    store.receive({ offset: 5, type: 'collaborator.updated', actor: 'alice', at: T0, data: { collaborator: { user_id: 'bob', role: 'viewer', added_at: T0 } } });
    store.receive({ offset: 6, type: 'asset.added', actor: 'alice', at: T0, data: { asset: { id: 'a1', name: 'n.txt' } } });
    const s = store.state;
    expect(s.mission?.revision).toBe(3);
    expect(s.mission?.hops[0].steps[0].status).toBe('completed');
    expect(s.mission?.hops.map((h) => h.name)).toEqual(['Flights', 'Hotel']);
    expect(s.session.status).toBe('completed');
    expect(s.role).toBe('viewer');
    expect(s.assets.map((a) => a.name)).toEqual(['n.txt']);
    store.receive({ offset: 7, type: 'collaborator.removed', actor: 'alice', at: T0, data: { user_id: 'bob' } });
    expect(store.state.gone).toMatch(/removed your access/);
  });

  it('reloads a snapshot without a gap: events held during the reload are applied after it', () => {
    const store = new SessionStore(snapshot(2), 'bob');
    store.receive(chat(3, 'one'));
    store.beginReload();
    // Arrive while the snapshot loads: 4 and 5 are in it, 6 is not.
    store.receive(chat(4, 'two'));
    store.receive(chat(6, 'four'));
    expect(texts(store)).toEqual(['one']);
    const snap = snapshot(5, { messages: [chat(3, 'one'), chat(4, 'two'), chat(5, 'three')].map((e) => e.data.message) });
    store.reload(snap);
    expect(texts(store)).toEqual(['one', 'two', 'three', 'four']);
    expect(store.state.offset).toBe(6);
  });

  it('removes assets, and keeps the import marks of messages', () => {
    const store = new SessionStore(snapshot(2), 'bob');
    store.receive({ offset: 3, type: 'asset.added', actor: 'alice', at: T0, data: { asset: { id: 'a1', name: 'n.txt' } } });
    store.receive({ offset: 4, type: 'asset.added', actor: 'alice', at: T0, data: { asset: { id: 'a2', name: 'm.txt' } } });
    store.receive({ offset: 5, type: 'asset.removed', actor: 'alice', at: T0, data: { asset_id: 'a1' } });
    expect(store.state.assets.map((a) => a.id)).toEqual(['a2']);
    const imported = { ...chat(6, 'hi').data.message, author: 'carol', imported: { author: 'alice', session_id: 'old' } };
    store.receive({ offset: 6, type: 'chat.message', actor: 'carol', at: T0, data: { message: imported }, imported: { actor: 'alice' } });
    expect(store.state.messages[0].imported).toEqual({ author: 'alice', session_id: 'old' });
  });
});
