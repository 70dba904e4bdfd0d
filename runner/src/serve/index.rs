//! The cell table of an experiment, kept in memory between requests: one compact [`Row`]
//! per cell file (read with browse.rs `read_cell`, the full record dropped), so that a page
//! of a 100 000-cell experiment is a filter, a sort and a slice of rows, not 100 000 file
//! reads (docs/serve.md, "Scale").
//!
//! The index is refreshed when the directory's modification time changes (a cell file is
//! always placed by a rename, store.rs `AtomicFile`, which changes it); then only files whose
//! size or modification time changed are read again. Refreshes are at most every
//! [`REFRESH`] per experiment, so a running experiment does not make every request rescan.
use crate::browse::{dataset_id, is_cell_file};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Shortest time between two rescans of one experiment directory.
pub const REFRESH: Duration = Duration::from_millis(300);

/// A scalar shown in a table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A number.
    Num(f64),
    /// Anything else, as text.
    Text(Box<str>),
    /// Absent or null.
    None,
}

impl Scalar {
    fn of(v: &Value) -> Scalar {
        match v {
            Value::Null => Scalar::None,
            Value::Number(n) => n.as_f64().map(Scalar::Num).unwrap_or(Scalar::None),
            Value::String(s) => Scalar::Text(s.as_str().into()),
            other => Scalar::Text(other.to_string().into()),
        }
    }
    /// Text for a table cell.
    pub fn show(&self) -> String {
        match self {
            // whole numbers as integers (a replicate, a count), others as `ls` shows them
            Scalar::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
            Scalar::Num(x) => crate::browse::table_num(*x),
            Scalar::Text(s) => s.to_string(),
            Scalar::None => String::new(),
        }
    }
    /// Order: numbers before text before nothing; numbers by value, text by bytes.
    pub fn order(&self, o: &Scalar) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, o) {
            (Scalar::Num(a), Scalar::Num(b)) => a.total_cmp(b),
            (Scalar::Text(a), Scalar::Text(b)) => a.cmp(b),
            (Scalar::None, Scalar::None) => Equal,
            (Scalar::Num(_), _) | (Scalar::Text(_), Scalar::None) => Less,
            _ => Greater,
        }
    }
}

/// One cell of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Cell id.
    pub id: Box<str>,
    /// `task` or `dataset`.
    pub kind: Arc<str>,
    /// Task id.
    pub task: Arc<str>,
    /// Dataset id (`-` for none).
    pub dataset: Arc<str>,
    /// Replicate.
    pub replicate: u64,
    /// `ok` or `failed`.
    pub status: Arc<str>,
    /// Termination reason (`converged`, `max_iterations`, …), or empty.
    pub termination: Arc<str>,
    /// Iterations the plugin reported.
    pub iterations: Scalar,
    /// Wall time, s.
    pub wall_s: Scalar,
    /// The error message of a failed cell.
    pub error: Box<str>,
    /// Sweep point values, by index into [`Index::point_keys`].
    pub point: Vec<(u32, Scalar)>,
    /// Scalar metrics, by index into [`Index::metric_keys`].
    pub metrics: Vec<(u32, Scalar)>,
}

/// The termination of a response as one word (`converged`, `max_iterations: 400`).
pub fn termination(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(o) => o.iter().next().map(|(k, v)| if v.is_null() { k.clone() } else { format!("{k}: {}", crate::browse::stored_value(v)) }).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Interns column names: each row holds a small index, not the name.
#[derive(Debug, Default, Clone)]
pub struct Keys {
    names: Vec<String>,
    at: HashMap<String, u32>,
}

impl Keys {
    fn id(&mut self, k: &str) -> u32 {
        if let Some(&i) = self.at.get(k) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(k.to_string());
        self.at.insert(k.to_string(), i);
        i
    }
    /// Name of column `i`.
    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
    /// Column index of `k`.
    pub fn get(&self, k: &str) -> Option<u32> {
        self.at.get(k).copied()
    }
    /// The names, sorted, with their indices.
    pub fn sorted(&self) -> Vec<(u32, &str)> {
        let mut v: Vec<(u32, &str)> = self.names.iter().enumerate().map(|(i, n)| (i as u32, n.as_str())).collect();
        v.sort_by(|a, b| a.1.cmp(b.1));
        v
    }
}

/// What a record contributes before its keys are interned (built in parallel).
struct Parsed {
    row: Row,
    point: Vec<(String, Scalar)>,
    metrics: Vec<(String, Scalar)>,
}

/// The fields of a cell record (store.rs, schema `flowlab.cell/1`) that the table shows;
/// the rest (settings, provenance, response data) is skipped while parsing, never held: a
/// typed parse is faster than a `Value` and allocates only what is kept.
#[derive(serde::Deserialize)]
struct Rec {
    cell_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    task: String,
    #[serde(default)]
    dataset: Value,
    #[serde(default)]
    replicate: Value,
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Value,
    #[serde(default)]
    point: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    response: Option<Resp>,
    #[serde(default)]
    timing: Option<Timing>,
}

#[derive(serde::Deserialize)]
struct Resp {
    #[serde(default)]
    termination: Value,
    #[serde(default)]
    iterations: Value,
    #[serde(default)]
    metrics: Option<serde_json::Map<String, Value>>,
}

#[derive(serde::Deserialize)]
struct Timing {
    #[serde(default)]
    wall_s: Value,
}

/// Reads one cell file into a row; the error names the file (as browse.rs `read_cell`).
fn parse(path: &Path) -> Result<Parsed, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let r: Rec = serde_json::from_slice(&bytes).map_err(|e| format!("{}: not a flowlab cell record: {e}", path.display()))?;
    let error = match &r.error {
        Value::Null => String::new(),
        Value::Object(o) => o.get("message").map(crate::browse::stored_value).unwrap_or_default(),
        other => crate::browse::stored_value(other),
    };
    let point = r.point.map(|m| m.into_iter().map(|(k, v)| (k, Scalar::of(&v))).collect()).unwrap_or_default();
    let resp = r.response.unwrap_or(Resp { termination: Value::Null, iterations: Value::Null, metrics: None });
    let metrics = resp.metrics.map(|m| m.into_iter().filter(|(_, v)| !v.is_object() && !v.is_array()).map(|(k, v)| (k, Scalar::of(&v))).collect()).unwrap_or_default();
    let row = Row {
        id: r.cell_id.into(),
        kind: r.kind.into(),
        task: r.task.into(),
        dataset: dataset_id(&serde_json::json!({ "dataset": r.dataset })).into(),
        replicate: r.replicate.as_u64().unwrap_or(0),
        status: r.status.into(),
        termination: termination(&resp.termination).into(),
        iterations: Scalar::of(&resp.iterations),
        wall_s: r.timing.map(|t| Scalar::of(&t.wall_s)).unwrap_or(Scalar::None),
        error: error.into(),
        point: Vec::new(),
        metrics: Vec::new(),
    };
    Ok(Parsed { row, point, metrics })
}

/// The first rows of a directory in id order, read without building the whole index: what
/// the first page shows while the index of a large experiment is still being built. Returns
/// the index of those rows and the number of cell files.
pub fn first_rows(dir: &Path, skip: usize, take: usize) -> (Index, usize) {
    let mut names: Vec<String> = std::fs::read_dir(dir).into_iter().flatten().flatten().filter_map(|e| e.file_name().to_str().map(str::to_string)).filter(|n| is_cell_file(n)).collect();
    names.sort_unstable_by(|a, b| a.trim_end_matches(".json").cmp(b.trim_end_matches(".json")));
    let n = names.len();
    let mut ix = Index::default();
    for name in names.iter().skip(skip).take(take) {
        match parse(&dir.join(name)) {
            Ok(p) => {
                let row = ix.intern(p);
                ix.rows.push(row);
            }
            Err(e) => ix.corrupt.push(e),
        }
    }
    (ix, n)
}

/// The table of one experiment directory.
#[derive(Debug, Default, Clone)]
pub struct Index {
    /// Rows, sorted by cell id.
    pub rows: Vec<Row>,
    /// Sweep keys seen.
    pub point_keys: Keys,
    /// Scalar metric names seen.
    pub metric_keys: Keys,
    /// `file: reason` of files that did not parse.
    pub corrupt: Vec<String>,
    /// Newest cell file modification time.
    pub last_run: Option<SystemTime>,
    /// (size, mtime) of every file read, by file name.
    seen: HashMap<String, (u64, SystemTime)>,
    /// Words many rows share, held once.
    words: HashMap<String, Arc<str>>,
    dir_mtime: Option<SystemTime>,
    checked: Option<Instant>,
}

impl Index {
    /// Rows with status `ok`, and the others.
    pub fn counts(&self) -> (usize, usize) {
        let ok = self.rows.iter().filter(|r| &*r.status == "ok").count();
        (ok, self.rows.len() - ok)
    }
    /// Sum of the cells' wall times, s.
    pub fn wall_s(&self) -> f64 {
        // + 0.0: an empty f64 sum is -0.0
        self.rows.iter().filter_map(|r| if let Scalar::Num(x) = r.wall_s { Some(x) } else { None }).sum::<f64>() + 0.0
    }

    /// A parsed record as a row: its column names and its repeated words (task, status,
    /// termination, …) shared with the other rows.
    fn intern(&mut self, mut p: Parsed) -> Row {
        p.row.point = p.point.iter().map(|(k, v)| (self.point_keys.id(k), v.clone())).collect();
        p.row.metrics = p.metrics.iter().map(|(k, v)| (self.metric_keys.id(k), v.clone())).collect();
        let r = &mut p.row;
        for w in [&mut r.kind, &mut r.task, &mut r.dataset, &mut r.status, &mut r.termination] {
            *w = self.words.entry(w.to_string()).or_insert_with(|| Arc::from(&**w)).clone();
        }
        p.row
    }

    /// Brings the index up to date with `dir` (see the module documentation).
    fn refresh(&mut self, dir: &Path) {
        if self.checked.is_some_and(|t| t.elapsed() < REFRESH) {
            return;
        }
        self.checked = Some(Instant::now());
        let mtime = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
        if mtime.is_some() && mtime == self.dir_mtime {
            return;
        }
        self.dir_mtime = mtime;
        let Ok(rd) = std::fs::read_dir(dir) else {
            *self = Index { dir_mtime: mtime, checked: self.checked, ..Default::default() };
            return;
        };
        let mut present: HashMap<String, (u64, SystemTime)> = HashMap::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_cell_file(&name) {
                continue;
            }
            if let Some(m) = e.metadata().ok().filter(|m| m.is_file()) {
                present.insert(name, (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
            }
        }
        let changed: Vec<&String> = present.iter().filter(|(n, sm)| self.seen.get(*n) != Some(sm)).map(|(n, _)| n).collect();
        let removed = self.seen.keys().any(|n| !present.contains_key(n));
        if changed.is_empty() && !removed {
            return;
        }
        let mut by_id: HashMap<Box<str>, Row> = std::mem::take(&mut self.rows).into_iter().map(|r| (r.id.clone(), r)).collect();
        by_id.retain(|id, _| present.contains_key(&format!("{id}.json")));
        self.corrupt.retain(|c| present.keys().any(|n| c.contains(n.as_str())) && !changed.iter().any(|n| c.contains(n.as_str())));
        // parsed in parallel a chunk at a time: what is held besides the rows is one chunk's
        // records, not every record's
        for chunk in changed.chunks(4096) {
            let parsed: Vec<(&String, Result<Parsed, String>)> = chunk.par_iter().map(|n| (*n, parse(&dir.join(n)))).collect();
            for (name, p) in parsed {
                match p {
                    Ok(p) => {
                        let row = self.intern(p);
                        by_id.insert(row.id.clone(), row);
                    }
                    Err(e) => {
                        by_id.remove(name.trim_end_matches(".json"));
                        self.corrupt.push(e);
                    }
                }
            }
        }
        let mut rows: Vec<Row> = by_id.into_values().collect();
        rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        self.rows = rows;
        self.last_run = present.values().map(|(_, t)| *t).max();
        self.seen = present;
    }
}

/// The index of one directory and whether it was ever built.
#[derive(Default)]
struct Slot {
    ix: Mutex<Index>,
    built: std::sync::atomic::AtomicBool,
}

/// The indices of every experiment directory served, built on first use.
#[derive(Default)]
pub struct Cache {
    by_dir: Mutex<HashMap<PathBuf, Arc<Slot>>>,
}

impl Cache {
    fn slot(&self, dir: &Path) -> Arc<Slot> {
        self.by_dir.lock().unwrap_or_else(|e| e.into_inner()).entry(dir.to_path_buf()).or_default().clone()
    }

    /// Whether the index of `dir` was built once (later refreshes read only what changed,
    /// so [`Cache::with`] then answers quickly).
    pub fn ready(&self, dir: &Path) -> bool {
        self.slot(dir).built.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The up-to-date index of `dir`, given to `f` (blocking: call it from `spawn_blocking`).
    pub fn with<T>(&self, dir: &Path, f: impl FnOnce(&Index) -> T) -> T {
        let slot = self.slot(dir);
        let mut ix = slot.ix.lock().unwrap_or_else(|e| e.into_inner());
        ix.refresh(dir);
        slot.built.store(true, std::sync::atomic::Ordering::Release);
        f(&ix)
    }
}

/// A column of the cell table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Col {
    /// Cell id.
    Id,
    /// Task.
    Task,
    /// Dataset.
    Dataset,
    /// Sweep key.
    Point(String),
    /// Replicate.
    Rep,
    /// Status.
    Status,
    /// Termination.
    Termination,
    /// Iterations.
    Iterations,
    /// Wall time.
    Wall,
    /// Metric.
    Metric(String),
}

impl Col {
    /// The `sort=` name of the column.
    pub fn key(&self) -> String {
        match self {
            Col::Id => "id".into(),
            Col::Task => "task".into(),
            Col::Dataset => "dataset".into(),
            Col::Point(k) => format!("p:{k}"),
            Col::Rep => "rep".into(),
            Col::Status => "status".into(),
            Col::Termination => "termination".into(),
            Col::Iterations => "iterations".into(),
            Col::Wall => "wall".into(),
            Col::Metric(k) => format!("m:{k}"),
        }
    }
    /// Parses a `sort=` name.
    pub fn parse(s: &str) -> Option<Col> {
        Some(match s {
            "id" => Col::Id,
            "task" => Col::Task,
            "dataset" => Col::Dataset,
            "rep" => Col::Rep,
            "status" => Col::Status,
            "termination" => Col::Termination,
            "iterations" => Col::Iterations,
            "wall" => Col::Wall,
            _ => {
                if let Some(k) = s.strip_prefix("p:") {
                    Col::Point(k.into())
                } else if let Some(k) = s.strip_prefix("m:") {
                    Col::Metric(k.into())
                } else {
                    return None;
                }
            }
        })
    }
    /// The value of this column in `r`.
    pub fn value(&self, ix: &Index, r: &Row) -> Scalar {
        let find = |v: &Vec<(u32, Scalar)>, keys: &Keys, k: &str| keys.get(k).and_then(|i| v.iter().find(|(j, _)| *j == i)).map(|(_, s)| s.clone()).unwrap_or(Scalar::None);
        let t = |s: &str| Scalar::Text(s.into());
        match self {
            Col::Id => t(&r.id),
            Col::Task => t(&r.task),
            Col::Dataset => t(&r.dataset),
            Col::Point(k) => find(&r.point, &ix.point_keys, k),
            Col::Rep => Scalar::Num(r.replicate as f64),
            Col::Status => t(&r.status),
            Col::Termination => t(&r.termination),
            Col::Iterations => r.iterations.clone(),
            Col::Wall => r.wall_s.clone(),
            Col::Metric(k) => find(&r.metrics, &ix.metric_keys, k),
        }
    }
}

/// The columns of an experiment's table: identity, one per sweep key, status, then the
/// metrics: at most `max_metrics`, those the most cells report (a metric every fit has before
/// one a single diagnostic cell has; ties by name), shown in name order. Every metric of a
/// cell is on its own page.
pub fn columns(ix: &Index, max_metrics: usize) -> Vec<Col> {
    let mut c = vec![Col::Id, Col::Task, Col::Dataset];
    c.extend(ix.point_keys.sorted().into_iter().map(|(_, k)| Col::Point(k.to_string())));
    c.extend([Col::Rep, Col::Status, Col::Termination, Col::Iterations, Col::Wall]);
    c.extend(main_metrics(ix, max_metrics).into_iter().map(Col::Metric));
    c
}

/// The `max` metric names the most rows hold (ties by name), in name order.
fn main_metrics(ix: &Index, max: usize) -> Vec<String> {
    let mut count: HashMap<u32, usize> = HashMap::new();
    for r in &ix.rows {
        for (k, _) in &r.metrics {
            *count.entry(*k).or_default() += 1;
        }
    }
    let mut keys = ix.metric_keys.sorted();
    // stable: equal counts keep name order
    keys.sort_by_key(|(i, _)| std::cmp::Reverse(count.get(i).copied().unwrap_or(0)));
    keys.truncate(max);
    let mut names: Vec<String> = keys.into_iter().map(|(_, k)| k.to_string()).collect();
    names.sort();
    names
}

/// A table query: filter text, status, sort column and direction, page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Query {
    /// Words that must all occur in the cell's id, task, dataset, status, termination or
    /// sweep values (case-insensitive); `key=value` words match a sweep value exactly.
    #[serde(default)]
    pub q: String,
    /// `ok`, `failed` or empty (all).
    #[serde(default)]
    pub status: String,
    /// Sort column ([`Col::key`]).
    #[serde(default)]
    pub sort: String,
    /// `desc` for descending.
    #[serde(default)]
    pub dir: String,
    /// Page, from 1.
    #[serde(default)]
    pub page: Option<usize>,
    /// Rows per page (default 50, at most 500).
    #[serde(default)]
    pub per: Option<usize>,
}

impl Query {
    /// Rows per page.
    pub fn per(&self) -> usize {
        self.per.unwrap_or(50).clamp(1, 500)
    }
}

/// One word of a filter: text to find, or a sweep key (its column index, `None` when no
/// such key) and the value it must show.
enum Word {
    Text(String),
    /// The sweep keys `key` names (its full name, or else every key whose last segment it
    /// is: `rate` is `ga.rate` and `better.rate` when both tasks sweep it), and the value.
    Key(Vec<u32>, String),
}

fn words(ix: &Index, q: &str) -> Vec<Word> {
    q.split_whitespace()
        .map(str::to_lowercase)
        .map(|w| match w.split_once('=') {
            Some((k, v)) => {
                let keys = ix.point_keys.sorted();
                let full: Vec<u32> = keys.iter().filter(|(_, n)| n.to_lowercase() == k).map(|(i, _)| *i).collect();
                let named = if full.is_empty() { keys.iter().filter(|(_, n)| n.to_lowercase().rsplit('.').next() == Some(k)).map(|(i, _)| *i).collect() } else { full };
                Word::Key(named, v.to_string())
            }
            None => Word::Text(w),
        })
        .collect()
}

/// Whether row `r` passes the filter.
fn matches(r: &Row, words: &[Word], status: &str) -> bool {
    if !status.is_empty() && *r.status != *status {
        return false;
    }
    words.iter().all(|w| match w {
        Word::Key(keys, v) => r.point.iter().any(|(j, s)| keys.contains(j) && s.show().to_lowercase() == *v),
        Word::Text(w) => {
            let hay = [&*r.id, &*r.task, &*r.dataset, &*r.status, &*r.termination];
            hay.iter().any(|h| h.to_lowercase().contains(w.as_str())) || r.point.iter().any(|(_, s)| s.show().to_lowercase().contains(w.as_str()))
        }
    })
}

/// The rows of `q` in order: (indices of the page's rows, rows matching in all).
pub fn select(ix: &Index, q: &Query) -> (Vec<usize>, usize) {
    let idx = filtered(ix, q);
    let n = idx.len();
    let per = q.per();
    let page = q.page.unwrap_or(1).max(1);
    let start = page.saturating_sub(1).saturating_mul(per).min(n);
    (idx[start..(start + per).min(n)].to_vec(), n)
}

/// Every row matching `q`'s filter, in `q`'s order.
pub fn filtered(ix: &Index, q: &Query) -> Vec<usize> {
    let words = words(ix, &q.q);
    let mut idx: Vec<usize> = (0..ix.rows.len()).filter(|&i| matches(&ix.rows[i], &words, &q.status)).collect();
    if let Some(col) = Col::parse(&q.sort).filter(|c| *c != Col::Id) {
        let keys: Vec<Scalar> = idx.iter().map(|&i| col.value(ix, &ix.rows[i])).collect();
        let mut order: Vec<usize> = (0..idx.len()).collect();
        // stable: equal values keep the id order
        order.sort_by(|&a, &b| keys[a].order(&keys[b]));
        idx = order.into_iter().map(|o| idx[o]).collect();
    }
    if q.dir == "desc" {
        idx.reverse();
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metric columns are those the most rows hold, over random tables: no metric left out
    /// is held by more rows than one shown.
    #[test]
    fn the_metric_columns_are_the_most_held() {
        // splitmix64 (the runner has no random-number crate)
        let mut state = 4u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut below = |n: u64| (next() % n) as usize;
        let w: Arc<str> = Arc::from("x");
        for case in 0..200 {
            let mut ix = Index::default();
            let names: Vec<String> = (0..1 + below(19)).map(|i| format!("m{i:02}")).collect();
            let share: Vec<usize> = names.iter().map(|_| below(101)).collect();
            for r in 0..1 + below(39) {
                let metrics = names.iter().zip(&share).filter(|(_, s)| below(100) < **s).map(|(n, _)| (ix.metric_keys.id(n), Scalar::Num(1.0))).collect();
                let (kind, task, dataset, status, termination) = (w.clone(), w.clone(), w.clone(), w.clone(), w.clone());
                ix.rows.push(Row {
                    id: format!("{r:020}").into(),
                    kind,
                    task,
                    dataset,
                    replicate: 0,
                    status,
                    termination,
                    iterations: Scalar::None,
                    wall_s: Scalar::None,
                    error: "".into(),
                    point: vec![],
                    metrics,
                });
            }
            let max = 1 + below(9);
            let shown = main_metrics(&ix, max);
            let held = |n: &str| ix.rows.iter().filter(|r| r.metrics.iter().any(|(k, _)| ix.metric_keys.name(*k) == n)).count();
            let all: Vec<&str> = ix.metric_keys.sorted().into_iter().map(|(_, n)| n).collect();
            assert_eq!(shown.len(), max.min(all.len()), "case {case}");
            assert!(shown.windows(2).all(|p| p[0] < p[1]), "case {case}: name order");
            let least_shown = shown.iter().map(|n| held(n)).min().unwrap_or(0);
            for n in all.iter().filter(|n| !shown.iter().any(|s| s == *n)) {
                assert!(held(n) <= least_shown, "case {case}: {n} held by {} rows, left out for one held by {least_shown}", held(n));
            }
        }
    }

    /// `rate=0.5` keeps the cells of every task that sweeps a `rate` (it kept one task's), a
    /// full key only its own, and a key nothing sweeps nothing.
    #[test]
    fn a_short_key_matches_every_task_that_sweeps_it() {
        let w: Arc<str> = Arc::from("x");
        let mut ix = Index::default();
        for (task, rate, fitness) in [("ga", "0.5", "readme"), ("ga", "0.1", "readme"), ("better", "0.5", "windows"), ("better", "0.5", "readme"), ("better", "0.1", "windows")] {
            let point = vec![(ix.point_keys.id(&format!("{task}.rate")), Scalar::Num(rate.parse().unwrap())), (ix.point_keys.id(&format!("{task}.fitness")), Scalar::Text(fitness.into()))];
            ix.rows.push(Row {
                id: format!("{:020}", ix.rows.len()).into(),
                kind: w.clone(),
                task: task.into(),
                dataset: w.clone(),
                replicate: 0,
                status: w.clone(),
                termination: w.clone(),
                iterations: Scalar::None,
                wall_s: Scalar::None,
                error: "".into(),
                point,
                metrics: vec![],
            });
        }
        let rows = |q: &str| filtered(&ix, &Query { q: q.into(), ..Default::default() });
        assert_eq!(rows("rate=0.5"), vec![0, 2, 3]);
        assert_eq!(rows("rate=0.5 fitness=readme"), vec![0, 3]);
        assert_eq!(rows("better.rate=0.5"), vec![2, 3]);
        assert_eq!(rows("RATE=0.1"), vec![1, 4]);
        assert!(rows("seed=1").is_empty());
    }
}
