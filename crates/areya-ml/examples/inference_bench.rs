//! Batch-1 classification cost of a trained model: its inference form (BatchNorm folded,
//! channels-last; float32 and bfloat16) against the same network run layer by layer in eval
//! mode, back to back on one thread, in alternating rounds so all see the same machine load.
//! Prints each one's median, its speed-up over the layered reference and its largest logit
//! difference from it.
//!
//! ```sh
//! cargo run --release -p areya-ml --example inference_bench -- models/areya-fer4 [FACES] [ROUNDS]
//! ```

use areya_ml::model::InferenceNet;
use areya_ml::Classifier;
use std::time::Instant;
use tch::{Kind, Tensor};

/// One way of running the network on a batch.
type Forward<'a> = dyn Fn(&Tensor) -> Tensor + 'a;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or("usage: inference_bench MODEL [FACES] [ROUNDS]")?;
    let faces: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let rounds: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(7);
    if faces == 0 || rounds == 0 {
        return Err("FACES and ROUNDS must be at least 1".into());
    }
    tch::set_num_threads(1);
    let clf = Classifier::load(std::path::Path::new(dir))?;
    let s = clf.image_size() as i64;
    tch::manual_seed(1);
    let inputs: Vec<Tensor> = (0..faces)
        .map(|_| Tensor::rand([1, 1, s, s], (Kind::Float, tch::Device::Cpu)))
        .collect();
    let layered = |x: &Tensor| tch::no_grad(|| clf.net.forward_t(x, false));
    // Both built from the trained float32 weights (clf.infer may already be bfloat16).
    let f32net = InferenceNet::from_network(&clf.net);
    let bf16net = f32net.with_kind(Kind::BFloat16);
    let float32 = |x: &Tensor| f32net.forward(x);
    let bfloat16 = |x: &Tensor| bf16net.forward(x);
    let variants: [(&str, &Forward<'_>); 3] = [
        ("layer by layer, float32 (reference)", &layered),
        ("inference form, float32", &float32),
        ("inference form, bfloat16", &bfloat16),
    ];
    // Largest logit difference from the reference on 50 faces, then a warm-up.
    let diffs: Vec<f64> = variants
        .iter()
        .map(|(_, f)| {
            inputs
                .iter()
                .take(50)
                .map(|x| (layered(x) - f(x)).abs().max().double_value(&[]))
                .fold(0.0, f64::max)
        })
        .collect();
    for x in inputs.iter().take(100) {
        for (_, f) in &variants {
            let _ = f(x);
        }
    }
    let time = |f: &dyn Fn(&Tensor) -> Tensor| {
        let t = Instant::now();
        for x in &inputs {
            let _ = f(x);
        }
        t.elapsed().as_secs_f64() * 1000.0 / faces as f64
    };
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        for ((_, f), r) in variants.iter().zip(runs.iter_mut()) {
            r.push(time(*f));
        }
    }
    let medians: Vec<f64> = runs
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    println!(
        "model {dir}: {faces} faces × {rounds} rounds, batch 1, one thread; Areya runs {} here",
        clf.precision.name()
    );
    for (((name, _), m), (r, d)) in variants.iter().zip(&medians).zip(runs.iter().zip(&diffs)) {
        println!(
            "{name:<38} {m:.3} ms a face  ×{:.2}  [{}]  largest logit difference {d:.1e}",
            medians[0] / m,
            fmt(r)
        );
    }
    Ok(())
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}
