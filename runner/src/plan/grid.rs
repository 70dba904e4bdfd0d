//! A task's settings grid: its base settings and sweep axes, enumerated point by point.
use super::PathMap;
use serde_json::{Map, Value};

/// A task's settings and its sweep axes. Cells hold an index into it rather than their own
/// settings object, so a sweep of a million distinct points costs a million indices, not a
/// million JSON maps (BENCHMARKS.md: runner at scale).
#[derive(Debug, Default)]
pub struct Grid {
    base: Map<String, Value>,
    axes: Vec<(String, Vec<String>, Vec<Value>)>,
    /// Resolved path settings (`crate::paths`), applied by [`Grid::settings`].
    pub paths: PathMap,
}

/// The object of a settings value (settings are always objects).
pub(super) fn settings_map(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

impl Grid {
    /// A grid of `base` settings and the given axes (`key`, setting path, values).
    pub fn new(base: Map<String, Value>, axes: Vec<(String, Vec<String>, Vec<Value>)>) -> Grid {
        Grid { base, axes, paths: PathMap::new() }
    }
    /// The grid with its path settings resolved.
    pub fn with_paths(mut self, paths: PathMap) -> Grid {
        self.paths = paths;
        self
    }
    /// Number of points (the product of the axis lengths; 1 without axes).
    pub fn len(&self) -> u64 {
        self.axes.iter().fold(1u64, |n, a| n.saturating_mul(a.2.len() as u64))
    }
    /// Whether the grid has no point (an empty axis).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value index on each axis of point `k`.
    fn digits(&self, mut k: u64) -> Vec<usize> {
        let mut d = vec![0usize; self.axes.len()];
        for (slot, a) in d.iter_mut().zip(&self.axes).rev() {
            let n = a.2.len().max(1) as u64;
            *slot = (k % n) as usize;
            k /= n;
        }
        d
    }
    /// The settings of point `k` as the plugin gets them (path settings resolved).
    pub fn settings(&self, k: u64) -> Value {
        self.resolve(self.raw_settings(k))
    }
    /// The settings of point `k` as the manifest writes them (the canonical form, seed and
    /// cell id are taken from these).
    pub fn raw_settings(&self, k: u64) -> Value {
        let mut s = self.base.clone();
        for ((_, path, values), i) in self.axes.iter().zip(self.digits(k)) {
            set_path(&mut s, path, values[i].clone());
        }
        Value::Object(s)
    }
    /// `raw` with its path settings resolved.
    pub fn resolve(&self, mut raw: Value) -> Value {
        if let Value::Object(m) = &mut raw
            && !self.paths.is_empty()
        {
            crate::paths::apply(m, &self.paths);
        }
        raw
    }
    /// The sweep point of point `k`.
    pub fn point(&self, k: u64) -> Map<String, Value> {
        self.axes.iter().zip(self.digits(k)).map(|((key, _, values), i)| (key.clone(), values[i].clone())).collect()
    }
}

pub(super) fn set_path(obj: &mut Map<String, Value>, path: &[String], v: Value) {
    if path.len() == 1 {
        obj.insert(path[0].clone(), v);
        return;
    }
    let entry = obj.entry(path[0].clone()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(m) = entry {
        set_path(m, &path[1..], v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn points_enumerate_the_cartesian_product_last_axis_fastest() {
        // a few shapes, including a nested setting path and a one-value axis
        for shape in [vec![3usize], vec![2, 3], vec![1, 4, 2], vec![3, 1, 1, 2]] {
            let axes: Vec<(String, Vec<String>, Vec<Value>)> =
                shape.iter().enumerate().map(|(i, &n)| (format!("t.a{i}"), vec![format!("a{i}"), "x".into()], (0..n).map(|v| json!(v * 10 + i)).collect())).collect();
            let g = Grid::new(Map::from_iter([("base".to_string(), json!(1))]), axes.clone());
            let mut expect: Vec<Vec<usize>> = vec![vec![]];
            for &n in &shape {
                expect = expect.into_iter().flat_map(|p| (0..n).map(move |v| [p.clone(), vec![v]].concat())).collect();
            }
            assert_eq!(g.len(), expect.len() as u64);
            for (k, digits) in expect.iter().enumerate() {
                let mut want = Map::from_iter([("base".to_string(), json!(1))]);
                let mut pt = Map::new();
                for ((key, path, values), &d) in axes.iter().zip(digits) {
                    set_path(&mut want, path, values[d].clone());
                    pt.insert(key.clone(), values[d].clone());
                }
                assert_eq!(g.settings(k as u64), Value::Object(want), "{shape:?} point {k}");
                assert_eq!(g.point(k as u64), pt);
            }
        }
        let empty = Grid::new(Map::new(), vec![("t.a".into(), vec!["a".into()], vec![])]);
        assert!(empty.is_empty());
        assert_eq!(Grid::default().len(), 1);
    }
}
