//! Stage 1 of a manifest (docs/design.md, "Manifest stages"): TOML text → the spanned
//! document ([`Source`]) and the normalised tree, in which `[[dataset]]` and task sections
//! are keyed by id (`datasets.<id>`, `tasks.<id>`) so that overrides can address them.
//!
//! The text is parsed once, by toml_edit (which keeps spans); the tree is converted from that
//! document with every table's keys in sorted order, as the `toml` crate's `Table` (a
//! `BTreeMap`) has always given them, so task order and error order are unchanged.
use super::{RESERVED, Seg, Source, err, is_safe_name, suggest, type_name};
use crate::error::{ManifestError, ManifestErrors, Origin};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The output of the parse stage.
#[derive(Debug)]
pub struct Parsed {
    /// The text, its spans, and the file paths of the normalised prefixes.
    pub source: Source,
    /// `experiment`, `run`, `sweep` (tables), `report` (an array), `datasets` and `tasks`
    /// (tables keyed by id).
    pub norm: Map<String, Value>,
    /// (task id, section name) in order.
    pub task_order: Vec<(String, String)>,
    /// Dataset ids in order.
    pub dataset_order: Vec<String>,
}

/// Parses `text` (the file `path`) and normalises it. Stops after the first step that finds
/// errors: TOML syntax, then non-finite numbers, then the shape of the sections.
pub fn parse(path: &Path, text: String) -> Result<Parsed, ManifestErrors> {
    let doc = toml_edit::Document::parse(text.clone()).map_err(|e| {
        let origin = e.span().map(|r| Origin::at(path, &text, r.start)).unwrap_or(Origin::FileOnly(path.into()));
        ManifestErrors(vec![err(origin, format!("TOML syntax error: {}", e.message().trim())).help("fix the TOML syntax (quotes around strings, `=` between key and value, one definition per key)")])
    })?;
    let mut nonfinite = Vec::new();
    let table = table_json(doc.as_table().iter(), &mut Vec::new(), &mut nonfinite);
    let source = Source { path: path.to_path_buf(), text, doc, prefixes: BTreeMap::new(), override_origins: BTreeMap::new() };
    if !nonfinite.is_empty() {
        return Err(ManifestErrors(nonfinite.iter().map(|at| nonfinite_error(&source, at)).collect()));
    }
    normalise(source, table)
}

/// The error for a `nan` or `inf` at `at`: no flowlab or plugin setting takes them, and
/// serde's "invalid type: string \"NaN\"" would hide the cause.
fn nonfinite_error(source: &Source, at: &[Seg]) -> ManifestError {
    let key = at
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".");
    err(source.locate(at), format!("`{key}` must be a finite number (nan and inf are not accepted)")).help("write a finite value, e.g. 1e300")
}

/// A table of the document as JSON, keys sorted; the paths of non-finite floats are added to
/// `nonfinite` (`at`: the table's own path).
fn table_json<'a, V: Into<Node<'a>>>(entries: impl Iterator<Item = (&'a str, V)>, at: &mut Vec<Seg>, nonfinite: &mut Vec<Vec<Seg>>) -> Value {
    let mut sorted: Vec<(&str, Node)> = entries.map(|(k, v)| (k, v.into())).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Map::new();
    for (k, v) in sorted {
        at.push(Seg::Key(k.to_string()));
        out.insert(k.to_string(), node_json(v, at, nonfinite));
        at.pop();
    }
    Value::Object(out)
}

/// An item or a value of the document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a toml_edit::Item),
    Value(&'a toml_edit::Value),
}

impl<'a> From<&'a toml_edit::Item> for Node<'a> {
    fn from(i: &'a toml_edit::Item) -> Self {
        Node::Item(i)
    }
}

impl<'a> From<&'a toml_edit::Value> for Node<'a> {
    fn from(v: &'a toml_edit::Value) -> Self {
        Node::Value(v)
    }
}

/// One node as JSON (the conversion `toml::Value` → JSON has always made: datetimes as their
/// TOML text, floats through `flowlab_abi::json::num`).
fn node_json(n: Node, at: &mut Vec<Seg>, nonfinite: &mut Vec<Vec<Seg>>) -> Value {
    use toml_edit::{Item, Value as V};
    let indexed = |items: Vec<Node>, at: &mut Vec<Seg>, nonfinite: &mut Vec<Vec<Seg>>| {
        let mut out = Vec::with_capacity(items.len());
        for (i, x) in items.into_iter().enumerate() {
            at.push(Seg::Index(i));
            out.push(node_json(x, at, nonfinite));
            at.pop();
        }
        Value::Array(out)
    };
    match n {
        Node::Item(Item::None) => Value::Null,
        Node::Item(Item::Value(v)) => node_json(Node::Value(v), at, nonfinite),
        Node::Item(Item::Table(t)) => table_json(t.iter(), at, nonfinite),
        Node::Item(Item::ArrayOfTables(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, t) in a.iter().enumerate() {
                at.push(Seg::Index(i));
                out.push(table_json(t.iter(), at, nonfinite));
                at.pop();
            }
            Value::Array(out)
        }
        Node::Value(V::String(s)) => Value::String(s.value().clone()),
        Node::Value(V::Integer(i)) => Value::from(*i.value()),
        Node::Value(V::Float(f)) => {
            if !f.value().is_finite() {
                nonfinite.push(at.clone());
            }
            flowlab_abi::json::num(*f.value())
        }
        Node::Value(V::Boolean(b)) => Value::Bool(*b.value()),
        Node::Value(V::Datetime(d)) => Value::String(d.value().to_string()),
        Node::Value(V::Array(a)) => indexed(a.iter().map(Node::Value).collect(), at, nonfinite),
        Node::Value(V::InlineTable(t)) => table_json(t.iter(), at, nonfinite),
    }
}

/// The normalised tree being built.
struct Normaliser {
    source: Source,
    norm: Map<String, Value>,
    tasks: Map<String, Value>,
    datasets: Map<String, Value>,
    task_order: Vec<(String, String)>,
    dataset_order: Vec<String>,
    errors: Vec<ManifestError>,
}

/// Keys the sections of the document: reserved sections as they are, `[[dataset]]` and task
/// sections by id; every section's shape and id is checked.
fn normalise(source: Source, table: Value) -> Result<Parsed, ManifestErrors> {
    let Value::Object(table) = table else { unreachable!("a document is a table") };
    let mut n = Normaliser { source, norm: Map::new(), tasks: Map::new(), datasets: Map::new(), task_order: Vec::new(), dataset_order: Vec::new(), errors: Vec::new() };
    for (key, v) in table {
        n.section(key, v);
    }
    for id in n.tasks.keys() {
        if n.datasets.contains_key(id) {
            let o = n.source.locate_normalised(&["tasks".into(), id.clone()]);
            n.errors.push(err(o, format!("`{id}` is both a task id and a dataset id")).help("rename one of them; override keys (`--set {id}.x=…`) must be unambiguous"));
        }
    }
    if !n.errors.is_empty() {
        return Err(ManifestErrors(n.errors));
    }
    n.norm.insert("datasets".into(), Value::Object(n.datasets));
    n.norm.insert("tasks".into(), Value::Object(n.tasks));
    Ok(Parsed { source: n.source, norm: n.norm, task_order: n.task_order, dataset_order: n.dataset_order })
}

/// A section written once (`[x]`) or repeated (`[[x]]`): its tables, and whether it is an array.
fn tables(v: Value) -> Result<(Vec<Value>, bool), Value> {
    match v {
        Value::Array(a) => Ok((a, true)),
        Value::Object(_) => Ok((vec![v], false)),
        other => Err(other),
    }
}

impl Normaliser {
    /// One top-level key.
    fn section(&mut self, key: String, v: Value) {
        let here = self.source.locate(&[Seg::Key(key.clone())]);
        match key.as_str() {
            "experiment" | "run" | "sweep" => {
                if !v.is_object() {
                    self.errors.push(err(here, format!("`{key}` must be a table, found {}", type_name(&v))).help(format!("write it as a [{key}] section")));
                    return;
                }
                self.norm.insert(key, v);
            }
            "report" => match tables(v) {
                Ok((arr, _)) => {
                    self.norm.insert("report".into(), Value::Array(arr));
                }
                Err(other) => self.errors.push(err(here, format!("`report` must be an array of tables, found {}", type_name(&other))).help("write each report as a [[report]] section")),
            },
            "dataset" => match tables(v) {
                Ok((arr, is_array)) => {
                    for (i, d) in arr.into_iter().enumerate() {
                        let fpath = if is_array { vec![Seg::Key("dataset".into()), Seg::Index(i)] } else { vec![Seg::Key("dataset".into())] };
                        self.dataset(fpath, d);
                    }
                }
                Err(other) => {
                    self.errors.push(err(here, format!("`dataset` must be an array of tables, found {}", type_name(&other))).help("write each dataset as a [[dataset]] section with an `id`"))
                }
            },
            section => {
                let (arr, is_array) = match v {
                    Value::Array(a) if a.iter().all(|x| x.is_object()) && !a.is_empty() => (a, true),
                    Value::Object(_) => (vec![v], false),
                    other => {
                        let hint = suggest(section, RESERVED)
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| "top-level keys are experiment, run, dataset, sweep, report, or plugin task sections".into());
                        self.errors.push(err(here, format!("unknown top-level key `{section}` ({})", type_name(&other))).help(hint));
                        return;
                    }
                };
                let n = arr.len();
                for (i, t) in arr.into_iter().enumerate() {
                    let fpath = if is_array { vec![Seg::Key(section.into()), Seg::Index(i)] } else { vec![Seg::Key(section.into())] };
                    // the default id: the section name, or `name-N` for repeated sections
                    let default_id = if n == 1 { section.to_string() } else { format!("{section}-{}", i + 1) };
                    self.task(section, fpath, default_id, t);
                }
            }
        }
    }

    /// The id at `fpath` (`[fpath…, id]`).
    fn id_origin(&self, fpath: &[Seg]) -> Origin {
        self.source.locate(&[fpath.to_vec(), vec![Seg::Key("id".into())]].concat())
    }

    /// One `[[dataset]]` table at `fpath`.
    fn dataset(&mut self, fpath: Vec<Seg>, d: Value) {
        let Some(id) = d.get("id").and_then(|x| x.as_str()).map(str::to_string) else {
            self.errors.push(err(self.source.locate(&fpath), "a [[dataset]] needs an `id`").help("add `id = \"my-data\"` to the section"));
            return;
        };
        if !is_safe_name(&id) {
            self.errors.push(err(self.id_origin(&fpath), format!("dataset id `{id}` may only use letters, digits, `.`, `_`, `-`, and not start with `.` or `-`")));
            return;
        }
        if self.datasets.contains_key(&id) {
            self.errors.push(err(self.id_origin(&fpath), format!("duplicate dataset id `{id}`")).help("give every [[dataset]] a distinct id"));
            return;
        }
        self.source.prefixes.insert(format!("datasets.{id}"), fpath);
        self.dataset_order.push(id.clone());
        self.datasets.insert(id, d);
    }

    /// One task section table at `fpath`.
    fn task(&mut self, section: &str, fpath: Vec<Seg>, default_id: String, t: Value) {
        if t.get("plugin").is_none() {
            let hint = match suggest(section, RESERVED) {
                Some(s) => format!("did you mean `[{s}]`?"),
                None => format!("a task section names its plugin: add `plugin = \"…\"` (see `flowlab plugins`) or remove [{section}]"),
            };
            self.errors.push(err(self.source.locate(&fpath), format!("unknown section `{section}`: it is not a flowlab section and has no `plugin`")).help(hint));
            return;
        }
        let id = match t.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                self.errors.push(err(self.id_origin(&fpath), format!("`id` must be a string, found {}", type_name(other))));
                return;
            }
            None => default_id,
        };
        if !is_safe_name(&id) {
            self.errors.push(err(self.source.locate(&fpath), format!("task id `{id}` may only use letters, digits, `.`, `_`, `-`, and not start with `.` or `-`")));
            return;
        }
        if id.contains('.') {
            // sweep keys and `--set tasks.<id>.…` split at the first `.`: a dotted id could
            // not be swept, and `a.b.draws` would read as task `a`'s `b.draws`
            self.errors.push(
                err(self.id_origin(&fpath), format!("task id `{id}` contains `.`, which separates a task id from its setting in sweep keys (`<task id>.<setting>`)"))
                    .help("use `_` or `-` instead of `.`"),
            );
            return;
        }
        if RESERVED.contains(&id.as_str()) {
            self.errors.push(err(self.id_origin(&fpath), format!("task id `{id}` is reserved for a section of the manifest (reserved: {})", RESERVED.join(", "))).help("give the task another `id`"));
            return;
        }
        if self.tasks.contains_key(&id) {
            self.errors.push(err(self.id_origin(&fpath), format!("duplicate task id `{id}`")).help("give each task section a distinct `id`"));
            return;
        }
        self.source.prefixes.insert(format!("tasks.{id}"), fpath);
        self.task_order.push((id.clone(), section.to_string()));
        self.tasks.insert(id, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(text: &str) -> Result<Parsed, Vec<String>> {
        parse(Path::new("m.toml"), text.to_string()).map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
    }

    /// The tree as the `toml` crate gives it (the conversion before the stages).
    fn via_toml(v: &toml::Value) -> Value {
        match v {
            toml::Value::String(s) => Value::String(s.clone()),
            toml::Value::Integer(i) => Value::from(*i),
            toml::Value::Float(f) => flowlab_abi::json::num(*f),
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Datetime(d) => Value::String(d.to_string()),
            toml::Value::Array(a) => Value::Array(a.iter().map(via_toml).collect()),
            toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), via_toml(v))).collect()),
        }
    }

    #[test]
    fn the_tree_is_the_toml_crates_with_its_key_order() {
        let mut texts: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/experiments"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        assert!(texts.len() >= 10, "the shipped experiments");
        texts.push(
            r#"z = 1
a.b.c = "dotted"
when = 1979-05-27T07:32:00-08:00
day = 1979-05-27
at = 07:32:00.999
m = { q = [1, 2.5, -0.0, 1e300], p = { x = true } }
hex = 0xff
s = 'lit\n'
[[t]]
y = [[1, 2], ["a"]]
[[t]]
b = """multi
line"""
[t.sub]
k = -9223372036854775808
"#
            .into(),
        );
        for text in texts {
            let doc = toml_edit::Document::parse(text.clone()).unwrap();
            let mut bad = Vec::new();
            let got = table_json(doc.as_table().iter(), &mut Vec::new(), &mut bad);
            let want = via_toml(&toml::Value::Table(toml::from_str(&text).unwrap()));
            assert!(bad.is_empty());
            // serde_json keeps insertion order: compare the text, which shows the order too
            assert_eq!(serde_json::to_string(&got).unwrap(), serde_json::to_string(&want).unwrap(), "{text}");
        }
    }

    #[test]
    fn tasks_and_datasets_are_keyed_by_id_in_sorted_section_order() {
        let p = parsed(
            "[experiment]\nname = \"x\"\nseed = 1\n[[zeta]]\nplugin = \"p\"\n[[alpha]]\nplugin = \"p\"\n[[alpha]]\nplugin = \"p\"\nid = \"second\"\n\
             [[dataset]]\nid = \"d1\"\npath = \"a\"\n[[dataset]]\nid = \"d0\"\npath = \"b\"\n",
        )
        .unwrap();
        let ids: Vec<&str> = p.task_order.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, ["alpha-1", "second", "zeta"], "sections in key order, repeated ones numbered");
        assert_eq!(p.dataset_order, ["d1", "d0"], "datasets in file order");
        assert_eq!(p.norm["tasks"]["second"], json!({"plugin": "p", "id": "second"}));
        assert_eq!(p.norm["datasets"]["d0"]["path"], json!("b"));
        assert_eq!(p.source.locate_normalised(&["tasks".into(), "second".into(), "plugin".into()]).to_string(), "m.toml:9:1");
    }

    #[test]
    fn shape_errors_are_all_reported_at_their_lines() {
        let e = parsed("experiment = 3\n[[dataset]]\npath = \"a\"\n[[dataset]]\nid = \"a b\"\n[[dataset]]\nid = \"x\"\n[[dataset]]\nid = \"x\"\n[fitt]\nk = 1\n").unwrap_err();
        assert_eq!(e.len(), 5, "{e:#?}");
        assert!(e[0].contains("a [[dataset]] needs an `id`") && e[0].starts_with("m.toml:2:"), "{}", e[0]);
        assert!(e[1].contains("dataset id `a b` may only use") && e[1].starts_with("m.toml:5:"), "{}", e[1]);
        assert!(e[2].contains("duplicate dataset id `x`") && e[2].starts_with("m.toml:9:"), "{}", e[2]);
        assert!(e[3].contains("`experiment` must be a table, found a number"), "{}", e[3]);
        assert!(e[4].contains("unknown section `fitt`") && e[4].starts_with("m.toml:10:"), "{}", e[4]);
    }

    #[test]
    fn a_dotted_task_id_is_refused_at_its_line() {
        let e = parsed("[experiment]\nname = \"x\"\nseed = 1\n[[probe]]\nplugin = \"p\"\nid = \"a.b\"\n").unwrap_err();
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].contains("task id `a.b` contains `.`") && e[0].starts_with("m.toml:6:"), "{}", e[0]);
    }

    #[test]
    fn a_task_named_after_a_section_is_reserved_not_a_duplicate() {
        let e = parsed("[experiment]\nname = \"x\"\nseed = 1\n[[probe]]\nplugin = \"p\"\nid = \"experiment\"\n").unwrap_err();
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].contains("task id `experiment` is reserved for a section of the manifest") && e[0].starts_with("m.toml:6:"), "{}", e[0]);
    }

    #[test]
    fn syntax_and_nonfinite_errors_stop_the_stage() {
        let e = parsed("[experiment]\nname = \n").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("m.toml:2:") && e[0].contains("TOML syntax error"), "{}", e[0]);
        let e = parsed("[f]\nplugin = \"p\"\nb = nan\na = [1.0, -inf]\n").unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(e[0].contains("`f.a.1` must be a finite number") && e[0].starts_with("m.toml:4:"), "{}", e[0]);
        assert!(e[1].contains("`f.b` must be a finite number") && e[1].starts_with("m.toml:3:"), "{}", e[1]);
    }
}
