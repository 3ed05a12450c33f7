//! Checks of an imported document (SPEC §6a: import is validated like new
//! writes): each event's own payload against the write limits, the state the
//! events replay to, and the agreement of the document's lists with it; and
//! the re-attribution of imported events and messages to the importer.
//!
//! Every check costs in proportion to the document (bounded by the import
//! body limit); mission patches are replayed by the bounded patch engine.

use std::collections::HashSet;

use serde_json::Value;
use uuid::Uuid;

use super::assets::check_scope;
use super::error::DomainError;
use super::events::SessionEvent;
use super::limits::DomainLimits;
use super::model::{Asset, ChatMessage, Event, ImportedEvent, ImportedFrom, Mission};
use super::replay::Replayed;
use super::validate;

/// Levels above an event's `data` in an export document (document → events
/// → event → data); a payload deeper than the limit plus what sits around
/// user documents inside it (data → session → metadata) is refused.
const EVENT_DATA_SLACK: usize = 2;

fn invalid(event: &Event, why: impl std::fmt::Display) -> DomainError {
    DomainError::Invalid(format!(
        "event {} ({}) is not valid: {why}",
        event.offset, event.kind
    ))
}

/// Checks one event's payload and re-attributes it to `importer`: the event
/// and, for a chat message or an asset, the message's author and the asset's
/// creator; the original names are kept as `imported` marks.
pub fn mark(
    mut event: Event,
    importer: &str,
    origin: Uuid,
    limits: &DomainLimits,
) -> Result<Event, DomainError> {
    check_payload(&event, limits)?;
    let original = std::mem::replace(&mut event.actor, importer.to_owned());
    // A document exported from an imported session keeps its first origin.
    if event.imported.is_none() {
        event.imported = Some(ImportedEvent { actor: original });
    }
    let field = match event.kind.as_str() {
        "chat.message" => Some(("message", "author")),
        "asset.added" => Some(("asset", "created_by")),
        _ => None,
    };
    if let Some((object, author_field)) = field {
        let target = event
            .data
            .get_mut(object)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                DomainError::Invalid(format!("a {object} event without its {object}"))
            })?;
        let author = target
            .get(author_field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        target.insert(author_field.into(), Value::String(importer.to_owned()));
        if target.get("imported").is_none_or(|v| v.is_null()) {
            let mark = ImportedFrom {
                author,
                session_id: origin,
            };
            let mark =
                serde_json::to_value(mark).map_err(|e| DomainError::Invalid(e.to_string()))?;
            target.insert("imported".into(), mark);
        }
    }
    Ok(event)
}

/// What one event brings in, checked against the limits of the write that
/// makes such an event.
fn check_payload(event: &Event, limits: &DomainLimits) -> Result<(), DomainError> {
    validate::depth(
        "event data",
        &event.data,
        0,
        &DomainLimits {
            max_json_depth: limits.max_json_depth + EVENT_DATA_SLACK,
            ..limits.clone()
        },
    )?;
    validate::user_id(&event.actor).map_err(|e| invalid(event, e))?;
    let Some(decoded) = SessionEvent::decode(event).map_err(|e| invalid(event, e))? else {
        return Err(invalid(event, "unknown event type"));
    };
    match decoded {
        SessionEvent::SessionCreated { session } => {
            validate::name("name", &session.name, limits)?;
            validate::metadata("metadata", &session.metadata, limits)?;
        }
        SessionEvent::SessionImported(copied) | SessionEvent::SessionForked(copied) => {
            validate::name("name", &copied.session.name, limits)?;
            validate::metadata("metadata", &copied.session.metadata, limits)?;
            if let Some(mission) = copied.mission.filter(|m| !m.is_null()) {
                let mission: Mission =
                    serde_json::from_value(mission).map_err(|e| invalid(event, e))?;
                validate::mission(&mission, limits)?;
            }
        }
        SessionEvent::SessionUpdated { name, metadata } => {
            if let Some(name) = name {
                validate::name("name", &name, limits)?;
            }
            if let Some(meta) = metadata {
                validate::metadata("metadata", &meta, limits)?;
            }
        }
        SessionEvent::CollaboratorAdded { collaborator }
        | SessionEvent::CollaboratorUpdated { collaborator } => {
            validate::user_id(&collaborator.user_id)?;
        }
        SessionEvent::ChatMessage { message } => validate::message(&message, limits)?,
        SessionEvent::AssetAdded { asset } => validate::asset(&asset, limits)?,
        SessionEvent::MissionLinked { mission } => {
            let mission: Mission =
                serde_json::from_value(mission).map_err(|e| invalid(event, e))?;
            validate::mission(&mission, limits)?;
        }
        SessionEvent::MissionUpdated { patch, .. } => {
            if patch.0.len() > limits.max_patch_ops {
                return Err(validate::too_large(
                    "patch",
                    format!("{} operations", limits.max_patch_ops),
                    "TANDEM_MAX_PATCH_OPS",
                ));
            }
        }
        SessionEvent::StatusChanged { .. }
        | SessionEvent::SessionDeleted { .. }
        | SessionEvent::CollaboratorRemoved { .. }
        | SessionEvent::AssetRemoved { .. } => {}
    }
    Ok(())
}

/// The document's own lists must be what its events say.
pub fn check_agrees(
    state: &Replayed,
    messages: &[ChatMessage],
    assets: &[Asset],
    mission: Option<&Mission>,
) -> Result<(), DomainError> {
    let ids = |m: &[ChatMessage]| m.iter().map(|m| (m.id, m.offset)).collect::<Vec<_>>();
    if ids(messages) != ids(&state.messages) {
        return Err(DomainError::Invalid(
            "the document's messages are not those of its events (each message needs the id and the offset of its event)".into(),
        ));
    }
    let asset_ids = |a: &[Asset]| a.iter().map(|a| a.id).collect::<Vec<_>>();
    if asset_ids(assets) != asset_ids(&state.assets) {
        return Err(DomainError::Invalid(
            "the document's assets are not those of its events".into(),
        ));
    }
    let key = |m: Option<&Mission>| m.map(|m| (m.id, m.revision));
    if key(mission) != key(state.mission.as_ref()) {
        return Err(DomainError::Invalid(
            "the document's mission is not that of its events".into(),
        ));
    }
    Ok(())
}

/// The state the events replay to obeys every limit of a live session.
pub fn check_state(state: &Replayed, limits: &DomainLimits) -> Result<(), DomainError> {
    if state.deleted {
        return Err(DomainError::Invalid(
            "the document's history ends with the session's deletion".into(),
        ));
    }
    if let Some(session) = &state.session {
        validate::name("name", &session.name, limits)?;
        validate::metadata("metadata", &session.metadata, limits)?;
    }
    if let Some(mission) = &state.mission {
        validate::mission(mission, limits)?;
    }
    let mut ids = HashSet::new();
    for message in &state.messages {
        if !ids.insert(message.id) {
            return Err(DomainError::Invalid(format!(
                "message {} appears twice",
                message.id
            )));
        }
        validate::message(message, limits)?;
    }
    if state.assets.len() > limits.max_assets {
        return Err(validate::too_large(
            "assets",
            format!("{} per session", limits.max_assets),
            "TANDEM_MAX_ASSETS",
        ));
    }
    let mut ids = HashSet::new();
    for asset in &state.assets {
        if !ids.insert(asset.id) {
            return Err(DomainError::Invalid(format!(
                "asset {} appears twice",
                asset.id
            )));
        }
        validate::asset(asset, limits)?;
        check_scope(&asset.scope, state.mission.as_ref())?;
    }
    Ok(())
}
