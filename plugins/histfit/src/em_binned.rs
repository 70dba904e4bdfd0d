//! `em-binned`: EM on the exact grouped-data likelihood (spec §13), and the per-edge
//! distribution values it shares with the goodness of fit (spec §12).
use crate::binned::{add_in_order, map_chunks, Binned, CHUNK};
use crate::em::{par, rebuild, FitOutcome};
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
}

/// Bin edges in x-space for the discrete semantics (spec §12): bin [a, b) holds X in
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
/// t = (ln e − μ)/σ and φ(t). One buffer per component, refilled every iteration.
#[derive(Default)]
pub(crate) struct EdgeVals {
    v: Vec<[f64; 4]>,
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
    /// (t, φ(t)) at edge i (lognormal components filled with `moments`).
    #[inline]
    fn t_phi(&self, i: usize) -> (f64, f64) {
        (self.v[i][2], self.v[i][3])
    }

    /// F and S of `d` at every edge (lognormal: Φ of the standardised log edge on the side
    /// where it is below ½, so both tails keep full relative accuracy, vectorised in
    /// [`lognorm_edges`]; others: sf when it is below ½, else cdf); `moments` also stores t
    /// and φ(t) for the truncated-moment M-step.
    /// Edges are processed in parallel chunks; every value depends on its edge alone, so the
    /// result is the same for any thread count.
    pub(crate) fn fill(&mut self, d: &Dist, edges: &Edges, moments: bool) {
        let n = edges.e.len();
        self.v.resize(n, [0.0; 4]);
        if d.family == Family::Lognorm && d.loc == 0.0 {
            self.v.par_chunks_mut(CHUNK).zip(edges.ln_e.par_chunks(CHUNK)).for_each(|(out, le)| lognorm_edges(out, le, d, moments));
        } else if d.family == Family::Uniform {
            // Dist::sf / Dist::cdf of a uniform, inline
            let (loc, scale) = (d.loc, d.scale);
            self.v.par_chunks_mut(CHUNK).zip(edges.e.par_chunks(CHUNK)).for_each(|(out, e)| {
                for (o, &x) in out.iter_mut().zip(e) {
                    let z = (x - loc) / scale;
                    let s = (1.0 - z).clamp(0.0, 1.0);
                    *o = if s < 0.5 {
                        [1.0 - s, s, 0.0, 0.0]
                    } else {
                        let f = z.clamp(0.0, 1.0);
                        [f, 1.0 - f, 0.0, 0.0]
                    };
                }
            });
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

/// EM on the exact binned likelihood (grouped-data EM, spec §13). E-step with the bin
/// probabilities p_ik = F_k(b−1) − F_k(a−1); M-step: uniforms fixed; lognormal (μ, σ) from
/// the truncated-normal moments of ln X in each bin,
/// `E[y] = μ + σ(φ(u) − φ(v))/Z`, `E[y²] = μ² + σ² + 2μσ(φ(u) − φ(v))/Z + σ²(uφ(u) − vφ(v))/Z`,
/// μ' = Σ c r E[y]/Σ c r, σ'² = Σ c r E[y²]/Σ c r − μ'²; frozen-loc Pareto α from the
/// truncated-exponential mean of ln(X/β): `E = t_l + 1/α − Δ/expm1(αΔ)`. Every iteration
/// cannot lower ℓ = Σ c_i ln Σ_k π_k p_ik. Stops when ℓ/N rises by less than `tolerance` or
/// after `max_iterations` M-steps.
pub fn em_binned(data: &Binned, start: &Mixture, opts: BinnedOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    for (j, c) in start.comps.iter().enumerate() {
        match c.dist.family {
            Family::Uniform => {}
            Family::Lognorm if c.dist.loc == 0.0 => {}
            Family::Genpareto if c.dist.shape > 0.0 => {}
            f => {
                return Err(PluginError::config(
                    "fitter",
                    format!("em-binned supports uniform, lognorm (loc 0) and genpareto (c > 0) components; component {j} is {} — use fitter = \"em-compat\"", f.name()),
                ))
            }
        }
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
        let comps_ref = &comps;
        let vals_ref = &vals;
        let edges_ref = &edges;
        // ln scale of each lognormal (μ of ln X)
        let mus: Vec<f64> = comps.iter().map(|(_, d)| d.scale.ln()).collect();
        let mus = &mus;
        // per component: the first bin whose lower edge has S = 0 exactly (e.g. a uniform's
        // support ends there); it and every later bin get p = 0 (S is non-increasing), the
        // value bin_prob would return
        let ends: Vec<usize> = vals.iter().map(|v| edges.idx.partition_point(|&(lo, _)| lo.is_none_or(|l| v.s(l) > 0.0))).collect();
        let ends_ref = &ends;
        // per chunk: ll, and per component A0 = Σcr, A1 = Σcr·E1, A2 = Σcr·E2
        let parts = par(pool, || map_chunks(data.len(), |a, b| {
            let mut out = vec![0.0; 1 + 3 * k];
            let mut d = vec![0.0; k];
            let mut p = vec![0.0; k];
            // components with mass left in this chunk (the others add exact zeros)
            let live: Vec<usize> = (0..k).filter(|&j| ends_ref[j] > a).collect();
            for i in a..b {
                let (lo, hi) = edges_ref.idx[i];
                let mut s = 0.0;
                for &j in &live {
                    // past `ends[j]` the component has no mass left (S = 0 at the lower edge)
                    p[j] = if i < ends_ref[j] { bin_prob(&vals_ref[j], lo, hi) } else { 0.0 };
                    d[j] = comps_ref[j].0 * p[j];
                    s += d[j];
                }
                let c = data.c[i];
                if c == 0.0 {
                    continue;
                }
                if !(s > 0.0) {
                    out[0] = f64::NEG_INFINITY;
                    continue;
                }
                out[0] += c * s.ln();
                let c_s = c / s;
                for &j in &live {
                    let cr = d[j] * c_s;
                    if cr == 0.0 {
                        continue;
                    }
                    out[1 + 3 * j] += cr;
                    let dist = &comps_ref[j].1;
                    let v = &vals_ref[j];
                    match dist.family {
                        Family::Lognorm => {
                            let (mu, sg) = (mus[j], dist.shape);
                            let (u, pu) = lo.map(|l| v.t_phi(l)).unwrap_or((f64::NEG_INFINITY, 0.0));
                            let (vt, pv) = v.t_phi(hi);
                            let z = p[j];
                            let upu = if u.is_finite() { u * pu } else { 0.0 };
                            let vpv = if vt.is_finite() { vt * pv } else { 0.0 };
                            let (e1, e2) = if z > 1e-300 {
                                let inv_z = 1.0 / z;
                                let m1 = (pu - pv) * inv_z;
                                (mu + sg * m1, mu * mu + sg * sg + 2.0 * mu * sg * m1 + sg * sg * (upu - vpv) * inv_z)
                            } else {
                                let al = lo.map(|l| edges_ref.ln_e[l]).unwrap_or(f64::NEG_INFINITY);
                                let be = edges_ref.ln_e[hi];
                                let mid = if al.is_finite() { 0.5 * (al + be) } else { be - 0.5 };
                                (mid, mid * mid)
                            };
                            out[2 + 3 * j] += cr * e1;
                            out[3 + 3 * j] += cr * e2;
                        }
                        Family::Genpareto => {
                            let beta = dist.loc;
                            let alpha = 1.0 / dist.shape;
                            let l = lo.map(|l| edges_ref.e[l]).unwrap_or(beta).max(beta);
                            let h = edges_ref.e[hi];
                            if h > beta {
                                let tl = (l / beta).ln();
                                let delta = (h / beta).ln() - tl;
                                let e = if delta > 0.0 { tl + 1.0 / alpha - delta / (alpha * delta).exp_m1() } else { tl };
                                out[2 + 3 * j] += cr * e;
                            }
                        }
                        _ => {}
                    }
                }
            }
            out
        }));
        let acc = add_in_order(parts, 1 + 3 * k);
        let ll = acc[0] / data.total;
        if let Some(&prev) = trace.last() {
            if ll - prev < opts.tolerance {
                trace.push(ll);
                termination = Termination::Converged;
                break;
            }
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
    Ok(FitOutcome { mixture: rebuild(start, comps, data.sum), iterations, evaluations, termination, trace })
}

