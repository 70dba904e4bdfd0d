//! flow-models' `kde` plot mode: a weighted 2-D Gaussian KDE of the PDF datapoints in
//! log10-log10 space, evaluated on a `nbins × nbins` grid (docs/histfit.md, "Plot modes").
//!
//! Both variants share the bandwidth of scipy's `gaussian_kde` (Scott's rule):
//! w_i = c_i/Σc (c = `flows_sum`, also for the packets and octets PDFs, as flow-models does),
//! n_eff = 1/Σw², factor = n_eff^(−1/6), Σ = factor² · Σ_i w_i (d_i − μ)(d_i − μ)ᵀ / (1 − Σw²).
//! - [`exact`] (flow-models without `--fft`, i.e. `scipy.stats.gaussian_kde`):
//!   f(p) = Σ_i w_i exp(−½ (p − d_i)ᵀ Σ⁻¹ (p − d_i)) / √det(2πΣ);
//! - [`binned`] (flow-models' `--fft`, its own `lib/kde.py`): the data binned on an m × m grid
//!   (m = ⌊√n⌋) spanning the evaluation grid, convolved (`mode='same'`) with the Gaussian
//!   N(centre of the bin grid, Σ) sampled at the bin centres, normalised to integrate to 1, and
//!   read at the evaluation points by nearest bin (ties down, extrapolating at the edges).
//!   The convolution is computed directly (O(m⁴)), which equals the FFT's up to its rounding.

/// The KDE's input: points (log10 x, log10 y) and their weights (any positive scale).
pub struct Sample {
    /// log10 of the x values.
    pub x: Vec<f64>,
    /// log10 of the y values.
    pub y: Vec<f64>,
    /// Weights (normalised inside).
    pub w: Vec<f64>,
}

/// A KDE on a regular grid: `z[a * ny + b]` is the density at `(gx[a], gy[b])` (log10 space).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// log10 x grid.
    pub gx: Vec<f64>,
    /// log10 y grid.
    pub gy: Vec<f64>,
    /// Densities, x-major.
    pub z: Vec<f64>,
}

/// Bandwidth of `gaussian_kde` (Scott's rule, weighted): normalised weights and the
/// kernel covariance `[[sxx, sxy], [sxy, syy]]`.
struct Bandwidth {
    w: Vec<f64>,
    cov: [f64; 3],
}

fn bandwidth(s: &Sample) -> Result<Bandwidth, String> {
    if s.x.len() < 2 {
        return Err(format!("the KDE needs at least 2 datapoints, got {}", s.x.len()));
    }
    let tot: f64 = s.w.iter().sum();
    let w: Vec<f64> = s.w.iter().map(|v| v / tot).collect();
    let sw2: f64 = w.iter().map(|v| v * v).sum();
    let neff = 1.0 / sw2;
    let factor = neff.powf(-1.0 / 6.0);
    let mx: f64 = w.iter().zip(&s.x).map(|(a, b)| a * b).sum();
    let my: f64 = w.iter().zip(&s.y).map(|(a, b)| a * b).sum();
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for ((wi, xi), yi) in w.iter().zip(&s.x).zip(&s.y) {
        let (dx, dy) = (xi - mx, yi - my);
        sxx += dx * wi * dx;
        sxy += dx * wi * dy;
        syy += dy * wi * dy;
    }
    let k = factor * factor / (1.0 - sw2);
    let cov = [sxx * k, sxy * k, syy * k];
    let det = cov[0] * cov[2] - cov[1] * cov[1];
    if det.is_nan() || det <= 0.0 {
        return Err("the KDE's covariance is singular (the datapoints lie on a line)".into());
    }
    Ok(Bandwidth { w, cov })
}

/// numpy's `linspace(a, b, n)` (`np.mgrid[a:b:n*1j]`): `a + i·step`, the last point `b`.
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let step = (b - a) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + a).collect();
    v[n - 1] = b;
    v
}

/// Inverse of the 2 × 2 covariance and √det(2πΣ).
fn inverse(c: [f64; 3]) -> ([f64; 3], f64) {
    let det = c[0] * c[2] - c[1] * c[1];
    ([c[2] / det, -c[1] / det, c[0] / det], (4.0 * std::f64::consts::PI * std::f64::consts::PI * det).sqrt())
}

/// `scipy.stats.gaussian_kde(weights=…)` evaluated on the grid `gx × gy`.
pub fn exact(s: &Sample, gx: &[f64], gy: &[f64]) -> Result<Grid, String> {
    let bw = bandwidth(s)?;
    let (inv, norm) = inverse(bw.cov);
    let mut z = vec![0.0; gx.len() * gy.len()];
    for (a, &px) in gx.iter().enumerate() {
        for (b, &py) in gy.iter().enumerate() {
            let mut acc = 0.0;
            for i in 0..bw.w.len() {
                let (dx, dy) = (s.x[i] - px, s.y[i] - py);
                let e = inv[0] * dx * dx + 2.0 * inv[1] * dx * dy + inv[2] * dy * dy;
                acc += bw.w[i] * (-0.5 * e).exp();
            }
            z[a * gy.len() + b] = acc / norm;
        }
    }
    Ok(Grid { gx: gx.to_vec(), gy: gy.to_vec(), z })
}

/// numpy's histogram bin of `v` on `edges` (right-open bins, the last one closed), or `None`
/// outside.
pub(crate) fn bin_index(edges: &[f64], v: f64) -> Option<usize> {
    let m = edges.len() - 1;
    if v.is_nan() || v < edges[0] || v > edges[m] {
        return None;
    }
    if v == edges[m] {
        return Some(m - 1);
    }
    // searchsorted(side='right') − 1
    Some(edges.partition_point(|&e| e <= v) - 1)
}

/// `RegularGridInterpolator(method='nearest', fill_value=None)` index on an ascending grid.
fn nearest(grid: &[f64], v: f64) -> usize {
    let n = grid.len();
    let i = grid.partition_point(|&g| g <= v).saturating_sub(1).min(n - 2);
    let d = (v - grid[i]) / (grid[i + 1] - grid[i]);
    if d <= 0.5 { i } else { i + 1 }
}

/// flow-models' `--fft` KDE (`lib/kde.py`, d = 2) evaluated on the grid `gx × gy`.
pub fn binned(s: &Sample, gx: &[f64], gy: &[f64]) -> Result<Grid, String> {
    let bw = bandwidth(s)?;
    let m = (s.x.len() as f64).sqrt() as usize;
    if m < 2 {
        return Err(format!("the binned KDE needs at least 4 datapoints, got {}", s.x.len()));
    }
    let ex = linspace(gx[0], gx[gx.len() - 1], m + 1);
    let ey = linspace(gy[0], gy[gy.len() - 1], m + 1);
    let mut h = vec![0.0; m * m];
    for i in 0..bw.w.len() {
        if let (Some(a), Some(b)) = (bin_index(&ex, s.x[i]), bin_index(&ey, s.y[i])) {
            h[a * m + b] += bw.w[i];
        }
    }
    let cx: Vec<f64> = (0..m).map(|i| (ex[i] + ex[i + 1]) * 0.5).collect();
    let cy: Vec<f64> = (0..m).map(|i| (ey[i] + ey[i + 1]) * 0.5).collect();
    let (mx, my) = (cx.iter().sum::<f64>() / m as f64, cy.iter().sum::<f64>() / m as f64);
    let (inv, norm) = inverse(bw.cov);
    let mut k = vec![0.0; m * m];
    for a in 0..m {
        for b in 0..m {
            let (dx, dy) = (cx[a] - mx, cy[b] - my);
            k[a * m + b] = (-0.5 * (inv[0] * dx * dx + 2.0 * inv[1] * dx * dy + inv[2] * dy * dy)).exp() / norm;
        }
    }
    // 'same' part of the full (2m−1)² convolution: offset (m−1)/2
    let off = (m - 1) / 2;
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            let (p, q) = (i + off, j + off);
            let mut acc = 0.0;
            for a in p.saturating_sub(m - 1)..=p.min(m - 1) {
                let (hr, kr) = (&h[a * m..a * m + m], &k[(p - a) * m..(p - a) * m + m]);
                for b in q.saturating_sub(m - 1)..=q.min(m - 1) {
                    acc += hr[b] * kr[q - b];
                }
            }
            c[i * m + j] = acc;
        }
    }
    let vol = (cx[1] - cx[0]) * (cy[1] - cy[0]);
    let tot: f64 = c.iter().sum::<f64>() * vol;
    let mut z = Vec::with_capacity(gx.len() * gy.len());
    for &px in gx {
        let a = nearest(&cx, px);
        for &py in gy {
            z.push(c[a * m + nearest(&cy, py)] / tot);
        }
    }
    Ok(Grid { gx: gx.to_vec(), gy: gy.to_vec(), z })
}

/// matplotlib's `PowerNorm(0.1)` autoscaled to the grid: ((z − min)/(max − min))^0.1.
pub fn power_norm(z: &[f64]) -> Vec<f64> {
    let lo = z.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    z.iter().map(|&v| if hi > lo { ((v - lo) / (hi - lo)).powf(0.1) } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rounds_half_down_and_extrapolates() {
        let g = [0.0, 1.0, 2.0];
        assert_eq!(nearest(&g, -5.0), 0);
        assert_eq!(nearest(&g, 0.5), 0);
        assert_eq!(nearest(&g, 0.51), 1);
        assert_eq!(nearest(&g, 1.5), 1);
        assert_eq!(nearest(&g, 9.0), 2);
    }

    #[test]
    fn bins_are_right_open_but_the_last() {
        let e = [0.0, 1.0, 2.0];
        assert_eq!(bin_index(&e, 1.0), Some(1));
        assert_eq!(bin_index(&e, 2.0), Some(1));
        assert_eq!(bin_index(&e, 2.1), None);
        assert_eq!(bin_index(&e, -0.1), None);
    }
}
