//! Drawing flows from a mixture model (docs/histfit.md, "generate and csv_flow", flow-models' `generate` semantics with
//! independent random streams).
//!
//! A model is three mixtures over the same x (length or size): `flows`, `packets`, `octets`,
//! each with its `sum`. For each flow:
//! 1. the component k is drawn from the normalised flows weights (stream `generate/choice`);
//! 2. X is drawn from component k on its own stream (`generate/component`, index k) — so,
//!    unlike flow-models, components never share a stream;
//! 3. the value is floor(X) + 1 (at least 1; for size at least 64);
//! 4. the average packet size at that value is
//!    `ps(v) = pdf_oct(v)/pdf_pkt(v) · Σoctets/Σpackets` with `pdf` = [`Mixture::pdf_discrete`];
//!    for length it is clipped to [64, 1522];
//! 5. length: packets = v, octets = packets·ps rounded down, plus one with probability equal to
//!    the fractional part (stream `generate/round`); size: octets = v,
//!    packets = octets/ps (truncated when octets/⌈packets⌉ < 64, at least 1), rounded the same way.
use crate::hist::XKind;
use crate::mixture::Mixture;
use flowlab_abi::seed::{SeedRng, stream_rng};
use rand::Rng;
use std::collections::HashMap;

/// flow-models' tutorial flows mixture (`fit -i 400 -U 6 -L 4 -y flows` on agh_2015
/// all/length.csv, as printed in its docs/tutorial.rst).
pub const TUTORIAL_FLOWS: &str = r#"{"sum": 4032376751, "mix": [
 [0.3050265769901237, "uniform", [0, 1]], [0.24841988004416196, "uniform", [0, 2]],
 [0.06366063664158104, "uniform", [0, 3]], [0.04921649965932878, "uniform", [0, 4]],
 [0.00931559166293734, "uniform", [0, 5]], [0.08217474157187263, "uniform", [0, 6]],
 [0.1312637498251484, "lognorm", [0.5207023493412831, 0, 7.805599279070412]],
 [0.07328615421743442, "lognorm", [0.7701056575379248, 0, 22.10972501544735]],
 [0.029289126487159662, "lognorm", [1.1252645297342552, 0, 128.6451515069823]],
 [0.008347042900250784, "lognorm", [1.9838369452408506, 0, 1084.4707584768773]]]}"#;

/// The tutorial's one-lognormal packets mixture (`fit -i 100 -L 1 -y packets`).
pub const TUTORIAL_PACKETS: &str = r#"{"sum": 316857594090, "mix": [[1.0, "lognorm", [3.0360034360884725, 0, 23212.537398000204]]]}"#;

/// The tutorial's octets mixture (`fit -i 400 -U 6 -L 4 -y octets`).
pub const TUTORIAL_OCTETS: &str = r#"{"sum": 275858498994998, "mix": [
 [0.0005522188937705091, "uniform", [0, 1]], [0.0006733419371011695, "uniform", [0, 2]],
 [8.71245062931499e-08, "uniform", [0, 3]], [1.7242898989450512e-07, "uniform", [0, 4]],
 [1.4615786843822244e-08, "uniform", [0, 5]], [0.0004861299541601525, "uniform", [0, 6]],
 [0.025410773535068345, "lognorm", [1.473422030663434, 0, 60.4690999927677]],
 [0.4788838926136253, "lognorm", [2.3777777137900604, 0, 17998.56065028383]],
 [0.3478874901495339, "lognorm", [0.9182616898670918, 0, 97153.89719008346]],
 [0.14610587874745912, "lognorm", [2.3961482058920276, 0, 458689.5696009713]]]}"#;

/// A flow model: the three mixtures over one x kind.
#[derive(Debug, Clone)]
pub struct Model {
    /// Length or size.
    pub x: XKind,
    /// Flows mixture (what the values are drawn from).
    pub flows: Mixture,
    /// Packets mixture (with `sum`).
    pub packets: Mixture,
    /// Octets mixture (with `sum`).
    pub octets: Mixture,
}

impl Model {
    /// The tutorial's model (x = length).
    pub fn tutorial() -> Model {
        let p = |t: &str| Mixture::from_json_str(t).expect("built-in tutorial mixture");
        Model { x: XKind::Length, flows: p(TUTORIAL_FLOWS), packets: p(TUTORIAL_PACKETS), octets: p(TUTORIAL_OCTETS) }
    }

    /// Average packet size at value `v` (step 4 above), before clipping; falls back to
    /// Σoctets/Σpackets where both densities vanish.
    pub fn packet_size(&self, v: u64) -> f64 {
        let (so, sp) = (self.octets.sum.unwrap_or(1) as f64, self.packets.sum.unwrap_or(1) as f64);
        let xmin = self.x.min_value();
        let r = self.octets.pdf_discrete(v, xmin) / self.packets.pdf_discrete(v, xmin) * (so / sp);
        if r.is_finite() && r > 0.0 { r } else { so / sp }
    }
}

/// Seeded flow generator (see the module docs for the streams).
pub struct FlowGen<'a> {
    model: &'a Model,
    cum: Vec<f64>,
    choice: SeedRng,
    comps: Vec<SeedRng>,
    round: SeedRng,
    ps_cache: HashMap<u64, f64>,
}

impl<'a> FlowGen<'a> {
    /// A generator on the cell's seed.
    pub fn new(model: &'a Model, seed_hex: &str) -> Self {
        let mut acc = 0.0;
        let cum = model
            .flows
            .norm_weights()
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        FlowGen {
            model,
            cum,
            choice: stream_rng(seed_hex, "generate/choice", 0),
            comps: (0..model.flows.comps.len() as u64).map(|k| stream_rng(seed_hex, "generate/component", k)).collect(),
            round: stream_rng(seed_hex, "generate/round", 0),
            ps_cache: HashMap::new(),
        }
    }

    /// Draws the next x value (floor(X) + 1, clipped below at the x kind's minimum).
    pub fn next_value(&mut self) -> u64 {
        let u: f64 = self.choice.random();
        let k = self.cum.partition_point(|&c| c <= u).min(self.cum.len() - 1);
        let x = self.model.flows.comps[k].dist.sample(&mut self.comps[k]);
        let v = if x.is_nan() || x < 0.0 { 1 } else { (x.floor() as u64).saturating_add(1).min(i64::MAX as u64) };
        v.max(self.model.x.min_value())
    }

    /// Draws the next flow as (packets, octets).
    pub fn next_flow(&mut self) -> (u64, u64) {
        let v = self.next_value();
        let model = self.model;
        let ps = *self.ps_cache.entry(v).or_insert_with(|| model.packet_size(v));
        let u: f64 = self.round.random();
        let round = |x: f64| {
            let i = x.floor();
            (if u + i >= x { i } else { i + 1.0 }) as u64
        };
        match model.x {
            XKind::Size => {
                let octets = v;
                let mut p = octets as f64 / ps;
                if (octets as f64) / p.ceil() < 64.0 {
                    p = p.trunc();
                }
                (round(p.max(1.0)), octets)
            }
            _ => {
                let packets = v;
                (packets, round(packets as f64 * ps.clamp(64.0, 1522.0)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// flow-models' tutorial `generate -x length -s 20 --seed 0/1 my_mixture/` lines: each
    /// (packets, octets) pair must be floor(packets·ps) or one more, which checks the
    /// discrete pdf of all three mixtures and the clipping.
    #[test]
    fn packet_size_matches_tutorial_generate_lines() {
        let m = Model::tutorial();
        let pairs = [(2u64, 1969u64), (4, 2596), (3, 1728), (87, 41460), (937, 425460), (1, 1522), (20, 12939), (3, 1729), (31, 18743), (10, 6561), (13, 8619), (26, 16223), (5, 3489), (19, 12359)];
        for (p, o) in pairs {
            let f = (p as f64 * m.packet_size(p).clamp(64.0, 1522.0)).floor() as u64;
            assert!(o == f || o == f + 1, "{p} packets: flow-models wrote {o} octets, floor(p·ps) = {f}");
        }
    }

    #[test]
    fn generator_is_seeded_and_follows_the_flows_mixture() {
        let m = Model::tutorial();
        let draw = |seed: &str| {
            let mut g = FlowGen::new(&m, seed);
            (0..20_000).map(|_| g.next_flow()).collect::<Vec<_>>()
        };
        let a = draw("00aa");
        assert_eq!(a, draw("00aa"));
        assert_ne!(a, draw("00ab"));
        // P(length = 1) = Σ_k w_k F_k(1) (uniform U(0,n) gives 1/n; lognorm F(1))
        let p1 = m.flows.pdf_discrete(1, 1);
        let f1 = a.iter().filter(|f| f.0 == 1).count() as f64 / a.len() as f64;
        let se = (p1 * (1.0 - p1) / a.len() as f64).sqrt();
        assert!((f1 - p1).abs() < 4.0 * se, "share of 1-packet flows {f1} vs model {p1}");
        assert!(a.iter().all(|&(p, o)| p >= 1 && o >= 64 * p && o <= 1522 * p));
    }
}
