//! `sampler`: the FlowTest profile sampler (CESNET/FlowTest `ft-profile-sampler`) as a flowlab
//! plugin (docs/sampler.md).
//!
//! Capabilities:
//! * `sample` (task, accepts `flowtest_profile`): searches a subset of size in
//!   `[⌊l·N⌋, ⌈u·N⌉]` whose declared metrics (docs/sampler.md, "Metrics", [`metrics`]) all stay within
//!   `100·deviation` percent of the whole profile, with the original's GA (docs/sampler.md, "Genetic algorithm", [`ga`]) on
//!   incremental accumulators, an optional stratified start and swap local search
//!   ([`local`]); writes the sample CSV, the metrics report in the original's layout
//!   ([`report`]) and a JSON result.
//! * `profile` (dataset): synthetic profiles, byte-identical to `make_profile.py`
//!   ([`generate`]).
// `!(x > 0.0)` is written on purpose: it is true for NaN, which `x <= 0.0` is not.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod balance;
pub mod bound;
pub mod ga;
pub mod generate;
pub mod genome;
pub mod local;
pub mod metrics;
pub mod profile;
pub mod repair;
pub mod report;

use flowlab_abi::prelude::*;
use ga::{GaConfig, Init};
use metrics::{MetricDecl, Model, Variant};
use serde::Deserialize;
use std::path::Path;
use std::time::Instant;

/// Format name of profile files.
pub const FORMAT: &str = "flowtest_profile";

fn d_dev() -> f64 {
    0.005
}
fn d_gens() -> u32 {
    500
}
fn d_pop() -> usize {
    16
}
fn d_mh() -> f64 {
    0.005
}
fn d_ml() -> f64 {
    0.0002
}
fn d_ms() -> f64 {
    80.0
}
fn d_lim() -> f64 {
    0.005
}
fn d_w() -> u64 {
    5
}
fn d_tau() -> f64 {
    0.9
}
fn d_true() -> bool {
    true
}
fn d_tol() -> f64 {
    0.1
}

/// Which search `sample` runs (`docs/sampler.md`, "Search").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Search {
    /// Stratified start and the constraint repair ([`repair`]); when that does not reach
    /// acceptance, the GA until acceptance or until its best fitness stalls, then the repair
    /// again.
    #[default]
    Hybrid,
    /// The C++ tool's GA alone (random start; `local_search` opt-in).
    Ga,
}

/// Default repair steps of `search = "hybrid"` (it stops at acceptance).
pub const HYBRID_REPAIR: u64 = 300_000;
/// Default stall length of `search = "hybrid"` (generations without a rise of the best).
pub const HYBRID_STALL: u32 = 20;
/// Default restart rounds of `search = "hybrid"` after the first repair fails.
pub const HYBRID_RESTARTS: u32 = 24;
/// Default `balance` steps of `search = "hybrid"`.
pub const HYBRID_BALANCE: u64 = 8_000;
/// Swap steps of one balanced-rounding attempt (docs/sampler.md, "Search").
pub const BALANCE_ATTEMPT: u64 = 1_000;
/// Steps of the first repair round; round r gets `REPAIR_ROUND · 2^⌊r/2⌋` (a doubling
/// restart schedule: short rounds while most runs succeed within a few thousand steps, long
/// ones for profiles that need them), all within the `repair` total.
pub const REPAIR_ROUND: u64 = 6_000;
/// Most `restarts`.
pub const MAX_RESTARTS: u32 = 10_000;
/// Matched swaps of one kick, as a share of the sample size (at least [`KICK_MIN`]).
pub const KICK_SHARE: f64 = 0.002;
/// Fewest matched swaps of one kick.
pub const KICK_MIN: usize = 16;

/// Largest `generations` (the original's default is 500; `docs/sampler.md`).
pub const MAX_GENERATIONS: u32 = 1_000_000;
/// Largest `population` / `parents`.
pub const MAX_POPULATION: usize = 100_000;
/// Largest window length (`window_s`, a metric's `seconds`): ~31 years, so that it stays
/// exact in nanoseconds.
pub const MAX_SECONDS: u64 = 1_000_000_000;
/// Largest `init_attempts`.
pub const MAX_INIT_ATTEMPTS: usize = 100_000_000;
/// Largest `local_search` (swap proposals; the sweep experiment uses 2 × 10⁶).
pub const MAX_LOCAL_SEARCH: u64 = 1_000_000_000;
/// Largest `profile` rows: the generator holds and sorts every biflow (64 bytes each), ~640 MB
/// at 10⁷.
pub const MAX_PROFILE_ROWS: usize = 10_000_000;
/// Largest `profile` max_packets.
pub const MAX_PROFILE_PACKETS: u64 = 1 << 40;

/// Settings of the `sample` capability (defaults: the original's, docs/sampler.md, "Genetic algorithm" and "Outputs and CLI").
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleSettings {
    /// Minimum sampling fraction `l` (`-l`): at least `⌊l·N⌋` biflows (and at least 1).
    /// Give `min_sampling` and `max_sampling`, or `rate`.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1.0))]
    #[serde(default)]
    pub min_sampling: Option<f64>,
    /// Maximum sampling fraction `u` (`-u`): at most `⌈u·N⌉` biflows.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1.0))]
    #[serde(default)]
    pub max_sampling: Option<f64>,
    /// Sweep-friendly form: `l = rate·(1 − rate_tolerance)`, `u = rate·(1 + rate_tolerance)`.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1.0))]
    #[serde(default)]
    pub rate: Option<f64>,
    /// Relative tolerance of `rate` (0.1: rate 0.1 gives 0.09–0.11, docs/sampler.md, "Results of the original" runs).
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1))]
    #[serde(default = "d_tol")]
    pub rate_tolerance: f64,
    /// Maximal deviation as a fraction (`-d`, 0.005): acceptable ⇔ every deviation ≤ 100·d %.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1.0))]
    #[serde(default = "d_dev")]
    pub deviation: f64,
    /// Generations (`-g`, 500).
    #[serde(default = "d_gens")]
    #[schemars(range(max = MAX_GENERATIONS))]
    pub generations: u32,
    /// Population (`-p`, 16).
    #[serde(default = "d_pop")]
    #[schemars(range(min = 2, max = MAX_POPULATION))]
    pub population: usize,
    /// Parents selected by SUS per generation (default `population`: the C++ tool's pairing
    /// of disjoint consecutive pairs; 4 gives the seed README's PyGAD cyclic pairing).
    #[serde(default)]
    #[schemars(range(min = 2, max = MAX_POPULATION))]
    pub parents: Option<usize>,
    /// Mutation slice share while the mean fitness < `mutation_switch` (0.005).
    #[schemars(range(min = 0.0, max = 1.0))]
    #[serde(default = "d_mh")]
    pub mutation_high: f64,
    /// Mutation slice share otherwise (0.0002).
    #[schemars(range(min = 0.0, max = 1.0))]
    #[serde(default = "d_ml")]
    pub mutation_low: f64,
    /// Mean fitness at which the mutation size switches (80).
    #[schemars(range(min = 0.0, max = 100.0))]
    #[serde(default = "d_ms")]
    pub mutation_switch: f64,
    /// Default `limit` of `l4_protos` (`-r`, 0.005).
    #[schemars(range(min = 0.0, max = 1.0))]
    #[serde(default = "d_lim")]
    pub proto_limit: f64,
    /// Default `limit` of `ports` (`-t`, 0.005).
    #[schemars(range(min = 0.0, max = 1.0))]
    #[serde(default = "d_lim")]
    pub port_limit: f64,
    /// Default window length of `windows` in seconds (`-w`, 5).
    #[serde(default = "d_w")]
    #[schemars(range(min = 1, max = MAX_SECONDS))]
    pub window_s: u64,
    /// Fitness formula: `readme` (default; 100 − Σd², the seed README and the 2023 tool) or
    /// `windows` (the current tool: global/2 + window term/2).
    #[serde(default)]
    pub fitness: Variant,
    /// Metric declarations; default: the original's list for the chosen fitness.
    #[serde(default)]
    pub metrics: Option<Vec<MetricDecl>>,
    /// Search: `hybrid` (default) or `ga` (the C++ tool's GA).
    #[serde(default)]
    pub search: Search,
    /// Random seed of this task (the original's `-s`); default: the cell seed. Recorded in
    /// `metrics.txt` (`SEED:`).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Initial population: `random` (the original; default of `ga`) or `stratified`
    /// (default of `hybrid`).
    #[serde(default)]
    pub init: Option<Init>,
    /// Cap on initial candidates (default 10·population); see [`GaConfig::init_attempts`].
    #[serde(default)]
    #[schemars(range(max = MAX_INIT_ATTEMPTS))]
    pub init_attempts: Option<usize>,
    /// Swap proposals of the local search after the GA when it ends unaccepted (0 = off).
    #[serde(default)]
    #[schemars(range(max = MAX_LOCAL_SEARCH))]
    pub local_search: u64,
    /// Local-search and repair margin as a fraction of the limit (0.9).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1.0))]
    #[serde(default = "d_tau")]
    pub local_tau: f64,
    /// Steps of the constraint repair (default 300 000 for `hybrid`, 0 for `ga`): the first
    /// repair and the restart rounds together at most this many, and the repair after the GA
    /// fallback (run only when every round fails) up to this many again; it stops at
    /// acceptance.
    #[serde(default)]
    #[schemars(range(max = MAX_LOCAL_SEARCH))]
    pub repair: Option<u64>,
    /// Generations without a rise of the best fitness after which the GA hands over to the
    /// repair (default 20 for `hybrid`, 0 = never for `ga`).
    #[serde(default)]
    #[schemars(range(max = MAX_GENERATIONS))]
    pub stall: Option<u32>,
    /// Restart rounds after the first repair ends unaccepted (default 24 for `hybrid`, 0 for
    /// `ga`): odd rounds repair a fresh stratified start, even rounds a kick of the best sample
    /// so far; round r has `6000·2^⌊r/2⌋` steps, the first repair and all rounds together at
    /// most `repair`.
    #[serde(default)]
    #[schemars(range(max = MAX_RESTARTS))]
    pub restarts: Option<u32>,
    /// Swap steps of the balanced rounding (docs/sampler.md, "Search", step 2), run first when
    /// windows are declared (default 8 000 for `hybrid`, 0 for `ga`); it stops at acceptance.
    #[serde(default)]
    #[schemars(range(max = MAX_LOCAL_SEARCH))]
    pub balance: Option<u64>,
    /// Write `sample.csv` (default true).
    #[serde(default = "d_true")]
    pub write_sample: bool,
}

/// Settings of the `profile` dataset capability (make_profile.py's flags).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileSettings {
    /// Number of biflows.
    #[schemars(range(min = 1, max = MAX_PROFILE_ROWS))]
    pub rows: usize,
    /// Generator seed (`--seed`); default: derived from the cell seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Share of IPv6 records (0.15).
    #[schemars(range(min = 0.0, max = 1.0))]
    #[serde(default)]
    pub ipv6: Option<f64>,
    /// Capture window in seconds (600).
    #[schemars(range(min = 1.0, max = 10000000.0))]
    #[serde(default)]
    pub span_s: Option<f64>,
    /// Pareto tail shape (1.3).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 100.0))]
    #[serde(default)]
    pub tail_alpha: Option<f64>,
    /// Cap on packets per biflow (200000).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_PROFILE_PACKETS))]
    pub max_packets: Option<u64>,
}

impl SampleSettings {
    /// The sampling range `(l, u)` from `min_sampling`/`max_sampling` or `rate`.
    pub fn range(&self) -> Result<(f64, f64), PluginError> {
        let frac = |k: &str, v: f64| if v > 0.0 && v <= 1.0 { Ok(v) } else { Err(PluginError::config(k, format!("{k} must be in (0, 1], got {v}"))) };
        let (l, u) = match (self.rate, self.min_sampling, self.max_sampling) {
            (Some(r), None, None) => {
                frac("rate", r)?;
                if !(0.0..1.0).contains(&self.rate_tolerance) {
                    return Err(PluginError::config("rate_tolerance", "rate_tolerance must be in [0, 1)"));
                }
                (r * (1.0 - self.rate_tolerance), (r * (1.0 + self.rate_tolerance)).min(1.0))
            }
            (Some(_), _, _) => return Err(PluginError::config("rate", "give either `rate` or `min_sampling` + `max_sampling`, not both")),
            (None, Some(l), Some(u)) => (frac("min_sampling", l)?, frac("max_sampling", u)?),
            (None, None, _) => return Err(PluginError::config("min_sampling", "missing sampling range: give `min_sampling` and `max_sampling` (fractions) or `rate`")),
            (None, Some(_), None) => return Err(PluginError::config("max_sampling", "missing `max_sampling`")),
        };
        if l > u {
            return Err(PluginError::config("min_sampling", format!("min_sampling {l} > max_sampling {u}")));
        }
        Ok((l, u))
    }

    /// Parents per generation (default: the population, the C++ pairing).
    pub fn parents(&self) -> usize {
        self.parents.unwrap_or(self.population)
    }

    /// Initial-population scheme (default per search).
    pub fn init(&self) -> Init {
        self.init.unwrap_or(match self.search {
            Search::Hybrid => Init::Stratified,
            Search::Ga => Init::Random,
        })
    }

    /// Repair steps (default per search).
    pub fn repair_steps(&self) -> u64 {
        self.repair.unwrap_or(match self.search {
            Search::Hybrid => HYBRID_REPAIR,
            Search::Ga => 0,
        })
    }

    /// Swap steps of the balanced rounding (default per search).
    pub fn balance(&self) -> u64 {
        self.balance.unwrap_or(match self.search {
            Search::Hybrid => HYBRID_BALANCE,
            Search::Ga => 0,
        })
    }

    /// Kick-and-repair rounds (default per search).
    pub fn restarts(&self) -> u32 {
        self.restarts.unwrap_or(match self.search {
            Search::Hybrid => HYBRID_RESTARTS,
            Search::Ga => 0,
        })
    }

    /// Stall length (default per search).
    pub fn stall(&self) -> u32 {
        self.stall.unwrap_or(match self.search {
            Search::Hybrid => HYBRID_STALL,
            Search::Ga => 0,
        })
    }

    /// The seed of the run: the task's `seed` when given, else the cell seed.
    pub fn seed(&self, cell_seed: u64) -> u64 {
        self.seed.unwrap_or(cell_seed)
    }
}

/// The hexadecimal seed string of the random streams for seed `seed` (as the CLI's `-s`).
pub fn seed_hex(seed: u64) -> String {
    format!("{seed:016x}")
}

/// Checks ranges that serde cannot (settings key in the error path).
pub fn check_sample(s: &SampleSettings) -> Result<(), PluginError> {
    s.range()?;
    if !(s.deviation > 0.0 && s.deviation <= 1.0) {
        return Err(PluginError::config("deviation", "deviation must be a fraction in (0, 1] (0.005 = 0.5 %)"));
    }
    if s.population < 2 || s.population > MAX_POPULATION {
        return Err(PluginError::config("population", format!("population must be 2..={MAX_POPULATION}")));
    }
    if s.parents() < 2 || s.parents() > MAX_POPULATION {
        return Err(PluginError::config("parents", format!("parents must be 2..={MAX_POPULATION}")));
    }
    for (k, v) in [("mutation_high", s.mutation_high), ("mutation_low", s.mutation_low)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(PluginError::config(k, format!("{k} must be a share in [0, 1]")));
        }
    }
    for (k, v) in [("proto_limit", s.proto_limit), ("port_limit", s.port_limit)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(PluginError::config(k, format!("{k} must be a share in [0, 1]")));
        }
    }
    if s.window_s == 0 {
        return Err(PluginError::config("window_s", "window_s must be ≥ 1"));
    }
    if !(s.local_tau > 0.0 && s.local_tau <= 1.0) {
        return Err(PluginError::config("local_tau", "local_tau must be in (0, 1]"));
    }
    if !s.mutation_switch.is_finite() {
        return Err(PluginError::config("mutation_switch", "must be finite"));
    }
    // the fitness and the declared metrics agree (checked again when the model is built; here
    // it is a settings error at plan time, not a failed cell)
    if let Some(d) = &s.metrics {
        let windows = d.iter().any(|m| m.metric == metrics::MetricKind::Windows);
        match (s.fitness, windows) {
            (Variant::Windows, false) => return Err(PluginError::config("fitness", "fitness `windows` needs a `windows` metric in `metrics`, e.g. { metric = \"windows\" }")),
            (Variant::Readme, true) => return Err(PluginError::config("fitness", "fitness `readme` has no window term: remove the `windows` metric or use fitness = \"windows\"")),
            _ => {}
        }
    }
    Ok(())
}

/// Everything a sampling run produced (the library-level result).
#[derive(Debug, Clone)]
pub struct SampleRun {
    /// The model (reference values, layout).
    pub model: Model,
    /// GA outcome (after local search).
    pub ga: ga::GaOutcome,
    /// Local-search statistics.
    pub local: local::LocalStats,
    /// Repair statistics.
    pub repair: repair::RepairStats,
    /// Balanced-rounding statistics.
    pub balance: balance::BalanceStats,
    /// Feasibility check made before the search.
    pub feasibility: bound::Feasibility,
    /// Lower/upper gene bounds.
    pub bounds: (usize, usize),
}

impl SampleRun {
    /// Why the run stopped: `target_reached`, `infeasible` (the feasibility check proved no
    /// sample acceptable; no search ran) or `max_iters`.
    pub fn termination(&self) -> &'static str {
        if self.ga.accepted {
            "target_reached"
        } else if !self.feasibility.feasible() {
            "infeasible"
        } else {
            "max_iters"
        }
    }
}

/// Builds the metric model of a profile for the settings.
pub fn build_model(p: &profile::Profile, s: &SampleSettings) -> Result<Model, PluginError> {
    let decls = s.metrics.clone().unwrap_or_else(|| metrics::default_decls(s.fitness));
    Model::new(p, &decls, s.fitness, s.deviation, s.proto_limit, s.port_limit, s.window_s).map_err(|(path, msg)| PluginError::config(path, msg))
}

/// Gene bounds `[max(1, ⌊l·N⌋), ⌈u·N⌉]` (docs/sampler.md, "Genetic algorithm").
pub fn gene_bounds(n: usize, s: &SampleSettings) -> (usize, usize) {
    let (l, u) = s.range().unwrap_or((1.0, 1.0));
    let lo = ((l * n as f64).floor() as usize).max(1).min(n);
    let hi = ((u * n as f64).ceil() as usize).clamp(lo, n);
    (lo, hi)
}

/// A local rayon pool of `threads` threads for the standalone CLI and the tests (a plugin cell
/// runs in the pool of its [`Ctx`]; docs/design.md §2, "Thread pools").
pub fn pool(threads: usize) -> Result<rayon::ThreadPool, PluginError> {
    flowlab_abi::plugin::thread_pool(threads)
}

/// Runs the search on a model, parallel work in `pool` (`docs/sampler.md`, "Search"): the
/// feasibility check; for `hybrid`, the repair from one stratified start individual and,
/// only when that does not reach acceptance, the GA (stopping at acceptance or when it
/// stalls) and the repair again on its best; for `ga`, the GA and the opt-in local search
/// and repair. An infeasible model is not searched: the result is the start individual.
pub fn sample(model: Model, s: &SampleSettings, seed_hex: &str, host: &Host, pool: &rayon::ThreadPool) -> Result<SampleRun, PluginError> {
    let (lo, hi) = gene_bounds(model.len(), s);
    let feasibility = bound::check(&model, (lo, hi));
    let cfg = GaConfig {
        min_genes: lo,
        max_genes: hi,
        generations: s.generations,
        population: s.population,
        parents: s.parents(),
        mutation_high: s.mutation_high,
        mutation_low: s.mutation_low,
        mutation_switch: s.mutation_switch,
        init: s.init(),
        init_attempts: s.init_attempts.unwrap_or(10 * s.population),
        stall: s.stall(),
    };
    if let Some(note) = feasibility.oversized_note() {
        host.info(&note);
    }
    if !feasibility.feasible() {
        host.info(&feasibility.message(model.limit_pct));
        let out = ga::start_only(&model, &cfg, feasibility.count_n, seed_hex);
        return Ok(SampleRun { model, ga: out, local: Default::default(), repair: Default::default(), balance: Default::default(), feasibility, bounds: (lo, hi) });
    }
    let steps = s.repair_steps();
    let restarts = s.restarts() as u64;
    let budget = repair::Budget { steps, tau: s.local_tau, bounds: (lo, hi) };
    let mut rs = repair::RepairStats::default();
    let mut bs = balance::BalanceStats::default();
    // the best unaccepted sample of the repair rounds, returned when the GA path ends worse
    let mut rounds_best: Option<genome::Individual> = None;
    if s.search == Search::Hybrid && steps > 0 {
        // with windows the balanced rounding first; then the repair, from one start individual
        // at the sample size where the count shares fit best (`bound`); then kick-and-repair
        // rounds from the best so far; the GA runs only when all of them fail
        let soft = s.local_tau * model.limit_pct;
        // the balanced rounding: herding from x = rate, then gradient-guided swaps, in attempts
        // of BALANCE_ATTEMPT steps from other roundings of the same point (docs/sampler.md,
        // "Search", step 2)
        let mut balanced: Option<genome::Individual> = None;
        if model.windows.is_some() && s.balance() > 0 {
            let mut left = s.balance();
            for attempt in 0.. {
                if left == 0 || balanced.as_ref().is_some_and(|b| b.score.acceptable) {
                    break;
                }
                let budget = left.min(BALANCE_ATTEMPT);
                left -= budget;
                let mut b = balance::herd(&model, feasibility.count_n, (lo, hi), seed_hex, attempt);
                let herded = b.score.worst;
                let at = balance::Attempt { k: feasibility.count_n, steps: budget, bounds: (lo, hi), seed_hex, attempt };
                let st = balance::swaps(&model, &mut b, &at, host)?;
                bs = bs.plus(st);
                host.info(&format!(
                    "balanced rounding {attempt}: herded worst {herded:.3} %, {} swap steps, {} moves, fitness {:.6}, accepted {}",
                    st.steps, st.moves, b.score.fitness, b.score.acceptable
                ));
                if balanced.as_ref().is_none_or(|a| b.score.acceptable || model.repair_objective(&b.acc, soft, None) < model.repair_objective(&a.acc, soft, None)) {
                    balanced = Some(b);
                }
            }
        }
        if let Some(b) = balanced.as_ref().filter(|b| b.score.acceptable) {
            let mut out = ga::outcome_of(b.clone());
            out.accepted = true;
            out.evaluations += bs.proposals;
            return Ok(SampleRun { model, ga: out, local: Default::default(), repair: rs, balance: bs, feasibility, bounds: (lo, hi) });
        }
        // the repair's tables and the stratified order are built only now, when needed
        let rep = repair::Repairer::new(&model);
        let mut left = steps;
        let mut round = |r: u64| {
            let b = (REPAIR_ROUND << (r / 2).min(40)).min(left);
            left -= b;
            repair::Budget { steps: b, ..budget }
        };
        // the strata order is sorted once, for the start and the restart rounds' fresh starts
        let mut order = (cfg.init == Init::Stratified).then(|| ga::strata_order(&model));
        let mut first = ga::start_over(&model, order.as_deref(), feasibility.count_n, seed_hex);
        let r0 = rep.run(&mut first.solution, round(0), seed_hex, "repair", host)?;
        rs = rs.plus(r0);
        host.info(&format!(
            "repair from the start: {} steps, {} moves kept of {} evaluated, fitness {:.6}, accepted {}",
            r0.steps, r0.kept, r0.proposals, first.solution.score.fitness, first.solution.score.acceptable
        ));
        if let Some(b) = balanced.filter(|b| !first.solution.score.acceptable && model.repair_objective(&b.acc, soft, None) < model.repair_objective(&first.solution.acc, soft, None)) {
            first.solution = b;
        }
        let mut best_obj = model.repair_objective(&first.solution.acc, soft, None);
        if order.is_none() && restarts > 0 && !first.solution.score.acceptable {
            order = Some(ga::strata_order(&model));
        }
        let order = order.unwrap_or_default();
        for r in 1..=restarts {
            let budget_r = round(r);
            if first.solution.score.acceptable || budget_r.steps == 0 {
                break;
            }
            // odd rounds: a fresh stratified start (another offset); even rounds: a kick of the
            // best so far
            let mut cand = if r % 2 == 1 {
                ga::stratified_start(&model, &order, feasibility.count_n, seed_hex, r)
            } else {
                let mut c = first.solution.clone();
                let mut rng = stream_rng(seed_hex, "kick", r);
                let k = ((KICK_SHARE * c.ones as f64) as usize).max(KICK_MIN);
                rs.kicks += rep.kick(&mut c, k, &mut rng) as u64;
                c
            };
            let ri = rep.run(&mut cand, budget_r, seed_hex, &format!("repair_round_{r}"), host)?;
            rs = rs.plus(ri);
            rs.rounds += 1;
            let obj = model.repair_objective(&cand.acc, soft, None);
            host.info(&format!("restart round {r}: {} steps, fitness {:.6}, accepted {}", ri.steps, cand.score.fitness, cand.score.acceptable));
            if cand.score.acceptable || obj < best_obj {
                best_obj = obj;
                first.solution = cand;
            }
        }
        if first.solution.score.acceptable {
            first.accepted = true;
            first.evaluations += rs.proposals + bs.proposals;
            return Ok(SampleRun { model, ga: first, local: Default::default(), repair: rs, balance: bs, feasibility, bounds: (lo, hi) });
        }
        rounds_best = Some(first.solution);
    }
    let mut out = ga::run(&model, &cfg, seed_hex, host, pool)?;
    out.evaluations += rs.proposals;
    let mut st = local::LocalStats::default();
    if !out.accepted && s.local_search > 0 {
        st = local::search(&model, &mut out.solution, s.local_search, s.local_tau, (lo, hi), seed_hex, host)?;
        out.accepted = out.solution.score.acceptable;
        out.evaluations += st.proposals;
        host.info(&format!("local search: {} proposals, {} swaps kept, fitness {:.6}, accepted {}", st.proposals, st.accepted_swaps, out.solution.score.fitness, out.accepted));
    }
    if !out.accepted && steps > 0 {
        let r2 = repair::run(&model, &mut out.solution, budget, seed_hex, "repair_after_ga", host)?;
        out.accepted = out.solution.score.acceptable;
        out.evaluations += r2.proposals;
        rs = rs.plus(r2);
        host.info(&format!("repair after the GA: {} steps, {} moves kept of {} evaluated, fitness {:.6}, accepted {}", r2.steps, r2.kept, r2.proposals, out.solution.score.fitness, out.accepted));
    }
    if let Some(b) = rounds_best.filter(|_| !out.accepted) {
        let soft = s.local_tau * model.limit_pct;
        if model.repair_objective(&b.acc, soft, None) < model.repair_objective(&out.solution.acc, soft, None) {
            out.solution = b;
        }
    }
    Ok(SampleRun { model, ga: out, local: st, repair: rs, balance: bs, feasibility, bounds: (lo, hi) })
}

fn io_err(path: &Path, e: std::io::Error) -> PluginError {
    PluginError::run(format!("{}: {e}", path.display()))
}

/// `sample` (task, flowtest_profile): the sampler's search on a profile.
pub struct Sample;
impl Cap for Sample {
    const NAME: &'static str = "sample";
    const SUMMARY: &'static str = "FlowTest profile sampler: GA (ft-profile-sampler semantics) on incremental metrics, optional stratified start and swap local search";
    const ACCEPTS: &'static [&'static str] = &[FORMAT];
    type Settings = SampleSettings;
    fn check(s: &SampleSettings) -> Result<(), PluginError> {
        check_sample(s)
    }
    fn run(s: SampleSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        let t_all = Instant::now();
        let (req, host) = (ctx.request(), ctx.host());
        let ds = req.dataset.as_ref().ok_or_else(|| PluginError::config("", "`sample` needs a dataset of format flowtest_profile"))?;
        let t = Instant::now();
        let prof = profile::read_path(Path::new(&ds.path)).map_err(|e| PluginError::data(e.to_string()))?;
        let load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let model = build_model(&prof, &s)?;
        let model_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let seed = s.seed(req.seed);
        let hex = if s.seed.is_some() { seed_hex(seed) } else { req.seed_hex.clone() };
        let run = sample(model, &s, &hex, host, ctx.pool()?)?;
        let search_s = t.elapsed().as_secs_f64();
        let dir = Path::new(&req.output_dir);
        let mut artifacts = vec![];
        if s.write_sample {
            let path = dir.join("sample.csv");
            let f = std::fs::File::create(&path).map_err(|e| io_err(&path, e))?;
            let sol = &run.ga.solution;
            prof.write_csv(std::io::BufWriter::with_capacity(1 << 20, f), |i| sol.has(i)).map_err(|e| io_err(&path, e))?;
            artifacts.push(Artifact { name: "sample".into(), path: "sample.csv".into(), kind: FORMAT.into() });
        }
        let text = report::metrics_text(&run, &s, seed);
        let path = dir.join("metrics.txt");
        std::fs::write(&path, text).map_err(|e| io_err(&path, e))?;
        artifacts.push(Artifact { name: "metrics".into(), path: "metrics.txt".into(), kind: "text".into() });
        let mut resp = report::response(&run, &s);
        let path = dir.join("result.json");
        let body = json!({"metrics": resp.metrics, "data": resp.data});
        std::fs::write(&path, serde_json::to_vec_pretty(&body).unwrap_or_default()).map_err(|e| io_err(&path, e))?;
        artifacts.push(Artifact { name: "result".into(), path: "result.json".into(), kind: "json".into() });
        resp.artifacts = artifacts;
        resp.timing.insert("load_s".into(), load_s);
        resp.timing.insert("model_s".into(), model_s);
        resp.timing.insert("search_s".into(), search_s);
        resp.timing.insert("total_s".into(), t_all.elapsed().as_secs_f64());
        Ok(resp)
    }
}

/// `profile` (dataset): a synthetic FlowTest profile.
pub struct Profile;
impl Cap for Profile {
    const NAME: &'static str = "profile";
    const SUMMARY: &'static str = "synthetic FlowTest profile (byte-identical port of make_profile.py)";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some(FORMAT);
    type Settings = ProfileSettings;
    fn check(s: &ProfileSettings) -> Result<(), PluginError> {
        gen_options(s, "00").map(|_| ())
    }
    fn run(s: ProfileSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        let req = ctx.request();
        let o = gen_options(&s, &req.seed_hex)?;
        ctx.check_cancel()?;
        let rows = generate::generate(&o);
        let path = Path::new(&req.output_dir).join("profile.csv");
        let f = std::fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        generate::write(&rows, f).map_err(|e| io_err(&path, e))?;
        let mut r = Response::default();
        r.metrics.insert("rows".into(), json!(o.rows));
        r.metrics.insert("seed".into(), json!(o.seed));
        r.data.insert(
            "command".into(),
            json!(format!("make_profile.py --rows {} --seed {} --ipv6 {} --span-s {} --tail-alpha {} --max-packets {}", o.rows, o.seed, o.ipv6, o.span_s, o.tail_alpha, o.max_packets)),
        );
        r.artifacts.push(Artifact { name: "dataset".into(), path: "profile.csv".into(), kind: FORMAT.into() });
        Ok(r)
    }
}

/// Resolves generator options (the seed defaults to one derived from the cell seed).
pub fn gen_options(s: &ProfileSettings, seed_hex: &str) -> Result<generate::GenOptions, PluginError> {
    use rand_core::RngCore;
    if s.rows == 0 || s.rows > MAX_PROFILE_ROWS {
        return Err(PluginError::config("rows", format!("rows must be 1..={MAX_PROFILE_ROWS}")));
    }
    let d = generate::GenOptions::default();
    let o = generate::GenOptions {
        rows: s.rows,
        seed: s.seed.unwrap_or_else(|| stream_rng(seed_hex, "profile", 0).next_u64() >> 1),
        ipv6: s.ipv6.unwrap_or(d.ipv6),
        span_s: s.span_s.unwrap_or(d.span_s),
        tail_alpha: s.tail_alpha.unwrap_or(d.tail_alpha),
        max_packets: s.max_packets.unwrap_or(d.max_packets),
    };
    if !(0.0..=1.0).contains(&o.ipv6) {
        return Err(PluginError::config("ipv6", "ipv6 must be a share in [0, 1]"));
    }
    if !(o.span_s >= 1.0 && o.span_s <= 1e7) {
        return Err(PluginError::config("span_s", "span_s must be 1..=1e7 seconds"));
    }
    if !(o.tail_alpha > 0.0 && o.tail_alpha.is_finite()) {
        return Err(PluginError::config("tail_alpha", "tail_alpha must be > 0"));
    }
    if o.max_packets == 0 || o.max_packets > MAX_PROFILE_PACKETS {
        return Err(PluginError::config("max_packets", "max_packets must be 1..=2^40"));
    }
    Ok(o)
}

flowlab_abi::export_plugin! {
    /// The plugin.
    pub struct Sampler;
    summary: "FlowTest profile sampler with declarative metrics, faithful fitness and a deterministic incremental GA",
    formats: [FORMAT],
    capabilities: [Sample, Profile],
}
