//! Python's number semantics where flow-models' `hist` depends on them bit for bit
//! (docs/histfit.md, "hist"): `int / int` (correctly rounded true division), `float // int`
//! (CPython's `float_floor_div`), `int.bit_length()` and `str(int(x))` of a float.
//!
//! flow-models computes `rate = (8000 * octets) / duration` on Python integers and bins the
//! rate with `bin_calc_log`'s float floor division, so the same operations are needed here to
//! give the same histogram bytes.

/// `a / b` on Python integers: the exact quotient rounded once to the nearest double, ties to
/// even (CPython `long_true_divide`). `b != 0`; |a|, |b| < 2^126.
///
/// When both operands are at most 2^53 they convert to doubles exactly and one IEEE division
/// is the correctly rounded quotient (CPython's own fast path); otherwise the quotient is
/// produced bit by bit by long division to 55 significant bits plus a sticky bit and rounded.
pub fn int_true_div(a: i128, b: i128) -> f64 {
    debug_assert!(b != 0);
    const EXACT: u128 = 1 << 53;
    let (ua, ub) = (a.unsigned_abs(), b.unsigned_abs());
    if ua <= EXACT && ub <= EXACT {
        return a as f64 / b as f64;
    }
    let neg = (a < 0) != (b < 0);
    if ua == 0 {
        return if neg { -0.0 } else { 0.0 };
    }
    let mut mant = ua / ub;
    let mut rem = ua % ub;
    let mut exp: i32 = 0;
    while bit_len(mant) < 55 {
        rem <<= 1;
        mant <<= 1;
        if rem >= ub {
            rem -= ub;
            mant |= 1;
        }
        exp -= 1;
    }
    let sticky = rem != 0;
    let shift = bit_len(mant) - 53;
    let low = mant & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    mant >>= shift;
    exp += shift as i32;
    if low > half || (low == half && (sticky || mant & 1 == 1)) {
        mant += 1;
    }
    // mant ≤ 2^53 is exact in a double and scaling by a power of two is exact (normal range)
    let v = mant as f64 * 2f64.powi(exp);
    if neg { -v } else { v }
}

/// Bits of `x` without leading zeros (`int.bit_length()` of a non-negative integer).
pub fn bit_len(x: u128) -> u32 {
    128 - x.leading_zeros()
}

/// `vx // wx` for doubles, CPython's `float_floor_div` step for step (fmod, the sign fix, then
/// `floor` with the 0.5 correction), so that every rounding is the same.
pub fn float_floor_div(vx: f64, wx: f64) -> f64 {
    let mut m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 && (wx < 0.0) != (m < 0.0) {
        m += wx;
        div -= 1.0;
    }
    let _ = m;
    if div != 0.0 {
        let mut fd = div.floor();
        if div - fd > 0.5 {
            fd += 1.0;
        }
        fd
    } else {
        0f64.copysign(vx / wx)
    }
}

/// `str(int(v))`: the decimal digits of `v` truncated toward zero, exact for every finite
/// double (beyond 2^127 through a small base-10^9 big integer). `None` for inf/NaN, where
/// Python raises.
pub fn trunc_to_string(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    let t = v.trunc();
    if t.abs() < 1.7e38 {
        return Some((t as i128).to_string());
    }
    // |t| ≥ 2^126: mantissa · 2^e with e > 0, a whole number
    let bits = t.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let m = (bits & ((1 << 52) - 1)) | (1 << 52);
    let mut limbs: Vec<u32> = vec![(m % 1_000_000_000) as u32, ((m / 1_000_000_000) % 1_000_000_000) as u32, (m / 1_000_000_000_000_000_000) as u32];
    for _ in 0..e {
        let mut carry = 0u64;
        for l in limbs.iter_mut() {
            let x = u64::from(*l) * 2 + carry;
            *l = (x % 1_000_000_000) as u32;
            carry = x / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    while limbs.len() > 1 && limbs[limbs.len() - 1] == 0 {
        limbs.pop();
    }
    let mut s = String::new();
    if t < 0.0 {
        s.push('-');
    }
    s.push_str(&limbs[limbs.len() - 1].to_string());
    for l in limbs.iter().rev().skip(1) {
        s.push_str(&format!("{l:09}"));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact rational a/b compared with the neighbours of the result: the result must be
    /// the nearest double (checked in exact integer arithmetic on the scaled values).
    #[test]
    fn true_division_is_correctly_rounded() {
        let mut s: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..20000 {
            let a = (i128::from(next() >> (next() % 64)) * 8000) * if next() % 2 == 0 { 1 } else { -1 };
            let b = i128::from(next() >> (next() % 64)).max(1) * if next() % 3 == 0 { -1 } else { 1 };
            let q = int_true_div(a, b);
            // a/b is within half an ulp of q: |a - q b| ≤ ulp(q)/2 · |b|; compare in f64-free way
            // through the two neighbours being no closer (use 256-bit-free check by f64 next_up/down
            // in exact rational comparison: (q ± ulp) as exact fractions m·2^e)
            let close = |x: f64| -> (i128, i32) {
                let bits = x.abs().to_bits();
                let e = ((bits >> 52) & 0x7ff) as i32 - 1075;
                let m = ((bits & ((1 << 52) - 1)) | (1 << 52)) as i128;
                (m, e)
            };
            if a == 0 {
                assert_eq!(q, 0.0);
                continue;
            }
            let (m, e) = close(q);
            // distance numerators for q, q+ulp, q-ulp against |a|/|b|, all scaled by 2^-e (e < 0 here
            // or small): d(k) = | |a| * 2^-e - (m+k) |b| |
            let (aa, bb) = (a.unsigned_abs() as i128, b.unsigned_abs() as i128);
            if e >= 0 || -e > 40 {
                continue; // scaled values would overflow i128; covered by the small cases
            }
            let lhs = aa << (-e);
            let d = |k: i128| (lhs - (m + k) * bb).abs();
            assert!(d(0) <= d(1) && d(0) <= d(-1), "{a}/{b} = {q}");
        }
        assert_eq!(int_true_div(7, 2), 3.5);
        assert_eq!(int_true_div(8000 * (1i128 << 60), 3), (8000f64 * 2f64.powi(60)) / 3.0);
    }

    #[test]
    fn floor_division_matches_python() {
        // values from CPython: 10.5 // 4 = 2.0, -10.5 // 4 = -3.0, 0.0 // 8 = 0.0, -0.0 // 8 = -0.0
        assert_eq!(float_floor_div(10.5, 4.0), 2.0);
        assert_eq!(float_floor_div(-10.5, 4.0), -3.0);
        assert_eq!(float_floor_div(0.0, 8.0).to_bits(), 0f64.to_bits());
        assert_eq!(float_floor_div(-0.0, 8.0).to_bits(), (-0f64).to_bits());
        assert_eq!(float_floor_div(1e300, 2f64.powi(900)), (1e300 / 2f64.powi(900)).floor());
    }

    #[test]
    fn truncation_prints_every_digit() {
        assert_eq!(trunc_to_string(-2.7).unwrap(), "-2");
        assert_eq!(trunc_to_string(1e20).unwrap(), "100000000000000000000");
        assert_eq!(trunc_to_string(2f64.powi(130)).unwrap(), "1361129467683753853853498429727072845824");
        assert_eq!(trunc_to_string(-2f64.powi(130)).unwrap(), "-1361129467683753853853498429727072845824");
        assert!(trunc_to_string(f64::INFINITY).is_none());
    }
}
