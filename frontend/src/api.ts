// The REST API (docs/api.md). Errors come back as `ApiError` (the server said
// no, with its code) or `NetworkError` (no answer: offline, server down). A
// `401` (the token is no longer accepted, e.g. the server restarted with a
// new secret) asks the sign-in to renew the token once and retries.

import type {
  Asset,
  ChatMessage,
  Collaborator,
  ExportDocument,
  Mission,
  MessageRole,
  PatchOp,
  Role,
  ServerInfo,
  Session,
  SessionEvent,
  SessionStatus,
  Snapshot,
} from './types';
import type { Failure, LifecycleAction, NewAsset } from './state/writes';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: any,
  ) {
    super(message);
  }
}

export class NetworkError extends Error {
  constructor(message = 'Cannot reach the server.') {
    super(message);
  }
}

/** A request with no answer by then counts as not reached (nothing waits forever). */
const REQUEST_TIMEOUT_MS = 30_000;

/** An error as the state modules see it. */
export function toFailure(err: unknown): Failure {
  if (err instanceof NetworkError) return { network: true, message: err.message };
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}

async function call<T>(method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new NetworkError((err as Error)?.name === 'TimeoutError' ? 'The server did not answer in time.' : undefined);
  }
  const text = await res.text().catch(() => '');
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = json?.error ?? {};
    throw new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? res.statusText, json);
  }
  return json as T;
}

/** How the client gets its token, and renews it when the server refuses it. */
export interface TokenSource {
  token(): Promise<string>;
  /** A token to use instead of `refused` (after a 401), or null when none can be had without the user. */
  renewAfterRefusal(refused: string): Promise<string | null>;
}

export class ApiClient {
  constructor(private readonly auth: TokenSource) {}

  /** The demo login (dev mode only). */
  static devToken(user: string): Promise<{ user: string; token: string; expires_in: number }> {
    return call('POST', '/api/dev/token', null, { user });
  }

  /** `GET /api/info` (no auth), or null when this server does not have it. */
  /** What server this is (`GET /api/info`, no auth). */
  static info(): Promise<ServerInfo> {
    return call<ServerInfo>('GET', '/api/info', null);
  }

  /** Whether the server offers the demo login (dev mode). */
  static async demoAvailable(): Promise<boolean> {
    return (await ApiClient.info()).dev;
  }

  private async req<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const token = await this.auth.token();
    try {
      return await call<T>(method, path, token, body, headers);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err;
      const fresh = await this.auth.renewAfterRefusal(token);
      if (!fresh) throw err;
      return call<T>(method, path, fresh, body, headers);
    }
  }

  listSessions(params: { status?: SessionStatus; q?: string; limit?: number; cursor?: string } = {}) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
    return this.req<{ items: Session[]; next_cursor: string | null }>('GET', `/api/sessions?${qs}`);
  }

  createSession(name: string) {
    return this.req<Session>('POST', '/api/sessions', { name });
  }

  getSession(id: string) {
    return this.req<Snapshot>('GET', `/api/sessions/${id}`);
  }

  updateSession(id: string, changes: { name?: string }) {
    return this.req<Session>('PATCH', `/api/sessions/${id}`, changes);
  }

  deleteSession(id: string) {
    return this.req<null>('DELETE', `/api/sessions/${id}`);
  }

  lifecycle(id: string, action: LifecycleAction) {
    return this.req<Session>('POST', `/api/sessions/${id}/${action}`);
  }

  share(id: string, user: string, role: Role) {
    return this.req<Collaborator>('PUT', `/api/sessions/${id}/collaborators/${encodeURIComponent(user)}`, { role });
  }

  revoke(id: string, user: string) {
    return this.req<null>('DELETE', `/api/sessions/${id}/collaborators/${encodeURIComponent(user)}`);
  }

  collaborators(id: string) {
    return this.req<Collaborator[]>('GET', `/api/sessions/${id}/collaborators`);
  }

  sendMessage(id: string, content: string, idempotencyKey: string, role: MessageRole = 'user') {
    return this.req<ChatMessage>('POST', `/api/sessions/${id}/messages`, { content, role }, { 'idempotency-key': idempotencyKey });
  }

  getMission(id: string) {
    return this.req<Mission>('GET', `/api/sessions/${id}/mission`);
  }

  patchMission(id: string, ops: PatchOp[], baseRevision: number) {
    return this.req<Mission>('PATCH', `/api/sessions/${id}/mission`, { ops, base_revision: baseRevision });
  }

  async createMission(sessionId: string, title: string, goal = '') {
    const mission = await this.req<Mission>('POST', '/api/missions', { title, goal, hops: [] });
    return this.req<Mission>('POST', `/api/sessions/${sessionId}/link-mission/${mission.id}`);
  }

  listAssets(id: string) {
    return this.req<Asset[]>('GET', `/api/sessions/${id}/assets`);
  }

  addAsset(id: string, asset: NewAsset, metadata: Record<string, unknown> = {}) {
    return this.req<Asset>('POST', `/api/sessions/${id}/assets`, { ...asset, metadata });
  }

  removeAsset(id: string, assetId: string) {
    return this.req<null>('DELETE', `/api/sessions/${id}/assets/${assetId}`);
  }

  events(id: string, from: number, limit: number) {
    return this.req<SessionEvent[]>('GET', `/api/sessions/${id}/events?from=${from}&limit=${limit}`);
  }

  exportSession(id: string) {
    return this.req<ExportDocument>('GET', `/api/sessions/${id}/export`);
  }

  importSession(doc: unknown) {
    return this.req<Session>('POST', '/api/sessions/import', doc);
  }

  fork(id: string, atOffset?: number) {
    return this.req<Session>('POST', `/api/sessions/${id}/fork`, atOffset === undefined ? {} : { at_offset: atOffset });
  }
}
