//! `areya graph`: the architecture as a Graphviz DOT graph, and as SVG drawn here (no Graphviz
//! needed).

use super::{default_model, write_file};
use areya_ml::Classifier;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Run directory (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Write DOT here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also draw the architecture as SVG here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

/// One layer as both drawings label it.
struct Layer {
    name: String,
    kind: &'static str,
    /// The output shape without the batch, as "64×24×24".
    shape: String,
    /// Parameters; `None` for a layer without any.
    params: Option<i64>,
}

fn layers(clf: &Classifier) -> Vec<Layer> {
    clf.net
        .summary(&clf.vs)
        .into_iter()
        .map(|r| Layer {
            shape: r.output_shape[1..]
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("×"),
            params: (r.params > 0).then_some(r.params),
            name: r.name,
            kind: r.kind,
        })
        .collect()
}

/// The auxiliary classes the model was trained with and inference drops, if any.
fn dropped(clf: &Classifier) -> Option<String> {
    let aux = &clf.config.train.data.auxiliary;
    (!aux.is_empty()).then(|| {
        aux.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The DOT text: one box per layer with its type, output shape and parameter count.
pub fn dot(clf: &Classifier) -> String {
    let s = clf.image_size();
    let mut d = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"DejaVu Sans\", fontsize=10];\n  input [label=\"input\\n1×{s}×{s} grayscale\", fillcolor=\"#ffffff\"];\n",
        clf.config.architecture.name()
    );
    let mut prev = "input".to_string();
    for l in layers(clf) {
        let params = l.params.map(|p| format!("\\n{p} params")).unwrap_or_default();
        let Layer {
            name, kind, shape, ..
        } = &l;
        d += &format!(
            "  {name} [label=\"{name}\\n{kind}\\n{shape}{params}\"];\n  {prev} -> {name};\n"
        );
        prev = l.name;
    }
    let mut names = clf.class_names().join(", ");
    if let Some(dropped) = dropped(clf) {
        names += &format!("\\n(auxiliary outputs dropped: {dropped})");
    }
    d += &format!(
        "  output [label=\"softmax\\n{names}\", fillcolor=\"#ffffff\"];\n  {prev} -> output;\n}}\n"
    );
    d
}

/// The same chain drawn as SVG, without Graphviz: boxes top to bottom in columns of at most
/// ten, each with its layer, type, output shape and parameters. `standalone` adds the XML
/// namespace a separate `.svg` file needs (inline in HTML it must not: the report stays free
/// of addresses).
pub fn svg(clf: &Classifier, standalone: bool) -> String {
    let s = clf.image_size();
    let mut boxes: Vec<(String, String, bool)> =
        vec![("input".into(), format!("1×{s}×{s} grayscale"), true)];
    for l in layers(clf) {
        let params = l.params.map(|p| format!(" · {p} params")).unwrap_or_default();
        boxes.push((
            format!("{} ({})", l.name, l.kind),
            format!("{}{params}", l.shape),
            false,
        ));
    }
    let title = match dropped(clf) {
        None => "softmax".to_string(),
        Some(d) => format!("softmax (drops {d})"),
    };
    boxes.push((title, clf.class_names().join(", "), true));
    let (bw, bh, gap, col_gap, per_col) = (250.0, 40.0, 16.0, 40.0, 10usize);
    let cols = boxes.len().div_ceil(per_col);
    let width = cols as f64 * (bw + col_gap) - col_gap + 20.0;
    let height = per_col.min(boxes.len()) as f64 * (bh + gap) - gap + 32.0;
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let ns = if standalone {
        " xmlns=\"http://www.w3.org/2000/svg\""
    } else {
        ""
    };
    let mut out = format!(
        "<svg{ns} viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"{} architecture\">\n",
        clf.config.architecture.name()
    );
    let pos = |i: usize| {
        let (c, r) = (i / per_col, i % per_col);
        (
            10.0 + c as f64 * (bw + col_gap),
            16.0 + r as f64 * (bh + gap),
        )
    };
    for i in 1..boxes.len() {
        let (x0, y0) = pos(i - 1);
        let (x1, y1) = pos(i);
        let d = if x0 == x1 {
            format!("M{} {} V{}", x0 + bw / 2.0, y0 + bh, y1 - 3.0)
        } else {
            // Bottom of one column to the top of the next.
            let mid = x0 + bw + col_gap / 2.0;
            format!(
                "M{} {} V{} H{mid} V{} H{} V{}",
                x0 + bw / 2.0,
                y0 + bh,
                y0 + bh + gap / 2.0,
                y1 - gap / 2.0 + 2.0,
                x1 + bw / 2.0,
                y1 - 3.0
            )
        };
        out += &format!("<path d=\"{d}\" fill=\"none\" stroke=\"#7a8591\"/>\n");
        out += &format!(
            "<path d=\"M{} {} l-4 -6 h8 z\" fill=\"#7a8591\"/>\n",
            x1 + bw / 2.0,
            y1
        );
    }
    for (i, (title, detail, io)) in boxes.iter().enumerate() {
        let (x, y) = pos(i);
        let fill = if *io { "#ffffff" } else { "#eef3fb" };
        out += &format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{bh}\" rx=\"6\" fill=\"{fill}\" stroke=\"#5b7db1\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#39434d\">{}</text>\n",
            x + bw / 2.0,
            y + 16.0,
            esc(title),
            x + bw / 2.0,
            y + 31.0,
            esc(detail)
        );
    }
    out += "</svg>\n";
    out
}

pub fn run(a: GraphArgs) -> anyhow::Result<()> {
    let clf = Classifier::load(&default_model(a.model)?)?;
    let text = dot(&clf);
    match &a.out {
        Some(p) => write_file(p, text.as_bytes())?,
        None if a.svg.is_none() => print!("{text}"),
        None => {}
    }
    if let Some(path) = &a.svg {
        write_file(path, svg(&clf, true).as_bytes())?;
    }
    Ok(())
}
