//! `areya report`: one self-contained, offline HTML page (images embedded) with everything the
//! notebook showed: training curves, classification report, confusion matrices, calibration,
//! confident mistakes, example predictions, feature maps, model summary and architecture.

use super::{default_model, write_file};
use anyhow::Context;
use areya_ml::evaluate::{evaluate_set, load_split};
use areya_ml::plots::{self, PredictionBars};
use areya_ml::Classifier;
use base64::Engine;
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub on: super::ModelOnSplit,
    /// Average in the horizontally flipped image's prediction.
    #[arg(long)]
    pub tta: bool,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathBuf,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn img(path: &Path, alt: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!(
        "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
        esc(alt),
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let model = default_model(a.on.model)?;
    let clf = Classifier::load(&model)?;
    let (set, skipped) = load_split(&clf, &a.on.data, &a.on.split, false)?;
    let ev = evaluate_set(&clf, &set, a.tta, 256)?;
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let dir = tmp.path();
    super::evaluate::draw_plots(&ev, &set, &clf, dir)?;
    let names: Vec<String> = clf.class_names().iter().map(|s| s.to_string()).collect();

    // One example prediction per class: the first image of each true class.
    let mut examples = String::new();
    for (c, name) in names.iter().enumerate() {
        if let Some(i) = ev.predictions.iter().position(|p| p.truth == c) {
            let p = &ev.predictions[i];
            let title = format!(
                "true {name} — predicted {} {:.0}%",
                names[p.predicted],
                p.probs[p.predicted] * 100.0
            );
            let f = dir.join(format!("example_{c}.png"));
            plots::save(
                &PredictionBars {
                    pixels: set.image(i),
                    size: set.size,
                    classes: &names,
                    probs: &p.probs,
                    title: title.clone(),
                },
                &f,
            )?;
            examples += &img(&f, &title)?;
        }
    }
    // Feature maps of the first conv layer and of the last pooling layer for the first image.
    let mut features = String::new();
    if !set.is_empty() {
        use areya_ml::model::LayerKind;
        let maps = clf.feature_maps(
            set.image(0),
            |k| matches!(k, LayerKind::Relu | LayerKind::MaxPool { .. }),
            32,
        )?;
        let picks = [maps.first(), maps.last()].into_iter().flatten();
        for (i, (_, m)) in picks.enumerate() {
            let f = dir.join(format!("features_{i}.png"));
            plots::save(m, &f)?;
            features += &img(&f, &m.title)?;
        }
    }

    let r = &ev.report;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Areya model report — {m}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1250px;color:#222;padding:0 1rem}}\
         h1{{margin-bottom:0}} h2{{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}}\
         img{{max-width:100%;margin:.3rem}} pre{{background:#f6f6f6;padding:.8rem 1rem 1.4rem;overflow-x:auto;font-size:13px;line-height:1.35;white-space:pre}} .arch{{overflow-x:auto}}\
         table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}}\
         .kpi{{display:inline-block;margin-right:2rem;font-size:1.3rem}}</style></head><body>\
         <h1>Areya model report</h1><p>Model <code>{m}</code> ({arch}) evaluated on <code>{d}</code>: {n} images{tta}{skipped}.</p>\
         <p><span class=\"kpi\">accuracy <b>{acc:.2}%</b></span><span class=\"kpi\">macro-F1 <b>{f1:.3}</b></span>\
         <span class=\"kpi\">loss <b>{loss:.4}</b></span><span class=\"kpi\">ECE <b>{ece:.4}</b> (T = {t:.3})</span></p>",
        m = esc(&model.display().to_string()),
        arch = clf.config.architecture.name(),
        d = esc(&a.on.data.join(&a.on.split).display().to_string()),
        n = r.n,
        tta = if a.tta { ", with flip TTA" } else { "" },
        skipped = if skipped.is_empty() { String::new() } else { format!(" ({} unreadable skipped)", skipped.len()) },
        acc = r.accuracy * 100.0,
        f1 = r.macro_f1,
        loss = ev.loss,
        ece = ev.calibration.ece,
        t = clf.config.temperature,
    );
    let section = |h: &mut String, id: &str, title: &str, body: &str| {
        let _ = write!(h, "<section id=\"{id}\"><h2>{title}</h2>{body}</section>");
    };
    // A figure that is drawn only when there is something to draw, or why there is none.
    let img_or = |file: &str, alt: &str, none: &str| {
        let path = dir.join(file);
        if path.is_file() {
            img(&path, alt)
        } else {
            Ok(format!("<p>{none}</p>"))
        }
    };
    section(
        &mut h,
        "curves",
        "Training curves",
        &img_or(
            "curves.png",
            "accuracy and loss by epoch",
            "No metrics.csv in this run.",
        )?,
    );
    section(
        &mut h,
        "report",
        "Classification report",
        &format!("<pre>{}</pre>", esc(&r.to_text())),
    );
    section(
        &mut h,
        "confusion",
        "Confusion matrix",
        &(img(&dir.join("confusion.png"), "confusion matrix (counts)")?
            + &img(
                &dir.join("confusion_normalized.png"),
                "confusion matrix (row-normalised)",
            )?),
    );
    section(
        &mut h,
        "calibration",
        "Calibration",
        &img(&dir.join("reliability.png"), "reliability diagram")?,
    );
    section(
        &mut h,
        "mistakes",
        "Most confident mistakes",
        &img_or("mistakes.png", "most confident mistakes", "No mistakes.")?,
    );
    section(&mut h, "predictions", "Example predictions", &examples);
    section(&mut h, "features", "Feature maps", &features);
    section(
        &mut h,
        "summary",
        "Model summary",
        // The note is prose: a paragraph that wraps, not a line running out of the table.
        &format!(
            "<pre>{}</pre>{}",
            esc(&super::summary::table(&clf.net.summary(&clf.vs))),
            super::summary::auxiliary_note(&clf)
                .map(|n| format!("<p>{}</p>", esc(&n)))
                .unwrap_or_default()
        ),
    );
    section(
        &mut h,
        "architecture",
        "Architecture",
        &format!(
            "<div class=\"arch\">{}</div><p>The same as Graphviz DOT: <code>areya graph</code>.</p>",
            super::graph::svg(&clf, false)
        ),
    );
    h += "</body></html>\n";
    write_file(&a.out, h.as_bytes())?;
    println!("Wrote {} ({} KB)", a.out.display(), h.len() / 1024);
    Ok(())
}
