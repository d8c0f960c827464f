//! `areya summary`: the model as a Keras-style table of layers, output shapes and parameters.

use super::default_model;
use areya_ml::model::{param_totals, LayerSummary};
use areya_ml::Classifier;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

pub fn run(a: SummaryArgs) -> anyhow::Result<()> {
    let model = default_model(a.model)?;
    let clf = Classifier::load(&model)?;
    println!(
        "Model \"{}\" ({}) from {}",
        clf.config.architecture.name(),
        clf.class_names().join(", "),
        model.display()
    );
    if let Some(note) = auxiliary_note(&clf) {
        println!("{note}");
    }
    print!("{}", table(&clf.net.summary(&clf.vs)));
    Ok(())
}

/// A line for a model trained with auxiliary classes, whose head has more outputs than it
/// predicts: which ones, and that inference drops them.
pub fn auxiliary_note(clf: &Classifier) -> Option<String> {
    let aux = &clf.config.train.data.auxiliary;
    if aux.is_empty() {
        return None;
    }
    let names: Vec<&str> = aux.iter().map(|c| c.name.as_str()).collect();
    Some(format!(
        "The head's last {} outputs are auxiliary classes learnt in training and never predicted ({}): \
         inference takes the softmax over the first {} only.",
        aux.len(),
        names.join(", "),
        clf.class_names().len()
    ))
}

/// Formats summary rows like Keras' `model.summary()`.
pub fn table(rows: &[LayerSummary]) -> String {
    let shape = |s: &[i64]| {
        format!(
            "({})",
            std::iter::once("None".to_string())
                .chain(s[1..].iter().map(|d| d.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let w0 = rows
        .iter()
        .map(|r| r.name.len() + r.kind.len() + 3)
        .max()
        .unwrap_or(10)
        .max(12);
    let w1 = rows
        .iter()
        .map(|r| shape(&r.output_shape).len())
        .max()
        .unwrap_or(10)
        .max(12);
    let rule = |c: char| c.to_string().repeat(w0 + w1 + 14);
    let mut s = format!(
        "{}\n{:<w0$} {:<w1$} {:>12}\n{}\n",
        rule('_'),
        "Layer (type)",
        "Output Shape",
        "Param #",
        rule('=')
    );
    for r in rows {
        s += &format!(
            "{:<w0$} {:<w1$} {:>12}\n",
            format!("{} ({})", r.name, r.kind),
            shape(&r.output_shape),
            r.params
        );
    }
    let (total, trainable, frozen) = param_totals(rows);
    s += &format!("{}\nTotal params: {total}\nTrainable params: {trainable}\nNon-trainable params: {frozen}\n{}\n", rule('='), rule('_'));
    s
}
