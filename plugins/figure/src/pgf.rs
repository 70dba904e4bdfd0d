//! The same [`Figure`] as a pgfplots picture for the TeX reports, so that its text is the
//! document's text (docs/figures.md): one `axis` per panel in the report preamble's `flowlab`
//! style, the curves as inline coordinates in the figure's own colours, line styles and
//! marks, the legend beside the axes and the panel's notes as legend lines. A report
//! `\input`s the file inside a `figure` float with its caption.
//!
//! Limits are the renderer's ([`crate::draw::limits`]), so what the PNG cuts the TeX figure
//! cuts too, and says so in the same note. Shaded cells (the `hist` and `kde` modes) are not
//! drawn here: a panel with cells gets a legend line saying so.
use crate::draw::{Figure, Mark, Panel, limits};
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

/// Whole-number tick step for an integer axis spanning `span`: the smallest of 1, 2, 5, 10, …
/// that keeps at most `max` intervals.
fn integer_step(span: f64, max: f64) -> f64 {
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0].into_iter().find(|s| span / s <= max).unwrap_or(10000.0)
}

/// The axis options of a panel with limits: log modes, ticks (at most `max_ticks` integer
/// intervals), limits, the axis labels (when `labels`) and the title.
fn axis_opts(p: &Panel, ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)), max_ticks: f64, labels: bool) -> Vec<String> {
    let mut opts = vec![];
    if !p.linear_x {
        opts.push("xmode=log".into());
    }
    if p.log_y {
        opts.push("ymode=log".into());
    }
    if p.integer_x {
        opts.push(format!("flowlab integer x={}", integer_step((x1 - x0).max(1.0), max_ticks)));
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
    } else if (0.01..1e5).contains(&y0.abs().max(y1.abs())) {
        // plain decimals (0.05, not 5·10^-2) on a linear axis of ordinary magnitude
        opts.push("y tick label style={/pgf/number format/.cd, fixed, precision=3}".into());
    }
    opts.push(format!("xmin={}, xmax={}, ymin={}, ymax={}", num(x0), num(x1), num(y0), num(y1)));
    if labels {
        opts.push(format!("xlabel={{{}}}, ylabel={{{}}}", escape(&p.xlabel), escape(&p.ylabel)));
    }
    if !p.title.is_empty() {
        opts.push(format!("title={{{}}}", escape(&p.title)));
    }
    opts
}

/// The bands and curves of a panel; legend entries only when `legend` (else `forget plot`).
/// Returns whether a curve leaves the y range (then the caller adds a note).
fn series(out: &mut String, p: &Panel, (y0, y1): (f64, f64), legend: bool) -> bool {
    let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (p.linear_x || x > 0.0) && (!p.log_y || y > 0.0);
    let forget = |label: &str| if label.is_empty() || !legend { ", forget plot" } else { "" };
    for b in &p.bands {
        let clamp = |v: f64| if v.is_finite() { v.clamp(y0, y1) } else { y0 };
        let mut pts: Vec<String> = b.x.iter().zip(&b.hi).map(|(&x, &y)| format!("({},{})", num(x), num(clamp(y)))).collect();
        pts.extend(b.x.iter().zip(&b.lo).rev().map(|(&x, &y)| format!("({},{})", num(x), num(clamp(y)))));
        let _ = writeln!(out, "\\addplot[draw=none, fill={}, fill opacity=0.5{}] coordinates {{{}}} -- cycle;", colour(b.color), forget(&b.label), pts.join(" "));
        if legend && !b.label.is_empty() {
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
        let _ = writeln!(out, "\\addplot[{}{}] coordinates {{{}}};", style(c.color, c.mark), forget(&c.label), pts.join(" "));
        if legend && !c.label.is_empty() {
            let _ = writeln!(out, "\\addlegendentry{{{}}}", escape(&c.label));
        }
    }
    p.curves.iter().any(|c| c.xy.iter().filter(|q| keep(q)).any(|q| q.1 < y0 || q.1 > y1))
}

fn axis(out: &mut String, p: &Panel, width: &str) {
    let Some(lims) = limits(p) else {
        let _ = writeln!(out, "\\begin{{axis}}[flowlab, width={width}, height=5cm, hide axis, title={{{}}}]", escape(&p.title));
        for n in &p.notes {
            let _ = writeln!(out, "\\addlegendimage{{empty legend}}\\addlegendentry{{{}}}", escape(n));
        }
        out.push_str("\\end{axis}\n");
        return;
    };
    let mut opts = vec![format!("flowlab, flowlab legend right, width={width}, height=5.2cm")];
    opts.extend(axis_opts(p, lims, 10.0, true));
    opts.push("legend style={text width=4.2cm, align=left}".into());
    let _ = writeln!(out, "\\begin{{axis}}[{}]", opts.join(",\n  "));
    let cut = series(out, p, lims.1, true);
    let mut notes = p.notes.clone();
    if !p.cells.is_empty() {
        notes.push(format!("{} is drawn in the PNG/SVG of this figure only.", p.cells.iter().map(|c| c.label.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if cut {
        notes.push("Curves are cut where they leave the axes.".into());
    }
    for n in &notes {
        let _ = writeln!(out, "\\addlegendimage{{empty legend}}\\addlegendentry{{\\footnotesize {}}}", escape(n));
    }
    out.push_str("\\end{axis}\n");
}

/// The legend of a panel: each labelled series' text and drawing options.
fn legend_key(p: &Panel) -> Vec<(String, String)> {
    let bands = p.bands.iter().filter(|b| !b.label.is_empty()).map(|b| (b.label.clone(), colour(b.color)));
    bands.chain(p.curves.iter().filter(|c| !c.label.is_empty()).map(|c| (c.label.clone(), style(c.color, c.mark)))).collect()
}

/// Whether the panels can share one legend: more than one panel, every panel with axes shows
/// the same labelled series, and no panel has a note, shaded cells or a curve cut at an axis
/// (those stay in per-panel legends). Panels without axes (nothing to draw) are allowed.
fn shares_legend(f: &Figure) -> bool {
    let drawn: Vec<&Panel> = f.panels.iter().filter(|p| limits(p).is_some()).collect();
    let Some(first) = drawn.first() else { return false };
    let key = legend_key(first);
    f.panels.len() > 1
        && !key.is_empty()
        && drawn.iter().all(|p| legend_key(p) == key && p.notes.is_empty() && p.cells.is_empty())
        && drawn.iter().all(|p| !series(&mut String::new(), p, limits(p).map_or((0.0, 0.0), |l| l.1), false))
}

/// A grid of panels that show the same series (lstm's `pred_epoch<E>`: 2 × 5): one
/// `groupplot` sized for the page (each axis 7 cm × 2.6 cm from three rows on, so five rows
/// and the caption fit a page), tick labels `\footnotesize`, at most 6 integer intervals per
/// axis, axis labels once at the left and bottom edges when every panel has the same, and one
/// legend in a row under the grid (`\pgfplotslegendfromname`, no second LaTeX run needed).
fn shared_grid(f: &Figure) -> String {
    let (rows, cols) = f.grid();
    let (w, h) = match (cols, rows) {
        (1, _) => ("10cm", "4cm"),
        (_, r) if r >= 3 => ("7cm", "2.6cm"),
        _ => ("7cm", "4cm"),
    };
    let same = |g: fn(&Panel) -> &str| f.panels.iter().filter(|p| limits(p).is_some()).map(g).collect::<std::collections::BTreeSet<_>>().len() == 1;
    // one pair of axis labels for the grid (drawn at the left and bottom edges) when every
    // panel has the same; else each panel its own
    let shared = same(|p| p.xlabel.as_str()) && same(|p| p.ylabel.as_str());
    let first = f.panels.iter().find(|p| limits(p).is_some()).expect("shares_legend: a panel with axes");
    // the legend's name is unique per figure float (the figure counter before its caption), so
    // two reports' cells with the same figure name define no label twice
    let stem: String = f.name.chars().filter(char::is_ascii_alphanumeric).collect();
    let name = format!("flowlab legend {stem} \\arabic{{figure}}");
    let mut out = format!(
        "% {}: flowlab figure (plugins/figure/src/pgf.rs), {rows} x {cols} panels with one legend; needs the flowlab pgfplots style and the groupplots library (templates/flowlab-preamble.tex)\n",
        f.name
    );
    out.push_str("\\begin{tikzpicture}\n");
    let mut group = format!("group size={cols} by {rows}, horizontal sep=1.5cm, vertical sep={}", if shared { "1.25cm" } else { "1.7cm" });
    let mut labels = String::new();
    if shared {
        group.push_str(", xlabels at=edge bottom, ylabels at=edge left");
        labels = format!(", xlabel={{{}}}, ylabel={{{}}}", escape(&first.xlabel), escape(&first.ylabel));
    }
    let _ = writeln!(out, "\\begin{{groupplot}}[flowlab, group style={{{group}}}, scale only axis, width={w}, height={h}, title style={{font=\\footnotesize}}{labels}]");
    let mut legend_done = false;
    for p in &f.panels {
        match limits(p) {
            Some(lims) => {
                let mut opts = axis_opts(p, lims, 6.0, !shared);
                let legend = !legend_done;
                if legend {
                    opts.push(format!("legend to name={{{name}}}, legend columns=-1, legend style={{/tikz/every even column/.append style={{column sep=8pt}}}}"));
                }
                let _ = writeln!(out, "\\nextgroupplot[{}]", opts.join(",\n  "));
                series(&mut out, p, lims.1, legend);
                legend_done = true;
            }
            None => {
                let _ = writeln!(out, "\\nextgroupplot[hide axis, xmin=0, xmax=1, ymin=0, ymax=1, title={{{}}}]", escape(&p.title));
                let _ = writeln!(out, "\\node[align=center, font=\\footnotesize, text width=6cm] at (rel axis cs:0.5,0.5) {{{}}};", p.notes.iter().map(|n| escape(n)).collect::<Vec<_>>().join("\\\\"));
            }
        }
    }
    out.push_str("\\end{groupplot}\n\\end{tikzpicture}\n");
    let _ = writeln!(out, "\\par\\smallskip\\pgfplotslegendfromname{{{name}}}\\par");
    out
}

/// The figure as a `tikzpicture`: panels that show the same series as one grid with one legend
/// ([`shared_grid`]); otherwise panels side by side in two columns (stacked when odd), each
/// with its legend and notes on its right.
pub fn tex(f: &Figure) -> String {
    if shares_legend(f) {
        return shared_grid(f);
    }
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
    use crate::draw::{Curve, palette};

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

    fn pred_panel(k: usize) -> Panel {
        let xy: Vec<(f64, f64)> = (0..40).map(|t| (t as f64, ((t * (k + 1)) % 7) as f64 / 7.0)).collect();
        Panel {
            title: format!("traffic {k}"),
            xlabel: "step [packet]".into(),
            ylabel: "Length [normalised]".into(),
            linear_x: true,
            integer_x: true,
            curves: vec![
                Curve { label: "true".into(), color: palette::BLACK, mark: Mark::Line, sets_range: true, xy: xy.clone() },
                Curve { label: "predicted".into(), color: palette::VERMILLION, mark: Mark::Dashed(0), sets_range: true, xy: xy.iter().map(|&(x, y)| (x, 1.0 - y)).collect() },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn panels_with_the_same_series_become_one_grid_with_one_legend() {
        let mut panels: Vec<Panel> = (0..9).map(pred_panel).collect();
        panels.push(Panel { title: "no test traffic 4".into(), notes: vec!["the test set has 4 traffics".into()], ..Default::default() });
        let t = tex(&Figure { name: "pred_epoch20".into(), panels });
        assert_eq!(t.matches("\\begin{groupplot}").count(), 1, "{t}");
        assert_eq!(t.matches("\\nextgroupplot").count(), 10, "{t}");
        assert!(t.contains("group size=2 by 5") && t.contains("height=2.6cm"), "five rows fit a page: {t}");
        // one legend: one entry per series, once; every other curve forgotten
        assert_eq!(t.matches("\\addlegendentry").count(), 2, "{t}");
        assert_eq!(t.matches("forget plot").count(), 16, "{t}");
        assert_eq!(t.matches("\\pgfplotslegendfromname{flowlab legend predepoch20 \\arabic{figure}}").count(), 1, "{t}");
        assert!(t.contains("legend to name={flowlab legend predepoch20 \\arabic{figure}}"), "{t}");
        // the shared axis labels once at the edges, at most 6 integer intervals on 0..39
        assert!(t.contains("xlabels at=edge bottom") && t.contains("ylabels at=edge left"), "{t}");
        assert_eq!(t.matches("xlabel={step [packet]}").count(), 1, "{t}");
        assert_eq!(t.matches("ylabel={Length [normalised]}").count(), 1, "{t}");
        assert!(t.contains("flowlab integer x=10") && !t.contains("flowlab integer x=5"), "{t}");
        // the empty panel says why
        assert!(t.contains("hide axis") && t.contains("the test set has 4 traffics"), "{t}");
    }

    #[test]
    fn panels_with_different_series_keep_their_own_legends() {
        let mut b = pred_panel(1);
        b.curves[1].label = "baseline".into();
        let t = tex(&Figure { name: "two".into(), panels: vec![pred_panel(0), b] });
        assert!(!t.contains("groupplot"), "{t}");
        assert_eq!(t.matches("\\addlegendentry").count(), 4, "{t}");
        // a note (something cut) also keeps the per-panel legends
        let mut c = pred_panel(1);
        c.notes.push("2 points above the axis".into());
        let t = tex(&Figure { name: "two".into(), panels: vec![pred_panel(0), c] });
        assert!(!t.contains("groupplot") && t.contains("2 points above the axis"), "{t}");
    }
}
