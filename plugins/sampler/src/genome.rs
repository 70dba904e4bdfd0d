//! Bitset genomes with their metric accumulators and the GA operators of docs/sampler.md, "Genetic algorithm", each
//! updating the accumulator only for the genes it changes (docs/sampler.md, "Beyond the original").
use crate::metrics::{Acc, Model, Score};
use rand::Rng;

/// One individual: bit i set ⇔ biflow i (file order) is in the sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Individual {
    /// Bits, 64 per word (bits past N are always 0).
    pub words: Vec<u64>,
    /// Number of set bits.
    pub ones: usize,
    /// Metric accumulator of the subset.
    pub acc: Acc,
    /// Fitness evaluation.
    pub score: Score,
}

#[inline]
fn get(words: &[u64], i: usize) -> bool {
    words[i >> 6] >> (i & 63) & 1 == 1
}

impl Individual {
    /// Builds an individual from bits, computing the accumulator from scratch.
    pub fn from_words(model: &Model, words: Vec<u64>) -> Individual {
        let ones = words.iter().map(|w| w.count_ones() as usize).sum();
        let acc = model.acc_of_bits(&words);
        let score = model.score(&acc);
        Individual { words, ones, acc, score }
    }

    /// Whether biflow `i` is selected.
    #[inline]
    pub fn has(&self, i: usize) -> bool {
        get(&self.words, i)
    }

    /// Sets bit `i` to `on` (must differ from its current value), updating the accumulator.
    #[inline]
    pub fn flip(&mut self, model: &Model, i: usize, on: bool) {
        self.words[i >> 6] ^= 1u64 << (i & 63);
        if on {
            self.ones += 1
        } else {
            self.ones -= 1
        }
        model.toggle(&mut self.acc, i, on);
    }

    /// Re-scores after a batch of changes.
    pub fn rescore(&mut self, model: &Model) {
        self.score = model.score(&self.acc);
    }

    /// Selected indices in file order.
    pub fn indices(&self) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.ones);
        for (wi, &w) in self.words.iter().enumerate() {
            let mut x = w;
            while x != 0 {
                v.push(wi * 64 + x.trailing_zeros() as usize);
                x &= x - 1;
            }
        }
        v
    }
}

/// Copies `donor`'s genes in `[a, b)` into `base` (updating `base`'s accumulator for the
/// genes where the two differ).
fn take_range(model: &Model, base: &mut Individual, donor: &Individual, a: usize, b: usize) {
    if a >= b {
        return;
    }
    let (wa, wb) = (a >> 6, (b - 1) >> 6);
    for wi in wa..=wb {
        let mut mask = u64::MAX;
        if wi == wa {
            mask &= u64::MAX << (a & 63);
        }
        if wi == wb {
            let hi = b - wi * 64; // 1..=64
            if hi < 64 {
                mask &= (1u64 << hi) - 1;
            }
        }
        let mut x = (base.words[wi] ^ donor.words[wi]) & mask;
        while x != 0 {
            let bit = x.trailing_zeros() as usize;
            let i = wi * 64 + bit;
            let on = donor.words[wi] >> bit & 1 == 1;
            base.flip(model, i, on);
            x &= x - 1;
        }
    }
}

/// Two-point crossover (docs/sampler.md, "Genetic algorithm"): `A, B ~ U{0..N}`, sorted; children are copies of the
/// parents with genes `[A, B)` swapped. Each child is built from whichever parent differs
/// from it on fewer words (the range or its complement), so the accumulator work is
/// `O(min(B−A, N−B+A))` words plus the differing genes.
pub fn crossover<R: Rng>(model: &Model, p1: &Individual, p2: &Individual, rng: &mut R) -> (Individual, Individual) {
    let n = model.len();
    let mut a = rng.random_range(0..=n);
    let mut b = rng.random_range(0..=n);
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    if b - a <= n - (b - a) {
        let mut c1 = p1.clone();
        take_range(model, &mut c1, p2, a, b);
        let mut c2 = p2.clone();
        take_range(model, &mut c2, p1, a, b);
        (c1, c2)
    } else {
        // child 1 = p2 outside [a, b) replaced by p1
        let mut c1 = p2.clone();
        take_range(model, &mut c1, p1, 0, a);
        take_range(model, &mut c1, p1, b, n);
        let mut c2 = p1.clone();
        take_range(model, &mut c2, p2, 0, a);
        take_range(model, &mut c2, p2, b, n);
        (c1, c2)
    }
}

/// Mutation (docs/sampler.md, "Genetic algorithm"): shuffles the contiguous slice `[s, s+size)`, `s ~ U{0..N−size}`,
/// with a Fisher–Yates permutation (the number of selected biflows is unchanged).
pub fn mutate<R: Rng>(model: &Model, c: &mut Individual, size: usize, rng: &mut R) {
    let n = model.len();
    if size < 2 || size > n {
        return;
    }
    let s = rng.random_range(0..=n - size);
    let mut bits: Vec<bool> = (s..s + size).map(|i| c.has(i)).collect();
    for i in (1..size).rev() {
        let j = rng.random_range(0..=i);
        bits.swap(i, j);
    }
    for (k, &on) in bits.iter().enumerate() {
        if c.has(s + k) != on {
            c.flip(model, s + k, on);
        }
    }
}

/// Repair (docs/sampler.md, "Genetic algorithm"): while fewer than `min` genes, set a random unset gene; while more than
/// `max`, clear a random set gene (indices `U{0..N−1}`: the original's inclusive `N` is a
/// docs/sampler.md, "Bugs the plugin decides" bug).
pub fn repair<R: Rng>(model: &Model, c: &mut Individual, min: usize, max: usize, rng: &mut R) {
    let n = model.len();
    while c.ones < min {
        let i = rng.random_range(0..n);
        if !c.has(i) {
            c.flip(model, i, true);
        }
    }
    while c.ones > max {
        let i = rng.random_range(0..n);
        if c.has(i) {
            c.flip(model, i, false);
        }
    }
}

/// `k` distinct random genes out of `n` (rejection on the bitset; the complement is drawn
/// when `k > n/2`).
pub fn random_words<R: Rng>(n: usize, k: usize, rng: &mut R) -> Vec<u64> {
    let nw = n.div_ceil(64);
    let complement = k > n / 2;
    let target = if complement { n - k } else { k };
    let mut w = vec![0u64; nw];
    let mut c = 0;
    while c < target {
        let i = rng.random_range(0..n);
        if w[i >> 6] >> (i & 63) & 1 == 0 {
            w[i >> 6] |= 1 << (i & 63);
            c += 1;
        }
    }
    if complement {
        for x in w.iter_mut() {
            *x = !*x;
        }
        if !n.is_multiple_of(64) {
            let last = nw - 1;
            w[last] &= (1u64 << (n % 64)) - 1;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Variant, default_decls};
    use crate::profile::{HEADER, read_from};
    use flowlab_abi::seed::rng_from_u64;

    fn model(variant: Variant) -> Model {
        let mut t = format!("{HEADER}\n");
        let mut x: u64 = 12345;
        for _ in 0..1000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = x >> 33;
            let st = (r % 40_000) as i64 - 5_000;
            let en = st + (r % 7) as i64 * 3_000;
            let l3 = if r.is_multiple_of(5) { 6 } else { 4 };
            let l4 = [6, 6, 6, 17, 1][(r % 5) as usize];
            let pk = 1 + (r >> 7) % 50;
            writeln!(t, "{st},{en},{l3},{l4},{},{},{pk},{},0,0", [443, 80, 53, 22][(r >> 3) as usize % 4], 30000 + (r >> 9) % 3, pk * (40 + (r >> 11) % 1400)).unwrap();
        }
        let p = read_from(t.as_bytes(), "t").unwrap();
        Model::new(&p, &default_decls(variant), variant, 0.005, 0.005, 0.005, 5).unwrap()
    }
    use std::fmt::Write as _;

    #[test]
    fn incremental_operators_equal_recomputation() {
        for variant in [Variant::Readme, Variant::Windows] {
            let m = model(variant);
            let n = m.len();
            let mut rng = rng_from_u64(7, "t", 0);
            let p1 = Individual::from_words(&m, random_words(n, 100, &mut rng));
            let p2 = Individual::from_words(&m, random_words(n, 900, &mut rng));
            assert_eq!((p1.ones, p2.ones), (100, 900));
            for _ in 0..50 {
                let (mut c1, mut c2) = crossover(&m, &p1, &p2, &mut rng);
                assert_eq!(c1.ones + c2.ones, 1000);
                mutate(&m, &mut c1, 37, &mut rng);
                repair(&m, &mut c1, 300, 400, &mut rng);
                repair(&m, &mut c2, 300, 400, &mut rng);
                assert!((300..=400).contains(&c1.ones));
                for c in [&mut c1, &mut c2] {
                    c.rescore(&m);
                    let fresh = Individual::from_words(&m, c.words.clone());
                    assert_eq!(c.acc, fresh.acc);
                    assert_eq!(c.score, fresh.score);
                    assert_eq!(c.ones, fresh.ones);
                }
            }
        }
    }
}
