//! Typing calls of built-in functions, from their rows of the table (`flow_plan::Builtin`):
//! the arity, and for a function whose arguments and result are of fixed shapes the whole
//! typing; the others by family, one module each (`text`, `arrays`, `numbers`, `dates`).
//! Patterns, formats and zones must be literals, and are validated here, at check time, so a
//! bad regex or date format never reaches a run.

mod arrays;
mod dates;
mod dicts;
mod numbers;
mod text;

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan::Builtin as B;
use flow_plan::{self as plan, Family, Shape};
use flow_syntax::ast::{self, ExprKind};

use crate::expr::Expect;
use crate::scope::Scope;
use crate::ty::Ty;
use crate::Checker;

const POISON: (Ty, plan::Expr) = (Ty::Error, plan::Expr::Lit { value: plan::Value::Null });

impl Checker<'_> {
    pub(crate) fn builtin(&mut self, e: &ast::Expr, b: B, args: &[ast::Arg], scope: &mut Scope) -> (Ty, plan::Expr) {
        let (lo, hi) = b.row().arity();
        if args.len() < lo || args.len() > hi || args.iter().any(|a| a.name.is_some()) {
            self.report(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("wrong arguments for `{}`", b.name()))
                    .primary(e.span, "this call")
                    .help(format!("call it as `{}`", b.signature())),
            );
            for a in args {
                if !matches!(a.value.kind, ExprKind::Lambda { .. }) {
                    self.infer(&a.value, scope);
                }
            }
            return POISON;
        }
        let a: Vec<&ast::Expr> = args.iter().map(|x| &x.value).collect();
        let mut plan_args: Vec<plan::Expr> = Vec::with_capacity(a.len());
        let ty = match self.builtin_type(b, e.span, &a, &mut plan_args, scope) {
            Some(t) => t,
            None => return POISON,
        };
        let ty = if b.is_fallible() { Ty::Fallible(Rc::new(ty)) } else { ty };
        (ty, plan::Expr::CallBuiltin { func: b, args: plan_args, span: e.span })
    }

    fn want(&mut self, e: &ast::Expr, ty: Ty, b: B, plan_args: &mut Vec<plan::Expr>, scope: &mut Scope) {
        let x =
            self.check_against(e, &Expect { ty, origin: None, what: format!("the argument of `{}`", b.name()) }, scope);
        plan_args.push(x);
    }

    /// An argument's type, refusing null (with a `??` suggestion).
    fn value(&mut self, e: &ast::Expr, b: B, plan_args: &mut Vec<plan::Expr>, scope: &mut Scope) -> Option<Ty> {
        let (t, x) = self.infer(e, scope);
        plan_args.push(x);
        if self.types.is_nullable(&t) {
            self.nullable_operand(e, &t, b.name());
            return None;
        }
        Some(t)
    }

    /// An array argument: its item type.
    fn array(&mut self, e: &ast::Expr, b: B, plan_args: &mut Vec<plan::Expr>, scope: &mut Scope) -> Option<Ty> {
        let t = self.value(e, b, plan_args, scope)?;
        match self.types.resolve(&t).clone() {
            Ty::Array(item) => Some((*item).clone()),
            Ty::Error => None,
            other => {
                self.wrong(e.span, b, &other);
                None
            }
        }
    }

    fn wrong(&mut self, span: Span, b: B, found: &Ty) {
        let shown = self.types.display(found);
        self.report(
            Diagnostic::new(codes::TYPE_MISMATCH, format!("`{}` does not take `{shown}`", b.name()))
                .primary(span, format!("this is `{shown}`"))
                .help(format!("call it as `{}`", b.signature())),
        );
    }

    /// A lambda argument applied to items of `item`: the type of its body.
    fn lambda(
        &mut self,
        e: &ast::Expr,
        item: Ty,
        b: B,
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        let ExprKind::Lambda { param, body } = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("the second argument of `{}` is a lambda", b.name()))
                    .primary(e.span, "not a lambda")
                    .help(format!("call it as `{}`", b.signature())),
            );
            self.infer(e, scope);
            return None;
        };
        let mark = scope.len();
        self.bind(scope, &param.name, param.span, item, crate::NameKind::LambdaParam);
        let (t, x) = self.infer(body, scope);
        let mut diags = Vec::new();
        scope.truncate(mark, &mut diags);
        plan_args.push(plan::Expr::Lambda { param: param.name.as_str().into(), body: Box::new(x) });
        Some(t)
    }

    fn lambda_bool(
        &mut self,
        e: &ast::Expr,
        item: Ty,
        b: B,
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<()> {
        let t = self.lambda(e, item, b, plan_args, scope)?;
        if !matches!(self.types.resolve(&t), Ty::Bool | Ty::Error) {
            let body = match &e.kind {
                ExprKind::Lambda { body, .. } => body.span,
                _ => e.span,
            };
            let shown = self.types.display(&t);
            self.report(
                Diagnostic::new(
                    codes::TYPE_MISMATCH,
                    format!("the lambda of `{}` must give a Bool, not `{shown}`", b.name()),
                )
                .primary(body, format!("this is `{shown}`"))
                .help("write a condition: `item => item.quantity > 0`"),
            );
            return None;
        }
        Some(())
    }

    /// Ordering keys: numbers, text, dates, Bools.
    fn sortable(&self, t: &Ty) -> bool {
        !self.types.is_nullable(t)
            && matches!(
                self.types.resolve(t),
                Ty::Int
                    | Ty::Float
                    | Ty::Decimal
                    | Ty::NumLit
                    | Ty::String
                    | Ty::StrLit(_)
                    | Ty::Union(_)
                    | Ty::Date
                    | Ty::DateTime
                    | Ty::Bool
                    | Ty::Error
            )
    }

    fn key_of(&mut self, e: &ast::Expr, t: &Ty, b: B) -> bool {
        if self.sortable(t) {
            return true;
        }
        let shown = self.types.display(t);
        self.report(
            Diagnostic::new(
                codes::TYPE_MISMATCH,
                format!("`{}` orders by numbers, text or dates, not `{shown}`", b.name()),
            )
            .primary(e.span, format!("this gives `{shown}`"))
            .help("give a non-null key: `item => item.name ?? \"\"`"),
        );
        false
    }

    /// A literal string argument (a pattern, format or zone), validated by `check`.
    fn literal(
        &mut self,
        e: &ast::Expr,
        plan_args: &mut Vec<plan::Expr>,
        what: &str,
        check: impl FnOnce(&str) -> Result<(), String>,
    ) -> Option<String> {
        let ExprKind::Str(s) = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_LITERAL_ARGUMENT, format!("the {what} must be a string literal"))
                    .primary(e.span, "not a literal")
                    .help(format!("write the {what} in the call, so flowc can check it before the run")),
            );
            return None;
        };
        if let Err(why) = check(s) {
            self.report(
                Diagnostic::new(codes::BAD_LITERAL_ARGUMENT, format!("invalid {what}: {why}"))
                    .primary(e.span, format!("this {what}"))
                    .help(match what {
                        "regex" => {
                            "see https://docs.rs/regex for the syntax; escape `\\` as `\\\\` in the string".to_string()
                        }
                        "time zone" => {
                            "use an IANA zone name such as \"Europe/Berlin\" or \"America/New_York\"".to_string()
                        }
                        _ => "use strftime items such as %Y-%m-%d, %H:%M:%S, %z".to_string(),
                    }),
            );
            return None;
        }
        plan_args.push(plan::Expr::Lit { value: plan::Value::Str(s.clone()) });
        Some(s.clone())
    }

    /// Types a call from the built-in's row alone, when every argument and the result are of a
    /// fixed shape; else by its family's module.
    fn builtin_type(
        &mut self,
        b: B,
        span: Span,
        a: &[&ast::Expr],
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        if b.row().is_fixed() {
            return self.fixed(b, a, plan_args, scope);
        }
        match b.family() {
            Family::Text => self.text_type(b, span, a, plan_args, scope),
            Family::Arrays => self.arrays_type(b, span, a, plan_args, scope),
            Family::Numbers => self.numbers_type(b, span, a, plan_args, scope),
            Family::Dates => self.dates_type(b, span, a, plan_args, scope),
            Family::Dicts => self.dicts_type(b, span, a, plan_args, scope),
            Family::Control => self.fixed(b, a, plan_args, scope),
        }
    }

    /// A call typed from its row: each argument checked against its shape (a regex or a zone is
    /// a literal, validated here), a left-out argument plan_args to its default.
    pub(super) fn fixed(
        &mut self,
        b: B,
        a: &[&ast::Expr],
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        let row = b.row();
        for (i, arg) in row.args.iter().enumerate() {
            match (a.get(i), arg.shape) {
                (None, _) => {
                    if let Some(text) = arg.default {
                        plan_args.push(plan::Expr::Lit { value: plan::Value::Str(text.into()) });
                    }
                }
                (Some(e), Shape::Regex) => {
                    self.literal(e, plan_args, "regex", regex_ok)?;
                }
                (Some(e), Shape::Zone) => {
                    self.literal(e, plan_args, "time zone", zone_ok)?;
                }
                (Some(e), shape) => self.want(e, fixed_type(shape)?, b, plan_args, scope),
            }
        }
        fixed_type(row.returns)
    }
}

/// The checker's type of a fixed [`Shape`] (`None` for the others).
fn fixed_type(shape: Shape) -> Option<Ty> {
    Some(match shape {
        Shape::String => Ty::String,
        Shape::Int => Ty::Int,
        Shape::Bool => Ty::Bool,
        Shape::Float => Ty::Float,
        Shape::Decimal => Ty::Decimal,
        Shape::Date => Ty::Date,
        Shape::DateTime => Ty::DateTime,
        Shape::Strings => Ty::Array(Rc::new(Ty::String)),
        Shape::OptionalString => Ty::Nullable(Rc::new(Ty::String)),
        Shape::Never => Ty::Never,
        _ => return None,
    })
}

/// Whether a literal regex pattern compiles; the error's last line says why not.
fn regex_ok(p: &str) -> Result<(), String> {
    regex::Regex::new(p).map(|_| ()).map_err(|e| {
        let text = e.to_string();
        let last = text.lines().last().unwrap_or("").trim();
        last.strip_prefix("error: ").unwrap_or(last).to_string()
    })
}

/// Whether a literal time zone is an IANA name.
fn zone_ok(z: &str) -> Result<(), String> {
    z.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| format!("unknown zone {z:?}"))
}

pub(super) fn nullable(t: &Ty, checker: &Checker) -> Ty {
    if checker.types.is_nullable(t) {
        t.clone()
    } else {
        Ty::Nullable(Rc::new(t.clone()))
    }
}
