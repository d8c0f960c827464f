//! `areya calibrate`: fits temperature scaling on a split (val) and stores the temperature in
//! the run's config.json, so every later prediction is calibrated.

use super::default_model;
use areya_ml::evaluate::{evaluate_at, fit_temperature, load_split, logits, nll};
use areya_ml::rundir::write_config;
use areya_ml::Classifier;
use clap::Args;
use tch::Tensor;

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub on: super::ModelOnSplit,
}

pub fn run(a: CalibrateArgs) -> anyhow::Result<()> {
    let model = default_model(a.on.model)?;
    let mut clf = Classifier::load(&model)?;
    let (set, _) = load_split(&clf, &a.on.data, &a.on.split, false)?;
    let z = logits(&clf, &set, 256);
    let y = Tensor::from_slice(&set.labels.iter().map(|&l| l as i64).collect::<Vec<_>>());
    let t = fit_temperature(&z, &y);
    let before = evaluate_at(&clf, &set, false, 256, 1.0)?;
    let after = evaluate_at(&clf, &set, false, 256, t)?;
    println!(
        "Temperature fitted on {} images of {}: T = {t:.4}",
        set.len(),
        a.on.data.join(&a.on.split).display()
    );
    println!(
        "  NLL {:.4} → {:.4}   ECE {:.4} → {:.4}   (accuracy unchanged: {:.4})",
        nll(&z, &y, 1.0),
        nll(&z, &y, t),
        before.calibration.ece,
        after.calibration.ece,
        after.report.accuracy
    );
    clf.config.temperature = t;
    write_config(&model, &clf.config)?;
    println!("Stored in {}", model.join("config.json").display());
    Ok(())
}
