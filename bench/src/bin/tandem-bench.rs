//! `tandem-bench`: the load generator (see `tandem_bench::cli`). It runs on
//! one thread so it can be pinned to one core.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tandem_bench::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match tandem_bench::run_local(cli.run()) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("tandem-bench: {err}");
            return ExitCode::FAILURE;
        }
    };
    match outcome {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(outcome)) => {
            eprint!("{}", outcome.human());
            let line = outcome.to_json_line();
            if cli.json {
                println!("{line}");
            }
            if let Some(path) = &cli.out {
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| writeln!(f, "{line}"));
                if let Err(err) = written {
                    eprintln!("tandem-bench: {}: {err}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tandem-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}
