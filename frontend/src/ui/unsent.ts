// The session's waiting and refused writes that have no place of their own
// (assets, sharing, lifecycle, rename; chat and mission show theirs in
// place), and a line when live updates stopped, with a way to restart them.

import type { OutboxItem } from '../state/outbox';
import { describeWrite } from '../state/writes';
import { h, replace } from './dom';
import type { SessionContext } from './session';

/** Chat and mission writes are shown by their own panels. */
export const shownElsewhere = (i: OutboxItem) => i.op.kind === 'chat' || i.op.kind === 'mission';

export function unsentBox({ app, id }: SessionContext) {
  const el = h('div', { class: 'unsent-area' });
  let live: { text: string; again: () => void } | null = null;

  const keepMine = (i: OutboxItem) => {
    app.outbox.retry(i.key, i.op.kind === 'rename' ? { ...i.op, force: true } : undefined);
    void app.flushOutbox();
  };

  function render() {
    const items = app.outbox.pending(id);
    const waiting = items.filter((i) => !i.error && !i.conflict);
    const stuck = items.filter((i) => (i.error || i.conflict) && !shownElsewhere(i));
    replace(
      el,
      live
        ? h(
            'p',
            { class: 'banner', role: 'status', 'data-testid': 'live-stopped' },
            `${live.text} `,
            h('button', { type: 'button', class: 'small', onclick: live.again }, 'Reconnect'),
          )
        : null,
      waiting.length && app.phase.kind !== 'connected'
        ? h('p', { class: 'hint', 'data-testid': 'waiting' }, `${waiting.length} change${waiting.length === 1 ? '' : 's'} waiting to be sent; they go out when the connection is back.`)
        : null,
      stuck.length
        ? h(
            'div',
            { class: 'conflict', role: 'alert', 'data-testid': 'unsent' },
            stuck.map((i) =>
              h(
                'p',
                { 'data-key': i.key },
                i.conflict
                  ? `Your change (${describeWrite(i.op)}) conflicted: ${i.conflict}. `
                  : `Your change (${describeWrite(i.op)}) was not applied: ${i.error}. `,
                h('button', { type: 'button', class: 'small', onclick: () => keepMine(i) }, i.conflict ? 'Retry with mine' : 'Retry'),
                h('button', { type: 'button', class: 'small', onclick: () => app.outbox.discard(i.key) }, i.conflict ? 'Discard mine' : 'Discard'),
              ),
            ),
          )
        : null,
    );
  }

  return {
    el,
    render,
    /** Says that live updates stopped (null: they run). */
    setLive(text: string | null, again?: () => void) {
      live = text && again ? { text, again } : null;
      render();
    },
  };
}
