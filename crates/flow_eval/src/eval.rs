//! The expression evaluator. Types were checked before the plan was made, so a value of an
//! unexpected kind here is an internal error, reported as an [`EvalError`], never a panic.
//! What can really fail at run time (overflow, division by zero) is an [`EvalError`] too, with
//! the span of the expression.

use std::borrow::Cow;
use std::cmp::Ordering;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use flow_diagnostics::{codes, Code};

use crate::json::ToText;
use crate::ops::Op;
use crate::{BinOp, Expr, Key, Program, Span, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
    /// The expression that failed; `None` for failures of a whole map or step.
    pub span: Option<Span>,
    /// What failed: R0005 (an expression), or R0029 (recursion past [`MAX_CALL_DEPTH`]).
    pub code: &'static Code,
}

impl EvalError {
    /// An expression's failure (R0005).
    pub fn new(message: impl Into<String>, span: Option<Span>) -> EvalError {
        EvalError { message: message.into(), span, code: &codes::EVAL }
    }
}

fn err<T>(span: Span, message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError::new(message, Some(span)))
}

pub(crate) fn internal<T>(what: &str) -> Result<T, EvalError> {
    Err(internal_error(what))
}

pub(crate) fn internal_error(what: &str) -> EvalError {
    EvalError::new(format!("internal error: {what} (the checker should have refused this; please report it)"), None)
}

static NULL: Value = Value::Null;

/// Variables in scope: parameters, `let`s, loop variables, lambda parameters. Innermost last.
#[derive(Debug, Default, Clone)]
pub struct Env {
    vars: Vec<(Key, Value)>,
}

impl Env {
    pub fn new() -> Env {
        Env::default()
    }

    pub fn push(&mut self, name: impl Into<Key>, value: Value) {
        self.vars.push((name.into(), value));
    }

    /// Drops the innermost variable and gives back its value.
    pub fn pop(&mut self) -> Option<Value> {
        self.vars.pop().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.vars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Drops the variables pushed after the first `len`.
    pub fn truncate(&mut self, len: usize) {
        self.vars.truncate(len);
    }

    /// A variable by its interned name: a pointer comparison per variable in scope.
    pub fn get(&self, name: &Key) -> Option<&Value> {
        self.vars.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Variable number `i`, from the outermost: where a compiled map finds its variables.
    #[inline]
    pub(crate) fn at(&self, i: usize) -> Option<&Value> {
        self.vars.get(i).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, name: &Key) -> Option<&mut Value> {
        self.vars.iter_mut().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Evaluates an expression.
// Long on purpose: one arm per expression kind, each short; the dispatch is the evaluator.
pub fn eval(expr: &Expr, env: &mut Env, plan: &Program) -> Result<Value, EvalError> {
    if matches!(expr, Expr::Var { .. } | Expr::Field { .. } | Expr::Index { .. }) {
        if let Some(v) = place(expr, env, plan)? {
            return Ok(v.clone());
        }
    }
    match expr {
        Expr::Lit { value } => Ok(value.clone()),
        Expr::Not { expr } => match eval(expr, env, plan)? {
            Value::Bool(b) => Ok(Value::Bool(!b)),
            _ => internal("`!` on a non-Bool"),
        },
        Expr::Neg { expr, span } => match eval(expr, env, plan)? {
            Value::Int(n) => {
                n.checked_neg().map(Value::Int).map_or_else(|| err(*span, "integer overflow in negation"), Ok)
            }
            Value::Float(f) => Ok(Value::Float(-f)),
            Value::Decimal(d) => Ok(Value::Decimal(-d)),
            _ => internal("`-` on a non-number"),
        },
        Expr::Binary { op, lhs, rhs, span } => {
            // A comparison of a path with a literal reads both where they are, without copies.
            if let (Expr::Lit { value: r }, true) = (&**rhs, is_place(lhs) && is_comparison(*op)) {
                if let Some(l) = place(lhs, env, plan)? {
                    return compare_op(*op, l, r);
                }
            }
            // Joining text grows one String (see `text_into`); `+` on anything else is arithmetic.
            if *op == BinOp::Add {
                let mut text = String::new();
                if text_into(expr, env, plan, &mut text)? {
                    return Ok(Value::Str(text));
                }
            }
            let l = operand(lhs, env, plan)?;
            let r = operand(rhs, env, plan)?;
            binary(*op, l, r, *span)
        }
        Expr::Coalesce { lhs, rhs } => match eval(lhs, env, plan)? {
            Value::Null => eval(rhs, env, plan),
            v => Ok(v),
        },
        Expr::And { lhs, rhs } => match eval(lhs, env, plan)? {
            Value::Bool(false) => Ok(Value::Bool(false)),
            Value::Bool(true) => eval(rhs, env, plan),
            _ => internal("`&&` on a non-Bool"),
        },
        Expr::Or { lhs, rhs } => match eval(lhs, env, plan)? {
            Value::Bool(true) => Ok(Value::Bool(true)),
            Value::Bool(false) => eval(rhs, env, plan),
            _ => internal("`||` on a non-Bool"),
        },
        Expr::If { cond, then, otherwise } => match eval(cond, env, plan)? {
            Value::Bool(true) => eval(then, env, plan),
            Value::Bool(false) => eval(otherwise, env, plan),
            _ => internal("`if` on a non-Bool"),
        },
        Expr::Object { fields } => {
            let mut out = Vec::with_capacity(fields.len());
            for (name, e) in fields {
                out.push((*name, eval(e, env, plan)?));
            }
            Ok(Value::Object(out))
        }
        Expr::Array { items } => {
            items.iter().map(|e| eval(e, env, plan)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        Expr::CallMap { map, args, span } => {
            let Some(m) = plan.maps.get(*map) else {
                return internal("call of an unknown map");
            };
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(eval(a, env, plan)?);
            }
            nested_call("map", &m.name, *span, || run_map(m, values, plan)).map_err(|mut e| {
                e.span = e.span.or(Some(*span));
                e
            })
        }
        Expr::CallBuiltin { func, args, span } => {
            crate::builtins::call(*func, args, *span, plan.compiled.call(expr), env, plan)
        }
        Expr::CallFunction { func, args, span } => {
            let Some(f) = plan.functions.get(*func) else {
                return internal("call of an unknown function");
            };
            let mut inner = Env::new();
            for (name, a) in f.params.iter().zip(args) {
                let v = eval(a, env, plan)?;
                inner.push(*name, v);
            }
            nested_call("function", &f.name, *span, || eval(&f.body, &mut inner, plan)).map_err(|mut e| {
                e.span = e.span.or(Some(*span));
                e
            })
        }
        Expr::Catch { expr, default } => match eval(expr, env, plan) {
            Ok(v) => Ok(v),
            // Recursion past the limit is no failure of the operation `catch` handles.
            Err(e) if e.code == &codes::CALL_TOO_DEEP => Err(e),
            Err(_) => eval(default, env, plan),
        },
        Expr::Match { scrutinee, arms, otherwise, span } => {
            let v = eval(scrutinee, env, plan)?;
            for arm in arms {
                if let Some(test) = &arm.member {
                    if test.takes(&v, &plan.types) {
                        env.push(test.bind, v);
                        let out = eval(&arm.body, env, plan);
                        env.pop();
                        return out;
                    }
                    continue;
                }
                if arm.patterns.iter().any(|p| compare(p, &v) == Some(Ordering::Equal)) {
                    return eval(&arm.body, env, plan);
                }
            }
            match otherwise {
                Some(e) => eval(e, env, plan),
                None => err(*span, format!("no arm of the `match` takes {}", v.to_text())),
            }
        }
        Expr::Build { parts, keep } => {
            let mut out: Vec<(Key, Value)> = Vec::new();
            for part in parts {
                match part {
                    crate::ObjectPart::Field { name, value } => {
                        let v = eval(value, env, plan)?;
                        set_field(&mut out, name, v);
                    }
                    crate::ObjectPart::Spread { value } => match eval(value, env, plan)? {
                        Value::Object(fields) => {
                            for (k, v) in fields {
                                set_field(&mut out, &k, v);
                            }
                        }
                        Value::Null => {}
                        other => return internal(&format!("spread of {}", other.kind())),
                    },
                }
            }
            if let Some(keep) = keep {
                let mut ordered = Vec::with_capacity(keep.len());
                for name in keep {
                    if let Some(i) = out.iter().position(|(k, _)| k == name) {
                        ordered.push(out.swap_remove(i));
                    }
                }
                out = ordered;
            }
            Ok(Value::Object(out))
        }
        Expr::Lookup { table, key } => {
            let k = eval(key, env, plan)?;
            match plan.tables.get(*table) {
                Some(t) => Ok(plan.compiled.look_up(*table, t, &k).cloned().unwrap_or(Value::Null)),
                None => internal("lookup in an unknown table"),
            }
        }
        Expr::Lambda { .. } => internal("a lambda outside a function call"),
        Expr::DictGet { base, key } => {
            let k = eval(key, env, plan)?;
            Ok(crate::builtins::dicts::get(&eval(base, env, plan)?, &k))
        }
        Expr::Dict { parts } => crate::builtins::dicts::build(parts, env, plan),
        Expr::Written { expr, ty } => {
            let mut v = eval(expr, env, plan)?;
            crate::write_forms(&mut v, ty, &plan.types)?;
            Ok(v)
        }
        // Paths on variables are handled by `place`, by reference; these are on computed values.
        Expr::Field { base, name, .. } => Ok(match eval(base, env, plan)? {
            Value::Object(fields) => fields.into_iter().find(|(k, _)| k == name).map_or(Value::Null, |(_, v)| v),
            _ => Value::Null,
        }),
        Expr::Index { base, index } => {
            let b = eval(base, env, plan)?;
            let i = match eval(index, env, plan)? {
                Value::Int(i) => i,
                _ => return internal("an index that is not an Int"),
            };
            Ok(index_value(&b, i).clone())
        }
        Expr::Var { .. } => internal("an unknown variable"),
    }
}

/// An operand of arithmetic: a variable-and-field path copied from where it is (numbers are
/// small), without a call of the whole evaluator; anything else evaluated.
#[inline]
fn operand(e: &Expr, env: &mut Env, plan: &Program) -> Result<Value, EvalError> {
    match var_path(e, env) {
        Some(v) => Ok(v.clone()),
        None => eval(e, env, plan),
    }
}

/// Whether [`text_into`] may write `e`: an expression that builds text.
fn builds_text(e: &Expr) -> bool {
    match e {
        Expr::Binary { op: BinOp::Add, .. } => true,
        Expr::If { .. } => text_choice(e),
        Expr::CallBuiltin { func, .. } => crate::builtins::has_text_into(*func),
        _ => false,
    }
}

/// `if … then "a" else if … then "b" else "c"`: a choice between text literals only (an `if`
/// with a `null` or a computed branch is evaluated as a value).
pub(crate) fn text_choice(e: &Expr) -> bool {
    match e {
        Expr::Lit { value: Value::Str(_) } => true,
        Expr::If { then, otherwise, .. } => {
            matches!(&**then, Expr::Lit { value: Value::Str(_) }) && text_choice(otherwise)
        }
        _ => false,
    }
}

/// Appends the text of `e` to `buf` when `e` gives a string, and says whether it did: when it
/// says `false`, nothing was written and nothing was evaluated that the caller must not repeat
/// (only the leftmost path of a `+` was read, to see that it is not text).
pub(crate) fn text_into(e: &Expr, env: &mut Env, plan: &Program, buf: &mut String) -> Result<bool, EvalError> {
    match e {
        Expr::Lit { value: Value::Str(s) } => {
            buf.push_str(s);
            Ok(true)
        }
        Expr::Lit { .. } => Ok(false),
        Expr::Var { .. } | Expr::Field { .. } | Expr::Index { .. } => match place(e, env, plan)? {
            Some(Value::Str(s)) => {
                buf.push_str(s);
                Ok(true)
            }
            _ => Ok(false),
        },
        Expr::Binary { op: BinOp::Add, lhs, rhs, .. } => {
            if !text_into(lhs, env, plan, buf)? {
                return Ok(false);
            }
            // The left side is text, so the checker made the right side text too.
            if !text_into(rhs, env, plan, buf)? {
                match eval(rhs, env, plan)? {
                    Value::Str(s) => buf.push_str(&s),
                    other => return internal(&format!("text + {}", other.kind())),
                }
            }
            Ok(true)
        }
        Expr::If { cond, then, otherwise } if text_choice(e) => {
            let branch = match eval(cond, env, plan)? {
                Value::Bool(true) => then,
                Value::Bool(false) => otherwise,
                _ => return internal("`if` on a non-Bool"),
            };
            text_into(branch, env, plan, buf)
        }
        Expr::CallBuiltin { func, args, span } if crate::builtins::has_text_into(*func) => {
            crate::builtins::text_into(*func, args, *span, plan.compiled.call(e), env, plan, buf)
        }
        _ => Ok(false),
    }
}

/// Writes one map's output as JSON text, record after record (`flowc map`), without building the
/// output object, keeping what the records can share: each field's encoded name and whether it
/// builds text (worked out once), the vector of variables and a buffer for text. On error `out`
/// may hold part of the record: callers write into a scratch buffer.
pub struct MapWriter<'p> {
    map: &'p crate::Map,
    plan: &'p Program,
    /// Per field: `"name":` (after the first, `,"name":`; for a literal, its value too), and
    /// how its value is written: its compiled expression, and whether it builds text.
    fields: Vec<(String, Option<(Op<'p>, bool)>)>,
    /// Per `let`: its compiled expression.
    lets_ops: Vec<Op<'p>>,
    env: Env,
    scratch: String,
    /// The last record's `let` values, whose strings and arrays the next record's reuse.
    lets: Vec<Value>,
}

impl<'p> MapWriter<'p> {
    pub fn new(map: &'p crate::Map, plan: &'p Program) -> MapWriter<'p> {
        // The variables in scope, in the order they are pushed: the parameters, then the `let`s.
        let mut scope: Vec<Key> = map.params.clone();
        let mut lets_ops = Vec::with_capacity(map.lets.len());
        for (name, e) in &map.lets {
            lets_ops.push(crate::ops::compile(e, &scope, plan));
            scope.push(*name);
        }
        let fields = map
            .fields
            .iter()
            .enumerate()
            .map(|(i, (name, e))| {
                let mut key = String::from(if i > 0 { "," } else { "" });
                crate::json::encode_key(name, &mut key);
                match e {
                    // A literal is written once, with its name.
                    Expr::Lit { value } => {
                        crate::encode_to(value, &mut key);
                        (key, None)
                    }
                    e => (key, Some((crate::ops::compile(e, &scope, plan), builds_text(e)))),
                }
            })
            .collect();
        MapWriter { map, plan, fields, lets_ops, env: Env::new(), scratch: String::new(), lets: Vec::new() }
    }

    /// Maps one record that is lent, not given: it is whole again afterwards, on error too, so
    /// the caller can decode the next record into its strings and arrays.
    pub fn write(&mut self, record: &mut Value, out: &mut String) -> Result<(), EvalError> {
        let (map, plan) = (self.map, self.plan);
        let [param] = map.params.as_slice() else {
            return internal("a map of one record with other than one parameter");
        };
        if map.ret.is_some() || !map.spreads.is_empty() {
            // Spreads, or optional target fields left out when null: the whole value is built,
            // then shaped by the type.
            let mut v = run_map(map, vec![std::mem::replace(record, Value::Null)], plan)?;
            if let Some(ret) = &map.ret {
                crate::omit_absent(&mut v, ret, &plan.types);
                crate::write_forms(&mut v, ret, &plan.types)?;
            }
            crate::encode_to(&v, out);
            return Ok(());
        }
        let env = &mut self.env;
        env.truncate(0);
        env.push(*param, std::mem::replace(record, Value::Null));
        let lets = &mut self.lets;
        let result = bind_lets_into(map, &self.lets_ops, env, plan, lets).and_then(|()| {
            out.push('{');
            for (key, op) in &self.fields {
                out.push_str(key);
                if let Some((op, text)) = op {
                    write_field(op, *text, env, plan, out, &mut self.scratch)?;
                }
            }
            out.push('}');
            Ok(())
        });
        // The `let` values are kept for the next record, the record is given back.
        lets.clear();
        while env.len() > 1 {
            lets.push(env.pop().unwrap_or(Value::Null));
        }
        lets.reverse();
        *record = env.pop().unwrap_or(Value::Null);
        result
    }
}

/// One field's value as JSON text.
fn write_field(
    e: &Op<'_>,
    text: bool,
    env: &mut Env,
    plan: &Program,
    out: &mut String,
    scratch: &mut String,
) -> Result<(), EvalError> {
    // Text built by the expression (joins, `lower`, `format_date`, …) is written straight into
    // the output after a quote: no String per field, no second copy. Text that needs escapes
    // (rare) is moved to the scratch buffer and written back escaped.
    if text {
        let start = out.len();
        out.push('"');
        if e.text_into(env, plan, out)? {
            if crate::decode::plain_run(out.as_bytes(), start + 1) == out.len() {
                out.push('"');
            } else {
                scratch.clear();
                scratch.push_str(&out[start + 1..]);
                out.truncate(start);
                crate::json::string(scratch, out);
            }
            return Ok(());
        }
        // Nothing was written but the quote.
        out.truncate(start);
    }
    // A path, a literal, or `path ?? default` is written from where it is, without a copy.
    e.write_json(env, plan, out)
}

/// How deep calls of maps and functions may nest (recursion over recursive data: a tree of
/// rich text read to any depth) before the record fails with R0029. Decoded data is at most 127
/// levels deep (`decode.rs`), so a recursion that goes one level down its input per call stays
/// far below it; only a recursion that does not (it calls itself on the same value, or builds
/// deeper values as it goes) reaches it.
pub const MAX_CALL_DEPTH: u32 = 1000;

/// The stack left before a call that grows it (`stacker`): what one map or function body may
/// need, its expressions being at most 256 deep (flow_syntax bounds them).
const STACK_RED_ZONE: usize = 256 * 1024;
/// The size of each stack segment a deep recursion is given.
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

thread_local! {
    /// How many map and function calls are open on this thread (evaluation never awaits, so a
    /// record's calls stay on one thread).
    static CALL_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Puts the depth back when a call ends, however it ends.
struct DepthGuard(u32);

impl Drop for DepthGuard {
    fn drop(&mut self) {
        CALL_DEPTH.with(|d| d.set(self.0));
    }
}

/// Runs the body of a call of the map or function `name`, one level deeper: past
/// [`MAX_CALL_DEPTH`] it fails (R0029, at the call), and a stack that runs low is grown first,
/// so no recursion overflows it.
fn nested_call<T>(
    what: &str,
    name: &str,
    span: Span,
    body: impl FnOnce() -> Result<T, EvalError>,
) -> Result<T, EvalError> {
    let depth = CALL_DEPTH.with(std::cell::Cell::get);
    if depth >= MAX_CALL_DEPTH {
        return Err(EvalError {
            message: format!(
                "calls nested more than {MAX_CALL_DEPTH} deep: the {what} `{name}` recursed without reaching the end of its data"
            ),
            span: Some(span),
            code: &codes::CALL_TOO_DEEP,
        });
    }
    let _guard = DepthGuard(depth);
    CALL_DEPTH.with(|d| d.set(depth + 1));
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, body)
}

/// A map's parameters bound to its arguments, then its `let`s, in order.
fn map_env(map: &crate::Map, args: Vec<Value>, plan: &Program) -> Result<Env, EvalError> {
    let mut env = Env::new();
    for (name, v) in map.params.iter().zip(args) {
        env.push(*name, v);
    }
    bind_lets(map, &mut env, plan)?;
    Ok(env)
}

fn bind_lets(map: &crate::Map, env: &mut Env, plan: &Program) -> Result<(), EvalError> {
    for (name, e) in &map.lets {
        let v = eval(e, env, plan)?;
        env.push(*name, v);
    }
    Ok(())
}

/// [`bind_lets`], each `let` evaluated into the value it had for the last record (`kept`), so
/// what it builds reuses that value's strings and arrays.
/// `ops` are the `let`s compiled.
fn bind_lets_into(
    map: &crate::Map,
    ops: &[Op<'_>],
    env: &mut Env,
    plan: &Program,
    kept: &mut [Value],
) -> Result<(), EvalError> {
    for (i, ((name, e), op)) in map.lets.iter().zip(ops).enumerate() {
        let mut slot = kept.get_mut(i).map(|v| std::mem::replace(v, Value::Null)).unwrap_or(Value::Null);
        eval_into(e, op, env, plan, &mut slot)?;
        env.push(*name, slot);
    }
    Ok(())
}

/// `op` (which is `e` compiled) evaluated, the value put into `slot`: `split` writes its parts
/// into the strings and the array `slot` holds; anything else replaces it.
fn eval_into(e: &Expr, op: &Op<'_>, env: &mut Env, plan: &Program, slot: &mut Value) -> Result<(), EvalError> {
    if let Expr::CallBuiltin { func: crate::Builtin::Split, args, .. } = e {
        if crate::builtins::text::split_into(args, env, plan, slot)? {
            return Ok(());
        }
    }
    *slot = op.eval(env, plan)?;
    Ok(())
}

fn set_field(out: &mut Vec<(Key, Value)>, name: &Key, v: Value) {
    match out.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = v,
        None => out.push((*name, v)),
    }
}

/// Runs a map on its arguments: its `let`s in order, then its fields.
pub fn run_map(map: &crate::Map, args: Vec<Value>, plan: &Program) -> Result<Value, EvalError> {
    let mut env = map_env(map, args, plan)?;
    if map.spreads.is_empty() {
        let mut out = Vec::with_capacity(map.fields.len());
        for (name, e) in &map.fields {
            out.push((*name, eval(e, &mut env, plan)?));
        }
        return Ok(Value::Object(out));
    }
    let mut all: Vec<(Key, Value)> = Vec::new();
    for s in &map.spreads {
        match eval(s, &mut env, plan)? {
            Value::Object(fields) => {
                for (k, v) in fields {
                    set_field(&mut all, &k, v);
                }
            }
            Value::Null => {}
            other => return internal(&format!("spread of {}", other.kind())),
        }
    }
    for (name, e) in &map.fields {
        let v = eval(e, &mut env, plan)?;
        set_field(&mut all, name, v);
    }
    let mut out = Vec::with_capacity(map.order.len());
    for name in &map.order {
        if let Some(i) = all.iter().position(|(k, _)| k == name) {
            out.push(all.swap_remove(i));
        }
    }
    Ok(Value::Object(out))
}

/// A variable, field or index path: evaluated by reference, without copying the record.
/// `None` when `expr` is not a place.
pub(crate) fn place<'e>(expr: &'e Expr, env: &'e mut Env, plan: &Program) -> Result<Option<&'e Value>, EvalError> {
    // The common case, a variable and its fields (`c.address.city`), in a small loop-free
    // function; everything else (an index, an unknown variable) the general way below.
    if is_var_path(expr) {
        return match var_path(expr, env) {
            Some(v) => Ok(Some(v)),
            None => internal("an unknown variable"),
        };
    }
    match expr {
        Expr::Lit { value } => Ok(Some(value)),
        Expr::Var { name } => match env.get(name) {
            Some(v) => Ok(Some(v)),
            None => internal("an unknown variable"),
        },
        Expr::Field { base, name, slot } => {
            let Some(b) = place(base, env, plan)? else {
                return Ok(None);
            };
            Ok(Some(b.field_at(name, *slot).unwrap_or(&NULL)))
        }
        Expr::Index { base, index } => {
            if !is_place(base) {
                return Ok(None);
            }
            let i = match eval(index, env, plan)? {
                Value::Int(i) => i,
                _ => return internal("an index that is not an Int"),
            };
            let Some(b) = place(base, env, plan)? else {
                return Ok(None);
            };
            Ok(Some(index_value(b, i)))
        }
        _ => Ok(None),
    }
}

/// Whether `expr` is a variable followed by fields (`c.address.city`).
fn is_var_path(mut expr: &Expr) -> bool {
    loop {
        match expr {
            Expr::Var { .. } => return true,
            Expr::Field { base, .. } => expr = base,
            _ => return false,
        }
    }
}

/// A variable followed by fields, read where it is: `None` when `expr` is not such a path or
/// its variable is not in scope.
#[inline]
fn var_path<'e>(expr: &Expr, env: &'e Env) -> Option<&'e Value> {
    match expr {
        Expr::Var { name } => env.get(name),
        Expr::Field { base, name, slot } => Some(var_path(base, env)?.field_at(name, *slot).unwrap_or(&NULL)),
        _ => None,
    }
}

/// A path read where it is; anything else evaluated.
pub(crate) fn place_or_eval<'e>(e: &'e Expr, env: &'e mut Env, plan: &Program) -> Result<Cow<'e, Value>, EvalError> {
    if is_place(e) {
        return Ok(Cow::Borrowed(place(e, env, plan)?.unwrap_or(&NULL)));
    }
    eval(e, env, plan).map(Cow::Owned)
}

/// A literal read where it is (in the plan); anything else evaluated.
pub(crate) fn literal_or_eval<'x>(e: &'x Expr, env: &mut Env, plan: &Program) -> Result<Cow<'x, Value>, EvalError> {
    match e {
        Expr::Lit { value } => Ok(Cow::Borrowed(value)),
        e => eval(e, env, plan).map(Cow::Owned),
    }
}

/// A variable-and-field path (`c.order.items`), mutably: `None` when `expr` is not such a path
/// or a field on the way is not there.
pub(crate) fn place_mut<'e>(expr: &Expr, env: &'e mut Env) -> Option<&'e mut Value> {
    match expr {
        Expr::Var { name } => env.get_mut(name),
        Expr::Field { base, name, .. } => match place_mut(base, env)? {
            Value::Object(fields) => fields.iter_mut().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        },
        _ => None,
    }
}

/// The variable a path starts from.
pub(crate) fn root_var(e: &Expr) -> Option<&str> {
    match e {
        Expr::Var { name } => Some(name),
        Expr::Field { base, .. } | Expr::Index { base, .. } => root_var(base),
        _ => None,
    }
}

pub(crate) fn is_place(e: &Expr) -> bool {
    match e {
        Expr::Var { .. } => true,
        Expr::Field { base, .. } | Expr::Index { base, .. } => is_place(base),
        _ => false,
    }
}

/// `a[i]`: null past either end; negative counts from the end.
pub(crate) fn index_value(base: &Value, i: i64) -> &Value {
    match base {
        Value::Array(items) => {
            let len = items.len() as i64;
            let at = if i < 0 { len + i } else { i };
            usize::try_from(at).ok().and_then(|at| items.get(at)).unwrap_or(&NULL)
        }
        _ => &NULL,
    }
}

fn is_comparison(op: BinOp) -> bool {
    matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
}

/// `==`, `!=`, `<`, `<=`, `>`, `>=` on two values.
pub(crate) fn compare_op(op: BinOp, l: &Value, r: &Value) -> Result<Value, EvalError> {
    let ord = compare(l, r);
    Ok(Value::Bool(match op {
        BinOp::Eq => ord == Some(Ordering::Equal),
        BinOp::Ne => ord != Some(Ordering::Equal),
        _ => {
            let Some(ord) = ord else {
                return internal("comparison of values that do not compare");
            };
            match op {
                BinOp::Lt => ord == Ordering::Less,
                BinOp::Le => ord != Ordering::Greater,
                BinOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }
        }
    }))
}

pub(crate) fn binary(op: BinOp, l: Value, r: Value, span: Span) -> Result<Value, EvalError> {
    use Value::*;
    if is_comparison(op) {
        return compare_op(op, &l, &r);
    }
    // Exact arithmetic on Decimals (and Ints mixed in), the common case of money, first.
    if let (Decimal(_), Decimal(_) | Int(_)) | (Int(_), Decimal(_)) = (&l, &r) {
        if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul) {
            let (x, y) = (to_decimal(&l), to_decimal(&r));
            let v = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                _ => x.checked_mul(y),
            };
            let sym = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                _ => "*",
            };
            return v.map(Decimal).map_or_else(|| err(span, format!("Decimal overflow in `{sym}`")), Ok);
        }
    }
    // Joining strings extends the left one in place.
    let (l, r) = match (op, l, r) {
        (BinOp::Add, Str(mut a), Str(b)) => {
            a.push_str(&b);
            return Ok(Str(a));
        }
        (_, l, r) => (l, r),
    };
    // DateTime ± a duration (milliseconds).
    if let (BinOp::Add | BinOp::Sub, DateTime(t), Int(ms)) = (op, &l, &r) {
        let d = chrono::Duration::try_milliseconds(*ms);
        let moved = match (op, d) {
            (BinOp::Add, Some(d)) => t.checked_add_signed(d),
            (_, Some(d)) => t.checked_sub_signed(d),
            _ => None,
        };
        return moved.map(DateTime).map_or_else(|| err(span, "the date-time is out of range"), Ok);
    }
    let sym = match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        _ => "%",
    };
    match (l, r) {
        (Int(a), Int(b)) => {
            if op == BinOp::Div {
                if b == 0 {
                    return err(span, "division by zero");
                }
                return Ok(Decimal(rust_decimal::Decimal::from(a) / rust_decimal::Decimal::from(b)));
            }
            let v = match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                _ if b == 0 => return err(span, "division by zero in `%`"),
                _ => a.checked_rem(b),
            };
            v.map(Int).map_or_else(|| err(span, format!("integer overflow in `{sym}`: {a} {sym} {b}")), Ok)
        }
        (a @ (Float(_) | Int(_) | Decimal(_)), b @ (Float(_) | Int(_) | Decimal(_)))
            if matches!(a, Float(_)) || matches!(b, Float(_)) =>
        {
            let (x, y) = (to_f64(&a), to_f64(&b));
            let v = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => x % y,
            };
            if v.is_finite() {
                Ok(Float(v))
            } else {
                err(span, format!("`{sym}` gave a number that is not finite ({x} {sym} {y})"))
            }
        }
        (a @ (Int(_) | Decimal(_)), b @ (Int(_) | Decimal(_))) => {
            let (x, y) = (to_decimal(&a), to_decimal(&b));
            let v = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                _ if y.is_zero() => return err(span, format!("division by zero in `{sym}`")),
                BinOp::Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            v.map(Decimal).map_or_else(|| err(span, format!("Decimal overflow in `{sym}`")), Ok)
        }
        _ => internal("arithmetic on values that are not numbers"),
    }
}

fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        Value::Decimal(d) => d.to_f64().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn to_decimal(v: &Value) -> Decimal {
    match v {
        Value::Int(i) => Decimal::from(*i),
        Value::Decimal(d) => *d,
        _ => Decimal::ZERO,
    }
}

/// Order of two values of comparable kinds; `None` when they do not compare.
pub fn compare(l: &Value, r: &Value) -> Option<Ordering> {
    use Value::*;
    match (l, r) {
        (Null, Null) => Some(Ordering::Equal),
        (Null, _) | (_, Null) => None,
        (Bool(a), Bool(b)) => Some(a.cmp(b)),
        (Int(a), Int(b)) => Some(a.cmp(b)),
        (Str(a), Str(b)) => Some(a.cmp(b)),
        (Date(a), Date(b)) => Some(a.cmp(b)),
        (DateTime(a), DateTime(b)) => Some(a.cmp(b)),
        (Int(_) | Decimal(_), Int(_) | Decimal(_)) => Some(to_decimal(l).cmp(&to_decimal(r))),
        (Float(a), Float(b)) => a.partial_cmp(b),
        (Float(a), Int(_) | Decimal(_)) => a.partial_cmp(&to_decimal(r).to_f64()?),
        (Int(_) | Decimal(_), Float(b)) => to_decimal(l).to_f64()?.partial_cmp(b),
        (Array(a), Array(b)) => {
            if a.len() != b.len() {
                return None;
            }
            a.iter().zip(b).all(|(x, y)| compare(x, y) == Some(Ordering::Equal)).then_some(Ordering::Equal)
        }
        (Object(a), Object(b)) => {
            let same = a.len() == b.len()
                && a.iter().all(|(k, v)| r.get(k).is_some_and(|w| compare(v, w) == Some(Ordering::Equal)));
            let _ = b;
            same.then_some(Ordering::Equal)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn lit(v: Value) -> Box<Expr> {
        Box::new(Expr::Lit { value: v })
    }

    fn plan() -> Program {
        Program::new(crate::Plan::default())
    }

    fn bin(op: BinOp, l: Value, r: Value) -> Result<Value, EvalError> {
        let e = Expr::Binary { op, lhs: lit(l), rhs: lit(r), span: Span::new(1, 2) };
        eval(&e, &mut Env::new(), &plan())
    }

    #[test]
    fn integer_arithmetic_is_checked() {
        assert_eq!(bin(BinOp::Add, Value::Int(2), Value::Int(3)), Ok(Value::Int(5)));
        let e = bin(BinOp::Mul, Value::Int(i64::MAX), Value::Int(2)).unwrap_err();
        assert!(e.message.contains("overflow"));
        assert_eq!(e.span, Some(Span::new(1, 2)));
        assert!(bin(BinOp::Div, Value::Int(1), Value::Int(0)).unwrap_err().message.contains("zero"));
        assert_eq!(bin(BinOp::Div, Value::Int(7), Value::Int(2)), Ok(Value::Decimal(Decimal::new(35, 1))));
    }

    #[test]
    fn decimal_is_exact_and_mixes_with_int() {
        let tenth = Value::Decimal(Decimal::new(1, 1));
        let r = bin(BinOp::Add, tenth.clone(), Value::Decimal(Decimal::new(2, 1))).unwrap();
        assert_eq!(r, Value::Decimal(Decimal::new(3, 1)));
        assert_eq!(bin(BinOp::Mul, Value::Int(3), tenth), Ok(Value::Decimal(Decimal::new(3, 1))));
    }

    #[test]
    fn float_subtraction_keeps_operand_order() {
        assert_eq!(bin(BinOp::Sub, Value::Float(5.0), Value::Int(2)), Ok(Value::Float(3.0)));
        assert_eq!(bin(BinOp::Sub, Value::Int(5), Value::Float(2.0)), Ok(Value::Float(3.0)));
        assert!(bin(BinOp::Div, Value::Float(1.0), Value::Float(0.0)).is_err());
    }

    #[test]
    fn paths_on_null_give_null_and_index_wraps() {
        let rec = Value::Object(vec![("items".into(), Value::Array(vec![Value::Int(1), Value::Int(2)]))]);
        let mut env = Env::new();
        env.push("o", rec);
        let path = |i: i64| Expr::Index {
            base: Box::new(Expr::Field {
                base: Box::new(Expr::Var { name: "o".into() }),
                name: "items".into(),
                slot: None,
            }),
            index: lit(Value::Int(i)),
        };
        assert_eq!(eval(&path(-1), &mut env, &plan()), Ok(Value::Int(2)));
        assert_eq!(eval(&path(5), &mut env, &plan()), Ok(Value::Null));
        let missing = Expr::Field { base: Box::new(Expr::Var { name: "o".into() }), name: "nope".into(), slot: None };
        assert_eq!(eval(&missing, &mut env, &plan()), Ok(Value::Null));
        // A path on a computed value, not a variable.
        let computed =
            Expr::Index { base: Box::new(Expr::Array { items: vec![*lit(Value::Int(7))] }), index: lit(Value::Int(0)) };
        assert_eq!(eval(&computed, &mut env, &plan()), Ok(Value::Int(7)));
    }
}
