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

/// The plugin.
#[derive(Default)]
pub struct Lstm;

impl Plugin for Lstm {
    fn describe(&self) -> Description {
        let mut d = Description::new("lstm", env!("CARGO_PKG_VERSION"))
            .with(Capability::task("network", "train a 1-layer LSTM next-packet model and evaluate it by cosine similarity (with a persistence baseline)", settings::network_schema()).accepting(&[FORMAT]))
            .with(Capability::task("evaluate", "apply a saved LSTM model to a feature file (test_rnn.py)", settings::evaluate_schema()).accepting(&[FORMAT]))
            .with(Capability::dataset("synth_features", "synthetic per-packet feature file in the original line format", settings::synth_schema()).producing(FORMAT));
        d.summary = "next-packet LSTM over per-packet traffic features".into();
        d.formats = vec![FORMAT.into()];
        d
    }

    fn validate(&self, capability: &str, s: &Value) -> Result<(), PluginError> {
        // the declared bounds, from the description built once (validate runs per sweep point)
        static DESCRIPTION: std::sync::OnceLock<Description> = std::sync::OnceLock::new();
        flowlab_abi::limits::check_capability(DESCRIPTION.get_or_init(|| self.describe()), capability, s)?;
        match capability {
            "network" => parse_settings::<settings::Network>(s)?.check(),
            "evaluate" => parse_settings::<settings::Evaluate>(s).map(|_| ()),
            "synth_features" => parse_settings::<settings::Synth>(s)?.check(),
            other => Err(PluginError::config("", format!("unknown capability `{other}`; lstm provides network, evaluate, synth_features"))),
        }
    }

    fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError> {
        self.validate(&req.capability, &req.settings)?;
        let start = std::time::Instant::now();
        // the cell runs on this thread and only the parallel sections are installed in the
        // cell's own pool of `req.threads` threads: this cdylib's rayon global pool is not the
        // host's and would ignore the cell's thread budget (docs/design.md, "Thread pools")
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(req.threads.max(1))
            .build()
            .map_err(|e| PluginError::run(format!("cannot build a thread pool of {}: {e}", req.threads)))?;
        let mut r = match req.capability.as_str() {
            "network" => network::run_network(req, host, &pool),
            "evaluate" => network::run_evaluate(req, host, &pool),
            _ => run_synth(req),
        }?;
        r.timing.insert("seconds".into(), start.elapsed().as_secs_f64());
        Ok(r)
    }
}

fn run_synth(req: &Request) -> Result<Response, PluginError> {
    let s: settings::Synth = parse_settings(&req.settings)?;
    s.check()?;
    let spec = synth::SynthSpec { traffics: s.traffics, dim: s.dim, min_packets: s.min_packets, max_packets: s.max_packets };
    let text = synth::generate(&spec, &mut stream_rng(&req.seed_hex, "synth", 0));
    let dir = std::path::Path::new(&req.output_dir);
    let write = |name: &str, t: &str| std::fs::write(dir.join(name), t).map_err(|e| PluginError::run(format!("{}: {e}", dir.join(name).display())));
    write("features.csv", &text)?;
    write("feature_info.csv", &synth::feature_info(s.dim))?;
    let mut r = Response::default();
    r.metrics.insert("traffics".into(), json!(s.traffics));
    r.metrics.insert("dim".into(), json!(s.dim));
    r.metrics.insert("bytes".into(), json!(text.len()));
    r.artifacts = vec![
        Artifact { name: "dataset".into(), path: "features.csv".into(), kind: FORMAT.into() },
        Artifact { name: "feature_info".into(), path: "feature_info.csv".into(), kind: "csv".into() },
    ];
    Ok(r)
}

flowlab_abi::export_plugin!(Lstm, "lstm");
