//! A failing or panicking cell is recorded and the others finish; an interrupted run resumes
//! without redoing finished cells or corrupting stored ones.
use crate::common::*;
use std::time::Duration;

#[test]
fn a_panicking_cell_fails_alone() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--set", "probe.panic_on=3", "-j", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("11 cells: 9 ran ok, 0 cached, 2 failed"), "{}", stderr(&o));
    let all = cells(&res.path().join("probe"));
    let failed: Vec<_> = all.values().filter(|c| c["status"] == "failed").collect();
    assert_eq!(failed.len(), 2, "value 3 in both replicates");
    for f in failed {
        assert_eq!(f["settings"]["value"], 3);
        assert_eq!(f["error"]["kind"], "panic");
        assert!(f["error"]["message"].as_str().unwrap().contains("told to panic at value 3"));
    }
    // the failed cells rerun (and fail again), the finished ones are reused
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--set", "probe.panic_on=3"]);
    assert!(stderr(&o).contains("0 ran ok, 9 cached, 2 failed"), "{}", stderr(&o));
}

#[test]
fn failures_keep_the_log_tail_and_fail_fast_stops() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--set", "probe.fail_on=2", "-j", "1", "--fail-fast"]);
    assert_eq!(o.status.code(), Some(1));
    let all = cells(&res.path().join("probe"));
    let failed: Vec<_> = all.values().filter(|c| c["status"] == "failed").collect();
    assert!(!failed.is_empty());
    assert_eq!(failed[0]["error"]["kind"], "run");
    assert!(failed[0]["log_tail"][0].as_str().unwrap().contains("probe value 2"), "{}", failed[0]);
    assert!(stderr(&o).contains("not started"), "{}", stderr(&o));
}

#[test]
fn sigkill_then_rerun_resumes_without_recomputing_or_corruption() {
    let m = repo().join("tests/manifests/slow.toml");
    let clean = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", clean.path().to_str().unwrap(), "-j", "2", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reference = cells(&clean.path().join("slow"));
    assert_eq!(reference.len(), 16);

    let res = tempfile::tempdir().unwrap();
    let dir = res.path().join("slow");
    let mut child = flowlab().args(["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-j", "2", "-q"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // every stored file parses (no truncation), none is a leftover temp file masquerading
    let before = cells(&dir);
    assert!(!before.is_empty() && before.len() < 16, "killed mid-run: {} cells stored", before.len());
    let mtimes: Vec<_> = before.keys().map(|id| std::fs::metadata(dir.join(format!("{id}.json"))).unwrap().modified().unwrap()).collect();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-j", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{} cached", before.len())), "{}", stderr(&o));
    for (id, t) in before.keys().zip(mtimes) {
        assert_eq!(std::fs::metadata(dir.join(format!("{id}.json"))).unwrap().modified().unwrap(), t, "cell {id} was rewritten");
    }
    assert_eq!(cells(&dir), reference);
}

#[test]
fn ctrl_c_cancels_cleanly_and_the_rerun_completes() {
    let m = repo().join("tests/manifests/slow.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let child = flowlab().args(["run", m.to_str().unwrap(), "--results", r, "-j", "2"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let st = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: finished cells are stored"), "{err}");
    let stored = cells(&res.path().join("slow"));
    assert!(stored.len() < 16, "cancelled early");
    assert!(stored.values().all(|c| c["status"] == "ok"), "cancelled cells are not recorded as failures");
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "-j", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{} cached", stored.len())), "{}", stderr(&o));
}
