//! `summary` against flow-models' tutorial output (docs/histfit.md, "Summary tables"): every line of both tables for
//! all/length.csv and all/size.csv, byte for byte, including the trailing empty lines.
mod common;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use serde_json::json;

fn check(file: &str, fixture: &str) {
    let Some(data) = common::data_dir() else { return };
    let path = data.join("agh_2015/histograms/all").join(file);
    let out = tempfile::tempdir().unwrap();
    let req = common::request("summary", json!({}), Some(&path), out.path());
    let r = call(&HistFit, &req).unwrap();
    let want = std::fs::read_to_string(common::fixture(fixture)).unwrap();
    let got = r.data["flowmodels_tex"].as_str().unwrap();
    // line by line first, for a readable failure
    let (wl, gl): (Vec<_>, Vec<_>) = (want.split('\n').collect(), got.split('\n').collect());
    for (i, (w, g)) in wl.iter().zip(&gl).enumerate() {
        assert_eq!(g, w, "{file}: line {} differs", i + 1);
    }
    assert_eq!(gl.len(), wl.len(), "{file}: line count");
    assert_eq!(got, want, "{file}: bytes");
    // the artifact is the exact stdout too; the tables alone have no trailing newlines
    let art = std::fs::read_to_string(out.path().join("summary.tex")).unwrap();
    assert_eq!(art, want);
    let t1 = r.data["table1"].as_str().unwrap();
    let t2 = r.data["table2"].as_str().unwrap();
    assert_eq!(format!("{t1}\n\n\n{t2}\n\n\n"), want);
    assert!(want.ends_with("\\end{tabular}\n\n\n"));
}

#[test]
fn all_length_matches_tutorial_byte_for_byte() {
    check("length.csv", "tutorial_summary_length.tex");
}

#[test]
fn all_size_matches_tutorial_byte_for_byte() {
    check("size.csv", "tutorial_summary_size.tex");
}

#[test]
fn reference_numbers_and_metrics() {
    let Some(data) = common::data_dir() else { return };
    let path = data.join("agh_2015/histograms/all/length.csv");
    let out = tempfile::tempdir().unwrap();
    let mut req = common::request("summary", json!({"style": "both", "exporter": "nfdump", "active_timeout": 300}), Some(&path), out.path());
    req.experiment.metadata.insert("dataset_name".into(), json!("agh_2015"));
    req.experiment.metadata.insert("inactive_timeout".into(), json!(15));
    let r = call(&HistFit, &req).unwrap();
    assert_eq!(r.metrics["total_flows"], json!(4032376751.0));
    assert_eq!(r.metrics["rows"], json!(23782));
    assert_eq!(r.metrics["gaps"], json!(1246));
    assert_eq!(r.metrics["max_bin_lo"], json!(185860096));
    assert_eq!(r.data["totals"]["octets"], json!("275858498994998"));
    let t1 = r.data["table1"].as_str().unwrap();
    assert!(t1.contains("\\textbf{Number of flows} & 4 032 376 751 & flows \\\\"));
    assert!(t1.contains("\\textbf{Average flow length} & 78.578370 & packets \\\\"));
    assert!(r.data["table2"].as_str().unwrap().contains("\n1 & 47.8326 & 0.6087 & 0.1047 \\\\\n"));
    // improved variant: metadata filled, siunitx numbers, the forgotten average flow size
    let x1 = r.data["table1_siunitx"].as_str().unwrap();
    assert!(x1.contains("\\textbf{Dataset name} & agh\\_2015 & \\\\"), "{x1}");
    assert!(x1.contains("\\textbf{Exporter} & nfdump & \\\\"), "{x1}");
    assert!(x1.contains("\\textbf{Active timeout} & \\num{300} & seconds \\\\"), "{x1}");
    assert!(x1.contains("\\textbf{Inactive timeout} & \\num{15} & seconds \\\\"), "{x1}");
    assert!(x1.contains("\\textbf{L2 technology} & n/a & \\\\"), "{x1}");
    assert!(x1.contains("\\textbf{Number of flows} & \\num{4032376751} & flows \\\\"), "{x1}");
    // 275858498994998 / 4032376751 = 68410.8…
    assert!(x1.contains("\\textbf{Average flow size} & \\num{68410."), "{x1}");
    let x2 = r.data["table2_siunitx"].as_str().unwrap();
    assert!(x2.contains("\\num{1} & \\num{47.8326} & \\num{0.6087} & \\num{0.1047} \\\\"), "{x2}");
    assert!(out.path().join("summary-siunitx.tex").is_file());
}

#[test]
fn style_selects_outputs_and_errors_are_clear() {
    let out = tempfile::tempdir().unwrap();
    let f = common::fixture("small_length.csv");
    let r = call(&HistFit, &common::request("summary", json!({"style": "siunitx"}), Some(&f), out.path())).unwrap();
    assert!(r.data.contains_key("table1_siunitx") && !r.data.contains_key("table1"));
    let r = call(&HistFit, &common::request("summary", json!({"style": "flowmodels"}), Some(&f), out.path())).unwrap();
    assert!(!r.data.contains_key("table1_siunitx") && r.data.contains_key("table1"));
    // no dataset → config error naming `datasets`
    let e = call(&HistFit, &common::request("summary", json!({}), None, out.path())).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("datasets"));
    // a bad row names file and row
    let bad = out.path().join("bad.csv");
    std::fs::write(&bad, "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n1,2,5,5,500\n2,3,x,1,1\n").unwrap();
    let e = call(&HistFit, &common::request("summary", json!({}), Some(&bad), out.path())).unwrap_err();
    assert!(e.message.contains("bad.csv:3") && e.message.contains("flows_sum"), "{}", e.message);
    // undetectable x
    std::fs::write(&bad, "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n7,8,5,5,500\n").unwrap();
    let e = call(&HistFit, &common::request("summary", json!({}), Some(&bad), out.path())).unwrap_err();
    assert!(e.message.contains("smallest bin_lo is 7"), "{}", e.message);
    // explicit x overrides detection; duration is refused as flow-models does
    assert!(call(&HistFit, &common::request("summary", json!({"x": "length"}), Some(&bad), out.path())).is_ok());
    let e = call(&HistFit, &common::request("summary", json!({"x": "duration"}), Some(&bad), out.path())).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("x"));
    let e = call(&HistFit, &common::request("summary", json!({"style": "fancy"}), Some(&bad), out.path())).unwrap_err();
    assert_eq!(e.kind, flowlab_abi::ErrorKind::Config);
}
