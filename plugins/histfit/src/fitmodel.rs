//! The `fit_model` dataset capability: flow-models' model directory (`my_mixture/` of its
//! tutorial: `flows.json`, `packets.json`, `octets.json` and their `.mode` files), made by three
//! `fit` runs over one csv_hist, as a dataset that `generate` and `plot` read
//! (docs/histfit.md, "The tutorial as one manifest").
//!
//! Each column's fit is exactly the `fit` task with that column and `plots = false`, run on the
//! histogram: a model dataset holds the same bytes as the three fit cells' `<y>.json` and
//! `<y>.mode`.
use crate::fitcap::{self, FitSettings};
use flowlab_abi::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Map;
use std::path::Path;

/// The directory of the dataset artifact, below the cell's output directory.
pub const MODEL_DIR: &str = "model";

/// The example column table shown by `flowlab plugins histfit fit_model`.
fn example_column() -> Value {
    json!({"families": {"uniform": 6, "lognorm": 4}, "iterations": 400})
}

/// Settings of `fit_model`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FitModelSettings {
    /// The csv_hist file the three mixtures are fitted to (flow-models' `fit FILE`); relative to
    /// the manifest, `{data}` expanded, its bytes part of the dataset's identity.
    #[schemars(extend("x-flowlab-path" = "manifest"))]
    pub histogram: String,
    /// The flows mixture: the settings of a `fit` task (`families`, `iterations`, `initial`,
    /// `fitter`, `mpw`, …) without `column` (it is `flows`), e.g. `{ families = { uniform = 6,
    /// lognorm = 4 }, iterations = 400 }`.
    #[schemars(example = example_column())]
    pub flows: Map<String, Value>,
    /// The packets mixture, as `flows`.
    #[schemars(example = example_column())]
    pub packets: Map<String, Value>,
    /// The octets mixture, as `flows`.
    #[schemars(example = example_column())]
    pub octets: Map<String, Value>,
}

impl FitModelSettings {
    /// Each column's `fit` settings (`column` set, `plots` off), checked as a `fit` task's;
    /// errors name `<column>.<key>`.
    pub fn columns(&self) -> Result<Vec<(&'static str, Value)>, PluginError> {
        let mut out = Vec::new();
        for (y, t) in [("flows", &self.flows), ("packets", &self.packets), ("octets", &self.octets)] {
            if t.contains_key("column") {
                return Err(PluginError::config(format!("{y}.column"), format!("`{y}` fits the {y} column; remove `column`")));
            }
            let mut m = t.clone();
            m.insert("column".into(), json!(y));
            m.entry("plots").or_insert(json!(false));
            let v = Value::Object(m);
            let s: FitSettings = serde_json::from_value(v.clone()).map_err(|e| PluginError::config(y, format!("{y}: {e}")))?;
            s.check().map_err(|mut e| {
                e.path = e.path.map(|p| format!("{y}.{p}"));
                e
            })?;
            out.push((y, v));
        }
        Ok(out)
    }
}

/// `fit_model`: runs the three fits into `model/` and returns it as the dataset.
pub fn fit_model(s: FitModelSettings, req: &Request, host: &Host, pool: &rayon::ThreadPool) -> Result<Response, PluginError> {
    let columns = s.columns()?;
    if !Path::new(&s.histogram).is_file() {
        return Err(PluginError::config("histogram", format!("histogram {}: no such file", s.histogram)));
    }
    let dir = Path::new(&req.output_dir).join(MODEL_DIR);
    let mut r = Response::default();
    let mut stops = Vec::new();
    for (y, settings) in columns {
        host.check_cancel()?;
        let sub = Request {
            output_dir: dir.to_string_lossy().into_owned(),
            dataset: Some(DatasetRef { id: "histogram".into(), path: s.histogram.clone(), format: "csv_hist".into(), ..Default::default() }),
            settings,
            ..req.clone()
        };
        let f = fitcap::fit(parse_settings(&sub.settings)?, &sub, host, pool)?;
        stops.push(f.termination.clone());
        r.iterations += f.iterations;
        r.evaluations += f.evaluations;
        for (k, v) in f.metrics {
            r.metrics.insert(format!("{y}_{k}"), v);
        }
        r.data.insert(y.into(), json!({"termination": f.termination, "iterations": f.iterations, "components": f.data.get("components"), "mixture_json": f.data.get("mixture_json")}));
        for mut a in f.artifacts {
            a.path = format!("{MODEL_DIR}/{}", a.path);
            r.artifacts.push(a);
        }
    }
    // the model is as converged as its least converged fit
    r.termination = stops.iter().find(|t| **t != Termination::Converged).cloned().unwrap_or(Termination::Converged);
    r.artifacts.push(Artifact { name: "dataset".into(), path: MODEL_DIR.into(), kind: "mixture_dir".into() });
    Ok(r)
}
