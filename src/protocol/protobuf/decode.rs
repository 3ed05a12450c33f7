//! Binary frame → commands.
//!
//! Every bound is checked before the bytes it guards are touched: a length
//! prefix that does not parse (truncated, or longer than ten bytes), a
//! declared length above the message limit or beyond the end of the frame
//! each fail the whole frame; nothing is ever allocated from a declared length
//! (messages are slices of the frame, and prost checks nested lengths against
//! what is left). Unknown fields of a known message are skipped, as the JSON
//! variant skips unknown keys; a command with an id and no known request, or
//! a payload that is not JSON text, fails like a bad JSON line.

use bytes::{Buf, Bytes};
use prost::Message as _;

use super::wire;
use crate::protocol::codec::DecodeError;
use crate::protocol::command::{
    ChannelRequest, Command, ConnectRequest, HistoryRequest, Method, PublishRequest,
    RefreshRequest, RpcRequest, SendRequest, StreamPositionRequest, SubscribeRequest,
};
use crate::protocol::payload::Json;

/// Decodes every command of a binary frame, in order. `limit` bounds each
/// message's declared length (the frame itself is bounded by the transport).
pub fn decode_frame(frame: &Bytes, limit: usize) -> Result<Vec<Command>, DecodeError> {
    let mut rest = frame.clone();
    let mut commands = Vec::new();
    while rest.has_remaining() {
        let declared =
            prost::encoding::decode_varint(&mut rest).map_err(|_| DecodeError::Varint)?;
        if declared > limit as u64 {
            return Err(DecodeError::TooLong { declared, limit });
        }
        let remaining = rest.remaining();
        let len = usize::try_from(declared)
            .ok()
            .filter(|len| *len <= remaining)
            .ok_or(DecodeError::BeyondFrame {
                declared,
                remaining,
            })?;
        let message = wire::Command::decode(rest.split_to(len))?;
        commands.push(command(message)?);
    }
    if commands.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(commands)
}

/// The command a message stands for: its first request field, like the JSON
/// variant's first method key; no request and id 0 is a pong.
fn command(message: wire::Command) -> Result<Command, DecodeError> {
    let wire::Command {
        id,
        connect,
        subscribe,
        unsubscribe,
        publish,
        presence,
        presence_stats,
        history,
        ping,
        send,
        rpc,
        refresh,
        sub_refresh,
    } = message;
    let method = if let Some(r) = connect {
        Method::Connect(ConnectRequest {
            token: r.token,
            data: optional_json(r.data, "connect data")?,
            name: r.name,
            version: r.version,
        })
    } else if let Some(r) = subscribe {
        Method::Subscribe(subscribe_request(r)?)
    } else if let Some(r) = unsubscribe {
        Method::Unsubscribe(ChannelRequest { channel: r.channel })
    } else if let Some(r) = publish {
        Method::Publish(PublishRequest {
            channel: r.channel,
            data: json(r.data, "publish data")?,
        })
    } else if let Some(r) = presence {
        Method::Presence(ChannelRequest { channel: r.channel })
    } else if let Some(r) = presence_stats {
        Method::PresenceStats(ChannelRequest { channel: r.channel })
    } else if let Some(r) = history {
        Method::History(HistoryRequest {
            channel: r.channel,
            limit: r.limit,
            since: r.since.map(|s| StreamPositionRequest {
                offset: s.offset,
                epoch: s.epoch,
            }),
            reverse: r.reverse,
        })
    } else if ping.is_some() {
        Method::Ping
    } else if let Some(r) = send {
        Method::Send(SendRequest {
            data: json(r.data, "send data")?,
        })
    } else if let Some(r) = rpc {
        Method::Rpc(RpcRequest {
            method: r.method,
            data: optional_json(r.data, "rpc data")?,
        })
    } else if let Some(r) = refresh {
        Method::Refresh(RefreshRequest { token: r.token })
    } else if let Some(r) = sub_refresh {
        Method::SubRefresh(ChannelRequest { channel: r.channel })
    } else if id == 0 {
        Method::Pong
    } else {
        return Err(DecodeError::UnknownCommand);
    };
    Ok(Command { id, method })
}

fn subscribe_request(r: wire::SubscribeRequest) -> Result<SubscribeRequest, DecodeError> {
    Ok(SubscribeRequest {
        channel: r.channel,
        token: r.token,
        recover: r.recover,
        offset: r.offset,
        epoch: r.epoch,
        positioned: r.positioned,
        recoverable: r.recoverable,
        join_leave: r.join_leave,
        data: optional_json(r.data, "subscribe data")?,
        flag: r.flag,
        delta: r.delta,
        tags_filter: r.tf.is_some(),
        kind: r.r#type,
        phase: r.phase,
        cursor: r.cursor,
        limit: r.limit,
        asc: r.asc,
    })
}

/// A payload that must be there: JSON text.
fn json(bytes: Bytes, field: &'static str) -> Result<Json, DecodeError> {
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| Json::from_text(text).ok())
        .ok_or(DecodeError::NotJson(field))
}

/// A payload that may be left out: no bytes is none.
fn optional_json(bytes: Bytes, field: &'static str) -> Result<Option<Json>, DecodeError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    json(bytes, field).map(Some)
}
