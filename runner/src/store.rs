//! The result store: one JSON file per cell, written atomically (temp file + fsync + rename),
//! plus the collected `results.jsonl` and `results.csv` (README: result layout contract).
use crate::error::StoreError;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::record::CELL_SCHEMA;
use crate::record::{CellRecord, Status};

/// The results directory of one experiment.
#[derive(Debug, Clone)]
pub struct Store {
    /// `results/<experiment>`.
    pub root: PathBuf,
}

/// The cell ids stored in a results directory (`None`: it could not be listed).
#[derive(Debug, Clone)]
pub struct Listing(Option<std::collections::HashSet<String>>);

/// Status of a stored cell relative to the current plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Finished, same plugin binary: reused.
    Cached,
    /// Finished with another plugin binary: rerun.
    Stale,
    /// Stored as failed: rerun.
    Failed,
    /// No (valid) file.
    Missing,
}

impl Stored {
    /// Display name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Stored::Cached => "cached",
            Stored::Stale => "stale",
            Stored::Failed => "failed",
            Stored::Missing => "missing",
        }
    }
}

/// A file written through a temp file in its directory and renamed over `path` by
/// [`AtomicFile::commit`] (after fsync; then the directory is synced): a crash leaves either
/// the old file or the new one. Dropped uncommitted, the temp file is removed.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> Result<AtomicFile, StoreError> {
        let io = |e| StoreError::Io { path: path.to_path_buf(), source: e };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let f = std::fs::File::create(&tmp).map_err(io)?;
        Ok(AtomicFile { path: path.to_path_buf(), tmp, out: Some(std::io::BufWriter::with_capacity(1 << 16, f)) })
    }

    /// Writes `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let out = self.out.as_mut().expect("AtomicFile written after commit");
        out.write_all(bytes).map_err(|e| StoreError::Io { path: self.path.clone(), source: e })
    }

    /// Flushes, fsyncs and renames the file into place.
    pub fn commit(self) -> Result<(), StoreError> {
        self.place(true)
    }

    /// Flushes and renames the file into place, without fsync: readers still see the old
    /// file or the new one, but a crash may lose the new one. For files that are the record of
    /// nothing (the live progress, runner/src/live.rs; `results.jsonl` and `results.csv`,
    /// rebuilt from the records by every run: docs/design.md §5), where two fsyncs per write
    /// would be most of the runner's own kernel time on a short run.
    pub fn commit_volatile(self) -> Result<(), StoreError> {
        self.place(false)
    }

    fn place(mut self, durable: bool) -> Result<(), StoreError> {
        let io = |e| StoreError::Io { path: self.path.clone(), source: e };
        let out = self.out.take().expect("AtomicFile committed once");
        let placed = out.into_inner().map_err(|e| e.into_error()).and_then(|f| if durable { f.sync_all() } else { Ok(()) }).and_then(|_| std::fs::rename(&self.tmp, &self.path));
        if let Err(e) = placed {
            // a full disk shows up here (the buffered tail, the fsync): no temp file stays
            let _ = std::fs::remove_file(&self.tmp);
            return Err(io(e));
        }
        if durable && let Ok(d) = std::fs::File::open(self.path.parent().unwrap_or(Path::new("."))) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`AtomicFile`]).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_whole(path, bytes, true)
}

/// Replaces `path` with `bytes` atomically but not durably ([`AtomicFile::commit_volatile`]).
pub fn atomic_replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_whole(path, bytes, false)
}

fn write_whole(path: &Path, bytes: &[u8], durable: bool) -> Result<(), StoreError> {
    let mut f = AtomicFile::create(path)?;
    f.write(bytes)?;
    f.place(durable)
}

impl Store {
    /// Store for `results_root/<experiment>`.
    pub fn new(results_root: &Path, experiment: &str) -> Store {
        Store { root: results_root.join(experiment) }
    }
    /// Path of a cell file.
    pub fn cell_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.json"))
    }
    /// Artifact directory of a cell.
    pub fn artifact_dir(&self, id: &str) -> PathBuf {
        self.root.join("artifacts").join(id)
    }
    /// Report directory.
    pub fn report_dir(&self) -> PathBuf {
        self.root.join("report")
    }

    /// Reads a cell file; `Ok(None)` when absent. A file that does not parse is reported
    /// as corrupt (the caller treats it as missing and reruns the cell).
    pub fn read(&self, id: &str) -> Result<Option<CellRecord>, StoreError> {
        let p = self.cell_path(id);
        match std::fs::read(&p) {
            // a record is stored under its own id: one copied or renamed to another cell's
            // name is not that cell's result
            Ok(b) => match CellRecord::from_slice(&b) {
                Ok(r) if r.cell_id != id => Err(StoreError::Corrupt { path: p, message: format!("the record is of cell `{}`, not of `{id}` (its file name)", r.cell_id) }),
                Ok(r) => Ok(Some(r)),
                Err(message) => Err(StoreError::Corrupt { path: p, message }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io { path: p, source: e }),
        }
    }

    /// The cell files present, from one directory listing: the status of a cell whose file is
    /// absent then costs no `open`, which is half the time of `flowlab plan` / `status` over a
    /// million cells never run (BENCHMARKS.md). A snapshot, for listings only; runs ask
    /// [`Store::status`] per cell.
    pub fn listing(&self) -> Listing {
        match std::fs::read_dir(&self.root) {
            Ok(rd) => Listing(Some(rd.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_string)).collect())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Listing(Some(Default::default())),
            Err(_) => Listing(None),
        }
    }

    /// [`Store::status`], answered `Missing` without opening the file when `listing` lacks it.
    pub fn status_listed(&self, listing: &Listing, id: &str, plugin_sha256: &str) -> Stored {
        match &listing.0 {
            Some(ids) if !ids.contains(id) => Stored::Missing,
            _ => self.status(id, plugin_sha256),
        }
    }

    /// Status of a stored cell given the current plugin hash.
    pub fn status(&self, id: &str, plugin_sha256: &str) -> Stored {
        match self.read(id) {
            Ok(Some(v)) => {
                if v.schema != CELL_SCHEMA {
                    Stored::Missing
                } else if v.status != Status::Ok {
                    Stored::Failed
                } else if !self.artifacts_present(id, &v.response) {
                    // an `ok` record whose artifacts are gone (a kill during an older
                    // --force run, a hand deletion) is not done
                    Stored::Missing
                } else if v.provenance.plugin.sha256 != plugin_sha256 {
                    Stored::Stale
                } else {
                    Stored::Cached
                }
            }
            _ => Stored::Missing,
        }
    }

    /// Moves a cell's record and artifacts aside before the cell runs again (`--force`), so
    /// that a rerun that is interrupted can put them back ([`SetAside::restore`]) instead of
    /// losing a good result; [`SetAside::discard`] drops them once the new record is stored.
    /// The record goes first and comes back last, so at no moment is there a record whose
    /// artifacts are missing. Leftovers of a runner killed in between are removed here.
    pub fn set_aside(&self, id: &str) -> Result<SetAside, StoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        let (rec, art) = (self.cell_path(id), self.artifact_dir(id));
        let mut aside = SetAside { record: (rec.clone(), aside_name(&rec)), artifacts: (art.clone(), aside_name(&art)), moved: (false, false) };
        remove_if_present(&aside.record.1).map_err(io(&aside.record.1))?;
        remove_if_present(&aside.artifacts.1).map_err(io(&aside.artifacts.1))?;
        aside.moved.0 = rename_if_present(&rec, &aside.record.1).map_err(io(&rec))?;
        aside.moved.1 = rename_if_present(&art, &aside.artifacts.1).map_err(io(&art))?;
        if aside.moved.0
            && let Ok(d) = std::fs::File::open(&self.root)
        {
            let _ = d.sync_all();
        }
        Ok(aside)
    }

    /// Puts back what a `--force` rerun killed outright (SIGKILL, a node lost) had moved
    /// aside, when the cell has no record: the previous record is as valid as before (same
    /// cell id; [`Store::status`] checks it as any other). Call only holding the cell's lock.
    /// Returns whether something was put back.
    pub fn recover_aside(&self, id: &str) -> Result<bool, StoreError> {
        let (rec, art) = (self.cell_path(id), self.artifact_dir(id));
        let (rec_aside, art_aside) = (aside_name(&rec), aside_name(&art));
        if rec.exists() || !rec_aside.exists() {
            return Ok(false);
        }
        let io = |path: &Path, source| StoreError::Io { path: path.to_path_buf(), source };
        // the artifacts were moved after the record: without their copy, the ones in place
        // are still the previous ones (the kill came between the two renames). So unlike
        // `SetAside::restore` (which knows what it moved), what is in place is kept then
        if art_aside.exists() {
            remove_if_present(&art).map_err(|e| io(&art, e))?;
            std::fs::rename(&art_aside, &art).map_err(|e| io(&art, e))?;
        }
        std::fs::rename(&rec_aside, &rec).map_err(|e| io(&rec, e))?;
        Ok(true)
    }

    /// Whether every artifact a response lists is in the cell's artifact directory.
    fn artifacts_present(&self, id: &str, response: &Value) -> bool {
        let dir = self.artifact_dir(id);
        response["artifacts"].as_array().is_none_or(|a| a.iter().all(|x| x["path"].as_str().is_some_and(|p| dir.join(p).exists())))
    }

    /// Writes a cell record atomically (pretty JSON, trailing newline).
    pub fn write(&self, id: &str, record: &CellRecord) -> Result<(), StoreError> {
        let bytes = record.to_bytes().map_err(|e| StoreError::Corrupt { path: self.cell_path(id), message: e.to_string() })?;
        self.guard(&self.cell_path(id))?;
        atomic_write(&self.cell_path(id), &bytes)
    }

    /// Refuses `path` when a symbolic link lies on its way inside the results directory
    /// (runner/src/fsguard.rs).
    pub fn guard(&self, path: &Path) -> Result<(), StoreError> {
        crate::fsguard::refuse_symlinks(&self.root, path).map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e })
    }

    /// A cell record, or `None` when the file is absent or does not parse (that cell is then
    /// treated as missing).
    pub fn read_valid(&self, id: &str) -> Result<Option<CellRecord>, StoreError> {
        match self.read(id) {
            Err(StoreError::Corrupt { .. }) => Ok(None),
            other => other,
        }
    }

    /// Writes `results.jsonl` (the records of cells `ids`, which are sorted, `timing`
    /// included) and `results.csv`, holding one record in memory at a time: the JSON lines
    /// are written while the CSV columns are gathered, then the CSV rows are made from the
    /// JSON lines just written. Returns the number of records.
    ///
    /// `defaults(plugin, capability)` gives the settings a capability uses when the manifest
    /// leaves them out (from its schema), so the CSV shows every *effective* setting.
    pub fn collect(&self, ids: &[&str], defaults: &dyn Fn(&str, &str) -> Map<String, Value>) -> Result<usize, StoreError> {
        let jsonl_path = self.root.join("results.jsonl");
        self.guard(&jsonl_path)?;
        self.guard(&self.root.join("results.csv"))?;
        let mut jsonl = AtomicFile::create(&jsonl_path)?;
        // CSV: fixed columns, then every sweep key, every effective setting (as
        // `<task>.<key>`, tables flattened to dotted keys) and every metric seen (sorted)
        let mut point_keys = std::collections::BTreeSet::new();
        let mut setting_keys = std::collections::BTreeSet::new();
        let mut metric_keys = std::collections::BTreeSet::new();
        let mut line = Vec::new();
        let mut n = 0;
        for id in ids {
            let Some(r) = self.read_valid(id)? else { continue };
            point_keys.extend(r.point.keys().cloned());
            if let Some(m) = r.response["metrics"].as_object() {
                metric_keys.extend(m.keys().cloned());
            }
            setting_keys.extend(effective_settings(&r.task, &r.plugin, &r.capability, &r.settings, defaults).into_iter().map(|(k, _)| k));
            line.clear();
            serde_json::to_writer(&mut line, &r).map_err(|e| StoreError::Corrupt { path: jsonl_path.clone(), message: e.to_string() })?;
            line.push(b'\n');
            jsonl.write(&line)?;
            n += 1;
        }
        // the two views are rebuilt from the records by every run and report: replaced
        // atomically, but not fsynced (docs/design.md §5)
        jsonl.commit_volatile()?;
        let csv_path = self.root.join("results.csv");
        let mut csv = AtomicFile::create(&csv_path)?;
        // a swept key is its own column already
        setting_keys.retain(|k| !point_keys.contains(k));
        let mut head = String::from("cell_id,task,plugin,capability,dataset,replicate,status,iterations,evaluations,termination,wall_s");
        for k in point_keys.iter().chain(&setting_keys).chain(&metric_keys) {
            head.push(',');
            head.push_str(&csv_field(k));
        }
        head.push('\n');
        csv.write(head.as_bytes())?;
        let io = |e| StoreError::Io { path: jsonl_path.clone(), source: e };
        let lines = std::io::BufReader::new(std::fs::File::open(&jsonl_path).map_err(io)?);
        for l in std::io::BufRead::lines(lines) {
            let r = CellRecord::from_slice(l.map_err(io)?.as_bytes()).map_err(|message| StoreError::Corrupt { path: jsonl_path.clone(), message })?;
            csv.write(csv_row(&r, &point_keys, &setting_keys, &metric_keys, defaults).as_bytes())?;
        }
        csv.commit_volatile()?;
        Ok(n)
    }
}

/// The effective settings of record `r` as `(<task>.<dotted key>, text)`: the stored settings
/// over the capability's defaults, tables flattened (`fit.families.lognorm`), lists and
/// scalars as compact JSON text (strings bare). A `null` default (decided by the plugin from
/// other settings) is left out.
fn effective_settings(task: &str, plugin: &str, cap: &str, settings: &Value, defaults: &dyn Fn(&str, &str) -> Map<String, Value>) -> Vec<(String, String)> {
    let mut all = defaults(plugin, cap);
    if let Some(m) = settings.as_object() {
        for (k, v) in m {
            all.insert(k.clone(), v.clone());
        }
    }
    let mut out = Vec::new();
    flatten(task, &Value::Object(all), &mut out);
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Null => {}
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                flatten(&format!("{prefix}.{k}"), x, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// One `results.csv` line of record `r`.
fn csv_row(
    r: &CellRecord,
    point_keys: &std::collections::BTreeSet<String>,
    setting_keys: &std::collections::BTreeSet<String>,
    metric_keys: &std::collections::BTreeSet<String>,
    defaults: &dyn Fn(&str, &str) -> Map<String, Value>,
) -> String {
    let s = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let resp = &r.response;
    let term = match &resp["termination"] {
        Value::Object(o) => o.iter().next().map(|(k, v)| format!("{k}: {}", s(v))).unwrap_or_default(),
        v => s(v),
    };
    let field = |m: &Map<String, Value>, k: &str| m.get(k).map(s).unwrap_or_default();
    let dataset = r.dataset.as_ref().map(|d| d.id.clone()).unwrap_or_default();
    let row = [
        r.cell_id.clone(),
        r.task.clone(),
        r.plugin.clone(),
        r.capability.clone(),
        dataset,
        r.replicate.to_string(),
        r.status.as_str().to_string(),
        s(&resp["iterations"]),
        s(&resp["evaluations"]),
        term,
        field(&r.timing, "wall_s"),
    ];
    let mut csv = row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    for k in point_keys {
        csv.push(',');
        csv.push_str(&csv_field(&field(&r.point, k)));
    }
    let settings: std::collections::BTreeMap<String, String> = effective_settings(&r.task, &r.plugin, &r.capability, &r.settings, defaults).into_iter().collect();
    for k in setting_keys {
        csv.push(',');
        csv.push_str(&csv_field(settings.get(k).map(String::as_str).unwrap_or("")));
    }
    for k in metric_keys {
        csv.push(',');
        csv.push_str(&csv_field(&s(&resp["metrics"][k])));
    }
    csv.push('\n');
    csv
}

/// RFC 4180 quoting where needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// A cell's previous record and artifacts, moved aside by [`Store::set_aside`].
#[derive(Debug)]
pub struct SetAside {
    /// (record path, where it was moved).
    record: (PathBuf, PathBuf),
    /// (artifact directory, where it was moved).
    artifacts: (PathBuf, PathBuf),
    /// Whether each existed and was moved.
    moved: (bool, bool),
}

impl SetAside {
    /// Puts the previous record and artifacts back (the rerun was interrupted): whatever the
    /// rerun wrote is removed first.
    pub fn restore(self) -> Result<(), StoreError> {
        let io = |path: &Path, source| StoreError::Io { path: path.to_path_buf(), source };
        let _ = std::fs::remove_file(&self.record.0);
        remove_if_present(&self.artifacts.0).map_err(|e| io(&self.artifacts.0, e))?;
        if self.moved.1 {
            std::fs::rename(&self.artifacts.1, &self.artifacts.0).map_err(|e| io(&self.artifacts.0, e))?;
        }
        if self.moved.0 {
            std::fs::rename(&self.record.1, &self.record.0).map_err(|e| io(&self.record.0, e))?;
        }
        Ok(())
    }

    /// Drops the previous record and artifacts (the new record is stored).
    pub fn discard(self) -> Result<(), StoreError> {
        for p in [&self.record.1, &self.artifacts.1] {
            remove_if_present(p).map_err(|source| StoreError::Io { path: p.clone(), source })?;
        }
        Ok(())
    }
}

/// `<name>.forced` beside `p`: not a cell file (`*.json`) nor a cell id, so listings skip it.
fn aside_name(p: &Path) -> PathBuf {
    let mut n = p.file_name().unwrap_or_default().to_os_string();
    n.push(".forced");
    p.with_file_name(n)
}

/// Renames `from` to `to`; false when `from` does not exist.
fn rename_if_present(from: &Path, to: &Path) -> std::io::Result<bool> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes a file or a directory tree; absent is fine.
fn remove_if_present(p: &Path) -> std::io::Result<()> {
    let r = match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}
