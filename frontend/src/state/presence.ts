// Who is in the session now (presence + join/leave) and who is typing. Pure.

export class Presence {
  /** client id → user id */
  private readonly clients = new Map<string, string>();

  /** Replaces everything with a presence result (`sub.presence()`). */
  reset(clients: Record<string, { user: string; client: string }>): void {
    this.clients.clear();
    for (const [client, info] of Object.entries(clients)) this.clients.set(client, info.user);
  }

  join(client: string, user: string): void {
    this.clients.set(client, user);
  }

  leave(client: string): void {
    this.clients.delete(client);
  }

  /** Distinct users here now, sorted. */
  users(): string[] {
    return [...new Set(this.clients.values())].sort();
  }
}

/** Typing signals expire by themselves when no "stopped typing" arrives. */
export class Typing {
  private readonly until = new Map<string, number>();

  constructor(private readonly ttlMs = 4000) {}

  signal(user: string, typing: boolean, now: number): void {
    if (typing) this.until.set(user, now + this.ttlMs);
    else this.until.delete(user);
  }

  /** Users typing at `now`, except `me`. */
  active(now: number, me: string): string[] {
    for (const [user, t] of this.until) if (t <= now) this.until.delete(user);
    return [...this.until.keys()].filter((u) => u !== me).sort();
  }
}

export function typingText(users: string[]): string {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]} is typing…`;
  return `${users.slice(0, -1).join(', ')} and ${users[users.length - 1]} are typing…`;
}

/**
 * Who is editing which mission field ("/hops/0/steps/1/name"), from the
 * live `mission.editing` signals. A marker expires by itself when its editor
 * sends no refresh for `ttlMs` (they closed the tab, lost the network).
 */
export class Editing {
  private readonly byUser = new Map<string, { path: string; until: number }>();

  constructor(private readonly ttlMs = 10_000) {}

  /** `path` null: the user stopped editing. */
  signal(user: string, path: string | null, now: number): void {
    if (path) this.byUser.set(user, { path, until: now + this.ttlMs });
    else this.byUser.delete(user);
  }

  /** Users editing at `now` (except `me`), by field path. */
  active(now: number, me: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [user, m] of this.byUser) {
      if (m.until <= now) {
        this.byUser.delete(user);
        continue;
      }
      if (user === me) continue;
      out.set(m.path, [...(out.get(m.path) ?? []), user].sort());
    }
    return out;
  }

  /** The earliest time a marker expires (to re-render then), or null. */
  nextExpiry(): number | null {
    let min: number | null = null;
    for (const m of this.byUser.values()) if (min === null || m.until < min) min = m.until;
    return min;
  }
}

export function editingText(users: string[]): string {
  if (users.length === 0) return '';
  return `${users.join(', ')} ${users.length === 1 ? 'is' : 'are'} editing`;
}
