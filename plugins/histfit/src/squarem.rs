//! SQUAREM around em-binned's EM map (`docs/histfit.md`, "em-binned convergence"): the
//! squared extrapolation of scheme S3 on the fitted parameters, with an adaptive step bound
//! (Varadhan and Roland's schedule: start 1, ×4 after a step accepted at the bound, ÷4 after
//! a rejected one at the bound, never below 1). The caller keeps ℓ monotone by falling back to
//! the plain EM double step, and starts extrapolating after [`WARMUP`] plain EM steps.
use crate::families::{Dist, Family};

/// Plain EM steps before the first extrapolation: the start of flow-models' grid is far
/// from any optimum, and an extrapolation from there can leave plain EM's path for a lower
/// stationary point (tcp/size U6 P1 L4 ended at ℓ = −7.7146 per flow without it, −7.6600 with
/// it, plain EM −7.6784 at 1000 steps, `docs/histfit.md`).
pub const WARMUP: u64 = 50;

/// Factor by which the step bound grows after a step at the bound and shrinks after a
/// rejected one.
const MSTEP: f64 = 4.0;

/// The adaptive upper bound on the step length α (the lower bound is 1: plain EM).
#[derive(Debug, Clone, Copy)]
pub struct StepBound {
    max: f64,
}

impl Default for StepBound {
    fn default() -> StepBound {
        StepBound { max: 1.0 }
    }
}

impl StepBound {
    /// The S3 step length α = ‖r‖/‖v‖ with r = θ1 − θ0, v = θ2 − 2θ1 + θ0, clamped to
    /// [1, bound] (1 when v = 0 or α is not a number). Coordinate i counts with weight
    /// `scale[i]` in both norms ([`norm_scale`]).
    pub fn alpha(&self, p0: &[f64], p1: &[f64], p2: &[f64], scale: &[f64]) -> f64 {
        let (mut sr2, mut sv2) = (0.0, 0.0);
        for i in 0..p0.len() {
            let r = (p1[i] - p0[i]) * scale[i];
            let v = (p2[i] - 2.0 * p1[i] + p0[i]) * scale[i];
            sr2 += r * r;
            sv2 += v * v;
        }
        let a = (sr2 / sv2).sqrt();
        if a.is_nan() || sv2 == 0.0 { 1.0 } else { a.clamp(1.0, self.max) }
    }
    /// After a cycle with step `alpha`, Varadhan and Roland's schedule (step.max0 = 1,
    /// mstep = 4): a step accepted at the bound raises it ×4; a step rejected at the bound
    /// lowers it ÷4, never below 1; a bound of 1 (plain double step) is raised to 4 at once.
    /// A rejection costs one level of the bound, not the whole step (the previous rule, α/4
    /// after a rejected α, needed 1413–2149 M-steps on the length sets against 825–2133 with
    /// this one, `docs/histfit.md`).
    pub fn update(&mut self, alpha: f64, accepted: bool) {
        if !accepted && alpha == self.max {
            self.max = (self.max / MSTEP).max(1.0);
        }
        if (accepted || self.max == 1.0) && alpha >= self.max {
            self.max *= MSTEP;
        }
    }
}

/// Trust region of one extrapolation, per coordinate of [`encode`]'s layout (all logs): at
/// most a factor of 10 beyond the plain double step θ2. A long step along a fading direction
/// would otherwise take a weight or a Pareto shape to e^-50 in one go, a component EM cannot
/// bring back (the fit then ends at a worse optimum).
const TRUST: f64 = std::f64::consts::LN_10;

/// θ0 + 2αr + α²v (= θ2 at α = 1), each coordinate kept within [`TRUST`] of θ2's.
pub fn extrapolate(p0: &[f64], p1: &[f64], p2: &[f64], alpha: f64) -> Vec<f64> {
    (0..p0.len()).map(|i| (p0[i] + 2.0 * alpha * (p1[i] - p0[i]) + alpha * alpha * (p2[i] - 2.0 * p1[i] + p0[i])).clamp(p2[i] - TRUST, p2[i] + TRUST)).collect()
}

/// The free parameters of a mixture on an unconstrained scale, so an extrapolated point is a
/// valid mixture: per component ln w; lognormal ln scale (μ) and ln σ; Pareto ln c (= −ln α,
/// its loc frozen); uniforms have no free parameter.
pub fn encode(comps: &[(f64, Dist)]) -> Vec<f64> {
    let mut p = Vec::with_capacity(comps.len() * 3);
    for (w, d) in comps {
        p.push(w.max(1e-300).ln());
        match d.family {
            Family::Lognorm => {
                p.push(d.scale.ln());
                p.push(d.shape.ln());
            }
            Family::Genpareto => p.push(d.shape.ln()),
            _ => {}
        }
    }
    p
}

/// The weight of each coordinate of [`encode`]'s layout in the step-length norms: a weight
/// counts on its own scale (d ln w · w = dw), so a vanishing component, whose ln w falls by a
/// constant step (v ≈ 0, large r), does not set α for the whole mixture; the other
/// parameters (ln scales and shapes) count as they are.
pub fn norm_scale(comps: &[(f64, Dist)]) -> Vec<f64> {
    let mut s = Vec::with_capacity(comps.len() * 3);
    for (w, d) in comps {
        s.push(*w);
        match d.family {
            Family::Lognorm => s.extend([1.0, 1.0]),
            Family::Genpareto => s.push(1.0),
            _ => {}
        }
    }
    s
}

/// The mixture of `p` ([`encode`]'s layout) with the families and frozen parameters of
/// `like`; the weights renormalised to 1, a zero weight of `like` kept at 0.
pub fn decode(p: &[f64], like: &[(f64, Dist)]) -> Vec<(f64, Dist)> {
    let mut out = Vec::with_capacity(like.len());
    let mut i = 0;
    for (w, d) in like {
        let wt = if *w > 0.0 { p[i].exp() } else { 0.0 };
        i += 1;
        let d = match d.family {
            Family::Lognorm => {
                let (mu, ls) = (p[i], p[i + 1]);
                i += 2;
                Dist { family: Family::Lognorm, shape: ls.exp(), loc: 0.0, scale: mu.exp() }
            }
            Family::Genpareto => {
                let c = p[i].exp();
                i += 1;
                Dist { family: Family::Genpareto, shape: c, loc: d.loc, scale: d.loc * c }
            }
            _ => d.clone(),
        };
        out.push((wt, d));
    }
    let s: f64 = out.iter().map(|c| c.0).sum();
    for c in &mut out {
        c.0 /= s;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_inverts_encode_and_alpha_one_is_the_double_step() {
        let d = |n: &str, a: &[f64]| Dist::new(n, a).unwrap();
        let m = vec![(0.2, d("uniform", &[0.0, 3.0])), (0.5, d("lognorm", &[1.3, 0.0, 20.0])), (0.3, d("genpareto", &[0.7, 5.0, 3.5]))];
        let back = decode(&encode(&m), &m);
        for ((w0, d0), (w1, d1)) in m.iter().zip(&back) {
            assert!((w0 - w1).abs() < 1e-15);
            for (a, b) in [(d0.shape, d1.shape), (d0.loc, d1.loc), (d0.scale, d1.scale)] {
                assert!((a - b).abs() <= 1e-14 * a.abs(), "{a} vs {b}");
            }
        }
        let (p0, p1, p2) = (vec![1.0, -2.0, 0.5], vec![1.5, -1.0, 0.25], vec![1.75, -0.7, 0.2]);
        assert_eq!(extrapolate(&p0, &p1, &p2, 1.0), p2);
        let mut b = StepBound::default();
        let one = [1.0; 3];
        assert_eq!(b.alpha(&p0, &p1, &p2, &one), 1.0, "the bound starts at 1");
        b.update(1.0, false);
        assert_eq!(b.max, 4.0, "a bound of 1 is raised at once");
        let a = b.alpha(&p0, &p1, &p2, &one);
        assert!(a > 1.0 && a <= 4.0);
        b.update(4.0, true);
        assert_eq!(b.max, 16.0, "an accepted step at the bound raises it");
        b.update(16.0, true);
        assert_eq!(b.max, 64.0);
        b.update(12.0, false);
        assert_eq!(b.max, 64.0, "a rejected step below the bound leaves it");
        b.update(64.0, false);
        assert_eq!(b.max, 16.0, "a rejected step at the bound lowers it ÷4");
        b.update(10.0, true);
        assert_eq!(b.max, 16.0, "an accepted step below the bound leaves it");
        b.update(16.0, false);
        b.update(4.0, false);
        assert_eq!(b.max, 4.0, "never below 1: a bound of 1 goes back to 4");
    }
}
