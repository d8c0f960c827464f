//! `areya predict`: class and probabilities for face-crop images, as a table, JSON or CSV,
//! optionally with the notebook's image + probability-bar figure per image.

use super::default_model;
use anyhow::bail;
use areya_ml::dataset::{decode_gray, IMAGE_EXTENSIONS};
use areya_ml::plots::{self, PredictionBars};
use areya_vision::model::{EmotionModel, Runtime};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Run directory, or a model exported with `areya export --onnx` (default: the shipped
    /// model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// What runs the model: libtorch (a run directory) or tract (an .onnx file, or the run
    /// directory's model.onnx). Default: tract for an .onnx file, else libtorch.
    #[arg(long)]
    pub runtime: Option<Runtime>,
    /// Face-crop images, or folders of them.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Print JSON (one object per image) instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// Also draw each image beside its probability bars into this folder (PNG).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Average in the horizontally flipped image's prediction.
    #[arg(long)]
    pub tta: bool,
    /// Figure format for --plot.
    #[arg(long, value_enum, default_value = "png")]
    pub format: super::Format,
}

fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                            IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e))
                        })
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn run(a: PredictArgs) -> anyhow::Result<()> {
    let clf = EmotionModel::load(&default_model(a.model)?, a.runtime)?;
    let size = clf.image_size();
    let names: Vec<String> = clf.class_names();
    let files = expand(&a.inputs)?;
    if let Some(dir) = &a.plot {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    let mut rows: Vec<(PathBuf, Vec<f32>)> = Vec::new();
    let mut failed = 0;
    for f in &files {
        let px = match std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| decode_gray(&b, size))
        {
            Ok(px) => px,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                failed += 1;
                continue;
            }
        };
        let mut probs = clf.predict(&px, 1)?.remove(0);
        if a.tta {
            let mut flipped = px.clone();
            areya_ml::augment::hflip_in_place(&mut flipped, size);
            let p2 = clf.predict(&flipped, 1)?.remove(0);
            probs
                .iter_mut()
                .zip(p2)
                .for_each(|(x, y)| *x = (*x + y) / 2.0);
        }
        if let Some(dir) = &a.plot {
            let best = argmax(&probs);
            let title = format!(
                "{} — {} {:.0}%",
                file_name(f),
                names[best],
                probs[best] * 100.0
            );
            let stem = Path::new(&file_name(f))
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let out = dir.join(format!("{stem}.{}", a.format.ext()));
            plots::save(
                &PredictionBars {
                    pixels: &px,
                    size,
                    classes: &names,
                    probs: &probs,
                    title,
                },
                &out,
            )?;
        }
        rows.push((f.clone(), probs));
    }
    // Nothing readable: the error alone, not an empty table above it.
    if rows.is_empty() {
        bail!(
            "none of the {} input(s) could be read as an image",
            files.len().max(failed)
        );
    }
    print!("{}", render(&rows, &names, a.json, a.csv));
    Ok(())
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn render(rows: &[(PathBuf, Vec<f32>)], names: &[String], json: bool, csv: bool) -> String {
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(p, probs)| {
                let map: serde_json::Map<String, serde_json::Value> = names.iter().zip(probs).map(|(n, &x)| (n.clone(), (x as f64).into())).collect();
                serde_json::json!({"path": p.display().to_string(), "class": names[argmax(probs)], "probabilities": map})
            })
            .collect();
        return serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
    }
    if csv {
        let mut out = super::ProbabilityCsv::new(&["class"], names);
        for (p, probs) in rows {
            out.row(p, &[names[argmax(probs)].as_str()], probs);
        }
        return out.text();
    }
    let w = rows
        .iter()
        .map(|(p, _)| p.display().to_string().len())
        .max()
        .unwrap_or(4)
        .max(5);
    let mut s = format!("{:<w$}  {:<8}", "image", "class");
    for n in names {
        s += &format!(" {n:>8}");
    }
    s.push('\n');
    for (p, probs) in rows {
        s += &format!("{:<w$}  {:<8}", p.display(), names[argmax(probs)]);
        for x in probs {
            s += &format!(" {:>7.1}%", x * 100.0);
        }
        s.push('\n');
    }
    s
}
