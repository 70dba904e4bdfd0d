//! Stage 3 of a manifest (docs/design.md, "Manifest stages"): the layered tree checked into
//! typed declarations. Every check runs and every error is collected, in the order of the
//! sections ([experiment], [run], datasets, tasks, [sweep], overrides of swept keys,
//! reports), each placed at its key in the file or at the override that set it.
use super::layer::Layered;
use super::{DatasetDecl, DeferredError, Experiment, Isolation, MAX_SEED, MAX_TIMEOUT_S, Manifest, ReportDecl, RunCfg, Source, SweepAxis, TaskDecl, err, is_safe_name, suggest, type_name};
use crate::error::{ManifestError, ManifestErrors, Origin};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// Checks the layered tree of the manifest file `path`.
pub fn check(path: &Path, layered: Layered) -> Result<Manifest, ManifestErrors> {
    let Layered { source, tree, task_order, dataset_order, overrides } = layered;
    let mut c = Checker { source: &source, errors: Vec::new() };
    let get = |k: &str| tree.get(k).cloned().unwrap_or(Value::Null);
    let experiment = c.experiment(path, get("experiment"));
    let run = c.run(get("run"));
    if let Some(e) = &experiment {
        c.experiment_values(e);
    }
    c.run_values(&run);
    let datasets: Vec<DatasetDecl> = dataset_order.iter().filter_map(|id| c.dataset(id, tree["datasets"][id].clone())).collect();
    let dataset_ids: BTreeSet<String> = dataset_order.iter().cloned().collect();
    let tasks: Vec<TaskDecl> = task_order.iter().filter_map(|(id, section)| c.task(id, section, tree["tasks"][id].clone(), &dataset_ids, &dataset_order)).collect();
    let task_ids: BTreeSet<String> = task_order.iter().map(|(i, _)| i.clone()).collect();
    let mut sweep = Vec::new();
    let mut deferred = Vec::new();
    match get("sweep") {
        Value::Object(m) => {
            for (key, values) in m {
                match c.sweep_axis(key, values, &task_ids, &task_order) {
                    Axis::Ok(a) => sweep.push(a),
                    Axis::Deferred(d) => deferred.push(d),
                    Axis::Refused => {}
                }
            }
        }
        Value::Null => {}
        // the file's [sweep] is checked as a table when parsed; this is an override
        // (`--set sweep=3`), which would otherwise drop every axis without a word
        other => c.errors.push(
            err(c.at(&["sweep"]), format!("`sweep` must be a table of \"<task id>.<setting>\" = [values], found {}", type_name(&other)))
                .help("e.g. --set 'sweep={\"fit.iterations\" = [100, 400]}' or --sweep fit.iterations=100,400 for one axis"),
        ),
    }
    c.overrides_of_swept_keys(path, &sweep, &overrides);
    let reports = c.reports(get("report"));
    let mut errors = c.errors;
    if !errors.is_empty() {
        // the planner, which would decide, does not run: report them as they are
        errors.extend(deferred.into_iter().map(|d| d.error));
        return Err(ManifestErrors(errors));
    }
    let experiment = experiment.expect("checked above");
    Ok(Manifest { path: path.to_path_buf(), experiment, run, datasets, tasks, sweep, reports, overrides, source, deferred })
}

/// The origin of the normalised key `parts` (`["tasks", id, key]`).
fn locate(source: &Source, parts: &[&str]) -> Origin {
    source.locate_normalised(&parts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// The errors found so far, and where keys are.
struct Checker<'s> {
    source: &'s Source,
    errors: Vec<ManifestError>,
}

/// What a `[sweep]` key became.
enum Axis {
    /// A valid axis.
    Ok(SweepAxis),
    /// A key close to a task id: reported only if that task resolves ([`Manifest::deferred`]).
    Deferred(DeferredError),
    /// An error (collected).
    Refused,
}

impl Checker<'_> {
    /// The origin of the normalised key `parts`.
    fn at(&self, parts: &[&str]) -> Origin {
        locate(self.source, parts)
    }

    /// `[experiment]` (required).
    fn experiment(&mut self, path: &Path, v: Value) -> Option<Experiment> {
        match v {
            Value::Null => {
                self.errors.push(err(Origin::FileOnly(path.into()), "the manifest has no [experiment] section").help("add\n  [experiment]\n  name = \"my-experiment\"\n  seed = 1"));
                None
            }
            v => typed::<Experiment>(self.source, "experiment", v, &mut self.errors),
        }
    }

    /// `[run]` (optional; its defaults when it is missing or wrong).
    fn run(&mut self, v: Value) -> RunCfg {
        match v {
            Value::Null => RunCfg::default(),
            v => typed::<RunCfg>(self.source, "run", v, &mut self.errors).unwrap_or_default(),
        }
    }

    /// The ranges of `[experiment]` that its types do not express.
    fn experiment_values(&mut self, e: &Experiment) {
        if !is_safe_name(&e.name) {
            self.errors.push(err(
                self.at(&["experiment", "name"]),
                format!("experiment name `{}` may only use letters, digits, `.`, `_`, `-`, and not start with `.` or `-` (it names the results directory)", e.name),
            ));
        } else if e.name.len() > super::MAX_NAME {
            self.errors.push(err(self.at(&["experiment", "name"]), format!("experiment name is {} characters long; at most {} (it names the results directory)", e.name.len(), super::MAX_NAME)));
        }
        if e.seed > MAX_SEED {
            self.errors.push(err(self.at(&["experiment", "seed"]), format!("`seed` must be in 0..={MAX_SEED} (a TOML integer), found {}", e.seed)));
        }
        if e.replicates == 0 {
            self.errors.push(err(self.at(&["experiment", "replicates"]), "`replicates` must be at least 1"));
        }
    }

    /// The ranges of `[run]` that its types do not express.
    fn run_values(&mut self, run: &RunCfg) {
        let at_least_one = [("jobs", run.jobs.map(|x| x as u64)), ("cell_threads", run.cell_threads.map(|x| x as u64))];
        for (key, v) in at_least_one {
            if v == Some(0) {
                self.errors.push(err(self.at(&["run", key]), format!("`{key}` must be at least 1")));
            }
        }
        if let Some(t) = run.timeout_s
            && let Err(m) = check_timeout(t)
        {
            self.errors.push(err(self.at(&["run", "timeout_s"]), m));
        }
        for (key, v) in [("memory_mb", run.memory_mb), ("max_cells", run.max_cells)] {
            if v == Some(0) {
                self.errors.push(err(self.at(&["run", key]), format!("`{key}` must be at least 1")));
            }
        }
    }

    /// One `[[dataset]]`: a file (`path`) or generated (`plugin` + `capability`), not both.
    fn dataset(&mut self, id: &str, v: Value) -> Option<DatasetDecl> {
        let d = typed::<DatasetDecl>(self.source, &format!("datasets.{id}"), v, &mut self.errors)?;
        let here = |k: &str| self.at(&["datasets", id, k]);
        let mut errors = Vec::new();
        match (&d.path, &d.plugin) {
            (Some(_), Some(_)) => {
                errors.push(err(here("plugin"), format!("dataset `{id}` has both `path` and `plugin`")).help("a dataset is either a file (`path`) or generated (`plugin` + `capability`)"))
            }
            (None, None) => errors.push(
                err(self.at(&["datasets", id]), format!("dataset `{id}` has neither `path` nor `plugin`"))
                    .help("add `path = \"…\"` (use {data}/… for the data directory) or `plugin = \"…\"` with `capability = \"…\"`"),
            ),
            (None, Some(_)) if d.capability.is_none() => {
                errors.push(err(here("plugin"), format!("generated dataset `{id}` needs `capability`")).help("name the plugin's dataset capability, see `flowlab plugins`"))
            }
            _ => {}
        }
        if d.path.is_some() && (d.capability.is_some() || !d.settings.is_empty()) {
            errors.push(err(here("path"), format!("dataset `{id}`: `capability` and `settings` only apply to generated datasets")));
        }
        self.errors.extend(errors);
        Some(d)
    }

    /// One task section: the runner's keys taken out and checked, every other key left as
    /// the plugin's settings. `None` after an error that leaves no usable declaration.
    fn task(&mut self, id: &str, section: &str, v: Value, dataset_ids: &BTreeSet<String>, dataset_order: &[String]) -> Option<TaskDecl> {
        let Value::Object(mut t) = v else { return None };
        let source = self.source;
        let here = |k: &str| locate(source, &["tasks", id, k]);
        let plugin = match t.remove("plugin") {
            Some(Value::String(p)) if !p.is_empty() => p,
            other => {
                let e = err(here("plugin"), format!("`plugin` must be a non-empty string, found {}", other.as_ref().map(type_name).unwrap_or("nothing")));
                self.errors.push(e);
                return None;
            }
        };
        t.remove("id");
        let capability = match t.remove("capability") {
            None => section.to_string(),
            Some(Value::String(c)) => c,
            Some(other) => {
                let e = err(here("capability"), format!("`capability` must be a string, found {}", type_name(&other)));
                self.errors.push(e);
                return None;
            }
        };
        let datasets = match t.remove("datasets") {
            None => None,
            Some(Value::Array(a)) if a.iter().all(|x| x.is_string()) => Some(self.task_datasets(id, a, dataset_ids, dataset_order)),
            Some(other) => {
                let e = err(here("datasets"), format!("`datasets` must be an array of dataset ids, found {}", type_name(&other)));
                self.errors.push(e);
                return None;
            }
        };
        let (isolation, timeout_s) = self.task_limits(id, &mut t)?;
        Some(TaskDecl { id: id.to_string(), section: section.to_string(), plugin, capability, datasets, settings: t, isolation, timeout_s })
    }

    /// A task's `datasets` list (strings): each named once, each declared.
    fn task_datasets(&mut self, id: &str, a: Vec<Value>, dataset_ids: &BTreeSet<String>, dataset_order: &[String]) -> Vec<String> {
        let at = self.at(&["tasks", id, "datasets"]);
        let list: Vec<String> = a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
        let mut seen = BTreeSet::new();
        for d in list.iter().filter(|d| !seen.insert(d.as_str())) {
            self.errors.push(err(at.clone(), format!("task `{id}` lists dataset `{d}` twice")).help("list each dataset once (the same cell would run twice)"));
        }
        for d in &list {
            if !dataset_ids.contains(d) {
                let hint = suggest(d, dataset_ids.iter().map(|s| s.as_str())).map(|s| format!("did you mean `{s}`?")).unwrap_or_else(|| format!("declared datasets: {}", dataset_order.join(", ")));
                self.errors.push(err(at.clone(), format!("task `{id}` names unknown dataset `{d}`")).help(hint));
            }
        }
        list
    }

    /// A task's own `isolation` and `timeout_s` (taken out of its settings); `None` after an
    /// error.
    #[allow(clippy::type_complexity)]
    fn task_limits(&mut self, id: &str, t: &mut Map<String, Value>) -> Option<(Option<Isolation>, Option<f64>)> {
        let isolation = match t.remove("isolation") {
            None => None,
            Some(Value::String(s)) if s == "in-process" => Some(Isolation::InProcess),
            Some(Value::String(s)) if s == "subprocess" => Some(Isolation::Subprocess),
            Some(other) => {
                self.errors.push(err(self.at(&["tasks", id, "isolation"]), format!("`isolation` must be \"in-process\" or \"subprocess\", found {other}")));
                return None;
            }
        };
        let timeout_s = match t.remove("timeout_s") {
            None => None,
            Some(v) => match v.as_f64().ok_or_else(|| format!("`timeout_s` must be a number of seconds, found {v}")).and_then(|x| check_timeout(x).map(|_| x)) {
                Ok(x) => Some(x),
                Err(m) => {
                    self.errors.push(err(self.at(&["tasks", id, "timeout_s"]), m));
                    return None;
                }
            },
        };
        Some((isolation, timeout_s))
    }

    /// One `[sweep]` key: `"<task id>.<setting>" = [distinct values]`.
    fn sweep_axis(&mut self, key: String, values: Value, task_ids: &BTreeSet<String>, task_order: &[(String, String)]) -> Axis {
        let here = self.at(&["sweep", &key]);
        let mut parts = key.split('.');
        let task = parts.next().unwrap_or("").to_string();
        let setting: Vec<String> = parts.map(str::to_string).collect();
        if !task_ids.contains(&task) || setting.is_empty() || setting.iter().any(|s| s.is_empty()) {
            let near = if task_ids.contains(&task) { None } else { suggest(&task, task_ids.iter().map(|s| s.as_str())) };
            let hint = near
                .as_ref()
                .map(|s| format!("did you mean `{s}.…`?"))
                .unwrap_or_else(|| format!("sweep keys are \"<task id>.<setting>\"; task ids: {}", task_order.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>().join(", ")));
            let e = err(here, format!("sweep key `{key}` does not name a task setting")).help(hint);
            return match near {
                Some(t) if !setting.is_empty() => Axis::Deferred(DeferredError { unless_task_fails: t, error: e }),
                _ => {
                    self.errors.push(e);
                    Axis::Refused
                }
            };
        }
        let e = match values {
            Value::Array(a) if !a.is_empty() => {
                let mut seen = BTreeSet::new();
                if !a.iter().any(|v| !seen.insert(flowlab_abi::json::canonical(v))) {
                    return Axis::Ok(SweepAxis { key, task, setting, values: a });
                }
                err(here, format!("sweep `{key}` repeats a value")).help("list each value once")
            }
            Value::Array(_) => err(here, format!("sweep `{key}` is empty")).help("give at least one value, e.g. [1, 2, 3]"),
            other => err(here, format!("sweep `{key}` must be an array of values, found {}", type_name(&other))).help(format!("write `\"{key}\" = [ … ]`")),
        };
        self.errors.push(e);
        Axis::Refused
    }

    /// An override of a swept key would silently lose to the sweep: refused, with how to
    /// change the axis instead (docs/scale-out.md, guarantees).
    fn overrides_of_swept_keys(&mut self, path: &Path, sweep: &[SweepAxis], overrides: &std::collections::BTreeMap<String, String>) {
        for a in sweep {
            let norm = format!("tasks.{}.{}", a.task, a.setting.join("."));
            for k in overrides.keys() {
                if k == &norm || k.starts_with(&format!("{norm}.")) || norm.starts_with(&format!("{k}.")) {
                    let o = self.source.override_origins.get(k).cloned().unwrap_or_else(|| Origin::FileOnly(path.into()));
                    self.errors.push(
                        err(o, format!("this override sets `{}`, which [sweep] varies (the sweep would win)", a.key))
                            .help(format!("change the sweep axis instead: --sweep {}=… or --set 'sweep={{\"{}\" = [ … ]}}'", a.key, a.key)),
                    );
                }
            }
        }
    }

    /// The `[[report]]` declarations (crate::report::check_decl checks each against the ones
    /// before it).
    fn reports(&mut self, v: Value) -> Vec<ReportDecl> {
        let mut reports = Vec::new();
        let Value::Array(a) = v else { return reports };
        for (i, r) in a.into_iter().enumerate() {
            if let Some(r) = typed::<ReportDecl>(self.source, &format!("report.{i}"), r, &mut self.errors) {
                for problem in crate::report::check_decl(&r, &reports) {
                    self.errors.push(err(self.at(&["report", &i.to_string(), problem.key]), problem.message));
                }
                reports.push(r);
            }
        }
        reports
    }
}

/// `timeout_s` range: positive, finite and at most [`MAX_TIMEOUT_S`].
fn check_timeout(t: f64) -> Result<(), String> {
    if t > 0.0 && t <= MAX_TIMEOUT_S {
        Ok(())
    } else {
        let shown = if t.is_finite() && t.abs() < 1e9 { t.to_string() } else { format!("{t:e}") };
        Err(format!("`timeout_s` must be a number of seconds in (0, {MAX_TIMEOUT_S}] (365 days), found {shown}"))
    }
}

fn typed<T: serde::de::DeserializeOwned>(source: &Source, prefix: &str, v: Value, errors: &mut Vec<ManifestError>) -> Option<T> {
    let de = v;
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(t) => Some(t),
        Err(e) => {
            let mut path: Vec<String> = prefix.split('.').map(str::to_string).collect();
            let inner = e.path().to_string();
            if inner != "." {
                path.extend(inner.split('.').map(|s| s.trim_start_matches('[').trim_end_matches(']').to_string()));
            }
            let msg = e.inner().to_string();
            // unknown field: point at the key itself
            if let Some(name) = msg.strip_prefix("unknown field `").and_then(|r| r.split('`').next())
                && path.last().map(|l| l != name).unwrap_or(true)
            {
                path.push(name.to_string());
            }
            let origin = source.locate_normalised(&path);
            let help = if msg.starts_with("unknown field") && path.first().is_some_and(|p| p == "datasets") && path.len() == 3 {
                // a generator's setting written beside `plugin` (or `--set ID.KEY`) instead of
                // in its `settings` table
                format!("remove or rename the key; a plugin's setting goes in the dataset's `settings` table (`[dataset.settings]`, or `--set {}.settings.{}=…`)", path[1], path[2])
            } else if msg.starts_with("unknown field") {
                "remove or rename the key; unknown keys are errors".to_string()
            } else if let Some(f) = msg.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                format!("add `{f} = …` to this section")
            } else {
                "change the value to the expected type".to_string()
            };
            errors.push(ManifestError::new(origin, format!("{}: {msg}", path.join("."))).help(help));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::manifest::{Isolation, Layers, Manifest, TaskDecl, layer::layer, parse::parse};
    use serde_json::json;
    use std::path::Path;

    fn checked(text: &str, layers: &Layers) -> Result<Manifest, Vec<String>> {
        let path = Path::new("m.toml");
        let layered = layer(parse(path, text.to_string()).unwrap(), layers).unwrap();
        check(path, layered).map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn a_generator_setting_beside_plugin_points_to_the_settings_table() {
        let text = "[experiment]\nname = \"x\"\n[[dataset]]\nid = \"syn\"\nplugin = \"p\"\nflows = 5\n";
        let e = checked(text, &Layers::default()).unwrap_err();
        assert!(e.iter().any(|m| m.contains("unknown field `flows`") && m.contains("`--set syn.settings.flows=…`")), "{e:?}");
    }

    #[test]
    fn every_check_runs_and_errors_come_in_section_order() {
        let text = r#"[experiment]
name = "bad name"
seed = 1
replicates = 0
[run]
jobs = 0
[[dataset]]
id = "d"
path = "a"
plugin = "p"
[fit]
plugin = "p"
datasets = ["d", "e", "d"]
[sweep]
"fit.k" = [1, 1]
"#;
        let e = checked(text, &Layers::default()).unwrap_err();
        let want = [
            ("m.toml:2:", "experiment name `bad name` may only use"),
            ("m.toml:4:", "`replicates` must be at least 1"),
            ("m.toml:6:", "`jobs` must be at least 1"),
            ("m.toml:10:", "dataset `d` has both `path` and `plugin`"),
            ("m.toml:13:", "task `fit` lists dataset `d` twice"),
            ("m.toml:13:", "task `fit` names unknown dataset `e`"),
            ("m.toml:15:", "sweep `fit.k` repeats a value"),
        ];
        assert_eq!(e.len(), want.len(), "{e:#?}");
        for (got, (at, what)) in e.iter().zip(want) {
            assert!(got.starts_with(at) && got.contains(what), "{got}\nwanted {at} {what}");
        }
    }

    #[test]
    fn a_task_section_becomes_a_declaration_without_the_runner_keys() {
        let text = "[experiment]\nname = \"x\"\nseed = 1\n[[dataset]]\nid = \"d\"\npath = \"a\"\n[fit]\nplugin = \"p\"\nid = \"f1\"\ncapability = \"c\"\ndatasets = [\"d\"]\nisolation = \"subprocess\"\ntimeout_s = 5\nk = 1\n";
        let m = checked(text, &Layers::default()).unwrap();
        let want = TaskDecl {
            id: "f1".into(),
            section: "fit".into(),
            plugin: "p".into(),
            capability: "c".into(),
            datasets: Some(vec!["d".into()]),
            settings: json!({"k": 1}).as_object().unwrap().clone(),
            isolation: Some(Isolation::Subprocess),
            timeout_s: Some(5.0),
        };
        assert_eq!(m.tasks, [want]);
        assert_eq!((m.experiment.replicates, m.run.jobs, m.datasets.len()), (1, None, 1));
    }

    #[test]
    fn a_sweep_key_near_a_task_is_left_to_the_planner_unless_other_errors_stop_here() {
        let text = "[experiment]\nname = \"x\"\nseed = 1\n[fitt]\nplugin = \"p\"\n[sweep]\n\"fit.k\" = [1]\n";
        let m = checked(text, &Layers::default()).unwrap();
        assert_eq!(m.deferred.len(), 1);
        assert_eq!(m.deferred[0].unless_task_fails, "fitt");
        assert!(m.deferred[0].error.message.contains("sweep key `fit.k` does not name a task setting"));
        let e = checked(&text.replace("seed = 1", "seed = -1"), &Layers::default()).unwrap_err();
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[1].contains("sweep key `fit.k` does not name a task setting") && e[1].contains("did you mean `fitt.…`?"), "{}", e[1]);
    }

    #[test]
    fn an_override_of_a_swept_key_is_refused_at_the_override() {
        let text = "[experiment]\nname = \"x\"\nseed = 1\n[fit]\nplugin = \"p\"\n[sweep]\n\"fit.k\" = [1, 2]\n";
        let e = checked(text, &Layers { sets: vec!["fit.k=2".into()], ..Default::default() }).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("--set fit.k=2: error: this override sets `fit.k`, which [sweep] varies"), "{}", e[0]);
        assert!(checked(text, &Layers { sets: vec!["fit.j=2".into()], ..Default::default() }).is_ok());
        // a table sets its leaves only: `{j = 2}` and `{}` leave `k` to the sweep
        for ok in ["fit={j=2}", "fit={}"] {
            assert!(checked(text, &Layers { sets: vec![ok.into()], ..Default::default() }).is_ok(), "{ok}");
        }
        let e = checked(text, &Layers { sets: vec!["fit={j=2, k=3}".into()], ..Default::default() }).unwrap_err();
        assert!(e[0].starts_with("--set fit={j=2, k=3}: error: this override sets `fit.k`"), "{}", e[0]);
    }

    #[test]
    fn a_sweep_override_that_is_not_a_table_is_refused_not_dropped() {
        let text = "[experiment]\nname = \"x\"\nseed = 1\n[fit]\nplugin = \"p\"\n[sweep]\n\"fit.k\" = [1, 2]\n";
        for bad in ["sweep=3", "sweep=[]", "sweep=\"x\"", "sweep=[1,2]"] {
            let e = checked(text, &Layers { sets: vec![bad.into()], ..Default::default() }).unwrap_err();
            assert_eq!(e.len(), 1, "{bad}: {e:?}");
            assert!(e[0].starts_with(&format!("--set {bad}: error: `sweep` must be a table")), "{}", e[0]);
        }
        let m = checked(text, &Layers { sets: vec!["sweep={\"fit.j\" = [3, 4]}".into()], ..Default::default() }).unwrap();
        assert_eq!(m.sweep.len(), 2, "an axis added beside the file's");
    }

    #[test]
    fn experiment_names_that_cannot_name_a_directory_or_read_as_flags_are_refused() {
        let text = |name: &str| format!("[experiment]\nname = \"{name}\"\nseed = 1\n[fit]\nplugin = \"p\"\n");
        let e = checked(&text(&"a".repeat(129)), &Layers::default()).unwrap_err();
        assert!(e[0].contains("experiment name is 129 characters long; at most 128"), "{}", e[0]);
        assert!(checked(&text(&"a".repeat(128)), &Layers::default()).is_ok());
        let e = checked(&text("-rf"), &Layers::default()).unwrap_err();
        assert!(e[0].contains("not start with `.` or `-`"), "{}", e[0]);
    }
}
