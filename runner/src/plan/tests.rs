//! The plan stage with an in-memory [`PlanIo`]: dataset files are names with given hashes,
//! plugins are descriptions with a settings check. Ids and seeds are recomputed here from
//! their definitions (docs/design.md §3 Seeds), not from the planner's helpers.
use super::*;
use crate::manifest::Layers;
use flowlab_abi::seed::derive_cell_seed;
use flowlab_abi::{Capability, Description, PluginError};
use serde_json::json;

/// A plugin that is a description and a settings rule.
struct FakePlugin {
    description: Description,
    /// `Err(message)` for the settings of `capability` that the plugin refuses at key `k`.
    refuse_k_at_least: i64,
}

impl PluginApi for FakePlugin {
    fn description(&self) -> &Description {
        &self.description
    }
    fn validate(&self, _capability: &str, settings: &Value) -> Result<(), PluginError> {
        match settings.get("k").and_then(Value::as_i64) {
            Some(k) if k >= self.refuse_k_at_least => Err(PluginError::config("k", format!("k must be below {}", self.refuse_k_at_least))),
            _ => Ok(()),
        }
    }
}

/// Files (path → content hash, for datasets and path settings alike) and plugins by name.
struct FakeIo {
    files: BTreeMap<PathBuf, String>,
    plugins: BTreeMap<String, &'static FakePlugin>,
}

impl crate::paths::PathFiles for FakeIo {
    fn find(&self, path: &Path) -> Option<PathBuf> {
        self.files.contains_key(path).then(|| path.to_path_buf())
    }
    fn path_hash(&self, path: &Path) -> std::io::Result<String> {
        self.dataset_hash(path)
    }
}

impl PlanIo for FakeIo {
    fn dataset_hash(&self, path: &Path) -> std::io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn plugin(&mut self, name: &str, origin: Origin) -> Result<&'static dyn PluginApi, ManifestError> {
        self.plugins.get(name).map(|p| *p as &'static dyn PluginApi).ok_or_else(|| ManifestError::new(origin, format!("unknown plugin `{name}`")))
    }
}

/// `fake`: task `fit` (reads csv; `mixture` is a path setting relative to the manifest),
/// datasetless task `probe`, dataset capability `gen` (writes csv); settings with `k >= 3`
/// refused. Files /m/a.csv, /m/b.csv and /m/mix.json.
fn io() -> FakeIo {
    let description = Description::new("fake", "1.0")
        .with(Capability::task("fit", "", json!({"properties": {"mixture": {"type": "string", crate::paths::KEYWORD: "manifest"}}})).accepting(&["csv"]))
        .with(Capability::task("probe", "", json!({})).without_dataset())
        .with(Capability::dataset("gen", "", json!({})).producing("csv"));
    let plugin: &'static FakePlugin = Box::leak(Box::new(FakePlugin { description, refuse_k_at_least: 3 }));
    FakeIo {
        files: [("/m/a.csv", "aaaa"), ("/m/b.csv", "bbbb"), ("/m/mix.json", "mmmm")].into_iter().map(|(p, h)| (PathBuf::from(p), h.to_string())).collect(),
        plugins: [("fake".to_string(), plugin)].into_iter().collect(),
    }
}

fn manifest(text: &str) -> Manifest {
    Manifest::from_text(Path::new("/m/x.toml"), text.to_string(), &Layers::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn planned(text: &str) -> Result<Planned, Vec<String>> {
    plan(&manifest(text), &PlanOptions::default(), &mut io()).map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
}

/// The cell id from its definition: SHA-256 of the length-prefixed parts, first 10 bytes.
fn id_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"flowlab/cell/v1\0");
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..10])
}

const GRID: &str = r#"
[experiment]
name = "g"
seed = 7
replicates = 2
[[dataset]]
id = "a"
path = "a.csv"
format = "csv"
[[dataset]]
id = "b"
path = "b.csv"
format = "csv"
[fit]
plugin = "fake"
base = 1
[sweep]
"fit.k" = [0, 1, 2]
"fit.m" = ["x", "y"]
"#;

#[test]
fn grid_points_then_datasets_then_replicates() {
    let p = planned(GRID).unwrap();
    assert_eq!(p.dataset_order, ["a", "b"]);
    assert_eq!(p.cells.len(), 3 * 2 * 2 * 2);
    let mut i = 0;
    for k in 0..3 {
        for m in ["x", "y"] {
            for ds in ["a", "b"] {
                for rep in 0..2 {
                    let c = &p.cells[i];
                    assert_eq!(c.settings(), json!({"base": 1, "k": k, "m": m}), "cell {i}");
                    assert_eq!(c.point(), json!({"fit.k": k, "fit.m": m}).as_object().unwrap().clone());
                    assert_eq!((c.dataset.as_deref(), c.replicate, c.kind), (Some(ds), rep, CellKind::Task));
                    i += 1;
                }
            }
        }
    }
}

#[test]
fn ids_and_seeds_follow_their_definitions() {
    let p = planned(GRID).unwrap();
    let mut ids = BTreeSet::new();
    for c in &p.cells {
        let canon = canonical(&c.settings());
        let ds = c.dataset.as_deref().unwrap();
        let seed = derive_cell_seed(7, ds, "fake", "fit", &canon, c.replicate);
        assert_eq!(c.seed_bytes, seed);
        assert_eq!(c.seed, u64::from_be_bytes(seed[..8].try_into().unwrap()));
        let ident = if ds == "a" { "aaaa" } else { "bbbb" };
        assert_eq!(c.id, id_of(&["task", "fit", "fake", "fit", ds, ident, &canon, &hex::encode(seed), &c.replicate.to_string()]));
        assert!(ids.insert(c.id.clone()), "ids are distinct");
    }
    // the same manifest plans the same cells; another root seed changes every seed and id
    let again = planned(GRID).unwrap();
    assert!(p.cells.iter().zip(&again.cells).all(|(a, b)| a.id == b.id && a.seed_bytes == b.seed_bytes));
    let reseeded = planned(&GRID.replace("seed = 7", "seed = 8")).unwrap();
    assert!(p.cells.iter().zip(&reseeded.cells).all(|(a, b)| a.id != b.id && a.seed != b.seed));
}

#[test]
fn a_dataset_is_known_by_its_content() {
    let m = manifest(GRID);
    let before = plan(&m, &PlanOptions::default(), &mut io()).unwrap();
    let mut changed = io();
    changed.files.insert("/m/b.csv".into(), "cccc".into());
    let after = plan(&m, &PlanOptions::default(), &mut changed).unwrap();
    for (x, y) in before.cells.iter().zip(&after.cells) {
        assert_eq!(x.id == y.id, x.dataset.as_deref() == Some("a"), "only the cells of the changed file get new ids");
        assert_eq!(x.seed_bytes, y.seed_bytes, "seeds do not depend on the content");
    }
    assert_eq!(after.datasets["b"].source, DatasetSource::File { path: "/m/b.csv".into(), sha256: "cccc".into() });
}

#[test]
fn a_generated_dataset_is_a_cell_whose_id_is_its_identity() {
    let p = planned(
        "[experiment]\nname = \"g\"\nseed = 1\n[[dataset]]\nid = \"made\"\nplugin = \"fake\"\ncapability = \"gen\"\nsettings = { n = 5 }\n[fit]\nplugin = \"fake\"\n[probe]\nplugin = \"fake\"\n",
    )
    .unwrap();
    assert_eq!(p.cells.len(), 3);
    let made = &p.cells[0];
    assert_eq!(made.kind, CellKind::Dataset);
    let seed = derive_cell_seed(1, "made", "fake", "gen", r#"{"n":5}"#, 0);
    assert_eq!(made.id, id_of(&["dataset", "made", "fake", "gen", r#"{"n":5}"#, &hex::encode(seed)]));
    let d = &p.datasets["made"];
    assert_eq!((d.format.as_str(), d.identity.as_str(), &d.source), ("csv", made.id.as_str(), &DatasetSource::Generated { cell: 0 }));
    assert_eq!(p.cells[1].dataset.as_deref(), Some("made"));
    assert_eq!((p.cells[2].task.as_ref(), p.cells[2].dataset.as_deref()), ("probe", None), "a datasetless task runs once");
}

#[test]
fn errors_are_placed_at_their_origin() {
    let text = r#"[experiment]
name = "g"
seed = 1
[[dataset]]
id = "d"
path = "nope.csv"
[[dataset]]
id = "a"
path = "a.csv"
format = "csv"
[fit]
plugin = "fake"
[gen]
plugin = "fake"
[sweep]
"fit.k" = [1, 3, 4]
"#;
    let e = planned(text).unwrap_err();
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].starts_with("/m/x.toml:6:1: error: dataset `d`: no such file or directory: /m/nope.csv\n"), "{}", e[0]);
    assert!(e[1].starts_with("/m/x.toml:13:") && e[1].contains("error: plugin `fake` has no task capability `gen`"), "{}", e[1]);
    // one refusal shared by two sweep points: reported once, at the sweep key, with the count
    assert!(e[2].starts_with("/m/x.toml:16:1: error: task `fit` (sweep point {\"fit.k\":3} and 1 more): k must be below 3\n"), "{}", e[2]);
    let unknown = planned("[experiment]\nname = \"g\"\nseed = 1\n[fit]\nplugin = \"other\"\n").unwrap_err();
    assert_eq!(unknown.len(), 1);
    assert!(unknown[0].starts_with("/m/x.toml:5:1: error: unknown plugin `other`\n"), "{}", unknown[0]);
}

#[test]
fn an_oversized_plan_is_refused_before_a_cell_is_built() {
    let e = planned(&GRID.replace("replicates = 2", "replicates = 2\n[run]\nmax_cells = 23")).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("the plan has 24 cells, more than max_cells = 23 (task `fit`: 2 dataset(s) × 6 sweep point(s) × 2 replicate(s))"), "{}", e[0]);
    assert!(planned(&GRID.replace("replicates = 2", "replicates = 2\n[run]\nmax_cells = 24")).is_ok());
}

#[test]
fn a_path_setting_is_resolved_and_its_files_hash_enters_the_id_only() {
    let text = "[experiment]\nname = \"g\"\nseed = 7\n[[dataset]]\nid = \"a\"\npath = \"a.csv\"\nformat = \"csv\"\n[fit]\nplugin = \"fake\"\nmixture = \"mix.json\"\n";
    let m = manifest(text);
    let p = plan(&m, &PlanOptions::default(), &mut io()).unwrap();
    let c = &p.cells[0];
    assert_eq!(c.settings(), json!({"mixture": "/m/mix.json"}), "the plugin gets the resolved path");
    let canon = canonical(&json!({"mixture": "mix.json"}));
    let seed = derive_cell_seed(7, "a", "fake", "fit", &canon, 0);
    assert_eq!(c.seed_bytes, seed, "the seed is of the settings as written");
    assert_eq!(c.id, id_of(&["task", "fit", "fake", "fit", "a", "aaaa", &canon, &hex::encode(seed), "0", "mixture=mmmm;"]));
    let mut changed = io();
    changed.files.insert("/m/mix.json".into(), "nnnn".into());
    let q = plan(&m, &PlanOptions::default(), &mut changed).unwrap();
    assert_ne!(q.cells[0].id, c.id, "a changed file re-runs its cells");
    assert_eq!(q.cells[0].seed_bytes, c.seed_bytes);
    let e = planned(&text.replace("mix.json", "nope.json")).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("/m/x.toml:10:1: error: task `fit`: `mixture`: no such file or directory: /m/nope.json"), "{}", e[0]);
}
