//! Quasi-Newton polish of em-binned's fit (`docs/histfit.md`, "em-binned convergence"): BFGS
//! on the binned log-likelihood in the unconstrained coordinates of
//! [`crate::squarem::encode`], started in EM's own metric. Generic over the objective: the
//! caller hands in one function that evaluates it (ℓ per unit and its gradient, from one
//! E-step) and refuses infeasible points.

/// Why a polish ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The predicted gain of the next step, gᵀHg, fell below the threshold.
    Flat,
    /// No step along the search direction raised ℓ enough (Armijo) in [`BACKTRACK`] tries.
    LineSearch,
    /// The evaluation budget is spent.
    Budget,
}

/// M-steps (plain EM and SQUAREM) before the first polish: far from an optimum a long
/// quasi-Newton step could leave EM's basin (see `crate::squarem::WARMUP`).
pub const FIRST: u64 = 200;

/// Iterations of SQUAREM between two polishes.
pub const EVERY: u64 = 100;

/// Evaluations one polish may spend.
pub const BUDGET: u64 = 300;

/// How far one polish may move a lognormal's ln scale or ln σ or a Pareto's ln c from where it
/// started (e^1 = 2.7×): the polish refines the optimum SQUAREM is heading for; a polish that
/// could travel further took packets all/length U6 L4 to another local optimum, 6.2e-4 per
/// packet below SQUAREM's (`docs/histfit.md`). Weights are not boxed (a fading weight's ln w
/// moves far for no change of ℓ).
pub const BOX: f64 = 1.0;

/// Halvings of the step before a line search gives up.
const BACKTRACK: usize = 8;

/// Armijo constant: a step t·d is accepted when ℓ rises by at least this fraction of the
/// first-order prediction t·gᵀd.
const ARMIJO: f64 = 1e-4;

/// Largest change of any coordinate in one step (all are logs or ln weights): a factor of 10,
/// the trust region of SQUAREM's extrapolation (`crate::squarem`).
const MAX_STEP: f64 = std::f64::consts::LN_10;

/// One point of the polish: coordinates, ℓ per unit, gradient of ℓ per unit, and what the
/// caller's evaluation returned beside them (the E-step, reused by the caller).
pub struct Point<S> {
    /// Coordinates ([`crate::squarem::encode`]'s layout).
    pub x: Vec<f64>,
    /// ℓ per unit.
    pub f: f64,
    /// ∂ℓ/∂x per unit.
    pub g: Vec<f64>,
    /// The caller's payload of this evaluation.
    pub extra: S,
}

/// What [`polish`] returns.
pub struct Polished<S> {
    /// The last accepted point (the start when no step was accepted).
    pub best: Point<S>,
    /// Evaluations made (each one E-step).
    pub evaluations: u64,
    /// Steps accepted.
    pub steps: u64,
    /// Why it stopped.
    pub stop: Stop,
}

/// BFGS ascent of ℓ from `start` with the inverse-Hessian approximation H started at
/// diag(`h0`) (the inverse of the complete-data information, so the first step is an EM-like
/// step), at most `budget` evaluations. Each iteration: d = H g (reset to diag(h0) when it is
/// not an ascent direction), scaled so no coordinate moves by more than [`MAX_STEP`];
/// backtracking from t = 1, halving, until ℓ(x + t d) ≥ ℓ(x) + [`ARMIJO`]·t·gᵀd (`eval`
/// returns `None` for a point outside the feasible set: a failed try); then the BFGS update
/// H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with s = t d, y = −(g' − g) (the gradient of −ℓ),
/// ρ = 1/(yᵀs), skipped when yᵀs ≤ 0 (the curvature condition fails, H stays positive
/// definite). Stops when gᵀHg < `flat` (the predicted gain of a full Newton step is 0.5·gᵀHg).
pub fn polish<S>(start: Point<S>, h0: &[f64], flat: f64, budget: u64, mut eval: impl FnMut(&[f64]) -> Option<(f64, Vec<f64>, S)>) -> Polished<S> {
    let n = start.x.len();
    let diag = |h0: &[f64]| -> Vec<f64> {
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            h[i * n + i] = h0[i];
        }
        h
    };
    let mut h = diag(h0);
    let mut cur = start;
    let mut evaluations = 0u64;
    let mut steps = 0u64;
    let stop = loop {
        let mut d = matvec(&h, &cur.g);
        let mut slope = dot(&cur.g, &d);
        if slope <= 0.0 || !slope.is_finite() {
            h = diag(h0);
            d = matvec(&h, &cur.g);
            slope = dot(&cur.g, &d);
        }
        if slope < flat || !slope.is_finite() {
            break Stop::Flat;
        }
        let big = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if big > MAX_STEP {
            let s = MAX_STEP / big;
            d.iter_mut().for_each(|v| *v *= s);
            slope *= s;
        }
        let mut t = 1.0;
        let mut next = None;
        for _ in 0..BACKTRACK {
            if evaluations >= budget {
                break;
            }
            let x: Vec<f64> = cur.x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            evaluations += 1;
            if let Some((f, g, extra)) = eval(&x)
                && f.is_finite()
                && f >= cur.f + ARMIJO * t * slope
            {
                next = Some(Point { x, f, g, extra });
                break;
            }
            t *= 0.5;
        }
        let Some(next) = next else {
            break if evaluations >= budget { Stop::Budget } else { Stop::LineSearch };
        };
        let s: Vec<f64> = next.x.iter().zip(&cur.x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = cur.g.iter().zip(&next.g).map(|(a, b)| a - b).collect();
        let ys = dot(&y, &s);
        if ys > 0.0 {
            bfgs_update(&mut h, &s, &y, ys);
        }
        cur = next;
        steps += 1;
    };
    Polished { best: cur, evaluations, steps, stop }
}

/// H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, ρ = 1/`ys`, expanded as
/// H − ρ(s (Hy)ᵀ + (Hy) sᵀ) + (ρ² yᵀHy + ρ) s sᵀ (H symmetric).
fn bfgs_update(h: &mut [f64], s: &[f64], y: &[f64], ys: f64) {
    let n = s.len();
    let rho = 1.0 / ys;
    let hy = matvec(h, y);
    let yhy = dot(y, &hy);
    let c = rho * rho * yhy + rho;
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] += -rho * (s[i] * hy[j] + hy[i] * s[j]) + c * s[i] * s[j];
        }
    }
}

/// Row-major n×n matrix times vector.
fn matvec(h: &[f64], v: &[f64]) -> Vec<f64> {
    let n = v.len();
    (0..n).map(|i| dot(&h[i * n..(i + 1) * n], v)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a concave quadratic with condition number 10⁴ (a ridge) BFGS reaches the maximum to
    /// 1e-10 in far fewer evaluations than the dimension squared; an infeasible half-space
    /// (refused by `eval`) keeps every accepted point feasible.
    #[test]
    fn polish_climbs_an_ill_conditioned_quadratic_and_respects_refusals() {
        let n = 12;
        let a: Vec<f64> = (0..n).map(|i| 10f64.powf(4.0 * i as f64 / (n - 1) as f64)).collect();
        // a rotated ridge: f(x) = −½ Σ a_i (q_i·(x − m))², q a Householder reflection
        let u: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
        let uu = dot(&u, &u);
        let q = |v: &[f64]| -> Vec<f64> {
            let c = 2.0 * dot(&u, v) / uu;
            v.iter().zip(&u).map(|(a, b)| a - c * b).collect()
        };
        let m: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64 * 0.37).sin()).collect();
        let f = |x: &[f64]| -> (f64, Vec<f64>) {
            let z = q(&x.iter().zip(&m).map(|(a, b)| a - b).collect::<Vec<_>>());
            let val = -0.5 * z.iter().zip(&a).map(|(z, a)| a * z * z).sum::<f64>();
            let g = q(&z.iter().zip(&a).map(|(z, a)| -a * z).collect::<Vec<_>>());
            (val, g)
        };
        let x0 = vec![0.0; n];
        let (f0, g0) = f(&x0);
        let out = polish(Point { x: x0, f: f0, g: g0, extra: () }, &vec![1e-2; n], 1e-14, 400, |x| {
            let (v, g) = f(x);
            Some((v, g, ()))
        });
        assert!(out.best.f > -1e-10, "ℓ gap {} after {} evaluations ({:?})", -out.best.f, out.evaluations, out.stop);
        assert!(out.evaluations < 100, "{} evaluations", out.evaluations);
        // refuse x_0 > m_0 / 2: the maximiser is outside, every accepted point inside
        let lim = m[0] / 2.0;
        let x0 = vec![0.0; n];
        let (f0, g0) = f(&x0);
        let out = polish(Point { x: x0, f: f0, g: g0, extra: () }, &vec![1e-2; n], 1e-14, 400, |x| {
            (x[0] <= lim).then(|| {
                let (v, g) = f(x);
                (v, g, ())
            })
        });
        assert!(out.best.x[0] <= lim && out.best.f > f0);
    }
}
