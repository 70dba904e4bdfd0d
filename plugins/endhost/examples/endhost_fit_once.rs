//! One complete fit per (truth, dataset) of the `timing` design, no repetition: a small, fixed
//! workload for instruction counts (`valgrind --tool=callgrind`) and for comparing ℓ̂ between
//! code versions. Prints `truth rep model distinct ℓ̂ evaluations θ̂` per line.
//! `cargo run --release -p flowlab-endhost --example endhost_fit_once -- [reps] [n] [models] [truths]`
use endhost::data::Hist;
use endhost::fit::{FitOptions, fit_model};
use endhost::model::Model;
use endhost::sample::sample_model;
use flowlab_abi::seed::{rng_from_u64, stream_rng};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let reps: u64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let n: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let models: Vec<Model> = a.get(3).map(|s| s.split(',').filter_map(Model::parse).collect()).unwrap_or_else(|| vec![Model::EP, Model::EEP]);
    let truths: Vec<Model> = a.get(4).map(|s| s.split(',').filter_map(Model::parse).collect()).unwrap_or_else(|| vec![Model::P, Model::EP, Model::EEP]);
    let o = FitOptions::default();
    for truth in truths {
        let th: Vec<f64> = match truth {
            Model::P => vec![2.0],
            Model::EP => vec![0.4, 0.3, 2.0],
            Model::EEP => vec![0.3, 0.5, 0.8, 0.15, 2.0],
        };
        for r in 0..reps {
            let h = Hist::from_samples(&sample_model(&mut rng_from_u64(r, truth.as_str(), 0), truth, &th, n)).unwrap();
            for &m in &models {
                let f = fit_model(m, &h, &o, |i| stream_rng(&format!("timing/{r}"), "restart", i as u64));
                println!("{} {r} {} {} {:.10} {} {:?}", truth.as_str(), m.as_str(), h.distinct(), f.loglik, f.evaluations, f.theta);
            }
        }
    }
}
