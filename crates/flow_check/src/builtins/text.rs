//! Typing the text functions that are not typed from their row alone: `contains`
//! (text or an array), `format` (its holes counted), `str` and `len`.

use flow_plan::Builtin as B;
use flow_plan::{self as plan};
use flow_syntax::ast;

use crate::scope::Scope;
use crate::ty::Ty;
use crate::Checker;
use flow_diagnostics::{codes, Diagnostic, Span};

impl Checker<'_> {
    /// Types a call of a text built-in whose row is not all fixed shapes; the others are
    /// typed from the table (`super::fixed`).
    pub(super) fn text_type(
        &mut self,
        b: B,
        span: Span,
        a: &[&ast::Expr],
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        Some(match b {
            B::Contains => {
                let t = self.value(a[0], b, plan_args, scope)?;
                match self.types.resolve(&t).clone() {
                    Ty::Array(item) => self.want(a[1], (*item).clone(), b, plan_args, scope),
                    Ty::String | Ty::StrLit(_) | Ty::Union(_) | Ty::Error => {
                        self.want(a[1], Ty::String, b, plan_args, scope)
                    }
                    other => {
                        self.wrong(a[0].span, b, &other);
                        return None;
                    }
                }
                Ty::Bool
            }
            B::Format => {
                let template = self.literal(a[0], plan_args, "format template", |_| Ok(()))?;
                let holes = count_holes(&template);
                if holes != a.len() - 1 {
                    self.report(
                        Diagnostic::new(
                            codes::BAD_ARGUMENTS,
                            format!(
                                "the template has {holes} `{{}}` hole{} but {} value{} follow",
                                if holes == 1 { "" } else { "s" },
                                a.len() - 1,
                                if a.len() == 2 { "" } else { "s" }
                            ),
                        )
                        .primary(span, "this call")
                        .help("give one value per `{}`; write `{{` and `}}` for literal braces"),
                    );
                    return None;
                }
                for x in &a[1..] {
                    let t = self.value(x, b, plan_args, scope)?;
                    if matches!(self.types.resolve(&t), Ty::Array(_) | Ty::Object(_)) {
                        self.wrong(x.span, b, &t);
                        return None;
                    }
                }
                Ty::String
            }
            B::Str => {
                let t = self.value(a[0], b, plan_args, scope)?;
                if matches!(self.types.resolve(&t), Ty::Array(_) | Ty::Object(_) | Ty::Duration) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                Ty::String
            }
            B::Len => {
                let t = self.value(a[0], b, plan_args, scope)?;
                if !matches!(
                    self.types.resolve(&t),
                    Ty::String | Ty::StrLit(_) | Ty::Union(_) | Ty::Array(_) | Ty::Error
                ) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                Ty::Int
            }
            _ => return self.fixed(b, a, plan_args, scope),
        })
    }
}

/// `{}` holes in a format template; `{{` and `}}` are literal braces.
fn count_holes(template: &str) -> usize {
    let mut n = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('{')) | ('}', Some('}')) => {
                chars.next();
            }
            ('{', Some('}')) => {
                chars.next();
                n += 1;
            }
            _ => {}
        }
    }
    n
}
