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
        flowlab().args(["report", m.to_str().unwrap(), "--results", self.res.path().to_str().unwrap(), "--templates", templates.to_str().unwrap(), "--no-env"]).env("RUST_BACKTRACE", "1").output().unwrap()
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
    let cell = std::fs::read_dir(r.exp()).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.')).unwrap();
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
