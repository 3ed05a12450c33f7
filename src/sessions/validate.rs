//! The one validator (SPEC §6a): every write path — REST, RPC, import, the
//! server API — checks what it stores here, against [`DomainLimits`], so a
//! limit can never be bypassed by choosing another entry point.
//!
//! Checks are about what a document *is* (size in bytes of JSON, nesting
//! depth, string lengths and characters, media types, unique ids), never
//! about who sends it (that is the service's job). A refusal names the limit
//! and its setting; nothing is stored.

use std::collections::HashSet;
use std::io::Write;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::DomainError;
use super::limits::DomainLimits;
use super::model::{Asset, ChatMessage, MessageRole, Mission};

/// Longest user id, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;
/// Longest hop or step id, in bytes.
pub const MAX_ITEM_ID_BYTES: usize = 64;
/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;
/// Longest asset URI, in bytes.
pub const MAX_URI_BYTES: usize = 2048;
/// Longest media type, in bytes.
pub const MAX_MEDIA_TYPE_BYTES: usize = 255;

/// A refusal for being over a limit, naming the setting that sets it.
pub fn too_large(what: &'static str, limit: String, setting: &'static str) -> DomainError {
    DomainError::TooLarge {
        what,
        limit,
        setting,
    }
}

/// Counts bytes written, so a value's JSON size is known without building it.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size of `value` serialised as compact JSON, in bytes (no allocation).
pub fn json_size<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// How deeply `value` nests: 0 for a scalar, 1 for `{}` or `[]` of scalars.
/// Iterative, so a hostile document cannot exhaust the stack here.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Array(items) => {
                deepest = deepest.max(depth + 1);
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(depth + 1);
                stack.extend(map.values().map(|v| (v, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Checks the nesting depth of a document whose root sits `at` levels deep.
pub fn depth(
    what: &'static str,
    value: &Value,
    at: usize,
    limits: &DomainLimits,
) -> Result<(), DomainError> {
    if at + json_depth(value) > limits.max_json_depth {
        return Err(too_large(
            what,
            format!("{} levels of nesting", limits.max_json_depth),
            "TANDEM_MAX_JSON_DEPTH",
        ));
    }
    Ok(())
}

/// A metadata object: size and depth.
pub fn metadata(
    what: &'static str,
    metadata: &Map<String, Value>,
    limits: &DomainLimits,
) -> Result<(), DomainError> {
    if json_size(metadata) > limits.max_metadata_bytes {
        return Err(too_large(
            what,
            format!("{} bytes", limits.max_metadata_bytes),
            "TANDEM_MAX_METADATA_BYTES",
        ));
    }
    // A map is one level; its values nest below it.
    let deepest = metadata.values().map(json_depth).max().unwrap_or(0);
    if 1 + deepest > limits.max_json_depth {
        return Err(too_large(
            what,
            format!("{} levels of nesting", limits.max_json_depth),
            "TANDEM_MAX_JSON_DEPTH",
        ));
    }
    Ok(())
}

/// Characters that change how text around them is displayed: C0/C1
/// controls (NUL, ESC of ANSI sequences, …) and the Unicode bidirectional
/// controls (Trojan Source: embeddings, overrides, isolates, marks).
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

fn forbidden_char(what: &'static str, text: &str) -> Result<(), DomainError> {
    match text.chars().find(|c| is_forbidden_char(*c)) {
        Some(c) => Err(DomainError::Invalid(format!(
            "{what} must not contain control or bidirectional formatting characters (found U+{:04X})",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// A display name (session, mission title, hop, step, asset): trimmed,
/// non-empty, at most `max_name_chars`, no control or bidi characters.
pub fn name(what: &'static str, text: &str, limits: &DomainLimits) -> Result<String, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::Invalid(format!("{what} must not be empty")));
    }
    if text.chars().count() > limits.max_name_chars {
        return Err(too_large(
            what,
            format!("{} characters", limits.max_name_chars),
            "TANDEM_MAX_NAME_CHARS",
        ));
    }
    forbidden_char(what, text)?;
    Ok(text.to_owned())
}

/// A user id: 1 to 128 bytes, no control or bidi characters, no surrounding spaces.
pub fn user_id(user: &str) -> Result<(), DomainError> {
    if user.is_empty() || user.len() > MAX_USER_ID_BYTES || user.trim() != user {
        return Err(DomainError::Invalid(format!(
            "user ids are 1 to {MAX_USER_ID_BYTES} bytes without surrounding spaces"
        )));
    }
    forbidden_char("a user id", user)
}

/// A hop or step id: 1 to 64 bytes of visible characters.
pub fn item_id(what: &'static str, id: &str) -> Result<(), DomainError> {
    if id.is_empty() || id.len() > MAX_ITEM_ID_BYTES || id.chars().any(char::is_whitespace) {
        return Err(DomainError::Invalid(format!(
            "{what} ids are 1 to {MAX_ITEM_ID_BYTES} bytes without spaces ({id:?})"
        )));
    }
    forbidden_char(what, id)
}

/// An idempotency key: 1 to 128 bytes.
pub fn idempotency_key(key: &str) -> Result<(), DomainError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(DomainError::Invalid(format!(
            "idempotency keys are 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Chat message text: not blank, at most `max_message_bytes`. Line breaks
/// and tabs are text; other control characters are refused.
pub fn message_content(content: &str, limits: &DomainLimits) -> Result<(), DomainError> {
    if content.trim().is_empty() {
        return Err(DomainError::Invalid("content must not be empty".into()));
    }
    if content.len() > limits.max_message_bytes {
        return Err(too_large(
            "message content",
            format!("{} bytes", limits.max_message_bytes),
            "TANDEM_MAX_MESSAGE_BYTES",
        ));
    }
    if let Some(c) = content
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DomainError::Invalid(format!(
            "content must not contain control characters (found U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(())
}

/// The role of a message posted by an application backend (server API):
/// `assistant`, `system` or `tool`; `user` is for people.
pub fn server_role(role: MessageRole) -> Result<(), DomainError> {
    match role {
        MessageRole::Assistant | MessageRole::System | MessageRole::Tool => Ok(()),
        MessageRole::User => Err(DomainError::Invalid(
            "the server API posts as assistant, system or tool; user messages come from users"
                .into(),
        )),
    }
}

/// Longest type of an ephemeral event, in bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 64;

/// Event types of the session stream (stored, replayed): an ephemeral event
/// may not take one, so a client never mistakes it for a change.
const STORED_EVENT_PREFIXES: [&str; 5] = [
    "session.",
    "collaborator.",
    "asset.",
    "chat.message",
    "mission.linked",
];

/// The type of an ephemeral event (server API): 1 to 64 bytes of lowercase
/// letters, digits, `.`, `_` and `-`, starting with a letter, and not a
/// stored event's type (`mission.updated`, `chat.message`, `session.*`, …).
pub fn event_type(kind: &str) -> Result<(), DomainError> {
    let shaped = kind.len() <= MAX_EVENT_TYPE_BYTES
        && kind.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !shaped {
        return Err(DomainError::Invalid(format!(
            "event types are 1 to {MAX_EVENT_TYPE_BYTES} bytes of a-z, 0-9, '.', '_', '-', starting with a letter"
        )));
    }
    if kind == "mission.updated" || STORED_EVENT_PREFIXES.iter().any(|p| kind.starts_with(p)) {
        return Err(DomainError::Invalid(format!(
            "{kind} is a stored event type; ephemeral events take their own"
        )));
    }
    Ok(())
}

/// The data of an ephemeral event: any JSON value within the metadata
/// limits (`TANDEM_MAX_METADATA_BYTES`, `TANDEM_MAX_JSON_DEPTH`).
pub fn event_data(data: &Value, limits: &DomainLimits) -> Result<(), DomainError> {
    if json_size(data) > limits.max_metadata_bytes {
        return Err(too_large(
            "event data",
            format!("{} bytes", limits.max_metadata_bytes),
            "TANDEM_MAX_METADATA_BYTES",
        ));
    }
    depth("event data", data, 0, limits)
}

/// A chat message as it will be stored (new, or from an import).
pub fn message(message: &ChatMessage, limits: &DomainLimits) -> Result<(), DomainError> {
    message_content(&message.content, limits)?;
    user_id(&message.author)?;
    if let Some(meta) = &message.metadata {
        metadata("message metadata", meta, limits)?;
    }
    if let Some(key) = &message.idempotency_key {
        idempotency_key(key)?;
    }
    Ok(())
}

/// A media type: `type/subtype` (RFC 6838 restricted names) with optional
/// parameters.
pub fn media_type(text: &str) -> Result<(), DomainError> {
    let bad = || {
        DomainError::Invalid(format!(
            "media_type must be a media type like text/plain (got {:?})",
            text.chars().take(64).collect::<String>()
        ))
    };
    if text.len() > MAX_MEDIA_TYPE_BYTES {
        return Err(bad());
    }
    let essence = text.split(';').next().unwrap_or_default().trim();
    let restricted = |name: &str| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && name.len() <= 127
            && chars.all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if restricted(kind) && restricted(sub) => {}
        _ => return Err(bad()),
    }
    // Parameters, when there are any, must parse.
    text.parse::<mime::Mime>().map(|_| ()).map_err(|_| bad())
}

/// An asset URI: an absolute URL of at most 2048 bytes.
pub fn uri(text: &str) -> Result<(), DomainError> {
    if text.len() > MAX_URI_BYTES {
        return Err(too_large(
            "asset uri",
            format!("{MAX_URI_BYTES} bytes"),
            "a protocol constant",
        ));
    }
    url::Url::parse(text)
        .map_err(|e| DomainError::Invalid(format!("uri must be an absolute URL: {e}")))?;
    Ok(())
}

/// Inline content and URI of an asset: exactly one of them, within limits.
pub fn asset_content(
    content: Option<&str>,
    uri_text: Option<&str>,
    limits: &DomainLimits,
) -> Result<(), DomainError> {
    match (content, uri_text) {
        (Some(content), None) => {
            if content.len() > limits.max_asset_bytes {
                return Err(too_large(
                    "inline asset content",
                    format!(
                        "{} bytes (use a uri for larger assets)",
                        limits.max_asset_bytes
                    ),
                    "TANDEM_MAX_ASSET_BYTES",
                ));
            }
            Ok(())
        }
        (None, Some(text)) => uri(text),
        _ => Err(DomainError::Invalid(
            "give exactly one of content and uri".into(),
        )),
    }
}

/// An asset as it will be stored (new, or from an import). Scope checks
/// need the mission and are the service's.
pub fn asset(asset: &Asset, limits: &DomainLimits) -> Result<(), DomainError> {
    name("asset name", &asset.name, limits)?;
    media_type(&asset.media_type)?;
    asset_content(asset.content.as_deref(), asset.uri.as_deref(), limits)?;
    metadata("asset metadata", &asset.metadata, limits)?;
    user_id(&asset.created_by)
}

/// A whole mission: title, names, unique ids, size and depth.
pub fn mission(mission: &Mission, limits: &DomainLimits) -> Result<(), DomainError> {
    name("mission title", &mission.title, limits)?;
    let mut hop_ids = HashSet::new();
    let mut step_ids = HashSet::new();
    for hop in &mission.hops {
        item_id("hop", &hop.id)?;
        if !hop_ids.insert(hop.id.as_str()) {
            return Err(DomainError::Invalid(format!(
                "hop ids must be unique ({:?} is used twice)",
                hop.id
            )));
        }
        name("hop name", &hop.name, limits)?;
        for step in &hop.steps {
            item_id("step", &step.id)?;
            if !step_ids.insert(step.id.as_str()) {
                return Err(DomainError::Invalid(format!(
                    "step ids must be unique ({:?} is used twice)",
                    step.id
                )));
            }
            name("step name", &step.name, limits)?;
            if step.tool.chars().count() > limits.max_name_chars {
                return Err(too_large(
                    "step tool",
                    format!("{} characters", limits.max_name_chars),
                    "TANDEM_MAX_NAME_CHARS",
                ));
            }
            forbidden_char("step tool", &step.tool)?;
        }
    }
    if json_size(mission) > limits.max_mission_bytes {
        return Err(too_large(
            "mission",
            format!("{} bytes", limits.max_mission_bytes),
            "TANDEM_MAX_MISSION_BYTES",
        ));
    }
    // Inputs and outputs are the free-form part: mission → hops → hop →
    // steps → step → inputs is five levels above their root.
    const STEP_VALUE_AT: usize = 5;
    for step in mission.hops.iter().flat_map(|h| &h.steps) {
        depth("step inputs", &step.inputs, STEP_VALUE_AT, limits)?;
        depth("step outputs", &step.outputs, STEP_VALUE_AT, limits)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn size_and_depth_are_exact() {
        let v = json!({"a": [1, {"b": "x"}], "c": null});
        assert_eq!(json_size(&v), serde_json::to_vec(&v).unwrap().len());
        assert_eq!(json_depth(&v), 3);
        assert_eq!(json_depth(&json!(3)), 0);
        assert_eq!(json_depth(&json!([])), 1);
        assert_eq!(json_depth(&nested(100)), 100);
    }

    #[test]
    fn metadata_depth_is_limited() {
        let limits = DomainLimits::default();
        let ok = nested(limits.max_json_depth - 1);
        let map = ok.as_object().unwrap().clone();
        assert!(metadata("metadata", &map, &limits).is_ok());
        let deep = nested(limits.max_json_depth + 1);
        let err = metadata("metadata", deep.as_object().unwrap(), &limits).unwrap_err();
        assert!(err.to_string().contains("TANDEM_MAX_JSON_DEPTH"), "{err}");
    }

    #[test]
    fn names_refuse_controls_and_bidi_overrides() {
        let limits = DomainLimits::default();
        assert_eq!(name("name", "  Plan  ", &limits).unwrap(), "Plan");
        for bad in [
            "a\u{0}b",
            "\u{1b}[31mred",
            "abc\u{202E}def",
            "x\u{2066}y",
            "\u{200F}",
        ] {
            assert!(name("name", bad, &limits).is_err(), "{bad:?}");
        }
        assert!(name("name", "   ", &limits).is_err());
        assert!(name("name", &"é".repeat(201), &limits).is_err());
        assert!(name("name", "Ünïcødé ✓ 日本", &limits).is_ok());
    }

    #[test]
    fn media_types_and_uris() {
        assert!(media_type("text/plain").is_ok());
        assert!(media_type("text/plain; charset=utf-8").is_ok());
        assert!(media_type("application/vnd.api+json").is_ok());
        for bad in [
            "",
            "text",
            "text/",
            "*/*",
            "text/plain/x",
            "a b/c",
            "x/\u{0}",
        ] {
            assert!(media_type(bad).is_err(), "{bad:?}");
        }
        assert!(uri("https://example.com/a.png").is_ok());
        assert!(uri("s3://bucket/key").is_ok());
        assert!(uri("not a uri").is_err());
        assert!(uri(&format!("https://e.com/{}", "a".repeat(3000))).is_err());
    }

    #[test]
    fn server_roles_and_event_types() {
        assert!(server_role(MessageRole::Assistant).is_ok());
        assert!(server_role(MessageRole::Tool).is_ok());
        assert!(server_role(MessageRole::System).is_ok());
        assert!(server_role(MessageRole::User).is_err());
        for ok in ["agent.thinking", "tool.progress", "chat.typing", "x1-y_z"] {
            assert!(event_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Agent",
            "1abc",
            "a b",
            "chat.message",
            "mission.updated",
            "session.deleted",
            "asset.added",
            &"a".repeat(65),
        ] {
            assert!(event_type(bad).is_err(), "{bad:?}");
        }
        let limits = DomainLimits::default();
        assert!(event_data(&json!({"step": 1}), &limits).is_ok());
        let big = json!("x".repeat(limits.max_metadata_bytes));
        assert!(event_data(&big, &limits).is_err());
    }

    #[test]
    fn message_content_keeps_line_breaks_but_not_other_controls() {
        let limits = DomainLimits::default();
        assert!(message_content("two\nlines\tand a tab", &limits).is_ok());
        assert!(message_content("bell\u{7}", &limits).is_err());
        assert!(message_content(" \n ", &limits).is_err());
    }
}
