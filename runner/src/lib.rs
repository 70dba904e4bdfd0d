//! # flowlab
//!
//! Declarative, deterministic experiment runner: manifest → plan → cells → stored results →
//! reports (docs/design.md §1 Data flow). The binary (`runner/src/main.rs`) is a thin CLI over this
//! library.
#![warn(missing_docs)]
// Standard error goes through `note!` only: `eprintln!` panics when stderr is a closed pipe
// (`flowlab run M 2>&1 | head`), which would abort a run over a message.
#![deny(clippy::print_stderr)]
// `!(x > 0.0)` is written on purpose: it is true for NaN, which `x <= 0.0` is not.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

/// Writes one line to standard error, ignoring write errors (a closed pipe or a full disk
/// must not end the process; its results and exit code are what matter).
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod browse;
pub mod describe;
pub mod error;
pub mod exec;
pub mod fsguard;
pub mod guard;
pub mod ifit;
pub mod live;
pub mod manifest;
pub mod oneline;
pub mod paths;
pub mod plan;
pub mod record;
pub mod replay;
pub mod report;
pub mod report_context;
pub mod report_filters;
pub mod schema;
pub mod serve;
pub mod slurm;
pub mod store;
pub mod tree_hash;
pub mod worker;
