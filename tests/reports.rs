//! Reports render from stored results only, with LaTeX escaping and our number filters; the
//! output compiles with pdflatex where it is installed (CI installs it).
use crate::common::*;

#[test]
fn report_renders_from_stored_results_and_compiles() {
    let m = repo().join("tests/manifests/two.toml");
    let res = tempfile::tempdir().unwrap();
    let r = res.path().to_str().unwrap();
    let t = repo().join("tests/templates");
    // no results yet: `report` says so
    let o = run(&["report", m.to_str().unwrap(), "--results", r, "--templates", t.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("run `flowlab run"), "{}", stderr(&o));
    let o = run(&["run", m.to_str().unwrap(), "--results", r, "--templates", t.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = res.path().join("two/report/probe.tex");
    let tex = std::fs::read_to_string(&out).unwrap();
    assert!(tex.contains("Escaped: P\\_mix \\#2 \\& 50\\% -- nan: NaN"), "{tex}");
    let rows = tex.lines().filter(|l| l.starts_with("a & ") || l.starts_with("b & ")).count();
    assert_eq!(rows, 5);
    // re-render without running: identical bytes
    std::fs::remove_file(&out).unwrap();
    let o = run(&["report", m.to_str().unwrap(), "--results", r, "--templates", t.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), tex);
    if std::process::Command::new("pdflatex").arg("--version").output().is_ok() {
        std::fs::copy(repo().join("templates/flowlab-preamble.tex"), res.path().join("two/report/flowlab-preamble.tex")).unwrap();
        let o = run(&["report", m.to_str().unwrap(), "--results", r, "--templates", t.to_str().unwrap(), "--pdf"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(res.path().join("two/report/probe.pdf").is_file());
    }
}
