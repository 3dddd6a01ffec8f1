//! A map's expressions compiled once per run of `flowc map` ([`crate::eval::MapWriter`]): each
//! variable resolved to its place in the map's scope (the parameter, then the `let`s, in order:
//! the map's variables always sit there), each path to that place and its fields' slots, each
//! operator to a node that calls its operands directly. What it does not compile (built-in
//! calls, lambdas, objects, …) is an [`Op::Expr`], run by the general evaluator; a compiled node
//! gives exactly what the evaluator gives for the same expression, errors included.

use std::borrow::Cow;

use crate::builtins;
use crate::compiled::Prepared;
use crate::eval::{self, Env, EvalError};
use crate::fold::Arith;
use crate::{BinOp, Builtin, Expr, Key, Program, Span, Value};

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
    /// A chain of `+` on its left (`a + ", " + b + " " + c`) whose operands are all literals and
    /// paths: its text written piece by piece in one loop (the binary nodes' text, each calling
    /// the next, is the same text); its value, and anything but its text, is the chain's.
    Concat {
        pieces: Box<[Op<'p>]>,
        binary: Box<Op<'p>>,
    },
    /// `if`; `text`: a choice between text literals only (written as text, see
    /// `eval::text_choice`).
    If {
        cond: Box<Op<'p>>,
        then: Box<Op<'p>>,
        otherwise: Box<Op<'p>>,
        text: bool,
    },
    /// A built-in that only reads its arguments (`lower`, `join`, `len`, `format_date`, …),
    /// with one or two: each compiled, the first read where it is.
    Call {
        func: Builtin,
        first: Box<Op<'p>>,
        second: Option<Box<Op<'p>>>,
        site: Option<&'p Prepared>,
        call: &'p Expr,
    },
    /// A built-in with a lambda (`sum(xs, x => …)`): its body compiled, with the lambda's
    /// variable next in scope.
    Lambda {
        func: Builtin,
        first: &'p Expr,
        param: Key,
        body: &'p Expr,
        op: Box<Op<'p>>,
        site: Option<&'p Prepared>,
        span: Span,
        /// For `sum` whose body is arithmetic, the array (compiled) and the body as arithmetic:
        /// added up without `Value`s where it can be (`crate::fold`).
        sum: Option<(Box<Op<'p>>, Arith<'p>)>,
    },
    /// Anything else, run by the evaluator.
    Expr(&'p Expr),
}

/// Compiles `e` (of `plan`) with the variables `scope` in scope (innermost last, as in the
/// [`Env`] it will run in).
pub(crate) fn compile<'p>(e: &'p Expr, scope: &[Key], plan: &'p Program) -> Op<'p> {
    let op = |e: &'p Expr| Box::new(compile(e, scope, plan));
    match e {
        Expr::Lit { value } => Op::Lit(value),
        Expr::Var { name } => match scope.iter().rposition(|k| k == name) {
            Some(var) => Op::Path { var, fields: Box::new([]) },
            None => Op::Expr(e),
        },
        Expr::Field { base, name, slot } => match compile(base, scope, plan) {
            Op::Path { var, fields } => {
                let mut fields = fields.into_vec();
                fields.push((*name, *slot));
                Op::Path { var, fields: fields.into_boxed_slice() }
            }
            _ => Op::Expr(e),
        },
        Expr::Index { base, index } => match (compile(base, scope, plan), &**index) {
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
                let binary = Op::Binary { op: *o, lhs: op(lhs), rhs: op(rhs), span: *span };
                let mut leaves = Vec::new();
                if *o == BinOp::Add && left_chain(e, &mut leaves) && leaves.len() >= 3 {
                    let pieces: Vec<Op<'p>> = leaves.into_iter().map(|l| compile(l, scope, plan)).collect();
                    if pieces.iter().all(Op::is_read) {
                        return Op::Concat { pieces: pieces.into_boxed_slice(), binary: Box::new(binary) };
                    }
                }
                binary
            }
        }
        Expr::If { cond, then, otherwise } => {
            Op::If { cond: op(cond), then: op(then), otherwise: op(otherwise), text: eval::text_choice(e) }
        }
        Expr::CallBuiltin { func, args, span } => {
            let site = plan.compiled.call(e);
            match args.as_slice() {
                [first, Expr::Lambda { param, body }] => {
                    let mut inner = scope.to_vec();
                    inner.push(*param);
                    let op = Box::new(compile(body, &inner, plan));
                    let sum = (*func == Builtin::Sum)
                        .then(|| Arith::compile(body, scope, param))
                        .flatten()
                        .map(|arith| (Box::new(compile(first, scope, plan)), arith));
                    Op::Lambda { func: *func, first, param: *param, body, op, site, span: *span, sum }
                }
                [first, rest @ ..]
                    if rest.len() <= 1
                        && (builtins::reads_first(*func) || builtins::has_text_into(*func))
                        && !rest.iter().any(|a| matches!(a, Expr::Lambda { .. })) =>
                {
                    Op::Call { func: *func, first: op(first), second: rest.first().map(op), site, call: e }
                }
                _ => Op::Expr(e),
            }
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
            Op::Concat { binary, .. } => binary.eval(env, plan),
            Op::If { cond, then, otherwise, .. } => match cond.eval(env, plan)? {
                Value::Bool(true) => then.eval(env, plan),
                Value::Bool(false) => otherwise.eval(env, plan),
                _ => eval::internal("`if` on a non-Bool"),
            },
            Op::Call { func, first, second, .. } if builtins::reads_first(*func) => {
                let mut owned = (None, None);
                let (first, second) = arguments(first, second.as_deref(), env, plan, &mut owned)?;
                builtins::reading_first(*func, first, second)
            }
            Op::Call { call, .. } => eval::eval(call, env, plan),
            Op::Lambda { func, first, param, body, op, site, span, sum } => {
                if let Some((list, arith)) = sum {
                    if let Some(Value::Array(items)) = list.read(env) {
                        if let Some(total) = arith.sum(env, items) {
                            return Ok(total);
                        }
                    }
                }
                builtins::call_lambda(*func, first, param, body, Some(op), *span, *site, env, plan)
            }
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
            Op::Concat { pieces, .. } => {
                let Some((first, rest)) = pieces.split_first() else { return Ok(false) };
                if !first.text_into(env, plan, buf)? {
                    return Ok(false);
                }
                // As the binary nodes: the first piece is text, so the checker made the rest
                // text too.
                for piece in rest {
                    match piece {
                        Op::Lit(Value::Str(s)) => buf.push_str(s),
                        _ => match piece.read(env) {
                            Some(Value::Str(s)) => buf.push_str(s),
                            Some(other) => return eval::internal(&format!("text + {}", other.kind())),
                            None => return eval::internal("an unknown variable"),
                        },
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
            Op::Call { func, first, second, site, call } if builtins::has_text_into(*func) => {
                let Expr::CallBuiltin { args, span, .. } = call else {
                    return eval::internal("a call that is not one");
                };
                let mut owned = (None, None);
                let (first, second) = arguments(first, second.as_deref(), env, plan, &mut owned)?;
                builtins::text_into_values(*func, first, second, args, *span, *site, buf)
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
                        encode(v, out);
                        return Ok(());
                    }
                    None => return eval::internal("an unknown variable"),
                }
                return rhs.write_json(env, plan, out);
            }
        }
        let v = self.value(env, plan)?;
        encode(&v, out);
        Ok(())
    }
}

/// [`crate::encode_to`], a string, an `Int` or a `Bool` written here, each by its own test: the
/// map's fields come in the same order row after row, so these branches follow them, where
/// `encode_to`'s one jump on the value's kind changes its target from field to field.
#[inline(always)]
fn encode(v: &Value, out: &mut String) {
    if let Value::Str(s) = v {
        crate::json::string(s, out);
    } else if let Value::Int(n) = v {
        out.push_str(itoa::Buffer::new().format(*n));
    } else if let Value::Bool(b) = v {
        out.push_str(if *b { "true" } else { "false" });
    } else {
        crate::encode_to(v, out);
    }
}

/// The operands of a chain of `+` on its left, in order, when each right operand, and the
/// leftmost, is a literal, a variable, a field or an index (what [`Op::read`] may read).
fn left_chain<'p>(e: &'p Expr, leaves: &mut Vec<&'p Expr>) -> bool {
    let leaf = |e: &Expr| matches!(e, Expr::Lit { .. } | Expr::Var { .. } | Expr::Field { .. } | Expr::Index { .. });
    match e {
        Expr::Binary { op: BinOp::Add, lhs, rhs, .. } if leaf(rhs) => {
            if !left_chain(lhs, leaves) {
                return false;
            }
            leaves.push(rhs);
            true
        }
        e if leaf(e) => {
            leaves.push(e);
            true
        }
        _ => false,
    }
}

/// A call's first and second arguments, read where they are when they are literals or paths;
/// the others evaluated into `owned` (the second first, as the evaluator does).
fn arguments<'e>(
    first: &'e Op<'_>,
    second: Option<&'e Op<'_>>,
    env: &'e mut Env,
    plan: &Program,
    owned: &'e mut (Option<Value>, Option<Value>),
) -> Result<(&'e Value, Option<&'e Value>), EvalError> {
    if let Some(s) = second.filter(|s| !s.is_read()) {
        owned.1 = Some(s.eval(env, plan)?);
    }
    if !first.is_read() {
        owned.0 = Some(first.eval(env, plan)?);
    }
    let env: &'e Env = env;
    let unknown = || eval::internal_error("an unknown variable");
    let first = match &owned.0 {
        Some(v) => v,
        None => first.read(env).ok_or_else(unknown)?,
    };
    let second = match (second, &owned.1) {
        (None, _) => None,
        (Some(_), Some(v)) => Some(v),
        (Some(s), None) => Some(s.read(env).ok_or_else(unknown)?),
    };
    Ok((first, second))
}

/// A field of `v`, looked for first at `slot`: null when `v` is not an object or has no such field.
#[inline]
pub(crate) fn field<'v>(v: &'v Value, name: &Key, slot: Option<u32>) -> &'v Value {
    match v {
        Value::Object(fields) => match slot.and_then(|i| fields.get(i as usize)) {
            Some((k, v)) if k == name => v,
            _ => fields.iter().find(|(k, _)| k == name).map_or(&NULL, |(_, v)| v),
        },
        _ => &NULL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Plan;
    use rust_decimal::Decimal;

    fn var(name: &str) -> Expr {
        Expr::Var { name: name.into() }
    }

    fn field(base: Expr, name: &str, slot: Option<u32>) -> Expr {
        Expr::Field { base: Box::new(base), name: name.into(), slot }
    }

    fn lit(v: Value) -> Expr {
        Expr::Lit { value: v }
    }

    fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), span: Span::new(3, 4) }
    }

    fn call(func: Builtin, args: Vec<Expr>) -> Expr {
        Expr::CallBuiltin { func, args, span: Span::new(5, 6) }
    }

    /// Every kind of compiled node gives what the evaluator gives for the same expression,
    /// values and errors alike (with their spans), and writes the same text.
    #[test]
    fn compiled_nodes_give_what_the_evaluator_gives() {
        let s = |t: &str| Value::Str(t.into());
        let item = |q: i64, p: i64| {
            Value::Object(vec![("q".into(), Value::Int(q)), ("p".into(), Value::Decimal(Decimal::new(p, 1)))])
        };
        let record = Value::Object(vec![
            ("name".into(), s("Ada Lovelace")),
            ("n".into(), Value::Int(i64::MAX)),
            ("tags".into(), Value::Array(vec![s("a"), s("b")])),
            ("items".into(), Value::Array(vec![item(2, 15), item(1, 5)])),
            ("none".into(), Value::Null),
            // A Float among the items: the compiled sum steps aside for the evaluator's.
            ("mixed".into(), Value::Array(vec![item(2, 15), Value::Object(vec![("q".into(), Value::Float(0.5))])])),
        ]);
        let r = || var("r");
        let items = || field(r(), "items", Some(3));
        let exprs = vec![
            field(r(), "name", Some(0)),
            // A slot that is wrong: found by name.
            field(r(), "tags", Some(0)),
            field(r(), "missing", None),
            field(field(r(), "name", Some(0)), "deeper", None),
            Expr::Index { base: Box::new(field(r(), "tags", Some(2))), index: Box::new(lit(Value::Int(-1))) },
            Expr::Index { base: Box::new(field(r(), "tags", Some(2))), index: Box::new(lit(Value::Int(7))) },
            Expr::Coalesce { lhs: Box::new(field(r(), "none", Some(4))), rhs: Box::new(lit(s("default"))) },
            Expr::Coalesce { lhs: Box::new(field(r(), "name", Some(0))), rhs: Box::new(lit(s("default"))) },
            bin(BinOp::Eq, field(r(), "name", Some(0)), lit(s("Ada Lovelace"))),
            bin(BinOp::Lt, lit(Value::Int(1)), field(r(), "n", Some(1))),
            bin(BinOp::Add, field(r(), "name", Some(0)), lit(s("!"))),
            bin(BinOp::Add, lit(s("<")), bin(BinOp::Add, field(r(), "name", Some(0)), lit(s(">")))),
            // Chains of `+` on the left, written piece by piece: text, text with a piece that
            // is not (the evaluator's internal error), numbers (added as numbers), indexes.
            bin(
                BinOp::Add,
                bin(
                    BinOp::Add,
                    bin(BinOp::Add, field(r(), "name", Some(0)), lit(s(", "))),
                    field(r(), "name", Some(0)),
                ),
                lit(s("!")),
            ),
            bin(BinOp::Add, bin(BinOp::Add, field(r(), "name", Some(0)), lit(s("-"))), field(r(), "n", Some(1))),
            bin(BinOp::Add, bin(BinOp::Add, lit(s("a")), lit(s("-"))), lit(Value::Int(3))),
            bin(BinOp::Add, bin(BinOp::Add, lit(Value::Int(1)), lit(Value::Int(2))), lit(Value::Int(3))),
            bin(BinOp::Add, bin(BinOp::Add, field(r(), "n", Some(1)), lit(Value::Int(0))), lit(Value::Int(1))),
            bin(
                BinOp::Add,
                bin(
                    BinOp::Add,
                    Expr::Index { base: Box::new(field(r(), "tags", Some(2))), index: Box::new(lit(Value::Int(0))) },
                    lit(s("/")),
                ),
                Expr::Index { base: Box::new(field(r(), "tags", Some(2))), index: Box::new(lit(Value::Int(1))) },
            ),
            bin(BinOp::Add, bin(BinOp::Add, field(r(), "none", Some(4)), lit(s("/"))), lit(s("x"))),
            // Overflow: the same error, with the operator's span.
            bin(BinOp::Add, field(r(), "n", Some(1)), lit(Value::Int(1))),
            Expr::If {
                cond: Box::new(bin(BinOp::Gt, field(r(), "n", Some(1)), lit(Value::Int(0)))),
                then: Box::new(lit(s("big"))),
                otherwise: Box::new(lit(s("small"))),
            },
            call(Builtin::Lower, vec![field(r(), "name", Some(0))]),
            call(Builtin::Join, vec![field(r(), "tags", Some(2)), lit(s("+"))]),
            call(Builtin::Len, vec![items()]),
            call(Builtin::Split, vec![field(r(), "name", Some(0)), lit(s(" "))]),
            call(
                Builtin::Sum,
                vec![
                    items(),
                    Expr::Lambda {
                        param: "i".into(),
                        body: Box::new(bin(BinOp::Mul, field(var("i"), "q", Some(0)), field(var("i"), "p", Some(1)))),
                    },
                ],
            ),
            call(
                Builtin::Sum,
                vec![
                    field(r(), "mixed", Some(5)),
                    Expr::Lambda {
                        param: "i".into(),
                        body: Box::new(bin(BinOp::Add, field(var("i"), "q", Some(0)), field(r(), "n", Some(1)))),
                    },
                ],
            ),
            // Not compiled: run by the evaluator, which says the variable is unknown.
            var("nobody"),
            Expr::Array { items: vec![lit(Value::Int(1)), field(r(), "name", Some(0))] },
        ];
        let plan = Program::new(Plan::default());
        let scope = [Key::from("r")];
        for e in &exprs {
            let mut env = Env::new();
            env.push("r", record.clone());
            let op = compile(e, &scope, &plan);
            let want = eval::eval(e, &mut env, &plan);
            assert_eq!(op.eval(&mut env, &plan), want, "{e:?}");
            let (mut a, mut b) = (String::new(), String::new());
            let (x, y) = (op.text_into(&mut env, &plan, &mut a), eval::text_into(e, &mut env, &plan, &mut b));
            assert_eq!((x, a), (y, b), "{e:?}");
            if let Ok(v) = want {
                let mut json = String::new();
                op.write_json(&mut env, &plan, &mut json).expect("writes");
                assert_eq!(json, crate::encode(&v), "{e:?}");
            }
            // The record is whole again (a lent array is put back).
            assert_eq!(env.at(0), Some(&record));
        }
        // Paths are compiled to their variable's place, the rest left to the evaluator.
        assert!(matches!(compile(&exprs[3], &scope, &plan), Op::Path { var: 0, ref fields } if fields.len() == 2));
        assert!(matches!(compile(&exprs[12], &scope, &plan), Op::Concat { ref pieces, .. } if pieces.len() == 4));
        assert!(matches!(compile(&exprs[exprs.len() - 2], &scope, &plan), Op::Expr(_)));
    }
}
