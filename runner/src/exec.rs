//! Execution: dataset cells first, then task cells, in a rayon pool of `jobs` threads.
//! Finished cells (same plugin binary) are skipped; a failing cell is recorded and the others
//! go on (unless fail-fast); Ctrl-C asks running cells to stop and starts no new ones.
use crate::error::StoreError;
use crate::manifest::Isolation;
use crate::plan::{Cell, CellKind, DatasetSource, Plan};
use crate::record::{CELL_SCHEMA, CellRecord, DatasetUse, PluginProvenance, Provenance, RecordKind, RunContext, Status, outcome};
use crate::store::{Store, Stored};
use flowlab_abi::host::HostServices;
use flowlab_abi::{DatasetRef, ErrorKind, ExperimentInfo, PluginError, Request, Response};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Set by the Ctrl-C handler; polled by cells through the host's `cancelled` callback.
pub static CANCEL: AtomicBool = AtomicBool::new(false);

/// Lines of plugin log kept in a failed cell's record.
pub const LOG_TAIL: usize = 40;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cells in parallel.
    pub jobs: usize,
    /// Thread budget per cell.
    pub cell_threads: usize,
    /// Stop starting cells after the first failure.
    pub fail_fast: bool,
    /// Rerun cells even when cached.
    pub force: bool,
    /// Show progress: a bar when stderr is a terminal, else one line per cell.
    pub progress: bool,
    /// Which cells to run.
    pub filter: CellFilter,
}

/// Which cells of the plan a run may execute (a Slurm shard runs a subset).
#[derive(Debug, Clone, Default)]
pub enum CellFilter {
    /// Every cell.
    #[default]
    All,
    /// Task cells with `index % n == k` among the task cells (in plan order); every
    /// dataset cell still runs (under a lock, so concurrent shards generate it once).
    Shard {
        /// This shard, 0-based.
        k: usize,
        /// Number of shards.
        n: usize,
    },
    /// The named cells (`flowlab run-cell`), plus every dataset cell (locked, as for shards).
    Ids(std::collections::BTreeSet<String>),
}

impl CellFilter {
    /// Whether the filter selects `plan.cells[i]`.
    pub fn selects(&self, plan: &Plan, i: usize) -> bool {
        match self {
            CellFilter::All => true,
            CellFilter::Shard { k, n } => {
                if plan.cells[i].kind == CellKind::Dataset {
                    return true;
                }
                let ti = plan.cells[..i].iter().filter(|c| c.kind == CellKind::Task).count();
                ti % n == *k
            }
            CellFilter::Ids(ids) => plan.cells[i].kind == CellKind::Dataset || ids.contains(&plan.cells[i].id),
        }
    }

    /// The indices of the cells the filter selects, in plan order, in one pass (`selects` per
    /// cell counts the task cells before it: quadratic for a shard of a large plan).
    pub fn select(&self, plan: &Plan) -> Vec<usize> {
        let mut task_index = 0usize;
        let mut out = Vec::new();
        for (i, c) in plan.cells.iter().enumerate() {
            let yes = match self {
                CellFilter::All => true,
                CellFilter::Shard { k, n } => c.kind == CellKind::Dataset || task_index % n == *k,
                CellFilter::Ids(ids) => c.kind == CellKind::Dataset || ids.contains(&c.id),
            };
            if c.kind == CellKind::Task {
                task_index += 1;
            }
            if yes {
                out.push(i);
            }
        }
        out
    }
}

/// Most cells run at once per core. Cells wait (subprocess workers, sleeps, file I/O) as well
/// as compute, so a few per core can help; beyond that each job only adds a thread, its stack
/// and a record in memory, and `-j 100000` spent its time starting threads.
pub const JOBS_PER_CORE: usize = 4;

/// The number of cells to run at once: `requested`, at most [`JOBS_PER_CORE`] × `cores` and
/// at most `cells` (at least 1), with a warning when the core bound lowers it.
pub fn effective_jobs(requested: usize, cells: usize, cores: usize) -> (usize, Option<String>) {
    let cap = JOBS_PER_CORE.saturating_mul(cores.max(1));
    let jobs = requested.min(cap).min(cells).max(1);
    let warning = (requested > cap).then(|| format!("warning: jobs = {requested} clamped to {jobs} (at most {JOBS_PER_CORE} per core on {cores} cores, and at most the {cells} cells to run)"));
    (jobs, warning)
}

/// Isolation, hard/soft time limit and memory limit of a cell: the task section's own
/// `isolation` / `timeout_s`, else `[run]`'s.
pub fn cell_limits(plan: &Plan, cell: &Cell) -> (Isolation, Option<f64>, Option<u64>) {
    let run = &plan.manifest.run;
    let task = if cell.kind == CellKind::Task { plan.manifest.tasks.iter().find(|t| *t.id == *cell.task) } else { None };
    let iso = task.and_then(|t| t.isolation).or(run.isolation).unwrap_or_default();
    let timeout = task.and_then(|t| t.timeout_s).or(run.timeout_s);
    (iso, timeout, run.memory_mb)
}

/// What happened to one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reused from the store.
    Cached,
    /// Ran and succeeded.
    Ok,
    /// Ran and failed (recorded).
    Failed,
    /// Stopped by Ctrl-C (not recorded; reruns next time).
    Cancelled,
    /// Not started (fail-fast or cancel).
    Skipped,
}

/// Counts of a run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Cells in the plan.
    pub total: usize,
    /// Reused.
    pub cached: usize,
    /// Ran fine.
    pub ok: usize,
    /// Failed.
    pub failed: usize,
    /// Cancelled.
    pub cancelled: usize,
    /// Not started.
    pub skipped: usize,
    /// Messages of failed cells (`cell: message`).
    pub failures: Vec<String>,
}

struct CellHost<'a> {
    tail: Mutex<VecDeque<String>>,
    bar: &'a indicatif::ProgressBar,
    label: String,
    /// The run's published progress (runner/src/live.rs) and this cell's id.
    live: Option<(&'a crate::live::Progress, &'a str)>,
    /// Soft deadline: past it, `cancelled()` answers true.
    deadline: Option<Instant>,
}

impl HostServices for CellHost<'_> {
    fn log(&self, level: u32, msg: &str) {
        let lvl = ["error", "warn", "info", "debug"].get(level as usize).copied().unwrap_or("log");
        let mut t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        for line in msg.lines() {
            if t.len() == LOG_TAIL {
                t.pop_front();
            }
            t.push_back(format!("[{lvl}] {line}"));
        }
    }
    fn progress(&self, done: u64, total: u64) {
        self.bar.set_message(format!("{} {done}/{total}", self.label));
        if let Some((live, id)) = self.live {
            live.step(id, done, total);
        }
    }
    fn cancelled(&self) -> bool {
        CANCEL.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Resolved dataset references (generated datasets are known only after their cells ran).
pub fn dataset_ref(plan: &Plan, store: &Store, id: &str) -> Result<DatasetRef, String> {
    let d = &plan.datasets[id];
    let (path, sha256) = match &d.source {
        DatasetSource::File { path, sha256 } => (path.clone(), sha256.clone()),
        DatasetSource::Generated { cell } => {
            let c = &plan.cells[*cell];
            let rec = store.read(&c.id).map_err(|e| e.to_string())?.ok_or_else(|| format!("dataset `{id}` was not generated"))?;
            if rec.status != Status::Ok {
                return Err(format!("dataset `{id}` could not be generated: {}", rec.error.as_ref().map(|e| e.message.as_str()).unwrap_or("failed")));
            }
            let art = rec.response["artifacts"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["name"] == "dataset"))
                .ok_or_else(|| format!("dataset `{id}`: the generator returned no artifact named \"dataset\""))?;
            let p = store.artifact_dir(&c.id).join(art["path"].as_str().unwrap_or(""));
            let sha = crate::guard::hash_dataset(&p).map_err(|e| format!("dataset `{id}`: {}: {e}", p.display()))?;
            (p, sha)
        }
    };
    let format = if d.format.is_empty() { String::new() } else { d.format.clone() };
    Ok(DatasetRef { id: id.into(), path: path.to_string_lossy().into_owned(), format, sha256, options: d.decl.options.clone() })
}

/// The request a cell's plugin gets: its id, capability, seed, settings and dataset, with
/// `threads` and the artifact directory `art` (canonicalised when it exists). serve's
/// interactive fit builds its request here too, so it runs exactly what `flowlab run` would.
pub fn request(plan: &Plan, cell: &Cell, ds: Option<DatasetRef>, threads: usize, art: &Path) -> Request {
    let m = &plan.manifest;
    Request {
        cell_id: cell.id.clone(),
        capability: cell.capability.to_string(),
        seed: cell.seed,
        seed_hex: cell.seed_hex(),
        threads,
        dataset: ds,
        settings: cell.settings(),
        output_dir: art.canonicalize().unwrap_or(art.to_path_buf()).to_string_lossy().into_owned(),
        replicate: cell.replicate,
        experiment: ExperimentInfo { name: m.experiment.name.clone(), description: m.experiment.description.clone(), metadata: m.experiment.metadata.clone() },
    }
}

/// Builds the stored record of a cell (deterministic outside `timing`).
pub fn record(plan: &Plan, cell: &Cell, ds: Option<&DatasetRef>, result: &Result<Response, PluginError>, tail: Vec<String>, wall: f64) -> CellRecord {
    let p = plan.plugin(&cell.plugin);
    let m = &plan.manifest;
    let dataset = match (&cell.dataset, ds) {
        (Some(id), Some(r)) => {
            let decl = &plan.datasets[&**id].decl;
            let declared = decl.path.clone().unwrap_or_else(|| format!("generated by {}:{}", decl.plugin.clone().unwrap_or_default(), decl.capability.clone().unwrap_or_default()));
            Some(DatasetUse { id: id.to_string(), format: Some(r.format.clone()), sha256: Some(r.sha256.clone()), declared_path: Some(declared) })
        }
        (Some(id), None) => Some(DatasetUse { id: id.to_string(), format: None, sha256: None, declared_path: None }),
        _ => None,
    };
    let plugin = PluginProvenance {
        name: p.name().to_string(),
        version: p.version().to_string(),
        sha256: p.sha256.clone(),
        abi: format!("{}.{}", flowlab_abi::ABI_MAJOR, p.abi_minor),
        file: p.path.file_name().map(|f| f.to_string_lossy().into_owned()),
    };
    let provenance = Provenance::of_runner(plugin, ds.map(|d| d.sha256.clone()), m.experiment.seed, (*cell.overrides).clone());
    let (status, error, response, mut timing) = outcome(result);
    timing.insert("wall_s".into(), flowlab_abi::json::num(wall));
    CellRecord {
        schema: CELL_SCHEMA.into(),
        cell_id: cell.id.clone(),
        experiment: m.experiment.name.clone(),
        kind: if cell.kind == CellKind::Dataset { RecordKind::Dataset } else { RecordKind::Task },
        task: cell.task.to_string(),
        plugin: cell.plugin.to_string(),
        capability: cell.capability.to_string(),
        dataset,
        replicate: cell.replicate,
        seed: cell.seed_hex(),
        point: cell.point(),
        settings: cell.settings(),
        status,
        error,
        log_tail: if status == Status::Ok { Vec::new() } else { tail },
        response,
        provenance,
        timing,
    }
}

/// A sweep point as `setting=value` words (`iterations=400 families={uniform=6,lognorm=4}`):
/// the task name is dropped from each key, strings lose their quotes.
pub fn point_words(point: &Map<String, Value>) -> String {
    fn show(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Object(o) => format!("{{{}}}", o.iter().map(|(k, v)| format!("{k}={}", show(v))).collect::<Vec<_>>().join(",")),
            Value::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(",")),
            other => other.to_string(),
        }
    }
    point.iter().map(|(k, v)| format!("{}={}", k.split_once('.').map(|(_, s)| s).unwrap_or(k), show(v))).collect::<Vec<_>>().join(" ")
}

/// What a progress line says about a cell: task, dataset, replicate and sweep point.
fn cell_words(cell: &Cell) -> String {
    let mut w = format!("{} {} rep {}", cell.task, cell.dataset.as_deref().unwrap_or("-"), cell.replicate);
    let pt = point_words(&cell.point());
    if !pt.is_empty() {
        w.push(' ');
        w.push_str(&pt);
    }
    w
}

fn run_one(plan: &Plan, store: &Store, cell: &Cell, opts: &RunOptions, bars: Option<&indicatif::MultiProgress>, live: Option<&crate::live::Progress>) -> Result<(Outcome, Option<String>), StoreError> {
    if CANCEL.load(Ordering::Relaxed) {
        return Ok((Outcome::Skipped, None));
    }
    let p = plan.plugin(&cell.plugin);
    let ds = match &cell.dataset {
        Some(id) => match dataset_ref(plan, store, id) {
            Ok(r) => Some(r),
            Err(msg) => {
                let res = Err(PluginError::data(msg.clone()));
                store.write(&cell.id, &record(plan, cell, None, &res, vec![], 0.0))?;
                return Ok((Outcome::Failed, Some(msg)));
            }
        },
        None => None,
    };
    // refused paths are found before anything changes; then the old record and artifacts are
    // moved aside (record first: a kill in between leaves a missing cell, never an `ok`
    // record whose artifacts are gone), to be put back if this run is interrupted
    let art = store.artifact_dir(&cell.id);
    store.guard(&art)?;
    store.guard(&store.cell_path(&cell.id))?;
    let aside = store.set_aside(&cell.id)?;
    std::fs::create_dir_all(&art).map_err(|e| StoreError::Io { path: art.clone(), source: e })?;
    let req = request(plan, cell, ds.clone(), opts.cell_threads, &art);
    let (iso, timeout_s, memory_mb) = cell_limits(plan, cell);
    let t0 = Instant::now();
    // one spinner line per running cell under the overall bar (every running cell is shown)
    let bar = match bars {
        Some(m) => {
            let b = m.insert(0, indicatif::ProgressBar::new_spinner());
            b.set_style(indicatif::ProgressStyle::with_template("  {spinner} {elapsed:>4} {wide_msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()));
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        }
        None => indicatif::ProgressBar::hidden(),
    };
    let label = format!("{} {}", &cell.id[..8], cell_words(cell));
    bar.set_message(label.clone());
    if let Some(l) = live {
        l.start(&cell.id, &cell_words(cell));
    }
    let (mut result, tail) = match iso {
        Isolation::InProcess => {
            let deadline = timeout_s.and_then(|t| std::time::Duration::try_from_secs_f64(t).ok()).and_then(|d| t0.checked_add(d));
            let host = CellHost { tail: Mutex::new(VecDeque::new()), bar: &bar, label, deadline, live: live.map(|l| (l, cell.id.as_str())) };
            let result = p.run(&req, &host);
            let tail: Vec<String> = host.tail.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
            (result, tail)
        }
        Isolation::Subprocess => {
            let limits = crate::worker::Limits { timeout: timeout_s.map(std::time::Duration::from_secs_f64), memory_mb };
            crate::worker::run_in_subprocess(p, &req, &limits)
        }
    };
    bar.finish_and_clear();
    if let Some(m) = bars {
        m.remove(&bar);
    }
    let wall = t0.elapsed().as_secs_f64();
    if let Err(e) = &result {
        if e.kind == ErrorKind::Cancelled && CANCEL.load(Ordering::Relaxed) {
            // interrupted: whatever was stored before (a `--force` rerun) comes back
            aside.restore()?;
            return Ok((Outcome::Cancelled, None));
        }
        if e.kind == ErrorKind::Cancelled
            && iso == Isolation::InProcess
            && let Some(t) = timeout_s.filter(|&t| wall >= t)
        {
            result = Err(PluginError::run(format!("soft timeout: the cell stopped through the cancel callback after timeout_s = {t} s (use isolation = \"subprocess\" for a hard limit)")));
        }
    }
    // the stored hash must be the hash of the bytes the cell read (crate::guard)
    if let Some(d) = &ds
        && let Err(m) = crate::guard::verify(&d.id, Path::new(&d.path), &d.sha256)
    {
        result = Err(PluginError::data(m));
    }
    // a cell that succeeds keeps no log in its record; its warnings are shown with its line
    let warnings: Vec<&str> = tail.iter().filter_map(|l| l.strip_prefix("[warn] ")).collect();
    let warnings = (!warnings.is_empty()).then(|| warnings.join("\n"));
    let rec = record(plan, cell, ds.as_ref(), &result, tail, wall);
    store.write(&cell.id, &rec)?;
    aside.discard()?;
    Ok(match result {
        Ok(_) => (Outcome::Ok, warnings),
        Err(e) => (Outcome::Failed, Some(e.message)),
    })
}

/// Runs the plan. Returns the summary; I/O errors of the store abort.
pub fn execute(plan: &Plan, store: &Store, opts: &RunOptions) -> Result<Summary, StoreError> {
    store.guard(&store.root.join(RUN_CONTEXT))?;
    std::fs::create_dir_all(&store.root).map_err(|e| StoreError::Io { path: store.root.clone(), source: e })?;
    write_run_context(plan, store)?;
    let selected = opts.filter.select(plan);
    let total = selected.len();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (jobs, warning) = effective_jobs(opts.jobs, total, cores);
    if let Some(w) = warning {
        crate::note!("{w}");
    }
    use std::io::IsTerminal;
    let tty = opts.progress && std::io::stderr().is_terminal();
    let bars = tty.then(indicatif::MultiProgress::new);
    let bar = match &bars {
        Some(m) => m.add(indicatif::ProgressBar::new(total as u64)),
        None => indicatif::ProgressBar::hidden(),
    };
    // no eta until a cell has finished: before that indicatif can only say "0s"
    let style = |t: &str| indicatif::ProgressStyle::with_template(t).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style("{spinner} [{pos}/{len}] {elapsed_precise} {wide_msg}"));
    let eta_shown = AtomicBool::new(false);
    let failed_any = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    // counts and the failures only: memory stays O(jobs), not O(cells) (docs/scale-out.md)
    let counts: [AtomicUsize; 5] = Default::default();
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|e| StoreError::Io { path: store.root.clone(), source: std::io::Error::other(e.to_string()) })?;
    let store_err: Mutex<Option<StoreError>> = Mutex::new(None);
    // what `flowlab serve` shows while the run works (docs/serve.md, "Live")
    store.guard(&store.root.join(crate::live::PROGRESS_FILE))?;
    let live = crate::live::Progress::new(&store.root, total);
    for kind in [CellKind::Dataset, CellKind::Task] {
        let idx: Vec<usize> = selected.iter().copied().filter(|&i| plan.cells[i].kind == kind).collect();
        pool.install(|| {
            use rayon::prelude::*;
            idx.par_iter().for_each(|&i| {
                let cell = &plan.cells[i];
                // a cell runs once even when runners share the results directory (two
                // `flowlab run`, Slurm shards): a cell that is not cached is locked and looked
                // at again; the first runner to take the lock runs it, the others wait and
                // then find it cached (docs/scale-out.md, guarantees)
                let sha = &plan.plugin(&cell.plugin).sha256;
                let mut status = store.status(&cell.id, sha);
                let _lock = if status != Stored::Cached || opts.force {
                    let l = lock_cell(store, &cell.id);
                    // a `--force` rerun killed outright left the previous result aside
                    if l.is_some() && status == Stored::Missing {
                        let _ = store.recover_aside(&cell.id);
                    }
                    status = store.status(&cell.id, sha);
                    l
                } else {
                    None
                };
                let started = Instant::now();
                let (outcome, msg) = if status == Stored::Cached && !opts.force {
                    (Outcome::Cached, None)
                } else if CANCEL.load(Ordering::Relaxed) || (opts.fail_fast && failed_any.load(Ordering::Relaxed)) {
                    (Outcome::Skipped, None)
                } else {
                    match run_one(plan, store, cell, opts, bars.as_ref(), Some(&live)) {
                        Ok(o) => o,
                        Err(e) => {
                            let m = e.to_string();
                            *store_err.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            (Outcome::Failed, Some(m))
                        }
                    }
                };
                if outcome == Outcome::Failed {
                    failed_any.store(true, Ordering::Relaxed);
                }
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                let secs = started.elapsed().as_secs_f64();
                let line = format!(
                    "[{k}/{total}] {} {} {}",
                    &cell.id,
                    cell_words(cell),
                    match outcome {
                        Outcome::Cached => "cached".to_string(),
                        Outcome::Ok => {
                            let warned = msg.as_deref().map(|m| m.lines().map(|w| format!("\n  warning: {w}")).collect::<String>());
                            format!("ok {secs:.2} s{}", warned.unwrap_or_default())
                        }
                        Outcome::Failed => format!("FAILED ({secs:.2} s): {}", msg.as_deref().unwrap_or("")),
                        Outcome::Cancelled => "cancelled".to_string(),
                        Outcome::Skipped => "skipped".to_string(),
                    }
                );
                if matches!(outcome, Outcome::Ok | Outcome::Failed) && !eta_shown.swap(true, Ordering::Relaxed) {
                    bar.set_style(style("{spinner} [{pos}/{len}] {elapsed_precise} eta {eta} {wide_msg}"));
                }
                if outcome != Outcome::Skipped {
                    if tty {
                        bar.println(&line);
                    } else if opts.progress || (outcome == Outcome::Ok && msg.is_some()) {
                        // quiet runs still show a cell's warnings
                        crate::note!("{line}");
                    }
                }
                bar.inc(1);
                live.finish(
                    &cell.id,
                    match outcome {
                        Outcome::Cached => crate::live::Finished::Cached,
                        Outcome::Ok => crate::live::Finished::Ok,
                        Outcome::Failed => crate::live::Finished::Failed,
                        Outcome::Cancelled | Outcome::Skipped => crate::live::Finished::NotRun,
                    },
                );
                counts[outcome as usize].fetch_add(1, Ordering::Relaxed);
                if outcome == Outcome::Failed {
                    failures.lock().unwrap_or_else(|p| p.into_inner()).push((i, msg.unwrap_or_default()));
                }
            });
        });
        if let Some(e) = store_err.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
            live.end();
            return Err(e);
        }
    }
    bar.finish_and_clear();
    live.end();
    let n = |o: Outcome| counts[o as usize].load(Ordering::Relaxed);
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort_by_key(|f| f.0);
    Ok(Summary {
        total,
        cached: n(Outcome::Cached),
        ok: n(Outcome::Ok),
        failed: n(Outcome::Failed),
        cancelled: n(Outcome::Cancelled),
        skipped: n(Outcome::Skipped),
        failures: failures.into_iter().map(|(i, msg)| format!("{} ({}): {msg}", plan.cells[i].id, plan.cells[i].task)).collect(),
    })
}

/// An exclusive advisory lock (flock) on `<store>/.locks/<cell>.lock`, released when the
/// returned file is dropped or the process dies. `None` when locking is not possible (the
/// cell then runs unlocked, as before).
fn lock_cell(store: &Store, id: &str) -> Option<std::fs::File> {
    let dir = store.root.join(".locks");
    store.guard(&dir.join(format!("{id}.lock"))).ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(format!("{id}.lock"))).ok()?;
    f.lock().ok()?;
    Some(f)
}

/// Name of the run-context file in an experiment's results directory.
pub const RUN_CONTEXT: &str = ".flowlab-run.json";

/// Writes `<store>/.flowlab-run.json`: the manifest path, the experiment information handed
/// to plugins and the resolved file datasets, so `flowlab replay` can rebuild a cell's
/// request from the stored record alone. Rewritten only when it changes.
pub fn write_run_context(plan: &Plan, store: &Store) -> Result<(), StoreError> {
    let m = &plan.manifest;
    let mut datasets = std::collections::BTreeMap::new();
    let mut dataset_options = std::collections::BTreeMap::new();
    for (id, d) in &plan.datasets {
        if let DatasetSource::File { path, .. } = &d.source {
            datasets.insert(id.clone(), path.to_string_lossy().into_owned());
        }
        dataset_options.insert(id.clone(), d.decl.options.clone());
    }
    let manifest = m.path.canonicalize().unwrap_or_else(|_| m.path.clone());
    let ctx = RunContext {
        manifest: manifest.to_string_lossy().into_owned(),
        experiment: ExperimentInfo { name: m.experiment.name.clone(), description: m.experiment.description.clone(), metadata: m.experiment.metadata.clone() },
        datasets,
        dataset_options,
    };
    let mut bytes = serde_json::to_vec_pretty(&ctx).unwrap_or_default();
    bytes.push(b'\n');
    let path = store.root.join(RUN_CONTEXT);
    if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
        return Ok(());
    }
    crate::store::atomic_write(&path, &bytes)
}

/// Writes `results.jsonl` / `results.csv` from the stored records of the plan's cells, one
/// record in memory at a time; returns how many records there were.
pub fn collect(plan: &Plan, store: &Store) -> Result<usize, StoreError> {
    let mut ids: Vec<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    // each capability's defaults read from its schema once, not once per record
    let mut by_cap: std::collections::BTreeMap<(&str, &str), Map<String, Value>> = std::collections::BTreeMap::new();
    for c in &plan.cells {
        by_cap.entry((&*c.plugin, &*c.capability)).or_insert_with(|| {
            let Some(cap) = plan.plugins.loaded(&c.plugin).and_then(|p| p.description.capability(&c.capability)) else { return Map::new() };
            crate::describe::settings(&cap.settings_schema).into_iter().filter_map(|s| s.default.filter(|d| !d.is_null()).map(|d| (s.name, d))).collect()
        });
    }
    let defaults = |plugin: &str, cap: &str| by_cap.get(&(plugin, cap)).cloned().unwrap_or_default();
    store.collect(&ids, &defaults)
}

/// The stored records of every cell of the plan, in plan order (missing and unreadable ones
/// left out): for reports, which need them all.
pub fn records(plan: &Plan, store: &Store) -> Result<Vec<Value>, StoreError> {
    let mut recs = Vec::new();
    for c in &plan.cells {
        if let Some(v) = store.read_valid(&c.id)? {
            recs.push(v.to_value());
        }
    }
    Ok(recs)
}

#[cfg(test)]
mod tests {
    use super::point_words;
    use serde_json::json;

    #[test]
    fn sweep_points_read_as_words() {
        let p = json!({"fit.iterations": 400, "fit.families": {"uniform": 6, "lognorm": 4}, "fit.fitter": "em-binned", "fit.x": [1, "a"]});
        assert_eq!(point_words(p.as_object().unwrap()), "iterations=400 families={uniform=6,lognorm=4} fitter=em-binned x=[1,a]");
        assert_eq!(point_words(&serde_json::Map::new()), "");
    }
}
