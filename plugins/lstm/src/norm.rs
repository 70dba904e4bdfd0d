//! Normalisations (docs/lstm.md, "Preprocessing" step 5), declared by name.
//!
//! - `l2`: each packet vector `x ↦ x / ‖x‖₂`; a zero vector stays zero (the original's option 1).
//! - `standardize`: per feature `x_j ↦ (x_j − μ_j) / σ_j` with μ, σ the mean and population
//!   standard deviation (ddof 0) over every packet in scope; 0 where σ_j = 0 (old `main.py -n 2`).
//! - `minmax`: per feature `x_j ↦ (x_j − min_j) / (max_j − min_j)`, 0 where `max_j = min_j`
//!   (the original's option 2, `train_rnn.py`'s choice); the statistics are writable and readable
//!   as the original's `[[min…],[max…]]` file.
//! - `none`: values unchanged.
//!
//! Statistics are taken over all packets of the traffics in scope, before truncation
//! (the original's `get_min_max`).
use flowlab_abi::PluginError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A fitted normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Norm {
    /// No change.
    None,
    /// Unit vectors.
    L2,
    /// z-score per feature.
    Standardize {
        /// Per-feature mean.
        mean: Vec<f64>,
        /// Per-feature population standard deviation.
        std: Vec<f64>,
    },
    /// Min-max per feature.
    Minmax {
        /// Per-feature minimum.
        min: Vec<f64>,
        /// Per-feature maximum.
        max: Vec<f64>,
    },
}

/// Streaming statistics over packets (per-feature min, max and Welford mean/M2 in f64, in
/// the fixed order packets are pushed).
#[derive(Debug, Clone)]
pub struct Stats {
    n: u64,
    min: Vec<f64>,
    max: Vec<f64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Stats {
    /// Empty statistics for `dim` features.
    pub fn new(dim: usize) -> Stats {
        Stats { n: 0, min: vec![f64::INFINITY; dim], max: vec![f64::NEG_INFINITY; dim], mean: vec![0.0; dim], m2: vec![0.0; dim] }
    }
    /// Adds every packet of a `packets × dim` block.
    pub fn push(&mut self, values: &[f32]) {
        let dim = self.min.len();
        for p in values.chunks(dim) {
            self.n += 1;
            let n = self.n as f64;
            for (j, &v) in p.iter().enumerate() {
                let v = v as f64;
                self.min[j] = self.min[j].min(v);
                self.max[j] = self.max[j].max(v);
                let d = v - self.mean[j];
                self.mean[j] += d / n;
                self.m2[j] += d * (v - self.mean[j]);
            }
        }
    }
    /// Packets seen.
    pub fn count(&self) -> u64 {
        self.n
    }
    /// The normalisation `kind` from these statistics.
    pub fn fit(&self, kind: &str) -> Norm {
        match kind {
            "l2" => Norm::L2,
            "standardize" => Norm::Standardize { mean: self.mean.clone(), std: self.m2.iter().map(|m| (m / self.n.max(1) as f64).sqrt()).collect() },
            "minmax" => Norm::Minmax { min: self.min.clone(), max: self.max.clone() },
            _ => Norm::None,
        }
    }
}

impl Norm {
    /// Name as declared in settings.
    pub fn name(&self) -> &'static str {
        match self {
            Norm::None => "none",
            Norm::L2 => "l2",
            Norm::Standardize { .. } => "standardize",
            Norm::Minmax { .. } => "minmax",
        }
    }

    /// True if the statistics need a pass over the data.
    pub fn needs_stats(kind: &str) -> bool {
        matches!(kind, "standardize" | "minmax")
    }

    /// Normalises one packet vector in place (formulas in the module doc).
    pub fn apply(&self, p: &mut [f32]) {
        match self {
            Norm::None => {}
            Norm::L2 => {
                let n = p.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
                if n > 0.0 {
                    for v in p.iter_mut() {
                        *v = (*v as f64 / n) as f32;
                    }
                }
            }
            Norm::Standardize { mean, std } => {
                for ((v, m), s) in p.iter_mut().zip(mean).zip(std) {
                    *v = if *s > 0.0 { ((*v as f64 - m) / s) as f32 } else { 0.0 };
                }
            }
            Norm::Minmax { min, max } => {
                for ((v, lo), hi) in p.iter_mut().zip(min).zip(max) {
                    *v = if hi > lo { ((*v as f64 - lo) / (hi - lo)) as f32 } else { 0.0 };
                }
            }
        }
    }

    /// Whether the statistics map every packet to the zero vector: every feature constant
    /// (`max = min`, or `std = 0`), so `apply` writes 0 everywhere. Stateless norms: never.
    pub fn zeroes_everything(&self) -> bool {
        match self {
            Norm::Standardize { std, .. } => std.iter().all(|&s| s <= 0.0),
            Norm::Minmax { min, max } => min.iter().zip(max).all(|(lo, hi)| hi <= lo),
            _ => false,
        }
    }

    /// Dimension the statistics were fitted for (None for stateless ones).
    pub fn dim(&self) -> Option<usize> {
        match self {
            Norm::Standardize { mean, .. } => Some(mean.len()),
            Norm::Minmax { min, .. } => Some(min.len()),
            _ => None,
        }
    }

    /// The original's min-max file text, `[[min…], [max…]]`.
    pub fn minmax_text(&self) -> Option<String> {
        match self {
            Norm::Minmax { min, max } => {
                let row = |v: &[f64]| v.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ");
                Some(format!("[[{}], [{}]]", row(min), row(max)))
            }
            _ => None,
        }
    }
}

/// Reads an original `[[min…],[max…]]` file; both rows must have `dim` entries.
pub fn read_minmax(path: &Path, dim: usize) -> Result<Norm, PluginError> {
    let text = crate::reader::read_small_text(path, "min-max file")?;
    let v: Vec<Vec<f64>> =
        serde_json::from_str(flowlab_abi::limits::strip_bom(&text).trim()).map_err(|e| PluginError::data(format!("{}:{}: not a `[[min…],[max…]]` list: {e}", path.display(), e.line())))?;
    if v.len() != 2 || v[0].len() != dim || v[1].len() != dim {
        return Err(PluginError::data(format!("{}: expected 2 rows of {dim} values ([[min…],[max…]]), found {} rows of {:?}", path.display(), v.len(), v.iter().map(Vec::len).collect::<Vec<_>>())));
    }
    let mut it = v.into_iter();
    Ok(Norm::Minmax { min: it.next().unwrap_or_default(), max: it.next().unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    // three packets of 3 features, hand-computed statistics:
    // f0: 1, 3, 5 → mean 3, pop. std sqrt(8/3), min 1, max 5
    // f1: 0, 0, 0 → constant → 0 everywhere
    // f2: 2, 4, 12 → mean 6, pop. std sqrt((16+4+36)/3)=sqrt(56/3), min 2, max 12
    const DATA: [f32; 9] = [1.0, 0.0, 2.0, 3.0, 0.0, 4.0, 5.0, 0.0, 12.0];

    fn stats() -> Stats {
        let mut s = Stats::new(3);
        s.push(&DATA[..3]);
        s.push(&DATA[3..]);
        s
    }

    fn close(a: &[f32], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((*x as f64 - y).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }

    /// `zeroes_everything` holds exactly when `apply` sends random packets to zero vectors.
    #[test]
    fn zeroes_everything_is_what_apply_does() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for case in 0..500 {
            let d = rng.random_range(1..6);
            let constant: Vec<bool> = (0..d).map(|_| rng.random_bool(0.8)).collect();
            let lo: Vec<f64> = (0..d).map(|_| rng.random_range(-5.0..5.0)).collect();
            let width: Vec<f64> = constant.iter().map(|&c| if c { 0.0 } else { rng.random_range(0.1..3.0) }).collect();
            let n = if case % 2 == 0 { Norm::Minmax { min: lo.clone(), max: lo.iter().zip(&width).map(|(a, w)| a + w).collect() } } else { Norm::Standardize { mean: lo, std: width } };
            let zero = (0..20).all(|_| {
                let mut p: Vec<f32> = (0..d).map(|_| rng.random_range(-10.0..10.0)).collect();
                n.apply(&mut p);
                p.iter().all(|&v| v == 0.0)
            });
            assert_eq!(n.zeroes_everything(), zero, "case {case}: {n:?}");
        }
        assert!(!Norm::L2.zeroes_everything() && !Norm::None.zeroes_everything());
    }

    #[test]
    fn l2_hand_values() {
        let mut p = [3.0f32, 0.0, 4.0];
        Norm::L2.apply(&mut p);
        close(&p, &[0.6, 0.0, 0.8]);
        let mut z = [0.0f32; 3];
        Norm::L2.apply(&mut z);
        assert_eq!(z, [0.0; 3]);
    }

    #[test]
    fn standardize_hand_values() {
        let n = stats().fit("standardize");
        let mut p = [5.0f32, 0.0, 2.0];
        n.apply(&mut p);
        close(&p, &[2.0 / (8.0f64 / 3.0).sqrt(), 0.0, -4.0 / (56.0f64 / 3.0).sqrt()]);
        // padding zeros map to -mean/std
        let mut z = [0.0f32; 3];
        n.apply(&mut z);
        close(&z, &[-3.0 / (8.0f64 / 3.0).sqrt(), 0.0, -6.0 / (56.0f64 / 3.0).sqrt()]);
    }

    #[test]
    fn minmax_hand_values_and_file_roundtrip() {
        let n = stats().fit("minmax");
        assert_eq!(n, Norm::Minmax { min: vec![1.0, 0.0, 2.0], max: vec![5.0, 0.0, 12.0] });
        let mut p = [3.0f32, 7.0, 4.0];
        n.apply(&mut p);
        close(&p, &[0.5, 0.0, 0.2]);
        // the original's side effect: a padded zero becomes -min/(max-min)
        let mut z = [0.0f32; 3];
        n.apply(&mut z);
        close(&z, &[-0.25, 0.0, -0.2]);
        let text = n.minmax_text().unwrap();
        assert_eq!(text, "[[1.0, 0.0, 2.0], [5.0, 0.0, 12.0]]");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mm.csv");
        std::fs::write(&f, &text).unwrap();
        assert_eq!(read_minmax(&f, 3).unwrap(), n);
        assert!(read_minmax(&f, 4).unwrap_err().message.contains("expected 2 rows of 4"));
    }
}
