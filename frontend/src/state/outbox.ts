// Messages waiting to be sent. Every message goes through the outbox: it is
// stored (so a reload keeps it), shown as pending, and sent with an
// idempotency key that never changes across retries, so however often a send
// is retried (a lost response, a reconnect, a reload) the server stores it once.
// Pure: the storage, the key generator and the transport are injected.

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
  /** Idempotency key, fixed when the message is written. */
  key: string;
  sessionId: string;
  content: string;
  createdAt: string;
  /** Send attempts so far. */
  attempts: number;
  /** Set when the server refused the message for good (not a network error). */
  error?: string;
}

/** What a send attempt says. */
export type SendOutcome<T> =
  | { ok: true; result: T }
  /** Not reached the server or no answer: keep the message and retry later. */
  | { ok: false; retry: true }
  /** Refused (e.g. 403, 409 archived, 413): keep it, marked failed, never retried by itself. */
  | { ok: false; retry: false; error: string };

export class Outbox<T = unknown> {
  private items: OutboxItem[];
  private flushing: Promise<T[]> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly storageKey: string,
    private readonly newKey: () => string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.items = this.load();
  }

  private load(): OutboxItem[] {
    try {
      const raw = this.storage.getItem(this.storageKey);
      const parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter((i) => i && typeof i.key === 'string') : [];
    } catch {
      return [];
    }
  }

  private save(): void {
    if (this.items.length === 0) this.storage.removeItem(this.storageKey);
    else this.storage.setItem(this.storageKey, JSON.stringify(this.items));
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a message; it is pending until `flush` delivers it. */
  add(sessionId: string, content: string): OutboxItem {
    const item: OutboxItem = {
      key: this.newKey(),
      sessionId,
      content,
      createdAt: this.now().toISOString(),
      attempts: 0,
    };
    this.items.push(item);
    this.save();
    return item;
  }

  /** Messages not delivered yet (oldest first), optionally of one session. */
  pending(sessionId?: string): OutboxItem[] {
    return this.items.filter((i) => sessionId === undefined || i.sessionId === sessionId);
  }

  /** Drops a message (the user discarded a failed one). */
  discard(key: string): void {
    this.items = this.items.filter((i) => i.key !== key);
    this.save();
  }

  /** Makes a failed message pending again. */
  retry(key: string): void {
    const item = this.items.find((i) => i.key === key);
    if (item) {
      delete item.error;
      this.save();
    }
  }

  /**
   * Sends the pending messages one by one, oldest first, each with its own
   * key; stops at the first that cannot reach the server (order is kept).
   * Calls made while a flush runs join it, so no message is in flight twice.
   * Resolves to the results of the messages delivered by this flush.
   */
  flush(send: (item: OutboxItem) => Promise<SendOutcome<T>>): Promise<T[]> {
    if (this.flushing) return this.flushing;
    this.flushing = this.run(send).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async run(send: (item: OutboxItem) => Promise<SendOutcome<T>>): Promise<T[]> {
    const delivered: T[] = [];
    for (;;) {
      const item = this.items.find((i) => !i.error);
      if (!item) return delivered;
      item.attempts += 1;
      this.save();
      let outcome: SendOutcome<T>;
      try {
        outcome = await send(item);
      } catch {
        outcome = { ok: false, retry: true };
      }
      if (outcome.ok) {
        this.items = this.items.filter((i) => i.key !== item.key);
        this.save();
        delivered.push(outcome.result);
      } else if (outcome.retry) {
        return delivered;
      } else {
        item.error = outcome.error;
        this.save();
      }
    }
  }
}
