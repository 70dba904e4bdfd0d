//! flow-models' `hist` histogram of flow records (docs/histfit.md, "hist"): per record
//!
//! ```text
//! duration = 0 if packets == 1 else (last - first)·1000 + last_ms - first_ms     [ms, integer]
//! rate     = 0 if duration == 0 else (8000·octets) / duration                    [bps, Python float]
//! (bin_lo, bin_hi) = (x, x + 1)                          if b = 0   (bin_calc_one)
//!                  = (⌊x / w⌋·w, ⌊x / w⌋·w + w), w = 2^max(0, bitlen(int(x)) − b)  (bin_calc_log)
//! ```
//!
//! and per bin the sums of flows, packets, octets, duration, rate (a float summed in input
//! order) and aggs, printed as `str(int(sum))`. For `x = rate` the bins are keyed by the float
//! `bin_lo` (several keys may print the same integer, as in flow-models); every other x is an
//! integer. The operations are Python's, in Python's order ([`crate::pynum`]), so the text is
//! byte-identical to flow-models' `hist -o csv_hist`.
use crate::flows::Record;
use crate::hist::XKind;
use crate::pynum::{bit_len, float_floor_div, int_true_div, trunc_to_string};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The additional columns flow-models' `hist -c` can sum.
pub const COLUMNS: [&str; 6] = ["flows", "packets", "octets", "duration", "rate", "aggs"];

/// The sums of one bin, as accumulated (96 bytes: the dense table of a 10^7-record run stays
/// in cache while the input streams through it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Number of flows.
    pub flows: u64,
    /// Σ packets.
    pub packets: i128,
    /// Σ octets.
    pub octets: i128,
    /// Σ duration (ms).
    pub duration: i128,
    /// Σ rate (bps), a double summed in input order as flow-models does.
    pub rate: f64,
    /// Σ aggs.
    pub aggs: i128,
}

/// One non-empty bin: its edges and sums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    /// Lower edge (an integer, or the float for `x = rate`).
    pub lo: Edge,
    /// Upper edge (exclusive).
    pub hi: Edge,
    /// The sums.
    pub sums: Sums,
}

/// A bin edge: an integer, or a double for rate histograms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edge {
    /// Integer edge.
    Int(i128),
    /// Float edge (`x = rate`).
    Float(f64),
}

impl Edge {
    fn text(self) -> Option<String> {
        match self {
            Edge::Int(v) => Some(v.to_string()),
            Edge::Float(v) => trunc_to_string(v),
        }
    }
}

/// A totally ordered key of a double (`-0.0` is `0.0`, as Python's dict treats them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct FKey(u64);

impl FKey {
    fn of(v: f64) -> FKey {
        let v = if v == 0.0 { 0.0 } else { v };
        let b = v.to_bits();
        FKey(if b >> 63 == 1 { !b } else { b | (1 << 63) })
    }
}

/// Bins of integer x below this go to a dense table (the common case), the rest to a map.
const DENSE: usize = 1 << 16;

/// The histogram being accumulated.
pub struct FlowHist {
    x: XKind,
    bin_exp: u32,
    need_duration: bool,
    /// Whether `duration_sum`, `rate_sum`, `aggs_sum` are printed (else not accumulated).
    sum_duration: bool,
    sum_rate: bool,
    sum_aggs: bool,
    /// Integer bins with `0 ≤ bin_lo < DENSE`, indexed by `bin_lo` (`flows == 0`: empty).
    dense: Vec<Sums>,
    /// Other integer bins: `bin_lo` → (`bin_hi`, sums).
    ints: BTreeMap<i128, (i128, Sums)>,
    /// Float bins (`x = rate`): key of `bin_lo` → (`bin_lo`, `bin_hi`, sums) of its first record.
    floats: BTreeMap<FKey, (f64, f64, Sums)>,
    /// Flows added.
    pub flows: u64,
}

/// `bin_calc_log(x, b)` for an integer x: `(x // w)·w` with w = 2^k is an arithmetic shift
/// right then left (Python's floor division rounds toward −∞, as the shift does).
pub fn log_bin_int(x: i128, b: u32) -> (i128, i128) {
    let k = bit_len(x.unsigned_abs()).saturating_sub(b);
    let lo = (x >> k) << k;
    (lo, lo + (1i128 << k))
}

/// `bin_calc_log(x, b)` for a float x: `int(x).bit_length()`, then float `//` and `*`.
pub fn log_bin_float(x: f64, b: u32) -> (f64, f64) {
    let bl = bit_len((x.trunc() as i128).unsigned_abs());
    let w = 2f64.powi(bl.saturating_sub(b) as i32);
    let lo = float_floor_div(x, w) * w;
    (lo, lo + w)
}

/// The rate of a record: `8000·octets / duration` (bps, Python's true division), 0 without a
/// duration.
fn rate_of(octets: i128, duration: i128) -> f64 {
    if duration != 0 { int_true_div(8000 * octets, duration) } else { 0.0 }
}

impl FlowHist {
    /// An empty histogram of `x` with bin exponent `b`; `columns` says which sums are printed
    /// (duration and rate are computed only when they are binned or printed).
    pub fn new(x: XKind, bin_exp: u32, columns: &[String]) -> FlowHist {
        let has = |c: &str| columns.iter().any(|s| s == c);
        let need_rate = x == XKind::Rate || has("rate");
        let need_duration = need_rate || x == XKind::Duration || has("duration");
        FlowHist { x, bin_exp, need_duration, sum_duration: has("duration"), sum_rate: has("rate"), sum_aggs: has("aggs"), dense: Vec::new(), ints: BTreeMap::new(), floats: BTreeMap::new(), flows: 0 }
    }

    /// Adds one record. The hot path (an integer x whose bin is in the dense table, as almost
    /// every record of a length, size or duration histogram is) is kept small so that it inlines
    /// into the reader's loop; rates, bins outside the table and the table's growth are out of
    /// line (measured: docs/histfit.md, "hist: speed").
    #[inline(always)]
    pub fn add(&mut self, r: &Record) {
        let (packets, octets) = (r[18], r[19]);
        let duration = if self.need_duration && packets != 1 { (r[16] - r[14]) * 1000 + r[17] - r[15] } else { 0 };
        if self.x == XKind::Rate {
            return self.add_rate(r, duration);
        }
        let v = match self.x {
            XKind::Length => packets,
            XKind::Size => octets,
            _ => duration,
        };
        let lo = if self.bin_exp == 0 { v } else { log_bin_int(v, self.bin_exp).0 };
        // the table never outgrows DENSE, so a hit is a dense bin (a negative or huge lo misses)
        match usize::try_from(lo).ok().and_then(|i| self.dense.get_mut(i)) {
            Some(bin) => {
                bin.flows += 1;
                bin.packets += packets;
                bin.octets += octets;
                if self.sum_duration | self.sum_rate | self.sum_aggs {
                    Self::add_rest(bin, r, duration, self.sum_duration, self.sum_rate, self.sum_aggs);
                }
                self.flows += 1;
            }
            _ => self.add_int_cold(r, v, lo, duration),
        }
    }

    /// The optional sums of a bin (duration, rate, aggs: only those printed).
    #[cold]
    #[inline(never)]
    fn add_rest(bin: &mut Sums, r: &Record, duration: i128, sum_duration: bool, sum_rate: bool, sum_aggs: bool) {
        if sum_duration {
            bin.duration += duration;
        }
        if sum_rate {
            bin.rate += rate_of(r[19], duration);
        }
        if sum_aggs {
            bin.aggs += r[20];
        }
    }

    /// A record of an integer x whose bin is not (yet) in the dense table: grow the table, or
    /// use the map.
    #[cold]
    #[inline(never)]
    fn add_int_cold(&mut self, r: &Record, v: i128, lo: i128, duration: i128) {
        let bin = if (0..DENSE as i128).contains(&lo) {
            let i = lo as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, Sums::default());
            }
            &mut self.dense[i]
        } else {
            let hi = if self.bin_exp == 0 { v + 1 } else { log_bin_int(v, self.bin_exp).1 };
            &mut self.ints.entry(lo).or_insert((hi, Sums::default())).1
        };
        Self::add_sums(bin, r, duration, self.sum_duration, self.sum_rate, self.sum_aggs);
        self.flows += 1;
    }

    /// A record of `x = rate` (float bins).
    #[inline(never)]
    fn add_rate(&mut self, r: &Record, duration: i128) {
        let rate = rate_of(r[19], duration);
        let (lo, hi) = if self.bin_exp == 0 { (rate, rate + 1.0) } else { log_bin_float(rate, self.bin_exp) };
        let bin = &mut self.floats.entry(FKey::of(lo)).or_insert((lo, hi, Sums::default())).2;
        Self::add_sums(bin, r, duration, self.sum_duration, self.sum_rate, self.sum_aggs);
        self.flows += 1;
    }

    /// Every sum of a bin for one record.
    fn add_sums(bin: &mut Sums, r: &Record, duration: i128, sum_duration: bool, sum_rate: bool, sum_aggs: bool) {
        bin.flows += 1;
        bin.packets += r[18];
        bin.octets += r[19];
        Self::add_rest(bin, r, duration, sum_duration, sum_rate, sum_aggs);
    }

    /// The upper edge of the dense bin whose lower edge is `lo ≥ 0`: `bin_calc` of `lo` gives
    /// its own bin back (clearing the k = bitlen − b low bits of a non-negative x keeps its top
    /// bit, so bitlen and width are those of every x in the bin; not so below 0, where the maps
    /// keep `bin_hi`).
    fn dense_hi(&self, lo: i128) -> i128 {
        if self.bin_exp == 0 { lo + 1 } else { log_bin_int(lo, self.bin_exp).1 }
    }

    /// The bins in ascending `bin_lo`.
    pub fn bins(&self) -> Vec<Bin> {
        let int = |(&lo, &(hi, sums)): (&i128, &(i128, Sums))| Bin { lo: Edge::Int(lo), hi: Edge::Int(hi), sums };
        let neg = self.ints.range(..0).map(int);
        let dense = self.dense.iter().enumerate().filter(|(_, s)| s.flows > 0).map(|(i, &sums)| Bin { lo: Edge::Int(i as i128), hi: Edge::Int(self.dense_hi(i as i128)), sums });
        let pos = self.ints.range(0..).map(int);
        let floats = self.floats.values().map(|&(lo, hi, sums)| Bin { lo: Edge::Float(lo), hi: Edge::Float(hi), sums });
        neg.chain(dense).chain(pos).chain(floats).collect()
    }

    /// Number of non-empty bins.
    pub fn len(&self) -> usize {
        self.dense.iter().filter(|s| s.flows > 0).count() + self.ints.len() + self.floats.len()
    }

    /// Whether no flow was added.
    pub fn is_empty(&self) -> bool {
        self.flows == 0
    }

    /// The header line (without newline): `bin_lo,bin_hi,flows_sum,packets_sum,octets_sum`
    /// then `<c>_sum` per additional column.
    pub fn header(columns: &[String]) -> String {
        let mut h = String::from("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum");
        for c in columns {
            let _ = write!(h, ",{c}_sum");
        }
        h
    }

    /// Writes the data lines (each ending in `\n`) into `out`; `Err` names a sum Python could
    /// not print (an infinite rate sum).
    pub fn write_rows(&self, columns: &[String], out: &mut String) -> Result<(), String> {
        for b in self.bins() {
            let lo = b.lo.text().ok_or("bin_lo is not finite")?;
            let hi = b.hi.text().ok_or("bin_hi is not finite")?;
            let s = &b.sums;
            let _ = write!(out, "{lo},{hi},{},{},{}", s.flows, s.packets, s.octets);
            for c in columns {
                let v = match c.as_str() {
                    "flows" => s.flows.to_string(),
                    "packets" => s.packets.to_string(),
                    "octets" => s.octets.to_string(),
                    "duration" => s.duration.to_string(),
                    "rate" => trunc_to_string(s.rate).ok_or("rate_sum overflows a double (Python: OverflowError)")?,
                    "aggs" => s.aggs.to_string(),
                    other => return Err(format!("unknown column `{other}`")),
                };
                out.push(',');
                out.push_str(&v);
            }
            out.push('\n');
        }
        Ok(())
    }

    /// What the csv_hist readers refuse in the text [`FlowHist::write_rows`] writes
    /// (docs/histfit.md, "csv_hist and binning": each column once, every field a non-negative
    /// integer up to 2^63 − 1), told in one phrase. flow-models writes such files (a column
    /// asked for twice, a negative `packets` in a record, sums beyond int64), and so does
    /// `hist`, byte for byte; this names the problem before `summary` or `fit` refuses the file.
    pub fn unreadable(&self, columns: &[String]) -> Option<String> {
        let base = ["flows", "packets", "octets"];
        if let Some((_, c)) = columns.iter().enumerate().find(|(i, c)| base.contains(&c.as_str()) || columns[..*i].contains(c)) {
            let why = if base.contains(&c.as_str()) { "always written" } else { "asked for twice" };
            return Some(format!("the header holds `{c}_sum` twice (column `{c}` is {why})"));
        }
        const MAX: i128 = i64::MAX as i128;
        let bad = |v: i128| !(0..=MAX).contains(&v);
        let mut count = 0;
        let mut first = None;
        for b in self.bins() {
            let s = &b.sums;
            let edge = |e: Edge| match e {
                Edge::Int(v) => bad(v).then(|| v.to_string()),
                Edge::Float(_) => None,
            };
            let mut found = edge(b.lo).map(|v| format!("bin_lo = {v}")).or_else(|| edge(b.hi).map(|v| format!("bin_hi = {v}")));
            let sums = [("flows", i128::from(s.flows)), ("packets", s.packets), ("octets", s.octets)];
            // (flows, packets and octets among `columns` were told above)
            let extra = columns.iter().filter_map(|c| match c.as_str() {
                "duration" => Some((c.as_str(), s.duration)),
                "aggs" => Some((c.as_str(), s.aggs)),
                // a rate sum is a double; the file holds its truncation
                "rate" => Some((c.as_str(), if s.rate.is_finite() && s.rate.abs() < 1.7e38 { s.rate.trunc() as i128 } else { i128::MAX })),
                _ => None,
            });
            if found.is_none() {
                found = sums.into_iter().chain(extra).find(|&(_, v)| bad(v)).map(|(c, v)| format!("{c}_sum = {v}"));
            }
            if let Some(f) = found {
                count += 1;
                if first.is_none() {
                    let (lo, hi) = (b.lo.text().unwrap_or_default(), b.hi.text().unwrap_or_default());
                    first = Some(format!("bin [{lo}, {hi}), {f}"));
                }
            }
        }
        first.map(|f| {
            format!(
                "{count} bin{} a value outside 0 ..= 2^63 − 1, the first {f} (a negative value comes from records with a negative field, a larger one from sums beyond int64)",
                if count == 1 { " holds" } else { "s hold" }
            )
        })
    }
}

impl crate::flows::Sink for FlowHist {
    #[inline(always)]
    fn take(&mut self, r: &Record) -> Result<(), flowlab_abi::PluginError> {
        self.add(r);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `unreadable` names a value exactly when the csv_hist reader refuses what `hist` wrote:
    /// random records with negative fields and fields up to 2^64, every integer x, bin
    /// exponents and extra columns.
    #[test]
    fn unreadable_values_are_those_the_reader_refuses() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(21);
        let (mut refused, mut read) = (0, 0);
        for case in 0..400 {
            let x = [XKind::Length, XKind::Size, XKind::Duration][case % 3];
            let b = rng.random_range(0..4u32);
            let columns: Vec<String> = ["duration", "aggs", "rate", "flows"].iter().filter(|_| rng.random_bool(0.4)).map(|c| c.to_string()).collect();
            let mut h = FlowHist::new(x, b, &columns);
            for _ in 0..rng.random_range(1..30) {
                let mut r: Record = [0; 21];
                for (k, f) in r.iter_mut().enumerate() {
                    *f = match rng.random_range(0..40) {
                        0 if case % 4 == 0 => -rng.random_range(1..1000i128),
                        1 if case % 5 == 0 => rng.random_range(1i128 << 62..=crate::flows::MAX_FIELD),
                        _ if (14..18).contains(&k) => rng.random_range(0..2000),
                        _ => rng.random_range(1..5000),
                    };
                }
                h.add(&r);
            }
            let mut text = FlowHist::header(&columns) + "\n";
            if h.write_rows(&columns, &mut text).is_err() {
                continue;
            }
            let reader = crate::hist::Hist::parse(&text, "h.csv");
            let named = h.unreadable(&columns);
            assert_eq!(named.is_some(), reader.is_err(), "case {case}: {named:?} / {:?}\n{text}", reader.err());
            if named.is_some() { refused += 1 } else { read += 1 }
        }
        assert!(refused > 20 && read > 20, "{refused} refused, {read} read");
    }

    #[test]
    fn log_bins_match_flow_models_definition() {
        // bin_calc_log(5000, 12): bit_length 13 → width 2 → (5000, 5002)
        assert_eq!(log_bin_int(5000, 12), (5000, 5002));
        assert_eq!(log_bin_int(5001, 12), (5000, 5002));
        assert_eq!(log_bin_int(0, 3), (0, 1));
        // negative durations: floor division
        assert_eq!(log_bin_int(-37, 3), (-40, -32));
        assert_eq!(log_bin_float(1234.75, 4), (1152.0, 1280.0));
        assert_eq!(log_bin_float(0.25, 4), (0.0, 1.0));
    }

    /// The dense table's recomputed `bin_hi` is the one of every x in the bin.
    #[test]
    fn dense_bins_give_back_their_upper_edge() {
        for b in 0..20u32 {
            let h = FlowHist::new(XKind::Length, b, &[]);
            for x in 0..(DENSE as i128) {
                let (lo, hi) = if b == 0 { (x, x + 1) } else { log_bin_int(x, b) };
                assert_eq!(h.dense_hi(lo), hi, "x {x} b {b}");
            }
        }
    }

    #[test]
    fn float_keys_order_numerically() {
        let mut v = [3.5, -1.0, 0.0, -0.0, 1e300, -2e-300, 7.0];
        v.sort_by_key(|x| FKey::of(*x));
        assert_eq!(v[0], -1.0);
        assert_eq!(v[1], -2e-300);
        assert_eq!(v[6], 1e300);
        assert_eq!(FKey::of(0.0), FKey::of(-0.0));
    }
}
