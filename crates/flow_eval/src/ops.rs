//! A map's expressions compiled once per run of `flowc map` ([`crate::eval::MapWriter`]): each
//! variable resolved to its place in the map's scope (the parameter, then the `let`s, in order:
//! the map's variables always sit there), each path to that place and its fields' slots, each
//! operator to a node that calls its operands directly. What it does not compile (built-in
//! calls, lambdas, objects, …) is an [`Op::Expr`], run by the general evaluator; a compiled node
//! gives exactly what the evaluator gives for the same expression, errors included.

use std::borrow::Cow;

use crate::eval::{self, Env, EvalError};
use crate::{BinOp, Expr, Key, Program, Span, Value};

static NULL: Value = Value::Null;

/// One compiled expression.
#[derive(Debug)]
pub(crate) enum Op<'p> {
    Lit(&'p Value),
    /// Variable number `var` of the scope, then its fields (each by name, tried first at its
    /// slot in the declared type).
    Path {
        var: usize,
        fields: Box<[(Key, Option<u32>)]>,
    },
    /// A path indexed by a literal.
    Index {
        base: Box<Op<'p>>,
        index: i64,
    },
    Coalesce(Box<Op<'p>>, Box<Op<'p>>),
    /// `==`, `<`, …
    Compare {
        op: BinOp,
        lhs: Box<Op<'p>>,
        rhs: Box<Op<'p>>,
    },
    /// Arithmetic, or (`+` on text) joining text.
    Binary {
        op: BinOp,
        lhs: Box<Op<'p>>,
        rhs: Box<Op<'p>>,
        span: Span,
    },
    /// `if`; `text`: a choice between text literals only (written as text, see
    /// `eval::text_choice`).
    If {
        cond: Box<Op<'p>>,
        then: Box<Op<'p>>,
        otherwise: Box<Op<'p>>,
        text: bool,
    },
    /// Anything else, run by the evaluator.
    Expr(&'p Expr),
}

/// Compiles `e` with the variables `scope` in scope (innermost last, as in the [`Env`] it will
/// run in).
pub(crate) fn compile<'p>(e: &'p Expr, scope: &[Key]) -> Op<'p> {
    let op = |e: &'p Expr| Box::new(compile(e, scope));
    match e {
        Expr::Lit { value } => Op::Lit(value),
        Expr::Var { name } => match scope.iter().rposition(|k| k == name) {
            Some(var) => Op::Path { var, fields: Box::new([]) },
            None => Op::Expr(e),
        },
        Expr::Field { base, name, slot } => match compile(base, scope) {
            Op::Path { var, fields } => {
                let mut fields = fields.into_vec();
                fields.push((*name, *slot));
                Op::Path { var, fields: fields.into_boxed_slice() }
            }
            _ => Op::Expr(e),
        },
        Expr::Index { base, index } => match (compile(base, scope), &**index) {
            (base @ Op::Path { .. }, Expr::Lit { value: Value::Int(index) }) => {
                Op::Index { base: Box::new(base), index: *index }
            }
            _ => Op::Expr(e),
        },
        Expr::Coalesce { lhs, rhs } => Op::Coalesce(op(lhs), op(rhs)),
        Expr::Binary { op: o, lhs, rhs, span } => {
            if matches!(o, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) {
                Op::Compare { op: *o, lhs: op(lhs), rhs: op(rhs) }
            } else {
                Op::Binary { op: *o, lhs: op(lhs), rhs: op(rhs), span: *span }
            }
        }
        Expr::If { cond, then, otherwise } => {
            Op::If { cond: op(cond), then: op(then), otherwise: op(otherwise), text: eval::text_choice(e) }
        }
        _ => Op::Expr(e),
    }
}

impl<'p> Op<'p> {
    /// Whether [`Op::read`] reads this where it is.
    fn is_read(&self) -> bool {
        match self {
            Op::Lit(_) | Op::Path { .. } => true,
            Op::Index { base, .. } => base.is_read(),
            _ => false,
        }
    }

    /// A literal or path, read where it is (a field that is not there is null); `None` for
    /// anything else, or a variable that is not in scope.
    #[inline]
    fn read<'e>(&'e self, env: &'e Env) -> Option<&'e Value> {
        match self {
            Op::Lit(v) => Some(v),
            Op::Path { var, fields } => {
                let mut v = env.at(*var)?;
                for (name, slot) in fields.iter() {
                    v = field(v, name, *slot);
                }
                Some(v)
            }
            Op::Index { base, index } => Some(eval::index_value(base.read(env)?, *index)),
            _ => None,
        }
    }

    /// The value, borrowed where it is when it is a literal or a path.
    pub(crate) fn value<'e>(&'e self, env: &'e mut Env, plan: &Program) -> Result<Cow<'e, Value>, EvalError> {
        if self.is_read() {
            return match self.read(env) {
                Some(v) => Ok(Cow::Borrowed(v)),
                None => eval::internal("an unknown variable"),
            };
        }
        self.eval(env, plan).map(Cow::Owned)
    }

    /// The value, as the evaluator gives it.
    pub(crate) fn eval(&self, env: &mut Env, plan: &Program) -> Result<Value, EvalError> {
        match self {
            Op::Lit(v) => Ok((*v).clone()),
            Op::Path { .. } | Op::Index { .. } => match self.read(env) {
                Some(v) => Ok(v.clone()),
                None => eval::internal("an unknown variable"),
            },
            Op::Coalesce(lhs, rhs) => match lhs.eval(env, plan)? {
                Value::Null => rhs.eval(env, plan),
                v => Ok(v),
            },
            Op::Compare { op, lhs, rhs } => {
                if lhs.is_read() && rhs.is_read() {
                    let (Some(l), Some(r)) = (lhs.read(env), rhs.read(env)) else {
                        return eval::internal("an unknown variable");
                    };
                    return eval::compare_op(*op, l, r);
                }
                let l = lhs.eval(env, plan)?;
                let r = rhs.eval(env, plan)?;
                eval::compare_op(*op, &l, &r)
            }
            Op::Binary { op, lhs, rhs, span } => {
                if *op == BinOp::Add {
                    let mut text = String::new();
                    if self.text_into(env, plan, &mut text)? {
                        return Ok(Value::Str(text));
                    }
                }
                let l = lhs.eval(env, plan)?;
                let r = rhs.eval(env, plan)?;
                eval::binary(*op, l, r, *span)
            }
            Op::If { cond, then, otherwise, .. } => match cond.eval(env, plan)? {
                Value::Bool(true) => then.eval(env, plan),
                Value::Bool(false) => otherwise.eval(env, plan),
                _ => eval::internal("`if` on a non-Bool"),
            },
            Op::Expr(e) => eval::eval(e, env, plan),
        }
    }

    /// Appends the text of this to `buf` when it gives a string, and says whether it did, as
    /// `eval::text_into` does: when it says `false`, nothing was written and nothing was
    /// evaluated that the caller must not repeat.
    pub(crate) fn text_into(&self, env: &mut Env, plan: &Program, buf: &mut String) -> Result<bool, EvalError> {
        match self {
            Op::Lit(Value::Str(s)) => {
                buf.push_str(s);
                Ok(true)
            }
            Op::Lit(_) => Ok(false),
            Op::Path { .. } | Op::Index { .. } => match self.read(env) {
                Some(Value::Str(s)) => {
                    buf.push_str(s);
                    Ok(true)
                }
                Some(_) => Ok(false),
                None => eval::internal("an unknown variable"),
            },
            Op::Binary { op: BinOp::Add, lhs, rhs, .. } => {
                if !lhs.text_into(env, plan, buf)? {
                    return Ok(false);
                }
                // The left side is text, so the checker made the right side text too.
                if !rhs.text_into(env, plan, buf)? {
                    match rhs.eval(env, plan)? {
                        Value::Str(s) => buf.push_str(&s),
                        other => return eval::internal(&format!("text + {}", other.kind())),
                    }
                }
                Ok(true)
            }
            Op::If { cond, then, otherwise, text: true } => {
                let branch = match cond.eval(env, plan)? {
                    Value::Bool(true) => then,
                    Value::Bool(false) => otherwise,
                    _ => return eval::internal("`if` on a non-Bool"),
                };
                branch.text_into(env, plan, buf)
            }
            Op::Expr(e) => eval::text_into(e, env, plan, buf),
            _ => Ok(false),
        }
    }

    /// Writes the value as JSON text: a path or `path ?? default` from where it is.
    pub(crate) fn write_json(&self, env: &mut Env, plan: &Program, out: &mut String) -> Result<(), EvalError> {
        if let Op::Coalesce(lhs, rhs) = self {
            if lhs.is_read() {
                match lhs.read(env) {
                    Some(Value::Null) => {}
                    Some(v) => {
                        crate::encode_to(v, out);
                        return Ok(());
                    }
                    None => return eval::internal("an unknown variable"),
                }
                return rhs.write_json(env, plan, out);
            }
        }
        let v = self.value(env, plan)?;
        crate::encode_to(&v, out);
        Ok(())
    }
}

/// A field of `v`, looked for first at `slot`: null when `v` is not an object or has no such field.
#[inline]
fn field<'v>(v: &'v Value, name: &Key, slot: Option<u32>) -> &'v Value {
    match v {
        Value::Object(fields) => match slot.and_then(|i| fields.get(i as usize)) {
            Some((k, v)) if k == name => v,
            _ => fields.iter().find(|(k, _)| k == name).map_or(&NULL, |(_, v)| v),
        },
        _ => &NULL,
    }
}
