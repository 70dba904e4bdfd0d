//! Systematic starts for the EP and EEP fits (`docs/endhost.md`, "Starts"): points on and
//! near the faces of the parameter box, and EEP starts that split a second geometric off an EP
//! optimum, screened by a few EM iterations so that only the most promising reach the barrier
//! solver.
//!
//! Why: the EP and EEP likelihoods have modes where one component lives at an edge of the box,
//! which random starts (λ ~ log-U(0.01, 3), π, ρ ~ U(0.05, 0.95)) almost never reach:
//! * a geometric with a tiny rate (λ ~ 10⁻⁴ … 10⁻², mean 10²…10⁴) and a small weight carries the
//!   top of the tail while the zeta fits the body (π → 1 for EP; ρ → 1, λ₂ → 0 for EEP);
//! * a geometric with a large rate (λ ≥ 3) is a spike at k = 1;
//! * a zeta with a large α is also a spike at k = 1, the geometrics then fit the body;
//! * π → 0 or α → 1: a geometric body with a thin, very heavy zeta tail.
//!
//! The tail rates are data-driven: `λ_t = ln(1 + 1/(m_t − 1))`, the geometric MLE of the t
//! largest values (m_t their mean), from half the sample down to the single largest value
//! ([`tails`]).
use crate::data::Hist;
use crate::fit::{Bounds, em_run};
use crate::model::Model;

/// Candidates screened per fit keep this many for the barrier solve (EP).
pub const KEEP_EP: usize = 2;
/// The same for EEP.
pub const KEEP_EEP: usize = 3;
/// EEP two-tail candidates pair a tail with the next this many slower tails.
pub const PAIR_SPAN: usize = 2;
/// EM iterations per screened candidate.
pub const SCREEN_EM: u64 = 12;
/// Newton steps ([`crate::polish::polish_steps`]) from each insertion start.
pub const INSERT_NEWTON_STEPS: usize = 20;
/// EP starts inserted into the P fit ([`crate::insert::insertions`]), best predicted ℓ first.
pub const INSERT_KEEP_EP: usize = 3;
/// EEP starts inserted into the EP modes ([`best_distinct_per_group`], round-robin over the
/// [`distinct_modes`]): 10, so that two rounds over up to five modes fit (a start that cannot win
/// is cut after 4 Newton steps, so the four more than before cost 1–2 % of the fits' CPU).
pub const INSERT_KEEP_EEP: usize = 10;

/// A geometric fitted to the top of the sample: its rate and the share of observations it
/// covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tail {
    /// Geometric MLE rate `ln(1 + 1/(m − 1))` of the top observations (m their mean).
    pub rate: f64,
    /// Their share of the sample.
    pub share: f64,
}

/// The geometrics of the top `t` observations for t = n/2, n/10, n/100, n/1000, 10, 3 and 1
/// (t ≥ 1; ties at the cut are included whole), rates inside the box, descending, those within
/// 20 % of a previous rate dropped. The last ones are the modes a geometric with a tiny rate
/// makes of the few largest values.
pub fn tails(h: &Hist, b: &Bounds) -> Vec<Tail> {
    let mut sizes: Vec<f64> = [0.5, 0.1, 0.01, 0.001].iter().map(|q| q * h.n).chain([10.0, 3.0, 1.0]).filter(|&t| t >= 1.0 && t < h.n).collect();
    sizes.sort_by(|a, b| b.total_cmp(a));
    let mut out: Vec<Tail> = vec![];
    for t in sizes {
        let (mut sc, mut sk) = (0.0, 0.0);
        for j in (0..h.k.len()).rev() {
            if sc >= t {
                break;
            }
            sc += h.c[j];
            sk += h.c[j] * h.k[j];
        }
        let rate = clamp_rate((1.0 / (sk / sc - 1.0).max(0.05)).ln_1p(), b);
        if out.iter().all(|o| (o.rate / rate - 1.0).abs() > 0.2) {
            out.push(Tail { rate, share: sc / h.n });
        }
    }
    out
}

/// A start to screen, with the family it belongs to (screening keeps the best of every family
/// before filling by ℓ: the EEP families reach different modes, and one family's EM path can
/// look better early than another's optimum).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Family label (per model).
    pub family: u8,
    /// θ.
    pub theta: Vec<f64>,
}

fn family(f: u8, v: Vec<Vec<f64>>) -> impl Iterator<Item = Candidate> {
    v.into_iter().map(move |theta| Candidate { family: f, theta })
}

/// Share of observations equal to 1 (the mass a spike at k = 1 has to carry).
fn share_of_ones(h: &Hist) -> f64 {
    if h.k[0] == 1.0 { h.c[0] / h.n } else { 0.0 }
}

fn clamp_rate(l: f64, b: &Bounds) -> f64 {
    l.clamp(b.lam_min + 1e-6 * (b.lam_max - b.lam_min).min(1.0), b.lam_max * (1.0 - 1e-3))
}

fn clamp_alpha(a: f64, b: &Bounds) -> f64 {
    a.clamp(b.alpha_min + 1e-3, b.alpha_max - 1e-3)
}

/// EP candidates on and near the faces (see the module docs): (π, λ, α) with α₀ the zeta MLE
/// of all data and λ₀ the data-driven rate: a geometric on each of the [`tails`] (λ its rate,
/// 1 − π its share); π = 0.01 at λ₀; a small geometric in the body (π = 0.95, λ = λ₀, 0.1, 0.3,
/// 1); a spike at 1 by the geometric (λ = 2 and λ near its upper
/// bound, π = 1 − share of ones and π = 0.95); a spike at 1 by the zeta (α = 8, π = share of ones) at λ₀ and
/// at the slowest tail rate; a thin heavy tail (α = 1.05, π = 0.05) at λ₀.
pub fn ep_candidates(h: &Hist, b: &Bounds, lam0: f64, a0: f64) -> Vec<Candidate> {
    let ones = share_of_ones(h);
    let tails = tails(h, b);
    let mut c: Vec<Vec<f64>> = tails.iter().map(|t| vec![w(1.0 - t.share), t.rate, a0]).collect();
    c.push(vec![0.01, lam0, a0]);
    // a small geometric inside the body (weight 5 %) on a grid of rates
    for l in [lam0, 0.1, 0.3, 1.0] {
        c.push(vec![0.95, clamp_rate(l, b), a0]);
    }
    for l in [2.0, 0.8 * b.lam_max] {
        c.push(vec![w(1.0 - ones), clamp_rate(l, b), a0]);
        c.push(vec![0.95, clamp_rate(l, b), a0]);
    }
    c.push(vec![w(ones), lam0, clamp_alpha(8.0, b)]);
    if let Some(t) = tails.last() {
        c.push(vec![w(ones), t.rate, clamp_alpha(8.0, b)]);
    }
    c.push(vec![0.05, lam0, clamp_alpha(1.05, b)]);
    family(0, c).collect()
}

/// A weight pulled into [10⁻⁵, 1 − 10⁻⁵].
fn w(p: f64) -> f64 {
    p.clamp(1e-5, 1.0 - 1e-5)
}

/// EEP candidates grown from an EP optimum (π̂, λ̂, α̂) by splitting a second geometric off in
/// both directions: a slower one on each of the [`tails`] (share s) and a faster one at the
/// data-driven body rate λ₀, at 3λ̂ and as a spike at 1 (λ = 2 and near the upper bound; share
/// s = 0.05), its weight taken either from the EP geometric ((1 − π̂)·ρ_new = s) or from the zeta
/// (π̂ lowered by s, when π̂ > 2s); two slow geometrics on a pair of tails (all but the
/// widest), the zeta at α̂ keeping the rest; and the zeta's weight π̂ split, a third or two
/// thirds of it, between a spike at 1 (α = 8) and a fast geometric at each of the fast rates,
/// the EP geometric kept: the mode where the zeta carries surplus ones and the geometrics the
/// body, which starts near α̂ do not reach (docs/endhost.md, "The zeta as a spike at k = 1").
pub fn eep_candidates(ep: &[f64], h: &Hist, b: &Bounds, lam0: f64) -> Vec<Candidate> {
    let (pi, lam, a) = (w(ep[0]), clamp_rate(ep[1], b), clamp_alpha(ep[2], b));
    let ts = tails(h, b);
    let slow: Vec<(f64, f64)> = ts.iter().filter(|t| t.rate < lam).map(|t| (t.rate, t.share)).collect();
    let fast: Vec<(f64, f64)> = [lam0, 3.0 * lam, 2.0, 0.8 * b.lam_max].iter().map(|&r| clamp_rate(r, b)).filter(|r| (r / lam - 1.0).abs() > 0.2).map(|r| (r, 0.05)).collect();
    // two slow geometrics on a pair of tails, the zeta keeps the rest
    let mut pairs = vec![];
    for (i, t1) in ts.iter().enumerate().skip(1) {
        for t2 in ts[i + 1..].iter().take(PAIR_SPAN) {
            let g = (t1.share + t2.share).min(0.5);
            pairs.push(vec![w(1.0 - g), w(t1.share / g), t1.rate, t2.rate, a]);
        }
    }
    // ρ is the weight of the EP geometric within the geometrics; canonical order later
    let from_geometric = |new: &[(f64, f64)]| new.iter().map(|&(r, s)| vec![pi, w(1.0 - s / (1.0 - pi)), lam, r, a]).collect::<Vec<_>>();
    let from_zeta = |new: &[(f64, f64)]| new.iter().filter(|(_, s)| pi > 2.0 * s).map(|&(r, s)| vec![pi - s, w((1.0 - pi) / (1.0 - (pi - s))), lam, r, a]).collect::<Vec<_>>();
    // the zeta's weight π̂ split between a spike at 1 (α = 8) and a fast geometric, the EP
    // geometric kept at its weight 1 − π̂
    let spikes: Vec<Vec<f64>> = [1.0 / 3.0, 2.0 / 3.0].iter().flat_map(|&f| fast.iter().map(move |&(r, _)| vec![w(f * pi), w((1.0 - pi) / (1.0 - f * pi)), lam, r, clamp_alpha(8.0, b)])).collect();
    family(0, pairs)
        .chain(family(1, from_geometric(&slow)))
        .chain(family(2, from_zeta(&slow)))
        .chain(family(3, from_geometric(&fast)))
        .chain(family(4, from_zeta(&fast)))
        .chain(family(5, spikes))
        .collect()
}

/// The `keep` best distinct points of `cands` ((predicted ℓ, θ) pairs), best first, pulled
/// inside the box by the [`newton_margins`] `m`: these start Newton steps (insertion and
/// exchange starts), which need no more than that.
pub fn best_distinct(mut cands: Vec<(f64, Vec<f64>)>, keep: usize, lo: &[f64], hi: &[f64], m: &[(f64, f64)]) -> Vec<Vec<f64>> {
    cands.retain(|c| c.0.is_finite());
    cands.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![];
    add_distinct_in_order(&mut out, cands, keep, lo, hi, m);
    out
}

/// [`best_distinct`] over groups of candidates (the insertions into each EP mode), round-robin:
/// the best start of every group first (groups in the order of their best), then the second of
/// every group, and so on. Why: near-identical modes (a geometric spike at k = 1 ending at λ =
/// 8.2, 8.5 or 10 on a flat ridge) each give a full set of starts that all lead to one point,
/// and ranked by predicted ℓ alone they took every place from the starts of another mode that
/// reach the optimum, its best (seed 65 draw 245) or its second (seed 75 draw 274;
/// docs/endhost.md, "Starts").
pub fn best_distinct_per_group(groups: Vec<Vec<(f64, Vec<f64>)>>, keep: usize, lo: &[f64], hi: &[f64], m: &[(f64, f64)]) -> Vec<Vec<f64>> {
    let mut groups: Vec<Vec<(f64, Vec<f64>)>> = groups
        .into_iter()
        .map(|mut g| {
            g.retain(|c| c.0.is_finite());
            g.sort_by(|a, b| b.0.total_cmp(&a.0));
            g
        })
        .filter(|g| !g.is_empty())
        .collect();
    groups.sort_by(|a, b| b[0].0.total_cmp(&a[0].0));
    let mut out = vec![];
    let depth = groups.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..depth {
        if out.len() >= keep {
            break;
        }
        let nth: Vec<(f64, Vec<f64>)> = groups.iter().filter_map(|g| g.get(round).cloned()).collect();
        add_distinct_in_order(&mut out, nth, keep, lo, hi, m);
    }
    out
}

/// Modes that are one mode: every coordinate within 1 % (two barrier starts ending on the same
/// flat ridge); the first of each kept.
pub fn distinct_modes(modes: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = vec![];
    for m in modes {
        if !out.iter().any(|o| o.iter().zip(m).all(|(x, y)| (x - y).abs() <= 1e-2 * x.abs().max(y.abs()))) {
            out.push(m.clone());
        }
    }
    out
}

/// Appends `cands` in their order to `out`, pulled inside by the margins `m`, skipping points
/// the same as one already there, until `out` holds `keep`.
fn add_distinct_in_order(out: &mut Vec<Vec<f64>>, cands: Vec<(f64, Vec<f64>)>, keep: usize, lo: &[f64], hi: &[f64], m: &[(f64, f64)]) {
    for (_, t) in cands {
        if out.len() >= keep {
            break;
        }
        let t: Vec<f64> = t.iter().enumerate().map(|(i, v)| v.clamp(lo[i] + m[i].0, hi[i] - m[i].1)).collect();
        if !out.iter().any(|o| same_point(o, &t)) {
            out.push(t);
        }
    }
}

/// Screens `cands` by successive halving: `iters`/3 EM iterations each, then the better half
/// (at least 2·`keep`) continues for the remaining iterations; returns `keep` distinct end points
/// (two points are the same when every coordinate agrees to 1e-3 relative), pulled strictly
/// inside the box, with the EM iterations spent and the best end point of every family left
/// out ([`Screened`]). Both cuts first take the best point of every family (in ℓ order), then
/// the best of the rest.
pub fn screen(model: Model, h: &Hist, cands: &[Candidate], lo: &[f64], hi: &[f64], iters: u64, keep: usize) -> Screened {
    let mut spent = 0;
    let mut run = |pts: Vec<Candidate>, it: u64| -> Vec<(f64, Candidate)> {
        let mut ends: Vec<(f64, Candidate)> = pts
            .into_iter()
            .map(|c| {
                let mut r = em_run(model, h, &c.theta, lo, hi, it);
                spent += r.nf;
                model.canonical(&mut r.theta);
                (r.loglik, Candidate { family: c.family, theta: r.theta })
            })
            .filter(|(ll, _)| ll.is_finite())
            .collect();
        ends.sort_by(|a, b| b.0.total_cmp(&a.0));
        ends
    };
    let first = iters / 3;
    let mut ends = run(cands.to_vec(), first.max(1));
    if iters > first {
        let half = (2 * keep).max(ends.len().div_ceil(2));
        ends = run(pick(ends, half), iters - first);
    }
    let kept = pick(ends.clone(), keep);
    // the best end point of every family that none of the kept points is from
    let mut others: Vec<Candidate> = vec![];
    for (_, c) in ends {
        if !kept.iter().chain(&others).any(|k| k.family == c.family) {
            others.push(c);
        }
    }
    let pull = |v: Vec<Candidate>| v.into_iter().map(|c| inside(&c.theta, lo, hi)).collect();
    Screened { kept: pull(kept), others: pull(others), spent }
}

/// What [`screen`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Screened {
    /// The `keep` distinct end points (for the barrier solver), pulled inside the box.
    pub kept: Vec<Vec<f64>>,
    /// The best end point of each family not among `kept`, best first (for Newton steps: a
    /// family's mode can be behind after 12 EM steps and still be the optimum, e.g. the zeta
    /// as a spike at k = 1; docs/endhost.md, "Held-out seeds 70–73").
    pub others: Vec<Vec<f64>>,
    /// EM iterations spent.
    pub spent: u64,
}

/// Up to `n` distinct points of `ends` (sorted by ℓ, descending): the best of every family
/// first, then the best of the rest, in ℓ order.
fn pick(ends: Vec<(f64, Candidate)>, n: usize) -> Vec<Candidate> {
    let mut chosen: Vec<usize> = vec![];
    for round in 0..2 {
        for (i, (_, c)) in ends.iter().enumerate() {
            if chosen.len() == n {
                break;
            }
            let new_family = !chosen.iter().any(|&j| ends[j].1.family == c.family);
            if chosen.contains(&i) || (round == 0 && !new_family) || chosen.iter().any(|&j| same_point(&ends[j].1.theta, &c.theta)) {
                continue;
            }
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen.into_iter().map(|i| ends[i].1.clone()).collect()
}

/// Two points are the same when every coordinate agrees to 1e-3 relative.
pub fn same_point(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-3 * x.abs().max(y.abs()).max(1e-300))
}

/// θ pulled strictly inside the box (1e-6 of the width, at most 1e-6): a barrier start.
pub fn inside(th: &[f64], lo: &[f64], hi: &[f64]) -> Vec<f64> {
    pull_in(th, lo, hi, |width| 1e-6 * width.min(1.0))
}

/// How far inside the box a Newton point stays, as a share of each coordinate's width: the
/// polish's interior (`polish::polish_towards`), the insertion and exchange starts
/// ([`best_distinct`]) and the floor of the insertion rate grid (`insert::rate_grid`). The
/// barrier's 10⁻⁶ ([`inside`]) moved a tail geometric inserted at λ = 1.6·10⁻⁷ (a mean of
/// 6·10⁶ carrying a few huge values) to 10⁻⁶, where Newton found another mode 0.24 nats lower
/// (docs/endhost.md, "Starts").
pub const NEWTON_MARGIN: f64 = 1e-9;

/// A rate's lower margin is [`NEWTON_MARGIN`] of min(width, RATE_REACH / k_max): with the
/// default box (width 10) it is 10⁻⁸ up to k_max = 10⁵, and 10⁻³/k_max beyond, a thousandth
/// of the smallest rate the data can ask for (a geometric's ML rate is about 1/mean ≥ 1/k_max).
/// A fixed 10⁻⁸ held the EP geometric of counts spread over 1…10⁹ (ML rate 2.1·10⁻⁹) on that
/// face, 2 009 nats below its optimum (docs/endhost.md, "Starts").
pub const RATE_REACH: f64 = 1e6;

/// Per coordinate of `model`, the (lower, upper) distance from the faces `lo`, `hi` that a
/// Newton point keeps: `frac` of the width, a rate's lower one `frac`·min(width,
/// [`RATE_REACH`]/k_max).
pub fn newton_margins(model: Model, h: &Hist, lo: &[f64], hi: &[f64], frac: f64) -> Vec<(f64, f64)> {
    let kmax = h.k[h.k.len() - 1].max(2.0);
    model
        .names()
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let w = hi[i] - lo[i];
            (if name.starts_with("lam") { frac * w.min(RATE_REACH / kmax) } else { frac * w }, frac * w)
        })
        .collect()
}

/// θ clamped to `[lo + m, hi − m]` per coordinate, m = `margin(hi − lo)`.
fn pull_in(th: &[f64], lo: &[f64], hi: &[f64], margin: impl Fn(f64) -> f64) -> Vec<f64> {
    th.iter()
        .enumerate()
        .map(|(i, v)| {
            let w = margin(hi[i] - lo[i]);
            v.clamp(lo[i] + w, hi[i] - w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_follow_the_top_values() {
        // 1 ×1000, 10 ×100, 100 ×10, 1000 ×3, 10000 ×1 (n = 1114); ties at a cut come whole:
        // top n/2 = everything (mean 16000/1114), top n/10 = the 114 values ≥ 10, top n/100 and
        // top 10 = the 14 values ≥ 100, top 3 = the 4 values ≥ 1000, top 1 = 10000
        let h = Hist::from_pairs([(1, 1000), (10, 100), (100, 10), (1000, 3), (10000, 1)]).unwrap();
        let t = tails(&h, &Bounds::default());
        let want = |m: f64| (1.0 / (m - 1.0)).ln_1p();
        let got: Vec<(f64, f64)> = t.iter().map(|t| (t.rate, t.share)).collect();
        let n = 1114.0;
        let expect = [(16000.0 / n, 1.0), (15000.0 / 114.0, 114.0 / n), (1000.0, 14.0 / n), (3250.0, 4.0 / n), (10000.0, 1.0 / n)];
        assert_eq!(t.len(), expect.len(), "{got:?}");
        for (i, (m, s)) in expect.iter().enumerate() {
            assert!((t[i].rate - want(*m)).abs() < 1e-12 * want(*m) && (t[i].share - s).abs() < 1e-12, "{i}: {got:?}");
        }
    }

    #[test]
    fn screening_keeps_distinct_best_points_inside_the_box() {
        let h = Hist::from_pairs([(1, 50), (2, 30), (3, 10), (10, 5), (100, 3), (1000, 2)]).unwrap();
        let b = Bounds::default();
        let (lo, hi) = b.for_model(Model::EP);
        let cands = ep_candidates(&h, &b, 0.5, 2.0);
        let Screened { kept, others, spent } = screen(Model::EP, &h, &cands, &lo, &hi, SCREEN_EM, 2);
        assert!(others.is_empty(), "EP candidates are one family");
        assert!(!kept.is_empty() && kept.len() <= 2 && spent > 0);
        for k in &kept {
            assert!(k.iter().zip(lo.iter().zip(&hi)).all(|(v, (l, u))| v > l && v < u), "{k:?}");
        }
        // EM never lowers ℓ, so the best kept point is at least the best first-round end point
        let best = cands.iter().map(|c| em_run(Model::EP, &h, &c.theta, &lo, &hi, SCREEN_EM / 3).loglik).fold(f64::NEG_INFINITY, f64::max);
        assert!(Model::EP.loglik(&kept[0], &h, None) >= best - 1e-9 * best.abs());
    }

    #[test]
    fn every_group_gets_its_best_start_before_the_rest() {
        let (lo, hi) = (vec![0.0; 2], vec![10.0; 2]);
        let m = vec![(1e-9, 1e-9); 2];
        let p = |ll: f64, x: f64| (ll, vec![x, 1.0]);
        // group 0 holds the three best predictions; group 1's best is worse than all of them
        let groups = vec![vec![p(-1.0, 1.0), p(-1.1, 2.0), p(-1.2, 3.0)], vec![p(-5.0, 4.0), p(-6.0, 5.0)], vec![]];
        assert_eq!(best_distinct_per_group(groups.clone(), 2, &lo, &hi, &m), vec![vec![1.0, 1.0], vec![4.0, 1.0]]);
        assert_eq!(best_distinct_per_group(groups.clone(), 3, &lo, &hi, &m), vec![vec![1.0, 1.0], vec![4.0, 1.0], vec![2.0, 1.0]]);
        // one group is plain best_distinct; a repeated point (to 10⁻³) is taken once
        let flat: Vec<_> = groups.iter().flatten().cloned().collect();
        assert_eq!(best_distinct_per_group(vec![flat.clone()], 3, &lo, &hi, &m), best_distinct(flat, 3, &lo, &hi, &m));
        let twice = vec![vec![p(-1.0, 1.0)], vec![p(-2.0, 1.0 + 1e-6), p(-3.0, 6.0)]];
        assert_eq!(best_distinct_per_group(twice, 2, &lo, &hi, &m), vec![vec![1.0, 1.0], vec![6.0, 1.0]]);
    }

    #[test]
    fn modes_within_one_percent_are_one() {
        let m = vec![vec![0.99, 3.4212, 1.9313], vec![0.99, 3.4295, 1.9313], vec![0.99, 3.6, 1.9313], vec![0.5, 3.4212, 1.9313]];
        assert_eq!(distinct_modes(&m), vec![m[0].clone(), m[2].clone(), m[3].clone()]);
        assert!(distinct_modes(&[]).is_empty());
    }
}
