//! Presence in Redis: per channel a HASH client id → ClientInfo JSON and a
//! ZSET client id → expiry (Redis server time, ms). `add` refreshes both;
//! reading drops expired entries first, so a node that died without cleaning
//! up loses its clients from presence within the presence TTL, with no
//! heartbeat of its own.

use super::{internal, millis, run, RedisEngine};
use crate::engine::{ClientInfo, EngineError, PresenceMap};

/// Adds or refreshes `info` in `channel`'s presence.
pub(super) async fn add(
    engine: &RedisEngine,
    channel: &str,
    info: &ClientInfo,
) -> Result<(), EngineError> {
    let keys = engine.keys().channel(channel);
    let json = serde_json::to_string(info).map_err(internal)?;
    let ttl = millis(engine.inner.config.presence_ttl).max(1);
    let mut conn = engine.conn().await?;
    let mut invocation = engine.inner.scripts.presence_add.key(&keys.presence_data);
    invocation
        .key(&keys.presence_expire)
        .arg(&info.client)
        .arg(json)
        .arg(ttl);
    let _: i64 = run(invocation.invoke_async(&mut conn)).await?;
    Ok(())
}

/// Removes a client from `channel`'s presence.
pub(super) async fn remove(
    engine: &RedisEngine,
    channel: &str,
    client_id: &str,
) -> Result<(), EngineError> {
    let keys = engine.keys().channel(channel);
    let mut conn = engine.conn().await?;
    let mut pipe = ::redis::pipe();
    pipe.atomic()
        .hdel(&keys.presence_data, client_id)
        .ignore()
        .zrem(&keys.presence_expire, client_id)
        .ignore();
    run(pipe.query_async::<()>(&mut conn)).await
}

/// Who is present in `channel`.
pub(super) async fn list(engine: &RedisEngine, channel: &str) -> Result<PresenceMap, EngineError> {
    let keys = engine.keys().channel(channel);
    let mut conn = engine.conn().await?;
    let mut invocation = engine.inner.scripts.presence_get.key(&keys.presence_data);
    invocation.key(&keys.presence_expire);
    let entries: Vec<(String, String)> = run(invocation.invoke_async(&mut conn)).await?;
    entries
        .into_iter()
        .map(|(client, json)| {
            let info: ClientInfo = serde_json::from_str(&json).map_err(internal)?;
            Ok((client, info))
        })
        .collect()
}
