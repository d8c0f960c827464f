//! `areya export --onnx FILE`: the trained network as a standard ONNX file (opset 13; gray
//! pixels 0–255 in, the probability of each class out; classes, crop size and measured face
//! crop in its metadata), checked by running it on tract before it is written.

use super::default_model;
use anyhow::Context;
use areya_ml::Classifier;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Write the ONNX model here (RUN/model.onnx is where `watch --runtime tract` and the edge
    /// build look for it).
    #[arg(long)]
    pub onnx: PathBuf,
}

pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let dir = default_model(a.model)?;
    let clf = Classifier::load(&dir)?;
    let bytes = clf.to_onnx()?;
    // What is written must load and run: a graph tract refuses is not written at all.
    let check = areya_vision::model::OnnxClassifier::from_bytes(&bytes, &a.onnx.display().to_string())
        .context("the exported graph does not run on tract")?;
    let s = clf.image_size() as usize;
    let probe: Vec<u8> = (0..s * s).map(|i| (i * 7 % 251) as u8).collect();
    let (want, got) = (clf.predict(&probe, 1)?, check.predict(&probe, 1)?);
    let diff = want[0]
        .iter()
        .zip(&got[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    anyhow::ensure!(
        diff < 1e-3,
        "the exported graph disagrees with the model by {diff} on a test crop; not written"
    );
    // Named as asked (write_atomic's error names its temporary file beside it).
    areya_ml::rundir::write_atomic(&a.onnx, &bytes).map_err(|e| match e {
        areya_ml::MlError::Io { cause, .. } => {
            anyhow::anyhow!("--onnx: cannot write {}: {cause}", a.onnx.display())
        }
        e => anyhow::anyhow!("--onnx: {e}"),
    })?;
    println!(
        "{}: {} ({}), {} classes ({}), {s}×{s} gray crops; {:.1} MB",
        a.onnx.display(),
        dir.display(),
        clf.config.architecture.name(),
        clf.class_names().len(),
        clf.class_names().join(", "),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}
