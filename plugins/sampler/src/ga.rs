//! The genetic algorithm of the original (docs/sampler.md, "Genetic algorithm") on bitset genomes with incremental
//! accumulators, deterministic for any thread count: every random decision comes from a
//! stream `stream_rng(seed, purpose, index)` — `"init"` per initial candidate, `"selection"`
//! per generation, `"offspring"` per (generation, pair) — and parallel work is collected in
//! index order.
use crate::genome::{Individual, crossover, mutate, random_words, repair};
use crate::metrics::Model;
use flowlab_abi::seed::stream_rng;
use flowlab_abi::{Host, PluginError};
use rand::Rng;
use rayon::prelude::*;

/// How initial individuals are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// `k ~ U{min..max}` distinct uniform random biflows (the original).
    #[default]
    Random,
    /// Systematic sample over the biflows sorted by stratum (packet-count magnitude, size
    /// bin, protocol, start window, destination port): removes most of the binomial noise
    /// of random starts (docs/sampler.md, "Beyond the original", better search).
    Stratified,
}

/// GA parameters (defaults of the original, docs/sampler.md, "Genetic algorithm").
#[derive(Debug, Clone, PartialEq)]
pub struct GaConfig {
    /// Minimum genes `⌊l·N⌋` (at least 1).
    pub min_genes: usize,
    /// Maximum genes `⌈u·N⌉`.
    pub max_genes: usize,
    /// Generations (500).
    pub generations: u32,
    /// Population (16).
    pub population: usize,
    /// Parents drawn by SUS per generation (shuffled). With p ≥ population the children of
    /// pair j come from parents 2j and 2j+1 (the C++ pairing); with fewer, from parents
    /// `j mod p` and `(j+1) mod p` (PyGAD's cyclic pairing of the seed's 4 mating parents).
    pub parents: usize,
    /// Mutation slice share while the mean fitness < `mutation_switch` (0.005).
    pub mutation_high: f64,
    /// Mutation slice share otherwise (0.0002).
    pub mutation_low: f64,
    /// Mean-fitness switch (80).
    pub mutation_switch: f64,
    /// Initial-population scheme.
    pub init: Init,
    /// Cap on initial candidates (the original loops forever, docs/sampler.md, "Bugs the plugin decides"); when fewer than
    /// `population` candidates have fitness > 0, the best by unclamped fitness fill up.
    pub init_attempts: usize,
    /// Stop after this many generations without a rise of the best fitness (0 = never): the
    /// hand-over point of `search = "hybrid"` to the repair phase.
    pub stall: u32,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct GaOutcome {
    /// The first acceptable individual, else the best one.
    pub solution: Individual,
    /// Whether it is acceptable.
    pub accepted: bool,
    /// Generations run.
    pub generations: u32,
    /// Generation index (0-based) that produced the accepted individual.
    pub accepted_generation: Option<u32>,
    /// Fitness evaluations (initial candidates + offspring).
    pub evaluations: u64,
    /// Initial candidates drawn.
    pub init_candidates: usize,
    /// Initial individuals taken with fitness 0 because the attempt cap was hit.
    pub init_fallback: usize,
    /// Best fitness after each generation (index 0 = initial population).
    pub best: Vec<f64>,
    /// Mean fitness after each generation (index 0 = initial population).
    pub mean: Vec<f64>,
    /// The GA stopped because the best fitness stalled for `stall` generations.
    pub stalled: bool,
}

/// Stratum order for [`Init::Stratified`]: indices sorted by
/// (⌊log2 P_i⌋, size bin, protocol slot, start window, dst-port slot, index).
pub fn strata_order(model: &Model) -> Vec<u32> {
    let n = model.len();
    let key = |i: usize| -> u64 {
        let it = model.items[i];
        let pkb = 63 - it.pk.leading_zeros() as u64; // pk ≥ 1
        let win = match &model.windows {
            Some(w) => ((model.start_ns[i] - w.t0_ns) / w.len_ns) as u64,
            None => 0,
        };
        (pkb.min(63) << 58) | ((it.bin as u64 & 31) << 53) | ((it.proto as u64) << 45) | ((win.min((1 << 29) - 1)) << 16) | it.dport as u64
    };
    let mut keys: Vec<(u64, u32)> = (0..n).map(|i| (key(i), i as u32)).collect();
    keys.sort_unstable();
    keys.into_iter().map(|(_, i)| i).collect()
}

/// A stratified start of `k` biflows over a precomputed [`strata_order`], its offset drawn
/// from `stream_rng(seed_hex, "init", index)` (index 0 is the start of [`start_only`]).
pub fn stratified_start(model: &Model, order: &[u32], k: usize, seed_hex: &str, index: u64) -> Individual {
    let mut rng = stream_rng(seed_hex, "init", index);
    Individual::from_words(model, stratified_words(order, k, &mut rng))
}

fn stratified_words<R: Rng>(order: &[u32], k: usize, rng: &mut R) -> Vec<u64> {
    let n = order.len();
    let mut w = vec![0u64; n.div_ceil(64)];
    if k == 0 {
        return w;
    }
    let step = n as f64 / k as f64;
    let off = rng.random::<f64>() * step;
    for j in 0..k {
        let pos = ((off + j as f64 * step) as usize).min(n - 1);
        let i = order[pos] as usize;
        w[i >> 6] |= 1 << (i & 63);
    }
    w
}

fn stats(pop: &[Individual]) -> (usize, f64, f64) {
    let mut best = 0;
    let mut total = 0.0;
    for (i, x) in pop.iter().enumerate() {
        total += x.score.fitness;
        if x.score.fitness > pop[best].score.fitness {
            best = i;
        }
    }
    (best, pop[best].score.fitness, total / pop.len() as f64)
}

/// Stochastic universal sampling over raw fitness (docs/sampler.md, "Genetic algorithm"): `Δ = ΣF/m`, first pointer
/// `~ U[0, Δ)`, pointers `r + kΔ`; the picks are then shuffled. All-zero fitness: uniform
/// pointers over the individuals.
pub fn sus<R: Rng>(pop: &[Individual], m: usize, rng: &mut R) -> Vec<usize> {
    let total: f64 = pop.iter().map(|x| x.score.fitness).sum();
    let uniform = !(total > 0.0);
    let w = |i: usize| if uniform { 1.0 } else { pop[i].score.fitness };
    let total = if uniform { pop.len() as f64 } else { total };
    let delta = total / m as f64;
    let mut pos = rng.random::<f64>() * delta;
    let mut idx = 0usize;
    let mut acc = w(0);
    let mut out = Vec::with_capacity(m);
    while out.len() < m {
        while acc < pos && idx + 1 < pop.len() {
            idx += 1;
            acc += w(idx);
        }
        out.push(idx);
        pos += delta;
    }
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    out
}

/// Builds the initial population (docs/sampler.md, "Genetic algorithm", with the attempt cap of docs/sampler.md, "Beyond the original").
fn initial(model: &Model, cfg: &GaConfig, seed_hex: &str, order: Option<&[u32]>, pool: &rayon::ThreadPool) -> (Vec<Individual>, usize, usize) {
    let n = model.len();
    let mut kept: Vec<Individual> = Vec::new();
    let mut rejected: Vec<(usize, Individual)> = Vec::new();
    let mut drawn = 0usize;
    let batch = cfg.population.max(2);
    while kept.len() < cfg.population && drawn < cfg.init_attempts.max(cfg.population) {
        let hi = (drawn + batch).min(cfg.init_attempts.max(cfg.population));
        let cands: Vec<Individual> = pool.install(|| {
            (drawn..hi)
                .into_par_iter()
                .map(|j| {
                    let mut rng = stream_rng(seed_hex, "init", j as u64);
                    let k = rng.random_range(cfg.min_genes..=cfg.max_genes);
                    let words = match order {
                        Some(o) => stratified_words(o, k, &mut rng),
                        None => random_words(n, k, &mut rng),
                    };
                    Individual::from_words(model, words)
                })
                .collect()
        });
        for (j, c) in (drawn..hi).zip(cands) {
            if c.score.fitness > 0.0 && kept.len() < cfg.population {
                kept.push(c);
            } else {
                rejected.push((j, c));
            }
        }
        drawn = hi;
    }
    let mut fallback = 0;
    if kept.len() < cfg.population {
        rejected.sort_by(|a, b| b.1.score.raw.total_cmp(&a.1.score.raw).then(a.0.cmp(&b.0)));
        for (_, c) in rejected.into_iter().take(cfg.population - kept.len()) {
            kept.push(c);
            fallback += 1;
        }
    }
    (kept, drawn, fallback)
}

/// Runs the GA; offspring are evaluated in `pool` (results do not depend on its size).
pub fn run(model: &Model, cfg: &GaConfig, seed_hex: &str, host: &Host, pool: &rayon::ThreadPool) -> Result<GaOutcome, PluginError> {
    // one hand-off into the pool for the whole run: the per-generation `pool.install` calls
    // inside then run on a worker directly instead of waking it and parking the caller
    pool.install(|| run_in(model, cfg, seed_hex, host, pool))
}

fn run_in(model: &Model, cfg: &GaConfig, seed_hex: &str, host: &Host, pool: &rayon::ThreadPool) -> Result<GaOutcome, PluginError> {
    let n = model.len();
    let order = (cfg.init == Init::Stratified).then(|| strata_order(model));
    let (mut pop, init_candidates, init_fallback) = initial(model, cfg, seed_hex, order.as_deref(), pool);
    let mut evaluations = init_candidates as u64;
    let (mut best_i, mut best_f, mut mean_f) = stats(&pop);
    let mut best_series = vec![best_f];
    let mut mean_series = vec![mean_f];
    host.info(&format!("initial population: {} individuals from {init_candidates} candidates ({init_fallback} with fitness 0), best {best_f:.6}, mean {mean_f:.6}", pop.len()));
    let children = cfg.population + cfg.population % 2;
    let pairs = children / 2;
    let mut accepted_at = None;
    let mut g = 0u32;
    let (mut last_rise, mut rise_f, mut stalled) = (0u32, best_f, false);
    while g < cfg.generations {
        host.check_cancel()?;
        let mut srng = stream_rng(seed_hex, "selection", g as u64);
        let parents = sus(&pop, cfg.parents, &mut srng);
        let rate = if mean_f < cfg.mutation_switch { cfg.mutation_high } else { cfg.mutation_low };
        let size = (n as f64 * rate).floor() as usize;
        let gen_no = g as u64;
        let pop_ref = &pop;
        let parents_ref = &parents;
        let mut next: Vec<Individual> = pool.install(|| {
            (0..pairs)
                .into_par_iter()
                .map(|j| {
                    let mut rng = stream_rng(seed_hex, "offspring", (gen_no << 32) | j as u64);
                    let np = parents_ref.len();
                    let (ia, ib) = if np >= 2 * pairs { (2 * j, 2 * j + 1) } else { (j % np, (j + 1) % np) };
                    let a = &pop_ref[parents_ref[ia]];
                    let b = &pop_ref[parents_ref[ib]];
                    let (mut c1, mut c2) = crossover(model, a, b, &mut rng);
                    mutate(model, &mut c1, size, &mut rng);
                    mutate(model, &mut c2, size, &mut rng);
                    repair(model, &mut c1, cfg.min_genes, cfg.max_genes, &mut rng);
                    repair(model, &mut c2, cfg.min_genes, cfg.max_genes, &mut rng);
                    c1.rescore(model);
                    c2.rescore(model);
                    [c1, c2]
                })
                .flatten()
                .collect()
        });
        evaluations += next.len() as u64;
        next.truncate(cfg.population);
        // elitism: the last offspring is replaced by the current best
        let last = next.len() - 1;
        next[last] = pop.swap_remove(best_i);
        pop = next;
        (best_i, best_f, mean_f) = stats(&pop);
        best_series.push(best_f);
        mean_series.push(mean_f);
        host.progress(g as u64 + 1, cfg.generations as u64);
        if g.is_multiple_of(10) || g + 1 == cfg.generations {
            host.info(&format!("generation {g}: best {best_f:.6}, mean {mean_f:.6}"));
        }
        g += 1;
        if let Some(i) = pop.iter().position(|x| x.score.acceptable) {
            best_i = i;
            accepted_at = Some(g - 1);
            host.info(&format!("acceptable solution found in generation {} with fitness {:.6}", g - 1, pop[i].score.fitness));
            break;
        }
        if best_f > rise_f {
            (last_rise, rise_f) = (g, best_f);
        } else if cfg.stall > 0 && g - last_rise >= cfg.stall {
            stalled = true;
            host.info(&format!("best fitness stalled for {} generations at generation {}", cfg.stall, g - 1));
            break;
        }
    }
    let solution = pop.swap_remove(best_i);
    Ok(GaOutcome {
        accepted: solution.score.acceptable,
        solution,
        generations: g,
        accepted_generation: accepted_at,
        evaluations,
        init_candidates,
        init_fallback,
        best: best_series,
        mean: mean_series,
        stalled,
    })
}

/// A run of no generations: one start individual of `k` genes, drawn as the configured
/// `init` draws it (the start of the hybrid repair, and the result of an infeasible model).
pub fn start_only(model: &Model, cfg: &GaConfig, k: usize, seed_hex: &str) -> GaOutcome {
    let order = (cfg.init == Init::Stratified).then(|| strata_order(model));
    start_over(model, order.as_deref(), k, seed_hex)
}

/// The outcome of a search that ran no generation and ended at `solution`.
pub fn outcome_of(solution: Individual) -> GaOutcome {
    let f = solution.score.fitness;
    GaOutcome { accepted: false, solution, generations: 0, accepted_generation: None, evaluations: 1, init_candidates: 1, init_fallback: 0, best: vec![f], mean: vec![f], stalled: false }
}

/// [`start_only`] over a [`strata_order`] computed by the caller (`None`: a random start), so
/// that the hybrid search's restart rounds reuse it.
pub fn start_over(model: &Model, order: Option<&[u32]>, k: usize, seed_hex: &str) -> GaOutcome {
    let mut rng = stream_rng(seed_hex, "init", 0);
    let words = match order {
        Some(o) => stratified_words(o, k, &mut rng),
        None => random_words(model.len(), k, &mut rng),
    };
    outcome_of(Individual::from_words(model, words))
}
