//! The bad-input corpus beyond manifests: data files of every plugin format
//! (`tests/bad_data/<case>/manifest.toml`, first line `# expect: …`) driven through
//! `flowlab run`, and broken plugin libraries (a non-plugin `.so`, a wrong ABI major, bad
//! magic, an entry that refuses the host, NULL pointers in the table, a short table,
//! truncated, garbage and empty files). Every case
//! must exit non-zero with the expected message, never panic or hang, and leave the results
//! already in the same results root byte-for-byte untouched.
use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs with a deadline: a hang is a failure, not a stuck test.
fn run_bounded(mut c: Command, limit: Duration) -> Output {
    c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t0.elapsed() > limit {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!("hung for {limit:?}: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    fn walk(d: &Path, m: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, m);
            } else {
                m.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    walk(root, &mut m);
    m
}

fn untouched(before: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    before
        .iter()
        .filter_map(|(p, b)| match std::fs::read(p) {
            Ok(now) if &now == b => None,
            Ok(_) => Some(format!("{} changed", p.display())),
            Err(e) => Some(format!("{}: {e}", p.display())),
        })
        .collect()
}

/// Existing results: a finished probe run in `root`.
fn existing_results(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let o = run(&["run", "tests/manifests/probe.toml", "--results", root.to_str().unwrap(), "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    snapshot(&root.join("probe"))
}

#[test]
fn bad_data_files_give_clear_errors_and_damage_nothing() {
    let res = tempfile::tempdir().unwrap();
    let before = existing_results(res.path());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/bad_data")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("manifest.toml").is_file()).collect();
    dirs.sort();
    assert!(dirs.len() >= 20, "{} data cases", dirs.len());
    let mut failures = Vec::new();
    let mut formats = std::collections::BTreeSet::new();
    for d in &dirs {
        let m = d.join("manifest.toml");
        let text = std::fs::read_to_string(&m).unwrap();
        let expect = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")).unwrap_or_else(|| panic!("{}: first line must be `# expect: …`", m.display())).to_string();
        formats.extend(text.lines().filter_map(|l| l.strip_prefix("format = ")).map(str::to_string));
        let mut c = flowlab();
        c.args(["run", m.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-q", "--no-report", "--no-env"]);
        let o = run_bounded(c, Duration::from_secs(120));
        let err = stderr(&o);
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let mut problems = Vec::new();
        if o.status.success() || o.status.code().is_none() {
            problems.push(format!("exit {:?}, expected a non-zero exit code", o.status));
        }
        if err.contains("panicked") {
            problems.push("panicked".into());
        }
        if !err.contains(&expect) {
            problems.push(format!("message lacks `{expect}`"));
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{err}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), dirs.len(), failures.join("\n"));
    // a hand-made path was checked for every data format the plugins read
    for f in ["\"csv_hist\"", "\"flowtest_profile\"", "\"lstm_features\"", "\"counts\""] {
        assert!(formats.contains(f), "no case for format {f}");
    }
    assert_eq!(untouched(&before), Vec::<String>::new());
}

/// Compiles `src` into the shared library `out`; false when there is no C compiler (unless
/// `FLOWLAB_REQUIRE_CC=1`).
pub fn cc(src: &Path, define: Option<&str>, out: &Path) -> bool {
    let mut c = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    c.args(["-shared", "-fPIC", "-o"]).arg(out).arg(src);
    if let Some(d) = define {
        c.arg(format!("-D{d}"));
    }
    match c.output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!("cc failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            if std::env::var("FLOWLAB_REQUIRE_CC").as_deref() == Ok("1") {
                panic!("no C compiler: {e}");
            }
            false
        }
    }
}

#[test]
fn broken_plugin_files_give_clear_errors_and_damage_nothing() {
    let res = tempfile::tempdir().unwrap();
    let before = existing_results(res.path());
    let src = repo().join("tests/bad_data/plugins/fake_plugin.c");
    let real = flowlab_abi::host::find_plugin_file("testplug").expect("testplug built");
    let real_bytes = std::fs::read(&real).unwrap();
    let work = tempfile::tempdir().unwrap();
    let lib = flowlab_abi::host::library_file_name("testplug");
    // (case, how to make the file, expected message)
    type Make<'a> = Box<dyn Fn(&Path) -> bool + 'a>;
    let cases: Vec<(&str, Make, &str)> = vec![
        ("not_a_plugin", Box::new(|p: &Path| cc(&src, None, p)), "not a flowlab plugin (no `flowlab_plugin_v1` symbol)"),
        ("wrong_abi_major", Box::new(|p: &Path| cc(&src, Some("MODE_WRONG_MAJOR"), p)), "plugin ABI major 2 but host ABI major 1"),
        ("bad_magic", Box::new(|p: &Path| cc(&src, Some("MODE_BAD_MAGIC"), p)), "incompatible plugin ABI: bad magic bytes"),
        ("refuses_host", Box::new(|p: &Path| cc(&src, Some("MODE_REFUSE"), p)), "the plugin refused host ABI 1.1"),
        ("null_describe", Box::new(|p: &Path| cc(&src, Some("MODE_NULL_DESCRIBE"), p)), "incompatible plugin ABI: the plugin table's `describe` is NULL"),
        ("null_name", Box::new(|p: &Path| cc(&src, Some("MODE_NULL_NAME"), p)), "incompatible plugin ABI: the plugin table's `name` is NULL"),
        ("null_free_buf", Box::new(|p: &Path| cc(&src, Some("MODE_NULL_FREE"), p)), "incompatible plugin ABI: the plugin table's `free_buf` is NULL"),
        ("short_table", Box::new(|p: &Path| cc(&src, Some("MODE_SHORT"), p)), "plugin table is 24 bytes, expected at least"),
        ("truncated", Box::new(|p: &Path| std::fs::write(p, &real_bytes[..real_bytes.len().min(4096)]).is_ok()), "not a loadable shared library"),
        ("garbage", Box::new(|p: &Path| std::fs::write(p, "this is not an ELF file\n").is_ok()), "not a loadable shared library"),
        ("empty", Box::new(|p: &Path| std::fs::write(p, b"").is_ok()), "not a loadable shared library"),
    ];
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, make, expect) in &cases {
        let dir = work.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        if !make(&dir.join(&lib)) {
            flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_CC", &format!("{name}: no C compiler (`cc`) to build the case's library"));
            continue;
        }
        ran += 1;
        for cmd in ["plan", "run"] {
            let mut c = flowlab();
            c.args([cmd, "tests/manifests/probe.toml", "--results", res.path().to_str().unwrap(), "--no-env"]).env("FLOWLAB_PLUGIN_PATH", &dir);
            let o = run_bounded(c, Duration::from_secs(60));
            let err = stderr(&o);
            let mut problems = Vec::new();
            if o.status.code() != Some(2) {
                problems.push(format!("exit {:?}, expected 2", o.status));
            }
            if err.contains("panicked") {
                problems.push("panicked".into());
            }
            if !err.contains(expect) || !err.contains("plugin `testplug` cannot be loaded") {
                problems.push(format!("message lacks `{expect}`"));
            }
            if !problems.is_empty() {
                failures.push(format!("{name} ({cmd}): {}\n{err}", problems.join("; ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 3, "only {ran} plugin cases ran");
    assert_eq!(untouched(&before), Vec::<String>::new());
}

/// The corpus size across manifests, data files and plugin files (at least 50: docs/scale-out.md, "Bad inputs and crash safety").
#[test]
fn the_corpus_has_at_least_50_cases() {
    let count = |dir: &str, f: &dyn Fn(&Path) -> bool| std::fs::read_dir(repo().join(dir)).unwrap().filter(|e| f(&e.as_ref().unwrap().path())).count();
    let manifests = count("tests/bad", &|p| p.extension().is_some_and(|e| e == "toml"));
    let data = count("tests/bad_data", &|p| p.join("manifest.toml").is_file());
    let plugin_files = 11;
    assert!(manifests + data + plugin_files >= 50, "{manifests} + {data} + {plugin_files}");
}
