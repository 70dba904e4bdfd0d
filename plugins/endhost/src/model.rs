//! The P / EP / EEP models on k = 1, 2, … (docs/endhost.md, "Models") and their log-likelihoods with
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
use crate::kernel;
#[cfg(test)]
use crate::zeta::zeta_d;
use crate::zeta::{log1mexp_neg, zeta_d1};
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
    /// Canonical order (docs/endhost.md, "Models"): EEP with λ₁ < λ₂ is relabelled (λ swap, ρ ← 1 − ρ).
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
    let (z0, z1) = zeta_d1(a);
    if let Some(g) = grad {
        g[0] = -h.s_lk - h.n * z1 / z0;
    }
    -a * h.s_lk - h.n * z0.ln()
}

/// ln ζ(α) (≥ 0) by the kernel's ln, libm's for ζ = ∞.
#[inline]
fn ln_zeta(z0: f64) -> f64 {
    if z0 < f64::INFINITY { kernel::ln_ge1(z0) } else { z0.ln() }
}

/// Kernel constants of EP at θ = (π, λ, α) with ζ(α) = `z0`.
fn ep_par(th: &[f64], z0: f64) -> kernel::EpPar {
    let (pi, lam, a) = (th[0], th[1], th[2]);
    kernel::EpPar { ae: (-pi).ln_1p() + log1mexp_neg(lam), lam, bp: pi.ln() - ln_zeta(z0), a }
}

/// Kernel constants of EEP at θ = (π, ρ, λ₁, λ₂, α) with ζ(α) = `z0`.
fn eep_par(th: &[f64], z0: f64) -> kernel::EepPar {
    let (pi, rho, l1, l2, a) = (th[0], th[1], th[2], th[3], th[4]);
    let l1mpi = (-pi).ln_1p();
    kernel::EepPar { a1: l1mpi + rho.ln() + log1mexp_neg(l1), a2: l1mpi + (-rho).ln_1p() + log1mexp_neg(l2), l1, l2, bp: pi.ln() - ln_zeta(z0), a }
}

fn loglik_ep(th: &[f64], h: &Hist, grad: Option<&mut [f64]>) -> f64 {
    let (pi, lam, a) = (th[0], th[1], th[2]);
    if !(pi > 0.0 && pi < 1.0 && lam > 0.0 && a > 1.0) {
        return f64::NEG_INFINITY;
    }
    let (z0, z1) = zeta_d1(a);
    if grad.is_none() {
        let s = kernel::sums(&kernel::LlOnly(ep_par(th, z0)), &h.c, &h.lk, &h.km1);
        return if !(s.dmax > kernel::D_MAX) { s.ll } else { loglik_ep_scalar(th, h, None) };
    }
    let s = kernel::sums(&ep_par(th, z0), &h.c, &h.lk, &h.km1);
    if !(s.dmax > kernel::D_MAX) {
        if let Some(g) = grad {
            let cp = h.n - s.ce;
            g[0] = cp / pi - s.ce / (1.0 - pi);
            g[1] = s.ce / lam.exp_m1() - s.se_km1;
            g[2] = -s.sp_lk - cp * z1 / z0;
        }
        return s.ll;
    }
    loglik_ep_scalar(th, h, grad)
}

/// EP log-likelihood by the max-shifted scalar log-sum-exp (libm exp / log): the fallback of
/// the kernel when a geometric term dwarfs the zeta term by more than e^700.
fn loglik_ep_scalar(th: &[f64], h: &Hist, grad: Option<&mut [f64]>) -> f64 {
    let (pi, lam, a) = (th[0], th[1], th[2]);
    let (z0, z1) = zeta_d1(a);
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
    let (z0, z1) = zeta_d1(a);
    if grad.is_none() {
        let s = kernel::sums(&kernel::LlOnly(eep_par(th, z0)), &h.c, &h.lk, &h.km1);
        return if !(s.dmax > kernel::D_MAX) { s.ll } else { loglik_eep_scalar(th, h, None) };
    }
    let s = kernel::sums(&eep_par(th, z0), &h.c, &h.lk, &h.km1);
    if !(s.dmax > kernel::D_MAX) {
        if let Some(g) = grad {
            g[0] = s.cp / pi - (s.c1 + s.c2) / (1.0 - pi);
            g[1] = s.c1 / rho - s.c2 / (1.0 - rho);
            g[2] = s.c1 / l1.exp_m1() - s.s1;
            g[3] = s.c2 / l2.exp_m1() - s.s2;
            g[4] = -s.sp_lk - s.cp * z1 / z0;
        }
        return s.ll;
    }
    loglik_eep_scalar(th, h, grad)
}

/// EEP log-likelihood by the max-shifted scalar log-sum-exp (the kernel's fallback).
fn loglik_eep_scalar(th: &[f64], h: &Hist, grad: Option<&mut [f64]>) -> f64 {
    let (pi, rho, l1, l2, a) = (th[0], th[1], th[2], th[3], th[4]);
    let (z0, z1) = zeta_d1(a);
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

/// Sufficient statistics of one EM E-step at θ (EP / EEP): ℓ(θ), Σ c r_c per component
/// (geometrics first, zeta last), Σ c r_Ei (k−1) per geometric, Σ c r_P ln k.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estep {
    /// ℓ(θ).
    pub ll: f64,
    /// Σ_j c_j r_c(k_j), c = E₁, [E₂,] P (the unused entry is 0).
    pub wsum: [f64; 3],
    /// Σ_j c_j r_Ei(k_j)(k_j − 1).
    pub wkm1: [f64; 2],
    /// Σ_j c_j r_P(k_j) ln k_j.
    pub wlk: f64,
}

/// [`Estep`] of `model` (EP or EEP) at θ inside the domain, by the kernels of
/// [`crate::kernel`] (scalar max-shifted fallback as for the likelihood).
pub fn estep(model: Model, th: &[f64], h: &Hist) -> Estep {
    let (z0, _) = zeta_d1(th[th.len() - 1]);
    match model {
        Model::EP => {
            let s = kernel::sums(&ep_par(th, z0), &h.c, &h.lk, &h.km1);
            if !(s.dmax > kernel::D_MAX) {
                return Estep { ll: s.ll, wsum: [s.ce, s.cp, 0.0], wkm1: [s.se_km1, 0.0], wlk: s.sp_lk };
            }
        }
        Model::EEP => {
            let s = kernel::sums(&eep_par(th, z0), &h.c, &h.lk, &h.km1);
            if !(s.dmax > kernel::D_MAX) {
                return Estep { ll: s.ll, wsum: [s.c1, s.c2, s.cp], wkm1: [s.s1, s.s2], wlk: s.sp_lk };
            }
        }
        Model::P => panic!("estep: P has no E-step"),
    }
    estep_scalar(model, th, h, z0)
}

/// [`estep`] by the max-shifted scalar log-sum-exp.
#[allow(clippy::needless_range_loop)] // one index into weights, rates and accumulators
fn estep_scalar(model: Model, th: &[f64], h: &Hist, z0: f64) -> Estep {
    let w = model.weights(th);
    let rates = model.rates(th);
    let ncomp = w.len();
    let a = th[th.len() - 1];
    let lz0 = z0.ln();
    let lg: Vec<f64> = rates.iter().map(|&l| log1mexp_neg(l)).collect();
    let mut e = Estep { ll: 0.0, wsum: [0.0; 3], wkm1: [0.0; 2], wlk: 0.0 };
    let mut lw = [0.0; 3];
    for j in 0..h.k.len() {
        let mut m = f64::NEG_INFINITY;
        for c in 0..ncomp {
            lw[c] = w[c].ln() + if c < rates.len() { lg[c] - rates[c] * h.km1[j] } else { -a * h.lk[j] - lz0 };
            m = m.max(lw[c]);
        }
        let s: f64 = lw[..ncomp].iter().map(|v| (v - m).exp()).sum();
        e.ll += h.c[j] * (m + s.ln());
        for c in 0..ncomp {
            let r = h.c[j] * (lw[c] - m).exp() / s;
            e.wsum[c] += r;
            if c < rates.len() {
                e.wkm1[c] += r * h.km1[j];
            } else {
                e.wlk += r * h.lk[j];
            }
        }
    }
    e
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
    fn kernel_matches_scalar_log_sum_exp() {
        let h = hist();
        let rel = |a: f64, b: f64| (a - b).abs() / (b.abs() + 1.0);
        for th in [vec![0.35, 0.4, 1.9], vec![1e-9, 0.05, 3.5], vec![0.999, 7.0, 1.05]] {
            let (mut g, mut gs) = (vec![0.0; 3], vec![0.0; 3]);
            let (l, ls) = (loglik_ep(&th, &h, Some(&mut g)), loglik_ep_scalar(&th, &h, Some(&mut gs)));
            assert!(rel(l, ls) < 1e-13, "EP {th:?}: {l} vs {ls}");
            for i in 0..3 {
                assert!(rel(g[i], gs[i]) < 1e-10, "EP {th:?} ∂{i}: {} vs {}", g[i], gs[i]);
            }
            let e = estep(Model::EP, &th, &h);
            let es = estep_scalar(Model::EP, &th, &h, zeta_d1(th[2]).0);
            assert!(rel(e.ll, es.ll) < 1e-13 && rel(e.wsum[0], es.wsum[0]) < 1e-12 && rel(e.wsum[1], es.wsum[1]) < 1e-12);
            assert!(rel(e.wkm1[0], es.wkm1[0]) < 1e-12 && rel(e.wlk, es.wlk) < 1e-12, "{e:?} {es:?}");
        }
        for th in [vec![0.3, 0.4, 0.9, 0.12, 2.1], vec![1e-7, 0.99, 9.0, 1e-4, 1.2], vec![0.98, 0.01, 0.02, 0.01, 6.0]] {
            let (mut g, mut gs) = (vec![0.0; 5], vec![0.0; 5]);
            let (l, ls) = (loglik_eep(&th, &h, Some(&mut g)), loglik_eep_scalar(&th, &h, Some(&mut gs)));
            assert!(rel(l, ls) < 1e-13, "EEP {th:?}: {l} vs {ls}");
            for i in 0..5 {
                assert!(rel(g[i], gs[i]) < 1e-10, "EEP {th:?} ∂{i}: {} vs {}", g[i], gs[i]);
            }
            let e = estep(Model::EEP, &th, &h);
            let es = estep_scalar(Model::EEP, &th, &h, zeta_d1(th[4]).0);
            for c in 0..3 {
                assert!(rel(e.wsum[c], es.wsum[c]) < 1e-12, "{e:?} {es:?}");
            }
            assert!(rel(e.ll, es.ll) < 1e-13 && rel(e.wkm1[0], es.wkm1[0]) < 1e-12 && rel(e.wkm1[1], es.wkm1[1]) < 1e-12 && rel(e.wlk, es.wlk) < 1e-12);
        }
    }
    #[test]
    fn scalar_fallback_when_the_zeta_term_vanishes() {
        // π = 1e-305: the geometric term exceeds the zeta term by more than e^700 at k = 1
        let h = hist();
        let th: [f64; 3] = [1e-305, 0.4, 1.9];
        assert!(kernel::sums(&ep_par(&th, zeta_d1(1.9).0), &h.c, &h.lk, &h.km1).dmax > kernel::D_MAX);
        let (mut g, mut gs) = ([0.0; 3], [0.0; 3]);
        assert_eq!(loglik_ep(&th, &h, Some(&mut g)), loglik_ep_scalar(&th, &h, Some(&mut gs)));
        assert_eq!(g, gs);
        assert!(Model::EP.loglik(&th, &h, None).is_finite());
        let th5 = [1e-305, 0.5, 0.9, 0.1, 1.9];
        let (mut g, mut gs) = ([0.0; 5], [0.0; 5]);
        assert_eq!(loglik_eep(&th5, &h, Some(&mut g)), loglik_eep_scalar(&th5, &h, Some(&mut gs)));
        assert_eq!(g, gs);
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
