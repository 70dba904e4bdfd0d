//! The flowlab conformance kit against the built histfit cdylib (through the real C ABI).
mod common;
use flowlab_conformance::{Case, check};
use serde_json::json;

#[test]
fn histfit_conforms() {
    let small = common::fixture("small_length.csv");
    let mut cases = vec![
        Case::new("summary", json!({})).with_dataset("small", &small, "csv_hist"),
        Case::new("summary", json!({"style": "siunitx", "dataset_name": "small"})).with_dataset("small", &small, "csv_hist"),
        Case::new("generate_hist", json!({"flows": 20000})),
        Case::new("fit", json!({"families": {"uniform": 2, "lognorm": 2}, "iterations": 20})).with_dataset("small", &small, "csv_hist"),
        Case::new("fit", json!({"families": {"lognorm": 2}, "fitter": "em-binned", "iterations": 20, "starts": 2, "plots": false})).with_dataset("small", &small, "csv_hist"),
        Case::new("selection", json!({"grid": {"lognorm": [1, 2]}, "iterations": 10, "criterion": "heldout"})).with_dataset("small", &small, "csv_hist"),
    ];
    if let Some(d) = common::data_dir() {
        cases.push(Case::new("summary", json!({"x": "size"})).with_dataset("all-size", d.join("agh_2015/histograms/all/size.csv"), "csv_hist"));
    }
    check("histfit", &cases);
}
