//! Criterion benches: one complete multi-restart fit per model at n = 10⁴ (P: 1 start, EP: 5,
//! EEP: 10; method `ipm`), one log-likelihood + gradient evaluation per model, and the
//! reference's `ipm_nash` for comparison. Data: the Python reference's timing truths
//! (P: α = 2; EP: (0.4, 0.3, 2.0); EEP: (0.3, 0.5, 0.8, 0.15, 2.0)), docs/endhost.md, "Reference timings".
use criterion::{Criterion, criterion_group, criterion_main};
use endhost::data::Hist;
use endhost::fit::{FitOptions, Method, fit_model};
use endhost::model::Model;
use endhost::sample::sample_model;
use flowlab_abi::seed::{rng_from_u64, stream_rng};
use std::hint::black_box;

fn truths() -> Vec<(Model, Vec<f64>)> {
    vec![(Model::P, vec![2.0]), (Model::EP, vec![0.4, 0.3, 2.0]), (Model::EEP, vec![0.3, 0.5, 0.8, 0.15, 2.0])]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fit_n10000");
    for (m, th) in truths() {
        let h = Hist::from_samples(&sample_model(&mut rng_from_u64(1, "bench", 0), m, &th, 10_000)).unwrap();
        for method in [Method::Ipm, Method::IpmNash] {
            if m == Model::P && method != Method::Ipm {
                continue;
            }
            let o = FitOptions { method, ..FitOptions::default() };
            g.bench_function(format!("{}_{}_distinct{}", m.as_str(), method.as_str(), h.distinct()), |b| {
                b.iter(|| black_box(fit_model(m, &h, &o, |i| stream_rng("bench", "restart", i as u64)).loglik))
            });
        }
        let mut grad = vec![0.0; th.len()];
        g.bench_function(format!("loglik_grad_{}", m.as_str()), |b| b.iter(|| black_box(m.loglik(black_box(&th), &h, Some(&mut grad)))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
