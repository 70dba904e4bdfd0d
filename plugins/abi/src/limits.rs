//! Limits shared by every plugin: the declared `minimum`/`maximum` of size-like settings
//! (enforced from the capability's own JSON Schema, so the schema that `flowlab plugins --json`
//! shows and the check can never disagree) and bounded reading of text data files.
//!
//! Size settings without a bound let one typo (`n = 1e18`) abort the whole in-process runner
//! on a failed allocation, losing every other running cell; an over-long line in a data file
//! made a reader buffer gigabytes before rejecting it. Limits are documented per plugin in
//! `docs/<plugin>.md`.
use crate::types::PluginError;
use serde_json::{Map, Value};
use std::io::BufRead;

/// Longest line of the line-based readers, in bytes (1 MiB: a csv_hist, counts, per-user or
/// FlowTest row is under 200 bytes). lstm feature files, one whole traffic per line, have
/// their own larger limit (`docs/lstm.md`).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The UTF-8 byte-order mark some editors put at the start of a file.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `text` without a leading UTF-8 byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{FEFF}').unwrap_or(text)
}

/// `bytes` without a leading UTF-8 byte-order mark.
pub fn strip_bom_bytes(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// The error for line `line` (1-based) of `file` being longer than `limit` bytes.
pub fn line_too_long(file: &str, line: usize, limit: usize) -> PluginError {
    PluginError::data(format!("{file}:{line}: line longer than {limit} bytes, this reader's limit (is it the right file?)"))
}

/// Reads one line (without its `\n` / `\r\n`) into `buf`, never buffering more than
/// `limit + 1` bytes of it; `Ok(false)` at end of file. `line` is the 1-based number of the
/// line being read, used in the errors together with `file`. A UTF-8 byte-order mark at the
/// start of line 1 is dropped.
pub fn read_line_bounded<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, file: &str, line: usize, limit: usize) -> Result<bool, PluginError> {
    buf.clear();
    let io = |e: std::io::Error| PluginError::data(format!("{file}:{line}: cannot read: {e}"));
    let mut seen = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if avail.is_empty() {
            break;
        }
        seen = true;
        let (take, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if buf.len() + take > limit + 2 {
            return Err(line_too_long(file, line, limit));
        }
        buf.extend_from_slice(&avail[..take]);
        r.consume(take);
        if done {
            break;
        }
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.len() > limit {
        return Err(line_too_long(file, line, limit));
    }
    if line == 1 && buf.starts_with(UTF8_BOM) {
        buf.drain(..UTF8_BOM.len());
    }
    Ok(seen)
}

/// The lines of a text file as `(line number, text)`, each bounded by [`MAX_LINE_BYTES`],
/// a leading byte-order mark dropped; errors name `file`, the line and the limit.
pub fn bounded_lines<R: BufRead>(r: R, file: &str) -> BoundedLines<R> {
    BoundedLines { r, file: file.to_string(), line: 0, buf: Vec::new(), limit: MAX_LINE_BYTES, done: false }
}

/// Iterator of [`bounded_lines`].
pub struct BoundedLines<R> {
    r: R,
    file: String,
    line: usize,
    buf: Vec<u8>,
    limit: usize,
    done: bool,
}

impl<R> BoundedLines<R> {
    /// The same lines with another per-line limit (tests use small ones).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = Result<(usize, String), PluginError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.line += 1;
        match read_line_bounded(&mut self.r, &mut self.buf, &self.file, self.line, self.limit) {
            Ok(false) => None,
            Ok(true) => Some(match std::str::from_utf8(&self.buf) {
                Ok(s) => Ok((self.line, s.to_string())),
                Err(e) => Err(PluginError::data(format!("{}:{}: not UTF-8 text ({e})", self.file, self.line))),
            }),
            Err(e) => {
                // an error ends the iteration: the rest of an over-long line is not a line
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads a whole file of at most `limit` bytes (for formats read in one piece, such as JSON
/// models); a longer file is an error naming it and the limit, found without reading it all.
pub fn read_capped(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, PluginError> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| PluginError::data(format!("{}: cannot read: {e}", path.display())))?;
    let mut out = Vec::new();
    f.take(limit + 1).read_to_end(&mut out).map_err(|e| PluginError::data(format!("{}: cannot read: {e}", path.display())))?;
    if out.len() as u64 > limit {
        return Err(PluginError::data(format!("{}: larger than {} bytes, the limit for this kind of file", path.display(), limit)));
    }
    Ok(out)
}

/// A zero-filled vector of `dims[0] × dims[1] × …` values whose sizes come from data: the
/// product is checked and the memory reserved fallibly, so an impossible size is a data error
/// naming `what` instead of an abort of the whole process.
pub fn try_zeroed<T: Clone + Default>(dims: &[usize], what: &str) -> Result<Vec<T>, PluginError> {
    let shape = || dims.iter().map(usize::to_string).collect::<Vec<_>>().join(" × ");
    let n = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_mul(std::mem::size_of::<T>()).is_some_and(|b| b <= isize::MAX as usize))
        .ok_or_else(|| PluginError::data(format!("{what}: {} values do not fit in memory", shape())))?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| PluginError::data(format!("{what}: cannot allocate {} values ({} bytes)", shape(), n * std::mem::size_of::<T>())))?;
    v.resize(n, T::default());
    Ok(v)
}

/// Checks every number in `settings` against the `minimum`/`maximum` its place in `schema`
/// declares (following `$ref`, `properties`, `additionalProperties`, `items`, `allOf` and the
/// `anyOf`/`oneOf` alternatives that fit the value). The error names the dotted key path
/// (`families.lognorm`) and the allowed range. Plugins call it first in `validate`, so the
/// bounds a capability declares are the bounds it enforces.
pub fn check_bounds(schema: &Value, settings: &Value) -> Result<(), PluginError> {
    walk(schema, schema, settings, "")
}

/// [`check_bounds`] with the settings schema `d` declares for `capability` (an unknown
/// capability passes: the plugin's own `validate` reports it).
pub fn check_capability(d: &crate::types::Description, capability: &str, settings: &Value) -> Result<(), PluginError> {
    match d.capability(capability) {
        Some(c) => check_bounds(&c.settings_schema, settings),
        None => Ok(()),
    }
}

/// `node` with its `$ref` followed into the root's `definitions` (or `$defs`).
pub fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(r) = node.get("$ref").and_then(Value::as_str) else { break };
        let name = r.rsplit('/').next().unwrap_or("");
        let defs = root.get("definitions").or_else(|| root.get("$defs"));
        match defs.and_then(|d| d.get(name)) {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

fn has_type(node: &Value, t: &str) -> Option<bool> {
    match node.get("type")? {
        Value::String(s) => Some(s == t || (t == "number" && s == "integer")),
        Value::Array(a) => Some(a.iter().any(|s| s.as_str() == Some(t) || (t == "number" && s.as_str() == Some("integer")))),
        _ => None,
    }
}

/// Whether `v` may be an instance of `node` as far as types, `const`/`enum` tags of its
/// properties and closed objects go (enough to pick the alternative of an enum).
fn fits(root: &Value, node: &Value, v: &Value) -> bool {
    let node = resolve(root, node);
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if has_type(node, kind) == Some(false) && !(kind == "number" && has_type(node, "integer") == Some(true)) {
        return false;
    }
    if let Some(c) = node.get("const") {
        return c == v;
    }
    if let Some(e) = node.get("enum").and_then(Value::as_array) {
        return e.contains(v);
    }
    if let Value::Object(m) = v {
        let props = node.get("properties").and_then(Value::as_object);
        for (k, x) in m {
            match props.and_then(|p| p.get(k)) {
                Some(p) => {
                    let p = resolve(root, p);
                    if (p.get("const").is_some() || p.get("enum").is_some()) && !fits(root, p, x) {
                        return false;
                    }
                }
                None if node.get("additionalProperties") == Some(&Value::Bool(false)) => return false,
                None => {}
            }
        }
        if let Some(req) = node.get("required").and_then(Value::as_array)
            && req.iter().filter_map(Value::as_str).any(|k| !m.contains_key(k))
        {
            return false;
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = node.get(key).and_then(Value::as_array)
            && !alts.iter().any(|a| fits(root, a, v))
        {
            return false;
        }
    }
    true
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn walk(root: &Value, node: &Value, v: &Value, path: &str) -> Result<(), PluginError> {
    let node = resolve(root, node);
    if let Some(all) = node.get("allOf").and_then(Value::as_array) {
        for a in all {
            walk(root, a, v, path)?;
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = node.get(key).and_then(Value::as_array) {
            for a in alts.iter().filter(|a| fits(root, a, v)) {
                walk(root, a, v, path)?;
            }
        }
    }
    match v {
        Value::Number(_) => check_number(node, v, path),
        Value::Array(items) => match node.get("items") {
            Some(Value::Array(tuple)) => {
                for (i, (s, x)) in tuple.iter().zip(items).enumerate() {
                    walk(root, s, x, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Some(s) => {
                for (i, x) in items.iter().enumerate() {
                    walk(root, s, x, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            None => Ok(()),
        },
        Value::Object(m) => walk_object(root, node, m, path),
        _ => Ok(()),
    }
}

fn walk_object(root: &Value, node: &Value, m: &Map<String, Value>, path: &str) -> Result<(), PluginError> {
    let props = node.get("properties").and_then(Value::as_object);
    for (k, x) in m {
        let child = props.and_then(|p| p.get(k)).or_else(|| node.get("additionalProperties").filter(|a| a.is_object()));
        if let Some(c) = child {
            walk(root, c, x, &join(path, k))?;
        }
    }
    Ok(())
}

fn check_number(node: &Value, v: &Value, path: &str) -> Result<(), PluginError> {
    let (lo, hi) = (node.get("minimum"), node.get("maximum"));
    let (xlo, xhi) = (node.get("exclusiveMinimum").filter(|x| x.is_number()), node.get("exclusiveMaximum").filter(|x| x.is_number()));
    if lo.is_none() && hi.is_none() && xlo.is_none() && xhi.is_none() {
        return Ok(());
    }
    let below = lo.is_some_and(|l| less(v, l)) || xlo.is_some_and(|l| !less(l, v));
    let above = hi.is_some_and(|h| less(h, v)) || xhi.is_some_and(|h| !less(v, h));
    if !(below || above) {
        return Ok(());
    }
    let show = |b: Option<&Value>| b.map(number_text).unwrap_or_default();
    let open = |b: Option<&Value>, x: Option<&Value>, left: bool| match (b, x) {
        (Some(b), _) => format!("{}{}", if left { "[" } else { "" }, show(Some(b))) + if left { "" } else { "]" },
        (None, Some(x)) => format!("{}{}", if left { "(" } else { "" }, show(Some(x))) + if left { "" } else { ")" },
        (None, None) => {
            if left {
                "(-inf".into()
            } else {
                "inf)".into()
            }
        }
    };
    let range = format!("{}, {}", open(lo, xlo, true), open(hi, xhi, false));
    let what = if above { "above the maximum" } else { "below the minimum" };
    let key = if path.is_empty() { "the setting".to_string() } else { format!("`{path}`") };
    Err(PluginError::config(path, format!("{key} = {v} is {what}: allowed {range}")))
}

/// A bound as a person writes it: `1` for 1.0, `0.005`, `1000000`.
pub fn number_text(v: &Value) -> String {
    match (v.as_i64(), v.as_u64(), v.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        (_, _, Some(f)) => f.to_string(),
        _ => v.to_string(),
    }
}

/// `a < b` for JSON numbers, exact for integers (no rounding of 64-bit values through f64).
fn less(a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering;
    let int = |x: &Value| x.as_i64().map(i128::from).or_else(|| x.as_u64().map(i128::from));
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x < y,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y) == Some(Ordering::Less),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounds_follow_refs_maps_items_and_enum_alternatives() {
        let s = json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 1, "maximum": 100},
                "f": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "m": {"type": ["integer", "null"], "maximum": 5},
                "fam": {"type": "object", "additionalProperties": {"type": "integer", "maximum": 7}},
                "sizes": {"type": "array", "items": {"type": "integer", "maximum": 9}},
                "sub": {"$ref": "#/definitions/Sub"},
                "metrics": {"type": "array", "items": {"oneOf": [
                    {"type": "object", "properties": {"kind": {"const": "a"}, "top": {"type": "integer", "maximum": 3}}},
                    {"type": "object", "properties": {"kind": {"const": "b"}, "top": {"type": "integer", "maximum": 30}}}
                ]}}
            },
            "definitions": {"Sub": {"type": "object", "properties": {"k": {"type": "integer", "maximum": 2}}}}
        });
        let ok = json!({"n": 100, "f": 0.999, "m": null, "fam": {"x": 7}, "sizes": [9, 1], "sub": {"k": 2}, "metrics": [{"kind": "b", "top": 30}], "other": 1e300});
        check_bounds(&s, &ok).unwrap();
        for (bad, path, range) in [
            (json!({"n": 101}), "n", "[1, 100]"),
            (json!({"n": 0}), "n", "[1, 100]"),
            (json!({"n": -1}), "n", "[1, 100]"),
            (json!({"n": 1e18}), "n", "[1, 100]"),
            (json!({"n": u64::MAX}), "n", "[1, 100]"),
            (json!({"m": 6}), "m", "(-inf, 5]"),
            (json!({"fam": {"lognorm": 100000000}}), "fam.lognorm", "(-inf, 7]"),
            (json!({"sizes": [1, 10]}), "sizes[1]", "(-inf, 9]"),
            (json!({"sub": {"k": 3}}), "sub.k", "(-inf, 2]"),
            (json!({"metrics": [{"kind": "a", "top": 4}]}), "metrics[0].top", "(-inf, 3]"),
            (json!({"f": 0}), "f", "(0, 1)"),
            (json!({"f": 1.0}), "f", "(0, 1)"),
            (json!({"f": -0.5}), "f", "(0, 1)"),
        ] {
            let e = check_bounds(&s, &bad).unwrap_err();
            assert_eq!(e.path.as_deref(), Some(path), "{bad}");
            assert!(e.message.contains(&format!("`{path}`")) && e.message.contains(range), "{}", e.message);
        }
    }

    #[test]
    fn lines_are_bounded_numbered_and_lose_a_bom() {
        let text = b"\xEF\xBB\xBFa,b\r\nshort\n0123456789\nlast";
        let got: Vec<_> = bounded_lines(&text[..], "f.csv").with_limit(8).collect();
        assert_eq!(got[0].as_ref().unwrap(), &(1, "a,b".to_string()));
        assert_eq!(got[1].as_ref().unwrap(), &(2, "short".to_string()));
        let e = got[2].as_ref().unwrap_err();
        assert!(e.message.contains("f.csv:3:") && e.message.contains("longer than 8 bytes"), "{}", e.message);
        assert_eq!(got.len(), 3, "an over-long line ends the lines");
        let ok: Vec<_> = bounded_lines(&b"12345678\n12345678"[..], "f").with_limit(8).map(|l| l.unwrap().1).collect();
        assert_eq!(ok, ["12345678", "12345678"]);
        // a huge line is rejected after reading at most limit + 2 bytes of it
        let big = vec![b'x'; 10_000];
        let mut r = std::io::BufReader::with_capacity(16, &big[..]);
        let mut buf = Vec::new();
        assert!(read_line_bounded(&mut r, &mut buf, "big", 1, 100).is_err());
        assert!(buf.capacity() < 1000, "{}", buf.capacity());
    }

    #[test]
    fn data_sized_allocations_fail_cleanly() {
        assert_eq!(try_zeroed::<f32>(&[2, 3], "x").unwrap(), vec![0.0; 6]);
        let e = try_zeroed::<f32>(&[usize::MAX / 2, 3], "batch").unwrap_err();
        assert!(e.message.starts_with("batch: ") && e.message.contains("do not fit"), "{}", e.message);
        let e = try_zeroed::<u8>(&[1 << 40, 1 << 20], "big").unwrap_err();
        assert!(e.message.starts_with("big: "), "{}", e.message);
    }

    #[test]
    fn capped_reads_stop_at_the_limit() {
        let d = std::env::temp_dir().join(format!("flowlab-abi-capped-{}", std::process::id()));
        std::fs::write(&d, b"0123456789").unwrap();
        assert_eq!(read_capped(&d, 10).unwrap().len(), 10);
        let e = read_capped(&d, 9).unwrap_err();
        assert!(e.message.contains("larger than 9 bytes"), "{}", e.message);
        let _ = std::fs::remove_file(&d);
    }
}
