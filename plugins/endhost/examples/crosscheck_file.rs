//! Fits every dataset of a reference dump (`endhost_ref.py table2|fig1 --dump-data --out F`)
//! and summarises ℓ̂ − ℓ̂_ref per model, selection agreement, evaluations and time:
//! `cargo run --release -p flowlab-endhost --example crosscheck_file -- F.json [method] [nested 0|1]`
use endhost::data::Hist;
use endhost::fit::{FitOptions, Method, fit_nested_models};
use endhost::select::{SelectionRule, select};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&a[1]).expect("dump file")).expect("JSON");
    let method: Method = serde_json::from_value(serde_json::json!(a.get(2).map(|s| s.as_str()).unwrap_or("ipm"))).expect("method");
    let nested = a.get(3).map(|s| s != "0").unwrap_or(true);
    let o = FitOptions { method, nested_starts: nested, ..FitOptions::default() };
    let (mut ev, mut secs) = (0u64, 0.0);
    let mut worst = [f64::INFINITY; 3];
    let mut bad = [0usize; 3];
    let (mut agree, mut clear) = (0, 0);
    for (i, c) in v["cases"].as_array().unwrap().iter().enumerate() {
        let vals = c["data"]["values"].as_array().unwrap();
        let cnts = c["data"]["counts"].as_array().unwrap();
        let h = Hist::from_pairs(vals.iter().zip(cnts).map(|(x, y)| (x.as_u64().unwrap(), y.as_u64().unwrap()))).unwrap();
        let key = format!("x/{i}");
        let t0 = Instant::now();
        let [p, ep, eep] = fit_nested_models(&h, &o, &key);
        secs += t0.elapsed().as_secs_f64();
        ev += p.evaluations + ep.evaluations + eep.evaluations;
        let r = &c["ipm"];
        let truth_eep = c["truth"] == "EEP";
        let d_ep = ep.loglik - r["loglik"]["EP"].as_f64().unwrap();
        let d_eep = eep.loglik - r["loglik"]["EEP"].as_f64().unwrap();
        worst[0] = worst[0].min(d_ep);
        if d_ep < -1e-3 {
            bad[0] += 1;
        }
        let k = if truth_eep { 1 } else { 2 };
        worst[k] = worst[k].min(d_eep);
        if d_eep < if truth_eep { -1e-3 } else { -2.0 } {
            bad[k] += 1;
            eprintln!("case {i} truth {} n {}: EEP Δℓ {d_eep:.3}", c["truth"], c["n"]);
        }
        let fits = [p, ep, eep];
        let d = select(&fits, &SelectionRule::default()).unwrap();
        let (b1, b2) = (r["lnbf_EP_P"].as_f64().unwrap(), r["lnbf_EEP_EP"].as_f64().unwrap());
        if (b1 - 10.0).abs() > 2.0 && (b1 <= 10.0 || (b2 - 10.0).abs() > 2.0) {
            clear += 1;
            agree += (d.winner.as_str() == r["selected"].as_str().unwrap()) as usize;
        }
    }
    println!(
        "method {} nested {nested}: worst Δℓ EP {:.2e} (bad {}), EEP-on-EEP {:.2e} (bad {}), EEP-on-EP {:.3} (bad {}); selection {agree}/{clear}; evals {ev}; fit time {secs:.3} s",
        method.as_str(),
        worst[0],
        bad[0],
        worst[1],
        bad[1],
        worst[2],
        bad[2]
    );
}
