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
pub mod flowhist;
pub mod flowout;
pub mod flows;
pub mod flows_binary;
pub mod fmgen;
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

pub mod caps;

flowlab_abi::export_plugin! {
    /// The plugin.
    pub struct HistFit;
    summary: "flow-models parity for csv_hist flow histograms: summary tables, mixtures, fitting",
    formats: ["csv_hist"],
    wall_time: "wall_s",
    capabilities: [caps::Summary, caps::GenerateHist, caps::Hist, caps::Fit, caps::Selection, caps::Generate, caps::FitModel, caps::Plot],
}
