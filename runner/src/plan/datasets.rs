//! The datasets of a plan: a `path` dataset is found and hashed (its identity in cell ids is
//! its content hash); a generated one becomes a dataset cell whose id is its identity.
use super::grid::Grid;
use super::io::PlanIo;
use super::tasks::settings_help;
use super::{Cell, CellKind, DatasetSource, PlannedDataset, cell_id, expand_data, hex_lower, overrides_under, resolve_paths};
use crate::error::ManifestError;
use crate::manifest::{DatasetDecl, Manifest};
use flowlab_abi::CapabilityKind;
use flowlab_abi::json::canonical;
use flowlab_abi::seed::derive_cell_seed;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// A `path` dataset: `{data}` expanded, the path found and its content hashed.
pub(super) fn file(manifest: &Manifest, d: &DatasetDecl, path: &str, data_dir: Option<&Path>, mdir: &Path, io: &mut dyn PlanIo) -> Result<PlannedDataset, ManifestError> {
    let at = || manifest.origin(&["datasets", &d.id, "path"]);
    let p = expand_data(path, data_dir, mdir)
        .map_err(|m| ManifestError::new(at(), format!("dataset `{}`: {m}", d.id)).help("pass --data-dir DIR or set FLOWLAB_DATA_DIR (README: where to download the data)"))?;
    let Some(p) = io.find(&p) else {
        let help = if path.starts_with("{data}") {
            format!("the data directory is {}; check --data-dir / FLOWLAB_DATA_DIR and the README's data section", data_dir.map(|p| p.display().to_string()).unwrap_or_default())
        } else {
            "relative paths are relative to the manifest's directory; use {data}/… for the data directory".into()
        };
        return Err(ManifestError::new(at(), format!("dataset `{}`: no such file or directory: {}", d.id, p.display())).help(help));
    };
    let sha = match io.dataset_hash(&p) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(ManifestError::new(at(), format!("dataset `{}`: {e}", d.id)).help("a dataset is a regular file or a directory of regular files (README: datasets)"));
        }
        Err(e) => return Err(ManifestError::new(at(), format!("dataset `{}`: cannot read {}: {e}", d.id, p.display()))),
    };
    Ok(PlannedDataset { decl: d.clone(), format: d.format.clone().unwrap_or_default(), source: DatasetSource::File { path: p, sha256: sha.clone() }, identity: sha })
}

/// A generated dataset: the plugin's dataset capability checked, its settings validated,
/// and its cell (at index `index` of the plan's cells) built.
pub(super) fn generated(
    manifest: &Manifest,
    d: &DatasetDecl,
    (plugin, cap): (&String, &String),
    resolver: &crate::paths::Resolver,
    io: &mut dyn PlanIo,
    index: usize,
) -> Result<(Cell, PlannedDataset), Vec<ManifestError>> {
    let at = |k: &str| manifest.origin(&["datasets", &d.id, k]);
    let p = io.plugin(plugin, at("plugin")).map_err(|e| vec![e])?;
    let capability = p.description().capability(cap);
    let schema = match capability {
        Some(c) if c.kind == CapabilityKind::Dataset => &c.settings_schema,
        _ => {
            let gens: Vec<&str> = p.description().capabilities.iter().filter(|c| c.kind == CapabilityKind::Dataset).map(|c| c.name.as_str()).collect();
            let help = if gens.is_empty() { format!("`{plugin}` generates no datasets") } else { format!("its dataset capabilities: {}", gens.join(", ")) };
            return Err(vec![ManifestError::new(at("capability"), format!("plugin `{plugin}` has no dataset capability `{cap}`")).help(help)]);
        }
    };
    let produces = capability.and_then(|c| c.produces.clone());
    if let (Some(f), Some(declared)) = (&produces, &d.format)
        && f != declared
    {
        return Err(vec![ManifestError::new(at("format"), format!("dataset `{}`: `{cap}` of `{plugin}` writes format `{f}`, not `{declared}`", d.id)).help(format!("write `format = \"{f}\"`"))]);
    }
    let wrong = super::tasks::type_errors(schema, &d.settings, &|k| manifest.origin(&["datasets", &d.id, "settings", k]), &format!("dataset `{}`", d.id), (plugin, cap));
    if !wrong.is_empty() {
        return Err(wrong);
    }
    let dpaths = resolve_paths(manifest, (resolver, &*io), schema, &d.settings, &[], &|k| manifest.origin(&["datasets", &d.id, "settings", k]), &format!("dataset `{}`", d.id))?;
    let grid = Grid::new(d.settings.clone(), Vec::new()).with_paths(dpaths);
    if let Err(e) = p.validate(cap, &grid.settings(0)) {
        let mut path = vec!["datasets".to_string(), d.id.clone(), "settings".into()];
        path.extend(e.path.iter().flat_map(|p| p.split('.').map(str::to_string)));
        return Err(vec![ManifestError::new(manifest.source.locate_normalised(&path), format!("dataset `{}`: {}", d.id, e.message)).help(settings_help(schema, &e, plugin, cap))]);
    }
    let canon = canonical(&Value::Object(d.settings.clone()));
    let seed = derive_cell_seed(manifest.experiment.seed, &d.id, plugin, cap, &canon, 0);
    let files = crate::paths::id_part(&*io, &d.settings, &grid.paths, None);
    let seed_hex = hex_lower(&seed);
    let mut parts = vec!["dataset", &d.id, plugin, cap, &canon, &seed_hex];
    if !files.is_empty() {
        parts.push(&files);
    }
    let id = cell_id(&parts);
    let cell = Cell {
        id: id.clone(),
        kind: CellKind::Dataset,
        task: d.id.as_str().into(),
        plugin: plugin.as_str().into(),
        capability: cap.as_str().into(),
        dataset: None,
        replicate: 0,
        grid: Arc::new(grid),
        point_index: 0,
        seed: u64::from_be_bytes(seed[..8].try_into().expect("32 bytes")),
        seed_bytes: seed,
        overrides: Arc::new(overrides_under(manifest, &[&format!("datasets.{}.", d.id)])),
    };
    // `format` may be left out when the capability says what it writes
    let format = d.format.clone().or(produces).unwrap_or_default();
    Ok((cell, PlannedDataset { decl: d.clone(), format, source: DatasetSource::Generated { cell: index }, identity: id }))
}
