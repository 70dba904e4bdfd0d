//! Environment and `--set` overrides layer over the file, and each cell records the layer
//! that set every overridden key.
use crate::common::*;

#[test]
fn overrides_are_applied_and_recorded() {
    let m = repo().join("tests/manifests/two.toml");
    let res = tempfile::tempdir().unwrap();
    let o = flowlab().args(["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--no-report", "--set", "a.draws=9"]).env("FLOWLAB_EXPERIMENT__SEED", "12").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let all = cells(&res.path().join("two"));
    let a: Vec<_> = all.values().filter(|c| c["task"] == "a").collect();
    assert_eq!(a.len(), 3);
    for c in &a {
        assert_eq!(c["settings"]["draws"], 9);
        assert_eq!(c["response"]["iterations"], 9);
        assert_eq!(c["provenance"]["root_seed"], 12);
        assert_eq!(c["provenance"]["overrides"]["tasks.a.draws"], "--set a.draws=9");
        assert_eq!(c["provenance"]["overrides"]["experiment.seed"], "env FLOWLAB_EXPERIMENT__SEED");
    }
    let b: Vec<_> = all.values().filter(|c| c["task"] == "b").collect();
    assert!(b.iter().all(|c| c["provenance"]["overrides"].get("tasks.a.draws").is_none()));
    // a different root seed gives different cells than the file's seed
    let res2 = tempfile::tempdir().unwrap();
    run(&["run", m.to_str().unwrap(), "--results", res2.path().to_str().unwrap(), "--no-report", "--set", "a.draws=9"]);
    let other = cells(&res2.path().join("two"));
    assert!(all.keys().all(|k| !other.contains_key(k)));
}
