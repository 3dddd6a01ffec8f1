//! Tables, helper functions and tests.

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, BinaryOp, ExprKind};

use crate::expr::Expect;
use crate::scope::Scope;
use crate::ty::Ty;
use crate::{Cx, FunctionM, NameKind, TableM};

impl Cx<'_> {
    pub(crate) fn table_signatures(&mut self) {
        let decls = self.table_decls.clone();
        for d in decls {
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
            self.table_sigs.push((key, value));
        }
    }

    pub(crate) fn check_tables(&mut self) {
        let decls = self.table_decls.clone();
        for (i, d) in decls.iter().enumerate() {
            let errors_before = self.error_count();
            let (key_ty, value_ty) = self.table_sigs[i].clone();
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
                    self.report(
                        Diagnostic::new(codes::FIELD_TWICE, format!("key {text:?} is in the table twice"))
                            .primary(k.span, "again here")
                            .secondary(*first, "first here")
                            .help("keep one entry per key"),
                    );
                    continue;
                }
                seen.push((text, k.span));
                entries.push((kv, vv));
            }
            self.tables
                .push((self.error_count() == errors_before).then(|| TableM { name: d.name.name.clone(), entries }));
        }
    }

    pub(crate) fn fn_signatures(&mut self) {
        let decls = self.fn_decls.clone();
        for d in decls {
            let params = self.signature_params(&d.params);
            let ret = self.type_expr(&d.ret);
            self.fn_sigs.push((params, ret));
            self.fn_calls.push(Vec::new());
        }
    }

    pub(crate) fn check_functions(&mut self) {
        let decls = self.fn_decls.clone();
        for (i, d) in decls.iter().enumerate() {
            let errors_before = self.error_count();
            let (params, ret) = self.fn_sigs[i].clone();
            let mut scope = Scope::default();
            for (p, (name, ty)) in d.params.iter().zip(&params) {
                self.bind(&mut scope, name, p.name.span, ty.clone(), NameKind::Param);
            }
            self.current_fn = Some(i);
            let body = self.check_against(
                &d.body,
                &Expect { ty: ret, origin: Some(d.ret.span), what: format!("the result of `{}`", d.name.name) },
                &mut scope,
            );
            self.current_fn = None;
            self.functions.push((self.error_count() == errors_before).then(|| FunctionM {
                name: d.name.name.clone(),
                params: params.iter().map(|(n, _)| n.clone()).collect(),
                body,
                span: d.span,
            }));
        }
        let graph = self.fn_calls.clone();
        let names: Vec<String> = self.fn_decls.iter().map(|d| d.name.name.clone()).collect();
        self.report_cycles(&graph, &names, "function");
    }

    /// Reports each cycle in a call graph once, at the call that closes it. Iterative, so a long
    /// chain of calls cannot overflow the stack.
    pub(crate) fn report_cycles(&mut self, graph: &[Vec<(usize, Span)>], names: &[String], what: &str) {
        let n = graph.len();
        let mut colour = vec![0u8; n];
        for start in 0..n {
            if colour[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = 1;
            while let Some((node, edge)) = stack.last().copied() {
                if let Some(&(next, span)) = graph[node].get(edge) {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    match colour.get(next) {
                        Some(0) => {
                            colour[next] = 1;
                            stack.push((next, 0));
                        }
                        Some(1) => {
                            let (caller, callee) = (&names[node], &names[next]);
                            let msg = if caller == callee {
                                format!("{what} `{caller}` calls itself")
                            } else {
                                format!("{what}s `{callee}` and `{caller}` call each other in a cycle")
                            };
                            self.report(
                                Diagnostic::new(codes::MAP_CYCLE, msg)
                                    .primary(span, "this call closes the cycle")
                                    .help(format!(
                                        "{what}s cannot recurse: restructure them so none calls back into its callers"
                                    )),
                            );
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    stack.pop();
                }
            }
        }
    }

    pub(crate) fn check_tests(&mut self) {
        let decls = self.test_decls.clone();
        for d in decls {
            let mut scope = Scope::default();
            let mut steps = Vec::new();
            for item in &d.items {
                match item {
                    ast::TestItem::Let(l) => {
                        let (ty, value) = self.let_value_for_test(l, &mut scope);
                        self.bind(&mut scope, &l.name.name, l.name.span, ty, NameKind::Let);
                        steps.push(plan::TestStep::Let { name: l.name.name.clone(), value, span: l.span });
                    }
                    ast::TestItem::Expect(e) => {
                        let expr = self.check_against(
                            e,
                            &Expect { ty: Ty::Bool, origin: None, what: "an `expect`".into() },
                            &mut scope,
                        );
                        // For `a == b`, keep both sides to show their values when it fails.
                        let sides = match &e.kind {
                            ExprKind::Binary { op: BinaryOp::Eq, lhs, rhs } => {
                                let (_, l) = self.infer_quiet(lhs, &mut scope);
                                let (_, r) = self.infer_quiet(rhs, &mut scope);
                                Some((l, r))
                            }
                            _ => None,
                        };
                        steps.push(plan::TestStep::Expect { expr, sides, span: e.span });
                    }
                }
            }
            let mut diags = Vec::new();
            scope.truncate(0, &mut diags);
            self.diagnostics.append(&mut diags);
            if !d.items.iter().any(|i| matches!(i, ast::TestItem::Expect(_))) {
                self.report(
                    Diagnostic::new(codes::BAD_STATEMENT, format!("test {:?} expects nothing", d.name.name))
                        .primary(d.name.span, "no `expect`")
                        .help("add `expect <condition>`; a test without one always passes"),
                );
            }
            self.tests.push(plan::Test { name: d.name.name.clone(), steps, span: d.span });
        }
    }

    fn let_value_for_test(&mut self, l: &ast::Let, scope: &mut Scope) -> (Ty, plan::Expr) {
        match &l.ty {
            Some(te) => {
                let ty = self.type_expr(te);
                let pe = self.check_against(
                    &l.value,
                    &Expect { ty: ty.clone(), origin: Some(te.span), what: format!("`{}`", l.name.name) },
                    scope,
                );
                (ty, pe)
            }
            None => self.infer(&l.value, scope),
        }
    }
}
