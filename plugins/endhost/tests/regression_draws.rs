//! Reference draws flowlab once fitted below the reference's maximum (`tests/data/regression_draws.json`,
//! written by `tests/ref_draws.py`: data sampled and fitted by the Python reference, each with the
//! reason it was missed in `why`; docs/endhost.md, "Starts"). Each must now reach ℓ̂_ref − 10⁻⁶
//! for P, EP and EEP, whatever the random restarts: the key `examples/never_worse.rs` uses and
//! three others. Needs no Python: the reference's ℓ̂ are stored.
use endhost::data::Hist;
use endhost::fit::{FitOptions, fit_nested_models};
use serde_json::Value;

#[test]
fn every_recorded_miss_reaches_the_references_maximum() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/regression_draws.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let draws = v["draws"].as_array().unwrap();
    assert!(draws.len() >= 9);
    let o = FitOptions::default();
    let mut misses = vec![];
    for d in draws {
        let num = |x: &Value| x.as_u64().unwrap();
        let pairs = d["values"].as_array().unwrap().iter().map(num).zip(d["counts"].as_array().unwrap().iter().map(num));
        let h = Hist::from_pairs(pairs).unwrap();
        assert_eq!(h.n as u64, d["n"].as_u64().unwrap());
        let name = format!("seed {} draw {}", d["seed"], d["i"]);
        for key in [format!("never-worse/{}", d["i"]), "a".into(), "b".into(), "c".into()] {
            for f in fit_nested_models(&h, &o, &key) {
                let m = f.model.as_str();
                let bar = d["ref"][m]["loglik"].as_f64().unwrap();
                if f.loglik < bar - 1e-6 {
                    misses.push(format!("{name} ({}), key {key}: {m} ℓ̂ {} below the reference's {bar} by {:.3e}; θ {:?}", d["why"], f.loglik, bar - f.loglik, f.theta));
                }
            }
        }
    }
    assert!(misses.is_empty(), "{} misses:\n{}", misses.len(), misses.join("\n"));
}
