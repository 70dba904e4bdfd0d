//! # flowlab
//!
//! Declarative, deterministic experiment runner: manifest → plan → cells → stored results →
//! reports (design notes §1). The binary (`runner/src/main.rs`) is a thin CLI over this
//! library.
#![warn(missing_docs)]

pub mod error;
pub mod exec;
pub mod fsguard;
pub mod guard;
pub mod manifest;
pub mod plan;
pub mod replay;
pub mod report;
pub mod schema;
pub mod slurm;
pub mod store;
pub mod worker;
