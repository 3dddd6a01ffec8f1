//! `sum(xs, x => …)` over Ints and Decimals compiled to run without [`Value`]s: the lambda's
//! body, when it is arithmetic (`+`, `-`, `*`) on paths from the item, the map's variables
//! and number literals, is read straight from each item where it is (no item moved into the
//! scope and back, no operand copied, no `Value` built between the nodes) and added up as an
//! `i64` or a `Decimal`, with exactly the arithmetic of [`crate::eval::binary`].
//!
//! It is a fast path, never a second meaning: whatever it does not cover — a value that is
//! not an Int or a Decimal (a Float, a null, text), an overflow, an array that is not one — makes
//! it give `None`, and the caller runs the general path from the start, which gives the value
//! or the error the evaluator gives (the body is pure, so running it again changes nothing).

use rust_decimal::Decimal;

use crate::eval::Env;
use crate::{BinOp, Expr, Key, Value};

/// A number as the evaluator's arithmetic holds it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Int(i64),
    Decimal(Decimal),
}

impl Num {
    fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Decimal(d) => Some(Num::Decimal(*d)),
            _ => None,
        }
    }

    fn value(self) -> Value {
        match self {
            Num::Int(i) => Value::Int(i),
            Num::Decimal(d) => Value::Decimal(d),
        }
    }

    fn decimal(self) -> Decimal {
        match self {
            Num::Int(i) => Decimal::from(i),
            Num::Decimal(d) => d,
        }
    }

    /// `self op other` as `eval::binary` computes it for Ints and Decimals; `None` where it
    /// fails (an overflow), for the general path to report.
    #[inline]
    fn apply(self, op: BinOp, other: Num) -> Option<Num> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                _ => a.checked_mul(b),
            }
            .map(Num::Int),
            (a, b) => {
                let (x, y) = (a.decimal(), b.decimal());
                match op {
                    BinOp::Add => x.checked_add(y),
                    BinOp::Sub => x.checked_sub(y),
                    _ => x.checked_mul(y),
                }
                .map(Num::Decimal)
            }
        }
    }
}

/// A path: a variable of the scope (or the lambda's item), then fields by name, each tried
/// first at its slot.
type Fields = Box<[(Key, Option<u32>)]>;

/// A lambda's body compiled as arithmetic.
#[derive(Debug)]
pub(crate) enum Arith<'p> {
    Lit(&'p Value),
    /// A path from the lambda's item.
    Item(Fields),
    /// A path from variable `var` of the scope around the lambda.
    Var(usize, Fields),
    Op(BinOp, Box<Arith<'p>>, Box<Arith<'p>>),
}

impl<'p> Arith<'p> {
    /// `body` as arithmetic, with `scope` the variables around the lambda (innermost last) and
    /// `param` the lambda's variable; `None` when the body is anything else.
    pub(crate) fn compile(body: &'p Expr, scope: &[Key], param: &Key) -> Option<Arith<'p>> {
        match body {
            Expr::Lit { value: value @ (Value::Int(_) | Value::Decimal(_)) } => Some(Arith::Lit(value)),
            Expr::Binary { op: op @ (BinOp::Add | BinOp::Sub | BinOp::Mul), lhs, rhs, .. } => Some(Arith::Op(
                *op,
                Box::new(Arith::compile(lhs, scope, param)?),
                Box::new(Arith::compile(rhs, scope, param)?),
            )),
            Expr::Var { .. } | Expr::Field { .. } => {
                let mut fields = Vec::new();
                let mut e = body;
                while let Expr::Field { base, name, slot } = e {
                    fields.push((*name, *slot));
                    e = base;
                }
                let Expr::Var { name } = e else { return None };
                fields.reverse();
                let fields = fields.into_boxed_slice();
                if name == param {
                    Some(Arith::Item(fields))
                } else {
                    scope.iter().rposition(|k| k == name).map(|var| Arith::Var(var, fields))
                }
            }
            _ => None,
        }
    }

    fn eval(&self, env: &Env, item: &Value) -> Option<Num> {
        match self {
            Arith::Lit(v) => Num::of(v),
            Arith::Item(fields) => Num::of(path(item, fields)),
            Arith::Var(var, fields) => Num::of(path(env.at(*var)?, fields)),
            Arith::Op(op, lhs, rhs) => lhs.eval(env, item)?.apply(*op, rhs.eval(env, item)?),
        }
    }

    /// The sum of the body over `items`, as `sum` gives it (`0` for none); `None` when the fast
    /// path does not cover these items.
    pub(crate) fn sum(&self, env: &Env, items: &[Value]) -> Option<Value> {
        let mut total = Num::Int(0);
        for item in items {
            total = total.apply(BinOp::Add, self.eval(env, item)?)?;
        }
        Some(total.value())
    }
}

fn path<'v>(mut v: &'v Value, fields: &[(Key, Option<u32>)]) -> &'v Value {
    for (name, slot) in fields {
        v = crate::ops::field(v, name, *slot);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builtin, Plan, Program, Span};

    fn var(name: &str) -> Expr {
        Expr::Var { name: name.into() }
    }

    fn field(base: Expr, name: &str, slot: Option<u32>) -> Expr {
        Expr::Field { base: Box::new(base), name: name.into(), slot }
    }

    fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), span: Span::new(3, 4) }
    }

    fn lit(v: Value) -> Expr {
        Expr::Lit { value: v }
    }

    fn dec(text: &str) -> Value {
        Value::Decimal(Decimal::from_str_exact(text).expect("a decimal"))
    }

    /// The fast sum gives what the evaluator's `sum` gives, value and scale, wherever it
    /// applies, and steps aside (`None`) wherever the evaluator would give something else or
    /// fail: then the general path runs and reports.
    #[test]
    fn the_compiled_sum_gives_what_the_evaluator_gives_or_steps_aside() {
        let item = |q: Value, p: Value| Value::Object(vec![("q".into(), q), ("p".into(), p)]);
        let q = || field(var("i"), "q", Some(0));
        let p = || field(var("i"), "p", Some(1));
        let bodies = [
            bin(BinOp::Mul, q(), p()),
            bin(BinOp::Add, q(), lit(Value::Int(1))),
            bin(BinOp::Sub, p(), field(var("r"), "fee", Some(0))),
            bin(BinOp::Mul, bin(BinOp::Add, q(), p()), lit(dec("1.50"))),
            q(),
            field(var("i"), "missing", None),
        ];
        let lists = [
            vec![],
            vec![item(Value::Int(2), dec("89.90")), item(Value::Int(3), dec("0.10"))],
            vec![item(Value::Int(2), Value::Int(7)), item(Value::Int(-3), Value::Int(4))],
            vec![item(Value::Int(i64::MAX), Value::Int(2))],
            vec![item(Value::Int(1), dec("79228162514264337593543950335")), item(Value::Int(9), dec("1"))],
            vec![item(Value::Int(1), Value::Float(0.5))],
            vec![item(Value::Null, dec("1"))],
            vec![Value::Int(3)],
        ];
        let plan = Program::new(Plan::default());
        let scope = [Key::from("r")];
        let record = Value::Object(vec![("fee".into(), dec("0.25"))]);
        let mut fast = 0;
        for body in &bodies {
            let arith = Arith::compile(body, &scope, &Key::from("i")).expect("arithmetic");
            for list in &lists {
                let mut env = Env::new();
                env.push("r", record.clone());
                env.push("xs", Value::Array(list.clone()));
                let call = Expr::CallBuiltin {
                    func: Builtin::Sum,
                    args: vec![var("xs"), Expr::Lambda { param: "i".into(), body: Box::new(body.clone()) }],
                    span: Span::new(0, 9),
                };
                let want = crate::eval::eval(&call, &mut env, &plan);
                match arith.sum(&env, list) {
                    Some(got) => {
                        fast += 1;
                        assert_eq!(Ok(&got), want.as_ref(), "{body:?} over {list:?}");
                        // The same scale, not only the same number.
                        assert_eq!(crate::encode(&got), crate::encode(want.as_ref().expect("a value")));
                    }
                    // Stepping aside is right only where the evaluator does not give a plain
                    // Int or Decimal (an error, a Float) or a null item field made it an error.
                    None => assert!(
                        !matches!(want, Ok(Value::Int(_) | Value::Decimal(_))),
                        "{body:?} over {list:?} stepped aside from {want:?}"
                    ),
                }
            }
        }
        assert!(fast >= 15, "the fast path ran {fast} times");
        // Anything but arithmetic on numbers and paths is not compiled.
        for body in [
            bin(BinOp::Div, q(), p()),
            lit(Value::Float(1.0)),
            lit(Value::Str("x".into())),
            var("unknown"),
            Expr::Index { base: Box::new(var("i")), index: Box::new(lit(Value::Int(0))) },
        ] {
            assert!(Arith::compile(&body, &scope, &Key::from("i")).is_none(), "{body:?}");
        }
    }
}
