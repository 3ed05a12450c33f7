//! The domain's nouns (SPEC §2): sessions, collaborators, chat messages,
//! missions with hops and tool steps, assets and events. Plain data with serde;
//! no HTTP or socket types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A point in time, serialised as RFC 3339.
pub type Timestamp = DateTime<Utc>;

/// A new sortable id (UUIDv7).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// What a collaborator may do in a session.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Reads and writes.
    Editor,
    /// Everything, including delete, share and revoke.
    Owner,
}

impl Role {
    /// Whether this role may change the session's content.
    pub fn can_write(self) -> bool {
        self >= Role::Editor
    }
}

/// A user's membership in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Collaborator {
    /// User id (the JWT `sub`).
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// When the user was added.
    #[schema(value_type = String, format = DateTime)]
    pub added_at: Timestamp,
}

/// Where a session is in its lifecycle (see `status.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// In use.
    Active,
    /// Finished, explicitly or because its mission completed.
    Completed,
    /// Idle for longer than `abandon_after` (set by the sweeper).
    Abandoned,
    /// Put away; read-only until restored.
    Archived,
}

impl SessionStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Abandoned => "abandoned",
            SessionStatus::Archived => "archived",
        }
    }
}

/// A session's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Session {
    /// UUIDv7.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// The owner's user id.
    pub owner: String,
    /// Everyone with access, the owner included.
    pub collaborators: Vec<Collaborator>,
    /// Lifecycle status.
    pub status: SessionStatus,
    /// Free-form JSON object.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// The linked mission.
    pub mission_id: Option<Uuid>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change of the session's own fields.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Last write or activity ping.
    #[schema(value_type = String, format = DateTime)]
    pub last_activity_at: Timestamp,
    /// Chat messages so far.
    pub message_count: u64,
}

impl Session {
    /// The role of `user`, if they are a collaborator.
    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.collaborators
            .iter()
            .find(|c| c.user_id == user)
            .map(|c| c.role)
    }
}

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    /// A person.
    User,
    /// An AI assistant.
    Assistant,
    /// The system.
    System,
    /// A tool's output.
    Tool,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// UUIDv7.
    pub id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// Author's user id.
    pub author: String,
    /// Message role.
    pub role: MessageRole,
    /// Text.
    pub content: String,
    /// When it was sent.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Its event's offset in the session stream (left out of the
    /// `chat.message` event's payload, where it is the event's `offset`).
    #[serde(default, skip_serializing_if = "offset_unassigned")]
    pub offset: u64,
    /// Optional JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// The client's idempotency key, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Set on messages that came in with an imported document: `author` is
    /// then the importing user, and this says who wrote it originally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportedFrom>,
}

/// Where an imported message or asset came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportedFrom {
    /// The author named by the imported document.
    pub author: String,
    /// The session id the document was exported from.
    pub session_id: Uuid,
}

/// Set on events that came in with an imported document: `actor` is then the
/// importing user, and this says who the document named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportedEvent {
    /// The actor named by the imported document.
    pub actor: String,
}

/// Mission status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissionStatus {
    /// Drafted.
    Proposed,
    /// Agreed, not started.
    Ready,
    /// Running.
    InProgress,
    /// Done (completes the linked session).
    Completed,
    /// Gave up.
    Failed,
}

/// Status of a hop or a tool step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Done.
    Completed,
    /// Failed.
    Failed,
    /// Skipped.
    Skipped,
}

/// One tool invocation in a hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolStep {
    /// Id unique within the mission.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Tool to call.
    #[serde(default)]
    pub tool: String,
    /// Status.
    #[serde(default)]
    pub status: StepStatus,
    /// Inputs (any JSON).
    #[serde(default)]
    pub inputs: Value,
    /// Outputs (any JSON).
    #[serde(default)]
    pub outputs: Value,
}

/// A stage of a mission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hop {
    /// Id unique within the mission.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Status.
    #[serde(default)]
    pub status: StepStatus,
    /// Tool steps in order.
    #[serde(default)]
    pub steps: Vec<ToolStep>,
}

/// A plan of hops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mission {
    /// UUIDv7.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// What it is for.
    #[serde(default)]
    pub goal: String,
    /// Status.
    pub status: MissionStatus,
    /// Hops in order.
    #[serde(default)]
    pub hops: Vec<Hop>,
    /// Increments on every change.
    pub revision: u64,
    /// Creator.
    pub owner: String,
    /// The session it is linked to.
    pub session_id: Option<Uuid>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// What an asset is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AssetScope {
    /// The session.
    Session,
    /// The session's mission.
    Mission,
    /// One hop of the mission.
    Hop {
        /// The hop's id.
        hop_id: String,
    },
}

/// A file or link attached to a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Asset {
    /// UUIDv7.
    pub id: Uuid,
    /// What it is attached to.
    pub scope: AssetScope,
    /// Name.
    pub name: String,
    /// Media type, e.g. `text/plain`.
    pub media_type: String,
    /// Inline content (small assets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Where the content lives (large assets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Free-form JSON object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Who added it.
    pub created_by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Set on assets that came in with an imported document (`created_by`
    /// is then the importing user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportedFrom>,
}

/// One change in a session's stream: the live feed, the recovery source and
/// the audit trail (SPEC §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Position in the session stream (gapless, from 1).
    pub offset: u64,
    /// Event type, e.g. `chat.message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who caused it (`system` for the sweeper).
    pub actor: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// What a client needs to apply the change without refetching.
    pub data: Value,
    /// Set on events that came in with an imported document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportedEvent>,
}

/// A message's offset is 0 until its event is stored (and left out then).
fn offset_unassigned(offset: &u64) -> bool {
    *offset == 0
}
