//! Runs the full Fig. 1 and Table 2 designs (100 cases per cell) through the plugin's Rust API
//! and prints the summary rows next to the reference, with wall time:
//! `cargo run --release -p flowlab-endhost --example validate -- [cases] [threads] [methods]`
use endhost::fit::Method;
use endhost::validate::{Fig1Settings, Table2Settings, run_fig1, run_table2};
use flowlab_abi::Host;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cases: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let methods = args.get(3).cloned().unwrap_or_else(|| "ipm".into());
    let seed = "20130414";
    let f1: Fig1Settings = serde_json::from_value(serde_json::json!({"cases": cases, "methods": methods.split(',').collect::<Vec<_>>()})).unwrap();
    f1.check().unwrap();
    let t0 = Instant::now();
    let st = run_fig1(&f1, seed, threads, &Host::detached()).unwrap();
    let (rows, ev, capped) = (st.rows, st.evaluations, st.capped);
    let t1 = t0.elapsed().as_secs_f64();
    println!("Fig. 1: {cases} cases per alpha, {t1:.2} s, {ev} evaluations, capped {capped}");
    for r in &rows {
        for m in f1.methods.iter() {
            let q = &r["methods"][m.as_str()];
            println!(
                "  alpha {:.1} {:>8}: median {:+.3}% [{:+.2}, {:+.2}] |med| {:.3}% within5 {:.2} trapped {} worse>1 {} z sd {:.2} | ref median {:+.3}% IQR [{:+.2}, {:+.2}] within5 {:.2}",
                r["alpha"].as_f64().unwrap(),
                m.as_str(),
                100.0 * q["median_relerr"].as_f64().unwrap(),
                100.0 * q["q25_relerr"].as_f64().unwrap(),
                100.0 * q["q75_relerr"].as_f64().unwrap(),
                100.0 * q["median_absrelerr"].as_f64().unwrap(),
                q["frac_within_5pct"].as_f64().unwrap(),
                q["trapped_pi1"],
                q["worse_than_best_by_1"],
                q["z_sd"].as_f64().unwrap_or(f64::NAN),
                100.0 * r["reference"]["median_relerr"].as_f64().unwrap_or(f64::NAN),
                100.0 * r["reference"]["q25_relerr"].as_f64().unwrap_or(f64::NAN),
                100.0 * r["reference"]["q75_relerr"].as_f64().unwrap_or(f64::NAN),
                r["reference"]["frac_within_5pct"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }
    let mut t2: Table2Settings = serde_json::from_value(serde_json::json!({"cases": cases})).unwrap();
    t2.check().unwrap();
    t2.fitter.method = f1.methods[0].fitter().unwrap_or(Method::Ipm);
    let t0 = Instant::now();
    let st = run_table2(&t2, seed, threads, &Host::detached()).unwrap();
    let (rows, ev, capped) = (st.rows, st.evaluations, st.capped);
    let t3 = t0.elapsed().as_secs_f64();
    println!("Table 2: {cases} cases per cell, {t3:.2} s, {ev} evaluations, capped {capped}");
    let mut worst = 0.0f64;
    for r in &rows {
        let ours = if r["scenario"] == "EEP vs EP | EP data" { r["pairwise_correct"].as_f64().unwrap() } else { r["sequential_correct"].as_f64().unwrap() };
        let refv = if r["scenario"] == "EEP vs EP | EP data" { r["reference"]["pairwise_correct"].as_f64() } else { r["reference"]["sequential_correct"].as_f64() };
        if let Some(rv) = refv {
            worst = worst.max((ours - rv).abs());
        }
        println!(
            "  {:<22} n {:>6}: median lnBF {:>8.2} [{:>7.2}, {:>7.2}] correct {:.2} selected {} | ref median {:>8.2} correct {:.2} | Laplace-BIC {:.2}",
            r["scenario"].as_str().unwrap(),
            r["n"],
            r["median_lnbf"].as_f64().unwrap(),
            r["q10_lnbf"].as_f64().unwrap(),
            r["q90_lnbf"].as_f64().unwrap(),
            ours,
            r["selected"],
            r["reference"]["median_lnbf"].as_f64().unwrap_or(f64::NAN),
            refv.unwrap_or(f64::NAN),
            r["median_laplace_minus_bic"].as_f64().unwrap_or(f64::NAN),
        );
    }
    println!("max |selection rate - reference| = {:.0} points; total {:.2} s", 100.0 * worst, t1 + t3);
}
