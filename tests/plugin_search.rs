//! Plugins are found in `$FLOWLAB_PLUGIN_PATH` and beside the executable only, never in the
//! current directory, and only the plugins a manifest names are loaded: a
//! library with a constructor, planted in `<cwd>/target/release`, must never run.
use crate::bad_data::cc;
use crate::common::*;
use std::path::Path;

#[test]
fn a_library_in_the_current_directory_is_never_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let planted = tmp.path().join("target/release");
    std::fs::create_dir_all(&planted).unwrap();
    let src = repo().join("tests/bad_data/plugins/evil_plugin.c");
    // one planted under its own name, one under the name of a real plugin, one misspelt
    for name in ["evil", "testplug", "testplgu"] {
        if !cc(&src, None, &planted.join(flowlab_abi::host::library_file_name(name))) {
            flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_CC", "no C compiler (`cc`) to build the planted library");
            return;
        }
    }
    let marker = tmp.path().join("marker");
    let manifest = |plugin: &str| {
        let m = tmp.path().join(format!("{plugin}.toml"));
        std::fs::write(&m, format!("[experiment]\nname = \"x\"\nseed = 1\n[[probe]]\nid = \"a\"\nplugin = \"{plugin}\"\n")).unwrap();
        m
    };
    let flowlab_here = |args: &[&str]| {
        let mut c = flowlab();
        c.current_dir(tmp.path()).env_remove("FLOWLAB_PLUGIN_PATH").env("FLOWLAB_EVIL_MARKER", &marker).args(args);
        c.output().unwrap()
    };
    let o = flowlab_here(&["plugins", "--all"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("search path") && out.contains("testplug"), "{out}");
    assert!(!out.contains(&planted.display().to_string()), "{out}");
    assert!(!marker.exists(), "`flowlab plugins` ran a library of the current directory");
    let results = tmp.path().join("results");
    for plugin in ["testplgu", "evil"] {
        let m = manifest(plugin);
        let o = flowlab_here(&["plan", m.to_str().unwrap(), "--results", results.to_str().unwrap(), "--no-env"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("unknown plugin `{plugin}`")), "{}", stderr(&o));
        assert!(!marker.exists(), "a manifest naming `{plugin}` ran a library of the current directory");
    }
    // the hint comes from file names: the real plugin is suggested without loading others
    let o = flowlab_here(&["plan", manifest("testplgu").to_str().unwrap(), "--results", results.to_str().unwrap(), "--no-env"]);
    assert!(stderr(&o).contains("did you mean `testplug`?"), "{}", stderr(&o));
    // and the planted library is what would have run: loading it explicitly creates the marker
    let mut c = flowlab();
    c.current_dir(tmp.path()).env("FLOWLAB_PLUGIN_PATH", &planted).env("FLOWLAB_EVIL_MARKER", &marker).args([
        "plan",
        manifest("evil").to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--no-env",
    ]);
    let o = c.output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(Path::new(&marker).is_file(), "the evil library's constructor never runs, so this test could not fail: {}", stderr(&o));
}

/// Planning takes a plugin's description and its acceptance of a settings object from the
/// host's cache when the library's bytes are unchanged (plugins/abi/src/plugincache.rs,
/// docs/design.md §2 "Planning without loading plugins"): a second `flowlab plan` prints the
/// same plan without opening the library (glibc's `LD_DEBUG=files` names every object a process
/// opens), a refusal is never cached, and a run opens it and stores the same cells as a run
/// with an empty cache.
#[test]
fn planning_reuses_cached_descriptions_and_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = repo().join("tests/manifests/probe.toml");
    let with_cache = |cache: &Path, args: &[&str]| flowlab().env("FLOWLAB_CACHE_DIR", cache).env("LD_DEBUG", "files").args(args).output().unwrap();
    let opened = |o: &std::process::Output| stderr(o).lines().any(|l| l.contains("file=") && l.contains(&flowlab_abi::host::library_file_name("testplug")));
    let own_stderr =
        |o: &std::process::Output| stderr(o).lines().filter(|l| !l.contains("file=") && !l.trim().is_empty() && !l.trim_start().starts_with(char::is_numeric)).map(str::to_string).collect::<Vec<_>>();
    let cache = tmp.path().join("cache");
    let res = tmp.path().join("res");
    let plan = |args: &[&str]| {
        let mut a = vec!["plan", manifest.to_str().unwrap(), "--results", res.to_str().unwrap()];
        a.extend_from_slice(args);
        with_cache(&cache, &a)
    };
    let first = plan(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(opened(&first), "an empty cache: the library is opened to describe it");
    let second = plan(&[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(!opened(&second), "the second plan opened the library: {}", stderr(&second));
    assert_eq!(first.stdout, second.stdout);
    // a refusal (an unknown setting) is the plugin's own message every time, never cached
    let bad = ["--set", "probe.bogus=1"];
    let (r1, r2) = (plan(&bad), plan(&bad));
    assert_eq!((r1.status.code(), r2.status.code()), (Some(2), Some(2)), "{}", stderr(&r1));
    assert_eq!(own_stderr(&r1), own_stderr(&r2));
    assert!(own_stderr(&r1).iter().any(|l| l.contains("bogus")), "{:?}", own_stderr(&r1));
    // a run opens the library when a cell runs: the cells equal those of a cold-cache run
    let warm = with_cache(&cache, &["run", manifest.to_str().unwrap(), "--results", res.to_str().unwrap(), "-q"]);
    assert!(warm.status.success() && opened(&warm), "{}", stderr(&warm));
    let cold_res = tmp.path().join("cold");
    let cold = with_cache(&tmp.path().join("cache2"), &["run", manifest.to_str().unwrap(), "--results", cold_res.to_str().unwrap(), "-q"]);
    assert!(cold.status.success(), "{}", stderr(&cold));
    let strip_provenance = |mut m: std::collections::BTreeMap<String, serde_json::Value>| {
        for v in m.values_mut() {
            v.as_object_mut().unwrap().remove("provenance");
        }
        m
    };
    let (w, c) = (strip_provenance(cells(&res.join("probe"))), strip_provenance(cells(&cold_res.join("probe"))));
    assert!(!w.is_empty());
    assert_eq!(w, c);
}
