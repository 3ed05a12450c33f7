// One session: a header (name, status, lifecycle, export/fork/delete), who is
// here, then the chat beside tabs for the mission, the activity, the assets
// and the sharing (on a phone the chat is a tab too). Keeps the session's
// state from its snapshot and live events, and leaves for the list, saying
// why, when the session is gone.

import { ApiError, toFailure } from '../api';
import { Editing, Presence, Typing } from '../state/presence';
import { rightsFor, type Rights } from '../state/rights';
import { SessionStore, type SessionState } from '../state/session';
import { humanError } from '../state/writes';
import type { SessionSub } from '../realtime';
import type { LiveSignal, SessionEvent } from '../types';
import { activityPanel } from './activity';
import type { App } from './app';
import { assetsPanel } from './assets';
import { chatPanel } from './chat';
import { h, replace } from './dom';
import { sessionHead } from './head';
import { missionPanel } from './mission';
import { sharingPanel } from './sharing';
import { unsentBox } from './unsent';

type Tab = 'chat' | 'mission' | 'activity' | 'assets' | 'sharing';
const TABS: { id: Tab; label: string; phoneOnly?: boolean }[] = [
  { id: 'chat', label: 'Chat', phoneOnly: true },
  { id: 'mission', label: 'Mission' },
  { id: 'activity', label: 'Activity' },
  { id: 'assets', label: 'Assets' },
  { id: 'sharing', label: 'Sharing' },
];

/** The tab an event belongs to (for the "something new there" dot). */
function tabOf(e: SessionEvent): Tab | null {
  if (e.type === 'chat.message') return 'chat';
  if (e.type.startsWith('mission.')) return 'mission';
  if (e.type.startsWith('asset.')) return 'assets';
  if (e.type.startsWith('collaborator.')) return 'sharing';
  return null;
}

const GONE = 'This session no longer exists on the server: it was deleted, is no longer shared with you, or was lost when the server restarted.';

export function sessionView(app: App, id: string): { el: HTMLElement; dispose: () => void } {
  const me = app.auth.user;
  let store: SessionStore | null = null;
  let sub: SessionSub | null = null;
  let disposed = false;
  const presence = new Presence();
  const typing = new Typing();
  const editing = new Editing();
  const cleanups: (() => void)[] = [];
  const state = () => store?.state ?? null;
  const rights = (): Rights => {
    const s = state();
    return rightsFor(s ? { role: s.role, status: s.session.status, gone: s.gone } : { role: null, status: 'active', gone: 'Loading…' }, app.phase);
  };
  const ctx = { app, id, state, rights, sub: () => sub };

  const loading = h('p', { class: 'hint', 'data-testid': 'session-loading', role: 'status' }, 'Loading the session…');
  const here = h('p', { class: 'here', 'data-testid': 'presence', 'aria-label': 'People here now' });
  const head = sessionHead(ctx);
  const chat = chatPanel(ctx, typing);
  const mission = missionPanel(ctx, editing);
  const activity = activityPanel(ctx);
  const assets = assetsPanel(ctx);
  const sharing = sharingPanel(ctx);
  const unsent = unsentBox(ctx);
  const panels: Record<Tab, HTMLElement> = { chat: chat.el, mission: mission.el, activity: activity.el, assets: assets.el, sharing: sharing.el };

  // Tabs: on a desktop the chat stays beside the side panel chosen; on a phone one panel shows at a time.
  const phone = matchMedia('(max-width: 820px)');
  let view: Tab = 'chat';
  let side: Exclude<Tab, 'chat'> = 'mission';
  const fresh = new Set<Tab>();
  const tabButtons = new Map<Tab, HTMLButtonElement>();
  const grid = h('div', { class: 'session-grid' });
  const tablist = h(
    'div',
    { class: 'tabs', role: 'tablist', 'aria-label': 'Session parts' },
    TABS.map((t) => {
      const b = h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `tab-${t.id}`,
          'aria-controls': `panel-${t.id}`,
          class: t.phoneOnly ? 'phone-only' : undefined,
          onclick: () => choose(t.id),
        },
        t.label,
        h('span', { class: 'fresh-dot', 'aria-hidden': 'true', title: 'Something new here' }, ' •'),
      );
      tabButtons.set(t.id, b);
      return b;
    }),
  );
  function choose(t: Tab) {
    view = t;
    if (t !== 'chat') side = t;
    fresh.delete(t);
    renderTabs();
  }
  /** The tabs on screen now: one on a phone, the chat and one side panel on a desktop. */
  const shownTabs = (): Tab[] => (phone.matches ? [view] : ['chat', side]);
  function renderTabs() {
    grid.dataset.view = view;
    grid.dataset.side = side;
    const current = phone.matches ? view : side;
    for (const [t, b] of tabButtons) {
      b.setAttribute('aria-selected', String(t === current));
      b.classList.toggle('fresh', fresh.has(t));
    }
  }
  phone.addEventListener('change', renderTabs);
  for (const [t, el] of Object.entries(panels)) {
    el.id = `panel-${t}`;
    el.setAttribute('role', 'tabpanel');
    el.setAttribute('aria-labelledby', `tab-${t}`);
    el.dataset.panel = t;
  }
  grid.append(chat.el, tablist, h('div', { class: 'side' }, mission.el, activity.el, assets.el, sharing.el));
  renderTabs();

  function renderHere() {
    const users = presence.users();
    replace(
      here,
      h('span', { class: 'meta' }, 'Here now: '),
      users.length === 0 ? h('span', { class: 'meta' }, 'nobody else') : null,
      users.map((u) => h('span', { class: 'person', 'data-user': u }, h('span', { class: 'dot', 'aria-hidden': 'true' }), u === me ? `${u} (you)` : u)),
    );
  }

  function render(s: SessionState) {
    const r = rights();
    head.render(s, r);
    chat.render(s, r);
    mission.render(s, r);
    assets.render(s, r);
    sharing.render(s, r);
    activity.render(s, r);
    unsent.render();
  }

  const el = h('main', { class: 'session-view', id: 'main' }, head.el, here, loading, unsent.el, grid);

  async function refreshPresence() {
    try {
      if (sub) presence.reset(await sub.presence());
      renderHere();
    } catch {
      /* not subscribed right now; join/leave keep it current */
    }
  }

  /** Stops with a way forward when the session cannot be loaded. */
  function loadFailed(err: unknown) {
    if (err instanceof ApiError && err.status === 404) {
      app.leaveSession(id, GONE);
      return;
    }
    replace(
      loading,
      `Could not load the session: ${humanError(toFailure(err))} `,
      h('button', { type: 'button', class: 'small', onclick: () => void open() }, 'Retry'),
    );
  }

  async function reloadSnapshot() {
    if (!store) return;
    store.beginReload();
    try {
      const snap = await app.api.getSession(id);
      store.reload(snap);
      activity.reset(snap);
    } catch (err) {
      store.cancelReload();
      if (err instanceof ApiError && err.status === 404) app.leaveSession(id, GONE);
      else app.toast(err);
    }
  }

  function signal(s: LiveSignal) {
    const now = Date.now();
    if (s.type === 'chat.typing') {
      typing.signal(s.actor, s.data?.typing !== false, now);
      chat.renderTyping();
    } else if (s.type === 'mission.editing') {
      editing.signal(s.actor, typeof s.data?.path === 'string' ? s.data.path : null, now);
      mission.renderEditing();
    }
  }

  async function subscriptionEnded(reason: string) {
    // Revoked, deleted, or refused after a restart: ask the server what is left.
    try {
      await app.api.getSession(id);
      unsent.setLive(`Live updates stopped (${reason}).`, () => void open());
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) app.leaveSession(id, GONE);
      else unsent.setLive(`Live updates stopped (${reason}).`, () => void open());
    }
  }

  async function open() {
    replace(loading, 'Loading the session…');
    loading.hidden = false;
    let snap;
    try {
      snap = await app.api.getSession(id);
    } catch (err) {
      if (!disposed) loadFailed(err);
      return;
    }
    if (disposed) return;
    loading.hidden = true;
    unsent.setLive(null);
    sub?.close();
    cleanups.forEach((c) => c());
    cleanups.length = 0;
    store = new SessionStore(snap, me);
    activity.reset(snap);
    app.local = {
      mission: (sid) => (sid === id ? (store?.state.mission ?? null) : undefined),
      session: (sid) => (sid === id ? store?.state.session : undefined),
    };
    cleanups.push(
      store.onChange((s, applied) => {
        for (const e of applied) if (e.type === 'chat.message') typing.signal(e.actor, false, Date.now());
        if (s.gone) {
          app.leaveSession(id, s.gone);
          return;
        }
        activity.add(applied);
        const onScreen = shownTabs();
        for (const e of applied) {
          for (const t of [tabOf(e), 'activity' as Tab]) if (t && !onScreen.includes(t)) fresh.add(t);
        }
        if (applied.length) renderTabs();
        render(s);
        chat.renderTyping();
        app.upsertSession(s.session);
        if (document.visibilityState === 'visible') app.seen.mark(id, s.session.message_count, s.offset);
      }),
    );
    render(store.state);
    app.seen.mark(id, store.state.session.message_count, store.state.offset);
    sub = app.realtime.openSession(id, snap.position, {
      event: (e) => store?.receive(e),
      signal,
      join: (client, user) => {
        presence.join(client, user);
        renderHere();
      },
      leave: (client) => {
        presence.leave(client);
        renderHere();
      },
      subscribed: (lost) => {
        if (lost) void reloadSnapshot();
        void refreshPresence();
      },
      ended: (_code, reason) => void subscriptionEnded(reason),
    });
  }

  const rerender = () => {
    const s = state();
    if (s) render(s);
  };
  const stale = () => here.classList.toggle('stale', app.phase.kind !== 'connected');
  const offs = [
    app.outbox.onChange(rerender),
    app.onDelivered((msgs) => chat.delivered(msgs.filter((m) => m.session_id === id))),
    app.realtime.onPhase((p) => {
      stale();
      rerender();
      // The snapshot could not be loaded while away: try again now.
      if (p.kind === 'connected' && !store && !loading.hidden) void open();
    }),
    app.onSessions(rerender),
  ];
  const tick = window.setInterval(() => {
    chat.renderTyping();
    mission.renderEditing();
  }, 1000);
  renderHere();
  void open();

  return {
    el,
    dispose: () => {
      disposed = true;
      clearInterval(tick);
      cleanups.forEach((c) => c());
      offs.forEach((off) => off());
      phone.removeEventListener('change', renderTabs);
      chat.dispose();
      mission.dispose();
      sub?.close();
    },
  };
}

export type SessionContext = {
  app: App;
  id: string;
  state: () => SessionState | null;
  rights: () => Rights;
  sub: () => SessionSub | null;
};
