//! What the experiments page lists: every result directory under the results root
//! (browse.rs `experiment_dirs`) and every manifest of the experiments directory, joined by
//! experiment name. A manifest is planned (runner/src/manifest/, runner/src/plan/) to count its done / failed
//! / stale / missing cells as `flowlab status` does (slurm.rs `status`); plans are kept
//! until the manifest or its results directory changes.
use super::ServeState;
use crate::manifest::{Layers, Manifest};
use crate::plan::{Plan, PlanOptions};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// The counts of a planned manifest.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    /// Experiment name.
    pub name: String,
    /// Cells in the plan.
    pub cells: usize,
    /// Done with the current plugins.
    pub done: usize,
    /// Stored as failed.
    pub failed: usize,
    /// Done with other plugin binaries.
    pub stale: usize,
    /// Not stored.
    pub missing: usize,
}

/// A manifest found: its path and its plan's counts, or why it cannot be planned.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    /// The manifest file.
    pub path: PathBuf,
    /// Counts, or the error of loading or planning it.
    pub planned: Result<Planned, String>,
}

type Stamp = (Option<SystemTime>, Option<SystemTime>);

/// Plans by manifest path, with the modification times they were made at.
#[derive(Default)]
pub struct PlanCache(Mutex<HashMap<PathBuf, Cached>>);

/// A plan's counts and the modification times they were made at.
type Cached = (Stamp, Result<Planned, String>);

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Loads and plans `path` (no environment overrides) and counts its cells.
fn plan_counts(path: &Path, results: &Path, data_dir: Option<&Path>) -> Result<Planned, String> {
    let m = Manifest::load(path, &Layers { env: false, ..Default::default() }).map_err(|e| e.to_string())?;
    let plan = Plan::build(m, &PlanOptions { data_dir: data_dir.map(Path::to_path_buf) }).map_err(|e| e.to_string())?;
    let store = Store::new(results, &plan.manifest.experiment.name);
    let s = crate::slurm::status(&plan, &store);
    Ok(Planned { name: plan.manifest.experiment.name.clone(), cells: plan.cells.len(), done: s.done, failed: s.failed, stale: s.stale, missing: s.missing })
}

/// The manifests of the experiments directory (`*.toml`, sorted).
fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file()).collect();
    v.sort();
    v
}

/// Every manifest of the experiments directory with its counts (planned again when the
/// manifest or its results directory changed).
pub fn manifests(st: &ServeState) -> Vec<ManifestEntry> {
    let Some(dir) = st.experiments_dir() else { return Vec::new() };
    let mut out = Vec::new();
    for path in manifest_files(dir) {
        let cache = &st.0.plans;
        let cached = cache.0.lock().unwrap_or_else(|e| e.into_inner()).get(&path).cloned();
        let results_dir = cached.as_ref().and_then(|(_, p)| p.as_ref().ok()).map(|p| st.results_root().join(&p.name));
        let stamp = (mtime(&path), results_dir.as_deref().and_then(mtime));
        let planned = match cached {
            Some((s, p)) if s == stamp => p,
            _ => {
                let p = plan_counts(&path, st.results_root(), st.data_root());
                let rd = p.as_ref().ok().map(|p| st.results_root().join(&p.name));
                let stamp = (mtime(&path), rd.as_deref().and_then(mtime));
                cache.0.lock().unwrap_or_else(|e| e.into_inner()).insert(path.clone(), (stamp, p.clone()));
                p
            }
        };
        out.push(ManifestEntry { path, planned });
    }
    out
}

/// One row of the experiments page.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// Experiment name (its results directory's name).
    pub name: String,
    /// Its results directory, when there is one.
    pub dir: Option<PathBuf>,
    /// The manifest: from the experiments directory, else the run context.
    pub manifest: Option<PathBuf>,
    /// Counts from the manifest's plan.
    pub planned: Option<Result<Planned, String>>,
    /// Stored cells: ok and failed.
    pub stored: (usize, usize),
    /// Newest cell file.
    pub last_run: Option<SystemTime>,
    /// Sum of the cells' wall times.
    pub wall_s: f64,
    /// Report files (`report/*.pdf`, else `*.tex`), relative to the results root.
    pub reports: Vec<String>,
    /// A run is working on it now (a live progress file whose writer is alive).
    pub running: bool,
}

/// The manifest recorded by the last run of an experiment (`.flowlab-run.json`).
pub fn run_context_manifest(dir: &Path) -> Option<PathBuf> {
    crate::replay::read_run_context(dir).ok().map(|c| PathBuf::from(c.manifest))
}

/// The report files of an experiment directory, relative to the results root: compiled PDFs
/// when there are any, else the rendered TeX and its figures.
pub fn reports(root: &Path, dir: &Path) -> Vec<String> {
    let rdir = dir.join("report");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&rdir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    let has = |ext: &str| files.iter().any(|p| p.extension().is_some_and(|e| e == ext));
    let keep: &[&str] = if has("pdf") { &["pdf"] } else { &["tex", "png", "svg"] };
    files
        .into_iter()
        .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| keep.contains(&e)))
        // the preamble every report `\input`s is not a report
        .filter(|p| p.file_name().is_none_or(|n| n != "flowlab-preamble.tex"))
        .filter_map(|p| p.strip_prefix(root).ok().map(|r| r.to_string_lossy().into_owned()))
        .collect()
}

/// Every experiment: result directories and manifests, by name.
pub fn list(st: &ServeState) -> Vec<Listed> {
    let root = st.results_root();
    let mut by_name: BTreeMap<String, Listed> = BTreeMap::new();
    for dir in crate::browse::experiment_dirs(root).unwrap_or_default() {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (stored, last_run, wall_s) = st.index().with(&dir, |ix| (ix.counts(), ix.last_run, ix.wall_s()));
        let running = crate::live::read(&dir).is_some_and(|p| p["finished"] == false && crate::live::writer_alive(&p));
        let l = Listed { name: name.clone(), manifest: run_context_manifest(&dir), stored, last_run, wall_s, reports: reports(root, &dir), running, dir: Some(dir), ..Default::default() };
        by_name.insert(name, l);
    }
    for m in manifests(st) {
        let name = match &m.planned {
            Ok(p) => p.name.clone(),
            Err(_) => m.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        let e = by_name.entry(name.clone()).or_insert_with(|| Listed { name, ..Default::default() });
        e.manifest = Some(m.path.clone());
        e.planned = Some(m.planned);
    }
    by_name.into_values().collect()
}

/// The results directory of experiment `name`, when it is a plain name of a directory under
/// the root (never a path).
pub fn dir_of(st: &ServeState, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', '\0']) {
        return None;
    }
    let d = st.results_root().join(name);
    d.is_dir().then_some(d)
}

/// The manifest of experiment `name`: one of the experiments directory that declares it,
/// else the one its last run recorded.
pub fn manifest_of(st: &ServeState, name: &str) -> Option<PathBuf> {
    let from_dir = manifests(st).into_iter().find(|m| m.planned.as_ref().is_ok_and(|p| p.name == name)).map(|m| m.path);
    from_dir.or_else(|| dir_of(st, name).and_then(|d| run_context_manifest(&d)))
}

/// Builds the index of every experiment and the plans of every manifest (at start-up, in
/// the background).
pub fn warm(st: &ServeState) {
    let _ = list(st);
}

#[cfg(test)]
mod tests {
    use super::reports;

    /// The rendered TeX is listed (no PDF yet), the preamble it `\input`s is not; with a PDF,
    /// only the PDF.
    #[test]
    fn reports_lists_reports_not_the_preamble() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("exp");
        std::fs::create_dir_all(dir.join("report")).unwrap();
        for f in ["exp.tex", "flowlab-preamble.tex", "exp.aux"] {
            std::fs::write(dir.join("report").join(f), "x").unwrap();
        }
        assert_eq!(reports(root.path(), &dir), vec!["exp/report/exp.tex".to_string()]);
        std::fs::write(dir.join("report/exp.pdf"), "x").unwrap();
        assert_eq!(reports(root.path(), &dir), vec!["exp/report/exp.pdf".to_string()]);
    }
}
