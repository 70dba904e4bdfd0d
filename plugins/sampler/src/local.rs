//! Opt-in swap local search (docs/sampler.md, "Beyond the original", better search): exchange one selected and one
//! unselected biflow, keep the swap when the excess objective
//! `L = Σ max(0, d − τ)²` (τ = `tau`·limit, every deviation including each window) drops,
//! or stays equal while the fitness rises. Half of the proposals are targeted at the
//! deviation furthest above τ: if the sample has too much of it, a selected biflow carrying
//! it (same protocol / port / size bin / overlapping window) leaves; if too little, an
//! unselected carrier enters. A quarter of the proposals add or remove one biflow instead
//! (within the gene bounds). Each proposal costs O(windows spanned + #deviations) through the
//! incremental accumulators. Deterministic: one RNG stream.
use crate::genome::Individual;
use crate::metrics::{Metric, Model};
use flowlab_abi::seed::stream_rng;
use flowlab_abi::{Host, PluginError};
use rand::Rng;

/// Biflows carrying each flat deviation index (CSR): those whose addition or removal changes
/// that deviation's numerator (same protocol / port / size bin, overlapping window).
pub(crate) struct Carriers {
    start: Vec<usize>,
    list: Vec<u32>,
}

impl Carriers {
    /// The biflows carrying deviation `j` (empty for ratios and the L3 shares).
    pub(crate) fn of(&self, j: usize) -> &[u32] {
        &self.list[self.start[j]..self.start[j + 1]]
    }
}

pub(crate) fn carriers(model: &Model) -> Carriers {
    let mut bases = Vec::new();
    let mut j = 0;
    for m in &model.metrics {
        bases.push(j);
        j += model.arity(m);
    }
    let total = j;
    let each = |i: usize, f: &mut dyn FnMut(usize)| {
        let it = model.items[i];
        for (m, &b) in model.metrics.iter().zip(&bases) {
            match m {
                Metric::Protos(_) if (it.proto as usize) < model.n_protos => f(b + it.proto as usize),
                Metric::Ports(_) => {
                    if (it.sport as usize) < model.n_ports {
                        f(b + it.sport as usize)
                    }
                    if (it.dport as usize) < model.n_ports && it.dport != it.sport {
                        f(b + it.dport as usize)
                    }
                }
                Metric::PktSize(_) => f(b + it.bin as usize),
                Metric::Windows(_) => {
                    if let Some((s, e)) = model.window_span(i) {
                        (s..=e).for_each(|k| f(b + k))
                    }
                }
                _ => {}
            }
        }
    };
    let mut count = vec![0usize; total + 1];
    for i in 0..model.len() {
        each(i, &mut |j| count[j + 1] += 1);
    }
    for k in 0..total {
        count[k + 1] += count[k];
    }
    let mut fill = count.clone();
    let mut list = vec![0u32; count[total]];
    for i in 0..model.len() {
        each(i, &mut |j| {
            list[fill[j]] = i as u32;
            fill[j] += 1;
        });
    }
    Carriers { start: count, list }
}

/// Result of a local search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalStats {
    /// Proposals evaluated.
    pub proposals: u64,
    /// Moves kept (swaps, additions, removals).
    pub accepted_swaps: u64,
}

/// A random biflow with selection state `want`, from `from` when given (64 tries).
pub(crate) fn pick<R: Rng>(ind: &Individual, n: usize, want: bool, from: Option<&[u32]>, rng: &mut R) -> Option<usize> {
    for _ in 0..64 {
        let i = match from {
            Some(l) if !l.is_empty() => l[rng.random_range(0..l.len())] as usize,
            Some(_) => return None,
            None => rng.random_range(0..n),
        };
        if ind.has(i) == want {
            return Some(i);
        }
    }
    None
}

/// Improves `ind` in place with at most `moves` proposals; stops early when acceptable.
/// A quarter of the proposals add or remove a single biflow (within `[min, max]` genes), so
/// the sample size can move too (shares of rare keys are ratios of small integers).
pub fn search(model: &Model, ind: &mut Individual, moves: u64, tau: f64, bounds: (usize, usize), seed_hex: &str, host: &Host) -> Result<LocalStats, PluginError> {
    let mut st = LocalStats::default();
    if moves == 0 || ind.score.acceptable || ind.ones == 0 || ind.ones == model.len() {
        return Ok(st);
    }
    let car = carriers(model);
    let n = model.len();
    let thr = tau * model.limit_pct;
    let mut rng = stream_rng(seed_hex, "local", 0);
    let (mut cur, mut worst) = model.excess(&ind.acc, thr);
    while st.proposals < moves {
        if st.proposals % 4096 == 0 {
            host.check_cancel()?;
            host.progress(st.proposals, moves);
        }
        st.proposals += 1;
        let targeted = rng.random::<bool>();
        let single = rng.random_range(0..4u32) == 0;
        let list = |j: usize| &car.list[car.start[j]..car.start[j + 1]];
        if single {
            // add or remove one biflow (targeted at the worst deviation when it has carriers)
            let carried = worst.filter(|&(j, _)| targeted && car.start[j + 1] > car.start[j]);
            let remove = match carried {
                Some((_, too_much)) => too_much,
                None => rng.random::<bool>(),
            };
            let from = carried.map(|(j, _)| list(j));
            let cand = if remove && ind.ones > bounds.0 {
                pick(ind, n, true, from, &mut rng)
            } else if !remove && ind.ones < bounds.1 {
                pick(ind, n, false, from, &mut rng)
            } else {
                None
            };
            let Some(i) = cand else { continue };
            model.toggle(&mut ind.acc, i, !remove);
            let (e, w) = model.excess(&ind.acc, thr);
            if e < cur || (e == cur && model.score(&ind.acc).raw > ind.score.raw) {
                ind.words[i >> 6] ^= 1 << (i & 63);
                if remove {
                    ind.ones -= 1
                } else {
                    ind.ones += 1
                }
                ind.rescore(model);
                cur = e;
                worst = w;
                st.accepted_swaps += 1;
                if ind.score.acceptable {
                    break;
                }
            } else {
                model.toggle(&mut ind.acc, i, remove);
            }
            continue;
        }
        let (out_i, in_i) = match (targeted, worst) {
            (true, Some((j, too_much))) if car.start[j + 1] > car.start[j] => {
                if too_much {
                    (pick(ind, n, true, Some(list(j)), &mut rng), pick(ind, n, false, None, &mut rng))
                } else {
                    (pick(ind, n, true, None, &mut rng), pick(ind, n, false, Some(list(j)), &mut rng))
                }
            }
            _ => (pick(ind, n, true, None, &mut rng), pick(ind, n, false, None, &mut rng)),
        };
        let (Some(o), Some(i)) = (out_i, in_i) else { continue };
        model.toggle(&mut ind.acc, o, false);
        model.toggle(&mut ind.acc, i, true);
        let (e, w) = model.excess(&ind.acc, thr);
        let better = e < cur || (e == cur && model.score(&ind.acc).raw > ind.score.raw);
        if better {
            ind.words[o >> 6] ^= 1 << (o & 63);
            ind.words[i >> 6] ^= 1 << (i & 63);
            ind.rescore(model);
            cur = e;
            worst = w;
            st.accepted_swaps += 1;
            if ind.score.acceptable {
                break;
            }
        } else {
            model.toggle(&mut ind.acc, i, false);
            model.toggle(&mut ind.acc, o, true);
        }
    }
    host.progress(moves, moves);
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genome::random_words;
    use crate::metrics::{Variant, default_decls};

    #[test]
    fn local_search_keeps_accumulator_exact_and_improves() {
        let recs = crate::generate::generate(&crate::generate::GenOptions { rows: 6000, seed: 3, ..Default::default() });
        let mut csv = Vec::new();
        crate::generate::write(&recs, &mut csv).unwrap();
        let p = crate::profile::read_from(&csv[..], "g").unwrap();
        let m = Model::new(&p, &default_decls(Variant::Windows), Variant::Windows, 0.005, 0.005, 0.005, 60).unwrap();
        let mut rng = flowlab_abi::seed::rng_from_u64(3, "t", 0);
        let mut ind = Individual::from_words(&m, random_words(m.len(), 3000, &mut rng));
        let before = ind.score;
        let (e0, _) = m.excess(&ind.acc, 0.9 * m.limit_pct);
        let st = search(&m, &mut ind, 30_000, 0.9, (2700, 3300), "ab", &Host::detached()).unwrap();
        assert!(st.accepted_swaps > 0);
        assert!((2700..=3300).contains(&ind.ones));
        let fresh = Individual::from_words(&m, ind.words.clone());
        assert_eq!(fresh.acc, ind.acc);
        assert_eq!(fresh.ones, ind.ones);
        assert_eq!(fresh.score, ind.score);
        let (e1, _) = m.excess(&ind.acc, 0.9 * m.limit_pct);
        assert!(e1 < e0 && ind.score.worst < before.worst, "excess {e0} -> {e1}, worst {} -> {}", before.worst, ind.score.worst);
    }
}
