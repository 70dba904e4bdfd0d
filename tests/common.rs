//! Shared helpers: run the binary, strip run-dependent fields, locate data.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn flowlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowlab"));
    c.current_dir(repo());
    // environment overrides must not leak in from the developer's shell
    for (k, _) in std::env::vars() {
        if k.starts_with("FLOWLAB_") && k.contains("__") {
            c.env_remove(k);
        }
    }
    c.env_remove("FLOWLAB_DATA_DIR");
    c
}

pub fn run(args: &[&str]) -> Output {
    flowlab().args(args).output().expect("run flowlab")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The data directory (`FLOWLAB_DATA_DIR` or the data directory beside the checkout, docs/design.md §9), or None when absent and not
/// required (`FLOWLAB_REQUIRE_DATA=1` turns absence into a failure).
pub fn data_dir() -> Option<PathBuf> {
    let d = std::env::var_os("FLOWLAB_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared/data"));
    if d.is_dir() {
        return Some(d);
    }
    flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_DATA", &format!("no data directory {} (set FLOWLAB_DATA_DIR, docs/design.md §9)", d.display()));
    None
}

/// A cell file with its run-dependent `timing` section removed.
pub fn stripped(path: &Path) -> Value {
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).expect("read cell")).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v.as_object_mut().expect("object").remove("timing");
    v
}

/// Every cell file (`<id>.json`) of an experiment directory, by id.
pub fn cells(dir: &Path) -> std::collections::BTreeMap<String, Value> {
    let mut m = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("results dir") {
        let p = e.expect("entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name.ends_with(".json") && !name.starts_with('.') {
            m.insert(name.trim_end_matches(".json").to_string(), stripped(&p));
        }
    }
    m
}

/// The tests' seeded random stream: the project's generator (`rand_pcg` through
/// `flowlab_abi::seed`), never seeded from clock or OS.
pub struct Mix(flowlab_abi::seed::SeedRng);

impl Mix {
    /// Stream `name` of `seed`.
    pub fn new(seed: u64, name: &str) -> Mix {
        Mix(flowlab_abi::seed::rng_from_u64(seed, name, 0))
    }
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        rand_core::RngCore::next_u64(&mut self.0)
    }
    /// Uniform in `0..n` (`n` = 0 is treated as 1).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The Python interpreter (`FLOWLAB_PYTHON`, else `python3`) if it imports `modules`
/// (comma-separated); `None` means skip, except where `FLOWLAB_REQUIRE_PYTHON=1` (CI), which
/// fails instead.
pub fn python_with(modules: &str) -> Option<String> {
    let py = std::env::var("FLOWLAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py).args(["-c", &format!("import {modules}")]).output().map(|o| o.status.success()).unwrap_or(false);
    if ok {
        return Some(py);
    }
    flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_PYTHON", &format!("`{py}` cannot import {modules} (PyPI; set FLOWLAB_PYTHON)"));
    None
}
