//! The fast path of the csv_flow reader (docs/histfit.md, "hist: inputs"): one csv_flow line of
//! the common shape parsed straight from the read buffer, its end found on the way (no separate
//! search for the `\n` first: one pass over the bytes instead of two).
//!
//! The common shape is what flow-models writes: 21 fields of 1–19 ASCII digits, each with
//! optional spaces around, `,` between them, `\n` after the last. Anything else (a sign, `_`,
//! a tab, `\r`, no `\n` before the end of the buffer, an error) makes [`scan_line`] give up,
//! and the caller parses the line with Python's full `int()` rules
//! ([`crate::flows::py_int`]), which also word the error. Every line the fast path accepts
//! gets the same values from the full parser (property test below).
//!
//! One state per byte (before the digits, in them, after them). Zero fields, the most common
//! field of csv_flow (the upper words of IPv4 addresses, and all but packets/octets in
//! flow-models' `generate` output), are taken as `0, ` at once, five at once where they run.
//! Other numbers of up to 7 digits are read in one 64-bit word (SWAR, no branch per digit):
//! with `x = w ^ 0x30…30`, a byte is a digit iff `x < 10`, i.e. neither `x` nor
//! `(x & 0x7f) + 0x76` has its top bit set (no carry crosses bytes); the lowest flagged byte
//! ends the run. The `n` digits, shifted to the top of the word so that the low bytes act as
//! leading zeros, are combined pairwise (`10·a + b`, then `100·ab + cd`, then
//! `10⁴·abcd + efgh`); 8–15 digits take two words. Longer numbers take the byte loop. The
//! `, ` flow-models writes after a
//! number is taken in the same step (one loop step per field instead of three: 29 % fewer
//! instructions for a whole `flowlab run` of 10^6 generated lines, callgrind).
use crate::flows::Record;

const ONES: u64 = 0x0101_0101_0101_0101;

/// The value of eight digit bytes (0..=9, the first in the lowest byte = most significant).
#[inline(always)]
fn eight_digits(x: u64) -> u64 {
    // pairs: byte 2i+1 becomes 10·d(2i) + d(2i+1)
    let x = x.wrapping_mul(10).wrapping_add(x >> 8);
    // the four pairs p0..p3 (16-bit lanes) into 10^6·p0 + 10^4·p1 + 100·p2 + p3, in bits 32..
    let m = 0x0000_00FF_0000_00FF;
    let lo = (x & m).wrapping_mul(100 + (1_000_000 << 32));
    let hi = ((x >> 16) & m).wrapping_mul(1 + (10_000 << 32));
    (lo.wrapping_add(hi) >> 32) & 0xFFFF_FFFF
}

/// The leading digits of the eight bytes at `i` of `b`: `(count, value)` when fewer than eight
/// (a number that ends inside the word), else `None` (too close to the end of `b`, or longer).
#[inline(always)]
fn short_number(b: &[u8], i: usize) -> Option<(usize, u64)> {
    let (n, x) = leading_digits(b, i)?;
    // n ≥ 1: the caller saw a digit at i; n = 8: no non-digit in the word
    (n < 8).then(|| (n, eight_digits(x << (8 * (8 - n)))))
}

/// The word at `i` of `b` with `'0'` subtracted from each byte, and how many of its bytes
/// lead as digits (0..=8); `None` within 8 bytes of the end of `b`.
#[inline(always)]
fn leading_digits(b: &[u8], i: usize) -> Option<(usize, u64)> {
    let w: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
    let x = u64::from_le_bytes(w) ^ (0x30 * ONES);
    let flags = (((x & (0x7f * ONES)) + 0x76 * ONES) | x) & (0x80 * ONES);
    Some(((flags.trailing_zeros() / 8) as usize, x))
}

/// The leading digits at `i` of `b` when there are fewer than 16 (a Unix time, an IPv4 address
/// as an integer, a byte count): one word for up to 7, two words for 8–15 (the second's digits
/// appended, `v₁·10^n₂ + v₂`); else `None`.
#[inline(always)]
fn number(b: &[u8], i: usize) -> Option<(usize, u64)> {
    const POW10: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];
    if let Some(r) = short_number(b, i) {
        return Some(r);
    }
    // eight digits at i (or the end of b is near: then the second word is missing too)
    let (_, x1) = leading_digits(b, i)?;
    let high = eight_digits(x1);
    let (n, x) = leading_digits(b, i + 8)?;
    match n {
        0 => Some((8, high)),
        8 => None,
        _ => Some((8 + n, high * POW10[n] + eight_digits(x << (8 * (8 - n))))),
    }
}

/// Five zero fields as flow-models writes them.
const ZEROS5: &[u8] = b"0, 0, 0, 0, 0, ";

/// Parses the csv_flow line at the start of `b` into `rec` and returns the index of its `\n`;
/// `None` when the line is not of the common shape or has no `\n` within `b`: the caller then
/// uses the full parser.
#[inline]
pub fn scan_line(b: &[u8], rec: &mut Record) -> Option<usize> {
    // state: 0 = before the digits, 1 = in them, 2 = after them
    let (mut k, mut v, mut digits, mut state) = (0usize, 0u64, 0u32, 0u8);
    let mut i = 0;
    loop {
        let c = *b.get(i)?;
        if state == 0 && c == b'0' {
            if k < 16 && b.get(i..i + 15) == Some(ZEROS5) {
                rec[k..k + 5].fill(0);
                k += 5;
                i += 15;
                continue;
            }
            if k < 20 && b.get(i + 1..i + 3) == Some(b", ") {
                rec[k] = 0;
                k += 1;
                i += 3;
                continue;
            }
        }
        let d = c.wrapping_sub(b'0');
        if d < 10
            && state == 0
            && let Some((n, value)) = number(b, i)
        {
            i += n;
            // the separator flow-models writes, straight after the number: one step, not three
            if k < 20 && b.get(i..i + 2) == Some(b", ") {
                rec[k] = i128::from(value);
                k += 1;
                i += 2;
                continue;
            }
            (v, digits, state) = (value, n as u32, 2);
            continue;
        }
        if d < 10 {
            if state == 2 {
                return None;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
            digits += 1;
            state = 1;
        } else if c == b',' {
            if state == 0 || digits > 19 || k >= 20 {
                return None;
            }
            rec[k] = i128::from(v);
            k += 1;
            (v, digits, state) = (0, 0, 0);
        } else if c == b' ' {
            if state == 1 {
                state = 2;
            }
        } else if c == b'\n' {
            break;
        } else {
            return None;
        }
        i += 1;
    }
    // 19 digits at most: below 10^19 < 2^64, so the wrapping arithmetic was exact
    if state == 0 || digits > 19 || k != 20 {
        return None;
    }
    rec[20] = i128::from(v);
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::py_int;

    /// xorshift64: a reproducible stream of test cases.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn short_numbers_are_their_decimal_value() {
        let mut r = Rng(99);
        for _ in 0..100_000 {
            let n = 1 + r.below(7) as usize;
            let v = r.below(10u64.pow(n as u32));
            let after = [b',', b' ', b'\n', b'x', b'-', b'/', b':', 0x80 + b'0'][r.below(8) as usize];
            let mut s = format!("{v:0n$}").into_bytes();
            s.push(after);
            s.resize(8 + r.below(3) as usize, b'7');
            assert_eq!(short_number(&s, 0), Some((n, v)), "{s:?}");
        }
        assert_eq!(short_number(b"12345678,", 0), None);
        assert_eq!(short_number(b"1234567", 0), None);
    }

    #[test]
    fn numbers_of_up_to_15_digits_are_their_decimal_value() {
        let mut r = Rng(77);
        for _ in 0..200_000 {
            let n = 1 + r.below(15) as usize;
            let v = r.below(10u64.pow(n as u32));
            let after = [b',', b' ', b'\n', b'x', b'-', b'/', b':', 0x80 + b'0'][r.below(8) as usize];
            let mut s = format!("{v:0n$}").into_bytes();
            s.push(after);
            s.resize(16 + r.below(3) as usize, b'7');
            assert_eq!(number(&s, 0), Some((n, v)), "{s:?}");
        }
        assert_eq!(number(b"1234567890123456,xx", 0), None, "16 digits: the byte loop");
        assert_eq!(number(b"123456789012,", 0), None, "too near the end for the second word");
        assert_eq!(number(b"12345678,1234567", 0), Some((8, 12_345_678)));
    }

    /// The reference: the line split at `,` and every field read by Python's `int()` rules.
    fn full(line: &[u8]) -> Option<Record> {
        let parts: Vec<&[u8]> = line.split(|&c| c == b',').collect();
        if parts.len() != 21 {
            return None;
        }
        let mut r = [0i128; 21];
        for (k, p) in parts.iter().enumerate() {
            r[k] = py_int(p)?;
        }
        Some(r)
    }

    /// A random field: mostly the common shape (digits of every length, spaces around), else an
    /// odd piece Python accepts or rejects (signs, `_`, tabs, `\r`, 20+ digits, letters, empty).
    fn field(r: &mut Rng, odd: bool) -> String {
        let digits = |r: &mut Rng, n: u64| -> String { (0..n).map(|_| char::from(b'0' + r.below(10) as u8)).collect() };
        let core = match if odd { 8 + r.below(4) } else { r.below(8) } {
            0..=3 => "0".to_string(),
            4..=7 => {
                let n = 1 + r.below(19);
                digits(r, n)
            }
            8 => {
                let n = 19 + r.below(3) as usize;
                "9".repeat(n)
            }
            9 => {
                let (pre, n) = (["-", "+", "_", "\t", "\r", "x", " ", ""][r.below(8) as usize], 1 + r.below(5));
                format!("{pre}{}", digits(r, n))
            }
            10 => {
                let (n1, n2) = (1 + r.below(3), r.below(3));
                let (a, b) = (digits(r, n1), digits(r, n2));
                format!("{a}_{b}")
            }
            _ => ["", " ", "18446744073709551616", "18446744073709551617", "00000000000000000000042", "1 2", "0x1", "½"][r.below(8) as usize].to_string(),
        };
        let sp = |r: &mut Rng| " ".repeat([0, 0, 1, 1, 1, 2][r.below(6) as usize]);
        let (before, after) = (sp(r), sp(r));
        format!("{before}{core}{after}")
    }

    /// Random lines (19–23 fields, odd whitespace, signs, large values, bytes after the end):
    /// where the fast path accepts a line, the full parser accepts it with the same values and
    /// the returned end is the line's `\n`; common-shape lines are accepted.
    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        let mut r = Rng(0x5eed);
        let (mut accepted, mut total) = (0, 0);
        for _ in 0..200_000 {
            let nf = [21, 21, 21, 21, 20, 22, 19, 23][r.below(8) as usize];
            // a third of the lines of the common shape, a third with an odd field now and then
            let odd_per_40 = [0, 1, 8][r.below(3) as usize];
            let fields: Vec<String> = (0..nf)
                .map(|_| {
                    let odd = r.below(40) < odd_per_40;
                    field(&mut r, odd)
                })
                .collect();
            let line = fields.join(if r.below(4) == 0 { "," } else { ", " });
            let mut bytes = line.clone().into_bytes();
            let tail: &[u8] = [&b"\n"[..], b"\r\n", b"", b"\n0, 1, 2\n", b"\n12345678901234567890"][r.below(5) as usize];
            bytes.extend_from_slice(tail);
            let mut rec = [7i128; 21];
            total += 1;
            match scan_line(&bytes, &mut rec) {
                Some(end) => {
                    accepted += 1;
                    assert_eq!(end, line.len(), "{bytes:?}");
                    assert_eq!(bytes[end], b'\n');
                    assert_eq!(Some(rec), full(line.as_bytes()), "{line:?}");
                }
                None => {
                    // a common-shape line with its `\n` is never refused
                    let common = fields.iter().all(|f| {
                        let t = f.trim_matches(' ');
                        !t.is_empty() && t.len() <= 19 && t.bytes().all(|c| c.is_ascii_digit())
                    });
                    if common && nf == 21 && bytes.get(line.len()) == Some(&b'\n') {
                        panic!("refused a common-shape line: {bytes:?}");
                    }
                }
            }
        }
        assert!(accepted > total / 10, "the property needs accepted lines: {accepted} of {total}");
    }

    #[test]
    fn flow_models_lines() {
        let mut rec = [0i128; 21];
        let s = b"0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 948, 0\n0, 0, 0, 0";
        assert_eq!(scan_line(s, &mut rec), Some(63));
        assert_eq!((rec[18], rec[19], rec[20]), (5, 948, 0));
        let s = b"0, 1425168000, 2, 3, 4, 5, 6, 167772161, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 1844674407370955161, 9999999999999999999, 1\n        ";
        assert_eq!(scan_line(s, &mut rec), Some(s.len() - 9));
        assert_eq!(rec[1], 1425168000);
        assert_eq!(rec[18], 1844674407370955161);
        assert_eq!(rec[19], 9999999999999999999);
        assert_eq!(scan_line(b"0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 948, 0\n", &mut rec), Some(63));
        // no `\n` (the end of the buffer, or of the file): the caller decides
        assert_eq!(scan_line(b"0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 948, 0", &mut rec), None);
    }
}
