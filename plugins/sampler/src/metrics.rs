//! Sampler metrics (docs/sampler.md, "Metrics"), deviations, fitness and acceptance (docs/sampler.md, "Fitness and acceptance"), evaluated from
//! exact incremental accumulators (docs/sampler.md, "Beyond the original").
//!
//! For a set S of biflows with `n = |S|`, `P = Σ (PACKETS+PACKETS_REV)`,
//! `B = Σ (BYTES+BYTES_REV)`:
//! * `pkts_bts = P/B`, `bfls_pkts = n/P`, `bfls_bts = n/B`;
//! * `ipv4 = n₄/n`, `ipv6 = n₆/n`, `ipv6_ipv4 = n₆/n₄` (the seed README's ratio);
//! * `l4_protos[p] = count(L4 = p)/n` for the reference's protocols with share ≥ `limit`
//!   (optionally only the `top` most frequent; ties broken by the smaller number);
//! * `ports[q] = (count(SRC=q) + count(DST=q)) / (2n)`, reference ports as for protocols;
//! * `pkt_size[b]`: fraction of biflows whose integer-division average packet size
//!   `⌊B_i/P_i⌋` falls in `(e_{b−1}, e_b]` with edges `0 < 128 < 512 < 1024 < ∞` by default;
//! * `windows[w] = Σ_{i∈S} P_{i,w} / P`, the packets of biflow i spread over the W-second
//!   windows proportionally to the time overlap (zero-duration biflows: all in their window);
//!   `t0 = min START`, `t1 = max END`, `nsec = max(1, ⌈(t1−t0)/1 s⌉)`, `H = ⌈nsec/W⌉`; a
//!   biflow ending exactly at `t0 + H·W` is clamped to window H−1 (docs/sampler.md, "Bugs the plugin decides" fix).
//!
//! Accumulators are integers (counts, u64 sums with wrapping arithmetic that is exact because
//! every subset total is bounded by the profile total, and per-window packets in Q64 fixed
//! point, i.e. `round_down(v·2⁶⁴)` of the same f64 contribution the oracle computes), so adding
//! and removing biflows in any order gives bit-identical results.
//!
//! Deviations (percent): `REL(v, r) = |v − r|·100/r`. NaN-free rules (docs/sampler.md, "Bugs the plugin decides"): when the
//! reference value `r` is 0, the deviation is 0 if `v` is 0 and 100 otherwise (for subsets this
//! only matters for `ipv6_ipv4`, since a subset cannot fill an empty reference bin or window);
//! `ipv4`/`ipv6` keep the original guard (0 when the reference share is 0); `ipv6_ipv4` is 0
//! when the reference has no IPv4 biflow and 100 when the sample has none but the reference
//! has. A reference key missing from the sample gives `REL(0, r) = 100`, as in the original.
use crate::profile::Profile;
use serde::Deserialize;

/// Q64 scale of the window accumulators.
const Q64: f64 = 18446744073709551616.0;

/// `x as f64` (round to nearest, ties to even), without the software i128 conversion: for
/// `x ≥ 2⁶⁴` the top 64 bits, with a sticky bit for any one shifted out, round exactly as
/// the whole number does (the sticky bit sits below the rounding position), and the scale
/// `2^sh` is exact. Tested against the cast (`q_to_f64_matches_the_cast`).
#[inline]
fn q_to_f64(x: i128) -> f64 {
    if x < 0 {
        return x as f64;
    }
    let u = x as u128;
    let hi = (u >> 64) as u64;
    if hi == 0 {
        return u as u64 as f64;
    }
    let sh = 64 - hi.leading_zeros();
    let t = (u >> sh) as u64 | ((u & ((1u128 << sh) - 1)) != 0) as u64;
    t as f64 * f64::from_bits((1023 + sh as u64) << 52)
}
/// Marker for "not a reference key".
pub const NONE: u8 = u8::MAX;

/// Which metric a declaration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Packets / bytes.
    PktsBts,
    /// Biflows / packets.
    BflsPkts,
    /// Biflows / bytes.
    BflsBts,
    /// IPv4 share.
    Ipv4,
    /// IPv6 share.
    Ipv6,
    /// IPv6 / IPv4 ratio (seed README).
    Ipv6Ipv4,
    /// L4 protocol shares (`limit`, optional `top`).
    L4Protos,
    /// Port shares over src+dst (`limit`, optional `top`).
    Ports,
    /// Average-packet-size bins (`edges`).
    PktSize,
    /// Per-time-window packet shares (`seconds`).
    Windows,
}

/// Largest `top` of a metric (there are 65 536 ports).
pub const MAX_TOP: usize = 65_536;
/// Largest `pkt_size` edge in bytes (an average packet size; jumbo frames are ~9000).
pub const MAX_EDGE: u64 = 1_000_000;

/// One metric declaration of the settings (`metrics = [{ metric = "ports", limit = 0.005 }]`).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricDecl {
    /// The metric.
    pub metric: MetricKind,
    /// `l4_protos` / `ports`: keep reference keys with share ≥ limit (default: the task's
    /// `proto_limit` / `port_limit`, 0.005).
    #[serde(default)]
    pub limit: Option<f64>,
    /// `l4_protos` / `ports`: keep only the `top` most frequent reference keys.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_TOP))]
    pub top: Option<usize>,
    /// `pkt_size`: ascending upper bin edges in bytes (default [128, 512, 1024]; the last bin
    /// is unbounded).
    #[serde(default)]
    #[schemars(inner(range(max = MAX_EDGE)))]
    pub edges: Option<Vec<u64>>,
    /// `windows`: window length in seconds (default: the task's `window_s`, 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::MAX_SECONDS))]
    pub seconds: Option<u64>,
}

impl MetricDecl {
    /// A declaration without parameters.
    pub fn of(metric: MetricKind) -> Self {
        MetricDecl { metric, limit: None, top: None, edges: None, seconds: None }
    }
}

/// Fitness formula (docs/sampler.md, "Fitness and acceptance").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// `F = max(0, 100 − Σ d²)` over every (non-window) deviation: the seed README and the 2023
    /// C++ tool.
    #[default]
    Readme,
    /// `F = max(0, F_global/2 + (100 − (mean_w d_w)²)/2)`: the current C++ tool.
    Windows,
}

/// Resolved metric with its reference keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// See [`MetricKind::PktsBts`].
    PktsBts,
    /// See [`MetricKind::BflsPkts`].
    BflsPkts,
    /// See [`MetricKind::BflsBts`].
    BflsBts,
    /// See [`MetricKind::Ipv4`].
    Ipv4,
    /// See [`MetricKind::Ipv6`].
    Ipv6,
    /// See [`MetricKind::Ipv6Ipv4`].
    Ipv6Ipv4,
    /// Reference protocols, in ascending protocol number.
    Protos(Vec<u8>),
    /// Reference ports, ascending.
    Ports(Vec<u16>),
    /// Upper edges of the bins (last bin unbounded).
    PktSize(Vec<u64>),
    /// Window length in seconds.
    Windows(u64),
}

/// Time-window layout of the whole profile.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowLayout {
    /// Window length (s).
    pub seconds: u64,
    /// Profile start (ns).
    pub t0_ns: i64,
    /// Window length (ns).
    pub len_ns: i64,
    /// Number of windows H.
    pub h: usize,
}

/// Per-biflow precomputed data (docs/sampler.md, "Beyond the original" data layout).
#[derive(Debug, Clone, Copy, Default)]
pub struct Item {
    /// P_i.
    pub pk: u64,
    /// B_i.
    pub by: u64,
    /// 1 for IPv6.
    pub v6: u8,
    /// Size-bin index.
    pub bin: u8,
    /// Reference-protocol index or the "other" slot.
    pub proto: u8,
    /// Reference-port index of SRC_PORT or the "other" slot.
    pub sport: u8,
    /// Reference-port index of DST_PORT or the "other" slot.
    pub dport: u8,
}

/// Everything needed to evaluate subsets of one profile.
#[derive(Debug, Clone)]
pub struct Model {
    /// Declared metrics, resolved, in declaration order.
    pub metrics: Vec<Metric>,
    /// Fitness formula.
    pub variant: Variant,
    /// Acceptance limit in percent (`100·deviation`).
    pub limit_pct: f64,
    /// Per-biflow data.
    pub items: Vec<Item>,
    /// START (ns) per biflow (only when windows are declared).
    pub start_ns: Vec<i64>,
    /// END (ns) per biflow (only when windows are declared).
    pub end_ns: Vec<i64>,
    /// Window layout (when declared).
    pub windows: Option<WindowLayout>,
    /// Number of reference protocols (the "other" slot index).
    pub n_protos: usize,
    /// Number of reference ports (the "other" slot index).
    pub n_ports: usize,
    /// Number of size bins.
    pub n_bins: usize,
    /// Accumulator of the whole profile.
    pub reference: Acc,
    /// Reference metric values (same order as [`Model::values`]).
    pub ref_values: Vec<f64>,
}

/// Integer accumulator of a subset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acc {
    /// n.
    pub n: i64,
    /// n₆.
    pub n6: i64,
    /// P (wrapping; exact for subsets).
    pub p: u64,
    /// B (wrapping; exact for subsets).
    pub b: u64,
    /// Size-bin counts.
    pub bins: Vec<i64>,
    /// Reference-protocol counts (+ "other" slot).
    pub protos: Vec<i64>,
    /// Reference-port slot counts (+ "other" slot).
    pub ports: Vec<i64>,
    /// Window packets, Q64 fixed point.
    pub win: Vec<i128>,
    /// `win[k]` as packets (`win[k] as f64 / 2⁶⁴`, as f64 bits), kept in step by [`Model::toggle`]
    /// for the windows it changes: a score reads every window, and converting all of them
    /// from i128 for each candidate move was a fifth of a repair step.
    pub winf: Vec<u64>,
}

/// One labelled deviation.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// Metric name (`pkts_bts`, `l4_protos`, …).
    pub metric: &'static str,
    /// Key within the metric (protocol, port, bin label, window index) or empty.
    pub key: String,
    /// Reference value.
    pub reference: f64,
    /// Sample value.
    pub value: f64,
    /// Deviation in percent.
    pub dev: f64,
}

/// Fitness evaluation of one subset.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Score {
    /// Clamped fitness (≥ 0).
    pub fitness: f64,
    /// Unclamped fitness (ranking of hopeless initial candidates).
    pub raw: f64,
    /// Largest deviation (percent).
    pub worst: f64,
    /// Every deviation ≤ limit.
    pub acceptable: bool,
}

/// REL with the NaN-free rule (module docs).
#[inline]
pub fn rel(v: f64, r: f64) -> f64 {
    if r == 0.0 { if v == 0.0 { 0.0 } else { 100.0 } } else { (v - r).abs() * 100.0 / r }
}

/// Errors while resolving metric declarations (path, message).
pub type DeclError = (String, String);

/// Reference keys (sorted ascending) whose share `count/denominator ≥ limit`, at most `top`
/// of them (most frequent first, ties by smaller key).
fn frequent_keys(counts: &[u64], denom: f64, limit: f64, top: Option<usize>) -> Vec<usize> {
    let mut keys: Vec<usize> = (0..counts.len()).filter(|&k| counts[k] > 0 && counts[k] as f64 / denom >= limit).collect();
    if let Some(t) = top {
        keys.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        keys.truncate(t);
    }
    keys.sort_unstable();
    keys
}

/// Integer-division average packet size bin.
#[inline]
fn size_bin(edges: &[u64], by: u64, pk: u64) -> u8 {
    let avg = by / pk;
    edges.iter().position(|&e| avg <= e).unwrap_or(edges.len()) as u8
}

impl Model {
    /// Resolves the declarations against the whole profile (reference keys, bins, windows).
    pub fn new(profile: &Profile, decls: &[MetricDecl], variant: Variant, deviation: f64, proto_limit: f64, port_limit: f64, window_s: u64) -> Result<Model, DeclError> {
        let n = profile.len();
        let nf = n as f64;
        let mut metrics = Vec::new();
        let (mut protos_keys, mut ports_keys, mut edges, mut win_s) = (None, None, None, None);
        for (i, d) in decls.iter().enumerate() {
            let p = |k: &str| format!("metrics[{i}].{k}");
            let takes_limit = matches!(d.metric, MetricKind::L4Protos | MetricKind::Ports);
            if !takes_limit && (d.limit.is_some() || d.top.is_some()) {
                return Err((p(if d.limit.is_some() { "limit" } else { "top" }), "only `l4_protos` and `ports` take `limit` / `top`".into()));
            }
            if d.metric != MetricKind::PktSize && d.edges.is_some() {
                return Err((p("edges"), "only `pkt_size` takes `edges`".into()));
            }
            if d.metric != MetricKind::Windows && d.seconds.is_some() {
                return Err((p("seconds"), "only `windows` takes `seconds`".into()));
            }
            if let Some(l) = d.limit
                && !(0.0..=1.0).contains(&l)
            {
                return Err((p("limit"), format!("limit must be a share in [0, 1], got {l}")));
            }
            if d.top == Some(0) {
                return Err((p("top"), "top must be ≥ 1".into()));
            }
            let dup = |taken: bool| if taken { Err((format!("metrics[{i}].metric"), "declared twice".to_string())) } else { Ok(()) };
            let m = match d.metric {
                MetricKind::PktsBts => Metric::PktsBts,
                MetricKind::BflsPkts => Metric::BflsPkts,
                MetricKind::BflsBts => Metric::BflsBts,
                MetricKind::Ipv4 => Metric::Ipv4,
                MetricKind::Ipv6 => Metric::Ipv6,
                MetricKind::Ipv6Ipv4 => Metric::Ipv6Ipv4,
                MetricKind::L4Protos => {
                    dup(protos_keys.is_some())?;
                    let mut c = vec![0u64; 256];
                    for &x in &profile.l4 {
                        c[x as usize] += 1;
                    }
                    let keys: Vec<u8> = frequent_keys(&c, nf, d.limit.unwrap_or(proto_limit), d.top).into_iter().map(|k| k as u8).collect();
                    if keys.len() >= NONE as usize {
                        return Err((p("limit"), "too many reference protocols".into()));
                    }
                    protos_keys = Some(keys.clone());
                    Metric::Protos(keys)
                }
                MetricKind::Ports => {
                    dup(ports_keys.is_some())?;
                    let mut c = vec![0u64; 65536];
                    for i in 0..n {
                        c[profile.sport[i] as usize] += 1;
                        c[profile.dport[i] as usize] += 1;
                    }
                    let keys: Vec<u16> = frequent_keys(&c, 2.0 * nf, d.limit.unwrap_or(port_limit), d.top).into_iter().map(|k| k as u16).collect();
                    if keys.len() >= NONE as usize {
                        return Err((p("limit"), format!("{} reference ports pass the limit (at most 254 supported); raise `limit` or set `top`", keys.len())));
                    }
                    ports_keys = Some(keys.clone());
                    Metric::Ports(keys)
                }
                MetricKind::PktSize => {
                    dup(edges.is_some())?;
                    let e = d.edges.clone().unwrap_or_else(|| vec![128, 512, 1024]);
                    if e.is_empty() || e.len() > 30 || e.windows(2).any(|w| w[0] >= w[1]) {
                        return Err((p("edges"), "edges must be 1..=30 strictly ascending byte sizes".into()));
                    }
                    edges = Some(e.clone());
                    Metric::PktSize(e)
                }
                MetricKind::Windows => {
                    dup(win_s.is_some())?;
                    let s = d.seconds.unwrap_or(window_s);
                    if s == 0 || s > 1_000_000_000 {
                        return Err((p("seconds"), "window length must be 1..=1e9 seconds".into()));
                    }
                    win_s = Some(s);
                    Metric::Windows(s)
                }
            };
            metrics.push(m);
        }
        if metrics.is_empty() {
            return Err(("metrics".into(), "declare at least one metric".into()));
        }
        match (variant, win_s) {
            (Variant::Windows, None) => return Err(("fitness".into(), "fitness `windows` needs a `windows` metric".into())),
            (Variant::Readme, Some(_)) => return Err(("fitness".into(), "fitness `readme` has no window term: remove the `windows` metric or use fitness = \"windows\"".into())),
            _ => {}
        }
        // reference-key lookup tables
        let protos_keys = protos_keys.unwrap_or_default();
        let ports_keys = ports_keys.unwrap_or_default();
        let mut proto_idx = [NONE; 256];
        for (k, &p) in protos_keys.iter().enumerate() {
            proto_idx[p as usize] = k as u8;
        }
        let mut port_idx = vec![NONE; 65536];
        for (k, &p) in ports_keys.iter().enumerate() {
            port_idx[p as usize] = k as u8;
        }
        let n_protos = protos_keys.len();
        let n_ports = ports_keys.len();
        let edges_v = edges.unwrap_or_default();
        let n_bins = if edges_v.is_empty() { 0 } else { edges_v.len() + 1 };
        let items: Vec<Item> = (0..n)
            .map(|i| {
                let pk = profile.packets(i);
                let by = profile.total_bytes(i);
                let pi = proto_idx[profile.l4[i] as usize];
                let sp = port_idx[profile.sport[i] as usize];
                let dp = port_idx[profile.dport[i] as usize];
                Item {
                    pk,
                    by,
                    v6: (profile.l3[i] == 6) as u8,
                    bin: if n_bins > 0 { size_bin(&edges_v, by, pk) } else { 0 },
                    proto: if pi == NONE { n_protos as u8 } else { pi },
                    sport: if sp == NONE { n_ports as u8 } else { sp },
                    dport: if dp == NONE { n_ports as u8 } else { dp },
                }
            })
            .collect();
        let (start_ns, end_ns, windows) = if let Some(s) = win_s {
            let st: Vec<i64> = profile.start_ms.iter().map(|&x| x.saturating_mul(1_000_000)).collect();
            let en: Vec<i64> = profile.end_ms.iter().map(|&x| x.saturating_mul(1_000_000)).collect();
            let t0 = *st.iter().min().unwrap_or(&0);
            let t1 = *en.iter().max().unwrap_or(&0);
            let dur = (t1 as i128 - t0 as i128) as u128;
            let nsec = (dur.div_ceil(1_000_000_000)).max(1);
            let h = nsec.div_ceil(s as u128);
            if h > 50_000_000 {
                // the key that set the length: the metric's own `seconds`, else `window_s`
                let at = decls.iter().position(|d| d.metric == MetricKind::Windows && d.seconds.is_some());
                let key = at.map(|i| format!("metrics[{i}].seconds")).unwrap_or_else(|| "window_s".into());
                return Err((
                    key.clone(),
                    format!(
                        "the profile spans {nsec} s (START_TIME {} ms to END_TIME {} ms): {h} windows of {s} s, more than 50 000 000; set a longer `{key}` (or check the profile's times)",
                        t0 / 1_000_000,
                        t1 / 1_000_000
                    ),
                ));
            }
            let len_ns = (s as i64).saturating_mul(1_000_000_000);
            (st, en, Some(WindowLayout { seconds: s, t0_ns: t0, len_ns, h: h as usize }))
        } else {
            (vec![], vec![], None)
        };
        let mut m = Model { metrics, variant, limit_pct: deviation * 100.0, items, start_ns, end_ns, windows, n_protos, n_ports, n_bins, reference: Acc::default(), ref_values: vec![] };
        let mut r = m.empty_acc();
        for i in 0..n {
            m.toggle(&mut r, i, true);
        }
        m.ref_values = m.values(&r);
        m.reference = r;
        Ok(m)
    }

    /// Number of biflows.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True for an empty profile.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// An accumulator of the empty set.
    pub fn empty_acc(&self) -> Acc {
        Acc {
            n: 0,
            n6: 0,
            p: 0,
            b: 0,
            bins: vec![0; self.n_bins],
            protos: vec![0; self.n_protos + 1],
            ports: vec![0; self.n_ports + 1],
            win: vec![0; self.windows.as_ref().map_or(0, |w| w.h)],
            winf: vec![0f64.to_bits(); self.windows.as_ref().map_or(0, |w| w.h)],
        }
    }

    /// First and last window biflow `i` overlaps (`None` without windows): the windows
    /// [`Model::for_windows`] visits, without computing their contributions.
    #[inline]
    pub fn window_span(&self, i: usize) -> Option<(usize, usize)> {
        let w = self.windows.as_ref()?;
        let s = ((self.start_ns[i] - w.t0_ns) / w.len_ns) as usize;
        let e = (((self.end_ns[i] - w.t0_ns) / w.len_ns) as usize).min(w.h - 1);
        Some((s, if self.end_ns[i] == self.start_ns[i] { s } else { e }))
    }

    /// Calls `f(window, packets)` for the window contributions of biflow `i` (docs/sampler.md, "Metrics"): the
    /// same f64 value `(hi − lo)/d · P_i` the oracle computes.
    #[inline]
    pub fn for_windows(&self, i: usize, mut f: impl FnMut(usize, f64)) {
        let Some(w) = &self.windows else { return };
        let (st, en) = (self.start_ns[i], self.end_ns[i]);
        let pk = self.items[i].pk as f64;
        let (s, e) = self.window_span(i).unwrap_or((0, 0));
        let d = en - st;
        if d == 0 {
            f(s, pk);
            return;
        }
        let df = d as f64;
        for k in s..=e {
            let ws = w.t0_ns + k as i64 * w.len_ns;
            let lo = ws.max(st);
            let hi = (ws + w.len_ns).min(en);
            f(k, (hi - lo) as f64 / df * pk);
        }
    }

    /// Adds (`on`) or removes biflow `i` from an accumulator.
    #[inline]
    pub fn toggle(&self, a: &mut Acc, i: usize, on: bool) {
        let it = self.items[i];
        let s: i64 = if on { 1 } else { -1 };
        a.n += s;
        a.n6 += s * it.v6 as i64;
        if on {
            a.p = a.p.wrapping_add(it.pk);
            a.b = a.b.wrapping_add(it.by);
        } else {
            a.p = a.p.wrapping_sub(it.pk);
            a.b = a.b.wrapping_sub(it.by);
        }
        if self.n_bins > 0 {
            a.bins[it.bin as usize] += s;
        }
        a.protos[it.proto as usize] += s;
        a.ports[it.sport as usize] += s;
        a.ports[it.dport as usize] += s;
        if self.windows.is_some() {
            let (win, winf) = (&mut a.win, &mut a.winf);
            self.for_windows(i, |k, v| {
                let q = (v * Q64) as i128;
                if on {
                    win[k] += q
                } else {
                    win[k] -= q
                }
                winf[k] = (q_to_f64(win[k]) / Q64).to_bits();
            });
        }
    }

    /// Metric values of an accumulator, flattened in declaration order (one value per
    /// deviation).
    pub fn values(&self, a: &Acc) -> Vec<f64> {
        let mut out = Vec::new();
        self.visit(a, |v| out.push(v));
        out
    }

    #[inline]
    fn visit(&self, a: &Acc, mut f: impl FnMut(f64)) {
        let n = a.n as f64;
        let (p, b) = (a.p as f64, a.b as f64);
        for m in &self.metrics {
            match m {
                Metric::PktsBts => f(p / b),
                Metric::BflsPkts => f(n / p),
                Metric::BflsBts => f(n / b),
                Metric::Ipv4 => f((a.n - a.n6) as f64 / n),
                Metric::Ipv6 => f(a.n6 as f64 / n),
                Metric::Ipv6Ipv4 => {
                    let n4 = a.n - a.n6;
                    f(if n4 == 0 { f64::INFINITY } else { a.n6 as f64 / n4 as f64 })
                }
                Metric::Protos(_) => a.protos[..self.n_protos].iter().for_each(|&c| f(c as f64 / n)),
                Metric::Ports(_) => a.ports[..self.n_ports].iter().for_each(|&c| f(c as f64 / (2.0 * n))),
                Metric::PktSize(_) => a.bins.iter().for_each(|&c| f(c as f64 / n)),
                Metric::Windows(_) => a.winf.iter().for_each(|&q| f(f64::from_bits(q) / p)),
            }
        }
    }

    /// Deviation of value `v` against reference value `r` of metric `m` (module docs).
    #[inline]
    fn dev(m: &Metric, v: f64, r: f64) -> f64 {
        match m {
            Metric::Ipv4 | Metric::Ipv6 if r == 0.0 => 0.0,
            Metric::Ipv6Ipv4 if r.is_infinite() => 0.0,
            Metric::Ipv6Ipv4 if v.is_infinite() => 100.0,
            _ => rel(v, r),
        }
    }

    /// Fitness, worst deviation and acceptance (docs/sampler.md, "Fitness and acceptance"), O(#deviations).
    pub fn score(&self, a: &Acc) -> Score {
        let mut j = 0usize;
        let (mut sq, mut wsum, mut worst) = (0.0f64, 0.0f64, 0.0f64);
        let mut acceptable = true;
        let mut midx = 0usize;
        let mut counts = self.metrics.iter().map(|m| self.arity(m));
        let mut left = counts.next().unwrap_or(0);
        self.visit(a, |v| {
            while left == 0 {
                midx += 1;
                left = counts.next().unwrap_or(0);
            }
            left -= 1;
            let m = &self.metrics[midx];
            let d = Self::dev(m, v, self.ref_values[j]);
            j += 1;
            if d > self.limit_pct {
                acceptable = false;
            }
            if d > worst {
                worst = d;
            }
            if matches!(m, Metric::Windows(_)) {
                wsum += d;
            } else {
                sq += d * d;
            }
        });
        let global = 100.0 - sq;
        let raw = match self.variant {
            Variant::Readme => global,
            Variant::Windows => {
                let h = self.windows.as_ref().map_or(1, |w| w.h) as f64;
                let mean = wsum / h;
                global / 2.0 + (100.0 - mean * mean) / 2.0
            }
        };
        Score { fitness: raw.max(0.0), raw, worst, acceptable }
    }

    /// Calls `f(j, d, too_much)` for every deviation in flat order: `j` its index, `d` the
    /// deviation in percent, `too_much` whether the sample value exceeds the reference.
    #[inline]
    pub fn each_dev(&self, a: &Acc, mut f: impl FnMut(usize, f64, bool)) {
        let mut j = 0usize;
        let mut midx = 0usize;
        let mut counts = self.metrics.iter().map(|m| self.arity(m));
        let mut left = counts.next().unwrap_or(0);
        self.visit(a, |v| {
            while left == 0 {
                midx += 1;
                left = counts.next().unwrap_or(0);
            }
            left -= 1;
            let r = self.ref_values[j];
            f(j, Self::dev(&self.metrics[midx], v, r), v > r);
            j += 1;
        });
    }

    /// Local-search objective: `Σ max(0, d − τ)²` over every deviation, with the flat index
    /// of the deviation furthest above τ and whether its sample value exceeds the reference.
    pub fn excess(&self, a: &Acc, tau: f64) -> (f64, Option<(usize, bool)>) {
        let (mut sum, mut worst, mut arg) = (0.0f64, 0.0f64, None);
        self.each_dev(a, |j, d, too_much| {
            let d = d - tau;
            if d > 0.0 {
                sum += d * d;
                if d > worst {
                    worst = d;
                    arg = Some((j, too_much));
                }
            }
        });
        (sum, arg)
    }

    /// Repair objective (`docs/sampler.md`, "Search"): `Σ max(0, d − soft)² + 10·Σ max(0, d −
    /// limit)²` — the second term is what acceptance needs, the first keeps a margin below the
    /// limit so that the deviations near it do not block the moves the others need. The
    /// deviations above `soft` are listed in `over` as `(j, too_much)`.
    pub fn repair_objective(&self, a: &Acc, soft: f64, over: Option<&mut Vec<(usize, bool)>>) -> f64 {
        let lim = self.limit_pct;
        let (mut hard, mut sum) = (0.0f64, 0.0f64);
        let mut over = over;
        if let Some(o) = over.as_deref_mut() {
            o.clear();
        }
        self.each_dev(a, |j, d, too_much| {
            if d > soft {
                sum += (d - soft) * (d - soft);
                if d > lim {
                    hard += (d - lim) * (d - lim);
                }
                if let Some(o) = over.as_deref_mut() {
                    o.push((j, too_much));
                }
            }
        });
        sum + 10.0 * hard
    }

    /// Number of deviations metric `m` contributes.
    pub fn arity(&self, m: &Metric) -> usize {
        match m {
            Metric::Protos(k) => k.len(),
            Metric::Ports(k) => k.len(),
            Metric::PktSize(e) => e.len() + 1,
            Metric::Windows(_) => self.windows.as_ref().map_or(0, |w| w.h),
            _ => 1,
        }
    }

    /// Every deviation with labels, in declaration order.
    pub fn deviations(&self, a: &Acc) -> Vec<Deviation> {
        let vals = self.values(a);
        let mut out = Vec::with_capacity(vals.len());
        let mut j = 0;
        for m in &self.metrics {
            let (name, keys): (&'static str, Vec<String>) = match m {
                Metric::PktsBts => ("pkts_bts", vec![String::new()]),
                Metric::BflsPkts => ("bfls_pkts", vec![String::new()]),
                Metric::BflsBts => ("bfls_bts", vec![String::new()]),
                Metric::Ipv4 => ("ipv4", vec![String::new()]),
                Metric::Ipv6 => ("ipv6", vec![String::new()]),
                Metric::Ipv6Ipv4 => ("ipv6_ipv4", vec![String::new()]),
                Metric::Protos(k) => ("l4_protos", k.iter().map(|x| x.to_string()).collect()),
                Metric::Ports(k) => ("ports", k.iter().map(|x| x.to_string()).collect()),
                Metric::PktSize(e) => ("pkt_size", bin_labels(e)),
                Metric::Windows(_) => ("windows", (0..self.arity(m)).map(|w| w.to_string()).collect()),
            };
            for key in keys {
                let (v, r) = (vals[j], self.ref_values[j]);
                out.push(Deviation { metric: name, key, reference: r, value: v, dev: Self::dev(m, v, r) });
                j += 1;
            }
        }
        out
    }

    /// Accumulator of the subset given by a bit genome.
    pub fn acc_of_bits(&self, words: &[u64]) -> Acc {
        let mut a = self.empty_acc();
        for (wi, &w) in words.iter().enumerate() {
            let mut x = w;
            while x != 0 {
                let b = x.trailing_zeros() as usize;
                self.toggle(&mut a, wi * 64 + b, true);
                x &= x - 1;
            }
        }
        a
    }
}

/// Labels of size bins: `(0, 128]`, …, `(1024, inf)`.
pub fn bin_labels(edges: &[u64]) -> Vec<String> {
    let mut lo = 0;
    let mut v = Vec::new();
    for &e in edges {
        v.push(format!("({lo}, {e}]"));
        lo = e;
    }
    v.push(format!("({lo}, inf)"));
    v
}

/// The original's metric list (docs/sampler.md, "Metrics"): ratios, IPv4/IPv6 shares, L4 protocols, ports, size
/// bins, and windows for the `windows` variant.
pub fn default_decls(variant: Variant) -> Vec<MetricDecl> {
    use MetricKind::*;
    let mut v: Vec<MetricDecl> = [PktsBts, BflsPkts, BflsBts, Ipv4, Ipv6, L4Protos, Ports, PktSize].into_iter().map(MetricDecl::of).collect();
    if variant == Variant::Windows {
        v.push(MetricDecl::of(Windows));
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn q_to_f64_matches_the_cast() {
        let mut x: u64 = 7;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x
        };
        for k in 0..200_000u32 {
            let raw = ((next() as u128) << 64 | next() as u128) >> (1 + k % 127);
            // also values with long runs of zeros or ones below the top bits (rounding ties)
            let v = match k % 3 {
                0 => raw,
                1 => raw & !((1u128 << (k % 90)) - 1),
                _ => raw | ((1u128 << (k % 90)) - 1),
            } as i128;
            assert_eq!(super::q_to_f64(v).to_bits(), (v as f64).to_bits(), "{v}");
            assert_eq!(super::q_to_f64(-v).to_bits(), (-v as f64).to_bits());
        }
        for v in [0i128, 1, (1 << 64) - 1, 1 << 64, (1 << 64) + 1, i128::MAX, (1 << 117) + (1 << 64), (1 << 117) + (1 << 64) + 1] {
            assert_eq!(super::q_to_f64(v).to_bits(), (v as f64).to_bits(), "{v}");
        }
    }

    use super::*;
    use crate::profile::{HEADER, read_from};

    fn prof(rows: &[&str]) -> Profile {
        read_from(format!("{HEADER}\n{}\n", rows.join("\n")).as_bytes(), "t").unwrap()
    }

    #[test]
    fn values_match_hand_computation() {
        // 4 biflows; windows of 5 s over [0, 12 s] -> H = 3
        let p = prof(&["0,10000,4,6,1000,443,10,1000,0,0", "0,0,6,17,53,443,1,200,1,900", "5000,5000,4,6,443,80,2,100,0,0", "2000,12000,4,1,0,0,4,8000,0,0"]);
        let mut decls = default_decls(Variant::Windows);
        decls.push(MetricDecl::of(MetricKind::Ipv6Ipv4));
        let m = Model::new(&p, &decls, Variant::Windows, 0.005, 0.0, 0.1, 5).unwrap();
        let w = m.windows.as_ref().unwrap();
        assert_eq!((w.h, w.t0_ns), (3, 0));
        assert_eq!(m.metrics[5], Metric::Protos(vec![1, 6, 17]));
        // port slots: 1000,443,53,443,443,80,0,0 of 8 -> shares 0.125 each for 53,80,1000, 0.375 for 443, 0.25 for 0
        assert_eq!(m.metrics[6], Metric::Ports(vec![0, 53, 80, 443, 1000]));
        let r = &m.ref_values;
        let (pk, by) = (18.0, 10200.0);
        assert_eq!(r[0], pk / by);
        assert_eq!(r[1], 4.0 / pk);
        assert_eq!(r[2], 4.0 / by);
        assert_eq!((r[3], r[4]), (0.75, 0.25));
        assert_eq!(&r[5..8], &[0.25, 0.5, 0.25]);
        assert_eq!(&r[8..13], &[0.25, 0.125, 0.125, 0.375, 0.125]);
        // avg sizes: 100, 550, 50, 2000 -> bins (0,128]:2 (128,512]:0 (512,1024]:1 (1024,inf):1
        assert_eq!(&r[13..17], &[0.5, 0.0, 0.25, 0.25]);
        // windows: b0 10 pk over [0,10s]: 5,5,0; b1 2 pk at 0; b2 2 pk at 5 s (window 1);
        // b3 4 pk over [2,12]: 1.2, 2, 0.8
        let wv = [5.0 + 2.0 + 1.2, 5.0 + 2.0 + 2.0, 0.8];
        for k in 0..3 {
            assert!((r[17 + k] - wv[k] / pk).abs() < 1e-15, "{k}: {}", r[17 + k]);
        }
        assert_eq!(r[20], 1.0 / 3.0);
        // the whole profile against itself: fitness 100, accepted
        let s = m.score(&m.reference);
        assert_eq!((s.fitness, s.worst, s.acceptable), (100.0, 0.0, true));
        // removing the IPv6 biflow: ipv6 deviation 100, ipv6_ipv4 = 0 -> 100; empty bin stays 0
        let mut a = m.reference.clone();
        m.toggle(&mut a, 1, false);
        let d = m.deviations(&a);
        assert_eq!(d[4].metric, "ipv6");
        assert_eq!(d[4].dev, 100.0);
        assert_eq!(d[14].dev, 0.0); // empty reference bin (128, 512] -> 0, not NaN
        assert!(d.iter().all(|x| x.dev.is_finite()));
        // toggling back is exact
        m.toggle(&mut a, 1, true);
        assert_eq!(a, m.reference);
    }

    #[test]
    fn top_n_and_limits() {
        let c = vec![0, 5, 5, 9, 1];
        assert_eq!(frequent_keys(&c, 20.0, 0.0, None), vec![1, 2, 3, 4]);
        assert_eq!(frequent_keys(&c, 20.0, 0.1, None), vec![1, 2, 3]);
        assert_eq!(frequent_keys(&c, 20.0, 0.0, Some(2)), vec![1, 3]);
        assert_eq!(bin_labels(&[128, 512]), vec!["(0, 128]", "(128, 512]", "(512, inf)"]);
    }

    #[test]
    fn declaration_errors_name_the_key() {
        let p = prof(&["0,1,4,6,1,2,1,1,0,0"]);
        let mut d = default_decls(Variant::Readme);
        d[0].limit = Some(0.1);
        assert_eq!(Model::new(&p, &d, Variant::Readme, 0.005, 0.005, 0.005, 5).unwrap_err().0, "metrics[0].limit");
        let d = default_decls(Variant::Readme);
        assert_eq!(Model::new(&p, &d, Variant::Windows, 0.005, 0.005, 0.005, 5).unwrap_err().0, "fitness");
        let mut d = default_decls(Variant::Readme);
        d[7].edges = Some(vec![5, 3]);
        assert_eq!(Model::new(&p, &d, Variant::Readme, 0.005, 0.005, 0.005, 5).unwrap_err().0, "metrics[7].edges");
    }
}
