//! Progress lines: a finished cell's line names its task, dataset, replicate and sweep point
//! and how long it took (README: commands).
use crate::common::*;

#[test]
fn finished_cell_lines_name_the_sweep_point_and_the_time() {
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", "tests/manifests/probe.toml", "--results", res.path().to_str().unwrap(), "--no-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    let line = e.lines().find(|l| l.contains(" probe - rep 1 value=4 ok ")).unwrap_or_else(|| panic!("{e}"));
    assert!(line.starts_with('[') && line.ends_with(" s"), "{line}");
    assert!(e.lines().any(|l| l.contains(" gen - rep 0 ok ")), "{e}");
    // a rerun names the point too
    let o = run(&["run", "tests/manifests/probe.toml", "--results", res.path().to_str().unwrap(), "--no-env"]);
    assert!(stderr(&o).lines().any(|l| l.ends_with(" probe - rep 0 value=5 cached")), "{}", stderr(&o));
}
