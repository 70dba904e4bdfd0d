//! Reads an SVG back and checks the style rules a machine can check (docs/figures.md):
//!
//! - every text is ≥ 9 pt at the figure's natural size (`width="8in"` over the `viewBox`;
//!   a unitless width is CSS pixels, 96 per inch);
//! - no two texts' boxes overlap (a box is 0.6 em per character wide — the sans-serif
//!   average — and 1 em high: 0.76 em ascent, 0.24 em descent);
//! - tick labels of a log axis (a row or column of numeric labels holding a 10^k label, or
//!   values growing by a constant factor ≥ 10) are at most 8 characters long;
//! - every axis (a row of ≥ 2 numeric labels at one y, or a column at one x) has a title: a
//!   text with letters under the row, or rotated left of the column;
//! - every series has a legend entry: each drawn style (a polyline of ≥ 3 points, a dashed
//!   line's segments, a set of dots) is drawn once more as a legend symbol with a text just
//!   to its right.
//!
//! It knows the shapes plotters writes (`text`, `polyline`, `circle`, `rect`, `polygon`,
//! `line`), not the renderer's layout, so it works on any plugin's SVG.
use std::collections::{BTreeMap, BTreeSet};

/// One `<text>`.
#[derive(Debug, Clone)]
pub struct Text {
    /// Anchor x.
    pub x: f64,
    /// Anchor y.
    pub y: f64,
    /// Font size in SVG units.
    pub size: f64,
    /// `start`, `middle` or `end`.
    pub anchor: String,
    /// Turned by 90° (a y axis title).
    pub rotated: bool,
    /// The text.
    pub body: String,
    /// Baseline shift in em (plotters' `dy`: `0.76em` top, `0.5ex` centre, `-0.5ex` bottom).
    pub dy_em: f64,
}

impl Text {
    /// (x0, y0, x1, y1) of the text's box.
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        let w = self.body.chars().count() as f64 * 0.6 * self.size;
        let (a, b) = match self.anchor.as_str() {
            "end" => (-w, 0.0),
            "middle" => (-w / 2.0, w / 2.0),
            _ => (0.0, w),
        };
        let base = self.dy_em * self.size;
        let (c, d) = (base - 0.76 * self.size, base + 0.24 * self.size);
        if self.rotated {
            // rotate(270) about the anchor: along the text is up the page
            (self.x + c, self.y - b, self.x + d, self.y - a)
        } else {
            (self.x + a, self.y + c, self.x + b, self.y + d)
        }
    }
}

/// A drawn mark: its style key and the points.
#[derive(Debug, Clone)]
struct Shape {
    style: String,
    pts: Vec<(f64, f64)>,
}

fn num(n: roxmltree::Node, a: &str) -> f64 {
    n.attribute(a).and_then(|v| v.trim_end_matches("px").parse().ok()).unwrap_or(0.0)
}

fn points(s: &str) -> Vec<(f64, f64)> {
    s.split_whitespace()
        .filter_map(|p| {
            let (a, b) = p.split_once(',')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

/// Whether `s` is a tick label: a number, or 10 with a superscript exponent.
pub fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || ".-−+e×⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c)) && s.chars().any(|c| c.is_ascii_digit())
}

/// Whether `s` is `10` followed by a superscript exponent.
pub fn is_pow10(s: &str) -> bool {
    s.len() > 2 && s.starts_with("10") && s[2..].chars().all(|c| "⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c))
}

fn value(s: &str) -> Option<f64> {
    if is_pow10(s) {
        let e: String = s[2..]
            .chars()
            .map(|c| match c {
                '⁻' => '-',
                c => char::from_digit("⁰¹²³⁴⁵⁶⁷⁸⁹".chars().position(|d| d == c).unwrap_or(0) as u32, 10).unwrap_or('0'),
            })
            .collect();
        return e.parse::<i32>().ok().map(|k| 10f64.powi(k));
    }
    s.replace('−', "-").parse().ok()
}

fn overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    let tol = 0.5;
    a.0 + tol < b.2 && b.0 + tol < a.2 && a.1 + tol < b.3 && b.1 + tol < a.3
}

/// The texts of an SVG document.
pub fn texts(doc: &roxmltree::Document) -> Vec<Text> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let dy = n.attribute("dy").unwrap_or("0");
            let dy_em = if let Some(v) = dy.strip_suffix("em") {
                v.parse().unwrap_or(0.0)
            } else if let Some(v) = dy.strip_suffix("ex") {
                0.5 * v.parse::<f64>().unwrap_or(0.0)
            } else {
                0.0
            };
            Text {
                x: num(n, "x"),
                y: num(n, "y"),
                size: num(n, "font-size"),
                anchor: n.attribute("text-anchor").unwrap_or("start").to_string(),
                rotated: n.attribute("transform").is_some_and(|t| t.contains("rotate")),
                body: n.text().unwrap_or("").trim().to_string(),
                dy_em,
            }
        })
        .filter(|t| !t.body.is_empty())
        .collect()
}

/// Points per SVG unit at the natural size.
fn pt_per_unit(doc: &roxmltree::Document) -> f64 {
    let root = doc.root_element();
    let w = root.attribute("width").unwrap_or("0");
    let vb_w = root.attribute("viewBox").and_then(|v| v.split_whitespace().nth(2)?.parse::<f64>().ok());
    let (wv, unit_pt) = if let Some(v) = w.strip_suffix("in") {
        (v.parse::<f64>().unwrap_or(0.0), 72.0)
    } else if let Some(v) = w.strip_suffix("pt") {
        (v.parse::<f64>().unwrap_or(0.0), 1.0)
    } else {
        (w.trim_end_matches("px").parse::<f64>().unwrap_or(0.0), 0.75)
    };
    wv * unit_pt / vb_w.unwrap_or(wv)
}

/// Rows (same y, horizontal) and columns (same x, anchored at the end) of ≥ 2 tick labels.
fn axes(ts: &[Text]) -> Vec<(bool, Vec<&Text>)> {
    let mut rows: BTreeMap<(i64, String), Vec<&Text>> = BTreeMap::new();
    let mut cols: BTreeMap<i64, Vec<&Text>> = BTreeMap::new();
    for t in ts.iter().filter(|t| !t.rotated && is_numeric(&t.body)) {
        if t.anchor == "end" {
            cols.entry(t.x.round() as i64).or_default().push(t);
        } else {
            rows.entry((t.y.round() as i64, t.anchor.clone())).or_default().push(t);
        }
    }
    let mut out = vec![];
    out.extend(rows.into_values().filter(|v| v.len() >= 2).map(|v| (true, v)));
    out.extend(cols.into_values().filter(|v| v.len() >= 2).map(|v| (false, v)));
    out
}

fn is_log(labels: &[&Text]) -> bool {
    if labels.iter().any(|t| is_pow10(&t.body)) {
        return true;
    }
    let mut v: Vec<f64> = labels.iter().filter_map(|t| value(&t.body)).filter(|v| *v > 0.0).collect();
    v.sort_by(f64::total_cmp);
    v.len() >= 3 && v.windows(2).all(|w| w[1] / w[0] >= 9.99 && ((w[1] / w[0]) / (v[1] / v[0]) - 1.0).abs() < 1e-6)
}

/// Every problem found in `svg` (empty: it passes).
pub fn check_svg(svg: &str) -> Vec<String> {
    let doc = match roxmltree::Document::parse(svg) {
        Ok(d) => d,
        Err(e) => return vec![format!("not an SVG document: {e}")],
    };
    let mut bad = vec![];
    let ts = texts(&doc);
    let k = pt_per_unit(&doc);
    for t in &ts {
        if t.size * k < 9.0 - 1e-9 {
            bad.push(format!("text {:?} is {:.1} pt (< 9 pt at the natural size)", t.body, t.size * k));
        }
    }
    for (i, a) in ts.iter().enumerate() {
        for b in &ts[i + 1..] {
            if overlap(a.bbox(), b.bbox()) {
                bad.push(format!("texts {:?} and {:?} overlap", a.body, b.body));
            }
        }
    }
    for (horizontal, labels) in axes(&ts) {
        if is_log(&labels) {
            for t in labels.iter().filter(|t| t.body.chars().count() > 8) {
                bad.push(format!("log-axis tick label {:?} is longer than 8 characters (write 10^k)", t.body));
            }
        }
        let (x0, x1) = labels.iter().map(|t| t.x).fold((f64::INFINITY, f64::NEG_INFINITY), |a, x| (a.0.min(x), a.1.max(x)));
        let (y0, y1) = labels.iter().map(|t| t.y).fold((f64::INFINITY, f64::NEG_INFINITY), |a, y| (a.0.min(y), a.1.max(y)));
        let em = labels[0].size;
        let titled = if horizontal {
            ts.iter().any(|t| !t.rotated && t.body.chars().any(char::is_alphabetic) && t.y > y0 && t.y - y0 < 4.0 * em && t.x >= x0 - em && t.x <= x1 + em)
        } else {
            ts.iter().any(|t| t.rotated && t.body.chars().any(char::is_alphabetic) && t.x < x0 && x0 - t.x < 8.0 * em && t.y >= y0 - em && t.y <= y1 + em)
        };
        if !titled {
            let names: Vec<&str> = labels.iter().map(|t| t.body.as_str()).collect();
            bad.push(format!("{} axis with ticks {names:?} has no axis label", if horizontal { "an x" } else { "a y" }));
        }
    }
    bad.extend(legend_problems(&doc, &ts));
    bad
}

/// A style drawn as data must also be drawn as a legend symbol with a text on its right.
fn legend_problems(doc: &roxmltree::Document, ts: &[Text]) -> Vec<String> {
    let mut shapes = vec![];
    for n in doc.descendants() {
        let op = n.attribute("opacity").unwrap_or("1");
        match n.tag_name().name() {
            "polyline" => {
                let pts = points(n.attribute("points").unwrap_or(""));
                let style = format!("line {} width {} opacity {op}", n.attribute("stroke").unwrap_or("none"), n.attribute("stroke-width").unwrap_or("1"));
                shapes.push(Shape { style, pts });
            }
            "circle" => {
                let style = format!("dots {} opacity {op}", n.attribute("fill").unwrap_or("none"));
                shapes.push(Shape { style, pts: vec![(num(n, "cx"), num(n, "cy"))] });
            }
            _ => {}
        }
    }
    // a legend symbol: a short shape with a text starting just right of it, on its line
    let is_symbol = |s: &Shape| {
        let (xs, ys): (Vec<f64>, Vec<f64>) = s.pts.iter().copied().unzip();
        let (x1, ymid) = (xs.iter().copied().fold(f64::NEG_INFINITY, f64::max), ys.iter().sum::<f64>() / ys.len().max(1) as f64);
        s.pts.len() <= 2
            && ts.iter().any(|t| {
                !t.rotated && t.anchor == "start" && t.x >= x1 && t.x - x1 < 2.0 * t.size && (t.bbox().1 + t.bbox().3) / 2.0 - ymid < t.size && ymid - (t.bbox().1 + t.bbox().3) / 2.0 < t.size
            })
    };
    let axis_aligned = |s: &Shape| s.pts.windows(2).all(|w| w[0].0 == w[1].0 || w[0].1 == w[1].1);
    let mut drawn: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
    let mut legend: BTreeSet<&str> = BTreeSet::new();
    for s in &shapes {
        if is_symbol(s) {
            legend.insert(&s.style);
            continue;
        }
        let e = drawn.entry(&s.style).or_insert((0, true));
        e.0 += 1;
        e.1 &= axis_aligned(s) || s.style.starts_with("dots");
        if s.pts.len() >= 3 && !axis_aligned(s) {
            e.1 = false;
        }
    }
    drawn
        .into_iter()
        // a series: lines not all on the grid (axes, ticks and grid lines are), or ≥ 2 dots
        .filter(|(st, (n, grid))| if st.starts_with("dots") { *n >= 2 } else { !grid })
        .filter(|(st, _)| !legend.contains(st))
        .map(|(st, (n, _))| format!("a series drawn as {st} ({n} marks) has no legend entry"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::{self, Curve, Figure, Mark, Panel, palette};

    fn curve(label: &str, mark: Mark, xy: Vec<(f64, f64)>) -> Curve {
        Curve { label: label.into(), color: palette::BLUE, mark, sets_range: true, xy }
    }

    fn panel(curves: Vec<Curve>) -> Panel {
        Panel { xlabel: "epoch".into(), ylabel: "loss [MSE]".into(), linear_x: true, integer_x: true, log_y: true, curves, ..Default::default() }
    }

    #[test]
    fn a_rendered_figure_passes_and_an_unlabelled_series_does_not() {
        let xy: Vec<(f64, f64)> = (1..=40).map(|e| (e as f64, 10f64.powf(-(e as f64) / 10.0))).collect();
        let mut other = curve("validation", Mark::Dashed(0), xy.iter().map(|&(x, y)| (x, 2.0 * y)).collect());
        other.color = palette::VERMILLION;
        let good = draw::svg(&Figure::one("t", panel(vec![curve("train", Mark::Thin, xy.clone()), other.clone()]))).unwrap();
        assert_eq!(check_svg(&good), Vec::<String>::new());
        other.label.clear();
        let bad = draw::svg(&Figure::one("t", panel(vec![curve("train", Mark::Thin, xy), other]))).unwrap();
        let p = check_svg(&bad);
        assert!(p.iter().any(|m| m.contains("no legend entry") && m.contains("#D55E00")), "{p:?}");
    }

    #[test]
    fn overlapping_long_and_small_labels_are_found() {
        let svg = r##"<svg width="100" height="100" viewBox="0 0 100 100" xmlns="http://www.w3.org/2000/svg">
<text x="10" y="90" text-anchor="middle" font-size="12">100000000</text>
<text x="30" y="90" text-anchor="middle" font-size="12">1000000000</text>
<text x="50" y="90" text-anchor="middle" font-size="12">10000000000</text>
<text x="40" y="50" font-size="8">tiny</text></svg>"##;
        let p = check_svg(svg);
        assert!(p.iter().any(|m| m.contains("overlap")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("longer than 8")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("6.0 pt")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("no axis label")), "{p:?}");
    }
}
