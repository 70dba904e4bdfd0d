//! Shared test helpers: the data directory lookup and the skip rules of docs/design.md §9.
#![allow(dead_code)]
use std::path::PathBuf;

/// The shared data dir (`FLOWLAB_DATA_DIR`, else the data directory beside the checkout, docs/design.md §9), or `None` (after
/// reporting a skip, `flowlab_conformance::skip`) when it is missing and `FLOWLAB_REQUIRE_DATA` is not `1`.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FLOWLAB_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    if dir.join("agh_2015").is_dir() {
        Some(dir)
    } else {
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_DATA", &format!("the data directory {} has no agh_2015/ (set FLOWLAB_DATA_DIR, docs/design.md §9)", dir.display()));
        None
    }
}

/// A file of this crate's test fixtures.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

/// The Python interpreter for oracle tests (`FLOWLAB_PYTHON`, default `python3`), or `None`
/// (after printing why) when numpy/scipy are not importable and `FLOWLAB_REQUIRE_PYTHON` is
/// not `1`.
pub fn python() -> Option<String> {
    python_with("numpy, scipy")
}

/// The Python interpreter when it imports `modules` (a comma-separated `import` list), else
/// `None` after printing why (a panic when `FLOWLAB_REQUIRE_PYTHON=1`, as in CI).
pub fn python_with(modules: &str) -> Option<String> {
    let py = std::env::var("FLOWLAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py).args(["-c", &format!("import {modules}")]).output().map(|o| o.status.success()).unwrap_or(false);
    if ok {
        Some(py)
    } else {
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_PYTHON", &format!("`{py}` cannot import {modules} (PyPI; set FLOWLAB_PYTHON)"));
        None
    }
}

/// A request for `capability` on a csv_hist dataset file.
pub fn request(capability: &str, settings: serde_json::Value, dataset: Option<&std::path::Path>, out: &std::path::Path) -> flowlab_abi::Request {
    let mut r = flowlab_abi::plugin::request(capability, settings, out.to_str().unwrap());
    r.seed_hex = "00000000000000000000000000000000000000000000000000000000000004d2".into();
    r.seed = 1234;
    if let Some(p) = dataset {
        r.dataset = Some(flowlab_abi::DatasetRef { id: "d".into(), path: p.to_string_lossy().into_owned(), format: "csv_hist".into(), sha256: String::new(), options: Default::default() });
    }
    r
}
