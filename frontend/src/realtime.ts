// The WebSocket side, through the official `centrifuge` client only: the
// connection, the personal feed `user:<me>`, and one `session:<id>`
// subscription at a time.
//
// Reconnecting is driven by state/connection.ts, not by the client's own
// timer: the client gets reconnect delays it never reaches, and each retry is
// started through its `networkEventTarget` with an "online" event (which the
// client answers by reconnecting at once), or `connect()` after a terminal
// disconnect. So the header can count down to the real next attempt. A token
// the server refuses (close 3500, e.g. it restarted with a new secret) is
// replaced through the sign-in (demo login again), or the user is asked for one.

import {
  Centrifuge,
  UnauthorizedError,
  connectingCodes,
  disconnectedCodes,
  type Subscription,
} from 'centrifuge';
import { TokenRefused, type Auth } from './auth';
import { initialConn, step, type ConnEvent, type ConnState, type Phase } from './state/connection';
import type { LiveSignal, SessionEvent, StreamPosition, UserNotice } from './types';

/** Reconnect delay given to the client: never reached, this module retries first. */
const CLIENT_RECONNECT_DELAY_MS = 24 * 3600 * 1000;
/** Close code of a refused token (docs/protocol.md). */
const INVALID_TOKEN = 3500;

export interface SessionHandlers {
  /** A stored event (has an offset). */
  event(e: SessionEvent): void;
  /** A live-only signal (`chat.typing`, `mission.editing`). */
  signal(s: LiveSignal): void;
  join(client: string, user: string): void;
  leave(client: string): void;
  /** Subscribed (first time or again); `lostPosition` when recovery failed. */
  subscribed(lostPosition: boolean): void;
  /** The subscription ended for good (access revoked, session gone, refused). */
  ended(code: number, reason: string): void;
}

export class Realtime {
  readonly client: Centrifuge;
  private conn: ConnState = initialConn(typeof navigator === 'undefined' ? true : navigator.onLine);
  private timer: number | undefined;
  private readonly net = new EventTarget();
  private readonly listeners = new Set<(p: Phase) => void>();
  /** The token the current or last attempt sent. */
  private usedToken = '';
  /** A token the server refused: the next attempt asks the sign-in for another. */
  private refused: string | null = null;

  constructor(private readonly auth: Auth) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.client = new Centrifuge(`${scheme}://${location.host}/connection/websocket`, {
      // Every token reaches the client through here (never setToken with a
      // token), so `usedToken` is exactly the one the current attempt sends.
      getToken: async () => {
        const refused = this.refused;
        this.refused = null;
        try {
          const token = refused ? await auth.renewAfterRefusal(refused) : await auth.token();
          // null: the sign-in told the app, which asks the user.
          if (!token) throw new UnauthorizedError('sign-in needed');
          this.usedToken = token;
          return token;
        } catch (err) {
          if (err instanceof TokenRefused) throw new UnauthorizedError(err.message);
          // Not reached the server: renew on the next attempt.
          if (!(err instanceof UnauthorizedError)) this.refused = refused;
          throw err;
        }
      },
      minReconnectDelay: CLIENT_RECONNECT_DELAY_MS,
      maxReconnectDelay: CLIENT_RECONNECT_DELAY_MS,
      networkEventTarget: this.net,
    });
    this.client.on('connecting', (ctx) => {
      if (ctx.code !== connectingCodes.connectCalled) this.dispatch({ type: 'lost' });
    });
    this.client.on('connected', () => this.dispatch({ type: 'connected' }));
    this.client.on('error', (ctx) => {
      if (ctx.type === 'transport' || ctx.type === 'connect' || ctx.type === 'connectToken') this.dispatch({ type: 'failed' });
    });
    this.client.on('disconnected', (ctx) => {
      // We stopped it, or no token could be had: the sign-in has the user now.
      if (ctx.code === disconnectedCodes.disconnectCalled || ctx.code === disconnectedCodes.unauthorized) return;
      if (ctx.code === INVALID_TOKEN) {
        // The next attempt asks the sign-in for a token to use instead of this one.
        this.refused = this.usedToken;
        this.connectAgain();
      }
      // Any other terminal close (bad request, message too big): try again later.
      else this.dispatch({ type: 'lost' });
    });
    addEventListener('offline', () => {
      this.net.dispatchEvent(new Event('offline'));
      this.dispatch({ type: 'browserOffline' });
    });
    addEventListener('online', () => this.dispatch({ type: 'browserOnline' }));
  }

  start(): void {
    this.connectAgain();
  }

  /** Connects with a token from the sign-in (again: after it renewed or the user pasted one). */
  resume(): void {
    this.refused = null;
    if (this.client.state === 'disconnected') this.connectAgain();
    else if (this.client.state === 'connecting') this.dispatch({ type: 'retryNow' });
  }

  private connectAgain(): void {
    this.client.setToken('');
    this.dispatch({ type: 'start' });
    this.client.connect();
  }

  stop(): void {
    this.dispatch({ type: 'stopped' });
    this.client.disconnect();
  }

  /** The user asked to try now instead of waiting for the countdown. */
  retryNow(): void {
    this.dispatch({ type: 'retryNow' });
  }

  /** The sign-in cannot go on without the user. */
  needSignIn(reason: string): void {
    const p = this.conn.phase;
    if (p.kind === 'signin' && p.reason === reason) return;
    this.dispatch({ type: 'signin', reason });
  }

  get phase(): Phase {
    return this.conn.phase;
  }

  onPhase(listener: (p: Phase) => void): () => void {
    this.listeners.add(listener);
    listener(this.conn.phase);
    return () => this.listeners.delete(listener);
  }

  private dispatch(e: ConnEvent): void {
    const { state, action } = step(this.conn, e, Date.now(), Math.random());
    const changed = state.phase !== this.conn.phase;
    this.conn = state;
    clearTimeout(this.timer);
    if (state.timer) this.timer = window.setTimeout(() => this.dispatch({ type: 'timer' }), Math.max(0, state.timer.at - Date.now()));
    if (action === 'attempt') this.attempt();
    if (changed) for (const l of this.listeners) l(state.phase);
  }

  private attempt(): void {
    if (this.client.state === 'disconnected') this.client.connect();
    // The client reconnects at once on "online" (see the module comment).
    else if (this.client.state === 'connecting') this.net.dispatchEvent(new Event('online'));
  }

  /**
   * The personal feed: session list changes. `subscribed` runs each time it
   * (re)subscribes: ephemeral notices sent meanwhile are lost, so the list is
   * fetched again then.
   */
  userFeed(onNotice: (n: UserNotice) => void, subscribed: () => void): Subscription {
    const channel = `user:${this.auth.user}`;
    const sub = this.client.getSubscription(channel) ?? this.client.newSubscription(channel);
    sub.removeAllListeners();
    sub.on('publication', (ctx) => onNotice(ctx.data as UserNotice));
    sub.on('subscribed', () => subscribed());
    sub.subscribe();
    return sub;
  }

  /** Subscribes to a session from `since` (the snapshot's position): no gap, no duplicate. */
  openSession(id: string, since: StreamPosition, h: SessionHandlers): SessionSub {
    const channel = `session:${id}`;
    const old = this.client.getSubscription(channel);
    if (old) {
      old.removeAllListeners();
      old.unsubscribe();
      this.client.removeSubscription(old);
    }
    const sub = this.client.newSubscription(channel, { since, joinLeave: true });
    sub.on('publication', (ctx) => {
      const data = ctx.data as any;
      if (ctx.offset) h.event({ ...data, offset: ctx.offset });
      else if (data && typeof data.type === 'string') h.signal(data as LiveSignal);
    });
    sub.on('join', (ctx) => h.join(ctx.info.client, ctx.info.user));
    sub.on('leave', (ctx) => h.leave(ctx.info.client));
    sub.on('subscribed', (ctx) => h.subscribed(ctx.wasRecovering && !ctx.recovered));
    sub.on('unsubscribed', (ctx) => {
      if (ctx.code !== 0) h.ended(ctx.code, ctx.reason || 'unsubscribed');
    });
    sub.subscribe();
    return new SessionSub(this.client, sub, id);
  }
}

export class SessionSub {
  constructor(
    private readonly client: Centrifuge,
    readonly sub: Subscription,
    private readonly sessionId: string,
  ) {}

  async presence(): Promise<Record<string, { user: string; client: string }>> {
    const res = await this.sub.presence();
    return res.clients as Record<string, { user: string; client: string }>;
  }

  /** A live-only signal (no reply, never stored); dropped while not connected. */
  private signal(method: string, data: Record<string, unknown>): void {
    if (this.client.state !== 'connected') return;
    this.client.send({ method, data: { session_id: this.sessionId, ...data } }).catch(() => {});
  }

  /** Tells the others I am (or stopped) typing. */
  typing(typing: boolean): void {
    this.signal('chat.typing', { typing });
  }

  /** Tells the others which mission field I am editing (a JSON pointer), or null when I stopped. */
  editing(path: string | null): void {
    this.signal('mission.editing', { path });
  }

  close(): void {
    this.sub.removeAllListeners();
    this.sub.unsubscribe();
    this.client.removeSubscription(this.sub);
  }
}
