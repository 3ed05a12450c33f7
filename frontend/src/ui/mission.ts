// The mission panel: hops and tool steps; add, rename, change status. Edits are
// JSON Patch operations on the revision shown; a stale revision (409) is
// re-planned on the fresh mission, and a real conflict (someone changed the
// same field) is shown to the user to keep theirs or discard.

import { ApiError } from '../api';
import { describeEdit, newItemId, planEdit, type MissionEdit } from '../state/mission';
import type { SessionState } from '../state/session';
import { MISSION_STATUSES, STEP_STATUSES, type Hop, type Mission, type ToolStep } from '../types';
import type { App } from './app';
import { h, labelled, replace } from './dom';

const MAX_ATTEMPTS = 4;

export function missionPanel(app: App, sessionId: string, state: () => SessionState | null) {
  const body = h('div', { class: 'mission-body', 'data-testid': 'mission' });
  const conflict = h('div', { class: 'conflict', role: 'alert', hidden: true, 'data-testid': 'conflict' });
  const el = h('section', { class: 'panel mission', 'aria-labelledby': 'mission-h' }, h('h3', { id: 'mission-h' }, 'Mission'), conflict, body);
  let shownKey = '';

  const writable = () => {
    const s = state();
    return !!s && !s.gone && (s.role === 'owner' || s.role === 'editor') && s.session.status !== 'archived';
  };

  function showConflict(edit: MissionEdit, reason: string) {
    conflict.hidden = false;
    replace(
      conflict,
      h('p', null, `Your edit (${describeEdit(edit)}) conflicted: ${reason}.`),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          {
            type: 'button',
            'data-testid': 'conflict-keep',
            onclick: () => {
              conflict.hidden = true;
              void submit(edit, true);
            },
          },
          'Retry with mine',
        ),
        h('button', { type: 'button', 'data-testid': 'conflict-discard', onclick: () => (conflict.hidden = true) }, 'Discard mine'),
      ),
    );
  }

  /** Sends an edit based on the revision shown; re-plans it on a fresh revision after a 409. */
  async function submit(edit: MissionEdit, force = false) {
    let mission: Mission | null = state()?.mission ?? null;
    for (let attempt = 1; mission && attempt <= MAX_ATTEMPTS; attempt++) {
      const plan = planEdit(mission, edit, force);
      if (!plan.ok) {
        if (plan.conflict) showConflict(edit, plan.reason);
        else app.toast(`Your edit (${describeEdit(edit)}) could not be applied: ${plan.reason}.`);
        return;
      }
      if (plan.ops.length === 0) return;
      try {
        await app.api.patchMission(sessionId, plan.ops, mission.revision);
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 'stale_revision')) {
          app.toast(err);
          return;
        }
        try {
          mission = await app.api.getMission(sessionId);
        } catch (e) {
          app.toast(e);
          return;
        }
      }
    }
    showConflict(edit, 'the mission kept changing');
  }

  const statusSelect = (label: string, value: string, values: readonly string[], focus: string, onchange: (v: string) => void) => {
    const sel = h(
      'select',
      { 'aria-label': label, 'data-focus': focus, disabled: !writable(), onchange: () => onchange(sel.value) },
      values.map((v) => h('option', { value: v, selected: v === value }, v.replace('_', ' '))),
    );
    return sel;
  };

  const nameInput = (label: string, value: string, focus: string, onrename: (to: string) => void) => {
    const input = h('input', { value, 'aria-label': label, 'data-focus': focus, disabled: !writable(), maxlength: 200 });
    const commit = () => {
      const to = input.value.trim();
      if (to && to !== value) onrename(to);
      else input.value = value;
    };
    input.addEventListener('change', commit);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        input.blur();
      } else if (e.key === 'Escape') input.value = value;
    });
    return input;
  };

  const addForm = (label: string, focus: string, onadd: (name: string) => void) => {
    const input = h('input', { 'aria-label': label, placeholder: label, 'data-focus': focus, maxlength: 200 });
    return h(
      'form',
      {
        class: 'row add',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const name = input.value.trim();
          if (!name) return;
          input.value = '';
          onadd(name);
        },
      },
      input,
      h('button', { type: 'submit', class: 'small', 'aria-label': label.replace(/^New /, 'Add ') }, 'Add'),
    );
  };

  const stepRow = (hop: Hop, step: ToolStep) =>
    h(
      'li',
      { class: 'step', 'data-step': step.id },
      nameInput(`Step name: ${step.name}`, step.name, `step-name-${step.id}`, (to) =>
        submit({ kind: 'renameStep', hopId: hop.id, stepId: step.id, from: step.name, to }),
      ),
      step.tool ? h('code', { class: 'tool' }, step.tool) : null,
      statusSelect(`Status of step ${step.name}`, step.status, STEP_STATUSES, `step-status-${step.id}`, (to) =>
        submit({ kind: 'stepStatus', hopId: hop.id, stepId: step.id, from: step.status, to: to as ToolStep['status'] }),
      ),
    );

  const hopItem = (hop: Hop, i: number) =>
    h(
      'li',
      { class: 'hop', 'data-hop': hop.id },
      h(
        'div',
        { class: 'hop-head' },
        h('span', { class: 'num', 'aria-hidden': 'true' }, `${i + 1}`),
        nameInput(`Hop name: ${hop.name}`, hop.name, `hop-name-${hop.id}`, (to) => submit({ kind: 'renameHop', hopId: hop.id, from: hop.name, to })),
        statusSelect(`Status of hop ${hop.name}`, hop.status, STEP_STATUSES, `hop-status-${hop.id}`, (to) =>
          submit({ kind: 'hopStatus', hopId: hop.id, from: hop.status, to: to as Hop['status'] }),
        ),
      ),
      h('ol', { class: 'steps', 'aria-label': `Steps of ${hop.name}` }, hop.steps.map((s) => stepRow(hop, s))),
      writable()
        ? addForm(`New step in ${hop.name}`, `add-step-${hop.id}`, (name) =>
            submit({ kind: 'addStep', hopId: hop.id, step: { id: newItemId('s'), name, tool: '', status: 'pending', inputs: null, outputs: null } }),
          )
        : null,
    );

  function noMission() {
    const title = h('input', { name: 'mission-title', required: true, placeholder: 'Plan the trip', maxlength: 200, 'data-focus': 'mission-title' });
    return [
      h('p', { class: 'empty' }, 'No mission yet.'),
      writable()
        ? h(
            'form',
            {
              class: 'row',
              onsubmit: async (e: Event) => {
                e.preventDefault();
                if (!title.value.trim()) return;
                try {
                  await app.api.createMission(sessionId, title.value.trim());
                } catch (err) {
                  app.toast(err);
                }
              },
            },
            labelled('mission-title', 'Mission title', title, true),
            h('button', { type: 'submit', class: 'small' }, 'Create mission'),
          )
        : null,
    ];
  }

  function render(s: SessionState) {
    const m = s.mission;
    const key = `${m?.id}:${m?.revision}:${writable()}`;
    if (key === shownKey) return;
    shownKey = key;
    if (!m) {
      replace(body, noMission());
      return;
    }
    replace(
      body,
      h(
        'div',
        { class: 'mission-head' },
        nameInput('Mission title', m.title, 'mission-title-edit', (to) => submit({ kind: 'retitle', from: m.title, to })),
        statusSelect('Mission status', m.status, MISSION_STATUSES, 'mission-status', (to) =>
          submit({ kind: 'missionStatus', from: m.status, to: to as Mission['status'] }),
        ),
        h('span', { class: 'meta', 'data-testid': 'revision' }, `rev ${m.revision}`),
      ),
      m.goal ? h('p', { class: 'goal' }, m.goal) : null,
      h('ol', { class: 'hops', 'aria-label': 'Hops' }, m.hops.map(hopItem)),
      writable()
        ? addForm('New hop name', 'add-hop', (name) => submit({ kind: 'addHop', hop: { id: newItemId('h'), name, status: 'pending', steps: [] } }))
        : null,
    );
  }

  return { el, render };
}
