//! `sampler`: the FlowTest profile sampler (CESNET/FlowTest `ft-profile-sampler`) as a flowlab
//! plugin (spec `specs/sampler.md`).
pub mod ga;
pub mod genome;
pub mod local;
pub mod metrics;
pub mod profile;
