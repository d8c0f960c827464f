//! The `areya` binary: parse arguments, set up logging, run one command.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = areya_cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AREYA_LOG")
                // Warnings, which server of a cluster runs the ward engine, when an edge agent
                // delivers again after an outage, and a camera the watcher takes for a far one.
                .unwrap_or_else(|_| {
                    "warn,areya_server::cluster=info,areya_edge=info,areya_vision::pipeline=info"
                        .into()
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    match areya_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A command this build has no model for is a usage error, not a failure.
            if e.downcast_ref::<areya_cli::commands::ModelMissing>()
                .is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
