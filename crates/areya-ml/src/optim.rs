//! Adam with decoupled weight decay (AdamW; weight decay 0 is plain Adam), written over tch
//! tensors so its state (moments and step count) can be saved beside the weights and a resumed
//! run continues exactly where it stopped — libtorch's optimizer state is not reachable from tch.

use crate::error::{MlError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use tch::{nn, Tensor};

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled (AdamW) weight decay per step, scaled by the learning rate.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            weight_decay: 0.0,
        }
    }
}

impl AdamConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(MlError::config("optimizer.lr", "must be a positive number"));
        }
        for (f, b) in [
            ("optimizer.beta1", self.beta1),
            ("optimizer.beta2", self.beta2),
        ] {
            if !(0.0..1.0).contains(&b) {
                return Err(MlError::config(f, "must be in [0, 1)"));
            }
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(MlError::config("optimizer.weight_decay", "must be ≥ 0"));
        }
        Ok(())
    }
}

/// The optimizer over a var store's trainable variables.
pub struct Adam {
    cfg: AdamConfig,
    step: i64,
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    pub fn new(vs: &nn::VarStore, cfg: AdamConfig) -> Self {
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Adam {
            cfg,
            step: 0,
            params,
            m,
            v,
        }
    }

    pub fn steps(&self) -> i64 {
        self.step
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// One update with learning rate `lr`.
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let AdamConfig {
            beta1: b1,
            beta2: b2,
            eps,
            weight_decay: wd,
            ..
        } = self.cfg;
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2 = 1.0 - b2.powi(self.step as i32);
        tch::no_grad(|| {
            for (((_, p), m), v) in self.params.iter().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let mut p = p.shallow_clone();
                if wd > 0.0 {
                    let _ = p.g_mul_scalar_(1.0 - lr * wd);
                }
                let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
                let _ = v.g_mul_scalar_(b2).g_add_(&(g.square() * (1.0 - b2)));
                let denom = (v.sqrt() / bc2.sqrt()).g_add_scalar_(eps);
                let _ = p.g_sub_(&(&*m / denom * (lr / bc1)));
            }
        });
    }

    /// The optimizer's state as named tensors (`{prefix}step`, `{prefix}m.<var>`, `{prefix}v.<var>`),
    /// saved inside the checkpoint file so weights and optimizer state can never disagree.
    pub fn state_tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, Tensor)> =
            vec![(format!("{prefix}step"), Tensor::from_slice(&[self.step]))];
        for (((name, _), m), v) in self.params.iter().zip(&self.m).zip(&self.v) {
            named.push((format!("{prefix}m.{name}"), m.shallow_clone()));
            named.push((format!("{prefix}v.{name}"), v.shallow_clone()));
        }
        named
    }

    /// Restores state written by [`Adam::state_tensors`]; `file` names the source in errors.
    pub fn load_state(
        &mut self,
        loaded: &HashMap<String, Tensor>,
        prefix: &str,
        file: &Path,
    ) -> Result<()> {
        let bad = |msg: String| MlError::run_dir(file, msg);
        let step = loaded
            .get(&format!("{prefix}step"))
            .ok_or_else(|| bad("no optimizer step in checkpoint".into()))?;
        self.step = step.int64_value(&[0]);
        for (((name, p), m), v) in self.params.iter().zip(&mut self.m).zip(&mut self.v) {
            for (which, dst) in [("m", m), ("v", v)] {
                let key = format!("{prefix}{which}.{name}");
                let src = loaded
                    .get(&key)
                    .ok_or_else(|| bad(format!("no '{key}' in checkpoint")))?;
                if src.size() != p.size() {
                    return Err(bad(format!(
                        "'{key}' has shape {:?}, the model needs {:?}",
                        src.size(),
                        p.size()
                    )));
                }
                tch::no_grad(|| dst.copy_(src));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_a_quadratic_and_round_trips_state() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let x = vs.root().var("x", &[3], nn::Init::Const(5.0));
        let mut opt = Adam::new(
            &vs,
            AdamConfig {
                lr: 0.1,
                ..Default::default()
            },
        );
        for _ in 0..300 {
            opt.zero_grad();
            let loss = (&x - 1.0).square().sum(tch::Kind::Float);
            loss.backward();
            opt.step(0.1);
        }
        assert!(
            (x.double_value(&[0]) - 1.0).abs() < 0.05,
            "{}",
            x.double_value(&[0])
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opt.safetensors");
        Tensor::write_safetensors(&opt.state_tensors("optimizer."), &path).unwrap();
        let loaded: HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .unwrap()
            .into_iter()
            .collect();
        let mut other = Adam::new(&vs, AdamConfig::default());
        other.load_state(&loaded, "optimizer.", &path).unwrap();
        assert!(other.load_state(&loaded, "nope.", &path).is_err());
        assert_eq!(other.steps(), 300);
        assert!(other.m[0].equal(&opt.m[0]) && other.v[0].equal(&opt.v[0]));
    }

    #[test]
    fn first_step_moves_each_weight_by_lr() {
        // Adam's first bias-corrected step is lr · sign(g).
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let x = vs.root().var("x", &[2], nn::Init::Const(0.0));
        let mut opt = Adam::new(&vs, AdamConfig::default());
        (&x * Tensor::from_slice(&[3.0f32, -0.5]))
            .sum(tch::Kind::Float)
            .backward();
        opt.step(0.01);
        assert!((x.double_value(&[0]) + 0.01).abs() < 1e-5);
        assert!((x.double_value(&[1]) - 0.01).abs() < 1e-5);
    }
}
