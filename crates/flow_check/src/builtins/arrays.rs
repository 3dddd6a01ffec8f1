//! Typing the array functions: their lambdas are typed by the array's items.

use std::rc::Rc;

use flow_plan::Builtin as B;
use flow_plan::{self as plan};
use flow_syntax::ast::{self, ExprKind};

use crate::scope::Scope;
use crate::ty::{FieldTy, Ty};
use crate::Checker;

use super::nullable;
use flow_diagnostics::{codes, Diagnostic, Span};

impl Checker<'_> {
    /// Types a call of a arrays built-in whose row is not all fixed shapes; the others are
    /// typed from the table (`super::fixed`).
    pub(super) fn arrays_type(
        &mut self,
        b: B,
        span: Span,
        a: &[&ast::Expr],
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        Some(match b {
            B::Map => {
                let item = self.array(a[0], b, plan_args, scope)?;
                Ty::Array(Rc::new(self.lambda(a[1], item, b, plan_args, scope)?))
            }
            B::Filter => {
                let item = self.array(a[0], b, plan_args, scope)?;
                self.lambda_bool(a[1], item.clone(), b, plan_args, scope)?;
                Ty::Array(Rc::new(item))
            }
            B::Find => {
                let item = self.array(a[0], b, plan_args, scope)?;
                self.lambda_bool(a[1], item.clone(), b, plan_args, scope)?;
                nullable(&item, self)
            }
            B::Any | B::All => {
                let item = self.array(a[0], b, plan_args, scope)?;
                self.lambda_bool(a[1], item, b, plan_args, scope)?;
                Ty::Bool
            }
            B::Count => {
                let item = self.array(a[0], b, plan_args, scope)?;
                if let Some(l) = a.get(1) {
                    self.lambda_bool(l, item, b, plan_args, scope)?;
                }
                Ty::Int
            }
            B::Sum => {
                let item = self.array(a[0], b, plan_args, scope)?;
                let t = match a.get(1) {
                    Some(l) => self.lambda(l, item, b, plan_args, scope)?,
                    None => item,
                };
                if self.types.is_nullable(&t) || !self.types.is_numeric(&t) {
                    let shown = self.types.display(&t);
                    self.report(
                        Diagnostic::new(codes::TYPE_MISMATCH, format!("`sum` adds numbers, not `{shown}`"))
                            .primary(a.get(1).unwrap_or(&a[0]).span, format!("gives `{shown}`"))
                            .help("sum a non-null numeric field: `sum(items, item => item.price)`"),
                    );
                    return None;
                }
                if t == Ty::NumLit {
                    Ty::Decimal
                } else {
                    t
                }
            }
            B::Min | B::Max => {
                let lambda = a.get(1).filter(|x| matches!(x.kind, ExprKind::Lambda { .. }));
                let (first_ty, first_x) = self.infer(a[0], scope);
                plan_args.push(first_x);
                match (self.types.resolve(&first_ty).clone(), lambda, a.get(1)) {
                    (Ty::Array(item), Some(l), _) => {
                        let key = self.lambda(l, (*item).clone(), b, plan_args, scope)?;
                        if !self.key_of(l, &key, b) {
                            return None;
                        }
                        nullable(&item, self)
                    }
                    (Ty::Array(item), None, None) => {
                        if !self.key_of(a[0], &item, b) {
                            return None;
                        }
                        nullable(&item, self)
                    }
                    (_, None, Some(second)) => {
                        if self.types.is_nullable(&first_ty) {
                            self.nullable_operand(a[0], &first_ty, b.name());
                            return None;
                        }
                        let t2 = self.value(second, b, plan_args, scope)?;
                        match self.types.arith(&first_ty, &t2) {
                            Ok(t) if self.types.is_numeric(&first_ty) && self.types.is_numeric(&t2) => {
                                if t == Ty::NumLit {
                                    Ty::Decimal
                                } else {
                                    t
                                }
                            }
                            _ => {
                                self.wrong(span, b, &first_ty);
                                return None;
                            }
                        }
                    }
                    (other, _, _) => {
                        self.wrong(a[0].span, b, &other);
                        return None;
                    }
                }
            }
            B::SortBy | B::GroupBy => {
                let item = self.array(a[0], b, plan_args, scope)?;
                let key = self.lambda(a[1], item.clone(), b, plan_args, scope)?;
                if !self.key_of(a[1], &key, b) {
                    return None;
                }
                if b == B::SortBy {
                    Ty::Array(Rc::new(item))
                } else {
                    let key = if let Ty::StrLit(_) = key { Ty::String } else { key };
                    let group = vec![
                        FieldTy { name: "key".into(), ty: key, optional: false, present: false },
                        FieldTy { name: "items".into(), ty: Ty::Array(Rc::new(item)), optional: false, present: false },
                    ];
                    Ty::Array(Rc::new(Ty::Object(group.into())))
                }
            }
            B::Flatten => {
                let item = self.array(a[0], b, plan_args, scope)?;
                match self.types.resolve(&item).clone() {
                    Ty::Array(inner) => Ty::Array(inner),
                    Ty::Error => Ty::Error,
                    other => {
                        self.wrong(a[0].span, b, &Ty::Array(Rc::new(other)));
                        return None;
                    }
                }
            }
            B::Distinct => Ty::Array(Rc::new(self.array(a[0], b, plan_args, scope)?)),
            B::First | B::Last => {
                let item = self.array(a[0], b, plan_args, scope)?;
                nullable(&item, self)
            }
            B::Join => {
                let item = self.array(a[0], b, plan_args, scope)?;
                if !self.types.is_stringy(&item) || self.types.is_nullable(&item) {
                    self.wrong(a[0].span, b, &Ty::Array(Rc::new(item)));
                    return None;
                }
                self.want(a[1], Ty::String, b, plan_args, scope);
                Ty::String
            }
            _ => return self.fixed(b, a, plan_args, scope),
        })
    }
}
