import { describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/state/jsonpatch';
import { planEdit, type MissionEdit } from '../../src/state/mission';
import { applyNotice, filterSessions } from '../../src/state/sessionList';
import { mission, snapshot } from './fixtures';

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
});

describe('session list', () => {
  const s = snapshot().session;
  it('follows the personal feed', () => {
    let list = applyNotice([], { type: 'session.added', session: s });
    list = applyNotice(list, { type: 'session.status_changed', session_id: 'sid', from: 'active', to: 'archived' });
    expect(list.map((x) => x.status)).toEqual(['archived']);
    expect(filterSessions(list, { status: 'active', query: '' })).toEqual([]);
    expect(filterSessions(list, { status: 'all', query: 'TRI' })).toHaveLength(1);
    expect(applyNotice(list, { type: 'session.removed', session_id: 'sid' })).toEqual([]);
  });
});
