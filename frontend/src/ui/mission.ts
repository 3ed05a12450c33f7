// The mission panel: title, goal and status; hops (rename, reorder, delete;
// their status rolls up from their steps) and tool steps (name, tool, status,
// inputs and outputs as JSON; reorder, delete). Every edit is an intent put in
// the outbox (state/mission.ts plans it on the current revision), so edits
// made offline show at once as pending and are sent on reconnect; a conflict
// (someone changed the very same field) is shown with "Retry with mine" or
// "Discard mine". Who is editing which field is shown live.

import { editTarget, formatJsonField, newItemId, parseJsonField, projectMission, describeEdit, sameValue, type MissionEdit } from '../state/mission';
import type { OutboxItem } from '../state/outbox';
import { editingText, type Editing } from '../state/presence';
import type { Rights } from '../state/rights';
import { hopStatusIsRolledUp } from '../state/rollup';
import type { SessionState } from '../state/session';
import { MISSION_STATUSES, STEP_STATUSES, type Hop, type Mission, type ToolStep } from '../types';
import { h, labelled, replace } from './dom';
import type { SessionContext } from './session';

/** Refresh the "I am editing" signal this often (markers expire after ~10 s). */
const EDITING_REFRESH_MS = 4000;

const missionEdits = (items: OutboxItem[]) =>
  items.flatMap((i) => (i.op.kind === 'mission' && !i.error && !i.conflict ? [i.op.edit] : []));

export function missionPanel({ app, id, sub }: SessionContext, editing: Editing) {
  const me = app.auth.user;
  const body = h('div', { class: 'mission-body', 'data-testid': 'mission' });
  const conflicts = h('div', { class: 'conflicts' });
  const el = h('section', { class: 'panel mission', 'aria-labelledby': 'mission-h' }, h('h3', { id: 'mission-h' }, 'Mission'), conflicts, body);
  let shownKey = '';
  /** The value each field had when the user started editing it (the base of their edit). */
  const bases = new Map<string, unknown>();
  /** Text of JSON fields that does not parse yet (kept across re-renders). */
  const drafts = new Map<string, string>();
  const jsonErrors = new Map<string, string>();
  /** Steps whose details are open. */
  const opened = new Set<string>();
  let editingPath: string | null = null;
  let editingSentAt = 0;

  const write = (edit: MissionEdit) => app.write(id, { kind: 'mission', edit });

  // ---- who is editing: tell the others, show theirs ----
  function setEditing(path: string | null) {
    const now = Date.now();
    if (path === editingPath && (path === null || now - editingSentAt < EDITING_REFRESH_MS)) return;
    editingPath = path;
    editingSentAt = now;
    sub()?.editing(path);
  }
  body.addEventListener('focusin', (e) => {
    const field = (e.target as HTMLElement).closest<HTMLElement>('[data-path]');
    setEditing(field?.dataset.path ?? null);
  });
  body.addEventListener('focusout', () => {
    // Focus moving to another field (or a re-render restoring it) is not "stopped editing".
    setTimeout(() => {
      const active = document.activeElement as HTMLElement | null;
      if (!active || !body.contains(active) || !active.closest('[data-path]')) setEditing(null);
    }, 0);
  });

  function renderEditing() {
    if (editingPath) setEditing(editingPath); // refreshes when due
    const active = editing.active(Date.now(), me);
    for (const wrap of body.querySelectorAll<HTMLElement>('[data-path]')) {
      const users = active.get(wrap.dataset.path!) ?? [];
      wrap.classList.toggle('being-edited', users.length > 0);
      const marker = wrap.querySelector<HTMLElement>(':scope > .editing-marker');
      if (marker) marker.textContent = editingText(users);
    }
  }

  // ---- fields ----
  /** A field: the control inside a wrapper that carries its JSON pointer and the editing marker. */
  const wrapField = (path: string, control: HTMLElement, pending = false) =>
    h('div', { class: `field-wrap${pending ? ' pending' : ''}`, 'data-path': path }, control, h('span', { class: 'editing-marker', 'aria-live': 'polite' }));

  /** Remembers what the field held when the user started editing it. */
  const trackBase = (control: HTMLInputElement | HTMLTextAreaElement, key: string, value: unknown) => {
    control.addEventListener('focus', () => {
      if (!bases.has(key)) bases.set(key, value);
    });
  };

  const textInput = (label: string, value: string, key: string, writable: boolean, onCommit: (from: string, to: string) => void, opts: { allowEmpty?: boolean } = {}) => {
    const input = h('input', { value, 'aria-label': label, 'data-focus': key, disabled: !writable, maxlength: 200 });
    trackBase(input, key, value);
    const commit = () => {
      if (!input.isConnected) return; // replaced by a re-render, not left by the user
      const from = (bases.get(key) as string | undefined) ?? value;
      bases.delete(key);
      const to = input.value.trim();
      if ((to || opts.allowEmpty) && to !== from) onCommit(from, to);
      else input.value = value;
    };
    input.addEventListener('blur', commit);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        input.blur();
      } else if (e.key === 'Escape') {
        bases.delete(key);
        input.value = value;
        input.blur();
      }
    });
    return input;
  };

  const select = (label: string, value: string, values: readonly string[], key: string, disabled: boolean, onchange: (v: string) => void, title?: string) => {
    const sel = h(
      'select',
      { 'aria-label': label, 'data-focus': key, disabled, title, onchange: () => onchange(sel.value) },
      values.map((v) => h('option', { value: v, selected: v === value }, v.replace('_', ' '))),
    );
    return sel;
  };

  const jsonField = (label: string, value: unknown, key: string, writable: boolean, onCommit: (from: unknown, to: unknown) => void) => {
    const area = h('textarea', { rows: 3, 'aria-label': label, 'data-focus': key, disabled: !writable, spellcheck: 'false', placeholder: 'JSON, e.g. {"q": "flights"}' });
    area.value = drafts.get(key) ?? formatJsonField(value);
    trackBase(area, key, value);
    const problem = h('span', { class: 'error' }, jsonErrors.get(key) ?? '');
    area.addEventListener('blur', () => {
      if (!area.isConnected) return;
      const parsed = parseJsonField(area.value);
      if (!parsed.ok) {
        drafts.set(key, area.value);
        jsonErrors.set(key, parsed.error);
        problem.textContent = parsed.error;
        return;
      }
      drafts.delete(key);
      jsonErrors.delete(key);
      problem.textContent = '';
      const from = bases.has(key) ? bases.get(key) : value;
      bases.delete(key);
      if (!sameValue(from, parsed.value)) onCommit(from, parsed.value);
    });
    return h('div', { class: 'field json' }, h('label', null, label), area, problem);
  };

  const addForm = (label: string, key: string, writable: boolean, onadd: (name: string, tool: string) => void, withTool = false) => {
    const input = h('input', { 'aria-label': label, placeholder: label, 'data-focus': key, maxlength: 200, disabled: !writable });
    const tool = withTool ? h('input', { 'aria-label': `Tool of the ${label.replace(/^New (\w+) in (.*)$/, 'new $1 ($2)')}`, placeholder: 'tool (e.g. web.search)', 'data-focus': `${key}-tool`, maxlength: 200, disabled: !writable, class: 'tool-input' }) : null;
    return h(
      'form',
      {
        class: 'row add',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const name = input.value.trim();
          if (!name) return;
          input.value = '';
          const t = tool?.value.trim() ?? '';
          if (tool) tool.value = '';
          onadd(name, t);
          input.focus();
        },
      },
      input,
      tool,
      h('button', { type: 'submit', class: 'small', 'aria-label': label.replace(/^New /, 'Add '), disabled: !writable }, 'Add'),
    );
  };

  const moveButtons = (what: string, index: number, count: number, writable: boolean, move: (to: number) => void) => [
    h('button', { type: 'button', class: 'icon', 'aria-label': `Move ${what} up`, disabled: !writable || index === 0, onclick: () => move(index - 1) }, '↑'),
    h('button', { type: 'button', class: 'icon', 'aria-label': `Move ${what} down`, disabled: !writable || index === count - 1, onclick: () => move(index + 1) }, '↓'),
  ];

  // ---- hops and steps ----
  function stepRow(hop: Hop, h_: number, step: ToolStep, s_: number, w: boolean, pending: Set<string>) {
    const at = `/hops/${h_}/steps/${s_}`;
    const isPending = pending.has(step.id);
    const details = h(
      'details',
      {
        class: 'step-details',
        open: opened.has(step.id),
        ontoggle: (e: Event) => ((e.target as HTMLDetailsElement).open ? opened.add(step.id) : opened.delete(step.id)),
      },
      h(
        'summary',
        { title: 'Tool, inputs and outputs' },
        step.tool ? h('code', { class: 'tool' }, step.tool) : h('span', { class: 'meta' }, 'no tool'),
        ' · inputs, outputs',
      ),
      wrapField(
        `${at}/tool`,
        labelled(
          `tool-${step.id}`,
          'Tool',
          textInput(`Tool of step ${step.name}`, step.tool ?? '', `step-tool-${step.id}`, w, (from, to) => write({ kind: 'stepTool', hopId: hop.id, stepId: step.id, from, to }), { allowEmpty: true }),
        ),
      ),
      wrapField(
        `${at}/inputs`,
        jsonField(`Inputs of step ${step.name}`, step.inputs ?? null, `step-inputs-${step.id}`, w, (from, to) => write({ kind: 'stepInputs', hopId: hop.id, stepId: step.id, from, to })),
      ),
      wrapField(
        `${at}/outputs`,
        jsonField(`Outputs of step ${step.name}`, step.outputs ?? null, `step-outputs-${step.id}`, w, (from, to) => write({ kind: 'stepOutputs', hopId: hop.id, stepId: step.id, from, to })),
      ),
    );
    return h(
      'li',
      { class: `step status-${step.status}${isPending ? ' pending' : ''}`, 'data-step': step.id },
      h(
        'div',
        { class: 'step-line' },
        wrapField(
          `${at}/name`,
          textInput(`Step name: ${step.name}`, step.name, `step-name-${step.id}`, w, (from, to) => write({ kind: 'renameStep', hopId: hop.id, stepId: step.id, from, to })),
        ),
        wrapField(
          `${at}/status`,
          select(`Status of step ${step.name}`, step.status, STEP_STATUSES, `step-status-${step.id}`, !w, (to) =>
            write({ kind: 'stepStatus', hopId: hop.id, stepId: step.id, from: step.status, to: to as ToolStep['status'] }),
          ),
        ),
        h(
          'span',
          { class: 'item-tools' },
          moveButtons(`step ${step.name}`, s_, hop.steps.length, w, (to) => write({ kind: 'moveStep', hopId: hop.id, stepId: step.id, name: step.name, from: s_, to })),
          h('button', { type: 'button', class: 'icon', 'aria-label': `Delete step ${step.name}`, disabled: !w, onclick: () => write({ kind: 'removeStep', hopId: hop.id, stepId: step.id, name: step.name }) }, '✕'),
        ),
        isPending ? h('span', { class: 'meta pending-note' }, 'pending') : null,
      ),
      details,
    );
  }

  function hopItem(m: Mission, hop: Hop, i: number, w: boolean, pending: Set<string>) {
    const rolled = hopStatusIsRolledUp(hop);
    return h(
      'li',
      { class: `hop status-${hop.status}${pending.has(hop.id) ? ' pending' : ''}`, 'data-hop': hop.id },
      h(
        'div',
        { class: 'hop-head' },
        h('span', { class: 'num', 'aria-hidden': 'true' }, `${i + 1}`),
        wrapField(`/hops/${i}/name`, textInput(`Hop name: ${hop.name}`, hop.name, `hop-name-${hop.id}`, w, (from, to) => write({ kind: 'renameHop', hopId: hop.id, from, to }))),
        wrapField(
          `/hops/${i}/status`,
          select(
            `Status of hop ${hop.name}`,
            hop.status,
            STEP_STATUSES,
            `hop-status-${hop.id}`,
            !w || rolled,
            (to) => write({ kind: 'hopStatus', hopId: hop.id, from: hop.status, to: to as Hop['status'] }),
            rolled ? 'Rolled up from its steps' : undefined,
          ),
        ),
        h(
          'span',
          { class: 'item-tools' },
          moveButtons(`hop ${hop.name}`, i, m.hops.length, w, (to) => write({ kind: 'moveHop', hopId: hop.id, name: hop.name, from: i, to })),
          h('button', { type: 'button', class: 'icon', 'aria-label': `Delete hop ${hop.name}`, disabled: !w, onclick: () => write({ kind: 'removeHop', hopId: hop.id, name: hop.name }) }, '✕'),
        ),
      ),
      rolled ? h('p', { class: 'meta rolled' }, `Status from its ${hop.steps.length} step${hop.steps.length === 1 ? '' : 's'}`) : null,
      h('ol', { class: 'steps', 'aria-label': `Steps of ${hop.name}` }, hop.steps.map((s, j) => stepRow(hop, i, s, j, w, pending))),
      w
        ? addForm(
            `New step in ${hop.name}`,
            `add-step-${hop.id}`,
            w,
            (name, tool) => write({ kind: 'addStep', hopId: hop.id, step: { id: newItemId('s'), name, tool, status: 'pending', inputs: null, outputs: null } }),
            true,
          )
        : null,
    );
  }

  function noMission(r: Rights) {
    const title = h('input', { name: 'mission-title', required: true, placeholder: 'Plan the trip', maxlength: 200, 'data-focus': 'mission-title', disabled: !r.online });
    const goal = h('input', { name: 'mission-goal', placeholder: 'Goal (optional)', maxlength: 2000, 'data-focus': 'mission-goal', disabled: !r.online });
    return [
      h('p', { class: 'empty' }, 'No mission yet.'),
      r.write
        ? h(
            'form',
            {
              class: 'stack',
              onsubmit: async (e: Event) => {
                e.preventDefault();
                if (!title.value.trim()) return;
                try {
                  await app.api.createMission(id, title.value.trim(), goal.value.trim());
                } catch (err) {
                  app.toast(err);
                }
              },
            },
            labelled('mission-title', 'Mission title', title, true),
            labelled('mission-goal', 'Mission goal', goal, true),
            h('button', { type: 'submit', class: 'small', disabled: !r.online, title: r.onlineNote ?? undefined }, 'Create mission'),
            r.online ? null : h('span', { class: 'hint' }, r.onlineNote),
          )
        : null,
    ];
  }

  // ---- conflicts ----
  function renderConflicts(items: OutboxItem[]) {
    const stuck = items.filter((i) => i.op.kind === 'mission' && (i.conflict || i.error));
    conflicts.hidden = stuck.length === 0;
    replace(
      conflicts,
      stuck.map((i) => {
        const edit = i.op.kind === 'mission' ? i.op.edit : null;
        if (!edit) return null;
        return h(
          'div',
          { class: 'conflict', role: 'alert', 'data-testid': 'conflict', 'data-key': i.key },
          h('p', null, i.conflict ? `Your edit (${describeEdit(edit)}) conflicted: ${i.conflict}.` : `Your edit was not applied: ${i.error}.`),
          h(
            'div',
            { class: 'row' },
            i.conflict
              ? h(
                  'button',
                  {
                    type: 'button',
                    'data-testid': 'conflict-keep',
                    onclick: () => {
                      app.outbox.retry(i.key, { kind: 'mission', edit, force: true });
                      void app.flushOutbox();
                    },
                  },
                  'Retry with mine',
                )
              : null,
            h('button', { type: 'button', 'data-testid': 'conflict-discard', onclick: () => app.outbox.discard(i.key) }, i.conflict ? 'Discard mine' : 'Dismiss'),
          ),
        );
      }),
    );
  }

  function render(s: SessionState, r: Rights) {
    const items = app.outbox.pending(id).filter((i) => i.op.kind === 'mission');
    const edits = missionEdits(items);
    const key = JSON.stringify([s.mission?.id, s.mission?.revision, r.write, r.online, items.map((i) => [i.key, i.error, i.conflict])]);
    if (key === shownKey) return;
    shownKey = key;
    renderConflicts(items);
    if (!s.mission) {
      replace(body, noMission(r));
      return;
    }
    const m = projectMission(s.mission, edits);
    const pending = new Set<string>();
    for (const e of edits) {
      const t = editTarget(e);
      if (t.stepId) pending.add(t.stepId);
      else if (t.hopId) pending.add(t.hopId);
      else pending.add('mission');
    }
    const w = r.write;
    const goal = h('textarea', { rows: 2, 'aria-label': 'Mission goal', 'data-focus': 'mission-goal-edit', disabled: !w, maxlength: 2000, placeholder: w ? 'What is this mission for?' : '' });
    goal.value = m.goal ?? '';
    trackBase(goal, 'mission-goal-edit', m.goal ?? '');
    goal.addEventListener('blur', () => {
      if (!goal.isConnected) return;
      const from = (bases.get('mission-goal-edit') as string | undefined) ?? m.goal ?? '';
      bases.delete('mission-goal-edit');
      const to = goal.value.trim();
      if (to !== from) write({ kind: 'setGoal', from, to });
    });
    replace(
      body,
      h(
        'div',
        { class: `mission-head${pending.has('mission') ? ' pending' : ''}` },
        wrapField('/title', textInput('Mission title', m.title, 'mission-title-edit', w, (from, to) => write({ kind: 'retitle', from, to }))),
        wrapField(
          '/status',
          select('Mission status', m.status, MISSION_STATUSES, 'mission-status', !w, (to) => write({ kind: 'missionStatus', from: m.status, to: to as Mission['status'] })),
        ),
        h('span', { class: 'meta', 'data-testid': 'revision' }, `rev ${s.mission.revision}`),
        edits.length ? h('span', { class: 'meta pending-note', 'data-testid': 'mission-pending' }, `${edits.length} pending`) : null,
      ),
      wrapField('/goal', labelled('mission-goal-edit', 'Goal', goal)),
      h('ol', { class: 'hops', 'aria-label': 'Hops' }, m.hops.map((hop, i) => hopItem(m, hop, i, w, pending))),
      m.hops.length === 0 ? h('p', { class: 'empty' }, 'No hops yet.') : null,
      w ? addForm('New hop name', 'add-hop', w, (name) => write({ kind: 'addHop', hop: { id: newItemId('h'), name, status: 'pending', steps: [] } })) : null,
    );
    renderEditing();
  }

  return {
    el,
    render,
    renderEditing,
    dispose() {
      if (editingPath) sub()?.editing(null);
    },
  };
}
