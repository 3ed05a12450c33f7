// "My sessions": live through the personal feed; filter, search, create.

import type { App } from './app';
import { filterSessions, type ListFilter } from '../state/sessionList';
import { SESSION_STATUSES, type Session } from '../types';
import { h, labelled, replace } from './dom';

export function listView(app: App): { el: HTMLElement; dispose: () => void } {
  const filter: ListFilter = { status: 'all', query: '' };
  const list = h('ul', { class: 'sessions', 'aria-label': 'Sessions', 'data-testid': 'session-list' });
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const name = h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'Trip to Lisbon' });
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

  const item = (s: Session) =>
    h(
      'li',
      { 'data-session': s.id },
      h(
        'a',
        { href: `#/sessions/${s.id}`, class: 'session-link' },
        h('span', { class: 'name' }, s.name),
        h('span', { class: `badge status-${s.status}` }, s.status),
        h('span', { class: 'meta' }, `${s.owner === app.auth.user ? 'owner' : `shared by ${s.owner}`} · ${s.message_count} messages`),
      ),
    );

  function render() {
    const shown = filterSessions(app.sessions, filter);
    replace(list, shown.length ? shown.map(item) : h('li', { class: 'empty' }, app.sessionsLoaded ? 'No sessions here yet.' : 'Loading…'));
    count.textContent = `${shown.length} of ${app.sessions.length} sessions`;
  }

  const el = h(
    'main',
    { class: 'list-view', id: 'main' },
    h('h2', null, 'My sessions'),
    h(
      'form',
      {
        class: 'row create',
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
      h('button', { type: 'submit', class: 'primary' }, 'Create'),
    ),
    h('div', { class: 'row filters' }, labelled('filter-status', 'Status', status), labelled('filter-search', 'Search by name', search)),
    count,
    list,
  );
  render();
  const off = app.onSessions(render);
  return { el, dispose: off };
}
