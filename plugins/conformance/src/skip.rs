//! Visible skips for tests that need something from outside the repository: the data
//! directory, the reference scripts, Python with flow-models or torch, a browser, nfdump, a C
//! compiler, root (docs/design.md §9 says where each comes from).
//!
//! A test that cannot run calls [`skip`] with the variable that would make the missing thing
//! required and a sentence saying what is missing and where it comes from:
//! - when that variable is `1` (CI sets every one, so nothing skips there) the test fails;
//! - otherwise "skipped: <test>: <why>" goes straight to the process's stderr at once (the test
//!   harness captures only `print!`/`eprint!`, so the line shows in every `cargo test` run),
//!   and when the test binary exits it prints how many of its tests skipped, and why.
use std::io::Write;
use std::sync::Mutex;

/// This binary's skips: (test, why, the variable that would forbid it).
static SKIPS: Mutex<Vec<(String, String, String)>> = Mutex::new(Vec::new());

unsafe extern "C" {
    fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
}

/// Prints the count at exit (registered with the first skip).
extern "C" fn summary() {
    let skips = SKIPS.lock().map(|s| s.clone()).unwrap_or_default();
    if skips.is_empty() {
        return;
    }
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "\n{} test(s) of this binary skipped:", skips.len());
    for (test, why, require) in &skips {
        let _ = writeln!(e, "  skipped: {test}: {why} ({require}=1 fails instead)");
    }
}

/// Marks the calling test as skipped because of `why`, or fails it when the environment
/// variable `require` is `1`. Returns so that the caller can `return` (or yield `None`).
pub fn skip(require: &str, why: &str) {
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{why}, and {require}=1 makes this required");
    }
    let test = std::thread::current().name().unwrap_or("(unnamed test)").to_string();
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {why} (set {require}=1 to fail instead)");
    let mut skips = SKIPS.lock().unwrap_or_else(|p| p.into_inner());
    if skips.is_empty() {
        // SAFETY: registers a plain `extern "C" fn()` that touches only this module's static
        unsafe {
            atexit(summary);
        }
    }
    skips.push((test, why.to_string(), require.to_string()));
}

/// The skips recorded so far in this process (for the tests of this module).
pub fn recorded() -> usize {
    SKIPS.lock().map(|s| s.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_skip_fails_and_is_not_recorded() {
        let before = recorded();
        // SAFETY: the variable is this test's own; no other test reads it
        unsafe { std::env::set_var("FLOWLAB_TEST_SKIP_REQUIRED", "1") };
        let r = std::panic::catch_unwind(|| skip("FLOWLAB_TEST_SKIP_REQUIRED", "the thing is missing"));
        let msg = r.expect_err("required").downcast::<String>().map(|s| *s).unwrap_or_default();
        assert!(msg.contains("FLOWLAB_TEST_SKIP_REQUIRED=1"), "{msg}");
        assert_eq!(recorded(), before);
    }
}
