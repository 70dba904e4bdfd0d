//! Fitted mixtures over their histogram, for the compare page (docs/serve.md, "Compare"):
//! every compared cell whose response holds a mixture (`response.model`, flow-models'
//! `{"sum", "mix"}`) is drawn over the data it was fitted to, one PDF chart (log–log) and one
//! CDF chart (log x) per dataset and column, the data as dots and each cell's mixture as a
//! line in the cell's colour. The data curves are those of the interactive fit
//! (ifit/data.rs, histfit's plot grid); the dataset file is found as a replay finds it and
//! must still have the content hash the cell recorded.
use super::chart::{Axes, INK, Series, overlay_axes};
use super::html::esc;
use crate::browse::Cell;
use crate::ifit::data::curves;
use crate::ifit::mixture::Mixture;
use crate::replay::{ReplayOptions, resolve_dataset};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Where a dataset was found (`None`: the cell read none), or why it was not.
type Resolved = Result<Option<std::path::PathBuf>, String>;

/// One chart pair: a dataset file and column, and the cells fitted to it.
struct Group {
    dataset: String,
    column: String,
    path: Option<std::path::PathBuf>,
    /// (cell index, mixture)
    fits: Vec<(usize, Mixture)>,
}

/// The section of the compare page (empty when no compared cell holds a mixture). `label`
/// names a cell as the comparison table does; cell `i` is drawn in colour `i`.
pub fn section(dir: &Path, data_dir: Option<&Path>, cells: &[Cell], label: &dyn Fn(&Cell) -> String) -> String {
    let ctx = crate::replay::read_run_context(dir).ok();
    let opts = ReplayOptions { data_dir: data_dir.map(Path::to_path_buf), ..Default::default() };
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut notes: Vec<String> = Vec::new();
    let mut resolved: BTreeMap<Option<(String, Option<String>)>, Resolved> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let r = &c.record;
        let model = &r["response"]["model"];
        if !(model["mix"].is_array() || model.is_array()) {
            continue;
        }
        let m = match Mixture::from_json(model) {
            Ok(m) => m,
            Err(e) => {
                notes.push(format!("{}: the mixture cannot be drawn: {e}", label(c)));
                continue;
            }
        };
        let column = r["settings"]["column"].as_str().unwrap_or("flows").to_string();
        let dataset = r["dataset"]["id"].as_str().unwrap_or("").to_string();
        let used: Option<crate::record::DatasetUse> = serde_json::from_value(r["dataset"].clone()).ok();
        // once per dataset and content: a generated dataset is found by reading the
        // experiment's cell files, and a file dataset is hashed
        let key = used.as_ref().map(|u| (u.id.clone(), u.sha256.clone()));
        let found = resolved.entry(key).or_insert_with(|| resolve_dataset(dir, used.as_ref(), ctx.as_ref(), &opts).map(|d| d.map(|d| std::path::PathBuf::from(d.path))));
        let path = match found.clone() {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!("{}: no data drawn under its mixture: {e}", label(c)));
                None
            }
        };
        let key = (path.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(), column.clone());
        groups.entry(key).or_insert_with(|| Group { dataset, column, path, fits: Vec::new() }).fits.push((i, m));
    }
    if groups.is_empty() && notes.is_empty() {
        return String::new();
    }
    let mut b = String::from(r#"<h2>Fitted mixtures over the data</h2><div class="figs">"#);
    for g in groups.values() {
        let data = match g.path.as_deref().map(|p| curves(p, &g.column)) {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                notes.push(format!("dataset `{}`: {e}", g.dataset));
                None
            }
            None => None,
        };
        // the plot grid: the data's, else a geometric grid over 1 … 10^6
        let (xs, xmin) = match &data {
            Some(d) => (d.x.clone(), d.xmin),
            None => (crate::ifit::data::grid(1, 1_000_000), 1),
        };
        let xf = |i: usize| xs[i] as f64;
        let mut pdf: Vec<Series> = Vec::new();
        let mut cdf: Vec<Series> = Vec::new();
        if let Some(d) = &data {
            pdf.push(Series { label: format!("data ({})", g.column), points: (0..xs.len()).map(|i| (xf(i), d.pdf[i])).collect(), color: INK, dots: true });
            cdf.push(Series { label: format!("data ({})", g.column), points: (0..xs.len()).map(|i| (xf(i), d.cdf[i])).collect(), color: INK, dots: true });
        }
        for (i, m) in &g.fits {
            // the families, unless the label already names them (a sweep over `families`)
            let l = label(&cells[*i]);
            let name = if l.contains("families") { l } else { format!("{l} · {}", m.label()) };
            pdf.push(Series { label: name.clone(), points: xs.iter().map(|&x| (x as f64, m.plot_pdf(x, xmin))).collect(), color: *i, dots: false });
            cdf.push(Series { label: name, points: xs.iter().map(|&x| (x as f64, m.cdf(x))).collect(), color: *i, dots: false });
        }
        // the PDF's y range: the data's positive values (a model's far tail below them is
        // clipped at the frame, as histfit's plots do), else the models'
        let pos = |s: &[Series]| s.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|y| *y > 0.0 && y.is_finite()).fold((f64::INFINITY, 0f64), |(a, b), y| (a.min(y), b.max(y)));
        let (lo, hi) = if data.is_some() { pos(&pdf[..1]) } else { pos(&pdf) };
        let (_, top) = pos(&pdf);
        let yrange = (lo.is_finite() && hi > 0.0).then(|| (lo / 3.0, top.max(hi) * 2.0));
        let what = if g.dataset.is_empty() { g.column.clone() } else { format!("{} · {}", g.dataset, g.column) };
        let xlabel = format!("x ({})", g.column);
        b.push_str(&overlay_axes(&format!("PDF · {what}"), &Axes { xlabel: xlabel.clone(), ylabel: "probability / density".into(), xlog: true, ylog: Some(true), yrange }, &pdf));
        b.push_str(&overlay_axes(&format!("CDF · {what}"), &Axes { xlabel, ylabel: "cumulative share".into(), xlog: true, ylog: Some(false), yrange: Some((0.0, 1.0)) }, &cdf));
    }
    b.push_str("</div>");
    if !notes.is_empty() {
        b.push_str(r#"<ul class="note">"#);
        for n in &notes {
            let _ = write!(b, "<li>{}</li>", esc(n));
        }
        b.push_str("</ul>");
    }
    b.push_str(r#"<p class="note">The model PDF at x &lt; 1024 is the probability of the value, the density above, as histfit's plots draw it; data points are the histogram's empirical PDF and CDF on histfit's plot grid.</p>"#);
    b
}
