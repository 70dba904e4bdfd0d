//! Writers of generated flows, byte-identical to flow-models' `lib/io.py` (docs/histfit.md):
//! - `csv_flow`: one line per flow, the 21 fields `", "`-separated (`str(tuple)[1:-1]`);
//! - `binary`: a directory with one little-endian array file per field, named
//!   `<field>.<typecode>` (`af.B`, `inif.H`, `sa0.I`, `packets.Q`, …);
//! - `none`: nothing written (flow-models' `write_none`), only the totals.
//!
//! Every field but packets and octets is 0 in generated flows, so the binary writer streams
//! those two and fills the other 19 files with zeros of their width at the end.
use flowlab_abi::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// flow-models' `Flows.fields`: name and array typecode, in file order.
pub const FIELDS: [(&str, char); 21] = [
    ("af", 'B'),
    ("prot", 'B'),
    ("inif", 'H'),
    ("outif", 'H'),
    ("sa0", 'I'),
    ("sa1", 'I'),
    ("sa2", 'I'),
    ("sa3", 'I'),
    ("da0", 'I'),
    ("da1", 'I'),
    ("da2", 'I'),
    ("da3", 'I'),
    ("sp", 'H'),
    ("dp", 'H'),
    ("first", 'I'),
    ("first_ms", 'H'),
    ("last", 'I'),
    ("last_ms", 'H'),
    ("packets", 'Q'),
    ("octets", 'Q'),
    ("aggs", 'I'),
];

/// Output format (flow-models' `-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutFormat {
    /// Text, one flow per line (default).
    #[default]
    CsvFlow,
    /// A directory of per-field array files.
    Binary,
    /// No output, only the totals.
    None,
}

/// One csv_flow line (with its newline).
pub fn csv_flow_line(out: &mut impl std::fmt::Write, packets: u64, octets: u64) {
    let _ = writeln!(out, "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {packets}, {octets}, 0");
}

fn create(path: &Path) -> Result<BufWriter<File>, PluginError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| PluginError::run(format!("cannot create {}: {e}", parent.display())))?;
    }
    File::create(path).map(|f| BufWriter::with_capacity(1 << 20, f)).map_err(|e| PluginError::run(format!("cannot write {}: {e}", path.display())))
}

enum Sink {
    Csv(BufWriter<File>, String),
    Binary(BufWriter<File>, BufWriter<File>),
    None,
}

/// A streaming writer with running totals; I/O errors are kept and reported by
/// [`FlowWriter::finish`].
pub struct FlowWriter {
    sink: Sink,
    dir: PathBuf,
    rel: String,
    format: OutFormat,
    line: String,
    err: Option<(PathBuf, std::io::Error)>,
    /// Flows written.
    pub flows: u64,
    /// Σ packets.
    pub packets: u128,
    /// Σ octets.
    pub octets: u128,
    /// The first 20 flows as csv_flow lines.
    pub head: Vec<String>,
}

impl FlowWriter {
    /// A writer of `format` at `rel` (a file for csv_flow, a directory for binary) under the
    /// cell's output directory `dir`.
    pub fn new(dir: &Path, rel: &str, format: OutFormat) -> Result<FlowWriter, PluginError> {
        let path = dir.join(rel);
        let sink = match format {
            OutFormat::CsvFlow => Sink::Csv(create(&path)?, String::new()),
            OutFormat::Binary => Sink::Binary(create(&path.join("packets.Q"))?, create(&path.join("octets.Q"))?),
            OutFormat::None => Sink::None,
        };
        Ok(FlowWriter { sink, dir: dir.to_path_buf(), rel: rel.into(), format, line: String::new(), err: None, flows: 0, packets: 0, octets: 0, head: vec![] })
    }

    /// Writes one flow.
    #[inline]
    pub fn push(&mut self, packets: u64, octets: u64) {
        self.flows += 1;
        self.packets += u128::from(packets);
        self.octets += u128::from(octets);
        if self.head.len() < 20 {
            self.line.clear();
            csv_flow_line(&mut self.line, packets, octets);
            self.head.push(self.line.trim_end().to_string());
        }
        let r = match &mut self.sink {
            Sink::Csv(w, buf) => {
                buf.clear();
                csv_flow_line(buf, packets, octets);
                w.write_all(buf.as_bytes())
            }
            Sink::Binary(p, o) => p.write_all(&packets.to_le_bytes()).and_then(|_| o.write_all(&octets.to_le_bytes())),
            Sink::None => Ok(()),
        };
        if let (Err(e), None) = (r, &self.err) {
            self.err = Some((self.dir.join(&self.rel), e));
        }
    }

    /// Flushes, writes the zero-filled binary fields, and returns the artifacts.
    pub fn finish(mut self) -> Result<Vec<Artifact>, PluginError> {
        let io = |p: &Path, e: std::io::Error| PluginError::run(format!("cannot write {}: {e}", p.display()));
        if let Some((p, e)) = self.err.take() {
            return Err(io(&p, e));
        }
        let path = self.dir.join(&self.rel);
        let art = |rel: String, kind: &str| Artifact { name: rel.clone(), path: rel, kind: kind.into() };
        match std::mem::replace(&mut self.sink, Sink::None) {
            Sink::Csv(mut w, _) => {
                w.flush().map_err(|e| io(&path, e))?;
                Ok(vec![art(self.rel.clone(), "csv_flow")])
            }
            Sink::Binary(mut p, mut o) => {
                p.flush().map_err(|e| io(&path, e))?;
                o.flush().map_err(|e| io(&path, e))?;
                let zeros = vec![0u8; 1 << 16];
                for (name, code) in FIELDS {
                    if name == "packets" || name == "octets" {
                        continue;
                    }
                    let width: u64 = match code {
                        'B' => 1,
                        'H' => 2,
                        'I' => 4,
                        _ => 8,
                    };
                    let f = path.join(format!("{name}.{code}"));
                    let mut w = create(&f)?;
                    let mut left = self.flows * width;
                    while left > 0 {
                        let k = left.min(zeros.len() as u64) as usize;
                        w.write_all(&zeros[..k]).map_err(|e| io(&f, e))?;
                        left -= k as u64;
                    }
                    w.flush().map_err(|e| io(&f, e))?;
                }
                Ok(FIELDS.iter().map(|(n, c)| art(format!("{}/{n}.{c}", self.rel), "flow_array")).collect())
            }
            Sink::None => {
                debug_assert_eq!(self.format, OutFormat::None);
                Ok(vec![])
            }
        }
    }
}
