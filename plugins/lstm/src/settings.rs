//! Typed settings of the capabilities; their JSON Schemas are derived (schemars), with the
//! ranges `check` enforces declared on the fields.
use crate::model::{Head, Init, OutAct, RecAct};
use crate::optim::OptKind;
use crate::seq::Truncate;
use crate::trainer::LossMask;
use flowlab_abi::PluginError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Normalisation scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Statistics over every traffic of the file, before the split (the original).
    WholeFile,
    /// Statistics over the training traffics only.
    TrainOnly,
}

/// Normalisation name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// Unit vectors.
    L2,
    /// z-score per feature (also accepted as `zscore`, the README's name).
    #[serde(alias = "zscore")]
    Standardize,
    /// Min-max per feature (the original's `train_rnn.py`).
    Minmax,
    /// No normalisation.
    None,
}

impl NormKind {
    /// Settings name.
    pub fn name(self) -> &'static str {
        match self {
            NormKind::L2 => "l2",
            NormKind::Standardize => "standardize",
            NormKind::Minmax => "minmax",
            NormKind::None => "none",
        }
    }
}

macro_rules! defaults {
    ($($f:ident: $t:ty = $v:expr;)*) => { $(fn $f() -> $t { $v })* };
}
defaults! {
    d_head: Head = Head::None;
    d_out: OutAct = OutAct::Relu;
    d_rec: RecAct = RecAct::HardSigmoidKeras2;
    d_init: Init = Init::Keras;
    d_opt: OptKind = OptKind::Rmsprop;
    d_lr: f64 = 1e-3;
    d_rho: f64 = 0.9;
    d_b1: f64 = 0.9;
    d_b2: f64 = 0.999;
    d_eps: f64 = 1e-7;
    d_mask: LossMask = LossMask::None;
    d_batch: usize = 64;
    d_len: usize = 100;
    d_trunc: Truncate = Truncate::KeepLast;
    d_epochs: u64 = 100;
    d_every: u64 = 5;
    d_norm: NormKind = NormKind::Minmax;
    d_scope: Scope = Scope::WholeFile;
    d_true: bool = true;
    d_test: f64 = 0.3;
    d_chunk: usize = 32;
    d_plot_feature: usize = 7;
    d_plot_traffics: usize = 5;
    d_cache: usize = 1024;
}

/// Largest `hidden` (parameters and optimiser state grow as hidden², ~300 MB at 2048 with the
/// 146 TLS features; `docs/lstm.md`).
pub const MAX_HIDDEN: u64 = 2048;
/// Largest `batch` (traffics per batch).
pub const MAX_BATCH: u64 = 65_536;
/// Largest `seq_len`.
pub const MAX_SEQ_LEN: u64 = 100_000;
/// Largest `batch × seq_len`: one batch holds inputs and targets of batch × seq_len × features
/// values (2²⁰ steps ≈ 1.2 GB at 146 features; the default is 64 × 100).
pub const MAX_BATCH_STEPS: usize = 1 << 20;
/// Largest `chunk_rows`.
pub const MAX_CHUNK_ROWS: u64 = 65_536;
/// Largest `epochs` / `eval_every`.
pub const MAX_EPOCHS: u64 = 1_000_000;
/// Largest `plot_feature` (an index; also checked against the data's features).
pub const MAX_FEATURE_INDEX: u64 = 1_000_000;
/// Largest `plot_traffics`.
pub const MAX_PLOT_TRAFFICS: u64 = 1000;
/// Largest `cache_mb` (64 GiB: a file up to it is parsed into memory).
pub const MAX_CACHE_MB: u64 = 65_536;
/// Largest `synth_features` traffics.
pub const MAX_TRAFFICS: u64 = 1_000_000;
/// Largest `synth_features` dim.
pub const MAX_DIM: u64 = 4096;
/// Largest `synth_features` min/max_packets.
pub const MAX_PACKETS: u64 = 100_000;
/// Largest `synth_features` values per traffic (max_packets × dim): one line of the file, far
/// below the feature reader's line limit (`crate::reader::MAX_FEATURE_LINE_BYTES`).
pub const MAX_SYNTH_LINE_VALUES: usize = 1_000_000;
/// Largest `synth_features` file in values (traffics × max_packets × dim; the text is built in
/// memory, ~10 bytes per value).
pub const MAX_SYNTH_VALUES: usize = 50_000_000;

/// Settings of the `network` capability (train + evaluate). Defaults are the original
/// (docs/lstm.md, "Model and training"): LSTM(hidden = features) + ReLU, hard-sigmoid gates, Keras init, RMSprop.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "lstm network")]
pub struct Network {
    /// Hidden units (default: the feature dimension; must equal it when head = none).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_HIDDEN))]
    pub hidden: Option<usize>,
    /// Output head: none (prediction = act(h), the original) or linear.
    #[serde(default = "d_head")]
    pub head: Head,
    /// Output activation.
    #[serde(default = "d_out")]
    pub output_activation: OutAct,
    /// Gate activation; Keras 2 hard_sigmoid = clip(0.2x+0.5, 0, 1).
    #[serde(default = "d_rec")]
    pub recurrent_activation: RecAct,
    /// keras: glorot-uniform / orthogonal / forget bias 1; pytorch_uniform: U(±1/sqrt(H)).
    #[serde(default = "d_init")]
    pub init: Init,
    /// Optimiser.
    #[serde(default = "d_opt")]
    pub optimizer: OptKind,
    /// Learning rate.
    #[serde(default = "d_lr")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 10))]
    pub lr: f64,
    /// RMSprop decay ρ.
    #[serde(default = "d_rho")]
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 1))]
    pub rho: f64,
    /// Adam β₁.
    #[serde(default = "d_b1")]
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 1))]
    pub beta1: f64,
    /// Adam β₂.
    #[serde(default = "d_b2")]
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 1))]
    pub beta2: f64,
    /// Optimiser epsilon (Keras 2 default 1e-7).
    #[serde(default = "d_eps")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1))]
    pub eps: f64,
    /// none: MSE over every step incl. padding (the original); real_packets: only steps with a real target.
    #[serde(default = "d_mask")]
    pub loss_mask: LossMask,
    /// Traffics per batch.
    #[serde(default = "d_batch")]
    #[schemars(range(min = 1, max = MAX_BATCH))]
    pub batch: usize,
    /// Sequence length.
    #[serde(default = "d_len")]
    #[schemars(range(min = 1, max = MAX_SEQ_LEN))]
    pub seq_len: usize,
    /// Which packets a long traffic keeps (keep_last = the original).
    #[serde(default = "d_trunc")]
    pub truncate: Truncate,
    /// Epochs (additional epochs with init_from).
    #[serde(default = "d_epochs")]
    #[schemars(range(min = 0, max = MAX_EPOCHS))]
    pub epochs: u64,
    /// Cosine evaluation every K epochs and at the last.
    #[serde(default = "d_every")]
    #[schemars(range(min = 1, max = MAX_EPOCHS))]
    pub eval_every: u64,
    /// Normalisation (zscore = standardize).
    #[serde(default = "d_norm")]
    pub normalize: NormKind,
    /// Statistics over the whole file (the original) or the training traffics.
    #[serde(default = "d_scope")]
    pub normalize_scope: Scope,
    /// Normalise padded steps too (the original).
    #[serde(default = "d_true")]
    pub normalize_padding: bool,
    /// Original [[min…],[max…]] file to use instead of computed statistics (relative to the dataset's directory).
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "dataset"))]
    pub minmax_file: Option<String>,
    /// Test fraction of the seeded split.
    #[serde(default = "d_test")]
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 1))]
    pub test_fraction: f64,
    /// Shuffle the training traffics every epoch (seeded).
    #[serde(default = "d_true")]
    pub shuffle: bool,
    /// Rows per parallel chunk (fixed; results independent of threads).
    #[serde(default = "d_chunk")]
    #[schemars(range(min = 1, max = MAX_CHUNK_ROWS))]
    pub chunk_rows: usize,
    /// Saved model to continue training from (the original -m; relative to the dataset's directory).
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "dataset"))]
    pub init_from: Option<String>,
    /// Other feature files to apply the trained model to (relative to the dataset's directory).
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "dataset"))]
    pub apply_to: Vec<String>,
    /// Feature-info file naming the dimensions (relative to the dataset's directory).
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "dataset"))]
    pub feature_info: Option<String>,
    /// Feature drawn in the prediction plots (7 = frame length).
    #[serde(default = "d_plot_feature")]
    #[schemars(range(min = 0, max = MAX_FEATURE_INDEX))]
    pub plot_feature: usize,
    /// Sample traffics per set in the prediction plots.
    #[serde(default = "d_plot_traffics")]
    #[schemars(range(min = 0, max = MAX_PLOT_TRAFFICS))]
    pub plot_traffics: usize,
    /// Write SVG/PNG figures.
    #[serde(default = "d_true")]
    pub plots: bool,
    /// Save model.lstm.
    #[serde(default = "d_true")]
    pub save_model: bool,
    /// Files up to this size (MiB) are parsed once into memory; larger ones batch by batch from the memory map.
    #[serde(default = "d_cache")]
    #[schemars(range(min = 0, max = MAX_CACHE_MB))]
    pub cache_mb: usize,
}

/// Settings of the `evaluate` capability (apply a saved model to a dataset).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "lstm evaluate")]
pub struct Evaluate {
    /// Saved model file (absolute, or relative to the dataset's directory).
    #[schemars(extend("x-flowlab-path" = "dataset"))]
    pub model: String,
    /// Traffics per forward batch.
    #[serde(default = "d_batch")]
    #[schemars(range(min = 1, max = MAX_BATCH))]
    pub batch: usize,
    /// Rows per parallel chunk.
    #[serde(default = "d_chunk")]
    #[schemars(range(min = 1, max = MAX_CHUNK_ROWS))]
    pub chunk_rows: usize,
    /// Feature-info file naming the dimensions (relative to the dataset's directory).
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "dataset"))]
    pub feature_info: Option<String>,
    /// Write SVG/PNG figures.
    #[serde(default = "d_true")]
    pub plots: bool,
    /// In-memory parsing limit (MiB).
    #[serde(default = "d_cache")]
    #[schemars(range(min = 0, max = MAX_CACHE_MB))]
    pub cache_mb: usize,
}

/// Settings of the `synth_features` dataset capability.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "lstm synth_features")]
pub struct Synth {
    /// Traffics (lines).
    #[serde(default = "d_traffics")]
    #[schemars(range(min = 1, max = MAX_TRAFFICS))]
    pub traffics: usize,
    /// Features per packet.
    #[serde(default = "d_dim")]
    #[schemars(range(min = 2, max = MAX_DIM))]
    pub dim: usize,
    /// Minimum packets per traffic.
    #[serde(default = "d_minp")]
    #[schemars(range(min = 1, max = MAX_PACKETS))]
    pub min_packets: usize,
    /// Maximum packets per traffic.
    #[serde(default = "d_maxp")]
    #[schemars(range(min = 1, max = MAX_PACKETS))]
    pub max_packets: usize,
}
defaults! {
    d_traffics: usize = 200;
    d_dim: usize = 146;
    d_minp: usize = 6;
    d_maxp: usize = 200;
}

fn positive(v: usize, key: &str) -> Result<(), PluginError> {
    if v == 0 { Err(PluginError::config(key, format!("`{key}` must be at least 1"))) } else { Ok(()) }
}

fn unit(v: f64, key: &str, open_low: bool) -> Result<(), PluginError> {
    let ok = v.is_finite() && v < 1.0 && if open_low { v > 0.0 } else { v >= 0.0 };
    if ok { Ok(()) } else { Err(PluginError::config(key, format!("`{key}` = {v} must lie in {}0, 1)", if open_low { "(" } else { "[" }))) }
}

impl Network {
    /// Range checks (settings that parse but make no sense), naming the key.
    pub fn check(&self) -> Result<(), PluginError> {
        positive(self.batch, "batch")?;
        positive(self.seq_len, "seq_len")?;
        positive(self.chunk_rows, "chunk_rows")?;
        positive(self.eval_every as usize, "eval_every")?;
        if let Some(h) = self.hidden {
            positive(h, "hidden")?;
        }
        if self.batch.saturating_mul(self.seq_len) > MAX_BATCH_STEPS {
            return Err(PluginError::config(
                "seq_len",
                format!("batch × seq_len = {} steps; at most {MAX_BATCH_STEPS} (a batch holds batch × seq_len × features inputs and targets)", self.batch.saturating_mul(self.seq_len)),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(PluginError::config("lr", "`lr` must be a positive number"));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(PluginError::config("eps", "`eps` must be a positive number"));
        }
        unit(self.rho, "rho", false)?;
        unit(self.beta1, "beta1", false)?;
        unit(self.beta2, "beta2", false)?;
        unit(self.test_fraction, "test_fraction", false)?;
        if self.minmax_file.is_some() && self.normalize != NormKind::Minmax {
            return Err(PluginError::config("minmax_file", "`minmax_file` needs `normalize = \"minmax\"`"));
        }
        Ok(())
    }
}

impl Synth {
    /// Range checks.
    pub fn check(&self) -> Result<(), PluginError> {
        positive(self.traffics, "traffics")?;
        positive(self.min_packets, "min_packets")?;
        if self.dim < 2 {
            return Err(PluginError::config("dim", "`dim` must be at least 2"));
        }
        if self.max_packets < self.min_packets {
            return Err(PluginError::config("max_packets", "`max_packets` must be at least `min_packets`"));
        }
        let line = self.max_packets.saturating_mul(self.dim);
        if line > MAX_SYNTH_LINE_VALUES {
            return Err(PluginError::config("max_packets", format!("max_packets × dim = {line} values per traffic; at most {MAX_SYNTH_LINE_VALUES}")));
        }
        let all = line.saturating_mul(self.traffics);
        if all > MAX_SYNTH_VALUES {
            return Err(PluginError::config("traffics", format!("traffics × max_packets × dim = {all} values; at most {MAX_SYNTH_VALUES}")));
        }
        Ok(())
    }
}
