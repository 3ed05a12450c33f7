// The signed-in shell: header (mode, user, connection state with its
// countdown), the sign-in-again panel, routing between the session list and
// one session, the outbox and the personal feed.

import { ApiClient, toFailure } from '../api';
import type { Auth } from '../auth';
import { Realtime } from '../realtime';
import { secondsUntil, type Phase } from '../state/connection';
import { MemoryStorage, Outbox, type KeyValueStorage, type Lock } from '../state/outbox';
import { applyNotice, mergeFetched, upsert, type Tops } from '../state/sessionList';
import { SeenStore } from '../state/unread';
import { humanError, type WriteOp } from '../state/writes';
import { Writer, type Delivered, type Local } from '../sync';
import type { ChatMessage, Session } from '../types';
import { h } from './dom';
import { listView } from './list';
import { sessionView } from './session';

function storage(): KeyValueStorage {
  try {
    localStorage.setItem('tandem.probe', '1');
    localStorage.removeItem('tandem.probe');
    return localStorage;
  } catch {
    return new MemoryStorage();
  }
}

/** One flush of the outbox at a time across this user's tabs (Web Locks API, where there is one). */
function crossTabLock(name: string): Lock {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  return locks ? (run) => locks.request(name, () => run()) as ReturnType<typeof run> : (run) => run();
}

const FLUSH_RETRY_MS = [2000, 4000, 8000, 15000, 30000];

export class App {
  readonly api: ApiClient;
  readonly realtime: Realtime;
  readonly outbox: Outbox<Delivered>;
  readonly seen: SeenStore;
  sessions: Session[] = [];
  /** Stream tops from `session.activity` notices. */
  readonly tops: Tops = new Map();
  sessionsLoaded = false;
  /** Why the list could not be loaded (shown with a retry), or null. */
  listError: string | null = null;
  /** A notice for the list view (e.g. "that session is gone"). */
  flash: string | null = null;
  /** What the open session view knows (so replays skip a round trip). */
  local: Local = { mission: () => undefined, session: () => undefined };
  private readonly writer: Writer;
  private readonly sessionListeners = new Set<() => void>();
  private readonly deliveredListeners = new Set<(m: ChatMessage[]) => void>();
  private view: { el: HTMLElement; dispose: () => void } | null = null;
  private readonly toasts = h('div', { class: 'toasts', role: 'alert', 'aria-live': 'assertive' });
  private readonly main = h('div', { class: 'main' });
  private readonly signin = h('section', { class: 'signin-again', hidden: true, 'data-testid': 'signin-again', 'aria-live': 'assertive' });
  private flushTimer: number | undefined;
  private flushFailures = 0;
  private loading: Promise<void> | null = null;
  private signinOff: (() => void) | null = null;

  constructor(
    readonly auth: Auth,
    private readonly root: HTMLElement,
    private readonly onSignOut: () => void,
  ) {
    this.api = new ApiClient(auth);
    this.realtime = new Realtime(auth);
    const store = storage();
    this.outbox = new Outbox<Delivered>(
      store,
      `tandem.outbox.${auth.user}`,
      () => crypto.randomUUID(),
      () => new Date(),
      crossTabLock(`tandem.outbox.${auth.user}`),
    );
    this.seen = new SeenStore(store, `tandem.seen.${auth.user}`);
    this.writer = new Writer(this.api, { mission: (id) => this.local.mission(id), session: (id) => this.local.session(id) });
    auth.onSignInNeeded = (reason) => this.realtime.needSignIn(reason);
    auth.onRenewed = () => {
      this.realtime.resume();
      void this.flushOutbox();
    };
  }

  get phase(): Phase {
    return this.realtime.phase;
  }

  async start(): Promise<void> {
    const pill = h('span', { class: 'conn', role: 'status', 'aria-live': 'polite', 'data-testid': 'connection' });
    const retry = h('button', { type: 'button', class: 'small retry', 'data-testid': 'retry-now', hidden: true, onclick: () => this.realtime.retryNow() }, 'Retry now');
    let countdown: number | undefined;
    const showPhase = (p: Phase) => {
      clearInterval(countdown);
      pill.dataset.state = p.kind;
      retry.hidden = p.kind !== 'reconnecting';
      const text = () => {
        switch (p.kind) {
          case 'connecting':
            return 'Connecting…';
          case 'connected':
            return 'Connected';
          case 'reconnecting':
            return p.retryAt === null ? 'Reconnecting…' : `Server unreachable · retrying in ${secondsUntil(p.retryAt, Date.now())} s`;
          case 'offline':
            return 'Offline';
          case 'signin':
            return 'Sign-in needed';
          case 'stopped':
            return 'Signed out';
        }
      };
      pill.textContent = text();
      if (p.kind === 'reconnecting' && p.retryAt !== null) countdown = window.setInterval(() => (pill.textContent = text()), 500);
      this.renderSignIn(p);
      if (p.kind === 'connected') {
        this.flushFailures = 0;
        void this.flushOutbox();
      }
    };
    this.realtime.onPhase(showPhase);
    addEventListener('online', () => void this.flushOutbox());
    addEventListener('storage', (e) => {
      if (e.key === `tandem.outbox.${this.auth.user}`) this.outbox.reload();
    });
    const header = h(
      'header',
      { class: 'top' },
      h('a', { href: '#/', class: 'brand' }, 'Tandem'),
      h('span', { class: 'mode', 'data-testid': 'mode', title: 'How you signed in' }, this.auth.mode === 'demo' ? 'demo' : 'token'),
      h('span', { class: 'me', 'data-testid': 'me' }, this.auth.user),
      h('span', { class: 'conn-group' }, pill, retry),
      h('button', { type: 'button', class: 'signout', onclick: () => this.signOut() }, 'Sign out'),
    );
    this.root.replaceChildren(h('a', { href: '#main', class: 'skip' }, 'Skip to content'), header, this.signin, this.main, this.toasts);
    this.realtime.userFeed(
      (notice) => {
        this.sessions = applyNotice(this.sessions, notice, this.tops);
        this.emitSessions();
      },
      () => void this.loadSessions(),
    );
    this.realtime.start();
    addEventListener('hashchange', () => this.route());
    this.route();
    void this.loadSessions();
    // Test hook: the browser tests reach the app through it.
    (window as any).__tandem = { app: this };
  }

  /** Asks for the user when the sign-in cannot be renewed alone. */
  private renderSignIn(p: Phase): void {
    if (p.kind !== 'signin') {
      this.signin.hidden = true;
      this.signinOff?.();
      this.signinOff = null;
      return;
    }
    const error = h('p', { class: 'error', role: 'alert' });
    const token = h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'eyJhbGciOi…', 'aria-label': 'New token' });
    const kept = h('p', { class: 'hint' });
    const count = () => {
      const unsent = this.outbox.pending().length;
      kept.hidden = unsent === 0;
      kept.textContent = `${unsent} unsent change${unsent === 1 ? ' is' : 's are'} kept and will be sent once you are signed in.`;
    };
    count();
    this.signinOff?.();
    this.signinOff = this.outbox.onChange(count);
    this.signin.hidden = false;
    this.signin.replaceChildren(
      h('p', null, h('strong', null, 'Sign in again. '), p.reason),
      kept,
      h(
        'div',
        { class: 'row wrap' },
        this.auth.mode === 'demo'
          ? h('button', { type: 'button', class: 'primary', onclick: () => void this.auth.retryDemo() }, `Sign in again as ${this.auth.user}`)
          : null,
        h('button', { type: 'button', onclick: () => this.signOut() }, 'Sign out'),
      ),
      h(
        'form',
        {
          class: 'stack',
          onsubmit: (e: Event) => {
            e.preventDefault();
            try {
              this.auth.replaceToken(token.value);
              this.realtime.resume();
              void this.flushOutbox();
            } catch (err) {
              error.textContent = (err as Error).message;
            }
          },
        },
        token,
        h('button', { type: 'submit' }, 'Use this token'),
        error,
      ),
    );
  }

  /** Loads the whole list (again): at start, and whenever the personal feed (re)subscribes. */
  loadSessions(): Promise<void> {
    this.loading ??= this.fetchSessions().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async fetchSessions(): Promise<void> {
    try {
      const all: Session[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.api.listSessions({ limit: 100, cursor });
        all.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor && all.length < 1000);
      this.sessions = mergeFetched(this.sessions, all);
      this.seen.prune(new Set(all.map((s) => s.id)));
      this.sessionsLoaded = true;
      this.listError = null;
    } catch (err) {
      this.listError = humanError(toFailure(err));
    }
    this.emitSessions();
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

  /** Queues a write and tries to send it at once. */
  write(sessionId: string, op: WriteOp): void {
    this.outbox.add(sessionId, op);
    void this.flushOutbox();
  }

  /** Sends what waits in the outbox, each write once, oldest first. */
  async flushOutbox(): Promise<void> {
    // Nothing can be sent until the user signs in again; it resumes then.
    const p = this.phase.kind;
    if (this.outbox.waiting().length === 0 || p === 'signin') return;
    clearTimeout(this.flushTimer);
    const delivered = await this.outbox.flush((item) => this.writer.send(item));
    const messages = delivered.filter((d): d is ChatMessage => d !== null);
    if (messages.length) for (const l of this.deliveredListeners) l(messages);
    // Still something waiting: try again a little later (and at once on reconnect).
    if (this.outbox.waiting().length > 0) {
      const wait = FLUSH_RETRY_MS[Math.min(this.flushFailures, FLUSH_RETRY_MS.length - 1)];
      this.flushFailures += 1;
      this.flushTimer = window.setTimeout(() => void this.flushOutbox(), wait);
    } else this.flushFailures = 0;
  }

  /** Leaves a session that is no longer there, saying why on the list. */
  leaveSession(id: string, why: string): void {
    this.flash = why;
    this.sessions = this.sessions.filter((s) => s.id !== id);
    // At once: nothing of the old view may run until the hash change is handled.
    this.view?.dispose();
    this.view = null;
    if (location.hash !== '#/') location.hash = '#/';
    else this.route();
    this.emitSessions();
  }

  private route(): void {
    this.view?.dispose();
    this.local = { mission: () => undefined, session: () => undefined };
    const m = /^#\/sessions\/([0-9a-fA-F-]{36})/.exec(location.hash);
    this.view = m ? sessionView(this, m[1]) : listView(this);
    this.main.replaceChildren(this.view.el);
    document.title = m ? 'Session · Tandem' : 'My sessions · Tandem';
  }

  toast(err: unknown): void {
    const text = typeof err === 'string' ? err : humanError(toFailure(err));
    const t = h('div', { class: 'toast' }, h('span', null, text), h('button', { type: 'button', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
    this.toasts.append(t);
    while (this.toasts.children.length > 3) this.toasts.firstElementChild?.remove();
    setTimeout(() => t.remove(), 6000);
  }

  private signOut(): void {
    this.view?.dispose();
    this.realtime.stop();
    this.auth.signOut();
    location.hash = '';
    this.onSignOut();
  }
}
