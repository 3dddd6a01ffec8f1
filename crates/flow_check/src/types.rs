//! `type` declarations and type expressions.
//!
//! - `check_types`: every declared type resolved, fields' spans recorded (for "expected because of
//!   this" and editors), alias-only cycles reported, alias chains shortened to one step.
//! - `type_expr`: a written type (`String`, `[Item]`, `{ id: Int }`, `"a" | "b"`, `T?`) to a `Ty`.

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_syntax::ast::{self, TypeExprKind};

use crate::meant::{Candidate, Sort};
use crate::names::{twice, Again};
use crate::ty::{FieldTy, Ty};
use crate::{Checker, FieldDecl, NameKind, BUILTIN_TYPES};

impl Checker<'_> {
    pub(crate) fn check_types(&mut self) {
        self.pending_unions = Some(Vec::new());
        let decls: Vec<&ast::TypeDecl> = self.decls.types.decls().collect();
        self.types.names = decls.iter().map(|d| d.name.name.clone()).collect();
        self.types.defs = vec![Ty::Error; decls.len()];
        self.note_derivations(&decls);
        for (i, d) in decls.iter().enumerate() {
            if self.derived.is_derived(i) {
                continue;
            }
            self.fields.top_object = matches!(d.ty.kind, TypeExprKind::Object(_)).then_some(d.ty.span);
            let ty = self.type_expr(&d.ty);
            self.fields.top_object = None;
            if let TypeExprKind::Object(fields) = &d.ty.kind {
                for f in fields {
                    if f.sensitive && !self.fields.sensitive.iter().any(|(t, n)| *t == i && *n == f.name.name) {
                        self.fields.sensitive.push((i, f.name.name.clone()));
                    }
                    self.fields.declare(i, &f.name.name, f.span, f.name.span);
                }
            }
            self.types.defs[i] = ty;
        }
        self.derive_types(&decls);
        // `type A = B` / `type B = A`: no structure anywhere, so no value could ever have it.
        for (i, d) in decls.iter().enumerate() {
            let mut seen = vec![i];
            let mut ty = self.types.defs[i].clone();
            while let Ty::Named(j) = ty {
                if seen.contains(&j) {
                    self.report(
                        Diagnostic::new(
                            codes::TYPE_CYCLE,
                            format!("type `{}` is defined only in terms of itself", d.name.name),
                        )
                        .primary(d.ty.span, "this refers back to the type being defined")
                        .help("give the type fields, or make it an alias of a concrete type"),
                    );
                    self.types.defs[i] = Ty::Error;
                    break;
                }
                seen.push(j);
                ty = self.types.defs.get(j).cloned().unwrap_or(Ty::Error);
            }
        }
        // `type A = B`, `type B = C`, …: each alias names the end of its chain directly, so
        // resolving a type is one step however long the chain (no bound to run out of).
        for i in 0..decls.len() {
            let mut end = i;
            let mut steps = 0;
            while let Some(Ty::Named(j)) = self.types.defs.get(end) {
                if steps > decls.len() {
                    break;
                }
                end = *j;
                steps += 1;
            }
            if steps > 1 && steps <= decls.len() {
                self.types.defs[i] = Ty::Named(end);
            }
        }
        self.check_unions();
    }

    pub(crate) fn type_expr(&mut self, te: &ast::TypeExpr) -> Ty {
        let ty = match &te.kind {
            TypeExprKind::Name(id) => match id.name.as_str() {
                "String" => Ty::String,
                "Int" => Ty::Int,
                "Float" => Ty::Float,
                "Decimal" => Ty::Decimal,
                "Bool" => Ty::Bool,
                "Date" => Ty::Date,
                "DateTime" => Ty::DateTime,
                "Json" => Ty::Json,
                _ => match self.names.get(&id.name) {
                    Some(r) if r.kind == NameKind::Type => {
                        self.names.mark_used(NameKind::Type, r.index);
                        self.note_use(r, id.span);
                        Ty::Named(r.index)
                    }
                    _ if self.broken_name(&id.name) => Ty::Error,
                    _ if !self.names.contains(&id.name) => {
                        let help = match builtin_type_spelling(&id.name) {
                            Some(ours) => flow_diagnostics::Help::from(format!(
                                "the built-in type is spelt `{ours}` (type names start with a capital letter)"
                            ))
                            .with_fix(flow_diagnostics::Fix::replace(id.span, ours)),
                            None => {
                                let mut candidates = self.global_candidates(|s| s == Sort::Type);
                                candidates
                                    .extend(BUILTIN_TYPES.iter().map(|t| Candidate::new(t, Sort::BuiltinType, true)));
                                self.meant_help(&id.name, id.span, &candidates, None, || {
                                    format!(
                                        "no type, declared or built in, has a name close to `{0}`; declare it with `type {0} {{ … }}`",
                                        id.name
                                    )
                                })
                            }
                        };
                        self.report(
                            Diagnostic::new(codes::UNKNOWN_TYPE, format!("unknown type `{}`", id.name))
                                .primary(id.span, "no type of this name")
                                .help(help),
                        );
                        Ty::Error
                    }
                    _ => {
                        self.resolve_global(id, NameKind::Type, codes::UNKNOWN_TYPE);
                        Ty::Error
                    }
                },
            },
            TypeExprKind::Formed(call) if crate::derive::is_derivation(call) => self.misplaced_derivation(call),
            TypeExprKind::Formed(call) => self.formed_type(call),
            TypeExprKind::Literal(s) => Ty::Union(vec![s.clone()].into()),
            TypeExprKind::Union(members) if !members.iter().any(|m| matches!(m.kind, TypeExprKind::Literal(_))) => {
                let tys = members.iter().map(|m| self.type_expr(m)).collect();
                self.union_of(tys, te.span, members.iter().map(|m| m.span).collect())
            }
            TypeExprKind::Union(members) => {
                let mut out: Vec<String> = Vec::new();
                let mut ok = true;
                for m in members {
                    match &m.kind {
                        TypeExprKind::Literal(s) if !m.nullable => {
                            if !out.contains(s) {
                                out.push(s.clone());
                            }
                        }
                        _ => {
                            ok = false;
                            self.report(
                                Diagnostic::new(codes::BAD_UNION, "union members must be string literals")
                                    .primary(m.span, "not a string literal")
                                    .help("unions list the strings a field may hold: `\"open\" | \"closed\"`; for other values use one type, made nullable with `?` if needed"),
                            );
                        }
                    }
                }
                if ok {
                    Ty::Union(out.into())
                } else {
                    Ty::Error
                }
            }
            TypeExprKind::Array(inner) => Ty::Array(Rc::new(self.type_expr(inner))),
            TypeExprKind::Dict { key, value } => {
                self.dict_key(key);
                Ty::Dict(Rc::new(self.type_expr(value)))
            }
            TypeExprKind::Object(fields) => {
                if fields.is_empty() {
                    self.keeps_nothing(te.span);
                }
                let mut out: Vec<FieldTy> = Vec::new();
                let mut seen: Vec<(&str, Span)> = Vec::new();
                let top = self.fields.top_object.take() == Some(te.span);
                for f in fields {
                    if f.sensitive && !top {
                        self.not_a_type_field(f);
                    }
                    if let Some((_, first)) = seen.iter().find(|(n, _)| *n == f.name.name) {
                        self.report(twice(
                            Again::Declared,
                            &format!("field `{}`", f.name.name),
                            f.name.span,
                            Some(*first),
                            "remove one of the two declarations",
                        ));
                        continue;
                    }
                    seen.push((&f.name.name, f.name.span));
                    let mut ty = self.type_expr(&f.ty);
                    if f.present && (f.optional || f.ty.nullable) {
                        self.present_and_absent(f);
                    }
                    // Absent reads as null: an optional field's value is handled like a nullable
                    // one; `T | null` may be null too (it is only never absent).
                    if (f.optional || f.present) && !matches!(ty, Ty::Nullable(_) | Ty::Error) {
                        ty = Ty::Nullable(Rc::new(ty));
                    }
                    out.push(FieldTy { name: f.name.name.clone(), ty, optional: f.optional, present: f.present });
                }
                let out: Rc<[FieldTy]> = out.into();
                if !top {
                    let names = seen.iter().map(|(n, s)| (n.to_string(), *s)).collect();
                    self.fields.declare_inline(&out, names);
                }
                Ty::Object(out)
            }
        };
        if te.nullable && !matches!(ty, Ty::Nullable(_) | Ty::Error) {
            Ty::Nullable(Rc::new(ty))
        } else {
            ty
        }
    }
}

impl Checker<'_> {
    /// `sensitive` on a field of an object type written inline (in another type, an endpoint,
    /// a map's signature): masking follows the declared `type`s a record is read as, so the mark
    /// goes on a field of a `type` declaration.
    /// E0228: `name?: T | null` or `name: T? | null`: `| null` says the field is always there,
    /// the `?` that it may be absent.
    fn present_and_absent(&mut self, f: &ast::FieldDecl) {
        let (mark, how) = if f.optional {
            (f.name.span, "the `?` after the name lets it be absent")
        } else {
            (f.ty.span, "the `?` of this type lets it be absent")
        };
        self.report(
            Diagnostic::new(
                codes::PRESENT_AND_ABSENT,
                format!("field `{}` is declared both always present (`| null`) and maybe absent (`?`)", f.name.name),
            )
            .primary(mark, how)
            .secondary(f.span, "`| null` says it is always present, maybe null")
            .help(format!(
                "write `{0}: T | null` when the API always writes the field, or `{0}?: T` (or `{0}: T?`) when it may leave it out",
                f.name.name
            )),
        );
    }

    fn not_a_type_field(&mut self, f: &ast::FieldDecl) {
        let mark = Span::new(f.span.start as usize, f.name.span.start as usize);
        self.report(
            Diagnostic::new(
                codes::SENSITIVE_INLINE,
                format!("`sensitive` on field `{}` of an inline object type", f.name.name),
            )
            .primary(mark, "only a field of a `type` declaration can be sensitive")
            .help("declare the object as its own `type` (`type Address { sensitive street: String }`) and use it by name here"),
        );
    }
}

/// A type as written in the source (an inline object as `{ … }`), for editors.
fn written(ty: &ast::TypeExpr) -> String {
    let inner = match &ty.kind {
        TypeExprKind::Name(id) => id.name.clone(),
        TypeExprKind::Literal(s) => format!("{s:?}"),
        TypeExprKind::Union(m) => m.iter().map(written).collect::<Vec<_>>().join(" | "),
        TypeExprKind::Array(t) => format!("[{}]", written(t)),
        TypeExprKind::Object(_) => "{ … }".into(),
        TypeExprKind::Formed(call) => crate::forms::written(call),
        TypeExprKind::Dict { value, .. } => format!("{{ [String]: {} }}", written(value)),
    };
    if ty.nullable {
        format!("{inner}?")
    } else {
        inner
    }
}

/// The fields of the object types written inline in field `f` of type `owner` (through `?`,
/// arrays and dictionaries): `Owner.field.inner`, the first of each name, for editors.
impl Checker<'_> {
    /// The record's fields of the written object types (`Info::field_decls`, for editors only):
    /// each type's fields, the first of each name, each after the fields of the object types
    /// written inline in it. Taken from the last check when a re-check has them (they depend on
    /// the type declarations alone, which an edit of a body does not change).
    pub(crate) fn record_field_decls(&mut self) {
        if !self.record {
            return;
        }
        if self.take_field_decls() {
            return;
        }
        let mut out = Vec::new();
        for (i, d) in self.decls.types.decls().enumerate() {
            if self.derived.is_derived(i) {
                continue;
            }
            let TypeExprKind::Object(fields) = &d.ty.kind else { continue };
            let mut seen: Vec<&str> = Vec::new();
            for f in fields {
                inline_field_decls(&d.name.name, f, &mut out);
                if seen.contains(&f.name.name.as_str()) {
                    continue;
                }
                seen.push(&f.name.name);
                out.push(FieldDecl {
                    name_span: f.name.span,
                    span: f.span,
                    path: format!("{}.{}", d.name.name, flow_syntax::lex::key(&f.name.name)),
                    optional: f.optional,
                    sensitive: f.sensitive,
                    written: if f.present { format!("{} | null", written(&f.ty)) } else { written(&f.ty) },
                });
            }
        }
        self.info.field_decls = out;
    }
}

fn inline_field_decls(owner: &str, f: &ast::FieldDecl, out: &mut Vec<FieldDecl>) {
    let path = format!("{owner}.{}", flow_syntax::lex::key(&f.name.name));
    let mut te = &f.ty;
    loop {
        match &te.kind {
            TypeExprKind::Array(inner) => te = inner,
            TypeExprKind::Dict { value, .. } => te = value,
            _ => break,
        }
    }
    let TypeExprKind::Object(fields) = &te.kind else { return };
    let mut seen: Vec<&str> = Vec::new();
    for inner in fields {
        if seen.contains(&inner.name.name.as_str()) {
            continue;
        }
        seen.push(&inner.name.name);
        out.push(FieldDecl {
            name_span: inner.name.span,
            span: inner.span,
            path: format!("{path}.{}", flow_syntax::lex::key(&inner.name.name)),
            optional: inner.optional,
            sensitive: inner.sensitive,
            written: if inner.present { format!("{} | null", written(&inner.ty)) } else { written(&inner.ty) },
        });
        inline_field_decls(&path, inner, out);
    }
}

/// Another language's name of a built-in type (`string`, `int`, `boolean`, `timestamp`): flow's.
fn builtin_type_spelling(name: &str) -> Option<&'static str> {
    Some(match name {
        "string" | "str" | "text" => "String",
        "int" | "integer" | "long" | "i32" | "i64" | "Integer" => "Int",
        "bool" | "boolean" | "Boolean" => "Bool",
        "float" | "double" | "f64" | "Double" => "Float",
        "decimal" => "Decimal",
        "date" => "Date",
        "datetime" | "timestamp" | "Timestamp" | "Datetime" => "DateTime",
        _ => return None,
    })
}
