//! `map` declarations: signatures first (so a map may call a later one), then each body's
//! `let`s, spreads and fields against the declared target type (`record.rs`), and the cycle check
//! of map calls.

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic};
use flow_syntax::ast;

use crate::record::{Item, Part, Site, Target};
use crate::scope::Scope;
use crate::ty::Ty;
use crate::{Cx, MapM, NameKind};

impl Cx<'_> {
    pub(crate) fn map_signatures(&mut self) {
        let decls = self.map_decls.clone();
        for d in decls {
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
            self.map_sigs.push((params, ret));
            self.map_calls.push(Vec::new());
        }
    }

    pub(crate) fn check_maps(&mut self) {
        let decls = self.map_decls.clone();
        for (i, d) in decls.iter().enumerate() {
            self.current_map = Some(i);
            let m = self.map(i, d);
            self.maps.push(m);
        }
        self.current_map = None;
    }

    fn map(&mut self, index: usize, d: &ast::MapDecl) -> Option<MapM> {
        let errors_before = self.error_count();
        let (params, ret) = self.map_sigs[index].clone();
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
        let mut diags = Vec::new();
        scope.truncate(0, &mut diags);
        self.diagnostics.append(&mut diags);
        if self.error_count() > errors_before {
            return None;
        }
        Some(MapM { name: d.name.name.clone(), params, ret, lets, spreads, fields, span: d.span })
    }

    pub(crate) fn check_map_cycles(&mut self) {
        let graph = self.map_calls.clone();
        let names: Vec<String> = self.map_decls.iter().map(|d| d.name.name.clone()).collect();
        self.report_cycles(&graph, &names, "map");
    }
}
