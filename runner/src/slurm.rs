//! The Slurm backend (docs/design.md §7 Slurm): a job array whose tasks each run a
//! *shard* of the plan's cells (`flowlab run-shard <manifest> --shard k/N`), because an array
//! task costs ~0.25–0.5 s of fixed overhead. Every task writes the same atomic per-cell files
//! into the shared results directory as a local run; dataset cells are generated once under
//! a file lock by whichever shard gets there first.
//!
//! Sharding is by position among the plan's task cells (`i mod N`), so it does not depend on
//! what is stored; a resubmission lists only the array indices whose shard still holds a
//! missing, stale or failed cell, and each shard skips its finished cells.
use crate::plan::{CellKind, Plan};
use crate::store::{Store, Stored};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `#SBATCH` settings of the array job.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// Number of shards (array tasks); capped at the number of task cells and at 1001.
    pub shards: usize,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (Slurm time format, e.g. `30:00`).
    pub time: Option<String>,
    /// `--cpus-per-task` (also the shard's `-j`).
    pub cpus_per_task: Option<usize>,
    /// `--mem` (e.g. `4G`).
    pub mem: Option<String>,
    /// Array parallelism (`--array=…%P`).
    pub array_parallelism: Option<usize>,
    /// Extra `#SBATCH` lines, written as given (with or without the `#SBATCH` prefix).
    pub sbatch_lines: Vec<String>,
}

/// How the shard tasks call flowlab (everything absolute: tasks run elsewhere).
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The flowlab executable.
    pub exe: PathBuf,
    /// The manifest.
    pub manifest: PathBuf,
    /// The results root.
    pub results: PathBuf,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--set` flags.
    pub sets: Vec<String>,
    /// `--sweep` flags (empty from [`Invocation::new`]; the caller sets them).
    pub sweeps: Vec<String>,
    /// `--no-env`.
    pub no_env: bool,
}

/// Quotes a string for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c)) { s.to_string() } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

fn abs(p: &Path) -> PathBuf {
    if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf()) }
}

impl Invocation {
    /// Absolute paths from the command line's (possibly relative) ones.
    pub fn new(manifest: &Path, results: &Path, data_dir: Option<&Path>, sets: &[String], no_env: bool) -> std::io::Result<Invocation> {
        let exe = std::env::current_exe()?;
        std::fs::create_dir_all(results)?;
        Ok(Invocation {
            exe: exe.canonicalize().unwrap_or(exe),
            manifest: manifest.canonicalize()?,
            results: results.canonicalize()?,
            data_dir: data_dir.map(|d| d.canonicalize().unwrap_or_else(|_| abs(d))),
            sets: sets.to_vec(),
            sweeps: Vec::new(),
            no_env,
        })
    }
}

/// Number of task cells of a plan.
pub fn task_cells(plan: &Plan) -> usize {
    plan.cells.iter().filter(|c| c.kind == CellKind::Task).count()
}

/// The effective number of shards: at least 1, at most the task cells and Slurm's default
/// `MaxArraySize` − 1.
pub fn shard_count(plan: &Plan, requested: usize) -> usize {
    requested.max(1).min(task_cells(plan).max(1)).min(1000)
}

/// Shards that still hold a cell to run (missing, stale or failed). Dataset cells run in
/// every shard, so an unfinished dataset cell makes shard 0 pending when no other is.
pub fn pending_shards(plan: &Plan, store: &Store, n: usize) -> Vec<usize> {
    let mut pending = std::collections::BTreeSet::new();
    let mut dataset_pending = false;
    let listing = store.listing();
    // position among the task cells, counted as we go (CellFilter::Shard's rule, in one pass)
    let mut task_index = 0usize;
    for c in &plan.cells {
        let ti = task_index;
        if c.kind == CellKind::Task {
            task_index += 1;
        }
        if store.status_listed(&listing, &c.id, &plan.plugin(&c.plugin).sha256) == Stored::Cached {
            continue;
        }
        if c.kind == CellKind::Dataset {
            dataset_pending = true;
            continue;
        }
        pending.insert(ti % n);
    }
    if dataset_pending && pending.is_empty() {
        pending.insert(0);
    }
    pending.into_iter().collect()
}

/// `0-3,5,7-9`.
pub fn array_spec(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    parts.join(",")
}

/// Directory for the script and the task logs: `<results>/<experiment>/slurm`.
pub fn slurm_dir(store: &Store) -> PathBuf {
    store.root.join("slurm")
}

/// The sbatch array script running `indices` of `n` shards.
pub fn script(plan: &Plan, inv: &Invocation, opts: &SlurmOptions, n: usize, indices: &[usize]) -> String {
    let name = &plan.manifest.experiment.name;
    let logdir = inv.results.join(name).join("slurm");
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!("# flowlab: experiment `{name}`, {} cells in {n} shards ({} to run now)\n", plan.cells.len(), indices.len()));
    s.push_str("# written by `flowlab plan --emit slurm`; submit with `sbatch <this file>`, check with `flowlab status`\n");
    s.push_str(&format!("#SBATCH --job-name=flowlab-{name}\n"));
    let par = opts.array_parallelism.map(|p| format!("%{p}")).unwrap_or_default();
    s.push_str(&format!("#SBATCH --array={}{par}\n", array_spec(indices)));
    s.push_str(&format!("#SBATCH --output={}/%A_%a.log\n", logdir.display()));
    if let Some(p) = &opts.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &opts.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(c) = opts.cpus_per_task {
        s.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
    }
    if let Some(m) = &opts.mem {
        s.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    for l in &opts.sbatch_lines {
        let l = l.trim();
        if l.starts_with("#SBATCH") {
            s.push_str(&format!("{l}\n"));
        } else {
            s.push_str(&format!("#SBATCH {l}\n"));
        }
    }
    s.push_str("set -euo pipefail\n");
    let mut cmd = vec![sh_quote(&inv.exe.to_string_lossy()), "run-shard".into(), sh_quote(&inv.manifest.to_string_lossy())];
    cmd.push("--shard".into());
    cmd.push(format!("\"$SLURM_ARRAY_TASK_ID/{n}\""));
    cmd.push("--results".into());
    cmd.push(sh_quote(&inv.results.to_string_lossy()));
    if let Some(d) = &inv.data_dir {
        cmd.push("--data-dir".into());
        cmd.push(sh_quote(&d.to_string_lossy()));
    }
    for set in &inv.sets {
        cmd.push("--set".into());
        cmd.push(sh_quote(set));
    }
    // the shards must plan the same cells as this command
    for sweep in &inv.sweeps {
        cmd.push("--sweep".into());
        cmd.push(sh_quote(sweep));
    }
    if inv.no_env {
        cmd.push("--no-env".into());
    }
    if let Some(c) = opts.cpus_per_task {
        cmd.push("-j".into());
        cmd.push(c.to_string());
    }
    s.push_str(&format!("exec {}\n", cmd.join(" ")));
    s
}

/// Writes the script (atomically) and returns its path.
pub fn write_script(path: &Path, text: &str) -> Result<(), String> {
    crate::store::atomic_write(path, text.as_bytes()).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    Ok(())
}

/// `sbatch --parsable <script>` → job id.
pub fn submit(script: &Path) -> Result<String, String> {
    let o = Command::new("sbatch").arg("--parsable").arg(script).output().map_err(|e| format!("cannot run sbatch: {e} (is Slurm installed and on PATH?)"))?;
    if !o.status.success() {
        return Err(format!("sbatch failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr).trim()));
    }
    let out = String::from_utf8_lossy(&o.stdout);
    let id = out.trim().split(';').next().unwrap_or("").trim().to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("sbatch printed no job id: {out:?}"));
    }
    Ok(id)
}

/// Polls `squeue -h -j ID` until the job has left the queue (faster than `sbatch --wait` for
/// short jobs: docs/design.md §7). Errors after `timeout`.
pub fn wait(job: &str, timeout: Option<Duration>, poll: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    let mut failures = 0;
    loop {
        let o = Command::new("squeue").args(["-h", "-j", job, "-o", "%i"]).output().map_err(|e| format!("cannot run squeue: {e}"))?;
        if o.status.success() {
            failures = 0;
            if String::from_utf8_lossy(&o.stdout).trim().is_empty() {
                return Ok(());
            }
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            // a finished job is purged from the controller after MinJobAge
            if err.contains("Invalid job id") {
                return Ok(());
            }
            failures += 1;
            if failures > 20 {
                return Err(format!("squeue keeps failing: {}", err.trim()));
            }
        }
        if timeout.is_some_and(|t| t0.elapsed() > t) {
            let _ = Command::new("scancel").arg(job).status();
            return Err(format!("job {job} did not finish within {} s; cancelled it (finished cells are stored: rerun to resume)", timeout.unwrap_or_default().as_secs()));
        }
        std::thread::sleep(poll);
    }
}

/// Counts of stored cells relative to the plan.
#[derive(Debug, Clone, Default)]
pub struct StatusCounts {
    /// Finished with the current plugin binaries.
    pub done: usize,
    /// Stored as failed.
    pub failed: usize,
    /// Finished with another plugin binary (rerun next time).
    pub stale: usize,
    /// Not stored.
    pub missing: usize,
    /// `(cell id, task, message)` of failed cells.
    pub failures: Vec<(String, String, String)>,
}

/// Status of every cell of the plan.
pub fn status(plan: &Plan, store: &Store) -> StatusCounts {
    let mut s = StatusCounts::default();
    let listing = store.listing();
    for c in &plan.cells {
        match store.status_listed(&listing, &c.id, &plan.plugin(&c.plugin).sha256) {
            Stored::Cached => s.done += 1,
            Stored::Stale => s.stale += 1,
            Stored::Missing => s.missing += 1,
            Stored::Failed => {
                s.failed += 1;
                let msg = store.read(&c.id).ok().flatten().and_then(|v| v.error.map(|e| e.message)).unwrap_or_default();
                s.failures.push((c.id.clone(), c.task.to_string(), msg));
            }
        }
    }
    s
}
