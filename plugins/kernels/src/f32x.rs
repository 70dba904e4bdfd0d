//! e^x, the logistic sigmoid and tanh in f32 without libm (lstm's gate functions,
//! docs/lstm.md, "Implementation choices"): branch-free, so loops over them vectorise.

/// e^x for f32: x clamped to [−87, 88], x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two f32
/// parts), e^r by its degree-6 Taylor polynomial, times 2^n built in
/// the exponent bits: relative error < 2.5e-7 (about 2 f32 ulp; tested). NaN gives NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // plain selects (not `clamp`, whose NaN/assert handling blocks vectorisation); a NaN input
    // passes through the polynomial and gives NaN
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const SHIFT: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to the nearest integer
    let n = (x * LOG2E + SHIFT) - SHIFT;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // SAFETY: |n| ≤ 127 after the clamp above; a NaN n (NaN x) is replaced by 0 and the NaN
    // p keeps the product NaN.
    let ni = if !n.is_nan() { unsafe { n.to_int_unchecked::<i32>() } } else { 0 };
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    p * scale
}

/// Logistic sigmoid 1/(1 + e^{−x}) through [`exp_f32`]: absolute error < 3e-7, values in
/// [0, 1] for every f32 (tested).
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// tanh x = 1 − 2/(e^{2x} + 1) through [`exp_f32`]: absolute error < 5e-7, values in [−1, 1]
/// for every f32, ±1 at ±50 (tested).
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    1.0 - 2.0 / (exp_f32(2.0 * x) + 1.0)
}
