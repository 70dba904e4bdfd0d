//! `fit_traces`: the paper's per-user study (§VI) and traffic composition (§VII) from raw flow
//! records (`docs/endhost.md`, "Per-user study from flow records").
//!
//! The flow CSV is streamed one user at a time ([`crate::records::FlowReader`]); each user's
//! block goes through a bounded channel to the worker pool, which bins it at every bin size
//! ([`crate::binning`]), fits P / EP / EEP to each series with the same fitter and selection
//! rule as `fit_users`, and splits the flows at the composition bin size
//! ([`crate::composition`]). At most `threads + 2` users' records are in memory (16 bytes per
//! flow while reading, 20 while binning). Results
//! are collected in file order, so every number is the same for any thread count.
use crate::binning::{Windows, count_pairs, sort_flows};
use crate::caps::{ParetoExponent, dataset_path, fit_all, histogram, term};
use crate::composition::{Split, split_user};
use crate::data::Hist;
use crate::fit::{Fit, FitOptions};
use crate::model::{ALL, Model};
use crate::records::{FlowReader, PortKey, RecordFiles, UserFlows, key_name, parse_port_spec, read_activity, read_hosts};
use crate::select::SelectionRule;
use crate::traces::FORMAT_RECORDS;
use crate::validate::quantile;
use flowlab_abi::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A category of the composition: a name and its `proto/port` list.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CategoryMap {
    /// Name.
    pub name: String,
    /// Ports as `proto/port`.
    pub ports: Vec<String>,
}

fn d_categories() -> Vec<CategoryMap> {
    crate::traces::default_categories().into_iter().map(|c| CategoryMap { name: c.name, ports: c.ports }).collect()
}
fn d_bins() -> Vec<f64> {
    (2..=9).map(|i| f64::from(1u32 << i)).collect()
}
fn d_64() -> f64 {
    64.0
}
fn d_top() -> usize {
    24
}
fn d_true() -> bool {
    true
}

/// Settings of `fit_traces`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StudySettings {
    /// Window widths (s), the paper's 4, 8, …, 512.
    #[serde(default = "d_bins")]
    pub bin_seconds: Vec<f64>,
    /// Fit every host-on window, zeros included, as count + 1 (default: the paper's fit of the
    /// non-zero counts).
    #[serde(default)]
    pub keep_zeros: bool,
    /// Series with fewer fitted windows are skipped.
    #[serde(default = "crate::caps::d_min_n")]
    #[schemars(range(min = 1, max = crate::caps::MAX_SAMPLE))]
    pub min_n: usize,
    /// Fitter options.
    #[serde(default)]
    pub fitter: FitOptions,
    /// Selection rule.
    #[serde(default)]
    pub selection: SelectionRule,
    /// How α is rendered.
    #[serde(default)]
    pub pareto_exponent: ParetoExponent,
    /// Bin size of the α̂ / π̂ histograms and the α–π relation (Figs. 5–6).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 86400.0))]
    #[serde(default = "d_64")]
    pub hist_bin_seconds: f64,
    /// Bin size of the composition (§VII).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 86400.0))]
    #[serde(default = "d_64")]
    pub composition_bin_seconds: f64,
    /// Ports (proto/port) ranked by flows over all users that enter the categories.
    #[serde(default = "d_top")]
    #[schemars(range(min = 1, max = 131_072))]
    pub top_ports: usize,
    /// Port → category mapping of the top ports (others count as `other`).
    #[serde(default = "d_categories")]
    pub categories: Vec<CategoryMap>,
    /// The flow CSV is grouped by user (streamed); `false` reads it whole into memory.
    #[serde(default = "d_true")]
    pub grouped: bool,
    /// Edges of the α̂ histogram (rendered convention).
    #[serde(default = "crate::caps::d_alpha_edges")]
    pub alpha_edges: Vec<f64>,
    /// Edges of the π̂ histogram.
    #[serde(default = "crate::caps::d_pi_edges")]
    pub pi_edges: Vec<f64>,
}

impl StudySettings {
    /// Validates.
    pub fn check(&self) -> Result<(), PluginError> {
        self.fitter.check().map_err(|(k, m)| PluginError::config(format!("fitter.{k}"), m))?;
        crate::validate::check_rule(&self.selection, "selection")?;
        if ALL.iter().any(|m| !self.selection.order.contains(m)) {
            return Err(PluginError::config("selection.order", "fit_traces fits P, EP and EEP; the order must name all three"));
        }
        if self.bin_seconds.is_empty() || self.bin_seconds.iter().any(|b| !(b.is_finite() && *b > 0.0)) || self.bin_seconds.windows(2).any(|w| !(w[0] < w[1])) {
            return Err(PluginError::config("bin_seconds", "need an increasing list of positive window widths"));
        }
        for (k, v) in [("hist_bin_seconds", self.hist_bin_seconds), ("composition_bin_seconds", self.composition_bin_seconds)] {
            if !self.bin_seconds.contains(&v) {
                return Err(PluginError::config(k, format!("{k} = {v} is not one of bin_seconds {:?}", self.bin_seconds)));
            }
        }
        for (k, e) in [("alpha_edges", &self.alpha_edges), ("pi_edges", &self.pi_edges)] {
            if e.len() < 2 || e.windows(2).any(|w| !(w[0] < w[1])) {
                return Err(PluginError::config(k, "need at least two increasing edges"));
            }
        }
        let mut seen: BTreeMap<PortKey, &str> = BTreeMap::new();
        for (i, c) in self.categories.iter().enumerate() {
            for p in &c.ports {
                let k = parse_port_spec(p).ok_or_else(|| PluginError::config(format!("categories[{i}].ports"), format!("`{p}` is not `proto/port` (e.g. `tcp/443`)")))?;
                if let Some(o) = seen.insert(k, &c.name) {
                    return Err(PluginError::config(format!("categories[{i}].ports"), format!("`{p}` is in both `{o}` and `{}`", c.name)));
                }
            }
            if c.name == "other" {
                return Err(PluginError::config(format!("categories[{i}].name"), "`other` is reserved for ports outside the top ports or the mapping"));
            }
        }
        Ok(())
    }
}

/// Most kept windows of one (user, bin size) series: 4 bytes each while binning (400 MB);
/// 5 weeks at 4 s are 756 000.
pub const MAX_WINDOWS: usize = 100_000_000;

/// One (user, bin size) series after fitting.
struct Series {
    bin: f64,
    windows: usize,
    zeros: u64,
    n: u64,
    outside: u64,
    fitted: Option<(Vec<Fit>, Model, Option<crate::select::Decision>)>,
}

/// One user's results.
struct UserResult {
    user: String,
    flows: u64,
    series: Vec<Series>,
    composition: Option<crate::composition::UserComposition>,
}

fn process_user(s: &StudySettings, seed_hex: &str, hosts: &BTreeMap<String, Vec<(f64, f64)>>, activity: &BTreeMap<String, Vec<f64>>, mut u: UserFlows) -> Result<UserResult, PluginError> {
    sort_flows(&mut u.times, &mut u.keys);
    let on = hosts.get(&u.user).map(Vec::as_slice);
    let events = activity.get(&u.user).map(Vec::as_slice);
    let mut series = vec![];
    let mut composition = None;
    for &b in &s.bin_seconds {
        let w = match (on, hosts.is_empty()) {
            (Some(iv), _) => Windows::new(b, Some(iv), &u.times),
            // a hosts file without this user: the host was never on
            (None, false) => Windows::new(b, Some(&[]), &u.times),
            (None, true) => Windows::new(b, None, &u.times),
        };
        if w.len > MAX_WINDOWS {
            return Err(PluginError::data(format!("user `{}`: {} windows of {b} s while the host was on; at most {MAX_WINDOWS} per series (use larger bin_seconds)", u.user, w.len)));
        }
        let (counts, outside) = w.counts(&u.times);
        let (pairs, zeros) = count_pairs(&counts, s.keep_zeros);
        let n: u64 = pairs.iter().map(|p| p.1).sum();
        let fitted = if n as usize >= s.min_n {
            let h = Hist::from_pairs(pairs).map_err(PluginError::run)?;
            let key = format!("{seed_hex}/user={}/bin={b}", u.user);
            let (fits, dec) = fit_all(&h, &ALL, &s.fitter, &s.selection, &key)?;
            let chosen = dec.as_ref().map(|d| d.winner).unwrap_or(Model::P);
            Some((fits, chosen, dec))
        } else {
            None
        };
        if b == s.composition_bin_seconds
            && !s.keep_zeros
            && let Some((fits, chosen, _)) = &fitted
        {
            let f = fits.iter().find(|f| f.model == *chosen).expect("fitted");
            let pos: Vec<u32> = w.positions(&u.times).collect();
            // with an activity file, a user without events was idle throughout
            let act: Option<Vec<bool>> = if activity.is_empty() { None } else { Some(events.map(|e| w.active(e)).unwrap_or_else(|| vec![false; w.len])) };
            composition = Some(split_user(*chosen, &f.theta, &counts, act.as_deref(), &pos, &u.keys));
        }
        series.push(Series { bin: b, windows: w.len, zeros, n, outside, fitted });
    }
    Ok(UserResult { user: u.user, flows: u.times.len() as u64, series, composition })
}

/// Box-plot numbers of `v` after the monotone map `g` (quartiles commute with it): median,
/// quartiles, whiskers at the most extreme values within 1.5 IQR, the values beyond as
/// outliers.
fn boxplot(v: &[f64], g: impl Fn(f64) -> f64) -> Value {
    let t: Vec<f64> = v.iter().map(|&x| g(x)).filter(|x| x.is_finite()).collect();
    if t.is_empty() {
        return Value::Null;
    }
    let (q1, med, q3) = (quantile(&t, 0.25), quantile(&t, 0.5), quantile(&t, 0.75));
    let (lo, hi) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    let inside: Vec<f64> = t.iter().copied().filter(|x| *x >= lo && *x <= hi).collect();
    let outliers: Vec<Value> = t.iter().filter(|x| **x < lo || **x > hi).map(|x| num(*x)).collect();
    json!({"n": t.len(), "median": num(med), "q1": num(q1), "q3": num(q3),
           "whisker_lo": num(inside.iter().copied().fold(f64::INFINITY, f64::min)), "whisker_hi": num(inside.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
           "outliers": outliers, "min": num(t.iter().copied().fold(f64::INFINITY, f64::min)), "max": num(t.iter().copied().fold(f64::NEG_INFINITY, f64::max))})
}

/// The symmetric log map used on the ln BF axes: `sign(x)·log₁₀(1 + |x|)`.
pub fn symlog(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p() / std::f64::consts::LN_10
}

/// The TeX label of a symmetric-log tick at 0 or ±10^k: `0`, `10^{2}`, `-10^{1}`.
pub fn symlog_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    format!("{}10^{{{}}}", if v < 0.0 { "-" } else { "" }, v.abs().log10().round())
}

/// Average ranks (ties share the mean rank), 1-based.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson's r of the average ranks) with a 95 % interval by
/// Fisher's z with the Fieller–Hartley–Pearson variance 1.06/(n − 3):
/// `tanh(atanh(ρ) ± 1.96·√(1.06/(n−3)))`. NaN interval below n = 4.
pub fn spearman(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let n = x.len();
    if n < 2 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let m = (n as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (a, b) = (rx[i] - m, ry[i] - m);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    let rho = sxy / (sxx * syy).sqrt();
    if n < 4 || !rho.is_finite() {
        return (rho, f64::NAN, f64::NAN);
    }
    let z = rho.clamp(-0.999_999_999, 0.999_999_999).atanh();
    let h = 1.959_963_984_540_054 * (1.06 / (n as f64 - 3.0)).sqrt();
    (rho, (z - h).tanh(), (z + h).tanh())
}

/// Table 2's sequential-correct rate of the reference for `truth` data at the largest
/// tabulated size not above n (the smallest size for n below it), with that size: accuracy
/// grows with n, so this is the rate Table 2 guarantees at n. P data: 1 (the walk does not add
/// a component to data without it: Table 2's EEP-vs-EP-on-EP row, one level down, is 1 at every
/// size). Interpolating in ln n between the sizes over-predicts: the rate rises steeply between
/// 1 000 and 5 000 (flowlab's own Table 2 design gives 0.78 at n = 1 500 where the log-linear
/// interpolation says 0.85).
pub fn table2_predicted(truth: Model, n: f64) -> (f64, usize) {
    let scen = match truth {
        Model::P => return (1.0, 0),
        Model::EP => "EP vs P | EP data",
        Model::EEP => "EEP vs EP | EEP data",
    };
    let rows: Vec<(usize, f64)> = crate::reference::TABLE2.iter().filter(|r| r.0 == scen).map(|r| (r.1, r.6)).collect();
    rows.iter().rev().find(|r| r.0 as f64 <= n).copied().map(|r| (r.1, r.0)).unwrap_or((rows[0].1, rows[0].0))
}

/// Cases per Table 2 cell of the reference (its rates carry a binomial error of that size).
const TABLE2_CASES: f64 = 100.0;

/// Runs `fit_traces`.
pub fn run_fit_traces(s: StudySettings, ctx: &Ctx) -> Result<Response, PluginError> {
    let (req, host) = (ctx.request(), ctx.host());
    let files = RecordFiles::locate(&dataset_path(req, FORMAT_RECORDS)?)?;
    let hosts = files.hosts.as_deref().map(read_hosts).transpose()?.unwrap_or_default();
    let activity = files.activity.as_deref().map(read_activity).transpose()?.unwrap_or_default();
    let mut reader = FlowReader::open(&files.flows)?;
    let has_ports = reader.has_ports;
    let pool = ctx.pool()?;
    let seed = req.seed_hex.as_str();
    let (s_ref, hosts_ref, act_ref) = (&s, &hosts, &activity);
    let (results, read_err, rows) = std::thread::scope(|sc| {
        // a rendezvous channel: a block is handed over only when a worker is free, so at most
        // threads + 2 users' records are in memory (being fitted, waiting, being read)
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, UserFlows)>(0);
        let worker = sc.spawn(move || pool.install(|| rx.into_iter().par_bridge().map(|(i, u)| (i, process_user(s_ref, seed, hosts_ref, act_ref, u))).collect::<Vec<_>>()));
        let mut err = None;
        let mut i = 0usize;
        let mut feed = |u: UserFlows| -> bool {
            let ok = tx.send((i, u)).is_ok();
            i += 1;
            ok
        };
        if s.grouped {
            loop {
                if let Err(e) = host.check_cancel() {
                    err = Some(e);
                    break;
                }
                match reader.next_user() {
                    Ok(Some(u)) => {
                        if !feed(u) {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
        } else {
            match reader.read_all() {
                Ok(all) => {
                    for u in all {
                        if !feed(u) {
                            break;
                        }
                    }
                }
                Err(e) => err = Some(e),
            }
        }
        drop(tx);
        (worker.join(), err, reader.rows)
    });
    if let Some(e) = read_err {
        return Err(e);
    }
    let mut results = results.map_err(|_| PluginError::run("a worker thread panicked while binning or fitting"))?;
    host.check_cancel()?;
    results.sort_by_key(|r| r.0);
    let users: Vec<UserResult> = results.into_iter().map(|(_, r)| r).collect::<Result<_, _>>()?;
    if users.is_empty() {
        return Err(PluginError::data(format!("{}: no flow records after the header", files.flows.display())));
    }
    let truth: Option<Value> = match &files.truth {
        Some(p) => {
            Some(serde_json::from_slice(&std::fs::read(p).map_err(|e| PluginError::data(format!("{}: {e}", p.display())))?).map_err(|e| PluginError::data(format!("{}: not JSON: {e}", p.display())))?)
        }
        None => None,
    };
    Ok(summarise(&s, &users, rows, has_ports, !hosts.is_empty(), !activity.is_empty(), truth.as_ref()))
}

fn fit_row(u: &UserResult, se: &Series, pe: ParetoExponent) -> Value {
    let mut row = json!({"user": u.user, "bin_seconds": se.bin, "windows": se.windows, "zeros": se.zeros, "n": se.n, "flows_outside_on": se.outside});
    match &se.fitted {
        None => row["selected"] = Value::Null,
        Some((fits, chosen, dec)) => {
            let f = fits.iter().find(|f| f.model == *chosen).expect("fitted");
            row["selected"] = json!(chosen);
            row["alpha"] = num(pe.show(f.theta[f.theta.len() - 1]));
            row["pi"] = num(if *chosen == Model::P { 1.0 } else { f.theta[0] });
            let fj: serde_json::Map<String, Value> = fits.iter().map(|f| (f.model.as_str().to_string(), json!({"theta": f.theta.iter().map(|v| num(*v)).collect::<Vec<_>>(), "loglik": num(f.loglik), "maxit_hits": f.maxit_hits, "restarts": f.restart_logliks.len(), "n_at_best": f.n_at_best}))).collect();
            row["fits"] = Value::Object(fj);
            if let Some(d) = dec {
                for c in &d.comparisons {
                    row[format!("lnbf_{}_{}", c.larger.as_str(), c.smaller.as_str())] = num(c.ln_bf);
                }
            }
        }
    }
    row
}

#[allow(clippy::too_many_arguments)]
fn summarise(s: &StudySettings, users: &[UserResult], rows: u64, has_ports: bool, has_hosts: bool, has_activity: bool, truth: Option<&Value>) -> Response {
    let pe = s.pareto_exponent;
    let (mut ev, mut it, mut capped) = (0u64, 0u64, false);
    let mut fit_rows = vec![];
    for u in users {
        for se in &u.series {
            if let Some((fits, _, _)) = &se.fitted {
                for f in fits {
                    ev += f.evaluations;
                    it += f.iterations;
                    capped |= f.maxit_hits > 0;
                }
            }
            fit_rows.push(fit_row(u, se, pe));
        }
    }
    let at = |bi: usize| users.iter().map(move |u| (u, &u.series[bi]));
    // Figs. 2-4: per bin size
    let mut per_bin = vec![];
    for (bi, &b) in s.bin_seconds.iter().enumerate() {
        let (mut ep_p, mut eep_ep) = (vec![], vec![]);
        let mut sel = [0usize; 3];
        for (_, se) in at(bi) {
            if let Some((fits, chosen, _)) = &se.fitted {
                let ll = |m: Model| fits.iter().find(|f| f.model == m).expect("fitted");
                ep_p.push(crate::select::ln_bf(ll(Model::EP), ll(Model::P)));
                eep_ep.push(crate::select::ln_bf(ll(Model::EEP), ll(Model::EP)));
                sel[ALL.iter().position(|m| m == chosen).unwrap_or(0)] += 1;
            }
        }
        let fitted = sel.iter().sum::<usize>();
        let share = |k: usize| if fitted > 0 { sel[k] as f64 / fitted as f64 } else { f64::NAN };
        per_bin.push(json!({"bin_seconds": b, "position": bi + 1, "fitted": fitted, "skipped": users.len() - fitted,
            "lnbf_EP_P": boxplot(&ep_p, symlog), "lnbf_EEP_EP": boxplot(&eep_ep, symlog),
            "lnbf_EP_P_median": num(quantile(&ep_p, 0.5)), "lnbf_EEP_EP_median": num(quantile(&eep_ep, 0.5)),
            "selected": {"P": sel[0], "EP": sel[1], "EEP": sel[2]}, "share": {"P": num(share(0)), "EP": num(share(1)), "EEP": num(share(2))}}));
    }
    // Figs. 5-6 and the α-π relation at hist_bin_seconds
    let hb = s.bin_seconds.iter().position(|&b| b == s.hist_bin_seconds).unwrap_or(0);
    let (mut alphas, mut pis, mut pts) = (vec![], vec![], vec![]);
    for (u, se) in at(hb) {
        if let Some((fits, chosen, _)) = &se.fitted {
            let f = fits.iter().find(|f| f.model == *chosen).expect("fitted");
            let a = pe.show(f.theta[f.theta.len() - 1]);
            alphas.push(a);
            let pi = if *chosen == Model::P { 1.0 } else { f.theta[0] };
            pis.push(pi);
            if *chosen != Model::P {
                pts.push(json!({"user": u.user, "alpha": num(a), "pi": num(pi), "model": chosen}));
            }
        }
    }
    let (xa, ya): (Vec<f64>, Vec<f64>) = pts.iter().map(|p| (p["alpha"].as_f64().unwrap_or(f64::NAN), p["pi"].as_f64().unwrap_or(f64::NAN))).unzip();
    let (rho, lo, hi) = spearman(&xa, &ya);
    let hist_json = |v: &[f64], e: &[f64]| {
        let c = histogram(v, e);
        let outside = v.len() as u64 - c.iter().sum::<u64>();
        let max = c.iter().copied().max().unwrap_or(0);
        // an integer tick step giving at most ~6 ticks
        let step = [1u64, 2, 5, 10, 20, 50, 100, 200, 500, 1000].into_iter().find(|st| max / st <= 6).unwrap_or(max.max(1));
        let span = e[e.len() - 1] - e[0];
        let xstep = [0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0].into_iter().find(|st| span / st <= 8.0).unwrap_or(span);
        let first = (e[0] / xstep).ceil() as i64;
        let ticks: Vec<Value> = (first..).map(|i| i as f64 * xstep).take_while(|x| *x <= e[e.len() - 1] + 1e-9).map(|x| num((x * 1e6).round() / 1e6)).collect();
        json!({"bins": e.windows(2).zip(&c).map(|(w, c)| json!({"lo": w[0], "hi": w[1], "count": c})).collect::<Vec<_>>(), "outside": outside, "n": v.len(), "ymax": (max / step + 1) * step, "ystep": step, "xticks": ticks})
    };
    // §VII composition
    let comp = composition(s, users, has_ports, has_activity);
    let mut r = Response { evaluations: ev, iterations: it, termination: term(capped), ..Default::default() };
    r.metrics.insert("users".into(), json!(users.len()));
    r.metrics.insert("records".into(), json!(rows));
    r.metrics.insert("series".into(), json!(fit_rows.len()));
    r.metrics.insert("fitted".into(), json!(fit_rows.iter().filter(|x| !x["selected"].is_null()).count()));
    r.metrics.insert("spearman_alpha_pi".into(), num(rho));
    r.data.insert("per_bin".into(), json!(per_bin));
    // the ln BF axes of Figs. 2-3 are symmetric-log: tick positions and their labels, every
    // one but 0 as ±10^k (one format on the axis, docs/figures.md)
    let ticks: Vec<Value> = [-1000.0, -100.0, -10.0, 0.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0].iter().map(|&v: &f64| json!({"pos": num(symlog(v)), "label": symlog_label(v)})).collect();
    r.data.insert("symlog".into(), json!({"ticks": ticks, "threshold": s.selection.threshold, "threshold_pos": num(symlog(s.selection.threshold))}));
    r.data.insert("rows".into(), json!(fit_rows));
    r.data.insert("hist_bin_seconds".into(), json!(s.hist_bin_seconds));
    r.data.insert("alpha_hist".into(), hist_json(&alphas, &s.alpha_edges));
    r.data.insert("pi_hist".into(), hist_json(&pis, &s.pi_edges));
    r.data.insert(
        "alpha_pi".into(),
        json!({"points": pts, "n": xa.len(), "spearman": num(rho), "ci95": [num(lo), num(hi)],
        "ci_method": "Fisher z, variance 1.06/(n-3) (Fieller, Hartley and Pearson 1957)", "excluded_P": alphas.len() - xa.len()}),
    );
    r.data.insert("composition".into(), comp);
    r.data.insert(
        "inputs".into(),
        json!({"records": rows, "users": users.len(), "flows_binned": users.iter().map(|u| u.flows).sum::<u64>(), "has_ports": has_ports, "has_hosts": has_hosts, "has_activity": has_activity}),
    );
    r.data.insert("settings".into(), serde_json::to_value(s).unwrap_or(Value::Null));
    r.data.insert("pareto_exponent".into(), json!(pe.label()));
    if let Some(t) = truth {
        r.data.insert("truth".into(), truth_check(s, users, t, r.data.get("composition").unwrap_or(&Value::Null), &alphas, &pis));
        if let Some(acc) = r.data["truth"]["recovered_share"].as_f64() {
            r.metrics.insert("truth_recovered_share".into(), num(acc));
            r.metrics.insert("truth_predicted_share".into(), r.data["truth"]["predicted_share"].clone());
        }
    }
    r
}

/// Merges the users' splits (in file order) and maps the top ports to categories.
fn composition(s: &StudySettings, users: &[UserResult], has_ports: bool, has_activity: bool) -> Value {
    if !has_ports {
        return json!({"available": false, "reason": "the flow records have no proto/dst_port columns"});
    }
    let mut by_key: BTreeMap<PortKey, Split> = BTreeMap::new();
    let mut windows = [0u64; 4];
    let mut thresholds = vec![];
    for u in users {
        if let Some(c) = &u.composition {
            for (k, sp) in &c.by_key {
                let e = by_key.entry(*k).or_default();
                for i in 0..4 {
                    e.hard[i] += sp.hard[i];
                    e.soft[i] += sp.soft[i];
                }
            }
            for (w, cw) in windows.iter_mut().zip(&c.windows) {
                *w += cw;
            }
            thresholds.push(c.threshold.map(|t| t as f64).unwrap_or(f64::NAN));
        }
    }
    let mut ranked: Vec<(PortKey, u64)> = by_key.iter().map(|(k, sp)| (*k, sp.hard.iter().sum())).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<PortKey> = ranked.iter().take(s.top_ports).map(|x| x.0).collect();
    let mapping: BTreeMap<PortKey, usize> = s.categories.iter().enumerate().flat_map(|(i, c)| c.ports.iter().filter_map(move |p| parse_port_spec(p).map(|k| (k, i)))).collect();
    let ncat = s.categories.len() + 1;
    let mut hard = vec![[0u64; 4]; ncat];
    let mut soft = vec![[0f64; 4]; ncat];
    for (k, sp) in &by_key {
        let c = if top.contains(k) { mapping.get(k).copied().unwrap_or(ncat - 1) } else { ncat - 1 };
        for i in 0..4 {
            hard[c][i] += sp.hard[i];
            soft[c][i] += sp.soft[i];
        }
    }
    let names: Vec<String> = s.categories.iter().map(|c| c.name.clone()).chain(["other".to_string()]).collect();
    // region totals: exp = idle+active of 0,1; tail = 2,3
    let tot_h = |idx: &[usize]| hard.iter().map(|h| idx.iter().map(|&i| h[i]).sum::<u64>()).sum::<u64>() as f64;
    let tot_s = |idx: &[usize]| soft.iter().map(|h| idx.iter().map(|&i| h[i]).sum::<f64>()).sum::<f64>();
    let parts: [(&str, &[usize]); 6] = [("exp", &[0, 1]), ("tail", &[2, 3]), ("exp_idle", &[0]), ("exp_active", &[1]), ("tail_idle", &[2]), ("tail_active", &[3])];
    let cats: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let mut o = json!({"name": name, "position": c + 1, "ports": if c + 1 < ncat { json!(s.categories[c].ports) } else { json!(["ports outside the top ports or the mapping"]) }});
            for (p, idx) in parts {
                let fh = idx.iter().map(|&i| hard[c][i]).sum::<u64>();
                let fs: f64 = idx.iter().map(|&i| soft[c][i]).sum();
                let (th, ts) = (tot_h(idx), tot_s(idx));
                o[format!("flows_{p}")] = json!(fh);
                o[format!("share_{p}")] = num(if th > 0.0 { fh as f64 / th } else { f64::NAN });
                o[format!("soft_share_{p}")] = num(if ts > 0.0 { fs / ts } else { f64::NAN });
            }
            o
        })
        .collect();
    let unmapped: Vec<String> = top.iter().filter(|k| !mapping.contains_key(k)).map(|k| key_name(*k)).collect();
    json!({"available": true, "bin_seconds": s.composition_bin_seconds, "has_activity": has_activity, "categories": cats,
        "top_ports": top.iter().zip(&ranked).map(|(k, r)| json!({"port": key_name(*k), "flows": r.1, "category": mapping.get(k).map(|&i| s.categories[i].name.clone()).unwrap_or_else(|| "other".into())})).collect::<Vec<_>>(),
        "unmapped_top_ports": unmapped, "users": thresholds.len(),
        "windows": {"exp_idle": windows[0], "exp_active": windows[1], "tail_idle": windows[2], "tail_active": windows[3]},
        "flows": {"exp": tot_h(&[0, 1]), "tail": tot_h(&[2, 3])},
        "median_threshold": num(quantile(&thresholds, 0.5)), "users_without_tail": thresholds.iter().filter(|t| t.is_nan()).count()})
}

/// Compares the study with a generator's `truth.json`: the model recovered per user at the
/// truth bin size against Table 2's prediction ([`table2_predicted`]; its standard deviation
/// adds the binomial spread over users, Σ p(1 − p), and the error of each Table 2 rate from its
/// 100 cases, shared by the users it predicts, with the rate smoothed to (hits + 1)/(cases + 2)), α̂ errors, and whether each category the
/// generator put in the tail (a larger share of the tail weights than of the body weights)
/// has a larger share of the tail region than of the exponential region.
fn truth_check(s: &StudySettings, users: &[UserResult], t: &Value, comp: &Value, _alphas: &[f64], _pis: &[f64]) -> Value {
    let tb = t["truth_bin_seconds"].as_f64().unwrap_or(f64::NAN);
    let Some(bi) = s.bin_seconds.iter().position(|&b| b == tb) else {
        return json!({"available": false, "reason": format!("the truth bin size {tb} s is not one of bin_seconds")});
    };
    let tu: BTreeMap<String, &Value> = t["users"].as_array().map(|a| a.iter().map(|u| (u["user"].as_str().unwrap_or("").to_string(), u)).collect()).unwrap_or_default();
    let mut confusion = [[0u64; 3]; 3];
    let (mut correct, mut expected, mut var, mut fitted) = (0u64, 0.0, 0.0, 0u64);
    let mut per_user = vec![];
    let mut alpha_err: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    // users per Table 2 cell used: that cell's own sampling error moves all of them together
    let mut cells: BTreeMap<(usize, usize), (f64, f64)> = BTreeMap::new();
    for u in users {
        let Some(tr) = tu.get(&u.user) else { continue };
        let Some(tm) = tr["model"].as_str().and_then(Model::parse) else { continue };
        let se = &u.series[bi];
        let Some((fits, chosen, _)) = &se.fitted else { continue };
        fitted += 1;
        let ti = ALL.iter().position(|m| *m == tm).unwrap_or(0);
        confusion[ti][ALL.iter().position(|m| m == chosen).unwrap_or(0)] += 1;
        let (p, row) = table2_predicted(tm, se.n as f64);
        expected += p;
        var += p * (1.0 - p);
        *cells.entry((ti, row)).or_insert((0.0, p)) = (cells.get(&(ti, row)).map(|c| c.0).unwrap_or(0.0) + 1.0, p);
        correct += (*chosen == tm) as u64;
        let th: Vec<f64> = tr["theta"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        let a_true = th.last().copied().unwrap_or(f64::NAN);
        // α̂ of the true model's fit (the selected one may be a different model)
        let f = fits.iter().find(|f| f.model == tm).expect("all models fitted");
        let a_hat = f.theta[f.theta.len() - 1];
        alpha_err.entry(tm.as_str()).or_default().push((a_hat - a_true) / a_true);
        per_user.push(json!({"user": u.user, "truth": tm, "selected": chosen, "n": se.n, "n_truth": tr["n"], "predicted": num(p), "alpha_true": num(a_true), "alpha_hat_true_model": num(a_hat)}));
    }
    // each cell's rate smoothed to (hits + 1)/(cases + 2) for its error, so that 100 of 100
    // still carries one
    var += cells
        .values()
        .map(|(k, p)| {
            let ps = (p * TABLE2_CASES + 1.0) / (TABLE2_CASES + 2.0);
            (k * (ps * (1.0 - ps) / TABLE2_CASES).sqrt()).powi(2)
        })
        .sum::<f64>();
    let tail_cats: Vec<Value> = t["categories"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let name = c["name"].as_str().unwrap_or("");
                    let m = comp["categories"].as_array().and_then(|cs| cs.iter().find(|x| x["name"] == json!(name)));
                    let (se, st) = m.map(|x| (x["share_exp"].as_f64().unwrap_or(f64::NAN), x["share_tail"].as_f64().unwrap_or(f64::NAN))).unwrap_or((f64::NAN, f64::NAN));
                    json!({"name": name, "tail_leaning": c["tail_leaning"], "share_exp": num(se), "share_tail": num(st), "comes_out_in_tail": st > se})
                })
                .collect()
        })
        .unwrap_or_default();
    let agree = tail_cats.iter().filter(|c| c["tail_leaning"].as_bool() == c["comes_out_in_tail"].as_bool()).count();
    json!({"available": true, "bin_seconds": tb, "users": fitted,
        "confusion": ALL.iter().enumerate().map(|(i, m)| json!({"truth": m, "P": confusion[i][0], "EP": confusion[i][1], "EEP": confusion[i][2], "total": confusion[i].iter().sum::<u64>()})).collect::<Vec<_>>(),
        "recovered": correct, "recovered_share": num(correct as f64 / fitted.max(1) as f64),
        "predicted": num(expected), "predicted_share": num(expected / fitted.max(1) as f64), "predicted_sd": num(var.sqrt()),
        "alpha_relerr_median": alpha_err.iter().map(|(k, v)| (k.to_string(), num(quantile(&v.iter().map(|x| x.abs()).collect::<Vec<_>>(), 0.5)))).collect::<serde_json::Map<_, _>>(),
        "categories": tail_cats, "categories_agree": agree, "per_user": per_user})
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn spearman_against_definition() {
        // no ties: 1 − 6 Σ d² / (n(n² − 1))
        let x = [1.0, 2.5, 0.3, 4.0, 9.0, 7.0];
        let y = [2.0, 1.0, 0.5, 3.0, 8.0, 9.0];
        let (rx, ry) = (ranks(&x), ranks(&y));
        let d2: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - b).powi(2)).sum();
        let want = 1.0 - 6.0 * d2 / (6.0 * 35.0);
        let (r, lo, hi) = spearman(&x, &y);
        assert!((r - want).abs() < 1e-12 && lo < r && r < hi);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 4.0, 3.0, 2.0, 1.0]).0 + 1.0).abs() < 1e-12);
    }
    #[test]
    fn symlog_and_table2_prediction() {
        assert_eq!(symlog(0.0), 0.0);
        assert!((symlog(9.0) - 1.0).abs() < 1e-15 && (symlog(-99.0) + 2.0).abs() < 1e-15);
        let labels: Vec<String> = [-100.0, -10.0, 0.0, 10.0, 1000.0].into_iter().map(symlog_label).collect();
        assert_eq!(labels, ["-10^{2}", "-10^{1}", "0", "10^{1}", "10^{3}"]);
        assert_eq!(table2_predicted(Model::EP, 1000.0), (0.81, 1000));
        assert_eq!(table2_predicted(Model::EP, 4999.0), (0.81, 1000));
        assert_eq!(table2_predicted(Model::EP, 100.0), (0.64, 500));
        assert_eq!(table2_predicted(Model::EEP, 50_000.0), (0.98, 20_000));
        assert_eq!(table2_predicted(Model::P, 10.0), (1.0, 0));
    }
}
