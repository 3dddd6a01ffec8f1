//! `function` declarations: signatures first (so any body can call any function), then each
//! body against its declared result, and the cycle check of function calls.

use crate::checker::Signature;
use crate::expr::Expect;
use crate::recheck::Body;
use crate::scope::Scope;
use flow_plan as plan;

use crate::{Checker, NameKind};

impl Checker<'_> {
    pub(crate) fn fn_signatures(&mut self) {
        for i in 0..self.decls.functions.len() {
            let d = self.decls.functions.decl(i);
            let params = self.signature_params(&d.params);
            let ret = self.type_expr(&d.ret);
            self.decls.functions.rows[i].sig = Some(Signature { params, ret });
        }
    }

    pub(crate) fn check_functions(&mut self) {
        for i in 0..self.decls.functions.len() {
            if self.replayed(Body::Function, i) {
                continue;
            }
            let window = self.mark();
            let d = self.decls.functions.decl(i);
            let errors_before = self.error_count();
            let Some(Signature { params, ret }) = self.decls.functions.sig(i) else {
                self.window_done(Body::Function, i, window);
                continue;
            };
            let mut scope = Scope::default();
            for (p, (name, ty)) in d.params.iter().zip(&params) {
                self.bind(&mut scope, name, p.name.span, ty.clone(), NameKind::Param);
            }
            self.calls.caller = Some((NameKind::Function, i));
            let body = self.check_against(
                &d.body,
                &Expect { ty: ret, origin: Some(d.ret.span), what: format!("the result of `{}`", d.name.name) },
                &mut scope,
            );
            self.calls.caller = None;
            self.decls.functions.rows[i].checked = (self.error_count() == errors_before).then(|| plan::Function {
                name: d.name.name.clone(),
                params: params.iter().map(|(n, _)| plan::Key::from(n)).collect(),
                body,
                span: d.span,
            });
            self.window_done(Body::Function, i, window);
        }
        let graph = self.calls.edges(NameKind::Function, self.decls.functions.len());
        let names: Vec<String> = self.decls.functions.decls().map(|d| d.name.name.clone()).collect();
        let sigs: Vec<_> = self.decls.functions.rows.iter().map(|r| r.sig.as_ref()).collect();
        let over_data = self.takes_recursive_data(&sigs);
        self.report_cycles(&graph, &names, "function", &over_data);
    }
}
