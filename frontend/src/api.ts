// The REST API (docs/api.md). Errors come back as `ApiError` (the server said
// no, with its code) or `NetworkError` (no answer: offline, server down).

import type { Asset, ChatMessage, Collaborator, Mission, PatchOp, Role, Session, SessionStatus, Snapshot } from './types';

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

export class NetworkError extends Error {}

export type LifecycleAction = 'complete' | 'archive' | 'restore' | 'reopen';

async function call<T>(method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new NetworkError(`cannot reach the server: ${(err as Error).message}`);
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

export class ApiClient {
  constructor(private readonly token: () => Promise<string>) {}

  /** The demo login (dev mode only). */
  static devToken(user: string): Promise<{ user: string; token: string; expires_in: number }> {
    return call('POST', '/api/dev/token', null, { user });
  }

  /** Whether the server offers the demo login: an empty user name is refused
   *  (422) when it does, and the route does not exist (404) when it does not. */
  static async demoAvailable(): Promise<boolean> {
    try {
      await call('POST', '/api/dev/token', null, { user: '' });
      return true;
    } catch (err) {
      return err instanceof ApiError && err.status === 422;
    }
  }

  private async req<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return call<T>(method, path, await this.token(), body, headers);
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

  lifecycle(id: string, action: LifecycleAction) {
    return this.req<Session>('POST', `/api/sessions/${id}/${action}`);
  }

  share(id: string, user: string, role: Role) {
    return this.req<Collaborator>('PUT', `/api/sessions/${id}/collaborators/${encodeURIComponent(user)}`, { role });
  }

  revoke(id: string, user: string) {
    return this.req<null>('DELETE', `/api/sessions/${id}/collaborators/${encodeURIComponent(user)}`);
  }

  sendMessage(id: string, content: string, idempotencyKey: string) {
    return this.req<ChatMessage>('POST', `/api/sessions/${id}/messages`, { content }, { 'idempotency-key': idempotencyKey });
  }

  getMission(id: string) {
    return this.req<Mission>('GET', `/api/sessions/${id}/mission`);
  }

  patchMission(id: string, ops: PatchOp[], baseRevision: number) {
    return this.req<Mission>('PATCH', `/api/sessions/${id}/mission`, { ops, base_revision: baseRevision });
  }

  async createMission(sessionId: string, title: string) {
    const mission = await this.req<Mission>('POST', '/api/missions', { title, hops: [] });
    return this.req<Mission>('POST', `/api/sessions/${sessionId}/link-mission/${mission.id}`);
  }

  addAsset(id: string, name: string, content: string, mediaType = 'text/plain') {
    return this.req<Asset>('POST', `/api/sessions/${id}/assets`, { name, media_type: mediaType, content });
  }
}
