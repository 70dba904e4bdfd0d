//! Seeded samplers (docs/endhost.md, "Samplers"): Devroye's rejection sampler for the zeta law, `1 + ⌊E/λ⌋` for
//! the geometric, and mixtures (component labels first, then each component's values in
//! the order E₁, E₂, P).
use crate::model::Model;
use rand::Rng;

const XMAX: f64 = 4_611_686_018_427_387_904.0; // 2^62

/// One zeta(α) draw by Devroye (1986, §X.6.1): b = 2^{α−1}; repeat U ∈ (0,1], V ∈ [0,1),
/// X = ⌊U^{−1/(α−1)}⌋, T = (1 + 1/X)^{α−1} until V·X·(T−1)/(b−1) ≤ T/b; X ≥ 2⁶² rejected.
pub fn zeta_one<R: Rng + ?Sized>(rng: &mut R, alpha: f64) -> u64 {
    let am1 = alpha - 1.0;
    let b = am1.exp2();
    loop {
        let u = 1.0 - rng.random::<f64>();
        let v = rng.random::<f64>();
        let x = u.powf(-1.0 / am1).floor();
        if !(1.0..XMAX).contains(&x) {
            continue;
        }
        let t = (1.0 + 1.0 / x).powf(am1);
        if v * x * (t - 1.0) / (b - 1.0) <= t / b {
            return x as u64;
        }
    }
}

/// One geometric draw on {1, 2, …}: `1 + ⌊E/λ⌋`, E = −ln U ~ Exp(1) (= ⌈Exp(λ)⌉ a.s.).
pub fn geom_one<R: Rng + ?Sized>(rng: &mut R, lam: f64) -> u64 {
    let e = -(1.0 - rng.random::<f64>()).ln();
    let x = 1.0 + (e / lam).floor();
    if x >= XMAX { u64::MAX / 2 } else { x as u64 }
}

/// n draws from `model` at θ. Order of random draws: n uniforms for the component labels
/// (cumulative weights E₁, [E₂,] P), then each component's values in component order.
pub fn sample_model<R: Rng + ?Sized>(rng: &mut R, model: Model, th: &[f64], n: usize) -> Vec<u64> {
    if model == Model::P {
        return (0..n).map(|_| zeta_one(rng, th[0])).collect();
    }
    let w = model.weights(th);
    let mut cum = Vec::with_capacity(w.len() - 1);
    let mut acc = 0.0;
    for wi in &w[..w.len() - 1] {
        acc += wi;
        cum.push(acc);
    }
    let labels: Vec<usize> = (0..n)
        .map(|_| {
            let u = rng.random::<f64>();
            cum.iter().position(|&c| u < c).unwrap_or(cum.len())
        })
        .collect();
    let mut x = vec![0u64; n];
    let rates = model.rates(th);
    for (j, &lam) in rates.iter().enumerate() {
        for (i, _) in labels.iter().enumerate().filter(|(_, l)| **l == j) {
            x[i] = geom_one(rng, lam);
        }
    }
    let alpha = th[th.len() - 1];
    for (i, _) in labels.iter().enumerate().filter(|(_, l)| **l == rates.len()) {
        x[i] = zeta_one(rng, alpha);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pmf_table;
    use flowlab_abi::seed::rng_from_u64;
    use statrs_free_chi2::chi2_sf;

    /// Survival function of χ² (regularised upper incomplete gamma), enough for a test.
    mod statrs_free_chi2 {
        pub fn chi2_sf(x: f64, k: f64) -> f64 {
            upper_gamma_reg(k / 2.0, x / 2.0)
        }
        fn ln_gamma(z: f64) -> f64 {
            // Lanczos (g = 7, n = 9)
            const C: [f64; 9] = [
                0.999_999_999_999_809_9,
                676.520_368_121_885_1,
                -1_259.139_216_722_402_8,
                771.323_428_777_653_1,
                -176.615_029_162_140_6,
                12.507_343_278_686_905,
                -0.138_571_095_265_720_12,
                9.984_369_578_019_572e-6,
                1.505_632_735_149_311_6e-7,
            ];
            let z = z - 1.0;
            let mut x = C[0];
            for (i, c) in C.iter().enumerate().skip(1) {
                x += c / (z + i as f64);
            }
            let t = z + 7.5;
            0.5 * (2.0 * std::f64::consts::PI).ln() + (z + 0.5) * t.ln() - t + x.ln()
        }
        fn upper_gamma_reg(a: f64, x: f64) -> f64 {
            if x < a + 1.0 {
                // series for P
                let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
                for _ in 0..10_000 {
                    ap += 1.0;
                    term *= x / ap;
                    sum += term;
                    if term < sum * 1e-16 {
                        break;
                    }
                }
                1.0 - sum * (-x + a * x.ln() - ln_gamma(a)).exp()
            } else {
                // continued fraction for Q (Lentz)
                let mut b = x + 1.0 - a;
                let mut c = 1e300;
                let mut d = 1.0 / b;
                let mut h = d;
                for i in 1..10_000 {
                    let an = -(i as f64) * (i as f64 - a);
                    b += 2.0;
                    d = an * d + b;
                    d = 1.0 / d;
                    c = b + an / c;
                    let del = d * c;
                    h *= del;
                    if (del - 1.0).abs() < 1e-16 {
                        break;
                    }
                }
                (-x + a * x.ln() - ln_gamma(a)).exp() * h
            }
        }
    }

    #[test]
    fn chi_square_goodness_of_fit() {
        // docs/endhost.md, "Accuracy targets" B1: 2·10⁵ draws, first 30 cells + a tail cell, p > 1e-3
        for (m, th) in [(Model::P, vec![1.7]), (Model::EP, vec![0.4, 0.3, 2.2]), (Model::EEP, vec![0.3, 0.5, 0.8, 0.15, 2.0])] {
            let mut rng = rng_from_u64(7, "chi2", 0);
            let n = 200_000;
            let x = sample_model(&mut rng, m, &th, n);
            let p = pmf_table(m, &th, 30);
            let mut obs = vec![0f64; 31];
            for v in x {
                obs[(v.min(31) - 1) as usize] += 1.0;
            }
            let mut chi = 0.0;
            let ptail = 1.0 - p.iter().sum::<f64>();
            for i in 0..31 {
                let e = if i < 30 { p[i] } else { ptail } * n as f64;
                chi += (obs[i] - e).powi(2) / e;
            }
            let pv = chi2_sf(chi, 30.0);
            assert!(pv > 1e-3, "{m:?}: chi2 {chi} p {pv}");
        }
        // the χ² tail itself: sf(30, 30) ≈ 0.4657
        assert!((chi2_sf(30.0, 30.0) - 0.465_948).abs() < 1e-3, "{}", chi2_sf(30.0, 30.0));
    }
    #[test]
    fn geometric_mean() {
        let mut rng = rng_from_u64(3, "g", 0);
        let n = 100_000;
        let s: u64 = (0..n).map(|_| geom_one(&mut rng, 0.5)).sum();
        let mean = s as f64 / n as f64;
        let want = 1.0 / (1.0 - (-0.5f64).exp());
        assert!((mean - want).abs() < 0.03, "{mean} vs {want}");
    }
}
