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

// Parsed once per process: the size of the largest arguments costs nothing (in a build without
// the model most variants are the small stub).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the emotion CNN on FER-layout image folders (ROOT/train/<class>/*.jpg).
    Train(commands::train::TrainArgs),
    /// Score a trained model on a split: report, confusion matrix, calibration.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Print the model's layers, output shapes and parameter counts.
    Summary(commands::summary::SummaryArgs),
    /// Classify face-crop images: class and probabilities per image.
    Predict(commands::predict::PredictArgs),
    /// Draw every conv/activation/pool layer's feature maps for one image.
    Features(commands::features::FeaturesArgs),
    /// Fit temperature scaling on val and store it in the run's config.json.
    Calibrate(commands::calibrate::CalibrateArgs),
    /// Measure how the training images frame a face around the detector's box; store it in config.json for the live pipeline.
    FitCrop(commands::fit_crop::FitCropArgs),
    /// Average several weight files of one run (snapshot averaging) into a new run directory.
    Average(commands::average::AverageArgs),
    /// Export the trained network as a standard ONNX file (gray pixels in, probabilities out), for tract on the edge or any ONNX runtime.
    Export(commands::export::ExportArgs),
    /// Print the architecture as a Graphviz DOT graph (and draw it as SVG with --svg).
    Graph(commands::graph::GraphArgs),
    /// Write one self-contained HTML report: curves, metrics, plots, summary, architecture.
    Report(commands::report::ReportArgs),
    /// Watch a camera, stream, video or images: one emotion observation per sampled frame.
    Watch(commands::watch::WatchArgs),
    /// Run the server: HTTP API, live events and the clinician dashboard.
    Serve(commands::serve::ServeArgs),
    /// Run a demo ward of 12 beds on SQLite with scripted readings, and its dashboard.
    Demo(commands::demo::DemoArgs),
    /// Re-run stored windows through candidate rules: alerts per bed per day, and the difference.
    Replay(commands::replay::ReplayArgs),
    /// FHIR R4 export of a patient's windows, scores and alerts.
    Fhir(commands::fhir::FhirArgs),
}

impl Command {
    /// Commands that only print to stdout and write their own files, with no sockets or child
    /// processes: when the reader of their output goes away (`areya evaluate … | head`) they
    /// should end quietly, as `cat` does, instead of panicking on the failed write.
    fn ends_quietly_on_a_closed_pipe(&self) -> bool {
        matches!(
            self,
            Command::Train(_)
                | Command::Evaluate(_)
                | Command::Summary(_)
                | Command::Predict(_)
                | Command::Features(_)
                | Command::Calibrate(_)
                | Command::FitCrop(_)
                | Command::Average(_)
                | Command::Export(_)
        )
    }
}

/// Restores the default action of SIGPIPE (ending the process), which Rust's runtime turns
/// off at start-up. Files these commands write are written atomically, so ending at any
/// write loses nothing already saved.
#[allow(unsafe_code)] // std has no safe way to set a signal's disposition.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: signal() with SIG_DFL touches no memory of ours; it only changes how the
    // process reacts to SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.command.ends_quietly_on_a_closed_pipe() {
        default_sigpipe();
    }
    match cli.command {
        Command::Train(args) => commands::train::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args),
        Command::Summary(args) => commands::summary::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Features(args) => commands::features::run(args),
        Command::Calibrate(args) => commands::calibrate::run(args),
        Command::FitCrop(args) => commands::fit_crop::run(args),
        Command::Average(args) => commands::average::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Watch(args) => commands::watch::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Replay(args) => commands::replay::run(args),
        Command::Fhir(args) => commands::fhir::run(args),
    }
}
