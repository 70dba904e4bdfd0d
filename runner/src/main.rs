//! The `flowlab` command line.
use clap::{Args, Parser, Subcommand};
use flowlab::error::{Error, ManifestErrors};
use flowlab::exec::{self, RunOptions, CANCEL};
use flowlab::manifest::{Layers, Manifest};
use flowlab::plan::{Plan, PlanOptions};
use flowlab::report;
use flowlab::store::Store;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Exit codes.
mod exit {
    pub const FAILED_CELLS: u8 = 1;
    pub const CONFIG: u8 = 2;
    pub const INTERNAL: u8 = 3;
    pub const CANCELLED: u8 = 130;
}

#[derive(Parser)]
#[command(name = "flowlab", version, about = "Declarative, deterministic experiment runner for network-traffic modeling research")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Common {
    /// The manifest (TOML).
    manifest: PathBuf,
    /// Override a manifest key: KEY=VALUE, VALUE parsed as TOML (e.g. experiment.seed=7, fit.iterations=50).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Data directory for `{data}/…` dataset paths.
    #[arg(long, env = "FLOWLAB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Results root (results/<experiment>/ below it).
    #[arg(long, env = "FLOWLAB_RESULTS", default_value = "results")]
    results: PathBuf,
    /// Templates directory (default: templates/ next to or above the manifest).
    #[arg(long, env = "FLOWLAB_TEMPLATES")]
    templates: Option<PathBuf>,
    /// Ignore FLOWLAB_*__* environment overrides.
    #[arg(long)]
    no_env: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every missing, stale or failed cell, then collect and render reports.
    Run {
        #[command(flatten)]
        common: Common,
        /// Cells in parallel (default: [run] jobs, else the number of cores).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Stop starting new cells after the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// Rerun cells even when their stored result is current.
        #[arg(long)]
        force: bool,
        /// No progress output.
        #[arg(short, long)]
        quiet: bool,
        /// Skip rendering reports.
        #[arg(long)]
        no_report: bool,
        /// Compile reports with pdflatex.
        #[arg(long)]
        pdf: bool,
    },
    /// Print the cells and whether each is cached, stale, failed or missing.
    Plan {
        #[command(flatten)]
        common: Common,
    },
    /// Collect stored results and render the manifest's reports (runs nothing).
    Report {
        #[command(flatten)]
        common: Common,
        /// Compile reports with pdflatex.
        #[arg(long)]
        pdf: bool,
    },
    /// List the plugins found, their versions and what each provides.
    Plugins {
        /// Print the full JSON descriptions.
        #[arg(long)]
        json: bool,
    },
    /// Write the manifest JSON Schema with every plugin's settings merged in.
    Schema {
        /// Output file.
        #[arg(long, default_value = "schemas/manifest.schema.json")]
        output: PathBuf,
        /// Do not write; fail if the file differs from the generated schema.
        #[arg(long)]
        check: bool,
    },
}

fn load_plan(c: &Common) -> Result<Plan, Error> {
    let layers = Layers { sets: c.sets.clone(), env: !c.no_env };
    let m = Manifest::load(&c.manifest, &layers)?;
    let plan = Plan::build(m, &PlanOptions { data_dir: c.data_dir.clone() })?;
    Ok(plan)
}

fn render_reports(plan: &Plan, store: &Store, c: &Common, pdf: bool) -> Result<Vec<PathBuf>, Error> {
    let recs = exec::collect(plan, store)?;
    let mut outs = Vec::new();
    if plan.manifest.reports.is_empty() {
        return Ok(outs);
    }
    if recs.is_empty() {
        return Err(flowlab::error::ReportError::NoResults(format!("no stored results under {}; run `flowlab run {}` first", store.root.display(), c.manifest.display())).into());
    }
    let tdir = report::templates_dir(c.templates.as_deref(), &plan.manifest.dir())
        .ok_or_else(|| Error::Other("no templates/ directory found next to or above the manifest; pass --templates DIR".into()))?;
    for r in &plan.manifest.reports {
        let out = report::render(plan, store, &recs, r, &tdir)?;
        eprintln!("report: {}", out.display());
        if pdf || r.pdf {
            if report::have_pdflatex() {
                let p = report::pdflatex(&out)?;
                eprintln!("pdf:    {}", p.display());
            } else if pdf {
                return Err(Error::Other("--pdf asked for, but pdflatex is not installed (Debian: texlive-pictures texlive-science)".into()));
            } else {
                eprintln!("note: pdflatex not found; {} not compiled", out.display());
            }
        }
        outs.push(out);
    }
    Ok(outs)
}

fn cmd_run(c: &Common, jobs: Option<usize>, fail_fast: bool, force: bool, quiet: bool, no_report: bool, pdf: bool) -> Result<u8, Error> {
    let plan = load_plan(c)?;
    let store = Store::new(&c.results, &plan.manifest.experiment.name);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let opts = RunOptions {
        jobs: jobs.or(plan.manifest.run.jobs).unwrap_or(cores).max(1),
        cell_threads: plan.manifest.run.cell_threads.unwrap_or(1),
        fail_fast: fail_fast || plan.manifest.run.fail_fast,
        force,
        progress: !quiet,
    };
    let s = exec::execute(&plan, &store, &opts)?;
    let cancelled = CANCEL.load(Ordering::Relaxed);
    eprintln!(
        "{}: {} cells: {} ran ok, {} cached, {} failed{}{}",
        plan.manifest.experiment.name,
        s.total,
        s.ok,
        s.cached,
        s.failed,
        if s.cancelled > 0 { format!(", {} cancelled", s.cancelled) } else { String::new() },
        if s.skipped > 0 { format!(", {} not started", s.skipped) } else { String::new() }
    );
    for f in &s.failures {
        eprintln!("  failed: {f}");
    }
    if cancelled {
        exec::collect(&plan, &store)?;
        eprintln!("interrupted: finished cells are stored; rerun the same command to resume");
        return Ok(exit::CANCELLED);
    }
    if !no_report {
        render_reports(&plan, &store, c, pdf)?;
    } else {
        exec::collect(&plan, &store)?;
    }
    eprintln!("results: {}", store.root.display());
    Ok(if s.failed > 0 || s.skipped > 0 { exit::FAILED_CELLS } else { 0 })
}

fn cmd_plan(c: &Common) -> Result<u8, Error> {
    let plan = load_plan(c)?;
    let store = Store::new(&c.results, &plan.manifest.experiment.name);
    let mut counts = std::collections::BTreeMap::new();
    println!("{:<20} {:<8} {:<16} {:<12} {:<14} {:>3} {}", "cell", "status", "task", "plugin", "dataset", "rep", "sweep point");
    for cell in &plan.cells {
        let st = store.status(&cell.id, &plan.plugin(&cell.plugin).sha256);
        *counts.entry(st.as_str()).or_insert(0usize) += 1;
        let point = if cell.point.is_empty() { String::new() } else { serde_json::Value::Object(cell.point.clone()).to_string() };
        println!("{:<20} {:<8} {:<16} {:<12} {:<14} {:>3} {}", cell.id, st.as_str(), cell.task, cell.plugin, cell.dataset.as_deref().unwrap_or("-"), cell.replicate, point);
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{} cells: {}", plan.cells.len(), summary.join(", "));
    Ok(0)
}

fn cmd_plugins(json: bool) -> Result<u8, Error> {
    let files = flowlab_abi::host::candidate_files();
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        match flowlab_abi::host::LoadedPlugin::load(&f) {
            Ok(p) => {
                if !seen.insert(p.name().to_string()) {
                    continue;
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&p.description).unwrap_or_default());
                    continue;
                }
                println!("{} {} (ABI 1.{})  {}", p.name(), p.version(), p.abi_minor, p.path.display());
                println!("  sha256 {}", p.sha256);
                if !p.description.summary.is_empty() {
                    println!("  {}", p.description.summary);
                }
                if !p.description.formats.is_empty() {
                    println!("  reads: {}", p.description.formats.join(", "));
                }
                for c in &p.description.capabilities {
                    let kind = match c.kind {
                        flowlab_abi::CapabilityKind::Task => "task",
                        flowlab_abi::CapabilityKind::Dataset => "dataset",
                    };
                    let keys: Vec<String> = c.settings_schema.get("properties").and_then(|p| p.as_object()).map(|o| o.keys().cloned().collect()).unwrap_or_default();
                    println!("  [{kind}] {:<16} {}", c.name, c.summary);
                    if !keys.is_empty() {
                        println!("         settings: {}", keys.join(", "));
                    }
                }
            }
            Err(flowlab_abi::host::LoadError::NoEntry { .. }) => {}
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    if seen.is_empty() {
        eprintln!("no plugins found in {:?}; build them with `cargo build --workspace` or set FLOWLAB_PLUGIN_PATH", flowlab_abi::host::search_dirs());
        return Ok(exit::CONFIG);
    }
    Ok(0)
}

fn cmd_schema(output: &Path, check: bool) -> Result<u8, Error> {
    let plugins = flowlab::schema::schema_plugins();
    let v = flowlab::schema::manifest_schema(&plugins);
    let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
    text.push('\n');
    if check {
        let cur = std::fs::read_to_string(output).unwrap_or_default();
        if cur != text {
            eprintln!("{} is out of date; run `flowlab schema`", output.display());
            return Ok(exit::FAILED_CELLS);
        }
        return Ok(0);
    }
    flowlab::store::atomic_write(output, text.as_bytes())?;
    eprintln!("wrote {} ({} plugins: {})", output.display(), plugins.len(), plugins.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "));
    Ok(0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting now");
            std::process::exit(exit::CANCELLED as i32);
        }
        eprintln!("\ninterrupt: stopping running cells (Ctrl-C again to exit at once)");
    });
    let r = match &cli.cmd {
        Cmd::Run { common, jobs, fail_fast, force, quiet, no_report, pdf } => cmd_run(common, *jobs, *fail_fast, *force, *quiet, *no_report, *pdf),
        Cmd::Plan { common } => cmd_plan(common),
        Cmd::Report { common, pdf } => load_plan(common).and_then(|plan| {
            let store = Store::new(&common.results, &plan.manifest.experiment.name);
            render_reports(&plan, &store, common, *pdf).map(|_| 0)
        }),
        Cmd::Plugins { json } => cmd_plugins(*json),
        Cmd::Schema { output, check } => cmd_schema(output, *check),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(match e {
                Error::Manifest(ManifestErrors(_)) => exit::CONFIG,
                Error::Load(_) => exit::CONFIG,
                _ => exit::INTERNAL,
            })
        }
    }
}
