//! `areya evaluate`: loss, accuracy, classification report, confusion matrix and calibration
//! of a run on a split, printed and optionally saved as JSON / CSV / per-image predictions.

use super::{default_model, write_file};
use anyhow::Context;
use areya_ml::evaluate::{evaluate_set, load_split, Evaluation};
use areya_ml::Classifier;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Data root holding <split>/<class>/images.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "val")]
    pub split: String,
    /// Average in the horizontally flipped image's prediction.
    #[arg(long)]
    pub tta: bool,
    /// Write the metrics as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the classification report as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write one row per image (path, true, predicted, probabilities) here.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Fail on the first unreadable image instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
}

pub fn run(a: EvaluateArgs) -> anyhow::Result<()> {
    let model = default_model(a.model)?;
    let clf = Classifier::load(&model)?;
    let (set, skipped) = load_split(&clf, &a.data, &a.split, a.strict)?;
    if !skipped.is_empty() {
        eprintln!(
            "Skipped {} unreadable image(s), e.g. {}: {}",
            skipped.len(),
            skipped[0].path.display(),
            skipped[0].reason
        );
    }
    let ev = evaluate_set(&clf, &set, a.tta, a.batch_size)?;
    println!(
        "Evaluated {} on {}: {} images, {} classes{}",
        model.display(),
        a.data.join(&a.split).display(),
        ev.report.n,
        ev.report.classes.len(),
        if a.tta { ", with flip TTA" } else { "" }
    );
    print!("{}", text(&ev));
    if let Some(p) = &a.json {
        let mut v = serde_json::to_value(&ev).context("serialising the evaluation")?;
        v["model"] = model.display().to_string().into();
        v["data"] = a.data.join(&a.split).display().to_string().into();
        v["ece"] = ev.calibration.ece.into();
        write_file(p, serde_json::to_string_pretty(&v)?.as_bytes())?;
    }
    if let Some(p) = &a.csv {
        write_file(p, report_csv(&ev).as_bytes())?;
    }
    if let Some(p) = &a.predictions {
        write_file(p, predictions_csv(&ev, &clf).as_bytes())?;
    }
    Ok(())
}

/// The printed summary: headline numbers, scikit-learn-style report, confusion matrix.
pub fn text(ev: &Evaluation) -> String {
    let r = &ev.report;
    let mut s = format!(
        "loss {:.4}  accuracy {:.4}  macro-F1 {:.4}  ECE {:.4}\n\n{}\nConfusion matrix (rows: true, columns: predicted):\n",
        ev.loss,
        r.accuracy,
        r.macro_f1,
        ev.calibration.ece,
        r.to_text()
    );
    let w = r.classes.iter().map(|c| c.len()).max().unwrap_or(4).max(6);
    let _ = write!(s, "{:>w$}", "");
    for c in &r.classes {
        let _ = write!(s, " {c:>w$}");
    }
    s.push('\n');
    for (c, row) in r.classes.iter().zip(&r.confusion) {
        let _ = write!(s, "{c:>w$}");
        for v in row {
            let _ = write!(s, " {v:>w$}");
        }
        s.push('\n');
    }
    s
}

fn report_csv(ev: &Evaluation) -> String {
    let r = &ev.report;
    let mut s = String::from("class,precision,recall,f1,support\n");
    for c in &r.classes {
        let x = &r.per_class[c];
        let _ = writeln!(
            s,
            "{c},{:.6},{:.6},{:.6},{}",
            x.precision, x.recall, x.f1, x.support
        );
    }
    let _ = writeln!(s, "accuracy,,,{:.6},{}", r.accuracy, r.n);
    for (name, x) in [
        ("macro avg", &r.macro_avg),
        ("weighted avg", &r.weighted_avg),
    ] {
        let _ = writeln!(
            s,
            "{name},{:.6},{:.6},{:.6},{}",
            x.precision, x.recall, x.f1, x.support
        );
    }
    s
}

fn predictions_csv(ev: &Evaluation, clf: &Classifier) -> String {
    let names = clf.class_names();
    let mut s = format!(
        "path,true,predicted,{}\n",
        names
            .iter()
            .map(|n| format!("p_{n}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for p in &ev.predictions {
        let probs: Vec<String> = p.probs.iter().map(|x| format!("{x:.6}")).collect();
        let path = p.path.display().to_string().replace('"', "\"\"");
        let _ = writeln!(
            s,
            "\"{path}\",{},{},{}",
            names[p.truth],
            names[p.predicted],
            probs.join(",")
        );
    }
    s
}
