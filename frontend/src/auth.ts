// Who the user is and the token that says so. Two modes: the demo login of a
// server in dev mode (a user name is enough; tokens are minted, and minted
// again before they expire), or a token the user pasted (from their identity
// provider or `tandem token`). Kept in sessionStorage: one user per tab, so two
// windows can be two users.

import { ApiClient } from './api';

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

export class Auth {
  private refreshing: Promise<string> | null = null;
  /** Called when the token can no longer be renewed (pasted and expired). */
  onExpired: () => void = () => {};

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
    const claims = jwtClaims(token);
    if (!claims?.sub) throw new Error('This does not look like a Tandem token (a JWT with a "sub" claim).');
    const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : null;
    if (expiresAt !== null && expiresAt <= Date.now()) throw new Error('This token has expired.');
    return Auth.save({ mode: 'token', user: claims.sub, token: token.trim(), expiresAt });
  }

  private static save(data: AuthData): Auth {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(data));
    return new Auth(data);
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
        this.onExpired();
        return Promise.reject(new Error('token expired: paste a new one'));
      }
      return Promise.resolve(this.data.token);
    }
    this.refreshing ??= ApiClient.devToken(this.data.user)
      .then((res) => {
        this.data = { ...this.data, token: res.token, expiresAt: Date.now() + res.expires_in * 1000 };
        sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.data));
        return res.token;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }
}
