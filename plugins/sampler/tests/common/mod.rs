//! Shared helpers of the integration tests.
#![allow(dead_code)]
use std::path::PathBuf;

/// The data dir (`FLOWLAB_DATA_DIR`, else the data directory beside the checkout, docs/design.md §9), or None (test skipped)
/// unless `FLOWLAB_REQUIRE_DATA=1`.
pub fn data_dir() -> Option<PathBuf> {
    let d = std::env::var_os("FLOWLAB_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    if d.is_dir() {
        Some(d)
    } else {
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_DATA", &format!("no data directory {} (set FLOWLAB_DATA_DIR, docs/design.md §9)", d.display()));
        None
    }
}

/// The reference scripts directory (`FLOWLAB_REFERENCE_DIR`; empty when unset, so the tests that
/// need it skip visibly; docs/design.md §9).
pub fn reference_dir() -> PathBuf {
    std::env::var_os("FLOWLAB_REFERENCE_DIR").map(PathBuf::from).unwrap_or_default()
}

/// A Python with numpy (+ scipy), or None (skipped) unless `FLOWLAB_REQUIRE_PYTHON=1`.
pub fn python() -> Option<String> {
    let py = std::env::var("FLOWLAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py).args(["-c", "import numpy, scipy"]).output().map(|o| o.status.success()).unwrap_or(false);
    let script = reference_dir().join("ft_sampler_metrics.py");
    if ok && script.is_file() {
        Some(py)
    } else {
        flowlab_conformance::skip::skip(
            "FLOWLAB_REQUIRE_PYTHON",
            &format!("the oracle needs `{py}` with numpy and scipy (set FLOWLAB_PYTHON) and {} (FLOWLAB_REFERENCE_DIR, docs/design.md §9)", script.display()),
        );
        None
    }
}
