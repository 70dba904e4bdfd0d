//! `hist` against flow-models 2.2 byte for byte: flow records written by flow-models' own
//! generator and writers (csv_flow, binary; nfdump pipe lines), every `-x`, two `-b`, filters
//! in both semantics, skip/count across several inputs, `-c` columns, `-o append`
//! (tests/hist_oracle.py makes the records and the expected files). The default run uses
//! 10^5 flows; `full_million_flows` (ignored by default, run in CI with `--ignored`) 10^6.
//! Needs Python with flow_models (FLOWLAB_PYTHON); skipped, saying so, when it is missing
//! unless FLOWLAB_REQUIRE_PYTHON=1.
mod common;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use serde_json::{Value, json};
use std::path::Path;

fn run_hist(settings: Value, out: &Path) -> Result<(flowlab_abi::Response, Vec<u8>), flowlab_abi::PluginError> {
    let r = call(&HistFit, &common::request("hist", settings, None, out))?;
    let art = r.artifacts.iter().find(|a| a.name == "dataset").expect("a `dataset` artifact");
    let bytes = std::fs::read(out.join(&art.path)).unwrap();
    Ok((r, bytes))
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: flowlab `{x}` vs flow-models `{y}`", i + 1);
        }
    }
    format!("{} lines vs {} lines", a.lines().count(), b.lines().count())
}

/// Runs the oracle for `flows` records and compares every case; returns the number of cases.
fn compare_all(flows: u64, seed: u64, extra: &[&str]) -> usize {
    let Some(py) = common::python_with("flow_models.hist, numpy, pandas, scipy") else { return 0 };
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hist_oracle.py");
    let o = std::process::Command::new(&py).arg(script).arg(dir.path()).arg(flows.to_string()).arg(seed.to_string()).args(extra).output().unwrap();
    assert!(o.status.success(), "oracle failed: {}", String::from_utf8_lossy(&o.stderr));
    let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(dir.path().join("cases.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let expected = std::fs::read(c["expected"].as_str().unwrap()).unwrap();
        let out = tempfile::tempdir().unwrap();
        match run_hist(c["settings"].clone(), out.path()) {
            Ok((r, got)) => {
                if got != expected {
                    failures.push(format!("{name}: {}", first_difference(&got, &expected)));
                }
                assert!(r.metrics["flows"].as_u64().is_some());
            }
            Err(e) => failures.push(format!("{name}: error {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ from flow-models:\n{}", failures.len(), cases.len(), failures.join("\n"));
    // the cases are not trivial: the rate histogram has many rows
    let fmt = if extra.is_empty() { "csv_flow" } else { "nfcapd" };
    let rate = std::fs::read_to_string(dir.path().join(format!("expected/{fmt}-rate-b0.csv"))).unwrap();
    assert!(rate.lines().count() > 100, "rate bins");
    cases.len()
}

#[test]
fn byte_identical_to_flow_models_on_100k_flows() {
    let n = compare_all(100_000, 2015, &[]);
    eprintln!("hist: {n} cases identical to flow-models (10^5 flows)");
}

#[test]
#[ignore = "10^6 flows through flow-models' hist ~50 times takes minutes; CI runs it with --ignored"]
fn full_million_flows() {
    let n = compare_all(1_000_000, 42, &[]);
    eprintln!("hist: {n} cases identical to flow-models (10^6 flows)");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = "0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 300, 0\n";
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("{good}{good}0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, x, 300, 0\n")).unwrap();
    let short = dir.path().join("short.csv");
    std::fs::write(&short, format!("{good}1, 2, 3\n")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let p = |f: &Path| f.to_str().unwrap().to_string();
    let msg = |s: Value| run_hist(s, out.path()).map(|_| ()).unwrap_err();
    let e = msg(json!({"inputs": [p(&bad)]}));
    assert!(e.message.contains(&format!("{}:3:", bad.display())) && e.message.contains("packets"), "{}", e.message);
    let e = msg(json!({"inputs": [p(&short)]}));
    assert!(e.message.contains(&format!("{}:2:", short.display())) && e.message.contains("21"), "{}", e.message);
    let e = msg(json!({"inputs": [p(&dir.path().join("missing.csv"))]}));
    assert!(e.message.contains("missing.csv") && e.message.contains("no such file"), "{}", e.message);
    // skipped lines are not parsed (flow-models does not parse them either)
    let (_, ok) = run_hist(json!({"inputs": [p(&bad)], "count_in": 2}), out.path()).unwrap();
    assert_eq!(String::from_utf8(ok).unwrap(), "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n3,4,2,6,600\n");
    for (filter, col) in [("packets * 2 > 3", "column 9"), ("len(packets) > 1", "column 1"), ("packets > 1.5", "column 11"), ("portt == 1", "unknown field")] {
        let e = msg(json!({"inputs": [p(&bad)], "filter": filter}));
        assert_eq!(e.path.as_deref(), Some("filter"), "{filter}");
        assert!(e.message.contains(col), "{filter}: {}", e.message);
    }
    let e = msg(json!({"inputs": [p(&bad)], "in_format": "binary", "filter": "(prot == 6) and (packets > 1)"}));
    assert!(e.message.contains("NumPy"), "{}", e.message);
    let e = msg(json!({"inputs": [p(&bad)], "columns": ["duration", "speed"]}));
    assert_eq!(e.path.as_deref(), Some("columns[1]"));
    let e = msg(json!({"inputs": [p(&bad)], "in_format": "binary"}));
    assert!(e.message.contains("directory"), "{}", e.message);
    // a binary directory whose arrays disagree in length
    let b = dir.path().join("bin");
    std::fs::create_dir(&b).unwrap();
    std::fs::write(b.join("packets.Q"), [1u8; 16]).unwrap();
    std::fs::write(b.join("octets.Q"), [1u8; 24]).unwrap();
    let e = msg(json!({"inputs": [p(&b)], "in_format": "binary"}));
    assert!(e.message.contains("octets.Q") && e.message.contains("elements"), "{}", e.message);
    std::fs::write(b.join("octets.Q"), [1u8; 15]).unwrap();
    let e = msg(json!({"inputs": [p(&b)], "in_format": "binary"}));
    assert!(e.message.contains("whole number"), "{}", e.message);
}

#[test]
fn none_writes_nothing_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.csv");
    std::fs::write(&f, "0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 300, 0\n".repeat(5)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (r, bytes) = run_hist(json!({"inputs": [f.to_str().unwrap()], "out_format": "none"}), out.path()).unwrap();
    assert!(bytes.is_empty());
    assert_eq!(r.metrics["flows"], json!(5));
    assert_eq!(r.metrics["rows"], json!(1));
}

/// Real nfcapd files (made by nfdump's `nfpcapd` from a random pcap) through flowlab's reader
/// and flow-models' (both run `nfdump -r FILE -q -o pipe`). Skipped when nfpcapd is missing
/// unless FLOWLAB_REQUIRE_NFDUMP=1.
#[test]
fn nfcapd_files_match_flow_models() {
    let have = std::process::Command::new("nfpcapd").arg("-V").output().is_ok() && std::process::Command::new("nfdump").arg("-V").output().is_ok();
    if !have {
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_NFDUMP", "nfdump and its nfpcapd are not installed (Debian package nfdump)");
        return;
    }
    let n = compare_all(30_000, 11, &["nfcapd"]);
    eprintln!("hist: {n} nfcapd cases identical to flow-models");
}

#[test]
fn identical_for_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.csv");
    let mut text = String::new();
    for i in 0..5000u64 {
        text.push_str(&format!("0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {}, {}, {}, {}, {}, {}, 1\n", 1000 + i % 7, i % 1000, 1003 + i % 11, (i * 7) % 1000, 1 + i % 37, 64 + i * 13));
    }
    std::fs::write(&f, text).unwrap();
    let s = json!({"inputs": [f.to_str().unwrap()], "x": "rate", "bin_exp": 0, "columns": ["rate", "duration"]});
    let mut outs = Vec::new();
    for threads in [1, 2, 8] {
        let out = tempfile::tempdir().unwrap();
        let mut req = common::request("hist", s.clone(), None, out.path());
        req.threads = threads;
        call(&HistFit, &req).unwrap();
        outs.push(std::fs::read(out.path().join("dataset.csv")).unwrap());
    }
    assert!(outs.windows(2).all(|w| w[0] == w[1]));
}
