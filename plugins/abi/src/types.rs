//! JSON payload types exchanged through the ABI. All structs tolerate unknown fields on
//! reading (forward compatibility across minor versions) and default missing ones.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a plugin says about itself (`describe`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Description {
    /// Plugin name as used in manifests (`plugin = "histfit"`).
    pub name: String,
    /// Plugin version (semver).
    pub version: String,
    /// ABI version string, `"1.0"`.
    #[serde(default = "default_abi")]
    pub abi: String,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// Capabilities: the manifest sections / dataset generators this plugin serves.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Dataset formats this plugin can read (e.g. `csv_hist`).
    #[serde(default)]
    pub formats: Vec<String>,
    /// For flowlab's own tests and benchmarks (`testplug`): `flowlab plugins` and the manifest
    /// schema leave it out unless asked (`--all`). Absent from the JSON when false, so the
    /// other plugins' descriptions are unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

fn default_abi() -> String {
    format!("{}.{}", crate::ABI_MAJOR, crate::ABI_MINOR)
}

impl Description {
    /// A description with no capabilities yet.
    pub fn new(name: &str, version: &str) -> Self {
        Description { name: name.into(), version: version.into(), abi: default_abi(), summary: String::new(), capabilities: vec![], formats: vec![], internal: false }
    }
    /// Builder: add a capability.
    pub fn with(mut self, cap: Capability) -> Self {
        self.capabilities.push(cap);
        self
    }
    /// Finds a capability by name.
    pub fn capability(&self, name: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.name == name)
    }
}

/// Kind of a capability.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityKind {
    /// A per-dataset task (manifest section such as `[[summary]]`, `[[fit]]`).
    Task,
    /// Produces a dataset file (a `[[dataset]]` with `plugin = …`).
    Dataset,
}

/// One thing a plugin provides.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Capability {
    /// Name used in the manifest: the section name for tasks (`summary`, `fit`, `sample`,
    /// `network`, `selection`, …) or `capability = "…"` for dataset generators.
    pub name: String,
    /// Task or dataset generator.
    pub kind: CapabilityKind,
    /// One-line summary shown by `flowlab plugins`.
    #[serde(default)]
    pub summary: String,
    /// Draft-07 JSON Schema of the settings (merged into the manifest schema).
    #[serde(default)]
    pub settings_schema: Value,
    /// Results do not depend on the thread budget (checked by the conformance kit).
    #[serde(default)]
    pub thread_count_invariant: bool,
    /// Dataset formats the task accepts (empty: any / no dataset needed).
    #[serde(default)]
    pub accepts: Vec<String>,
    /// The task needs no dataset (runs once per grid point instead of once per dataset). With
    /// `accepts` as well, the dataset is optional: a task section without `datasets` runs once
    /// per grid point, one that lists datasets (of those formats) runs on each of them.
    #[serde(default)]
    pub datasetless: bool,
    /// A dataset capability: the format of the file it writes (what `flowlab plugins` puts in
    /// the example `[[dataset]]` and the manifest check compares with `format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produces: Option<String>,
}

impl Capability {
    /// A task capability with the given settings schema.
    pub fn task(name: &str, summary: &str, settings_schema: Value) -> Self {
        Capability { name: name.into(), kind: CapabilityKind::Task, summary: summary.into(), settings_schema, thread_count_invariant: true, accepts: vec![], datasetless: false, produces: None }
    }
    /// A dataset-generator capability.
    pub fn dataset(name: &str, summary: &str, settings_schema: Value) -> Self {
        Capability { kind: CapabilityKind::Dataset, ..Capability::task(name, summary, settings_schema) }
    }
    /// Builder: the dataset formats accepted.
    pub fn accepting(mut self, formats: &[&str]) -> Self {
        self.accepts = formats.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Builder: the format a dataset capability writes.
    pub fn producing(mut self, format: &str) -> Self {
        self.produces = Some(format.to_string());
        self
    }
    /// Builder: a task that needs no dataset (with [`Capability::accepting`] too: one that
    /// may be given datasets of those formats in `datasets`, and otherwise runs without).
    pub fn without_dataset(mut self) -> Self {
        self.datasetless = true;
        self
    }
}

/// A dataset as the host resolved it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DatasetRef {
    /// Dataset id from the manifest.
    pub id: String,
    /// Absolute path of the data file (or directory).
    pub path: String,
    /// Format name (e.g. `csv_hist`).
    #[serde(default)]
    pub format: String,
    /// SHA-256 of the file content (hex).
    #[serde(default)]
    pub sha256: String,
    /// Extra dataset options from the manifest.
    #[serde(default)]
    pub options: Map<String, Value>,
}

/// Experiment-level metadata handed to every cell (for report captions and table metadata).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExperimentInfo {
    /// `[experiment] name`.
    pub name: String,
    /// `[experiment] description`.
    #[serde(default)]
    pub description: String,
    /// `[experiment.metadata]` free key/values.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// The request for one cell (`run`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Request {
    /// Content-hash id of the cell.
    pub cell_id: String,
    /// Capability to run (`summary`, `fit`, …).
    pub capability: String,
    /// Derived cell seed, 64 bits (first 8 bytes of the SHA-256 derivation, big endian).
    pub seed: u64,
    /// The full 256-bit derived seed as hex; sub-streams derive from it ([`crate::seed`]).
    pub seed_hex: String,
    /// Thread budget for this cell; never an input to any number.
    pub threads: usize,
    /// The dataset, if the capability takes one.
    #[serde(default)]
    pub dataset: Option<DatasetRef>,
    /// Resolved settings for the capability (after sweep expansion and overrides).
    #[serde(default)]
    pub settings: Value,
    /// Directory where the cell may write artifacts (created by the host).
    pub output_dir: String,
    /// Replicate index.
    #[serde(default)]
    pub replicate: u32,
    /// Experiment metadata.
    #[serde(default)]
    pub experiment: ExperimentInfo,
}

/// Why an iterative computation stopped (argmin-style).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// Not iterative / single pass.
    #[default]
    NotIterative,
    /// Converged by the algorithm's tolerance.
    Converged,
    /// Iteration cap reached (e.g. flow-models' fixed N iterations).
    MaxIters,
    /// Evaluation budget reached.
    MaxEvals,
    /// Target (e.g. sampler acceptance) reached.
    TargetReached,
    /// Cancelled by the host.
    Cancelled,
    /// Timed out.
    Timeout,
    /// Algorithm-specific stop with a reason.
    Other(String),
}

/// A file a cell wrote, relative to its `output_dir`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Artifact {
    /// Logical name (e.g. `summary.tex`, `dataset`).
    pub name: String,
    /// Path relative to the cell's output directory.
    pub path: String,
    /// Optional format/kind (`tex`, `csv_hist`, `svg`, …).
    #[serde(default)]
    pub kind: String,
}

/// The answer for one cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Response {
    /// Scalar metrics (numbers through [`crate::json::num`] so NaN/Inf survive).
    #[serde(default)]
    pub metrics: Map<String, Value>,
    /// Fitted model / main structured output.
    #[serde(default)]
    pub model: Value,
    /// Candidates considered (model selection), each with its scores.
    #[serde(default)]
    pub candidates: Vec<Value>,
    /// Free structured data for reports (tables, series).
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Iterations performed.
    #[serde(default)]
    pub iterations: u64,
    /// Function evaluations performed.
    #[serde(default)]
    pub evaluations: u64,
    /// Termination reason.
    #[serde(default)]
    pub termination: Termination,
    /// Files written.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Timing and other run-dependent facts; stored apart from the deterministic result.
    #[serde(default)]
    pub timing: BTreeMap<String, f64>,
}

/// Error category.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad settings (the manifest should change).
    Config,
    /// Bad input data (the data file should change).
    Data,
    /// The computation failed.
    Run,
    /// The plugin panicked (a bug in the plugin).
    Panic,
    /// Cancelled by the host.
    Cancelled,
}

/// A typed plugin error; `path` is the settings key path (`families.lognorm`) when known, so
/// the host can point at the manifest line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[error("{message}")]
pub struct PluginError {
    /// Category.
    pub kind: ErrorKind,
    /// Human message saying what is wrong and how to fix it.
    pub message: String,
    /// Dotted settings key the error is about, if any.
    #[serde(default)]
    pub path: Option<String>,
}

impl PluginError {
    /// Bad settings at `path`.
    pub fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        let p: String = path.into();
        PluginError { kind: ErrorKind::Config, message: message.into(), path: if p.is_empty() { None } else { Some(p) } }
    }
    /// Bad input data.
    pub fn data(message: impl Into<String>) -> Self {
        PluginError { kind: ErrorKind::Data, message: message.into(), path: None }
    }
    /// A failed computation.
    pub fn run(message: impl Into<String>) -> Self {
        PluginError { kind: ErrorKind::Run, message: message.into(), path: None }
    }
    /// Cancelled.
    pub fn cancelled() -> Self {
        PluginError { kind: ErrorKind::Cancelled, message: "cancelled by the host".into(), path: None }
    }
    /// Return code for this error.
    pub fn code(&self) -> i32 {
        match self.kind {
            ErrorKind::Config => crate::code::ERR_CONFIG,
            ErrorKind::Data | ErrorKind::Run => crate::code::ERR_RUN,
            ErrorKind::Panic => crate::code::ERR_PANIC,
            ErrorKind::Cancelled => crate::code::ERR_CANCELLED,
        }
    }
}

/// Parses settings into a typed struct; serde errors (unknown field, wrong type, missing
/// field) become [`ErrorKind::Config`] errors whose `path` is the dotted settings key, so the
/// host can point at the manifest line.
pub fn parse_settings<T: serde::de::DeserializeOwned>(settings: &Value) -> Result<T, PluginError> {
    let v = if settings.is_null() { Value::Object(Map::new()) } else { settings.clone() };
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| {
        let msg = e.inner().to_string();
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        if let Some(name) = msg.strip_prefix("unknown field `").and_then(|r| r.split('`').next())
            && !path.ends_with(name)
        {
            path = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
        }
        let shown = if path.is_empty() { msg.clone() } else { format!("{path}: {msg}") };
        PluginError::config(path, shown)
    })
}
