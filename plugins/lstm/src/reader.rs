//! Feature-file reader in the original line format (docs/lstm.md, "Feature file format" and "Preprocessing" step 1).
//!
//! One line = one traffic: the packets' feature vectors written with Python's `str(list)`,
//! joined by `", "`, with a trailing `", "` before the newline:
//! `[f0, f1, …], [f0, …], \n`. The original parses a line as
//! `json.loads('[' + line.strip().rstrip(',') + ']')`.
//!
//! The file is memory-mapped and indexed by byte offsets (the original's
//! `get_mmapdata_and_byteoffset`); a traffic is parsed only when asked for, so files larger
//! than memory train batch by batch. The feature dimension is read from the first packet of
//! the first traffic and every other packet must match it.
use flowlab_abi::PluginError;
use flowlab_abi::limits::{UTF8_BOM, line_too_long};
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Longest line (one traffic) of a feature file: 64 MiB, ~4 × 10⁶ values, 20 000 packets of
/// the 146 TLS features (`docs/lstm.md`); the other readers' lines are limited to 1 MiB
/// ([`flowlab_abi::limits::MAX_LINE_BYTES`]).
pub const MAX_FEATURE_LINE_BYTES: usize = 64 << 20;

/// One line's place in the file.
#[derive(Debug, Clone, Copy)]
struct LineRef {
    start: usize,
    end: usize,
    /// 1-based line number in the file (blank lines are skipped but counted).
    line_no: usize,
}

/// A memory-mapped feature file with its line index.
pub struct FeatureFile {
    path: PathBuf,
    map: Option<Mmap>,
    lines: Vec<LineRef>,
    dim: usize,
}

/// One parsed traffic: `packets × dim` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Packet vectors, row-major (`packets × dim`).
    pub values: Vec<f32>,
    /// Number of packets.
    pub packets: usize,
}

impl std::fmt::Debug for FeatureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FeatureFile({}, {} traffics × {} features)", self.path.display(), self.lines.len(), self.dim)
    }
}

impl FeatureFile {
    /// Maps `path`, indexes its non-blank lines and reads the feature dimension from the first
    /// packet. An empty file or a first line without a packet is a data error.
    pub fn open(path: &Path) -> Result<FeatureFile, PluginError> {
        let f = File::open(path).map_err(|e| PluginError::data(format!("{}: cannot open: {e}", path.display())))?;
        let len = f.metadata().map_err(|e| PluginError::data(format!("{}: {e}", path.display())))?.len();
        // SAFETY: the file is opened read-only; flowlab's data files are not modified while a
        // cell runs (a concurrent truncation would be a SIGBUS, as with any mmap reader).
        let map = if len == 0 { None } else { Some(unsafe { Mmap::map(&f) }.map_err(|e| PluginError::data(format!("{}: cannot map: {e}", path.display())))?) };
        let bytes: &[u8] = map.as_deref().unwrap_or(&[]);
        let mut lines = Vec::new();
        // a UTF-8 byte-order mark before the first line is not part of it
        let mut start = if bytes.starts_with(UTF8_BOM) { UTF8_BOM.len() } else { 0 };
        let mut line_no = 0usize;
        while start < bytes.len() {
            line_no += 1;
            let end = memchr(b'\n', &bytes[start..]).map(|k| start + k).unwrap_or(bytes.len());
            if end - start > MAX_FEATURE_LINE_BYTES {
                return Err(line_too_long(&path.display().to_string(), line_no, MAX_FEATURE_LINE_BYTES));
            }
            if bytes[start..end].iter().any(|b| !b.is_ascii_whitespace()) {
                lines.push(LineRef { start, end, line_no });
            }
            start = end + 1;
        }
        let mut ff = FeatureFile { path: path.to_path_buf(), map, lines, dim: 0 };
        if ff.lines.is_empty() {
            return Err(PluginError::data(format!("{}: no traffic (the file has no non-blank line)", path.display())));
        }
        ff.dim = ff.first_packet_dim()?;
        Ok(ff)
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of traffics (non-blank lines).
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when the file holds no traffic (never after a successful [`FeatureFile::open`]).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Feature dimension (values per packet).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Total bytes of the mapped file.
    pub fn byte_len(&self) -> usize {
        self.map.as_ref().map(|m| m.len()).unwrap_or(0)
    }

    /// `(start, end)` byte offsets of every traffic's line (the original's byte-offset index).
    pub fn byte_offsets(&self) -> Vec<(usize, usize)> {
        self.lines.iter().map(|l| (l.start, l.end)).collect()
    }

    fn line_bytes(&self, i: usize) -> &[u8] {
        let l = self.lines[i];
        &self.map.as_deref().unwrap_or(&[])[l.start..l.end]
    }

    fn first_packet_dim(&self) -> Result<usize, PluginError> {
        let mut dim = None;
        parse_line(
            self.line_bytes(0),
            &mut |k| {
                dim = Some(k);
                false
            },
            &mut Vec::new(),
        )
        .map_err(|e| self.err(0, &e))?;
        match dim {
            Some(d) if d > 0 => Ok(d),
            _ => Err(self.err(0, "no packet vector found (expected `[f0, f1, …], […], `)")),
        }
    }

    fn err(&self, i: usize, msg: &str) -> PluginError {
        PluginError::data(format!("{}:{}: {msg}", self.path.display(), self.lines[i].line_no))
    }

    /// 1-based line number of traffic `i`.
    pub fn line_no(&self, i: usize) -> usize {
        self.lines[i].line_no
    }

    /// Parses traffic `i` (`packets × dim`). A malformed line or a packet of another
    /// dimension is a data error naming the file and line.
    pub fn traffic(&self, i: usize) -> Result<Traffic, PluginError> {
        let mut values = Vec::new();
        let dim = self.dim;
        let mut bad: Option<(usize, usize)> = None;
        let mut packets = 0usize;
        parse_line(
            self.line_bytes(i),
            &mut |k| {
                packets += 1;
                if k != dim {
                    bad = Some((packets, k));
                    return false;
                }
                true
            },
            &mut values,
        )
        .map_err(|e| self.err(i, &e))?;
        if let Some((p, k)) = bad {
            return Err(self.err(i, &format!("packet {p} has {k} values, expected {dim} (the dimension of the file's first packet)")));
        }
        if packets == 0 {
            return Err(self.err(i, "no packet vector found"));
        }
        Ok(Traffic { values, packets })
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// Parses `[a, b, …], [c, …], ` into `out`, calling `on_packet(count)` after each vector;
/// `on_packet` returning false stops early. Whitespace anywhere between tokens and a trailing
/// comma are accepted (the original's `strip().rstrip(',')`).
fn parse_line(line: &[u8], on_packet: &mut dyn FnMut(usize) -> bool, out: &mut Vec<f32>) -> Result<(), String> {
    let n = line.len();
    let mut i = 0usize;
    let skip_ws = |i: &mut usize| {
        while *i < n && line[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= n {
            return Ok(());
        }
        if line[i] != b'[' {
            return Err(format!("column {}: expected `[` starting a packet vector, found `{}`", i + 1, line[i] as char));
        }
        i += 1;
        let mut count = 0usize;
        skip_ws(&mut i);
        if i < n && line[i] == b']' {
            return Err(format!("column {}: empty packet vector", i + 1));
        }
        loop {
            skip_ws(&mut i);
            let s = i;
            while i < n && !matches!(line[i], b',' | b']') && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            let tok = std::str::from_utf8(&line[s..i]).map_err(|_| format!("column {}: not UTF-8", s + 1))?;
            let v: f32 = tok.parse().map_err(|_| format!("column {}: `{tok}` is not a number", s + 1))?;
            if !v.is_finite() {
                // a finite decimal beyond f32's range (3.4·10³⁸) parses to ±∞
                let why = if tok.parse::<f64>().is_ok_and(f64::is_finite) { "is beyond the range of the network's 32-bit floats (±3.4e38)" } else { "is not a finite number" };
                return Err(format!("column {}: `{tok}` {why}", s + 1));
            }
            out.push(v);
            count += 1;
            skip_ws(&mut i);
            if i >= n {
                return Err("line ends inside a packet vector (missing `]`)".into());
            }
            match line[i] {
                b',' => i += 1,
                b']' => {
                    i += 1;
                    break;
                }
                c => return Err(format!("column {}: expected `,` or `]`, found `{}`", i + 1, c as char)),
            }
        }
        if !on_packet(count) {
            return Ok(());
        }
        skip_ws(&mut i);
        if i < n {
            if line[i] != b',' {
                return Err(format!("column {}: expected `,` between packet vectors, found `{}`", i + 1, line[i] as char));
            }
            i += 1;
        }
    }
}

/// Largest side file (feature info, min-max statistics) read whole: 64 MiB, far above the
/// ~10 KiB of the 146 TLS features' files (`docs/lstm.md`).
pub const MAX_SIDE_FILE_BYTES: u64 = 64 << 20;

/// Reads a side file of at most [`MAX_SIDE_FILE_BYTES`] as UTF-8 text; `what` names it in
/// errors.
pub fn read_small_text(path: &Path, what: &str) -> Result<String, PluginError> {
    let b = flowlab_abi::limits::read_capped(path, MAX_SIDE_FILE_BYTES).map_err(|e| PluginError::data(format!("{what}: {}", e.message)))?;
    String::from_utf8(b).map_err(|e| PluginError::data(format!("{}: cannot read {what}: not UTF-8 ({e})", path.display())))
}

/// Reads a feature-info file (`Network Layer,TLS Protocol Name,Feature Name,Type,Enum Value`
/// header, then row k+2 names feature k) into one label per feature:
/// `"<Feature Name>"`, or `"<Feature Name>=<Enum Value>"` for enum slots.
pub fn read_feature_info(path: &Path, dim: usize) -> Result<Vec<String>, PluginError> {
    let text = read_small_text(path, "feature info")?;
    let mut labels = Vec::with_capacity(dim);
    for (k, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() < 3 {
            return Err(PluginError::data(format!("{}:{}: expected at least 3 comma-separated columns (…, …, Feature Name, Type, Enum Value)", path.display(), k + 1)));
        }
        let name = cols[2];
        let label = match cols.get(4) {
            Some(e) if !e.is_empty() && *e != "-" => format!("{name}={e}"),
            _ => name.to_string(),
        };
        labels.push(label);
    }
    if labels.len() != dim {
        return Err(PluginError::data(format!("{}: names {} features but the feature file has {dim} per packet", path.display(), labels.len())));
    }
    Ok(labels)
}

/// Formats one traffic in the original line format (`str(list)` per packet, `", "` after each,
/// then `"\n"`), using Python-compatible float text (`60.0`, `0.25`).
pub fn write_traffic_line(out: &mut String, values: &[f32], dim: usize) {
    use std::fmt::Write;
    for p in values.chunks(dim) {
        out.push('[');
        for (j, v) in p.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{:?}", *v as f64);
        }
        out.push_str("], ");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn parses_original_format_and_offsets() {
        let f = file("[1.0, 0.0, 60.0], [0.0, 1.0, 1500.0], \n\n[2.5, 1e-05, -3.0], \n");
        let ff = FeatureFile::open(f.path()).unwrap();
        assert_eq!(ff.len(), 2);
        assert_eq!(ff.dim(), 3);
        assert_eq!(ff.byte_offsets()[0], (0, 38));
        let t = ff.traffic(0).unwrap();
        assert_eq!(t.packets, 2);
        assert_eq!(t.values, vec![1.0, 0.0, 60.0, 0.0, 1.0, 1500.0]);
        let t = ff.traffic(1).unwrap();
        assert_eq!(t.values, vec![2.5, 1e-5, -3.0]);
        assert_eq!(ff.line_no(1), 3);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let f = file("[1.0, 2.0], \n[1.0, 2.0], [3.0], \n[1.0, x], \n");
        let ff = FeatureFile::open(f.path()).unwrap();
        let e = ff.traffic(1).unwrap_err();
        assert!(e.message.contains(":2: packet 2 has 1 values, expected 2"), "{}", e.message);
        let e = ff.traffic(2).unwrap_err();
        assert!(e.message.contains(":3: column 7: `x` is not a number"), "{}", e.message);
        assert!(e.message.contains(&f.path().display().to_string()));
        let f = file("\n  \n");
        assert!(FeatureFile::open(f.path()).unwrap_err().message.contains("no traffic"));
        let f = file("[1.0, 2.0\n");
        assert!(FeatureFile::open(f.path()).unwrap_err().message.contains(":1: line ends inside"));
        let f = file("[1.0, 2.0], \n[1e308, 2.0], \n[inf, 2.0], \n");
        let ff = FeatureFile::open(f.path()).unwrap();
        assert!(ff.traffic(1).unwrap_err().message.contains("`1e308` is beyond the range of the network's 32-bit floats"));
        assert!(ff.traffic(2).unwrap_err().message.contains("`inf` is not a finite number"));
    }

    #[test]
    fn writer_roundtrips() {
        let mut s = String::new();
        write_traffic_line(&mut s, &[1.0, 0.25, 60.0, 0.0], 2);
        assert_eq!(s, "[1.0, 0.25], [60.0, 0.0], \n");
        let f = file(&s);
        let ff = FeatureFile::open(f.path()).unwrap();
        assert_eq!(ff.traffic(0).unwrap().values, vec![1.0, 0.25, 60.0, 0.0]);
    }

    #[test]
    fn feature_info_labels() {
        let f = file("Network Layer,TLS Protocol Name,Feature Name,Type,Enum Value\nTCP,-,Come/Leave,Boolean,-\nTCP,-,Protocol,Enum,TCP\n");
        assert_eq!(read_feature_info(f.path(), 2).unwrap(), vec!["Come/Leave".to_string(), "Protocol=TCP".into()]);
        assert!(read_feature_info(f.path(), 3).unwrap_err().message.contains("names 2 features"));
    }
}
