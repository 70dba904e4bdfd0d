//! Stage 2 of a manifest (docs/design.md, "Manifest stages"): the normalised tree with the
//! layers from outside the file merged over it through figment, in this order: `FLOWLAB_*__*`
//! environment variables (sorted by name), `--set key=value` flags, `--sweep` flags. Every
//! override names a section, task or dataset of the manifest; its origin is remembered so
//! later errors point at the flag or variable.
use super::parse::Parsed;
use super::{Layers, Seg, Source, err, suggest};
use crate::error::{ManifestError, ManifestErrors, Origin};
use figment::Figment;
use figment::providers::Serialized;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The output of the layer stage.
#[derive(Debug)]
pub struct Layered {
    /// The spans, now with the origins of the overrides.
    pub source: Source,
    /// The merged tree (the parse stage's normalised tree with every override applied).
    pub tree: Value,
    /// (task id, section name) in order.
    pub task_order: Vec<(String, String)>,
    /// Dataset ids in order.
    pub dataset_order: Vec<String>,
    /// Overridden keys (normalised path → layer that set it).
    pub overrides: BTreeMap<String, String>,
}

/// Merges the layers over the parsed tree. The environment and `--set` errors are collected;
/// a `--set` flag without `=` stops at once with its own error.
pub fn layer(parsed: Parsed, layers: &Layers) -> Result<Layered, ManifestErrors> {
    let Parsed { source, norm, task_order, dataset_order } = parsed;
    let mut m = Merge {
        figment: Figment::from(Serialized::defaults(Value::Object(norm))),
        task_ids: task_order.iter().map(|(i, _)| i.clone()).collect(),
        dataset_ids: dataset_order.iter().cloned().collect(),
        task_order: &task_order,
        dataset_order: &dataset_order,
        source,
        overrides: BTreeMap::new(),
        errors: Vec::new(),
    };
    if layers.env {
        // parsed exactly as `--set` values (TOML), so `1e-6` is a number in both
        let all = layers.env_vars.clone().unwrap_or_else(|| std::env::vars().collect());
        let mut vars: Vec<(String, String)> = all.into_iter().filter(|(k, _)| k.starts_with("FLOWLAB_") && k["FLOWLAB_".len()..].contains("__")).collect();
        vars.sort();
        for (var, val) in &vars {
            let raw = var["FLOWLAB_".len()..].to_ascii_lowercase().replace("__", ".");
            m.set(&raw, val, Origin::Env(var.clone()), format!("env {var}"));
        }
    }
    for s in &layers.sets {
        let one_err = |e: ManifestError| ManifestErrors(vec![e]);
        let Some((k, v)) = s.split_once('=') else {
            return Err(one_err(err(Origin::Flag(s.clone()), "expected KEY=VALUE").help("e.g. --set experiment.seed=7 or --set fit.iterations=100")));
        };
        let k = k.trim();
        if k.is_empty() || k.split('.').any(|p| p.is_empty()) {
            return Err(one_err(err(Origin::Flag(s.clone()), format!("bad key `{k}`")).help("keys are dotted paths such as experiment.seed or <task id>.<setting>")));
        }
        m.set(k, v.trim(), Origin::Flag(s.clone()), format!("--set {s}"));
    }
    for s in &layers.sweeps {
        m.sweep(s);
    }
    let Merge { figment, source, overrides, errors, .. } = m;
    if !errors.is_empty() {
        return Err(ManifestErrors(errors));
    }
    let tree: Value = figment.extract().map_err(|e| {
        let o = e.path.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ManifestErrors(vec![err(source.locate_normalised(&o), format!("cannot merge overrides: {e}"))])
    })?;
    Ok(Layered { source, tree, task_order, dataset_order, overrides })
}

/// The layers merged so far.
struct Merge<'a> {
    figment: Figment,
    task_ids: BTreeSet<String>,
    dataset_ids: BTreeSet<String>,
    task_order: &'a [(String, String)],
    dataset_order: &'a [String],
    source: Source,
    overrides: BTreeMap<String, String>,
    errors: Vec<ManifestError>,
}

impl Merge<'_> {
    /// The normalised key of an override: `<task id>.…` → `tasks.<task id>.…`, `<dataset
    /// id>.…` → `datasets.<dataset id>.…`, section keys as they are.
    fn rewrite(&self, key: &str) -> String {
        let first = key.split('.').next().unwrap_or("");
        if self.task_ids.contains(first) {
            format!("tasks.{key}")
        } else if self.dataset_ids.contains(first) {
            format!("datasets.{key}")
        } else {
            key.to_string()
        }
    }

    /// Every override names a section, a task or a dataset that exists: a misspelt key is an
    /// error, never silently ignored (docs/scale-out.md, guarantees).
    fn known_top(&self, key: &str) -> Result<(), String> {
        if key.split('.').any(|p| p.is_empty()) {
            return Err(format!("bad key `{key}`: keys are dotted paths such as experiment.seed or <task id>.<setting> (FLOWLAB_<SECTION>__<KEY> in the environment)"));
        }
        let first = key.split('.').next().unwrap_or("");
        if matches!(first, "experiment" | "run" | "sweep" | "report") || self.task_ids.contains(first) || self.dataset_ids.contains(first) {
            return Ok(());
        }
        let names: Vec<&str> = ["experiment", "run", "sweep"].into_iter().chain(self.task_ids.iter().map(|s| s.as_str())).chain(self.dataset_ids.iter().map(|s| s.as_str())).collect();
        let hint = match suggest(first, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "keys start with experiment, run, sweep, a task id ({}) or a dataset id ({})",
                self.task_order.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>().join(", "),
                if self.dataset_order.is_empty() { "none".to_string() } else { self.dataset_order.join(", ") }
            ),
        };
        Err(format!("`{first}` is not a section, task or dataset of this manifest; {hint}"))
    }

    /// One environment variable or `--set` flag: `key` = `raw` (TOML) from `origin`.
    fn set(&mut self, key: &str, raw: &str, origin: Origin, layer: String) {
        if let Err(m) = self.known_top(key) {
            self.errors.push(err(origin, m));
            return;
        }
        let key = self.rewrite(key);
        let v = match parse_override(raw) {
            Ok(v) => v,
            Err(m) => {
                self.errors.push(err(origin, m));
                return;
            }
        };
        // a table merges into the one it names: it sets its leaves, not the whole table
        // (`--set 'probe={draws=3}'` leaves `probe.value` alone; `{}` sets nothing)
        let mut set = Vec::new();
        leaves(&key, &v, &mut set);
        for k in set {
            self.overrides.insert(k.clone(), layer.clone());
            self.source.override_origins.insert(k, origin.clone());
        }
        self.figment = std::mem::replace(&mut self.figment, Figment::new()).merge(Serialized::default(&key, v));
    }

    /// One `--sweep <task id>.<setting>=v1,v2,…` flag: replaces that axis or adds it.
    fn sweep(&mut self, s: &str) {
        let origin = Origin::Sweep(s.to_string());
        let (key, values) = match s.split_once('=') {
            Some((k, v)) => (k.trim(), v),
            None => {
                self.errors.push(err(origin, "expected KEY=V1,V2,…").help("e.g. --sweep fit.iterations=100,400 or --sweep fit.iterations=100:500:100"));
                return;
            }
        };
        let mut parts = key.split('.');
        let task = parts.next().unwrap_or("");
        let setting: Vec<&str> = parts.collect();
        if !self.task_ids.contains(task) || setting.is_empty() || setting.iter().any(|p| p.is_empty()) {
            let hint = suggest(task, self.task_ids.iter().map(|s| s.as_str()))
                .map(|s| format!("did you mean `{s}.…`?"))
                .unwrap_or_else(|| format!("sweep keys are <task id>.<setting>; task ids: {}", self.task_order.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>().join(", ")));
            self.errors.push(err(origin, format!("`{key}` does not name a task setting")).help(hint));
            return;
        }
        match parse_sweep_values(values) {
            Ok(vals) => {
                let norm_key = format!("sweep.{key}");
                self.overrides.insert(norm_key.clone(), format!("--sweep {s}"));
                self.source.override_origins.insert(norm_key, origin);
                // merged as `--set 'sweep={"<key>" = [...]}'` is: this axis replaced,
                // the others kept (README: Manifest format)
                let mut axis = Map::new();
                axis.insert(key.to_string(), Value::Array(vals));
                self.figment = std::mem::replace(&mut self.figment, Figment::new()).merge(Serialized::default("sweep", Value::Object(axis)));
            }
            Err(m) => self.errors.push(err(origin, m).help("values are comma-separated TOML values (100,400 or \"a\",\"b\" or [1,2],[3]) or integer ranges START:STOP[:STEP] (STOP excluded)")),
        }
    }
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => flowlab_abi::json::num(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

/// The dotted keys a value sets when merged at `key`: the leaves of a table (none for an
/// empty one), else `key` itself.
fn leaves(key: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(&format!("{key}.{k}"), x, out);
            }
        }
        _ => out.push(key.to_string()),
    }
}

/// Parses a `--set` value as TOML (`4` → integer, `"x"` → string, `[1,2]` → array); a bare
/// word that is not TOML is taken as a string.
pub fn parse_value(s: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("v = {s}")) {
        Ok(t) => t.get("v").map(toml_to_json).unwrap_or(Value::Null),
        Err(_) => bare_value(s),
    }
}

/// A value that is not TOML: TOML integers stop at 2^63 - 1, so a larger decimal is kept as a
/// number (the range check of the key it sets can then say what is allowed, instead of
/// "expected u64"); anything else is a string.
fn bare_value(s: &str) -> Value {
    match s.trim().parse::<u64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(s.to_string()),
    }
}

/// Paths of the non-finite floats (`nan`, `inf`) inside a TOML value: no flowlab or plugin
/// setting takes them, and serde's "invalid type: string \"NaN\"" would hide the cause.
fn nonfinite_paths(v: &toml::Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        toml::Value::Float(f) if !f.is_finite() => out.push(at.clone()),
        toml::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Seg::Index(i));
                nonfinite_paths(x, at, out);
                at.pop();
            }
        }
        toml::Value::Table(t) => {
            for (k, x) in t {
                at.push(Seg::Key(k.clone()));
                nonfinite_paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// Parses an override value (`--set` or environment) as [`parse_value`] does, refusing
/// `nan` and `inf`.
fn parse_override(s: &str) -> Result<Value, String> {
    let Ok(t) = toml::from_str::<toml::Table>(&format!("v = {s}")) else { return Ok(bare_value(s)) };
    let Some(v) = t.get("v") else { return Ok(Value::Null) };
    let mut bad = Vec::new();
    nonfinite_paths(v, &mut Vec::new(), &mut bad);
    if !bad.is_empty() {
        return Err(format!("`{}` is not a finite number; settings take finite numbers only", s.trim()));
    }
    Ok(toml_to_json(v))
}

/// Most values one `--sweep` flag may give (the default `[run] max_cells`): a range such as
/// `0:1000000000` is refused before it is expanded.
pub const MAX_SWEEP_VALUES: usize = 1_000_000;

/// Splits `s` at the commas outside brackets, braces and quoted strings.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.checked_sub(1).ok_or_else(|| format!("unbalanced `{c}` in `{s}`"))?,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Err(format!("unterminated string in `{s}`"));
    }
    if depth != 0 {
        return Err(format!("unbalanced brackets in `{s}`"));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

/// `START:STOP[:STEP]` with integer parts: Some(values), STOP excluded as in Python's and
/// Hydra's `range`; Some(Err) when it looks like a range but is not a valid one; None when
/// it is not a range at all.
fn parse_range(item: &str) -> Option<Result<Vec<Value>, String>> {
    let parts: Vec<&str> = item.split(':').map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.parse::<f64>().is_err()) {
        return None;
    }
    let ints: Vec<i64> = match parts.iter().map(|p| p.parse::<i64>()).collect::<Result<_, _>>() {
        Ok(v) => v,
        Err(_) => return Some(Err(format!("range `{item}`: START, STOP and STEP must be integers"))),
    };
    let (start, stop, step) = (ints[0], ints[1], ints.get(2).copied().unwrap_or(1));
    if step == 0 {
        return Some(Err(format!("range `{item}`: STEP must not be 0")));
    }
    let span = if step > 0 { i128::from(stop) - i128::from(start) } else { i128::from(start) - i128::from(stop) };
    let n = if span <= 0 { 0 } else { (span + i128::from(step).abs() - 1) / i128::from(step).abs() };
    if n == 0 {
        return Some(Err(format!("range `{item}` is empty (STOP is excluded; STEP {step})")));
    }
    if n > MAX_SWEEP_VALUES as i128 {
        return Some(Err(format!("range `{item}` has {n} values; at most {MAX_SWEEP_VALUES}")));
    }
    Some(Ok((0..n).map(|i| Value::from((i128::from(start) + i * i128::from(step)) as i64)).collect()))
}

/// The values of a `--sweep` flag: comma-separated TOML values (a bare word is a string, as
/// in `--set`) and integer ranges `START:STOP[:STEP]`.
pub fn parse_sweep_values(s: &str) -> Result<Vec<Value>, String> {
    if s.trim().is_empty() {
        return Err("no values".into());
    }
    let mut out = Vec::new();
    for item in split_top_level(s)? {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("empty value in `{s}` (two commas in a row, or a comma at an end)"));
        }
        match parse_range(item) {
            Some(r) => out.extend(r?),
            None => out.push(parse_override(item)?),
        }
        if out.len() > MAX_SWEEP_VALUES {
            return Err(format!("more than {MAX_SWEEP_VALUES} values"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_sweep_values;
    use super::{Layered, layer};
    use crate::manifest::{Layers, parse::parse};
    use serde_json::json;
    use std::path::Path;

    const TEXT: &str = "[experiment]\nname = \"x\"\nseed = 1\n[fit]\nplugin = \"p\"\nk = 1\n[sweep]\n\"fit.m\" = [1, 2]\n";

    fn layered(layers: &Layers) -> Result<Layered, Vec<String>> {
        let parsed = parse(Path::new("m.toml"), TEXT.to_string()).unwrap();
        layer(parsed, layers).map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn environment_then_set_then_sweep_each_remembered_with_its_origin() {
        let env = [("FLOWLAB_FIT__K", "2"), ("FLOWLAB_EXPERIMENT__SEED", "5"), ("FLOWLAB_NO_SECTION", "9"), ("HOME", "/")];
        let layers = Layers { env: true, env_vars: Some(env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()), sets: vec!["fit.k=3".into()], sweeps: vec!["fit.m=4:6".into()] };
        let l = layered(&layers).unwrap();
        assert_eq!(l.tree["tasks"]["fit"]["k"], json!(3), "--set wins over the environment");
        assert_eq!(l.tree["experiment"]["seed"], json!(5));
        assert_eq!(l.tree["sweep"]["fit.m"], json!([4, 5]), "the --sweep axis replaces the file's");
        assert_eq!(l.overrides.len(), 3);
        assert_eq!(l.overrides["tasks.fit.k"], "--set fit.k=3");
        assert_eq!(l.overrides["experiment.seed"], "env FLOWLAB_EXPERIMENT__SEED");
        assert_eq!(l.overrides["sweep.fit.m"], "--sweep fit.m=4:6");
        assert_eq!(l.source.locate_normalised(&["tasks".into(), "fit".into(), "k".into()]).to_string(), "--set fit.k=3");
        assert_eq!(l.source.locate_normalised(&["tasks".into(), "fit".into(), "plugin".into()]).to_string(), "m.toml:5:1");
        let plain = layered(&Layers::default()).unwrap();
        assert!(plain.overrides.is_empty());
        assert_eq!(plain.tree["tasks"]["fit"], json!({"plugin": "p", "k": 1}));
    }

    #[test]
    fn every_bad_override_is_reported_and_a_set_without_value_stops() {
        let layers = Layers { sets: vec!["fitt.k=1".into(), "run.jobs=nan".into()], sweeps: vec!["fit=1".into(), "nope.k=1,2".into()], ..Default::default() };
        let e = layered(&layers).unwrap_err();
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[0].starts_with("--set fitt.k=1: error: `fitt` is not a section, task or dataset of this manifest; did you mean `fit`?"), "{}", e[0]);
        assert!(e[1].starts_with("--set run.jobs=nan: error: `nan` is not a finite number"), "{}", e[1]);
        assert!(e[2].starts_with("--sweep fit=1: error: expected KEY=V1,V2,…") || e[2].starts_with("--sweep fit=1: error: `fit` does not name a task setting"), "{}", e[2]);
        assert!(e[3].starts_with("--sweep nope.k=1,2: error: `nope.k` does not name a task setting") && e[3].contains("task ids: fit"), "{}", e[3]);
        let e = layered(&Layers { sets: vec!["novalue".into(), "fitt.k=1".into()], ..Default::default() }).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("--set novalue: error: expected KEY=VALUE"), "{}", e[0]);
    }

    #[test]
    fn sweep_values_split_at_top_level_commas() {
        assert_eq!(parse_sweep_values("100,400, 1000").unwrap(), vec![json!(100), json!(400), json!(1000)]);
        assert_eq!(parse_sweep_values(r#""a,b",c"#).unwrap(), vec![json!("a,b"), json!("c")]);
        assert_eq!(parse_sweep_values("[1,2],[3]").unwrap(), vec![json!([1, 2]), json!([3])]);
        assert_eq!(parse_sweep_values("{a = 1, b = 2},0.5").unwrap(), vec![json!({"a": 1, "b": 2}), json!(0.5)]);
        assert_eq!(parse_sweep_values(r#""x\",y""#).unwrap(), vec![json!("x\",y")]);
    }

    #[test]
    fn sweep_ranges_exclude_stop() {
        assert_eq!(parse_sweep_values("1:4").unwrap(), vec![json!(1), json!(2), json!(3)]);
        assert_eq!(parse_sweep_values("0:10:4,100").unwrap(), vec![json!(0), json!(4), json!(8), json!(100)]);
        assert_eq!(parse_sweep_values("3:0:-1").unwrap(), vec![json!(3), json!(2), json!(1)]);
        assert_eq!(parse_sweep_values(r#""1:4""#).unwrap(), vec![json!("1:4")]);
    }

    #[test]
    fn bad_sweep_values_are_refused() {
        for bad in ["", "1,,2", "1,", "[1,2", "\"a", "1:1", "1:5:0", "0.5:2", "0:2000000000", "nan", "1,inf"] {
            assert!(parse_sweep_values(bad).is_err(), "{bad:?} accepted");
        }
    }
}
