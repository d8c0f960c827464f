//! ReduceLROnPlateau: multiply the learning rate by `factor` when the monitored metric has not
//! improved for `patience` epochs (Keras semantics: min_delta, cooldown, min_lr).

use super::{Action, Callback, EpochLogs, Monitor};
use crate::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReduceLrConfig {
    pub monitor: Monitor,
    pub factor: f64,
    pub patience: usize,
    pub min_delta: f64,
    pub cooldown: usize,
    pub min_lr: f64,
}

impl Default for ReduceLrConfig {
    /// The notebook's: val_loss, ×0.1 after 3 epochs without improvement (Keras' min_delta 1e-4).
    fn default() -> Self {
        ReduceLrConfig {
            monitor: Monitor::ValLoss,
            factor: 0.1,
            patience: 3,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 1e-7,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    best: Option<f64>,
    wait: usize,
    cooldown_left: usize,
}

pub struct ReduceLrOnPlateau {
    cfg: ReduceLrConfig,
    state: State,
}

impl ReduceLrOnPlateau {
    pub fn new(cfg: ReduceLrConfig) -> Self {
        ReduceLrOnPlateau {
            cfg,
            state: State::default(),
        }
    }
}

impl Callback for ReduceLrOnPlateau {
    fn name(&self) -> &'static str {
        "reduce_lr_on_plateau"
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs) -> Result<Vec<Action>> {
        let current = self.cfg.monitor.value(logs);
        let s = &mut self.state;
        if s.cooldown_left > 0 {
            s.cooldown_left -= 1;
            s.wait = 0;
        }
        if self
            .cfg
            .monitor
            .record(current, &mut s.best, self.cfg.min_delta)
        {
            s.wait = 0;
            return Ok(vec![]);
        }
        if s.cooldown_left > 0 {
            return Ok(vec![]);
        }
        s.wait += 1;
        if s.wait >= self.cfg.patience && logs.lr > self.cfg.min_lr {
            s.wait = 0;
            s.cooldown_left = self.cfg.cooldown;
            return Ok(vec![Action::SetLr(
                (logs.lr * self.cfg.factor).max(self.cfg.min_lr),
            )]);
        }
        Ok(vec![])
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::logs;

    /// Runs a val_loss sequence, feeding back the learning rate; returns the lr after each epoch.
    fn run(cfg: ReduceLrConfig, losses: &[f64]) -> Vec<f64> {
        let mut cb = ReduceLrOnPlateau::new(cfg);
        let mut lr = 1e-3;
        let mut out = Vec::new();
        for (i, &v) in losses.iter().enumerate() {
            let mut l = logs(i + 1, v);
            l.lr = lr;
            for a in cb.on_epoch_end(&l).unwrap() {
                if let Action::SetLr(x) = a {
                    lr = x;
                }
            }
            out.push(lr);
        }
        out
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn reduces_after_patience_and_again_later() {
        let d = ReduceLrConfig::default();
        let cases: [(ReduceLrConfig, &[f64], &[f64]); 4] = [
            (d, &[1.0, 0.9, 0.8], &[1e-3, 1e-3, 1e-3]),
            (d, &[1.0, 1.0, 1.0, 1.0], &[1e-3, 1e-3, 1e-3, 1e-4]),
            (
                d,
                &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                &[1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4, 1e-5],
            ),
            // An improvement smaller than min_delta does not count.
            (
                d,
                &[1.0, 0.99995, 0.99992, 0.99991],
                &[1e-3, 1e-3, 1e-3, 1e-4],
            ),
        ];
        for (cfg, losses, want) in cases {
            let got = run(cfg, losses);
            assert!(close(&got, want), "{losses:?}: {got:?}");
        }
    }

    #[test]
    fn respects_min_lr_and_cooldown() {
        let cfg = ReduceLrConfig {
            patience: 1,
            min_lr: 5e-4,
            ..Default::default()
        };
        assert!(close(
            &run(cfg, &[1.0, 1.0, 1.0, 1.0]),
            &[1e-3, 5e-4, 5e-4, 5e-4]
        ));
        let cfg = ReduceLrConfig {
            patience: 1,
            cooldown: 2,
            min_lr: 0.0,
            ..Default::default()
        };
        // Keras semantics: the cooldown epoch after a cut is skipped, then counting resumes.
        assert!(close(
            &run(cfg, &[1.0, 1.0, 1.0, 1.0, 1.0]),
            &[1e-3, 1e-4, 1e-4, 1e-5, 1e-5]
        ));
    }
}
