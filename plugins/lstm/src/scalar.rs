//! Floating-point element type of the LSTM: `f32` for training (flowlab-kernels' `exp`-based
//! gate functions and packed GEMM, docs/kernels.md; `sgemm`) and `f64` for the finite-difference gradient check (`dgemm`, libm).
use kernels::f32x::{sigmoid_f32, tanh_f32};
use kernels::gemm::Packed;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// Element type of the model (f32 or f64).
pub trait Scalar:
    Copy + Send + Sync + Default + Debug + PartialOrd + 'static + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self> + AddAssign
{
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
        unsafe { $f($m, $k, $n, $alpha, $a.as_ptr(), $sa.0 as isize, $sa.1 as isize, $b.as_ptr(), $sb.0 as isize, $sb.1 as isize, $beta, $c.as_mut_ptr(), $sc.0 as isize, $sc.1 as isize) }
    }};
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
    /// flowlab-kernels' `exp`-based sigmoid (docs/kernels.md).
    #[inline(always)]
    fn sigmoid(self) -> f32 {
        sigmoid_f32(self)
    }
    /// flowlab-kernels' `exp`-based tanh (docs/kernels.md).
    #[inline(always)]
    fn tanh(self) -> f32 {
        tanh_f32(self)
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    fn gemm(m: usize, k: usize, n: usize, alpha: f32, a: &[f32], sa: (usize, usize), b: &[f32], sb: (usize, usize), beta: f32, c: &mut [f32], sc: (usize, usize)) {
        gemm_body!(matrixmultiply::sgemm, m, k, n, alpha, a, sa, b, sb, beta, c, sc)
    }
    fn pack(b: &[f32], k: usize, n: usize, sb: (usize, usize), into: &mut Packed) -> bool {
        if !kernels::gemm::available() {
            return false;
        }
        Packed::pack(b, k, n, sb.0, sb.1, into);
        true
    }
    fn gemm_packed(m: usize, k: usize, n: usize, a: &[f32], lda: usize, b: &[f32], sb: (usize, usize), pk: &Packed, packed: bool, beta: f32, c: &mut [f32], ldc: usize) {
        if packed && (beta == 0.0 || beta == 1.0) { pk.gemm(m, a, lda, c, ldc, beta == 1.0) } else { Self::gemm(m, k, n, 1.0, a, (lda, 1), b, sb, beta, c, (ldc, 1)) }
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
    /// The f32 gates are flowlab-kernels' (whose suite checks their accuracy on every path).
    #[test]
    fn f32_gates_are_the_kernels() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.05;
            assert_eq!(x.sigmoid().to_bits(), sigmoid_f32(x).to_bits());
            assert_eq!(Scalar::tanh(x).to_bits(), tanh_f32(x).to_bits());
            assert_eq!(x.sigmoid().to_bits(), (1.0 / (1.0 + kernels::f32x::exp_f32(-x))).to_bits());
        }
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
