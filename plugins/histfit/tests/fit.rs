//! `fit`, `selection` and the goodness of fit: the Python yardstick as oracle, the em-binned
//! targets, artifacts, multi-start and settings errors.
mod common;
use flowlab_abi::plugin::call;
use flowlab_abi::{Host, Termination};
use histfit::HistFit;
use histfit::binned::Binned;
use histfit::hist::{Hist, YCol};
use histfit::mixture::Mixture;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A small synthetic csv_hist (from generate_hist) for quick debug-mode fits.
fn synthetic(dir: &Path, flows: u64) -> PathBuf {
    let r = call(&HistFit, &common::request("generate_hist", json!({"flows": flows}), None, dir)).unwrap();
    dir.join(&r.artifacts[0].path)
}

#[test]
fn fit_writes_flow_models_json_gof_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let hist = synthetic(dir.path(), 50_000);
    let out = tempfile::tempdir().unwrap();
    let req = common::request("fit", json!({"families": {"uniform": 6, "lognorm": 4}, "iterations": 30}), Some(&hist), out.path());
    let r = call(&HistFit, &req).unwrap();
    assert_eq!(r.iterations, 30);
    assert_eq!(r.evaluations, 31);
    assert_eq!(r.termination, Termination::MaxIters);
    let text = std::fs::read_to_string(out.path().join("flows.json")).unwrap();
    let m = Mixture::from_json_str(&text).unwrap();
    assert_eq!(m.sum, Some(50_000));
    assert_eq!(m.to_json_text(), text, "the written JSON is in flow-models' exact layout");
    assert_eq!(r.data["mixture_json"].as_str().unwrap(), text);
    let mode = std::fs::read_to_string(out.path().join("flows.mode")).unwrap();
    assert!(mode.contains("\"y_value\": \"flows\", \"max_iter\": 30, \"initial\": {\"U\": 6, \"L\": 4}, \"max_pareto_w\": null}"), "{mode}");
    for f in ["cdf.svg", "cdf.png", "pdf-flows.svg", "pdf-flows.png"] {
        assert!(std::fs::metadata(out.path().join(f)).map(|m| m.len() > 1000).unwrap_or(false), "{f}");
    }
    // the GoF metrics equal an independent evaluation of the returned mixture
    let h = Hist::read(&hist).unwrap();
    let g = histfit::gof::gof(&Binned::new(&h, YCol::Flows).unwrap(), &m);
    assert_eq!(r.metrics["ll_per_unit"], json!(g.ll_per_unit));
    assert!(g.kl_nats >= 0.0 && g.kl_nats < 0.05, "KL {}", g.kl_nats);
    // em-compat keeps no trace by default (flow-models computes no likelihood): only the score
    // of the returned mixture
    let tr = |r: &flowlab_abi::Response| -> Vec<f64> { r.data["trace"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    assert_eq!(tr(&r), vec![r.metrics["objective"].as_f64().unwrap()]);
    // with `trace = true` it is the surrogate after each E-step, it rises, and the fit is the
    // same to the bit
    let out2 = tempfile::tempdir().unwrap();
    let req2 = common::request("fit", json!({"families": {"uniform": 6, "lognorm": 4}, "iterations": 30, "trace": true, "plots": false}), Some(&hist), out2.path());
    let r2 = call(&HistFit, &req2).unwrap();
    let t2 = tr(&r2);
    assert_eq!(t2.len(), 31);
    assert!(t2[30] > t2[1]);
    assert_eq!(t2[30], tr(&r)[0]);
    assert_eq!(std::fs::read_to_string(out2.path().join("flows.json")).unwrap(), text);
}

#[test]
fn em_binned_converges_monotonically_and_multistart_is_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let hist = synthetic(dir.path(), 50_000);
    let out = tempfile::tempdir().unwrap();
    let s = json!({"families": {"uniform": 2, "lognorm": 2}, "fitter": "em-binned", "iterations": 300, "tolerance": 1e-5, "starts": 3, "plots": false});
    let r = call(&HistFit, &common::request("fit", s.clone(), Some(&hist), out.path())).unwrap();
    let tr: Vec<f64> = r.data["trace"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    for w in tr.windows(2) {
        assert!(w[1] >= w[0] - 1e-12, "binned EM lowered ℓ: {} → {}", w[0], w[1]);
    }
    assert_eq!(r.termination, Termination::Converged, "tolerance 1e-5 must stop before 300 iterations");
    assert!(r.iterations < 300);
    let starts = r.data["starts"].as_array().unwrap();
    assert_eq!(starts.len(), 3);
    let best = starts.iter().map(|s| s["objective"].as_f64().unwrap()).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(r.metrics["objective"].as_f64().unwrap(), best);
    assert!((r.metrics["ll_per_unit"].as_f64().unwrap() - best).abs() < 1e-12, "em-binned's objective is the binned ℓ");
    // same request → same bytes; another seed → other perturbed starts
    let again = call(&HistFit, &common::request("fit", s.clone(), Some(&hist), out.path())).unwrap();
    assert_eq!(serde_json::to_string(&again.data["starts"]).unwrap(), serde_json::to_string(&r.data["starts"]).unwrap());
    let mut other = common::request("fit", s, Some(&hist), out.path());
    other.seed_hex = "77".into();
    let o = call(&HistFit, &other).unwrap();
    assert_ne!(o.data["starts"][1]["objective"], r.data["starts"][1]["objective"]);
    assert_eq!(o.data["starts"][0]["objective"], r.data["starts"][0]["objective"], "start 0 is flow-models' start");
}

#[test]
fn settings_errors() {
    let out = tempfile::tempdir().unwrap();
    let f = common::fixture("small_length.csv");
    for (s, key, msg) in [
        (json!({"families": {"pareto": 2}}), "families.pareto", "known families: uniform, lognorm, genpareto"),
        (json!({}), "families", "silently"),
        (json!({"families": {"lognorm": 0}}), "families", "no components"),
        (json!({"families": {"lognorm": 1}, "tolerance": 1e-6}), "tolerance", "em-compat always runs"),
        (json!({"families": {"lognorm": 1}, "initial": [[1, "lognorm", [1, 0, 2]]]}), "initial", "not both"),
        (json!({"initial": [[1, "norm", [3, 1]]], "fitter": "em-binned"}), "initial", "em-binned supports"),
        (json!({"families": {"gamma": 1}, "fitter": "em-binned"}), "families.gamma", "needs fitter = \"em-compat\""),
        (json!({"families": {"lognorm": 1}, "fitter": "em-fast"}), "fitter", "unknown variant"),
        (json!({"families": {"lognorm": 1}, "accel": "none"}), "accel", "`accel` applies to em-binned"),
        (json!({"families": {"lognorm": 1}, "fitter": "em-binned", "accel": "aitken"}), "accel", "unknown variant"),
        (json!({"initial": "no/such/mixture.json"}), "initial", "no such mixture file"),
    ] {
        let e = call(&HistFit, &common::request("fit", s.clone(), Some(&f), out.path())).unwrap_err();
        assert_eq!(e.path.as_deref().unwrap_or(""), key, "{s}: {e:?}");
        assert!(e.message.contains(msg), "{s}: {}", e.message);
    }
    let e = call(&HistFit, &common::request("selection", json!({"grid": {"lognorm": [1], "weibull": [1]}}), Some(&f), out.path())).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("grid.weibull"));
}

#[test]
fn selection_stores_every_candidate_and_picks_by_criterion() {
    let dir = tempfile::tempdir().unwrap();
    let hist = synthetic(dir.path(), 50_000);
    let out = tempfile::tempdir().unwrap();
    for crit in ["bic", "aic", "heldout"] {
        let s = json!({"grid": {"uniform": [0, 2], "lognorm": [1, 2]}, "iterations": 20, "criterion": crit});
        let r = call(&HistFit, &common::request("selection", s, Some(&hist), out.path())).unwrap();
        assert_eq!(r.candidates.len(), 4);
        let key = match crit {
            "bic" => "bic",
            "aic" => "aic",
            _ => "heldout_ll_per_unit",
        };
        let vals: Vec<f64> = r.candidates.iter().map(|c| c[key].as_f64().unwrap()).collect();
        let pick = if crit == "heldout" { vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max) } else { vals.iter().cloned().fold(f64::INFINITY, f64::min) };
        assert_eq!(r.data["selected"][key].as_f64().unwrap(), pick, "{crit}");
    }
}

/// Our GoF equals `flowmodels_gof.py` (the study's numpy/scipy yardstick, docs/design.md §9) within
/// 1e-9 relative on the 18 stored mixtures.
#[test]
fn gof_matches_python_yardstick_on_stored_mixtures() {
    let Some(d) = common::data_dir() else { return };
    let Some(py) = common::python() else { return };
    // the study's yardstick lives outside the repository (docs/design.md §9)
    let script = std::env::var_os("FLOWLAB_REFERENCE_DIR").map(|d| PathBuf::from(d).join("flowmodels_gof.py")).unwrap_or_default();
    if !script.is_file() {
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_REFERENCE", &format!("no flowmodels_gof.py, the yardstick, in FLOWLAB_REFERENCE_DIR ({}, docs/design.md §9)", script.display()));
        return;
    }
    let mut worst: f64 = 0.0;
    let mut checked = 0;
    for set in ["all", "tcp", "udp"] {
        for x in ["length", "size"] {
            let hp = d.join(format!("agh_2015/histograms/{set}/{x}.csv"));
            let mixes: Vec<PathBuf> = ["flows", "packets", "octets"].iter().map(|y| d.join(format!("agh_2015/mixtures/{set}/{x}/{y}.json"))).collect();
            let o = std::process::Command::new(&py).arg(&script).arg(&hp).args(&mixes).arg("--json").output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let h = Hist::read(&hp).unwrap();
            for (line, (y, mp)) in String::from_utf8(o.stdout).unwrap().lines().zip([YCol::Flows, YCol::Packets, YCol::Octets].iter().zip(&mixes)) {
                let want: Value = serde_json::from_str(line).unwrap();
                let m = Mixture::from_json_str(&std::fs::read_to_string(mp).unwrap()).unwrap();
                let g = histfit::gof::gof(&Binned::new(&h, *y).unwrap(), &m);
                let got = serde_json::to_value(&g).unwrap();
                for (ours, theirs) in [
                    ("ll_binned", "ll_binned"),
                    ("ll_per_unit", "ll_per_unit"),
                    ("ll_saturated_per_unit", "ll_saturated_per_unit"),
                    ("kl_nats", "kl_nats"),
                    ("em_objective_per_unit", "em_objective_per_unit"),
                    ("ks", "ks"),
                    ("ks_at_x", "ks_at_x"),
                    ("tv", "tv"),
                    ("model_mass_outside_bins", "model_mass_outside_bins"),
                    ("aic", "aic"),
                    ("bic", "bic"),
                    ("n", "N"),
                ] {
                    let (a, b) = (got[ours].as_f64().unwrap(), want[theirs].as_f64().unwrap());
                    let rel = if a == b { 0.0 } else { (a - b).abs() / b.abs().max(1e-300) };
                    // the off-bin mass is a difference 1 − Σp: compare it absolutely
                    let ok = if ours == "model_mass_outside_bins" { (a - b).abs() < 1e-12 } else { rel <= 1e-9 };
                    assert!(ok, "{set}/{x}/{}: {ours} ours {a:e} python {b:e} (rel {rel:e})", y.name());
                    if ours != "model_mass_outside_bins" {
                        worst = worst.max(rel);
                    }
                }
                assert_eq!(got["k"], want["k"]);
                assert_eq!(got["bins"], want["bins"]);
                assert_eq!(got["zero_p_bins"], want["zero_p_bins"]);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 18);
    eprintln!("GoF vs flowmodels_gof.py: 18 mixtures, worst relative difference {worst:.2e}");
}

/// em-binned targets on all/length flows, U6 L4 (docs/histfit.md, "em-binned"): KL ≤ 8.0e-4, KS ≤ 2.0e-3.
/// About 2 s in a release build (400 iterations of the exact binned EM on 23 782 bins).
#[test]
fn em_binned_meets_targets_on_all_length_flows() {
    let Some(d) = common::data_dir() else { return };
    let h = Hist::read(&d.join("agh_2015/histograms/all/length.csv")).unwrap();
    let data = Binned::new(&h, YCol::Flows).unwrap();
    let c = histfit::initial::Counts(vec![(histfit::families::Family::Uniform, 6), (histfit::families::Family::Lognorm, 4)]);
    let start = histfit::initial::initial_mix(&c, 1.0, *data.x.last().unwrap(), histfit::initial::InitialGrid::FlowModels).unwrap();
    let fit = histfit::em::em_binned(
        &data,
        &start,
        histfit::em::BinnedOptions { max_iterations: 1000, tolerance: 1e-10, trace: true, mpw: None, accel: histfit::em_binned::Accel::Squarem, polish: true },
        &Host::detached(),
        None,
    )
    .unwrap();
    let g = histfit::gof::gof(&data, &fit.mixture);
    eprintln!("em-binned: {} iterations ({:?}), ll/unit {:.6}, KL {:.3e}, KS {:.3e}", fit.iterations, fit.termination, g.ll_per_unit, g.kl_nats, g.ks);
    assert!(g.kl_nats <= 8.0e-4 && g.ks <= 2.0e-3);
    let compat = histfit::gof::gof(&data, &Mixture::from_json_str(histfit::sampling::TUTORIAL_FLOWS).unwrap());
    assert!(g.kl_nats < compat.kl_nats && g.ks < compat.ks / 4.0);
}

/// One em-binned fit of `data` from flow-models' start for `counts`, tolerance 1e-9.
fn fit_binned(
    data: &Binned,
    counts: &[(histfit::families::Family, usize)],
    accel: histfit::em_binned::Accel,
    polish: bool,
    max_iterations: u64,
    pool: Option<&rayon::ThreadPool>,
) -> histfit::em::FitOutcome {
    let start = histfit::initial::initial_mix(&histfit::initial::Counts(counts.to_vec()), data.x[0], *data.x.last().unwrap(), histfit::initial::InitialGrid::FlowModels).unwrap();
    histfit::em::em_binned(data, &start, histfit::em::BinnedOptions { max_iterations, tolerance: 1e-9, trace: true, mpw: None, accel, polish }, &Host::detached(), pool).unwrap()
}

/// The default em-binned (SQUAREM with the quasi-Newton polish) against plain EM at its cap
/// of 1000 steps and SQUAREM alone (cap 3000), the independent computations being those two
/// fitters: it converges to tolerance 1e-9 within `cap` iterations, its ℓ is at least plain
/// EM's and at least SQUAREM alone's less `slack` per unit (two fits that each stopped where
/// one EM step gains < 1e-9 on a flat ridge end at different points of it), and its accepted
/// iterates never lower ℓ. Returns the default fit.
fn assert_polish_no_worse(what: &str, data: &Binned, counts: &[(histfit::families::Family, usize)], cap: u64, slack: f64) -> histfit::em::FitOutcome {
    use histfit::em_binned::Accel;
    let plain = fit_binned(data, counts, Accel::None, false, 1000, None);
    let sq = fit_binned(data, counts, Accel::Squarem, false, 3000, None);
    let qn = fit_binned(data, counts, Accel::Squarem, true, cap, None);
    eprintln!(
        "{what}: default {} iterations ({:?}), ℓ {:.10}; SQUAREM alone {} ({:?}), ℓ {:.10}; plain EM {} ({:?}), ℓ {:.10}",
        qn.iterations,
        qn.termination,
        qn.objective(),
        sq.iterations,
        sq.termination,
        sq.objective(),
        plain.iterations,
        plain.termination,
        plain.objective()
    );
    assert_eq!(qn.termination, Termination::Converged, "{what}: {} iterations", qn.iterations);
    assert!(qn.iterations < cap, "{what}");
    assert!(qn.objective() >= plain.objective(), "{what}: ℓ {} below plain EM's {}", qn.objective(), plain.objective());
    assert!(qn.objective() >= sq.objective() - slack, "{what}: ℓ {} below SQUAREM alone's {}", qn.objective(), sq.objective());
    for w in qn.trace.windows(2) {
        assert!(w[1] >= w[0], "{what}: an accepted iterate lowered ℓ");
    }
    qn
}

/// How far below SQUAREM alone's ℓ per unit the default may end (see
/// [`assert_polish_no_worse`]): on flows udp/length U6 L4 ends 2.2e-8 below it, the other 11
/// at or above (`docs/histfit.md`); none below plain EM's.
const SLACK: f64 = 5e-8;

/// [`SLACK`] on the held-out columns: tcp/length packets U6 P1 L4 ends 4.4e-7 per packet below
/// SQUAREM alone (both converged, 1130 and 1462 iterations; `docs/histfit.md`).
const HELD_OUT_SLACK: f64 = 1e-6;

/// The two families of `docs/histfit.md`, "em-binned convergence".
fn u6_l4_and_u6_p1_l4() -> [(&'static str, Vec<(histfit::families::Family, usize)>); 2] {
    use histfit::families::Family;
    [("U6 L4", vec![(Family::Uniform, 6), (Family::Lognorm, 4)]), ("U6 P1 L4", vec![(Family::Uniform, 6), (Family::Genpareto, 1), (Family::Lognorm, 4)])]
}

const AGH_SETS: [&str; 6] = ["all/length", "all/size", "tcp/length", "tcp/size", "udp/length", "udp/size"];

/// em-binned's default (SQUAREM + quasi-Newton polish) on the six agh_2015 histograms (flows;
/// U6 L4 and U6 P1 L4 from flow-models' start; `docs/histfit.md` "em-binned convergence"):
/// every one of the 12 fits reaches tolerance 1e-9 (one EM step raising ℓ per flow by less)
/// in fewer than 1000 iterations (every E-step of the polish counts as one), at an ℓ at least
/// plain EM's after its 1000 steps and, within [`SLACK`], SQUAREM alone's
/// ([`assert_polish_no_worse`]).
/// About 60 CPU-s in a release build.
#[test]
fn em_binned_squarem_converges_on_agh_2015() {
    let Some(d) = common::data_dir() else {
        eprintln!("SKIPPED em_binned_squarem_converges_on_agh_2015: no agh_2015 data dir (set FLOWLAB_DATA_DIR)");
        return;
    };
    for set in AGH_SETS {
        let data = Binned::new(&Hist::read(&d.join(format!("agh_2015/histograms/{set}.csv"))).unwrap(), YCol::Flows).unwrap();
        for (name, counts) in u6_l4_and_u6_p1_l4() {
            assert_polish_no_worse(&format!("{set} flows {name}"), &data, &counts, 1000, SLACK);
        }
    }
}

/// Held-out columns: the same comparison on the packets and octets columns of the six agh_2015
/// histograms (held out: the polish's constants were chosen on flows), cap 3000 for the
/// default (they are not part of the < 1000 target), ℓ within [`HELD_OUT_SLACK`] of SQUAREM
/// alone's. About 3 CPU-min in a release build, so it runs in CI (`.ci/run`), not by default:
/// `cargo test --release -p flowlab-histfit --test fit -- --ignored`.
#[test]
#[ignore = "3 CPU-min; .ci/run runs it"]
fn em_binned_polish_no_worse_on_packets_and_octets() {
    let Some(d) = common::data_dir() else {
        eprintln!("SKIPPED em_binned_polish_no_worse_on_packets_and_octets: no agh_2015 data dir (set FLOWLAB_DATA_DIR)");
        return;
    };
    for set in AGH_SETS {
        let h = Hist::read(&d.join(format!("agh_2015/histograms/{set}.csv"))).unwrap();
        for col in [YCol::Packets, YCol::Octets] {
            let data = Binned::new(&h, col).unwrap();
            for (name, counts) in u6_l4_and_u6_p1_l4() {
                assert_polish_no_worse(&format!("{set} {} {name}", col.name()), &data, &counts, 3000, HELD_OUT_SLACK);
            }
        }
    }
}

/// Property: on random synthetic histograms (`generate_hist`, random seed and flow count; the
/// three columns; random component counts U 1–6, P 0–1, L 1–4) the default em-binned fit is
/// no worse than plain EM and SQUAREM alone ([`assert_polish_no_worse`], cap 3000), and it is
/// the same to the bit with one thread and with three.
#[test]
fn em_binned_polish_no_worse_on_random_histograms() {
    use histfit::families::Family;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_pcg::Pcg64::seed_from_u64(2015);
    let pools = [1, 3].map(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap());
    for case in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let mut req = common::request("generate_hist", json!({"flows": rng.random_range(20_000..400_000u64)}), None, dir.path());
        req.seed_hex = format!("{:064x}", rng.random::<u64>());
        let r = call(&HistFit, &req).unwrap();
        let h = Hist::read(&dir.path().join(&r.artifacts[0].path)).unwrap();
        let col = YCol::ALL[case % 3];
        let data = Binned::new(&h, col).unwrap();
        let mut counts = vec![(Family::Uniform, rng.random_range(1..=6usize))];
        if rng.random_bool(0.5) {
            counts.push((Family::Genpareto, 1));
        }
        counts.push((Family::Lognorm, rng.random_range(1..=4usize)));
        let fit = assert_polish_no_worse(&format!("case {case}: {} {counts:?}", col.name()), &data, &counts, 3000, SLACK);
        let threaded = pools.each_ref().map(|p| fit_binned(&data, &counts, histfit::em_binned::Accel::Squarem, true, 3000, Some(p)));
        for t in &threaded {
            assert_eq!(t.mixture.to_json_text(), fit.mixture.to_json_text(), "case {case}: the thread count changed the fit");
            assert_eq!(t.trace.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), fit.trace.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "case {case}");
        }
    }
}

/// `initial` as a path (flow-models' `--initial FILE`): a bare-list mixture file, a
/// `{"sum", "mix"}` file and a mixture directory (its `<column>.json`) give the same fit, to
/// the byte, as the same mixture inline; a missing file, a directory without the column's
/// file and a malformed file are config errors naming `initial` and the file.
#[test]
fn initial_from_a_file_or_directory_equals_inline() {
    let f = common::fixture("small_length.csv");
    let mix = json!([[0.5, "uniform", [0, 3]], [0.3, "lognorm", [1.0, 0, 20.0]], [0.2, "lognorm", [0.5, 0, 300.0]]]);
    let d = tempfile::tempdir().unwrap();
    let list = d.path().join("start.json");
    std::fs::write(&list, mix.to_string()).unwrap();
    let obj = d.path().join("start_obj.json");
    std::fs::write(&obj, json!({"sum": 5, "mix": mix}).to_string()).unwrap();
    std::fs::create_dir(d.path().join("model")).unwrap();
    std::fs::write(d.path().join("model/flows.json"), mix.to_string()).unwrap();
    let fit = |initial: Value| {
        let out = tempfile::tempdir().unwrap();
        let r = call(&HistFit, &common::request("fit", json!({"initial": initial, "iterations": 20, "plots": false}), Some(&f), out.path()));
        r.map(|_| std::fs::read_to_string(out.path().join("flows.json")).unwrap())
    };
    let inline = fit(mix.clone()).unwrap();
    for p in [&list, &obj, &d.path().join("model")] {
        assert_eq!(fit(json!(p.to_str().unwrap())).unwrap(), inline, "{}", p.display());
    }
    std::fs::write(d.path().join("bad.json"), "[[0.5, \"uniform\"").unwrap();
    for (p, msg) in [(d.path().join("nope.json"), "no such mixture file"), (d.path().to_path_buf(), "has no flows.json"), (d.path().join("bad.json"), "bad.json")] {
        let e = fit(json!(p.to_str().unwrap())).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("initial"), "{e:?}");
        assert!(e.message.contains(msg), "{}: {}", p.display(), e.message);
    }
}

/// A start far in the data's tails (one narrow lognormal, or one beside a uniform): the rows or
/// bins at the edge of its support have a mixture density near the subnormal range, where c/Σ
/// alone overflows (docs/histfit.md, "Numerics of far tails"). Both fitters end with finite
/// parameters; em-binned's log-likelihood is finite and never decreases once finite.
#[test]
fn starts_far_in_the_tails_give_finite_fits() {
    let mut csv = String::from("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n");
    for x in 1..=3000u64 {
        let c = 1 + (x * 7919 % 101) + 5000 / x;
        csv.push_str(&format!("{x},{},{c},{c},{c}\n", x + 1));
    }
    let data = Binned::new(&Hist::parse(&csv, "synthetic").unwrap(), YCol::Flows).unwrap();
    let starts =
        ["[[1.0, \"lognorm\", [0.02, 0, 300.0]]]", "[[1.0, \"lognorm\", [0.1, 0, 20.0]]]", "[[0.5, \"uniform\", [0, 3]], [0.5, \"lognorm\", [0.03, 0, 60.0]]]", "[[0.3, \"norm\", [50.0, 3.0]]]"];
    let finite = |m: &Mixture| m.comps.iter().all(|c| c.weight.is_finite() && c.dist.args().iter().all(|a| a.is_finite()));
    for s in starts {
        let start = Mixture::from_json_str(s).unwrap();
        let compat = histfit::em::em_compat(&data, &start, histfit::em::CompatOptions { iterations: 30, mpw: None, trace: false }, &Host::detached(), None).unwrap();
        assert!(finite(&compat.mixture), "em-compat from {s}: {:?}", compat.mixture.comps);
        if s.contains("norm\", [50") {
            continue; // em-binned fits uniform, lognorm and genpareto only
        }
        let opts = histfit::em::BinnedOptions { max_iterations: 300, tolerance: 1e-10, trace: true, mpw: None, accel: histfit::em_binned::Accel::Squarem, polish: true };
        let fit = histfit::em::em_binned(&data, &start, opts, &Host::detached(), None).unwrap();
        assert!(finite(&fit.mixture) && fit.objective().is_finite(), "em-binned from {s}: {:?}, ℓ {}", fit.mixture.comps, fit.objective());
        let finite_trace: Vec<f64> = fit.trace.iter().copied().skip_while(|l| !l.is_finite()).collect();
        assert!(finite_trace.windows(2).all(|w| w[1] >= w[0]), "em-binned from {s}: ℓ decreased: {finite_trace:?}");
    }
}
