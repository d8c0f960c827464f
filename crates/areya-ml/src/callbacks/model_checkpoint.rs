//! ModelCheckpoint: keep the best weights so far (by the monitored metric) as `model.safetensors`.

use super::{Action, Callback, EpochLogs, Monitor};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// The run dir's best-model file, loaded by every inference command.
pub const MODEL_FILE: &str = "model.safetensors";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelCheckpointConfig {
    pub monitor: Monitor,
}

impl Default for ModelCheckpointConfig {
    fn default() -> Self {
        ModelCheckpointConfig {
            monitor: Monitor::ValLoss,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    best: Option<f64>,
    best_epoch: Option<usize>,
}

pub struct ModelCheckpoint {
    cfg: ModelCheckpointConfig,
    state: State,
}

impl ModelCheckpoint {
    pub fn new(cfg: ModelCheckpointConfig) -> Self {
        ModelCheckpoint {
            cfg,
            state: State::default(),
        }
    }
    /// The epoch whose weights are in `model.safetensors`.
    pub fn best_epoch(&self) -> Option<usize> {
        self.state.best_epoch
    }
}

impl Callback for ModelCheckpoint {
    fn name(&self) -> &'static str {
        "model_checkpoint"
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs) -> Result<Vec<Action>> {
        let current = self.cfg.monitor.value(logs);
        if self.cfg.monitor.record(current, &mut self.state.best, 0.0) {
            self.state.best_epoch = Some(logs.epoch);
            return Ok(vec![Action::SaveWeights(MODEL_FILE)]);
        }
        Ok(vec![])
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::logs;

    #[test]
    fn saves_only_on_improvement() {
        let cases: [(Monitor, &[f64], &[usize]); 3] = [
            (Monitor::ValLoss, &[1.0, 0.9, 0.95, 0.8, 0.8], &[1, 2, 4]),
            (Monitor::ValLoss, &[f64::NAN, 2.0, 3.0], &[2]),
            (Monitor::ValAccuracy, &[0.5, 0.4, 0.6], &[1, 3]),
        ];
        for (monitor, values, want) in cases {
            let mut cb = ModelCheckpoint::new(ModelCheckpointConfig { monitor });
            let mut saved = Vec::new();
            for (i, &v) in values.iter().enumerate() {
                let mut l = logs(i + 1, v);
                l.val_accuracy = v;
                if cb.on_epoch_end(&l).unwrap() == vec![Action::SaveWeights(MODEL_FILE)] {
                    saved.push(i + 1);
                }
            }
            assert_eq!(saved, want, "{monitor:?} {values:?}");
            assert_eq!(cb.best_epoch(), want.last().copied());
        }
    }
}
