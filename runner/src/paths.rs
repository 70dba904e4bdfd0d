//! Path-valued plugin settings (README: "paths in settings"). A plugin marks a top-level
//! setting that names a file or directory with the schema keyword [`KEYWORD`]:
//! `"manifest"` — relative paths are relative to the manifest's directory, as a dataset's
//! `path`; `"dataset"` — relative paths are relative to the directory of the task's dataset
//! file and resolved by the plugin. A string value is one path, an array of strings a list of
//! paths; any other value (an inline mixture) is not a path.
//!
//! At plan time the runner expands `{data}` (and, for `"manifest"` paths, the relative
//! path) in exactly those keys, sends the plugin the resolved settings, and folds the content
//! hash of every file or directory they name into the cell id (the same bounded walk as a
//! dataset directory, `tree_hash::content_digest`, with BLAKE3 file digests: these hashes name
//! inputs such as 645 MB flow files and enter only the cell id, so the faster cryptographic
//! hash is used; plugins/abi/src/hashcache.rs), so a changed mixture file re-runs its cells.
//! The settings as written stay the cell's canonical settings and seed: a manifest without
//! path settings keeps its cell ids.
use flowlab_abi::hashcache::Digest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The schema keyword that marks a path-valued setting (value `"manifest"` or `"dataset"`).
pub const KEYWORD: &str = "x-flowlab-path";

/// What a relative path in a marked setting is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The manifest's directory (resolved by the runner).
    Manifest,
    /// The directory of the task's dataset file (resolved by the plugin).
    Dataset,
}

/// The marked settings of a capability's settings schema, by key.
pub fn path_keys(schema: &Value) -> BTreeMap<String, Base> {
    let mut out = BTreeMap::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            match v.get(KEYWORD).and_then(Value::as_str) {
                Some("manifest") => {
                    out.insert(k.clone(), Base::Manifest);
                }
                Some("dataset") => {
                    out.insert(k.clone(), Base::Dataset);
                }
                _ => {}
            }
        }
    }
    out
}

/// The paths a setting's value names: a string, or every string of an array of strings.
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => Some(a.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// `{data}` at the start of `path` replaced by the data directory; `Err` says why it cannot be.
pub fn expand_data(path: &str, data_dir: Option<&Path>) -> Result<Option<PathBuf>, String> {
    if let Some(rest) = path.strip_prefix("{data}") {
        let d = data_dir.ok_or_else(|| "this path uses {data} but no data directory is set".to_string())?;
        return Ok(Some(d.join(rest.trim_start_matches(['/', '\\']))));
    }
    if path.contains("{data}") {
        return Err("{data} may only stand at the start of a path".into());
    }
    Ok(None)
}

/// Where the runner resolves paths from.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// `--data-dir` / `FLOWLAB_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// The manifest's directory.
    pub manifest_dir: PathBuf,
}

/// One resolved setting value: what the plugin is sent, and the files whose hashes the cell
/// id takes (`dataset_relative`: relative paths of a `"dataset"` setting, hashed per dataset).
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The value sent to the plugin.
    pub value: Value,
    /// Content hashes of the paths the runner could resolve on its own, in order.
    pub hashes: Vec<String>,
    /// Relative paths left to the plugin (resolved against each dataset's directory).
    pub dataset_relative: Vec<String>,
}

/// How path settings reach the files they name (the plan's I/O, runner/src/plan/io.rs: the
/// planner's unit tests give an in-memory one).
pub trait PathFiles: Sync {
    /// `path` made canonical, or `None` when nothing is there.
    fn find(&self, path: &Path) -> Option<PathBuf>;
    /// The content hash of the file or directory at `path` (BLAKE3 file digests, see the
    /// module comment).
    fn path_hash(&self, path: &Path) -> std::io::Result<String>;
}

/// The files on disk, hashed through the stat-keyed guard (runner/src/guard.rs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl PathFiles for Disk {
    fn find(&self, path: &Path) -> Option<PathBuf> {
        path.exists().then(|| path.canonicalize().unwrap_or_else(|_| path.to_path_buf()))
    }
    fn path_hash(&self, path: &Path) -> std::io::Result<String> {
        crate::guard::hash_content(path, Digest::Blake3)
    }
}

impl Resolver {
    /// Resolves one setting value (`None`: not a path value, sent as written).
    pub fn resolve(&self, base: Base, v: &Value) -> Result<Option<Resolved>, String> {
        self.resolve_in(&Disk, base, v)
    }

    /// [`Resolver::resolve`] with the files reached through `files`.
    pub fn resolve_in(&self, files: &dyn PathFiles, base: Base, v: &Value) -> Result<Option<Resolved>, String> {
        let Some(list) = strings(v) else { return Ok(None) };
        let (mut out, mut hashes, mut rel) = (Vec::new(), Vec::new(), Vec::new());
        for s in list {
            let p = match expand_data(s, self.data_dir.as_deref()).map_err(|e| format!("{e} (pass --data-dir DIR or set FLOWLAB_DATA_DIR)"))? {
                Some(p) => p,
                None => {
                    let p = PathBuf::from(s);
                    if p.is_absolute() {
                        p
                    } else if base == Base::Manifest {
                        self.manifest_dir.join(p)
                    } else {
                        out.push(Value::String(s.to_string()));
                        rel.push(s.to_string());
                        continue;
                    }
                }
            };
            let found = files.find(&p);
            if found.is_none() && base == Base::Dataset {
                // the plugin reports it when the cell runs, as for a relative one
                out.push(Value::String(p.to_string_lossy().into_owned()));
                continue;
            }
            let Some(p) = found else {
                let help = if s.starts_with("{data}") {
                    format!("{{data}} is {}", self.data_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default())
                } else {
                    "relative paths are relative to the manifest's directory; use {data}/… for the data directory".into()
                };
                return Err(format!("no such file or directory: {} ({help})", p.display()));
            };
            hashes.push(files.path_hash(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?);
            out.push(Value::String(p.to_string_lossy().into_owned()));
        }
        let value = if v.is_string() { out.pop().unwrap_or(Value::Null) } else { Value::Array(out) };
        Ok(Some(Resolved { value, hashes, dataset_relative: rel }))
    }
}

/// Content hashes of a `"dataset"` setting's relative paths against the directory of a
/// dataset file (`dataset`: the dataset's path on disk; `None` for a generated dataset, whose
/// generator cell id already stands for its files). A path that does not exist is left to
/// the plugin's error (no hash).
pub fn dataset_relative_hashes(files: &dyn PathFiles, rel: &[String], dataset: Option<&Path>) -> Vec<String> {
    let Some(dir) = dataset.and_then(Path::parent) else { return Vec::new() };
    rel.iter().filter_map(|r| files.path_hash(&dir.join(r)).ok()).collect()
}

/// The settings with every resolved path setting replaced (`resolved`: key → canonical JSON
/// text of the value as written → resolved value).
pub fn apply(settings: &mut Map<String, Value>, resolved: &BTreeMap<String, BTreeMap<String, Resolved>>) {
    for (k, by_raw) in resolved {
        if let Some(v) = settings.get_mut(k)
            && let Some(r) = by_raw.get(&flowlab_abi::json::canonical(v))
        {
            *v = r.value.clone();
        }
    }
}

/// The cell-id part of a cell's path settings: `key=hash,hash;…` over the keys it sets, in
/// key order; empty when it names no file (the id is then what it was without path settings).
pub fn id_part(files: &dyn PathFiles, settings: &Map<String, Value>, resolved: &BTreeMap<String, BTreeMap<String, Resolved>>, dataset: Option<&Path>) -> String {
    let mut part = String::new();
    for (k, by_raw) in resolved {
        let Some(r) = settings.get(k).and_then(|v| by_raw.get(&flowlab_abi::json::canonical(v))) else { continue };
        let mut hs = r.hashes.clone();
        hs.extend(dataset_relative_hashes(files, &r.dataset_relative, dataset));
        if !hs.is_empty() {
            part.push_str(&format!("{k}={};", hs.join(",")));
        }
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marked_keys_and_values() {
        let schema = json!({"properties": {"a": {"type": "string", KEYWORD: "manifest"}, "b": {KEYWORD: "dataset"}, "c": {"type": "string"}}});
        let keys = path_keys(&schema);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys["a"], Base::Manifest);
        assert_eq!(keys["b"], Base::Dataset);
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("m")).unwrap();
        std::fs::write(d.path().join("m/flows.json"), "[]").unwrap();
        let r = Resolver { data_dir: Some(d.path().to_path_buf()), manifest_dir: d.path().join("m") };
        let got = r.resolve(Base::Manifest, &json!("{data}/m/flows.json")).unwrap().unwrap();
        assert_eq!(got.value, json!(d.path().canonicalize().unwrap().join("m/flows.json").to_string_lossy()));
        let rel = r.resolve(Base::Manifest, &json!("flows.json")).unwrap().unwrap();
        assert_eq!(rel.value, got.value, "relative to the manifest directory");
        assert_eq!(rel.hashes, got.hashes);
        assert!(r.resolve(Base::Manifest, &json!([[1, "lognorm", [1, 0, 2]]])).unwrap().is_none(), "an inline mixture is no path");
        let ds = r.resolve(Base::Dataset, &json!(["x.csv", "{data}/m"])).unwrap().unwrap();
        assert_eq!(ds.dataset_relative, vec!["x.csv".to_string()]);
        assert_eq!(ds.value[0], json!("x.csv"));
        assert_eq!(ds.hashes.len(), 1);
        let missing = r.resolve(Base::Dataset, &json!("{data}/nope.lstm")).unwrap().unwrap();
        assert!(missing.hashes.is_empty() && missing.value.as_str().unwrap().ends_with("nope.lstm"), "a missing dataset-relative file is the plugin's error");
        let e = r.resolve(Base::Manifest, &json!("{data}/nope.json")).unwrap_err();
        assert!(e.contains("no such file or directory") && e.contains("nope.json"), "{e}");
        let no_data = Resolver { data_dir: None, manifest_dir: d.path().into() };
        assert!(no_data.resolve(Base::Manifest, &json!("{data}/m")).unwrap_err().contains("no data directory"));
        assert!(r.resolve(Base::Manifest, &json!("m/{data}")).unwrap_err().contains("only stand at the start"));
    }
}
