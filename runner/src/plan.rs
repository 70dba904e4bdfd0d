//! The plan: datasets × tasks × sweep grid × replicates → cells, each with a content-hash id
//! and a derived seed (docs/design.md §1 Data flow, §3 Seeds).
use crate::error::{ManifestError, ManifestErrors, Origin};
use crate::manifest::{DatasetDecl, Manifest, SweepAxis, TaskDecl, suggest};
use flowlab_abi::CapabilityKind;
use flowlab_abi::hashcache::Digest as FileDigest;
use flowlab_abi::host::{LoadedPlugin, find_plugin_file, search_dirs};
use flowlab_abi::json::canonical;
use flowlab_abi::seed::derive_cell_seed;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Plugins referenced by a manifest, loaded once.
#[derive(Debug, Default)]
pub struct PluginSet {
    map: BTreeMap<String, &'static LoadedPlugin>,
}

impl PluginSet {
    /// Plugin `name` if the plan loaded it.
    pub fn loaded(&self, name: &str) -> Option<&'static LoadedPlugin> {
        self.map.get(name).copied()
    }
    /// Loads plugin `name` (cached), or explains where it was looked for.
    pub fn get(&mut self, name: &str, origin: Origin) -> Result<&'static LoadedPlugin, ManifestError> {
        if let Some(p) = self.map.get(name) {
            return Ok(p);
        }
        let file = find_plugin_file(name).ok_or_else(|| {
            // file names only: loading a library runs its code, so only named plugins are loaded
            let found = flowlab_abi::host::candidate_names();
            let hint = match suggest(name, found.iter().map(|s| s.as_str())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "available plugins: {}; searched {} (set FLOWLAB_PLUGIN_PATH or run `cargo build --workspace`)",
                    if found.is_empty() { "none".to_string() } else { found.join(", ") },
                    search_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            };
            ManifestError::new(origin.clone(), format!("unknown plugin `{name}`")).help(hint)
        })?;
        let p = LoadedPlugin::load(&file).map_err(|e| ManifestError::new(origin, format!("plugin `{name}` cannot be loaded: {e}")))?;
        self.map.insert(name.to_string(), p);
        Ok(p)
    }

    /// The loaded plugins.
    pub fn all(&self) -> impl Iterator<Item = &'static LoadedPlugin> + '_ {
        self.map.values().copied()
    }
}

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

/// Most files and directories a dataset directory walk visits (README: datasets).
pub const TREE_MAX_ENTRIES: usize = 100_000;
/// Deepest directory nesting a dataset directory walk enters (README: datasets).
pub const TREE_MAX_DEPTH: usize = 32;

/// A directory that cannot be hashed safely: the message names the file or the limit.
fn refused(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
}

/// What a file type is, for errors about files that are neither regular files nor directories.
fn type_name(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The regular files below directory `root`, as (path relative to `root`, path to read),
/// sorted by relative path. The walk never follows a symbolic link into a directory: a link
/// is taken (as the file it points to) only when it resolves to a regular file inside `root`;
/// links to directories, links out of the tree, broken links, FIFOs, sockets and devices are
/// refused with an error naming them, and the walk stops with an error past
/// [`TREE_MAX_ENTRIES`] entries or [`TREE_MAX_DEPTH`] levels, so a link loop, a FIFO or a
/// `path = "/"` cannot hang planning (README: datasets).
pub fn tree_files(root: &Path) -> std::io::Result<Vec<(PathBuf, PathBuf)>> {
    let canon_root = root.canonicalize()?;
    let mut out = Vec::new();
    let mut entries = 0usize;
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let at_dir = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
        let mut list = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(at_dir)? {
            list.push(e.map_err(at_dir)?);
            if list.len() > TREE_MAX_ENTRIES {
                break;
            }
        }
        // by name, so that the first problem reported does not depend on the directory order
        list.sort_by_key(|e| e.file_name());
        for e in list {
            entries += 1;
            if entries > TREE_MAX_ENTRIES {
                return Err(refused(format!("{}: more than {TREE_MAX_ENTRIES} files and directories below it (the walk limit); point the dataset at a smaller directory", root.display())));
            }
            let p = e.path();
            let t = e.file_type()?;
            if t.is_dir() {
                if depth + 1 > TREE_MAX_DEPTH {
                    return Err(refused(format!("{}: nested more than {TREE_MAX_DEPTH} directories deep (the walk limit)", p.display())));
                }
                stack.push((p, depth + 1));
                continue;
            }
            if t.is_symlink() {
                let target = p.canonicalize().map_err(|err| refused(format!("{}: symbolic link that does not resolve: {err}", p.display())))?;
                let tt = std::fs::metadata(&target)?.file_type();
                if !tt.is_file() {
                    return Err(refused(format!("{}: symbolic link to {} ({}); a dataset directory may link only to regular files inside it", p.display(), target.display(), type_name(tt))));
                }
                if !target.starts_with(&canon_root) {
                    return Err(refused(format!(
                        "{}: symbolic link to {}, outside the dataset directory {}; copy the file in or point the dataset at a directory that holds it",
                        p.display(),
                        target.display(),
                        canon_root.display()
                    )));
                }
            } else if !t.is_file() {
                return Err(refused(format!("{}: {}, not a regular file; a dataset directory may hold only regular files and directories", p.display(), type_name(t))));
            }
            let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
            out.push((rel, p));
        }
    }
    // component-wise order of the relative paths, as the directory hash has always used
    out.sort();
    Ok(out)
}

/// SHA-256 of a file, or of a directory (sorted relative paths and contents of the regular
/// files found by [`tree_files`]). Checks the file type first, so a FIFO is never opened.
pub fn content_hash(path: &Path) -> std::io::Result<String> {
    content_digest(path, FileDigest::Sha256)
}

/// [`content_hash`] with the files' digest chosen (`FileDigest::Blake3` for path settings,
/// runner/src/paths.rs); a directory's list of names and file digests is SHA-256 either way.
pub fn content_digest(path: &Path, digest: FileDigest) -> std::io::Result<String> {
    let t = std::fs::metadata(path)?.file_type();
    // every file's hash goes through the stat-keyed cache (plugins/abi/src/hashcache.rs): a
    // rerun on unchanged data reads no data file just to name it
    let file_hash = |p: &Path| {
        let f = match digest {
            FileDigest::Sha256 => flowlab_abi::host::file_sha256,
            FileDigest::Blake3 => flowlab_abi::host::file_blake3,
        };
        flowlab_abi::hashcache::cached(digest, p, f)
    };
    if t.is_file() {
        return file_hash(path);
    }
    if !t.is_dir() {
        return Err(refused(format!("{}: {}, not a regular file or directory", path.display(), type_name(t))));
    }
    let mut h = Sha256::new();
    for (rel, file_digest) in tree_digests(path, file_hash)? {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(file_digest.as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// Every regular file below `root` ([`tree_files`]: bounded walk, no symlinked directories,
/// no FIFOs) as (relative path with `/` separators, `hash` of its content), in the walk's
/// order. The one directory hasher: a dataset directory's digest ([`content_digest`]) and a
/// replay's artifact comparison (runner/src/replay.rs) are both made from it.
pub fn tree_digests(root: &Path, hash: impl Fn(&Path) -> std::io::Result<String>) -> std::io::Result<Vec<(String, String)>> {
    tree_files(root)?.into_iter().map(|(rel, file)| Ok((rel.to_string_lossy().replace('\\', "/"), hash(&file)?))).collect()
}

fn set_path(obj: &mut Map<String, Value>, path: &[String], v: Value) {
    if path.len() == 1 {
        obj.insert(path[0].clone(), v);
        return;
    }
    let entry = obj.entry(path[0].clone()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(m) = entry {
        set_path(m, &path[1..], v);
    }
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

/// A task's settings and its sweep axes. Cells hold an index into it rather than their own
/// settings object, so a sweep of a million distinct points costs a million indices, not a
/// million JSON maps (BENCHMARKS.md: runner at scale).
#[derive(Debug, Default)]
pub struct Grid {
    base: Map<String, Value>,
    axes: Vec<(String, Vec<String>, Vec<Value>)>,
    /// Resolved path settings (`crate::paths`), applied by [`Grid::settings`].
    pub paths: PathMap,
}

/// The object of a settings value (settings are always objects).
fn settings_map(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

impl Grid {
    /// A grid of `base` settings and the given axes (`key`, setting path, values).
    pub fn new(base: Map<String, Value>, axes: Vec<(String, Vec<String>, Vec<Value>)>) -> Grid {
        Grid { base, axes, paths: PathMap::new() }
    }
    /// The grid with its path settings resolved.
    pub fn with_paths(mut self, paths: PathMap) -> Grid {
        self.paths = paths;
        self
    }
    /// Number of points (the product of the axis lengths; 1 without axes).
    pub fn len(&self) -> u64 {
        self.axes.iter().fold(1u64, |n, a| n.saturating_mul(a.2.len() as u64))
    }
    /// Whether the grid has no point (an empty axis).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value index on each axis of point `k`.
    fn digits(&self, mut k: u64) -> Vec<usize> {
        let mut d = vec![0usize; self.axes.len()];
        for (slot, a) in d.iter_mut().zip(&self.axes).rev() {
            let n = a.2.len().max(1) as u64;
            *slot = (k % n) as usize;
            k /= n;
        }
        d
    }
    /// The settings of point `k` as the plugin gets them (path settings resolved).
    pub fn settings(&self, k: u64) -> Value {
        self.resolve(self.raw_settings(k))
    }
    /// The settings of point `k` as the manifest writes them (the canonical form, seed and
    /// cell id are taken from these).
    pub fn raw_settings(&self, k: u64) -> Value {
        let mut s = self.base.clone();
        for ((_, path, values), i) in self.axes.iter().zip(self.digits(k)) {
            set_path(&mut s, path, values[i].clone());
        }
        Value::Object(s)
    }
    /// `raw` with its path settings resolved.
    pub fn resolve(&self, mut raw: Value) -> Value {
        if let Value::Object(m) = &mut raw
            && !self.paths.is_empty()
        {
            crate::paths::apply(m, &self.paths);
        }
        raw
    }
    /// The sweep point of point `k`.
    pub fn point(&self, k: u64) -> Map<String, Value> {
        self.axes.iter().zip(self.digits(k)).map(|((key, _, values), i)| (key.clone(), values[i].clone())).collect()
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
    resolver: &crate::paths::Resolver,
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
            match resolver.resolve(base, v) {
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
    /// Expands a manifest into cells, loading and asking the plugins to validate settings.
    pub fn build(manifest: Manifest, opts: &PlanOptions) -> Result<Plan, ManifestErrors> {
        let mut errors: Vec<ManifestError> = Vec::new();
        let mut plugins = PluginSet::default();
        let root_seed = manifest.experiment.seed;
        let reps = manifest.experiment.replicates;
        let mdir = manifest.dir();
        let resolver = crate::paths::Resolver { data_dir: opts.data_dir.clone(), manifest_dir: mdir.clone() };
        let mut cells = Vec::new();
        let mut datasets = BTreeMap::new();
        let mut dataset_order = Vec::new();

        // ---- datasets -------------------------------------------------------------------------
        for d in &manifest.datasets {
            let at = |k: &str| manifest.origin(&["datasets", &d.id, k]);
            if let Some(path) = &d.path {
                let p = match expand_data(path, opts.data_dir.as_deref(), &mdir) {
                    Ok(p) => p,
                    Err(m) => {
                        errors.push(ManifestError::new(at("path"), format!("dataset `{}`: {m}", d.id)).help("pass --data-dir DIR or set FLOWLAB_DATA_DIR (README: where to download the data)"));
                        continue;
                    }
                };
                if !p.exists() {
                    let help = if path.starts_with("{data}") {
                        format!(
                            "the data directory is {}; check --data-dir / FLOWLAB_DATA_DIR and the README's data section",
                            opts.data_dir.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
                        )
                    } else {
                        "relative paths are relative to the manifest's directory; use {data}/… for the data directory".into()
                    };
                    errors.push(ManifestError::new(at("path"), format!("dataset `{}`: no such file or directory: {}", d.id, p.display())).help(help));
                    continue;
                }
                // canonical first: the dataset guard knows the file by this path
                let p = p.canonicalize().unwrap_or(p);
                let sha = match crate::guard::hash_dataset(&p) {
                    Ok(s) => s,
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                        errors.push(ManifestError::new(at("path"), format!("dataset `{}`: {e}", d.id)).help("a dataset is a regular file or a directory of regular files (README: datasets)"));
                        continue;
                    }
                    Err(e) => {
                        errors.push(ManifestError::new(at("path"), format!("dataset `{}`: cannot read {}: {e}", d.id, p.display())));
                        continue;
                    }
                };
                datasets.insert(
                    d.id.clone(),
                    PlannedDataset { decl: d.clone(), format: d.format.clone().unwrap_or_default(), source: DatasetSource::File { path: p, sha256: sha.clone() }, identity: sha },
                );
                dataset_order.push(d.id.clone());
            } else if let (Some(plugin), Some(cap)) = (&d.plugin, &d.capability) {
                let p = match plugins.get(plugin, at("plugin")) {
                    Ok(p) => p,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                let schema = match p.description.capability(cap) {
                    Some(c) if c.kind == CapabilityKind::Dataset => &c.settings_schema,
                    _ => {
                        let gens: Vec<&str> = p.description.capabilities.iter().filter(|c| c.kind == CapabilityKind::Dataset).map(|c| c.name.as_str()).collect();
                        errors.push(ManifestError::new(at("capability"), format!("plugin `{plugin}` has no dataset capability `{cap}`")).help(if gens.is_empty() {
                            format!("`{plugin}` generates no datasets")
                        } else {
                            format!("its dataset capabilities: {}", gens.join(", "))
                        }));
                        continue;
                    }
                };
                if let (Some(f), Some(declared)) = (&p.description.capability(cap).and_then(|c| c.produces.clone()), &d.format)
                    && f != declared
                {
                    errors.push(ManifestError::new(at("format"), format!("dataset `{}`: `{cap}` of `{plugin}` writes format `{f}`, not `{declared}`", d.id)).help(format!("write `format = \"{f}\"`")));
                    continue;
                }
                let dpaths = match resolve_paths(&manifest, &resolver, schema, &d.settings, &[], &|k| manifest.origin(&["datasets", &d.id, "settings", k]), &format!("dataset `{}`", d.id)) {
                    Ok(m) => m,
                    Err(e) => {
                        errors.extend(e);
                        continue;
                    }
                };
                let grid = Grid::new(d.settings.clone(), Vec::new()).with_paths(dpaths);
                let settings = grid.settings(0);
                if let Err(e) = p.validate(cap, &settings) {
                    let mut path = vec!["datasets".to_string(), d.id.clone(), "settings".into()];
                    path.extend(e.path.iter().flat_map(|p| p.split('.').map(str::to_string)));
                    errors.push(ManifestError::new(manifest.source.locate_normalised(&path), format!("dataset `{}`: {}", d.id, e.message)).help(settings_help(schema, &e, plugin, cap)));
                    continue;
                }
                let canon = canonical(&Value::Object(d.settings.clone()));
                let seed = derive_cell_seed(root_seed, &d.id, plugin, cap, &canon, 0);
                let files = crate::paths::id_part(&d.settings, &grid.paths, None);
                let seed_hex = hex_lower(&seed);
                let mut parts = vec!["dataset", &d.id, plugin, cap, &canon, &seed_hex];
                if !files.is_empty() {
                    parts.push(&files);
                }
                let id = cell_id(&parts);
                let idx = cells.len();
                cells.push(Cell {
                    id: id.clone(),
                    kind: CellKind::Dataset,
                    task: d.id.as_str().into(),
                    plugin: plugin.as_str().into(),
                    capability: cap.as_str().into(),
                    dataset: None,
                    replicate: 0,
                    grid: Arc::new(grid),
                    point_index: 0,
                    seed: u64::from_be_bytes(seed[..8].try_into().expect("32 bytes")),
                    seed_bytes: seed,
                    overrides: Arc::new(overrides_under(&manifest, &[&format!("datasets.{}.", d.id)])),
                });
                // `format` may be left out when the capability says what it writes
                let format = d.format.clone().or_else(|| p.description.capability(cap).and_then(|c| c.produces.clone())).unwrap_or_default();
                datasets.insert(d.id.clone(), PlannedDataset { decl: d.clone(), format, source: DatasetSource::Generated { cell: idx }, identity: id });
                dataset_order.push(d.id.clone());
            }
        }

        // ---- tasks: sized first, so an oversized plan is refused before a cell is built -------
        let mut shapes = Vec::new();
        // a dataset already reported as broken explains a task left without data: saying
        // "declare a [[dataset]]" as well would point away from the cause
        let datasets_failed = !errors.is_empty();
        let mut failed_tasks = BTreeSet::new();
        for t in &manifest.tasks {
            match shape_task(&manifest, t, &mut plugins, &datasets, &dataset_order, datasets_failed) {
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
        let total = shapes.iter().fold(cells.len() as u64, |n, s| n.saturating_add(s.cells(reps)));
        if total > max {
            errors.push(too_many_cells(&manifest, &shapes, total, max));
            return Err(ManifestErrors(errors));
        }
        // exact size: no doubling of a large vector (a failed reservation just grows as before)
        let _ = cells.try_reserve_exact((total as usize).saturating_sub(cells.len()));
        for s in &shapes {
            if let Err(e) = expand_task(&manifest, s, &datasets, &resolver, root_seed, reps, &mut cells) {
                errors.extend(e);
            }
        }
        if !errors.is_empty() {
            return Err(ManifestErrors(errors));
        }
        Ok(Plan { manifest, datasets, dataset_order, cells, plugins })
    }

    /// The plugin of a cell.
    pub fn plugin(&self, name: &str) -> &'static LoadedPlugin {
        self.plugins.map[name]
    }
}

/// Default of `[run] max_cells`: the most cells a plan may expand to (README: manifest format).
pub const DEFAULT_MAX_CELLS: u64 = 1_000_000;

/// The overrides whose key starts with one of `prefixes` (key → layer).
fn overrides_under(manifest: &Manifest, prefixes: &[&str]) -> BTreeMap<String, String> {
    manifest.overrides.iter().filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p))).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A task's place in the plan before its cells are built: its plugin, the datasets it runs
/// on and its sweep axes, from which its cell count follows without building anything.
struct TaskShape<'m> {
    task: &'m TaskDecl,
    plugin: &'static LoadedPlugin,
    /// Dataset ids (`None`: datasetless).
    targets: Vec<Option<Arc<str>>>,
    axes: Vec<&'m SweepAxis>,
}

impl TaskShape<'_> {
    /// Grid points (saturating).
    fn points(&self) -> u64 {
        self.axes.iter().fold(1u64, |n, a| n.saturating_mul(a.values.len() as u64))
    }
    /// Cells: datasets × grid points × replicates (saturating).
    fn cells(&self, reps: u32) -> u64 {
        (self.targets.len() as u64).saturating_mul(self.points()).saturating_mul(u64::from(reps))
    }
}

/// The error for a plan above `[run] max_cells`, placed at the largest factor of the largest task.
fn too_many_cells(manifest: &Manifest, shapes: &[TaskShape], total: u64, max: u64) -> ManifestError {
    let reps = manifest.experiment.replicates;
    // counts saturate at u64::MAX
    let count = |n: u64| if n == u64::MAX { format!("more than {}", u64::MAX - 1) } else { n.to_string() };
    let mut origin = manifest.origin(&["run", "max_cells"]);
    let mut detail = String::new();
    if let Some(s) = shapes.iter().max_by_key(|s| s.cells(reps)) {
        let id = s.task.id.as_str();
        origin = manifest.origin(&["experiment", "replicates"]);
        let mut largest = u64::from(reps);
        if s.targets.len() as u64 > largest {
            largest = s.targets.len() as u64;
            origin = manifest.origin(&["tasks", id, "datasets"]);
        }
        for a in &s.axes {
            if a.values.len() as u64 > largest {
                largest = a.values.len() as u64;
                origin = manifest.origin(&["sweep", &a.key]);
            }
        }
        detail = format!(" (task `{id}`: {} dataset(s) × {} sweep point(s) × {reps} replicate(s))", s.targets.len(), count(s.points()));
    }
    ManifestError::new(origin, format!("the plan has {} cells, more than max_cells = {max}{detail}", count(total)))
        .help("shrink the sweep or the replicates, or raise the limit with `[run] max_cells = N` (or --set run.max_cells=N; it never changes results or cell ids)")
}

/// Resolves a task's capability, datasets and sweep axes (no cell is built).
fn shape_task<'m>(
    manifest: &'m Manifest,
    t: &'m TaskDecl,
    plugins: &mut PluginSet,
    datasets: &BTreeMap<String, PlannedDataset>,
    dataset_order: &[String],
    datasets_failed: bool,
) -> Result<TaskShape<'m>, Vec<ManifestError>> {
    let at = |k: &str| manifest.origin(&["tasks", &t.id, k]);
    let p = plugins.get(&t.plugin, at("plugin")).map_err(|e| vec![e])?;
    let cap = match p.description.capability(&t.capability) {
        Some(c) if c.kind == CapabilityKind::Task => c,
        _ => {
            let tasks: Vec<&str> = p.description.capabilities.iter().filter(|c| c.kind == CapabilityKind::Task).map(|c| c.name.as_str()).collect();
            let hint = match suggest(&t.capability, tasks.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("`{}` provides: {}", t.plugin, tasks.join(", ")),
            };
            let named_by = if t.section == t.capability { format!(" (a task section's name is its capability: [[{}]])", t.section) } else { String::new() };
            return Err(vec![ManifestError::new(manifest.origin(&["tasks", &t.id]), format!("plugin `{}` has no task capability `{}`{named_by}", t.plugin, t.capability)).help(hint)]);
        }
    };
    // datasets the task runs on
    // a datasetless capability that also accepts formats takes datasets only when listed
    let targets: Vec<Option<Arc<str>>> = if cap.datasetless && (t.datasets.is_none() || cap.accepts.is_empty()) {
        if t.datasets.is_some() {
            return Err(vec![ManifestError::new(at("datasets"), format!("`{}` of `{}` takes no dataset", t.capability, t.plugin)).help("remove `datasets`")]);
        }
        vec![None]
    } else {
        let accepts = |d: &PlannedDataset| cap.accepts.is_empty() || cap.accepts.contains(&d.format);
        let list: Vec<&String> = match &t.datasets {
            Some(l) => {
                let mut errs = Vec::new();
                for id in l {
                    if let Some(d) = datasets.get(id)
                        && !accepts(d)
                    {
                        errs.push(ManifestError::new(at("datasets"), format!("task `{}` cannot read dataset `{id}` of format `{}`", t.id, d.format)).help(format!(
                            "`{}` accepts: {}",
                            t.capability,
                            cap.accepts.join(", ")
                        )));
                    }
                }
                if !errs.is_empty() {
                    return Err(errs);
                }
                l.iter().filter(|id| datasets.contains_key(*id)).collect()
            }
            None => dataset_order.iter().filter(|id| accepts(&datasets[*id])).collect(),
        };
        if list.is_empty() && datasets_failed {
            return Err(Vec::new());
        }
        if list.is_empty() {
            return Err(vec![
                ManifestError::new(manifest.origin(&["tasks", &t.id]), format!("task `{}` has no dataset to run on", t.id))
                    .help(format!("declare a [[dataset]] with format {}", if cap.accepts.is_empty() { "any".into() } else { cap.accepts.join(" or ") })),
            ]);
        }
        list.into_iter().map(|id| Some(Arc::from(id.as_str()))).collect()
    };
    let axes = manifest.sweep.iter().filter(|a| a.task == t.id).collect();
    Ok(TaskShape { task: t, plugin: p, targets, axes })
}

/// The error of a sweep point whose settings the plugin refused, placed at the swept key it
/// names (else at the task's key).
///
/// A refusal shared by every point of the grid that no swept key causes is the task's own
/// mistake: it names no sweep point.
fn point_error(
    manifest: &Manifest,
    t: &TaskDecl,
    schema: &Value,
    axes: &[&crate::manifest::SweepAxis],
    pt: &Map<String, Value>,
    (more, points): (usize, u64),
    e: flowlab_abi::PluginError,
) -> ManifestError {
    let key = e.path.clone().unwrap_or_default();
    let swept = axes.iter().find(|a| !key.is_empty() && (a.setting.join(".") == key || key.starts_with(&format!("{}.", a.setting.join(".")))));
    let origin = match swept {
        Some(a) => manifest.origin(&["sweep", &a.key]),
        None => {
            let mut path = vec!["tasks".to_string(), t.id.clone()];
            path.extend(key.split('.').filter(|s| !s.is_empty()).map(str::to_string));
            manifest.source.locate_normalised(&path)
        }
    };
    let every = swept.is_none() && more as u64 + 1 >= points;
    let what = match (pt.is_empty() || every, more) {
        (true, _) => String::new(),
        (false, 0) => format!(" (sweep point {})", Value::Object(pt.clone())),
        (false, n) => format!(" (sweep point {} and {n} more)", Value::Object(pt.clone())),
    };
    ManifestError::new(origin, format!("task `{}`{what}: {}", t.id, e.message)).help(settings_help(schema, &e, &t.plugin, &t.capability))
}

/// The help of a settings error: the expected shape of the key with an example of the right
/// value (runner/src/describe.rs), and where every setting is explained.
/// The shape is added only to an error about the value's shape (serde's "invalid type",
/// "unknown variant", …): a rule between settings is explained by its own message.
fn settings_help(schema: &Value, e: &flowlab_abi::PluginError, plugin: &str, capability: &str) -> String {
    let more = format!("`flowlab plugins {plugin} {capability}` explains every setting");
    // a misspelt setting: the nearest one, with its shape and an example
    if let Some(unknown) = e.message.split("unknown field `").nth(1).and_then(|r| r.split('`').next()) {
        let names: Vec<String> = crate::describe::settings(schema).into_iter().map(|s| s.name).collect();
        if let Some(near) = suggest(unknown, names.iter().map(String::as_str)) {
            let shape = crate::describe::expected(schema, &near).map(|x| format!(" ({x})")).unwrap_or_default();
            return format!("did you mean `{near}`?{shape}; {more}");
        }
        return more;
    }
    let shape_error = ["invalid type", "invalid value", "unknown variant", "invalid length", "expected"].iter().any(|w| e.message.contains(w));
    match e.path.as_deref().filter(|_| shape_error).and_then(|p| crate::describe::expected(schema, p)) {
        Some(e) => format!("{e}; {more}"),
        None => more,
    }
}

/// A sweep point (its index in the grid) whose settings the plugin refused, and why.
type PointRefusal = (u64, flowlab_abi::PluginError);

/// Builds a task's cells: grid points in order (the last axis varies fastest), then datasets,
/// then replicates. Settings are validated once per distinct settings object of a chunk.
fn expand_task(
    manifest: &Manifest,
    s: &TaskShape,
    datasets: &BTreeMap<String, PlannedDataset>,
    resolver: &crate::paths::Resolver,
    root_seed: u64,
    reps: u32,
    cells: &mut Vec<Cell>,
) -> Result<(), Vec<ManifestError>> {
    let (t, p, axes) = (s.task, s.plugin, &s.axes);
    if axes.iter().any(|a| a.values.is_empty()) {
        return Ok(());
    }
    let task: Arc<str> = t.id.as_str().into();
    let plugin: Arc<str> = t.plugin.as_str().into();
    let capability: Arc<str> = t.capability.as_str().into();
    // `sweep.<id>.…` keys are the task's `--sweep` axes (manifest.rs, Layers::sweeps)
    let overrides = Arc::new(overrides_under(manifest, &[&format!("tasks.{}.", t.id), &format!("sweep.{}.", t.id), "experiment."]));
    let cap_schema = p.description.capability(&t.capability).map(|c| c.settings_schema.clone()).unwrap_or_default();
    let paths = resolve_paths(manifest, resolver, &cap_schema, &t.settings, axes, &|k| manifest.origin(&["tasks", &t.id, k]), &format!("task `{}`", t.id))?;
    let grid = Arc::new(Grid::new(t.settings.clone(), axes.iter().map(|a| (a.key.clone(), a.setting.clone(), a.values.clone())).collect()).with_paths(paths));
    // the dataset file of each target, for settings relative to it
    let ds_file = |id: &str| match &datasets[id].source {
        DatasetSource::File { path, .. } => Some(path.clone()),
        DatasetSource::Generated { .. } => None,
    };
    // Points are independent (settings, canonical form, validation, seeds, ids), so chunks of
    // them are expanded on all cores and joined in point order: the same cells and errors in
    // the same order as one thread, a million points in about a second (BENCHMARKS.md).
    // about 2048 cells a chunk (a point makes datasets x replicates cells)
    let per_point = (s.targets.len() as u64).saturating_mul(u64::from(reps)).max(1);
    let chunk = (2048 / per_point).max(1);
    let chunks: Vec<(u64, u64)> = (0..grid.len().div_ceil(chunk)).map(|c| (c * chunk, ((c + 1) * chunk).min(grid.len()))).collect();
    let expand_into = |&(lo, hi): &(u64, u64), out: &mut Vec<Cell>| -> Vec<PointRefusal> {
        let mut errs = Vec::new();
        // digests of the canonical settings already validated in this chunk (a digest, not
        // the text: a large sweep would otherwise keep every canonical string)
        let mut validated = std::collections::HashSet::new();
        for k in lo..hi {
            let raw = grid.raw_settings(k);
            let canon = canonical(&raw);
            // the plugin validates the resolved paths (a copy only when there are some)
            let resolved = (!grid.paths.is_empty()).then(|| grid.resolve(raw.clone()));
            let settings = resolved.as_ref().unwrap_or(&raw);
            let digest: [u8; 32] = Sha256::digest(canon.as_bytes()).into();
            if validated.insert(digest)
                && let Err(e) = p.validate(&t.capability, settings)
            {
                errs.push((k, e));
                continue;
            }
            for ds in &s.targets {
                let ds_id = ds.as_deref().unwrap_or("");
                let ds_ident = ds.as_deref().map(|id| datasets[id].identity.as_str()).unwrap_or("");
                // the hashes of the files the path settings name (none: the id as before)
                let files = if grid.paths.is_empty() { String::new() } else { crate::paths::id_part(settings_map(&raw), &grid.paths, ds.as_deref().and_then(ds_file).as_deref()) };
                for rep in 0..reps {
                    let seed = derive_cell_seed(root_seed, ds_id, &t.plugin, &t.capability, &canon, rep);
                    let (seed_hex, rep_s) = (hex_lower(&seed), rep.to_string());
                    let mut parts = vec!["task", &t.id, &t.plugin, &t.capability, ds_id, ds_ident, &canon, &seed_hex, &rep_s];
                    if !files.is_empty() {
                        parts.push(&files);
                    }
                    let id = cell_id(&parts);
                    out.push(Cell {
                        id,
                        kind: CellKind::Task,
                        task: task.clone(),
                        plugin: plugin.clone(),
                        capability: capability.clone(),
                        dataset: ds.clone(),
                        replicate: rep,
                        grid: grid.clone(),
                        point_index: k,
                        seed: u64::from_be_bytes(seed[..8].try_into().expect("32 bytes")),
                        seed_bytes: seed,
                        overrides: overrides.clone(),
                    });
                }
            }
        }
        errs
    };
    // 64 chunks at a time, so the chunks' cells and the plan's are not both whole in memory;
    // a lone chunk (one point with many replicates) writes straight into the plan
    let mut errs = Vec::new();
    for batch in chunks.chunks(64) {
        if batch.len() == 1 {
            errs.extend(expand_into(&batch[0], cells));
            continue;
        }
        use rayon::prelude::*;
        let parts: Vec<(Vec<Cell>, Vec<PointRefusal>)> = batch
            .par_iter()
            .map(|c| {
                let mut out = Vec::with_capacity(((c.1 - c.0).saturating_mul(per_point)).min(1 << 16) as usize);
                let e = expand_into(c, &mut out);
                (out, e)
            })
            .collect();
        for (c, e) in parts {
            cells.extend(c);
            errs.extend(e);
        }
    }
    // one error per mistake: the same refusal (key and message) at many sweep points is
    // reported once, at its first point, with how many more share it
    let mut order: Vec<(u64, flowlab_abi::PluginError, usize)> = Vec::new();
    let mut index: std::collections::HashMap<(Option<String>, String), usize> = std::collections::HashMap::new();
    for (k, e) in errs {
        match index.entry((e.path.clone(), e.message.clone())) {
            std::collections::hash_map::Entry::Occupied(o) => order[*o.get()].2 += 1,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(order.len());
                order.push((k, e, 0));
            }
        }
    }
    let errs: Vec<ManifestError> = order.into_iter().map(|(k, e, more)| point_error(manifest, t, &cap_schema, axes, &grid.point(k), (more, grid.len()), e)).collect();
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

#[cfg(test)]
mod grid_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn points_enumerate_the_cartesian_product_last_axis_fastest() {
        // a few shapes, including a nested setting path and a one-value axis
        for shape in [vec![3usize], vec![2, 3], vec![1, 4, 2], vec![3, 1, 1, 2]] {
            let axes: Vec<(String, Vec<String>, Vec<Value>)> =
                shape.iter().enumerate().map(|(i, &n)| (format!("t.a{i}"), vec![format!("a{i}"), "x".into()], (0..n).map(|v| json!(v * 10 + i)).collect())).collect();
            let g = Grid::new(Map::from_iter([("base".to_string(), json!(1))]), axes.clone());
            let mut expect: Vec<Vec<usize>> = vec![vec![]];
            for &n in &shape {
                expect = expect.into_iter().flat_map(|p| (0..n).map(move |v| [p.clone(), vec![v]].concat())).collect();
            }
            assert_eq!(g.len(), expect.len() as u64);
            for (k, digits) in expect.iter().enumerate() {
                let mut want = Map::from_iter([("base".to_string(), json!(1))]);
                let mut pt = Map::new();
                for ((key, path, values), &d) in axes.iter().zip(digits) {
                    set_path(&mut want, path, values[d].clone());
                    pt.insert(key.clone(), values[d].clone());
                }
                assert_eq!(g.settings(k as u64), Value::Object(want), "{shape:?} point {k}");
                assert_eq!(g.point(k as u64), pt);
            }
        }
        let empty = Grid::new(Map::new(), vec![("t.a".into(), vec!["a".into()], vec![])]);
        assert!(empty.is_empty());
        assert_eq!(Grid::default().len(), 1);
    }
}
