// What to do when the server refuses a token. Several requests and the
// WebSocket may report the same refusal: only the first renews, the rest use
// the token it got. A token refused moments after it was minted means the
// server refuses fresh tokens too: looping would not help, the user decides.
// Pure.

export type Renewal =
  /** A newer token exists already (another request renewed it). */
  | 'use-current'
  /** Mint a new one through the demo login. */
  | 'renew'
  /** Only the user can go on (pasted token, or fresh tokens refused too). */
  | 'ask-user';

export function renewal(o: { refused: string; current: string; mode: 'demo' | 'token'; mintedAt: number; now: number; guardMs: number }): Renewal {
  if (o.refused !== o.current) return 'use-current';
  if (o.mode === 'token') return 'ask-user';
  return o.now - o.mintedAt < o.guardMs ? 'ask-user' : 'renew';
}
