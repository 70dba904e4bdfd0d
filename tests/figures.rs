//! Every SVG the shipped plugins write passes the style checks a machine can make
//! (docs/figures.md; the checker is plugins/figure/src/check.rs): fonts ≥ 9 pt at the natural
//! size, no two texts overlapping, ≤ 8-character tick labels on log axes, a label on every
//! axis, a legend entry for every drawn series.
use crate::common::{flowlab, repo, stderr};
use std::path::{Path, PathBuf};

fn svgs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(svgs(&p));
        } else if p.extension().is_some_and(|x| x == "svg") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Checks every SVG under `dir`; returns the file stems checked.
fn check_all(dir: &Path) -> Vec<String> {
    let files = svgs(dir);
    let mut problems = vec![];
    for f in &files {
        let svg = std::fs::read_to_string(f).unwrap();
        for p in figure::check::check_svg(&svg) {
            problems.push(format!("{}: {p}", f.display()));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    files.iter().map(|f| f.file_stem().unwrap().to_string_lossy().into_owned()).collect()
}

fn in_dir(dir: &Path, args: &[&str]) {
    let o = flowlab().current_dir(dir).args(args).output().expect("run flowlab");
    assert!(o.status.success(), "flowlab {args:?}: {}", stderr(&o));
}

#[test]
fn lstm_quickstart_figures_pass_the_style_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_string_lossy().into_owned();
    in_dir(&repo(), &["run", "experiments/lstm-quickstart.toml", "--results", &results, "-q"]);
    let stems = check_all(tmp.path());
    for f in ["loss", "acc_dist_true", "dist_true_test"] {
        assert!(stems.iter().any(|s| s == f), "{f}.svg missing from {stems:?}");
    }
    assert!(stems.iter().any(|s| s.starts_with("pred_epoch")), "{stems:?}");
    // the prediction grid for the report: one groupplot sized for the page, one legend
    let art = std::fs::read_dir(tmp.path().join("lstm-quickstart/artifacts")).unwrap().flatten().map(|e| e.path()).find(|d| d.join("loss.svg").is_file()).expect("the network cell's artifacts");
    // the last epoch's (the report shows that one; the manifest trains 20 epochs)
    let pgf = art.join("pred_epoch20.pgf");
    let t = std::fs::read_to_string(&pgf).unwrap();
    assert_eq!(t.matches("\\begin{groupplot}").count(), 1, "{t}");
    assert_eq!(t.matches("\\nextgroupplot").count(), 6, "3 traffics x (train, test): {t}");
    assert_eq!(t.matches("\\addlegendentry").count(), 2, "one legend (true, predicted): {t}");
    assert!(t.contains("xlabels at=edge bottom") && t.contains("scale only axis"), "{t}");
    // the report inputs it and compiles (where pdflatex is installed; CI installs it)
    let report = tmp.path().join("lstm-quickstart/report");
    let tex = std::fs::read_to_string(report.join("lstm-quickstart.tex")).unwrap();
    let input = format!("\\input{{../artifacts/{}/{}}}", art.file_name().unwrap().to_string_lossy(), pgf.file_name().unwrap().to_string_lossy());
    assert!(tex.contains(&input), "the report does not {input}");
    if std::process::Command::new("pdflatex").arg("--version").output().is_ok() {
        for _ in 0..2 {
            let o = std::process::Command::new("pdflatex").current_dir(&report).args(["-interaction=nonstopmode", "-halt-on-error", "lstm-quickstart.tex"]).output().unwrap();
            assert!(o.status.success(), "pdflatex: {}", String::from_utf8_lossy(&o.stdout));
        }
        let log = std::fs::read_to_string(report.join("lstm-quickstart.log")).unwrap();
        assert!(!log.contains("multiply defined") && !log.contains("Overfull"), "{log}");
    }
}

#[test]
fn histfit_plots_in_every_mode_pass_the_style_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::copy(repo().join("plugins/histfit/tests/fixtures/small_length.csv"), d.join("h.csv")).unwrap();
    let model = d.join("my_mixture");
    std::fs::create_dir_all(&model).unwrap();
    let res = d.join("results").to_string_lossy().into_owned();
    for (y, families) in [("flows", ["-U", "2", "-L", "2"]), ("packets", ["-U", "1", "-L", "2"]), ("octets", ["-U", "1", "-L", "2"])] {
        let mut args = vec!["fit", "-q", "--results", &res, "-i", "40", "-y", y];
        args.extend(families);
        args.push("../h.csv");
        in_dir(&model, &args);
    }
    let runs: [&[&str]; 4] = [
        &[],
        &["-P", "points", "-P", "comp", "-P", "comp_labels", "-C", "comp", "-C", "comp_labels"],
        &["-P", "hist", "-P", "comp_stack", "-P", "comp_labels", "-C", "comp_stack", "--no-normalize"],
        &["--single", "-P", "kde", "--fft", "-P", "comp", "-C", "comp"],
    ];
    let mut n = 0;
    for (k, modes) in runs.iter().enumerate() {
        let out = d.join(format!("run{k}"));
        std::fs::create_dir_all(&out).unwrap();
        let mut args = vec!["plot", "-q", "--results", &res, "--format", "svg"];
        args.extend(modes.iter());
        args.extend(["../h.csv", "../my_mixture/"]);
        in_dir(&out, &args);
        n += check_all(&out).len();
    }
    assert!(n > 3 * 7, "{n} figures");
}
