//! The Protobuf variant of the client protocol (SPEC §3; reference §1.1, §9).
//!
//! A binary WebSocket frame carries one or more messages, each prefixed by its
//! length as a varint: `Command`s from the client, `Reply`s (results, errors,
//! and pushes with id 0) from the server. Payloads (`data`, `info`) are plain
//! bytes: Tandem's are JSON text, so the bytes a JSON client embeds and the
//! bytes a Protobuf client sends are the same bytes, and a publication crosses
//! between the variants unchanged. The server ping is an empty `Reply` (the
//! single byte `0x00`), the pong an empty `Command`.
//!
//! `decode` turns a frame into the same [`Command`]s the JSON variant
//! produces, with every bound of the framing checked before anything is
//! allocated; `encode` turns the same replies and pushes into messages.
//!
//! [`Command`]: super::command::Command

mod decode;
mod encode;
pub mod wire;

pub use decode::decode_frame;
pub use encode::{delimited, encode_presence, encode_publication, encode_push, encode_reply};

/// The server ping: an empty `Reply` behind its length (0).
pub const PING: &[u8] = &[0x00];

#[cfg(test)]
mod tests;
