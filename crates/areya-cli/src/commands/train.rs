//! `areya train`: flags → `TrainConfig` (checked once), then the trainer in `areya-ml`.

use anyhow::{bail, Context};
use areya_ml::callbacks::{EarlyStoppingConfig, ModelCheckpointConfig, Monitor, ReduceLrConfig};
use areya_ml::classes::{ClassMap, ClassSpec, DEFAULT_CLASSES};
use areya_ml::config::Precision;
use areya_ml::config::{ClassWeights, Schedule, TrainConfig};
use areya_ml::distill::DistillConfig;
use areya_ml::model::Architecture;
use areya_ml::train::{self, TrainOptions};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WeightsArg {
    None,
    Balanced,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScheduleArg {
    Constant,
    Cosine,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Data root: ROOT/train/<class>/* (and ROOT/val/<class>/* if present), or ROOT/<class>/*.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint (other flags but --epochs
    /// and --quiet come from its config.json).
    #[arg(long, conflicts_with = "data")]
    pub resume: Option<PathBuf>,
    /// Run directory to create (default runs/<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Classes as folder[=name],…; "all" uses every folder.
    #[arg(long, default_value = DEFAULT_CLASSES)]
    pub classes: String,
    /// More train folders (folder[=name],…; "rest" = every folder not in --classes) learnt as
    /// extra outputs that are never predicted: more faces to learn features from (FER-2013's
    /// fear, surprise, disgust). Val and inference use the --classes outputs only.
    #[arg(long, default_value = "")]
    pub auxiliary_classes: String,
    #[arg(long, default_value_t = 48)]
    pub image_size: u32,
    /// Share of train used as val when ROOT/val does not exist.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Use only N train images (stratified) and proportionally fewer val images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Fail on the first unreadable image instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Network: areya-cnn, seed-cnn or vgg16.
    #[arg(long, default_value = "areya-cnn")]
    pub arch: String,
    /// areya-cnn block widths, e.g. 32,64,128,256.
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<i64>>,
    /// areya-cnn convolutions per block.
    #[arg(long)]
    pub convs_per_block: Option<usize>,
    /// areya-cnn dropout after each block / before the head.
    #[arg(long)]
    pub dropout: Option<f64>,
    #[arg(long)]
    pub head_dropout: Option<f64>,
    /// areya-cnn: standardize each image (zero mean, unit deviation) inside the network, so
    /// brightness and contrast do not change the prediction.
    #[arg(long)]
    pub standardize: bool,
    /// Initial weights. vgg16: its conv base (.safetensors, or a PyTorch state dict
    /// .pt/.pth/.bin); areya-cnn: every weight of the same network (a run's model.safetensors),
    /// to fine-tune a trained model.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// vgg16 with --init: train only the dense head.
    #[arg(long)]
    pub freeze_base: bool,
    /// Augmentation: rotation range in degrees (0 = off).
    #[arg(long, default_value_t = 40.0)]
    pub rotation: f32,
    /// Augmentation: shear factor range (0 = off).
    #[arg(long, default_value_t = 0.2)]
    pub shear: f32,
    /// Augmentation: zoom range (0 = off).
    #[arg(long, default_value_t = 0.2)]
    pub zoom: f32,
    /// Augmentation: random horizontal flip.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub hflip: bool,
    /// Augmentation: shift range as a fraction of the image, along x and y (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub shift: f32,
    /// Augmentation: probability of random erasing (one rectangle of 2–33% of the image
    /// filled with noise; 0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub erase: f32,
    /// Augmentation: Gaussian blur of half the images, σ drawn up to this many pixels (a
    /// camera's softer faces; 0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub blur: f32,
    /// Augmentation: tone curve 255·(v/255)^γ on every image, γ drawn log-uniformly from
    /// [1/G, G] (a camera's exposure and gamma, which standardization does not undo; 1 = off).
    #[arg(long, value_name = "G", default_value_t = 1.0)]
    pub gamma: f32,
    /// Augmentation: probability of replacing everything outside a random soft ellipse around
    /// the face by a random flat gray (what lies around a head in a camera's crop: pillow,
    /// sheet, wall; 0 = off).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub surround: f32,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.9)]
    pub beta1: f64,
    #[arg(long, default_value_t = 0.999)]
    pub beta2: f64,
    /// Decoupled (AdamW) weight decay; 0 = plain Adam.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    #[arg(long, value_enum, default_value = "constant")]
    pub schedule: ScheduleArg,
    /// Warm-up epochs of the cosine schedule.
    #[arg(long, default_value_t = 0.0)]
    pub warmup_epochs: f64,
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    #[arg(long, value_enum, default_value = "none")]
    pub class_weights: WeightsArg,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Number format of training: float32, bfloat16 (mixed precision: bfloat16 convolutions,
    /// float32 weights; about twice as fast on CPUs with AVX-512 BF16) or auto (bfloat16 on
    /// such CPUs, float32 elsewhere; the decision is saved in config.json). The trained model's
    /// inference precision is set apart, in config.json.
    #[arg(long, default_value = "auto")]
    pub precision: String,
    /// Keep the weights of the last K epochs trained in RUN/snapshots/ (for `areya average`);
    /// older ones are deleted as the run goes on, so an early-stopped run keeps its last K too.
    #[arg(long, default_value_t = 0)]
    pub snapshots: usize,
    /// Distil from this trained run (repeat for an ensemble of teachers): the student learns
    /// from the teachers' soft targets as well as from the labels.
    #[arg(long = "teacher", value_name = "RUN")]
    pub teachers: Vec<PathBuf>,
    /// With --teacher: weight of the teachers' soft targets (the labels get 1 − alpha).
    #[arg(long, default_value_t = 0.7)]
    pub distill_alpha: f64,
    /// With --teacher: softmax temperature of the distillation term.
    #[arg(long, default_value_t = 2.0)]
    pub distill_temperature: f64,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// CPU threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Metric the callbacks watch.
    #[arg(long, default_value = "val_loss")]
    pub monitor: String,
    /// EarlyStopping patience in epochs.
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    #[arg(long)]
    pub no_early_stopping: bool,
    /// Keep the last weights instead of going back to the best when training ends.
    #[arg(long)]
    pub no_restore_best: bool,
    #[arg(long, default_value_t = 0.1)]
    pub reduce_lr_factor: f64,
    #[arg(long, default_value_t = 3)]
    pub reduce_lr_patience: usize,
    #[arg(long, default_value_t = 1e-7)]
    pub min_lr: f64,
    #[arg(long)]
    pub no_reduce_lr: bool,
    /// Do not keep the best weights as model.safetensors (the final weights are kept instead).
    #[arg(long)]
    pub no_checkpoint: bool,
    #[arg(long)]
    pub no_csv_logger: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let opts = TrainOptions { quiet: a.quiet };
    let outcome = if let Some(dir) = &a.resume {
        let epochs = std::env::args()
            .any(|s| s == "--epochs" || s.starts_with("--epochs="))
            .then_some(a.epochs);
        train::resume(dir, epochs, opts)
            .with_context(|| format!("cannot resume {}", dir.display()))?
    } else {
        let cfg = config_from_args(&a)?;
        let out = a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(utc_stamp()));
        train::train(cfg, &out, opts)?
    };
    if outcome.history.is_empty() {
        bail!("no epoch was trained");
    }
    // The face crop the live pipeline needs, measured on the run's train split (at most as many
    // images as it trained on). Images that are not framed faces leave the run as it is.
    let run = areya_ml::rundir::read_config(&outcome.run_dir)?;
    if let Err(e) = super::fit_crop::measure(
        &outcome.run_dir,
        &run.train.data.root,
        "train",
        FIT_CROP_IMAGES.min(run.train.data.limit.unwrap_or(usize::MAX).max(20)),
        areya_core::FaceDetectorKind::BlazeFace,
    ) {
        println!("No face crop measured ({e:#}); the vision pipeline will use a fixed margin (`areya fit-crop` measures one later).");
    }
    println!("Run directory: {}", outcome.run_dir.display());
    Ok(())
}

/// Training images `areya train` measures the face crop on at the end of a run.
const FIT_CROP_IMAGES: usize = 2000;

/// Builds and checks the training configuration from the flags.
/// The run's settings from the flags; a bad value is named by its flag.
pub fn config_from_args(a: &TrainArgs) -> anyhow::Result<TrainConfig> {
    settings_from_args(a).map_err(super::flags::by_flag)
}

fn settings_from_args(a: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let Some(root) = a.data.clone() else {
        bail!("--data is required")
    };
    let mut c = TrainConfig::new(root.clone())?;
    let train_dir = if root.join("train").is_dir() {
        root.join("train")
    } else {
        root.clone()
    };
    c.data.classes = if a.classes == "all" {
        ClassMap::all_folders(&areya_ml::dataset::list_folders(&train_dir)?)?
    } else {
        ClassMap::parse(&a.classes)?
    };
    c.data.auxiliary = if a.auxiliary_classes == "rest" {
        areya_ml::dataset::list_folders(&train_dir)?
            .into_iter()
            .filter(|f| c.data.classes.index_of_folder(f).is_none())
            .map(|f| ClassSpec {
                folder: f.clone(),
                name: f,
            })
            .collect()
    } else {
        ClassMap::parse_auxiliary(&a.auxiliary_classes)?
    };
    c.data.image_size = a.image_size;
    c.data.val_fraction = a.val_fraction;
    c.data.limit = a.limit;
    c.data.strict = a.strict;
    c.architecture = Architecture::parse(&a.arch)?;
    if let Architecture::AreyaCnn {
        widths,
        convs_per_block,
        dropout,
        head_dropout,
        standardize,
    } = &mut c.architecture
    {
        *standardize = a.standardize;
        if let Some(w) = &a.widths {
            *widths = w.clone();
        }
        if let Some(n) = a.convs_per_block {
            *convs_per_block = n;
        }
        if let Some(d) = a.dropout {
            *dropout = d;
        }
        if let Some(d) = a.head_dropout {
            *head_dropout = d;
        }
    } else if a.widths.is_some()
        || a.convs_per_block.is_some()
        || a.dropout.is_some()
        || a.head_dropout.is_some()
        || a.standardize
    {
        bail!("--widths, --convs-per-block, --dropout, --head-dropout and --standardize apply to --arch areya-cnn only");
    }
    c.init = a.init.clone();
    c.freeze_base = a.freeze_base;
    c.augment.rotation = a.rotation;
    c.augment.shear = a.shear;
    c.augment.zoom = a.zoom;
    c.augment.hflip = a.hflip;
    c.augment.shift = a.shift;
    c.augment.erase = a.erase;
    c.augment.blur = a.blur;
    c.augment.gamma = a.gamma;
    c.augment.surround = a.surround;
    c.optimizer.lr = a.lr;
    c.optimizer.beta1 = a.beta1;
    c.optimizer.beta2 = a.beta2;
    c.optimizer.weight_decay = a.weight_decay;
    c.schedule = match a.schedule {
        ScheduleArg::Constant => Schedule::Constant,
        ScheduleArg::Cosine => Schedule::Cosine {
            warmup_epochs: a.warmup_epochs,
        },
    };
    c.label_smoothing = a.label_smoothing;
    c.class_weights = match a.class_weights {
        WeightsArg::None => ClassWeights::None,
        WeightsArg::Balanced => ClassWeights::Balanced,
    };
    c.batch_size = a.batch_size;
    c.snapshots = a.snapshots;
    c.precision = Precision::parse(&a.precision)?;
    c.distill = (!a.teachers.is_empty()).then(|| DistillConfig {
        teachers: a.teachers.clone(),
        alpha: a.distill_alpha,
        temperature: a.distill_temperature,
        fingerprints: Vec::new(),
    });
    c.epochs = a.epochs;
    c.seed = a.seed;
    c.threads = a.threads;
    let monitor = Monitor::parse(&a.monitor)?;
    c.callbacks.early_stopping = (!a.no_early_stopping).then_some(EarlyStoppingConfig {
        monitor,
        patience: a.patience,
        min_delta: 0.0,
        restore_best: !a.no_restore_best,
    });
    c.callbacks.reduce_lr = (!a.no_reduce_lr).then_some(ReduceLrConfig {
        monitor,
        factor: a.reduce_lr_factor,
        patience: a.reduce_lr_patience,
        min_lr: a.min_lr,
        ..ReduceLrConfig::default()
    });
    c.callbacks.checkpoint = (!a.no_checkpoint).then_some(ModelCheckpointConfig { monitor });
    c.callbacks.csv_logger = !a.no_csv_logger;
    c.validate()?;
    Ok(c)
}

/// `YYYYMMDD-HHMMSS` in UTC, for default run directory names.
fn utc_stamp() -> String {
    let ms = areya_core::time::now_ms();
    // 2026-11-29T21:04:05.123Z → 20261129-210405
    let iso = areya_core::time::iso8601_utc(ms);
    format!(
        "{}-{}",
        iso[..10].replace('-', ""),
        iso[11..19].replace(':', "")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        train: TrainArgs,
    }

    #[test]
    fn auxiliary_rest_is_every_other_train_folder() {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["angry", "happy", "neutral", "sad", "fear", "surprise"] {
            std::fs::create_dir_all(tmp.path().join("train").join(f)).unwrap();
        }
        let data = tmp.path().to_str().unwrap();
        // (--auxiliary-classes, the auxiliary folders it means)
        for (aux, want) in [
            ("", vec![]),
            ("rest", vec!["fear", "surprise"]),
            ("surprise", vec!["surprise"]),
        ] {
            let cli = Cli::parse_from(["areya", "--data", data, "--auxiliary-classes", aux]);
            let c = config_from_args(&cli.train).unwrap();
            let got: Vec<&str> = c.data.auxiliary.iter().map(|s| s.folder.as_str()).collect();
            assert_eq!(got, want, "{aux}");
        }
    }

    #[test]
    fn training_precision_defaults_to_auto() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().to_str().unwrap();
        for (args, want) in [
            (vec![], Precision::Auto),
            (vec!["--precision", "float32"], Precision::Float32),
            (vec!["--precision", "bf16"], Precision::Bfloat16),
        ] {
            let cli = Cli::parse_from([&["areya", "--data", data][..], &args].concat());
            assert_eq!(
                config_from_args(&cli.train).unwrap().precision,
                want,
                "{args:?}"
            );
        }
    }
}
