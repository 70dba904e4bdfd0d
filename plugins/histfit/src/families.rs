//! Distribution families in scipy.stats' namespace and parameter order (docs/histfit.md, "Mixture JSON").
//!
//! Every family is scipy's standard form shifted and scaled: with `z = (x − loc)/scale`,
//! `pdf(x) = f(z)/scale`, `cdf(x) = F(z)`, `sf(x) = S(z)`. Arguments are given as in the
//! mixture JSON (shapes…, loc, scale); missing trailing `loc`/`scale` default to 0 and 1.
//!
//! | name | args | standard form |
//! | --- | --- | --- |
//! | `uniform` | loc, scale | f = 1 on [0, 1] (both ends included, as scipy) |
//! | `lognorm` | s, loc, scale | f = exp(−ln²z/2s²)/(s z √2π); F = ½erfc(−ln z/(s√2)); S = ½erfc(ln z/(s√2)) |
//! | `genpareto` | c, loc, scale | f = (1+cz)^(−1/c−1); S = exp(−log1p(cz)/c); F = −expm1(−log1p(cz)/c) |
//! | `norm` | loc, scale | f = φ(z); F = ½erfc(−z/√2); S = ½erfc(z/√2) |
//! | `gamma` | a, loc, scale | f = z^(a−1)e^(−z)/Γ(a); F = P(a, z); S = Q(a, z) |
//! | `weibull_min` | c, loc, scale | f = c z^(c−1) e^(−z^c); F = −expm1(−z^c); S = exp(−z^c) |
//!
//! Upper tails use `sf` directly (never `1 − cdf`), lower tails `cdf`, so both stay
//! accurate far from the bulk. Sampling uses inverse transforms or rand_distr.
use rand::Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur, ln_gamma};
use std::f64::consts::{PI, SQRT_2};

/// The known family names, in the order error messages list them.
pub const KNOWN: [&str; 6] = ["uniform", "lognorm", "genpareto", "norm", "gamma", "weibull_min"];

/// A family (the scipy.stats name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `uniform(loc, scale)`: U(loc, loc + scale).
    Uniform,
    /// `lognorm(s, loc, scale)`: σ = s, μ = ln scale.
    Lognorm,
    /// `genpareto(c, loc, scale)`; with c = 1/α, loc = scale·α = β it is the classic Pareto.
    Genpareto,
    /// `norm(loc, scale)`.
    Norm,
    /// `gamma(a, loc, scale)`.
    Gamma,
    /// `weibull_min(c, loc, scale)`.
    WeibullMin,
}

impl Family {
    /// Resolves a scipy name; an unknown name is an error listing the known ones.
    pub fn from_name(name: &str) -> Result<Family, String> {
        Ok(match name {
            "uniform" => Family::Uniform,
            "lognorm" => Family::Lognorm,
            "genpareto" => Family::Genpareto,
            "norm" => Family::Norm,
            "gamma" => Family::Gamma,
            "weibull_min" => Family::WeibullMin,
            other => return Err(format!("unknown distribution family `{other}`; known families: {}", KNOWN.join(", "))),
        })
    }
    /// The scipy name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Uniform => "uniform",
            Family::Lognorm => "lognorm",
            Family::Genpareto => "genpareto",
            Family::Norm => "norm",
            Family::Gamma => "gamma",
            Family::WeibullMin => "weibull_min",
        }
    }
    /// Number of shape parameters before loc and scale.
    pub fn n_shapes(self) -> usize {
        match self {
            Family::Uniform | Family::Norm => 0,
            _ => 1,
        }
    }
}

/// A frozen distribution: family plus its scipy arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Dist {
    /// Family.
    pub family: Family,
    /// Shape (0 for families without one).
    pub shape: f64,
    /// loc.
    pub loc: f64,
    /// scale (> 0).
    pub scale: f64,
}

/// Standard normal CDF Φ(z) = ½erfc(−z/√2) with fdlibm's erfc (the `libm` crate; < 1 ulp,
/// as glibc and scipy's cephes), accurate in both tails.
pub fn ndtr(z: f64) -> f64 {
    0.5 * libm::erfc(-z / SQRT_2)
}

/// Standard gamma and Weibull densities at z = 0 for shape c: ∞ (c < 1), 1 (c = 1), 0.
fn density_at_zero(c: f64) -> f64 {
    if c < 1.0 {
        f64::INFINITY
    } else if c == 1.0 {
        1.0
    } else {
        0.0
    }
}

impl Dist {
    /// Builds a distribution from the scipy name and argument list (shapes…, loc, scale);
    /// errors say which argument is wrong.
    pub fn new(name: &str, args: &[f64]) -> Result<Dist, String> {
        let family = Family::from_name(name)?;
        let ns = family.n_shapes();
        if args.len() < ns || args.len() > ns + 2 {
            let want = match ns {
                0 => "[loc, scale]",
                _ => match family {
                    Family::Lognorm => "[s, loc, scale]",
                    Family::Gamma => "[a, loc, scale]",
                    _ => "[c, loc, scale]",
                },
            };
            return Err(format!("`{name}` takes {want} ({}–{} numbers), got {}", ns, ns + 2, args.len()));
        }
        let shape = if ns == 1 { args[0] } else { 0.0 };
        let loc = args.get(ns).copied().unwrap_or(0.0);
        let scale = args.get(ns + 1).copied().unwrap_or(1.0);
        if args.iter().any(|a| !a.is_finite()) {
            return Err(format!("`{name}` arguments must be finite, got {args:?}"));
        }
        if scale <= 0.0 {
            return Err(format!("`{name}`: scale must be > 0, got {scale}"));
        }
        match family {
            Family::Lognorm | Family::Gamma | Family::WeibullMin if shape <= 0.0 => {
                return Err(format!("`{name}`: the shape parameter must be > 0, got {shape}"));
            }
            _ => {}
        }
        Ok(Dist { family, shape, loc, scale })
    }

    /// The scipy argument list (shapes…, loc, scale).
    pub fn args(&self) -> Vec<f64> {
        match self.family.n_shapes() {
            0 => vec![self.loc, self.scale],
            _ => vec![self.shape, self.loc, self.scale],
        }
    }

    /// Upper end of the support (∞ for unbounded families).
    pub fn upper(&self) -> f64 {
        match self.family {
            Family::Uniform => self.loc + self.scale,
            Family::Genpareto if self.shape < 0.0 => self.loc - self.scale / self.shape,
            _ => f64::INFINITY,
        }
    }

    /// Probability density at `x` (scipy's `pdf`).
    pub fn pdf(&self, x: f64) -> f64 {
        let z = (x - self.loc) / self.scale;
        let c = self.shape;
        let f = match self.family {
            Family::Uniform => {
                if (0.0..=1.0).contains(&z) {
                    1.0
                } else {
                    0.0
                }
            }
            Family::Lognorm => {
                if z <= 0.0 {
                    0.0
                } else {
                    let l = z.ln();
                    (-l * l / (2.0 * c * c)).exp() / (c * z * (2.0 * PI).sqrt())
                }
            }
            Family::Genpareto => {
                if z < 0.0 || (c < 0.0 && z > -1.0 / c) {
                    0.0
                } else if c == 0.0 {
                    (-z).exp()
                } else {
                    (-(c + 1.0) * (c * z).ln_1p() / c).exp()
                }
            }
            Family::Norm => (-z * z / 2.0).exp() / (2.0 * PI).sqrt(),
            Family::Gamma => {
                if z < 0.0 {
                    0.0
                } else if z == 0.0 {
                    density_at_zero(c)
                } else {
                    ((c - 1.0) * z.ln() - z - ln_gamma(c)).exp()
                }
            }
            Family::WeibullMin => {
                if z < 0.0 {
                    0.0
                } else if z == 0.0 {
                    density_at_zero(c)
                } else {
                    c * z.powf(c - 1.0) * (-z.powf(c)).exp()
                }
            }
        };
        f / self.scale
    }

    /// Cumulative distribution function at `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        let z = (x - self.loc) / self.scale;
        let c = self.shape;
        match self.family {
            Family::Uniform => z.clamp(0.0, 1.0),
            Family::Lognorm => {
                if z <= 0.0 {
                    0.0
                } else {
                    ndtr(z.ln() / c)
                }
            }
            Family::Genpareto => {
                if z <= 0.0 {
                    0.0
                } else if c < 0.0 && z >= -1.0 / c {
                    1.0
                } else if c == 0.0 {
                    -(-z).exp_m1()
                } else {
                    -(-(c * z).ln_1p() / c).exp_m1()
                }
            }
            Family::Norm => ndtr(z),
            Family::Gamma => {
                if z <= 0.0 {
                    0.0
                } else {
                    checked_gamma_lr(c, z).unwrap_or(if z.is_infinite() { 1.0 } else { f64::NAN })
                }
            }
            Family::WeibullMin => {
                if z <= 0.0 {
                    0.0
                } else {
                    -(-z.powf(c)).exp_m1()
                }
            }
        }
    }

    /// Survival function `1 − cdf`, computed directly for tail accuracy.
    pub fn sf(&self, x: f64) -> f64 {
        let z = (x - self.loc) / self.scale;
        let c = self.shape;
        match self.family {
            Family::Uniform => (1.0 - z).clamp(0.0, 1.0),
            Family::Lognorm => {
                if z <= 0.0 {
                    1.0
                } else {
                    ndtr(-z.ln() / c)
                }
            }
            Family::Genpareto => {
                if z <= 0.0 {
                    1.0
                } else if c < 0.0 && z >= -1.0 / c {
                    0.0
                } else if c == 0.0 {
                    (-z).exp()
                } else {
                    (-(c * z).ln_1p() / c).exp()
                }
            }
            Family::Norm => ndtr(-z),
            Family::Gamma => {
                if z <= 0.0 {
                    1.0
                } else {
                    checked_gamma_ur(c, z).unwrap_or(if z.is_infinite() { 0.0 } else { f64::NAN })
                }
            }
            Family::WeibullMin => {
                if z <= 0.0 {
                    1.0
                } else {
                    (-z.powf(c)).exp()
                }
            }
        }
    }

    /// P(a < X ≤ b), from the lower tail (cdf difference) or the upper tail (sf difference),
    /// whichever side of the median the interval lies on, so tiny probabilities keep their
    /// relative precision.
    pub fn prob(&self, a: f64, b: f64) -> f64 {
        let sa = self.sf(a);
        if sa < 0.5 { (sa - self.sf(b)).max(0.0) } else { (self.cdf(b) - self.cdf(a)).max(0.0) }
    }

    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let c = self.shape;
        let z = match self.family {
            Family::Uniform => rng.random::<f64>(),
            Family::Lognorm => {
                let n: f64 = StandardNormal.sample(rng);
                (c * n).exp()
            }
            Family::Genpareto => {
                // inverse sf: S(z) = u  ⇒  z = (u^(−c) − 1)/c, u ∈ (0, 1]
                let u = 1.0 - rng.random::<f64>();
                if c == 0.0 { -u.ln() } else { (-c * u.ln()).exp_m1() / c }
            }
            Family::Norm => StandardNormal.sample(rng),
            Family::Gamma => Gamma::new(c, 1.0).map(|g| g.sample(rng)).unwrap_or(f64::NAN),
            Family::WeibullMin => {
                let u = 1.0 - rng.random::<f64>();
                (-u.ln()).powf(1.0 / c)
            }
        };
        self.loc + self.scale * z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        if a == b { 0.0 } else { (a - b).abs() / b.abs().max(1e-300) }
    }

    /// Reference values from scipy 1.17 (`scipy.stats.<name>.{pdf,cdf,sf}(x, *args)`).
    #[test]
    fn matches_scipy_values() {
        /// (family, scipy args, x, pdf, cdf, sf)
        type Case<'a> = (&'a str, &'a [f64], f64, f64, f64, f64);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("lognorm", &[0.5207023493412831, 0.0, 7.805599279070412], 7.0, 0.10708264103152196, 0.41714586738306003, 0.58285413261694),
            ("lognorm", &[1.9838369452408506, 0.0, 1084.4707584768773], 1000000000.0, 7.861559153817886e-21, 0.9999999999977915, 2.2084087427863178e-12),
            ("lognorm", &[0.5, 0.0, 1.0], 0.001, 2.8537004754025542e-39, 1.0274605390204012e-43, 1.0),
            ("lognorm", &[0.5, 0.0, 1.0], 1000.0, 2.853700475402515e-45, 1.0, 1.0274605390204012e-43),
            ("genpareto", &[0.5, 10.0, 5.0], 30.0, 0.007407407407407407, 0.8888888888888888, 0.11111111111111115),
            ("genpareto", &[0.1, 1.0, 2.0], 10000.0, 1.002840382768275e-30, 1.0, 1.0047457794955497e-27),
            ("uniform", &[0.0, 2.0], 2.0, 0.5, 1.0, 0.0),
            ("norm", &[1.0, 2.0], -20.0, 2.287687795260403e-25, 4.319006317809202e-26, 1.0),
            ("gamma", &[2.5, 0.0, 3.0], 7.0, 0.0866670336783445, 0.5421017727545988, 0.4578982272454012),
            ("weibull_min", &[0.7, 1.0, 4.0], 50.0, 0.00025569312321736327, 0.9969017117078787, 0.003098288292121312),
            ("gamma", &[0.5, 0.0, 1.0], 60.0, 6.377941394164473e-28, 1.0, 6.326068263677272e-28),
            ("genpareto", &[-0.25, 0.0, 1.0], 3.0, 0.015625000000000007, 0.99609375, 0.003906250000000001),
        ];
        for &(name, args, x, pdf, cdf, sf) in cases {
            let d = Dist::new(name, args).unwrap();
            assert!(rel(d.pdf(x), pdf) < 1e-12, "{name} pdf({x}) = {} vs {pdf}", d.pdf(x));
            assert!(rel(d.cdf(x), cdf) < 1e-12, "{name} cdf({x}) = {} vs {cdf}", d.cdf(x));
            assert!(rel(d.sf(x), sf) < 1e-11, "{name} sf({x}) = {} vs {sf}", d.sf(x));
        }
    }

    #[test]
    fn unknown_family_lists_known_ones() {
        let e = Dist::new("pareto", &[1.0]).unwrap_err();
        assert!(e.contains("`pareto`") && e.contains("uniform, lognorm, genpareto, norm, gamma, weibull_min"), "{e}");
        assert!(Dist::new("lognorm", &[1.0, 0.0, -1.0]).unwrap_err().contains("scale"));
        assert!(Dist::new("lognorm", &[]).unwrap_err().contains("[s, loc, scale]"));
        assert_eq!(Dist::new("norm", &[]).unwrap().args(), vec![0.0, 1.0]);
    }

    #[test]
    fn sampling_follows_cdf() {
        use rand_core::SeedableRng;
        for (name, args) in [
            ("lognorm", vec![1.0, 0.0, 3.0]),
            ("genpareto", vec![0.5, 1.0, 2.0]),
            ("gamma", vec![2.0, 0.0, 1.0]),
            ("weibull_min", vec![1.5, 0.0, 1.0]),
            ("uniform", vec![0.0, 4.0]),
            ("norm", vec![0.0, 1.0]),
        ] {
            let d = Dist::new(name, &args).unwrap();
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
            let n = 20_000;
            let mut xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
            xs.sort_by(f64::total_cmp);
            let ks = xs.iter().enumerate().map(|(i, &x)| ((i + 1) as f64 / n as f64 - d.cdf(x)).abs().max((d.cdf(x) - i as f64 / n as f64).abs())).fold(0.0, f64::max);
            // P(KS > 1.63/sqrt(n)) ≈ 1 %
            assert!(ks < 1.63 / (n as f64).sqrt(), "{name}: KS {ks}");
        }
    }
}
