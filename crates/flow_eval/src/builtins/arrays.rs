//! Array functions: those with a lambda (`map`, `filter`, `find`, `any`, `all`, `count`,
//! `sum`, `min`, `max`, `sort_by`, `group_by`), run over an array that is lent when it can be,
//! and `count`, `sum`, `min`, `max` without one, `flatten`, `distinct`, `first`, `last`, `join`.

use std::cmp::Ordering;

use super::{internal, items, truth};
use crate::compiled::Prepared;
use crate::eval::{binary, compare, eval, Env, EvalError};
use crate::json::ToText;
use crate::ops::Op;
use crate::{BinOp, Builtin, Expr, Key, Program, Span, Value};

/// A array function on its evaluated arguments (`args` are the expressions, for literals).
pub(super) fn call(
    func: Builtin,
    values: Vec<Value>,
    span: Span,
    site: Option<&Prepared>,
    args: &[Expr],
) -> Result<Value, EvalError> {
    use Builtin as B;
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(Value::Null);
    Ok(match func {
        // Taken before any argument is copied (`super::reading_first`).
        B::Join => return super::reading_first(func, &next(), Some(&next())),
        B::Count => Value::Int(items(next())?.len() as i64),
        B::Sum => {
            let mut total = Value::Int(0);
            for v in items(next())? {
                total = binary(BinOp::Add, total, v, span)?;
            }
            total
        }
        B::Min | B::Max => {
            let a = next();
            let b = next();
            let better = |x: &Value, y: &Value| {
                let ord = compare(x, y).unwrap_or(Ordering::Equal);
                if func == B::Min {
                    ord == Ordering::Less
                } else {
                    ord == Ordering::Greater
                }
            };
            match (a, b) {
                (Value::Array(items), Value::Null) => {
                    let mut best: Option<Value> = None;
                    for x in items {
                        if best.as_ref().is_none_or(|b| better(&x, b)) {
                            best = Some(x);
                        }
                    }
                    best.unwrap_or(Value::Null)
                }
                (x, y) => {
                    if better(&y, &x) {
                        y
                    } else {
                        x
                    }
                }
            }
        }
        B::Flatten => {
            let mut out = Vec::new();
            for inner in items(next())? {
                out.extend(items(inner)?);
            }
            Value::Array(out)
        }
        B::Distinct => {
            let mut out: Vec<Value> = Vec::new();
            for x in items(next())? {
                if !out.iter().any(|y| compare(y, &x) == Some(Ordering::Equal)) {
                    out.push(x);
                }
            }
            Value::Array(out)
        }
        B::First => items(next())?.into_iter().next().unwrap_or(Value::Null),
        B::Last => items(next())?.pop().unwrap_or(Value::Null),
        B::Map | B::Filter | B::Find | B::Any | B::All | B::SortBy | B::GroupBy => {
            let _ = (site, args);
            return internal(&format!("`{}` without its lambda", func.name()));
        }
        other => return internal(&format!("`{}` is not a array function", other.name())),
    })
}

/// `join(items, sep)`, appended to `out`.
pub(super) fn join_into(items: &[Value], sep: &str, out: &mut String) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        match x {
            Value::Str(s) => out.push_str(s),
            other => out.push_str(&other.to_text()),
        }
    }
}

/// A lambda argument and the array it runs over.
pub(super) struct Lambda<'p, 'l> {
    pub(super) param: &'p Key,
    pub(super) body: &'p Expr,
    /// The body compiled (for a compiled map), run instead of `body`.
    pub(super) op: Option<&'p Op<'p>>,
    pub(super) list: &'l mut [Value],
}

impl Lambda<'_, '_> {
    /// Calls the lambda on item `i`. The item is moved into the lambda's variable and back, so
    /// the array is never copied; it is whole again afterwards, on error too.
    fn apply(&mut self, i: usize, env: &mut Env, plan: &Program) -> Result<Value, EvalError> {
        let item = std::mem::replace(&mut self.list[i], Value::Null);
        env.push(*self.param, item);
        let result = match self.op {
            Some(op) => op.eval(env, plan),
            None => eval(self.body, env, plan),
        };
        self.list[i] = env.pop().unwrap_or(Value::Null);
        result
    }
}

/// A function of the array family with its lambda, over the items of `l`.
pub(super) fn with_lambda(
    func: Builtin,
    mut l: Lambda<'_, '_>,
    span: Span,
    env: &mut Env,
    plan: &Program,
) -> Result<Value, EvalError> {
    use Builtin as B;
    let n = l.list.len();
    Ok(match func {
        B::Map => {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(l.apply(i, env, plan)?);
            }
            Value::Array(out)
        }
        B::Filter => {
            let mut out = Vec::new();
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? {
                    out.push(l.list[i].clone());
                }
            }
            Value::Array(out)
        }
        B::Find => {
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? {
                    return Ok(l.list[i].clone());
                }
            }
            Value::Null
        }
        B::Any | B::All => {
            let want = func == B::Any;
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? == want {
                    return Ok(Value::Bool(want));
                }
            }
            Value::Bool(!want)
        }
        B::Count => {
            let mut count = 0i64;
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? {
                    count += 1;
                }
            }
            Value::Int(count)
        }
        B::Sum => {
            let mut total = Value::Int(0);
            for i in 0..n {
                let v = l.apply(i, env, plan)?;
                total = binary(BinOp::Add, total, v, span)?;
            }
            total
        }
        B::Min | B::Max | B::SortBy => {
            let mut keyed = Vec::with_capacity(n);
            for i in 0..n {
                keyed.push((l.apply(i, env, plan)?, i));
            }
            let order = |a: &Value, b: &Value| compare(a, b).unwrap_or(Ordering::Equal);
            match func {
                B::SortBy => {
                    keyed.sort_by(|a, b| order(&a.0, &b.0));
                    Value::Array(keyed.into_iter().map(|(_, i)| l.list[i].clone()).collect())
                }
                B::Min => {
                    keyed.into_iter().min_by(|a, b| order(&a.0, &b.0)).map_or(Value::Null, |(_, i)| l.list[i].clone())
                }
                _ => keyed
                    .into_iter()
                    .rev()
                    .max_by(|a, b| order(&a.0, &b.0))
                    .map_or(Value::Null, |(_, i)| l.list[i].clone()),
            }
        }
        B::GroupBy => {
            let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
            for i in 0..n {
                let k = l.apply(i, env, plan)?;
                let x = l.list[i].clone();
                match groups.iter_mut().find(|(g, _)| compare(g, &k) == Some(Ordering::Equal)) {
                    Some((_, members)) => members.push(x),
                    None => groups.push((k, vec![x])),
                }
            }
            Value::Array(
                groups
                    .into_iter()
                    .map(|(k, members)| Value::Object(vec![("key".into(), k), ("items".into(), Value::Array(members))]))
                    .collect(),
            )
        }
        other => return internal(&format!("`{}` with a lambda", other.name())),
    })
}
