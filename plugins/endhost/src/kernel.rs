//! Vectorisable inner loops of the EP / EEP log-likelihoods (the hot path of every fit).
//!
//! Per distinct value k_j the mixture terms are taken relative to the zeta term
//! `x_P = ln π − ln ζ(α) − α ln k_j`: with `d_i = x_Ei − x_P`,
//! `ln p(k_j) = x_P + ln(1 + Σ_i e^{d_i})`, and the responsibilities are `e^{d_i}/s`, `1/s` with
//! `s = 1 + Σ_i e^{d_i}`. That needs one exp per geometric component and one log per value,
//! no branches, so the loop runs over blocks of [`LANES`] values in vector registers.
//!
//! * `exp` and `ln` are our own: Cody–Waite reduction plus a degree-13 Taylor polynomial for
//!   e^r, |r| ≤ ln2/2 (truncation < 5e-18 relative; Estrin's scheme), and the classic fdlibm-style
//!   `ln(1+f) = f − f²/2 + s(f²/2 + R(s²))`, s = f/(2+f), on the mantissa in [√2/2, √2).
//!   Both are within about 1 ulp of the correctly rounded value (tested against `std`).
//! * Only IEEE add / sub / mul / div and bit operations are used, never FMA, and every sum
//!   is kept in [`LANES`] fixed per-lane accumulators that are combined in a fixed order, so
//!   the scalar, SSE2, AVX2 and AVX-512 builds of the loop give bit-identical results, and
//!   the result does not depend on the machine (unlike glibc's `exp`, which picks an FMA
//!   variant at run time).
//! * `d_i` is clamped to ≤ [`D_MAX`]; the callers fall back to the max-shifted scalar
//!   log-sum-exp when any `d_i` exceeds it (the zeta term then is > e^700 times smaller than a
//!   geometric one: only at absurd trial points of a line search), so `s` never overflows.
//!   `d_i < −708` gives exactly 0 (like the underflow of the libm exp).

/// Values per block (and per-lane accumulators).
pub const LANES: usize = 8;
/// Largest exponent difference handled by the kernel (see the module docs).
pub const D_MAX: f64 = 700.0;

/// ln 2 split (fdlibm): LN2_HI has 21 trailing zero bits, so k·LN2_HI is exact for |k| < 2²¹.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 6.93147180369123816490e-01
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.90821492927058770002e-10
const LOG2E: f64 = std::f64::consts::LOG2_E;
/// 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// e^x for x ≤ [`D_MAX`]; 0 for x < −708 (and for x = −∞).
#[inline(always)]
pub fn exp_le(x: f64) -> f64 {
    let under = x < -708.0;
    let xc = if under { -708.0 } else if x > D_MAX { D_MAX } else { x };
    let t = xc * LOG2E + SHIFTER;
    let kd = t - SHIFTER;
    let r = (xc - kd * LN2_HI) - kd * LN2_LO;
    // Taylor series of e^r to degree 13: 1 + (r + r² T(r)), T by Estrin's scheme (short
    // dependency chains), the leading terms added last (accuracy)
    let r2 = r * r;
    let r4 = r2 * r2;
    let q1 = 0.5 + r * (1.0 / 6.0);
    let q2 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let q3 = 1.0 / 720.0 + r * (1.0 / 5_040.0);
    let q4 = 1.0 / 40_320.0 + r * (1.0 / 362_880.0);
    let q5 = 1.0 / 3_628_800.0 + r * (1.0 / 39_916_800.0);
    let q6 = 1.0 / 479_001_600.0 + r * (1.0 / 6_227_020_800.0);
    let ta = q1 + r2 * q2;
    let tb = q3 + r2 * q4;
    let tc = q5 + r2 * q6;
    let tt = ta + r4 * (tb + r4 * tc);
    let p = 1.0 + (r + r2 * tt);
    // 2^k from the integer in t's low bits (k ∈ [−1022, 1010] here)
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    if under { 0.0 } else { p * scale }
}

// fdlibm's minimax coefficients of (ln(1+f) − f + f²/2 − s f²/2)/s ≈ R(s²), s = f/(2+f)
const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593); // 6.666666666666735130e-01
const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04); // 3.999999999940941908e-01
const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359); // 2.857142874366239149e-01
const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af); // 2.222219843214978396e-01
const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de); // 1.818357216161805012e-01
const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f); // 1.531383769920937332e-01
const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244); // 1.479819860511658591e-01

/// ln x for finite x ≥ 1.
#[inline(always)]
pub fn ln_ge1(x: f64) -> f64 {
    let ix = x.to_bits();
    // x = 2^k z with z ∈ [√2/2, √2); x ≥ 1 makes k ≥ 0
    let tmp = ix.wrapping_sub(0x3fe6_a09e_667f_3bcd);
    let k = tmp >> 52;
    let z = f64::from_bits(ix.wrapping_sub(k << 52));
    let kd = f64::from_bits(0x4330_0000_0000_0000 | k) - 4_503_599_627_370_496.0;
    let f = z - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let w = s * s;
    let w2 = w * w;
    let t1 = w2 * (LG2 + w2 * (LG4 + w2 * LG6));
    let t2 = w * (LG1 + w2 * (LG3 + w2 * (LG5 + w2 * LG7)));
    let r = t2 + t1;
    kd * LN2_HI - ((hfsq - (s * (hfsq + r) + kd * LN2_LO)) - f)
}

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

/// Instruction-set variants of the loops (same source, same results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Whatever the build target allows (SSE2 on plain x86-64).
    Baseline,
    /// AVX2 (x86-64).
    Avx2,
    /// AVX-512F/DQ (x86-64).
    Avx512,
}

/// The best variant this CPU runs.
pub fn best_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
            return Isa::Avx512;
        }
        if std::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// A loop over a histogram's (c, ln k, k − 1): [`EpPar`] or [`EepPar`].
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

impl Kernel for EepPar {
    type Sums = EepSums;
    #[inline(always)]
    fn run(&self, c: &[f64], lk: &[f64], km1: &[f64]) -> EepSums {
        eep_impl(self, c, lk, km1)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Kernel;
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2<K: Kernel>(k: &K, c: &[f64], lk: &[f64], km1: &[f64]) -> K::Sums {
        k.run(c, lk, km1)
    }
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn avx512<K: Kernel>(k: &K, c: &[f64], lk: &[f64], km1: &[f64]) -> K::Sums {
        k.run(c, lk, km1)
    }
}

fn isa() -> Isa {
    use std::sync::OnceLock;
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(best_isa)
}

/// Runs the loop `k` over a histogram's (c, ln k, k−1) with the given variant (`None`: the
/// best one; a variant the CPU lacks falls back to the baseline).
pub fn sums<K: Kernel>(k: &K, c: &[f64], lk: &[f64], km1: &[f64], variant: Option<Isa>) -> K::Sums {
    let v = variant.unwrap_or_else(isa);
    #[cfg(target_arch = "x86_64")]
    {
        let best = isa();
        // SAFETY: the variant's target features were detected on this CPU
        if v == Isa::Avx512 && best == Isa::Avx512 {
            return unsafe { x86::avx512(k, c, lk, km1) };
        }
        if v == Isa::Avx2 && best != Isa::Baseline {
            return unsafe { x86::avx2(k, c, lk, km1) };
        }
    }
    let _ = v;
    k.run(c, lk, km1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_within_one_ulp_of_std() {
        let mut worst = 0;
        let mut x = -708.0f64;
        while x <= D_MAX {
            for dx in [0.0, 1e-9, 0.173_286_795, 0.346_573_590_279_972_65] {
                let v = x + dx;
                if v <= D_MAX {
                    worst = worst.max(ulps(exp_le(v), v.exp()));
                }
            }
            x += 0.013_7;
        }
        assert!(worst <= 1, "worst {worst} ulp");
        assert_eq!(exp_le(0.0), 1.0);
        assert_eq!(exp_le(-709.0), 0.0);
        assert_eq!(exp_le(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_le(-1e300), 0.0);
    }

    #[test]
    fn ln_within_one_ulp_of_std() {
        let mut worst = 0;
        let mut x = 1.0f64;
        while x < 1e305 {
            let sqrt2 = std::f64::consts::SQRT_2;
            for m in [1.0, 1.0 + 1e-15, 1.000_1, f64::from_bits(sqrt2.to_bits() - 1), sqrt2, f64::from_bits(sqrt2.to_bits() + 1), 1.7, 1.999_999_999] {
                let v = x * m;
                worst = worst.max(ulps(ln_ge1(v), v.ln()));
            }
            x *= 1.37;
        }
        // values near 1, where ln is tiny
        for i in 0..10_000 {
            let v = 1.0 + i as f64 * 1e-4;
            worst = worst.max(ulps(ln_ge1(v), v.ln()));
        }
        assert!(worst <= 1, "worst {worst} ulp");
        assert_eq!(ln_ge1(1.0), 0.0);
    }

    #[test]
    fn variants_are_bit_identical() {
        let n = 83;
        let k: Vec<f64> = (0..n).map(|j| (1 + j * j * j / 7) as f64).collect();
        let c: Vec<f64> = (0..n).map(|j| (1 + (j * 37) % 11) as f64).collect();
        let lk: Vec<f64> = k.iter().map(|v| v.ln()).collect();
        let km1: Vec<f64> = k.iter().map(|v| v - 1.0).collect();
        let ep = EpPar { ae: -0.9, lam: 0.3, bp: -1.4, a: 2.1 };
        let eep = EepPar { a1: -0.9, a2: -2.5, l1: 0.8, l2: 0.013, bp: -1.4, a: 2.1 };
        for len in [n, 1, 7, 8, 9, 64] {
            let r0 = sums(&ep, &c[..len], &lk[..len], &km1[..len], Some(Isa::Baseline));
            let s0 = sums(&eep, &c[..len], &lk[..len], &km1[..len], Some(Isa::Baseline));
            for v in [Isa::Avx2, Isa::Avx512] {
                let r = sums(&ep, &c[..len], &lk[..len], &km1[..len], Some(v));
                let s = sums(&eep, &c[..len], &lk[..len], &km1[..len], Some(v));
                for (x, y) in [(r.ll, r0.ll), (r.ce, r0.ce), (r.cp, r0.cp), (r.se_km1, r0.se_km1), (r.sp_lk, r0.sp_lk)] {
                    assert_eq!(x.to_bits(), y.to_bits(), "{v:?} EP len {len}");
                }
                for (x, y) in [(s.ll, s0.ll), (s.c1, s0.c1), (s.c2, s0.c2), (s.cp, s0.cp), (s.s1, s0.s1), (s.s2, s0.s2), (s.sp_lk, s0.sp_lk)] {
                    assert_eq!(x.to_bits(), y.to_bits(), "{v:?} EEP len {len}");
                }
            }
        }
    }
}
