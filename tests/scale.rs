//! Scale hardening (docs/scale-out.md, limits at scale): nothing hangs, memory stays bounded. The plan-size limit is
//! also covered by the bad-manifest corpus (`tests/bad/plan_*.toml`); the memory figures are
//! measurements in BENCHMARKS.md, not assertions.
use crate::common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` (stdout discarded), killing it if it is still running after `limit`: a guard
/// that turns a hang into a failure, not a speed test (the limit is minutes for work of
/// milliseconds).
fn output_or_hang(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn flowlab");
    let t0 = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!("flowlab hung (killed after {limit:?}): {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

const HANG: Duration = Duration::from_secs(120);

/// `flowlab plan` of a manifest whose one dataset is `path`.
fn plan_dataset(dir: &Path, path: &Path) -> Output {
    let m = dir.join("m.toml");
    std::fs::write(&m, format!("[experiment]\nname = \"walk\"\nseed = 1\n[[dataset]]\nid = \"d\"\npath = {:?}\nformat = \"text\"\n[probe]\nplugin = \"testplug\"\n", path.to_str().unwrap())).unwrap();
    let mut c = flowlab();
    c.args(["plan", m.to_str().unwrap(), "--results", dir.join("results").to_str().unwrap(), "--no-env"]);
    output_or_hang(c, HANG)
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo").success();
    assert!(ok, "mkfifo {}", p.display());
}

fn refused(o: &Output, what: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for w in what {
        assert!(err.contains(w), "stderr lacks `{w}`:\n{err}");
    }
}

#[test]
fn dataset_directory_with_a_symlink_loop_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("a.txt"), "x").unwrap();
    // two links back up: followed, the walk doubles at every level
    std::os::unix::fs::symlink("..", d.join("sub/up1")).unwrap();
    std::os::unix::fs::symlink("..", d.join("sub/up2")).unwrap();
    refused(&plan_dataset(t.path(), &d), &["sub/up1", "symbolic link to", "a directory"]);
}

#[test]
fn dataset_fifos_are_refused_without_being_opened() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("a.txt"), "x").unwrap();
    mkfifo(&d.join("pipe"));
    refused(&plan_dataset(t.path(), &d), &["d/pipe: a FIFO, not a regular file"]);
    let p = t.path().join("pipe-as-path");
    mkfifo(&p);
    refused(&plan_dataset(t.path(), &p), &["pipe-as-path: a FIFO, not a regular file or directory"]);
}

#[test]
fn dataset_symlinks_out_of_the_tree_are_refused_and_inside_it_hash_as_copies() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside.txt");
    std::fs::write(&outside, "secret").unwrap();
    let d = t.path().join("d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("a.txt"), "x").unwrap();
    std::os::unix::fs::symlink(&outside, d.join("out")).unwrap();
    refused(&plan_dataset(t.path(), &d), &["d/out: symbolic link to", "outside the dataset directory"]);
    // a link to a file inside the tree is that file: same hash as a copy
    std::fs::remove_file(d.join("out")).unwrap();
    std::os::unix::fs::symlink("a.txt", d.join("b.txt")).unwrap();
    let copy = t.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::write(copy.join("a.txt"), "x").unwrap();
    std::fs::write(copy.join("b.txt"), "x").unwrap();
    assert_eq!(flowlab::plan::content_hash(&d).unwrap(), flowlab::plan::content_hash(&copy).unwrap());
    let o = plan_dataset(t.path(), &d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn dataset_directory_walk_is_bounded_in_depth() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    let mut deep = d.clone();
    for i in 0..=flowlab::plan::TREE_MAX_DEPTH {
        deep = deep.join(format!("l{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("f"), "x").unwrap();
    refused(&plan_dataset(t.path(), &d), &[&format!("nested more than {} directories deep (the walk limit)", flowlab::plan::TREE_MAX_DEPTH)]);
}

#[test]
fn jobs_are_clamped_with_a_warning() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let mut c = flowlab();
    c.args(["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--no-env", "-q", "-j", "100000"]);
    let o = output_or_hang(c, HANG);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: jobs = 100000 clamped to "), "{err}");
    assert!(err.contains("11 ran ok"), "{err}");
    use flowlab::exec::{JOBS_PER_CORE, effective_jobs};
    assert_eq!(
        effective_jobs(100_000, 1000, 2),
        (2 * JOBS_PER_CORE, Some(format!("warning: jobs = 100000 clamped to {} (at most {JOBS_PER_CORE} per core on 2 cores, and at most the 1000 cells to run)", 2 * JOBS_PER_CORE)))
    );
    assert_eq!(effective_jobs(100_000, 3, 2).0, 3);
    assert_eq!(effective_jobs(2, 11, 2), (2, None));
    assert_eq!(effective_jobs(8, 3, 2), (3, None));
    assert_eq!(effective_jobs(4, 0, 2), (1, None));
}

#[test]
fn max_cells_limits_the_plan_without_changing_it() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let o = run(&["plan", m.to_str().unwrap(), "--results", r, "--no-env", "--set", "run.max_cells=10"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("the plan has 11 cells, more than max_cells = 10"), "{}", stderr(&o));
    assert!(stderr(&o).contains("probe.toml:22:1"), "{}", stderr(&o));
    let plain = run(&["plan", m.to_str().unwrap(), "--results", r, "--no-env"]);
    let raised = run(&["plan", m.to_str().unwrap(), "--results", r, "--no-env", "--set", "run.max_cells=11"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert_eq!(plain.stdout, raised.stdout, "max_cells changed the plan");
}

#[test]
fn streamed_results_files_hold_every_record_sorted() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--no-env", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = res.path().join("probe");
    // results.jsonl: every cell file, compact, sorted by cell id (timing included)
    let mut want = String::new();
    let mut ids = Vec::new();
    for id in cells(&dir).keys() {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.json"))).unwrap()).unwrap();
        want.push_str(&serde_json::to_string(&v).unwrap());
        want.push('\n');
        ids.push(id.clone());
    }
    assert_eq!(std::fs::read_to_string(dir.join("results.jsonl")).unwrap(), want);
    // results.csv: a header with the sweep key, then one row per cell in the same order
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("cell_id,task,plugin,capability,dataset,replicate,status,iterations,evaluations,termination,wall_s,probe.value"));
    let rows: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(rows, ids);
    // an unreadable cell file is left out of both, as before
    std::fs::write(dir.join(format!("{}.json", ids[0])), "{ not json").unwrap();
    let o = run(&["report", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--no-env"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(dir.join("results.jsonl")).unwrap().lines().count(), ids.len() - 1);
    assert_eq!(std::fs::read_to_string(dir.join("results.csv")).unwrap().lines().count(), ids.len());
}
