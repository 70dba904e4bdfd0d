//! `generate_traces`: synthetic per-user flow records with known ground truth
//! (`docs/endhost.md`, "Synthetic traces").
//!
//! Per user: a model (P / EP / EEP, by `model_shares`) with θ drawn from the Table 2 design of
//! [`crate::validate`]; host-on periods (exponential lengths, edges on a grid of `align`
//! seconds so every bin size dividing `align` keeps or drops whole windows); activity periods
//! (alternating exponential active / idle spells, keyboard events as a Poisson stream while
//! active and the host is on). In every host-on window of `truth_bin_seconds` the window is
//! empty with probability `zero_share`, else it draws a mixture component and a count from
//! it (the zeta truncated at `max_flows_per_window` by rejection); its flows start uniformly
//! inside the window. Each flow takes an application category with weights `body` (window
//! drawn from a geometric component) or `tail` (from the zeta), times `active` when the flow
//! falls in an active spell, then a port of the category uniformly; `other_share` of the flows
//! go to a random unregistered port instead. The non-zero counts at `truth_bin_seconds` are
//! thus i.i.d. from the user's model: the truth the study must recover.
use crate::model::Model;
use crate::records::{PortKey, key_name, parse_port_spec};
use crate::sample::{geom_one, zeta_one};
use flowlab_abi::prelude::*;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Dataset format of flow records (a directory: `flows.csv`, `hosts.csv`, `activity.csv`,
/// `truth.json`; or a flow CSV alone).
pub const FORMAT_RECORDS: &str = "flow_records";
/// Largest number of users.
pub const MAX_TRACE_USERS: usize = 100_000;
/// Largest trace length in days.
pub const MAX_DAYS: f64 = 3660.0;
/// Largest users × days (the written volume grows with it).
pub const MAX_USER_DAYS: f64 = 100_000.0;

/// An application category of the generator.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CategorySpec {
    /// Name.
    pub name: String,
    /// Ports as `proto/port` (`tcp/443`).
    pub ports: Vec<String>,
    /// Relative weight in windows drawn from a geometric (exponential-body) component.
    pub body: f64,
    /// Relative weight in windows drawn from the zeta (tail) component.
    pub tail: f64,
    /// Weight multiplier while the user is active.
    #[serde(default = "one")]
    pub active: f64,
}
fn one() -> f64 {
    1.0
}

/// Nine categories in the spirit of the paper's §VII (top ports grouped by application):
/// background services lean to the body, user-driven bulk traffic to the tail, web both (and
/// more when the user is active).
pub fn default_categories() -> Vec<CategorySpec> {
    let c = |name: &str, ports: &[&str], body: f64, tail: f64, active: f64| CategorySpec { name: name.into(), ports: ports.iter().map(|s| s.to_string()).collect(), body, tail, active };
    vec![
        c("web", &["tcp/80", "tcp/443", "tcp/8080"], 3.0, 4.0, 3.0),
        c("dns", &["udp/53", "tcp/53"], 4.0, 0.8, 1.0),
        c("netbios", &["udp/137", "udp/138", "tcp/139", "tcp/445"], 3.0, 0.4, 1.0),
        c("mail", &["tcp/25", "tcp/110", "tcp/993", "tcp/587"], 1.5, 0.3, 1.0),
        c("ntp", &["udp/123"], 1.0, 0.1, 1.0),
        c("directory", &["tcp/389", "udp/88"], 1.0, 0.2, 1.0),
        c("ssh", &["tcp/22"], 0.3, 0.6, 2.0),
        c("p2p", &["tcp/6881", "udp/6881"], 0.1, 2.5, 1.0),
        c("streaming", &["tcp/1935", "udp/5004"], 0.1, 1.5, 2.0),
    ]
}

/// How times are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Seconds since the epoch, millisecond precision.
    #[default]
    Seconds,
    /// ISO 8601 UTC with milliseconds.
    Iso8601,
}

/// Settings of `generate_traces`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TracesSettings {
    /// Number of users.
    #[serde(default = "d_users")]
    #[schemars(range(min = 1, max = MAX_TRACE_USERS))]
    pub users: usize,
    /// Trace length in days.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = MAX_DAYS))]
    #[serde(default = "d_days")]
    pub days: f64,
    /// Start of the trace (s since the epoch; default 2013-04-14T00:00:00Z).
    #[schemars(range(min = -1e11, max = 1e11))]
    #[serde(default = "d_start")]
    pub start: f64,
    /// Shares of users with truth P, EP, EEP.
    #[serde(default = "d_shares")]
    pub model_shares: [f64; 3],
    /// The bin size at which the counts are drawn from the model (s).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 86400.0))]
    #[serde(default = "d_truth_bin")]
    pub truth_bin_seconds: f64,
    /// Grid of host-on edges (s); a multiple of `truth_bin_seconds`.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 86400.0))]
    #[serde(default = "d_align")]
    pub align: f64,
    /// EP truth π ~ U (Table 2 design).
    #[serde(default = "crate::validate::d_unit")]
    pub pi_range: [f64; 2],
    /// EP truth λ ~ U.
    #[serde(default = "crate::validate::d_unit")]
    pub lam_range: [f64; 2],
    /// α ~ U (pmf exponent).
    #[serde(default = "crate::validate::d_arange")]
    pub alpha_range: [f64; 2],
    /// EEP truth π ~ U.
    #[serde(default = "crate::validate::d_eep_pi")]
    pub eep_pi_range: [f64; 2],
    /// EEP truth ρ ~ U.
    #[serde(default = "crate::validate::d_eep_rho")]
    pub eep_rho_range: [f64; 2],
    /// EEP truth λ₁ ~ U.
    #[serde(default = "crate::validate::d_eep_l1")]
    pub eep_lam1_range: [f64; 2],
    /// EEP truth λ₂ = λ₁ · U.
    #[serde(default = "crate::validate::d_eep_ratio")]
    pub eep_ratio_range: [f64; 2],
    /// Share of host-on truth windows with no flow, ~ U.
    #[serde(default = "d_zero")]
    pub zero_share_range: [f64; 2],
    /// Mean host-on spell (hours).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 8760.0))]
    #[serde(default = "d_on")]
    pub on_hours: f64,
    /// Mean host-off spell (hours).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 8760.0))]
    #[serde(default = "d_off")]
    pub off_hours: f64,
    /// Mean active spell (minutes).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 525600.0))]
    #[serde(default = "d_active")]
    pub active_minutes: f64,
    /// Mean idle spell (minutes).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 525600.0))]
    #[serde(default = "d_idle")]
    pub idle_minutes: f64,
    /// Mean gap between activity events while active (s).
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 86400.0))]
    #[serde(default = "d_event")]
    pub event_seconds: f64,
    /// Zeta counts above this are redrawn (the truncation keeps the volume finite).
    #[serde(default = "d_maxflows")]
    #[schemars(range(min = 1, max = 100_000_000))]
    pub max_flows_per_window: u64,
    /// Application categories.
    #[serde(default = "default_categories")]
    pub categories: Vec<CategorySpec>,
    /// Share of flows to a random unregistered port (tcp 20000–59999).
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1))]
    #[serde(default = "d_other")]
    pub other_share: f64,
    /// How times are written.
    #[serde(default)]
    pub time_format: TimeFormat,
}
fn d_users() -> usize {
    24
}
fn d_days() -> f64 {
    7.0
}
fn d_start() -> f64 {
    1_365_897_600.0
}
fn d_shares() -> [f64; 3] {
    [0.25, 0.5, 0.25]
}
fn d_truth_bin() -> f64 {
    64.0
}
fn d_align() -> f64 {
    512.0
}
fn d_zero() -> [f64; 2] {
    [0.2, 0.5]
}
fn d_on() -> f64 {
    10.0
}
fn d_off() -> f64 {
    4.0
}
fn d_active() -> f64 {
    40.0
}
fn d_idle() -> f64 {
    60.0
}
fn d_event() -> f64 {
    20.0
}
fn d_maxflows() -> u64 {
    100_000
}
fn d_other() -> f64 {
    0.03
}

fn range_ok(key: &str, r: [f64; 2], lo: f64, hi: f64) -> Result<(), PluginError> {
    if r[0] <= r[1] && r[0] >= lo && r[1] <= hi && r[0].is_finite() && r[1].is_finite() {
        Ok(())
    } else {
        Err(PluginError::config(key, format!("`{key}` = [{}, {}] must satisfy {lo} ≤ lo ≤ hi ≤ {hi}", r[0], r[1])))
    }
}

impl TracesSettings {
    /// Validates (every message names its key).
    pub fn check(&self) -> Result<(), PluginError> {
        if !(self.days > 0.0 && self.days <= MAX_DAYS) {
            return Err(PluginError::config("days", format!("need 0 < days ≤ {MAX_DAYS}")));
        }
        if self.users as f64 * self.days > MAX_USER_DAYS {
            return Err(PluginError::config(
                "days",
                format!("users × days = {} user-days; at most {MAX_USER_DAYS} (10× the paper's 270 users × 35 days; ≈ 15 000 flows per user-day)", self.users as f64 * self.days),
            ));
        }
        if !(self.start.is_finite() && self.start.abs() < 1e11) {
            return Err(PluginError::config("start", "need a finite start within ±1e11 s"));
        }
        if self.model_shares.iter().any(|s| !(*s >= 0.0 && s.is_finite())) || !(self.model_shares.iter().sum::<f64>() > 0.0) {
            return Err(PluginError::config("model_shares", "need three non-negative shares (P, EP, EEP) with a positive sum"));
        }
        if !(self.truth_bin_seconds > 0.0 && self.truth_bin_seconds.is_finite()) {
            return Err(PluginError::config("truth_bin_seconds", "need a positive bin size"));
        }
        let ratio = self.align / self.truth_bin_seconds;
        if !(ratio >= 1.0 && (ratio - ratio.round()).abs() < 1e-9) {
            return Err(PluginError::config("align", format!("align = {} must be a positive multiple of truth_bin_seconds = {}", self.align, self.truth_bin_seconds)));
        }
        range_ok("pi_range", self.pi_range, 0.0, 1.0)?;
        range_ok("lam_range", self.lam_range, 0.0, 10.0)?;
        range_ok("alpha_range", self.alpha_range, 1.05, 10.0)?;
        range_ok("eep_pi_range", self.eep_pi_range, 0.0, 1.0)?;
        range_ok("eep_rho_range", self.eep_rho_range, 0.0, 1.0)?;
        range_ok("eep_lam1_range", self.eep_lam1_range, 0.0, 10.0)?;
        range_ok("eep_ratio_range", self.eep_ratio_range, 1e-6, 1.0)?;
        range_ok("zero_share_range", self.zero_share_range, 0.0, 0.99)?;
        for (k, v) in [("on_hours", self.on_hours), ("off_hours", self.off_hours), ("active_minutes", self.active_minutes), ("idle_minutes", self.idle_minutes), ("event_seconds", self.event_seconds)]
        {
            if !(v > 0.0 && v.is_finite()) {
                return Err(PluginError::config(k, format!("`{k}` must be positive")));
            }
        }
        if !(0.0..1.0).contains(&self.other_share) {
            return Err(PluginError::config("other_share", "need 0 ≤ other_share < 1"));
        }
        if self.categories.is_empty() {
            return Err(PluginError::config("categories", "need at least one category"));
        }
        for (i, c) in self.categories.iter().enumerate() {
            let key = format!("categories[{i}]");
            if c.ports.is_empty() {
                return Err(PluginError::config(format!("{key}.ports"), format!("category `{}` has no ports", c.name)));
            }
            if let Some(p) = c.ports.iter().find(|p| parse_port_spec(p).is_none()) {
                return Err(PluginError::config(format!("{key}.ports"), format!("`{p}` is not `proto/port` (e.g. `tcp/443`)")));
            }
            for (w, v) in [("body", c.body), ("tail", c.tail), ("active", c.active)] {
                if !(v >= 0.0 && v.is_finite()) {
                    return Err(PluginError::config(format!("{key}.{w}"), "must be a non-negative number"));
                }
            }
        }
        for (w, total) in [("body", self.categories.iter().map(|c| c.body).sum::<f64>()), ("tail", self.categories.iter().map(|c| c.tail).sum::<f64>())] {
            if !(total > 0.0) {
                return Err(PluginError::config("categories", format!("every `{w}` weight is 0")));
            }
        }
        Ok(())
    }
}

fn unif<R: Rng>(rng: &mut R, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.random::<f64>()
}

fn expo<R: Rng>(rng: &mut R, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

fn pick<R: Rng>(rng: &mut R, cum: &[f64]) -> usize {
    let u = rng.random::<f64>() * cum[cum.len() - 1];
    cum.iter().position(|&c| u < c).unwrap_or(cum.len() - 1)
}

fn cumsum(w: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    w.map(|x| {
        acc += x;
        acc
    })
    .collect()
}

/// One user's truth.
struct UserTruth {
    model: Model,
    theta: Vec<f64>,
    zero_share: f64,
}

fn draw_truth<R: Rng>(rng: &mut R, s: &TracesSettings) -> UserTruth {
    let model = [Model::P, Model::EP, Model::EEP][pick(rng, &cumsum(s.model_shares.iter().copied()))];
    let theta = match model {
        Model::P => vec![unif(rng, s.alpha_range)],
        Model::EP => vec![unif(rng, s.pi_range).clamp(1e-6, 1.0 - 1e-6), unif(rng, s.lam_range).max(1e-6), unif(rng, s.alpha_range)],
        Model::EEP => {
            let (pi, rho, l1) = (unif(rng, s.eep_pi_range).clamp(1e-6, 1.0 - 1e-6), unif(rng, s.eep_rho_range).clamp(1e-6, 1.0 - 1e-6), unif(rng, s.eep_lam1_range).max(1e-6));
            vec![pi, rho, l1, l1 * unif(rng, s.eep_ratio_range), unif(rng, s.alpha_range)]
        }
    };
    UserTruth { model, theta, zero_share: unif(rng, s.zero_share_range) }
}

/// Alternating spells inside `[t0, t1]`: the `true` (on / active) spells as intervals; with
/// `grid > 0` every edge is a multiple of `grid` (a spell rounded to zero length is redrawn).
fn spells<R: Rng>(rng: &mut R, t0: f64, t1: f64, mean_on: f64, mean_off: f64, grid: f64) -> Vec<(f64, f64)> {
    let mut out = vec![];
    let (mut t, t1) = if grid > 0.0 { ((t0 / grid).ceil() * grid, (t1 / grid).floor() * grid) } else { (t0, t1) };
    let mut on = rng.random::<f64>() < mean_on / (mean_on + mean_off);
    while t < t1 {
        let len = expo(rng, if on { mean_on } else { mean_off });
        let e = if grid > 0.0 { (((t + len) / grid).round() * grid).min(t1) } else { (t + len).min(t1) };
        if on && e > t {
            out.push((t, e));
        }
        if e > t {
            on = !on;
        }
        // a spell rounded away to nothing is drawn again
        t = e.max(t);
    }
    out
}

fn write_time(out: &mut Vec<u8>, t: f64, f: TimeFormat) {
    match f {
        TimeFormat::Seconds => {
            let _ = write!(out, "{t:.3}");
        }
        TimeFormat::Iso8601 => {
            let ms = (t * 1000.0).round() as i64;
            let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
            let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z", sod / 3600, sod / 60 % 60, sod % 60);
        }
    }
}

/// (year, month, day) of a day count since 1970-01-01 (inverse of the reader's
/// `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// What one user contributes to the files and the truth.
struct UserOut {
    flows: Vec<u8>,
    hosts: Vec<u8>,
    activity: Vec<u8>,
    truth: Value,
    records: u64,
}

fn gen_user(s: &TracesSettings, seed_hex: &str, u: usize, ports: &[Vec<PortKey>]) -> UserOut {
    let name = format!("u{:04}", u + 1);
    let mut rng = stream_rng(seed_hex, "traces/user", u as u64);
    let tr = draw_truth(&mut rng, s);
    let (t0, t1) = (s.start, s.start + s.days * 86_400.0);
    let on = spells(&mut rng, t0, t1, s.on_hours * 3600.0, s.off_hours * 3600.0, s.align);
    let act = spells(&mut rng, t0, t1, s.active_minutes * 60.0, s.idle_minutes * 60.0, 0.0);
    let b = s.truth_bin_seconds;
    let w = tr.model.weights(&tr.theta);
    let wcum = cumsum(w.iter().copied());
    let rates = tr.model.rates(&tr.theta);
    let alpha = tr.theta[tr.theta.len() - 1];
    let cum_body = cumsum(s.categories.iter().map(|c| c.body));
    let cum_tail = cumsum(s.categories.iter().map(|c| c.tail));
    let cum_body_a = cumsum(s.categories.iter().map(|c| c.body * c.active));
    let cum_tail_a = cumsum(s.categories.iter().map(|c| c.tail * c.active));
    let (mut flows, mut hosts, mut activity) = (Vec::new(), Vec::new(), Vec::new());
    let (mut n, mut windows, mut records) = (0u64, 0u64, 0u64);
    let mut times: Vec<f64> = vec![];
    let mut ai = 0usize;
    let mut comp_windows = vec![0u64; w.len()];
    for &(s0, s1) in &on {
        let _ = writeln!(hosts, "{name},{:.3},{:.3}", s0, s1);
        let mut ws = s0;
        while ws + b <= s1 + 1e-9 {
            windows += 1;
            if rng.random::<f64>() >= tr.zero_share {
                let c = pick(&mut rng, &wcum);
                comp_windows[c] += 1;
                let k = if c < rates.len() {
                    geom_one(&mut rng, rates[c])
                } else {
                    loop {
                        let x = zeta_one(&mut rng, alpha);
                        if x <= s.max_flows_per_window {
                            break x;
                        }
                    }
                };
                n += 1;
                times.clear();
                // whole milliseconds inside the window, so the written time (ms precision)
                // never rounds into the next window
                let ms = (b * 1000.0).floor().max(1.0) as u64;
                times.extend((0..k).map(|_| ws + rng.random_range(0..ms) as f64 / 1000.0));
                times.sort_by(f64::total_cmp);
                let tail = c == rates.len();
                for &t in &times {
                    while ai < act.len() && act[ai].1 <= t {
                        ai += 1;
                    }
                    let active = ai < act.len() && act[ai].0 <= t;
                    let key = if rng.random::<f64>() < s.other_share {
                        crate::records::port_key(6, rng.random_range(20_000..60_000))
                    } else {
                        let cum = match (tail, active) {
                            (false, false) => &cum_body,
                            (true, false) => &cum_tail,
                            (false, true) => &cum_body_a,
                            (true, true) => &cum_tail_a,
                        };
                        let cat = pick(&mut rng, cum);
                        ports[cat][rng.random_range(0..ports[cat].len())]
                    };
                    let bytes = (6.0 + 2.0 * (rng.random::<f64>() - 0.5) * 3.0).exp().round() as u64 + 40;
                    flows.extend_from_slice(name.as_bytes());
                    flows.push(b',');
                    write_time(&mut flows, t, s.time_format);
                    let (p, port) = (key >> 16, key & 0xffff);
                    let _ = writeln!(flows, ",{},{port},{bytes}", if p == 6 { "tcp" } else { "udp" });
                    records += 1;
                }
            }
            ws += b;
        }
    }
    // activity events: a Poisson stream inside active spells, only while the host is on
    let mut hi = 0usize;
    for &(a0, a1) in &act {
        let mut t = a0 + expo(&mut rng, s.event_seconds);
        while t < a1 {
            while hi < on.len() && on[hi].1 <= t {
                hi += 1;
            }
            if hi < on.len() && on[hi].0 <= t {
                activity.extend_from_slice(name.as_bytes());
                activity.push(b',');
                write_time(&mut activity, t, s.time_format);
                activity.push(b'\n');
            }
            t += expo(&mut rng, s.event_seconds);
        }
    }
    let on_s: f64 = on.iter().map(|x| x.1 - x.0).sum();
    let act_on: f64 = act.iter().map(|a| on.iter().map(|o| (a.1.min(o.1) - a.0.max(o.0)).max(0.0)).sum::<f64>()).sum();
    let truth = json!({"user": name, "model": tr.model, "theta": tr.theta, "names": tr.model.names(), "zero_share": tr.zero_share,
        "truth_bin_seconds": b, "on_windows": windows, "n": n, "records": records, "component_windows": comp_windows,
        "host_on_share": on_s / (t1 - t0), "active_share_of_on": if on_s > 0.0 { act_on / on_s } else { 0.0 }});
    UserOut { flows, hosts, activity, truth, records }
}

/// Runs `generate_traces` into `<output_dir>/traces/`.
pub fn run_generate_traces(s: TracesSettings, ctx: &Ctx) -> Result<Response, PluginError> {
    let req = ctx.request();
    let ports: Vec<Vec<PortKey>> = s.categories.iter().map(|c| c.ports.iter().filter_map(|p| parse_port_spec(p)).collect()).collect();
    let dir = Path::new(&req.output_dir).join("traces");
    std::fs::create_dir_all(&dir).map_err(|e| PluginError::run(format!("{}: {e}", dir.display())))?;
    let open = |n: &str| -> Result<std::io::BufWriter<std::fs::File>, PluginError> {
        let p = dir.join(n);
        std::fs::File::create(&p).map(|f| std::io::BufWriter::with_capacity(1 << 20, f)).map_err(|e| PluginError::run(format!("{}: cannot write: {e}", p.display())))
    };
    let (mut ff, mut hf, mut af) = (open("flows.csv")?, open("hosts.csv")?, open("activity.csv")?);
    let werr = |e: std::io::Error| PluginError::run(format!("{}: write error: {e}", dir.display()));
    ff.write_all(b"user,start_time,proto,dst_port,bytes\n").map_err(werr)?;
    hf.write_all(b"user,on_start,on_end\n").map_err(werr)?;
    af.write_all(b"user,time\n").map_err(werr)?;
    let mut truth = vec![];
    let mut records = 0u64;
    let batch = 4 * req.threads.max(1);
    let ids: Vec<usize> = (0..s.users).collect();
    for (bi, chunk) in ids.chunks(batch).enumerate() {
        ctx.check_cancel()?;
        let outs: Vec<UserOut> = ctx.install(|| chunk.par_iter().map(|&u| gen_user(&s, &req.seed_hex, u, &ports)).collect())?;
        for o in outs {
            ff.write_all(&o.flows).map_err(werr)?;
            hf.write_all(&o.hosts).map_err(werr)?;
            af.write_all(&o.activity).map_err(werr)?;
            records += o.records;
            truth.push(o.truth);
        }
        ctx.progress((bi * batch + chunk.len()) as u64, s.users as u64);
    }
    for w in [&mut ff, &mut hf, &mut af] {
        w.flush().map_err(werr)?;
    }
    let cats: Vec<Value> = s
        .categories
        .iter()
        .zip(&ports)
        .map(|(c, p)| json!({"name": c.name, "ports": p.iter().map(|k| key_name(*k)).collect::<Vec<_>>(), "body": c.body, "tail": c.tail, "active": c.active, "tail_leaning": c.tail / s.categories.iter().map(|x| x.tail).sum::<f64>() > c.body / s.categories.iter().map(|x| x.body).sum::<f64>()}))
        .collect();
    let truth_doc = json!({"truth_bin_seconds": s.truth_bin_seconds, "users": truth, "categories": cats, "settings": serde_json::to_value(&s).unwrap_or(Value::Null)});
    let tp = dir.join("truth.json");
    std::fs::write(&tp, serde_json::to_vec_pretty(&truth_doc).unwrap_or_default()).map_err(|e| PluginError::run(format!("{}: cannot write: {e}", tp.display())))?;
    let mut r = Response::default();
    r.metrics.insert("users".into(), json!(s.users));
    r.metrics.insert("records".into(), json!(records));
    for m in crate::model::ALL {
        r.metrics.insert(format!("truth_{}", m.as_str()), json!(truth_doc["users"].as_array().map(|u| u.iter().filter(|x| x["model"] == json!(m)).count()).unwrap_or(0)));
    }
    r.data.insert("truth".into(), truth_doc);
    r.artifacts.push(Artifact { name: "dataset".into(), path: "traces".into(), kind: FORMAT_RECORDS.into() });
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn civil_roundtrip() {
        for z in (-800_000..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(z);
            let s = format!("{y:04}-{m:02}-{d:02}T00:00:00Z");
            if (0..=9999).contains(&y) {
                assert_eq!(crate::records::parse_iso8601(&s), Some((z * 86_400) as f64), "{s}");
            }
        }
        let mut v = vec![];
        write_time(&mut v, 1_365_897_600.25, TimeFormat::Iso8601);
        assert_eq!(String::from_utf8(v).unwrap(), "2013-04-14T00:00:00.250Z");
    }
    #[test]
    fn spells_are_on_the_grid_and_inside() {
        let mut rng = flowlab_abi::seed::rng_from_u64(1, "spells", 0);
        for _ in 0..50 {
            let v = spells(&mut rng, 1024.0, 1024.0 + 86_400.0 * 3.0, 3600.0 * 5.0, 3600.0 * 2.0, 512.0);
            for w in v.windows(2) {
                assert!(w[0].1 < w[1].0);
            }
            for &(a, b) in &v {
                assert!(a < b && a >= 1024.0 && b <= 1024.0 + 86_400.0 * 3.0);
                assert_eq!(a % 512.0, 0.0);
                assert_eq!(b % 512.0, 0.0);
            }
        }
    }
}
