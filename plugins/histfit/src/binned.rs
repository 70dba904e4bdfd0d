//! A histogram column prepared for fitting and scoring, and the deterministic chunked
//! reductions every pass over the bins uses.
//!
//! Rows are processed in fixed chunks of [`CHUNK`] rows; each chunk's partial sums are added
//! in chunk order, so results are bit-identical for any number of threads (docs/design.md §3 Seeds).
use crate::hist::{Hist, YCol};
use flowlab_abi::PluginError;
use rayon::prelude::*;

/// Rows per chunk of every parallel reduction.
pub const CHUNK: usize = 1024;

/// A row's mixture density (em-compat) or bin probability (em-binned) below this (2^−900) is
/// rescaled before c/Σ is formed: c/Σ alone overflows for Σ near the subnormal range, where
/// every responsibility d_j/Σ is still finite (em.rs `chunk_estep`, em_binned.rs).
pub(crate) const TINY: f64 = f64::from_bits((1023 - 900) << 52);
/// The exact power of two (2^600) those rows are scaled by: the scaled values and every ratio
/// between them are exact, so a row that did not overflow keeps its bits.
pub(crate) const RESCALE: f64 = f64::from_bits((1023 + 600) << 52);

/// A column of f64s whose first element sits on a 64-byte boundary, so that every run of eight
/// rows starting at a multiple of eight is one cache line: the E-step's 512-bit loads then
/// never straddle two lines (with the allocator's 16-byte alignment every one of them did,
/// ~4 % of the em-compat fit). Reads as a `[f64]`; the storage is a `Vec<f64>` with up to 7
/// unused leading elements.
#[derive(Debug, Default)]
pub struct Col {
    buf: Vec<f64>,
    off: usize,
    len: usize,
}

impl Col {
    /// The values of `it`, aligned.
    fn collect(len: usize, it: impl IntoIterator<Item = f64>) -> Col {
        let mut buf: Vec<f64> = Vec::with_capacity(len + 7);
        let off = buf.as_ptr().align_offset(64).min(7);
        buf.resize(off, 0.0);
        buf.extend(it);
        Col { len: buf.len() - off, buf, off }
    }
}

impl std::ops::Deref for Col {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.buf[self.off..self.off + self.len]
    }
}

impl Clone for Col {
    fn clone(&self) -> Col {
        Col::collect(self.len, self.iter().copied())
    }
}

impl From<Vec<f64>> for Col {
    fn from(v: Vec<f64>) -> Col {
        Col::collect(v.len(), v)
    }
}

impl PartialEq for Col {
    fn eq(&self, other: &Col) -> bool {
        **self == **other
    }
}

impl<'a> IntoIterator for &'a Col {
    type Item = &'a f64;
    type IntoIter = std::slice::Iter<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The fitting view of one histogram column (docs/histfit.md, "em-compat").
#[derive(Debug, Clone)]
pub struct Binned {
    /// `bin_lo` of each row (the point flow-models evaluates densities at).
    pub x: Col,
    /// ln `bin_lo`.
    pub lnx: Col,
    /// log2 `bin_lo`, as `lnx · log2 e` (em-compat forms its lognormal exponents in base 2).
    pub lnx2: Col,
    /// `bin_hi` of each row.
    pub hi: Col,
    /// The weight column c_i.
    pub c: Col,
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
        let n = h.len();
        let x = Col::collect(n, h.bin_lo.iter().map(|&v| v as f64));
        let lnx = Col::collect(n, x.iter().map(|v| v.ln()));
        Ok(Binned {
            lnx2: Col::collect(n, lnx.iter().map(|l| l * std::f64::consts::LOG2_E)),
            lnx,
            hi: Col::collect(n, h.bin_hi.iter().map(|&v| v as f64)),
            c: Col::collect(n, col.iter().map(|&v| v as f64)),
            total: sum as f64,
            sum,
            x,
            y,
        })
    }
    /// The same bins with other weights (held-out splits); rows keep their positions.
    pub fn with_counts(&self, c: Vec<f64>) -> Binned {
        let total: f64 = c.iter().sum();
        Binned { c: c.into(), total, sum: total as u128, ..self.clone() }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_start_on_a_cache_line_and_keep_their_values() {
        for n in [0usize, 1, 7, 8, 9, 1000, 23_782] {
            let v: Vec<f64> = (0..n).map(|i| i as f64 * 0.5 - 3.0).collect();
            let a = Col::from(v.clone());
            let b = a.clone();
            let c = Col::collect(n, v.iter().map(|x| x * 2.0));
            for col in [&a, &b] {
                assert_eq!(&col[..], &v[..]);
                assert!(n == 0 || (col.as_ptr() as usize).is_multiple_of(64), "n = {n}: {:p}", col.as_ptr());
            }
            assert_eq!(c.len(), n);
            assert!(c.iter().zip(&v).all(|(x, y)| *x == y * 2.0));
            assert_eq!(a, b);
        }
    }
}
