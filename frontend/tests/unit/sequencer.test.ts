import { describe, expect, it } from 'vitest';
import { Sequencer } from '../../src/state/sequencer';

describe('Sequencer', () => {
  const collect = () => {
    const seen: string[] = [];
    return { seen, apply: (item: string) => seen.push(item) };
  };

  it('applies events in offset order', () => {
    const seq = new Sequencer<string>(0);
    const { seen, apply } = collect();
    expect(seq.push(1, 'a', apply)).toBe('applied');
    expect(seq.push(2, 'b', apply)).toBe('applied');
    expect(seen).toEqual(['a', 'b']);
    expect(seq.offset).toBe(2);
  });

  it('ignores duplicates (offset at or below the last applied)', () => {
    const seq = new Sequencer<string>(5);
    const { seen, apply } = collect();
    expect(seq.push(5, 'old', apply)).toBe('duplicate');
    expect(seq.push(3, 'older', apply)).toBe('duplicate');
    expect(seq.push(6, 'new', apply)).toBe('applied');
    expect(seq.push(6, 'new again', apply)).toBe('duplicate');
    expect(seen).toEqual(['new']);
  });

  it('buffers out-of-order events until the gap fills', () => {
    const seq = new Sequencer<string>(0);
    const { seen, apply } = collect();
    expect(seq.push(3, 'c', apply)).toBe('buffered');
    expect(seq.push(2, 'b', apply)).toBe('buffered');
    expect(seq.push(3, 'c twice', apply)).toBe('duplicate');
    expect(seen).toEqual([]);
    expect(seq.waiting).toEqual([2, 3]);
    expect(seq.push(1, 'a', apply)).toBe('applied');
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(seq.waiting).toEqual([]);
    expect(seq.offset).toBe(3);
  });

  it('starts over from a reloaded position', () => {
    const seq = new Sequencer<string>(0);
    const { seen, apply } = collect();
    seq.push(4, 'd', apply);
    seq.reset(10);
    expect(seq.waiting).toEqual([]);
    expect(seq.push(10, 'x', apply)).toBe('duplicate');
    expect(seq.push(11, 'y', apply)).toBe('applied');
    expect(seen).toEqual(['y']);
  });
});
