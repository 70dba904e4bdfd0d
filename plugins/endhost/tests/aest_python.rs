//! `aest` against a second implementation in numpy (`tests/aest_check.py`, written from the
//! formulas of `docs/endhost.md`, "aest"): on zeta and EP samples of the crate's sampler (12
//! datasets, raw and centred block sums), the same scaling points and â within 1e-9 relative.
//! Needs Python with numpy (`FLOWLAB_PYTHON`); skipped otherwise unless `FLOWLAB_REQUIRE_PYTHON=1`.
use endhost::aest::{AestOptions, aest};
use endhost::model::Model;
use endhost::sample::sample_model;
use flowlab_abi::seed::rng_from_u64;
use std::process::Command;

mod common;

#[test]
fn aest_matches_numpy() {
    let Some((py, _)) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let truths: [(Model, &[f64]); 4] = [(Model::P, &[1.6]), (Model::P, &[2.4]), (Model::EP, &[0.5, 0.3, 1.8]), (Model::EP, &[0.3, 0.5, 2.7])];
    let mut samples = vec![];
    for (t, (model, th)) in truths.iter().enumerate() {
        for seed in 0..3u64 {
            let x: Vec<f64> = sample_model(&mut rng_from_u64(seed, "aest-py", t as u64), *model, th, 10_000).into_iter().map(|v| v as f64).collect();
            let path = dir.path().join(format!("s{t}_{seed}.txt"));
            std::fs::write(&path, x.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
            samples.push((path, x));
        }
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aest_check.py");
    for center in [false, true] {
        let o = AestOptions { center, ..AestOptions::default() };
        let mut cmd = Command::new(&py);
        cmd.arg(script).args([o.levels.to_string(), o.min_blocks.to_string(), o.tail.to_string(), o.points.to_string(), o.tol.to_string(), (center as u8).to_string()]);
        cmd.args(samples.iter().map(|(p, _)| p));
        let out = cmd.output().expect("run tests/aest_check.py");
        assert!(out.status.success(), "aest_check.py: {}", String::from_utf8_lossy(&out.stderr));
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let mut compared = 0;
        for ((path, x), r) in samples.iter().zip(&v) {
            let a = aest(x, &o);
            assert_eq!(a.pairs as u64, r["pairs"].as_u64().unwrap(), "{}", path.display());
            assert_eq!(a.scaling_points as u64, r["scaling_points"].as_u64().unwrap(), "{} (center {center})", path.display());
            match r["tail_index"].as_f64() {
                Some(t) => {
                    assert!((a.tail_index - t).abs() <= 1e-9 * t.abs(), "{} (center {center}): {} vs numpy {t}", path.display(), a.tail_index);
                    compared += 1;
                }
                None => assert!(a.tail_index.is_nan()),
            }
        }
        assert!(compared >= 8, "center {center}: only {compared} datasets had an estimate");
    }
}
