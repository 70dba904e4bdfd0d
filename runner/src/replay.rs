//! `flowlab replay <cell.json>` (docs/design.md §3 Seeds, "Replay"): re-runs a stored cell with its stored
//! settings, seed, dataset and plugin and compares the result bytes (everything the plugin
//! returned, outside `timing`) with the stored ones, naming the first differing field.
//!
//! The request is rebuilt from the record plus the experiment's run-context file
//! (`.flowlab-run.json`, written by every run: experiment description/metadata and the
//! resolved dataset files). A generated dataset is found through its generator cell in the
//! same results directory. The dataset's content hash must equal the stored one; the plugin
//! file's SHA-256 may differ (then a warning is printed, since a different build can give
//! different bytes).
use crate::exec::RUN_CONTEXT;
use crate::record::{CELL_SCHEMA, CellRecord, DatasetUse, RunContext, Status, outcome};
use crate::tree_hash::content_hash;
use flowlab_abi::host::{HostServices, LoadedPlugin, find_plugin_file};
use flowlab_abi::{DatasetRef, ExperimentInfo, PluginError, Request};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Options of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Thread budget of the cell (results must not depend on it).
    pub threads: usize,
    /// Data directory for `{data}` paths when the run context lacks the resolved path.
    pub data_dir: Option<PathBuf>,
    /// Use this plugin file instead of discovering the plugin by name.
    pub plugin: Option<PathBuf>,
    /// Keep the replayed artifacts here (default: a temporary directory, removed).
    pub keep: Option<PathBuf>,
}

/// The outcome of a replay.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Cell id.
    pub cell_id: String,
    /// Whether the result bytes (outside `timing`) are equal.
    pub equal: bool,
    /// First differing field (JSON pointer into the cell record) and both values.
    pub first_difference: Option<(String, Value, Value)>,
    /// Warnings (plugin hash differs, …).
    pub warnings: Vec<String>,
    /// Artifact files that differ or are missing on one side (informational).
    pub artifact_differences: Vec<String>,
    /// Number of artifact files compared.
    pub artifacts_compared: usize,
}

/// The part of a record that the plugin determined: status, error and response without
/// `timing`, as stored.
fn result_part(status: Status, error: &Option<PluginError>, response: &Value) -> Value {
    json!({"status": status, "error": error, "response": response})
}

/// The first place where two JSON values differ, as a JSON pointer.
pub fn first_difference(a: &Value, b: &Value, at: &str) -> Option<(String, Value, Value)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{at}/{k}");
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, &p) {
                            return Some(d);
                        }
                    }
                    None => return Some((p, va.clone(), Value::Null)),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    return Some((format!("{at}/{k}"), Value::Null, vb.clone()));
                }
            }
            let (ka, kb): (Vec<&String>, Vec<&String>) = (x.keys().collect(), y.keys().collect());
            if ka != kb {
                return Some((format!("{at} (key order)"), json!(ka), json!(kb)));
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(va, vb, &format!("{at}/{i}")) {
                    return Some(d);
                }
            }
            if x.len() != y.len() {
                return Some((format!("{at} (length)"), json!(x.len()), json!(y.len())));
            }
            None
        }
        _ => {
            // compare the serialised bytes (1.0 vs 1 are different bytes)
            if serde_json::to_string(a).ok() != serde_json::to_string(b).ok() { Some((at.to_string(), a.clone(), b.clone())) } else { None }
        }
    }
}

/// The run context of an experiment directory (`.flowlab-run.json`), read through its type;
/// the error says whether it is missing or which key is wrong.
pub fn read_run_context(dir: &Path) -> Result<RunContext, String> {
    let p = dir.join(RUN_CONTEXT);
    let b = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    RunContext::from_slice(&b).map_err(|e| format!("{}: {e}", p.display()))
}

fn read_json(p: &Path) -> Result<Value, String> {
    let b = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_slice(&b).map_err(|e| format!("{}: not JSON: {e}", p.display()))
}

/// The dataset file a stored cell read, found as a replay finds it (the run context's resolved
/// path, `{data}` under `opts.data_dir`, a generator cell's artifact) and checked against the
/// record's content hash; `None` when the cell read no dataset.
pub fn resolve_dataset(dir: &Path, ds: Option<&DatasetUse>, ctx: Option<&RunContext>, opts: &ReplayOptions) -> Result<Option<DatasetRef>, String> {
    let Some(ds) = ds else { return Ok(None) };
    let id = ds.id.as_str();
    let want = ds.sha256.as_deref().ok_or_else(|| format!("the record names dataset `{id}` but not its content hash (the cell failed before reading it?)"))?;
    let declared = ds.declared_path.as_deref().unwrap_or("");
    let path: PathBuf = if declared.starts_with("generated by ") {
        // the generator cell lives in the same directory
        let mut found = None;
        for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let p = e.map_err(|e| e.to_string())?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let Ok(g) = read_json(&p) else { continue };
            if g["kind"] == "dataset"
                && g["task"] == id
                && g["status"] == "ok"
                && let Some(a) = g["response"]["artifacts"].as_array().and_then(|a| a.iter().find(|x| x["name"] == "dataset"))
            {
                let cand = dir.join("artifacts").join(g["cell_id"].as_str().unwrap_or("")).join(a["path"].as_str().unwrap_or(""));
                if content_hash(&cand).ok().as_deref() == Some(want) {
                    found = Some(cand);
                    break;
                }
            }
        }
        found.ok_or_else(|| format!("generated dataset `{id}` (sha256 {want}) not found among the generator cells in {}", dir.display()))?
    } else if let Some(p) = ctx.and_then(|c| c.datasets.get(id)).filter(|p| Path::new(p).exists()) {
        PathBuf::from(p)
    } else if let Some(rest) = declared.strip_prefix("{data}") {
        let d = opts.data_dir.clone().ok_or_else(|| format!("dataset `{id}` is {declared}: pass --data-dir DIR or set FLOWLAB_DATA_DIR"))?;
        d.join(rest.trim_start_matches(['/', '\\']))
    } else {
        let p = PathBuf::from(declared);
        if p.is_absolute() {
            p
        } else {
            let mdir = ctx.and_then(|c| Path::new(&c.manifest).parent().map(Path::to_path_buf)).unwrap_or_default();
            mdir.join(p)
        }
    };
    let got = content_hash(&path).map_err(|e| format!("dataset `{id}`: {}: {e}", path.display()))?;
    if got != want {
        return Err(format!("dataset `{id}` at {} has changed: sha256 {got}, the stored cell used {want}", path.display()));
    }
    Ok(Some(DatasetRef {
        id: id.to_string(),
        path: path.to_string_lossy().into_owned(),
        format: ds.format.clone().unwrap_or_default(),
        sha256: got,
        options: ctx.and_then(|c| c.dataset_options.get(id).cloned()).unwrap_or_default(),
    }))
}

/// SHA-256 of every file below `root` by relative path (nothing when `root` does not exist),
/// walked by the dataset hasher's bounded walk (`tree_hash::tree_files`: no symlinked directories,
/// no FIFOs, limited size), so a replay cannot hang on what a plugin left in its artifacts.
fn hash_tree(root: &Path) -> Result<std::collections::BTreeMap<String, String>, String> {
    if !root.is_dir() {
        return Ok(Default::default());
    }
    let sha = |f: &Path| flowlab_abi::host::file_sha256(f).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", f.display())));
    Ok(crate::tree_hash::tree_digests(root, sha).map_err(|e| format!("{}: {e}", root.display()))?.into_iter().collect())
}

/// Why `--keep DIR` cannot take the replayed artifacts, if it cannot: it exists and is not a
/// directory, or is a directory that is not empty (replay never deletes what the user has there).
pub fn keep_refusal(k: &Path) -> Option<String> {
    let m = std::fs::symlink_metadata(k).ok()?;
    if !m.is_dir() {
        return Some(format!("--keep {}: exists and is not a directory; give a new or empty directory", k.display()));
    }
    match std::fs::read_dir(k).map(|mut rd| rd.next().is_some()) {
        Ok(true) => Some(format!("--keep {}: the directory is not empty; give a new or empty directory (nothing in it was touched)", k.display())),
        Ok(false) => None,
        Err(e) => Some(format!("--keep {}: {e}", k.display())),
    }
}

/// Replays the cell stored in `cell_file`.
pub fn replay(cell_file: &Path, opts: &ReplayOptions) -> Result<Replay, String> {
    let bytes = std::fs::read(cell_file).map_err(|e| format!("{}: {e}", cell_file.display()))?;
    let rec = CellRecord::from_slice(&bytes).map_err(|e| format!("{}: not a flowlab cell record: {e}", cell_file.display()))?;
    if rec.schema != CELL_SCHEMA {
        return Err(format!("{}: not a flowlab cell record (schema {}, expected {CELL_SCHEMA})", cell_file.display(), rec.schema));
    }
    let dir = cell_file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let mut warnings = Vec::new();
    let ctx = match read_run_context(&dir) {
        Ok(c) => Some(c),
        Err(e) => {
            warnings.push(format!("{e}: the experiment description and metadata are taken as empty"));
            None
        }
    };
    let (cell_id, plugin_name, capability, seed_hex) = (rec.cell_id.clone(), rec.plugin.clone(), rec.capability.clone(), rec.seed.clone());
    let seed_bytes = hex::decode(&seed_hex).map_err(|e| format!("{}: bad seed `{seed_hex}`: {e}", cell_file.display()))?;
    if seed_bytes.len() < 8 {
        return Err(format!("{}: seed `{seed_hex}` is too short", cell_file.display()));
    }
    let file = match &opts.plugin {
        Some(p) => p.clone(),
        None => find_plugin_file(&plugin_name).ok_or_else(|| format!("plugin `{plugin_name}` not found (searched {:?}; set FLOWLAB_PLUGIN_PATH)", flowlab_abi::host::search_dirs()))?,
    };
    let p = LoadedPlugin::load(&file).map_err(|e| e.to_string())?;
    if p.name() != plugin_name {
        return Err(format!("{} is plugin `{}`, the cell was run by `{plugin_name}`", file.display(), p.name()));
    }
    let stored = &rec.provenance.plugin;
    if stored.sha256 != p.sha256 {
        warnings.push(format!(
            "plugin `{plugin_name}` differs from the one that produced the cell: sha256 {} (version {}) now, {} (version {}) stored; a different build may give different bytes",
            p.sha256,
            p.version(),
            stored.sha256,
            stored.version
        ));
    }
    let dataset = resolve_dataset(&dir, rec.dataset.as_ref(), ctx.as_ref(), opts)?;
    let experiment: ExperimentInfo = ctx.map(|c| c.experiment).unwrap_or_else(|| ExperimentInfo { name: rec.experiment.clone(), ..Default::default() });
    let tmp;
    let out_dir = match &opts.keep {
        Some(k) => {
            if let Some(m) = keep_refusal(k) {
                return Err(m);
            }
            std::fs::create_dir_all(k).map_err(|e| format!("{}: {e}", k.display()))?;
            k.canonicalize().unwrap_or(k.clone())
        }
        None => {
            tmp = tempdir_in_target()?;
            tmp.0.clone()
        }
    };
    let req = Request {
        cell_id: cell_id.clone(),
        capability,
        seed: u64::from_be_bytes(seed_bytes[..8].try_into().expect("8 bytes")),
        seed_hex,
        threads: opts.threads.max(1),
        dataset,
        settings: rec.settings.clone(),
        output_dir: out_dir.to_string_lossy().into_owned(),
        replicate: rec.replicate,
        experiment,
    };
    struct Quiet;
    impl HostServices for Quiet {}
    let result = p.run(&req, &Quiet);
    let (status, error, response, _) = outcome(&result);
    let new = result_part(status, &error, &response);
    let old = result_part(rec.status, &rec.error, &rec.response);
    let bytes = |v: &Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    let equal = bytes(&old) == bytes(&new);
    let first = if equal { None } else { first_difference(&old, &new, "") };
    // artifacts: same relative files with the same bytes
    let stored_art = hash_tree(&dir.join("artifacts").join(&cell_id))?;
    let new_art = hash_tree(&out_dir)?;
    let mut art_diff = Vec::new();
    for (k, h) in &stored_art {
        match new_art.get(k) {
            Some(h2) if h2 == h => {}
            Some(_) => art_diff.push(format!("{k}: bytes differ")),
            None => art_diff.push(format!("{k}: not produced by the replay")),
        }
    }
    for k in new_art.keys() {
        if !stored_art.contains_key(k) {
            art_diff.push(format!("{k}: produced by the replay only"));
        }
    }
    Ok(Replay { cell_id, equal, first_difference: first, warnings, artifact_differences: art_diff, artifacts_compared: stored_art.len().max(new_art.len()) })
}

/// A temporary directory removed on drop (no tempfile dependency in the runner).
struct TmpDir(PathBuf);
impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir_in_target() -> Result<TmpDir, String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("flowlab-replay-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(TmpDir(p.canonicalize().unwrap_or(p)))
}
