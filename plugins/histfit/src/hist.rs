//! The csv_hist format (docs/histfit.md, "csv_hist and binning"): reading, writing and flow-models' binning functions.
//!
//! A csv_hist file has a header naming its columns (`bin_lo,bin_hi,flows_sum,packets_sum,
//! octets_sum`, optionally `duration_sum`, `rate_sum`, `aggs_sum`, and `*_ssq` columns, which
//! are ignored as flow-models' readers do). Rows are only the non-empty bins, ascending by
//! `bin_lo` (inclusive) with `bin_hi` exclusive, so gaps between rows are normal. All values
//! are non-negative integers up to 2^63; sums are accumulated in `u128` so they never overflow.
use flowlab_abi::PluginError;
use flowlab_abi::limits::{MAX_LINE_BYTES, line_too_long};
use std::fmt::Write as _;
use std::path::Path;

/// What the x axis of a histogram measures (docs/histfit.md, "csv_hist and binning", `-x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum XKind {
    /// Flow length in packets (min `bin_lo` = 1).
    Length,
    /// Flow size in bytes (min `bin_lo` = 64).
    Size,
    /// Flow duration in ms (not summarised by flow-models).
    Duration,
    /// Flow rate in bps (not summarised by flow-models).
    Rate,
}

impl XKind {
    /// The name used in flow-models' tables and CLI.
    pub fn name(self) -> &'static str {
        match self {
            XKind::Length => "length",
            XKind::Size => "size",
            XKind::Duration => "duration",
            XKind::Rate => "rate",
        }
    }
    /// flow-models' `UNITS[x]`: packets, bytes, milliseconds, bps.
    pub fn unit(self) -> &'static str {
        match self {
            XKind::Length => "packets",
            XKind::Size => "bytes",
            XKind::Duration => "milliseconds",
            XKind::Rate => "bps",
        }
    }
    /// The smallest possible value (1 packet or 64 bytes); used by the discrete semantics (docs/histfit.md, "Mixture JSON").
    pub fn min_value(self) -> u64 {
        match self {
            XKind::Size => 64,
            _ => 1,
        }
    }
}

/// One column of a histogram: its header name (e.g. `packets_sum`) and integer values.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Header name.
    pub name: String,
    /// One value per row.
    pub values: Vec<u64>,
}

/// A csv_hist histogram in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Hist {
    /// Where it was read from (for error messages); empty for generated histograms.
    pub source: String,
    /// Inclusive lower bin edges, strictly ascending.
    pub bin_lo: Vec<u64>,
    /// Exclusive upper bin edges (`bin_hi > bin_lo`).
    pub bin_hi: Vec<u64>,
    /// The `*_sum` columns in file order (`flows_sum` always present).
    pub columns: Vec<Column>,
}

/// The weight column of a fit or table (`-y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum YCol {
    /// `flows_sum`.
    Flows,
    /// `packets_sum`.
    Packets,
    /// `octets_sum`.
    Octets,
}

impl YCol {
    /// `flows`, `packets`, `octets`.
    pub fn name(self) -> &'static str {
        match self {
            YCol::Flows => "flows",
            YCol::Packets => "packets",
            YCol::Octets => "octets",
        }
    }
    /// All three, in flow-models' order.
    pub const ALL: [YCol; 3] = [YCol::Flows, YCol::Packets, YCol::Octets];
}

impl Hist {
    /// Number of rows (non-empty bins).
    pub fn len(&self) -> usize {
        self.bin_lo.len()
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.bin_lo.is_empty()
    }
    /// A column by header name.
    pub fn column(&self, name: &str) -> Option<&[u64]> {
        self.columns.iter().find(|c| c.name == name).map(|c| c.values.as_slice())
    }
    /// A weight column, or a data error naming the file when it is missing.
    pub fn y(&self, y: YCol) -> Result<&[u64], PluginError> {
        let name = format!("{}_sum", y.name());
        self.column(&name).ok_or_else(|| PluginError::data(format!("{}: the histogram has no `{name}` column", self.source)))
    }
    /// Σ of a column, exact.
    pub fn total(&self, name: &str) -> Option<u128> {
        self.column(name).map(|v| v.iter().map(|&x| x as u128).sum())
    }
    /// flow-models' `detect_x_value`: min `bin_lo` 1 → length, 64 → size, else an error.
    pub fn detect_x(&self) -> Result<XKind, PluginError> {
        match self.bin_lo.first() {
            Some(1) => Ok(XKind::Length),
            Some(64) => Ok(XKind::Size),
            Some(m) => Err(PluginError::data(format!(
                "{}: cannot detect the x kind: the smallest bin_lo is {m}, but flow-models' rule needs 1 (length, packets) or 64 (size, bytes); set `x` explicitly",
                self.source
            ))),
            None => Err(PluginError::data(format!("{}: the histogram has no rows", self.source))),
        }
    }
    /// Number of gaps: adjacent rows whose `bin_hi` is not the next row's `bin_lo`.
    pub fn gaps(&self) -> usize {
        self.bin_hi.iter().zip(self.bin_lo.iter().skip(1)).filter(|(h, l)| h != l).count()
    }

    /// Reads a csv_hist file.
    pub fn read(path: &Path) -> Result<Hist, PluginError> {
        use std::io::Read;
        let source = path.display().to_string();
        let io = |e: std::io::Error| PluginError::data(format!("{source}: cannot read the csv_hist file: {e}"));
        let mut f = std::fs::File::open(path).map_err(io)?;
        // the first line must end within the line limit: checked before the rest is read, so a
        // file that is one huge line costs no more than the limit
        let mut bytes = Vec::new();
        (&mut f).take(MAX_LINE_BYTES as u64 + 2).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() > MAX_LINE_BYTES + 1 && !bytes.contains(&b'\n') {
            return Err(line_too_long(&source, 1, MAX_LINE_BYTES));
        }
        f.read_to_end(&mut bytes).map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|_| io(std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")))?;
        Hist::parse(&text, &source)
    }

    /// Parses csv_hist text; `source` names the file in errors (`file:line`).
    pub fn parse(text: &str, source: &str) -> Result<Hist, PluginError> {
        let mut lines = Lines { text, pos: 0, ln: 0 };
        let header = loop {
            match lines.next_line() {
                Some((ln, l)) if l.len() > MAX_LINE_BYTES => return Err(line_too_long(source, ln + 1, MAX_LINE_BYTES)),
                Some((_, l)) if l.trim().is_empty() => continue,
                Some((_, l)) => break l,
                None => return Err(PluginError::data(format!("{source}: empty file, expected a csv_hist header `bin_lo,bin_hi,flows_sum,…`"))),
            }
        };
        let names: Vec<String> = header.trim_start_matches('\u{feff}').split(',').map(|s| s.trim().to_string()).collect();
        let find = |n: &str| names.iter().position(|h| h == n);
        let lo_i = find("bin_lo").ok_or_else(|| PluginError::data(format!("{source}:1: the header has no `bin_lo` column (found: {})", names.join(","))))?;
        let hi_i = find("bin_hi").ok_or_else(|| PluginError::data(format!("{source}:1: the header has no `bin_hi` column (found: {})", names.join(","))))?;
        if find("flows_sum").is_none() {
            return Err(PluginError::data(format!("{source}:1: the header has no `flows_sum` column (found: {})", names.join(","))));
        }
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                return Err(PluginError::data(format!("{source}:1: header column {} has no name", i + 1)));
            }
            if names[..i].contains(n) {
                return Err(PluginError::data(format!("{source}:1: header column `{n}` appears twice")));
            }
        }
        // kept: every non-`_ssq` column other than the edges
        let kept: Vec<usize> = (0..names.len()).filter(|&i| i != lo_i && i != hi_i && !names[i].ends_with("_ssq")).collect();
        let mut h = Hist { source: source.to_string(), bin_lo: vec![], bin_hi: vec![], columns: kept.iter().map(|&i| Column { name: names[i].clone(), values: vec![] }).collect() };
        let mut fields: Vec<&str> = Vec::with_capacity(names.len());
        let mut vals: Vec<u64> = Vec::with_capacity(names.len());
        // at most one row per 2·fields bytes: reserved once (untouched capacity costs no
        // memory), the columns never move while they grow. The reservation is ~4× the file's
        // size in address space: where a limit (`memory_mb`) refuses it, the columns just grow
        let most = (text.len() - lines.pos) / (2 * names.len()) + 1;
        for v in [&mut h.bin_lo, &mut h.bin_hi].into_iter().chain(h.columns.iter_mut().map(|c| &mut c.values)) {
            let _ = v.try_reserve(most);
        }
        loop {
            // fast path: a line of plain decimal integers (every agh_2015 / flow-models row),
            // parsed in the same pass that finds its end; anything else (spaces, `.0`, signs,
            // overflow, a wrong field count) is split and parsed field by field, which accepts
            // the variants and names the bad field
            let row = lines.ln + 1;
            let plain = match plain_row(text.as_bytes(), lines.pos, &mut vals, names.len()) {
                Some(next) if vals.len() == names.len() && next - lines.pos <= MAX_LINE_BYTES => {
                    (lines.pos, lines.ln) = (next, lines.ln + 1);
                    true
                }
                _ => false,
            };
            let line = if plain {
                ""
            } else {
                match lines.next_line() {
                    Some((_, l)) if l.len() > MAX_LINE_BYTES => return Err(line_too_long(source, row, MAX_LINE_BYTES)),
                    Some((_, l)) if l.trim().is_empty() => continue,
                    Some((_, l)) => l,
                    None => break,
                }
            };
            if !plain {
                fields.clear();
                fields.extend(line.split(',').map(|s| s.trim()));
                if fields.len() != names.len() {
                    return Err(PluginError::data(format!("{source}:{row}: expected {} fields as in the header, found {}", names.len(), fields.len())));
                }
            }
            let get = |i: usize| -> Result<u64, PluginError> {
                if plain {
                    return Ok(vals[i]);
                }
                parse_int(fields[i]).map_err(|why| PluginError::data(format!("{source}:{row}: column `{}`: {why}", names[i])))
            };
            let lo = get(lo_i)?;
            let hi = get(hi_i)?;
            check_bin(source, row, lo, hi, h.bin_hi.last().copied())?;
            h.bin_lo.push(lo);
            h.bin_hi.push(hi);
            for (c, &i) in kept.iter().enumerate() {
                let v = get(i)?;
                h.columns[c].values.push(v);
            }
        }
        if h.is_empty() {
            return Err(PluginError::data(format!("{source}: the histogram has no rows")));
        }
        Ok(h)
    }

    /// Writes the csv_hist text (header by column name; integers only), as flow-models' `hist`.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("bin_lo,bin_hi");
        for c in &self.columns {
            s.push(',');
            s.push_str(&c.name);
        }
        s.push('\n');
        for i in 0..self.len() {
            let _ = write!(s, "{},{}", self.bin_lo[i], self.bin_hi[i]);
            for c in &self.columns {
                let _ = write!(s, ",{}", c.values[i]);
            }
            s.push('\n');
        }
        s
    }
}

/// A bin must be non-empty and start at or after the previous bin's end.
fn check_bin(source: &str, row: usize, lo: u64, hi: u64, prev_hi: Option<u64>) -> Result<(), PluginError> {
    if hi <= lo {
        return Err(PluginError::data(format!("{source}:{row}: bin_hi {hi} must be greater than bin_lo {lo}")));
    }
    match prev_hi {
        Some(prev_hi) if lo < prev_hi => {
            Err(PluginError::data(format!("{source}:{row}: bin_lo {lo} overlaps or precedes the previous bin (which ends at {prev_hi}); rows must be ascending by bin_lo")))
        }
        _ => Ok(()),
    }
}

/// The lines of a text as `str::lines` gives them (split at `\n`, a `\r` before it dropped),
/// with their 0-based numbers; `pos` is the byte offset of the next line, `ln` its number.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    ln: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, used) = match rest.find('\n') {
            Some(e) => (&rest[..e], e + 1),
            None => (rest, rest.len()),
        };
        let line = line.strip_suffix('\r').filter(|_| used > line.len()).unwrap_or(line);
        let ln = self.ln;
        (self.pos, self.ln) = (self.pos + used, ln + 1);
        Some((ln, line))
    }
}

/// The line of `text` starting at byte `pos` as plain comma-separated decimal integers (each
/// ≤ 2^63 − 1, no spaces or signs), into `out`, in one pass that also finds the line's end:
/// the offset of the next line, or None when the line is anything else (or empty, or has
/// more than `fields` fields: `out` never grows past the header's width).
fn plain_row(text: &[u8], pos: usize, out: &mut Vec<u64>, fields: usize) -> Option<usize> {
    out.clear();
    let (mut v, mut digits) = (0u64, 0usize);
    let mut i = pos;
    while i < text.len() {
        let b = text[i];
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            v = v * 10 + u64::from(d);
            digits += 1;
            if digits > 18 {
                return None; // may exceed 2^63 − 1: the checked path decides
            }
        } else if b == b',' && digits > 0 && out.len() + 1 < fields {
            out.push(v);
            (v, digits) = (0, 0);
        } else if b == b'\n' || (b == b'\r' && text.get(i + 1) == Some(&b'\n')) {
            break;
        } else {
            return None;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    out.push(v);
    let end = if text.get(i) == Some(&b'\r') { i + 1 } else { i };
    Some((end + 1).min(text.len()))
}

/// Parses a non-negative integer field (≤ 2^63 − 1, like numpy's int64). A trailing `.0`
/// (floats written by other tools) is accepted when the value is integral.
fn parse_int(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty field, expected a non-negative integer".into());
    }
    let digits = s.strip_suffix(".0").unwrap_or(s);
    match digits.parse::<u64>() {
        Ok(v) if v <= i64::MAX as u64 => Ok(v),
        Ok(v) => Err(format!("value {v} exceeds 2^63 - 1")),
        Err(_) => Err(format!("`{s}` is not a non-negative integer")),
    }
}

/// `bit_length` of Python ints.
fn bitlen(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// flow-models' `bin_calc_one(x) = (x, x + 1)` (b = 0) and `bin_calc_log(x, b)` (b > 0):
/// `w = 1 << max(0, bitlen(x) − b)`, `lo = (x // w)·w`, `hi = lo + w` (docs/histfit.md, "csv_hist and binning"). With b = 12
/// values below 4096 get width 1 and each further power of two holds 2048 bins.
pub fn bin_of(x: u64, b: u32) -> (u64, u64) {
    if b == 0 {
        return (x, x + 1);
    }
    let shift = bitlen(x).saturating_sub(b);
    let w = 1u64 << shift;
    let lo = (x / w) * w;
    (lo, lo + w)
}

/// Accumulates flows into log bins (docs/histfit.md, "csv_hist and binning") and produces a [`Hist`] with the five standard
/// columns, only non-empty bins, ascending.
#[derive(Debug, Default)]
pub struct Binner {
    b: u32,
    bins: std::collections::BTreeMap<u64, (u64, u64, u64, u64)>,
}

impl Binner {
    /// A binner with exponent `b` (flow-models' `-b`; 0 = unit bins).
    pub fn new(b: u32) -> Self {
        Binner { b, bins: Default::default() }
    }
    /// Adds one flow with x value `x` (its bin key), `packets` and `octets`.
    pub fn add(&mut self, x: u64, packets: u64, octets: u64) {
        let (lo, hi) = bin_of(x, self.b);
        let e = self.bins.entry(lo).or_insert((hi, 0, 0, 0));
        e.1 += 1;
        e.2 += packets;
        e.3 += octets;
    }
    /// The histogram.
    pub fn finish(self, source: &str) -> Hist {
        let n = self.bins.len();
        let mut h = Hist {
            source: source.into(),
            bin_lo: Vec::with_capacity(n),
            bin_hi: Vec::with_capacity(n),
            columns: ["flows_sum", "packets_sum", "octets_sum"].iter().map(|s| Column { name: s.to_string(), values: Vec::with_capacity(n) }).collect(),
        };
        for (lo, (hi, f, p, o)) in self.bins {
            h.bin_lo.push(lo);
            h.bin_hi.push(hi);
            h.columns[0].values.push(f);
            h.columns[1].values.push(p);
            h.columns[2].values.push(o);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_binning_matches_flow_models() {
        // b = 12: unit bins below 4096, width 2 up to 8191, width 4 up to 16383
        assert_eq!(bin_of(1, 12), (1, 2));
        assert_eq!(bin_of(4095, 12), (4095, 4096));
        assert_eq!(bin_of(4096, 12), (4096, 4098));
        assert_eq!(bin_of(4097, 12), (4096, 4098));
        assert_eq!(bin_of(8191, 12), (8190, 8192));
        assert_eq!(bin_of(8192, 12), (8192, 8196));
        assert_eq!(bin_of(16383, 12), (16380, 16384));
        assert_eq!(bin_of(5, 0), (5, 6));
        // the last row of agh_2015 all/length: [185 860 096, 185 925 632)
        let (lo, hi) = bin_of(185_925_631, 12);
        assert_eq!((lo, hi), (185_860_096, 185_925_632));
        assert_eq!(lo % (hi - lo), 0);
        assert_eq!(hi - lo, 1 << (28 - 12));
        // every power of two holds 2048 bins
        let mut n = 0;
        let mut x = 1 << 20;
        while x < 1 << 21 {
            let (_, hi) = bin_of(x, 12);
            x = hi;
            n += 1;
        }
        assert_eq!(n, 2048);
    }

    #[test]
    fn over_long_lines_and_rows_wider_than_the_header_are_rejected() {
        let long_header = format!("bin_lo,bin_hi,flows_sum,{}\n1,2,3\n", "x".repeat(MAX_LINE_BYTES));
        let e = Hist::parse(&long_header, "h.csv").unwrap_err();
        assert!(e.message.contains("h.csv:1: line longer than 1048576 bytes"), "{}", e.message);
        // a plain row with more fields than the header stops growing at the header's width
        let wide = format!("bin_lo,bin_hi,flows_sum\n1,2,3\n2,3{}\n", ",4".repeat(100));
        let e = Hist::parse(&wide, "w.csv").unwrap_err();
        assert!(e.message.contains("w.csv:3: expected 3 fields as in the header, found 102"), "{}", e.message);
        let long_row = format!("bin_lo,bin_hi,flows_sum\n1,2,3\n2,3,{}\n", "1".repeat(MAX_LINE_BYTES));
        let e = Hist::parse(&long_row, "r.csv").unwrap_err();
        assert!(e.message.contains("r.csv:3: line longer than"), "{}", e.message);
        let bom = "\u{feff}bin_lo,bin_hi,flows_sum\n1,2,3\n";
        assert_eq!(Hist::parse(bom, "b.csv").unwrap().len(), 1);
        // a file that is one huge line is refused after reading the limit, not the file
        let p = std::env::temp_dir().join(format!("histfit-one-line-{}.csv", std::process::id()));
        std::fs::write(&p, "1,".repeat(2 * MAX_LINE_BYTES)).unwrap();
        let e = Hist::read(&p).unwrap_err();
        let _ = std::fs::remove_file(&p);
        assert!(e.message.contains(".csv:1: line longer than 1048576 bytes"), "{}", e.message);
    }

    #[test]
    fn reads_by_name_ignores_ssq_and_accepts_gaps() {
        let t = "packets_sum,bin_lo,flows_sum,bin_hi,octets_sum,octets_ssq\n1,1,1,2,100,5\n\n12,4,3,5,1000,7\n";
        let h = Hist::parse(t, "t.csv").unwrap();
        assert_eq!(h.bin_lo, vec![1, 4]);
        assert_eq!(h.bin_hi, vec![2, 5]);
        assert_eq!(h.column("flows_sum").unwrap(), &[1, 3]);
        assert_eq!(h.column("packets_sum").unwrap(), &[1, 12]);
        assert!(h.column("octets_ssq").is_none());
        assert_eq!(h.gaps(), 1);
        assert_eq!(h.detect_x().unwrap(), XKind::Length);
    }

    #[test]
    fn plain_and_checked_rows_read_alike() {
        let plain = Hist::parse("bin_lo,bin_hi,flows_sum\n1,2,30\n2,3,4\n", "p.csv").unwrap();
        let variants = Hist::parse("bin_lo,bin_hi,flows_sum\n 1, 2 ,30.0\r\n2,3,4\n", "v.csv").unwrap();
        let crlf = Hist::parse("\r\nbin_lo,bin_hi,flows_sum\r\n1,2,30\r\n\r\n\n2,3,4", "c.csv").unwrap();
        assert_eq!((&crlf.bin_lo, &crlf.bin_hi, &crlf.columns[0].values), (&plain.bin_lo, &plain.bin_hi, &plain.columns[0].values));
        // line numbers count blank lines, as an editor shows them
        let e = Hist::parse("bin_lo,bin_hi,flows_sum\r\n1,2,30\r\n\r\n2,3,x\n", "e.csv").unwrap_err().to_string();
        assert!(e.contains("e.csv:4: column `flows_sum`"), "{e}");
        assert_eq!((plain.bin_lo, plain.bin_hi, plain.columns[0].values.clone()), (variants.bin_lo, variants.bin_hi, variants.columns[0].values.clone()));
        let mut v = vec![];
        assert!(plain_row(b"1,22,333", 0, &mut v, 3) == Some(8) && v == [1, 22, 333]);
        assert!(plain_row(b"x\n1,22\r\n7", 2, &mut v, 3) == Some(8) && v == [1, 22]);
        assert!(plain_row(b"1,22,333,4", 0, &mut v, 3).is_none(), "wider than the header");
        for bad in [&b"1,,2"[..], b"1,2,", b",1", b"1 ,2", b"1,+2", b"1,2.0", b"", b"\n", b"1\r", b"1234567890123456789"] {
            assert!(plain_row(bad, 0, &mut v, 3).is_none(), "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn big_integers_sum_exactly() {
        let big = i64::MAX as u64;
        let t = format!("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n64,65,{big},1,1\n65,66,{big},1,1\n");
        let h = Hist::parse(&t, "t.csv").unwrap();
        assert_eq!(h.total("flows_sum").unwrap(), 2 * big as u128);
        assert_eq!(h.detect_x().unwrap(), XKind::Size);
        let over = "bin_lo,bin_hi,flows_sum\n1,2,9223372036854775808\n";
        let e = Hist::parse(over, "o.csv").unwrap_err();
        assert!(e.message.contains("o.csv:2") && e.message.contains("2^63"), "{}", e.message);
    }

    #[test]
    fn bad_rows_name_file_and_row() {
        let cases = [
            ("bin_lo,bin_hi,flows_sum\n1,2,x\n", "t.csv:2: column `flows_sum`"),
            ("bin_lo,bin_hi,flows_sum\n1,2,3\n2,3\n", "t.csv:3: expected 3 fields"),
            ("bin_lo,bin_hi,flows_sum\n2,3,3\n1,2,3\n", "t.csv:3: bin_lo 1"),
            ("bin_lo,bin_hi,flows_sum\n2,2,3\n", "t.csv:2: bin_hi 2"),
            ("bin_lo,flows_sum\n2,3\n", "no `bin_hi`"),
            ("bin_lo,bin_hi,flows_sum\n1,2,-3\n", "t.csv:2"),
            ("", "empty file"),
        ];
        for (text, want) in cases {
            let e = Hist::parse(text, "t.csv").unwrap_err();
            assert!(e.message.contains(want), "{text:?}: {}", e.message);
            assert_eq!(e.kind, flowlab_abi::ErrorKind::Data);
        }
        let h = Hist::parse("bin_lo,bin_hi,flows_sum\n5,6,1\n", "t.csv").unwrap();
        assert!(h.detect_x().unwrap_err().message.contains("smallest bin_lo is 5"));
    }

    #[test]
    fn binner_roundtrips_through_csv() {
        let mut b = Binner::new(12);
        for x in [1u64, 1, 2, 5000, 5001, 70000] {
            b.add(x, x, 100 * x);
        }
        let h = b.finish("gen");
        assert_eq!(h.bin_lo, vec![1, 2, 5000, 69984]);
        assert_eq!(h.column("flows_sum").unwrap(), &[2, 1, 2, 1]);
        let back = Hist::parse(&h.to_csv(), "gen").unwrap();
        assert_eq!(back, h);
    }
}
