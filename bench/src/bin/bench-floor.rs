//! `bench-floor`: the benchmark floor server (see `tandem_bench::floor`).

use std::io::Write;

use clap::Parser;
use tandem_bench::floor::{serve, FloorConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = FloorConfig::parse();
    anyhow::ensure!(
        config.listen.ip().is_loopback(),
        "--listen must be a loopback address"
    );
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    println!("bench-floor listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    serve(listener, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
