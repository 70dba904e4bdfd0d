//! Synthetic feature files in the original line format (docs/lstm.md, "Feature file format"), for what the repository
//! ships and for CI (the real samples carry no license). Deterministic from the seed stream.
//!
//! Each traffic imitates a TLS connection with the original's first features:
//! - 0: direction (1 = towards the client), following a per-class handshake pattern;
//! - 1..=6 (when `dim ≥ 9`): record-protocol one-hot (TCP for handshake-free packets, TLS1.2
//!   for records);
//! - 7: frame length, a deterministic function of the packet's role plus small noise;
//! - 8: inter-frame interval in ms (exponential, rounded to 0.1 ms);
//! - 9..: per-traffic "handshake" multi-hot features, non-zero only on the ClientHello and
//!   ServerHello packets (like cipher suites and extensions), chosen per class.
//!
//! Three traffic classes differ in their handshake pattern, so the next packet is predictable
//! from the past: a model that learns the pattern beats the persistence baseline.
use rand::Rng;
use rand::seq::SliceRandom;

/// Settings of the generator.
#[derive(Debug, Clone)]
pub struct SynthSpec {
    /// Number of traffics (lines).
    pub traffics: usize,
    /// Features per packet (≥ 9).
    pub dim: usize,
    /// Minimum packets per traffic.
    pub min_packets: usize,
    /// Maximum packets per traffic (the original extractor stops at 200).
    pub max_packets: usize,
}

/// Role of a packet in the synthetic connection.
#[derive(Clone, Copy)]
enum Role {
    Syn,
    SynAck,
    Ack,
    ClientHello,
    ServerHello,
    Certificate,
    KeyExchange,
    Data(bool),
}

fn roles(class: usize, n: usize, rng: &mut impl Rng) -> Vec<Role> {
    let mut r = vec![Role::Syn, Role::SynAck, Role::Ack, Role::ClientHello, Role::ServerHello];
    if class != 2 {
        r.push(Role::Certificate);
    }
    r.push(Role::KeyExchange);
    // data phase: class 0 request/response pairs, class 1 bursts of 3 server packets, class 2
    // alternating with occasional client bursts
    let mut k = 0usize;
    while r.len() < n {
        let to_client = match class {
            0 => k % 2 == 1,
            1 => !k.is_multiple_of(4),
            _ => !(k.is_multiple_of(5) || (k % 5 == 1 && rng.random::<f64>() < 0.5)),
        };
        r.push(Role::Data(to_client));
        k += 1;
    }
    r.truncate(n);
    r
}

/// Generates the file content (one traffic per line) from `rng`.
pub fn generate(spec: &SynthSpec, rng: &mut impl Rng) -> String {
    let dim = spec.dim;
    let mut out = String::new();
    // per-class multi-hot handshake features (indices ≥ 9)
    let extra: Vec<usize> = (9..dim).collect();
    let class_sets: Vec<Vec<usize>> = (0..3)
        .map(|_| {
            let mut e = extra.clone();
            e.shuffle(rng);
            e.truncate((extra.len() / 4).max(usize::from(!extra.is_empty())));
            e
        })
        .collect();
    for _ in 0..spec.traffics {
        let class = rng.random_range(0..3usize);
        let n = rng.random_range(spec.min_packets..=spec.max_packets.max(spec.min_packets));
        let mut v = vec![0f32; n * dim];
        for (t, role) in roles(class, n, rng).into_iter().enumerate() {
            let p = &mut v[t * dim..(t + 1) * dim];
            let (to_client, len, tls) = match role {
                Role::Syn => (false, 74.0, false),
                Role::SynAck => (true, 74.0, false),
                Role::Ack => (false, 66.0, false),
                Role::ClientHello => (false, 250.0 + 40.0 * class as f32, true),
                Role::ServerHello => (true, 1400.0 - 300.0 * class as f32, true),
                Role::Certificate => (true, 1200.0, true),
                Role::KeyExchange => (false, 190.0, true),
                Role::Data(c) => (c, if c { 900.0 + 250.0 * class as f32 } else { 120.0 + 30.0 * class as f32 }, true),
            };
            p[0] = if to_client { 1.0 } else { 0.0 };
            if dim >= 9 {
                p[if tls { 6 } else { 1 }] = 1.0;
                p[7] = (len + rng.random_range(0..8u32) as f32).round();
                let interval: f64 = -rng.random::<f64>().max(1e-12).ln() * if to_client { 2.0 } else { 15.0 };
                p[8] = ((interval * 10.0).round() / 10.0) as f32;
            } else {
                p[1.min(dim - 1)] = (len / 100.0).round();
            }
            if matches!(role, Role::ClientHello | Role::ServerHello) {
                for &j in &class_sets[class] {
                    p[j] = if matches!(role, Role::ClientHello) { 1.0 } else { 2.0 };
                }
            }
        }
        crate::reader::write_traffic_line(&mut out, &v, dim);
    }
    out
}

/// A feature-info file for a synthetic file of `dim` features (same header as the original).
pub fn feature_info(dim: usize) -> String {
    let mut s = String::from("Network Layer,TLS Protocol Name,Feature Name,Type,Enum Value\n");
    let fixed = [
        "TCP,-,Come/Leave,Boolean,-",
        "TCP,-,Protocol,Enum,TCP",
        "TCP,-,Protocol,Enum,SSL2.0",
        "TCP,-,Protocol,Enum,SSL3.0",
        "TCP,-,Protocol,Enum,TLS1.0",
        "TCP,-,Protocol,Enum,TLS1.1",
        "TCP,-,Protocol,Enum,TLS1.2",
        "TCP,-,Length,Int,-",
        "TCP,-,Interval,Float,-",
    ];
    for k in 0..dim {
        if dim >= 9 && k < fixed.len() {
            s.push_str(fixed[k]);
        } else {
            s.push_str(&format!("TLS,synthetic,Handshake feature {k},Int,-"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowlab_abi::seed::stream_rng;

    #[test]
    fn deterministic_and_readable() {
        let spec = SynthSpec { traffics: 20, dim: 16, min_packets: 5, max_packets: 40 };
        let a = generate(&spec, &mut stream_rng("01", "synth", 0));
        let b = generate(&spec, &mut stream_rng("01", "synth", 0));
        let c = generate(&spec, &mut stream_rng("02", "synth", 0));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, &a).unwrap();
        let ff = crate::reader::FeatureFile::open(&p).unwrap();
        assert_eq!((ff.len(), ff.dim()), (20, 16));
        for i in 0..20 {
            let t = ff.traffic(i).unwrap();
            assert!((5..=40).contains(&t.packets));
            // record one-hot: exactly one of 1..=6 set
            for p in t.values.chunks(16) {
                assert_eq!(p[1..7].iter().sum::<f32>(), 1.0);
            }
        }
        let fi = dir.path().join("fi.csv");
        std::fs::write(&fi, feature_info(16)).unwrap();
        let labels = crate::reader::read_feature_info(&fi, 16).unwrap();
        assert_eq!(labels[7], "Length");
    }
}
