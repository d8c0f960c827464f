//! Accuracy of a model trained with auxiliary classes over *all* its outputs — its own classes
//! and the auxiliary ones (for FER-2013: the literature's 7-class task), next to the accuracy
//! Areya uses (argmax over its own classes, on their faces only). This places a model against
//! published 7-class results, which use every class of the split.
//!
//! ```sh
//! cargo run --release -p areya-ml --example all_outputs -- models/areya-fer4 ../shared/fer2013/val
//! ```

use areya_ml::{augment, dataset, Classifier};
use std::path::Path;
use tch::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(split)) = (args.get(1), args.get(2)) else {
        return Err("usage: all_outputs MODEL SPLIT_DIR (SPLIT_DIR/<class>/images)".into());
    };
    let clf = Classifier::load(Path::new(model))?;
    let outputs = clf.config.train.data.output_classes()?;
    let (own, all) = (clf.config.classes.len(), outputs.len());
    if own == all {
        return Err(format!("{model} has no auxiliary classes: `areya evaluate` scores it").into());
    }
    let listing = dataset::list_split(Path::new(split), &outputs)?;
    let set = dataset::load(&listing, all, clf.image_size(), false)?.set;
    let idx: Vec<usize> = (0..set.len()).collect();
    let parts: Vec<Tensor> = idx
        .chunks(256)
        .map(|c| clf.infer.forward(&augment::batch(&set, c, None).0))
        .collect();
    let z = Tensor::cat(&parts, 0);
    let every: Vec<i64> = Vec::try_from(z.argmax(-1, false))?;
    let among_own: Vec<i64> = Vec::try_from(z.narrow(-1, 0, own as i64).argmax(-1, false))?;
    let truth: Vec<i64> = set.labels.iter().map(|&l| l as i64).collect();
    let share = |hits: usize, n: usize| hits as f64 / n.max(1) as f64;
    let hits_all = truth.iter().zip(&every).filter(|(t, p)| t == p).count();
    let own_faces: Vec<usize> = (0..truth.len())
        .filter(|&i| truth[i] < own as i64)
        .collect();
    let hits_own = own_faces
        .iter()
        .filter(|&&i| among_own[i] == truth[i])
        .count();
    println!(
        "all {all} outputs, every face: accuracy {:.4} ({hits_all} of {})",
        share(hits_all, truth.len()),
        truth.len()
    );
    println!(
        "its {own} classes, their faces (what `areya evaluate` scores): accuracy {:.4} ({hits_own} of {})",
        share(hits_own, own_faces.len()),
        own_faces.len()
    );
    print!("recall over all outputs:");
    for (k, name) in outputs.names().iter().enumerate() {
        let n = truth.iter().filter(|&&t| t == k as i64).count();
        let h = (0..truth.len())
            .filter(|&i| truth[i] == k as i64 && every[i] == k as i64)
            .count();
        print!(" {name} {:.3}", share(h, n));
    }
    println!();
    Ok(())
}
