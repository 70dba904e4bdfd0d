//! Mixtures and their JSON form (docs/histfit.md, "Mixture JSON"): read both the `{"sum", "mix"}` object and the bare
//! list, write flow-models' exact text layout (2-space indent, one component per line,
//! `json.dumps` of each component with Python's shortest float repr), the `.mode` sidecar,
//! and the discrete semantics used downstream (value = floor(X) + 1).
use crate::families::Dist;
use serde_json::Value;
use std::fmt::Write as _;

/// A JSON number as flow-models wrote it: Python ints stay ints (`[0, 1]`), floats keep
/// their shortest repr.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// A Python int.
    Int(i64),
    /// A Python float.
    Float(f64),
}

impl Num {
    /// The value as f64.
    pub fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }
    fn from_json(v: &Value) -> Option<Num> {
        match v {
            Value::Number(n) => n.as_i64().map(Num::Int).or_else(|| n.as_f64().map(Num::Float)),
            Value::String(_) => flowlab_abi::json::to_f64(v).map(Num::Float),
            _ => None,
        }
    }
    fn py(self) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(x) => py_repr(x),
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in [-4, 16), else `d.ddde±XX`; `nan`/`inf` as `json.dumps` writes
/// them (`NaN`, `Infinity`, `-Infinity`).
pub fn py_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits as d.ddde<exp>
    let e = format!("{:e}", x.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            if n > exp + 1 { format!("{}.{}", &digits[..(exp + 1) as usize], &digits[(exp + 1) as usize..]) } else { format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize)) }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits };
        format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// One mixture component: weight, family and arguments as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Weight (not necessarily normalised; readers renormalise).
    pub weight: f64,
    /// The frozen distribution.
    pub dist: Dist,
    /// The arguments as they appear in the JSON (ints stay ints).
    pub args: Vec<Num>,
}

impl Component {
    /// A component from a distribution; ints where flow-models writes ints (uniform bounds
    /// and lognorm's loc 0 when they are integral).
    pub fn new(weight: f64, dist: Dist) -> Component {
        let args = dist.args().into_iter().map(Num::Float).collect();
        Component { weight, dist, args }
    }
    /// Re-derives `args` from `dist`, keeping each position's int/float kind when the value
    /// is still integral.
    pub fn sync_args(&mut self) {
        let new = self.dist.args();
        self.args = new
            .iter()
            .enumerate()
            .map(|(i, &x)| match self.args.get(i) {
                Some(Num::Int(_)) if x.fract() == 0.0 && x.abs() < 9.0e15 => Num::Int(x as i64),
                _ => Num::Float(x),
            })
            .collect();
    }
    /// `json.dumps([weight, name, args])`.
    pub fn to_py_json(&self) -> String {
        let args: Vec<String> = self.args.iter().map(|a| a.py()).collect();
        format!("[{}, \"{}\", [{}]]", py_repr(self.weight), self.dist.family.name(), args.join(", "))
    }
}

/// A mixture with the Σ of the fitted column (`sum`), as flow-models saves it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    /// Σ c_i of the fitted column (absent in bare lists).
    pub sum: Option<u128>,
    /// Components in order.
    pub comps: Vec<Component>,
}

impl Mixture {
    /// Parses the `{"sum", "mix"}` object or a bare list `[[w, name, args], …]`; errors name
    /// the component index (`mix[3]`).
    pub fn from_value(v: &Value) -> Result<Mixture, String> {
        let (sum, list) = match v {
            Value::Object(o) => {
                for k in o.keys() {
                    if k != "sum" && k != "mix" {
                        return Err(format!("unknown key `{k}` in a mixture object (expected `sum` and `mix`)"));
                    }
                }
                let sum = match o.get("sum") {
                    None | Some(Value::Null) => None,
                    Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                        (Some(u), _) => Some(u as u128),
                        (None, Some(f)) if f >= 0.0 && f.is_finite() => Some(f.round() as u128),
                        _ => return Err(format!("`sum` must be a non-negative number, got {n}")),
                    },
                    Some(other) => return Err(format!("`sum` must be a number, got {other}")),
                };
                (sum, o.get("mix").ok_or("a mixture object needs a `mix` list")?)
            }
            other => (None, other),
        };
        let list = list.as_array().ok_or_else(|| format!("a mixture is a list of [weight, family, [args]] (or {{\"sum\", \"mix\"}}), got {list}"))?;
        if list.is_empty() {
            return Err("the mixture has no components".into());
        }
        let mut comps = vec![];
        for (i, c) in list.iter().enumerate() {
            let at = |m: String| format!("mix[{i}]: {m}");
            let a = c.as_array().filter(|a| a.len() == 3).ok_or_else(|| at(format!("expected [weight, family, [args]], got {c}")))?;
            let weight = Num::from_json(&a[0]).map(Num::f).filter(|w| w.is_finite() && *w >= 0.0).ok_or_else(|| at(format!("weight must be a number ≥ 0, got {}", a[0])))?;
            let name = a[1].as_str().ok_or_else(|| at(format!("family must be a string, got {}", a[1])))?;
            let args: Vec<Num> = a[2]
                .as_array()
                .ok_or_else(|| at(format!("args must be a list, got {}", a[2])))?
                .iter()
                .map(|x| Num::from_json(x).ok_or_else(|| at(format!("argument {x} is not a number"))))
                .collect::<Result<_, _>>()?;
            let dist = Dist::new(name, &args.iter().map(|n| n.f()).collect::<Vec<_>>()).map_err(at)?;
            comps.push(Component { weight, dist, args });
        }
        if comps.iter().map(|c| c.weight).sum::<f64>() <= 0.0 {
            return Err("the mixture weights sum to 0".into());
        }
        Ok(Mixture { sum, comps })
    }

    /// Parses JSON text (either form).
    pub fn from_json_str(text: &str) -> Result<Mixture, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        Mixture::from_value(&v)
    }

    /// flow-models' `to_json(mix, sum)` text plus the final newline of its file: the object
    /// form when `sum` is truthy, else the bare list (with its odd 2-space closing indent).
    pub fn to_json_text(&self) -> String {
        let body = self.comps.iter().map(|c| c.to_py_json()).collect::<Vec<_>>().join(",\n    ");
        let list = format!("[\n    {body}\n  ]");
        match self.sum {
            Some(s) if s > 0 => format!("{{\n  \"sum\": {s},\n  \"mix\": {list}\n}}\n"),
            _ => format!("{list}\n"),
        }
    }

    /// The components as a JSON value `[[w, name, args], …]` (for responses).
    pub fn to_value(&self) -> Value {
        let comps: Vec<Value> = self
            .comps
            .iter()
            .map(|c| {
                let args: Vec<Value> = c
                    .args
                    .iter()
                    .map(|a| match a {
                        Num::Int(i) => Value::from(*i),
                        Num::Float(x) => flowlab_abi::json::num(*x),
                    })
                    .collect();
                serde_json::json!([flowlab_abi::json::num(c.weight), c.dist.family.name(), args])
            })
            .collect();
        match self.sum {
            Some(s) => serde_json::json!({"sum": s as f64, "mix": comps}),
            None => Value::Array(comps),
        }
    }

    /// Weights normalised to sum 1 (readers renormalise, docs/histfit.md, "Mixture JSON").
    pub fn norm_weights(&self) -> Vec<f64> {
        let t: f64 = self.comps.iter().map(|c| c.weight).sum();
        self.comps.iter().map(|c| c.weight / t).collect()
    }

    /// Mixture CDF (normalised weights).
    pub fn cdf(&self, x: f64) -> f64 {
        self.norm_weights().iter().zip(&self.comps).map(|(w, c)| w * c.dist.cdf(x)).sum()
    }

    /// Mixture density (normalised weights).
    pub fn pdf(&self, x: f64) -> f64 {
        self.norm_weights().iter().zip(&self.comps).map(|(w, c)| w * c.dist.pdf(x)).sum()
    }

    /// flow-models' `mix.pdf` (docs/histfit.md, "Mixture JSON"): for integer x < 1024 the probability of the discrete
    /// value, F(x) − F(x−1) (F(x) − F(0) for the smallest value `x_min`), else the raw pdf.
    pub fn pdf_discrete(&self, x: u64, x_min: u64) -> f64 {
        let w = self.norm_weights();
        let xf = x as f64;
        if x < 1024 {
            let lo = if x == x_min { 0.0 } else { xf - 1.0 };
            w.iter().zip(&self.comps).map(|(w, c)| w * (c.dist.cdf(xf) - c.dist.cdf(lo))).sum()
        } else {
            w.iter().zip(&self.comps).map(|(w, c)| w * c.dist.pdf(xf)).sum()
        }
    }
}

/// flow-models' `.mode` sidecar: `json.dumps` of the fit arguments, e.g.
/// `{"in_file": "…", "y_value": "flows", "max_iter": 400, "initial": {"U": 6, "L": 4}, "max_pareto_w": null}`;
/// `initial` is the JSON text of the starting point ([`counts_initial`] or [`py_dumps`] of the
/// `--initial` value: flow-models records the path as given, or the mixture passed to `fit`).
pub fn mode_text(in_file: &str, y: &str, iterations: u64, initial: &str, mpw: Option<f64>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{{\"in_file\": {}, \"y_value\": \"{y}\", \"max_iter\": {iterations}, \"initial\": {initial}, \"max_pareto_w\": {}}}",
        flowlab_abi::json::py_str(in_file),
        mpw.map(py_repr).unwrap_or_else(|| "null".into())
    );
    s
}

/// The component counts as flow-models' CLI records them (`{"U": 6, "L": 4}`): counts of 0
/// are omitted, as it drops falsy values.
pub fn counts_initial(u: usize, p: usize, l: usize) -> String {
    let init: Vec<String> = [("U", u), ("P", p), ("L", l)].iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("\"{k}\": {n}")).collect();
    format!("{{{}}}", init.join(", "))
}

/// Python's `json.dumps(v)` with its default separators (`", "`, `": "`), ASCII escapes and
/// float repr ([`py_repr`]); integers stay integers.
pub fn py_dumps(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => py_repr(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => flowlab_abi::json::py_str(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_dumps).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!("{{{}}}", m.iter().map(|(k, x)| format!("{}: {}", flowlab_abi::json::py_str(k), py_dumps(x))).collect::<Vec<_>>().join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_dumps_writes_what_json_dumps_writes() {
        // json.dumps([[0.5, "uniform", [1, 3.0]], {"a": 1e16, "b": "é", "c": None, "d": True, "e": -2}])
        let v: Value = serde_json::from_str(r#"[[0.5, "uniform", [1, 3.0]], {"a": 1e16, "b": "é", "c": null, "d": true, "e": -2}]"#).unwrap();
        assert_eq!(py_dumps(&v), r#"[[0.5, "uniform", [1, 3.0]], {"a": 1e+16, "b": "\u00e9", "c": null, "d": true, "e": -2}]"#);
        assert_eq!(counts_initial(0, 1, 0), r#"{"P": 1}"#);
    }

    #[test]
    fn python_float_repr() {
        for (x, want) in [
            (0.3050265769901237, "0.3050265769901237"),
            (8.71245062931499e-08, "8.71245062931499e-08"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (458689.5696009713, "458689.5696009713"),
            (-2.5, "-2.5"),
            (1.5e-300, "1.5e-300"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(py_repr(x), want);
        }
    }

    #[test]
    fn tutorial_json_roundtrips_byte_for_byte() {
        // docs/tutorial.rst of flow-models: the fitted flows mixture as `cat flows.json` prints it
        let text = "{\n  \"sum\": 4032376751,\n  \"mix\": [\n    [0.3050265769901237, \"uniform\", [0, 1]],\n    [0.24841988004416196, \"uniform\", [0, 2]],\n    [0.06366063664158104, \"uniform\", [0, 3]],\n    [0.04921649965932878, \"uniform\", [0, 4]],\n    [0.00931559166293734, \"uniform\", [0, 5]],\n    [0.08217474157187263, \"uniform\", [0, 6]],\n    [0.1312637498251484, \"lognorm\", [0.5207023493412831, 0, 7.805599279070412]],\n    [0.07328615421743442, \"lognorm\", [0.7701056575379248, 0, 22.10972501544735]],\n    [0.029289126487159662, \"lognorm\", [1.1252645297342552, 0, 128.6451515069823]],\n    [0.008347042900250784, \"lognorm\", [1.9838369452408506, 0, 1084.4707584768773]]\n  ]\n}\n";
        let m = Mixture::from_json_str(text).unwrap();
        assert_eq!(m.sum, Some(4032376751));
        assert_eq!(m.comps.len(), 10);
        assert_eq!(m.to_json_text(), text);
        // bare list form
        let bare = "[[1.0, \"lognorm\", [3.0360034360884725, 0, 23212.537398000204]]]";
        let b = Mixture::from_json_str(bare).unwrap();
        assert_eq!(b.sum, None);
        assert_eq!(b.to_json_text(), "[\n    [1.0, \"lognorm\", [3.0360034360884725, 0, 23212.537398000204]]\n  ]\n");
    }

    #[test]
    fn bad_mixtures_are_explained() {
        for (t, want) in [
            ("[[0.5, \"pareto\", [1]]]", "mix[0]: unknown distribution family `pareto`"),
            ("[[0.5, \"lognorm\", [1, 0]], [1, \"uniform\"]]", "mix[1]: expected [weight, family, [args]]"),
            ("{\"mix\": [], \"sum\": 3}", "no components"),
            ("{\"mixture\": []}", "unknown key `mixture`"),
            ("[[-1, \"norm\", []]]", "weight must be"),
        ] {
            let e = Mixture::from_json_str(t).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
        }
    }

    #[test]
    fn mode_sidecar_layout() {
        assert_eq!(
            mode_text("all/length.csv", "flows", 400, &counts_initial(6, 0, 4), None),
            "{\"in_file\": \"all/length.csv\", \"y_value\": \"flows\", \"max_iter\": 400, \"initial\": {\"U\": 6, \"L\": 4}, \"max_pareto_w\": null}\n"
        );
    }
}
