//! `function` declarations: signatures first (so any body can call any function), then each
//! body against its declared result, and the cycle check of function calls.

use crate::expr::Expect;
use crate::scope::Scope;
use crate::{Cx, FunctionM, NameKind};

impl Cx<'_> {
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
}
