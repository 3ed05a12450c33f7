import { describe, expect, it } from 'vitest';
import { groupAssets, previewOf, validMediaType } from '../../src/state/assets';
import { Editing, editingText } from '../../src/state/presence';
import { offlineReason, rightsFor } from '../../src/state/rights';
import type { OutboxItem } from '../../src/state/outbox';
import type { Asset } from '../../src/types';
import { mission } from './fixtures';

const online = { kind: 'connected' } as const;
const offline = { kind: 'offline' } as const;

describe('rights follow role, status and connection', () => {
  it('viewers read only', () => {
    const r = rightsFor({ role: 'viewer', status: 'active', gone: null }, online);
    expect(r).toMatchObject({ write: false, share: false, lifecycle: [], delete: false, online: true });
    expect(r.writeNote).toMatch(/viewer/);
  });

  it('archived is read-only but can be restored', () => {
    const r = rightsFor({ role: 'owner', status: 'archived', gone: null }, online);
    expect(r).toMatchObject({ write: false, share: false, lifecycle: ['restore'], delete: true });
  });

  it('completed: writes stored, with a hint; back to active only through archive then restore', () => {
    const r = rightsFor({ role: 'editor', status: 'completed', gone: null }, online);
    expect(r).toMatchObject({ write: true, lifecycle: ['archive'] });
    expect(r.writeNote).toMatch(/completed/);
    expect(r.lifecycleHint).toMatch(/archive it, then restore it/);
    expect(rightsFor({ role: 'editor', status: 'abandoned', gone: null }, online).lifecycle).toEqual(['reopen', 'archive']);
  });

  it('offline: queued writes stay on, server-only controls go off with a reason', () => {
    const r = rightsFor({ role: 'owner', status: 'active', gone: null }, offline);
    expect(r).toMatchObject({ write: true, share: true, lifecycle: ['complete', 'archive'], delete: false, online: false });
    expect(r.onlineNote).toMatch(/offline/);
    expect(offlineReason({ kind: 'signin', reason: 'x' })).toMatch(/Sign in/);
    expect(offlineReason({ kind: 'reconnecting', retryAt: 1, attempt: 1 })).toMatch(/Not connected/);
  });

  it('nothing in a session that is gone', () => {
    expect(rightsFor({ role: 'owner', status: 'active', gone: 'deleted' }, online)).toMatchObject({ write: false, delete: false, writeNote: 'deleted' });
  });
});

describe('assets', () => {
  const asset = (id: string, scope: Asset['scope'], extra: Partial<Asset> = {}): Asset => ({
    id,
    scope,
    name: id,
    media_type: 'text/plain',
    content: 'x',
    metadata: {},
    created_by: 'alice',
    created_at: 'now',
    ...extra,
  });
  it('group by scope in mission order, with pending adds and removals', () => {
    const queued = [
      { key: 'k1', sessionId: 's', createdAt: '', attempts: 0, op: { kind: 'assetAdd', asset: { name: 'new', media_type: 'text/plain', scope: { kind: 'mission' }, content: 'y' } } },
      { key: 'k2', sessionId: 's', createdAt: '', attempts: 0, op: { kind: 'assetRemove', assetId: 'a1', name: 'a1' } },
    ] as OutboxItem[];
    const groups = groupAssets([asset('a2', { kind: 'hop', hop_id: 'h1' }), asset('a1', { kind: 'session' }), asset('a3', { kind: 'hop', hop_id: 'gone' })], queued, mission());
    expect(groups.map((g) => g.label)).toEqual(['Session', 'Mission', 'Hop: Flights', 'Hop gone (no longer in the mission)']);
    expect(groups[0].rows).toEqual([{ kind: 'stored', asset: expect.objectContaining({ id: 'a1' }), removing: true }]);
    expect(groups[1].rows[0]).toMatchObject({ kind: 'pending', key: 'k1' });
  });

  it('validate media types and pick a safe preview', () => {
    expect(validMediaType('text/plain')).toBe(true);
    expect(validMediaType('application/vnd.api+json')).toBe(true);
    expect(validMediaType('text')).toBe(false);
    expect(validMediaType('text/plain; charset=utf-8')).toBe(false);
    expect(previewOf({ media_type: 'application/json', content: '{}' })).toBe('json');
    expect(previewOf({ media_type: 'image/png', uri: 'https://x/y.png' })).toBe('image');
    expect(previewOf({ media_type: 'image/png', uri: 'javascript:alert(1)' })).toBe('none');
    expect(previewOf({ media_type: 'application/pdf', uri: 'https://x/y.pdf' })).toBe('link');
  });

});

describe('who is editing', () => {
  it('shows others per field and expires a marker without refresh', () => {
    const e = new Editing(10_000);
    e.signal('bob', '/hops/0/name', 0);
    e.signal('carol', '/hops/0/name', 1000);
    e.signal('alice', '/title', 0);
    expect([...e.active(5000, 'alice')]).toEqual([['/hops/0/name', ['bob', 'carol']]]);
    expect(editingText(['bob', 'carol'])).toBe('bob, carol are editing');
    e.signal('bob', '/hops/0/name', 9000); // refresh
    expect([...e.active(10_500, 'alice')]).toEqual([['/hops/0/name', ['bob', 'carol']]]);
    expect([...e.active(11_000, 'alice')]).toEqual([['/hops/0/name', ['bob']]]);
    e.signal('bob', null, 11_500);
    expect(e.active(11_500, 'alice').size).toBe(0);
  });
});
