//! criterion benches: profile loading, metric evaluation (full recomputation vs. score from an
//! accumulator) and one GA generation, on a generated 1M-biflow profile (100k with
//! `SAMPLER_BENCH_ROWS=100000`).
use criterion::{Criterion, criterion_group, criterion_main};
use flowlab_abi::seed::rng_from_u64;
use sampler::genome::{Individual, crossover, mutate, random_words, repair};
use sampler::metrics::{Model, Variant, default_decls};
use sampler::{generate, profile};
use std::hint::black_box;

fn rows() -> usize {
    std::env::var("SAMPLER_BENCH_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000)
}

fn bench(c: &mut Criterion) {
    let n = rows();
    let recs = generate::generate(&generate::GenOptions { rows: n, seed: 1, ..Default::default() });
    let mut csv = Vec::new();
    generate::write(&recs, &mut csv).unwrap();
    let mut g = c.benchmark_group(format!("sampler_{n}"));
    g.sample_size(10);
    g.bench_function("load_profile", |b| b.iter(|| profile::read_from(black_box(&csv[..]), "bench").unwrap()));
    let prof = profile::read_from(&csv[..], "bench").unwrap();
    for variant in [Variant::Readme, Variant::Windows] {
        let name = format!("{variant:?}").to_lowercase();
        let m = Model::new(&prof, &default_decls(variant), variant, 0.005, 0.005, 0.005, 5).unwrap();
        let mut rng = rng_from_u64(1, "bench", 0);
        let words = random_words(n, n / 10, &mut rng);
        g.bench_function(format!("metrics_full_eval_10pct_{name}"), |b| b.iter(|| Individual::from_words(&m, black_box(words.clone()))));
        let ind = Individual::from_words(&m, words.clone());
        g.bench_function(format!("metrics_score_from_acc_{name}"), |b| b.iter(|| m.score(black_box(&ind.acc))));
        // one generation's offspring work (8 pairs, sequential): crossover, mutation, repair, score
        let pop: Vec<Individual> = (0..16).map(|_| Individual::from_words(&m, random_words(n, n / 10, &mut rng))).collect();
        let (lo, hi) = (n * 9 / 100, n * 11 / 100);
        g.bench_function(format!("one_generation_16_{name}"), |b| {
            b.iter(|| {
                let mut r = rng_from_u64(2, "gen", 0);
                for j in 0..8 {
                    let (mut c1, mut c2) = crossover(&m, &pop[2 * j], &pop[2 * j + 1], &mut r);
                    for ch in [&mut c1, &mut c2] {
                        mutate(&m, ch, n / 200, &mut r);
                        repair(&m, ch, lo, hi, &mut r);
                        ch.rescore(&m);
                    }
                    black_box((c1, c2));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
