//! The bad-manifest corpus (`tests/bad/*.toml`): each file's first line says what the error
//! must contain (`# expect: …`) and where (`| at: LINE:`, or `| at: --set …` /
//! `| at: environment variable …` for an override given by a `# args:` or `# env:` line).
//! Every case must exit with code 2, name the place, and never panic.
use crate::common::*;

#[test]
fn every_bad_manifest_gives_a_located_error() {
    let dir = repo().join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus has {} cases", files.len());
    let res = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let head = text.lines().next().unwrap_or("");
        let spec = head.strip_prefix("# expect: ").unwrap_or_else(|| panic!("{}: first line must be `# expect: …`", f.display()));
        let (expect, at) = match spec.split_once(" | at: ") {
            Some((e, a)) => (e.trim(), Some(a.trim())),
            None => (spec.trim(), None),
        };
        // optional lines 2…: `# args: --set K=V …` (flags, split at spaces) and `# env: K=V`
        // (an environment override; the case then reads the environment)
        let mut cmd = flowlab();
        cmd.args(["plan", f.to_str().unwrap(), "--results", res.path().to_str().unwrap()]);
        let mut env_case = false;
        for l in text.lines().skip(1).take_while(|l| l.starts_with("# ")) {
            if let Some(a) = l.strip_prefix("# args: ") {
                cmd.args(a.split(' '));
            } else if let Some((k, v)) = l.strip_prefix("# env: ").and_then(|e| e.split_once('=')) {
                cmd.env(k, v);
                env_case = true;
            }
        }
        if !env_case {
            cmd.arg("--no-env");
        }
        // many machines set RUST_BACKTRACE=1: a user error must still print no backtrace
        let o = cmd.env("RUST_BACKTRACE", "1").output().unwrap();
        let err = stderr(&o);
        let name = f.file_name().unwrap().to_string_lossy();
        let mut problems = Vec::new();
        if o.status.code() != Some(2) {
            problems.push(format!("exit code {:?}, expected 2", o.status.code()));
        }
        if err.contains("panicked") || err.contains("stack backtrace") {
            problems.push("panicked".into());
        }
        if !err.contains(expect) {
            problems.push(format!("message lacks `{expect}`"));
        }
        if let Some(at) = at.filter(|a| a.starts_with("--set") || a.starts_with("environment")) {
            // an override's place is the flag or the variable
            if !err.contains(at) {
                problems.push(format!("message lacks the place `{at}`"));
            }
        } else if let Some(at) = at {
            if !err.contains(&format!("{name}:{at}")) {
                problems.push(format!("message lacks the place `{name}:{at}`"));
            }
        } else if !err.contains(&*name) {
            problems.push("message does not name the file".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{err}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn bad_overrides_name_the_flag_or_variable() {
    let m = repo().join("tests/manifests/probe.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let o = run(&["plan", m.to_str().unwrap(), "--results", r, "--set", "experiment.seed"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--set experiment.seed: error: expected KEY=VALUE"), "{}", stderr(&o));
    let o = run(&["plan", m.to_str().unwrap(), "--results", r, "--set", "experiment.seed=\"x\""]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--set experiment.seed=\"x\""), "{}", stderr(&o));
    let o = flowlab().args(["plan", m.to_str().unwrap(), "--results", r]).env("FLOWLAB_EXPERIMENT__REPLICATES", "many").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("environment variable FLOWLAB_EXPERIMENT__REPLICATES"), "{}", stderr(&o));
    let o = run(&["plan", m.to_str().unwrap(), "--results", r, "--set", "probe.draws=\"lots\""]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--set probe.draws=\"lots\""), "{}", stderr(&o));
}

#[test]
fn missing_manifest_and_missing_data_dir_are_clear() {
    let o = run(&["run", "no/such/manifest.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read the manifest"), "{}", stderr(&o));
}

/// The runner's type check, which tells every wrongly typed setting at once
/// (`describe::type_mismatches`), refuses only what the plugin refuses too: every top-level
/// setting of every task and dataset capability of the shipped plugins, given alone with a
/// value of each TOML type; for each value the check flags, the plugin's own `validate` must
/// refuse that key. The one difference allowed: serde reads a table setting from an array
/// (`selection = [1]` sets its first field), which the check refuses on purpose. Then a
/// manifest with three wrongly typed settings is told all three, each at its line.
#[test]
fn the_type_check_flags_only_what_the_plugin_refuses() {
    use flowlab_abi::host::{LoadedPlugin, find_plugin_file};
    let values = ["true", "3", "2.5", "\"x\"", "[1]", "{ a = 1 }"];
    let (mut flagged, mut kept) = (0, 0);
    let mut failures = Vec::new();
    for name in ["histfit", "endhost", "sampler", "lstm", "testplug"] {
        let p = LoadedPlugin::load(&find_plugin_file(name).unwrap_or_else(|| panic!("{name} not built"))).unwrap();
        for c in &p.description.capabilities {
            let schema = &c.settings_schema;
            let Some(props) = schema["properties"].as_object() else { continue };
            for key in props.keys() {
                for v in values {
                    let toml_v = toml::from_str::<toml::Table>(&format!("v = {v}")).unwrap()["v"].clone();
                    let given: serde_json::Map<String, serde_json::Value> = [(key.clone(), serde_json::to_value(toml_v).unwrap())].into_iter().collect();
                    let wrong = flowlab::describe::type_mismatches(schema, &given);
                    if wrong.is_empty() {
                        kept += 1;
                        continue;
                    }
                    flagged += 1;
                    let table_from_array = v == "[1]" && plugin_reads_table(schema, key);
                    match p.validate(&c.name, &serde_json::Value::Object(given)) {
                        Err(e) if e.path.as_deref() == Some(key.as_str()) || e.message.contains(key.as_str()) => {}
                        _ if table_from_array => {}
                        other => failures.push(format!("{name} {}: `{key} = {v}` flagged by the type check ({}), but the plugin: {other:?}", c.name, wrong[0].1)),
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {flagged}:\n{}", failures.len(), failures.join("\n"));
    assert!(flagged > 200 && kept > 50, "{flagged} flagged, {kept} kept");

    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m.toml");
    let h = repo().join("plugins/histfit/tests/fixtures/small_length.csv");
    std::fs::write(&m, format!("[experiment]\nname = \"t\"\nseed = 1\n[[dataset]]\nid = \"h\"\npath = {h:?}\nformat = \"csv_hist\"\n[[fit]]\nplugin = \"histfit\"\ncolumn = \"flows\"\niterations = \"many\"\nmpw = \"high\"\nstarts = [2]\n")).unwrap();
    let o = run(&["plan", m.to_str().unwrap(), "--results", tmp.path().join("r").to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for (line, key) in [(11, "iterations"), (12, "mpw"), (13, "starts")] {
        assert!(err.contains(&format!("m.toml:{line}:1: error: task `fit`: {key}: invalid type")), "{key}: {err}");
    }
}

/// Whether the schema's `key` is a table of named fields (a struct serde also reads from an array).
fn plugin_reads_table(schema: &serde_json::Value, key: &str) -> bool {
    let mut node = &schema["properties"][key];
    for _ in 0..8 {
        if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
            let defs = if schema.get("$defs").is_some() { &schema["$defs"] } else { &schema["definitions"] };
            node = &defs[r.rsplit('/').next().unwrap_or("")];
        } else if let Some([one]) = node.get("allOf").and_then(|a| a.as_array()).map(Vec::as_slice) {
            node = one;
        } else if let Some(one) = node.get("anyOf").and_then(|a| a.as_array()).and_then(|a| a.iter().find(|x| x["type"] != "null")) {
            node = one;
        } else {
            break;
        }
    }
    node.get("properties").is_some()
}
