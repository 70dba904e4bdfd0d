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

/// A results root holding a finished run of `tests/manifests/two.toml` (no report), and a
/// way to render one `[[report]]` over it: (template, output, templates dir) → output.
struct Rendered {
    res: tempfile::TempDir,
}

impl Rendered {
    fn new() -> Rendered {
        let res = tempfile::tempdir().unwrap();
        let o = run(&["run", "tests/manifests/two.toml", "--results", res.path().to_str().unwrap(), "-q", "--no-report", "--no-env"]);
        assert!(o.status.success(), "{}", stderr(&o));
        Rendered { res }
    }
    fn exp(&self) -> std::path::PathBuf {
        self.res.path().join("two")
    }
    /// `flowlab report` of two.toml with its report replaced by `template` → `output`.
    fn report(&self, template: &str, output: &str, templates: &std::path::Path) -> std::process::Output {
        let text = std::fs::read_to_string(repo().join("tests/manifests/two.toml")).unwrap();
        let head = text.split("[[report]]").next().unwrap();
        let m = self.res.path().join("two.toml");
        std::fs::write(&m, format!("{head}[[report]]\ntemplate = {template:?}\noutput = {output:?}\n")).unwrap();
        flowlab()
            .args(["report", m.to_str().unwrap(), "--results", self.res.path().to_str().unwrap(), "--templates", templates.to_str().unwrap(), "--no-env"])
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap()
    }
}

/// A report error: exit 3, the message parts, no panic, no abort.
fn report_error(o: &std::process::Output, parts: &[&str]) -> Result<(), String> {
    let err = stderr(o);
    if o.status.code() != Some(3) || err.contains("panicked") || parts.iter().any(|p| !err.contains(p)) {
        return Err(format!("exit {:?} (expected 3 and {parts:?}):\n{err}", o.status));
    }
    Ok(())
}

#[test]
fn endless_recursion_and_outside_reads_are_report_errors_naming_the_template() {
    let r = Rendered::new();
    let t = repo().join("tests/templates");
    let mut failures = Vec::new();
    let cases: [(&str, &[&str]); 5] = [
        ("recursive_macro.tex", &["recursive_macro.tex", "nest deeper than 200 levels"]),
        ("self_include.tex", &["self_include.tex", "nest deeper than 200 levels"]),
        ("env_get_env.tex", &["env_get_env.tex", "`get_env()` is not available in reports"]),
        ("env_now.tex", &["env_now.tex", "`now()` is not available in reports"]),
        ("env_get_random.tex", &["env_get_random.tex", "`get_random()` is not available in reports"]),
    ];
    for (template, parts) in cases {
        let o = r.report(template, "out.tex", &t);
        if let Err(e) = report_error(&o, parts) {
            failures.push(format!("{template}: {e}"));
        }
        if r.exp().join("report/out.tex").exists() {
            failures.push(format!("{template}: an output was written"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // a recursion that ends renders
    let o = r.report("bounded_macro.tex", "bounded.tex", &t);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(r.exp().join("report/bounded.tex")).unwrap().contains("50,49,48"));
}

#[test]
fn a_template_outside_the_templates_directory_is_refused() {
    let r = Rendered::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.tex"), "SECRET-BYTES\n").unwrap();
    let t = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("tests/templates/probe.tex"), t.path().join("probe.tex")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.tex"), t.path().join("linked.tex")).unwrap();
    std::os::unix::fs::symlink(outside.path(), t.path().join("dir")).unwrap();
    for template in ["linked.tex", "dir/secret.tex"] {
        let o = r.report(template, "out.tex", t.path());
        report_error(&o, &[template, "outside the templates directory"]).unwrap_or_else(|e| panic!("{template}: {e}"));
        assert!(!r.exp().join("report/out.tex").exists());
    }
    // lexically outside: a manifest error located at the key (tests/bad has more)
    for template in ["/etc/hostname", "../../../../etc/hostname"] {
        let o = r.report(template, "out.tex", t.path());
        assert_eq!(o.status.code(), Some(2), "{template}: {}", stderr(&o));
        assert!(stderr(&o).contains("two.toml:") && stderr(&o).contains("report `template` must be a relative path"), "{}", stderr(&o));
    }
    // a template inside still renders
    let o = r.report("probe.tex", "probe.tex", t.path());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn symbolic_links_in_the_results_tree_are_not_written_through() {
    let r = Rendered::new();
    let t = repo().join("tests/templates");
    let elsewhere = tempfile::tempdir().unwrap();
    let listing = |d: &std::path::Path| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>();
    // the report directory
    std::fs::remove_dir_all(r.exp().join("report")).ok();
    std::os::unix::fs::symlink(elsewhere.path(), r.exp().join("report")).unwrap();
    let o = r.report("probe.tex", "probe.tex", &t);
    report_error(&o, &["report", "is a symbolic link"]).unwrap();
    assert!(listing(elsewhere.path()).is_empty(), "{:?}", listing(elsewhere.path()));
    std::fs::remove_file(r.exp().join("report")).unwrap();
    // one report output
    std::fs::create_dir_all(r.exp().join("report")).unwrap();
    let target = elsewhere.path().join("target.tex");
    std::fs::write(&target, "untouched\n").unwrap();
    std::os::unix::fs::symlink(&target, r.exp().join("report/probe.tex")).unwrap();
    let o = r.report("probe.tex", "probe.tex", &t);
    report_error(&o, &["probe.tex", "is a symbolic link"]).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
    // the artifacts directory and a cell file, when cells rerun
    let m = repo().join("tests/manifests/two.toml");
    let res = r.res.path().to_str().unwrap();
    std::fs::rename(r.exp().join("artifacts"), elsewhere.path().join("moved")).ok();
    std::os::unix::fs::symlink(elsewhere.path(), r.exp().join("artifacts")).unwrap();
    let before = listing(elsewhere.path());
    let o = run(&["run", m.to_str().unwrap(), "--results", res, "-q", "--no-report", "--no-env", "--force"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("artifacts is a symbolic link"), "{}", stderr(&o));
    assert_eq!(listing(elsewhere.path()), before);
    std::fs::remove_file(r.exp().join("artifacts")).unwrap();
    let cell =
        std::fs::read_dir(r.exp()).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.')).unwrap();
    std::fs::remove_file(&cell).unwrap();
    std::os::unix::fs::symlink(&target, &cell).unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", res, "-q", "--no-report", "--no-env", "--force"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a symbolic link") && !stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
    // the Slurm script directory
    let slurm = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(slurm.path(), r.exp().join("slurm")).unwrap();
    let o = run(&["plan", m.to_str().unwrap(), "--results", res, "--no-env", "--emit", "slurm"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(listing(slurm.path()).is_empty(), "{:?}", listing(slurm.path()));
    // the experiment directory itself
    let other = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(other.path(), root.path().join("two")).unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", root.path().to_str().unwrap(), "-q", "--no-env"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(listing(other.path()).is_empty(), "{:?}", listing(other.path()));
}

#[test]
fn a_failed_report_write_leaves_no_temp_file() {
    let r = Rendered::new();
    let t = repo().join("tests/templates");
    // the output path is taken by a directory: the rename fails after the temp file is written
    std::fs::create_dir_all(r.exp().join("report/probe.tex")).unwrap();
    let o = r.report("probe.tex", "probe.tex", &t);
    report_error(&o, &["probe.tex"]).unwrap();
    let left: Vec<_> = std::fs::read_dir(r.exp().join("report")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".tmp-")).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The ```tex block under "## A complete user template" of docs/reports.md.
fn documented_user_template() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/reports.md")).unwrap();
    let section = doc.split("## A complete user template").nth(1).expect("docs/reports.md has the user-template section");
    let body = section.split("```tex\n").nth(1).expect("a ```tex block");
    body.split("\n```").next().unwrap().to_string() + "\n"
}

/// `\num{…}` contents of `s`, in order.
fn nums(s: &str) -> Vec<f64> {
    s.split("\\num{").skip(1).map(|t| t.split('}').next().unwrap().parse::<f64>().unwrap_or_else(|e| panic!("\\num{{{t}: {e}"))).collect()
}

/// `$m\times10^{e}$` (or `$m$`) → m·10^e.
fn sci_value(s: &str) -> f64 {
    let inner = s.trim().trim_matches('$');
    match inner.split_once("\\times10^{") {
        Some((m, e)) => m.parse::<f64>().unwrap() * 10f64.powi(e.trim_end_matches('}').parse().unwrap()),
        None => inner.parse().unwrap(),
    }
}

#[test]
fn the_documented_user_template_renders_its_numbers_as_latex_without_safe_and_compiles() {
    let tdir = tempfile::tempdir().unwrap();
    let tpl = documented_user_template();
    assert!(!tpl.contains("safe"), "the documented template must not need `| safe`");
    std::fs::write(tdir.path().join("probe-summary.tex"), &tpl).unwrap();
    std::fs::copy(repo().join("templates/flowlab-preamble.tex"), tdir.path().join("flowlab-preamble.tex")).unwrap();
    let res = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("tests/manifests/two.toml")).unwrap();
    let m = res.path().join("two.toml");
    std::fs::write(&m, format!("{}[[report]]\ntemplate = \"probe-summary.tex\"\noutput = \"probe-summary.tex\"\n", text.split("[[report]]").next().unwrap())).unwrap();
    let (ms, rs, ts) = (m.to_str().unwrap(), res.path().to_str().unwrap(), tdir.path().to_str().unwrap());
    let o = run(&["run", ms, "--results", rs, "--templates", ts, "--set", "experiment.replicates=3", "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = std::fs::read_to_string(res.path().join("two/report/probe-summary.tex")).unwrap();
    // the filters' LaTeX is not escaped; plain text is
    assert!(!out.contains("\\textbackslash") && !out.contains("\\$"), "{out}");
    assert!(out.contains("P\\_mix \\#2 \\& 50\\% (3 replicates"), "{out}");
    // every sweep point's row: mean ± sd over the replicates, replicate 0 in sci and siunitx,
    // against the stored cells
    let cells: Vec<serde_json::Value> = cells(&res.path().join("two")).into_values().filter(|c| c["kind"] == "task").collect();
    let mut rows = 0;
    for (task, values) in [("a", vec![1, 2, 3]), ("b", vec![10, 20])] {
        for v in values {
            let mut reps: Vec<&serde_json::Value> = cells.iter().filter(|c| c["task"] == task && c["point"][format!("{task}.value")] == v).collect();
            reps.sort_by_key(|c| c["replicate"].as_u64());
            assert_eq!(reps.len(), 3);
            let xs: Vec<f64> = reps.iter().map(|c| c["response"]["metrics"]["mean"].as_f64().unwrap()).collect();
            let mean = xs.iter().sum::<f64>() / 3.0;
            let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
            let label = format!("value = {v} & ");
            let row = out.lines().find(|l| l.starts_with(&label)).unwrap_or_else(|| panic!("no row {label:?} in\n{out}"));
            let cols: Vec<&str> = row.trim_end_matches(" \\\\").split(" & ").collect();
            assert_eq!(cols.len(), 4, "{row}");
            let ms = nums(cols[1]);
            assert!(cols[1].contains("$\\pm$") && cols[1].ends_with("~(3)"), "{row}");
            let decimals = cols[1].split("\\num{").nth(1).unwrap().split('}').next().unwrap().split('.').nth(1).map_or(0, str::len);
            let unit = 0.5 * 10f64.powi(-(decimals as i32)) + 1e-12;
            assert!((ms[0] - mean).abs() <= unit && (ms[1] - sd).abs() <= unit, "{row}: mean {mean} sd {sd}");
            assert!((sci_value(cols[2]) - xs[0]).abs() <= 0.005 * xs[0].abs(), "{row}: {}", xs[0]);
            assert!((nums(cols[3])[0] - xs[0]).abs() <= 0.0005 * xs[0].abs(), "{row}: {}", xs[0]);
            rows += 1;
        }
    }
    assert_eq!(rows, 5);
    // every replicate, labelled by its sweep point and replicate, to three decimals
    for c in &cells {
        let label = format!(
            "{}, value = {}; replicate {}: {:.3}",
            c["task"].as_str().unwrap(),
            c["point"].as_object().unwrap().values().next().unwrap(),
            c["replicate"],
            c["response"]["metrics"]["mean"].as_f64().unwrap()
        );
        assert!(out.contains(&label), "{label} not in\n{out}");
    }
    if std::process::Command::new("pdflatex").arg("--version").output().is_ok() {
        let o = run(&["report", ms, "--results", rs, "--templates", ts, "--set", "experiment.replicates=3", "--pdf", "--no-env"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(res.path().join("two/report/probe-summary.pdf").is_file());
    }
}

#[test]
fn a_misused_number_filter_is_a_report_error_naming_the_template_and_line() {
    let r = Rendered::new();
    let t = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 5] = [
        ("not_a_number.tex", "a\n{# {{ 1 | sci }} #}\n{{ experiment.name | sci(digits=2) }}\n", &["not_a_number.tex", "line 3", "filter `sci`", "expects a number, got \"two\""]),
        ("unknown_arg.tex", "{% for c in cells %}\n{{ c.seed | length }} {{ 1.5 | fixed(digit=2) }}\n{% endfor %}\n", &["unknown_arg.tex", "line 2", "filter `fixed`", "unknown argument `digit`"]),
        ("bad_digits.tex", "\n\n\n{{ 2.5 | siunitx(digits=\"x\") }}\n", &["bad_digits.tex", "line 4", "filter `siunitx`", "`digits` must be a whole number"]),
        ("bad_sep.tex", "{{ 12345 | thousands(sep=3) }}\n", &["bad_sep.tex", "line 1", "`sep` must be a string"]),
        ("not_an_array.tex", "x\n{{ 3 | mean_sd }}\n", &["not_an_array.tex", "line 2", "filter `mean_sd`", "expects an array of numbers"]),
    ];
    let mut failures = Vec::new();
    for (name, text, parts) in cases {
        std::fs::write(t.path().join(name), text).unwrap();
        let o = r.report(name, "out.tex", t.path());
        if let Err(e) = report_error(&o, parts) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_shipped_report_template_declares_its_capabilities_and_plugins_lists_it() {
    let mut declared: Vec<(String, String, String)> = Vec::new();
    for sub in std::fs::read_dir(repo().join("templates")).unwrap().flatten().filter(|e| e.path().is_dir()) {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            let rel = format!("{}/{}", sub.file_name().to_string_lossy(), f.file_name().to_string_lossy());
            let first = std::fs::read_to_string(f.path()).unwrap().lines().next().unwrap_or("").to_string();
            let caps = first
                .strip_prefix("{# for: ")
                .and_then(|l| l.split("; shows:").next())
                .unwrap_or_else(|| panic!("{rel}: the first line must be `{{# for: PLUGIN CAPABILITY, …; shows: … #}}\\documentclass…`, not {first:?}"));
            for c in caps.split(", ") {
                let (p, k) = c.split_once(' ').unwrap_or_else(|| panic!("{rel}: `{c}` is not `PLUGIN CAPABILITY`"));
                declared.push((rel.clone(), p.to_string(), k.to_string()));
            }
        }
    }
    assert!(declared.len() >= 12, "{declared:?}");
    let mut failures = Vec::new();
    for plugin in ["histfit", "endhost", "sampler", "lstm"] {
        let o = run(&["plugins", plugin]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let listing = out.split("report templates (in ").nth(1).unwrap_or_else(|| panic!("`flowlab plugins {plugin}` lists no templates:\n{out}"));
        for (rel, _, cap) in declared.iter().filter(|d| d.1 == plugin) {
            // the template is listed under its capability's heading
            let under = listing.split(&format!("\n  {cap}:\n")).nth(1).map(|s| s.split("\n  ").take_while(|l| l.starts_with("  ")).collect::<Vec<_>>().join("\n"));
            if !under.is_some_and(|u| u.contains(rel.as_str())) {
                failures.push(format!("{plugin} {cap}: {rel} not listed in\n{listing}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A stored `fit` cell of histfit as the templates see it (only the fields they read).
fn fit_cell(task: &str, iterations: u64, rep: u64, components: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "kind": "task", "task": task, "plugin": "histfit", "capability": "fit", "cell_id": format!("{task}{iterations}{rep}"),
        "dataset": {"id": "all-length"}, "replicate": rep, "status": "ok", "artifact_dir": "x",
        "point": {format!("{task}.iterations"): iterations}, "settings": {"column": "flows", "iterations": iterations},
        "timing": {"wall_s": 0.5},
        "response": {"iterations": iterations, "termination": "max_iters", "artifacts": [],
            "metrics": {"ll_per_unit": -2.5, "kl_nats": 0.0012, "ks": 0.01, "tv": 0.02, "bic": 18881947868.0, "components": 2, "k": 5, "ll_saturated_per_unit": -2.4, "ks_at_x": 7},
            "data": {"column": "flows", "fitter": "em-compat", "trace": [], "components": components}}
    })
}

/// The context `flowlab report` gives a template, over `cells` (labelled and grouped by the
/// runner's own helpers).
fn context_of(mut cells: Vec<serde_json::Value>, replicates: u32) -> serde_json::Value {
    flowlab::report_context::label_cells(&mut cells, replicates);
    let mut tasks = serde_json::Map::new();
    for c in &cells {
        tasks.entry(c["task"].as_str().unwrap().to_string()).or_insert_with(|| serde_json::json!([])).as_array_mut().unwrap().push(c.clone());
    }
    let groups: serde_json::Map<String, serde_json::Value> = tasks.iter().map(|(k, v)| (k.clone(), serde_json::Value::Array(flowlab::report_context::groups(v.as_array().unwrap())))).collect();
    serde_json::json!({"experiment": {"name": "t", "description": "d", "seed": 1, "replicates": replicates, "metadata": {}}, "cells": cells, "tasks": tasks, "groups": groups, "datasets": [], "failed": 0})
}

#[test]
fn the_fit_report_names_sweep_points_and_flags_a_degenerate_component() {
    let comps = |sigma: f64| serde_json::json!([{"family": "uniform", "weight": 0.4, "shape": null, "scale": 1.0}, {"family": "lognorm", "weight": 0.6, "shape": sigma, "scale": 7.8}]);
    let cells = vec![fit_cell("fit", 200, 0, comps(2.220446049250313e-16)), fit_cell("fit", 400, 0, comps(0.52))];
    let text = std::fs::read_to_string(repo().join("templates/histfit/fit.tex")).unwrap();
    let out = flowlab::report::render_json("histfit/fit.tex", &text, &context_of(cells, 1)).unwrap();
    // one heading per sweep point, named by the swept setting
    for it in [200, 400] {
        assert_eq!(out.matches(&format!("\\subsection*{{fit: iterations = {it} -- flows, em-compat}}")).count(), 1, "{out}");
        assert!(out.contains(&format!("fit & iterations = {it} & flows & em-compat")), "{out}");
    }
    // the tiny σ in scientific notation and flagged; the healthy one not
    assert!(out.contains("\\num{2.22e-16} & \\num{7.8000} & degenerate$^\\ddagger$"), "{out}");
    assert!(out.contains("\\num{0.520000} & \\num{7.8000} & "), "{out}");
    assert!(!out.contains("0.000000000000000"), "{out}");
    assert_eq!(out.matches("degenerate$^\\ddagger$").count(), 1, "{out}");
    assert_eq!(out.matches("$^\\ddagger$ degenerate: a shape below").count(), 1, "{out}");
    // every table has a caption and a label
    assert_eq!(out.matches("\\begin{table}").count(), out.matches("\\caption{").count());
    assert_eq!(out.matches("\\begin{table}").count(), out.matches("\\label{").count());
}

#[test]
fn the_makefile_report_gives_delta_bic_and_flags_picks_on_the_grid_edge() {
    // two selections over the grid U in {0, 3}, L in {2, 4, 8}: one picks L = 8 (the edge),
    // the other L = 4 (inside); BIC values from a fixed formula
    let bic = |u: u64, l: u64, shift: f64| 1.0e9 + shift + 1000.0 * ((l as f64) - 5.0).powi(2) + 10.0 * u as f64;
    let sel = |task: &str, shift: f64, pick_l: u64| {
        let mut cands = vec![];
        for u in [0u64, 3] {
            for l in [2u64, 4, 8] {
                let b = bic(u, l, shift) - if l == pick_l && u == 0 { 1.0e4 } else { 0.0 };
                cands.push(serde_json::json!({"uniform": u, "lognorm": l, "counts": format!("uniform{u} lognorm{l}"), "bic": b, "aic": b - 500.0 * (u + l) as f64, "kl_nats": 0.01, "iterations": 200, "termination": "max_iters"}));
            }
        }
        serde_json::json!({"kind": "task", "task": task, "plugin": "histfit", "capability": "selection", "dataset": {"id": "all-length"}, "replicate": 0, "status": "ok", "point": {},
            "settings": {"column": "flows", "grid": {"uniform": [0, 3], "lognorm": [2, 4, 8]}},
            "response": {"candidates": cands, "data": {"selected": {"uniform": 0, "lognorm": pick_l, "counts": format!("uniform0 lognorm{pick_l}")}}}})
    };
    let (edge, inside) = (sel("select-a", 0.0, 8), sel("select-b", 5.0, 4));
    let expect: Vec<(String, f64, f64)> = [&edge, &inside]
        .iter()
        .flat_map(|s| {
            let cs = s["response"]["candidates"].as_array().unwrap().clone();
            let min_b = cs.iter().map(|c| c["bic"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
            let min_a = cs.iter().map(|c| c["aic"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
            cs.into_iter().map(move |c| (c["counts"].as_str().unwrap().to_string(), c["bic"].as_f64().unwrap() - min_b, c["aic"].as_f64().unwrap() - min_a))
        })
        .collect();
    let text = std::fs::read_to_string(repo().join("templates/histfit/makefile.tex")).unwrap();
    let out = flowlab::report::render_json("histfit/makefile.tex", &text, &context_of(vec![edge, inside], 1)).unwrap();
    assert!(out.contains("\\emph{select-a} (all-length, flows): pick uniform0 lognorm8$^\\dagger$ (grid edge)"), "{out}");
    assert!(out.contains("\\emph{select-b} (all-length, flows): pick uniform0 lognorm4}"), "{out}");
    // one row per candidate: U & L & BIC & ΔBIC & ΔAIC & …, Δ against the selection's best
    let rows: Vec<Vec<f64>> = out.lines().filter(|l| l.starts_with("0 & ") || l.starts_with("3 & ")).map(nums).collect();
    assert_eq!(rows.len(), expect.len(), "{out}");
    for (row, (counts, db, da)) in rows.iter().zip(&expect) {
        assert!((row[1] - db).abs() < 0.05 && (row[2] - da).abs() < 0.05, "{counts}: {row:?} against ΔBIC {db}, ΔAIC {da}");
    }
    assert_eq!(rows.iter().filter(|r| r[1] == 0.0).count(), 2, "one best per selection");
}

/// A manifest kept outside the repository (no `templates/` beside or above it) renders its
/// reports with the templates beside the executable's build (`target/…/flowlab` → the
/// repository's `templates/`, docs/reports.md).
#[test]
fn a_manifest_outside_the_repository_renders_with_the_builds_templates() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("quickstart.toml");
    std::fs::copy(repo().join("experiments/quickstart.toml"), &m).unwrap();
    let res = dir.path().join("results");
    let o = flowlab().env_remove("FLOWLAB_TEMPLATES").current_dir(dir.path()).args(["run", "-q", m.to_str().unwrap(), "--results", res.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let tex = std::fs::read_to_string(res.join("quickstart/report/summary.tex")).unwrap();
    assert!(tex.contains("\\begin{document}") || tex.contains("tabular"), "{tex}");
}

#[test]
fn a_misspelt_report_template_stops_the_run_before_any_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("tests/manifests/probe.toml")).unwrap().replace("#:schema ../../schemas/manifest.schema.json\n", "")
        + "\n[[report]]\ntemplate = \"prob.tex\"\noutput = \"p.tex\"\n";
    let m = tmp.path().join("probe.toml");
    std::fs::write(&m, text).unwrap();
    let res = tmp.path().join("results");
    let templates = repo().join("tests/templates");
    for cmd in ["plan", "run"] {
        let o = run(&[cmd, m.to_str().unwrap(), "--results", res.to_str().unwrap(), "--templates", templates.to_str().unwrap(), "--no-env"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("template `prob.tex`") && stderr(&o).contains("did you mean `probe.tex`?"), "{cmd}: {}", stderr(&o));
    }
    assert!(!res.join("probe").exists(), "no cell ran");
    // --no-report runs the cells
    let o = run(&["run", m.to_str().unwrap(), "--results", res.to_str().unwrap(), "--no-report", "-q", "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `flowlab report` with a --results that holds no run of the experiment (a typo) says so
/// and leaves nothing behind: it used to create `<root>/<experiment>/results.jsonl` first.
#[test]
fn report_on_a_results_root_without_the_experiment_creates_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("typo");
    let o = run(&["report", "experiments/quickstart.toml", "--results", root.to_str().unwrap(), "--no-env"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no stored results under"), "{}", stderr(&o));
    assert!(!root.exists(), "{} was created", root.display());
}
