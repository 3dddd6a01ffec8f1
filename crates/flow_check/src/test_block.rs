//! `test "…" { … }` blocks: `let`s and `expect`s, each `expect` a Bool (for `a == b` both sides
//! kept, to show their values when it fails). Named `test_block` so it is not mistaken for this
//! crate's own unit tests (`tests.rs`).

use flow_diagnostics::{codes, Diagnostic};
use flow_plan as plan;
use flow_syntax::ast::{self, BinaryOp, ExprKind};

use crate::expr::Expect;
use crate::scope::Scope;
use crate::ty::Ty;
use crate::{Checker, NameKind};

impl Checker<'_> {
    pub(crate) fn check_tests(&mut self) {
        for i in 0..self.decls.tests.len() {
            if self.replayed(crate::recheck::Body::Test, i) {
                continue;
            }
            let window = self.mark();
            let d = self.decls.tests.decl(i);
            let mut scope = Scope::default();
            let mut steps = Vec::new();
            for item in &d.items {
                match item {
                    ast::TestItem::Let(l) => {
                        let (ty, value) = self.let_value(l, &mut scope);
                        self.bind(&mut scope, &l.name.name, l.name.span, ty, NameKind::Let);
                        steps.push(plan::TestStep::Let { name: l.name.name.clone(), value, span: l.span });
                    }
                    ast::TestItem::Expect(e) => {
                        let expr = self.check_against(
                            e,
                            &Expect { ty: Ty::Bool, origin: None, what: "an `expect`".into() },
                            &mut scope,
                        );
                        // For `a == b`, keep both sides to show their values when it fails:
                        // each side as inferred alone.
                        let sides = match &e.kind {
                            ExprKind::Binary { op: BinaryOp::Eq, lhs, rhs } => match &expr {
                                // The comparison inferred each side alone too, unless a side
                                // took its type from the other (a `[]`; a string literal read
                                // as a date, which is then no string), so its sides are those.
                                plan::Expr::Binary { op: plan::BinOp::Eq, lhs: l, rhs: r, .. }
                                    if !self.inferring_sides_again()
                                        && [(lhs, l), (rhs, r)].iter().all(|(side, x)| {
                                            !crate::expr::needs_context(side)
                                                && (!matches!(side.kind, ExprKind::Str(_))
                                                    || matches!(&***x, plan::Expr::Lit { value: plan::Value::Str(_) }))
                                        }) =>
                                {
                                    Some(((**l).clone(), (**r).clone()))
                                }
                                _ => {
                                    let (_, l) = self.infer_quiet(lhs, &mut scope);
                                    let (_, r) = self.infer_quiet(rhs, &mut scope);
                                    Some((l, r))
                                }
                            },
                            _ => None,
                        };
                        steps.push(plan::TestStep::Expect { expr, sides, span: e.span });
                    }
                }
            }
            self.end_scope(&mut scope, 0);
            if !d.items.iter().any(|i| matches!(i, ast::TestItem::Expect(_))) {
                self.report(
                    Diagnostic::new(codes::BAD_STATEMENT, format!("test {:?} expects nothing", d.name.name))
                        .primary(d.name.span, "no `expect`")
                        .help("add `expect <condition>`; a test without one always passes"),
                );
            }
            self.decls.tests.rows[i].checked = Some(plan::Test { name: d.name.name.clone(), steps, span: d.span });
            self.window_done(crate::recheck::Body::Test, i, window);
        }
    }
}

impl Checker<'_> {
    #[cfg(not(test))]
    fn inferring_sides_again(&self) -> bool {
        false
    }

    #[cfg(test)]
    fn inferring_sides_again(&self) -> bool {
        self.infer_sides_again
    }
}
