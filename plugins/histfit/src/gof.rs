//! Goodness of fit of a mixture on a histogram column (docs/histfit.md, "Goodness of fit"), the same figures as
//! `flowmodels_gof.py`, the study's numpy/scipy yardstick (docs/design.md §9).
//!
//! With c_i the bin weights, N = Σ c_i, q_i = c_i/N and the discrete model probability of bin
//! [a, b): p_i = F(b−1) − F(a−1) (the first bin also takes all mass below; per component from
//! cdf or sf, whichever side of the component's median the bin starts on):
//! - `ll_binned` = Σ c_i ln p_i (and per unit), `ll_saturated` = Σ c_i ln q_i,
//! - `kl_nats` = (ll_saturated − ll_binned)/N = KL(empirical ‖ model),
//! - `em_objective` = Σ c_i ln g(x_i)/N with g = pdf at bin_lo (first bin F(x_0) − F(0)),
//! - `ks` = max_i |cumsum(c)_i/N − F(b_i − 1)| and where, `tv` = ½(Σ|q_i − p_i| + mass off bins),
//! - k = Σ free parameters (uniform 0, genpareto 1, others 2) + K − 1; AIC = 2k − 2ℓ, BIC = k ln N − 2ℓ.
use crate::binned::{Binned, CHUNK};
use crate::em_binned::{EdgeVals, Edges};
use crate::families::Family;
use crate::mixture::Mixture;
use rayon::prelude::*;
use serde::Serialize;

/// The figures of one mixture on one histogram column.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gof {
    /// Number of bins.
    pub bins: usize,
    /// Σ c_i.
    pub n: f64,
    /// Components.
    pub components: usize,
    /// Σ c_i ln p_i.
    pub ll_binned: f64,
    /// ll_binned / N.
    pub ll_per_unit: f64,
    /// Σ c_i ln q_i / N.
    pub ll_saturated_per_unit: f64,
    /// KL(empirical ‖ model) in nats.
    pub kl_nats: f64,
    /// flow-models' EM surrogate per unit.
    pub em_objective_per_unit: f64,
    /// Max |ΔCDF| over bin upper edges.
    pub ks: f64,
    /// Where (the bin's last value, b − 1).
    pub ks_at_x: f64,
    /// Total variation distance.
    pub tv: f64,
    /// Model mass outside the bins.
    pub model_mass_outside_bins: f64,
    /// Free parameters.
    pub k: usize,
    /// AIC.
    pub aic: f64,
    /// BIC.
    pub bic: f64,
    /// Bins with data but model probability 0.
    pub zero_p_bins: usize,
}

impl Gof {
    /// As JSON metrics (non-finite values kept explicit).
    pub fn to_metrics(&self) -> serde_json::Map<String, serde_json::Value> {
        use flowlab_abi::json::num;
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("ll_binned", self.ll_binned),
            ("ll_per_unit", self.ll_per_unit),
            ("ll_saturated_per_unit", self.ll_saturated_per_unit),
            ("kl_nats", self.kl_nats),
            ("em_objective_per_unit", self.em_objective_per_unit),
            ("ks", self.ks),
            ("ks_at_x", self.ks_at_x),
            ("tv", self.tv),
            ("model_mass_outside_bins", self.model_mass_outside_bins),
            ("aic", self.aic),
            ("bic", self.bic),
            ("n", self.n),
        ] {
            m.insert(k.into(), num(v));
        }
        m.insert("bins".into(), self.bins.into());
        m.insert("components".into(), self.components.into());
        m.insert("k".into(), self.k.into());
        m.insert("zero_p_bins".into(), self.zero_p_bins.into());
        m
    }
}

/// Free parameters as flow-models fits them.
pub fn free_params(f: Family) -> usize {
    match f {
        Family::Uniform => 0,
        Family::Genpareto => 1,
        _ => 2,
    }
}

/// `g += w · pdf(x)` over a run of rows: [`crate::families::Dist::pdf`], with a uniform's
/// written out so the loop vectorises (the same operations, so the same bits).
fn density_into(d: &crate::families::Dist, w: f64, xs: &[f64], g: &mut [f64]) {
    if d.family == Family::Uniform {
        let (loc, scale) = (d.loc, d.scale);
        for (g, &x) in g.iter_mut().zip(xs) {
            let z = (x - loc) / scale;
            let f = if (0.0..=1.0).contains(&z) { 1.0 } else { 0.0 };
            *g += w * (f / scale);
        }
    } else {
        for (g, &x) in g.iter_mut().zip(xs) {
            *g += w * d.pdf(x);
        }
    }
}

/// Scores `mix` on `data` (weights renormalised).
pub fn gof(data: &Binned, mix: &Mixture) -> Gof {
    let w = mix.norm_weights();
    let n = data.total;
    let nb = data.len();
    // F and S of every component once per distinct bin edge (a bin's upper edge is mostly the
    // next bin's lower edge), each on its accurate side; P(a−1 < X ≤ b−1) from the upper tail
    // when the lower edge is past the component's median (flowmodels_gof's `comp_prob`)
    let edges = Edges::new(data);
    // per bin: p, cdf_hi, g, summed over the components in order, one component at a time
    // (one edge buffer, refilled per component)
    let (mut p, mut cdf_hi, mut g) = (vec![0.0; nb], vec![0.0; nb], vec![0.0; nb]);
    let mut vals = EdgeVals::default();
    for (j, c) in mix.comps.iter().enumerate() {
        let d = &c.dist;
        vals.fill(d, &edges, false);
        let (v, wj) = (vals.values(), w[j]);
        // the first row: its probability is the mass up to its upper edge (its lower edge is
        // −∞), and g the mass below its upper end
        let f0 = wj * v[edges.idx[0].1][0];
        p[0] += f0;
        cdf_hi[0] += f0;
        g[0] += wj * (d.cdf(data.x[0]) - d.cdf(0.0));
        let rows = p[1..].par_chunks_mut(CHUNK).zip(cdf_hi[1..].par_chunks_mut(CHUNK)).zip(g[1..].par_chunks_mut(CHUNK));
        rows.enumerate().for_each(|(k, ((p, ch), g))| {
            let (a, n) = (1 + k * CHUNK, p.len());
            for ((p, ch), &(lo, hi)) in p.iter_mut().zip(ch.iter_mut()).zip(&edges.idx[a..a + n]) {
                let (l, h) = (v[lo.unwrap_or(0)], v[hi]);
                // from the upper tail when the lower edge is past the component's median
                let b = if l[1] < 0.5 { (l[1] - h[1]).max(0.0) } else { (h[0] - l[0]).max(0.0) };
                *p += wj * b;
                *ch += wj * h[0];
            }
            density_into(d, wj, &data.x[a..a + n], g);
        });
    }
    let (mut ll, mut em, mut sat, mut psum, mut tvs) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut cum, mut ks, mut ks_i, mut zero) = (0.0, -1.0, 0, 0);
    for (i, ((&p, &ch), &g)) in p.iter().zip(&cdf_hi).zip(&g).enumerate() {
        let c = data.c[i];
        let q = c / n;
        if c > 0.0 {
            if p <= 0.0 {
                zero += 1;
            }
            ll += c * p.ln();
            em += c * g.ln();
            sat += c * q.ln();
        }
        psum += p;
        tvs += (q - p).abs();
        cum += c;
        let d = (cum / n - ch).abs();
        if d > ks {
            ks = d;
            ks_i = i;
        }
    }
    let outside = (1.0 - psum).max(0.0);
    let k = mix.comps.iter().map(|c| free_params(c.dist.family)).sum::<usize>() + mix.comps.len() - 1;
    Gof {
        bins: nb,
        n,
        components: mix.comps.len(),
        ll_binned: ll,
        ll_per_unit: ll / n,
        ll_saturated_per_unit: sat / n,
        kl_nats: (sat - ll) / n,
        em_objective_per_unit: em / n,
        ks,
        ks_at_x: data.hi[ks_i] - 1.0,
        tv: 0.5 * (tvs + outside),
        model_mass_outside_bins: outside,
        k,
        aic: 2.0 * k as f64 - 2.0 * ll,
        bic: k as f64 * n.ln() - 2.0 * ll,
        zero_p_bins: zero,
    }
}
