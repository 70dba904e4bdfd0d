//! Profile reader for the FlowTest biflow CSV (docs/sampler.md, "Profile format").
//!
//! Format: the exact header line [`HEADER`], then one biflow per line with 10 positional
//! decimal integer fields `START_TIME,END_TIME,L3_PROTO,L4_PROTO,SRC_PORT,DST_PORT,PACKETS,
//! BYTES,PACKETS_REV,BYTES_REV`. Every file the original accepts is accepted; in addition
//! (docs/sampler.md, "Profile format") CRLF line ends and a missing final newline are tolerated. Rejected (each
//! rejected row is named with file and line, docs/sampler.md, "Bugs the plugin decides" fixes included):
//! a different header, a wrong field count, a non-integer field, L3 ∉ {4, 6}, L4 > 255, a
//! port > 65535, `PACKETS+PACKETS_REV = 0`, `BYTES+BYTES_REV = 0`, `START_TIME > END_TIME`,
//! empty lines, and a file without records.
//!
//! The file is streamed in 8 MiB blocks and parsed byte by byte into struct-of-arrays
//! columns (no per-field allocation), so 10M rows load in a few seconds.
use flowlab_abi::limits::{MAX_LINE_BYTES, strip_bom_bytes};
use std::io::Read;
use std::path::Path;

/// The exact header of a profile file.
pub const HEADER: &str = "START_TIME,END_TIME,L3_PROTO,L4_PROTO,SRC_PORT,DST_PORT,PACKETS,BYTES,PACKETS_REV,BYTES_REV";

const FIELD_NAMES: [&str; 10] = ["START_TIME", "END_TIME", "L3_PROTO", "L4_PROTO", "SRC_PORT", "DST_PORT", "PACKETS", "BYTES", "PACKETS_REV", "BYTES_REV"];

/// How many rejected rows are quoted in one error message (the rest are counted).
pub const MAX_REPORTED: usize = 50;

/// A loaded profile, one column per field (struct of arrays).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// START_TIME in ms (may be negative).
    pub start_ms: Vec<i64>,
    /// END_TIME in ms.
    pub end_ms: Vec<i64>,
    /// L3_PROTO (4 or 6).
    pub l3: Vec<u8>,
    /// L4_PROTO (0..=255).
    pub l4: Vec<u8>,
    /// SRC_PORT.
    pub sport: Vec<u16>,
    /// DST_PORT.
    pub dport: Vec<u16>,
    /// PACKETS.
    pub pkts: Vec<u64>,
    /// BYTES.
    pub bytes: Vec<u64>,
    /// PACKETS_REV.
    pub pkts_rev: Vec<u64>,
    /// BYTES_REV.
    pub bytes_rev: Vec<u64>,
}

/// One parsed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// START_TIME (ms).
    pub start_ms: i64,
    /// END_TIME (ms).
    pub end_ms: i64,
    /// L3_PROTO.
    pub l3: u8,
    /// L4_PROTO.
    pub l4: u8,
    /// SRC_PORT.
    pub sport: u16,
    /// DST_PORT.
    pub dport: u16,
    /// PACKETS.
    pub pkts: u64,
    /// BYTES.
    pub bytes: u64,
    /// PACKETS_REV.
    pub pkts_rev: u64,
    /// BYTES_REV.
    pub bytes_rev: u64,
}

impl Profile {
    /// Number of biflows.
    pub fn len(&self) -> usize {
        self.start_ms.len()
    }
    /// True without biflows.
    pub fn is_empty(&self) -> bool {
        self.start_ms.is_empty()
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> Row {
        Row {
            start_ms: self.start_ms[i],
            end_ms: self.end_ms[i],
            l3: self.l3[i],
            l4: self.l4[i],
            sport: self.sport[i],
            dport: self.dport[i],
            pkts: self.pkts[i],
            bytes: self.bytes[i],
            pkts_rev: self.pkts_rev[i],
            bytes_rev: self.bytes_rev[i],
        }
    }
    /// Appends a row.
    pub fn push(&mut self, r: Row) {
        self.start_ms.push(r.start_ms);
        self.end_ms.push(r.end_ms);
        self.l3.push(r.l3);
        self.l4.push(r.l4);
        self.sport.push(r.sport);
        self.dport.push(r.dport);
        self.pkts.push(r.pkts);
        self.bytes.push(r.bytes);
        self.pkts_rev.push(r.pkts_rev);
        self.bytes_rev.push(r.bytes_rev);
    }
    /// `PACKETS + PACKETS_REV` of biflow `i` (checked at load not to overflow).
    #[inline]
    pub fn packets(&self, i: usize) -> u64 {
        self.pkts[i] + self.pkts_rev[i]
    }
    /// `BYTES + BYTES_REV` of biflow `i`.
    #[inline]
    pub fn total_bytes(&self, i: usize) -> u64 {
        self.bytes[i] + self.bytes_rev[i]
    }
    /// Writes the header and the rows `i` with `keep(i)` in file order, re-serialised as
    /// the original does (docs/sampler.md, "Outputs and CLI").
    pub fn write_csv<W: std::io::Write>(&self, mut w: W, keep: impl Fn(usize) -> bool) -> std::io::Result<()> {
        let mut line = String::with_capacity(96);
        writeln!(w, "{HEADER}")?;
        for i in 0..self.len() {
            if keep(i) {
                use std::fmt::Write as _;
                line.clear();
                let r = self.row(i);
                let _ = writeln!(line, "{},{},{},{},{},{},{},{},{},{}", r.start_ms, r.end_ms, r.l3, r.l4, r.sport, r.dport, r.pkts, r.bytes, r.pkts_rev, r.bytes_rev);
                w.write_all(line.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// A data error with every rejected row (up to [`MAX_REPORTED`] quoted).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileError {
    /// File name as given.
    pub file: String,
    /// `(line number, message)` of the first rejected rows.
    pub rows: Vec<(u64, String)>,
    /// Total number of rejected rows (or 0 for a file-level error).
    pub rejected: u64,
    /// File-level problem (unreadable, empty, no records).
    pub file_error: Option<String>,
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(e) = &self.file_error {
            write!(f, "{}: {e}", self.file)?;
            if self.rows.is_empty() {
                return Ok(());
            }
            writeln!(f)?;
        }
        if !self.rows.is_empty() {
            write!(f, "{}: {} rejected row(s):", self.file, self.rejected)?;
            for (line, msg) in &self.rows {
                write!(f, "\n  {}:{line}: {msg}", self.file)?;
            }
            if self.rejected > self.rows.len() as u64 {
                write!(f, "\n  … and {} more rejected row(s)", self.rejected - self.rows.len() as u64)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ProfileError {}

#[inline]
fn parse_u64(f: &[u8]) -> Option<u64> {
    if f.is_empty() || f.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in f {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

#[inline]
fn parse_i64(f: &[u8]) -> Option<i64> {
    match f.first() {
        Some(b'-') => {
            let v = parse_u64(&f[1..])?;
            if v <= i64::MAX as u64 + 1 { Some((v as i64).wrapping_neg()) } else { None }
        }
        _ => {
            let v = parse_u64(f)?;
            i64::try_from(v).ok()
        }
    }
}

fn show(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
    if line.len() > 120 { format!("{s}…") } else { s }
}

/// Parses one data line (without its line end).
pub fn parse_row(line: &[u8]) -> Result<Row, String> {
    if line.is_empty() {
        return Err("empty line".into());
    }
    let mut fields: [&[u8]; 10] = [&[]; 10];
    let mut n = 0usize;
    for f in line.split(|&c| c == b',') {
        if n == 10 {
            let count = line.iter().filter(|&&c| c == b',').count() + 1;
            return Err(format!("expected 10 fields, found {count} (`{}`)", show(line)));
        }
        fields[n] = f;
        n += 1;
    }
    if n != 10 {
        return Err(format!("truncated line: expected 10 fields, found {n} (`{}`)", show(line)));
    }
    let bad = |k: usize, what: &str| format!("field {} ({}) = `{}`: {what}", k + 1, FIELD_NAMES[k], show(fields[k]));
    let start_ms = parse_i64(fields[0]).ok_or_else(|| bad(0, "not a decimal integer"))?;
    let end_ms = parse_i64(fields[1]).ok_or_else(|| bad(1, "not a decimal integer"))?;
    let mut u = [0u64; 8];
    for k in 2..10 {
        u[k - 2] = parse_u64(fields[k]).ok_or_else(|| bad(k, "not an unsigned decimal integer"))?;
    }
    if u[0] != 4 && u[0] != 6 {
        return Err(bad(2, "L3_PROTO must be 4 or 6"));
    }
    if u[1] > 255 {
        return Err(bad(3, "L4_PROTO must be an IANA protocol number 0..=255"));
    }
    if u[2] > 65535 {
        return Err(bad(4, "port must be 0..=65535"));
    }
    if u[3] > 65535 {
        return Err(bad(5, "port must be 0..=65535"));
    }
    let (pkts, bytes, pkts_rev, bytes_rev) = (u[4], u[5], u[6], u[7]);
    match pkts.checked_add(pkts_rev) {
        Some(0) => return Err("PACKETS + PACKETS_REV is 0 (every biflow must carry packets)".into()),
        None => return Err("PACKETS + PACKETS_REV overflows 64 bits".into()),
        _ => {}
    }
    match bytes.checked_add(bytes_rev) {
        Some(0) => return Err("BYTES + BYTES_REV is 0 (every biflow must carry bytes)".into()),
        None => return Err("BYTES + BYTES_REV overflows 64 bits".into()),
        _ => {}
    }
    if start_ms > end_ms {
        return Err(format!("START_TIME {start_ms} > END_TIME {end_ms}"));
    }
    Ok(Row { start_ms, end_ms, l3: u[0] as u8, l4: u[1] as u8, sport: u[2] as u16, dport: u[3] as u16, pkts, bytes, pkts_rev, bytes_rev })
}

struct Parser {
    line_no: u64,
    header_seen: bool,
    profile: Profile,
    err: ProfileError,
    total_pkts: u64,
    total_bytes: u64,
}

impl Parser {
    fn reject(&mut self, msg: String) {
        self.err.rejected += 1;
        if self.err.rows.len() < MAX_REPORTED {
            self.err.rows.push((self.line_no, msg));
        }
    }
    fn line(&mut self, mut l: &[u8]) {
        self.line_no += 1;
        if let Some(stripped) = l.strip_suffix(b"\r") {
            l = stripped;
        }
        if !self.header_seen {
            self.header_seen = true;
            // a UTF-8 byte-order mark before the header is accepted, as csv_hist does
            if strip_bom_bytes(l) != HEADER.as_bytes() {
                self.err.file_error = Some(format!("line 1: wrong header: expected `{HEADER}`, found `{}`", show(l)));
                self.err.rows.clear();
            }
            return;
        }
        match parse_row(l) {
            Ok(r) => {
                if self.err.rejected == 0 && self.err.file_error.is_none() {
                    self.total_pkts = self.total_pkts.saturating_add(r.pkts + r.pkts_rev);
                    self.total_bytes = self.total_bytes.saturating_add(r.bytes + r.bytes_rev);
                    self.profile.push(r);
                }
            }
            Err(m) => self.reject(m),
        }
    }
}

/// Reads a profile from any reader (`name` is used in messages).
pub fn read_from<R: Read>(mut r: R, name: &str) -> Result<Profile, ProfileError> {
    let mut p = Parser {
        line_no: 0,
        header_seen: false,
        profile: Profile::default(),
        err: ProfileError { file: name.to_string(), rows: vec![], rejected: 0, file_error: None },
        total_pkts: 0,
        total_bytes: 0,
    };
    const BLOCK: usize = 8 << 20;
    let mut buf: Vec<u8> = vec![0; BLOCK];
    let mut filled = 0usize;
    // lines are at most MAX_LINE_BYTES < BLOCK: the buffer never has to grow
    let too_long =
        |p: &Parser, line: u64| ProfileError { file_error: Some(format!("line {line}: longer than {MAX_LINE_BYTES} bytes, the limit of a profile line (is it the right file?)")), ..p.err.clone() };
    loop {
        let got = r.read(&mut buf[filled..]).map_err(|e| ProfileError { file_error: Some(format!("cannot read: {e}")), ..p.err.clone() })?;
        let eof = got == 0;
        filled += got;
        let mut start = 0usize;
        while let Some(pos) = memchr_nl(&buf[start..filled]) {
            let end = start + pos;
            if pos - usize::from(buf[start..end].ends_with(b"\r")) > MAX_LINE_BYTES {
                return Err(too_long(&p, p.line_no + 1));
            }
            p.line(&buf[start..end]);
            start = end + 1;
            if p.err.file_error.is_some() {
                return Err(p.err);
            }
        }
        if eof {
            if filled - start > MAX_LINE_BYTES {
                return Err(too_long(&p, p.line_no + 1));
            }
            if start < filled {
                // last line without newline: tolerated (the original silently drops it)
                let rest = buf[start..filled].to_vec();
                p.line(&rest);
            }
            break;
        }
        if filled - start > MAX_LINE_BYTES + 1 {
            return Err(too_long(&p, p.line_no + 1));
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
    if !p.header_seen {
        p.err.file_error = Some("empty file: expected the header line".into());
    }
    if p.err.file_error.is_some() || p.err.rejected > 0 {
        return Err(p.err);
    }
    if p.profile.is_empty() {
        p.err.file_error = Some("no biflow records after the header".into());
        return Err(p.err);
    }
    if p.total_pkts == u64::MAX || p.total_bytes == u64::MAX {
        p.err.file_error = Some("total packets or bytes of the profile overflow 64 bits".into());
        return Err(p.err);
    }
    Ok(p.profile)
}

#[inline]
fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Reads a profile file.
pub fn read_path(path: &Path) -> Result<Profile, ProfileError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| ProfileError { file: name.clone(), rows: vec![], rejected: 0, file_error: Some(format!("cannot open: {e}")) })?;
    read_from(f, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(s: &str) -> Result<Profile, ProfileError> {
        read_from(s.as_bytes(), "t.csv")
    }
    const H: &str = HEADER;

    #[test]
    fn parses_negative_times_crlf_and_no_final_newline() {
        let p = rd(&format!("{H}\r\n-5,10,4,6,1,443,2,100,1,60\r\n0,0,6,17,53,5353,1,80,0,0")).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.row(0), Row { start_ms: -5, end_ms: 10, l3: 4, l4: 6, sport: 1, dport: 443, pkts: 2, bytes: 100, pkts_rev: 1, bytes_rev: 60 });
        assert_eq!(p.l3[1], 6);
        assert_eq!(p.packets(0), 3);
        assert_eq!(p.total_bytes(0), 160);
        let mut out = Vec::new();
        p.write_csv(&mut out, |_| true).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("{H}\n-5,10,4,6,1,443,2,100,1,60\n0,0,6,17,53,5353,1,80,0,0\n"));
    }

    #[test]
    fn bad_rows_are_all_reported_with_line_numbers() {
        let text = format!(
            "{H}\n0,1,5,6,1,2,1,1,0,0\n0,1,4,6,1,2,0,1,0,0\n0,1,4,6,1,2,1,0,0,0\n0,1,4,6\n0,1,4,300,1,2,1,1,0,0\n0,1,4,6,1,2,1,1,0,0\n\n2,1,4,6,1,2,1,1,0,0\n0,1,4,6,1,2,1,1,0,0,9\n0,x,4,6,1,2,1,1,0,0\n0,1,4,6,70000,2,1,1,0,0\n"
        );
        let e = rd(&text).unwrap_err();
        assert_eq!(e.rejected, 10);
        let lines: Vec<u64> = e.rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
        let msg = e.to_string();
        for want in [
            "t.csv:2: field 3 (L3_PROTO) = `5`: L3_PROTO must be 4 or 6",
            "t.csv:3: PACKETS + PACKETS_REV is 0",
            "t.csv:4: BYTES + BYTES_REV is 0",
            "t.csv:5: truncated line",
            "t.csv:6: field 4 (L4_PROTO) = `300`",
            "t.csv:8: empty line",
            "t.csv:9: START_TIME 2 > END_TIME 1",
            "t.csv:10: expected 10 fields, found 11",
            "t.csv:11: field 2 (END_TIME) = `x`",
            "t.csv:12: field 5 (SRC_PORT) = `70000`",
        ] {
            assert!(msg.contains(want), "missing `{want}` in:\n{msg}");
        }
    }

    #[test]
    fn header_and_empty_files() {
        let e = rd("START_TIME,END_TIME\n1,2\n").unwrap_err();
        assert!(e.to_string().contains("t.csv: line 1: wrong header"), "{e}");
        let e = rd("").unwrap_err();
        assert!(e.to_string().contains("empty file"), "{e}");
        let e = rd(&format!("{H}\n")).unwrap_err();
        assert!(e.to_string().contains("no biflow records"), "{e}");
        // lines beyond the report cap are counted
        let mut t = format!("{H}\n");
        for _ in 0..60 {
            t.push_str("0,1,5,6,1,2,1,1,0,0\n");
        }
        let e = rd(&t).unwrap_err();
        assert_eq!(e.rejected, 60);
        assert_eq!(e.rows.len(), MAX_REPORTED);
        assert!(e.to_string().contains("and 10 more"));
    }

    #[test]
    fn over_long_lines_are_rejected_without_buffering_them_and_a_bom_is_accepted() {
        let p = rd(&format!("\u{feff}{H}\n0,1,4,6,1,2,1,1,0,0\n")).unwrap();
        assert_eq!(p.len(), 1);
        for text in [format!("{}\n", "x".repeat(3 << 20)), format!("{H}\n0,1,4,6,1,2,1,1,0,0\n{}", "1".repeat(MAX_LINE_BYTES + 2)), format!("{H}\n{}\n", "1,".repeat(MAX_LINE_BYTES))] {
            let e = rd(&text).unwrap_err().to_string();
            assert!(e.contains("t.csv: line ") && e.contains(&format!("longer than {MAX_LINE_BYTES} bytes")), "{}", &e[..e.len().min(300)]);
        }
        // a line exactly at the limit is read (and rejected as a row, not as too long)
        let e = rd(&format!("{H}\n{}\n", "1".repeat(MAX_LINE_BYTES))).unwrap_err().to_string();
        assert!(e.contains("t.csv:2: ") && !e.contains("longer than"), "{}", &e[..e.len().min(300)]);
    }

    #[test]
    fn long_input_crosses_blocks() {
        let mut t = format!("{H}\n");
        let n = 400_000;
        for i in 0..n {
            t.push_str(&format!("{},{},4,6,{},443,{},{},0,0\n", -(i as i64), i, i % 65536, 1 + i % 7, 40 + i));
        }
        let p = rd(&t).unwrap();
        assert_eq!(p.len(), n);
        assert_eq!(p.start_ms[n - 1], -(n as i64 - 1));
        assert_eq!(p.bytes[12345], 40 + 12345);
    }
}
