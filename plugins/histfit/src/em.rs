//! `em-compat` (flow-models' EM exactly, docs/histfit.md, "em-compat") and the fit outcome
//! type (the vectorised exp/ln kernels and their dispatch are flowlab-kernels', docs/kernels.md); the other fitter, `em-binned` (EM on the
//! exact grouped-data likelihood, docs/histfit.md, "em-binned"), lives in `em_binned.rs` and is
//! re-exported here.
use crate::binned::{Binned, CHUNK, RESCALE, TINY};
use crate::families::{Dist, Family};
use crate::mixture::Mixture;
use flowlab_abi::{Host, PluginError, Termination};
use rayon::prelude::*;

pub use crate::em_binned::{BinnedOptions, Edges, em_binned};

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
    /// M-steps performed (em-binned: plus the quasi-Newton polish's evaluations of ℓ and its
    /// gradient, `docs/histfit.md`).
    pub iterations: u64,
    /// Objective evaluations (E-steps, including the final scoring pass).
    pub evaluations: u64,
    /// Why it stopped.
    pub termination: Termination,
    /// Objective per unit after each E-step: flow-models' surrogate for em-compat, the exact
    /// binned log-likelihood for em-binned (the last entry scores the returned mixture). Without
    /// a trace (`trace: false` in the options) only that last entry.
    pub trace: Vec<f64>,
}

impl FitOutcome {
    /// The final objective per unit.
    pub fn objective(&self) -> f64 {
        self.trace.last().copied().unwrap_or(f64::NEG_INFINITY)
    }
}

/// A component's density at bin_lo, specialised for the hot loop (`ln x` precomputed).
enum Fast {
    Uniform {
        lo: f64,
        hi: f64,
        dens: f64,
    },
    /// pdf = exp(−(ln x − ln scale)²/(2s²) − ln x)/(s√(2π)); `m2` = log2 scale and
    /// `a2` = ln2/(2s²) give the exponent in base 2 (see [`Fast::fill`]).
    Lognorm {
        lnscale: f64,
        inv2s2: f64,
        coef: f64,
        m2: f64,
        a2: f64,
    },
    Other(Dist),
}

impl Fast {
    fn new(d: &Dist) -> Fast {
        match d.family {
            Family::Uniform => Fast::Uniform { lo: d.loc, hi: d.loc + d.scale, dens: 1.0 / d.scale },
            Family::Lognorm if d.loc == 0.0 => {
                let (lnscale, inv2s2) = (d.scale.ln(), 1.0 / (2.0 * d.shape * d.shape));
                let coef = 1.0 / (d.shape * (2.0 * std::f64::consts::PI).sqrt());
                Fast::Lognorm { lnscale, inv2s2, coef, m2: lnscale * std::f64::consts::LOG2_E, a2: inv2s2 * std::f64::consts::LN_2 }
            }
            _ => Fast::Other(d.clone()),
        }
    }
    /// `out[r] = π · pdf(x[r])` for a run of rows, each also added to `sum[r]` (stored there
    /// when not `add`): the row sums Σ_j d_ij, formed in component order while the value is in
    /// a register.
    /// A lognormal's constant comes in as `lc` = ln(π c) and is folded into the exponent:
    /// π pdf = exp(ln(π c) − l − (l − ln scale)²/(2s²)) with l = ln x, formed in base 2 as
    /// 2^(lc·log2 e − l₂ − a₂ (l₂ − m₂)²) with l₂ = log2 x (`lnx2`), m₂ = log2 scale and
    /// a₂ = ln2/(2s²), for [`kernels::exp::exp2`].
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fill(&self, pi: f64, lc: f64, x: &[f64], lnx2: &[f64], out: &mut [f64], sum: &mut [f64], add: bool) {
        let out = out.iter_mut().zip(sum.iter_mut());
        match self {
            Fast::Uniform { lo, hi, dens } => {
                let v = dens * pi;
                for ((o, s), &x) in out.zip(x) {
                    *o = if x >= *lo && x <= *hi { v } else { 0.0 };
                    *s = if add { *s + *o } else { *o };
                }
            }
            Fast::Lognorm { m2, a2, .. } => {
                let lc2 = lc * std::f64::consts::LOG2_E;
                for ((o, s), &l2) in out.zip(lnx2) {
                    let t = l2 - m2;
                    *o = kernels::exp::exp2((-(t * a2)).mul_add(t, lc2 - l2));
                    *s = if add { *s + *o } else { *o };
                }
            }
            Fast::Other(d) => {
                for ((o, s), &x) in out.zip(x) {
                    *o = d.pdf(x) * pi;
                    *s = if add { *s + *o } else { *o };
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
    /// ln(π_k c_k) per component (the log-density's constant; used by lognormals only).
    lncp: &'a [f64],
    inv_cbar: f64,
    /// Whether to form Σ c_i ln Σ_j d_ij (the one log per row).
    objective: bool,
    /// Which components take part in each sub-block (see [`activity`]).
    act: &'a [bool],
}

/// Rows per sub-block of the fused E-step: the K density columns of a sub-block stay in L1
/// (10 components: 20 KB, plus 14 KB of per-row buffers). 256 is 3–4 % faster than 128 or 512
/// on the tutorial fit (1024: 12 % slower); the activity decisions are per sub-block, so the
/// size can change which negligible terms are skipped, never more than 2^−70 of a row sum.
const SUB: usize = 256;

/// Per-worker buffers of the fused E-step (allocated and zeroed once per rayon job, not per
/// chunk): the sums, and `rows` = the K density columns of a sub-block and 7 per-row buffers,
/// SUB each, plus 8 spare elements to start them on a 64-byte boundary (see [`chunk_estep`]).
struct Scratch {
    acc: Vec<[f64; 8]>,
    rows: Vec<f64>,
}

impl Scratch {
    fn new(k: usize) -> Scratch {
        Scratch { acc: vec![[0.0; 8]; 4 * k], rows: vec![0.0; (k + 7) * SUB + 8] }
    }
}

/// A component whose largest term on a sub-block is below e^−NEGLIGIBLE (= 2^−70) times a
/// lower bound of every row sum there is skipped on that sub-block: it would change each row
/// sum by less than 2^−70 relative (below half an ulp) and its own sums by less than 2^−70·n
/// in units of c̄, i.e. ≤ 1e-21·n/(π_k n) relative — far below the 1e-9 parity tolerance.
const NEGLIGIBLE: f64 = 70.0 * std::f64::consts::LN_2;

impl Fast {
    /// `lo[b]`, `hi[b]` = the (min, max) of ln(π·pdf) over ln x ∈ [l0[b], l1[b]] for every
    /// sub-block b, in one loop that vectorises. For a lognormal q(l) = ln(π c) − a(l − m)² − l
    /// (`lc` = ln(π c)) is concave, so the minimum is at an end and the maximum at the vertex
    /// m − 1/(2a) when it lies inside. Other families: (−∞, +∞) (never skipped, no bound).
    fn ln_ranges(&self, lc: f64, l0: &[f64], l1: &[f64], lo: &mut [f64], hi: &mut [f64]) {
        match self {
            Fast::Lognorm { lnscale, inv2s2, .. } => {
                let (m, a) = (*lnscale, *inv2s2);
                let vertex = m - 0.5 / a;
                let q = |l: f64| lc - (l - m) * (l - m) * a - l;
                for (((lo, hi), &l0), &l1) in lo.iter_mut().zip(hi.iter_mut()).zip(l0).zip(l1) {
                    *lo = q(l0).min(q(l1));
                    *hi = q(vertex.max(l0).min(l1));
                }
            }
            _ => {
                lo.fill(f64::NEG_INFINITY);
                hi.fill(f64::INFINITY);
            }
        }
    }
}

/// `act[j·nsub + b]`: whether component j takes part in sub-block b (rows b·SUB…, the
/// sub-blocks of [`chunk_estep`]; CHUNK is a multiple of SUB). The first sub-block takes every
/// component (its first row is a CDF difference); elsewhere a component is left out where it is
/// zero (a uniform beyond its support) or negligible: its largest log-term on the sub-block is
/// more than [`NEGLIGIBLE`] below `floor`, the largest lognormal minimum there (a lower bound of
/// ln Σ_j d_ij on every row of it). Decided for all sub-blocks at once, component by component,
/// in loops that vectorise (the same IEEE operations on every path, so the same decisions).
#[inline(always)]
fn activity(data: &Binned, fast: &[Fast], lncp: &[f64]) -> Vec<bool> {
    let (n, k) = (data.len(), fast.len());
    let nsub = n.div_ceil(SUB);
    let last = |b: usize| ((b + 1) * SUB).min(n) - 1;
    let ends = |v: &[f64]| -> (Vec<f64>, Vec<f64>) { ((0..nsub).map(|b| v[b * SUB]).collect(), (0..nsub).map(|b| v[last(b)]).collect()) };
    let ((l0, l1), (x0, x1)) = (ends(&data.lnx), ends(&data.x));
    let mut lo = vec![0.0; nsub * k];
    let mut hi = vec![0.0; nsub * k];
    for (j, (f, lc)) in fast.iter().zip(lncp).enumerate() {
        f.ln_ranges(*lc, &l0, &l1, &mut lo[j * nsub..(j + 1) * nsub], &mut hi[j * nsub..(j + 1) * nsub]);
    }
    let mut floor = vec![f64::NEG_INFINITY; nsub];
    for j in 0..k {
        for (fl, &v) in floor.iter_mut().zip(&lo[j * nsub..(j + 1) * nsub]) {
            *fl = fl.max(v);
        }
    }
    for fl in floor.iter_mut() {
        *fl -= NEGLIGIBLE;
    }
    let mut act = vec![true; nsub * k];
    for (j, f) in fast.iter().enumerate() {
        let a = &mut act[j * nsub..(j + 1) * nsub];
        match f {
            // zero outside [lo, hi] (may_be_nonzero); never negligible where nonzero (no bound)
            Fast::Uniform { lo: ulo, hi: uhi, .. } => {
                for ((a, &x0), &x1) in a.iter_mut().zip(&x0).zip(&x1) {
                    *a = !(x1 < *ulo || x0 > *uhi);
                }
            }
            _ => {
                for ((a, &h), &fl) in a.iter_mut().zip(&hi[j * nsub..(j + 1) * nsub]).zip(&floor) {
                    *a = h >= fl;
                }
            }
        }
        a[0] = true;
    }
    act
}

kernels::dispatch! {
    /// [`activity`] on the active instruction-set path (`kernels::Isa::active`).
    fn activity_dispatch(data: &Binned, fast: &[Fast], lncp: &[f64]) -> Vec<bool> => activity
}

/// Eight rows at a time (`n` a multiple of 8), as fixed-size arrays so the loops vectorise
/// without bounds checks.
#[inline(always)]
fn rows8(v: &[f64], n: usize) -> &[[f64; 8]] {
    v[..n].as_chunks::<8>().0
}

/// `acc[l] += Σ_g f(g, l)` over the groups of eight rows: lane l takes rows ≡ l (mod 8).
#[inline(always)]
fn acc8(acc: &mut [f64; 8], groups: usize, f: impl Fn(usize, usize) -> f64) {
    for g in 0..groups {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += f(g, l);
        }
    }
}

/// The eight lanes added pairwise (a fixed order).
#[inline(always)]
fn fold8(a: &[f64; 8]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// Adds component j's weighted sums over a sub-block of `groups`·8 rows into `acc`
/// (`[S0 | S1 | Sx | Sq]`, K each), `w(g, l)` the weight of row 8g + l: only the sums the
/// family's M-step reads (uniforms need Σw alone).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn moments(acc: &mut [[f64; 8]], k: usize, j: usize, fam: Family, centre: Option<(bool, f64)>, groups: usize, x8: &[[f64; 8]], l8: &[[f64; 8]], w: impl Fn(usize, usize) -> f64) {
    match (fam, centre) {
        (Family::Uniform, _) => acc8(&mut acc[j], groups, w),
        (Family::Lognorm, Some((_, m))) => {
            // one pass for Σw, Σw ln x and Σw (ln x − m)²
            let (mut a0, mut a1, mut a3) = (acc[j], acc[k + j], acc[3 * k + j]);
            for (g, lg) in l8[..groups].iter().enumerate() {
                for l in 0..8 {
                    let (w, v) = (w(g, l), lg[l]);
                    let t = v - m;
                    a0[l] += w;
                    a1[l] += w * v;
                    a3[l] += w * t * t;
                }
            }
            (acc[j], acc[k + j], acc[3 * k + j]) = (a0, a1, a3);
        }
        _ => {
            acc8(&mut acc[j], groups, &w);
            if fam != Family::Norm {
                acc8(&mut acc[k + j], groups, |g, l| w(g, l) * l8[g][l]);
            }
            if matches!(fam, Family::Norm | Family::Gamma) {
                acc8(&mut acc[2 * k + j], groups, |g, l| w(g, l) * x8[g][l]);
            }
            if let Some((log, m)) = centre {
                let v8 = if log { l8 } else { x8 };
                acc8(&mut acc[3 * k + j], groups, |g, l| {
                    let t = v8[g][l] - m;
                    w(g, l) * t * t
                });
            }
        }
    }
}

/// One chunk of the em-compat E-step (rows `a..a+len`), fused per sub-block of [`SUB`] rows:
/// densities, row sums, `c_i/(c̄ Σ_j d_ij)`, the objective and the per-component sums
/// `[S0 | S1 | Sx | Sq]` are formed while the sub-block is in L1; components that are zero on a
/// whole sub-block (uniforms beyond their support) are skipped, which is exact (x + 0 = x).
/// The weights w_ik are written to `store` (layout of [`blocks`]) only when a caller needs
/// them afterwards (the Weibull M-step).
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(s > 0)` on purpose: a NaN row sum counts as lost
fn chunk_estep(ctx: &EstepCtx, a: usize, mut store: Option<&mut [f64]>, scratch: &mut Scratch) -> (Vec<f64>, f64) {
    let EstepCtx { data, fast, comps, first, centre, lncp, inv_cbar, objective, act } = *ctx;
    let k = comps.len();
    let n = data.len();
    let len = (n - a).min(CHUNK);
    let Scratch { acc, rows } = scratch;
    // every buffer below starts on a 64-byte boundary (as the data columns do, see
    // [`crate::binned::Col`]; sub-blocks start at multiples of eight rows), so no 512-bit load
    // or store straddles two cache lines: ~5 % of the fit
    let off = rows.as_ptr().align_offset(64);
    let (d, rest) = rows[off..off + (k + 7) * SUB].split_at_mut(k * SUB);
    let mut bufs = rest.chunks_exact_mut(SUB);
    let mut buf = || bufs.next().unwrap_or_default();
    // the ragged last sub-block (its length not a multiple of 8) is copied into xt, lt, l2t,
    // ct and zero-padded; every other one reads the data in place
    let (xt, lt, l2t, ct, s, f, lg) = (buf(), buf(), buf(), buf(), buf(), buf(), buf());
    acc.fill([0.0; 8]);
    let mut obj8 = [0.0f64; 8];
    let mut dead = false;
    let mut b0 = 0;
    while b0 < len {
        let bl = (len - b0).min(SUB);
        let pad = bl.div_ceil(8) * 8;
        let g0 = a + b0;
        let (xs, ls, l2s, cs): (&[f64], &[f64], &[f64], &[f64]) = if pad == bl {
            (&data.x[g0..g0 + bl], &data.lnx[g0..g0 + bl], &data.lnx2[g0..g0 + bl], &data.c[g0..g0 + bl])
        } else {
            for (t, v) in [(&mut xt[..], &data.x), (&mut lt[..], &data.lnx), (&mut l2t[..], &data.lnx2), (&mut ct[..], &data.c)] {
                t[..bl].copy_from_slice(&v[g0..g0 + bl]);
                t[bl..pad].fill(0.0);
            }
            (&xt[..pad], &lt[..pad], &l2t[..pad], &ct[..pad])
        };
        let head = g0 == 0;
        let nsub = n.div_ceil(SUB);
        let mut active = [false; 64];
        let active = if k <= 64 { &mut active[..k] } else { &mut vec![false; k][..] };
        for (j, on) in active.iter_mut().enumerate() {
            *on = act[j * nsub + g0 / SUB];
        }
        // the first active component sets the row sums (x = 0 + x exactly), the others add
        let mut add = false;
        for j in 0..k {
            if active[j] {
                let dj = &mut d[j * SUB..j * SUB + pad];
                fast[j].fill(comps[j].0, lncp[j], &xs[..pad], &l2s[..pad], dj, &mut s[..pad], add);
                add = true;
                dj[bl..].fill(0.0);
                if head {
                    dj[0] = first[j];
                }
            }
        }
        if !add {
            s[..pad].fill(0.0);
        }
        // the padding rows and the first row (a CDF difference) summed again from what was kept
        s[bl..pad].fill(0.0);
        if head {
            s[0] = (0..k).filter(|&j| active[j]).fold(0.0, |t, j| t + d[j * SUB]);
        }
        // rows far in every component's tail (Σ_j d below TINY, or every fast exp underflowed):
        // their densities again in scipy's form (`Dist::pdf`), so that where a density is
        // subnormal or zero decides as in flow-models whether the row keeps its weight
        let any_small = s[..bl].iter().fold(false, |z, &v| z | (v < TINY));
        for r in (0..bl).filter(|&r| any_small && !(head && r == 0)) {
            if s[r] >= TINY {
                continue;
            }
            s[r] = 0.0;
            for j in (0..k).filter(|&j| active[j]) {
                d[j * SUB + r] = comps[j].1.pdf(xs[r]) * comps[j].0;
                s[r] += d[j * SUB + r];
            }
        }
        dead |= s[..pad].iter().zip(&cs[..pad]).fold(false, |z, (&sr, &cr)| z | (!(sr > 0.0) & (cr > 0.0)));
        for r in 0..pad {
            let ok = s[r] > 0.0;
            let sr = if ok { s[r] } else { 1.0 };
            // a true division: the divider runs beside the exp's FMA-bound loops (a Newton
            // reciprocal was 8 % slower since the exp went to base 2), and it rounds as numpy's
            f[r] = if ok { cs[r] / sr * inv_cbar } else { 0.0 };
        }
        // rows whose density sum is below TINY: c/Σ_j d could overflow (c/c̄ up to n over a
        // sum down to 2^−1074, so w = d·f would be ∞·d where flow-models' (d/Σ)·c/c̄ is
        // finite); their densities and sum are scaled by 2^600 first, which is exact and
        // leaves every ratio d/Σ, and so every bit of a row that did not overflow, unchanged
        for r in (0..bl).filter(|&r| any_small && s[r] > 0.0 && s[r] < TINY) {
            for j in (0..k).filter(|&j| active[j]) {
                d[j * SUB + r] *= RESCALE;
            }
            f[r] = cs[r] / (s[r] * RESCALE) * inv_cbar;
        }
        let groups = pad / 8;
        if objective {
            for r in 0..pad {
                let ok = s[r] > 0.0;
                lg[r] = if ok { cs[r] * kernels::ln::ln(if ok { s[r] } else { 1.0 }) } else { 0.0 };
            }
            let lg8 = rows8(&lg[..], pad);
            acc8(&mut obj8, groups, |g, l| lg8[g][l]);
        }
        let (x8, l8, f8) = (rows8(xs, pad), rows8(ls, pad), rows8(&f[..], pad));
        for j in (0..k).filter(|&j| active[j]) {
            let fam = comps[j].1.family;
            let dj = &mut d[j * SUB..j * SUB + pad];
            // w = d·f: formed inside the sums for uniforms and lognormals (unless a caller
            // keeps the weights), else written back first
            let fused = store.is_none() && matches!(fam, Family::Uniform | Family::Lognorm);
            if !fused {
                for (v, fr) in dj.iter_mut().zip(&f[..pad]) {
                    *v *= fr;
                }
                if let Some(w) = store.as_deref_mut() {
                    w[j * len + b0..j * len + b0 + bl].copy_from_slice(&dj[..bl]);
                }
            }
            let d8 = rows8(dj, pad);
            if fused {
                moments(acc, k, j, fam, centre[j], groups, x8, l8, |g, l| d8[g][l] * f8[g][l]);
            } else {
                moments(acc, k, j, fam, centre[j], groups, x8, l8, |g, l| d8[g][l]);
            }
        }
        b0 += bl;
    }
    let out = acc.iter().map(fold8).collect();
    (out, if dead { f64::NEG_INFINITY } else { fold8(&obj8) })
}

kernels::dispatch! {
    /// [`chunk_estep`] on the active instruction-set path (`kernels::Isa::active`; every path gives the same bits).
    fn chunk_estep_dispatch(ctx: &EstepCtx, a: usize, blk: Option<&mut [f64]>, scr: &mut Scratch) -> (Vec<f64>, f64) => chunk_estep
}

/// flow-models' E-step (docs/histfit.md, "em-compat"): `d_ik = π_k f_k(x_i)` (first row
/// `π_k (F_k(x_0) − F_k(0))`), `r = d/Σ_j d` (rows with Σ = 0 drop out), `w_ik = r_ik c_i / c̄`,
/// written to `w` (layout of [`blocks`]) when given. Returns per component Σ_i w_ik,
/// Σ_i w_ik ln x_i, Σ_i w_ik x_i (the latter two only for the families whose M-step reads
/// them), Σ_i w_ik (v_i − m_k)² with v = ln x (lognorm) or x (norm) around the current centre
/// m_k (for the variance without a second pass), and (when `objective`; else 0, or −∞ when
/// a row with weight has lost all density) the surrogate objective Σ c_i ln Σ_j d_ij / Σ c_i.
fn estep_compat(data: &Binned, comps: &[(f64, Dist)], w: Option<&mut [f64]>, objective: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, f64) {
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
    let lncp: Vec<f64> = fast
        .iter()
        .zip(comps)
        .map(|(f, (p, _))| match f {
            Fast::Lognorm { coef, .. } => (coef * p).ln(),
            _ => f64::NAN,
        })
        .collect();
    let act = activity_dispatch(data, &fast, &lncp);
    let ctx = EstepCtx { data, fast: &fast, comps, first: &first, centre: &centre, lncp: &lncp, inv_cbar, objective, act: &act };
    let parts: Vec<(Vec<f64>, f64)> = match w {
        Some(w) => w.par_chunks_mut(CHUNK * k).enumerate().map_init(|| Scratch::new(k), |scr, (ch, blk)| chunk_estep_dispatch(&ctx, ch * CHUNK, Some(blk), scr)).collect(),
        None => (0..data.chunks()).into_par_iter().map_init(|| Scratch::new(k), |scr, ch| chunk_estep_dispatch(&ctx, ch * CHUNK, None, scr)).collect(),
    };
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
    /// Record the surrogate objective after every iteration (one log per row and iteration,
    /// ~17 % of the tutorial fit; flow-models computes none). Off: only the returned mixture
    /// is scored.
    pub trace: bool,
}

/// flow-models' EM, exactly (docs/histfit.md, "em-compat"): E-step at `bin_lo`, M-steps per family
/// (uniform fixed; lognorm weighted normal MLE on ln x with the median rule; frozen-loc Pareto
/// α = 1/(Σw ln x/Σw − ln β); norm; gamma with ψ(a) = mean ln x − ln b̂, b̂ = mean x / a_old;
/// weibull_min with its 5 approximate Newton steps), weights π_k = Σ_i r_ik c_i / Σ c_i,
/// exactly `iterations` times, no convergence test.
pub fn em_compat(data: &Binned, start: &Mixture, opts: CompatOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    // one hand-off into the cell's pool for the whole fit: the per-iteration parallel loops
    // inside then start on a worker of that pool instead of waking it and parking the caller
    // once per iteration (which cost ~25 % of a 1-thread tutorial fit)
    par(pool, || em_compat_in(data, start, opts, host, pool))
}

fn em_compat_in(data: &Binned, start: &Mixture, opts: CompatOptions, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
    let k = start.comps.len();
    let n = data.len();
    let mut comps: Vec<(f64, Dist)> = start.comps.iter().map(|c| (c.weight, c.dist.clone())).collect();
    // the weight matrix is kept only for the Weibull M-step (its extra passes over w_ik)
    let keep_w = comps.iter().any(|(_, d)| d.family == Family::WeibullMin);
    let mut w = if keep_w { vec![0.0; n * k] } else { Vec::new() };
    let mut trace = Vec::with_capacity(opts.iterations as usize + 1);
    let mut emitter = Emitter::new(host);
    for it in 0..opts.iterations {
        host.check_cancel()?;
        if it % 16 == 0 {
            host.progress(it, opts.iterations);
        }
        let (s0, s1, sx, sq, obj) = par(pool, || estep_compat(data, &comps, keep_w.then_some(&mut w[..]), opts.trace));
        if opts.trace {
            trace.push(obj);
        }
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
                // a Pareto's α = 1/(mean ln x − ln β) is infinite when its weighted mean of ln x
                // is ln β: all its weight sits on x = β (flow-models then goes on with NaN)
                let why =
                    if new.family == Family::Genpareto && !(new.shape > 0.0) { format!(": the Pareto collapsed onto its location {} (all its weight at x = {0})", new.loc) } else { String::new() };
                return Err(PluginError::run(format!("em-compat: component {j} ({}) degenerated at iteration {it} (parameters {:?}){why}; try other starting counts", new.family.name(), new.args())));
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
        emitter.offer(host, start, &comps, data.sum, it + 1, opts.iterations, it + 1 == opts.iterations);
    }
    // score the returned mixture with the same surrogate
    let (_, _, _, _, obj) = par(pool, || estep_compat(data, &comps, keep_w.then_some(&mut w[..]), true));
    trace.push(obj);
    host.progress(opts.iterations, opts.iterations);
    Ok(FitOutcome { mixture: rebuild(start, comps, data.sum), iterations: opts.iterations, evaluations: opts.iterations + 1, termination: Termination::MaxIters, trace })
}

/// Intermediate mixtures for a listening host (ABI 1.1 `emit`, docs/histfit.md "Interactive
/// fit"): every `every` iterations and after the last one, kind `"mixture"` with
/// `{"iteration", "of", "mixture_json"}` (`mixture_json` in the layout of the saved
/// `<column>.json`). With nobody listening (`every` = 0) it builds nothing, so a batch fit
/// pays one comparison per iteration and its results are untouched.
pub(crate) struct Emitter {
    every: u64,
    next: u64,
}

impl Emitter {
    /// Asks the host once per fit.
    pub(crate) fn new(host: &Host) -> Emitter {
        let every = host.emit_every();
        Emitter { every, next: every }
    }
    /// Emits the iterate after `iteration` M-steps when it is due (or `last`).
    #[inline]
    #[allow(clippy::too_many_arguments)] // the iterate (start, components, sum) and where it is
    pub(crate) fn offer(&mut self, host: &Host, start: &Mixture, comps: &[(f64, Dist)], sum: u128, iteration: u64, of: u64, last: bool) {
        if self.every == 0 || (iteration < self.next && !last) {
            return;
        }
        while self.next <= iteration {
            self.next += self.every;
        }
        let text = rebuild(start, comps.to_vec(), sum).to_json_text();
        let doc = serde_json::json!({"iteration": iteration, "of": of, "mixture_json": text});
        host.emit("mixture", &doc.to_string());
    }
}

/// The fitted components back into a mixture, keeping the start's int/float argument kinds.
pub(crate) fn rebuild(start: &Mixture, comps: Vec<(f64, Dist)>, sum: u128) -> Mixture {
    let mut m = start.clone();
    for (c, (wt, d)) in m.comps.iter_mut().zip(comps) {
        c.weight = wt;
        c.dist = d;
        c.sync_args();
    }
    m.sum = Some(sum);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused E-step against a plain row-by-row computation of docs/histfit.md, "em-compat" with scipy-style
    /// pdfs (`Dist::pdf`), for every family and both paths (weights stored for the Weibull
    /// M-step, or not): 3 000 rows = three chunks with a partial last sub-block. The narrow
    /// single components leave rows whose density sum is subnormal (norm: x ≈ 163–166; Weibull:
    /// x ≈ 223–228; lognormal: x ≈ 870), where c/Σ alone overflows: flow-models' (d/Σ)·c/c̄ is
    /// finite there, and so must the fused weights be.
    #[test]
    fn fused_estep_equals_plain_computation() {
        use crate::hist::{Hist, YCol};
        let mut csv = String::from("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n");
        for x in 1..=3000u64 {
            let c = 1 + (x * 7919 % 101) + 5000 / x;
            csv.push_str(&format!("{x},{},{c},{c},{c}\n", x + 1));
        }
        let data = Binned::new(&Hist::parse(&csv, "synthetic").unwrap(), YCol::Flows).unwrap();
        let d = |n: &str, a: &[f64]| Dist::new(n, a).unwrap();
        let mixes: Vec<Vec<(f64, Dist)>> = vec![
            vec![
                (0.2, d("uniform", &[0.0, 3.0])),
                (0.3, d("lognorm", &[1.0, 0.0, 20.0])),
                (0.1, d("lognorm", &[0.3, 0.0, 900.0])),
                (0.1, d("norm", &[50.0, 30.0])),
                (0.1, d("gamma", &[2.0, 0.0, 40.0])),
                (0.1, d("genpareto", &[0.5, 5.0, 2.5])),
            ],
            vec![(0.5, d("weibull_min", &[1.5, 0.0, 100.0])), (0.5, d("lognorm", &[1.2, 0.0, 8.0]))],
            vec![(0.3, d("norm", &[50.0, 3.0]))],
            vec![(0.3, d("weibull_min", &[8.0, 0.0, 100.0]))],
            vec![(0.3, d("lognorm", &[0.1, 0.0, 20.0]))],
            vec![(0.3, d("gamma", &[2.0, 0.0, 3.0]))],
            vec![(0.5, d("uniform", &[0.0, 2.0])), (0.5, d("norm", &[50.0, 3.0]))],
        ];
        for comps in mixes {
            let (k, n) = (comps.len(), data.len());
            // plain computation
            let cbar = data.total / n as f64;
            let mut w = vec![vec![0.0; k]; n];
            let mut obj = 0.0;
            for (i, wi) in w.iter_mut().enumerate() {
                let dd: Vec<f64> = comps.iter().map(|(p, c)| p * if i == 0 { c.cdf(data.x[0]) - c.cdf(0.0) } else { c.pdf(data.x[i]) }).collect();
                let s: f64 = dd.iter().sum();
                if !(s > 0.0) && data.c[i] > 0.0 {
                    obj = f64::NEG_INFINITY; // a row with weight lost all density
                }
                if s > 0.0 {
                    obj += data.c[i] * s.ln();
                    for (wij, d) in wi.iter_mut().zip(&dd) {
                        *wij = d / s * data.c[i] / cbar;
                    }
                }
            }
            let sum = |j: usize, g: &dyn Fn(usize) -> f64| (0..n).map(|i| w[i][j] * g(i)).sum::<f64>();
            let keep = comps.iter().any(|(_, c)| c.family == Family::WeibullMin);
            let mut wm = vec![0.0; if keep { n * k } else { 0 }];
            let (s0, s1, sx, sq, o) = estep_compat(&data, &comps, keep.then_some(&mut wm[..]), true);
            let close = |a: f64, b: f64, what: &str| assert!(a == b || (a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{what}: fused {a:e}, plain {b:e}");
            close(o, obj / data.total, "objective");
            for (j, (_, c)) in comps.iter().enumerate() {
                let fam = c.family;
                close(s0[j], sum(j, &|_| 1.0), &format!("Σw, component {j} ({})", fam.name()));
                if !matches!(fam, Family::Uniform | Family::Norm) {
                    close(s1[j], sum(j, &|i| data.lnx[i]), &format!("Σw ln x, component {j}"));
                }
                if matches!(fam, Family::Norm | Family::Gamma) {
                    close(sx[j], sum(j, &|i| data.x[i]), &format!("Σw x, component {j}"));
                }
                match fam {
                    Family::Lognorm => close(sq[j], sum(j, &|i| (data.lnx[i] - c.scale.ln()).powi(2)), &format!("Σw (ln x − m)², component {j}")),
                    Family::Norm => close(sq[j], sum(j, &|i| (data.x[i] - c.loc).powi(2)), &format!("Σw (x − m)², component {j}")),
                    _ => {}
                }
            }
            if keep {
                for (ch, blk) in blocks(&wm, n, k) {
                    let len = blk.len() / k;
                    for j in 0..k {
                        for r in 0..len {
                            let (a, b) = (blk[j * len + r], w[ch + r][j]);
                            assert!((a - b).abs() <= 1e-12 * b.abs() + 1e-300, "w[{}][{j}]: fused {a:e}, plain {b:e}", ch + r);
                        }
                    }
                }
            }
        }
    }
}
