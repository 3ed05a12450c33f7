// One session: chat (live, typing, pending messages), presence, mission,
// assets, sharing and lifecycle.

import { ApiError } from '../api';
import type { LifecycleAction } from '../api';
import { chatLines } from '../state/messages';
import { Presence, Typing, typingText } from '../state/presence';
import { SessionStore, type SessionState } from '../state/session';
import type { SessionSub } from '../realtime';
import type { ChatMessage, Role, SessionStatus } from '../types';
import type { App } from './app';
import { h, labelled, replace, time } from './dom';
import { missionPanel } from './mission';

const ACTIONS: Record<SessionStatus, LifecycleAction[]> = {
  active: ['complete', 'archive'],
  completed: ['archive'],
  abandoned: ['reopen', 'archive'],
  archived: ['restore'],
};

const ACTION_TEXT: Record<LifecycleAction, string> = {
  complete: 'Complete',
  archive: 'Archive',
  restore: 'Restore',
  reopen: 'Reopen',
};

export function sessionView(app: App, id: string): { el: HTMLElement; dispose: () => void } {
  const me = app.auth.user;
  let store: SessionStore | null = null;
  let sub: SessionSub | null = null;
  let disposed = false;
  const presence = new Presence();
  const typing = new Typing();
  let delivered: ChatMessage[] = [];
  const cleanups: (() => void)[] = [];

  const title = h('h2', { class: 'session-title' }, 'Loading…');
  const statusBadge = h('span', { class: 'badge' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Lifecycle' });
  const banner = h('p', { class: 'banner', role: 'status', hidden: true });
  const log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Chat messages', 'data-testid': 'messages' });
  const typingLine = h('p', { class: 'typing', 'aria-live': 'polite', 'data-testid': 'typing' });
  const people = h('ul', { class: 'people', 'aria-label': 'People here now', 'data-testid': 'presence' });
  const assetList = h('ul', { class: 'assets', 'data-testid': 'assets' });
  const collabList = h('ul', { class: 'collaborators', 'data-testid': 'collaborators' });
  const shareForm = h('div');
  const mission = missionPanel(app, id, () => store?.state ?? null);

  // Composer: typing signals throttled; every message goes through the outbox.
  const input = h('textarea', { rows: 2, name: 'message', placeholder: 'Write a message…', 'data-testid': 'composer', maxlength: 16000 });
  let typingSentAt = 0;
  let typingStop: number | undefined;
  const stopTyping = () => {
    if (typingSentAt) sub?.typing(false);
    typingSentAt = 0;
  };
  input.addEventListener('input', () => {
    const now = Date.now();
    if (input.value.trim() && now - typingSentAt > 2000) {
      typingSentAt = now;
      sub?.typing(true);
    }
    clearTimeout(typingStop);
    typingStop = window.setTimeout(stopTyping, 3000);
  });
  const send = () => {
    const content = input.value.trim();
    if (!content || !canWrite()) return;
    app.outbox.add(id, content);
    input.value = '';
    clearTimeout(typingStop);
    stopTyping();
    void app.flushOutbox();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  });
  const composer = h(
    'form',
    {
      class: 'composer',
      onsubmit: (e: Event) => {
        e.preventDefault();
        send();
      },
    },
    labelled('composer-input', 'Message (Enter sends, Shift+Enter for a new line)', input, true),
    h('button', { type: 'submit', class: 'primary' }, 'Send'),
  );

  const canWrite = () => {
    const s = store?.state;
    return !!s && !s.gone && (s.role === 'owner' || s.role === 'editor') && s.session.status !== 'archived';
  };

  function renderHeader(s: SessionState) {
    title.textContent = s.session.name;
    statusBadge.className = `badge status-${s.session.status}`;
    statusBadge.textContent = s.session.status;
    statusBadge.dataset.testid = 'status';
    const writer = s.role === 'owner' || s.role === 'editor';
    replace(
      actions,
      writer && !s.gone
        ? ACTIONS[s.session.status].map((a) =>
            h('button', { type: 'button', 'data-action': a, onclick: () => lifecycle(a) }, ACTION_TEXT[a]),
          )
        : null,
    );
    if (s.gone) {
      banner.hidden = false;
      banner.textContent = s.gone;
    } else if (s.session.status === 'archived') {
      banner.hidden = false;
      banner.textContent = 'This session is archived: read-only until restored.';
    } else if (s.role === 'viewer') {
      banner.hidden = false;
      banner.textContent = 'You are a viewer here: you can read but not write.';
    } else banner.hidden = true;
    input.disabled = !canWrite();
  }

  function renderMessages(s: SessionState) {
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const lines = chatLines(s.messages, delivered, app.outbox.pending(id));
    replace(
      log,
      lines.length === 0 ? h('li', { class: 'empty' }, 'No messages yet. Say hello!') : null,
      lines.map((line) => {
        if (line.kind === 'message') {
          const m = line.message;
          return h(
            'li',
            { class: `msg${m.author === me ? ' mine' : ''}`, 'data-offset': m.offset, 'data-key': m.idempotency_key },
            h('span', { class: 'author' }, m.author),
            h('time', { datetime: m.created_at }, time(m.created_at)),
            h('p', { class: 'content' }, m.content),
          );
        }
        const i = line.item;
        return h(
          'li',
          { class: 'msg mine pending', 'data-pending': i.key },
          h('span', { class: 'author' }, me),
          h('span', { class: 'state' }, i.error ? `Not sent: ${i.error}` : 'Pending: waiting to send…'),
          h('p', { class: 'content' }, i.content),
          i.error
            ? h(
                'span',
                { class: 'row' },
                h('button', { type: 'button', onclick: () => (app.outbox.retry(i.key), void app.flushOutbox()) }, 'Retry'),
                h('button', { type: 'button', onclick: () => app.outbox.discard(i.key) }, 'Discard'),
              )
            : null,
        );
      }),
    );
    if (nearBottom) log.scrollTop = log.scrollHeight;
  }

  function renderPresence() {
    const users = presence.users();
    replace(
      people,
      users.map((u) => h('li', { 'data-user': u }, h('span', { class: 'dot', 'aria-hidden': 'true' }), u === me ? `${u} (you)` : u)),
    );
  }

  function renderTyping() {
    typingLine.textContent = typingText(typing.active(Date.now(), me));
  }

  function renderAssets(s: SessionState) {
    replace(
      assetList,
      s.assets.length === 0 ? h('li', { class: 'empty' }, 'No assets yet.') : null,
      s.assets.map((a) =>
        h(
          'li',
          null,
          h(
            'details',
            null,
            h('summary', null, `${a.name} `, h('span', { class: 'meta' }, `${a.media_type} · ${a.created_by}`)),
            a.content !== undefined ? h('pre', null, a.content) : a.uri ? h('a', { href: a.uri, rel: 'noopener' }, a.uri) : null,
          ),
        ),
      ),
    );
  }

  function renderCollaborators(s: SessionState) {
    const owner = s.role === 'owner' && !s.gone;
    replace(
      collabList,
      s.session.collaborators.map((c) =>
        h(
          'li',
          { 'data-user': c.user_id },
          h('span', null, c.user_id),
          h('span', { class: 'badge' }, c.role),
          owner && c.role !== 'owner'
            ? h('button', { type: 'button', class: 'small', 'aria-label': `Revoke ${c.user_id}`, onclick: () => revoke(c.user_id) }, 'Revoke')
            : null,
        ),
      ),
    );
    shareForm.hidden = !owner || s.session.status === 'archived';
  }

  function render(s: SessionState) {
    renderHeader(s);
    renderMessages(s);
    renderAssets(s);
    renderCollaborators(s);
    mission.render(s);
  }

  async function lifecycle(action: LifecycleAction) {
    try {
      await app.api.lifecycle(id, action);
    } catch (err) {
      app.toast(err);
    }
  }

  async function revoke(user: string) {
    try {
      await app.api.revoke(id, user);
    } catch (err) {
      app.toast(err);
    }
  }

  // Sharing form (owner only).
  const shareUser = h('input', { name: 'user', required: true, pattern: '[^/]{1,128}', placeholder: 'bob' });
  const shareRole = h('select', { name: 'role' }, h('option', { value: 'editor' }, 'editor'), h('option', { value: 'viewer' }, 'viewer'));
  shareForm.append(
    h(
      'form',
      {
        class: 'row wrap',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const user = shareUser.value.trim();
          if (!user) return;
          try {
            await app.api.share(id, user, shareRole.value as Role);
            shareUser.value = '';
          } catch (err) {
            app.toast(err);
          }
        },
      },
      labelled('share-user', 'User id', shareUser),
      labelled('share-role', 'Role', shareRole),
      h('button', { type: 'submit' }, 'Share'),
    ),
  );

  // Asset form.
  const assetName = h('input', { name: 'asset-name', required: true, placeholder: 'notes.txt' });
  const assetContent = h('textarea', { name: 'asset-content', rows: 3, required: true, maxlength: 32768 });
  const assetForm = h(
    'form',
    {
      class: 'stack',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await app.api.addAsset(id, assetName.value.trim(), assetContent.value);
          assetName.value = '';
          assetContent.value = '';
        } catch (err) {
          app.toast(err);
        }
      },
    },
    labelled('asset-name', 'Asset name', assetName),
    labelled('asset-content', 'Text content', assetContent),
    h('button', { type: 'submit' }, 'Add text asset'),
  );

  const el = h(
    'main',
    { class: 'session-view', id: 'main' },
    h(
      'div',
      { class: 'session-head' },
      h('a', { href: '#/', class: 'back' }, '← Sessions'),
      title,
      statusBadge,
      actions,
    ),
    banner,
    h(
      'div',
      { class: 'session-grid' },
      h('section', { class: 'chat panel', 'aria-labelledby': 'chat-h' }, h('h3', { id: 'chat-h' }, 'Chat'), log, typingLine, composer),
      h(
        'div',
        { class: 'side' },
        h('section', { class: 'panel', 'aria-labelledby': 'people-h' }, h('h3', { id: 'people-h' }, 'Here now'), people),
        mission.el,
        h('section', { class: 'panel', 'aria-labelledby': 'assets-h' }, h('h3', { id: 'assets-h' }, 'Assets'), assetList, assetForm),
        h('section', { class: 'panel', 'aria-labelledby': 'share-h' }, h('h3', { id: 'share-h' }, 'Collaborators'), collabList, shareForm),
      ),
    ),
  );

  async function refreshPresence() {
    try {
      if (sub) presence.reset(await sub.presence());
      renderPresence();
    } catch {
      /* not subscribed right now; join/leave keep it current */
    }
  }

  async function reloadSnapshot() {
    if (!store) return;
    store.beginReload();
    try {
      store.reload(await app.api.getSession(id));
    } catch (err) {
      store.cancelReload();
      app.toast(err);
    }
  }

  async function open() {
    try {
      const snap = await app.api.getSession(id);
      if (disposed) return;
      store = new SessionStore(snap, me);
      cleanups.push(
        store.onChange((s, applied) => {
          for (const e of applied) if (e.type === 'chat.message') typing.signal(e.actor, false, Date.now());
          render(s);
          renderTyping();
          if (applied.some((e) => e.type === 'session.status_changed' || e.type === 'session.updated')) {
            app.upsertSession(s.session);
          }
        }),
      );
      render(store.state);
      sub = app.realtime.openSession(id, snap.position, {
        event: (e) => store?.receive(e),
        typing: (user, on) => {
          typing.signal(user, on, Date.now());
          renderTyping();
        },
        join: (client, user) => {
          presence.join(client, user);
          renderPresence();
        },
        leave: (client) => {
          presence.leave(client);
          renderPresence();
        },
        subscribed: (lost) => {
          if (lost) void reloadSnapshot();
          void refreshPresence();
        },
        ended: (reason) => {
          banner.hidden = false;
          banner.textContent = `Live updates stopped: ${reason}`;
        },
      });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        title.textContent = 'Session not found';
        banner.hidden = false;
        banner.textContent = 'This session does not exist or is not shared with you.';
      } else app.toast(err);
    }
  }

  cleanups.push(app.outbox.onChange(() => store && renderMessages(store.state)));
  cleanups.push(
    app.onDelivered((msgs) => {
      delivered = [...delivered, ...msgs.filter((m) => m.session_id === id)].slice(-50);
      if (store) renderMessages(store.state);
    }),
  );
  // Presence is only known while connected: say so when it may be stale.
  cleanups.push(
    app.realtime.onState((state) => {
      people.classList.toggle('stale', state !== 'connected');
      people.title = state === 'connected' ? '' : 'Last known: not connected right now';
    }),
  );
  const tick = window.setInterval(renderTyping, 1000);
  void open();

  return {
    el,
    dispose: () => {
      disposed = true;
      clearInterval(tick);
      clearTimeout(typingStop);
      cleanups.forEach((c) => c());
      sub?.close();
    },
  };
}
