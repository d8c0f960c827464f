//! End-to-end tests of the `areya` binary: flags, exit codes and messages, and crash safety
//! (kill -9 mid-epoch, then `--resume`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn areya() -> Command {
    Command::new(env!("CARGO_BIN_EXE_areya"))
}

fn run(args: &[&str]) -> Output {
    areya().args(args).output().expect("areya runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(feature = "model")]
/// `areya report` on `model` and `data` into `out`; the page.
fn report(model: &str, data: &str, out: &std::path::Path) -> String {
    let o = run(&[
        "report",
        "--model",
        model,
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(out).unwrap()
}

#[cfg(feature = "model")]
const SMALL: [&str; 10] = [
    "--widths",
    "8,16",
    "--convs-per-block",
    "1",
    "--batch-size",
    "16",
    "--threads",
    "2",
    "--quiet",
    "--seed=3",
];

#[test]
fn runs_without_ld_library_path() {
    let o = areya()
        .arg("--version")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("areya "));
}

#[cfg(feature = "model")]
#[test]
fn bad_flags_fail_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 4).unwrap();
    let data = tmp.path().to_str().unwrap();
    let cases: [(&[&str], &str); 20] = [
        (
            &["evaluate", "--data", data, "--precision", "fp8"],
            "--precision: unknown precision 'fp8'",
        ),
        (
            &["evaluate", "--data", data, "--perturb", "fog"],
            "--perturb: unknown condition 'fog' (dim, low-contrast, washed-out, dark-gamma, noise, blur, pillow)",
        ),
        (&["train", "--data", "/no/such/folder"], "/no/such/folder"),
        (
            &["train", "--data", data, "--teacher", "/no/such/teacher"],
            "/no/such/teacher",
        ),
        (
            &[
                "train",
                "--data",
                data,
                "--teacher",
                "t",
                "--distill-alpha",
                "2",
            ],
            "--distill-alpha: must be in (0, 1]",
        ),
        (
            &["train", "--data", data, "--classes", "angry,contempt"],
            "no folder for class 'contempt'",
        ),
        (
            &["train", "--data", data, "--classes", "angry"],
            "--classes: at least two classes",
        ),
        (
            &["train", "--data", data, "--arch", "resnet"],
            "--arch: unknown architecture 'resnet'",
        ),
        (
            &["train", "--data", data, "--lr", "-1"],
            "--lr: must be a positive number",
        ),
        (
            &["train", "--data", data, "--zoom", "2"],
            "--zoom: must be in [0, 0.9)",
        ),
        (
            &["train", "--data", data, "--erase", "2"],
            "--erase: must be a probability in [0, 1]",
        ),
        (
            &["train", "--data", data, "--blur", "5"],
            "--blur: must be in [0, 3] pixels (the largest Gaussian σ)",
        ),
        (
            &["train", "--data", data, "--gamma", "0.5"],
            "--gamma: must be in [1, 4] (the largest tone-curve exponent; 1 = off)",
        ),
        (
            &["train", "--data", data, "--auxiliary-classes", "sad"],
            "--auxiliary-classes: 'sad' is already a class",
        ),
        (
            &["train", "--data", data, "--auxiliary-classes", "contempt"],
            "no folder for class 'contempt'",
        ),
        (
            &["train", "--data", data, "--auxiliary-classes", "fear,,x"],
            "--auxiliary-classes: empty class",
        ),
        (
            &["train", "--data", data, "--precision", "half"],
            "--precision: unknown precision 'half'",
        ),
        (&["train", "--resume", "/no/such/run"], "/no/such/run"),
        (
            &[
                "average",
                "--model",
                "/no/such/run",
                "--out",
                "avg",
                "a.safetensors",
            ],
            "snapshots: give at least two",
        ),
        (
            &[
                "average",
                "--model",
                "/no/such/run",
                "--out",
                "avg",
                "a",
                "b",
            ],
            "/no/such/run",
        ),
    ];
    let cwd = tempfile::tempdir().unwrap();
    for (args, want) in cases {
        // Run where the default run directory (runs/<time>) would be created.
        let o = areya().args(args).current_dir(cwd.path()).output().unwrap();
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one line, got {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A run that never started leaves no empty run directory behind.
    assert!(
        !cwd.path().join("runs").exists(),
        "failed runs left {:?}",
        std::fs::read_dir(cwd.path().join("runs")).map(|d| d.count())
    );
}

#[cfg(feature = "model")]
/// A synthetic dataset with `per_class` images a class and a tiny run trained on it for
/// `epochs`: (its folder, the data root, the run directory).
fn trained(per_class: usize, epochs: &str) -> (tempfile::TempDir, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), per_class).unwrap();
    let data = tmp.path().to_str().unwrap().to_string();
    let out = tmp.path().join("r").to_str().unwrap().to_string();
    let mut args = vec!["train", "--data", &data, "--out", &out, "--epochs", epochs];
    args.extend(SMALL);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    (tmp, data, out)
}

#[cfg(feature = "model")]
fn metrics_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[cfg(feature = "model")]
#[test]
fn kill_9_mid_epoch_loses_at_most_that_epoch_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 120).unwrap();
    let out = tmp.path().join("run");
    let mut args = vec![
        "train",
        "--data",
        tmp.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "6",
        "--no-early-stopping",
    ];
    args.extend(SMALL);
    let mut child = areya()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first epoch's commit point (its checkpoint, written after its metrics row:
    // on a loaded machine that can take longer than the wait below), then a little into the
    // next epoch, and kill -9.
    let start = Instant::now();
    while metrics_rows(&out) < 1 || !out.join("last.safetensors").is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no epoch finished"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = metrics_rows(&out);
    assert!((1..6).contains(&done), "killed after {done} epochs");
    assert!(out.join("last.safetensors").is_file() && out.join("model.safetensors").is_file());

    let o = run(&["train", "--resume", out.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let epochs: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(epochs, ["1", "2", "3", "4", "5", "6"], "{text}");
    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    assert!(log.contains("resuming"), "{log}");
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(
        leftovers
            .iter()
            .all(|e| !e.file_name().to_string_lossy().starts_with("last")),
        "{leftovers:?}"
    );
}

#[cfg(feature = "model")]
#[test]
fn train_then_resume_with_more_epochs_and_default_flags_file() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 16).unwrap();
    let out = tmp.path().join("r");
    let mut args = vec![
        "train",
        "--data",
        tmp.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "1",
    ];
    args.extend(SMALL);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("Found 64 images belonging to 4 classes"),
        "{stdout}"
    );
    assert!(stdout.contains("Epoch 1/1"), "{stdout}");
    let o = run(&[
        "train",
        "--resume",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metrics_rows(&out), 2);
}

#[cfg(feature = "model")]
#[test]
fn evaluate_and_summary_on_a_trained_run() {
    let (tmp, data, model) = trained(16, "1");
    let (data, model) = (data.as_str(), model.as_str());

    let (json, csv, preds) = (
        tmp.path().join("e.json"),
        tmp.path().join("e.csv"),
        tmp.path().join("p.csv"),
    );
    // `evaluate` of the run with flip TTA in bfloat16, JSON to `json`, then `more` flags.
    let evaluate = |more: &[&str]| {
        let mut args = vec!["evaluate", "--model", model, "--data", data, "--tta"];
        args.extend(["--precision", "bfloat16", "--json", json.to_str().unwrap()]);
        args.extend(more);
        run(&args)
    };
    let o = evaluate(&[
        "--csv",
        csv.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for s in [
        "4 classes, bfloat16, with flip TTA",
        "accuracy",
        "macro avg",
        "weighted avg",
        "Confusion matrix",
        "relaxed",
        "ECE",
    ] {
        assert!(stdout.contains(s), "{s}: {stdout}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["n"], 16);
    assert_eq!(v["inference_precision"], "bfloat16");
    assert_eq!(
        v["classes"],
        serde_json::json!(["angry", "happy", "relaxed", "sad"])
    );
    assert_eq!(v["confusion"].as_array().unwrap().len(), 4);
    let total: u64 = v["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(total, 16);
    for key in ["precision", "recall", "f1", "support"] {
        assert!(v["per_class"]["relaxed"][key].is_number(), "{key}");
    }
    assert!(v["accuracy"].is_number() && v["macro_f1"].is_number() && v["ece"].is_number());
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(
        csv.starts_with("class,precision,recall,f1,support\nangry,"),
        "{csv}"
    );
    let preds = std::fs::read_to_string(&preds).unwrap();
    assert!(preds.starts_with("path,true,predicted,p_angry,p_happy,p_relaxed,p_sad\n"));
    assert_eq!(preds.lines().count(), 17);

    // Under a camera condition: said so, recorded in the JSON, other probabilities.
    let dim = tmp.path().join("dim.csv");
    let o = evaluate(&["--perturb", "dim", "--predictions", dim.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Camera condition: dim"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["perturb"], "dim");
    let dim = std::fs::read_to_string(&dim).unwrap();
    assert_eq!(dim.lines().count(), 17);
    assert_ne!(dim, preds, "a dim room changes nothing?");

    let o = run(&["summary", "--model", model]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    for want in [
        "Layer (type)",
        "block1_conv1 (Conv2D)",
        "(None, 8, 48, 48)",
        "head (Dense)",
        "Total params:",
        "Non-trainable params: 48",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }

    let cases: [(&[&str], &str); 3] = [
        (
            &["evaluate", "--model", "/no/run", "--data", data],
            "/no/run",
        ),
        (
            &[
                "evaluate", "--model", model, "--data", data, "--split", "test",
            ],
            "test: not a folder",
        ),
        (&["summary", "--model", data], "config.json: missing"),
    ];
    for (args, want) in cases {
        let o = run(args);
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(
            err.contains(want) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

#[cfg(feature = "model")]
#[test]
fn a_model_with_auxiliary_classes_says_so_and_predicts_its_four() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 12).unwrap();
    let data = tmp.path().to_str().unwrap();
    let model = tmp.path().join("r");
    let model = model.to_str().unwrap();
    let mut args = vec![
        "train",
        "--data",
        data,
        "--out",
        model,
        "--epochs",
        "1",
        "--auxiliary-classes",
        "fear",
    ];
    args.extend(SMALL);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    // Synthetic squares are no faces: the run is kept, without a face crop.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("No face crop measured (")
            && out.contains("found a face in 0 of 48 training images"),
        "{out}"
    );

    let o = run(&["summary", "--model", model]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    for want in [
        "(angry, happy, relaxed, sad)",
        "last 1 outputs are auxiliary classes learnt in training and never predicted (fear)",
        "softmax over the first 4 only",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    assert!(
        s.lines()
            .any(|l| l.starts_with("head (Dense)") && l.contains("(None, 5)")),
        "{s}"
    );
    let o = run(&["graph", "--model", model]);
    let g = String::from_utf8_lossy(&o.stdout);
    assert!(
        g.contains("softmax\\nangry, happy, relaxed, sad\\n(auxiliary outputs dropped: fear)"),
        "{g}"
    );
    // The report's summary: the table in a block of its own, the note a paragraph that wraps
    // (inside the table's block it ran off the page); the drawing names what it drops.
    let page = report(model, data, &tmp.path().join("report.html"));
    let summary = &page[page.find("<section id=\"summary\">").unwrap()..];
    let summary = &summary[..summary.find("</section>").unwrap()];
    let table_end = summary.find("</pre>").unwrap();
    assert!(
        !summary[..table_end].contains("auxiliary")
            && summary[table_end..].contains("<p>The head's last 1 outputs are auxiliary"),
        "{summary}"
    );
    assert!(page.contains("softmax (drops fear)"));
    let o = run(&[
        "predict",
        "--model",
        model,
        "--csv",
        tmp.path().join("val/fear").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(
        csv.starts_with("path,class,p_angry,p_happy,p_relaxed,p_sad\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
}

#[cfg(feature = "model")]
#[test]
fn predict_features_graph_calibrate_and_report() {
    let (tmp, data, model) = trained(16, "2");
    let (data, model) = (data.as_str(), model.as_str());
    let out = tmp.path().join("r");
    let val_sad = tmp.path().join("val/sad");
    std::fs::write(tmp.path().join("broken.jpg"), b"nope").unwrap();
    let broken = tmp.path().join("broken.jpg");

    // predict: a folder and a broken file; the broken one is reported, the rest classified.
    let o = run(&[
        "predict",
        "--model",
        model,
        val_sad.to_str().unwrap(),
        broken.to_str().unwrap(),
        "--plot",
        tmp.path().join("bars").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(table.lines().count(), 1 + 4, "{table}");
    assert!(table.contains("relaxed") && table.contains('%'));
    assert!(stderr(&o).contains("broken.jpg: not a readable image"));
    assert_eq!(
        std::fs::read_dir(tmp.path().join("bars")).unwrap().count(),
        4
    );
    let o = run(&[
        "predict",
        "--model",
        model,
        val_sad.to_str().unwrap(),
        "--plot",
        tmp.path().join("svg").to_str().unwrap(),
        "--format",
        "svg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_dir(tmp.path().join("svg"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        svg.extension().unwrap() == "svg"
            && std::fs::read_to_string(&svg).unwrap().starts_with("<svg")
    );
    let o = run(&[
        "predict",
        "--model",
        model,
        "--json",
        val_sad.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
    let p = &v[0]["probabilities"];
    let sum: f64 = ["angry", "happy", "relaxed", "sad"]
        .iter()
        .map(|k| p[k].as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-4);
    let o = run(&[
        "predict",
        "--model",
        model,
        "--csv",
        "--tta",
        val_sad.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stdout)
        .starts_with("path,class,p_angry,p_happy,p_relaxed,p_sad\n"));
    let o = run(&["predict", "--model", model, broken.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("none of the 1 input(s)"));
    let missing = tmp.path().join("no-such-face.png");
    let o = run(&["predict", "--model", model, missing.to_str().unwrap()]);
    assert!(
        !o.status.success() && o.stdout.is_empty(),
        "an error alone, no table header: {}",
        String::from_utf8_lossy(&o.stdout)
    );

    // features: conv, relu and pool of both blocks.
    let feats = tmp.path().join("feats");
    let img = tmp.path().join("val/happy/val_0000.png");
    let o = run(&[
        "features",
        "--model",
        model,
        img.to_str().unwrap(),
        "--out",
        feats.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = file_names(&feats);
    assert_eq!(
        files,
        [
            "00_block1_conv1.png",
            "01_block1_relu1.png",
            "02_block1_pool.png",
            "03_block2_conv1.png",
            "04_block2_relu1.png",
            "05_block2_pool.png"
        ]
    );

    // graph: DOT with every layer chained.
    let o = run(&["graph", "--model", model]);
    let dot = String::from_utf8_lossy(&o.stdout);
    assert!(
        dot.starts_with("digraph \"areya-cnn\"")
            && dot.contains("input -> block1_conv1;")
            && dot.contains("head -> output;"),
        "{dot}"
    );

    // calibrate: a temperature is stored and evaluate then reports ECE before and after.
    let o = run(&["calibrate", "--model", model, "--data", data]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("T = "));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    let t = cfg["temperature"].as_f64().unwrap();
    assert!(t > 0.05 && t < 20.0 && (t - 1.0).abs() > 1e-6, "{t}");
    let o = run(&["evaluate", "--model", model, "--data", data]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("uncalibrated →"));

    // report: one offline page with every section and embedded images.
    let page = report(model, data, &tmp.path().join("report.html"));
    for id in [
        "curves",
        "report",
        "confusion",
        "calibration",
        "mistakes",
        "predictions",
        "features",
        "summary",
        "architecture",
    ] {
        assert!(
            page.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
    }
    assert!(page.matches("data:image/png;base64,").count() >= 8);
    // The architecture is drawn (every layer a box), not DOT text.
    let arch = &page[page.find("<section id=\"architecture\">").unwrap()..];
    assert!(
        arch.contains("<svg") && arch.contains("block1_conv1 (") && !arch.contains("digraph"),
        "architecture section: {}",
        &arch[..arch.len().min(400)]
    );
    // areya graph --svg draws the same, as a file of its own.
    let svg = tmp.path().join("arch.svg");
    let o = run(&["graph", "--model", model, "--svg", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.starts_with("<svg xmlns=") && drawn.contains("softmax"),
        "{drawn}"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the report must work offline"
    );

    // evaluate --plots writes every figure as PNG and SVG.
    let plots = tmp.path().join("plots");
    let o = run(&[
        "evaluate",
        "--model",
        model,
        "--data",
        data,
        "--plots",
        plots.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["confusion", "confusion_normalized", "reliability", "curves"] {
        assert!(
            plots.join(format!("{f}.png")).is_file() && plots.join(format!("{f}.svg")).is_file(),
            "{f}"
        );
    }
}

/// `areya export --onnx` writes a model that `watch` runs on tract with the same observations
/// as on libtorch; a corrupt export is one line naming the file.
#[cfg(feature = "model")]
#[test]
fn export_writes_an_onnx_model_that_watch_runs_on_tract() {
    let (tmp, data, model) = trained(4, "1");
    let onnx = tmp.path().join("exported.onnx");
    let o = run(&[
        "export",
        "--model",
        &model,
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("4 classes (angry, happy, relaxed, sad)"),
        "{out}"
    );
    let bytes = std::fs::read(&onnx).unwrap();
    assert!(bytes.len() > 1000);
    // Faces when FER-2013 is at hand (val faces laid into camera frames), else the run's own
    // images (not faces: the comparison is then of the empty observations).
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    let fer = std::env::var_os("AREYA_FER2013").map(std::path::PathBuf::from);
    let with_faces = fer.is_some();
    match &fer {
        Some(root) => {
            for (i, class) in ["angry", "happy", "neutral", "sad"].iter().enumerate() {
                let dir = root.join("val").join(class);
                let mut files: Vec<_> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                files.sort();
                let face = image::open(&files[7]).unwrap().to_luma8();
                let f =
                    areya_vision::crop::face_in_frame(&face, 170, (200 + 20 * i as i64, 120), 90);
                image::GrayImage::from_raw(f.width, f.height, f.pixels)
                    .unwrap()
                    .save(frames.join(format!("f{i}.png")))
                    .unwrap();
            }
        }
        None => {
            for e in std::fs::read_dir(tmp.path().join("val/happy")).unwrap() {
                let p = e.unwrap().path();
                std::fs::copy(&p, frames.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let watch = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["watch", frames.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // The same faces in the same boxes with the same probabilities (to float rounding).
    let same = |a: &[serde_json::Value], b: &[serde_json::Value]| {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x["face"], y["face"], "{x} vs {y}");
            for e in ["angry", "happy", "relaxed", "sad"] {
                let (p, q) = (x["probs"][e].as_f64(), y["probs"][e].as_f64());
                assert_eq!(p.is_some(), q.is_some(), "{x} vs {y}");
                if let (Some(p), Some(q)) = (p, q) {
                    assert!((p - q).abs() < 1e-3, "{e}: {x} vs {y}");
                }
            }
        }
    };
    let torch = watch(&["--model", &model]);
    let tract = watch(&["--model", onnx.to_str().unwrap()]);
    assert!(!torch.is_empty());
    if with_faces {
        let faces = torch.iter().filter(|o| !o["face"].is_null()).count();
        assert!(faces >= 3, "val faces found in {faces} of 4 frames");
    }
    same(&torch, &tract);
    // In the run directory, where --runtime tract looks for it.
    std::fs::copy(&onnx, Path::new(&model).join("model.onnx")).unwrap();
    same(&watch(&["--model", &model, "--runtime", "tract"]), &torch);
    // evaluate: the same report from the export on tract as from libtorch in float32.
    let report = |extra: &[&str]| -> serde_json::Value {
        let json = tmp.path().join(format!("ev{}.json", extra.len()));
        let mut args = vec!["evaluate", "--model", &model, "--data", &data, "--json"];
        args.push(json.to_str().unwrap());
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    let (et, eo) = (
        report(&["--precision", "float32"]),
        report(&["--runtime", "tract"]),
    );
    assert_eq!(eo["inference_precision"], "tract (model.onnx, float32)");
    assert_eq!(et["confusion"], eo["confusion"]);
    for key in ["accuracy", "macro_f1", "loss"] {
        let (x, y) = (et[key].as_f64().unwrap(), eo[key].as_f64().unwrap());
        assert!((x - y).abs() < 1e-4, "{key}: libtorch {x}, tract {y}");
    }
    // predict: the same classes and probabilities from the export.
    let crops = tmp.path().join("val/sad");
    let predict = |m: &str| -> serde_json::Value {
        let o = run(&["predict", "--model", m, "--json", crops.to_str().unwrap()]);
        assert!(o.status.success(), "{m}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (pt, po) = (predict(&model), predict(onnx.to_str().unwrap()));
    let rows = pt.as_array().unwrap();
    assert!(!rows.is_empty());
    assert_eq!(rows.len(), po.as_array().unwrap().len());
    for (a, b) in rows.iter().zip(po.as_array().unwrap()) {
        assert_eq!(a["class"], b["class"]);
        for e in ["angry", "happy", "relaxed", "sad"] {
            let (x, y) = (
                a["probabilities"][e].as_f64().unwrap(),
                b["probabilities"][e].as_f64().unwrap(),
            );
            assert!((x - y).abs() < 1e-4, "{a} vs {b}");
        }
    }
    std::fs::write(&onnx, &bytes[..bytes.len() / 3]).unwrap();
    let o = run(&[
        "watch",
        frames.to_str().unwrap(),
        "--model",
        onnx.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{}: not an ONNX model", onnx.display())),
        "{err}"
    );
    let nowhere = tmp.path().join("no/such/dir/m.onnx");
    let o = run(&[
        "export",
        "--model",
        &model,
        "--onnx",
        nowhere.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "error: --onnx: cannot write {}: No such file or directory (os error 2)",
            nowhere.display()
        ),
        "one line, the file as given, the cause once"
    );
    let o = run(&[
        "export",
        "--model",
        "/no/such/run",
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
}

/// The export is standard ONNX: the ONNX project's checker accepts it (full shape inference)
/// and onnxruntime, batching crops, gives the probabilities tract gives. Needs the validators
/// `scripts/setup --test` installs; skipped without them unless AREYA_REQUIRE_VALIDATORS is set.
#[cfg(feature = "model")]
#[test]
fn the_exported_model_passes_the_onnx_checker_and_runs_in_onnxruntime() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import onnx, onnxruntime"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("AREYA_REQUIRE_VALIDATORS").is_none(),
            "AREYA_REQUIRE_VALIDATORS is set but {} cannot import onnx and onnxruntime \
             (scripts/setup --test installs them)",
            python.display()
        );
        eprintln!("skipped: the validators are not installed (scripts/setup --test)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("m.onnx");
    let o = run(&["export", "--onnx", onnx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = 5;
    let crops: Vec<u8> = (0..n * 48 * 48)
        .map(|i| ((i * 31 + i / 48 * 7) % 256) as u8)
        .collect();
    let bin = tmp.path().join("crops.bin");
    std::fs::write(&bin, &crops).unwrap();
    let o = Command::new(&python)
        .arg(root.join("scripts/check_onnx.py"))
        .args([onnx.as_os_str(), bin.as_os_str()])
        .arg(n.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["classes"],
        serde_json::json!(["angry", "happy", "relaxed", "sad"])
    );
    let ours = areya_vision::model::OnnxClassifier::load(&onnx)
        .unwrap()
        .predict(&crops, n)
        .unwrap();
    for (i, p) in ours.iter().enumerate() {
        for (k, x) in p.iter().enumerate() {
            let y = v["probabilities"][i][k].as_f64().unwrap();
            assert!(
                (*x as f64 - y).abs() < 1e-4,
                "crop {i} class {k}: tract {x}, onnxruntime {y}"
            );
        }
    }
}

#[cfg(feature = "model")]
#[test]
fn watch_writes_one_observation_per_frame_and_rejects_bad_input() {
    let (tmp, data, model) = trained(4, "1");
    let (data, model) = (data.as_str(), model.as_str());
    let frames = tmp.path().join("val/sad");
    let o = run(&[
        "watch",
        frames.to_str().unwrap(),
        "--model",
        model,
        "--patient",
        "bed-7",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["patient"], "bed-7");
    assert!(
        lines[0]["face"].is_null(),
        "synthetic squares are not faces"
    );
    let csv = tmp.path().join("obs.csv");
    let o = run(&[
        "watch",
        frames.to_str().unwrap(),
        "--model",
        model,
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .starts_with("source,patient,at_ms,frame,face_x"));

    let corrupt = tmp.path().join("detector.onnx");
    std::fs::write(&corrupt, b"\x08\x07garbage").unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["watch", "/no/such/video.mp4", "--model", model],
            "/no/such/video.mp4: no such file",
        ),
        (
            &[
                "watch",
                frames.to_str().unwrap(),
                "--model",
                model,
                "--detector-model",
                "/no/such/detector.onnx",
            ],
            "/no/such/detector.onnx: cannot read the face detector",
        ),
        (
            &[
                "watch",
                frames.to_str().unwrap(),
                "--model",
                model,
                "--detector-model",
                corrupt.to_str().unwrap(),
            ],
            "detector.onnx: not a BlazeFace short-range ONNX model",
        ),
        (
            &[
                "watch",
                frames.to_str().unwrap(),
                "--model",
                model,
                "--detector",
                "haar",
            ],
            "'haar' is not a face detector (blazeface, seetaface)",
        ),
        (
            &[
                "watch",
                frames.to_str().unwrap(),
                "--model",
                model,
                "--roi",
                "1,2,3",
            ],
            "--roi",
        ),
        (
            &[
                "watch",
                frames.to_str().unwrap(),
                "--model",
                model,
                "--patient",
                "bad id",
            ],
            "--patient",
        ),
        (
            &["watch", frames.to_str().unwrap(), "--model", data],
            "config.json: missing",
        ),
    ];
    for (args, want) in cases {
        let o = run(args);
        let err = stderr(&o);
        assert!(!o.status.success() && err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

/// Every observation in the ingest log of a `sqlite:` or `postgres:` database.
fn stored_observations(db: &str) -> Vec<areya_core::Observation> {
    use areya_store::{PgStore, SqliteStore, Store};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        if db.starts_with("postgres") {
            PgStore::open(db)
                .await
                .unwrap()
                .observations_since(0)
                .await
                .unwrap()
        } else {
            SqliteStore::open(db)
                .await
                .unwrap()
                .observations_since(0)
                .await
                .unwrap()
        }
    })
}

/// A blocking request through ureq, the edge's HTTP client: (status, response headers as
/// `name: value` lines, body); status 0 when the server cannot be reached.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let sent = if body.is_empty() {
        agent.run(req.body(()).expect("a well-formed request"))
    } else {
        agent.run(req.body(body).expect("a well-formed request"))
    };
    let Ok(mut resp) = sent else {
        return (0, String::new(), String::new());
    };
    let head: String = resp
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("")))
        .collect();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (resp.status().as_u16(), head, body)
}

/// Through the API, as an admin would: a ward of 8 beds (patients p-0…p-7 seen by cameras
/// cam-0…cam-7), nurse ana, and an edge device. Returns the device's bearer header value and
/// ana's session cookie.
fn configure_ward(addr: &str) -> (String, String) {
    let (status, head, body) = http(
        addr,
        "POST",
        "/api/login",
        &[],
        r#"{"user":"admin","password":"admin password 2026"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let admin = cookie_of(&head);
    let beds: Vec<String> = (0..8)
        .map(|i| format!(r#"{{"id":"bed-{i}","patient":"p-{i}","assigned_nurse":"ana","sources":["cam-{i}"]}}"#))
        .collect();
    let directory = format!(
        r#"{{"version":1,"directory":{{"wards":[{{"id":"w1","name":"Ward 1","beds":[{}]}}],"staff":[{{"id":"admin","name":"Admin","role":"admin"}},{{"id":"ana","name":"Ana","role":"nurse","wards":["w1"]}}]}}}}"#,
        beds.join(",")
    );
    let (status, _, body) = http(
        addr,
        "PUT",
        "/api/admin/directory",
        &[("Cookie", &admin)],
        &directory,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = http(
        addr,
        "PUT",
        "/api/admin/staff/ana/password",
        &[("Cookie", &admin)],
        r#"{"password":"nurse password 2026"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = http(
        addr,
        "PUT",
        "/api/admin/devices/edge-1",
        &[("Cookie", &admin)],
        r#"{"ward":"w1"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    (bearer, login_ana(addr))
}

/// Nurse ana's session cookie on the server at `addr`.
fn login_ana(addr: &str) -> String {
    let (status, head, body) = http(
        addr,
        "POST",
        "/api/login",
        &[],
        r#"{"user":"ana","password":"nurse password 2026"}"#,
    );
    assert_eq!(status, 200, "{body}");
    cookie_of(&head)
}

/// Starts `areya serve` and returns it with the address it printed.
fn serve(config: &Path) -> (std::process::Child, String) {
    serve_at(config, "127.0.0.1:0")
}

fn serve_at(config: &Path, bind: &str) -> (std::process::Child, String) {
    spawn_serve(serve_command(config, bind))
}

/// `areya serve --bind BIND --config CONFIG` with the first admin's password set.
fn serve_command(config: &Path, bind: &str) -> Command {
    let mut cmd = areya();
    cmd.args(["serve", "--bind", bind, "--config"])
        .arg(config)
        .env("AREYA_ADMIN_PASSWORD", "admin password 2026")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

/// Starts `cmd` (an `areya serve`) and returns it with the address it printed.
fn spawn_serve(mut cmd: Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = cmd.spawn().expect("areya serve starts");
    let out = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(out).lines();
    let line = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in '{line}'"))
        .to_string();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn cookie_of(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[test]
fn serve_killed_under_load_restarts_with_nothing_acknowledged_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", tmp.path().join("areya.db").display());
    kill_9_under_load(tmp.path(), &db, false);
}

#[test]
fn serve_on_postgres_killed_under_load_restarts_with_nothing_acknowledged_lost() {
    let Some(url) = postgres_url() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    kill_9_under_load(tmp.path(), &url, false);
}

#[test]
fn two_servers_on_postgres_survive_kill_9_of_the_engine_leader_under_load() {
    let Some(url) = postgres_url() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    kill_9_under_load(tmp.path(), &url, true);
}

/// A fresh PostgreSQL test database (None: skipped, see scripts/postgres-env).
fn postgres_url() -> Option<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(areya_store::postgres_test_database_url())
}

fn role_of(addr: &str) -> String {
    let (_, _, body) = http(addr, "GET", "/healthz", &[], "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["role"].as_str().unwrap_or("").to_string()
}

/// Starts `areya serve` on `db`, sets up a ward through the API, has four edge agents post
/// while an alert is raised and acknowledged, kills the server with SIGKILL, restarts it, and
/// checks that every observation answered 200 is stored once and the acknowledgement stands.
/// With `cluster`, a second server shares the database: half the agents and the nurse use it;
/// the first (the engine leader) is killed, the agents move over, and the second takes the
/// engine over instead of a restart.
fn kill_9_under_load(tmp: &Path, db: &str, cluster: bool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    std::fs::write(
        tmp.join("rules.toml"),
        "[ward]\nenter = 0.6\nexit = 0.45\nmin_duration_s = 2\nmin_coverage = 0.5\ncooldown_s = 60\nrealarm_s = 3600\n",
    )
    .unwrap();
    let config = tmp.join("areya.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"{db}\"\nrules = \"{}\"\nwindow_s = 1\nhorizon_s = 30\n",
            tmp.join("rules.toml").display()
        ),
    )
    .unwrap();
    let (mut server, first) = serve(&config);
    let (bearer, _) = configure_ward(&first);
    let mut follower = None;
    let addr = if cluster {
        assert_eq!(role_of(&first), "leader");
        let (child, second) = serve(&config);
        assert_eq!(role_of(&second), "follower");
        follower = Some(child);
        second
    } else {
        first.clone()
    };
    // The nurse works on the second server when there is one.
    let ana = login_ana(&addr);

    // Four edge agents post sad observations for two beds each, retrying until answered 200;
    // with two servers, agents 0 and 2 post to the first and 1 and 3 to the second.
    let targets = Arc::new(Mutex::new(vec![first.clone(), addr.clone()]));
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, i64, u64)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let agents: Vec<_> = (0..4)
        .map(|a| {
            let (targets, acknowledged, stop, bearer) = (targets.clone(), acknowledged.clone(), stop.clone(), bearer.clone());
            std::thread::spawn(move || {
                let mut frame = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    frame += 1;
                    let at_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
                    let obs: Vec<String> = [a * 2, a * 2 + 1]
                        .iter()
                        .map(|b| format!(r#"{{"source":"cam-{b}","patient":"p-{b}","at_ms":{at_ms},"frame":{frame},"face":{{"x":1,"y":1,"width":90,"height":90,"score":4.0}},"probs":{{"angry":0.2,"happy":0.05,"relaxed":0.05,"sad":0.7}},"quality":null}}"#))
                        .collect();
                    let body = format!(r#"{{"observations":[{}]}}"#, obs.join(","));
                    loop {
                        let addr = targets.lock().unwrap()[a % 2].clone();
                        let (status, _, _) = http(&addr, "POST", "/api/ingest", &[("Authorization", &bearer)], &body);
                        if status == 200 {
                            let mut acked = acknowledged.lock().unwrap();
                            for b in [a * 2, a * 2 + 1] {
                                acked.push((format!("p-{b}"), at_ms, frame));
                            }
                            break;
                        }
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();

    // An alert for p-0 appears; the nurse acknowledges it as not actionable.
    let start = Instant::now();
    let id = loop {
        let (_, _, body) = http(&addr, "GET", "/api/alerts", &[("Cookie", &ana)], "");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let found = v["alerts"].as_array().and_then(|a| {
            a.iter()
                .find(|x| {
                    x["alert"]["patient"] == "p-0" && x["alert"]["kind"] == "sustained_negative"
                })
                .and_then(|x| x["alert"]["id"].as_u64())
        });
        if let Some(id) = found {
            break id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no alert within 30 s: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (status, _, body) = http(
        &addr,
        "POST",
        &format!("/api/alerts/{id}/ack"),
        &[("Cookie", &ana)],
        r#"{"actionable":false,"reason":"talking about a sad film"}"#,
    );
    assert_eq!(status, 200, "{body}");

    // kill -9 under load, then restart on the same database (or let the second server take
    // the engine over).
    std::thread::sleep(Duration::from_millis(300));
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut server, addr) = match follower {
        Some(second) => {
            *targets.lock().unwrap() = vec![addr.clone(), addr.clone()];
            let start = Instant::now();
            while role_of(&addr) != "leader" {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "the second server took the engine over within 20 s"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            (second, addr)
        }
        None => {
            std::thread::sleep(Duration::from_millis(300));
            let (server, addr) = serve(&config);
            *targets.lock().unwrap() = vec![addr.clone(), addr.clone()];
            (server, addr)
        }
    };
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::SeqCst);
    for a in agents {
        a.join().unwrap();
    }

    let (status, _, body) = http(&addr, "GET", "/api/alerts", &[("Cookie", &ana)], "");
    assert_eq!(status, 200, "the nurse's session survived: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let alert = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["alert"]["id"] == id)
        .unwrap_or_else(|| panic!("alert {id} is still open: {body}"));
    assert_eq!(alert["alert"]["ack"]["reason"], "talking about a sad film");
    server.kill().unwrap();
    server.wait().unwrap();

    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() > 50, "the agents did post: {}", acked.len());
    let stored = stored_observations(db);
    let keys: std::collections::HashSet<(String, i64, u64)> = stored
        .iter()
        .map(|o| (o.patient.to_string(), o.at_ms, o.frame))
        .collect();
    let lost: Vec<_> = acked.iter().filter(|k| !keys.contains(*k)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged observations lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert_eq!(keys.len(), stored.len(), "nothing stored twice");
}

#[test]
fn demo_runs_a_ward_then_stops_and_names_a_bad_faces_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ward");
    let o = areya()
        .args([
            "demo",
            "--bind",
            "127.0.0.1:0",
            "--seconds",
            "3",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("Open http://127.0.0.1:"), "{out}");
    assert!(
        out.contains("ana") && out.contains("areya-demo-2026"),
        "{out}"
    );
    let stored = stored_observations(&format!("sqlite://{}", data.join("areya.db").display()));
    assert!(
        stored.len() >= 10,
        "the scripted beds were fed: {}",
        stored.len()
    );
    assert!(
        stored.iter().all(|o| o.patient.as_str() != "p-1003"),
        "the opted-out patient is never stored"
    );

    let empty = tmp.path().join("faces");
    std::fs::create_dir_all(empty.join("angry")).unwrap();
    let o = run(&[
        "demo",
        "--bind",
        "127.0.0.1:0",
        "--seconds",
        "1",
        "--faces",
        empty.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    if cfg!(feature = "model") {
        assert!(
            err.contains("--faces") && err.contains("no images in angry"),
            "{err}"
        );
    } else {
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("areya demo --faces: this areya was built without the emotion model"),
            "{err}"
        );
    }
}

/// The lean build (no model): every model command answers in one line, with exit code 2.
#[cfg(not(feature = "model"))]
#[test]
fn the_lean_build_says_in_one_line_that_it_has_no_model() {
    let mut commands = vec![
        "train",
        "evaluate",
        "summary",
        "predict",
        "features",
        "calibrate",
        "fit-crop",
        "average",
        "export",
        "graph",
        "report",
    ];
    if cfg!(not(feature = "edge")) {
        commands.push("watch");
    }
    for cmd in commands {
        let o = run(&[cmd, "--whatever", "x"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        let want = if cmd == "watch" {
            "areya watch: this areya was built without the vision pipeline".to_string()
        } else {
            format!("areya {cmd}: this areya was built without the emotion model")
        };
        assert!(err.contains(&want), "{cmd}: {err}");
    }
}

/// The camera agent without libtorch: `watch` runs the shipped model's ONNX export on tract, and
/// says in one line what it cannot run.
#[cfg(all(feature = "edge", not(feature = "model")))]
#[test]
fn the_edge_build_watches_on_tract_without_libtorch() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for i in 0..3u8 {
        let img = image::GrayImage::from_fn(64, 48, |x, y| {
            image::Luma([(x as u8 * 3) ^ (y as u8 * 5) ^ i])
        });
        img.save(frames.join(format!("f{i}.png"))).unwrap();
    }
    let o = run(&["watch", frames.to_str().unwrap(), "--patient", "bed-3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["patient"], "bed-3");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/areya-fer4");
    let corrupt = tmp.path().join("corrupt.onnx");
    std::fs::write(&corrupt, b"\x08\x07garbage").unwrap();
    let bare_run = tmp.path().join("run");
    std::fs::create_dir_all(&bare_run).unwrap();
    let cases: [(&[&str], String); 3] = [
        (
            &["watch", frames.to_str().unwrap(), "--runtime", "libtorch"],
            "this build runs models on tract only (no libtorch)".into(),
        ),
        (
            &[
                "watch",
                frames.to_str().unwrap(),
                "--model",
                corrupt.to_str().unwrap(),
            ],
            format!("{}: not an ONNX model", corrupt.display()),
        ),
        (
            &[
                "watch",
                frames.to_str().unwrap(),
                "--model",
                tmp.path().to_str().unwrap(),
            ],
            format!(
                "{}: no exported model",
                tmp.path().join("model.onnx").display()
            ),
        ),
    ];
    for (args, want) in cases {
        let o = run(args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(&want), "{args:?}: {err}");
    }
    assert!(shipped.join("model.onnx").is_file());
}

#[test]
fn replay_compares_rules_and_fhir_exports_a_bundle() {
    use areya_monitor::window::WindowAggregate;
    use areya_store::{Batch, SqliteStore, Store};
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("ward.db").display());
    let day = 1_795_996_800_000i64; // 2026-11-30
    let w = |p: &str, minute: i64, negative: f64| {
        WindowAggregate::seen(
            areya_core::PatientId::parse(p).unwrap(),
            (day + minute * 60_000, day + (minute + 1) * 60_000),
            (30, 30),
            negative,
            20.0,
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(&url).await.unwrap();
        let mut windows: Vec<_> = (0..12).map(|m| w("a", m, 0.8)).collect();
        windows.extend((12..30).map(|m| w("a", m, 0.1)));
        windows.extend((0..7).map(|m| w("b", m, 0.8)));
        windows.extend((7..30).map(|m| w("b", m, 0.1)));
        // Bed c is seen (sad) one minute in ten: never sustained in seen time.
        windows.extend((0..120).map(|m| {
            let mut x = w("c", m, 0.9);
            if m % 10 != 0 {
                x.faces = 0;
                x.prob_sums = Default::default();
            }
            x
        }));
        s.save(&Batch {
            windows,
            ..Batch::default()
        })
        .await
        .unwrap();
        s.save_rules(day, "admin", "[ward]\nmin_duration_s = 300")
            .await
            .unwrap();
    });
    let stricter = tmp.path().join("stricter.toml");
    std::fs::write(&stricter, "[ward]\nmin_duration_s = 600\n").unwrap();
    let o = run(&[
        "replay",
        "--database",
        &url,
        "--rules",
        stricter.to_str().unwrap(),
        "--from",
        "2026-11-30",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("current rules (version 1): 2 alerts"), "{out}");
    assert!(out.contains("1 alerts"), "{out}");
    assert!(
        out.contains("Would vanish with the candidate rules (1):\n  -          b "),
        "{out}"
    );
    assert!(
        out.contains("Would appear with the candidate rules (0):"),
        "{out}"
    );
    assert!(
        out.contains("blind gaps over max_blind_s end a run: 1 fewer (clock time: 2)"),
        "{out}"
    );
    assert!(
        out.contains("Doctors' notices (not alarms): current 0, candidate 0"),
        "{out}"
    );
    // A patient calm for 4 h (the baseline learned at 10%), then sad for 5 h: one notice for
    // the doctor after four hours above usual, with the rules' own [doctor] settings.
    let url2 = format!("sqlite://{}", tmp.path().join("ward2.db").display());
    rt.block_on(async {
        let s = SqliteStore::open(&url2).await.unwrap();
        let mut windows: Vec<_> = (0..240).map(|m| w("d", m, 0.1)).collect();
        windows.extend((240..540).map(|m| w("d", m, 0.6)));
        s.save(&Batch {
            windows,
            ..Batch::default()
        })
        .await
        .unwrap();
    });
    let off = tmp.path().join("no-notices.toml");
    std::fs::write(&off, "[doctor]\npersisting_hours = 0\n").unwrap();
    let o = run(&[
        "replay",
        "--database",
        &url2,
        "--rules",
        off.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("Doctors' notices (not alarms): current 1, candidate 0"),
        "{out}"
    );
    let o = run(&[
        "replay",
        "--database",
        &url2,
        "--rules",
        stricter.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("2026-11-30T08:00:00.000Z persisting Negative share above usual for 4 h: 60% (usual 10%)."),
        "{out}"
    );
    for (args, want) in [
        (
            vec![
                "replay",
                "--database",
                &url,
                "--rules",
                stricter.to_str().unwrap(),
                "--from",
                "30/11/2026",
            ],
            "--from: '30/11/2026' is not",
        ),
        (
            vec!["replay", "--database", &url, "--rules", "/no/such.toml"],
            "--rules: cannot read /no/such.toml",
        ),
        (
            vec![
                "replay",
                "--database",
                "mysql://x",
                "--rules",
                stricter.to_str().unwrap(),
            ],
            "expected sqlite://FILE or postgres://",
        ),
        (
            vec!["fhir", "export", "--database", &url, "--patient", "zz"],
            "--patient zz: nothing stored",
        ),
        (
            vec!["fhir", "export", "--database", &url, "--patient", "a b"],
            "--patient",
        ),
        // Both commands read their span alike.
        (
            vec![
                "replay",
                "--database",
                &url,
                "--rules",
                stricter.to_str().unwrap(),
                "--from",
                "2026-12-01",
                "--to",
                "2026-11-01",
            ],
            "--from must be before --to",
        ),
        (
            vec![
                "fhir",
                "export",
                "--database",
                &url,
                "--patient",
                "a",
                "--to",
                "2026-13-01",
            ],
            "--to: '2026-13-01' is not",
        ),
    ] {
        let o = run(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }

    let bundle_path = tmp.path().join("a.json");
    let o = run(&[
        "fhir",
        "export",
        "--database",
        &url,
        "--patient",
        "a",
        "--out",
        bundle_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle_path).unwrap()).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["entry"][0]["resource"]["resourceType"], "Patient");
    assert_eq!(
        bundle["entry"][0]["resource"]["identifier"][0]["value"],
        "a"
    );
    assert_eq!(
        bundle["entry"].as_array().map(|e| e.len() >= 30),
        Some(true),
        "{bundle}"
    );
    let audit = rt.block_on(async {
        let s = SqliteStore::open(&url).await.unwrap();
        s.audit_log(0, i64::MAX).await.unwrap()
    });
    assert!(audit
        .iter()
        .any(|e| e.action == "export fhir" && e.target == "patient a"));
}

#[cfg(feature = "model")]
#[test]
fn watch_delivers_to_the_server_across_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 24).unwrap();
    let frames = tmp.path().join("train/angry");
    let db = format!("sqlite://{}", tmp.path().join("areya.db").display());
    let config = tmp.path().join("areya.toml");
    std::fs::write(&config, format!("database = \"{db}\"\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let (mut server, addr) = serve_at(&config, &bind);
    let (bearer, _) = configure_ward(&addr);
    let token = bearer.trim_start_matches("Bearer ").to_string();
    // The server goes down; the camera keeps watching.
    server.kill().unwrap();
    server.wait().unwrap();
    let url = format!("http://{addr}");
    let mut watch = areya()
        .args([
            "watch",
            frames.to_str().unwrap(),
            "--patient",
            "p-3",
            "--source-id",
            "cam-3",
        ])
        .args(["--server", &url, "--give-up-s", "30"])
        .env("AREYA_DEVICE_TOKEN", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The server comes back once the watcher has found it down (however long a loaded machine
    // takes to start it), not after a fixed wait it may not have reached.
    let lines = watch.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(lines)).map_while(Result::ok) {
            if line.contains("keeping observations and retrying") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let retried = rx.recv_timeout(Duration::from_secs(60)).is_ok();
    let (mut server, _) = serve_at(&config, &bind);
    let o = watch.wait_with_output().unwrap();
    let err = reader.join().unwrap();
    assert!(o.status.success(), "{err}");
    assert!(retried, "the watcher never said it was retrying: {err}");
    assert!(err.contains("24 delivered"), "{err}");
    assert!(
        o.stdout.is_empty(),
        "with --server alone nothing goes to stdout"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let stored = stored_observations(&db);
    assert_eq!(stored.len(), 24);
    assert!(stored
        .iter()
        .all(|o| o.patient.as_str() == "p-3" && o.source.as_str() == "cam-3"));

    // A bed that is not the device's, and bad --server values.
    for (args, want) in [
        (vec!["--server", "https://x", "--token", "t"], "plain HTTP"),
        (
            vec!["--server", "ftp://x", "--token", "t"],
            "expected http://HOST",
        ),
        (vec!["--server", "http://127.0.0.1:1"], "--token"),
    ] {
        let o = areya()
            .args(["watch", frames.to_str().unwrap()])
            .args(&args)
            .env_remove("AREYA_DEVICE_TOKEN")
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

#[cfg(feature = "model")]
#[test]
fn watch_a_ward_file_keeps_serving_beds_while_one_camera_is_offline() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 8).unwrap();
    let ward = tmp.path().join("ward.toml");
    std::fs::write(
        &ward,
        format!(
            "offline_after_s = 1\n\n[[bed]]\npatient = \"p-a\"\nsource_id = \"cam-a\"\nurl = \"{}\"\n\n[[bed]]\npatient = \"p-b\"\nsource_id = \"cam-b\"\nurl = \"rtsp://127.0.0.1:9/none\"\nroi = \"0,0,320,240\"\n",
            tmp.path().join("train/happy").display()
        ),
    )
    .unwrap();
    let mut child = areya()
        .args(["watch", "--config", ward.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let (mut from_a, mut offline_b) = (0, false);
    let start = Instant::now();
    while (from_a < 8 || !offline_b) && start.elapsed() < Duration::from_secs(60) {
        let Ok(l) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        if v["patient"] == "p-a" && v["frame"].is_u64() {
            from_a += 1;
        }
        if v["event"] == "source_offline" && v["source"] == "cam-b" {
            offline_b = true;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(from_a, 8, "every image of bed a was observed");
    assert!(offline_b, "the unreachable camera was reported offline");

    std::fs::write(
        &ward,
        "[[bed]]\npatient = \"p a\"\nsource_id = \"c\"\nurl = \"x.mp4\"\n",
    )
    .unwrap();
    let o = run(&["watch", "--config", ward.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bed[0].patient"), "{}", stderr(&o));
}

#[cfg(feature = "model")]
#[test]
fn watch_annotate_writes_one_png_per_frame_and_nothing_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 4).unwrap();
    let frames = tmp.path().join("train/sad");
    let out = tmp.path().join("annotated");
    let jsonl = tmp.path().join("obs.jsonl");
    let o = run(&[
        "watch",
        frames.to_str().unwrap(),
        "--source-id",
        "cam-9",
        "--roi",
        "0,0,40,40",
        "--annotate",
        out.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pngs = file_names(&out);
    assert_eq!(
        pngs,
        [
            "cam-9-000000.png",
            "cam-9-000001.png",
            "cam-9-000002.png",
            "cam-9-000003.png"
        ]
    );
    let img = image::open(out.join(&pngs[0])).unwrap().to_rgb8();
    assert_eq!(
        img.get_pixel(0, 20).0,
        [0, 151, 167],
        "the bed area is drawn"
    );
    let before: usize = walk(tmp.path());
    let o = run(&[
        "watch",
        frames.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(
        walk(tmp.path()),
        before,
        "without --annotate no file is added"
    );
}

#[cfg(feature = "model")]
/// The names of the files in `dir`, sorted.
fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[cfg(feature = "model")]
fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(feature = "model")]
#[cfg(unix)]
#[test]
fn a_command_whose_reader_went_away_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/areya-fer4-small");
    let mut child = areya()
        .args(["summary", "--model", model])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader (as `| head -0`) goes away before the first line is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?} {err}",
        out.status
    );
}

#[cfg(feature = "model")]
#[test]
fn fit_crop_stores_the_crop_or_says_why_it_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    std::fs::create_dir(&model).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/areya-fer4-small");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(shipped.join(f), model.join(f)).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    let pre = cfg["preprocessing"].as_object_mut().unwrap();
    pre.remove("face_crop");
    pre.remove("face_crop_detector");
    std::fs::write(model.join("config.json"), cfg.to_string()).unwrap();
    let data = tmp.path().join("d");
    areya_ml::testdata::write_dataset(&data, 24).unwrap();
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let cases: [(&[&str], &str); 3] = [
        (
            &["fit-crop", "--model", m, "--data", d],
            "found a face in 0 of 96 training images",
        ),
        (
            &["fit-crop", "--model", m, "--data", d, "--limit", "5"],
            "--limit: 5 is too few",
        ),
        (
            &["fit-crop", "--model", m, "--data", d, "--split", "test"],
            "test",
        ),
    ];
    for (args, want) in cases {
        let o = run(args);
        let err = stderr(&o);
        assert!(
            !o.status.success() && err.contains(want) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    let untouched = std::fs::read_to_string(model.join("config.json")).unwrap();
    assert!(
        !untouched.contains("face_crop"),
        "a failed fit changes nothing"
    );

    let Some(fer) = std::env::var_os("AREYA_FER2013") else {
        eprintln!("AREYA_FER2013 not set: skipping the real-data part");
        return;
    };
    let o = run(&[
        "fit-crop",
        "--model",
        m,
        "--data",
        fer.to_str().unwrap(),
        "--limit",
        "200",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Face crop measured on 200 images") && out.contains("Stored in"),
        "{out}"
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    let scale = cfg["preprocessing"]["face_crop"]["scale"].as_f64().unwrap();
    assert!((0.95..1.35).contains(&scale), "{scale}");
    assert_eq!(
        cfg["preprocessing"]["face_crop_detector"], "blazeface",
        "the crop names the detector it was measured against"
    );

    // `areya train` measures it at the end of a run on the images it trained on.
    let out = tmp.path().join("run");
    let mut args = vec![
        "train",
        "--data",
        fer.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--limit",
        "300",
        "--epochs",
        "1",
    ];
    args.extend(SMALL);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Face crop measured on"), "{text}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert!(
        cfg["preprocessing"]["face_crop"]["scale"].is_number(),
        "{cfg}"
    );
}

/// Sets the file-size limit of process `pid` (bytes; `None`: unlimited).
#[allow(unsafe_code)]
fn set_file_size_limit(pid: u32, bytes: Option<u64>) {
    let v = bytes.unwrap_or(libc::RLIM_INFINITY);
    let lim = libc::rlimit {
        rlim_cur: v,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `lim` and writes nothing (the old-limit pointer is null).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// A full disk, as the server sees it: its file-size limit is set to 0 (every write that
/// would grow a file fails, as on a full file system), then lifted. While writes fail
/// `/healthz` says degraded and ingest answers 503; once space is back the SQLite store
/// recovers by itself — no restart, no "database is locked" for minutes.
#[test]
#[allow(unsafe_code)]
fn serve_on_sqlite_recovers_by_itself_after_the_disk_was_full() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("areya.toml");
    let db = format!("sqlite://{}", tmp.path().join("areya.db").display());
    std::fs::write(&config, format!("database = {db:?}\n")).unwrap();
    let mut cmd = serve_command(&config, "127.0.0.1:0");
    // SAFETY: only async-signal-safe calls between fork and exec. A process over its file
    // size limit gets SIGXFSZ, which would kill it; ignored, the write fails with EFBIG,
    // which is what a full disk looks like to SQLite.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    /// Killed when the test ends, passed or not.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let (child, addr) = spawn_serve(cmd);
    let server = Killed(child);
    let (bearer, _) = configure_ward(&addr);
    let post = |frame: u64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let body = format!(
            r#"{{"observations":[{{"source":"cam-0","patient":"p-0","at_ms":{now},"frame":{frame},"face":null,"probs":null,"quality":null}}]}}"#
        );
        http(
            &addr,
            "POST",
            "/api/ingest",
            &[("Authorization", &bearer)],
            &body,
        )
        .0
    };
    assert_eq!(post(1), 200);
    assert_eq!(http(&addr, "GET", "/healthz", &[], "").0, 200);

    set_file_size_limit(server.0.id(), Some(0));
    let until = Instant::now() + Duration::from_secs(20);
    let mut frame = 2;
    let (mut health, mut ingest) = (0, 0);
    while Instant::now() < until && (health != 503 || ingest != 503) {
        health = http(&addr, "GET", "/healthz", &[], "").0;
        ingest = post(frame);
        frame += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        (health, ingest),
        (503, 503),
        "writes fail while the disk is full"
    );

    set_file_size_limit(server.0.id(), None);
    let until = Instant::now() + Duration::from_secs(20);
    let mut ok = false;
    while Instant::now() < until && !ok {
        frame += 1;
        ok = http(&addr, "GET", "/healthz", &[], "").0 == 200 && post(frame) == 200;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        ok,
        "healthz and ingest recover within 20 s of the disk having space again"
    );
    let (status, _, body) = http(
        &addr,
        "POST",
        "/api/login",
        &[],
        r#"{"user":"ana","password":"nurse password 2026"}"#,
    );
    assert_eq!(status, 200, "a login writes its session again: {body}");
    let (_, _, metrics) = http(&addr, "GET", "/metrics", &[], "");
    for l in metrics.lines().filter(|l| l.starts_with("areya_store")) {
        eprintln!("after the full disk: {l}");
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("areya_store_errors_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
}
