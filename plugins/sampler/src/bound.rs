//! Feasibility lower bound, computed before any search (`docs/sampler.md`, "Feasibility").
//!
//! Every deviation is checked on its own against every sample the gene bounds `[lo, hi]`
//! allow; a deviation that no such sample can bring within the limit makes acceptance
//! impossible, and the smallest deviation it can reach is a lower bound on the deviation any
//! sample can be accepted at. The checks are necessary conditions only (they ignore that one
//! sample must satisfy all deviations at once), so "feasible" means "not proven infeasible".
//!
//! * Count shares (`ipv4`, `ipv6`, `l4_protos`, `ports`, `pkt_size`): the sample value is
//!   `c/(k·n)` with `n ∈ [lo, hi]` biflows, `k` = 2 for ports (src + dst slots) else 1, and an
//!   integer count `0 ≤ c ≤ C` (C = the profile's count). For each `n`, the closest `c` is
//!   `⌊r·k·n⌋` or `⌈r·k·n⌉` clamped to `[0, C]`; the bound is the minimum over `n`.
//! * Windows (`windows[w] = X/P`): the sample's packets `P` lie in `[P₋, P₊]` — from the
//!   `bfls_pkts` limit when it is declared, `P ∈ [lo/(r·(1+d)), hi/(r·(1−d))]`, else
//!   `[1, P_total]` — and `X` is a subset sum of the contributions of the biflows
//!   overlapping window w. A window with at most [`MAX_ENUMERATED`] such biflows has its
//!   subset sums enumerated; the share range of a sum X is `[X/P₊, X/P₋]`, and its deviation
//!   is 0 when the reference share lies inside, else the distance to the nearer end. Windows
//!   with more biflows are not bounded (bound 0): with many contributions the subset sums are
//!   dense.
//! * Ratios (`pkts_bts`, `bfls_pkts`, `bfls_bts`, `ipv6_ipv4`) are not bounded.
use crate::metrics::{Metric, Model};

/// Windows with at most this many overlapping biflows get their subset sums enumerated
/// (2¹⁶ sums each).
pub const MAX_ENUMERATED: usize = 16;

/// One deviation that no sample within the gene bounds can bring within the limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Obstacle {
    /// Metric name (`windows`, `ports`, …).
    pub metric: &'static str,
    /// Key within the metric (window index, port, …).
    pub key: String,
    /// Biflows that can contribute to it (the profile's count for shares, the overlapping
    /// biflows for a window).
    pub biflows: usize,
    /// Smallest deviation (percent) any sample within the gene bounds can reach.
    pub best_deviation: f64,
}

/// Result of the feasibility check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Feasibility {
    /// Deviations that cannot be brought within the limit (empty ⇔ not proven infeasible).
    pub obstacles: Vec<Obstacle>,
    /// Lower bound (percent) on the largest deviation of any sample within the gene bounds:
    /// the maximum over every bounded deviation of its smallest reachable value.
    pub achievable_pct: f64,
}

impl Feasibility {
    /// No obstacle found.
    pub fn feasible(&self) -> bool {
        self.obstacles.is_empty()
    }

    /// A one-line explanation naming the obstacles (at most 5) and the achievable deviation.
    pub fn message(&self, limit_pct: f64) -> String {
        let mut parts: Vec<String> = self.obstacles.iter().take(5).map(|o| format!("{} {} ({} biflows) cannot get below {:.3} %", o.metric, o.key, o.biflows, o.best_deviation)).collect();
        if self.obstacles.len() > 5 {
            parts.push(format!("and {} more", self.obstacles.len() - 5));
        }
        format!("infeasible at deviation {} ({:.3} %): {}; no sample in the size bounds can be accepted below deviation {:.6}", limit_pct / 100.0, limit_pct, parts.join(", "), self.achievable_pct / 100.0)
    }
}

/// Smallest deviation (percent) of a share `c/(k·n)` against `r` over `n ∈ [lo, hi]`,
/// `0 ≤ c ≤ cmax`; stops at the first `n` within `limit`.
fn count_bound(r: f64, k: f64, cmax: i64, lo: usize, hi: usize, limit: f64) -> f64 {
    let mut best = f64::INFINITY;
    for n in lo..=hi {
        let t = r * k * n as f64;
        for c in [t.floor(), t.ceil()] {
            let c = c.clamp(0.0, cmax as f64);
            let d = (c / (k * n as f64) - r).abs() * 100.0 / r;
            best = best.min(d);
        }
        if best <= limit {
            break;
        }
    }
    best
}

/// Smallest deviation (percent) of a window share `X/P` against `r`, X a subset sum of
/// `contrib`, `P ∈ [pmin, pmax]`.
fn window_bound(r: f64, contrib: &[f64], pmin: f64, pmax: f64) -> f64 {
    let mut sums = vec![0.0f64];
    for &c in contrib {
        let len = sums.len();
        for s in 0..len {
            sums.push(sums[s] + c);
        }
    }
    let mut best = f64::INFINITY;
    for &x in &sums {
        let (low, high) = (x / pmax, x / pmin);
        let d = if r < low {
            (low - r) * 100.0 / r
        } else if r > high {
            (r - high) * 100.0 / r
        } else {
            0.0
        };
        best = best.min(d);
    }
    best
}

/// Checks every deviation of `model` against the gene bounds `(lo, hi)`.
pub fn check(model: &Model, (lo, hi): (usize, usize)) -> Feasibility {
    let limit = model.limit_pct;
    let refa = &model.reference;
    let mut out = Feasibility::default();
    let push = |out: &mut Feasibility, metric: &'static str, key: String, biflows: usize, d: f64| {
        out.achievable_pct = out.achievable_pct.max(d);
        if d > limit {
            out.obstacles.push(Obstacle { metric, key, biflows, best_deviation: d });
        }
    };
    let mut j = 0usize;
    let dev_frac = limit / 100.0;
    let p_range = {
        let total = refa.p as f64;
        let bp = model.metrics.iter().position(|m| *m == Metric::BflsPkts).map(|mi| {
            let j0: usize = model.metrics[..mi].iter().map(|m| model.arity(m)).sum();
            model.ref_values[j0]
        });
        match bp {
            Some(r) if r > 0.0 && dev_frac < 1.0 => ((lo as f64 / (r * (1.0 + dev_frac))).max(1.0), (hi as f64 / (r * (1.0 - dev_frac))).min(total)),
            _ => (1.0, total),
        }
    };
    for m in &model.metrics {
        let ar = model.arity(m);
        let r = &model.ref_values[j..j + ar];
        match m {
            Metric::Ipv4 | Metric::Ipv6 => {
                let (name, c) = if *m == Metric::Ipv4 { ("ipv4", refa.n - refa.n6) } else { ("ipv6", refa.n6) };
                if r[0] > 0.0 {
                    push(&mut out, name, String::new(), c as usize, count_bound(r[0], 1.0, c, lo, hi, limit));
                }
            }
            Metric::Protos(keys) => {
                for (k, key) in keys.iter().enumerate() {
                    push(&mut out, "l4_protos", key.to_string(), refa.protos[k] as usize, count_bound(r[k], 1.0, refa.protos[k], lo, hi, limit));
                }
            }
            Metric::Ports(keys) => {
                for (k, key) in keys.iter().enumerate() {
                    push(&mut out, "ports", key.to_string(), refa.ports[k] as usize, count_bound(r[k], 2.0, refa.ports[k], lo, hi, limit));
                }
            }
            Metric::PktSize(e) => {
                for (k, label) in crate::metrics::bin_labels(e).into_iter().enumerate() {
                    if r[k] > 0.0 {
                        push(&mut out, "pkt_size", label, refa.bins[k] as usize, count_bound(r[k], 1.0, refa.bins[k], lo, hi, limit));
                    }
                }
            }
            Metric::Windows(_) => {
                let mut contrib: Vec<Vec<f64>> = vec![vec![]; ar];
                let mut count = vec![0usize; ar];
                for i in 0..model.len() {
                    model.for_windows(i, |w, v| {
                        if v > 0.0 {
                            count[w] += 1;
                            if count[w] <= MAX_ENUMERATED {
                                contrib[w].push(v);
                            }
                        }
                    });
                }
                for w in 0..ar {
                    if r[w] > 0.0 && count[w] <= MAX_ENUMERATED {
                        push(&mut out, "windows", w.to_string(), count[w], window_bound(r[w], &contrib[w], p_range.0, p_range.1));
                    }
                }
            }
            _ => {}
        }
        j += ar;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_bound_is_exact_on_small_cases() {
        // share 1/3, 10 % of 30 biflows: n = 3 gives c = 1 exactly
        assert_eq!(count_bound(1.0 / 3.0, 1.0, 10, 3, 3, 0.5), 0.0);
        // share 0.25 with n in {2}: c/2 ∈ {0, 0.5} -> best 100 %
        assert_eq!(count_bound(0.25, 1.0, 5, 2, 2, 0.5), 100.0);
        // brute force over random cases
        let mut x: u64 = 99;
        for _ in 0..200 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (cmax, lo) = ((x >> 40) % 50 + 1, (x >> 20) % 40 + 1);
            let hi = lo + (x >> 10) % 10;
            let r = ((x >> 3) % 997 + 1) as f64 / 1000.0;
            let mut brute = f64::INFINITY;
            for n in lo..=hi {
                for c in 0..=cmax {
                    brute = brute.min((c as f64 / n as f64 - r).abs() * 100.0 / r);
                }
            }
            let b = count_bound(r, 1.0, cmax as i64, lo as usize, hi as usize, 0.0);
            assert!((b - brute).abs() < 1e-9, "r {r} cmax {cmax} n {lo}..{hi}: {b} vs {brute}");
        }
    }

    #[test]
    fn window_bound_enumerates_subset_sums() {
        // one biflow of 10 packets in the window, P in [100, 110]: shares 0 or 0.0909..0.1
        assert_eq!(window_bound(0.095, &[10.0], 100.0, 110.0), 0.0);
        let d = window_bound(0.2, &[10.0], 100.0, 110.0);
        assert!((d - 50.0).abs() < 1e-9, "{d}");
        // two biflows 3 + 4 = 7 of P = 100 fits 0.07
        assert_eq!(window_bound(0.07, &[3.0, 4.0], 100.0, 100.0), 0.0);
        assert!((window_bound(0.05, &[3.0, 4.0], 100.0, 100.0) - 20.0).abs() < 1e-9);
    }
}
