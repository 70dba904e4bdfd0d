//! `em-binned`: EM on the exact grouped-data likelihood (docs/histfit.md, "em-binned"), and the per-edge
//! distribution values it shares with the goodness of fit (docs/histfit.md, "Goodness of fit").
use crate::binned::{Binned, CHUNK, RESCALE, TINY, add_in_order, map_chunks};
use crate::em::{FitOutcome, par, rebuild};
use crate::families::{Dist, Family};
use crate::mixture::Mixture;
use crate::ndtr::lognorm_edges;
use flowlab_abi::{Host, PluginError, Termination};
use rayon::prelude::*;

/// Options of `em-binned`.
#[derive(Debug, Clone, Copy)]
pub struct BinnedOptions {
    /// Cap on iterations: M-steps (evaluations of the EM map), plain or accelerated, plus the
    /// quasi-Newton polish's evaluations of ℓ and its gradient (one E-step each).
    pub max_iterations: u64,
    /// Stop when one EM step from the current iterate raises the binned log-likelihood per
    /// unit by less than this.
    pub tolerance: f64,
    /// Keep ℓ of every iterate in [`FitOutcome::trace`] (it is computed anyway, for the
    /// convergence test); off: only the last.
    pub trace: bool,
    /// flow-models' `--mpw`: cap on every Pareto weight, met by the constrained M-step
    /// [`capped_weights`] (the other weights renormalised, `docs/histfit.md`).
    pub mpw: Option<f64>,
    /// Acceleration of the EM map.
    pub accel: Accel,
    /// With `accel = squarem`: polish by quasi-Newton steps once SQUAREM has slowed
    /// ([`crate::qn`], `docs/histfit.md`); what the `fit` task does. `false` gives SQUAREM
    /// alone (kept to measure the polish against it).
    pub polish: bool,
}

/// Acceleration of em-binned's EM map (`docs/histfit.md`, "em-binned convergence").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    /// SQUAREM (scheme S3 with an adaptive step bound and a monotonicity fallback): every
    /// accepted iterate is an M-step output and ℓ never falls.
    #[default]
    Squarem,
    /// Plain EM: one M-step per iteration.
    None,
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
    /// Edges of the histogram rows: the lower edges `bin_lo − 1` of rows 1… and the upper
    /// edges `bin_hi − 1`, sorted and deduplicated. Rows come sorted, so both lists are
    /// ascending and one merge builds the edges and every row's indices (2 ms less than a sort
    /// and two binary searches per row on a 24 000-row column, the larger part of a goodness of
    /// fit); lists that are not ascending (or hold a NaN) take the sort.
    pub fn new(data: &Binned) -> Edges {
        let lo = |r: usize| data.x[r + 1] - 1.0;
        let hi = |r: usize| data.hi[r] - 1.0;
        let (nl, nh) = (data.len().saturating_sub(1), data.len());
        let ascending = |n: usize, v: &dyn Fn(usize) -> f64| (0..n).all(|r| !v(r).is_nan()) && (1..n).all(|r| v(r - 1) < v(r) || v(r - 1).to_bits() == v(r).to_bits());
        let (e, idx) = if ascending(nl, &lo) && ascending(nh, &hi) { Self::merge(nl, lo, nh, hi) } else { Self::sorted(&(0..nl).map(lo).collect::<Vec<_>>(), &(0..nh).map(hi).collect::<Vec<_>>()) };
        let ln_e = e.iter().map(|&v| if v > 0.0 { v.ln() } else { f64::NEG_INFINITY }).collect();
        Edges { e, ln_e, idx }
    }

    /// Merges two ascending lists (`nl` values `lo(i)`, `nh` values `hi(j)`) without repeats;
    /// equal values (same bits) share one edge. Row r's indices are (lo(r − 1), hi(r)).
    fn merge(nl: usize, lo: impl Fn(usize) -> f64, nh: usize, hi: impl Fn(usize) -> f64) -> (Vec<f64>, Vec<(Option<usize>, usize)>) {
        let mut e: Vec<f64> = Vec::with_capacity(nl + nh);
        let mut idx = vec![(None, 0); nh];
        let (mut i, mut j) = (0, 0);
        while i < nl || j < nh {
            let v = if j == nh || (i < nl && lo(i).total_cmp(&hi(j)).is_le()) { lo(i) } else { hi(j) };
            if e.last().is_none_or(|l| l.to_bits() != v.to_bits()) {
                e.push(v);
            }
            let p = e.len() - 1;
            while i < nl && lo(i).to_bits() == v.to_bits() {
                idx[i + 1].0 = Some(p);
                i += 1;
            }
            while j < nh && hi(j).to_bits() == v.to_bits() {
                idx[j].1 = p;
                j += 1;
            }
        }
        (e, idx)
    }

    /// Any order: sort, deduplicate, and find each row's edges by binary search.
    fn sorted(lo: &[f64], hi: &[f64]) -> (Vec<f64>, Vec<(Option<usize>, usize)>) {
        let mut e: Vec<f64> = lo.iter().chain(hi).copied().collect();
        e.sort_by(f64::total_cmp);
        e.dedup_by(|a, b| a.to_bits() == b.to_bits());
        let pos = |v: f64| e.binary_search_by(|p| p.total_cmp(&v)).expect("edge present");
        let idx = (0..hi.len()).map(|r| ((r > 0).then(|| pos(lo[r - 1])), pos(hi[r]))).collect();
        (e, idx)
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
    /// S = 1 − F at edge i.
    #[inline]
    pub(crate) fn s(&self, i: usize) -> f64 {
        self.v[i][1]
    }
    /// `[F, S, t, φ(t)]` of every edge.
    pub(crate) fn values(&self) -> &[[f64; 4]] {
        &self.v
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
            self.v.par_chunks_mut(CHUNK).zip(edges.e.par_chunks(CHUNK).zip(edges.ln_e.par_chunks(CHUNK))).for_each(|(out, (e, le))| lognorm_edges(out, e, le, d, moments));
        } else if d.family == Family::Uniform && !edges.e.first().is_some_and(|x| x.is_nan()) && !edges.e.last().is_some_and(|x| x.is_nan()) {
            // Dist::sf and Dist::cdf of a uniform, written out (the same operations, so the
            // same bits). z = (x − loc)/scale never decreases along the ascending edges (IEEE
            // subtraction and division by scale > 0 are monotone), so the edges with z ≤ 0 all
            // get [0, 1] and those with z ≥ 1 all get [1, 0], as the formula gives them; only
            // the edges inside the support are computed (a few of 47 000 on a length column).
            // The edges are sorted by total order, so a NaN, if any, is at one end
            let (loc, scale) = (d.loc, d.scale);
            let z = |x: f64| (x - loc) / scale;
            let a = edges.e.partition_point(|&x| z(x) <= 0.0);
            let b = a + edges.e[a..].partition_point(|&x| z(x) < 1.0);
            self.v[..a].fill([0.0, 1.0, 0.0, 0.0]);
            self.v[b..].fill([1.0, 0.0, 0.0, 0.0]);
            for (o, &x) in self.v[a..b].iter_mut().zip(&edges.e[a..b]) {
                let z = z(x);
                let s = (1.0 - z).clamp(0.0, 1.0);
                let f = z.clamp(0.0, 1.0);
                *o = if s < 0.5 { [1.0 - s, s, 0.0, 0.0] } else { [f, 1.0 - f, 0.0, 0.0] };
            }
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
        lg[r] = if ok { c[r] * kernels::ln::ln(sr) } else { 0.0 };
    }
    // a bin far in every component's tail (s below TINY): c/s may overflow where each
    // w p_j c/s is finite, so there c/(s·2^600) with p_j·2^600 below (exact powers of two: a
    // bin that did not overflow keeps its bits; `sc` is 1 elsewhere)
    let small = s.iter().fold(false, |z, &v| z | (v > 0.0 && v < TINY));
    let mut sc = vec![1.0; if small { n } else { 0 }];
    for r in (0..sc.len()).filter(|&r| s[r] > 0.0 && s[r] < TINY && c[r] != 0.0) {
        sc[r] = RESCALE;
        cs[r] = c[r] / (s[r] * RESCALE);
    }
    let lost = c.iter().zip(&s).fold(false, |z, (&cr, &sr)| z | (cr != 0.0 && !(sr > 0.0)));
    out[0] = if lost { f64::NEG_INFINITY } else { sum4(n, |r| lg[r]) };
    let (mut e1, mut e2, mut cr) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for (q, &j) in live.iter().enumerate() {
        let pj = &p[q * n..(q + 1) * n];
        let w = comps[j].0;
        if small {
            for r in 0..n {
                cr[r] = w * (pj[r] * sc[r]) * cs[r];
            }
        } else {
            for r in 0..n {
                cr[r] = w * pj[r] * cs[r];
            }
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
                    if z > 1e-300 { (mu + sg * m1, mu * mu + sg * sg + 2.0 * mu * sg * m1 + sg * sg * (upu - vpv) * inv_z) } else { (mid, mid * mid) }
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

kernels::dispatch! {
    /// [`bin_chunk_body`] on the active instruction-set path (no FMA: the same IEEE
    /// operations and bits as the baseline build; wider vectors and gathers).
    fn bin_chunk(ctx: &BinCtx, a: usize, b: usize) -> Vec<f64> => bin_chunk_body
}

/// The E-step of em-binned over one histogram: the edges and every component's edge values,
/// refilled only when a component's distribution changed.
struct Estep<'a> {
    data: &'a Binned,
    edges: Edges,
    vals: Vec<EdgeVals>,
}

/// ℓ and the sufficient statistics of one E-step (`[ℓ, (A0, A1, A2) per component]`, see
/// [`bin_chunk_body`]).
struct Stats(Vec<f64>);

impl Stats {
    /// ℓ per unit.
    fn ll(&self, total: f64) -> f64 {
        self.0[0] / total
    }
}

impl Estep<'_> {
    fn run(&mut self, comps: &[(f64, Dist)], pool: Option<&rayon::ThreadPool>) -> Stats {
        let k = comps.len();
        let (data, edges) = (self.data, &self.edges);
        par(pool, || {
            for (v, (_, d)) in self.vals.iter_mut().zip(comps) {
                v.fill(d, edges, true);
            }
        });
        let vals = &self.vals;
        // ln scale of each lognormal (μ of ln X)
        let mus: Vec<f64> = comps.iter().map(|(_, d)| d.scale.ln()).collect();
        // per component: the first bin whose lower edge has S = 0 exactly (e.g. a uniform's
        // support ends there); it and every later bin get p = 0 (S is non-increasing), the
        // value bin_prob would return
        let ends: Vec<usize> = vals.iter().map(|v| edges.idx.partition_point(|&(lo, _)| lo.is_none_or(|l| v.s(l) > 0.0))).collect();
        let ctx = BinCtx { data, edges, comps, vals, mus: &mus, ends: &ends };
        let parts = par(pool, || map_chunks(data.len(), |a, b| bin_chunk(&ctx, a, b)));
        Stats(add_in_order(parts, 1 + 3 * k))
    }
}

/// The constrained weight update of em-binned's M-step (`docs/histfit.md`, "mpw"): maximise
/// Σ_k A_k ln w_k subject to Σ_k w_k = 1 and w_p ≤ `cap` for every Pareto component p.
/// KKT: A_k/w_k = λ for a free component, A_p/w_p = λ + μ_p with μ_p ≥ 0 for a capped one,
/// so w_k = A_k/λ with λ = Σ_free A / (1 − |C|·cap), and the capped set C grows, one pass
/// at a time, by every free Pareto with A_p/λ > cap (λ only falls as C grows, so a capped
/// component stays capped). Without a cap, or with none binding: w_k = A_k/N, the plain
/// M-step. `Err` when the cap cannot be met (every component with mass is a capped Pareto).
pub fn capped_weights(a: &[f64], pareto: &[bool], cap: Option<f64>, total: f64) -> Result<Vec<f64>, String> {
    let plain: Vec<f64> = a.iter().map(|&x| x / total).collect();
    let Some(cap) = cap else { return Ok(plain) };
    if !pareto.iter().zip(&plain).any(|(&p, &w)| p && w > cap) {
        return Ok(plain);
    }
    let mut capped = vec![false; a.len()];
    loop {
        let free: f64 = a.iter().zip(&capped).filter(|(_, c)| !**c).map(|(x, _)| *x).sum();
        let room = 1.0 - capped.iter().filter(|c| **c).count() as f64 * cap;
        if !(free > 0.0 && room > 0.0) {
            return Err(format!("mpw = {cap}: the Pareto weights cannot all be capped at {cap} — the other components have no mass to take the rest; raise mpw or add components"));
        }
        let lambda = free / room;
        let grow: Vec<usize> = (0..a.len()).filter(|&k| pareto[k] && !capped[k] && a[k] / lambda > cap).collect();
        if grow.is_empty() {
            return Ok((0..a.len()).map(|k| if capped[k] { cap } else { a[k] / lambda }).collect());
        }
        for k in grow {
            capped[k] = true;
        }
    }
}

/// The EM map's M-step (see [`em_binned`]) from the statistics of an E-step at `comps`.
fn mstep(comps: &[(f64, Dist)], st: &Stats, total: f64, mpw: Option<f64>) -> Result<Vec<(f64, Dist)>, PluginError> {
    let acc = &st.0;
    let k = comps.len();
    let a0: Vec<f64> = (0..k).map(|j| acc[1 + 3 * j]).collect();
    let pareto: Vec<bool> = comps.iter().map(|(_, d)| d.family == Family::Genpareto).collect();
    let w = capped_weights(&a0, &pareto, mpw, total).map_err(|m| PluginError::config("mpw", m))?;
    let mut out = comps.to_vec();
    for j in 0..k {
        out[j].0 = w[j];
        if a0[j] <= 0.0 {
            continue;
        }
        let d = &comps[j].1;
        match d.family {
            Family::Lognorm => {
                let mu = acc[2 + 3 * j] / a0[j];
                let var = acc[3 + 3 * j] / a0[j] - mu * mu;
                out[j].1 = Dist { family: Family::Lognorm, shape: var.max(1e-12).sqrt(), loc: 0.0, scale: mu.exp() };
            }
            Family::Genpareto => {
                let mean_t = acc[2 + 3 * j] / a0[j];
                if mean_t > 0.0 {
                    let alpha = 1.0 / mean_t;
                    out[j].1 = Dist { family: Family::Genpareto, shape: 1.0 / alpha, loc: d.loc, scale: d.loc / alpha };
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Per coordinate of [`crate::squarem::encode`]'s layout: is it a ln weight.
fn weight_coords(comps: &[(f64, Dist)]) -> Vec<bool> {
    let mut m = Vec::with_capacity(comps.len() * 3);
    for (_, d) in comps {
        m.push(true);
        match d.family {
            Family::Lognorm => m.extend([false, false]),
            Family::Genpareto => m.push(false),
            _ => {}
        }
    }
    m
}

/// Every Pareto weight of `comps` within `mpw` (the quasi-Newton polish refuses other points,
/// so the cap holds at every point it visits, not only after the confirming EM step).
fn within_cap(comps: &[(f64, Dist)], mpw: Option<f64>) -> bool {
    mpw.is_none_or(|cap| comps.iter().all(|(w, d)| d.family != Family::Genpareto || *w <= cap))
}

/// ∂ℓ/∂p per unit at `comps` from the E-step there, `p` in [`crate::squarem::encode`]'s layout
/// (Fisher's identity: the observed-data score is the expected complete-data score, so the
/// E-step's sums give it exactly, `docs/histfit.md`, "em-binned convergence"): with weights
/// w = softmax(ln w), ∂/∂ln w_k = A0_k − N w_k (0 for a component held at weight 0);
/// lognormal ∂/∂μ = (A1 − μ A0)/σ², ∂/∂ln σ = (A2 − 2μ A1 + μ² A0)/σ² − A0; Pareto (rate α
/// of ln(X/β), c = 1/α) ∂/∂ln c = α A1 − A0. Also the diagonal of the inverse complete-data
/// information per unit, EM's metric (1/w, σ²/w, 1/(2w), 1/w), which makes a first
/// quasi-Newton step from it an EM step to first order.
fn score(comps: &[(f64, Dist)], st: &Stats, total: f64) -> (Vec<f64>, Vec<f64>) {
    let acc = &st.0;
    let (mut g, mut h) = (Vec::with_capacity(comps.len() * 3), Vec::with_capacity(comps.len() * 3));
    for (j, (w, d)) in comps.iter().enumerate() {
        let [a0, a1, a2] = [1, 2, 3].map(|q| acc[q + 3 * j] / total);
        let wi = 1.0 / w.max(1e-300);
        // a component held at weight 0 stays there (decode keeps it 0): no step along it
        g.push(if *w > 0.0 { a0 - w } else { 0.0 });
        h.push(if *w > 0.0 { wi } else { 0.0 });
        match d.family {
            Family::Lognorm => {
                let (mu, s2) = (d.scale.ln(), d.shape * d.shape);
                g.push((a1 - mu * a0) / s2);
                g.push((a2 - 2.0 * mu * a1 + mu * mu * a0) / s2 - a0);
                h.extend([s2 * wi, 0.5 * wi]);
            }
            Family::Genpareto => {
                g.push(a1 / d.shape - a0);
                h.push(wi);
            }
            _ => {}
        }
    }
    (g, h)
}

/// EM on the exact binned likelihood (grouped-data EM, docs/histfit.md, "em-binned"). E-step with the bin
/// probabilities p_ik = F_k(b−1) − F_k(a−1); M-step: weights by [`capped_weights`] (A_k/N
/// without `mpw`); uniforms fixed; lognormal (μ, σ) from the truncated-normal moments of
/// ln X in each bin,
/// `E[y] = μ + σ(φ(u) − φ(v))/Z`, `E[y²] = μ² + σ² + 2μσ(φ(u) − φ(v))/Z + σ²(uφ(u) − vφ(v))/Z`,
/// μ' = Σ c r E[y]/Σ c r, σ'² = Σ c r E[y²]/Σ c r − μ'²; frozen-loc Pareto α from the
/// truncated-exponential mean of ln(X/β): `E = t_l + 1/α − Δ/expm1(αΔ)`. No iterate lowers
/// ℓ = Σ c_i ln Σ_k π_k p_ik (plain EM, and SQUAREM's fallback keeps it so). Stops when one
/// EM step from the current iterate raises ℓ/N by less than `tolerance`
/// ([`Termination::Converged`]) or when the next step would pass `max_iterations` iterations
/// (M-steps and quasi-Newton evaluations, [`crate::qn`]; [`Termination::MaxIters`]).
pub fn em_binned(data: &Binned, start: &Mixture, opts: BinnedOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    // one hand-off into the cell's pool for the whole fit (see `em_compat`)
    par(pool, || em_binned_in(data, start, opts, host, pool))
}

fn em_binned_in(data: &Binned, start: &Mixture, opts: BinnedOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    if let Some(why) = unsupported(&start.comps) {
        return Err(PluginError::config("fitter", why));
    }
    let k = start.comps.len();
    let total = data.total;
    let mut es = Estep { data, edges: Edges::new(data), vals: (0..k).map(|_| EdgeVals::default()).collect() };
    let mut theta: Vec<(f64, Dist)> = start.comps.iter().map(|c| (c.weight, c.dist.clone())).collect();
    let wsum: f64 = theta.iter().map(|c| c.0).sum();
    for c in &mut theta {
        c.0 /= wsum;
    }
    let mut s0 = es.run(&theta, pool);
    let mut trace = vec![s0.ll(total)];
    let mut evaluations = 1u64;
    let mut termination = Termination::MaxIters;
    let mut iterations = 0u64;
    let mut steps = crate::squarem::StepBound::default();
    let mut next_polish = crate::qn::FIRST;
    let mut emitter = crate::em::Emitter::new(host);
    while iterations < opts.max_iterations {
        host.check_cancel()?;
        // one EM step from the accepted iterate: the convergence test of both schemes
        let theta1 = mstep(&theta, &s0, total, opts.mpw)?;
        iterations += 1;
        let s1 = es.run(&theta1, pool);
        evaluations += 1;
        let (l0, l1) = (s0.ll(total), s1.ll(total));
        if iterations.is_multiple_of(16) {
            host.progress(iterations, opts.max_iterations);
        }
        if l1 - l0 < opts.tolerance {
            trace.push(l1);
            theta = theta1;
            termination = Termination::Converged;
            emitter.offer(host, start, &theta, data.sum, iterations, opts.max_iterations, true);
            break;
        }
        // plain EM steps: accel = "none", the last step before the cap, and the warm-up
        if opts.accel == Accel::None || iterations >= opts.max_iterations || iterations <= crate::squarem::WARMUP {
            trace.push(l1);
            (theta, s0) = (theta1, s1);
            emitter.offer(host, start, &theta, data.sum, iterations, opts.max_iterations, iterations >= opts.max_iterations);
            continue;
        }
        // quasi-Newton polish once SQUAREM has slowed (docs/histfit.md): BFGS from θ1, then
        // one EM step from its end (the cap holds, every accepted iterate is an M-step output),
        // accepted when ℓ is at least θ1's; each of its E-steps counts as an iteration
        if opts.accel == Accel::Squarem && opts.polish && iterations >= next_polish && opts.max_iterations - iterations > 2 {
            let budget = crate::qn::BUDGET.min(opts.max_iterations - iterations - 1);
            let (g1, h0) = score(&theta1, &s1, total);
            let x0 = crate::squarem::encode(&theta1);
            let start = crate::qn::Point { x: x0.clone(), f: l1, g: g1, extra: None };
            let wmask = weight_coords(&theta1);
            let out = crate::qn::polish(start, &h0, 0.01 * opts.tolerance, budget, |x| {
                if x.iter().zip(&x0).zip(&wmask).any(|((a, b), w)| !w && (a - b).abs() > crate::qn::BOX) {
                    return None;
                }
                let comps = crate::squarem::decode(x, &theta1);
                if !within_cap(&comps, opts.mpw) {
                    return None;
                }
                let st = es.run(&comps, pool);
                let (g, _) = score(&comps, &st, total);
                Some((st.ll(total), g, Some((comps, st))))
            });
            iterations += out.evaluations;
            evaluations += out.evaluations;
            next_polish = iterations + crate::qn::EVERY;
            let mut accepted = None;
            if let Some((tb, sb)) = out.best.extra {
                let stab = mstep(&tb, &sb, total, opts.mpw)?;
                iterations += 1;
                let ss = es.run(&stab, pool);
                evaluations += 1;
                if ss.ll(total) >= l1 {
                    accepted = Some((stab, ss));
                }
            }
            let (t, s) = accepted.unwrap_or((theta1, s1));
            trace.push(s.ll(total));
            (theta, s0) = (t, s);
            continue;
        }
        // SQUAREM (docs/histfit.md): a second EM step, the extrapolation, and one EM step
        // from the extrapolated point to land on an M-step output
        let theta2 = mstep(&theta1, &s1, total, opts.mpw)?;
        iterations += 1;
        let p = [&theta, &theta1, &theta2].map(|t| crate::squarem::encode(t));
        let alpha = steps.alpha(&p[0], &p[1], &p[2], &crate::squarem::norm_scale(&theta2));
        let mut accepted = None;
        if alpha > 1.0 && iterations < opts.max_iterations {
            let ext = crate::squarem::decode(&crate::squarem::extrapolate(&p[0], &p[1], &p[2], alpha), &theta2);
            let se = es.run(&ext, pool);
            evaluations += 1;
            if se.ll(total).is_finite() {
                let stab = mstep(&ext, &se, total, opts.mpw)?;
                iterations += 1;
                let ss = es.run(&stab, pool);
                evaluations += 1;
                // monotone: never below the cycle's start (the trace holds accepted iterates)
                if ss.ll(total) >= l0 {
                    accepted = Some((stab, ss));
                }
            }
        }
        steps.update(alpha, accepted.is_some());
        let (t, s) = match accepted {
            Some(x) => x,
            None => {
                let s2 = es.run(&theta2, pool);
                evaluations += 1;
                (theta2, s2)
            }
        };
        trace.push(s.ll(total));
        (theta, s0) = (t, s);
        emitter.offer(host, start, &theta, data.sum, iterations, opts.max_iterations, iterations >= opts.max_iterations);
    }
    // a mixture that lost every bin (ℓ = −∞ from the start, e.g. components far from the
    // data) has no finite M-step: an error naming the component, never a stored NaN model
    if let Some((j, (w, d))) = theta.iter().enumerate().find(|(_, (w, d))| !(w.is_finite() && d.args().iter().all(|a| a.is_finite()))) {
        return Err(PluginError::run(format!(
            "em-binned: component {j} ({}) has no finite parameters after {iterations} iterations (weight {w}, parameters {:?}; log-likelihood per unit {}); the start gives the data's bins no probability: try another start",
            d.family.name(),
            d.args(),
            s0.ll(total)
        )));
    }
    if !opts.trace {
        trace.drain(..trace.len().saturating_sub(1));
    }
    Ok(FitOutcome { mixture: rebuild(start, theta, data.sum), iterations, evaluations, termination, trace })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::{Hist, YCol};

    /// The merge gives the edges and row indices of the sort-and-search on 3000 random
    /// ascending row sets (widths 1…4, gaps 0…3: shared and separate edges, runs of repeats).
    #[test]
    fn edge_merge_matches_sort_and_search() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(15);
        for case in 0..3000 {
            let n = rng.random_range(1..200);
            let (mut lo, mut hi) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let mut a: f64 = rng.random_range(1..5) as f64;
            for _ in 0..n {
                let b = a + rng.random_range(1..5) as f64;
                lo.push(a - 1.0);
                hi.push(b - 1.0);
                a = b + rng.random_range(0..4) as f64;
            }
            let (lo, hi) = (&lo[1..], &hi[..]);
            assert_eq!(Edges::merge(lo.len(), |i| lo[i], hi.len(), |j| hi[j]), Edges::sorted(lo, hi), "case {case}");
        }
    }

    /// The capped weight update is the KKT point of max Σ A_k ln w_k s.t. Σ w = 1, w_p ≤ cap
    /// (strictly concave, so the KKT point is the optimum), on 2000 random cases: the weights
    /// sum to 1, no Pareto weight exceeds the cap, every free weight has the same A_k/w_k = λ,
    /// every capped one A_p/cap ≥ λ; and it beats random feasible points.
    #[test]
    fn capped_weights_are_the_kkt_point() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(18);
        let mut binding = 0;
        for case in 0..2000 {
            let k = rng.random_range(2..9);
            let a: Vec<f64> = (0..k).map(|_| if rng.random_bool(0.1) { 0.0 } else { rng.random_range(0.0..1000.0) }).collect();
            let pareto: Vec<bool> = (0..k).map(|_| rng.random_bool(0.4)).collect();
            let cap = rng.random_range(0.01..0.6);
            let total: f64 = a.iter().sum();
            if total == 0.0 {
                continue; // no data: the fitter never calls it so (N > 0)
            }
            let Ok(w) = capped_weights(&a, &pareto, Some(cap), total) else {
                // refused only when the free components have no mass to take the rest
                let free: f64 = a.iter().zip(&pareto).filter(|(_, p)| !**p).map(|(x, _)| x).sum();
                assert!(free == 0.0 || pareto.iter().filter(|p| **p).count() as f64 * cap >= 1.0 - 1e-12, "case {case}");
                continue;
            };
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "case {case}: Σw = {}", w.iter().sum::<f64>());
            let capped: Vec<bool> = (0..k).map(|j| pareto[j] && w[j] == cap).collect();
            binding += usize::from(capped.iter().any(|c| *c));
            let lambda: Vec<f64> = (0..k).filter(|&j| !capped[j] && a[j] > 0.0).map(|j| a[j] / w[j]).collect();
            for l in &lambda {
                assert!((l - lambda[0]).abs() <= 1e-9 * lambda[0], "case {case}: free components differ in A/w");
            }
            for j in 0..k {
                if pareto[j] {
                    assert!(w[j] <= cap, "case {case}: Pareto weight {} above the cap {cap}", w[j]);
                }
                if capped[j] && !lambda.is_empty() {
                    assert!(a[j] / cap >= lambda[0] * (1.0 - 1e-12), "case {case}: multiplier of component {j} negative");
                }
            }
            let f = |w: &[f64]| a.iter().zip(w).map(|(x, w)| if *x > 0.0 { x * w.ln() } else { 0.0 }).sum::<f64>();
            for _ in 0..20 {
                let mut v: Vec<f64> = (0..k).map(|_| rng.random_range(0.001..1.0)).collect();
                let s: f64 = v.iter().sum();
                v.iter_mut().for_each(|x| *x /= s);
                if (0..k).all(|j| !pareto[j] || v[j] <= cap) {
                    assert!(f(&v) <= f(&w) + 1e-9 * f(&w).abs(), "case {case}: a feasible point beats the update");
                }
            }
        }
        assert!(binding > 300, "the cap binds in {binding} cases");
    }

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
