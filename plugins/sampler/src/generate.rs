//! Synthetic profile generator: a port of `make_profile.py` (the study's profile generator, docs/sampler.md, "Test setup of the original")
//! that writes byte-identical files for the same `--rows/--seed/options` on the same
//! platform. It uses CPython's `random.Random(seed).random()` stream (MT19937 seeded by
//! `init_by_array` of the seed's 32-bit words, 53-bit doubles from two draws) and the same
//! inverse-CDF transforms with the same libm calls (`ln`, `cos`, `exp`, `powf`, `sqrt`) and
//! Python's rounding rules (`int()` truncates, `round()` is half-to-even).
//!
//! Model (see make_profile.py): protocol mix TCP 80 %, UDP 16.5 %, ICMP 2.5 %, GRE 0.6 %, ESP
//! 0.4 %; 15 % IPv6; Zipf-ranked service ports; packets from a tiny / log-normal / Pareto
//! mixture; size classes correlated with packets; uniform starts plus two bursts and 5 % long
//! flows that started before time zero; rows sorted by (END, START); a span that is an exact
//! multiple of 5 s is avoided by moving the earliest start 1 ms earlier.
use crate::profile::HEADER;

/// CPython-compatible Mersenne Twister (`random.Random(int)`).
pub struct PyRandom {
    mt: [u32; 624],
    idx: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative integer seed.
    pub fn new(seed: u64) -> Self {
        let mut key: Vec<u32> = vec![seed as u32, (seed >> 32) as u32];
        while key.len() > 1 && *key.last().unwrap() == 0 {
            key.pop();
        }
        let mut r = PyRandom { mt: [0; 624], idx: 624 };
        r.init_genrand(19650218);
        let n = 624usize;
        let (mut i, mut j) = (1usize, 0usize);
        let mut k = n.max(key.len());
        while k > 0 {
            let prev = r.mt[i - 1];
            r.mt[i] = (r.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1664525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= n {
                r.mt[0] = r.mt[n - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
            k -= 1;
        }
        k = n - 1;
        while k > 0 {
            let prev = r.mt[i - 1];
            r.mt[i] = (r.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1566083941)).wrapping_sub(i as u32);
            i += 1;
            if i >= n {
                r.mt[0] = r.mt[n - 1];
                i = 1;
            }
            k -= 1;
        }
        r.mt[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..624 {
            let p = self.mt[i - 1];
            self.mt[i] = 1812433253u32.wrapping_mul(p ^ (p >> 30)).wrapping_add(i as u32);
        }
        self.idx = 624;
    }

    fn next_u32(&mut self) -> u32 {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        if self.idx >= 624 {
            for kk in 0..624 {
                let y = (self.mt[kk] & UPPER) | (self.mt[(kk + 1) % 624] & LOWER);
                let mut v = self.mt[(kk + 397) % 624] ^ (y >> 1);
                if y & 1 == 1 {
                    v ^= 0x9908_b0df;
                }
                self.mt[kk] = v;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `random.random()`.
    pub fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)
    }
}

const L4_MIX: [(u8, f64); 9] = [(6, 0.800), (17, 0.165), (1, 0.025), (47, 0.006), (50, 0.004), (132, 0.0004), (89, 0.0003), (103, 0.0002), (41, 0.0001)];
const TCP_SERVICES: [u16; 30] = [443, 80, 22, 8080, 993, 25, 3389, 445, 5938, 8443, 3128, 143, 587, 995, 21, 110, 1194, 5222, 9000, 8000, 465, 3306, 5432, 6379, 27017, 1723, 179, 5900, 8888, 2049];
const UDP_SERVICES: [u16; 20] = [53, 443, 123, 5060, 1900, 500, 4500, 3478, 161, 137, 5353, 514, 1194, 67, 69, 19302, 27015, 51820, 3074, 5004];
const ZIPF_S: f64 = 1.8;
const REVERSED_SHARE: f64 = 0.30;
const UNIDIR_SHARE: f64 = 0.35;
const ACTIVE_TIMEOUT_MS: i64 = 300_000;
const INACTIVE_TIMEOUT_MS: f64 = 30_000.0;
const PRE_WINDOW_SHARE: f64 = 0.05;
const BURST_SHARE: f64 = 0.05;
const WINDOW_MS: i64 = 5_000;

/// Generator options (make_profile.py's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// `--rows`.
    pub rows: usize,
    /// `--seed`.
    pub seed: u64,
    /// `--ipv6` (0.15).
    pub ipv6: f64,
    /// `--span-s` (600).
    pub span_s: f64,
    /// `--tail-alpha` (1.3).
    pub tail_alpha: f64,
    /// `--max-packets` (200000).
    pub max_packets: u64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions { rows: 1000, seed: 1, ipv6: 0.15, span_s: 600.0, tail_alpha: 1.3, max_packets: 200_000 }
    }
}

fn cumulative(w: &[f64]) -> Vec<f64> {
    let mut total = 0.0;
    for &x in w {
        total += x;
    }
    let mut acc = 0.0;
    let mut out: Vec<f64> = w
        .iter()
        .map(|&x| {
            acc += x / total;
            acc
        })
        .collect();
    *out.last_mut().unwrap() = 1.0;
    out
}

fn pick(cum: &[f64], u: f64) -> usize {
    cum.iter().position(|&c| u <= c).unwrap_or(cum.len() - 1)
}

/// One generated record.
pub type Rec = (i64, i64, u8, u8, u32, u32, u64, u64, u64, u64);

struct Gen {
    r: PyRandom,
    o: GenOptions,
    span_ms: i64,
    l4_cum: Vec<f64>,
    tcp_cum: Vec<f64>,
    udp_cum: Vec<f64>,
}

impl Gen {
    fn u(&mut self) -> f64 {
        self.r.random()
    }
    fn uniform(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.u()
    }
    fn randint(&mut self, a: i64, b: i64) -> i64 {
        a + ((self.u() * (b - a + 1) as f64) as i64).min(b - a)
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.u().max(1e-300);
        let u2 = self.u();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
    fn pareto(&mut self, xm: f64, alpha: f64) -> f64 {
        xm / (1.0 - self.u()).max(1e-300).powf(1.0 / alpha)
    }
    fn ports(&mut self, l4: u8) -> (u32, u32, Option<u32>) {
        if l4 != 6 && l4 != 17 {
            return (0, 0, None);
        }
        let rs = if l4 == 6 { 0.08 } else { 0.20 };
        let service = if self.u() < rs {
            self.randint(1024, 65535) as u32
        } else if l4 == 6 {
            let u = self.u();
            TCP_SERVICES[pick(&self.tcp_cum, u)] as u32
        } else {
            let u = self.u();
            UDP_SERVICES[pick(&self.udp_cum, u)] as u32
        };
        let client = if self.u() < 0.6 { self.randint(32768, 60999) } else { self.randint(49152, 65535) } as u32;
        if self.u() < REVERSED_SHARE { (service, client, Some(service)) } else { (client, service, Some(service)) }
    }
    fn packets(&mut self, l4: u8, service: Option<u32>) -> i64 {
        let tiny_bias = l4 == 1 || l4 == 58 || matches!(service, Some(53 | 123 | 137 | 161 | 5353 | 1900 | 67 | 69));
        let r = self.u();
        if (tiny_bias && r < 0.85) || (!tiny_bias && r < 0.28) {
            return self.randint(1, 3);
        }
        if r < 0.90 || tiny_bias {
            return 1.max(self.lognormal(10.0, 1.0) as i64);
        }
        let p = self.pareto(40.0, self.o.tail_alpha);
        1.max((self.o.max_packets as f64).min(p) as i64)
    }
    fn avg_size_class(&mut self, pkts: i64) -> f64 {
        let w: [f64; 4] = if pkts >= 1000 {
            [0.15, 0.20, 0.30, 0.35]
        } else if pkts >= 50 {
            [0.20, 0.40, 0.28, 0.12]
        } else {
            [0.33, 0.47, 0.18, 0.02]
        };
        let u = self.u();
        let cls = pick(&cumulative(&w), u);
        let (lo, hi) = [(40.0, 128.0), (129.0, 512.0), (513.0, 1024.0), (1025.0, 1460.0)][cls];
        self.uniform(lo, hi)
    }
    fn flow(&mut self) -> Rec {
        let l3 = if self.u() < self.o.ipv6 { 6u8 } else { 4 };
        let u = self.u();
        let mut l4 = L4_MIX[pick(&self.l4_cum, u)].0;
        if l4 == 1 && l3 == 6 {
            l4 = 58;
        }
        let (sport, dport, service) = self.ports(l4);
        let mut total = self.packets(l4, service);
        let span = self.span_ms;
        let r = self.u();
        let (start, dur);
        if r < PRE_WINDOW_SHARE {
            start = -(self.uniform(1.0, ACTIVE_TIMEOUT_MS as f64) as i64);
            let x = -start as f64 + self.uniform(-INACTIVE_TIMEOUT_MS, 120_000.0);
            dur = (ACTIVE_TIMEOUT_MS as f64).min(0.0f64.max(x)) as i64;
            let ka = self.lognormal(2_000.0, 1.0);
            total = total.max(2 + (dur as f64 / ka) as i64);
        } else {
            let s = if r < PRE_WINDOW_SHARE + BURST_SHARE {
                (0.30 * span as f64 + 10_000.0 * self.normal()) as i64
            } else if r < PRE_WINDOW_SHARE + 2.0 * BURST_SHARE {
                (0.70 * span as f64 + 5_000.0 * self.normal()) as i64
            } else {
                self.uniform(0.0, span as f64) as i64
            };
            start = s.min(span).max(0);
            dur = if total == 1 {
                0
            } else if total <= 3 {
                self.uniform(0.0, 200.0) as i64
            } else {
                let x = total as f64 * self.lognormal(30.0, 1.5);
                (ACTIVE_TIMEOUT_MS as f64).min(x) as i64
            };
        }
        let end = (start + dur).min(span);
        let (pf, pr) = if total == 1 || self.u() < UNIDIR_SHARE {
            (total, 0)
        } else {
            let share = 0.95f64.min(0.05f64.max(self.uniform(0.35, 0.75)));
            let pf = 1.max((total - 1).min((total as f64 * share).round_ties_even() as i64));
            (pf, total - pf)
        };
        let min_size: i64 = (if l4 == 6 { 40 } else { 28 }) + (if l3 == 6 { 20 } else { 0 });
        let avg = (min_size as f64).max(self.avg_size_class(total));
        let (sf, sr) = if pr == 0 {
            (avg, 0.0)
        } else {
            let sf = (min_size as f64).max(avg * self.uniform(0.25, 1.0));
            let sr = (avg * total as f64 - sf * pf as f64) / pr as f64;
            (sf, 1500.0f64.min((min_size as f64).max(sr)))
        };
        let jitter = 1.0 + 0.02 * self.normal();
        let bf = (pf * min_size).max((pf as f64 * sf * jitter) as i64);
        let br = if pr != 0 { (pr * min_size).max((pr as f64 * sr * jitter) as i64) } else { 0 };
        (start, end, l3, l4, sport, dport, pf as u64, bf as u64, pr as u64, br as u64)
    }
}

/// Generates the records of a profile (sorted, span fix applied).
pub fn generate(o: &GenOptions) -> Vec<Rec> {
    let zipf = |k: usize| (0..k).map(|r| 1.0 / ((r + 1) as f64).powf(ZIPF_S)).collect::<Vec<_>>();
    let mut g = Gen {
        r: PyRandom::new(o.seed),
        o: o.clone(),
        span_ms: (o.span_s * 1000.0) as i64,
        l4_cum: cumulative(&L4_MIX.map(|x| x.1)),
        tcp_cum: cumulative(&zipf(TCP_SERVICES.len())),
        udp_cum: cumulative(&zipf(UDP_SERVICES.len())),
    };
    let mut rows: Vec<Rec> = (0..o.rows).map(|_| g.flow()).collect();
    rows.sort_by_key(|x| (x.1, x.0));
    let t0 = rows.iter().map(|x| x.0).min().unwrap_or(0);
    let t1 = rows.iter().map(|x| x.1).max().unwrap_or(0);
    if (t1 - t0).rem_euclid(WINDOW_MS) == 0 {
        for x in rows.iter_mut() {
            if x.0 == t0 {
                x.0 -= 1;
            }
        }
    }
    rows
}

/// Writes a generated profile as CSV.
pub fn write<W: std::io::Write>(rows: &[Rec], w: W) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
    writeln!(w, "{HEADER}")?;
    for r in rows {
        writeln!(w, "{},{},{},{},{},{},{},{},{},{}", r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn python_random_stream() {
        // python3 -c "import random; r=random.Random(1); print([r.random() for _ in range(3)])"
        let mut r = PyRandom::new(1);
        assert_eq!(r.random(), 0.13436424411240122);
        assert_eq!(r.random(), 0.8474337369372327);
        assert_eq!(r.random(), 0.763774618976614);
        let mut r = PyRandom::new(0);
        assert_eq!(r.random(), 0.8444218515250481);
        let mut r = PyRandom::new(1 << 40);
        let _ = r.random();
    }
}
