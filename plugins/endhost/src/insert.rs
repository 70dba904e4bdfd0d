//! Component insertion and exchange (`docs/endhost.md`, "Starts"): the vertex-direction step of
//! mixture maximum likelihood, used to reach the modes where one component sits at an edge of
//! the box (a long geometric tail, a spike at k = 1, a vanishing zeta) without guessing them.
//!
//! Given a mixture density p(k) and a candidate component f(k) (a geometric of rate λ or a
//! zeta of index α), mixing it in with weight w gives
//! `G(w) = ℓ((1 − w) p + w f) − ℓ(p) = Σ_j c_j ln(1 + w (r_j − 1))`, `r_j = f(k_j)/p(k_j)`,
//! which is concave in w with `G′(0) = Σ_j c_j (r_j − 1)` (the directional derivative of the
//! mixture likelihood towards f). Its maximum over w ∈ [0, 1) (safeguarded Newton on G′) is the
//! exact gain of adding f with the other components held: the profile of the likelihood over
//! the new component's parameter, evaluated on a log grid of rates (or a grid of α). The best
//! local maxima of that profile are the starts.
//!
//! * Insertion: a component added to a smaller model's fit (EP from the P fit: a geometric; EEP
//!   from each EP mode: a second geometric, in both directions — a slow tail or a fast body).
//! * Exchange: a component of the model's own best point removed (the rest renormalised) and
//!   the same kind re-inserted at the profile's best parameter; a local search across modes
//!   (e.g. a body geometric traded for a tail geometric, a vanishing zeta's α moved off a face).
use crate::data::Hist;
use crate::fit::Bounds;
use crate::model::Model;
use crate::zeta::{log1mexp_neg, zeta};
use kernels::exp::exp_le as exp;
use kernels::ln::ln;

/// A mixture component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comp {
    /// Geometric of rate λ.
    Geo(f64),
    /// Zeta of index α.
    Zeta(f64),
}

impl Comp {
    /// ln f(k_j) for every distinct value of `h`.
    fn ln_pmf(self, h: &Hist) -> Vec<f64> {
        match self {
            Comp::Geo(l) => {
                let a = log1mexp_neg(l);
                h.km1.iter().map(|k| a - l * k).collect()
            }
            Comp::Zeta(a) => {
                let lz = zeta(a).ln();
                h.lk.iter().map(|lk| -a * lk - lz).collect()
            }
        }
    }
}

/// The weighted components of θ: the geometrics in θ order, then the zeta.
pub fn components(model: Model, th: &[f64]) -> Vec<(f64, Comp)> {
    let w = model.weights(th);
    let mut out: Vec<(f64, Comp)> = model.rates(th).into_iter().zip(&w).map(|(l, &w)| (w, Comp::Geo(l))).collect();
    out.push((w[w.len() - 1], Comp::Zeta(th[th.len() - 1])));
    out
}

/// θ of the EP or EEP model made of `comps` (one zeta and one or two geometrics, weights
/// summing to 1), in canonical order; None when the components do not make that model.
pub fn theta_of(model: Model, comps: &[(f64, Comp)]) -> Option<Vec<f64>> {
    let (mut zeta, mut geos) = (None, vec![]);
    for &(w, c) in comps {
        match c {
            Comp::Zeta(a) if zeta.is_none() => zeta = Some((w, a)),
            Comp::Zeta(_) => return None,
            Comp::Geo(l) => geos.push((w, l)),
        }
    }
    let (pz, a) = zeta?;
    let mut th = match (model, geos.as_slice()) {
        (Model::EP, [(_, l)]) => vec![pz, *l, a],
        (Model::EEP, [(w1, l1), (w2, l2)]) => vec![pz, w1 / (w1 + w2), *l1, *l2, a],
        _ => return None,
    };
    model.canonical(&mut th);
    Some(th)
}

/// ln p(k_j) of the mixture `comps` for every distinct value (max-shifted log-sum-exp).
pub fn ln_mixture(comps: &[(f64, Comp)], h: &Hist) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = comps.iter().map(|(w, c)| c.ln_pmf(h).into_iter().map(|v| v + w.ln()).collect()).collect();
    // per value m = max of the parts, then m + ln Σ e^{part − m} in the order of the parts:
    // one pass per part over all values (loops that vectorise), the same operations per value
    let n = h.k.len();
    let mut m = vec![f64::NEG_INFINITY; n];
    for p in &parts {
        m.iter_mut().zip(p).for_each(|(mj, &pj)| *mj = mj.max(pj));
    }
    let mut s = vec![0.0; n];
    for p in &parts {
        s.iter_mut().zip(p).zip(&m).for_each(|((sj, &pj), &mj)| *sj += exp(pj - mj));
    }
    m.iter().zip(&s).map(|(&mj, &sj)| mj + ln(sj)).collect()
}

/// Largest inserted weight (the base mixture keeps at least 10⁻⁹).
const W_MAX: f64 = 1.0 - 1e-9;

/// The quadratic model of the gain G (module docs) from G′(0) = Σ c (r − 1) and
/// −G″(0) = Σ c (r − 1)²: G′(0)²/(−2G″(0)) when its maximiser is below 1, else its value at
/// w = 1; 0 when G′(0) ≤ 0. One pass: it ranks the grid, [`best_weight`] then solves the
/// local maxima exactly.
pub fn quick_gain(h: &Hist, ln_f: &[f64], ln_p: &[f64]) -> f64 {
    let (mut g, mut q) = ([0.0; 4], [0.0; 4]);
    for (j, (f, p)) in ln_f.iter().zip(ln_p).enumerate() {
        let r = exp((f - p).min(700.0)) - 1.0;
        g[j % 4] += h.c[j] * r;
        q[j % 4] += h.c[j] * r * r;
    }
    quadratic_gain((g[0] + g[1]) + (g[2] + g[3]), (q[0] + q[1]) + (q[2] + q[3]))
}

/// [`quick_gain`] of the component `comp`, ln f(k_j) = `a − b·x_j` (a geometric: a = ln(1 −
/// e^{−λ}), b = λ, x = k − 1; a zeta: a = −ln ζ(α), b = α, x = ln k), without the vector of
/// ln f: the same sums in the same order (bit-identical), on the widest instruction-set path
/// ([`kernels::dispatch!`]); the rate and α profiles of every insertion and exchange run on it.
pub fn quick_gain_of(h: &Hist, comp: Comp, ln_p: &[f64]) -> f64 {
    let (g, q) = match comp {
        Comp::Geo(l) => gain_moments(&h.c, &h.km1, ln_p, log1mexp_neg(l), l),
        Comp::Zeta(a) => gain_moments(&h.c, &h.lk, ln_p, -zeta(a).ln(), a),
    };
    quadratic_gain(g, q)
}

/// Σ_j c_j (r_j − 1) and Σ_j c_j (r_j − 1)², r_j = exp(min(a − b·x_j − ln p_j, 700)), in 4
/// lanes (j mod 4) combined in a fixed order, as [`quick_gain`] sums them. The r_j of 64 values
/// at a time first (a loop of exps alone vectorises), then added to the 4 lanes in the order of
/// j.
#[inline(always)]
fn moments_body(c: &[f64], x: &[f64], ln_p: &[f64], a: f64, b: f64) -> (f64, f64) {
    const CHUNK: usize = 64;
    let (mut g, mut q) = ([0.0; 4], [0.0; 4]);
    let n = c.len();
    let (x, ln_p) = (&x[..n], &ln_p[..n]);
    let mut r = [0.0; CHUNK];
    for j0 in (0..n).step_by(CHUNK) {
        let m = CHUNK.min(n - j0);
        let (xs, ps) = (&x[j0..j0 + m], &ln_p[j0..j0 + m]);
        // the ratios of a chunk in one vectorised pass (min(v, 700) as a comparison: the same
        // value, NaN included)
        for ((rj, xj), pj) in r[..m].iter_mut().zip(xs).zip(ps) {
            let v = (a - b * xj) - pj;
            *rj = exp(if v < 700.0 { v } else { 700.0 }) - 1.0;
        }
        // then the sums in the order of j, lane j mod 4 (j0 is a multiple of 4)
        for (i, (&cj, &rj)) in c[j0..j0 + m].iter().zip(&r[..m]).enumerate() {
            g[i % 4] += cj * rj;
            q[i % 4] += cj * rj * rj;
        }
    }
    ((g[0] + g[1]) + (g[2] + g[3]), (q[0] + q[1]) + (q[2] + q[3]))
}

kernels::dispatch! {
    /// [`moments_body`] on the active instruction-set path (every path gives the same bits).
    fn gain_moments(c: &[f64], x: &[f64], ln_p: &[f64], a: f64, b: f64) -> (f64, f64) => moments_body
}

/// The quadratic model's gain from G′(0) = `g` and −G″(0) = `q` ([`quick_gain`]).
fn quadratic_gain(g: f64, q: f64) -> f64 {
    if !(g > 0.0) {
        0.0
    } else if g < q {
        0.5 * g * g / q
    } else {
        g - 0.5 * q
    }
}

/// The best weight w ∈ [0, W_MAX] for mixing f into p and the gain G(w) (module docs), from
/// `ln_f` and `ln_p` per distinct value. (0, 0) when G′(0) ≤ 0.
pub fn best_weight(h: &Hist, ln_f: &[f64], ln_p: &[f64]) -> (f64, f64) {
    // r − 1 per value; ratios above e^700 are capped (they only say "f explains this value")
    // (min(v, 700) as a comparison: the same value, NaN included, and the loop vectorises)
    let rm1: Vec<f64> = ln_f
        .iter()
        .zip(ln_p)
        .map(|(f, p)| {
            let v = f - p;
            exp(if v < 700.0 { v } else { 700.0 }) - 1.0
        })
        .collect();
    // G′(w) and G″(w) in 4 lanes (a fixed order of the sums, vectorisable)
    // (the quotients of 64 values at a time in a loop of divisions alone, which vectorises;
    // the sums in the order of j, lane j mod 4, the values after the last full 4 in lane 0)
    let n = rm1.len();
    let full = n / 4 * 4;
    let d = |w: f64| -> (f64, f64) {
        const CHUNK: usize = 64;
        let (mut g1, mut g2) = ([0.0; 4], [0.0; 4]);
        let mut qb = [0.0; CHUNK];
        for j0 in (0..n).step_by(CHUNK) {
            let m = CHUNK.min(n - j0);
            qb[..m].iter_mut().zip(&rm1[j0..j0 + m]).for_each(|(q, &r)| *q = r / (1.0 + w * r));
            for (j, (&c, &q)) in (j0..).zip(h.c[j0..j0 + m].iter().zip(&qb[..m])) {
                let l = if j < full { j % 4 } else { 0 };
                g1[l] += c * q;
                g2[l] -= c * q * q;
            }
        }
        ((g1[0] + g1[1]) + (g1[2] + g1[3]), (g2[0] + g2[1]) + (g2[2] + g2[3]))
    };
    let (g0, h0) = d(0.0);
    if !(g0 > 0.0) {
        return (0.0, 0.0);
    }
    // G′ decreases from G′(0) > 0: Newton from the quadratic model's maximiser, kept inside the
    // bracket [lo, hi] of the root (bisection when it leaves it); W_MAX when G′ > 0 there.
    // The weight only ranks the starts (the solver refines it): 1e-7 relative suffices
    let (mut lo, mut hi) = (0.0, W_MAX);
    let mut w = (-g0 / h0).min(W_MAX);
    for _ in 0..30 {
        let (g1, g2) = d(w);
        if g1 > 0.0 {
            lo = w;
            if w == W_MAX {
                break;
            }
        } else {
            hi = w;
        }
        let mut next = w - g1 / g2;
        if !(next > lo && next < hi) {
            next = if hi == W_MAX && next >= W_MAX { W_MAX } else { 0.5 * (lo + hi) };
        }
        let done = (next - w).abs() <= 1e-7 * w;
        w = next;
        if done {
            break;
        }
    }
    let gain = h.c.iter().zip(&rm1).map(|(c, r)| c * ln(1.0 + w * r)).sum();
    (w, gain)
}

/// Log grid of geometric rates for insertion: from 0.3/k_max (a geometric on the largest value)
/// to 0.9 λ_max (a spike at 1), ratio 2 between neighbours.
pub fn rate_grid(h: &Hist, b: &Bounds) -> Vec<f64> {
    let kmax = h.k[h.k.len() - 1].max(2.0);
    let lo = (0.3 / kmax).max(b.lam_min + crate::starts::NEWTON_MARGIN * (b.lam_max - b.lam_min).min(crate::starts::RATE_REACH / kmax));
    let hi = 0.9 * b.lam_max;
    let mut out = vec![];
    let mut l = lo;
    while l < hi {
        out.push(l);
        l *= 2.0;
    }
    out.push(hi);
    out
}

/// Grid of zeta indices for insertion: 1.05 … 9.5 (clipped into the box), denser near 1.
pub fn alpha_grid(b: &Bounds) -> Vec<f64> {
    let mut out: Vec<f64> = [1.05, 1.2, 1.45, 1.8, 2.2, 2.7, 3.3, 4.0, 4.9, 6.0, 7.5, 9.5f64].iter().map(|a| a.clamp(b.alpha_min + 1e-3, b.alpha_max - 1e-3)).collect();
    out.dedup();
    out
}

/// One insertion: the mixture after adding a component, its ℓ with the others held, and the
/// index of the grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Inserted {
    /// Components after the insertion (weights sum to 1).
    pub comps: Vec<(f64, Comp)>,
    /// ℓ of that mixture.
    pub loglik: f64,
}

/// The profile of ℓ over the inserted component's parameter: `base` (weights summing to 1)
/// with each of `cands` mixed in; returns the local maxima of the profile along the grid (ranked
/// by [`quick_gain`]), each at its [`best_weight`], in grid order (a point whose insertion
/// gains nothing is never one). With `neighbours` also the grid points next to each maximum:
/// on the coarse grid (ratio 2) a maximum can lie in one optimum's basin while the neighbour
/// starts the solver in the next one (the exchange uses it; docs/endhost.md, "Held-out seeds
/// 64–69").
pub fn profile(h: &Hist, base: &[(f64, Comp)], cands: &[Comp], neighbours: bool) -> Vec<Inserted> {
    let ln_p = ln_mixture(base, h);
    let ll0: f64 = h.c.iter().zip(&ln_p).map(|(c, l)| c * l).sum();
    let prof: Vec<f64> = cands.iter().map(|&c| quick_gain_of(h, c, &ln_p)).collect();
    let is_max = |i: usize| prof[i] > 0.0 && (i == 0 || prof[i - 1] < prof[i]) && (i + 1 == prof.len() || prof[i + 1] <= prof[i]);
    let mut out = vec![];
    for (i, &q) in prof.iter().enumerate() {
        let next_to_max = neighbours && ((i > 0 && is_max(i - 1)) || (i + 1 < prof.len() && is_max(i + 1)));
        if !(q > 0.0 && (is_max(i) || next_to_max)) {
            continue;
        }
        let (w, g) = best_weight(h, &cands[i].ln_pmf(h), &ln_p);
        if g > 0.0 {
            let mut comps: Vec<(f64, Comp)> = base.iter().map(|&(v, c)| (v * (1.0 - w), c)).collect();
            comps.push((w, cands[i]));
            out.push(Inserted { comps, loglik: ll0 + g });
        }
    }
    out
}

/// Exchange candidates of θ (module docs): for each component, the rest renormalised and the
/// same kind re-inserted at each local maximum of its profile and next to it, the zeta also at the
/// grid's largest α (a spike at k = 1) (rates on [`rate_grid`], α on
/// [`alpha_grid`]); returns θ's of `model`, each with the ℓ the insertion predicts (the others
/// held: a lower bound on what the solver reaches from it).
pub fn exchanges(model: Model, th: &[f64], h: &Hist, b: &Bounds) -> Vec<(f64, Vec<f64>)> {
    let comps = components(model, th);
    let rates = rate_grid(h, b);
    let alphas: Vec<Comp> = alpha_grid(b).into_iter().map(Comp::Zeta).collect();
    let geos: Vec<Comp> = rates.into_iter().map(Comp::Geo).collect();
    let mut out = vec![];
    for drop in 0..comps.len() {
        let rest: f64 = comps.iter().enumerate().filter(|&(i, _)| i != drop).map(|(_, c)| c.0).sum();
        if !(rest > 0.0) {
            continue;
        }
        let base: Vec<(f64, Comp)> = comps.iter().enumerate().filter(|&(i, _)| i != drop).map(|(_, &(w, c))| (w / rest, c)).collect();
        let zeta = matches!(comps[drop].1, Comp::Zeta(_));
        let grid = if zeta { &alphas } else { &geos };
        let mut found = profile(h, &base, grid, true);
        // the zeta also as a spike at k = 1 (the grid's largest α), a mode of its own that a
        // flat profile (ℓ within 0.07 nats from α = 2.7 to 9.5) has no maximum at
        if zeta
            && let Some(&spike) = alphas.last()
            && !found.iter().any(|i| i.comps.last().map(|c| c.1) == Some(spike))
        {
            found.extend(profile(h, &base, &[spike], false));
        }
        for ins in found {
            // the dropped component back near where it was leads back to θ
            let near = match (ins.comps[ins.comps.len() - 1].1, comps[drop].1) {
                (Comp::Geo(l), Comp::Geo(l0)) => (l / l0 - 1.0).abs() < 0.1,
                (Comp::Zeta(a), Comp::Zeta(a0)) => (a - a0).abs() < 0.1 * (a0 - 1.0),
                _ => false,
            };
            if let (false, Some(t)) = (near, theta_of(model, &ins.comps)) {
                out.push((ins.loglik, t));
            }
        }
    }
    out
}

/// Insertion candidates for `model` grown from the fits `from` of the model with one
/// geometric fewer (EP from P: θ = (α); EEP from EP modes): a geometric on every local maximum of
/// the rate profile; θ's with their predicted ℓ.
pub fn insertions(model: Model, from: &[Vec<f64>], h: &Hist, b: &Bounds) -> Vec<(f64, Vec<f64>)> {
    insertions_per_point(model, from, h, b).into_iter().flatten().collect()
}

/// [`insertions`] grouped by the point of `from` they were inserted into.
pub fn insertions_per_point(model: Model, from: &[Vec<f64>], h: &Hist, b: &Bounds) -> Vec<Vec<(f64, Vec<f64>)>> {
    if model == Model::P {
        return vec![];
    }
    let geos: Vec<Comp> = rate_grid(h, b).into_iter().map(Comp::Geo).collect();
    from.iter()
        .map(|th| {
            let base = if model == Model::EP { vec![(1.0, Comp::Zeta(th[0]))] } else { components(Model::EP, th) };
            profile(h, &base, &geos, false).into_iter().filter_map(|ins| theta_of(model, &ins.comps).map(|t| (ins.loglik, t))).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::sample_model;
    use flowlab_abi::seed::rng_from_u64;

    #[test]
    fn best_weight_maximises_the_concave_gain() {
        let th = [0.6, 0.3, 2.0];
        let h = Hist::from_samples(&sample_model(&mut rng_from_u64(3, "data", 0), Model::EP, &th, 3_000)).unwrap();
        let base = [(1.0, Comp::Zeta(2.0))];
        let ln_p = ln_mixture(&base, &h);
        let ln_f = Comp::Geo(0.3).ln_pmf(&h);
        let (w, g) = best_weight(&h, &ln_f, &ln_p);
        assert!(w > 0.05 && w < 0.95 && g > 0.0, "{w} {g}");
        // the gain is ℓ of the mixed model minus ℓ of the base, and no other weight does better
        let ll = |w: f64| Model::EP.loglik(&[1.0 - w, 0.3, 2.0], &h, None);
        let l0 = Model::P.loglik(&[2.0], &h, None);
        assert!((ll(w) - l0 - g).abs() < 1e-8 * l0.abs(), "{} vs {g}", ll(w) - l0);
        for d in [-1e-3, 1e-3] {
            assert!(ll(w + d) <= ll(w) + 1e-9);
        }
        // a component the data do not want gains nothing
        let (w0, g0) = best_weight(&h, &ln_p, &ln_p);
        assert_eq!((w0, g0), (0.0, 0.0));
    }

    #[test]
    fn fused_quick_gain_is_bit_identical_on_every_path() {
        // every length class of the 4 lanes, geometrics and zetas, ratios past the 700 cap
        for (n, seed) in [(1usize, 1u64), (3, 2), (4, 3), (7, 4), (64, 5), (333, 6)] {
            let x = sample_model(&mut rng_from_u64(seed, "data", 0), Model::EP, &[0.5, 0.05, 1.6], 40 * n);
            let h = Hist::from_samples(&x).unwrap();
            let ln_p = ln_mixture(&[(0.7, Comp::Zeta(2.5)), (0.3, Comp::Geo(2.0))], &h);
            for comp in [Comp::Geo(1e-4), Comp::Geo(0.05), Comp::Geo(9.0), Comp::Zeta(1.05), Comp::Zeta(3.0), Comp::Zeta(9.5)] {
                let want = quick_gain(&h, &comp.ln_pmf(&h), &ln_p);
                kernels::isa::on_every_path("endhost insert::fused_quick_gain", |v| {
                    assert_eq!(quick_gain_of(&h, comp, &ln_p).to_bits(), want.to_bits(), "{v:?} {comp:?} n {}", h.k.len());
                });
            }
        }
    }

    #[test]
    fn components_round_trip() {
        let th = [0.2, 0.7, 0.05, 1.5, 2.5];
        let c = components(Model::EEP, &th);
        let back = theta_of(Model::EEP, &c).unwrap();
        // canonical order: λ₁ > λ₂
        assert!((back[2] - 1.5).abs() < 1e-15 && (back[3] - 0.05).abs() < 1e-15 && (back[1] - 0.3).abs() < 1e-12, "{back:?}");
        let h = Hist::from_pairs([(1, 10), (3, 4), (40, 2)]).unwrap();
        let lm = ln_mixture(&c, &h);
        for (j, k) in [1u64, 3, 40].iter().enumerate() {
            assert!((lm[j] - Model::EEP.ln_pmf(&th, *k)).abs() < 1e-12);
        }
    }

    #[test]
    fn insertion_finds_a_hidden_tail() {
        // a zeta body and a 1 % geometric tail of mean 2000: the P fit's rate profile peaks
        // near the tail's rate
        let th = [0.99, 5e-4, 2.2];
        let h = Hist::from_samples(&sample_model(&mut rng_from_u64(5, "data", 0), Model::EP, &th, 20_000)).unwrap();
        let b = Bounds::default();
        let a = crate::zeta::zeta_mle(h.mean_logk(), b.alpha_max).alpha;
        let c = insertions(Model::EP, &[vec![a]], &h, &b);
        let best = c.iter().max_by(|x, y| x.0.total_cmp(&y.0)).unwrap();
        assert!(best.1[1] > 2e-4 && best.1[1] < 1.3e-3 && (1.0 - best.1[0] - 0.01).abs() < 0.005, "{:?}", best.1);
        assert!((Model::EP.loglik(&best.1, &h, None) - best.0).abs() < 1e-6 * best.0.abs());
    }
}
