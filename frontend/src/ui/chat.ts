// The chat: role-tagged messages (user, assistant, tool, system), the marks
// of imported ones, pending and failed messages from the outbox, who is
// typing, and the composer (off, with the reason, when the user may not write).

import { chatLines } from '../state/messages';
import type { Typing } from '../state/presence';
import { typingText } from '../state/presence';
import type { Rights } from '../state/rights';
import type { SessionState } from '../state/session';
import { MESSAGE_ROLES, type ChatMessage, type MessageRole } from '../types';
import { h, labelled, replace, time } from './dom';
import type { SessionContext } from './session';

export function chatPanel({ app, id, state, rights, sub }: SessionContext, typing: Typing) {
  const me = app.auth.user;
  let delivered: ChatMessage[] = [];
  const log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Chat messages', 'data-testid': 'messages' });
  const typingLine = h('p', { class: 'typing', 'aria-live': 'polite', 'data-testid': 'typing' });
  const note = h('p', { class: 'hint composer-note', 'data-testid': 'composer-note' });
  const input = h('textarea', { rows: 2, name: 'message', placeholder: 'Write a message…', 'data-testid': 'composer', maxlength: 16000 });
  const role = h(
    'select',
    { name: 'role', title: 'Post the message as' },
    MESSAGE_ROLES.map((r) => h('option', { value: r }, r)),
  );
  const sendButton = h('button', { type: 'submit', class: 'primary' }, 'Send');

  // Typing signals are throttled; every message goes through the outbox.
  let typingSentAt = 0;
  let typingStop: number | undefined;
  const stopTyping = () => {
    if (typingSentAt) sub()?.typing(false);
    typingSentAt = 0;
  };
  input.addEventListener('input', () => {
    const now = Date.now();
    if (input.value.trim() && now - typingSentAt > 2000) {
      typingSentAt = now;
      sub()?.typing(true);
    }
    clearTimeout(typingStop);
    typingStop = window.setTimeout(stopTyping, 3000);
  });
  const send = () => {
    const content = input.value.trim();
    if (!content || !rights().write) return;
    const r = role.value as MessageRole;
    app.write(id, { kind: 'chat', content, ...(r === 'user' ? {} : { role: r }) });
    input.value = '';
    clearTimeout(typingStop);
    stopTyping();
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
    labelled('composer-role', 'As', role, true),
    sendButton,
  );

  const messageItem = (m: ChatMessage) =>
    h(
      'li',
      {
        class: `msg role-${m.role}${m.author === me && m.role === 'user' ? ' mine' : ''}`,
        'data-offset': m.offset,
        'data-key': m.idempotency_key,
        'data-role': m.role,
      },
      h('span', { class: 'author' }, m.author),
      m.role !== 'user' ? h('span', { class: 'role-tag' }, m.role) : null,
      h('time', { datetime: m.created_at }, time(m.created_at)),
      m.imported ? h('span', { class: 'imported', 'data-testid': 'imported' }, `imported — originally by ${m.imported.author}`) : null,
      h('p', { class: 'content' }, m.content),
    );

  function render(s: SessionState, r: Rights) {
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const lines = chatLines(s.messages, delivered, app.outbox.pending(id));
    replace(
      log,
      lines.length === 0 ? h('li', { class: 'empty' }, r.write ? 'No messages yet. Say hello!' : 'No messages yet.') : null,
      lines.map((line) => {
        if (line.kind === 'message') return messageItem(line.message);
        const i = line.item;
        const op = i.op.kind === 'chat' ? i.op : null;
        return h(
          'li',
          { class: `msg mine pending role-${op?.role ?? 'user'}`, 'data-pending': i.key },
          h('span', { class: 'author' }, me),
          op?.role ? h('span', { class: 'role-tag' }, op.role) : null,
          h('span', { class: 'state' }, i.error ? `Not sent: ${i.error}` : 'Pending: waiting to send…'),
          h('p', { class: 'content' }, op?.content ?? ''),
          i.error
            ? h(
                'span',
                { class: 'row' },
                h('button', { type: 'button', class: 'small', onclick: () => (app.outbox.retry(i.key), void app.flushOutbox()) }, 'Retry'),
                h('button', { type: 'button', class: 'small', onclick: () => app.outbox.discard(i.key) }, 'Discard'),
              )
            : null,
        );
      }),
    );
    if (nearBottom) log.scrollTop = log.scrollHeight;
    input.disabled = !r.write;
    role.disabled = !r.write;
    sendButton.disabled = !r.write;
    sendButton.title = r.write ? '' : (r.writeNote ?? '');
    input.placeholder = r.write ? (app.phase.kind === 'connected' ? 'Write a message…' : 'Write a message… (sent when back online)') : (r.writeNote ?? '');
    note.textContent = r.write && r.writeNote ? r.writeNote : '';
  }

  function renderTyping() {
    typingLine.textContent = typingText(typing.active(Date.now(), me));
  }

  const el = h('section', { class: 'chat panel', 'aria-labelledby': 'chat-h' }, h('h3', { id: 'chat-h' }, 'Chat'), log, typingLine, note, composer);
  return {
    el,
    render,
    renderTyping,
    /** Messages the server stored (REST answer) before their event arrives. */
    delivered(msgs: ChatMessage[]) {
      if (!msgs.length) return;
      delivered = [...delivered, ...msgs].slice(-50);
      const s = state();
      if (s) render(s, rights());
    },
    dispose() {
      clearTimeout(typingStop);
    },
  };
}
