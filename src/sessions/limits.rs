//! Validation limits of the domain, all configurable (`TANDEM_MAX_…`).

use std::time::Duration;

/// Limits on what clients may store.
#[derive(Debug, Clone)]
pub struct DomainLimits {
    /// Longest session name or mission title, in characters.
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
    /// Largest serialised mission, in bytes.
    pub max_mission_bytes: usize,
    /// Activity pings closer together than this are not stored again.
    pub activity_interval: Duration,
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
            max_mission_bytes: 256 * 1024,
            activity_interval: Duration::from_secs(10),
        }
    }
}
