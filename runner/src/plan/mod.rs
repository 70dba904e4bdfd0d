//! The plan: datasets × tasks × sweep grid × replicates → cells, each with a content-hash id
//! and a derived seed (docs/design.md §1 Data flow, §3 Seeds).
use crate::error::{ManifestError, ManifestErrors, Origin};
use crate::manifest::{DatasetDecl, Manifest, SweepAxis};
use flowlab_abi::host::LoadedPlugin;
use flowlab_abi::json::canonical;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod datasets;
mod grid;
mod io;
mod tasks;
#[cfg(test)]
mod tests;

pub use crate::tree_hash::{TREE_MAX_DEPTH, TREE_MAX_ENTRIES, content_digest, content_hash, tree_digests, tree_files};
pub use grid::Grid;
pub use io::{DiskIo, PlanIo, PluginApi, PluginSet};

/// Where a dataset's bytes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetSource {
    /// A file or directory on disk.
    File {
        /// Resolved absolute path.
        path: PathBuf,
        /// Content hash.
        sha256: String,
    },
    /// Produced by a dataset cell (index into `Plan::cells`).
    Generated {
        /// Cell index.
        cell: usize,
    },
}

/// A resolved dataset.
#[derive(Debug, Clone)]
pub struct PlannedDataset {
    /// The declaration.
    pub decl: DatasetDecl,
    /// Format (declared, or from the generator).
    pub format: String,
    /// Source.
    pub source: DatasetSource,
    /// Identity used in cell ids: file content hash, or the generator cell's id.
    pub identity: String,
}

/// Kind of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Generates a dataset.
    Dataset,
    /// A task on a dataset (or datasetless).
    Task,
}

/// One unit of work. The strings and JSON a cell shares with the other cells of its task and
/// sweep point are reference-counted, so a plan of a million cells holds each settings object
/// once per grid point (BENCHMARKS.md: runner at scale). They serialise through `&*`
/// (serde's `rc` feature would change every plugin binary, hence its SHA-256 in records).
#[derive(Debug, Clone)]
pub struct Cell {
    /// Content-hash id (20 hex digits).
    pub id: String,
    /// Kind.
    pub kind: CellKind,
    /// Task id (or dataset id for dataset cells).
    pub task: Arc<str>,
    /// Plugin name.
    pub plugin: Arc<str>,
    /// Capability.
    pub capability: Arc<str>,
    /// Dataset id the cell runs on.
    pub dataset: Option<Arc<str>>,
    /// Replicate index.
    pub replicate: u32,
    /// The task's settings grid, shared by its cells; [`Cell::settings`] and [`Cell::point`]
    /// build this cell's settings and sweep point from it.
    pub grid: Arc<Grid>,
    /// This cell's point in `grid` (mixed radix over the axes, the last varying fastest).
    pub point_index: u64,
    /// Full derived seed (bytes; [`Cell::seed_hex`] gives the hex form stored and sent).
    pub seed_bytes: [u8; 32],
    /// First 64 bits of the seed.
    pub seed: u64,
    /// Overrides that touch this cell (key → layer).
    pub overrides: Arc<BTreeMap<String, String>>,
}

/// The expanded plan.
#[derive(Debug)]
pub struct Plan {
    /// The manifest.
    pub manifest: Manifest,
    /// Datasets by id.
    pub datasets: BTreeMap<String, PlannedDataset>,
    /// Dataset ids in declaration order.
    pub dataset_order: Vec<String>,
    /// Dataset cells first, then task cells in manifest order.
    pub cells: Vec<Cell>,
    /// Plugins.
    pub plugins: PluginSet,
}

/// Options that shape a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Data directory for `{data}` paths.
    pub data_dir: Option<PathBuf>,
}

fn cell_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"flowlab/cell/v1\0");
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex_lower(&h.finalize()[..10])
}

/// Lower-case hex, as `hex::encode` (which goes through a `char` iterator: a tenth of the time
/// of planning a million cells).
fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

impl Cell {
    /// The full derived seed in hex (the record's `seed`, the request's `seed_hex`).
    pub fn seed_hex(&self) -> String {
        hex_lower(&self.seed_bytes)
    }
    /// The resolved settings (the task's settings with this sweep point's values set).
    pub fn settings(&self) -> Value {
        self.grid.settings(self.point_index)
    }
    /// The sweep point (`"<task>.<setting>"` → value; empty without a sweep).
    pub fn point(&self) -> Map<String, Value> {
        self.grid.point(self.point_index)
    }
}

fn expand_data(path: &str, data_dir: Option<&Path>, manifest_dir: &Path) -> Result<PathBuf, String> {
    Ok(match crate::paths::expand_data(path, data_dir)? {
        Some(p) => p,
        None => {
            let p = PathBuf::from(path);
            if p.is_absolute() { p } else { manifest_dir.join(p) }
        }
    })
}

/// Resolved path settings: key → canonical text of the value as written → resolution.
type PathMap = BTreeMap<String, BTreeMap<String, crate::paths::Resolved>>;

/// Resolves the marked path settings (`crate::paths`) of a capability: every distinct value
/// the settings or the sweep axes give each marked key. Errors are placed at the key (or the
/// sweep axis) that holds the path.
fn resolve_paths(
    manifest: &Manifest,
    (resolver, files): (&crate::paths::Resolver, &dyn crate::paths::PathFiles),
    schema: &Value,
    settings: &Map<String, Value>,
    axes: &[&SweepAxis],
    at_key: &dyn Fn(&str) -> Origin,
    what: &str,
) -> Result<PathMap, Vec<ManifestError>> {
    let mut out = PathMap::new();
    let mut errors = Vec::new();
    for (key, base) in crate::paths::path_keys(schema) {
        let mut values: Vec<(&Value, Origin)> = settings.get(&key).map(|v| (v, at_key(&key))).into_iter().collect();
        for a in axes.iter().filter(|a| a.setting.len() == 1 && a.setting[0] == key) {
            values.extend(a.values.iter().map(|v| (v, manifest.origin(&["sweep", &a.key]))));
        }
        let mut by_raw = BTreeMap::new();
        for (v, origin) in values {
            let raw = canonical(v);
            if by_raw.contains_key(&raw) {
                continue;
            }
            match resolver.resolve_in(files, base, v) {
                Ok(Some(r)) => {
                    by_raw.insert(raw, r);
                }
                Ok(None) => {}
                Err(m) => errors.push(
                    ManifestError::new(origin, format!("{what}: `{key}`: {m}"))
                        .help("a path setting takes {data}/…, an absolute path, or a path relative to the manifest's directory (README: paths in settings)"),
                ),
            }
        }
        if !by_raw.is_empty() {
            out.insert(key, by_raw);
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

impl Plan {
    /// Expands a manifest into cells: the plan stage ([`plan`]) with the runner's I/O
    /// ([`DiskIo`]: dataset files hashed, plugins loaded and asked to validate settings).
    pub fn build(manifest: Manifest, opts: &PlanOptions) -> Result<Plan, ManifestErrors> {
        let mut io = DiskIo::default();
        let Planned { datasets, dataset_order, cells } = plan(&manifest, opts, &mut io)?;
        Ok(Plan { manifest, datasets, dataset_order, cells, plugins: io.plugins })
    }

    /// The plugin of a cell.
    pub fn plugin(&self, name: &str) -> &'static LoadedPlugin {
        self.plugins.map[name]
    }
}

/// The output of the plan stage.
#[derive(Debug)]
pub struct Planned {
    /// Datasets by id.
    pub datasets: BTreeMap<String, PlannedDataset>,
    /// Dataset ids in declaration order.
    pub dataset_order: Vec<String>,
    /// Dataset cells first, then task cells in manifest order.
    pub cells: Vec<Cell>,
}

/// The plan stage (docs/design.md, "Plan stage"): a checked manifest → datasets and cells,
/// everything outside the manifest read through `io`. Datasets first (each a file hashed or
/// a generator cell), then every task sized, so an oversized plan is refused before a cell
/// is built, then the tasks' cells. Every error of a step is collected.
pub fn plan(manifest: &Manifest, opts: &PlanOptions, io: &mut dyn PlanIo) -> Result<Planned, ManifestErrors> {
    let mut errors: Vec<ManifestError> = Vec::new();
    let root_seed = manifest.experiment.seed;
    let reps = manifest.experiment.replicates;
    let mdir = manifest.dir();
    let resolver = crate::paths::Resolver { data_dir: opts.data_dir.clone(), manifest_dir: mdir.clone() };
    let mut out = Planned { datasets: BTreeMap::new(), dataset_order: Vec::new(), cells: Vec::new() };
    for d in &manifest.datasets {
        let planned = if let Some(path) = &d.path {
            datasets::file(manifest, d, path, opts.data_dir.as_deref(), &mdir, io).map_err(|e| vec![e])
        } else if let (Some(plugin), Some(cap)) = (&d.plugin, &d.capability) {
            datasets::generated(manifest, d, (plugin, cap), &resolver, io, out.cells.len()).map(|(cell, pd)| {
                out.cells.push(cell);
                pd
            })
        } else {
            continue;
        };
        match planned {
            Ok(pd) => {
                out.datasets.insert(d.id.clone(), pd);
                out.dataset_order.push(d.id.clone());
            }
            Err(e) => errors.extend(e),
        }
    }

    // ---- tasks: sized first, so an oversized plan is refused before a cell is built -------
    let mut shapes = Vec::new();
    // a dataset already reported as broken explains a task left without data: saying
    // "declare a [[dataset]]" as well would point away from the cause
    let datasets_failed = !errors.is_empty();
    let mut failed_tasks = BTreeSet::new();
    for t in &manifest.tasks {
        match tasks::shape_task(manifest, t, io, &out.datasets, &out.dataset_order, datasets_failed) {
            Ok(s) => shapes.push(s),
            Err(e) => {
                failed_tasks.insert(t.id.as_str());
                errors.extend(e)
            }
        }
    }
    // a sweep key close to a task that failed (`fit.iterations` beside `[[fitt]]`) is a
    // consequence of that task's error: only its own error is reported
    errors.extend(manifest.deferred.iter().filter(|d| !failed_tasks.contains(d.unless_task_fails.as_str())).map(|d| d.error.clone()));
    let max = manifest.run.max_cells.unwrap_or(DEFAULT_MAX_CELLS);
    let total = shapes.iter().fold(out.cells.len() as u64, |n, s| n.saturating_add(s.cells(reps)));
    if total > max {
        errors.push(tasks::too_many_cells(manifest, &shapes, total, max));
        return Err(ManifestErrors(errors));
    }
    // exact size: no doubling of a large vector (a failed reservation just grows as before)
    let _ = out.cells.try_reserve_exact((total as usize).saturating_sub(out.cells.len()));
    for s in &shapes {
        if let Err(e) = tasks::expand_task(manifest, s, &out.datasets, (&resolver, &*io), root_seed, reps, &mut out.cells) {
            errors.extend(e);
        }
    }
    if !errors.is_empty() {
        return Err(ManifestErrors(errors));
    }
    Ok(out)
}

/// A sweep point (its index in the grid) whose settings the plugin refused, and why.
type PointRefusal = (u64, flowlab_abi::PluginError);

/// Default of `[run] max_cells`: the most cells a plan may expand to (README: manifest format).
pub const DEFAULT_MAX_CELLS: u64 = 1_000_000;

/// The overrides whose key starts with one of `prefixes` (key → layer).
fn overrides_under(manifest: &Manifest, prefixes: &[&str]) -> BTreeMap<String, String> {
    manifest.overrides.iter().filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p))).map(|(k, v)| (k.clone(), v.clone())).collect()
}
