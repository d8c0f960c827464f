//! The `areya` command line: one module per subcommand under `commands/`.

pub mod commands;

use clap::{Parser, Subcommand};

/// Areya: bedside emotion monitoring that tells the right nurse when negative emotion persists.
#[derive(Debug, Parser)]
#[command(name = "areya", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the emotion CNN on FER-layout image folders (ROOT/train/<class>/*.jpg).
    Train(commands::train::TrainArgs),
    /// Score a trained model on a split: report, confusion matrix, calibration.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Print the model's layers, output shapes and parameter counts.
    Summary(commands::summary::SummaryArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => commands::train::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args),
        Command::Summary(args) => commands::summary::run(args),
    }
}
