//! Running built-in functions, one module per family of the table (`flow_plan::Builtin`'s
//! rows): `text`, `arrays`, `numbers`, `dates`. This module is the door: it evaluates the
//! arguments (lending an array to a lambda, reading a first argument where it is) and hands the
//! values to the family. Argument kinds were checked; an unexpected kind is an internal error,
//! reported, never a panic.

mod arrays;
mod dates;
pub(crate) mod dicts;
mod numbers;
pub(crate) mod text;

use flow_plan::Family;

use crate::compiled::Prepared;
use crate::eval::{eval, literal_or_eval, place_mut, place_or_eval, Env, EvalError};
use crate::ops::Op;
use crate::{Builtin, Expr, Key, Program, Span, Value};
use arrays::Lambda;

fn fail<T>(span: Span, message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError::new(message, Some(span)))
}

fn internal<T>(what: &str) -> Result<T, EvalError> {
    Err(EvalError::new(
        format!("internal error: {what} (the checker should have refused this; please report it)"),
        None,
    ))
}

fn text(v: Value) -> Result<String, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        other => internal(&format!("text expected, found {}", other.kind())),
    }
}

fn int(v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => internal(&format!("Int expected, found {}", other.kind())),
    }
}

fn items(v: Value) -> Result<Vec<Value>, EvalError> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(Vec::new()),
        other => internal(&format!("array expected, found {}", other.kind())),
    }
}

fn truth(v: Value) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(b),
        other => internal(&format!("Bool expected, found {}", other.kind())),
    }
}

pub(crate) fn reads_first(func: Builtin) -> bool {
    matches!(func, Builtin::Lower | Builtin::Upper | Builtin::Trim | Builtin::Len | Builtin::Join | Builtin::Split)
}

/// The functions of [`reads_first`]: they only read their first argument, so it may be
/// borrowed from the record.
pub(crate) fn reading_first(func: Builtin, first: &Value, second: Option<&Value>) -> Result<Value, EvalError> {
    use Builtin as B;
    let sep = || match second {
        Some(Value::Str(sep)) => Ok(sep.as_str()),
        _ => internal("a separator that is not text"),
    };
    Ok(match (func, first) {
        (B::Lower | B::Upper, Value::Str(s)) => {
            let mut out = String::with_capacity(s.len());
            text::case_into(func, s, &mut out);
            Value::Str(out)
        }
        (B::Trim, Value::Str(s)) => Value::Str(s.trim().to_string()),
        (B::Len, Value::Str(s)) => Value::Int(s.chars().count() as i64),
        (B::Len, Value::Array(a)) => Value::Int(a.len() as i64),
        (B::Join, Value::Null) => Value::Str(String::new()),
        (B::Join, Value::Array(items)) => {
            let mut out = String::new();
            arrays::join_into(items, sep()?, &mut out);
            Value::Str(out)
        }
        (B::Split, Value::Str(s)) => match sep()? {
            "" => Value::Array(s.chars().map(|c| Value::Str(c.to_string())).collect()),
            // One byte is one ASCII char: split on the char (a byte search), not on a pattern.
            sep if sep.len() == 1 => {
                let c = char::from(sep.as_bytes()[0]);
                Value::Array(s.split(c).map(|p| Value::Str(p.to_string())).collect())
            }
            sep => Value::Array(s.split(sep).map(|p| Value::Str(p.to_string())).collect()),
        },
        (f, other) => return internal(&format!("{} of {}", f.name(), other.kind())),
    })
}

/// Built-ins that [`text_into`] writes straight into a buffer.
pub(crate) fn has_text_into(func: Builtin) -> bool {
    matches!(func, Builtin::Lower | Builtin::Upper | Builtin::Join | Builtin::FormatDate)
}

/// A call of a [`has_text_into`] built-in, appending its text to `buf`; its first argument is
/// read where it is when it is a path, a literal second argument is not copied.
pub(crate) fn text_into(
    func: Builtin,
    args: &[Expr],
    span: Span,
    site: Option<&Prepared>,
    env: &mut Env,
    plan: &Program,
    buf: &mut String,
) -> Result<bool, EvalError> {
    let Some(first) = args.first() else { return internal("missing argument") };
    let second = args.get(1).map(|e| literal_or_eval(e, env, plan)).transpose()?;
    let second = second.as_deref();
    let first = place_or_eval(first, env, plan)?;
    text_into_values(func, &first, second, args, span, site, buf)
}

/// [`text_into`] on its arguments' values (`args` are the expressions, for a literal format).
pub(crate) fn text_into_values(
    func: Builtin,
    first: &Value,
    second: Option<&Value>,
    args: &[Expr],
    span: Span,
    site: Option<&Prepared>,
    buf: &mut String,
) -> Result<bool, EvalError> {
    match (func, first) {
        (Builtin::Lower | Builtin::Upper, Value::Str(s)) => text::case_into(func, s, buf),
        (Builtin::Join, Value::Null) => {}
        (Builtin::Join, Value::Array(items)) => {
            let Some(Value::Str(sep)) = second else { return internal("a separator that is not text") };
            arrays::join_into(items, sep, buf);
        }
        (Builtin::FormatDate, v) => {
            if !dates::format_date_fast(site, args.get(1), v, buf) {
                // chrono formats it, or says why it cannot.
                let v = v.clone();
                match call_values(func, vec![v, second.cloned().unwrap_or(Value::Null)], span, site, args)? {
                    Value::Str(s) => buf.push_str(&s),
                    other => return internal(&format!("format_date gave {}", other.kind())),
                }
            }
        }
        (f, other) => return internal(&format!("{} of {}", f.name(), other.kind())),
    }
    Ok(true)
}

/// A call of a built-in: `site` is what the side table compiled for it, if anything.
pub(crate) fn call(
    func: Builtin,
    args: &[Expr],
    span: Span,
    site: Option<&Prepared>,
    env: &mut Env,
    plan: &Program,
) -> Result<Value, EvalError> {
    // Functions with a lambda evaluate it per item; the others take values.
    if let (Some(first), Some(Expr::Lambda { param, body })) = (args.first(), args.get(1)) {
        return call_lambda(func, first, param, body, None, span, site, env, plan);
    }
    // Functions that only read their first argument read it where it is when it is a path:
    // `lower(c.email)` copies nothing but its result.
    if let (true, Some((first, others))) = (reads_first(func), args.split_first()) {
        // A literal second argument (a separator) is read where it is too.
        let second = others.first().map(|e| literal_or_eval(e, env, plan)).transpose()?;
        let first = place_or_eval(first, env, plan)?;
        return reading_first(func, &first, second.as_deref());
    }
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        // Regex patterns are literals, read from the expression itself.
        vals.push(eval(a, env, plan)?);
    }
    call_values(func, vals, span, site, args)
}

/// A call of a built-in with a lambda (`param => body`, and `op`, the body compiled, if it
/// is) over the array `first`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn call_lambda(
    func: Builtin,
    first: &Expr,
    param: &Key,
    body: &Expr,
    op: Option<&Op<'_>>,
    span: Span,
    site: Option<&Prepared>,
    env: &mut Env,
    plan: &Program,
) -> Result<Value, EvalError> {
    // An array read from a path the lambda does not itself read is lent, not copied: taken
    // out of the record for the call and put back after it.
    // Decided once per call site (whether the lambda reads the array's variable), or here
    // for a call not from the plan.
    let lend = match site {
        Some(Prepared::Lends(lend)) => *lend,
        _ => crate::compiled::lends(first, body),
    };
    if lend {
        if let Some(Value::Array(slot)) = place_mut(first, env) {
            let mut list = std::mem::take(slot);
            let result = arrays::with_lambda(func, Lambda { param, body, op, list: &mut list }, span, env, plan);
            if let Some(Value::Array(slot)) = place_mut(first, env) {
                *slot = list;
            }
            return result;
        }
    }
    let mut list = items(eval(first, env, plan)?)?;
    arrays::with_lambda(func, Lambda { param, body, op, list: &mut list }, span, env, plan)
}

/// A built-in on its evaluated arguments (`args` are the expressions, for literal patterns and
/// formats), by its family.
fn call_values(
    func: Builtin,
    values: Vec<Value>,
    span: Span,
    site: Option<&Prepared>,
    args: &[Expr],
) -> Result<Value, EvalError> {
    match func.family() {
        Family::Text => text::call(func, values, span, site, args),
        Family::Arrays => arrays::call(func, values, span, site, args),
        Family::Numbers => numbers::call(func, values, span, site, args),
        Family::Dates => dates::call(func, values, span, site, args),
        Family::Dicts => dicts::call(func, values),
        Family::Control => match func {
            Builtin::Fail => fail(span, text(values.into_iter().next().unwrap_or(Value::Null))?),
            other => internal(&format!("`{}` is not a control function", other.name())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BinOp, Plan};

    fn var(name: &str) -> Expr {
        Expr::Var { name: name.into() }
    }

    fn field(base: Expr, name: &str) -> Expr {
        Expr::Field { base: Box::new(base), name: name.into(), slot: None }
    }

    fn call(func: Builtin, args: Vec<Expr>) -> Expr {
        Expr::CallBuiltin { func, args, span: Span::new(0, 1) }
    }

    fn lambda(param: &str, body: Expr) -> Expr {
        Expr::Lambda { param: param.into(), body: Box::new(body) }
    }

    fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), span: Span::new(2, 3) }
    }

    fn int(n: i64) -> Expr {
        Expr::Lit { value: Value::Int(n) }
    }

    /// `split` into the last record's strings and array, on a one-byte separator, gives what
    /// `str::split` gives: empty parts at either end and between separators, non-ASCII text
    /// around them, no separator at all, an empty text; fewer parts than the slot held too.
    #[test]
    fn split_into_a_slot_gives_what_str_split_gives() {
        let plan = Program::new(Plan::default());
        let mut slot = Value::Array((0..9).map(|i| Value::Str(format!("old part {i}"))).collect());
        let texts = ["Grace Lovelace", " lead", "trail ", "a  b", "  ", "", "none", "é ü 名 前", "x y z w v", "Ada"];
        // Texts longer than the byte loop's limit too (memchr's), with cuts before and after
        // it, non-ASCII text and separators at either end.
        let long = [
            "a fairly long sentence, with commas, that runs well past thirty-two bytes, é ü 名 前 ".repeat(3),
            format!("{}x{}", " ".repeat(40), ",".repeat(33)),
            "x".repeat(100),
        ];
        for sep in [" ", ",", "  ", "é"] {
            for t in texts.iter().copied().chain(long.iter().map(String::as_str)) {
                let mut env = Env::new();
                env.push("t", Value::Str(t.into()));
                let args = [var("t"), Expr::Lit { value: Value::Str(sep.into()) }];
                assert!(text::split_into(&args, &mut env, &plan, &mut slot).expect("splits"), "{t:?} by {sep:?}");
                let want: Vec<Value> = t.split(sep).map(|p| Value::Str(p.into())).collect();
                assert_eq!(slot, Value::Array(want), "{t:?} by {sep:?}");
            }
        }
    }

    fn basket() -> Value {
        let item = |q| Value::Object(vec![("q".into(), Value::Int(q))]);
        Value::Object(vec![("items".into(), Value::Array(vec![item(1), item(0), item(2)]))])
    }

    #[test]
    fn a_lent_array_is_whole_again_after_the_lambda_fails() {
        let mut env = Env::new();
        env.push("b", basket());
        // sum(b.items, i => 10 / i.q) fails on the second item: division by zero.
        let failing = call(
            Builtin::Sum,
            vec![field(var("b"), "items"), lambda("i", bin(BinOp::Div, int(10), field(var("i"), "q")))],
        );
        let caught = Expr::Catch { expr: Box::new(failing), default: Box::new(int(-1)) };
        assert_eq!(eval(&caught, &mut env, &Program::new(Plan::default())), Ok(Value::Int(-1)));
        assert_eq!(env.get(&"b".into()), Some(&basket()));
        assert_eq!(env.len(), 1);
        // Lent again: every item is where it was, and what the result keeps is a copy.
        let kept = call(
            Builtin::Filter,
            vec![field(var("b"), "items"), lambda("i", bin(BinOp::Gt, field(var("i"), "q"), int(0)))],
        );
        let Ok(Value::Array(kept)) = eval(&kept, &mut env, &Program::new(Plan::default())) else {
            panic!("filter gave no array")
        };
        assert_eq!(kept.len(), 2);
        assert_eq!(env.get(&"b".into()), Some(&basket()));
    }

    #[test]
    fn a_lambda_that_reads_the_array_s_record_gets_a_copy() {
        let mut env = Env::new();
        env.push("b", basket());
        // sum(b.items, i => i.q + len(b.items)): the body reads `b`, so the array is not lent.
        let len = call(Builtin::Len, vec![field(var("b"), "items")]);
        let sum =
            call(Builtin::Sum, vec![field(var("b"), "items"), lambda("i", bin(BinOp::Add, field(var("i"), "q"), len))]);
        assert_eq!(eval(&sum, &mut env, &Program::new(Plan::default())), Ok(Value::Int(12)));
        assert_eq!(env.get(&"b".into()), Some(&basket()));
    }
}
