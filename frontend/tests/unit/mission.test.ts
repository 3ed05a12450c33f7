import { describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/state/jsonpatch';
import { canonical, parseJsonField, planEdit, projectMission, type MissionEdit } from '../../src/state/mission';
import type { Mission } from '../../src/types';
import { mission } from './fixtures';

/** Plans and applies an edit: the mission the server would store. */
function apply(m: Mission, edit: MissionEdit, force = false): Mission {
  const plan = planEdit(m, edit, force);
  if (!plan.ok) throw new Error(plan.reason);
  return applyPatch(m, plan.ops);
}

const twoHops = (): Mission => {
  const m = mission();
  m.hops.push({ id: 'h2', name: 'Hotel', status: 'pending', steps: [] });
  m.hops[0].steps.push({ id: 's2', name: 'Book', tool: 'booking', status: 'pending', inputs: null, outputs: null });
  return m;
};

describe('mission edits', () => {
  const setStatus: MissionEdit = { kind: 'stepStatus', hopId: 'h1', stepId: 's1', from: 'pending', to: 'completed' };

  it('turn into JSON Patch operations addressed by index', () => {
    expect(planEdit(mission(), setStatus)).toEqual({ ok: true, ops: [{ op: 'replace', path: '/hops/0/steps/0/status', value: 'completed' }] });
  });

  it('re-apply on a fresh revision when another edit touched something else', () => {
    const fresh = applyPatch(mission(), [{ op: 'add', path: '/hops/0', value: { id: 'h0', name: 'Visa', status: 'pending', steps: [] } }]);
    expect(planEdit(fresh, setStatus)).toEqual({ ok: true, ops: [{ op: 'replace', path: '/hops/1/steps/0/status', value: 'completed' }] });
  });

  it('report a conflict when the same field changed, unless forced', () => {
    const fresh = applyPatch(mission(), [{ op: 'replace', path: '/hops/0/steps/0/status', value: 'failed' }]);
    const plan = planEdit(fresh, setStatus);
    expect(plan).toMatchObject({ ok: false, conflict: true, theirs: 'failed' });
    expect(planEdit(fresh, setStatus, true)).toMatchObject({ ok: true });
  });

  it('say when the target is gone', () => {
    const fresh = applyPatch(mission(), [{ op: 'remove', path: '/hops/0' }]);
    expect(planEdit(fresh, setStatus)).toMatchObject({ ok: false, conflict: false });
  });

  it('plan nothing when replayed after they took effect (idempotent)', () => {
    const edits: MissionEdit[] = [
      setStatus,
      { kind: 'addHop', hop: { id: 'h3', name: 'Car', status: 'pending', steps: [] } },
      { kind: 'setGoal', from: '', to: 'Book it all' },
      { kind: 'stepInputs', hopId: 'h1', stepId: 's1', from: null, to: { q: 'LIS', pax: 2 } },
      { kind: 'removeStep', hopId: 'h1', stepId: 's2', name: 'Book' },
      { kind: 'moveHop', hopId: 'h2', name: 'Hotel', from: 1, to: 0 },
    ];
    for (const edit of edits) {
      const once = apply(twoHops(), edit);
      expect(planEdit(once, edit)).toEqual({ ok: true, ops: [] });
    }
  });

  it('edit the goal, tool, inputs and outputs; JSON compared by value', () => {
    let m = apply(mission(), { kind: 'setGoal', from: '', to: 'Get to Lisbon' });
    expect(m.goal).toBe('Get to Lisbon');
    m = apply(m, { kind: 'stepTool', hopId: 'h1', stepId: 's1', from: 'web.search', to: 'flights.search' });
    m = apply(m, { kind: 'stepOutputs', hopId: 'h1', stepId: 's1', from: null, to: { best: 'TP1' } });
    expect(m.hops[0].steps[0]).toMatchObject({ tool: 'flights.search', outputs: { best: 'TP1' } });
    // The server may give the keys in another order: still the same value.
    const withInputs = apply(m, { kind: 'stepInputs', hopId: 'h1', stepId: 's1', from: null, to: { b: 1, a: 2 } });
    expect(planEdit(withInputs, { kind: 'stepInputs', hopId: 'h1', stepId: 's1', from: { a: 2, b: 1 }, to: { a: 3, b: 1 } })).toMatchObject({ ok: true });
    expect(canonical({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });

  it('delete and reorder hops and steps by id', () => {
    let m = apply(twoHops(), { kind: 'moveHop', hopId: 'h2', name: 'Hotel', from: 1, to: 0 });
    expect(m.hops.map((x) => x.id)).toEqual(['h2', 'h1']);
    m = apply(m, { kind: 'moveStep', hopId: 'h1', stepId: 's2', name: 'Book', from: 1, to: 0 });
    expect(m.hops[1].steps.map((x) => x.id)).toEqual(['s2', 's1']);
    m = apply(m, { kind: 'removeStep', hopId: 'h1', stepId: 's1', name: 'Search' });
    m = apply(m, { kind: 'removeHop', hopId: 'h2', name: 'Hotel' });
    expect(m.hops.map((x) => [x.id, x.steps.map((s) => s.id)])).toEqual([['h1', ['s2']]]);
    // Deleting what is already gone is done.
    expect(planEdit(m, { kind: 'removeHop', hopId: 'h2', name: 'Hotel' })).toEqual({ ok: true, ops: [] });
  });

  it('call a move someone else overtook a conflict', () => {
    const moved = apply(twoHops(), { kind: 'moveHop', hopId: 'h2', name: 'Hotel', from: 1, to: 0 });
    const mine: MissionEdit = { kind: 'moveHop', hopId: 'h1', name: 'Flights', from: 0, to: 1 };
    // h1 is at 1 now: where I wanted it.
    expect(planEdit(moved, mine)).toEqual({ ok: true, ops: [] });
    const three = apply(twoHops(), { kind: 'addHop', hop: { id: 'h0', name: 'Visa', status: 'pending', steps: [] } });
    const again = apply(three, { kind: 'moveHop', hopId: 'h0', name: 'Visa', from: 2, to: 0 });
    expect(planEdit(again, { kind: 'moveHop', hopId: 'h2', name: 'Hotel', from: 1, to: 0 })).toMatchObject({ ok: false, conflict: true });
  });

  it('project pending edits onto the mission, rolled up, skipping those that no longer apply', () => {
    const edits: MissionEdit[] = [
      { kind: 'addHop', hop: { id: 'h3', name: 'Car', status: 'pending', steps: [] } },
      { kind: 'renameStep', hopId: 'h1', stepId: 's1', from: 'Search', to: 'Find flights' },
      { kind: 'stepStatus', hopId: 'h1', stepId: 's1', from: 'pending', to: 'completed' },
      { kind: 'renameStep', hopId: 'hX', stepId: 's1', from: 'a', to: 'b' },
    ];
    const p = projectMission(mission(), edits);
    expect(p.hops.map((x) => x.name)).toEqual(['Flights', 'Car']);
    expect(p.hops[0].steps[0]).toMatchObject({ name: 'Find flights', status: 'completed' });
    expect(p.hops[0].status).toBe('completed');
    expect(mission().hops[0].steps[0].name).toBe('Search');
  });

  it('parse JSON fields, empty meaning null', () => {
    expect(parseJsonField('')).toEqual({ ok: true, value: null });
    expect(parseJsonField(' {"q": 1} ')).toEqual({ ok: true, value: { q: 1 } });
    expect(parseJsonField('{q: 1}')).toMatchObject({ ok: false });
  });
});
