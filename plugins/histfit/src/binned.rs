//! A histogram column prepared for fitting and scoring, and the deterministic chunked
//! reductions every pass over the bins uses.
//!
//! Rows are processed in fixed chunks of [`CHUNK`] rows; each chunk's partial sums are added
//! in chunk order, so results are bit-identical for any number of threads (design notes §3).
use crate::hist::{Hist, YCol};
use flowlab_abi::PluginError;
use rayon::prelude::*;

/// Rows per chunk of every parallel reduction.
pub const CHUNK: usize = 1024;

/// The fitting view of one histogram column (spec §3.1).
#[derive(Debug, Clone)]
pub struct Binned {
    /// `bin_lo` of each row (the point flow-models evaluates densities at).
    pub x: Vec<f64>,
    /// ln `bin_lo`.
    pub lnx: Vec<f64>,
    /// `bin_hi` of each row.
    pub hi: Vec<f64>,
    /// The weight column c_i.
    pub c: Vec<f64>,
    /// Σ c_i as f64.
    pub total: f64,
    /// Σ c_i exactly (the mixture's `sum`).
    pub sum: u128,
    /// Which column.
    pub y: YCol,
}

impl Binned {
    /// Builds the view of column `y`.
    pub fn new(h: &Hist, y: YCol) -> Result<Binned, PluginError> {
        let col = h.y(y)?;
        let sum: u128 = col.iter().map(|&v| v as u128).sum();
        if sum == 0 {
            return Err(PluginError::data(format!("{}: column `{}_sum` is all zeros; nothing to fit", h.source, y.name())));
        }
        if h.bin_lo[0] == 0 {
            return Err(PluginError::data(format!("{}: bin_lo 0 is not a valid flow length or size (values start at 1)", h.source)));
        }
        let x: Vec<f64> = h.bin_lo.iter().map(|&v| v as f64).collect();
        Ok(Binned {
            lnx: x.iter().map(|v| v.ln()).collect(),
            hi: h.bin_hi.iter().map(|&v| v as f64).collect(),
            c: col.iter().map(|&v| v as f64).collect(),
            total: sum as f64,
            sum,
            x,
            y,
        })
    }
    /// The same bins with other weights (held-out splits); rows keep their positions.
    pub fn with_counts(&self, c: Vec<f64>) -> Binned {
        let total: f64 = c.iter().sum();
        Binned { c, total, sum: total as u128, ..self.clone() }
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
    /// Number of chunks.
    pub fn chunks(&self) -> usize {
        self.len().div_ceil(CHUNK)
    }
}

/// Maps each chunk `[start, end)` to a value, in parallel, returning them in chunk order.
pub fn map_chunks<T: Send>(n: usize, f: impl Fn(usize, usize) -> T + Sync + Send) -> Vec<T> {
    let chunks = n.div_ceil(CHUNK);
    (0..chunks).into_par_iter().map(|ch| f(ch * CHUNK, ((ch + 1) * CHUNK).min(n))).collect()
}

/// Σ over rows of `f(i)`, in fixed chunks added in order.
pub fn sum_rows(n: usize, f: impl Fn(usize) -> f64 + Sync + Send) -> f64 {
    map_chunks(n, |a, b| (a..b).map(&f).sum::<f64>()).into_iter().sum()
}

/// Adds per-chunk vectors elementwise in chunk order.
pub fn add_in_order(parts: Vec<Vec<f64>>, k: usize) -> Vec<f64> {
    let mut acc = vec![0.0; k];
    for p in parts {
        for (a, v) in acc.iter_mut().zip(p) {
            *a += v;
        }
    }
    acc
}
