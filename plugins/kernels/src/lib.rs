//! # flowlab-kernels: the hot vector math of histfit, endhost and lstm
//!
//! One crate for the elementary functions the plugins evaluate in their inner loops, and one
//! run-time CPU dispatch for those loops (docs/kernels.md):
//!
//! - [`isa`]: [`Isa`] (Baseline / AVX2 / AVX-512), detected once, forced per thread for tests
//!   ([`isa::force`]) or per process (`FLOWLAB_ISA`), and the [`dispatch!`] macro that compiles
//!   a loop once per path and calls the active one.
//! - [`exp`]: e^x and 2^y in fused multiply–adds (≤ 1 ulp; histfit), e^x without FMA for
//!   x ≤ 700 (≤ 1 ulp; endhost).
//! - [`ln`]: ln x for every positive x (subnormals included; histfit) and for x ≥ 1 (endhost),
//!   one fdlibm-style core.
//! - [`erfc`]: fdlibm's erfc on runs of x ≥ 0 in one range each (histfit's normal cdf/sf).
//! - [`f32x`]: e^x, the logistic sigmoid and tanh in f32 (lstm's gates).
//! - [`gemm`]: the packed AVX-512 f32 GEMM of lstm's recurrent step.
//!
//! Every kernel uses only IEEE add/sub/mul/div, `mul_add` (an exact fused operation on every
//! target: hardware FMA on the AVX2/AVX-512 paths, libm's `fma` on the baseline) and bit
//! operations, so a loop compiled for any path gives the same bits; `tests/accuracy.rs` checks
//! that and the accuracy against libm on every path the CPU has.
#![warn(missing_docs)]

pub mod erfc;
pub mod exp;
pub mod f32x;
pub mod gemm;
pub mod isa;
pub mod ln;

pub use isa::Isa;

/// ln 2 split as fdlibm's `ln2_hi` (32 significant bits, 21 trailing zero bits, so k·ln2_hi is
/// exact for |k| < 2²¹) + `ln2_lo`: the Cody–Waite reduction of [`exp`] and the reconstruction
/// k ln2 + ln(1+f) of [`ln`].
pub const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 6.93147180369123816490e-01
/// The low part of ln 2 (see [`LN2_HI`]).
pub const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.90821492927058770002e-10

/// 1.5·2⁵²: for |y| < 2⁵¹, (y + SHIFT) − SHIFT is y rounded to the nearest integer n, and the
/// low bits of y + SHIFT hold n (as bits(y + SHIFT) − bits(SHIFT)).
pub const SHIFT: f64 = 6_755_399_441_055_744.0;
