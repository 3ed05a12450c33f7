// The signed-in shell: header (mode, user, connection state), routing between
// the session list and one session, the outbox and the personal feed.

import { ApiClient, ApiError, NetworkError } from '../api';
import type { Auth } from '../auth';
import { Outbox, MemoryStorage, type KeyValueStorage, type SendOutcome } from '../state/outbox';
import { applyNotice, sortSessions, upsert } from '../state/sessionList';
import { Realtime, type ConnectionState } from '../realtime';
import type { ChatMessage, Session } from '../types';
import { h } from './dom';
import { listView } from './list';
import { sessionView } from './session';

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

function storage(): KeyValueStorage {
  try {
    localStorage.setItem('tandem.probe', '1');
    localStorage.removeItem('tandem.probe');
    return localStorage;
  } catch {
    return new MemoryStorage();
  }
}

export class App {
  readonly api: ApiClient;
  readonly realtime: Realtime;
  readonly outbox: Outbox<ChatMessage>;
  sessions: Session[] = [];
  sessionsLoaded = false;
  private readonly sessionListeners = new Set<() => void>();
  private readonly deliveredListeners = new Set<(m: ChatMessage[]) => void>();
  private view: { el: HTMLElement; dispose: () => void } | null = null;
  private readonly toasts = h('div', { class: 'toasts', role: 'alert', 'aria-live': 'assertive' });
  private readonly main = h('div', { class: 'main' });
  private retryTimer: number | undefined;

  constructor(
    readonly auth: Auth,
    private readonly root: HTMLElement,
    private readonly onSignOut: () => void,
  ) {
    this.api = new ApiClient(() => auth.token());
    this.realtime = new Realtime(auth);
    this.outbox = new Outbox<ChatMessage>(storage(), `tandem.outbox.${auth.user}`, () => crypto.randomUUID());
  }

  async start(): Promise<void> {
    const pill = h('span', { class: 'conn', role: 'status', 'aria-live': 'polite', 'data-testid': 'connection' });
    this.realtime.onState((s) => {
      pill.dataset.state = s;
      pill.textContent = STATE_TEXT[s];
      if (s === 'connected') void this.flushOutbox();
    });
    addEventListener('online', () => void this.flushOutbox());
    const header = h(
      'header',
      { class: 'top' },
      h('a', { href: '#/', class: 'brand' }, 'Tandem'),
      h('span', { class: 'mode', 'data-testid': 'mode', title: 'How you signed in' }, this.auth.mode === 'demo' ? 'demo login' : 'token'),
      h('span', { class: 'me', 'data-testid': 'me' }, this.auth.user),
      pill,
      h('button', { type: 'button', class: 'signout', onclick: () => this.signOut() }, 'Sign out'),
    );
    this.root.replaceChildren(h('a', { href: '#main', class: 'skip' }, 'Skip to content'), header, this.main, this.toasts);
    this.realtime.userFeed((notice) => {
      this.sessions = applyNotice(this.sessions, notice);
      this.emitSessions();
    });
    await this.realtime.start();
    addEventListener('hashchange', () => this.route());
    this.route();
    void this.loadSessions();
    // Debug/test hook: the browser tests drop the socket through it.
    (window as any).__tandem = {
      app: this,
      dropConnection: () => {
        this.realtime.client.disconnect();
        this.realtime.client.connect();
      },
    };
  }

  private async loadSessions(): Promise<void> {
    try {
      const all: Session[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.api.listSessions({ limit: 100, cursor });
        all.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor && all.length < 1000);
      // Notices that arrived meanwhile win over the page.
      const known = new Map(this.sessions.map((s) => [s.id, s]));
      this.sessions = sortSessions([...known.values(), ...all.filter((s) => !known.has(s.id))]);
      this.sessionsLoaded = true;
      this.emitSessions();
    } catch (err) {
      this.toast(err);
    }
  }

  upsertSession(s: Session): void {
    this.sessions = upsert(this.sessions, s);
    this.emitSessions();
  }

  onSessions(listener: () => void): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  private emitSessions(): void {
    for (const l of this.sessionListeners) l();
  }

  onDelivered(listener: (m: ChatMessage[]) => void): () => void {
    this.deliveredListeners.add(listener);
    return () => this.deliveredListeners.delete(listener);
  }

  /** Sends what waits in the outbox, each message once, with its idempotency key. */
  async flushOutbox(): Promise<void> {
    if (this.outbox.pending().length === 0) return;
    const delivered = await this.outbox.flush(async (item): Promise<SendOutcome<ChatMessage>> => {
      try {
        return { ok: true, result: await this.api.sendMessage(item.sessionId, item.content, item.key) };
      } catch (err) {
        if (err instanceof NetworkError) return { ok: false, retry: true };
        if (err instanceof ApiError && (err.status >= 500 || err.status === 401 || err.status === 429)) return { ok: false, retry: true };
        return { ok: false, retry: false, error: err instanceof Error ? err.message : String(err) };
      }
    });
    if (delivered.length) for (const l of this.deliveredListeners) l(delivered);
    // Still something waiting and nothing failed for good: try again soon.
    clearTimeout(this.retryTimer);
    if (this.outbox.pending().some((i) => !i.error)) {
      this.retryTimer = window.setTimeout(() => void this.flushOutbox(), 3000);
    }
  }

  private route(): void {
    this.view?.dispose();
    const m = /^#\/sessions\/([0-9a-fA-F-]{36})/.exec(location.hash);
    this.view = m ? sessionView(this, m[1]) : listView(this);
    this.main.replaceChildren(this.view.el);
    document.title = m ? 'Session · Tandem' : 'My sessions · Tandem';
  }

  toast(err: unknown): void {
    const text = err instanceof Error ? err.message : String(err);
    const t = h('div', { class: 'toast' }, text, h('button', { type: 'button', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
    this.toasts.append(t);
    setTimeout(() => t.remove(), 8000);
  }

  private signOut(): void {
    this.view?.dispose();
    this.realtime.stop();
    this.auth.signOut();
    location.hash = '';
    this.onSignOut();
  }
}
