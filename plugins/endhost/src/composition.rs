//! Traffic composition (the paper's §VII; `docs/endhost.md`, "Traffic composition"): each
//! user's windows split into the exponential body and the tail of the user's fitted model,
//! and the flows of each application category counted per region and per active / idle
//! window.
//!
//! Tail posterior of a window with count k under the fitted mixture (weights w_E of the
//! geometrics, π of the zeta):
//! `r(k) = π z(k|α) / (π z(k|α) + Σ_E w_E g(k|λ_E))`, 1 for P.
//! The tail threshold is the smallest observed count k* with r(j) ≥ ½ for every observed
//! count j ≥ k*; windows with k ≥ k* form the tail region, the rest the exponential region
//! (the low counts where the zeta's own mass at k = 1, 2 dominates stay in the body: the
//! regions are the two ends of the count axis). The soft split weighs every window's flows by
//! r(k) and 1 − r(k) instead.
use crate::binning::OUTSIDE;
use crate::model::Model;
use crate::records::PortKey;
use crate::zeta::{log1mexp_neg, zeta};
use std::collections::BTreeMap;

/// r(k) of `model` at θ.
pub fn tail_posterior(model: Model, th: &[f64], k: u64) -> f64 {
    if model == Model::P {
        return 1.0;
    }
    let w = model.weights(th);
    let rates = model.rates(th);
    let a = th[th.len() - 1];
    let kf = k as f64;
    let lp = w[w.len() - 1].ln() - a * kf.ln() - zeta(a).ln();
    let le: Vec<f64> = rates.iter().zip(&w).map(|(&l, &wi)| wi.ln() + log1mexp_neg(l) - l * (kf - 1.0)).collect();
    let m = le.iter().copied().fold(lp, f64::max);
    let s = (lp - m).exp() + le.iter().map(|v| (v - m).exp()).sum::<f64>();
    (lp - m).exp() / s
}

/// The tail threshold k* over the observed counts `ks` (ascending, distinct, ≥ 1): the
/// smallest with r ≥ ½ from there up; `None` when the largest observed count is in the body.
pub fn tail_threshold(model: Model, th: &[f64], ks: &[u64]) -> Option<u64> {
    let mut t = None;
    for &k in ks.iter().rev() {
        if tail_posterior(model, th, k) >= 0.5 {
            t = Some(k);
        } else {
            break;
        }
    }
    t
}

/// Flow counts of one port key: `[exp idle, exp active, tail idle, tail active]`, hard (by
/// the threshold) and soft (by r(k)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// By the threshold.
    pub hard: [u64; 4],
    /// Weighted by the tail posterior.
    pub soft: [f64; 4],
}

/// One user's composition at the composition bin size.
#[derive(Debug, Clone, Default)]
pub struct UserComposition {
    /// Per port key.
    pub by_key: BTreeMap<PortKey, Split>,
    /// Windows per region `[exp idle, exp active, tail idle, tail active]`.
    pub windows: [u64; 4],
    /// The threshold used (None: no tail window).
    pub threshold: Option<u64>,
}

/// Splits a user's flows. `counts`/`active` are per kept window, `pos` the window of each
/// flow ([`OUTSIDE`]: outside the kept windows), `keys` the flows' port keys.
pub fn split_user(model: Model, th: &[f64], counts: &[u32], active: Option<&[bool]>, pos: &[u32], keys: &[PortKey]) -> UserComposition {
    let mut ks: Vec<u64> = counts.iter().filter(|&&c| c > 0).map(|&c| c as u64).collect();
    ks.sort_unstable();
    ks.dedup();
    let thr = tail_threshold(model, th, &ks);
    let r: BTreeMap<u64, f64> = ks.iter().map(|&k| (k, tail_posterior(model, th, k))).collect();
    let mut out = UserComposition { threshold: thr, ..Default::default() };
    let act = |i: usize| active.is_some_and(|a| a[i]) as usize;
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 {
            let tail = thr.is_some_and(|t| c as u64 >= t) as usize;
            out.windows[2 * tail + act(i)] += 1;
        }
    }
    for (p, &key) in pos.iter().zip(keys) {
        if *p == OUTSIDE {
            continue;
        }
        let i = *p as usize;
        let c = counts[i] as u64;
        let a = act(i);
        let tail = thr.is_some_and(|t| c >= t) as usize;
        let e = out.by_key.entry(key).or_default();
        e.hard[2 * tail + a] += 1;
        let rk = r[&c];
        e.soft[a] += 1.0 - rk;
        e.soft[2 + a] += rk;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pmf_table;

    #[test]
    fn posterior_matches_the_component_masses() {
        // independent: r(k) = π z(k) / p(k) with p from the model's pmf
        for (m, th) in [(Model::EP, vec![0.3, 0.4, 2.0]), (Model::EEP, vec![0.2, 0.6, 1.0, 0.1, 1.8])] {
            let p = pmf_table(m, &th, 200);
            let a = th[th.len() - 1];
            for k in 1..=200u64 {
                let want = th[0] * (k as f64).powf(-a) / zeta(a) / p[k as usize - 1];
                assert!((tail_posterior(m, &th, k) - want).abs() < 1e-10, "{m:?} k={k}");
            }
        }
        assert_eq!(tail_posterior(Model::P, &[2.0], 7), 1.0);
    }

    #[test]
    fn threshold_is_the_upper_run() {
        let th = [0.3, 0.4, 2.0];
        let ks: Vec<u64> = (1..=100).collect();
        let t = tail_threshold(Model::EP, &th, &ks).unwrap();
        assert!(tail_posterior(Model::EP, &th, t) >= 0.5 && tail_posterior(Model::EP, &th, t - 1) < 0.5);
        assert!((t..=100).all(|k| tail_posterior(Model::EP, &th, k) >= 0.5));
        // a body-only sample: no tail
        assert_eq!(tail_threshold(Model::EP, &[0.01, 0.05, 3.0], &[1, 2, 3]), None);
        // the split: two windows (counts 1 and 50), the big one in the tail
        let c = split_user(Model::EP, &th, &[1, 0, 50], Some(&[false, true, true]), &[0, 2, OUTSIDE, 2], &[7, 8, 9, 8]);
        assert_eq!(c.by_key[&7].hard, [1, 0, 0, 0]);
        assert_eq!(c.by_key[&8].hard, [0, 0, 0, 2]);
        assert!(!c.by_key.contains_key(&9));
        assert_eq!(c.windows, [1, 0, 0, 1]);
        let s = &c.by_key[&8].soft;
        assert!((s[1] + s[3] - 2.0).abs() < 1e-12 && s[3] > 1.9);
    }
}
