//! Cosine-similarity evaluation (docs/lstm.md, "Cosine-similarity evaluation", the original's `utils_metric.py`).
//!
//! Per packet position: `cos[i,t] = ⟨ŷ_{i,t}, y_{i,t}⟩ / (‖ŷ_{i,t}‖·‖y_{i,t}‖)`, 0 when the norm
//! product is 0. Per traffic, over the keys
//! - `true`: positions `0 … real_i − 1` (the real packets),
//! - `1`: position 0 (the first packet, the README's "#1 packet"),
//! - `N = 10, 20, …, L`: the first `N` positions of the padded sequence (padding counts),
//!
//! the mean and the median. Across traffics: the **mean of the per-traffic means** and the
//! **median of the per-traffic medians**.
use serde::Serialize;

/// Cosine similarity of two vectors (f64 accumulation), 0 if a norm is 0.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut d, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        d += x * y;
        na += x * x;
        nb += y * y;
    }
    let n = (na * nb).sqrt();
    if n > 0.0 { d / n } else { 0.0 }
}

/// Median (mean of the two middle values for an even count; NaN for none), as numpy.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) }
}

/// Mean (NaN for none).
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

/// The evaluation keys for sequence length `l`: `true`, `1`, then `10, 20, …` up to `l`
/// (just `l` when `l < 10`).
pub fn keys(l: usize) -> Vec<String> {
    let mut k = vec!["true".to_string(), "1".to_string()];
    let mut ns: Vec<usize> = (1..=l / 10).map(|i| 10 * i).collect();
    if ns.is_empty() {
        ns.push(l);
    }
    k.extend(ns.into_iter().map(|n| n.to_string()));
    k
}

fn span(key: &str, real: usize) -> usize {
    match key {
        "true" => real,
        k => k.parse().unwrap_or(real),
    }
}

/// Per-traffic cosine rows, accumulated over batches.
#[derive(Debug, Clone, Default)]
pub struct CosTable {
    /// Traffic index per row.
    pub idx: Vec<usize>,
    /// Real length per row.
    pub lens: Vec<usize>,
    /// `cos[t]` per row.
    pub cos: Vec<Vec<f64>>,
}

impl CosTable {
    /// Adds the rows of a time-major chunk (`pred`, `truth`: `T × rows × F`).
    #[allow(clippy::too_many_arguments)] // the chunk's arrays and their three extents
    pub fn push(&mut self, pred: &[f32], truth: &[f32], rows: usize, steps: usize, dim: usize, lens: &[usize], idx: &[usize]) {
        for r in 0..rows {
            let c = (0..steps)
                .map(|t| {
                    let o = (t * rows + r) * dim;
                    cosine(&pred[o..o + dim], &truth[o..o + dim])
                })
                .collect();
            self.cos.push(c);
            self.lens.push(lens[r]);
            self.idx.push(idx[r]);
        }
    }

    /// Per-traffic mean and median for `key`.
    pub fn per_traffic(&self, key: &str) -> (Vec<f64>, Vec<f64>) {
        self.cos
            .iter()
            .zip(&self.lens)
            .map(|(c, &real)| {
                let s = &c[..span(key, real).clamp(1, c.len())];
                (mean(s), median(s))
            })
            .unzip()
    }

    /// Across-traffic summary for every key.
    pub fn summary(&self, keys: &[String]) -> Summary {
        let mut s = Summary::default();
        for k in keys {
            let (m, md) = self.per_traffic(k);
            s.mean.push((k.clone(), mean(&m)));
            s.median.push((k.clone(), median(&md)));
        }
        s
    }

    /// Rows sorted by traffic index (a fixed order whatever the batching).
    pub fn sorted(mut self) -> CosTable {
        let mut o: Vec<usize> = (0..self.idx.len()).collect();
        o.sort_by_key(|&k| self.idx[k]);
        self.idx = o.iter().map(|&k| self.idx[k]).collect();
        self.lens = o.iter().map(|&k| self.lens[k]).collect();
        self.cos = o.iter().map(|&k| std::mem::take(&mut self.cos[k])).collect();
        self
    }
}

/// Mean of means and median of medians per key.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// `(key, mean of per-traffic means)`.
    pub mean: Vec<(String, f64)>,
    /// `(key, median of per-traffic medians)`.
    pub median: Vec<(String, f64)>,
}

impl Summary {
    /// Mean for `key`.
    pub fn mean_of(&self, key: &str) -> f64 {
        self.mean.iter().find(|(k, _)| k == key).map(|x| x.1).unwrap_or(f64::NAN)
    }
    /// Median for `key`.
    pub fn median_of(&self, key: &str) -> f64 {
        self.median.iter().find(|(k, _)| k == key).map(|x| x.1).unwrap_or(f64::NAN)
    }
    /// JSON `{mean: {key: v}, median: {key: v}}` with NaN-safe numbers.
    pub fn to_json(&self) -> serde_json::Value {
        let m = |v: &[(String, f64)]| serde_json::Value::Object(v.iter().map(|(k, x)| (k.clone(), flowlab_abi::json::num(*x))).collect());
        serde_json::json!({"mean": m(&self.mean), "median": m(&self.median)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_zero_norms() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[-1.0, 0.0], &[1.0, 0.0]), -1.0);
    }

    #[test]
    fn keys_and_statistics_by_hand() {
        assert_eq!(keys(25), vec!["true", "1", "10", "20"]);
        assert_eq!(keys(4), vec!["true", "1", "4"]);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
        // two traffics, 4 steps, dim 1: cos is ±1 or 0
        let pred = [1.0f32, 1.0, 1.0, -1.0, 1.0, 0.0, 1.0, 1.0]; // t-major: (t0 r0, t0 r1, t1 r0, …)
        let truth = [1.0f32, 1.0, 1.0, 1.0, -1.0, 1.0, 0.0, 1.0];
        let mut c = CosTable::default();
        c.push(&pred, &truth, 2, 4, 1, &[3, 1], &[7, 3]);
        // row 0 (len 3): cos = [1, 1, -1, 0]; row 1 (len 1): [1, -1, 0, 1]
        assert_eq!(c.cos, vec![vec![1.0, 1.0, -1.0, 0.0], vec![1.0, -1.0, 0.0, 1.0]]);
        let (m, md) = c.per_traffic("true");
        assert_eq!(m, vec![1.0 / 3.0, 1.0]);
        assert_eq!(md, vec![1.0, 1.0]);
        let s = c.summary(&keys(4));
        assert_eq!(s.mean_of("true"), (1.0 / 3.0 + 1.0) / 2.0);
        assert_eq!(s.mean_of("1"), 1.0);
        assert_eq!(s.mean_of("4"), (0.25 + 0.25) / 2.0);
        assert_eq!(s.median_of("4"), (0.5 + 0.5) / 2.0);
        let c = c.sorted();
        assert_eq!(c.idx, vec![3, 7]);
    }
}
