//! The series of each figure and plot mode, as flow-models' `lib/plot.py` computes them
//! (docs/histfit.md, "Plot modes").
use super::draw::{Band, Cell, Cells, Curve, Figure, Mark, Panel, palette};
use super::kde;
use super::{CdfMode, PdfMode};
use crate::hist::{Hist, XKind, YCol, bin_of};
use crate::initial::geomspace;
use crate::mixture::{Mixture, py_repr};
use crate::summary::{cumulative_share, interp_linear};
use figure::RGBColor;

/// The mixtures of flows, packets and octets (any may be absent).
#[derive(Debug, Clone, Default)]
pub struct Models(pub [Option<Mixture>; 3]);

/// Plot modes beyond flow-models' default (data line + mixture).
#[derive(Debug, Clone)]
pub struct Opts {
    /// `-P` modes.
    pub pdf: Vec<PdfMode>,
    /// `-C` modes.
    pub cdf: Vec<CdfMode>,
    /// Datapoints divided by the bin width.
    pub normalize: bool,
    /// The binned (`--fft`) KDE.
    pub fft: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts { pdf: vec![], cdf: vec![], normalize: true, fft: false }
    }
}

/// Number of KDE grid points per axis and of 2-D histogram edges (flow-models' `KDE_NBINS`,
/// `HIST_NBINS`).
pub const NBINS: usize = 64;

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

/// The colour of a column's data.
pub fn color(y: YCol) -> RGBColor {
    match y {
        YCol::Flows => palette::VERMILLION,
        YCol::Packets => palette::GREEN,
        YCol::Octets => palette::BLUE,
    }
}

fn xlabel(x: XKind) -> String {
    format!("flow {} [{}]", x.name(), x.unit())
}

fn xy(g: &[u64], v: impl IntoIterator<Item = f64>) -> Vec<(f64, f64)> {
    g.iter().map(|&a| a as f64).zip(v).collect()
}

/// Four significant digits, trailing zeros dropped (legend labels): 7.806, 1084, 0.0733.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..=6).contains(&mag) {
        return format!("{v:.3e}");
    }
    let t = format!("{:.*}", (3 - mag).max(0) as usize, v);
    if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_string() } else { t }
}

/// flow-models' component key: `weight family [args]` (shortened to 4 significant digits).
fn comp_label(m: &Mixture, k: usize) -> String {
    let c = &m.comps[k];
    let args: Vec<String> = c.args.iter().map(|a| sig(a.f())).collect();
    let w = py_repr(c.weight).parse::<f64>().unwrap_or(c.weight);
    format!("{} {} [{}]", sig(w), c.dist.family.name(), args.join(", "))
}

/// flow-models' `pdf_comp`/`cdf_comp`: w_k·F_k(x), or w_k·(F_k(x) − F_k(x − 1)) for x < 1024
/// (F_k(x) − F_k(0) at the smallest value) and w_k·f_k(x) above, as `mix.pdf`.
pub fn components(m: &Mixture, g: &[u64], pdf: bool, xmin: u64) -> Vec<Vec<f64>> {
    let w = m.norm_weights();
    m.comps
        .iter()
        .enumerate()
        .map(|(k, c)| {
            g.iter()
                .map(|&a| {
                    let af = a as f64;
                    let v = if !pdf {
                        c.dist.cdf(af)
                    } else if a < 1024 {
                        c.dist.cdf(af) - c.dist.cdf(if a == xmin { 0.0 } else { af - 1.0 })
                    } else {
                        c.dist.pdf(af)
                    };
                    w[k] * v
                })
                .collect()
        })
        .collect()
}

/// The mixture and, per mode, its components (dashed) and their stack (bands).
#[allow(clippy::too_many_arguments)]
fn mixture_series(p: &mut Panel, m: &Mixture, g: &[u64], pdf: bool, xmin: u64, (comp, stack, labels): (bool, bool, bool), label: &str, mark: Mark, prefix: &str) {
    let line = if pdf { g.iter().map(|&a| m.pdf_discrete(a, xmin)).collect::<Vec<_>>() } else { g.iter().map(|&a| m.cdf(a as f64)).collect() };
    p.curves.push(Curve { label: label.into(), color: palette::BLACK, mark, sets_range: true, xy: xy(g, line) });
    if !(comp || stack) {
        return;
    }
    let comps = components(m, g, pdf, xmin);
    // every drawn component has a legend entry (docs/figures.md); `comp_labels` adds its parameters
    let lab = |k: usize| if labels { format!("{prefix}{}", comp_label(m, k)) } else { format!("{prefix}component {}", k + 1) };
    let col = |k: usize| palette::COMPONENTS[k % palette::COMPONENTS.len()];
    if stack {
        let mut lo = vec![0.0; g.len()];
        for (k, c) in comps.iter().enumerate() {
            let hi: Vec<f64> = lo.iter().zip(c).map(|(a, b)| a + b).collect();
            // with `comp` too, the dashed curve carries the label
            let l = if comp { String::new() } else { lab(k) };
            p.bands.push(Band { label: l, color: col(k), x: g.iter().map(|&a| a as f64).collect(), lo: lo.clone(), hi: hi.clone() });
            lo = hi;
        }
    }
    if comp {
        for (k, c) in comps.into_iter().enumerate() {
            p.curves.push(Curve { label: lab(k), color: col(k), mark: Mark::Dashed(k / palette::COMPONENTS.len()), sets_range: false, xy: xy(g, c) });
        }
    }
}

/// The CDF panel: the data of every column, the mixtures given, the `-C` modes.
pub fn cdf_panel(h: &Hist, x: XKind, models: &Models, o: &Opts) -> Panel {
    let g = grid(h);
    let mut p = Panel { xlabel: xlabel(x), ylabel: "CDF [fraction]".into(), log_y: false, y_range: Some((0.0, 1.0)), ..Default::default() };
    for y in YCol::ALL {
        let col = format!("{}_sum", y.name());
        if h.column(&col).is_some() {
            p.curves.push(Curve { label: format!("{} data", y.name()), color: color(y), mark: Mark::Line, sets_range: true, xy: xy(&g, data_cdf(h, &col, &g)) });
        }
    }
    let modes = (o.cdf.contains(&CdfMode::Comp), o.cdf.contains(&CdfMode::CompStack), o.cdf.contains(&CdfMode::CompLabels));
    let marks = [Mark::Thin, Mark::Dashed(2), Mark::Dashed(3)];
    for (k, y) in YCol::ALL.iter().enumerate() {
        if let Some(m) = &models.0[k] {
            mixture_series(&mut p, m, &g, false, x.min_value(), modes, &format!("{} model", y.name()), marks[k], &format!("{}: ", y.name()));
        }
    }
    p
}

/// flow-models' `normalize_data`: each bin's value divided by the distance to the next bin's
/// start (the last bin: to the start of the `bin_calc` bin after it).
pub fn bin_widths(h: &Hist) -> Vec<f64> {
    let n = h.len();
    let one = (0..n).all(|i| h.bin_hi[i] - h.bin_lo[i] == 1);
    let exp = (0..n).find(|&i| h.bin_hi[i] - h.bin_lo[i] > 1).map(|i| (h.bin_lo[i] as f64).log2() as u32).unwrap_or(0);
    (0..n)
        .map(|i| {
            let next = if i + 1 < n {
                h.bin_lo[i + 1]
            } else {
                let last = if n > 1 { h.bin_lo[n - 1] - h.bin_lo[n - 2] } else { 1 };
                let v = h.bin_lo[i] + last;
                if one { v } else { bin_of(v, exp).0 }
            };
            (next - h.bin_lo[i]) as f64
        })
        .collect()
}

/// The datapoints of a PDF: (bin_lo, c_i/Σc), divided by the bin width when normalised.
pub fn datapoints(h: &Hist, col: &str, normalize: bool) -> Vec<(f64, f64)> {
    let c = h.column(col).unwrap_or(&[]);
    let tot: f64 = c.iter().map(|&v| v as f64).sum();
    let w = if normalize { bin_widths(h) } else { vec![1.0; h.len()] };
    (0..h.len()).map(|i| (h.bin_lo[i] as f64, c[i] as f64 / w[i] / tot)).collect()
}

/// `hist` mode: the flows-weighted 2-D histogram of the datapoints on 63 × 63 log cells over
/// the line's range; cells under 1 flow are left empty (`cmin=1`), the shade is log-scaled.
fn hist_cells(pts: &[(f64, f64)], wts: &[f64], (x0, x1, y0, y1): (f64, f64, f64, f64)) -> (Vec<Cell>, usize) {
    let (ex, ey) = (geomspace(x0, x1, NBINS), geomspace(y0, y1, NBINS));
    let m = NBINS - 1;
    let mut c = vec![0.0; m * m];
    let mut outside = 0;
    for (q, w) in pts.iter().zip(wts) {
        match (kde::bin_index(&ex, q.0), kde::bin_index(&ey, q.1)) {
            (Some(a), Some(b)) => c[a * m + b] += w,
            _ => outside += 1,
        }
    }
    let lo = c.iter().copied().filter(|&v| v >= 1.0).fold(f64::INFINITY, f64::min);
    let hi = c.iter().copied().fold(0.0, f64::max);
    let mut cells = vec![];
    for a in 0..m {
        for b in 0..m {
            let v = c[a * m + b];
            if v >= 1.0 {
                let l = if hi > lo { (v / lo).ln() / (hi / lo).ln() } else { 1.0 };
                cells.push((ex[a], ex[a + 1], ey[b], ey[b + 1], 0.15 + 0.85 * l));
            }
        }
    }
    (cells, outside)
}

/// Width of a KDE contour band: matplotlib's `contourf(levels=16)` asks `MaxNLocator(17)` for
/// levels on [0, 1], which gives 0, 0.06, …, 1.02 (17 bands).
pub const KDE_BAND: f64 = 0.06;

/// `kde` mode: the KDE's filled contours as in matplotlib's `contourf(levels=16)` of
/// PowerNorm(0.1): bands [`KDE_BAND`] wide, the lowest transparent (flow-models sets its alpha
/// to 0), shaded by the band's middle; drawn from a 4× bilinear refinement of the 64 × 64
/// grid, runs of equal band merged into one rectangle.
pub fn kde_cells(k: &kde::Grid) -> Vec<Cell> {
    let zn = kde::power_norm(&k.z);
    let (nx, ny) = (k.gx.len(), k.gy.len());
    let r = 4;
    let at = |a: usize, b: usize| zn[a * ny + b];
    let mut cells = vec![];
    let sx: Vec<f64> = kde::linspace(k.gx[0], k.gx[nx - 1], (nx - 1) * r + 1);
    let sy: Vec<f64> = kde::linspace(k.gy[0], k.gy[ny - 1], (ny - 1) * r + 1);
    for j in 0..sy.len() - 1 {
        let mut run: Option<(usize, usize)> = None; // (start i, band)
        let band_at = |i: usize| {
            // cell centre in grid units
            let (u, v) = ((i as f64 + 0.5) / r as f64, (j as f64 + 0.5) / r as f64);
            let (a, b) = ((u as usize).min(nx - 2), (v as usize).min(ny - 2));
            let (fu, fv) = (u - a as f64, v - b as f64);
            let z = at(a, b) * (1.0 - fu) * (1.0 - fv) + at(a + 1, b) * fu * (1.0 - fv) + at(a, b + 1) * (1.0 - fu) * fv + at(a + 1, b + 1) * fu * fv;
            ((z / KDE_BAND).floor() as usize).min(16)
        };
        for i in 0..sx.len() {
            let band = if i < sx.len() - 1 { Some(band_at(i)) } else { None };
            if let Some((s, bd)) = run {
                if band != Some(bd) {
                    if bd > 0 {
                        cells.push((10f64.powf(sx[s]), 10f64.powf(sx[i]), 10f64.powf(sy[j]), 10f64.powf(sy[j + 1]), (bd as f64 + 0.5) * KDE_BAND / 1.02));
                    }
                    run = band.map(|b| (i, b));
                }
            } else {
                run = band.map(|b| (i, b));
            }
        }
    }
    cells
}

/// The PDF panel of one column: the data line, the `-P` modes, the mixture.
pub fn pdf_panel(h: &Hist, x: XKind, y: YCol, model: Option<&Mixture>, o: &Opts) -> Result<Panel, String> {
    let g = grid(h);
    let col = format!("{}_sum", y.name());
    let line = data_pdf(h, &col, &g);
    let mut p = Panel { xlabel: xlabel(x), ylabel: format!("PDF of {} [1/{}]", y.name(), x.unit().trim_end_matches('s')), log_y: true, ..Default::default() };
    p.curves.push(Curve { label: format!("{} data (from the CDF)", y.name()), color: color(y), mark: Mark::Line, sets_range: true, xy: xy(&g, line.iter().copied()) });
    let pts = datapoints(h, &col, o.normalize);
    let pos = line.iter().copied().filter(|v| *v > 0.0 && v.is_finite());
    let (ylo, yhi) = (pos.clone().fold(f64::INFINITY, f64::min), pos.fold(0.0, f64::max));
    let (xlo, xhi) = (g[0] as f64, g[g.len() - 1] as f64);
    let flows: Vec<f64> = h.column("flows_sum").map(|c| c.iter().map(|&v| v as f64).collect()).unwrap_or_default();
    if o.pdf.contains(&PdfMode::Hist) || o.pdf.contains(&PdfMode::Kde) {
        if flows.is_empty() {
            return Err(format!("{}: the hist and kde modes weight by flows_sum, which the histogram lacks", h.source));
        }
        if yhi.is_nan() || yhi <= ylo {
            return Err(format!("{}: the {} PDF has no positive range for the hist and kde modes", h.source, y.name()));
        }
    }
    if o.pdf.contains(&PdfMode::Hist) {
        let (cells, outside) = hist_cells(&pts, &flows, (xlo, xhi, ylo, yhi));
        if outside > 0 {
            p.notes.push(format!("2-D histogram: {outside} of {} datapoints lie outside the line's range and are not counted.", pts.len()));
        }
        p.cells.push(Cells { label: format!("{} datapoints, flows per cell (log shade)", y.name()), color: color(y), alpha: 1.0, cells });
    }
    if o.pdf.contains(&PdfMode::Kde) {
        let keep: Vec<usize> = (0..pts.len()).filter(|&i| pts[i].1 > 0.0).collect();
        if keep.len() < pts.len() {
            p.notes.push(format!("KDE: {} datapoints of value 0 left out (log scale).", pts.len() - keep.len()));
        }
        let s = kde::Sample { x: keep.iter().map(|&i| pts[i].0.log10()).collect(), y: keep.iter().map(|&i| pts[i].1.log10()).collect(), w: keep.iter().map(|&i| flows[i]).collect() };
        let (gx, gy) = (kde::linspace(xlo.log10(), xhi.log10(), NBINS), kde::linspace(ylo.log10(), yhi.log10(), NBINS));
        let k = if o.fft { kde::binned(&s, &gx, &gy)? } else { kde::exact(&s, &gx, &gy)? };
        let how = if o.fft { "binned KDE" } else { "KDE" };
        p.cells.push(Cells { label: format!("{} datapoints, flows-weighted {how}", y.name()), color: color(y), alpha: 0.5, cells: kde_cells(&k) });
    }
    if o.pdf.contains(&PdfMode::Points) {
        let (label, c) = if o.normalize { ("datapoints (normalized)", palette::SKY) } else { ("datapoints (log-binned)", palette::PURPLE) };
        p.curves.push(Curve { label: label.into(), color: c, mark: Mark::Dots, sets_range: true, xy: pts });
    }
    if let Some(m) = model {
        let modes = (o.pdf.contains(&PdfMode::Comp), o.pdf.contains(&PdfMode::CompStack), o.pdf.contains(&PdfMode::CompLabels));
        mixture_series(&mut p, m, &g, true, x.min_value(), modes, "model (mixture)", Mark::Thin, "");
    }
    Ok(p)
}

/// An average figure (`avg-packets`, `avg-octets`, `avg-packet_size`).
pub fn avg_figure(h: &Hist, x: XKind, what: &str, models: &Models) -> Option<Figure> {
    let g = grid(h);
    let f = h.column("flows_sum")?;
    let p = h.column("packets_sum")?;
    let o = h.column("octets_sum")?;
    let sum = |c: &[u64]| c.iter().map(|&v| v as f64).sum::<f64>();
    let (num, den, ncol, dcol) = match what {
        "packets" => (p, f, "packets_sum", "flows_sum"),
        "octets" => (o, f, "octets_sum", "flows_sum"),
        _ => (o, p, "octets_sum", "packets_sum"),
    };
    let pts: Vec<(f64, f64)> = (0..h.len()).map(|i| (h.bin_lo[i] as f64, num[i] as f64 / den[i] as f64)).collect();
    let scale = sum(num) / sum(den);
    let (pn, pd) = (data_pdf(h, ncol, &g), data_pdf(h, dcol, &g));
    let col = match what {
        "packets" => palette::GREEN,
        "octets" => palette::BLUE,
        _ => palette::PURPLE,
    };
    let mut panel = Panel { xlabel: xlabel(x), ..Default::default() };
    if what == "packet_size" {
        // flow-models' min / avg / max lines
        let mn = pts.iter().map(|q| q.1).fold(f64::INFINITY, f64::min);
        let mx = pts.iter().map(|q| q.1).fold(f64::NEG_INFINITY, f64::max);
        let ends = [g[0] as f64, g[g.len() - 1] as f64];
        for (k, (name, v)) in [("min", mn), ("avg", scale), ("max", mx)].into_iter().enumerate() {
            panel.curves.push(Curve { label: format!("{name} = {v:.2}"), color: RGBColor(120, 120, 120), mark: Mark::Dashed(k + 1), sets_range: false, xy: ends.iter().map(|&a| (a, v)).collect() });
        }
    }
    panel.curves.push(Curve { label: "datapoints (per bin)".into(), color: palette::SKY, mark: Mark::Dots, sets_range: true, xy: pts });
    panel.curves.push(Curve { label: "data (from the CDFs)".into(), color: col, mark: Mark::Line, sets_range: true, xy: xy(&g, (0..g.len()).map(|i| scale * pn[i] / pd[i])) });
    let pair = match what {
        "packets" => (&models.0[1], &models.0[0]),
        "octets" => (&models.0[2], &models.0[0]),
        _ => (&models.0[2], &models.0[1]),
    };
    if let (Some(mn), Some(md)) = pair {
        let xmin = x.min_value();
        let s = |m: &Mixture| m.sum.unwrap_or(1) as f64;
        let ratio = s(mn) / s(md);
        let v = g.iter().map(|&a| ratio * mn.pdf_discrete(a, xmin) / md.pdf_discrete(a, xmin));
        panel.curves.push(Curve { label: "inferred from the mixtures".into(), color: palette::BLACK, mark: Mark::Thin, sets_range: true, xy: xy(&g, v) });
    }
    let (log_y, y_range, ylabel) = match what {
        "packet_size" => (false, Some((0.0, 2000.0)), "average packet size [bytes]"),
        "packets" => (true, None, "average flow length [packets]"),
        _ => (true, None, "average flow size [bytes]"),
    };
    panel.log_y = log_y;
    panel.y_range = y_range;
    panel.ylabel = ylabel.into();
    Some(Figure { name: format!("avg-{what}"), panels: vec![panel] })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sig_keeps_four_significant_digits() {
        let f = super::sig;
        assert_eq!([f(7.8055992790704085), f(1084.4707584768782), f(0.07328615421743477), f(0.0), f(2.0), f(128.6451515069839)], ["7.806", "1084", "0.07329", "0", "2", "128.6"]);
        assert_eq!(f(1.5e-7), "1.500e-7");
    }
}
