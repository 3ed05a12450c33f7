//! Replies and pushes → length-delimited messages.
//!
//! Each message is returned with its varint length in front, so a frame is
//! the plain concatenation of the messages queued for it. Engine publications
//! and client info are encoded straight from their bytes, with no JSON step.

use bytes::{Bytes, BytesMut};

use super::wire;
use crate::engine;
use crate::protocol::codec::EncodeError;
use crate::protocol::codes::ProtocolError;
use crate::protocol::payload::Json;
use crate::protocol::push::{PushBody, PushEnvelope};
use crate::protocol::reply::{self, Reply, ReplyBody};

/// `message` behind its varint length.
pub fn delimited(message: &impl prost::Message) -> Result<Bytes, EncodeError> {
    let len = message.encoded_len();
    let mut buf = BytesMut::with_capacity(len + prost::length_delimiter_len(len));
    message.encode_length_delimited(&mut buf)?;
    Ok(buf.freeze())
}

/// A reply to a command.
pub fn encode_reply(reply: &Reply) -> Result<Bytes, EncodeError> {
    let mut out = wire::Reply {
        id: reply.id,
        ..Default::default()
    };
    match &reply.body {
        ReplyBody::Connect(r) => out.connect = Some(connect_result(r)),
        ReplyBody::Subscribe(r) => out.subscribe = Some(subscribe_result(r)),
        ReplyBody::Unsubscribe(_) => out.unsubscribe = Some(wire::UnsubscribeResult {}),
        ReplyBody::Publish(_) => out.publish = Some(wire::PublishResult {}),
        ReplyBody::Presence(r) => {
            out.presence = Some(wire::PresenceResult {
                presence: r
                    .presence
                    .iter()
                    .map(|(id, info)| (id.clone(), client_info(info)))
                    .collect(),
            })
        }
        ReplyBody::PresenceStats(r) => {
            out.presence_stats = Some(wire::PresenceStatsResult {
                num_clients: r.num_clients,
                num_users: r.num_users,
            })
        }
        ReplyBody::History(r) => {
            out.history = Some(wire::HistoryResult {
                publications: r.publications.iter().map(publication).collect(),
                epoch: r.epoch.clone(),
                offset: r.offset,
            })
        }
        ReplyBody::Rpc(r) => {
            out.rpc = Some(wire::RpcResult {
                data: payload(r.data.as_ref()),
            })
        }
        ReplyBody::Refresh(r) => {
            out.refresh = Some(wire::RefreshResult {
                client: r.client.clone(),
                version: r.version.clone(),
                expires: r.expires,
                ttl: r.ttl,
            })
        }
        ReplyBody::Error(e) => out.error = Some(error(e)),
    }
    delimited(&out)
}

/// A push (a reply with id 0).
pub fn encode_push(envelope: &PushEnvelope<'_>) -> Result<Bytes, EncodeError> {
    let push = &envelope.push;
    let mut out = wire::Push {
        channel: push.channel.unwrap_or_default().to_owned(),
        ..Default::default()
    };
    match &push.body {
        PushBody::Pub(p) => out.r#pub = Some(publication(p)),
        PushBody::Join { info } => {
            out.join = Some(wire::Join {
                info: Some(client_info(info)),
            })
        }
        PushBody::Leave { info } => {
            out.leave = Some(wire::Leave {
                info: Some(client_info(info)),
            })
        }
        PushBody::Unsubscribe { code, reason } => {
            out.unsubscribe = Some(wire::Unsubscribe {
                code: *code,
                reason: (*reason).to_owned(),
            })
        }
        PushBody::Disconnect {
            code,
            reason,
            reconnect,
        } => {
            out.disconnect = Some(wire::Disconnect {
                code: u32::from(*code),
                reason: (*reason).to_owned(),
                reconnect: *reconnect,
            })
        }
    }
    push_reply(out)
}

/// A `pub` push of an engine publication: its bytes as they are.
pub fn encode_publication(
    channel: &str,
    publication: &engine::Publication,
) -> Result<Bytes, EncodeError> {
    push_reply(wire::Push {
        channel: channel.to_owned(),
        r#pub: Some(wire::Publication {
            data: publication.data.bytes(),
            info: publication.info.as_ref().map(engine_client_info),
            offset: publication.offset,
            tags: publication.tags.clone().unwrap_or_default(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A `join` (or `leave`) push of an engine client.
pub fn encode_presence(
    channel: &str,
    info: &engine::ClientInfo,
    join: bool,
) -> Result<Bytes, EncodeError> {
    let info = Some(engine_client_info(info));
    let mut out = wire::Push {
        channel: channel.to_owned(),
        ..Default::default()
    };
    if join {
        out.join = Some(wire::Join { info });
    } else {
        out.leave = Some(wire::Leave { info });
    }
    push_reply(out)
}

fn push_reply(push: wire::Push) -> Result<Bytes, EncodeError> {
    delimited(&wire::Reply {
        push: Some(push),
        ..Default::default()
    })
}

fn payload(json: Option<&Json>) -> Bytes {
    json.map(|j| Bytes::copy_from_slice(j.get().as_bytes()))
        .unwrap_or_default()
}

fn error(e: &ProtocolError) -> wire::Error {
    wire::Error {
        code: e.code,
        message: e.message.clone(),
        temporary: e.temporary,
    }
}

fn client_info(info: &reply::ClientInfo) -> wire::ClientInfo {
    wire::ClientInfo {
        user: info.user.clone(),
        client: info.client.clone(),
        conn_info: payload(info.conn_info.as_ref()),
        chan_info: payload(info.chan_info.as_ref()),
    }
}

fn engine_client_info(info: &engine::ClientInfo) -> wire::ClientInfo {
    wire::ClientInfo {
        user: info.user.clone(),
        client: info.client.clone(),
        conn_info: info
            .conn_info
            .as_ref()
            .map(engine::Payload::bytes)
            .unwrap_or_default(),
        chan_info: info
            .chan_info
            .as_ref()
            .map(engine::Payload::bytes)
            .unwrap_or_default(),
    }
}

fn publication(p: &reply::Publication) -> wire::Publication {
    wire::Publication {
        data: payload(Some(&p.data)),
        info: p.info.as_ref().map(client_info),
        offset: p.offset,
        tags: p.tags.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn connect_result(r: &reply::ConnectResult) -> wire::ConnectResult {
    wire::ConnectResult {
        client: r.client.clone(),
        version: r.version.clone(),
        expires: r.expires,
        ttl: r.ttl,
        data: payload(r.data.as_ref()),
        ping: r.ping,
        pong: r.pong,
        ..Default::default()
    }
}

fn subscribe_result(r: &reply::SubscribeResult) -> wire::SubscribeResult {
    wire::SubscribeResult {
        expires: r.expires,
        ttl: r.ttl,
        recoverable: r.recoverable,
        epoch: r.epoch.clone(),
        publications: r.publications.iter().map(publication).collect(),
        recovered: r.recovered,
        offset: r.offset,
        positioned: r.positioned,
        data: payload(r.data.as_ref()),
        was_recovering: r.was_recovering,
        ..Default::default()
    }
}
