//! Vectorisable inner loops of the EP / EEP log-likelihoods (the hot path of every fit).
//!
//! Per distinct value k_j the mixture terms are taken relative to the zeta term
//! `x_P = ln π − ln ζ(α) − α ln k_j`: with `d_i = x_Ei − x_P`,
//! `ln p(k_j) = x_P + ln(1 + Σ_i e^{d_i})`, and the responsibilities are `e^{d_i}/s`, `1/s` with
//! `s = 1 + Σ_i e^{d_i}`. That needs one exp per geometric component and one log per value,
//! no branches, so the loop runs over blocks of [`LANES`] values in vector registers.
//!
//! * `exp` and `ln` are flowlab-kernels' [`exp_le`] and [`ln_ge1`] (docs/kernels.md): within
//!   1 ulp of the correctly rounded value, using only IEEE add / sub / mul / div and bit
//!   operations, never FMA.
//! * Every sum is kept in [`LANES`] fixed per-lane accumulators that are combined in a fixed
//!   order, so the loop gives bit-identical results on every instruction-set path of
//!   [`kernels::dispatch!`] (Baseline, AVX2, AVX-512), and the result does not depend on the
//!   machine (unlike glibc's `exp`, which picks an FMA variant at run time).
//! * `d_i` is clamped to ≤ [`D_MAX`]; the callers fall back to the max-shifted scalar
//!   log-sum-exp when any `d_i` exceeds it (the zeta term then is > e^700 times smaller than a
//!   geometric one: only at absurd trial points of a line search), so `s` never overflows.
//!   `d_i < −708` gives exactly 0 (like the underflow of the libm exp).
pub use kernels::exp::exp_le;
pub use kernels::ln::ln_ge1;

/// Values per block (and per-lane accumulators).
pub const LANES: usize = 8;
/// Largest exponent difference handled by the kernel (see the module docs).
pub const D_MAX: f64 = kernels::exp::EXP_LE_MAX;

/// Per-evaluation constants of the EP loop: x_E = `ae − lam·(k−1)`, x_P = `bp − a·ln k`.
#[derive(Debug, Clone, Copy)]
pub struct EpPar {
    /// ln(1−π) + ln(1−e^{−λ}).
    pub ae: f64,
    /// λ.
    pub lam: f64,
    /// ln π − ln ζ(α).
    pub bp: f64,
    /// α.
    pub a: f64,
}

/// Sums of the EP loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpSums {
    /// ℓ.
    pub ll: f64,
    /// Σ c r_E.
    pub ce: f64,
    /// Σ c r_P.
    pub cp: f64,
    /// Σ c r_E (k−1).
    pub se_km1: f64,
    /// Σ c r_P ln k.
    pub sp_lk: f64,
    /// max d (the caller falls back when it exceeds [`D_MAX`]).
    pub dmax: f64,
}

/// Per-evaluation constants of the EEP loop: x_Ei = `ai − li·(k−1)`, x_P = `bp − a·ln k`.
#[derive(Debug, Clone, Copy)]
pub struct EepPar {
    /// ln(1−π) + ln ρ + ln(1−e^{−λ₁}).
    pub a1: f64,
    /// ln(1−π) + ln(1−ρ) + ln(1−e^{−λ₂}).
    pub a2: f64,
    /// λ₁.
    pub l1: f64,
    /// λ₂.
    pub l2: f64,
    /// ln π − ln ζ(α).
    pub bp: f64,
    /// α.
    pub a: f64,
}

/// Sums of the EEP loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EepSums {
    /// ℓ.
    pub ll: f64,
    /// Σ c r_E1.
    pub c1: f64,
    /// Σ c r_E2.
    pub c2: f64,
    /// Σ c r_P.
    pub cp: f64,
    /// Σ c r_E1 (k−1).
    pub s1: f64,
    /// Σ c r_E2 (k−1).
    pub s2: f64,
    /// Σ c r_P ln k.
    pub sp_lk: f64,
    /// max d.
    pub dmax: f64,
}

type Block = [f64; LANES];

/// Fixed-order sum of the lanes.
#[inline(always)]
fn hsum(a: &Block) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

#[inline(always)]
fn hmax(a: &Block) -> f64 {
    a.iter().fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// Block `b` of (c, ln k, k−1); the block past the end is padded with c = 0, ln k = 0,
/// k − 1 = 0, which adds exact zeros.
#[inline(always)]
fn load(c: &[f64], lk: &[f64], km1: &[f64], b: usize) -> (Block, Block, Block) {
    let lo = b * LANES;
    if lo + LANES <= c.len() {
        let r = lo..lo + LANES;
        (c[r.clone()].try_into().unwrap(), lk[r.clone()].try_into().unwrap(), km1[r].try_into().unwrap())
    } else {
        let (mut cb, mut lb, mut kb) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        let rest = c.len() - lo;
        cb[..rest].copy_from_slice(&c[lo..]);
        lb[..rest].copy_from_slice(&lk[lo..]);
        kb[..rest].copy_from_slice(&km1[lo..]);
        (cb, lb, kb)
    }
}

#[inline(always)]
fn ep_impl(p: &EpPar, c: &[f64], lk: &[f64], km1: &[f64]) -> EpSums {
    let (mut ll, mut ce, mut se, mut sp) = ([0.0; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
    let mut cp = [0.0; LANES];
    let mut dm = [f64::NEG_INFINITY; LANES];
    let (lk, km1) = (&lk[..c.len()], &km1[..c.len()]);
    for b in 0..c.len().div_ceil(LANES) {
        let (c, lk, km1) = load(c, lk, km1, b);
        for l in 0..LANES {
            let xp = p.bp - p.a * lk[l];
            let d = (p.ae - p.lam * km1[l]) - xp;
            dm[l] = if d > dm[l] { d } else { dm[l] };
            let e = exp_le(d);
            let s = 1.0 + e;
            let cs = c[l] / s;
            let cre = cs * e;
            ll[l] += c[l] * (xp + ln_ge1(s));
            ce[l] += cre;
            cp[l] += cs;
            se[l] += cre * km1[l];
            sp[l] += cs * lk[l];
        }
    }
    EpSums { ll: hsum(&ll), ce: hsum(&ce), cp: hsum(&cp), se_km1: hsum(&se), sp_lk: hsum(&sp), dmax: hmax(&dm) }
}

#[inline(always)]
fn eep_impl(p: &EepPar, c: &[f64], lk: &[f64], km1: &[f64]) -> EepSums {
    let (mut ll, mut c1, mut c2, mut cp) = ([0.0; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
    let (mut s1, mut s2, mut sp) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
    let mut dm = [f64::NEG_INFINITY; LANES];
    let (lk, km1) = (&lk[..c.len()], &km1[..c.len()]);
    for b in 0..c.len().div_ceil(LANES) {
        let (c, lk, km1) = load(c, lk, km1, b);
        for l in 0..LANES {
            let xp = p.bp - p.a * lk[l];
            let d1 = (p.a1 - p.l1 * km1[l]) - xp;
            let d2 = (p.a2 - p.l2 * km1[l]) - xp;
            let d = if d1 > d2 { d1 } else { d2 };
            dm[l] = if d > dm[l] { d } else { dm[l] };
            let (e1, e2) = (exp_le(d1), exp_le(d2));
            let s = (1.0 + e1) + e2;
            let cs = c[l] / s;
            let (r1, r2) = (cs * e1, cs * e2);
            ll[l] += c[l] * (xp + ln_ge1(s));
            c1[l] += r1;
            c2[l] += r2;
            cp[l] += cs;
            s1[l] += r1 * km1[l];
            s2[l] += r2 * km1[l];
            sp[l] += cs * lk[l];
        }
    }
    EepSums { ll: hsum(&ll), c1: hsum(&c1), c2: hsum(&c2), cp: hsum(&cp), s1: hsum(&s1), s2: hsum(&s2), sp_lk: hsum(&sp), dmax: hmax(&dm) }
}

/// ℓ and max d of the EP loop alone (no responsibilities: for evaluations without a gradient).
#[inline(always)]
fn ep_ll_impl(p: &EpPar, c: &[f64], lk: &[f64], km1: &[f64]) -> LlSums {
    let mut ll = [0.0; LANES];
    let mut dm = [f64::NEG_INFINITY; LANES];
    let (lk, km1) = (&lk[..c.len()], &km1[..c.len()]);
    for b in 0..c.len().div_ceil(LANES) {
        let (c, lk, km1) = load(c, lk, km1, b);
        for l in 0..LANES {
            let xp = p.bp - p.a * lk[l];
            let d = (p.ae - p.lam * km1[l]) - xp;
            dm[l] = if d > dm[l] { d } else { dm[l] };
            let s = 1.0 + exp_le(d);
            ll[l] += c[l] * (xp + ln_ge1(s));
        }
    }
    LlSums { ll: hsum(&ll), dmax: hmax(&dm) }
}

/// ℓ and max d of the EEP loop alone.
#[inline(always)]
fn eep_ll_impl(p: &EepPar, c: &[f64], lk: &[f64], km1: &[f64]) -> LlSums {
    let mut ll = [0.0; LANES];
    let mut dm = [f64::NEG_INFINITY; LANES];
    let (lk, km1) = (&lk[..c.len()], &km1[..c.len()]);
    for b in 0..c.len().div_ceil(LANES) {
        let (c, lk, km1) = load(c, lk, km1, b);
        for l in 0..LANES {
            let xp = p.bp - p.a * lk[l];
            let d1 = (p.a1 - p.l1 * km1[l]) - xp;
            let d2 = (p.a2 - p.l2 * km1[l]) - xp;
            let d = if d1 > d2 { d1 } else { d2 };
            dm[l] = if d > dm[l] { d } else { dm[l] };
            let s = (1.0 + exp_le(d1)) + exp_le(d2);
            ll[l] += c[l] * (xp + ln_ge1(s));
        }
    }
    LlSums { ll: hsum(&ll), dmax: hmax(&dm) }
}

/// ℓ and max d of a loop without the responsibilities' sums ([`LlOnly`]): the same operations
/// for ℓ as [`EpSums`] / [`EepSums`], so the same bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlSums {
    /// ℓ.
    pub ll: f64,
    /// max d.
    pub dmax: f64,
}

/// The loop of an [`EpPar`] or [`EepPar`] for ℓ alone.
#[derive(Debug, Clone, Copy)]
pub struct LlOnly<P>(pub P);

/// A loop over a histogram's (c, ln k, k − 1): [`EpPar`] or [`EepPar`], or either for ℓ alone
/// ([`LlOnly`]).
pub trait Kernel {
    /// What the loop sums.
    type Sums;
    /// The loop (inlined into every instruction-set variant).
    fn run(&self, c: &[f64], lk: &[f64], km1: &[f64]) -> Self::Sums;
}

impl Kernel for EpPar {
    type Sums = EpSums;
    #[inline(always)]
    fn run(&self, c: &[f64], lk: &[f64], km1: &[f64]) -> EpSums {
        ep_impl(self, c, lk, km1)
    }
}

impl Kernel for LlOnly<EpPar> {
    type Sums = LlSums;
    #[inline(always)]
    fn run(&self, c: &[f64], lk: &[f64], km1: &[f64]) -> LlSums {
        ep_ll_impl(&self.0, c, lk, km1)
    }
}

impl Kernel for LlOnly<EepPar> {
    type Sums = LlSums;
    #[inline(always)]
    fn run(&self, c: &[f64], lk: &[f64], km1: &[f64]) -> LlSums {
        eep_ll_impl(&self.0, c, lk, km1)
    }
}

impl Kernel for EepPar {
    type Sums = EepSums;
    #[inline(always)]
    fn run(&self, c: &[f64], lk: &[f64], km1: &[f64]) -> EepSums {
        eep_impl(self, c, lk, km1)
    }
}

/// The loop `k` (inlined into every instruction-set variant of [`sums`]).
#[inline(always)]
fn run_loop<K: Kernel>(k: &K, c: &[f64], lk: &[f64], km1: &[f64]) -> K::Sums {
    k.run(c, lk, km1)
}

kernels::dispatch! {
    /// Runs the loop `k` over a histogram's (c, ln k, k−1) on the active instruction-set path
    /// ([`kernels::Isa::active`]; every path gives the same bits).
    pub fn sums<K: Kernel>(k: &K, c: &[f64], lk: &[f64], km1: &[f64]) -> K::Sums => run_loop
}

#[cfg(test)]
mod tests {
    use super::*;

    use kernels::isa::{Isa, force, on_every_path};
    use rand::{Rng, SeedableRng};

    /// Random histograms and parameters (d from far below −708 to beyond [`D_MAX`]), every
    /// length class of the blocks: each instruction-set path gives the baseline's bits.
    #[test]
    fn variants_are_bit_identical() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for case in 0..200 {
            let n = rng.random_range(1..300usize);
            let k: Vec<f64> = (0..n).map(|_| rng.random_range(1..100_000u64) as f64).collect();
            let c: Vec<f64> = (0..n).map(|_| rng.random_range(1..1000u64) as f64).collect();
            let lk: Vec<f64> = k.iter().map(|v| v.ln()).collect();
            let km1: Vec<f64> = k.iter().map(|v| v - 1.0).collect();
            let mut u = |lo: f64, hi: f64| rng.random_range(lo..hi);
            let ep = EpPar { ae: u(-800.0, 5.0), lam: u(1e-4, 3.0), bp: u(-30.0, 0.0), a: u(1.01, 6.0) };
            let eep = EepPar { a1: u(-800.0, 5.0), a2: u(-30.0, 800.0), l1: u(1e-4, 3.0), l2: u(1e-5, 0.1), bp: u(-30.0, 0.0), a: u(1.01, 6.0) };
            let (r0, s0) = force(Isa::Baseline, || (sums(&ep, &c, &lk, &km1), sums(&eep, &c, &lk, &km1))).unwrap();
            let len = n;
            // against the plain libm computation (ℓ and Σ c r_E of EP), where the kernel applies;
            // terms with d < −708 are 0 in the kernel (below e^−708 ≈ 3e-308 per unit of c)
            if !(r0.dmax > D_MAX) {
                let (mut ll, mut ce) = (0.0, 0.0);
                for j in 0..n {
                    let xp = ep.bp - ep.a * lk[j];
                    let e = ((ep.ae - ep.lam * km1[j]) - xp).exp();
                    ll += c[j] * (xp + (1.0 + e).ln());
                    ce += c[j] * e / (1.0 + e);
                }
                assert!((r0.ll - ll).abs() <= 1e-12 * ll.abs() && (r0.ce - ce).abs() <= 1e-12 * ce + 1e-300 * r0.cp, "case {case}: {r0:?} vs ℓ {ll}, Σ c r_E {ce}");
            }
            on_every_path("endhost kernel::variants_are_bit_identical", |v| {
                let (r, s) = (sums(&ep, &c, &lk, &km1), sums(&eep, &c, &lk, &km1));
                // ℓ alone: the same bits as the full loops' ℓ and max d
                for (l, (ll, dm)) in [(sums(&LlOnly(ep), &c, &lk, &km1), (r0.ll, r0.dmax)), (sums(&LlOnly(eep), &c, &lk, &km1), (s0.ll, s0.dmax))] {
                    assert_eq!((l.ll.to_bits(), l.dmax.to_bits()), (ll.to_bits(), dm.to_bits()), "{v:?} ℓ alone, len {len}");
                }
                assert_eq!(r.dmax.to_bits(), r0.dmax.to_bits(), "case {case}");
                for (x, y) in [(r.ll, r0.ll), (r.ce, r0.ce), (r.cp, r0.cp), (r.se_km1, r0.se_km1), (r.sp_lk, r0.sp_lk)] {
                    assert_eq!(x.to_bits(), y.to_bits(), "{v:?} EP len {len}");
                }
                for (x, y) in [(s.ll, s0.ll), (s.c1, s0.c1), (s.c2, s0.c2), (s.cp, s0.cp), (s.s1, s0.s1), (s.s2, s0.s2), (s.sp_lk, s0.sp_lk)] {
                    assert_eq!(x.to_bits(), y.to_bits(), "{v:?} EEP len {len}");
                }
            });
        }
    }
}
