//! Generates the Protobuf client messages from the server's
//! `proto/client.proto` (protox parses it in Rust: no `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto/client.proto");
    let descriptors = protox::compile(["client.proto"], ["../proto"])?;
    let mut config = prost_build::Config::new();
    config.bytes(["."]);
    config.compile_fds(descriptors)?;
    Ok(())
}
