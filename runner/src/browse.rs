//! Browsing stored results from the terminal (`flowlab ls`, `show`, `diff`; README: commands):
//! reads `results/<experiment>/<cell-id>.json` (schema `flowlab.cell/1`, `store.rs`) and
//! `.flowlab-run.json`, never writes. Functions return lines or JSON; the binary prints them
//! through its `out!` macro, so a closed pipe ends quietly (README.md: commands).
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A browse failure: a bad argument (exit 2) or an unreadable store (exit 3), README.md's
/// exit codes.
#[derive(Debug)]
pub enum BrowseError {
    /// No such cell or experiment, an ambiguous prefix, a missing results root.
    BadArg(String),
    /// A directory or file that exists but cannot be read.
    Store(String),
}

impl std::fmt::Display for BrowseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrowseError::BadArg(m) | BrowseError::Store(m) => f.write_str(m),
        }
    }
}

/// One stored cell: its file and its record.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The cell file.
    pub path: PathBuf,
    /// The parsed record.
    pub record: Value,
}

/// The cells of one experiment directory, plus the files that did not parse (reported, not
/// fatal: one corrupt file must not hide the others).
#[derive(Debug, Default)]
pub struct Experiment {
    /// Directory name.
    pub name: String,
    /// The directory.
    pub dir: PathBuf,
    /// Cells, sorted by id.
    pub cells: Vec<Cell>,
    /// `file: reason` of every cell file that could not be read or parsed.
    pub corrupt: Vec<String>,
    /// Newest cell file modification time.
    pub last_run: Option<SystemTime>,
    /// `manifest` of `.flowlab-run.json`, when present.
    pub manifest: Option<String>,
}

/// What a `show` / `diff` argument names.
#[derive(Debug)]
pub enum Target {
    /// A cell.
    Cell(Cell),
    /// An experiment.
    Experiment(Experiment),
}

/// Whether a directory entry name is a cell file: `<id>.json`, not a dot file
/// (`.flowlab-run.json` is the run context, store.rs).
pub fn is_cell_file(name: &str) -> bool {
    name.ends_with(".json") && !name.starts_with('.')
}

/// The cell file names of a directory (sorted), or a store error when it cannot be listed.
fn cell_files(dir: &Path) -> Result<Vec<PathBuf>, BrowseError> {
    let rd = std::fs::read_dir(dir).map_err(|e| BrowseError::Store(format!("cannot read {}: {e}", dir.display())))?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(is_cell_file)).collect();
    v.sort();
    Ok(v)
}

/// Reads one cell file; the error names the file and why (unreadable, not JSON, not a cell).
pub fn read_cell(path: &Path) -> Result<Cell, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // read through the contract's type (runner/src/record.rs): a file that is not a cell
    // record is named with the key that is wrong
    let typed = crate::record::CellRecord::from_slice(&bytes).map_err(|e| format!("{}: not a flowlab cell record: {e}", path.display()))?;
    Ok(Cell { path: path.to_path_buf(), record: typed.to_value() })
}

/// Whether a directory looks like an experiment: a run context or at least one cell file.
pub fn is_experiment_dir(dir: &Path) -> bool {
    dir.join(".flowlab-run.json").is_file() || cell_files(dir).is_ok_and(|v| !v.is_empty())
}

/// Loads an experiment directory: every cell file, the corrupt ones set aside.
pub fn load_experiment(dir: &Path) -> Result<Experiment, BrowseError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
    let mut ex = Experiment { name, dir: dir.to_path_buf(), ..Default::default() };
    for p in cell_files(dir)? {
        if let Ok(t) = std::fs::metadata(&p).and_then(|m| m.modified()) {
            ex.last_run = Some(ex.last_run.map_or(t, |l| l.max(t)));
        }
        match read_cell(&p) {
            Ok(c) => ex.cells.push(c),
            Err(e) => ex.corrupt.push(e),
        }
    }
    ex.manifest = std::fs::read(dir.join(".flowlab-run.json")).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()).and_then(|v| v["manifest"].as_str().map(str::to_string));
    Ok(ex)
}

/// The experiment directories directly under a results root, sorted by name. A missing root
/// is a bad argument; one that cannot be listed is a store error.
pub fn experiment_dirs(root: &Path) -> Result<Vec<PathBuf>, BrowseError> {
    if !root.is_dir() {
        return Err(BrowseError::BadArg(format!("no results directory {} (give one with --results DIR)", root.display())));
    }
    let rd = std::fs::read_dir(root).map_err(|e| BrowseError::Store(format!("cannot read {}: {e}", root.display())))?;
    let mut v: Vec<PathBuf> =
        rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) && is_experiment_dir(p)).collect();
    v.sort();
    Ok(v)
}

/// Cells whose status is `ok` and the others.
fn counts(ex: &Experiment) -> (usize, usize) {
    let ok = ex.cells.iter().filter(|c| c.record["status"] == "ok").count();
    (ok, ex.cells.len() - ok)
}

/// Sum of `timing.wall_s` over the cells (what the experiment cost).
fn wall_s(ex: &Experiment) -> f64 {
    ex.cells.iter().filter_map(|c| c.record["timing"]["wall_s"].as_f64()).sum()
}

/// Local ISO-8601 to the minute (`2026-12-05T22:18+01:00`), what `ls` shows as the last run.
pub fn local_minute(t: SystemTime) -> String {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let off = utc_offset(secs);
    let local = secs + off;
    let (days, rem) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let zone = if off == 0 { "Z".to_string() } else { format!("{}{:02}:{:02}", if off < 0 { '-' } else { '+' }, off.abs() / 3600, off.abs() % 3600 / 60) };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}{zone}", rem / 3600, rem % 3600 / 60)
}

/// Year, month, day of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`): the
/// runner has no date dependency and needs only this.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The local UTC offset in seconds at `secs` (the C library's `localtime_r`, which reads TZ
/// and /etc/localtime); 0 (UTC, printed `Z`) where it is unavailable.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // `c_long` is i64 here but i32 on 32-bit targets
fn utc_offset(secs: i64) -> i64 {
    // struct tm of glibc, musl and the BSDs: nine ints, then tm_gmtoff and tm_zone
    #[repr(C)]
    struct Tm {
        ints: [std::os::raw::c_int; 9],
        gmtoff: std::os::raw::c_long,
        zone: *const std::os::raw::c_char,
    }
    unsafe extern "C" {
        fn localtime_r(t: *const i64, out: *mut Tm) -> *mut Tm;
    }
    let mut tm = Tm { ints: [0; 9], gmtoff: 0, zone: std::ptr::null() };
    // SAFETY: both pointers are valid for the call; time_t is i64 on the 64-bit targets built
    let r = unsafe { localtime_r(&secs, &mut tm) };
    if r.is_null() { 0 } else { tm.gmtoff as i64 }
}

#[cfg(not(unix))]
fn utc_offset(_secs: i64) -> i64 {
    0
}

/// `ls`: one summary per experiment under the root (JSON form; the table is [`ls_table`]).
pub fn ls_summaries(root: &Path) -> Result<(Vec<Value>, Vec<String>), BrowseError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for dir in experiment_dirs(root)? {
        let ex = load_experiment(&dir)?;
        warnings.extend(ex.corrupt.iter().map(|c| format!("corrupt cell file {c}")));
        out.push(experiment_summary(&ex));
    }
    Ok((out, warnings))
}

/// The counts of an experiment as JSON (shared by `ls --json` and `show --json`).
fn experiment_summary(ex: &Experiment) -> Value {
    let (ok, failed) = counts(ex);
    json!({
        "name": ex.name,
        "path": ex.dir.display().to_string(),
        "cells": ex.cells.len(),
        "ok": ok,
        "failed": failed,
        "corrupt": ex.corrupt.len(),
        "last_run": ex.last_run.map(local_minute),
        "wall_s": wall_s(ex),
        "manifest": ex.manifest,
    })
}

/// Pads columns to their widest cell (two spaces apart; the last column is not padded).
pub fn align(rows: &[Vec<String>]) -> Vec<String> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n).map(|i| rows.iter().filter_map(|r| r.get(i)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, s) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(s);
                } else {
                    let _ = write!(line, "{s:<w$}  ", w = widths[i]);
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// `ls` as an aligned table.
pub fn ls_table(summaries: &[Value]) -> Vec<String> {
    let mut rows = vec![["experiment", "cells", "ok", "failed", "last run", "wall s", "manifest"].map(String::from).to_vec()];
    for s in summaries {
        let failed = s["failed"].as_u64().unwrap_or(0);
        let corrupt = s["corrupt"].as_u64().unwrap_or(0);
        rows.push(vec![
            s["name"].as_str().unwrap_or("").to_string(),
            s["cells"].to_string(),
            s["ok"].to_string(),
            if corrupt > 0 { format!("{failed} (+{corrupt} corrupt)") } else { failed.to_string() },
            s["last_run"].as_str().unwrap_or("-").to_string(),
            table_num(s["wall_s"].as_f64().unwrap_or(0.0)),
            s["manifest"].as_str().unwrap_or("-").to_string(),
        ]);
    }
    align(&rows)
}

/// A number for a table: a whole number below 10¹⁵ exactly, without a decimal point (a count
/// stored as a float, `14779500`, not `1.47795e7` or `1150.0`); else the stored (shortest
/// round-trip) form when it has at most 6 significant digits, else 6 significant digits
/// (enough to tell fitted values apart in a table).
pub fn table_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let shortest = serde_json::Number::from_f64(x).map(|n| n.to_string()).unwrap_or_else(|| x.to_string());
    let digits = shortest.split(['e', 'E']).next().unwrap_or("").chars().filter(char::is_ascii_digit).collect::<String>();
    if digits.trim_start_matches('0').len() <= 6 || !x.is_finite() {
        return shortest;
    }
    let a = x.abs();
    if (1e-4..1e6).contains(&a) {
        let dec = (5 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.dec$}")
    } else {
        format!("{x:.5e}")
    }
}

/// A JSON value as a table or `key = value` cell: numbers as stored, strings bare.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().filter(|_| n.is_f64()).map(table_num).unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}

/// A JSON value exactly as stored (shortest round-trip numbers), for `show` and `diff`.
pub fn stored_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Flattens nested objects into `a.b` keys (arrays stay whole values), sorted.
pub fn flatten(v: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten_into(v, "", &mut out);
    out
}

/// [`flatten`]'s recursion.
fn flatten_into(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() || prefix.is_empty() => {
            for (k, x) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_into(x, &key, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// Resolves a `show` / `diff` argument: a cell file, an experiment directory, an experiment
/// name under the root, or a cell id / unique id prefix searched in every experiment.
pub fn resolve(root: &Path, target: &str) -> Result<Target, BrowseError> {
    let p = Path::new(target);
    if p.is_file() {
        return read_cell(p).map(Target::Cell).map_err(BrowseError::Store);
    }
    if p.is_dir() && is_experiment_dir(p) {
        return load_experiment(p).map(Target::Experiment);
    }
    let named = root.join(target);
    if !target.is_empty() && !target.contains(['/', '\\']) && named.is_dir() && is_experiment_dir(&named) {
        return load_experiment(&named).map(Target::Experiment);
    }
    let matches = find_cells(root, target)?;
    match matches.len() {
        1 => read_cell(&matches[0]).map(Target::Cell).map_err(BrowseError::Store),
        0 => Err(BrowseError::BadArg(format!("no cell, cell file or experiment `{target}` under {} (`flowlab ls` lists the experiments)", root.display()))),
        _ => Err(ambiguous(root, target, &matches)),
    }
}

/// The cell file a `replay` argument names: a cell file, or a cell id / unique id prefix
/// searched in every experiment under `root` (as [`resolve`]); an experiment directory or a
/// `results.jsonl` is refused with what to give instead.
pub fn cell_path(root: &Path, target: &str) -> Result<PathBuf, BrowseError> {
    let p = Path::new(target);
    let one = "give one cell: its file (results/<experiment>/<cell-id>.json) or its id (`flowlab ls EXPERIMENT` lists them)";
    if p.is_dir() {
        return Err(BrowseError::BadArg(format!("{target} is a directory; {one}")));
    }
    if p.is_file() {
        if p.extension().is_some_and(|e| e == "jsonl") {
            return Err(BrowseError::BadArg(format!("{target} holds every cell of an experiment; {one}")));
        }
        return Ok(p.to_path_buf());
    }
    let matches = find_cells(root, target)?;
    match matches.len() {
        1 => Ok(matches[0].clone()),
        0 => Err(BrowseError::BadArg(format!("no cell file or cell `{target}` under {} (`flowlab ls` lists the experiments)", root.display()))),
        _ => Err(ambiguous(root, target, &matches)),
    }
}

/// The error for a prefix that several cells share, listing up to 20 of them.
fn ambiguous(root: &Path, target: &str, matches: &[PathBuf]) -> BrowseError {
    let n = matches.len();
    let shown: Vec<String> = matches.iter().take(20).map(|m| format!("  {}", cell_label(root, m))).collect();
    let more = if n > 20 { format!("\n  … and {} more", n - 20) } else { String::new() };
    BrowseError::BadArg(format!("cell id prefix `{target}` is ambiguous: {n} cells match:\n{}{more}", shown.join("\n")))
}

/// `experiment/id` of a cell file (for candidate lists).
fn cell_label(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).with_extension("").display().to_string()
}

/// The cell files, in every experiment under the root, whose id starts with `prefix` (an
/// exact id wins over longer ids that share it).
/// The cell files of one experiment directory whose id starts with `prefix`, sorted.
pub fn cells_in(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, BrowseError> {
    Ok(cell_files(dir)?.into_iter().filter(|f| f.file_stem().is_some_and(|s| s.to_string_lossy().starts_with(prefix))).collect())
}

fn find_cells(root: &Path, prefix: &str) -> Result<Vec<PathBuf>, BrowseError> {
    if prefix.is_empty() || prefix.contains(['/', '\\', '.']) {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for dir in experiment_dirs(root)? {
        for f in cells_in(&dir, prefix)? {
            found.push((f.file_stem().is_some_and(|s| s == prefix), f));
        }
    }
    if found.iter().any(|(exact, _)| *exact) {
        found.retain(|(exact, _)| *exact);
    }
    Ok(found.into_iter().map(|(_, f)| f).collect())
}

/// The dataset id of a record (`dataset` is an object with `id`, a string, or null).
pub fn dataset_id(r: &Value) -> String {
    match &r["dataset"] {
        Value::Object(m) => m.get("id").map(stored_value).unwrap_or_else(|| "?".into()),
        Value::Null => "-".into(),
        v => stored_value(v),
    }
}

/// `key = value` lines of a flattened object, indented, or `  (none)`.
fn kv_lines(v: &Value) -> Vec<String> {
    let f = flatten(v);
    if f.is_empty() || (f.len() == 1 && f.get("").is_some_and(|x| x.is_null() || x == &json!({}))) {
        return vec!["  (none)".into()];
    }
    f.iter().map(|(k, x)| format!("  {k} = {}", stored_value(x))).collect()
}

/// `show` of a cell: identity, status (error and log tail when failed), sweep point,
/// settings, metrics, iterations, artifacts with their paths, provenance.
pub fn show_cell(c: &Cell) -> Vec<String> {
    let r = &c.record;
    let s = |k: &str| stored_value(&r[k]);
    let mut l = vec![
        format!("cell        {}", s("cell_id")),
        format!("file        {}", c.path.display()),
        format!("experiment  {}", s("experiment")),
        format!("task        {} ({})", s("task"), s("kind")),
        format!("plugin      {} / {}", s("plugin"), s("capability")),
        format!("dataset     {}", dataset_id(r)),
        format!("replicate   {}", s("replicate")),
        format!("seed        {}", s("seed")),
        format!("status      {}", s("status")),
    ];
    if r["status"] != "ok" {
        l.push(format!("error       {}", if r["error"].is_object() { format!("[{}] {}", stored_value(&r["error"]["kind"]), stored_value(&r["error"]["message"])) } else { s("error") }));
        l.push("log tail:".into());
        l.extend(r["log_tail"].as_array().into_iter().flatten().map(|x| format!("  {}", stored_value(x))));
    }
    for (title, v) in [("sweep point:", &r["point"]), ("settings:", &r["settings"]), ("metrics:", &r["response"]["metrics"])] {
        l.push(title.into());
        l.extend(kv_lines(v));
    }
    let resp = &r["response"];
    l.push(format!("iterations  {}, termination {}", stored_value(&resp["iterations"]), stored_value(&resp["termination"])));
    l.push("artifacts:".into());
    let arts = resp["artifacts"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if arts.is_empty() {
        l.push("  (none)".into());
    }
    let art_dir = c.path.parent().unwrap_or(Path::new(".")).join("artifacts").join(s("cell_id"));
    for a in arts {
        let path = a["path"].as_str().unwrap_or("");
        // artifact paths are relative to artifacts/<cell-id>/ (store.rs `artifact_dir`)
        let full = if Path::new(path).is_absolute() { PathBuf::from(path) } else { art_dir.join(path) };
        l.push(format!("  {} ({}): {}", stored_value(&a["name"]), stored_value(&a["kind"]), full.display()));
    }
    let p = &r["provenance"];
    // by characters: a hand-edited record may hold anything there, and slicing bytes could panic
    let sha: String = p["plugin"]["sha256"].as_str().unwrap_or("").chars().take(12).collect();
    l.push("provenance:".into());
    l.push(format!("  plugin {} {} sha256 {}", stored_value(&p["plugin"]["name"]), stored_value(&p["plugin"]["version"]), sha));
    let dirty = if p["git_dirty"] == true { " (dirty)" } else { "" };
    l.push(format!("  flowlab {}, git {}{dirty}", stored_value(&p["flowlab_version"]), stored_value(&p["git_commit"])));
    l.push(format!("timing      wall {} s", show_value(&r["timing"]["wall_s"])));
    l
}

/// The sweep point of a record as compact JSON (empty when none).
fn point_text(r: &Value) -> String {
    match &r["point"] {
        Value::Object(m) if !m.is_empty() => Value::Object(m.clone()).to_string(),
        _ => String::new(),
    }
}

/// The first few scalar metrics of a record, `k=v` (a table column, not the whole record).
fn metric_summary(r: &Value, n: usize) -> String {
    let f = flatten(&r["response"]["metrics"]);
    f.iter().filter(|(k, v)| !k.is_empty() && v.is_number()).take(n).map(|(k, v)| format!("{k}={}", show_value(v))).collect::<Vec<_>>().join(" ")
}

/// `show` of an experiment: counts, then a table of its cells.
pub fn show_experiment(ex: &Experiment) -> Vec<String> {
    let (ok, failed) = counts(ex);
    let mut l = vec![
        format!("experiment  {} ({})", ex.name, ex.dir.display()),
        format!("manifest    {}", ex.manifest.as_deref().unwrap_or("-")),
        format!("cells       {} ({ok} ok, {failed} failed{})", ex.cells.len(), if ex.corrupt.is_empty() { String::new() } else { format!(", {} corrupt", ex.corrupt.len()) }),
        format!("last run    {}", ex.last_run.map(local_minute).unwrap_or_else(|| "-".into())),
        format!("wall        {} s", table_num(wall_s(ex))),
    ];
    let mut rows = vec![["cell", "task", "dataset", "rep", "status", "sweep point", "metrics"].map(String::from).to_vec()];
    for c in &ex.cells {
        let r = &c.record;
        rows.push(vec![stored_value(&r["cell_id"]), stored_value(&r["task"]), dataset_id(r), stored_value(&r["replicate"]), stored_value(&r["status"]), point_text(r), metric_summary(r, 3)]);
    }
    l.push(String::new());
    l.extend(align(&rows));
    l
}

/// `show --json` of an experiment: the counts and one entry per cell.
pub fn experiment_json(ex: &Experiment) -> Value {
    let mut v = experiment_summary(ex);
    let cells: Vec<Value> = ex
        .cells
        .iter()
        .map(|c| {
            let r = &c.record;
            json!({"cell_id": r["cell_id"], "task": r["task"], "dataset": dataset_id(r), "replicate": r["replicate"], "status": r["status"], "point": r["point"], "metrics": r["response"]["metrics"]})
        })
        .collect();
    if let Value::Object(m) = &mut v {
        m.insert("cell_list".into(), Value::Array(cells));
        m.insert("corrupt_files".into(), json!(ex.corrupt));
    }
    v
}

/// Fields that say where a result is, not what it is, left out of the comparison with
/// `timing` (README.md: replay compares outside `timing`).
const PLACE_KEYS: [&str; 3] = ["timing", "cell_id", "experiment"];

/// A record without its place and timing, flattened.
fn comparable(r: &Value) -> BTreeMap<String, Value> {
    let mut r = r.clone();
    if let Value::Object(m) = &mut r {
        for k in PLACE_KEYS {
            m.remove(k);
        }
    }
    flatten(&r)
}

/// Whether outputs should be coloured: stdout is a terminal and `NO_COLOR` is unset
/// (https://no-color.org).
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Side-by-side rows of two flattened sections (union of keys, sorted); differing rows get
/// a leading `*` (bold red when coloured). Returns the lines and whether any row differs.
fn side_by_side(title: &str, a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>, only_diff: bool, color: bool) -> (Vec<String>, bool) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let cell = |m: &BTreeMap<String, Value>, k: &String| m.get(k).map(stored_value).unwrap_or_else(|| "(absent)".into());
    let mut rows = Vec::new();
    let mut marks = Vec::new();
    for k in keys {
        let differ = a.get(k) != b.get(k);
        if only_diff && !differ {
            continue;
        }
        marks.push(differ);
        rows.push(vec![if differ { "*".into() } else { " ".into() }, if k.is_empty() { "(value)".into() } else { k.clone() }, cell(a, k), cell(b, k)]);
    }
    let any = marks.iter().any(|d| *d);
    if rows.is_empty() {
        return (Vec::new(), any);
    }
    let mut l = vec![format!("{title}:")];
    for (line, differ) in align(&rows).into_iter().zip(marks) {
        l.push(if differ && color { format!("\x1b[1;31m{line}\x1b[0m") } else { line });
    }
    (l, any)
}

/// The settings and metrics of a record, flattened.
fn sections(r: &Value) -> [(&'static str, BTreeMap<String, Value>); 2] {
    [("settings", flatten(&r["settings"])), ("metrics", flatten(&r["response"]["metrics"]))]
}

/// The identity fields compared in a cell diff besides settings and metrics.
fn identity(r: &Value) -> BTreeMap<String, Value> {
    ["task", "plugin", "capability", "replicate", "seed", "status"]
        .iter()
        .map(|k| (k.to_string(), r[*k].clone()))
        .chain([("dataset".to_string(), Value::String(dataset_id(r))), ("point".to_string(), Value::String(point_text(r)))])
        .collect()
}

/// Keys outside the shown sections that differ (e.g. `response.data.draws`).
fn other_differences(a: &Value, b: &Value) -> Vec<String> {
    let (fa, fb) = (comparable(a), comparable(b));
    let shown = |k: &str| {
        k.starts_with("settings")
            || k.starts_with("response.metrics")
            || ["task", "plugin", "capability", "replicate", "seed", "status", "dataset", "point"].iter().any(|s| k == *s || k.starts_with(&format!("{s}.")))
    };
    fa.keys().chain(fb.keys()).collect::<BTreeSet<_>>().into_iter().filter(|k| !shown(k) && fa.get(*k) != fb.get(*k)).cloned().collect()
}

/// `diff` of two cells: identity, settings and metrics side by side, then other differing
/// fields by name. Returns the lines and whether the records differ outside timing.
pub fn diff_cells(a: &Cell, b: &Cell, color: bool) -> (Vec<String>, bool) {
    let (ra, rb) = (&a.record, &b.record);
    let mut l = vec![format!("A  {}  {}", stored_value(&ra["cell_id"]), a.path.display()), format!("B  {}  {}", stored_value(&rb["cell_id"]), b.path.display())];
    let (lines, _) = side_by_side("cell", &identity(ra), &identity(rb), false, color);
    l.extend(lines);
    for ((title, sa), (_, sb)) in sections(ra).into_iter().zip(sections(rb)) {
        let (lines, _) = side_by_side(title, &sa, &sb, false, color);
        l.extend(lines);
    }
    let other = other_differences(ra, rb);
    if !other.is_empty() {
        l.push(format!("other differing fields: {}", abbreviate(&other, 10)));
    }
    let differ = comparable(ra) != comparable(rb);
    l.push(if differ { "cells differ".into() } else { "cells are identical outside timing".into() });
    (l, differ)
}

/// A list joined by `, `, at most `n` items shown.
fn abbreviate(v: &[String], n: usize) -> String {
    let mut s = v.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > n {
        let _ = write!(s, ", … ({} more)", v.len() - n);
    }
    s
}

/// What matches cells across two experiments: task, dataset, replicate, sweep point.
fn match_key(r: &Value) -> String {
    format!("{} {} rep {} {}", stored_value(&r["task"]), dataset_id(r), stored_value(&r["replicate"]), point_text(r))
}

/// An experiment's cells by [`match_key`].
fn index_cells(ex: &Experiment) -> BTreeMap<String, &Cell> {
    ex.cells.iter().map(|c| (match_key(&c.record), c)).collect()
}

/// `diff` of two experiments: per matched cell pair the differing settings and metrics, then
/// the cells found on one side only. Returns the lines and whether anything differs.
pub fn diff_experiments(a: &Experiment, b: &Experiment, color: bool) -> (Vec<String>, bool) {
    let (ia, ib) = (index_cells(a), index_cells(b));
    let mut l = vec![format!("A  {} ({} cells)", a.dir.display(), a.cells.len()), format!("B  {} ({} cells)", b.dir.display(), b.cells.len())];
    let mut differ = false;
    let mut same = 0usize;
    for (k, ca) in &ia {
        let Some(cb) = ib.get(k) else { continue };
        if comparable(&ca.record) == comparable(&cb.record) {
            same += 1;
            continue;
        }
        differ = true;
        l.push(String::new());
        l.push(format!("{k}: A {} / B {}", stored_value(&ca.record["cell_id"]), stored_value(&cb.record["cell_id"])));
        for ((title, sa), (_, sb)) in sections(&ca.record).into_iter().zip(sections(&cb.record)) {
            l.extend(side_by_side(title, &sa, &sb, true, color).0);
        }
        let other = other_differences(&ca.record, &cb.record);
        if !other.is_empty() {
            l.push(format!("other differing fields: {}", abbreviate(&other, 10)));
        }
    }
    for (side, mine, theirs) in [("A", &ia, &ib), ("B", &ib, &ia)] {
        let only: Vec<String> = mine.iter().filter(|(k, _)| !theirs.contains_key(*k)).map(|(k, c)| format!("{} ({k})", stored_value(&c.record["cell_id"]))).collect();
        if !only.is_empty() {
            differ = true;
            l.push(String::new());
            l.push(format!("only in {side}: {} cells", only.len()));
            l.extend(only.into_iter().map(|s| format!("  {s}")));
        }
    }
    l.push(String::new());
    l.push(format!("{same} matched cells identical outside timing{}", if differ { "; experiments differ" } else { "; experiments are identical" }));
    (l, differ)
}

/// `diff` of any two targets; a cell against an experiment is a bad argument.
pub fn diff(a: &Target, b: &Target, color: bool) -> Result<(Vec<String>, bool), BrowseError> {
    match (a, b) {
        (Target::Cell(x), Target::Cell(y)) => Ok(diff_cells(x, y, color)),
        (Target::Experiment(x), Target::Experiment(y)) => Ok(diff_experiments(x, y, color)),
        _ => Err(BrowseError::BadArg("diff compares two cells or two experiments, not a cell with an experiment".into())),
    }
}
