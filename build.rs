//! Generates the Protobuf variant's message types from `proto/client.proto`.
//!
//! `protox` parses the .proto file in Rust (no `protoc` to install or
//! download) and `prost-build` turns the descriptors into Rust types in
//! `OUT_DIR`, included by `src/protocol/protobuf/wire.rs`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/client.proto");
    let descriptors = protox::compile(["client.proto"], ["proto"])?;
    let mut config = prost_build::Config::new();
    // Payload fields decode as shared `Bytes` slices of the frame, not copies.
    config.bytes(["."]);
    // Ordered maps: the same message always encodes to the same bytes.
    config.btree_map(["."]);
    config.compile_fds(descriptors)?;
    Ok(())
}
