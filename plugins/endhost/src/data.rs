//! Count data as a histogram of distinct values (docs/endhost.md, "Models": the likelihood costs
//! O(#distinct values)), and the readers for real data: a counts file (one
//! non-negative integer per line; zeros filtered as in the paper's §III and counted) and a
//! per-user CSV (`user,bin_seconds,count`).
use flowlab_abi::PluginError;
use flowlab_abi::limits::bounded_lines;
use std::collections::BTreeMap;
use std::path::Path;

/// Positive integer observations compressed to (value, count) pairs, sorted by value, with the
/// per-value quantities the likelihood needs precomputed.
#[derive(Debug, Clone, PartialEq)]
pub struct Hist {
    /// Distinct values k_j ≥ 1 (ascending).
    pub k: Vec<f64>,
    /// Their multiplicities c_j.
    pub c: Vec<f64>,
    /// ln k_j.
    pub lk: Vec<f64>,
    /// k_j − 1.
    pub km1: Vec<f64>,
    /// n = Σ c_j.
    pub n: f64,
    /// Σ c_j ln k_j.
    pub s_lk: f64,
}

impl Hist {
    /// From distinct values and counts (values ≥ 1, counts > 0; pairs with count 0 are dropped).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u64, u64)>) -> Result<Hist, String> {
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        for (v, c) in pairs {
            if v == 0 {
                return Err("values must be positive integers (k ≥ 1)".into());
            }
            if c > 0 {
                *m.entry(v).or_default() += c;
            }
        }
        if m.is_empty() {
            return Err("no positive observations".into());
        }
        let k: Vec<f64> = m.keys().map(|&v| v as f64).collect();
        let c: Vec<f64> = m.values().map(|&c| c as f64).collect();
        let lk: Vec<f64> = k.iter().map(|v| v.ln()).collect();
        let km1 = k.iter().map(|v| v - 1.0).collect();
        let n = c.iter().sum();
        let s_lk = c.iter().zip(&lk).map(|(c, l)| c * l).sum();
        Ok(Hist { k, c, lk, km1, n, s_lk })
    }
    /// From raw samples (each ≥ 1).
    pub fn from_samples(x: &[u64]) -> Result<Hist, String> {
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        for &v in x {
            *m.entry(v).or_default() += 1;
        }
        Hist::from_pairs(m)
    }
    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.k.len()
    }
    /// Mean of ln k.
    pub fn mean_logk(&self) -> f64 {
        self.s_lk / self.n
    }
    /// `{"values": [...], "counts": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"values": self.k.iter().map(|v| *v as u64).collect::<Vec<_>>(),
                           "counts": self.c.iter().map(|v| *v as u64).collect::<Vec<_>>()})
    }
}

/// A counts file after reading.
#[derive(Debug, Clone)]
pub struct CountsFile {
    /// The positive counts.
    pub hist: Hist,
    /// How many zero lines were dropped (paper §III: only non-zero windows are modelled).
    pub zeros_dropped: u64,
    /// Number of data lines read (zeros included).
    pub lines: u64,
}

/// The numbered lines of a text file, each at most 1 MiB, a byte-order mark dropped
/// ([`flowlab_abi::limits::bounded_lines`]).
fn read_lines(path: &Path) -> Result<impl Iterator<Item = Result<(usize, String), PluginError>>, PluginError> {
    let f = std::fs::File::open(path).map_err(|e| PluginError::data(format!("{}: cannot read: {e}", path.display())))?;
    Ok(bounded_lines(std::io::BufReader::new(f), &path.display().to_string()))
}

/// Reads a counts file: one non-negative integer per line; blank lines and `#` comments are
/// skipped; zeros are dropped and counted. A bad line is a data error naming `file:line`.
pub fn read_counts(path: &Path) -> Result<CountsFile, PluginError> {
    let mut m: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut zeros, mut lines) = (0u64, 0u64);
    for l in read_lines(path)? {
        let (no, raw) = l?;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let v: u64 = line.parse().map_err(|e: std::num::ParseIntError| {
            let what = if *e.kind() == std::num::IntErrorKind::PosOverflow { "a count above 2^64 − 1" } else { "expected one non-negative integer per line, found" };
            PluginError::data(format!("{}:{no}: {what} `{}`", path.display(), truncate(line)))
        })?;
        lines += 1;
        if v == 0 {
            zeros += 1;
        } else {
            *m.entry(v).or_default() += 1;
        }
    }
    let hist = Hist::from_pairs(m).map_err(|e| PluginError::data(format!("{}: {e} ({lines} data lines, {zeros} zeros)", path.display())))?;
    Ok(CountsFile { hist, zeros_dropped: zeros, lines })
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s.to_string() }
}

/// Writes samples as a counts file (one integer per line).
pub fn write_counts(path: &Path, x: &[u64]) -> Result<(), PluginError> {
    let mut s = String::with_capacity(x.len() * 3);
    for v in x {
        s.push_str(&v.to_string());
        s.push('\n');
    }
    std::fs::write(path, s).map_err(|e| PluginError::run(format!("{}: cannot write: {e}", path.display())))
}

/// One (user, bin size) series of a per-user CSV.
#[derive(Debug, Clone)]
pub struct UserSeries {
    /// User id (as written).
    pub user: String,
    /// Bin width in seconds.
    pub bin_seconds: f64,
    /// Positive counts (None when every window of the series was zero).
    pub hist: Option<Hist>,
    /// Windows with count 0 (dropped).
    pub zeros_dropped: u64,
    /// Windows in the series.
    pub windows: u64,
}

/// Reads a per-user CSV with header `user,bin_seconds,count` (one row per time window).
/// Series come out sorted by user, then bin size. Bad rows are data errors naming `file:line`.
pub fn read_user_csv(path: &Path) -> Result<Vec<UserSeries>, PluginError> {
    let mut lines = read_lines(path)?.filter(|l| l.as_ref().map_or(true, |(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#')));
    let (hl, header) = lines.next().transpose()?.ok_or_else(|| PluginError::data(format!("{}: empty file; expected a header `user,bin_seconds,count`", path.display())))?;
    let cols: Vec<String> = header.split(',').map(|s| s.trim().to_ascii_lowercase()).collect();
    let idx = |name: &str| {
        cols.iter()
            .position(|c| c == name)
            .ok_or_else(|| PluginError::data(format!("{}:{hl}: header lacks column `{name}` (expected `user,bin_seconds,count`, found `{}`)", path.display(), truncate(header.trim()))))
    };
    let (iu, ib, ic) = (idx("user")?, idx("bin_seconds")?, idx("count")?);
    // key: (user, bin bits) -> (value->count, zeros, windows)
    type Acc = (BTreeMap<u64, u64>, u64, u64);
    let mut acc: BTreeMap<(String, u64), Acc> = BTreeMap::new();
    for l in lines {
        let (no, line) = l?;
        let f: Vec<&str> = line.split(',').map(|s| s.trim()).collect();
        let at = |what: &str| format!("{}:{no}: {what} (row `{}`)", path.display(), truncate(line.trim()));
        if f.len() != cols.len() {
            return Err(PluginError::data(at(&format!("expected {} fields, found {}", cols.len(), f.len()))));
        }
        let user = f[iu].to_string();
        if user.is_empty() {
            return Err(PluginError::data(at("empty user")));
        }
        let bin: f64 = f[ib].parse().map_err(|_| PluginError::data(at("bin_seconds is not a number")))?;
        if !(bin.is_finite() && bin > 0.0) {
            return Err(PluginError::data(at("bin_seconds must be a positive number")));
        }
        let c: u64 = f[ic].parse().map_err(|_| PluginError::data(at("count is not a non-negative integer")))?;
        let e = acc.entry((user, bin.to_bits())).or_default();
        e.2 += 1;
        if c == 0 {
            e.1 += 1;
        } else {
            *e.0.entry(c).or_default() += 1;
        }
    }
    if acc.is_empty() {
        return Err(PluginError::data(format!("{}: no data rows after the header", path.display())));
    }
    let mut out: Vec<UserSeries> =
        acc.into_iter().map(|((user, bits), (m, zeros, windows))| UserSeries { user, bin_seconds: f64::from_bits(bits), hist: Hist::from_pairs(m).ok(), zeros_dropped: zeros, windows }).collect();
    out.sort_by(|a, b| a.user.cmp(&b.user).then(a.bin_seconds.total_cmp(&b.bin_seconds)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hist_from_samples() {
        let h = Hist::from_samples(&[3, 1, 1, 2, 3, 3]).unwrap();
        assert_eq!(h.k, vec![1.0, 2.0, 3.0]);
        assert_eq!(h.c, vec![2.0, 1.0, 3.0]);
        assert_eq!(h.n, 6.0);
        assert!((h.s_lk - (2f64.ln() + 3.0 * 3f64.ln())).abs() < 1e-15);
        assert!(Hist::from_samples(&[0, 1]).is_err());
    }
    #[test]
    fn counts_file_zeros_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.txt");
        std::fs::write(&p, "# comment\n1\n0\n5\n\n0\n5\n").unwrap();
        let r = read_counts(&p).unwrap();
        assert_eq!(r.zeros_dropped, 2);
        assert_eq!(r.lines, 5);
        assert_eq!(r.hist.n, 3.0);
        std::fs::write(&p, "1\n2\n-3\n").unwrap();
        let e = read_counts(&p).unwrap_err();
        assert!(e.message.contains("c.txt:3:"), "{}", e.message);
        std::fs::write(&p, "0\n0\n").unwrap();
        assert!(read_counts(&p).unwrap_err().message.contains("no positive"));
        std::fs::write(&p, "1\n100000000000000000000\n").unwrap();
        assert!(read_counts(&p).unwrap_err().message.contains("c.txt:2: a count above 2^64 − 1 `100000000000000000000`"));
    }
    #[test]
    fn user_csv() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("u.csv");
        std::fs::write(&p, "user,bin_seconds,count\nb,60,3\na,60,0\na,60,2\na,10,1\nb,60,3\n").unwrap();
        let r = read_user_csv(&p).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].user.as_str(), r[0].bin_seconds), ("a", 10.0));
        assert_eq!(r[1].zeros_dropped, 1);
        assert_eq!(r[2].hist.as_ref().unwrap().c, vec![2.0]);
        std::fs::write(&p, "user,bin_seconds,count\na,60,x\n").unwrap();
        let e = read_user_csv(&p).unwrap_err();
        assert!(e.message.contains("u.csv:2:"), "{}", e.message);
        std::fs::write(&p, "user,count\na,1\n").unwrap();
        assert!(read_user_csv(&p).unwrap_err().message.contains("bin_seconds"));
    }
}
