//! Saved models: a small binary with a JSON header.
//!
//! ```text
//! b"FLOWLAB-LSTM\n"  (13 bytes)
//! u64 little-endian: header length n
//! n bytes: JSON header (architecture, sequence settings, normalisation parameters, optimiser
//!          hyper-parameters and step, epochs done, loss mask, split, lengths below)
//! f32 LE × params, then the optimiser's m (Adam only) and v
//! ```
//! The original saved a Keras `.h5` (weights + optimiser state); this keeps the same
//! information, so `init_from` continues training exactly where the saved run stopped.
use crate::model::Arch;
use crate::norm::Norm;
use crate::optim::{OptConfig, Optimizer};
use crate::seq::Truncate;
use crate::trainer::LossMask;
use flowlab_abi::PluginError;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 13] = b"FLOWLAB-LSTM\n";

/// Everything except the big arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Format version.
    pub format: u32,
    /// Network shape.
    pub arch: Arch,
    /// Sequence length.
    pub seq_len: usize,
    /// Truncation rule.
    pub truncate: Truncate,
    /// Whether padding was normalised.
    pub normalize_padding: bool,
    /// Normalisation with its parameters.
    pub norm: Norm,
    /// Loss mask used in training.
    pub loss_mask: LossMask,
    /// Optimiser hyper-parameters.
    pub opt: OptConfig,
    /// Optimiser steps taken.
    pub opt_step: u64,
    /// Epochs trained so far.
    pub epochs: u64,
    /// Traffic count of the training file.
    pub traffics: usize,
    /// SHA-256 of the training file as the host gave it (may be empty).
    pub dataset_sha256: String,
    /// Train indices of the split.
    pub train: Vec<usize>,
    /// Test indices of the split.
    pub test: Vec<usize>,
    /// Lengths of the arrays that follow.
    pub n_params: usize,
    /// Length of Adam's m (0 for RMSprop).
    pub n_m: usize,
    /// Length of v.
    pub n_v: usize,
}

/// A saved model.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// Header.
    pub header: Header,
    /// Parameters.
    pub params: Vec<f32>,
    /// Optimiser state.
    pub opt: Optimizer,
}

fn push_f32(out: &mut Vec<u8>, v: &[f32]) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// Writes a model file.
pub fn save(path: &Path, s: &Saved) -> Result<(), PluginError> {
    let mut h = s.header.clone();
    h.n_params = s.params.len();
    h.n_m = s.opt.m.len();
    h.n_v = s.opt.v.len();
    h.opt = s.opt.cfg;
    h.opt_step = s.opt.step;
    let json = serde_json::to_vec(&h).map_err(|e| PluginError::run(format!("model header: {e}")))?;
    let mut out = Vec::with_capacity(32 + json.len() + 4 * (h.n_params + h.n_m + h.n_v));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    push_f32(&mut out, &s.params);
    push_f32(&mut out, &s.opt.m);
    push_f32(&mut out, &s.opt.v);
    std::fs::write(path, out).map_err(|e| PluginError::run(format!("{}: cannot write model: {e}", path.display())))
}

/// Reads a model file written by [`save`].
pub fn load(path: &Path) -> Result<Saved, PluginError> {
    let bad = |m: &str| PluginError::data(format!("{}: not a flowlab LSTM model file: {m}", path.display()));
    let b = std::fs::read(path).map_err(|e| PluginError::data(format!("{}: cannot read model: {e}", path.display())))?;
    if b.len() < 21 || &b[..13] != MAGIC {
        return Err(bad("wrong magic bytes"));
    }
    let n = u64::from_le_bytes(b[13..21].try_into().map_err(|_| bad("short header"))?) as usize;
    // sizes in the file are checked against its length before anything is allocated
    let json = 21usize.checked_add(n).and_then(|e| b.get(21..e)).ok_or_else(|| bad("truncated header"))?;
    let h: Header = serde_json::from_slice(json).map_err(|e| bad(&format!("header: {e}")))?;
    let mut off = 21 + n;
    let mut take = |k: usize| -> Result<Vec<f32>, PluginError> {
        let end = k.checked_mul(4).and_then(|l| off.checked_add(l)).ok_or_else(|| bad("truncated arrays"))?;
        let s = b.get(off..end).ok_or_else(|| bad("truncated arrays"))?;
        off = end;
        Ok(s.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    };
    let params = take(h.n_params)?;
    let m = take(h.n_m)?;
    let v = take(h.n_v)?;
    if params.len() != h.arch.layout().len {
        return Err(bad(&format!("{} parameters for an architecture of {}", params.len(), h.arch.layout().len)));
    }
    let opt = Optimizer { cfg: h.opt, step: h.opt_step, m, v };
    Ok(Saved { header: h, params, opt })
}
