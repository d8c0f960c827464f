//! An ONNX emotion model read back and run with tract.

use crate::{ModelInfo, OnnxError, INPUT, OUTPUT};
use prost::Message;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

/// An exported emotion model ready to classify face crops, one at a time (a face is a few
/// milliseconds on one core; batching does not make tract's convolutions cheaper per face).
pub struct OnnxClassifier {
    info: ModelInfo,
    plan: Arc<TypedRunnableModel>,
    /// The file the model came from, for error messages.
    name: String,
}

impl std::fmt::Debug for OnnxClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxClassifier")
            .field("name", &self.name)
            .field("info", &self.info)
            .finish()
    }
}

impl OnnxClassifier {
    /// Reads an exported model (`areya export --onnx`).
    pub fn load(path: &Path) -> Result<Self, OnnxError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| OnnxError::Model {
            name: name.clone(),
            msg: format!("cannot read the model: {e}"),
        })?;
        Self::from_bytes(&bytes, &name)
    }

    /// As [`OnnxClassifier::load`], from the file's bytes; `name` names it in errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, OnnxError> {
        let bad = |msg: String| OnnxError::Model {
            name: name.to_string(),
            msg,
        };
        let proto = ModelProto::decode(bytes)
            .map_err(|e| bad(format!("not an ONNX model (truncated or corrupt?): {e}")))?;
        let info = read_info(&proto).map_err(|m| {
            bad(format!(
                "{m}; not an emotion model exported by `areya export --onnx`"
            ))
        })?;
        let s = info.image_size as usize;
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 1, s, s]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| {
                bad(format!(
                    "cannot run the graph: {}",
                    format!("{e:#}").lines().next().unwrap_or("")
                ))
            })?;
        let model = OnnxClassifier {
            info,
            plan,
            name: name.to_string(),
        };
        // A graph that loads but answers in another shape is not this contract.
        let k = model.info.classes.len();
        let out = model
            .run_one(&vec![0.0; s * s])
            .map_err(|e| bad(e.to_string()))?;
        if out.len() != k {
            return Err(bad(format!(
                "its output has {} values, not one per class ({k})",
                out.len()
            )));
        }
        Ok(model)
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn class_names(&self) -> Vec<&str> {
        self.info.classes.iter().map(String::as_str).collect()
    }

    pub fn image_size(&self) -> u32 {
        self.info.image_size
    }

    /// Class probabilities for `n` gray crops of `image_size`² u8 pixels each, laid out one
    /// after another (the same contract as the libtorch classifier's `predict`).
    pub fn predict(&self, pixels: &[u8], n: usize) -> Result<Vec<Vec<f32>>, OnnxError> {
        let s = self.info.image_size as usize;
        if pixels.len() != n * s * s {
            return Err(OnnxError::Input(format!(
                "expected {n}×{s}×{s} pixels, got {}",
                pixels.len()
            )));
        }
        pixels
            .chunks(s * s)
            .map(|c| {
                let x: Vec<f32> = c.iter().map(|&p| p as f32).collect();
                self.run_one(&x)
            })
            .collect()
    }

    fn run_one(&self, x: &[f32]) -> Result<Vec<f32>, OnnxError> {
        let s = self.info.image_size as usize;
        let fail = |e: String| OnnxError::Model {
            name: self.name.clone(),
            msg: e,
        };
        let input =
            Tensor::from_shape(&[1, 1, s, s], x).map_err(|e| fail(format!("input: {e}")))?;
        let out = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| fail(format!("running the model: {e}")))?;
        out.first()
            .ok_or_else(|| fail(format!("no output '{OUTPUT}'")))?
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>().map(<[f32]>::to_vec))
            .map_err(|e| fail(format!("output: {e}")))
    }
}

/// The [`ModelInfo`] in the file's metadata, and the input the graph must take.
fn read_info(proto: &ModelProto) -> Result<ModelInfo, String> {
    let mut obj = serde_json::Map::new();
    for e in &proto.metadata_props {
        let v: serde_json::Value = serde_json::from_str(&e.value)
            .map_err(|err| format!("metadata '{}' is not JSON: {err}", e.key))?;
        obj.insert(e.key.clone(), v);
    }
    let info: ModelInfo = serde_json::from_value(serde_json::Value::Object(obj))
        .map_err(|e| format!("its metadata: {e}"))?;
    if info.classes.is_empty() || info.image_size == 0 || info.image_size > 1024 {
        return Err(format!(
            "its metadata names {} classes and a {} px crop",
            info.classes.len(),
            info.image_size
        ));
    }
    let graph = proto.graph.as_ref().ok_or("it has no graph")?;
    if graph.input.first().map(|i| i.name.as_str()) != Some(INPUT) {
        return Err(format!("its graph's input is not '{INPUT}'"));
    }
    Ok(info)
}
