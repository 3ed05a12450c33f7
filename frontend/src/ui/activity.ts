// The activity panel: the session's events in words, newest first; live, and
// paged back through `GET /api/sessions/{id}/events`. Each line can start a
// fork of the session as it was right after it.

import { toFailure } from '../api';
import { ActivityLog } from '../state/activity';
import type { Rights } from '../state/rights';
import type { SessionState } from '../state/session';
import { humanError } from '../state/writes';
import type { SessionEvent, Snapshot } from '../types';
import { h, replace, time } from './dom';
import type { SessionContext } from './session';

const PAGE = 50;

export function activityPanel({ app, id }: SessionContext) {
  const log = new ActivityLog();
  const list = h('ol', { class: 'activity', 'data-testid': 'activity', 'aria-label': 'Activity, newest first' });
  const more = h('div', { class: 'row activity-more' });
  const withChat = h('input', { type: 'checkbox', id: 'activity-chat', onchange: () => draw() });
  let loading = false;
  let error: string | null = null;
  let rights: Rights | null = null;
  let generation = 0;

  async function loadEarlier(first = false) {
    const page = first ? null : log.earlierPage(PAGE);
    if (!first && !page) return;
    loading = true;
    error = null;
    draw();
    const gen = generation;
    try {
      const from = page?.from ?? Math.max(1, top - PAGE + 1);
      const events = await app.api.events(id, from, page?.limit ?? PAGE);
      if (gen !== generation) return;
      log.add(events);
    } catch (err) {
      error = humanError(toFailure(err));
    } finally {
      loading = false;
      draw();
    }
  }

  let top = 0;

  function draw() {
    const lines = log.lines(withChat.checked);
    replace(
      list,
      lines.length === 0 && !loading ? h('li', { class: 'empty' }, 'Nothing yet.') : null,
      lines.map((l) =>
        h(
          'li',
          { 'data-offset': l.offset, 'data-type': l.type },
          h('time', { datetime: l.at, title: new Date(l.at).toLocaleString() }, time(l.at)),
          h('span', { class: 'what' }, l.text),
          l.note ? h('span', { class: 'imported' }, l.note) : null,
          rights?.online
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'small link fork-here',
                  title: 'A new session owned by you with this history up to here',
                  onclick: async () => {
                    try {
                      const s = await app.api.fork(id, l.offset);
                      app.upsertSession(s);
                      location.hash = `#/sessions/${s.id}`;
                    } catch (err) {
                      app.toast(err);
                    }
                  },
                },
                'Fork from here',
              )
            : null,
        ),
      ),
    );
    replace(
      more,
      loading ? h('span', { class: 'hint' }, 'Loading…') : null,
      error ? h('span', { class: 'error' }, `Could not load the activity: ${error} `) : null,
      !loading && (log.hasEarlier || error)
        ? h('button', { type: 'button', class: 'small', 'data-testid': 'activity-earlier', onclick: () => void loadEarlier(log.last === 0) }, error ? 'Retry' : 'Show earlier')
        : null,
    );
  }

  const el = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'activity-h' },
    h('div', { class: 'panel-head' }, h('h3', { id: 'activity-h' }, 'Activity'), h('label', { class: 'check', for: 'activity-chat' }, withChat, ' Include messages')),
    list,
    more,
  );

  return {
    el,
    /** Starts over from a snapshot: the latest page before its position, then live events. */
    reset(snap: Snapshot) {
      generation += 1;
      log.clear();
      log.setAnchor(snap.position.offset, snap.mission, snap.assets);
      top = snap.position.offset;
      if (top > 0) void loadEarlier(true);
      else draw();
    },
    add(events: SessionEvent[]) {
      if (!events.length) return;
      log.add(events);
      draw();
    },
    render(_s: SessionState, r: Rights) {
      const changed = rights?.online !== r.online;
      rights = r;
      if (changed) draw();
    },
  };
}
