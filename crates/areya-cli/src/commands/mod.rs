//! One file per `areya` subcommand, and the helpers they share.

pub mod average;
pub mod calibrate;
pub mod demo;
pub mod evaluate;
pub mod features;
pub mod fhir;
pub mod fit_crop;
pub mod flags;
pub mod graph;
pub mod predict;
pub mod replay;
pub mod report;
pub mod serve;
pub mod summary;
pub mod train;
pub mod watch;

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

/// Writes a user-requested output file, naming it on failure.
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
