//! A task's part of the plan: its shape (plugin capability, datasets, sweep axes; sized
//! before anything is built) and its cells (grid points × datasets × replicates, settings
//! validated by the plugin once per distinct settings object).
use super::grid::{Grid, settings_map};
use super::io::{PlanIo, PluginApi};
use super::{Cell, CellKind, DatasetSource, PlannedDataset, PointRefusal, cell_id, hex_lower, overrides_under, resolve_paths};
use crate::error::ManifestError;
use crate::manifest::{Manifest, SweepAxis, TaskDecl, suggest};
use flowlab_abi::CapabilityKind;
use flowlab_abi::json::canonical;
use flowlab_abi::seed::derive_cell_seed;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A task's place in the plan before its cells are built: its plugin, the datasets it runs
/// on and its sweep axes, from which its cell count follows without building anything.
pub(super) struct TaskShape<'m> {
    task: &'m TaskDecl,
    plugin: &'static dyn PluginApi,
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
    pub(super) fn cells(&self, reps: u32) -> u64 {
        (self.targets.len() as u64).saturating_mul(self.points()).saturating_mul(u64::from(reps))
    }
}

/// The error for a plan above `[run] max_cells`, placed at the largest factor of the largest task.
pub(super) fn too_many_cells(manifest: &Manifest, shapes: &[TaskShape], total: u64, max: u64) -> ManifestError {
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
pub(super) fn shape_task<'m>(
    manifest: &'m Manifest,
    t: &'m TaskDecl,
    io: &mut dyn PlanIo,
    datasets: &BTreeMap<String, PlannedDataset>,
    dataset_order: &[String],
    datasets_failed: bool,
) -> Result<TaskShape<'m>, Vec<ManifestError>> {
    let at = |k: &str| manifest.origin(&["tasks", &t.id, k]);
    let p = io.plugin(&t.plugin, at("plugin")).map_err(|e| vec![e])?;
    let cap = match p.description().capability(&t.capability) {
        Some(c) if c.kind == CapabilityKind::Task => c,
        _ => {
            let tasks: Vec<&str> = p.description().capabilities.iter().filter(|c| c.kind == CapabilityKind::Task).map(|c| c.name.as_str()).collect();
            let hint = match suggest(&t.capability, tasks.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("`{}` provides: {}", t.plugin, tasks.join(", ")),
            };
            let named_by = if t.section == t.capability { format!(" (a task section's name is its capability: [[{}]])", t.section) } else { String::new() };
            return Err(vec![ManifestError::new(manifest.origin(&["tasks", &t.id]), format!("plugin `{}` has no task capability `{}`{named_by}", t.plugin, t.capability)).help(hint)]);
        }
    };
    // a swept key is checked per point by the plugin
    let swept = |k: &str| manifest.sweep.iter().any(|a| a.task == t.id && a.setting.first().map(String::as_str) == Some(k));
    let given: Map<String, Value> = t.settings.iter().filter(|(k, _)| !swept(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let wrong = type_errors(&cap.settings_schema, &given, &at, &format!("task `{}`", t.id), (&t.plugin, &t.capability));
    if !wrong.is_empty() {
        return Err(wrong);
    }
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
            return Err(vec![ManifestError::new(manifest.origin(&["tasks", &t.id]), format!("task `{}` has no dataset to run on", t.id)).help({
                let want = if cap.accepts.is_empty() { "any".into() } else { cap.accepts.join(" or ") };
                // the declared ones, with the format each has (a misspelt format is the usual cause)
                let have: Vec<String> = dataset_order.iter().map(|id| format!("`{id}` (format `{}`)", datasets[id].format)).collect();
                if have.is_empty() {
                    format!("declare a [[dataset]] with format {want}")
                } else {
                    format!("`{}` reads datasets of format {want}; this manifest declares {}", t.capability, have.join(", "))
                }
            })]);
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

/// Every setting of a type its schema does not admit (`describe::type_mismatches`), each
/// at its own line: the plugin's check stops at its first mistake, and serde reads a table
/// setting from an array, field by field (`selection = [1]` would set its first field).
pub(super) fn type_errors(schema: &Value, given: &Map<String, Value>, at: &dyn Fn(&str) -> crate::error::Origin, what: &str, (plugin, cap): (&str, &str)) -> Vec<ManifestError> {
    let more = format!("`flowlab plugins {plugin} {cap}` explains every setting");
    crate::describe::type_mismatches(schema, given)
        .into_iter()
        .map(|(k, found)| {
            let help = crate::describe::expected(schema, &k).map(|e| format!("{e}; {more}")).unwrap_or_else(|| more.clone());
            ManifestError::new(at(&k), format!("{what}: {k}: invalid type: {found}")).help(help)
        })
        .collect()
}

/// The help of a settings error: the expected shape of the key with an example of the right
/// value (runner/src/describe.rs), and where every setting is explained.
/// The shape is added only to an error about the value's shape (serde's "invalid type",
/// "unknown variant", …): a rule between settings is explained by its own message.
pub(super) fn settings_help(schema: &Value, e: &flowlab_abi::PluginError, plugin: &str, capability: &str) -> String {
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

/// Builds a task's cells: grid points in order (the last axis varies fastest), then datasets,
/// then replicates. Settings are validated once per distinct settings object of a chunk.
pub(super) fn expand_task(
    manifest: &Manifest,
    s: &TaskShape,
    datasets: &BTreeMap<String, PlannedDataset>,
    (resolver, files): (&crate::paths::Resolver, &dyn crate::paths::PathFiles),
    root_seed: u64,
    reps: u32,
    cells: &mut Vec<Cell>,
) -> Result<(), Vec<ManifestError>> {
    let (t, p, axes) = (s.task, s.plugin, &s.axes);
    if axes.iter().any(|a| a.values.is_empty()) {
        return Ok(());
    }
    let cap_schema = p.description().capability(&t.capability).map(|c| c.settings_schema.clone()).unwrap_or_default();
    let paths = resolve_paths(manifest, (resolver, files), &cap_schema, &t.settings, axes, &|k| manifest.origin(&["tasks", &t.id, k]), &format!("task `{}`", t.id))?;
    let grid = Arc::new(Grid::new(t.settings.clone(), axes.iter().map(|a| (a.key.clone(), a.setting.clone(), a.values.clone())).collect()).with_paths(paths));
    let x = TaskCells {
        shape: s,
        datasets,
        files,
        root_seed,
        reps,
        task: t.id.as_str().into(),
        plugin: t.plugin.as_str().into(),
        capability: t.capability.as_str().into(),
        // `sweep.<id>.…` keys are the task's `--sweep` axes (runner/src/manifest/layer.rs, Layers::sweeps)
        overrides: Arc::new(overrides_under(manifest, &[&format!("tasks.{}.", t.id), &format!("sweep.{}.", t.id), "experiment."])),
        grid: grid.clone(),
    };
    // Points are independent (settings, canonical form, validation, seeds, ids), so chunks of
    // them are expanded on all cores and joined in point order: the same cells and errors in
    // the same order as one thread, a million points in about a second (BENCHMARKS.md).
    // about 2048 cells a chunk (a point makes datasets x replicates cells)
    let per_point = (s.targets.len() as u64).saturating_mul(u64::from(reps)).max(1);
    let chunk = (2048 / per_point).max(1);
    let chunks: Vec<(u64, u64)> = (0..grid.len().div_ceil(chunk)).map(|c| (c * chunk, ((c + 1) * chunk).min(grid.len()))).collect();
    // 64 chunks at a time, so the chunks' cells and the plan's are not both whole in memory;
    // a lone chunk (one point with many replicates) writes straight into the plan
    let mut errs = Vec::new();
    for batch in chunks.chunks(64) {
        if batch.len() == 1 {
            errs.extend(x.expand(batch[0], cells));
            continue;
        }
        use rayon::prelude::*;
        let parts: Vec<(Vec<Cell>, Vec<PointRefusal>)> = batch
            .par_iter()
            .map(|&c| {
                let mut out = Vec::with_capacity(((c.1 - c.0).saturating_mul(per_point)).min(1 << 16) as usize);
                let e = x.expand(c, &mut out);
                (out, e)
            })
            .collect();
        for (c, e) in parts {
            cells.extend(c);
            errs.extend(e);
        }
    }
    let errs: Vec<ManifestError> = one_per_mistake(errs).into_iter().map(|(k, e, more)| point_error(manifest, t, &cap_schema, axes, &grid.point(k), (more, grid.len()), e)).collect();
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// What every cell of a task shares; [`TaskCells::expand`] builds the cells of a range of
/// grid points.
struct TaskCells<'a> {
    shape: &'a TaskShape<'a>,
    datasets: &'a BTreeMap<String, PlannedDataset>,
    files: &'a dyn crate::paths::PathFiles,
    root_seed: u64,
    reps: u32,
    task: Arc<str>,
    plugin: Arc<str>,
    capability: Arc<str>,
    overrides: Arc<BTreeMap<String, String>>,
    grid: Arc<Grid>,
}

impl TaskCells<'_> {
    /// The dataset file of a target, for settings relative to it.
    fn ds_file(&self, id: &str) -> Option<std::path::PathBuf> {
        match &self.datasets[id].source {
            DatasetSource::File { path, .. } => Some(path.clone()),
            DatasetSource::Generated { .. } => None,
        }
    }

    /// The cells of grid points `lo..hi` (appended to `out`), and the points whose settings
    /// the plugin refused.
    fn expand(&self, (lo, hi): (u64, u64), out: &mut Vec<Cell>) -> Vec<PointRefusal> {
        let (t, p, grid) = (self.shape.task, self.shape.plugin, &self.grid);
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
            for ds in &self.shape.targets {
                let ds_id = ds.as_deref().unwrap_or("");
                let ds_ident = ds.as_deref().map(|id| self.datasets[id].identity.as_str()).unwrap_or("");
                // the hashes of the files the path settings name (none: the id as before)
                let files =
                    if grid.paths.is_empty() { String::new() } else { crate::paths::id_part(self.files, settings_map(&raw), &grid.paths, ds.as_deref().and_then(|id| self.ds_file(id)).as_deref()) };
                for rep in 0..self.reps {
                    let seed = derive_cell_seed(self.root_seed, ds_id, &t.plugin, &t.capability, &canon, rep);
                    let (seed_hex, rep_s) = (hex_lower(&seed), rep.to_string());
                    let mut parts = vec!["task", &t.id, &t.plugin, &t.capability, ds_id, ds_ident, &canon, &seed_hex, &rep_s];
                    if !files.is_empty() {
                        parts.push(&files);
                    }
                    out.push(Cell {
                        id: cell_id(&parts),
                        kind: CellKind::Task,
                        task: self.task.clone(),
                        plugin: self.plugin.clone(),
                        capability: self.capability.clone(),
                        dataset: ds.clone(),
                        replicate: rep,
                        grid: grid.clone(),
                        point_index: k,
                        seed: u64::from_be_bytes(seed[..8].try_into().expect("32 bytes")),
                        seed_bytes: seed,
                        overrides: self.overrides.clone(),
                    });
                }
            }
        }
        errs
    }
}

/// One error per mistake: the same refusal (key and message) at many sweep points is kept
/// once, at its first point, with how many more share it.
fn one_per_mistake(errs: Vec<PointRefusal>) -> Vec<(u64, flowlab_abi::PluginError, usize)> {
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
    order
}
