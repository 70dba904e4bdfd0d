//! The `generate` capability: flow records in flow-models' formats (docs/histfit.md, "generate and csv_flow") from a
//! mixture model (a directory of `flows/packets/octets.json`, inline mixtures, or the
//! tutorial model) or from a csv_hist histogram, with one of two random sources:
//! - `rng = "flowlab"` (default): independent seeded streams per role ([`crate::sampling`]);
//! - `rng = "numpy"`: flow-models' own draws, so `seed = N` writes exactly what
//!   `flow_models.generate --seed N` writes ([`crate::fmgen`]).
//!
//! csv_flow: 21 fields, `", "` separated, no header — `af, prot, inif, outif, sa0…sa3,
//! da0…da3, sp, dp, first, first_ms, last, last_ms, packets, octets, aggs`; like flow-models
//! every field but packets and octets is 0. `binary` and `none` as flow-models' `-o`
//! ([`crate::flowout`]).
use crate::flowout::{FlowWriter, OutFormat};
use crate::hist::{Hist, XKind};
use crate::mixture::Mixture;
use crate::sampling::{FlowGen, Model};
use flowlab_abi::prelude::*;
use rand::Rng;
use schemars::JsonSchema;
use serde::Deserialize;
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

/// Where the random numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RngKind {
    /// Independent SHA-256-derived streams per role, from the cell seed (default).
    #[default]
    Flowlab,
    /// flow-models' draws: numpy's legacy RandomState and Python's random, seeded with `seed`.
    Numpy,
}

/// Largest `seed` (numpy's RandomState takes seeds in [0, 2³²)).
pub const MAX_SEED: u64 = u32::MAX as u64;

/// A mixture JSON file (flow-models' `{"sum", "mix"}` or the bare list), read up to
/// [`MAX_MIXTURE_BYTES`]; an unreadable file is a config error of `key`, a malformed one a
/// data error naming the file.
pub fn read_mixture_file(p: &Path, key: &str) -> Result<Mixture, PluginError> {
    let b = flowlab_abi::limits::read_capped(p, MAX_MIXTURE_BYTES).map_err(|e| PluginError::config(key, e.message))?;
    let t = String::from_utf8(b).map_err(|e| PluginError::data(format!("{}: not UTF-8 text ({e})", p.display())))?;
    Mixture::from_json_str(flowlab_abi::limits::strip_bom(&t)).map_err(|e| PluginError::data(format!("{}: {e}", p.display())))
}

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
    /// A mixture directory holding `flows.json`, `packets.json`, `octets.json` (flow-models' model);
    /// `{data}/…`, absolute, or relative to the manifest's directory.
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "manifest"))]
    pub mixture_dir: Option<String>,
    /// Inline mixtures instead of a directory.
    #[serde(default)]
    pub model: Option<InlineModel>,
    /// A csv_hist file to sample instead of a model (bins drawn with weights `flows_sum`; the
    /// value is `bin_lo`, the packet size the bin's octets/packets); a path as `mixture_dir`.
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "manifest"))]
    pub histogram: Option<String>,
    /// Random source: `flowlab` (default; independent streams from the cell seed) or `numpy`
    /// (flow-models' `generate --seed` output byte for byte; uniform and lognorm components).
    #[serde(default)]
    pub rng: RngKind,
    /// flow-models' `--seed` for `rng = "numpy"`; default: the low 32 bits of the cell seed.
    #[serde(default)]
    #[schemars(range(max = MAX_SEED))]
    pub seed: Option<u64>,
    /// flow-models' `-o`: `csv_flow` (default), `binary` (a directory of per-field arrays) or
    /// `none` (totals only).
    #[serde(default)]
    pub out_format: OutFormat,
    /// flow-models' `-O`: the output file (csv_flow) or directory (binary), relative to the
    /// cell's directory; default `flows.csv` / `flows`.
    #[serde(default)]
    pub output: Option<String>,
}

impl Default for GenerateSettings {
    fn default() -> Self {
        GenerateSettings { flows: twenty(), x: length(), mixture_dir: None, model: None, histogram: None, rng: RngKind::default(), seed: None, out_format: OutFormat::default(), output: None }
    }
}

/// Where flows come from.
pub enum Source {
    /// A mixture model.
    Model(Box<Model>),
    /// A histogram.
    Hist(Hist),
}

impl GenerateSettings {
    /// Every check `validate` can make before the run: the source resolves and, for
    /// `rng = "numpy"`, every component is one flow-models' generator is reproduced for.
    pub fn check(&self) -> Result<(), PluginError> {
        match (self.rng, self.source()?) {
            (RngKind::Numpy, Source::Model(m)) => crate::fmgen::ModelGen::new(&m, 0).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Resolves the source; errors name the key. No source given: the tutorial model.
    pub fn source(&self) -> Result<Source, PluginError> {
        let given = [self.mixture_dir.is_some(), self.model.is_some(), self.histogram.is_some()].iter().filter(|b| **b).count();
        if given > 1 {
            return Err(PluginError::config("mixture_dir", "give one of `mixture_dir`, `model`, `histogram`"));
        }
        if self.seed.is_some() && self.rng != RngKind::Numpy {
            return Err(PluginError::config("seed", "`seed` is flow-models' --seed and applies to rng = \"numpy\"; rng = \"flowlab\" derives its streams from the cell seed"));
        }
        if let Some(s) = self.seed.filter(|&s| s > MAX_SEED) {
            return Err(PluginError::config("seed", format!("seed {s} is out of numpy's range [0, {MAX_SEED}]")));
        }
        if let Some(o) = &self.output {
            let p = Path::new(o);
            if o.is_empty() || p.is_absolute() || p.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Err(PluginError::config("output", format!("output `{o}` must be a relative path inside the cell's directory (no `..`)")));
            }
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
            let read = |y: &str| read_mixture_file(&Path::new(dir).join(format!("{y}.json")), "mixture_dir");
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
                return Err(PluginError::config(
                    "flows",
                    format!("flows = 0 replays every flow of {}: {total} flows, more than the {MAX_FLOWS} a cell may write; give `flows` to draw that many", h.source),
                ));
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

/// `generate`: writes the flows (`out_format`) and reports totals.
pub fn generate(mut s: GenerateSettings, req: &Request, host: &Host) -> Result<Response, PluginError> {
    // on a `mixture_dir` dataset (e.g. `fit_model`'s), the model is the dataset
    if let Some(d) = &req.dataset {
        if s.mixture_dir.is_some() || s.model.is_some() || s.histogram.is_some() {
            return Err(PluginError::config("datasets", format!("the model comes from dataset `{}`: remove `mixture_dir`, `model` and `histogram`", d.id)));
        }
        s.mixture_dir = Some(d.path.clone());
    }
    let src = s.source()?;
    let rel = s.output.clone().unwrap_or_else(|| if s.out_format == OutFormat::Binary { "flows".into() } else { "flows.csv".into() });
    let mut out = FlowWriter::new(Path::new(&req.output_dir), &rel, s.out_format)?;
    let tick = |i: u64| -> Result<(), PluginError> {
        if i.is_multiple_of(65536) {
            host.check_cancel()?;
            host.progress(i, s.flows);
        }
        Ok(())
    };
    let seed = s.seed.unwrap_or(req.seed & MAX_SEED) as u32;
    match (s.rng, &src) {
        (RngKind::Flowlab, Source::Model(m)) => {
            let mut g = FlowGen::new(m, &req.seed_hex);
            for i in 0..s.flows {
                tick(i)?;
                let (p, o) = g.next_flow();
                out.push(p, o);
            }
        }
        (RngKind::Flowlab, Source::Hist(h)) => from_hist(h, s.x, s.flows, &req.seed_hex, |p, o| out.push(p, o))?,
        (RngKind::Numpy, Source::Model(m)) => {
            let mut g = crate::fmgen::ModelGen::new(m, seed)?;
            for i in 0..s.flows {
                tick(i)?;
                let (p, o) = g.next_flow()?;
                out.push(p, o);
            }
        }
        (RngKind::Numpy, Source::Hist(h)) => crate::fmgen::from_hist(h, s.x, s.flows, seed, |p, o| {
            tick(out.flows)?;
            out.push(p, o);
            Ok(())
        })?,
    }
    let (nf, np, no) = (out.flows, out.packets, out.octets);
    let head = std::mem::take(&mut out.head);
    let mut r = Response { artifacts: out.finish()?, ..Default::default() };
    r.metrics.insert("flows".into(), json!(nf));
    r.metrics.insert("packets".into(), num(np as f64));
    r.metrics.insert("octets".into(), num(no as f64));
    r.metrics.insert("avg_flow_length".into(), num(np as f64 / nf.max(1) as f64));
    if s.rng == RngKind::Numpy {
        r.metrics.insert("seed".into(), json!(seed));
    }
    r.data.insert("head".into(), json!(head));
    Ok(r)
}
