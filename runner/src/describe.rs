//! A capability's settings explained from its JSON Schema: what `flowlab plugins PLUGIN
//! [CAPABILITY]` prints (type, default, allowed values or range, description, example), the
//! complete example manifest section, and the "expected …, e.g. …" of a settings error.
//!
//! The schema a plugin declares is the one definition of its settings (README: settings of a
//! plugin): the check of the bounds (plugins/abi/src/limits.rs), the manifest schema
//! (runner/src/schema.rs) and this text are all read from it, so they cannot disagree.
use flowlab_abi::limits::{number_text, resolve};
use serde_json::{Map, Value};

/// One setting of a capability as a person reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Key in the manifest section.
    pub name: String,
    /// One-line description (the schema's `description`, first paragraph).
    pub description: String,
    /// What the value must be: `integer in [1, 1000000]`, `one of "em-compat", "em-binned"`,
    /// `table of name = integer in [0, 100]`, …
    pub shape: String,
    /// The allowed values with their own descriptions, when the setting is a choice.
    pub choices: Vec<(Value, String)>,
    /// The default, when the schema gives one (`null` defaults are shown as "none").
    pub default: Option<Value>,
    /// A value of the right shape: the schema's first `examples` entry, else the default,
    /// else one built from the shape.
    pub example: Value,
    /// The section is refused without it.
    pub required: bool,
}

/// The settings of `schema` (a capability's settings schema), in declaration order.
pub fn settings(schema: &Value) -> Vec<Setting> {
    let required: Vec<&str> = schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    props.iter().map(|(k, node)| setting(schema, k, node, required.contains(&k.as_str()))).collect()
}

/// The setting at a dotted key path (`families`, `fitter.bounds.alpha_min`, `families.lognorm`,
/// `theta[1]`), following nested tables, or the nearest enclosing setting when the path goes
/// below what the schema describes.
pub fn lookup(schema: &Value, path: &str) -> Option<Setting> {
    let path = path.split('[').next().unwrap_or(path);
    let mut node = schema;
    let mut found = None;
    let mut name = String::new();
    for part in path.split('.').filter(|s| !s.is_empty()) {
        let here = resolve(schema, node);
        let child = here.get("properties").and_then(|p| p.get(part)).or_else(|| here.get("additionalProperties").filter(|a| a.is_object()));
        let Some(child) = child else { break };
        name = if name.is_empty() { part.to_string() } else { format!("{name}.{part}") };
        let req = here.get("required").and_then(Value::as_array).is_some_and(|r| r.iter().any(|x| x.as_str() == Some(part)));
        found = Some(setting(schema, &name, child, req));
        node = unwrap_single(schema, child);
    }
    found
}

/// The help of a settings error at `path`: `expected <shape>, e.g. `key = value``.
pub fn expected(schema: &Value, path: &str) -> Option<String> {
    let s = lookup(schema, path)?;
    let key = s.name.rsplit('.').next().unwrap_or(&s.name);
    Some(format!("`{}` expects {}, e.g. `{key} = {}`", s.name, s.shape, toml_value(&s.example)))
}

/// The JSON types a schema node admits (`"integer"`, `"string"`, …, `"null"`), following
/// `$ref`, `allOf`, `anyOf`/`oneOf` and constants; `None` when the node does not say (any
/// value may then be right, and only the plugin can tell).
fn admitted(root: &Value, node: &Value, depth: u32) -> Option<Vec<String>> {
    let node = resolve(root, node);
    if depth > 8 {
        return None;
    }
    if let Some(t) = node.get("type") {
        let t = match t {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => return None,
        };
        return Some(t);
    }
    if let Some(v) = node.get("const") {
        return Some(vec![json_type(v).into()]);
    }
    if let Some(e) = node.get("enum").and_then(Value::as_array) {
        return Some(e.iter().map(|v| json_type(v).to_string()).collect());
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(alts) = node.get(key).and_then(Value::as_array) {
            let mut all = Vec::new();
            for a in alts {
                all.extend(admitted(root, a, depth + 1)?);
            }
            return Some(all);
        }
    }
    None
}

/// The JSON type of a value, with whole numbers as `integer`.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The settings of `given` whose value has a JSON type the capability's schema does not admit
/// for that key (top-level keys only; an integer is also a number): `(key, "a string")`, in
/// the order given. The plugin's own check stops at the first mistake; this lists them all.
pub fn type_mismatches(schema: &Value, given: &Map<String, Value>) -> Vec<(String, String)> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    let mut out = Vec::new();
    for (k, v) in given {
        let Some(want) = props.get(k).and_then(|n| admitted(schema, n, 0)) else { continue };
        let t = json_type(v);
        let fits = want.iter().any(|w| w == t || (w == "number" && t == "integer"));
        if !fits {
            let what = match t {
                "integer" => "an integer",
                "number" => "a number",
                "boolean" => "a boolean",
                "string" => "a string",
                "array" => "an array",
                "object" => "a table",
                _ => "null",
            };
            let found = match v {
                Value::Array(_) | Value::Object(_) | Value::Null => what.to_string(),
                other => format!("{what} `{}`", toml_value(other)),
            };
            out.push((k.clone(), found));
        }
    }
    out
}

/// A complete manifest section for the capability: every setting with its default or an
/// example, optional ones without a default commented out, and a comment giving each shape.
pub fn example_section(plugin: &str, cap: &flowlab_abi::Capability) -> String {
    let mut out = String::new();
    let task = matches!(cap.kind, flowlab_abi::CapabilityKind::Task);
    if task {
        out.push_str(&format!("[[{}]]\nplugin = \"{plugin}\"\n", cap.name));
        if cap.datasetless && !cap.accepts.is_empty() {
            out.push_str(&format!("# datasets = [\"…\"]  # optional: datasets of {} (default: none)\n", cap.accepts.join(" or ")));
        } else if !cap.datasetless {
            let fmt = if cap.accepts.is_empty() { "any format".to_string() } else { cap.accepts.join(" or ") };
            out.push_str(&format!("# datasets = [\"…\"]  # default: every dataset of {fmt}\n"));
        }
    } else {
        out.push_str(&format!("[[dataset]]\nid = \"{}\"\nplugin = \"{plugin}\"\ncapability = \"{}\"\n", cap.name.replace('_', "-"), cap.name));
        match &cap.produces {
            Some(f) => out.push_str(&format!("format = \"{f}\"\n")),
            None => out.push_str("format = \"…\"  # the format the task sections read\n"),
        }
        out.push_str("[dataset.settings]\n");
    }
    let list = settings(&cap.settings_schema);
    let lines: Vec<(String, String)> = list
        .iter()
        .map(|s| {
            let has_value = s.required || s.default.as_ref().is_some_and(|d| !d.is_null());
            let value = match (&s.default, s.required) {
                (Some(d), false) if !d.is_null() => d.clone(),
                _ => s.example.clone(),
            };
            let line = format!("{}{} = {}", if has_value { "" } else { "# " }, s.name, toml_value(&value));
            let note = if s.required {
                "required".to_string()
            } else if has_value {
                "default".to_string()
            } else {
                "optional".to_string()
            };
            (line, format!("{note}; {}", s.shape))
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.chars().count()).filter(|&w| w <= 48).max().unwrap_or(0);
    for (line, note) in lines {
        let pad = width.saturating_sub(line.chars().count());
        out.push_str(&format!("{line}{}  # {note}\n", " ".repeat(pad)));
    }
    out
}

/// The full text `flowlab plugins PLUGIN CAPABILITY` prints for one capability: its summary,
/// what it reads, every setting (shape, default, description, allowed values, example) and a
/// complete example section.
pub fn capability_text(plugin: &str, cap: &flowlab_abi::Capability) -> String {
    let mut out = String::new();
    let kind = match cap.kind {
        flowlab_abi::CapabilityKind::Task => "task",
        flowlab_abi::CapabilityKind::Dataset => "dataset",
    };
    out.push_str(&format!("{plugin} {} [{kind}]: {}\n", cap.name, cap.summary));
    match cap.kind {
        flowlab_abi::CapabilityKind::Task if cap.datasetless && !cap.accepts.is_empty() => {
            out.push_str(&format!("  runs once per sweep point without a dataset, or on the datasets of format {} that `datasets` lists\n", cap.accepts.join(", ")))
        }
        flowlab_abi::CapabilityKind::Task if cap.datasetless => out.push_str("  runs once per sweep point; takes no dataset\n"),
        flowlab_abi::CapabilityKind::Task if cap.accepts.is_empty() => out.push_str("  reads a dataset of any format\n"),
        flowlab_abi::CapabilityKind::Task => out.push_str(&format!("  reads datasets of format {}\n", cap.accepts.join(", "))),
        flowlab_abi::CapabilityKind::Dataset => {
            if let Some(f) = &cap.produces {
                out.push_str(&format!("  writes a dataset of format {f}\n"));
            }
        }
    }
    let list = settings(&cap.settings_schema);
    if list.is_empty() {
        out.push_str("\nno settings\n");
    } else {
        out.push_str("\nsettings:\n");
    }
    for s in &list {
        let status = if s.required {
            "required".to_string()
        } else {
            match &s.default {
                Some(d) if !d.is_null() => format!("default {}", toml_value(d)),
                _ => "optional".to_string(),
            }
        };
        out.push_str(&format!("  {}  {} ({status})\n", s.name, s.shape));
        for line in wrap(&s.description, 92) {
            out.push_str(&format!("      {line}\n"));
        }
        let width = s.choices.iter().map(|(v, _)| toml_value(v).chars().count()).max().unwrap_or(0);
        for (v, d) in &s.choices {
            let v = toml_value(v);
            let pad = " ".repeat(width - v.chars().count());
            let lines = wrap(d, 92usize.saturating_sub(width + 2).max(40));
            out.push_str(format!("        {v}{pad}  {}", lines.first().map(String::as_str).unwrap_or("")).trim_end());
            out.push('\n');
            for l in lines.iter().skip(1) {
                out.push_str(&format!("        {}  {l}\n", " ".repeat(width)));
            }
        }
        if s.choices.is_empty() {
            out.push_str(&format!("      e.g. {} = {}\n", s.name, toml_value(&s.example)));
        }
    }
    out.push_str("\nexample section:\n");
    for line in example_section(plugin, cap).lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// A report template that declares what it is for: its first line is the tera comment
/// `{# for: PLUGIN CAPABILITY, PLUGIN CAPABILITY; shows: TEXT #}`, followed on the same line by
/// `\documentclass…` so that the output starts with it (docs/reports.md).
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateUse {
    /// Path relative to the templates directory (`histfit/fit.tex`), as a manifest names it.
    pub template: String,
    /// `(plugin, capability)` pairs it renders.
    pub capabilities: Vec<(String, String)>,
    /// What the report shows.
    pub shows: String,
}

/// Parses the declaration line of a template (see [`TemplateUse`]).
pub fn template_use(template: &str, text: &str) -> Option<TemplateUse> {
    let line = text.lines().next()?.trim();
    let (comment, _) = line.strip_prefix("{#")?.split_once("#}")?;
    let body = comment.trim().strip_prefix("for:")?;
    let (caps, shows) = body.split_once("; shows:").unwrap_or((body, ""));
    let capabilities = caps
        .split(',')
        .filter_map(|c| {
            let mut w = c.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect::<Vec<_>>();
    (!capabilities.is_empty()).then(|| TemplateUse { template: template.to_string(), capabilities, shows: shows.trim().to_string() })
}

/// The declared templates under `dir` (`*.tex` one level of subdirectories deep, sorted by
/// path); files without the declaration line are not listed.
pub fn shipped_templates(dir: &std::path::Path) -> Vec<TemplateUse> {
    let mut out = Vec::new();
    let Ok(subdirs) = std::fs::read_dir(dir) else { return out };
    for sub in subdirs.flatten().filter(|e| e.path().is_dir()) {
        let Ok(files) = std::fs::read_dir(sub.path()) else { continue };
        for f in files.flatten() {
            let path = f.path();
            if path.extension().is_none_or(|e| e != "tex") {
                continue;
            }
            let rel = format!("{}/{}", sub.file_name().to_string_lossy(), f.file_name().to_string_lossy());
            if let Some(u) = std::fs::read_to_string(&path).ok().and_then(|t| template_use(&rel, &t)) {
                out.push(u);
            }
        }
    }
    out.sort_by(|a, b| a.template.cmp(&b.template));
    out
}

/// The lines `flowlab plugins PLUGIN` prints about the report templates of `plugin`:
/// per capability, the templates that render it.
pub fn templates_text(plugin: &str, caps: &[&flowlab_abi::Capability], found: &[TemplateUse], dir: &std::path::Path) -> String {
    let mut out = format!("report templates (in {}; a manifest names one in [[report]] template):\n", dir.display());
    let mut any = false;
    for c in caps {
        let uses: Vec<&TemplateUse> = found.iter().filter(|u| u.capabilities.iter().any(|(p, k)| p == plugin && *k == c.name)).collect();
        if uses.is_empty() {
            continue;
        }
        any = true;
        out.push_str(&format!("  {}:\n", c.name));
        for u in uses {
            out.push_str(&format!("    {:<22} {}\n", u.template, u.shows));
        }
    }
    if !any {
        out.push_str("  (none for this plugin)\n");
    }
    out
}

/// Greedy word wrap at `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for w in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + w.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Whether every setting (and every key of the tables they contain) is described and every
/// scalar number has a range: the names of those that are not (empty when all are documented).
/// Lists of numbers are exempt: their items differ in meaning (a parameter vector) and the
/// plugin checks them against each other.
pub fn undocumented(schema: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    undocumented_in(schema, schema, "", &mut missing, &mut seen);
    missing
}

fn undocumented_in(root: &Value, node: &Value, path: &str, missing: &mut Vec<String>, seen: &mut std::collections::BTreeSet<String>) {
    let Some(props) = resolve(root, node).get("properties").and_then(Value::as_object) else { return };
    for (k, child) in props {
        let name = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        if description(root, child).is_empty() {
            missing.push(format!("{name}: no description"));
        }
        let inner = unwrap_single(root, child);
        if is_number(root, inner) && range_of(inner).is_none() {
            missing.push(format!("{name}: a number without a range (minimum/maximum)"));
        }
        // a nested table is documented once, at its definition
        let key = inner.get("$ref").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| name.clone());
        if seen.insert(key) {
            undocumented_in(root, inner, &name, missing, seen);
        }
    }
}

fn is_number(root: &Value, node: &Value) -> bool {
    let n = resolve(root, node);
    types(n).iter().any(|t| t == "number" || t == "integer") && n.get("enum").is_none() && n.get("const").is_none()
}

fn setting(root: &Value, name: &str, node: &Value, required: bool) -> Setting {
    let inner = unwrap_single(root, node);
    let default = node.get("default").or_else(|| inner.get("default")).cloned();
    let example = node
        .get("examples")
        .or_else(|| inner.get("examples"))
        .and_then(Value::as_array)
        .and_then(|e| e.first().cloned())
        .or_else(|| default.clone().filter(|d| !d.is_null()))
        .unwrap_or_else(|| synth(root, inner, 0));
    Setting { name: name.to_string(), description: description(root, node), shape: shape(root, inner, 0), choices: choices(root, inner), default, example, required }
}

/// The first paragraph of a node's description (its own, else its definition's), on one line.
fn description(root: &Value, node: &Value) -> String {
    let text = node
        .get("description")
        .and_then(Value::as_str)
        .or_else(|| unwrap_single(root, node).get("description").and_then(Value::as_str))
        .or_else(|| resolve(root, unwrap_single(root, node)).get("description").and_then(Value::as_str))
        .unwrap_or("");
    let para = text.split("\n\n").next().unwrap_or("");
    para.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The node behind schemars' wrappers: `allOf: [one]`, `anyOf: [x, null]`, `$ref`.
fn unwrap_single<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = resolve(root, node);
    for _ in 0..8 {
        if let Some([one]) = node.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            node = resolve(root, one);
            continue;
        }
        if let Some(alts) = node.get("anyOf").and_then(Value::as_array) {
            let real: Vec<&Value> = alts.iter().filter(|a| !is_null(a)).collect();
            if let [one] = real.as_slice() {
                node = resolve(root, one);
                continue;
            }
        }
        break;
    }
    node
}

fn is_null(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
}

fn types(node: &Value) -> Vec<String> {
    match node.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).filter(|s| *s != "null").map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The allowed values of a choice (`enum`, `const`, or `oneOf`/`anyOf` of constants).
fn choices(root: &Value, node: &Value) -> Vec<(Value, String)> {
    let node = resolve(root, node);
    if let Some(e) = node.get("enum").and_then(Value::as_array) {
        return e.iter().map(|v| (v.clone(), String::new())).collect();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = node.get(key).and_then(Value::as_array) {
            let consts: Vec<(Value, String)> = alts
                .iter()
                .filter(|a| !is_null(a))
                .filter_map(|a| {
                    let a = resolve(root, a);
                    let c = a.get("const").or_else(|| a.get("enum").and_then(Value::as_array).filter(|e| e.len() == 1).and_then(|e| e.first()))?;
                    Some((c.clone(), description(root, a)))
                })
                .collect();
            if !consts.is_empty() && consts.len() == alts.iter().filter(|a| !is_null(a)).count() {
                return consts;
            }
        }
    }
    Vec::new()
}

/// `[lo, hi]`, `(lo, hi]`, `≥ lo`, … of a number node, if it declares a bound.
fn range_of(node: &Value) -> Option<String> {
    let num = |k: &str| node.get(k).filter(|v| v.is_number()).map(number_text);
    let (lo, xlo, hi, xhi) = (num("minimum"), num("exclusiveMinimum"), num("maximum"), num("exclusiveMaximum"));
    let low = lo.as_ref().map(|l| ("[", l.clone())).or_else(|| xlo.as_ref().map(|l| ("(", l.clone())));
    let high = hi.as_ref().map(|h| (h.clone(), "]")).or_else(|| xhi.as_ref().map(|h| (h.clone(), ")")));
    match (low, high) {
        (Some((b, l)), Some((h, e))) => Some(format!("in {b}{l}, {h}{e}")),
        (Some(("[", l)), None) => Some(format!("≥ {l}")),
        (Some((_, l)), None) => Some(format!("> {l}")),
        (None, Some((h, "]"))) => Some(format!("≤ {h}")),
        (None, Some((h, _))) => Some(format!("< {h}")),
        (None, None) => None,
    }
}

/// The plural of a shape for "a list of …": `an integer in [0, 9]` → `integers in [0, 9]`.
fn plural(shape: &str) -> String {
    for (one, many) in [("an integer", "integers"), ("a number", "numbers"), ("a string", "strings"), ("a table", "tables"), ("a list", "lists")] {
        if let Some(rest) = shape.strip_prefix(one) {
            return format!("{many}{rest}");
        }
    }
    shape.to_string()
}

/// What a value of `node` must be, in words.
fn shape(root: &Value, node: &Value, depth: usize) -> String {
    let node = unwrap_single(root, node);
    if depth > 4 {
        return "a value".into();
    }
    let c = choices(root, node);
    if !c.is_empty() {
        let list: Vec<String> = c.iter().map(|(v, _)| toml_value(v)).collect();
        return if list.len() == 1 { list[0].clone() } else { format!("one of {}", list.join(", ")) };
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = node.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = alts.iter().filter(|a| !is_null(a)).map(|a| shape(root, a, depth + 1)).collect();
            if !parts.is_empty() {
                return parts.join(" or ");
            }
        }
    }
    let t = types(node);
    let one = |t: &str| -> String {
        match t {
            "integer" | "number" => {
                let word = if t == "integer" { "an integer" } else { "a number" };
                match range_of(node) {
                    Some(r) => format!("{word} {r}"),
                    None => word.to_string(),
                }
            }
            "string" => "a string".into(),
            "boolean" => "true or false".into(),
            "array" => {
                let item = node.get("items").filter(|i| i.is_object()).map(|i| plural(&shape(root, i, depth + 1))).unwrap_or_else(|| "values".into());
                let n = (node.get("minItems").and_then(Value::as_u64), node.get("maxItems").and_then(Value::as_u64));
                match n {
                    (Some(a), Some(b)) if a == b => format!("a list of {a} × {item}"),
                    _ => format!("a list of {item}"),
                }
            }
            "object" => {
                if let Some(p) = node.get("properties").and_then(Value::as_object).filter(|p| !p.is_empty()) {
                    format!("a table with keys {}", p.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
                } else if let Some(ap) = node.get("additionalProperties").filter(|a| a.is_object()) {
                    format!("a table of name = {}", shape(root, ap, depth + 1))
                } else {
                    "a table".into()
                }
            }
            other => other.to_string(),
        }
    };
    match t.as_slice() {
        [] => "a value (see the description)".into(),
        [x] => one(x),
        many => many.iter().map(|x| one(x)).collect::<Vec<_>>().join(" or "),
    }
}

/// A value of the shape of `node`, built when the schema gives no example or default.
fn synth(root: &Value, node: &Value, depth: usize) -> Value {
    let node = unwrap_single(root, node);
    if let Some(e) = node.get("examples").and_then(Value::as_array).and_then(|e| e.first()) {
        return e.clone();
    }
    if let Some(d) = node.get("default").filter(|d| !d.is_null()) {
        return d.clone();
    }
    if let Some((v, _)) = choices(root, node).into_iter().next() {
        return v;
    }
    if depth > 4 {
        return Value::String("…".into());
    }
    if let Some(a) = ["oneOf", "anyOf"].iter().find_map(|k| node.get(*k).and_then(Value::as_array)).and_then(|alts| alts.iter().find(|a| !is_null(a))) {
        return synth(root, a, depth + 1);
    }
    let number = |n: &Value| -> Value {
        let int = types(n).iter().any(|t| t == "integer");
        let lo = n.get("minimum").or_else(|| n.get("exclusiveMinimum")).and_then(Value::as_f64);
        let hi = n.get("maximum").or_else(|| n.get("exclusiveMaximum")).and_then(Value::as_f64);
        let v = match (lo, hi) {
            (Some(l), Some(h)) if int => (l.max(1.0)).min(h),
            (Some(l), Some(h)) => (l + h) / 2.0,
            (Some(l), None) => l.max(1.0),
            (None, Some(h)) => h.min(1.0),
            (None, None) => 1.0,
        };
        if int { Value::from(v as i64) } else { serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::from(1)) }
    };
    match types(node).first().map(String::as_str) {
        Some("integer") | Some("number") => number(node),
        Some("boolean") => Value::Bool(true),
        Some("array") => {
            let item = node.get("items").filter(|i| i.is_object()).map(|i| synth(root, i, depth + 1)).unwrap_or(Value::from(1));
            let n = node.get("minItems").and_then(Value::as_u64).unwrap_or(1).clamp(1, 4) as usize;
            Value::Array(vec![item; n])
        }
        Some("object") => {
            let mut m = Map::new();
            if let Some(p) = node.get("properties").and_then(Value::as_object) {
                let req: Vec<&str> = node.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                for (k, v) in p.iter().filter(|(k, _)| req.is_empty() || req.contains(&k.as_str())) {
                    m.insert(k.clone(), synth(root, v, depth + 1));
                }
            } else if let Some(ap) = node.get("additionalProperties").filter(|a| a.is_object()) {
                m.insert("name".into(), synth(root, ap, depth + 1));
            }
            Value::Object(m)
        }
        _ => Value::String("…".into()),
    }
}

/// `v` written as a TOML value on one line (tables inline).
pub fn toml_value(v: &Value) -> String {
    match v {
        Value::Null => "\"…\"".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let s = n.to_string();
            // a float keeps its point so TOML reads it back as a float
            if n.is_f64() && !s.contains(['.', 'e', 'E']) { format!("{s}.0") } else { s }
        }
        Value::String(s) => toml::Value::String(s.clone()).to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => format!("{{ {} }}", m.iter().map(|(k, x)| format!("{} = {}", toml_key(k), toml_value(x))).collect::<Vec<_>>().join(", ")),
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') { k.to_string() } else { toml::Value::String(k.to_string()).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object", "required": ["grid"],
            "properties": {
                "families": {"description": "Component counts.", "type": ["object", "null"], "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100}, "examples": [{"uniform": 6, "lognorm": 4}]},
                "grid": {"description": "Grid.", "type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}}},
                "fitter": {"description": "The fitter.", "allOf": [{"$ref": "#/definitions/Fitter"}], "default": "em-compat"},
                "tol": {"description": "Tolerance.", "type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1},
                "bounds": {"description": "Box.", "allOf": [{"$ref": "#/definitions/Bounds"}]},
                "bare": {"type": "number"}
            },
            "definitions": {
                "Fitter": {"oneOf": [{"const": "em-compat", "description": "exact"}, {"const": "em-binned", "description": "binned"}]},
                "Bounds": {"type": "object", "properties": {"lo": {"description": "low", "type": "number", "minimum": 1}, "hi": {"type": "number"}}}
            }
        })
    }

    #[test]
    fn shapes_defaults_examples() {
        let s = settings(&schema());
        let by = |n: &str| s.iter().find(|x| x.name == n).unwrap().clone();
        assert_eq!(by("families").shape, "a table of name = an integer in [0, 100]");
        assert_eq!(toml_value(&by("families").example), "{ uniform = 6, lognorm = 4 }");
        assert_eq!(by("fitter").shape, "one of \"em-compat\", \"em-binned\"");
        assert_eq!(by("fitter").choices.len(), 2);
        assert_eq!(by("tol").shape, "a number in (0, 1]");
        assert!(by("grid").required && !by("tol").required);
        assert_eq!(toml_value(&by("grid").example), "{ name = [1] }");
        assert_eq!(by("grid").shape, "a table of name = a list of integers in [0, 9]");
        assert_eq!(by("bounds").shape, "a table with keys lo, hi");
    }

    #[test]
    fn type_mismatches_follow_refs_nulls_and_constants() {
        let given: Map<String, Value> = serde_json::from_value(json!({
            "families": null, "grid": [1], "fitter": 3, "tol": 2, "bounds": {"lo": "x"}, "bare": "y", "unknown": true
        }))
        .unwrap();
        let got = type_mismatches(&schema(), &given);
        // `families` may be null, an integer is a number, nested keys and unknown keys are the plugin's
        assert_eq!(got, vec![("grid".into(), "an array".into()), ("fitter".into(), "an integer `3`".into()), ("bare".into(), "a string `\"y\"`".into())]);
        let fine: Map<String, Value> = serde_json::from_value(json!({"fitter": "em-binned", "tol": 0.5, "grid": {}})).unwrap();
        assert!(type_mismatches(&schema(), &fine).is_empty());
    }

    #[test]
    fn expected_names_the_key_and_an_example() {
        let e = expected(&schema(), "families").unwrap();
        assert_eq!(e, "`families` expects a table of name = an integer in [0, 100], e.g. `families = { uniform = 6, lognorm = 4 }`");
        // below the documented depth: the nearest enclosing setting
        assert!(expected(&schema(), "families.lognorm").unwrap().starts_with("`families.lognorm` expects an integer in [0, 100]"));
        assert!(expected(&schema(), "bounds.lo").unwrap().contains("`lo = 1"));
        assert!(expected(&schema(), "nope").is_none());
    }

    #[test]
    fn undocumented_finds_missing_descriptions_and_ranges() {
        let u = undocumented(&schema());
        assert!(u.iter().any(|m| m.starts_with("bare: no description")), "{u:?}");
        assert!(u.iter().any(|m| m.starts_with("bare: a number without a range")), "{u:?}");
        assert!(u.iter().any(|m| m.starts_with("bounds.hi: no description")), "{u:?}");
        assert!(!u.iter().any(|m| m.starts_with("tol")), "{u:?}");
    }

    #[test]
    fn template_declarations_parse() {
        let u = template_use("histfit/makefile.tex", "{# for: histfit fit, histfit selection; shows: BIC picks #}\\documentclass{article}").unwrap();
        assert_eq!(u.capabilities, vec![("histfit".into(), "fit".into()), ("histfit".into(), "selection".into())]);
        assert_eq!(u.shows, "BIC picks");
        assert_eq!(template_use("x.tex", "\\documentclass{article}"), None);
    }
    #[test]
    fn toml_values_read_back() {
        for v in [json!({"a b": [1.5, 2.0], "c": "x\"y", "d": {"e": true}}), json!([1, 2]), json!(2.0)] {
            let text = format!("k = {}", toml_value(&v));
            let back: toml::Table = toml::from_str(&text).unwrap();
            assert_eq!(serde_json::to_value(&back["k"]).unwrap(), v, "{text}");
        }
    }
}
