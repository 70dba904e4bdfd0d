//! Figures of flow-models' `plot` (docs/histfit.md, "Figures") with plotters, as SVG and PNG.
//!
//! - x grid: `unique(rint(geomspace(min bin_lo, max bin_lo, 128)))`;
//! - data CDF: linear interpolation of cumsum(c)/Σc over bin_lo at the grid; data PDF:
//!   diff(CDF)/diff(grid) (first point: CDF at the first grid point);
//! - model CDF: the mixture CDF; model PDF: flow-models' `mix.pdf` (discrete below 1024);
//!   components dashed;
//! - avg plots: points `<what>_sum/flows_sum` per bin, line `(Σwhat/Σflows)·pdf_what/pdf_flows`
//!   from the data, and from the mixtures when all are given; packet size = octets/packets.
use crate::hist::{Hist, XKind, YCol};
use crate::initial::geomspace;
use crate::mixture::Mixture;
use crate::summary::{cumulative_share, interp_linear};
use flowlab_abi::{Artifact, PluginError, Request};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One curve: label, colour, dashed, points.
pub struct Curve {
    /// Legend text (empty: no legend entry).
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Dashed (components).
    pub dashed: bool,
    /// Scatter points instead of a line.
    pub points: bool,
    /// (x, y) pairs (non-finite and, on log axes, non-positive y are dropped).
    pub xy: Vec<(f64, f64)>,
}

/// A figure: title, axis labels, log y or not, fixed y range, curves.
pub struct Figure {
    /// File stem (`cdf`, `pdf-flows`, …).
    pub name: String,
    /// X axis label.
    pub xlabel: String,
    /// Y axis label.
    pub ylabel: String,
    /// Log y axis.
    pub log_y: bool,
    /// Fixed y range (else from the data).
    pub y_range: Option<(f64, f64)>,
    /// Curves.
    pub curves: Vec<Curve>,
}

/// flow-models' line grid: `unique(rint(geomspace(min, max, 128)))`.
pub fn grid(h: &Hist) -> Vec<u64> {
    let (a, b) = (h.bin_lo[0] as f64, h.bin_lo[h.len() - 1] as f64);
    let mut g: Vec<u64> = geomspace(a, b, 128).into_iter().map(|v| v.round_ties_even() as u64).collect();
    g.dedup();
    g
}

/// Data CDF at the grid.
pub fn data_cdf(h: &Hist, col: &str, g: &[u64]) -> Vec<f64> {
    let share = cumulative_share(h.column(col).unwrap_or(&[]));
    g.iter().map(|&p| interp_linear(&h.bin_lo, &share, p)).collect()
}

/// Data PDF from the interpolated CDF (flow-models' `pdf_from_cdf`).
pub fn data_pdf(h: &Hist, col: &str, g: &[u64]) -> Vec<f64> {
    let c = data_cdf(h, col, g);
    let mut out = vec![c[0]];
    for i in 1..g.len() {
        out.push((c[i] - c[i - 1]) / (g[i] - g[i - 1]) as f64);
    }
    out
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, f: &Figure) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: &dyn std::fmt::Display| x.to_string();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let log_y = f.log_y;
    let keep = |(x, y): &(f64, f64)| x.is_finite() && *x > 0.0 && y.is_finite() && (!log_y || *y > 0.0);
    // axis ranges from the data and mixture curves (components may run down to 1e-300)
    let all: Vec<(f64, f64)> = f.curves.iter().filter(|c| !c.dashed).flat_map(|c| c.xy.iter().copied().filter(keep)).collect();
    if all.is_empty() {
        return Err(format!("{}: nothing to plot", f.name));
    }
    let xmin = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let xmax = all.iter().map(|p| p.0).fold(0.0, f64::max).max(xmin * 2.0);
    let (ymin, ymax) = f.y_range.unwrap_or_else(|| {
        let lo = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        if log_y { (lo * 0.5, hi * 2.0) } else { (lo.min(0.0), hi * 1.05) }
    });
    let keep = |p: &(f64, f64)| keep(p) && p.1 >= ymin && p.1 <= ymax;
    let mut cb = ChartBuilder::on(&root);
    cb.margin(12).x_label_area_size(40).y_label_area_size(70);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(f.xlabel.as_str())
                .y_desc(f.ylabel.as_str())
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| if log_y { format!("{v:.0e}") } else { format!("{v:.2}") })
                .draw()
                .map_err(|x| e(&x))?;
            for c in &f.curves {
                let pts: Vec<(f64, f64)> = c.xy.iter().copied().filter(keep).collect();
                let style = ShapeStyle { color: c.color.to_rgba(), filled: true, stroke_width: if c.dashed { 1 } else { 2 } };
                let anno = if c.points {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 1, style))).map_err(|x| e(&x))?
                } else if c.dashed {
                    chart.draw_series(DashedLineSeries::new(pts, 6, 4, style)).map_err(|x| e(&x))?
                } else {
                    chart.draw_series(LineSeries::new(pts, style)).map_err(|x| e(&x))?
                };
                if !c.label.is_empty() {
                    let col = c.color;
                    anno.label(c.label.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
                }
            }
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::UpperLeft).draw().map_err(|x| e(&x))?;
        }};
    }
    if log_y {
        body!(cb.build_cartesian_2d((xmin..xmax).log_scale(), (ymin..ymax).log_scale()).map_err(|x| e(&x))?);
    } else {
        body!(cb.build_cartesian_2d((xmin..xmax).log_scale(), ymin..ymax).map_err(|x| e(&x))?);
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// Writes `<name>.svg` and `<name>.png` under the cell's output directory.
pub fn write(req: &Request, f: &Figure) -> Result<Vec<Artifact>, PluginError> {
    let dir = std::path::Path::new(&req.output_dir);
    std::fs::create_dir_all(dir).map_err(|e| PluginError::run(format!("{}: {e}", dir.display())))?;
    let (w, h) = (1008, 612); // flow-models' 6.72 × 4.08 in at 150 dpi
    let svg = dir.join(format!("{}.svg", f.name));
    draw(SVGBackend::new(&svg, (w, h)).into_drawing_area(), f).map_err(|e| PluginError::run(format!("plot {}: {e}", f.name)))?;
    let png = dir.join(format!("{}.png", f.name));
    draw(BitMapBackend::new(&png, (w, h)).into_drawing_area(), f).map_err(|e| PluginError::run(format!("plot {}: {e}", f.name)))?;
    Ok(vec![
        Artifact { name: format!("{}.svg", f.name), path: format!("{}.svg", f.name), kind: "svg".into() },
        Artifact { name: format!("{}.png", f.name), path: format!("{}.png", f.name), kind: "png".into() },
    ])
}

const RED: RGBColor = RGBColor(200, 30, 30);
const GREEN: RGBColor = RGBColor(30, 140, 30);
const BLUE: RGBColor = RGBColor(30, 60, 200);
const GREY: RGBColor = RGBColor(40, 40, 40);
const MAGENTA: RGBColor = RGBColor(170, 30, 170);

fn color(y: YCol) -> RGBColor {
    match y {
        YCol::Flows => RED,
        YCol::Packets => GREEN,
        YCol::Octets => BLUE,
    }
}

fn xlabel(x: XKind) -> String {
    format!("flow {} ({})", x.name(), x.unit())
}

/// The CDF figure: data for every column, models for the columns given.
pub fn cdf_figure(h: &Hist, x: XKind, models: &[(YCol, &Mixture)]) -> Figure {
    let g = grid(h);
    let mut curves = vec![];
    for y in YCol::ALL {
        let col = format!("{}_sum", y.name());
        if h.column(&col).is_some() {
            let c = data_cdf(h, &col, &g);
            curves.push(Curve { label: format!("{} data", y.name()), color: color(y), dashed: false, points: false, xy: g.iter().zip(c).map(|(&a, b)| (a as f64, b)).collect() });
        }
    }
    for (y, m) in models {
        curves.push(Curve { label: format!("{} mixture", y.name()), color: GREY, dashed: false, points: false, xy: g.iter().map(|&a| (a as f64, m.cdf(a as f64))).collect() });
    }
    Figure { name: "cdf".into(), xlabel: xlabel(x), ylabel: "CDF".into(), log_y: false, y_range: Some((0.0, 1.0)), curves }
}

/// The PDF figure of one column: data line, normalised points, mixture and components.
pub fn pdf_figure(h: &Hist, x: XKind, y: YCol, model: Option<&Mixture>) -> Figure {
    let g = grid(h);
    let col = format!("{}_sum", y.name());
    let mut curves = vec![Curve { label: "data (line from the CDF)".into(), color: color(y), dashed: false, points: false, xy: g.iter().zip(data_pdf(h, &col, &g)).map(|(&a, b)| (a as f64, b)).collect() }];
    // normalised points: each bin's share divided by the distance to the next non-empty bin
    if let Some(c) = h.column(&col) {
        let tot: f64 = c.iter().map(|&v| v as f64).sum();
        let n = h.len();
        let pts = (0..n)
            .map(|i| {
                let next = if i + 1 < n { h.bin_lo[i + 1] } else { h.bin_hi[i] };
                (h.bin_lo[i] as f64, c[i] as f64 / tot / (next - h.bin_lo[i]) as f64)
            })
            .collect();
        curves.push(Curve { label: "normalized datapoints".into(), color: color(y), dashed: false, points: true, xy: pts });
    }
    if let Some(m) = model {
        let xmin = x.min_value();
        curves.push(Curve { label: "mixture".into(), color: GREY, dashed: false, points: false, xy: g.iter().map(|&a| (a as f64, m.pdf_discrete(a, xmin))).collect() });
        let w = m.norm_weights();
        for (k, c) in m.comps.iter().enumerate() {
            let xy = g.iter().map(|&a| {
                let af = a as f64;
                let v = if a < 1024 { c.dist.cdf(af) - c.dist.cdf(if a == xmin { 0.0 } else { af - 1.0 }) } else { c.dist.pdf(af) };
                (af, w[k] * v)
            });
            curves.push(Curve { label: String::new(), color: GREY, dashed: true, points: false, xy: xy.collect() });
        }
    }
    Figure { name: format!("pdf-{}", y.name()), xlabel: xlabel(x), ylabel: "PDF".into(), log_y: true, y_range: None, curves }
}

/// An average figure (`avg-packets`, `avg-octets`, `avg-packet_size`).
pub fn avg_figure(h: &Hist, x: XKind, what: &str, models: Option<(&Mixture, &Mixture, &Mixture)>) -> Option<Figure> {
    let g = grid(h);
    let f = h.column("flows_sum")?;
    let p = h.column("packets_sum")?;
    let o = h.column("octets_sum")?;
    let sum = |c: &[u64]| c.iter().map(|&v| v as f64).sum::<f64>();
    let (num, den): (&[u64], &[u64]) = match what {
        "packets" => (p, f),
        "octets" => (o, f),
        _ => (o, p),
    };
    let (ncol, dcol) = match what {
        "packets" => ("packets_sum", "flows_sum"),
        "octets" => ("octets_sum", "flows_sum"),
        _ => ("octets_sum", "packets_sum"),
    };
    let pts: Vec<(f64, f64)> = (0..h.len()).map(|i| (h.bin_lo[i] as f64, num[i] as f64 / den[i] as f64)).collect();
    let scale = sum(num) / sum(den);
    let (pn, pd) = (data_pdf(h, ncol, &g), data_pdf(h, dcol, &g));
    let line: Vec<(f64, f64)> = g.iter().enumerate().map(|(i, &a)| (a as f64, scale * pn[i] / pd[i])).collect();
    let col = if what == "packet_size" { MAGENTA } else if what == "packets" { GREEN } else { BLUE };
    let mut curves = vec![
        Curve { label: "datapoints".into(), color: col, dashed: false, points: true, xy: pts },
        Curve { label: "data".into(), color: col, dashed: false, points: false, xy: line },
    ];
    if let Some((mf, mp, mo)) = models {
        let xmin = x.min_value();
        let s = |m: &Mixture| m.sum.unwrap_or(1) as f64;
        let (mn, md) = match what {
            "packets" => (mp, mf),
            "octets" => (mo, mf),
            _ => (mo, mp),
        };
        let ratio = s(mn) / s(md);
        let xy = g.iter().map(|&a| (a as f64, ratio * mn.pdf_discrete(a, xmin) / md.pdf_discrete(a, xmin))).collect();
        curves.push(Curve { label: "infered from mixtures".into(), color: GREY, dashed: false, points: false, xy });
    }
    let (log_y, y_range, ylabel) = match what {
        "packet_size" => (false, Some((0.0, 2000.0)), "average packet size (bytes)".to_string()),
        "packets" => (true, None, "average flow length (packets)".to_string()),
        _ => (true, None, "average flow size (bytes)".to_string()),
    };
    Some(Figure { name: format!("avg-{what}"), xlabel: xlabel(x), ylabel, log_y, y_range, curves })
}

/// The figures of one fitted column: `cdf` and `pdf-<column>`.
pub fn fit_figures(req: &Request, h: &Hist, m: &Mixture, y: YCol, x: XKind) -> Result<Vec<Artifact>, PluginError> {
    let mut out = write(req, &cdf_figure(h, x, &[(y, m)]))?;
    out.extend(write(req, &pdf_figure(h, x, y, Some(m)))?);
    Ok(out)
}

/// All seven figures of flow-models' `plot`, with the three mixtures when given.
pub fn all_figures(req: &Request, h: &Hist, x: XKind, models: Option<(&Mixture, &Mixture, &Mixture)>) -> Result<Vec<Artifact>, PluginError> {
    let list: Vec<(YCol, &Mixture)> = models.map(|(f, p, o)| vec![(YCol::Flows, f), (YCol::Packets, p), (YCol::Octets, o)]).unwrap_or_default();
    let mut out = write(req, &cdf_figure(h, x, &list))?;
    for (k, y) in YCol::ALL.iter().enumerate() {
        let m = models.map(|(f, p, o)| [f, p, o][k]);
        out.extend(write(req, &pdf_figure(h, x, *y, m))?);
    }
    for what in ["packets", "octets", "packet_size"] {
        if let Some(f) = avg_figure(h, x, what, models) {
            out.extend(write(req, &f)?);
        }
    }
    Ok(out)
}

/// Settings of `plot`.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlotSettings {
    /// x axis (default: detected from the smallest bin_lo).
    #[serde(default)]
    pub x: Option<XKind>,
    /// A mixture directory (`flows/packets/octets.json`) to overlay.
    #[serde(default)]
    pub mixture_dir: Option<String>,
    /// Inline mixtures to overlay.
    #[serde(default)]
    pub model: Option<crate::gencap::InlineModel>,
}

/// `plot`: flow-models' seven figures (`cdf`, `pdf-flows|packets|octets`,
/// `avg-packets|octets|packet_size`) of a csv_hist, with a model overlaid when given.
pub fn plot(req: &Request, _host: &flowlab_abi::Host) -> Result<flowlab_abi::Response, PluginError> {
    let s: PlotSettings = flowlab_abi::parse_settings(&req.settings)?;
    let h = Hist::read(&crate::tasks::dataset_path(req)?)?;
    let x = match s.x {
        Some(x) => x,
        None => h.detect_x()?,
    };
    let model = match (&s.mixture_dir, &s.model) {
        (Some(_), Some(_)) => return Err(PluginError::config("model", "give `mixture_dir` or `model`, not both")),
        (Some(d), None) => {
            let g = crate::gencap::GenerateSettings { flows: 1, x, mixture_dir: Some(d.clone()), ..Default::default() };
            match g.source()? {
                crate::gencap::Source::Model(m) => Some(*m),
                _ => None,
            }
        }
        (None, Some(m)) => {
            let g = crate::gencap::GenerateSettings { flows: 1, x, model: Some(m.clone()), ..Default::default() };
            match g.source()? {
                crate::gencap::Source::Model(m) => Some(*m),
                _ => None,
            }
        }
        (None, None) => None,
    };
    let arts = all_figures(req, &h, x, model.as_ref().map(|m| (&m.flows, &m.packets, &m.octets)))?;
    Ok(flowlab_abi::Response { artifacts: arts, ..Default::default() })
}
