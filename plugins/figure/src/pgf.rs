//! The same [`Figure`] as a pgfplots picture for the TeX reports, so that its text is the
//! document's text (docs/figures.md): one `axis` per panel in the report preamble's `flowlab`
//! style, the curves as inline coordinates in the figure's own colours, line styles and
//! marks, the legend beside the axes and the panel's notes as legend lines. A report
//! `\input`s the file inside a `figure` float with its caption.
//!
//! Limits are the renderer's ([`crate::draw::limits`]), so what the PNG cuts the TeX figure
//! cuts too, and says so in the same note. Shaded cells (the `hist` and `kde` modes) are not
//! drawn here: a panel with cells gets a legend line saying so.
use crate::draw::{limits, Figure, Mark, Panel};
use plotters::style::RGBColor;
use std::fmt::Write;

/// LaTeX-safe text: the special characters escaped, `…` as `\dots`.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\textbackslash{}"),
            '_' | '%' | '&' | '#' | '$' | '{' | '}' => {
                o.push('\\');
                o.push(c);
            }
            '~' => o.push_str("\\textasciitilde{}"),
            '^' => o.push_str("\\textasciicircum{}"),
            '…' => o.push_str("\\dots{}"),
            '≥' => o.push_str("$\\ge$"),
            '≤' => o.push_str("$\\le$"),
            '×' => o.push_str("$\\times$"),
            _ => o.push(c),
        }
    }
    o
}

fn colour(c: RGBColor) -> String {
    format!("{{rgb,255:red,{};green,{};blue,{}}}", c.0, c.1, c.2)
}

/// Drawing options of a curve (the PNG's marks, in points at the report's size).
fn style(c: RGBColor, m: Mark) -> String {
    let col = colour(c);
    match m {
        Mark::Line => format!("color={col}, line width=1.6pt, opacity=0.75, mark=none"),
        Mark::Thin => format!("color={col}, line width=0.8pt, mark=none"),
        Mark::Dashed(k) => {
            let pat = ["dashed", "densely dotted", "dash dot", "loosely dashed"][k % 4];
            format!("color={col}, line width=0.8pt, {pat}, mark=none")
        }
        Mark::Dots => format!("color={col}, only marks, mark=*, mark size=0.9pt"),
    }
}

fn num(v: f64) -> String {
    format!("{v:e}")
}

fn axis(out: &mut String, p: &Panel, width: &str) {
    let Some(((x0, x1), (y0, y1))) = limits(p) else {
        let _ = writeln!(out, "\\begin{{axis}}[flowlab, width={width}, height=5cm, hide axis, title={{{}}}]", escape(&p.title));
        for n in &p.notes {
            let _ = writeln!(out, "\\addlegendimage{{empty legend}}\\addlegendentry{{{}}}", escape(n));
        }
        out.push_str("\\end{axis}\n");
        return;
    };
    let mut opts = vec![format!("flowlab, flowlab legend right, width={width}, height=5.2cm")];
    if !p.linear_x {
        opts.push("xmode=log".into());
    }
    if p.log_y {
        opts.push("ymode=log".into());
    }
    if p.integer_x {
        let span = (x1 - x0).max(1.0);
        let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0].into_iter().find(|s| span / s <= 10.0).unwrap_or(1000.0);
        opts.push(format!("flowlab integer x={step}"));
    }
    // log ticks at whole decades, at most 7 labelled (the PNG's rule, tighter for the column)
    let decades = |lo: f64, hi: f64| {
        let t = crate::draw::decade_ticks(lo, hi);
        let step = t.len().div_ceil(7).max(1);
        t.iter().step_by(step).map(|v| num(*v)).collect::<Vec<_>>().join(",")
    };
    if !p.linear_x {
        opts.push(format!("xtick={{{}}}", decades(x0, x1)));
    }
    if p.log_y {
        opts.push(format!("ytick={{{}}}", decades(y0, y1)));
    }
    opts.push(format!("xmin={}, xmax={}, ymin={}, ymax={}", num(x0), num(x1), num(y0), num(y1)));
    opts.push(format!("xlabel={{{}}}, ylabel={{{}}}", escape(&p.xlabel), escape(&p.ylabel)));
    if !p.title.is_empty() {
        opts.push(format!("title={{{}}}", escape(&p.title)));
    }
    opts.push("legend style={text width=4.2cm, align=left}".into());
    let _ = writeln!(out, "\\begin{{axis}}[{}]", opts.join(",\n  "));
    let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (p.linear_x || x > 0.0) && (!p.log_y || y > 0.0);
    for b in &p.bands {
        let clamp = |v: f64| if v.is_finite() { v.clamp(y0, y1) } else { y0 };
        let mut pts: Vec<String> = b.x.iter().zip(&b.hi).map(|(&x, &y)| format!("({},{})", num(x), num(clamp(y)))).collect();
        pts.extend(b.x.iter().zip(&b.lo).rev().map(|(&x, &y)| format!("({},{})", num(x), num(clamp(y)))));
        let _ = writeln!(out, "\\addplot[draw=none, fill={}, fill opacity=0.5{}] coordinates {{{}}} -- cycle;", colour(b.color), if b.label.is_empty() { ", forget plot" } else { "" }, pts.join(" "));
        if !b.label.is_empty() {
            let _ = writeln!(out, "\\addlegendentry{{{}}}", escape(&b.label));
        }
    }
    // datapoints below the lines, as in the PNG
    let order = p.curves.iter().filter(|c| c.mark == Mark::Dots).chain(p.curves.iter().filter(|c| c.mark != Mark::Dots));
    for c in order {
        let pts: Vec<String> = c.xy.iter().filter(|q| keep(q)).map(|&(x, y)| format!("({},{})", num(x), num(y))).collect();
        if pts.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\\addplot[{}{}] coordinates {{{}}};", style(c.color, c.mark), if c.label.is_empty() { ", forget plot" } else { "" }, pts.join(" "));
        if !c.label.is_empty() {
            let _ = writeln!(out, "\\addlegendentry{{{}}}", escape(&c.label));
        }
    }
    let mut notes = p.notes.clone();
    if !p.cells.is_empty() {
        notes.push(format!("{} is drawn in the PNG/SVG of this figure only.", p.cells.iter().map(|c| c.label.as_str()).collect::<Vec<_>>().join(", ")));
    }
    let cut = p.curves.iter().any(|c| c.xy.iter().filter(|q| keep(q)).any(|q| q.1 < y0 || q.1 > y1));
    if cut {
        notes.push("Curves are cut where they leave the axes.".into());
    }
    for n in &notes {
        let _ = writeln!(out, "\\addlegendimage{{empty legend}}\\addlegendentry{{\\footnotesize {}}}", escape(n));
    }
    out.push_str("\\end{axis}\n");
}

/// The figure as a `tikzpicture` (panels side by side in two columns, or stacked when odd).
pub fn tex(f: &Figure) -> String {
    let (_, cols) = f.grid();
    let width = if cols == 1 { "0.6\\textwidth" } else { "0.3\\textwidth" };
    let mut out = format!("% {}: flowlab figure (plugins/figure/src/pgf.rs); needs the flowlab pgfplots style (templates/flowlab-preamble.tex)\n", f.name);
    out.push_str("\\begin{tikzpicture}\n");
    for (k, p) in f.panels.iter().enumerate() {
        let (r, c) = (k / cols, k % cols);
        let _ = writeln!(out, "\\begin{{scope}}[shift={{({}\\textwidth,{}cm)}}]", c as f64 * 0.52, -(r as f64) * 7.0);
        axis(&mut out, p, width);
        out.push_str("\\end{scope}\n");
    }
    out.push_str("\\end{tikzpicture}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::{palette, Curve};

    #[test]
    fn a_panel_becomes_one_axis_with_a_legend_entry_per_series() {
        let xy: Vec<(f64, f64)> = (1..=10).map(|k| (10f64.powi(k), 1.0 / k as f64)).collect();
        let p = Panel {
            xlabel: "flow length [packets]".into(),
            ylabel: "CDF_x [fraction]".into(),
            curves: vec![
                Curve { label: "data".into(), color: palette::VERMILLION, mark: Mark::Line, sets_range: true, xy: xy.clone() },
                Curve { label: String::new(), color: palette::BLACK, mark: Mark::Thin, sets_range: true, xy },
            ],
            ..Default::default()
        };
        let t = tex(&Figure::one("cdf", p));
        assert_eq!(t.matches("\\begin{axis}").count(), 1);
        assert_eq!(t.matches("\\addlegendentry").count(), 1, "{t}");
        assert!(t.contains("xmode=log") && t.contains("CDF\\_x") && t.contains("forget plot"), "{t}");
        assert!(t.contains("red,213;green,94;blue,0"), "the vermillion of the PNG: {t}");
    }
}
