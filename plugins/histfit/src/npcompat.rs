//! The numpy, pandas and scipy routines flow-models' `generate` calls, with their order of
//! floating-point operations (docs/histfit.md, "rng = numpy"):
//! - [`pairwise_sum`]: `ndarray.sum()` of float64 (numpy's pairwise summation: 8 running
//!   sums in blocks of ≤ 128, halves above that);
//! - [`Choice`]: `RandomState.choice(n, p=…)` — cdf = cumsum(p), cdf /= cdf[−1], then
//!   `searchsorted(cdf, random_sample(), side='right')`;
//! - [`ndtr`]: `scipy.special.ndtr` (cephes: ½ + ½erf(x/√2) for |x/√2| < 1, else ½erfc);
//! - [`cdf`], [`pdf`]: `scipy.stats.<family>.cdf/pdf` for uniform and lognorm, standardised
//!   as scipy does ((x − loc)/scale, support masks, pdf/scale).
//!
//! exp and log are glibc's (Rust's f64::exp/ln on Linux). numpy's own `np.exp`/`np.log`
//! run Intel SVML on AVX-512 CPUs and differ from glibc in the last ulp for a few percent
//! of arguments; the integers generate writes change only when a value falls within that
//! ulp of a rounding boundary (tested on 10⁵ flows per seed against flow-models).
// The cephes coefficients are written digit for digit as scipy's C source has them, so that
// they can be checked against it; the extra digits round to the same f64.
#![allow(clippy::excessive_precision)]
use crate::mt19937::RandomState;

/// numpy's `pairwise_sum_DOUBLE`: sequential below 8 values, 8 interleaved partial sums up
/// to 128, recursive halves (split at a multiple of 8) above.
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut r = 0.0;
        for &v in a {
            r += v;
        }
        r
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `weights / weights.sum()` as flow-models (`lib/mix.py`) and pandas' `sample` normalise.
pub fn normalise(w: &[f64]) -> Vec<f64> {
    let s = pairwise_sum(w);
    w.iter().map(|v| v / s).collect()
}

/// `RandomState.choice(len(p), p=p)` with replacement.
pub struct Choice {
    cdf: Vec<f64>,
}

impl Choice {
    /// The cdf numpy builds: sequential cumsum, then divided by its last element.
    pub fn new(p: &[f64]) -> Choice {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = p
            .iter()
            .map(|v| {
                acc += v;
                acc
            })
            .collect();
        let last = *cdf.last().unwrap_or(&1.0);
        for c in &mut cdf {
            *c /= last;
        }
        Choice { cdf }
    }

    /// The index for one uniform draw u: the number of cdf entries ≤ u.
    #[inline]
    pub fn index(&self, u: f64) -> usize {
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1)
    }

    /// One draw from `rs`.
    #[inline]
    pub fn draw(&self, rs: &mut RandomState) -> usize {
        self.index(rs.random_sample())
    }
}

const NDTR_P: [f64; 9] = [
    2.46196981473530512524E-10,
    5.64189564831068821977E-1,
    7.46321056442269912687E0,
    4.86371970985681366614E1,
    1.96520832956077098242E2,
    5.26445194995477358631E2,
    9.34528527171957607540E2,
    1.02755188689515710272E3,
    5.57535335369399327526E2,
];
const NDTR_Q: [f64; 8] = [
    1.32281951154744992508E1,
    8.67072140885989742329E1,
    3.54937778887819891062E2,
    9.75708501743205489753E2,
    1.82390916687909736289E3,
    2.24633760818710981792E3,
    1.65666309194161350182E3,
    5.57535340817727675546E2,
];
const NDTR_R: [f64; 6] = [5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0, 6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0];
const NDTR_S: [f64; 6] = [2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1, 1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0];
const NDTR_T: [f64; 5] = [9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3, 7.00332514112805075473E3, 5.55923013010394962768E4];
const NDTR_U: [f64; 5] = [3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3, 2.26290000613890934246E4, 4.92673942608635921086E4];
const MAXLOG: f64 = 7.09782712893383996843E2;

/// cephes `polevl`: c[0]·xⁿ + … + c[n] by Horner.
fn polevl(x: f64, c: &[f64]) -> f64 {
    c[1..].iter().fold(c[0], |a, &k| a * x + k)
}

/// cephes `p1evl`: the same with an implicit leading coefficient 1.
fn p1evl(x: f64, c: &[f64]) -> f64 {
    c[1..].iter().fold(x + c[0], |a, &k| a * x + k)
}

fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return -erf(-x);
    }
    if x.abs() > 1.0 {
        return 1.0 - erfc(x);
    }
    let z = x * x;
    x * polevl(z, &NDTR_T) / p1evl(z, &NDTR_U)
}

fn erfc(a: f64) -> f64 {
    if a.is_nan() {
        return f64::NAN;
    }
    let x = a.abs();
    if x < 1.0 {
        return 1.0 - erf(a);
    }
    let z = -a * a;
    let under = if a < 0.0 { 2.0 } else { 0.0 };
    if z < -MAXLOG {
        return under;
    }
    let z = z.exp();
    let (p, q) = if x < 8.0 { (polevl(x, &NDTR_P), p1evl(x, &NDTR_Q)) } else { (polevl(x, &NDTR_R), p1evl(x, &NDTR_S)) };
    let mut y = (z * p) / q;
    if a < 0.0 {
        y = 2.0 - y;
    }
    if y != 0.0 { y } else { under }
}

/// `scipy.special.ndtr`, the standard normal cdf, as cephes computes it.
pub fn ndtr(a: f64) -> f64 {
    if a.is_nan() {
        return f64::NAN;
    }
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < 1.0 {
        0.5 + 0.5 * erf(x)
    } else {
        let y = 0.5 * erfc(z);
        if x > 0.0 { 1.0 - y } else { y }
    }
}

/// A family generate can reproduce exactly, with its scipy arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    /// `uniform(loc, scale)`.
    Uniform,
    /// `lognorm(s, loc, scale)`.
    Lognorm(f64),
}

/// `scipy.stats.<family>.cdf(x, …, loc, scale)`.
pub fn cdf(f: Family, loc: f64, scale: f64, x: f64) -> f64 {
    let z = (x - loc) / scale;
    if z.is_nan() {
        return f64::NAN;
    }
    match f {
        Family::Uniform => {
            if z >= 1.0 {
                1.0
            } else if z > 0.0 {
                z
            } else {
                0.0
            }
        }
        Family::Lognorm(s) => {
            if z == f64::INFINITY {
                1.0
            } else if z > 0.0 {
                ndtr(z.ln() / s)
            } else {
                0.0
            }
        }
    }
}

/// √(2π) as `np.sqrt(2 * np.pi)` evaluates it.
const SQRT_2PI: f64 = 2.5066282746310002;

/// `scipy.stats.<family>.pdf(x, …, loc, scale)`; lognorm through its logpdf
/// −ln(z)²/(2s²) − ln(s·z·√(2π)), as scipy's `_lognorm_logpdf`.
pub fn pdf(f: Family, loc: f64, scale: f64, x: f64) -> f64 {
    let z = (x - loc) / scale;
    if z.is_nan() {
        return f64::NAN;
    }
    let d = match f {
        Family::Uniform => {
            if (0.0..=1.0).contains(&z) {
                1.0
            } else {
                0.0
            }
        }
        Family::Lognorm(s) => {
            if z > 0.0 {
                let l = z.ln();
                (-(l * l) / (2.0 * (s * s)) - (s * z * SQRT_2PI).ln()).exp()
            } else {
                0.0
            }
        }
    };
    d / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_groups_like_numpy() {
        // 10 values: ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) + a8 + a9, not a left fold
        let a = [1e16, 1.0, -1e16, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        assert_eq!(pairwise_sum(&a), ((1e16 + 1.0) + (-1e16 + 1.0)) + 2.0);
        assert_eq!(pairwise_sum(&[0.1, 0.2, 0.3]), 0.1 + 0.2 + 0.3);
    }

    #[test]
    fn choice_is_searchsorted_right() {
        let c = Choice::new(&[0.25, 0.0, 0.75]);
        assert_eq!(c.index(0.0), 0);
        assert_eq!(c.index(0.25), 2); // side = right skips the empty bin
        assert_eq!(c.index(0.999), 2);
    }

    #[test]
    fn ndtr_known_values() {
        assert_eq!(ndtr(0.0), 0.5);
        assert!((ndtr(1.0) - 0.8413447460685429).abs() < 1e-16);
        assert!((ndtr(-10.0) - 7.619853024160527e-24).abs() < 1e-36);
    }
}
