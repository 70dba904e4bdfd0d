//! Path-valued plugin settings (runner/src/paths.rs, README: paths in settings): `{data}` and
//! manifest-relative paths expand in exactly the marked settings, the plugin gets the absolute
//! path, the content of what they name is part of the cell id, and the ids of cells without
//! path settings do not move.
use crate::common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Task id → cell id, from `flowlab plan`.
fn plan_ids(manifest: &Path, data: &Path, results: &Path) -> BTreeMap<String, String> {
    let o = run(&["plan", manifest.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6 && f[0].len() == 20 && f[0].chars().all(|c| c.is_ascii_hexdigit())).then(|| (f[2].to_string(), f[0].to_string()))
        })
        .collect()
}

const MANIFEST: &str = r#"
[experiment]
name = "paths"
seed = 1

[[dataset]]
id = "h"
path = "{data}/hist.csv"
format = "csv_hist"

[[fit]]
id = "from_dir"
plugin = "histfit"
initial = "{data}/mix"
iterations = 5
plots = false

[[fit]]
id = "from_rel"
plugin = "histfit"
initial = "../data/mix/flows.json"
iterations = 5
plots = false

[[fit]]
id = "inline"
plugin = "histfit"
families = { lognorm = 2 }
iterations = 5
plots = false
"#;

fn write_mix(dir: &Path, w: f64) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("flows.json"), format!("[[{w}, \"lognorm\", [1.0, 0, 20.0]], [{}, \"lognorm\", [0.5, 0, 300.0]]]", 1.0 - w)).unwrap();
}

#[test]
fn path_settings_expand_and_their_content_is_in_the_cell_id() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(repo().join("plugins/histfit/tests/fixtures/small_length.csv"), data.join("hist.csv")).unwrap();
    write_mix(&data.join("mix"), 0.6);
    std::fs::create_dir_all(d.path().join("exp")).unwrap();
    let m = d.path().join("exp/m.toml");
    std::fs::write(&m, MANIFEST).unwrap();
    let res = d.path().join("results");
    let before = plan_ids(&m, &data, &res);
    assert_eq!(before.len(), 3, "{before:?}");
    let o = run(&["run", m.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "--results", res.to_str().unwrap(), "--no-report", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cells = cells(&res.join("paths"));
    let settings = |task: &str| cells.values().find(|c| c["task"] == task).map(|c| c["settings"]["initial"].clone()).unwrap();
    let canon = data.canonicalize().unwrap();
    assert_eq!(settings("from_dir"), serde_json::json!(canon.join("mix").to_str().unwrap()), "{{data}} expanded and sent absolute");
    assert_eq!(settings("from_rel"), serde_json::json!(canon.join("mix/flows.json").to_str().unwrap()), "relative to the manifest's directory");
    // both fits started from the same mixture: the same result
    let model = |task: &str| cells.values().find(|c| c["task"] == task).map(|c| c["response"]["model"].clone()).unwrap();
    assert_eq!(model("from_dir"), model("from_rel"));
    // new bytes in the mixture file: the two tasks that read it get new ids, `inline` keeps its
    write_mix(&data.join("mix"), 0.7);
    let after = plan_ids(&m, &data, &res);
    assert_ne!(after["from_dir"], before["from_dir"]);
    assert_ne!(after["from_rel"], before["from_rel"]);
    assert_eq!(after["inline"], before["inline"]);
    // same bytes elsewhere: the ids follow the content, not the location
    write_mix(&data.join("mix"), 0.6);
    let moved = d.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::copy(data.join("hist.csv"), moved.join("hist.csv")).unwrap();
    write_mix(&moved.join("mix"), 0.6);
    let elsewhere = plan_ids(&m, &moved, &res);
    assert_eq!(elsewhere["from_dir"], before["from_dir"]);
    // a missing file is a plan error at the setting
    std::fs::remove_dir_all(moved.join("mix")).unwrap();
    let o = run(&["plan", m.to_str().unwrap(), "--data-dir", moved.to_str().unwrap(), "--results", res.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("`initial`") && e.contains("no such file or directory") && e.contains("mix") && e.contains("m.toml:14"), "{e}");
}

/// A manifest without path settings plans the same cell ids as before path settings existed:
/// the ids of `tests/manifests/two.toml`, recorded with the previous planner.
#[test]
fn ids_without_path_settings_are_unchanged() {
    let m = repo().join("tests/manifests/two.toml");
    let r = tempfile::tempdir().unwrap();
    let o = run(&["plan", m.to_str().unwrap(), "--results", r.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for id in ["35702e9a205939a2c211", "28bcc56162ef4b195455", "460c448600a20ec4a2c5", "370101e5e7eaae6e57c1", "877f575e420744fbfdd9"] {
        assert!(out.contains(id), "cell id {id} of two.toml moved:\n{out}");
    }
}
