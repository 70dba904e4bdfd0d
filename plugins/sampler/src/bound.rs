//! Feasibility lower bound, computed before any search (`docs/sampler.md`, "Feasibility").
//!
//! Every deviation is checked on its own against every sample the gene bounds `[lo, hi]`
//! allow; a deviation that no such sample can bring within the limit makes acceptance
//! impossible, and the smallest deviation it can reach is a lower bound on the deviation any
//! sample can be accepted at. The checks are necessary conditions only (they ignore that one
//! sample must satisfy all deviations at once), so "feasible" means "not proven infeasible".
//!
//! * Count shares (`ipv4`, `ipv6`, `l4_protos`, `ports`, `pkt_size`), jointly: every share is
//!   `c/(k·n)` with the same sample size `n ∈ [lo, hi]`, `k` = 2 for ports (src + dst slots)
//!   else 1, and an integer count `0 ≤ c ≤ C` (C = the profile's count). For each `n`, the
//!   closest `c` of each share is `⌊r·k·n⌋` or `⌈r·k·n⌉` clamped to `[0, C]`; the bound is
//!   `min_n max_shares` of the resulting deviations (small profiles fail here: at 700
//!   biflows no `n` puts a dozen rare ports within 0.5 % at once). The obstacles named are
//!   the shares over the limit at the minimising `n`.
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
    /// Joint bound (percent) of the count shares: no sample within the gene bounds has all of
    /// them below it (exact: every size is scanned).
    pub count_pct: f64,
    /// The sample size the search starts from: where the count shares fit best (nearest to
    /// the middle of the bounds among those within a quarter of the limit).
    pub count_n: usize,
    /// Lower bound (percent) on the largest deviation of any sample within the gene bounds:
    /// the maximum over every bounded deviation of its smallest reachable value.
    pub achievable_pct: f64,
    /// The most packets an acceptable sample may hold (P₊ above; the profile's total when
    /// `bfls_pkts` is not declared).
    pub packet_cap: f64,
    /// Biflows (index in file order, packets) that alone carry more than `packet_cap`: no
    /// acceptable sample contains one, and a sample that does is off in `bfls_pkts`. Not an
    /// obstacle by itself (the others may still be acceptable), but the first thing to know
    /// when a run ends unaccepted (docs/sampler.md, "Odd profiles"). Largest first.
    pub oversized: Vec<(usize, u64)>,
}

impl Feasibility {
    /// No obstacle found.
    pub fn feasible(&self) -> bool {
        self.obstacles.is_empty()
    }

    /// A one-line note on the [`Feasibility::oversized`] biflows, if any.
    pub fn oversized_note(&self) -> Option<String> {
        let &(first, most) = self.oversized.first()?;
        Some(format!(
            "{} biflow(s) carry more packets than any acceptable sample may hold ({:.0}, from the `bfls_pkts` limit), so no acceptable sample contains them; the largest has {most} packets (data line {} of the profile)",
            self.oversized.len(),
            self.packet_cap,
            first + 1
        ))
    }

    /// A one-line explanation naming the obstacles (at most 5) and the achievable deviation.
    pub fn message(&self, limit_pct: f64) -> String {
        let mut parts: Vec<String> = self.obstacles.iter().take(5).map(|o| format!("{} {} ({} biflows) cannot get below {:.3} %", o.metric, o.key, o.biflows, o.best_deviation)).collect();
        if self.obstacles.len() > 5 {
            parts.push(format!("and {} more", self.obstacles.len() - 5));
        }
        let joint = if self.count_pct > limit_pct {
            format!(" (count shares: no sample size puts them all within the limit; closest at {} biflows, {:.3} %)", self.count_n, self.count_pct)
        } else {
            String::new()
        };
        format!(
            "infeasible at deviation {} ({:.3} %): {}{joint}; no sample in the size bounds can be accepted below deviation {:.6}",
            limit_pct / 100.0,
            limit_pct,
            parts.join(", "),
            self.achievable_pct / 100.0
        )
    }
}

/// One count share: name, key, reference share r, slots per biflow k, profile count C.
struct Share {
    metric: &'static str,
    key: String,
    r: f64,
    k: f64,
    cmax: i64,
}

impl Share {
    /// Smallest deviation (percent) of `c/(k·n)` against r over integers `0 ≤ c ≤ C`.
    fn at(&self, n: usize) -> f64 {
        let kn = self.k * n as f64;
        let t = self.r * kn;
        [t.floor(), t.ceil()].into_iter().map(|c| (c.clamp(0.0, self.cmax as f64) / kn - self.r).abs() * 100.0 / self.r).fold(f64::INFINITY, f64::min)
    }
}

/// `min_{n ∈ [lo, hi]} max_shares` of [`Share::at`] and a sample size to start from: the n
/// minimising `max(max_shares, limit/4)`, nearest to the middle of the bounds (so a profile
/// whose shares fit at every n starts in the middle, and one where only a few n fit starts at
/// the best of them).
fn joint_count_bound(shares: &[Share], lo: usize, hi: usize, limit: f64) -> (f64, usize) {
    let mid = lo + (hi - lo) / 2;
    if shares.is_empty() {
        return (0.0, mid);
    }
    let floor = limit / 4.0;
    let (mut best, mut best_n, mut best_key) = (f64::INFINITY, mid, f64::INFINITY);
    // mid, mid+1, mid-1, mid+2, … : the first n reaching a key keeps it
    for step in 0..=2 * (hi - lo) {
        let off = step.div_ceil(2);
        let n = if step % 2 == 1 {
            mid + off
        } else if off <= mid - lo {
            mid - off
        } else {
            continue;
        };
        if n < lo || n > hi {
            continue;
        }
        let mut worst = 0.0f64;
        for s in shares {
            worst = worst.max(s.at(n));
            if worst >= best && worst.max(floor) >= best_key {
                break;
            }
        }
        best = best.min(worst);
        if worst.max(floor) < best_key {
            (best_key, best_n) = (worst.max(floor), n);
        }
        // every n is scanned (a size whose shares are all 0 ends it): stopping once the start
        // size is found (below a quarter of the limit) left `best` above the minimum, and the
        // reported achievable deviation above what accepted samples reached; the inner loop
        // stops at the first share not below `best`, so most sizes cost a share or two
        if best == 0.0 {
            break;
        }
    }
    (best, best_n)
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
    out.packet_cap = p_range.1;
    out.oversized = model.items.iter().enumerate().filter(|(_, it)| it.pk as f64 > p_range.1).map(|(i, it)| (i, it.pk)).collect();
    out.oversized.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut shares = Vec::new();
    let mut share = |metric: &'static str, key: String, r: f64, k: f64, cmax: i64| {
        if r > 0.0 {
            shares.push(Share { metric, key, r, k, cmax });
        }
    };
    for m in &model.metrics {
        let ar = model.arity(m);
        let r = &model.ref_values[j..j + ar];
        match m {
            Metric::Ipv4 => share("ipv4", String::new(), r[0], 1.0, refa.n - refa.n6),
            Metric::Ipv6 => share("ipv6", String::new(), r[0], 1.0, refa.n6),
            Metric::Protos(keys) => keys.iter().enumerate().for_each(|(k, key)| share("l4_protos", key.to_string(), r[k], 1.0, refa.protos[k])),
            Metric::Ports(keys) => keys.iter().enumerate().for_each(|(k, key)| share("ports", key.to_string(), r[k], 2.0, refa.ports[k])),
            Metric::PktSize(e) => crate::metrics::bin_labels(e).into_iter().enumerate().for_each(|(k, label)| share("pkt_size", label, r[k], 1.0, refa.bins[k])),
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
    let (bound, n) = joint_count_bound(&shares, lo, hi, limit);
    (out.count_pct, out.count_n) = (bound, n);
    out.achievable_pct = out.achievable_pct.max(bound);
    if bound > limit {
        for s in &shares {
            let d = s.at(n);
            if d > limit {
                out.obstacles.push(Obstacle { metric: s.metric, key: s.key.clone(), biflows: s.cmax as usize, best_deviation: d });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joint_count_bound_matches_brute_force() {
        let share = |r: f64, cmax: i64| Share { metric: "t", key: String::new(), r, k: 1.0, cmax };
        // share 1/3, n = 3 gives c = 1 exactly
        assert_eq!(joint_count_bound(&[share(1.0 / 3.0, 10)], 3, 3, 0.5).0, 0.0);
        // share 0.25 with n = 2: c/2 ∈ {0, 0.5} -> best 100 %
        assert_eq!(joint_count_bound(&[share(0.25, 5)], 2, 2, 0.5).0, 100.0);
        let mut x: u64 = 99;
        for _ in 0..200 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (lo, span) = ((x >> 20) % 40 + 1, (x >> 10) % 10);
            let shares: Vec<Share> = (0..1 + (x >> 50) % 3).map(|s| share(((x >> (3 + 7 * s)) % 997 + 1) as f64 / 1000.0, ((x >> (40 + s)) % 50 + 1) as i64)).collect();
            let mut brute = f64::INFINITY;
            for n in lo..=lo + span {
                let worst = shares.iter().map(|s| (0..=s.cmax).map(|c| (c as f64 / n as f64 - s.r).abs() * 100.0 / s.r).fold(f64::INFINITY, f64::min)).fold(0.0, f64::max);
                brute = brute.min(worst);
            }
            // exact whatever the limit: also where a size within a quarter of it is found early
            for limit in [0.0, 4.0 * brute + 1.0, 1e9] {
                let (b, _) = joint_count_bound(&shares, lo as usize, (lo + span) as usize, limit);
                assert!((b - brute).abs() < 1e-9, "{b} vs {brute} at limit {limit}");
            }
        }
    }

    /// A biflow with more packets than the `bfls_pkts` limit lets any sample hold is named
    /// (and only that one): 2 000 generated biflows plus one of 10⁹ packets.
    #[test]
    fn a_biflow_above_the_packet_cap_is_named() {
        use crate::metrics::{Variant, default_decls};
        let recs = crate::generate::generate(&crate::generate::GenOptions { rows: 2000, seed: 3, ..Default::default() });
        let mut csv = Vec::new();
        crate::generate::write(&recs, &mut csv).unwrap();
        let plain = crate::profile::read_from(&csv[..], "g").unwrap();
        let m = Model::new(&plain, &default_decls(Variant::Readme), Variant::Readme, 0.005, 0.005, 0.005, 5).unwrap();
        assert!(check(&m, (180, 220)).oversized.is_empty());
        let text = String::from_utf8(csv).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let last: Vec<&str> = lines[lines.len() - 1].split(',').collect();
        let huge = format!("{},{},{},{},{},{},1000000000,60000000000,0,0", last[0], last[1], last[2], last[3], last[4], last[5]);
        lines.push(&huge);
        let p = crate::profile::read_from(lines.join("\n").as_bytes(), "g").unwrap();
        let m = Model::new(&p, &default_decls(Variant::Readme), Variant::Readme, 0.005, 0.005, 0.005, 5).unwrap();
        let f = check(&m, (180, 221));
        assert_eq!(f.oversized, vec![(2000, 1_000_000_000)], "cap {}", f.packet_cap);
        assert!(f.oversized_note().unwrap().contains("data line 2001"));
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
