//! Overlaid line charts as inline SVG (no script, no third-party code): one series per cell,
//! a legend, axes with a few round ticks, a logarithmic y axis when the values are positive
//! and span more than three decades (a fit's objective trace, a fitter's error).
use super::html::esc;
use std::fmt::Write as _;

/// Series colours (distinguishable, also in grey print: light and dark alternate).
pub const PALETTE: [&str; 8] = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7b83", "#57606a"];

/// A series: label and y values (x is the index), or (x, y) pairs.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Index into [`PALETTE`] (a cell keeps its colour when another cell has no series).
    pub color: usize,
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

/// The chart as an `<svg>` element, `title` above it, `xlabel` under the x axis.
pub fn overlay(title: &str, xlabel: &str, series: &[Series]) -> String {
    let (w, h, ml, mr, mt, mb) = (640.0, 300.0, 64.0, 16.0, 28.0, 40.0);
    let pts = || series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
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
    let log = y0 > 0.0 && y1 / y0 > 1e3;
    let fy = |y: f64| if log { y.log10() } else { y };
    let (ly0, ly1) = (fy(y0), fy(y1));
    let (ly0, ly1) = if ly1 > ly0 { (ly0, ly1) } else { (ly0 - 1.0, ly1 + 1.0) };
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { (x0 - 1.0, x1 + 1.0) };
    let px = |x: f64| ml + (x - x0) / (x1 - x0) * (w - ml - mr);
    let py = |y: f64| mt + (1.0 - (fy(y) - ly0) / (ly1 - ly0)) * (h - mt - mb);
    let mut s = format!(r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><text x="{ml}" y="16" class="ct">{t}</text>"#, t = esc(title));
    for t in ticks(x0, x1) {
        let x = px(t);
        let _ = write!(s, r#"<line x1="{x:.1}" x2="{x:.1}" y1="{mt}" y2="{}" class="grid"/><text x="{x:.1}" y="{}" class="tk" text-anchor="middle">{}</text>"#, h - mb, h - mb + 14.0, label(t));
    }
    let yt: Vec<f64> = if log { ticks(ly0, ly1).into_iter().filter(|t| t.fract() == 0.0).map(|t| 10f64.powf(t)).collect() } else { ticks(ly0, ly1) };
    for t in yt {
        let y = py(t);
        let _ = write!(s, r#"<line x1="{ml}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{}" y="{:.1}" class="tk" text-anchor="end">{}</text>"#, w - mr, ml - 6.0, y + 4.0, label(t));
    }
    let _ = write!(s, r#"<rect x="{ml}" y="{mt}" width="{}" height="{}" class="frame"/><text x="{}" y="{}" class="tk" text-anchor="middle">{}{}</text>"#, w - ml - mr, h - mt - mb, (ml + w - mr) / 2.0, h - 6.0, esc(xlabel), if log { " · y logarithmic" } else { "" });
    for se in series {
        let c = PALETTE[se.color % PALETTE.len()];
        let d: Vec<String> = se.points.iter().filter(|(x, y)| x.is_finite() && y.is_finite() && (!log || *y > 0.0)).map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
        if d.len() == 1 {
            let _ = write!(s, r#"<circle cx="{}" cy="{}" r="3" fill="{c}"/>"#, d[0].split(',').next().unwrap_or("0"), d[0].split(',').nth(1).unwrap_or("0"));
        } else {
            let _ = write!(s, r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="1.6"/>"#, d.join(" "));
        }
    }
    s.push_str("</svg>");
    let mut legend = String::from(r#"<ul class="legend">"#);
    for se in series {
        let _ = write!(legend, r#"<li><svg width="18" height="10"><line x1="0" x2="18" y1="5" y2="5" stroke="{}" stroke-width="3"/></svg>{}</li>"#, PALETTE[se.color % PALETTE.len()], esc(&se.label));
    }
    legend.push_str("</ul>");
    format!(r#"<figure class="chartbox">{s}{legend}</figure>"#)
}

/// The numeric series of a JSON value: an array of numbers (y by index) or of `[x, y]` pairs.
pub fn series_of(v: &serde_json::Value) -> Option<Vec<(f64, f64)>> {
    let a = v.as_array().filter(|a| a.len() >= 2)?;
    if a.iter().all(|x| x.is_number()) {
        return Some(a.iter().enumerate().map(|(i, x)| (i as f64, x.as_f64().unwrap_or(f64::NAN))).collect());
    }
    a.iter().map(|p| {
        let p = p.as_array().filter(|p| p.len() == 2)?;
        Some((p[0].as_f64()?, p[1].as_f64()?))
    }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ticks() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.13, 0.61).len(), 5);
        assert_eq!(series_of(&serde_json::json!([1, 2.5])), Some(vec![(0.0, 1.0), (1.0, 2.5)]));
        assert_eq!(series_of(&serde_json::json!([[1, 2], [3, 4]])), Some(vec![(1.0, 2.0), (3.0, 4.0)]));
        assert_eq!(series_of(&serde_json::json!(["a", 1])), None);
    }
}
