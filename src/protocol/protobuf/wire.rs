//! The Protobuf messages, generated at build time from `proto/client.proto`
//! (see `build.rs`). Field numbers are the protocol's; the Rust types are
//! prost's. Nothing outside `protocol::protobuf` (and the tests) uses them:
//! the rest of the server speaks [`crate::protocol::command`] and
//! [`crate::protocol::reply`].
#![allow(
    missing_docs,
    clippy::doc_markdown,
    clippy::derive_partial_eq_without_eq
)]

include!(concat!(env!("OUT_DIR"), "/tandem.client.rs"));
