// The WebSocket side, through the official `centrifuge` client only: the
// connection (with token renewal through `getToken`), the personal feed
// `user:<me>`, and one `session:<id>` subscription at a time.

import { Centrifuge, type Subscription } from 'centrifuge';
import type { Auth } from './auth';
import type { SessionEvent, StreamPosition, UserNotice } from './types';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface SessionHandlers {
  /** A stored event (has an offset). */
  event(e: SessionEvent): void;
  /** A live-only typing signal. */
  typing(user: string, typing: boolean): void;
  join(client: string, user: string): void;
  leave(client: string): void;
  /** Subscribed (first time or again); `lostPosition` when recovery failed. */
  subscribed(lostPosition: boolean): void;
  /** The subscription ended for good (e.g. access revoked). */
  ended(reason: string): void;
}

export class Realtime {
  readonly client: Centrifuge;
  private everConnected = false;
  private stateNow: ConnectionState = 'connecting';
  private readonly listeners = new Set<(s: ConnectionState) => void>();

  constructor(private readonly auth: Auth) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.client = new Centrifuge(`${scheme}://${location.host}/connection/websocket`, {
      getToken: () => auth.refresh(),
      minReconnectDelay: 300,
      maxReconnectDelay: 5000,
    });
    this.client.on('connecting', () => this.set(this.everConnected ? 'reconnecting' : 'connecting'));
    this.client.on('connected', () => {
      this.everConnected = true;
      this.set('connected');
    });
    this.client.on('disconnected', () => this.set('offline'));
    addEventListener('offline', () => this.set('offline'));
  }

  async start(): Promise<void> {
    this.client.setToken(await this.auth.token());
    this.client.connect();
  }

  stop(): void {
    this.client.disconnect();
  }

  get state(): ConnectionState {
    return this.stateNow;
  }

  onState(listener: (s: ConnectionState) => void): () => void {
    this.listeners.add(listener);
    listener(this.stateNow);
    return () => this.listeners.delete(listener);
  }

  private set(s: ConnectionState): void {
    // While the browser says it is offline, "reconnecting" is really offline.
    const shown = s === 'reconnecting' && typeof navigator !== 'undefined' && !navigator.onLine ? 'offline' : s;
    if (shown === this.stateNow) return;
    this.stateNow = shown;
    for (const l of this.listeners) l(shown);
  }

  /** The personal feed: session list changes. */
  userFeed(onNotice: (n: UserNotice) => void): Subscription {
    const channel = `user:${this.auth.user}`;
    const sub = this.client.getSubscription(channel) ?? this.client.newSubscription(channel);
    sub.removeAllListeners('publication');
    sub.on('publication', (ctx) => onNotice(ctx.data as UserNotice));
    sub.subscribe();
    return sub;
  }

  /** Subscribes to a session from `since` (the snapshot's position): no gap, no duplicate. */
  openSession(id: string, since: StreamPosition, h: SessionHandlers): SessionSub {
    const channel = `session:${id}`;
    const old = this.client.getSubscription(channel);
    if (old) {
      old.unsubscribe();
      this.client.removeSubscription(old);
    }
    const sub = this.client.newSubscription(channel, { since, joinLeave: true });
    sub.on('publication', (ctx) => {
      const data = ctx.data as any;
      if (data?.type === 'chat.typing' && !ctx.offset) {
        h.typing(String(data.actor), data.data?.typing !== false);
        return;
      }
      if (ctx.offset) h.event({ ...data, offset: ctx.offset });
    });
    sub.on('join', (ctx) => h.join(ctx.info.client, ctx.info.user));
    sub.on('leave', (ctx) => h.leave(ctx.info.client));
    sub.on('subscribed', (ctx) => h.subscribed(ctx.wasRecovering && !ctx.recovered));
    sub.on('unsubscribed', (ctx) => {
      if (ctx.code !== 0) h.ended(ctx.reason || 'unsubscribed');
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

  /** Tells the others I am (or stopped) typing: a live-only signal, no reply. */
  typing(typing: boolean): void {
    if (this.client.state !== 'connected') return;
    this.client.send({ method: 'chat.typing', data: { session_id: this.sessionId, typing } }).catch(() => {});
  }

  close(): void {
    this.sub.removeAllListeners();
    this.sub.unsubscribe();
    this.client.removeSubscription(this.sub);
  }
}
