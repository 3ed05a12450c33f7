// Writes waiting to be made. Every write goes through the outbox: it is
// stored (so a reload keeps it), shown as pending, and sent with a key that
// never changes across retries, so however often a send is retried (a lost
// response, a reconnect, a reload, a new sign-in) the server applies it once
// (see writes.ts for how each kind stays idempotent).
// Several tabs of one user share the stored outbox: every change re-reads the
// storage first, and flushes run under an injected lock (the Web Locks API in
// the browser), so no two tabs send the same write at once.
// Pure: the storage, the key generator, the lock and the transport are injected.

import type { SendOutcome, WriteOp } from './writes';

export type { SendOutcome } from './writes';

export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** In-memory storage (tests, or when localStorage is unavailable). */
export class MemoryStorage implements KeyValueStorage {
  private readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

export interface OutboxItem {
  /** Idempotency key, fixed when the write is made. */
  key: string;
  sessionId: string;
  op: WriteOp;
  createdAt: string;
  /** Send attempts so far. */
  attempts: number;
  /** Set when the server refused the write for good (not a network error). */
  error?: string;
  /** Set when someone else's change overtook this one: the user decides. */
  conflict?: string;
}

export type Lock = <T>(run: () => Promise<T>) => Promise<T>;

const noLock: Lock = (run) => run();

/** Reads items written by this or an older version (chat-only items had `content`). */
function parseItems(raw: string | null): OutboxItem[] {
  try {
    const parsed = raw ? JSON.parse(raw) : [];
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter((i) => i && typeof i.key === 'string' && typeof i.sessionId === 'string')
      .map((i) => (i.op ? i : { ...i, op: { kind: 'chat', content: String(i.content ?? '') } }))
      .map(({ content: _legacy, ...item }) => item as OutboxItem);
  } catch {
    return [];
  }
}

export class Outbox<T = unknown> {
  private items: OutboxItem[];
  private flushing: Promise<T[]> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly storageKey: string,
    private readonly newKey: () => string,
    private readonly now: () => Date = () => new Date(),
    private readonly lock: Lock = noLock,
  ) {
    this.items = this.load();
  }

  private load(): OutboxItem[] {
    return parseItems(this.storage.getItem(this.storageKey));
  }

  /** Re-reads the storage (another tab changed it). */
  reload(): void {
    this.items = this.load();
    this.emit();
  }

  /** Changes the stored items: read, change, write, tell the listeners. */
  private update(change: (items: OutboxItem[]) => OutboxItem[]): void {
    this.items = change(this.load());
    if (this.items.length === 0) this.storage.removeItem(this.storageKey);
    else this.storage.setItem(this.storageKey, JSON.stringify(this.items));
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a write; it is pending until `flush` delivers it. */
  add(sessionId: string, op: WriteOp): OutboxItem {
    const item: OutboxItem = { key: this.newKey(), sessionId, op, createdAt: this.now().toISOString(), attempts: 0 };
    this.update((items) => [...items, item]);
    return item;
  }

  /** Writes not delivered yet (oldest first), optionally of one session. */
  pending(sessionId?: string): OutboxItem[] {
    return this.items.filter((i) => sessionId === undefined || i.sessionId === sessionId);
  }

  /** Writes that wait for nothing but a connection (no error, no conflict). */
  waiting(): OutboxItem[] {
    return this.items.filter((i) => !i.error && !i.conflict);
  }

  /** Drops a write (the user discarded a failed or conflicting one). */
  discard(key: string): void {
    this.update((items) => items.filter((i) => i.key !== key));
  }

  /**
   * Makes a failed or conflicting write pending again; `op` replaces its
   * operation (e.g. a mission edit forced after a conflict: "keep mine").
   */
  retry(key: string, op?: WriteOp): void {
    this.update((items) =>
      items.map((i) => {
        if (i.key !== key) return i;
        const { error: _e, conflict: _c, ...rest } = i;
        return op ? { ...rest, op } : rest;
      }),
    );
  }

  /**
   * Sends the waiting writes one by one, oldest first, each with its own
   * key; stops at the first that cannot reach the server (order is kept).
   * Calls made while a flush runs join it, so no write is in flight twice.
   * Resolves to the results of the writes delivered by this flush.
   */
  flush(send: (item: OutboxItem) => Promise<SendOutcome<T>>): Promise<T[]> {
    if (this.flushing) return this.flushing;
    this.flushing = this.lock(() => this.run(send)).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async run(send: (item: OutboxItem) => Promise<SendOutcome<T>>): Promise<T[]> {
    const delivered: T[] = [];
    for (;;) {
      this.items = this.load();
      const next = this.items.find((i) => !i.error && !i.conflict);
      if (!next) {
        this.emit();
        return delivered;
      }
      const item = { ...next, attempts: next.attempts + 1 };
      this.update((items) => items.map((i) => (i.key === item.key ? item : i)));
      let outcome: SendOutcome<T>;
      try {
        outcome = await send(item);
      } catch {
        outcome = { ok: false, retry: true };
      }
      if (outcome.ok) {
        this.update((items) => items.filter((i) => i.key !== item.key));
        delivered.push(outcome.result);
      } else if (outcome.retry) {
        return delivered;
      } else {
        const mark = 'conflict' in outcome ? { conflict: outcome.conflict } : { error: outcome.error };
        this.update((items) => items.map((i) => (i.key === item.key ? { ...i, ...mark } : i)));
      }
    }
  }
}
