//! The `flowlab` command line.
// Standard output goes through `out!` only: `println!` panics on a closed pipe or a full disk.
#![deny(clippy::print_stdout, clippy::print_stderr)]
use clap::{Args, CommandFactory, Parser, Subcommand};
use flowlab::error::{Error, ManifestErrors};
use flowlab::exec::{self, CANCEL, CellFilter, RunOptions};
use flowlab::manifest::{Layers, Manifest};
use flowlab::plan::{Plan, PlanOptions};
use flowlab::report;
use flowlab::store::Store;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Writes one line to standard output; a write error (EPIPE, ENOSPC) comes back as
/// [`Error::Stdout`] for `main` to handle, never as a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(Error::Stdout)
    }};
}

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
    /// Sweep a task setting: KEY=V1,V2,… with KEY `<task id>.<setting>` as in [sweep]; values
    /// are TOML (a bare word is a string; brackets and quotes are respected) or integer ranges
    /// START:STOP[:STEP] with STOP excluded (e.g. fit.iterations=100,400 or probe.value=1:6).
    /// Replaces that [sweep] axis or adds one (repeatable).
    #[arg(long = "sweep", value_name = "KEY=V1,V2,…")]
    sweeps: Vec<String>,
    /// Data directory for `{data}/…` in dataset paths and path settings.
    #[arg(long, env = "FLOWLAB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Results root (results/<experiment>/ below it). Default: `results/` in the project
    /// root, the nearest directory at or above the manifest's that holds `templates/`
    /// (else the manifest's directory), whatever the current directory.
    #[arg(long, env = "FLOWLAB_RESULTS")]
    results: Option<PathBuf>,
    /// Templates directory (default: templates/ next to or above the manifest, else beside or above this executable).
    #[arg(long, env = "FLOWLAB_TEMPLATES")]
    templates: Option<PathBuf>,
    /// Ignore FLOWLAB_*__* environment overrides.
    #[arg(long)]
    no_env: bool,
}

/// A count flag that must be at least 1 (`-j`, `--shards`), refused by clap as `jobs = 0` is by
/// the manifest check.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}

/// Options of the Slurm backend (`plan --emit slurm`, `run --backend slurm`).
#[derive(Args, Clone, Default)]
struct SlurmArgs {
    /// Array tasks; each runs a shard of the cells (default 4; at most the number of task cells).
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    shards: usize,
    /// `#SBATCH --partition`.
    #[arg(long)]
    partition: Option<String>,
    /// `#SBATCH --time` (e.g. 30:00 or 1-00:00:00).
    #[arg(long)]
    time: Option<String>,
    /// `#SBATCH --cpus-per-task` (also the cells each shard runs in parallel).
    #[arg(long)]
    cpus_per_task: Option<usize>,
    /// `#SBATCH --mem` (e.g. 4G).
    #[arg(long)]
    mem: Option<String>,
    /// At most this many array tasks at once (`--array=…%N`).
    #[arg(long)]
    array_parallelism: Option<usize>,
    /// Extra `#SBATCH` line (repeatable), e.g. --sbatch-line '--account=proj'.
    #[arg(long = "sbatch-line", value_name = "LINE", allow_hyphen_values = true)]
    sbatch_lines: Vec<String>,
    /// Where to write the script (default: <results>/<experiment>/slurm/flowlab-<experiment>.sbatch).
    #[arg(long = "script", value_name = "FILE")]
    script: Option<PathBuf>,
}

impl SlurmArgs {
    fn options(&self) -> flowlab::slurm::SlurmOptions {
        flowlab::slurm::SlurmOptions {
            shards: self.shards,
            partition: self.partition.clone(),
            time: self.time.clone(),
            cpus_per_task: self.cpus_per_task,
            mem: self.mem.clone(),
            array_parallelism: self.array_parallelism,
            sbatch_lines: self.sbatch_lines.clone(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// Rayon on this machine.
    Local,
    /// A Slurm job array (submit, wait, collect).
    Slurm,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    /// An sbatch array script.
    Slurm,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every missing, stale or failed cell, then collect and render reports.
    Run {
        #[command(flatten)]
        common: Common,
        /// Cells in parallel (default: [run] jobs, else the number of cores).
        #[arg(short = 'j', long, value_parser = at_least_one)]
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
        /// Where cells run.
        #[arg(long, value_enum, default_value = "local")]
        backend: Backend,
        #[command(flatten)]
        slurm: SlurmArgs,
        /// With --backend slurm: give up (and scancel) after this many seconds.
        #[arg(long, value_name = "SECONDS")]
        wait_timeout: Option<u64>,
    },
    /// Print the cells and whether each is cached, stale, failed or missing; or write a
    /// Slurm array script (--emit slurm).
    Plan {
        #[command(flatten)]
        common: Common,
        /// Write a job script instead of listing cells.
        #[arg(long, value_enum)]
        emit: Option<Emit>,
        #[command(flatten)]
        slurm: SlurmArgs,
    },
    /// Run one shard of the cells (what a Slurm array task runs): `--shard k/N`.
    RunShard {
        #[command(flatten)]
        common: Common,
        /// This shard and the number of shards, e.g. 3/8 (0-based).
        #[arg(long, value_name = "K/N")]
        shard: String,
        /// Cells of the shard in parallel (default: $SLURM_CPUS_PER_TASK, else [run] jobs, else 1).
        #[arg(short = 'j', long, value_parser = at_least_one)]
        jobs: Option<usize>,
    },
    /// Run the named cells (ids as printed by `flowlab plan`; unique prefixes allowed).
    RunCell {
        #[command(flatten)]
        common: Common,
        /// Cell ids.
        #[arg(required = true)]
        cells: Vec<String>,
    },
    /// Count done / failed / stale / missing cells of a manifest (exit 0 only when all are done).
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// Re-run a stored cell with its stored settings, seed, dataset and plugin and compare the
    /// result bytes (outside `timing`); exit 0 when equal, 1 when not.
    Replay {
        /// The cell file (results/<experiment>/<cell-id>.json), or a cell id / unique id prefix
        /// under the results root.
        cell: String,
        #[command(flatten)]
        results: ResultsArg,
        /// Data directory for `{data}/…` datasets, if the run context does not resolve them.
        #[arg(long, env = "FLOWLAB_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Thread budget of the replayed cell.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Use this plugin library instead of discovering it by name.
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// Keep the replayed artifacts in this directory.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Internal: run one cell from a JSON request on stdin (subprocess isolation).
    #[command(hide = true)]
    Worker,
    /// Collect stored results and render the manifest's reports (runs nothing).
    Report {
        #[command(flatten)]
        common: Common,
        /// Compile reports with pdflatex.
        #[arg(long)]
        pdf: bool,
    },
    /// List the plugins found, their versions and what each provides; with PLUGIN [CAPABILITY],
    /// explain every setting (type, default, allowed values or range, description) and print a
    /// complete example manifest section.
    Plugins {
        /// Explain this plugin's capabilities in full.
        plugin: Option<String>,
        /// Only this capability of PLUGIN.
        capability: Option<String>,
        /// Print the full JSON descriptions (one JSON array).
        #[arg(long)]
        json: bool,
        /// Also list flowlab's internal test plugin (testplug).
        #[arg(long)]
        all: bool,
    },
    /// Print a shell completion script (e.g. `flowlab completions bash > ~/.local/share/bash-completion/completions/flowlab`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of flowlab, or with --output write one page per command.
    Man {
        /// Write flowlab.1 and flowlab-<command>.1 into this directory (created if missing).
        #[arg(long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// List the experiments under a results root: cells (ok / failed), last run, wall time, manifest.
    Ls {
        /// Results root (default: `results` in the current directory).
        #[arg(value_name = "RESULTS")]
        root: Option<PathBuf>,
        #[command(flatten)]
        results: ResultsArg,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show a stored cell (file, id or unique id prefix) or an experiment (name or directory).
    Show {
        /// Cell file, cell id / id prefix, or experiment name / directory.
        target: String,
        #[command(flatten)]
        results: ResultsArg,
        /// Print the record (cell) or a JSON summary (experiment).
        #[arg(long)]
        json: bool,
    },
    /// Compare two cells or two experiments: settings and metrics side by side, differing rows
    /// marked `*`; exit 0 when identical outside timing, 1 when they differ.
    Diff {
        /// First cell or experiment.
        a: String,
        /// Second cell or experiment.
        b: String,
        #[command(flatten)]
        results: ResultsArg,
    },
    /// Browse, compare and watch experiments in a web browser: prints the URL (with the
    /// token that actions need) and serves until Ctrl-C (docs/serve.md).
    Serve {
        /// Results root (default: `results` in the current directory).
        #[arg(long = "results", value_name = "DIR", env = "FLOWLAB_RESULTS")]
        results: Option<PathBuf>,
        /// Directory of manifests to list and run (default: `experiments` in the current
        /// directory, when there is one).
        #[arg(long, value_name = "DIR")]
        experiments: Option<PathBuf>,
        /// Data directory (`{data}` in manifests; its files are served too).
        #[arg(long, env = "FLOWLAB_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Address to listen on; a non-loopback address requires the token on every request.
        /// Port 0 takes a free port.
        #[arg(long, default_value_t = std::net::SocketAddr::from(([127, 0, 0, 1], flowlab::serve::DEFAULT_PORT)))]
        bind: std::net::SocketAddr,
        /// Where the interactive fit's "save" may write (default: the current directory);
        /// nothing outside it is written.
        #[arg(long, value_name = "DIR")]
        save_dir: Option<PathBuf>,
    },
    /// flow-models' commands with flow-models' flags (hist, summary, fit, plot, generate).
    #[command(flatten)]
    FlowModels(flowlab::oneline::OneLine),
    /// Write the manifest JSON Schema with every plugin's settings merged in, and beside it the
    /// result contract's schemas (`cell.schema.json`: a stored cell record and a line of
    /// `results.jsonl`; `run.schema.json`: `.flowlab-run.json`).
    Schema {
        /// Output file.
        #[arg(long, default_value = "schemas/manifest.schema.json")]
        output: PathBuf,
        /// Do not write; fail if the file differs from the generated schema.
        #[arg(long)]
        check: bool,
    },
}

/// `--results DIR` of the browsing commands (`ls`, `show`, `diff`).
#[derive(Args, Clone)]
struct ResultsArg {
    /// Results root (default: `results` in the current directory).
    #[arg(long = "results", value_name = "DIR", env = "FLOWLAB_RESULTS")]
    dir: Option<PathBuf>,
}

impl ResultsArg {
    /// The results root: `--results`, else the positional one (`ls`), else `./results`.
    fn root(&self, positional: Option<&PathBuf>) -> PathBuf {
        self.dir.clone().or_else(|| positional.cloned()).unwrap_or_else(|| PathBuf::from("results"))
    }
}

impl Common {
    /// The results root: `--results` / `FLOWLAB_RESULTS`, else `<project root>/results`.
    fn results_root(&self, plan: &Plan) -> PathBuf {
        self.results.clone().unwrap_or_else(|| plan.manifest.project_root().join("results"))
    }
    /// The store of the plan's experiment.
    fn store(&self, plan: &Plan) -> Store {
        Store::new(&self.results_root(plan), &plan.manifest.experiment.name)
    }
}

fn load_plan(c: &Common) -> Result<Plan, Error> {
    let layers = Layers { sets: c.sets.clone(), sweeps: c.sweeps.clone(), env: !c.no_env, env_vars: None };
    let m = Manifest::load(&c.manifest, &layers)?;
    let plan = Plan::build(m, &PlanOptions { data_dir: c.data_dir.clone() })?;
    Ok(plan)
}

/// A report whose template is missing is a manifest error before anything runs (exit 2);
/// without a templates directory the report step says so itself, after the cells.
fn check_report_templates(plan: &Plan, c: &Common) -> Result<(), Error> {
    if plan.manifest.reports.is_empty() {
        return Ok(());
    }
    match report::templates_dir(c.templates.as_deref(), &plan.manifest.dir()) {
        Some(t) => report::check_templates(&plan.manifest.reports, &t).map_err(|m| Error::Usage(format!("{}: {m}", c.manifest.display()))),
        None => Ok(()),
    }
}

/// A report asked of a results directory that holds no results of the manifest.
fn no_results(store: &Store, c: &Common) -> Error {
    flowlab::error::ReportError::NoResults(format!("no stored results under {}; run `flowlab run {}` first (or give the --results it used)", store.root.display(), c.manifest.display())).into()
}

fn render_reports(plan: &Plan, store: &Store, c: &Common, pdf: bool) -> Result<Vec<PathBuf>, Error> {
    let stored = exec::collect(plan, store)?;
    let mut outs = Vec::new();
    if plan.manifest.reports.is_empty() {
        return Ok(outs);
    }
    if stored == 0 {
        return Err(no_results(store, c));
    }
    let tdir = report::templates_dir(c.templates.as_deref(), &plan.manifest.dir())
        .ok_or_else(|| Error::Other("no templates/ directory found next to or above the manifest or this executable; pass --templates DIR or set FLOWLAB_TEMPLATES".into()))?;
    // only reports hold every record in memory
    let recs = exec::records(plan, store)?;
    for r in &plan.manifest.reports {
        let out = report::render(plan, store, &recs, r, &tdir)?;
        flowlab::note!("report: {}", out.display());
        if pdf || r.pdf {
            if report::have_pdflatex() {
                let p = report::pdflatex(&out)?;
                flowlab::note!("pdf:    {}", p.display());
            } else if pdf {
                return Err(Error::Other("--pdf asked for, but pdflatex is not installed (Debian: texlive-pictures texlive-science)".into()));
            } else {
                flowlab::note!("note: pdflatex not found; {} not compiled", out.display());
            }
        }
        outs.push(out);
    }
    Ok(outs)
}

#[allow(clippy::too_many_arguments)]
fn cmd_run(
    c: &Common,
    jobs: Option<usize>,
    fail_fast: bool,
    force: bool,
    quiet: bool,
    no_report: bool,
    pdf: bool,
    backend: Backend,
    slurm: &SlurmArgs,
    wait_timeout: Option<u64>,
) -> Result<u8, Error> {
    if backend == Backend::Slurm {
        if force {
            return Err(Error::Usage("--force is not supported with --backend slurm (delete the results directory instead)".into()));
        }
        return cmd_run_slurm(c, slurm, wait_timeout, no_report, pdf);
    }
    let plan = load_plan(c)?;
    if !no_report {
        check_report_templates(&plan, c)?;
    }
    let store = c.store(&plan);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let opts = RunOptions {
        jobs: jobs.or(plan.manifest.run.jobs).unwrap_or(cores).max(1),
        cell_threads: plan.manifest.run.cell_threads.unwrap_or(1),
        fail_fast: fail_fast || plan.manifest.run.fail_fast,
        force,
        progress: !quiet,
        filter: CellFilter::All,
    };
    let s = exec::execute(&plan, &store, &opts)?;
    let cancelled = CANCEL.load(Ordering::Relaxed);
    flowlab::note!(
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
        flowlab::note!("  failed: {f}");
    }
    if cancelled {
        exec::collect(&plan, &store)?;
        if force {
            // a cell the interrupted rerun had started keeps its previous result (exec.rs)
            flowlab::note!("interrupted: cells rerun to the end are stored, the others keep their previous results; run again without --force to run only what is missing");
        } else {
            flowlab::note!("interrupted: finished cells are stored; rerun the same command to resume");
        }
        return Ok(exit::CANCELLED);
    }
    if !no_report {
        render_reports(&plan, &store, c, pdf)?;
    } else {
        exec::collect(&plan, &store)?;
    }
    flowlab::note!("results: {}", store.root.display());
    Ok(if s.failed > 0 || s.skipped > 0 { exit::FAILED_CELLS } else { 0 })
}

fn parse_shard(s: &str) -> Result<(usize, usize), Error> {
    let bad = || Error::Usage(format!("--shard {s}: expected K/N with 0 <= K < N, e.g. 0/4"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

fn cmd_run_shard(c: &Common, shard: &str, jobs: Option<usize>) -> Result<u8, Error> {
    let (k, n) = parse_shard(shard)?;
    let plan = load_plan(c)?;
    let store = c.store(&plan);
    let slurm_cpus = std::env::var("SLURM_CPUS_PER_TASK").ok().and_then(|v| v.parse::<usize>().ok());
    let opts = RunOptions {
        jobs: jobs.or(slurm_cpus).or(plan.manifest.run.jobs).unwrap_or(1).max(1),
        cell_threads: plan.manifest.run.cell_threads.unwrap_or(1),
        fail_fast: plan.manifest.run.fail_fast,
        force: false,
        progress: true,
        filter: CellFilter::Shard { k, n },
    };
    let s = exec::execute(&plan, &store, &opts)?;
    flowlab::note!("{} shard {k}/{n}: {} cells: {} ran ok, {} cached, {} failed", plan.manifest.experiment.name, s.total, s.ok, s.cached, s.failed);
    for f in &s.failures {
        flowlab::note!("  failed: {f}");
    }
    if CANCEL.load(Ordering::Relaxed) {
        return Ok(exit::CANCELLED);
    }
    Ok(if s.failed > 0 || s.skipped > 0 { exit::FAILED_CELLS } else { 0 })
}

fn cmd_run_cell(c: &Common, ids: &[String]) -> Result<u8, Error> {
    let plan = load_plan(c)?;
    let store = c.store(&plan);
    let mut set = std::collections::BTreeSet::new();
    for id in ids {
        let m: Vec<&str> = plan.cells.iter().filter(|x| x.id.starts_with(id.as_str())).map(|x| x.id.as_str()).collect();
        match m.len() {
            1 => {
                set.insert(m[0].to_string());
            }
            0 => return Err(Error::Usage(format!("no cell `{id}` in {} (see `flowlab plan`)", c.manifest.display()))),
            k => return Err(Error::Usage(format!("cell prefix `{id}` matches {k} cells; give more characters"))),
        }
    }
    let opts = RunOptions {
        jobs: plan.manifest.run.jobs.unwrap_or(1).max(1),
        cell_threads: plan.manifest.run.cell_threads.unwrap_or(1),
        fail_fast: false,
        force: false,
        progress: true,
        filter: CellFilter::Ids(set),
    };
    let s = exec::execute(&plan, &store, &opts)?;
    flowlab::note!("{}: {} cells: {} ran ok, {} cached, {} failed", plan.manifest.experiment.name, s.total, s.ok, s.cached, s.failed);
    for f in &s.failures {
        flowlab::note!("  failed: {f}");
    }
    Ok(if s.failed > 0 || s.skipped > 0 { exit::FAILED_CELLS } else { 0 })
}

fn slurm_script(c: &Common, plan: &Plan, store: &Store, args: &SlurmArgs) -> Result<(PathBuf, Vec<usize>, usize), Error> {
    use flowlab::slurm;
    let n = slurm::shard_count(plan, args.shards);
    let pending = slurm::pending_shards(plan, store, n);
    let mut inv =
        slurm::Invocation::new(&c.manifest, &c.results_root(plan), c.data_dir.as_deref(), &c.sets, c.no_env).map_err(|e| Error::Other(format!("cannot resolve paths for the job script: {e}")))?;
    inv.sweeps = c.sweeps.clone();
    let path = args.script.clone().unwrap_or_else(|| slurm::slurm_dir(store).join(format!("flowlab-{}.sbatch", plan.manifest.experiment.name)));
    // an array with no index cannot be submitted: with nothing pending the script lists every shard
    let indices: Vec<usize> = if pending.is_empty() { (0..n).collect() } else { pending.clone() };
    let text = slurm::script(plan, &inv, &args.options(), n, &indices);
    store.guard(&slurm::slurm_dir(store))?;
    if path.starts_with(&store.root) {
        store.guard(&path)?;
    }
    std::fs::create_dir_all(slurm::slurm_dir(store)).map_err(|e| Error::Other(format!("{}: {e}", slurm::slurm_dir(store).display())))?;
    slurm::write_script(&path, &text).map_err(Error::Other)?;
    Ok((path, pending, n))
}

fn cmd_emit_slurm(c: &Common, args: &SlurmArgs) -> Result<u8, Error> {
    let plan = load_plan(c)?;
    let store = c.store(&plan);
    let (path, pending, n) = slurm_script(c, &plan, &store, args)?;
    out!("{}", path.display())?;
    if pending.is_empty() {
        flowlab::note!("{}: all {} cells are done; the script would rerun nothing", plan.manifest.experiment.name, plan.cells.len());
    } else {
        flowlab::note!("{}: {} cells in {n} shards; {} shards hold unfinished cells: array {}", plan.manifest.experiment.name, plan.cells.len(), pending.len(), flowlab::slurm::array_spec(&pending));
        flowlab::note!("submit with: sbatch {}", path.display());
    }
    Ok(0)
}

fn print_status(plan: &Plan, store: &Store) -> Result<flowlab::slurm::StatusCounts, Error> {
    let s = flowlab::slurm::status(plan, store);
    out!("{}: {} cells: {} done, {} failed, {} stale, {} missing", plan.manifest.experiment.name, plan.cells.len(), s.done, s.failed, s.stale, s.missing)?;
    for (id, task, msg) in &s.failures {
        out!("  failed: {id} ({task}): {msg}")?;
    }
    Ok(s)
}

fn cmd_serve(results: Option<PathBuf>, experiments: Option<PathBuf>, data_dir: Option<PathBuf>, bind: std::net::SocketAddr, save_dir: Option<PathBuf>) -> Result<u8, Error> {
    let experiments = experiments.or_else(|| Some(PathBuf::from("experiments")).filter(|p| p.is_dir()));
    let flowlab_exe = std::env::current_exe().map_err(|e| Error::Other(format!("cannot find this executable: {e}")))?;
    let save_dir = Some(save_dir.unwrap_or_else(|| PathBuf::from(".")));
    let cfg = flowlab::serve::ServeConfig { results: results.unwrap_or_else(|| PathBuf::from("results")), experiments, data_dir, bind, flowlab_exe, save_dir };
    let mut printed = Ok(());
    flowlab::serve::run(&cfg, |url| {
        printed = out!("flowlab serve: {url}").and_then(|_| {
            use std::io::Write as _;
            std::io::stdout().flush().map_err(Error::Stdout)
        });
        flowlab::note!("open the address above in a browser (it holds the token that runs and replays need); Ctrl-C stops");
    })
    .map_err(|e| match e {
        // a bad directory or a taken port is the user's to fix: exit 2
        flowlab::serve::ServeError::Dir { .. } | flowlab::serve::ServeError::Bind { .. } => Error::Usage(e.to_string()),
        other => Error::Other(other.to_string()),
    })?;
    printed.map(|_| 0)
}

fn cmd_status(c: &Common) -> Result<u8, Error> {
    let plan = load_plan(c)?;
    let store = c.store(&plan);
    let s = print_status(&plan, &store)?;
    Ok(if s.done == plan.cells.len() { 0 } else { exit::FAILED_CELLS })
}

fn cmd_run_slurm(c: &Common, args: &SlurmArgs, wait_timeout: Option<u64>, no_report: bool, pdf: bool) -> Result<u8, Error> {
    let plan = load_plan(c)?;
    if !no_report {
        check_report_templates(&plan, c)?;
    }
    let store = c.store(&plan);
    std::fs::create_dir_all(&store.root).map_err(|e| Error::Other(format!("{}: {e}", store.root.display())))?;
    let (path, pending, n) = slurm_script(c, &plan, &store, args)?;
    if pending.is_empty() {
        flowlab::note!("{}: all {} cells are done; nothing to submit", plan.manifest.experiment.name, plan.cells.len());
    } else {
        let t0 = std::time::Instant::now();
        let job = flowlab::slurm::submit(&path).map_err(Error::Other)?;
        flowlab::note!("submitted job {job}: array {} of {n} shards ({})", flowlab::slurm::array_spec(&pending), path.display());
        let r = flowlab::slurm::wait(&job, wait_timeout.map(std::time::Duration::from_secs), std::time::Duration::from_millis(250));
        if let Err(e) = r {
            flowlab::note!("{e}");
            print_status(&plan, &store)?;
            return Ok(exit::FAILED_CELLS);
        }
        flowlab::note!("job {job} finished in {:.1} s", t0.elapsed().as_secs_f64());
    }
    let s = print_status(&plan, &store)?;
    if s.missing > 0 || s.stale > 0 {
        flowlab::note!("some cells were not stored; shard logs are in {}", flowlab::slurm::slurm_dir(&store).display());
    }
    if !no_report {
        render_reports(&plan, &store, c, pdf)?;
    } else {
        exec::collect(&plan, &store)?;
    }
    flowlab::note!("results: {}", store.root.display());
    Ok(if s.done == plan.cells.len() { 0 } else { exit::FAILED_CELLS })
}

fn cmd_replay(root: &Path, target: &str, data_dir: Option<PathBuf>, threads: usize, plugin: Option<PathBuf>, keep: Option<PathBuf>) -> Result<u8, Error> {
    let cell = flowlab::browse::cell_path(root, target).map_err(|e| match e {
        flowlab::browse::BrowseError::BadArg(m) => Error::Usage(m),
        flowlab::browse::BrowseError::Store(m) => Error::Other(m),
    })?;
    // a --keep that cannot be used is a command-line error (exit 2), found before the replay
    if let Some(m) = keep.as_deref().and_then(flowlab::replay::keep_refusal) {
        return Err(Error::Usage(m));
    }
    let opts = flowlab::replay::ReplayOptions { threads, data_dir, plugin, keep };
    let r = flowlab::replay::replay(&cell, &opts).map_err(Error::Other)?;
    for w in &r.warnings {
        flowlab::note!("warning: {w}");
    }
    if r.equal {
        out!("replay {}: identical (result bytes outside timing are equal)", r.cell_id)?;
    } else {
        let (at, a, b) = r.first_difference.clone().unwrap_or_default();
        out!("replay {}: DIFFERENT; first difference at {at}: stored {a}, replayed {b}", r.cell_id)?;
    }
    if r.artifact_differences.is_empty() {
        out!("artifacts: {} files identical", r.artifacts_compared)?;
    } else {
        out!("artifacts: {} of {} files differ:", r.artifact_differences.len(), r.artifacts_compared)?;
        for d in &r.artifact_differences {
            out!("  {d}")?;
        }
    }
    Ok(if r.equal { 0 } else { exit::FAILED_CELLS })
}

fn cmd_plan(c: &Common) -> Result<u8, Error> {
    use std::io::Write;
    let plan = load_plan(c)?;
    check_report_templates(&plan, c)?;
    let store = c.store(&plan);
    let mut counts = std::collections::BTreeMap::new();
    // one buffered, locked writer: a line per cell without a write call (or a copy of the
    // sweep point) per line (BENCHMARKS.md: runner at scale)
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut lines = || -> std::io::Result<()> {
        writeln!(out, "{:<20} {:<8} {:<16} {:<12} {:<14} {:>3} sweep point", "cell", "status", "task", "plugin", "dataset", "rep")?;
        let listing = store.listing();
        for cell in &plan.cells {
            let st = store.status_listed(&listing, &cell.id, &plan.plugin(&cell.plugin).sha256);
            *counts.entry(st.as_str()).or_insert(0usize) += 1;
            let pt = cell.point();
            let point = if pt.is_empty() { String::new() } else { serde_json::to_string(&pt).unwrap_or_default() };
            writeln!(out, "{:<20} {:<8} {:<16} {:<12} {:<14} {:>3} {}", cell.id, st.as_str(), cell.task, cell.plugin, cell.dataset.as_deref().unwrap_or("-"), cell.replicate, point)?;
        }
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        writeln!(out, "{} cells: {}", plan.cells.len(), summary.join(", "))?;
        out.flush()
    };
    // a closed pipe ends quietly and any other error is exit 3, in `main` (Error::Stdout)
    lines().map(|_| 0).map_err(Error::Stdout)
}

fn cmd_plugins(json: bool, all: bool) -> Result<u8, Error> {
    let dirs = flowlab_abi::host::search_dirs();
    if !json {
        // the current directory is never searched (README: where plugins are found)
        out!("search path ($FLOWLAB_PLUGIN_PATH, then beside the executable):")?;
        for d in &dirs {
            out!("  {}{}", d.display(), if d.is_dir() { "" } else { "  (missing)" })?;
        }
    }
    let files = flowlab_abi::host::candidate_files();
    let mut seen = std::collections::BTreeSet::new();
    // --json prints one document: an array of the plugins' descriptions
    let mut described = Vec::new();
    let mut hidden = 0usize;
    for f in files {
        match flowlab_abi::host::LoadedPlugin::load(&f) {
            Ok(p) => {
                if !seen.insert(p.name().to_string()) {
                    continue;
                }
                if p.description.internal && !all {
                    hidden += 1;
                    continue;
                }
                if json {
                    described.push(&p.description);
                    continue;
                }
                out!("{} {} (ABI 1.{})  {}", p.name(), p.version(), p.abi_minor, p.path.display())?;
                out!("  sha256 {}", p.sha256)?;
                if !p.description.summary.is_empty() {
                    out!("  {}", p.description.summary)?;
                }
                if !p.description.formats.is_empty() {
                    out!("  reads: {}", p.description.formats.join(", "))?;
                }
                for c in &p.description.capabilities {
                    let kind = match c.kind {
                        flowlab_abi::CapabilityKind::Task => "task",
                        flowlab_abi::CapabilityKind::Dataset => "dataset",
                    };
                    let keys: Vec<String> = c.settings_schema.get("properties").and_then(|p| p.as_object()).map(|o| o.keys().cloned().collect()).unwrap_or_default();
                    out!("  [{kind}] {:<16} {}", c.name, c.summary)?;
                    if !keys.is_empty() {
                        out!("         settings: {}", keys.join(", "))?;
                    }
                }
            }
            Err(flowlab_abi::host::LoadError::NoEntry { .. }) => {}
            Err(e) => flowlab::note!("warning: {e}"),
        }
    }
    if json {
        out!("{}", serde_json::to_string_pretty(&described).unwrap_or_default())?;
    } else if !seen.is_empty() {
        out!("(`flowlab plugins PLUGIN [CAPABILITY]` explains every setting with an example section)")?;
    }
    if !json && hidden > 0 {
        out!("({hidden} internal test plugin not shown; `flowlab plugins --all` lists it)")?;
    }
    if seen.is_empty() {
        flowlab::note!("no plugins found in {:?}; build them with `cargo build --workspace` or set FLOWLAB_PLUGIN_PATH", dirs);
        return Ok(exit::CONFIG);
    }
    Ok(0)
}

/// `flowlab plugins PLUGIN [CAPABILITY]`: every setting explained and an example section (or
/// with --json that plugin's description, or that capability's).
fn cmd_plugin_help(name: &str, capability: Option<&str>, json: bool) -> Result<u8, Error> {
    let plugins: Vec<&flowlab_abi::host::LoadedPlugin> = flowlab_abi::host::candidate_files().iter().filter_map(|f| flowlab_abi::host::LoadedPlugin::load(f).ok()).collect();
    let Some(p) = plugins.iter().find(|p| p.name() == name) else {
        let names: Vec<&str> = plugins.iter().filter(|p| !p.description.internal).map(|p| p.name()).collect();
        let hint = flowlab::manifest::suggest(name, names.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
        flowlab::note!("error: no plugin `{name}`; {hint}plugins found: {}", names.join(", "));
        return Ok(exit::CONFIG);
    };
    let caps: Vec<&flowlab_abi::Capability> = match capability {
        None => p.description.capabilities.iter().collect(),
        Some(c) => match p.description.capability(c) {
            Some(cap) => vec![cap],
            None => {
                let names: Vec<&str> = p.description.capabilities.iter().map(|c| c.name.as_str()).collect();
                let hint = flowlab::manifest::suggest(c, names.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                flowlab::note!("error: plugin `{name}` has no capability `{c}`; {hint}its capabilities: {}", names.join(", "));
                return Ok(exit::CONFIG);
            }
        },
    };
    if json {
        let v = match capability {
            Some(_) => serde_json::to_value(caps[0]),
            None => serde_json::to_value(&p.description),
        };
        out!("{}", v.map(|v| serde_json::to_string_pretty(&v).unwrap_or_default()).unwrap_or_default())?;
        return Ok(0);
    }
    if capability.is_none() {
        out!("{} {}  {}", p.name(), p.version(), p.path.display())?;
        if !p.description.summary.is_empty() {
            out!("{}", p.description.summary)?;
        }
    }
    for (i, c) in caps.iter().enumerate() {
        if capability.is_none() || i > 0 {
            out!("")?;
        }
        let text = flowlab::describe::capability_text(p.name(), c);
        out!("{}", text.trim_end())?;
    }
    // the overview lists the shipped templates per capability; `plugins PLUGIN CAPABILITY`
    // ends with its example section, ready to paste
    if capability.is_none()
        && let Some(dir) = shipped_templates_dir()
    {
        let found = flowlab::describe::shipped_templates(&dir);
        out!("")?;
        out!("{}", flowlab::describe::templates_text(p.name(), &caps, &found, &dir).trim_end())?;
    }
    Ok(0)
}

/// The templates directory `flowlab plugins PLUGIN` lists: [`flowlab::report::templates_dir`]
/// from the current directory.
fn shipped_templates_dir() -> Option<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    flowlab::report::templates_dir(None, &cwd).filter(|d| d.is_dir())
}

/// A browse error as an exit code (2 bad argument, 3 unreadable store), message on stderr.
fn browse_failed(e: flowlab::browse::BrowseError) -> Result<u8, Error> {
    flowlab::note!("{e}");
    Ok(match e {
        flowlab::browse::BrowseError::BadArg(_) => exit::CONFIG,
        flowlab::browse::BrowseError::Store(_) => exit::INTERNAL,
    })
}

fn cmd_ls(root: &Path, json: bool) -> Result<u8, Error> {
    let (summaries, warnings) = match flowlab::browse::ls_summaries(root) {
        Ok(x) => x,
        Err(e) => return browse_failed(e),
    };
    for w in &warnings {
        flowlab::note!("warning: {w}");
    }
    if json {
        out!("{}", serde_json::Value::Array(summaries))?;
    } else if summaries.is_empty() {
        flowlab::note!("no experiments under {}", root.display());
    } else {
        for line in flowlab::browse::ls_table(&summaries) {
            out!("{line}")?;
        }
    }
    Ok(0)
}

fn cmd_show(root: &Path, target: &str, json: bool) -> Result<u8, Error> {
    use flowlab::browse::{self, Target};
    let t = match browse::resolve(root, target) {
        Ok(t) => t,
        Err(e) => return browse_failed(e),
    };
    let lines = match (&t, json) {
        (Target::Cell(c), true) => vec![serde_json::to_string_pretty(&c.record).unwrap_or_default()],
        (Target::Cell(c), false) => browse::show_cell(c),
        (Target::Experiment(ex), true) => vec![serde_json::to_string_pretty(&browse::experiment_json(ex)).unwrap_or_default()],
        (Target::Experiment(ex), false) => browse::show_experiment(ex),
    };
    if let Target::Experiment(ex) = &t {
        for c in &ex.corrupt {
            flowlab::note!("warning: corrupt cell file {c}");
        }
    }
    for line in lines {
        out!("{line}")?;
    }
    Ok(0)
}

fn cmd_diff(root: &Path, a: &str, b: &str) -> Result<u8, Error> {
    use flowlab::browse;
    let r = browse::resolve(root, a).and_then(|ta| browse::resolve(root, b).and_then(|tb| browse::diff(&ta, &tb, browse::use_color())));
    let (lines, differ) = match r {
        Ok(x) => x,
        Err(e) => return browse_failed(e),
    };
    for line in lines {
        out!("{line}")?;
    }
    Ok(if differ { exit::FAILED_CELLS } else { 0 })
}

fn cmd_schema(output: &Path, check: bool) -> Result<u8, Error> {
    let plugins = flowlab::schema::schema_plugins();
    // the manifest's schema, and beside it the result contract's (runner/src/record.rs)
    let dir = output.parent().unwrap_or(Path::new(""));
    let files = [
        (output.to_path_buf(), flowlab::schema::manifest_schema(&plugins)),
        (dir.join("cell.schema.json"), flowlab::record::schema_of::<flowlab::record::CellRecord>()),
        (dir.join("run.schema.json"), flowlab::record::schema_of::<flowlab::record::RunContext>()),
    ];
    let (mut stale, mut missing) = (Vec::new(), Vec::new());
    for (path, v) in &files {
        let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
        text.push('\n');
        if check {
            if !path.is_file() {
                missing.push(path.display().to_string());
            } else if std::fs::read_to_string(path).unwrap_or_default() != text {
                stale.push(path.display().to_string());
            }
        } else {
            flowlab::store::atomic_write(path, text.as_bytes())?;
        }
    }
    if check {
        if !missing.is_empty() {
            flowlab::note!("{} missing: `--output` names the directory holding the schemas (default `schemas` in the current directory: run this from the repository's root)", missing.join(", "));
        }
        if !stale.is_empty() {
            flowlab::note!("{} out of date; run `flowlab schema`", stale.join(", "));
        }
        if !(missing.is_empty() && stale.is_empty()) {
            return Ok(exit::FAILED_CELLS);
        }
        return Ok(0);
    }
    flowlab::note!(
        "wrote {} ({} plugins: {}) and the result schemas {}, {}",
        output.display(),
        plugins.len(),
        plugins.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
        files[1].0.display(),
        files[2].0.display()
    );
    Ok(0)
}

/// Writes `bytes` to standard output (a write error is [`Error::Stdout`], as for `out!`).
fn write_stdout(bytes: &[u8]) -> Result<u8, Error> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(bytes).and_then(|_| o.flush()).map(|_| 0).map_err(Error::Stdout)
}

fn cmd_completions(shell: clap_complete::Shell) -> Result<u8, Error> {
    // into memory first: clap_complete panics on a write error, and a closed pipe must end
    // quietly (see `exit_code`)
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "flowlab", &mut buf);
    write_stdout(&buf)
}

fn cmd_man(output: Option<&Path>) -> Result<u8, Error> {
    // as clap_mangen::generate_to does: built (so subcommands are named `flowlab-<command>`),
    // without the `help` subcommand and hidden ones (`worker`)
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let page = |c: clap::Command| -> Result<(String, Vec<u8>), Error> {
        let man = clap_mangen::Man::new(c);
        let mut buf = Vec::new();
        man.render(&mut buf).map_err(|e| Error::Other(format!("cannot render the man page: {e}")))?;
        Ok((man.get_filename(), buf))
    };
    let Some(dir) = output else {
        return write_stdout(&page(cmd)?.1);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::Other(format!("--output {}: cannot create the directory: {e}", dir.display())))?;
    let mut pages = vec![page(cmd.clone())?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(page(sub.clone())?);
    }
    for (name, bytes) in &pages {
        flowlab::store::atomic_write(&dir.join(name), bytes)?;
    }
    flowlab::note!("wrote {} man pages to {}", pages.len(), dir.display());
    Ok(0)
}

/// The exit code of a command's result; prints the error, if any, on stderr.
fn exit_code(r: Result<u8, Error>) -> ExitCode {
    // lines are flushed as written (stdout is line-buffered); this catches a last partial write
    let r = r.and_then(|code| std::io::Write::flush(&mut std::io::stdout()).map(|_| code).map_err(Error::Stdout));
    match r {
        Ok(code) => ExitCode::from(code),
        // the reader went away (`flowlab plan M | head -1`): stop quietly, as `cat` does
        Err(Error::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            match &e {
                // these carry their own `error:` after the place
                Error::Manifest(_) => flowlab::note!("{e}"),
                _ => flowlab::note!("error: {e}"),
            }
            if let Some(h) = e.help() {
                flowlab::note!("  help: {h}");
            }
            ExitCode::from(match e {
                Error::Manifest(ManifestErrors(_)) => exit::CONFIG,
                Error::Load(_) | Error::Usage(_) => exit::CONFIG,
                _ => exit::INTERNAL,
            })
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` are standard output too (clap ignores its write errors)
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            let text = e.render().to_string();
            return exit_code(std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()).map(|_| 0).map_err(Error::Stdout));
        }
        Err(e) => e.exit(),
    };
    if let Cmd::Serve { results, experiments, data_dir, bind, save_dir } = &cli.cmd {
        // serve handles Ctrl-C itself (a graceful stop), so no cancel handler here
        return exit_code(cmd_serve(results.clone(), experiments.clone(), data_dir.clone(), *bind, save_dir.clone()));
    }
    if matches!(cli.cmd, Cmd::Worker) {
        // a worker ignores Ctrl-C: its parent decides (and kills it when the run is cancelled)
        return ExitCode::from(flowlab::worker::worker_main() as u8);
    }
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            flowlab::note!("\nsecond interrupt: exiting now");
            std::process::exit(exit::CANCELLED as i32);
        }
        flowlab::note!("\ninterrupt (Ctrl-C or SIGTERM): stopping running cells (again to exit at once)");
    });
    let r = match &cli.cmd {
        Cmd::Run { common, jobs, fail_fast, force, quiet, no_report, pdf, backend, slurm, wait_timeout } => {
            cmd_run(common, *jobs, *fail_fast, *force, *quiet, *no_report, *pdf, *backend, slurm, *wait_timeout)
        }
        Cmd::Plan { common, emit: None, .. } => cmd_plan(common),
        Cmd::Plan { common, emit: Some(Emit::Slurm), slurm } => cmd_emit_slurm(common, slurm),
        Cmd::RunShard { common, shard, jobs } => cmd_run_shard(common, shard, *jobs),
        Cmd::Status { common } => cmd_status(common),
        Cmd::RunCell { common, cells } => cmd_run_cell(common, cells),
        Cmd::Replay { cell, results, data_dir, threads, plugin, keep } => cmd_replay(&results.root(None), cell, data_dir.clone(), *threads, plugin.clone(), keep.clone()),
        Cmd::Worker => return ExitCode::from(flowlab::worker::worker_main() as u8),
        Cmd::Report { common, pdf } => load_plan(common).and_then(|plan| {
            let store = common.store(&plan);
            // a mistyped --results must not leave an experiment directory behind
            if !store.root.is_dir() {
                return Err(no_results(&store, common));
            }
            render_reports(&plan, &store, common, *pdf)?;
            if plan.manifest.reports.is_empty() {
                flowlab::note!("the manifest declares no [[report]]: nothing to render (results.jsonl and results.csv in {} are up to date)", store.root.display());
            }
            Ok(0)
        }),
        Cmd::Plugins { plugin, capability, json, all } => match plugin {
            Some(p) => cmd_plugin_help(p, capability.as_deref(), *json),
            None => cmd_plugins(*json, *all),
        },
        Cmd::Ls { root, results, json } => cmd_ls(&results.root(root.as_ref()), *json),
        Cmd::Show { target, results, json } => cmd_show(&results.root(None), target, *json),
        Cmd::Diff { a, b, results } => cmd_diff(&results.root(None), a, b),
        Cmd::Schema { output, check } => cmd_schema(output, *check),
        Cmd::Completions { shell } => cmd_completions(*shell),
        Cmd::Man { output } => cmd_man(output.as_deref()),
        Cmd::FlowModels(c) => flowlab::oneline::run(c),
        Cmd::Serve { .. } => unreachable!("handled before the Ctrl-C handler"),
    };
    exit_code(r)
}
