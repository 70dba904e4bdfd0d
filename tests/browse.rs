//! `flowlab ls`, `show`, `diff` (README: commands) over results of the test plugin's probe
//! manifest: counts, lookup by id prefix / file / experiment, side-by-side diffs and their
//! exit codes, clear exit-2 errors. Nothing here depends on timing.
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs probe.toml into `root` (experiment `probe`) and, with `--set probe.draws=20`, into
/// experiment `probe20` of the same root.
fn two_runs(root: &Path) {
    let m = repo().join("tests/manifests/probe.toml");
    let (m, r) = (m.to_str().unwrap(), root.to_str().unwrap());
    let o = run(&["run", m, "--results", r, "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["run", m, "--results", r, "-q", "--no-env", "--set", "experiment.name=probe20", "--set", "probe.draws=20"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The cell file of `dir` for a task cell with sweep value `v`, replicate 0.
fn task_cell(dir: &Path, v: i64) -> PathBuf {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
            let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            if r["kind"] == "task" && r["replicate"] == 0 && r["point"]["probe.value"] == v {
                found.push(p);
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn id_of(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// A prefix shared by at least two cell ids of `dir` (ids are deterministic from the seed).
fn shared_prefix(dirs: &[PathBuf]) -> String {
    let mut ids: Vec<String> =
        dirs.iter().flat_map(|d| std::fs::read_dir(d).unwrap()).map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".json") && !n.starts_with('.')).collect();
    ids.sort();
    ids.windows(2).find(|w| w[0][..1] == w[1][..1]).map(|w| w[0][..1].to_string()).expect("two ids share a first character")
}

#[test]
fn ls_lists_experiments_with_counts() {
    let res = tempfile::tempdir().unwrap();
    two_runs(res.path());
    let r = res.path().to_str().unwrap();
    let o = run(&["ls", r]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = text(&o);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3, "{t}");
    assert!(lines[0].starts_with("experiment") && lines[0].contains("manifest"), "{t}");
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&cols[..4], &["probe", "11", "11", "0"], "{t}");
    assert!(lines[1].ends_with("tests/manifests/probe.toml"), "{t}");
    assert!(lines[2].starts_with("probe20 "), "{t}");
    // --results and --json: one JSON array
    let o = run(&["ls", "--results", r, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!((a[0]["name"].as_str(), a[0]["cells"].as_u64(), a[0]["ok"].as_u64(), a[0]["failed"].as_u64()), (Some("probe"), Some(11), Some(11), Some(0)));
    // a corrupt cell file is reported, not fatal
    std::fs::write(res.path().join("probe/0000.json"), "not json").unwrap();
    let o = run(&["ls", r]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("corrupt cell file") && stderr(&o).contains("0000.json"), "{}", stderr(&o));
    assert!(text(&o).contains("+1 corrupt"), "{}", text(&o));
    // a missing results root is a bad argument
    let o = run(&["ls", res.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no results directory"), "{}", stderr(&o));
}

#[test]
fn show_by_prefix_file_and_experiment() {
    let res = tempfile::tempdir().unwrap();
    two_runs(res.path());
    let r = res.path().to_str().unwrap();
    let cell = task_cell(&res.path().join("probe"), 3);
    let id = id_of(&cell);
    let by_prefix = run(&["show", &id[..8], "--results", r]);
    assert_eq!(by_prefix.status.code(), Some(0), "{}", stderr(&by_prefix));
    let t = text(&by_prefix);
    for want in [
        format!("cell        {id}"),
        "plugin      testplug / probe".into(),
        "status      ok".into(),
        "  probe.value = 3".into(),
        "  draws = 10".into(),
        "  mean = ".into(),
        "  plugin testplug 0.1.0 sha256 ".into(),
    ] {
        assert!(t.contains(&want), "missing {want:?} in\n{t}");
    }
    // the mean exactly as stored (shortest round-trip)
    let rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&cell).unwrap()).unwrap();
    assert!(t.contains(&format!("  mean = {}", rec["response"]["metrics"]["mean"])), "{t}");
    // the file gives the same lines
    let by_file = run(&["show", cell.to_str().unwrap()]);
    assert_eq!(text(&by_file), t);
    // --json prints the record
    let o = run(&["show", &id, "--results", r, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v, rec);
    // an experiment: counts and a row per cell
    let o = run(&["show", "probe", "--results", r]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = text(&o);
    assert!(t.contains("11 (11 ok, 0 failed)"), "{t}");
    assert!(t.lines().any(|l| l.starts_with(&id) && l.contains("{\"probe.value\":3}") && l.contains("mean=")), "{t}");
    let o = run(&["show", res.path().join("probe20").to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["name"].as_str(), v["cell_list"].as_array().map(Vec::len)), (Some("probe20"), Some(11)));
}

#[test]
fn show_ambiguous_prefix_and_unknown_id_exit_2() {
    let res = tempfile::tempdir().unwrap();
    two_runs(res.path());
    let r = res.path().to_str().unwrap();
    let p = shared_prefix(&[res.path().join("probe"), res.path().join("probe20")]);
    let o = run(&["show", &p, "--results", r]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    assert!(e.contains(&format!("cell id prefix `{p}` is ambiguous")), "{e}");
    assert!(e.lines().filter(|l| l.trim_start().starts_with("probe")).count() >= 2, "candidates listed: {e}");
    assert!(!e.contains("panicked"), "{e}");
    let o = run(&["show", "zzzz", "--results", r]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no cell, cell file or experiment `zzzz`"), "{}", stderr(&o));
    let o = run(&["diff", "zzzz", "probe", "--results", r]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn diff_cells_and_experiments() {
    let res = tempfile::tempdir().unwrap();
    two_runs(res.path());
    let r = res.path().to_str().unwrap();
    let a = task_cell(&res.path().join("probe"), 2);
    let b = task_cell(&res.path().join("probe20"), 2);
    // different settings: exit 1, the differing rows marked, no colour when piped
    let o = run(&["diff", &id_of(&a), b.to_str().unwrap(), "--results", r]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let t = text(&o);
    assert!(t.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["*", "draws", "10", "20"]), "{t}");
    assert!(t.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["value", "2", "2"]), "{t}");
    assert!(t.lines().any(|l| l.starts_with("*") && l.contains("mean")), "{t}");
    assert!(!t.contains('\x1b'), "{t}");
    // a cell with itself: exit 0, nothing marked
    let o = run(&["diff", a.to_str().unwrap(), &id_of(&a), "--results", r]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).lines().any(|l| l.starts_with('*')), "{}", text(&o));
    // experiments: matched by task, dataset, replicate and point
    let o = run(&["diff", "probe", "probe20", "--results", r]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains(&format!("A {} / B {}", id_of(&a), id_of(&b))), "{t}");
    assert!(!t.contains("only in"), "{t}");
    let o = run(&["diff", "probe", "probe", "--results", r]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // a cell against an experiment is a bad argument
    let o = run(&["diff", "probe", a.to_str().unwrap(), "--results", r]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn show_failed_cell_has_error_and_log_tail() {
    let res = tempfile::tempdir().unwrap();
    let m = repo().join("tests/manifests/probe.toml");
    let r = res.path().to_str().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "-q", "--no-env", "--set", "probe.fail_on=2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = run(&["ls", r, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v[0]["ok"].as_u64(), v[0]["failed"].as_u64()), (Some(9), Some(2)));
    let failed = task_cell(&res.path().join("probe"), 2);
    let o = run(&["show", failed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = text(&o);
    assert!(t.contains("status      failed") && t.contains("error       [run] testplug told to fail at value 2"), "{t}");
    assert!(t.contains("log tail:\n  [info] probe value 2"), "{t}");
}
