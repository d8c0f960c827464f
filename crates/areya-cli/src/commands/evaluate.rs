//! `areya evaluate`: loss, accuracy, classification report, confusion matrix and calibration
//! of a run on a split, printed and optionally saved as JSON / CSV / per-image predictions.

use super::{default_model, write_file};
use anyhow::Context;
use areya_ml::config::Precision;
use areya_ml::dataset::ImageSet;
use areya_ml::evaluate::{evaluate_at, evaluate_set, evaluate_with, load_split, Evaluation};
use areya_ml::perturb::Perturbation;
use areya_ml::plots::{self, Confusion, Curves, Gallery, Reliability, Tile};
use areya_ml::Classifier;
use areya_vision::model::{EmotionModel, Runtime};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub on: super::ModelOnSplit,
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
    /// Draw the figures into this folder: confusion (counts, row-normalised), reliability,
    /// most confident mistakes, and training curves when the run has metrics.csv.
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Fail on the first unreadable image instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Compute in this precision instead of the model's (auto, float32, bfloat16).
    #[arg(long)]
    pub precision: Option<String>,
    /// Run the model on tract: the run directory's ONNX export (model.onnx, made by `areya
    /// export`) instead of its weights on libtorch; the images, classes and report are the same.
    #[arg(long)]
    pub runtime: Option<Runtime>,
    /// Evaluate under a camera condition: dim, low-contrast, washed-out, dark-gamma, noise, blur
    /// or pillow (each image changed at a fixed strength; see `areya_ml::perturb`).
    #[arg(long)]
    pub perturb: Option<String>,
}

pub fn run(a: EvaluateArgs) -> anyhow::Result<()> {
    let (precision, perturb) = (|| {
        Ok::<_, areya_ml::MlError>((
            a.precision.as_deref().map(Precision::parse).transpose()?,
            a.perturb.as_deref().map(Perturbation::parse).transpose()?,
        ))
    })()
    .map_err(super::flags::by_flag)?;
    let model = default_model(a.on.model)?;
    let mut clf = Classifier::load(&model)?;
    if let Some(p) = precision {
        clf.set_precision(p);
    }
    let (mut set, skipped) = load_split(&clf, &a.on.data, &a.on.split, a.strict)?;
    if let Some(p) = perturb {
        p.apply(&mut set.pixels, set.size);
    }
    if !skipped.is_empty() {
        eprintln!(
            "Skipped {} unreadable image(s), e.g. {}: {}",
            skipped.len(),
            skipped[0].path.display(),
            skipped[0].reason
        );
    }
    let tract = match a.runtime {
        Some(Runtime::Tract) => Some(EmotionModel::load(&model, Some(Runtime::Tract))?),
        _ => None,
    };
    let ev = match &tract {
        Some(m) => on_tract(m, &clf, &set, a.tta, a.batch_size)?,
        None => evaluate_set(&clf, &set, a.tta, a.batch_size)?,
    };
    let computed_in = match &tract {
        Some(_) => "tract (model.onnx, float32)",
        None => clf.precision.name(),
    };
    println!(
        "Evaluated {} on {}: {} images, {} classes, {computed_in}{}",
        model.display(),
        a.on.data.join(&a.on.split).display(),
        ev.report.n,
        ev.report.classes.len(),
        if a.tta { ", with flip TTA" } else { "" }
    );
    if let Some(p) = perturb {
        println!("Camera condition: {} (every image changed)", p.name());
    }
    print!("{}", text(&ev));
    let t = clf.config.temperature;
    // The export has the temperature inside its graph: only libtorch can show the difference.
    if (t - 1.0).abs() > 1e-9 && tract.is_none() {
        let raw = evaluate_at(&clf, &set, a.tta, a.batch_size, 1.0)?;
        println!(
            "\nCalibration: temperature {t:.3}; ECE {:.4} uncalibrated → {:.4} calibrated",
            raw.calibration.ece, ev.calibration.ece
        );
    }
    if let Some(dir) = &a.plots {
        let written = draw_plots(&ev, &set, &clf, dir)?;
        println!("\nWrote {} (and an .svg of each)", written.join(", "));
    }
    if let Some(p) = &a.json {
        let mut v = serde_json::to_value(&ev).context("serialising the evaluation")?;
        v["model"] = model.display().to_string().into();
        v["data"] = a.on.data.join(&a.on.split).display().to_string().into();
        v["ece"] = ev.calibration.ece.into();
        v["inference_precision"] = computed_in.into();
        v["perturb"] = perturb.map(|p| p.name()).into();
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

/// The evaluation with the run's ONNX export on tract: each image (and its mirror image with
/// `tta`) through the graph, which applies the run's calibrated temperature itself.
fn on_tract(
    m: &EmotionModel,
    clf: &Classifier,
    set: &ImageSet,
    tta: bool,
    batch_size: usize,
) -> anyhow::Result<Evaluation> {
    anyhow::ensure!(
        m.class_names() == clf.class_names() && m.image_size() == set.size,
        "{}: its classes or crop size are not those of config.json (export it again)",
        clf.dir.join(areya_vision::model::ONNX_FILE).display()
    );
    let names = m.class_names();
    let err = |e: areya_vision::VisionError| areya_ml::MlError::config("model", e.to_string());
    Ok(evaluate_with(&names, set, tta, batch_size, |chunk| {
        let px: Vec<u8> = chunk.iter().flat_map(|&i| set.image(i).iter().copied()).collect();
        let mut p = m.predict(&px, chunk.len()).map_err(err)?;
        if tta {
            let mut flipped = px;
            for img in flipped.chunks_mut((set.size * set.size) as usize) {
                areya_ml::augment::hflip_in_place(img, set.size);
            }
            let q = m.predict(&flipped, chunk.len()).map_err(err)?;
            for (a, b) in p.iter_mut().zip(q) {
                a.iter_mut().zip(b).for_each(|(x, y)| *x = (*x + y) / 2.0);
            }
        }
        Ok(p)
    })?)
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
    let mut csv = super::ProbabilityCsv::new(&["true", "predicted"], &names);
    for p in &ev.predictions {
        csv.row(&p.path, &[names[p.truth], names[p.predicted]], &p.probs);
    }
    csv.text()
}

/// Draws the evaluation figures into `dir`; returns the paths written.
pub fn draw_plots(
    ev: &Evaluation,
    set: &ImageSet,
    clf: &Classifier,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let mut save = |name: &str,
                    plot: &dyn Fn(&std::path::Path) -> areya_ml::error::Result<()>|
     -> anyhow::Result<()> {
        // Each figure as PNG and as SVG.
        let p = dir.join(name);
        plot(&p)?;
        plot(&p.with_extension("svg"))?;
        written.push(p.display().to_string());
        Ok(())
    };
    let acc = format!(
        "accuracy {:.1}%, macro-F1 {:.3}",
        ev.report.accuracy * 100.0,
        ev.report.macro_f1
    );
    save("confusion.png", &|p| {
        plots::save(
            &Confusion {
                report: &ev.report,
                normalized: false,
                title: format!("Confusion matrix (counts) — {acc}"),
            },
            p,
        )
    })?;
    save("confusion_normalized.png", &|p| {
        plots::save(
            &Confusion {
                report: &ev.report,
                normalized: true,
                title: "Confusion matrix (share of each true class)".into(),
            },
            p,
        )
    })?;
    save("reliability.png", &|p| {
        plots::save(
            &Reliability {
                calibration: &ev.calibration,
                title: "Reliability".into(),
            },
            p,
        )
    })?;
    let tiles = mistakes(ev, set, clf, 16);
    if !tiles.is_empty() {
        let gallery = Gallery {
            tiles,
            columns: 4,
            title: "Most confident mistakes".into(),
        };
        save("mistakes.png", &|p| plots::save(&gallery, p))?;
    }
    let metrics = clf.dir.join("metrics.csv");
    if metrics.is_file() {
        let history = areya_ml::callbacks::CsvLogger::read(&metrics)?;
        save("curves.png", &|p| {
            plots::save(
                &Curves {
                    history: &history,
                    title: "Training".into(),
                },
                p,
            )
        })?;
    }
    Ok(written)
}

/// The `n` wrong predictions with the highest confidence.
pub fn mistakes(ev: &Evaluation, set: &ImageSet, clf: &Classifier, n: usize) -> Vec<Tile> {
    let names = clf.class_names();
    let mut wrong: Vec<(usize, f32)> = ev
        .predictions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.truth != p.predicted)
        .map(|(i, p)| (i, p.probs[p.predicted]))
        .collect();
    wrong.sort_by(|a, b| b.1.total_cmp(&a.1));
    wrong
        .into_iter()
        .take(n)
        .map(|(i, conf)| {
            let p = &ev.predictions[i];
            Tile {
                pixels: set.image(i).to_vec(),
                size: set.size,
                caption: format!(
                    "true {}\npredicted {} {:.0}%",
                    names[p.truth],
                    names[p.predicted],
                    conf * 100.0
                ),
            }
        })
        .collect()
}
