//! EarlyStopping: stop when the monitored metric has not improved for `patience` epochs, and
//! (optionally) go back to the best weights seen.

use super::{Action, Callback, EpochLogs, Monitor};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Where the best weights are kept while training, for `restore_best`.
pub const BEST_FILE: &str = "early_stopping_best.safetensors";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStoppingConfig {
    pub monitor: Monitor,
    pub patience: usize,
    pub min_delta: f64,
    pub restore_best: bool,
}

impl Default for EarlyStoppingConfig {
    /// The notebook's: val_loss, patience 4, min_delta 0, restore best weights.
    fn default() -> Self {
        EarlyStoppingConfig {
            monitor: Monitor::ValLoss,
            patience: 4,
            min_delta: 0.0,
            restore_best: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    best: Option<f64>,
    best_epoch: Option<usize>,
    wait: usize,
}

pub struct EarlyStopping {
    cfg: EarlyStoppingConfig,
    state: State,
}

impl EarlyStopping {
    pub fn new(cfg: EarlyStoppingConfig) -> Self {
        EarlyStopping {
            cfg,
            state: State::default(),
        }
    }
}

impl Callback for EarlyStopping {
    fn name(&self) -> &'static str {
        "early_stopping"
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs) -> Result<Vec<Action>> {
        let current = self.cfg.monitor.value(logs);
        let s = &mut self.state;
        if self
            .cfg
            .monitor
            .record(current, &mut s.best, self.cfg.min_delta)
        {
            s.best_epoch = Some(logs.epoch);
            s.wait = 0;
            return Ok(if self.cfg.restore_best {
                vec![Action::SaveWeights(BEST_FILE)]
            } else {
                vec![]
            });
        }
        s.wait += 1;
        if s.wait >= self.cfg.patience {
            let mut why = format!(
                "early stopping: {:?} has not improved for {} epochs",
                self.cfg.monitor, s.wait
            );
            if let (Some(b), Some(e)) = (s.best, s.best_epoch) {
                why.push_str(&format!(" (best {b:.4} at epoch {e})"));
            }
            return Ok(vec![Action::Stop(why)]);
        }
        Ok(vec![])
    }

    fn on_train_end(&mut self) -> Vec<Action> {
        if self.cfg.restore_best && self.state.best_epoch.is_some() {
            vec![Action::LoadWeights(BEST_FILE)]
        } else {
            vec![]
        }
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::logs;

    fn run(cfg: EarlyStoppingConfig, losses: &[f64]) -> (Option<usize>, usize) {
        let mut cb = EarlyStopping::new(cfg);
        let mut saves = 0;
        for (i, &l) in losses.iter().enumerate() {
            let acts = cb.on_epoch_end(&logs(i + 1, l)).unwrap();
            saves += acts
                .iter()
                .filter(|a| matches!(a, Action::SaveWeights(_)))
                .count();
            if acts.iter().any(|a| matches!(a, Action::Stop(_))) {
                return (Some(i + 1), saves);
            }
        }
        (None, saves)
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let cfg = EarlyStoppingConfig::default();
        let cases: [(&[f64], Option<usize>, usize); 5] = [
            (&[1.0, 0.9, 0.8, 0.7, 0.6, 0.5], None, 6),
            (&[1.0, 0.9, 0.95, 0.96, 0.97, 0.98], Some(6), 2),
            // An improvement resets the wait.
            (&[1.0, 1.1, 1.1, 1.1, 0.9, 1.0, 1.0, 1.0, 1.0], Some(9), 2),
            // Equal is not better with min_delta 0.
            (&[1.0, 1.0, 1.0, 1.0, 1.0], Some(5), 1),
            // NaN never counts as an improvement.
            (&[f64::NAN, f64::NAN, f64::NAN, f64::NAN], Some(4), 0),
        ];
        for (losses, stop, saves) in cases {
            assert_eq!(run(cfg, losses), (stop, saves), "{losses:?}");
        }
    }

    #[test]
    fn min_delta_and_restore_best() {
        let cfg = EarlyStoppingConfig {
            min_delta: 0.05,
            patience: 2,
            restore_best: false,
            ..Default::default()
        };
        assert_eq!(run(cfg, &[1.0, 0.97, 0.96, 0.5]), (Some(3), 0));
        let mut cb = EarlyStopping::new(EarlyStoppingConfig::default());
        assert!(
            cb.on_train_end().is_empty(),
            "nothing to restore before any epoch"
        );
        cb.on_epoch_end(&logs(1, 1.0)).unwrap();
        assert_eq!(cb.on_train_end(), vec![Action::LoadWeights(BEST_FILE)]);
    }

    #[test]
    fn state_round_trips() {
        let mut a = EarlyStopping::new(EarlyStoppingConfig::default());
        for (i, l) in [1.0, 0.8, 0.9, 0.9].iter().enumerate() {
            a.on_epoch_end(&logs(i + 1, *l)).unwrap();
        }
        let mut b = EarlyStopping::new(EarlyStoppingConfig::default());
        b.restore(&a.state()).unwrap();
        // Two more epochs without improvement stop both identically.
        for e in [5, 6] {
            assert_eq!(
                a.on_epoch_end(&logs(e, 0.9)).unwrap(),
                b.on_epoch_end(&logs(e, 0.9)).unwrap()
            );
        }
        assert!(b.restore(&serde_json::json!({"wait": "x"})).is_err());
    }
}
