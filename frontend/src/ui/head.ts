// The session's header: name (rename), status with the lifecycle actions the
// status machine allows (and a hint where it allows none directly), export,
// fork and delete; and the note on what the user may do here.

import type { Rights } from '../state/rights';
import type { SessionState } from '../state/session';
import type { LifecycleAction } from '../state/writes';
import { h, replace } from './dom';
import type { SessionContext } from './session';

const ACTION_TEXT: Record<LifecycleAction, string> = {
  complete: 'Complete',
  archive: 'Archive',
  restore: 'Restore',
  reopen: 'Reopen',
};

/** A file name for an export: "trip-to-lisbon-2025-01-01.tandem.json". */
export function exportFileName(name: string, now: Date): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'session';
  return `${slug.slice(0, 60)}-${now.toISOString().slice(0, 10)}.tandem.json`;
}

export function download(fileName: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function sessionHead({ app, id }: SessionContext) {
  const title = h('h2', { class: 'session-title' }, 'Loading…');
  const titleBox = h('div', { class: 'title-box' }, title);
  const status = h('span', { class: 'badge', 'data-testid': 'status' });
  const pending = h('span', { class: 'pending-chip', hidden: true, 'data-testid': 'lifecycle-pending' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Lifecycle' });
  const tools = h('div', { class: 'actions tools', role: 'group', 'aria-label': 'Session tools' });
  const hint = h('p', { class: 'hint lifecycle-hint', 'data-testid': 'lifecycle-hint', hidden: true });
  const note = h('p', { class: 'banner', role: 'status', 'data-testid': 'write-note', hidden: true });
  const toolNote = h('span', { class: 'hint', 'data-testid': 'online-note' });
  let renaming: HTMLFormElement | null = null;
  let confirmDelete = false;
  let busy = false;
  let last: { s: SessionState; r: Rights } | null = null;

  const rerender = () => last && render(last.s, last.r);

  async function online(run: () => Promise<void>) {
    busy = true;
    rerender();
    try {
      await run();
    } catch (err) {
      app.toast(err);
    } finally {
      busy = false;
      rerender();
    }
  }

  const exportIt = () =>
    online(async () => {
      const doc = await app.api.exportSession(id);
      download(exportFileName(doc.session?.name ?? 'session', new Date()), JSON.stringify(doc, null, 2));
    });

  const forkIt = () =>
    online(async () => {
      const s = await app.api.fork(id);
      app.upsertSession(s);
      location.hash = `#/sessions/${s.id}`;
    });

  const deleteIt = (name: string) =>
    online(async () => {
      await app.api.deleteSession(id);
      app.leaveSession(id, `Deleted "${name}" for good.`);
    });

  function renameForm(s: SessionState) {
    const input = h('input', { value: s.session.name, 'aria-label': 'Session name', maxlength: 200, required: true });
    const form = h(
      'form',
      {
        class: 'row rename',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const to = input.value.trim();
          renaming = null;
          if (to && to !== s.session.name) app.write(id, { kind: 'rename', from: s.session.name, to });
          rerender();
        },
      },
      input,
      h('button', { type: 'submit', class: 'small primary' }, 'Save'),
      h('button', { type: 'button', class: 'small', onclick: () => ((renaming = null), rerender()) }, 'Cancel'),
    );
    queueMicrotask(() => input.focus());
    return form;
  }

  function render(s: SessionState, r: Rights) {
    last = { s, r };
    const queued = app.outbox.pending(id);
    const rename = queued.find((i) => i.op.kind === 'rename' && !i.error && !i.conflict);
    const lifecycle = queued.find((i) => i.op.kind === 'lifecycle' && !i.error && !i.conflict);
    if (renaming && r.write) {
      if (!titleBox.contains(renaming)) replace(titleBox, renaming);
    } else {
      renaming = null;
      title.textContent = rename?.op.kind === 'rename' ? rename.op.to : s.session.name;
      title.classList.toggle('pending', !!rename);
      replace(
        titleBox,
        title,
        r.write
          ? h('button', { type: 'button', class: 'small link', 'aria-label': 'Rename the session', onclick: () => ((renaming = renameForm(s)), rerender()) }, 'Rename')
          : null,
      );
    }
    status.className = `badge status-${s.session.status}`;
    status.textContent = s.session.status;
    pending.hidden = !lifecycle;
    if (lifecycle?.op.kind === 'lifecycle') pending.textContent = `${lifecycle.op.action}: pending`;
    replace(
      actions,
      r.lifecycle.map((a) =>
        h(
          'button',
          {
            type: 'button',
            'data-action': a,
            disabled: !!lifecycle,
            title: lifecycle ? 'A status change is waiting to be sent' : undefined,
            onclick: () => app.write(id, { kind: 'lifecycle', action: a, from: s.session.status }),
          },
          ACTION_TEXT[a],
        ),
      ),
    );
    hint.hidden = !r.lifecycleHint;
    hint.textContent = r.lifecycleHint ?? '';
    note.hidden = !r.writeNote;
    note.textContent = r.writeNote ?? '';
    note.classList.toggle('info', s.session.status === 'completed' || s.session.status === 'abandoned');
    const needsServer = !r.online || busy;
    const why = r.onlineNote ?? undefined;
    replace(
      tools,
      h('button', { type: 'button', 'data-action': 'export', disabled: needsServer, title: why ?? 'Download the whole session as JSON', onclick: exportIt }, 'Export'),
      h('button', { type: 'button', 'data-action': 'fork', disabled: needsServer, title: why ?? 'A copy of this session with its history, owned by you', onclick: forkIt }, 'Fork'),
      s.role === 'owner'
        ? confirmDelete
          ? h(
              'span',
              { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' },
              'Delete for good? Export first to keep a copy. ',
              h('button', { type: 'button', class: 'danger', 'data-action': 'delete-confirm', disabled: !r.delete || busy, onclick: () => deleteIt(s.session.name) }, 'Delete for good'),
              h('button', { type: 'button', onclick: () => ((confirmDelete = false), rerender()) }, 'Cancel'),
            )
          : h('button', { type: 'button', 'data-action': 'delete', disabled: !r.delete || busy, title: why, onclick: () => ((confirmDelete = true), rerender()) }, 'Delete…')
        : null,
    );
    toolNote.textContent = r.online ? '' : (r.onlineNote ?? '');
  }

  const el = h(
    'div',
    { class: 'session-head-wrap' },
    h('div', { class: 'session-head' }, h('a', { href: '#/', class: 'back' }, '← Sessions'), titleBox, status, pending, actions, tools),
    hint,
    toolNote,
    note,
  );
  return { el, render };
}
