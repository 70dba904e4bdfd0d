//! Same manifest and seed ⇒ byte-identical results for any `-j`; reruns reuse finished cells;
//! a changed setting reruns only the cells it touches.
use crate::common::*;

#[test]
fn results_are_identical_for_j1_and_j2() {
    let m = repo().join("tests/manifests/probe.toml");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, j) in [(&a, "1"), (&b, "2")] {
        let o = run(&["run", m.to_str().unwrap(), "--results", dir.path().to_str().unwrap(), "-j", j, "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let ca = cells(&a.path().join("probe"));
    let cb = cells(&b.path().join("probe"));
    assert_eq!(ca.len(), 11, "1 dataset cell + 5 values × 2 replicates");
    assert_eq!(ca, cb);
    // and the raw bytes outside `timing` agree too
    for id in ca.keys() {
        let ra = std::fs::read_to_string(a.path().join("probe").join(format!("{id}.json"))).unwrap();
        let rb = std::fs::read_to_string(b.path().join("probe").join(format!("{id}.json"))).unwrap();
        let cut = |s: &str| s[..s.find("\"timing\"").unwrap()].to_string();
        assert_eq!(cut(&ra), cut(&rb), "cell {id}");
    }
    // replicates get different seeds, hence different draws
    let means: std::collections::BTreeSet<String> = ca.values().filter(|c| c["kind"] == "task").map(|c| c["response"]["metrics"]["mean"].to_string()).collect();
    assert_eq!(means.len(), 10);
}

#[test]
fn rerun_skips_and_a_change_reruns_only_what_it_touches() {
    let m = repo().join("tests/manifests/two.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--no-report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("5 cells: 5 ran ok, 0 cached"), "{}", stderr(&o));
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--no-report"]);
    assert!(stderr(&o).contains("5 cells: 0 ran ok, 5 cached"), "{}", stderr(&o));
    let plan = run(&["plan", m.to_str().unwrap(), "--results", r]);
    assert!(String::from_utf8_lossy(&plan.stdout).contains("5 cells: 5 cached"));
    // change task b only: its 2 cells rerun, a's 3 stay
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--no-report", "--set", "b.draws=7"]);
    assert!(stderr(&o).contains("5 cells: 2 ran ok, 3 cached"), "{}", stderr(&o));
    let plan = run(&["plan", m.to_str().unwrap(), "--results", r, "--set", "a.draws=5"]);
    assert!(String::from_utf8_lossy(&plan.stdout).contains("5 cells: 2 cached, 3 missing"), "{}", String::from_utf8_lossy(&plan.stdout));
    // collected files cover the plan's cells
    let jsonl = std::fs::read_to_string(res.path().join("two/results.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 5);
    let csv = std::fs::read_to_string(res.path().join("two/results.csv")).unwrap();
    assert!(csv.starts_with("cell_id,task,plugin,capability,dataset,replicate,status,iterations,evaluations,termination,wall_s,a.value,b.value,"), "{csv}");
    assert_eq!(csv.lines().count(), 6);
}
