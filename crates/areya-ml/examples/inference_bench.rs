//! Batch-1 classification cost of a trained model: the folded inference form that Areya runs
//! (`Classifier::logits`) against the same network layer by layer in eval mode, back to back
//! on one thread, in alternating rounds so both see the same machine load.
//!
//! ```sh
//! cargo run --release -p areya-ml --example inference_bench -- models/areya-fer4 [FACES] [ROUNDS]
//! ```

use areya_ml::Classifier;
use std::time::Instant;
use tch::{Kind, Tensor};

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
    let folded = |x: &Tensor| clf.logits(x);
    let bf16net = clf.infer.with_kind(Kind::BFloat16);
    let bf16 = |x: &Tensor| bf16net.forward(x);
    // Same answers first.
    let mut worst = 0f64;
    for x in inputs.iter().take(50) {
        worst = worst.max((layered(x) - folded(x)).abs().max().double_value(&[]));
    }
    for x in inputs.iter().take(100) {
        let _ = layered(x);
        let _ = folded(x);
    }
    let time = |f: &dyn Fn(&Tensor) -> Tensor| {
        let t = Instant::now();
        for x in &inputs {
            let _ = f(x);
        }
        t.elapsed().as_secs_f64() * 1000.0 / faces as f64
    };
    let mut worst16 = 0f64;
    for x in inputs.iter().take(50) {
        worst16 = worst16.max((layered(x) - bf16(x)).abs().max().double_value(&[]));
    }
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(time(&layered));
        b.push(time(&folded));
        c.push(time(&bf16));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ma, mb, mc) = (median(&mut a), median(&mut b), median(&mut c));
    println!(
        "model {dir}: {faces} faces × {rounds} rounds, batch 1, one thread \
         (largest logit difference {worst:.2e})"
    );
    println!(
        "layer by layer (eval mode): {ma:.3} ms a face  [{}]",
        fmt(&a)
    );
    println!(
        "folded (what Areya runs):   {mb:.3} ms a face  [{}]",
        fmt(&b)
    );
    println!("speed-up: {:.2}×", ma / mb);
    println!("bfloat16 folded: {mc:.3} ms a face  [{}] (largest logit difference {worst16:.2e}); speed-up {:.2}×", fmt(&c), ma / mc);
    Ok(())
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}
