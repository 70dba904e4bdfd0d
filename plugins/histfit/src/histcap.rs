//! The `hist` dataset capability: flow-models' `hist` (docs/histfit.md, "hist") — flow records
//! from one or more inputs ([`crate::flows`]) binned into a csv_hist ([`crate::flowhist`]),
//! byte-identical to `flow_models.hist -o csv_hist`.
use crate::filter::{Filter, Mode};
use crate::flowhist::{COLUMNS, FlowHist};
use crate::flows::{Counters, InFormat, expand_inputs, read_input};
use crate::hist::XKind;
use crate::tasks::write_artifact;
use flowlab_abi::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::PathBuf;

/// Largest `bin_exp` (flow-models accepts any; beyond 128 every bin is one unit wide anyway).
pub const MAX_HIST_BIN_EXP: u32 = 128;
/// Largest skip/count value.
pub const MAX_COUNT: u64 = i64::MAX as u64;

/// What `hist` writes (flow-models' `-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutFormat {
    /// The csv_hist file: header line, then one line per bin (default).
    #[default]
    CsvHist,
    /// flow-models' `write_append`: the bin lines appended to a list, no header — written
    /// here as the data lines alone.
    Append,
    /// flow-models' `write_none`: nothing (an empty file); the metrics still count flows and bins.
    None,
}

fn x_length() -> XKind {
    XKind::Length
}

fn example_inputs() -> Vec<String> {
    vec!["flows/day1.csv".into(), "flows/day2.csv".into()]
}
fn example_filter() -> &'static str {
    "(prot == 6) & (dp == 443)"
}
fn example_columns() -> Vec<String> {
    vec!["duration".into(), "rate".into()]
}

/// Settings of `hist` (flow-models' `hist` options, same names without dashes).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistSettings {
    /// Input files (or directories: every file below them, sorted; for `binary` each is one
    /// array directory). A path setting: `{data}/…`, absolute, or relative to the manifest's
    /// directory; the runner resolves it and the inputs' bytes are part of the dataset's identity
    /// (README: paths in settings).
    #[schemars(length(min = 1), example = example_inputs(), extend("x-flowlab-path" = "manifest"))]
    pub inputs: Vec<String>,
    /// Input format (`-i`): `csv_flow` (default), `binary`, `pipe` or `nfcapd` (runs `nfdump`).
    #[serde(default)]
    pub in_format: InFormat,
    /// Binned value (`-x`): `length` (packets, default), `size` (octets), `duration` (ms) or
    /// `rate` (bps).
    #[serde(default = "x_length")]
    pub x: XKind,
    /// Bin width exponent (`-b`): 0 = unit bins, else widths 2^max(0, bitlen(x) − b).
    #[serde(default)]
    #[schemars(range(min = 0, max = MAX_HIST_BIN_EXP))]
    pub bin_exp: u32,
    /// Records to skip at the start of the input (`--skip-in`).
    #[serde(default)]
    #[schemars(range(min = 0, max = MAX_COUNT))]
    pub skip_in: u64,
    /// Records to read after skipping (`--count-in`; default all).
    #[serde(default)]
    #[schemars(range(min = 0, max = MAX_COUNT))]
    pub count_in: Option<u64>,
    /// Records to skip after the filter (`--skip-out`).
    #[serde(default)]
    #[schemars(range(min = 0, max = MAX_COUNT))]
    pub skip_out: u64,
    /// Records to bin after the filter (`--count-out`; default all).
    #[serde(default)]
    #[schemars(range(min = 0, max = MAX_COUNT))]
    pub count_out: Option<u64>,
    /// Filter expression (`--filter-expr`), e.g. `(prot == 6) & (dp == 443)`: comparisons of
    /// fields and integers joined by `&`, `|`, `~` (Python precedence; docs/histfit.md).
    #[serde(default)]
    #[schemars(example = example_filter())]
    pub filter: Option<String>,
    /// Additional summed columns (`-c`): any of flows, packets, octets, duration, rate, aggs.
    #[serde(default)]
    #[schemars(example = example_columns())]
    pub columns: Vec<String>,
    /// Output (`-o`): `csv_hist` (default), `append` (data lines only) or `none`.
    #[serde(default)]
    pub out_format: OutFormat,
}

impl HistSettings {
    /// Checks the settings and compiles the filter; errors name the key.
    pub fn check(&self) -> Result<Option<Filter>, PluginError> {
        if self.inputs.is_empty() {
            return Err(PluginError::config("inputs", "give at least one input file or directory"));
        }
        if self.bin_exp > MAX_HIST_BIN_EXP {
            return Err(PluginError::config("bin_exp", format!("bin_exp must be in 0..={MAX_HIST_BIN_EXP}")));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if !COLUMNS.contains(&c.as_str()) {
                return Err(PluginError::config(format!("columns[{i}]"), format!("unknown column `{c}`; the columns are {}", COLUMNS.join(", "))));
            }
        }
        let mode = if self.in_format == InFormat::Binary { Mode::Numpy } else { Mode::Python };
        match &self.filter {
            None => Ok(None),
            Some(src) => Filter::compile(src, mode).map(Some).map_err(|e| PluginError::config("filter", format!("filter `{src}`: {e}"))),
        }
    }

    /// The input paths, `{data}` expanded.
    pub fn input_paths(&self) -> Result<Vec<PathBuf>, PluginError> {
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if let Some(rest) = p.strip_prefix("{data}") {
                    let d = std::env::var_os("FLOWLAB_DATA_DIR").ok_or_else(|| PluginError::config(format!("inputs[{i}]"), format!("`{p}` uses {{data}} but FLOWLAB_DATA_DIR is not set")))?;
                    Ok(PathBuf::from(d).join(rest.trim_start_matches('/')))
                } else {
                    Ok(PathBuf::from(p))
                }
            })
            .collect()
    }

    /// The fields flow-models' binary reader loads for `hist` (packets, octets; first…last_ms
    /// with a duration or rate column; aggs with an aggs column).
    pub fn loaded_fields(&self) -> [bool; 21] {
        let mut f = [false; 21];
        f[18] = true;
        f[19] = true;
        let has = |c: &str| self.columns.iter().any(|s| s == c);
        if has("duration") || has("rate") {
            f[14..18].fill(true);
        }
        if has("aggs") {
            f[20] = true;
        }
        f
    }
}

/// The histogram text for `s`, with the inputs read; also returns flows, bins, records seen
/// and flow-models' warnings.
pub fn compute(s: &HistSettings, host: Option<&Host>) -> Result<(String, HistStats), PluginError> {
    let filter = s.check()?;
    let files = expand_inputs(&s.input_paths()?, s.in_format)?;
    let mut counters = Counters { skip_in: s.skip_in, count_in: s.count_in, skip_out: s.skip_out, count_out: s.count_out };
    let mut h = FlowHist::new(s.x, s.bin_exp, &s.columns);
    let fields = s.loaded_fields();
    let mut stats = HistStats::default();
    for (i, f) in files.iter().enumerate() {
        if let Some(host) = host {
            host.check_cancel()?;
            host.progress(i as u64, files.len() as u64);
        }
        let mut warn = |w: String| stats.warnings.push(w);
        let st = read_input(f, s.in_format, &mut counters, filter.as_ref(), &fields, &mut warn, &mut h)?;
        stats.records_seen += st.records_seen;
        stats.files += 1;
    }
    let mut text = String::new();
    if s.out_format == OutFormat::CsvHist {
        text.push_str(&FlowHist::header(&s.columns));
        text.push('\n');
    }
    let mut rows = String::new();
    h.write_rows(&s.columns, &mut rows).map_err(|e| PluginError::data(format!("hist: {e}")))?;
    if s.out_format != OutFormat::None
        && let Some(why) = h.unreadable(&s.columns)
    {
        let w = format!("summary, fit and plot will refuse this histogram: {why}");
        if let Some(host) = host {
            host.warn(&w);
        }
        stats.warnings.push(w);
    }
    if s.out_format != OutFormat::None {
        text.push_str(&rows);
    }
    stats.flows = h.flows;
    stats.bins = h.len();
    Ok((text, stats))
}

/// Counts of one `hist` run.
#[derive(Debug, Clone, Default)]
pub struct HistStats {
    /// Flows binned.
    pub flows: u64,
    /// Non-empty bins.
    pub bins: usize,
    /// Records taken from the inputs (skipped ones included).
    pub records_seen: u64,
    /// Input files (or binary directories) read.
    pub files: usize,
    /// flow-models' warnings (missing binary field files).
    pub warnings: Vec<String>,
}

/// `hist`: writes the artifact `dataset` (`dataset.csv`).
pub fn hist(s: HistSettings, req: &Request, host: &Host) -> Result<Response, PluginError> {
    let (text, st) = compute(&s, Some(host))?;
    let mut r = Response::default();
    let kind = match s.out_format {
        OutFormat::CsvHist => "csv_hist",
        OutFormat::Append => "csv_hist_rows",
        OutFormat::None => "empty",
    };
    r.artifacts.push(write_artifact(req, "dataset.csv", text.as_bytes(), kind)?);
    r.artifacts.last_mut().expect("just pushed").name = "dataset".into();
    r.metrics.insert("flows".into(), json!(st.flows));
    r.metrics.insert("rows".into(), json!(st.bins));
    r.metrics.insert("records_seen".into(), json!(st.records_seen));
    r.metrics.insert("files".into(), json!(st.files));
    r.data.insert("x".into(), json!(s.x.name()));
    r.data.insert("bin_exp".into(), json!(s.bin_exp));
    r.data.insert("in_format".into(), serde_json::to_value(s.in_format).unwrap_or(Value::Null));
    r.data.insert("warnings".into(), json!(st.warnings));
    Ok(r)
}
