//! `generate_traces` → `fit_traces` against the generator's ground truth (`docs/endhost.md`,
//! "Per-user study from flow records"), on seeds the defaults never use:
//! * binning: every user's number of non-zero host-on windows at the truth bin size equals the
//!   generator's count exactly (host-off windows dropped, zeros kept only while on);
//! * model recovery at the paper's sample sizes: users whose selected model is the true one, at
//!   least Table 2's prediction minus three binomial standard deviations;
//! * α̂ of the true model within a few percent (median over users); every category the generator put in the tail
//!   comes out in the tail, every body category in the body;
//! * the same numbers for 1 and 2 threads and for seconds and ISO 8601 times; unsorted records.
use endhost::Endhost;
use flowlab_abi::plugin::{call, request};
use flowlab_abi::{DatasetRef, Request};
use serde_json::{Value, json};
use std::path::Path;

fn generate(dir: &Path, seed: &str, settings: Value) -> (std::path::PathBuf, Value) {
    let mut req = request("generate_traces", settings, dir.to_str().unwrap());
    req.seed_hex = seed.into();
    req.threads = 2;
    let r = call(&Endhost, &req).unwrap();
    (dir.join("traces"), serde_json::to_value(r).unwrap())
}

fn study_req(data: &Path, out: &Path, seed: &str, settings: Value, threads: usize) -> Request {
    let mut req = request("fit_traces", settings, out.to_str().unwrap());
    req.seed_hex = seed.into();
    req.threads = threads;
    req.dataset = Some(DatasetRef { id: "t".into(), path: data.to_str().unwrap().into(), format: "flow_records".into(), sha256: String::new(), options: Default::default() });
    req
}

fn study(data: &Path, out: &Path, seed: &str, settings: Value, threads: usize) -> Value {
    serde_json::to_value(call(&Endhost, &study_req(data, out, seed, settings, threads)).unwrap()).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn ground_truth_is_recovered_on_held_out_seeds() {
    let (mut recovered, mut predicted, mut var) = (0.0, 0.0, 0.0);
    for seed in ["5eed0001", "5eed0002", "5eed0003", "5eed0004"] {
        let d = tempfile::tempdir().unwrap();
        let (data, g) = generate(d.path(), seed, json!({"users": 24, "days": 3.0, "model_shares": [0.3, 0.4, 0.3]}));
        let r = study(&data, d.path(), seed, json!({"bin_seconds": [16.0, 64.0, 256.0]}), 2);
        let t = &r["data"]["truth"];
        assert_eq!(t["available"], true);
        assert_eq!(r["metrics"]["records"], g["metrics"]["records"], "seed {seed}: every record read");
        // binning: the non-zero windows at the truth bin are exactly the generator's draws
        let truth_n: std::collections::BTreeMap<String, u64> =
            g["data"]["truth"]["users"].as_array().unwrap().iter().map(|u| (u["user"].as_str().unwrap().to_string(), u["n"].as_u64().unwrap())).collect();
        let rows64: Vec<&Value> = r["data"]["rows"].as_array().unwrap().iter().filter(|x| x["bin_seconds"] == 64.0).collect();
        assert_eq!(rows64.len(), 24);
        for row in &rows64 {
            let u = row["user"].as_str().unwrap();
            assert_eq!(row["n"].as_u64().unwrap(), truth_n[u], "seed {seed} user {u}: non-zero windows at 64 s");
            assert_eq!(row["flows_outside_on"], 0, "seed {seed} user {u}: flows outside host-on windows");
        }
        assert_eq!(t["users"], 24, "seed {seed}: every user fitted at the truth bin");
        recovered += f(&t["recovered"]);
        predicted += f(&t["predicted"]);
        var += f(&t["predicted_sd"]).powi(2);
        // α̂ of the true model
        // (n ≈ 1 000–3 000 windows per user: P pins α from every window, EP and EEP from the
        // power-law share π only, down to 10 % of the windows for EEP)
        for (m, v) in t["alpha_relerr_median"].as_object().unwrap() {
            let bound = match m.as_str() {
                "P" => 0.03,
                "EP" => 0.08,
                _ => 0.15,
            };
            assert!(f(v) < bound, "seed {seed}: median |relative error| of α̂ for {m} users = {v} ≥ {bound}");
        }
        // categories: tail ones in the tail, body ones in the body
        for c in t["categories"].as_array().unwrap() {
            assert_eq!(c["tail_leaning"], c["comes_out_in_tail"], "seed {seed}: category {c}");
        }
    }
    let sd = var.sqrt();
    assert!(recovered >= predicted - 3.0 * sd, "recovered {recovered} users, Table 2 predicts {predicted} ± {sd}");
}

#[test]
fn same_numbers_for_threads_time_formats_and_unsorted_records() {
    let d = tempfile::tempdir().unwrap();
    let base = json!({"users": 6, "days": 2.0});
    let (secs, _) = generate(&d.path().join("s"), "77", base.clone());
    let mut iso = base.clone();
    iso["time_format"] = json!("iso8601");
    let (isod, _) = generate(&d.path().join("i"), "77", iso);
    assert!(std::fs::read_to_string(isod.join("flows.csv")).unwrap().lines().nth(1).unwrap().contains("T"));
    let settings = json!({"bin_seconds": [8.0, 64.0, 512.0]});
    let a = study(&secs, d.path(), "9", settings.clone(), 1);
    let b = study(&secs, d.path(), "9", settings.clone(), 2);
    let c = study(&isod, d.path(), "9", settings.clone(), 2);
    for (x, what) in [(&b, "2 threads"), (&c, "ISO 8601 times")] {
        assert_eq!(serde_json::to_string(&a["data"]).unwrap(), serde_json::to_string(&x["data"]).unwrap(), "{what}");
        assert_eq!(a["metrics"], x["metrics"], "{what}");
    }
    // the same records interleaved across users: refused while streaming, equal when read whole
    let text = std::fs::read_to_string(secs.join("flows.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.sort_by_key(|l| l.split(',').nth(1).unwrap().to_string());
    let mixed = d.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::write(mixed.join("flows.csv"), format!("{header}\n{}\n", lines.join("\n"))).unwrap();
    for side in ["hosts.csv", "activity.csv", "truth.json"] {
        std::fs::copy(secs.join(side), mixed.join(side)).unwrap();
    }
    let e = call(&Endhost, &study_req(&mixed, d.path(), "9", settings.clone(), 2)).unwrap_err();
    assert!(e.message.contains("flows.csv:") && e.message.contains("appears again") && e.message.contains("grouped = false"), "{}", e.message);
    let mut whole = settings.clone();
    whole["grouped"] = json!(false);
    let m = study(&mixed, d.path(), "9", whole, 2);
    let by_user = |v: &Value| {
        let mut rows: Vec<String> = v["data"]["rows"].as_array().unwrap().iter().map(|r| r.to_string()).collect();
        rows.sort();
        rows
    };
    assert_eq!(by_user(&a), by_user(&m));
}

#[test]
fn zeros_option_and_flows_alone() {
    let d = tempfile::tempdir().unwrap();
    let (data, _) = generate(d.path(), "3", json!({"users": 3, "days": 1.0}));
    let kept = study(&data, d.path(), "1", json!({"bin_seconds": [64.0], "keep_zeros": true}), 2);
    for row in kept["data"]["rows"].as_array().unwrap() {
        assert_eq!(row["n"], row["windows"], "every host-on window is fitted: {row}");
        assert!(row["zeros"].as_u64().unwrap() > 0);
    }
    // the flow CSV alone: no host file (span of flows), no activity, still every record
    let only = d.path().join("only.csv");
    std::fs::copy(data.join("flows.csv"), &only).unwrap();
    let r = study(&only, d.path(), "1", json!({"bin_seconds": [64.0]}), 2);
    assert_eq!(r["data"]["inputs"]["has_hosts"], false);
    assert_eq!(r["data"]["composition"]["has_activity"], false);
    assert!(r["data"].get("truth").is_none());
    for row in r["data"]["rows"].as_array().unwrap() {
        assert_eq!(row["flows_outside_on"], 0);
    }
}

#[test]
fn bad_settings_name_their_key() {
    use flowlab_abi::Plugin;
    for (s, key) in [
        (json!({"bin_seconds": [4.0, 8.0], "hist_bin_seconds": 64.0}), "hist_bin_seconds"),
        (json!({"bin_seconds": [8.0, 4.0]}), "bin_seconds"),
        (json!({"categories": [{"name": "web", "ports": ["tcp80"]}]}), "categories[0].ports"),
        (json!({"categories": [{"name": "a", "ports": ["tcp/80"]}, {"name": "b", "ports": ["tcp/80"]}]}), "categories[1].ports"),
    ] {
        let e = Endhost.validate("fit_traces", &s).unwrap_err();
        assert_eq!(e.path.as_deref(), Some(key), "{s}: {e:?}");
    }
    for (s, key) in [
        (json!({"users": 1000, "days": 200.0}), "days"),
        (json!({"align": 100.0}), "align"),
        (json!({"days": 0.0}), "days"),
        (json!({"categories": [{"name": "x", "ports": [], "body": 1.0, "tail": 1.0}]}), "categories[0].ports"),
    ] {
        let e = Endhost.validate("generate_traces", &s).unwrap_err();
        assert_eq!(e.path.as_deref(), Some(key), "{s}: {e:?}");
    }
}

#[test]
fn too_many_windows_is_a_data_error() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("f.csv");
    std::fs::write(&p, "user,start_time\na,0\na,1000000\n").unwrap();
    let e = call(&Endhost, &study_req(&p, d.path(), "1", json!({"bin_seconds": [0.001], "hist_bin_seconds": 0.001, "composition_bin_seconds": 0.001}), 1)).unwrap_err();
    assert!(e.message.contains("user `a`") && e.message.contains("windows of 0.001 s"), "{}", e.message);
}
