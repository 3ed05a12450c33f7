// Wire types of the Tandem REST API and session stream (docs/api.md).

export type Role = 'owner' | 'editor' | 'viewer';
export type SessionStatus = 'active' | 'completed' | 'abandoned' | 'archived';
export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped';
export type MissionStatus = 'proposed' | 'ready' | 'in_progress' | 'completed' | 'failed';

export const SESSION_STATUSES: SessionStatus[] = ['active', 'completed', 'abandoned', 'archived'];
export const STEP_STATUSES: StepStatus[] = ['pending', 'running', 'completed', 'failed', 'skipped'];
export const MISSION_STATUSES: MissionStatus[] = ['proposed', 'ready', 'in_progress', 'completed', 'failed'];

export interface Collaborator {
  user_id: string;
  role: Role;
  added_at: string;
}

export interface Session {
  id: string;
  name: string;
  owner: string;
  collaborators: Collaborator[];
  status: SessionStatus;
  metadata: Record<string, unknown>;
  mission_id: string | null;
  created_at: string;
  updated_at: string;
  last_activity_at: string;
  message_count: number;
}

export interface ChatMessage {
  id: string;
  session_id: string;
  author: string;
  role: 'user' | 'assistant' | 'system' | 'tool';
  content: string;
  created_at: string;
  offset: number;
  metadata?: Record<string, unknown>;
  idempotency_key?: string;
  /** Set on messages brought in by an import: `author` is then the importer. */
  imported?: { author: string; session_id: string };
}

export type MessageRole = ChatMessage['role'];
export const MESSAGE_ROLES: MessageRole[] = ['user', 'assistant', 'system', 'tool'];

export interface ToolStep {
  id: string;
  name: string;
  tool: string;
  status: StepStatus;
  inputs: unknown;
  outputs: unknown;
}

export interface Hop {
  id: string;
  name: string;
  status: StepStatus;
  steps: ToolStep[];
}

export interface Mission {
  id: string;
  title: string;
  goal: string;
  status: MissionStatus;
  hops: Hop[];
  revision: number;
  owner: string;
  session_id: string | null;
  created_at: string;
  updated_at: string;
}

export type AssetScope = { kind: 'session' } | { kind: 'mission' } | { kind: 'hop'; hop_id: string };

export interface Asset {
  id: string;
  scope: AssetScope;
  name: string;
  media_type: string;
  content?: string;
  uri?: string;
  metadata: Record<string, unknown>;
  created_by: string;
  created_at: string;
}

export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** `GET /api/sessions/{id}`: a snapshot and the stream position it reflects. */
export interface Snapshot {
  session: Session;
  mission: Mission | null;
  messages: ChatMessage[];
  assets: Asset[];
  collaborators: Collaborator[];
  role: Role;
  position: StreamPosition;
}

/** One event of a session stream (`session:<id>`). */
export interface SessionEvent {
  offset: number;
  type: string;
  actor: string;
  at: string;
  data: any;
  /** Set on events brought in by an import: `actor` is then the importer. */
  imported?: { actor: string };
}

/** A live-only signal on `session:<id>` (no offset, never stored). */
export interface LiveSignal {
  type: string;
  actor: string;
  at: string;
  data: any;
}

/** `GET /api/info`. */
export interface ServerInfo {
  name: string;
  version: string;
  dev: boolean;
  engine: 'memory' | 'redis';
}

/** `GET /api/sessions/{id}/export`. */
export interface ExportDocument {
  format: string;
  exported_at: string;
  session: Session;
  [key: string]: unknown;
}

/** A JSON Patch (RFC 6902) operation. */
export type PatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

/** Notices on the personal feed `user:<id>`. */
export type UserNotice =
  | { type: 'session.added'; session: Session; role?: Role }
  | { type: 'session.role_changed'; session: Session; role: Role }
  | { type: 'session.removed'; session_id: string; reason?: string }
  | { type: 'session.status_changed'; session_id: string; from: SessionStatus; to: SessionStatus }
  /** Ephemeral (no offset, not in history), coalesced to about one a second per session. */
  | {
      type: 'session.activity';
      session_id: string;
      message_count: number;
      last_activity_at: string;
      offset: number;
      actor: string;
      event: string;
    };
