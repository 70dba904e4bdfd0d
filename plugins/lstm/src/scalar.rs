//! Floating-point element type of the LSTM: `f32` for training (fast `exp`-based gate
//! functions, `sgemm`) and `f64` for the finite-difference gradient check (`dgemm`, libm).
use crate::kernel::Packed;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// Element type of the model (f32 or f64).
pub trait Scalar: Copy + Send + Sync + Default + Debug + PartialOrd + 'static + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self> + AddAssign {
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Conversion from f64.
    fn from_f64(x: f64) -> Self;
    /// Conversion to f64.
    fn to_f64(self) -> f64;
    /// Logistic sigmoid `1 / (1 + e^{−x})`.
    fn sigmoid(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// `C ← α·A·B + β·C` with `A: m×k`, `B: k×n`, `C: m×n` given by row and column strides.
    #[allow(clippy::too_many_arguments)]
    fn gemm(m: usize, k: usize, n: usize, alpha: Self, a: &[Self], sa: (usize, usize), b: &[Self], sb: (usize, usize), beta: Self, c: &mut [Self], sc: (usize, usize));

    /// Packs `B` (`k × n`, strides `sb`) for [`Scalar::gemm_packed`]; false when this type/CPU
    /// has no packed kernel (then `gemm_packed` falls back to [`Scalar::gemm`]).
    fn pack(_b: &[Self], _k: usize, _n: usize, _sb: (usize, usize), _into: &mut Packed) -> bool {
        false
    }

    /// `C ← A·B + β·C` (β ∈ {0, 1}) with `A: m × k` (row stride `lda`), `C: m × n` (row stride
    /// `ldc`), through the packed copy of `B` when `packed` is true.
    #[allow(clippy::too_many_arguments)]
    fn gemm_packed(m: usize, k: usize, n: usize, a: &[Self], lda: usize, b: &[Self], sb: (usize, usize), pk: &Packed, packed: bool, beta: Self, c: &mut [Self], ldc: usize) {
        let _ = (pk, packed);
        Self::gemm(m, k, n, Self::ONE, a, (lda, 1), b, sb, beta, c, (ldc, 1))
    }
}

fn check_extent(len: usize, rows: usize, cols: usize, s: (usize, usize), what: &str) {
    if rows > 0 && cols > 0 {
        let last = (rows - 1) * s.0 + (cols - 1) * s.1;
        assert!(last < len, "gemm: {what} of {rows}x{cols} with strides {s:?} exceeds its buffer of {len}");
    }
}

macro_rules! gemm_body {
    ($f:path, $m:ident, $k:ident, $n:ident, $alpha:ident, $a:ident, $sa:ident, $b:ident, $sb:ident, $beta:ident, $c:ident, $sc:ident) => {{
        check_extent($a.len(), $m, $k, $sa, "A");
        check_extent($b.len(), $k, $n, $sb, "B");
        check_extent($c.len(), $m, $n, $sc, "C");
        if $m == 0 || $n == 0 {
            return;
        }
        // SAFETY: the extents of A, B and C were checked against their slices above, and C
        // is a unique borrow, so it aliases neither A nor B.
        unsafe {
            $f($m, $k, $n, $alpha, $a.as_ptr(), $sa.0 as isize, $sa.1 as isize, $b.as_ptr(), $sb.0 as isize, $sb.1 as isize, $beta, $c.as_mut_ptr(), $sc.0 as isize, $sc.1 as isize)
        }
    }};
}

/// `e^x` for f32 without libm: `x = n·ln2 + r`, `|r| ≤ ln2/2`, `e^r` by its degree-6 Taylor
/// polynomial (relative error ≤ 1.2e-7), times `2^n` built in the exponent bits. Branch-free, so
/// loops over it vectorise (docs/lstm.md, "Implementation choices", tuning change 1).
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    // plain selects (not `clamp`, whose NaN/assert handling blocks vectorisation); a NaN input
    // passes through the polynomial and gives NaN
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const SHIFT: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to the nearest integer
    let n = (x * LOG2E + SHIFT) - SHIFT;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // SAFETY: |n| ≤ 127 after the clamp above (NaN never reaches here as a finite n is needed
    // only for the exponent bits: a NaN x gives a NaN p, so the product stays NaN).
    let ni = if n == n { unsafe { n.to_int_unchecked::<i32>() } } else { 0 };
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    p * scale
}

impl Scalar for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn sigmoid(self) -> f32 {
        1.0 / (1.0 + fast_exp(-self))
    }
    #[inline(always)]
    fn tanh(self) -> f32 {
        1.0 - 2.0 / (fast_exp(2.0 * self) + 1.0)
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    fn gemm(m: usize, k: usize, n: usize, alpha: f32, a: &[f32], sa: (usize, usize), b: &[f32], sb: (usize, usize), beta: f32, c: &mut [f32], sc: (usize, usize)) {
        gemm_body!(matrixmultiply::sgemm, m, k, n, alpha, a, sa, b, sb, beta, c, sc)
    }
    fn pack(b: &[f32], k: usize, n: usize, sb: (usize, usize), into: &mut Packed) -> bool {
        if !crate::kernel::available() {
            return false;
        }
        Packed::pack(b, k, n, sb.0, sb.1, into);
        true
    }
    fn gemm_packed(m: usize, k: usize, n: usize, a: &[f32], lda: usize, b: &[f32], sb: (usize, usize), pk: &Packed, packed: bool, beta: f32, c: &mut [f32], ldc: usize) {
        if packed && (beta == 0.0 || beta == 1.0) {
            pk.gemm(m, a, lda, c, ldc, beta == 1.0)
        } else {
            Self::gemm(m, k, n, 1.0, a, (lda, 1), b, sb, beta, c, (ldc, 1))
        }
    }
}

impl Scalar for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    fn from_f64(x: f64) -> f64 {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn sigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
    fn tanh(self) -> f64 {
        f64::tanh(self)
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn gemm(m: usize, k: usize, n: usize, alpha: f64, a: &[f64], sa: (usize, usize), b: &[f64], sb: (usize, usize), beta: f64, c: &mut [f64], sc: (usize, usize)) {
        gemm_body!(matrixmultiply::dgemm, m, k, n, alpha, a, sa, b, sb, beta, c, sc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn fast_exp_sigmoid_tanh_accuracy() {
        let mut worst = (0f64, 0f64, 0f64);
        for i in -20000..=20000 {
            let x = i as f32 * 0.004;
            let e = (x as f64).exp();
            worst.0 = worst.0.max(((fast_exp(x) as f64) - e).abs() / e);
            worst.1 = worst.1.max((x.sigmoid() as f64 - 1.0 / (1.0 + (-(x as f64)).exp())).abs());
            worst.2 = worst.2.max((Scalar::tanh(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst.0 < 3e-7 && worst.1 < 3e-7 && worst.2 < 5e-7, "{worst:?}");
        assert_eq!(Scalar::tanh(50.0f32), 1.0);
        assert_eq!(Scalar::tanh(-50.0f32), -1.0);
        assert!(100.0f32.sigmoid() == 1.0 && (-100.0f32).sigmoid() < 1e-37);
    }
    #[test]
    fn gemm_strided() {
        // A = [[1,2],[3,4]] given transposed through strides, B = I
        let a = [1.0f64, 3.0, 2.0, 4.0];
        let b = [1.0f64, 0.0, 0.0, 1.0];
        let mut c = [0.0f64; 4];
        f64::gemm(2, 2, 2, 1.0, &a, (1, 2), &b, (2, 1), 0.0, &mut c, (2, 1));
        assert_eq!(c, [1.0, 2.0, 3.0, 4.0]);
    }
}
