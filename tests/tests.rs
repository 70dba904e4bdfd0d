//! flowlab's integration tests (one binary, ripgrep style). They drive the real `flowlab`
//! binary and load plugins through the real C ABI.
mod common;

mod bad_data;
mod bad_inputs;
mod browse;
mod citations;
mod cli;
mod crash;
mod determinism;
mod failures;
mod figures;
mod first_manifest;
mod fuzz;
mod hardening;
mod ifit;
mod isolation;
mod layering;
mod limits;
mod oneline;
mod output_io;
mod path_settings;
mod plugin_search;
mod progress;
mod replay;
mod reports;
mod results_csv;
mod scale;
mod schema;
mod serve;
mod serve_browser;
mod settings_docs;
mod slurm;
mod tutorial;
mod workflows;
