//! Subprocess isolation (`isolation = "subprocess"`): a cell that aborts, segfaults, runs out
//! of memory or hangs fails alone (signal and stderr tail recorded) within its hard timeout;
//! in-process cells get a soft timeout through the cancel callback; both modes store the same
//! bytes.
use crate::common::*;

fn by_value(dir: &std::path::Path) -> std::collections::BTreeMap<i64, serde_json::Value> {
    cells(dir).into_values().filter(|c| c["kind"] == "task").map(|c| (c["settings"]["value"].as_i64().unwrap(), c)).collect()
}

#[test]
fn abort_segfault_oom_and_hang_fail_only_their_cells() {
    let m = repo().join("tests/manifests/crashy.toml");
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-j", "2"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("6 cells: 2 ran ok, 0 cached, 4 failed"), "{err}");
    // the hanging cell is killed at its timeout_s = 3; the others have budgets they never
    // reach (no assertion on how long the run took: the machine may be busy)
    let all = by_value(&res.path().join("crashy"));
    assert_eq!(all.len(), 6);
    for v in [1, 6] {
        assert_eq!(all[&v]["status"], "ok", "{}", all[&v]);
        assert_eq!(all[&v]["response"]["metrics"]["value"], v);
    }
    let msg = |v: i64| all[&v]["error"]["message"].as_str().unwrap().to_string();
    assert!(msg(2).contains("signal 6 (SIGABRT)"), "{}", msg(2));
    assert!(msg(3).contains("signal 11 (SIGSEGV)"), "{}", msg(3));
    assert!(msg(4).contains("hard timeout") && msg(4).contains("3 s"), "{}", msg(4));
    assert!(msg(5).contains("SIGABRT") && msg(5).contains("memory_mb"), "{}", msg(5));
    // stderr tails: the plugin's log line and what the crash printed
    let tail = |v: i64| all[&v]["log_tail"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect::<Vec<_>>().join("\n");
    assert!(tail(3).contains("[info] probe value 3") && tail(3).contains("about to segfault"), "{}", tail(3));
    assert!(tail(5).contains("memory allocation of"), "{}", tail(5));
    assert!(tail(4).contains("probe value 4"), "{}", tail(4));
}

#[test]
fn subprocess_and_in_process_store_the_same_bytes() {
    let m = repo().join("tests/manifests/probe.toml");
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", a.path().to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["run", m.to_str().unwrap(), "--results", b.path().to_str().unwrap(), "-q", "--set", "run.isolation=\"subprocess\"", "--set", "run.timeout_s=60"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (ca, cb) = (cells(&a.path().join("probe")), cells(&b.path().join("probe")));
    assert_eq!(ca.len(), 11);
    // provenance records the overrides, which differ; everything else is identical
    let strip = |m: std::collections::BTreeMap<String, serde_json::Value>| -> Vec<serde_json::Value> {
        m.into_values()
            .map(|mut c| {
                c["provenance"].as_object_mut().unwrap().remove("overrides");
                c
            })
            .collect()
    };
    assert_eq!(strip(ca), strip(cb));
}

#[test]
fn per_section_isolation_and_soft_timeout() {
    let m = repo().join("tests/manifests/sections.toml");
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-j", "2"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("7 cells: 4 ran ok, 0 cached, 3 failed"), "{err}");
    let all = cells(&res.path().join("sections"));
    let get = |task: &str, v: i64| all.values().find(|c| c["task"] == task && c["settings"]["value"] == v).unwrap().clone();
    assert!(get("risky", 1)["error"]["message"].as_str().unwrap().contains("SIGABRT"));
    assert!(get("risky-hang", 2)["error"]["message"].as_str().unwrap().contains("hard timeout"));
    assert_eq!(get("risky", 3)["status"], "ok");
    let soft = get("stalls", 1);
    assert!(soft["error"]["message"].as_str().unwrap().contains("soft timeout"), "{soft}");
    assert_eq!(get("stalls", 2)["status"], "ok");
    // the runner keys are not plugin settings (and so not part of the cell id)
    assert!(get("risky", 3)["settings"].get("isolation").is_none());
    assert!(get("stalls", 2)["settings"].get("timeout_s").is_none());
}

#[test]
fn bad_isolation_values_are_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expect) in [
        ("[run]\nisolation = \"container\"\n", "unknown variant `container`"),
        ("[run]\ntimeout_s = -1\n", "`timeout_s` must be a number of seconds in (0, 31536000]"),
        ("[probe]\nplugin = \"testplug\"\nisolation = 3\n", "`isolation` must be \"in-process\" or \"subprocess\""),
        ("[probe]\nplugin = \"testplug\"\ntimeout_s = \"soon\"\n", "`timeout_s` must be a number of seconds, found \"soon\""),
    ] {
        let f = dir.path().join("m.toml");
        std::fs::write(&f, format!("[experiment]\nname = \"x\"\nseed = 1\n{text}")).unwrap();
        let o = run(&["plan", f.to_str().unwrap(), "--no-env"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{expect}: {}", stderr(&o));
        assert!(stderr(&o).contains("m.toml:"), "{}", stderr(&o));
    }
}

#[test]
fn ctrl_c_to_the_process_group_cancels_subprocess_cells_without_failures() {
    let m = repo().join("tests/manifests/slow.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    // setsid: flowlab leads its own process group, as in a terminal where Ctrl-C reaches the
    // runner and its workers alike
    let child = std::process::Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_flowlab"))
        .args(["run", m.to_str().unwrap(), "--results", r, "-j", "2", "--no-env", "--set", "run.isolation=\"subprocess\""])
        .current_dir(repo())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(900));
    let st = std::process::Command::new("kill").args(["-INT", "--", &format!("-{}", child.id())]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let stored = cells(&res.path().join("slow"));
    assert!(stored.len() < 16, "cancelled early");
    assert!(stored.values().all(|c| c["status"] == "ok"), "interrupted workers are not recorded as failures: {err}");
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "-j", "2", "--no-env", "--set", "run.isolation=\"subprocess\""]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(cells(&res.path().join("slow")).len(), 16);
}
