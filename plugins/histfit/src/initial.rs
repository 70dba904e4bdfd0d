//! Starting mixtures: flow-models' `initial_mix` (docs/histfit.md, "Starting mixture") and seeded multi-start
//! perturbations of it.
use crate::families::{Dist, Family};
use crate::mixture::{Component, Mixture, Num};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the scale grid of the starting mixture begins (docs/histfit.md, "Starting mixture"; m = min x, U = uniforms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InitialGrid {
    /// m + max(U, 1) − 1: flow-models' `initial_mix` in every PyPI release (1.0 to 2.2).
    #[default]
    #[serde(rename = "flow-models")]
    FlowModels,
    /// m + U − 1: the older flow-models code that fitted the stored agh_2015 `all/size`
    /// mixtures (it reproduces all three to ≤ 6e-14; 1.0 already has max(U, 1)). It differs
    /// only when U = 0, where the grid starts one below the smallest x; needs m + U − 1 > 0.
    #[serde(rename = "flow-models-legacy")]
    FlowModelsLegacy,
}

/// numpy's `geomspace(start, stop, num)`: `10 ** linspace(log10 start, log10 stop, num)`
/// with `linspace` as `j·step + start` and both end points set exactly.
pub fn geomspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return vec![];
    }
    let (ls, le) = (start.log10(), stop.log10());
    let mut out: Vec<f64> = if num == 1 {
        vec![10f64.powf(ls)]
    } else {
        let step = (le - ls) / (num - 1) as f64;
        (0..num).map(|j| 10f64.powf(j as f64 * step + ls)).collect()
    };
    out[0] = start;
    if num > 1 {
        out[num - 1] = stop;
    }
    out
}

/// Component counts per family, in flow-models' order (uniform, genpareto, lognorm), then the
/// families flow-models reaches only through `--initial` (norm, gamma, weibull_min).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts(pub Vec<(Family, usize)>);

impl Counts {
    /// Count of one family.
    pub fn get(&self, f: Family) -> usize {
        self.0.iter().filter(|(g, _)| *g == f).map(|(_, n)| n).sum()
    }
    /// Total components.
    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// flow-models' `initial_mix` for U uniforms, P Paretos and L lognormals, extended to the
/// other families: with m = min x, M = max x and `g = geomspace(m + max(U,1) − 1, M, P + L + R)`
/// (R = the other components; `m + U − 1` for [`InitialGrid::FlowModelsLegacy`]):
/// - uniform n: `[0.1, uniform, [0, m + n]]`;
/// - genpareto 0: `[0.1, genpareto, [1.0, m + U − 1, 10.0]]`, then `[1.0, g[j], 10.0]`;
/// - lognorm: `[0.1, lognorm, [2.0, 0, g[j]]]`;
/// - (ours) norm `[g[j], g[j]/2]`, gamma `[2.0, 0, g[j]/2]`, weibull_min `[1.0, 0, g[j]]`.
///
/// The weights 0.1 are not normalised (the first E-step does it), as in flow-models.
pub fn initial_mix(counts: &Counts, min_x: f64, max_x: f64, grid: InitialGrid) -> Result<Mixture, String> {
    let u = counts.get(Family::Uniform);
    let p = counts.get(Family::Genpareto);
    let l = counts.get(Family::Lognorm);
    let rest: usize = [Family::Norm, Family::Gamma, Family::WeibullMin].iter().map(|f| counts.get(*f)).sum();
    if counts.total() == 0 {
        return Err("the mixture has no components: give at least one family count".into());
    }
    let g0 = match grid {
        InitialGrid::FlowModels => min_x + u.max(1) as f64 - 1.0,
        InitialGrid::FlowModelsLegacy => min_x + u as f64 - 1.0,
    };
    if (g0.is_nan() || g0 <= 0.0) && p + l + rest > 0 {
        return Err(format!(
            "the scale grid would start at min x + U - 1 = {g0}, but it must be > 0 (numpy's geomspace cannot include zero): use initial_grid = \"flow-models\" (the default) or at least one uniform"
        ));
    }
    // the first Pareto's location β = m + U − 1: its M-step takes ln β (α = 1/(mean ln x − ln β)),
    // so β ≤ 0 degenerates at the first iteration (flow-models 2.2 then returns NaN everywhere)
    let beta0 = min_x + u as f64 - 1.0;
    if p > 0 && !(beta0 > 0.0) {
        return Err(format!(
            "the first Pareto's location would be min x + U - 1 = {beta0}, but it must be > 0 (its M-step takes ln of it): add at least one uniform (U >= 1), or start from an initial mixture"
        ));
    }
    let g = geomspace(g0, max_x, p + l + rest);
    let mut ng = 0;
    let mut comps = vec![];
    let int = |v: f64| if v.fract() == 0.0 && v.abs() < 9e15 { Num::Int(v as i64) } else { Num::Float(v) };
    for n in 0..u {
        let hi = min_x + n as f64;
        comps.push(Component { weight: 0.1, dist: Dist::new("uniform", &[0.0, hi])?, args: vec![Num::Int(0), int(hi)] });
    }
    for n in 0..p {
        let (beta, beta_num) = if n == 0 {
            (beta0, int(beta0))
        } else {
            ng += 1;
            (g[ng - 1], Num::Float(g[ng - 1]))
        };
        comps.push(Component { weight: 0.1, dist: Dist::new("genpareto", &[1.0, beta, 10.0])?, args: vec![Num::Float(1.0), beta_num, Num::Float(10.0)] });
    }
    // the first Pareto takes no grid point; lognormals continue where the Paretos stopped
    let mut j = ng;
    for _ in 0..l {
        let s = g[j];
        j += 1;
        comps.push(Component { weight: 0.1, dist: Dist::new("lognorm", &[2.0, 0.0, s])?, args: vec![Num::Float(2.0), Num::Int(0), Num::Float(s)] });
    }
    for (fam, n) in &counts.0 {
        for _ in 0..*n {
            let (name, args) = match fam {
                Family::Norm => ("norm", vec![g[j], g[j] / 2.0]),
                Family::Gamma => ("gamma", vec![2.0, 0.0, g[j] / 2.0]),
                Family::WeibullMin => ("weibull_min", vec![1.0, 0.0, g[j]]),
                _ => continue,
            };
            j += 1;
            let dist = Dist::new(name, &args)?;
            comps.push(Component::new(0.1, dist));
        }
    }
    Ok(Mixture { sum: None, comps })
}

/// A seeded perturbation of a start (multi-start): lognormal medians ×exp(N(0, 0.5²)) and
/// σ ×exp(N(0, 0.25²)); other scale-like parameters ×exp(N(0, 0.5²)); uniform supports and
/// Pareto locations stay fixed; weights stay as they are.
pub fn perturb<R: Rng>(m: &Mixture, rng: &mut R) -> Mixture {
    let mut out = m.clone();
    for c in &mut out.comps {
        let mut n = || -> f64 { StandardNormal.sample(rng) };
        match c.dist.family {
            Family::Uniform => {}
            Family::Lognorm => {
                c.dist.scale *= (0.5 * n()).exp();
                c.dist.shape *= (0.25 * n()).exp();
            }
            Family::Genpareto => {
                let f = (0.25 * n()).exp();
                c.dist.shape *= f;
                c.dist.scale *= f;
            }
            Family::Norm => {
                c.dist.loc *= (0.5 * n()).exp();
                c.dist.scale *= (0.25 * n()).exp();
            }
            Family::Gamma | Family::WeibullMin => {
                c.dist.scale *= (0.5 * n()).exp();
                c.dist.shape *= (0.25 * n()).exp();
            }
        }
        c.sync_args();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geomspace_matches_numpy() {
        // numpy 2.4: np.geomspace(6, 185860096, 4)
        let g = geomspace(6.0, 185860096.0, 4);
        assert_eq!(g[0], 6.0);
        assert_eq!(g[3], 185860096.0);
        assert!((g[1] - 1884.4).abs() < 0.1 && (g[2] - 5.92e5).abs() < 1e3, "{g:?}");
        assert_eq!(geomspace(1.0, 50.0, 1), vec![1.0]);
    }

    #[test]
    fn tutorial_initial_mixture() {
        let c = Counts(vec![(Family::Uniform, 6), (Family::Lognorm, 4)]);
        let m = initial_mix(&c, 1.0, 185860096.0, InitialGrid::FlowModels).unwrap();
        // with U ≥ 1 the legacy grid is the same
        assert_eq!(initial_mix(&c, 1.0, 185860096.0, InitialGrid::FlowModelsLegacy).unwrap(), m);
        assert_eq!(m.comps.len(), 10);
        assert_eq!(m.comps[5].to_py_json(), "[0.1, \"uniform\", [0, 6]]");
        assert_eq!(m.comps[6].to_py_json(), "[0.1, \"lognorm\", [2.0, 0, 6.0]]");
        let p = initial_mix(&Counts(vec![(Family::Uniform, 2), (Family::Genpareto, 2), (Family::Lognorm, 1)]), 1.0, 1000.0, InitialGrid::FlowModels).unwrap();
        assert_eq!(p.comps[2].to_py_json(), "[0.1, \"genpareto\", [1.0, 2, 10.0]]");
        // geomspace(2, 1000, 3) = [2, 44.72…, 1000]: the second Pareto takes g[0], the lognormal g[1]
        assert_eq!(p.comps[3].dist.loc, 2.0);
        assert!((p.comps[4].dist.scale - 44.721359549995796).abs() < 1e-9);
    }

    #[test]
    fn legacy_grid_starts_one_lower_without_uniforms() {
        let c = Counts(vec![(Family::Lognorm, 5)]);
        let new = initial_mix(&c, 64.0, 261523243007.0, InitialGrid::FlowModels).unwrap();
        let old = initial_mix(&c, 64.0, 261523243007.0, InitialGrid::FlowModelsLegacy).unwrap();
        assert_eq!((new.comps[0].dist.scale, old.comps[0].dist.scale), (64.0, 63.0));
        assert_eq!(old.comps[4].dist.scale, 261523243007.0);
        let e = initial_mix(&c, 1.0, 1000.0, InitialGrid::FlowModelsLegacy).unwrap_err();
        assert!(e.contains("must be > 0") && e.contains("initial_grid"), "{e}");
    }

    #[test]
    fn a_pareto_without_uniforms_on_data_from_one_is_refused_up_front() {
        let c = Counts(vec![(Family::Genpareto, 1), (Family::Lognorm, 1)]);
        let e = initial_mix(&c, 1.0, 1000.0, InitialGrid::FlowModels).unwrap_err();
        assert!(e.contains("first Pareto") && e.contains("U >= 1"), "{e}");
        // one uniform, or data that starts above 1, gives it a positive location
        let c1 = Counts(vec![(Family::Uniform, 1), (Family::Genpareto, 1), (Family::Lognorm, 1)]);
        assert_eq!(initial_mix(&c1, 1.0, 1000.0, InitialGrid::FlowModels).unwrap().comps[1].dist.loc, 1.0);
        assert_eq!(initial_mix(&c, 64.0, 1000.0, InitialGrid::FlowModels).unwrap().comps[0].dist.loc, 63.0);
    }
}
