//! The command connection: one multiplexed connection to a single Redis
//! (a `ConnectionManager` that reconnects by itself), or a cluster-aware
//! connection to a Redis Cluster (redis-rs `cluster-async`: it keeps one
//! connection per node, routes each command by its key's slot, follows
//! `MOVED`/`ASK` and refreshes the slot map after a failover or resharding).
//! Both speak [`ConnectionLike`], so every query is written once.

use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use ::redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// Where the engine's Redis is.
#[derive(Clone)]
pub enum Topology {
    /// One Redis (possibly with replicas managed by Sentinel behind one address).
    Single(String),
    /// A Redis Cluster, reached through these seed node URLs.
    Cluster(Vec<String>),
}

impl Topology {
    /// The topology for a URL and a seed list: a non-empty seed list or a
    /// `redis+cluster://host:port,host:port` URL means a cluster.
    pub fn from_settings(url: &str, cluster_nodes: &[String]) -> Result<Self, String> {
        if !cluster_nodes.is_empty() {
            let seeds = cluster_nodes
                .iter()
                .map(|n| seed_url(n.trim(), ""))
                .collect::<Vec<_>>();
            return Ok(Self::Cluster(seeds));
        }
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            let rest = rest.trim_end_matches('/');
            let (auth, hosts) = match rest.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), rest),
            };
            let seeds: Vec<String> = hosts
                .split(',')
                .filter(|h| !h.trim().is_empty())
                .map(|h| seed_url(h.trim(), &auth))
                .collect();
            if seeds.is_empty() {
                return Err("a redis+cluster:// URL needs at least one host:port".into());
            }
            return Ok(Self::Cluster(seeds));
        }
        Ok(Self::Single(url.to_owned()))
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// `redis://[auth@]host:port` for a seed given as a URL or as `host:port`.
fn seed_url(node: &str, auth: &str) -> String {
    if node.contains("://") {
        node.to_owned()
    } else {
        format!("redis://{auth}{node}")
    }
}

/// Where command connections come from.
pub(super) enum Source {
    /// One Redis: a manager that connects lazily and reconnects by itself.
    Single(ConnectionManager),
    /// A cluster: connected at first use (a cluster that is down at start
    /// makes operations fail until it answers), then kept.
    Cluster(Box<ClusterSource>),
}

/// The cluster side of [`Source`].
pub(super) struct ClusterSource {
    pub(super) client: ::redis::cluster::ClusterClient,
    pub(super) conn: tokio::sync::OnceCell<ClusterConnection>,
    pub(super) connect_timeout: Duration,
}

impl Source {
    /// A connection to run commands on.
    pub(super) async fn get(&self) -> Result<Conn, crate::engine::EngineError> {
        match self {
            Self::Single(conn) => Ok(Conn::Single(conn.clone())),
            Self::Cluster(cluster) => {
                let ClusterSource {
                    client,
                    conn,
                    connect_timeout,
                } = &**cluster;
                let conn = conn
                    .get_or_try_init(|| async {
                        match tokio::time::timeout(*connect_timeout, client.get_async_connection())
                            .await
                        {
                            Ok(result) => result.map_err(super::unavailable),
                            Err(_) => Err(crate::engine::EngineError::Unavailable(
                                "redis cluster: connecting timed out".into(),
                            )),
                        }
                    })
                    .await?;
                Ok(Conn::Cluster(conn.clone()))
            }
        }
    }
}

/// A command connection to one Redis or to a cluster. Cheap to clone.
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Runs `cmd` on the master that owns `key`'s slot (on one Redis: on
    /// the connection). For commands without a key, such as `WAIT`, that
    /// must reach the node a key lives on.
    pub(super) async fn on_node_of(&mut self, key: &str, cmd: Cmd) -> RedisResult<Value> {
        match self {
            Self::Single(conn) => cmd.query_async(conn).await,
            Self::Cluster(conn) => {
                let route = Route::new(key_slot(key.as_bytes()), SlotAddr::Master);
                conn.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Builds a cluster client for `seeds` (RESP3 when `push` is given: the
/// pub/sub connection receives its messages there).
pub(super) fn cluster_client(
    seeds: &[String],
    response_timeout: Duration,
    connect_timeout: Duration,
    push: Option<tokio::sync::mpsc::UnboundedSender<::redis::PushInfo>>,
) -> RedisResult<::redis::cluster::ClusterClient> {
    let mut builder = ::redis::cluster::ClusterClientBuilder::new(seeds.to_vec())
        .response_timeout(response_timeout)
        .connection_timeout(connect_timeout)
        .retries(6)
        .min_retry_wait(50)
        .max_retry_wait(1000);
    if let Some(push) = push {
        builder = builder
            .use_protocol(::redis::ProtocolVersion::RESP3)
            .push_sender(push);
    }
    builder.build()
}

/// The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag (the
/// part between the first `{` and the next `}`, when not empty) mod 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16_xmodem(hashed) % 16384
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
    }

    #[test]
    fn topologies_from_settings() {
        assert!(!Topology::from_settings("redis://h:1", &[])
            .unwrap()
            .is_cluster());
        let Topology::Cluster(seeds) =
            Topology::from_settings("redis+cluster://:pw@a:1,b:2/", &[]).unwrap()
        else {
            panic!("a cluster")
        };
        assert_eq!(seeds, ["redis://:pw@a:1", "redis://:pw@b:2"]);
        let Topology::Cluster(seeds) =
            Topology::from_settings("redis://ignored", &["a:1".into(), "redis://b:2".into()])
                .unwrap()
        else {
            panic!("a cluster")
        };
        assert_eq!(seeds, ["redis://a:1", "redis://b:2"]);
        assert!(Topology::from_settings("redis+cluster://", &[]).is_err());
    }
}
