//! The run directory: atomic file writes, `config.json`, and [`Classifier::load`] — the one
//! loader every inference command uses.
//!
//! ```text
//! RUN/config.json          classes, preprocessing, architecture, hyper-parameters, data facts
//! RUN/model.safetensors    best weights (ModelCheckpoint)
//! RUN/last.safetensors     last epoch: weights + optimizer state + trainer state (for --resume)
//! RUN/state.json           readable copy of the trainer state
//! RUN/metrics.csv          one row per epoch
//! RUN/train.log            what `areya train` printed
//! RUN/augmentation.png     a few train images and what the augmentation makes of them
//! RUN/snapshots/           with --snapshots K: the weights of the last K epochs trained
//! ```

use crate::config::{Precision, RunConfig, RUN_FORMATS_READ};
use crate::error::{MlError, Result};
use crate::model::{InferenceNet, LayerKind, Network};
use crate::plots::FeatureMaps;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

pub const CONFIG_FILE: &str = "config.json";
pub use crate::callbacks::MODEL_FILE;
pub const LAST_FILE: &str = "last.safetensors";
pub const STATE_FILE: &str = "state.json";
pub const LOG_FILE: &str = "train.log";
pub const AUGMENTATION_FILE: &str = "augmentation.png";
/// Per-epoch weights kept by `--snapshots` (for snapshot averaging).
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Writes `bytes` to `path` via a temporary file in the same folder, fsync and rename, so a
/// crash leaves either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let mut f = std::fs::File::create(&tmp).map_err(|e| MlError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| MlError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| MlError::io(path, e))
}

/// `dir/name.safetensors` → `dir/name.tmp.safetensors` (tch picks the format by extension).
fn tmp_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.tmp.{ext}"))
}

/// Writes named tensors as safetensors, atomically.
pub fn write_tensors_atomic(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let tmp = tmp_path(path);
    // safetensors stores row-major data: channels-last weights are written as their NCHW copy.
    let dense: Vec<(&str, Tensor)> = tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.contiguous()))
        .collect();
    Tensor::write_safetensors(&dense, &tmp)
        .map_err(|e| MlError::run_dir(&tmp, format!("cannot write: {e}")))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| MlError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| MlError::io(path, e))
}

/// Removes `dir/epoch-NNN.safetensors` of every epoch NNN more than `keep` epochs before
/// `epoch` (the window is epochs `epoch − keep + 1 ..= epoch`). Other files are left alone.
pub fn prune_snapshots(dir: &Path, epoch: usize, keep: usize) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| MlError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| MlError::io(dir, e))?;
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix("epoch-"))
            .and_then(|n| n.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if n + keep <= epoch {
            let path = entry.path();
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(MlError::io(&path, e)),
            }
        }
    }
    Ok(())
}

/// The var store's variables, sorted by name.
pub fn named_variables(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Reads a safetensors file into a map, naming the file on failure (truncated, corrupt, missing).
pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.exists() {
        return Err(MlError::run_dir(path, "missing"));
    }
    Ok(Tensor::read_safetensors(path)
        .map_err(|e| {
            MlError::run_dir(
                path,
                format!("cannot read weights (truncated or corrupt?): {e}"),
            )
        })?
        .into_iter()
        .collect())
}

/// The tensor named `name` in `tensors` (read from `path`), checked against the variable
/// `var` of a network `arch`: present and of the same shape.
pub fn matching_tensor<'a>(
    tensors: &'a HashMap<String, Tensor>,
    name: &str,
    var: &Tensor,
    path: &Path,
    arch: &str,
) -> Result<&'a Tensor> {
    let src = tensors.get(name).ok_or_else(|| {
        MlError::run_dir(path, format!("has no tensor '{name}': these are not weights of a {arch} as config.json describes"))
    })?;
    if src.size() != var.size() {
        return Err(MlError::run_dir(
            path,
            format!(
                "tensor '{name}' has shape {:?}, a {arch} as config.json describes needs {:?}",
                src.size(),
                var.size()
            ),
        ));
    }
    Ok(src)
}

/// Copies the variables of `vs` from `tensors` (read from `path`), checking names and shapes.
pub fn load_variables(
    vs: &nn::VarStore,
    tensors: &HashMap<String, Tensor>,
    path: &Path,
    arch: &str,
) -> Result<()> {
    for (name, var) in named_variables(vs) {
        let src = matching_tensor(tensors, &name, &var, path, arch)?;
        tch::no_grad(|| var.shallow_clone().copy_(src));
    }
    Ok(())
}

/// Reads and checks `RUN/config.json`.
pub fn read_config(dir: &Path) -> Result<RunConfig> {
    let path = dir.join(CONFIG_FILE);
    if !dir.is_dir() {
        return Err(MlError::run_dir(
            dir,
            "is not a folder (expected an Areya run directory)",
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            MlError::run_dir(&path, "missing: not an Areya run directory")
        }
        _ => MlError::io(&path, e),
    })?;
    let cfg: RunConfig = serde_json::from_str(&text)
        .map_err(|e| MlError::run_dir(&path, format!("invalid: {e}")))?;
    if !RUN_FORMATS_READ.contains(&cfg.format) {
        return Err(MlError::run_dir(
            &path,
            format!(
                "run format {} is not supported (this areya reads formats {} to {}; a newer \
                 areya wrote it?)",
                cfg.format,
                RUN_FORMATS_READ.start(),
                RUN_FORMATS_READ.end()
            ),
        ));
    }
    if cfg.format < 2 && cfg.architecture.standardizes() {
        return Err(MlError::run_dir(
            &path,
            "architecture.standardize needs run format 2 (format 1 readers would skip it)",
        ));
    }
    // A bad setting read from the file names the file, not a flag.
    cfg.architecture
        .validate(cfg.preprocessing.image_size)
        .map_err(|e| MlError::run_dir(&path, e.to_string()))?;
    Ok(cfg)
}

/// Writes `config` as `dir/config.json`, atomically.
pub fn write_config(dir: &Path, config: &RunConfig) -> Result<()> {
    let json = serde_json::to_string_pretty(config)
        .map_err(|e| MlError::config("config.json", e.to_string()))?;
    write_atomic(&dir.join(CONFIG_FILE), json.as_bytes())
}

fn inference_form(net: &Network, precision: Precision) -> InferenceNet {
    let folded = InferenceNet::from_network(net);
    match precision {
        Precision::Bfloat16 => folded.with_kind(tch::Kind::BFloat16),
        _ => folded,
    }
}

/// A trained model ready for inference.
pub struct Classifier {
    pub dir: PathBuf,
    pub config: RunConfig,
    pub vs: nn::VarStore,
    pub net: Network,
    /// `net` folded for inference (see [`InferenceNet`]) in `precision`: what `logits` and
    /// `predict` run.
    pub infer: InferenceNet,
    /// The precision `infer` computes in (never `Auto`).
    pub precision: Precision,
}

impl Classifier {
    /// Loads `RUN/config.json` and the best weights `RUN/model.safetensors` on the CPU.
    pub fn load(dir: &Path) -> Result<Classifier> {
        Self::load_weights(dir, &dir.join(MODEL_FILE))
    }

    /// Like [`Classifier::load`] with another weights file of the same run.
    pub fn load_weights(dir: &Path, weights: &Path) -> Result<Classifier> {
        let config = read_config(dir)?;
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = Network::build(
            &vs.root(),
            &config.architecture,
            config.preprocessing.image_size,
            config.outputs(),
        )?;
        let tensors = read_tensors(weights)?;
        load_variables(&vs, &tensors, weights, config.architecture.name())?;
        let precision = config.precision.resolve();
        let infer = inference_form(&net, precision);
        Ok(Classifier {
            dir: dir.to_path_buf(),
            config,
            vs,
            net,
            infer,
            precision,
        })
    }

    /// Computes in `precision` from now on (`Auto` is decided for this machine).
    pub fn set_precision(&mut self, precision: Precision) {
        self.precision = precision.resolve();
        self.infer = inference_form(&self.net, self.precision);
    }

    pub fn class_names(&self) -> Vec<&str> {
        self.config.classes.names()
    }

    pub fn image_size(&self) -> u32 {
        self.config.preprocessing.image_size
    }

    /// Logits of the classes the model predicts for a `[B, 1, S, S]` batch in [0, 1] (eval
    /// mode, no gradients); a network trained with auxiliary classes has more outputs, which are
    /// dropped here, so every softmax downstream is over the predicted classes only.
    ///
    /// # Shapes
    /// `x`: `[B, 1, S, S]` → `[B, K]`.
    pub fn logits(&self, x: &Tensor) -> Tensor {
        let z = self.infer.forward(x);
        let k = self.config.classes.len() as i64;
        if z.size().last() == Some(&k) {
            z
        } else {
            z.narrow(-1, 0, k)
        }
    }

    /// Class probabilities (softmax of logits / temperature) for `n` grayscale images of
    /// `image_size`² u8 pixels each, laid out one after another.
    pub fn predict(&self, pixels: &[u8], n: usize) -> Result<Vec<Vec<f32>>> {
        let s = self.image_size() as usize;
        if pixels.len() != n * s * s {
            return Err(MlError::config(
                "images",
                format!("expected {n}×{s}×{s} pixels, got {}", pixels.len()),
            ));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::from_slice(pixels)
            .view([n as i64, 1, s as i64, s as i64])
            .to_kind(tch::Kind::Float)
            / self.config.preprocessing.scale;
        let probs = (self.logits(&x) / self.config.temperature).softmax(-1, tch::Kind::Float);
        let flat: Vec<f32> = Vec::<f32>::try_from(probs.flatten(0, -1))?;
        Ok(flat
            .chunks(self.config.classes.len())
            .map(|c| c.to_vec())
            .collect())
    }

    /// The network as a standard ONNX graph ([`areya_onnx`]): float32 whatever precision this
    /// classifier computes in, gray pixels 0–255 in, the probability of each class out, the
    /// classes, crop size and measured face crop in its metadata.
    pub fn to_onnx(&self) -> Result<Vec<u8>> {
        let pre = &self.config.preprocessing;
        let info = areya_onnx::ModelInfo {
            classes: self.class_names().into_iter().map(str::to_string).collect(),
            image_size: pre.image_size,
            scale: pre.scale,
            temperature: self.config.temperature,
            face_crop: pre.face_crop,
            face_crop_detector: pre.face_crop_detector,
            architecture: self.config.architecture.name().to_string(),
        };
        let layers = InferenceNet::from_network(&self.net).export_layers()?;
        areya_onnx::encode(&info, &layers).map_err(|e| MlError::run_dir(&self.dir, e.to_string()))
    }

    /// The activations of one image (`image_size`² u8 pixels) at every layer `wanted` picks
    /// that gives maps (conv, activation, pooling), in network order, at most `max_channels`
    /// channels each, titled "name: shown of all channels, h×w".
    pub fn feature_maps(
        &self,
        pixels: &[u8],
        wanted: impl Fn(&LayerKind) -> bool,
        max_channels: usize,
    ) -> Result<Vec<(String, FeatureMaps)>> {
        let s = self.image_size() as usize;
        if pixels.len() != s * s {
            return Err(MlError::config(
                "image",
                format!("expected {s}×{s} pixels, got {}", pixels.len()),
            ));
        }
        let x = Tensor::from_slice(pixels)
            .view([1, 1, s as i64, s as i64])
            .to_kind(tch::Kind::Float)
            / self.config.preprocessing.scale;
        let mut outputs: Vec<(String, Tensor)> = Vec::new();
        tch::no_grad(|| {
            let _ = self.net.forward_visit(&x, false, |layer, out| {
                if wanted(&layer.kind) && out.dim() == 4 {
                    outputs.push((layer.name.clone(), out.shallow_clone()));
                }
            });
        });
        outputs
            .into_iter()
            .map(|(name, t)| {
                let (c, h, w) = (
                    t.size()[1] as usize,
                    t.size()[2] as usize,
                    t.size()[3] as usize,
                );
                let shown = c.min(max_channels.max(1));
                let flat =
                    Vec::<f32>::try_from(t.get(0).narrow(0, 0, shown as i64).flatten(0, -1))?;
                let maps = FeatureMaps {
                    maps: flat.chunks(h * w).map(|m| m.to_vec()).collect(),
                    height: h,
                    width: w,
                    title: format!("{name}: {shown} of {c} channels, {h}×{w}"),
                };
                Ok((name, maps))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_window_of_the_last_epochs_and_nothing_else() {
        // (snapshots present, epoch just finished, keep) → snapshots left
        let cases: &[(&[usize], usize, usize, &[usize])] = &[
            (&[1], 1, 3, &[1]),
            (&[1, 2, 3], 3, 3, &[1, 2, 3]),
            (&[1, 2, 3, 4], 4, 3, &[2, 3, 4]),
            (&[5, 6, 7, 8, 9, 10], 10, 2, &[9, 10]),
            (&[12], 12, 1, &[12]),
            // A resumed run whose window already moved on: nothing to do.
            (&[8, 9], 9, 2, &[8, 9]),
        ];
        for &(present, epoch, keep, left) in cases {
            let tmp = tempfile::tempdir().unwrap();
            for e in present {
                std::fs::write(tmp.path().join(format!("epoch-{e:03}.safetensors")), b"w").unwrap();
            }
            std::fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
            std::fs::write(tmp.path().join("epoch-x.safetensors"), b"odd").unwrap();
            prune_snapshots(tmp.path(), epoch, keep).unwrap();
            let mut names: Vec<String> = std::fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let mut want: Vec<String> = left
                .iter()
                .map(|e| format!("epoch-{e:03}.safetensors"))
                .chain(["epoch-x.safetensors".into(), "notes.txt".into()])
                .collect();
            want.sort();
            assert_eq!(names, want, "{present:?} after epoch {epoch}, keep {keep}");
        }
    }
}
