//! Integration tests of `areya-ml` on small image folders made here (and, when
//! `AREYA_FER2013` is set, on the real FER-2013 layout).

use areya_ml::callbacks::CsvLogger;
use areya_ml::classes::ClassMap;
use areya_ml::config::TrainConfig;
use areya_ml::dataset;
use areya_ml::train::{self, TrainOptions};
use areya_ml::Classifier;
use std::path::{Path, PathBuf};

const Q: TrainOptions = TrainOptions { quiet: true };

/// libtorch's random generator is global to the process: weight initialisation and random
/// tensors in one test would shift the streams of a training in another test running at the
/// same time, so the tests that compare runs bit-for-bit would fail by chance. Every test here
/// that touches libtorch takes this lock first.
fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

use areya_ml::testdata::image as synthetic;

fn make_dataset(root: &Path, n: usize) {
    areya_ml::testdata::write_dataset(root, n).unwrap();
}

fn small_config(root: &Path) -> TrainConfig {
    let mut c = TrainConfig::new(root.to_path_buf()).unwrap();
    c.architecture = areya_ml::testdata::tiny_cnn(&[8, 16], 0.1);
    c.batch_size = 16;
    c.epochs = 2;
    c.seed = 7;
    c.threads = 2;
    c
}

/// metrics.csv without the timing column.
fn metrics_without_time(dir: &Path) -> Vec<String> {
    CsvLogger::read(&dir.join("metrics.csv"))
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {} {} {}",
                l.epoch, l.loss, l.accuracy, l.val_loss, l.val_accuracy, l.lr
            )
        })
        .collect()
}

#[test]
fn discovery_maps_classes_ignores_others_and_counts() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 8);
    std::fs::write(tmp.path().join("train/sad/notes.txt"), "not an image").unwrap();
    let classes = ClassMap::parse("angry,happy,neutral=relaxed,sad").unwrap();
    let l = dataset::list_split(&tmp.path().join("train"), &classes).unwrap();
    assert_eq!(l.files.len(), 32);
    assert_eq!(l.per_class, [8, 8, 8, 8]);
    assert_eq!(l.ignored_folders, ["fear"]);
    assert_eq!(l.not_images.len(), 1);
    // Symbolically linked images and class folders are followed.
    std::os::unix::fs::symlink(
        tmp.path().join("train/angry/train_0000.png"),
        tmp.path().join("train/sad/linked.png"),
    )
    .unwrap();
    std::os::unix::fs::symlink(tmp.path().join("train/happy"), tmp.path().join("train/joy"))
        .unwrap();
    let linked = ClassMap::parse("angry,joy,neutral=relaxed,sad").unwrap();
    let l = dataset::list_split(&tmp.path().join("train"), &linked).unwrap();
    assert_eq!(l.per_class, [8, 8, 8, 9]);
    // neutral → relaxed is class 2.
    assert!(l
        .files
        .iter()
        .filter(|(_, c)| *c == 2)
        .all(|(p, _)| p.to_string_lossy().contains("neutral")));
}

#[test]
fn bad_data_gets_one_clear_line() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    make_dataset(root, 8);
    let classes = ClassMap::parse("angry,happy,neutral=relaxed,sad").unwrap();

    let err = dataset::list_split(&root.join("nope"), &classes)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope") && err.contains("No such file"),
        "{err}"
    );

    let odd = ClassMap::parse("angry,contempt").unwrap();
    let err = dataset::list_split(&root.join("train"), &odd)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no folder for class 'contempt'") && err.contains("angry, fear"),
        "{err}"
    );

    let empty = root.join("train/empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = dataset::list_split(
        &root.join("train"),
        &ClassMap::parse("angry,empty").unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("train/empty") && err.contains("no image files"),
        "{err}"
    );

    let nothing = root.join("nothing");
    std::fs::create_dir_all(&nothing).unwrap();
    let err = dataset::list_split(&nothing, &classes)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no class folders"), "{err}");
}

#[test]
fn corrupt_files_are_skipped_or_fail_with_strict_and_odd_images_are_converted() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    make_dataset(root, 8);
    let sad = root.join("train/sad");
    std::fs::write(sad.join("zero.jpg"), b"").unwrap();
    std::fs::write(sad.join("garbage.png"), b"definitely not a png").unwrap();
    let good = std::fs::read(sad.join("train_0000.png")).unwrap();
    std::fs::write(sad.join("truncated.png"), &good[..good.len() / 3]).unwrap();
    // A colour image of another size: converted, not skipped.
    image::RgbImage::from_pixel(100, 80, image::Rgb([10, 200, 30]))
        .save(sad.join("colour.bmp"))
        .unwrap();

    let classes = ClassMap::parse("angry,happy,neutral=relaxed,sad").unwrap();
    let listing = dataset::list_split(&root.join("train"), &classes).unwrap();
    let loaded = dataset::load(&listing, 4, 48, false).unwrap();
    assert_eq!(loaded.set.len(), 33);
    assert_eq!(loaded.skipped.len(), 3);
    let reasons: Vec<&str> = loaded.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("0 bytes")), "{reasons:?}");

    let err = dataset::load(&listing, 4, 48, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train/sad/")
            && (err.contains("0 bytes") || err.contains("not a readable image")),
        "{err}"
    );
}

#[test]
fn training_writes_a_loadable_run_dir_and_learns() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 40);
    let out = tmp.path().join("run");
    let mut cfg = small_config(tmp.path());
    cfg.epochs = 4;
    cfg.augment = areya_ml::augment::Augment::NONE;
    cfg.optimizer.lr = 3e-3;
    let outcome = train::train(cfg, &out, Q).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "last.safetensors",
        "metrics.csv",
        "train.log",
        "state.json",
        "augmentation.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The augmentation preview: two images of each of the 4 classes (rows), the image and
    // seven augmentations (columns) of 96-pixel tiles. Augmentation is off in this run, so
    // every tile of a row is the image itself.
    let sheet = image::open(out.join("augmentation.png"))
        .unwrap()
        .to_luma8();
    assert_eq!(sheet.dimensions(), (8 * 96 + 8 * 2 + 4, 8 * 98 + 2));
    let tile = |col: u32, row: u32| -> Vec<u8> {
        let x0 = 2 + col * 98 + if col > 0 { 4 } else { 0 };
        let y0 = 2 + row * 98;
        (0..96 * 96)
            .map(|i| sheet.get_pixel(x0 + i % 96, y0 + i / 96).0[0])
            .collect()
    };
    for row in 0..8 {
        assert_eq!(tile(0, row), tile(7, row), "row {row}");
    }
    assert_ne!(tile(0, 0), tile(0, 2), "rows of different classes");
    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    assert!(
        log.contains("Found 160 images belonging to 4 classes"),
        "{log}"
    );
    assert!(
        log.contains("Ignored folders (not in --classes or --auxiliary-classes): fear"),
        "{log}"
    );
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    for key in [
        "\"folder\": \"neutral\"",
        "\"name\": \"relaxed\"",
        "\"image_size\": 48",
        "train_fingerprint",
        "\"seed\": 7",
        "\"lr\"",
    ] {
        assert!(config.contains(key), "config.json lacks {key}");
    }
    let last = outcome.history.last().unwrap();
    assert!(
        last.val_accuracy > 0.6,
        "the quadrant task should be learnt: {:?}",
        outcome.history
    );

    let clf = Classifier::load(&out).unwrap();
    assert_eq!(clf.class_names(), ["angry", "happy", "relaxed", "sad"]);
    let px: Vec<u8> = (0..4)
        .flat_map(|c| synthetic(c, 999, 48).into_raw())
        .collect();
    let probs = clf.predict(&px, 4).unwrap();
    assert_eq!(probs.len(), 4);
    for p in &probs {
        assert_eq!(p.len(), 4);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    assert!(clf.predict(&px[..100], 4).is_err());
    // A new run computes in `auto`; the precision in config.json is what inference uses, and
    // bfloat16 gives nearly the same probabilities.
    use areya_ml::config::Precision;
    assert!(config.contains("\"precision\": \"auto\""), "{config}");
    assert_eq!(clf.precision, Precision::Auto.resolve());
    let mut run = areya_ml::rundir::read_config(&out).unwrap();
    run.precision = Precision::Float32;
    areya_ml::rundir::write_config(&out, &run).unwrap();
    let mut clf = Classifier::load(&out).unwrap();
    assert_eq!(clf.precision, Precision::Float32);
    let full = clf.predict(&px, 4).unwrap();
    clf.set_precision(Precision::Bfloat16);
    assert_eq!(clf.precision, Precision::Bfloat16);
    let half = clf.predict(&px, 4).unwrap();
    for (a, b) in full.iter().flatten().zip(half.iter().flatten()) {
        assert!((a - b).abs() < 0.03, "{full:?} vs {half:?}");
    }
    // A second run into the same dir is refused rather than mixed in.
    let err = train::train(small_config(tmp.path()), &out, Q)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already holds a run"), "{err}");
}

#[test]
fn auxiliary_classes_are_learnt_but_never_predicted() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 40);
    let out = tmp.path().join("run");
    let mut cfg = small_config(tmp.path());
    cfg.epochs = 8;
    cfg.augment = areya_ml::augment::Augment::NONE;
    cfg.optimizer.lr = 3e-3;
    cfg.data.auxiliary = ClassMap::parse_auxiliary("fear=afraid").unwrap();
    let mut two = cfg.clone();
    two.epochs = 2;
    train::train(two, &out, Q).unwrap();
    // Resuming rebuilds the five-output network from config.json.
    let outcome = train::resume(&out, Some(8), Q).unwrap();
    assert_eq!(outcome.history.len(), 8);
    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    assert!(
        log.contains("Found 200 images belonging to 5 classes"),
        "{log}"
    );
    assert!(
        log.contains("Found 40 images belonging to 4 classes"),
        "{log}"
    );
    let run = areya_ml::rundir::read_config(&out).unwrap();
    assert_eq!(run.outputs(), 5);
    assert_eq!(run.data.train_per_class, [40; 5]);
    assert_eq!(run.data.val_per_class, [10; 4]);
    // The head has five outputs, the classifier predicts four.
    let weights = areya_ml::rundir::read_tensors(&out.join("model.safetensors")).unwrap();
    let outputs: Vec<i64> = weights
        .iter()
        .filter(|(name, _)| name.ends_with("bias"))
        .filter_map(|(_, t)| t.size().first().copied())
        .collect();
    assert!(outputs.contains(&5), "{outputs:?}");
    let mut clf = Classifier::load(&out).unwrap();
    clf.set_precision(areya_ml::config::Precision::Float32);
    assert_eq!(clf.class_names(), ["angry", "happy", "relaxed", "sad"]);
    let px: Vec<u8> = (0..4)
        .flat_map(|c| synthetic(c, 999, 48).into_raw())
        .collect();
    for p in clf.predict(&px, 4).unwrap() {
        assert_eq!(p.len(), 4);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
    }
    // Val metrics are over the four classes: evaluation agrees with the last epoch's.
    let (val, _) = areya_ml::evaluate::load_split(&clf, tmp.path(), "val", false).unwrap();
    let ev = areya_ml::evaluate::evaluate_at(&clf, &val, false, 64, 1.0).unwrap();
    assert_eq!(ev.report.classes.len(), 4);
    let best = outcome
        .history
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .unwrap();
    assert!(
        (ev.loss - best.val_loss).abs() < 1e-3,
        "{} vs {best:?}",
        ev.loss
    );
    assert!(ev.report.accuracy > 0.6, "{:?}", outcome.history);

    // Such a run can teach a four-class student: its soft targets are over the four classes.
    let mut student = small_config(tmp.path());
    student.epochs = 1;
    student.distill = Some(areya_ml::distill::DistillConfig {
        teachers: vec![out.clone()],
        alpha: 0.7,
        temperature: 2.0,
        fingerprints: vec![],
    });
    let taught = train::train(student, &tmp.path().join("student"), Q).unwrap();
    assert_eq!(taught.history.len(), 1);
    let log = std::fs::read_to_string(tmp.path().join("student/train.log")).unwrap();
    assert!(log.contains("teacher accuracy"), "{log}");

    // Without a val folder, val is drawn from train and holds no auxiliary image.
    std::fs::remove_dir_all(tmp.path().join("val")).unwrap();
    let out2 = tmp.path().join("run2");
    let mut c = cfg.clone();
    c.epochs = 1;
    train::train(c, &out2, Q).unwrap();
    let run = areya_ml::rundir::read_config(&out2).unwrap();
    assert_eq!(run.data.val_per_class, [4; 4]);
    assert_eq!(run.data.train_per_class, [36, 36, 36, 36, 40]);
}

#[test]
fn same_seed_same_metrics_other_seed_other_metrics() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 24);
    let run = |seed: u64, name: &str| -> PathBuf {
        let mut cfg = small_config(tmp.path());
        cfg.seed = seed;
        let out = tmp.path().join(name);
        train::train(cfg, &out, Q).unwrap();
        out
    };
    let a = metrics_without_time(&run(7, "a"));
    let b = metrics_without_time(&run(7, "b"));
    let c = metrics_without_time(&run(8, "c"));
    assert_eq!(a.len(), 2);
    assert_eq!(a, b, "same seed must give identical metrics");
    assert_ne!(a, c, "another seed must give other metrics");
}

#[test]
fn resume_continues_exactly_where_it_stopped() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 24);
    let mut cfg = small_config(tmp.path());
    cfg.epochs = 3;
    let straight = tmp.path().join("straight");
    train::train(cfg.clone(), &straight, Q).unwrap();

    let mut short = cfg.clone();
    short.epochs = 1;
    let resumed = tmp.path().join("resumed");
    train::train(short, &resumed, Q).unwrap();
    // A row of an epoch whose checkpoint never came (as after kill -9) is dropped on resume.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(resumed.join("metrics.csv"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"2,9,9,9,9,9,9\n").unwrap();
    let outcome = train::resume(&resumed, Some(3), Q).unwrap();
    assert_eq!(outcome.history.len(), 3);
    assert_eq!(
        metrics_without_time(&resumed),
        metrics_without_time(&straight)
    );
    let config = std::fs::read_to_string(resumed.join("config.json")).unwrap();
    assert!(config.contains("\"epochs\": 3"));
}

#[test]
fn mixed_precision_training_learns_resumes_exactly_and_saves_plain_weights() {
    use areya_ml::config::Precision;
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 40);
    let mut cfg = small_config(tmp.path());
    cfg.epochs = 8;
    cfg.augment = areya_ml::augment::Augment::NONE;
    cfg.optimizer.lr = 3e-3;
    cfg.precision = Precision::Bfloat16;
    let straight = tmp.path().join("straight");
    let outcome = train::train(cfg.clone(), &straight, Q).unwrap();
    let log = std::fs::read_to_string(straight.join("train.log")).unwrap();
    assert!(
        log.contains("training in bfloat16 mixed precision"),
        "{log}"
    );
    let run = areya_ml::rundir::read_config(&straight).unwrap();
    assert_eq!(run.train.precision, Precision::Bfloat16);
    assert!(
        outcome.history.last().unwrap().val_accuracy > 0.6,
        "{:?}",
        outcome.history
    );
    // Weights are written as ordinary row-major float32 tensors that any run can read.
    let weights = areya_ml::rundir::read_tensors(&straight.join("model.safetensors")).unwrap();
    assert!(weights
        .values()
        .all(|t| t.is_contiguous() && t.kind() == tch::Kind::Float));
    Classifier::load(&straight).unwrap();

    let mut short = cfg.clone();
    short.epochs = 4;
    let resumed = tmp.path().join("resumed");
    train::train(short, &resumed, Q).unwrap();
    train::resume(&resumed, Some(8), Q).unwrap();
    assert_eq!(
        metrics_without_time(&resumed),
        metrics_without_time(&straight)
    );
    // float32 computes otherwise: the same run in float32 has other metrics.
    let mut f32_cfg = cfg.clone();
    f32_cfg.precision = Precision::Float32;
    let f32_run = tmp.path().join("f32");
    train::train(f32_cfg, &f32_run, Q).unwrap();
    assert_ne!(
        metrics_without_time(&f32_run),
        metrics_without_time(&straight)
    );
    // `auto` is decided when the run starts, and the decision saved.
    let mut auto = cfg.clone();
    auto.precision = Precision::Auto;
    auto.epochs = 1;
    let auto_run = tmp.path().join("auto");
    train::train(auto, &auto_run, Q).unwrap();
    let run = areya_ml::rundir::read_config(&auto_run).unwrap();
    assert_eq!(run.train.precision, Precision::Auto.resolve());
}

#[test]
fn broken_run_dirs_are_reported_not_panicked_on() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 8);
    let out = tmp.path().join("run");
    let mut cfg = small_config(tmp.path());
    cfg.epochs = 1;
    train::train(cfg, &out, Q).unwrap();

    let err = Classifier::load(&tmp.path().join("missing"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("missing") && err.contains("not a folder"),
        "{err}"
    );

    // Another architecture in config.json than in the weights.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    let swapped = config.replacen("\"name\": \"areya-cnn\"", "\"name\": \"seed-cnn\"", 1);
    assert_ne!(swapped, config);
    std::fs::write(other.join("config.json"), swapped).unwrap();
    std::fs::copy(
        out.join("model.safetensors"),
        other.join("model.safetensors"),
    )
    .unwrap();
    let err = Classifier::load(&other).err().unwrap().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("seed-cnn"),
        "{err}"
    );

    // A truncated weights file.
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    std::fs::write(out.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let err = Classifier::load(&out).err().unwrap().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("truncated or corrupt"),
        "{err}"
    );

    // A truncated checkpoint cannot be resumed from, with a clear line.
    let last = std::fs::read(out.join("last.safetensors")).unwrap();
    std::fs::write(out.join("last.safetensors"), &last[..100]).unwrap();
    let err = train::resume(&out, None, Q).unwrap_err().to_string();
    assert!(err.contains("last.safetensors"), "{err}");

    // A run from a newer areya is refused by name; a format-1 run (from before input
    // standardization) that claims to standardize is refused too.
    let v2 = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(v2.contains("\"format\": 2"), "new runs are format 2");
    let cases = [
        (
            v2.replacen("\"format\": 2", "\"format\": 3", 1),
            "run format 3 is not supported",
        ),
        (
            v2.replacen("\"format\": 2", "\"format\": 1", 1).replacen(
                "\"standardize\": false",
                "\"standardize\": true",
                1,
            ),
            "architecture.standardize needs run format 2",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(other.join("config.json"), text).unwrap();
        let err = Classifier::load(&other).err().unwrap().to_string();
        assert!(err.contains("config.json") && err.contains(want), "{err}");
    }

    // Broken JSON names the file.
    std::fs::write(other.join("config.json"), "{ not json").unwrap();
    let err = Classifier::load(&other).err().unwrap().to_string();
    assert!(
        err.contains("config.json") && err.contains("invalid"),
        "{err}"
    );
}

#[test]
fn changed_data_refuses_resume() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 8);
    let out = tmp.path().join("run");
    let mut cfg = small_config(tmp.path());
    cfg.epochs = 1;
    train::train(cfg, &out, Q).unwrap();
    synthetic(0, 1, 48)
        .save(tmp.path().join("train/angry/extra.png"))
        .unwrap();
    let err = train::resume(&out, Some(2), Q).unwrap_err().to_string();
    assert!(err.contains("changed since this run started"), "{err}");
}

/// The real data's layout, when `AREYA_FER2013` points at it.
#[test]
fn fer2013_layout_and_a_short_real_run() {
    let _torch = torch_lock();
    let Some(root) = std::env::var_os("AREYA_FER2013").map(PathBuf::from) else {
        eprintln!("AREYA_FER2013 not set: skipping the real-data test");
        return;
    };
    let classes = ClassMap::parse("angry,happy,neutral=relaxed,sad").unwrap();
    let train = dataset::list_split(&root.join("train"), &classes).unwrap();
    assert_eq!(train.per_class, [3995, 7215, 4965, 4830]);
    assert_eq!(train.ignored_folders, ["disgust", "fear", "surprise"]);
    let val = dataset::list_split(&root.join("val"), &classes).unwrap();
    assert_eq!(val.per_class, [467, 895, 607, 653]);

    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig::new(root).unwrap();
    cfg.data.limit = Some(300);
    cfg.epochs = 1;
    cfg.seed = 7;
    cfg.threads = 2;
    let outcome = train::train(cfg, &tmp.path().join("run"), Q).unwrap();
    assert_eq!(outcome.history.len(), 1);
    assert!(outcome.history[0].val_loss.is_finite());
    Classifier::load(&tmp.path().join("run")).unwrap();
}

#[test]
fn evaluation_pairs_each_prediction_with_its_own_label_in_any_order() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 24);
    let out = tmp.path().join("run");
    let mut cfg = small_config(tmp.path());
    cfg.augment = areya_ml::augment::Augment::NONE;
    train::train(cfg, &out, Q).unwrap();
    let clf = Classifier::load(&out).unwrap();
    let (set, skipped) = areya_ml::evaluate::load_split(&clf, tmp.path(), "val", false).unwrap();
    assert!(skipped.is_empty());
    let ordered = areya_ml::evaluate::evaluate_set(&clf, &set, false, 7).unwrap();
    // The notebook's bug: a shuffled pass scored against unshuffled labels. Loading the same
    // images in another order must give the same matrix, because labels travel with images.
    let mut perm: Vec<usize> = (0..set.len()).collect();
    areya_ml::rng::SplitMix64::new(5).shuffle(&mut perm);
    let shuffled = areya_ml::evaluate::evaluate_set(&clf, &set.subset(&perm), false, 5).unwrap();
    assert_eq!(ordered.report.confusion, shuffled.report.confusion);
    assert!((ordered.loss - shuffled.loss).abs() < 1e-5);
    assert_eq!(ordered.report.n, set.len());
    // Predictions keep their paths and labels.
    for p in &ordered.predictions {
        let folder = p
            .path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(clf.config.classes.index_of_folder(folder), Some(p.truth));
    }
    let tta = areya_ml::evaluate::evaluate_set(&clf, &set, true, 16).unwrap();
    assert!(tta.tta && tta.report.n == set.len());
    let err = areya_ml::evaluate::load_split(&clf, tmp.path(), "test", false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("test") && err.contains("not a folder"),
        "{err}"
    );
}

/// Writes a VGG-16 conv base in torchvision's layout (`features.N.weight`) as safetensors.
fn write_vgg_weights(path: &Path) {
    use tch::Tensor;
    let convs = [
        (64, 3),
        (64, 64),
        (128, 64),
        (128, 128),
        (256, 128),
        (256, 256),
        (256, 256),
        (512, 256),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ];
    let idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
    let mut named = Vec::new();
    for ((out, inp), i) in convs.iter().zip(idx) {
        named.push((
            format!("features.{i}.weight"),
            Tensor::randn([*out, *inp, 3, 3], (tch::Kind::Float, tch::Device::Cpu)) * 0.05,
        ));
        named.push((
            format!("features.{i}.bias"),
            Tensor::zeros([*out], (tch::Kind::Float, tch::Device::Cpu)),
        ));
    }
    Tensor::write_safetensors(&named, path).unwrap();
}

#[test]
fn vgg16_from_a_weights_file_with_a_frozen_base_trains_only_the_head() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 8);
    let weights = tmp.path().join("vgg16.safetensors");
    write_vgg_weights(&weights);
    let mut cfg = small_config(tmp.path());
    cfg.architecture = areya_ml::model::Architecture::Vgg16;
    cfg.init = Some(weights.clone());
    cfg.freeze_base = true;
    cfg.epochs = 1;
    let out = tmp.path().join("vgg");
    train::train(cfg, &out, Q).unwrap();
    let clf = Classifier::load(&out).unwrap();
    let init: std::collections::HashMap<String, tch::Tensor> =
        tch::Tensor::read_safetensors(&weights)
            .unwrap()
            .into_iter()
            .collect();
    let vars = clf.vs.variables();
    // Base unchanged (RGB summed to gray for the first layer), head trained.
    assert!(vars["block3_conv2.weight"].equal(&init["features.12.weight"]));
    assert!(vars["block1_conv1.weight"].allclose(
        &init["features.0.weight"].sum_dim_intlist(&[1i64][..], true, tch::Kind::Float),
        1e-5,
        1e-6,
        false
    ));
    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    // Only fc1 (512·256 + 256) and the head (256·4 + 4) train.
    assert!(log.contains("parameters (132356 trainable)"), "{log}");
}

#[test]
fn areya_cnn_fine_tunes_from_a_runs_weights_and_refuses_another_networks() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 8);
    let mut cfg = small_config(tmp.path());
    cfg.epochs = 1;
    let first = tmp.path().join("first");
    train::train(cfg.clone(), &first, Q).unwrap();
    let weights = first.join("model.safetensors");
    // A learning rate too small to move anything: what comes out is what went in.
    let mut ft = cfg.clone();
    ft.seed = 8;
    ft.optimizer.lr = 1e-9;
    let (tuned, scratch) = (tmp.path().join("tuned"), tmp.path().join("scratch"));
    train::train(ft.clone(), &scratch, Q).unwrap();
    ft.init = Some(weights.clone());
    train::train(ft, &tuned, Q).unwrap();
    let vars = |dir: &Path| Classifier::load(dir).unwrap().vs.variables();
    let (a, b, c) = (vars(&first), vars(&tuned), vars(&scratch));
    let learnt: Vec<&String> = a.keys().filter(|k| !k.contains("running")).collect();
    assert!(learnt.len() >= 6, "{learnt:?}");
    for name in learnt {
        assert!(
            a[name].allclose(&b[name], 1e-5, 1e-6, false),
            "{name} not carried over"
        );
        if (name.contains("_conv") || name.starts_with("head")) && name.ends_with(".weight") {
            assert!(
                !a[name].allclose(&c[name], 1e-5, 1e-6, false),
                "{name}: same without init"
            );
        }
    }
    // Weights of another network are refused, naming the file and the first misfit.
    let mut other = cfg;
    other.architecture = areya_ml::testdata::tiny_cnn(&[8, 32], 0.1);
    other.init = Some(weights.clone());
    let err = train::train(other, &tmp.path().join("other"), Q)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&weights.display().to_string()) && err.contains("shape"),
        "{err}"
    );
}

#[test]
fn vgg16_init_reads_a_pytorch_state_dict() {
    let _torch = torch_lock();
    // A real `torch.save(state_dict)` file needs Python's torch: the project's venv has it.
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if !python.exists() {
        eprintln!("no .venv/bin/python: run scripts/setup; skipping the .pt test");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pt = tmp.path().join("vgg16.pt");
    let script = format!(
        "import torch\nsd={{}}\nc=[(64,3),(64,64),(128,64),(128,128),(256,128),(256,256),(256,256),(512,256),(512,512),(512,512),(512,512),(512,512),(512,512)]\n\
         for (o,i),n in zip(c,[0,2,5,7,10,12,14,17,19,21,24,26,28]):\n    sd[f'features.{{n}}.weight']=torch.full((o,i,3,3),0.25)\n    sd[f'features.{{n}}.bias']=torch.full((o,),0.5)\n\
         sd['classifier.0.weight']=torch.zeros(4096,25088)[:2]\ntorch.save(sd, r'{}')\n",
        pt.display()
    );
    let st = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .status()
        .unwrap();
    assert!(st.success());
    let mut vs = tch::nn::VarStore::new(tch::Device::Cpu);
    areya_ml::model::Network::build(&vs.root(), &areya_ml::model::Architecture::Vgg16, 48, 4)
        .unwrap();
    areya_ml::model::init_vgg16_from_file(&mut vs, &pt, false).unwrap();
    let v = vs.variables();
    assert!((v["block1_conv1.weight"].double_value(&[0, 0, 0, 0]) - 0.75).abs() < 1e-6);
    assert!((v["block4_conv3.bias"].double_value(&[3]) - 0.5).abs() < 1e-6);
}

#[test]
fn snapshot_averaging_writes_the_mean_as_a_loadable_run_and_names_bad_snapshots() {
    use areya_ml::average::average_snapshots;
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 20);
    let run = tmp.path().join("run");
    let mut cfg = small_config(tmp.path());
    // A budget of 10 epochs that early stopping ends after epoch 3 (no later epoch can
    // improve by 1e9): the snapshots are of the last epochs trained, not of the budget's.
    cfg.epochs = 10;
    cfg.snapshots = 2;
    let es = cfg.callbacks.early_stopping.as_mut().unwrap();
    es.patience = 2;
    es.min_delta = 1e9;
    train::train(cfg, &run, Q).unwrap();
    assert_eq!(metrics_without_time(&run).len(), 3, "stopped after epoch 3");
    // --snapshots 2 kept the weights of the last two epochs only.
    let snaps: Vec<String> = std::fs::read_dir(run.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(snaps, ["epoch-002.safetensors", "epoch-003.safetensors"]);
    let model = run.join("model.safetensors");
    // A second snapshot: every tensor of the model times three. The mean is twice the model.
    let tripled: Vec<(String, tch::Tensor)> = tch::Tensor::read_safetensors(&model)
        .unwrap()
        .into_iter()
        .map(|(n, t)| (n, t * 3.0))
        .collect();
    let third = tmp.path().join("tripled.safetensors");
    tch::Tensor::write_safetensors(&tripled, &third).unwrap();
    let out = tmp.path().join("averaged");
    // The checkpoint (with optimizer state) is a valid snapshot too.
    let record = average_snapshots(&run, &[model.clone(), third.clone()], &out).unwrap();
    assert_eq!(record.snapshots.len(), 2);
    let avg = Classifier::load(&out).unwrap();
    let orig = Classifier::load(&run).unwrap();
    let (a, o) = (
        areya_ml::rundir::named_variables(&avg.vs),
        areya_ml::rundir::named_variables(&orig.vs),
    );
    assert_eq!(a.len(), o.len());
    for ((name, x), (_, y)) in a.iter().zip(&o) {
        let diff = (x - y * 2.0).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{name}: off by {diff}");
    }
    assert!(out.join("averaged_from.json").is_file());
    let from_snapshots: Vec<PathBuf> = snaps
        .iter()
        .map(|s| run.join("snapshots").join(s))
        .collect();
    average_snapshots(&run, &from_snapshots, &tmp.path().join("b")).unwrap();
    // The last snapshot is the last epoch's weights, as in the checkpoint.
    let last = tch::Tensor::read_safetensors(run.join("last.safetensors")).unwrap();
    let snap3 = tch::Tensor::read_safetensors(&from_snapshots[1]).unwrap();
    for (name, t) in &snap3 {
        let (_, c) = last
            .iter()
            .find(|(n, _)| n == name)
            .expect("in the checkpoint");
        assert!(t.equal(c), "{name}");
    }
    average_snapshots(
        &run,
        &[model.clone(), run.join("last.safetensors")],
        &tmp.path().join("c2"),
    )
    .unwrap();

    // Bad input is named.
    let e =
        average_snapshots(&run, std::slice::from_ref(&model), &tmp.path().join("c")).unwrap_err();
    assert!(e.to_string().contains("at least two"), "{e}");
    let e = average_snapshots(&run, &[model.clone(), third.clone()], &out).unwrap_err();
    assert!(e.to_string().contains("already a run directory"), "{e}");
    let partial = tmp.path().join("partial.safetensors");
    tch::Tensor::write_safetensors(&tripled[1..], &partial).unwrap();
    let e = average_snapshots(&run, &[model.clone(), partial], &tmp.path().join("d")).unwrap_err();
    assert!(
        e.to_string().contains("partial.safetensors") && e.to_string().contains("has no tensor"),
        "{e}"
    );
    let junk = tmp.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a weights file").unwrap();
    let e = average_snapshots(&run, &[model, junk], &tmp.path().join("e")).unwrap_err();
    assert!(e.to_string().contains("junk.safetensors"), "{e}");
    assert!(
        !tmp.path().join("d").join("model.safetensors").exists(),
        "nothing written on error"
    );
}

#[test]
fn distillation_learns_from_the_teachers_alone_resumes_exactly_and_checks_its_teachers() {
    let _torch = torch_lock();
    let tmp = tempfile::tempdir().unwrap();
    make_dataset(tmp.path(), 40);
    let mut base = small_config(tmp.path());
    base.augment = areya_ml::augment::Augment::NONE;
    base.optimizer.lr = 3e-3;
    let teacher = tmp.path().join("teacher");
    let mut t = base.clone();
    t.epochs = 20;
    let taught = train::train(t, &teacher, Q).unwrap();
    assert!(
        taught.history.last().unwrap().val_accuracy > 0.9,
        "{:?}",
        taught.history
    );

    // alpha 1: the labels play no part, so the student learns the task only if each image is
    // paired with its own soft target.
    let mut student = base.clone();
    student.seed = 11;
    student.epochs = 16;
    student.distill = Some(areya_ml::distill::DistillConfig {
        teachers: vec![teacher.clone()],
        alpha: 1.0,
        temperature: 1.0,
        fingerprints: vec![],
    });
    let out = tmp.path().join("student");
    let outcome = train::train(student.clone(), &out, Q).unwrap();
    let last = outcome.history.last().unwrap();
    assert!(
        last.val_accuracy > 0.6,
        "the student should learn the quadrants from the teacher: {:?}",
        outcome.history
    );
    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    assert!(
        log.contains("Distilling from") && log.contains("teacher accuracy"),
        "{log}"
    );
    let run = areya_ml::rundir::read_config(&out).unwrap();
    let d = run.train.distill.expect("distill settings saved");
    assert_eq!(d.fingerprints.len(), 1);
    assert_eq!(
        d.fingerprints[0],
        areya_ml::distill::fingerprint(&teacher).unwrap()
    );

    // Stopped after one epoch and resumed: the same run as in one go.
    let mut short = student.clone();
    short.epochs = 1;
    let resumed = tmp.path().join("resumed");
    train::train(short, &resumed, Q).unwrap();
    train::resume(&resumed, Some(16), Q).unwrap();
    assert_eq!(metrics_without_time(&resumed), metrics_without_time(&out));

    // A teacher whose weights changed since the run started is refused on resume.
    std::fs::copy(
        out.join("model.safetensors"),
        teacher.join("model.safetensors"),
    )
    .unwrap();
    let err = train::resume(&resumed, Some(17), Q)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("teacher's weights changed") && err.contains("teacher"),
        "{err}"
    );

    // A teacher of other classes, or no teacher at all, stops the run before it starts and
    // leaves nothing behind.
    let mut five = student.clone();
    five.data.classes = ClassMap::parse("angry,happy,neutral=relaxed,sad,fear").unwrap();
    let dir = tmp.path().join("new/five");
    let err = train::train(five, &dir, Q).unwrap_err().to_string();
    assert!(err.contains("teacher classes"), "{err}");
    let mut missing = student.clone();
    missing.distill.as_mut().unwrap().teachers = vec![tmp.path().join("nowhere")];
    let err = train::train(missing, &dir, Q).unwrap_err().to_string();
    assert!(err.contains("nowhere"), "{err}");
    assert!(!tmp.path().join("new").exists());
}
