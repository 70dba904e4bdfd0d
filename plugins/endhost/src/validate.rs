//! The paper's validation designs (docs/endhost.md, "Validation designs"), run inside one cell from derived seeds:
//! Fig. 1 (accuracy of α̂ for EP fits on EP data) and Table 2 (sample sizes needed for model
//! selection). Every case takes its own named streams
//! `stream_rng("<cell seed>/<design>/<cell key>/<case>", "data" | "restart/<model>", i)`, so a
//! case's numbers do not depend on the thread count or on which other cases run; cases are
//! evaluated in parallel and collected in case order.
use crate::aest::{AestOptions, aest};
use crate::data::Hist;
use crate::fit::{Fit, FitOptions, Method, fit_model, fit_nested_models};
use crate::model::Model;
use crate::sample::sample_model;
use crate::select::{SelectionRule, ln_bf, paper_label, select};
use flowlab_abi::seed::stream_rng;
use flowlab_abi::{Host, PluginError};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a validation study returns.
#[derive(Debug, Clone)]
pub struct Study {
    /// Summary rows (one per α, or per scenario × n).
    pub rows: Vec<Value>,
    /// One record per case.
    pub cases: Vec<Value>,
    /// Function evaluations over every fit.
    pub evaluations: u64,
    /// Gradient evaluations / iterations over every fit.
    pub iterations: u64,
    /// Some inner solve stopped at its cap.
    pub capped: bool,
}

/// One Fig. 1 case: (α, case index, θ, distinct values, estimates per method).
type Fig1Rec = (f64, usize, [f64; 3], usize, Vec<Est>);

/// A Fig. 1 estimator: an EP fitting method (α̂ of the EP maximum-likelihood fit) or `aest`,
/// the scaling estimator of the tail index ([`crate::aest`]; α̂ = â + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fig1Method {
    /// EP fit by [`Method::Ipm`].
    Ipm,
    /// EP fit by [`Method::IpmNash`].
    IpmNash,
    /// EP fit by [`Method::IpmR`].
    IpmR,
    /// EP fit by [`Method::Em`].
    Em,
    /// EP fit by [`Method::Box`].
    Box,
    /// Crovella & Taqqu's scaling estimator on the raw sample (settings `aest`).
    Aest,
    /// The same on centred block sums (`aest` settings with `center = true`), the variant for
    /// tail indices in (1, 2) where the stable limit needs centring.
    AestCentered,
}

impl Fig1Method {
    /// The fitting method, None for `aest`.
    pub fn fitter(self) -> Option<Method> {
        match self {
            Fig1Method::Ipm => Some(Method::Ipm),
            Fig1Method::IpmNash => Some(Method::IpmNash),
            Fig1Method::IpmR => Some(Method::IpmR),
            Fig1Method::Em => Some(Method::Em),
            Fig1Method::Box => Some(Method::Box),
            Fig1Method::Aest | Fig1Method::AestCentered => None,
        }
    }
    /// Manifest name.
    pub fn as_str(self) -> &'static str {
        match self {
            Fig1Method::Aest => "aest",
            Fig1Method::AestCentered => "aest_centered",
            m => m.fitter().map(Method::as_str).unwrap_or("aest"),
        }
    }
}

/// One method's estimate on one Fig. 1 dataset (for `aest`: no likelihood, standard error or
/// starts: NaN / 0).
#[derive(Debug, Clone)]
struct Est {
    alpha: f64,
    se: f64,
    loglik: f64,
    theta: Vec<f64>,
    n_at_best: usize,
    evaluations: u64,
    iterations: u64,
    trapped_pi1: bool,
    maxit_hits: u64,
    /// `aest` only: scaling points used.
    scaling_points: Option<usize>,
}

impl Est {
    fn of_fit(f: &Fit) -> Est {
        Est {
            alpha: f.theta[2],
            se: f.se[2],
            loglik: f.loglik,
            theta: f.theta.clone(),
            n_at_best: f.n_at_best,
            evaluations: f.evaluations,
            iterations: f.iterations,
            trapped_pi1: f.trapped_pi1,
            maxit_hits: f.maxit_hits,
            scaling_points: None,
        }
    }
    fn of_aest(x: &[u64], o: &AestOptions) -> Est {
        let xf: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let a = aest(&xf, o);
        Est {
            alpha: a.tail_index + 1.0,
            se: f64::NAN,
            loglik: f64::NAN,
            theta: vec![a.tail_index],
            n_at_best: 0,
            evaluations: a.levels_examined as u64,
            iterations: a.pairs as u64,
            trapped_pi1: false,
            maxit_hits: 0,
            scaling_points: Some(a.scaling_points),
        }
    }
}

/// Quantile with linear interpolation (numpy's default, type 7) of finite values.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let h = (s.len() - 1) as f64 * q;
    let (i, f) = (h.floor() as usize, h - h.floor());
    if i + 1 < s.len() { s[i] + f * (s[i + 1] - s[i]) } else { s[i] }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return f64::NAN;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

fn unif<R: Rng>(rng: &mut R, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.random::<f64>()
}

/// Runs `f` over `items` in parallel, in chunks (cancellation and progress between chunks),
/// keeping item order.
fn par_cases<T: Sync, U: Send>(host: &Host, threads: usize, items: &[T], f: impl Fn(&T) -> U + Sync + Send) -> Result<Vec<U>, PluginError> {
    let mut out = Vec::with_capacity(items.len());
    let chunk = 16 * threads.max(1);
    for (ci, c) in items.chunks(chunk).enumerate() {
        host.check_cancel()?;
        let part: Vec<U> = flowlab_abi::plugin::with_threads(threads, || c.par_iter().map(&f).collect())?;
        out.extend(part);
        host.progress(((ci * chunk) + c.len()) as u64, items.len() as u64);
    }
    Ok(out)
}

fn check_range(key: &str, r: [f64; 2], lo: f64, hi: f64) -> Result<(), PluginError> {
    if r[0] <= r[1] && r[0] > lo && r[1] < hi { Ok(()) } else { Err(PluginError::config(key, format!("`{key}` = [{}, {}] must satisfy {lo} < lo ≤ hi < {hi}", r[0], r[1]))) }
}

fn fit_with(model: Model, h: &Hist, o: &FitOptions, key: &str) -> Fit {
    let name = format!("restart/{}", model.as_str());
    fit_model(model, h, o, |i| stream_rng(key, &name, i as u64))
}

// ------------------------------------------------------------------------------------------
// Fig. 1
// ------------------------------------------------------------------------------------------

/// Settings of `validate_fig1`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fig1Settings {
    /// True α values (pmf exponent), one table row each.
    #[serde(default = "d_alphas")]
    pub alphas: Vec<f64>,
    /// Cases (datasets) per α (paper: 100).
    #[serde(default = "d_cases")]
    #[schemars(range(max = crate::caps::MAX_CASES))]
    pub cases: usize,
    /// Sample size per dataset.
    #[serde(default = "d_n")]
    #[schemars(range(max = crate::caps::MAX_SAMPLE))]
    pub n: usize,
    /// Pareto weight π ~ U(lo, hi) per case.
    #[serde(default = "d_unit")]
    pub pi_range: [f64; 2],
    /// Geometric rate λ ~ U(lo, hi) per case.
    #[serde(default = "d_unit")]
    pub lam_range: [f64; 2],
    /// Estimators to compare on the same datasets (fits on the same starts; first = primary):
    /// `ipm`, `ipm_nash`, `ipm_r`, `em`, `box` (EP fits), `aest` and `aest_centered` (scaling
    /// estimator on raw and on centred block sums).
    #[serde(default = "d_methods")]
    pub methods: Vec<Fig1Method>,
    /// Fitter options (method ignored: see `methods`).
    #[serde(default)]
    pub fitter: FitOptions,
    /// Options of the `aest` estimator.
    #[serde(default)]
    pub aest: AestOptions,
}
fn d_alphas() -> Vec<f64> {
    vec![1.5, 1.7, 1.9, 2.1, 2.3, 2.5, 2.7, 2.9]
}
fn d_cases() -> usize {
    100
}
fn d_n() -> usize {
    10_000
}
pub(crate) fn d_unit() -> [f64; 2] {
    [0.1, 0.9]
}
fn d_methods() -> Vec<Fig1Method> {
    vec![Fig1Method::Ipm]
}

impl Fig1Settings {
    /// Validates the design.
    pub fn check(&self) -> Result<(), PluginError> {
        if self.alphas.is_empty() || self.alphas.iter().any(|a| !(*a > 1.0 && *a < 30.0)) {
            return Err(PluginError::config("alphas", "need a non-empty list of α in (1, 30)"));
        }
        if self.cases == 0 || self.n < 10 {
            return Err(PluginError::config(if self.cases == 0 { "cases" } else { "n" }, "need cases ≥ 1 and n ≥ 10"));
        }
        check_range("pi_range", self.pi_range, 0.0, 1.0)?;
        check_range("lam_range", self.lam_range, 0.0, f64::INFINITY)?;
        if self.methods.is_empty() {
            return Err(PluginError::config("methods", "need at least one method"));
        }
        if let Some((i, m)) = self.methods.iter().enumerate().find(|(i, m)| self.methods[..*i].contains(m)) {
            return Err(PluginError::config("methods", format!("`methods` names {} twice (entry {}); list each once", m.as_str(), i + 1)));
        }
        self.aest.check().map_err(|(k, m)| PluginError::config(format!("aest.{k}"), m))?;
        self.fitter.check().map_err(|(k, m)| PluginError::config(format!("fitter.{k}"), m))
    }
}

/// Runs Fig. 1.
pub fn run_fig1(s: &Fig1Settings, seed_hex: &str, threads: usize, host: &Host) -> Result<Study, PluginError> {
    let items: Vec<(f64, usize)> = s.alphas.iter().flat_map(|&a| (0..s.cases).map(move |j| (a, j))).collect();
    let recs = par_cases(host, threads, &items, |&(alpha, j)| {
        let key = format!("{seed_hex}/fig1/alpha={alpha}/{j}");
        let mut rng = stream_rng(&key, "data", 0);
        let th = [unif(&mut rng, s.pi_range), unif(&mut rng, s.lam_range), alpha];
        let x = sample_model(&mut rng, Model::EP, &th, s.n);
        let h = Hist::from_samples(&x).expect("samples are ≥ 1");
        let ests: Vec<Est> = s
            .methods
            .iter()
            .map(|&m| match m.fitter() {
                Some(method) => Est::of_fit(&fit_with(Model::EP, &h, &FitOptions { method, ..s.fitter.clone() }, &key)),
                None => Est::of_aest(&x, &AestOptions { center: s.aest.center || m == Fig1Method::AestCentered, ..s.aest.clone() }),
            })
            .collect();
        (alpha, j, th, h.distinct(), ests)
    })?;
    let (mut evals, mut iters, mut capped) = (0, 0, false);
    let mut cases = vec![];
    for (alpha, j, th, distinct, ests) in &recs {
        let best = ests.iter().map(|f| f.loglik).fold(f64::NEG_INFINITY, f64::max);
        let mut per = serde_json::Map::new();
        for (m, f) in s.methods.iter().zip(ests) {
            evals += f.evaluations;
            iters += f.iterations;
            capped |= f.maxit_hits > 0;
            let mut rec = json!({"alpha": f.alpha, "theta": f.theta, "loglik": f.loglik, "se_alpha": f.se,
                       "rel_err": (f.alpha - alpha) / alpha, "n_at_best": f.n_at_best, "evaluations": f.evaluations,
                       "iterations": f.iterations, "trapped_pi1": f.trapped_pi1, "below_best_by": best - f.loglik,
                       "maxit_hits": f.maxit_hits});
            if let Some(sp) = f.scaling_points {
                rec["scaling_points"] = json!(sp);
            }
            per.insert(m.as_str().into(), rec);
        }
        cases.push(json!({"alpha_true": alpha, "case": j, "theta_true": th, "distinct": distinct, "fits": per}));
    }
    let mut rows = vec![];
    for &alpha in &s.alphas {
        let rs: Vec<&Fig1Rec> = recs.iter().filter(|r| r.0 == alpha).collect();
        let mut per = serde_json::Map::new();
        for (mi, m) in s.methods.iter().enumerate() {
            let est: Vec<f64> = rs.iter().map(|r| r.4[mi].alpha).collect();
            let rel: Vec<f64> = est.iter().map(|e| (e - alpha) / alpha).collect();
            let abs: Vec<f64> = rel.iter().map(|r| r.abs()).collect();
            let z: Vec<f64> = rs.iter().map(|r| (r.4[mi].alpha - alpha) / r.4[mi].se).filter(|v| v.is_finite()).collect();
            let (q1, q3) = (quantile(&rel, 0.25), quantile(&rel, 0.75));
            let iqr = q3 - q1;
            let lo_w = rel.iter().copied().filter(|v| *v >= q1 - 1.5 * iqr).fold(f64::INFINITY, f64::min);
            let hi_w = rel.iter().copied().filter(|v| *v <= q3 + 1.5 * iqr).fold(f64::NEG_INFINITY, f64::max);
            let outliers: Vec<f64> = rel.iter().copied().filter(|v| *v < lo_w || *v > hi_w).collect();
            let best_of = |r: &&Fig1Rec| r.4.iter().map(|f| f.loglik).fold(f64::NEG_INFINITY, f64::max);
            let worse = rs.iter().filter(|r| best_of(r) - r.4[mi].loglik > 1.0).count();
            let trapped = rs.iter().filter(|r| r.4[mi].trapped_pi1).count();
            let only_one = rs.iter().filter(|r| r.4[mi].n_at_best == 1).count();
            per.insert(
                m.as_str().into(),
                json!({"cases": rs.len(), "median_alpha": quantile(&est, 0.5),
                   "pct": {"median": 100.0 * quantile(&rel, 0.5), "q1": 100.0 * q1, "q3": 100.0 * q3, "whisker_lo": 100.0 * lo_w,
                           "whisker_hi": 100.0 * hi_w, "median_abs": 100.0 * quantile(&abs, 0.5),
                           "outliers": outliers.iter().map(|v| 100.0 * v).collect::<Vec<_>>()},
                   "median_relerr": quantile(&rel, 0.5), "q25_relerr": q1, "q75_relerr": q3, "iqr_relerr": iqr,
                   "whisker_lo": lo_w, "whisker_hi": hi_w, "outliers": outliers,
                   "min_relerr": quantile(&rel, 0.0), "max_relerr": quantile(&rel, 1.0),
                   "median_absrelerr": quantile(&abs, 0.5), "p90_absrelerr": quantile(&abs, 0.9),
                   "frac_within_5pct": abs.iter().filter(|v| **v <= 0.05).count() as f64 / abs.len() as f64,
                   "z_mean": mean(&z), "z_sd": sd(&z),
                   "z_sd_robust": 1.482_6 * quantile(&z.iter().map(|v| (v - quantile(&z, 0.5)).abs()).collect::<Vec<_>>(), 0.5),
                   "median_se_rel": quantile(&rs.iter().map(|r| r.4[mi].se / alpha).collect::<Vec<_>>(), 0.5),
                   "undefined": rs.iter().filter(|r| !r.4[mi].alpha.is_finite()).count(),
                   "trapped_pi1": trapped, "worse_than_best_by_1": worse, "only_one_start_at_best": only_one,
                   "mean_evaluations": mean(&rs.iter().map(|r| r.4[mi].evaluations as f64).collect::<Vec<_>>()),
                   "median_distinct": quantile(&rs.iter().map(|r| r.3 as f64).collect::<Vec<_>>(), 0.5)}),
            );
        }
        let reference = crate::reference::fig1_row(alpha).unwrap_or(Value::Null);
        rows.push(json!({"alpha": alpha, "alpha_tail": alpha - 1.0, "cases": rs.len(), "methods": per, "reference": reference}));
    }
    Ok(Study { rows, cases, evaluations: evals, iterations: iters, capped })
}

// ------------------------------------------------------------------------------------------
// Table 2
// ------------------------------------------------------------------------------------------

/// Settings of `validate_table2`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table2Settings {
    /// Sample sizes (one group of rows each).
    #[serde(default = "d_sizes")]
    #[schemars(inner(range(max = crate::caps::MAX_SAMPLE)))]
    pub sizes: Vec<usize>,
    /// Cases per (truth, n).
    #[serde(default = "d_cases")]
    #[schemars(range(max = crate::caps::MAX_CASES))]
    pub cases: usize,
    /// True models generating the data (`EP`, `EEP`).
    #[serde(default = "d_truths")]
    pub truths: Vec<Model>,
    /// EP truth: π ~ U.
    #[serde(default = "d_unit")]
    pub pi_range: [f64; 2],
    /// EP truth: λ ~ U.
    #[serde(default = "d_unit")]
    pub lam_range: [f64; 2],
    /// α ~ U (both truths).
    #[serde(default = "d_arange")]
    pub alpha_range: [f64; 2],
    /// EEP truth: π ~ U.
    #[serde(default = "d_eep_pi")]
    pub eep_pi_range: [f64; 2],
    /// EEP truth: ρ ~ U.
    #[serde(default = "d_eep_rho")]
    pub eep_rho_range: [f64; 2],
    /// EEP truth: λ₁ ~ U.
    #[serde(default = "d_eep_l1")]
    pub eep_lam1_range: [f64; 2],
    /// EEP truth: λ₂ = λ₁ · U(lo, hi).
    #[serde(default = "d_eep_ratio")]
    pub eep_ratio_range: [f64; 2],
    /// Fitter options.
    #[serde(default)]
    pub fitter: FitOptions,
    /// Selection rule.
    #[serde(default)]
    pub selection: SelectionRule,
}
fn d_sizes() -> Vec<usize> {
    vec![500, 1000, 5000, 10_000, 20_000]
}
fn d_truths() -> Vec<Model> {
    vec![Model::EP, Model::EEP]
}
pub(crate) fn d_arange() -> [f64; 2] {
    [1.5, 2.5]
}
pub(crate) fn d_eep_pi() -> [f64; 2] {
    [0.1, 0.5]
}
pub(crate) fn d_eep_rho() -> [f64; 2] {
    [0.3, 0.7]
}
pub(crate) fn d_eep_l1() -> [f64; 2] {
    [0.3, 1.0]
}
pub(crate) fn d_eep_ratio() -> [f64; 2] {
    [0.1, 0.33]
}

impl Table2Settings {
    /// Validates the design.
    pub fn check(&self) -> Result<(), PluginError> {
        if self.sizes.is_empty() || self.sizes.iter().any(|n| *n < 10) {
            return Err(PluginError::config("sizes", "need a non-empty list of sample sizes ≥ 10"));
        }
        if self.cases == 0 {
            return Err(PluginError::config("cases", "need cases ≥ 1"));
        }
        if self.truths.is_empty() || self.truths.contains(&Model::P) {
            return Err(PluginError::config("truths", "truths must be a non-empty subset of [\"EP\", \"EEP\"]"));
        }
        check_range("pi_range", self.pi_range, 0.0, 1.0)?;
        check_range("lam_range", self.lam_range, 0.0, f64::INFINITY)?;
        check_range("alpha_range", self.alpha_range, 1.0, 30.0)?;
        check_range("eep_pi_range", self.eep_pi_range, 0.0, 1.0)?;
        check_range("eep_rho_range", self.eep_rho_range, 0.0, 1.0)?;
        check_range("eep_lam1_range", self.eep_lam1_range, 0.0, f64::INFINITY)?;
        check_range("eep_ratio_range", self.eep_ratio_range, 0.0, f64::INFINITY)?;
        self.fitter.check().map_err(|(k, m)| PluginError::config(format!("fitter.{k}"), m))?;
        check_rule(&self.selection, "selection")
    }
}

/// Validates a selection rule (the order must be nested P ⊂ EP ⊂ EEP, simplest first).
pub fn check_rule(r: &SelectionRule, key: &str) -> Result<(), PluginError> {
    if !r.threshold.is_finite() {
        return Err(PluginError::config(format!("{key}.threshold"), "threshold must be finite"));
    }
    if r.order.is_empty() || r.order.windows(2).any(|w| w[0] >= w[1]) {
        return Err(PluginError::config(format!("{key}.order"), "order must list distinct models simplest first, e.g. [\"P\", \"EP\", \"EEP\"]"));
    }
    Ok(())
}

struct T2Case {
    truth: Model,
    n: usize,
    j: usize,
    theta: Vec<f64>,
    fits: Vec<Fit>,
    winner: Model,
}

/// Runs Table 2.
pub fn run_table2(s: &Table2Settings, seed_hex: &str, threads: usize, host: &Host) -> Result<Study, PluginError> {
    let items: Vec<(Model, usize, usize)> = s.truths.iter().flat_map(|&t| s.sizes.iter().flat_map(move |&n| (0..s.cases).map(move |j| (t, n, j)))).collect();
    let rule = &s.selection;
    let recs = par_cases(host, threads, &items, |&(truth, n, j)| {
        let key = format!("{seed_hex}/table2/{}/n={n}/{j}", truth.as_str());
        let mut rng = stream_rng(&key, "data", 0);
        let theta: Vec<f64> = if truth == Model::EP {
            vec![unif(&mut rng, s.pi_range), unif(&mut rng, s.lam_range), unif(&mut rng, s.alpha_range)]
        } else {
            let pi = unif(&mut rng, s.eep_pi_range);
            let rho = unif(&mut rng, s.eep_rho_range);
            let l1 = unif(&mut rng, s.eep_lam1_range);
            let l2 = l1 * unif(&mut rng, s.eep_ratio_range);
            vec![pi, rho, l1, l2, unif(&mut rng, s.alpha_range)]
        };
        let x = sample_model(&mut rng, truth, &theta, n);
        let h = Hist::from_samples(&x).expect("samples are ≥ 1");
        let fits = fit_nested_models(&h, &s.fitter, &key).to_vec();
        let winner = select(&fits, rule).map(|d| d.winner).unwrap_or(Model::P);
        T2Case { truth, n, j, theta, fits, winner }
    })?;
    let (mut evals, mut iters, mut capped) = (0, 0, false);
    let mut cases = vec![];
    for r in &recs {
        for f in &r.fits {
            evals += f.evaluations;
            iters += f.iterations;
            capped |= f.maxit_hits > 0;
        }
        cases.push(json!({"truth": r.truth, "n": r.n, "case": r.j, "theta_true": r.theta,
            "loglik": {"P": r.fits[0].loglik, "EP": r.fits[1].loglik, "EEP": r.fits[2].loglik},
            "theta": {"P": r.fits[0].theta, "EP": r.fits[1].theta, "EEP": r.fits[2].theta},
            "lnbf_EP_P": ln_bf(&r.fits[1], &r.fits[0]), "lnbf_EEP_EP": ln_bf(&r.fits[2], &r.fits[1]),
            "evaluations": r.fits.iter().map(|f| f.evaluations).sum::<u64>(), "selected": r.winner}));
    }
    let mut rows = vec![];
    for (scen, truth, pair, sign) in [("EP vs P | EP data", Model::EP, 0usize, 1.0), ("EEP vs EP | EP data", Model::EP, 1, -1.0), ("EEP vs EP | EEP data", Model::EEP, 1, 1.0)] {
        for &n in &s.sizes {
            let rs: Vec<&T2Case> = recs.iter().filter(|r| r.truth == truth && r.n == n).collect();
            if rs.is_empty() {
                continue;
            }
            let lb: Vec<f64> = rs.iter().map(|r| ln_bf(&r.fits[pair + 1], &r.fits[pair])).collect();
            let lap: Vec<f64> = rs.iter().map(|r| r.fits[pair + 1].laplace_lnm - r.fits[pair].laplace_lnm).collect();
            let ev: Vec<f64> = lb.iter().map(|v| sign * v).collect();
            let frac = |thr: f64| ev.iter().filter(|v| **v >= thr).count() as f64 / ev.len() as f64;
            let counts = |m: Model| rs.iter().filter(|r| r.winner == m).count();
            let diffs: Vec<f64> = lap.iter().zip(&lb).filter(|(a, _)| a.is_finite()).map(|(a, b)| a - b).collect();
            let pairwise = if sign > 0.0 { lb.iter().filter(|v| **v > rule.threshold).count() } else { lb.iter().filter(|v| **v <= rule.threshold).count() };
            let med_ev = quantile(&ev, 0.5);
            let reference = crate::reference::table2_row(scen, n).unwrap_or(Value::Null);
            rows.push(json!({
                "scenario": scen, "truth": truth, "comparison": if pair == 0 { "EP vs P" } else { "EEP vs EP" }, "n": n, "cases": rs.len(),
                "median_lnbf": quantile(&lb, 0.5), "q10_lnbf": quantile(&lb, 0.1), "q90_lnbf": quantile(&lb, 0.9),
                "mean_lnbf": mean(&lb), "mean_2lnbf": 2.0 * mean(&lb),
                "median_evidence_for_truth": med_ev, "level_of_median_evidence": paper_label(med_ev),
                "frac_substantial": frac(20f64.ln()), "frac_strong": frac(100f64.ln()), "frac_decisive": frac(1000f64.ln()),
                "pairwise_correct": pairwise as f64 / rs.len() as f64,
                "sequential_correct": counts(truth) as f64 / rs.len() as f64,
                "selected": {"P": counts(Model::P), "EP": counts(Model::EP), "EEP": counts(Model::EEP)},
                "laplace_median_lnbf": quantile(&lap, 0.5), "median_laplace_minus_bic": quantile(&diffs, 0.5),
                "reference": reference,
            }));
        }
    }
    Ok(Study { rows, cases, evaluations: evals, iterations: iters, capped })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quantiles_like_numpy() {
        let v = [3.0, 1.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
