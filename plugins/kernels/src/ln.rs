//! ln x in f64, branch-free so that loops over it vectorise: fdlibm's `__ieee754_log` algorithm.
//!
//! x = 2^k (1 + f) with 1 + f ∈ [√2/2, √2), s = f/(2 + f),
//! ln(1 + f) = f − f²/2 + s(f²/2 + R(s²)) with R fdlibm's degree-14 minimax polynomial, and
//! ln x = k·ln2_hi − ((f²/2 − (s(f²/2 + R) + k·ln2_lo)) − f). Within 1 ulp of the correctly
//! rounded value (tested against libm). [`ln`] takes every positive x (subnormals scaled by 2⁵⁴
//! first), [`ln_ge1`] only x ≥ 1 (k ≥ 0: a shorter exponent extraction); both give the same bits
//! where both apply.
use crate::{LN2_HI, LN2_LO};

// fdlibm's minimax coefficients of (ln(1+f) − f + f²/2 − s f²/2)/s ≈ R(s²), s = f/(2+f)
const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593); // 6.666666666666735130e-01
const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04); // 3.999999999940941908e-01
const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359); // 2.857142874366239149e-01
const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af); // 2.222219843214978396e-01
const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de); // 1.818357216161805012e-01
const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f); // 1.531383769920937332e-01
const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244); // 1.479819860511658591e-01

/// Bits of √2/2: subtracting them from x's bits puts the mantissa boundary at √2/2.
const OFF: u64 = 0x3fe6_a09e_667f_3bcd;
const TWO52: f64 = 4_503_599_627_370_496.0;

/// k ln2 + ln(1 + f) for the reduced mantissa z = 1 + f ∈ [√2/2, √2) and exponent k.
#[inline(always)]
fn from_reduced(z: f64, k: f64) -> f64 {
    let f = z - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z2 = s * s;
    let w = z2 * z2;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z2 * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

/// ln x for finite x > 0 (subnormals included) within 1 ulp. 0, negative, infinite and NaN
/// arguments are outside its domain (no special cases: callers pass positive finite sums).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    const TWO54: f64 = 18_014_398_509_481_984.0;
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * TWO54 } else { x };
    let ix = xs.to_bits();
    let tmp = ix.wrapping_sub(OFF);
    // k = tmp >> 52 (arithmetic) = e − 2048 with e = (tmp + 2^63) >> 52 (logical, no wrap for
    // x > 0), converted through the bits of 2^52 + e (only integer ops with AVX2 forms)
    let e = tmp.wrapping_add(1 << 63) >> 52;
    let k = (f64::from_bits(TWO52.to_bits() | e) - TWO52) - 2048.0 - if sub { 54.0 } else { 0.0 };
    let z = f64::from_bits(ix.wrapping_sub(tmp & (0xfff_u64 << 52)));
    from_reduced(z, k)
}

/// ln x for finite x ≥ 1 within 1 ulp (the same bits as [`ln`] there): x ≥ 1 makes k ≥ 0, so
/// k is the logical shift of x's bits minus √2/2's.
#[inline(always)]
pub fn ln_ge1(x: f64) -> f64 {
    let ix = x.to_bits();
    let tmp = ix.wrapping_sub(OFF);
    let k = tmp >> 52;
    let z = f64::from_bits(ix.wrapping_sub(k << 52));
    let kd = f64::from_bits(TWO52.to_bits() | k) - TWO52;
    from_reduced(z, kd)
}
