//! The plugin's capabilities as typed-SDK types (docs/design.md §2, "The plugin SDK"):
//! settings types (their JSON Schemas derived), cross-field checks and `run`.
use crate::data::{Hist, read_counts, read_user_csv, write_counts};
use crate::fit::{Fit, FitOptions, fit_model_nested};
use crate::model::{ALL, Model};
use crate::sample::sample_model;
use crate::select::{Decision, SelectionRule, select};
use crate::study::{StudySettings, run_fit_traces};
use crate::traces::{FORMAT_RECORDS, TracesSettings, run_generate_traces};
use crate::validate::{Fig1Settings, Table2Settings, check_rule, quantile, run_fig1, run_table2};
use flowlab_abi::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Dataset format of a counts file (one non-negative integer per line).
pub const FORMAT_COUNTS: &str = "counts";
/// Dataset format of a per-user CSV (`user,bin_seconds,count`).
pub const FORMAT_USERS: &str = "user_csv";

/// Largest sample a setting may ask for (`generate` n and zeros, `generate_users` rows,
/// `validate_fig1` n, `validate_table2` sizes): 10⁷ counts hold ~80 MB per sample in memory,
/// far above the paper's designs (≤ 10⁵), well below what aborts the runner (`docs/endhost.md`).
pub const MAX_SAMPLE: usize = 10_000_000;
/// Largest `generate_users` user count.
pub const MAX_USERS: usize = 100_000;
/// Largest number of cases of a validation design (the paper uses 100).
pub const MAX_CASES: usize = 1_000_000;

/// How α is rendered in outputs (docs/endhost.md, "Models"): `pmf` (p ∝ k^{-α}, the internal convention) or
/// `tail` (P(K ≥ k) ∝ k^{-(α−1)}, i.e. α − 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ParetoExponent {
    /// pmf exponent.
    #[default]
    Pmf,
    /// tail index = pmf exponent − 1.
    Tail,
}

impl ParetoExponent {
    pub(crate) fn show(self, alpha: f64) -> f64 {
        match self {
            ParetoExponent::Pmf => alpha,
            ParetoExponent::Tail => alpha - 1.0,
        }
    }
    pub(crate) fn label(self) -> &'static str {
        match self {
            ParetoExponent::Pmf => "pmf exponent alpha: p(k) proportional to k^(-alpha)",
            ParetoExponent::Tail => "tail index alpha-1: P(K >= k) proportional to k^(-(alpha-1))",
        }
    }
}

fn d_models() -> Vec<Model> {
    ALL.to_vec()
}

/// Settings of `fit`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FitSettings {
    /// Models to fit (default all three); with more than one the selection rule is applied.
    #[serde(default = "d_models")]
    pub models: Vec<Model>,
    /// Fitter options.
    #[serde(default)]
    pub fitter: FitOptions,
    /// Selection rule (threshold on ln BF, order, criterion).
    #[serde(default)]
    pub selection: SelectionRule,
    /// How α is rendered.
    #[serde(default)]
    pub pareto_exponent: ParetoExponent,
}

/// Settings of `fit_users`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FitUsersSettings {
    /// Models to fit per series.
    #[serde(default = "d_models")]
    pub models: Vec<Model>,
    /// Fitter options.
    #[serde(default)]
    pub fitter: FitOptions,
    /// Selection rule.
    #[serde(default)]
    pub selection: SelectionRule,
    /// How α is rendered.
    #[serde(default)]
    pub pareto_exponent: ParetoExponent,
    /// Series with fewer positive counts are skipped.
    #[serde(default = "d_min_n")]
    #[schemars(range(max = MAX_SAMPLE))]
    pub min_n: usize,
    /// Edges of the α histogram (rendered convention).
    #[serde(default = "d_alpha_edges")]
    pub alpha_edges: Vec<f64>,
    /// Edges of the π histogram.
    #[serde(default = "d_pi_edges")]
    pub pi_edges: Vec<f64>,
}
pub(crate) fn d_min_n() -> usize {
    50
}
pub(crate) fn d_alpha_edges() -> Vec<f64> {
    (0..=16).map(|i| 1.0 + 0.125 * i as f64).collect()
}
pub(crate) fn d_pi_edges() -> Vec<f64> {
    (0..=10).map(|i| 0.1 * i as f64).collect()
}

/// Settings of `generate`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateSettings {
    /// Generating model.
    #[schemars(example = Model::EP)]
    pub model: Model,
    /// θ in model order (P: [α]; EP: [π, λ, α]; EEP: [π, ρ, λ₁, λ₂, α]).
    #[schemars(example = example_theta())]
    pub theta: Vec<f64>,
    /// Sample size.
    #[serde(default = "d_gen_n")]
    #[schemars(range(min = 1, max = MAX_SAMPLE))]
    pub n: usize,
    /// Zero lines appended (empty windows; the readers drop and count them).
    #[serde(default)]
    #[schemars(range(max = MAX_SAMPLE))]
    pub zeros: usize,
}
fn d_gen_n() -> usize {
    10_000
}

/// Settings of `generate_users`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateUsersSettings {
    /// Number of synthetic users.
    #[serde(default = "d_users")]
    #[schemars(range(max = MAX_USERS))]
    pub users: usize,
    /// Bin sizes in seconds.
    #[serde(default = "d_bins")]
    pub bin_seconds: Vec<f64>,
    /// Windows per (user, bin size) at the smallest bin size; larger bins get proportionally
    /// fewer windows (the same observation period). users × windows × bin sizes is at most
    /// `MAX_SAMPLE` rows.
    #[serde(default = "d_windows")]
    #[schemars(range(max = MAX_SAMPLE))]
    pub windows: usize,
}
fn d_users() -> usize {
    12
}
fn d_bins() -> Vec<f64> {
    vec![10.0, 60.0, 300.0]
}
fn d_windows() -> usize {
    6000
}

/// The example θ of `generate` (EP: π, λ, α) shown by `flowlab plugins endhost generate`.
fn example_theta() -> [f64; 3] {
    [0.15, 0.7, 1.55]
}

fn cfg(e: (String, String), prefix: &str) -> PluginError {
    PluginError::config(format!("{prefix}{}", e.0), e.1)
}

fn check_models(models: &[Model], rule: &SelectionRule) -> Result<(), PluginError> {
    if models.is_empty() {
        return Err(PluginError::config("models", "need at least one model"));
    }
    if let Some((i, m)) = models.iter().enumerate().find(|(i, m)| models[..*i].contains(m)) {
        return Err(PluginError::config(
            "models",
            format!("`models` names {} twice (entries {} and {}); list each model once", m.as_str(), models.iter().position(|x| x == m).unwrap_or(0) + 1, i + 1),
        ));
    }
    if models.len() > 1 {
        check_rule(rule, "selection")?;
        if let Some(m) = rule.order.iter().find(|m| !models.contains(m)) {
            return Err(PluginError::config("selection.order", format!("selection.order names {} but `models` does not", m.as_str())));
        }
    }
    Ok(())
}

fn check_theta(model: Model, th: &[f64]) -> Result<(), PluginError> {
    if th.len() != model.dof() {
        return Err(PluginError::config("theta", format!("{} needs θ = {:?} ({} numbers), got {}", model.as_str(), model.names(), model.dof(), th.len())));
    }
    let ll = model.loglik(th, &Hist::from_pairs([(1, 1)]).expect("k=1"), None);
    if !ll.is_finite() || th.iter().any(|v| !v.is_finite()) {
        return Err(PluginError::config("theta", format!("θ = {th:?} is outside the domain (π, ρ ∈ (0,1), λ > 0, α > 1)")));
    }
    Ok(())
}

/// `generate` (dataset): a counts file drawn from P / EP / EEP.
pub struct Generate;
impl Cap for Generate {
    const NAME: &'static str = "generate";
    const SUMMARY: &'static str = "draw a counts file from P / EP / EEP (Devroye zeta + geometric samplers)";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some(FORMAT_COUNTS);
    type Settings = GenerateSettings;
    fn check(s: &GenerateSettings) -> Result<(), PluginError> {
        check_theta(s.model, &s.theta)?;
        if s.n == 0 {
            return Err(PluginError::config("n", "need n ≥ 1"));
        }
        if s.n + s.zeros > MAX_SAMPLE {
            return Err(PluginError::config("zeros", format!("n + zeros = {} lines; at most {MAX_SAMPLE}", s.n + s.zeros)));
        }
        Ok(())
    }
    fn run(s: GenerateSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        run_generate(s, ctx)
    }
}

/// `generate_users` (dataset): a synthetic per-user CSV.
pub struct GenerateUsers;
impl Cap for GenerateUsers {
    const NAME: &'static str = "generate_users";
    const SUMMARY: &'static str = "write a synthetic per-user CSV (user,bin_seconds,count) with one model per user";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some(FORMAT_USERS);
    type Settings = GenerateUsersSettings;
    fn check(s: &GenerateUsersSettings) -> Result<(), PluginError> {
        if s.users == 0 || s.windows == 0 {
            return Err(PluginError::config(if s.users == 0 { "users" } else { "windows" }, "must be ≥ 1"));
        }
        if s.bin_seconds.is_empty() || s.bin_seconds.iter().any(|b| !(b.is_finite() && *b > 0.0)) {
            return Err(PluginError::config("bin_seconds", "need a non-empty list of positive bin sizes"));
        }
        // every bin size gets at most `windows` rows per user (larger bins get fewer)
        let rows = s.users.saturating_mul(s.windows).saturating_mul(s.bin_seconds.len());
        if rows > MAX_SAMPLE {
            return Err(PluginError::config("windows", format!("users × windows × bin sizes = {rows} rows; at most {MAX_SAMPLE}")));
        }
        Ok(())
    }
    fn run(s: GenerateUsersSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        run_generate_users(s, ctx)
    }
}

/// `generate_traces` (dataset): synthetic flow records with ground truth ([`crate::traces`]).
pub struct GenerateTraces;
impl Cap for GenerateTraces {
    const NAME: &'static str = "generate_traces";
    const SUMMARY: &'static str = "write synthetic per-user flow records (flows, host-on intervals, activity events) with ground truth";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some(FORMAT_RECORDS);
    type Settings = TracesSettings;
    fn check(s: &TracesSettings) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: TracesSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        run_generate_traces(s, ctx)
    }
}

/// `fit` (task, counts): the chosen models fitted and the selection rule applied.
pub struct FitCounts;
impl Cap for FitCounts {
    const NAME: &'static str = "fit";
    const SUMMARY: &'static str = "fit P / EP / EEP to a counts file by interior-point ML and select by ln BF";
    const ACCEPTS: &'static [&'static str] = &[FORMAT_COUNTS];
    type Settings = FitSettings;
    fn check(s: &FitSettings) -> Result<(), PluginError> {
        s.fitter.check().map_err(|e| cfg(e, "fitter."))?;
        check_models(&s.models, &s.selection)
    }
    fn run(s: FitSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        run_fit(s, ctx)
    }
}

/// `fit_users` (task, user_csv): every user × bin size fitted (the paper's §VI).
pub struct FitUsers;
impl Cap for FitUsers {
    const NAME: &'static str = "fit_users";
    const SUMMARY: &'static str = "fit and select per user x bin size of a per-user CSV (paper §VI)";
    const ACCEPTS: &'static [&'static str] = &[FORMAT_USERS];
    type Settings = FitUsersSettings;
    fn check(s: &FitUsersSettings) -> Result<(), PluginError> {
        s.fitter.check().map_err(|e| cfg(e, "fitter."))?;
        check_models(&s.models, &s.selection)?;
        for (k, e) in [("alpha_edges", &s.alpha_edges), ("pi_edges", &s.pi_edges)] {
            if e.len() < 2 || e.windows(2).any(|w| !(w[0] < w[1])) {
                return Err(PluginError::config(k, "need at least two increasing edges"));
            }
        }
        Ok(())
    }
    fn run(s: FitUsersSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        run_fit_users(s, ctx)
    }
}

/// `fit_traces` (task, flow records): records → bins → fits → composition ([`crate::study`]).
pub struct FitTraces;
impl Cap for FitTraces {
    const NAME: &'static str = "fit_traces";
    const SUMMARY: &'static str = "bin flow records per user, fit and select per bin size, traffic composition (paper §VI-VII)";
    const ACCEPTS: &'static [&'static str] = &[FORMAT_RECORDS];
    type Settings = StudySettings;
    fn check(s: &StudySettings) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: StudySettings, ctx: &Ctx) -> Result<Response, PluginError> {
        run_fit_traces(s, ctx)
    }
}

/// `validate_fig1` (datasetless): the paper's Fig. 1 design.
pub struct ValidateFig1;
impl Cap for ValidateFig1 {
    const NAME: &'static str = "validate_fig1";
    const SUMMARY: &'static str = "paper Fig. 1: accuracy of alpha-hat of EP fits on EP data";
    const DATASETLESS: bool = true;
    type Settings = Fig1Settings;
    fn check(s: &Fig1Settings) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: Fig1Settings, ctx: &Ctx) -> Result<Response, PluginError> {
        let st = run_fig1(&s, ctx.seed_hex(), ctx.threads(), ctx.host())?;
        let mut r = study_response(st.evaluations, st.iterations, st.capped);
        fig1_metrics(&mut r, &st.rows, &s);
        design_data(&mut r, st.rows, st.cases, &s);
        Ok(r)
    }
}

/// `validate_table2` (datasetless): the paper's Table 2 design.
pub struct ValidateTable2;
impl Cap for ValidateTable2 {
    const NAME: &'static str = "validate_table2";
    const SUMMARY: &'static str = "paper Table 2: sample sizes needed for Bayes-factor model selection";
    const DATASETLESS: bool = true;
    type Settings = Table2Settings;
    fn check(s: &Table2Settings) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: Table2Settings, ctx: &Ctx) -> Result<Response, PluginError> {
        let st = run_table2(&s, ctx.seed_hex(), ctx.threads(), ctx.host())?;
        let mut r = study_response(st.evaluations, st.iterations, st.capped);
        table2_metrics(&mut r, &st.rows, &s);
        design_data(&mut r, st.rows, st.cases, &s);
        Ok(r)
    }
}

fn study_response(evaluations: u64, iterations: u64, capped: bool) -> Response {
    Response { evaluations, iterations, termination: term(capped), ..Default::default() }
}

/// The rows, cases and the design itself of a validation study, in the response's data.
fn design_data<T: Serialize, C: Serialize>(r: &mut Response, rows: Vec<Value>, cases: C, design: &T) {
    r.data.insert("rows".into(), json!(rows));
    r.data.insert("cases".into(), json!(cases));
    r.data.insert("design".into(), serde_json::to_value(design).unwrap_or(Value::Null));
}

pub(crate) fn term(capped: bool) -> Termination {
    if capped { Termination::MaxIters } else { Termination::Converged }
}

fn fig1_metrics(r: &mut Response, rows: &[Value], s: &Fig1Settings) {
    let m0 = s.methods[0].as_str();
    let get = |row: &Value, k: &str| row["methods"][m0][k].as_f64().unwrap_or(f64::NAN);
    let worst_med = rows.iter().map(|row| get(row, "median_relerr").abs()).fold(0.0, f64::max);
    r.metrics.insert("max_abs_median_relerr".into(), num(worst_med));
    r.metrics.insert("max_median_absrelerr".into(), num(rows.iter().map(|row| get(row, "median_absrelerr")).fold(0.0, f64::max)));
    r.metrics.insert("min_frac_within_5pct".into(), num(rows.iter().map(|row| get(row, "frac_within_5pct")).fold(1.0, f64::min)));
    for m in &s.methods {
        let t: u64 = rows.iter().map(|row| row["methods"][m.as_str()]["trapped_pi1"].as_u64().unwrap_or(0)).sum();
        r.metrics.insert(format!("trapped_pi1_{}", m.as_str()), json!(t));
    }
    r.metrics.insert("cases".into(), json!(rows.iter().map(|row| row["cases"].as_u64().unwrap_or(0)).sum::<u64>()));
    // sort key for reports over per-α cells
    r.metrics.insert("alpha_min".into(), num(s.alphas.iter().copied().fold(f64::INFINITY, f64::min)));
}

fn table2_metrics(r: &mut Response, rows: &[Value], s: &Table2Settings) {
    // sort key for reports over per-n cells
    r.metrics.insert("n_min".into(), json!(s.sizes.iter().min().copied().unwrap_or(0)));
    for row in rows {
        let scen = match row["scenario"].as_str().unwrap_or("") {
            "EP vs P | EP data" => "ep_p_on_ep",
            "EEP vs EP | EP data" => "eep_ep_on_ep",
            _ => "eep_ep_on_eep",
        };
        let n = row["n"].as_u64().unwrap_or(0);
        r.metrics.insert(format!("{scen}_n{n}_pairwise_correct"), row["pairwise_correct"].clone());
        r.metrics.insert(format!("{scen}_n{n}_median_lnbf"), row["median_lnbf"].clone());
    }
}

fn run_generate(s: GenerateSettings, ctx: &Ctx) -> Result<Response, PluginError> {
    let req = ctx.request();
    let mut rng = ctx.stream("generate", 0);
    let mut x = sample_model(&mut rng, s.model, &s.theta, s.n);
    x.extend(std::iter::repeat_n(0, s.zeros));
    let path = Path::new(&req.output_dir).join("counts.txt");
    write_counts(&path, &x)?;
    let h = Hist::from_samples(&x[..s.n]).map_err(PluginError::run)?;
    let mut r = Response::default();
    r.metrics.insert("n".into(), json!(s.n));
    r.metrics.insert("zeros".into(), json!(s.zeros));
    r.metrics.insert("distinct".into(), json!(h.distinct()));
    r.metrics.insert("max".into(), json!(h.k[h.k.len() - 1] as u64));
    r.model = json!({"name": s.model, "theta": s.theta, "names": s.model.names()});
    r.artifacts.push(Artifact { name: "dataset".into(), path: "counts.txt".into(), kind: FORMAT_COUNTS.into() });
    Ok(r)
}

/// One synthetic user: a model and θ drawn from the Table-2 style design; counts per window
/// at bin size b are drawn from that model with a per-bin scale (λ shrinks and α grows
/// slightly with the bin, as aggregation flattens the body), and a share of empty windows.
fn run_generate_users(s: GenerateUsersSettings, ctx: &Ctx) -> Result<Response, PluginError> {
    use rand::Rng;
    let req = ctx.request();
    let bmin = s.bin_seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let mut out = String::from("user,bin_seconds,count\n");
    let mut truth = vec![];
    for u in 0..s.users {
        let mut rng = stream_rng(&req.seed_hex, "user", u as u64);
        let model = [Model::P, Model::EP, Model::EP, Model::EEP][u % 4];
        let alpha = 1.5 + rng.random::<f64>();
        let pi = 0.2 + 0.6 * rng.random::<f64>();
        let lam = 0.2 + 0.6 * rng.random::<f64>();
        let zero_share = 0.2 + 0.5 * rng.random::<f64>();
        let name = format!("u{:02}", u + 1);
        for (bi, &b) in s.bin_seconds.iter().enumerate() {
            let scale = (b / bmin).ln();
            let l = lam / (1.0 + 0.3 * scale);
            let th: Vec<f64> = match model {
                Model::P => vec![alpha],
                Model::EP => vec![pi, l, alpha],
                Model::EEP => vec![pi, 0.5, 2.5 * l, 0.2 * l, alpha],
            };
            let windows = ((s.windows as f64) * bmin / b).round().max(1.0) as usize;
            let mut r2 = stream_rng(&req.seed_hex, &format!("user/{u}/bin"), bi as u64);
            let x = sample_model(&mut r2, model, &th, windows);
            for v in x {
                let c = if r2.random::<f64>() < zero_share { 0 } else { v };
                out.push_str(&format!("{name},{b},{c}\n"));
            }
            truth.push(json!({"user": name, "bin_seconds": b, "model": model, "theta": th, "windows": windows, "zero_share": zero_share}));
        }
    }
    let path = Path::new(&req.output_dir).join("users.csv");
    std::fs::write(&path, out).map_err(|e| PluginError::run(format!("{}: {e}", path.display())))?;
    let mut r = Response::default();
    r.metrics.insert("users".into(), json!(s.users));
    r.data.insert("truth".into(), json!(truth));
    r.artifacts.push(Artifact { name: "dataset".into(), path: "users.csv".into(), kind: FORMAT_USERS.into() });
    Ok(r)
}

/// A fit as a candidate record.
fn candidate(f: &Fit, pe: ParetoExponent) -> Value {
    let params: serde_json::Map<String, Value> = f.model.names().iter().zip(&f.theta).map(|(n, v)| (n.to_string(), num(*v))).collect();
    let se: serde_json::Map<String, Value> = f.model.names().iter().zip(&f.se).map(|(n, v)| (n.to_string(), num(*v))).collect();
    let alpha = f.theta[f.theta.len() - 1];
    json!({"model": f.model, "k": f.k, "loglik": num(f.loglik), "bic": num(f.bic_schwarz()), "bic_conventional": num(f.bic()),
           "laplace_lnm": num(f.laplace_lnm), "params": params, "se": se, "weights": f.model.weights(&f.theta),
           "alpha_shown": num(pe.show(alpha)), "method": f.method, "restarts": f.restart_logliks.len(),
           "restart_logliks": f.restart_logliks.iter().map(|v| num(*v)).collect::<Vec<_>>(), "n_at_best": f.n_at_best,
           "evaluations": f.evaluations, "iterations": f.iterations, "maxit_hits": f.maxit_hits,
           "at_bound": f.at_bound, "trapped_pi1": f.trapped_pi1})
}

fn decision_json(d: &Decision) -> Value {
    json!({"winner": d.winner, "threshold": d.threshold, "threshold_units": "natural-log Bayes factor ln BF (2 ln BF threshold = 2x)",
           "criterion": d.criterion, "comparisons": d.comparisons})
}

/// Fits `models` to `h` (restart streams from `key`) and applies the rule when there are
/// several.
pub(crate) fn fit_all(h: &Hist, models: &[Model], o: &FitOptions, rule: &SelectionRule, key: &str) -> Result<(Vec<Fit>, Option<Decision>), PluginError> {
    let mut fits: Vec<Fit> = vec![];
    for &m in models {
        let name = format!("restart/{}", m.as_str());
        let ep = fits.iter().find(|f| f.model == Model::EP).cloned();
        fits.push(fit_model_nested(m, h, o, |i| stream_rng(key, &name, i as u64), ep.as_ref()));
    }
    let d = if models.len() > 1 { Some(select(&fits, rule).map_err(|e| PluginError::config("selection.order", e))?) } else { None };
    Ok((fits, d))
}

pub(crate) fn dataset_path(req: &Request, format: &str) -> Result<std::path::PathBuf, PluginError> {
    let d = req.dataset.as_ref().ok_or_else(|| PluginError::config("", format!("capability `{}` needs a dataset of format `{format}`", req.capability)))?;
    if !d.format.is_empty() && d.format != format {
        return Err(PluginError::config("", format!("dataset `{}` has format `{}`, `{}` needs `{format}`", d.id, d.format, req.capability)));
    }
    Ok(Path::new(&d.path).to_path_buf())
}

fn run_fit(s: FitSettings, ctx: &Ctx) -> Result<Response, PluginError> {
    let req = ctx.request();
    let cf = read_counts(&dataset_path(req, FORMAT_COUNTS)?)?;
    ctx.check_cancel()?;
    let h = &cf.hist;
    let (fits, dec) = fit_all(h, &s.models, &s.fitter, &s.selection, &req.seed_hex)?;
    let mut r = Response::default();
    r.metrics.insert("n".into(), json!(h.n as u64));
    r.metrics.insert("zeros_dropped".into(), json!(cf.zeros_dropped));
    r.metrics.insert("distinct".into(), json!(h.distinct()));
    for f in &fits {
        r.metrics.insert(format!("loglik_{}", f.model.as_str()), num(f.loglik));
        r.metrics.insert(format!("alpha_{}", f.model.as_str()), num(f.theta[f.theta.len() - 1]));
    }
    let chosen = dec.as_ref().map(|d| d.winner).unwrap_or(s.models[0]);
    if let Some(d) = &dec {
        for c in &d.comparisons {
            r.metrics.insert(format!("lnbf_{}_{}", c.larger.as_str(), c.smaller.as_str()), num(c.ln_bf));
        }
        r.metrics.insert("selected_k".into(), json!(chosen.dof()));
        r.data.insert("decision".into(), decision_json(d));
    }
    let fsel = fits.iter().find(|f| f.model == chosen).expect("chosen model was fitted");
    r.model = json!({"name": chosen, "candidate": candidate(fsel, s.pareto_exponent), "pareto_exponent": s.pareto_exponent.label()});
    r.candidates = fits.iter().map(|f| candidate(f, s.pareto_exponent)).collect();
    r.evaluations = fits.iter().map(|f| f.evaluations).sum();
    r.iterations = fits.iter().map(|f| f.iterations).sum();
    r.termination = term(fits.iter().any(|f| f.maxit_hits > 0));
    r.data.insert("fitter".into(), serde_json::to_value(&s.fitter).unwrap_or(Value::Null));
    Ok(r)
}

pub(crate) fn histogram(v: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut c = vec![0u64; edges.len() - 1];
    for &x in v {
        if let Some(i) = (0..edges.len() - 1).find(|&i| x >= edges[i] && (x < edges[i + 1] || (i + 2 == edges.len() && x <= edges[i + 1]))) {
            c[i] += 1;
        }
    }
    c
}

fn run_fit_users(s: FitUsersSettings, ctx: &Ctx) -> Result<Response, PluginError> {
    let req = ctx.request();
    let series = read_user_csv(&dataset_path(req, FORMAT_USERS)?)?;
    ctx.check_cancel()?;
    let results = ctx.install(|| {
        series
            .par_iter()
            .map(|ser| match &ser.hist {
                Some(h) if h.n as usize >= s.min_n => {
                    let key = format!("{}/user={}/bin={}", req.seed_hex, ser.user, ser.bin_seconds);
                    fit_all(h, &s.models, &s.fitter, &s.selection, &key).map(Some)
                }
                _ => Ok(None),
            })
            .collect::<Vec<_>>()
    })?;
    ctx.check_cancel()?;
    let mut rows = vec![];
    let (mut alphas, mut pis) = (vec![], vec![]);
    let (mut ev, mut it, mut capped) = (0, 0, false);
    for (ser, res) in series.iter().zip(results) {
        let n = ser.hist.as_ref().map(|h| h.n as u64).unwrap_or(0);
        let mut row = json!({"user": ser.user, "bin_seconds": ser.bin_seconds, "windows": ser.windows, "zeros_dropped": ser.zeros_dropped, "n": n});
        match res? {
            None => {
                row["selected"] = json!(null);
                row["skipped"] = json!(format!("fewer than min_n = {} positive counts", s.min_n));
            }
            Some((fits, dec)) => {
                let chosen = dec.as_ref().map(|d| d.winner).unwrap_or(s.models[0]);
                let f = fits.iter().find(|f| f.model == chosen).expect("fitted");
                let alpha = s.pareto_exponent.show(f.theta[f.theta.len() - 1]);
                let pi = if chosen == Model::P { 1.0 } else { f.theta[0] };
                alphas.push(alpha);
                pis.push(pi);
                for f in &fits {
                    ev += f.evaluations;
                    it += f.iterations;
                    capped |= f.maxit_hits > 0;
                }
                row["selected"] = json!(chosen);
                row["alpha"] = num(alpha);
                row["pi"] = num(pi);
                row["distinct"] = json!(ser.hist.as_ref().map(|h| h.distinct()).unwrap_or(0));
                row["candidates"] = json!(fits.iter().map(|f| candidate(f, s.pareto_exponent)).collect::<Vec<_>>());
                if let Some(d) = &dec {
                    row["decision"] = decision_json(d);
                    for c in &d.comparisons {
                        row[format!("lnbf_{}_{}", c.larger.as_str(), c.smaller.as_str())] = num(c.ln_bf);
                    }
                }
            }
        }
        rows.push(row);
    }
    // Fig. 4-style table: one line per user, the chosen model per bin size
    let mut bins: Vec<f64> = series.iter().map(|s| s.bin_seconds).collect();
    bins.sort_by(|a, b| a.total_cmp(b));
    bins.dedup();
    let mut users: Vec<String> = series.iter().map(|s| s.user.clone()).collect();
    users.dedup();
    let table: Vec<Value> = users
        .iter()
        .map(|u| {
            let chosen: Vec<Value> =
                bins.iter().map(|b| rows.iter().find(|r| r["user"] == json!(u) && r["bin_seconds"].as_f64() == Some(*b)).map(|r| r["selected"].clone()).unwrap_or(Value::Null)).collect();
            json!({"user": u, "chosen": chosen})
        })
        .collect();
    let count = |m: Model| rows.iter().filter(|r| r["selected"] == json!(m)).count();
    let mut r = Response { evaluations: ev, iterations: it, termination: term(capped), ..Default::default() };
    r.metrics.insert("series".into(), json!(rows.len()));
    r.metrics.insert("fitted".into(), json!(alphas.len()));
    for m in ALL {
        r.metrics.insert(format!("selected_{}", m.as_str()), json!(count(m)));
    }
    r.metrics.insert("median_alpha".into(), num(quantile(&alphas, 0.5)));
    r.data.insert("bins".into(), json!(bins));
    r.data.insert("table".into(), json!(table));
    r.data.insert("rows".into(), json!(rows));
    let hist_json = |v: &[f64], e: &[f64]| {
        let c = histogram(v, e);
        json!(e.windows(2).zip(&c).map(|(w, c)| json!({"lo": w[0], "hi": w[1], "mid": 0.5 * (w[0] + w[1]), "count": c})).collect::<Vec<_>>())
    };
    r.data.insert("alpha_hist".into(), hist_json(&alphas, &s.alpha_edges));
    r.data.insert("pi_hist".into(), hist_json(&pis, &s.pi_edges));
    r.data.insert("pareto_exponent".into(), json!(s.pareto_exponent.label()));
    Ok(r)
}
