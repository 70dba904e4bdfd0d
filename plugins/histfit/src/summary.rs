//! flow-models' `summary` tables (docs/histfit.md, "Summary tables"), byte for byte, plus an improved siunitx variant.
//!
//! Table 1 lists placeholder rows, the totals `Σ flows_sum`, `Σ packets_sum`, `Σ octets_sum`
//! (thousands separated by an ASCII space), `Average flow length = Σpackets/Σflows` and
//! `Average packet size = Σoctets/Σpackets` (`%.6f`). Table 2 gives, at the 25 points
//! 2^0…2^24 (×64 for size), `100·interp(bin_lo, cumsum(c)/Σc)(point)` for each of the three
//! columns (`%.4f`, linear interpolation as scipy's `interp1d`, `nan` outside
//! [min bin_lo, max bin_lo]). flow-models prints each table followed by two empty lines.
use crate::hist::{Hist, XKind};
use flowlab_abi::PluginError;
use std::fmt::Write as _;

/// The numbers behind both tables.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The x kind the percentages are over.
    pub x: XKind,
    /// `(what, total)` for flows, packets, octets (in that order, when present).
    pub totals: Vec<(&'static str, u128)>,
    /// `(x name, unit, average)` rows of table 1 (flow-models' loop over X_VALUES).
    pub averages: Vec<(&'static str, &'static str, f64)>,
    /// Σoctets/Σpackets.
    pub avg_packet_size: f64,
    /// Σoctets/Σflows (printed only by the improved variant: flow-models never prints it).
    pub avg_flow_size: f64,
    /// The 25 points.
    pub points: Vec<u64>,
    /// Percentages (flows, packets, octets) at each point; NaN outside the range.
    pub pct: Vec<[f64; 3]>,
    /// Smallest and largest `bin_lo` of the data: flow-models' `nan` rows lie outside them.
    pub range: (u64, u64),
}

/// flow-models' `'{:,}'.format(n).replace(',', ' ')`: groups of three digits separated by an
/// ASCII space (0x20).
pub fn thousands(n: u128) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, ch) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

/// Python's `'%.Nf' % x` (Rust's fixed formatting rounds the exact binary value half-to-even
/// like CPython; non-finite values print as `nan`, `inf`, `-inf`).
pub fn pyfixed(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{x:.digits$}")
    }
}

/// scipy `interp1d(xs, ys, 'linear', bounds_error=False)` at `p`, with scipy's exact
/// arithmetic: `i = clip(searchsorted_left(xs, p), 1, n−1)`,
/// `y = (y[i]−y[i−1])/(x[i]−x[i−1])·(p−x[i−1]) + y[i−1]`; NaN outside [x0, x_{n−1}].
pub fn interp_linear(xs: &[u64], ys: &[f64], p: u64) -> f64 {
    let n = xs.len();
    if n == 0 || p < xs[0] || p > xs[n - 1] {
        return f64::NAN;
    }
    if n == 1 {
        return ys[0];
    }
    let i = xs.partition_point(|&x| x < p).clamp(1, n - 1);
    let slope = (ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1]) as f64;
    slope * (p - xs[i - 1]) as f64 + ys[i - 1]
}

/// The cumulative share `cumsum(c)/Σc` of a column, as pandas computes it (int64 cumsum and
/// sum, each converted to float64, then divided).
pub fn cumulative_share(c: &[u64]) -> Vec<f64> {
    let total: u128 = c.iter().map(|&v| v as u128).sum();
    let t = total as f64;
    let mut acc: u128 = 0;
    c.iter()
        .map(|&v| {
            acc += v as u128;
            acc as f64 / t
        })
        .collect()
}

impl Summary {
    /// Computes the numbers; `x` overrides flow-models' detection from min `bin_lo`.
    pub fn compute(h: &Hist, x: Option<XKind>) -> Result<Summary, PluginError> {
        let need = |n: &str| h.total(n).ok_or_else(|| PluginError::data(format!("{}: `summary` needs a `{n}` column", h.source)));
        let flows = need("flows_sum")?;
        let packets = need("packets_sum")?;
        let octets = need("octets_sum")?;
        let x = match x {
            Some(x) => x,
            None => h.detect_x()?,
        };
        let mut averages = vec![];
        // flow-models: for what in X_VALUES: column UNITS[what] if it is a y column, else what.
        for (what, unit, col) in [("length", "packets", "packets_sum"), ("size", "bytes", "size_sum"), ("duration", "milliseconds", "duration_sum"), ("rate", "bps", "rate_sum")] {
            if let Some(t) = h.total(col) {
                averages.push((what, unit, t as f64 / flows as f64));
            }
        }
        let points: Vec<u64> = match x {
            XKind::Length => (0..25).map(|k| 1u64 << k).collect(),
            XKind::Size => (0..25).map(|k| 64u64 << k).collect(),
            other => {
                return Err(PluginError::config("x", format!("summary tables are defined for x = length or size only (flow-models raises NotImplementedError for `{}`)", other.name())));
            }
        };
        let shares: Vec<Vec<f64>> = ["flows_sum", "packets_sum", "octets_sum"].iter().map(|n| cumulative_share(h.column(n).unwrap_or(&[]))).collect();
        let pct = points.iter().map(|&p| [0, 1, 2].map(|k| interp_linear(&h.bin_lo, &shares[k], p) * 100.0)).collect();
        Ok(Summary {
            x,
            totals: vec![("flows", flows), ("packets", packets), ("octets", octets)],
            averages,
            avg_packet_size: octets as f64 / packets as f64,
            avg_flow_size: octets as f64 / flows as f64,
            points,
            pct,
            range: (h.bin_lo.first().copied().unwrap_or(0), h.bin_lo.last().copied().unwrap_or(0)),
        })
    }

    /// Table 1 exactly as flow-models prints it (no trailing newline).
    pub fn table1_flowmodels(&self) -> String {
        let mut s = vec![
            r"\begin{tabular}{@{}lrr@{}}".to_string(),
            r"\toprule".into(),
            r"\textbf{Dataset name} & XXX & \\".into(),
            r"\textbf{Exporter} & XXX & \\".into(),
            r"\textbf{L2 technology} & XXX & \\".into(),
            r"\textbf{Sampling rate} & none & \\".into(),
            r"\textbf{Active timeout} & XXX & seconds \\".into(),
            r"\textbf{Inactive timeout} & XXX & seconds \\".into(),
            r"\midrule".into(),
        ];
        for (what, t) in &self.totals {
            s.push(format!(r"\textbf{{Number of {what}}} & {} & {what} \\", thousands(*t)));
        }
        for (what, unit, v) in &self.averages {
            s.push(format!(r"\textbf{{Average flow {what}}} & {} & {unit} \\", pyfixed(*v, 6)));
        }
        s.push(format!(r"\textbf{{Average packet size}} & {} & bytes \\", pyfixed(self.avg_packet_size, 6)));
        s.push(r"\bottomrule".into());
        s.push(r"\end{tabular}".into());
        s.join("\n")
    }

    /// Table 2 exactly as flow-models prints it (no trailing newline).
    pub fn table2_flowmodels(&self) -> String {
        let mut s = vec![
            r"\begin{tabular}{@{}lrrr@{}}".to_string(),
            r"\toprule".into(),
            format!(r"\textbf{{Flows of {} up to}} & \multicolumn{{3}}{{c}}{{\textbf{{Make up \%}}}} \\", self.x.name()),
            r"\cmidrule(lr){2-4}".into(),
            format!(r"\multicolumn{{1}}{{c}}{{({})}} & of flows & of packets & of octets \\", self.x.unit()),
            r"\midrule".into(),
        ];
        for (p, v) in self.points.iter().zip(&self.pct) {
            s.push(format!(r"{p} & {} & {} & {} \\", pyfixed(v[0], 4), pyfixed(v[1], 4), pyfixed(v[2], 4)));
        }
        s.push(r"\bottomrule".into());
        s.push(r"\end{tabular}".into());
        s.join("\n")
    }

    /// The exact stdout of `flow-models summary`: each table then `print('\n')`, i.e. each
    /// table followed by `"\n\n\n"` (two empty lines).
    pub fn flowmodels_stdout(&self) -> String {
        format!("{}\n\n\n{}\n\n\n", self.table1_flowmodels(), self.table2_flowmodels())
    }

    /// Improved table 1: siunitx `\num{}` numbers, placeholders filled from `meta` (missing
    /// entries read `n/a`, flow-models' layout keeps its `XXX`; sampling rate defaults to `none`), and the average flow size row
    /// flow-models forgets (docs/histfit.md, "Summary tables" bug).
    pub fn table1_siunitx(&self, meta: &Meta) -> String {
        let cell = |v: &Option<String>, default: &str| v.as_deref().map(latex_escape).unwrap_or_else(|| default.to_string());
        let mut s = String::new();
        let _ = writeln!(s, r"\begin{{tabular}}{{@{{}}lrl@{{}}}}");
        let _ = writeln!(s, r"\toprule");
        let _ = writeln!(s, r"\textbf{{Dataset name}} & {} & \\", cell(&meta.dataset_name, NA));
        let _ = writeln!(s, r"\textbf{{Exporter}} & {} & \\", cell(&meta.exporter, NA));
        let _ = writeln!(s, r"\textbf{{L2 technology}} & {} & \\", cell(&meta.l2_technology, NA));
        let _ = writeln!(s, r"\textbf{{Sampling rate}} & {} & \\", cell(&meta.sampling_rate, "none"));
        for (what, v) in [("Active", &meta.active_timeout), ("Inactive", &meta.inactive_timeout)] {
            let unit = if v.is_some() { "seconds" } else { "" };
            let _ = writeln!(s, r"\textbf{{{what} timeout}} & {} & {unit} \\", num_or_text(v));
        }
        let _ = writeln!(s, r"\midrule");
        for (what, t) in &self.totals {
            let _ = writeln!(s, r"\textbf{{Number of {what}}} & \num{{{t}}} & {what} \\");
        }
        for (what, unit, v) in &self.averages {
            let _ = writeln!(s, r"\textbf{{Average flow {what}}} & \num{{{}}} & {unit} \\", pyfixed(*v, 6));
        }
        if !self.averages.iter().any(|a| a.0 == "size") {
            let _ = writeln!(s, r"\textbf{{Average flow size}} & \num{{{}}} & bytes \\", pyfixed(self.avg_flow_size, 6));
        }
        let _ = writeln!(s, r"\textbf{{Average packet size}} & \num{{{}}} & bytes \\", pyfixed(self.avg_packet_size, 6));
        let _ = writeln!(s, r"\bottomrule");
        let _ = write!(s, r"\end{{tabular}}");
        s
    }

    /// Improved table 2: `\num{}` percentages. Where flow-models prints `nan` (a point outside
    /// the data's `bin_lo` range, which its interpolation leaves undefined) the share is known:
    /// 0 below the smallest `bin_lo` (no flow is that short) and 100 above the largest (the
    /// interpolated share there is already 100).
    pub fn table2_siunitx(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, r"\begin{{tabular}}{{@{{}}rrrr@{{}}}}");
        let _ = writeln!(s, r"\toprule");
        let _ = writeln!(s, r"\textbf{{Flows of {} up to}} & \multicolumn{{3}}{{c}}{{\textbf{{Make up \%}}}} \\", self.x.name());
        let _ = writeln!(s, r"\cmidrule(lr){{2-4}}");
        let _ = writeln!(s, r"\multicolumn{{1}}{{c}}{{({})}} & of flows & of packets & of octets \\", self.x.unit());
        let _ = writeln!(s, r"\midrule");
        for (p, v) in self.points.iter().zip(&self.pct) {
            let outside = if *p < self.range.0 { 0.0 } else { 100.0 };
            let f = |x: f64| format!(r"\num{{{}}}", pyfixed(if x.is_nan() { outside } else { x }, 4));
            let _ = writeln!(s, r"\num{{{p}}} & {} & {} & {} \\", f(v[0]), f(v[1]), f(v[2]));
        }
        let _ = writeln!(s, r"\bottomrule");
        let _ = write!(s, r"\end{{tabular}}");
        s
    }
}

/// Placeholder values for the improved table 1 (settings override experiment metadata).
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// Dataset name.
    pub dataset_name: Option<String>,
    /// Flow exporter.
    pub exporter: Option<String>,
    /// L2 technology.
    pub l2_technology: Option<String>,
    /// Sampling rate.
    pub sampling_rate: Option<String>,
    /// Active timeout (seconds).
    pub active_timeout: Option<String>,
    /// Inactive timeout (seconds).
    pub inactive_timeout: Option<String>,
}

/// What the improved table 1 shows for metadata the manifest does not give.
const NA: &str = "n/a";

fn num_or_text(v: &Option<String>) -> String {
    match v {
        None => NA.into(),
        Some(t) if t.parse::<f64>().is_ok() => format!(r"\num{{{t}}}"),
        Some(t) => latex_escape(t),
    }
}

/// Escapes LaTeX special characters in free text.
pub fn latex_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str(r"\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                o.push('\\');
                o.push(c)
            }
            '~' => o.push_str(r"\textasciitilde{}"),
            '^' => o.push_str(r"\textasciicircum{}"),
            _ => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_uses_ascii_space() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1 000");
        assert_eq!(thousands(4_032_376_751), "4 032 376 751");
        assert_eq!(thousands(275_858_498_994_998), "275 858 498 994 998");
    }

    #[test]
    fn interpolation_is_scipy_like() {
        let xs = [1u64, 2, 4, 8];
        let ys = [0.1, 0.2, 0.6, 1.0];
        assert_eq!(interp_linear(&xs, &ys, 1), 0.1);
        assert!((interp_linear(&xs, &ys, 3) - 0.4).abs() < 1e-15);
        assert!((interp_linear(&xs, &ys, 6) - 0.8).abs() < 1e-15);
        assert!(interp_linear(&xs, &ys, 16).is_nan());
        assert!(interp_linear(&xs[1..], &ys[1..], 1).is_nan());
        assert_eq!(interp_linear(&xs, &ys, 8), 1.0);
    }

    #[test]
    fn small_table_by_hand() {
        let h = Hist::parse("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n1,2,3,3,300\n2,3,1,2,1000\n", "t").unwrap();
        let s = Summary::compute(&h, None).unwrap();
        let t1 = s.table1_flowmodels();
        assert!(t1.contains(r"\textbf{Number of flows} & 4 & flows \\"), "{t1}");
        assert!(t1.contains(r"\textbf{Average flow length} & 1.250000 & packets \\"), "{t1}");
        assert!(t1.contains(r"\textbf{Average packet size} & 260.000000 & bytes \\"), "{t1}");
        let t2 = s.table2_flowmodels();
        assert!(t2.contains("\n1 & 75.0000 & 60.0000 & 23.0769 \\\\\n2 & 100.0000 & 100.0000 & 100.0000 \\\\\n4 & nan & nan & nan \\\\\n"), "{t2}");
        assert!(s.flowmodels_stdout().ends_with("\\end{tabular}\n\n\n"));
        let sx = s.table2_siunitx();
        assert!(sx.contains(r"\num{1} & \num{75.0000} & \num{60.0000} & \num{23.0769} \\"), "{sx}");
        let m = Meta { dataset_name: Some("agh_2015 & co".into()), active_timeout: Some("300".into()), ..Default::default() };
        let t1x = s.table1_siunitx(&m);
        assert!(t1x.contains(r"\textbf{Dataset name} & agh\_2015 \& co & \\"), "{t1x}");
        assert!(t1x.contains(r"\textbf{Active timeout} & \num{300} & seconds \\"), "{t1x}");
        // metadata not given: `n/a` and no unit (flow-models' own layout keeps `XXX`)
        assert!(t1x.contains(r"\textbf{Inactive timeout} & n/a &  \\") && t1x.contains(r"\textbf{Exporter} & n/a & \\"), "{t1x}");
        // flow-models' `nan` rows: above the largest bin_lo every share is 100 …
        assert!(sx.contains(r"\num{4} & \num{100.0000} & \num{100.0000} & \num{100.0000} \\") && !sx.contains("nan") && !sx.contains("---"), "{sx}");
        // … and below the smallest, 0
        let h = Hist::parse("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n3,4,3,9,300\n5,6,1,5,1000\n", "t").unwrap();
        let sx = Summary::compute(&h, Some(XKind::Length)).unwrap().table2_siunitx();
        assert!(sx.contains(r"\num{2} & \num{0.0000} & \num{0.0000} & \num{0.0000} \\") && sx.contains(r"\num{8} & \num{100.0000}"), "{sx}");
        assert!(t1x.contains(r"\textbf{Average flow size} & \num{325.000000} & bytes \\"), "{t1x}");
    }
}
