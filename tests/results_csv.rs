//! `results.csv` is ready for analysis: wall time, every effective setting of each task
//! (defaults included, tables flattened) beside the metrics, and the README's pandas lines run
//! on it.
use crate::common::*;

/// A fit benchmark in miniature, named as the README's example expects.
const BENCH: &str = r#"[experiment]
name = "fit-benchmark"
seed = 3

[[dataset]]
id = "all-length"
plugin = "histfit"
capability = "generate_hist"
[dataset.settings]
flows = 20000

[[fit]]
id = "bench"
plugin = "histfit"
families = { uniform = 2, lognorm = 2 }
plots = false

[sweep]
"bench.fitter" = ["em-compat", "em-binned"]
"bench.iterations" = [20, 40]
"#;

fn run_bench() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("fit-benchmark.toml");
    std::fs::write(&m, BENCH).unwrap();
    let o = run(&["run", m.to_str().unwrap(), "--results", dir.path().join("results").to_str().unwrap(), "--no-env", "--no-report", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

#[test]
fn csv_has_wall_time_and_every_effective_setting() {
    let dir = run_bench();
    let text = std::fs::read_to_string(dir.path().join("results/fit-benchmark/results.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |k: &str| head.iter().position(|h| *h == k).unwrap_or_else(|| panic!("no column `{k}` in {head:?}"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 5, "1 dataset + 4 fits");
    for r in rows.iter().filter(|r| r[col("task")] == "bench") {
        assert!(r[col("wall_s")].parse::<f64>().unwrap() > 0.0);
        // given, swept and defaulted settings alike; the map flattened to one column per key
        assert_eq!(r[col("bench.families.lognorm")], "2");
        assert_eq!(r[col("bench.families.uniform")], "2");
        assert_eq!(r[col("bench.column")], "flows", "a default is an effective setting");
        assert_eq!(r[col("bench.starts")], "1");
        assert_eq!(r[col("bench.plots")], "false");
        assert!(["em-compat", "em-binned"].contains(&r[col("bench.fitter")]));
        assert!(r[col("kl_nats")].parse::<f64>().unwrap() > 0.0);
        // the dataset's settings are the dataset row's, not the fit's
        assert_eq!(r[col("all-length.flows")], "");
    }
    let ds = rows.iter().find(|r| r[col("task")] == "all-length").unwrap();
    assert_eq!(ds[col("all-length.flows")], "20000");
    assert_eq!(ds[col("all-length.bin_exp")], "12", "the generator's default");
    // a swept key is one column, not two
    assert_eq!(head.iter().filter(|h| **h == "bench.iterations").count(), 1);
}

#[test]
fn readme_pandas_lines_run_on_a_results_csv() {
    let Some(py) = python_with("pandas") else { return };
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("```python\nimport pandas as pd\n").expect("README has the pandas lines") + "```python\n".len();
    let code = &readme[start..start + readme[start..].find("```").unwrap()];
    let dir = run_bench();
    let o = std::process::Command::new(&py).args(["-c", code]).current_dir(dir.path()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    // two fitters x one starts value, two iteration counts per measure
    assert!(out.contains("em-binned") && out.contains("em-compat") && out.contains("kl_nats") && out.contains("wall_s"), "{out}");
    assert!(out.contains("20") && out.contains("40"), "{out}");
}
