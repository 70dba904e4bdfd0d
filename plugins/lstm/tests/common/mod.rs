//! Shared helpers of the lstm integration tests.
#![allow(dead_code)]
use flowlab_abi::plugin::{call, request};
use flowlab_abi::{DatasetRef, PluginError, Request, Response};
use lstm::Lstm;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Writes a synthetic feature file (+ feature info) into `dir` and returns its path.
pub fn synth_file(dir: &Path, traffics: usize, dim: usize, max_packets: usize) -> PathBuf {
    let spec = lstm::synth::SynthSpec { traffics, dim, min_packets: 4, max_packets };
    let text = lstm::synth::generate(&spec, &mut flowlab_abi::seed::stream_rng("5eed", "synth", 0));
    let p = dir.join("features.csv");
    std::fs::write(&p, text).unwrap();
    std::fs::write(dir.join("feature_info.csv"), lstm::synth::feature_info(dim)).unwrap();
    p
}

/// A small, fast network setting for the synthetic file.
pub fn small(epochs: u64) -> Value {
    json!({"hidden": 16, "head": "linear", "seq_len": 20, "batch": 8, "chunk_rows": 3, "epochs": epochs,
           "eval_every": 2, "plots": false, "optimizer": "adam", "lr": 0.01, "recurrent_activation": "sigmoid",
           "feature_info": "feature_info.csv", "plot_feature": 7})
}

/// A request for `capability` on the dataset `data`, writing into `out`.
pub fn req(capability: &str, settings: Value, data: &Path, out: &Path, threads: usize) -> Request {
    let mut r = request(capability, settings, out.to_str().unwrap());
    r.seed_hex = "00112233445566778899aabbccddeeff".into();
    r.threads = threads;
    r.dataset = Some(DatasetRef { id: "d".into(), path: data.to_string_lossy().into_owned(), format: "lstm_features".into(), sha256: String::new(), options: Default::default() });
    r
}

/// Runs through the Rust API (validate + run), timing removed.
pub fn run(r: &Request) -> Result<Response, PluginError> {
    call(&Lstm, r).map(|mut x| {
        x.timing.clear();
        x
    })
}

/// The data directory (env `FLOWLAB_DATA_DIR`, else the data directory beside the checkout, docs/design.md §9), or None with a
/// skip message; fails instead when `FLOWLAB_REQUIRE_DATA=1`.
pub fn data_dir() -> Option<PathBuf> {
    let d = std::env::var_os("FLOWLAB_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    if d.join("lstm").is_dir() {
        return Some(d);
    }
    flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_DATA", &format!("the data directory {} has no lstm/ folder (set FLOWLAB_DATA_DIR, docs/design.md §9)", d.display()));
    None
}

pub fn f(v: &Value) -> f64 {
    flowlab_abi::json::to_f64(v).unwrap_or(f64::NAN)
}
