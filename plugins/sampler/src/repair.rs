//! Constraint repair, the last phase of `search = "hybrid"` (`docs/sampler.md`, "Search").
//!
//! Works on the deviations above the margin `τ·limit`, one at a time: each step picks one of
//! them (`j`, uniformly), draws [`CANDIDATES`] moves aimed at it, evaluates each through the
//! O(1) accumulator deltas (toggle, score, toggle back: O(windows spanned + #deviations)) and
//! keeps the best when it lowers `Σ max(0, d − τ·limit)² + 10·Σ max(0, d − limit)²`
//! ([`Model::repair_objective`]); it stops as soon as every deviation is within the limit.
//! So every global metric and every other window is held: a move that pushes another
//! deviation up costs what it gains, ten times over past the limit. Targeting only the
//! deviations over the limit (and ranking the hard excess first) was tried and stalls: the
//! deviations sitting just under the limit block every move the others need.
//!
//! Moves, for a deviation whose sample value is too high (too low: the mirror image):
//! * *matched swap* (⅖): a selected biflow carrying `j` leaves and an unselected biflow of the
//!   same class — L3, size bin, protocol slot, both port slots — with a close packet count
//!   enters (or, for every second such move when windows are declared, one of the same
//!   class ending in the same window and starting close to it: the pair then differs only in
//!   the windows between the two starts — what an early window carried by long biflows needs).
//!   Every count share (`ipv4`, `ipv6`, `l4_protos`, `ports`, `pkt_size`) and n are
//!   unchanged; P and B move little, so only the windows and the three ratios feel it. This
//!   is the move that fixes a window without disturbing the global metrics. For a ratio (no
//!   carriers), a random selected biflow and its class neighbour.
//! * *free swap* (⅕): a carrier of `j` leaves, any unselected biflow enters (counts move).
//! * *single* (⅕): a carrier of `j` leaves (or enters), or any biflow enters (or leaves), within
//!   the gene bounds: a count share `c/n` near a rounding edge needs n to move, not c.
//! * *heavy* (⅕): the carrier with the most packets among 16 draws leaves, alone or for a
//!   random biflow — the move that undoes an elephant biflow the start happened to take
//!   (every other move shifts a window by one ordinary biflow at a time).
//!
//! Deterministic: one RNG stream `stream_rng(seed, stream, 0)` per run (`"repair"` from the
//! start, `"repair_after_ga"` after the GA).
use crate::genome::Individual;
use crate::local::{carriers, pick};
use crate::metrics::Model;
use flowlab_abi::seed::stream_rng;
use flowlab_abi::{Host, PluginError};
use rand::Rng;

/// Candidate moves evaluated per step.
pub const CANDIDATES: usize = 12;
/// Steps without a kept move after which the repair gives up (a local minimum).
pub const PATIENCE: u64 = 20_000;
/// How far (in positions of the class's packet-count order) a matched partner may be.
pub const NEIGHBOURHOOD: usize = 24;

/// Statistics of a repair run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RepairStats {
    /// Steps taken (each evaluates up to [`CANDIDATES`] moves).
    pub steps: u64,
    /// Candidate moves evaluated.
    pub proposals: u64,
    /// Moves kept.
    pub kept: u64,
    /// Kick-and-repair rounds run after the first repair (`restarts`).
    pub rounds: u64,
    /// Matched swaps made by the kicks.
    pub kicks: u64,
}

impl RepairStats {
    /// The counts of two runs added (`rounds` and `kicks` as well).
    pub fn plus(self, o: RepairStats) -> RepairStats {
        RepairStats { steps: self.steps + o.steps, proposals: self.proposals + o.proposals, kept: self.kept + o.kept, rounds: self.rounds + o.rounds, kicks: self.kicks + o.kicks }
    }
}

/// Biflows grouped by class (L3, size bin, protocol slot, port slots), each class sorted by a
/// secondary key: `order[pos[i]] = i`, the class of position p spans `range[class[i]]`.
struct Classes {
    order: Vec<u32>,
    pos: Vec<u32>,
    class: Vec<u32>,
    range: Vec<(u32, u32)>,
}

fn classes(model: &Model, secondary: impl Fn(usize) -> (u64, u64, u64)) -> Classes {
    let n = model.len();
    // the class key in mixed radix (v6, bin, protocol slot, source and destination port slot):
    // the same order as the packed key, dense enough for a counting sort on real profiles
    let (rb, rp, rq) = (model.n_bins.max(1) as u64, model.n_protos as u64 + 1, model.n_ports as u64 + 1);
    let slots = 2 * rb * rp * rq * rq;
    if slots > 4 * n as u64 + 1024 {
        return classes_sorted(model, secondary);
    }
    let dense = |i: usize| {
        let it = model.items[i];
        (((it.v6 as u64 * rb + it.bin as u64) * rp + it.proto as u64) * rq + it.sport as u64) * rq + it.dport as u64
    };
    // counting sort by class, then each class sorted by (secondary, index): the order of one
    // sort by (class key, secondary, index), at a fraction of its cost (smaller sorts of
    // smaller elements)
    let mut start = vec![0u32; slots as usize + 1];
    let slot: Vec<u32> = (0..n).map(|i| dense(i) as u32).collect();
    for &c in &slot {
        start[c as usize + 1] += 1;
    }
    for c in 0..slots as usize {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut keyed: Vec<((u64, u64, u64), u32)> = vec![((0, 0, 0), 0); n];
    for (i, &c) in slot.iter().enumerate() {
        keyed[fill[c as usize] as usize] = (secondary(i), i as u32);
        fill[c as usize] += 1;
    }
    drop(fill);
    let mut id = vec![u32::MAX; slots as usize];
    let mut range = Vec::new();
    for c in 0..slots as usize {
        let (a, b) = (start[c] as usize, start[c + 1] as usize);
        if a < b {
            keyed[a..b].sort_unstable();
            id[c] = range.len() as u32;
            range.push((a as u32, b as u32));
        }
    }
    let order: Vec<u32> = keyed.into_iter().map(|k| k.1).collect();
    let mut pos = vec![0u32; n];
    for (p, &i) in order.iter().enumerate() {
        pos[i as usize] = p as u32;
    }
    let class = slot.into_iter().map(|c| id[c as usize]).collect();
    Classes { order, pos, class, range }
}

/// [`classes`] by one sort of (class key, secondary, index), for a class space too sparse for
/// the counting sort.
fn classes_sorted(model: &Model, secondary: impl Fn(usize) -> (u64, u64, u64)) -> Classes {
    let key = |i: usize| {
        let it = model.items[i];
        (it.v6 as u64) << 32 | (it.bin as u64) << 24 | (it.proto as u64) << 16 | (it.sport as u64) << 8 | it.dport as u64
    };
    let n = model.len();
    // keys computed once (a comparator computing them was half of a 1M-row run)
    let mut keyed: Vec<(u64, (u64, u64, u64), u32)> = (0..n).map(|i| (key(i), secondary(i), i as u32)).collect();
    keyed.sort_unstable();
    let order: Vec<u32> = keyed.iter().map(|k| k.2).collect();
    let class_key: Vec<u64> = keyed.into_iter().map(|k| k.0).collect();
    let mut pos = vec![0u32; n];
    let mut class = vec![0u32; n];
    let mut range = Vec::new();
    let mut a = 0usize;
    while a < n {
        let k = class_key[a];
        let mut b = a;
        while b < n && class_key[b] == k {
            pos[order[b] as usize] = b as u32;
            class[order[b] as usize] = range.len() as u32;
            b += 1;
        }
        range.push((a as u32, b as u32));
        a = b;
    }
    Classes { order, pos, class, range }
}

impl Classes {
    /// A biflow of `i`'s class with selection state `want`, within [`NEIGHBOURHOOD`] positions
    /// of `i` in the secondary order (16 tries).
    fn partner<R: Rng>(&self, ind: &Individual, i: usize, want: bool, rng: &mut R) -> Option<usize> {
        let (a, b) = self.range[self.class[i] as usize];
        let p = self.pos[i] as i64;
        for _ in 0..16 {
            let off = rng.random_range(1..=NEIGHBOURHOOD as i64);
            let q = if rng.random::<bool>() { p + off } else { p - off };
            if q >= a as i64 && q < b as i64 {
                let c = self.order[q as usize] as usize;
                if ind.has(c) == want {
                    return Some(c);
                }
            }
        }
        None
    }
}

/// A move: biflows leaving and entering the sample.
#[derive(Debug, Clone, Copy)]
struct Move {
    out: Option<usize>,
    inn: Option<usize>,
}

fn apply(model: &Model, ind: &mut Individual, m: Move, forward: bool) {
    if let Some(o) = m.out {
        model.toggle(&mut ind.acc, o, !forward);
    }
    if let Some(i) = m.inn {
        model.toggle(&mut ind.acc, i, forward);
    }
}

/// Limits of one repair run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most steps.
    pub steps: u64,
    /// Margin as a fraction of the limit (`local_tau`).
    pub tau: f64,
    /// Gene bounds `(min, max)`.
    pub bounds: (usize, usize),
}

/// The per-profile tables of the repair (carriers and the two class orders), built once and
/// shared by every round ([`Repairer::run`]) and kick ([`Repairer::kick`]) of a task.
pub struct Repairer<'a> {
    model: &'a Model,
    car: crate::local::Carriers,
    by_pk: Classes,
    by_time: Option<Classes>,
}

impl<'a> Repairer<'a> {
    /// Builds the tables: O(N log N) for the two sorts plus O(Σ windows spanned).
    pub fn new(model: &'a Model) -> Self {
        let car = carriers(model);
        // partners with close packet counts, and (with windows) with the same last window and a
        // close start: such a pair differs mostly in the windows where one starts before the other
        let by_pk = classes(model, |i| (model.items[i].pk, model.items[i].by, 0));
        let by_time = model.windows.as_ref().map(|w| classes(model, |i| (((model.end_ns[i] - w.t0_ns) / w.len_ns) as u64, (model.start_ns[i] - w.t0_ns) as u64, model.items[i].pk)));
        Repairer { model, car, by_pk, by_time }
    }

    /// Perturbs `ind` by `k` random matched swaps (a selected biflow out, an unselected one of
    /// its class in, the partner drawn from the time order when windows are declared, else
    /// from the packet order): every count share and n stay exact, so the kick only moves
    /// the ratios and the windows — the part a stalled repair is stuck on. Returns the swaps
    /// made (a draw without a free partner is skipped).
    pub fn kick<R: Rng>(&self, ind: &mut Individual, k: usize, rng: &mut R) -> usize {
        let (model, n) = (self.model, self.model.len());
        let cls = self.by_time.as_ref().unwrap_or(&self.by_pk);
        let mut done = 0;
        for _ in 0..k {
            let Some(c) = pick(ind, n, true, None, rng) else { continue };
            let Some(p) = cls.partner(ind, c, false, rng) else { continue };
            let mv = Move { out: Some(c), inn: Some(p) };
            apply(model, ind, mv, true);
            flip(ind, mv);
            done += 1;
        }
        ind.rescore(model);
        done
    }

    /// Repairs `ind` in place with at most `budget.steps` steps; stops when it is acceptable
    /// or after [`PATIENCE`] steps without a kept move.
    pub fn run(&self, ind: &mut Individual, budget: Budget, seed_hex: &str, stream: &str, host: &Host) -> Result<RepairStats, PluginError> {
        let Repairer { model, car, by_pk, by_time } = self;
        let model: &Model = model;
        let Budget { steps, tau, bounds } = budget;
        let mut st = RepairStats::default();
        if steps == 0 || ind.score.acceptable || ind.ones == 0 || ind.ones == model.len() {
            return Ok(st);
        }
        let n = model.len();
        let soft = tau * model.limit_pct;
        let mut rng = stream_rng(seed_hex, stream, 0);
        let mut over = Vec::new();
        let mut cur = model.repair_objective(&ind.acc, soft, Some(&mut over));
        let mut last_kept = 0u64;
        while st.steps < steps && st.steps - last_kept < PATIENCE && !over.is_empty() && !model.score(&ind.acc).acceptable {
            if st.steps % 1024 == 0 {
                host.check_cancel()?;
                host.progress(st.steps, steps);
            }
            st.steps += 1;
            let (j, too_much) = over[rng.random_range(0..over.len())];
            let list = car.of(j);
            let from = (!list.is_empty()).then_some(list);
            let mut best: Option<(Move, f64)> = None;
            for _ in 0..CANDIDATES {
                let kind = rng.random_range(0..5u32);
                let mv = match kind {
                    0 | 1 => {
                        // matched swap: the carrier side leaves/enters, its class neighbour the other
                        let Some(c) = pick(ind, n, too_much, from, &mut rng) else { continue };
                        let cls = match by_time {
                            Some(t) if kind == 1 => t,
                            _ => by_pk,
                        };
                        let Some(p) = cls.partner(ind, c, !too_much, &mut rng) else { continue };
                        if too_much { Move { out: Some(c), inn: Some(p) } } else { Move { out: Some(p), inn: Some(c) } }
                    }
                    2 => {
                        let Some(c) = pick(ind, n, too_much, from, &mut rng) else { continue };
                        let Some(p) = pick(ind, n, !too_much, None, &mut rng) else { continue };
                        if too_much { Move { out: Some(c), inn: Some(p) } } else { Move { out: Some(p), inn: Some(c) } }
                    }
                    4 => {
                        // heavy: the carrier with the most packets of 16 draws leaves (enters); a
                        // random biflow takes its place, or none when the bounds allow. A ratio
                        // has no carriers and its direction says nothing about which side needs
                        // packets: the side is drawn.
                        let leave = if from.is_some() { too_much } else { rng.random::<bool>() };
                        let heavy = (0..16).filter_map(|_| pick(ind, n, leave, from, &mut rng)).max_by_key(|&c| model.items[c].pk);
                        let Some(c) = heavy else { continue };
                        let single = if leave { ind.ones > bounds.0 } else { ind.ones < bounds.1 };
                        let p = if single && rng.random::<bool>() {
                            None
                        } else {
                            // a swap partner is needed at the size bound: without one the
                            // move would leave `bounds` (n one past it)
                            let q = pick(ind, n, !leave, None, &mut rng);
                            if q.is_none() && !single {
                                continue;
                            }
                            q
                        };
                        if leave { Move { out: Some(c), inn: p } } else { Move { out: p, inn: Some(c) } }
                    }
                    _ => {
                        // single: a carrier leaves (enters); or, half the time, any biflow enters
                        // (leaves) — a share c/n also moves with n, and when c cannot move by one
                        // without overshooting, n has to. A ratio has no carriers: either side.
                        let (remove, pool) = match from {
                            Some(_) if rng.random::<bool>() => (!too_much, None),
                            Some(_) => (too_much, from),
                            None => (rng.random::<bool>(), None),
                        };
                        if (remove && ind.ones <= bounds.0) || (!remove && ind.ones >= bounds.1) {
                            continue;
                        }
                        let Some(c) = pick(ind, n, remove, pool, &mut rng) else { continue };
                        if remove { Move { out: Some(c), inn: None } } else { Move { out: None, inn: Some(c) } }
                    }
                };
                st.proposals += 1;
                apply(model, ind, mv, true);
                let e = model.repair_objective(&ind.acc, soft, None);
                apply(model, ind, mv, false);
                if best.as_ref().is_none_or(|(_, b)| e < *b) {
                    best = Some((mv, e));
                }
            }
            let Some((mv, e)) = best else { continue };
            if e < cur {
                apply(model, ind, mv, true);
                flip(ind, mv);
                cur = model.repair_objective(&ind.acc, soft, Some(&mut over));
                st.kept += 1;
                last_kept = st.steps;
            }
        }
        ind.rescore(model);
        host.progress(steps, steps);
        Ok(st)
    }
}

/// Updates the bits of `ind` for a move already applied to its accumulator.
fn flip(ind: &mut Individual, mv: Move) {
    if let Some(o) = mv.out {
        ind.words[o >> 6] ^= 1 << (o & 63);
        ind.ones -= 1;
    }
    if let Some(i) = mv.inn {
        ind.words[i >> 6] ^= 1 << (i & 63);
        ind.ones += 1;
    }
}

/// One repair run with freshly built tables ([`Repairer::run`]).
pub fn run(model: &Model, ind: &mut Individual, budget: Budget, seed_hex: &str, stream: &str, host: &Host) -> Result<RepairStats, PluginError> {
    Repairer::new(model).run(ind, budget, seed_hex, stream, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genome::random_words;
    use crate::metrics::{Variant, default_decls};

    #[test]
    fn repair_keeps_accumulator_exact_and_lowers_the_excess() {
        let recs = crate::generate::generate(&crate::generate::GenOptions { rows: 8000, seed: 11, ..Default::default() });
        let mut csv = Vec::new();
        crate::generate::write(&recs, &mut csv).unwrap();
        let p = crate::profile::read_from(&csv[..], "g").unwrap();
        let m = Model::new(&p, &default_decls(Variant::Windows), Variant::Windows, 0.02, 0.005, 0.005, 60).unwrap();
        let mut rng = flowlab_abi::seed::rng_from_u64(5, "t", 0);
        let mut ind = Individual::from_words(&m, random_words(m.len(), 4000, &mut rng));
        let e0 = m.repair_objective(&ind.acc, 0.9 * m.limit_pct, None);
        let st = run(&m, &mut ind, Budget { steps: 20_000, tau: 0.9, bounds: (3600, 4400) }, "ab", "repair", &Host::detached()).unwrap();
        assert!(st.kept > 0);
        assert!((3600..=4400).contains(&ind.ones));
        let fresh = Individual::from_words(&m, ind.words.clone());
        assert_eq!(fresh.acc, ind.acc);
        assert_eq!(fresh.ones, ind.ones);
        assert_eq!(fresh.score, ind.score);
        let e1 = m.repair_objective(&ind.acc, 0.9 * m.limit_pct, None);
        assert!(e1 < e0, "{e0:?} -> {e1:?}");
        assert!(ind.score.acceptable, "worst {}", ind.score.worst);
    }

    #[test]
    fn kick_keeps_every_count_share_and_the_accumulator_exact() {
        // random profiles and seeds: a kick moves only P, B and the windows (matched swaps)
        for seed in 0..6u64 {
            let recs = crate::generate::generate(&crate::generate::GenOptions { rows: 3000 + 700 * seed as usize, seed: 100 + seed, ..Default::default() });
            let mut csv = Vec::new();
            crate::generate::write(&recs, &mut csv).unwrap();
            let p = crate::profile::read_from(&csv[..], "g").unwrap();
            let m = Model::new(&p, &default_decls(Variant::Windows), Variant::Windows, 0.02, 0.005, 0.005, 60).unwrap();
            let mut rng = flowlab_abi::seed::rng_from_u64(seed, "t", 0);
            let mut ind = Individual::from_words(&m, random_words(m.len(), m.len() / 10, &mut rng));
            let before = ind.clone();
            let rep = Repairer::new(&m);
            let done = rep.kick(&mut ind, 50, &mut rng);
            assert!(done > 0 && done <= 50, "{done}");
            assert_ne!(ind.words, before.words);
            let fresh = Individual::from_words(&m, ind.words.clone());
            assert_eq!(fresh.acc, ind.acc);
            assert_eq!(fresh.score, ind.score);
            assert_eq!(ind.ones, before.ones);
            assert_eq!((ind.acc.n, ind.acc.n6), (before.acc.n, before.acc.n6));
            assert_eq!(ind.acc.bins, before.acc.bins);
            assert_eq!(ind.acc.protos, before.acc.protos);
            assert_eq!(ind.acc.ports, before.acc.ports);
        }
    }

    #[test]
    fn repair_and_restarts_stay_within_the_gene_bounds() {
        // a tight size range (n fixed) makes every size-changing move hit a bound
        for seed in 0..4u64 {
            let recs = crate::generate::generate(&crate::generate::GenOptions { rows: 6000, seed: 300 + seed, ..Default::default() });
            let mut csv = Vec::new();
            crate::generate::write(&recs, &mut csv).unwrap();
            let p = crate::profile::read_from(&csv[..], "g").unwrap();
            let m = Model::new(&p, &default_decls(Variant::Windows), Variant::Windows, 0.005, 0.005, 0.005, 5).unwrap();
            let mut rng = flowlab_abi::seed::rng_from_u64(seed, "t", 0);
            let mut ind = Individual::from_words(&m, random_words(m.len(), 600, &mut rng));
            let rep = Repairer::new(&m);
            rep.run(&mut ind, Budget { steps: 4000, tau: 0.9, bounds: (600, 600) }, "cd", "repair", &Host::detached()).unwrap();
            assert_eq!(ind.ones, 600);
            rep.kick(&mut ind, 40, &mut rng);
            rep.run(&mut ind, Budget { steps: 4000, tau: 0.9, bounds: (590, 600) }, "cd", "repair_round_1", &Host::detached()).unwrap();
            assert!((590..=600).contains(&ind.ones), "{}", ind.ones);
            let fresh = Individual::from_words(&m, ind.words.clone());
            assert_eq!(fresh.acc, ind.acc);
        }
    }

    #[test]
    fn counting_sort_classes_equal_the_full_sort() {
        for (seed, ports) in [(1u64, 0.005), (2, 0.0005), (3, 0.02)] {
            let recs = crate::generate::generate(&crate::generate::GenOptions { rows: 5000, seed: 400 + seed, ..Default::default() });
            let mut csv = Vec::new();
            crate::generate::write(&recs, &mut csv).unwrap();
            let p = crate::profile::read_from(&csv[..], "g").unwrap();
            let m = Model::new(&p, &default_decls(Variant::Windows), Variant::Windows, 0.005, 0.005, ports, 5).unwrap();
            let sec = |i: usize| (m.items[i].pk, m.items[i].by % 7, i as u64 % 3);
            let (a, b) = (classes(&m, sec), classes_sorted(&m, sec));
            assert_eq!((a.order, a.pos, a.class, a.range), (b.order, b.pos, b.class, b.range));
        }
    }
}
