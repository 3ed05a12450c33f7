// Hop status roll-up: a hop with steps takes its status from them, exactly as
// the server computes it whenever a mission is created or patched (and on
// replay). A client that applies a `mission.updated` patch locally applies the
// same roll-up afterwards, so it shows what the server stores. Pure.

import type { Hop, Mission, StepStatus } from '../types';

/**
 * The status a hop gets from its steps: `failed` if any step failed; else
 * `completed` if every step is completed or skipped and at least one is
 * completed; else `skipped` if every step is skipped; else `running` if any
 * step is running or completed; else `pending`. A hop without steps keeps
 * `own`.
 */
export function hopStatusFromSteps(steps: { status: StepStatus }[], own: StepStatus): StepStatus {
  if (steps.length === 0) return own;
  const has = (s: StepStatus) => steps.some((x) => x.status === s);
  const every = (...ss: StepStatus[]) => steps.every((x) => ss.includes(x.status));
  if (has('failed')) return 'failed';
  if (every('completed', 'skipped') && has('completed')) return 'completed';
  if (every('skipped')) return 'skipped';
  if (has('running') || has('completed')) return 'running';
  return 'pending';
}

/** Whether a hop's status is computed from its steps (and so not edited by hand). */
export function hopStatusIsRolledUp(hop: Hop): boolean {
  return hop.steps.length > 0;
}

/** The mission with every hop's status rolled up (the same object when nothing changes). */
export function rollUp(mission: Mission): Mission {
  let changed = false;
  const hops = mission.hops.map((hop) => {
    const status = hopStatusFromSteps(hop.steps ?? [], hop.status);
    if (status === hop.status) return hop;
    changed = true;
    return { ...hop, status };
  });
  return changed ? { ...mission, hops } : mission;
}
