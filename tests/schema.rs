//! The committed manifest schema equals the generated one, and every experiment manifest
//! points at it.
use crate::common::*;

#[test]
fn committed_schema_is_current() {
    let o = run(&["schema", "--check"]);
    assert!(o.status.success(), "schemas/manifest.schema.json is stale: run `cargo run -- schema`\n{}", stderr(&o));
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
