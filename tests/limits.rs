//! Size settings: every integer setting of every capability of every
//! (non-test) plugin declares a `maximum` in its settings schema, `validate` enforces it with
//! an error naming the key and the allowed range, and the values 0, −1, 2^31, 2^53 and 10^18
//! are either rejected by validation or run as a cell that ends ok or failed — never an
//! abort, a panic or a signal.
//!
//! Bounded in time: every value is validated through the real C ABI
//! (`flowlab_abi::host::LoadedPlugin`); only the values that pass run, as cells of one
//! manifest per plugin under subprocess isolation with `timeout_s` and `memory_mb`, on tiny
//! data generated here.
use crate::common::*;
use flowlab_abi::host::{LoadedPlugin, find_plugin_file};
use serde_json::{Map, Value, json};
use std::path::Path;

const PLUGINS: [&str; 4] = ["endhost", "histfit", "lstm", "sampler"];
/// Integer settings that are not sizes: a generator seed may be any 64-bit value.
const NOT_SIZES: [&str; 2] = ["profile.seed", "sample.seed"];
const TIMEOUT_S: u32 = 30;

/// One step of a settings path: a key, every element of an array, every key of a map.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Items,
    Map,
}

fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        node = root.get("definitions").or_else(|| root.get("$defs")).and_then(|d| d.get(name)).unwrap_or_else(|| panic!("dangling {r}"));
    }
    node
}

fn is_int(node: &Value) -> bool {
    match node.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(a)) => a.iter().any(|t| t == "integer"),
        _ => false,
    }
}

/// Every integer leaf of a settings schema with its schema node.
fn int_leaves(root: &Value, node: &Value, path: Vec<Step>, out: &mut Vec<(Vec<Step>, Value)>) {
    let node = resolve(root, node);
    if is_int(node) {
        out.push((path.clone(), node.clone()));
    }
    if let Some(p) = node.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            let mut q = path.clone();
            q.push(Step::Key(k.clone()));
            int_leaves(root, v, q, out);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for v in node.get(key).and_then(Value::as_array).into_iter().flatten() {
            int_leaves(root, v, path.clone(), out);
        }
    }
    if let Some(items) = node.get("items").filter(|i| i.is_object()) {
        let mut q = path.clone();
        q.push(Step::Items);
        int_leaves(root, items, q, out);
    }
    if let Some(ap) = node.get("additionalProperties").filter(|a| a.is_object()) {
        let mut q = path.clone();
        q.push(Step::Map);
        int_leaves(root, ap, q, out);
    }
}

fn show(path: &[Step]) -> String {
    let mut s = String::new();
    for st in path {
        match st {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Items => s.push_str("[]"),
            Step::Map => s.push_str(".*"),
        }
    }
    s
}

/// Every way to put `v` at `path` in `base` (one per array element / map key met on the way;
/// missing containers are created), with the concrete dotted key path of each.
fn place(base: &Value, path: &[Step], v: &Value, key: String) -> Vec<(Value, String)> {
    let Some((first, rest)) = path.split_first() else { return vec![(v.clone(), key)] };
    let join = |k: &str| if key.is_empty() { k.to_string() } else { format!("{key}.{k}") };
    match first {
        Step::Key(k) => {
            let mut obj = base.as_object().cloned().unwrap_or_default();
            let child = obj.get(k).cloned().unwrap_or(Value::Null);
            place(&child, rest, v, join(k))
                .into_iter()
                .map(|(c, p)| {
                    obj.insert(k.clone(), c);
                    (Value::Object(obj.clone()), p)
                })
                .collect()
        }
        Step::Items => {
            let arr = base.as_array().cloned().filter(|a| !a.is_empty()).unwrap_or_else(|| vec![Value::Null]);
            (0..arr.len())
                .flat_map(|i| {
                    let arr = arr.clone();
                    place(&arr[i], rest, v, format!("{key}[{i}]")).into_iter().map(move |(c, p)| {
                        let mut a = arr.clone();
                        a[i] = c;
                        (Value::Array(a), p)
                    })
                })
                .collect()
        }
        Step::Map => {
            let obj = base.as_object().cloned().filter(|o| !o.is_empty()).unwrap_or_else(|| Map::from_iter([("lognorm".to_string(), Value::Null)]));
            obj.keys()
                .cloned()
                .collect::<Vec<_>>()
                .into_iter()
                .flat_map(|k| {
                    let obj = obj.clone();
                    place(&obj[&k], rest, v, join(&k)).into_iter().map(move |(c, p)| {
                        let mut o = obj.clone();
                        o.insert(k.clone(), c);
                        (Value::Object(o), p)
                    })
                })
                .collect()
        }
    }
}

/// Small, quick, valid settings of every capability, with every nested container present.
fn base(plugin: &str, cap: &str, dir: &Path) -> Value {
    let fitter = json!({"restarts_ep": 1, "restarts_eep": 1, "maxit": 20, "em_warmup": 2});
    match (plugin, cap) {
        ("endhost", "generate") => json!({"model": "EP", "theta": [0.5, 0.5, 2.0], "n": 50}),
        ("endhost", "generate_users") => json!({"users": 2, "windows": 20, "bin_seconds": [10.0]}),
        ("endhost", "fit") => json!({"models": ["P", "EP"], "fitter": fitter, "selection": {"order": ["P", "EP"]}}),
        ("endhost", "fit_users") => json!({"models": ["P"], "fitter": fitter, "min_n": 5}),
        ("endhost", "validate_fig1") => json!({"alphas": [1.5], "cases": 1, "n": 50, "fitter": fitter}),
        ("endhost", "validate_table2") => json!({"sizes": [20], "cases": 1, "truths": ["EP"], "fitter": fitter}),
        ("endhost", "generate_traces") => json!({"users": 2, "days": 0.05, "max_flows_per_window": 1000}),
        ("endhost", "fit_traces") => json!({"bin_seconds": [64.0], "hist_bin_seconds": 64.0, "composition_bin_seconds": 64.0, "min_n": 5, "top_ports": 4, "fitter": fitter}),
        ("histfit", "generate_hist") => json!({"flows": 100, "bin_exp": 4}),
        ("histfit", "fit") => json!({"families": {"uniform": 1, "lognorm": 1}, "iterations": 3, "starts": 1, "plots": false}),
        ("histfit", "selection") => json!({"grid": {"uniform": [1], "lognorm": [1, 2]}, "iterations": 3}),
        ("histfit", "generate") => json!({"flows": 10}),
        ("histfit", "summary" | "plot") => json!({}),
        ("histfit", "hist") => {
            let f = dir.join("records.csv_flow");
            let lines: String = (0..50).map(|i| format!("0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {}, {}, 0\n", 1 + i % 7, 64 * (1 + i % 7) + i)).collect();
            std::fs::write(&f, lines).unwrap();
            json!({"inputs": [f.to_str().unwrap()], "in_format": "csv_flow", "bin_exp": 2})
        }
        ("histfit", "fit_model") => {
            let f = dir.join("model-hist.csv");
            let rows: String =
                std::iter::once("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n".to_string()).chain((1..40u64).map(|k| format!("{k},{},{},{},{}\n", k + 1, 1000 / k, 1000, 64_000 * k))).collect();
            std::fs::write(&f, rows).unwrap();
            let col = json!({"families": {"uniform": 1, "lognorm": 1}, "iterations": 3});
            json!({"histogram": f.to_str().unwrap(), "flows": col, "packets": col, "octets": col})
        }
        ("lstm", "network") => {
            json!({"hidden": 4, "head": "linear", "batch": 4, "seq_len": 5, "epochs": 1, "eval_every": 1, "chunk_rows": 2, "plot_feature": 1, "plot_traffics": 1, "plots": false, "save_model": false, "cache_mb": 1})
        }
        ("lstm", "evaluate") => json!({"model": dir.join("no-model.lstm").to_str().unwrap(), "batch": 4, "chunk_rows": 2, "plots": false, "cache_mb": 1}),
        ("lstm", "synth_features") => json!({"traffics": 4, "dim": 3, "min_packets": 2, "max_packets": 5}),
        ("sampler", "sample") => json!({"rate": 0.5, "generations": 3, "population": 4, "parents": 2, "window_s": 5, "init_attempts": 8, "local_search": 5, "fitness": "windows",
            "metrics": [{"metric": "l4_protos", "top": 2}, {"metric": "pkt_size", "edges": [128, 512]}, {"metric": "windows", "seconds": 5}], "write_sample": false}),
        ("sampler", "profile") => json!({"rows": 20}),
        _ => panic!("no base settings for {plugin}/{cap}: add them here"),
    }
}

/// Tiny data files of every format the tasks read: (dataset id, path, format).
fn data(dir: &Path) -> Vec<(&'static str, String, &'static str)> {
    let w = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let counts: String = (0..200).map(|i| format!("{}\n", 1 + (i * 7919) % 13 / (1 + i % 3))).collect();
    let users: String = std::iter::once("user,bin_seconds,count\n".to_string()).chain((0..60).map(|i| format!("u{},10,{}\n", i % 2, 1 + i % 9))).collect();
    let hist: String =
        std::iter::once("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n".to_string()).chain((1..40u64).map(|k| format!("{k},{},{},{},{}\n", k + 1, 1000 / k, 1000, 64_000 * k))).collect();
    let feats: String = (0..8).map(|t| (0..3 + t % 4).map(|p| format!("[{}, {}, {}], ", p, t % 2, (p * t) % 5)).collect::<String>() + "\n").collect();
    let prof: String = std::iter::once(format!("{}\n", "START_TIME,END_TIME,L3_PROTO,L4_PROTO,SRC_PORT,DST_PORT,PACKETS,BYTES,PACKETS_REV,BYTES_REV"))
        .chain((0..40).map(|i| format!("{},{},4,{},{},443,{},{},1,60\n", i * 100, i * 100 + 50, if i % 3 == 0 { 17 } else { 6 }, 1000 + i, 1 + i % 5, 100 + 37 * i)))
        .collect();
    let flows: String = std::iter::once("user,start_time,proto,dst_port\n".to_string()).chain((0..200).map(|i| format!("u{},{}.5,tcp,{}\n", i / 100, i * 7 + (i % 5) * 3, 80 + i % 3))).collect();
    vec![
        ("records", w("flows.csv", flows), "flow_records"),
        ("counts", w("counts.txt", counts), "counts"),
        ("users", w("users.csv", users), "user_csv"),
        ("hist", w("hist.csv", hist), "csv_hist"),
        ("features", w("features.csv", feats), "lstm_features"),
        ("profile", w("profile.csv", prof), "flowtest_profile"),
    ]
}

fn toml_value(v: &Value) -> String {
    match v {
        Value::Object(m) => format!("{{ {} }}", m.iter().map(|(k, x)| format!("{:?} = {}", k, toml_value(x))).collect::<Vec<_>>().join(", ")),
        Value::Array(a) => format!("[{}]", a.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn table(header: &str, fields: &[(String, String)], settings: &Value) -> String {
    let mut s = format!("{header}\n");
    for (k, v) in fields {
        s.push_str(&format!("{k} = {v}\n"));
    }
    for (k, v) in settings.as_object().unwrap() {
        s.push_str(&format!("{:?} = {}\n", k, toml_value(v)));
    }
    s
}

#[test]
fn every_size_setting_is_bounded_and_no_value_aborts() {
    let work = tempfile::tempdir().unwrap();
    let files = data(work.path());
    let mut problems = Vec::new();
    let (mut leaves_seen, mut ran) = (0, 0);
    for name in PLUGINS {
        let p = LoadedPlugin::load(&find_plugin_file(name).unwrap_or_else(|| panic!("{name} not built"))).unwrap();
        // the cells that pass validation: (section, capability, settings, dataset or "")
        let mut runs: Vec<(String, Value, String)> = Vec::new();
        for c in &p.description.capabilities {
            let schema = &c.settings_schema;
            let b = base(name, &c.name, work.path());
            assert_eq!(p.validate(&c.name, &b), Ok(()), "{name}/{}: the base settings must be valid", c.name);
            let mut leaves = Vec::new();
            int_leaves(schema, schema, vec![], &mut leaves);
            for (path, node) in leaves {
                leaves_seen += 1;
                let full = format!("{}.{}", c.name, show(&path));
                let max = node.get("maximum").and_then(Value::as_u64);
                if max.is_none() && !NOT_SIZES.contains(&full.as_str()) {
                    problems.push(format!("{name}: `{full}` declares no maximum"));
                }
                // one past the maximum is rejected, naming the key and the range
                let past = max.map(|m| place(&b, &path, &json!(m + 1), String::new())).unwrap_or_default();
                for (s, key) in past {
                    let max = max.unwrap_or_default();
                    match p.validate(&c.name, &s) {
                        Ok(()) => problems.push(format!("{name}: `{key}` = {} (maximum + 1) passes validation", max + 1)),
                        Err(e) if e.path.as_deref() != Some(key.as_str()) || !e.message.contains(&format!(", {max}]")) => {
                            problems.push(format!("{name}: `{key}` = {}: error does not name the key and range: {:?} {}", max + 1, e.path, e.message))
                        }
                        Err(_) => {}
                    }
                }
                for v in [json!(0), json!(-1), json!(1u64 << 31), json!(1u64 << 53), json!(1_000_000_000_000_000_000u64)] {
                    for (s, key) in place(&b, &path, &v, String::new()) {
                        match p.validate(&c.name, &s) {
                            Ok(()) => runs.push((c.name.clone(), s, key)),
                            Err(e) if e.message.contains("panicked") => problems.push(format!("{name}: `{key}` = {v}: validate panicked: {}", e.message)),
                            Err(_) => {}
                        }
                    }
                }
            }
        }
        eprintln!("{name}: {} validated variants run as cells", runs.len());
        ran += runs.len();
        problems.extend(run_cells(name, &p.description, &runs, &files, work.path()));
    }
    assert!(leaves_seen >= 60, "only {leaves_seen} integer settings found");
    assert!(ran >= 20, "only {ran} variants ran");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Runs the validated variants as cells of one manifest; returns what went wrong.
fn run_cells(name: &str, d: &flowlab_abi::Description, runs: &[(String, Value, String)], files: &[(&str, String, &str)], work: &Path) -> Vec<String> {
    if runs.is_empty() {
        return vec![];
    }
    let mut m = format!("[experiment]\nname = \"limits-{name}\"\nseed = 3\n\n[run]\nisolation = \"subprocess\"\ntimeout_s = {TIMEOUT_S}\nmemory_mb = 2048\ncell_threads = 1\n\n");
    let mut used = std::collections::BTreeSet::new();
    let mut tasks = String::new();
    for (i, (cap, s, _)) in runs.iter().enumerate() {
        let c = d.capability(cap).unwrap();
        let id = format!("v{i}");
        if c.kind == flowlab_abi::CapabilityKind::Dataset {
            let format = match (name, cap.as_str()) {
                ("endhost", "generate") => "counts",
                ("endhost", _) => "user_csv",
                ("histfit", _) => "csv_hist",
                ("lstm", _) => "lstm_features",
                _ => "flowtest_profile",
            };
            let fields = [
                ("id".into(), format!("{id:?}")),
                ("plugin".into(), format!("{name:?}")),
                ("capability".into(), format!("{cap:?}")),
                ("format".into(), format!("{format:?}")),
                ("settings".into(), toml_value(s)),
            ];
            m.push_str(&table("[[dataset]]", &fields, &json!({})));
        } else {
            let mut fields = vec![("id".into(), format!("{id:?}")), ("plugin".into(), format!("{name:?}"))];
            if !c.datasetless {
                let (ds, _, _) = files.iter().find(|f| c.accepts.iter().any(|a| a == f.2)).unwrap_or_else(|| panic!("no data for {name}/{cap}"));
                used.insert(*ds);
                fields.push(("datasets".into(), format!("[{ds:?}]")));
            }
            tasks.push_str(&table(&format!("[[{cap}]]"), &fields, s));
        }
    }
    for (id, path, format) in files.iter().filter(|f| used.contains(f.0)) {
        m.push_str(&format!("[[dataset]]\nid = {id:?}\npath = {path:?}\nformat = {format:?}\n"));
    }
    m.push_str(&tasks);
    let mf = work.join(format!("limits-{name}.toml"));
    std::fs::write(&mf, &m).unwrap();
    let res = work.join(format!("res-{name}"));
    let o = run(&["run", mf.to_str().unwrap(), "--results", res.to_str().unwrap(), "-q", "--no-report", "--no-env", "-j", "2"]);
    let err = stderr(&o);
    let mut problems = Vec::new();
    if !matches!(o.status.code(), Some(0 | 1)) || err.contains("panicked") {
        problems.push(format!("{name}: the run ended with {:?}:\n{err}\n{m}", o.status));
        return problems;
    }
    let cells = cells(&res.join(format!("limits-{name}")));
    let n = cells.values().filter(|c| c.get("status").is_some()).count();
    if n < runs.len() {
        problems.push(format!("{name}: {n} cells stored for {} variants", runs.len()));
    }
    for c in cells.values().filter(|c| c.get("status").is_some()) {
        let msg = c["error"]["message"].as_str().unwrap_or("");
        let what = format!("{name}/{} {}", c["capability"], c["settings"]);
        match c["status"].as_str() {
            Some("ok") => {}
            Some("failed") if msg.contains("panicked") || (msg.contains("signal") && !msg.contains("hard timeout")) => problems.push(format!("{what}: {msg}")),
            Some("failed") => {}
            other => problems.push(format!("{what}: status {other:?}")),
        }
    }
    problems
}

/// Writes a file of every format the plugins read into `dir`, each with the text
/// `lines(kind)`, and returns the manifest that runs one task on each.
fn every_reader(dir: &Path, name: &str, lines: &dyn Fn(&str) -> String) -> String {
    let w = |file: &str, text: String| {
        std::fs::write(dir.join(file), text).unwrap();
        dir.join(file).to_str().unwrap().to_string()
    };
    let counts = w("counts.txt", lines("counts"));
    let users = w("users.csv", lines("users"));
    let hist = w("hist.csv", lines("hist"));
    let prof = w("profile.csv", lines("profile"));
    let feats = w("features.csv", lines("features"));
    std::fs::create_dir_all(dir.join("mix")).unwrap();
    w("mix/flows.json", lines("flows"));
    w("mix/packets.json", lines("packets"));
    w("mix/octets.json", lines("octets"));
    format!(
        r#"[experiment]
name = "{name}"
seed = 1
[[dataset]]
id = "c"
path = {counts:?}
format = "counts"
[[dataset]]
id = "u"
path = {users:?}
format = "user_csv"
[[dataset]]
id = "h"
path = {hist:?}
format = "csv_hist"
[[dataset]]
id = "p"
path = {prof:?}
format = "flowtest_profile"
[[dataset]]
id = "f"
path = {feats:?}
format = "lstm_features"
[fit]
plugin = "endhost"
datasets = ["c"]
models = ["P"]
[fit_users]
plugin = "endhost"
datasets = ["u"]
models = ["P"]
min_n = 5
[summary]
plugin = "histfit"
datasets = ["h"]
[sample]
plugin = "sampler"
datasets = ["p"]
rate = 0.5
generations = 2
write_sample = false
[network]
plugin = "lstm"
datasets = ["f"]
hidden = 3
head = "linear"
epochs = 1
plots = false
save_model = false
[generate]
plugin = "histfit"
flows = 5
mixture_dir = {mix:?}
"#,
        mix = dir.join("mix").to_str().unwrap()
    )
}

/// Good content of each file `every_reader` writes.
fn good(kind: &str) -> String {
    let profile_header = "START_TIME,END_TIME,L3_PROTO,L4_PROTO,SRC_PORT,DST_PORT,PACKETS,BYTES,PACKETS_REV,BYTES_REV\n";
    match kind {
        "counts" => (0..100).map(|i| format!("{}\n", 1 + i % 7 + i % 3 * i % 11)).collect(),
        "users" => "user,bin_seconds,count\n".to_string() + &(0..40).map(|i| format!("u1,10,{}\n", 1 + i % 5 + i % 3 * i % 7)).collect::<String>(),
        "hist" => "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n".to_string() + &(1..20u64).map(|k| format!("{k},{},{},{},{}\n", k + 1, 100 / k, 100, 6400 * k)).collect::<String>(),
        "profile" => profile_header.to_string() + &(0..30).map(|i| format!("{},{},4,6,{},443,{},{},1,60\n", i * 10, i * 10 + 5, 1000 + i, 1 + i % 4, 100 + 13 * i)).collect::<String>(),
        "features" => (0..6).map(|t| (0..2 + t % 3).map(|p| format!("[{p}, {}, 1], ", t % 2)).collect::<String>() + "\n").collect(),
        "flows" => r#"{"mix": [[1.0, "lognorm", [1.0, 0, 3.0]]]}"#.into(),
        "packets" => r#"{"sum": 1000.0, "mix": [[1.0, "lognorm", [1.0, 0, 30.0]]]}"#.into(),
        "octets" => r#"{"sum": 100000.0, "mix": [[1.0, "lognorm", [1.0, 0, 3000.0]]]}"#.into(),
        other => panic!("{other}"),
    }
}

fn run_manifest(dir: &Path, text: &str, results: &str) -> (std::process::Output, std::collections::BTreeMap<String, Value>) {
    let m = dir.join("m.toml");
    std::fs::write(&m, text).unwrap();
    let res = dir.join(results);
    let o = run(&["run", m.to_str().unwrap(), "--results", res.to_str().unwrap(), "-q", "--no-report", "--no-env", "-j", "2"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{:?}\n{}", o.status, stderr(&o));
    let name = text.lines().find_map(|l| l.strip_prefix("name = ")).unwrap().trim_matches('"').to_string();
    let cells = cells(&res.join(name)).into_iter().filter(|(_, c)| c["kind"] == "task").collect();
    (o, cells)
}

/// A UTF-8 byte-order mark is accepted by every reader (csv_hist always did): the cells read
/// the same as without it.
#[test]
fn every_reader_accepts_a_byte_order_mark() {
    // the same paths (the cell seeds hash the settings), first without, then with the mark
    let dir = tempfile::tempdir().unwrap();
    let (o1, c1) = run_manifest(dir.path(), &every_reader(dir.path(), "bom", &good), "plain");
    let (o2, c2) = run_manifest(dir.path(), &every_reader(dir.path(), "bom", &|k| format!("\u{feff}{}", good(k))), "bom");
    assert!(o1.status.success(), "{}", stderr(&o1));
    assert!(o2.status.success(), "{}", stderr(&o2));
    assert_eq!(c2.len(), 6);
    let by_cap = |c: &std::collections::BTreeMap<String, Value>| -> std::collections::BTreeMap<String, Value> {
        c.values().map(|v| (v["capability"].as_str().unwrap().to_string(), v["response"]["metrics"].clone())).collect()
    };
    assert_eq!(by_cap(&c1), by_cap(&c2));
}

/// A line over a reader's limit fails that cell with the file, the line number and the
/// limit, in every reader; the runner and the other cells carry on. The files are made here:
/// nothing large is committed.
#[test]
fn over_long_lines_fail_their_cell_naming_file_line_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mib = 1 << 20;
    let long = |kind: &str| -> String {
        let g = good(kind);
        match kind {
            // 64 MiB is the feature files' limit (one traffic per line)
            "features" => format!("{}[{}], \n", g, "1, ".repeat(64 * mib / 3 + 10)),
            "flows" => format!("{{\"mix\": [[1.0, \"lognorm\", [1.0, 0, 3.0]]]{}}}", " ".repeat(16 * mib)),
            "packets" | "octets" => g,
            _ => {
                let mut l: Vec<&str> = g.lines().collect();
                let big = "9".repeat(mib + 1);
                l.insert(2, &big);
                l.join("\n") + "\n"
            }
        }
    };
    let text = every_reader(dir.path(), "long", &long);
    // `generate` reads its mixture directory when validated: `flowlab plan` refuses it
    let (data_tasks, generate) = text.split_once("[generate]").unwrap();
    let (o, _) = (
        run(&[
            "plan",
            &{
                let m = dir.path().join("g.toml");
                std::fs::write(&m, format!("[experiment]\nname = \"g\"\nseed = 1\n[generate]{generate}")).unwrap();
                m.to_str().unwrap().to_string()
            },
            "--results",
            dir.path().join("gres").to_str().unwrap(),
            "--no-env",
        ]),
        (),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("flows.json: larger than 16777216 bytes") && stderr(&o).contains("g.toml:7:"), "{}", stderr(&o));
    let (o, cells) = run_manifest(dir.path(), data_tasks, "res");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(cells.len(), 5);
    for c in cells.values() {
        let cap = c["capability"].as_str().unwrap();
        let msg = c["error"]["message"].as_str().unwrap_or("");
        assert_eq!(c["status"], "failed", "{cap}");
        let want: &[&str] = match cap {
            "fit" => &["counts.txt:3: line longer than 1048576 bytes"],
            "fit_users" => &["users.csv:3: line longer than 1048576 bytes"],
            "summary" => &["hist.csv:3: line longer than 1048576 bytes"],
            "sample" => &["profile.csv: line 3: longer than 1048576 bytes"],
            "network" => &["features.csv:7: line longer than 67108864 bytes"],
            other => panic!("{other}"),
        };
        for w in want {
            assert!(msg.contains(w), "{cap}: `{w}` not in {msg}");
        }
    }
}
