// Unread markers: per session, the message count and stream offset the user
// has seen (kept in localStorage per user, so a reload keeps them), compared
// with the list's live data. A session never opened counts all its messages
// as new. Pure: the storage is injected.

import type { KeyValueStorage } from './outbox';

export interface Seen {
  messages: number;
  offset: number;
}

export interface Unread {
  /** Messages not seen yet. */
  messages: number;
  /** Other changes (mission, assets, …) after what was seen. */
  activity: boolean;
}

export class SeenStore {
  private seen: Record<string, Seen>;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly storageKey: string,
  ) {
    this.seen = this.load();
  }

  private load(): Record<string, Seen> {
    try {
      const parsed = JSON.parse(this.storage.getItem(this.storageKey) ?? '{}');
      return parsed && typeof parsed === 'object' ? parsed : {};
    } catch {
      return {};
    }
  }

  get(sessionId: string): Seen | undefined {
    return this.seen[sessionId];
  }

  /** Records what the user has now seen of a session (never goes back). */
  mark(sessionId: string, messages: number, offset: number): void {
    this.seen = this.load();
    const old = this.seen[sessionId];
    if (old && old.messages >= messages && old.offset >= offset) return;
    this.seen[sessionId] = { messages: Math.max(messages, old?.messages ?? 0), offset: Math.max(offset, old?.offset ?? 0) };
    this.storage.setItem(this.storageKey, JSON.stringify(this.seen));
  }

  /** Forgets sessions no longer in the list. */
  prune(keep: Set<string>): void {
    this.seen = this.load();
    const before = Object.keys(this.seen).length;
    this.seen = Object.fromEntries(Object.entries(this.seen).filter(([id]) => keep.has(id)));
    if (Object.keys(this.seen).length !== before) this.storage.setItem(this.storageKey, JSON.stringify(this.seen));
  }
}

/** What is new in a session compared with what was seen; `top` is the last known stream offset. */
export function unread(messageCount: number, top: number | undefined, seen: Seen | undefined): Unread {
  if (!seen) return { messages: messageCount, activity: false };
  return {
    messages: Math.max(0, messageCount - seen.messages),
    activity: top !== undefined && top > seen.offset,
  };
}
