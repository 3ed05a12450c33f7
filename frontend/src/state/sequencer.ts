// Delivers items of a gapless stream (offsets 1, 2, 3, ...) exactly once and
// in offset order: offsets at or below the last one applied are duplicates and
// dropped; an offset past the next one is buffered until the gap fills.

export type Arrival = 'applied' | 'duplicate' | 'buffered';

export class Sequencer<T> {
  private last: number;
  private readonly buffer = new Map<number, T>();

  /** `last` is the offset already reflected in the state (0 for none). */
  constructor(last = 0) {
    this.last = last;
  }

  /** The last offset applied. */
  get offset(): number {
    return this.last;
  }

  /** Offsets waiting for a gap to fill, in order. */
  get waiting(): number[] {
    return [...this.buffer.keys()].sort((a, b) => a - b);
  }

  /**
   * Offers the item at `offset`; calls `apply` for it and every buffered item
   * that now follows, in order. Returns what happened to this item.
   */
  push(offset: number, item: T, apply: (item: T, offset: number) => void): Arrival {
    if (!Number.isInteger(offset) || offset <= this.last) return 'duplicate';
    if (offset > this.last + 1) {
      if (this.buffer.has(offset)) return 'duplicate';
      this.buffer.set(offset, item);
      return 'buffered';
    }
    apply(item, offset);
    this.last = offset;
    for (;;) {
      const next = this.buffer.get(this.last + 1);
      if (next === undefined) break;
      this.buffer.delete(this.last + 1);
      apply(next, this.last + 1);
      this.last += 1;
    }
    // Anything left at or below `last` can never apply.
    for (const key of this.buffer.keys()) if (key <= this.last) this.buffer.delete(key);
    return 'applied';
  }

  /** Starts over from a new position (after reloading a snapshot). */
  reset(last: number): void {
    this.last = last;
    this.buffer.clear();
  }
}
