//! What planning reads from outside the manifest, behind one trait ([`PlanIo`]): whether a
//! dataset or path setting's file exists, its content hash, and the plugins' descriptions and
//! settings checks.
//! [`DiskIo`] is the runner's (files hashed through runner/src/guard.rs, plugins loaded
//! through the C ABI); the plan's unit tests give an in-memory fake, so grid expansion, cell
//! ids, seeds and errors are tested without a file or a shared library (docs/design.md,
//! "Plan stage").
use crate::error::{ManifestError, Origin};
use crate::manifest::suggest;
use crate::paths::{Disk, PathFiles};
use flowlab_abi::host::{LoadedPlugin, find_plugin_file, search_dirs};
use flowlab_abi::{Description, PluginError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A plugin as planning sees it: its self-description and its settings check.
pub trait PluginApi: Sync {
    /// The plugin's self-description (capabilities, settings schemas, formats).
    fn description(&self) -> &Description;
    /// Checks the settings of `capability` (the plugin's `validate` entry).
    fn validate(&self, capability: &str, settings: &Value) -> Result<(), PluginError>;
}

impl PluginApi for LoadedPlugin {
    fn description(&self) -> &Description {
        &self.description
    }
    fn validate(&self, capability: &str, settings: &Value) -> Result<(), PluginError> {
        LoadedPlugin::validate(self, capability, settings)
    }
}

/// Everything planning reads besides the manifest: the files of datasets and path settings
/// ([`PathFiles`]: whether a path exists, the content hash of a path setting's file), dataset
/// hashes, and plugins.
pub trait PlanIo: PathFiles {
    /// The content hash of the dataset file or directory at `path` (its identity in cell
    /// ids). An `InvalidInput` error is a path that is not a regular file or a directory of
    /// them; any other error is one of reading.
    fn dataset_hash(&self, path: &Path) -> std::io::Result<String>;
    /// Plugin `name` (loaded once), or the error placed at `origin`.
    fn plugin(&mut self, name: &str, origin: Origin) -> Result<&'static dyn PluginApi, ManifestError>;
}

/// The runner's [`PlanIo`]: files on disk, plugins loaded from shared libraries.
#[derive(Debug, Default)]
pub struct DiskIo {
    /// The plugins loaded so far (the plan keeps them for the run).
    pub plugins: PluginSet,
}

impl PathFiles for DiskIo {
    fn find(&self, path: &Path) -> Option<PathBuf> {
        // canonical: the dataset guard knows the file by this path
        Disk.find(path)
    }
    fn path_hash(&self, path: &Path) -> std::io::Result<String> {
        Disk.path_hash(path)
    }
}

impl PlanIo for DiskIo {
    fn dataset_hash(&self, path: &Path) -> std::io::Result<String> {
        crate::guard::hash_dataset(path)
    }
    fn plugin(&mut self, name: &str, origin: Origin) -> Result<&'static dyn PluginApi, ManifestError> {
        self.plugins.get(name, origin).map(|p| p as &'static dyn PluginApi)
    }
}

/// Plugins referenced by a manifest, loaded once.
#[derive(Debug, Default)]
pub struct PluginSet {
    pub(super) map: BTreeMap<String, &'static LoadedPlugin>,
}

impl PluginSet {
    /// Plugin `name` if the plan loaded it.
    pub fn loaded(&self, name: &str) -> Option<&'static LoadedPlugin> {
        self.map.get(name).copied()
    }
    /// Loads plugin `name` (cached), or explains where it was looked for.
    pub fn get(&mut self, name: &str, origin: Origin) -> Result<&'static LoadedPlugin, ManifestError> {
        if let Some(p) = self.map.get(name) {
            return Ok(p);
        }
        let file = find_plugin_file(name).ok_or_else(|| {
            // file names only: loading a library runs its code, so only named plugins are loaded
            let found = flowlab_abi::host::candidate_names();
            let hint = match suggest(name, found.iter().map(|s| s.as_str())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "available plugins: {}; searched {} (set FLOWLAB_PLUGIN_PATH or run `cargo build --workspace`)",
                    if found.is_empty() { "none".to_string() } else { found.join(", ") },
                    search_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            };
            ManifestError::new(origin.clone(), format!("unknown plugin `{name}`")).help(hint)
        })?;
        let p = LoadedPlugin::load(&file).map_err(|e| ManifestError::new(origin, format!("plugin `{name}` cannot be loaded: {e}")))?;
        self.map.insert(name.to_string(), p);
        Ok(p)
    }

    /// The loaded plugins.
    pub fn all(&self) -> impl Iterator<Item = &'static LoadedPlugin> + '_ {
        self.map.values().copied()
    }
}
