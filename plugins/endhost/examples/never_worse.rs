//! Fits every draw of a `tests/ref_draws.py` file with P, EP and EEP (default options, the
//! EEP nested starts from the EP fit, as `fit` and `fit_users` do) and prints, per model, the
//! smallest ℓ̂ − ℓ̂_ref, the draws below the reference by more than 1e-6, and the CPU time of
//! all fits (one thread): `cargo run --release -p flowlab-endhost --example never_worse -- F.json`
//! (`FITTER='{"polish": false}'` sets fitter options as JSON; `NW_DUMP=out.tsv` writes ℓ̂ of P,
//! EP and EEP per draw, to compare two versions draw by draw).
use endhost::data::Hist;
use endhost::fit::{FitOptions, fit_model, fit_model_nested};
use endhost::model::Model;
use flowlab_abi::seed::stream_rng;
use std::time::Instant;

mod common;
use common::cpu_now;

fn main() {
    let wall = Instant::now();
    let a: Vec<String> = std::env::args().collect();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&a[1]).expect("draws file")).expect("JSON");
    // FITTER='{"polish": false}' overrides fitter options (before/after comparisons)
    let o: FitOptions = std::env::var("FITTER").ok().map(|j| serde_json::from_str(&j).expect("FITTER: FitOptions JSON")).unwrap_or_default();
    let mut worst = [f64::INFINITY; 3];
    let mut below = [0usize; 3];
    let mut cpu = [0.0f64; 3];
    let draws = v["draws"].as_array().expect("draws");
    let mut dump = String::new();
    for d in draws {
        let vals = d["values"].as_array().unwrap();
        let cnts = d["counts"].as_array().unwrap();
        let h = Hist::from_pairs(vals.iter().zip(cnts).map(|(x, y)| (x.as_u64().unwrap(), y.as_u64().unwrap()))).unwrap();
        let key = format!("never-worse/{}", d["i"]);
        let c0 = cpu_now(&wall);
        let p = fit_model(Model::P, &h, &o, |j| stream_rng(&key, "restart/P", j as u64));
        let c1 = cpu_now(&wall);
        let ep = fit_model(Model::EP, &h, &o, |j| stream_rng(&key, "restart/EP", j as u64));
        let c2 = cpu_now(&wall);
        let eep = fit_model_nested(Model::EEP, &h, &o, |j| stream_rng(&key, "restart/EEP", j as u64), Some(&ep));
        let c3 = cpu_now(&wall);
        dump += &format!("{}\t{:.17e}\t{:.17e}\t{:.17e}\n", d["i"], p.loglik, ep.loglik, eep.loglik);
        for (k, (f, t)) in [(&p, c1 - c0), (&ep, c2 - c1), (&eep, c3 - c2)].into_iter().enumerate() {
            cpu[k] += t;
            let gap = f.loglik - d["ref"][f.model.as_str()]["loglik"].as_f64().unwrap();
            worst[k] = worst[k].min(gap);
            if gap < -1e-6 {
                below[k] += 1;
                println!(
                    "draw {} truth {} θ {} n {}: {} ℓ̂ {:.4} below the reference by {:.3e} (ours {:?}, ref {})",
                    d["i"],
                    d["model"],
                    d["theta"],
                    d["n"],
                    f.model.as_str(),
                    f.loglik,
                    -gap,
                    f.theta,
                    d["ref"][f.model.as_str()]["theta"]
                );
            }
        }
    }
    if let Ok(path) = std::env::var("NW_DUMP") {
        std::fs::write(&path, dump).expect("NW_DUMP: writable file");
    }
    for (k, m) in ["P", "EP", "EEP"].iter().enumerate() {
        println!("{m}: min ℓ̂ − ℓ̂_ref {:.3e}, below by > 1e-6: {}/{}, CPU {:.3} s ({:.3} ms per fit)", worst[k], below[k], draws.len(), cpu[k], 1e3 * cpu[k] / draws.len() as f64);
    }
}
