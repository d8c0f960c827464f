//! `areya train`: loads the data once, trains with Adam and the callbacks, checkpoints every
//! epoch atomically into the run dir, and resumes from it.
//!
//! The commit point of an epoch is one file, `last.safetensors`, holding the weights, the
//! optimizer state and the trainer state (epoch, learning rate, callback states) together, so
//! a `kill -9` at any moment loses at most the epoch in progress and never mixes two epochs.

use crate::amp;
use crate::augment::{self, Augment};
use crate::callbacks::{
    Action, Callback, CsvLogger, EarlyStopping, EpochLogs, ModelCheckpoint, ReduceLrOnPlateau,
};
use crate::classes::ClassMap;
use crate::config::{
    ClassWeights, DataSummary, Precision, Preprocessing, RunConfig, TrainConfig, RUN_FORMAT,
};
use crate::dataset::{self, ImageSet, Skipped};
use crate::distill;
use crate::error::{MlError, Result};
use crate::model::{init_vgg16_from_file, Architecture, Network};
use crate::optim::Adam;
use crate::rng::{SplitMix64, STREAM_SHUFFLE, STREAM_TORCH};
use crate::rundir::{self, CONFIG_FILE, LAST_FILE, LOG_FILE, MODEL_FILE, SNAPSHOT_DIR, STATE_FILE};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn, Kind, Tensor};

/// Trainer state saved in every checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs finished.
    pub epoch: usize,
    /// Base learning rate (after ReduceLROnPlateau), before the schedule's factor.
    pub lr: f64,
    pub stopped: Option<String>,
    pub callbacks: BTreeMap<String, serde_json::Value>,
    pub history: Vec<EpochLogs>,
}

/// What a finished training run reports.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub run_dir: PathBuf,
    pub history: Vec<EpochLogs>,
    /// Epoch whose weights are in `model.safetensors`.
    pub best_epoch: Option<usize>,
    pub stopped: Option<String>,
}

/// How the trainer talks to the person at the terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrainOptions {
    /// No progress bars (lines still go to train.log and stdout).
    pub quiet: bool,
}

/// Data ready for training.
pub struct PreparedData {
    pub train: ImageSet,
    pub val: ImageSet,
    pub summary: DataSummary,
}

/// Prints to stdout and appends to `train.log`.
struct Log {
    file: Option<std::fs::File>,
}

impl Log {
    fn open(path: &Path) -> Result<Log> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| MlError::io(path, e))?;
        Ok(Log { file: Some(f) })
    }
    fn line(&mut self, s: &str) {
        println!("{s}");
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{s}");
        }
    }
}

fn report_skipped(log: &mut Log, split: &str, skipped: &[Skipped]) {
    if skipped.is_empty() {
        return;
    }
    log.line(&format!(
        "Skipped {} unreadable {split} file(s) (use --strict to fail instead):",
        skipped.len()
    ));
    for s in skipped.iter().take(5) {
        log.line(&format!("  {}: {}", s.path.display(), s.reason));
    }
    if skipped.len() > 5 {
        log.line(&format!("  … and {} more", skipped.len() - 5));
    }
}

fn report_found(log: &mut Log, classes: &ClassMap, listing: &dataset::SplitListing, first: bool) {
    let k = classes.len();
    log.line(&format!(
        "Found {} images belonging to {k} classes in {}.",
        listing.files.len(),
        listing.dir.display()
    ));
    let counts: Vec<String> = classes
        .specs()
        .iter()
        .zip(&listing.per_class)
        .map(|(s, n)| {
            if s.folder == s.name {
                format!("{}: {n}", s.name)
            } else {
                format!("{} ({}): {n}", s.name, s.folder)
            }
        })
        .collect();
    log.line(&format!("  {}", counts.join(", ")));
    if first && !listing.ignored_folders.is_empty() {
        log.line(&format!(
            "  Ignored folders (not in --classes or --auxiliary-classes): {}",
            listing.ignored_folders.join(", ")
        ));
    }
    if !listing.not_images.is_empty() {
        log.line(&format!(
            "  Ignored {} non-image file(s), e.g. {}",
            listing.not_images.len(),
            listing.not_images[0].display()
        ));
    }
}

/// Lists, decodes and (with `--limit`) samples the train and val images.
fn prepare_data(cfg: &TrainConfig, log: &mut Log) -> Result<PreparedData> {
    let d = &cfg.data;
    // Val and its metrics: the predicted classes only; train: those and the auxiliary ones.
    let k = d.classes.len();
    let outputs = d.output_classes()?;
    let k_out = outputs.len();
    let train_dir = if d.root.join("train").is_dir() {
        d.root.join("train")
    } else {
        d.root.clone()
    };
    let listing = dataset::list_split(&train_dir, &outputs)?;
    report_found(log, &outputs, &listing, true);
    let loaded = dataset::load(&listing, k_out, d.image_size, d.strict)?;
    report_skipped(log, "train", &loaded.skipped);
    let val_dir = d.root.join("val");
    let (mut train, mut val, val_source, val_fp) = if train_dir != d.root && val_dir.is_dir() {
        let vl = dataset::list_split(&val_dir, &d.classes)?;
        report_found(log, &d.classes, &vl, false);
        let v = dataset::load(&vl, k, d.image_size, d.strict)?;
        report_skipped(log, "val", &v.skipped);
        (
            loaded.set,
            v.set,
            val_dir.display().to_string(),
            v.fingerprint,
        )
    } else {
        let (mut ti, vi) =
            dataset::stratified_split(&loaded.set.labels, k_out, d.val_fraction, cfg.seed);
        // Auxiliary images are never scored: those drawn for val go back to train.
        let (vi, back): (Vec<usize>, Vec<usize>) = vi
            .into_iter()
            .partition(|&i| (loaded.set.labels[i] as usize) < k);
        ti.extend(back);
        log.line(&format!(
            "No val folder: using a stratified {:.0}% of train as val (seed {}).",
            d.val_fraction * 100.0,
            cfg.seed
        ));
        let mut val = loaded.set.subset(&vi);
        val.num_classes = k;
        (
            loaded.set.subset(&ti),
            val,
            format!("stratified {:.0}% of train", d.val_fraction * 100.0),
            loaded.fingerprint.clone(),
        )
    };
    if let Some(limit) = d.limit {
        let full = train.len();
        let idx = dataset::stratified_sample(&train.labels, k_out, limit, cfg.seed);
        train = train.subset(&idx);
        let n_val = ((val.len() as f64 * train.len() as f64 / full as f64).ceil() as usize).max(k);
        let vidx = dataset::stratified_sample(&val.labels, k, n_val, cfg.seed);
        val = val.subset(&vidx);
        log.line(&format!(
            "limit {limit}: using {} train and {} val images (stratified, seed {}).",
            train.len(),
            val.len(),
            cfg.seed
        ));
    }
    let summary = DataSummary {
        train_images: train.len(),
        val_images: val.len(),
        train_per_class: train.class_counts(),
        val_per_class: val.class_counts(),
        val_source,
        train_fingerprint: loaded.fingerprint,
        val_fingerprint: val_fp,
    };
    Ok(PreparedData {
        train,
        val,
        summary,
    })
}

/// libtorch's random generator (weight init, dropout) is global to the process, so two
/// trainings in one process would draw from each other's stream: they take turns instead.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn set_threads(threads: usize) {
    let n = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    };
    tch::set_num_threads(n as i32);
    // Fails only if the global pool already exists (a second run in the same process): fine.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}

/// Whether the run trains in bfloat16 mixed precision (see [`amp`]).
fn mixed(cfg: &TrainConfig) -> bool {
    cfg.precision == Precision::Bfloat16
}

/// Builds the network and optimizer, seeded.
fn build_model(cfg: &TrainConfig, k: usize) -> Result<(nn::VarStore, Network)> {
    tch::manual_seed(cfg.seed as i64);
    let mut vs = nn::VarStore::new(tch::Device::Cpu);
    let net = Network::build(&vs.root(), &cfg.architecture, cfg.data.image_size, k)?;
    match (&cfg.init, &cfg.architecture) {
        (Some(init), Architecture::Vgg16) => init_vgg16_from_file(&mut vs, init, cfg.freeze_base)?,
        // Any other network: every variable from a run's weights of the same network.
        (Some(init), arch) => {
            rundir::load_variables(&vs, &rundir::read_tensors(init)?, init, arch.name())?
        }
        (None, _) => {}
    }
    if mixed(cfg) {
        amp::vars_to_channels_last(&vs);
    }
    Ok((vs, net))
}

fn make_callbacks(cfg: &TrainConfig, run_dir: &Path) -> Vec<Box<dyn Callback>> {
    let c = &cfg.callbacks;
    let mut v: Vec<Box<dyn Callback>> = Vec::new();
    if c.csv_logger {
        v.push(Box::new(CsvLogger::new(run_dir)));
    }
    if let Some(m) = c.checkpoint {
        v.push(Box::new(ModelCheckpoint::new(m)));
    }
    if let Some(e) = c.early_stopping {
        v.push(Box::new(EarlyStopping::new(e)));
    }
    if let Some(r) = c.reduce_lr {
        v.push(Box::new(ReduceLrOnPlateau::new(r)));
    }
    v
}

/// Trains a new run into `out` (which must not already hold a run).
pub fn train(cfg: TrainConfig, out: &Path, opts: TrainOptions) -> Result<TrainOutcome> {
    cfg.validate()?;
    let _turn = TRAINING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if out.join(CONFIG_FILE).exists() {
        return Err(MlError::run_dir(
            out,
            "already holds a run (use --resume to continue it, or another --out)",
        ));
    }
    // The outermost folder this run creates (e.g. `runs/` for `runs/<time>`), if any.
    let created = out
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .last()
        .map(Path::to_path_buf);
    let result = start(cfg, out, opts);
    // Bad data or settings found before the run began leave nothing behind; once config.json
    // exists the directory holds a run that `--resume` can continue, so it stays.
    if let (Err(_), Some(dir)) = (&result, &created) {
        if !out.join(CONFIG_FILE).exists() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

fn start(cfg: TrainConfig, out: &Path, opts: TrainOptions) -> Result<TrainOutcome> {
    std::fs::create_dir_all(out).map_err(|e| MlError::io(out, e))?;
    set_threads(cfg.threads);
    let mut log = Log::open(&out.join(LOG_FILE))?;
    log.line(&format!(
        "areya {} — new run in {}",
        env!("CARGO_PKG_VERSION"),
        out.display()
    ));
    let mut cfg = cfg;
    // Saved as decided here, so a resume on another machine computes the same way.
    cfg.precision = cfg.precision.resolve();
    if let Some(d) = &mut cfg.distill {
        d.fingerprints = d
            .teachers
            .iter()
            .map(|t| distill::fingerprint(t))
            .collect::<Result<_>>()?;
    }
    let data = prepare_data(&cfg, &mut log)?;
    let soft = teach(&cfg, &data, &mut log)?;
    let (vs, net) = build_model(&cfg, cfg.data.output_classes()?.len())?;
    let run = RunConfig {
        format: RUN_FORMAT,
        areya_version: env!("CARGO_PKG_VERSION").to_string(),
        classes: cfg.data.classes.clone(),
        preprocessing: Preprocessing {
            image_size: cfg.data.image_size,
            grayscale: true,
            scale: 255.0,
            face_crop: None,
            face_crop_detector: None,
        },
        architecture: cfg.architecture.clone(),
        train: cfg.clone(),
        data: data.summary.clone(),
        temperature: 1.0,
        precision: Default::default(),
    };
    rundir::write_config(out, &run)?;
    write_augmentation_preview(&cfg, &data.train, out)?;
    let opt = Adam::new(&vs, cfg.optimizer);
    let state = TrainerState {
        epoch: 0,
        lr: cfg.optimizer.lr,
        stopped: None,
        callbacks: BTreeMap::new(),
        history: Vec::new(),
    };
    let callbacks = make_callbacks(&cfg, out);
    Session {
        cfg,
        dir: out.to_path_buf(),
        data,
        vs,
        net,
        opt,
        state,
        callbacks,
        log,
        opts,
        soft,
    }
    .run()
}

/// `RUN/augmentation.png`: the first two train images of each class, then seven of the
/// augmentations training will feed the network (epochs 1–7), so a user sees what the
/// settings do before the hours of training.
fn write_augmentation_preview(cfg: &TrainConfig, train: &ImageSet, out: &Path) -> Result<()> {
    let mut rows = Vec::new();
    for class in 0..train.num_classes {
        rows.extend(
            (0..train.len())
                .filter(|&i| train.labels[i] as usize == class)
                .take(2),
        );
    }
    let sheet = augment::preview(train, &cfg.augment, cfg.seed, &rows, 7, 2);
    let path = out.join(rundir::AUGMENTATION_FILE);
    let mut png = std::io::Cursor::new(Vec::new());
    sheet
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| MlError::run_dir(&path, format!("cannot encode: {e}")))?;
    rundir::write_atomic(&path, png.get_ref())
}

/// Soft targets for every train image when the run distils (None otherwise), with the
/// teachers' own accuracy logged.
fn teach(cfg: &TrainConfig, data: &PreparedData, log: &mut Log) -> Result<Option<Tensor>> {
    let Some(d) = &cfg.distill else {
        return Ok(None);
    };
    let start = Instant::now();
    let teachers = distill::load_teachers(d, &cfg.data.classes, cfg.data.image_size)?;
    let mirror = cfg.augment.hflip;
    let soft = distill::soft_targets(&teachers, &data.train, d.temperature, mirror, 256);
    let val = distill::soft_targets(&teachers, &data.val, d.temperature, mirror, 256);
    let names: Vec<String> = d.teachers.iter().map(|t| t.display().to_string()).collect();
    log.line(&format!(
        "Distilling from {} (alpha {}, temperature {}): teacher accuracy{} train {:.4}, val {:.4}; {:.0}s",
        names.join(" + "),
        d.alpha,
        d.temperature,
        if mirror { " (with the mirror image)" } else { "" },
        distill::accuracy(&soft, &data.train),
        distill::accuracy(&val, &data.val),
        start.elapsed().as_secs_f64()
    ));
    Ok(Some(soft))
}

/// Continues the run in `dir` from its last checkpoint; `epochs` raises the epoch budget.
pub fn resume(dir: &Path, epochs: Option<usize>, opts: TrainOptions) -> Result<TrainOutcome> {
    let _turn = TRAINING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = rundir::read_config(dir)?;
    let mut cfg = run.train.clone();
    if let Some(e) = epochs {
        cfg.epochs = e;
    }
    // Named by the run's config.json, where the settings come from.
    cfg.validate().map_err(|e| match e {
        MlError::Config(areya_core::SettingError { field, msg }) => {
            MlError::run_dir(dir.join(CONFIG_FILE), format!("train.{field}: {msg}"))
        }
        e => e,
    })?;
    set_threads(cfg.threads);
    let last = dir.join(LAST_FILE);
    let tensors = rundir::read_tensors(&last)?;
    let state_bytes: Vec<u8> = tensors
        .get("trainer.state")
        .ok_or_else(|| MlError::run_dir(&last, "no trainer state: not an Areya checkpoint"))
        .and_then(|t| Vec::<u8>::try_from(t).map_err(MlError::from))?;
    let mut state: TrainerState = serde_json::from_slice(&state_bytes)
        .map_err(|e| MlError::run_dir(&last, format!("bad trainer state: {e}")))?;
    let mut log = Log::open(&dir.join(LOG_FILE))?;
    log.line(&format!(
        "areya {} — resuming {} after epoch {}",
        env!("CARGO_PKG_VERSION"),
        dir.display(),
        state.epoch
    ));
    let data = prepare_data(&cfg, &mut log)?;
    for (what, was, now) in [
        (
            "train",
            &run.data.train_fingerprint,
            &data.summary.train_fingerprint,
        ),
        (
            "val",
            &run.data.val_fingerprint,
            &data.summary.val_fingerprint,
        ),
    ] {
        if was != now {
            return Err(MlError::data(
                &cfg.data.root,
                format!("the {what} data changed since this run started (fingerprint {was} → {now}); start a new run"),
            ));
        }
    }
    if let Some(d) = &cfg.distill {
        d.check_unchanged(&dir.join(CONFIG_FILE))?;
    }
    let soft = teach(&cfg, &data, &mut log)?;
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let net = Network::build(
        &vs.root(),
        &cfg.architecture,
        cfg.data.image_size,
        cfg.data.output_classes()?.len(),
    )?;
    if cfg.freeze_base {
        for (name, t) in vs.variables() {
            if name.starts_with("block") {
                let _ = t.set_requires_grad(false);
            }
        }
    }
    rundir::load_variables(&vs, &tensors, &last, cfg.architecture.name())?;
    if mixed(&cfg) {
        amp::vars_to_channels_last(&vs);
    }
    let mut opt = Adam::new(&vs, cfg.optimizer);
    opt.load_state(&tensors, "optimizer.", &last)?;
    let mut callbacks = make_callbacks(&cfg, dir);
    for cb in &mut callbacks {
        if let Some(s) = state.callbacks.get(cb.name()) {
            cb.restore(s)?;
        }
    }
    if state.stopped.is_some() && epochs.is_some() {
        log.line("Resuming a stopped run with a new epoch budget.");
        state.stopped = None;
    }
    if run.train.epochs != cfg.epochs {
        // Keep config.json's record of the budget in step with the run.
        let mut run = run;
        run.train.epochs = cfg.epochs;
        rundir::write_config(dir, &run)?;
    }
    Session {
        cfg,
        dir: dir.to_path_buf(),
        data,
        vs,
        net,
        opt,
        state,
        callbacks,
        log,
        opts,
        soft,
    }
    .run()
}

struct Session {
    cfg: TrainConfig,
    dir: PathBuf,
    data: PreparedData,
    vs: nn::VarStore,
    net: Network,
    opt: Adam,
    state: TrainerState,
    callbacks: Vec<Box<dyn Callback>>,
    log: Log,
    opts: TrainOptions,
    /// The teachers' soft targets for each train image, `[N, K]`, when distilling.
    soft: Option<Tensor>,
}

/// Cross-entropy on logits with optional label smoothing and per-class weights (weighted mean).
///
/// # Shapes
/// `logits`: `[B, K]`, `y`: `[B]` int64, `weights`: `[K]` → scalar.
pub fn cross_entropy(
    logits: &Tensor,
    y: &Tensor,
    smoothing: f64,
    weights: Option<&Tensor>,
) -> Tensor {
    let logp = logits.log_softmax(-1, Kind::Float);
    let nll = -logp.gather(1, &y.unsqueeze(1), false).squeeze_dim(1);
    let per = if smoothing > 0.0 {
        &nll * (1.0 - smoothing) - logp.mean_dim(-1, false, Kind::Float) * smoothing
    } else {
        nll
    };
    match weights {
        Some(w) => {
            let wy = w.index_select(0, y);
            (&per * &wy).sum(Kind::Float) / wy.sum(Kind::Float)
        }
        None => per.mean(Kind::Float),
    }
}

/// Mean loss (plain cross-entropy) and accuracy of `net` on `set`, in batches, eval mode,
/// over the set's classes: the logits of any auxiliary outputs after them are left out.
pub fn evaluate(net: &Network, set: &ImageSet, batch_size: usize) -> (f64, f64) {
    let (mut loss, mut correct) = (0.0, 0.0);
    let idx: Vec<usize> = (0..set.len()).collect();
    tch::no_grad(|| {
        for chunk in idx.chunks(batch_size.max(1)) {
            let (x, y) = augment::batch(set, chunk, None);
            let logits = net
                .forward_t(&x, false)
                .narrow(-1, 0, set.num_classes as i64);
            loss += cross_entropy(&logits, &y, 0.0, None).double_value(&[]) * chunk.len() as f64;
            correct += logits
                .argmax(-1, false)
                .eq_tensor(&y)
                .sum(Kind::Float)
                .double_value(&[]);
        }
    });
    let n = set.len().max(1) as f64;
    (loss / n, correct / n)
}

impl Session {
    fn class_weights(&self) -> Option<Tensor> {
        match self.cfg.class_weights {
            ClassWeights::None => None,
            ClassWeights::Balanced => {
                let counts = self.data.train.class_counts();
                let n: usize = counts.iter().sum();
                let k = counts.len() as f64;
                let w: Vec<f32> = counts
                    .iter()
                    .map(|&c| (n as f64 / (k * c.max(1) as f64)) as f32)
                    .collect();
                Some(Tensor::from_slice(&w))
            }
        }
    }

    fn save_weights(&self, file: &str) -> Result<()> {
        rundir::write_tensors_atomic(&self.dir.join(file), &rundir::named_variables(&self.vs))
    }

    /// `RUN/snapshots/epoch-NNN.safetensors`: the weights at the end of `epoch`; then drops
    /// the snapshots that fell out of the window of the last `cfg.snapshots` epochs, so the
    /// window is the last epochs the run *trained*, however early it stops.
    fn save_snapshot(&self, epoch: usize) -> Result<()> {
        let dir = self.dir.join(SNAPSHOT_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| MlError::io(&dir, e))?;
        rundir::write_tensors_atomic(
            &dir.join(format!("epoch-{epoch:03}.safetensors")),
            &rundir::named_variables(&self.vs),
        )?;
        rundir::prune_snapshots(&dir, epoch, self.cfg.snapshots)
    }

    fn load_weights(&self, file: &str) -> Result<()> {
        let path = self.dir.join(file);
        let t = rundir::read_tensors(&path)?;
        rundir::load_variables(&self.vs, &t, &path, self.cfg.architecture.name())
    }

    /// Writes the epoch's commit point: weights + optimizer + trainer state in one file.
    fn checkpoint(&mut self) -> Result<()> {
        self.state.callbacks = self
            .callbacks
            .iter()
            .map(|c| (c.name().to_string(), c.state()))
            .collect();
        let json = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| MlError::config("state", e.to_string()))?;
        let mut tensors = rundir::named_variables(&self.vs);
        tensors.extend(self.opt.state_tensors("optimizer."));
        tensors.push(("trainer.state".into(), Tensor::from_slice(&json)));
        rundir::write_tensors_atomic(&self.dir.join(LAST_FILE), &tensors)?;
        rundir::write_atomic(&self.dir.join(STATE_FILE), &json)
    }

    fn apply(&mut self, actions: Vec<Action>) -> Result<()> {
        for a in actions {
            match a {
                Action::SaveWeights(f) => self.save_weights(f)?,
                Action::LoadWeights(f) => self.load_weights(f)?,
                Action::SetLr(lr) => {
                    self.log.line(&format!(
                        "ReduceLROnPlateau: learning rate {:.1e} → {lr:.1e}",
                        self.state.lr
                    ));
                    self.state.lr = lr;
                }
                Action::Stop(why) => {
                    if self.state.stopped.is_none() {
                        self.state.stopped = Some(why);
                    }
                }
            }
        }
        Ok(())
    }

    /// One pass over the shuffled, augmented train set: (loss, accuracy, last lr, seconds).
    fn train_epoch(&mut self, epoch: usize, weights: Option<&Tensor>) -> (f64, f64, f64, f64) {
        let cfg = &self.cfg;
        let train = &self.data.train;
        let n = train.len();
        let mut order: Vec<usize> = (0..n).collect();
        SplitMix64::keyed(&[cfg.seed, STREAM_SHUFFLE, epoch as u64]).shuffle(&mut order);
        tch::manual_seed(
            (SplitMix64::keyed(&[cfg.seed, STREAM_TORCH, epoch as u64]).next_u64() >> 1) as i64,
        );
        let batches = n.div_ceil(cfg.batch_size);
        let bar = if self.opts.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(batches as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("Epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch, cfg.epochs));
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0.0, 0usize);
        let mut lr = self.state.lr;
        for (b, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let progress = (epoch - 1) as f64 + b as f64 / batches as f64;
            lr = self.state.lr * cfg.schedule.factor(progress, cfg.epochs);
            let aug: Option<(&Augment, u64, u64)> = Some((&cfg.augment, cfg.seed, epoch as u64));
            let (x, y) = augment::batch(train, chunk, aug);
            let logits = if mixed(cfg) {
                let _autocast = amp::CpuAutocast::enter();
                self.net
                    .forward_t(&amp::channels_last(&x), true)
                    .to_kind(Kind::Float)
            } else {
                self.net.forward_t(&x, true)
            };
            let ce = cross_entropy(&logits, &y, cfg.label_smoothing, weights);
            let loss = match (&self.soft, &cfg.distill) {
                (Some(soft), Some(d)) => {
                    let rows: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
                    let target = soft.index_select(0, &Tensor::from_slice(&rows));
                    ce * (1.0 - d.alpha)
                        + distill::kd_loss(&logits, &target, d.temperature) * d.alpha
                }
                _ => ce,
            };
            self.opt.zero_grad();
            loss.backward();
            self.opt.step(lr);
            let l = loss.double_value(&[]);
            loss_sum += l * chunk.len() as f64;
            correct += logits
                .argmax(-1, false)
                .eq_tensor(&y)
                .sum(Kind::Float)
                .double_value(&[]);
            seen += chunk.len();
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "loss {:.4} acc {:.4} {:.0} img/s",
                loss_sum / seen as f64,
                correct / seen as f64,
                seen as f64 / secs
            ));
            bar.inc(1);
        }
        bar.finish_and_clear();
        (
            loss_sum / seen.max(1) as f64,
            correct / seen.max(1) as f64,
            lr,
            start.elapsed().as_secs_f64(),
        )
    }

    fn run(mut self) -> Result<TrainOutcome> {
        let weights = self.class_weights();
        if let Some(w) = &weights {
            let w: Vec<f32> = Vec::<f32>::try_from(w).unwrap_or_default();
            let outputs = self.cfg.data.output_classes()?;
            let parts: Vec<String> = outputs
                .names()
                .iter()
                .zip(&w)
                .map(|(n, w)| format!("{n} {w:.2}"))
                .collect();
            self.log
                .line(&format!("Balanced class weights: {}", parts.join(", ")));
        }
        let (total, trainable, _) = crate::model::param_totals(&self.net.summary(&self.vs));
        self.log.line(&format!(
            "Model {}: {total} parameters ({trainable} trainable); {} train / {} val images; batch {}, seed {}; training in {}",
            self.cfg.architecture.name(),
            self.data.train.len(),
            self.data.val.len(),
            self.cfg.batch_size,
            self.cfg.seed,
            if mixed(&self.cfg) {
                "bfloat16 mixed precision"
            } else {
                "float32"
            }
        ));
        if mixed(&self.cfg) && !crate::config::native_bf16() {
            self.log.line(
                "Warning: this CPU has no native bfloat16 (AVX-512 BF16), so mixed precision is emulated and slow; start new runs with --precision float32 or auto here",
            );
        }
        while self.state.epoch < self.cfg.epochs && self.state.stopped.is_none() {
            let epoch = self.state.epoch + 1;
            let start = Instant::now();
            let (loss, accuracy, lr, train_seconds) = self.train_epoch(epoch, weights.as_ref());
            let (val_loss, val_accuracy) = evaluate(&self.net, &self.data.val, 256);
            let seconds = start.elapsed().as_secs_f64();
            let logs = EpochLogs {
                epoch,
                loss,
                accuracy,
                val_loss,
                val_accuracy,
                lr,
                seconds,
            };
            self.log.line(&format!(
                "Epoch {epoch}/{} - {seconds:.0}s - loss: {loss:.4} - accuracy: {accuracy:.4} - val_loss: {val_loss:.4} - val_accuracy: {val_accuracy:.4} - lr: {lr:.1e} - train {:.1} img/s",
                self.cfg.epochs,
                self.data.train.len() as f64 / train_seconds.max(1e-9),
            ));
            // This epoch's own weights, before a callback may restore others; written before
            // the checkpoint, so a crash in between redoes the epoch and writes it again.
            if self.cfg.snapshots > 0 {
                self.save_snapshot(epoch)?;
            }
            let mut actions = Vec::new();
            for cb in &mut self.callbacks {
                actions.extend(cb.on_epoch_end(&logs)?);
            }
            self.apply(actions)?;
            self.state.history.push(logs);
            self.state.epoch = epoch;
            self.checkpoint()?;
        }
        if let Some(why) = self.state.stopped.clone() {
            self.log.line(&format!("Stopped: {why}"));
        }
        let mut end = Vec::new();
        for cb in &mut self.callbacks {
            end.extend(cb.on_train_end());
        }
        if end.iter().any(|a| matches!(a, Action::LoadWeights(_))) {
            self.log
                .line("Restored the best weights (EarlyStopping restore_best).");
        }
        self.apply(end)?;
        if !self.dir.join(MODEL_FILE).exists() {
            // No checkpoint callback (or no finite metric yet): the final weights are the model.
            self.save_weights(MODEL_FILE)?;
        }
        let best_epoch = match self.state.callbacks.get("model_checkpoint") {
            Some(s) => s
                .get("best_epoch")
                .and_then(|e| e.as_u64())
                .map(|e| e as usize),
            None => self.state.history.last().map(|h| h.epoch),
        };
        if let Some(b) = best_epoch.and_then(|e| self.state.history.iter().find(|h| h.epoch == e)) {
            self.log.line(&format!(
                "Best epoch {}: val_loss {:.4}, val_accuracy {:.4} → {}",
                b.epoch,
                b.val_loss,
                b.val_accuracy,
                self.dir.join(MODEL_FILE).display()
            ));
        }
        Ok(TrainOutcome {
            run_dir: self.dir,
            history: self.state.history,
            best_epoch,
            stopped: self.state.stopped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_matches_hand_values() {
        let logits = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 0.0]).view([1, 4]);
        let y = Tensor::from_slice(&[2i64]);
        let l = cross_entropy(&logits, &y, 0.0, None).double_value(&[]);
        assert!((l - 4f64.ln()).abs() < 1e-6);
        // Smoothing on uniform logits changes nothing.
        let l = cross_entropy(&logits, &y, 0.1, None).double_value(&[]);
        assert!((l - 4f64.ln()).abs() < 1e-6);
        // Confident and right: smoothing adds a penalty.
        let logits = Tensor::from_slice(&[0.0f32, 0.0, 10.0, 0.0]).view([1, 4]);
        let plain = cross_entropy(&logits, &y, 0.0, None).double_value(&[]);
        let smooth = cross_entropy(&logits, &y, 0.1, None).double_value(&[]);
        assert!(plain < 1e-3 && smooth > 0.5, "{plain} {smooth}");
        // Weighted mean: two samples, the second weighted 3×.
        let logits = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]).view([2, 4]);
        let y = Tensor::from_slice(&[0i64, 1]);
        let w = Tensor::from_slice(&[1.0f32, 3.0, 1.0, 1.0]);
        let l = cross_entropy(&logits, &y, 0.0, Some(&w)).double_value(&[]);
        assert!((l - 4f64.ln()).abs() < 1e-6);
    }
}
