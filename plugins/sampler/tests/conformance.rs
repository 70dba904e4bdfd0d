//! The conformance kit through the real C ABI, with real sample cases.
use flowlab_conformance::{Case, check};
use serde_json::json;

#[test]
fn sampler_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    let rows = sampler::generate::generate(&sampler::generate::GenOptions { rows: 4000, seed: 2, ..Default::default() });
    sampler::generate::write(&rows, std::fs::File::create(&path).unwrap()).unwrap();
    check(
        "sampler",
        &[
            Case::new("sample", json!({"min_sampling": 0.4, "max_sampling": 0.6, "generations": 15})).with_dataset("p", &path, "flowtest_profile"),
            Case::new("sample", json!({"min_sampling": 0.4, "max_sampling": 0.6, "generations": 5, "fitness": "windows", "window_s": 60, "init": "stratified", "local_search": 2000})).with_dataset(
                "p",
                &path,
                "flowtest_profile",
            ),
            Case::new("profile", json!({"rows": 500})),
        ],
    );
}
