//! Crash safety: a run is killed with SIGKILL at 20 seeded random points (some runs resume,
//! some rewrite every cell with --force); after every kill each visible file is whole, and the
//! final rerun equals an uninterrupted run byte for byte (outside `timing`).
use crate::common::*;
use std::path::Path;
use std::time::Duration;

/// Every visible file of the results directory is whole: cell files parse as complete cell
/// records, results.jsonl is complete lines of JSON, results.csv ends with a newline.
fn check_whole(dir: &Path) -> usize {
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    for e in rd {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || p.is_dir() {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        if name == "results.jsonl" {
            assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "{name} truncated");
            for l in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                serde_json::from_slice::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        } else if name == "results.csv" {
            assert!(bytes.ends_with(b"\n"), "{name} truncated");
        } else if name.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name} truncated or corrupt: {e}"));
            assert_eq!(v["schema"], "flowlab.cell/1", "{name}");
            assert_eq!(v["status"], "ok", "{name}");
            assert!(bytes.ends_with(b"}\n"), "{name} truncated");
            n += 1;
        }
    }
    n
}

#[test]
fn kill_9_at_20_seeded_points_then_resume_equals_an_uninterrupted_run() {
    let m = repo().join("tests/manifests/crash.toml");
    let m = m.to_str().unwrap();
    let clean = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let o = run(&["run", m, "--results", clean.path().to_str().unwrap(), "-j", "2", "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reference = cells(&clean.path().join("crash"));
    assert_eq!(reference.len(), 41);
    // kill points are drawn within the uninterrupted run's duration (half of it for resumed runs)
    let full_ms = (t0.elapsed().as_millis() as u64).max(50);

    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let dir = res.path().join("crash");
    let mut rng = Mix::new(0x00C0_FFEE_2026, "crash");
    let mut killed_mid_run = 0;
    for i in 0..20 {
        let force = i % 2 == 1;
        if !force && dir.is_dir() {
            // drop a seeded third of the stored cells: work left for the next run to redo
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect();
            files.sort();
            for f in files {
                if rng.next().is_multiple_of(3) {
                    std::fs::remove_file(f).unwrap();
                }
            }
        }
        let delay = Duration::from_millis(rng.next() % if force { full_ms } else { full_ms / 2 });
        let mut args = vec!["run", m, "--results", r, "-j", "2", "-q", "--no-env"];
        if force {
            args.push("--force");
        }
        let mut child = flowlab().args(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        check_whole(&dir);
    }
    assert!(killed_mid_run >= 10, "only {killed_mid_run} of 20 kills hit a running process");
    let o = run(&["run", m, "--results", r, "-j", "2", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(check_whole(&dir), 41);
    assert_eq!(cells(&dir), reference);
    let synth = |root: &Path| {
        let id = reference.values().find(|c| c["kind"] == "dataset").unwrap()["cell_id"].as_str().unwrap().to_string();
        std::fs::read(root.join("crash/artifacts").join(id).join("synth.txt")).unwrap()
    };
    assert_eq!(synth(res.path()), synth(clean.path()));
    let jsonl = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 41);
}
