//! The fast path of a flow-record row (`docs/endhost.md`, "Flow records"): the common ASCII
//! form `user,seconds,proto,port,bytes` parsed straight from the bytes, with no UTF-8 pass, no
//! Unicode trimming and no general float parser.
//!
//! Why: at the paper's scale (1.4·10⁸ rows) the general row parser was most of the study's CPU
//! time (`docs/endhost-benchmarks.md`). Anything outside the fast path's form (non-ASCII bytes,
//! blank around a field, ISO 8601 times, exponents or signs, more than 15 significant digits,
//! a protocol other than lower-case `tcp` / `udp` / `icmp` or a number, a wrong field count)
//! returns `None` and the row goes to the general parser, which also writes every error
//! message; so the fast path changes no result and no message.
//!
//! Seconds `d…d[.d…d]` with at most 15 significant digits are `m / 10^k` (m the digits as an
//! integer, k the fraction digits ≤ 22): m < 2^53 and 10^k are exact doubles and IEEE division
//! rounds their exact quotient correctly, so the value equals `str::parse::<f64>`'s.
use crate::records::{PortKey, port_key};

/// Column positions of `user`, `start_time`, `proto`, `dst_port`, `bytes` (None when absent).
pub type Cols = [Option<usize>; 5];

/// Fields per row the fast path splits (rows with more take the general path).
const MAX_FIELDS: usize = 16;

const POW10: [f64; 23] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// `(user, seconds, port key, bytes)` of a row in the fast path's form, else `None`.
pub fn parse<'a>(raw: &'a [u8], cols: &Cols, ncols: usize, has_ports: bool) -> Option<(&'a [u8], f64, PortKey, u64)> {
    if !raw.is_ascii() {
        return None;
    }
    let mut bounds = [(0usize, 0usize); MAX_FIELDS];
    let mut n = 0;
    let mut s = 0;
    for (i, &c) in raw.iter().enumerate() {
        if c == b',' {
            if n + 1 >= MAX_FIELDS {
                return None;
            }
            bounds[n] = (s, i);
            n += 1;
            s = i + 1;
        }
    }
    bounds[n] = (s, raw.len());
    n += 1;
    if n != ncols {
        return None;
    }
    let field = |c: Option<usize>| c.map(|i| &raw[bounds[i].0..bounds[i].1]);
    let user = field(cols[0])?;
    let ws = |c: u8| (c as char).is_whitespace();
    if user.is_empty() || ws(user[0]) || ws(user[user.len() - 1]) || user[0] == b'#' {
        return None;
    }
    let t = seconds(field(cols[1])?)?;
    let key = if has_ports { port_key(proto(field(cols[2])?)?, port(field(cols[3])?)?) } else { 0 };
    let bytes = match field(cols[4]) {
        Some(b) if !b.is_empty() => digits_u64(b)?,
        _ => 0,
    };
    Some((user, t, key, bytes))
}

/// `d…d[.d…d]`, at most 15 significant digits and 22 fraction digits.
fn seconds(b: &[u8]) -> Option<f64> {
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(p) => (&b[..p], &b[p + 1..]),
        None => (b, &b[..0]),
    };
    if int.is_empty() || frac.len() > 22 || (frac.is_empty() && b.len() != int.len()) {
        return None;
    }
    let mut m: u64 = 0;
    let mut sig = 0;
    for &c in int.iter().chain(frac) {
        if !c.is_ascii_digit() {
            return None;
        }
        m = m * 10 + (c - b'0') as u64;
        if m > 0 {
            sig += 1;
        }
        if sig > 15 {
            return None;
        }
    }
    Some(m as f64 / POW10[frac.len()])
}

/// Lower-case `tcp`, `udp`, `icmp` or a number 0–255.
fn proto(b: &[u8]) -> Option<u8> {
    match b {
        b"tcp" => Some(6),
        b"udp" => Some(17),
        b"icmp" => Some(1),
        _ if !b.is_empty() && b.len() <= 3 => u8::try_from(digits_u64(b)?).ok(),
        _ => None,
    }
}

fn port(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    u16::try_from(digits_u64(b)?).ok()
}

/// 1 to 19 ASCII digits (no overflow possible).
fn digits_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{parse_proto, parse_time};
    use flowlab_abi::seed::rng_from_u64;
    use rand::Rng;

    /// The general path's reading of a row: (user, seconds, key, bytes) or None on any error.
    fn general(l: &str, cols: &Cols, ncols: usize, has_ports: bool) -> Option<(String, f64, PortKey, u64)> {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != ncols {
            return None;
        }
        let g = |i: Option<usize>| i.map(|i| f[i]).unwrap_or("");
        let user = g(cols[0]);
        if user.is_empty() {
            return None;
        }
        let t = parse_time(g(cols[1]))?;
        let key = if has_ports { port_key(parse_proto(g(cols[2]))?, g(cols[3]).parse().ok()?) } else { 0 };
        let bytes = match cols[4] {
            Some(i) if !f[i].is_empty() => f[i].parse().ok()?,
            _ => 0,
        };
        Some((user.to_string(), t, key, bytes))
    }

    fn pick<'a, R: Rng>(r: &mut R, v: &[&'a str]) -> &'a str {
        v[r.random_range(0..v.len())]
    }

    #[test]
    fn agrees_with_the_general_parser_bit_for_bit() {
        let mut r = rng_from_u64(7, "fastrow", 0);
        let cols: Cols = [Some(0), Some(1), Some(2), Some(3), Some(4)];
        let mut fast = 0;
        for _ in 0..200_000 {
            let user = pick(&mut r, &["u0001", "host-7", " u1", "u1 ", "", "#c", "ü", "u\t", "u\u{b}", "\u{b}u"]);
            let t = match r.random_range(0..6) {
                0 => format!("{}", r.random_range(0..2_000_000_000u64)),
                1 => format!("{}.{:0w$}", r.random_range(0..2_000_000_000u64), r.random_range(0..1000u64), w = 3),
                2 => {
                    let d = r.random_range(0..23);
                    let frac: String = (0..d).map(|_| char::from(b'0' + r.random_range(0..10u8))).collect();
                    format!("{}.{frac}", r.random_range(0..100_000u64))
                }
                3 => format!("{}", r.random::<f64>() * 1e9),
                4 => pick(&mut r, &["1e9", "-5", "+3.5", ".5", "5.", "1.2.3", "inf", "NaN", "2013-04-14T08:30:00Z", "0", "000123.4500", "9007199254740993", "123456789012345.6", " 12"]).to_string(),
                _ => format!("{:.6}", r.random::<f64>() * 1e10),
            };
            let proto = pick(&mut r, &["tcp", "udp", "icmp", "TCP", "6", "17", "255", "256", "", "x", " tcp"]);
            let port = pick(&mut r, &["80", "443", "0", "65535", "65536", "", "-1", "8080 ", "00080"]);
            let bytes = pick(&mut r, &["317", "0", "", "18446744073709551615", "18446744073709551616", "-3", "1 ", "99999999999999999999"]);
            let line = format!("{user},{t},{proto},{port},{bytes}");
            let f = parse(line.as_bytes(), &cols, 5, true);
            let g = general(&line, &cols, 5, true);
            if let Some((u, t, k, b)) = f {
                fast += 1;
                let g = g.unwrap_or_else(|| panic!("fast accepted `{line}`, general did not"));
                assert_eq!((std::str::from_utf8(u).unwrap(), t.to_bits(), k, b), (g.0.as_str(), g.1.to_bits(), g.2, g.3), "`{line}`");
            }
        }
        // the common form takes the fast path (≈ 1 % of these rows: not only rejections checked)
        assert!(fast > 1_000, "{fast}");
    }

    #[test]
    fn without_port_columns_and_with_other_orders() {
        let cols: Cols = [Some(1), Some(0), None, None, None];
        let (u, t, k, b) = parse(b"1365903895.582,u9", &cols, 2, false).unwrap();
        assert_eq!((u, t, k, b), (&b"u9"[..], 1365903895.582, 0, 0));
        assert!(parse(b"1365903895.582,u9,extra", &cols, 2, false).is_none());
    }
}
