import { describe, expect, it } from 'vitest';
import { hopStatusFromSteps, rollUp } from '../../src/state/rollup';
import { SessionStore } from '../../src/state/session';
import type { StepStatus } from '../../src/types';
import { mission, missionUpdated, snapshot } from './fixtures';

const steps = (...ss: StepStatus[]) => ss.map((status) => ({ status }));

describe('hop status roll-up', () => {
  it('follows the server rule, case by case', () => {
    expect(hopStatusFromSteps(steps('completed', 'failed', 'running'), 'pending')).toBe('failed');
    expect(hopStatusFromSteps(steps('completed', 'skipped'), 'pending')).toBe('completed');
    expect(hopStatusFromSteps(steps('completed'), 'failed')).toBe('completed');
    expect(hopStatusFromSteps(steps('skipped', 'skipped'), 'pending')).toBe('skipped');
    expect(hopStatusFromSteps(steps('completed', 'pending'), 'pending')).toBe('running');
    expect(hopStatusFromSteps(steps('running', 'pending'), 'pending')).toBe('running');
    expect(hopStatusFromSteps(steps('pending', 'skipped'), 'completed')).toBe('pending');
    expect(hopStatusFromSteps(steps('pending'), 'running')).toBe('pending');
  });

  it('leaves a hop without steps with its own status', () => {
    expect(hopStatusFromSteps([], 'completed')).toBe('completed');
    const m = { ...mission(), hops: [{ id: 'h9', name: 'Empty', status: 'running' as const, steps: [] }] };
    expect(rollUp(m)).toBe(m);
  });

  it('is applied after a mission.updated patch, as the server does', () => {
    const store = new SessionStore(snapshot(2, { mission: mission() }), 'bob');
    store.receive(missionUpdated(3, 3, [{ op: 'replace', path: '/hops/0/steps/0/status', value: 'running' }]));
    expect(store.state.mission?.hops[0].status).toBe('running');
    store.receive(missionUpdated(4, 4, [{ op: 'replace', path: '/hops/0/steps/0/status', value: 'completed' }]));
    expect(store.state.mission?.hops[0].status).toBe('completed');
    expect(store.state.mission?.revision).toBe(4);
  });
});
