//! The P / EP / EEP models on k = 1, 2, … (spec §1.2–§1.4) and their log-likelihoods with
//! analytic gradients on a histogram.
//!
//! ```text
//! zeta      z(k|α) = k^{-α} / ζ(α)                              α > 1
//! geometric g(k|λ) = (1 − e^{-λ}) e^{-λ(k−1)}   (= ⌈Exp(λ)⌉)    λ > 0
//! P   : p(k) = z(k|α)                                              θ = (α)
//! EP  : p(k) = (1−π) g(k|λ) + π z(k|α)                              θ = (π, λ, α)
//! EEP : p(k) = (1−π)ρ g(k|λ₁) + (1−π)(1−ρ) g(k|λ₂) + π z(k|α)       θ = (π, ρ, λ₁, λ₂, α)
//! ℓ(θ) = Σ_j c_j ln p(k_j|θ)
//! ```
//! π is the Pareto weight. Gradients (responsibilities r_c, C_c = Σ_j c_j r_c(k_j)):
//! ∂ℓ/∂π = C_P/π − (C_E1+C_E2)/(1−π); ∂ℓ/∂ρ = C_E1/ρ − C_E2/(1−ρ);
//! ∂ℓ/∂λ_i = C_Ei/(e^{λ_i}−1) − Σ_j c_j r_Ei(k_j)(k_j−1);
//! ∂ℓ/∂α = −Σ_j c_j r_P(k_j) ln k_j − C_P ζ′(α)/ζ(α).
use crate::data::Hist;
use crate::zeta::{log1mexp_neg, zeta_d};
use serde::{Deserialize, Serialize};

/// One of the paper's three models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Model {
    /// Pure zeta (discrete Pareto), 1 parameter.
    P,
    /// Geometric + zeta, 3 parameters.
    EP,
    /// Two geometrics + zeta, 5 parameters.
    EEP,
}

/// Every model, simplest first.
pub const ALL: [Model; 3] = [Model::P, Model::EP, Model::EEP];

impl Model {
    /// Parameter names in θ order.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Model::P => &["alpha"],
            Model::EP => &["pi", "lam", "alpha"],
            Model::EEP => &["pi", "rho", "lam1", "lam2", "alpha"],
        }
    }
    /// Degrees of freedom k (= dim θ).
    pub fn dof(self) -> usize {
        self.names().len()
    }
    /// Name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::P => "P",
            Model::EP => "EP",
            Model::EEP => "EEP",
        }
    }
    /// Parses `P` / `EP` / `EEP`.
    pub fn parse(s: &str) -> Option<Model> {
        match s {
            "P" => Some(Model::P),
            "EP" => Some(Model::EP),
            "EEP" => Some(Model::EEP),
            _ => None,
        }
    }
    /// Mixture weights (E₁, [E₂,] P) from θ.
    pub fn weights(self, th: &[f64]) -> Vec<f64> {
        match self {
            Model::P => vec![1.0],
            Model::EP => vec![1.0 - th[0], th[0]],
            Model::EEP => vec![(1.0 - th[0]) * th[1], (1.0 - th[0]) * (1.0 - th[1]), th[0]],
        }
    }
    /// Geometric rates in component order.
    pub fn rates(self, th: &[f64]) -> Vec<f64> {
        match self {
            Model::P => vec![],
            Model::EP => vec![th[1]],
            Model::EEP => vec![th[2], th[3]],
        }
    }
    /// Canonical order (spec §1.4): EEP with λ₁ < λ₂ is relabelled (λ swap, ρ ← 1 − ρ).
    pub fn canonical(self, th: &mut [f64]) {
        if self == Model::EEP && th[2] < th[3] {
            th.swap(2, 3);
            th[1] = 1.0 - th[1];
        }
    }
    /// Log-likelihood ℓ(θ) on `h`; writes ∂ℓ/∂θ into `grad` when given. Returns −∞ outside
    /// the open domain (π, ρ ∈ (0,1), λ > 0, α > 1); `grad` is then left untouched.
    pub fn loglik(self, th: &[f64], h: &Hist, grad: Option<&mut [f64]>) -> f64 {
        match self {
            Model::P => loglik_p(th[0], h, grad),
            Model::EP => loglik_ep(th, h, grad),
            Model::EEP => loglik_eep(th, h, grad),
        }
    }
    /// ln p(k|θ) for one value k ≥ 1.
    pub fn ln_pmf(self, th: &[f64], k: u64) -> f64 {
        let h = Hist::from_pairs([(k, 1)]).expect("k ≥ 1");
        self.loglik(th, &h, None)
    }
}

fn loglik_p(a: f64, h: &Hist, grad: Option<&mut [f64]>) -> f64 {
    if !(a > 1.0) {
        return f64::NEG_INFINITY;
    }
    let (z0, z1, _) = zeta_d(a);
    if let Some(g) = grad {
        g[0] = -h.s_lk - h.n * z1 / z0;
    }
    -a * h.s_lk - h.n * z0.ln()
}

fn loglik_ep(th: &[f64], h: &Hist, grad: Option<&mut [f64]>) -> f64 {
    let (pi, lam, a) = (th[0], th[1], th[2]);
    if !(pi > 0.0 && pi < 1.0 && lam > 0.0 && a > 1.0) {
        return f64::NEG_INFINITY;
    }
    let (z0, z1, _) = zeta_d(a);
    let a0 = (-pi).ln_1p() + log1mexp_neg(lam);
    let b0 = pi.ln() - z0.ln();
    let (mut ll, mut ce, mut se_km1, mut sp_lk) = (0.0, 0.0, 0.0, 0.0);
    for j in 0..h.k.len() {
        let (c, lk, km1) = (h.c[j], h.lk[j], h.km1[j]);
        let la = a0 - lam * km1;
        let lb = b0 - a * lk;
        // responsibilities via one exp and one log1p
        let (lp, re) = if la >= lb {
            let w = (lb - la).exp();
            (la + w.ln_1p(), 1.0 / (1.0 + w))
        } else {
            let w = (la - lb).exp();
            (lb + w.ln_1p(), w / (1.0 + w))
        };
        ll += c * lp;
        let cre = c * re;
        ce += cre;
        se_km1 += cre * km1;
        sp_lk += (c - cre) * lk;
    }
    if let Some(g) = grad {
        let cp = h.n - ce;
        g[0] = cp / pi - ce / (1.0 - pi);
        g[1] = ce / lam.exp_m1() - se_km1;
        g[2] = -sp_lk - cp * z1 / z0;
    }
    ll
}

fn loglik_eep(th: &[f64], h: &Hist, grad: Option<&mut [f64]>) -> f64 {
    let (pi, rho, l1, l2, a) = (th[0], th[1], th[2], th[3], th[4]);
    if !(pi > 0.0 && pi < 1.0 && rho > 0.0 && rho < 1.0 && l1 > 0.0 && l2 > 0.0 && a > 1.0) {
        return f64::NEG_INFINITY;
    }
    let (z0, z1, _) = zeta_d(a);
    let l1mpi = (-pi).ln_1p();
    let a10 = l1mpi + rho.ln() + log1mexp_neg(l1);
    let a20 = l1mpi + (-rho).ln_1p() + log1mexp_neg(l2);
    let b0 = pi.ln() - z0.ln();
    let (mut ll, mut c1, mut c2, mut s1, mut s2, mut sp_lk, mut cp) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for j in 0..h.k.len() {
        let (c, lk, km1) = (h.c[j], h.lk[j], h.km1[j]);
        let x1 = a10 - l1 * km1;
        let x2 = a20 - l2 * km1;
        let xb = b0 - a * lk;
        // stable log-sum-exp with two exponentials: the largest term is exp(0) = 1
        let (m, e1, e2, eb) = if x1 >= x2 && x1 >= xb {
            (x1, 1.0, (x2 - x1).exp(), (xb - x1).exp())
        } else if x2 >= xb {
            (x2, (x1 - x2).exp(), 1.0, (xb - x2).exp())
        } else {
            (xb, (x1 - xb).exp(), (x2 - xb).exp(), 1.0)
        };
        let s = e1 + e2 + eb;
        ll += c * (m + s.ln());
        let cs = c / s;
        let (r1, r2, rb) = (cs * e1, cs * e2, cs * eb);
        c1 += r1;
        c2 += r2;
        cp += rb;
        s1 += r1 * km1;
        s2 += r2 * km1;
        sp_lk += rb * lk;
    }
    if let Some(g) = grad {
        g[0] = cp / pi - (c1 + c2) / (1.0 - pi);
        g[1] = c1 / rho - c2 / (1.0 - rho);
        g[2] = c1 / l1.exp_m1() - s1;
        g[3] = c2 / l2.exp_m1() - s2;
        g[4] = -sp_lk - cp * z1 / z0;
    }
    ll
}

/// Probability mass p(k|θ) for k = 1..=kmax (for goodness-of-fit checks).
pub fn pmf_table(model: Model, th: &[f64], kmax: u64) -> Vec<f64> {
    (1..=kmax).map(|k| model.ln_pmf(th, k).exp()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn hist() -> Hist {
        // a spread-out histogram with large values
        let pairs: Vec<(u64, u64)> = (1..60u64).map(|k| (k * k / 3 + 1, 100 / k + 1)).chain([(5000, 2), (123456, 1)]).collect();
        Hist::from_pairs(pairs).unwrap()
    }
    #[test]
    fn equals_per_sample_sum_and_direct_formula() {
        let h = hist();
        let th = [0.35, 0.4, 1.9];
        let (z0, _, _) = zeta_d(1.9);
        let mut direct = 0.0;
        for j in 0..h.k.len() {
            let k = h.k[j];
            let g = (1.0 - (-0.4f64).exp()) * (-0.4 * (k - 1.0)).exp();
            let z = k.powf(-1.9) / z0;
            direct += h.c[j] * (0.65 * g + 0.35 * z).ln();
        }
        let ll = Model::EP.loglik(&th, &h, None);
        assert!(((ll - direct) / direct).abs() < 1e-12, "{ll} {direct}");
        // EEP with ρ→ the EP limit equals EP when λ₁ = λ₂
        let ll2 = Model::EEP.loglik(&[0.35, 0.3, 0.4, 0.4, 1.9], &h, None);
        assert!(((ll2 - ll) / ll).abs() < 1e-12);
        // P
        let lp = Model::P.loglik(&[1.9], &h, None);
        let dp: f64 = (0..h.k.len()).map(|j| h.c[j] * (h.k[j].powf(-1.9) / z0).ln()).sum();
        assert!(((lp - dp) / dp).abs() < 1e-12);
    }
    #[test]
    fn gradients_match_central_differences() {
        let h = hist();
        for (m, th) in [(Model::P, vec![2.1]), (Model::EP, vec![0.35, 0.4, 1.9]), (Model::EEP, vec![0.3, 0.4, 0.9, 0.12, 2.1])] {
            let mut g = vec![0.0; th.len()];
            m.loglik(&th, &h, Some(&mut g));
            for i in 0..th.len() {
                let hh = 1e-6 * th[i].abs().max(1.0);
                let mut tp = th.clone();
                tp[i] += hh;
                let mut tm = th.clone();
                tm[i] -= hh;
                let fd = (m.loglik(&tp, &h, None) - m.loglik(&tm, &h, None)) / (2.0 * hh);
                let err = (g[i] - fd).abs() / (fd.abs() + 1.0);
                assert!(err < 1e-6, "{m:?} θ{i}: analytic {} vs fd {fd} (rel {err:e})", g[i]);
            }
        }
    }
    #[test]
    fn pmf_sums_to_one() {
        for (m, th) in [(Model::EP, vec![0.35, 0.4, 2.5]), (Model::EEP, vec![0.3, 0.4, 0.9, 0.12, 2.5])] {
            let p = pmf_table(m, &th, 200_000);
            let s: f64 = p.iter().sum();
            let a = th[th.len() - 1];
            let tail = th[0] * (200_000f64).powf(1.0 - a) / ((a - 1.0) * zeta_d(a).0);
            assert!((s + tail - 1.0).abs() < 1e-8, "{m:?}: {s} + {tail}");
        }
    }
    #[test]
    fn outside_domain_is_minus_infinity() {
        let h = hist();
        assert_eq!(Model::EP.loglik(&[1.0, 0.3, 2.0], &h, None), f64::NEG_INFINITY);
        assert_eq!(Model::P.loglik(&[1.0], &h, None), f64::NEG_INFINITY);
        assert_eq!(Model::EEP.loglik(&[0.5, 0.5, 0.3, -0.1, 2.0], &h, None), f64::NEG_INFINITY);
    }
    #[test]
    fn canonical_order() {
        let mut th = [0.3, 0.2, 0.1, 0.9, 2.0];
        Model::EEP.canonical(&mut th);
        assert_eq!(th, [0.3, 0.8, 0.9, 0.1, 2.0]);
    }
}
