// "My sessions": live through the personal feed (membership, status, counts,
// last activity, unread markers); filter, search, create, import.

import type { App } from './app';
import { offlineReason } from '../state/rights';
import { ago, filterSessions, plural, type ListFilter } from '../state/sessionList';
import { unread } from '../state/unread';
import { describeWrite } from '../state/writes';
import { SESSION_STATUSES, type Session } from '../types';
import { h, labelled, replace } from './dom';

export function listView(app: App): { el: HTMLElement; dispose: () => void } {
  const filter: ListFilter = { status: 'all', query: '' };
  const list = h('ul', { class: 'sessions', 'aria-label': 'Sessions', 'data-testid': 'session-list' });
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const notice = h('div', { class: 'notice-area' });
  const orphans = h('div', { 'data-testid': 'orphans' });
  const name = h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'Trip to Lisbon' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create');
  const createNote = h('span', { class: 'hint' });
  const importInput = h('input', { type: 'file', accept: 'application/json,.json', class: 'sr-only', id: 'import-file', 'data-testid': 'import-file' });
  const importLabel = h('label', { for: 'import-file', class: 'button' }, 'Import a session…');
  const status = h(
    'select',
    {
      onchange: () => {
        filter.status = status.value as ListFilter['status'];
        render();
      },
    },
    h('option', { value: 'all' }, 'All'),
    SESSION_STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const search = h('input', {
    type: 'search',
    placeholder: 'Search by name',
    oninput: () => {
      filter.query = search.value;
      render();
    },
  });

  const item = (s: Session) => {
    const top = app.tops.get(s.id);
    const news = unread(s.message_count, top?.offset, app.seen.get(s.id));
    return h(
      'li',
      { 'data-session': s.id },
      h(
        'a',
        { href: `#/sessions/${s.id}`, class: `session-link${news.messages || news.activity ? ' unread' : ''}` },
        h('span', { class: 'name' }, s.name),
        h('span', { class: `badge status-${s.status}` }, s.status),
        h(
          'span',
          { class: 'meta' },
          `${s.owner === app.auth.user ? 'owner' : `shared by ${s.owner}`} · `,
          h('span', { 'data-testid': 'count' }, plural(s.message_count, 'message')),
          ' · ',
          h('time', { datetime: s.last_activity_at, title: new Date(s.last_activity_at).toLocaleString() }, `active ${ago(s.last_activity_at, Date.now())}`),
        ),
        news.messages
          ? h('span', { class: 'unread-badge', 'data-testid': 'unread' }, `${news.messages} new`)
          : news.activity
            ? h('span', { class: 'unread-badge dot', 'data-testid': 'unread', title: 'New activity' }, 'new activity')
            : null,
      ),
    );
  };

  function renderNotice() {
    replace(
      notice,
      app.flash
        ? h(
            'p',
            { class: 'banner', role: 'status', 'data-testid': 'flash' },
            app.flash,
            ' ',
            h('button', { type: 'button', class: 'small', onclick: () => ((app.flash = null), renderNotice()) }, 'OK'),
          )
        : null,
      app.listError
        ? h(
            'p',
            { class: 'banner', role: 'alert', 'data-testid': 'list-error' },
            `Could not load your sessions: ${app.listError} `,
            h('button', { type: 'button', class: 'small', onclick: () => void app.loadSessions() }, 'Retry'),
          )
        : null,
    );
  }

  /** Writes kept for sessions that are not in the list any more (gone while they waited). */
  function renderOrphans() {
    const known = new Set(app.sessions.map((s) => s.id));
    const stuck = app.sessionsLoaded ? app.outbox.pending().filter((i) => !known.has(i.sessionId)) : [];
    replace(
      orphans,
      stuck.length
        ? h(
            'section',
            { class: 'panel orphans', 'aria-labelledby': 'orphans-h' },
            h('h3', { id: 'orphans-h' }, `Unsent changes for sessions that are gone (${stuck.length})`),
            h(
              'ul',
              null,
              stuck.map((i) =>
                h(
                  'li',
                  { 'data-key': i.key },
                  h('span', null, describeWrite(i.op)),
                  h('span', { class: 'meta' }, i.error ?? 'waiting'),
                  h('button', { type: 'button', class: 'small', onclick: () => app.outbox.discard(i.key) }, 'Discard'),
                ),
              ),
            ),
          )
        : null,
    );
  }

  function renderControls() {
    const why = offlineReason(app.phase);
    create.disabled = why !== null;
    create.title = why ?? '';
    createNote.textContent = why ? why.replace(': this needs', '; creating needs') : '';
    importInput.disabled = why !== null;
    importLabel.classList.toggle('disabled', why !== null);
    importLabel.title = why ?? 'A file made by Export (tandem.session/1)';
  }

  function render() {
    const shown = filterSessions(app.sessions, filter);
    replace(
      list,
      shown.length
        ? shown.map(item)
        : h('li', { class: 'empty' }, app.sessionsLoaded ? 'No sessions here yet.' : app.listError ? 'Not loaded.' : 'Loading…'),
    );
    count.textContent = `${shown.length} of ${plural(app.sessions.length, 'session')}`;
    renderNotice();
    renderOrphans();
    renderControls();
  }

  importInput.addEventListener('change', async () => {
    const file = importInput.files?.[0];
    importInput.value = '';
    if (!file) return;
    let doc: unknown;
    try {
      doc = JSON.parse(await file.text());
    } catch {
      app.toast(`${file.name} is not a JSON file made by Export.`);
      return;
    }
    try {
      const s = await app.api.importSession(doc);
      app.upsertSession(s);
      location.hash = `#/sessions/${s.id}`;
    } catch (err) {
      app.toast(err);
    }
  });

  const el = h(
    'main',
    { class: 'list-view', id: 'main' },
    h('h2', null, 'My sessions'),
    notice,
    h(
      'form',
      {
        class: 'row create wrap',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const value = name.value.trim();
          if (!value) return;
          try {
            const s = await app.api.createSession(value);
            name.value = '';
            app.upsertSession(s);
            location.hash = `#/sessions/${s.id}`;
          } catch (err) {
            app.toast(err);
          }
        },
      },
      labelled('new-session-name', 'New session name', name),
      create,
      importLabel,
      importInput,
      createNote,
    ),
    h('div', { class: 'row filters' }, labelled('filter-status', 'Status', status), labelled('filter-search', 'Search by name', search)),
    count,
    list,
    orphans,
  );
  render();
  const offs = [app.onSessions(render), app.outbox.onChange(renderOrphans), app.realtime.onPhase(renderControls)];
  // Relative times ("5 min ago") move on.
  const tick = window.setInterval(render, 30_000);
  // The list is fetched again whenever it is shown: a notice missed meanwhile cannot leave it stale.
  void app.loadSessions();
  return {
    el,
    dispose: () => {
      clearInterval(tick);
      offs.forEach((off) => off());
    },
  };
}
