//! Optimisers (docs/lstm.md, "Model and training").
//!
//! - RMSprop (Keras 2.2.4): `a ← ρa + (1−ρ)g²`, `p ← p − lr·g / (√a + ε)`; defaults lr 1e-3,
//!   ρ 0.9, ε 1e-7 (the original).
//! - Adam (Kingma & Ba, PyTorch form): `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//!   `p ← p − lr·m̂ / (√v̂ + ε)` with `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
use serde::{Deserialize, Serialize};

/// Optimiser kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptKind {
    /// Adam.
    Adam,
    /// RMSprop (Keras 2 form).
    Rmsprop,
}

/// Optimiser hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptConfig {
    /// Kind.
    pub kind: OptKind,
    /// Learning rate.
    pub lr: f64,
    /// RMSprop decay ρ.
    pub rho: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
}

/// Optimiser state (saved with the model so retraining continues exactly).
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    /// Hyper-parameters.
    pub cfg: OptConfig,
    /// Steps taken.
    pub step: u64,
    /// First moment (Adam) or unused (RMSprop: empty).
    pub m: Vec<f32>,
    /// Second moment (Adam `v`, RMSprop `a`).
    pub v: Vec<f32>,
}

impl Optimizer {
    /// Fresh state for `n` parameters.
    pub fn new(cfg: OptConfig, n: usize) -> Optimizer {
        let m = if cfg.kind == OptKind::Adam { vec![0.0; n] } else { vec![] };
        Optimizer { cfg, step: 0, m, v: vec![0.0; n] }
    }

    /// One update of `p` with gradient `g`.
    pub fn update(&mut self, p: &mut [f32], g: &[f32]) {
        self.step += 1;
        let c = self.cfg;
        let lr = c.lr as f32;
        let eps = c.eps as f32;
        match c.kind {
            OptKind::Rmsprop => {
                let rho = c.rho as f32;
                for ((p, &g), a) in p.iter_mut().zip(g).zip(self.v.iter_mut()) {
                    *a = rho * *a + (1.0 - rho) * g * g;
                    *p -= lr * g / (a.sqrt() + eps);
                }
            }
            OptKind::Adam => {
                let (b1, b2) = (c.beta1 as f32, c.beta2 as f32);
                let bc1 = (1.0 - c.beta1.powi(self.step as i32)) as f32;
                let bc2 = (1.0 - c.beta2.powi(self.step as i32)) as f32;
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(self.m.iter_mut()).zip(self.v.iter_mut()) {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *p -= lr * (*m / bc1) / ((*v / bc2).sqrt() + eps);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hand_computed_first_steps() {
        let cfg = OptConfig { kind: OptKind::Rmsprop, lr: 0.1, rho: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-7 };
        let mut o = Optimizer::new(cfg, 1);
        let mut p = [1.0f32];
        o.update(&mut p, &[2.0]);
        // a = 0.1·4 = 0.4, p = 1 − 0.1·2/(√0.4 + 1e-7)
        assert!((p[0] as f64 - (1.0 - 0.2 / (0.4f64.sqrt() + 1e-7))).abs() < 1e-6);
        let mut o = Optimizer::new(OptConfig { kind: OptKind::Adam, ..cfg }, 1);
        let mut p = [1.0f32];
        o.update(&mut p, &[2.0]);
        // first Adam step moves by lr·g/(|g| + ε) ≈ lr
        assert!((p[0] as f64 - 0.9).abs() < 1e-6);
        o.update(&mut p, &[-1.0]);
        let m = 0.9 * 0.2 - 0.1;
        let v = 0.999 * 0.004 + 0.001 * 1.0;
        let want = 0.9 - 0.1 * (m / (1.0 - 0.81)) / ((v / (1.0 - 0.999f64.powi(2))).sqrt() + 1e-7);
        assert!((p[0] as f64 - want).abs() < 1e-6, "{} vs {want}", p[0]);
    }
}
