//! `generate` with `rng = "numpy"`: flow-models' `generate --seed N` reproduced draw for draw
//! (its `generate.py` and `lib/mix.py`; derivation in docs/histfit.md, "rng = numpy").
//!
//! From a mixture model, flow-models draws
//! 1. the components of all flows: `RandomState(seed).choice(K, size=n, p=w/Σw)`;
//! 2. for each component k in order, `scipy.stats.<dist>.rvs(size=n_k, random_state=seed)`,
//!    which builds a *fresh* `RandomState(seed)` per component: uniform = u·scale + loc,
//!    lognorm = exp(s·z)·scale + loc with z the legacy polar normal; the j-th flow that chose
//!    k gets the j-th draw of k's stream — so one generator per component, advanced lazily in
//!    flow order, gives the same values without holding the sample;
//! 3. value = ⌊X⌋ + 1 (`astype('u8') + 1`, at least 64 for size);
//! 4. the packet size `avg(…, 'packet_size')` = pdf_octets(v)/pdf_packets(v) · (Σoctets/Σpackets)
//!    with flow-models' discrete pdf (F(v) − F(v−1) below 1024, the density above);
//! 5. rounding with Python's `random.Random(seed)`: n = ⌊y⌋, plus one unless u + n ≥ y.
//!
//! From a csv_hist: pandas' `sample(n, replace=True, weights='flows_sum', random_state=seed)`
//! = `RandomState(seed).choice(rows, p=flows_sum/Σ)`, or every row `flows_sum` times in
//! descending order for n = 0; then steps 4–5 with the row's octets_sum/packets_sum.
use crate::hist::{Hist, XKind, YCol};
use crate::mixture::Mixture;
use crate::mt19937::{PyRandom, RandomState};
use crate::npcompat::{self, Choice, Family};
use crate::sampling::Model;
use flowlab_abi::prelude::*;
use std::collections::HashMap;

/// One mixture component as scipy sees it.
#[derive(Debug, Clone, Copy)]
struct Comp {
    w: f64,
    f: Family,
    loc: f64,
    scale: f64,
}

/// A mixture's components with flow-models' normalised weights; families other than
/// uniform and lognorm are refused (their scipy samplers are not reproduced).
fn comps(m: &Mixture, what: &str) -> Result<Vec<Comp>, PluginError> {
    let w = npcompat::normalise(&m.comps.iter().map(|c| c.weight).collect::<Vec<_>>());
    m.comps
        .iter()
        .zip(w)
        .enumerate()
        .map(|(i, (c, w))| {
            let f = match c.dist.family {
                crate::families::Family::Uniform => Family::Uniform,
                crate::families::Family::Lognorm => Family::Lognorm(c.dist.shape),
                other => return Err(PluginError::config("rng", format!("rng = \"numpy\" reproduces flow-models for uniform and lognorm components; {what} mix[{i}] is {}", other.name()))),
            };
            Ok(Comp { w, f, loc: c.dist.loc, scale: c.dist.scale })
        })
        .collect()
}

/// flow-models' `mix.pdf` at one value: Σ_k w_k (F_k(x) − F_k(x − 1)) for x < 1024 (x − 1
/// replaced by 0 at the smallest value), Σ_k w_k f_k(x) above; accumulated from 0 in
/// component order.
fn mix_pdf(cs: &[Comp], x: u64, x_min: u64) -> f64 {
    let xf = x as f64;
    let mut acc = 0.0;
    if x < 1024 {
        let pu = if x == x_min { 0.0 } else { xf - 1.0 };
        for c in cs {
            acc += c.w * (npcompat::cdf(c.f, c.loc, c.scale, xf) - npcompat::cdf(c.f, c.loc, c.scale, pu));
        }
    } else {
        for c in cs {
            acc += c.w * npcompat::pdf(c.f, c.loc, c.scale, xf);
        }
    }
    acc
}

/// Python's `a / b` of two ints, correctly rounded (exact conversions below 2⁵³, else the
/// quotient of the rounded operands — the sums of real traces are far below 2⁵³).
fn int_div(a: u128, b: u128) -> f64 {
    a as f64 / b as f64
}

/// The rounding of step 5: y → ⌊y⌋ or ⌊y⌋ + 1 (Python's `int(y)`, then `n if u + n >= y`).
fn round(y: f64, u: f64, what: &str, v: u64) -> Result<u64, PluginError> {
    if !y.is_finite() || y < 0.0 {
        return Err(PluginError::data(format!("{what} of the flow at value {v} is {y} (the model's densities vanish there); flow-models fails on it too (int() of a non-finite float)")));
    }
    if y >= 18_446_744_073_709_551_616.0 {
        return Err(PluginError::data(format!("{what} of the flow at value {v} is {y}, beyond the 64-bit counters of csv_flow and binary flows")));
    }
    let n = y.trunc();
    Ok(if u + n >= y { n as u64 } else { n as u64 + 1 })
}

/// Packets and octets of one flow from the value and its packet size (flow-models'
/// `generate_arrays` then `generate_flows`), with one `random()` of `round`.
fn flow(x: XKind, v: u64, ps: f64, rng: &mut PyRandom) -> Result<(u64, u64), PluginError> {
    match x {
        XKind::Size => {
            let octets = v as f64;
            let mut p = octets / ps;
            if octets / p.ceil() < 64.0 {
                p = p.trunc();
            }
            // np.clip(packets, 1, None) keeps NaN
            if p < 1.0 {
                p = 1.0;
            }
            Ok((round(p, rng.random(), "packets", v)?, v))
        }
        _ => {
            let ps = if ps.is_nan() { ps } else { ps.clamp(64.0, 1522.0) };
            Ok((v, round(v as f64 * ps, rng.random(), "octets", v)?))
        }
    }
}

/// The mixture-model generator (steps 1–5 of the module docs).
pub struct ModelGen<'a> {
    model: &'a Model,
    flows: Vec<Comp>,
    packets: Vec<Comp>,
    octets: Vec<Comp>,
    choice: Choice,
    choice_rs: RandomState,
    comp_rs: Vec<RandomState>,
    round: PyRandom,
    sum_ratio: f64,
    ps_cache: HashMap<u64, f64>,
}

impl<'a> ModelGen<'a> {
    /// The generator for `--seed seed`.
    pub fn new(model: &'a Model, seed: u32) -> Result<Self, PluginError> {
        let flows = comps(&model.flows, "flows")?;
        let packets = comps(&model.packets, "packets")?;
        let octets = comps(&model.octets, "octets")?;
        let w: Vec<f64> = flows.iter().map(|c| c.w).collect();
        let (so, sp) = (model.octets.sum.unwrap_or(0), model.packets.sum.unwrap_or(0));
        Ok(ModelGen {
            model,
            choice: Choice::new(&w),
            choice_rs: RandomState::new(seed),
            comp_rs: flows.iter().map(|_| RandomState::new(seed)).collect(),
            flows,
            packets,
            octets,
            round: PyRandom::new(i64::from(seed)),
            sum_ratio: int_div(so, sp),
            ps_cache: HashMap::new(),
        })
    }

    /// The next value (steps 1–3).
    pub fn next_value(&mut self) -> u64 {
        let k = self.choice.draw(&mut self.choice_rs);
        let c = self.flows[k];
        let rs = &mut self.comp_rs[k];
        let x = if c.scale == 0.0 {
            // scipy's rvs returns loc without drawing when scale == 0
            c.loc
        } else {
            let std = match c.f {
                Family::Uniform => rs.uniform(0.0, 1.0),
                Family::Lognorm(s) => (s * rs.standard_normal()).exp(),
            };
            std * c.scale + c.loc
        };
        // astype('u8') truncates; + 1 (numpy's u8 arithmetic wraps)
        let v = (x as u64).wrapping_add(1);
        if self.model.x == XKind::Size { v.max(64) } else { v }
    }

    /// flow-models' `avg(data, v, x, 'packet_size')`.
    pub fn packet_size(&mut self, v: u64) -> f64 {
        let (x_min, octets, packets, r) = (self.model.x.min_value(), &self.octets, &self.packets, self.sum_ratio);
        *self.ps_cache.entry(v).or_insert_with(|| mix_pdf(octets, v, x_min) / mix_pdf(packets, v, x_min) * r)
    }

    /// The next flow as (packets, octets).
    pub fn next_flow(&mut self) -> Result<(u64, u64), PluginError> {
        let v = self.next_value();
        let ps = self.packet_size(v);
        flow(self.model.x, v, ps, &mut self.round)
    }
}

/// Flows from a csv_hist (flow-models' DataFrame branch): `n` rows drawn by pandas'
/// weighted `sample`, or (n = 0) every row `flows_sum` times from the last row up.
pub fn from_hist(h: &Hist, x: XKind, n: u64, seed: u32, mut emit: impl FnMut(u64, u64) -> Result<(), PluginError>) -> Result<(), PluginError> {
    let f = h.y(YCol::Flows)?;
    let p = h.y(YCol::Packets)?;
    let o = h.y(YCol::Octets)?;
    let mut round = PyRandom::new(i64::from(seed));
    // pandas divides the int64 columns as float64
    let ps: Vec<f64> = o.iter().zip(p).map(|(&o, &p)| o as f64 / p as f64).collect();
    if n == 0 {
        for i in (0..h.len()).rev() {
            for _ in 0..f[i] {
                let (a, b) = flow(x, h.bin_lo[i], ps[i], &mut round)?;
                emit(a, b)?;
            }
        }
        return Ok(());
    }
    let w: Vec<f64> = f.iter().map(|&v| v as f64).collect();
    if npcompat::pairwise_sum(&w) == 0.0 {
        return Err(PluginError::data(format!("{}: flows_sum is 0 in every bin; pandas refuses to sample (\"weights sum to zero\")", h.source)));
    }
    let choice = Choice::new(&npcompat::normalise(&w));
    let mut rs = RandomState::new(seed);
    for _ in 0..n {
        let i = choice.draw(&mut rs);
        let (a, b) = flow(x, h.bin_lo[i], ps[i], &mut round)?;
        emit(a, b)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// flow-models' edge cases: a vanishing packets density gives ps = ∞ (clipped to 1522 for
    /// length; 1 packet for size), 0/0 gives NaN, on which flow-models' `int()` fails — here a
    /// data error naming the value.
    #[test]
    fn infinite_and_nan_packet_sizes() {
        let mut r = PyRandom::new(0);
        assert_eq!(flow(XKind::Length, 3, f64::INFINITY, &mut r).unwrap(), (3, 3 * 1522));
        assert_eq!(flow(XKind::Length, 3, 10.0, &mut r).unwrap(), (3, 192));
        assert_eq!(flow(XKind::Size, 700, f64::INFINITY, &mut r).unwrap(), (1, 700));
        let e = flow(XKind::Length, 7, f64::NAN, &mut r).unwrap_err();
        assert!(e.message.contains("value 7") && e.message.contains("flow-models fails"), "{}", e.message);
        assert!(flow(XKind::Size, 700, f64::NAN, &mut r).is_err());
    }

    /// The rounding is unbiased: over many flows the mean of round(y) is y.
    #[test]
    fn rounding_keeps_the_mean() {
        let mut r = PyRandom::new(7);
        let n = 200_000;
        let y = 12.3;
        let s: u64 = (0..n).map(|_| round(y, r.random(), "octets", 1).unwrap()).sum();
        let mean = s as f64 / n as f64;
        assert!((mean - y).abs() < 4.0 * (0.3f64 * 0.7 / n as f64).sqrt(), "{mean}");
    }
}
