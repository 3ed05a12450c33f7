import { describe, expect, it } from 'vitest';
import { backoffDelay, initialConn, secondsUntil, step, type ConnEvent, type ConnState } from '../../src/state/connection';
import { renewal } from '../../src/state/renewal';

const o = { minMs: 500, maxMs: 8000, attemptTimeoutMs: 10_000 };
function run(events: ConnEvent[], now = 0, random = 0.5, from: ConnState = initialConn()) {
  let s = from;
  const actions: (string | null)[] = [];
  for (const e of events) {
    const r = step(s, e, now, random, o);
    s = r.state;
    actions.push(r.action);
  }
  return { s, actions };
}

describe('connection back-off', () => {
  it('doubles up to the cap, jittered between half and all', () => {
    expect(backoffDelay(0, 0, o)).toBe(250);
    expect(backoffDelay(0, 0.999, o)).toBe(500);
    expect(backoffDelay(3, 1, o)).toBe(4000);
    expect(backoffDelay(10, 1, o)).toBe(8000);
    expect(backoffDelay(10, 0, o)).toBe(4000);
  });

  it('connects, loses the connection, and counts down to each retry', () => {
    let { s } = run([{ type: 'start' }, { type: 'connected' }]);
    expect(s.phase).toEqual({ kind: 'connected' });
    ({ s } = run([{ type: 'lost' }], 1000, 1, s));
    expect(s.phase).toEqual({ kind: 'reconnecting', retryAt: 1500, attempt: 0 });
    // The timer fires: an attempt now, with a time limit.
    let r = step(s, { type: 'timer' }, 1500, 1, o);
    expect(r.action).toBe('attempt');
    expect(r.state.phase).toMatchObject({ kind: 'reconnecting', retryAt: null });
    expect(r.state.timer).toEqual({ at: 11_500, fire: 'timeout' });
    // It failed: the next one is further away.
    r = step(r.state, { type: 'failed' }, 1600, 1, o);
    expect(r.state.phase).toEqual({ kind: 'reconnecting', retryAt: 2600, attempt: 1 });
    expect(secondsUntil(2600, 1600)).toBe(1);
    // "Retry now" does not wait.
    r = step(r.state, { type: 'retryNow' }, 1700, 1, o);
    expect(r.action).toBe('attempt');
    r = step(r.state, { type: 'connected' }, 1800, 1, o);
    expect(r.state).toMatchObject({ failures: 0, timer: null, phase: { kind: 'connected' } });
  });

  it('never waits forever: an attempt that hangs counts as failed', () => {
    const { s } = run([{ type: 'start' }]);
    expect(s.timer?.fire).toBe('timeout');
    const r = step(s, { type: 'timer' }, 10_000, 0, o);
    expect(r.state.phase).toMatchObject({ kind: 'reconnecting', attempt: 1 });
    expect(r.state.timer?.fire).toBe('attempt');
  });

  it('waits for the network while the browser is offline, then tries at once', () => {
    let { s } = run([{ type: 'start' }, { type: 'connected' }, { type: 'browserOffline' }, { type: 'lost' }]);
    expect(s.phase).toEqual({ kind: 'offline' });
    expect(s.timer).toBeNull();
    const r = step(s, { type: 'browserOnline' }, 0, 0, o);
    expect(r.action).toBe('attempt');
    s = r.state;
    expect(s.phase).toMatchObject({ kind: 'reconnecting' });
  });

  it('leaves the retry loop while the sign-in needs the user', () => {
    let { s } = run([{ type: 'start' }, { type: 'connected' }, { type: 'signin', reason: 'token refused' }]);
    expect(step(s, { type: 'timer' }, 0, 0, o).action).toBeNull();
    expect(step(s, { type: 'lost' }, 0, 0, o).state.phase.kind).toBe('signin');
    expect(s.phase).toEqual({ kind: 'signin', reason: 'token refused' });
    expect(step(s, { type: 'retryNow' }, 0, 0, o).action).toBeNull();
    ({ s } = run([{ type: 'start' }, { type: 'connected' }], 0, 0, s));
    expect(s.phase.kind).toBe('connected');
  });
});

describe('a refused token', () => {
  const base = { current: 'T1', mode: 'demo' as const, mintedAt: 0, now: 60_000, guardMs: 10_000 };
  it('is renewed once: later reports of the same refusal use the new token', () => {
    expect(renewal({ ...base, refused: 'T1' })).toBe('renew');
    expect(renewal({ ...base, refused: 'T0' })).toBe('use-current');
  });
  it('goes to the user when pasted, or when a fresh token is refused too', () => {
    expect(renewal({ ...base, refused: 'T1', mode: 'token' })).toBe('ask-user');
    expect(renewal({ ...base, refused: 'T1', mintedAt: 55_000 })).toBe('ask-user');
  });
});
