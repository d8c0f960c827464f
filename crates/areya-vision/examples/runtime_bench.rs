//! The emotion model on tract (its ONNX export, pure Rust: the edge agent's runtime) against
//! libtorch, back to back on the same faces: accuracy and macro-F1 on FER-2013 val (the four
//! classes, each image as it is, resized to the model's input as `areya evaluate` does), how
//! many faces get the same top class as libtorch in float32, the largest probability
//! difference, and milliseconds per face at batch 1 on one thread.
//!
//! `runtime_bench FER_VAL_DIR MODEL_DIR` (MODEL_DIR holds `model.onnx`, made by
//! `areya export --model MODEL_DIR --onnx MODEL_DIR/model.onnx`).

use areya_ml::config::Precision;
use areya_ml::metrics::{confusion, Report};
use areya_vision::model::{EmotionModel, Runtime};
use std::path::Path;
use std::time::Instant;

mod common;
use common::images;

const FOLDERS: [&str; 4] = ["angry", "happy", "neutral", "sad"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: runtime_bench FER_VAL_DIR MODEL_DIR");
        std::process::exit(2);
    }
    let (val, model) = (Path::new(&args[1]), Path::new(&args[2]));
    tch::set_num_threads(1);
    let load = |rt: Runtime, p: Option<Precision>| {
        let mut m = EmotionModel::load(model, Some(rt)).expect("model");
        if let (EmotionModel::Libtorch(c), Some(p)) = (&mut m, p) {
            c.set_precision(p);
        }
        m
    };
    let size = load(Runtime::Tract, None).image_size();
    let (mut px, mut truth) = (Vec::new(), Vec::new());
    for (c, folder) in FOLDERS.iter().enumerate() {
        for f in images(&val.join(folder)) {
            let bytes = std::fs::read(&f).expect("image");
            px.extend(areya_ml::dataset::decode_gray(&bytes, size).expect("decode"));
            truth.push(c);
        }
    }
    let n = truth.len();
    let s2 = (size * size) as usize;
    println!(
        "{n} FER-2013 val faces ({}), {size}×{size}; one thread",
        val.display()
    );
    println!(
        "| runtime | accuracy | macro-F1 | same top class as libtorch f32 | largest prob. diff | ms/face (batch 1) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let classes: Vec<String> = FOLDERS.iter().map(|s| s.to_string()).collect();
    let mut reference: Option<Vec<Vec<f32>>> = None;
    let runs = [
        (
            "libtorch float32",
            Runtime::Libtorch,
            Some(Precision::Float32),
        ),
        (
            "libtorch bfloat16",
            Runtime::Libtorch,
            Some(Precision::Bfloat16),
        ),
        ("tract (ONNX export)", Runtime::Tract, None),
    ];
    for (name, rt, p) in runs {
        let m = load(rt, p);
        let probs = m.predict(&px, n).expect("predict");
        let top = |p: &[f32]| {
            p.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap_or(0)
        };
        let pred: Vec<usize> = probs.iter().map(|p| top(p)).collect();
        let r = Report::from_confusion(&classes, confusion(&truth, &pred, 4));
        let (same, diff) = match &reference {
            None => (n, 0.0f32),
            Some(refp) => (
                refp.iter()
                    .zip(&probs)
                    .filter(|(a, b)| top(a) == top(b))
                    .count(),
                refp.iter()
                    .zip(&probs)
                    .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
                    .fold(0.0, f32::max),
            ),
        };
        // Batch 1, one face after another, after a warm-up; the median of five rounds.
        let faces = 300.min(n);
        for i in 0..20 {
            m.predict(&px[i * s2..(i + 1) * s2], 1).expect("predict");
        }
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                for i in 0..faces {
                    m.predict(&px[i * s2..(i + 1) * s2], 1).expect("predict");
                }
                t.elapsed().as_secs_f64() * 1000.0 / faces as f64
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.2}% | {:.2}% | {:.2}% ({same} of {n}) | {diff:.1e} | {:.2} |",
            r.accuracy * 100.0,
            r.macro_f1 * 100.0,
            same as f64 * 100.0 / n as f64,
            rounds[2]
        );
        if reference.is_none() {
            reference = Some(probs);
        }
    }
}
