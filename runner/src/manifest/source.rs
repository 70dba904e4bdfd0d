//! The spanned manifest document: where a key of the file, or of the normalised tree
//! (`tasks.<id>.<setting>`), was written, or which override layer set it. Every stage's
//! errors are placed through it (docs/design.md §1 Data flow).
use super::Seg;
use crate::error::Origin;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The manifest text with its span index.
#[derive(Debug, Clone)]
pub struct Source {
    /// File path.
    pub path: PathBuf,
    pub(super) text: String,
    pub(super) doc: toml_edit::Document<String>,
    /// Normalised top-level prefix (`tasks.<id>`, `datasets.<id>`) → file path.
    pub(super) prefixes: BTreeMap<String, Vec<Seg>>,
    /// Normalised key → origin of an override.
    pub(super) override_origins: BTreeMap<String, Origin>,
}

impl Source {
    /// The origin of a file path (deepest span found).
    pub fn locate(&self, path: &[Seg]) -> Origin {
        #[derive(Clone, Copy)]
        enum Node<'a> {
            Table(&'a toml_edit::Table),
            Inline(&'a toml_edit::InlineTable),
            Item(&'a toml_edit::Item),
            Value(&'a toml_edit::Value),
        }
        fn child<'a>(n: Node<'a>, seg: &Seg) -> Option<(Option<std::ops::Range<usize>>, Node<'a>)> {
            let n = match n {
                Node::Item(toml_edit::Item::Table(t)) => Node::Table(t),
                Node::Item(toml_edit::Item::Value(v)) => Node::Value(v),
                Node::Value(toml_edit::Value::InlineTable(t)) => Node::Inline(t),
                other => other,
            };
            match (n, seg) {
                (Node::Table(t), Seg::Key(k)) => t.get_key_value(k).map(|(key, it)| (key.span().or_else(|| it.span()), Node::Item(it))),
                (Node::Inline(t), Seg::Key(k)) => t.get_key_value(k).map(|(key, it)| (key.span().or_else(|| it.span()), Node::Item(it))),
                (Node::Item(toml_edit::Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(*i).map(|t| (t.span(), Node::Table(t))),
                (Node::Value(toml_edit::Value::Array(a)), Seg::Index(i)) => a.get(*i).map(|v| (v.span(), Node::Value(v))),
                _ => None,
            }
        }
        let mut best = None;
        let mut node = Node::Table(self.doc.as_table());
        for seg in path {
            match child(node, seg) {
                Some((span, next)) => {
                    best = span.or(best);
                    node = next;
                }
                None => break,
            }
        }
        match best {
            Some(r) => Origin::at(&self.path, &self.text, r.start),
            None => Origin::FileOnly(self.path.clone()),
        }
    }

    /// The origin of a normalised key path (`tasks.fit.iterations`): an override layer when
    /// the key was overridden, else its place in the file.
    pub fn locate_normalised(&self, norm: &[String]) -> Origin {
        for n in (1..=norm.len()).rev() {
            if let Some(o) = self.override_origins.get(&norm[..n].join(".")) {
                return o.clone();
            }
        }
        let mut segs = Vec::new();
        let mut rest = norm;
        if norm.len() >= 2
            && let Some(p) = self.prefixes.get(&format!("{}.{}", norm[0], norm[1]))
        {
            segs.extend(p.iter().cloned());
            rest = &norm[2..];
        }
        if segs.is_empty()
            && let Some(first) = norm.first()
            && first == "report"
        {
            segs.push(Seg::Key("report".into()));
            rest = &norm[1..];
            if let Some(i) = rest.first().and_then(|s| s.parse::<usize>().ok()) {
                segs.push(Seg::Index(i));
                rest = &rest[1..];
            }
        }
        // a plugin's key path may index arrays: `sizes[1]`, `metrics[0].top`
        for s in rest {
            let (key, mut idx) = s.split_once('[').map(|(k, i)| (k, Some(i))).unwrap_or((s.as_str(), None));
            if !key.is_empty() {
                segs.push(Seg::Key(key.to_string()));
            }
            while let Some(i) = idx {
                let (n, more) = i.split_once(']').unwrap_or((i, ""));
                match n.parse::<usize>() {
                    Ok(n) => segs.push(Seg::Index(n)),
                    Err(_) => break,
                }
                idx = more.strip_prefix('[');
            }
        }
        self.locate(&segs)
    }
}
