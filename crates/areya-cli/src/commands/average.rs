//! `areya average`: snapshot averaging — the mean of several weight files of one run (for
//! example the checkpoints of a cosine schedule's last epochs) written as a new run directory
//! that every command can load with `--model`.

use anyhow::Context;
use areya_ml::average::average_snapshots;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AverageArgs {
    /// The run the snapshots belong to (its config.json is kept).
    #[arg(long)]
    pub model: PathBuf,
    /// New run directory for the averaged weights.
    #[arg(long)]
    pub out: PathBuf,
    /// Two or more weight files: model.safetensors-style files or last.safetensors checkpoints.
    #[arg(required = true, num_args = 1..)]
    pub snapshots: Vec<PathBuf>,
}

pub fn run(a: AverageArgs) -> anyhow::Result<()> {
    let record = average_snapshots(&a.model, &a.snapshots, &a.out)
        .with_context(|| format!("averaging snapshots of {}", a.model.display()))?;
    println!(
        "Averaged {} snapshots of {} into {} (evaluate it with: areya evaluate --model {} --data …)",
        record.snapshots.len(),
        a.model.display(),
        a.out.display(),
        a.out.display()
    );
    Ok(())
}
