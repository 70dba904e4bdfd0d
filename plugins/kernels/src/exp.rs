//! e^x and 2^y in f64, branch-free and division-free so that loops over them vectorise.
//!
//! Both reduce to a small argument r and scale by 2^k through the exponent bits:
//! - [`exp`] and [`exp2`] (histfit's E-steps and normal tails) evaluate their polynomial in fused
//!   multiply–adds (`mul_add`, exact on every target), ≤ 1 ulp;
//! - [`exp_le`] (endhost's EP/EEP likelihood loops) uses no FMA at all (a Taylor polynomial in
//!   Estrin's scheme), ≤ 1 ulp, so endhost's results do not depend on whether a machine has FMA.
//!
//! They are different functions (their last bits differ) and each plugin keeps the one its stored
//! results were made with (docs/kernels.md).
use crate::{LN2_HI, LN2_LO, SHIFT};

/// c₀ r⁹ + c₁ r⁸ + … + c₉ by Horner's rule in fused multiply–adds (the same bits on every path).
#[inline(always)]
fn horner_fma(c: &[f64; 10], r: f64) -> f64 {
    c[1..].iter().fold(c[0], |p, &ci| p.mul_add(r, ci))
}

/// e^x to within 1 ulp for x ∈ [−708, 709]; 0 below −708 (callers that need the exact tail
/// recompute it with libm), e^709 above 709. Cody–Waite reduction x = k ln2 + r (|r| ≤ ln2/2),
/// e^r = 1 + r + r² P(r) with P of degree 9 (Chebyshev interpolation of (e^r − 1 − r)/r² at 10
/// nodes on [−ln2/2, ln2/2] in 50-digit arithmetic: approximation error < 0.08 eps relative,
/// 0.51 eps with the rounding of the Horner steps; `plugins/histfit/tools/exp_poly.py` derives
/// them), in fused multiply–adds, then scaling by 2^k through the exponent bits. NaN gives NaN
/// (through the clamp's NaN propagation).
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub fn exp(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // P's coefficients, highest degree first
    const C: [f64; 10] = [
        2.510_037_583_256_123_4e-8,
        2.762_007_587_998_336_7e-7,
        2.755_726_848_031_002_4e-6,
        2.480_152_132_236_869_2e-5,
        1.984_126_986_304_054_5e-4,
        1.388_888_891_719_671_9e-3,
        8.333_333_333_330_065e-3,
        4.166_666_666_662_416_4e-2,
        1.666_666_666_666_666_9e-1,
        5.000_000_000_000_001e-1,
    ];
    let xc = x.clamp(-708.0, 709.0);
    let t = xc.mul_add(LOG2E, SHIFT);
    let kf = t - SHIFT;
    let r = (-kf).mul_add(LN2_LO, (-kf).mul_add(LN2_HI, xc));
    let y = horner_fma(&C, r).mul_add(r, 1.0).mul_add(r, 1.0);
    let ki = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let scale = f64::from_bits(((ki + 1023) as u64) << 52);
    if x < -708.0 { 0.0 } else { y * scale }
}

/// 2^y to within 1 ulp for y ∈ [−1021, 1023]; 0 below −1021, 2^1023 above. y = n + r with
/// n = round(y) (the [`SHIFT`] trick) and r = y − n exact, |r| ≤ 1/2; 2^r = 1 + r ln2 + r² Q(r)
/// with Q of degree 9 (Chebyshev interpolation of (2^r − 1 − r ln2)/r² at 10 nodes on
/// [−1/2, 1/2] in 50-digit arithmetic: 0.61 eps with the rounding of the Horner steps); then n
/// is added to the exponent field (exact: 2^r ∈ [2^−½, 2^½] and the result is normal). Exact at
/// integers. Against [`exp`] of the same value in e-units it saves the reduction's two fused
/// operations and the scaling multiply.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub fn exp2(y: f64) -> f64 {
    // Q's coefficients, highest degree first
    const C: [f64; 10] = [
        4.454_103_410_587_04e-10,
        7.070_977_866_508_138e-9,
        1.017_806_726_744_942_7e-7,
        1.321_545_163_322_143_4e-6,
        1.525_273_382_079_580_3e-5,
        1.540_353_042_477_652_9e-4,
        1.333_355_814_642_321_3e-3,
        9.618_129_107_618_665e-3,
        5.550_410_866_482_158e-2,
        2.402_265_069_591_007_5e-1,
    ];
    let yc = y.clamp(-1021.0, 1023.0);
    let t = yc + SHIFT;
    let nf = t - SHIFT;
    let r = yc - nf;
    let v = horner_fma(&C, r).mul_add(r, std::f64::consts::LN_2).mul_add(r, 1.0);
    let n = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let bits = (v.to_bits() as i64).wrapping_add(n << 52) as u64;
    if y < -1021.0 { 0.0 } else { f64::from_bits(bits) }
}

/// Largest argument [`exp_le`] takes (larger ones are clamped to it).
pub const EXP_LE_MAX: f64 = 700.0;

/// e^x for x ≤ [`EXP_LE_MAX`] within 1 ulp, without FMA; 0 for x < −708 (and −∞). Cody–Waite
/// reduction x = k ln2 + r, |r| ≤ ln2/2, and the degree-13 Taylor polynomial of e^r
/// (truncation < 5e-18 relative) as 1 + (r + r² T(r)) with T by Estrin's scheme (short
/// dependency chains), the leading terms added last (accuracy); 2^k from the integer in the low
/// bits of x·log2 e + [`SHIFT`].
#[inline(always)]
pub fn exp_le(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    let under = x < -708.0;
    let xc = if under {
        -708.0
    } else if x > EXP_LE_MAX {
        EXP_LE_MAX
    } else {
        x
    };
    let t = xc * LOG2E + SHIFT;
    let kd = t - SHIFT;
    let r = (xc - kd * LN2_HI) - kd * LN2_LO;
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
