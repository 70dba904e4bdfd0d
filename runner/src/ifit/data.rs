//! The data curves the interactive fit draws its mixtures over: flow-models' plot grid and
//! the histogram's empirical CDF and PDF on it, computed as histfit's `plot` does
//! (docs/histfit.md, "Plot modes": `unique(rint(geomspace(min, max, 128)))`, the CDF
//! interpolated linearly between bin lower edges, the PDF as its differences over the grid).
use crate::error::Error;
use serde::Serialize;
use std::path::Path;

/// Points of the plot grid before duplicates are removed (flow-models' 128).
pub const GRID_POINTS: usize = 128;
/// Largest histogram read (rows): the tutorial's has 23 782.
pub const MAX_ROWS: usize = 5_000_000;

/// The curves of one column.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Curves {
    /// Grid points (integers, increasing).
    pub x: Vec<u64>,
    /// Empirical CDF at the grid.
    pub cdf: Vec<f64>,
    /// Empirical PDF at the grid (first point: the CDF there).
    pub pdf: Vec<f64>,
    /// Smallest bin_lo (the discrete PDF's lower end).
    pub xmin: u64,
    /// Rows read.
    pub bins: usize,
    /// Σ of the column.
    pub total: f64,
}

/// Reads `bin_lo` and `<column>_sum` (or `<column>`) of a csv_hist; errors name the file,
/// line and column.
pub fn read_column(path: &Path, column: &str) -> Result<(Vec<u64>, Vec<u64>), Error> {
    let bad = |line: usize, m: String| Error::Usage(format!("{}:{line}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| Error::Usage(format!("{}: cannot read: {e}", path.display())))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").trim_start_matches('\u{feff}').split(',').map(str::trim).collect();
    let find = |names: &[String]| header.iter().position(|h| names.iter().any(|n| n == h));
    let lo = find(&["bin_lo".into()]).ok_or_else(|| bad(1, "no `bin_lo` column: not a csv_hist".into()))?;
    let col = find(&[format!("{column}_sum"), column.to_string()]).ok_or_else(|| bad(1, format!("no `{column}_sum` column")))?;
    let (mut xs, mut cs) = (vec![], vec![]);
    for (i, l) in lines.enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        if xs.len() == MAX_ROWS {
            return Err(bad(i + 2, format!("more than {MAX_ROWS} rows")));
        }
        let f: Vec<&str> = l.split(',').collect();
        // histfit's reader's rules (docs/histfit.md, "csv_hist and binning"): integers in [0, 2^63 - 1],
        // bin_lo ≥ 1, so the page never draws a histogram the fit then refuses
        let num = |k: usize, name: &str| {
            let v = f.get(k).and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| bad(i + 2, format!("`{name}` is not a non-negative integer")))?;
            if v > i64::MAX as u64 { Err(bad(i + 2, format!("`{name}` = {v} exceeds 2^63 - 1"))) } else { Ok(v) }
        };
        let x = num(lo, "bin_lo")?;
        if x == 0 {
            return Err(bad(i + 2, "bin_lo 0 is not a valid flow length (bins start at 1)".into()));
        }
        if xs.last().is_some_and(|&p| x <= p) {
            return Err(bad(i + 2, "bin_lo must increase".into()));
        }
        xs.push(x);
        cs.push(num(col, column)?);
    }
    if xs.is_empty() || cs.iter().all(|&c| c == 0) {
        return Err(bad(2, format!("no rows with a positive `{column}`")));
    }
    Ok((xs, cs))
}

/// `unique(rint(geomspace(a, b, n)))` with numpy's endpoints (exactly a and b).
pub fn grid(a: u64, b: u64) -> Vec<u64> {
    let (la, lb) = ((a.max(1) as f64).log10(), (b.max(1) as f64).log10());
    let n = GRID_POINTS;
    let step = (lb - la) / (n - 1) as f64;
    let mut g: Vec<u64> = (0..n)
        .map(|j| {
            if j == 0 {
                a as f64
            } else if j == n - 1 {
                b as f64
            } else {
                10f64.powf(j as f64 * step + la)
            }
        })
        .map(|v| v.round_ties_even() as u64)
        .collect();
    g.dedup();
    g
}

/// Linear interpolation of (xs, ys) at p (NaN outside, as histfit's `interp_linear`).
fn interp(xs: &[u64], ys: &[f64], p: u64) -> f64 {
    let n = xs.len();
    if n == 0 || p < xs[0] || p > xs[n - 1] {
        return f64::NAN;
    }
    if n == 1 {
        return ys[0];
    }
    let i = xs.partition_point(|&x| x < p).clamp(1, n - 1);
    (ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1]) as f64 * (p - xs[i - 1]) as f64 + ys[i - 1]
}

/// The curves of `column` of the csv_hist at `path`.
pub fn curves(path: &Path, column: &str) -> Result<Curves, Error> {
    let (xs, cs) = read_column(path, column)?;
    let total: u128 = cs.iter().map(|&c| c as u128).sum();
    let mut acc = 0u128;
    let share: Vec<f64> = cs
        .iter()
        .map(|&c| {
            acc += c as u128;
            acc as f64 / total as f64
        })
        .collect();
    let x = grid(xs[0], xs[xs.len() - 1]);
    let cdf: Vec<f64> = x.iter().map(|&p| interp(&xs, &share, p)).collect();
    let mut pdf = vec![cdf[0]];
    for i in 1..x.len() {
        pdf.push((cdf[i] - cdf[i - 1]) / (x[i] - x[i - 1]) as f64);
    }
    Ok(Curves { xmin: xs[0], bins: xs.len(), total: total as f64, x, cdf, pdf })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_of_a_small_histogram() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("h.csv");
        std::fs::write(&p, "bin_lo,bin_hi,flows_sum,packets_sum\n1,2,6,6\n2,3,3,6\n4,5,1,4\n").unwrap();
        let c = curves(&p, "flows").unwrap();
        assert_eq!(c.x, vec![1, 2, 3, 4]);
        assert_eq!(c.cdf, vec![0.6, 0.9, 0.95, 1.0]);
        assert!((c.pdf[1] - 0.3).abs() < 1e-15 && (c.pdf[3] - 0.05).abs() < 1e-15);
        assert_eq!(curves(&p, "packets").unwrap().cdf[0], 6.0 / 16.0);
        let e = curves(&p, "octets").unwrap_err().to_string();
        assert!(e.contains("h.csv:1") && e.contains("octets_sum"), "{e}");
        std::fs::write(&p, "bin_lo,flows_sum\n1,2\nx,3\n").unwrap();
        assert!(curves(&p, "flows").unwrap_err().to_string().contains("h.csv:3"));
        // what histfit's fit refuses is refused here too (the page drew them, then the fit failed)
        for (text, needle) in
            [("bin_lo,flows_sum\n0,100\n", "bin_lo 0"), ("bin_lo,flows_sum\n1,9223372036854775808\n", "exceeds 2^63 - 1"), ("bin_lo,flows_sum\n9223372036854775808,1\n", "exceeds 2^63 - 1")]
        {
            std::fs::write(&p, text).unwrap();
            let e = curves(&p, "flows").unwrap_err().to_string();
            assert!(e.contains("h.csv:2") && e.contains(needle), "{text:?}: {e}");
        }
        std::fs::write(&p, "bin_lo,flows_sum\n1,9223372036854775807\n").unwrap();
        assert_eq!(curves(&p, "flows").unwrap().x, vec![1]);
    }

    #[test]
    fn the_grid_is_numpys_geomspace_rounded_and_unique() {
        let g = grid(1, 1000);
        assert_eq!((g[0], *g.last().unwrap()), (1, 1000));
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        assert!(g.len() < GRID_POINTS);
    }
}
