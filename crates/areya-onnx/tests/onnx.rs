//! The ONNX graph computes what the network computes (checked against a plain-Rust reference of
//! each layer), carries its metadata, and a bad file is one clear error naming it.

use areya_core::{FaceCrop, FaceDetectorKind};
use areya_onnx::{encode, Layer, ModelInfo, OnnxClassifier, OnnxError};

const S: usize = 8;

fn info() -> ModelInfo {
    ModelInfo {
        classes: ["angry", "happy", "relaxed", "sad"]
            .map(String::from)
            .to_vec(),
        image_size: S as u32,
        scale: 255.0,
        temperature: 1.5,
        face_crop: Some(FaceCrop::new(1.2, 0.01, -0.1).unwrap()),
        face_crop_detector: Some(FaceDetectorKind::BlazeFace),
        architecture: "test-net".into(),
    }
}

/// Deterministic weights in [-1, 1).
fn weights(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = areya_core::rng::SplitMix64::keyed(&[seed]);
    (0..n)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

/// A small network with every kind of layer; the head has a fifth (auxiliary) output.
fn layers() -> Vec<Layer> {
    vec![
        Layer::Standardize { min_std: 0.01 },
        Layer::Conv {
            weight: weights(2 * 9, 1),
            shape: [2, 1, 3, 3],
            bias: weights(2, 2),
        },
        Layer::Affine {
            scale: vec![0.5, 2.0],
            shift: vec![0.1, -0.2],
        },
        Layer::Relu,
        Layer::MaxPool {
            kernel: 2,
            stride: 2,
        },
        Layer::Conv {
            weight: weights(3 * 2 * 9, 3),
            shape: [3, 2, 3, 3],
            bias: weights(3, 4),
        },
        Layer::Relu,
        Layer::GlobalAvgPool,
        Layer::Linear {
            weight: weights(5 * 3, 5),
            inputs: 3,
            outputs: 5,
            bias: weights(5, 6),
        },
    ]
}

/// The same network computed plainly: `x` is `[C][H][W]`, or `[F]` after pooling globally.
fn reference(pixels: &[u8], layers: &[Layer], info: &ModelInfo) -> Vec<f32> {
    let mut maps: Vec<Vec<Vec<f32>>> = vec![pixels
        .chunks(S)
        .map(|r| r.iter().map(|&p| p as f32 / info.scale as f32).collect())
        .collect()];
    let mut flat: Vec<f32> = Vec::new();
    for l in layers {
        match l {
            Layer::Standardize { min_std } => {
                let all: Vec<f32> = maps.iter().flatten().flatten().copied().collect();
                let mean = all.iter().sum::<f32>() / all.len() as f32;
                let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / all.len() as f32;
                let std = var.sqrt().max(*min_std);
                maps.iter_mut()
                    .flatten()
                    .flatten()
                    .for_each(|v| *v = (*v - mean) / std);
            }
            Layer::Conv {
                weight,
                shape,
                bias,
            } => {
                let [o, i, kh, kw] = *shape;
                let (h, w) = (maps[0].len(), maps[0][0].len());
                let mut out = vec![vec![vec![0f32; w]; h]; o];
                for (oc, out_map) in out.iter_mut().enumerate() {
                    for (y, row) in out_map.iter_mut().enumerate() {
                        for (x, cell) in row.iter_mut().enumerate() {
                            let mut acc = bias[oc];
                            for (ic, map) in maps.iter().enumerate().take(i) {
                                for dy in 0..kh {
                                    for dx in 0..kw {
                                        let (yy, xx) = (
                                            y as i64 + dy as i64 - (kh / 2) as i64,
                                            x as i64 + dx as i64 - (kw / 2) as i64,
                                        );
                                        if yy >= 0 && xx >= 0 && yy < h as i64 && xx < w as i64 {
                                            acc += weight[((oc * i + ic) * kh + dy) * kw + dx]
                                                * map[yy as usize][xx as usize];
                                        }
                                    }
                                }
                            }
                            *cell = acc;
                        }
                    }
                }
                maps = out;
            }
            Layer::Affine { scale, shift } => {
                for (c, m) in maps.iter_mut().enumerate() {
                    m.iter_mut()
                        .flatten()
                        .for_each(|v| *v = *v * scale[c] + shift[c]);
                }
            }
            Layer::Relu => maps
                .iter_mut()
                .flatten()
                .flatten()
                .for_each(|v| *v = v.max(0.0)),
            Layer::MaxPool { kernel, stride } => {
                maps = maps
                    .iter()
                    .map(|m| {
                        let (h, w) = (
                            (m.len() - kernel) / stride + 1,
                            (m[0].len() - kernel) / stride + 1,
                        );
                        (0..h)
                            .map(|y| {
                                (0..w)
                                    .map(|x| {
                                        let mut best = f32::MIN;
                                        for dy in 0..*kernel {
                                            for dx in 0..*kernel {
                                                best =
                                                    best.max(m[y * stride + dy][x * stride + dx]);
                                            }
                                        }
                                        best
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect()
            }
            Layer::GlobalAvgPool => {
                flat = maps
                    .iter()
                    .map(|m| {
                        let n = (m.len() * m[0].len()) as f32;
                        m.iter().flatten().sum::<f32>() / n
                    })
                    .collect()
            }
            Layer::Flatten => flat = maps.iter().flatten().flatten().copied().collect(),
            Layer::Linear {
                weight,
                inputs,
                outputs,
                bias,
            } => {
                flat = (0..*outputs)
                    .map(|o| {
                        bias[o]
                            + (0..*inputs)
                                .map(|i| weight[o * inputs + i] * flat[i])
                                .sum::<f32>()
                    })
                    .collect()
            }
        }
    }
    // The auxiliary output is dropped before the softmax, as inference does.
    let z: Vec<f32> = flat[..info.classes.len()]
        .iter()
        .map(|v| v / info.temperature as f32)
        .collect();
    let m = z.iter().copied().fold(f32::MIN, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

fn crops(n: usize) -> Vec<u8> {
    (0..n * S * S)
        .map(|i| ((i * 37 + i / 5 * 11) % 256) as u8)
        .collect()
}

#[test]
fn the_graph_computes_the_network_and_carries_its_metadata() {
    let bytes = encode(&info(), &layers()).unwrap();
    let model = OnnxClassifier::from_bytes(&bytes, "test.onnx").unwrap();
    assert_eq!(model.info(), &info(), "metadata read back as written");
    assert_eq!(model.class_names(), ["angry", "happy", "relaxed", "sad"]);
    let px = crops(3);
    let got = model.predict(&px, 3).unwrap();
    assert_eq!(got.len(), 3);
    for (i, p) in got.iter().enumerate() {
        let want = reference(&px[i * S * S..(i + 1) * S * S], &layers(), &info());
        assert_eq!(p.len(), 4, "the auxiliary output is left out");
        for (a, b) in p.iter().zip(&want) {
            assert!(
                (a - b).abs() < 1e-5,
                "crop {i}: {p:?} vs the reference {want:?}"
            );
        }
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // A flat crop: the deviation floor keeps it finite instead of dividing by zero.
    let flat = model.predict(&[128; S * S], 1).unwrap();
    assert!(flat[0].iter().all(|v| v.is_finite()), "{flat:?}");
    // The measured crop is the one for its detector only.
    assert!(model
        .info()
        .face_crop_for(FaceDetectorKind::BlazeFace)
        .is_some());
    assert!(model
        .info()
        .face_crop_for(FaceDetectorKind::SeetaFace)
        .is_none());
}

#[test]
fn a_bad_file_is_one_clear_error_naming_it() {
    let bytes = encode(&info(), &layers()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.onnx",
            bytes[..bytes.len() / 2].to_vec(),
            "not an ONNX model",
        ),
        (
            "garbage.onnx",
            b"\x00\x01not a model at all\xff".to_vec(),
            "not an ONNX model",
        ),
        (
            "empty.onnx",
            Vec::new(),
            "not an emotion model exported by `areya export --onnx`",
        ),
    ];
    for (name, content, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &content).unwrap();
        let err = OnnxClassifier::load(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, OnnxError::Model { .. }), "{name}: {msg}");
        assert!(
            msg.starts_with(&path.display().to_string()),
            "{name}: {msg}"
        );
        assert!(msg.contains(want), "{name}: {msg}");
        assert_eq!(msg.lines().count(), 1, "{name}: one line: {msg}");
    }
    let missing = dir.path().join("missing.onnx");
    let msg = OnnxClassifier::load(&missing).unwrap_err().to_string();
    assert!(
        msg.starts_with(&missing.display().to_string()) && msg.contains("cannot read"),
        "{msg}"
    );
}

#[test]
fn a_network_that_cannot_be_this_contract_is_refused_when_written() {
    // No dense head.
    let mut no_head = layers();
    no_head.pop();
    assert!(matches!(
        encode(&info(), &no_head),
        Err(OnnxError::Graph(_))
    ));
    // Fewer outputs than classes.
    let mut small = layers();
    small.pop();
    small.push(Layer::Linear {
        weight: weights(3 * 3, 5),
        inputs: 3,
        outputs: 3,
        bias: weights(3, 6),
    });
    assert!(matches!(encode(&info(), &small), Err(OnnxError::Graph(_))));
    // Weights that do not fill their shape.
    let mut bad = layers();
    bad[1] = Layer::Conv {
        weight: weights(5, 1),
        shape: [2, 1, 3, 3],
        bias: weights(2, 2),
    };
    let err = encode(&info(), &bad).unwrap_err().to_string();
    assert!(err.contains("5 values for shape [2, 1, 3, 3]"), "{err}");
}

#[test]
fn crops_of_the_wrong_size_are_refused() {
    let model = OnnxClassifier::from_bytes(&encode(&info(), &layers()).unwrap(), "t").unwrap();
    let err = model.predict(&[0; 10], 1).unwrap_err().to_string();
    assert_eq!(err, "expected 1×8×8 pixels, got 10");
    assert!(model.predict(&[], 0).unwrap().is_empty());
}
