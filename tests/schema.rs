//! The committed schemas (manifest, cell record, run context) equal the generated ones, every
//! experiment manifest points at its schema, and stored results validate against theirs.
use crate::common::*;

#[test]
fn committed_schema_is_current() {
    let o = run(&["schema", "--check"]);
    assert!(o.status.success(), "schemas/*.schema.json are stale: run `cargo run -- schema`\n{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(repo().join("schemas/manifest.schema.json")).unwrap()).unwrap();
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(v["properties"]["experiment"].is_object());
    assert!(v["properties"]["summary"].is_object(), "histfit's summary section is in the schema");
}

#[test]
fn experiments_declare_the_schema() {
    for e in std::fs::read_dir(repo().join("experiments")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let first = std::fs::read_to_string(&p).unwrap().lines().next().unwrap_or("").to_string();
            assert_eq!(first, "#:schema ../schemas/manifest.schema.json", "{}", p.display());
        }
    }
}

/// Every shipped experiment validates against the committed schema with an independent
/// Draft-07 validator (Python `jsonschema`, the one editors' tooling follows), and the schema
/// itself is a valid Draft-07 document.
#[test]
fn experiments_validate_against_the_schema_with_jsonschema() {
    let Some(py) = python_with("jsonschema, tomllib") else { return };
    let script = r#"
import json, tomllib, glob, jsonschema, sys
s = json.load(open('schemas/manifest.schema.json'))
jsonschema.Draft7Validator.check_schema(s)
v = jsonschema.Draft7Validator(s)
bad = 0
files = sorted(glob.glob('experiments/*.toml'))
for f in files:
    for e in v.iter_errors(tomllib.load(open(f, 'rb'))):
        bad += 1
        print(f, e.message, list(e.path))
# a misspelt key must be caught too
doc = tomllib.load(open('experiments/quickstart.toml', 'rb'))
doc['summary'][0]['stlye'] = 'both'
if not list(v.iter_errors(doc)):
    print('misspelt setting not rejected'); bad += 1
print(len(files), 'files')
sys.exit(1 if bad else 0)
"#;
    let o = std::process::Command::new(&py).args(["-c", script]).current_dir(repo()).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}

/// The Taplo CLI (`FLOWLAB_TAPLO`, else `target/taplo/node_modules/.bin/taplo` as `.ci/run`
/// installs it, else `taplo` on the PATH); `None` means skip, except where
/// `FLOWLAB_REQUIRE_TAPLO=1` (CI), which fails instead.
fn taplo() -> Option<String> {
    let candidates = [std::env::var("FLOWLAB_TAPLO").ok(), Some(repo().join("target/taplo/node_modules/.bin/taplo").display().to_string()), Some("taplo".into())];
    for c in candidates.into_iter().flatten() {
        // (the npm build of taplo 0.9 exits 1 after printing its version)
        if std::process::Command::new(&c).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).starts_with("taplo ")).unwrap_or(false) {
            return Some(c);
        }
    }
    flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_TAPLO", "no taplo, the TOML language server's CLI (npm @taplo/cli; set FLOWLAB_TAPLO)");
    None
}

/// The lines Taplo reports errors at, checking `file` against the committed schema.
fn taplo_error_lines(taplo: &str, file: &std::path::Path) -> (bool, std::collections::BTreeSet<usize>, String) {
    let schema = format!("file://{}", repo().join("schemas/manifest.schema.json").display());
    let o = std::process::Command::new(taplo).args(["check", "--schema", &schema, file.to_str().unwrap()]).env("RUST_LOG", "warn").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let name = format!("{}:", file.file_name().unwrap().to_str().unwrap());
    let lines = text.split(&name).skip(1).filter_map(|rest| rest.split(':').next()?.parse().ok()).collect();
    (o.status.success(), lines, text)
}

/// What an editor shows: Taplo, with the committed schema, puts an error on the offending line
/// of every bad manifest whose mistake is a setting of a shipped plugin (unknown key, wrong
/// type or variant, out of range, a sweep key naming no setting), and none on the shipped
/// experiments.
#[test]
fn taplo_reports_each_settings_error_at_its_key() {
    let Some(taplo) = taplo() else { return };
    let settings_error = ["unknown field", "invalid type", "unknown variant", "is above the maximum", "is below the minimum", "does not name a task setting", "expects"];
    let mut checked = 0;
    let mut problems = Vec::new();
    for e in std::fs::read_dir(repo().join("tests/bad")).unwrap() {
        let f = e.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        let head = text.lines().next().unwrap_or("");
        // the internal test plugin is not in the schema; overrides are not in the file
        if text.contains("testplug") || text.lines().any(|l| l.starts_with("# args:") || l.starts_with("# env:")) || !settings_error.iter().any(|w| head.contains(w)) {
            continue;
        }
        let Some(line) = head.split(" | at: ").nth(1).and_then(|a| a.split(':').next()).and_then(|l| l.parse::<usize>().ok()) else { continue };
        checked += 1;
        let (ok, lines, out) = taplo_error_lines(&taplo, &f);
        // an error on the whole section or value ("not valid under any of the schemas") tells
        // nothing about what is wrong
        if ok || !lines.contains(&line) || out.contains("not valid under any of the schemas") {
            problems.push(format!("{}: taplo did not flag line {line} (flagged {lines:?})\n{out}", f.display()));
        }
    }
    assert!(checked >= 20, "only {checked} settings-error cases");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for e in std::fs::read_dir(repo().join("experiments")).unwrap() {
        let f = e.unwrap().path();
        if f.extension().is_some_and(|x| x == "toml") {
            let (ok, _, out) = taplo_error_lines(&taplo, &f);
            assert!(ok, "{}: {out}", f.display());
        }
    }
}

/// The result contract (runner/src/record.rs): every stored cell record, every line of
/// `results.jsonl` and `.flowlab-run.json` of a run with ok and failed cells, a dataset cell
/// and a task cell validate against the committed schemas with an independent Draft-07
/// validator (Python `jsonschema`); a record with a foreign key does not, and the runner's own
/// reader names that key.
#[test]
fn stored_results_validate_against_the_result_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, results) = crate::serve::probe_fixture(tmp.path());
    let o = run(&["run", repo().join("experiments/quickstart.toml").to_str().unwrap(), "--results", results.to_str().unwrap(), "-q", "--no-env", "--no-report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // the typed reader: a foreign key is an error naming it
    let probe = results.join("probe");
    let one = std::fs::read_dir(&probe).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.')).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&one).unwrap()).unwrap();
    let text = std::fs::read(&one).unwrap();
    let rec = flowlab::record::CellRecord::from_slice(&text).unwrap();
    assert_eq!(rec.to_bytes().unwrap(), text, "a record read and written again is the same bytes");
    v["provenance"]["plugin"]["sah256"] = "x".into();
    let e = flowlab::record::CellRecord::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.contains("provenance.plugin") && e.contains("sah256"), "{e}");
    let Some(py) = python_with("jsonschema") else { return };
    let script = r#"
import json, glob, sys, jsonschema
cell = json.load(open(sys.argv[1] + '/schemas/cell.schema.json'))
run = json.load(open(sys.argv[1] + '/schemas/run.schema.json'))
for s in (cell, run):
    jsonschema.Draft7Validator.check_schema(s)
vc, vr = jsonschema.Draft7Validator(cell), jsonschema.Draft7Validator(run)
bad, n = 0, 0
docs = []
for d in sorted(glob.glob(sys.argv[2] + '/*/')):
    for f in sorted(glob.glob(d + '*.json')):
        docs.append((vc, f, json.load(open(f))))
    for i, l in enumerate(open(d + 'results.jsonl')):
        docs.append((vc, d + 'results.jsonl:%d' % (i + 1), json.loads(l)))
    docs.append((vr, d + '.flowlab-run.json', json.load(open(d + '.flowlab-run.json'))))
kinds = set()
for v, name, doc in docs:
    n += 1
    if v is vc:
        kinds.add((doc['kind'], doc['status']))
    for e in v.iter_errors(doc):
        bad += 1
        print(name, e.message, list(e.path))
if kinds != {('task', 'ok'), ('task', 'failed'), ('dataset', 'ok')}:
    print('kinds seen', kinds); bad += 1
doc = docs[0][2]
doc['provenance']['plugin']['sah256'] = 'x'
if not list(vc.iter_errors(doc)):
    print('a foreign key was not rejected'); bad += 1
print(n, 'documents')
sys.exit(1 if bad else 0)
"#;
    let o = std::process::Command::new(&py).args(["-c", script, repo().to_str().unwrap(), results.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("documents"));
}
