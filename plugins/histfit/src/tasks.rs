//! Capability entry points: typed settings (with their JSON Schemas) and the responses.
use crate::hist::{Hist, XKind};
use crate::summary::{Meta, Summary};
use flowlab_abi::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Writes an artifact file under the cell's output directory.
pub fn write_artifact(req: &Request, rel: &str, bytes: &[u8], kind: &str) -> Result<Artifact, PluginError> {
    let dir = Path::new(&req.output_dir);
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| PluginError::run(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(&path, bytes).map_err(|e| PluginError::run(format!("cannot write {}: {e}", path.display())))?;
    Ok(Artifact { name: rel.into(), path: rel.into(), kind: kind.into() })
}

/// The dataset file of a task request, or a config error.
pub fn dataset_path(req: &Request) -> Result<PathBuf, PluginError> {
    match &req.dataset {
        Some(d) if !d.path.is_empty() => Ok(PathBuf::from(&d.path)),
        _ => Err(PluginError::config("datasets", format!("`{}` needs a csv_hist dataset; list one under `datasets`", req.capability))),
    }
}

/// Which variant(s) of the summary tables to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// flow-models' exact output (XXX placeholders, ASCII-space thousands).
    Flowmodels,
    /// siunitx `\num{}` numbers, placeholders filled from settings/metadata.
    Siunitx,
    /// Both (default).
    #[default]
    Both,
}

/// A metadata value: text or a number.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MetaValue {
    /// Free text.
    Text(String),
    /// A number (e.g. a timeout in seconds).
    Number(serde_json::Number),
}

impl MetaValue {
    fn text(&self) -> String {
        match self {
            MetaValue::Text(s) => s.clone(),
            MetaValue::Number(x) => x.to_string(),
        }
    }
}

/// Settings of `summary` (docs/histfit.md, "Summary tables").
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarySettings {
    /// x axis of the histogram (`length` or `size`); default: detected from the smallest
    /// `bin_lo` (1 → length, 64 → size), as flow-models does.
    #[serde(default)]
    pub x: Option<XKind>,
    /// `flowmodels` (exact flow-models output), `siunitx` (improved), or `both` (default).
    #[serde(default)]
    pub style: Style,
    /// Dataset name for the improved table (default: `experiment.metadata.dataset_name`).
    #[serde(default)]
    pub dataset_name: Option<MetaValue>,
    /// Flow exporter (default: `experiment.metadata.exporter`).
    #[serde(default)]
    pub exporter: Option<MetaValue>,
    /// L2 technology (default: `experiment.metadata.l2_technology`).
    #[serde(default)]
    pub l2_technology: Option<MetaValue>,
    /// Sampling rate (default: `experiment.metadata.sampling_rate`, else `none`).
    #[serde(default)]
    pub sampling_rate: Option<MetaValue>,
    /// Active timeout in seconds (default: `experiment.metadata.active_timeout`).
    #[serde(default)]
    pub active_timeout: Option<MetaValue>,
    /// Inactive timeout in seconds (default: `experiment.metadata.inactive_timeout`).
    #[serde(default)]
    pub inactive_timeout: Option<MetaValue>,
}

impl SummarySettings {
    /// Placeholder values: the setting if given, else the experiment metadata key of the same name.
    pub fn meta(&self, md: &serde_json::Map<String, Value>) -> Meta {
        let pick = |s: &Option<MetaValue>, key: &str| -> Option<String> {
            s.as_ref().map(|v| v.text()).or_else(|| match md.get(key) {
                Some(Value::String(t)) => Some(t.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        };
        Meta {
            dataset_name: pick(&self.dataset_name, "dataset_name"),
            exporter: pick(&self.exporter, "exporter"),
            l2_technology: pick(&self.l2_technology, "l2_technology"),
            sampling_rate: pick(&self.sampling_rate, "sampling_rate"),
            active_timeout: pick(&self.active_timeout, "active_timeout"),
            inactive_timeout: pick(&self.inactive_timeout, "inactive_timeout"),
        }
    }
}

/// `summary`: reads the csv_hist, returns the tables in `data` and writes them as artifacts:
/// `summary.tex` (flow-models' exact stdout), `summary-table1.tex`, `summary-table2.tex`,
/// and for the improved variant `summary-siunitx.tex`.
pub fn summary(s: SummarySettings, req: &Request, host: &Host) -> Result<Response, PluginError> {
    let path = dataset_path(req)?;
    let h = Hist::read(&path)?;
    host.check_cancel()?;
    let sm = Summary::compute(&h, s.x)?;
    let mut r = Response::default();
    let m = &mut r.metrics;
    for (what, t) in &sm.totals {
        m.insert(format!("total_{what}"), num(*t as f64));
    }
    m.insert("avg_flow_length".into(), num(sm.totals[1].1 as f64 / sm.totals[0].1 as f64));
    m.insert("avg_flow_size".into(), num(sm.avg_flow_size));
    m.insert("avg_packet_size".into(), num(sm.avg_packet_size));
    m.insert("rows".into(), json!(h.len()));
    m.insert("gaps".into(), json!(h.gaps()));
    m.insert("min_bin_lo".into(), json!(h.bin_lo[0]));
    m.insert("max_bin_lo".into(), json!(h.bin_lo[h.len() - 1]));
    let d = &mut r.data;
    d.insert("x".into(), json!(sm.x.name()));
    d.insert("unit".into(), json!(sm.x.unit()));
    d.insert("totals".into(), Value::Object(sm.totals.iter().map(|(w, t)| (w.to_string(), json!(t.to_string()))).collect()));
    d.insert("points".into(), json!(sm.points));
    d.insert(
        "rows".into(),
        Value::Array(sm.points.iter().zip(&sm.pct).map(|(p, v)| json!({"point": p, "flows": num(v[0]), "packets": num(v[1]), "octets": num(v[2]), "in_range": !v[0].is_nan()})).collect()),
    );
    for (k, what) in ["flows", "packets", "octets"].iter().enumerate() {
        d.insert(format!("pct_{what}"), Value::Array(sm.pct.iter().map(|v| num(v[k])).collect()));
    }
    if s.style != Style::Siunitx {
        let (t1, t2, out) = (sm.table1_flowmodels(), sm.table2_flowmodels(), sm.flowmodels_stdout());
        r.artifacts.push(write_artifact(req, "summary.tex", out.as_bytes(), "tex")?);
        r.artifacts.push(write_artifact(req, "summary-table1.tex", format!("{t1}\n").as_bytes(), "tex")?);
        r.artifacts.push(write_artifact(req, "summary-table2.tex", format!("{t2}\n").as_bytes(), "tex")?);
        d.insert("table1".into(), json!(t1));
        d.insert("table2".into(), json!(t2));
        d.insert("flowmodels_tex".into(), json!(out));
    }
    if s.style != Style::Flowmodels {
        let meta = s.meta(&req.experiment.metadata);
        let (t1, t2) = (sm.table1_siunitx(&meta), sm.table2_siunitx());
        r.artifacts.push(write_artifact(req, "summary-siunitx.tex", format!("{t1}\n\n{t2}\n").as_bytes(), "tex")?);
        d.insert("table1_siunitx".into(), json!(t1));
        d.insert("table2_siunitx".into(), json!(t2));
    }
    Ok(r)
}

/// Largest `flows` of `generate_hist` (streamed into the bins: a time bound, not a memory one).
pub const MAX_HIST_FLOWS: u64 = 1_000_000_000;
/// Largest `bin_exp` of `generate_hist`.
pub const MAX_BIN_EXP: u32 = 40;

fn default_flows() -> u64 {
    200_000
}
fn default_x_length() -> XKind {
    XKind::Length
}
fn default_bin_exp() -> u32 {
    12
}

/// Settings of `generate_hist` (dataset capability).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateHistSettings {
    /// Number of flows to draw (default 200 000; at most 10^9).
    #[serde(default = "default_flows")]
    #[schemars(range(min = 1, max = MAX_HIST_FLOWS))]
    pub flows: u64,
    /// x axis: `length` (default) or `size`.
    #[serde(default = "default_x_length")]
    pub x: XKind,
    /// Log-binning exponent b of flow-models' `hist -b` (default 12; 0 = unit bins).
    #[serde(default = "default_bin_exp")]
    #[schemars(range(max = MAX_BIN_EXP))]
    pub bin_exp: u32,
    /// The flows mixture the x values are drawn from: `[[weight, family, [scipy args]], …]`
    /// or `{"sum": …, "mix": […]}`. Default: flow-models' tutorial U6 L4 flows mixture.
    #[serde(default)]
    pub mixture: Option<Value>,
    /// Packets mixture over the same x (needs `sum`); with `octets_mixture` it gives the
    /// average packet size per value (docs/histfit.md, "generate and csv_flow"). Default: the tutorial's packets mixture.
    #[serde(default)]
    pub packets_mixture: Option<Value>,
    /// Octets mixture over the same x (needs `sum`). Default: the tutorial's octets mixture.
    #[serde(default)]
    pub octets_mixture: Option<Value>,
}

impl GenerateHistSettings {
    /// Checks ranges and builds the model; errors name the settings key.
    pub fn model(&self) -> Result<crate::sampling::Model, PluginError> {
        use crate::mixture::Mixture;
        if self.flows == 0 || self.flows > MAX_HIST_FLOWS {
            return Err(PluginError::config("flows", format!("flows must be in 1..={MAX_HIST_FLOWS}, got {}", self.flows)));
        }
        if self.bin_exp > MAX_BIN_EXP {
            return Err(PluginError::config("bin_exp", format!("bin_exp must be in 0..={MAX_BIN_EXP}, got {}", self.bin_exp)));
        }
        let parse = |key: &str, v: &Option<Value>, need_sum: bool| -> Result<Option<Mixture>, PluginError> {
            let Some(v) = v else { return Ok(None) };
            let m = Mixture::from_value(v).map_err(|e| PluginError::config(key, format!("{key}: {e}")))?;
            if need_sum && m.sum.is_none() {
                return Err(PluginError::config(key, format!("{key} needs its `sum` (write it as {{\"sum\": N, \"mix\": [...]}}): the packet size uses Σoctets/Σpackets")));
            }
            Ok(Some(m))
        };
        let flows = parse("mixture", &self.mixture, false)?;
        let packets = parse("packets_mixture", &self.packets_mixture, true)?;
        let octets = parse("octets_mixture", &self.octets_mixture, true)?;
        match self.x {
            XKind::Length => {
                let t = crate::sampling::Model::tutorial();
                Ok(crate::sampling::Model { x: XKind::Length, flows: flows.unwrap_or(t.flows), packets: packets.unwrap_or(t.packets), octets: octets.unwrap_or(t.octets) })
            }
            XKind::Size => match (flows, packets, octets) {
                (Some(f), Some(p), Some(o)) => Ok(crate::sampling::Model { x: XKind::Size, flows: f, packets: p, octets: o }),
                _ => Err(PluginError::config("x", "x = \"size\" needs `mixture`, `packets_mixture` and `octets_mixture` (the built-in tutorial model is over length)")),
            },
            other => Err(PluginError::config("x", format!("generate_hist draws length or size, not `{}`", other.name()))),
        }
    }
    /// Validation without running.
    pub fn check(&self) -> Result<(), PluginError> {
        self.model().map(|_| ())
    }
}

/// `generate_hist`: draws `flows` flows from the model (docs/histfit.md, "generate and csv_flow" semantics, independent seeded
/// streams, see [`crate::sampling`]), bins them with flow-models' `bin_calc_log(x, b)` (docs/histfit.md, "csv_hist and binning")
/// and writes the csv_hist artifact `dataset` (`dataset.csv`).
pub fn generate_hist(s: GenerateHistSettings, req: &Request, host: &Host) -> Result<Response, PluginError> {
    let model = s.model()?;
    let mut g = crate::sampling::FlowGen::new(&model, &req.seed_hex);
    let mut b = crate::hist::Binner::new(s.bin_exp);
    let step = (s.flows / 20).max(1);
    for i in 0..s.flows {
        if i % step == 0 {
            host.check_cancel()?;
            host.progress(i, s.flows);
        }
        let (p, o) = g.next_flow();
        let x = if model.x == XKind::Size { o } else { p };
        b.add(x, p, o);
    }
    host.progress(s.flows, s.flows);
    let h = b.finish("dataset.csv");
    let mut r = Response::default();
    r.artifacts.push(write_artifact(req, "dataset.csv", h.to_csv().as_bytes(), "csv_hist")?);
    r.artifacts.last_mut().expect("just pushed").name = "dataset".into();
    let (f, p, o) = (h.total("flows_sum").unwrap_or(0), h.total("packets_sum").unwrap_or(0), h.total("octets_sum").unwrap_or(0));
    r.metrics.insert("flows".into(), json!(f as u64));
    r.metrics.insert("packets".into(), num(p as f64));
    r.metrics.insert("octets".into(), num(o as f64));
    r.metrics.insert("rows".into(), json!(h.len()));
    r.metrics.insert("avg_flow_length".into(), num(p as f64 / f as f64));
    r.data.insert("x".into(), json!(model.x.name()));
    r.data.insert("bin_exp".into(), json!(s.bin_exp));
    r.data.insert("model".into(), json!({"flows": model.flows.to_value(), "packets": model.packets.to_value(), "octets": model.octets.to_value()}));
    Ok(r)
}
