//! Shared by the integration tests that run the Python reference: finds Python with numpy +
//! scipy (`FLOWLAB_PYTHON`, default `python3`) and the Python peer `endhost_ref.py` from the study's reference directory beside the
//! checkout (docs/design.md §9); `None`
//! (the test says it skipped) when either is missing, a panic under `FLOWLAB_REQUIRE_PYTHON=1`.
use std::path::PathBuf;
use std::process::Command;

/// (python, reference script) or None when the reference cannot run here.
pub fn python() -> Option<(String, PathBuf)> {
    let py = std::env::var("FLOWLAB_PYTHON").unwrap_or_else(|_| "python3".into());
    // the study's reference scripts live outside the repository (docs/design.md §9)
    let script = std::env::var_os("FLOWLAB_REFERENCE_DIR").map(|d| PathBuf::from(d).join("endhost_ref.py")).unwrap_or_default();
    let ok = Command::new(&py).args(["-c", "import numpy, scipy"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !ok || !script.exists() {
        let why = if ok { format!("no reference script endhost_ref.py in FLOWLAB_REFERENCE_DIR ({})", script.display()) } else { format!("`{py}` cannot import numpy and scipy") };
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_PYTHON", &why);
        return None;
    }
    Some((py, script))
}
