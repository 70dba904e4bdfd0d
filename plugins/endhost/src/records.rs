//! Readers for raw per-user flow records (`docs/endhost.md`, "Flow records"): the flow CSV
//! `user,start_time[,proto,dst_port,bytes]`, the host-on interval file `user,on_start,on_end`
//! and the activity file `user,time` (keyboard/mouse event times).
//!
//! Times are seconds (a float) or ISO 8601 (`2013-04-14T08:30:00.250Z`, a space for `T`, an
//! offset `±hh:mm`, no zone = UTC). The flow CSV is streamed one user's block at a time, so
//! memory is bounded by the largest user's records; a file not grouped by user is an error
//! naming the line, unless `grouped = false`, which holds the whole file in memory instead.
use flowlab_abi::PluginError;
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Longest line accepted (the same limit as the other readers of the plugin).
pub const MAX_LINE: usize = 1 << 20;
const CHUNK: usize = 4 << 20;

/// `(proto, port)` packed as `proto << 16 | port`; 0 when the file has no such columns.
pub type PortKey = u32;

/// Packs a protocol number and a port.
pub fn port_key(proto: u8, port: u16) -> PortKey {
    (proto as u32) << 16 | port as u32
}

/// `tcp/443`-style name of a key (protocol numbers other than tcp/udp/icmp as numbers).
pub fn key_name(k: PortKey) -> String {
    format!("{}/{}", proto_name((k >> 16) as u8), k & 0xffff)
}

fn proto_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        n => n.to_string(),
    }
}

/// Parses `tcp`, `udp`, `icmp` (any case) or an IP protocol number 0–255.
pub fn parse_proto(s: &str) -> Option<u8> {
    [("tcp", 6), ("udp", 17), ("icmp", 1)].iter().find(|(n, _)| s.eq_ignore_ascii_case(n)).map(|p| p.1).or_else(|| s.parse().ok())
}

/// Parses `proto/port` (`tcp/443`) into a key.
pub fn parse_port_spec(s: &str) -> Option<PortKey> {
    let (p, n) = s.split_once('/')?;
    Some(port_key(parse_proto(p.trim())?, n.trim().parse().ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse of
/// H. Hinnant's date algorithms: eras of 400 years, March-based years).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses ISO 8601 `YYYY-MM-DD[T| ]hh:mm:ss[.f…][Z|±hh:mm|±hhmm]` into seconds since the Unix
/// epoch (no zone: UTC).
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = b.get(r)?;
        if t.iter().all(u8::is_ascii_digit) { std::str::from_utf8(t).ok()?.parse().ok() } else { None }
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        let j = i + 1 + b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if j == i + 1 {
            return None;
        }
        frac = format!("0.{}", std::str::from_utf8(&b[i + 1..j]).ok()?).parse().ok()?;
        i = j;
    }
    let mut off = 0i64;
    match b.get(i) {
        None => {}
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => {}
        Some(&c @ (b'+' | b'-')) => {
            let (oh, om) = match b.len() - i {
                6 if b[i + 3] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                5 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                3 => (num(i + 1..i + 3)?, 0),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            off = (oh * 3600 + om * 60) * if c == b'+' { 1 } else { -1 };
        }
        _ => return None,
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - off) as f64 + frac)
}

/// A time field: a finite float (seconds) or ISO 8601.
pub fn parse_time(s: &str) -> Option<f64> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() => Some(t),
        Ok(_) => None,
        Err(_) => parse_iso8601(s),
    }
}

/// Lines of a file read in large chunks, each at most [`MAX_LINE`] bytes, `\r\n` and a
/// leading byte-order mark handled, numbered from 1.
pub struct Lines {
    r: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Number of the line last returned.
    pub line: u64,
    file: String,
}

impl Lines {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Lines, PluginError> {
        let f = std::fs::File::open(path).map_err(|e| PluginError::data(format!("{}: cannot read: {e}", path.display())))?;
        Ok(Lines::new(Box::new(f), &path.display().to_string()))
    }
    /// Over any reader (`file` names it in errors).
    pub fn new(r: Box<dyn Read + Send>, file: &str) -> Lines {
        Lines { r, buf: vec![0; CHUNK + MAX_LINE], start: 0, end: 0, eof: false, line: 0, file: file.into() }
    }
    /// The next line (its number and text without the terminator), or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, PluginError> {
        loop {
            if let Some(p) = self.buf[self.start..self.end].iter().position(|&c| c == b'\n') {
                let (s, e) = (self.start, self.start + p);
                self.start = e + 1;
                return Ok(Some((self.line + 1, self.finish(s, e)?)));
            }
            if self.eof {
                if self.start < self.end {
                    let (s, e) = (self.start, self.end);
                    self.start = self.end;
                    return Ok(Some((self.line + 1, self.finish(s, e)?)));
                }
                return Ok(None);
            }
            if self.end - self.start > MAX_LINE {
                return Err(PluginError::data(format!("{}:{}: line longer than {MAX_LINE} bytes", self.file, self.line + 1)));
            }
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let n = self.r.read(&mut self.buf[self.end..]).map_err(|e| PluginError::data(format!("{}:{}: read error: {e}", self.file, self.line + 1)))?;
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
    }
    fn finish(&mut self, s: usize, mut e: usize) -> Result<&[u8], PluginError> {
        self.line += 1;
        if e - s > MAX_LINE {
            return Err(PluginError::data(format!("{}:{}: line longer than {MAX_LINE} bytes", self.file, self.line)));
        }
        if e > s && self.buf[e - 1] == b'\r' {
            e -= 1;
        }
        let s = if self.line == 1 && self.buf[s..e].starts_with(b"\xEF\xBB\xBF") { s + 3 } else { s };
        Ok(&self.buf[s..e])
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s.to_string() }
}

fn skip(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || t.starts_with('#')
}

/// Column positions from a header line; `required` must all be present.
fn header(path: &Path, lines: &mut Lines, required: &[&str], optional: &[&str]) -> Result<Vec<Option<usize>>, PluginError> {
    let expected = || format!("`{}`", required.iter().chain(optional).copied().collect::<Vec<_>>().join(","));
    loop {
        let Some((no, raw)) = lines.next_line()? else {
            return Err(PluginError::data(format!("{}: empty file; expected a header {}", path.display(), expected())));
        };
        let l = std::str::from_utf8(raw).map_err(|_| PluginError::data(format!("{}:{no}: not UTF-8", path.display())))?;
        if skip(l) {
            continue;
        }
        let cols: Vec<String> = l.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
        let mut out = vec![];
        for (i, name) in required.iter().chain(optional).enumerate() {
            let p = cols.iter().position(|c| c == name);
            if p.is_none() && i < required.len() {
                return Err(PluginError::data(format!("{}:{}: header lacks column `{name}` (expected {}, found `{}`)", path.display(), no, expected(), shorten(l.trim()))));
            }
            out.push(p);
        }
        out.push(Some(cols.len()));
        return Ok(out);
    }
}

/// One user's flow records, in file order.
#[derive(Debug, Clone, Default)]
pub struct UserFlows {
    /// User id.
    pub user: String,
    /// Flow start times (seconds).
    pub times: Vec<f64>,
    /// `(proto, dst_port)` per flow (all 0 without those columns).
    pub keys: Vec<PortKey>,
    /// Σ bytes (0 without the column).
    pub bytes: u64,
    /// Line of the user's first record.
    pub first_line: u64,
}

/// A data row: (user, or `None` when it is the current block's; time; key; bytes; line).
type Row = (Option<String>, f64, PortKey, u64, u64);

/// Streaming reader of the flow CSV: yields one [`UserFlows`] per block of consecutive rows
/// of the same user.
pub struct FlowReader {
    lines: Lines,
    path: PathBuf,
    cols: [Option<usize>; 5],
    ncols: usize,
    pending: Option<(String, f64, PortKey, u64, u64)>,
    /// User of the block being read (rows of this user allocate no name).
    cur: String,
    seen: HashSet<String>,
    /// Data rows read so far.
    pub rows: u64,
    /// Whether the file has `proto` and `dst_port` columns.
    pub has_ports: bool,
}

impl FlowReader {
    /// Opens a flow CSV and reads its header.
    pub fn open(path: &Path) -> Result<FlowReader, PluginError> {
        let mut lines = Lines::open(path)?;
        let h = header(path, &mut lines, &["user", "start_time"], &["proto", "dst_port", "bytes"])?;
        let has_ports = h[2].is_some() && h[3].is_some();
        if h[2].is_some() != h[3].is_some() {
            return Err(PluginError::data(format!("{}:{}: header has only one of `proto` and `dst_port`; give both or neither", path.display(), lines.line)));
        }
        Ok(FlowReader { lines, path: path.into(), cols: [h[0], h[1], h[2], h[3], h[4]], ncols: h[5].unwrap_or(0), pending: None, cur: String::new(), seen: HashSet::new(), rows: 0, has_ports })
    }

    /// Next data row.
    fn row(&mut self) -> Result<Option<Row>, PluginError> {
        loop {
            let Some((no, raw)) = self.lines.next_line()? else { return Ok(None) };
            if let Some((user, t, key, bytes)) = crate::fastrow::parse(raw, &self.cols, self.ncols, self.has_ports) {
                self.rows += 1;
                // ASCII (checked by the fast path), so the conversion cannot fail
                let user = if user == self.cur.as_bytes() { None } else { Some(String::from_utf8_lossy(user).into_owned()) };
                return Ok(Some((user, t, key, bytes, no)));
            }
            let at = |what: String, l: &str| PluginError::data(format!("{}:{no}: {what} (row `{}`)", self.path.display(), shorten(l)));
            let l = std::str::from_utf8(raw).map_err(|_| PluginError::data(format!("{}:{no}: not UTF-8", self.path.display())))?;
            if skip(l) {
                continue;
            }
            let mut f: [&str; 16] = [""; 16];
            let mut n = 0;
            for p in l.split(',') {
                if n < 16 {
                    f[n] = p.trim();
                }
                n += 1;
            }
            if n != self.ncols {
                return Err(at(format!("expected {} fields, found {n}", self.ncols), l));
            }
            let g = |i: Option<usize>| i.map(|i| f[i]).unwrap_or("");
            let user = g(self.cols[0]);
            if user.is_empty() {
                return Err(at("empty user".into(), l));
            }
            let t = parse_time(g(self.cols[1])).ok_or_else(|| at(format!("start_time `{}` is neither seconds nor ISO 8601", shorten(g(self.cols[1]))), l))?;
            let key = if self.has_ports {
                let p = parse_proto(g(self.cols[2])).ok_or_else(|| at(format!("proto `{}` is not tcp, udp, icmp or a number 0-255", shorten(g(self.cols[2]))), l))?;
                let port: u16 = g(self.cols[3]).parse().map_err(|_| at(format!("dst_port `{}` is not an integer 0-65535", shorten(g(self.cols[3]))), l))?;
                port_key(p, port)
            } else {
                0
            };
            let bytes = match self.cols[4] {
                Some(i) if !f[i].is_empty() => f[i].parse().map_err(|_| at(format!("bytes `{}` is not a non-negative integer", shorten(f[i])), l))?,
                _ => 0,
            };
            self.rows += 1;
            let user = if user == self.cur { None } else { Some(user.to_string()) };
            return Ok(Some((user, t, key, bytes, no)));
        }
    }

    /// The next user's block; a user seen again after another user's block is an error.
    pub fn next_user(&mut self) -> Result<Option<UserFlows>, PluginError> {
        let first = match self.pending.take() {
            Some(r) => r,
            None => match self.row()? {
                Some(r) => (r.0.unwrap_or_else(|| self.cur.clone()), r.1, r.2, r.3, r.4),
                None => return Ok(None),
            },
        };
        if !self.seen.insert(first.0.clone()) {
            return Err(PluginError::data(format!(
                "{}:{}: user `{}` appears again after other users' records; the flow records must be grouped by user (sort them by the user column, e.g. `sort -s -t, -k1,1`), or set `grouped = false` to read the whole file into memory",
                self.path.display(),
                first.4,
                shorten(&first.0)
            )));
        }
        self.cur.clone_from(&first.0);
        let mut u = UserFlows { user: first.0, times: vec![first.1], keys: vec![first.2], bytes: first.3, first_line: first.4 };
        while let Some(r) = self.row()? {
            if let Some(other) = r.0 {
                self.pending = Some((other, r.1, r.2, r.3, r.4));
                break;
            }
            u.times.push(r.1);
            u.keys.push(r.2);
            u.bytes += r.3;
        }
        Ok(Some(u))
    }

    /// Reads every row into per-user blocks (the `grouped = false` path), users in order of
    /// first appearance.
    pub fn read_all(&mut self) -> Result<Vec<UserFlows>, PluginError> {
        let mut order: Vec<String> = vec![];
        let mut m: BTreeMap<String, UserFlows> = BTreeMap::new();
        while let Some((user, t, k, b, no)) = self.row()? {
            if let Some(name) = user {
                self.cur = name;
            }
            if !m.contains_key(&self.cur) {
                order.push(self.cur.clone());
                m.insert(self.cur.clone(), UserFlows { user: self.cur.clone(), first_line: no, ..Default::default() });
            }
            let Some(e) = m.get_mut(&self.cur) else { continue };
            e.times.push(t);
            e.keys.push(k);
            e.bytes += b;
        }
        Ok(order.into_iter().filter_map(|u| m.remove(&u)).collect())
    }
}

/// Per-user rows of a side file (host-on intervals or activity events), read whole: the time
/// columns after `user`, flattened (`cols.len() − 1` numbers per row, 8 bytes each).
fn read_side(path: &Path, cols: &[&str]) -> Result<BTreeMap<String, Vec<f64>>, PluginError> {
    let mut lines = Lines::open(path)?;
    let h = header(path, &mut lines, cols, &[])?;
    let ncols = h[cols.len()].unwrap_or(0);
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut cur = String::new();
    let mut row = vec![0.0; cols.len() - 1];
    while let Some((no, raw)) = lines.next_line()? {
        let l = std::str::from_utf8(raw).map_err(|_| PluginError::data(format!("{}:{no}: not UTF-8", path.display())))?;
        if skip(l) {
            continue;
        }
        let at = |what: String| PluginError::data(format!("{}:{no}: {what} (row `{}`)", path.display(), shorten(l)));
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != ncols {
            return Err(at(format!("expected {ncols} fields, found {}", f.len())));
        }
        let user = f[h[0].unwrap_or(0)];
        if user.is_empty() {
            return Err(at("empty user".into()));
        }
        for (i, c) in cols.iter().enumerate().skip(1) {
            let s = f[h[i].unwrap_or(0)];
            row[i - 1] = parse_time(s).ok_or_else(|| at(format!("{c} `{}` is neither seconds nor ISO 8601", shorten(s))))?;
        }
        if user != cur {
            cur = user.to_string();
        }
        match out.get_mut(&cur) {
            Some(v) => v.extend_from_slice(&row),
            None => {
                out.insert(cur.clone(), row.clone());
            }
        }
    }
    Ok(out)
}

/// Host-on intervals per user, sorted and merged (touching intervals join); `on_end ≤
/// on_start` is an error naming the user and the interval.
pub fn read_hosts(path: &Path) -> Result<BTreeMap<String, Vec<(f64, f64)>>, PluginError> {
    let raw = read_side(path, &["user", "on_start", "on_end"])?;
    let mut out = BTreeMap::new();
    for (u, flat) in raw {
        let mut iv: Vec<(f64, f64)> = flat.chunks_exact(2).map(|r| (r[0], r[1])).collect();
        if let Some(bad) = iv.iter().find(|(s, e)| !(e > s)) {
            return Err(PluginError::data(format!("{}: user `{}`: interval [{}, {}] has on_end ≤ on_start", path.display(), shorten(&u), bad.0, bad.1)));
        }
        iv.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = vec![];
        for (s, e) in iv {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        out.insert(u, merged);
    }
    Ok(out)
}

/// Activity event times per user, sorted (the whole file in memory, 8 bytes per event).
pub fn read_activity(path: &Path) -> Result<BTreeMap<String, Vec<f64>>, PluginError> {
    let mut m = read_side(path, &["user", "time"])?;
    for t in m.values_mut() {
        t.sort_by(f64::total_cmp);
    }
    Ok(m)
}

/// The files of a `flow_records` dataset: a directory with `flows.csv` and optional
/// `hosts.csv`, `activity.csv`, `truth.json`, or a flow CSV alone.
#[derive(Debug, Clone)]
pub struct RecordFiles {
    /// The flow CSV.
    pub flows: PathBuf,
    /// Host-on intervals, if present.
    pub hosts: Option<PathBuf>,
    /// Activity events, if present.
    pub activity: Option<PathBuf>,
    /// Ground truth of a generated trace, if present.
    pub truth: Option<PathBuf>,
}

impl RecordFiles {
    /// Resolves the dataset path.
    pub fn locate(path: &Path) -> Result<RecordFiles, PluginError> {
        if !path.is_dir() {
            return Ok(RecordFiles { flows: path.into(), hosts: None, activity: None, truth: None });
        }
        let f = path.join("flows.csv");
        if !f.is_file() {
            return Err(PluginError::data(format!("{}: a flow_records directory needs flows.csv (and optionally hosts.csv, activity.csv)", path.display())));
        }
        let opt = |n: &str| Some(path.join(n)).filter(|p| p.is_file());
        Ok(RecordFiles { flows: f, hosts: opt("hosts.csv"), activity: opt("activity.csv"), truth: opt("truth.json") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_iso8601("2013-04-14T00:00:00Z"), Some(1_365_897_600.0));
        assert_eq!(parse_iso8601("2013-04-14 02:00:00+02:00"), Some(1_365_897_600.0));
        assert_eq!(parse_iso8601("2013-04-13T19:30:00-0430"), Some(1_365_897_600.0));
        assert_eq!(parse_iso8601("2000-02-29T12:00:00.25"), Some(951_825_600.25));
        for bad in ["2013-02-29T00:00:00", "2013-04-14", "2013-13-01T00:00:00", "2013-04-14T00:00:00X", "2013-04-14T00:00:00.", "2013-04-14T24:00:00"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
        assert_eq!(parse_time("12.5"), Some(12.5));
        assert_eq!(parse_time("inf"), None);
    }

    #[test]
    fn iso_matches_day_count_over_centuries() {
        // independent check: count days month by month from 1970
        let mut days = 0i64;
        for y in 1970..2101 {
            for m in 1..=12 {
                let s = format!("{y:04}-{m:02}-01T00:00:00Z");
                assert_eq!(parse_iso8601(&s), Some((days * 86_400) as f64), "{s}");
                days += days_in_month(y, m);
            }
        }
    }

    fn write(dir: &Path, name: &str, s: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, s).unwrap();
        p
    }

    #[test]
    fn flow_blocks_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "f.csv", "\u{feff}user,start_time,proto,dst_port,bytes\r\na,1.5,tcp,80,100\na,2013-04-14T00:00:00Z,udp,53,\n# c\nb,3,6,443,7\n");
        let mut r = FlowReader::open(&p).unwrap();
        let a = r.next_user().unwrap().unwrap();
        assert_eq!((a.user.as_str(), a.times.clone(), a.bytes), ("a", vec![1.5, 1_365_897_600.0], 100));
        assert_eq!(a.keys, vec![port_key(6, 80), port_key(17, 53)]);
        let b = r.next_user().unwrap().unwrap();
        assert_eq!((b.user.as_str(), b.first_line, key_name(b.keys[0])), ("b", 5, "tcp/443".into()));
        assert!(r.next_user().unwrap().is_none());
        for (body, want) in [
            ("user,start_time\na,1\na,x\n", "f.csv:3: start_time `x`"),
            ("user,start_time\na,1\nb,2\na,3\n", "f.csv:4: user `a` appears again"),
            ("user,start_time,proto,dst_port\na,1,tcp,70000\n", "f.csv:2: dst_port `70000`"),
            ("user,start_time\na,1,2\n", "f.csv:2: expected 2 fields, found 3"),
            ("user,time\n", "f.csv:1: header lacks column `start_time`"),
            ("user,start_time,proto\n", "only one of `proto` and `dst_port`"),
        ] {
            let p = write(d.path(), "f.csv", body);
            let e = FlowReader::open(&p).and_then(|mut r| {
                loop {
                    if r.next_user()?.is_none() {
                        break Ok(());
                    }
                }
            });
            let m = e.unwrap_err().message;
            assert!(m.contains(want), "{m} lacks {want}");
        }
        // the ungrouped file is accepted by read_all
        let p = write(d.path(), "f.csv", "user,start_time\na,1\nb,2\na,3\n");
        let all = FlowReader::open(&p).unwrap().read_all().unwrap();
        assert_eq!(all.iter().map(|u| (u.user.as_str(), u.times.len())).collect::<Vec<_>>(), vec![("a", 2), ("b", 1)]);
    }

    #[test]
    fn long_lines_are_refused_with_the_line() {
        let d = tempfile::tempdir().unwrap();
        let mut s = String::from("user,start_time\na,1\n");
        s.push_str(&"x".repeat(MAX_LINE + 10));
        let p = write(d.path(), "f.csv", &s);
        let mut r = FlowReader::open(&p).unwrap();
        let e = r.next_user().unwrap_err().message;
        assert!(e.contains("f.csv:3: line longer"), "{e}");
    }

    #[test]
    fn side_files() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "h.csv", "user,on_start,on_end\na,10,20\na,0,10\na,30,40\n");
        assert_eq!(read_hosts(&p).unwrap()["a"], vec![(0.0, 20.0), (30.0, 40.0)]);
        let p = write(d.path(), "h.csv", "user,on_start,on_end\na,10,5\n");
        assert!(read_hosts(&p).unwrap_err().message.contains("on_end ≤ on_start"));
        let p = write(d.path(), "a.csv", "user,time\na,5\na,1970-01-01T00:00:01Z\nb,x\n");
        assert!(read_activity(&p).unwrap_err().message.contains("a.csv:4: time `x`"));
    }
}
