//! The shared conformance checks through the real C ABI, on generated feature files.
mod common;
use common::*;
use flowlab_conformance::{Case, check};
use serde_json::json;

#[test]
fn lstm_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 14, 10, 30);
    // a saved model for the `evaluate` case
    let out = dir.path().join("trained");
    std::fs::create_dir_all(&out).unwrap();
    run(&req("network", small(1), &data, &out, 1)).unwrap();
    let model = out.join("model.lstm");
    check(
        "lstm",
        &[
            Case::new("synth_features", json!({"traffics": 5, "dim": 12, "max_packets": 20})),
            Case::new("network", small(2)).with_dataset("synth", &data, "lstm_features"),
            Case::new("evaluate", json!({"model": model.to_str().unwrap(), "plots": false})).with_dataset("synth", &data, "lstm_features"),
        ],
    );
}
