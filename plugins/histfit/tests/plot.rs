//! `plot`: flow-models' plot modes. Each mode's series are checked in the SVG (legend entries,
//! markers, paths, 10^k ticks, font sizes, tick labels apart); the KDE against scipy and
//! flow-models' own `--fft` KDE (Python via FLOWLAB_PYTHON); comp_stack against the mixture;
//! the formats, `single` and determinism through the capability.
mod common;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use histfit::hist::{Hist, XKind, YCol};
use histfit::mixture::Mixture;
use histfit::plots::{self, CdfMode, Figure, Models, Opts, PdfMode, draw, kde};
use serde_json::json;
use std::path::Path;

fn tutorial() -> Models {
    let m = |t: &str| Some(Mixture::from_json_str(t).unwrap());
    Models([m(histfit::sampling::TUTORIAL_FLOWS), m(histfit::sampling::TUTORIAL_PACKETS), m(histfit::sampling::TUTORIAL_OCTETS)])
}

fn small() -> Hist {
    Hist::read(&common::fixture("small_length.csv")).unwrap()
}

fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (y, t) in [("flows", histfit::sampling::TUTORIAL_FLOWS), ("packets", histfit::sampling::TUTORIAL_PACKETS), ("octets", histfit::sampling::TUTORIAL_OCTETS)] {
        std::fs::write(dir.path().join(format!("{y}.json")), t).unwrap();
    }
    dir
}

/// One `<text>` of the SVG.
#[derive(Debug)]
struct Text {
    x: f64,
    y: f64,
    size: f64,
    anchor: String,
    rotated: bool,
    body: String,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let k = format!(" {name}=\"");
    let i = tag.find(&k)? + k.len();
    Some(tag[i..i + tag[i..].find('"')?].to_string())
}

fn texts(svg: &str) -> Vec<Text> {
    let mut out = vec![];
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        let tag_end = i + rest[i..].find('>').unwrap();
        let tag = &rest[i..tag_end];
        let close = tag_end + rest[tag_end..].find("</text>").unwrap();
        out.push(Text {
            x: attr(tag, "x").unwrap().parse().unwrap(),
            y: attr(tag, "y").unwrap().parse().unwrap(),
            size: attr(tag, "font-size").unwrap().parse().unwrap(),
            anchor: attr(tag, "text-anchor").unwrap_or_else(|| "start".into()),
            rotated: tag.contains("rotate"),
            body: rest[tag_end + 1..close].trim().to_string(),
        });
        rest = &rest[close..];
    }
    out
}

/// Polylines of a stroke width and colour (axes and ticks are 1 wide and black).
fn lines(svg: &str, width: &str, color: &str) -> usize {
    svg.split("<polyline ").skip(1).filter(|t| t.contains(&format!("stroke=\"{color}\"")) && t.contains(&format!("stroke-width=\"{width}\""))).count()
}

fn count(svg: &str, tag: &str) -> usize {
    svg.matches(&format!("<{tag} ")).count()
}

/// Text points per SVG unit at the natural size (`width="8in"` over `viewBox` 1200).
fn pt_per_unit(svg: &str) -> f64 {
    let head = &svg[..svg.find('>').unwrap()];
    let w: f64 = attr(head, "width").unwrap().trim_end_matches("in").parse().unwrap();
    let vb: Vec<f64> = attr(head, "viewBox").unwrap().split(' ').map(|v| v.parse().unwrap()).collect();
    w * 72.0 / vb[2]
}

fn is_pow10(s: &str) -> bool {
    let mut c = s.chars();
    c.next() == Some('1') && c.next() == Some('0') && {
        let rest: Vec<char> = c.collect();
        !rest.is_empty() && rest.iter().all(|ch| "⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(*ch))
    }
}

/// Horizontal extent of a text (0.6 em per character, the sans-serif average).
fn span(t: &Text) -> (f64, f64) {
    let w = t.body.chars().count() as f64 * 0.6 * t.size;
    match t.anchor.as_str() {
        "end" => (t.x - w, t.x),
        "middle" => (t.x - w / 2.0, t.x + w / 2.0),
        _ => (t.x, t.x + w),
    }
}

/// The checks every figure passes: fonts ≥ 9 pt, tick labels apart, log ticks as 10^k; returns
/// the legend entries (texts at the entries' column of the legend).
fn common_checks(svg: &str, log_y: bool) -> Vec<String> {
    let ts = texts(svg);
    let k = pt_per_unit(svg);
    for t in &ts {
        assert!(t.size * k >= 9.0, "{:?} is {:.2} pt", t.body, t.size * k);
    }
    let plot_w = (draw::PANEL.0 - draw::LEGEND_W) as f64;
    // tick labels: the plot's texts but the axis titles (the y title is rotated, the x title
    // sits above the bottom edge with dy="-0.5ex")
    let ticks: Vec<&Text> = ts.iter().filter(|t| t.x < plot_w && !t.rotated && !t.body.starts_with("flow ")).collect();
    assert!(ticks.len() >= 4, "{ticks:?}");
    let xt: Vec<&&Text> = ticks.iter().filter(|t| t.anchor == "middle").collect();
    let yt: Vec<&&Text> = ticks.iter().filter(|t| t.anchor == "end").collect();
    assert!(xt.len() >= 2 && yt.len() >= 2, "x ticks {xt:?} y ticks {yt:?}");
    for t in &xt {
        assert!(is_pow10(&t.body), "x tick {:?} is not 10^k", t.body);
    }
    if log_y {
        for t in &yt {
            assert!(is_pow10(&t.body), "y tick {:?} is not 10^k", t.body);
        }
    }
    for w in xt.windows(2) {
        let (a, b) = (span(w[0]), span(w[1]));
        assert!(a.1 <= b.0 || b.1 <= a.0, "x tick labels {:?} and {:?} overlap", w[0].body, w[1].body);
    }
    for w in yt.windows(2) {
        assert!((w[0].y - w[1].y).abs() >= w[0].size, "y tick labels {:?} and {:?} overlap", w[0].body, w[1].body);
    }
    ts.iter().filter(|t| (t.x - (plot_w + 46.0)).abs() < 0.5).map(|t| t.body.clone()).collect()
}

fn pdf_svg(h: &Hist, y: YCol, pdf: Vec<PdfMode>, normalize: bool) -> (plots::Panel, String) {
    let m = tutorial();
    let o = Opts { pdf, normalize, ..Opts::default() };
    let p = plots::pdf_panel(h, XKind::Length, y, m.0[y as usize].as_ref(), &o).unwrap();
    let svg = draw::svg(&Figure { name: "t".into(), panels: vec![p.clone()] }).unwrap();
    (p, svg)
}

#[test]
fn default_pdf_is_the_data_line_and_the_mixture() {
    let h = small();
    let (_, svg) = pdf_svg(&h, YCol::Flows, vec![], true);
    let legend = common_checks(&svg, true);
    assert_eq!(legend, ["flows data (from the CDF)", "model (mixture)"]);
    assert_eq!(count(&svg, "circle"), 0, "no datapoints by default (flow-models' default modes)");
    assert_eq!(lines(&svg, "5", "#D55E00"), 2, "the data line and its legend line");
    assert_eq!(lines(&svg, "2", "#000000"), 2, "the mixture and its legend line");
}

#[test]
fn points_draws_one_dot_per_bin_in_a_colour_apart_from_the_line() {
    let h = small();
    for normalize in [true, false] {
        let (p, svg) = pdf_svg(&h, YCol::Packets, vec![PdfMode::Points], normalize);
        let legend = common_checks(&svg, true);
        let label = if normalize { "datapoints (normalized)" } else { "datapoints (log-binned)" };
        assert_eq!(legend, ["packets data (from the CDF)", label, "model (mixture)"]);
        // the fixture's 45 bins sit at distinct pixels: one marker each, plus the legend's
        assert_eq!(count(&svg, "circle"), h.len() + 1);
        let dots = p.curves.iter().find(|c| c.mark == draw::Mark::Dots).unwrap();
        assert_ne!(dots.color, p.curves[0].color, "datapoints and data in different colours");
        let c = h.column("packets_sum").unwrap();
        let tot: f64 = c.iter().map(|&v| v as f64).sum();
        let w = plots::figures::bin_widths(&h);
        for (i, q) in dots.xy.iter().enumerate() {
            let want = c[i] as f64 / tot / if normalize { w[i] } else { 1.0 };
            assert!((q.1 - want).abs() <= 1e-15 * want, "bin {i}: {} vs {want}", q.1);
        }
    }
}

#[test]
fn normalize_divides_by_the_distance_to_the_next_bin() {
    // flow-models' normalize_data: widths to the next bin_lo; the last to the bin_calc bin after it
    let h = Hist::parse("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n1,2,5,5,500\n3,4,2,6,600\n4096,4098,1,4096,5000\n8192,8196,1,8192,9000\n", "t").unwrap();
    assert_eq!(plots::figures::bin_widths(&h), vec![2.0, 4093.0, 4096.0, 4096.0]);
}

#[test]
fn comp_modes_draw_one_dashed_curve_or_band_per_component() {
    let h = small();
    let n = tutorial().0[0].as_ref().unwrap().comps.len();
    let (_, svg) = pdf_svg(&h, YCol::Flows, vec![PdfMode::Comp], true);
    let plain = common_checks(&svg, true);
    assert_eq!(plain.len(), 2 + n, "every drawn component has a legend entry: {plain:?}");
    assert!(plain[2..].iter().enumerate().all(|(k, l)| *l == format!("component {}", k + 1)), "parameters only with comp_labels: {plain:?}");
    let (_, labelled) = pdf_svg(&h, YCol::Flows, vec![PdfMode::Comp, PdfMode::CompLabels], true);
    let legend = common_checks(&labelled, true);
    assert_eq!(legend.len(), 2 + n, "{legend:?}");
    assert!(legend[2..].iter().all(|l| l.contains("uniform [") || l.contains("lognorm [")), "{legend:?}");
    let (p, stack) = pdf_svg(&h, YCol::Flows, vec![PdfMode::CompStack, PdfMode::CompLabels], true);
    assert_eq!(count(&stack, "polygon"), n, "one band per component");
    assert_eq!(p.bands.len(), n);
    assert_eq!(common_checks(&stack, true).len(), 2 + n);
}

/// comp_stack: the top of the stack is the mixture, for the PDF and the CDF, on every model.
#[test]
fn comp_stack_sums_to_the_mixture() {
    let h = small();
    let models = tutorial();
    for (k, y) in YCol::ALL.iter().enumerate() {
        let o = Opts { pdf: vec![PdfMode::CompStack], ..Opts::default() };
        let p = plots::pdf_panel(&h, XKind::Length, *y, models.0[k].as_ref(), &o).unwrap();
        let top = p.bands.last().unwrap();
        let mix = p.curves.iter().find(|c| c.label == "model (mixture)").unwrap();
        for (i, (&hi, q)) in top.hi.iter().zip(&mix.xy).enumerate() {
            assert!((hi - q.1).abs() <= 1e-12 * q.1.abs(), "{y:?} pdf at {i}: stack {hi} vs mixture {}", q.1);
        }
        for w in p.bands.windows(2) {
            assert_eq!(w[0].hi, w[1].lo, "bands are stacked");
        }
    }
    let o = Opts { cdf: vec![CdfMode::CompStack], ..Opts::default() };
    let p = plots::cdf_panel(&h, XKind::Length, &models, &o);
    let n0 = models.0[0].as_ref().unwrap().comps.len();
    let top = &p.bands[n0 - 1];
    let mix = p.curves.iter().find(|c| c.label == "flows model").unwrap();
    for (&hi, q) in top.hi.iter().zip(&mix.xy) {
        assert!((hi - q.1).abs() <= 1e-12, "cdf stack {hi} vs mixture {}", q.1);
    }
}

#[test]
fn cdf_and_avg_figures_pass_the_checks() {
    let h = small();
    let models = tutorial();
    let o = Opts { cdf: vec![CdfMode::Comp, CdfMode::CompLabels], ..Opts::default() };
    let svg = draw::svg(&Figure { name: "cdf".into(), panels: vec![plots::cdf_panel(&h, XKind::Length, &models, &o)] }).unwrap();
    let legend = common_checks(&svg, false);
    assert_eq!(&legend[..3], ["flows data", "packets data", "octets data"]);
    assert!(legend.contains(&"flows model".to_string()), "{legend:?}");
    // 3 data lines, 3 models and every component: more than a panel's height holds, so the
    // figure grows until every entry is listed (none is dropped or only counted)
    let all = 6 + models.0.iter().map(|m| m.as_ref().unwrap().comps.len()).sum::<usize>();
    assert_eq!(legend.len(), all, "{legend:?}");
    assert!(!texts(&svg).iter().any(|t| t.body.contains("more legend entries do not fit")));
    let (_, height) = draw::size(&Figure { name: "cdf".into(), panels: vec![plots::cdf_panel(&h, XKind::Length, &models, &o)] });
    assert!(height > draw::PANEL.1, "the figure kept its height: {height}");
    let plot_w = (draw::PANEL.0 - draw::LEGEND_W) as f64;
    let last = texts(&svg).iter().filter(|t| t.x >= plot_w).map(|t| t.y + t.size).fold(0.0, f64::max);
    assert!(last <= height as f64, "legend text runs off the figure at y = {last}");
    // a figure whose legend fits keeps the panel's size
    let plain = Opts::default();
    assert_eq!(draw::size(&Figure { name: "cdf".into(), panels: vec![plots::cdf_panel(&h, XKind::Length, &models, &plain)] }), draw::PANEL);
    for what in ["packets", "octets", "packet_size"] {
        let f = plots::avg_figure(&h, XKind::Length, what, &models).unwrap();
        let svg = draw::svg(&f).unwrap();
        let legend = common_checks(&svg, what != "packet_size");
        assert!(legend.contains(&"datapoints (per bin)".to_string()) && legend.contains(&"inferred from the mixtures".to_string()), "{legend:?}");
        assert!(!svg.contains("infered"));
    }
}

#[test]
fn kde_mode_draws_its_bands_under_the_lines() {
    let h = small();
    for fft in [false, true] {
        let m = tutorial();
        let o = Opts { pdf: vec![PdfMode::Kde], fft, ..Opts::default() };
        let p = plots::pdf_panel(&h, XKind::Length, YCol::Octets, m.0[2].as_ref(), &o).unwrap();
        let svg = draw::svg(&Figure { name: "t".into(), panels: vec![p.clone()] }).unwrap();
        let legend = common_checks(&svg, true);
        let want = if fft { "octets datapoints, flows-weighted binned KDE" } else { "octets datapoints, flows-weighted KDE" };
        assert_eq!(legend[0], want.split(", ").next().unwrap().to_string() + ",", "{legend:?}");
        let cells = &p.cells[0].cells;
        assert!(!cells.is_empty() && count(&svg, "rect") > cells.len(), "one rectangle per run of a band, plus the legend's");
        // bands 1..16 of matplotlib's 17 levels; band 0 is left transparent
        assert!(cells.iter().all(|c| c.4 > plots::figures::KDE_BAND / 1.02 && c.4 < 1.0), "{:?}", cells.iter().map(|c| c.4).collect::<Vec<_>>());
    }
}

#[test]
fn hist_mode_counts_flows_per_log_cell() {
    let h = small();
    let (p, svg) = pdf_svg(&h, YCol::Flows, vec![PdfMode::Hist], true);
    common_checks(&svg, true);
    let cells = &p.cells[0].cells;
    assert!(!cells.is_empty());
    assert!(count(&svg, "rect") >= cells.len());
    // every drawn cell holds ≥ 1 flow: the cells' count never exceeds the datapoints'
    let outside = p.notes.iter().any(|n| n.contains("outside"));
    assert!(cells.len() <= h.len(), "{} cells for {} datapoints (outside noted: {outside})", cells.len(), h.len());
}

#[test]
fn formats_single_and_determinism_through_the_capability() {
    let h = common::fixture("small_length.csv");
    let dir = model_dir();
    let run = |s: serde_json::Value| {
        let out = tempfile::tempdir().unwrap();
        let r = call(&HistFit, &common::request("plot", s, Some(&h), out.path())).unwrap();
        (out, r)
    };
    let (out, r) = run(json!({"mixture_dir": dir.path(), "format": "pdf", "pdf_modes": ["comp_stack"], "cdf_modes": ["comp"]}));
    let names: Vec<&str> = r.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(names, ["cdf.pdf", "pdf-flows.pdf", "pdf-packets.pdf", "pdf-octets.pdf", "avg-packets.pdf", "avg-octets.pdf", "avg-packet_size.pdf"]);
    let pdf = std::fs::read(out.path().join("pdf-flows.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // the text is there: an embedded font
    assert!(pdf.windows(9).any(|w| w == b"/FontFile"), "no embedded font: the PDF lost its text");
    // the page has the figure's natural size, 8 in × 4.08 in (576 × 293.76 pt) like the SVG
    // and PNG (it was 10.7 in: a pixel taken as a point)
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/MediaBox [0 0 576 293.76]"), "{:?}", text.match_indices("/MediaBox").map(|(i, _)| &text[i..i + 40]).collect::<Vec<_>>());
    let (out2, _) = run(json!({"mixture_dir": dir.path(), "format": "pdf", "pdf_modes": ["comp_stack"], "cdf_modes": ["comp"]}));
    for n in &names {
        assert!(std::fs::read(out.path().join(n)).unwrap() == std::fs::read(out2.path().join(n)).unwrap(), "{n} differs between runs");
    }
    let (out, r) = run(json!({"mixture_dir": dir.path(), "single": true, "format": "png"}));
    let names: Vec<&str> = r.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(names, ["single.png", "avg-packets.png", "avg-octets.png", "avg-packet_size.png"]);
    let png = std::fs::read(out.path().join("single.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let (_, r) = run(json!({"mixture_dir": dir.path(), "format": "svg", "pdf_modes": ["points", "comp", "comp_labels"], "normalize": false}));
    assert_eq!(r.artifacts.len(), 7);
    // default: SVG and PNG both
    let (_, r) = run(json!({}));
    assert_eq!(r.artifacts.len(), 14);
    // `pgf`: each figure also as pgfplots for a TeX report, the same curves and legend
    let (out, r) = run(json!({"mixture_dir": dir.path(), "format": "png", "pgf": true}));
    let pgfs: Vec<&str> = r.artifacts.iter().filter(|a| a.kind == "pgf").map(|a| a.path.as_str()).collect();
    assert_eq!(pgfs, ["cdf.pgf", "pdf-flows.pgf", "pdf-packets.pgf", "pdf-octets.pgf", "avg-packets.pgf", "avg-octets.pgf", "avg-packet_size.pgf"]);
    assert_eq!(r.artifacts.len(), 14);
    let t = std::fs::read_to_string(out.path().join("pdf-flows.pgf")).unwrap();
    assert!(t.contains("xmode=log") && t.contains("ymode=log") && t.contains("{model (mixture)}"), "{t}");
}

#[test]
fn a_partial_mixture_dir_overlays_what_it_holds() {
    let h = common::fixture("small_length.csv");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flows.json"), histfit::sampling::TUTORIAL_FLOWS).unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = call(&HistFit, &common::request("plot", json!({"mixture_dir": dir.path(), "format": "svg"}), Some(&h), out.path())).unwrap();
    assert_eq!(r.artifacts.len(), 7);
    let flows = std::fs::read_to_string(out.path().join("pdf-flows.svg")).unwrap();
    assert!(flows.contains("model (mixture)"));
    let packets = std::fs::read_to_string(out.path().join("pdf-packets.svg")).unwrap();
    assert!(!packets.contains("model (mixture)"));
    let empty = tempfile::tempdir().unwrap();
    let e = call(&HistFit, &common::request("plot", json!({"mixture_dir": empty.path()}), Some(&h), out.path())).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("mixture_dir"), "{e:?}");
    let e = call(&HistFit, &common::request("plot", json!({"pdf_modes": ["kde", "contour"]}), Some(&h), out.path())).unwrap_err();
    assert!(e.message.contains("contour"), "{e:?}");
}

/// A random KDE sample: n points of a correlated cloud with positive weights.
fn cloud(n: usize, seed: u64) -> kde::Sample {
    use rand::{Rng, SeedableRng};
    let mut r = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut s = kde::Sample { x: vec![], y: vec![], w: vec![] };
    for _ in 0..n {
        let a: f64 = r.random::<f64>() * 6.0;
        s.x.push(a);
        s.y.push(-1.5 * a + r.random::<f64>() * 3.0 - 2.0);
        s.w.push(r.random::<f64>().powi(4) * 1e6 + 1.0);
    }
    s
}

/// Runs the Python oracle: scipy's gaussian_kde and flow-models' `--fft` gaussian_kde, with
/// `scripts/fm_plot_shim.py` (numpy ≥ 1.24 dropped histogram2d's `normed`, which flow-models
/// 2.2 still passes).
fn python_kde(py: &str, s: &kde::Sample, gx: &[f64], gy: &[f64], dir: &Path) -> (Vec<f64>, Vec<f64>) {
    let input = dir.join("kde.json");
    std::fs::write(&input, serde_json::to_string(&json!({"x": s.x, "y": s.y, "w": s.w, "gx": gx, "gy": gy})).unwrap()).unwrap();
    let code = r#"
import json, sys
import numpy as np, scipy.stats
sys.path.insert(0, sys.argv[2])
import fm_plot_shim
fm_plot_shim.patch()
d = json.load(open(sys.argv[1]))
from flow_models.lib.kde import gaussian_kde
x, y, w = np.array(d['x']), np.array(d['y']), np.array(d['w'])
xi, yi = np.meshgrid(np.array(d['gx']), np.array(d['gy']), indexing='ij')
pts = np.vstack([xi.flatten(), yi.flatten()])
exact = scipy.stats.gaussian_kde([x, y], weights=w)(pts)
fft = gaussian_kde([x, y], weights=w, fft=True)(pts)
print(json.dumps({'exact': [float(v) for v in exact], 'fft': [float(v) for v in fft]}))
"#;
    let o = std::process::Command::new(py).args(["-c", code, input.to_str().unwrap(), concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts")]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = |k: &str| v[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    (f("exact"), f("fft"))
}

fn assert_close(ours: &[f64], theirs: &[f64], rel: f64, what: &str) {
    let max = theirs.iter().copied().fold(0.0, f64::max);
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!((a - b).abs() <= rel * b.abs() + 1e-13 * max, "{what} at {i}: {a} vs {b}");
    }
}

/// The KDE on random clouds and on the tutorial's datapoints, against scipy (exact) and
/// flow-models' binned `--fft` KDE, at every grid point.
#[test]
fn kde_matches_scipy_and_flow_models_fft() {
    let Some(py) = common::python_with("flow_models") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, kde::Sample)> = (0..4u64).map(|seed| (format!("cloud seed {seed}"), cloud(50 + 97 * seed as usize, seed))).collect();
    if let Some(data) = common::data_dir() {
        let h = Hist::read(&data.join("agh_2015/histograms/all/length.csv")).unwrap();
        let pts = plots::figures::datapoints(&h, "packets_sum", true);
        let flows = h.column("flows_sum").unwrap();
        cases.push((
            "all/length packets".into(),
            kde::Sample { x: pts.iter().map(|q| q.0.log10()).collect(), y: pts.iter().map(|q| q.1.log10()).collect(), w: flows.iter().map(|&v| v as f64).collect() },
        ));
    }
    for (name, s) in &cases {
        let (x0, x1) = (s.x.iter().copied().fold(f64::INFINITY, f64::min), s.x.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        let (y0, y1) = (s.y.iter().copied().fold(f64::INFINITY, f64::min), s.y.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        // the evaluation grid spans part of the data, as the line's range does in the plot
        let (gx, gy) = (kde::linspace(x0, x1, plots::figures::NBINS), kde::linspace(y0 + 0.1 * (y1 - y0), y1, plots::figures::NBINS));
        let (exact, fft) = python_kde(&py, s, &gx, &gy, dir.path());
        assert_close(&kde::exact(s, &gx, &gy).unwrap().z, &exact, 1e-9, &format!("{name} exact"));
        assert_close(&kde::binned(s, &gx, &gy).unwrap().z, &fft, 1e-9, &format!("{name} binned"));
    }
}
