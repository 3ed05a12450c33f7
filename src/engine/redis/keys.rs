//! Every Redis key and pub/sub channel name the engine uses, built in one
//! place (docs/redis.md lists them).
//!
//! Names are `{prefix}:{<tag>}:…`. The part in braces is a Redis Cluster hash
//! tag: all keys of one session (record, event log, messages, stream, meta,
//! presence, fan-out channel) carry the session id as tag, so they share a
//! slot and one Lua script may touch them all. A channel that is not a session
//! channel uses its own name as tag (and `:ch:` after it, so that a channel
//! literally named like a session id cannot collide with a session's keys).

use uuid::Uuid;

use crate::channels::{self, Channel};

/// Checks a key prefix: non-empty, short, and free of hash-tag braces and spaces.
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(format!(
            "{c:?} is not allowed (use letters, digits, `_`, `-`, `.`, `:`)"
        ));
    }
    Ok(())
}

/// How many keys the pending-index journal is spread over (so that on a
/// cluster its writes land on several masters).
pub const PENDING_SHARDS: usize = 16;

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

/// The keys of one channel's stream, presence and fan-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelKeys {
    /// STREAM of publications, ids `<offset>-0`.
    pub stream: String,
    /// HASH `e` = epoch, `s` = top offset.
    pub meta: String,
    /// HASH client id → ClientInfo JSON.
    pub presence_data: String,
    /// ZSET client id → expiry (unix ms).
    pub presence_expire: String,
    /// Pub/sub channel every node subscribes to for this channel.
    pub fanout: String,
    /// Whether this is a session channel (its meta never expires: the event
    /// log and the stream share offsets).
    pub session: bool,
}

/// The keys of one session (besides its channel's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// HASH `r` = record JSON, `v` = version, `a` = last activity (unix ms),
    /// `q` = message sequence.
    pub record: String,
    /// LIST of every event JSON, oldest first, never trimmed.
    pub events: String,
    /// ZSET of chat messages scored by offset (member `<seq>|<json>`).
    pub messages: String,
    /// HASH idempotency key → stored response JSON.
    pub idempotency: String,
    /// SET of the collaborators' user ids (to update the user index).
    pub users: String,
    /// SET of users removed from the session whose user index may still
    /// list it (cluster: the index follow-up drops them).
    pub gone: String,
    /// HASH left by a delete on a cluster for the index follow-up: `m`
    /// mission id, `u:<user>` per user whose index listed the session.
    pub tomb: String,
    /// The session channel's keys.
    pub channel: ChannelKeys,
}

impl Keys {
    /// Keys under `prefix` (already validated).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// Keys of any channel.
    pub fn channel(&self, channel: &str) -> ChannelKeys {
        match channels::parse(channel) {
            Ok(Channel::Session(id)) => self.session_channel(id),
            _ => {
                let base = format!("{}:{{{channel}}}:ch", self.prefix);
                ChannelKeys {
                    stream: format!("{base}:stream"),
                    meta: format!("{base}:meta"),
                    presence_data: format!("{base}:presence:data"),
                    presence_expire: format!("{base}:presence:expire"),
                    fanout: format!("{base}:pub"),
                    session: false,
                }
            }
        }
    }

    fn session_channel(&self, id: Uuid) -> ChannelKeys {
        let base = format!("{}:{{{id}}}", self.prefix);
        ChannelKeys {
            stream: format!("{base}:stream"),
            meta: format!("{base}:meta"),
            presence_data: format!("{base}:presence:data"),
            presence_expire: format!("{base}:presence:expire"),
            fanout: format!("{base}:pub"),
            session: true,
        }
    }

    /// Keys of one session.
    pub fn session(&self, id: Uuid) -> SessionKeys {
        let base = format!("{}:{{{id}}}", self.prefix);
        SessionKeys {
            record: format!("{base}:record"),
            events: format!("{base}:events"),
            messages: format!("{base}:messages"),
            idempotency: format!("{base}:idempotency"),
            users: format!("{base}:users"),
            gone: format!("{base}:gone"),
            tomb: format!("{base}:tomb"),
            channel: self.session_channel(id),
        }
    }

    /// SET of the ids of the sessions `user` collaborates on (tagged like the
    /// user's personal channel).
    pub fn user_sessions(&self, user: &str) -> String {
        format!(
            "{}:{{{}{user}}}:sessions",
            self.prefix,
            crate::channels::USER_PREFIX
        )
    }

    /// Pub/sub channel every node subscribes to for node-wide orders
    /// (disconnect a user).
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// ZSET session id → last activity (unix ms), for the sweeper.
    pub fn activity(&self) -> String {
        format!("{}:activity", self.prefix)
    }

    /// ZSET per status: session id → the time it has been quiet since (unix
    /// ms; later of last activity and last change), the sweeper's index.
    pub fn idle(&self, status: crate::sessions::model::SessionStatus) -> String {
        format!("{}:idle:{}", self.prefix, status.as_str())
    }

    /// The four idle indexes in the order the scripts expect them: active,
    /// completed, abandoned, archived.
    pub fn idle_all(&self) -> [String; 4] {
        use crate::sessions::model::SessionStatus::*;
        [
            self.idle(Active),
            self.idle(Completed),
            self.idle(Abandoned),
            self.idle(Archived),
        ]
    }

    /// HASH mission id → id of the session it is linked to.
    pub fn linked_missions(&self) -> String {
        format!("{}:missions:linked", self.prefix)
    }

    /// ZSET of index updates in flight (cluster), one of [`PENDING_SHARDS`]
    /// shards chosen by the session id: member `<session id>|<nonce>`,
    /// score = when the writer started (unix ms). Written before a session's
    /// atomic step, removed once its global index entries match the record;
    /// the repair task replays what is left.
    pub fn pending(&self, shard: usize) -> String {
        format!("{}:{{ixq-{shard}}}:pending", self.prefix)
    }

    /// The pending shard of a session.
    pub fn pending_of(&self, id: Uuid) -> String {
        self.pending(usize::from(id.as_bytes()[15]) % PENDING_SHARDS)
    }

    /// HASH mission id → mission JSON, for missions not linked to a session.
    pub fn unlinked_missions(&self) -> String {
        format!("{}:missions:unlinked", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash tag Redis Cluster would use for `key`.
    fn tag(key: &str) -> &str {
        let start = key.find('{').map(|i| i + 1).unwrap_or(0);
        let end = key[start..]
            .find('}')
            .map(|i| start + i)
            .unwrap_or(key.len());
        &key[start..end]
    }

    #[test]
    fn a_sessions_keys_share_its_id_as_tag() {
        let keys = Keys::new("t");
        let id = Uuid::new_v4();
        let s = keys.session(id);
        let via_channel = keys.channel(&crate::channels::session(id));
        assert_eq!(s.channel, via_channel);
        let all = [
            &s.record,
            &s.events,
            &s.messages,
            &s.idempotency,
            &s.users,
            &s.gone,
            &s.tomb,
            &s.channel.stream,
            &s.channel.meta,
            &s.channel.presence_data,
            &s.channel.presence_expire,
            &s.channel.fanout,
        ];
        for key in all {
            assert!(key.starts_with("t:{"), "{key}");
            assert_eq!(tag(key), id.to_string(), "{key}");
        }
        assert_eq!(s.record, format!("t:{{{id}}}:record"));
        assert!(s.channel.session);
    }

    #[test]
    fn other_channels_are_tagged_by_name_and_never_collide_with_sessions() {
        let keys = Keys::new("t");
        let id = Uuid::new_v4();
        let plain = keys.channel(&id.to_string());
        let session = keys.channel(&crate::channels::session(id));
        assert_ne!(plain.stream, session.stream);
        assert_eq!(tag(&plain.stream), id.to_string());
        assert!(!plain.session);
        let user = keys.channel("user:alice");
        assert_eq!(tag(&user.fanout), "user:alice");
        assert_eq!(tag(&keys.user_sessions("alice")), "user:alice");
        // A malformed session channel is a plain channel.
        assert!(!keys.channel("session:nope").session);
    }

    #[test]
    fn prefixes_are_validated() {
        assert!(validate_prefix("tandem").is_ok());
        assert!(validate_prefix("app-1.prod:x").is_ok());
        assert!(validate_prefix("").is_err());
        assert!(validate_prefix("a{b").is_err());
        assert!(validate_prefix("a b").is_err());
    }
}
