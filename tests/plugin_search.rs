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
