//! Snapshot averaging: the element-wise mean of several weight files of one run — typically
//! the checkpoints of the last epochs of a cosine schedule — saved as a new run directory with
//! the same configuration. One model of the same size and speed, not an ensemble.
//!
//! BatchNorm running statistics are averaged like the weights (the snapshots come from the
//! flat end of one schedule, where they barely move); `areya evaluate` on val says whether
//! the average is better than the run's best epoch.

use crate::error::{MlError, Result};
use crate::rundir::{self, named_variables, read_tensors, Classifier, CONFIG_FILE};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// What went into an averaged run directory (`averaged_from.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Averaged {
    /// The run whose configuration the average keeps.
    pub run: PathBuf,
    /// The weight files averaged, in the order given.
    pub snapshots: Vec<PathBuf>,
}

pub const AVERAGED_FILE: &str = "averaged_from.json";

/// Averages the model weights in `snapshots` (weight files or `last.safetensors`
/// checkpoints of `run`, which also hold optimizer state; only the model's tensors are read)
/// and writes `out/config.json` (the run's), `out/model.safetensors` and
/// `out/averaged_from.json`. Every snapshot must hold every tensor of the run's network with
/// the right shape; `out` must not already be a run directory.
pub fn average_snapshots(run: &Path, snapshots: &[PathBuf], out: &Path) -> Result<Averaged> {
    if snapshots.len() < 2 {
        return Err(MlError::config(
            "snapshots",
            format!(
                "give at least two weight files to average, got {}",
                snapshots.len()
            ),
        ));
    }
    if out.join(CONFIG_FILE).exists() {
        return Err(MlError::run_dir(
            out,
            "is already a run directory; choose another --out",
        ));
    }
    let clf = Classifier::load(run)?;
    let arch = clf.config.architecture.name();
    let vars = named_variables(&clf.vs);
    let mut sums: Vec<Tensor> = vars
        .iter()
        .map(|(_, v)| Tensor::zeros_like(v).to_kind(Kind::Double))
        .collect();
    for path in snapshots {
        let tensors = read_tensors(path)?;
        for ((name, var), sum) in vars.iter().zip(sums.iter_mut()) {
            let src = rundir::matching_tensor(&tensors, name, var, path, arch)?;
            *sum += src.to_kind(Kind::Double);
        }
    }
    let k = snapshots.len() as f64;
    let averaged: Vec<(String, Tensor)> = vars
        .iter()
        .zip(sums)
        .map(|((name, var), sum)| (name.clone(), (sum / k).to_kind(var.kind())))
        .collect();
    std::fs::create_dir_all(out).map_err(|e| MlError::io(out, e))?;
    rundir::write_config(out, &clf.config)?;
    rundir::write_tensors_atomic(&out.join(rundir::MODEL_FILE), &averaged)?;
    let record = Averaged {
        run: run.to_path_buf(),
        snapshots: snapshots.to_vec(),
    };
    let json = serde_json::to_string_pretty(&record)
        .map_err(|e| MlError::config(AVERAGED_FILE, e.to_string()))?;
    rundir::write_atomic(&out.join(AVERAGED_FILE), json.as_bytes())?;
    Ok(record)
}
