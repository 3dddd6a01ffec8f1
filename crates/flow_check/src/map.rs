//! `map` declarations: signatures first (so a map may call a later one), then each body's
//! `let`s, spreads and fields against the declared target type (`record.rs`), and the cycle check
//! of map calls.

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic};
use flow_plan as plan;
use flow_syntax::ast;

use crate::checker::Signature;
use crate::recheck::Body;
use crate::record::{Item, Part, Site, Target};
use crate::scope::Scope;
use crate::ty::{plan_type, Ty};
use crate::{Checker, NameKind};

impl Checker<'_> {
    pub(crate) fn map_signatures(&mut self) {
        for i in 0..self.decls.maps.len() {
            let d = self.decls.maps.decl(i);
            let params = self.signature_params(&d.params);
            let ret = self.type_expr(&d.ret);
            if !matches!(self.types.resolve(&ret), Ty::Object(_) | Ty::Error) {
                let shown = self.types.display(&ret);
                self.report(
                    Diagnostic::new(codes::TYPE_MISMATCH, format!("a map returns an object type, not `{shown}`"))
                        .primary(d.ret.span, "not an object type")
                        .help("declare a record type (`type Contact { … }`) and return it; compute single values with a `let` or a function"),
                );
            }
            self.decls.maps.rows[i].sig = Some(Signature { params, ret });
        }
    }

    pub(crate) fn check_maps(&mut self) {
        // The declared types, as the plan holds them: whether a target has optional fields.
        // Built when the first body is checked (a re-check may check none).
        let mut named = None;
        for i in 0..self.decls.maps.len() {
            if self.replayed(Body::Map, i) {
                continue;
            }
            let window = self.mark();
            self.calls.caller = Some((NameKind::Map, i));
            let named = named.get_or_insert_with(|| self.types.plan_types());
            self.decls.maps.rows[i].checked = self.map(i, self.decls.maps.decl(i), named);
            self.window_done(Body::Map, i, window);
        }
        self.calls.caller = None;
    }

    fn map(&mut self, index: usize, d: &ast::MapDecl, named: &[plan::NamedType]) -> Option<plan::Map> {
        let errors_before = self.error_count();
        let Signature { params, ret } = self.decls.maps.sig(index)?;
        let mut scope = Scope::default();
        for (p, (name, ty)) in d.params.iter().zip(&params) {
            self.bind(&mut scope, name, p.name.span, ty.clone(), NameKind::Param);
        }
        let (fields, known) = match self.types.resolve(&ret) {
            Ty::Object(fields) => (fields.clone(), true),
            _ => (Rc::from(Vec::new()), false),
        };
        let index = match &ret {
            Ty::Named(i) => Some(*i),
            _ => None,
        };
        let target = Target { fields, index, name: self.types.display(&ret), known };
        let items = d.items.iter().map(|item| match item {
            ast::MapItem::Let(l) => Item::Let(l),
            ast::MapItem::Spread(e) => Item::Spread(e),
            ast::MapItem::Field(f) => Item::Field(&f.name, &f.value),
        });
        let parts = self.fill_record(&target, &Site::MapBody { name: &d.name, ret: d.ret.span }, items, &mut scope);
        let (mut lets, mut spreads, mut fields) = (Vec::new(), Vec::new(), Vec::new());
        for part in parts {
            match part {
                Part::Let(name, value) => lets.push((name, value)),
                Part::Spread(value) => spreads.push(value),
                Part::Field(name, value) => fields.push((name, value)),
            }
        }
        self.end_scope(&mut scope, 0);
        if self.error_count() > errors_before {
            return None;
        }
        // The output reads like the type: fields in the order the target type declares them.
        let declared: Option<Vec<plan::Key>> = match self.types.resolve(&ret) {
            Ty::Object(declared) => Some(declared.iter().map(|f| f.name.as_str().into()).collect()),
            _ => None,
        };
        let fields: Vec<(plan::Key, plan::Expr)> = match &declared {
            Some(declared) => declared
                .iter()
                .filter_map(|k| fields.iter().find(|(n, _)| n == k.as_str()).map(|(_, e)| (*k, e.clone())))
                .collect(),
            None => fields.into_iter().map(|(n, e)| (n.into(), e)).collect(),
        };
        Some(plan::Map {
            name: d.name.name.clone(),
            params: params.iter().map(|(n, _)| n.into()).collect(),
            param_types: params.iter().map(|(_, t)| plan_type(t)).collect(),
            lets: lets.into_iter().map(|(n, e)| (n.into(), e)).collect(),
            order: if spreads.is_empty() { Vec::new() } else { declared.unwrap_or_default() },
            spreads,
            fields,
            ret: Some(plan_type(&ret)).filter(|t| plan::needs_shaping(t, named)),
            span: d.span,
        })
    }

    pub(crate) fn check_map_cycles(&mut self) {
        let graph = self.calls.edges(NameKind::Map, self.decls.maps.len());
        let names: Vec<String> = self.decls.maps.decls().map(|d| d.name.name.clone()).collect();
        let sigs: Vec<_> = self.decls.maps.rows.iter().map(|r| r.sig.as_ref()).collect();
        let over_data = self.takes_recursive_data(&sigs);
        self.report_cycles(&graph, &names, "map", &over_data);
    }
}
