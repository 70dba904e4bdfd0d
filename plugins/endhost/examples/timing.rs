//! Seconds per complete multi-restart fit at n (default 10⁴), the Python reference's `timing`
//! design (docs/endhost.md, "Reference timings"): truths P α = 2, EP (0.4, 0.3, 2.0), EEP (0.3, 0.5, 0.8, 0.15, 2.0); fits
//! P (1 start), EP (5), EEP (10 + 3 nested); `reps` datasets each; one thread. Prints JSON with
//! the reference's keys (`<method>|data=<truth>|fit=<model>`), plus one log-likelihood+gradient
//! evaluation in µs; CPU time of the thread, as the reference measures CPU time. `cargo run --release -p flowlab-endhost --example timing -- [reps] [n] [methods]`
use endhost::data::Hist;
use endhost::fit::{FitOptions, Method, fit_model};
use endhost::model::Model;
use endhost::sample::sample_model;
use flowlab_abi::seed::{rng_from_u64, stream_rng};
use serde_json::json;
use std::time::Instant;

mod common;
use common::cpu_now;

fn main() {
    let wall = Instant::now();
    let a: Vec<String> = std::env::args().collect();
    let reps: u64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(6);
    let n: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let methods = a.get(3).cloned().unwrap_or_else(|| "ipm".into());
    let truths = [(Model::P, vec![2.0]), (Model::EP, vec![0.4, 0.3, 2.0]), (Model::EEP, vec![0.3, 0.5, 0.8, 0.15, 2.0])];
    let mut out = serde_json::Map::new();
    for meth in methods.split(',') {
        let method: Method = serde_json::from_value(json!(meth)).expect("method name");
        let o = FitOptions { method, ..FitOptions::default() };
        for (truth, th) in &truths {
            for m in [Model::P, Model::EP, Model::EEP] {
                let (mut secs, mut evals, mut uniq) = (0.0, 0.0, 0.0);
                for r in 0..reps {
                    let h = Hist::from_samples(&sample_model(&mut rng_from_u64(r, truth.as_str(), 0), *truth, th, n)).unwrap();
                    let t0 = Instant::now();
                    let c0 = cpu_now(&wall);
                    let mut k = 0;
                    // repeat short fits so the clock resolution does not matter
                    let mut f = None;
                    while k < 5 || t0.elapsed().as_secs_f64() < 0.05 {
                        f = Some(fit_model(m, &h, &o, |i| stream_rng(&format!("timing/{r}"), "restart", i as u64)));
                        k += 1;
                    }
                    secs += (cpu_now(&wall) - c0) / k as f64;
                    evals += f.unwrap().evaluations as f64;
                    uniq += h.distinct() as f64;
                }
                let rs = FitOptions::default().restarts(m);
                out.insert(
                    format!("{meth}|data={}|fit={}", truth.as_str(), m.as_str()),
                    json!({"restarts": rs, "mean_cpu_s_per_fit": secs / reps as f64, "mean_fn_evals_per_fit": evals / reps as f64, "mean_unique_values": uniq / reps as f64}),
                );
            }
        }
    }
    let h = Hist::from_samples(&sample_model(&mut rng_from_u64(9, "EEP", 0), Model::EEP, &[0.3, 0.5, 0.8, 0.15, 2.0], n)).unwrap();
    for (m, th) in truths.iter().map(|(m, t)| (*m, t.clone())) {
        let mut g = vec![0.0; th.len()];
        let c0 = cpu_now(&wall);
        let reps = 200_000;
        let mut acc = 0.0;
        for _ in 0..reps {
            acc += m.loglik(std::hint::black_box(&th), &h, Some(&mut g));
        }
        std::hint::black_box(acc);
        out.insert(format!("loglik+grad_cpu_us|{}|unique={}", m.as_str(), h.distinct()), json!((cpu_now(&wall) - c0) / reps as f64 * 1e6));
    }
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
