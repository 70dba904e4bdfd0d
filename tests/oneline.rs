//! flow-models' one-line commands (`flowlab summary|fit|…` with flow-models' flags) against
//! flow-models 2.2 itself, run by the same test on the same input (docs/histfit.md, "Coming
//! from flow-models").
use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn in_dir(dir: &Path, args: &[&str]) -> Output {
    flowlab().current_dir(dir).args(args).output().expect("run flowlab")
}

/// Runs a Python snippet with flow-models importable; None = skipped (visibly).
fn python(code: &str, dir: &Path) -> Option<Output> {
    let py = python_with("flow_models.fit, flow_models.summary")?;
    let o = Command::new(py).current_dir(dir).args(["-c", code]).output().expect("python");
    assert!(o.status.success(), "python failed:\n{}", String::from_utf8_lossy(&o.stderr));
    Some(o)
}

fn fixture(name: &str) -> String {
    repo().join("plugins/histfit/tests/fixtures").join(name).to_string_lossy().into_owned()
}

/// Every number of two mixture JSONs agrees to `rel` relative (and the layout is the same).
fn same_mixture(a: &Value, b: &Value, rel: f64, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= rel * x.abs().max(y.abs()).max(1e-300), "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                same_mixture(p, q, rel, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}: keys");
            for (k, p) in x {
                same_mixture(p, &y[k], rel, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn summary_prints_flow_models_stdout_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = vec![fixture("small_length.csv")];
    if let Some(d) = data_dir() {
        for s in ["all/length.csv", "all/size.csv", "udp/size.csv"] {
            files.push(d.join("agh_2015/histograms").join(s).to_string_lossy().into_owned());
        }
    }
    for f in &files {
        let ours = in_dir(tmp.path(), &["summary", f, "-q"]);
        assert!(ours.status.success(), "{}", stderr(&ours));
        let Some(theirs) = python(&format!("import sys; sys.argv = ['summary', {f:?}]; from flow_models.summary import main; main()"), tmp.path()) else { return };
        assert!(ours.stdout == theirs.stdout, "{f}: summary stdout differs\nours:\n{}\nflow-models:\n{}", String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&theirs.stdout));
    }
}

/// flow-models' `save()` as its CLI would run it (its 2.2 `to_json` lost the `sum` keyword, so
/// the CLI crashes there; the values written are the same).
fn fm_fit(dir: &Path, file: &str, y: &str, iters: u32, counts: &[(&str, u32)], mpw: Option<f64>) -> Option<()> {
    let init: Vec<String> = counts.iter().map(|(k, n)| format!("'{k}': {n}")).collect();
    let mpw = mpw.map(|m| format!("{m:?}")).unwrap_or_else(|| "None".into());
    let code = format!(
        "import json, pathlib\nfrom flow_models.fit import fit\nfrom flow_models.lib.mix import to_json\n\
         args = {{'in_file': {file:?}, 'y_value': {y:?}, 'max_iter': {iters}, 'initial': {{{}}}, 'max_pareto_w': {mpw}}}\n\
         mix = fit(**args)\n\
         pathlib.Path('fm-{y}.json').write_text(to_json(mix['mix'], mix['sum']) + '\\n')\n\
         pathlib.Path('fm-{y}.mode').write_text(json.dumps({{k: v for k, v in args.items() if k != 'path'}}) + '\\n')\n",
        init.join(", ")
    );
    python(&code, dir).map(|_| ())
}

#[test]
fn fit_writes_flow_models_json_and_mode_in_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let small = fixture("small_length.csv");
    // (file, y, iterations, counts, mpw)
    type Case<'a> = (String, &'a str, u32, Vec<(&'a str, u32)>, Option<f64>);
    let mut cases: Vec<Case> = vec![(small.clone(), "flows", 60, vec![("U", 2), ("L", 2)], None), (small.clone(), "octets", 40, vec![("U", 1), ("P", 1), ("L", 2)], Some(0.05))];
    if let Some(d) = data_dir() {
        let all = d.join("agh_2015/histograms/all/length.csv").to_string_lossy().into_owned();
        cases.push((all.clone(), "flows", 400, vec![("U", 6), ("L", 4)], None));
        cases.push((all, "packets", 100, vec![("L", 1)], None));
    }
    for (file, y, iters, counts, mpw) in &cases {
        let mut args = vec!["fit".to_string(), "-q".into(), "-i".into(), iters.to_string(), "-y".into(), y.to_string(), file.clone()];
        for (k, n) in counts {
            args.push(format!("-{k}"));
            args.push(n.to_string());
        }
        if let Some(m) = mpw {
            args.push("--mpw".into());
            args.push(m.to_string());
        }
        let o = flowlab().current_dir(tmp.path()).args(&args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "flow-models' fit prints nothing on stdout");
        let Some(()) = fm_fit(tmp.path(), file, y, *iters, counts, *mpw) else { return };
        let read = |n: &str| std::fs::read_to_string(tmp.path().join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(read(&format!("{y}.mode")), read(&format!("fm-{y}.mode")), "{args:?}: .mode differs");
        let ours: Value = serde_json::from_str(&read(&format!("{y}.json"))).unwrap();
        let theirs: Value = serde_json::from_str(&read(&format!("fm-{y}.json"))).unwrap();
        same_mixture(&ours, &theirs, 1e-9, &format!("{args:?}"));
    }
}

/// With `--initial FILE` (and no counts) flow-models' `.mode` records the path as typed; a
/// mixture directory (flow-models' model layout) is recorded the same way.
#[test]
fn fit_from_an_initial_mixture_records_its_path_in_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let small = fixture("small_length.csv");
    let o = in_dir(tmp.path(), &["fit", "-q", "-i", "30", "-U", "2", "-L", "2", &small]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::create_dir(tmp.path().join("my model")).unwrap();
    std::fs::copy(tmp.path().join("flows.json"), tmp.path().join("my model/flows.json")).unwrap();
    std::fs::copy(tmp.path().join("flows.json"), tmp.path().join("start.json")).unwrap();
    for initial in ["start.json", "my model", "./my model/"] {
        let o = in_dir(tmp.path(), &["fit", "-q", "-i", "20", "--initial", initial, &small]);
        assert!(o.status.success(), "{initial}: {}", stderr(&o));
        let ours = std::fs::read_to_string(tmp.path().join("flows.mode")).unwrap();
        let code = format!("import json, sys\nsys.stdout.write(json.dumps({{'in_file': {small:?}, 'y_value': 'flows', 'max_iter': 20, 'initial': {initial:?}, 'max_pareto_w': None}}) + '\\n')");
        let Some(theirs) = python(&code, tmp.path()) else { return };
        assert_eq!(ours, String::from_utf8(theirs.stdout).unwrap(), "--initial {initial}");
    }
}

#[test]
fn print_manifest_reproduces_the_one_liner_as_an_experiment() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("small_length.csv"), tmp.path().join("h.csv")).unwrap();
    let args = ["fit", "-i", "30", "-U", "2", "-L", "1", "-y", "packets", "h.csv"];
    let o = in_dir(tmp.path(), &[&args[..], &["--print-manifest"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("families = { uniform = 2, lognorm = 1 }") && text.contains("path = \"h.csv\""), "{text}");
    std::fs::write(tmp.path().join("again.toml"), &text).unwrap();
    // the one-liner and the saved manifest plan the same cell: the second run finds it cached
    let o = in_dir(tmp.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = in_dir(tmp.path(), &["run", "again.toml", "--results", "results"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 ran ok, 1 cached"), "{}", stderr(&o));
}

#[test]
fn one_liners_refuse_what_flow_models_cannot_do_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("h.csv"), "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n1,2,5,5,500\n2,3,4,8,900\n").unwrap();
    for (args, want) in [
        (vec!["fit", "x.csv"], "give the component counts"),
        (vec!["fit", "--interactive", "-U", "1", "x.csv"], "flowlab serve"),
        (vec!["hist", "-o", "append", "x"], "Python API"),
        (vec!["summary", "missing.csv"], "missing.csv"),
        // a value out of range is told in the flag typed, not the generated manifest's setting
        (vec!["fit", "-i", "0", "-L", "2", "h.csv"], "flowlab fit: error: `-i` = 0 is below the minimum"),
        (vec!["fit", "-L", "400", "h.csv"], "flowlab fit: error: `-L` = 400 is above the maximum"),
        (vec!["fit", "--mpw", "2", "-P", "1", "h.csv"], "`--mpw` = 2.0 is above the maximum"),
        (vec!["hist", "-i", "csv_flow", "nothere"], "flowlab hist: error: `IN_FILES`: no such file"),
        // a count beyond a manifest integer is refused at the flag
        (vec!["generate", "-s", "18446744073709551615", "h.csv"], "'-s <SIZE>': 18446744073709551615 is not in 0..=9223372036854775807"),
    ] {
        let o = flowlab().current_dir(tmp.path()).env("RUST_BACKTRACE", "1").args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("backtrace"), "{}", stderr(&o));
        // the manifest a one-liner runs is not saved: no error may send the user to it
        assert!(!stderr(&o).contains(".toml"), "{args:?}: {}", stderr(&o));
    }
}

/// On pandas ≥ 3 flow-models' csv_hist branch of `generate` fails (`np.clip(…, out=…)` on the
/// read-only array `Series.to_numpy()` returns under copy-on-write): the oracle hands it a
/// writable copy of the same values, nothing else changes.
const PANDAS3: &str = "import numpy as np, pandas as pd; _tn = pd.Series.to_numpy; pd.Series.to_numpy = lambda self, *a, **k: np.array(_tn(self, *a, **k), copy=True); ";

/// A small flow-models model directory (flows, packets, octets; uniform + lognorm components).
fn write_model(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mix = |sum: u64, m: &str| format!("{{\n  \"sum\": {sum},\n  \"mix\": [\n    {m}\n  ]\n}}\n");
    std::fs::write(dir.join("flows.json"), mix(1000000, "[0.4, \"uniform\", [0, 1]],\n    [0.25, \"uniform\", [0, 2]],\n    [0.35, \"lognorm\", [1.7, 0, 9.5]]")).unwrap();
    std::fs::write(dir.join("packets.json"), mix(20000000, "[0.1, \"uniform\", [0, 1]],\n    [0.9, \"lognorm\", [2.4, 0, 700.0]]")).unwrap();
    std::fs::write(dir.join("octets.json"), mix(9000000000, "[0.05, \"uniform\", [0, 2]],\n    [0.95, \"lognorm\", [2.6, 0, 90000.0]]")).unwrap();
}

#[test]
fn generate_writes_flow_models_csv_flow_and_binary_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    write_model(&tmp.path().join("my_mixture"));
    std::fs::copy(fixture("small_length.csv"), tmp.path().join("h.csv")).unwrap();
    let mut sources = vec!["my_mixture".to_string(), "h.csv".to_string()];
    if let Some(d) = data_dir() {
        sources.push(d.join("agh_2015/mixtures/all/length").to_string_lossy().into_owned());
    }
    let seeds = ["0", "1", "42", "2147483647"];
    let sizes = ["20", "3000"];
    // flow-models once for every case (one interpreter: its imports cost seconds)
    let mut jobs = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        for seed in seeds {
            for size in sizes {
                jobs.push(format!("({src:?}, 'fm-{i}-{seed}-{size}.csv', {size}, {seed})"));
            }
        }
    }
    let code = format!("{PANDAS3}from flow_models.generate import generate\nfor src, out, size, seed in [{}]:\n    generate(src, out, 'csv_flow', size, 'length', seed)\n", jobs.join(", "));
    let Some(_) = python(&code, tmp.path()) else { return };
    for (i, src) in sources.iter().enumerate() {
        for seed in seeds {
            for size in sizes {
                let ours = in_dir(tmp.path(), &["generate", "-q", "-x", "length", "-s", size, "--seed", seed, src]);
                assert!(ours.status.success(), "{src} {seed}: {}", stderr(&ours));
                let theirs = std::fs::read(tmp.path().join(format!("fm-{i}-{seed}-{size}.csv"))).unwrap();
                assert!(ours.stdout == theirs, "{src} seed {seed} size {size}: csv_flow differs from flow-models' generate");
                assert_eq!(String::from_utf8_lossy(&ours.stdout).lines().count(), size.parse::<usize>().unwrap());
            }
        }
    }
    // -o binary -O DIR: the same array files as flow-models'
    let ours = in_dir(tmp.path(), &["generate", "-q", "-o", "binary", "-O", "ours", "-s", "500", "--seed", "3", "my_mixture"]);
    assert!(ours.status.success(), "{}", stderr(&ours));
    let code = format!("{PANDAS3}import sys; sys.argv = ['generate', '-o', 'binary', '-O', 'theirs', '-s', '500', '--seed', '3', 'my_mixture']; from flow_models.generate import main; main()");
    let Some(_) = python(&code, tmp.path()) else { return };
    let mut names: Vec<String> = std::fs::read_dir(tmp.path().join("theirs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names.len(), 21, "{names:?}");
    for n in &names {
        assert_eq!(std::fs::read(tmp.path().join("ours").join(n)).unwrap(), std::fs::read(tmp.path().join("theirs").join(n)).unwrap(), "{n} differs");
    }
}

#[test]
fn hist_writes_flow_models_csv_hist_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    write_model(&tmp.path().join("my_mixture"));
    let o = in_dir(tmp.path(), &["generate", "-q", "-s", "20000", "--seed", "11", "-O", "flows.csv", "my_mixture"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cases: Vec<Vec<&str>> = vec![
        vec!["-x", "length"],
        vec!["-x", "length", "-b", "12"],
        vec!["-x", "size", "-b", "3", "-c", "duration", "-c", "rate"],
        vec!["-x", "size", "--filter-expr", "packets > 3 and octets < 100000"],
        vec!["-x", "length", "--skip-in", "100", "--count-in", "5000", "--skip-out", "7", "--count-out", "3000"],
        // flow-models writes `packets_sum` twice; flowlab too, and warns that its readers refuse it
        vec!["-x", "length", "-c", "packets"],
    ];
    let mut jobs = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let mut args = vec!["hist".to_string(), "-i".into(), "csv_flow".into()];
        args.extend(c.iter().map(|s| s.to_string()));
        args.push("flows.csv".into());
        let out = format!("ours-{i}.csv");
        let a: Vec<&str> = args.iter().map(String::as_str).chain(["-q", "-O", out.as_str()]).collect();
        let o = in_dir(tmp.path(), &a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let warned = stderr(&o).contains("warning: summary, fit and plot will refuse this histogram: the header holds `packets_sum` twice");
        assert_eq!(warned, c.contains(&"packets"), "{args:?}: {}", stderr(&o));
        let argv: Vec<String> = args.iter().map(|s| format!("{s:?}")).collect();
        jobs.push(format!("[{}, '-O', 'theirs-{i}.csv']", argv.join(", ")));
    }
    let code = format!("import sys\nfrom flow_models.hist import parser, hist\nfor argv in [{}]:\n    a = vars(parser().parse_args(argv[1:]))\n    hist(**a)\n", jobs.join(", "));
    let Some(_) = python(&code, tmp.path()) else { return };
    for (i, case) in cases.iter().enumerate() {
        let ours = std::fs::read(tmp.path().join(format!("ours-{i}.csv"))).unwrap();
        let theirs = std::fs::read(tmp.path().join(format!("theirs-{i}.csv"))).unwrap();
        assert!(ours == theirs, "{case:?}: csv_hist differs from flow-models' hist");
        assert!(ours.len() > 40, "{case:?}: empty");
    }
}

#[test]
fn plot_writes_flow_models_figures_in_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    write_model(&tmp.path().join("my_mixture"));
    std::fs::copy(fixture("small_length.csv"), tmp.path().join("h.csv")).unwrap();
    let o = in_dir(tmp.path(), &["plot", "-q", "h.csv", "my_mixture/", "-P", "comp_stack", "-C", "comp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["cdf", "pdf-flows", "pdf-packets", "pdf-octets", "avg-packets", "avg-octets", "avg-packet_size"] {
        let p = tmp.path().join(format!("{f}.png"));
        let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{f}.png: {e}"));
        assert_eq!(&b[1..4], b"PNG", "{f}.png");
        assert!(!tmp.path().join(format!("{f}.svg")).exists(), "flow-models' default is png only");
    }
    let o = in_dir(tmp.path(), &["plot", "-q", "--single", "--format", "pdf", "h.csv", "my_mixture/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(tmp.path().join("single.pdf")).unwrap().starts_with(b"%PDF"));
}
