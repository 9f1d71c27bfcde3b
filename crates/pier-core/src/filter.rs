//! The filter engine (SPEC §5): Hookdeck's JSON filter syntax, compiled once and evaluated
//! against a request's headers, body, query and path.
//!
//! # Semantics
//!
//! A filter ("schema") is a JSON value matched against a JSON input.
//!
//! * **Literals** (string, number, bool, null) match by equality. Numbers compare numerically
//!   (`1 == 1.0`; integers are compared exactly, not through `f64`). No coercion across types:
//!   `"1"` does not match `1`.
//! * **Objects** match partially: every key the schema names must match the input's value at
//!   that key; other input keys are ignored. A missing key does not match, except under
//!   `{"$exist": false}` or a `$not`/`$or` that accepts absence (see below). `{}` matches any
//!   object.
//! * **Array inputs**: a literal, object or `$ref` schema matches an array when *any* element
//!   matches (nested arrays are searched too). Value operators (`$eq`, `$gt`, `$in`,
//!   `$startsWith`, ...) likewise accept an array when any element passes, each operator on its
//!   own (`{"$gt": 1, "$lt": 3}` matches `[0, 5]`, as in MongoDB). An object schema applied to
//!   an array needs one element to satisfy all its keys.
//! * **Array schemas** (`["a", "b"]`) match an array input that contains every schema element
//!   (each schema element matches some input element; order and duplicates are ignored). Against
//!   a non-array input an array schema does not match.
//! * **Operators** are object keys starting with `$`; an unknown one is a compile error.
//!   Several operators in one object are ANDed. An object may also mix operators with plain keys
//!   (as Hookdeck accepts `{"$or": [...], "type": "x"}`): it then means the `$and` of its
//!   operators and of the object made of its plain keys.
//!   - `$eq` / `$neq`: deep equality (numeric-aware; objects compare exactly, arrays in order).
//!     An array input also equals when any element equals. `$neq` is the negation of `$eq` on a
//!     present value (`{"$neq": 1}` matches `"1"`, but not a missing key).
//!   - `$gt` `$gte` `$lt` `$lte`: numbers numerically, strings lexicographically (by Unicode
//!     code point); mixed types never match. The operand must be a number or a string.
//!   - `$in` with an array operand: the input equals one of its elements. With a **string**
//!     operand it is Hookdeck's "contains": the input string *contains* the operand
//!     (`{"$in": "text"}` matches `"some-text"`), as Hookdeck's documented tests show.
//!     `$nin` is the negation of `$in` on a present value of a comparable type (a number never
//!     matches a string-operand `$nin`).
//!   - `$startsWith` / `$endsWith`: strings only.
//!   - `$exist`: `true` when the key is present (even `null`), `false` when it is absent.
//!   - `$or` / `$and`: a non-empty array of schemas applied to the same value.
//!   - `$not`: a schema that must not match. Unlike `$neq`, it is a logical negation and so
//!     matches an absent key (`{"a": {"$not": 1}}` matches `{}`).
//!   - `$ref`: a path into the *same root input* (the body for a body filter, the headers for a
//!     headers filter...). In place of a value (`{"updated_at": {"$ref": "created_at"}}`) the
//!     input must match the referenced value, used as a literal (never as operators). As an
//!     operand (`{"$lte": {"$ref": "limits.max"}}`) the referenced value is the operand. A path
//!     that leads nowhere, or a referenced value of the wrong type, does not match.
//! * **`$ref` paths**: dotted keys with bracket indexes: `a.b`, `a[0].b`, `a.0.b`, `['a.b']`,
//!   an optional leading `$.`. `[$index]` stands for the index of the element currently matched
//!   when an enclosing object or array schema iterates an array input: applied to that very
//!   array (`{"variants": {"updated_at": {"$ref": "variants[$index].created_at"}}}`) it is that
//!   array's current index, so nested arrays work (`orders[$index].items[$index]`); applied to
//!   another array (`{"items": {"price": {"$lte": {"$ref": "limits[$index].max"}}}}`) it is the
//!   index of the innermost iteration. `$index` outside any iteration does not match.
//! * **Type mismatches** never match and never error at evaluation.
//! * **Limits**: schemas deeper than [`MAX_DEPTH`] levels are refused at compile time;
//!   evaluation stops (and does not match) past 256 levels of recursion or after a fixed work
//!   budget (about four million steps), so hostile filters or inputs cannot overflow the stack
//!   or run unbounded.
//!
//! [`RuleFilter`] applies a rule's four parts: headers (schema keys are matched
//! case-insensitively, inputs keys being lowercase), body (a body that is not JSON is `None`
//! and fails any body filter), query (the parsed query object) and path (a string; a string
//! literal matches exactly, operators apply to it).

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Number, Value};

/// The deepest nesting a filter may have (containers and operators), checked at compile time.
pub const MAX_DEPTH: usize = 64;
/// The deepest recursion evaluation goes before giving up (no match).
const EVAL_MAX_DEPTH: usize = 256;
/// The work budget of one evaluation (steps); exhausted, the filter does not match.
const FUEL: u32 = 1 << 22;

/// A filter that cannot be compiled, with the path of the offending part (e.g.
/// `body.amount.$gtee`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Dotted path with `[i]` array indexes; empty for the root of a bare [`compile`].
    pub path: String,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FilterError {}

/// A compiled filter. Cheap to evaluate many times; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
}

/// A connection's filter rule, compiled: each present part must match.
#[derive(Debug, Clone, Default)]
pub struct RuleFilter {
    headers: Option<Filter>,
    body: Option<Filter>,
    query: Option<Filter>,
    path: Option<Filter>,
}

/// Compile a filter schema. Errors name the offending part relative to the schema's root.
pub fn compile(schema: &Value) -> Result<Filter, FilterError> {
    compile_at(schema, "", false)
}

/// Compile the parts of a filter rule; error paths start with `headers.`, `body.`, `query.` or
/// `path.`. Headers schema keys are lowercased (header names are case-insensitive).
pub fn compile_rule(
    headers: Option<&Value>,
    body: Option<&Value>,
    query: Option<&Value>,
    path: Option<&Value>,
) -> Result<RuleFilter, FilterError> {
    Ok(RuleFilter {
        headers: headers.map(|s| compile_at(s, "headers", true)).transpose()?,
        body: body.map(|s| compile_at(s, "body", false)).transpose()?,
        query: query.map(|s| compile_at(s, "query", false)).transpose()?,
        path: path.map(|s| compile_at(s, "path", false)).transpose()?,
    })
}

impl Filter {
    /// Whether `input` matches. Never panics; gives up (no match) on pathological depth or work.
    pub fn matches(&self, input: &Value) -> bool {
        let mut ctx = Ctx::new(input);
        let matched = eval(&self.root, Some(input), &mut ctx);
        matched && !ctx.aborted
    }
}

impl RuleFilter {
    /// Whether a request matches every present part. `body` is `None` when the body is not JSON
    /// (then a body filter never matches); `query` is the parsed query object.
    pub fn matches(&self, headers: &Value, body: Option<&Value>, query: &Value, path: &str) -> bool {
        if let Some(f) = &self.headers {
            if !f.matches(headers) {
                return false;
            }
        }
        if let Some(f) = &self.body {
            match body {
                Some(b) if f.matches(b) => {}
                _ => return false,
            }
        }
        if let Some(f) = &self.query {
            if !f.matches(query) {
                return false;
            }
        }
        if let Some(f) = &self.path {
            if !f.matches(&Value::String(path.to_owned())) {
                return false;
            }
        }
        true
    }

    /// True when the rule has no part (it matches everything).
    pub fn is_empty(&self) -> bool {
        self.headers.is_none() && self.body.is_none() && self.query.is_none() && self.path.is_none()
    }
}

// ---------------------------------------------------------------------------------------------
// Compiled form
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Node {
    /// A string, number, bool or null literal.
    Scalar(Value),
    /// An array schema: every element must match some input element.
    Array(Vec<Node>),
    /// An object schema: its operators and its plain keys, all ANDed. `ci`: look keys up
    /// case-insensitively (the root of a headers filter).
    Object { fields: Vec<(String, Node)>, ops: Vec<Op>, ci: bool },
}

#[derive(Debug, Clone)]
enum Op {
    Eq(Operand),
    Neq(Operand),
    Cmp(CmpOp, Operand),
    In(Operand),
    Nin(Operand),
    StartsWith(Operand),
    EndsWith(Operand),
    Exist(bool),
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Ref(RefPath),
}

#[derive(Debug, Clone, Copy)]
enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Gte => ord != Ordering::Less,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Lte => ord != Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone)]
enum Operand {
    Lit(Value),
    Ref(RefPath),
}

#[derive(Debug, Clone)]
struct RefPath {
    segs: Vec<Seg>,
}

#[derive(Debug, Clone)]
enum Seg {
    /// An object key; its numeric value too, to index an array (`a.0.b`).
    Key(String, Option<usize>),
    Index(usize),
    /// `[$index]`.
    Current,
}

// ---------------------------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------------------------

fn error(path: &str, message: impl Into<String>) -> FilterError {
    FilterError { path: path.to_owned(), message: message.into() }
}

fn key_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn index_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn compile_at(schema: &Value, path: &str, ci: bool) -> Result<Filter, FilterError> {
    Ok(Filter { root: compile_node(schema, path, 0, ci)? })
}

fn too_deep(path: &str) -> FilterError {
    error(path, format!("filter is nested too deeply (more than {MAX_DEPTH} levels)"))
}

fn compile_node(v: &Value, path: &str, depth: usize, ci: bool) -> Result<Node, FilterError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, s)| compile_node(s, &index_path(path, i), depth + 1, false))
            .collect::<Result<Vec<_>, _>>()
            .map(Node::Array),
        Value::Object(m) => {
            let mut fields = Vec::new();
            let mut ops = Vec::new();
            for (k, s) in m {
                let p = key_path(path, k);
                if k.starts_with('$') {
                    ops.push(compile_op(k, s, &p, depth, ci)?);
                } else {
                    let key = if ci { k.to_ascii_lowercase() } else { k.clone() };
                    fields.push((key, compile_node(s, &p, depth + 1, false)?));
                }
            }
            Ok(Node::Object { fields, ops, ci })
        }
        scalar => Ok(Node::Scalar(scalar.clone())),
    }
}

/// What an operator accepts as operand (besides `{"$ref": path}`).
#[derive(Clone, Copy)]
enum Accepts {
    Any,
    NumberOrString,
    ArrayOrString,
    String,
}

fn compile_op(k: &str, s: &Value, path: &str, depth: usize, ci: bool) -> Result<Op, FilterError> {
    let op = match k {
        "$eq" => Op::Eq(compile_operand(k, s, path, depth, Accepts::Any)?),
        "$neq" => Op::Neq(compile_operand(k, s, path, depth, Accepts::Any)?),
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let c = match k {
                "$gt" => CmpOp::Gt,
                "$gte" => CmpOp::Gte,
                "$lt" => CmpOp::Lt,
                _ => CmpOp::Lte,
            };
            Op::Cmp(c, compile_operand(k, s, path, depth, Accepts::NumberOrString)?)
        }
        "$in" => Op::In(compile_operand(k, s, path, depth, Accepts::ArrayOrString)?),
        "$nin" => Op::Nin(compile_operand(k, s, path, depth, Accepts::ArrayOrString)?),
        "$startsWith" => Op::StartsWith(compile_operand(k, s, path, depth, Accepts::String)?),
        "$endsWith" => Op::EndsWith(compile_operand(k, s, path, depth, Accepts::String)?),
        "$exist" => match s {
            Value::Bool(b) => Op::Exist(*b),
            _ => return Err(error(path, "$exist needs true or false")),
        },
        "$or" | "$and" => {
            let items = match s {
                Value::Array(items) if !items.is_empty() => items,
                _ => return Err(error(path, format!("{k} needs a non-empty array of filters"))),
            };
            let nodes = items
                .iter()
                .enumerate()
                .map(|(i, s)| compile_node(s, &index_path(path, i), depth + 1, ci))
                .collect::<Result<Vec<_>, _>>()?;
            if k == "$or" {
                Op::Or(nodes)
            } else {
                Op::And(nodes)
            }
        }
        "$not" => Op::Not(Box::new(compile_node(s, path, depth + 1, ci)?)),
        "$ref" => match s {
            Value::String(p) => Op::Ref(parse_ref(p).map_err(|m| error(path, m))?),
            _ => return Err(error(path, "$ref needs a string path")),
        },
        _ => return Err(error(path, format!("unknown operator {k}"))),
    };
    Ok(op)
}

fn compile_operand(op: &str, s: &Value, path: &str, depth: usize, accepts: Accepts) -> Result<Operand, FilterError> {
    if let Value::Object(m) = s {
        if let Some(r) = m.get("$ref") {
            if m.len() != 1 {
                return Err(error(path, "a {\"$ref\": path} operand takes no other key"));
            }
            let rpath = key_path(path, "$ref");
            return match r {
                Value::String(p) => Ok(Operand::Ref(parse_ref(p).map_err(|m| error(&rpath, m))?)),
                _ => Err(error(&rpath, "$ref needs a string path")),
            };
        }
    }
    let ok = match accepts {
        Accepts::Any => true,
        Accepts::NumberOrString => s.is_number() || s.is_string(),
        Accepts::ArrayOrString => s.is_array() || s.is_string(),
        Accepts::String => s.is_string(),
    };
    if !ok {
        let what = match accepts {
            Accepts::Any => "a value",
            Accepts::NumberOrString => "a number or a string",
            Accepts::ArrayOrString => "an array or a string",
            Accepts::String => "a string",
        };
        return Err(error(path, format!("{op} needs {what} (or {{\"$ref\": path}})")));
    }
    check_literal_depth(s, path, depth + 1)?;
    Ok(Operand::Lit(s.clone()))
}

fn check_literal_depth(v: &Value, path: &str, depth: usize) -> Result<(), FilterError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    match v {
        Value::Array(a) => a.iter().try_for_each(|e| check_literal_depth(e, path, depth + 1)),
        Value::Object(m) => m.values().try_for_each(|e| check_literal_depth(e, path, depth + 1)),
        _ => Ok(()),
    }
}

/// Parse a `$ref` path: `a.b[0]['c.d'][$index]`, `a.0`, optional leading `$.` (or `$` alone for
/// the root, `$[0]`).
fn parse_ref(s: &str) -> Result<RefPath, String> {
    let bad = |why: &str| format!("invalid $ref path {s:?}: {why}");
    let rest = if s == "$" {
        ""
    } else if let Some(r) = s.strip_prefix("$.") {
        r
    } else if s.starts_with("$[") {
        &s[1..]
    } else if s.is_empty() {
        return Err(bad("empty"));
    } else {
        s
    };
    let b = rest.as_bytes();
    let mut segs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'.' && b[i] != b'[' {
            i += 1;
        }
        let name = &rest[start..i];
        if name.is_empty() {
            // Only `[...]` at the very start may have no name before it.
            if !(start == 0 && i < b.len() && b[i] == b'[') {
                return Err(bad("empty segment"));
            }
        } else if name == "$index" {
            segs.push(Seg::Current);
        } else {
            segs.push(Seg::Key(name.to_owned(), name.parse().ok()));
        }
        while i < b.len() && b[i] == b'[' {
            i += 1;
            if i < b.len() && (b[i] == b'\'' || b[i] == b'"') {
                let quote = b[i];
                let from = i + 1;
                let len = b[from..].iter().position(|&c| c == quote).ok_or_else(|| bad("unclosed quote"))?;
                let to = from + len;
                if b.get(to + 1) != Some(&b']') {
                    return Err(bad("expected ] after a quoted key"));
                }
                segs.push(Seg::Key(rest[from..to].to_owned(), None));
                i = to + 2;
            } else {
                let len = b[i..].iter().position(|&c| c == b']').ok_or_else(|| bad("unclosed ["))?;
                let inner = &rest[i..i + len];
                if inner == "$index" {
                    segs.push(Seg::Current);
                } else if !inner.is_empty() && inner.bytes().all(|c| c.is_ascii_digit()) {
                    let n = inner.parse().map_err(|_| bad("index too large"))?;
                    segs.push(Seg::Index(n));
                } else {
                    return Err(bad(&format!("[{inner}] is not an index, $index or quoted key")));
                }
                i += len + 1;
            }
        }
        if i < b.len() {
            if b[i] != b'.' {
                return Err(bad("expected . or [ after ]"));
            }
            i += 1;
            if i == b.len() {
                return Err(bad("ends with ."));
            }
        }
    }
    Ok(RefPath { segs })
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// One array being iterated: which one (its address, only compared) and the current index.
#[derive(Clone, Copy)]
struct Iteration {
    array: *const Vec<Value>,
    index: usize,
}

/// Evaluation state: the root (for `$ref`), the arrays being iterated (for `$index`), and the
/// guards against depth and work.
struct Ctx<'a> {
    root: &'a Value,
    depth: usize,
    fuel: u32,
    aborted: bool,
    iters: [Iteration; EVAL_MAX_DEPTH],
    n_iters: usize,
}

impl<'a> Ctx<'a> {
    fn new(root: &'a Value) -> Self {
        let none = Iteration { array: std::ptr::null(), index: 0 };
        Ctx { root, depth: 0, fuel: FUEL, aborted: false, iters: [none; EVAL_MAX_DEPTH], n_iters: 0 }
    }

    /// Spend one step; false (and abort) when out of budget.
    fn tick(&mut self) -> bool {
        if self.aborted {
            return false;
        }
        if self.fuel == 0 {
            self.aborted = true;
            return false;
        }
        self.fuel -= 1;
        true
    }

    /// Enter one level of recursion; false (and abort) when too deep or out of budget.
    fn enter(&mut self) -> bool {
        if !self.tick() {
            return false;
        }
        if self.depth >= EVAL_MAX_DEPTH {
            self.aborted = true;
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Run `f` while element `index` of `array` is being iterated.
    fn with_index(&mut self, array: &Vec<Value>, index: usize, f: impl FnOnce(&mut Self) -> bool) -> bool {
        if self.n_iters >= EVAL_MAX_DEPTH {
            self.aborted = true;
            return false;
        }
        self.iters[self.n_iters] = Iteration { array, index };
        self.n_iters += 1;
        let r = f(self);
        self.n_iters -= 1;
        r
    }

    fn iterations(&self) -> &[Iteration] {
        &self.iters[..self.n_iters]
    }
}

/// Match `node` against `v` (`None`: the key is absent).
fn eval(node: &Node, v: Option<&Value>, ctx: &mut Ctx<'_>) -> bool {
    if !ctx.enter() {
        return false;
    }
    let r = match node {
        Node::Scalar(lit) => v.is_some_and(|v| any_item(v, ctx, &mut |x, _| scalar_eq(lit, x))),
        Node::Array(elems) => v.is_some_and(|v| match_array(elems, v, ctx)),
        Node::Object { fields, ops, ci } => {
            ops.iter().all(|op| eval_op(op, v, ctx))
                && ((fields.is_empty() && !ops.is_empty()) || v.is_some_and(|v| match_fields(fields, *ci, v, ctx)))
        }
    };
    ctx.leave();
    r
}

/// Every field matches (an array: in one of its elements).
fn match_fields(fields: &[(String, Node)], ci: bool, v: &Value, ctx: &mut Ctx<'_>) -> bool {
    if !ctx.enter() {
        return false;
    }
    let r = match v {
        Value::Object(m) => fields.iter().all(|(k, n)| eval(n, lookup(m, k, ci), ctx)),
        Value::Array(a) => {
            a.iter().enumerate().any(|(i, e)| ctx.with_index(a, i, |ctx| match_fields(fields, ci, e, ctx)))
        }
        _ => false,
    };
    ctx.leave();
    r
}

fn lookup<'v>(m: &'v Map<String, Value>, k: &str, ci: bool) -> Option<&'v Value> {
    match m.get(k) {
        Some(v) => Some(v),
        None if ci => m.iter().find(|(mk, _)| mk.eq_ignore_ascii_case(k)).map(|(_, v)| v),
        None => None,
    }
}

/// An array schema: each element matches some element of an array input.
fn match_array(elems: &[Node], v: &Value, ctx: &mut Ctx<'_>) -> bool {
    let Value::Array(a) = v else {
        return false;
    };
    elems.iter().all(|n| a.iter().enumerate().any(|(i, e)| ctx.with_index(a, i, |ctx| eval(n, Some(e), ctx))))
}

/// `f` accepts `v` itself or, `v` being an array, any of its elements (recursively).
fn any_item<'a, F>(v: &Value, ctx: &mut Ctx<'a>, f: &mut F) -> bool
where
    F: FnMut(&Value, &mut Ctx<'a>) -> bool,
{
    if !ctx.enter() {
        return false;
    }
    let r = f(v, ctx)
        || match v {
            Value::Array(a) => a.iter().any(|e| any_item(e, ctx, f)),
            _ => false,
        };
    ctx.leave();
    r
}

fn eval_op(op: &Op, v: Option<&Value>, ctx: &mut Ctx<'_>) -> bool {
    match op {
        Op::Exist(want) => v.is_some() == *want,
        Op::Or(nodes) => nodes.iter().any(|n| eval(n, v, ctx)),
        Op::And(nodes) => nodes.iter().all(|n| eval(n, v, ctx)),
        Op::Not(n) => !eval(n, v, ctx),
        _ => v.is_some_and(|v| eval_value_op(op, v, ctx)),
    }
}

fn eval_value_op(op: &Op, v: &Value, ctx: &mut Ctx<'_>) -> bool {
    let root = ctx.root;
    match op {
        Op::Eq(o) => operand(o, root, ctx).is_some_and(|o| equals(v, o, ctx)),
        Op::Neq(o) => operand(o, root, ctx).is_some_and(|o| !equals(v, o, ctx)),
        Op::Cmp(c, o) => operand(o, root, ctx).is_some_and(|o| {
            (o.is_number() || o.is_string())
                && any_item(v, ctx, &mut |x, _| compare(x, o).is_some_and(|ord| c.accepts(ord)))
        }),
        Op::In(o) => operand(o, root, ctx).is_some_and(|o| contains(v, o, ctx) == Some(true)),
        Op::Nin(o) => operand(o, root, ctx).is_some_and(|o| contains(v, o, ctx) == Some(false)),
        Op::StartsWith(o) => operand(o, root, ctx)
            .and_then(Value::as_str)
            .is_some_and(|p| any_item(v, ctx, &mut |x, _| x.as_str().is_some_and(|s| s.starts_with(p)))),
        Op::EndsWith(o) => operand(o, root, ctx)
            .and_then(Value::as_str)
            .is_some_and(|p| any_item(v, ctx, &mut |x, _| x.as_str().is_some_and(|s| s.ends_with(p)))),
        Op::Ref(p) => resolve_path(p, root, ctx.iterations()).is_some_and(|r| literal_match(r, v, ctx)),
        Op::Exist(_) | Op::Or(_) | Op::And(_) | Op::Not(_) => false,
    }
}

/// An operand's value: the literal, or what its `$ref` points to.
fn operand<'v>(o: &'v Operand, root: &'v Value, ctx: &Ctx<'_>) -> Option<&'v Value> {
    match o {
        Operand::Lit(v) => Some(v),
        Operand::Ref(p) => resolve_path(p, root, ctx.iterations()),
    }
}

/// Follow a `$ref` path from the root. `[$index]` is the index of the current element of that
/// array if the evaluation is iterating it, else of the innermost iteration; none: no value.
fn resolve_path<'v>(p: &RefPath, root: &'v Value, iters: &[Iteration]) -> Option<&'v Value> {
    let mut cur = root;
    for seg in &p.segs {
        cur = match seg {
            Seg::Key(name, num) => match cur {
                Value::Object(m) => m.get(name)?,
                Value::Array(a) => a.get((*num)?)?,
                _ => return None,
            },
            Seg::Index(i) => cur.as_array()?.get(*i)?,
            Seg::Current => {
                let a = cur.as_array()?;
                // That very array when it is being iterated, else the innermost iteration (a
                // parallel array: `items` iterated, `limits[$index]` referenced).
                let it = iters.iter().rev().find(|it| std::ptr::eq(it.array, a)).or(iters.last())?;
                a.get(it.index)?
            }
        };
    }
    Some(cur)
}

/// `$eq`: `v` deep-equals `o`, or (an array) one of its elements does.
fn equals(v: &Value, o: &Value, ctx: &mut Ctx<'_>) -> bool {
    any_item(v, ctx, &mut |x, _| values_equal(x, o, 0))
}

/// `$in`: `Some(true/false)`, or `None` when the types make the question meaningless (then
/// neither `$in` nor `$nin` matches).
fn contains(v: &Value, o: &Value, ctx: &mut Ctx<'_>) -> Option<bool> {
    match o {
        Value::Array(list) => {
            Some(any_item(v, ctx, &mut |x, ctx| list.iter().any(|y| ctx.tick() && values_equal(x, y, 0))))
        }
        Value::String(needle) => {
            if !(v.is_string() || v.is_array()) {
                return None;
            }
            Some(any_item(v, ctx, &mut |x, _| x.as_str().is_some_and(|s| s.contains(needle.as_str()))))
        }
        _ => None,
    }
}

/// A value from the input (a `$ref`) used as a schema of literals: partial objects, arrays
/// contained, any element of an array input. Keys starting with `$` are plain keys here.
fn literal_match(lit: &Value, v: &Value, ctx: &mut Ctx<'_>) -> bool {
    if !ctx.enter() {
        return false;
    }
    let r = match (lit, v) {
        (Value::Array(ls), Value::Array(a)) => ls.iter().all(|l| a.iter().any(|e| literal_match(l, e, ctx))),
        (Value::Array(_), _) => false,
        (Value::Object(lm), Value::Object(m)) => {
            lm.iter().all(|(k, l)| m.get(k).is_some_and(|x| literal_match(l, x, ctx)))
        }
        (_, Value::Array(a)) => a.iter().any(|e| literal_match(lit, e, ctx)),
        (Value::Object(_), _) => false,
        (scalar, _) => scalar_eq(scalar, v),
    };
    ctx.leave();
    r
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Some(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x == y,
        _ => false,
    }
}

/// Deep equality, numbers numerically, object key order ignored. Too deep: not equal.
fn values_equal(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > EVAL_MAX_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q, depth + 1))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| values_equal(p, q, depth + 1)))
        }
        _ => scalar_eq(a, b),
    }
}

/// Order of two numbers or two strings; `None` for any other pair.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        _ => None,
    }
}

/// Numeric order: exact for integers (i64/u64), through f64 otherwise.
fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => Some(x.cmp(&y)),
        (_, _, Some(x), Some(y)) => Some(x.cmp(&y)),
        // One is a negative i64, the other a u64 above i64::MAX.
        (Some(_), None, _, Some(_)) => Some(Ordering::Less),
        (None, Some(_), Some(_), _) => Some(Ordering::Greater),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("bad test JSON {s}: {e}"))
    }

    /// `(schema, input, expected)`.
    const CASES: &[(&str, &str, bool)] = &[
        // --- literals -------------------------------------------------------------------
        (r#""a""#, r#""a""#, true),
        (r#""a""#, r#""b""#, false),
        (r#""""#, r#""""#, true),
        ("1", "1", true),
        ("1", "1.0", true),
        ("1.0", "1", true),
        ("1.5", "1.5", true),
        ("1", "2", false),
        ("-1", "-1.0", true),
        ("0", "-0.0", true),
        ("18446744073709551615", "18446744073709551615", true),
        ("-5", "18446744073709551615", false),
        ("9007199254740993", "9007199254740992", false),
        ("true", "true", true),
        ("false", "false", true),
        ("true", "false", false),
        ("null", "null", true),
        ("null", "false", false),
        ("null", "0", false),
        ("0", "false", false),
        (r#""1""#, "1", false),
        ("1", r#""1""#, false),
        (r#""true""#, "true", false),
        (r#""a""#, r#"{"a":1}"#, false),
        ("true", r#"{"test":true}"#, false),
        // --- objects --------------------------------------------------------------------
        (r#"{"type":"created"}"#, r#"{"type":"created"}"#, true),
        (r#"{"type":"created"}"#, r#"{}"#, false),
        (r#"{"type":"created"}"#, r#"{"type":"updated"}"#, false),
        (r#"{"type":"created"}"#, r#"{"type":1}"#, false),
        (r#"{"count":1}"#, r#"{"count":1,"type":"created"}"#, true),
        (r#"{"count":1,"type":"created"}"#, r#"{"count":1}"#, false),
        (r#"{"a":{"b":{"c":1}}}"#, r#"{"a":{"b":{"c":1,"d":2}}}"#, true),
        (r#"{"a":{"b":{"c":1}}}"#, r#"{"a":{"b":{"c":2}}}"#, false),
        (r#"{"a":{"b":1}}"#, r#"{"a":1}"#, false),
        (r#"{"a":{"b":1}}"#, r#"{"a":{"b":1.0}}"#, true),
        (r#"{"a":1}"#, r#""a""#, false),
        (r#"{"a":1}"#, "null", false),
        ("{}", "{}", true),
        ("{}", r#"{"x":1}"#, true),
        ("{}", r#""x""#, false),
        (r#"{"a":null}"#, r#"{"a":null}"#, true),
        (r#"{"a":null}"#, "{}", false),
        (r#"{"a":null}"#, r#"{"a":0}"#, false),
        (r#"{"A":1}"#, r#"{"a":1}"#, false),
        (r#"{"a.b":1}"#, r#"{"a.b":1}"#, true),
        (r#"{"a.b":1}"#, r#"{"a":{"b":1}}"#, false),
        (r#"{"type":{"something":"created"}}"#, r#"{"type":{"something":"created"}}"#, true),
        (r#"{"type":{"something":"created"}}"#, r#"{"type":{"something":"updated"}}"#, false),
        (r#"{"type":1}"#, r#"{"type":{"something":"created"}}"#, false),
        (r#"{"type":"order/created"}"#, r#"{"type":"order/created","order":{"id":123}}"#, true),
        (r#"{"product":{"inventory":0}}"#, r#"{"product":{"title":"A product","inventory":0}}"#, true),
        // --- array inputs against scalar / object schemas -------------------------------
        (r#"{"tags":"gift"}"#, r#"{"tags":["gift","something"]}"#, true),
        (r#"{"tags":"nope"}"#, r#"{"tags":["gift","something"]}"#, false),
        (r#"{"tags":"gift"}"#, r#"{"tags":[]}"#, false),
        (r#"{"items":{"sku":"a"}}"#, r#"{"items":[{"sku":"b"},{"sku":"a"}]}"#, true),
        (r#"{"items":{"sku":"c"}}"#, r#"{"items":[{"sku":"b"},{"sku":"a"}]}"#, false),
        (r#"{"items":{"sku":"a","qty":2}}"#, r#"{"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}"#, false),
        (r#"{"items":{"sku":"a","qty":1}}"#, r#"{"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}"#, true),
        (
            r#"{"order":{"items":{"id":456}}}"#,
            r#"{"order":{"id":123,"items":[{"id":456,"title":"My product"}]}}"#,
            true,
        ),
        (r#"{"items":{"inventory":{"$lte":10}}}"#, r#"{"items":[{"inventory":9},{"inventory":11}]}"#, true),
        (r#"{"items":{"inventory":{"$lte":10}}}"#, r#"{"items":[{"inventory":12},{"inventory":11}]}"#, false),
        (r#""x""#, r#"["a","x"]"#, true),
        (r#""x""#, r#"[["x"]]"#, true),
        (r#""x""#, r#"[]"#, false),
        ("1", "[1.0,2]", true),
        (r#"{"a":1}"#, r#"[{"a":1}]"#, true),
        (r#"{"a":1}"#, "[1]", false),
        (r#"{"a":{"b":1}}"#, r#"{"a":[{"b":[0,1]}]}"#, true),
        ("{}", "[1,{}]", true),
        ("{}", "[1,2]", false),
        // --- array schemas --------------------------------------------------------------
        (r#"{"tags":["gift","something"]}"#, r#"{"tags":["gift","something","another"]}"#, true),
        (r#"{"tags":["gift","whatever"]}"#, r#"{"tags":["gift","something","another"]}"#, false),
        (r#"{"tags":["something","gift"]}"#, r#"{"tags":["gift","something"]}"#, true),
        (r#"{"tags":["gift"]}"#, r#"{"tags":"gift"}"#, false),
        (r#"{"tags":[]}"#, r#"{"tags":["a"]}"#, true),
        (r#"{"tags":[]}"#, r#"{"tags":[]}"#, true),
        (r#"{"tags":[]}"#, r#"{"tags":"a"}"#, false),
        ("[1,2]", "[2,1,3]", true),
        ("[1,2]", "[1]", false),
        ("[1,1]", "[1]", true),
        (r#"[{"a":1},{"b":2}]"#, r#"[{"a":1,"b":2}]"#, true),
        (r#"[{"a":1}]"#, r#"[{"a":2}]"#, false),
        (r#"[["a"]]"#, r#"[["a","b"]]"#, true),
        (r#"[["a","c"]]"#, r#"[["a","b"]]"#, false),
        (r#"{"tags":[{"$startsWith":"gi"},"x"]}"#, r#"{"tags":["gift","x"]}"#, true),
        (r#"{"tags":[{"$startsWith":"zz"},"x"]}"#, r#"{"tags":["gift","x"]}"#, false),
        ("[1]", r#"{"0":1}"#, false),
        ("[1]", "1", false),
        // --- $eq / $neq -----------------------------------------------------------------
        (r#"{"count":{"$eq":2}}"#, r#"{"count":2}"#, true),
        (r#"{"count":{"$eq":2}}"#, r#"{"count":2.0}"#, true),
        (r#"{"count":{"$eq":2}}"#, r#"{"count":"2"}"#, false),
        (r#"{"count":{"$eq":2}}"#, r#"{}"#, false),
        (r#"{"count":{"$neq":2}}"#, r#"{"count":2}"#, false),
        (r#"{"count":{"$neq":2}}"#, r#"{"count":3}"#, true),
        (r#"{"count":{"$neq":2}}"#, r#"{"count":"2"}"#, true),
        (r#"{"count":{"$neq":2}}"#, r#"{}"#, false),
        (r#"{"type":{"$eq":"created"}}"#, r#"{"type":"created"}"#, true),
        (r#"{"type":{"$neq":"created"}}"#, r#"{"type":"created"}"#, false),
        (r#"{"tags":{"$eq":["test","other"]}}"#, r#"{"tags":["test","other"]}"#, true),
        (r#"{"tags":{"$eq":["test","other"]}}"#, r#"{"tags":["test","other","more"]}"#, false),
        (r#"{"tags":{"$eq":["other","test"]}}"#, r#"{"tags":["test","other"]}"#, false),
        (r#"{"tags":{"$eq":"test"}}"#, r#"{"tags":["test","other"]}"#, true),
        (r#"{"tags":{"$neq":"test"}}"#, r#"{"tags":["test","other"]}"#, false),
        (r#"{"tags":{"$neq":"zzz"}}"#, r#"{"tags":["test","other"]}"#, true),
        (r#"{"a":{"$eq":{"b":1}}}"#, r#"{"a":{"b":1}}"#, true),
        (r#"{"a":{"$eq":{"b":1}}}"#, r#"{"a":{"b":1.0}}"#, true),
        (r#"{"a":{"$eq":{"b":1}}}"#, r#"{"a":{"b":1,"c":2}}"#, false),
        (r#"{"a":{"$eq":{"$gt":1}}}"#, r#"{"a":{"$gt":1}}"#, true),
        (r#"{"a":{"$eq":{"$gt":1}}}"#, r#"{"a":5}"#, false),
        (r#"{"a":{"$eq":null}}"#, r#"{"a":null}"#, true),
        (r#"{"a":{"$neq":null}}"#, r#"{"a":null}"#, false),
        (r#"{"a":{"$neq":null}}"#, r#"{"a":1}"#, true),
        (r#"{"$eq":{"x":[1,2]}}"#, r#"{"x":[1,2]}"#, true),
        // --- $gt $gte $lt $lte ----------------------------------------------------------
        (r#"{"count":{"$lt":1}}"#, r#"{"count":0}"#, true),
        (r#"{"count":{"$lt":1}}"#, r#"{"count":2}"#, false),
        (r#"{"count":{"$gt":1,"$lt":3}}"#, r#"{"count":2}"#, true),
        (r#"{"count":{"$gt":1,"$lt":3}}"#, r#"{"count":3}"#, false),
        (r#"{"n":{"$gte":100}}"#, r#"{"n":100}"#, true),
        (r#"{"n":{"$gte":100}}"#, r#"{"n":99.99}"#, false),
        (r#"{"n":{"$lte":10}}"#, r#"{"n":10.0}"#, true),
        (r#"{"n":{"$gt":1}}"#, r#"{"n":1}"#, false),
        (r#"{"n":{"$lt":-1}}"#, r#"{"n":-1.5}"#, true),
        (r#"{"n":{"$gt":9007199254740992}}"#, r#"{"n":9007199254740993}"#, true),
        (r#"{"n":{"$lt":0}}"#, r#"{"n":18446744073709551615}"#, false),
        (r#"{"n":{"$gt":0.5}}"#, r#"{"n":1}"#, true),
        (r#"{"title":{"$gt":"b"}}"#, r#"{"title":"a"}"#, false),
        (r#"{"title":{"$gt":"b"}}"#, r#"{"title":"c"}"#, true),
        (r#"{"d":{"$gte":"2024-01-01"}}"#, r#"{"d":"2024-03-05T00:00:00Z"}"#, true),
        (r#"{"d":{"$lt":"2024-01-01"}}"#, r#"{"d":"2024-03-05T00:00:00Z"}"#, false),
        (r#"{"n":{"$gt":5}}"#, r#"{"n":"10"}"#, false),
        (r#"{"n":{"$lt":"5"}}"#, r#"{"n":1}"#, false),
        (r#"{"n":{"$gt":0}}"#, r#"{"n":null}"#, false),
        (r#"{"n":{"$gt":0}}"#, r#"{"n":true}"#, false),
        (r#"{"n":{"$gt":0}}"#, r#"{}"#, false),
        (r#"{"n":{"$gt":1}}"#, r#"{"n":{"x":2}}"#, false),
        (r#"{"n":{"$gt":5}}"#, r#"{"n":[1,10]}"#, true),
        (r#"{"n":{"$gt":5}}"#, r#"{"n":[1,2]}"#, false),
        (r#"{"n":{"$gt":1,"$lt":3}}"#, r#"{"n":[0,5]}"#, true),
        (r#"{"$gte":5}"#, "10", true),
        (r#"{"$gte":5}"#, "4", false),
        // --- $in / $nin -----------------------------------------------------------------
        (r#"{"id":{"$in":[123,456]}}"#, r#"{"id":123}"#, true),
        (r#"{"id":{"$in":[123,456]}}"#, r#"{"id":789}"#, false),
        (r#"{"id":{"$in":[123,456]}}"#, r#"{"id":123.0}"#, true),
        (r#"{"id":{"$in":[123,456]}}"#, r#"{"id":"123"}"#, false),
        (r#"{"id":{"$nin":[123,456]}}"#, r#"{"id":123}"#, false),
        (r#"{"id":{"$nin":[123,456]}}"#, r#"{"id":789}"#, true),
        (r#"{"id":{"$nin":[123,456]}}"#, r#"{"id":"123"}"#, true),
        (r#"{"id":{"$nin":[123]}}"#, r#"{}"#, false),
        (r#"{"test":{"$in":"text"}}"#, r#"{"test":"some-text"}"#, true),
        (r#"{"test":{"$in":"nope"}}"#, r#"{"test":"some-text"}"#, false),
        (r#"{"test":{"$nin":"some"}}"#, r#"{"test":"some-text"}"#, false),
        (r#"{"test":{"$nin":"zzz"}}"#, r#"{"test":"some-text"}"#, true),
        (r#"{"test":{"$in":"1"}}"#, r#"{"test":1}"#, false),
        (r#"{"test":{"$nin":"1"}}"#, r#"{"test":1}"#, false),
        (r#"{"test":{"$in":""}}"#, r#"{"test":"abc"}"#, true),
        (r#"{"test":"some-text","id":{"$in":[123,456]}}"#, r#"{"test":"some-text","id":123}"#, true),
        (r#"{"tags":{"$nin":"test"}}"#, r#"{"tags":["test","something"]}"#, false),
        (r#"{"tags":{"$in":"test"}}"#, r#"{"tags":["a-test","b"]}"#, true),
        (r#"{"tags":{"$in":["a","b"]}}"#, r#"{"tags":["x","b"]}"#, true),
        (r#"{"tags":{"$nin":["a","b"]}}"#, r#"{"tags":["x","b"]}"#, false),
        (r#"{"tags":{"$nin":["a","b"]}}"#, r#"{"tags":["x","y"]}"#, true),
        (r#"{"v":{"$in":[null]}}"#, r#"{"v":null}"#, true),
        (r#"{"v":{"$in":[]}}"#, r#"{"v":1}"#, false),
        (r#"{"v":{"$nin":[]}}"#, r#"{"v":1}"#, true),
        (r#"{"v":{"$in":[{"a":1}]}}"#, r#"{"v":{"a":1}}"#, true),
        (r#"{"v":{"$in":[[1,2]]}}"#, r#"{"v":[1,2]}"#, true),
        (r#"{"$in":["/a","/b"]}"#, r#""/b""#, true),
        // SPEC §5's example (the body part).
        (
            r#"{"event_type":{"$in":["mouse.click","mouse.move"]},"amount":{"$gte":100}}"#,
            r#"{"event_type":"mouse.click","amount":150}"#,
            true,
        ),
        (
            r#"{"event_type":{"$in":["mouse.click","mouse.move"]},"amount":{"$gte":100}}"#,
            r#"{"event_type":"mouse.move","amount":100.0}"#,
            true,
        ),
        (
            r#"{"event_type":{"$in":["mouse.click","mouse.move"]},"amount":{"$gte":100}}"#,
            r#"{"event_type":"mouse.click","amount":99}"#,
            false,
        ),
        (
            r#"{"event_type":{"$in":["mouse.click","mouse.move"]},"amount":{"$gte":100}}"#,
            r#"{"event_type":"key.press","amount":150}"#,
            false,
        ),
        (
            r#"{"event_type":{"$in":["mouse.click","mouse.move"]},"amount":{"$gte":100}}"#,
            r#"{"event_type":"mouse.click"}"#,
            false,
        ),
        (
            r#"{"event_type":{"$in":["mouse.click","mouse.move"]},"amount":{"$gte":100}}"#,
            r#"{"event_type":"mouse.click","amount":"150"}"#,
            false,
        ),
        // --- $startsWith / $endsWith ----------------------------------------------------
        (r#"{"test":{"$startsWith":"some"}}"#, r#"{"test":"some-text"}"#, true),
        (r#"{"test":{"$endsWith":"some"}}"#, r#"{"test":"some-text"}"#, false),
        (r#"{"test":{"$endsWith":"text"}}"#, r#"{"test":"some-text"}"#, true),
        (r#"{"test":{"$startsWith":"text"}}"#, r#"{"test":{"more":true}}"#, false),
        (r#"{"test":{"something":"text"}}"#, r#"{"test":"some-text"}"#, false),
        (r#"{"test":{"$startsWith":"1"}}"#, r#"{"test":12}"#, false),
        (r#"{"test":{"$startsWith":""}}"#, r#"{"test":"x"}"#, true),
        (r#"{"tags":{"$startsWith":"gi"}}"#, r#"{"tags":["x","gift"]}"#, true),
        (r#"{"tags":{"$endsWith":"zz"}}"#, r#"{"tags":["x","gift"]}"#, false),
        (r#"{"$startsWith":"/webhooks/"}"#, r#""/webhooks/stripe""#, true),
        (r#"{"s":{"$startsWith":"é"}}"#, r#"{"s":"été"}"#, true),
        (r#"{"s":{"$startsWith":"a","$endsWith":"z"}}"#, r#"{"s":"abcz"}"#, true),
        (r#"{"s":{"$startsWith":"a","$endsWith":"z"}}"#, r#"{"s":"abc"}"#, false),
        // --- $exist ---------------------------------------------------------------------
        (r#"{"a":{"$exist":true}}"#, r#"{"a":1}"#, true),
        (r#"{"a":{"$exist":true}}"#, r#"{"a":null}"#, true),
        (r#"{"a":{"$exist":true}}"#, r#"{}"#, false),
        (r#"{"a":{"$exist":false}}"#, r#"{}"#, true),
        (r#"{"a":{"$exist":false}}"#, r#"{"a":null}"#, false),
        (r#"{"a":{"b":{"$exist":false}}}"#, r#"{"a":{}}"#, true),
        (r#"{"a":{"b":{"$exist":false}}}"#, r#"{}"#, false),
        (r#"{"items":{"x":{"$exist":true}}}"#, r#"{"items":[{"y":1},{"x":1}]}"#, true),
        (r#"{"a":{"$exist":true,"$gt":1}}"#, r#"{"a":2}"#, true),
        (r#"{"$exist":true}"#, "null", true),
        // --- $or / $and / $not ----------------------------------------------------------
        (r#"{"$or":[{"test":true}]}"#, r#"{"test":true}"#, true),
        (r#"{"$or":[{"test":false}]}"#, r#"{"test":true}"#, false),
        (
            r#"{"test":{"$or":[{"something":true},{"something":{"$in":"else"}}]}}"#,
            r#"{"test":{"something":"else"}}"#,
            true,
        ),
        (
            r#"{"test":{"$or":[{"something":true},{"something":{"$in":"no"}}]}}"#,
            r#"{"test":{"something":"else"}}"#,
            false,
        ),
        (r#"{"$or":[1,2]}"#, "1", true),
        (r#"{"$or":[2,3]}"#, "1", false),
        (r#"{"inventory":{"$or":[1,5]}}"#, r#"{"inventory":5}"#, true),
        (r#"{"$or":[{"hello":"johny"},{"hello":"mark"}]}"#, r#"{"hello":"world"}"#, false),
        (r#"{"$and":[{"a":1},{"b":2}]}"#, r#"{"a":1,"b":2}"#, true),
        (r#"{"$and":[{"a":1},{"b":2}]}"#, r#"{"a":1,"b":3}"#, false),
        (r#"{"n":{"$and":[{"$gt":1},{"$lt":5}]}}"#, r#"{"n":3}"#, true),
        (r#"{"n":{"$and":[{"$gt":1},{"$lt":5}]}}"#, r#"{"n":5}"#, false),
        (r#"{"n":{"$not":{"$in":[1,2]}}}"#, r#"{"n":3}"#, true),
        (r#"{"n":{"$not":{"$in":[1,2]}}}"#, r#"{"n":2}"#, false),
        (r#"{"n":{"$not":1}}"#, r#"{}"#, true),
        (r#"{"n":{"$not":{"$exist":true}}}"#, r#"{"n":null}"#, false),
        (r#"{"$not":{"type":"ping"}}"#, r#"{"type":"order"}"#, true),
        (r#"{"$not":{"type":"ping"}}"#, r#"{"type":"ping"}"#, false),
        (r#"{"$not":{"$not":{"a":1}}}"#, r#"{"a":1}"#, true),
        (r#"{"tags":{"$not":"x"}}"#, r#"{"tags":["x","y"]}"#, false),
        (r#"{"tags":{"$not":"z"}}"#, r#"{"tags":["x","y"]}"#, true),
        (r#"{"a":{"$or":[{"$exist":false},{"$gt":5}]}}"#, r#"{}"#, true),
        (r#"{"a":{"$or":[{"$exist":false},{"$gt":5}]}}"#, r#"{"a":3}"#, false),
        (r#"{"a":{"$or":[{"$exist":false},{"$gt":5}]}}"#, r#"{"a":6}"#, true),
        (r#"{"$or":[{"a":1},{"a":2}],"b":3}"#, r#"{"a":2,"b":3}"#, true),
        (r#"{"$or":[{"a":1},{"a":2}],"b":3}"#, r#"{"a":2,"b":4}"#, false),
        (r#"{"$or":[{"a":1},{"a":2}],"b":3}"#, r#"{"b":3}"#, false),
        (r#"{"$and":[{"$or":[{"a":1},{"b":1}]},{"$not":{"c":1}}]}"#, r#"{"b":1,"c":2}"#, true),
        (r#"{"$and":[{"$or":[{"a":1},{"b":1}]},{"$not":{"c":1}}]}"#, r#"{"b":1,"c":1}"#, false),
        // --- $ref -----------------------------------------------------------------------
        (r#"{"test2":{"$ref":"test"}}"#, r#"{"test":true,"test2":true}"#, true),
        (r#"{"test2":{"$ref":"test"}}"#, r#"{"test":true,"test2":false}"#, false),
        (r#"{"test2":{"$gt":{"$ref":"test"}}}"#, r#"{"test":1,"test2":2}"#, true),
        (r#"{"test2":{"$gt":{"$ref":"test"}}}"#, r#"{"test":2,"test2":2}"#, false),
        (r#"{"types":{"$ref":"test2"}}"#, r#"{"types":["something","else"],"test2":"else"}"#, true),
        (r#"{"test2":{"$ref":"types[1]"}}"#, r#"{"types":["something","else"],"test2":"else"}"#, true),
        (r#"{"test2":{"$ref":"types[0]"}}"#, r#"{"types":["something","else"],"test2":"else"}"#, false),
        (
            r#"{"another":{"thing":{"$ref":"current.something"}}}"#,
            r#"{"current":{"something":true},"another":{"thing":true}}"#,
            true,
        ),
        (r#"{"inventory":{"$lte":{"$ref":"old_inventory"}}}"#, r#"{"inventory":0,"old_inventory":10}"#, true),
        (r#"{"updated_at":{"$ref":"created_at"}}"#, r#"{"updated_at":"2020-04-20","created_at":"2020-04-20"}"#, true),
        (r#"{"a":{"$ref":"missing"}}"#, r#"{"a":1}"#, false),
        (r#"{"a":{"$eq":{"$ref":"missing"}}}"#, r#"{"a":null}"#, false),
        (r#"{"a":{"$neq":{"$ref":"missing"}}}"#, r#"{"a":1}"#, false),
        (r#"{"a":{"$ref":"b"}}"#, r#"{"a":1,"b":1.0}"#, true),
        (r#"{"a":{"$ref":"b"}}"#, r#"{"a":{"x":1,"y":2},"b":{"x":1}}"#, true),
        (r#"{"a":{"$ref":"b"}}"#, r#"{"a":[1,2,3],"b":[3,1]}"#, true),
        (r#"{"a":{"$ref":"b"}}"#, r#"{"a":5,"b":{"$gt":0}}"#, false),
        (r#"{"a":{"$ref":"b"}}"#, r#"{"a":{"$gt":0},"b":{"$gt":0}}"#, true),
        (r#"{"a":{"$ref":"$.b"}}"#, r#"{"a":1,"b":1}"#, true),
        (r#"{"a":{"$ref":"b.0"}}"#, r#"{"a":1,"b":[1]}"#, true),
        (r#"{"a":{"$ref":"b.1"}}"#, r#"{"a":1,"b":{"1":1}}"#, true),
        (r#"{"a":{"$ref":"['b.c']"}}"#, r#"{"a":1,"b.c":1}"#, true),
        (r#"{"a":{"$ref":"b[\"x\"][0]"}}"#, r#"{"a":1,"b":{"x":[1]}}"#, true),
        (r#"{"a":{"$ref":"b[$index]"}}"#, r#"{"a":1,"b":[1]}"#, false),
        (r#"{"a":{"$gt":{"$ref":"b"}}}"#, r#"{"a":"10","b":9}"#, false),
        (r#"{"a":{"$in":{"$ref":"allowed"}}}"#, r#"{"a":"x","allowed":["x","y"]}"#, true),
        (r#"{"a":{"$in":{"$ref":"allowed"}}}"#, r#"{"a":"x","allowed":5}"#, false),
        (r#"{"a":{"$nin":{"$ref":"allowed"}}}"#, r#"{"a":"z","allowed":["x","y"]}"#, true),
        (r#"{"a":{"$startsWith":{"$ref":"prefix"}}}"#, r#"{"a":"abc","prefix":"ab"}"#, true),
        (r#"{"a":{"$endsWith":{"$ref":"prefix"}}}"#, r#"{"a":"abc","prefix":1}"#, false),
        (r#"{"$ref":"$"}"#, r#"{"a":1}"#, true),
        // $index: the element being iterated (Hookdeck's documented example)...
        (
            r#"{"variants":{"updated_at":{"$ref":"variants[$index].created_at"}}}"#,
            r#"{"variants":[{"updated_at":"2020-05-20","created_at":"2020-04-20"},{"updated_at":"2020-04-20","created_at":"2020-04-20"}]}"#,
            true,
        ),
        (
            r#"{"variants":{"updated_at":{"$ref":"variants[$index].created_at"}}}"#,
            r#"{"variants":[{"updated_at":"2020-05-20","created_at":"2020-04-20"},{"updated_at":"2020-06-20","created_at":"2020-04-20"}]}"#,
            false,
        ),
        // ...into another array of the same input...
        (
            r#"{"items":{"price":{"$lte":{"$ref":"limits[$index].max"}}}}"#,
            r#"{"items":[{"price":5},{"price":50}],"limits":[{"max":1},{"max":100}]}"#,
            true,
        ),
        (
            r#"{"items":{"price":{"$lte":{"$ref":"limits[$index].max"}}}}"#,
            r#"{"items":[{"price":5},{"price":50}],"limits":[{"max":1},{"max":10}]}"#,
            false,
        ),
        (
            r#"{"items":{"price":{"$lte":{"$ref":"limits[$index].max"}}}}"#,
            r#"{"items":[{"price":5},{"price":50}],"limits":[{"max":1}]}"#,
            false,
        ),
        // ...nested arrays: each $index is the current index of the array it applies to...
        (
            r#"{"orders":{"items":{"qty":{"$lte":{"$ref":"orders[$index].items[$index].max"}}}}}"#,
            r#"{"orders":[{"items":[{"qty":5,"max":1},{"qty":2,"max":3}]}]}"#,
            true,
        ),
        (
            r#"{"orders":{"items":{"qty":{"$lte":{"$ref":"orders[$index].items[$index].max"}}}}}"#,
            r#"{"orders":[{"items":[{"qty":5,"max":1}]},{"items":[{"qty":4,"max":3}]}]}"#,
            false,
        ),
        (
            r#"{"orders":{"items":{"qty":{"$ref":"orders[$index].want"}}}}"#,
            r#"{"orders":[{"want":9,"items":[{"qty":1}]},{"want":2,"items":[{"qty":2}]}]}"#,
            true,
        ),
        (
            r#"{"orders":{"items":{"qty":{"$ref":"orders[$index].want"}}}}"#,
            r#"{"orders":[{"want":9,"items":[{"qty":1}]},{"want":2,"items":[{"qty":3}]}]}"#,
            false,
        ),
        // ...a root array too...
        (r#"{"a":{"$ref":"[$index].b"}}"#, r#"[{"a":1,"b":2},{"a":3,"b":3}]"#, true),
        (r#"{"a":{"$ref":"$[$index].b"}}"#, r#"[{"a":1,"b":2},{"a":3,"b":4}]"#, false),
        // ...and array schemas iterate too.
        (r#"{"a":[{"$ref":"b[$index]"}]}"#, r#"{"a":[7,8],"b":[0,8]}"#, true),
        (r#"{"a":[{"$ref":"b[$index]"}]}"#, r#"{"a":[7,8],"b":[8,7]}"#, false),
        (r#"{"a":[{"$ref":"a[$index]"}]}"#, r#"{"a":[7,8]}"#, true),
    ];

    #[test]
    fn table() {
        let mut failures = Vec::new();
        for (i, (schema, input, want)) in CASES.iter().enumerate() {
            let f = compile(&parse(schema)).unwrap_or_else(|e| panic!("case {i}: {schema} does not compile: {e}"));
            if f.matches(&parse(input)) != *want {
                failures.push(format!("case {i}: {schema} vs {input}: expected {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    }

    /// `(schema, error path, part of the message)`.
    const ERRORS: &[(&str, &str, &str)] = &[
        (r#"{"amount":{"$gtee":1}}"#, "amount.$gtee", "unknown operator $gtee"),
        (r#"{"$foo":1}"#, "$foo", "unknown operator $foo"),
        (r#"{"a":{"$index":1}}"#, "a.$index", "unknown operator"),
        (r#"{"a":{"$in":5}}"#, "a.$in", "array or a string"),
        (r#"{"a":{"$nin":{"x":1}}}"#, "a.$nin", "array or a string"),
        (r#"{"a":{"$in":null}}"#, "a.$in", "array or a string"),
        (r#"{"$or":[]}"#, "$or", "non-empty array"),
        (r#"{"$and":{}}"#, "$and", "non-empty array"),
        (r#"{"x":{"$or":"a"}}"#, "x.$or", "non-empty array"),
        (r#"{"$or":[{"a":1},{"a":{"$bad":1}}]}"#, "$or[1].a.$bad", "unknown operator $bad"),
        (r#"{"$not":{"$not":{"$zz":1}}}"#, "$not.$not.$zz", "unknown operator"),
        (r#"{"a":{"$exist":"yes"}}"#, "a.$exist", "true or false"),
        (r#"{"a":{"$exist":1}}"#, "a.$exist", "true or false"),
        (r#"{"a":{"$ref":5}}"#, "a.$ref", "string path"),
        (r#"{"a":{"$ref":""}}"#, "a.$ref", "empty"),
        (r#"{"a":{"$ref":"b..c"}}"#, "a.$ref", "empty segment"),
        (r#"{"a":{"$ref":".b"}}"#, "a.$ref", "empty segment"),
        (r#"{"a":{"$ref":"b."}}"#, "a.$ref", "ends with"),
        (r#"{"a":{"$ref":"b[x]"}}"#, "a.$ref", "not an index"),
        (r#"{"a":{"$ref":"b[0"}}"#, "a.$ref", "unclosed"),
        (r#"{"a":{"$ref":"b['x"}}"#, "a.$ref", "unclosed quote"),
        (r#"{"a":{"$ref":"b[0]c"}}"#, "a.$ref", "expected"),
        (r#"{"a":{"$gt":{"$ref":1}}}"#, "a.$gt.$ref", "string path"),
        (r#"{"a":{"$gt":{"$ref":"b","x":1}}}"#, "a.$gt", "no other key"),
        (r#"{"a":{"$lte":{"$ref":"b[zz]"}}}"#, "a.$lte.$ref", "not an index"),
        (r#"{"a":{"$gt":[1]}}"#, "a.$gt", "number or a string"),
        (r#"{"a":{"$lt":true}}"#, "a.$lt", "number or a string"),
        (r#"{"a":{"$startsWith":1}}"#, "a.$startsWith", "needs a string"),
        (r#"{"a":{"$endsWith":["x"]}}"#, "a.$endsWith", "needs a string"),
        (r#"{"tags":[1,{"$x":1}]}"#, "tags[1].$x", "unknown operator $x"),
    ];

    #[test]
    fn compile_errors() {
        for (schema, path, msg) in ERRORS {
            let err = compile(&parse(schema)).expect_err(schema);
            assert_eq!(err.path, *path, "{schema}: {err}");
            assert!(err.message.contains(msg), "{schema}: {err}");
        }
    }

    #[test]
    fn error_display() {
        let err = compile(&json!({"amount": {"$gtee": 1}})).unwrap_err();
        assert_eq!(err.to_string(), "amount.$gtee: unknown operator $gtee");
        let err = compile_rule(None, Some(&json!({"amount": {"$gtee": 1}})), None, None).unwrap_err();
        assert_eq!(err.to_string(), "body.amount.$gtee: unknown operator $gtee");
    }

    #[test]
    fn rule_error_paths() {
        let bad = json!({"a": {"$nope": 1}});
        let e = compile_rule(Some(&json!({"X-A": {"$nope": 1}})), None, None, None).unwrap_err();
        assert_eq!(e.path, "headers.X-A.$nope");
        let e = compile_rule(None, Some(&bad), None, None).unwrap_err();
        assert_eq!(e.path, "body.a.$nope");
        let e = compile_rule(None, None, Some(&bad), None).unwrap_err();
        assert_eq!(e.path, "query.a.$nope");
        let e = compile_rule(None, None, None, Some(&json!({"$startsWith": 1}))).unwrap_err();
        assert_eq!(e.path, "path.$startsWith");
        let e = compile_rule(None, Some(&json!({"$or": []})), None, None).unwrap_err();
        assert_eq!(e.path, "body.$or");
    }

    fn rule(h: Option<Value>, b: Option<Value>, q: Option<Value>, p: Option<Value>) -> RuleFilter {
        compile_rule(h.as_ref(), b.as_ref(), q.as_ref(), p.as_ref()).expect("compiles")
    }

    #[test]
    fn rule_headers_are_case_insensitive() {
        let r = rule(Some(json!({"X-GitHub-Event": "push"})), None, None, None);
        let q = json!({});
        assert!(r.matches(&json!({"x-github-event": "push"}), None, &q, "/"));
        assert!(!r.matches(&json!({"x-github-event": "issues"}), None, &q, "/"));
        assert!(!r.matches(&json!({}), None, &q, "/"));
        // Input keys not lowercased still match.
        assert!(r.matches(&json!({"X-Github-Event": "push"}), None, &q, "/"));
        // Under top-level logical operators too.
        let r = rule(Some(json!({"$or": [{"X-A": "1"}, {"$not": {"X-B": {"$exist": false}}}]})), None, None, None);
        assert!(r.matches(&json!({"x-b": "2"}), None, &q, "/"));
        assert!(r.matches(&json!({"x-a": "1"}), None, &q, "/"));
        assert!(!r.matches(&json!({"x-c": "1"}), None, &q, "/"));
        // Header values stay case-sensitive, and nested keys (not header names) too.
        let r = rule(Some(json!({"content-type": {"$startsWith": "application/json"}})), None, None, None);
        assert!(r.matches(&json!({"content-type": "application/json; charset=utf-8"}), None, &q, "/"));
        assert!(!r.matches(&json!({"content-type": "Application/JSON"}), None, &q, "/"));
        // Header values are strings: a number schema does not coerce.
        let r = rule(Some(json!({"x-count": 5})), None, None, None);
        assert!(!r.matches(&json!({"x-count": "5"}), None, &q, "/"));
    }

    #[test]
    fn rule_parts() {
        let h = json!({"content-type": "application/json"});
        let q = json!({"type": "x", "page": "2"});
        let body = json!({"event_type": "mouse.click", "amount": 150});
        // SPEC §5's example.
        let spec = rule(
            None,
            Some(json!({"event_type": {"$in": ["mouse.click", "mouse.move"]}, "amount": {"$gte": 100}})),
            None,
            None,
        );
        assert!(spec.matches(&h, Some(&body), &q, "/"));
        assert!(!spec.matches(&h, Some(&json!({"event_type": "mouse.click", "amount": 1})), &q, "/"));
        // A body that is not JSON fails any body filter...
        assert!(!spec.matches(&h, None, &q, "/"));
        assert!(!rule(None, Some(json!({})), None, None).matches(&h, None, &q, "/"));
        // ...and does not matter without one.
        let empty = rule(None, None, None, None);
        assert!(empty.is_empty());
        assert!(empty.matches(&h, None, &q, "/"));
        assert!(!spec.is_empty());
        // Query.
        let r = rule(None, None, Some(json!({"type": "x"})), None);
        assert!(r.matches(&h, None, &q, "/"));
        assert!(!r.matches(&h, None, &json!({"type": "y"}), "/"));
        // Path: a string literal is exact, operators apply to the string.
        let r = rule(None, None, None, Some(json!("/hooks/stripe")));
        assert!(r.matches(&h, None, &q, "/hooks/stripe"));
        assert!(!r.matches(&h, None, &q, "/hooks/stripe/x"));
        let r = rule(None, None, None, Some(json!({"$startsWith": "/hooks/"})));
        assert!(r.matches(&h, None, &q, "/hooks/x"));
        assert!(!r.matches(&h, None, &q, "/other"));
        let r = rule(None, None, None, Some(json!({"$in": "stripe"})));
        assert!(r.matches(&h, None, &q, "/hooks/stripe/1"));
        // Every present part must match.
        let r = rule(
            Some(json!({"content-type": "application/json"})),
            Some(json!({"amount": {"$gt": 100}})),
            Some(json!({"type": "x"})),
            Some(json!({"$endsWith": "/in"})),
        );
        assert!(r.matches(&h, Some(&body), &q, "/a/in"));
        assert!(!r.matches(&h, Some(&body), &q, "/a/out"));
        assert!(!r.matches(&json!({}), Some(&body), &q, "/a/in"));
        assert!(!r.matches(&h, Some(&json!({"amount": 100})), &q, "/a/in"));
        assert!(!r.matches(&h, Some(&body), &json!({}), "/a/in"));
        // $ref in a body filter points into the body.
        let r = rule(None, Some(json!({"a": {"$ref": "b"}})), None, None);
        assert!(r.matches(&h, Some(&json!({"a": 1, "b": 1})), &q, "/"));
        assert!(!r.matches(&json!({"b": 1}), Some(&json!({"a": 1})), &q, "/"));
    }

    // --- depth and work limits ---------------------------------------------------------------

    /// Drop a deeply nested value without recursing (serde_json's drop is recursive).
    fn drop_deep(mut v: Value) {
        loop {
            v = match v {
                Value::Array(mut a) => match a.pop() {
                    Some(x) => x,
                    None => return,
                },
                Value::Object(m) => match m.into_iter().next() {
                    Some((_, x)) => x,
                    None => return,
                },
                _ => return,
            };
        }
    }

    /// `{k: v}` and `[v]` without `json!`, which serializes (recursively) interpolated values.
    fn obj(k: &str, v: Value) -> Value {
        let mut m = Map::new();
        m.insert(k.into(), v);
        Value::Object(m)
    }

    fn arr(v: Value) -> Value {
        Value::Array(vec![v])
    }

    fn nest_objects(depth: usize, leaf: Value) -> Value {
        let mut v = leaf;
        for _ in 0..depth {
            let mut m = Map::new();
            m.insert("a".into(), v);
            v = Value::Object(m);
        }
        v
    }

    fn nest_arrays(depth: usize, leaf: Value) -> Value {
        let mut v = leaf;
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn depth_limits_at_compile_time() {
        // MAX_DEPTH levels compile and evaluate...
        let ok = nest_objects(MAX_DEPTH, json!(1));
        let f = compile(&ok).expect("MAX_DEPTH levels compile");
        assert!(f.matches(&ok));
        assert!(!f.matches(&nest_objects(MAX_DEPTH, json!(2))));
        // ...one more does not.
        let err = compile(&nest_objects(MAX_DEPTH + 1, json!(1))).unwrap_err();
        assert!(err.message.contains("too deeply"), "{err}");
        assert!(err.path.starts_with("a.a.a."), "{err}");
        for deep in [
            nest_objects(5000, json!(1)),
            nest_arrays(5000, json!(1)),
            {
                let mut v = json!(1);
                for _ in 0..5000 {
                    v = obj("$not", v);
                }
                v
            },
            {
                let mut v = json!(1);
                for _ in 0..5000 {
                    v = obj("$or", arr(v));
                }
                v
            },
            obj("a", obj("$eq", nest_arrays(5000, json!(1)))),
            obj("a", obj("$in", nest_arrays(5000, json!(1)))),
        ] {
            let err = compile(&deep).unwrap_err();
            assert!(err.message.contains("too deeply"), "{err}");
            drop_deep(deep);
        }
    }

    #[test]
    fn depth_limits_at_evaluation() {
        // Inputs deeper than evaluation goes: no match, no stack overflow.
        let deep = nest_arrays(5000, json!("x"));
        assert!(!compile(&json!("x")).unwrap().matches(&deep));
        assert!(!compile(&json!({"$not": "y"})).unwrap().matches(&deep));
        assert!(!compile(&json!({"$eq": "x"})).unwrap().matches(&deep));
        assert!(!compile(&json!({"$in": ["x"]})).unwrap().matches(&deep));
        assert!(!compile(&json!({"a": 1})).unwrap().matches(&deep));
        assert!(!compile(&json!(["x"])).unwrap().matches(&deep));
        let mut root = Map::new();
        root.insert("a".into(), nest_arrays(5000, json!("x")));
        root.insert("b".into(), nest_arrays(5000, json!("x")));
        let root = Value::Object(root);
        assert!(!compile(&json!({"a": {"$ref": "b"}})).unwrap().matches(&root));
        assert!(!compile(&json!({"a": {"$eq": {"$ref": "b"}}})).unwrap().matches(&root));
        drop_deep(deep);
        let Value::Object(m) = root else { unreachable!() };
        for (_, v) in m {
            drop_deep(v);
        }
        // A reasonably deep input still works, $ref paths included.
        let mut input = Map::new();
        input.insert("deep".into(), nest_objects(100, json!("x")));
        input.insert("leaf".into(), json!("x"));
        let input = Value::Object(input);
        let path = format!("deep.{}", vec!["a"; 100].join("."));
        assert!(compile(&json!({"leaf": {"$ref": path}})).unwrap().matches(&input));
        assert!(compile(&json!({"deep": {"a": {"a": {"$exist": true}}}})).unwrap().matches(&input));
    }

    #[test]
    fn work_budget_bounds_hostile_filters() {
        // Every one of 2000 schema elements must be found in an array of 100 000 elements, the
        // only match being the last: about 4e8 steps. The budget stops it early: no match,
        // although an unbounded evaluation would match.
        let hostile = Value::Array(vec![json!("y"); 2000]);
        let mut haystack = vec![json!("x"); 100_000];
        haystack.push(json!("y"));
        let haystack = Value::Array(haystack);
        let f = compile(&hostile).unwrap();
        let mut ctx = Ctx::new(&haystack);
        assert!(!eval(&f.root, Some(&haystack), &mut ctx) || ctx.aborted);
        assert!(ctx.aborted, "the budget was not exhausted");
        let start = std::time::Instant::now();
        assert!(!f.matches(&haystack));
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        // The same shape, smaller, matches.
        let small = Value::Array(vec![json!("y"); 20]);
        let mut haystack = vec![json!("x"); 10_000];
        haystack.push(json!("y"));
        assert!(compile(&small).unwrap().matches(&Value::Array(haystack)));
        // A large but legitimate input is well within the budget.
        let items: Vec<Value> = (0..100_000).map(|i| json!({"sku": i})).collect();
        let big = obj("items", Value::Array(items));
        assert!(compile(&json!({"items": {"sku": 99_999}})).unwrap().matches(&big));
        assert!(!compile(&json!({"items": {"sku": 100_000}})).unwrap().matches(&big));
    }

    // --- randomized: never panics, always terminates, logical identities hold --------------

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[self.below(xs.len() as u64) as usize]
        }
    }

    const KEYS: &[&str] = &["a", "b", "c", "0", "A", "$index"];
    const STRINGS: &[&str] = &["", "a", "ab", "b", "abc", "x", "é", "1"];
    const REFS: &[&str] = &[
        "a",
        "b.c",
        "a[0]",
        "a[$index]",
        "c[$index].b[$index]",
        "$.a",
        "['a']",
        "a.0.b",
        "$",
        "$[0]",
        "b[1][$index]",
        "",
        "a..",
        "a[",
        "a[x]",
        "[0]",
    ];
    const OPS: &[&str] = &[
        "$eq",
        "$neq",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$startsWith",
        "$endsWith",
        "$exist",
        "$or",
        "$and",
        "$not",
        "$ref",
        "$bogus",
    ];

    fn scalar(rng: &mut Rng) -> Value {
        match rng.below(7) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 => json!(rng.below(5) as i64 - 2),
            3 => json!((rng.below(9) as f64) / 2.0 - 2.0),
            4 => json!(u64::MAX - rng.below(2)),
            _ => json!(*rng.pick(STRINGS)),
        }
    }

    fn value(rng: &mut Rng, depth: u32) -> Value {
        if depth == 0 || rng.below(3) == 0 {
            return scalar(rng);
        }
        if rng.below(2) == 0 {
            Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect())
        } else {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                let k = if rng.below(8) == 0 { "$index" } else { *rng.pick(&KEYS[..5]) };
                m.insert(k.into(), value(rng, depth - 1));
            }
            Value::Object(m)
        }
    }

    fn operand(rng: &mut Rng, depth: u32) -> Value {
        match rng.below(5) {
            0 => json!({"$ref": *rng.pick(REFS)}),
            1 => Value::Array((0..rng.below(4)).map(|_| scalar(rng)).collect()),
            2 => value(rng, depth.min(2)),
            _ => scalar(rng),
        }
    }

    fn schema(rng: &mut Rng, depth: u32) -> Value {
        if depth == 0 || rng.below(4) == 0 {
            return scalar(rng);
        }
        match rng.below(4) {
            0 => Value::Array((0..rng.below(3)).map(|_| schema(rng, depth - 1)).collect()),
            1 => {
                let mut m = Map::new();
                for _ in 0..rng.below(3) + 1 {
                    m.insert((*rng.pick(&KEYS[..5])).into(), schema(rng, depth - 1));
                }
                Value::Object(m)
            }
            _ => {
                let mut m = Map::new();
                for _ in 0..rng.below(2) + 1 {
                    let op = *rng.pick(OPS);
                    let v = match op {
                        "$or" | "$and" => Value::Array((0..rng.below(3) + 1).map(|_| schema(rng, depth - 1)).collect()),
                        "$not" => schema(rng, depth - 1),
                        "$exist" => Value::Bool(rng.below(2) == 0),
                        "$ref" => json!(*rng.pick(REFS)),
                        "$startsWith" | "$endsWith" if rng.below(2) == 0 => json!(*rng.pick(STRINGS)),
                        "$in" | "$nin" if rng.below(3) == 0 => json!(*rng.pick(STRINGS)),
                        _ => operand(rng, depth - 1),
                    };
                    m.insert(op.into(), v);
                }
                Value::Object(m)
            }
        }
    }

    #[test]
    fn randomized_never_panics_and_identities_hold() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut compiled = 0;
        let mut matched = 0;
        for _ in 0..6000 {
            let s = schema(&mut rng, 5);
            let f = match compile(&s) {
                Ok(f) => f,
                Err(e) => {
                    assert!(!e.message.is_empty());
                    continue;
                }
            };
            compiled += 1;
            let not = compile(&json!({"$not": s.clone()})).expect("$not of a valid schema");
            let or = compile(&json!({"$or": [s.clone()]})).expect("$or of a valid schema");
            let and = compile(&json!({"$and": [s.clone(), s.clone()]})).expect("$and");
            for _ in 0..6 {
                let v = value(&mut rng, 5);
                let m = f.matches(&v);
                matched += m as usize;
                assert_eq!(m, f.matches(&v), "deterministic: {s} vs {v}");
                assert_eq!(!m, not.matches(&v), "$not: {s} vs {v}");
                assert_eq!(m, or.matches(&v), "$or: {s} vs {v}");
                assert_eq!(m, and.matches(&v), "$and: {s} vs {v}");
                // The input matched against itself as a schema (when it compiles) never panics.
                if let Ok(g) = compile(&v) {
                    let _ = g.matches(&s);
                }
            }
        }
        assert!(compiled > 1000, "too few schemas compiled: {compiled}");
        assert!(matched > 100, "too few matches: {matched}");
    }

    #[test]
    fn randomized_deep_inputs_and_schemas() {
        let mut rng = Rng(42);
        for _ in 0..300 {
            // Deep schemas: compile refuses past MAX_DEPTH, or evaluates fine below it.
            let depth = rng.below(150) as usize;
            let mut s = scalar(&mut rng);
            for _ in 0..depth {
                s = match rng.below(5) {
                    0 => arr(s),
                    1 => obj("a", s),
                    2 => obj("$not", s),
                    3 => obj("$or", Value::Array(vec![s, json!(1)])),
                    _ => obj("$and", arr(s)),
                };
            }
            let mut v = scalar(&mut rng);
            for _ in 0..rng.below(600) {
                v = if rng.below(2) == 0 { arr(v) } else { obj("a", v) };
            }
            match compile(&s) {
                Ok(f) => {
                    let _ = f.matches(&v);
                }
                Err(e) => assert!(e.message.contains("too deeply"), "{e}"),
            }
            drop_deep(s);
            drop_deep(v);
        }
    }
}
