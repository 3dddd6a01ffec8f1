//! Typing the number functions that take any number (`round`, `floor`, `abs`, …); the parsers
//! are typed from their rows.

use flow_plan::Builtin as B;
use flow_plan::{self as plan};
use flow_syntax::ast;

use crate::scope::Scope;
use crate::ty::Ty;
use crate::Checker;
use flow_diagnostics::Span;

impl Checker<'_> {
    /// Types a call of a numbers built-in whose row is not all fixed shapes; the others are
    /// typed from the table (`super::fixed`).
    pub(super) fn numbers_type(
        &mut self,
        b: B,
        _span: Span,
        a: &[&ast::Expr],
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        Some(match b {
            B::Round | B::Abs => {
                let t = self.value(a[0], b, plan_args, scope)?;
                if !self.types.is_numeric(&t) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                if let Some(d) = a.get(1) {
                    if b == B::Abs {
                        self.wrong(d.span, b, &Ty::Int);
                        return None;
                    }
                    self.want(d, Ty::Int, b, plan_args, scope);
                }
                if t == Ty::NumLit {
                    Ty::Decimal
                } else {
                    t
                }
            }
            B::Floor | B::Ceil | B::ToInt => {
                let t = self.value(a[0], b, plan_args, scope)?;
                if !self.types.is_numeric(&t) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                Ty::Int
            }
            B::ToDecimal | B::ToFloat => {
                let t = self.value(a[0], b, plan_args, scope)?;
                if !self.types.is_numeric(&t) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                if b == B::ToDecimal {
                    Ty::Decimal
                } else {
                    Ty::Float
                }
            }
            _ => return self.fixed(b, a, plan_args, scope),
        })
    }
}
