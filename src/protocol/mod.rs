//! The Centrifugo client protocol, JSON and Protobuf variants (SPEC §3).
//!
//! Pure data and encoding: no sockets, no engine. `command` is what clients
//! send, `reply` and `push` what the server sends, `codes` every error and
//! disconnect code, `codec` the one place bytes are turned into messages (`protobuf`
//! holds the binary variant's framing and message types).

pub mod codec;
pub mod codes;
pub mod command;
pub mod convert;
pub mod payload;
pub mod protobuf;
pub mod push;
pub mod reply;

pub use codec::Codec;
pub use codes::{Disconnect, ProtocolError};
pub use payload::Json;
