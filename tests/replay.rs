//! `flowlab replay <cell.json>`: a stored cell re-runs with its stored settings, seed, dataset
//! and plugin to the same bytes; a tampered record shows its first differing field; another
//! plugin build gives a warning.
use crate::common::*;
use std::path::{Path, PathBuf};

fn out(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o))
}

/// Cell files of an experiment directory whose record matches `pred`.
fn cell_files(dir: &Path, pred: impl Fn(&serde_json::Value) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .filter(|p| pred(&serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()))
        .collect();
    v.sort();
    v
}

fn replay_ok(cell: &Path) -> String {
    let o = run(&["replay", cell.to_str().unwrap()]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{}: {text}", cell.display());
    assert!(text.contains("identical (result bytes outside timing are equal)"), "{text}");
    assert!(!text.contains("warning"), "{text}");
    text
}

#[test]
fn replay_testplug_cells_identical_tampered_different_other_build_warns() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.path().join("probe");
    // a task cell and the dataset (generator) cell
    let task = cell_files(&dir, |c| c["kind"] == "task")[0].clone();
    let generator = cell_files(&dir, |c| c["kind"] == "dataset")[0].clone();
    replay_ok(&task);
    let t = replay_ok(&generator);
    assert!(t.contains("artifacts: 1 files identical"), "{t}");

    // tamper with the stored mean: the replay names the field and exits 1
    let mut rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&task).unwrap()).unwrap();
    let mean = rec["response"]["metrics"]["mean"].as_f64().unwrap();
    rec["response"]["metrics"]["mean"] = serde_json::json!(mean + 1e-12);
    let bad = dir.join("tampered.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let o = run(&["replay", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("DIFFERENT; first difference at /response/metrics/mean"), "{}", out(&o));
    std::fs::remove_file(&bad).unwrap();

    // another build of the plugin (same code, different bytes): still identical, with a warning
    let so = flowlab_abi::host::find_plugin_file("testplug").expect("testplug built");
    let other = tempfile::tempdir().unwrap();
    let copy = other.path().join(so.file_name().unwrap());
    let mut bytes = std::fs::read(&so).unwrap();
    bytes.extend_from_slice(b"another build");
    std::fs::write(&copy, bytes).unwrap();
    let o = run(&["replay", task.to_str().unwrap(), "--plugin", copy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("warning: plugin `testplug` differs from the one that produced the cell"), "{}", out(&o));

    // not a cell record
    let o = run(&["replay", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("not a flowlab cell record"), "{}", out(&o));
}

/// One task cell of each plugin used by a shipped experiment that needs no data directory
/// (sizes reduced with --set where the CI size is heavy for a debug build).
#[test]
fn replay_verifies_a_stored_cell_of_each_plugin() {
    let cases: &[(&str, &[&str])] = &[
        ("quickstart", &[]),
        ("endhost-fig1", &["--set", "validate_fig1.cases=1"]),
        ("lstm-quickstart", &["--set", "network.epochs=2", "--set", "synthetic-tls.settings.traffics=20"]),
        ("sampler-sweep", &["--set", "experiment.replicates=1", "--set", "small.settings.rows=2000", "--set", "large.settings.rows=3000"]),
    ];
    let mut plugins = std::collections::BTreeSet::new();
    for (name, sets) in cases {
        let res = tempfile::tempdir().unwrap();
        let m = format!("experiments/{name}.toml");
        let mut args = vec!["run", m.as_str(), "--results", res.path().to_str().unwrap(), "-q", "--no-report"];
        args.extend_from_slice(sets);
        let o = run(&args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let dir = res.path().join(name);
        let tasks = cell_files(&dir, |c| c["kind"] == "task" && c["status"] == "ok");
        assert!(!tasks.is_empty(), "{name}: no task cell");
        let rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&tasks[0]).unwrap()).unwrap();
        replay_ok(&tasks[0]);
        plugins.insert(rec["plugin"].as_str().unwrap().to_string());
    }
    assert_eq!(plugins.into_iter().collect::<Vec<_>>(), ["endhost", "histfit", "lstm", "sampler"]);
}

#[test]
fn replay_takes_one_cell_by_file_or_id_and_refuses_the_experiments_list() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.path().join("probe");
    let task = cell_files(&dir, |c| c["kind"] == "task")[0].clone();
    let id = task.file_stem().unwrap().to_str().unwrap().to_string();
    // by the 12 characters `flowlab ls` shows, under --results
    let o = run(&["replay", "--results", r, &id[..12]]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains(&format!("replay {id}: identical")), "{}", out(&o));
    // results.jsonl holds every cell: refused (it used to replay its first line and say identical)
    for (arg, says) in [(dir.join("results.jsonl"), "holds every cell of an experiment"), (dir.clone(), "is a directory")] {
        let o = run(&["replay", arg.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));
        assert!(out(&o).contains(says) && out(&o).contains("give one cell"), "{}", out(&o));
    }
    // a cell file followed by more JSON is not a cell record
    let two = res.path().join("two.json");
    let text = std::fs::read_to_string(&task).unwrap();
    std::fs::write(&two, format!("{text}\n{text}")).unwrap();
    let o = run(&["replay", two.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("not a flowlab cell record: more than one JSON value"), "{}", out(&o));
}
