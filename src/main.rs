//! The `tandem` binary: parse flags, set up logging, run the server (or mint a token).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tandem::auth::TokenMinter;
use tandem::config::{Cli, Command, Config, HealthArgs, TokenArgs};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tandem::telemetry::init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Token(args) => token(cli.config, args),
        Command::Health(args) => health(&cli.config, &args),
    }
}

fn health(config: &Config, args: &HealthArgs) -> ExitCode {
    match tandem::ops::probe::probe(config.listen, &args.path, args.timeout) {
        Ok(200) => {
            println!("tandem health: {} 200", args.path);
            ExitCode::SUCCESS
        }
        Ok(status) => {
            eprintln!("tandem health: {} answered {status}", args.path);
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("tandem health: {err}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let settings = match config.validate() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("tandem: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    if let (Some(origin), Some(path)) = (settings.dev_secret, &settings.config.dev_secret_file) {
        let what = match origin {
            tandem::auth::dev_secret::Origin::Created => "generated a JWT secret and saved it to",
            tandem::auth::dev_secret::Origin::Reused => "reusing the JWT secret in",
        };
        tracing::warn!(
            file = %path.display(),
            "DEV MODE: {what} TANDEM_DEV_SECRET_FILE, so tokens survive restarts; sign in through \
             POST /api/dev/token. Never use --dev in production."
        );
    }
    if settings.secret_generated {
        tracing::warn!(
            "DEV MODE: generated a random JWT secret for this run; sign in through POST /api/dev/token. \
             Never use --dev in production."
        );
    }
    match settings.config.engine {
        tandem::config::EngineKind::Memory => tracing::warn!(
            engine = "memory",
            "the memory engine keeps history and presence in this process only: nothing survives a restart"
        ),
        tandem::config::EngineKind::Redis => tracing::info!(
            engine = "redis",
            prefix = %settings.config.redis_prefix,
            "state, history and presence live in Redis (see docs/redis.md for durability settings)"
        ),
    }
    let app = match tandem::App::build(settings).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("tandem: {err:#}");
            return ExitCode::from(1);
        }
    };
    match app.local_addr() {
        Ok(addr) => {
            println!("tandem listening on http://{addr}");
            let _ = std::io::stdout().flush();
        }
        Err(err) => {
            eprintln!("tandem: {err:#}");
            return ExitCode::from(1);
        }
    }
    match app.run(tandem::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tandem: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn token(config: Config, args: TokenArgs) -> ExitCode {
    let Some(secret) = config.jwt_hs256_secret else {
        eprintln!("tandem token: TANDEM_JWT_HS256_SECRET (or --jwt-hs256-secret) must be set");
        return ExitCode::from(2);
    };
    let info = match args
        .info
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(err)) => {
            eprintln!("tandem token: --info is not JSON: {err}");
            return ExitCode::from(2);
        }
    };
    match TokenMinter::new(&secret).mint(&args.user, args.ttl, info) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tandem token: {err}");
            ExitCode::from(1)
        }
    }
}
