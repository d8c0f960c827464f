//! Keras-style training callbacks behind one small trait, one implementation per file.
//!
//! A callback sees each epoch's metrics and answers with [`Action`]s (save or load a weights
//! file, set the learning rate, stop); the trainer carries them out. Callbacks hold no tensors,
//! so each one is tested on scripted metric sequences, and their state is plain JSON saved in the
//! checkpoint for `--resume`.

/// `state` and `restore` of a callback whose resumable state is its `state` field (plain
/// serde), for inside its `impl Callback`.
macro_rules! state_field {
    () => {
        fn state(&self) -> serde_json::Value {
            serde_json::to_value(&self.state).unwrap_or_default()
        }

        fn restore(&mut self, state: &serde_json::Value) -> Result<()> {
            self.state = super::restore_json(self.name(), state)?;
            Ok(())
        }
    };
}

mod csv_logger;
mod early_stopping;
mod model_checkpoint;
mod reduce_lr;

pub use csv_logger::{CsvLogger, METRICS_FILE};
pub use early_stopping::{
    EarlyStopping, EarlyStoppingConfig, BEST_FILE as EARLY_STOPPING_BEST_FILE,
};
pub use model_checkpoint::{ModelCheckpoint, ModelCheckpointConfig, MODEL_FILE};
pub use reduce_lr::{ReduceLrConfig, ReduceLrOnPlateau};

use crate::error::{MlError, Result};
use serde::{Deserialize, Serialize};

/// The metrics of one finished epoch (1-based), as written to `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLogs {
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub lr: f64,
    pub seconds: f64,
}

/// What a callback asks the trainer to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Save the current weights to this file in the run dir (atomically).
    SaveWeights(&'static str),
    /// Replace the current weights with this file's.
    LoadWeights(&'static str),
    /// Use this learning rate from the next epoch on.
    SetLr(f64),
    /// Stop after this epoch; the text says why.
    Stop(String),
}

/// A training callback.
pub trait Callback {
    fn name(&self) -> &'static str;
    /// Called after each epoch with its metrics and the learning rate in use.
    fn on_epoch_end(&mut self, logs: &EpochLogs) -> Result<Vec<Action>>;
    /// Called once when training ends (stopped or out of epochs).
    fn on_train_end(&mut self) -> Vec<Action> {
        Vec::new()
    }
    /// State to save in the checkpoint.
    fn state(&self) -> serde_json::Value;
    /// Restores state saved by [`Callback::state`].
    fn restore(&mut self, state: &serde_json::Value) -> Result<()>;
}

/// A quantity a callback watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    ValLoss,
    ValAccuracy,
    Loss,
    Accuracy,
}

impl Monitor {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "val_loss" => Ok(Monitor::ValLoss),
            "val_accuracy" => Ok(Monitor::ValAccuracy),
            "loss" => Ok(Monitor::Loss),
            "accuracy" => Ok(Monitor::Accuracy),
            _ => Err(MlError::config(
                "monitor",
                format!("unknown metric '{s}' (val_loss, val_accuracy, loss, accuracy)"),
            )),
        }
    }
    pub fn value(self, logs: &EpochLogs) -> f64 {
        match self {
            Monitor::ValLoss => logs.val_loss,
            Monitor::ValAccuracy => logs.val_accuracy,
            Monitor::Loss => logs.loss,
            Monitor::Accuracy => logs.accuracy,
        }
    }
    fn lower_is_better(self) -> bool {
        matches!(self, Monitor::ValLoss | Monitor::Loss)
    }
    /// Whether `current` beats `best` by more than `min_delta`; if so it becomes `best`.
    pub fn record(self, current: f64, best: &mut Option<f64>, min_delta: f64) -> bool {
        let better = self.improved(current, *best, min_delta);
        if better {
            *best = Some(current);
        }
        better
    }

    /// Whether `current` beats `best` by more than `min_delta` (`best = None`: nothing yet).
    pub fn improved(self, current: f64, best: Option<f64>, min_delta: f64) -> bool {
        if !current.is_finite() {
            return false;
        }
        match best {
            None => true,
            Some(b) if self.lower_is_better() => current < b - min_delta,
            Some(b) => current > b + min_delta,
        }
    }
}

fn restore_json<T: for<'de> Deserialize<'de>>(name: &str, state: &serde_json::Value) -> Result<T> {
    serde_json::from_value(state.clone())
        .map_err(|e| MlError::config(format!("checkpoint state of {name}"), e.to_string()))
}

#[cfg(test)]
pub(crate) fn logs(epoch: usize, val_loss: f64) -> EpochLogs {
    EpochLogs {
        epoch,
        loss: 1.0,
        accuracy: 0.5,
        val_loss,
        val_accuracy: 0.5,
        lr: 1e-3,
        seconds: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_respects_direction_and_delta() {
        let cases = [
            (Monitor::ValLoss, 0.9, Some(1.0), 0.0, true),
            (Monitor::ValLoss, 1.0, Some(1.0), 0.0, false),
            (Monitor::ValLoss, 0.95, Some(1.0), 0.1, false),
            (Monitor::ValAccuracy, 0.7, Some(0.6), 0.0, true),
            (Monitor::ValAccuracy, 0.5, Some(0.6), 0.0, false),
            (Monitor::ValLoss, f64::NAN, None, 0.0, false),
            (Monitor::Loss, 3.0, None, 0.0, true),
        ];
        for (m, cur, best, d, want) in cases {
            assert_eq!(m.improved(cur, best, d), want, "{m:?} {cur} {best:?} {d}");
        }
    }
}
