//! The `generate` capability: flow records in flow-models' csv_flow format (docs/histfit.md, "generate and csv_flow") from a
//! mixture model (a directory of `flows/packets/octets.json`, inline mixtures, or the
//! tutorial model) or from a csv_hist histogram, on independent seeded streams.
//!
//! csv_flow: 21 fields, `", "` separated, no header — `af, prot, inif, outif, sa0…sa3,
//! da0…da3, sp, dp, first, first_ms, last, last_ms, packets, octets, aggs`; like flow-models
//! every field but packets and octets is 0.
use crate::hist::{Hist, XKind};
use crate::mixture::Mixture;
use crate::sampling::{FlowGen, Model};
use crate::tasks::write_artifact;
use flowlab_abi::prelude::*;
use rand::Rng;
use schemars::JsonSchema;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::Path;

fn twenty() -> u64 {
    20
}
fn length() -> XKind {
    XKind::Length
}

/// Inline mixtures of a model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineModel {
    /// Flows mixture (`{"sum", "mix"}` or a bare list).
    pub flows: Value,
    /// Packets mixture (with `sum`).
    pub packets: Value,
    /// Octets mixture (with `sum`).
    pub octets: Value,
}

/// Largest `flows` of `generate` (every flow is a csv_flow line of the artifact).
pub const MAX_FLOWS: u64 = 100_000_000;
/// Largest mixture JSON file `mixture_dir` may hold (the stored mixtures are a few KiB).
pub const MAX_MIXTURE_BYTES: u64 = 16 << 20;

/// Settings of `generate`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateSettings {
    /// Number of flows (default 20). With `histogram`, 0 replays every bin `flows_sum` times.
    #[serde(default = "twenty")]
    #[schemars(range(max = MAX_FLOWS))]
    pub flows: u64,
    /// x axis of the model: `length` (default) or `size`.
    #[serde(default = "length")]
    pub x: XKind,
    /// A mixture directory holding `flows.json`, `packets.json`, `octets.json` (flow-models' model).
    #[serde(default)]
    pub mixture_dir: Option<String>,
    /// Inline mixtures instead of a directory.
    #[serde(default)]
    pub model: Option<InlineModel>,
    /// A csv_hist file to sample instead of a model (bins drawn with weights `flows_sum`; the
    /// value is `bin_lo`, the packet size the bin's octets/packets).
    #[serde(default)]
    pub histogram: Option<String>,
}

/// Where flows come from.
pub enum Source {
    /// A mixture model.
    Model(Box<Model>),
    /// A histogram.
    Hist(Hist),
}

impl GenerateSettings {
    /// Resolves the source; errors name the key. No source given: the tutorial model.
    pub fn source(&self) -> Result<Source, PluginError> {
        let given = [self.mixture_dir.is_some(), self.model.is_some(), self.histogram.is_some()].iter().filter(|b| **b).count();
        if given > 1 {
            return Err(PluginError::config("mixture_dir", "give one of `mixture_dir`, `model`, `histogram`"));
        }
        if self.flows > MAX_FLOWS {
            return Err(PluginError::config("flows", format!("at most {MAX_FLOWS} flows per cell")));
        }
        let x = self.x;
        if !matches!(x, XKind::Length | XKind::Size) {
            return Err(PluginError::config("x", "generate draws length or size"));
        }
        let need_sum = |m: Mixture, key: &str| -> Result<Mixture, PluginError> {
            if m.sum.is_none() {
                return Err(PluginError::config(key, format!("{key}: the mixture needs its `sum` (Σoctets/Σpackets sets the packet size)")));
            }
            Ok(m)
        };
        if let Some(dir) = &self.mixture_dir {
            let read = |y: &str| -> Result<Mixture, PluginError> {
                let p = Path::new(dir).join(format!("{y}.json"));
                let b = flowlab_abi::limits::read_capped(&p, MAX_MIXTURE_BYTES).map_err(|e| PluginError::config("mixture_dir", e.message))?;
                let t = String::from_utf8(b).map_err(|e| PluginError::data(format!("{}: not UTF-8 text ({e})", p.display())))?;
                Mixture::from_json_str(flowlab_abi::limits::strip_bom(&t)).map_err(|e| PluginError::data(format!("{}: {e}", p.display())))
            };
            return Ok(Source::Model(Box::new(Model { x, flows: read("flows")?, packets: need_sum(read("packets")?, "mixture_dir")?, octets: need_sum(read("octets")?, "mixture_dir")? })));
        }
        if let Some(m) = &self.model {
            let p = |v: &Value, k: &str| Mixture::from_value(v).map_err(|e| PluginError::config(format!("model.{k}"), e));
            return Ok(Source::Model(Box::new(Model {
                x,
                flows: p(&m.flows, "flows")?,
                packets: need_sum(p(&m.packets, "packets")?, "model.packets")?,
                octets: need_sum(p(&m.octets, "octets")?, "model.octets")?,
            })));
        }
        if let Some(h) = &self.histogram {
            let h = Hist::read(Path::new(h))?;
            // a replay writes Σ flows_sum lines, a number that comes from the data
            let total = h.total("flows_sum").unwrap_or(0);
            if self.flows == 0 && total > u128::from(MAX_FLOWS) {
                return Err(PluginError::config("flows", format!("flows = 0 replays every flow of {}: {total} flows, more than the {MAX_FLOWS} a cell may write; give `flows` to draw that many", h.source)));
            }
            return Ok(Source::Hist(h));
        }
        if self.flows == 0 {
            return Err(PluginError::config("flows", "flows = 0 (replay) needs `histogram`"));
        }
        if x != XKind::Length {
            return Err(PluginError::config("x", "the built-in tutorial model is over length; give `mixture_dir` or `model` for size"));
        }
        Ok(Source::Model(Box::new(Model::tutorial())))
    }
}

/// One csv_flow line.
pub fn csv_flow_line(out: &mut String, packets: u64, octets: u64) {
    let _ = writeln!(out, "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {packets}, {octets}, 0");
}

/// Flows from a histogram (flow-models' csv_hist branch): bins drawn with probability
/// flows_sum/Σflows (stream `generate/choice`), or every bin replayed `flows_sum` times in
/// descending bin order when `n = 0`; packet size = octets_sum/packets_sum of the bin, then
/// the same rounding as the model branch (stream `generate/round`).
pub fn from_hist(h: &Hist, x: XKind, n: u64, seed_hex: &str, mut emit: impl FnMut(u64, u64)) -> Result<(), PluginError> {
    let f = h.y(crate::hist::YCol::Flows)?;
    let p = h.y(crate::hist::YCol::Packets)?;
    let o = h.y(crate::hist::YCol::Octets)?;
    let mut round = stream_rng(seed_hex, "generate/round", 0);
    let mut one = |i: usize| {
        let ps = o[i] as f64 / p[i] as f64;
        let u: f64 = round.random();
        let r = |v: f64| {
            let fl = v.floor();
            (if u + fl >= v { fl } else { fl + 1.0 }) as u64
        };
        match x {
            XKind::Size => {
                let octets = h.bin_lo[i];
                let mut pk = octets as f64 / ps;
                if octets as f64 / pk.ceil() < 64.0 {
                    pk = pk.trunc();
                }
                emit(r(pk.max(1.0)), octets)
            }
            _ => {
                let packets = h.bin_lo[i];
                emit(packets, r(packets as f64 * ps.clamp(64.0, 1522.0)))
            }
        }
    };
    if n == 0 {
        for i in (0..h.len()).rev() {
            for _ in 0..f[i] {
                one(i);
            }
        }
        return Ok(());
    }
    let mut cum = Vec::with_capacity(f.len());
    let mut acc: u128 = 0;
    for &v in f {
        acc += v as u128;
        cum.push(acc);
    }
    let mut choice = stream_rng(seed_hex, "generate/choice", 0);
    for _ in 0..n {
        let t = choice.random_range(0..acc);
        let i = cum.partition_point(|&c| c <= t);
        one(i);
    }
    Ok(())
}

/// `generate`: writes `flows.csv` (csv_flow) and reports totals.
pub fn generate(req: &Request, host: &Host) -> Result<Response, PluginError> {
    let s: GenerateSettings = parse_settings(&req.settings)?;
    let src = s.source()?;
    let mut text = String::new();
    let (mut nf, mut np, mut no) = (0u64, 0u128, 0u128);
    let mut emit = |p: u64, o: u64| {
        csv_flow_line(&mut text, p, o);
        nf += 1;
        np += p as u128;
        no += o as u128;
    };
    match &src {
        Source::Model(m) => {
            let mut g = FlowGen::new(m, &req.seed_hex);
            for i in 0..s.flows {
                if i % 65536 == 0 {
                    host.check_cancel()?;
                    host.progress(i, s.flows);
                }
                let (p, o) = g.next_flow();
                emit(p, o);
            }
        }
        Source::Hist(h) => from_hist(h, s.x, s.flows, &req.seed_hex, &mut emit)?,
    }
    let mut r = Response::default();
    r.artifacts.push(write_artifact(req, "flows.csv", text.as_bytes(), "csv_flow")?);
    r.metrics.insert("flows".into(), json!(nf));
    r.metrics.insert("packets".into(), num(np as f64));
    r.metrics.insert("octets".into(), num(no as f64));
    r.metrics.insert("avg_flow_length".into(), num(np as f64 / nf.max(1) as f64));
    r.data.insert("head".into(), json!(text.lines().take(20).collect::<Vec<_>>()));
    Ok(r)
}
