//! Comments and docs cite files of this repository only (docs/design.md, the plugin pages
//! under docs/): no line of a tracked file may point at study notes, design documents or
//! issues that are not in the repository, or at paths of one machine. The oracles the tests
//! need from outside (docs/design.md §9) are reached through environment variables whose
//! defaults are the few code lines of [`ALLOWED`].
use crate::common::repo;
use std::path::{Path, PathBuf};

/// What may not appear, and why. Written in pieces (`concat!`) so that this file does not
/// contain the citations it forbids.
const FORBIDDEN: &[(&str, &str)] = &[
    (concat!("spec", " §"), "cites a section of a spec that is not in the repository"),
    (concat!("spec", "s/"), "names the study notes outside the repository"),
    (concat!("design", " notes"), "cites design documents that are not in the repository (docs/design.md is)"),
    ("../shared/", "points outside the repository"),
    (concat!("shared/", "reference"), "points at the reference directory outside the repository"),
    ("shared/specs", "points at the study notes outside the repository"),
    ("/work/", "a path of one machine"),
];

/// The exceptions: (file, text on the line). Each is a default of an environment variable
/// (docs/design.md §9) or the CI script's data and reference paths, never a citation.
const ALLOWED: &[(&str, &str)] = &[
    (".ci/run", "SHARED=$(cd \"$ROOT/../shared\""),
    ("benches/histfit_binned_vs_probe.sh", "DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}"),
    ("benches/histfit_generate_vs_fm.sh", "DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}"),
    ("benches/histfit_hist_vs_fm.sh", "DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}"),
    ("scripts/plot_vs_flow_models.sh", "DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}"),
    ("benches/histfit_makefile.sh", "DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}"),
    ("benches/histfit_vs_python.sh", "DATA=${FLOWLAB_DATA_DIR:-$ROOT/../shared/data}"),
    ("plugins/histfit/tests/common/mod.rs", "\"/../../../shared/data\""),
    ("plugins/histfit/benches/fit.rs", "\"/../../../shared/data\""),
    ("plugins/lstm/tests/common/mod.rs", "\"/../../../shared/data\""),
    ("plugins/sampler/tests/common/mod.rs", "\"/../../../shared/data\""),
    ("tests/common.rs", "repo().join(\"../shared/data\")"),
    ("docs/design.md", "kept beside the checkout in `../shared/data`"),
];

/// The tracked files (`git ls-files`), or every file below the repository outside `target/`
/// and `.git/` when git is not available (a source archive).
fn tracked(root: &Path) -> Vec<PathBuf> {
    if let Ok(o) = std::process::Command::new("git").arg("-C").arg(root).args(["ls-files", "-z"]).output()
        && o.status.success()
        && !o.stdout.is_empty()
    {
        return o.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()).map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned())).collect();
    }
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel)).into_iter().flatten().flatten() {
            let r = rel.join(e.file_name());
            let t = e.file_type().unwrap();
            if t.is_dir() && !matches!(e.file_name().to_str(), Some("target" | ".git")) {
                stack.push(r);
            } else if t.is_file() {
                out.push(r);
            }
        }
    }
    out
}

/// "issue N" (any case): a citation of an issue tracker that is not in the repository.
fn cites_issue(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.match_indices("issue ").any(|(i, m)| l[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// `file:line: why: text` for every forbidden line of `text` (a file of the repository).
fn violations(file: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut whys: Vec<&str> = FORBIDDEN.iter().filter(|(p, _)| line.contains(p)).map(|(_, why)| *why).collect();
        if cites_issue(line) {
            whys.push("cites an issue number (say the reason, or cite docs/)");
        }
        if whys.is_empty() || ALLOWED.iter().any(|(f, t)| *f == file && line.contains(t)) {
            continue;
        }
        out.push(format!("{file}:{}: {}: {}", n + 1, whys.join("; "), line.trim()));
    }
    out
}

#[test]
fn comments_and_docs_cite_only_files_of_the_repository() {
    let root = repo();
    let files = tracked(&root);
    assert!(files.len() > 100, "only {} files found below {}", files.len(), root.display());
    let mut bad = Vec::new();
    for rel in &files {
        let name = rel.to_string_lossy().replace('\\', "/");
        // this file spells the patterns out
        if name == "tests/citations.rs" {
            continue;
        }
        let Ok(bytes) = std::fs::read(root.join(rel)) else { continue };
        bad.extend(violations(&name, &String::from_utf8_lossy(&bytes)));
    }
    assert!(bad.is_empty(), "{} lines cite documents outside the repository (cite docs/…, or say the reason):\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn every_exception_is_still_needed() {
    // an exception whose line is gone would silently allow the next citation of that kind
    let root = repo();
    for (file, text) in ALLOWED {
        let body = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        assert!(body.lines().any(|l| l.contains(text)), "{file}: no line contains {text:?}: remove it from ALLOWED");
    }
}

#[test]
fn the_check_catches_each_pattern() {
    for (p, _) in FORBIDDEN {
        let line = format!("// see {p}3 for why");
        assert_eq!(violations("x.rs", &line).len(), 1, "{p}");
    }
    assert_eq!(violations("x.rs", "// the target of issue 4").len(), 1);
    assert_eq!(violations("x.rs", "// Issue 12: why").len(), 1);
    assert!(violations("x.rs", "// docs/design.md §3 Seeds; an issue with the data; paper §VI").is_empty());
    // an exception holds only in its own file
    assert!(violations("tests/common.rs", "    .unwrap_or_else(|| repo().join(\"../shared/data\"));").is_empty());
    assert_eq!(violations("tests/other.rs", "    .unwrap_or_else(|| repo().join(\"../shared/data\"));").len(), 1);
}
