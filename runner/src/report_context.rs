//! What every report template gets per cell besides the stored record (docs/reports.md,
//! "Context"): the cell's sweep point as words, a label that tells it apart from the other
//! cells of its task, the settings that tell it apart from the cells of other tasks with the
//! same capability, and the task's cells grouped by sweep point (replicates together), so
//! that no template numbers cells by id or repeats a heading.
use serde_json::{Map, Value, json};

/// Longest value text in a label; longer values are cut with `…` (a label names a point, it
/// does not print a data file).
const MAX_VALUE_CHARS: usize = 40;

/// A setting's value as words: strings bare, `{uniform = 6, lognorm = 4}` as
/// `uniform 6, lognorm 4`, arrays as `[a, b]`.
pub fn value_words(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.iter().map(|(k, v)| format!("{k} {}", value_words(v))).collect::<Vec<_>>().join(", "),
        Value::Array(a) => format!("[{}]", a.iter().map(value_words).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    };
    if s.chars().count() > MAX_VALUE_CHARS { format!("{}…", s.chars().take(MAX_VALUE_CHARS - 1).collect::<String>()) } else { s }
}

/// `key = value` pairs joined by `; ` (`families = uniform 6, lognorm 4; iterations = 400`).
fn pairs_label<'a>(pairs: impl Iterator<Item = (&'a str, &'a Value)>) -> String {
    pairs.map(|(k, v)| format!("{k} = {}", value_words(v))).collect::<Vec<_>>().join("; ")
}

/// The sweep point of a record without the task prefix: `[(setting, value)]` in stored order.
fn point_pairs(r: &Value) -> Vec<(String, Value)> {
    let task = r["task"].as_str().unwrap_or("");
    match &r["point"] {
        Value::Object(p) => p.iter().map(|(k, v)| (k.strip_prefix(task).and_then(|k| k.strip_prefix('.')).unwrap_or(k).to_string(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

fn dataset_id(r: &Value) -> String {
    r["dataset"]["id"].as_str().or_else(|| r["dataset"].as_str()).unwrap_or("").to_string()
}

/// Adds to every task record of `cells` (in place):
/// - `point_items`: `[{key, value, text}]`, the swept settings (task prefix dropped);
/// - `point_label`: `families = uniform 6, lognorm 4; iterations = 400` (empty without a sweep);
/// - `varying_label`: the settings whose values differ among the task cells of the same
///   capability (over all tasks), `key = value; …` — tells `flows` from `flows-binned`;
/// - `group_label`: dataset (when the task has several), then `point_label`, else the
///   dataset — unique per sweep point within the task;
/// - `label`: `group_label` plus `replicate r` when the experiment has replicates.
pub fn label_cells(cells: &mut [Value], replicates: u32) {
    // settings keys whose values differ among the cells of each capability
    let mut varying: Map<String, Value> = Map::new();
    let mut first: Map<String, Value> = Map::new();
    for r in cells.iter().filter(|r| r["kind"] == "task") {
        let cap = format!("{}:{}", r["plugin"].as_str().unwrap_or(""), r["capability"].as_str().unwrap_or(""));
        let Some(s) = r["settings"].as_object() else { continue };
        match first.get(&cap).and_then(Value::as_object) {
            None => {
                first.insert(cap.clone(), Value::Object(s.clone()));
            }
            Some(f) => {
                let v = varying.entry(cap.clone()).or_insert_with(|| json!({})).as_object_mut().expect("object");
                for k in f.keys().chain(s.keys()) {
                    if f.get(k) != s.get(k) {
                        v.insert(k.clone(), Value::Bool(true));
                    }
                }
            }
        }
    }
    let mut task_datasets: Map<String, Value> = Map::new();
    for r in cells.iter().filter(|r| r["kind"] == "task") {
        let ds = task_datasets.entry(r["task"].as_str().unwrap_or("").to_string()).or_insert_with(|| json!([])).as_array_mut().expect("array");
        let id = Value::String(dataset_id(r));
        if !ds.contains(&id) {
            ds.push(id);
        }
    }
    for r in cells.iter_mut().filter(|r| r["kind"] == "task") {
        let pairs = point_pairs(r);
        let point_label = pairs_label(pairs.iter().map(|(k, v)| (k.as_str(), v)));
        let cap = format!("{}:{}", r["plugin"].as_str().unwrap_or(""), r["capability"].as_str().unwrap_or(""));
        let settings = r["settings"].clone();
        // in the cell's own settings order, then keys it lacks
        let vary = varying.get(&cap).and_then(Value::as_object).cloned().unwrap_or_default();
        let own: Vec<String> = settings.as_object().map(|s| s.keys().filter(|k| vary.contains_key(*k)).cloned().collect()).unwrap_or_default();
        let keys: Vec<String> = own.iter().cloned().chain(vary.keys().filter(|k| !own.contains(k)).cloned()).collect();
        let varying_label = pairs_label(keys.iter().map(|k| (k.as_str(), settings.get(k).unwrap_or(&Value::Null))));
        let many_datasets = task_datasets.get(r["task"].as_str().unwrap_or("")).and_then(Value::as_array).is_some_and(|d| d.len() > 1);
        let dataset = dataset_id(r);
        let group_label = match (many_datasets || point_label.is_empty(), point_label.is_empty()) {
            (true, true) => dataset,
            (true, false) => format!("{dataset}; {point_label}"),
            (false, _) => point_label.clone(),
        };
        let label = if replicates > 1 { format!("{group_label}; replicate {}", r["replicate"]) } else { group_label.clone() };
        let items: Vec<Value> = pairs.iter().map(|(k, v)| json!({"key": k, "value": v, "text": value_words(v)})).collect();
        if let Some(o) = r.as_object_mut() {
            o.insert("point_items".into(), Value::Array(items));
            o.insert("point_label".into(), Value::String(point_label));
            o.insert("varying_label".into(), Value::String(varying_label));
            o.insert("group_label".into(), Value::String(group_label));
            o.insert("label".into(), Value::String(label));
        }
    }
}

/// A task's cells grouped by dataset and sweep point, in first-appearance order:
/// `[{label, dataset, point_label, point_items, cells, ok}]` — the replicates of one point
/// together (`ok`: how many succeeded), to aggregate with the `stats` / `mean_sd` filters.
/// `cells` must have been labelled by [`label_cells`].
pub fn groups(cells: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for c in cells {
        let key = (dataset_id(c), c["point"].clone());
        let found = out.iter_mut().find(|g| g["dataset"] == key.0 && g["point"] == key.1);
        let g = match found {
            Some(g) => g,
            None => {
                out.push(json!({"label": c["group_label"], "dataset": key.0, "point": key.1, "point_label": c["point_label"], "point_items": c["point_items"], "cells": [], "ok": 0}));
                out.last_mut().expect("pushed")
            }
        };
        g["cells"].as_array_mut().expect("array").push(c.clone());
        if c["status"] == "ok" {
            g["ok"] = json!(g["ok"].as_u64().unwrap_or(0) + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    fn cell(task: &str, ds: &str, point: Value, settings: Value, rep: u32) -> Value {
        json!({"kind": "task", "task": task, "plugin": "p", "capability": "fit", "dataset": {"id": ds}, "point": point, "settings": settings, "replicate": rep, "status": "ok"})
    }
    #[test]
    fn labels_name_the_swept_settings_and_the_replicate() {
        let fam = json!({"uniform": 6, "lognorm": 4});
        let mut cells = vec![
            cell("fit", "a", json!({"fit.families": fam, "fit.iterations": 400}), json!({"families": fam, "iterations": 400, "column": "flows"}), 0),
            cell("fit", "a", json!({"fit.families": fam, "fit.iterations": 400}), json!({"families": fam, "iterations": 400, "column": "flows"}), 1),
            cell("fit", "a", json!({"fit.families": fam, "fit.iterations": 200}), json!({"families": fam, "iterations": 200, "column": "flows"}), 0),
            cell("other", "a", json!({}), json!({"families": fam, "iterations": 400, "column": "octets"}), 0),
        ];
        label_cells(&mut cells, 2);
        assert_eq!(cells[0]["point_label"], "families = uniform 6, lognorm 4; iterations = 400");
        assert_eq!(cells[1]["label"], "families = uniform 6, lognorm 4; iterations = 400; replicate 1");
        assert_eq!(cells[2]["point_items"][1], json!({"key": "iterations", "value": 200, "text": "200"}));
        assert_eq!(cells[3]["label"], "a; replicate 0");
        assert_eq!(cells[3]["varying_label"], "iterations = 400; column = octets");
        let g = groups(&cells[..3]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0]["cells"].as_array().unwrap().len(), 2);
        assert_eq!(g[0]["ok"], 2);
        assert_eq!(g[1]["label"], "families = uniform 6, lognorm 4; iterations = 200");
    }
}
