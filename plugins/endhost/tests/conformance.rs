//! The conformance kit through the real C ABI, with small real cases of every capability.
use flowlab_abi::ErrorKind;
use flowlab_abi::host::NullHost;
use flowlab_conformance::{Case, check, load};
use serde_json::json;
use std::io::Write;

fn counts_file(dir: &std::path::Path) -> std::path::PathBuf {
    // a deterministic EP-like sample with some zeros
    let p = dir.join("counts.txt");
    let mut f = std::fs::File::create(&p).unwrap();
    let mut x: u64 = 12345;
    for i in 0..1500u64 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let u = ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v = if i % 2 == 0 { 1 + (-(u.ln()) / 0.4).floor() as u64 } else { (u.powf(-1.0 / 1.1)).floor() as u64 };
        writeln!(f, "{}", if i % 50 == 0 { 0 } else { v }).unwrap();
    }
    p
}

fn users_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("users.csv");
    let mut s = String::from("user,bin_seconds,count\n");
    for (u, a) in [("alice", 0.8), ("bob", 1.3)] {
        for b in [10, 60] {
            for i in 1..=200u64 {
                let c = ((i as f64).powf(a) as u64 * 7 + i * b) % 40;
                s.push_str(&format!("{u},{b},{c}\n"));
            }
        }
    }
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn endhost_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let counts = counts_file(dir.path());
    let users = users_file(dir.path());
    // a small flow_records directory (flows, hosts, activity, truth) from the generator
    let gen_dir = dir.path().join("gen");
    std::fs::create_dir_all(&gen_dir).unwrap();
    flowlab_abi::plugin::call(&endhost::Endhost, &flowlab_abi::plugin::request("generate_traces", json!({"users": 3, "days": 0.5}), gen_dir.to_str().unwrap())).unwrap();
    let traces = gen_dir.join("traces");
    check(
        "endhost",
        &[
            Case::new("generate", json!({"model": "EP", "theta": [0.4, 0.3, 2.0], "n": 500, "zeros": 3})),
            Case::new("generate_users", json!({"users": 2, "bin_seconds": [10.0, 60.0], "windows": 300})),
            Case::new("fit", json!({"fitter": {"restarts_ep": 2, "restarts_eep": 2}})).with_dataset("c", &counts, "counts"),
            Case::new("fit_users", json!({"min_n": 20, "fitter": {"restarts_ep": 2, "restarts_eep": 2}})).with_dataset("u", &users, "user_csv"),
            Case::new("generate_traces", json!({"users": 2, "days": 0.25})),
            Case::new("fit_traces", json!({"bin_seconds": [16.0, 64.0], "min_n": 20, "fitter": {"restarts_ep": 2, "restarts_eep": 2}})).with_dataset("t", &traces, "flow_records"),
            Case::new("validate_fig1", json!({"alphas": [2.0], "cases": 3, "n": 400, "methods": ["ipm", "box"]})),
            Case::new("validate_table2", json!({"sizes": [300], "cases": 2, "fitter": {"restarts_ep": 2, "restarts_eep": 2}})),
        ],
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let p = load("endhost");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "3\n4\nfive\n").unwrap();
    let mut req = flowlab_abi::plugin::request("fit", json!({}), dir.path().to_str().unwrap());
    req.dataset = Some(flowlab_abi::DatasetRef { id: "b".into(), path: bad.to_string_lossy().into(), format: "counts".into(), ..Default::default() });
    let e = p.run(&req, &NullHost).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Data);
    assert!(e.message.contains("bad.txt:3:"), "{}", e.message);
    // config errors name the key
    let e = p.validate("fit", &json!({"fitter": {"bounds": {"alpha_max": 0.5}}})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert_eq!(e.path.as_deref(), Some("fitter.bounds.alpha_max"));
    let e = p.validate("generate", &json!({"model": "EP", "theta": [0.4, 2.0]})).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("theta"));
    let e = p.validate("validate_table2", &json!({"selection": {"order": ["EP", "P"]}})).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("selection.order"));
    let e = p.validate("fit", &json!({"fitter": {"method": "lbfgs"}})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
}
