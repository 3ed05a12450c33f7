//! The events of a session's stream, as one typed enum (SPEC §2).
//!
//! Every stored change of a session is one [`SessionEvent`]: the domain builds
//! it with typed fields, [`SessionEvent::into_parts`] turns it into the stored
//! and published form (`type` + `data`, see [`Event`]) in this one place, and
//! replay, import and export read it back with [`SessionEvent::decode`]. The
//! OpenAPI document carries its schema, and `frontend/src/generated/
//! session-events.json` (checked by a Rust test and a frontend test) lists
//! its types and fields so the UI cannot drift from the server.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use super::model::{Asset, ChatMessage, Collaborator, Event, Mission, Session, SessionStatus};

/// One change in a session's stream, with its payload. Serialised as
/// `{"type": "<type>", "data": {...}}`, the `type` and `data` of an [`Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum SessionEvent {
    /// The session was created.
    #[serde(rename = "session.created")]
    SessionCreated {
        /// The new session.
        session: Session,
    },
    /// The session was created from an exported document (whose events precede this one).
    #[serde(rename = "session.imported")]
    SessionImported(Copied),
    /// The session was created from another one's history (which precedes this event).
    #[serde(rename = "session.forked")]
    SessionForked(Copied),
    /// The name and/or metadata changed (only what changed is present).
    #[serde(rename = "session.updated")]
    SessionUpdated {
        /// The new name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The whole metadata after the change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Map<String, Value>>,
    },
    /// The lifecycle status changed.
    #[serde(rename = "session.status_changed")]
    StatusChanged {
        /// Before.
        from: SessionStatus,
        /// After.
        to: SessionStatus,
    },
    /// The session was deleted (the last event of its stream).
    #[serde(rename = "session.deleted")]
    SessionDeleted {
        /// The deleted session.
        session_id: Uuid,
    },
    /// A collaborator was added.
    #[serde(rename = "collaborator.added")]
    CollaboratorAdded {
        /// Who, with which role.
        collaborator: Collaborator,
    },
    /// A collaborator's role changed.
    #[serde(rename = "collaborator.updated")]
    CollaboratorUpdated {
        /// Who, with the new role.
        collaborator: Collaborator,
    },
    /// A collaborator was removed.
    #[serde(rename = "collaborator.removed")]
    CollaboratorRemoved {
        /// Who.
        user_id: String,
    },
    /// A chat message. The message's offset is the event's own, so it is
    /// left out of the payload.
    #[serde(rename = "chat.message")]
    ChatMessage {
        /// The message (without `offset`).
        message: ChatMessage,
    },
    /// A mission was attached to the session.
    #[serde(rename = "mission.linked")]
    MissionLinked {
        /// The mission as attached. Kept as a document: replay applies
        /// patches to it under the patch budget before decoding it once.
        #[schema(value_type = Mission)]
        mission: Value,
    },
    /// The mission was patched (RFC 6902), then hop statuses rolled up.
    #[serde(rename = "mission.updated")]
    MissionUpdated {
        /// The mission.
        mission_id: Uuid,
        /// The revision the patch was made against.
        base_revision: u64,
        /// The revision after it.
        revision: u64,
        /// The operations.
        #[schema(value_type = Vec<Object>)]
        patch: json_patch::Patch,
    },
    /// An asset was added.
    #[serde(rename = "asset.added")]
    AssetAdded {
        /// The asset.
        asset: Asset,
    },
    /// An asset was deleted.
    #[serde(rename = "asset.removed")]
    AssetRemoved {
        /// Which.
        asset_id: Uuid,
    },
}

/// The payload of `session.imported` and `session.forked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Copied {
    /// The new session.
    pub session: Session,
    /// Its mission as copied (`null` when there is none).
    #[schema(value_type = Option<Mission>)]
    pub mission: Option<Value>,
    /// Where the history came from.
    pub from: CopySource,
}

/// The origin of a copied history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CopySource {
    /// The session the history was taken from.
    pub session_id: Uuid,
    /// For a fork: the last event taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Why a stored or imported event could not be read as a [`SessionEvent`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EventDecodeError(String);

impl SessionEvent {
    /// The stored form: the event's type and its data.
    pub fn into_parts(self) -> (String, Value) {
        let kind = self.kind().to_owned();
        // An enum of plain data always serialises, as `{"type", "data"}`.
        let data = match serde_json::to_value(self) {
            Ok(Value::Object(mut fields)) => fields.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (kind, data)
    }

    /// Reads a stored event. `Ok(None)` for a type this version does not
    /// know (written by a newer one: readers skip it).
    pub fn decode(event: &Event) -> Result<Option<Self>, EventDecodeError> {
        if !Self::is_known(&event.kind) {
            return Ok(None);
        }
        let tagged = serde_json::json!({ "type": event.kind, "data": event.data });
        serde_json::from_value(tagged)
            .map(Some)
            .map_err(|e| EventDecodeError(e.to_string()))
    }

    /// Whether `kind` is one of the types above.
    pub fn is_known(kind: &str) -> bool {
        Self::TYPES.contains(&kind)
    }

    /// Every event type, in the order of the enum.
    pub const TYPES: &'static [&'static str] = &[
        "session.created",
        "session.imported",
        "session.forked",
        "session.updated",
        "session.status_changed",
        "session.deleted",
        "collaborator.added",
        "collaborator.updated",
        "collaborator.removed",
        "chat.message",
        "mission.linked",
        "mission.updated",
        "asset.added",
        "asset.removed",
    ];

    /// This event's type (matches [`Self::TYPES`]; the match is exhaustive,
    /// so a new variant cannot be forgotten here).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SessionCreated { .. } => "session.created",
            Self::SessionImported(_) => "session.imported",
            Self::SessionForked(_) => "session.forked",
            Self::SessionUpdated { .. } => "session.updated",
            Self::StatusChanged { .. } => "session.status_changed",
            Self::SessionDeleted { .. } => "session.deleted",
            Self::CollaboratorAdded { .. } => "collaborator.added",
            Self::CollaboratorUpdated { .. } => "collaborator.updated",
            Self::CollaboratorRemoved { .. } => "collaborator.removed",
            Self::ChatMessage { .. } => "chat.message",
            Self::MissionLinked { .. } => "mission.linked",
            Self::MissionUpdated { .. } => "mission.updated",
            Self::AssetAdded { .. } => "asset.added",
            Self::AssetRemoved { .. } => "asset.removed",
        }
    }
}

/// The event types and the fields of each payload, read from the enum's
/// OpenAPI schema: what `frontend/src/generated/session-events.json` holds.
pub fn catalogue() -> Value {
    let schema = serde_json::to_value(SessionEvent::schema()).unwrap_or(Value::Null);
    let mut out = Map::new();
    let variants = schema
        .get("oneOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for variant in variants {
        let props = &variant["properties"];
        let Some(kind) = props["type"]["enum"][0].as_str() else {
            continue;
        };
        let data = &props["data"];
        // A struct payload is inline or a `$ref` to a component (Copied).
        let copied;
        let payload = match data.get("$ref").and_then(Value::as_str) {
            Some(r) if r.ends_with("/Copied") => {
                copied = serde_json::to_value(Copied::schema()).unwrap_or(Value::Null);
                &copied
            }
            _ => data,
        };
        let fields: Vec<Value> = payload["properties"]
            .as_object()
            .map(|p| p.keys().map(|k| Value::String(k.clone())).collect())
            .unwrap_or_default();
        out.insert(kind.to_owned(), Value::Array(fields));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_list_matches_the_schema() {
        let catalogue = catalogue();
        let from_schema: Vec<&str> = catalogue
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut listed: Vec<&str> = SessionEvent::TYPES.to_vec();
        listed.sort_unstable();
        let mut from_schema = from_schema;
        from_schema.sort_unstable();
        assert_eq!(listed, from_schema);
    }

    #[test]
    fn parts_round_trip_and_unknown_types_are_skipped() {
        let event = SessionEvent::AssetRemoved {
            asset_id: Uuid::nil(),
        };
        let (kind, data) = event.clone().into_parts();
        assert_eq!(kind, "asset.removed");
        assert_eq!(data, serde_json::json!({ "asset_id": Uuid::nil() }));
        let stored = Event {
            offset: 1,
            kind,
            actor: "a".into(),
            at: chrono::Utc::now(),
            data,
            imported: None,
        };
        assert_eq!(SessionEvent::decode(&stored).ok().flatten(), Some(event));
        let unknown = Event {
            kind: "future.thing".into(),
            ..stored.clone()
        };
        assert!(matches!(SessionEvent::decode(&unknown), Ok(None)));
        let malformed = Event {
            data: serde_json::json!({ "asset_id": 7 }),
            ..stored
        };
        assert!(SessionEvent::decode(&malformed).is_err());
    }
}

#[cfg(test)]
mod generated {
    use super::catalogue;

    /// The frontend's copy of the event catalogue is what the server has.
    /// `TANDEM_UPDATE_GENERATED=1 cargo test --lib generated` rewrites it.
    #[test]
    fn frontend_catalogue_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("frontend/src/generated/session-events.json");
        let mut expected = serde_json::to_string_pretty(&catalogue()).unwrap_or_default();
        expected.push('\n');
        if std::env::var_os("TANDEM_UPDATE_GENERATED").is_some() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).ok();
            }
            std::fs::write(&path, &expected).ok();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            actual,
            expected,
            "{} is stale: run TANDEM_UPDATE_GENERATED=1 cargo test --lib generated",
            path.display()
        );
    }
}
