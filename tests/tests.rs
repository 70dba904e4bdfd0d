//! flowlab's integration tests (one binary, ripgrep style). They drive the real `flowlab`
//! binary and load plugins through the real C ABI.
mod common;

mod bad_inputs;
mod determinism;
mod failures;
mod layering;
mod reports;
mod schema;
mod workflows;
mod isolation;
mod replay;
mod slurm;
mod bad_data;
mod crash;
mod fuzz;
mod hardening;
mod output_io;
mod plugin_search;
mod scale;
mod limits;
mod progress;
mod cli;
mod browse;
mod settings_docs;
mod first_manifest;
mod results_csv;
mod oneline;
mod tutorial;
mod path_settings;
mod citations;
mod figures;
mod ifit;
mod serve;
mod serve_browser;
