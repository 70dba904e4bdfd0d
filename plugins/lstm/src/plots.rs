//! Figures (docs/lstm.md, "Figures"), each as SVG and PNG (plotters), without the original's two plotting bugs
//! (the "true" series is the truth, and test panels draw test traffics).
//!
//! 1. `pred_epoch{E}`: 2 × n grid, predicted vs true feature (default 7, frame length) over the
//!    sequence for n train (top) and n test (bottom) traffics, per evaluated epoch;
//! 2. `acc_dist_{key}`: (a) mean and median cosine over epochs, train and validation, with the
//!    final values; (b), (c) per-traffic mean cosine at the final evaluation, train and test;
//! 3. `loss`: training and validation loss per epoch;
//! 4. `dist_true_{name}`: per-traffic true-packet cosine of a file with its mean (test_rnn.py).
use crate::network::EvalRow;
use flowlab_abi::Artifact;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One traffic's series of one feature.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Traffic index in the file.
    pub traffic: usize,
    /// Real packets.
    pub real: usize,
    /// Predicted values per step.
    pub pred: Vec<f64>,
    /// True values per step.
    pub truth: Vec<f64>,
}

type R = Result<(), String>;

fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn bounds(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

macro_rules! render {
    ($dir:expr, $name:expr, $size:expr, |$root:ident| $body:block) => {{
        let mut arts = Vec::new();
        for ext in ["svg", "png"] {
            let file = format!("{}.{ext}", $name);
            let path = $dir.join(&file);
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> R {
                if ext == "svg" {
                    let $root = SVGBackend::new(&path, $size).into_drawing_area();
                    $root.fill(&WHITE).map_err(e2s)?;
                    $body
                    $root.present().map_err(e2s)
                } else {
                    let $root = BitMapBackend::new(&path, $size).into_drawing_area();
                    $root.fill(&WHITE).map_err(e2s)?;
                    $body
                    $root.present().map_err(e2s)
                }
            }));
            if matches!(res, Ok(Ok(()))) {
                arts.push(Artifact { name: file.clone(), path: file, kind: ext.into() });
            }
        }
        arts
    }};
}

fn lines<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, caption: &str, x_desc: &str, y_desc: &str, series: &[(&str, RGBColor, Vec<(f64, f64)>)], y_fixed: Option<(f64, f64)>) -> R {
    let xs = bounds(series.iter().flat_map(|s| s.2.iter().map(|p| p.0)));
    let ys = y_fixed.unwrap_or_else(|| bounds(series.iter().flat_map(|s| s.2.iter().map(|p| p.1))));
    let mut ch = ChartBuilder::on(area).caption(caption, ("sans-serif", 16)).margin(8).x_label_area_size(30).y_label_area_size(50).build_cartesian_2d(xs.0..xs.1, ys.0..ys.1).map_err(e2s)?;
    ch.configure_mesh().x_desc(x_desc).y_desc(y_desc).light_line_style(WHITE.mix(0.0)).draw().map_err(e2s)?;
    for (label, color, pts) in series {
        let c = *color;
        ch.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2))).map_err(e2s)?.label(*label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    if series.len() > 1 {
        ch.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(e2s)?;
    }
    Ok(())
}

fn points<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, caption: &str, vals: &[f64], mean: Option<f64>) -> R {
    let ys = bounds(vals.iter().copied().chain(mean));
    let mut ch = ChartBuilder::on(area).caption(caption, ("sans-serif", 16)).margin(8).x_label_area_size(30).y_label_area_size(50).build_cartesian_2d(-0.5..(vals.len() as f64 - 0.5).max(0.5), ys.0..ys.1).map_err(e2s)?;
    ch.configure_mesh().x_desc("traffic").y_desc("mean cosine").draw().map_err(e2s)?;
    ch.draw_series(vals.iter().enumerate().map(|(i, v)| Circle::new((i as f64, *v), 2, BLUE.filled()))).map_err(e2s)?;
    if let Some(m) = mean {
        ch.draw_series(LineSeries::new(vec![(-0.5, m), (vals.len() as f64 - 0.5, m)], RED.stroke_width(2))).map_err(e2s)?;
    }
    Ok(())
}

/// Figure 3: training and validation loss per epoch.
pub fn loss(dir: &Path, rows: &[(u64, f64, f64)]) -> Vec<Artifact> {
    if rows.is_empty() {
        return vec![];
    }
    let tr: Vec<(f64, f64)> = rows.iter().map(|r| (r.0 as f64, r.1)).collect();
    let va: Vec<(f64, f64)> = rows.iter().map(|r| (r.0 as f64, r.2)).collect();
    render!(dir, "loss", (800, 500), |root| {
        lines(&root, "training and validation loss (MSE)", "epoch", "loss", &[("train", BLUE, tr.clone()), ("validation", RED, va.clone())], None)?;
    })
}

/// Figure 1: predicted vs true feature over the sequence, train (top) and test (bottom).
pub fn predictions(dir: &Path, epoch: u64, label: &str, train: &[Sample], test: &[Sample]) -> Vec<Artifact> {
    let cols = train.len().max(test.len());
    if cols == 0 {
        return vec![];
    }
    let name = format!("pred_epoch{epoch}");
    render!(dir, name, (300 * cols as u32, 560), |root| {
        let panels = root.split_evenly((2, cols));
        for (row, set) in [(0usize, train), (1, test)] {
            for (k, s) in set.iter().enumerate() {
                let pts = |v: &[f64]| v.iter().enumerate().map(|(t, y)| (t as f64, *y)).collect::<Vec<_>>();
                let cap = format!("{} #{} ({} pkts), ep. {epoch}", if row == 0 { "train" } else { "test" }, s.traffic, s.real);
                lines(&panels[row * cols + k], &cap, "step", label, &[("true", BLACK, pts(&s.truth)), ("predicted", RED, pts(&s.pred))], None)?;
            }
        }
    })
}

/// Figure 2: mean/median cosine over epochs for `key`, and per-traffic final means.
pub fn acc_dist(dir: &Path, key: &str, evals: &[EvalRow], train: &[f64], test: &[f64]) -> Vec<Artifact> {
    if evals.is_empty() {
        return vec![];
    }
    let ser = |f: &dyn Fn(&EvalRow) -> f64| evals.iter().map(|e| (e.epoch as f64, f(e))).collect::<Vec<_>>();
    let last = &evals[evals.len() - 1];
    let what = match key {
        "true" => "true packets".to_string(),
        "1" => "packet #1".to_string(),
        n => format!("first {n} packets"),
    };
    let cap = format!("cosine, {what}: final mean train {:.3} / val {:.3}", last.train.mean_of(key), last.test.mean_of(key));
    let series = [
        ("train mean", BLUE, ser(&|e| e.train.mean_of(key))),
        ("train median", CYAN, ser(&|e| e.train.median_of(key))),
        ("val mean", RED, ser(&|e| e.test.mean_of(key))),
        ("val median", MAGENTA, ser(&|e| e.test.median_of(key))),
    ];
    let name = format!("acc_dist_{key}");
    render!(dir, name, (800, 900), |root| {
        let p = root.split_evenly((3, 1));
        lines(&p[0], &cap, "epoch", "cosine similarity", &series, None)?;
        points(&p[1], "per-traffic mean at the final evaluation: train", train, None)?;
        points(&p[2], "per-traffic mean at the final evaluation: validation", test, None)?;
    })
}

/// Figure 4: per-traffic true-packet cosine with its mean (test_rnn.py's distribution plot).
pub fn distribution(dir: &Path, name: &str, title: &str, per: &[f64]) -> Vec<Artifact> {
    let m = crate::metrics::mean(per);
    let cap = format!("{title} (mean {m:.3})");
    render!(dir, name, (800, 400), |root| {
        points(&root, &cap, per, Some(m))?;
    })
}
