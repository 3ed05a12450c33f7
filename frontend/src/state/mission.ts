// Mission edits as intents ("set step s1 of hop h1 to completed") turned into
// JSON Patch operations against a given revision of the mission. Hops and
// steps are addressed by id, so an intent can be re-applied on a newer
// revision after a `409 stale_revision`; it is a real conflict only when the
// other change touched the very field this edit changes.
// Pure: no DOM, no network.

import type { Hop, Mission, PatchOp, StepStatus, ToolStep } from '../types';

export type MissionEdit =
  | { kind: 'addHop'; hop: Hop }
  | { kind: 'renameHop'; hopId: string; from: string; to: string }
  | { kind: 'hopStatus'; hopId: string; from: StepStatus; to: StepStatus }
  | { kind: 'addStep'; hopId: string; step: ToolStep }
  | { kind: 'renameStep'; hopId: string; stepId: string; from: string; to: string }
  | { kind: 'stepStatus'; hopId: string; stepId: string; from: StepStatus; to: StepStatus }
  | { kind: 'missionStatus'; from: Mission['status']; to: Mission['status'] }
  | { kind: 'retitle'; from: string; to: string };

/** Why an edit cannot be applied to a revision as it is. */
export type Plan =
  | { ok: true; ops: PatchOp[] }
  /** Someone else changed the same field: the user decides. */
  | { ok: false; conflict: true; theirs: unknown; reason: string }
  /** The hop or step is gone. */
  | { ok: false; conflict: false; reason: string };

function hopIndex(m: Mission, hopId: string): number {
  return m.hops.findIndex((h) => h.id === hopId);
}

function stepIndex(hop: Hop, stepId: string): number {
  return hop.steps.findIndex((s) => s.id === stepId);
}

/**
 * The operations that make `edit` on `mission`. With `force` the edit is
 * applied even when the field no longer holds the value the user saw
 * ("keep mine" after a conflict).
 */
export function planEdit(mission: Mission, edit: MissionEdit, force = false): Plan {
  const field = (path: string, current: unknown, from: unknown, to: unknown, what: string): Plan => {
    if (current === to) return { ok: true, ops: [] };
    if (!force && current !== from) {
      return { ok: false, conflict: true, theirs: current, reason: `${what} was changed to "${String(current)}" meanwhile` };
    }
    return { ok: true, ops: [{ op: 'replace', path, value: to }] };
  };
  switch (edit.kind) {
    case 'addHop':
      if (hopIndex(mission, edit.hop.id) >= 0) return { ok: true, ops: [] };
      return { ok: true, ops: [{ op: 'add', path: '/hops/-', value: edit.hop }] };
    case 'retitle':
      return field('/title', mission.title, edit.from, edit.to, 'the title');
    case 'missionStatus':
      return field('/status', mission.status, edit.from, edit.to, 'the mission status');
    default:
      break;
  }
  const h = hopIndex(mission, edit.hopId);
  if (h < 0) return { ok: false, conflict: false, reason: 'the hop was removed meanwhile' };
  const hop = mission.hops[h];
  switch (edit.kind) {
    case 'renameHop':
      return field(`/hops/${h}/name`, hop.name, edit.from, edit.to, 'the hop name');
    case 'hopStatus':
      return field(`/hops/${h}/status`, hop.status, edit.from, edit.to, 'the hop status');
    case 'addStep':
      if (stepIndex(hop, edit.step.id) >= 0) return { ok: true, ops: [] };
      return { ok: true, ops: [{ op: 'add', path: `/hops/${h}/steps/-`, value: edit.step }] };
    default:
      break;
  }
  const s = stepIndex(hop, edit.stepId);
  if (s < 0) return { ok: false, conflict: false, reason: 'the step was removed meanwhile' };
  const step = hop.steps[s];
  switch (edit.kind) {
    case 'renameStep':
      return field(`/hops/${h}/steps/${s}/name`, step.name, edit.from, edit.to, 'the step name');
    case 'stepStatus':
      return field(`/hops/${h}/steps/${s}/status`, step.status, edit.from, edit.to, 'the step status');
  }
}

/** A short description of an edit, for messages to the user. */
export function describeEdit(edit: MissionEdit): string {
  switch (edit.kind) {
    case 'addHop':
      return `add hop "${edit.hop.name}"`;
    case 'renameHop':
      return `rename hop "${edit.from}" to "${edit.to}"`;
    case 'hopStatus':
      return `set the hop status to ${edit.to}`;
    case 'addStep':
      return `add step "${edit.step.name}"`;
    case 'renameStep':
      return `rename step "${edit.from}" to "${edit.to}"`;
    case 'stepStatus':
      return `set the step status to ${edit.to}`;
    case 'missionStatus':
      return `set the mission status to ${edit.to}`;
    case 'retitle':
      return `rename the mission to "${edit.to}"`;
  }
}

/** A short random id for new hops and steps. */
export function newItemId(prefix: string, random: () => number = Math.random): string {
  return `${prefix}-${Math.floor(random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0')}`;
}
