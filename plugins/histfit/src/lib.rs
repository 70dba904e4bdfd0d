//! # histfit: flow-models parity for csv_hist flow histograms
//!
//! A flowlab plugin (docs/histfit.md). Capabilities:
//! - `summary` (task, csv_hist): flow-models' two TeX summary tables byte for byte (docs/histfit.md, "Summary tables"), plus an
//!   improved siunitx variant with metadata filled in ([`summary`], [`tasks::summary`]).
//! - `generate_hist` (dataset): a seeded synthetic csv_hist drawn from a declared mixture and
//!   binned as flow-models' `hist -b 12` ([`tasks::generate_hist`]).
//! - `hist` (dataset): flow-models' `hist` — flow records (csv_flow, binary, nfdump pipe,
//!   nfcapd) binned into a csv_hist byte for byte ([`histcap`], [`flows`], [`flowhist`],
//!   [`filter`]).
//! - `fit` (task, csv_hist): EM mixture fits, `em-compat` (flow-models exactly, docs/histfit.md, "em-compat") or
//!   `em-binned` (exact binned likelihood, docs/histfit.md, "em-binned"), multi-start, goodness of fit (docs/histfit.md, "Goodness of fit")
//!   ([`fitcap::fit`], [`em`], [`gof`]).
//! - `selection` (task, csv_hist): component counts by BIC, AIC or held-out likelihood
//!   ([`fitcap::selection`]).
//! - `generate` (task, no dataset): csv_flow records from a model or a histogram (docs/histfit.md, "generate and csv_flow")
//!   ([`gencap::generate`]).
//! - `plot` (task, csv_hist): flow-models' seven figures as SVG and PNG (docs/histfit.md, "Figures") ([`plots::plot`]).
//!
//! Modules have one job each: [`hist`] reads/writes/bins csv_hist, [`summary`] builds the
//! tables, [`sampling`] draws from the mixture families, [`tasks`] parses settings and
//! produces responses.
#![warn(missing_docs)]
// `!(x > 0.0)` is written on purpose: it is true for NaN, which `x <= 0.0` is not.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod binned;
pub mod csvfast;
pub mod em;
pub mod em_binned;
pub mod families;
pub mod filter;
pub mod fitcap;
pub mod fitmodel;
pub mod flowout;
pub mod fmgen;
pub mod flowhist;
pub mod flows;
pub mod flows_binary;
pub mod gencap;
pub mod gof;
pub mod hist;
pub mod histcap;
pub mod initial;
pub mod mixture;
pub mod mt19937;
pub mod ndtr;
pub mod npcompat;
pub mod plots;
pub mod pynum;
pub mod qn;
pub mod sampling;
pub mod squarem;
pub mod summary;
pub mod tasks;

use flowlab_abi::prelude::*;

/// The plugin.
#[derive(Default)]
pub struct HistFit;

impl Plugin for HistFit {
    fn describe(&self) -> Description {
        let mut d = Description::new("histfit", env!("CARGO_PKG_VERSION"))
            .with(
                Capability::task("summary", "flow-models' summary TeX tables (byte-identical) plus a siunitx variant", tasks::schema_of::<tasks::SummarySettings>())
                    .accepting(&["csv_hist"]),
            )
            .with(Capability::dataset(
                "generate_hist",
                "seeded synthetic csv_hist drawn from a declared flow mixture model, binned as flow-models (b = 12)",
                tasks::schema_of::<tasks::GenerateHistSettings>(),
            ).producing("csv_hist"))
            .with(Capability::dataset(
                "hist",
                "flow-models' hist: flow records (csv_flow, binary, nfdump pipe, nfcapd) binned into a csv_hist, byte-identical",
                tasks::schema_of::<histcap::HistSettings>(),
            ).producing("csv_hist"))
            .with(
                Capability::task("fit", "EM mixture fit of a csv_hist column (em-compat: flow-models exactly; em-binned: exact binned likelihood) with goodness of fit", tasks::schema_of::<fitcap::FitSettings>())
                    .accepting(&["csv_hist"]),
            )
            .with(
                Capability::task("selection", "model selection of component counts (BIC, AIC or held-out likelihood) over a grid; every candidate stored", tasks::schema_of::<fitcap::SelectionSettings>())
                    .accepting(&["csv_hist"]),
            )
            .with(
                Capability::task("generate", "flow records (csv_flow, binary) from a mixture model or a csv_hist: independent streams (rng = flowlab) or flow-models' generate --seed byte for byte (rng = numpy)", tasks::schema_of::<gencap::GenerateSettings>())
                    .without_dataset()
                    .accepting(&["mixture_dir"]),
            )
            .with(
                Capability::dataset(
                    "fit_model",
                    "flow-models' model directory (flows, packets and octets mixtures with their .mode files) fitted to a csv_hist, for generate and plot",
                    tasks::schema_of::<fitmodel::FitModelSettings>(),
                )
                .producing("mixture_dir"),
            )
            .with(Capability::task("plot", "flow-models' figures of a csv_hist (PNG, SVG or PDF) with an optional model overlay and its plot modes (points, hist, kde, comp, comp_stack, comp_labels, single)", tasks::schema_of::<plots::PlotSettings>()).accepting(&["csv_hist", "mixture_dir"]));
        d.summary = "flow-models parity for csv_hist flow histograms: summary tables, mixtures, fitting".into();
        d.formats = vec!["csv_hist".into()];
        d
    }

    fn validate(&self, capability: &str, settings: &Value) -> Result<(), PluginError> {
        // the declared bounds, from the description built once (validate runs per sweep point)
        static DESCRIPTION: std::sync::OnceLock<Description> = std::sync::OnceLock::new();
        flowlab_abi::limits::check_capability(DESCRIPTION.get_or_init(|| self.describe()), capability, settings)?;
        match capability {
            "summary" => parse_settings::<tasks::SummarySettings>(settings).map(|_| ()),
            "generate_hist" => parse_settings::<tasks::GenerateHistSettings>(settings).and_then(|s| s.check()),
            "hist" => parse_settings::<histcap::HistSettings>(settings).and_then(|s| s.check()).map(|_| ()),
            "fit" => parse_settings::<fitcap::FitSettings>(settings).and_then(|s| s.check()).map(|_| ()),
            "selection" => parse_settings::<fitcap::SelectionSettings>(settings).and_then(|s| s.candidates()).map(|_| ()),
            "generate" => parse_settings::<gencap::GenerateSettings>(settings).and_then(|s| s.check()),
            "plot" => parse_settings::<plots::PlotSettings>(settings).map(|_| ()),
            "fit_model" => parse_settings::<fitmodel::FitModelSettings>(settings).and_then(|s| s.columns()).map(|_| ()),
            other => Err(PluginError::config("", format!("unknown capability `{other}`; histfit provides summary, generate_hist, hist, fit, selection, generate, plot, fit_model"))),
        }
    }

    fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError> {
        let t0 = std::time::Instant::now();
        let mut r = match req.capability.as_str() {
            "summary" => tasks::summary(req, host),
            "generate_hist" => tasks::generate_hist(req, host),
            "hist" => histcap::hist(req, host),
            "fit" => fitcap::fit(req, host),
            "selection" => fitcap::selection(req, host),
            "generate" => gencap::generate(req, host),
            "plot" => plots::plot(req, host),
            "fit_model" => fitmodel::fit_model(req, host),
            other => Err(PluginError::config("", format!("unknown capability `{other}`; histfit provides summary, generate_hist, hist, fit, selection, generate, plot, fit_model"))),
        }?;
        r.timing.insert("wall_s".into(), t0.elapsed().as_secs_f64());
        Ok(r)
    }
}

flowlab_abi::export_plugin!(HistFit, "histfit");
