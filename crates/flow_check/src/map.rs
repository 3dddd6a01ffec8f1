//! `map` declarations: signatures first (so a map may call a later one), then each body's
//! `let`s, spreads and fields against the declared target type (`record.rs`), and the cycle check
//! of map calls.

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast::{self};

use crate::expr::{field_help, Expect};
use crate::names::{twice, Again};
use crate::scope::Scope;
use crate::ty::{FieldTy, Ty};
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
        let target_index = match &ret {
            Ty::Named(i) => Some(*i),
            _ => None,
        };
        let target_fields: Vec<FieldTy> = match self.types.resolve(&ret) {
            Ty::Object(fields) => fields.to_vec(),
            _ => Vec::new(),
        };
        let target_known = matches!(self.types.resolve(&ret), Ty::Object(_));
        let target_name = self.types.display(&ret);
        let mut lets = Vec::new();
        let mut spreads = Vec::new();
        let mut provided: Vec<String> = Vec::new();
        let mut fields: Vec<(String, plan::Expr)> = Vec::new();
        let mut set: Vec<(&str, Span)> = Vec::new();
        for item in &d.items {
            match item {
                ast::MapItem::Spread(e) => {
                    let (fs, x) = self.spread(e, &mut scope);
                    for f in fs.iter() {
                        match target_fields.iter().find(|t| t.name == f.name) {
                            Some(t) => {
                                if let Err(m) = self.types.assignable(&f.ty, &t.ty) {
                                    let origin =
                                        target_index.and_then(|i| self.field_spans.get(&(i, t.name.clone())).copied());
                                    let expect = Expect {
                                        ty: t.ty.clone(),
                                        origin,
                                        what: format!("field `{}` of `{target_name}` (from this spread)", t.name),
                                    };
                                    self.mismatch(e, &f.ty, &expect, &m);
                                }
                                provided.push(f.name.clone());
                            }
                            None if target_known => self.report(
                                Diagnostic::new(
                                    codes::EXTRA_FIELD,
                                    format!(
                                        "the spread brings field `{}`, which `{target_name}` does not have",
                                        f.name
                                    ),
                                )
                                .primary(e.span, format!("this has `{}`", f.name))
                                .help(format!(
                                    "set the fields one by one, or spread a value whose fields `{target_name}` all has"
                                )),
                            ),
                            None => {}
                        }
                    }
                    spreads.push(x);
                }
                ast::MapItem::Let(l) => {
                    let (ty, pe) = self.let_value(l, &mut scope);
                    if scope.contains(&l.name.name) {
                        self.shadowing(&l.name);
                    }
                    self.bind(&mut scope, &l.name.name, l.name.span, ty, NameKind::Let);
                    lets.push((l.name.name.clone(), pe));
                }
                ast::MapItem::Field(f) => {
                    if let Some((_, first)) = set.iter().find(|(n, _)| *n == f.name.name) {
                        self.report(twice(
                            Again::Set,
                            &format!("field `{}`", f.name.name),
                            f.name.span,
                            Some(*first),
                            "set each field once; combine the two values with `if … then … else` or `??`",
                        ));
                        continue;
                    }
                    set.push((&f.name.name, f.name.span));
                    match target_fields.iter().find(|t| t.name == f.name.name) {
                        Some(t) => {
                            self.note_field(target_index, &t.name, f.name.span);
                            let origin = target_index.and_then(|i| self.field_spans.get(&(i, t.name.clone())).copied());
                            let expect = Expect {
                                ty: t.ty.clone(),
                                origin,
                                what: format!("field `{}` of `{target_name}`", t.name),
                            };
                            let pe = self.check_against(&f.value, &expect, &mut scope);
                            fields.push((f.name.name.clone(), pe));
                        }
                        None if target_known => {
                            let unset = target_fields
                                .iter()
                                .map(|t| t.name.as_str())
                                .filter(|n| !set.iter().any(|(s, _)| s == n));
                            let help = field_help(
                                f.name.span,
                                &f.name.name,
                                unset,
                                &format!("`{target_name}`"),
                                &target_fields,
                            );
                            self.report(
                                Diagnostic::new(
                                    codes::EXTRA_FIELD,
                                    format!("`{target_name}` has no field `{}`", f.name.name),
                                )
                                .primary(f.name.span, "not a field of the target type")
                                .secondary(d.ret.span, format!("the map returns `{target_name}`"))
                                .help(help),
                            );
                            // Still check the value, for the errors inside it.
                            self.infer(&f.value, &mut scope);
                        }
                        None => {
                            self.infer(&f.value, &mut scope);
                        }
                    }
                }
            }
        }
        let missing: Vec<&FieldTy> = target_fields
            .iter()
            .filter(|t| {
                !set.iter().any(|(s, _)| *s == t.name) && !provided.contains(&t.name) && !self.types.is_nullable(&t.ty)
            })
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|t| format!("`{}`", t.name)).collect();
            let lines: Vec<String> = missing.iter().map(|t| format!("`{} = …`", t.name)).collect();
            let d2 = Diagnostic::new(
                codes::MISSING_FIELD,
                format!(
                    "map `{}` does not set {} of `{target_name}`",
                    d.name.name,
                    if missing.len() == 1 { "required field" } else { "required fields" }
                ),
            )
            .primary(d.name.span, format!("missing {}", names.join(", ")))
            .secondary(
                d.ret.span,
                format!("`{target_name}` requires {}", if missing.len() == 1 { "it" } else { "them" }),
            )
            .help(format!("add {}", lines.join(", ")));
            self.report(d2);
        }
        let mut diags = Vec::new();
        scope.truncate(0, &mut diags);
        self.diagnostics.append(&mut diags);
        if self.error_count() > errors_before {
            return None;
        }
        Some(MapM { name: d.name.name.clone(), params, ret, lets, spreads, fields, span: d.span })
    }

    pub(crate) fn let_value(&mut self, l: &ast::Let, scope: &mut Scope) -> (Ty, plan::Expr) {
        match &l.ty {
            Some(te) => {
                let ty = self.type_expr(te);
                let expect = Expect { ty: ty.clone(), origin: Some(te.span), what: format!("`{}`", l.name.name) };
                let pe = self.check_against(&l.value, &expect, scope);
                (ty, pe)
            }
            None => self.infer(&l.value, scope),
        }
    }

    pub(crate) fn shadowing(&mut self, name: &ast::Ident) {
        self.report(
            Diagnostic::new(codes::DUPLICATE, format!("`{}` is already defined here", name.name))
                .primary(name.span, "defined again")
                .help("choose another name; a map's parameters and lets must be distinct"),
        );
    }

    pub(crate) fn check_map_cycles(&mut self) {
        let graph = self.map_calls.clone();
        let names: Vec<String> = self.map_decls.iter().map(|d| d.name.name.clone()).collect();
        self.report_cycles(&graph, &names, "map");
    }
}
