//! Hardening (docs/scale-out.md, guarantees): nothing lost, nothing runs twice,
//! one meaning per input. Each test names the guarantee it backs in docs/scale-out.md.
use crate::common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// A copy of `tests/manifests/guard.toml` and its dataset in a fresh directory.
fn guard_setup(lines: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("guard-data.txt"), lines).unwrap();
    let m = d.path().join("guard.toml");
    std::fs::copy(repo().join("tests/manifests/guard.toml"), &m).unwrap();
    (d, m)
}

#[test]
fn a_dataset_edited_during_the_run_fails_the_cell_and_is_never_cached() {
    let (d, m) = guard_setup("a\nb\n");
    let res = d.path().join("results");
    let o = run(&["run", m.to_str().unwrap(), "--results", res.to_str().unwrap(), "--set", "lines.append=true", "--no-env"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("dataset `text` changed during the run"), "{err}");
    let all = cells(&res.join("guard"));
    assert_eq!(all.len(), 1);
    let c = all.values().next().unwrap();
    assert_eq!(c["status"], "failed");
    // the next run sees the new bytes: a new cell, run, not "cached"
    let o = run(&["run", m.to_str().unwrap(), "--results", res.to_str().unwrap(), "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 ran ok, 0 cached"), "{}", stderr(&o));
    let ok: Vec<_> = cells(&res.join("guard")).into_values().filter(|c| c["status"] == "ok").collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["response"]["metrics"]["lines"], 3, "the cell read the edited file");
    let sha = flowlab_abi::host::file_sha256(&d.path().join("guard-data.txt")).unwrap();
    assert_eq!(ok[0]["dataset"]["sha256"], sha.as_str());
}

#[test]
fn an_ok_record_whose_artifacts_are_gone_is_not_done() {
    let (d, m) = guard_setup("a\n");
    let res = d.path().join("results");
    let r = res.to_str().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--no-env", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = cells(&res.join("guard")).into_keys().next().unwrap();
    let art = res.join("guard/artifacts").join(&id).join("count.txt");
    assert!(art.is_file());
    std::fs::remove_file(&art).unwrap();
    let o = run(&["status", m.to_str().unwrap(), "--results", r, "--no-env"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 done, 0 failed, 0 stale, 1 missing"), "{}", String::from_utf8_lossy(&o.stdout));
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--no-env"]);
    assert!(stderr(&o).contains("1 ran ok, 0 cached"), "{}", stderr(&o));
    assert!(art.is_file());
}

#[test]
fn force_removes_the_record_before_the_artifacts() {
    // --force on the same cell, killed (SIGKILL) while it runs: the record is gone, so the
    // cell counts as missing, never `ok` over an emptied artifact directory; the previous
    // record and artifacts were moved aside, and the next run puts them back
    let (d, m) = guard_setup("a\n");
    let res = d.path().join("results");
    let r = res.to_str().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--no-env", "-q", "--set", "lines.sleep_ms=3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.join("guard");
    let id = cells(&dir).into_keys().next().unwrap();
    let rec = dir.join(format!("{id}.json"));
    let mut child = flowlab().args(["run", m.to_str().unwrap(), "--results", r, "--no-env", "-q", "--force", "--set", "lines.sleep_ms=3000"]).spawn().unwrap();
    let t0 = Instant::now();
    while rec.exists() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!rec.exists(), "the record survived the start of the forced rerun");
    let o = run(&["status", m.to_str().unwrap(), "--results", r, "--no-env", "--set", "lines.sleep_ms=3000"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 missing"), "{}", String::from_utf8_lossy(&o.stdout));
    // the previous result was set aside, not deleted: the next run puts it back, cached
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--no-env", "--set", "lines.sleep_ms=3000"]);
    assert!(stderr(&o).contains("0 ran ok, 1 cached"), "{}", stderr(&o));
}

#[test]
fn replay_keep_refuses_a_non_empty_directory() {
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", "tests/manifests/probe.toml", "--results", res.path().to_str().unwrap(), "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cell = cells(&res.path().join("probe")).into_iter().find(|(_, c)| c["kind"] == "task").unwrap().0;
    let cell = res.path().join("probe").join(format!("{cell}.json"));
    let keep = tempfile::tempdir().unwrap();
    std::fs::write(keep.path().join("precious.txt"), "mine").unwrap();
    let o = run(&["replay", cell.to_str().unwrap(), "--keep", keep.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a command-line error");
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(keep.path().join("precious.txt")).unwrap(), "mine");
    // an empty or new directory is fine
    let fresh = keep.path().join("new");
    let o = run(&["replay", cell.to_str().unwrap(), "--keep", fresh.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn two_runners_on_one_results_directory_run_each_cell_once() {
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let m = repo().join("tests/manifests/slow.toml");
    let spawn = || flowlab().args(["run", m.to_str().unwrap(), "--results", r, "-j", "2", "--no-env"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let count = |o: &std::process::Output, what: &str| -> usize {
        let e = stderr(o);
        let line = e.lines().find(|l| l.starts_with("slow: 16 cells:")).unwrap_or_else(|| panic!("{e}"));
        line.split(", ")
            .chain(line.split(": ").skip(1))
            .find_map(|p| p.trim().strip_suffix(what).and_then(|n| n.trim().rsplit(' ').next()).and_then(|n| n.parse().ok()))
            .unwrap_or_else(|| panic!("{line}"))
    };
    assert!(a.status.success() && b.status.success(), "{}\n{}", stderr(&a), stderr(&b));
    assert_eq!(count(&a, "ran ok") + count(&b, "ran ok"), 16, "{}\n{}", stderr(&a), stderr(&b));
    assert_eq!(count(&a, "cached") + count(&b, "cached"), 16);
}

#[test]
fn sigterm_is_an_interrupt_and_the_rerun_resumes() {
    let m = repo().join("tests/manifests/slow.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let child = flowlab().args(["run", m.to_str().unwrap(), "--results", r, "-j", "1"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // wait (bounded) until the first cell is stored, then send SIGTERM (as Slurm does)
    let t0 = Instant::now();
    while cells_if_any(&res.path().join("slow")) == 0 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(0) {
        return; // the run finished before the signal arrived: nothing to resume
    }
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: finished cells are stored; rerun the same command to resume"), "{err}");
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `--force` moves a cell's previous record and artifacts aside while it reruns: a Ctrl-C
/// during the rerun puts them back, so an interrupted `--force` never turns a stored result
/// into a missing one (the records of cells it did rerun to the end are new, and valid).
#[test]
fn an_interrupted_force_rerun_keeps_every_previous_result() {
    let m = repo().join("tests/manifests/slow.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "-q", "-j", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.path().join("slow");
    let aside = |d: &Path| std::fs::read_dir(d).map(|rd| rd.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".forced")).count()).unwrap_or(0);
    let child = flowlab().args(["run", m.to_str().unwrap(), "--results", r, "-j", "2", "--force"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // wait (bounded) until a cell's previous result is set aside, i.e. a rerun is under way
    let t0 = Instant::now();
    while aside(&dir) == 0 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.code() == Some(130) {
        assert!(err.contains("the others keep their previous results"), "{err}");
    }
    let o = run(&["status", m.to_str().unwrap(), "--results", r]);
    assert!(stderr(&o).contains("16 done, 0 failed, 0 stale, 0 missing") || String::from_utf8_lossy(&o.stdout).contains("16 done, 0 failed, 0 stale, 0 missing"), "{}\n{err}", stderr(&o));
    assert_eq!(aside(&dir) + aside(&dir.join("artifacts")), 0, "set-aside copies left behind");
    // and nothing runs again without --force
    let o = run(&["run", m.to_str().unwrap(), "--results", r]);
    assert!(stderr(&o).contains("0 ran ok, 16 cached"), "{}", stderr(&o));
}

fn cells_if_any(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".json") && !e.file_name().to_string_lossy().starts_with('.')).count()).unwrap_or(0)
}

#[test]
fn overrides_name_something_that_exists_and_parse_alike() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let plan = |sets: &[&str], env: &[(&str, &str)]| {
        let mut c = flowlab();
        c.args(["plan", m.to_str().unwrap(), "--results", r]);
        for s in sets {
            c.args(["--set", s]);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.env("RUST_BACKTRACE", "1").output().unwrap()
    };
    for (sets, env, want) in [
        (vec!["nosuch.key=1"], vec![], "`nosuch` is not a section, task or dataset"),
        (vec!["prob.draws=5"], vec![], "did you mean `probe`?"),
        (vec!["probe.value=99"], vec![], "which [sweep] varies"),
        (vec![], vec![("FLOWLAB_PROB__DRAWS", "5")], "environment variable FLOWLAB_PROB__DRAWS"),
        (vec![], vec![("FLOWLAB_PROBE__VALUE", "99")], "which [sweep] varies"),
        (vec!["experiment.seed=9223372036854775808"], vec![], "must be in 0..=9223372036854775807"),
        (vec![], vec![("FLOWLAB_EXPERIMENT__SEED", "18446744073709551615")], "must be in 0..=9223372036854775807"),
        (vec!["probe.draws=nan"], vec![], "not a finite number"),
        (vec![], vec![("FLOWLAB_PROBE__DRAWS", "inf")], "not a finite number"),
        (vec!["run.timeout_s=1e300"], vec![], "(0, 31536000]"),
        (vec!["run.timeout_s=1e19"], vec![], "(0, 31536000]"),
    ] {
        let o = plan(&sets, &env);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{sets:?} {env:?}: {e}");
        assert!(e.contains(want), "{sets:?} {env:?}: {e}");
        assert!(!e.contains("panicked") && !e.contains("stack backtrace"), "{e}");
    }
    // the environment is TOML like --set: 1e-6 is a number in both, and both reach the cell
    let a = plan(&["run.timeout_s=1e-6"], &[]);
    let b = plan(&[], &[("FLOWLAB_RUN__TIMEOUT_S", "1e-6")]);
    assert!(a.status.success() && b.status.success(), "{}\n{}", stderr(&a), stderr(&b));
    assert_eq!(a.stdout, b.stdout);
    // changing the sweep axis from the command line is the documented way
    let o = plan(&["sweep={\"probe.value\" = [99]}"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("{\"probe.value\":99}"));
}

#[test]
fn the_manifest_path_spelling_does_not_move_results_or_templates() {
    // quickstart.toml from experiments/, ./quickstart.toml, and an absolute path from /tmp
    // all plan against <repo>/results and find <repo>/templates
    let abs = repo().join("experiments/quickstart.toml");
    let outs: Vec<String> =
        [(repo().join("experiments"), "quickstart.toml".to_string()), (repo().join("experiments"), "./quickstart.toml".to_string()), (std::env::temp_dir(), abs.to_string_lossy().into_owned())]
            .into_iter()
            .map(|(cwd, m)| {
                let o = flowlab().current_dir(&cwd).args(["plan", &m, "--no-env"]).output().unwrap();
                assert!(o.status.success(), "{}", stderr(&o));
                String::from_utf8_lossy(&o.stdout).into_owned()
            })
            .collect();
    assert!(outs.windows(2).all(|w| w[0] == w[1]), "{outs:?}");
    // a report renders from inside experiments/ too (templates found next to the project)
    let res = tempfile::tempdir().unwrap();
    let o = flowlab().current_dir(repo().join("experiments")).args(["run", "quickstart.toml", "--results", res.path().to_str().unwrap(), "-q", "--no-env"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn user_errors_print_no_backtrace() {
    let res = tempfile::tempdir().unwrap();
    for args in [
        vec!["plan", "tests/bad/syntax_error.toml"],
        vec!["run", "no/such.toml"],
        vec!["plan", "tests/manifests/probe.toml", "--set", "experiment.seed=-1"],
        vec!["replay", "no/such/cell.json"],
        vec!["run-shard", "tests/manifests/probe.toml", "--shard", "9/2"],
    ] {
        let o = flowlab().args(&args).args(["--results", res.path().to_str().unwrap()].iter().filter(|_| args[0] != "replay")).env("RUST_BACKTRACE", "1").output().unwrap();
        let e = stderr(&o);
        assert!(!o.status.success(), "{args:?}");
        assert!(matches!(o.status.code(), Some(1..=3)), "{args:?}: {:?} {e}", o.status.code());
        assert!(!e.contains("panicked") && !e.contains("stack backtrace") && !e.contains("RUST_BACKTRACE"), "{args:?}: {e}");
    }
}

#[test]
fn a_crashed_subprocess_cell_stores_the_same_bytes_twice() {
    // the panic message of a worker names its thread's OS id; the stored tail must not
    let m = repo().join("tests/manifests/probe.toml");
    let run_once = || {
        let res = tempfile::tempdir().unwrap();
        let o = flowlab()
            .args(["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-q", "--no-env"])
            .args(["--set", "run.isolation=\"subprocess\"", "--set", "probe.panic_on=3", "--set", "probe.abort_on=4"])
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let c = cells(&res.path().join("probe"));
        (res, c)
    };
    let (_a, ca) = run_once();
    let (_b, cb) = run_once();
    let failed: Vec<_> = ca.values().filter(|c| c["status"] == "failed").collect();
    assert_eq!(failed.len(), 4);
    let panicked = failed.iter().find(|c| c["settings"]["value"] == 3).unwrap();
    let tail = panicked["log_tail"].to_string();
    assert!(tail.contains("panicked at") && !tail.contains("stack backtrace"), "{tail}");
    assert!(!tail.contains("') ("), "{tail}");
    assert_eq!(ca, cb);
}

/// A small tmpfs as a full disk; `None` (with a printed "skipped:" line) where mounting is
/// not allowed (not root). CI runs as root, so it runs there.
struct SmallFs(std::path::PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl SmallFs {
    fn mount(kib: u32) -> Option<SmallFs> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fs");
        std::fs::create_dir(&p).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs", p.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_ROOT_TESTS", "cannot mount a tmpfs (needs root) for the full-disk test");
            return None;
        }
        Some(SmallFs(p, d))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let Some(fs) = SmallFs::mount(96) else { return };
    let r = fs.0.to_str().unwrap();
    let o = run(&["run", "tests/manifests/probe.toml", "--results", r, "-q", "--no-env"]);
    assert!(o.status.success(), "the probe results fit: {}", stderr(&o));
    let snapshot = |dir: &Path| -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
        fn walk(d: &Path, m: &mut std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, m)
                } else {
                    m.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        let mut m = Default::default();
        walk(dir, &mut m);
        m
    };
    let before = snapshot(&fs.0.join("probe"));
    // the same experiment with many more, larger cells: the disk fills up part way
    let o = run(&["run", "tests/manifests/probe.toml", "--results", r, "-q", "--no-env", "--set", "probe.draws=2000", "--set", "experiment.replicates=40"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(e.contains("No space left on device"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    let after = snapshot(&fs.0.join("probe"));
    for (p, b) in &before {
        if p.file_name().is_some_and(|n| n == "results.jsonl" || n == "results.csv") {
            continue; // collected again only when the run gets that far
        }
        if p.file_name().is_some_and(|n| n == flowlab::live::PROGRESS_FILE) {
            continue; // the live progress of the run (runner/src/live.rs), rewritten by design
        }
        assert_eq!(after.get(p), Some(b), "{} changed or vanished", p.display());
    }
    let temps: Vec<_> = after.keys().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".tmp-"))).collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

#[test]
fn one_error_per_mistake() {
    let errors = |o: &std::process::Output| stderr(o).lines().filter(|l| l.contains(": error: ")).count();
    // an unknown key in a swept task: once, not once per sweep point
    let o = run(&["plan", "tests/bad/swept_task_unknown_field.toml", "--no-env"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(errors(&o), 1, "{}", stderr(&o));
    // a {data} dataset without a data directory: that error, not also "no dataset to run on"
    let o = run(&["plan", "experiments/fit-benchmark.toml", "--no-env"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(errors(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("no data directory is set") && !stderr(&o).contains("no dataset to run on"), "{}", stderr(&o));
}

/// A record is its cell's only under its own id: one copied over another cell's file (by
/// hand, a bad sync) is not that cell's result. The cell counts as missing and reruns.
#[test]
fn a_record_under_another_cells_name_is_not_that_cells_result() {
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let o = run(&["run", "tests/manifests/probe.toml", "--results", r, "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.path().join("probe");
    let tasks: Vec<String> = cells(&dir).into_iter().filter(|(_, c)| c["kind"] == "task").map(|(id, _)| id).collect();
    std::fs::copy(dir.join(format!("{}.json", tasks[0])), dir.join(format!("{}.json", tasks[1]))).unwrap();
    let o = run(&["status", "tests/manifests/probe.toml", "--results", r, "--no-env"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 missing"), "{}", String::from_utf8_lossy(&o.stdout));
    let o = run(&["run", "tests/manifests/probe.toml", "--results", r, "--no-env"]);
    assert!(stderr(&o).contains("1 ran ok"), "{}", stderr(&o));
    assert_eq!(cells(&dir)[&tasks[1]]["cell_id"], tasks[1].as_str());
}
