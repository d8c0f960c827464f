//! One file per `areya` subcommand, and the helpers they share.

pub mod demo;
pub mod fhir;
pub mod replay;
pub mod serve;

// The commands that need the emotion model on libtorch (feature `model`) or the vision pipeline
// (feature `edge`, which `model` includes): in a build without it each is a stub that says so,
// in one line, with exit code 2.
macro_rules! gated_commands {
    ($feature:literal; $($module:ident $args:ident $name:literal;)*) => {
        $(
            #[cfg(feature = $feature)]
            pub mod $module;
            #[cfg(not(feature = $feature))]
            pub mod $module {
                /// Whatever was given: this build cannot run the command.
                pub type $args = super::LeanArgs;
                pub fn run(_: $args) -> anyhow::Result<()> {
                    Err(super::ModelMissing($name).into())
                }
            }
        )*
    };
}

gated_commands! { "model";
    average AverageArgs "average";
    calibrate CalibrateArgs "calibrate";
    evaluate EvaluateArgs "evaluate";
    export ExportArgs "export";
    features FeaturesArgs "features";
    fit_crop FitCropArgs "fit-crop";
    graph GraphArgs "graph";
    predict PredictArgs "predict";
    report ReportArgs "report";
    summary SummaryArgs "summary";
    train TrainArgs "train";
}

gated_commands! { "edge";
    watch WatchArgs "watch";
}

#[cfg(feature = "edge")]
pub mod flags;

/// A command this build lacks: `areya` was built without the `model` feature (no libtorch), as
/// `scripts/demo` builds it for the scripted demo, or (for `watch`) without `edge` either.
#[derive(Debug)]
pub struct ModelMissing(pub &'static str);

impl std::fmt::Display for ModelMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == "watch" {
            return write!(
                f,
                "areya watch: this areya was built without the vision pipeline; build the camera agent: cargo build --release -p areya-cli --no-default-features --features edge (or the full one)"
            );
        }
        write!(
            f,
            "areya {}: this areya was built without the emotion model (no libtorch); build the full one: scripts/setup && source scripts/env && cargo build --release -p areya-cli",
            self.0
        )
    }
}

impl std::error::Error for ModelMissing {}

/// The arguments of a model command in a build without the model: taken as given, unused.
#[derive(Debug, clap::Args)]
pub struct LeanArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Where the shipped model lives, relative to the repository root.
pub const SHIPPED_MODEL: &str = "models/areya-fer4";

/// `--model` or, when absent, the shipped model: `$AREYA_MODEL`, then `./models/areya-fer4`,
/// then `models/areya-fer4` beside the checkout the binary was built in.
pub fn default_model(arg: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(m) = arg {
        return Ok(m);
    }
    if let Some(m) = std::env::var_os("AREYA_MODEL") {
        return Ok(PathBuf::from(m));
    }
    let here = PathBuf::from(SHIPPED_MODEL);
    if here.join("config.json").is_file() {
        return Ok(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(SHIPPED_MODEL);
    if built.join("config.json").is_file() {
        return Ok(built);
    }
    anyhow::bail!("--model: no model given and the shipped model ({SHIPPED_MODEL}) was not found")
}

/// The file format of a figure.
#[cfg_attr(not(feature = "model"), allow(dead_code))]
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }
}

/// The model and the labelled split a command works on (`--model`, `--data`, `--split`).
#[derive(Debug, clap::Args)]
pub struct ModelOnSplit {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Data root holding <split>/<class>/images.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "val")]
    pub split: String,
}

/// `--from` / `--to`: a span of stored time, on the UTC clock.
#[derive(Debug, clap::Args)]
pub struct Span {
    /// Start (UTC): YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (default: everything stored).
    #[arg(long)]
    pub from: Option<String>,
    /// End (UTC, exclusive), same forms (default: everything stored).
    #[arg(long)]
    pub to: Option<String>,
}

impl Span {
    /// The span as `[from, to)` in milliseconds, `everything` where a flag is absent; an error
    /// naming the flag for a date it cannot read, or for an empty span.
    pub fn millis(&self, everything: (i64, i64)) -> anyhow::Result<(i64, i64)> {
        let at = |flag: &str, v: &Option<String>, default: i64| -> anyhow::Result<i64> {
            v.as_deref().map_or(Ok(default), |s| {
                areya_core::time::parse_iso8601_utc(s).with_context(|| {
                    format!("{flag}: '{s}' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)")
                })
            })
        };
        let from = at("--from", &self.from, everything.0)?;
        let to = at("--to", &self.to, everything.1)?;
        anyhow::ensure!(from < to, "--from must be before --to");
        Ok((from, to))
    }
}

/// A CSV of images and their class probabilities, one row an image: the path (quoted), the
/// `labels` columns, then `p_<class>` to six places (`evaluate --predictions`, `predict --csv`).
#[cfg_attr(not(feature = "model"), allow(dead_code))]
pub struct ProbabilityCsv(String);

#[cfg_attr(not(feature = "model"), allow(dead_code))]
impl ProbabilityCsv {
    pub fn new(labels: &[&str], classes: &[impl AsRef<str>]) -> Self {
        let columns = labels.iter().map(|l| l.to_string());
        let probs = classes.iter().map(|n| format!("p_{}", n.as_ref()));
        ProbabilityCsv(format!(
            "path,{}\n",
            columns.chain(probs).collect::<Vec<_>>().join(",")
        ))
    }

    pub fn row(&mut self, path: &Path, labels: &[&str], probs: &[f32]) {
        let path = path.display().to_string().replace('"', "\"\"");
        let probs = probs.iter().map(|x| format!("{x:.6}"));
        let cells: Vec<String> = labels.iter().map(|l| l.to_string()).chain(probs).collect();
        self.0 += &format!("\"{path}\",{}\n", cells.join(","));
    }

    pub fn text(self) -> String {
        self.0
    }
}

/// Writes a user-requested output file, naming it on failure.
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
