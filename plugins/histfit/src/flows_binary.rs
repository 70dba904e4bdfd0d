//! flow-models' `binary` flow format: a directory holding one array file per field,
//! `<field>.<typecode>`, native byte order (`lib/io.py`: `write_flow_binary`, `load_arrays`,
//! `read_flow_binary`), streamed in blocks.
//!
//! flow-models' quirks are kept because they decide which records are read:
//! - only the fields the caller needs (plus the filter's) are loaded; the others read as 0
//!   (a missing file too, with a warning) — so `-x duration` without `-c duration` sees 0;
//! - every loaded array must have the same length;
//! - `skip_in` is applied as `size = max(size - skip_in, 0); skip_in -= min(skip_in, size)`
//!   (the remaining size, not the skipped count, is subtracted), then `count_in`;
//! - the filter is evaluated with NumPy semantics ([`crate::filter::Mode::Numpy`]).
use crate::filter::{Dtype, FIELDS, Filter};
use crate::flows::{Counters, ReadStats, Record, Step, array_dtype};
use flowlab_abi::PluginError;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Elements read per block and field.
const BLOCK: usize = 1 << 16;

struct Column {
    field: usize,
    dtype: Dtype,
    file: std::fs::File,
    path: PathBuf,
    buf: Vec<u8>,
}

impl Column {
    fn fill(&mut self, n: usize) -> Result<(), PluginError> {
        self.buf.resize(n * self.dtype.size(), 0);
        self.file.read_exact(&mut self.buf).map_err(|e| PluginError::data(format!("{}: read error: {e}", self.path.display())))
    }
    #[inline]
    fn get(&self, i: usize) -> i128 {
        let w = self.dtype.size();
        let b = &self.buf[i * w..(i + 1) * w];
        let mut raw = [0u8; 8];
        raw[..w].copy_from_slice(b);
        let u = u64::from_ne_bytes(raw);
        if self.dtype.signed {
            let shift = 64 - u32::from(self.dtype.bits);
            i128::from(((u << shift) as i64) >> shift)
        } else {
            i128::from(u)
        }
    }
}

/// Finds `dir/<name>.*` as flow-models' `find_array_path` (`None`: no such file).
fn find_array(dir: &Path, name: &str) -> Result<Option<PathBuf>, PluginError> {
    let prefix = format!("{name}.");
    let mut found = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| PluginError::data(format!("{}: cannot list the directory: {e}", dir.display())))?;
    for entry in rd {
        let entry = entry.map_err(|e| PluginError::data(format!("{}: {e}", dir.display())))?;
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
            found.push(entry.path());
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => {
            let p = found.pop().expect("one");
            if p.file_stem().and_then(|s| s.to_str()) != Some(name) {
                return Err(PluginError::data(format!("{}: expected `{name}.<typecode>`", p.display())));
            }
            Ok(Some(p))
        }
        _ => {
            found.sort();
            Err(PluginError::data(format!("{}: more than one array file for field `{name}`: {}", dir.display(), found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))))
        }
    }
}

/// Reads one binary directory (see the module doc).
pub fn read_binary(
    dir: &Path,
    counters: &mut Counters,
    filter: Option<&Filter>,
    fields: &[bool; 21],
    warn: &mut dyn FnMut(String),
    stats: &mut ReadStats,
    sink: &mut dyn FnMut(&Record) -> Result<(), PluginError>,
) -> Result<(), PluginError> {
    if !dir.is_dir() {
        return Err(PluginError::data(format!("{}: binary input must be a directory of array files (one per field)", dir.display())));
    }
    let used = filter.map(|f| f.fields()).unwrap_or([false; 21]);
    let mut cols: Vec<Column> = Vec::new();
    let mut dtypes: [Option<Dtype>; 21] = [None; 21];
    let mut size: Option<u64> = None;
    for k in 0..21 {
        if !(fields[k] || used[k]) {
            continue;
        }
        let Some(path) = find_array(dir, FIELDS[k])? else {
            if used[k] {
                return Err(PluginError::data(format!("{}: the filter uses flow field `{}`, which has no array file there", dir.display(), FIELDS[k])));
            }
            warn(format!("array file for flow field '{}' not found in directory {}; assuming zero as value of this field", FIELDS[k], dir.display()));
            continue;
        };
        let dtype = array_dtype(&path)?;
        let bytes = std::fs::metadata(&path).map_err(|e| PluginError::data(format!("{}: {e}", path.display())))?.len();
        if bytes % dtype.size() as u64 != 0 {
            return Err(PluginError::data(format!("{}: {bytes} bytes is not a whole number of {}-byte elements", path.display(), dtype.size())));
        }
        let len = bytes / dtype.size() as u64;
        match size {
            None => size = Some(len),
            Some(s) if s != len => return Err(PluginError::data(format!("{}: {len} elements, but the other field arrays in {} have {s}", path.display(), dir.display()))),
            _ => {}
        }
        let file = std::fs::File::open(&path).map_err(|e| PluginError::data(format!("{}: cannot open: {e}", path.display())))?;
        dtypes[k] = Some(dtype);
        cols.push(Column { field: k, dtype, file, path, buf: Vec::new() });
    }
    let Some(total) = size else { return Ok(()) };
    // flow-models' counter arithmetic, kept as is (module doc)
    let first = counters.skip_in.min(total);
    let mut n = total;
    if counters.skip_in > 0 {
        n = total.saturating_sub(counters.skip_in);
        counters.skip_in -= counters.skip_in.min(n);
    }
    if let Some(c) = counters.count_in {
        if c > 0 {
            n = n.min(c);
            counters.count_in = Some(c - c.min(n));
        } else {
            n = 0;
        }
    }
    stats.records_seen += first + n;
    if n == 0 {
        return Ok(());
    }
    for c in &mut cols {
        c.file.seek(SeekFrom::Start(first * c.dtype.size() as u64)).map_err(|e| PluginError::data(format!("{}: {e}", c.path.display())))?;
    }
    let mut rec: Record = [0; 21];
    let mut done = 0u64;
    while done < n {
        let m = (n - done).min(BLOCK as u64) as usize;
        for c in &mut cols {
            c.fill(m)?;
        }
        for i in 0..m {
            for c in &cols {
                rec[c.field] = c.get(i);
            }
            let pass = match filter {
                None => true,
                Some(f) => f.eval_numpy(&rec, &dtypes).map_err(|e| PluginError::data(format!("{}: filter `{}`: {e}", dir.display(), f.source)))?,
            };
            if !pass {
                continue;
            }
            match counters.after() {
                Step::Skip => continue,
                Step::Stop => return Ok(()),
                Step::Take => {}
            }
            // fields read only for the filter are not passed on (flow-models yields 0 for them)
            let mut out = rec;
            for k in 0..21 {
                if !fields[k] {
                    out[k] = 0;
                }
            }
            stats.records_out += 1;
            sink(&out)?;
        }
        done += m as u64;
    }
    Ok(())
}
