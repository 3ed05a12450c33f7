import { describe, expect, it } from 'vitest';
// Written by the server's test suite from its typed event enum
// (src/sessions/events.rs); a Rust test fails when it is stale.
import catalogue from '../../src/generated/session-events.json';
import { describeEvent } from '../../src/state/activity';
import type { SessionEvent } from '../../src/types';
import { T0 } from './fixtures';

const types = Object.keys(catalogue) as (keyof typeof catalogue)[];

describe('the UI knows every event type the server sends', () => {
  it('has a catalogue to check against', () => {
    expect(types.length).toBeGreaterThanOrEqual(14);
    expect(types).toContain('chat.message');
    expect(catalogue['mission.updated']).toEqual(expect.arrayContaining(['patch', 'revision']));
  });

  it.each(types)('puts %s in words', (type) => {
    // A payload with every field the server sends, each present but empty.
    const data = Object.fromEntries(catalogue[type].map((field) => [field, null]));
    const event: SessionEvent = { offset: 1, type, actor: 'bob', at: T0, data };
    const line = describeEvent(event, { mission: null, assets: new Map() });
    // The fallback for unknown types is "did <type>".
    expect(line.text).not.toContain(`did ${type}`);
    expect(line.text.startsWith('bob ')).toBe(true);
  });
});
