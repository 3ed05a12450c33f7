//! Presence entries per channel, each with an expiry refreshed by `add`.

use std::collections::HashMap;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

use crate::engine::{ClientInfo, PresenceMap};

pub(super) struct PresenceTable {
    map: DashMap<String, HashMap<String, (ClientInfo, Instant)>>,
    ttl: Duration,
}

impl PresenceTable {
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            map: DashMap::new(),
            ttl,
        }
    }

    pub(super) fn add(&self, channel: &str, info: &ClientInfo) {
        let expires = Instant::now() + self.ttl;
        self.map
            .entry(channel.to_owned())
            .or_default()
            .insert(info.client.clone(), (info.clone(), expires));
    }

    pub(super) fn remove(&self, channel: &str, client_id: &str) {
        let now_empty = match self.map.get_mut(channel) {
            Some(mut entries) => {
                entries.remove(client_id);
                entries.is_empty()
            }
            None => false,
        };
        if now_empty {
            self.map.remove_if(channel, |_, entries| entries.is_empty());
        }
    }

    pub(super) fn list(&self, channel: &str) -> PresenceMap {
        let now = Instant::now();
        self.map
            .get(channel)
            .map(|entries| {
                entries
                    .iter()
                    .filter(|(_, (_, expires))| *expires > now)
                    .map(|(id, (info, _))| (id.clone(), info.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn purge_expired(&self) {
        let now = Instant::now();
        self.map.retain(|_, entries| {
            entries.retain(|_, (_, expires)| *expires > now);
            !entries.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(client: &str, user: &str) -> ClientInfo {
        ClientInfo {
            user: user.into(),
            client: client.into(),
            conn_info: None,
            chan_info: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_unless_refreshed() {
        let table = PresenceTable::new(Duration::from_secs(10));
        table.add("c", &info("a", "alice"));
        table.add("c", &info("b", "bob"));
        tokio::time::advance(Duration::from_secs(6)).await;
        table.add("c", &info("a", "alice"));
        tokio::time::advance(Duration::from_secs(6)).await;
        let list = table.list("c");
        assert_eq!(
            list.keys().cloned().collect::<Vec<_>>(),
            vec!["a".to_string()]
        );
        table.purge_expired();
        table.remove("c", "a");
        assert!(table.list("c").is_empty());
    }
}
