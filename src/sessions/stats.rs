//! Session statistics: messages per author and role, events per type, tool
//! steps per status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::DomainError;
use super::service::SessionService;
use crate::sessions::store::MessageRange;

/// Counts over a whole session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionStats {
    /// Messages in total.
    pub messages: u64,
    /// Messages per author.
    pub messages_by_author: BTreeMap<String, u64>,
    /// Messages per role.
    pub messages_by_role: BTreeMap<String, u64>,
    /// Events in total.
    pub events: u64,
    /// Events per type.
    pub events_by_type: BTreeMap<String, u64>,
    /// Tool steps of the mission per status.
    pub steps_by_status: BTreeMap<String, u64>,
}

fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl SessionService {
    /// Statistics of a session the caller can see.
    pub async fn stats(&self, actor: &str, id: Uuid) -> Result<SessionStats, DomainError> {
        let (record, _) = self.load_visible(actor, id).await?;
        let mut stats = SessionStats::default();
        let range = MessageRange {
            limit: usize::MAX,
            ..Default::default()
        };
        for m in self.store().messages(id, range).await? {
            stats.messages += 1;
            *stats.messages_by_author.entry(m.author).or_default() += 1;
            *stats.messages_by_role.entry(name_of(&m.role)).or_default() += 1;
        }
        for e in self.store().events(id, 1, usize::MAX).await? {
            stats.events += 1;
            *stats.events_by_type.entry(e.kind).or_default() += 1;
        }
        for step in record
            .mission
            .iter()
            .flat_map(|m| &m.hops)
            .flat_map(|h| &h.steps)
        {
            *stats
                .steps_by_status
                .entry(name_of(&step.status))
                .or_default() += 1;
        }
        Ok(stats)
    }
}
