//! The two fitters: `em-compat` (flow-models' EM exactly, spec §3) and `em-binned` (EM on the
//! exact grouped-data likelihood, spec §13).
use crate::binned::{add_in_order, map_chunks, Binned, CHUNK};
use crate::families::{ndtr, Dist, Family};
use crate::mixture::Mixture;
use flowlab_abi::{Host, PluginError, Termination};
use rayon::prelude::*;

/// Runs `f` inside `pool` when given (the cell's own rayon pool), else in the current context.
pub fn par<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// numpy's float64 eps (flow-models' guard for zero weights and σ).
pub const EPS: f64 = f64::EPSILON;

/// What a fitter returns.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// The fitted mixture (with `sum` set to Σ c_i).
    pub mixture: Mixture,
    /// M-steps performed.
    pub iterations: u64,
    /// Objective evaluations (E-steps, including the final scoring pass).
    pub evaluations: u64,
    /// Why it stopped.
    pub termination: Termination,
    /// Objective per unit after each E-step: flow-models' surrogate for em-compat, the exact
    /// binned log-likelihood for em-binned (the last entry scores the returned mixture).
    pub trace: Vec<f64>,
}

impl FitOutcome {
    /// The final objective per unit.
    pub fn objective(&self) -> f64 {
        self.trace.last().copied().unwrap_or(f64::NEG_INFINITY)
    }
}

/// e^x to within ~1 ulp, branch-free so loops over rows vectorise. fdlibm's method:
/// x = k ln2 + r (Cody–Waite, |r| ≤ ln2/2), `c = r − r²(P1 + r²(P2 + … + r²P5))`,
/// `e^r = 1 − ((lo − r c/(2 − c)) − hi)`, then scaling by 2^k through the exponent bits.
/// Returns 0 below −708 (callers recompute a row exactly when every term underflows).
#[inline(always)]
pub fn fast_exp(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
    const P1: f64 = 1.666_666_666_666_660_190_37e-1;
    const P2: f64 = -2.777_777_777_701_559_338_42e-3;
    const P3: f64 = 6.613_756_321_437_934_361_17e-5;
    const P4: f64 = -1.653_390_220_546_525_153_90e-6;
    const P5: f64 = 4.138_136_797_057_238_460_39e-8;
    let xc = x.clamp(-708.0, 709.0);
    let t = xc * LOG2E + SHIFT;
    let kf = t - SHIFT;
    let hi = xc - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    let ki = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let scale = f64::from_bits(((ki + 1023) as u64) << 52);
    if x < -708.0 { 0.0 } else { y * scale }
}

/// A component's density at bin_lo, specialised for the hot loop (`ln x` precomputed).
enum Fast {
    Uniform { lo: f64, hi: f64, dens: f64 },
    /// pdf = exp(−(ln x − ln scale)²/(2s²) − ln x)/(s√(2π))
    Lognorm { lnscale: f64, inv2s2: f64, coef: f64 },
    Other(Dist),
}

impl Fast {
    fn new(d: &Dist) -> Fast {
        match d.family {
            Family::Uniform => Fast::Uniform { lo: d.loc, hi: d.loc + d.scale, dens: 1.0 / d.scale },
            Family::Lognorm if d.loc == 0.0 => {
                Fast::Lognorm { lnscale: d.scale.ln(), inv2s2: 1.0 / (2.0 * d.shape * d.shape), coef: 1.0 / (d.shape * (2.0 * std::f64::consts::PI).sqrt()) }
            }
            _ => Fast::Other(d.clone()),
        }
    }
    /// `out[r] = π · pdf(x[r])` for a run of rows; `exact` uses libm's exp (fallback rows).
    #[inline(always)]
    fn fill(&self, pi: f64, x: &[f64], lnx: &[f64], out: &mut [f64], exact: bool) {
        match self {
            Fast::Uniform { lo, hi, dens } => {
                let v = dens * pi;
                for (o, &x) in out.iter_mut().zip(x) {
                    *o = if x >= *lo && x <= *hi { v } else { 0.0 };
                }
            }
            Fast::Lognorm { lnscale, inv2s2, coef } => {
                let cp = coef * pi;
                if exact {
                    for (o, &l) in out.iter_mut().zip(lnx) {
                        let t = l - lnscale;
                        *o = (-(t * t) * inv2s2 - l).exp() * cp;
                    }
                } else {
                    for (o, &l) in out.iter_mut().zip(lnx) {
                        let t = l - lnscale;
                        *o = fast_exp(-(t * t) * inv2s2 - l) * cp;
                    }
                }
            }
            Fast::Other(d) => {
                for (o, &x) in out.iter_mut().zip(x) {
                    *o = d.pdf(x) * pi;
                }
            }
        }
    }
}

/// Σ_{r<n} f(r) in eight interleaved lanes, added pairwise at the end (a fixed order, so
/// deterministic; the lanes vectorise and break the add latency chain).
#[inline(always)]
fn lanes(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut r = 0;
    while r + 8 <= n {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += f(r + l);
        }
        r += 8;
    }
    while r < n {
        acc[0] += f(r);
        r += 1;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// The weight matrix is stored per chunk of [`CHUNK`] rows as K contiguous columns
/// (`[chunk][k][row]`), so every pass over a component's rows is a contiguous loop.
fn blocks(w: &[f64], n: usize, k: usize) -> impl Iterator<Item = (usize, &[f64])> {
    w.chunks(CHUNK * k).enumerate().map(move |(ch, b)| (ch * CHUNK, &b[..k * ((n - ch * CHUNK).min(CHUNK))]))
}

/// What every chunk of the em-compat E-step reads.
struct EstepCtx<'a> {
    data: &'a Binned,
    fast: &'a [Fast],
    comps: &'a [(f64, Dist)],
    first: &'a [f64],
    centre: &'a [Option<(bool, f64)>],
    inv_cbar: f64,
}

/// One chunk of the em-compat E-step (rows `a..a+len`, block layout of [`blocks`]); returns
/// the per-component sums `[S0 | S1 | Sx | Sq]` and the chunk's objective.
#[inline(always)]
fn chunk_estep(ctx: &EstepCtx, a: usize, blk: &mut [f64]) -> (Vec<f64>, f64) {
    let EstepCtx { data, fast, comps, first, centre, inv_cbar } = *ctx;
    let k = comps.len();
    let n = data.len();
    let len = (n - a).min(CHUNK);
    let (x, lnx, c) = (&data.x[a..a + len], &data.lnx[a..a + len], &data.c[a..a + len]);
    for j in 0..k {
        fast[j].fill(comps[j].0, x, lnx, &mut blk[j * len..(j + 1) * len], false);
        if a == 0 {
            blk[j * len] = first[j];
        }
    }
    let mut s = vec![0.0; len];
    for j in 0..k {
        for (sr, v) in s.iter_mut().zip(&blk[j * len..(j + 1) * len]) {
            *sr += v;
        }
    }
    // rows where every fast exp underflowed: recompute exactly
    for r in 0..len {
        if s[r] == 0.0 && !(a == 0 && r == 0) {
            s[r] = 0.0;
            for j in 0..k {
                let mut one = [0.0];
                fast[j].fill(comps[j].0, &x[r..r + 1], &lnx[r..r + 1], &mut one, true);
                blk[j * len + r] = one[0];
                s[r] += one[0];
            }
        }
    }
    let mut obj = 0.0;
    let mut f = vec![0.0; len];
    for r in 0..len {
        if s[r] > 0.0 {
            obj += c[r] * s[r].ln();
            f[r] = c[r] / s[r] * inv_cbar;
        } else if c[r] > 0.0 {
            obj = f64::NEG_INFINITY;
        }
    }
    let mut out = vec![0.0; 4 * k];
    for j in 0..k {
        let col = &mut blk[j * len..(j + 1) * len];
        for (v, fr) in col.iter_mut().zip(&f) {
            *v *= fr;
        }
        let col = &*col;
        // only the sums the family's M-step reads (uniforms need Σw alone)
        let fam = comps[j].1.family;
        out[j] = lanes(len, |r| col[r]);
        if !matches!(fam, Family::Uniform | Family::Norm) {
            out[k + j] = lanes(len, |r| col[r] * lnx[r]);
        }
        if matches!(fam, Family::Norm | Family::Gamma) {
            out[2 * k + j] = lanes(len, |r| col[r] * x[r]);
        }
        if let Some((log, m)) = centre[j] {
            let v = if log { lnx } else { x };
            out[3 * k + j] = lanes(len, |r| {
                let t = v[r] - m;
                col[r] * t * t
            });
        }
    }
    (out, obj)
}

/// The same code compiled for AVX2 (4 lanes; no FMA, so results are bit-identical).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chunk_estep_avx2(ctx: &EstepCtx, a: usize, blk: &mut [f64]) -> (Vec<f64>, f64) {
    chunk_estep(ctx, a, blk)
}

/// The same code compiled for AVX-512F (8 lanes; no FMA, so results are bit-identical).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn chunk_estep_avx512(ctx: &EstepCtx, a: usize, blk: &mut [f64]) -> (Vec<f64>, f64) {
    chunk_estep(ctx, a, blk)
}

/// Picks the widest vector unit the CPU has (the arithmetic is the same IEEE operations in
/// the same order on every path, only the number of lanes differs).
fn chunk_estep_dispatch(ctx: &EstepCtx, a: usize, blk: &mut [f64]) -> (Vec<f64>, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { chunk_estep_avx512(ctx, a, blk) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { chunk_estep_avx2(ctx, a, blk) };
        }
    }
    chunk_estep(ctx, a, blk)
}

/// flow-models' E-step (spec §3.3) into the weight matrix `w` (layout of [`blocks`]):
/// `d_ik = π_k f_k(x_i)` (first row `π_k (F_k(x_0) − F_k(0))`), `r = d/Σ_j d` (rows with
/// Σ = 0 drop out), `w_ik = r_ik c_i / c̄`. Returns Σ_i w_ik, Σ_i w_ik ln x_i, Σ_i w_ik x_i per
/// (the latter two only for the families whose M-step reads them)
/// component, Σ_i w_ik (v_i − m_k)² with v = ln x (lognorm) or x (norm) around the current
/// centre m_k (for the variance without a second pass), and the surrogate objective
/// Σ c_i ln Σ_j d_ij / Σ c_i.
fn estep_compat(data: &Binned, comps: &[(f64, Dist)], w: &mut [f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, f64) {
    let k = comps.len();
    let n = data.len();
    let fast: Vec<Fast> = comps.iter().map(|(_, d)| Fast::new(d)).collect();
    let first: Vec<f64> = comps.iter().map(|(p, d)| (d.cdf(data.x[0]) - d.cdf(0.0)) * p).collect();
    let inv_cbar = n as f64 / data.total;
    // centre of each component's second moment: ln scale (lognorm), loc (norm)
    let centre: Vec<Option<(bool, f64)>> = comps
        .iter()
        .map(|(_, d)| match d.family {
            Family::Lognorm => Some((true, d.scale.ln())),
            Family::Norm => Some((false, d.loc)),
            _ => None,
        })
        .collect();
    let ctx = EstepCtx { data, fast: &fast, comps, first: &first, centre: &centre, inv_cbar };
    let parts: Vec<(Vec<f64>, f64)> = w.par_chunks_mut(CHUNK * k).enumerate().map(|(ch, blk)| chunk_estep_dispatch(&ctx, ch * CHUNK, blk)).collect();
    let mut acc = vec![0.0; 4 * k];
    let mut obj = 0.0;
    for (o, ob) in parts {
        for (a, v) in acc.iter_mut().zip(o) {
            *a += v;
        }
        obj += ob;
    }
    let col = |q: usize| acc[q * k..(q + 1) * k].to_vec();
    (col(0), col(1), col(2), col(3), obj / data.total)
}

/// Σ_i w_ij g(i) for one column of the weight matrix, chunk by chunk in order.
fn col_sum(data: &Binned, w: &[f64], k: usize, j: usize, g: impl Fn(usize) -> f64 + Sync + Send) -> f64 {
    let n = data.len();
    let bl: Vec<(usize, &[f64])> = blocks(w, n, k).collect();
    bl.par_iter()
        .map(|(a, b)| {
            let len = b.len() / k;
            let c = &b[j * len..(j + 1) * len];
            lanes(len, |r| c[r] * g(a + r))
        })
        .collect::<Vec<f64>>()
        .into_iter()
        .sum()
}

/// scipy.optimize.newton with fprime, maxiter 5, tol 1.48e-8, disp=False (returns the last
/// iterate), as flow-models' Weibull M-step calls it.
fn newton5(f: impl Fn(f64) -> f64, df: impl Fn(f64) -> f64, x0: f64) -> f64 {
    let mut p0 = x0;
    for _ in 0..5 {
        let fv = f(p0);
        if fv == 0.0 {
            return p0;
        }
        let d = df(p0);
        if d == 0.0 {
            return p0;
        }
        let p = p0 - fv / d;
        if (p - p0).abs() <= 1.48e-8 {
            return p;
        }
        p0 = p;
    }
    p0
}

/// ψ⁻¹ by Newton on the digamma function (statrs' bisection start, then refinement).
fn inv_digamma(y: f64) -> f64 {
    use statrs::function::gamma::digamma;
    let mut a = statrs::function::gamma::inv_digamma(y);
    for _ in 0..4 {
        // trigamma by a central difference of digamma (well-conditioned for a > 1e-3)
        let h = 1e-5 * a.max(1e-3);
        let d = (digamma(a + h) - digamma(a - h)) / (2.0 * h);
        let next = a - (digamma(a) - y) / d;
        if !(next.is_finite() && next > 0.0) {
            break;
        }
        a = next;
    }
    a
}

/// Options of `em-compat`.
#[derive(Debug, Clone, Copy)]
pub struct CompatOptions {
    /// Exactly this many iterations (flow-models' `-i`).
    pub iterations: u64,
    /// `--mpw`: cap on each Pareto weight, not renormalised.
    pub mpw: Option<f64>,
}

/// flow-models' EM, exactly (spec §3.3): E-step at `bin_lo`, M-steps per family
/// (uniform fixed; lognorm weighted normal MLE on ln x with the median rule; frozen-loc Pareto
/// α = 1/(Σw ln x/Σw − ln β); norm; gamma with ψ(a) = mean ln x − ln b̂, b̂ = mean x / a_old;
/// weibull_min with its 5 approximate Newton steps), weights π_k = Σ_i r_ik c_i / Σ c_i,
/// exactly `iterations` times, no convergence test.
pub fn em_compat(data: &Binned, start: &Mixture, opts: CompatOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    let k = start.comps.len();
    let n = data.len();
    let mut comps: Vec<(f64, Dist)> = start.comps.iter().map(|c| (c.weight, c.dist.clone())).collect();
    let mut w = vec![0.0; n * k];
    let mut trace = Vec::with_capacity(opts.iterations as usize + 1);
    for it in 0..opts.iterations {
        host.check_cancel()?;
        if it % 16 == 0 {
            host.progress(it, opts.iterations);
        }
        let (s0, s1, sx, sq, obj) = par(pool, || estep_compat(data, &comps, &mut w));
        trace.push(obj);
        let mut max_upper: f64 = 0.0;
        for (_, d) in &comps {
            match d.family {
                Family::Uniform => max_upper = max_upper.max(d.scale),
                Family::Genpareto => max_upper = max_upper.max(d.loc + 1.0),
                _ => {}
            }
        }
        for j in 0..k {
            let d = comps[j].1.clone();
            let new = match d.family {
                Family::Uniform => d,
                Family::Lognorm | Family::Norm => {
                    let log = d.family == Family::Lognorm;
                    let sumw = if s0[j] > 0.0 { s0[j] } else { EPS };
                    let mu = if log { s1[j] } else { sx[j] } / sumw;
                    // Σw(v − μ)² = Σw(v − m)² − S0(μ − m)² with m the old centre (exact algebra,
                    // no cancellation near convergence where μ ≈ m)
                    let m = if log { d.scale.ln() } else { d.loc };
                    let var = if s0[j] > 0.0 { (sq[j] / sumw - (mu - m) * (mu - m)).max(0.0) } else { 0.0 };
                    let mut sigma = var.sqrt();
                    if !(sigma > 0.0) {
                        sigma = EPS;
                    }
                    if log {
                        let scale = mu.exp();
                        if scale < max_upper { d } else { Dist { family: Family::Lognorm, shape: sigma, loc: 0.0, scale } }
                    } else {
                        Dist { family: Family::Norm, shape: 0.0, loc: mu, scale: sigma }
                    }
                }
                Family::Genpareto => {
                    let beta = d.loc;
                    let alpha = 1.0 / (s1[j] / s0[j] - beta.ln());
                    Dist { family: Family::Genpareto, shape: 1.0 / alpha, loc: beta, scale: beta / alpha }
                }
                Family::Gamma => {
                    let bhat = sx[j] / s0[j] / d.shape;
                    let ahat = inv_digamma(s1[j] / s0[j] - bhat.ln());
                    Dist { family: Family::Gamma, shape: ahat, loc: 0.0, scale: bhat }
                }
                Family::WeibullMin => {
                    let kold = d.shape;
                    let sw = s0[j];
                    let lhat = (par(pool, || col_sum(data, &w, k, j, |i| data.x[i].powf(kold))) / sw).powf(1.0 / kold);
                    let slx = s1[j];
                    let f1 = |kh: f64| 1.0 / kh * sw + slx - lhat.ln() * sw - lhat.powf(-kh) * col_sum(data, &w, k, j, |i| data.x[i].powf(kh) * (data.x[i] / lhat).ln());
                    let df1 = |kh: f64| {
                        -1.0 / (kh * kh) * sw
                            - col_sum(data, &w, k, j, |i| {
                                let q = data.x[i] / lhat;
                                q * q * q.ln() * q.ln()
                            })
                    };
                    let khat = newton5(f1, df1, 1.0);
                    Dist { family: Family::WeibullMin, shape: khat, loc: 0.0, scale: lhat }
                }
            };
            if !(new.scale > 0.0 && new.scale.is_finite() && new.shape.is_finite() && new.loc.is_finite()) {
                return Err(PluginError::run(format!(
                    "em-compat: component {j} ({}) degenerated at iteration {it} (parameters {:?}); try other starting counts",
                    new.family.name(),
                    new.args()
                )));
            }
            comps[j].1 = new;
        }
        for j in 0..k {
            let wt = s0[j] / n as f64;
            comps[j].0 = match (opts.mpw, comps[j].1.family) {
                (Some(p), Family::Genpareto) if p > 0.0 => wt.min(p),
                _ => wt,
            };
        }
    }
    // score the returned mixture with the same surrogate
    let (_, _, _, _, obj) = par(pool, || estep_compat(data, &comps, &mut w));
    trace.push(obj);
    host.progress(opts.iterations, opts.iterations);
    Ok(FitOutcome {
        mixture: rebuild(start, comps, data.sum),
        iterations: opts.iterations,
        evaluations: opts.iterations + 1,
        termination: Termination::MaxIters,
        trace,
    })
}

/// The fitted components back into a mixture, keeping the start's int/float argument kinds.
fn rebuild(start: &Mixture, comps: Vec<(f64, Dist)>, sum: u128) -> Mixture {
    let mut m = start.clone();
    for (c, (wt, d)) in m.comps.iter_mut().zip(comps) {
        c.weight = wt;
        c.dist = d;
        c.sync_args();
    }
    m.sum = Some(sum);
    m
}

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
        Edges { e, idx }
    }
}

/// Per-edge values of one component: F and S (each computed on its accurate side) and, for
/// lognormals, the standardised log edge t and φ(t).
struct EdgeVals {
    f: Vec<f64>,
    s: Vec<f64>,
    t: Vec<f64>,
    phi: Vec<f64>,
}

fn edge_vals(d: &Dist, e: &[f64]) -> EdgeVals {
    let n = e.len();
    let mut v = EdgeVals { f: vec![0.0; n], s: vec![0.0; n], t: vec![], phi: vec![] };
    if d.family == Family::Lognorm && d.loc == 0.0 {
        let mu = d.scale.ln();
        let parts = map_chunks(n, |a, b| {
            (a..b)
                .map(|i| {
                    let t = if e[i] > 0.0 { (e[i].ln() - mu) / d.shape } else { f64::NEG_INFINITY };
                    let (f, s) = if t <= 0.0 {
                        let f = ndtr(t);
                        (f, 1.0 - f)
                    } else {
                        let s = ndtr(-t);
                        (1.0 - s, s)
                    };
                    let phi = if t.is_finite() { (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt() } else { 0.0 };
                    (f, s, t, phi)
                })
                .collect::<Vec<_>>()
        });
        v.t.reserve(n);
        v.phi.reserve(n);
        for (i, (f, s, t, phi)) in parts.into_iter().flatten().enumerate() {
            v.f[i] = f;
            v.s[i] = s;
            v.t.push(t);
            v.phi.push(phi);
        }
    } else {
        for i in 0..n {
            let s = d.sf(e[i]);
            if s < 0.5 {
                v.s[i] = s;
                v.f[i] = 1.0 - s;
            } else {
                let f = d.cdf(e[i]);
                v.f[i] = f;
                v.s[i] = 1.0 - f;
            }
        }
    }
    v
}

/// P(lo < X ≤ hi) from per-edge values, from the upper tail when the lower edge is past the
/// median.
#[inline]
fn bin_prob(v: &EdgeVals, lo: Option<usize>, hi: usize) -> f64 {
    match lo {
        None => v.f[hi],
        Some(l) => {
            if v.s[l] < 0.5 {
                (v.s[l] - v.s[hi]).max(0.0)
            } else {
                (v.f[hi] - v.f[l]).max(0.0)
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
    loop {
        host.check_cancel()?;
        let vals: Vec<EdgeVals> = par(pool, || comps.iter().map(|(_, d)| edge_vals(d, &edges.e)).collect());
        let comps_ref = &comps;
        let vals_ref = &vals;
        let edges_ref = &edges;
        // per chunk: ll, and per component A0 = Σcr, A1 = Σcr·E1, A2 = Σcr·E2
        let parts = par(pool, || map_chunks(data.len(), |a, b| {
            let mut out = vec![0.0; 1 + 3 * k];
            let mut d = vec![0.0; k];
            let mut p = vec![0.0; k];
            for i in a..b {
                let (lo, hi) = edges_ref.idx[i];
                let mut s = 0.0;
                for j in 0..k {
                    p[j] = bin_prob(&vals_ref[j], lo, hi);
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
                for j in 0..k {
                    let cr = c * d[j] / s;
                    if cr == 0.0 {
                        continue;
                    }
                    out[1 + 3 * j] += cr;
                    let dist = &comps_ref[j].1;
                    let v = &vals_ref[j];
                    match dist.family {
                        Family::Lognorm => {
                            let (mu, sg) = (dist.scale.ln(), dist.shape);
                            let (pu, u) = lo.map(|l| (v.phi[l], v.t[l])).unwrap_or((0.0, f64::NEG_INFINITY));
                            let (pv, vt) = (v.phi[hi], v.t[hi]);
                            let z = p[j];
                            let upu = if u.is_finite() { u * pu } else { 0.0 };
                            let vpv = if vt.is_finite() { vt * pv } else { 0.0 };
                            let (e1, e2) = if z > 1e-300 {
                                let m1 = (pu - pv) / z;
                                (mu + sg * m1, mu * mu + sg * sg + 2.0 * mu * sg * m1 + sg * sg * (upu - vpv) / z)
                            } else {
                                let al = lo.map(|l| edges_ref.e[l].ln()).unwrap_or(f64::NEG_INFINITY);
                                let be = edges_ref.e[hi].ln();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_within_a_few_ulp() {
        let mut worst: f64 = 0.0;
        let mut x = -707.9;
        while x < 709.0 {
            let (a, b) = (fast_exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 3e-16, "worst relative error {worst:e}");
        assert_eq!(fast_exp(-800.0), 0.0);
        assert_eq!(fast_exp(0.0), 1.0);
    }
}
