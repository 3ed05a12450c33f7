//! Validation limits of the domain, all configurable (`TANDEM_MAX_…`), and
//! enforced by [`super::validate`] for every entry point (REST, RPC, import,
//! server API) alike.

use std::time::Duration;

/// Limits on what clients may store.
#[derive(Debug, Clone)]
pub struct DomainLimits {
    /// Longest session name, mission title, hop/step/asset name, in characters.
    pub max_name_chars: usize,
    /// Largest chat message content, in bytes.
    pub max_message_bytes: usize,
    /// Largest metadata object (session, message or asset), in bytes of JSON.
    pub max_metadata_bytes: usize,
    /// Most JSON Patch operations in one mission edit.
    pub max_patch_ops: usize,
    /// Most collaborators per session, the owner included.
    pub max_collaborators: usize,
    /// Largest inline asset content, in bytes.
    pub max_asset_bytes: usize,
    /// Most assets per session.
    pub max_assets: usize,
    /// Largest serialised mission, in bytes.
    pub max_mission_bytes: usize,
    /// Deepest nesting of any stored JSON document (metadata, a whole
    /// mission, a patch value), counted from the document's root.
    pub max_json_depth: usize,
    /// Bytes a single request may make the JSON Patch engine copy, compare or
    /// remove in total (all operations of a patch; every patch of an import).
    pub max_patch_work_bytes: usize,
    /// Most sessions one user may own.
    pub max_sessions_per_user: usize,
    /// Activity pings closer together than this are not stored again.
    pub activity_interval: Duration,
    /// At most one `session.activity` notice per session this often.
    pub activity_notice_interval: Duration,
}

impl Default for DomainLimits {
    fn default() -> Self {
        Self {
            max_name_chars: 200,
            max_message_bytes: 16 * 1024,
            max_metadata_bytes: 8 * 1024,
            max_patch_ops: 100,
            max_collaborators: 50,
            max_asset_bytes: 32 * 1024,
            max_assets: 100,
            max_mission_bytes: 256 * 1024,
            max_json_depth: 32,
            max_patch_work_bytes: 16 * 1024 * 1024,
            max_sessions_per_user: 10_000,
            activity_interval: Duration::from_secs(10),
            activity_notice_interval: Duration::from_secs(1),
        }
    }
}

/// Structural levels a stored record adds above a user-supplied document
/// (record → session → metadata, event → data → mission, export → events →
/// event → data → …). [`MAX_JSON_DEPTH_SETTING`] keeps the sum below
/// serde_json's recursion limit (128), so whatever is accepted reads back.
pub const STORAGE_NESTING: usize = 8;

/// Highest value `TANDEM_MAX_JSON_DEPTH` may take.
pub const MAX_JSON_DEPTH_SETTING: usize = 128 - STORAGE_NESTING - 8;
