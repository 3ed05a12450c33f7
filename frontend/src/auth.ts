// Who the user is and the token that says so. Two modes: the demo login of a
// server in dev mode (a user name is enough; tokens are minted, and minted
// again before they expire or when the server refuses them, e.g. after it
// restarted with a new secret), or a token the user pasted (from their
// identity provider or `tandem token`), which only the user can replace.
// Kept in sessionStorage: one user per tab, so two windows can be two users.

import { ApiClient, ApiError, NetworkError, type TokenSource } from './api';
import { renewal } from './state/renewal';

export type AuthMode = 'demo' | 'token';

export interface AuthData {
  mode: AuthMode;
  user: string;
  token: string;
  /** Expiry in ms since the epoch, when known. */
  expiresAt: number | null;
}

/** Refresh this long before a token expires. */
const REFRESH_MARGIN_MS = 60_000;
/** A token refused this soon after it was minted is not renewed again: the user decides. */
const RENEW_GUARD_MS = 10_000;
const STORAGE_KEY = 'tandem.auth';

/** The claims of a JWT (not verified: the server does that). */
export function jwtClaims(token: string): { sub?: string; exp?: number } | null {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** Checks a pasted token and reads who it is for. */
function readPasted(token: string): AuthData {
  const claims = jwtClaims(token);
  if (!claims?.sub) throw new Error('This does not look like a Tandem token (a JWT with a "sub" claim).');
  const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : null;
  if (expiresAt !== null && expiresAt <= Date.now()) throw new Error('This token has expired.');
  return { mode: 'token', user: claims.sub, token: token.trim(), expiresAt };
}

export class Auth implements TokenSource {
  private refreshing: Promise<string> | null = null;
  private renewing: Promise<string | null> | null = null;
  private renewedAt = 0;
  /** Called when only the user can go on: a pasted token expired or was refused, or renewal failed. */
  onSignInNeeded: (reason: string) => void = () => {};
  /** Called when a new token was obtained without the user (demo login again). */
  onRenewed: () => void = () => {};

  private constructor(private data: AuthData) {}

  static restore(): Auth | null {
    try {
      const raw = sessionStorage.getItem(STORAGE_KEY);
      if (!raw) return null;
      const data = JSON.parse(raw) as AuthData;
      return data.user && data.token ? new Auth(data) : null;
    } catch {
      return null;
    }
  }

  static async demo(user: string): Promise<Auth> {
    const res = await ApiClient.devToken(user);
    return Auth.save({ mode: 'demo', user: res.user, token: res.token, expiresAt: Date.now() + res.expires_in * 1000 });
  }

  static pasted(token: string): Auth {
    return Auth.save(readPasted(token));
  }

  private static save(data: AuthData): Auth {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(data));
    return new Auth(data);
  }

  private store(data: AuthData): void {
    this.data = data;
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(data));
  }

  get user(): string {
    return this.data.user;
  }

  get mode(): AuthMode {
    return this.data.mode;
  }

  get expiresAt(): number | null {
    return this.data.expiresAt;
  }

  signOut(): void {
    sessionStorage.removeItem(STORAGE_KEY);
  }

  /** A token valid for a while: renewed first when close to expiry (demo mode). */
  async token(): Promise<string> {
    const { expiresAt } = this.data;
    if (expiresAt !== null && expiresAt - Date.now() < REFRESH_MARGIN_MS) return this.refresh();
    return this.data.token;
  }

  /** A new token (demo mode), or the pasted one while it is still valid. */
  refresh(): Promise<string> {
    if (this.data.mode === 'token') {
      if (this.data.expiresAt !== null && this.data.expiresAt <= Date.now()) {
        return Promise.reject(new TokenRefused('token expired'));
      }
      return Promise.resolve(this.data.token);
    }
    this.refreshing ??= this.mint().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async mint(): Promise<string> {
    const res = await ApiClient.devToken(this.data.user);
    this.store({ ...this.data, token: res.token, expiresAt: Date.now() + res.expires_in * 1000 });
    return res.token;
  }

  /** The token in use now (what the WebSocket and REST send). */
  get current(): string {
    return this.data.token;
  }

  /**
   * The server refused `refused` (401, or the WebSocket closed with "invalid
   * token"). When a newer token exists already (another request renewed it),
   * that one is the answer. Otherwise demo mode mints a new one through the
   * demo login, unless the current one was minted moments ago (then the
   * server refuses fresh tokens too, and looping would not help). Resolves to
   * null when only the user can go on; `onSignInNeeded` says why.
   */
  async renewAfterRefusal(refused: string): Promise<string | null> {
    if (this.renewing) return this.renewing;
    const next = renewal({ refused, current: this.data.token, mode: this.data.mode, mintedAt: this.renewedAt, now: Date.now(), guardMs: RENEW_GUARD_MS });
    if (next === 'use-current') return this.data.token;
    this.renewing = this.renew(next === 'renew').finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async renew(mint: boolean): Promise<string | null> {
    if (this.data.mode === 'token') {
      const expired = this.data.expiresAt !== null && this.data.expiresAt <= Date.now();
      this.onSignInNeeded(
        expired
          ? 'Your token has expired. Paste a new one to go on; nothing you wrote is lost.'
          : 'The server no longer accepts your token (it may have restarted with another secret). Paste a new token to go on; nothing you wrote is lost.',
      );
      return null;
    }
    if (!mint) {
      this.onSignInNeeded('The server refused a token it had just issued. Sign in again.');
      return null;
    }
    try {
      const token = await this.mint();
      this.renewedAt = Date.now();
      this.onRenewed();
      return token;
    } catch (err) {
      if (err instanceof NetworkError) throw err;
      const gone = err instanceof ApiError && (err.status === 404 || err.status === 405);
      this.onSignInNeeded(
        gone
          ? 'The server no longer offers the demo login and refused your token. Paste a token to go on; nothing you wrote is lost.'
          : `Signing in again failed: ${(err as Error).message}`,
      );
      return null;
    }
  }

  /** Replaces the token with one the user pasted (same user: the outbox is theirs). */
  replaceToken(token: string): void {
    const data = readPasted(token);
    if (data.user !== this.data.user) {
      throw new Error(`This token is for "${data.user}", but you are signed in as "${this.data.user}". Sign out to switch users.`);
    }
    this.renewedAt = 0;
    this.store(data);
  }

  /** The user asked to sign in through the demo login again (after `onSignInNeeded`). */
  retryDemo(): Promise<string | null> {
    this.renewedAt = 0;
    return this.renewAfterRefusal(this.data.token);
  }
}

/** Thrown to the WebSocket client when no token can be had without the user. */
export class TokenRefused extends Error {}
