//! Fine-tuning: every weight of a network from a file written for the same network.

use crate::error::{MlError, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{nn, Tensor};

/// Copies every variable of `vs` (weights, biases and BatchNorm statistics) from `file`, a
/// `.safetensors` file of the same architecture — a run's `model.safetensors` — so that training
/// starts from a trained model instead of random weights. Every variable must be in the file
/// with the same shape: a partial match would silently train a different network.
pub fn init_all_from_file(vs: &mut nn::VarStore, file: &Path) -> Result<()> {
    if file.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        return Err(MlError::data(
            file,
            "initial weights for this architecture must be a .safetensors file (a run's model.safetensors)",
        ));
    }
    let loaded: HashMap<String, Tensor> = Tensor::read_safetensors(file)
        .map_err(|e| MlError::data(file, format!("cannot read weights: {e}")))?
        .into_iter()
        .collect();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, dst) in &vars {
        let src = loaded.get(name).ok_or_else(|| {
            MlError::data(
                file,
                format!("no weights for {name}: not a model of this architecture and widths"),
            )
        })?;
        if src.size() != dst.size() {
            return Err(MlError::data(
                file,
                format!(
                    "{name}: shape {:?} in file, model needs {:?} (other widths or classes?)",
                    src.size(),
                    dst.size()
                ),
            ));
        }
        let src = src.to_kind(dst.kind());
        tch::no_grad(|| dst.shallow_clone().copy_(&src));
    }
    Ok(())
}
