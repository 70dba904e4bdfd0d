//! em-compat against the 18 stored agh_2015 mixtures (docs/histfit.md, "Stored mixtures"): ≤ 1e-9 relative on
//! every parameter and |Δ ll per unit| < 1e-6 for all 18. The three all/size ones were fitted
//! by an older flow-models whose initial scale grid started at min x + U − 1 (= 63 there, as U
//! = 0), not min x + max(U, 1) − 1 (= 64) as in every PyPI release: they are refitted with
//! `InitialGrid::FlowModelsLegacy`, and with the default grid they must equal flow-models 2.2's
//! own refit (tests/fixtures/fm22_refit_all_size_*.json).
//!
//! Both tests read the shared data directory (skipped without it unless
//! `FLOWLAB_REQUIRE_DATA=1`, as in CI); the 18 fits take about 5 s in a release build.
mod common;
use flowlab_abi::Host;
use histfit::binned::Binned;
use histfit::em::{CompatOptions, em_compat};
use histfit::families::Family;
use histfit::hist::{Hist, YCol};
use histfit::initial::{Counts, InitialGrid, initial_mix};
use histfit::mixture::Mixture;
use std::path::Path;

struct Outcome {
    max_rel: f64,
    /// ours − stored binned ℓ per unit (docs/histfit.md, "Goodness of fit").
    dll: f64,
    /// ours − stored of flow-models' surrogate per unit (Σ c ln Σ π pdf(bin_lo) / Σ c: what its EM maximises).
    dq: f64,
    /// Against flow-models 2.2's own refit (tests/fixtures/fm22_refit_all_size_*.json), when present.
    fm22: Option<(f64, f64)>,
}

fn compare(fit: &Mixture, other: &Mixture) -> f64 {
    assert_eq!(fit.comps.len(), other.comps.len());
    let mut max_rel: f64 = 0.0;
    for (a, b) in fit.comps.iter().zip(&other.comps) {
        assert_eq!(a.dist.family, b.dist.family);
        let mut pairs = vec![(a.weight, b.weight)];
        pairs.extend(a.dist.args().into_iter().zip(b.dist.args()));
        for (u, v) in pairs {
            let r = if u == v { 0.0 } else { (u - v).abs() / v.abs().max(f64::MIN_POSITIVE) };
            max_rel = max_rel.max(r);
        }
    }
    max_rel
}

fn refit(data_dir: &Path, set: &str, x: &str, y: &str, grid: InitialGrid) -> Outcome {
    let mode: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data_dir.join(format!("agh_2015/mixtures/{set}/{x}/{y}.mode"))).unwrap()).unwrap();
    let stored = Mixture::from_json_str(&std::fs::read_to_string(data_dir.join(format!("agh_2015/mixtures/{set}/{x}/{y}.json"))).unwrap()).unwrap();
    let h = Hist::read(&data_dir.join(format!("agh_2015/histograms/{set}/{x}.csv"))).unwrap();
    let yc = match y {
        "flows" => YCol::Flows,
        "packets" => YCol::Packets,
        _ => YCol::Octets,
    };
    let data = Binned::new(&h, yc).unwrap();
    let n = |k: &str| mode["initial"][k].as_u64().unwrap_or(0) as usize;
    let counts = Counts(vec![(Family::Uniform, n("U")), (Family::Genpareto, n("P")), (Family::Lognorm, n("L"))]);
    let start = initial_mix(&counts, data.x[0], *data.x.last().unwrap(), grid).unwrap();
    let iters = mode["max_iter"].as_u64().unwrap();
    let fit = em_compat(&data, &start, CompatOptions { iterations: iters, mpw: None, trace: false }, &Host::detached(), None).unwrap();
    assert_eq!(fit.iterations, iters);
    assert_eq!(fit.mixture.sum, stored.sum, "{set}/{x}/{y}: sum");
    let max_rel = compare(&fit.mixture, &stored);
    let g1 = histfit::gof::gof(&data, &fit.mixture);
    let g0 = histfit::gof::gof(&data, &stored);
    let fm22 = std::fs::read_to_string(common::fixture(&format!("fm22_refit_{set}_{x}_{y}.json"))).ok().filter(|_| grid == InitialGrid::FlowModels).map(|t| {
        let m = Mixture::from_json_str(&t).unwrap();
        (compare(&fit.mixture, &m), (histfit::gof::gof(&data, &m).ll_per_unit - g1.ll_per_unit).abs())
    });
    // the surrogate of a mixture: em-compat's final scoring pass, after zero iterations
    let q0 = em_compat(&data, &stored, CompatOptions { iterations: 0, mpw: None, trace: false }, &Host::detached(), None).unwrap().objective();
    Outcome { max_rel, dll: g1.ll_per_unit - g0.ll_per_unit, dq: fit.objective() - q0, fm22 }
}

#[test]
fn parity_tutorial_flows() {
    let Some(d) = common::data_dir() else { return };
    let o = refit(&d, "all", "length", "flows", InitialGrid::FlowModels);
    eprintln!("all/length/flows: max rel {:.2e}, Δll {:.2e}", o.max_rel, o.dll);
    assert!(o.max_rel <= 1e-9, "max relative parameter difference {:.3e}", o.max_rel);
    assert!(o.dll.abs() < 1e-6);
}

#[test]
fn parity_all_18() {
    let Some(d) = common::data_dir() else { return };
    let mut exact = 0;
    let mut lines = vec![];
    let mut bad_ll: Vec<String> = vec![];
    let mut fm22_ok = true;
    for set in ["all", "tcp", "udp"] {
        for x in ["length", "size"] {
            for y in ["flows", "packets", "octets"] {
                let t = std::time::Instant::now();
                let legacy = set == "all" && x == "size";
                let grid = if legacy { InitialGrid::FlowModelsLegacy } else { InitialGrid::FlowModels };
                let o = refit(&d, set, x, y, grid);
                let tag = if legacy { " (legacy grid)" } else { "" };
                lines.push(format!("{set}/{x}/{y}{tag}: vs stored: max rel {:.2e}, Δll/unit {:+.2e}, Δsurrogate/unit {:+.2e} ({:.2} s)", o.max_rel, o.dll, o.dq, t.elapsed().as_secs_f64()));
                if o.dll.abs() >= 1e-6 || o.dq.abs() >= 1e-6 {
                    bad_ll.push(lines.last().unwrap().clone());
                }
                if o.max_rel <= 1e-9 {
                    exact += 1;
                }
                if legacy {
                    // the default grid: flow-models 2.2's refit, which misses the stored files
                    let o = refit(&d, set, x, y, InitialGrid::FlowModels);
                    let (r, l) = o.fm22.expect("fixture");
                    lines.push(format!("{set}/{x}/{y} (default grid): vs stored: max rel {:.2e}, Δll/unit {:+.2e}; vs flow-models 2.2 refit: max rel {r:.2e}, |Δll/unit| {l:.2e}", o.max_rel, o.dll));
                    fm22_ok &= r <= 1e-9 && l < 1e-9;
                }
            }
        }
    }
    eprintln!("{}", lines.join("\n"));
    assert_eq!(exact, 18, "only {exact} of 18 within 1e-9");
    assert!(bad_ll.is_empty(), "|Δll/unit| ≥ 1e-6: {bad_ll:?}");
    assert!(fm22_ok, "all/size with the default grid differs from flow-models 2.2's refit");
}
