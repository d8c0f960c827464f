//! `areya graph`: the architecture as a Graphviz DOT graph (and SVG when `dot` is installed).

use super::{default_model, write_file};
use anyhow::{bail, Context};
use areya_ml::Classifier;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Write DOT here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also render SVG here with Graphviz' `dot`.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

/// The DOT text: one box per layer with its type, output shape and parameter count.
pub fn dot(clf: &Classifier) -> String {
    let rows = clf.net.summary(&clf.vs);
    let s = clf.image_size();
    let mut d = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"DejaVu Sans\", fontsize=10];\n  input [label=\"input\\n1×{s}×{s} grayscale\", fillcolor=\"#ffffff\"];\n",
        clf.config.architecture.name()
    );
    let mut prev = "input".to_string();
    for r in &rows {
        let shape: Vec<String> = r.output_shape[1..].iter().map(|x| x.to_string()).collect();
        let params = if r.params > 0 {
            format!("\\n{} params", r.params)
        } else {
            String::new()
        };
        d += &format!(
            "  {} [label=\"{}\\n{}\\n{}{}\"];\n  {} -> {};\n",
            r.name,
            r.name,
            r.kind,
            shape.join("×"),
            params,
            prev,
            r.name
        );
        prev = r.name.clone();
    }
    let mut names = clf.class_names().join(", ");
    let aux = &clf.config.train.data.auxiliary;
    if !aux.is_empty() {
        let dropped: Vec<&str> = aux.iter().map(|c| c.name.as_str()).collect();
        names += &format!("\\n(auxiliary outputs dropped: {})", dropped.join(", "));
    }
    d += &format!(
        "  output [label=\"softmax\\n{names}\", fillcolor=\"#ffffff\"];\n  {prev} -> output;\n}}\n"
    );
    d
}

pub fn run(a: GraphArgs) -> anyhow::Result<()> {
    let clf = Classifier::load(&default_model(a.model)?)?;
    let text = dot(&clf);
    match &a.out {
        Some(p) => write_file(p, text.as_bytes())?,
        None if a.svg.is_none() => print!("{text}"),
        None => {}
    }
    if let Some(svg) = &a.svg {
        let mut child = match Command::new("dot").arg("-Tsvg").arg("-o").arg(svg).stdin(Stdio::piped()).spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("--svg: Graphviz 'dot' is not installed (apt-get install graphviz); the DOT text needs no Graphviz"),
            Err(e) => return Err(e).context("cannot run dot"),
        };
        child
            .stdin
            .take()
            .context("dot stdin")?
            .write_all(text.as_bytes())?;
        let st = child.wait()?;
        if !st.success() {
            bail!("dot failed ({st}) rendering {}", svg.display());
        }
    }
    Ok(())
}
