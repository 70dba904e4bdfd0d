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
