//! `generate_hist` end to end: a seeded synthetic csv_hist from the tutorial model, then
//! `summary` on it and the report template rendered (and compiled when pdflatex exists).
mod common;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use histfit::hist::Hist;
use serde_json::json;

#[test]
fn generated_histogram_is_seeded_binned_and_summarisable() {
    let out = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let r = call(&HistFit, &common::request("generate_hist", json!({"flows": 100000}), None, out.path())).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let art = r.artifacts.iter().find(|a| a.name == "dataset").expect("a `dataset` artifact");
    assert_eq!(art.kind, "csv_hist");
    let path = out.path().join(&art.path);
    let h = Hist::read(&path).unwrap();
    assert_eq!(h.total("flows_sum"), Some(100000));
    assert_eq!(r.metrics["flows"], json!(100000));
    // b = 12 binning: unit bins below 4096, then widths that are powers of two aligned to them
    for (lo, hi) in h.bin_lo.iter().zip(&h.bin_hi) {
        assert_eq!((*lo, *hi), histfit::hist::bin_of(*lo, 12));
    }
    // the share of 1-packet flows follows the tutorial mixture: P(1) = Σ w_k F_k(1)
    let m = histfit::sampling::Model::tutorial();
    let p1 = m.flows.pdf_discrete(1, 1);
    let f1 = h.column("flows_sum").unwrap()[0] as f64 / 1e5;
    assert!((f1 - p1).abs() < 4.0 * (p1 * (1.0 - p1) / 1e5).sqrt(), "{f1} vs {p1}");
    // same seed → same bytes; another seed → different
    let out2 = tempfile::tempdir().unwrap();
    call(&HistFit, &common::request("generate_hist", json!({"flows": 100000}), None, out2.path())).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(out2.path().join("dataset.csv")).unwrap());
    let mut other = common::request("generate_hist", json!({"flows": 100000}), None, out2.path());
    other.seed_hex = "ff".into();
    call(&HistFit, &other).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), std::fs::read(out2.path().join("dataset.csv")).unwrap());
    eprintln!("generate_hist: 100 000 flows in {secs:.2} s (debug)");

    // summary on it, then the report
    let sout = tempfile::tempdir().unwrap();
    let mut req = common::request("summary", json!({}), Some(&path), sout.path());
    req.experiment.metadata.insert("dataset_name".into(), json!("synthetic_1"));
    let s = call(&HistFit, &req).unwrap();
    let t2 = s.data["table2"].as_str().unwrap();
    assert!(t2.starts_with("\\begin{tabular}{@{}lrrr@{}}"));
    assert_eq!(t2.lines().count(), 6 + 25 + 2);
    render_report(&s);
}

#[test]
fn settings_errors_name_the_key() {
    let out = tempfile::tempdir().unwrap();
    for (settings, key) in [
        (json!({"flows": 0}), "flows"),
        (json!({"bin_exp": 99}), "bin_exp"),
        (json!({"mixture": [[1.0, "pareto", [1.0]]]}), "mixture"),
        (json!({"packets_mixture": [[1.0, "lognorm", [1.0, 0, 5.0]]]}), "packets_mixture"),
        (json!({"x": "size"}), "x"),
        (json!({"flowz": 3}), "flowz"),
    ] {
        let e = call(&HistFit, &common::request("generate_hist", settings.clone(), None, out.path())).unwrap_err();
        assert_eq!(e.path.as_deref(), Some(key), "{settings}: {e:?}");
    }
    let e = call(&HistFit, &common::request("generate_hist", json!({"mixture": [[1.0, "pareto", [1.0]]]}), None, out.path())).unwrap_err();
    assert!(e.message.contains("known families: uniform, lognorm"), "{}", e.message);
}

/// Renders templates/histfit/summary.tex as the runner does (tera, LaTeX autoescape) from a
/// stored-cell-like context, and compiles it with pdflatex when available.
fn render_report(resp: &flowlab_abi::Response) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates");
    let text = std::fs::read_to_string(format!("{root}/histfit/summary.tex")).unwrap();
    let cell = json!({"kind": "task", "status": "ok", "dataset": {"id": "synthetic_1"}, "task": "summary", "plugin": "histfit", "capability": "summary", "point": {}, "settings": {}, "replicate": 0, "response": resp});
    let ctx = json!({
        "experiment": {"name": "quickstart_test", "description": "100% synthetic & seeded", "seed": 1, "replicates": 1, "metadata": {}},
        "tasks": {"summary": [cell.clone()]}, "groups": {}, "cells": [cell], "datasets": [], "failed": 0,
    });
    // the runner's engine: its LaTeX escape, number filters and limits
    let tex = flowlab::report::render_json("histfit/summary.tex", &text, &ctx).unwrap();
    assert!(tex.starts_with("\\documentclass{article}\n\\input{flowlab-preamble.tex}"));
    assert!(tex.contains("100\\% synthetic \\& seeded"));
    assert!(tex.contains("\\textbf{Dataset name} & synthetic\\_1 & \\\\"), "siunitx table with metadata");
    assert!(tex.contains(&resp.data["table2"].as_str().unwrap()[..40]));
    if std::process::Command::new("pdflatex").arg("--version").output().is_err() {
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_TEX", "no pdflatex (Debian: texlive-pictures texlive-science)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let preamble = std::path::Path::new(root).join("flowlab-preamble.tex");
    let pre = std::fs::read_to_string(&preamble)
        .unwrap_or_else(|_| "\\usepackage{booktabs}\n\\usepackage{siunitx}\n\\usepackage{pgfplots}\n\\pgfplotsset{compat=1.16}\n\\usepackage{amsmath}\n\\usepackage{graphicx}\n".into());
    std::fs::write(dir.path().join("flowlab-preamble.tex"), pre).unwrap();
    std::fs::write(dir.path().join("report.tex"), &tex).unwrap();
    let o = std::process::Command::new("pdflatex").args(["-halt-on-error", "-interaction=nonstopmode", "report.tex"]).current_dir(dir.path()).output().unwrap();
    assert!(o.status.success(), "pdflatex failed:\n{}", String::from_utf8_lossy(&o.stdout).lines().rev().take(30).collect::<Vec<_>>().join("\n"));
}
