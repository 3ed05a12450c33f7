//! Per-channel history streams with gapless offsets, an epoch, size and TTL trimming.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use rand::distr::{Alphanumeric, SampleString};
use tokio::time::Instant;

use crate::engine::{
    EngineError, HistoryFilter, HistoryPage, Publication, PublishRequest, StreamPosition,
};

/// A new random epoch: 8 letters and digits.
pub(crate) fn new_epoch() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 8)
}

struct Stream {
    epoch: String,
    top: u64,
    /// (stored at, publication) oldest first; offsets are contiguous.
    items: VecDeque<(Instant, Publication)>,
}

impl Stream {
    fn new() -> Self {
        Self {
            epoch: new_epoch(),
            top: 0,
            items: VecDeque::new(),
        }
    }

    fn position(&self) -> StreamPosition {
        StreamPosition {
            offset: self.top,
            epoch: self.epoch.clone(),
        }
    }

    fn trim(&mut self, size: usize, ttl: Duration, now: Instant) {
        while self.items.len() > size {
            self.items.pop_front();
        }
        while self
            .items
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= ttl)
        {
            self.items.pop_front();
        }
    }
}

/// All streams of the node.
pub(super) struct Streams {
    map: DashMap<String, Arc<Mutex<Stream>>>,
    size: usize,
    ttl: Duration,
}

impl Streams {
    pub(super) fn new(size: usize, ttl: Duration) -> Self {
        Self {
            map: DashMap::new(),
            size,
            ttl,
        }
    }

    fn stream(&self, channel: &str) -> Arc<Mutex<Stream>> {
        if let Some(s) = self.map.get(channel) {
            return s.clone();
        }
        self.map
            .entry(channel.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(Stream::new())))
            .clone()
    }

    /// Appends and hands the stored publication to `deliver` under the stream's
    /// lock, so deliveries happen in offset order.
    pub(super) fn append(
        &self,
        channel: &str,
        request: PublishRequest,
        deliver: impl FnOnce(&Publication),
    ) -> StreamPosition {
        let PublishRequest {
            publication,
            history,
        } = request;
        self.append_with(
            channel,
            history,
            |_| Ok::<_, std::convert::Infallible>(publication),
            deliver,
        )
        .unwrap_or_else(|never| match never {})
    }

    /// Like [`Streams::append`], with the publication built from its offset
    /// (0 without history). A build error stores and delivers nothing.
    pub(super) fn append_with<E>(
        &self,
        channel: &str,
        history: bool,
        build: impl FnOnce(u64) -> Result<Publication, E>,
        deliver: impl FnOnce(&Publication),
    ) -> Result<StreamPosition, E> {
        let stream = self.stream(channel);
        let mut s = stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let offset = if history { s.top + 1 } else { 0 };
        let mut publication = build(offset)?;
        publication.offset = offset;
        if history {
            s.top = offset;
            let now = Instant::now();
            s.items.push_back((now, publication.clone()));
            s.trim(self.size, self.ttl, now);
        }
        publication.published_at = Some(std::time::SystemTime::now());
        deliver(&publication);
        Ok(s.position())
    }

    /// The stream's current position (creating its epoch if new).
    pub(super) fn position(&self, channel: &str) -> StreamPosition {
        let stream = self.stream(channel);
        let s = stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        s.position()
    }

    /// Forgets a stream (its channel's next publication starts a new epoch).
    pub(super) fn remove(&self, channel: &str) {
        self.map.remove(channel);
    }

    pub(super) fn read(
        &self,
        channel: &str,
        filter: &HistoryFilter,
    ) -> Result<HistoryPage, EngineError> {
        let stream = self.stream(channel);
        let mut s = stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        s.trim(self.size, self.ttl, Instant::now());
        let position = s.position();
        if let Some(since) = &filter.since {
            if !since.epoch.is_empty() && since.epoch != s.epoch {
                return Err(EngineError::UnrecoverablePosition);
            }
        }
        if filter.limit == 0 {
            return Ok(HistoryPage {
                publications: Vec::new(),
                position,
            });
        }
        let items = s.items.iter().map(|(_, p)| p);
        let publications: Vec<Publication> = match (&filter.since, filter.reverse) {
            (None, false) => items.take(filter.limit).cloned().collect(),
            (None, true) => items.rev().take(filter.limit).cloned().collect(),
            (Some(since), false) => items
                .filter(|p| p.offset > since.offset)
                .take(filter.limit)
                .cloned()
                .collect(),
            (Some(since), true) => items
                .rev()
                .filter(|p| p.offset < since.offset)
                .take(filter.limit)
                .cloned()
                .collect(),
        };
        Ok(HistoryPage {
            publications,
            position,
        })
    }

    /// Drops expired publications. Streams themselves stay (their epoch and top
    /// offset must not go backwards while the process lives).
    pub(super) fn purge_expired(&self) {
        let now = Instant::now();
        for entry in self.map.iter() {
            let stream = entry.value().clone();
            let mut s = stream
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            s.trim(self.size, self.ttl, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Payload;

    fn req(n: u32) -> PublishRequest {
        PublishRequest {
            publication: Publication::of(Payload::from_json(&n).unwrap()),
            history: true,
        }
    }

    #[tokio::test]
    async fn offsets_are_gapless_and_trimmed_by_size() {
        let streams = Streams::new(3, Duration::from_secs(60));
        let mut delivered = Vec::new();
        for i in 1..=5 {
            let pos = streams.append("c", req(i), |p| delivered.push(p.offset));
            assert_eq!(pos.offset, u64::from(i));
        }
        assert_eq!(delivered, vec![1, 2, 3, 4, 5]);
        let page = streams
            .read(
                "c",
                &HistoryFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        let offsets: Vec<u64> = page.publications.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, vec![3, 4, 5]);
        assert_eq!(page.position.offset, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn ttl_expires_publications_but_keeps_position() {
        let streams = Streams::new(10, Duration::from_secs(5));
        streams.append("c", req(1), |_| {});
        tokio::time::advance(Duration::from_secs(6)).await;
        let page = streams
            .read(
                "c",
                &HistoryFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(page.publications.is_empty());
        assert_eq!(page.position.offset, 1);
    }

    #[tokio::test]
    async fn since_reads_after_and_reverse_before() {
        let streams = Streams::new(10, Duration::from_secs(60));
        for i in 1..=5 {
            streams.append("c", req(i), |_| {});
        }
        let epoch = streams
            .read("c", &HistoryFilter::default())
            .unwrap()
            .position
            .epoch;
        let since = Some(StreamPosition {
            offset: 2,
            epoch: epoch.clone(),
        });
        let after = streams
            .read(
                "c",
                &HistoryFilter {
                    limit: 2,
                    since: since.clone(),
                    reverse: false,
                },
            )
            .unwrap();
        assert_eq!(
            after
                .publications
                .iter()
                .map(|p| p.offset)
                .collect::<Vec<_>>(),
            vec![3, 4]
        );
        let before = streams
            .read(
                "c",
                &HistoryFilter {
                    limit: 5,
                    since: Some(StreamPosition { offset: 4, epoch }),
                    reverse: true,
                },
            )
            .unwrap();
        assert_eq!(
            before
                .publications
                .iter()
                .map(|p| p.offset)
                .collect::<Vec<_>>(),
            vec![3, 2, 1]
        );
        let wrong = streams.read(
            "c",
            &HistoryFilter {
                limit: 1,
                since: Some(StreamPosition {
                    offset: 1,
                    epoch: "other".into(),
                }),
                reverse: false,
            },
        );
        assert!(matches!(wrong, Err(EngineError::UnrecoverablePosition)));
    }
}
