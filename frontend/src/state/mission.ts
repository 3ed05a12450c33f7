// Mission edits as intents ("set step s1 of hop h1 to completed") turned into
// JSON Patch operations against a given revision of the mission. Hops and
// steps are addressed by id, so an intent can be re-applied on a newer
// revision after a `409 stale_revision` (or replayed from the outbox after a
// reconnect); it is a real conflict only when the other change touched the
// very field this edit changes. Replaying an intent that already took effect
// plans no operation, so a retried edit is applied once.
// Pure: no DOM, no network.

import type { Hop, Mission, PatchOp, StepStatus, ToolStep } from '../types';
import { applyPatch, PatchError } from './jsonpatch';
import { rollUp } from './rollup';

type StepRef = { hopId: string; stepId: string };

export type MissionEdit =
  | { kind: 'addHop'; hop: Hop }
  | { kind: 'renameHop'; hopId: string; from: string; to: string }
  | { kind: 'hopStatus'; hopId: string; from: StepStatus; to: StepStatus }
  | { kind: 'removeHop'; hopId: string; name: string }
  | { kind: 'moveHop'; hopId: string; name: string; from: number; to: number }
  | { kind: 'addStep'; hopId: string; step: ToolStep }
  | ({ kind: 'renameStep'; from: string; to: string } & StepRef)
  | ({ kind: 'stepStatus'; from: StepStatus; to: StepStatus } & StepRef)
  | ({ kind: 'stepTool'; from: string; to: string } & StepRef)
  | ({ kind: 'stepInputs'; from: unknown; to: unknown } & StepRef)
  | ({ kind: 'stepOutputs'; from: unknown; to: unknown } & StepRef)
  | ({ kind: 'removeStep'; name: string } & StepRef)
  | ({ kind: 'moveStep'; name: string; from: number; to: number } & StepRef)
  | { kind: 'missionStatus'; from: Mission['status']; to: Mission['status'] }
  | { kind: 'retitle'; from: string; to: string }
  | { kind: 'setGoal'; from: string; to: string };

/** Why an edit cannot be applied to a revision as it is. */
export type Plan =
  | { ok: true; ops: PatchOp[] }
  /** Someone else changed the same field: the user decides. */
  | { ok: false; conflict: true; theirs: unknown; reason: string }
  /** The hop or step is gone. */
  | { ok: false; conflict: false; reason: string };

/** JSON text with object keys sorted: equal values give equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

export const sameValue = (a: unknown, b: unknown): boolean => canonical(a ?? null) === canonical(b ?? null);

function hopIndex(m: Mission, hopId: string): number {
  return m.hops.findIndex((h) => h.id === hopId);
}

function stepIndex(hop: Hop, stepId: string): number {
  return hop.steps.findIndex((s) => s.id === stepId);
}

const shown = (v: unknown) => (typeof v === 'string' ? `"${v}"` : canonical(v ?? null));

/**
 * The operations that make `edit` on `mission`. With `force` the edit is
 * applied even when the field no longer holds the value the user saw
 * ("keep mine" after a conflict).
 */
export function planEdit(mission: Mission, edit: MissionEdit, force = false): Plan {
  const field = (path: string, current: unknown, from: unknown, to: unknown, what: string): Plan => {
    if (sameValue(current, to)) return { ok: true, ops: [] };
    if (!force && !sameValue(current, from)) {
      return { ok: false, conflict: true, theirs: current, reason: `${what} was changed to ${shown(current)} meanwhile` };
    }
    return { ok: true, ops: [{ op: 'replace', path, value: to }] };
  };
  const move = (base: string, cur: number, from: number, to: number, len: number, what: string): Plan => {
    const target = Math.max(0, Math.min(to, len - 1));
    if (cur === target) return { ok: true, ops: [] };
    if (!force && cur !== from) return { ok: false, conflict: true, theirs: cur, reason: `${what} was moved meanwhile` };
    return { ok: true, ops: [{ op: 'move', from: `${base}/${cur}`, path: `${base}/${target}` }] };
  };
  switch (edit.kind) {
    case 'addHop':
      if (hopIndex(mission, edit.hop.id) >= 0) return { ok: true, ops: [] };
      return { ok: true, ops: [{ op: 'add', path: '/hops/-', value: edit.hop }] };
    case 'retitle':
      return field('/title', mission.title, edit.from, edit.to, 'the title');
    case 'setGoal':
      return field('/goal', mission.goal ?? '', edit.from, edit.to, 'the goal');
    case 'missionStatus':
      return field('/status', mission.status, edit.from, edit.to, 'the mission status');
    default:
      break;
  }
  const h = hopIndex(mission, edit.hopId);
  if (h < 0) {
    // Removing what is already gone is done; anything else has lost its target.
    if (edit.kind === 'removeHop' || edit.kind === 'removeStep') return { ok: true, ops: [] };
    return { ok: false, conflict: false, reason: 'the hop was removed meanwhile' };
  }
  const hop = mission.hops[h];
  switch (edit.kind) {
    case 'renameHop':
      return field(`/hops/${h}/name`, hop.name, edit.from, edit.to, 'the hop name');
    case 'hopStatus':
      return field(`/hops/${h}/status`, hop.status, edit.from, edit.to, 'the hop status');
    case 'removeHop':
      return { ok: true, ops: [{ op: 'remove', path: `/hops/${h}` }] };
    case 'moveHop':
      return move('/hops', h, edit.from, edit.to, mission.hops.length, `hop "${hop.name}"`);
    case 'addStep':
      if (stepIndex(hop, edit.step.id) >= 0) return { ok: true, ops: [] };
      return { ok: true, ops: [{ op: 'add', path: `/hops/${h}/steps/-`, value: edit.step }] };
    default:
      break;
  }
  const s = stepIndex(hop, edit.stepId);
  if (s < 0) {
    if (edit.kind === 'removeStep') return { ok: true, ops: [] };
    return { ok: false, conflict: false, reason: 'the step was removed meanwhile' };
  }
  const step = hop.steps[s];
  const at = `/hops/${h}/steps/${s}`;
  switch (edit.kind) {
    case 'renameStep':
      return field(`${at}/name`, step.name, edit.from, edit.to, 'the step name');
    case 'stepStatus':
      return field(`${at}/status`, step.status, edit.from, edit.to, 'the step status');
    case 'stepTool':
      return field(`${at}/tool`, step.tool ?? '', edit.from, edit.to, 'the step tool');
    case 'stepInputs':
      return field(`${at}/inputs`, step.inputs ?? null, edit.from, edit.to, 'the step inputs');
    case 'stepOutputs':
      return field(`${at}/outputs`, step.outputs ?? null, edit.from, edit.to, 'the step outputs');
    case 'removeStep':
      return { ok: true, ops: [{ op: 'remove', path: at }] };
    case 'moveStep':
      return move(`/hops/${h}/steps`, s, edit.from, edit.to, hop.steps.length, `step "${step.name}"`);
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
    case 'removeHop':
      return `delete hop "${edit.name}"`;
    case 'moveHop':
      return `move hop "${edit.name}" to position ${edit.to + 1}`;
    case 'addStep':
      return `add step "${edit.step.name}"`;
    case 'renameStep':
      return `rename step "${edit.from}" to "${edit.to}"`;
    case 'stepStatus':
      return `set the step status to ${edit.to}`;
    case 'stepTool':
      return `set the step tool to "${edit.to}"`;
    case 'stepInputs':
      return 'change the step inputs';
    case 'stepOutputs':
      return 'change the step outputs';
    case 'removeStep':
      return `delete step "${edit.name}"`;
    case 'moveStep':
      return `move step "${edit.name}" to position ${edit.to + 1}`;
    case 'missionStatus':
      return `set the mission status to ${edit.to}`;
    case 'retitle':
      return `rename the mission to "${edit.to}"`;
    case 'setGoal':
      return 'change the goal';
  }
}

/** What an edit touches: a hop, a step, or the mission itself. */
export function editTarget(edit: MissionEdit): { hopId?: string; stepId?: string } {
  if (edit.kind === 'addHop') return { hopId: edit.hop.id };
  if (edit.kind === 'addStep') return { hopId: edit.hopId, stepId: edit.step.id };
  if ('stepId' in edit) return { hopId: edit.hopId, stepId: edit.stepId };
  if ('hopId' in edit) return { hopId: edit.hopId };
  return {};
}

/**
 * The mission as the user will see it once their pending edits are applied
 * (oldest first), with hop statuses rolled up. Edits that no longer apply are
 * left out; they surface as conflicts when the outbox replays them.
 */
export function projectMission(mission: Mission, edits: MissionEdit[]): Mission {
  let m = mission;
  for (const edit of edits) {
    const plan = planEdit(m, edit);
    if (!plan.ok || plan.ops.length === 0) continue;
    try {
      m = applyPatch(m, plan.ops);
    } catch (err) {
      if (!(err instanceof PatchError)) throw err;
    }
  }
  return rollUp(m);
}

/** A short random id for new hops and steps. */
export function newItemId(prefix: string, random: () => number = Math.random): string {
  return `${prefix}-${Math.floor(random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0')}`;
}

/** Parses what the user typed in a JSON field (inputs, outputs); empty means null. */
export function parseJsonField(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const t = text.trim();
  if (t === '') return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(t) };
  } catch (err) {
    return { ok: false, error: `not valid JSON: ${(err as Error).message}` };
  }
}

/** A JSON value as the user edits it: pretty, and empty for null. */
export function formatJsonField(value: unknown): string {
  return value === null || value === undefined ? '' : JSON.stringify(value, null, 2);
}
