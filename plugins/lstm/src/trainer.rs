//! Batched training and prediction over fixed row chunks (docs/lstm.md, "Model and training" and "Implementation choices").
//!
//! A batch of `B` traffics is cut into chunks of `chunk_rows` rows (a setting, never the thread
//! count). Chunks run forward + BPTT in parallel on the cell's rayon pool; the squared-error
//! sums and gradients are then added up **in chunk order**, so every number is the same for any
//! thread count.
use crate::model::{Arch, Work, backward, forward, sq_error};
use crate::optim::Optimizer;
use crate::seq::Batch;
use rayon::prelude::*;

/// Which steps enter the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LossMask {
    /// Every step, padding included (the original).
    None,
    /// Only steps with a real target packet.
    RealPackets,
}

/// Model parameters + optimiser + reusable chunk workspaces.
pub struct Trainer {
    /// Architecture.
    pub arch: Arch,
    /// Flat parameters.
    pub params: Vec<f32>,
    /// Optimiser state.
    pub opt: Optimizer,
    /// Loss mask.
    pub mask: LossMask,
    works: Vec<Work<f32>>,
    grad: Vec<f32>,
}

fn loss_mask(b: &Batch, m: LossMask) -> Vec<f32> {
    match m {
        LossMask::None => vec![1.0; b.mask.len()],
        LossMask::RealPackets => b.mask.clone(),
    }
}

impl Trainer {
    /// A trainer from parameters and optimiser state.
    pub fn new(arch: Arch, params: Vec<f32>, opt: Optimizer, mask: LossMask) -> Trainer {
        let n = params.len();
        Trainer { arch, params, opt, mask, works: vec![], grad: vec![0.0; n] }
    }

    fn works(&mut self, n: usize) {
        while self.works.len() < n {
            self.works.push(Work::default());
        }
    }

    /// One optimisation step on the chunks of one batch; returns the batch MSE
    /// `Σ m‖ŷ−y‖² / (N·O)` before the update.
    pub fn step(&mut self, chunks: &[Batch]) -> f64 {
        let (sum, n) = self.gradient(chunks);
        self.opt.update(&mut self.params, &self.grad);
        sum / (n * self.arch.output as f64)
    }

    /// Gradient of the batch MSE into `self.grad`; returns `(Σ m‖ŷ−y‖², N)`.
    pub fn gradient(&mut self, chunks: &[Batch]) -> (f64, f64) {
        self.works(chunks.len());
        let masks: Vec<Vec<f32>> = chunks.iter().map(|b| loss_mask(b, self.mask)).collect();
        let n: f64 = masks.iter().map(|m| m.iter().map(|&v| v as f64).sum::<f64>()).sum();
        let scale = if n > 0.0 { (1.0 / (n * self.arch.output as f64)) as f32 } else { 0.0 };
        let (a, p) = (&self.arch, &self.params);
        let sums: Vec<f64> = self.works[..chunks.len()]
            .par_iter_mut()
            .zip(chunks.par_iter().zip(masks.par_iter()))
            .map(|(w, (b, m))| {
                forward(a, p, &b.x, b.rows, b.steps, w);
                let s = sq_error(a, w, &b.y, m);
                backward(a, p, &b.x, &b.y, m, scale, w);
                s
            })
            .collect();
        // fixed-order reduction
        self.grad.copy_from_slice(&self.works[0].grad);
        for w in &self.works[1..chunks.len()] {
            for (g, &v) in self.grad.iter_mut().zip(&w.grad) {
                *g += v;
            }
        }
        (sums.iter().sum(), n)
    }

    /// Forward pass only: predictions per chunk (`T × rows × O`) and `(Σ m‖ŷ−y‖², N)`.
    pub fn predict(&mut self, chunks: &[Batch]) -> (Vec<Vec<f32>>, f64, f64) {
        self.works(chunks.len());
        let (a, p, mk) = (&self.arch, &self.params, self.mask);
        let out: Vec<(Vec<f32>, f64, f64)> = self.works[..chunks.len()]
            .par_iter_mut()
            .zip(chunks.par_iter())
            .map(|(w, b)| {
                forward(a, p, &b.x, b.rows, b.steps, w);
                let m = loss_mask(b, mk);
                let s = sq_error(a, w, &b.y, &m);
                (w.y.clone(), s, m.iter().map(|&v| v as f64).sum())
            })
            .collect();
        let (mut s, mut n) = (0.0, 0.0);
        let mut preds = Vec::with_capacity(out.len());
        for (y, a, b) in out {
            s += a;
            n += b;
            preds.push(y);
        }
        (preds, s, n)
    }
}

/// Squared error of the persistence baseline `ŷ_t = x_t` (= `s_{t−1}`, zero at `t = 0`)
/// under the same mask: `(Σ m‖x−y‖², N)`.
pub fn persistence_error(b: &Batch, mask: LossMask) -> (f64, f64) {
    let m = loss_mask(b, mask);
    let mut s = 0f64;
    for (k, (x, y)) in b.x.chunks(b.dim).zip(b.y.chunks(b.dim)).enumerate() {
        if m[k] != 0.0 {
            s += m[k] as f64 * x.iter().zip(y).map(|(&a, &c)| ((a - c) as f64).powi(2)).sum::<f64>();
        }
    }
    (s, m.iter().map(|&v| v as f64).sum())
}
