//! `lstm`: next-step sequence model over per-packet traffic features
//! (docs/lstm.md): the original Keras module's feature-file format,
//! normalisations, a 1-layer LSTM with explicit BPTT over `matrixmultiply`, the cosine-similarity
//! evaluation with a persistence baseline, and its plots.
//!
//! Capabilities:
//! - `network` (task, manifest section `[network]`): train (or continue from a saved model) and
//!   evaluate on a feature file; optionally apply the model to other files;
//! - `evaluate` (task): apply a saved model to a feature file (the original's `test_rnn.py`);
//! - `synth_features` (dataset): a synthetic feature file in the original line format.
pub mod metrics;
pub mod model;
pub mod network;
pub mod norm;
pub mod optim;
pub mod plots;
pub mod reader;
pub mod save;
pub mod scalar;
pub mod seq;
pub mod settings;
pub mod synth;
pub mod trainer;

use flowlab_abi::prelude::*;

/// Dataset format of feature files in the original line format.
pub const FORMAT: &str = "lstm_features";

flowlab_abi::export_plugin! {
    /// The plugin. A cell runs on the calling thread; only its parallel sections are installed
    /// in the cell's pool of `threads` threads ([`Ctx::pool`]): this cdylib's rayon global pool
    /// is not the host's and would ignore the cell's thread budget (docs/design.md, "Thread pools").
    pub struct Lstm;
    summary: "next-packet LSTM over per-packet traffic features",
    formats: [FORMAT],
    wall_time: "seconds",
    capabilities: [Network, Evaluate, SynthFeatures],
}

/// `network` (task): train (or continue from a saved model) and evaluate on a feature file.
pub struct Network;
impl Cap for Network {
    const NAME: &'static str = "network";
    const SUMMARY: &'static str = "train a 1-layer LSTM next-packet model and evaluate it by cosine similarity (with a persistence baseline)";
    const ACCEPTS: &'static [&'static str] = &[FORMAT];
    type Settings = settings::Network;
    fn check(s: &settings::Network) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: settings::Network, ctx: &Ctx) -> Result<Response, PluginError> {
        network::run_network(s, ctx.request(), ctx.host(), ctx.pool()?)
    }
}

/// `evaluate` (task): a saved model applied to a feature file (the original's `test_rnn.py`).
pub struct Evaluate;
impl Cap for Evaluate {
    const NAME: &'static str = "evaluate";
    const SUMMARY: &'static str = "apply a saved LSTM model to a feature file (test_rnn.py)";
    const ACCEPTS: &'static [&'static str] = &[FORMAT];
    type Settings = settings::Evaluate;
    fn run(s: settings::Evaluate, ctx: &Ctx) -> Result<Response, PluginError> {
        network::run_evaluate(s, ctx.request(), ctx.host(), ctx.pool()?)
    }
}

/// `synth_features` (dataset): a synthetic feature file in the original line format.
pub struct SynthFeatures;
impl Cap for SynthFeatures {
    const NAME: &'static str = "synth_features";
    const SUMMARY: &'static str = "synthetic per-packet feature file in the original line format";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some(FORMAT);
    type Settings = settings::Synth;
    fn check(s: &settings::Synth) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: settings::Synth, ctx: &Ctx) -> Result<Response, PluginError> {
        run_synth(s, ctx)
    }
}

fn run_synth(s: settings::Synth, ctx: &Ctx) -> Result<Response, PluginError> {
    let spec = synth::SynthSpec { traffics: s.traffics, dim: s.dim, min_packets: s.min_packets, max_packets: s.max_packets };
    let text = synth::generate(&spec, &mut ctx.stream("synth", 0));
    let dir = ctx.output_dir();
    let write = |name: &str, t: &str| std::fs::write(dir.join(name), t).map_err(|e| PluginError::run(format!("{}: {e}", dir.join(name).display())));
    write("features.csv", &text)?;
    write("feature_info.csv", &synth::feature_info(s.dim))?;
    let mut r = Response::default();
    r.metrics.insert("traffics".into(), json!(s.traffics));
    r.metrics.insert("dim".into(), json!(s.dim));
    r.metrics.insert("bytes".into(), json!(text.len()));
    r.artifacts =
        vec![Artifact { name: "dataset".into(), path: "features.csv".into(), kind: FORMAT.into() }, Artifact { name: "feature_info".into(), path: "feature_info.csv".into(), kind: "csv".into() }];
    Ok(r)
}
