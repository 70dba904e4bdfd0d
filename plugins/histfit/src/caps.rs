//! The capabilities as typed-SDK types (docs/design.md §2, "The plugin SDK"): each names its
//! settings type, its cross-field check and the entry point that runs it. The order of the
//! list in `lib.rs` is the order `flowlab plugins` shows.
use crate::fitcap::{FitSettings, SelectionSettings};
use crate::fitmodel::FitModelSettings;
use crate::gencap::GenerateSettings;
use crate::histcap::HistSettings;
use crate::plots::PlotSettings;
use crate::tasks::{GenerateHistSettings, SummarySettings};
use crate::{fitcap, fitmodel, gencap, histcap, plots, tasks};
use flowlab_abi::prelude::*;

const CSV_HIST: &[&str] = &["csv_hist"];

/// `summary` (task, csv_hist): flow-models' two TeX summary tables plus a siunitx variant.
pub struct Summary;
impl Cap for Summary {
    const NAME: &'static str = "summary";
    const SUMMARY: &'static str = "flow-models' summary TeX tables (byte-identical) plus a siunitx variant";
    const ACCEPTS: &'static [&'static str] = CSV_HIST;
    type Settings = SummarySettings;
    fn run(s: SummarySettings, ctx: &Ctx) -> Result<Response, PluginError> {
        tasks::summary(s, ctx.request(), ctx.host())
    }
}

/// `generate_hist` (dataset): a seeded synthetic csv_hist from a declared mixture.
pub struct GenerateHist;
impl Cap for GenerateHist {
    const NAME: &'static str = "generate_hist";
    const SUMMARY: &'static str = "seeded synthetic csv_hist drawn from a declared flow mixture model, binned as flow-models (b = 12)";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some("csv_hist");
    type Settings = GenerateHistSettings;
    fn check(s: &GenerateHistSettings) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: GenerateHistSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        tasks::generate_hist(s, ctx.request(), ctx.host())
    }
}

/// `hist` (dataset): flow-models' `hist`, flow records binned into a csv_hist.
pub struct Hist;
impl Cap for Hist {
    const NAME: &'static str = "hist";
    const SUMMARY: &'static str = "flow-models' hist: flow records (csv_flow, binary, nfdump pipe, nfcapd) binned into a csv_hist, byte-identical";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some("csv_hist");
    type Settings = HistSettings;
    fn check(s: &HistSettings) -> Result<(), PluginError> {
        s.check().map(|_| ())
    }
    fn run(s: HistSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        histcap::hist(s, ctx.request(), ctx.host())
    }
}

/// `fit` (task, csv_hist): EM mixture fit with goodness of fit.
pub struct Fit;
impl Cap for Fit {
    const NAME: &'static str = "fit";
    const SUMMARY: &'static str = "EM mixture fit of a csv_hist column (em-compat: flow-models exactly; em-binned: exact binned likelihood) with goodness of fit";
    const ACCEPTS: &'static [&'static str] = CSV_HIST;
    type Settings = FitSettings;
    fn check(s: &FitSettings) -> Result<(), PluginError> {
        s.check().map(|_| ())
    }
    fn run(s: FitSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        fitcap::fit(s, ctx.request(), ctx.host(), ctx.pool()?)
    }
}

/// `selection` (task, csv_hist): component counts by BIC, AIC or held-out likelihood.
pub struct Selection;
impl Cap for Selection {
    const NAME: &'static str = "selection";
    const SUMMARY: &'static str = "model selection of component counts (BIC, AIC or held-out likelihood) over a grid; every candidate stored";
    const ACCEPTS: &'static [&'static str] = CSV_HIST;
    type Settings = SelectionSettings;
    fn check(s: &SelectionSettings) -> Result<(), PluginError> {
        s.candidates().map(|_| ())
    }
    fn run(s: SelectionSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        fitcap::selection(s, ctx.request(), ctx.host(), ctx.pool()?)
    }
}

/// `generate` (task, optional mixture_dir dataset): csv_flow records from a model or a histogram.
pub struct Generate;
impl Cap for Generate {
    const NAME: &'static str = "generate";
    const SUMMARY: &'static str = "flow records (csv_flow, binary) from a mixture model or a csv_hist: independent streams (rng = flowlab) or flow-models' generate --seed byte for byte (rng = numpy)";
    const ACCEPTS: &'static [&'static str] = &["mixture_dir"];
    const DATASETLESS: bool = true;
    type Settings = GenerateSettings;
    fn check(s: &GenerateSettings) -> Result<(), PluginError> {
        s.check()
    }
    fn run(s: GenerateSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        gencap::generate(s, ctx.request(), ctx.host())
    }
}

/// `fit_model` (dataset): flow-models' model directory fitted to a csv_hist.
pub struct FitModel;
impl Cap for FitModel {
    const NAME: &'static str = "fit_model";
    const SUMMARY: &'static str = "flow-models' model directory (flows, packets and octets mixtures with their .mode files) fitted to a csv_hist, for generate and plot";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some("mixture_dir");
    type Settings = FitModelSettings;
    fn check(s: &FitModelSettings) -> Result<(), PluginError> {
        s.columns().map(|_| ())
    }
    fn run(s: FitModelSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        fitmodel::fit_model(s, ctx.request(), ctx.host(), ctx.pool()?)
    }
}

/// `plot` (task, csv_hist or mixture_dir): flow-models' figures.
pub struct Plot;
impl Cap for Plot {
    const NAME: &'static str = "plot";
    const SUMMARY: &'static str = "flow-models' figures of a csv_hist (PNG, SVG or PDF) with an optional model overlay and its plot modes (points, hist, kde, comp, comp_stack, comp_labels, single)";
    const ACCEPTS: &'static [&'static str] = &["csv_hist", "mixture_dir"];
    type Settings = PlotSettings;
    fn run(s: PlotSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        plots::plot(s, ctx.request())
    }
}
