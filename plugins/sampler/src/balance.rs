//! Balanced rounding (docs/sampler.md, "Search", step 2): every acceptance condition as one
//! linear row, a rounding of the fractional sample x = rate that keeps the rows near zero, and
//! a swap search guided by the rows' gradient.
//!
//! Each deviation j is a ratio `num_j(x) / den_j(x)` held within `limit·r_j` of its reference
//! r_j, i.e. the row `res_j(x) = num_j(x) − r_j·den_j(x)` within `tol_j = limit·r_j·den_j(x)`.
//! Biflow i adds the column `a_ij = num_j(i) − r_j·den_j(i)` to the rows (a window: its packet
//! contribution `W_wi − r_w·P_i`; a protocol share: `[proto_i = k] − r_k`, …). At x = rate every
//! row is 0 (the references are the whole profile's ratios), so the problem is to round x to
//! 0/1 while the rows stay within their tolerances.
//!
//! 1. **Herding.** The biflows are decided one by one in decreasing order of their largest
//!    normalised entry `max_j |a_ij|/tol_j`, each to 0 or 1, whichever gives the smaller
//!    `f = Σ_j w_j res_j²` (w_j = 1/tol_j²) with the undecided ones still at the rate: take it iff
//!    `2 g_i + (1 − 2·rate)·q_i < 0`, with `g_i = Σ_j w_j res_j a_ij` and `q_i = Σ_j w_j a_ij²`.
//!    The large columns are placed first and the small ones, decided last, correct what the
//!    large ones left, so each row ends near 0 (error diffusion).
//! 2. **Swaps.** From the herded sample, each step computes g and q of (a stride sample of at
//!    most [`SCAN`] of) the biflows, takes the [`CANDIDATES`] best removals (`−2g_i + q_i`) and
//!    additions (`2g_j + q_j`), and makes up to [`MOVES_PER_SCAN`] moves among them, each the
//!    best single move (within the size bounds) or pair by its exact change in the linear
//!    model at the residuals the previous moves left (`Δf = Σ_j w_j (2 res_j d_j + d_j²)`,
//!    d = a_j − a_i), while one lowers f. The weights adapt: every [`BUMP_EVERY`] steps, and
//!    whenever no move lowers f, the weight of each row above 90 % of its tolerance is
//!    multiplied by 1.5 (2 when stuck), so the search turns to the rows still over. It ends at
//!    acceptance (the exact [`Model::score`]) or after the step budget.
//! 3. **Attempts.** The caller runs attempts of a bounded number of steps, each from another
//!    herding order (the keys jittered by a seeded factor, [`herd`]): the steps to acceptance
//!    are heavy-tailed (300 to 3 000 on 100k-row profiles), so several short attempts beat
//!    one long one.
//!
//! Why: the repair's random moves aimed at one deviation stall where ~60 early windows share
//! the same long biflows and the global ratios (docs/sampler.md, "What fails and why"); the
//! gradient sees every row at once (docs/sampler.md, "Acceptance", has the figures).
//!
//! Cost per biflow of g and q: O(global rows + windows the biflow spans), with the dense part
//! of the window rows (`−r_w·P_i`) folded into two sums (`Σ_w w_w r_w res_w`, `Σ_w w_w r_w²`).
use crate::genome::Individual;
use crate::metrics::{Acc, Metric, Model};
use flowlab_abi::seed::stream_rng;
use flowlab_abi::{Host, PluginError};
use rand::Rng;

/// Removal and addition candidates evaluated in pairs per swap step.
pub const CANDIDATES: usize = 32;
/// Moves made per scan of the candidates (each re-evaluated at the residuals the previous
/// ones left; a biflow moves at most once per scan).
pub const MOVES_PER_SCAN: usize = 4;
/// Steps between weight updates.
pub const BUMP_EVERY: u64 = 50;
/// Biflows scanned per swap step at most (a stride sample with a random offset above it).
pub const SCAN: usize = 100_000;

/// One linear row: which numerator and denominator it takes from a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Row {
    PktsBts,
    BflsPkts,
    BflsBts,
    Ipv4,
    Ipv6,
    Ipv6Ipv4,
    Proto(usize),
    Port(usize),
    Bin(usize),
    Window(usize),
    /// The sample size against its target: no deviation, a soft row that keeps the rounding
    /// near the size where the count shares fit ([`crate::bound`]); its weight never adapts.
    Count,
}

/// A sample's sums as floats: the accumulator of the integer search, or a fractional one.
#[derive(Debug, Clone)]
struct Sums {
    n: f64,
    n6: f64,
    p: f64,
    b: f64,
    protos: Vec<f64>,
    ports: Vec<f64>,
    bins: Vec<f64>,
    win: Vec<f64>,
}

impl Sums {
    fn of(a: &Acc, scale: f64) -> Sums {
        let f = |v: &[i64]| v.iter().map(|&c| c as f64 * scale).collect();
        Sums {
            n: a.n as f64 * scale,
            n6: a.n6 as f64 * scale,
            p: a.p as f64 * scale,
            b: a.b as f64 * scale,
            protos: f(&a.protos),
            ports: f(&a.ports),
            bins: f(&a.bins),
            win: a.winf.iter().map(|&q| f64::from_bits(q) * scale).collect(),
        }
    }

    /// `(num, den)` of a row.
    fn row(&self, r: Row) -> (f64, f64) {
        match r {
            Row::PktsBts => (self.p, self.b),
            Row::BflsPkts => (self.n, self.p),
            Row::BflsBts => (self.n, self.b),
            Row::Ipv4 => (self.n - self.n6, self.n),
            Row::Ipv6 => (self.n6, self.n),
            Row::Ipv6Ipv4 => (self.n6, self.n - self.n6),
            Row::Proto(k) => (self.protos[k], self.n),
            Row::Port(k) => (self.ports[k], 2.0 * self.n),
            Row::Bin(k) => (self.bins[k], self.n),
            Row::Window(w) => (self.win[w], self.p),
            Row::Count => (self.n, 1.0),
        }
    }
}

/// The rows of a model (the deviations with a finite, non-zero reference).
pub struct Rows<'a> {
    model: &'a Model,
    /// Global rows (not windows): kind and reference.
    global: Vec<(Row, f64)>,
    /// Reference share of each window (0 where the window is not a row).
    wref: Vec<f64>,
    /// Global rows whose q is computed exactly per biflow (not share rows).
    direct: Vec<usize>,
    /// Limit as a fraction.
    limit: f64,
}

impl<'a> Rows<'a> {
    /// The rows of `model`'s deviations, and the soft size row at `k` biflows.
    pub fn new(model: &'a Model, k: usize) -> Rows<'a> {
        let mut global = Vec::new();
        let h = model.windows.as_ref().map_or(0, |w| w.h);
        let mut wref = vec![0.0; h];
        let mut j = 0;
        for m in &model.metrics {
            let rows: Vec<Row> = match m {
                Metric::PktsBts => vec![Row::PktsBts],
                Metric::BflsPkts => vec![Row::BflsPkts],
                Metric::BflsBts => vec![Row::BflsBts],
                Metric::Ipv4 => vec![Row::Ipv4],
                Metric::Ipv6 => vec![Row::Ipv6],
                Metric::Ipv6Ipv4 => vec![Row::Ipv6Ipv4],
                Metric::Protos(k) => (0..k.len()).map(Row::Proto).collect(),
                Metric::Ports(k) => (0..k.len()).map(Row::Port).collect(),
                Metric::PktSize(e) => (0..=e.len()).map(Row::Bin).collect(),
                Metric::Windows(_) => (0..h).map(Row::Window).collect(),
            };
            for r in rows {
                let rv = model.ref_values[j];
                j += 1;
                if !(rv.is_finite() && rv > 0.0) {
                    continue;
                }
                match r {
                    Row::Window(w) => wref[w] = rv,
                    _ => global.push((r, rv)),
                }
            }
        }
        // the size row: res = n − k, tolerance limit·k (Sums::row gives den = 1)
        if k > 0 {
            global.push((Row::Count, k as f64));
        }
        let direct = (0..global.len()).filter(|&j| !matches!(global[j].0, Row::Proto(_) | Row::Port(_) | Row::Bin(_))).collect();
        Rows { model, global, wref, direct, limit: model.limit_pct / 100.0 }
    }

    /// Entry of biflow i in global row `r` (reference `rv`).
    #[inline]
    fn entry(&self, i: usize, r: Row, rv: f64) -> f64 {
        let it = &self.model.items[i];
        let (pk, by, v6) = (it.pk as f64, it.by as f64, it.v6 as f64);
        let ind = |c: bool| if c { 1.0 } else { 0.0 };
        match r {
            Row::PktsBts => pk - rv * by,
            Row::BflsPkts => 1.0 - rv * pk,
            Row::BflsBts => 1.0 - rv * by,
            Row::Ipv4 => (1.0 - v6) - rv,
            Row::Ipv6 => v6 - rv,
            Row::Ipv6Ipv4 => v6 - rv * (1.0 - v6),
            Row::Proto(k) => ind(it.proto as usize == k) - rv,
            Row::Port(k) => ind(it.sport as usize == k) + ind(it.dport as usize == k) - 2.0 * rv,
            Row::Bin(k) => ind(it.bin as usize == k) - rv,
            Row::Window(_) => 0.0,
            Row::Count => 1.0,
        }
    }
}

/// The weighted state of the rows for one sample: global residuals and weights, and the
/// window rows as their sums (`res_w = S_w − r_w·P`, never stored densely).
struct State {
    /// Residual of each global row.
    res_g: Vec<f64>,
    /// Weight of each global row.
    w_g: Vec<f64>,
    /// Weight of each window.
    w_w: Vec<f64>,
    /// Window sums S_w and the sample's packets P.
    win: Vec<f64>,
    p: f64,
    /// `Σ_w w_w r_w S_w` and `Σ_w w_w r_w²`: `Σ_w w_w r_w res_w = z − P·c2`.
    z: f64,
    c2: f64,
}

/// g and q of a biflow as sums of per-feature coefficients (module docs, "Cost"): g over the
/// global rows is `one + p·P_i + b·B_i + v6|v4 + proto[·] + port[sport] + port[dport] +
/// bin[·]`; q over the share rows (entries `[feature] − r`, or `− 2r` for ports) is `q_share`
/// (every entry at its `−r` value) plus, per feature the biflow has, `w(1 − 2r)` (`w(1 − 4r)`
/// for a port slot, plus `2w` when both ports are that slot); the other global rows add their
/// q exactly.
#[derive(Debug, Clone, Default)]
struct Coef {
    one: f64,
    p: f64,
    b: f64,
    v4: f64,
    v6: f64,
    proto: Vec<f64>,
    port: Vec<f64>,
    bin: Vec<f64>,
    q_share: f64,
    qproto: Vec<f64>,
    qport: Vec<f64>,
    qbin: Vec<f64>,
    port_twice: Vec<f64>,
    /// q of the other global rows: entries `f·φ` with φ = (1, P_i, B_i, v6_i), so q is the
    /// quadratic form φᵀMφ (upper triangle, row-major).
    m: [f64; 10],
}

/// `f·φ`, summed left to right.
#[inline]
fn dot4(f: [f64; 4], phi: [f64; 4]) -> f64 {
    f[0] * phi[0] + f[1] * phi[1] + f[2] * phi[2] + f[3] * phi[3]
}

/// The feature vector of a non-share global row's entry: `a = f·(1, P, B, v6)`.
fn direct_features(r: Row, rv: f64) -> [f64; 4] {
    match r {
        Row::PktsBts => [0.0, 1.0, -rv, 0.0],
        Row::BflsPkts => [1.0, -rv, 0.0, 0.0],
        Row::BflsBts => [1.0, 0.0, -rv, 0.0],
        Row::Ipv4 => [1.0 - rv, 0.0, 0.0, -1.0],
        Row::Ipv6 => [-rv, 0.0, 0.0, 1.0],
        Row::Ipv6Ipv4 => [-rv, 0.0, 0.0, 1.0 + rv],
        Row::Count => [1.0, 0.0, 0.0, 0.0],
        Row::Proto(_) | Row::Port(_) | Row::Bin(_) | Row::Window(_) => [0.0; 4],
    }
}

impl Rows<'_> {
    /// The state at sums `s`, with tolerances from `tol_at` and weight multipliers `mult`
    /// (globals first, then windows).
    fn state(&self, s: &Sums, tol_at: &Sums, mult: &[f64]) -> State {
        let ng = self.global.len();
        let (mut res_g, mut w_g) = (Vec::with_capacity(ng), Vec::with_capacity(ng));
        for (k, &(r, rv)) in self.global.iter().enumerate() {
            let (num, den) = s.row(r);
            let tol = (self.limit * rv * tol_at.row(r).1.abs()).max(1e-12);
            res_g.push(num - rv * den);
            w_g.push(mult[k] / (tol * tol));
        }
        let h = self.wref.len();
        let mut w_w = vec![0.0; h];
        let (mut z, mut c2) = (0.0, 0.0);
        for w in 0..h {
            let rv = self.wref[w];
            if rv == 0.0 {
                continue;
            }
            let tol = (self.limit * rv * tol_at.p).max(1e-12);
            let ww = mult[ng + w] / (tol * tol);
            w_w[w] = ww;
            z += ww * rv * s.win[w];
            c2 += ww * rv * rv;
        }
        State { res_g, w_g, w_w, win: s.win.clone(), p: s.p, z, c2 }
    }

    /// The per-feature coefficients of g and q at state `st` (see [`Coef`]).
    fn coef(&self, st: &State) -> Coef {
        let m = self.model;
        let (np, nq, nb) = (m.n_protos + 1, m.n_ports + 1, m.n_bins.max(1));
        let mut c =
            Coef { proto: vec![0.0; np], port: vec![0.0; nq], bin: vec![0.0; nb], qproto: vec![0.0; np], qport: vec![0.0; nq], qbin: vec![0.0; nb], port_twice: vec![0.0; nq], ..Coef::default() };
        for (k, &(r, rv)) in self.global.iter().enumerate() {
            let (w, u) = (st.w_g[k], st.w_g[k] * st.res_g[k]);
            match r {
                Row::PktsBts => (c.p, c.b) = (c.p + u, c.b - rv * u),
                Row::BflsPkts => (c.one, c.p) = (c.one + u, c.p - rv * u),
                Row::BflsBts => (c.one, c.b) = (c.one + u, c.b - rv * u),
                Row::Ipv4 => (c.v4, c.one) = (c.v4 + u, c.one - rv * u),
                Row::Ipv6 => (c.v6, c.one) = (c.v6 + u, c.one - rv * u),
                Row::Ipv6Ipv4 => (c.v6, c.v4) = (c.v6 + u, c.v4 - rv * u),
                Row::Proto(j) => {
                    (c.proto[j], c.one) = (c.proto[j] + u, c.one - rv * u);
                    c.q_share += w * rv * rv;
                    c.qproto[j] += w * (1.0 - 2.0 * rv);
                }
                Row::Port(j) => {
                    (c.port[j], c.one) = (c.port[j] + u, c.one - 2.0 * rv * u);
                    c.q_share += 4.0 * w * rv * rv;
                    c.qport[j] += w * (1.0 - 4.0 * rv);
                    c.port_twice[j] = 2.0 * w;
                }
                Row::Bin(j) => {
                    (c.bin[j], c.one) = (c.bin[j] + u, c.one - rv * u);
                    c.q_share += w * rv * rv;
                    c.qbin[j] += w * (1.0 - 2.0 * rv);
                }
                Row::Count => c.one += u,
                Row::Window(_) => {}
            }
        }
        for &k in &self.direct {
            let (r, rv) = self.global[k];
            let f = direct_features(r, rv);
            let mut t = 0;
            for a in 0..4 {
                for b in a..4 {
                    c.m[t] += st.w_g[k] * f[a] * f[b] * if a == b { 1.0 } else { 2.0 };
                    t += 1;
                }
            }
        }
        c
    }

    /// `(g_i, q_i)`: the gradient and curvature of f along biflow i's column, in O(1 + windows
    /// spanned) through the coefficients `c` of state `st`.
    #[inline]
    fn gq(&self, st: &State, c: &Coef, i: usize) -> (f64, f64) {
        let it = &self.model.items[i];
        let (pk, by) = (it.pk as f64, it.by as f64);
        let (sp, dp) = (it.sport as usize, it.dport as usize);
        let v = if it.v6 == 1 { c.v6 } else { c.v4 };
        let g = c.one + c.p * pk + c.b * by + v + c.proto[it.proto as usize] + c.port[sp] + c.port[dp] + c.bin[it.bin as usize];
        self.gq_with(st, c, i, g)
    }

    /// `(g_i, q_i)` with the global rows' part of g given (`g_global`): q from the
    /// coefficients' curvature parts (which depend on the weights only), the window rows from
    /// `st`.
    #[inline]
    fn gq_with(&self, st: &State, c: &Coef, i: usize, g_global: f64) -> (f64, f64) {
        let it = &self.model.items[i];
        let (pk, by) = (it.pk as f64, it.by as f64);
        let (sp, dp) = (it.sport as usize, it.dport as usize);
        let mut g = g_global;
        let mut q = c.q_share + c.qproto[it.proto as usize] + c.qport[sp] + c.qport[dp] + c.qbin[it.bin as usize];
        if sp == dp {
            q += c.port_twice[sp];
        }
        // the rows whose entries are not indicators: φᵀMφ
        let phi = [1.0, pk, by, it.v6 as f64];
        let mut t = 0;
        for a in 0..4 {
            for b in a..4 {
                q += c.m[t] * phi[a] * phi[b];
                t += 1;
            }
        }
        if !self.wref.is_empty() {
            self.model.for_windows(i, |w, cw| {
                g += st.w_w[w] * (st.win[w] - self.wref[w] * st.p) * cw;
                q += st.w_w[w] * cw * (cw - 2.0 * self.wref[w] * pk);
            });
            g -= pk * (st.z - st.p * st.c2);
            q += pk * pk * st.c2;
        }
        (g, q)
    }

    /// Biflow i's whole column (globals, then windows).
    fn column(&self, i: usize, out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.global.iter().map(|&(r, rv)| self.entry(i, r, rv)));
        let pk = self.model.items[i].pk as f64;
        let ng = out.len();
        out.extend(self.wref.iter().map(|&rv| -rv * pk));
        self.model.for_windows(i, |w, c| out[ng + w] += c);
    }

    /// Residuals of every row (globals, then windows) and their weights, from `st`.
    fn dense(&self, st: &State) -> (Vec<f64>, Vec<f64>) {
        let mut res = st.res_g.clone();
        let mut w = st.w_g.clone();
        for (k, &rv) in self.wref.iter().enumerate() {
            res.push(st.win[k] - rv * st.p);
            w.push(st.w_w[k]);
        }
        (res, w)
    }

    /// `max_j |res_j|/tol_j` per row (globals, then windows; 0 for windows that are no row).
    fn ratios(&self, s: &Sums) -> Vec<f64> {
        let mut out: Vec<f64> = self
            .global
            .iter()
            .map(|&(r, rv)| {
                let (num, den) = s.row(r);
                (num - rv * den).abs() / (self.limit * rv * den.abs()).max(1e-12)
            })
            .collect();
        out.extend(self.wref.iter().enumerate().map(|(w, &rv)| if rv == 0.0 { 0.0 } else { (s.win[w] - rv * s.p).abs() / (self.limit * rv * s.p).max(1e-12) }));
        out
    }
}

/// One attempt of the swap search: the size row's target `k`, the step budget, the size
/// bounds and the streams (`seed_hex`, attempt index).
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// Target size of the soft size row.
    pub k: usize,
    /// Swap steps at most.
    pub steps: u64,
    /// Size bounds `[lo, hi]`.
    pub bounds: (usize, usize),
    /// The task's seed (hex).
    pub seed_hex: &'a str,
    /// Attempt index (stream index of `balance`).
    pub attempt: u64,
}

/// A candidate move: its first-order Δf and the biflow.
type Cand = (f64, u32);

/// What the balanced rounding did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BalanceStats {
    /// Swap steps taken.
    pub steps: u64,
    /// Moves made.
    pub moves: u64,
    /// Pair and single moves evaluated exactly.
    pub proposals: u64,
}

impl BalanceStats {
    /// The counts of two runs added.
    pub fn plus(self, o: BalanceStats) -> BalanceStats {
        BalanceStats { steps: self.steps + o.steps, moves: self.moves + o.moves, proposals: self.proposals + o.proposals }
    }
}

/// Herding (module docs, 1): the rounding of x = `k/N` to a 0/1 sample.
///
/// `attempt` 0 takes the order as it is; a later attempt multiplies each key by
/// `exp(0.25·u)`, u ~ U(−1, 1) from stream `balance_order` (another rounding of the same
/// fractional point, for a restart).
pub fn herd(model: &Model, k: usize, bounds: (usize, usize), seed_hex: &str, attempt: u64) -> Individual {
    let rows = Rows::new(model, k);
    let n = model.len();
    let rate = k as f64 / n.max(1) as f64;
    let target = Sums::of(&model.reference, rate);
    let ng = rows.global.len();
    let mult = vec![1.0; ng + rows.wref.len()];
    // the fractional state, updated as biflows are decided; the weights stay fixed here, so
    // the curvature parts of the coefficients hold throughout
    let mut st = rows.state(&target, &target, &mult);
    let cf = rows.coef(&st);
    let mut h = Herder::new(&rows, &st, &target);
    // order: largest normalised entry first (ties in file order)
    let mut jitter = stream_rng(seed_hex, "balance_order", attempt);
    let key: Vec<f64> = (0..n)
        .map(|i| {
            let mut m = h.key(&rows, &st, i);
            rows.model.for_windows(i, |w, c| m = m.max(c * st.w_w[w].sqrt()));
            if attempt > 0 { m * (0.25 * (2.0 * jitter.random::<f64>() - 1.0)).exp() } else { m }
        })
        .collect();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by(|&a, &b| key[b as usize].total_cmp(&key[a as usize]).then(a.cmp(&b)));
    drop(key);
    let mut words = vec![0u64; n.div_ceil(64)];
    // the size bounds are hard (the swaps keep them, but cannot bring a sample back into
    // them): once `hi` biflows are taken the rest are left out, and once only enough are left
    // to reach `lo` they are all taken; those decided last are the smallest columns
    let (mut ones, mut rem) = (0usize, n);
    for &i in &order {
        let i = i as usize;
        let forced = if ones >= bounds.1 {
            Some(false)
        } else if ones + rem <= bounds.0 {
            Some(true)
        } else {
            None
        };
        rem -= 1;
        let take = forced.unwrap_or_else(|| {
            let (g, q) = rows.gq_with(&st, &cf, i, h.g(&rows, &st, i));
            2.0 * g + (1.0 - 2.0 * rate) * q < 0.0
        });
        ones += take as usize;
        let dx = if take {
            words[i >> 6] |= 1u64 << (i & 63);
            1.0 - rate
        } else {
            -rate
        };
        h.shift(&rows, &mut st, i, dx);
    }
    Individual::from_words(model, words)
}

/// The global rows during herding, in O(rows with a non-indicator entry + the biflow's own
/// indicator rows) per biflow instead of O(all global rows): a share row k (protocol, port
/// slot, size bin) has `res_k = cnt_k − m_k r_k n` (m_k = 2 for ports, else 1) and entries
/// `mult_k(i) − m_k r_k`, so `Σ_k w_k res_k a_ik = Σ_{k: mult_k(i) > 0} w_k res_k mult_k(i) −
/// (A − n·B)` with `A = Σ_k w_k m_k r_k cnt_k` (kept up to date) and `B = Σ_k w_k m_k² r_k²`.
struct Herder {
    /// (row, features f with entry f·(1, P, B, v6)) of the non-share rows.
    direct: Vec<(usize, [f64; 4])>,
    /// The share row of each protocol slot, port slot and size bin.
    of_proto: Vec<Option<usize>>,
    of_port: Vec<Option<usize>>,
    of_bin: Vec<Option<usize>>,
    /// m_k per row (share rows only).
    m: Vec<f64>,
    /// cnt_k per row (share rows only), n, A and B.
    cnt: Vec<f64>,
    n: f64,
    a: f64,
    b: f64,
}

impl Herder {
    fn new(rows: &Rows, st: &State, at: &Sums) -> Herder {
        let md = rows.model;
        let ng = rows.global.len();
        let mut h = Herder {
            direct: Vec::new(),
            of_proto: vec![None; md.n_protos + 1],
            of_port: vec![None; md.n_ports + 1],
            of_bin: vec![None; md.n_bins.max(1)],
            m: vec![0.0; ng],
            cnt: vec![0.0; ng],
            n: at.n,
            a: 0.0,
            b: 0.0,
        };
        for (k, &(r, rv)) in rows.global.iter().enumerate() {
            let (slot, m) = match r {
                Row::Proto(j) => (&mut h.of_proto[j], 1.0),
                Row::Port(j) => (&mut h.of_port[j], 2.0),
                Row::Bin(j) => (&mut h.of_bin[j], 1.0),
                _ => {
                    h.direct.push((k, direct_features(r, rv)));
                    continue;
                }
            };
            *slot = Some(k);
            h.m[k] = m;
            h.cnt[k] = at.row(r).0;
            h.a += st.w_g[k] * m * rv * h.cnt[k];
            h.b += st.w_g[k] * m * m * rv * rv;
        }
        h
    }

    /// The share rows biflow i has an indicator in, with its multiplicity.
    #[inline]
    fn active(&self, rows: &Rows, i: usize) -> [(Option<usize>, f64); 4] {
        let it = &rows.model.items[i];
        let (sp, dp) = (self.of_port[it.sport as usize], self.of_port[it.dport as usize]);
        let both = sp.is_some() && sp == dp;
        [(self.of_proto[it.proto as usize], 1.0), (sp, if both { 2.0 } else { 1.0 }), (if both { None } else { dp }, 1.0), (self.of_bin[it.bin as usize], 1.0)]
    }

    #[inline]
    fn phi(rows: &Rows, i: usize) -> [f64; 4] {
        let it = &rows.model.items[i];
        [1.0, it.pk as f64, it.by as f64, it.v6 as f64]
    }

    /// The global rows' part of g for biflow i.
    #[inline]
    fn g(&self, rows: &Rows, st: &State, i: usize) -> f64 {
        let phi = Self::phi(rows, i);
        let mut g = 0.0;
        for &(k, f) in &self.direct {
            g += st.w_g[k] * st.res_g[k] * dot4(f, phi);
        }
        for (k, mult) in self.active(rows, i) {
            if let Some(k) = k {
                let rv = rows.global[k].1;
                g += st.w_g[k] * (self.cnt[k] - self.m[k] * rv * self.n) * mult;
            }
        }
        g - (self.a - self.n * self.b)
    }

    /// Biflow i's largest normalised entry over the non-share rows and its own share rows.
    fn key(&self, rows: &Rows, st: &State, i: usize) -> f64 {
        let phi = Self::phi(rows, i);
        let mut m = 0.0f64;
        for &(k, f) in &self.direct {
            m = m.max(dot4(f, phi).abs() * st.w_g[k].sqrt());
        }
        for (k, mult) in self.active(rows, i) {
            if let Some(k) = k {
                m = m.max((mult - self.m[k] * rows.global[k].1).abs() * st.w_g[k].sqrt());
            }
        }
        m
    }

    /// Moves the fractional state by `dx` of biflow i.
    fn shift(&mut self, rows: &Rows, st: &mut State, i: usize, dx: f64) {
        let phi = Self::phi(rows, i);
        for &(k, f) in &self.direct {
            st.res_g[k] += dx * dot4(f, phi);
        }
        self.n += dx;
        for (k, mult) in self.active(rows, i) {
            if let Some(k) = k {
                self.cnt[k] += dx * mult;
                self.a += st.w_g[k] * self.m[k] * rows.global[k].1 * dx * mult;
            }
        }
        let pk = phi[1];
        rows.model.for_windows(i, |w, c| {
            st.win[w] += dx * c;
            st.z += st.w_w[w] * rows.wref[w] * dx * c;
        });
        st.p += dx * pk;
    }
}

/// Swap search (module docs, 2) on `ind` within the size bounds, for at most `steps` steps.
pub fn swaps(model: &Model, ind: &mut Individual, at: &Attempt, host: &Host) -> Result<BalanceStats, PluginError> {
    let &Attempt { k, steps, bounds, seed_hex, attempt } = at;
    let rows = Rows::new(model, k);
    let n = model.len();
    let ng = rows.global.len();
    let mut mult = vec![1.0; ng + rows.wref.len()];
    let mut rng = stream_rng(seed_hex, "balance", attempt);
    let mut stats = BalanceStats::default();
    let (mut cols_out, mut cols_in): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    while stats.steps < steps && !ind.score.acceptable {
        if stats.steps % 256 == 0 {
            host.check_cancel()?;
        }
        let s = Sums::of(&ind.acc, 1.0);
        if stats.steps > 0 && stats.steps % BUMP_EVERY == 0 {
            bump(&rows, &s, &mut mult, 1.5);
        }
        stats.steps += 1;
        let st = rows.state(&s, &s, &mult);
        let (res, w) = rows.dense(&st);
        let cf = rows.coef(&st);
        // candidates from a stride sample of the biflows
        let stride = n.div_ceil(SCAN).max(1);
        let off = if stride > 1 { rng.random_range(0..stride) } else { 0 };
        let (mut rem, mut add): (Vec<Cand>, Vec<Cand>) = (Vec::new(), Vec::new());
        let mut i = off;
        while i < n {
            let (g, q) = rows.gq(&st, &cf, i);
            if ind.has(i) {
                rem.push((q - 2.0 * g, i as u32));
            } else {
                add.push((q + 2.0 * g, i as u32));
            }
            i += stride;
        }
        let best_of = |v: &mut Vec<Cand>| {
            if v.len() > CANDIDATES {
                v.select_nth_unstable_by(CANDIDATES, |a, b| a.0.total_cmp(&b.0));
                v.truncate(CANDIDATES);
            }
            v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        };
        best_of(&mut rem);
        best_of(&mut add);
        // the candidates' columns, then up to MOVES_PER_SCAN moves, each the best single (within
        // the size bounds) or pair by its exact Δf in the linear model at the current residuals
        let mut res = res;
        let colsof = |v: &[Cand], out: &mut Vec<Vec<f64>>| {
            out.resize_with(v.len(), Vec::new);
            for (c, &(_, i)) in out.iter_mut().zip(v) {
                rows.column(i as usize, c);
            }
        };
        colsof(&rem, &mut cols_out);
        colsof(&add, &mut cols_in);
        let (mut used_out, mut used_in) = (vec![false; rem.len()], vec![false; add.len()]);
        let df = |d: &mut dyn Iterator<Item = (usize, f64)>, res: &[f64]| -> f64 { d.map(|(j, dj)| w[j] * dj * (2.0 * res[j] + dj)).sum() };
        let mut moved = 0;
        while moved < MOVES_PER_SCAN {
            let mut best: (f64, Option<usize>, Option<usize>) = (-1e-12, None, None);
            for (a, c) in cols_out.iter().enumerate().filter(|&(a, _)| !used_out[a]) {
                if ind.ones > bounds.0 {
                    let d = df(&mut c.iter().map(|x| -x).enumerate(), &res);
                    stats.proposals += 1;
                    if d < best.0 {
                        best = (d, Some(a), None);
                    }
                }
                for (b, cj) in cols_in.iter().enumerate().filter(|&(b, _)| !used_in[b]) {
                    let d = df(&mut cj.iter().zip(c).map(|(x, y)| x - y).enumerate(), &res);
                    stats.proposals += 1;
                    if d < best.0 {
                        best = (d, Some(a), Some(b));
                    }
                }
            }
            if ind.ones < bounds.1 {
                for (b, cj) in cols_in.iter().enumerate().filter(|&(b, _)| !used_in[b]) {
                    let d = df(&mut cj.iter().copied().enumerate(), &res);
                    stats.proposals += 1;
                    if d < best.0 {
                        best = (d, None, Some(b));
                    }
                }
            }
            if best.1.is_none() && best.2.is_none() {
                break;
            }
            if let Some(a) = best.1 {
                used_out[a] = true;
                ind.flip(model, rem[a].1 as usize, false);
                res.iter_mut().zip(&cols_out[a]).for_each(|(r, x)| *r -= x);
            }
            if let Some(b) = best.2 {
                used_in[b] = true;
                ind.flip(model, add[b].1 as usize, true);
                res.iter_mut().zip(&cols_in[b]).for_each(|(r, x)| *r += x);
            }
            moved += 1;
            stats.moves += 1;
        }
        if moved == 0 {
            bump(&rows, &s, &mut mult, 2.0);
        } else {
            ind.rescore(model);
        }
    }
    Ok(stats)
}

/// Largest weight multiplier: the weights of rows stuck above their tolerance grow at most
/// this far over the others (the objective stays well scaled).
const MAX_MULT: f64 = 1e8;

/// Multiplies the weight of every deviation row above 90 % of its tolerance by `by` (at most
/// [`MAX_MULT`]; the size row keeps weight 1).
fn bump(rows: &Rows, s: &Sums, mult: &mut [f64], by: f64) {
    for ((m, r), j) in mult.iter_mut().zip(rows.ratios(s)).zip(0..) {
        if r > 0.9 && rows.global.get(j).is_none_or(|g| g.0 != Row::Count) {
            *m = (*m * by).min(MAX_MULT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folded gradient and curvature equal the dense computation over every row.
    #[test]
    fn gq_equals_the_dense_column() {
        let recs = crate::generate::generate(&crate::generate::GenOptions { rows: 3000, seed: 7, ..Default::default() });
        let mut buf = Vec::new();
        crate::generate::write(&recs, &mut buf).expect("write");
        let prof = crate::profile::read_from(&buf[..], "p.csv").expect("profile");
        let model = crate::metrics::Model::new(&prof, &crate::metrics::default_decls(crate::metrics::Variant::Windows), crate::metrics::Variant::Windows, 0.005, 0.005, 0.005, 5).expect("model");
        let rows = Rows::new(&model, 300);
        let ind = herd(&model, 300, (0, usize::MAX), "00", 0);
        let s = Sums::of(&ind.acc, 1.0);
        let mult: Vec<f64> = (0..rows.global.len() + rows.wref.len()).map(|k| 1.0 + (k % 3) as f64).collect();
        let st = rows.state(&s, &s, &mult);
        let (res, w) = rows.dense(&st);
        // herding's global part of g equals the direct sum over the global rows
        let h = Herder::new(&rows, &st, &s);
        for i in (0..model.len()).step_by(41) {
            let direct: f64 = rows.global.iter().enumerate().map(|(k, &(r, rv))| st.w_g[k] * st.res_g[k] * rows.entry(i, r, rv)).sum();
            let hg = h.g(&rows, &st, i);
            assert!((hg - direct).abs() <= 1e-9 * (1.0 + direct.abs()), "herder g {hg} vs {direct} at {i}");
        }
        let mut col = Vec::new();
        for i in (0..model.len()).step_by(37) {
            let cf = rows.coef(&st);
            let (g, q) = rows.gq(&st, &cf, i);
            rows.column(i, &mut col);
            let g2: f64 = col.iter().zip(&res).zip(&w).map(|((a, r), w)| w * r * a).sum();
            let q2: f64 = col.iter().zip(&w).map(|(a, w)| w * a * a).sum();
            assert!((g - g2).abs() <= 1e-9 * (1.0 + g2.abs()), "g {g} vs {g2} at {i}");
            assert!((q - q2).abs() <= 1e-9 * (1.0 + q2.abs()), "q {q} vs {q2} at {i}");
        }
    }
}
