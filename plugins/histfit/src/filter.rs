//! flow-models' `--filter-expr` (docs/histfit.md, "hist: the filter language"): the subset
//! flow-models documents — comparisons on flow fields and integer literals, combined with
//! `&`, `|`, `^`, `~` (and Python's `and`, `or`, `not`), with parentheses — parsed with Python's
//! operator precedence and evaluated with the semantics flow-models gets:
//!
//! - csv_flow, pipe and nfcapd inputs: flow-models `eval`s the expression per record on Python
//!   integers ([`Mode::Python`]). `&` binds tighter than `==`, so `prot == 6 & sp == 443` is the
//!   chained comparison `prot == (6 & sp) == 443`, and `~` of a comparison is `-2` or `-1`
//!   (always true) — reproduced, not corrected, because the result must be flow-models'.
//! - binary input: flow-models `eval`s it once over NumPy arrays ([`Mode::Numpy`]): `~` of a
//!   comparison is a logical not, integer operands keep their array dtype (wrapping), and
//!   `and`/`or`/`not`/chained comparisons raise in NumPy; here they are rejected up front with
//!   an error saying so.
//!
//! Anything else (arithmetic, calls, attributes, floats, strings) is a clear error naming the
//! column of the expression.
use std::fmt;

/// The 21 flow fields in flow-models' record order (`lib/io.py`), the names a filter may use.
pub const FIELDS: [&str; 21] = ["af", "prot", "inif", "outif", "sa0", "sa1", "sa2", "sa3", "da0", "da1", "da2", "da3", "sp", "dp", "first", "first_ms", "last", "last_ms", "packets", "octets", "aggs"];

/// Index of a field name in [`FIELDS`].
pub fn field_index(name: &str) -> Option<usize> {
    FIELDS.iter().position(|f| *f == name)
}

/// Which evaluation semantics a filter gets (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Per record on Python integers (csv_flow, pipe, nfcapd inputs).
    Python,
    /// Vectorised NumPy over the field arrays (binary input).
    Numpy,
}

/// A filter syntax or semantics error, with the 1-based column in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 1-based column of the offending token (0 when not tied to one).
    pub column: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column > 0 { write!(f, "column {}: {}", self.column, self.message) } else { f.write_str(&self.message) }
    }
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError { column, message: message.into() })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn holds(self, a: i128, b: i128) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
}

impl BitOp {
    fn apply(self, a: i128, b: i128) -> i128 {
        match self {
            BitOp::And => a & b,
            BitOp::Or => a | b,
            BitOp::Xor => a ^ b,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Field(usize),
    Lit(i128),
    Bool(bool),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(Box<Expr>, Vec<(CmpOp, Expr)>),
    Bit(BitOp, Box<Expr>, Box<Expr>),
    Invert(Box<Expr>),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Int(i128),
    Op(&'static str),
}

/// Largest literal magnitude (keeps every operation inside i128).
const MAX_LITERAL: i128 = 1 << 100;

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, FilterError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let col = i + 1;
        if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Name(src[s..i].to_string()), col));
        } else if c.is_ascii_digit() {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            out.push((Tok::Int(int_literal(&src[s..i], col)?), col));
        } else {
            let two = if i + 1 < b.len() { &src[i..i + 2] } else { "" };
            let op: &'static str = match two {
                "==" => "==",
                "!=" => "!=",
                "<=" => "<=",
                ">=" => ">=",
                "<<" | ">>" | "**" | "//" | "<>" | ":=" | "->" => return err(col, format!("`{two}` is not in the filter language (comparisons of fields and integers joined by & | ~)")),
                _ => "",
            };
            if !op.is_empty() {
                out.push((Tok::Op(op), col));
                i += 2;
                continue;
            }
            let op: &'static str = match c {
                b'(' => "(",
                b')' => ")",
                b'&' => "&",
                b'|' => "|",
                b'^' => "^",
                b'~' => "~",
                b'-' => "-",
                b'+' => "+",
                b'<' => "<",
                b'>' => ">",
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return err(col, format!("`{ch}` is not in the filter language (comparisons of fields and integers joined by & | ~)"));
                }
            };
            out.push((Tok::Op(op), col));
            i += 1;
        }
    }
    Ok(out)
}

/// A Python integer literal: decimal (no leading zeros), `0x`, `0o`, `0b`, `_` between digits.
fn int_literal(s: &str, col: usize) -> Result<i128, FilterError> {
    let bad = || err(col, format!("`{s}` is not an integer literal (the filter compares integers; no floats)"));
    let (radix, digits) = match s.get(..2).map(|p| p.to_ascii_lowercase()) {
        Some(p) if p == "0x" => (16, &s[2..]),
        Some(p) if p == "0o" => (8, &s[2..]),
        Some(p) if p == "0b" => (2, &s[2..]),
        _ => (10, s),
    };
    let digits = digits.strip_prefix('_').filter(|_| radix != 10).unwrap_or(digits);
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return bad();
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if radix == 10 && clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
        return err(col, format!("`{s}`: leading zeros in a decimal literal are a Python syntax error"));
    }
    match i128::from_str_radix(&clean, radix) {
        Ok(v) if v <= MAX_LITERAL => Ok(v),
        Ok(_) => err(col, format!("`{s}` is too large (at most 2^100)")),
        Err(_) => bad(),
    }
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.1).unwrap_or(self.end)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == kw)
    }
    fn or_test(&mut self) -> Result<Expr, FilterError> {
        let mut v = vec![self.and_test()?];
        while self.is_kw("or") {
            self.pos += 1;
            v.push(self.and_test()?);
        }
        Ok(if v.len() == 1 { v.pop().expect("one") } else { Expr::Or(v) })
    }
    fn and_test(&mut self) -> Result<Expr, FilterError> {
        let mut v = vec![self.not_test()?];
        while self.is_kw("and") {
            self.pos += 1;
            v.push(self.not_test()?);
        }
        Ok(if v.len() == 1 { v.pop().expect("one") } else { Expr::And(v) })
    }
    fn not_test(&mut self) -> Result<Expr, FilterError> {
        if self.is_kw("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not_test()?)));
        }
        self.comparison()
    }
    fn cmp_op(&self) -> Option<CmpOp> {
        match self.peek() {
            Some(Tok::Op("==")) => Some(CmpOp::Eq),
            Some(Tok::Op("!=")) => Some(CmpOp::Ne),
            Some(Tok::Op("<")) => Some(CmpOp::Lt),
            Some(Tok::Op("<=")) => Some(CmpOp::Le),
            Some(Tok::Op(">")) => Some(CmpOp::Gt),
            Some(Tok::Op(">=")) => Some(CmpOp::Ge),
            _ => None,
        }
    }
    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let first = self.bit(0)?;
        let mut rest = Vec::new();
        loop {
            if self.is_kw("in") || self.is_kw("is") {
                return err(self.col(), "`in` / `is` are not in the filter language; compare with == != < <= > >=");
            }
            let Some(op) = self.cmp_op() else { break };
            self.pos += 1;
            rest.push((op, self.bit(0)?));
        }
        Ok(if rest.is_empty() { first } else { Expr::Cmp(Box::new(first), rest) })
    }
    /// `|` (level 0) < `^` (1) < `&` (2) < unary.
    fn bit(&mut self, level: u8) -> Result<Expr, FilterError> {
        if level == 3 {
            return self.factor();
        }
        let (sym, op) = [("|", BitOp::Or), ("^", BitOp::Xor), ("&", BitOp::And)][level as usize];
        let mut e = self.bit(level + 1)?;
        while self.is_op(sym) {
            self.pos += 1;
            let r = self.bit(level + 1)?;
            e = Expr::Bit(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }
    fn factor(&mut self) -> Result<Expr, FilterError> {
        for (sym, mk) in [("~", Expr::Invert as fn(Box<Expr>) -> Expr), ("-", Expr::Neg), ("+", Expr::Pos)] {
            if self.is_op(sym) {
                self.pos += 1;
                return Ok(mk(Box::new(self.factor()?)));
            }
        }
        let e = self.atom()?;
        if self.is_op("-") || self.is_op("+") {
            return err(self.col(), "arithmetic is not in the filter language (comparisons of fields and integers joined by & | ~)");
        }
        Ok(e)
    }
    fn atom(&mut self) -> Result<Expr, FilterError> {
        let col = self.col();
        match self.toks.get(self.pos).map(|t| t.0.clone()) {
            Some(Tok::Int(v)) => {
                self.pos += 1;
                Ok(Expr::Lit(v))
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                match n.as_str() {
                    "True" => Ok(Expr::Bool(true)),
                    "False" => Ok(Expr::Bool(false)),
                    "and" | "or" | "not" | "in" | "is" | "if" | "else" | "lambda" | "None" => err(col, format!("unexpected `{n}`")),
                    _ => {
                        if self.is_op("(") {
                            return err(col, format!("calls (`{n}(…)`) are not in the filter language"));
                        }
                        match field_index(&n) {
                            Some(i) => Ok(Expr::Field(i)),
                            None => err(col, format!("unknown field `{n}`; the fields are {}", FIELDS.join(", "))),
                        }
                    }
                }
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let e = self.or_test()?;
                if !self.is_op(")") {
                    return err(self.col(), "expected `)`");
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Op(o)) => err(col, format!("unexpected `{o}`")),
            None => err(col, "the expression ends too early"),
        }
    }
}

/// A compiled filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    mode: Mode,
    /// Source text, for messages.
    pub source: String,
}

/// A value of the per-record (Python) evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Py {
    B(bool),
    I(i128),
}

impl Py {
    fn int(self) -> i128 {
        match self {
            Py::B(b) => i128::from(b),
            Py::I(v) => v,
        }
    }
    fn truthy(self) -> bool {
        self.int() != 0
    }
}

/// A NumPy array dtype of a binary field file (`name.<typecode>`): width in bits, signedness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    /// 8, 16, 32 or 64.
    pub bits: u8,
    /// Two's complement (`b h i l q`) or unsigned (`B H I L Q`).
    pub signed: bool,
}

impl Dtype {
    /// The integer type codes of Python's `array`/`memoryview` (x86-64 Linux widths).
    pub fn from_code(code: &str) -> Option<Dtype> {
        let (bits, signed) = match code {
            "b" => (8, true),
            "B" => (8, false),
            "h" => (16, true),
            "H" => (16, false),
            "i" => (32, true),
            "I" => (32, false),
            "l" | "q" => (64, true),
            "L" | "Q" => (64, false),
            _ => return None,
        };
        Some(Dtype { bits, signed })
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        usize::from(self.bits / 8)
    }
    fn wrap(self, v: i128) -> i128 {
        let m = v & ((1i128 << self.bits) - 1);
        if self.signed && m >= 1i128 << (self.bits - 1) { m - (1i128 << self.bits) } else { m }
    }
    fn contains(self, v: i128) -> bool {
        self.wrap(v) == v
    }
    const INT64: Dtype = Dtype { bits: 64, signed: true };
    fn name(self) -> String {
        format!("{}int{}", if self.signed { "" } else { "u" }, self.bits)
    }
}

/// A value of the vectorised (NumPy) evaluation, one element of it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Np {
    /// Element of a bool array.
    BoolArr(bool),
    /// Element of an integer array.
    Arr(i128, Dtype),
    /// A Python int scalar (weakly typed, NEP 50).
    Int(i128),
    /// A Python bool scalar.
    Bool(bool),
}

fn promote(a: Dtype, b: Dtype) -> Option<Dtype> {
    if a.signed == b.signed {
        return Some(Dtype { bits: a.bits.max(b.bits), signed: a.signed });
    }
    let (s, u) = if a.signed { (a, b) } else { (b, a) };
    if s.bits > u.bits {
        Some(s)
    } else if u.bits < 64 {
        Some(Dtype { bits: u.bits * 2, signed: true })
    } else {
        None // int64 with uint64 is float64 in NumPy
    }
}

impl Filter {
    /// Parses `src` for evaluation in `mode`; errors name the column.
    pub fn compile(src: &str, mode: Mode) -> Result<Filter, FilterError> {
        let toks = tokenize(src)?;
        let end = src.len() + 1;
        let mut p = Parser { toks, pos: 0, end };
        let expr = p.or_test()?;
        if p.pos < p.toks.len() {
            return err(p.col(), "unexpected text after the expression (arithmetic, calls, attributes and strings are not in the filter language)");
        }
        if mode == Mode::Numpy {
            numpy_check(&expr)?;
            let mut used = [false; 21];
            fields_of(&expr, &mut used);
            if !used.iter().any(|u| *u) {
                return err(0, "the filter uses no flow field: flow-models indexes the result of a binary-input filter per record and fails on a constant");
            }
        }
        Ok(Filter { expr, mode, source: src.to_string() })
    }

    /// The fields the expression reads (flow-models loads them from a binary directory).
    pub fn fields(&self) -> [bool; 21] {
        let mut used = [false; 21];
        fields_of(&self.expr, &mut used);
        used
    }

    /// Whether the record with field values `v` passes (Python semantics; the mode given at
    /// compile time must be [`Mode::Python`]).
    pub fn eval_python(&self, v: &[i128; 21]) -> bool {
        debug_assert_eq!(self.mode, Mode::Python);
        py_eval(&self.expr, v).truthy()
    }

    /// Whether element `v` passes under NumPy semantics, the fields having dtypes `dt`
    /// (`None` for fields not loaded, which a compiled filter never reads).
    pub fn eval_numpy(&self, v: &[i128; 21], dt: &[Option<Dtype>; 21]) -> Result<bool, FilterError> {
        match np_eval(&self.expr, v, dt)? {
            Np::BoolArr(b) => Ok(b),
            Np::Arr(x, _) => Ok(x != 0),
            Np::Int(_) | Np::Bool(_) => err(0, "the filter's value does not depend on any flow field"),
        }
    }
}

fn fields_of(e: &Expr, used: &mut [bool; 21]) {
    match e {
        Expr::Field(i) => used[*i] = true,
        Expr::Lit(_) | Expr::Bool(_) => {}
        Expr::Not(a) | Expr::Invert(a) | Expr::Neg(a) | Expr::Pos(a) => fields_of(a, used),
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| fields_of(x, used)),
        Expr::Cmp(a, rest) => {
            fields_of(a, used);
            rest.iter().for_each(|(_, x)| fields_of(x, used));
        }
        Expr::Bit(_, a, b) => {
            fields_of(a, used);
            fields_of(b, used);
        }
    }
}

fn numpy_check(e: &Expr) -> Result<(), FilterError> {
    let why = "with binary input flow-models evaluates the filter on NumPy arrays, where `and`, `or`, `not` and chained comparisons (a < b < c, or `x == 1 & y == 2` without parentheses) raise \"truth value of an array is ambiguous\"; write (a) & (b), (a) | (b), ~(a)";
    match e {
        Expr::And(_) | Expr::Or(_) | Expr::Not(_) => err(0, why),
        Expr::Cmp(a, rest) => {
            if rest.len() > 1 {
                return err(0, why);
            }
            numpy_check(a)?;
            numpy_check(&rest[0].1)
        }
        Expr::Invert(a) | Expr::Neg(a) | Expr::Pos(a) => numpy_check(a),
        Expr::Bit(_, a, b) => {
            numpy_check(a)?;
            numpy_check(b)
        }
        Expr::Field(_) | Expr::Lit(_) | Expr::Bool(_) => Ok(()),
    }
}

fn py_eval(e: &Expr, v: &[i128; 21]) -> Py {
    match e {
        Expr::Field(i) => Py::I(v[*i]),
        Expr::Lit(x) => Py::I(*x),
        Expr::Bool(b) => Py::B(*b),
        Expr::Not(a) => Py::B(!py_eval(a, v).truthy()),
        Expr::And(xs) => {
            let mut last = Py::B(true);
            for x in xs {
                last = py_eval(x, v);
                if !last.truthy() {
                    return last;
                }
            }
            last
        }
        Expr::Or(xs) => {
            let mut last = Py::B(false);
            for x in xs {
                last = py_eval(x, v);
                if last.truthy() {
                    return last;
                }
            }
            last
        }
        Expr::Cmp(a, rest) => {
            let mut l = py_eval(a, v).int();
            for (op, x) in rest {
                let r = py_eval(x, v).int();
                if !op.holds(l, r) {
                    return Py::B(false);
                }
                l = r;
            }
            Py::B(true)
        }
        Expr::Bit(op, a, b) => match (py_eval(a, v), py_eval(b, v)) {
            (Py::B(x), Py::B(y)) => Py::B(op.apply(i128::from(x), i128::from(y)) != 0),
            (x, y) => Py::I(op.apply(x.int(), y.int())),
        },
        Expr::Invert(a) => Py::I(!py_eval(a, v).int()),
        Expr::Neg(a) => Py::I(-py_eval(a, v).int()),
        Expr::Pos(a) => Py::I(py_eval(a, v).int()),
    }
}

fn np_int(x: Np) -> i128 {
    match x {
        Np::BoolArr(b) | Np::Bool(b) => i128::from(b),
        Np::Arr(v, _) | Np::Int(v) => v,
    }
}

fn np_eval(e: &Expr, v: &[i128; 21], dt: &[Option<Dtype>; 21]) -> Result<Np, FilterError> {
    Ok(match e {
        Expr::Field(i) => Np::Arr(v[*i], dt[*i].unwrap_or(Dtype::INT64)),
        Expr::Lit(x) => Np::Int(*x),
        Expr::Bool(b) => Np::Bool(*b),
        Expr::Cmp(a, rest) => {
            let (l, r) = (np_eval(a, v, dt)?, np_eval(&rest[0].1, v, dt)?);
            if let (Np::Arr(_, x), Np::Arr(_, y)) = (l, r)
                && promote(x, y).is_none()
            {
                return err(0, format!("comparing {} with {} goes through float64 in NumPy (inexact); not supported", x.name(), y.name()));
            }
            let b = rest[0].0.holds(np_int(l), np_int(r));
            match (l, r) {
                (Np::Int(_) | Np::Bool(_), Np::Int(_) | Np::Bool(_)) => Np::Bool(b),
                _ => Np::BoolArr(b),
            }
        }
        Expr::Bit(op, a, b) => {
            let (l, r) = (np_eval(a, v, dt)?, np_eval(b, v, dt)?);
            let res = op.apply(np_int(l), np_int(r));
            let typed = |d: Dtype, scalar: i128| -> Result<Np, FilterError> {
                if !d.contains(scalar) {
                    return err(0, format!("Python integer {scalar} out of bounds for {} (NumPy raises OverflowError)", d.name()));
                }
                Ok(Np::Arr(d.wrap(res), d))
            };
            match (l, r) {
                (Np::Bool(x), Np::Bool(y)) => Np::Bool(op.apply(i128::from(x), i128::from(y)) != 0),
                (Np::Int(_) | Np::Bool(_), Np::Int(_) | Np::Bool(_)) => Np::Int(res),
                (Np::BoolArr(_), Np::BoolArr(_) | Np::Bool(_)) | (Np::Bool(_), Np::BoolArr(_)) => Np::BoolArr(res != 0),
                (Np::BoolArr(_), Np::Int(s)) | (Np::Int(s), Np::BoolArr(_)) => typed(Dtype::INT64, s)?,
                (Np::Arr(_, d), Np::Int(s)) | (Np::Int(s), Np::Arr(_, d)) => typed(d, s)?,
                (Np::Arr(_, d), Np::Bool(_) | Np::BoolArr(_)) | (Np::Bool(_) | Np::BoolArr(_), Np::Arr(_, d)) => Np::Arr(d.wrap(res), d),
                (Np::Arr(_, x), Np::Arr(_, y)) => match promote(x, y) {
                    Some(d) => Np::Arr(d.wrap(res), d),
                    None => return err(0, format!("bitwise operation of {} with {} is a NumPy TypeError (float64)", x.name(), y.name())),
                },
            }
        }
        Expr::Invert(a) => match np_eval(a, v, dt)? {
            Np::BoolArr(b) => Np::BoolArr(!b),
            Np::Arr(x, d) => Np::Arr(d.wrap(!x), d),
            Np::Int(x) => Np::Int(!x),
            Np::Bool(b) => Np::Int(!i128::from(b)),
        },
        Expr::Neg(a) => match np_eval(a, v, dt)? {
            Np::BoolArr(_) => return err(0, "`-` of a comparison is a NumPy TypeError (boolean negative)"),
            Np::Arr(x, d) => Np::Arr(d.wrap(-x), d),
            Np::Int(x) => Np::Int(-x),
            Np::Bool(b) => Np::Int(-i128::from(b)),
        },
        Expr::Pos(a) => match np_eval(a, v, dt)? {
            Np::BoolArr(_) => return err(0, "`+` of a comparison is a NumPy TypeError"),
            Np::Bool(b) => Np::Int(i128::from(b)),
            x => x,
        },
        Expr::And(_) | Expr::Or(_) | Expr::Not(_) => unreachable!("rejected by numpy_check"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(prot: i128, sp: i128, packets: i128) -> [i128; 21] {
        let mut v = [0i128; 21];
        v[1] = prot;
        v[12] = sp;
        v[18] = packets;
        v
    }

    #[test]
    fn python_precedence_and_semantics() {
        let f = |s: &str| Filter::compile(s, Mode::Python).unwrap();
        let r = rec(6, 443, 3);
        assert!(f("(prot==6) & (sp==443)").eval_python(&r));
        // chained: prot == (6 & sp) == 443 → 6 & 443 = 2 ≠ 6
        assert!(!f("prot==6 & sp==443").eval_python(&r));
        // ~True = -2: truthy
        assert!(f("~(prot==6)").eval_python(&r));
        assert!(f("~(prot==17)").eval_python(&r));
        assert!(!f("not (prot==6)").eval_python(&r));
        assert!(f("1 < packets < 5 and sp >= 0x1bb").eval_python(&r));
        assert!(f("(packets > 5) | (prot == 6)").eval_python(&r));
        assert!(f("packets & 1").eval_python(&r));
        assert!(f("-packets < 0").eval_python(&r));
    }

    #[test]
    fn numpy_semantics() {
        let dt = {
            let mut d = [None; 21];
            d[1] = Dtype::from_code("B");
            d[12] = Dtype::from_code("H");
            d[18] = Dtype::from_code("Q");
            d
        };
        let f = |s: &str| Filter::compile(s, Mode::Numpy).unwrap();
        let r = rec(6, 443, 3);
        assert!(f("(prot==6) & (sp==443)").eval_numpy(&r, &dt).unwrap());
        assert!(!f("~(prot==6)").eval_numpy(&r, &dt).unwrap());
        assert!(f("~(prot==17)").eval_numpy(&r, &dt).unwrap());
        // ~ on uint8 6 = 249
        assert!(f("~prot == 249").eval_numpy(&r, &dt).unwrap());
        assert!(f("prot & 300").eval_numpy(&r, &dt).is_err());
        for bad in ["prot==6 & sp==443", "(prot==6) and (sp==1)", "not (prot==6)", "1 < packets < 5", "1 == 1"] {
            assert!(Filter::compile(bad, Mode::Numpy).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_column() {
        for (s, col) in
            [("packets * 2 > 3", 9), ("packets > 1.5", 11), ("foo == 1", 1), ("len(packets) > 1", 1), ("packets > 'a'", 11), ("(packets > 1", 13), ("packets + 1 > 2", 9), ("07 == packets", 1)]
        {
            let e = Filter::compile(s, Mode::Python).unwrap_err();
            assert_eq!(e.column, col, "{s}: {e}");
        }
    }
}
