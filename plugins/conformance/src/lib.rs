//! The plugin conformance kit (docs/design.md §2, "Conformance"; benchopt's `benchopt test` idea).
//!
//! Every plugin's integration test calls [`check`] with one or more sample cases. The checks
//! go through the real C ABI (dlopen of the built cdylib), exactly as the runner does:
//! 1. handshake and `describe` (name, version, ABI, capabilities with object schemas);
//! 2. every sample case validates and runs;
//! 3. a bad settings key gives a `config` error, not a crash;
//! 4. the same request twice gives byte-identical responses (timing excluded);
//! 5. for `thread_count_invariant` capabilities, threads 1 and 2 give identical bytes;
//! 6. a host that cancels at once gets a clean answer (ok or `cancelled`), never a crash.
pub mod skip;

use flowlab_abi::host::{HostServices, LoadedPlugin, NullHost, find_plugin_file};
use flowlab_abi::{DatasetRef, ErrorKind, Request};
use serde_json::Value;
use std::path::PathBuf;

/// One sample cell for the checks.
#[derive(Debug, Clone)]
pub struct Case {
    /// Capability to run.
    pub capability: String,
    /// Valid settings.
    pub settings: Value,
    /// Dataset, if the capability needs one.
    pub dataset: Option<DatasetRef>,
}

impl Case {
    /// A case without dataset.
    pub fn new(capability: &str, settings: Value) -> Self {
        Case { capability: capability.into(), settings, dataset: None }
    }
    /// Builder: attach a dataset file.
    pub fn with_dataset(mut self, id: &str, path: impl Into<PathBuf>, format: &str) -> Self {
        let path: PathBuf = path.into();
        let sha = flowlab_abi::host::file_sha256(&path).unwrap_or_default();
        self.dataset = Some(DatasetRef { id: id.into(), path: path.to_string_lossy().into_owned(), format: format.into(), sha256: sha, options: Default::default() });
        self
    }
}

/// Finds and loads the built plugin `name` (from `target/<profile>[/deps]`), with a message
/// that says how to build it when it is missing.
pub fn load(name: &str) -> &'static LoadedPlugin {
    let path =
        find_plugin_file(name).unwrap_or_else(|| panic!("plugin `{name}` not found in {:?}; run `cargo build -p <its crate>` (or `cargo build --workspace`) first", flowlab_abi::host::search_dirs()));
    LoadedPlugin::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

struct Cancelling;
impl HostServices for Cancelling {
    fn cancelled(&self) -> bool {
        true
    }
}

fn request(case: &Case, threads: usize, dir: &std::path::Path) -> Request {
    Request {
        cell_id: "conformance".into(),
        capability: case.capability.clone(),
        seed: 42,
        seed_hex: "000000000000002a".into(),
        threads,
        dataset: case.dataset.clone(),
        settings: case.settings.clone(),
        output_dir: dir.to_string_lossy().into_owned(),
        replicate: 0,
        experiment: Default::default(),
    }
}

fn run_bytes(p: &LoadedPlugin, case: &Case, threads: usize, host: &dyn HostServices) -> Result<Vec<u8>, flowlab_abi::PluginError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let req = serde_json::to_vec(&request(case, threads, dir.path())).expect("encode");
    let bytes = p.run_raw(&req, host)?;
    // timing is the one run-dependent section
    let mut v: Value = serde_json::from_slice(&bytes).expect("response is JSON");
    if let Some(o) = v.as_object_mut() {
        o.remove("timing");
    }
    Ok(serde_json::to_vec(&v).expect("encode"))
}

/// Runs every check; panics with a precise message on the first failure.
pub fn check(name: &str, cases: &[Case]) {
    let p = load(name);
    let d = &p.description;
    assert_eq!(d.name, name, "described name");
    assert!(!d.version.is_empty(), "version must be set");
    assert_eq!(d.abi, format!("{}.{}", flowlab_abi::ABI_MAJOR, flowlab_abi::ABI_MINOR));
    assert!(!d.capabilities.is_empty(), "a plugin must provide at least one capability");
    for c in &d.capabilities {
        assert!(c.settings_schema.is_object(), "capability `{}`: settings_schema must be a JSON Schema object", c.name);
        assert_eq!(c.settings_schema.get("type").and_then(|t| t.as_str()), Some("object"), "capability `{}`: settings schema must describe an object", c.name);
    }
    assert!(!cases.is_empty(), "give at least one sample case");
    for case in cases {
        let cap = d.capability(&case.capability).unwrap_or_else(|| panic!("sample case names unknown capability `{}`", case.capability));
        p.validate(&case.capability, &case.settings).unwrap_or_else(|e| panic!("sample settings for `{}` rejected: {e}", case.capability));
        // bad settings key -> config error
        let mut bad = case.settings.clone();
        if bad.is_null() {
            bad = serde_json::json!({});
        }
        if let Some(o) = bad.as_object_mut() {
            o.insert("no_such_setting_xyz".into(), Value::Bool(true));
            let e = p.validate(&case.capability, &bad).expect_err("an unknown settings key must be rejected");
            assert_eq!(e.kind, ErrorKind::Config, "unknown key must be a config error: {e}");
        }
        let unknown = p.validate("no_such_capability", &case.settings).expect_err("unknown capability must be rejected");
        assert_eq!(unknown.kind, ErrorKind::Config);
        // runs, reruns identically
        let a = run_bytes(p, case, 1, &NullHost).unwrap_or_else(|e| panic!("`{}` failed: {e}", case.capability));
        let b = run_bytes(p, case, 1, &NullHost).expect("second run");
        assert!(a == b, "`{}`: two runs of the same request differ", case.capability);
        if cap.thread_count_invariant {
            let c = run_bytes(p, case, 2, &NullHost).expect("run with 2 threads");
            assert!(a == c, "`{}`: declared thread-count invariant but threads 1 and 2 differ", case.capability);
        }
        // cancellation is answered cleanly
        match run_bytes(p, case, 1, &Cancelling) {
            Ok(_) => {}
            Err(e) => assert!(matches!(e.kind, ErrorKind::Cancelled | ErrorKind::Run), "cancel must give a clean error: {e:?}"),
        }
    }
}
