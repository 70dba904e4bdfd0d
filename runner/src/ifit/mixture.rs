//! A flow-models mixture file evaluated on a plot grid, as histfit's plots and the interactive
//! fit page (page.js `mixtureCurves`) draw it: densities in scipy's parametrisation
//! (z = (x − loc)/scale, shape first), the model PDF at an integer x < 1024 is the probability
//! of the value, F(x) − F(x − 1) (F(x) − F(0) at the smallest value), the density above
//! (docs/histfit.md, "Plot modes"). Used by serve's compare page to overlay several fitted
//! mixtures over one histogram (docs/serve.md, "Compare").
use statrs::function::erf::erfc;
use statrs::function::gamma::{gamma_lr, gamma_ur, ln_gamma};

/// Values below this are discrete in histfit's plots (the PDF is a probability there).
pub const DISCRETE_BELOW: u64 = 1024;

/// The families histfit fits (scipy names in the mixture file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `uniform(loc, scale)`.
    Uniform,
    /// `genpareto(c, loc, scale)`.
    GenPareto,
    /// `lognorm(s, loc, scale)`.
    LogNorm,
    /// `norm(loc, scale)`.
    Norm,
    /// `gamma(a, loc, scale)`.
    Gamma,
    /// `weibull_min(c, loc, scale)`.
    Weibull,
}

/// A family with its scipy arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    kind: Kind,
    /// The shape argument (0 for the two-argument families).
    shape: f64,
    loc: f64,
    scale: f64,
}

fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}
fn norm_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

impl Family {
    /// The family `name` with scipy arguments `args` (`shape…, loc, scale`); the error says
    /// what is wrong.
    pub fn new(name: &str, args: &[f64]) -> Result<Family, String> {
        let (kind, want) = match name {
            "uniform" => (Kind::Uniform, 2),
            "norm" => (Kind::Norm, 2),
            "genpareto" => (Kind::GenPareto, 3),
            "lognorm" => (Kind::LogNorm, 3),
            "gamma" => (Kind::Gamma, 3),
            "weibull_min" => (Kind::Weibull, 3),
            other => return Err(format!("unknown family `{other}`")),
        };
        if args.len() != want {
            return Err(format!("`{name}` takes {want} arguments, the file gives {}", args.len()));
        }
        if args.iter().any(|a| !a.is_finite()) || !(args[want - 1] > 0.0) {
            return Err(format!("`{name}` arguments {args:?}: every argument must be finite and the scale positive"));
        }
        Ok(Family { kind, shape: if want == 3 { args[0] } else { 0.0 }, loc: args[want - 2], scale: args[want - 1] })
    }

    /// The family.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Density at x.
    pub fn pdf(&self, x: f64) -> f64 {
        let (t, c) = ((x - self.loc) / self.scale, self.shape);
        let d = match self.kind {
            Kind::Uniform => f64::from(u8::from((0.0..=1.0).contains(&t))),
            Kind::GenPareto => {
                if t < 0.0 || 1.0 + c * t <= 0.0 {
                    // below loc, or above the upper end −scale/c of a negative shape
                    0.0
                } else if c == 0.0 {
                    (-t).exp()
                } else {
                    (1.0 + c * t).powf(-1.0 / c - 1.0)
                }
            }
            Kind::LogNorm => {
                if t > 0.0 {
                    let l = t.ln() / c;
                    (-0.5 * l * l).exp() / (c * t * (2.0 * std::f64::consts::PI).sqrt())
                } else {
                    0.0
                }
            }
            Kind::Norm => (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt(),
            Kind::Gamma => {
                if t > 0.0 {
                    ((c - 1.0) * t.ln() - t - ln_gamma(c)).exp()
                } else {
                    0.0
                }
            }
            Kind::Weibull => {
                if t > 0.0 {
                    c * t.powf(c - 1.0) * (-t.powf(c)).exp()
                } else {
                    0.0
                }
            }
        };
        d / self.scale
    }

    /// (CDF, survival function) at x, each computed directly (no 1 − F cancellation in the tail).
    pub fn cdf_sf(&self, x: f64) -> (f64, f64) {
        let (t, c) = ((x - self.loc) / self.scale, self.shape);
        match self.kind {
            Kind::Uniform => {
                let f = t.clamp(0.0, 1.0);
                (f, 1.0 - f)
            }
            Kind::GenPareto => {
                let t = t.max(0.0);
                let sf = if c == 0.0 { (-t).exp() } else { (1.0 + c * t).max(0.0).powf(-1.0 / c) };
                (1.0 - sf, sf)
            }
            Kind::LogNorm => {
                if t > 0.0 {
                    (norm_cdf(t.ln() / c), norm_sf(t.ln() / c))
                } else {
                    (0.0, 1.0)
                }
            }
            Kind::Norm => (norm_cdf(t), norm_sf(t)),
            Kind::Gamma => {
                if t > 0.0 {
                    (gamma_lr(c, t), gamma_ur(c, t))
                } else {
                    (0.0, 1.0)
                }
            }
            Kind::Weibull => {
                if t > 0.0 {
                    let p = t.powf(c);
                    (-(-p).exp_m1(), (-p).exp())
                } else {
                    (0.0, 1.0)
                }
            }
        }
    }

    /// P(lo < X ≤ hi), from the CDF when F(lo) < ½, else from the survival function.
    pub fn prob(&self, lo: f64, hi: f64) -> f64 {
        let (a, sa) = self.cdf_sf(lo);
        let (b, sb) = self.cdf_sf(hi);
        if a < 0.5 { b - a } else { sa - sb }
    }
}

/// A mixture: normalised weights and families.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    /// (weight, family name, family), weights summing to 1.
    pub components: Vec<(f64, String, Family)>,
}

impl Mixture {
    /// Reads flow-models' mixture JSON: `{"sum": n, "mix": [[w, name, [args…]], …]}` or the
    /// bare list.
    pub fn from_json(v: &serde_json::Value) -> Result<Mixture, String> {
        let list = v.as_array().or_else(|| v["mix"].as_array()).ok_or("not a mixture: neither a list nor an object with `mix`")?;
        if list.is_empty() {
            return Err("the mixture has no components".into());
        }
        let mut comps = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            let bad = |m: &str| format!("component {i}: {m}");
            let w = c[0].as_f64().filter(|w| w.is_finite() && *w >= 0.0).ok_or_else(|| bad("weight is not a non-negative number"))?;
            let name = c[1].as_str().ok_or_else(|| bad("family name is not a string"))?;
            let args: Vec<f64> =
                c[2].as_array().ok_or_else(|| bad("arguments are not a list"))?.iter().map(|a| a.as_f64().ok_or_else(|| bad("an argument is not a number"))).collect::<Result<_, _>>()?;
            comps.push((w, name.to_string(), Family::new(name, &args).map_err(|e| bad(&e))?));
        }
        let total: f64 = comps.iter().map(|c| c.0).sum();
        if !(total > 0.0) {
            return Err("the weights sum to 0".into());
        }
        for c in &mut comps {
            c.0 /= total;
        }
        Ok(Mixture { components: comps })
    }

    /// The PDF histfit's plots draw at grid point x (`xmin`: the histogram's smallest value).
    pub fn plot_pdf(&self, x: u64, xmin: u64) -> f64 {
        self.components.iter().map(|(w, _, f)| w * if x < DISCRETE_BELOW { f.prob(if x == xmin { 0.0 } else { x as f64 - 1.0 }, x as f64) } else { f.pdf(x as f64) }).sum()
    }

    /// The CDF at x.
    pub fn cdf(&self, x: u64) -> f64 {
        self.components.iter().map(|(w, _, f)| w * f.cdf_sf(x as f64).0).sum()
    }

    /// Short description: `U6 L4` style counts by family, in file order of first appearance.
    pub fn label(&self) -> String {
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (_, name, _) in &self.components {
            match seen.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e.1 += 1,
                None => seen.push((name.clone(), 1)),
            }
        }
        seen.iter().map(|(n, k)| format!("{}{k}", family_letter(n))).collect::<Vec<_>>().join(" ")
    }
}

/// flow-models' one-letter family codes (`fit -U -P -L …`).
pub fn family_letter(name: &str) -> &str {
    match name {
        "uniform" => "U",
        "genpareto" => "P",
        "lognorm" => "L",
        "norm" => "N",
        "gamma" => "G",
        "weibull_min" => "W",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, Gamma, LogNormal, Normal, Weibull};

    /// Deterministic pseudo-random values in [0, 1) (a 64-bit LCG: no dependency for a test).
    fn draws(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn cdfs_agree_with_statrs_distributions_and_integrate_the_pdf() {
        let u = draws(11, 400);
        for k in 0..100 {
            let (p, q, x) = (0.2 + 3.0 * u[4 * k], 0.5 + 50.0 * u[4 * k + 1], 0.01 + 200.0 * u[4 * k + 2]);
            let checks: [(Family, f64); 4] = [
                (Family::new("lognorm", &[p, 0.0, q]).unwrap(), LogNormal::new(q.ln(), p).unwrap().cdf(x)),
                (Family::new("norm", &[q, p]).unwrap(), Normal::new(q, p).unwrap().cdf(x)),
                (Family::new("gamma", &[p, 0.0, q]).unwrap(), Gamma::new(p, 1.0 / q).unwrap().cdf(x)),
                (Family::new("weibull_min", &[p, 0.0, q]).unwrap(), Weibull::new(p, q).unwrap().cdf(x)),
            ];
            for (f, want) in checks {
                let (c, s) = f.cdf_sf(x);
                assert!((c - want).abs() < 1e-12, "{f:?} at {x}: {c} vs {want}");
                assert!((c + s - 1.0).abs() < 1e-12);
                // P(x − h < X ≤ x + h) ≈ 2h·f(x) (central difference)
                let h = 1e-5 * x;
                let num = f.prob(x - h, x + h) / (2.0 * h);
                assert!((num - f.pdf(x)).abs() <= 1e-4 * f.pdf(x) + 1e-12, "{f:?} pdf at {x}: {num} vs {}", f.pdf(x));
            }
            let c = u[4 * k + 3] - 0.3;
            let gp = Family::new("genpareto", &[c, 0.0, q]).unwrap();
            let h = 1e-5 * x;
            if 1.0 + c * (x + h) / q <= 0.0 {
                // beyond the upper end of a negative shape: no density, all mass below
                assert_eq!((gp.pdf(x + h), gp.cdf_sf(x + h)), (0.0, (1.0, 0.0)));
                continue;
            }
            let num = gp.prob(x - h, x + h) / (2.0 * h);
            assert!((num - gp.pdf(x)).abs() <= 1e-4 * gp.pdf(x) + 1e-12, "{gp:?}");
        }
    }

    #[test]
    fn discrete_probabilities_of_a_mixture_sum_to_its_cdf() {
        let m = Mixture::from_json(&serde_json::json!({"sum": 10, "mix": [[3, "uniform", [0, 6]], [1, "lognorm", [1.1, 0, 20.0]]]})).unwrap();
        assert_eq!(m.label(), "U1 L1");
        assert!((m.components[0].0 - 0.75).abs() < 1e-15);
        let s: f64 = (1..DISCRETE_BELOW).map(|x| m.plot_pdf(x, 1)).sum();
        assert!((s - m.cdf(DISCRETE_BELOW - 1)).abs() < 1e-12, "{s}");
        assert!(Mixture::from_json(&serde_json::json!([[1, "cauchy", [0, 1]]])).unwrap_err().contains("unknown family"));
        assert!(Mixture::from_json(&serde_json::json!([[1, "norm", [0, -1]]])).unwrap_err().contains("scale positive"));
    }
}
