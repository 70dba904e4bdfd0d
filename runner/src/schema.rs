//! `flowlab schema`: the manifest's Draft-07 JSON Schema with every plugin's settings schema
//! merged in, so Taplo / Even Better TOML complete and check manifests (docs/design.md §1).
use crate::manifest::{DatasetDecl, Experiment, ReportDecl, RunCfg};
use flowlab_abi::CapabilityKind;
use flowlab_abi::host::LoadedPlugin;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(deny_unknown_fields)]
/// A flowlab experiment manifest.
struct ManifestCore {
    experiment: Experiment,
    run: Option<RunCfg>,
    dataset: Option<Vec<DatasetDecl>>,
    /// Cartesian grid over task settings: `"<task id>.<setting>" = [values]`.
    sweep: Option<BTreeMap<String, Vec<serde_json::Value>>>,
    report: Option<Vec<ReportDecl>>,
}

/// Rewrites `#/definitions/X` (and `#/$defs/X`) references to `#/definitions/<prefix>X`.
fn prefix_refs(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                for base in ["#/definitions/", "#/$defs/"] {
                    if let Some(name) = r.strip_prefix(base) {
                        *r = format!("#/definitions/{prefix}{name}");
                        break;
                    }
                }
            }
            for (_, x) in m.iter_mut() {
                prefix_refs(x, prefix);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| prefix_refs(x, prefix)),
        _ => {}
    }
}

/// Builds the schema from the given plugins (sorted by name for a stable file).
pub fn manifest_schema(plugins: &[&LoadedPlugin]) -> Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let root = generator.into_root_schema_for::<ManifestCore>();
    let mut root: Value = serde_json::to_value(root).unwrap_or(json!({}));
    let mut defs: Map<String, Value> = root.get("definitions").and_then(|d| d.as_object().cloned()).unwrap_or_default();
    let mut props: Map<String, Value> = root.get("properties").and_then(|d| d.as_object().cloned()).unwrap_or_default();
    let mut plugins: Vec<&LoadedPlugin> = plugins.to_vec();
    plugins.sort_by(|a, b| a.name().cmp(b.name()));
    // capability name -> variants
    let mut caps: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let mut generators: Vec<Value> = Vec::new();
    for p in &plugins {
        let mut cs = p.description.capabilities.clone();
        cs.sort_by(|a, b| a.name.cmp(&b.name));
        for c in cs {
            let prefix = format!("{}.{}.", p.name(), c.name);
            let mut s = c.settings_schema.clone();
            prefix_refs(&mut s, &prefix);
            if let Some(o) = s.as_object_mut() {
                for key in ["definitions", "$defs"] {
                    if let Some(Value::Object(d)) = o.remove(key) {
                        for (k, v) in d {
                            defs.insert(format!("{prefix}{k}"), v);
                        }
                    }
                }
                o.remove("$schema");
            }
            let mut properties: Map<String, Value> = s.get("properties").and_then(|p| p.as_object().cloned()).unwrap_or_default();
            let required = s.get("required").cloned();
            match c.kind {
                CapabilityKind::Task => {
                    properties.insert("plugin".into(), json!({"description": format!("{} — {}", p.name(), p.description.summary), "enum": [p.name()]}));
                    properties.insert("id".into(), json!({"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]*$", "description": "task id (default: the section name): letters, digits, `_`, `-`; no `.`, which separates the id from the setting in sweep keys"}));
                    properties.insert("capability".into(), json!({"type": "string", "enum": [c.name]}));
                    properties.insert("isolation".into(), json!({"type": "string", "enum": ["in-process", "subprocess"], "description": "where this section's cells run (overrides [run] isolation)"}));
                    properties.insert("timeout_s".into(), json!({"type": "number", "exclusiveMinimum": 0, "description": "time limit of one cell in seconds (hard for subprocess cells, soft for in-process ones; overrides [run] timeout_s)"}));
                    if !c.datasetless {
                        properties.insert("datasets".into(), json!({"type": "array", "items": {"type": "string"}, "description": "dataset ids (default: every dataset of an accepted format)"}));
                    } else if !c.accepts.is_empty() {
                        properties.insert("datasets".into(), json!({"type": "array", "items": {"type": "string"}, "description": format!("dataset ids of format {} (default: none; the task runs without a dataset)", c.accepts.join(" or "))}));
                    }
                    let mut variant = json!({"type": "object", "description": c.summary, "properties": properties, "required": ["plugin"]});
                    if let Some(Value::Array(r)) = required {
                        let mut all = vec![json!("plugin")];
                        all.extend(r);
                        variant["required"] = Value::Array(all);
                    }
                    if let Some(ap) = s.get("additionalProperties") {
                        variant["additionalProperties"] = ap.clone();
                    }
                    caps.entry(c.name.clone()).or_default().push((p.name().to_string(), variant));
                }
                CapabilityKind::Dataset => {
                    let mut settings = s.clone();
                    if let Some(o) = settings.as_object_mut() {
                        o.remove("title");
                    }
                    generators.push(json!({"if": {"properties": {"plugin": {"const": p.name()}, "capability": {"const": c.name}}, "required": ["plugin", "capability"]}, "then": {"properties": {"settings": settings}}}));
                }
            }
        }
    }
    // A section named after a capability is one table or an array of tables. `if`/`then`
    // (not `anyOf`) so that a validator reports the offending key inside the section instead
    // of "not valid under any of the schemas"; a capability several plugins provide is
    // discriminated by `plugin` the same way.
    for (name, variants) in &caps {
        let one = if variants.len() == 1 {
            variants[0].1.clone()
        } else {
            let plugins: Vec<&str> = variants.iter().map(|(p, _)| p.as_str()).collect();
            let branches: Vec<Value> = variants.iter().map(|(p, v)| json!({"if": {"properties": {"plugin": {"const": p}}, "required": ["plugin"]}, "then": v})).collect();
            json!({"type": "object", "required": ["plugin"], "properties": {"plugin": {"enum": plugins, "description": format!("the plugin providing `{name}`: {}", plugins.join(" or "))}}, "allOf": branches})
        };
        defs.insert(format!("task.{name}"), one);
        let r = json!({"$ref": format!("#/definitions/task.{name}")});
        props.insert(name.clone(), json!({"type": ["object", "array"], "if": {"type": "array"}, "then": {"items": r.clone()}, "else": r}));
    }
    // `[sweep]` keys are `<task id>.<setting>`: the setting must be one that some task
    // capability has, and where the task id is the capability's own name (the default), the
    // swept values are checked against that setting's schema
    let mut setting_names: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut per_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (name, variants) in &caps {
        for (_, v) in variants {
            if let Some(ps) = v.get("properties").and_then(Value::as_object) {
                for (k, schema) in ps {
                    if matches!(k.as_str(), "plugin" | "id" | "capability" | "isolation" | "timeout_s" | "datasets") {
                        continue;
                    }
                    setting_names.insert(k.clone());
                    per_key.entry(format!("{name}.{k}")).or_default().push(schema.clone());
                }
            }
        }
    }
    if let Some(sweep) = props.get_mut("sweep") {
        let alternatives: Vec<String> = setting_names.iter().map(|k| regex_escape(k)).collect();
        sweep["propertyNames"] = json!({"pattern": format!("^[^.]+\\.({})(\\..+)?$", alternatives.join("|")), "description": "\"<task id>.<setting>\" naming a setting of the task's capability"});
        let mut patterns = Map::new();
        for (key, schemas) in per_key {
            // a setting two plugins share under one capability name is checked by neither
            if let [one] = schemas.as_slice() {
                patterns.insert(format!("^{}$", regex_escape(&key)), json!({"type": "array", "minItems": 1, "items": one, "description": one.get("description").cloned().unwrap_or(Value::Null)}));
            }
        }
        sweep["patternProperties"] = Value::Object(patterns);
    }
    if !generators.is_empty()
        && let Some(d) = defs.get_mut("DatasetDecl")
    {
        d["allOf"] = Value::Array(generators);
    }
    let o = root.as_object_mut().expect("object");
    o.insert("title".into(), json!("flowlab manifest"));
    o.insert("properties".into(), Value::Object(props));
    o.insert("additionalProperties".into(), json!(false));
    o.insert("definitions".into(), Value::Object(defs));
    simplify(&mut root);
    root
}

/// The plugins `flowlab schema` merges: every discovered plugin except flowlab's test plugin.
pub fn schema_plugins() -> Vec<&'static LoadedPlugin> {
    let mut v: Vec<&'static LoadedPlugin> = flowlab_abi::host::candidate_files().iter().filter_map(|f| LoadedPlugin::load(f).ok()).filter(|p| !p.description.internal).collect();
    v.sort_by(|a, b| a.name().cmp(b.name()));
    v.dedup_by(|a, b| a.name() == b.name());
    v
}

/// `s` with the regular-expression metacharacters escaped (setting names are plain words, but
/// a schema must never be a wrong pattern).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rewrites the generated schema into the forms a validator reports well, recursively (TOML
/// has no null, and an editor should say "not one of [...]" at the key rather than "not
/// valid under any of the schemas"):
/// - `null` is dropped from `type` lists, and `anyOf: [X, {"type": "null"}]` becomes `X`;
/// - a `oneOf` whose alternatives are all constants becomes one `enum`, their descriptions
///   folded into the description as a list.
fn simplify(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(simplify),
        Value::Object(m) => {
            m.values_mut().for_each(simplify);
            if let Some(Value::Array(ts)) = m.get_mut("type") {
                ts.retain(|t| t != "null");
                if ts.len() == 1 {
                    let one = ts[0].clone();
                    m.insert("type".into(), one);
                }
            }
            if let Some(Value::Array(alts)) = m.get("anyOf") {
                let real: Vec<Value> = alts.iter().filter(|a| a.get("type").and_then(Value::as_str) != Some("null")).cloned().collect();
                if real.len() == 1 && real.len() < alts.len() {
                    m.remove("anyOf");
                    if let Value::Object(inner) = &real[0] {
                        for (k, x) in inner {
                            if k != "description" || !m.contains_key("description") {
                                m.insert(k.clone(), x.clone());
                            }
                        }
                    }
                }
            }
            if let Some(Value::Array(alts)) = m.get("oneOf")
                && !alts.is_empty()
                && alts.iter().all(|a| a.get("const").is_some())
            {
                let values: Vec<Value> = alts.iter().filter_map(|a| a.get("const").cloned()).collect();
                let lines: Vec<String> = alts
                    .iter()
                    .filter_map(|a| Some(format!("- `{}`: {}", a.get("const")?.as_str().map(str::to_string).unwrap_or_else(|| a["const"].to_string()), a.get("description")?.as_str()?)))
                    .collect();
                m.remove("oneOf");
                m.insert("enum".into(), Value::Array(values));
                if !lines.is_empty() {
                    let head = m.get("description").and_then(Value::as_str).map(|d| format!("{d}\n\n")).unwrap_or_default();
                    m.insert("description".into(), Value::String(format!("{head}{}", lines.join("\n"))));
                }
            }
        }
        _ => {}
    }
}
