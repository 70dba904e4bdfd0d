//! The number filters of report templates (docs/reports.md, "Filters"). Their output is
//! LaTeX and final: it is exempt from the `.tex` autoescape, so a template needs no `| safe`
//! after them. A misuse (a value that is not a number, an unknown argument, a bad `digits`)
//! is a render error naming the template line: [`annotate_lines`] adds a `line=N` argument
//! to every call before tera parses the template.
//!
//! One number format for every report: integers and numbers of four or more integer digits
//! are grouped by thin spaces (`1\,000`, as siunitx's `\num` with the preamble's
//! `group-minimum-digits=4`); magnitudes below 10⁻⁴ or from 10¹⁵ up go to scientific
//! notation (`\num{2.22e-16}` typesets 2.22 × 10⁻¹⁶), never a run of zeros.
use flowlab_abi::json::to_f64;
use serde_json::Value;
use std::collections::HashMap;

type Args = HashMap<String, Value>;
type FilterFn = fn(&Value, &Args) -> tera::Result<Value>;

/// The number filters: name, accepted arguments (besides `line`), function.
pub const NUMBER_FILTERS: [(&str, &[&str], FilterFn); 7] = [
    ("fixed", &["digits"], fixed),
    ("sig", &["digits"], sig),
    ("sci", &["digits"], sci),
    ("thousands", &["sep"], thousands),
    ("siunitx", &["digits", "decimals"], siunitx),
    ("pct", &["digits"], pct),
    ("mean_sd", &["digits", "n"], mean_sd),
];

/// A number filter checked for its arguments, exempt from the autoescape.
struct LatexOut {
    name: &'static str,
    accepted: &'static [&'static str],
    f: FilterFn,
}

impl tera::Filter for LatexOut {
    fn filter(&self, v: &Value, args: &Args) -> tera::Result<Value> {
        let at = match args.get("line").and_then(Value::as_u64) {
            Some(l) => format!("line {l}: "),
            None => String::new(),
        };
        let fail = |m: String| tera::Error::msg(format!("{at}filter `{}`: {m}", self.name));
        for k in args.keys().filter(|k| k.as_str() != "line") {
            if !self.accepted.contains(&k.as_str()) {
                return Err(fail(format!("unknown argument `{k}` (it takes {})", self.accepted.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "))));
            }
        }
        for k in ["digits", "decimals"] {
            if let Some(d) = args.get(k)
                && d.as_u64().is_none_or(|d| d > 17)
            {
                return Err(fail(format!("`{k}` must be a whole number from 0 to 17, got {d}")));
            }
        }
        if let Some(n) = args.get("n")
            && !n.is_boolean()
        {
            return Err(fail(format!("`n` must be true or false, got {n}")));
        }
        if let Some(s) = args.get("sep")
            && !s.is_string()
        {
            return Err(fail(format!("`sep` must be a string, got {s}")));
        }
        (self.f)(v, args).map_err(|e| fail(e.to_string()))
    }
    fn is_safe(&self) -> bool {
        true
    }
}

/// Registers the number filters on `t`.
pub fn register(t: &mut tera::Tera) {
    for (name, accepted, f) in NUMBER_FILTERS {
        t.register_filter(name, LatexOut { name, accepted, f });
    }
    t.register_filter("stats", stats);
}

/// Adds `line=N` (the 1-based line of the call) to every call of a number filter inside a
/// tera tag (`{{ … }}`, `{% … %}`) of `text`: `x | sci(digits=3)` on line 7 becomes
/// `x | sci(line=7, digits=3)`. Comments, `raw` blocks and string literals are left alone,
/// and no line break is added, so tera's own messages keep their positions.
pub fn annotate_lines(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let (mut i, mut line, mut copied) = (0usize, 1usize, 0usize);
    let mut tag: Option<&[u8]> = None; // the closing delimiter while inside a tag
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
        }
        match (tag, quote) {
            (None, _) => {
                if b[i..].starts_with(b"{#") {
                    // a comment: skip to its end
                    let end = text[i..].find("#}").map(|e| i + e + 2).unwrap_or(b.len());
                    line += text[i..end].matches('\n').count();
                    i = end;
                    continue;
                }
                if b[i..].starts_with(b"{%") && is_raw_start(&text[i..]) {
                    let end = text[i..].find("endraw").and_then(|e| text[i + e..].find("%}").map(|f| i + e + f + 2)).unwrap_or(b.len());
                    line += text[i..end].matches('\n').count();
                    i = end;
                    continue;
                }
                if b[i..].starts_with(b"{{") {
                    tag = Some(b"}}");
                    i += 2;
                    continue;
                } else if b[i..].starts_with(b"{%") {
                    tag = Some(b"%}");
                    i += 2;
                    continue;
                }
            }
            (Some(_), Some(q)) => {
                if c == q {
                    quote = None;
                }
            }
            (Some(close), None) => {
                if b[i..].starts_with(close) {
                    tag = None;
                    i += 2;
                    continue;
                }
                if c == b'"' || c == b'\'' || c == b'`' {
                    quote = Some(c);
                } else if c == b'|'
                    && let Some((name_end, paren)) = filter_call(b, i + 1)
                {
                    out.push_str(&text[copied..name_end]);
                    match paren {
                        Some(p) => {
                            let empty = b[p + 1..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b')');
                            out.push_str(&text[name_end..=p]);
                            out.push_str(&format!("line={line}{}", if empty { "" } else { ", " }));
                            copied = p + 1;
                            i = p + 1;
                        }
                        None => {
                            out.push_str(&format!("(line={line})"));
                            copied = name_end;
                            i = name_end;
                        }
                    }
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// Whether `s` (at `{%`) opens a `raw` block.
fn is_raw_start(s: &str) -> bool {
    let inner = s[2..].trim_start_matches('-').trim_start();
    inner.starts_with("raw") && inner[3..].trim_start().trim_start_matches('-').starts_with("%}")
}

/// After a `|` at `from`: if a number filter's name follows (whitespace allowed), the end of
/// the name and the position of an opening parenthesis right after it, if any.
fn filter_call(b: &[u8], from: usize) -> Option<(usize, Option<usize>)> {
    let mut s = from;
    while s < b.len() && b[s].is_ascii_whitespace() {
        s += 1;
    }
    let mut e = s;
    while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
        e += 1;
    }
    let name = std::str::from_utf8(&b[s..e]).ok()?;
    if !NUMBER_FILTERS.iter().any(|(n, _, _)| *n == name) {
        return None;
    }
    let mut p = e;
    while p < b.len() && b[p].is_ascii_whitespace() {
        p += 1;
    }
    Some((e, (p < b.len() && b[p] == b'(').then_some(p)))
}

fn number(v: &Value) -> tera::Result<Option<f64>> {
    match v {
        Value::Null => Ok(None),
        _ => to_f64(v).map(Some).ok_or_else(|| tera::Error::msg(format!("expects a number, got {v}"))),
    }
}

fn digits(args: &Args, key: &str, default: usize) -> usize {
    args.get(key).and_then(Value::as_u64).map(|d| d as usize).unwrap_or(default)
}

fn nonfinite(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("NaN".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "$\\infty$".into() } else { "$-\\infty$".into() })
    } else {
        None
    }
}

/// A missing value (null) prints as a dash.
const MISSING: &str = "--";

fn text(s: String) -> tera::Result<Value> {
    Ok(Value::String(s))
}

/// Whether `x` is printed in scientific notation: below 10⁻⁴ or from 10¹⁵ in magnitude.
fn extreme(x: f64) -> bool {
    x != 0.0 && !(1e-4..1e15).contains(&x.abs())
}

/// `12345.678` → `12\,345.678`: groups of three integer digits by thin spaces when the
/// integer part has four or more digits (siunitx's `group-minimum-digits=4`).
pub fn group(plain: &str) -> String {
    let (sign, rest) = plain.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", plain));
    let (int, frac) = rest.split_once('.').map(|(a, b)| (a, Some(b))).unwrap_or((rest, None));
    if int.len() < 4 || !int.bytes().all(|c| c.is_ascii_digit()) {
        return plain.to_string();
    }
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push_str("\\,");
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// `x` with `d` significant digits in plain notation (no grouping).
pub fn sig_str(x: f64, d: usize) -> String {
    if let Some(s) = nonfinite(x) {
        return s;
    }
    if x == 0.0 {
        return "0".into();
    }
    let d = d.max(1);
    let mag = x.abs().log10().floor() as i32;
    let decimals = (d as i32 - 1 - mag).max(0) as usize;
    format!("{:.*}", decimals, x)
}

/// `x` with `d` significant digits as LaTeX: `\num{…}` (siunitx groups the digits and sets the
/// minus sign), in `m e k` form when [`extreme`].
fn sig_latex(x: f64, d: usize) -> String {
    if let Some(s) = nonfinite(x) {
        s
    } else if extreme(x) {
        format!("\\num{{{:.*e}}}", d.max(1) - 1, x)
    } else {
        format!("\\num{{{}}}", sig_str(x, d))
    }
}

/// `x | fixed(digits=4)`: fixed-point, `digits` decimals, plain digits with an ASCII minus:
/// the filter for pgfplots coordinates and tick values. Tables use `siunitx(decimals=…)`
/// (grouped digits, a typeset minus).
fn fixed(v: &Value, args: &Args) -> tera::Result<Value> {
    let Some(x) = number(v)? else { return text(MISSING.into()) };
    let d = digits(args, "digits", 4);
    if let Some(s) = nonfinite(x) {
        return text(s);
    }
    text(format!("{:.*}", d, x))
}

/// `x | sig(digits=3)`: `digits` significant digits as `\num{12300}` (typeset `12 300` with
/// a proper minus); scientific (`\num{2.22e-16}`) outside 10⁻⁴ … 10¹⁵. Text and math mode,
/// not pgfplots coordinates (use `fixed` there).
fn sig(v: &Value, args: &Args) -> tera::Result<Value> {
    let Some(x) = number(v)? else { return text(MISSING.into()) };
    text(sig_latex(x, digits(args, "digits", 3)))
}

/// `x | sci(digits=3)`: `$1.23\times10^{-4}$` (math mode, `digits` significant digits).
fn sci(v: &Value, args: &Args) -> tera::Result<Value> {
    let Some(x) = number(v)? else { return text(MISSING.into()) };
    if let Some(s) = nonfinite(x) {
        return text(s);
    }
    let s = format!("{:.*e}", digits(args, "digits", 3).max(1) - 1, x);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    text(if e == 0 { format!("${m}$") } else { format!("${m}\\times10^{{{e}}}$") })
}

/// `n | thousands`: an integer grouped by thin spaces (`4\,032\,376\,751`); `sep=" "` for
/// another separator (flow-models' tables use an ASCII space).
fn thousands(v: &Value, args: &Args) -> tera::Result<Value> {
    let raw = match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::String(s) if !s.is_empty() && s.trim_start_matches('-').chars().all(|c| c.is_ascii_digit()) => s.clone(),
        other => match number(other)? {
            Some(x) if x.is_finite() => format!("{:.0}", x),
            Some(x) => return text(nonfinite(x).unwrap_or_default()),
            None => return text(MISSING.into()),
        },
    };
    let Some(sep) = args.get("sep").and_then(Value::as_str) else { return text(group(&raw)) };
    let (neg, digits) = raw.strip_prefix('-').map(|d| (true, d)).unwrap_or((false, raw.as_str()));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str(sep);
        }
        out.push(c);
    }
    text(if neg { format!("-{out}") } else { out })
}

/// `x | siunitx`: `\num{x}` (siunitx groups digits and typesets exponents); `digits=d`
/// rounds to `d` significant digits, `decimals=d` to `d` decimals.
fn siunitx(v: &Value, args: &Args) -> tera::Result<Value> {
    let Some(x) = number(v)? else { return text(MISSING.into()) };
    if let Some(s) = nonfinite(x) {
        return text(s);
    }
    let body = match (args.get("digits").and_then(Value::as_u64), args.get("decimals").and_then(Value::as_u64)) {
        (Some(_), Some(_)) => return Err(tera::Error::msg("give `digits` or `decimals`, not both")),
        (Some(d), None) if extreme(x) => format!("{:.*e}", (d as usize).max(1) - 1, x),
        (Some(d), None) => sig_str(x, d as usize),
        (None, Some(d)) => format!("{:.*}", d as usize, x),
        (None, None) => match v {
            Value::Number(n) => n.to_string(),
            _ => format!("{x}"),
        },
    };
    text(format!("\\num{{{body}}}"))
}

/// `x | pct(digits=2)`: 100·x as `\num{50.00}\%` (a typeset minus, grouped digits).
fn pct(v: &Value, args: &Args) -> tera::Result<Value> {
    let Some(x) = number(v)? else { return text(MISSING.into()) };
    text(nonfinite(x).unwrap_or_else(|| format!("\\num{{{:.*}}}\\%", digits(args, "digits", 2), 100.0 * x)))
}

/// Count, mean, sample standard deviation (n − 1), median, min and max.
type Summary = (usize, f64, f64, f64, f64, f64);

/// The [`Summary`] of the numbers of an array (nulls — failed replicates — are skipped).
fn summary(v: &Value) -> tera::Result<Option<Summary>> {
    let Value::Array(a) = v else { return Err(tera::Error::msg(format!("expects an array of numbers, got {v}"))) };
    let mut xs = Vec::with_capacity(a.len());
    for x in a {
        if let Some(x) = number(x)? {
            xs.push(x);
        }
    }
    if xs.is_empty() {
        return Ok(None);
    }
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 { (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    xs.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 { xs[n / 2] } else { 0.5 * (xs[n / 2 - 1] + xs[n / 2]) };
    Ok(Some((n, mean, sd, median, xs[0], xs[n - 1])))
}

/// `values | mean_sd(digits=3)`: `mean $\pm$ sd~(n)` of an array of replicate values, the
/// mean to `digits` significant digits and the sample sd (n − 1) to the same decimals; a
/// single value (or sd 0) prints alone. `n=false` leaves out the count (a table with an
/// `n` column).
fn mean_sd(v: &Value, args: &Args) -> tera::Result<Value> {
    let Some((n, mean, sd, ..)) = summary(v)? else { return text(MISSING.into()) };
    let d = digits(args, "digits", 3);
    let count = if args.get("n").and_then(Value::as_bool).unwrap_or(true) { format!("~({n})") } else { String::new() };
    if n == 1 || sd == 0.0 {
        return text(format!("{}{count}", sig_latex(mean, d)));
    }
    if extreme(mean) || extreme(sd) {
        return text(format!("{} $\\pm$ {}{count}", sig_latex(mean, d), sig_latex(sd, 2)));
    }
    // the mean's last printed decimal, and the sd to that decimal (at least two significant)
    let mag = if mean == 0.0 { 0 } else { mean.abs().log10().floor() as i32 };
    let sd_mag = sd.abs().log10().floor() as i32;
    let decimals = (d.max(1) as i32 - 1 - mag).max(1 - sd_mag).max(0) as usize;
    text(format!("\\num{{{:.*}}} $\\pm$ \\num{{{:.*}}}{count}", decimals, mean, decimals, sd))
}

/// `values | stats`: `{n, mean, sd, median, min, max}` of an array of numbers (nulls
/// skipped; all null when nothing is left), to format with the other filters.
fn stats(v: &Value, _: &Args) -> tera::Result<Value> {
    let s = summary(v).map_err(|e| tera::Error::msg(format!("filter `stats`: {e}")))?;
    let num = |x: f64| serde_json::Number::from_f64(x).map(Value::Number).unwrap_or(Value::Null);
    Ok(match s {
        Some((n, mean, sd, median, min, max)) => serde_json::json!({"n": n, "mean": num(mean), "sd": num(sd), "median": num(median), "min": num(min), "max": num(max)}),
        None => serde_json::json!({"n": 0, "mean": null, "sd": null, "median": null, "min": null, "max": null}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    fn a(k: &str, v: Value) -> Args {
        HashMap::from([(k.to_string(), v)])
    }
    #[test]
    fn filters_format() {
        assert_eq!(thousands(&json!(4032376751u64), &a("sep", json!(" "))).unwrap(), json!("4 032 376 751"));
        assert_eq!(thousands(&json!(1000), &HashMap::new()).unwrap(), json!("1\\,000"));
        assert_eq!(thousands(&json!(999), &HashMap::new()).unwrap(), json!("999"));
        assert_eq!(fixed(&json!(78.5783701), &a("digits", json!(6))).unwrap(), json!("78.578370"));
        assert_eq!(sig(&json!(0.00123456), &a("digits", json!(3))).unwrap(), json!("\\num{0.00123}"));
        assert_eq!(sig(&json!(2.220446049250313e-16), &a("digits", json!(6))).unwrap(), json!("\\num{2.22045e-16}"));
        assert_eq!(sig(&json!(-123456.789), &a("digits", json!(7))).unwrap(), json!("\\num{-123456.8}"));
        assert_eq!(sci(&json!(0.000123456), &a("digits", json!(3))).unwrap(), json!("$1.23\\times10^{-4}$"));
        assert_eq!(pct(&json!(0.5), &HashMap::new()).unwrap(), json!("\\num{50.00}\\%"));
        assert_eq!(fixed(&json!("NaN"), &HashMap::new()).unwrap(), json!("NaN"));
        assert_eq!(siunitx(&json!(1000000), &HashMap::new()).unwrap(), json!("\\num{1000000}"));
        assert_eq!(siunitx(&json!(2.5e-16), &a("digits", json!(2))).unwrap(), json!("\\num{2.5e-16}"));
        assert_eq!(mean_sd(&json!([1.0, 2.0, 3.0]), &a("digits", json!(3))).unwrap(), json!("\\num{2.00} $\\pm$ \\num{1.00}~(3)"));
        assert_eq!(mean_sd(&json!([99.9, null]), &HashMap::new()).unwrap(), json!("\\num{99.9}~(1)"));
        assert_eq!(mean_sd(&json!([1.0, 2.0, 3.0]), &a("n", json!(false))).unwrap(), json!("\\num{2.00} $\\pm$ \\num{1.00}"));
        assert_eq!(stats(&json!([3, 1, 2, 10]), &HashMap::new()).unwrap()["median"], json!(2.5));
    }
    #[test]
    fn grouping_matches_siunitx() {
        assert_eq!(group("999.5"), "999.5");
        assert_eq!(group("1000"), "1\\,000");
        assert_eq!(group("-1234567.25"), "-1\\,234\\,567.25");
    }
    #[test]
    fn lines_are_added_to_number_filter_calls_only() {
        let t = "a {{ x | sci }}\n{# {{ y | sci }} #}\n{{ y|fixed(digits=2) | upper }} {% set z = w | pct( ) %}\n{% raw %}{{ q | sig }}{% endraw %} {{ \"| sig\" }} {{ v | sig_x }}";
        assert_eq!(
            annotate_lines(t),
            "a {{ x | sci(line=1) }}\n{# {{ y | sci }} #}\n{{ y|fixed(line=3, digits=2) | upper }} {% set z = w | pct(line=3 ) %}\n{% raw %}{{ q | sig }}{% endraw %} {{ \"| sig\" }} {{ v | sig_x }}"
        );
    }
}
