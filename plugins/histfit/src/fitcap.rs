//! The `fit` and `selection` capabilities: settings, multi-start, scoring, artifacts.
use crate::binned::Binned;
use crate::em::{BinnedOptions, CompatOptions, FitOutcome, em_binned, em_compat};
use crate::em_binned::Accel;
use crate::families::{Family, KNOWN};
use crate::gof::{Gof, gof};
use crate::hist::{Hist, YCol};
use crate::initial::{Counts, InitialGrid, initial_mix, perturb};
use crate::mixture::{Mixture, counts_initial, mode_text, py_dumps};
use crate::tasks::{dataset_path, write_artifact};
use flowlab_abi::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest component count per family (`fit` families, `selection` grid): flow-models' fits
/// use at most a few tens; every component costs a pass over the bins per iteration and its
/// scratch columns (`docs/histfit.md`).
pub const MAX_COMPONENTS: usize = 100;
/// Largest `iterations` of `fit` / `selection` (defaults 100 and 1000; `docs/histfit.md`).
pub const MAX_ITERATIONS: u64 = 1_000_000;
/// Largest `starts` of `fit`.
pub const MAX_STARTS: u32 = 1000;
/// Largest number of `selection` candidates.
pub const MAX_CANDIDATES: usize = 500;

/// Schema of `families`: component counts by family name, each at most [`MAX_COMPONENTS`].
fn families_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": ["object", "null"], "additionalProperties": {"type": "integer", "format": "uint", "minimum": 0, "maximum": MAX_COMPONENTS}, "examples": [{"uniform": 6, "lognorm": 4}]})
}

/// Schema of `grid`: lists of component counts by family name, each at most [`MAX_COMPONENTS`].
fn grid_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer", "format": "uint", "minimum": 0, "maximum": MAX_COMPONENTS}}, "examples": [{"uniform": [0, 2, 4, 6], "lognorm": [1, 2, 3, 4, 5]}]})
}

/// The fitting algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum Fitter {
    /// flow-models' EM exactly (docs/histfit.md, "em-compat"): pdf at bin_lo, exactly `iterations` iterations.
    #[default]
    #[serde(rename = "em-compat")]
    EmCompat,
    /// EM on the exact binned likelihood (docs/histfit.md, "em-binned"), tolerance on Δℓ plus an iteration cap.
    #[serde(rename = "em-binned")]
    EmBinned,
}

impl Fitter {
    /// Manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Fitter::EmCompat => "em-compat",
            Fitter::EmBinned => "em-binned",
        }
    }
}

fn default_column() -> YCol {
    YCol::Flows
}
fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// The example `initial` shown by `flowlab plugins histfit fit`: a uniform and a lognormal.
fn example_initial() -> Value {
    serde_json::json!([[0.6, "uniform", [1, 10]], [0.4, "lognorm", [1.2, 0, 3.5]]])
}

/// Settings of `fit`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FitSettings {
    /// Histogram column fitted (flow-models' `-y`): `flows` (default), `packets`, `octets`.
    #[serde(default = "default_column")]
    pub column: YCol,
    /// Component counts by scipy family name, e.g. `{ uniform = 6, lognorm = 4 }` (flow-models'
    /// -U/-P/-L; `genpareto` is its Pareto; `norm`, `gamma`, `weibull_min` are also accepted).
    #[serde(default)]
    #[schemars(schema_with = "families_schema")]
    pub families: Option<BTreeMap<String, usize>>,
    /// A starting mixture instead of `families`: inline (`[[w, family, [args]], …]` or
    /// `{"sum", "mix"}`), or a path (flow-models' `--initial FILE`): a mixture JSON file, or a
    /// mixture directory as flow-models writes it, whose `<column>.json` is read; `{data}/…`,
    /// absolute, or relative to the manifest's directory.
    #[serde(default)]
    #[schemars(example = example_initial(), extend("x-flowlab-path" = "manifest"))]
    pub initial: Option<Value>,
    /// Where the scale grid of the start from `families` begins: `"flow-models"` (default,
    /// every PyPI release: min x + max(U, 1) − 1) or `"flow-models-legacy"` (min x + U − 1, the
    /// older code that fitted the stored agh_2015 all/size mixtures; differs only when U = 0).
    #[serde(default)]
    pub initial_grid: InitialGrid,
    /// `em-compat` (default) or `em-binned`.
    #[serde(default)]
    pub fitter: Fitter,
    /// em-compat: exactly this many iterations (default 100, as flow-models); em-binned: the
    /// iteration cap (default 1000).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_ITERATIONS))]
    pub iterations: Option<u64>,
    /// em-binned only: stop when one EM step raises ℓ per unit by less than this (default
    /// 1e-10).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub tolerance: Option<f64>,
    /// em-binned only: `squarem` (default: SQUAREM-accelerated EM, the same fixed point in
    /// far fewer iterations) or `none` (plain EM); `docs/histfit.md`.
    #[serde(default)]
    pub accel: Option<Accel>,
    /// flow-models' `--mpw`: cap on each Pareto weight. em-compat caps it as flow-models does
    /// (the other weights not renormalised); em-binned maximises the likelihood under the cap
    /// (the other weights renormalised, `docs/histfit.md`).
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1.0))]
    pub mpw: Option<f64>,
    /// Store the objective after every iteration (`trace`, plotted in the report). Default:
    /// false for em-compat (flow-models computes no likelihood; the trace costs one log per
    /// bin and iteration, ~17 % of the tutorial fit), true for em-binned (free: its convergence test
    /// computes ℓ anyway). Without it the trace holds only the final objective.
    #[serde(default)]
    pub trace: Option<bool>,
    /// Number of starts (default 1: flow-models' start only); starts 1… are seeded
    /// perturbations of it (stream `fit/start`), the best final objective wins.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = MAX_STARTS))]
    pub starts: u32,
    /// Write the figures of docs/histfit.md, "Figures" (SVG and PNG) as artifacts (default true).
    #[serde(default = "yes")]
    pub plots: bool,
}

/// The start `initial` gives: an inline mixture, or a path to a mixture file or to a
/// mixture directory (its `<column>.json`); errors name `initial` and the file.
pub fn initial_mixture(v: &Value, column: YCol) -> Result<Mixture, PluginError> {
    let Value::String(p) = v else {
        return Mixture::from_value(v).map_err(|e| PluginError::config("initial", format!("initial: {e}")));
    };
    let path = std::path::Path::new(p);
    let file = if path.is_dir() { path.join(format!("{}.json", column.name())) } else { path.to_path_buf() };
    if !file.is_file() {
        let what = if path.is_dir() { format!("the mixture directory {p} has no {}.json", column.name()) } else { format!("no such mixture file: {p}") };
        return Err(PluginError::config("initial", format!("initial: {what} (give a mixture JSON file, a directory of <column>.json files, or an inline mixture)")));
    }
    crate::gencap::read_mixture_file(&file, "initial").map_err(|e| PluginError::config("initial", format!("initial: {}", e.message)))
}

/// Resolves `families` into counts in flow-models' order; errors name `families.<key>`.
pub fn counts_of(map: &BTreeMap<String, usize>, key: &str) -> Result<Counts, PluginError> {
    for (name, _) in map.iter() {
        Family::from_name(name).map_err(|e| PluginError::config(format!("{key}.{name}"), e))?;
    }
    let order = [Family::Uniform, Family::Genpareto, Family::Lognorm, Family::Norm, Family::Gamma, Family::WeibullMin];
    let c = Counts(order.iter().map(|f| (*f, map.get(f.name()).copied().unwrap_or(0))).filter(|(_, n)| *n > 0).collect());
    if c.total() == 0 {
        return Err(PluginError::config(key, format!("no components: give at least one count > 0 (families: {})", KNOWN.join(", "))));
    }
    Ok(c)
}

impl FitSettings {
    /// Checks the settings; returns the counts (when given by `families`).
    pub fn check(&self) -> Result<Option<Counts>, PluginError> {
        if self.starts == 0 || self.starts > MAX_STARTS {
            return Err(PluginError::config("starts", format!("starts must be in 1..={MAX_STARTS}")));
        }
        if let Some(t) = self.tolerance {
            if self.fitter == Fitter::EmCompat {
                return Err(PluginError::config("tolerance", "em-compat always runs exactly `iterations` iterations (flow-models semantics); `tolerance` applies to em-binned"));
            }
            if !(t >= 0.0) {
                return Err(PluginError::config("tolerance", "tolerance must be ≥ 0"));
            }
        }
        if let Some(p) = self.mpw
            && !(p > 0.0)
        {
            return Err(PluginError::config("mpw", "mpw must be > 0"));
        }
        if self.accel.is_some() && self.fitter == Fitter::EmCompat {
            return Err(PluginError::config("accel", "em-compat is flow-models' EM exactly; `accel` applies to em-binned"));
        }
        if self.iterations == Some(0) {
            return Err(PluginError::config("iterations", "iterations must be ≥ 1"));
        }
        let binned = self.fitter == Fitter::EmBinned;
        match (&self.families, &self.initial) {
            (Some(_), Some(_)) => Err(PluginError::config("initial", "give either `families` (counts) or `initial` (a mixture), not both")),
            (None, None) => Err(PluginError::config("families", "give the component counts, e.g. families = { uniform = 6, lognorm = 4 } (flow-models would silently save an empty model)")),
            (Some(m), None) => {
                let c = counts_of(m, "families")?;
                if binned {
                    crate::em_binned::check_families(m.keys(), "families")?;
                }
                Ok(Some(c))
            }
            (None, Some(v)) => {
                let m = initial_mixture(v, self.column)?;
                match crate::em_binned::unsupported(&m.comps).filter(|_| binned) {
                    Some(why) => Err(PluginError::config("initial", why)),
                    None => Ok(None),
                }
            }
        }
    }
    /// The run these settings ask for (defaults filled in).
    pub fn run(&self) -> FitRun {
        FitRun::new(self.fitter, self.iterations, self.tolerance, self.mpw, self.trace).with_accel(self.accel)
    }
}

/// One fitter with its options, defaults filled in.
#[derive(Debug, Clone, Copy)]
pub struct FitRun {
    /// The algorithm.
    pub fitter: Fitter,
    /// em-compat: exactly this many; em-binned: the cap.
    pub iterations: u64,
    /// em-binned's Δℓ tolerance.
    pub tolerance: f64,
    /// The Pareto weight cap (both fitters).
    pub mpw: Option<f64>,
    /// Keep the objective of every iteration.
    pub trace: bool,
    /// em-binned's acceleration.
    pub accel: Accel,
}

impl FitRun {
    /// Fills in the fitter's defaults: iterations 100 (em-compat, as flow-models) or 1000
    /// (em-binned), tolerance 1e-10, trace off for em-compat and on for em-binned.
    pub fn new(fitter: Fitter, iterations: Option<u64>, tolerance: Option<f64>, mpw: Option<f64>, trace: Option<bool>) -> FitRun {
        let (it, tr) = match fitter {
            Fitter::EmCompat => (100, false),
            Fitter::EmBinned => (1000, true),
        };
        FitRun { fitter, iterations: iterations.unwrap_or(it), tolerance: tolerance.unwrap_or(1e-10), mpw, trace: trace.unwrap_or(tr), accel: Accel::default() }
    }
    /// With em-binned's acceleration (the default, SQUAREM, when `None`).
    pub fn with_accel(mut self, accel: Option<Accel>) -> FitRun {
        self.accel = accel.unwrap_or_default();
        self
    }
    /// One run from one start.
    pub fn fit(&self, data: &Binned, start: &Mixture, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<FitOutcome, PluginError> {
        match self.fitter {
            Fitter::EmCompat => em_compat(data, start, CompatOptions { iterations: self.iterations, mpw: self.mpw, trace: self.trace }, host, pool),
            Fitter::EmBinned => {
                em_binned(data, start, BinnedOptions { max_iterations: self.iterations, tolerance: self.tolerance, trace: self.trace, mpw: self.mpw, accel: self.accel, polish: true }, host, pool)
            }
        }
    }
}

/// Multi-start: start 0 as given, start s ≥ 1 perturbed on stream (`fit/start`, s); the
/// highest final objective wins (ties: the lower start). Returns the best and a row per start.
pub fn multi_start(run: &FitRun, data: &Binned, start: &Mixture, starts: u32, seed_hex: &str, host: &Host, pool: Option<&rayon::ThreadPool>) -> Result<(FitOutcome, Vec<Value>, u64), PluginError> {
    let mut best: Option<(usize, FitOutcome)> = None;
    let mut rows = vec![];
    let mut evals = 0;
    for s in 0..starts as usize {
        let st = if s == 0 { start.clone() } else { perturb(start, &mut stream_rng(seed_hex, "fit/start", s as u64)) };
        let out = run.fit(data, &st, host, pool)?;
        evals += out.evaluations;
        rows.push(json!({"start": s, "objective": num(out.objective()), "iterations": out.iterations, "termination": out.termination}));
        if best.as_ref().is_none_or(|(_, b)| out.objective() > b.objective()) {
            best = Some((s, out));
        }
    }
    let (_, b) = best.ok_or_else(|| PluginError::run("no start ran"))?;
    Ok((b, rows, evals))
}

/// The fitting data of a request: the histogram and its column.
pub fn load(req: &Request, column: YCol) -> Result<(Hist, Binned), PluginError> {
    let path = dataset_path(req)?;
    let h = Hist::read(&path)?;
    let b = Binned::new(&h, column)?;
    Ok((h, b))
}

/// Puts a mixture's figures into a response.
fn gof_into(r: &mut Response, g: &Gof) {
    for (k, v) in g.to_metrics() {
        r.metrics.insert(k, v);
    }
}

/// `fit`: fits the column with the fitter from flow-models' start (or `initial`), scores it
/// (docs/histfit.md, "Goodness of fit") and writes `<column>.json` (flow-models' exact layout), `<column>.mode` and the
/// figures.
pub fn fit(s: FitSettings, req: &Request, host: &Host, pl: &rayon::ThreadPool) -> Result<Response, PluginError> {
    let counts = s.check()?;
    let (h, data) = load(req, s.column)?;
    let start = match (&counts, &s.initial) {
        (Some(c), _) => initial_mix(c, data.x[0], *data.x.last().expect("rows"), s.initial_grid).map_err(|e| PluginError::config("initial_grid", e))?,
        (None, Some(v)) => initial_mixture(v, s.column)?,
        _ => unreachable!("checked"),
    };
    let run = s.run();
    let iters = run.iterations;
    let (best, rows, evals) = multi_start(&run, &data, &start, s.starts, &req.seed_hex, host, Some(pl))?;
    let g = pl.install(|| gof(&data, &best.mixture));
    let mut r = Response { iterations: best.iterations, evaluations: evals, termination: best.termination.clone(), ..Default::default() };
    gof_into(&mut r, &g);
    r.metrics.insert("objective".into(), num(best.objective()));
    r.model = best.mixture.to_value();
    let y = s.column.name();
    let text = best.mixture.to_json_text();
    r.artifacts.push(write_artifact(req, &format!("{y}.json"), text.as_bytes(), "json")?);
    let initial = match (&counts, &s.initial) {
        (Some(c), _) => counts_initial(c.get(Family::Uniform), c.get(Family::Genpareto), c.get(Family::Lognorm)),
        (None, Some(v)) => py_dumps(v),
        (None, None) => "{}".into(),
    };
    let dpath = req.dataset.as_ref().map(|d| d.path.clone()).unwrap_or_default();
    r.artifacts.push(write_artifact(req, &format!("{y}.mode"), mode_text(&dpath, y, iters, &initial, s.mpw).as_bytes(), "json")?);
    r.data.insert("mixture_json".into(), json!(text));
    r.data.insert("column".into(), json!(y));
    r.data.insert("fitter".into(), json!(s.fitter.name()));
    r.data.insert("trace".into(), Value::Array(best.trace.iter().map(|v| num(*v)).collect()));
    r.data.insert("starts".into(), Value::Array(rows));
    r.data.insert("components".into(), components_table(&best.mixture));
    if s.plots {
        let x = h.detect_x().unwrap_or(crate::hist::XKind::Length);
        r.artifacts.extend(crate::plots::fit_figures(req, &h, &best.mixture, s.column, x)?);
    }
    Ok(r)
}

/// Rows `{weight, family, args, median?, sigma?}` for report tables.
pub fn components_table(m: &Mixture) -> Value {
    let w = m.norm_weights();
    Value::Array(
        m.comps
            .iter()
            .zip(w)
            .map(|(c, w)| {
                json!({"weight": num(w), "family": c.dist.family.name(), "args": c.dist.args().iter().map(|a| num(*a)).collect::<Vec<_>>(),
                       "shape": num(c.dist.shape), "loc": num(c.dist.loc), "scale": num(c.dist.scale)})
            })
            .collect(),
    )
}

/// The model-selection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Minimum BIC = k ln N − 2ℓ (default).
    #[default]
    Bic,
    /// Minimum AIC = 2k − 2ℓ.
    Aic,
    /// Maximum held-out binned log-likelihood per unit (binomial thinning of the bins).
    Heldout,
}

fn default_heldout() -> f64 {
    0.2
}

/// Settings of `selection`: a grid of component counts, each fitted and scored.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionSettings {
    /// Histogram column (default flows).
    #[serde(default = "default_column")]
    pub column: YCol,
    /// Candidate counts per family, e.g. `{ uniform = [0, 2, 4, 6], lognorm = [1, 2, 3, 4, 5] }`;
    /// every combination (with at least one component) is a candidate.
    #[schemars(schema_with = "grid_schema")]
    pub grid: BTreeMap<String, Vec<usize>>,
    /// Fitter of every candidate (default em-compat).
    #[serde(default)]
    pub fitter: Fitter,
    /// Iterations (cap) of every candidate fit (fitter default when absent).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_ITERATIONS))]
    pub iterations: Option<u64>,
    /// em-binned tolerance.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub tolerance: Option<f64>,
    /// em-binned acceleration, as `fit`'s `accel` (default squarem).
    #[serde(default)]
    pub accel: Option<Accel>,
    /// `bic` (default), `aic` or `heldout`.
    #[serde(default)]
    pub criterion: Criterion,
    /// Start of every candidate's scale grid, as `fit`'s `initial_grid`.
    #[serde(default)]
    pub initial_grid: InitialGrid,
    /// Share of every bin's weight held out for `heldout` (default 0.2), drawn on stream
    /// `selection/split`.
    #[serde(default = "default_heldout")]
    #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 1))]
    pub heldout_fraction: f64,
}

impl SelectionSettings {
    /// Every candidate's counts, in grid order; errors name `grid.<family>`.
    pub fn candidates(&self) -> Result<Vec<Counts>, PluginError> {
        if self.grid.is_empty() {
            return Err(PluginError::config("grid", "give at least one family with candidate counts, e.g. grid = { lognorm = [1, 2, 3] }"));
        }
        for (name, v) in &self.grid {
            Family::from_name(name).map_err(|e| PluginError::config(format!("grid.{name}"), e))?;
            if v.is_empty() {
                return Err(PluginError::config(format!("grid.{name}"), "empty list of counts"));
            }
        }
        if !(self.heldout_fraction > 0.0 && self.heldout_fraction < 1.0) {
            return Err(PluginError::config("heldout_fraction", "heldout_fraction must be in (0, 1)"));
        }
        if self.tolerance.is_some() && self.fitter == Fitter::EmCompat {
            return Err(PluginError::config("tolerance", "`tolerance` applies to em-binned only"));
        }
        if self.accel.is_some() && self.fitter == Fitter::EmCompat {
            return Err(PluginError::config("accel", "`accel` applies to em-binned only"));
        }
        if self.fitter == Fitter::EmBinned {
            crate::em_binned::check_families(self.grid.keys(), "grid")?;
        }
        // the combinations are counted before they are built: long lists multiply
        let combos = self.grid.values().try_fold(1usize, |n, v| n.checked_mul(v.len())).filter(|&n| n <= MAX_CANDIDATES * 2);
        if combos.is_none() {
            return Err(PluginError::config("grid", format!("the grid has more than {} combinations; keep it at most {MAX_CANDIDATES} candidates", MAX_CANDIDATES * 2)));
        }
        let names: Vec<&String> = self.grid.keys().collect();
        let mut out: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new()];
        for n in &names {
            out = out
                .into_iter()
                .flat_map(|m| {
                    self.grid[*n].iter().map(move |&c| {
                        let mut m2 = m.clone();
                        m2.insert((*n).clone(), c);
                        m2
                    })
                })
                .collect();
        }
        let cands: Vec<Counts> = out.iter().filter(|m| m.values().sum::<usize>() > 0).map(|m| counts_of(m, "grid")).collect::<Result<_, _>>()?;
        if cands.is_empty() {
            return Err(PluginError::config("grid", "every combination has zero components"));
        }
        if cands.len() > MAX_CANDIDATES {
            return Err(PluginError::config("grid", format!("{} candidates; keep the grid at most {MAX_CANDIDATES}", cands.len())));
        }
        Ok(cands)
    }
}

/// Binomial thinning: test_i ~ Binomial(c_i, f), train = c − test (stream `selection/split`).
fn split(data: &Binned, f: f64, seed_hex: &str) -> (Binned, Binned) {
    use rand_distr::{Binomial, Distribution};
    let mut rng = stream_rng(seed_hex, "selection/split", 0);
    let mut train = Vec::with_capacity(data.len());
    let mut test = Vec::with_capacity(data.len());
    for &c in &data.c {
        let n = c as u64;
        let t = Binomial::new(n, f).map(|b| b.sample(&mut rng)).unwrap_or(0);
        test.push(t as f64);
        train.push((n - t) as f64);
    }
    (data.with_counts(train), data.with_counts(test))
}

/// `selection`: fits every candidate of the grid, scores each (full-data GoF, plus the
/// held-out ℓ for `heldout`), stores every candidate and picks one by the criterion.
pub fn selection(s: SelectionSettings, req: &Request, host: &Host, pl: &rayon::ThreadPool) -> Result<Response, PluginError> {
    let cands = s.candidates()?;
    let (_, data) = load(req, s.column)?;
    // candidates are ranked by their final scores: no per-iteration trace
    let run = FitRun::new(s.fitter, s.iterations, s.tolerance, None, Some(false)).with_accel(s.accel);
    let result = (|| -> Result<_, PluginError> {
        let (train, test) = if s.criterion == Criterion::Heldout { split(&data, s.heldout_fraction, &req.seed_hex) } else { (data.clone(), data.clone()) };
        let mut rows: Vec<(Value, f64, Mixture, FitOutcome)> = vec![];
        for (ci, c) in cands.iter().enumerate() {
            host.check_cancel()?;
            host.progress(ci as u64, cands.len() as u64);
            let start = initial_mix(c, data.x[0], *data.x.last().expect("rows"), s.initial_grid).map_err(|e| PluginError::config("grid", e))?;
            let out = run.fit(&train, &start, host, Some(pl))?;
            let mut mix = out.mixture.clone();
            mix.sum = Some(data.sum);
            let g = pl.install(|| gof(&data, &mix));
            let held = (s.criterion == Criterion::Heldout).then(|| pl.install(|| gof(&test, &mix)).ll_per_unit);
            let score = match s.criterion {
                Criterion::Bic => -g.bic,
                Criterion::Aic => -g.aic,
                Criterion::Heldout => held.unwrap_or(f64::NEG_INFINITY),
            };
            let mut row = serde_json::Map::new();
            for (f, n) in &c.0 {
                row.insert(f.name().into(), json!(n));
            }
            row.insert("counts".into(), json!(c.0.iter().map(|(f, n)| format!("{}{}", f.name(), n)).collect::<Vec<_>>().join(" ")));
            for (k, v) in g.to_metrics() {
                row.insert(k, v);
            }
            row.insert("heldout_ll_per_unit".into(), held.map(num).unwrap_or(Value::Null));
            row.insert("iterations".into(), json!(out.iterations));
            row.insert("termination".into(), json!(out.termination));
            rows.push((Value::Object(row), score, mix, out));
        }
        Ok(rows)
    })()?;
    let (bi, _) = result.iter().enumerate().fold((0usize, f64::NEG_INFINITY), |(bi, bs), (i, r)| if r.1 > bs { (i, r.1) } else { (bi, bs) });
    let mut r =
        Response { evaluations: result.iter().map(|x| x.3.evaluations).sum(), iterations: result.iter().map(|x| x.3.iterations).sum(), termination: Termination::NotIterative, ..Default::default() };
    let best = &result[bi];
    let g = pl.install(|| gof(&data, &best.2));
    gof_into(&mut r, &g);
    r.model = best.2.to_value();
    r.data.insert(
        "criterion".into(),
        json!(match s.criterion {
            Criterion::Bic => "bic",
            Criterion::Aic => "aic",
            Criterion::Heldout => "heldout",
        }),
    );
    r.data.insert("selected".into(), best.0.clone());
    r.data.insert("column".into(), json!(s.column.name()));
    r.data.insert("fitter".into(), json!(s.fitter.name()));
    r.data.insert("components".into(), components_table(&best.2));
    r.artifacts.push(write_artifact(req, &format!("{}.json", s.column.name()), best.2.to_json_text().as_bytes(), "json")?);
    r.candidates = result.into_iter().map(|x| x.0).collect();
    Ok(r)
}
