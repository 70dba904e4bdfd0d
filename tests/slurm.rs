//! The Slurm backend's plumbing, hermetically: `tests/fake-slurm/` holds stand-ins for
//! `sbatch`/`squeue` that run the array tasks on this machine. (The real single-node Slurm
//! cluster is exercised by `.ci/run`.)
use crate::common::*;
use std::path::Path;

fn with_fake_slurm(cmd: &mut std::process::Command, log: &Path) {
    let path = format!("{}:{}", repo().join("tests/fake-slurm").display(), std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path).env("FAKE_SLURM_LOG", log);
}

#[test]
fn plan_emit_slurm_writes_an_array_script_with_the_options() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let o = run(&[
        "plan",
        m.to_str().unwrap(),
        "--results",
        res.path().to_str().unwrap(),
        "--emit",
        "slurm",
        "--shards",
        "3",
        "--partition",
        "debug",
        "--time",
        "10:00",
        "--cpus-per-task",
        "2",
        "--mem",
        "1G",
        "--array-parallelism",
        "2",
        "--sbatch-line",
        "--account=proj",
        "--set",
        "probe.draws=4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    for line in
        ["#SBATCH --array=0-2%2", "#SBATCH --partition=debug", "#SBATCH --time=10:00", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=1G", "#SBATCH --account=proj", "#SBATCH --job-name=flowlab-probe"]
    {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(text.contains("run-shard") && text.contains("--shard \"$SLURM_ARRAY_TASK_ID/3\"") && text.contains("--set probe.draws=4"), "{text}");
    assert!(stderr(&o).contains("11 cells in 3 shards"), "{}", stderr(&o));
}

#[test]
fn run_shard_rejects_bad_shard_specs() {
    let m = repo().join("tests/manifests/probe.toml");
    for bad in ["3/3", "x/2", "1", "0/0"] {
        let o = run(&["run-shard", m.to_str().unwrap(), "--shard", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: a command-line error: {}", stderr(&o));
        assert!(stderr(&o).contains("expected K/N"), "{}", stderr(&o));
    }
    // so is --force with the Slurm backend (refused before anything is submitted)
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "--backend", "slurm", "--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force is not supported with --backend slurm"), "{}", stderr(&o));
}

#[test]
fn slurm_backend_equals_local_run_and_resubmits_only_unfinished_shards() {
    let m = repo().join("tests/manifests/probe.toml");
    let local = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", local.path().to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reference = cells(&local.path().join("probe"));

    let res = tempfile::tempdir().unwrap();
    let log = res.path().join("submitted.log");
    let r = res.path().join("results");
    let mut c = flowlab();
    c.args(["run", m.to_str().unwrap(), "--results", r.to_str().unwrap(), "--backend", "slurm", "--shards", "4"]);
    with_fake_slurm(&mut c, &log);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("11 cells: 11 done, 0 failed, 0 stale, 0 missing"), "{}", String::from_utf8_lossy(&o.stdout));
    let dir = r.join("probe");
    assert_eq!(cells(&dir), reference, "Slurm shards and the local run store the same bytes");
    assert!(dir.join("results.jsonl").is_file());
    // 4 shards ran concurrently; the generated dataset (made under a lock) has the local bytes
    let ds = reference.values().find(|c| c["kind"] == "dataset").unwrap()["cell_id"].as_str().unwrap().to_string();
    let art = |root: &Path| std::fs::read(root.join("probe/artifacts").join(&ds).join("synth.txt")).unwrap();
    assert_eq!(art(&r), art(local.path()));

    // status: all done (exit 0)
    let o = run(&["status", m.to_str().unwrap(), "--results", r.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));

    // lose two cells and fail one: only their shards are resubmitted
    let task_ids: Vec<String> = {
        let o = run(&["plan", m.to_str().unwrap(), "--results", r.to_str().unwrap()]);
        String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.contains(" probe ")).map(|l| l.split_whitespace().next().unwrap().to_string()).collect()
    };
    assert_eq!(task_ids.len(), 10);
    // task index i is in shard i % 4: remove tasks 1 and 5 (shard 1), fail task 2 (shard 2)
    std::fs::remove_file(dir.join(format!("{}.json", task_ids[1]))).unwrap();
    std::fs::remove_file(dir.join(format!("{}.json", task_ids[5]))).unwrap();
    let p2 = dir.join(format!("{}.json", task_ids[2]));
    let mut rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&p2).unwrap()).unwrap();
    rec["status"] = "failed".into();
    std::fs::write(&p2, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let o = run(&["status", m.to_str().unwrap(), "--results", r.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("11 cells: 8 done, 1 failed, 0 stale, 2 missing"), "{}", String::from_utf8_lossy(&o.stdout));
    let before = std::fs::metadata(dir.join(format!("{}.json", task_ids[0]))).unwrap().modified().unwrap();
    let mut c = flowlab();
    c.args(["run", m.to_str().unwrap(), "--results", r.to_str().unwrap(), "--backend", "slurm", "--shards", "4"]);
    with_fake_slurm(&mut c, &log);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let submitted = std::fs::read_to_string(&log).unwrap();
    assert_eq!(submitted.lines().collect::<Vec<_>>(), ["0-3", "1-2"], "second submission: only shards 1 and 2");
    assert_eq!(std::fs::metadata(dir.join(format!("{}.json", task_ids[0]))).unwrap().modified().unwrap(), before, "finished cells are not rerun");
    assert_eq!(cells(&dir), reference);
    // nothing left: no submission at all
    let mut c = flowlab();
    c.args(["run", m.to_str().unwrap(), "--results", r.to_str().unwrap(), "--backend", "slurm"]);
    with_fake_slurm(&mut c, &log);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing to submit"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}

#[test]
fn run_cell_runs_only_the_named_cells() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let o = run(&["plan", m.to_str().unwrap(), "--results", r]);
    let ids: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.contains(" probe ")).map(|l| l.split_whitespace().next().unwrap().to_string()).collect();
    let o = run(&["run-cell", m.to_str().unwrap(), "--results", r, &ids[3][..10], &ids[7]]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = cells(&res.path().join("probe"));
    // the two cells plus the generated dataset
    assert_eq!(stored.len(), 3);
    assert!(stored.contains_key(&ids[3]) && stored.contains_key(&ids[7]));
    let o = run(&["run-cell", m.to_str().unwrap(), "--results", r, "ffffffffff"]);
    assert_eq!(o.status.code(), Some(2), "a command-line error");
    assert!(stderr(&o).contains("no cell `ffffffffff`"), "{}", stderr(&o));
}
