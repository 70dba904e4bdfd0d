//! The per-step recurrent GEMM of lstm with a pre-packed right-hand side (AVX-512, f32).
//!
//! Each step of the recurrence multiplies a small `rows × H` block by the same `H × 4H`
//! (forward) or `4H × H` (backward) weight matrix. A general GEMM re-packs that matrix on every
//! call, 100 times per sequence; profiling showed the packing at ~18 % of a training step. Here
//! the matrix is packed once per chunk into column panels of 16 (`panel[p][k][0..16]`, zero
//! beyond `n`), and an 8-row × 32-column register-blocked FMA kernel runs over it. Summation over
//! `k` is sequential, so results do not depend on how rows are split.
//!
//! Used only on the AVX-512 path ([`available`]); otherwise the caller falls back to a general
//! GEMM (`matrixmultiply`), whose bits differ (another summation order): lstm's f32 training
//! results are those of the AVX-512 path on a CPU that has it (docs/kernels.md).
use crate::Isa;

/// A `k × n` matrix packed in column panels of 16.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

const NR: usize = 16;

/// True when the packed kernel runs on this thread: the [`Isa::active`] path is AVX-512.
pub fn available() -> bool {
    Isa::active() == Isa::Avx512
}

impl Packed {
    /// Packs `B` (`k × n`, element `(i, j)` at `b[i·rs + j·cs]`).
    pub fn pack(b: &[f32], k: usize, n: usize, rs: usize, cs: usize, into: &mut Packed) {
        let panels = n.div_ceil(NR);
        into.k = k;
        into.n = n;
        into.data.clear();
        into.data.resize(panels * k * NR, 0.0);
        for p in 0..panels {
            for i in 0..k {
                let dst = &mut into.data[(p * k + i) * NR..(p * k + i + 1) * NR];
                for (jj, d) in dst.iter_mut().enumerate() {
                    let j = p * NR + jj;
                    if j < n {
                        *d = b[i * rs + j * cs];
                    }
                }
            }
        }
    }

    /// `C ← A·B (+ C if accumulate)` for `A: m × k` (row stride `lda`), `C: m × n` (row stride
    /// `ldc`). Panics if the slices are too short or the CPU lacks AVX-512 (pack only when
    /// [`available`]).
    pub fn gemm(&self, m: usize, a: &[f32], lda: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
        let (k, n) = (self.k, self.n);
        if m == 0 || n == 0 {
            return;
        }
        assert!(a.len() >= (m - 1) * lda + k && c.len() >= (m - 1) * ldc + n, "packed gemm: operands too short");
        assert!(Isa::Avx512.available(), "packed gemm needs AVX-512F");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: extents checked above; AVX-512F detected (part of the Avx512 path).
        unsafe {
            x86::gemm(m, k, n, a.as_ptr(), lda, self.data.as_ptr(), c.as_mut_ptr(), ldc, accumulate)
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::NR;
    use std::arch::x86_64::*;

    #[inline(always)]
    fn mask(cols: usize) -> u16 {
        if cols >= 16 { 0xFFFF } else { ((1u32 << cols) - 1) as u16 }
    }

    /// MR rows × (one or two panels).
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::needless_range_loop)] // r indexes A's rows and both accumulator arrays in step
    #[allow(clippy::too_many_arguments)]
    unsafe fn block<const MR: usize>(k: usize, a: *const f32, lda: usize, b0: *const f32, b1: *const f32, two: bool, c: *mut f32, ldc: usize, m0: u16, m1: u16, acc_c: bool) {
        unsafe {
            let mut acc0 = [_mm512_setzero_ps(); MR];
            let mut acc1 = [_mm512_setzero_ps(); MR];
            if two {
                for kk in 0..k {
                    let v0 = _mm512_loadu_ps(b0.add(kk * NR));
                    let v1 = _mm512_loadu_ps(b1.add(kk * NR));
                    for r in 0..MR {
                        let av = _mm512_set1_ps(*a.add(r * lda + kk));
                        acc0[r] = _mm512_fmadd_ps(av, v0, acc0[r]);
                        acc1[r] = _mm512_fmadd_ps(av, v1, acc1[r]);
                    }
                }
            } else {
                for kk in 0..k {
                    let v0 = _mm512_loadu_ps(b0.add(kk * NR));
                    for r in 0..MR {
                        let av = _mm512_set1_ps(*a.add(r * lda + kk));
                        acc0[r] = _mm512_fmadd_ps(av, v0, acc0[r]);
                    }
                }
            }
            for r in 0..MR {
                let cp = c.add(r * ldc);
                let mut x0 = acc0[r];
                if acc_c {
                    x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, cp));
                }
                _mm512_mask_storeu_ps(cp, m0, x0);
                if two {
                    let mut x1 = acc1[r];
                    if acc_c {
                        x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(m1, cp.add(NR)));
                    }
                    _mm512_mask_storeu_ps(cp.add(NR), m1, x1);
                }
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm(m: usize, k: usize, n: usize, a: *const f32, lda: usize, bp: *const f32, c: *mut f32, ldc: usize, acc_c: bool) {
        let panels = n.div_ceil(NR);
        let mut p = 0;
        while p < panels {
            let two = p + 1 < panels;
            let col = p * NR;
            let m0 = mask(n - col);
            let m1 = if two { mask(n - col - NR) } else { 0 };
            let b0 = unsafe { bp.add(p * k * NR) };
            let b1 = if two { unsafe { bp.add((p + 1) * k * NR) } } else { b0 };
            let mut r = 0;
            while r < m {
                let (ar, cr) = unsafe { (a.add(r * lda), c.add(r * ldc + col)) };
                let left = m - r;
                unsafe {
                    match left {
                        8.. => block::<8>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                        7 => block::<7>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                        6 => block::<6>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                        5 => block::<5>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                        4 => block::<4>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                        3 => block::<3>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                        2 => block::<2>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                        _ => block::<1>(k, ar, lda, b0, b1, two, cr, ldc, m0, m1, acc_c),
                    }
                }
                r += left.min(8);
            }
            p += if two { 2 } else { 1 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn packed_gemm_matches_naive() {
        if !Isa::Avx512.available() {
            crate::isa::report_skip("gemm::packed_gemm_matches_naive", "no AVX-512 on this CPU");
            return;
        }
        for (m, k, n) in [(13, 7, 37), (32, 128, 512), (3, 146, 584), (9, 584, 146), (1, 1, 1)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.25).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.5).collect();
            let c0: Vec<f32> = (0..m * n).map(|i| (i % 3) as f32).collect();
            // B given transposed through strides (as W_hᵀ in backward)
            let bt: Vec<f32> = (0..n * k).map(|x| b[(x % k) * n + x / k]).collect();
            for (src, rs, cs) in [(&b, n, 1), (&bt, 1, k)] {
                let mut p = Packed::default();
                Packed::pack(src, k, n, rs, cs, &mut p);
                for acc in [false, true] {
                    let mut c = c0.clone();
                    p.gemm(m, &a, k, &mut c, n, acc);
                    for i in 0..m {
                        for j in 0..n {
                            let want: f32 = (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum::<f32>() + if acc { c0[i * n + j] } else { 0.0 };
                            assert!((c[i * n + j] - want).abs() <= 1e-3 * want.abs().max(1.0), "{m}x{k}x{n} ({i},{j}): {} vs {want}", c[i * n + j]);
                        }
                    }
                }
            }
        }
    }
}
