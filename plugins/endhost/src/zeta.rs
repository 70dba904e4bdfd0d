//! Riemann ζ(s) and its first two derivatives for real s > 1 by Euler–Maclaurin summation
//! (docs/endhost.md, "ζ numerics"), and the zeta maximum-likelihood exponent (docs/endhost.md, "Models").
//!
//! ```text
//! ζ(s) = Σ_{m=1}^{N−1} m^{-s} + N^{1−s}/(s−1) + N^{-s}/2
//!        + Σ_{j=1}^{7} B_{2j}/(2j)! · s(s+1)…(s+2j−2) · N^{-s−2j+1},      N = 10
//! ```
//! Derivatives term by term: `m^{-s} → −ln m · m^{-s}`; with u = s − 1,
//! `N^{-u}/u → −ln N·N^{-u}/u − N^{-u}/u²`; each Bernoulli term `T_j → T_j (H_j − ln N)` with
//! `H_j = Σ_{i=0}^{2j−2} 1/(s+i)`, and `T_j ((H_j − ln N)² − Σ 1/(s+i)²)` for ζ″.

use crate::kernel::exp_le;

/// B₂, B₄, …, B₁₄.
const B2J: [f64; 7] = [1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0, 7.0 / 6.0];
/// B_{2j}/(2j)!, j = 1..=7: the same divisions as at run time, done once (the factorials are
/// exact in f64).
const B2J_FACT: [f64; 7] = {
    let mut out = [0.0; 7];
    let mut fact = 2.0f64;
    let mut i = 0;
    while i < 7 {
        let j = (i + 1) as f64;
        if i > 0 {
            fact *= (2.0 * j - 1.0) * (2.0 * j);
        }
        out[i] = B2J[i] / fact;
        i += 1;
    }
    out
};
/// Euler–Maclaurin cut N.
const EM_N: usize = 10;

/// `(ζ(s), ζ′(s), ζ″(s))` for real s > 1 (about 1e-15 relative for s ∈ (1, 30]); for s ≤ 1
/// returns `(+∞, −∞, +∞)` (the series diverges).
pub fn zeta_d(s: f64) -> (f64, f64, f64) {
    zeta_em_d2(s)
}

/// [`zeta_em`] with ζ″ (inlined into every instruction-set variant of [`zeta_em_d2`]).
#[inline(always)]
fn em_d2(s: f64) -> (f64, f64, f64) {
    zeta_em::<true>(s)
}

/// [`zeta_em`] without ζ″.
#[inline(always)]
fn em_d1(s: f64) -> (f64, f64, f64) {
    zeta_em::<false>(s)
}

kernels::dispatch! {
    /// [`zeta_em`] with ζ″ on the active instruction-set path: its batched divisions and four
    /// exps in wider registers (the same operations on every path, so the same bits).
    fn zeta_em_d2(s: f64) -> (f64, f64, f64) => em_d2
}

kernels::dispatch! {
    /// [`zeta_em`] without ζ″ on the active instruction-set path.
    fn zeta_em_d1(s: f64) -> (f64, f64, f64) => em_d1
}

/// `(ζ(s), ζ′(s))`: [`zeta_d`] without the second derivative (the log-likelihoods' need). The
/// last s is remembered per thread: the difference Hessians of the Newton steps change one
/// coordinate at a time, so most of their evaluations ask for the α of the one before (the
/// values are the ones computed, bit for bit).
pub fn zeta_d1(s: f64) -> (f64, f64) {
    thread_local! {
        static LAST: std::cell::Cell<(u64, f64, f64)> = const { std::cell::Cell::new((u64::MAX, f64::NAN, f64::NAN)) };
    }
    LAST.with(|c| {
        let (at, z0, z1) = c.get();
        if at == s.to_bits() {
            return (z0, z1);
        }
        let (z0, z1, _) = zeta_em_d1(s);
        c.set((s.to_bits(), z0, z1));
        (z0, z1)
    })
}

/// ln m for m = 0..=10 (index 0, 1 unused); `log_table` checks them against `f64::ln`.
#[allow(clippy::approx_constant, clippy::excessive_precision)]
const LN_M: [f64; 11] = [
    0.0,
    0.0,
    std::f64::consts::LN_2,
    1.098_612_288_668_109_691_4,
    1.386_294_361_119_890_618_8,
    1.609_437_912_434_100_374_6,
    1.791_759_469_228_055_000_8,
    1.945_910_149_055_313_305_1,
    2.079_441_541_679_835_928_3,
    2.197_224_577_336_219_382_8,
    std::f64::consts::LN_10,
];

/// N^{−(2j−1)}, j = 1..=7 (N = 10).
const N_POW: [f64; 7] = [1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11, 1e-13];

/// The terms of [`zeta_em`] before the Bernoulli corrections (m = 1..N−1, the integral and
/// the half term) and N^{−s}, for s > 1.
#[inline(always)]
fn zeta_head<const D2: bool>(s: f64) -> (f64, f64, f64, f64) {
    const _: () = assert!(EM_N == 10);
    // exp of a negative argument: the likelihood kernel's exp (≤ 1 ulp, inlined)
    // the four exps side by side (independent: one vector of them on the wide paths)
    let mut pe = [-s * LN_M[2], -s * LN_M[3], -s * LN_M[5], -s * LN_M[7]];
    pe.iter_mut().for_each(|v| *v = exp_le(*v));
    let [p2, p3, p5, p7] = pe;
    let p4 = p2 * p2;
    let pw = [0.0, 1.0, p2, p3, p4, p5, p2 * p3, p7, p4 * p2, p3 * p3];
    let (mut z0, mut z1, mut z2) = (0.0f64, 0.0f64, 0.0f64);
    for m in 2..EM_N {
        let (lm, t) = (LN_M[m], pw[m]);
        z0 += t;
        z1 -= lm * t;
        if D2 {
            z2 += lm * lm * t;
        }
    }
    z0 += 1.0; // m = 1
    let ln_n = LN_M[EM_N];
    let u = s - 1.0;
    let ns = p2 * p5; // N^{-s}
    let nu = EM_N as f64 * ns; // N^{-u}
    z0 += nu / u;
    z1 += -ln_n * nu / u - nu / (u * u);
    if D2 {
        z2 += ln_n * ln_n * nu / u + 2.0 * ln_n * nu / (u * u) + 2.0 * nu / (u * u * u);
    }
    z0 += 0.5 * ns;
    z1 -= 0.5 * ln_n * ns;
    if D2 {
        z2 += 0.5 * ln_n * ln_n * ns;
    }
    (z0, z1, z2, ns)
}

/// Euler–Maclaurin with N = 10. m^{−s} for m = 2..10 come from the prime powers 2^{−s}, 3^{−s},
/// 5^{−s}, 7^{−s} (4 exps), the other terms from N^{−s}; ζ″ only when `D2`.
#[inline(always)]
fn zeta_em<const D2: bool>(s: f64) -> (f64, f64, f64) {
    if !(s > 1.0) {
        return (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY);
    }
    let (mut z0, mut z1, mut z2, ns) = zeta_head::<D2>(s);
    let ln_n = LN_M[EM_N];
    // s and the factors s + 2j − 3, s + 2j − 2 (j = 2..7) of the Pochhammer products, and their
    // reciprocals (and reciprocal squares) computed together in loops that vectorise: the
    // divisions are independent of each other, and each is the one the sums below need
    let mut f = [1.0f64; 16];
    f[0] = s;
    for i in 1..7 {
        let j = (i + 1) as f64;
        f[2 * i - 1] = s + 2.0 * j - 3.0;
        f[2 * i] = s + 2.0 * j - 2.0;
    }
    let mut inv = [0.0f64; 16];
    inv.iter_mut().zip(&f).for_each(|(r, &v)| *r = 1.0 / v);
    let mut inv_sq = [0.0f64; 16];
    if D2 {
        inv_sq.iter_mut().zip(&f).for_each(|(r, &v)| *r = 1.0 / (v * v));
    }
    let mut poch = s; // s (s+1) … (s+2j−2)
    let mut h1 = inv[0];
    let mut h2 = inv_sq[0];
    for (i, bf) in B2J_FACT.iter().enumerate() {
        if i > 0 {
            let (a1, a2) = (f[2 * i - 1], f[2 * i]);
            poch *= a1 * a2;
            h1 += inv[2 * i - 1] + inv[2 * i];
            if D2 {
                h2 += inv_sq[2 * i - 1] + inv_sq[2 * i];
            }
        }
        let t = bf * poch * (ns * N_POW[i]);
        let d = h1 - ln_n;
        z0 += t;
        z1 += t * d;
        if D2 {
            z2 += t * (d * d - h2);
        }
    }
    (z0, z1, z2)
}

/// ζ(s) alone.
pub fn zeta(s: f64) -> f64 {
    zeta_d(s).0
}

/// `ln(1 − e^{−λ})` for λ > 0, stable for small and large λ.
#[inline]
pub fn log1mexp_neg(lam: f64) -> f64 {
    if lam > std::f64::consts::LN_2 { (-(-lam).exp()).ln_1p() } else { (-(-lam).exp_m1()).ln() }
}

/// Result of the zeta MLE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZetaMle {
    /// α̂ in (1, α_max].
    pub alpha: f64,
    /// Newton/bisection iterations.
    pub iterations: u64,
    /// True when the solution sits at α_max (score still negative there).
    pub at_bound: bool,
}

/// ln R(α) = ln(−ζ′(α)/ζ(α)) at the upper end of the bracket of [`zeta_mle_from`], cached per
/// thread for the last α: every M-step of an EM run asks for the same α_max (one ζ evaluation
/// of the three or four a warm-started solve makes), and the value is the one computed, bit for
/// bit.
fn ln_r_at(a: f64) -> f64 {
    thread_local! {
        static LAST: std::cell::Cell<(f64, f64)> = const { std::cell::Cell::new((f64::NAN, f64::NAN)) };
    }
    LAST.with(|c| {
        let (at, v) = c.get();
        if at.to_bits() == a.to_bits() {
            return v;
        }
        let (z0, z1, _) = zeta_d(a);
        let v = (-(z1 / z0)).ln();
        c.set((a, v));
        v
    })
}

/// Solves the zeta score equation `−ζ′(α)/ζ(α) = mean_logk` on (1, α_max] by safeguarded
/// Newton (docs/endhost.md, "Models") on its logarithm: the left side decreases from +∞ at α → 1⁺ to 0, so
/// the root is unique; a Newton step leaving the bracket is replaced by bisection.
pub fn zeta_mle(mean_logk: f64, alpha_hi: f64) -> ZetaMle {
    zeta_mle_from(mean_logk, alpha_hi, None)
}

/// [`zeta_mle`] with Newton started at `a0` when it lies in (1, α_max) (e.g. the previous
/// EM iterate: a few steps instead of a dozen), else at the default 1 + 1/mean_logk.
pub fn zeta_mle_from(mean_logk: f64, alpha_hi: f64, a0: Option<f64>) -> ZetaMle {
    // Newton on ln R(α) − ln m with R = −ζ′/ζ (R ~ 1/(α−1) near 1 and ~ 2^{−α} ln 2 for large
    // α: its log is close to linear at both ends, where R itself is not); R′ = (ζ′/ζ)² − ζ″/ζ
    let lm = mean_logk.ln();
    let f = |a: f64| {
        let (z0, z1, z2) = zeta_d(a);
        let r = z1 / z0;
        let big_r = -r;
        (big_r.ln() - lm, (r * r - z2 / z0) / big_r)
    };
    let (mut lo, mut hi) = (1.0f64, alpha_hi);
    if ln_r_at(hi) - lm >= 0.0 {
        return ZetaMle { alpha: hi, iterations: 1, at_bound: true };
    }
    let mut a = a0.filter(|&a| lo < a && a < hi).unwrap_or(1.0 + 1.0 / mean_logk.max(1e-300));
    if !(lo < a && a < hi) {
        a = 0.5 * (lo + hi);
    }
    let mut it = 0;
    while it < 200 {
        it += 1;
        let (v, dv) = f(a);
        if v == 0.0 {
            return ZetaMle { alpha: a, iterations: it, at_bound: false };
        }
        if v > 0.0 {
            lo = a;
        } else {
            hi = a;
        }
        let mut an = a - v / dv;
        // converged before the safeguard: at the root a has just become lo or hi, and a step
        // that rounds to nothing would otherwise count as leaving the bracket and bisect away
        if (an - a).abs() <= 1e-15 * a && lo <= an && an <= hi {
            return ZetaMle { alpha: an, iterations: it, at_bound: false };
        }
        if !(lo < an && an < hi) {
            an = 0.5 * (lo + hi);
        }
        if (an - a).abs() <= 1e-15 * a {
            return ZetaMle { alpha: an, iterations: it, at_bound: false };
        }
        a = an;
    }
    ZetaMle { alpha: a, iterations: it, at_bound: false }
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // reference values keep their published digits
mod tests {
    use super::*;
    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }
    #[test]
    fn known_values() {
        let pi = std::f64::consts::PI;
        assert!(rel(zeta(2.0), pi * pi / 6.0) <= 1e-14, "{}", zeta(2.0));
        assert!(rel(zeta(3.0), 1.202_056_903_159_594_285_4) <= 1e-14);
        assert!(rel(zeta(4.0), pi.powi(4) / 90.0) <= 1e-14);
        assert!(rel(zeta(6.0), pi.powi(6) / 945.0) <= 1e-14);
        assert!(rel(zeta(1.5), 2.612_375_348_685_488_343_3) <= 1e-14);
        assert!(rel(zeta(20.0), 1.000_000_953_962_033_873_9) <= 1e-14);
        // ζ′(2) = −0.93754825431584375370 ; ζ′(3) = −0.19812624288563685333
        assert!(rel(zeta_d(2.0).1, -0.937_548_254_315_843_753_70) <= 1e-14, "{}", zeta_d(2.0).1);
        assert!(rel(zeta_d(3.0).1, -0.198_126_242_885_636_853_33) <= 1e-14);
        // ζ″(2) = 1.98928023429890102342
        assert!(rel(zeta_d(2.0).2, 1.989_280_234_298_901_023_42) <= 1e-14, "{}", zeta_d(2.0).2);
        // ζ(s) ~ 1/(s−1) + γ near 1
        let s = 1.0 + 1e-6;
        assert!(rel(zeta(s), 1.0 / (s - 1.0) + 0.577_215_664_901_532_9) <= 1e-9);
    }
    /// The sums as first written (a division per term at run time): the batched reciprocals and
    /// the constant B_{2j}/(2j)! give the same bits.
    #[test]
    fn batched_divisions_give_the_same_bits() {
        fn reference(s: f64) -> (f64, f64, f64) {
            let (mut z0, mut z1, mut z2, ns) = zeta_head::<true>(s);
            let ln_n = LN_M[EM_N];
            let mut fact = 2.0f64;
            let mut poch = s;
            let mut h1 = 1.0 / s;
            let mut h2 = 1.0 / (s * s);
            for (i, b) in B2J.iter().enumerate() {
                let j = (i + 1) as f64;
                if i > 0 {
                    let a1 = s + 2.0 * j - 3.0;
                    let a2 = s + 2.0 * j - 2.0;
                    fact *= (2.0 * j - 1.0) * (2.0 * j);
                    poch *= a1 * a2;
                    h1 += 1.0 / a1 + 1.0 / a2;
                    h2 += 1.0 / (a1 * a1) + 1.0 / (a2 * a2);
                }
                let t = b / fact * poch * (ns * N_POW[i]);
                let d = h1 - ln_n;
                z0 += t;
                z1 += t * d;
                z2 += t * (d * d - h2);
            }
            (z0, z1, z2)
        }
        let want: Vec<(f64, (f64, f64, f64))> = (0..2000).map(|k| 1.0 + 1e-6 + k as f64 * 0.0173).map(|s| (s, kernels::isa::force(kernels::Isa::Baseline, || reference(s)).unwrap())).collect();
        kernels::isa::on_every_path("endhost zeta::batched_divisions_give_the_same_bits", |v| {
            for &(s, b) in &want {
                let a = zeta_d(s);
                assert_eq!((a.0.to_bits(), a.1.to_bits(), a.2.to_bits()), (b.0.to_bits(), b.1.to_bits(), b.2.to_bits()), "{v:?} s {s}");
                // (not through zeta_d1's per-thread memory of the last s)
                let c = zeta_em_d1(s);
                assert_eq!((c.0.to_bits(), c.1.to_bits()), (b.0.to_bits(), b.1.to_bits()), "{v:?} s {s}");
            }
        });
    }

    #[test]
    fn log_table() {
        for (m, l) in LN_M.iter().enumerate().skip(2) {
            assert_eq!(*l, (m as f64).ln(), "ln {m}");
        }
        // ζ and ζ′ of the first-derivative variant are those of the full one
        for s in [1.01, 1.7, 2.0, 3.3, 9.9] {
            let (a, b, _) = zeta_d(s);
            assert_eq!(zeta_d1(s), (a, b));
        }
    }
    #[test]
    fn derivatives_match_differences() {
        for s in [1.05, 1.5, 2.3, 4.0, 9.0] {
            let h = 1e-5;
            let (_, d1, d2) = zeta_d(s);
            let fd1 = (zeta(s + h) - zeta(s - h)) / (2.0 * h);
            let fd2 = (zeta_d(s + h).1 - zeta_d(s - h).1) / (2.0 * h);
            assert!(rel(d1, fd1) < 1e-7, "s={s}: {d1} vs {fd1}");
            assert!(rel(d2, fd2) < 1e-7, "s={s}: {d2} vs {fd2}");
        }
    }
    #[test]
    fn direct_sum_agrees() {
        // direct summation + integral tail for s = 5 (converges fast)
        let s = 5.0;
        let mut acc = 0.0;
        for k in (1..=20000u32).rev() {
            acc += (k as f64).powf(-s);
        }
        acc += 20000f64.powf(1.0 - s) / (s - 1.0) - 0.5 * 20000f64.powf(-s);
        assert!(rel(zeta(s), acc) < 1e-14);
    }
    #[test]
    fn mle_solves_score() {
        for a in [1.2, 1.7, 2.5, 4.0] {
            let (z0, z1, _) = zeta_d(a);
            let m = -z1 / z0;
            let r = zeta_mle(m, 10.0);
            assert!((r.alpha - a).abs() < 1e-12, "{a}: {r:?}");
        }
        assert!(zeta_mle(1e-9, 10.0).at_bound);
        // a warm start gives the same root
        for (a, a0) in [(1.7, 1.69), (2.5, 2.6), (4.0, 4.3)] {
            let (z0, z1, _) = zeta_d(a);
            let r = zeta_mle_from(-z1 / z0, 10.0, Some(a0));
            assert!((r.alpha - a).abs() < 1e-12, "{a} from {a0}: {r:?}");
            assert!(r.iterations <= zeta_mle(-z1 / z0, 10.0).iterations, "{a} from {a0}");
        }
    }
    #[test]
    fn log1mexp() {
        // e^{ln(1−e^{−λ})} + e^{−λ} = 1
        for l in [1e-3, 0.5, 0.7, 2.0, 5.0] {
            assert!((log1mexp_neg(l).exp() + (-l).exp() - 1.0).abs() < 1e-15, "{l}");
        }
        // small λ: ln(1−e^{−λ}) = ln λ − λ/2 + λ²/24 + …
        let l = 1e-10;
        assert!((log1mexp_neg(l) - (l.ln() - l / 2.0)).abs() < 1e-15);
        // large λ: ln(1−e^{−λ}) ≈ −e^{−λ}
        assert!((log1mexp_neg(40.0) / -(-40f64).exp() - 1.0).abs() < 1e-15);
    }
}
