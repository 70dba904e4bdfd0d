//! Renders a [`Figure`] with plotters: panels with the legend outside on the right, log axes
//! labelled 10^k, integer axes with integer ticks, the Okabe–Ito palette, text ≥ 9 pt at the
//! natural size (150 dpi). Every plugin that draws describes its figures with these types, so
//! the style rules live here once (docs/figures.md).
//!
//! Axis limits follow the curves that set the range (a mixture, not its components), with
//! matplotlib's 5 % margin (in decades on log axes); what is cut at an axis is said in a note
//! under the legend.
use plotters::coord::Shift;
use plotters::prelude::*;

/// Okabe–Ito colours (colour-blind safe).
pub mod palette {
    use plotters::style::RGBColor;
    /// Black: the model.
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);
    /// Orange: components (first).
    pub const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
    /// Sky blue: datapoints.
    pub const SKY: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
    /// Bluish green: packets.
    pub const GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
    /// Yellow.
    pub const YELLOW: RGBColor = RGBColor(0xF0, 0xE4, 0x42);
    /// Blue: octets.
    pub const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
    /// Vermillion: flows.
    pub const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
    /// Reddish purple: packet size; log-binned (not normalized) datapoints.
    pub const PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
    /// Paul Tol's wine, olive and indigo, and a dark grey: mixture components beside
    /// Okabe–Ito's orange, none of them a data colour (vermillion, green, blue, sky, purple)
    /// or the model's black.
    pub const WINE: RGBColor = RGBColor(0x88, 0x22, 0x55);
    /// Olive (components).
    pub const OLIVE: RGBColor = RGBColor(0x99, 0x99, 0x33);
    /// Indigo (components).
    pub const INDIGO: RGBColor = RGBColor(0x33, 0x22, 0x88);
    /// Dark grey (components).
    pub const GREY: RGBColor = RGBColor(0x66, 0x66, 0x66);
    /// Component colours, in order (cycled; the dash pattern changes with each cycle, so
    /// colour × dash tells 20 components apart). No data colour, and no yellow: a thin
    /// dashed yellow line does not show on white.
    pub const COMPONENTS: [RGBColor; 5] = [ORANGE, WINE, OLIVE, INDIGO, GREY];
}

/// How a curve is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// Thick line (data).
    Line,
    /// Thin solid line (model).
    Thin,
    /// Dashed line; the number selects the pattern (model lines, components).
    Dashed(usize),
    /// A dot per point (datapoints).
    Dots,
}

/// One series.
#[derive(Debug, Clone)]
pub struct Curve {
    /// Legend text (empty: no legend entry).
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Line or dots.
    pub mark: Mark,
    /// Whether the axis limits follow this curve (components do not).
    pub sets_range: bool,
    /// (x, y) pairs; non-finite and, on log axes, non-positive y are left out.
    pub xy: Vec<(f64, f64)>,
}

/// A filled band between two curves on the same x (a `comp_stack` layer).
#[derive(Debug, Clone)]
pub struct Band {
    /// Legend text (empty: no entry).
    pub label: String,
    /// Colour (drawn at 50 % opacity).
    pub color: RGBColor,
    /// x of both boundaries.
    pub x: Vec<f64>,
    /// Lower boundary.
    pub lo: Vec<f64>,
    /// Upper boundary.
    pub hi: Vec<f64>,
}

/// One shaded rectangle: (x0, x1, y0, y1, level in [0, 1]).
pub type Cell = (f64, f64, f64, f64, f64);

/// Filled rectangles shaded by a level in [0, 1] (the `hist` and `kde` modes).
#[derive(Debug, Clone)]
pub struct Cells {
    /// Legend text.
    pub label: String,
    /// Colour of level 1 (level 0 is white).
    pub color: RGBColor,
    /// Opacity.
    pub alpha: f64,
    /// The rectangles.
    pub cells: Vec<Cell>,
}

/// One set of axes.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// Title above the axes (empty: none).
    pub title: String,
    /// X axis label with unit.
    pub xlabel: String,
    /// Y axis label with unit.
    pub ylabel: String,
    /// Linear x axis (the default is log, the flow-feature convention).
    pub linear_x: bool,
    /// The x quantity is an integer (epochs, steps, indices): integer ticks only.
    pub integer_x: bool,
    /// Log y axis.
    pub log_y: bool,
    /// Fixed y range (else from the curves that set the range).
    pub y_range: Option<(f64, f64)>,
    /// Shaded cells (drawn first).
    pub cells: Vec<Cells>,
    /// Stacked bands (drawn next).
    pub bands: Vec<Band>,
    /// Curves (drawn last, in order).
    pub curves: Vec<Curve>,
    /// Notes printed under the legend (what was left out, and why).
    pub notes: Vec<String>,
}

/// A figure: the file stem and its panels.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem (`cdf`, `pdf-flows`, …, `single`).
    pub name: String,
    /// Panels, row-major.
    pub panels: Vec<Panel>,
}

impl Figure {
    /// One panel.
    pub fn one(name: impl Into<String>, p: Panel) -> Figure {
        Figure { name: name.into(), panels: vec![p] }
    }

    /// (rows, columns): an even number of panels in two columns (four as 2 × 2), an odd
    /// number stacked in one.
    pub fn grid(&self) -> (usize, usize) {
        match self.panels.len() {
            n if n % 2 == 0 && n > 0 => (n / 2, 2),
            n => (n.max(1), 1),
        }
    }
}

/// Pixels of one panel at the natural size (8 in × 4.08 in at 150 dpi).
pub const PANEL: (u32, u32) = (1200, 612);
/// Dots per inch of the natural size.
pub const DPI: f64 = 150.0;
/// plotters font sizes (the SVG writes size/1.24: 24 → 19.4 px = 9.3 pt at 150 dpi).
const TICK_FONT: f64 = 24.0;
const LABEL_FONT: f64 = 26.0;
const LEGEND_FONT: f64 = 24.0;
/// Width of the legend column on the right of each panel.
pub const LEGEND_W: u32 = 450;

/// The figure's size in pixels: panels of [`PANEL`], taller when a panel's legend needs more
/// rows than that (every entry is shown; a `--single` figure of three ten-component mixtures
/// has 35).
pub fn size(f: &Figure) -> (u32, u32) {
    let (r, c) = f.grid();
    let h = f.panels.iter().map(legend_height).max().unwrap_or(0).max(PANEL.1);
    (PANEL.0 * c as u32, h * r as u32)
}

/// Legend rows: the height of one entry line, and the characters of a line.
const LEGEND_ROW: i32 = 27;

fn legend_chars() -> usize {
    ((LEGEND_W - 46) as f64 / (0.64 * LEGEND_FONT / 1.24)) as usize
}

/// The labelled series of a panel, in legend order, with their symbols.
fn legend_entries(p: &Panel) -> Vec<(Symbol, &str)> {
    let mut entries: Vec<(Symbol, &str)> = vec![];
    entries.extend(p.cells.iter().filter(|c| !c.label.is_empty()).map(|c| (Symbol::Square(ramp(c.color, 0.7), c.alpha.max(0.5)), c.label.as_str())));
    entries.extend(p.bands.iter().filter(|b| !b.label.is_empty()).map(|b| (Symbol::Square(b.color, 0.5), b.label.as_str())));
    entries.extend(p.curves.iter().filter(|c| !c.label.is_empty()).map(|c| (Symbol::Curve(c.color, c.mark), c.label.as_str())));
    entries
}

/// Pixels the legend of `p` takes: its entries, its notes and room for the note on what an
/// axis cuts (two rows), as [`legend`] lays them out.
fn legend_height(p: &Panel) -> u32 {
    let per_row = legend_chars();
    let rows: usize = legend_entries(p).iter().map(|(_, l)| wrap(l, per_row).len()).sum();
    let notes: usize = p.notes.iter().chain(std::iter::once(&p.title)).map(|n| wrap(n, per_row + 6).len()).sum::<usize>() + 2 + 2;
    (24 + rows as i32 * LEGEND_ROW + notes as i32 * (LEGEND_ROW - 2) + LEGEND_ROW) as u32
}

/// `10⁻³`-style label of 10^k.
pub fn pow10_label(k: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for c in k.unsigned_abs().to_string().chars() {
        s.push(SUP[c.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// Powers of ten in [lo, hi], thinned to at most 10 labels. The exponents are those of f64
/// normals (10⁻³⁰⁷ … 10³⁰⁸): a limit of 0 or ∞ (log10 = ∓∞) would otherwise saturate to i32::MIN and
/// ask for 2³¹ ticks.
pub fn decade_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let exp = |v: f64| if v.is_nan() { 0 } else { v.clamp(-307.0, 308.0) as i64 };
    let (a, b) = (exp(lo.log10().ceil()), exp(hi.log10().floor()));
    let n = (b - a + 1).max(1);
    let step = ((n + 9) / 10).max(1);
    (a..=b).filter(|k| (k - a) % step == 0).map(|k| 10f64.powi(k as i32)).collect()
}

/// Log limits with matplotlib's margin: 5 % of the decades spanned on each side, kept inside
/// the positive normal range (a subnormal density, 10⁻³²⁰, divides 1 to ∞ and its margin
/// would take the limit to 0).
fn log_limits(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.clamp(f64::MIN_POSITIVE, f64::MAX);
    let hi = hi.clamp(lo, f64::MAX);
    let m = 0.05 * (hi / lo).log10();
    ((lo * 10f64.powf(-m)).max(f64::MIN_POSITIVE), (hi * 10f64.powf(m)).min(f64::MAX))
}

/// Linear limits with a 5 % margin on each side (a constant gets ± 0.5, or ± 5 % of itself).
fn lin_limits(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if lo == 0.0 { 0.5 } else { 0.05 * lo.abs() };
        return (lo - d, hi + d);
    }
    let m = 0.05 * (hi - lo);
    (lo - m, hi + m)
}

fn ok(log_x: bool, log_y: bool) -> impl Fn(&(f64, f64)) -> bool {
    move |(x, y)| x.is_finite() && (!log_x || *x > 0.0) && y.is_finite() && (!log_y || *y > 0.0)
}

/// The panel's (x, y) limits.
pub fn limits(p: &Panel) -> Option<((f64, f64), (f64, f64))> {
    let keep = ok(!p.linear_x, p.log_y);
    let pts: Vec<(f64, f64)> = p.curves.iter().filter(|c| c.sets_range).flat_map(|c| c.xy.iter().copied().filter(&keep)).collect();
    if pts.is_empty() {
        return None;
    }
    let fold = |f: fn(f64, f64) -> f64, init: f64, g: fn(&(f64, f64)) -> f64| pts.iter().map(g).fold(init, f);
    let (x0, x1) = (fold(f64::min, f64::INFINITY, |p| p.0), fold(f64::max, f64::NEG_INFINITY, |p| p.0));
    let x = if p.linear_x { lin_limits(x0, x1) } else { log_limits(x0, x1.max(x0 * 2.0)) };
    let y = p.y_range.unwrap_or_else(|| {
        let (y0, y1) = (fold(f64::min, f64::INFINITY, |p| p.1), fold(f64::max, f64::NEG_INFINITY, |p| p.1));
        if p.log_y {
            log_limits(y0, y1.max(y0 * 10.0))
        } else if y0 >= 0.0 && y0 <= 0.25 * y1 {
            (0.0, y1 * 1.05) // non-negative data near zero: the axis starts at 0
        } else {
            lin_limits(y0, y1)
        }
    });
    Some((x, y))
}

type Err = String;

fn e(x: impl std::fmt::Display) -> Err {
    x.to_string()
}

fn dash(k: usize) -> (u32, u32) {
    [(14, 7), (5, 5), (22, 6), (3, 6)][k % 4]
}

/// Mixes `c` with white: level 0 → white, 1 → `c`.
fn ramp(c: RGBColor, level: f64) -> RGBColor {
    let l = level.clamp(0.0, 1.0);
    let m = |v: u8| (255.0 - (255.0 - v as f64) * l).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Draws one panel into `area` (plot on the left, legend on the right).
fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<(), Err>
where
    DB::ErrorType: 'static,
{
    let Some(((x0, x1), (y0, y1))) = limits(p) else {
        // nothing to plot: the title and the notes say why
        let notes: Vec<String> = std::iter::once(p.title.clone()).chain(p.notes.iter().cloned()).filter(|n| !n.is_empty()).collect();
        return legend(area, &Panel::default(), &notes);
    };
    let (w, _) = area.dim_in_pixel();
    let (plot_area, legend_area) = area.split_horizontally(w - LEGEND_W);
    // the title in its own strip, so the top tick label (half above the axes) stays clear of it
    let plot_area = if p.title.is_empty() {
        plot_area
    } else {
        let (strip, rest) = plot_area.split_vertically((LABEL_FONT * 1.3) as u32 + 8);
        let (sw, _) = strip.dim_in_pixel();
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let style = TextStyle::from(("sans-serif", LABEL_FONT).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        strip.draw(&Text::new(p.title.clone(), (sw as i32 / 2, 8), style)).map_err(e)?;
        rest
    };
    let mut cb = ChartBuilder::on(&plot_area);
    cb.margin(14).margin_right(24).x_label_area_size(64).y_label_area_size(if p.log_y { 96 } else { 110 });
    let in_y = |v: f64| v >= y0 && v <= y1;
    let mut cut = false;
    macro_rules! body {
        ($chart:expr, $xlab:expr, $ylab:expr, $nx:expr, $ny:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(p.xlabel.as_str())
                .y_desc(p.ylabel.as_str())
                .label_style(("sans-serif", TICK_FONT))
                .axis_desc_style(("sans-serif", LABEL_FONT))
                .x_labels($nx)
                .y_labels($ny)
                .x_label_formatter($xlab)
                .y_label_formatter($ylab)
                .bold_line_style(BLACK.mix(0.10))
                .light_line_style(TRANSPARENT)
                .draw()
                .map_err(e)?;
            for c in &p.cells {
                let col = c.color;
                let alpha = c.alpha;
                chart.draw_series(c.cells.iter().map(|&(a, b, lo, hi, l)| Rectangle::new([(a, lo.clamp(y0, y1)), (b, hi.clamp(y0, y1))], ramp(col, l).mix(alpha).filled()))).map_err(e)?;
            }
            for b in &p.bands {
                let clamp = |v: f64| if v.is_finite() { v.clamp(y0, y1) } else { y0 };
                cut |= b.lo.iter().chain(&b.hi).any(|&v| !in_y(v));
                let mut poly: Vec<(f64, f64)> = b.x.iter().zip(&b.hi).map(|(&x, &y)| (x, clamp(y))).collect();
                poly.extend(b.x.iter().zip(&b.lo).rev().map(|(&x, &y)| (x, clamp(y))));
                chart.draw_series(std::iter::once(Polygon::new(poly, b.color.mix(0.5).filled()))).map_err(e)?;
            }
            let keep = ok(!p.linear_x, p.log_y);
            // datapoints below the lines (flow-models' zorder)
            let order = p.curves.iter().filter(|c| c.mark == Mark::Dots).chain(p.curves.iter().filter(|c| c.mark != Mark::Dots));
            for c in order {
                let all: Vec<(f64, f64)> = c.xy.iter().copied().filter(&keep).collect();
                let pts: Vec<(f64, f64)> = all.iter().copied().filter(|q| in_y(q.1)).collect();
                cut |= pts.len() < c.xy.len();
                match c.mark {
                    Mark::Dots => {
                        // one marker per pixel position: identical positions draw the same dot
                        let mut seen = std::collections::HashSet::new();
                        let pts: Vec<(f64, f64)> = pts.into_iter().filter(|q| seen.insert(chart.backend_coord(q))).collect();
                        chart.draw_series(pts.into_iter().map(|q| Circle::new(q, 3, c.color.filled()))).map_err(e)?;
                    }
                    Mark::Line => {
                        chart.draw_series(LineSeries::new(pts, c.color.mix(0.75).stroke_width(5))).map_err(e)?;
                    }
                    Mark::Thin => {
                        chart.draw_series(LineSeries::new(pts, c.color.stroke_width(2))).map_err(e)?;
                    }
                    Mark::Dashed(k) => {
                        let (on, off) = dash(k);
                        chart.draw_series(DashedLineSeries::new(pts, on, off, c.color.stroke_width(2))).map_err(e)?;
                    }
                }
            }
        }};
    }
    let pow = |v: &f64| pow10_label(v.log10().round() as i32);
    // linear axes: plotters picks 1-2-5 steps; labels print the shortest decimal, and an
    // integer axis labels whole numbers only (≤ 8 labels, so the step is ≥ 1 on short spans)
    let lin = |v: &f64| trimmed(*v);
    let int = |v: &f64| if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { String::new() };
    let xl = if p.integer_x { ((x1 - x0).floor() as usize + 1).clamp(2, 8) } else { 8 };
    let xlin: &dyn Fn(&f64) -> String = if p.integer_x { &int } else { &lin };
    match (p.linear_x, p.log_y) {
        (false, true) => {
            body!(cb.build_cartesian_2d((x0..x1).log_scale().with_key_points(decade_ticks(x0, x1)), (y0..y1).log_scale().with_key_points(decade_ticks(y0, y1))).map_err(e)?, &pow, &pow, 10, 10)
        }
        (false, false) => body!(cb.build_cartesian_2d((x0..x1).log_scale().with_key_points(decade_ticks(x0, x1)), y0..y1).map_err(e)?, &pow, &lin, 10, 6),
        (true, true) => body!(cb.build_cartesian_2d(x0..x1, (y0..y1).log_scale().with_key_points(decade_ticks(y0, y1))).map_err(e)?, xlin, &pow, xl, 10),
        (true, false) => body!(cb.build_cartesian_2d(x0..x1, y0..y1).map_err(e)?, xlin, &lin, xl, 6),
    }
    let mut notes = p.notes.clone();
    if cut {
        notes.push("Curves are cut where they leave the axes (components run far below the data).".into());
    }
    legend(&legend_area, p, &notes)
}

/// `v` in its shortest decimal form (at most 6 decimals: `0.25`, `10`, never `10.0` or `-0`).
pub fn trimmed(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Word-wraps `s` to lines of at most `n` characters.
fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > n {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// The symbol of a legend entry.
enum Symbol {
    Square(RGBColor, f64),
    Curve(RGBColor, Mark),
}

/// The legend: one entry per labelled series with its own symbol, then the notes. Entries
/// that do not fit above the notes are counted in a last note, never dropped silently.
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel, notes: &[String]) -> Result<(), Err>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", LEGEND_FONT).into_font();
    let row = LEGEND_ROW;
    let text = |s: &str, x: i32, y: i32| Text::new(s.to_string(), (x, y - 10), font.clone());
    // a label longer than the column continues, indented, on the next rows (≈ 0.64 em a digit)
    let per_row = legend_chars();
    let entries = legend_entries(p);
    let note_rows: usize = notes.iter().map(|n| wrap(n, per_row + 6).len()).sum::<usize>() + 2;
    let bottom = area.dim_in_pixel().1 as i32 - note_rows as i32 * (row - 2) - row / 2;
    let mut y = 24;
    let mut shown = 0;
    for (k, (sym, label)) in entries.iter().enumerate() {
        let lines = wrap(label, per_row);
        if y + (lines.len() as i32 - 1) * row > bottom - if k + 1 < entries.len() { row } else { 0 } {
            break;
        }
        match *sym {
            Symbol::Square(c, a) => area.draw(&Rectangle::new([(6, y - 9), (36, y + 9)], c.mix(a).filled())).map_err(e)?,
            Symbol::Curve(c, Mark::Dots) => area.draw(&Circle::new((21, y), 4, c.filled())).map_err(e)?,
            Symbol::Curve(c, Mark::Line) => area.draw(&PathElement::new(vec![(4, y), (38, y)], c.mix(0.75).stroke_width(5))).map_err(e)?,
            Symbol::Curve(c, Mark::Thin) => area.draw(&PathElement::new(vec![(4, y), (38, y)], c.stroke_width(2))).map_err(e)?,
            Symbol::Curve(c, Mark::Dashed(d)) => {
                let (on, off) = dash(d);
                let mut x = 4;
                while x < 38 {
                    area.draw(&PathElement::new(vec![(x, y), ((x + on as i32).min(38), y)], c.stroke_width(2))).map_err(e)?;
                    x += (on + off) as i32;
                }
            }
        }
        for (i, l) in lines.iter().enumerate() {
            area.draw(&text(l, if i == 0 { 46 } else { 62 }, y)).map_err(e)?;
            y += row;
        }
        shown += 1;
    }
    let mut notes = notes.to_vec();
    if shown < entries.len() {
        notes.insert(0, format!("{} more legend entries do not fit: {} …", entries.len() - shown, entries[shown].1));
    }
    y += row / 2;
    for n in &notes {
        for l in wrap(n, per_row + 6) {
            area.draw(&text(&l, 6, y)).map_err(e)?;
            y += row - 2;
        }
    }
    Ok(())
}

/// Draws the figure on a backend.
pub fn render<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, f: &Figure) -> Result<(), Err>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(e)?;
    for (a, p) in root.split_evenly(f.grid()).iter().zip(&f.panels) {
        panel(a, p)?;
    }
    root.present().map_err(e)
}

/// The figure as an SVG document whose natural size is given in inches (150 dpi).
pub fn svg(f: &Figure) -> Result<String, Err> {
    let (w, h) = size(f);
    let mut buf = String::new();
    render(SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area(), f)?;
    let head = format!("<svg width=\"{w}\" height=\"{h}\" ");
    let sized = format!("<svg width=\"{}in\" height=\"{}in\" ", w as f64 / DPI, h as f64 / DPI);
    Ok(buf.replacen(&head, &sized, 1))
}

/// Writes the figure as a PNG file (RGB, 150 dpi natural size).
pub fn png(f: &Figure, path: &std::path::Path) -> Result<(), Err> {
    render(BitMapBackend::new(path, size(f)).into_drawing_area(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any limits, including 0, subnormals and ∞ (a far bin's density underflows), give at most
    /// ten finite decade ticks inside them, and log limits stay positive and finite.
    #[test]
    fn decade_ticks_and_log_limits_are_bounded_for_any_limits() {
        let special = [0.0, 5e-324, 1e-320, f64::MIN_POSITIVE, 1e-300, 1e-3, 1.0, 7.0, 1e15, 1e300, f64::MAX, f64::INFINITY];
        for &lo in &special {
            for &hi in &special {
                if hi < lo {
                    continue;
                }
                let t = decade_ticks(lo, hi);
                assert!(t.len() <= 10, "{lo:e}..{hi:e}: {} ticks", t.len());
                assert!(t.iter().all(|v| v.is_finite() && *v > 0.0), "{lo:e}..{hi:e}: {t:?}");
                if lo > 0.0 {
                    let (a, b) = log_limits(lo, hi.max(lo));
                    assert!(a > 0.0 && b.is_finite() && a <= b, "{lo:e}..{hi:e}: ({a:e}, {b:e})");
                    assert!(decade_ticks(a, b).len() <= 10);
                }
            }
        }
        assert_eq!(decade_ticks(1.0, 1000.0), vec![1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(decade_ticks(1e-30, 1e30).len(), 9);
    }
}
