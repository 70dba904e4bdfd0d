//! Reports: tera templates rendered from stored results only (design notes §5). `.tex`
//! output is autoescaped with [`latex_escape`]; numbers are formatted by our filters
//! (`fixed`, `sig`, `sci`, `thousands`, `siunitx`, `pct`), never ad hoc.
use crate::error::ReportError;
use crate::manifest::ReportDecl;
use crate::plan::Plan;
use crate::store::Store;
use flowlab_abi::json::to_f64;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The static preamble every report `\input`s (macros never go through tera).
pub const PREAMBLE: &str = "flowlab-preamble.tex";

/// LaTeX escape for autoescaped `.tex` templates: `P_mix #2 & 50%` → `P\_mix \#2 \& 50\%`.
pub fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            _ => out.push(c),
        }
    }
    out
}

fn number(v: &Value, filter: &str) -> tera::Result<Option<f64>> {
    match v {
        Value::Null => Ok(None),
        _ => to_f64(v).map(Some).ok_or_else(|| tera::Error::msg(format!("filter `{filter}` expects a number, got {v}"))),
    }
}

fn digits(args: &HashMap<String, Value>, default: usize) -> usize {
    args.get("digits").and_then(|d| d.as_u64()).map(|d| d as usize).unwrap_or(default)
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

/// `x | fixed(digits=4)`: fixed-point.
fn fixed(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(x) = number(v, "fixed")? else { return Ok(Value::String("--".into())) };
    Ok(Value::String(nonfinite(x).unwrap_or_else(|| format!("{:.*}", digits(args, 4), x))))
}

/// Formats `x` with `d` significant digits, plain notation.
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

fn sig(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(x) = number(v, "sig")? else { return Ok(Value::String("--".into())) };
    Ok(Value::String(sig_str(x, digits(args, 3))))
}

/// `x | sci(digits=3)`: `1.23\times10^{-4}` (math mode).
fn sci(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(x) = number(v, "sci")? else { return Ok(Value::String("--".into())) };
    if let Some(s) = nonfinite(x) {
        return Ok(Value::String(s));
    }
    let s = format!("{:.*e}", digits(args, 3).saturating_sub(1), x);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    Ok(Value::String(if e == 0 { format!("${m}$") } else { format!("${m}\\times10^{{{e}}}$") }))
}

/// `n | thousands(sep=" ")`: integer with a thousands separator (flow-models uses ASCII space).
fn thousands(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let sep = args.get("sep").and_then(|s| s.as_str()).unwrap_or(" ");
    let raw = match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::String(s) if s.chars().all(|c| c.is_ascii_digit() || c == '-') => s.clone(),
        other => match number(other, "thousands")? {
            Some(x) => format!("{:.0}", x),
            None => return Ok(Value::String("--".into())),
        },
    };
    let (neg, digits) = raw.strip_prefix('-').map(|d| (true, d)).unwrap_or((false, raw.as_str()));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str(sep);
        }
        out.push(c);
    }
    Ok(Value::String(if neg { format!("-{out}") } else { out }))
}

/// `x | siunitx`: `\num{x}` (siunitx does grouping and exponents).
fn siunitx(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(x) = number(v, "siunitx")? else { return Ok(Value::String("--".into())) };
    if let Some(s) = nonfinite(x) {
        return Ok(Value::String(s));
    }
    let body = match args.get("digits").and_then(|d| d.as_u64()) {
        Some(d) => sig_str(x, d as usize),
        None => match v {
            Value::Number(n) => n.to_string(),
            _ => format!("{x}"),
        },
    };
    Ok(Value::String(format!("\\num{{{body}}}")))
}

/// `x | pct(digits=2)`: 100·x with `\%`.
fn pct(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(x) = number(v, "pct")? else { return Ok(Value::String("--".into())) };
    Ok(Value::String(nonfinite(x).unwrap_or_else(|| format!("{:.*}\\%", digits(args, 2), 100.0 * x))))
}

fn latex(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(latex_escape(&match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })))
}

/// A tera instance with our escape function and filters.
pub fn engine() -> tera::Tera {
    let mut t = tera::Tera::default();
    t.autoescape_on(vec![".tex"]);
    t.set_escape_fn(latex_escape);
    t.register_filter("fixed", fixed);
    t.register_filter("sig", sig);
    t.register_filter("sci", sci);
    t.register_filter("thousands", thousands);
    t.register_filter("siunitx", siunitx);
    t.register_filter("pct", pct);
    t.register_filter("latex", latex);
    t
}

/// Finds the templates directory: explicit, `FLOWLAB_TEMPLATES`, or `templates/` in the
/// manifest's directory or one of its parents.
pub fn templates_dir(explicit: Option<&Path>, manifest_dir: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("FLOWLAB_TEMPLATES") {
        return Some(PathBuf::from(p));
    }
    let start = manifest_dir.canonicalize().unwrap_or_else(|_| manifest_dir.to_path_buf());
    start.ancestors().map(|a| a.join("templates")).find(|p| p.is_dir())
}

fn tera_message(e: &tera::Error) -> String {
    use std::error::Error as _;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn relative(from_dir: &Path, to: &Path) -> String {
    // both inside results/<experiment>; count the components of from_dir below the root
    let mut up = PathBuf::new();
    let mut base = from_dir.to_path_buf();
    loop {
        if let Ok(rest) = to.strip_prefix(&base) {
            return up.join(rest).to_string_lossy().replace('\\', "/");
        }
        if !base.pop() {
            return to.to_string_lossy().into_owned();
        }
        up.push("..");
    }
}

/// The template context from stored records.
pub fn context(plan: &Plan, store: &Store, records: &[Value], report_file: &Path) -> tera::Context {
    let m = &plan.manifest;
    let report_dir = report_file.parent().unwrap_or(Path::new("."));
    let mut cells = Vec::new();
    let mut tasks: Map<String, Value> = Map::new();
    for r in records {
        let mut c = r.clone();
        let id = r["cell_id"].as_str().unwrap_or("");
        if let Some(o) = c.as_object_mut() {
            o.insert("artifact_dir".into(), Value::String(relative(report_dir, &store.artifact_dir(id))));
        }
        if r["kind"] == "task" {
            let t = r["task"].as_str().unwrap_or("").to_string();
            tasks.entry(t).or_insert_with(|| Value::Array(vec![])).as_array_mut().expect("array").push(c.clone());
        }
        cells.push(c);
    }
    let datasets: Vec<Value> = plan
        .dataset_order
        .iter()
        .map(|id| {
            let d = &plan.datasets[id];
            json!({"id": id, "format": d.format, "path": d.decl.path, "plugin": d.decl.plugin, "options": d.decl.options})
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("experiment", &json!({"name": m.experiment.name, "description": m.experiment.description, "seed": m.experiment.seed, "replicates": m.experiment.replicates, "metadata": m.experiment.metadata}));
    ctx.insert("cells", &cells);
    ctx.insert("tasks", &tasks);
    ctx.insert("datasets", &datasets);
    ctx.insert("failed", &records.iter().filter(|r| r["status"] != "ok").count());
    ctx
}

/// Renders one report from stored records; returns the output path.
pub fn render(plan: &Plan, store: &Store, records: &[Value], decl: &ReportDecl, templates: &Path) -> Result<PathBuf, ReportError> {
    let tpath = templates.join(&decl.template);
    let text = std::fs::read_to_string(&tpath).map_err(|e| ReportError::Io { path: tpath.clone(), source: e })?;
    let mut t = engine();
    t.add_raw_template(&decl.template, &text).map_err(|e| ReportError::Template { template: tpath.display().to_string(), message: tera_message(&e) })?;
    let out = store.report_dir().join(&decl.output);
    let ctx = context(plan, store, records, &out);
    let body = t.render(&decl.template, &ctx).map_err(|e| ReportError::Template { template: tpath.display().to_string(), message: tera_message(&e) })?;
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ReportError::Io { path: dir.into(), source: e })?;
    let pre = templates.join(PREAMBLE);
    if pre.is_file() {
        std::fs::copy(&pre, dir.join(PREAMBLE)).map_err(|e| ReportError::Io { path: pre.clone(), source: e })?;
    }
    crate::store::atomic_write(&out, body.as_bytes()).map_err(|e| ReportError::Io { path: out.clone(), source: std::io::Error::other(e.to_string()) })?;
    Ok(out)
}

/// Whether `pdflatex` is on PATH.
pub fn have_pdflatex() -> bool {
    std::process::Command::new("pdflatex").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Compiles a `.tex` file twice with pdflatex (`-halt-on-error`) in its directory.
pub fn pdflatex(tex: &Path) -> Result<PathBuf, ReportError> {
    let dir = tex.parent().unwrap_or(Path::new("."));
    let name = tex.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for _ in 0..2 {
        let out = std::process::Command::new("pdflatex")
            .args(["-interaction=nonstopmode", "-halt-on-error", &name])
            .current_dir(dir)
            .output()
            .map_err(|e| ReportError::Io { path: tex.into(), source: e })?;
        if !out.status.success() {
            let log = String::from_utf8_lossy(&out.stdout);
            let tail: Vec<&str> = log.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(ReportError::Latex { path: tex.into(), message: tail.join("\n") });
        }
    }
    Ok(tex.with_extension("pdf"))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn escapes_latex() {
        assert_eq!(latex_escape("P_mix #2 & 50%"), "P\\_mix \\#2 \\& 50\\%");
    }
    #[test]
    fn filters_format() {
        let a = |k: &str, v: Value| HashMap::from([(k.to_string(), v)]);
        assert_eq!(thousands(&json!(4032376751u64), &a("sep", json!(" "))).unwrap(), json!("4 032 376 751"));
        assert_eq!(fixed(&json!(78.5783701), &a("digits", json!(6))).unwrap(), json!("78.578370"));
        assert_eq!(sig(&json!(0.00123456), &a("digits", json!(3))).unwrap(), json!("0.00123"));
        assert_eq!(sci(&json!(0.000123456), &a("digits", json!(3))).unwrap(), json!("$1.23\\times10^{-4}$"));
        assert_eq!(pct(&json!(0.5), &HashMap::new()).unwrap(), json!("50.00\\%"));
        assert_eq!(fixed(&json!("NaN"), &HashMap::new()).unwrap(), json!("NaN"));
        assert_eq!(siunitx(&json!(1000000), &HashMap::new()).unwrap(), json!("\\num{1000000}"));
    }
}
