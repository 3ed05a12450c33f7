// The activity panel's model: the session's events (paged back through
// `GET /api/sessions/{id}/events`, then live from `session:<id>`) told in
// words a person reads ("bob renamed step "Search" to "Find flights"").
// Patches address hops and steps by index, so naming them needs the mission
// as it was just before the event: the log replays what it holds from the
// last full mission it knows (a `mission.linked`/`session.imported`/
// `session.forked` event, or the snapshot at its offset); where it knows none
// it says "step 2 of hop 1". Pure: no DOM, no network.

import type { Asset, Mission, PatchOp, SessionEvent, SessionStatus } from '../types';
import { applyPatch, PatchError } from './jsonpatch';
import { rollUp } from './rollup';

export interface ActivityLine {
  offset: number;
  at: string;
  actor: string;
  type: string;
  /** The sentence, starting with the actor ("bob renamed …"). */
  text: string;
  /** "imported — originally by carol", when the event came with an import. */
  note?: string;
}

const trim = (s: string, n = 60) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const q = (s: unknown) => `"${trim(String(s ?? ''))}"`;

function who(actor: string): string {
  return actor === 'system' ? 'Tandem' : actor;
}

function statusSentence(from: SessionStatus, to: SessionStatus): string {
  if (to === 'completed') return 'completed the session';
  if (to === 'archived') return 'archived the session';
  if (to === 'abandoned') return 'marked the session abandoned (idle)';
  if (to === 'active' && from === 'archived') return 'restored the session';
  if (to === 'active' && from === 'abandoned') return 'reopened the session';
  return `changed the session from ${from} to ${to}`;
}

const FIELD_WORDS: Record<string, string> = {
  name: 'renamed',
  status: 'set',
  tool: 'set the tool of',
  inputs: 'changed the inputs of',
  outputs: 'changed the outputs of',
};

/** Names a hop/step by index in `mission` (as it was before the op), or by position. */
function hopName(m: Mission | null, h: number): string {
  const hop = m?.hops[h];
  return hop ? `hop ${q(hop.name)}` : `hop ${h + 1}`;
}

function stepName(m: Mission | null, h: number, s: number): string {
  const step = m?.hops[h]?.steps?.[s];
  return step ? `step ${q(step.name)}` : `step ${s + 1} of hop ${h + 1}`;
}

/** One JSON Patch operation of a `mission.updated` event, in words (no actor). */
export function describeOp(op: PatchOp, before: Mission | null): string {
  const parts = op.path.split('/').slice(1);
  const value = 'value' in op ? op.value : undefined;
  const [top, hs, sub, ss, field] = parts;
  const h = Number(hs);
  const s = Number(ss);
  if (parts.length === 1) {
    if (top === 'title') return `renamed the mission to ${q(value)}`;
    if (top === 'goal') return value ? `set the goal to ${q(value)}` : 'cleared the goal';
    if (top === 'status') return `set the mission status to ${String(value).replace('_', ' ')}`;
    return `changed the mission's ${top}`;
  }
  if (top !== 'hops') return `changed ${op.path}`;
  if (op.op === 'move') {
    const from = op.from.split('/').slice(1);
    const to = Number(parts[parts.length - 1]) + 1;
    if (from.length === 2) return `moved ${hopName(before, Number(from[1]))} to position ${to}`;
    return `moved ${stepName(before, Number(from[1]), Number(from[3]))} to position ${to}`;
  }
  if (parts.length === 2) {
    if (op.op === 'add') return `added hop ${q((value as { name?: string })?.name)}`;
    if (op.op === 'remove') return `deleted ${hopName(before, h)}`;
    return `replaced ${hopName(before, h)}`;
  }
  if (sub !== 'steps') {
    if (sub === 'name') return `renamed ${hopName(before, h)} to ${q(value)}`;
    if (sub === 'status') return `set ${hopName(before, h)} to ${value}`;
    return `changed the ${sub} of ${hopName(before, h)}`;
  }
  if (parts.length === 4) {
    if (op.op === 'add') return `added step ${q((value as { name?: string })?.name)} to ${hopName(before, h)}`;
    if (op.op === 'remove') return `deleted ${stepName(before, h, s)}`;
    return `replaced ${stepName(before, h, s)}`;
  }
  const words = FIELD_WORDS[field] ?? `changed the ${field} of`;
  if (field === 'name') return `${words} ${stepName(before, h, s)} to ${q(value)}`;
  if (field === 'status') return `${words} ${stepName(before, h, s)} to ${value}`;
  if (field === 'tool') return `${words} ${stepName(before, h, s)} to ${q(value)}`;
  return `${words} ${stepName(before, h, s)}`;
}

function scopeText(asset: Asset, mission: Mission | null): string {
  if (asset.scope?.kind === 'mission') return ' to the mission';
  if (asset.scope?.kind === 'hop') {
    const hopId = asset.scope.hop_id;
    const hop = mission?.hops.find((x) => x.id === hopId);
    return ` to hop ${hop ? q(hop.name) : hopId}`;
  }
  return '';
}

interface Known {
  mission: Mission | null;
  assets: Map<string, string>;
}

/** One event in words, given what was known just before it. */
export function describeEvent(e: SessionEvent, known: Known): ActivityLine {
  const d = e.data ?? {};
  let text: string;
  switch (e.type) {
    case 'session.created':
      text = `created the session ${q(d.session?.name)}`;
      break;
    case 'session.updated':
      text =
        typeof d.name === 'string'
          ? `renamed the session to ${q(d.name)}`
          : 'changed the session details';
      break;
    case 'session.status_changed':
      text = statusSentence(d.from, d.to);
      break;
    case 'session.imported':
      text = 'imported this session from an export';
      break;
    case 'session.forked':
      text = `forked this session from another one at event ${d.from?.offset ?? '?'}`;
      break;
    case 'session.deleted':
      text = 'deleted the session';
      break;
    case 'collaborator.added':
      text = `shared the session with ${d.collaborator?.user_id} as ${d.collaborator?.role}`;
      break;
    case 'collaborator.updated':
      text = `made ${d.collaborator?.user_id} ${d.collaborator?.role === 'editor' ? 'an editor' : `a ${d.collaborator?.role}`}`;
      break;
    case 'collaborator.removed':
      text = `removed ${d.user_id} from the session`;
      break;
    case 'chat.message': {
      const role = d.message?.role && d.message.role !== 'user' ? ` (as ${d.message.role})` : '';
      text = `wrote${role}: ${q(d.message?.content)}`;
      break;
    }
    case 'mission.linked':
      text = `attached the mission ${q(d.mission?.title)}`;
      break;
    case 'mission.updated': {
      const ops: PatchOp[] = Array.isArray(d.patch) ? d.patch : [];
      // Each op is named against the mission as the previous ops left it.
      let m = known.mission;
      const parts: string[] = [];
      for (const op of ops) {
        parts.push(describeOp(op, m));
        if (m) {
          try {
            m = applyPatch(m, [op]);
          } catch {
            m = null;
          }
        }
      }
      text = parts.length ? parts.join('; ') : 'edited the mission';
      break;
    }
    case 'asset.added':
      text = `added asset ${q(d.asset?.name)}${d.asset ? scopeText(d.asset, known.mission) : ''}`;
      break;
    case 'asset.removed': {
      const name = known.assets.get(d.asset_id);
      text = `deleted asset ${name ? q(name) : 'an asset'}`;
      break;
    }
    default:
      text = `did ${e.type}`;
  }
  const line: ActivityLine = { offset: e.offset, at: e.at, actor: e.actor, type: e.type, text: `${who(e.actor)} ${text}` };
  if (e.imported?.actor) line.note = `imported — originally by ${e.imported.actor}`;
  return line;
}

/** What an event leaves known for the next one. */
function advance(known: Known, e: SessionEvent): Known {
  const d = e.data ?? {};
  switch (e.type) {
    case 'session.imported':
    case 'session.forked':
    case 'mission.linked':
      return { ...known, mission: d.mission ?? null };
    case 'mission.updated':
      if (!known.mission || !Array.isArray(d.patch)) return known;
      try {
        return { ...known, mission: rollUp(applyPatch(known.mission, d.patch)) };
      } catch (err) {
        if (err instanceof PatchError) return { ...known, mission: null };
        throw err;
      }
    case 'asset.added':
      if (d.asset?.id) known.assets.set(d.asset.id, d.asset.name);
      return known;
    default:
      return known;
  }
}

/**
 * The events loaded so far: one contiguous range of offsets, grown backwards
 * by pages and forwards by live events.
 */
export class ActivityLog {
  private events: SessionEvent[] = [];
  /** What is known at `anchor.offset` (the snapshot's position). */
  private anchor: { offset: number; mission: Mission | null; assets: Asset[] } = { offset: 0, mission: null, assets: [] };

  /** Sets what the state was at `offset` (a snapshot), to name things after it. */
  setAnchor(offset: number, mission: Mission | null, assets: Asset[]): void {
    this.anchor = { offset, mission, assets };
  }

  /** The first offset loaded (0 when empty). */
  get first(): number {
    return this.events[0]?.offset ?? 0;
  }

  /** The last offset loaded (0 when empty). */
  get last(): number {
    return this.events[this.events.length - 1]?.offset ?? 0;
  }

  /** Whether older events exist that are not loaded yet. */
  get hasEarlier(): boolean {
    return this.first > 1;
  }

  /** The page to ask for to go further back: `{from, limit}`, or null at the start. */
  earlierPage(pageSize: number): { from: number; limit: number } | null {
    if (this.events.length === 0 || this.first <= 1) return null;
    const from = Math.max(1, this.first - pageSize);
    return { from, limit: this.first - from };
  }

  /** Adds events (a page or live ones); keeps one sorted range without duplicates. */
  add(events: SessionEvent[]): void {
    const byOffset = new Map(this.events.map((e) => [e.offset, e]));
    for (const e of events) if (Number.isInteger(e.offset) && e.offset > 0) byOffset.set(e.offset, e);
    this.events = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
  }

  /** Drops everything (a snapshot reload with a new history). */
  clear(): void {
    this.events = [];
  }

  /** The lines, newest first; chat messages only with `withChat`. */
  lines(withChat = false): ActivityLine[] {
    let known: Known = { mission: null, assets: new Map() };
    const out: ActivityLine[] = [];
    for (const a of this.anchor.assets) known.assets.set(a.id, a.name);
    if (this.anchor.offset > 0 && this.anchor.offset === this.first - 1) known = { ...known, mission: this.anchor.mission };
    for (const e of this.events) {
      if (withChat || e.type !== 'chat.message') out.push(describeEvent(e, known));
      known = advance(known, e);
      if (e.offset === this.anchor.offset) known = { ...known, mission: this.anchor.mission };
    }
    return out.reverse();
  }
}
