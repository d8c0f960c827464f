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

#[test]
fn bad_flags_fail_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    areya_ml::testdata::write_dataset(tmp.path(), 4).unwrap();
    let data = tmp.path().to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["train", "--data", "/no/such/folder"], "/no/such/folder"),
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
        (&["train", "--resume", "/no/such/run"], "/no/such/run"),
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

fn metrics_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

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
    // Wait for the first finished epoch, then a little into the next one, and kill -9.
    let start = Instant::now();
    while metrics_rows(&out) < 1 {
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
    assert!(done >= 1 && done < 6, "killed after {done} epochs");
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

#[test]
fn evaluate_and_summary_on_a_trained_run() {
    let (tmp, data, model) = trained(16, "1");
    let (data, model) = (data.as_str(), model.as_str());

    let (json, csv, preds) = (
        tmp.path().join("e.json"),
        tmp.path().join("e.csv"),
        tmp.path().join("p.csv"),
    );
    let o = run(&[
        "evaluate",
        "--model",
        model,
        "--data",
        data,
        "--tta",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for s in [
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
    let mut files: Vec<String> = std::fs::read_dir(&feats)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
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
    let html = tmp.path().join("report.html");
    let o = run(&[
        "report",
        "--model",
        model,
        "--data",
        data,
        "--out",
        html.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
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

    let cases: [(&[&str], &str); 4] = [
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
