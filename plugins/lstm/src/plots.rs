//! Figures (docs/lstm.md, "Figures"), each as SVG and PNG through flowlab's figure system
//! (plugins/figure: the shared style of docs/figures.md), without the original's two plotting bugs
//! (the "true" series is the truth, and test panels draw test traffics).
//!
//! 1. `pred_epoch{E}`: n × 2 grid, predicted vs true feature (default 7, frame length) over the
//!    sequence for n train (left) and n test (right) traffics, per evaluated epoch (also as
//!    `.pgf`: one grid with one legend, for the report);
//! 2. `acc_dist_{key}`: (a) mean and median cosine over epochs, train and validation, with the
//!    final values; (b), (c) per-traffic mean cosine at the final evaluation, train and test;
//! 3. `loss`: training and validation loss per epoch;
//! 4. `dist_true_{name}`: per-traffic true-packet cosine of a file with its mean (test_rnn.py).
use crate::network::EvalRow;
use figure::{Curve, Figure, Mark, Panel, palette};
use flowlab_abi::Artifact;
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

/// Writes the figure as SVG and PNG; a figure that cannot be drawn is left out (the run's
/// numbers do not depend on it).
fn write(dir: &Path, f: &Figure) -> Vec<Artifact> {
    match figure::write_svg_png(dir, f) {
        Ok(files) => files.into_iter().map(|file| Artifact { kind: file.rsplit('.').next().unwrap_or("").into(), name: file.clone(), path: file }).collect(),
        Err(_) => vec![],
    }
}

fn curve(label: &str, color: figure::RGBColor, mark: Mark, xy: Vec<(f64, f64)>) -> Curve {
    Curve { label: label.into(), color, mark, sets_range: true, xy }
}

/// A panel over epochs (integer x axis).
fn epochs(title: &str, ylabel: &str, log_y: bool, curves: Vec<Curve>) -> Panel {
    Panel { title: title.into(), xlabel: "epoch".into(), ylabel: ylabel.into(), linear_x: true, integer_x: true, log_y, curves, ..Default::default() }
}

/// Per-traffic values as dots over the traffic index, with their mean as a line.
fn per_traffic(title: &str, vals: &[f64]) -> Panel {
    let m = crate::metrics::mean(vals);
    let n = vals.len() as f64;
    let dots = curve(&format!("traffic (n = {})", vals.len()), palette::BLUE, Mark::Dots, vals.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect());
    let mean = curve(&format!("mean {m:.3}"), palette::VERMILLION, Mark::Dashed(0), vec![(0.0, m), (0.5 * (n - 1.0), m), ((n - 1.0).max(1.0), m)]);
    Panel { title: title.into(), xlabel: "traffic [index]".into(), ylabel: "mean cosine similarity".into(), linear_x: true, integer_x: true, curves: vec![dots, mean], ..Default::default() }
}

/// Whether positive values span more than a decade (then the axis is logarithmic).
fn spans_decades(v: impl Iterator<Item = f64>) -> bool {
    let (lo, hi) = v.fold((f64::INFINITY, 0f64), |a, x| (a.0.min(x), a.1.max(x)));
    lo > 0.0 && hi / lo > 10.0
}

/// Figure 3: training and validation loss per epoch (log y when the loss falls by decades).
pub fn loss(dir: &Path, rows: &[(u64, f64, f64)]) -> Vec<Artifact> {
    if rows.is_empty() {
        return vec![];
    }
    let tr: Vec<(f64, f64)> = rows.iter().map(|r| (r.0 as f64, r.1)).collect();
    let va: Vec<(f64, f64)> = rows.iter().map(|r| (r.0 as f64, r.2)).collect();
    let log = spans_decades(rows.iter().flat_map(|r| [r.1, r.2]));
    let p = epochs("training and validation loss", "loss [MSE]", log, vec![curve("train", palette::BLUE, Mark::Thin, tr), curve("validation", palette::VERMILLION, Mark::Dashed(0), va)]);
    write(dir, &Figure::one("loss", p))
}

/// Figure 1: predicted vs true feature over the sequence; one row per sample traffic, train
/// on the left and test on the right.
pub fn predictions(dir: &Path, epoch: u64, label: &str, train: &[Sample], test: &[Sample]) -> Vec<Artifact> {
    let rows = train.len().max(test.len());
    if rows == 0 {
        return vec![];
    }
    let pts = |v: &[f64]| v.iter().enumerate().map(|(t, y)| (t as f64, *y)).collect::<Vec<_>>();
    let mut panels = vec![];
    for k in 0..rows {
        for (set, name) in [(train, "train"), (test, "test")] {
            let p = match set.get(k) {
                Some(s) => Panel {
                    title: format!("{name} traffic {} ({} packets), epoch {epoch}", s.traffic, s.real),
                    xlabel: "step [packet]".into(),
                    ylabel: format!("{label} [normalised]"),
                    linear_x: true,
                    integer_x: true,
                    curves: vec![curve("true", palette::BLACK, Mark::Line, pts(&s.truth)), curve("predicted", palette::VERMILLION, Mark::Dashed(0), pts(&s.pred))],
                    ..Default::default()
                },
                None => Panel { title: format!("no {name} traffic {k}"), notes: vec![format!("the {name} set has {} traffics", set.len())], ..Default::default() },
            };
            panels.push(p);
        }
    }
    // also as pgfplots for the TeX report: one grid sized for the page, one shared legend
    write_with_pgf(dir, &Figure { name: format!("pred_epoch{epoch}"), panels })
}

/// Writes the figure as SVG and PNG and as pgfplots (`<name>.pgf`) for the TeX report.
fn write_with_pgf(dir: &Path, f: &Figure) -> Vec<Artifact> {
    let mut arts = write(dir, f);
    if let Ok(file) = figure::write_pgf(dir, f) {
        arts.push(Artifact { name: file.clone(), path: file, kind: "pgf".into() });
    }
    arts
}

/// Figure 2: mean/median cosine over epochs for `key`, and per-traffic final means.
pub fn acc_dist(dir: &Path, key: &str, evals: &[EvalRow], train: &[f64], test: &[f64]) -> Vec<Artifact> {
    if evals.is_empty() {
        return vec![];
    }
    let ser = |f: &dyn Fn(&EvalRow) -> f64| evals.iter().map(|e| (e.epoch as f64, f(e))).collect::<Vec<_>>();
    let what = match key {
        "true" => "true packets".to_string(),
        "1" => "packet 1".to_string(),
        n => format!("first {n} packets"),
    };
    let curves = vec![
        curve("train mean", palette::BLUE, Mark::Thin, ser(&|e| e.train.mean_of(key))),
        curve("train median", palette::SKY, Mark::Dashed(1), ser(&|e| e.train.median_of(key))),
        curve("validation mean", palette::VERMILLION, Mark::Dashed(0), ser(&|e| e.test.mean_of(key))),
        curve("validation median", palette::ORANGE, Mark::Dashed(2), ser(&|e| e.test.median_of(key))),
    ];
    let panels = vec![
        epochs(&format!("cosine similarity, {what}"), "cosine similarity", false, curves),
        per_traffic("per traffic at the final evaluation: train", train),
        per_traffic("per traffic at the final evaluation: validation", test),
    ];
    // three panels stacked: one column; also as pgfplots for the TeX report
    write_with_pgf(dir, &Figure { name: format!("acc_dist_{key}"), panels })
}

/// Figure 4: per-traffic true-packet cosine with its mean (test_rnn.py's distribution plot).
pub fn distribution(dir: &Path, name: &str, title: &str, per: &[f64]) -> Vec<Artifact> {
    write(dir, &Figure::one(name, per_traffic(title, per)))
}
