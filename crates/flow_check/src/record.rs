//! Filling the fields of a declared object type: the one routine behind a map's body and an
//! object literal checked against an object type. Spreads provide fields, each field is set once
//! and checked against its declared type (E0206 set twice, E0204 not a field), and the required
//! fields left unset are E0205, named by the map or pointed at the literal.

use std::rc::Rc;

use flow_diagnostics::{codes, suggest, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast;

use crate::expr::{field_help, Expect};
use crate::names::{twice, Again};
use crate::scope::Scope;
use crate::ty::FieldTy;
use crate::{Checker, NameKind};

/// The help for a field set twice, in a map body and in any object literal.
pub(crate) const SET_ONCE: &str = "set each field once; combine the two values with `if … then … else` or `??`";

/// The declared object type being filled.
pub(crate) struct Target {
    /// Its fields; empty when the type is not an object (already reported).
    pub fields: Rc<[FieldTy]>,
    /// Its type declaration, for "expected because of this" and editors.
    pub index: Option<usize>,
    /// The type as diagnostics show it.
    pub name: String,
    /// False when the type is not an object (already reported): then no field is unknown.
    pub known: bool,
}

/// What is being filled, for the diagnostics about the whole.
pub(crate) enum Site<'x> {
    /// The body of map `name`, whose return type is written at `ret`.
    MapBody { name: &'x ast::Ident, ret: Span },
    /// An object literal at `span`, which is `what` (`field \`customer\` of \`Order\``).
    Literal { span: Span, what: &'x str },
}

/// One item of a map body or an object literal (a literal has no `let`s).
pub(crate) enum Item<'x> {
    Let(&'x ast::Let),
    Spread(&'x ast::Expr),
    Field(&'x ast::Ident, &'x ast::Expr),
}

/// One item, checked, in source order.
pub(crate) enum Part {
    Let(String, plan::Expr),
    Spread(plan::Expr),
    Field(String, plan::Expr),
}

impl Checker<'_> {
    /// Checks `items` as the fields of `target`, in order, and reports the required fields no
    /// item sets.
    pub(crate) fn fill_record<'x>(
        &mut self,
        target: &Target,
        site: &Site<'_>,
        items: impl IntoIterator<Item = Item<'x>>,
        scope: &mut Scope,
    ) -> Vec<Part> {
        let mut parts = Vec::new();
        // Fields set by name, and fields a spread provides (those count as set too).
        let mut set: Vec<(&str, Span)> = Vec::new();
        let mut provided: Vec<String> = Vec::new();
        // Fields an unknown field's did-you-mean names: not also reported missing (E0205), since
        // the one fix (the name corrected) mends both.
        let mut meant: Vec<String> = Vec::new();
        for item in items {
            match item {
                Item::Let(l) => {
                    let (ty, value) = self.let_value(l, scope);
                    if scope.contains(&l.name.name) {
                        self.shadowing(&l.name);
                    }
                    self.bind(scope, &l.name.name, l.name.span, ty, NameKind::Let);
                    parts.push(Part::Let(l.name.name.clone(), value));
                }
                Item::Spread(e) => {
                    let (fields, value) = self.spread(e, scope);
                    for f in fields.iter() {
                        self.spread_field(target, e, f, &mut provided);
                    }
                    parts.push(Part::Spread(value));
                }
                Item::Field(name, value) => {
                    if let Some((_, first)) = set.iter().find(|(n, _)| *n == name.name) {
                        self.report(twice(
                            Again::Set,
                            &format!("field `{}`", name.name),
                            name.span,
                            Some(*first),
                            SET_ONCE,
                        ));
                        continue;
                    }
                    set.push((&name.name, name.span));
                    if let Some(value) = self.record_field(target, site, &set, &mut meant, name, value, scope) {
                        parts.push(Part::Field(name.name.clone(), value));
                    }
                }
            }
        }
        let missing: Vec<&str> = target
            .fields
            .iter()
            .filter(|t| {
                !set.iter().any(|(s, _)| *s == t.name)
                    && !provided.contains(&t.name)
                    && !meant.contains(&t.name)
                    && (t.present || !self.types.is_nullable(&t.ty))
            })
            .map(|t| t.name.as_str())
            .collect();
        if !missing.is_empty() {
            self.missing_fields(target, site, &missing);
        }
        parts
    }

    /// A field a spread brings: checked against the target's field of that name, or reported
    /// when the target has none.
    fn spread_field(&mut self, target: &Target, spread: &ast::Expr, f: &FieldTy, provided: &mut Vec<String>) {
        let name = &target.name;
        match target.fields.iter().find(|t| t.name == f.name) {
            Some(t) => {
                if let Err(m) = self.types.assignable(&f.ty, &t.ty) {
                    let expect = Expect {
                        ty: t.ty.clone(),
                        origin: self.field_origin(target, &t.name),
                        what: format!("field `{}` of `{name}` (from this spread)", t.name),
                    };
                    self.mismatch(spread, &f.ty, &expect, &m);
                }
                provided.push(f.name.clone());
            }
            None if target.known => self.report(
                Diagnostic::new(
                    codes::EXTRA_FIELD,
                    format!("the spread brings field `{}`, which `{name}` does not have", f.name),
                )
                .primary(spread.span, format!("this has `{}`", f.name))
                .help(format!("set the fields one by one, or spread a value whose fields `{name}` all has")),
            ),
            None => {}
        }
    }

    /// `name: value` (or `name = value`): checked against the target's field, or reported when
    /// the target has no such field (its value is still checked, for the errors inside it).
    // The fields set so far and those a did-you-mean named are the fill's running state.
    #[allow(clippy::too_many_arguments)]
    fn record_field(
        &mut self,
        target: &Target,
        site: &Site<'_>,
        set: &[(&str, Span)],
        meant: &mut Vec<String>,
        name: &ast::Ident,
        value: &ast::Expr,
        scope: &mut Scope,
    ) -> Option<plan::Expr> {
        let type_name = &target.name;
        match target.fields.iter().find(|t| t.name == name.name) {
            Some(t) => {
                self.note_field(target.index, &t.name, name.span);
                let expect = Expect {
                    ty: t.ty.clone(),
                    origin: self.field_origin(target, &t.name),
                    what: format!("field `{}` of `{type_name}`", t.name),
                };
                Some(self.check_against(value, &expect, scope))
            }
            None if target.known => {
                let unset = target.fields.iter().map(|t| t.name.as_str()).filter(|n| !set.iter().any(|(s, _)| s == n));
                meant.extend(suggest(&name.name, unset.clone()).map(str::to_string));
                let help = field_help(name.span, &name.name, unset, &format!("`{type_name}`"), &target.fields);
                let mut d = Diagnostic::new(codes::EXTRA_FIELD, format!("`{type_name}` has no field `{}`", name.name))
                    .primary(name.span, "not a field of the target type");
                if let Site::MapBody { ret, .. } = site {
                    d = d.secondary(*ret, format!("the map returns `{type_name}`"));
                }
                self.report(d.help(help));
                self.infer(value, scope);
                None
            }
            None => {
                self.infer(value, scope);
                None
            }
        }
    }

    /// Where field `name` of the target is declared.
    fn field_origin(&self, target: &Target, name: &str) -> Option<Span> {
        target.index.and_then(|i| self.fields.decl(i, name))
    }

    /// E0205: required fields of the target that nothing sets.
    fn missing_fields(&mut self, target: &Target, site: &Site<'_>, missing: &[&str]) {
        let type_name = &target.name;
        let listed = |f: &dyn Fn(&str) -> String| missing.iter().map(|m| f(m)).collect::<Vec<_>>().join(", ");
        let d = match site {
            Site::MapBody { name, ret } => {
                let one = missing.len() == 1;
                Diagnostic::new(
                    codes::MISSING_FIELD,
                    format!(
                        "map `{}` does not set {} of `{type_name}`",
                        name.name,
                        if one { "required field" } else { "required fields" }
                    ),
                )
                .primary(name.span, format!("missing {}", listed(&|m| format!("`{m}`"))))
                .secondary(*ret, format!("`{type_name}` requires {}", if one { "it" } else { "them" }))
                .help(format!("add {}", listed(&|m| format!("`{m} = …`"))))
            }
            Site::Literal { span, what } => Diagnostic::new(
                codes::MISSING_FIELD,
                format!("{what} misses {} of `{type_name}`", listed(&|m| format!("`{m}`"))),
            )
            .primary(*span, "this object")
            .help(format!("add {}", listed(&|m| format!("`{m}: …`")))),
        };
        self.report(d);
    }
}
