//! Live progress of a run, published for `flowlab serve` (docs/serve.md, "Live"): while
//! `flowlab run` works, `<results>/<experiment>/.flowlab-progress.json` holds the counts so
//! far, the cells running now with their own progress (the plugin's `progress(done, total)`
//! callback) and when the run started. The file is replaced atomically (store.rs
//! `atomic_replace`: temp file and rename, no fsync, as progress is advisory) by a flusher
//! thread, at most every [`MIN_INTERVAL`] when something changed, and once more when the run
//! ends: a reader never sees half a file, and a run of a million fast cells does not spend its
//! time writing it.
use crate::store::atomic_replace;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Name of the progress file in an experiment's results directory.
pub const PROGRESS_FILE: &str = ".flowlab-progress.json";

/// Shortest time between two writes of the progress file.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// Schema tag of the progress file.
pub const PROGRESS_SCHEMA: &str = "flowlab.progress/1";

/// How a cell of the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Ran and succeeded.
    Ok,
    /// Ran and failed.
    Failed,
    /// Taken from the store.
    Cached,
    /// Cancelled or not started (Ctrl-C, fail-fast).
    NotRun,
}

#[derive(Default)]
struct State {
    done: usize,
    not_run: usize,
    ok: usize,
    failed: usize,
    cached: usize,
    /// cell id -> (words, started, plugin progress done/total)
    running: BTreeMap<String, (String, SystemTime, u64, u64)>,
    /// Changed since the last write.
    dirty: bool,
    /// The run ended: the flusher writes the final state and stops.
    ended: bool,
}

struct Inner {
    path: PathBuf,
    total: usize,
    started: SystemTime,
    pid: u32,
    state: Mutex<State>,
    wake: std::sync::Condvar,
}

/// The publisher of one run's progress; [`Progress::end`] (or drop) writes the final state.
pub struct Progress {
    inner: std::sync::Arc<Inner>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

fn unix_s(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl Progress {
    /// A publisher writing `<dir>/.flowlab-progress.json` for a run of `total` cells.
    pub fn new(dir: &std::path::Path, total: usize) -> Progress {
        let inner = std::sync::Arc::new(Inner {
            path: dir.join(PROGRESS_FILE),
            total,
            started: SystemTime::now(),
            pid: std::process::id(),
            state: Mutex::new(State::default()),
            wake: std::sync::Condvar::new(),
        });
        inner.write(&inner.lock(), false);
        let bg = inner.clone();
        let flusher = std::thread::Builder::new().name("flowlab-progress".into()).spawn(move || bg.flush_loop()).ok();
        Progress { inner, flusher }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// A cell started.
    pub fn start(&self, id: &str, words: &str) {
        let mut s = self.lock();
        s.running.insert(id.to_string(), (words.to_string(), SystemTime::now(), 0, 0));
        s.dirty = true;
    }

    /// The plugin of a running cell reported `done` of `total` steps.
    pub fn step(&self, id: &str, done: u64, total: u64) {
        let mut s = self.lock();
        if let Some(r) = s.running.get_mut(id) {
            r.2 = done;
            r.3 = total;
            s.dirty = true;
        }
    }

    /// A cell is through: ran (ok or failed), taken from the store, or not run.
    pub fn finish(&self, id: &str, how: Finished) {
        let mut s = self.lock();
        s.dirty = true;
        s.running.remove(id);
        s.done += 1;
        match how {
            Finished::Ok => s.ok += 1,
            Finished::Failed => s.failed += 1,
            Finished::Cached => s.cached += 1,
            Finished::NotRun => s.not_run += 1,
        }
    }

    /// The run ended (normally, cancelled or with a store error): writes the final state.
    pub fn end(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.lock().ended = true;
        self.inner.wake.notify_all();
        match self.flusher.take() {
            Some(h) => {
                let _ = h.join();
            }
            None => self.inner.write(&self.lock(), true),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.flusher.is_some() {
            self.stop();
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the state when it changed, at most every [`MIN_INTERVAL`], until the run ends.
    fn flush_loop(&self) {
        let mut s = self.lock();
        loop {
            if s.ended {
                self.write(&s, true);
                return;
            }
            if s.dirty {
                s.dirty = false;
                self.write(&s, false);
            }
            s = self.wake.wait_timeout(s, MIN_INTERVAL).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// The progress as JSON (what the file holds).
    fn snapshot(&self, s: &State, finished: bool) -> Value {
        let running: Vec<Value> = s.running.iter().map(|(id, (w, t, d, n))| json!({"cell_id": id, "words": w, "started": unix_s(*t), "done": d, "total": n})).collect();
        json!({
            "schema": PROGRESS_SCHEMA,
            "pid": self.pid,
            "started": unix_s(self.started),
            "updated": unix_s(SystemTime::now()),
            "finished": finished,
            "total": self.total,
            "done": s.done,
            "not_run": s.not_run,
            "ok": s.ok,
            "failed": s.failed,
            "cached": s.cached,
            "running": running,
        })
    }

    /// Writes the file. Write errors are ignored: progress is advisory, the results are not.
    fn write(&self, s: &State, finished: bool) {
        let mut b = serde_json::to_vec(&self.snapshot(s, finished)).unwrap_or_default();
        b.push(b'\n');
        let _ = atomic_replace(&self.path, &b);
    }
}

/// Reads a progress file; `None` when absent or unreadable.
pub fn read(dir: &std::path::Path) -> Option<Value> {
    std::fs::read(dir.join(PROGRESS_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok())
}

/// Whether the process that wrote a progress file still runs (Linux: `/proc/<pid>`); a
/// run killed with SIGKILL leaves `finished = false` behind, and this tells it apart.
pub fn writer_alive(p: &Value) -> bool {
    match p["pid"].as_u64() {
        Some(pid) if cfg!(target_os = "linux") => std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Some(_) => true,
        None => false,
    }
}
