//! Cross-check against the Python reference (docs/endhost.md, "Accuracy targets" A): datasets dumped by
//! the Python peer `endhost_ref.py` (docs/design.md §9; `table2`/`fig1 --dump-data`) are fitted by flowlab and
//! compared with the reference's fits:
//! * P: |α̂ − α̂_ref| ≤ 1e-9 (exact score equation on both sides);
//! * EP fits and EEP fits on EEP data: ℓ̂ ≥ ℓ̂_ref − 1e-3; EEP fits on EP data: ℓ̂ ≥ ℓ̂_ref − 2;
//! * ln BF(EP:P) agrees within 2e-3 wherever both found the same EP optimum (ℓ̂ within 1e-3);
//! * the selected model agrees wherever the reference's deciding ln BF is more than 2 away
//!   from the threshold 10.
//!
//! Needs Python with numpy + scipy (`FLOWLAB_PYTHON`, default `python3`); skipped when they
//! are missing unless `FLOWLAB_REQUIRE_PYTHON=1`.
use endhost::data::Hist;
use endhost::fit::{FitOptions, fit_model};
use endhost::model::Model;
use endhost::select::{SelectionRule, select};
use flowlab_abi::seed::stream_rng;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

mod common;
use common::python;

fn run_ref(py: &str, script: &PathBuf, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.json");
    let o = Command::new(py).arg(script).args(args).args(["--dump-data", "--workers", "1", "--out", out.to_str().unwrap()]).output().expect("run the reference");
    assert!(o.status.success(), "reference failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

fn hist(case: &Value) -> Hist {
    let v = case["data"]["values"].as_array().unwrap();
    let c = case["data"]["counts"].as_array().unwrap();
    Hist::from_pairs(v.iter().zip(c).map(|(a, b)| (a.as_u64().unwrap(), b.as_u64().unwrap()))).unwrap()
}

fn fit(m: Model, h: &Hist, key: &str) -> endhost::fit::Fit {
    let name = format!("restart/{}", m.as_str());
    fit_model(m, h, &FitOptions::default(), |i| stream_rng(key, &name, i as u64))
}

#[test]
fn table2_datasets_match_the_reference() {
    let Some((py, script)) = python() else { return };
    let r = run_ref(&py, &script, &["table2", "--cases", "4", "--sizes", "1000,5000", "--seed", "4242"]);
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    let (mut worst_ep, mut worst_eep_eep, mut worst_eep_ep, mut compared, mut agreed) = (f64::INFINITY, f64::INFINITY, f64::INFINITY, 0, 0);
    for (i, c) in cases.iter().enumerate() {
        let h = hist(c);
        let refm = &c["ipm"];
        let key = format!("crosscheck/{i}");
        let fits: Vec<_> = [Model::P, Model::EP, Model::EEP].iter().map(|&m| fit(m, &h, &key)).collect();
        let a_ref = refm["theta"]["P"][0].as_f64().unwrap();
        assert!((fits[0].theta[0] - a_ref).abs() <= 1e-9, "case {i}: P α {} vs ref {a_ref}", fits[0].theta[0]);
        let d_ep = fits[1].loglik - refm["loglik"]["EP"].as_f64().unwrap();
        let d_eep = fits[2].loglik - refm["loglik"]["EEP"].as_f64().unwrap();
        worst_ep = worst_ep.min(d_ep);
        assert!(d_ep >= -1e-3, "case {i}: EP ℓ̂ {} below the reference by {}", fits[1].loglik, -d_ep);
        if c["truth"] == "EEP" {
            worst_eep_eep = worst_eep_eep.min(d_eep);
            assert!(d_eep >= -1e-3, "case {i}: EEP-on-EEP ℓ̂ below the reference by {}", -d_eep);
        } else {
            worst_eep_ep = worst_eep_ep.min(d_eep);
            assert!(d_eep >= -2.0, "case {i}: EEP-on-EP ℓ̂ below the reference by {}", -d_eep);
        }
        let dec = select(&fits, &SelectionRule::default()).unwrap();
        let (b1, b2) = (refm["lnbf_EP_P"].as_f64().unwrap(), refm["lnbf_EEP_EP"].as_f64().unwrap());
        let sel_ref = refm["selected"].as_str().unwrap();
        // docs/endhost.md, "Accuracy targets" A6: ln BF(EP:P) within 1e-3 where both sides found the same EP optimum
        let ours_b1 = dec.comparisons[0].ln_bf;
        if d_ep.abs() <= 1e-3 {
            assert!((ours_b1 - b1).abs() <= 2e-3, "case {i}: ln BF(EP:P) {ours_b1} vs ref {b1}");
        }
        // the rule's deciding values: b1 always, b2 only when EP won
        let clear = (b1 - 10.0).abs() > 2.0 && (b1 <= 10.0 || (b2 - 10.0).abs() > 2.0);
        if clear {
            compared += 1;
            assert_eq!(dec.winner.as_str(), sel_ref, "case {i}: selection differs (ref ln BF {b1:.3}, {b2:.3}; ours {:?})", dec.comparisons);
            agreed += 1;
        }
    }
    println!("EP Δℓ min {worst_ep:.2e}; EEP-on-EEP Δℓ min {worst_eep_eep:.2e}; EEP-on-EP Δℓ min {worst_eep_ep:.2e}; selection agreed {agreed}/{compared}");
    assert!(compared >= 10);
}

#[test]
fn fig1_datasets_match_the_reference() {
    let Some((py, script)) = python() else { return };
    let r = run_ref(&py, &script, &["fig1", "--cases", "3", "--alphas", "1.5,2.3,2.9", "--n", "10000", "--seed", "99"]);
    for (i, c) in r["cases"].as_array().unwrap().iter().enumerate() {
        let h = hist(c);
        let f = fit(Model::EP, &h, &format!("fig1/{i}"));
        let ll_ref = c["ipm"]["loglik"].as_f64().unwrap();
        assert!(f.loglik >= ll_ref - 1e-3, "case {i}: EP ℓ̂ {} vs ref {ll_ref}", f.loglik);
        // same optimum: α̂ within 0.05 SE of the reference (docs/endhost.md, "Accuracy targets" A4)
        let (a, a_ref, se_ref) = (f.theta[2], c["ipm"]["alpha"].as_f64().unwrap(), c["ipm"]["se"][2].as_f64().unwrap());
        if (f.loglik - ll_ref).abs() < 1e-3 {
            assert!((a - a_ref).abs() <= 0.05 * se_ref, "case {i}: α̂ {a} vs ref {a_ref} (SE {se_ref})");
        }
        assert!(!f.trapped_pi1);
    }
}
