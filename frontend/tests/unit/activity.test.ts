import { describe, expect, it } from 'vitest';
import { ActivityLog, describeEvent } from '../../src/state/activity';
import type { SessionEvent } from '../../src/types';
import { mission, T0 } from './fixtures';

const ev = (offset: number, type: string, data: unknown, actor = 'bob', extra: Partial<SessionEvent> = {}): SessionEvent => ({ offset, type, actor, at: T0, data, ...extra });
const patch = (offset: number, ...ops: unknown[]) => ev(offset, 'mission.updated', { mission_id: 'mid', base_revision: 1, revision: 2, patch: ops });
const known = (m = mission()) => ({ mission: m, assets: new Map<string, string>() });

describe('activity in words', () => {
  it('names hops and steps from the mission as it was before the event', () => {
    expect(describeEvent(patch(5, { op: 'replace', path: '/hops/0/steps/0/name', value: 'Find flights' }), known()).text).toBe(
      'bob renamed step "Search" to "Find flights"',
    );
    expect(describeEvent(patch(5, { op: 'replace', path: '/hops/0/steps/0/status', value: 'completed' }), known()).text).toBe(
      'bob set step "Search" to completed',
    );
    expect(describeEvent(patch(5, { op: 'remove', path: '/hops/0' }), known()).text).toBe('bob deleted hop "Flights"');
    expect(
      describeEvent(patch(5, { op: 'add', path: '/hops/-', value: { id: 'h2', name: 'Hotel', steps: [] } }, { op: 'replace', path: '/hops/1/name', value: 'Hotels' }), known())
        .text,
    ).toBe('bob added hop "Hotel"; renamed hop "Hotel" to "Hotels"');
    expect(describeEvent(patch(5, { op: 'replace', path: '/goal', value: 'Get there' }), known()).text).toBe('bob set the goal to "Get there"');
    expect(describeEvent(patch(5, { op: 'replace', path: '/hops/0/steps/0/inputs', value: { q: 1 } }), known()).text).toBe(
      'bob changed the inputs of step "Search"',
    );
  });

  it('falls back to positions when the mission is not known', () => {
    expect(describeEvent(patch(5, { op: 'replace', path: '/hops/1/steps/2/name', value: 'X' }), { mission: null, assets: new Map() }).text).toBe(
      'bob renamed step 3 of hop 2 to "X"',
    );
  });

  it('tells sharing, status, assets, and imported events', () => {
    const none = { mission: null, assets: new Map([['a1', 'map.png']]) };
    expect(describeEvent(ev(2, 'collaborator.added', { collaborator: { user_id: 'carol', role: 'viewer' } }, 'alice'), none).text).toBe(
      'alice shared the session with carol as viewer',
    );
    expect(describeEvent(ev(3, 'session.status_changed', { from: 'archived', to: 'active' }), none).text).toBe('bob restored the session');
    expect(describeEvent(ev(3, 'session.status_changed', { from: 'active', to: 'abandoned' }, 'system'), none).text).toBe(
      'Tandem marked the session abandoned (idle)',
    );
    expect(describeEvent(ev(4, 'asset.removed', { asset_id: 'a1' }), none).text).toBe('bob deleted asset "map.png"');
    expect(
      describeEvent(ev(4, 'asset.added', { asset: { id: 'a2', name: 'n.txt', scope: { kind: 'hop', hop_id: 'h1' } } }), known()).text,
    ).toBe('bob added asset "n.txt" to hop "Flights"');
    const imported = describeEvent(ev(6, 'chat.message', { message: { content: 'hi', role: 'assistant' } }, 'alice', { imported: { actor: 'bob' } }), none);
    expect(imported.text).toBe('alice wrote (as assistant): "hi"');
    expect(imported.note).toBe('imported — originally by bob');
  });
});

describe('ActivityLog', () => {
  it('pages back, merges live events, and names things from the snapshot on', () => {
    const log = new ActivityLog();
    const m = mission();
    // Snapshot at offset 10; live event 11 arrives before the page 1..10.
    log.setAnchor(10, m, []);
    log.add([patch(11, { op: 'replace', path: '/hops/0/steps/0/name', value: 'Find' })]);
    expect(log.lines()[0].text).toBe('bob renamed step "Search" to "Find"');
    log.add([...Array.from({ length: 5 }, (_, i) => ev(6 + i, 'chat.message', { message: { content: `m${i}` } }))]);
    expect(log.first).toBe(6);
    expect(log.earlierPage(50)).toEqual({ from: 1, limit: 5 });
    expect(log.lines().map((l) => l.offset)).toEqual([11]);
    expect(log.lines(true).map((l) => l.offset)).toEqual([11, 10, 9, 8, 7, 6]);
    // Duplicates (a page overlapping live events) are kept once.
    log.add([patch(11, { op: 'replace', path: '/hops/0/steps/0/name', value: 'Find' })]);
    expect(log.lines(true)).toHaveLength(6);
    log.add([ev(1, 'session.created', { session: { name: 'Trip' } }, 'alice')]);
    expect(log.earlierPage(50)).toBeNull();
  });

  it('replays the mission from its link to name later edits', () => {
    const log = new ActivityLog();
    log.add([
      ev(1, 'mission.linked', { mission: mission() }, 'alice'),
      patch(2, { op: 'add', path: '/hops/0', value: { id: 'h0', name: 'Visa', status: 'pending', steps: [] } }),
      patch(3, { op: 'replace', path: '/hops/1/steps/0/status', value: 'failed' }),
    ]);
    expect(log.lines()[0].text).toBe('bob set step "Search" to failed');
  });
});
