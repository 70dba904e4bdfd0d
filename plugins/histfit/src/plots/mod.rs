//! flow-models' `plot` (its `plot.py` and `lib/plot.py`): the CDF, the three PDFs and the
//! three averages of a csv_hist, with a model overlaid and the plot modes of its CLI
//! (docs/histfit.md, "Plot modes").
//!
//! - x grid: `unique(rint(geomspace(min bin_lo, max bin_lo, 128)))`;
//! - data CDF: linear interpolation of cumsum(c)/Σc over bin_lo at the grid; data PDF:
//!   diff(CDF)/diff(grid) (first point: CDF at the first grid point);
//! - model CDF: the mixture CDF; model PDF: flow-models' `mix.pdf` (discrete below 1024);
//! - avg plots: points `<what>_sum/flows_sum` per bin, line `(Σwhat/Σflows)·pdf_what/pdf_flows`
//!   from the data, and from the mixtures when all are given; packet size = octets/packets.
pub use figure::draw;
pub mod figures;
pub mod kde;
pub mod output;

pub use draw::{Band, Cells, Curve, Figure, Mark, Panel};
pub use figures::{Models, Opts, avg_figure, cdf_panel, data_cdf, data_pdf, grid, pdf_panel};
pub use output::Format;

use crate::hist::{Hist, XKind, YCol};
use crate::mixture::Mixture;
use flowlab_abi::{Artifact, PluginError, Request};
use std::path::Path;

/// A PDF plot mode (flow-models' `-P`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PdfMode {
    /// The datapoints (normalized by bin width unless `normalize = false`).
    Points,
    /// A 2-D histogram of the datapoints, weighted by flows (63 × 63 log cells).
    Hist,
    /// A 2-D KDE of the datapoints, weighted by flows (`fft` picks the binned variant).
    Kde,
    /// The mixture's components, dashed.
    Comp,
    /// The components stacked (their sum is the mixture).
    CompStack,
    /// Legend entries with each component's family and parameters (with `comp` or `comp_stack`; without it the entries read `component k`).
    CompLabels,
}

/// A CDF plot mode (flow-models' `-C`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CdfMode {
    /// The mixture's components, dashed.
    Comp,
    /// The components stacked (their sum is the mixture).
    CompStack,
    /// Legend entries with each component's family and parameters (with `comp` or `comp_stack`; without it the entries read `component k`).
    CompLabels,
}

fn yes() -> bool {
    true
}

fn pdf_modes_example() -> Vec<&'static str> {
    vec!["points", "comp_stack"]
}

/// Settings of `plot`.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlotSettings {
    /// x axis (default: detected from the smallest bin_lo).
    #[serde(default)]
    pub x: Option<XKind>,
    /// A mixture directory (`flows.json`, `packets.json`, `octets.json`, any of them) to overlay;
    /// `{data}/…`, absolute, or relative to the manifest's directory.
    #[serde(default)]
    #[schemars(extend("x-flowlab-path" = "manifest"))]
    pub mixture_dir: Option<String>,
    /// Inline mixtures to overlay.
    #[serde(default)]
    pub model: Option<crate::gencap::InlineModel>,
    /// Extra PDF modes (flow-models' `-P`); the data line and the mixture are always drawn.
    #[serde(default)]
    #[schemars(example = pdf_modes_example())]
    pub pdf_modes: Vec<PdfMode>,
    /// Extra CDF modes (flow-models' `-C`).
    #[serde(default)]
    pub cdf_modes: Vec<CdfMode>,
    /// The CDF and the three PDFs in one 2 × 2 figure named `single` (flow-models' `--single`).
    #[serde(default)]
    pub single: bool,
    /// Divide each datapoint by its bin width (false: flow-models' `--no-normalize`).
    #[serde(default = "yes")]
    pub normalize: bool,
    /// The binned KDE of flow-models' `--fft` for the `kde` mode.
    #[serde(default)]
    pub fft: bool,
    /// File format; absent: SVG and PNG both.
    #[serde(default)]
    pub format: Option<Format>,
    /// Also write each figure as pgfplots (`<name>.pgf`, docs/figures.md) for a TeX report,
    /// which then typesets the figure's text itself (`templates/histfit/tutorial.tex`).
    #[serde(default)]
    pub pgf: bool,
}

impl PlotSettings {
    /// The plot modes.
    pub fn opts(&self) -> Opts {
        Opts { pdf: self.pdf_modes.clone(), cdf: self.cdf_modes.clone(), normalize: self.normalize, fft: self.fft }
    }
}

/// The csv_hist a model directory was fitted to: the `in_file` its `.mode` files record
/// (flow-models' `fit` writes it; so does `fit_model`, with the absolute path it read).
pub fn histogram_of_model(dir: &Path) -> Result<std::path::PathBuf, PluginError> {
    for y in YCol::ALL {
        let p = dir.join(format!("{}.mode", y.name()));
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        let v: serde_json::Value = serde_json::from_str(flowlab_abi::limits::strip_bom(&text)).map_err(|e| PluginError::data(format!("{}: {e}", p.display())))?;
        let Some(f) = v.get("in_file").and_then(serde_json::Value::as_str) else {
            return Err(PluginError::data(format!("{}: no `in_file` (the histogram the model was fitted to)", p.display())));
        };
        let f = std::path::PathBuf::from(f);
        if !f.is_file() {
            return Err(PluginError::data(format!("{}: the histogram it names, {}, is not a file; plot that histogram with `mixture_dir` instead", p.display(), f.display())));
        }
        return Ok(f);
    }
    Err(PluginError::data(format!("{}: no flows.mode, packets.mode or octets.mode names the histogram the model was fitted to", dir.display())))
}

/// The mixtures to overlay, from `mixture_dir` (the files present) or `model`.
fn models(s: &PlotSettings) -> Result<Models, PluginError> {
    match (&s.mixture_dir, &s.model) {
        (Some(_), Some(_)) => Err(PluginError::config("model", "give `mixture_dir` or `model`, not both")),
        (Some(d), None) => {
            let mut m = Models::default();
            for (k, y) in YCol::ALL.iter().enumerate() {
                let p = Path::new(d).join(format!("{}.json", y.name()));
                if p.exists() {
                    m.0[k] = Some(crate::gencap::read_mixture_file(&p, "mixture_dir")?);
                }
            }
            if m.0.iter().all(Option::is_none) {
                return Err(PluginError::config("mixture_dir", format!("{d}: holds none of flows.json, packets.json, octets.json")));
            }
            Ok(m)
        }
        (None, Some(im)) => {
            let p = |v: &serde_json::Value, k: &str| Mixture::from_value(v).map_err(|e| PluginError::config(format!("model.{k}"), e));
            Ok(Models([Some(p(&im.flows, "flows")?), Some(p(&im.packets, "packets")?), Some(p(&im.octets, "octets")?)]))
        }
        (None, None) => Ok(Models::default()),
    }
}

/// The figures of one fitted column: `cdf` and `pdf-<column>` (flow-models' default modes).
pub fn fit_figures(req: &Request, h: &Hist, m: &Mixture, y: YCol, x: XKind) -> Result<Vec<Artifact>, PluginError> {
    let mut models = Models::default();
    models.0[y as usize] = Some(m.clone());
    let o = Opts::default();
    let err = |e: String| PluginError::run(format!("plot: {e}"));
    let cdf = Figure { name: "cdf".into(), panels: vec![cdf_panel(h, x, &models, &o)] };
    let pdf = Figure { name: format!("pdf-{}", y.name()), panels: vec![pdf_panel(h, x, y, models.0[y as usize].as_ref(), &o).map_err(err)?] };
    let mut out = output::write(req, &cdf, None)?;
    out.extend(output::write(req, &pdf, None)?);
    out.extend(pgf_artifacts(req, &[cdf, pdf])?);
    Ok(out)
}

/// The figures as pgfplots pictures for the TeX reports (docs/figures.md), `<name>.pgf` each.
fn pgf_artifacts(req: &Request, figs: &[Figure]) -> Result<Vec<Artifact>, PluginError> {
    let mut out = vec![];
    for f in figs {
        let file = figure::write_pgf(Path::new(&req.output_dir), f).map_err(|e| PluginError::run(format!("plot: {e}")))?;
        out.push(Artifact { name: file.clone(), path: file, kind: "pgf".into() });
    }
    Ok(out)
}

/// flow-models' figures: `cdf`, `pdf-flows|packets|octets` (or `single`), `avg-packets|octets|
/// packet_size`.
pub fn figures(h: &Hist, x: XKind, models: &Models, o: &Opts, single: bool) -> Result<Vec<Figure>, String> {
    let cdf = cdf_panel(h, x, models, o);
    let mut pdfs = vec![];
    for (k, y) in YCol::ALL.iter().enumerate() {
        if h.column(&format!("{}_sum", y.name())).is_some() {
            pdfs.push((y.name(), pdf_panel(h, x, *y, models.0[k].as_ref(), o)?));
        }
    }
    let mut out = if single {
        let mut panels = vec![cdf];
        panels.extend(pdfs.into_iter().map(|p| p.1));
        vec![Figure { name: "single".into(), panels }]
    } else {
        let mut v = vec![Figure { name: "cdf".into(), panels: vec![cdf] }];
        v.extend(pdfs.into_iter().map(|(n, p)| Figure { name: format!("pdf-{n}"), panels: vec![p] }));
        v
    };
    for what in ["packets", "octets", "packet_size"] {
        if let Some(f) = avg_figure(h, x, what, models) {
            out.push(f);
        }
    }
    Ok(out)
}

/// `plot`: flow-models' figures of a csv_hist, with a model overlaid when given.
pub fn plot(mut s: PlotSettings, req: &Request) -> Result<flowlab_abi::Response, PluginError> {
    let hist = match &req.dataset {
        // a model directory (`fit_model`'s): its mixtures over the histogram they were fitted to
        Some(d) if d.format == "mixture_dir" => {
            if s.mixture_dir.is_some() || s.model.is_some() {
                return Err(PluginError::config("datasets", format!("the model comes from dataset `{}`: remove `mixture_dir` and `model`", d.id)));
            }
            s.mixture_dir = Some(d.path.clone());
            histogram_of_model(Path::new(&d.path))?
        }
        _ => crate::tasks::dataset_path(req)?,
    };
    let h = Hist::read(&hist)?;
    let x = match s.x {
        Some(x) => x,
        None => h.detect_x()?,
    };
    let models = models(&s)?;
    let figs = figures(&h, x, &models, &s.opts(), s.single).map_err(|e| PluginError::run(format!("plot: {e}")))?;
    let mut arts = vec![];
    for f in &figs {
        arts.extend(output::write(req, f, s.format)?);
    }
    if s.pgf {
        arts.extend(pgf_artifacts(req, &figs)?);
    }
    Ok(flowlab_abi::Response { artifacts: arts, ..Default::default() })
}
