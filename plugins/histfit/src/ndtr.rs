//! The standard normal cdf and sf at many sorted points, vectorised: per bin edge of a
//! lognormal component, F(e) = Φ(t) and S(e) = Φ(−t) with t = (ln e − μ)/σ, each on the
//! side where it is below ½ (docs/histfit.md, "Goodness of fit": tail probabilities keep their relative precision), and
//! φ(t) for the truncated moments of em-binned (docs/histfit.md, "em-binned").
//!
//! Φ(−|t|) = ½ erfc(|t|/√2), with erfc(x), x ≥ 0, flowlab-kernels' vectorised fdlibm erfc
//! (docs/kernels.md; the same algorithm and coefficients as the `libm` crate's `erfc`, which
//! [`crate::families::ndtr`] calls). t is monotone along sorted edges, so |t| crosses each of
//! fdlibm's range boundaries at most twice: every range is a contiguous run, evaluated by
//! [`erfc_run`]'s branch-free loop. The values agree with the scalar `libm` path to a few ulp
//! (tested) and are bit-identical on every instruction-set path.
use crate::families::Dist;
use kernels::erfc::{erfc_run, range};
use kernels::exp::exp;

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
        let phi = if moments && t[i].is_finite() { exp(-0.5 * t[i] * t[i]) * FRAC_1_SQRT_2PI } else { 0.0 };
        out[i] = [f, s, t[i], phi];
    }
}

kernels::dispatch! {
    /// [`lognorm_edges_body`] on the active instruction-set path (bit-identical on every path).
    fn lognorm_block(out: &mut [[f64; 4]], ln_e: &[f64], mu: f64, sg: f64, moments: bool) -> () => lognorm_edges_body
}

/// Below this σ a lognormal's edges are standardised as scipy does, t = ln(e/scale)/σ, not
/// as (ln e − ln scale)/σ. The two differ by rounding, up to (|ln e| + |ln scale|)·ε ≈ 2·10⁻¹⁴
/// on a 2⁶⁴ range, which σ divides: harmless at σ ≥ 10⁻³ (≤ 2·10⁻¹¹ in t), but flow-models'
/// EM leaves components with σ = 2.2·10⁻¹⁶ on spiky data, where that rounding decides on which
/// side of an edge the whole component lies (a log-likelihood of −0.69 instead of −3.78).
pub const NARROW_SIGMA: f64 = 1e-3;

/// `out[i] = [F, S, t, φ(t)]` at the edges `e` (with logarithms `ln_e`) for lognormal `d`
/// (loc 0), in blocks of [`BLOCK`] edges; a component narrower than [`NARROW_SIGMA`] edge by
/// edge from t = ln(e/scale)/σ with the scalar Φ ([`crate::families::ndtr`], as
/// [`Dist::cdf`] and [`Dist::sf`] use).
pub fn lognorm_edges(out: &mut [[f64; 4]], e: &[f64], ln_e: &[f64], d: &Dist, moments: bool) {
    let (mu, sg) = (d.scale.ln(), d.shape);
    if sg < NARROW_SIGMA {
        for (o, &x) in out.iter_mut().zip(e) {
            let z = x / d.scale;
            let t = if z <= 0.0 { f64::NEG_INFINITY } else { z.ln() / sg };
            let h = crate::families::ndtr(-t.abs());
            let (f, s) = if t <= 0.0 { (h, 1.0 - h) } else { (1.0 - h, h) };
            let phi = if moments && t.is_finite() { exp(-0.5 * t * t) * FRAC_1_SQRT_2PI } else { 0.0 };
            *o = [f, s, t, phi];
        }
        return;
    }
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
        let e: Vec<f64> = ln_e.iter().map(|l| l.exp()).collect();
        let mut out = vec![[0.0; 4]; ln_e.len()];
        lognorm_edges(&mut out, &e, &ln_e, &d, true);
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

    /// A component narrower than NARROW_SIGMA (flow-models' EM leaves σ = 2.2·10⁻¹⁶) gets
    /// exactly the scalar Dist::cdf / Dist::sf (scipy's t = ln(e/scale)/σ) at every edge,
    /// including edges a few ulp either side of its scale, where the subtraction form of t
    /// would put the whole component on the wrong side. 200 random components.
    #[test]
    fn a_narrow_lognormal_takes_scipys_form_at_every_edge() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut u = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..200 {
            let sg = 10f64.powf(-16.0 + 13.0 * u()).min(0.99 * NARROW_SIGMA);
            let scale = (40.0 * u()).exp();
            let d = Dist::new("lognorm", &[sg, 0.0, scale]).unwrap();
            let mut e: Vec<f64> = (-3i64..=3).map(|k| f64::from_bits((scale.to_bits() as i64 + k) as u64)).collect();
            e.extend((0..20).map(|_| scale * (1.0 + 1e-3 * (u() - 0.5))));
            e.extend([0.0, scale * 0.5, scale * 2.0]);
            e.sort_by(f64::total_cmp);
            let ln_e: Vec<f64> = e.iter().map(|x| x.ln()).collect();
            let mut out = vec![[0.0; 4]; e.len()];
            lognorm_edges(&mut out, &e, &ln_e, &d, true);
            for (o, &x) in out.iter().zip(&e) {
                let (f, s) = (d.cdf(x), d.sf(x));
                let small = if o[2] <= 0.0 { (o[0], f) } else { (o[1], s) };
                assert_eq!(small.0.to_bits(), small.1.to_bits(), "case {case}: σ {sg:e}, scale {scale:e}, edge {x:e}");
                assert!((o[0] + o[1] - 1.0).abs() <= f64::EPSILON, "case {case}");
            }
        }
    }
}
