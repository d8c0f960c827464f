//! Areya's emotion CNN on libtorch (tch): reading FER-layout image folders, augmentation, the
//! models, training with Keras-style callbacks, and the run directory every later command loads.
//!
//! The flow is `classes` → `dataset` (decode once, keep u8 in memory) → `augment` (per-image,
//! seeded) → `model` (named layers) → `train` (Adam, callbacks, atomic checkpoints) → `rundir`
//! (`config.json`, weights, `Classifier::load`).

pub mod amp;
pub mod augment;
pub mod average;
pub mod callbacks;
pub mod classes;
pub mod config;
pub mod dataset;
pub mod distill;
pub mod error;
pub mod evaluate;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod perturb;
pub mod plots;
/// The version-stable random streams (shared with the vision crate's scenes).
pub use areya_core::rng;
pub mod rundir;
pub mod testdata;
pub mod train;

pub use classes::{ClassMap, ClassSpec};
pub use config::{RunConfig, TrainConfig};
pub use error::MlError;
pub use rundir::Classifier;
