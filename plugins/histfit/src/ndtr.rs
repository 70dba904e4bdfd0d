//! The standard normal cdf and sf at many sorted points, vectorised: per bin edge of a
//! lognormal component, F(e) = Φ(t) and S(e) = Φ(−t) with t = (ln e − μ)/σ, each on the
//! side where it is below ½ (docs/histfit.md, "Goodness of fit": tail probabilities keep their relative precision), and
//! φ(t) for the truncated moments of em-binned (docs/histfit.md, "em-binned").
//!
//! Φ(−|t|) = ½ erfc(|t|/√2), and erfc(x), x ≥ 0, is fdlibm's `s_erf.c` (Sun Microsystems,
//! freely distributable; the same algorithm and coefficients as the `libm` crate's `erfc`,
//! which [`crate::families::ndtr`] calls): a rational approximation on each of five ranges
//! of x, with erfc(x) = exp(−z² − 0.5625)·exp((z − x)(z + x) + R/S)/x beyond 1.25 (z = x with
//! the low 32 bits cleared, so z² is exact). t is monotone along sorted edges, so |t| crosses
//! each range boundary at most twice: every range is a contiguous run, evaluated by a
//! branch-free loop that the compiler vectorises. exp is [`fast_exp`] (≤ 1 ulp), so values
//! agree with the scalar `libm` path to a few ulp (tested) and are bit-identical on every
//! vector path (the same IEEE operations, FMA through `mul_add`).
use crate::em::fast_exp;
use crate::families::Dist;

const ERX: f64 = 0.8450629115104675;
const PP: [f64; 5] = [0.12837916709551256, -0.3250421072470015, -0.02848174957559851, -0.005770270296489442, -2.3763016656650163e-05];
const QQ: [f64; 5] = [0.39791722395915535, 0.0650222499887673, 0.005081306281875766, 0.00013249473800432164, -3.960228278775368e-06];
const PA: [f64; 7] = [-0.0023621185607526594, 0.41485611868374833, -0.3722078760357013, 0.31834661990116175, -0.11089469428239668, 0.035478304325618236, -0.002166375594868791];
const QA: [f64; 6] = [0.10642088040084423, 0.540397917702171, 0.07182865441419627, 0.12617121980876164, 0.01363708391202905, 0.011984499846799107];
const RA: [f64; 8] = [-0.009864944034847148, -0.6938585727071818, -10.558626225323291, -62.375332450326006, -162.39666946257347, -184.60509290671104, -81.2874355063066, -9.814329344169145];
const SA: [f64; 8] = [19.651271667439257, 137.65775414351904, 434.56587747522923, 645.3872717332679, 429.00814002756783, 108.63500554177944, 6.570249770319282, -0.0604244152148581];
const RB: [f64; 7] = [-0.0098649429247001, -0.799283237680523, -17.757954917754752, -160.63638485582192, -637.5664433683896, -1025.0951316110772, -483.5191916086514];
const SB: [f64; 7] = [30.33806074348246, 325.7925129965739, 1536.729586084437, 3199.8582195085955, 2553.0504064331644, 474.52854120695537, -22.44095244658582];

/// Horner evaluation of c[0] + s·(c[1] + s·(…)), as fdlibm writes it (no fused operations).
#[inline(always)]
fn horner(c: &[f64], s: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| k + s * acc)
}

/// 1 + s·(c[0] + s·(c[1] + …)).
#[inline(always)]
fn one_plus(c: &[f64], s: f64) -> f64 {
    1.0 + s * horner(c, s)
}

/// fdlibm's range of x ≥ 0 (by the high word, exactly as `s_erf.c` compares):
/// 0: x < 1/4, 1: < 0.84375, 2: < 1.25, 3: < 1/0.35, 4: < 28, 5: beyond (erfc underflows).
#[inline(always)]
fn range(x: f64) -> u8 {
    let ix = (x.to_bits() >> 32) as u32;
    match ix {
        _ if ix < 0x3fd0_0000 => 0,
        _ if ix < 0x3feb_0000 => 1,
        _ if ix < 0x3ff4_0000 => 2,
        _ if ix < 0x4006_db6d => 3,
        _ if ix < 0x403c_0000 => 4,
        _ => 5,
    }
}

/// erfc(x) = exp(−z² − 0.5625)·exp((z − x)(z + x) + R/S)/x for x ≥ 1.25, z = x with the low
/// 32 bits cleared (z² exact).
#[inline(always)]
fn erfc_tail(x: f64, rs: f64) -> f64 {
    let z = f64::from_bits(x.to_bits() & 0xffff_ffff_0000_0000);
    fast_exp(-z * z - 0.5625) * fast_exp((z - x) * (z + x) + rs) / x
}

/// erfc(x) on a run of x ≥ 0 that all lie in fdlibm range `r` (plain loops, no closures:
/// a closure would not inherit the caller's target features and would lose the vector/FMA
/// code generation).
#[inline(always)]
fn erfc_run(r: u8, x: &[f64], out: &mut [f64]) {
    match r {
        0 | 1 => {
            for (o, &v) in out.iter_mut().zip(x) {
                let z = v * v;
                let y = horner(&PP, z) / one_plus(&QQ, z);
                *o = if r == 0 { 1.0 - (v + v * y) } else { 0.5 - (v - 0.5 + v * y) };
            }
        }
        2 => {
            for (o, &v) in out.iter_mut().zip(x) {
                let s = v - 1.0;
                *o = 1.0 - ERX - horner(&PA, s) / one_plus(&QA, s);
            }
        }
        3 => {
            for (o, &v) in out.iter_mut().zip(x) {
                let s = 1.0 / (v * v);
                *o = erfc_tail(v, horner(&RA, s) / one_plus(&SA, s));
            }
        }
        4 => {
            for (o, &v) in out.iter_mut().zip(x) {
                let s = 1.0 / (v * v);
                *o = erfc_tail(v, horner(&RB, s) / one_plus(&SB, s));
            }
        }
        _ => out.fill(0.0),
    }
}

/// 1/√(2π).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Edges per call of the kernel (its scratch lives on the stack).
const BLOCK: usize = 1024;

/// `out[i] = [F, S, t, φ(t)]` at the edges with logarithms `ln_e` (at most [`BLOCK`], sorted
/// ascending) for lognormal `d` (loc 0); φ only with `moments` (else 0). F = Φ(t) when t ≤ 0
/// and 1 − Φ(−t) otherwise, S the complement, as [`crate::families::ndtr`] would give them.
#[inline(always)]
fn lognorm_edges_body(out: &mut [[f64; 4]], ln_e: &[f64], mu: f64, sg: f64, moments: bool) {
    let n = ln_e.len().min(out.len()).min(BLOCK);
    let (mut t, mut x, mut e) = ([0.0f64; BLOCK], [0.0f64; BLOCK], [0.0f64; BLOCK]);
    for i in 0..n {
        t[i] = (ln_e[i] - mu) / sg;
        x[i] = t[i].abs() / std::f64::consts::SQRT_2;
    }
    // t ascending: |t| falls on [0, m) and rises on [m, n), so on each side every range is
    // one contiguous run, found by binary search
    let m = t[..n].partition_point(|&v| v < 0.0);
    for (lo, hi) in [(0, m), (m, n)] {
        let mut a = lo;
        while a < hi {
            let r = range(x[a]);
            let b = a + x[a..hi].partition_point(|&v| range(v) == r);
            erfc_run(r, &x[a..b], &mut e[a..b]);
            a = b;
        }
    }
    for i in 0..n {
        let h = 0.5 * e[i];
        let (f, s) = if t[i] <= 0.0 { (h, 1.0 - h) } else { (1.0 - h, h) };
        let phi = if moments && t[i].is_finite() { fast_exp(-0.5 * t[i] * t[i]) * FRAC_1_SQRT_2PI } else { 0.0 };
        out[i] = [f, s, t[i], phi];
    }
}

vector_dispatch! {
    /// [`lognorm_edges_body`] on the widest vector unit the CPU has (bit-identical on every path).
    fn lognorm_block(out: &mut [[f64; 4]], ln_e: &[f64], mu: f64, sg: f64, moments: bool) -> () => lognorm_edges_body,
    avx512 = "avx512f,fma" ["avx512f", "fma"], avx2 = "avx2,fma" ["avx2", "fma"]
}

/// `out[i] = [F, S, t, φ(t)]` at the edges with logarithms `ln_e` for lognormal `d` (loc 0), in
/// blocks of [`BLOCK`] edges.
pub fn lognorm_edges(out: &mut [[f64; 4]], ln_e: &[f64], d: &Dist, moments: bool) {
    let (mu, sg) = (d.scale.ln(), d.shape);
    for (o, l) in out.chunks_mut(BLOCK).zip(ln_e.chunks(BLOCK)) {
        lognorm_block(o, l, mu, sg, moments);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::ndtr;

    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        ((a - b) / b.abs().max(f64::MIN_POSITIVE)).abs() / f64::EPSILON
    }

    /// Against the scalar libm path (Dist::cdf / sf) over t ∈ [−40, 40], every fdlibm range
    /// on both sides, F and S each on its accurate side: ≤ 4 ulp wherever the value is normal.
    #[test]
    fn matches_scalar_ndtr_within_a_few_ulp() {
        let d = Dist::new("lognorm", &[0.7, 0.0, 50.0]).unwrap();
        let (mu, sg) = (50f64.ln(), 0.7);
        let ln_e: Vec<f64> = (0..5000).map(|i| mu + sg * (-40.0 + 80.0 * i as f64 / 4999.0)).collect();
        let mut out = vec![[0.0; 4]; ln_e.len()];
        lognorm_edges(&mut out, &ln_e, &d, true);
        let mut worst: f64 = 0.0;
        for (i, o) in out.iter().enumerate() {
            let t = (ln_e[i] - mu) / sg;
            let (f, s) = if t <= 0.0 {
                let f = ndtr(t);
                (f, 1.0 - f)
            } else {
                let s = ndtr(-t);
                (1.0 - s, s)
            };
            let small = if t <= 0.0 { (o[0], f) } else { (o[1], s) };
            if small.1 > 1e-300 {
                worst = worst.max(ulps(small.0, small.1));
            }
            assert!((o[0] - f).abs() <= 4.0 * f64::EPSILON && (o[1] - s).abs() <= 4.0 * f64::EPSILON, "t {t}");
            assert_eq!(o[2], t);
            let phi = (-0.5 * t * t).exp() * FRAC_1_SQRT_2PI;
            assert!(ulps(o[3], phi) <= 4.0 || phi < 1e-300, "φ at t {t}: {} vs {phi}", o[3]);
        }
        assert!(worst <= 4.0, "worst {worst} ulp");
    }
}
