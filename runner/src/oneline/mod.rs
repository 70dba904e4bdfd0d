//! flow-models' one-line commands: `flowlab hist|summary|fit|plot|generate ARGS`.
//!
//! Each command takes flow-models' own flags (docs/histfit.md, "Coming from flow-models"),
//! writes the equivalent manifest, and runs it through the same path as `flowlab run`
//! (manifest → plan → cells → results store, so a one-off is cached, replayable and listed by
//! `flowlab ls`). Then it puts the outputs where flow-models puts them: `summary` prints its
//! tables, `fit` writes `<y>.json` and `<y>.mode` in the current directory, `plot` writes its
//! figures there, `hist` and `generate` write to standard output or `-O`. `--print-manifest`
//! prints the manifest instead of running it, so a one-off becomes a reproducible experiment.
//! Errors of the manifest are told in the command's flags (flags.rs).
mod flags;

use crate::error::Error;
use crate::exec::{self, CellFilter, RunOptions};
use crate::manifest::{Layers, Manifest};
use crate::plan::{CellKind, Plan, PlanOptions};
use crate::store::Store;
use clap::{Args, Subcommand};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Options every one-line command shares (flowlab's own, not flow-models').
#[derive(Args, Clone, Debug, Default)]
pub struct Common {
    /// Print the equivalent manifest (TOML) instead of running; saved in the current
    /// directory, `flowlab run FILE` reproduces this command (paths are relative to it).
    #[arg(long)]
    pub print_manifest: bool,
    /// Results root (default: `results/` in the project root — the nearest directory at or
    /// above the current one that holds `templates/`, else the current directory).
    #[arg(long, value_name = "DIR", env = "FLOWLAB_RESULTS")]
    pub results: Option<PathBuf>,
    /// Rerun even when the stored result is current.
    #[arg(long)]
    pub force: bool,
    /// No progress output on standard error.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// The one-line commands.
#[derive(Subcommand, Clone, Debug)]
pub enum OneLine {
    /// flow-models' `hist`: flow records (nfcapd, pipe, csv_flow, binary) → csv_hist histogram
    /// of flow length, size, duration or rate.
    Hist(HistArgs),
    /// flow-models' `summary`: the two TeX summary tables of a csv_hist, on standard output.
    Summary(SummaryArgs),
    /// flow-models' `fit`: EM mixture fit of a csv_hist; writes `<y>.json` and `<y>.mode` here.
    Fit(FitArgs),
    /// flow-models' `plot`: CDF, PDF and average figures of a csv_hist (and a mixture), here.
    Plot(PlotArgs),
    /// flow-models' `generate`: flow records drawn from a mixture directory or a csv_hist,
    /// byte-identical to flow-models for the same `--seed`.
    Generate(GenerateArgs),
}

/// `flowlab hist`: flow-models' `hist` flags.
#[derive(Args, Clone, Debug)]
pub struct HistArgs {
    /// Input files or directories (directories are read recursively, as flow-models does).
    #[arg(required = true, value_name = "IN_FILES")]
    pub in_files: Vec<String>,
    /// Format of input files.
    #[arg(short = 'i', long = "in-format", default_value = "nfcapd", value_parser = ["nfcapd", "pipe", "csv_flow", "binary"])]
    pub in_format: String,
    /// Format of output (`append` exists only in flow-models' Python API and is refused).
    #[arg(short = 'o', long = "out-format", default_value = "csv_hist", value_parser = ["csv_hist", "append", "none"])]
    pub out_format: String,
    /// File for output (`-` = standard output).
    #[arg(short = 'O', long = "output", default_value = "-")]
    pub output: String,
    /// Number of flows to skip at the beginning of input.
    #[arg(long, default_value_t = 0, value_parser = toml_int())]
    pub skip_in: u64,
    /// Limit for number of flows to read from input.
    #[arg(long, value_parser = toml_int())]
    pub count_in: Option<u64>,
    /// Number of flows to skip after filtering.
    #[arg(long, default_value_t = 0, value_parser = toml_int())]
    pub skip_out: u64,
    /// Limit for number of flows to output after filtering.
    #[arg(long, value_parser = toml_int())]
    pub count_out: Option<u64>,
    /// Expression of filter (flow-models' syntax: comparisons on fields joined by and/or).
    #[arg(long)]
    pub filter_expr: Option<String>,
    /// Bin width exponent of 2.
    #[arg(short = 'b', long = "bin-exp", default_value_t = 0)]
    pub bin_exp: u32,
    /// x axis value.
    #[arg(short = 'x', long = "x-value", default_value = "length", value_parser = ["length", "size", "duration", "rate"])]
    pub x: String,
    /// Additional column to sum (repeatable).
    #[arg(short = 'c', long = "additional-columns", value_name = "COLUMN")]
    pub columns: Vec<String>,
    /// flowlab's own options.
    #[command(flatten, next_help_heading = "flowlab options")]
    pub common: Common,
}

/// `flowlab summary`: flow-models' `summary` flags.
#[derive(Args, Clone, Debug)]
pub struct SummaryArgs {
    /// x axis value (default: detected from the histogram, as flow-models does).
    #[arg(short = 'x', value_parser = ["length", "size", "duration", "rate"])]
    pub x: Option<String>,
    /// csv_hist file to summarize.
    pub file: String,
    /// flowlab's own options.
    #[command(flatten, next_help_heading = "flowlab options")]
    pub common: Common,
}

/// `flowlab fit`: flow-models' `fit` flags.
#[derive(Args, Clone, Debug)]
pub struct FitArgs {
    /// Input histogram file (csv_hist).
    pub file: String,
    /// y axis value.
    #[arg(short = 'y', default_value = "flows", value_parser = ["flows", "packets", "octets"])]
    pub y: String,
    /// Number of iterations.
    #[arg(short = 'i', default_value_t = 100, value_parser = toml_int())]
    pub iterations: u64,
    /// Number of uniform distributions.
    #[arg(short = 'U')]
    pub uniform: Option<u32>,
    /// Number of Pareto distributions.
    #[arg(short = 'P')]
    pub pareto: Option<u32>,
    /// Number of lognorm distributions.
    #[arg(short = 'L')]
    pub lognorm: Option<u32>,
    /// Maximum Pareto weight.
    #[arg(long)]
    pub mpw: Option<f64>,
    /// Initial mixture file (flow-models' mixture JSON), used when no -U/-P/-L is given.
    #[arg(long)]
    pub initial: Option<String>,
    /// flow-models' GUI; in flowlab the interactive fit is a page of `flowlab serve`.
    #[arg(long)]
    pub interactive: bool,
    /// flowlab's own options.
    #[command(flatten, next_help_heading = "flowlab options")]
    pub common: Common,
}

/// `flowlab plot`: flow-models' `plot` flags.
#[derive(Args, Clone, Debug)]
pub struct PlotArgs {
    /// Plot file format.
    #[arg(long, default_value = "png", value_parser = ["png", "pdf", "svg"])]
    pub format: String,
    /// Plot PDF and CDF in a single file.
    #[arg(long)]
    pub single: bool,
    /// Do not normalize PDF datapoints.
    #[arg(long)]
    pub no_normalize: bool,
    /// Use FFT for calculating KDE.
    #[arg(long)]
    pub fft: bool,
    /// Additional PDF plot modes (repeatable).
    #[arg(short = 'P', value_name = "MODE", value_parser = ["points", "hist", "kde", "comp", "comp_stack", "comp_labels"])]
    pub pdf_modes: Vec<String>,
    /// Additional CDF plot modes (repeatable).
    #[arg(short = 'C', value_name = "MODE", value_parser = ["comp", "comp_stack", "comp_labels"])]
    pub cdf_modes: Vec<String>,
    /// x axis value.
    #[arg(short = 'x', default_value = "length", value_parser = ["length", "size", "duration", "rate"])]
    pub x: String,
    /// csv_hist file to plot.
    pub histogram: String,
    /// Mixture directory to plot.
    pub mixture: Option<String>,
    /// flowlab's own options.
    #[command(flatten, next_help_heading = "flowlab options")]
    pub common: Common,
}

/// `flowlab generate`: flow-models' `generate` flags.
#[derive(Args, Clone, Debug)]
pub struct GenerateArgs {
    /// Number of generated flows.
    #[arg(short = 's', default_value_t = 1, value_parser = toml_int())]
    pub size: u64,
    /// Seed (flow-models draws from fresh entropy without one; flowlab, being reproducible,
    /// uses seed 0 then and says so).
    #[arg(long, value_parser = toml_int())]
    pub seed: Option<u64>,
    /// x axis value.
    #[arg(short = 'x', default_value = "length", value_parser = ["length", "size"])]
    pub x: String,
    /// Format of output.
    #[arg(short = 'o', default_value = "csv_flow", value_parser = ["csv_flow", "binary", "none"])]
    pub out_format: String,
    /// File or directory for output (default: standard output).
    #[arg(short = 'O')]
    pub output: Option<String>,
    /// csv_hist file or mixture directory.
    pub file: String,
    /// flowlab's own options.
    #[command(flatten, next_help_heading = "flowlab options")]
    pub common: Common,
}

/// A count flag: a manifest integer is TOML's (at most 2⁶³ − 1), so a larger value is
/// refused at the flag, not as an overflow in the manifest the command writes.
fn toml_int() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(..=i64::MAX as u64)
}

impl OneLine {
    /// The command's name (`fit`, …).
    pub fn name(&self) -> &'static str {
        match self {
            OneLine::Hist(_) => "hist",
            OneLine::Summary(_) => "summary",
            OneLine::Fit(_) => "fit",
            OneLine::Plot(_) => "plot",
            OneLine::Generate(_) => "generate",
        }
    }

    fn common(&self) -> &Common {
        match self {
            OneLine::Hist(a) => &a.common,
            OneLine::Summary(a) => &a.common,
            OneLine::Fit(a) => &a.common,
            OneLine::Plot(a) => &a.common,
            OneLine::Generate(a) => &a.common,
        }
    }

    /// The input the experiment is named after.
    fn input(&self) -> &str {
        match self {
            OneLine::Hist(a) => a.in_files.first().map(String::as_str).unwrap_or("flows"),
            OneLine::Summary(a) => &a.file,
            OneLine::Fit(a) => &a.file,
            OneLine::Plot(a) => &a.histogram,
            OneLine::Generate(a) => &a.file,
        }
    }

    /// The experiment name: `<command>-<input's directory>-<input stem>` (`fit-all-length` for
    /// `histograms/all/length.csv`; `fit-length` for a file in the current directory), in
    /// manifest-name characters. The directory is part of it because flow-models' trees hold
    /// files of the same name side by side (`all/`, `tcp/`, `udp/`), whose runs would otherwise
    /// share one experiment directory (and its run context, which `replay` reads).
    pub fn experiment_name(&self) -> String {
        let p = Path::new(self.input().trim_end_matches('/'));
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = p.parent().and_then(Path::file_name).map(|s| s.to_string_lossy().into_owned()).filter(|d| d != "." && d != "..");
        let mut s = match dir {
            Some(d) => format!("{}-{d}-{stem}", self.name()),
            None => format!("{}-{stem}", self.name()),
        };
        s = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
        // ASCII now: cut to the longest experiment name a manifest may give
        s.truncate(128);
        s
    }

    /// Refusals that flow-models' own CLI would fail on, or that have a flowlab equivalent.
    fn check(&self) -> Result<(), Error> {
        match self {
            OneLine::Hist(a) if a.out_format == "append" => {
                Err(Error::Usage("hist -o append: flow-models' `append` collects rows into a Python list and works only from its Python API; use `-o csv_hist` (the default) or `-o none`".into()))
            }
            OneLine::Fit(a) if a.interactive => Err(Error::Usage("fit --interactive: flowlab's interactive fit is a page of `flowlab serve` (the fit runs through the same plugin)".into())),
            OneLine::Fit(a) if a.uniform.unwrap_or(0) + a.pareto.unwrap_or(0) + a.lognorm.unwrap_or(0) == 0 && a.initial.is_none() => {
                Err(Error::Usage("fit: give the component counts (-U N, -P N, -L N) or an initial mixture (--initial FILE)".into()))
            }
            OneLine::Generate(a) if a.out_format == "binary" && a.output.is_none() => Err(Error::Usage("generate -o binary writes a directory: give it with -O DIR".into())),
            _ => Ok(()),
        }
    }

    /// The equivalent manifest, with paths as given (relative to the current directory).
    pub fn manifest(&self) -> Result<String, Error> {
        self.check()?;
        let mut t = String::new();
        let name = self.experiment_name();
        let _ = writeln!(t, "# flowlab {}: the manifest of this one-line command. Paths are relative to this", self.name());
        let _ = writeln!(t, "# file's directory: save it where you ran the command, then `flowlab run FILE`.");
        // the root seed only has to be fixed: generate's `--seed` is the plugin's own numpy seed
        let _ = writeln!(t, "[experiment]\nname = {}\nseed = 0", q(&name));
        match self {
            OneLine::Hist(a) => {
                let _ = writeln!(t, "\n[[dataset]]\nid = \"hist\"\nplugin = \"histfit\"\ncapability = \"hist\"\nformat = \"csv_hist\"\n[dataset.settings]");
                let _ = writeln!(t, "inputs = {}", list(&a.in_files));
                let _ = writeln!(t, "in_format = {}\nx = {}\nbin_exp = {}", q(&a.in_format), q(&a.x), a.bin_exp);
                if a.skip_in > 0 {
                    let _ = writeln!(t, "skip_in = {}", a.skip_in);
                }
                if let Some(n) = a.count_in {
                    let _ = writeln!(t, "count_in = {n}");
                }
                if a.skip_out > 0 {
                    let _ = writeln!(t, "skip_out = {}", a.skip_out);
                }
                if let Some(n) = a.count_out {
                    let _ = writeln!(t, "count_out = {n}");
                }
                if let Some(f) = &a.filter_expr {
                    let _ = writeln!(t, "filter = {}", q(f));
                }
                if !a.columns.is_empty() {
                    let _ = writeln!(t, "columns = {}", list(&a.columns));
                }
            }
            OneLine::Summary(a) => {
                dataset(&mut t, &a.file);
                let _ = writeln!(t, "\n[[summary]]\nplugin = \"histfit\"\ndatasets = [\"input\"]\nstyle = \"flowmodels\"");
                if let Some(x) = &a.x {
                    let _ = writeln!(t, "x = {}", q(x));
                }
            }
            OneLine::Fit(a) => {
                dataset(&mut t, &a.file);
                let families = [("uniform", a.uniform), ("genpareto", a.pareto), ("lognorm", a.lognorm)].iter().filter_map(|(f, n)| n.map(|n| (f.to_string(), n))).collect();
                let initial = a.initial.as_ref().map(|i| Value::String(i.clone()));
                let s = FitSection { column: &a.y, iterations: a.iterations, families, initial, mpw: a.mpw, fitter: None };
                s.write(&mut t)?;
            }
            OneLine::Plot(a) => {
                dataset(&mut t, &a.histogram);
                let _ = writeln!(t, "\n[[plot]]\nplugin = \"histfit\"\ndatasets = [\"input\"]\nx = {}\nformat = {}", q(&a.x), q(&a.format));
                if let Some(m) = &a.mixture {
                    let _ = writeln!(t, "mixture_dir = {}", q(m));
                }
                if !a.pdf_modes.is_empty() {
                    let _ = writeln!(t, "pdf_modes = {}", list(&a.pdf_modes));
                }
                if !a.cdf_modes.is_empty() {
                    let _ = writeln!(t, "cdf_modes = {}", list(&a.cdf_modes));
                }
                if a.single {
                    let _ = writeln!(t, "single = true");
                }
                if a.no_normalize {
                    let _ = writeln!(t, "normalize = false");
                }
                if a.fft {
                    let _ = writeln!(t, "fft = true");
                }
            }
            OneLine::Generate(a) => {
                let source = if Path::new(&a.file).is_dir() { "mixture_dir" } else { "histogram" };
                let _ = writeln!(t, "\n[[generate]]\nplugin = \"histfit\"\nflows = {}\nx = {}\n{source} = {}", a.size, q(&a.x), q(&a.file));
                let _ = writeln!(t, "rng = \"numpy\"\nseed = {}\nout_format = {}", a.seed.unwrap_or(0), q(&a.out_format));
            }
        }
        Ok(t)
    }
}

/// One histfit `fit` task on the dataset `input`, as a manifest section: what `flowlab fit`
/// and serve's interactive fit (runner/src/ifit) both write, so the same choices give the
/// same cell and the same bytes.
#[derive(Debug, Clone)]
pub struct FitSection<'a> {
    /// `column` (flows, packets, octets).
    pub column: &'a str,
    /// `iterations`.
    pub iterations: u64,
    /// Component counts by family name in the order given; zero counts are left out.
    pub families: Vec<(String, u32)>,
    /// `initial` (a path string or an inline mixture), used when no count is > 0.
    pub initial: Option<Value>,
    /// `mpw`.
    pub mpw: Option<f64>,
    /// `fitter`, when not the default (em-compat).
    pub fitter: Option<&'a str>,
}

impl FitSection<'_> {
    /// Appends the `[[fit]]` section to `t`.
    pub fn write(&self, t: &mut String) -> Result<(), Error> {
        let _ = writeln!(t, "\n[[fit]]\nplugin = \"histfit\"\ndatasets = [\"input\"]\ncolumn = {}\niterations = {}", q(self.column), self.iterations);
        if let Some(f) = self.fitter.filter(|f| *f != "em-compat") {
            let _ = writeln!(t, "fitter = {}", q(f));
        }
        let fams: Vec<String> = self.families.iter().filter(|(_, n)| *n > 0).map(|(f, n)| format!("{f} = {n}")).collect();
        if !fams.is_empty() {
            let _ = writeln!(t, "families = {{ {} }}", fams.join(", "));
        } else if let Some(i) = &self.initial {
            let v = toml::Value::try_from(i).map_err(|e| Error::Usage(format!("initial: not expressible in TOML: {e}")))?;
            let _ = writeln!(t, "initial = {v}");
        }
        if let Some(m) = self.mpw {
            let _ = writeln!(t, "mpw = {}", toml::Value::Float(m));
        }
        let _ = writeln!(t, "plots = false");
        Ok(())
    }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", "))
}

/// Appends the `[[dataset]]` section `input` (a csv_hist at `path`) to `t`.
pub fn dataset(t: &mut String, path: &str) {
    let _ = writeln!(t, "\n[[dataset]]\nid = \"input\"\npath = {}\nformat = \"csv_hist\"", q(path));
}

/// Runs a one-line command: prints the manifest, or runs it and delivers its outputs.
/// Returns the exit code (0 ok, 1 a failed cell).
pub fn run(cmd: &OneLine) -> Result<u8, Error> {
    let c = cmd.common();
    let text = cmd.manifest()?;
    if c.print_manifest {
        return stdout(text.as_bytes()).map(|_| 0);
    }
    if let OneLine::Generate(a) = cmd
        && a.seed.is_none()
    {
        crate::note!("note: no --seed given; flowlab is reproducible, so it uses --seed 0 (flow-models would draw a fresh one)");
    }
    let cwd = std::env::current_dir().map_err(|e| Error::Other(format!("cannot read the current directory: {e}")))?;
    let mpath = cwd.join(format!("{}.toml", cmd.experiment_name()));
    let layers = Layers { sets: Vec::new(), sweeps: Vec::new(), env: false, env_vars: None };
    let retell = |e: Error| flags::retell(cmd.name(), &mpath, e);
    let m = Manifest::from_text(&mpath, text, &layers).map_err(|e| retell(e.into()))?;
    let plan = Plan::build(m, &PlanOptions { data_dir: None }).map_err(|e| retell(e.into()))?;
    let root = c.results.clone().unwrap_or_else(|| plan.manifest.project_root().join("results"));
    let store = Store::new(&root, &plan.manifest.experiment.name);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let opts = RunOptions { jobs: cores, cell_threads: cores, fail_fast: true, force: c.force, progress: !c.quiet, filter: CellFilter::All };
    let s = exec::execute(&plan, &store, &opts)?;
    exec::collect(&plan, &store)?;
    for f in &s.failures {
        crate::note!("failed: {f}");
    }
    if s.failed > 0 || s.skipped > 0 || s.cancelled > 0 {
        crate::note!("results: {}", store.root.display());
        return Ok(if s.cancelled > 0 { 130 } else { 1 });
    }
    deliver(cmd, &plan, &store, &cwd)?;
    if !c.quiet {
        crate::note!("results: {}", store.root.display());
    }
    Ok(0)
}

/// The stored artifacts of the plan's one output cell (the task, or the dataset for `hist`):
/// (logical name, file).
fn artifacts(plan: &Plan, store: &Store, kind: CellKind) -> Result<Vec<(String, PathBuf)>, Error> {
    let cell = plan.cells.iter().find(|c| c.kind == kind).ok_or_else(|| Error::Other("the one-line manifest planned no cell".into()))?;
    let rec = store.read(&cell.id)?.ok_or_else(|| Error::Other(format!("cell {} has no stored record", cell.id)))?;
    let dir = store.artifact_dir(&cell.id);
    let list = rec.response.get("artifacts").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok(list.iter().filter_map(|a| Some((a.get("name")?.as_str()?.to_string(), dir.join(a.get("path")?.as_str()?)))).collect())
}

fn find<'a>(arts: &'a [(String, PathBuf)], name: &str) -> Result<&'a Path, Error> {
    arts.iter().find(|(n, p)| n == name || p.file_name().is_some_and(|f| f == name)).map(|(_, p)| p.as_path()).ok_or_else(|| Error::Other(format!("the cell wrote no `{name}` artifact")))
}

/// Puts the outputs where flow-models puts them.
fn deliver(cmd: &OneLine, plan: &Plan, store: &Store, cwd: &Path) -> Result<(), Error> {
    match cmd {
        OneLine::Hist(a) => {
            if a.out_format == "none" {
                return Ok(());
            }
            let arts = artifacts(plan, store, CellKind::Dataset)?;
            emit(find(&arts, "dataset")?, &a.output, cwd)
        }
        OneLine::Summary(_) => {
            let arts = artifacts(plan, store, CellKind::Task)?;
            emit(find(&arts, "summary.tex")?, "-", cwd)
        }
        OneLine::Fit(a) => {
            let arts = artifacts(plan, store, CellKind::Task)?;
            let json = find(&arts, &format!("{}.json", a.y))?;
            copy(json, &cwd.join(format!("{}.json", a.y)))?;
            let mode = read(find(&arts, &format!("{}.mode", a.y))?)?;
            let mode = String::from_utf8_lossy(&mode);
            write(&cwd.join(format!("{}.mode", a.y)), mode_as_typed(&mode, &a.file, a.initial.as_deref()).as_bytes())?;
            crate::note!("wrote {}.json and {}.mode", a.y, a.y);
            Ok(())
        }
        OneLine::Plot(a) => {
            let arts = artifacts(plan, store, CellKind::Task)?;
            let ext = format!(".{}", a.format);
            let mut n = 0;
            for (_, p) in &arts {
                let Some(f) = p.file_name().map(|f| f.to_string_lossy().into_owned()) else { continue };
                if f.ends_with(&ext) {
                    copy(p, &cwd.join(&f))?;
                    n += 1;
                }
            }
            crate::note!("wrote {n} {} figures", a.format);
            Ok(())
        }
        OneLine::Generate(a) => {
            if a.out_format == "none" {
                return Ok(());
            }
            let arts = artifacts(plan, store, CellKind::Task)?;
            if a.out_format == "binary" {
                // one array file per field (flow-models' `binary` directory)
                let out = cwd.join(a.output.as_deref().unwrap_or("."));
                std::fs::create_dir_all(&out).map_err(|e| Error::Other(format!("cannot create {}: {e}", out.display())))?;
                for (_, p) in &arts {
                    if let Some(f) = p.file_name() {
                        copy(p, &out.join(f))?;
                    }
                }
                Ok(())
            } else {
                emit(find(&arts, "flows.csv")?, a.output.as_deref().unwrap_or("-"), cwd)
            }
        }
    }
}

/// flow-models' `.mode` records `in_file` (and an `--initial` path) as the user typed it;
/// the cell records the paths it read. Replaces those string values, leaving every other byte.
pub fn mode_as_typed(mode: &str, typed: &str, initial: Option<&str>) -> String {
    let mode = replace_string_after(mode, "{\"in_file\": ", typed, true);
    match initial {
        Some(i) => replace_string_after(&mode, ", \"initial\": ", i, false),
        None => mode,
    }
}

/// Replaces the JSON string value that follows `key` (at the start when `at_start`, else its
/// first occurrence; a key that other values could contain appears there only escaped) by
/// `typed`; returns `text` unchanged where the key is missing or not followed by a string.
fn replace_string_after(text: &str, key: &str, typed: &str, at_start: bool) -> String {
    let at = if at_start { text.starts_with(key).then_some(0) } else { text.find(key) };
    let Some(at) = at else { return text.to_string() };
    let rest = &text[at + key.len()..];
    if !rest.starts_with('"') {
        return text.to_string();
    }
    // find the closing quote (skipping escapes)
    let b = rest.as_bytes();
    let mut i = 1;
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    if i >= b.len() {
        return text.to_string();
    }
    format!("{}{key}{}{}", &text[..at], flowlab_abi::json::py_str(typed), &rest[i + 1..])
}

fn read(p: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(p).map_err(|e| Error::Other(format!("cannot read {}: {e}", p.display())))
}

fn write(p: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(p, bytes).map_err(|e| Error::Other(format!("cannot write {}: {e}", p.display())))
}

fn copy(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| Error::Other(format!("cannot write {}: {e}", to.display())))
}

/// Writes a file's bytes to `-` (standard output) or a path relative to `cwd`, streaming.
fn emit(from: &Path, output: &str, cwd: &Path) -> Result<(), Error> {
    let mut f = std::fs::File::open(from).map_err(|e| Error::Other(format!("cannot read {}: {e}", from.display())))?;
    if output == "-" {
        let mut so = std::io::stdout().lock();
        std::io::copy(&mut f, &mut so).map_err(Error::Stdout)?;
        so.flush().map_err(Error::Stdout)
    } else {
        copy(from, &cwd.join(output))
    }
}

fn stdout(b: &[u8]) -> Result<(), Error> {
    let mut so = std::io::stdout().lock();
    so.write_all(b).and_then(|_| so.flush()).map_err(Error::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_named_inputs_of_different_directories_are_different_experiments() {
        #[derive(clap::Parser)]
        struct T {
            #[command(subcommand)]
            c: OneLine,
        }
        let name = |args: &[&str]| <T as clap::Parser>::try_parse_from(std::iter::once("flowlab").chain(args.iter().copied())).unwrap().c.experiment_name();
        assert_eq!(name(&["fit", "histograms/all/length.csv"]), "fit-all-length");
        assert_eq!(name(&["fit", "histograms/tcp/length.csv"]), "fit-tcp-length");
        assert_eq!(name(&["fit", "length.csv"]), "fit-length");
        assert_eq!(name(&["fit", "./length.csv"]), "fit-length");
        assert_eq!(name(&["summary", "/data/agh 2015/all/size.csv"]), "summary-all-size");
        assert_eq!(name(&["generate", "-x", "length", "my_mixture/"]), "generate-my_mixture");
    }

    #[test]
    fn mode_in_file_is_replaced_and_nothing_else() {
        let m = "{\"in_file\": \"/abs/a, \\\"initial\\\": \\\"x.csv\", \"y_value\": \"flows\", \"max_iter\": 9, \"initial\": \"/abs/mix/\", \"max_pareto_w\": null}\n";
        assert_eq!(mode_as_typed(m, "a.csv", Some("mix/")), "{\"in_file\": \"a.csv\", \"y_value\": \"flows\", \"max_iter\": 9, \"initial\": \"mix/\", \"max_pareto_w\": null}\n");
        let m = "{\"in_file\": \"/abs/x\\\"y.csv\", \"y_value\": \"flows\", \"max_iter\": 400, \"initial\": {\"U\": 6, \"L\": 4}, \"max_pareto_w\": null}\n";
        assert_eq!(
            mode_as_typed(m, "h/all/length.csv", None),
            "{\"in_file\": \"h/all/length.csv\", \"y_value\": \"flows\", \"max_iter\": 400, \"initial\": {\"U\": 6, \"L\": 4}, \"max_pareto_w\": null}\n"
        );
    }
}
