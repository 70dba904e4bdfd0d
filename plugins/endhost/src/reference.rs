//! Numbers of the Python reference (`endhost_ref_summary.json`, written by the
//! Python peer, docs/endhost.md, "Validation designs" and docs/design.md §9: same designs, default root seed 20130414, method `ipm`, 100 cases per cell) shown
//! next to flowlab's own results in the validation tables. They are comparison values for the
//! reports and the statistical targets, never used to produce a result.
use serde_json::{Value, json};

/// Fig. 1 (α, median rel. err., Q1, Q3, share within ±5 %).
pub const FIG1: &[(f64, f64, f64, f64, f64)] = &[
    (1.5, -0.00012057707915510049, -0.005812738008862617, 0.006432278284310515, 1.0),
    (1.7, -0.0009334898392768733, -0.0074313467592132375, 0.007484934554465698, 1.0),
    (1.9, -0.0014658274566019184, -0.007286912688244429, 0.003738032393477668, 1.0),
    (2.1, -0.0020689565333509826, -0.00835477617814355, 0.00595761085893939, 0.96),
    (2.3, 0.0002027425602603982, -0.012612774399964454, 0.011096151877904364, 0.96),
    (2.5, 0.0004673300562371808, -0.00890879950122363, 0.010525370757126095, 0.97),
    (2.7, -0.0044491243567589146, -0.016673109092377285, 0.01846744145312039, 0.87),
    (2.9, 0.002639149884263534, -0.019961630958341005, 0.026299577008931797, 0.88),
];

/// Table 2 (scenario, n, median ln BF, q10, q90, pairwise correct, sequential correct, selected P/EP/EEP).
#[allow(clippy::type_complexity)]
pub const TABLE2: &[(&str, usize, f64, f64, f64, f64, f64, [u32; 3])] = &[
    ("EP vs P | EP data", 500, 14.349448539189325, -0.02376879253690731, 53.52752601504616, 0.64, 0.64, [36, 64, 0]),
    ("EP vs P | EP data", 1000, 41.93227979976348, 0.0853410267797699, 153.40420785700553, 0.81, 0.81, [19, 81, 0]),
    ("EP vs P | EP data", 5000, 169.21569399035707, 21.33483379211075, 776.2972177242156, 0.95, 0.95, [5, 95, 0]),
    ("EP vs P | EP data", 10000, 451.11084860338633, 52.03292024387866, 1387.8271342697503, 0.99, 0.99, [1, 99, 0]),
    ("EP vs P | EP data", 20000, 659.0627889787902, 83.27550151982504, 2537.6515508762286, 1.0, 1.0, [0, 100, 0]),
    ("EEP vs EP | EP data", 500, -5.282306193387058, -5.962352514651661, -3.9029083690112767, 1.0, 0.64, [36, 64, 0]),
    ("EEP vs EP | EP data", 1000, -5.873781242229484, -6.706839106287407, -4.634915432133947, 1.0, 0.81, [19, 81, 0]),
    ("EEP vs EP | EP data", 5000, -7.345712961949175, -8.210168046973923, -5.449914707604784, 1.0, 0.95, [5, 95, 0]),
    ("EEP vs EP | EP data", 10000, -8.310411060190745, -8.997256350090902, -6.557753562233483, 1.0, 0.99, [1, 99, 0]),
    ("EEP vs EP | EP data", 20000, -8.94638197677159, -9.562858040817082, -7.487754660728385, 1.0, 1.0, [0, 100, 0]),
    ("EEP vs EP | EEP data", 500, -2.3307405621373505, -5.547726896686777, 4.970917874136788, 0.05, 0.05, [11, 84, 5]),
    ("EEP vs EP | EEP data", 1000, 0.23125781755584285, -4.907860677875988, 10.406481498281085, 0.12, 0.12, [3, 85, 12]),
    ("EEP vs EP | EEP data", 5000, 17.280138337238895, -0.8338957712709087, 73.6318955011704, 0.7, 0.7, [0, 30, 70]),
    ("EEP vs EP | EEP data", 10000, 49.40701618579806, 6.104932625378206, 148.95861203005597, 0.88, 0.88, [0, 12, 88]),
    ("EEP vs EP | EEP data", 20000, 101.85352023271116, 35.64927680831243, 323.4044800074633, 0.98, 0.98, [0, 2, 98]),
];

/// The reference's Fig. 1 row for α, as JSON.
pub fn fig1_row(alpha: f64) -> Option<Value> {
    FIG1.iter().find(|r| (r.0 - alpha).abs() < 1e-9).map(|r| json!({"median_relerr": r.1, "q25_relerr": r.2, "q75_relerr": r.3, "frac_within_5pct": r.4}))
}

/// The reference's Table 2 row for (scenario, n), as JSON.
pub fn table2_row(scenario: &str, n: usize) -> Option<Value> {
    TABLE2.iter().find(|r| r.0 == scenario && r.1 == n).map(|r| {
        json!({"median_lnbf": r.2, "q10_lnbf": r.3, "q90_lnbf": r.4, "pairwise_correct": r.5, "sequential_correct": r.6,
               "selected": {"P": r.7[0], "EP": r.7[1], "EEP": r.7[2]}})
    })
}
