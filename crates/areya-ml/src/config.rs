//! Every hyper-parameter of a run, as serde types: `TrainConfig` is what `areya train` was asked
//! to do; `RunConfig` is what is saved as the run dir's `config.json` and reloaded by inference.

use crate::augment::Augment;
use crate::callbacks::{EarlyStoppingConfig, ModelCheckpointConfig, ReduceLrConfig};
use crate::classes::{ClassMap, ClassSpec};
use crate::distill::DistillConfig;
use crate::error::{MlError, Result};
use crate::model::Architecture;
use crate::optim::AdamConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the images come from and how they are prepared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataConfig {
    /// `ROOT` holding `train/` (and `val/`).
    pub root: PathBuf,
    pub classes: ClassMap,
    pub image_size: u32,
    /// Used only when `ROOT/val` does not exist: this share of each train class becomes val.
    pub val_fraction: f64,
    /// Use this many train images (stratified), and proportionally fewer val images.
    pub limit: Option<usize>,
    /// Fail on the first unreadable file instead of skipping it.
    pub strict: bool,
    /// More train folders, learnt as outputs of their own after `classes` but never predicted:
    /// inference and every val metric use the `classes` outputs only (a softmax over them).
    /// More faces to learn features from; the network must also tell these expressions apart
    /// from Areya's (FER-2013's fear from sad, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auxiliary: Vec<ClassSpec>,
}

impl DataConfig {
    /// What the network outputs: `classes`, then the auxiliary classes.
    pub fn output_classes(&self) -> Result<ClassMap> {
        self.classes.with_auxiliary(&self.auxiliary)
    }
}

/// Per-class loss weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeights {
    None,
    /// n_samples / (n_classes · n_class), as scikit-learn's "balanced".
    Balanced,
}

/// Learning-rate schedule within the run (ReduceLROnPlateau multiplies on top of it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// Linear warm-up for `warmup_epochs`, then cosine decay to 0 at the last epoch.
    Cosine {
        warmup_epochs: f64,
    },
}

impl Schedule {
    /// The factor applied to the base learning rate at `progress` epochs (fractional) of `epochs`.
    pub fn factor(&self, progress: f64, epochs: usize) -> f64 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::Cosine { warmup_epochs } => {
                if progress < warmup_epochs {
                    return (progress / warmup_epochs).max(1e-3);
                }
                let span = (epochs as f64 - warmup_epochs).max(1e-9);
                let t = ((progress - warmup_epochs) / span).clamp(0.0, 1.0);
                0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// The callbacks in use (`None` = switched off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbacksConfig {
    pub early_stopping: Option<EarlyStoppingConfig>,
    pub reduce_lr: Option<ReduceLrConfig>,
    pub checkpoint: Option<ModelCheckpointConfig>,
    pub csv_logger: bool,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            early_stopping: Some(EarlyStoppingConfig::default()),
            reduce_lr: Some(ReduceLrConfig::default()),
            checkpoint: Some(ModelCheckpointConfig::default()),
            csv_logger: true,
        }
    }
}

/// Everything `areya train` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub data: DataConfig,
    pub augment: Augment,
    pub architecture: Architecture,
    /// Initial weights: the conv base (vgg16), or every weight of the same network (any other
    /// architecture: fine-tuning from a run's `model.safetensors`).
    pub init: Option<PathBuf>,
    pub freeze_base: bool,
    pub optimizer: AdamConfig,
    pub schedule: Schedule,
    pub label_smoothing: f64,
    pub class_weights: ClassWeights,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    /// CPU threads for libtorch and decoding/augmentation (0 = all cores).
    pub threads: usize,
    pub callbacks: CallbacksConfig,
    /// Keep the weights of the last `snapshots` epochs in `RUN/snapshots/` (for snapshot
    /// averaging with `areya average`); 0 keeps none.
    #[serde(default)]
    pub snapshots: usize,
    /// Learn from the soft targets of trained runs as well as from the labels.
    #[serde(default)]
    pub distill: Option<DistillConfig>,
    /// The number format training computes in: float32, or bfloat16 mixed precision (CPU
    /// autocast with channels-last weights, see `amp.rs`; weights and optimizer stay float32).
    /// `Auto` is decided when the run starts and the outcome saved; runs from before this
    /// setting have none and trained in float32.
    #[serde(default = "float32")]
    pub precision: Precision,
}

fn float32() -> Precision {
    Precision::Float32
}

impl TrainConfig {
    /// The notebook's defaults on `root` with Areya's four classes.
    pub fn new(root: PathBuf) -> Result<Self> {
        Ok(TrainConfig {
            data: DataConfig {
                root,
                classes: ClassMap::parse(crate::classes::DEFAULT_CLASSES)?,
                image_size: 48,
                val_fraction: 0.1,
                limit: None,
                strict: false,
                auxiliary: Vec::new(),
            },
            augment: Augment::NOTEBOOK,
            architecture: Architecture::areya_cnn_default(),
            init: None,
            freeze_base: false,
            optimizer: AdamConfig::default(),
            schedule: Schedule::Constant,
            label_smoothing: 0.0,
            class_weights: ClassWeights::None,
            batch_size: 64,
            epochs: 30,
            seed: 42,
            threads: 0,
            callbacks: CallbacksConfig::default(),
            snapshots: 0,
            distill: None,
            precision: Precision::Float32,
        })
    }

    /// Checks every value once, at the edge.
    pub fn validate(&self) -> Result<()> {
        let d = &self.data;
        if !(8..=512).contains(&d.image_size) {
            return Err(MlError::config(
                "data.image_size",
                "must be between 8 and 512",
            ));
        }
        if !(d.val_fraction > 0.0 && d.val_fraction < 1.0) {
            return Err(MlError::config("data.val_fraction", "must be in (0, 1)"));
        }
        if d.limit == Some(0) {
            return Err(MlError::config("data.limit", "must be ≥ 1"));
        }
        let a = &self.augment;
        if !(0.0..=180.0).contains(&a.rotation) {
            return Err(MlError::config(
                "augment.rotation",
                "must be in [0, 180] degrees",
            ));
        }
        if !(0.0..=1.0).contains(&a.shear) {
            return Err(MlError::config("augment.shear", "must be in [0, 1]"));
        }
        if !(0.0..0.9).contains(&a.zoom) {
            return Err(MlError::config("augment.zoom", "must be in [0, 0.9)"));
        }
        if !(0.0..=0.5).contains(&a.shift) {
            return Err(MlError::config(
                "augment.shift",
                "must be in [0, 0.5] (a fraction of the image)",
            ));
        }
        if !(0.0..=1.0).contains(&a.erase) {
            return Err(MlError::config(
                "augment.erase",
                "must be a probability in [0, 1]",
            ));
        }
        if !(0.0..=3.0).contains(&a.blur) {
            return Err(MlError::config(
                "augment.blur",
                "must be in [0, 3] pixels (the largest Gaussian σ)",
            ));
        }
        if !(1.0..=4.0).contains(&a.gamma) {
            return Err(MlError::config(
                "augment.gamma",
                "must be in [1, 4] (the largest tone-curve exponent; 1 = off)",
            ));
        }
        if !(0.0..=1.0).contains(&a.surround) {
            return Err(MlError::config(
                "augment.surround",
                "must be a probability in [0, 1]",
            ));
        }
        self.architecture.validate(d.image_size)?;
        if self.freeze_base && self.architecture != Architecture::Vgg16 {
            return Err(MlError::config(
                "freeze_base",
                "only vgg16 has a pretrained base to freeze",
            ));
        }
        if self.freeze_base && self.init.is_none() {
            return Err(MlError::config(
                "freeze_base",
                "needs init (freezing random weights is pointless)",
            ));
        }
        self.optimizer.validate()?;
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(MlError::config("label_smoothing", "must be in [0, 1)"));
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return Err(MlError::config("batch_size", "must be between 1 and 65536"));
        }
        if self.epochs == 0 {
            return Err(MlError::config("epochs", "must be ≥ 1"));
        }
        if let Schedule::Cosine { warmup_epochs } = self.schedule {
            if !(warmup_epochs >= 0.0 && warmup_epochs < self.epochs as f64) {
                return Err(MlError::config(
                    "schedule.warmup_epochs",
                    "must be ≥ 0 and less than epochs",
                ));
            }
        }
        d.output_classes()?;
        if let Some(dc) = &self.distill {
            dc.validate()?;
            if !d.auxiliary.is_empty() {
                return Err(MlError::config(
                    "data.auxiliary",
                    "cannot be combined with distill (the teachers have no auxiliary outputs)",
                ));
            }
        }
        if let Some(r) = &self.callbacks.reduce_lr {
            if !(r.factor > 0.0 && r.factor < 1.0) {
                return Err(MlError::config(
                    "callbacks.reduce_lr.factor",
                    "must be in (0, 1)",
                ));
            }
        }
        Ok(())
    }
}

impl RunConfig {
    /// The network's outputs: the classes it predicts, then any auxiliary ones it was trained
    /// with (see [`DataConfig::auxiliary`]).
    pub fn outputs(&self) -> usize {
        self.classes.len() + self.train.data.auxiliary.len()
    }
}

/// How inference must prepare a face: saved so that `Classifier::load` reproduces training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    pub image_size: u32,
    /// Always true: images are converted to one luma channel.
    pub grayscale: bool,
    /// Pixel values are divided by this (255 → [0, 1]).
    pub scale: f64,
    /// How the training images frame a face relative to the face detector's box, measured by
    /// `areya fit-crop`; the vision pipeline crops live faces this way. Absent: a fixed margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_crop: Option<areya_core::FaceCrop>,
    /// The detector `face_crop` was measured against; absent in run directories measured before
    /// there was a choice, which used SeetaFace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_crop_detector: Option<areya_core::FaceDetectorKind>,
}

impl Preprocessing {
    /// The measured crop for faces found by `detector`, if one was measured against it.
    pub fn face_crop_for(
        &self,
        detector: areya_core::FaceDetectorKind,
    ) -> Option<areya_core::FaceCrop> {
        areya_core::face_crop_for(self.face_crop, self.face_crop_detector, detector)
    }
}

/// Facts about the data a run was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub train_images: usize,
    pub val_images: usize,
    pub train_per_class: Vec<usize>,
    pub val_per_class: Vec<usize>,
    /// Where val came from: "ROOT/val" or "stratified N% of train".
    pub val_source: String,
    pub train_fingerprint: String,
    pub val_fingerprint: String,
}

/// The run dir's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub format: u32,
    pub areya_version: String,
    /// Class index → (source folder, name).
    pub classes: ClassMap,
    pub preprocessing: Preprocessing,
    pub architecture: Architecture,
    pub train: TrainConfig,
    pub data: DataSummary,
    /// Softmax temperature fitted by `areya calibrate` (1 = uncalibrated).
    #[serde(default = "one")]
    pub temperature: f64,
    /// Number format inference computes in.
    #[serde(default)]
    pub precision: Precision,
}

/// A number format: of inference (`RunConfig::precision`) or of training
/// (`TrainConfig::precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// bfloat16 where the CPU computes it natively (AVX-512 BF16), float32 elsewhere.
    #[default]
    Auto,
    Float32,
    /// Weights and activations in bfloat16: about half the time of float32 on CPUs with
    /// AVX-512 BF16, much slower on CPUs without it.
    Bfloat16,
}

impl Precision {
    /// Parses a `--precision` value.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Precision::Auto),
            "float32" | "f32" => Ok(Precision::Float32),
            "bfloat16" | "bf16" => Ok(Precision::Bfloat16),
            other => Err(MlError::config(
                "precision",
                format!("unknown precision '{other}' (auto, float32, bfloat16)"),
            )),
        }
    }

    /// `Auto` decided for this machine (the others stay as they are).
    pub fn resolve(self) -> Precision {
        match self {
            Precision::Auto if native_bf16() => Precision::Bfloat16,
            Precision::Auto => Precision::Float32,
            p => p,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Auto => "auto",
            Precision::Float32 => "float32",
            Precision::Bfloat16 => "bfloat16",
        }
    }
}

/// Whether this CPU computes bfloat16 natively.
pub fn native_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn one() -> f64 {
    1.0
}

/// The run-directory format `areya train` writes. 2 (since input standardization): the network
/// may standardize its input (`architecture.standardize`), which a reader of format 1 would
/// silently leave out — so such a reader refuses format 2 instead of mispredicting.
pub const RUN_FORMAT: u32 = 2;

/// The formats this areya reads: 1 (runs from before input standardization) and 2.
pub const RUN_FORMATS_READ: std::ops::RangeInclusive<u32> = 1..=RUN_FORMAT;

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a config, named by the flag it stands for.
    type Mutation = Box<dyn Fn(&mut TrainConfig)>;

    #[test]
    fn defaults_validate_and_bad_values_name_their_setting() {
        let ok = TrainConfig::new("/data".into()).unwrap();
        ok.validate().unwrap();
        let cases: Vec<(&str, Mutation)> = vec![
            ("data.image_size", Box::new(|c| c.data.image_size = 4)),
            ("data.val_fraction", Box::new(|c| c.data.val_fraction = 1.0)),
            ("data.limit", Box::new(|c| c.data.limit = Some(0))),
            ("augment.rotation", Box::new(|c| c.augment.rotation = 400.0)),
            ("augment.zoom", Box::new(|c| c.augment.zoom = 1.5)),
            ("augment.shift", Box::new(|c| c.augment.shift = 0.6)),
            ("augment.shift", Box::new(|c| c.augment.shift = f32::NAN)),
            ("augment.erase", Box::new(|c| c.augment.erase = -0.1)),
            ("augment.erase", Box::new(|c| c.augment.erase = 1.5)),
            ("augment.blur", Box::new(|c| c.augment.blur = -1.0)),
            ("augment.blur", Box::new(|c| c.augment.blur = 4.0)),
            ("augment.gamma", Box::new(|c| c.augment.gamma = 0.5)),
            ("augment.gamma", Box::new(|c| c.augment.gamma = f32::NAN)),
            ("augment.surround", Box::new(|c| c.augment.surround = 1.5)),
            ("optimizer.lr", Box::new(|c| c.optimizer.lr = -1.0)),
            ("batch_size", Box::new(|c| c.batch_size = 0)),
            ("epochs", Box::new(|c| c.epochs = 0)),
            ("label_smoothing", Box::new(|c| c.label_smoothing = 1.0)),
            (
                "freeze_base",
                Box::new(|c| {
                    c.init = Some("w.safetensors".into());
                    c.freeze_base = true;
                }),
            ),
            ("freeze_base", Box::new(|c| c.freeze_base = true)),
            (
                "data.auxiliary",
                Box::new(|c| {
                    c.data.auxiliary = ClassMap::parse_auxiliary("neutral=calm").unwrap();
                }),
            ),
            (
                "data.auxiliary",
                Box::new(|c| {
                    c.data.auxiliary = ClassMap::parse_auxiliary("fear").unwrap();
                    c.distill = Some(crate::distill::DistillConfig {
                        teachers: vec!["t".into()],
                        alpha: 0.5,
                        temperature: 2.0,
                        fingerprints: Vec::new(),
                    });
                }),
            ),
            (
                "schedule.warmup_epochs",
                Box::new(|c| {
                    c.schedule = Schedule::Cosine {
                        warmup_epochs: 99.0,
                    }
                }),
            ),
        ];
        for (flag, mutate) in cases {
            let mut c = ok.clone();
            mutate(&mut c);
            let err = c.validate().expect_err(flag).to_string();
            assert!(err.starts_with(flag), "{flag}: {err}");
        }
    }

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_zero() {
        let s = Schedule::Cosine { warmup_epochs: 1.0 };
        assert!((s.factor(0.5, 11) - 0.5).abs() < 1e-12);
        assert!((s.factor(1.0, 11) - 1.0).abs() < 1e-12);
        assert!((s.factor(6.0, 11) - 0.5).abs() < 1e-12);
        assert!(s.factor(11.0, 11).abs() < 1e-12);
        assert_eq!(Schedule::Constant.factor(3.0, 5), 1.0);
    }

    #[test]
    fn precision_parses_resolves_and_defaults_to_auto() {
        for (s, p) in [
            ("auto", Precision::Auto),
            ("f32", Precision::Float32),
            ("float32", Precision::Float32),
            ("bf16", Precision::Bfloat16),
            ("bfloat16", Precision::Bfloat16),
        ] {
            assert_eq!(Precision::parse(s).unwrap(), p, "{s}");
        }
        let err = Precision::parse("fp8").unwrap_err().to_string();
        assert!(err.starts_with("precision"), "{err}");
        assert_ne!(Precision::Auto.resolve(), Precision::Auto);
        assert_eq!(Precision::Float32.resolve(), Precision::Float32);
        assert_eq!(Precision::Bfloat16.resolve(), Precision::Bfloat16);
        let want = if native_bf16() {
            Precision::Bfloat16
        } else {
            Precision::Float32
        };
        assert_eq!(Precision::Auto.resolve(), want);
        // Run dirs written before the field existed read as auto.
        assert_eq!(Precision::default(), Precision::Auto);
        assert_eq!(
            serde_json::from_str::<Precision>("\"bfloat16\"").unwrap(),
            Precision::Bfloat16
        );
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = TrainConfig::new("/data".into()).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), c);
        assert!(json.contains("neutral") && json.contains("relaxed"));
        // config.json files from before `precision` existed trained in float32.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old.as_object_mut().unwrap().remove("precision").unwrap();
        let mut bf16 = c.clone();
        bf16.precision = Precision::Bfloat16;
        let back: TrainConfig = serde_json::from_value(old).unwrap();
        assert_eq!(back.precision, Precision::Float32);
        let json = serde_json::to_string(&bf16).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), bf16);
    }
}
