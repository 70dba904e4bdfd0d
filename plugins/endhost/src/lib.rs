//! # endhost: mixture models of endhost network traffic
//!
//! The P / EP / EEP zeta–geometric mixtures of Agosta, Ting, Chandrashekar, Crovella & Taft,
//! "Mixture Models of Endhost Network Traffic" (INFOCOM 2013), as rebuilt in
//! docs/endhost.md, "The model as rebuilt from the paper": models and likelihoods ([`model`], docs/endhost.md, "Models"), ζ numerics
//! ([`zeta`], docs/endhost.md, "ζ numerics"), interior-point maximum likelihood and the alternative fitters ([`fit`],
//! [`optim`], docs/endhost.md, "Estimation"), Bayes-factor selection ([`select`], docs/endhost.md, "Selection"), samplers ([`sample`], docs/endhost.md, "Samplers"), readers
//! ([`data`]) and the paper's validation designs ([`validate`], docs/endhost.md, "Validation designs").
//!
//! Capabilities: `generate` and `generate_users` (dataset generators), `fit` (a counts file:
//! fit the chosen models and apply the selection rule), `fit_users` (a per-user CSV: every
//! user × bin size, the paper's §VI), `generate_traces` (synthetic flow records with ground
//! truth, [`traces`]), `fit_traces` (flow records: [`records`] → [`binning`] → fits →
//! [`composition`], the paper's §VI–VII, [`study`]), `validate_fig1` and `validate_table2`
//! (datasetless).
#![warn(missing_docs)]
// Domain checks are written `!(x > lo)` on purpose: NaN must fail them.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod aest;
pub mod binning;
pub mod composition;
pub mod data;
pub mod fastrow;
pub mod fit;
pub mod insert;
pub mod kernel;
pub mod model;
pub mod optim;
pub mod polish;
pub mod records;
pub mod reference;
pub mod sample;
pub mod select;
pub mod starts;
pub mod study;
pub mod traces;
pub mod validate;
pub mod zeta;

mod caps;

pub use caps::{MAX_CASES, MAX_SAMPLE, MAX_USERS};

flowlab_abi::export_plugin! {
    /// The plugin.
    pub struct Endhost;
    summary: "P/EP/EEP zeta-geometric mixtures of endhost traffic: interior-point ML, Bayes-factor selection, the paper's validation",
    formats: [caps::FORMAT_COUNTS, caps::FORMAT_USERS, traces::FORMAT_RECORDS],
    wall_time: "seconds",
    capabilities: [
        caps::Generate,
        caps::GenerateUsers,
        caps::GenerateTraces,
        caps::FitCounts,
        caps::FitUsers,
        caps::FitTraces,
        caps::ValidateFig1,
        caps::ValidateTable2,
    ],
}
