// The connection as the user sees it, and when to try again. The centrifuge
// client is told never to retry by itself (huge reconnect delays); this
// machine schedules every retry with a capped, jittered exponential back-off,
// so the header can show a true countdown ("Retrying in 4 s") and a "Retry
// now" button. Nothing here waits forever: every attempt either connects,
// fails (next retry scheduled), or times out (same), and a refused sign-in
// leaves the retry loop for the sign-in flow.
// Pure: time and randomness are passed in; realtime.ts runs the timer.

export type Phase =
  /** First connection of this page, attempt under way. */
  | { kind: 'connecting' }
  | { kind: 'connected' }
  /** Lost: an attempt is under way (`retryAt` null) or the next one is at `retryAt`. */
  | { kind: 'reconnecting'; retryAt: number | null; attempt: number }
  /** The browser says there is no network: wait for it to come back. */
  | { kind: 'offline' }
  /** The server refused the sign-in and the app cannot renew it alone. */
  | { kind: 'signin'; reason: string }
  /** Signed out or stopped on purpose. */
  | { kind: 'stopped' };

export interface BackoffOptions {
  /** First retry delay (before jitter). */
  minMs: number;
  /** Longest delay. */
  maxMs: number;
  /** How long an attempt may take before it counts as failed. */
  attemptTimeoutMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 15_000, attemptTimeoutMs: 10_000 };

/** Delay before retry number `attempt` (0-based): doubling, capped, jittered between half and all of it. */
export function backoffDelay(attempt: number, random: number, o: BackoffOptions = DEFAULT_BACKOFF): number {
  const full = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(full / 2 + (full / 2) * random);
}

export interface ConnState {
  phase: Phase;
  /** Failed attempts since the last success. */
  failures: number;
  /** Whether the connection ever succeeded (a lost one is "reconnecting"). */
  everConnected: boolean;
  browserOnline: boolean;
  /** The one timer to run: start an attempt, or give up waiting for one. */
  timer: { at: number; fire: 'attempt' | 'timeout' } | null;
}

export type ConnEvent =
  /** connect() was called (first time, or after a sign-in). */
  | { type: 'start' }
  /** The client lost its connection and is waiting to reconnect. */
  | { type: 'lost' }
  /** An attempt failed (transport closed before connecting, connect error). */
  | { type: 'failed' }
  | { type: 'connected' }
  /** The timer fired. */
  | { type: 'timer' }
  /** The user asked to retry now. */
  | { type: 'retryNow' }
  | { type: 'browserOffline' }
  | { type: 'browserOnline' }
  /** The server refused the sign-in and only the user can renew it. */
  | { type: 'signin'; reason: string }
  | { type: 'stopped' };

/** What the wrapper must do after an event. */
export type ConnAction = 'attempt' | null;

export function initialConn(browserOnline = true): ConnState {
  return { phase: { kind: 'connecting' }, failures: 0, everConnected: false, browserOnline, timer: null };
}

/**
 * The next state after `e`, and whether to start a connection attempt now.
 * `now` is the time in ms, `random` a number in [0, 1).
 */
export function step(
  s: ConnState,
  e: ConnEvent,
  now: number,
  random: number,
  o: BackoffOptions = DEFAULT_BACKOFF,
): { state: ConnState; action: ConnAction } {
  const lostPhase = (st: ConnState, retryAt: number | null): Phase =>
    !st.browserOnline
      ? { kind: 'offline' }
      : st.everConnected || (retryAt !== null && st.failures > 0)
        ? { kind: 'reconnecting', retryAt, attempt: st.failures }
        : { kind: 'connecting' };
  const waiting = s.phase.kind === 'signin' || s.phase.kind === 'stopped';
  const attemptNow = (st: ConnState): { state: ConnState; action: ConnAction } => ({
    state: { ...st, phase: lostPhase(st, null), timer: { at: now + o.attemptTimeoutMs, fire: 'timeout' } },
    action: 'attempt',
  });
  const schedule = (st: ConnState, failures: number): { state: ConnState; action: ConnAction } => {
    if (!st.browserOnline) return { state: { ...st, failures, phase: { kind: 'offline' }, timer: null }, action: null };
    const at = now + backoffDelay(failures, random, o);
    const next = { ...st, failures };
    return { state: { ...next, phase: lostPhase(next, at), timer: { at, fire: 'attempt' } }, action: null };
  };
  switch (e.type) {
    case 'start':
      return { state: { ...s, phase: lostPhase(s, null), timer: { at: now + o.attemptTimeoutMs, fire: 'timeout' } }, action: null };
    case 'connected':
      return { state: { ...s, phase: { kind: 'connected' }, failures: 0, everConnected: true, timer: null }, action: null };
    case 'lost':
      if (waiting) return { state: s, action: null };
      return schedule(s, s.failures);
    case 'failed':
      if (waiting || s.phase.kind === 'connected') return { state: s, action: null };
      return schedule(s, s.failures + 1);
    case 'timer':
      if (waiting || !s.timer) return { state: s, action: null };
      if (s.timer.fire === 'timeout') return schedule(s, s.failures + 1);
      return attemptNow(s);
    case 'retryNow':
      if (waiting || s.phase.kind === 'connected') return { state: s, action: null };
      return attemptNow({ ...s, browserOnline: true });
    case 'browserOffline':
      if (s.phase.kind === 'connected' || waiting) return { state: { ...s, browserOnline: false }, action: null };
      return { state: { ...s, browserOnline: false, phase: { kind: 'offline' }, timer: null }, action: null };
    case 'browserOnline': {
      const st = { ...s, browserOnline: true };
      if (s.phase.kind === 'connected' || waiting) return { state: st, action: null };
      return attemptNow(st);
    }
    case 'signin':
      return { state: { ...s, phase: { kind: 'signin', reason: e.reason }, timer: null }, action: null };
    case 'stopped':
      return { state: { ...s, phase: { kind: 'stopped' }, timer: null }, action: null };
  }
}

/** Whole seconds left until `at`, at least 1 while waiting. */
export function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}
