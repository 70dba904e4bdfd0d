//! Interactive fit: a histfit `fit` cell run from serve's page (docs/serve-fit.md).
//!
//! A [`FitSpec`] (what the page's form holds) becomes the same manifest section `flowlab fit`
//! writes ([`crate::oneline::FitSection`]), is planned like any manifest, and its one task
//! cell runs through the plugin ABI exactly as `flowlab run` runs it ([`crate::exec::request`]),
//! on a thread of its own. The host side of that call ([`SessionHost`]) asks the plugin for
//! intermediate mixtures (ABI 1.1 `emit`, every `emit_every` iterations) and forwards them,
//! with progress and the outcome, through a channel of [`Event`]s. [`FitSession::stop`] raises
//! the cancel flag the plugin polls every iteration. The finished fit's `<column>.json` is the
//! cell's own artifact, so [`save`] writes the bytes a batch `flowlab fit` writes.
pub mod data;
pub mod mixture;
pub mod web;

use crate::error::Error;
use crate::exec;
use crate::manifest::{Layers, Manifest};
use crate::oneline::{self, FitSection};
use crate::plan::{CellKind, Plan, PlanOptions};
use crate::store::Store;
use flowlab_abi::ErrorKind;
use flowlab_abi::host::HostServices;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

/// The histfit families in flow-models' order, with the page's one-letter labels (U, P, L as
/// flow-models' `-U/-P/-L`; N, G, W for the others histfit fits).
pub const FAMILIES: [(&str, &str); 6] = [("uniform", "U"), ("genpareto", "P"), ("lognorm", "L"), ("norm", "N"), ("gamma", "G"), ("weibull_min", "W")];
/// The columns of a csv_hist a fit can use.
pub const COLUMNS: [&str; 3] = ["flows", "packets", "octets"];
/// The fitters of histfit's `fit`.
pub const FITTERS: [&str; 2] = ["em-compat", "em-binned"];

/// What the page asks to fit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FitSpec {
    /// The csv_hist file (resolved by the caller; see [`resolve_input`]).
    pub histogram: PathBuf,
    /// `flows`, `packets` or `octets`.
    pub column: String,
    /// Component counts by family name (zero counts are ignored).
    #[serde(default)]
    pub families: BTreeMap<String, u32>,
    /// Iterations (em-compat: exactly; em-binned: the cap).
    pub iterations: u64,
    /// `em-compat` or `em-binned`.
    #[serde(default = "default_fitter")]
    pub fitter: String,
    /// flow-models' `--mpw`.
    #[serde(default)]
    pub mpw: Option<f64>,
    /// A starting mixture (inline JSON, as histfit's `initial`) used when no count is > 0.
    #[serde(default)]
    pub initial: Option<Value>,
}

fn default_fitter() -> String {
    FITTERS[0].into()
}

impl FitSpec {
    /// Checks the choices the page offers (histfit checks the rest, with its own messages).
    pub fn check(&self) -> Result<(), Error> {
        if !COLUMNS.contains(&self.column.as_str()) {
            return Err(Error::Usage(format!("column: `{}` is not one of {}", self.column, COLUMNS.join(", "))));
        }
        if !FITTERS.contains(&self.fitter.as_str()) {
            return Err(Error::Usage(format!("fitter: `{}` is not one of {}", self.fitter, FITTERS.join(", "))));
        }
        if let Some(f) = self.families.keys().find(|f| !FAMILIES.iter().any(|(n, _)| n == f)) {
            return Err(Error::Usage(format!("families.{f}: unknown family (known: {})", FAMILIES.map(|f| f.0).join(", "))));
        }
        if self.families.values().all(|&n| n == 0) && self.initial.is_none() {
            return Err(Error::Usage("families: give at least one component count > 0, or an initial mixture".into()));
        }
        Ok(())
    }

    /// The manifest that reproduces this fit as a cell ("as manifest"): the dataset `input`
    /// and one `[[fit]]` section, written by the same code as `flowlab fit --print-manifest`.
    /// The histogram is written as `{data}/…` when it lies under `data_dir`.
    pub fn manifest(&self, data_dir: Option<&Path>) -> Result<String, Error> {
        self.check()?;
        let stem = self.histogram.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name: String = format!("ifit-{stem}-{}", self.column).chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
        let path = match data_dir.and_then(|d| self.histogram.strip_prefix(d).ok()) {
            Some(rel) => format!("{{data}}/{}", rel.to_string_lossy()),
            None => self.histogram.to_string_lossy().into_owned(),
        };
        let mut t = String::new();
        let _ = writeln!(t, "# flowlab serve, interactive fit: `flowlab run FILE` reproduces this fit as a cell.");
        let _ = writeln!(t, "[experiment]\nname = {}\nseed = 0", toml::Value::String(name));
        oneline::dataset(&mut t, &path);
        let families = FAMILIES.iter().filter_map(|(f, _)| self.families.get(*f).map(|n| (f.to_string(), *n))).collect();
        FitSection { column: &self.column, iterations: self.iterations, families, initial: self.initial.clone(), mpw: self.mpw, fitter: Some(&self.fitter) }.write(&mut t)?;
        Ok(t)
    }

    /// Plans the fit's manifest in a fresh work directory (the plugin checks every setting
    /// here, as for `flowlab run`): the plan and the directory it lives in.
    fn plan(&self, data_dir: Option<&Path>) -> Result<(Plan, tempfile::TempDir), Error> {
        let text = self.manifest(data_dir)?;
        let work = tempfile::Builder::new().prefix("flowlab-ifit-").tempdir().map_err(|e| Error::Other(format!("cannot create a work directory: {e}")))?;
        let layers = Layers { sets: Vec::new(), sweeps: Vec::new(), env: false, env_vars: None };
        let m = Manifest::from_text(&work.path().join("ifit.toml"), text, &layers)?;
        let plan = Plan::build(m, &PlanOptions { data_dir: data_dir.map(Path::to_path_buf) })?;
        Ok((plan, work))
    }

    /// Checks the spec as the fit will: [`FitSpec::check`], then the plan of its manifest
    /// (histfit's own ranges: iterations ≥ 1, at most 100 components a family, `mpw` in
    /// (0, 1], a readable initial mixture). The page asks this before it starts a fit or
    /// shows a manifest, so neither is accepted and then refused.
    pub fn validate(&self, data_dir: Option<&Path>) -> Result<(), String> {
        self.plan(data_dir).map(drop).map_err(|e| page_message(&e))
    }
}

/// An error as the page shows it: a manifest error without the location in the fit's
/// temporary manifest (a file the user never sees), every problem on its own line.
pub fn page_message(e: &Error) -> String {
    match e {
        Error::Manifest(errs) => errs.0.iter().map(|m| m.message.clone()).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    }
}

/// What a running fit reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An intermediate mixture after `iteration` of `of` iterations (the last one equals the
    /// result), `mixture_json` in the saved file's layout.
    Mixture {
        /// M-steps done.
        iteration: u64,
        /// The iteration count (em-binned: the cap).
        of: u64,
        /// The mixture, as `<column>.json` would hold it.
        mixture_json: String,
    },
    /// The plugin's progress report.
    Progress {
        /// Units done.
        done: u64,
        /// Units in all.
        total: u64,
    },
    /// The fit finished.
    Done(Box<Finished>),
    /// Stopped through [`FitSession::stop`].
    Stopped,
    /// The fit failed (the plugin's message).
    Failed(String),
}

/// A finished fit: the cell's outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// `<column>.json`, byte for byte as a batch fit writes it.
    pub mixture_json: String,
    /// `<column>.mode` (flow-models' sidecar).
    pub mode_text: String,
    /// M-steps.
    pub iterations: u64,
    /// Why it stopped (`max_iters`, `converged`).
    pub termination: String,
    /// Final objective per unit.
    pub objective: Option<f64>,
    /// Wall time of the plugin call, seconds.
    pub wall_s: f64,
}

/// The host services of one interactive cell: emits and progress go to the channel, the
/// cancel flag stops the fit at the next iteration.
pub struct SessionHost {
    tx: Sender<Event>,
    cancel: Arc<AtomicBool>,
    emit_every: u64,
}

impl HostServices for SessionHost {
    fn progress(&self, done: u64, total: u64) {
        let _ = self.tx.send(Event::Progress { done, total });
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
    fn emit_every(&self) -> u64 {
        self.emit_every
    }
    fn emit(&self, kind: &str, json: &str) {
        if kind != "mixture" {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(json) else { return };
        let (Some(iteration), Some(of), Some(text)) = (v["iteration"].as_u64(), v["of"].as_u64(), v["mixture_json"].as_str()) else { return };
        let _ = self.tx.send(Event::Mixture { iteration, of, mixture_json: text.to_string() });
    }
}

/// A fit running on its own thread.
pub struct FitSession {
    /// What is fitted.
    pub spec: FitSpec,
    /// Whether the plugin streams intermediate mixtures (its ABI minor ≥ 1).
    pub streams: bool,
    cancel: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _work: tempfile::TempDir,
}

/// Minimum ABI minor of a plugin that can emit.
const EMIT_MINOR: u32 = 1;

impl FitSession {
    /// Plans the fit and starts it; `emit_every` > 0 asks for a mixture every that many
    /// iterations (0: only progress and the result, as a batch cell). `threads` is the cell's
    /// thread budget (results do not depend on it). Errors: a bad spec, the manifest's
    /// errors (the dataset path), a missing plugin.
    pub fn start(spec: FitSpec, data_dir: Option<&Path>, emit_every: u64, threads: usize) -> Result<(FitSession, Receiver<Event>), Error> {
        let (plan, work) = spec.plan(data_dir)?;
        let cell = plan.cells.iter().find(|c| c.kind == CellKind::Task).cloned().ok_or_else(|| Error::Other("the fit manifest planned no task cell".into()))?;
        let store = Store::new(work.path(), &plan.manifest.experiment.name);
        let ds = match &cell.dataset {
            Some(id) => Some(exec::dataset_ref(&plan, &store, id).map_err(Error::Other)?),
            None => None,
        };
        let art = work.path().join("out");
        std::fs::create_dir_all(&art).map_err(|e| Error::Other(format!("{}: {e}", art.display())))?;
        let req = exec::request(&plan, &cell, ds, threads.max(1), &art);
        let plugin = plan.plugin(&cell.plugin);
        let streams = plugin.abi_minor >= EMIT_MINOR;
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let host = SessionHost { tx: tx.clone(), cancel: cancel.clone(), emit_every: if streams { emit_every } else { 0 } };
        let column = spec.column.clone();
        let thread = std::thread::Builder::new()
            .name("ifit".into())
            .spawn(move || {
                let t0 = Instant::now();
                let res = plugin.run(&req, &host);
                let wall_s = t0.elapsed().as_secs_f64();
                let ev = match res {
                    Ok(r) => {
                        let read = |name: String| std::fs::read_to_string(art.join(&name)).map_err(|e| format!("{name}: {e}"));
                        match (read(format!("{column}.json")), read(format!("{column}.mode"))) {
                            (Ok(mixture_json), Ok(mode_text)) => Event::Done(Box::new(Finished {
                                mixture_json,
                                mode_text,
                                iterations: r.iterations,
                                termination: serde_json::to_value(&r.termination).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                                objective: r.metrics.get("objective").and_then(Value::as_f64),
                                wall_s,
                            })),
                            (Err(e), _) | (_, Err(e)) => Event::Failed(format!("the fit wrote no {e}")),
                        }
                    }
                    Err(e) if e.kind == ErrorKind::Cancelled => Event::Stopped,
                    Err(e) => Event::Failed(e.message),
                };
                let _ = tx.send(ev);
            })
            .map_err(|e| Error::Other(format!("cannot start the fit thread: {e}")))?;
        Ok((FitSession { spec, streams, cancel, thread: Some(thread), _work: work }, rx))
    }

    /// Asks the fit to stop at its next iteration; the channel then ends with [`Event::Stopped`].
    pub fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Waits for the fit's thread.
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FitSession {
    fn drop(&mut self) {
        self.stop();
        self.join();
    }
}

/// Why a path was refused.
fn refuse(what: &str, p: &str, why: &str) -> Error {
    Error::Usage(format!("{what} `{p}`: {why}"))
}

/// Resolves a path the page sent against `root`: relative (no `..`, no absolute, no NUL)
/// and, once symlinks are resolved, still under `root`. `must_exist` for inputs.
fn under_root(what: &str, p: &str, root: &Path, must_exist: bool) -> Result<PathBuf, Error> {
    if p.is_empty() || p.contains('\0') {
        return Err(refuse(what, p, "empty or contains NUL"));
    }
    let rel = Path::new(p);
    // the directory the path is relative to, as the user started serve with it
    let dir = if must_exist { format!("the data directory (--data-dir {})", root.display()) } else { format!("the save directory (--save-dir {})", root.display()) };
    if rel.is_absolute() {
        return Err(refuse(what, p, &format!("an absolute path: give one relative to {dir}")));
    }
    if rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(refuse(what, p, &format!("`..` would leave {dir}: give a path inside it")));
    }
    let root = root.canonicalize().map_err(|e| refuse(what, p, &format!("the root {} is unusable: {e}", root.display())))?;
    let full = root.join(rel);
    if !must_exist && full.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refuse(what, p, "is a symbolic link: saving does not follow links"));
    }
    // the deepest existing ancestor must resolve inside the root (symlinks included)
    let mut probe = full.clone();
    while !probe.exists() {
        if !probe.pop() {
            break;
        }
    }
    let canon = probe.canonicalize().map_err(|e| refuse(what, p, &e.to_string()))?;
    if !canon.starts_with(&root) {
        return Err(refuse(what, p, "resolves outside the allowed directory"));
    }
    if must_exist {
        let c = full.canonicalize().map_err(|e| refuse(what, p, &format!("cannot open: {e}")))?;
        if !c.starts_with(&root) || !c.is_file() {
            return Err(refuse(what, p, "not a file under the data directory"));
        }
        return Ok(c);
    }
    Ok(canon.join(full.strip_prefix(&probe).unwrap_or(Path::new(""))))
}

/// A csv_hist the page names, relative to the data directory.
pub fn resolve_input(p: &str, data_dir: &Path) -> Result<PathBuf, Error> {
    under_root("histogram", p, data_dir, true)
}

/// What [`save`] writes.
pub enum SaveWhat<'a> {
    /// A finished fit: `<column>.json` and `<column>.mode` (a directory target) or the
    /// mixture alone (a file target).
    Finished(&'a Finished),
    /// The last intermediate mixture of a stopped fit.
    Partial(&'a str),
}

/// Saves a mixture under `root` at `dest` (relative to it): a target ending in `/` or naming
/// an existing directory receives `<column>.json` (and `<column>.mode` for a finished fit,
/// as `flowlab fit` writes them), any other target is the mixture file itself. Missing
/// directories are created; a symlink target is refused. Returns the files written.
pub fn save(root: &Path, dest: &str, column: &str, what: SaveWhat) -> Result<Vec<PathBuf>, Error> {
    let target = under_root("save path", dest, root, false)?;
    let is_dir = dest.ends_with('/') || target.is_dir();
    let (mixture, mode) = match what {
        SaveWhat::Finished(f) => (f.mixture_json.as_str(), Some(f.mode_text.as_str())),
        SaveWhat::Partial(m) => (m, None),
    };
    let mut files = vec![];
    if is_dir {
        files.push((target.join(format!("{column}.json")), mixture));
        if let Some(m) = mode {
            files.push((target.join(format!("{column}.mode")), m));
        }
    } else {
        files.push((target, mixture));
    }
    let mut out = vec![];
    for (f, text) in files {
        if f.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(refuse("save path", dest, "is a symbolic link"));
        }
        if let Some(d) = f.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::Other(format!("{}: cannot create: {e}", d.display())))?;
        }
        std::fs::write(&f, text).map_err(|e| Error::Other(format!("{}: cannot write: {e}", f.display())))?;
        out.push(f);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_root_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/h.csv"), "x").unwrap();
        for bad in ["../x", "/etc/passwd", "sub/../../x", "", "a\0b"] {
            assert!(under_root("p", bad, d.path(), false).is_err(), "{bad}");
        }
        // each refusal says why, and relative to which directory
        let why = |p: &str, input: bool| under_root("p", p, d.path(), input).unwrap_err().to_string();
        assert!(why("/etc/passwd", true).contains("an absolute path") && why("/etc/passwd", true).contains("--data-dir"), "{}", why("/etc/passwd", true));
        assert!(why("../x", false).contains("`..` would leave") && why("../x", false).contains("--save-dir"), "{}", why("../x", false));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/tmp", d.path().join("out")).unwrap();
            assert!(under_root("p", "out/x.json", d.path(), false).is_err());
            // a link to a file inside the root is not followed either (saving wrote through it)
            std::os::unix::fs::symlink(d.path().join("sub/h.csv"), d.path().join("link.json")).unwrap();
            assert!(why("link.json", false).contains("symbolic link"), "{}", why("link.json", false));
        }
        assert!(resolve_input("sub/h.csv", d.path()).is_ok());
        assert!(resolve_input("sub/none.csv", d.path()).is_err());
        assert!(resolve_input("sub", d.path()).is_err());
        let p = under_root("p", "new/dir/x.json", d.path(), false).unwrap();
        assert!(p.starts_with(d.path().canonicalize().unwrap()));
    }

    #[test]
    fn the_manifest_names_data_paths_relative_to_the_data_dir() {
        let s = FitSpec {
            histogram: PathBuf::from("/d/agh/length.csv"),
            column: "flows".into(),
            families: [("uniform".to_string(), 6), ("lognorm".to_string(), 4), ("gamma".to_string(), 0)].into(),
            iterations: 400,
            fitter: "em-compat".into(),
            mpw: None,
            initial: None,
        };
        let t = s.manifest(Some(Path::new("/d"))).unwrap();
        assert!(t.contains("path = \"{data}/agh/length.csv\""), "{t}");
        assert!(t.contains("families = { uniform = 6, lognorm = 4 }\n"), "{t}");
        assert!(!t.contains("fitter"), "{t}");
        let mut b = s.clone();
        b.fitter = "em-binned".into();
        assert!(b.manifest(None).unwrap().contains("fitter = \"em-binned\"\n"));
        b.fitter = "nope".into();
        assert!(b.manifest(None).is_err());
    }
}
