//! Flow-record readers: flow-models' four input formats (docs/histfit.md, "hist: inputs"),
//! streamed record by record with flow-models' skip/count counters and filter.
//!
//! - `csv_flow`: 21 comma-separated integers per line (`flow_models.generate`'s output);
//! - `pipe`: nfdump's `-o pipe` text (22 `|`-separated fields; `first`/`last` in ms);
//! - `nfcapd`: nfcapd files, read by running `nfdump -r FILE -q -o pipe` exactly as flow-models;
//! - `binary`: a directory with one array file per field, `<field>.<typecode>` (native byte
//!   order), as flow-models' `convert -o binary` writes it.
//!
//! A record is the 21 fields of [`crate::filter::FIELDS`] as integers. Every record is parsed
//! as Python's `int()` would (surrounding whitespace, sign, `_` between digits); a value that
//! Python rejects is an error naming `file:line`. Memory is one read buffer per input, never
//! the input.
use crate::filter::{Dtype, FIELDS, Filter};
use flowlab_abi::PluginError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One flow record: the 21 fields of [`FIELDS`].
pub type Record = [i128; 21];

/// Largest magnitude of a field value (2^64): every sum over 10^9 records stays inside i128.
pub const MAX_FIELD: i128 = 1 << 64;

/// flow-models' input formats (`-i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InFormat {
    /// flow-models' csv_flow lines (default).
    #[default]
    CsvFlow,
    /// A directory of per-field array files.
    Binary,
    /// nfdump `-o pipe` text.
    Pipe,
    /// nfcapd files, through the `nfdump` program.
    Nfcapd,
}

/// flow-models' skip/count counters, shared by all inputs in order (`lib/io.py`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records to skip before reading (not parsed).
    pub skip_in: u64,
    /// Records to read after skipping (`None`: all).
    pub count_in: Option<u64>,
    /// Records to skip after the filter.
    pub skip_out: u64,
    /// Records to pass on after the filter (`None`: all).
    pub count_out: Option<u64>,
}

/// What a reader did with one input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines (or array elements) taken from the input, skipped ones included.
    pub records_seen: u64,
    /// Records passed to the sink.
    pub records_out: u64,
}

/// Outcome of the per-record counter logic.
pub(crate) enum Step {
    Skip,
    Take,
    Stop,
}

/// One skip/count pair: skip first, then count down to the stop (flow-models' order).
fn step(skip: &mut u64, count: &mut Option<u64>) -> Step {
    if *skip > 0 {
        *skip -= 1;
        return Step::Skip;
    }
    match count {
        Some(0) => Step::Stop,
        Some(c) => {
            *c -= 1;
            Step::Take
        }
        None => Step::Take,
    }
}

impl Counters {
    /// Before parsing a record: `skip_in`, then `count_in`.
    fn before(&mut self) -> Step {
        step(&mut self.skip_in, &mut self.count_in)
    }
    /// After the filter passed: `skip_out`, then `count_out`.
    pub(crate) fn after(&mut self) -> Step {
        step(&mut self.skip_out, &mut self.count_out)
    }
}

/// flow-models' `prepare_file_list` for the non-binary formats: a file stays, a directory
/// becomes every regular file below it (not through symbolic links to directories), sorted by
/// path components as Python sorts `Path`s. Binary inputs are directories and pass unchanged.
pub fn expand_inputs(inputs: &[PathBuf], format: InFormat) -> Result<Vec<PathBuf>, PluginError> {
    if format == InFormat::Binary {
        return Ok(inputs.to_vec());
    }
    let mut out = Vec::new();
    for p in inputs {
        let md = std::fs::metadata(p).map_err(|_| PluginError::data(format!("{}: no such file or directory", p.display())))?;
        if md.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files)?;
            files.sort();
            out.extend(files);
        } else if md.is_file() {
            out.push(p.clone());
        } else {
            return Err(PluginError::data(format!("{}: not a regular file", p.display())));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PluginError> {
    let rd = std::fs::read_dir(dir).map_err(|e| PluginError::data(format!("{}: cannot list the directory: {e}", dir.display())))?;
    for entry in rd {
        let entry = entry.map_err(|e| PluginError::data(format!("{}: cannot list the directory: {e}", dir.display())))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| PluginError::data(format!("{}: {e}", path.display())))?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Python's `int()` of one field (ASCII whitespace around, optional sign, digits with single
/// `_` between them); `None` where Python raises or the value exceeds [`MAX_FIELD`].
#[inline]
pub fn py_int(s: &[u8]) -> Option<i128> {
    let n = s.len();
    let mut i = 0;
    while i < n && is_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < n && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    let mut wide: Option<u128> = None;
    let mut after_digit = false;
    while i < n {
        let c = s[i];
        if c.is_ascii_digit() {
            let d = u64::from(c - b'0');
            match wide {
                None => match v.checked_mul(10).and_then(|x| x.checked_add(d)) {
                    Some(x) => v = x,
                    None => wide = Some(u128::from(v) * 10 + u128::from(d)),
                },
                Some(w) => wide = Some(w.checked_mul(10)?.checked_add(u128::from(d))?),
            }
            after_digit = true;
        } else if c == b'_' && after_digit && i + 1 < n && s[i + 1].is_ascii_digit() {
            after_digit = false;
        } else {
            break;
        }
        i += 1;
    }
    if i == start || !after_digit {
        return None;
    }
    while i < n && is_space(s[i]) {
        i += 1;
    }
    if i != n {
        return None;
    }
    let mag = wide.unwrap_or(u128::from(v));
    if mag > MAX_FIELD as u128 {
        return None;
    }
    Some(if neg { -(mag as i128) } else { mag as i128 })
}

#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A chunked line splitter over any byte stream (lines end at `\n`; the last may not).
struct Lines<R: Read> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    name: String,
}

const CHUNK: usize = 1 << 20;

impl<R: Read> Lines<R> {
    fn new(src: R, name: String) -> Self {
        Lines { src, buf: vec![0; CHUNK + flowlab_abi::limits::MAX_LINE_BYTES], start: 0, end: 0, eof: false, name }
    }
    /// The next line without its `\n`, or `None` at the end; `lineno` is for the message.
    fn next_line(&mut self, lineno: u64) -> Result<Option<(usize, usize)>, PluginError> {
        loop {
            if let Some(p) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let s = self.start;
                self.start += p + 1;
                return Ok(Some((s, s + p)));
            }
            if self.eof {
                if self.start < self.end {
                    let s = self.start;
                    self.start = self.end;
                    return Ok(Some((s, self.end)));
                }
                return Ok(None);
            }
            if self.end - self.start >= flowlab_abi::limits::MAX_LINE_BYTES {
                return Err(flowlab_abi::limits::line_too_long(&self.name, lineno as usize, flowlab_abi::limits::MAX_LINE_BYTES));
            }
            // move the partial line to the front, then fill
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let room = (self.end + CHUNK).min(self.buf.len());
            let n = loop {
                match self.src.read(&mut self.buf[self.end..room]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(PluginError::data(format!("{}: read error: {e}", self.name))),
                }
            };
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
    }
}

fn bad_line(name: &str, lineno: u64, what: String) -> PluginError {
    PluginError::data(format!("{name}:{lineno}: {what}"))
}

fn show(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
    if line.len() > 120 { format!("{s}…") } else { s }
}

/// Parses one csv_flow line (21 integers) into `rec` by Python's rules: the lines
/// [`crate::csvfast::scan_line`] leaves.
fn parse_csv(line: &[u8], rec: &mut Record) -> Result<(), String> {
    let mut k = 0;
    for field in line.split(|&c| c == b',') {
        if k == 21 {
            return Err(format!("more than 21 comma-separated fields: `{}`", show(line)));
        }
        rec[k] = py_int(field).ok_or_else(|| format!("field {} (`{}`) is not an integer of at most 2^64: `{}`", FIELDS[k], show(field).trim(), show(line)))?;
        k += 1;
    }
    if k != 21 {
        return Err(format!("{k} comma-separated fields, a csv_flow record has 21: `{}`", show(line)));
    }
    Ok(())
}

/// Order of nfdump's pipe fields in a [`Record`] (`None`: not read; `srcas`, `dstas`,
/// `tcp_flags`, `tos`), after `af|first|last` which are handled apart.
const PIPE_FIELDS: [Option<usize>; 19] =
    [Some(1), Some(4), Some(5), Some(6), Some(7), Some(12), Some(8), Some(9), Some(10), Some(11), Some(13), None, None, Some(2), Some(3), None, None, Some(18), Some(19)];

/// Parses one nfdump pipe line (22 fields) into `rec`, as flow-models' `read_pipe`: `first`
/// and `last` are milliseconds split as `s[:-3]`, `s[-3:]`; `aggs` is 0.
fn parse_pipe(line: &[u8], rec: &mut Record) -> Result<(), String> {
    let parts: Vec<&[u8]> = line.split(|&c| c == b'|').collect();
    if parts.len() != 22 {
        return Err(format!("{} `|`-separated fields, an nfdump pipe record has 22: `{}`", parts.len(), show(line)));
    }
    let int = |s: &[u8], what: &str| py_int(s).ok_or_else(|| format!("{what} (`{}`) is not an integer of at most 2^64: `{}`", show(s).trim(), show(line)));
    let ms = |s: &[u8], what: &str| -> Result<(i128, i128), String> {
        let cut = s.len().saturating_sub(3);
        Ok((int(&s[..cut], what)?, int(&s[cut..], what)?))
    };
    (rec[14], rec[15]) = ms(parts[1], "first")?;
    (rec[16], rec[17]) = ms(parts[2], "last")?;
    rec[0] = int(parts[0], "af")?;
    for (j, slot) in PIPE_FIELDS.iter().enumerate() {
        if let Some(k) = slot {
            rec[*k] = int(parts[3 + j], FIELDS[*k])?;
        }
    }
    rec[20] = 0;
    Ok(())
}

/// The record parser of a line format.
#[derive(Clone, Copy)]
enum LineFormat {
    Csv,
    Pipe,
}

/// Runs the counters, parser and filter over the lines of `src`; `Ok(true)` when the counters
/// stopped the input early.
fn read_lines<R: Read, S: Sink>(src: R, name: &str, format: LineFormat, counters: &mut Counters, filter: Option<&Filter>, stats: &mut ReadStats, sink: &mut S) -> Result<bool, PluginError> {
    let mut lines = Lines::new(src, name.to_string());
    let mut rec: Record = [0; 21];
    let mut lineno = 0u64;
    loop {
        // csv_flow: the common line shape parsed in place, its end found on the way
        // (crate::csvfast); any other line, and the end of the buffer, take the general path
        let fast = match format {
            LineFormat::Csv => crate::csvfast::scan_line(&lines.buf[lines.start..lines.end], &mut rec),
            LineFormat::Pipe => None,
        };
        let span = match fast {
            Some(n) => {
                lines.start += n + 1;
                None
            }
            None => match lines.next_line(lineno + 1)? {
                Some(span) => Some(span),
                None => break,
            },
        };
        lineno += 1;
        stats.records_seen += 1;
        match counters.before() {
            Step::Skip => continue,
            Step::Stop => return Ok(true),
            Step::Take => {}
        }
        if let Some((s, e)) = span {
            let line = &lines.buf[s..e];
            // what nfdump prints instead of records for an empty capture or a file it cannot
            // read (its own complaint goes to standard error)
            if matches!(format, LineFormat::Pipe) && line.trim_ascii() == b"No matching flows" {
                return Err(bad_line(name, lineno, "nfdump found no flow records (it printed `No matching flows`): an empty capture, or not an nfcapd file".into()));
            }
            match format {
                LineFormat::Csv => parse_csv(line, &mut rec),
                LineFormat::Pipe => parse_pipe(line, &mut rec),
            }
            .map_err(|w| bad_line(name, lineno, w))?;
        }
        if filter.is_none_or(|f| f.eval_python(&rec)) {
            match counters.after() {
                Step::Skip => continue,
                Step::Stop => return Ok(true),
                Step::Take => {}
            }
            stats.records_out += 1;
            sink.take(&rec)?;
        }
    }
    Ok(false)
}

/// Where the records a reader keeps go: a closure, or a type whose `take` inlines into the
/// reader's loop (the histogram: a call per record cost 10 % of a 10^7-record run; a
/// closure passed down two generic layers was not inlined).
pub trait Sink {
    /// Takes one record.
    fn take(&mut self, r: &Record) -> Result<(), PluginError>;
}

impl<F: FnMut(&Record) -> Result<(), PluginError>> Sink for F {
    #[inline(always)]
    fn take(&mut self, r: &Record) -> Result<(), PluginError> {
        self(r)
    }
}

/// Reads one input (a file, or a directory for `binary`), passing each record that survives
/// the counters and the filter to `sink`. `fields` are the fields flow-models' binary reader
/// loads for the caller (others read as 0, as flow-models' `ZeroArray`); text formats fill all.
/// `warn` receives flow-models' warnings (a missing binary field file).
pub fn read_input<S: Sink>(
    path: &Path,
    format: InFormat,
    counters: &mut Counters,
    filter: Option<&Filter>,
    fields: &[bool; 21],
    warn: &mut dyn FnMut(String),
    sink: &mut S,
) -> Result<ReadStats, PluginError> {
    let mut stats = ReadStats::default();
    let name = path.display().to_string();
    match format {
        InFormat::CsvFlow | InFormat::Pipe => {
            let f = std::fs::File::open(path).map_err(|e| PluginError::data(format!("{name}: cannot open: {e}")))?;
            let lf = if format == InFormat::CsvFlow { LineFormat::Csv } else { LineFormat::Pipe };
            read_lines(f, &name, lf, counters, filter, &mut stats, sink)?;
        }
        InFormat::Nfcapd => read_nfcapd(path, counters, filter, &mut stats, sink)?,
        InFormat::Binary => crate::flows_binary::read_binary(path, counters, filter, fields, warn, &mut stats, &mut |r| sink.take(r))?,
    }
    Ok(stats)
}

/// The command flow-models runs for an nfcapd file.
pub fn nfdump_command(path: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("nfdump");
    c.arg("-r").arg(path).args(["-q", "-o", "pipe"]);
    c
}

fn read_nfcapd<S: Sink>(path: &Path, counters: &mut Counters, filter: Option<&Filter>, stats: &mut ReadStats, sink: &mut S) -> Result<(), PluginError> {
    let name = path.display().to_string();
    let mut child =
        nfdump_command(path).stdout(std::process::Stdio::piped()).spawn().map_err(|e| PluginError::run(format!("{name}: cannot run `nfdump -r {name} -q -o pipe` (Debian package nfdump): {e}")))?;
    let out = child.stdout.take().expect("stdout is piped");
    let res = read_lines(out, &format!("{name} (nfdump -o pipe)"), LineFormat::Pipe, counters, filter, stats, sink);
    match res {
        Ok(false) => {
            let st = child.wait().map_err(|e| PluginError::run(format!("{name}: waiting for nfdump: {e}")))?;
            if !st.success() {
                return Err(PluginError::data(format!("{name}: `nfdump -r {name} -q -o pipe` failed ({st})")));
            }
            Ok(())
        }
        // stopped by the counters, or a bad record: nfdump's remaining output is not wanted
        other => {
            let _ = child.kill();
            let _ = child.wait();
            other.map(|_| ())
        }
    }
}

/// The dtype of a binary field array, from its file name (`packets.Q`).
pub fn array_dtype(path: &Path) -> Result<Dtype, PluginError> {
    let code = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Dtype::from_code(code).ok_or_else(|| PluginError::data(format!("{}: `.{code}` is not an integer array type code (b B h H i I l L q Q)", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_parsing_follows_python() {
        for (s, v) in [(" 12", Some(12)), ("12\n", Some(12)), ("-3", Some(-3)), ("+0", Some(0)), ("1_000", Some(1000)), ("007", Some(7)), ("18446744073709551616", Some(1i128 << 64))] {
            assert_eq!(py_int(s.as_bytes()), v, "{s}");
        }
        for s in ["", " ", "1__0", "_1", "1_", "1.0", "0x10", "1 2", "18446744073709551617", "- 1"] {
            assert_eq!(py_int(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn counters_follow_flow_models() {
        let mut c = Counters { skip_in: 1, count_in: Some(2), skip_out: 0, count_out: None };
        assert!(matches!(c.before(), Step::Skip));
        assert!(matches!(c.before(), Step::Take));
        assert!(matches!(c.before(), Step::Take));
        assert!(matches!(c.before(), Step::Stop));
    }

    #[test]
    fn pipe_lines_split_milliseconds() {
        let mut r = [0i128; 21];
        parse_pipe(b"2|1425168000123|1425168001005|6|0|0|0|167772161|443|0|0|0|167772162|5555|0|0|1|2|24|0|10|5000\n", &mut r).unwrap();
        assert_eq!((r[0], r[1], r[14], r[15], r[16], r[17]), (2, 6, 1425168000, 123, 1425168001, 5));
        assert_eq!((r[7], r[12], r[11], r[13], r[2], r[3], r[18], r[19]), (167772161, 443, 167772162, 5555, 1, 2, 10, 5000));
        assert!(parse_pipe(b"2|12|1425168001005|6|0|0|0|1|443|0|0|0|2|5555|0|0|1|2|24|0|10|5000", &mut r).is_err());
    }

    /// nfdump's `No matching flows` (an empty capture or a file it cannot read) is told as
    /// such, not as a malformed record of one field.
    #[test]
    fn nfdumps_no_matching_flows_is_named() {
        let (mut c, mut st) = (Counters::default(), ReadStats::default());
        let mut sink = |_: &Record| -> Result<(), PluginError> { Ok(()) };
        let e = read_lines(b"No matching flows\n".as_slice(), "f.nfcapd (nfdump -o pipe)", LineFormat::Pipe, &mut c, None, &mut st, &mut sink).unwrap_err();
        assert!(e.message.contains("f.nfcapd (nfdump -o pipe):1: nfdump found no flow records"), "{}", e.message);
    }
}
