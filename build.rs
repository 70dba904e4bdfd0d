//! Records the build's provenance (git commit and dirty flag, rustc version, target, profile)
//! as compile-time environment variables for result provenance.
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = run("git", &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = run("git", &["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_v = run(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FLOWLAB_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=FLOWLAB_GIT_DIRTY={}", dirty.map(|d| d.to_string()).unwrap_or_else(|| "unknown".into()));
    println!("cargo:rustc-env=FLOWLAB_RUSTC={rustc_v}");
    println!("cargo:rustc-env=FLOWLAB_TARGET={}", std::env::var("TARGET").unwrap_or_default());
    println!("cargo:rustc-env=FLOWLAB_PROFILE={}", std::env::var("PROFILE").unwrap_or_default());
    // the runner at a fixed address: the loader no longer rewrites 1.6 MB of relocated
    // read-only data at every start (docs/design.md §2, "A position-dependent runner")
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    for p in [".git/HEAD", ".git/index", "build.rs"] {
        if std::path::Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
