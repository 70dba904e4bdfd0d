//! Minimisers: the variable-metric BFGS of Nash (1990, *Compact Numerical Methods*, Alg. 21;
//! the algorithm behind R's `optim(method = "BFGS")`), ported from the description in
//! docs/endhost.md, "Estimation", with two optional refinements, and a projected (box-constrained) quasi-Newton used
//! only as the comparison fitter of docs/endhost.md, "Alternative fitters".
//!
//! Nash's method: B (inverse-Hessian approximation) starts at I; t = −B g; if gᵀt ≥ 0 reset B
//! (stop if it was just reset); backtracking line search from step 1, ×0.2, accepting a
//! finite f(x + s t) ≤ f + 1e-4 s gᵀt ("no coordinate changes", `10 + x_i == 10 + x'_i`, means
//! no progress); convergence when the accepted step changes f by ≤ reltol (|f| + reltol) twice
//! in a row with a reset in between; BFGS update
//! `B ← B + [(1 + yᵀBy/δᵀy) δδᵀ − (By)δᵀ − δ(By)ᵀ]/δᵀy` when δᵀy > 0, else reset; a reset every
//! 2·dim gradient evaluations; at most `maxit` gradient evaluations.
//!
//! Refinements (flowlab's default `ipm` fitter; off for the faithful `ipm_nash` / `ipm_r`):
//! * `scaled_reset`: a reset after the first step sets B = γI with γ = δᵀy/yᵀy from the last
//!   accepted step (Nocedal & Wright eq. 6.20) instead of I; with ℓ = O(n) the unscaled step −g
//!   overshoots by ~10⁴ and costs 5–10 rejected trial points per reset. The very first step
//!   stays Nash's (−g, backtracking): limiting it to a unit move made 1 of 120 reference
//!   Table-2 EP fits converge to a mode 1.6 below the reference's;
//! * `periodic_reset = false`: no reset every 2·dim gradient evaluations (kept in Nash's
//!   method for robustness; the curvature test already resets on failure).

/// Options of [`vmmin`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmOptions {
    /// Relative tolerance on f.
    pub reltol: f64,
    /// Maximum gradient evaluations.
    pub maxit: u64,
    /// Reset to γI instead of I (see module docs).
    pub scaled_reset: bool,
    /// Reset every 2·dim gradient evaluations.
    pub periodic_reset: bool,
    /// `Some((m, f_stop))`: give up once `m` gradient evaluations are spent and f is still
    /// above `f_stop` (f only decreases along the path; `fit`'s cut of the EP barrier starts
    /// that are far behind a solution already known).
    pub abandon: Option<(u64, f64)>,
}

impl VmOptions {
    /// Nash / R behaviour with the given tolerances.
    pub fn nash(reltol: f64, maxit: u64) -> Self {
        VmOptions { reltol, maxit, scaled_reset: false, periodic_reset: true, abandon: None }
    }
}

/// Outcome of one minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct VmResult {
    /// Final point.
    pub x: Vec<f64>,
    /// f at x.
    pub f: f64,
    /// Function evaluations.
    pub nf: u64,
    /// Gradient evaluations.
    pub ng: u64,
    /// True when stopped by `maxit`.
    pub maxit_hit: bool,
    /// Final inverse-Hessian approximation (row-major dim×dim), for warm starts.
    pub b: Vec<f64>,
    /// True when stopped by [`VmOptions::abandon`].
    pub abandoned: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn matvec(b: &[f64], v: &[f64], out: &mut [f64]) {
    let n = v.len();
    for i in 0..n {
        out[i] = dot(&b[i * n..(i + 1) * n], v);
    }
}

fn set_scaled_identity(b: &mut [f64], n: usize, g: f64) {
    b.iter_mut().for_each(|v| *v = 0.0);
    for i in 0..n {
        b[i * n + i] = g;
    }
}

/// Minimises `fg(x, g) → f` (f = +∞ outside the domain; `g` written only for finite f)
/// from `x0`, optionally warm-started with an inverse-Hessian approximation `b0`.
pub fn vmmin(mut fg: impl FnMut(&[f64], &mut [f64]) -> f64, x0: &[f64], b0: Option<&[f64]>, o: VmOptions) -> Result<VmResult, String> {
    const STEPREDN: f64 = 0.2;
    const ACCTOL: f64 = 1e-4;
    const RELTEST: f64 = 10.0;
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    if !f.is_finite() {
        return Err("initial value not finite".into());
    }
    let mut fmin = f;
    let (mut nf, mut ng) = (1u64, 1u64);
    let mut ilast = ng;
    let mut gamma = 1.0f64; // scale of a reset
    let mut b = vec![0.0; n * n];
    let mut warm = false;
    if let Some(b0) = b0 {
        b.copy_from_slice(b0);
        warm = true;
    }
    let (mut t, mut xn, mut gn, mut c, mut xv) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut count;
    loop {
        if ilast == ng && !warm {
            set_scaled_identity(&mut b, n, if o.scaled_reset { gamma } else { 1.0 });
        }
        warm = false;
        c.copy_from_slice(&g);
        matvec(&b, &g, &mut t);
        t.iter_mut().for_each(|v| *v = -*v);
        let gradproj = dot(&t, &g);
        if gradproj < 0.0 {
            let mut step = 1.0;
            let mut accpoint = false;
            let mut fnew = f64::INFINITY;
            loop {
                count = 0;
                for i in 0..n {
                    xn[i] = x[i] + step * t[i];
                    if RELTEST + x[i] == RELTEST + xn[i] {
                        count += 1;
                    }
                }
                if count < n {
                    fnew = fg(&xn, &mut gn);
                    nf += 1;
                    accpoint = fnew.is_finite() && fnew <= fmin + gradproj * step * ACCTOL;
                    if !accpoint {
                        step *= STEPREDN;
                    }
                }
                if count == n || accpoint {
                    break;
                }
            }
            if count < n {
                let enough = (fnew - fmin).abs() > o.reltol * (fmin.abs() + o.reltol);
                x.copy_from_slice(&xn);
                f = fnew;
                fmin = f;
                if !enough {
                    // converged step: keep the fresh gradient, then reset (or stop)
                    g.copy_from_slice(&gn);
                    count = n;
                } else {
                    ng += 1;
                    // δ = s t, y = g' − g
                    for i in 0..n {
                        t[i] *= step;
                        c[i] = gn[i] - c[i];
                    }
                    g.copy_from_slice(&gn);
                    let d1 = dot(&t, &c);
                    if d1 > 0.0 {
                        gamma = d1 / dot(&c, &c);
                        matvec(&b, &c, &mut xv);
                        let d2 = 1.0 + dot(&xv, &c) / d1;
                        for i in 0..n {
                            for j in 0..n {
                                b[i * n + j] += (d2 * t[i] * t[j] - xv[i] * t[j] - t[i] * xv[j]) / d1;
                            }
                        }
                    } else {
                        ilast = ng;
                    }
                }
            }
            if count == n && ilast < ng {
                count = 0;
                ilast = ng;
            }
        } else {
            count = 0;
            if ilast == ng {
                count = n;
            } else {
                ilast = ng;
            }
        }
        if ng >= o.maxit {
            return Ok(VmResult { x, f: fmin, nf, ng, maxit_hit: true, b, abandoned: false });
        }
        if let Some((m, f_stop)) = o.abandon
            && ng >= m
            && fmin > f_stop
        {
            return Ok(VmResult { x, f: fmin, nf, ng, maxit_hit: false, b, abandoned: true });
        }
        if o.periodic_reset && ng - ilast > 2 * n as u64 {
            ilast = ng;
        }
        if count == n && ilast == ng {
            return Ok(VmResult { x, f: fmin, nf, ng, maxit_hit: false, b, abandoned: false });
        }
    }
}

/// Projected quasi-Newton on a box `[lo, hi]` (the box-constrained comparison fitter,
/// docs/endhost.md, "Alternative fitters"): coordinates at a bound whose gradient points outward are frozen, the BFGS direction
/// is taken in the free coordinates, trial points are projected onto the box, Armijo on the
/// projected step. Like L-BFGS-B it can stop on a face (π = 1) that the barrier avoids.
pub fn projected_bfgs(mut fg: impl FnMut(&[f64], &mut [f64]) -> f64, x0: &[f64], lo: &[f64], hi: &[f64], reltol: f64, maxit: u64) -> Result<VmResult, String> {
    let n = x0.len();
    let proj = |v: &mut [f64]| {
        for i in 0..n {
            v[i] = v[i].clamp(lo[i], hi[i]);
        }
    };
    let mut x = x0.to_vec();
    proj(&mut x);
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    if !f.is_finite() {
        return Err("initial value not finite".into());
    }
    let (mut nf, mut ng) = (1u64, 1u64);
    let mut b = vec![0.0; n * n];
    let mut gamma = 1.0;
    set_scaled_identity(&mut b, n, gamma);
    let (mut t, mut xn, mut gn) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut small = 0;
    let mut first = true;
    while ng < maxit {
        let active: Vec<bool> = (0..n).map(|i| (x[i] <= lo[i] && g[i] > 0.0) || (x[i] >= hi[i] && g[i] < 0.0)).collect();
        for i in 0..n {
            t[i] = if active[i] { 0.0 } else { -(0..n).filter(|&j| !active[j]).map(|j| b[i * n + j] * g[j]).sum::<f64>() };
        }
        if first {
            let m = t.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            if m > 1.0 {
                t.iter_mut().for_each(|v| *v /= m);
            }
            first = false;
        }
        if dot(&t, &g) >= 0.0 {
            set_scaled_identity(&mut b, n, gamma);
            small += 1;
            if small >= 2 {
                break;
            }
            continue;
        }
        let mut step = 1.0;
        let mut fnew;
        let mut moved;
        loop {
            for i in 0..n {
                xn[i] = x[i] + step * t[i];
            }
            proj(&mut xn);
            moved = (0..n).any(|i| xn[i] != x[i]);
            if !moved {
                fnew = f;
                break;
            }
            fnew = fg(&xn, &mut gn);
            nf += 1;
            let decr: f64 = (0..n).map(|i| g[i] * (xn[i] - x[i])).sum();
            if fnew.is_finite() && fnew <= f + 1e-4 * decr {
                break;
            }
            step *= 0.2;
            if step < 1e-20 {
                moved = false;
                fnew = f;
                break;
            }
        }
        if !moved {
            small += 1;
            set_scaled_identity(&mut b, n, gamma);
            if small >= 2 {
                break;
            }
            continue;
        }
        ng += 1;
        let s: Vec<f64> = (0..n).map(|i| xn[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| gn[i] - g[i]).collect();
        let converged = (fnew - f).abs() <= reltol * (f.abs() + reltol);
        x.copy_from_slice(&xn);
        g.copy_from_slice(&gn);
        f = fnew;
        if converged {
            small += 1;
            if small >= 2 {
                break;
            }
            set_scaled_identity(&mut b, n, gamma);
            continue;
        }
        small = 0;
        let d1 = dot(&s, &y);
        if d1 > 0.0 {
            gamma = d1 / dot(&y, &y);
            let mut xv = vec![0.0; n];
            matvec(&b, &y, &mut xv);
            let d2 = 1.0 + dot(&xv, &y) / d1;
            for i in 0..n {
                for j in 0..n {
                    b[i * n + j] += (d2 * s[i] * s[j] - xv[i] * s[j] - s[i] * xv[j]) / d1;
                }
            }
        } else {
            set_scaled_identity(&mut b, n, gamma);
        }
    }
    Ok(VmResult { x, f, nf, ng, maxit_hit: ng >= maxit, b, abandoned: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    fn rosen(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }
    #[test]
    fn rosenbrock_both_variants() {
        for o in [VmOptions::nash(1e-14, 2000), VmOptions { reltol: 1e-14, maxit: 2000, scaled_reset: true, periodic_reset: false, abandon: None }] {
            let r = vmmin(rosen, &[-1.2, 1.0], None, o).unwrap();
            assert!((r.x[0] - 1.0).abs() < 1e-4 && (r.x[1] - 1.0).abs() < 1e-4, "{o:?}: {r:?}");
            assert!(!r.maxit_hit);
        }
    }
    #[test]
    fn rejects_infinite_region() {
        // minimise (x-3)² but f = ∞ for x > 2: the constrained optimum is approached from inside
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] > 2.0 {
                return f64::INFINITY;
            }
            g[0] = 2.0 * (x[0] - 3.0) + 1e-3 / (2.0 - x[0]);
            (x[0] - 3.0).powi(2) - 1e-3 * (2.0 - x[0]).ln()
        };
        let r = vmmin(f, &[0.0], None, VmOptions::nash(1e-12, 500)).unwrap();
        assert!(r.x[0] < 2.0 && r.x[0] > 1.99, "{r:?}");
    }
    #[test]
    fn projected_stops_on_face() {
        // minimise (x+1)² + (y-0.5)² on [0,1]²: x sticks at 0
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] + 1.0);
            g[1] = 2.0 * (x[1] - 0.5);
            (x[0] + 1.0).powi(2) + (x[1] - 0.5).powi(2)
        };
        let r = projected_bfgs(f, &[0.7, 0.9], &[0.0, 0.0], &[1.0, 1.0], 1e-14, 200).unwrap();
        assert_eq!(r.x[0], 0.0);
        assert!((r.x[1] - 0.5).abs() < 1e-6, "{r:?}");
    }
}
