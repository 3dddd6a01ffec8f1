//! `table` declarations: key and value types first (so expressions can look tables up), then
//! the entries, constants of those types, each key once.

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan as plan;

use crate::checker::TableSig;
use crate::expr::Expect;
use crate::scope::Scope;
use crate::ty::Ty;
use crate::Checker;

impl Checker<'_> {
    pub(crate) fn table_signatures(&mut self) {
        for i in 0..self.decls.tables.len() {
            let d = self.decls.tables.decl(i);
            let key = self.type_expr(&d.key);
            let value = self.type_expr(&d.value);
            let scalar_key =
                matches!(self.types.resolve(&key), Ty::String | Ty::Int | Ty::Union(_) | Ty::Bool | Ty::Error);
            if !scalar_key {
                let shown = self.types.display(&key);
                self.report(
                    Diagnostic::new(
                        codes::TYPE_MISMATCH,
                        format!("table keys are String, Int, Bool or a string union, not `{shown}`"),
                    )
                    .primary(d.key.span, "this key type")
                    .help("key the table by a code: `table countries: String -> String { \"DE\" => \"Germany\" }`"),
                );
            }
            self.decls.tables.rows[i].sig = Some(TableSig { key, value });
        }
    }

    pub(crate) fn check_tables(&mut self) {
        for i in 0..self.decls.tables.len() {
            let d = self.decls.tables.decl(i);
            let errors_before = self.error_count();
            let Some(TableSig { key: key_ty, value: value_ty }) = self.decls.tables.sig(i) else { continue };
            let empty = flow_eval::Program::new(plan::Plan::default());
            let mut entries: Vec<(plan::Value, plan::Value)> = Vec::new();
            let mut seen: Vec<(String, Span)> = Vec::new();
            for (k, v) in &d.entries {
                let mut scope = Scope::default();
                let kx = self.check_against(
                    k,
                    &Expect { ty: key_ty.clone(), origin: Some(d.key.span), what: "a key of this table".into() },
                    &mut scope,
                );
                let vx = self.check_against(
                    v,
                    &Expect { ty: value_ty.clone(), origin: Some(d.value.span), what: "a value of this table".into() },
                    &mut scope,
                );
                let constant = |e: &plan::Expr| flow_eval::eval::eval(e, &mut flow_eval::eval::Env::new(), &empty).ok();
                let (Some(kv), Some(vv)) = (constant(&kx), constant(&vx)) else {
                    if self.error_count() == errors_before {
                        self.report(
                            Diagnostic::new(codes::BAD_PROPERTY, "table entries are constants")
                                .primary(v.span, "not a constant")
                                .help(
                                    "write literals, objects and arrays of literals; compute with a function instead",
                                ),
                        );
                    }
                    continue;
                };
                let text = flow_eval::ToText::to_text(&kv);
                if let Some((_, first)) = seen.iter().find(|(t, _)| *t == text) {
                    self.report(crate::names::twice_as(
                        codes::FIELD_TWICE,
                        &format!("key {text:?} of the table"),
                        "given",
                        k.span,
                        Some(*first),
                        "keep one entry per key",
                    ));
                    continue;
                }
                seen.push((text, k.span));
                entries.push((kv, vv));
            }
            self.decls.tables.rows[i].checked =
                (self.error_count() == errors_before).then(|| plan::Table { name: d.name.name.clone(), entries });
        }
    }
}
