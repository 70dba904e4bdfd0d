//! Overlaid line charts as inline SVG (no script, no third-party code): one series per cell,
//! a legend, axes with a few round ticks, a logarithmic y axis when the values are positive
//! and span more than three decades (a fit's objective trace, a fitter's error), log axes
//! with decade ticks written 10^k where asked ([`Axes`]: fitted mixtures over a histogram).
use super::html::esc;
use std::fmt::Write as _;

/// Series colours: Okabe–Ito (colour-blind safe; docs/figures.md) without its yellow, which a
/// thin line on white does not show, and black, which is the data's [`INK`]; grey and Tol's
/// wine complete the eight.
pub const PALETTE: [&str; 8] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F", "#882255"];
/// Dash patterns by colour index, so series stay apart in grey-scale print.
const DASHES: [&str; 4] = ["", "6 3", "2 2", "8 3 2 3"];

/// A series: label and y values (x is the index), or (x, y) pairs.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Index into [`PALETTE`] (a cell keeps its colour when another cell has no series), or
    /// [`INK`] for the data a model is drawn over.
    pub color: usize,
    /// Drawn as dots (data), not a line (a model, a trace).
    pub dots: bool,
}

/// The colour index of data: near-black, never a cell's colour.
pub const INK: usize = usize::MAX;

fn color(i: usize) -> &'static str {
    if i == INK { "#000000" } else { PALETTE[i % PALETTE.len()] }
}

/// The `stroke-dasharray` attribute of colour index `i` (none for the first and the data).
fn dash(i: usize) -> String {
    match DASHES[if i == INK { 0 } else { i % DASHES.len() }] {
        "" => String::new(),
        d => format!(r#" stroke-dasharray="{d}""#),
    }
}

/// How the axes of a chart are drawn.
#[derive(Debug, Clone, Default)]
pub struct Axes {
    /// Label under the x axis.
    pub xlabel: String,
    /// Label beside the y axis (empty: none).
    pub ylabel: String,
    /// Logarithmic x axis (positive x only).
    pub xlog: bool,
    /// Logarithmic y axis: `Some` forces it, `None` takes it when the values are positive and
    /// span more than three decades.
    pub ylog: Option<bool>,
    /// The y range shown (else the range of the values); what falls outside is clipped at the
    /// frame, e.g. a model's far tail below the smallest datum.
    pub yrange: Option<(f64, f64)>,
}

/// Round tick values covering `[lo, hi]` (about five).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    // also when a bound is NaN
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut v = Vec::new();
    while t <= hi + step * 1e-9 && v.len() < 12 {
        v.push(t);
        t += step;
    }
    v
}

fn label(x: f64) -> String {
    if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-3) { format!("{x:.0e}") } else { format!("{}", (x * 1e6).round() / 1e6) }
}

/// Decade ticks of a log axis spanning `[l0, l1]` (log10 units), at most about eight: every
/// decade, or every second or third when the span is wide.
fn decades(l0: f64, l1: f64) -> Vec<f64> {
    let (a, b) = (l0.ceil() as i64, l1.floor() as i64);
    let step = ((b - a) / 8 + 1).max(1);
    (a..=b).filter(|k| (k - a) % step == 0).map(|k| k as f64).collect()
}

/// `10^k` as SVG text (the exponent raised), 1 and 10 written out.
fn power_label(k: f64) -> String {
    match k as i64 {
        0 => "1".into(),
        1 => "10".into(),
        k => format!(r#"10<tspan dy="-5" font-size="9">{k}</tspan>"#),
    }
}

/// The chart as an `<svg>` element, `title` above it, `xlabel` under the x axis (a linear x
/// axis; see [`overlay_axes`]).
pub fn overlay(title: &str, xlabel: &str, series: &[Series]) -> String {
    overlay_axes(title, &Axes { xlabel: xlabel.into(), ..Default::default() }, series)
}

/// The chart as an `<svg>` element with its legend: `title` above it, axes as `ax` says.
pub fn overlay_axes(title: &str, ax: &Axes, series: &[Series]) -> String {
    let (w, h, ml, mr, mt, mb) = (640.0, 300.0, if ax.ylabel.is_empty() { 64.0 } else { 78.0 }, 16.0, 28.0, 40.0);
    let xok = |x: f64| x.is_finite() && (!ax.xlog || x > 0.0);
    let pts = || series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| xok(*x) && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return format!(r#"<p class="muted">{}: no finite values</p>"#, esc(title));
    }
    if let Some((a, b)) = ax.yrange {
        (y0, y1) = (a, b);
    }
    let log = ax.ylog.unwrap_or(y0 > 0.0 && y1 / y0 > 1e3);
    if log && !(y0 > 0.0) {
        // a forced log axis over values that reach 0: start at the smallest positive value
        y0 = pts().map(|p| p.1).filter(|y| *y > 0.0).fold(f64::INFINITY, f64::min);
        if !y0.is_finite() {
            return format!(r#"<p class="muted">{}: no positive values for a logarithmic axis</p>"#, esc(title));
        }
    }
    let fy = |y: f64| if log { y.log10() } else { y };
    let fx = |x: f64| if ax.xlog { x.log10() } else { x };
    let (ly0, ly1) = (fy(y0), fy(y1));
    let (ly0, ly1) = if ly1 > ly0 { (ly0, ly1) } else { (ly0 - 1.0, ly1 + 1.0) };
    let (lx0, lx1) = (fx(x0), fx(x1));
    let (lx0, lx1) = if lx1 > lx0 { (lx0, lx1) } else { (lx0 - 1.0, lx1 + 1.0) };
    let px = |x: f64| ml + (fx(x) - lx0) / (lx1 - lx0) * (w - ml - mr);
    let py = |y: f64| mt + (1.0 - (fy(y) - ly0) / (ly1 - ly0)) * (h - mt - mb);
    // an id for the clip path, unique enough within a page (title and size of the data)
    let clip = format!("c{:x}", title.bytes().chain(series.len().to_le_bytes()).fold(0xcbf29ce484222325u64, |a, b| (a ^ u64::from(b)).wrapping_mul(0x100000001b3)));
    let mut s = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><defs><clipPath id="{clip}"><rect x="{ml}" y="{mt}" width="{}" height="{}"/></clipPath></defs><text x="{ml}" y="16" class="ct">{t}</text>"#,
        w - ml - mr,
        h - mt - mb,
        t = esc(title)
    );
    let xt: Vec<(f64, String)> = if ax.xlog { decades(lx0, lx1).into_iter().map(|k| (10f64.powf(k), power_label(k))).collect() } else { ticks(x0, x1).into_iter().map(|t| (t, label(t))).collect() };
    for (t, l) in xt {
        let x = px(t);
        let _ = write!(s, r#"<line x1="{x:.1}" x2="{x:.1}" y1="{mt}" y2="{}" class="grid"/><text x="{x:.1}" y="{}" class="tk" text-anchor="middle">{l}</text>"#, h - mb, h - mb + 15.0);
    }
    let yt: Vec<(f64, String)> = if log { decades(ly0, ly1).into_iter().map(|k| (10f64.powf(k), power_label(k))).collect() } else { ticks(ly0, ly1).into_iter().map(|t| (t, label(t))).collect() };
    for (t, l) in yt {
        let y = py(t);
        let _ = write!(s, r#"<line x1="{ml}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{}" y="{:.1}" class="tk" text-anchor="end">{l}</text>"#, w - mr, ml - 6.0, y + 4.0);
    }
    let note = match (ax.xlog, log) {
        (false, true) if ax.ylabel.is_empty() => " · y logarithmic",
        _ => "",
    };
    let _ = write!(
        s,
        r#"<rect x="{ml}" y="{mt}" width="{}" height="{}" class="frame"/><text x="{}" y="{}" class="tk" text-anchor="middle">{}{note}</text>"#,
        w - ml - mr,
        h - mt - mb,
        (ml + w - mr) / 2.0,
        h - 4.0,
        esc(&ax.xlabel)
    );
    if !ax.ylabel.is_empty() {
        let (cx, cy) = (14.0, (mt + h - mb) / 2.0);
        let _ = write!(s, r#"<text x="{cx}" y="{cy}" class="tk" text-anchor="middle" transform="rotate(-90 {cx} {cy})">{}</text>"#, esc(&ax.ylabel));
    }
    let _ = write!(s, r#"<g clip-path="url(#{clip})">"#);
    for se in series {
        let c = color(se.color);
        let d: Vec<(f64, f64)> = se.points.iter().filter(|(x, y)| xok(*x) && y.is_finite() && (!log || *y > 0.0)).map(|&(x, y)| (px(x), py(y))).collect();
        if se.dots || d.len() == 1 {
            for (x, y) in d {
                let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{}" fill="{c}"/>"#, if se.dots { 2.2 } else { 3.0 });
            }
        } else {
            let d: Vec<String> = d.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(s, r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="1.6"{}/>"#, d.join(" "), dash(se.color));
        }
    }
    s.push_str("</g></svg>");
    let mut legend = String::from(r#"<ul class="legend">"#);
    for se in series {
        let mark = if se.dots {
            format!(r#"<circle cx="9" cy="5" r="3" fill="{}"/>"#, color(se.color))
        } else {
            format!(r#"<line x1="0" x2="18" y1="5" y2="5" stroke="{}" stroke-width="2.5"{}/>"#, color(se.color), dash(se.color))
        };
        let _ = write!(legend, r#"<li><svg width="18" height="10">{mark}</svg>{}</li>"#, esc(&se.label));
    }
    legend.push_str("</ul>");
    format!(r#"<figure class="chartbox">{s}{legend}</figure>"#)
}

/// Fewest numbers a plain array needs to be drawn as a series: shorter ones are a range, a
/// pair or a parameter vector (`[lo, hi]`, θ̂), shown as text.
pub const MIN_SERIES: usize = 5;

/// The numeric series of a JSON value: an array of at least [`MIN_SERIES`] numbers (y by
/// index) or of two or more `[x, y]` pairs.
pub fn series_of(v: &serde_json::Value) -> Option<Vec<(f64, f64)>> {
    let a = v.as_array().filter(|a| a.len() >= 2)?;
    if a.iter().all(|x| x.is_number()) {
        return (a.len() >= MIN_SERIES).then(|| a.iter().enumerate().map(|(i, x)| (i as f64, x.as_f64().unwrap_or(f64::NAN))).collect());
    }
    a.iter()
        .map(|p| {
            let p = p.as_array().filter(|p| p.len() == 2)?;
            Some((p[0].as_f64()?, p[1].as_f64()?))
        })
        .collect()
}

/// A named series of (x, y) points.
pub type Named = (String, Vec<(f64, f64)>);

/// The fields a record array is plotted against, in order of preference.
const X_FIELDS: [&str; 5] = ["epoch", "iteration", "generation", "step", "x"];

/// The series of an array of records (`[{epoch, train, val}, …]`, an lstm cell's `loss`):
/// x is the first of [`X_FIELDS`] every record holds as a number; each other field that every
/// record holds as a number is one series. `None` for anything else, or fewer than two records.
pub fn record_series(v: &serde_json::Value) -> Option<(&'static str, Vec<Named>)> {
    let a = v.as_array().filter(|a| a.len() >= 2)?;
    let recs: Vec<&serde_json::Map<String, serde_json::Value>> = a.iter().map(|r| r.as_object()).collect::<Option<_>>()?;
    let all_num = |k: &str| recs.iter().all(|r| r.get(k).is_some_and(serde_json::Value::is_number));
    let x = X_FIELDS.into_iter().find(|k| all_num(k))?;
    let fields: Vec<Named> =
        recs[0].keys().filter(|k| k.as_str() != x && all_num(k)).map(|k| (k.clone(), recs.iter().map(|r| (r[x].as_f64().unwrap_or(f64::NAN), r[k].as_f64().unwrap_or(f64::NAN))).collect())).collect();
    (!fields.is_empty()).then_some((x, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_series_against_their_epoch() {
        let v = serde_json::json!([{"epoch": 1, "train": 0.5, "val": 0.6, "note": "a"}, {"epoch": 2, "train": 0.4, "val": 0.55, "note": "b"}]);
        let (x, f) = record_series(&v).unwrap();
        assert_eq!(x, "epoch");
        assert_eq!(f, vec![("train".to_string(), vec![(1.0, 0.5), (2.0, 0.4)]), ("val".to_string(), vec![(1.0, 0.6), (2.0, 0.55)])]);
        // a field missing from one record is not a series; no x field, no chart
        assert_eq!(record_series(&serde_json::json!([{"epoch": 1, "a": 1, "b": 2}, {"epoch": 2, "a": 3}])).unwrap().1.len(), 1);
        assert!(record_series(&serde_json::json!([{"a": 1}, {"a": 2}])).is_none());
        assert!(record_series(&serde_json::json!([{"epoch": 1, "a": 1}])).is_none());
        assert!(record_series(&serde_json::json!([1, 2, 3, 4, 5])).is_none());
    }

    #[test]
    fn round_ticks() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.13, 0.61).len(), 5);
        assert_eq!(series_of(&serde_json::json!([1, 2.5, 3, 4, 5])).map(|p| p[1]), Some((1.0, 2.5)));
        // a range or a short parameter vector is not a series
        assert_eq!(series_of(&serde_json::json!([1, 2.5])), None);
        assert_eq!(series_of(&serde_json::json!([1, 2, 3, 4])), None);
        assert_eq!(series_of(&serde_json::json!([[1, 2], [3, 4]])), Some(vec![(1.0, 2.0), (3.0, 4.0)]));
        assert_eq!(series_of(&serde_json::json!(["a", 1])), None);
    }
}
