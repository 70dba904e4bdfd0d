//! Final polish of the best start's end point (`docs/endhost.md`, "Starts"): damped Newton
//! (Levenberg–Marquardt) steps on the raw log-likelihood, inside the open box.
//!
//! Why: the barrier stages stop when a BFGS step changes the objective by ≤ reltol·|f|
//! (≈ 3·10⁻⁶ nats at ℓ ≈ 3·10⁴) and at μ = 10⁻⁶ the barrier still holds a point off a face by
//! O(μ); along a flat direction (ρ → 1 with λ₂ → 0, α of a vanishing zeta) that leaves up to
//! ~10⁻⁵ nats on the table. A Newton step on ℓ itself removes both.
//!
//! Step: with g = ∇ℓ and H the observed-information Hessian (central differences of g,
//! [`crate::fit::hessian`]), solve `(−H + ν D) d = g`, D = diag(|H_ii|), for ν = 0, 10⁻⁶, 10⁻⁴,
//! 10⁻², 1 (the first ν whose matrix is positive definite and whose step gains), halving d
//! until θ + d stays inside the box (1e-9 of the width) and ℓ does not decrease. At most
//! `MAX_STEPS` steps; stops when a step gains ≤ 1e-12·|ℓ|. When no step gains, a rate or α
//! whose gradient points out of the box is moved next to that face if ℓ gains.
//!
//! The same steps solve the EEP starts that put two EP modes side by side (`fit`,
//! `starts::mode_pairs`), and [`off_the_zeta_face`] restarts them over a small (π, α) grid when
//! the zeta weight has all but vanished.
use crate::data::Hist;
use crate::fit::{cholesky, hessian};
use crate::model::Model;

/// Newton steps at most.
pub const MAX_STEPS: usize = 6;

/// Outcome of [`polish`].
#[derive(Debug, Clone, PartialEq)]
pub struct Polished {
    /// Final θ (never worse than the start).
    pub theta: Vec<f64>,
    /// ℓ at θ.
    pub loglik: f64,
    /// Accepted Newton steps.
    pub steps: usize,
    /// Log-likelihood + gradient evaluations spent (Hessians count 2·dim each).
    pub evaluations: u64,
}

/// Solves L Lᵀ x = b for the Cholesky factor L (row-major lower).
fn chol_solve(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; k];
    for r in 0..k {
        y[r] = (b[r] - (0..r).map(|p| l[r * k + p] * y[p]).sum::<f64>()) / l[r * k + r];
    }
    let mut x = vec![0.0; k];
    for r in (0..k).rev() {
        x[r] = (y[r] - (r + 1..k).map(|p| l[p * k + r] * x[p]).sum::<f64>()) / l[r * k + r];
    }
    x
}

/// When no Newton step gains: moves each rate or α whose gradient points out of the box to
/// 2e-9 of the width from that face, keeping the move when ℓ gains (a flat optimum on a face,
/// e.g. a spike-at-1 geometric with λ → λ_max, that the barrier held off by O(μ)).
#[allow(clippy::too_many_arguments)]
fn snap_to_faces(model: Model, h: &Hist, x: &[f64], g: &[f64], ll: f64, lo: &[f64], hi: &[f64], evals: &mut u64) -> Option<(Vec<f64>, f64)> {
    let mut y = x.to_vec();
    let mut v = ll;
    // rates and α only: a weight snapped to 0 strands the α of a vanishing zeta on a flat face,
    // where the optimum has a small positive weight (seen on held-out reference draws)
    let names = model.names();
    for i in (0..x.len()).filter(|&i| !matches!(names[i], "pi" | "rho")) {
        let m = 2e-9 * (hi[i] - lo[i]);
        let face = if g[i] > 0.0 { hi[i] - m } else { lo[i] + m };
        let old = y[i];
        y[i] = face;
        let t = model.loglik(&y, h, None);
        *evals += 1;
        if t > v {
            v = t;
        } else {
            y[i] = old;
        }
    }
    (v > ll).then_some((y, v))
}

/// Polishes θ (inside the box `lo`, `hi`) by damped Newton steps on ℓ (module docs).
pub fn polish(model: Model, h: &Hist, th: &[f64], lo: &[f64], hi: &[f64]) -> Polished {
    polish_steps(model, h, th, lo, hi, MAX_STEPS)
}

/// [`polish`] with at most `max_steps` Newton steps.
pub fn polish_steps(model: Model, h: &Hist, th: &[f64], lo: &[f64], hi: &[f64], max_steps: usize) -> Polished {
    let k = th.len();
    let mut x = th.to_vec();
    let mut g = vec![0.0; k];
    let mut ll = model.loglik(&x, h, Some(&mut g));
    let (mut steps, mut evals) = (0, 1u64);
    if !ll.is_finite() {
        return Polished { theta: x, loglik: ll, steps, evaluations: evals };
    }
    let inside = |v: &[f64]| (0..k).all(|i| v[i] - lo[i] > 1e-9 * (hi[i] - lo[i]) && hi[i] - v[i] > 1e-9 * (hi[i] - lo[i]));
    for _ in 0..max_steps {
        let Some(hm) = hessian(model, &x, h) else { break };
        evals += 2 * k as u64;
        let neg: Vec<f64> = hm.iter().map(|v| -v).collect();
        let mut best: Option<(Vec<f64>, f64)> = None;
        for nu in [0.0, 1e-6, 1e-4, 1e-2, 1.0] {
            let mut a = neg.clone();
            for i in 0..k {
                a[i * k + i] += nu * hm[i * k + i].abs();
            }
            let Some(l) = cholesky(&a, k) else { continue };
            let mut d = chol_solve(&l, k, &g);
            for _ in 0..40 {
                let y: Vec<f64> = (0..k).map(|i| x[i] + d[i]).collect();
                if inside(&y) {
                    let v = model.loglik(&y, h, None);
                    evals += 1;
                    if v >= ll {
                        best = Some((y, v));
                        break;
                    }
                }
                d.iter_mut().for_each(|v| *v *= 0.5);
            }
            if best.is_some() {
                break;
            }
        }
        let Some((y, v)) = best.or_else(|| snap_to_faces(model, h, &x, &g, ll, lo, hi, &mut evals)) else { break };
        let gain = v - ll;
        x = y;
        ll = model.loglik(&x, h, Some(&mut g));
        evals += 1;
        steps += 1;
        if gain <= 1e-12 * ll.abs() {
            break;
        }
    }
    Polished { theta: x, loglik: ll, steps, evaluations: evals }
}

/// Zeta weights below this put the fit on the π → 0 face (see [`off_the_zeta_face`]).
pub const ZETA_FACE: f64 = 1e-3;

/// On the π → 0 face the zeta's α is barely identified (a weight of 10⁻⁷…10⁻⁶ moves ℓ by
/// 10⁻⁶…10⁻⁵ nats) and Newton steps from a point where α sits near a face of the box do not
/// find the interior optimum. From θ with π < [`ZETA_FACE`]: Newton ([`polish_steps`], 8 steps)
/// from θ with π ∈ {10⁻⁶, 10⁻⁴, 0.03} and α ∈ {1.5, 2.5, 4, 6} (the geometric weights scaled to
/// keep the sum 1); returns the best end point if it beats ℓ(θ).
pub fn off_the_zeta_face(model: Model, h: &Hist, th: &[f64], ll: f64, lo: &[f64], hi: &[f64]) -> Option<Polished> {
    if model == Model::P || th[0] >= ZETA_FACE {
        return None;
    }
    let a = th.len() - 1;
    let mut best: Option<Polished> = None;
    let mut evals = 0;
    for pi in [1e-6, 1e-4, 0.03] {
        for alpha in [1.5f64, 2.5, 4.0, 6.0] {
            let mut x = th.to_vec();
            x[0] = pi;
            x[a] = alpha.clamp(lo[a] + 1e-3, hi[a] - 1e-3);
            let p = polish_steps(model, h, &x, lo, hi, 8);
            evals += p.evaluations;
            if best.as_ref().is_none_or(|b| p.loglik > b.loglik) {
                best = Some(p);
            }
        }
    }
    let mut b = best?;
    b.evaluations = evals;
    (b.loglik > ll).then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::{fit_model, Bounds, FitOptions};
    use crate::sample::sample_model;
    use flowlab_abi::seed::{rng_from_u64, stream_rng};

    #[test]
    fn polish_reaches_a_stationary_point_and_never_loses() {
        let th = [0.4, 0.3, 2.0];
        let h = Hist::from_samples(&sample_model(&mut rng_from_u64(11, "data", 0), Model::EP, &th, 5_000)).unwrap();
        let (lo, hi) = Bounds::default().for_model(Model::EP);
        // start off the optimum: the polish climbs and ends with a gradient ≈ 0
        let f = fit_model(Model::EP, &h, &FitOptions::default(), |i| stream_rng("p", "restart/EP", i as u64));
        let start: Vec<f64> = f.theta.iter().map(|v| v * 1.01).collect();
        let p = polish(Model::EP, &h, &start, &lo, &hi);
        assert!(p.loglik >= Model::EP.loglik(&start, &h, None));
        assert!(p.loglik >= f.loglik - 1e-9, "{} vs {}", p.loglik, f.loglik);
        let mut g = [0.0; 3];
        Model::EP.loglik(&p.theta, &h, Some(&mut g));
        assert!(g.iter().all(|v| v.abs() < 1e-4), "{g:?}");
    }

    #[test]
    fn off_the_zeta_face_only_on_the_face_and_only_gains() {
        // two geometrics and a zeta of weight 0.002: a start stranded with π = 1e-7, α at its
        // upper face gains from the grid; a start with a real zeta weight is left alone
        let th = [0.002, 0.4, 1.2, 0.2, 2.5];
        let h = Hist::from_samples(&sample_model(&mut rng_from_u64(21, "data", 0), Model::EEP, &th, 8_000)).unwrap();
        let (lo, hi) = Bounds::default().for_model(Model::EEP);
        let stranded = [1e-7, 0.4, 1.2, 0.2, 9.99];
        let ll = Model::EEP.loglik(&stranded, &h, None);
        let p = off_the_zeta_face(Model::EEP, &h, &stranded, ll, &lo, &hi).expect("a gain off the face");
        assert!(p.loglik > ll && p.loglik == Model::EEP.loglik(&p.theta, &h, None));
        assert!(p.theta.iter().zip(lo.iter().zip(&hi)).all(|(v, (l, u))| v > l && v < u), "{:?}", p.theta);
        let ok = [0.3, 0.4, 1.2, 0.2, 2.5];
        assert!(off_the_zeta_face(Model::EEP, &h, &ok, Model::EEP.loglik(&ok, &h, None), &lo, &hi).is_none());
    }
}
