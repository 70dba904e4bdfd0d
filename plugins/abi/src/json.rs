//! JSON helpers. serde_json writes NaN and ±Inf as `null`; flowlab encodes them explicitly as
//! the strings `"NaN"`, `"inf"`, `"-inf"` so that non-finite values survive storage
//! (docs/design.md §2 Plugin ABI, "JSON").
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt::Write as _;

/// Encodes an `f64` as a JSON value, non-finite values as strings.
pub fn num(x: f64) -> Value {
    if x.is_finite() {
        serde_json::Number::from_f64(x).map(Value::Number).unwrap_or(Value::Null)
    } else if x.is_nan() {
        Value::String("NaN".into())
    } else if x > 0.0 {
        Value::String("inf".into())
    } else {
        Value::String("-inf".into())
    }
}

/// Decodes a value written by [`num`] (numbers or the non-finite strings).
pub fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "inf" | "+inf" | "Infinity" => Some(f64::INFINITY),
            "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// An `f64` whose serde form keeps NaN/±Inf (see [`num`]).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Real(pub f64);

impl Serialize for Real {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        num(self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        to_f64(&v).map(Real).ok_or_else(|| serde::de::Error::custom(format!("expected a number or \"NaN\"/\"inf\"/\"-inf\", found {v}")))
    }
}

/// Canonical JSON text: object keys sorted, compact. Used for hashing settings.
pub fn canonical(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sort(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(v)).unwrap_or_default()
}

/// A string as Python's `json.dumps` writes it (ASCII only: non-ASCII as `\uXXXX`).
pub fn py_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(o, "\\u{u:04x}");
                }
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn nonfinite_roundtrip() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1 + 0.2, 1e-310, -0.0] {
            let s = serde_json::to_string(&Real(x)).unwrap();
            let back: Real = serde_json::from_str(&s).unwrap();
            assert!(back.0.to_bits() == x.to_bits() || (x.is_nan() && back.0.is_nan()), "{x} -> {s}");
        }
    }
    #[test]
    fn float_roundtrip_is_bit_exact() {
        // Without serde_json's float_roundtrip some of these land 1 ULP off.
        for i in 0..10_000u64 {
            let x = f64::from_bits(0x3FF0_0000_0000_0000 ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 12);
            let s = serde_json::to_string(&x).unwrap();
            let y: f64 = serde_json::from_str(&s).unwrap();
            assert_eq!(x.to_bits(), y.to_bits(), "{s}");
        }
    }
    #[test]
    fn py_str_escapes_as_python() {
        assert_eq!(py_str("é\t\"\\a"), "\"\\u00e9\\t\\\"\\\\a\"");
        assert_eq!(py_str("😀"), "\"\\ud83d\\ude00\"");
    }

    #[test]
    fn canonical_sorts_keys() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }
}
