//! End-to-end workflows over the shipped experiments.
use crate::common::*;

#[test]
fn quickstart_runs_on_a_fresh_clone_without_data() {
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", "experiments/quickstart.toml", "--results", res.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.path().join("quickstart");
    let report = std::fs::read_to_string(dir.join("report/summary.tex")).unwrap();
    assert!(report.contains("\\begin{document}"));
    let all = cells(&dir);
    let summary = all.values().find(|c| c["capability"] == "summary").expect("summary cell");
    assert_eq!(summary["status"], "ok");
    let tex = std::fs::read_to_string(dir.join("artifacts").join(summary["cell_id"].as_str().unwrap()).join("summary.tex")).unwrap();
    assert!(tex.contains("\\textbf{Number of flows} & 200 000 & flows \\\\"), "{tex}");
    assert_eq!(tex.lines().filter(|l| l.contains(" & ") && l.chars().next().is_some_and(|c| c.is_ascii_digit())).count(), 25, "25 rows at powers of two");
    // the generated dataset is recorded with its content hash
    assert_eq!(summary["dataset"]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn agh2015_summary_is_byte_identical_to_flow_models() {
    let Some(data) = data_dir() else { return };
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", "experiments/agh2015-summary.toml", "--data-dir", data.to_str().unwrap(), "--results", res.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.path().join("agh2015-summary");
    let all = cells(&dir);
    let mut checked = 0;
    for c in all.values().filter(|c| c["capability"] == "summary") {
        let declared = c["dataset"]["declared_path"].as_str().unwrap();
        let fixture = if declared.ends_with("all/length.csv") {
            "tutorial_summary_length.tex"
        } else if declared.ends_with("all/size.csv") {
            "tutorial_summary_size.tex"
        } else {
            continue;
        };
        let want = std::fs::read(repo().join("plugins/histfit/tests/fixtures").join(fixture)).unwrap();
        let got = std::fs::read(dir.join("artifacts").join(c["cell_id"].as_str().unwrap()).join("summary.tex")).unwrap();
        assert!(got == want, "{declared}: summary differs from flow-models' output\n{}", String::from_utf8_lossy(&got));
        checked += 1;
    }
    assert_eq!(checked, 2, "all/length and all/size");
}

#[test]
fn every_shipped_experiment_plans() {
    let data = data_dir();
    let res = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(repo().join("experiments")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        if text.contains("{data}") && data.is_none() {
            continue;
        }
        let mut args = vec!["plan".to_string(), p.to_string_lossy().into_owned(), "--results".into(), res.path().to_string_lossy().into_owned()];
        if let Some(d) = &data {
            args.push("--data-dir".into());
            args.push(d.to_string_lossy().into_owned());
        }
        let o = flowlab().args(&args).output().unwrap();
        assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
    }
}
