//! `em-binned`: EM on the exact grouped-data likelihood (docs/histfit.md, "em-binned"), and the per-edge
//! distribution values it shares with the goodness of fit (docs/histfit.md, "Goodness of fit").
use crate::binned::{add_in_order, map_chunks, Binned, CHUNK};
use crate::em::{fast_ln, par, rebuild, FitOutcome};
use crate::families::{Dist, Family};
use crate::ndtr::lognorm_edges;
use crate::mixture::Mixture;
use flowlab_abi::{Host, PluginError, Termination};
use rayon::prelude::*;

/// Options of `em-binned`.
#[derive(Debug, Clone, Copy)]
pub struct BinnedOptions {
    /// Iteration cap.
    pub max_iterations: u64,
    /// Stop when the binned log-likelihood per unit rises by less than this.
    pub tolerance: f64,
    /// Keep ℓ of every iteration in [`FitOutcome::trace`] (it is computed anyway, for the
    /// convergence test); off: only the last.
    pub trace: bool,
}

/// Bin edges in x-space for the discrete semantics (docs/histfit.md, "Goodness of fit"): bin [a, b) holds X in
/// (a − 1, b − 1], the first bin also everything below.
pub struct Edges {
    /// Distinct finite edges, ascending.
    pub e: Vec<f64>,
    /// ln of each edge (−∞ for an edge ≤ 0), computed once for every lognormal component.
    pub ln_e: Vec<f64>,
    /// Per bin: index of its lower edge (`None` for −∞) and upper edge.
    pub idx: Vec<(Option<usize>, usize)>,
}

impl Edges {
    /// Edges of the histogram rows.
    pub fn new(data: &Binned) -> Edges {
        let mut e: Vec<f64> = data.x.iter().skip(1).map(|a| a - 1.0).chain(data.hi.iter().map(|b| b - 1.0)).collect();
        e.sort_by(f64::total_cmp);
        e.dedup();
        let pos = |v: f64| e.binary_search_by(|p| p.total_cmp(&v)).expect("edge present");
        let idx = (0..data.len()).map(|i| ((i > 0).then(|| pos(data.x[i] - 1.0)), pos(data.hi[i] - 1.0))).collect();
        let ln_e = e.iter().map(|&v| if v > 0.0 { v.ln() } else { f64::NEG_INFINITY }).collect();
        Edges { e, ln_e, idx }
    }
}

/// Per-edge values of one component, `[F, S, t, φ(t)]` per edge: F and S each computed on
/// its accurate side and, for lognormals with `moments`, the standardised log edge
/// t = (ln e − μ)/σ and φ(t). One buffer per component, refilled when its distribution
/// changes (uniforms never do in em-binned).
#[derive(Default)]
pub(crate) struct EdgeVals {
    v: Vec<[f64; 4]>,
    /// What `v` holds: the distribution and the `moments` flag it was filled for.
    filled: Option<(Dist, bool)>,
}

impl EdgeVals {
    /// F at edge i.
    #[inline]
    pub(crate) fn f(&self, i: usize) -> f64 {
        self.v[i][0]
    }
    /// S = 1 − F at edge i.
    #[inline]
    pub(crate) fn s(&self, i: usize) -> f64 {
        self.v[i][1]
    }
    /// F and S of `d` at every edge (lognormal: Φ of the standardised log edge on the side
    /// where it is below ½, so both tails keep full relative accuracy, vectorised in
    /// [`lognorm_edges`]; others: sf when it is below ½, else cdf); `moments` also stores t
    /// and φ(t) for the truncated-moment M-step.
    /// Edges are processed in parallel chunks; every value depends on its edge alone, so the
    /// result is the same for any thread count.
    pub(crate) fn fill(&mut self, d: &Dist, edges: &Edges, moments: bool) {
        let n = edges.e.len();
        if self.v.len() == n && self.filled.as_ref().is_some_and(|(f, m)| f == d && *m == moments) {
            return;
        }
        self.filled = Some((d.clone(), moments));
        self.v.resize(n, [0.0; 4]);
        if d.family == Family::Lognorm && d.loc == 0.0 {
            self.v.par_chunks_mut(CHUNK).zip(edges.ln_e.par_chunks(CHUNK)).for_each(|(out, le)| lognorm_edges(out, le, d, moments));
        } else {
            self.v.par_chunks_mut(CHUNK).zip(edges.e.par_chunks(CHUNK)).for_each(|(out, e)| {
                for (o, &x) in out.iter_mut().zip(e) {
                    let s = d.sf(x);
                    *o = if s < 0.5 {
                        [1.0 - s, s, 0.0, 0.0]
                    } else {
                        let f = d.cdf(x);
                        [f, 1.0 - f, 0.0, 0.0]
                    };
                }
            });
        }
    }
}

/// P(lo < X ≤ hi) from per-edge values, from the upper tail when the lower edge is past the
/// median.
#[inline]
pub(crate) fn bin_prob(v: &EdgeVals, lo: Option<usize>, hi: usize) -> f64 {
    match lo {
        None => v.f(hi),
        Some(l) => {
            if v.s(l) < 0.5 {
                (v.s(l) - v.s(hi)).max(0.0)
            } else {
                (v.f(hi) - v.f(l)).max(0.0)
            }
        }
    }
}

/// `v[i]` without the bounds check, so the gathers of the E-step vectorise.
/// Callers have checked `i < v.len()` for every index of the chunk (`bound` in
/// [`bin_chunk_body`]).
#[inline(always)]
fn at<T: Copy>(v: &[T], i: usize) -> T {
    debug_assert!(i < v.len());
    // SAFETY: every index passed here is below the chunk's `bound`, asserted ≤ v.len().
    unsafe { *v.get_unchecked(i) }
}

/// Σ_{r<n} f(r) in four interleaved lanes added as (l0 + l1) + (l2 + l3): a fixed order
/// (deterministic for any thread count and vector width) that breaks the add latency chain.
#[inline(always)]
fn sum4(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let full = n / 4 * 4;
    for g in (0..full).step_by(4) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += f(g + l);
        }
    }
    for r in full..n {
        acc[r - full] += f(r);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// What every chunk of the em-binned E-step reads.
struct BinCtx<'a> {
    data: &'a Binned,
    edges: &'a Edges,
    comps: &'a [(f64, Dist)],
    vals: &'a [EdgeVals],
    /// ln scale per component (lognormal μ).
    mus: &'a [f64],
    /// Per component, the first bin with no mass left.
    ends: &'a [usize],
}

/// One chunk of the em-binned E-step (bins `a..b`), column by column so the per-bin
/// arithmetic vectorises: p_ik = P(bin i | component k) (docs/histfit.md, "Goodness of fit"), s_i = Σ_k π_k p_ik,
/// ℓ += c_i ln s_i, r_ik c_i = π_k p_ik c_i/s_i, and the truncated moments E1 = E[ln X | bin],
/// E2 = E[(ln X)² | bin] of each lognormal (docs/histfit.md, "em-binned"). Returns `[ℓ, (Σcr, Σcr·E1, Σcr·E2) per
/// component]`. Every sum has a fixed order ([`sum4`]), so the result does not depend on the
/// vector width or on how chunks are spread over threads.
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(s > 0)` on purpose: a NaN total counts as lost
fn bin_chunk_body(ctx: &BinCtx, a: usize, b: usize) -> Vec<f64> {
    let BinCtx { data, edges, comps, vals, mus, ends } = *ctx;
    let k = comps.len();
    let n = b - a;
    let head = a == 0;
    let mut out = vec![0.0; 1 + 3 * k];
    // components with mass left in this chunk (the others add exact zeros)
    let live: Vec<usize> = (0..k).filter(|&j| ends[j] > a).collect();
    // edge indices per bin; the first bin has no lower edge (patched below)
    let (mut lo, mut hi) = (vec![0usize; n], vec![0usize; n]);
    for r in 0..n {
        let (l, h) = edges.idx[a + r];
        lo[r] = l.unwrap_or(h);
        hi[r] = h;
    }
    // every edge index of the chunk is below this (checked against each component's values
    // before the unchecked gathers below)
    let bound = lo.iter().chain(&hi).copied().max().map_or(0, |m| m + 1);
    let mut p = vec![0.0; live.len() * n];
    let mut s = vec![0.0; n];
    for (q, &j) in live.iter().enumerate() {
        let v = &vals[j].v;
        assert!(bound <= v.len() && bound <= edges.ln_e.len(), "edge values cover every edge");
        let pj = &mut p[q * n..(q + 1) * n];
        let end = (ends[j] - a).min(n);
        for r in 0..end {
            let (l, h) = (at(v, lo[r]), at(v, hi[r]));
            pj[r] = if l[1] < 0.5 { (l[1] - h[1]).max(0.0) } else { (h[0] - l[0]).max(0.0) };
        }
        if head {
            pj[0] = v[hi[0]][0];
        }
        let w = comps[j].0;
        for (sr, &pr) in s.iter_mut().zip(pj.iter()) {
            *sr += w * pr;
        }
    }
    // c_i / s_i and c_i ln s_i (0 for empty bins and, with ℓ = −∞, for bins the mixture
    // cannot produce); the log is em-compat's vectorised fdlibm log (no fused operations)
    let c = &data.c[a..b];
    let (mut cs, mut lg) = (vec![0.0; n], vec![0.0; n]);
    for r in 0..n {
        let ok = s[r] > 0.0 && c[r] != 0.0;
        let sr = if ok { s[r] } else { 1.0 };
        cs[r] = if ok { c[r] / sr } else { 0.0 };
        lg[r] = if ok { c[r] * fast_ln(sr) } else { 0.0 };
    }
    let lost = c.iter().zip(&s).fold(false, |z, (&cr, &sr)| z | (cr != 0.0 && !(sr > 0.0)));
    out[0] = if lost { f64::NEG_INFINITY } else { sum4(n, |r| lg[r]) };
    let (mut e1, mut e2, mut cr) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for (q, &j) in live.iter().enumerate() {
        let pj = &p[q * n..(q + 1) * n];
        let w = comps[j].0;
        for r in 0..n {
            cr[r] = w * pj[r] * cs[r];
        }
        let a0 = sum4(n, |r| cr[r]);
        let (mut a1, mut a2) = (0.0, 0.0);
        let dist = &comps[j].1;
        match dist.family {
            Family::Lognorm => {
                let v = &vals[j].v;
                let (mu, sg) = (mus[j], dist.shape);
                let moments = |r: usize, u: f64, pu: f64, al: f64| -> (f64, f64) {
                    let [_, _, vt, pv] = at(v, hi[r]);
                    let z = pj[r];
                    let upu = if u.is_finite() { u * pu } else { 0.0 };
                    let vpv = if vt.is_finite() { vt * pv } else { 0.0 };
                    let inv_z = 1.0 / z;
                    let m1 = (pu - pv) * inv_z;
                    let be = at(&edges.ln_e, hi[r]);
                    let mid = if al.is_finite() { 0.5 * (al + be) } else { be - 0.5 };
                    if z > 1e-300 {
                        (mu + sg * m1, mu * mu + sg * sg + 2.0 * mu * sg * m1 + sg * sg * (upu - vpv) * inv_z)
                    } else {
                        (mid, mid * mid)
                    }
                };
                // E1, E2 per bin (the first bin has no lower edge: u = −∞, φ(u) = 0)
                for r in 0..n {
                    let [_, _, u, pu] = at(v, lo[r]);
                    (e1[r], e2[r]) = moments(r, u, pu, at(&edges.ln_e, lo[r]));
                }
                if head {
                    (e1[0], e2[0]) = moments(0, f64::NEG_INFINITY, 0.0, f64::NEG_INFINITY);
                }
                // (a zero weight skips the bin: E1/E2 of a bin with Z = 0 are not used)
                a1 = sum4(n, |r| if cr[r] != 0.0 { cr[r] * e1[r] } else { 0.0 });
                a2 = sum4(n, |r| if cr[r] != 0.0 { cr[r] * e2[r] } else { 0.0 });
            }
            Family::Genpareto => {
                let beta = dist.loc;
                let alpha = 1.0 / dist.shape;
                for r in 0..n {
                    let cr = cr[r];
                    let l = if head && r == 0 { beta } else { edges.e[lo[r]].max(beta) };
                    let h = edges.e[hi[r]];
                    if cr != 0.0 && h > beta {
                        let tl = (l / beta).ln();
                        let delta = (h / beta).ln() - tl;
                        let e = if delta > 0.0 { tl + 1.0 / alpha - delta / (alpha * delta).exp_m1() } else { tl };
                        a1 += cr * e;
                    }
                }
            }
            _ => {}
        }
        out[1 + 3 * j] = a0;
        out[2 + 3 * j] = a1;
        out[3 + 3 * j] = a2;
    }
    out
}

vector_dispatch! {
    /// [`bin_chunk_body`] on the widest vector unit the CPU has (no FMA: the same IEEE
    /// operations and bits as the baseline build; wider vectors and gathers).
    fn bin_chunk(ctx: &BinCtx, a: usize, b: usize) -> Vec<f64> => bin_chunk_body,
    avx512 = "avx512f" ["avx512f"], avx2 = "avx2" ["avx2"]
}

/// EM on the exact binned likelihood (grouped-data EM, docs/histfit.md, "em-binned"). E-step with the bin
/// probabilities p_ik = F_k(b−1) − F_k(a−1); M-step: uniforms fixed; lognormal (μ, σ) from
/// the truncated-normal moments of ln X in each bin,
/// `E[y] = μ + σ(φ(u) − φ(v))/Z`, `E[y²] = μ² + σ² + 2μσ(φ(u) − φ(v))/Z + σ²(uφ(u) − vφ(v))/Z`,
/// μ' = Σ c r E[y]/Σ c r, σ'² = Σ c r E[y²]/Σ c r − μ'²; frozen-loc Pareto α from the
/// truncated-exponential mean of ln(X/β): `E = t_l + 1/α − Δ/expm1(αΔ)`. Every iteration
/// cannot lower ℓ = Σ c_i ln Σ_k π_k p_ik. Stops when ℓ/N rises by less than `tolerance` or
/// after `max_iterations` M-steps.
pub fn em_binned(data: &Binned, start: &Mixture, opts: BinnedOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    // one hand-off into the cell's pool for the whole fit (see `em_compat`)
    par(pool, || em_binned_in(data, start, opts, host, pool))
}

fn em_binned_in(data: &Binned, start: &Mixture, opts: BinnedOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    if let Some(why) = unsupported(&start.comps) {
        return Err(PluginError::config("fitter", why));
    }
    let k = start.comps.len();
    let edges = Edges::new(data);
    let mut comps: Vec<(f64, Dist)> = start.comps.iter().map(|c| (c.weight, c.dist.clone())).collect();
    let wsum: f64 = comps.iter().map(|c| c.0).sum();
    for c in &mut comps {
        c.0 /= wsum;
    }
    let mut trace = vec![];
    let mut termination = Termination::MaxIters;
    let mut iterations = 0;
    let mut vals: Vec<EdgeVals> = (0..k).map(|_| EdgeVals::default()).collect();
    loop {
        host.check_cancel()?;
        par(pool, || {
            for (v, (_, d)) in vals.iter_mut().zip(&comps) {
                v.fill(d, &edges, true);
            }
        });
        // ln scale of each lognormal (μ of ln X)
        let mus: Vec<f64> = comps.iter().map(|(_, d)| d.scale.ln()).collect();
        // per component: the first bin whose lower edge has S = 0 exactly (e.g. a uniform's
        // support ends there); it and every later bin get p = 0 (S is non-increasing), the
        // value bin_prob would return
        let ends: Vec<usize> = vals.iter().map(|v| edges.idx.partition_point(|&(lo, _)| lo.is_none_or(|l| v.s(l) > 0.0))).collect();
        let ctx = BinCtx { data, edges: &edges, comps: &comps, vals: &vals, mus: &mus, ends: &ends };
        // per chunk: ll, and per component A0 = Σcr, A1 = Σcr·E1, A2 = Σcr·E2
        let parts = par(pool, || map_chunks(data.len(), |a, b| bin_chunk(&ctx, a, b)));
        let acc = add_in_order(parts, 1 + 3 * k);
        let ll = acc[0] / data.total;
        if trace.last().is_some_and(|&prev| ll - prev < opts.tolerance) {
            trace.push(ll);
            termination = Termination::Converged;
            break;
        }
        trace.push(ll);
        if iterations >= opts.max_iterations {
            break;
        }
        // M-step
        for j in 0..k {
            let a0 = acc[1 + 3 * j];
            comps[j].0 = a0 / data.total;
            if a0 <= 0.0 {
                continue;
            }
            let d = &comps[j].1;
            match d.family {
                Family::Lognorm => {
                    let mu = acc[2 + 3 * j] / a0;
                    let var = acc[3 + 3 * j] / a0 - mu * mu;
                    comps[j].1 = Dist { family: Family::Lognorm, shape: var.max(1e-12).sqrt(), loc: 0.0, scale: mu.exp() };
                }
                Family::Genpareto => {
                    let mean_t = acc[2 + 3 * j] / a0;
                    if mean_t > 0.0 {
                        let alpha = 1.0 / mean_t;
                        comps[j].1 = Dist { family: Family::Genpareto, shape: 1.0 / alpha, loc: d.loc, scale: d.loc / alpha };
                    }
                }
                _ => {}
            }
        }
        iterations += 1;
        if iterations % 16 == 0 {
            host.progress(iterations, opts.max_iterations);
        }
    }
    let evaluations = trace.len() as u64;
    if !opts.trace {
        trace.drain(..trace.len().saturating_sub(1));
    }
    Ok(FitOutcome { mixture: rebuild(start, comps, data.sum), iterations, evaluations, termination, trace })
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::{Hist, YCol};

    /// The column-wise chunk E-step against a plain bin-by-bin computation of docs/histfit.md, "Goodness of fit" and "em-binned"
    /// (bin probabilities from `Dist::prob`, truncated-normal moments written out), on bins
    /// with gaps, widening widths and empty bins, with uniform, lognormal and Pareto components.
    #[test]
    fn chunk_estep_equals_plain_computation() {
        let mut csv = String::from("bin_lo,bin_hi,flows_sum\n");
        let mut x = 1u64;
        while x < 200_000 {
            let w = 1 + x / 64;
            let c = if x.is_multiple_of(13) { 0 } else { 1 + (x * 7919 % 101) + 50_000 / x };
            csv.push_str(&format!("{x},{},{c}\n", x + w));
            x += w + u64::from(x.is_multiple_of(7)) * 3;
        }
        let data = Binned::new(&Hist::parse(&csv, "synthetic").unwrap(), YCol::Flows).unwrap();
        let d = |n: &str, a: &[f64]| Dist::new(n, a).unwrap();
        let comps = vec![
            (0.2, d("uniform", &[0.0, 3.0])),
            (0.1, d("uniform", &[0.0, 40.0])),
            (0.3, d("lognorm", &[1.0, 0.0, 20.0])),
            (0.2, d("lognorm", &[0.3, 0.0, 900.0])),
            (0.2, d("genpareto", &[0.5, 5.0, 2.5])),
        ];
        let edges = Edges::new(&data);
        let vals: Vec<EdgeVals> = comps
            .iter()
            .map(|(_, c)| {
                let mut v = EdgeVals::default();
                v.fill(c, &edges, true);
                v
            })
            .collect();
        let mus: Vec<f64> = comps.iter().map(|(_, c)| c.scale.ln()).collect();
        let ends: Vec<usize> = vals.iter().map(|v| edges.idx.partition_point(|&(lo, _)| lo.is_none_or(|l| v.s(l) > 0.0))).collect();
        let ctx = BinCtx { data: &data, edges: &edges, comps: &comps, vals: &vals, mus: &mus, ends: &ends };
        let got = add_in_order(map_chunks(data.len(), |a, b| bin_chunk(&ctx, a, b)), 1 + 3 * comps.len());
        // plain
        let k = comps.len();
        let mut want = vec![0.0; 1 + 3 * k];
        let phi = |t: f64| if t.is_finite() { (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt() } else { 0.0 };
        for i in 0..data.len() {
            let lo = if i == 0 { f64::NEG_INFINITY } else { data.x[i] - 1.0 };
            let hi = data.hi[i] - 1.0;
            let p: Vec<f64> = comps.iter().map(|(_, c)| if i == 0 { c.cdf(hi) } else { c.prob(lo, hi) }).collect();
            let s: f64 = comps.iter().zip(&p).map(|((w, _), p)| w * p).sum();
            if data.c[i] == 0.0 {
                continue;
            }
            want[0] += data.c[i] * s.ln();
            for (j, (w, c)) in comps.iter().enumerate() {
                let cr = w * p[j] * data.c[i] / s;
                want[1 + 3 * j] += cr;
                match c.family {
                    Family::Lognorm => {
                        let (mu, sg) = (c.scale.ln(), c.shape);
                        let u = if lo > 0.0 { (lo.ln() - mu) / sg } else { f64::NEG_INFINITY };
                        let v = (hi.ln() - mu) / sg;
                        let uu = if u.is_finite() { u * phi(u) } else { 0.0 };
                        let m1 = (phi(u) - phi(v)) / p[j];
                        want[2 + 3 * j] += cr * (mu + sg * m1);
                        want[3 + 3 * j] += cr * (mu * mu + sg * sg + 2.0 * mu * sg * m1 + sg * sg * (uu - v * phi(v)) / p[j]);
                    }
                    Family::Genpareto => {
                        let (beta, alpha) = (c.loc, 1.0 / c.shape);
                        if hi > beta {
                            let tl = (lo.max(beta) / beta).ln();
                            let delta = (hi / beta).ln() - tl;
                            want[2 + 3 * j] += cr * if delta > 0.0 { tl + 1.0 / alpha - delta / (alpha * delta).exp_m1() } else { tl };
                        }
                    }
                    _ => {}
                }
            }
        }
        for (q, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-11 * w.abs().max(1e-300), "entry {q}: {g} vs {w}");
        }
        assert!(want[2 + 3 * 2] != 0.0 && want[2 + 3 * 4] != 0.0);
    }
}

/// Families whose M-step em-binned has in closed form (see [`em_binned`]): uniform (fixed),
/// lognorm with loc 0 and genpareto with c > 0 (frozen loc). A family outside this list is
/// refused when the settings are validated, before any cell runs.
pub fn family_supported(f: Family) -> bool {
    matches!(f, Family::Uniform | Family::Lognorm | Family::Genpareto)
}

/// Why em-binned cannot fit a start with these components (`None` when it can).
pub fn unsupported(comps: &[crate::mixture::Component]) -> Option<String> {
    comps.iter().enumerate().find_map(|(j, c)| {
        let ok = match c.dist.family {
            Family::Uniform => true,
            Family::Lognorm => c.dist.loc == 0.0,
            Family::Genpareto => c.dist.shape > 0.0,
            _ => false,
        };
        (!ok).then(|| format!("em-binned supports uniform, lognorm (loc 0) and genpareto (c > 0) components; component {j} is {} — use fitter = \"em-compat\"", c.dist.family.name()))
    })
}

/// The error of a `families`/`grid` entry em-binned cannot fit, naming `key.<family>`.
pub fn check_families<'a>(names: impl IntoIterator<Item = &'a String>, key: &str) -> Result<(), PluginError> {
    for name in names {
        if let Ok(f) = Family::from_name(name)
            && !family_supported(f)
        {
            return Err(PluginError::config(format!("{key}.{name}"), format!("fitter = \"em-binned\" fits uniform, lognorm and genpareto components only; `{name}` needs fitter = \"em-compat\"")));
        }
    }
    Ok(())
}
