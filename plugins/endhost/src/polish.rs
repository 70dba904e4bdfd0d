//! Final polish of the best start's end point (`docs/endhost.md`, "Starts"): damped Newton
//! (Levenberg–Marquardt) steps on the raw log-likelihood, inside the open box.
//!
//! Why: the barrier stages stop when a BFGS step changes the objective by ≤ reltol·|f|
//! (≈ 3·10⁻⁶ nats at ℓ ≈ 3·10⁴) and at μ = 10⁻⁶ the barrier still holds a point off a face by
//! O(μ); along a flat direction (ρ → 1 with λ₂ → 0, α of a vanishing zeta) that leaves up to
//! ~10⁻⁵ nats on the table. A Newton step on ℓ itself removes both.
//!
//! Step: with g = ∇ℓ and H the observed-information Hessian (forward differences of g,
//! [`crate::fit::hessian_fwd`]), solve `(−H + ν D) d = g`, D = diag(|H_ii| + 10⁻¹² max_j |H_jj|),
//! for ν = 0, 10⁻⁶, 10⁻⁴, 10⁻², 1, 10², 10⁴ (the first ν whose matrix is positive definite and
//! whose step gains), halving d
//! until θ + d stays inside the box (1e-9 of the width) and ℓ does not decrease. At most
//! [`MAX_STEPS`] steps; stops when a step gains ≤ 10⁻¹⁵·|ℓ|. When no step gains, a rate or α
//! whose gradient points out of the box is moved next to that face if ℓ gains.
//!
//! A step that pushes coordinates out of the box is also tried with those coordinates held
//! (the Newton step of the others: an active face such as α of a zeta spike at k = 1). The same
//! steps solve the insertion starts (`fit`, [`crate::insert`]) and the [`exchange`] search.
use crate::data::Hist;
use crate::fit::Bounds;
use crate::fit::{cholesky, hessian_fwd};
use crate::insert;
use crate::model::Model;
use crate::starts::{NEWTON_MARGIN, best_distinct, newton_margins};

/// A point and its ℓ.
type Point = (Vec<f64>, f64);

/// Newton steps at most. 20: along the ridge of a geometric spike at k = 1 (λ → the box's
/// upper face, a zeta of weight 10⁻⁵ beside it) each step gains little, and 6 steps stopped
/// 3.8·10⁻⁴ nats short (docs/endhost.md, "Held-out seeds 64–69"); a fit whose steps stop gaining
/// (≤ 10⁻¹⁵·|ℓ|) ends earlier, so the cost is small.
pub const MAX_STEPS: usize = 20;
/// [`polish_towards`] judges a start after this many steps.
pub const REACH_AFTER: usize = 4;
/// [`polish_towards`] assumes each remaining step gains at most this many times the last one.
pub const REACH_FACTOR: f64 = 5.0;

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
    let m = newton_margins(model, h, lo, hi, 2.0 * NEWTON_MARGIN);
    for i in (0..x.len()).filter(|&i| !matches!(names[i], "pi" | "rho")) {
        let face = if g[i] > 0.0 { hi[i] - m[i].1 } else { lo[i] + m[i].0 };
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

/// `out` (coordinates a Newton step `d` pushes out of the box) with the parameters of a
/// component whose weight is pushed to 0 added: with no weight a component's rate or α is not
/// identified (ℓ is flat along it) and, left free, makes the Newton system singular, so on the
/// π → 0 face the step of the geometrics crawled (EP: π → 0 holds α, π → 1 holds λ; EEP: π → 0
/// holds α, π → 1 holds ρ, λ₁, λ₂, ρ → 0 holds λ₁, ρ → 1 holds λ₂).
fn with_vanished(model: Model, out: &[bool], d: &[f64]) -> Vec<bool> {
    let mut held = out.to_vec();
    let k = out.len();
    if model == Model::P || !out[0] {
        // π not at a face; EEP's ρ below
    } else if d[0] < 0.0 {
        held[k - 1] = true;
    } else {
        held[1..k - 1].iter_mut().for_each(|v| *v = true);
    }
    if model == Model::EEP && out[1] {
        held[if d[1] < 0.0 { 2 } else { 3 }] = true;
    }
    held
}

/// θ + d, d halved (at most 40 times) until the point is inside and ℓ does not drop; the point
/// and its ℓ.
fn line_search(model: Model, h: &Hist, x: &[f64], mut d: Vec<f64>, ll: f64, inside: &dyn Fn(&[f64]) -> bool, evals: &mut u64) -> Option<(Vec<f64>, f64)> {
    for _ in 0..40 {
        let y: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + b).collect();
        if inside(&y) {
            let v = model.loglik(&y, h, None);
            *evals += 1;
            if v >= ll {
                return Some((y, v));
            }
        }
        d.iter_mut().for_each(|v| *v *= 0.5);
    }
    None
}

/// Polishes θ (inside the box `lo`, `hi`) by damped Newton steps on ℓ (module docs).
pub fn polish(model: Model, h: &Hist, th: &[f64], lo: &[f64], hi: &[f64]) -> Polished {
    polish_steps(model, h, th, lo, hi, MAX_STEPS)
}

/// [`polish`] with at most `max_steps` Newton steps.
pub fn polish_steps(model: Model, h: &Hist, th: &[f64], lo: &[f64], hi: &[f64], max_steps: usize) -> Polished {
    polish_towards(model, h, th, lo, hi, max_steps, f64::NEG_INFINITY)
}

/// [`polish_steps`] that gives up on a start which cannot reach `bar` (the ℓ of a solution
/// already known): after [`REACH_AFTER`] steps, when ℓ + [`REACH_FACTOR`]·(last gain)·(steps
/// left) < `bar`. Damped Newton's gains shrink as it converges, so a start still that far
/// below after a few steps ends below `bar` and cannot change the fit; the factor leaves room
/// for a step that gains more than the one before (a damped step leaving a flat region).
/// Measured on the 3 000 reference draws of docs/endhost.md ("Starts"): no fit changes by more
/// than 10⁻⁶ nats (exchange and insertion starts both use it) and the fits take 6 % less CPU.
pub fn polish_towards(model: Model, h: &Hist, th: &[f64], lo: &[f64], hi: &[f64], max_steps: usize, bar: f64) -> Polished {
    let k = th.len();
    let mut x = th.to_vec();
    let mut g = vec![0.0; k];
    let mut ll = model.loglik(&x, h, Some(&mut g));
    let (mut steps, mut evals) = (0, 1u64);
    if !ll.is_finite() {
        return Polished { theta: x, loglik: ll, steps, evaluations: evals };
    }
    let m = newton_margins(model, h, lo, hi, NEWTON_MARGIN);
    // at the margin counts as inside: a start clamped onto it ([`best_distinct`]) may then take
    // steps that hold that coordinate (strictly inside, none was ever accepted from it)
    let inside = |v: &[f64]| (0..k).all(|i| v[i] - lo[i] >= m[i].0 && hi[i] - v[i] >= m[i].1);
    for _ in 0..max_steps {
        let Some(hm) = hessian_fwd(model, &x, &g, h) else { break };
        evals += k as u64;
        // D_ii = |H_ii| plus 10⁻¹² of the largest (a coordinate with no curvature is damped
        // too); ν up to 10⁴: a coordinate along which ℓ is locally convex (H_ii > 0, e.g. the α
        // of a zeta of weight 10⁻⁶) needs ν > 1 before the matrix is positive definite
        let dmax = (0..k).map(|i| hm[i * k + i].abs()).fold(0.0, f64::max);
        // the damped Newton step of the coordinates `idx` (the others held), or None when the
        // damped block is not positive definite
        let step = |nu: f64, idx: &[usize]| -> Option<Vec<f64>> {
            let m = idx.len();
            let a: Vec<f64> =
                idx.iter().flat_map(|&r| idx.iter().map(move |&c| (r, c))).map(|(r, c)| if r == c { -hm[r * k + r] + nu * (hm[r * k + r].abs() + 1e-12 * dmax) } else { -hm[r * k + c] }).collect();
            let l = cholesky(&a, m)?;
            let ds = chol_solve(&l, m, &idx.iter().map(|&i| g[i]).collect::<Vec<_>>());
            let mut d = vec![0.0; k];
            idx.iter().zip(&ds).for_each(|(&i, v)| d[i] = *v);
            Some(d)
        };
        // the first ν that is positive definite and gains
        let damped = |idx: &[usize], evals: &mut u64| -> (Option<Point>, Option<Vec<f64>>) {
            let mut first = None;
            for nu in [0.0, 1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4] {
                let Some(d) = step(nu, idx) else { continue };
                first.get_or_insert_with(|| d.clone());
                if let Some(r) = line_search(model, h, &x, d, ll, &inside, evals) {
                    return (Some(r), first);
                }
            }
            (None, first)
        };
        let all: Vec<usize> = (0..k).collect();
        let (mut best, first) = damped(&all, &mut evals);
        // coordinates the least damped full step pushes out of the box held where they are (an
        // active face, e.g. α of a zeta spike at k = 1), with the parameters of a component whose
        // weight goes to 0: the Newton step of the others, with its own damping
        if let Some(d) = first {
            let out: Vec<bool> = (0..k).map(|i| !(x[i] + d[i] - lo[i] > m[i].0 && hi[i] - x[i] - d[i] > m[i].1)).collect();
            let held = with_vanished(model, &out, &d);
            let free: Vec<usize> = (0..k).filter(|&i| !held[i]).collect();
            if !free.is_empty()
                && free.len() < k
                && let (Some(r), _) = damped(&free, &mut evals)
                && best.as_ref().is_none_or(|b| r.1 > b.1)
            {
                best = Some(r);
            }
        }
        // coordinates along which ℓ is locally convex (H_ii > 0: the α of a zeta spike at k = 1
        // on its flat ridge) held: the full system needs a damping ν ≫ 1 to be definite, which
        // shrinks every coordinate's step, and the others crawled for dozens of steps
        let convex: Vec<usize> = (0..k).filter(|&i| hm[i * k + i] > 0.0).collect();
        if !convex.is_empty() && convex.len() < k {
            let free: Vec<usize> = (0..k).filter(|i| !convex.contains(i)).collect();
            if let (Some(r), _) = damped(&free, &mut evals)
                && best.as_ref().is_none_or(|b| r.1 > b.1)
            {
                best = Some(r);
            }
        }
        let Some((y, v)) = best.or_else(|| snap_to_faces(model, h, &x, &g, ll, lo, hi, &mut evals)) else { break };
        let gain = v - ll;
        x = y;
        ll = model.loglik(&x, h, Some(&mut g));
        evals += 1;
        steps += 1;
        if gain <= 1e-15 * ll.abs() {
            break;
        }
        if steps >= REACH_AFTER && ll + gain * REACH_FACTOR * ((max_steps - steps) as f64) < bar {
            break;
        }
    }
    Polished { theta: x, loglik: ll, steps, evaluations: evals }
}

/// Exchange rounds at most ([`exchange`]). One: a second round, measured on the 3 000 reference
/// draws of docs/endhost.md ("Starts"), raised no fit by more than 5·10⁻⁸ nats and cost 1.5 %
/// of the fits' instructions.
pub const EXCHANGE_ROUNDS: usize = 1;
/// Exchange starts solved per round.
pub const EXCHANGE_KEEP: usize = 3;
/// Exchange starts whose predicted ℓ is more than this below the current ℓ are not solved.
pub const EXCHANGE_SLACK: f64 = 2.0;
/// Newton steps per exchange start.
pub const EXCHANGE_STEPS: usize = 15;

/// Local search across modes from θ (ℓ = `ll`): the [`insert::exchanges`] of θ (a component
/// removed and the same kind re-inserted at its profile's best parameter) whose predicted ℓ is
/// within [`EXCHANGE_SLACK`] of `ll`, the best [`EXCHANGE_KEEP`] solved by Newton
/// ([`polish_steps`], [`EXCHANGE_STEPS`]); the best end point replaces θ when it gains, for at
/// most [`EXCHANGE_ROUNDS`] rounds. Returns the final point if any round gained. This moves a
/// vanishing zeta's α off a face of the box (π → 0: the α of a weight 10⁻⁷…10⁻⁶ changes ℓ by
/// 10⁻⁶…10⁻⁵ nats) and trades a geometric for one at another rate (a body for a tail).
pub fn exchange(model: Model, h: &Hist, th: &[f64], ll: f64, lo: &[f64], hi: &[f64], b: &Bounds) -> Option<Polished> {
    if model == Model::P {
        return None;
    }
    let (mut x, mut v) = (th.to_vec(), ll);
    let (mut evals, mut steps, mut gained) = (0, 0, false);
    for _ in 0..EXCHANGE_ROUNDS {
        let cands: Vec<(f64, Vec<f64>)> = insert::exchanges(model, &x, h, b).into_iter().filter(|(p, _)| *p >= v - EXCHANGE_SLACK).collect();
        let mut best: Option<Polished> = None;
        for s in best_distinct(cands, EXCHANGE_KEEP, lo, hi, &newton_margins(model, h, lo, hi, NEWTON_MARGIN)) {
            // only a start that beats θ and the best exchange so far matters
            let p = polish_towards(model, h, &s, lo, hi, EXCHANGE_STEPS, best.as_ref().map_or(v, |b| b.loglik.max(v)));
            evals += p.evaluations;
            if best.as_ref().is_none_or(|b| p.loglik > b.loglik) {
                best = Some(p);
            }
        }
        match best {
            Some(p) if p.loglik > v => {
                x = p.theta;
                model.canonical(&mut x);
                v = p.loglik;
                steps += p.steps;
                gained = true;
            }
            _ => break,
        }
    }
    gained.then_some(Polished { theta: x, loglik: v, steps, evaluations: evals })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::{FitOptions, fit_model};
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
    fn exchange_trades_a_body_geometric_for_the_tail_and_only_gains() {
        // a zeta body, a geometric at rate 1 and a 3 % tail geometric of mean 1000; a point that
        // put the second geometric next to the first (rate 0.5) is traded for the tail by
        // re-inserting that geometric at its profile's best rate
        let th = [0.6, 0.9, 1.0, 1e-3, 2.2];
        let h = Hist::from_samples(&sample_model(&mut rng_from_u64(21, "data", 0), Model::EEP, &th, 8_000)).unwrap();
        let b = Bounds::default();
        let (lo, hi) = b.for_model(Model::EEP);
        let x = [0.6, 0.9, 1.0, 0.5, 2.2];
        let wrong = Polished { theta: x.to_vec(), loglik: Model::EEP.loglik(&x, &h, None), steps: 0, evaluations: 0 };
        let truth = Model::EEP.loglik(&th, &h, None);
        assert!(wrong.loglik < truth - 10.0, "{} vs {truth}", wrong.loglik);
        let p = exchange(Model::EEP, &h, &wrong.theta, wrong.loglik, &lo, &hi, &b).expect("a gain");
        assert!(p.loglik >= truth && p.loglik == Model::EEP.loglik(&p.theta, &h, None), "{} vs {truth}: from {:?} ({}) to {:?}", p.loglik, wrong.theta, wrong.loglik, p.theta);
        assert!(p.theta[3] > 3e-4 && p.theta[3] < 3e-3, "{:?}", p.theta);
        assert!(p.theta.iter().zip(lo.iter().zip(&hi)).all(|(v, (l, u))| v > l && v < u), "{:?}", p.theta);
        // from the optimum itself nothing is returned, or a point at least as good
        if let Some(q) = exchange(Model::EEP, &h, &p.theta, p.loglik, &lo, &hi, &b) {
            assert!(q.loglik > p.loglik);
        }
    }
}
