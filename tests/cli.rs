//! Command-line surface: `--sweep` axes (README: Commands), shell completions, man pages.
use crate::common::*;

fn probe() -> String {
    repo().join("tests/manifests/probe.toml").to_str().unwrap().to_string()
}

/// `flowlab plan probe.toml ARGS…` against an empty results root: (exit code, stdout, stderr).
fn plan(args: &[&str]) -> (i32, String, String) {
    let res = tempfile::tempdir().unwrap();
    let m = probe();
    let mut all = vec!["plan", m.as_str(), "--no-env", "--results", res.path().to_str().unwrap()];
    all.extend_from_slice(args);
    let o = run(&all);
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), stderr(&o))
}

/// The cell lines of a plan listing (without header and summary).
fn cell_lines(out: &str) -> Vec<&str> {
    let lines: Vec<&str> = out.lines().collect();
    lines[1..lines.len() - 1].to_vec()
}

#[test]
fn sweep_flag_replaces_the_axis_and_is_recorded() {
    let (code, out, err) = plan(&["--sweep", "probe.value=1,2"]);
    assert_eq!(code, 0, "{err}");
    // 2 points x 2 replicates + the generated dataset's cell
    assert_eq!(cell_lines(&out).len(), 5, "{out}");
    assert!(out.contains(r#"{"probe.value":1}"#) && out.contains(r#"{"probe.value":2}"#) && !out.contains(r#"{"probe.value":3}"#), "{out}");

    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", &probe(), "--no-env", "-q", "--no-report", "--results", res.path().to_str().unwrap(), "--sweep", "probe.value=1,2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = cells(&res.path().join("probe"));
    let tasks: Vec<_> = all.values().filter(|c| c["task"] == "probe").collect();
    assert_eq!(tasks.len(), 4);
    for c in tasks {
        assert_eq!(c["provenance"]["overrides"]["sweep.probe.value"], "--sweep probe.value=1,2");
    }
}

#[test]
fn sweep_flag_equal_to_the_file_axis_changes_nothing() {
    let (_, without, _) = plan(&[]);
    let (code, with, err) = plan(&["--sweep", "probe.value=1,2,3,4,5"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(with, without);
    // the same axis as a range (STOP excluded)
    let (_, ranged, _) = plan(&["--sweep", "probe.value=1:6"]);
    assert_eq!(ranged, without);
}

#[test]
fn sweep_flag_adds_axes_and_takes_ranges() {
    let (code, out, err) = plan(&["--sweep", "probe.draws=5,10"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cell_lines(&out).len(), 5 * 2 * 2 + 1, "{out}");
    assert!(out.contains(r#""probe.draws":10"#), "{out}");
    // two flags: both axes replaced or added
    let (code, out, err) = plan(&["--sweep", "probe.value=0:10:3", "--sweep", "probe.draws=5:7"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cell_lines(&out).len(), 4 * 2 * 2 + 1, "{out}");
    for v in [0, 3, 6, 9] {
        assert!(out.contains(&format!(r#""probe.value":{v}"#)), "{out}");
    }
    assert!(!out.contains(r#""probe.draws":7"#), "{out}");
}

#[test]
fn bad_sweep_flags_are_config_errors_naming_the_flag() {
    for (arg, says) in [
        ("nope.value=1,2", "does not name a task setting"),
        ("probe=1,2", "does not name a task setting"),
        ("probe.value", "expected KEY=V1,V2"),
        ("probe.value=1,,2", "empty value"),
        ("probe.value=", "no values"),
        ("probe.value=5:1", "is empty"),
        ("probe.value=1:9:0", "STEP must not be 0"),
        ("probe.value=0:99999999999", "at most"),
        ("probe.value=[1,2", "unbalanced"),
        ("probe.value=1,nan", "finite"),
        ("probe.value=1,1", "repeats a value"),
        ("probe.value=a,b", "invalid type"),
    ] {
        let (code, _, err) = plan(&["--sweep", arg]);
        assert_eq!(code, 2, "--sweep {arg}: {err}");
        assert!(err.contains(&format!("--sweep {arg}")), "--sweep {arg}: {err}");
        assert!(err.contains(says), "--sweep {arg}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // an override of an axis added by --sweep is refused as for [sweep] in the file
    let (code, _, err) = plan(&["--sweep", "probe.draws=1,2", "--set", "probe.draws=3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--set probe.draws=3") && err.contains("--sweep probe.draws="), "{err}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("run") && text.contains("sweep"), "{shell}: {text}");
    }
    let o = run(&["completions", "nosh"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn man_prints_a_page_or_writes_one_per_command() {
    let o = run(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(page.starts_with(".TH") || page.starts_with(".ie"), "{page}");
    assert!(page.contains("run\\-shard") || page.contains("run-shard"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let o = run(&["man", "--output", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["flowlab.1", "flowlab-run.1", "flowlab-plan.1", "flowlab-completions.1"] {
        let text = std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH"), "{name}");
    }
    // the page of `run` documents --sweep; the hidden `worker` has no page
    assert!(std::fs::read_to_string(out.join("flowlab-run.1")).unwrap().contains("sweep"));
    assert!(!out.join("flowlab-worker.1").exists());
    // a path that cannot be a directory is an error, not a panic
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = run(&["man", "--output", file.to_str().unwrap()]);
    assert!(!o.status.success() && !stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn completions_and_man_end_quietly_on_a_closed_pipe() {
    use std::process::Stdio;
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let mut child = flowlab().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).is_empty(), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn slurm_shards_run_the_sweep_of_the_command() {
    // the job script forwards --sweep: its shard plans (and runs) the cells `status` counts
    let res = tempfile::tempdir().unwrap();
    let script = res.path().join("job.sbatch");
    let (m, r) = (probe(), res.path().to_str().unwrap().to_string());
    let sweep = ["--sweep", "probe.value=7:9"];
    let o = run(&[&["plan", m.as_str(), "--no-env", "--results", r.as_str(), "--emit", "slurm", "--shards", "1", "--script", script.to_str().unwrap()][..], &sweep[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("--sweep probe.value=7:9"), "{text}");
    let o = std::process::Command::new("bash").arg(&script).env("SLURM_ARRAY_TASK_ID", "0").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[&["status", m.as_str(), "--no-env", "--results", r.as_str()][..], &sweep[..]].concat());
    assert!(o.status.success(), "status: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
}

#[test]
fn count_flags_of_zero_and_missing_schemas_are_named() {
    let m = repo().join("tests/manifests/probe.toml");
    for args in [vec!["run", "-j", "0"], vec!["plan", "--emit", "slurm", "--shards", "0"], vec!["run-shard", "--shard", "0/2", "-j", "0"]] {
        let mut a = args.clone();
        a.push(m.to_str().unwrap());
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("must be at least 1"), "{args:?}: {}", stderr(&o));
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&["schema", "--check", "--output", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing") && !stderr(&o).contains("out of date"), "{}", stderr(&o));
}
