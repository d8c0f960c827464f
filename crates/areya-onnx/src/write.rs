//! A trained network's inference form → an ONNX `ModelProto`.

use crate::{ModelInfo, OnnxError, INPUT, OPSET, OUTPUT};
use prost::Message;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension,
    tensor_shape_proto::Dimension, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

/// One step of a network in inference form, weights as plain float32 in PyTorch's layouts.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// Each image to zero mean and unit deviation over its pixels, the deviation floored at
    /// `min_std`.
    Standardize {
        min_std: f32,
    },
    /// A 3×3-style convolution, stride 1, "same" padding (kernel / 2), with its batch norm
    /// folded in. `weight`: `[out, in, kh, kw]` row-major.
    Conv {
        weight: Vec<f32>,
        shape: [usize; 4],
        bias: Vec<f32>,
    },
    /// A batch norm with no convolution before it: `x · scale + shift` per channel.
    Affine {
        scale: Vec<f32>,
        shift: Vec<f32>,
    },
    Relu,
    MaxPool {
        kernel: usize,
        stride: usize,
    },
    /// Mean over each channel's map, then flattened to `[N, C]`.
    GlobalAvgPool,
    Flatten,
    /// `y = x · weightᵀ + bias`; `weight`: `[outputs, inputs]` row-major.
    Linear {
        weight: Vec<f32>,
        inputs: usize,
        outputs: usize,
        bias: Vec<f32>,
    },
}

struct Builder {
    nodes: Vec<NodeProto>,
    init: Vec<TensorProto>,
    last: String,
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

impl Builder {
    fn constant(&mut self, name: &str, dims: &[usize], data: &[f32]) -> Result<String, OnnxError> {
        if dims.iter().product::<usize>() != data.len() {
            return Err(OnnxError::Graph(format!(
                "{name}: {} values for shape {dims:?}",
                data.len()
            )));
        }
        self.init.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        Ok(name.into())
    }

    /// Adds `op` on `inputs` (the previous output when empty) and makes its output the last.
    fn node(&mut self, op: &str, name: &str, inputs: &[&str], attrs: Vec<AttributeProto>) {
        let out = name.to_string();
        let input = if inputs.is_empty() {
            vec![self.last.clone()]
        } else {
            inputs.iter().map(|s| s.to_string()).collect()
        };
        self.nodes.push(NodeProto {
            name: name.into(),
            op_type: op.into(),
            input,
            output: vec![out.clone()],
            attribute: attrs,
            ..Default::default()
        });
        self.last = out;
    }
}

fn tensor_type(dims: &[Dimension]) -> TypeProto {
    TypeProto {
        value: Some(type_proto::Value::TensorType(type_proto::Tensor {
            elem_type: DataType::Float as i32,
            shape: Some(TensorShapeProto { dim: dims.to_vec() }),
        })),
        ..Default::default()
    }
}

fn dim(v: dimension::Value) -> Dimension {
    Dimension {
        value: Some(v),
        ..Default::default()
    }
}

/// The ONNX file for a network whose inference form is `layers`, described by `info`. The
/// network's last layer must be a [`Layer::Linear`] with at least `info.classes` outputs; extra
/// outputs (auxiliary training classes) are left out of the graph, as inference drops them.
pub fn encode(info: &ModelInfo, layers: &[Layer]) -> Result<Vec<u8>, OnnxError> {
    let k = info.classes.len();
    // Written so that NaN is refused too.
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if k == 0 || info.image_size == 0 || !positive(info.scale) || !positive(info.temperature) {
        return Err(OnnxError::Graph(format!(
            "no classes, crop size 0, or a scale or temperature that is not positive: {info:?}"
        )));
    }
    match layers.last() {
        Some(Layer::Linear { outputs, .. }) if *outputs >= k => {}
        _ => {
            return Err(OnnxError::Graph(format!(
                "the network must end in a dense layer with at least {k} outputs"
            )))
        }
    }
    let mut b = Builder {
        nodes: Vec::new(),
        init: Vec::new(),
        last: INPUT.into(),
    };
    let scale = b.constant("pixel_scale", &[], &[info.scale as f32])?;
    b.node("Div", "scaled", &[INPUT, &scale], vec![]);
    for (i, layer) in layers.iter().enumerate() {
        let n = format!("l{i}");
        match layer {
            Layer::Standardize { min_std } => {
                let x = b.last.clone();
                let axes = vec![ints("axes", &[1, 2, 3]), int("keepdims", 1)];
                b.node("ReduceMean", &format!("{n}_mean"), &[&x], axes.clone());
                let mean = b.last.clone();
                b.node("Sub", &format!("{n}_centred"), &[&x, &mean], vec![]);
                let d = b.last.clone();
                b.node("Mul", &format!("{n}_sq"), &[&d, &d], vec![]);
                b.node("ReduceMean", &format!("{n}_var"), &[], axes);
                b.node("Sqrt", &format!("{n}_std"), &[], vec![]);
                let floor = b.constant(&format!("{n}_min_std"), &[], &[*min_std])?;
                let std = b.last.clone();
                b.node("Max", &format!("{n}_std_floored"), &[&std, &floor], vec![]);
                let s = b.last.clone();
                b.node("Div", &format!("{n}_standardized"), &[&d, &s], vec![]);
            }
            Layer::Conv {
                weight,
                shape,
                bias,
            } => {
                let x = b.last.clone();
                let w = b.constant(&format!("{n}_weight"), shape, weight)?;
                let bb = b.constant(&format!("{n}_bias"), &[shape[0]], bias)?;
                let (ph, pw) = ((shape[2] / 2) as i64, (shape[3] / 2) as i64);
                b.node(
                    "Conv",
                    &format!("{n}_conv"),
                    &[&x, &w, &bb],
                    vec![
                        ints("kernel_shape", &[shape[2] as i64, shape[3] as i64]),
                        ints("pads", &[ph, pw, ph, pw]),
                        ints("strides", &[1, 1]),
                    ],
                );
            }
            Layer::Affine { scale, shift } => {
                let x = b.last.clone();
                let c = scale.len();
                let s = b.constant(&format!("{n}_scale"), &[1, c, 1, 1], scale)?;
                let t = b.constant(&format!("{n}_shift"), &[1, c, 1, 1], shift)?;
                b.node("Mul", &format!("{n}_scaled"), &[&x, &s], vec![]);
                let y = b.last.clone();
                b.node("Add", &format!("{n}_shifted"), &[&y, &t], vec![]);
            }
            Layer::Relu => b.node("Relu", &format!("{n}_relu"), &[], vec![]),
            Layer::MaxPool { kernel, stride } => b.node(
                "MaxPool",
                &format!("{n}_pool"),
                &[],
                vec![
                    ints("kernel_shape", &[*kernel as i64, *kernel as i64]),
                    ints("strides", &[*stride as i64, *stride as i64]),
                ],
            ),
            Layer::GlobalAvgPool => {
                b.node("GlobalAveragePool", &format!("{n}_gap"), &[], vec![]);
                b.node("Flatten", &format!("{n}_flat"), &[], vec![int("axis", 1)]);
            }
            Layer::Flatten => b.node("Flatten", &format!("{n}_flat"), &[], vec![int("axis", 1)]),
            Layer::Linear {
                weight,
                inputs,
                outputs,
                bias,
            } => {
                // The head keeps only the predicted classes' rows (see `encode`).
                let keep = if i + 1 == layers.len() { k } else { *outputs };
                if weight.len() != inputs * outputs || bias.len() != *outputs {
                    return Err(OnnxError::Graph(format!(
                        "layer {i}: a {outputs}×{inputs} dense layer with {} weights and {} biases",
                        weight.len(),
                        bias.len()
                    )));
                }
                let x = b.last.clone();
                let w = b.constant(
                    &format!("{n}_weight"),
                    &[keep, *inputs],
                    &weight[..keep * inputs],
                )?;
                let bb = b.constant(&format!("{n}_bias"), &[keep], &bias[..keep])?;
                b.node(
                    "Gemm",
                    &format!("{n}_dense"),
                    &[&x, &w, &bb],
                    vec![int("transB", 1)],
                );
            }
        }
    }
    let t = b.constant("temperature", &[], &[info.temperature as f32])?;
    let logits = b.last.clone();
    b.node("Div", "logits_tempered", &[&logits, &t], vec![]);
    b.node("Softmax", OUTPUT, &[], vec![int("axis", 1)]);

    let s = info.image_size as i64;
    let batch = dim(dimension::Value::DimParam("N".into()));
    let input = ValueInfoProto {
        name: INPUT.into(),
        r#type: Some(tensor_type(&[
            batch.clone(),
            dim(dimension::Value::DimValue(1)),
            dim(dimension::Value::DimValue(s)),
            dim(dimension::Value::DimValue(s)),
        ])),
        doc_string: "gray face crops, pixel values 0-255".into(),
    };
    let output = ValueInfoProto {
        name: OUTPUT.into(),
        r#type: Some(tensor_type(&[
            batch,
            dim(dimension::Value::DimValue(k as i64)),
        ])),
        doc_string: format!("probability of each class: {}", info.classes.join(", ")),
    };
    let model = ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "areya".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "Areya's emotion classifier: a face crop's gray pixels in, the probability of \
                     each emotion out"
            .into(),
        graph: Some(GraphProto {
            name: info.architecture.clone(),
            node: b.nodes,
            initializer: b.init,
            input: vec![input],
            output: vec![output],
            ..Default::default()
        }),
        metadata_props: metadata(info)?,
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// One metadata entry per [`ModelInfo`] field, its value in JSON (readable by any ONNX tool).
fn metadata(info: &ModelInfo) -> Result<Vec<StringStringEntryProto>, OnnxError> {
    let v = serde_json::to_value(info).map_err(|e| OnnxError::Graph(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| OnnxError::Graph("model info is not an object".into()))?;
    Ok(obj
        .iter()
        .map(|(k, v)| StringStringEntryProto {
            key: k.clone(),
            value: v.to_string(),
        })
        .collect())
}
