//! The accuracy suite of every kernel: on EVERY instruction-set path the CPU has (forced with
//! `isa::force`; a path it lacks is reported on stderr as "skipped: no …"), over many random
//! arguments (uniform in the domain, random bit patterns, and the edge values 0, −0,
//! subnormals, the domain ends, huge, ±∞ and NaN where the kernel takes them), each kernel
//! (a) is within its stated error of the plain libm value and (b) gives the same bits as on the
//! baseline path.
use kernels::isa::{Isa, force, on_every_path};
use kernels::{erfc, exp, f32x, gemm, ln};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// Random arguments per kernel (each path evaluates all of them).
const N: usize = 200_000;

/// Defines a slice map of a scalar kernel, dispatched like the plugins' loops (so each path is
/// the kernel inlined into a loop compiled for that path's target features).
macro_rules! map {
    ($name:ident, $body:ident, $t:ty, $k:path) => {
        #[inline(always)]
        fn $body(x: &[$t], out: &mut [$t]) {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = $k(v);
            }
        }
        kernels::dispatch! {
            fn $name(x: &[$t], out: &mut [$t]) -> () => $body
        }
    };
}
map!(map_exp, exp_body, f64, exp::exp);
map!(map_exp2, exp2_body, f64, exp::exp2);
map!(map_exp_le, exp_le_body, f64, exp::exp_le);
map!(map_ln, ln_body, f64, ln::ln);
map!(map_ln_ge1, ln_ge1_body, f64, ln::ln_ge1);
map!(map_exp_f32, exp_f32_body, f32, f32x::exp_f32);
map!(map_sigmoid, sigmoid_body, f32, f32x::sigmoid_f32);
map!(map_tanh, tanh_body, f32, f32x::tanh_f32);

/// erfc over sorted x ≥ 0, one [`erfc::erfc_run`] per fdlibm range (as histfit calls it).
#[inline(always)]
fn erfc_sorted_body(x: &[f64], out: &mut [f64]) {
    let mut a = 0;
    while a < x.len() {
        let r = erfc::range(x[a]);
        let b = a + x[a..].partition_point(|&v| erfc::range(v) == r);
        erfc::erfc_run(r, &x[a..b], &mut out[a..b]);
        a = b;
    }
}
kernels::dispatch! {
    fn map_erfc_sorted(x: &[f64], out: &mut [f64]) -> () => erfc_sorted_body
}

/// Distance in units in the last place (of the reference's binade; exact 0 when equal).
fn ulps(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    let ulp = if b == 0.0 { f64::from_bits(1) } else { f64::from_bits((b.abs().to_bits() & (0x7ff << 52)).max(1 << 52)) * f64::EPSILON };
    (a - b).abs() / ulp
}

/// `n` random f64: uniform in [lo, hi], random bit patterns restricted to [lo, hi], and `edges`.
fn args(seed: u64, lo: f64, hi: f64, edges: &[f64]) -> Vec<f64> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut v: Vec<f64> = edges.to_vec();
    while v.len() < N {
        let x = if rng.random_bool(0.5) {
            rng.random_range(lo..=hi)
        } else {
            let b = f64::from_bits(rng.random::<u64>());
            if b >= lo && b <= hi { b } else { continue }
        };
        v.push(x);
    }
    v
}

/// Runs `map` over `x` on every path; checks the same bits as the baseline path (NaN as NaN)
/// and returns the baseline values.
fn every_path<T: Copy + Default + PartialEq + std::fmt::Debug>(test: &str, x: &[T], map: fn(&[T], &mut [T]), bits: fn(T) -> u64, nan: fn(T) -> bool) -> Vec<T> {
    let base = {
        let mut o = vec![T::default(); x.len()];
        force(Isa::Baseline, || map(x, &mut o)).expect("baseline always runs");
        o
    };
    let mut ran = Vec::new();
    on_every_path(test, |isa| {
        let mut o = vec![T::default(); x.len()];
        map(x, &mut o);
        for i in 0..x.len() {
            let same = bits(o[i]) == bits(base[i]) || (nan(o[i]) && nan(base[i]));
            assert!(same, "{test}: {isa:?} gives {:?}, baseline {:?} at {:?}", o[i], base[i], x[i]);
        }
        ran.push(isa);
    });
    assert!(ran.contains(&Isa::Baseline) && ran.contains(&Isa::detected()), "{test}: ran {ran:?}");
    base
}

fn b64(x: f64) -> u64 {
    x.to_bits()
}
fn b32(x: f32) -> u64 {
    x.to_bits() as u64
}

fn subnormals() -> Vec<f64> {
    vec![f64::from_bits(1), f64::from_bits(0x000f_ffff_ffff_ffff), 1e-310, 4.9e-324, f64::MIN_POSITIVE]
}

#[test]
fn exp_within_one_ulp_of_libm_on_every_path() {
    let mut edges = vec![0.0, -0.0, -708.0, 709.0, 1.0, -1.0, std::f64::consts::LN_2 / 2.0, -std::f64::consts::LN_2 / 2.0];
    edges.extend(subnormals());
    edges.extend(subnormals().iter().map(|v| -v));
    let x = args(1, -708.0, 709.0, &edges);
    let y = every_path("exp", &x, map_exp, b64, f64::is_nan);
    let worst = x.iter().zip(&y).map(|(&x, &y)| ulps(y, x.exp())).fold(0.0, f64::max);
    assert!(worst <= 1.0, "exp: worst {worst} ulp");
    // outside the domain: 0 below −708, e^709 above 709, NaN through
    let out = [-708.000_000_1, -800.0, -1e300, f64::NEG_INFINITY, 709.5, 1e300, f64::INFINITY, f64::NAN];
    let y = every_path("exp (outside)", &out, map_exp, b64, f64::is_nan);
    assert_eq!(&y[..4], &[0.0; 4]);
    assert!(y[4..7].iter().all(|&v| v == exp::exp(709.0)) && y[7].is_nan());
    assert_eq!(exp::exp(0.0), 1.0);
}

#[test]
fn exp2_within_one_ulp_of_libm_and_exact_at_integers_on_every_path() {
    let mut edges: Vec<f64> = (-1021..=1023).map(|n| n as f64).collect();
    edges.extend([0.5, -0.5, -0.0]);
    edges.extend(subnormals());
    let x = args(2, -1021.0, 1023.0, &edges);
    let y = every_path("exp2", &x, map_exp2, b64, f64::is_nan);
    let worst = x.iter().zip(&y).map(|(&x, &y)| ulps(y, x.exp2())).fold(0.0, f64::max);
    assert!(worst <= 1.0, "exp2: worst {worst} ulp");
    for n in -1021..=1023 {
        assert_eq!(exp::exp2(n as f64), (n as f64).exp2(), "2^{n}");
    }
    let out = [-1021.5, -5000.0, f64::NEG_INFINITY, 1024.0, f64::INFINITY, f64::NAN];
    let y = every_path("exp2 (outside)", &out, map_exp2, b64, f64::is_nan);
    assert_eq!(&y[..3], &[0.0; 3]);
    assert!(y[3..5].iter().all(|&v| v == 1023f64.exp2()) && y[5].is_nan());
}

#[test]
fn exp_le_within_one_ulp_of_libm_on_every_path() {
    let mut edges = vec![0.0, -0.0, -708.0, exp::EXP_LE_MAX, 1.0, -1.0];
    edges.extend(subnormals());
    let x = args(3, -708.0, exp::EXP_LE_MAX, &edges);
    let y = every_path("exp_le", &x, map_exp_le, b64, f64::is_nan);
    let worst = x.iter().zip(&y).map(|(&x, &y)| ulps(y, x.exp())).fold(0.0, f64::max);
    assert!(worst <= 1.0, "exp_le: worst {worst} ulp");
    let out = [-708.000_000_1, -1e300, f64::NEG_INFINITY, 700.5, 1e300, f64::NAN];
    let y = every_path("exp_le (outside)", &out, map_exp_le, b64, f64::is_nan);
    assert_eq!(&y[..3], &[0.0; 3]);
    assert!(y[3..5].iter().all(|&v| v == exp::exp_le(exp::EXP_LE_MAX)) && y[5].is_nan());
    assert_eq!(exp::exp_le(0.0), 1.0);
}

#[test]
fn ln_within_one_ulp_of_libm_on_every_path_subnormals_included() {
    let sqrt2 = std::f64::consts::SQRT_2;
    let mut edges = vec![1.0, f64::MAX, sqrt2, f64::from_bits(sqrt2.to_bits() - 1), f64::from_bits(sqrt2.to_bits() + 1), 0.5 * sqrt2, 1.0 + f64::EPSILON, 1.0 - f64::EPSILON / 2.0];
    edges.extend(subnormals());
    let x = args(4, f64::from_bits(1), f64::MAX, &edges);
    let y = every_path("ln", &x, map_ln, b64, f64::is_nan);
    let worst = x.iter().zip(&y).map(|(&x, &y)| ulps(y, x.ln())).fold(0.0, f64::max);
    assert!(worst <= 1.0, "ln: worst {worst} ulp");
    // near 1, where ln is tiny (relative accuracy)
    let near: Vec<f64> = args(5, 0.5, 2.0, &[]);
    let y = every_path("ln (near 1)", &near, map_ln, b64, f64::is_nan);
    let worst = near.iter().zip(&y).map(|(&x, &y)| ulps(y, x.ln())).fold(0.0, f64::max);
    assert!(worst <= 1.0, "ln near 1: worst {worst} ulp");
    assert_eq!(ln::ln(1.0), 0.0);
}

#[test]
fn ln_ge1_within_one_ulp_and_the_same_bits_as_ln_on_every_path() {
    let x = args(6, 1.0, f64::MAX, &[1.0, f64::MAX, 2.0, 1.0 + f64::EPSILON]);
    let y = every_path("ln_ge1", &x, map_ln_ge1, b64, f64::is_nan);
    for (&x, &y) in x.iter().zip(&y) {
        assert!(ulps(y, x.ln()) <= 1.0, "ln_ge1({x:e}) = {y:e}, libm {:e}", x.ln());
        assert_eq!(y.to_bits(), ln::ln(x).to_bits(), "ln_ge1 vs ln at {x:e}");
    }
}

#[test]
fn erfc_within_a_few_ulp_of_libm_on_every_path() {
    // sorted, as the callers pass them; every fdlibm range and the underflow beyond 28
    let mut x = args(7, 0.0, 30.0, &[0.0, -0.0, 0.25, 0.84375, 1.25, 1.0 / 0.35, 28.0, f64::MAX, f64::INFINITY]);
    x.extend(subnormals());
    x.iter_mut().for_each(|v| *v = v.abs());
    x.sort_by(f64::total_cmp);
    let y = every_path("erfc", &x, map_erfc_sorted, b64, f64::is_nan);
    let mut worst: f64 = 0.0;
    for (&x, &y) in x.iter().zip(&y) {
        let want = libm::erfc(x);
        if want >= f64::MIN_POSITIVE {
            worst = worst.max(ulps(y, want));
        } else {
            assert!(y.abs() <= 4.0 * f64::MIN_POSITIVE, "erfc({x:e}) = {y:e}, libm {want:e}");
        }
        assert_eq!(y.to_bits(), erfc::erfc(x).to_bits(), "run vs scalar at {x:e}");
    }
    assert!(worst <= 4.0, "erfc: worst {worst} ulp");
    assert_eq!(erfc::erfc(0.0), 1.0);
}

/// f32 arguments: uniform in [lo, hi], random finite bit patterns (huge included), and edges.
fn args32(seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut v = vec![0.0, -0.0, -87.0, 88.0, 1e-45, -1e-45, f32::MIN_POSITIVE, f32::MAX, f32::MIN, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
    while v.len() < N {
        v.push(if rng.random_bool(0.7) { rng.random_range(lo..=hi) } else { f32::from_bits(rng.random::<u32>()) });
    }
    v
}

#[test]
fn f32_gates_within_their_bounds_of_libm_on_every_path() {
    let x = args32(8, -90.0, 90.0);
    let e = every_path("exp_f32", &x, map_exp_f32, b32, f32::is_nan);
    let s = every_path("sigmoid_f32", &x, map_sigmoid, b32, f32::is_nan);
    let t = every_path("tanh_f32", &x, map_tanh, b32, f32::is_nan);
    let (mut we, mut ws, mut wt) = (0f64, 0f64, 0f64);
    for i in 0..x.len() {
        let v = x[i] as f64;
        if v.is_nan() {
            assert!(e[i].is_nan() && s[i].is_nan() && t[i].is_nan(), "NaN in, NaN out");
            continue;
        }
        let exact = v.clamp(-87.0, 88.0).exp();
        we = we.max(((e[i] as f64) - exact).abs() / exact);
        ws = ws.max((s[i] as f64 - 1.0 / (1.0 + (-v).exp())).abs());
        wt = wt.max((t[i] as f64 - v.tanh()).abs());
        assert!((0.0..=1.0).contains(&s[i]) && (-1.0..=1.0).contains(&t[i]), "sigmoid/tanh range at {v}");
    }
    assert!(we < 2.5e-7 && ws < 3e-7 && wt < 5e-7, "exp {we:e}, sigmoid {ws:e}, tanh {wt:e}");
    assert_eq!(f32x::tanh_f32(50.0), 1.0);
    assert_eq!(f32x::tanh_f32(-50.0), -1.0);
    assert!(f32x::sigmoid_f32(100.0) == 1.0 && f32x::sigmoid_f32(-100.0) < 1e-37);
}

#[test]
fn packed_gemm_matches_the_naive_product_on_random_shapes() {
    if !Isa::Avx512.available() {
        kernels::isa::report_skip("packed_gemm_matches_the_naive_product_on_random_shapes", "no AVX-512 on this CPU");
        return;
    }
    // the packed kernel runs on the AVX-512 path only
    assert_eq!(force(Isa::Avx2, gemm::available), Some(false));
    assert_eq!(force(Isa::Baseline, gemm::available), Some(false));
    assert_eq!(force(Isa::Avx512, gemm::available), Some(true));
    let mut rng = Pcg64::seed_from_u64(9);
    for _ in 0..60 {
        let (m, k, n) = (rng.random_range(1..40), rng.random_range(1..150), rng.random_range(1..120));
        let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-2.0..2.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-2.0..2.0)).collect();
        let c0: Vec<f32> = (0..m * n).map(|_| rng.random_range(-2.0..2.0)).collect();
        let bt: Vec<f32> = (0..n * k).map(|x| b[(x % k) * n + x / k]).collect();
        for (src, rs, cs) in [(&b, n, 1), (&bt, 1, k)] {
            let mut p = gemm::Packed::default();
            gemm::Packed::pack(src, k, n, rs, cs, &mut p);
            for acc in [false, true] {
                let mut c = c0.clone();
                p.gemm(m, &a, k, &mut c, n, acc);
                for i in 0..m {
                    for j in 0..n {
                        let want: f64 = (0..k).map(|q| a[i * k + q] as f64 * b[q * n + j] as f64).sum::<f64>() + if acc { c0[i * n + j] as f64 } else { 0.0 };
                        let scale: f64 = (0..k).map(|q| (a[i * k + q] as f64 * b[q * n + j] as f64).abs()).sum::<f64>() + 1.0;
                        assert!((c[i * n + j] as f64 - want).abs() <= 1e-6 * scale * k as f64, "{m}x{k}x{n} ({i},{j}): {} vs {want}", c[i * n + j]);
                    }
                }
            }
        }
    }
}
