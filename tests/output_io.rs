//! Standard output errors: a reader that went away (`flowlab plan M | head -1`)
//! ends the command quietly with exit 0, as `cat` does; a full disk is exit 3 naming
//! standard output. Never a panic, for every subcommand that prints to stdout.
use crate::common::*;
use std::process::Stdio;

/// Every subcommand that writes to standard output (and clap's help and version), with its
/// arguments, over the stored results of a probe run in `res`.
fn printing_commands(res: &std::path::Path) -> Vec<Vec<String>> {
    let r = res.to_str().unwrap().to_string();
    let cell = std::fs::read_dir(res.join("probe"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("a cell file");
    let m = "tests/manifests/probe.toml".to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["plan", &m, "--results", &r, "--no-env"]),
        s(&["plan", &m, "--results", &r, "--no-env", "--emit", "slurm"]),
        s(&["status", &m, "--results", &r, "--no-env"]),
        s(&["plugins"]),
        s(&["plugins", "--json"]),
        s(&["replay", cell.to_str().unwrap()]),
        s(&["--help"]),
        s(&["plan", "--help"]),
        s(&["--version"]),
    ]
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_disk_is_exit_3() {
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", "tests/manifests/probe.toml", "--results", res.path().to_str().unwrap(), "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut failures = Vec::new();
    for args in printing_commands(res.path()) {
        let name = args.join(" ");
        // a pipe whose reader is gone before the command starts: every write is EPIPE
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = flowlab().args(&args).env("RUST_BACKTRACE", "1").stdout(Stdio::from(writer)).stderr(Stdio::piped()).output().unwrap();
        let err = stderr(&o);
        if o.status.code() != Some(0) || err.contains("panicked") || err.contains("Broken pipe") {
            failures.push(format!("{name} | closed pipe: exit {:?}\n{err}", o.status.code()));
        }
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = flowlab().args(&args).env("RUST_BACKTRACE", "1").stdout(Stdio::from(full)).stderr(Stdio::piped()).output().unwrap();
        let err = stderr(&o);
        if o.status.code() != Some(3) || err.contains("panicked") || !err.contains("cannot write to standard output: No space left on device") {
            failures.push(format!("{name} > /dev/full: exit {:?}\n{err}", o.status.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Standard error that went away (`flowlab run M 2>&1 | head -1`, a closed terminal) or is
/// full: the command still does its work and exits with its own code, never a panic (101).
#[test]
fn a_closed_or_full_stderr_changes_nothing() {
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    for (args, want) in [
        (vec!["run", "tests/manifests/probe.toml", "--results", r, "--no-env"], 0),
        (vec!["plan", "tests/bad/syntax_error.toml", "--results", r, "--no-env"], 2),
        (vec!["run", "tests/manifests/probe.toml", "--results", r, "--no-env", "--set", "probe.fail_on=3"], 1),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = flowlab().args(&args).env("RUST_BACKTRACE", "1").stderr(Stdio::from(writer)).output().unwrap();
        assert_eq!(o.status.code(), Some(want), "{args:?} with a closed stderr");
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = flowlab().args(&args).env("RUST_BACKTRACE", "1").stderr(Stdio::from(full)).output().unwrap();
        assert_eq!(o.status.code(), Some(want), "{args:?} with stderr on /dev/full");
    }
    // the generator cell and 10 probe cells, then 10 probe cells with fail_on = 3 (2 fail)
    let all = cells(&res.path().join("probe"));
    assert_eq!((all.values().filter(|c| c["status"] == "ok").count(), all.values().filter(|c| c["status"] == "failed").count()), (19, 2), "the runs stored their cells");
}

#[test]
fn plugins_json_is_one_document() {
    let o = run(&["plugins", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let names: Vec<&str> = v.as_array().expect("an array").iter().map(|p| p["name"].as_str().unwrap()).collect();
    for want in ["endhost", "histfit", "lstm", "sampler"] {
        assert!(names.contains(&want), "{names:?}");
    }
}
