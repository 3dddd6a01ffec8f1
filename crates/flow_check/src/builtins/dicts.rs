//! Typing the dictionary functions: `keys`, `values`, `entries` of a `{ [String]: T }`, and
//! `from_entries` of `[{ key: String, value: T }]`.

use std::rc::Rc;

use flow_plan::Builtin as B;
use flow_plan::{self as plan};
use flow_syntax::ast;

use crate::scope::Scope;
use crate::ty::{FieldTy, Ty};
use crate::Checker;

use flow_diagnostics::Span;

/// `{ key: String, value: T }`: one entry of a dictionary of `T`s.
pub(crate) fn entry_type(value: Ty) -> Ty {
    Ty::Object(
        vec![
            FieldTy { name: "key".into(), ty: Ty::String, optional: false, present: false },
            FieldTy { name: "value".into(), ty: value, optional: false, present: false },
        ]
        .into(),
    )
}

impl Checker<'_> {
    /// Types a call of a dictionary built-in.
    pub(super) fn dicts_type(
        &mut self,
        b: B,
        _span: Span,
        a: &[&ast::Expr],
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        Some(match b {
            B::Keys => {
                self.dict(a[0], b, plan_args, scope)?;
                Ty::Array(Rc::new(Ty::String))
            }
            B::Values => Ty::Array(Rc::new(self.dict(a[0], b, plan_args, scope)?)),
            B::Entries => Ty::Array(Rc::new(entry_type(self.dict(a[0], b, plan_args, scope)?))),
            B::FromEntries => {
                let item = self.array(a[0], b, plan_args, scope)?;
                let resolved = self.types.resolve(&item).clone();
                let value = match &resolved {
                    Ty::Object(fields) if fields.len() == 2 => {
                        let key = fields.iter().find(|f| f.name == "key" && !f.optional);
                        let value = fields.iter().find(|f| f.name == "value" && !f.optional);
                        match (key, value) {
                            (Some(k), Some(v)) if self.types.is_stringy(&k.ty) && !self.types.is_nullable(&k.ty) => {
                                Some(v.ty.clone())
                            }
                            _ => None,
                        }
                    }
                    Ty::Error => return None,
                    _ => None,
                };
                match value {
                    Some(v) => Ty::Dict(Rc::new(match v {
                        Ty::NumLit => Ty::Decimal,
                        Ty::StrLit(_) => Ty::String,
                        v => v,
                    })),
                    None => {
                        self.wrong(a[0].span, b, &Ty::Array(Rc::new(resolved)));
                        return None;
                    }
                }
            }
            _ => return self.fixed(b, a, plan_args, scope),
        })
    }

    /// A dictionary argument: its value type.
    fn dict(&mut self, e: &ast::Expr, b: B, plan_args: &mut Vec<plan::Expr>, scope: &mut Scope) -> Option<Ty> {
        let t = self.value(e, b, plan_args, scope)?;
        match self.types.resolve(&t).clone() {
            Ty::Dict(value) => Some((*value).clone()),
            Ty::Error => None,
            other => {
                self.wrong(e.span, b, &other);
                None
            }
        }
    }
}
