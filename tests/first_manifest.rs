//! A first manifest of one's own, written as a new user writes it (README: quick start, then
//! `flowlab plugins histfit fit`), with the mistakes such a user makes: each gives exactly one
//! error that names the key, its line and what was expected, with an example.
use crate::common::*;

/// A small fit sweep over a generated histogram: valid as written.
const FIRST: &str = r#"[experiment]
name = "first"
seed = 7

[[dataset]]
id = "synthetic"
plugin = "histfit"
capability = "generate_hist"
[dataset.settings]
flows = 20000

[[fit]]
plugin = "histfit"
families = { uniform = 2, lognorm = 2 }

[sweep]
"fit.iterations" = [50, 100, 200]
"#;

/// `flowlab plan` of `text` (with extra args): exit code and the error lines of stderr.
fn plan_of(text: &str, extra: &[&str]) -> (Option<i32>, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("first.toml");
    std::fs::write(&m, text).unwrap();
    let mut args = vec!["plan", m.to_str().unwrap(), "--no-env", "--results"];
    let res = dir.path().join("results");
    args.push(res.to_str().unwrap());
    args.extend_from_slice(extra);
    let o = flowlab().args(&args).env("RUST_BACKTRACE", "1").env_remove("FLOWLAB_DATA_DIR").output().unwrap();
    let err = stderr(&o);
    let errors = err.lines().filter(|l| l.contains("error:")).map(str::to_string).collect();
    (o.status.code(), err, errors)
}

/// The 1-based line of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}`")) + 1
}

#[test]
fn the_first_manifest_plans() {
    let (code, err, errors) = plan_of(FIRST, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(errors.is_empty(), "{err}");
}

#[test]
fn a_list_where_a_table_is_expected_is_one_error_with_the_shape_and_an_example() {
    let text = FIRST.replace("families = { uniform = 2, lognorm = 2 }", "families = [\"lognorm\"]");
    let (code, err, errors) = plan_of(&text, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(errors.len(), 1, "one error, not one per sweep point:\n{err}");
    assert!(errors[0].contains(&format!("first.toml:{}:", line_of(&text, "families ="))), "{err}");
    assert!(errors[0].contains("families"), "{err}");
    assert!(!errors[0].contains("sweep point"), "the mistake is not the sweep's:\n{err}");
    assert!(err.contains("`families` expects a table of name = an integer in [0, 100], e.g. `families = { uniform = 6, lognorm = 4 }`"), "{err}");
    assert!(err.contains("`flowlab plugins histfit fit`"), "{err}");
}

#[test]
fn an_unknown_setting_in_a_swept_task_is_one_error() {
    let text = FIRST.replace("families = { uniform = 2, lognorm = 2 }", "families = { uniform = 2, lognorm = 2 }\niteration = 30");
    let (code, err, errors) = plan_of(&text, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(&format!("first.toml:{}:", line_of(&text, "iteration = 30"))), "{err}");
    assert!(errors[0].contains("unknown field `iteration`"), "{err}");
    assert!(err.contains("did you mean `iterations`? (`iterations` expects an integer in [1, 1000000], e.g. `iterations = 1`)"), "the nearest setting, its shape and an example:\n{err}");
}

#[test]
fn a_misspelt_section_with_a_sweep_is_one_error_at_the_section() {
    let text = FIRST.replace("[[fit]]", "[[fitt]]");
    let (code, err, errors) = plan_of(&text, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(errors.len(), 1, "the sweep key's error is a consequence:\n{err}");
    assert!(errors[0].contains(&format!("first.toml:{}:", line_of(&text, "[[fitt]]"))), "{err}");
    assert!(errors[0].contains("no task capability `fitt`"), "{err}");
    assert!(err.contains("did you mean `fit`?"), "{err}");
}

#[test]
fn a_misspelt_sweep_key_is_still_reported_when_the_task_is_fine() {
    let text = FIRST.replace("\"fit.iterations\"", "\"fitt.iterations\"");
    let (code, err, errors) = plan_of(&text, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(&format!("first.toml:{}:", line_of(&text, "fitt.iterations"))), "{err}");
    assert!(err.contains("did you mean `fit.…`?"), "{err}");
}

#[test]
fn a_data_file_without_a_data_directory_is_one_error() {
    let text =
        FIRST.replace("plugin = \"histfit\"\ncapability = \"generate_hist\"\n[dataset.settings]\nflows = 20000\n", "path = \"{data}/agh_2015/histograms/all/length.csv\"\nformat = \"csv_hist\"\n");
    let (code, err, errors) = plan_of(&text, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(errors.len(), 1, "no consequential 'has no dataset' errors:\n{err}");
    assert!(errors[0].contains(&format!("first.toml:{}:", line_of(&text, "path ="))), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
    assert!(!err.contains("declare a [[dataset]]"), "{err}");
}

#[test]
fn a_generated_dataset_of_the_wrong_format_is_one_error() {
    let text = FIRST.replace("capability = \"generate_hist\"\n", "capability = \"generate_hist\"\nformat = \"csv_flow\"\n");
    let (code, err, errors) = plan_of(&text, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("writes format `csv_hist`, not `csv_flow`"), "{err}");
}
