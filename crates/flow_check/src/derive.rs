//! Type derivations: `type UserSummary = pick(User, id, login)`, `omit(User, password)`,
//! `partial(User)` (every field optional), nested (`partial(pick(User, id, email))`). A
//! derivation is the whole right side of a `type` declaration and gives an ordinary object
//! type: the base's fields (in the base's order) with their types, optionality and `sensitive`
//! marks, each field's declaration the base's (so "expected because of this", go to definition
//! and rename lead to the field where it is written). Derived types are resolved after the
//! others, each after its base (an explicit worklist, no recursion as deep as a chain of them),
//! so a derivation may name a type declared after it.
//! E0238 a field the base does not have, E0239 a base that is not an object type, E0240 a
//! derivation miswritten or outside a `type` declaration, E0241 derivations in a cycle, W0016 a
//! field named twice.

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_syntax::ast::{self, ExprKind, TypeExprKind};

use crate::expr::field_help;
use crate::ty::{FieldTy, Ty};
use crate::Checker;

/// The derivations' names.
pub(crate) const DERIVATIONS: [&str; 3] = ["pick", "omit", "partial"];

/// Where each declared type stands in being derived, by the type's index.
#[derive(Default)]
pub(crate) struct Derivations {
    state: Vec<State>,
    /// Each derived type's fields as they are in it (`UserPatch.login?: String`), by the
    /// type's index and the field's name: what a hover on a use of one shows.
    shown: std::collections::HashMap<(usize, String), String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not a derivation: resolved in declaration order.
    Written,
    Pending,
    InProgress,
    Done,
}

/// One field of a derived type, with the declared type whose declaration holds it.
struct Derived {
    field: FieldTy,
    from: Option<usize>,
}

/// Whether a call written as a type is a derivation (`pick(…)`, `omit(…)`, `partial(…)`).
pub(crate) fn is_derivation(call: &ast::Expr) -> bool {
    matches!(&call.kind, ExprKind::Call { callee, .. } if DERIVATIONS.contains(&callee.name.as_str()))
}

/// Whether a `type` declaration's right side is a derivation.
pub(crate) fn declares_derivation(d: &ast::TypeDecl) -> bool {
    matches!(&d.ty.kind, TypeExprKind::Formed(call) if is_derivation(call))
}

impl Derivations {
    /// Field `name` of derived type `i` as it is in that type, if `i` is derived.
    pub(crate) fn shown(&self, i: usize, name: &str) -> Option<&str> {
        self.shown.get(&(i, name.to_string())).map(String::as_str)
    }

    /// Whether type `i` is derived (and so resolved by [`Checker::derive_type`], not in order).
    pub(crate) fn is_derived(&self, i: usize) -> bool {
        self.state.get(i).is_some_and(|s| *s != State::Written)
    }
}

impl Checker<'_> {
    /// Marks which declared types are derived; called before any type is resolved.
    pub(crate) fn note_derivations(&mut self, decls: &[&ast::TypeDecl]) {
        self.derived.state =
            decls.iter().map(|d| if declares_derivation(d) { State::Pending } else { State::Written }).collect();
    }

    /// Resolves every derived type not yet resolved (after the written ones). Each one's base is
    /// resolved before it, through an explicit worklist, so a chain of derived types each based on
    /// one declared later (`type T0 = partial(T1)`, `type T1 = partial(T2)`, …) is resolved
    /// without recursion as deep as the chain. A type on the worklist is `InProgress`, so a cycle
    /// is found (and reported, E0241) as when the recursion met it.
    pub(crate) fn derive_types(&mut self, decls: &[&ast::TypeDecl]) {
        for i in 0..decls.len() {
            if self.derived.state[i] != State::Pending {
                continue;
            }
            self.derived.state[i] = State::InProgress;
            let mut work = vec![i];
            while let Some(&t) = work.last() {
                match self.derived_base(t, decls) {
                    Some(d) if self.derived.state[d] == State::Pending => {
                        self.derived.state[d] = State::InProgress;
                        work.push(d);
                    }
                    _ => {
                        work.pop();
                        self.derived.state[t] = State::Pending;
                        self.derive_type(t, decls);
                    }
                }
            }
        }
    }

    /// The derived type that derived type `i`'s derivation needs resolved first: the type its
    /// innermost base names, followed through aliases written with `=`. Looks only, reports nothing.
    fn derived_base(&self, i: usize, decls: &[&ast::TypeDecl]) -> Option<usize> {
        let TypeExprKind::Formed(call) = &decls[i].ty.kind else { return None };
        let mut call: &ast::Expr = call;
        let id = loop {
            let ExprKind::Call { args, .. } = &call.kind else { return None };
            match args.first().map(|a| &a.value) {
                Some(inner) if is_derivation(inner) => call = inner,
                Some(ast::Expr { kind: ExprKind::Name(id), .. }) => break id,
                _ => return None,
            }
        };
        let r = self.names.get(&id.name).filter(|r| r.kind == crate::NameKind::Type)?;
        let mut j = r.index;
        for _ in 0..=decls.len() {
            match (self.derived.state.get(j), self.types.defs.get(j)) {
                (Some(State::Written), Some(Ty::Named(k))) => j = *k,
                (Some(State::Written), _) => return None,
                _ => return Some(j),
            }
        }
        None
    }

    /// Resolves derived type `i` if it is one and is not resolved yet; `false` when it is being
    /// resolved already (a cycle).
    fn derive_type(&mut self, i: usize, decls: &[&ast::TypeDecl]) -> bool {
        match self.derived.state.get(i) {
            Some(State::Pending) => {}
            Some(State::InProgress) => return false,
            _ => return true,
        }
        self.derived.state[i] = State::InProgress;
        let d = decls[i];
        let TypeExprKind::Formed(call) = &d.ty.kind else { return true };
        let ty = match self.derivation(call, decls) {
            Some(fields) => {
                if fields.is_empty() {
                    self.keeps_nothing(call.span);
                }
                let mut shown = Vec::new();
                let mut resolved = Vec::new();
                for f in &fields {
                    let name = &f.field.name;
                    resolved.push(crate::DerivedField {
                        name: name.clone(),
                        declared: f.from.and_then(|b| self.fields.name_span(b, name)),
                        optional: f.field.optional,
                        present: f.field.present,
                    });
                    if let Some(b) = f.from {
                        if let (Some(decl), Some(name_span)) =
                            (self.fields.decl(b, name), self.fields.name_span(b, name))
                        {
                            self.fields.declare(i, name, decl, name_span);
                        }
                        let sensitive = self.fields.sensitive.iter().any(|(t, n)| *t == b && n == name);
                        if sensitive && !self.fields.sensitive.iter().any(|(t, n)| *t == i && n == name) {
                            self.fields.sensitive.push((i, name.clone()));
                        }
                    }
                    let mark = if f.field.optional { "?" } else { "" };
                    let ty = match &f.field.ty {
                        // `name?: T` is shown as written, not as `T?`; so is `name: T | null`.
                        Ty::Nullable(inner) if f.field.optional => self.types.display(inner),
                        Ty::Nullable(inner) if f.field.present => format!("{} | null", self.types.display(inner)),
                        t => self.types.display(t),
                    };
                    shown.push(format!("{}{mark}: {ty}", flow_syntax::lex::key(name)));
                    let sensitive = self.fields.sensitive.iter().any(|(t, n)| *t == i && n == name);
                    let sensitive = if sensitive { "sensitive " } else { "" };
                    self.derived.shown.insert(
                        (i, name.clone()),
                        format!("{sensitive}{}.{}{mark}: {ty}", d.name.name, flow_syntax::lex::key(name)),
                    );
                }
                self.info.derived_types.push((d.name.span, format!("{{ {} }}", shown.join(", "))));
                self.info.derived_fields.push((d.name.span, resolved));
                let ty = Ty::Object(fields.into_iter().map(|f| f.field).collect::<Vec<_>>().into());
                if d.ty.nullable {
                    Ty::Nullable(Rc::new(ty))
                } else {
                    ty
                }
            }
            None => Ty::Error,
        };
        self.types.defs[i] = ty;
        self.derived.state[i] = State::Done;
        true
    }

    /// The fields a derivation gives; `None` when it was reported.
    fn derivation(&mut self, call: &ast::Expr, decls: &[&ast::TypeDecl]) -> Option<Vec<Derived>> {
        let ExprKind::Call { callee, args } = &call.kind else { return None };
        let kind = callee.name.as_str();
        let refused = args.iter().any(|a| a.name.is_some())
            || args.is_empty()
            || match kind {
                "partial" => args.len() > 1,
                _ => args.len() < 2,
            };
        if refused {
            // Miswritten, so never resolved; its base is still used by it (no W0001 for it).
            self.use_base(call);
        }
        if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
            self.miswritten(named.span, format!("`{kind}` takes no named arguments"), "not a type or a field name");
            return None;
        }
        let Some((base, names)) = args.split_first() else {
            self.miswritten(call.span, format!("`{kind}` needs the type it derives from"), "no type given");
            return None;
        };
        match kind {
            "partial" if !names.is_empty() => {
                self.miswritten(
                    names[0].value.span,
                    "`partial` takes only the type it derives from".into(),
                    "every field becomes optional; pick fields with `pick` first",
                );
                return None;
            }
            "pick" | "omit" if names.is_empty() => {
                self.miswritten(call.span, format!("`{kind}` needs at least one field name"), "no field named");
                return None;
            }
            _ => {}
        }
        let (fields, owner) = self.derivation_base(&base.value, decls)?;
        let mut named: Vec<(&str, Span)> = Vec::new();
        let mut ok = true;
        let mut previous_end = base.value.span.end as usize;
        for a in names {
            let after = std::mem::replace(&mut previous_end, a.value.span.end as usize);
            let name = match &a.value.kind {
                ExprKind::Name(id) => id.name.as_str(),
                ExprKind::Str(s) => s.as_str(),
                _ => {
                    self.miswritten(
                        a.value.span,
                        format!("`{kind}` takes field names after the type"),
                        "not a field name",
                    );
                    ok = false;
                    continue;
                }
            };
            if let Some((_, first)) = named.iter().find(|(n, _)| *n == name) {
                let first = *first;
                self.named_twice(kind, name, a.value.span, first, Span::new(after, a.value.span.end as usize));
                continue;
            }
            match fields.iter().find(|f| f.field.name == name) {
                Some(f) => {
                    let from = f.from;
                    self.note_field(from, name, a.value.span);
                    named.push((name, a.value.span));
                }
                None => {
                    // What an editor completes there: the fields there are to name.
                    let choices =
                        fields.iter().map(|f| (f.field.name.clone(), self.types.display(&f.field.ty))).collect();
                    self.info.field_choices.push((a.value.span, choices));
                    let plain: Vec<FieldTy> = fields.iter().map(|f| f.field.clone()).collect();
                    // The name meant, written as an argument must be (`"in"` quoted).
                    let help = match flow_diagnostics::suggest(name, plain.iter().map(|f| f.name.as_str())) {
                        Some(s) => flow_diagnostics::did_you_mean(a.value.span, &flow_syntax::lex::argument_key(s)),
                        None => field_help(
                            a.value.span,
                            name,
                            plain.iter().map(|f| f.name.as_str()),
                            &format!("`{owner}`"),
                            &plain,
                        ),
                    };
                    self.report(
                        Diagnostic::new(
                            codes::DERIVED_FIELD_UNKNOWN,
                            format!("`{owner}` has no field `{}`", flow_syntax::lex::key(name)),
                        )
                        .primary(a.value.span, format!("not a field of `{owner}`"))
                        .help(help),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let out = match kind {
            "pick" => fields.into_iter().filter(|f| named.iter().any(|(n, _)| *n == f.field.name)).collect(),
            "omit" => fields.into_iter().filter(|f| !named.iter().any(|(n, _)| *n == f.field.name)).collect(),
            _ => fields
                .into_iter()
                .map(|mut f| {
                    if !matches!(f.field.ty, Ty::Nullable(_) | Ty::Error) {
                        f.field.ty = Ty::Nullable(Rc::new(f.field.ty));
                    }
                    // Every field may be absent now: one that was always present is no longer.
                    f.field.optional = true;
                    f.field.present = false;
                    f
                })
                .collect(),
        };
        Some(out)
    }

    /// The fields of what a derivation derives from (a type's name, or another derivation),
    /// with the name to call it by in messages.
    fn derivation_base(&mut self, base: &ast::Expr, decls: &[&ast::TypeDecl]) -> Option<(Vec<Derived>, String)> {
        let id = match &base.kind {
            ExprKind::Name(id) => id,
            ExprKind::Call { callee, args } if is_derivation(base) => {
                let fields = self.derivation(base, decls)?;
                let root = match args.first().map(|a| &a.value.kind) {
                    Some(ExprKind::Name(id)) => id.name.as_str(),
                    _ => "…",
                };
                return Some((fields, format!("{}({root}, …)", callee.name)));
            }
            _ => {
                self.miswritten(
                    base.span,
                    "a derivation starts with the type it derives from".into(),
                    "not a type name",
                );
                return None;
            }
        };
        let named = ast::TypeExpr { kind: TypeExprKind::Name(id.clone()), nullable: false, span: id.span };
        let mut ty = self.type_expr(&named);
        let mut from = None;
        // Through aliases to the object, resolving derived types on the way when first needed.
        for _ in 0..=decls.len() {
            let Ty::Named(j) = ty else { break };
            if !self.derive_type(j, decls) {
                self.report(
                    Diagnostic::new(
                        codes::DERIVATION_CYCLE,
                        format!("type `{}` is derived from itself", decls[j].name.name),
                    )
                    .primary(id.span, "this leads back to the type being derived")
                    .secondary(decls[j].name.span, "derived here")
                    .help("derive both types from a type written with its fields"),
                );
                return None;
            }
            from = Some(j);
            ty = self.types.defs.get(j).cloned().unwrap_or(Ty::Error);
        }
        match ty {
            // An alias chain that does not end (`type X = Y`, `type Y = X`) is reported as the
            // aliases' cycle (E0213); nothing more to say here.
            Ty::Error | Ty::Named(_) => None,
            Ty::Object(fields) => {
                Some((fields.iter().map(|f| Derived { field: f.clone(), from }).collect(), id.name.clone()))
            }
            other => {
                let shown = self.types.display(&other);
                self.report(
                    Diagnostic::new(
                        codes::DERIVED_NOT_OBJECT,
                        format!("`{}` is not an object type, so no type can be derived from it", id.name),
                    )
                    .primary(id.span, format!("this is `{shown}`"))
                    .help("`pick`, `omit` and `partial` take an object type declared with its fields (`type User { id: Int }`)"),
                );
                None
            }
        }
    }

    /// A derivation written where none can be: anywhere but the whole right side of a `type`
    /// declaration (its fields' `sensitive` marks belong to a declared type).
    pub(crate) fn misplaced_derivation(&mut self, call: &ast::Expr) -> Ty {
        let ExprKind::Call { callee, .. } = &call.kind else { return Ty::Error };
        self.use_base(call);
        self.report(
            Diagnostic::new(
                codes::DERIVATION_MISWRITTEN,
                format!("`{}(…)` is written as the whole of a `type` declaration", callee.name),
            )
            .primary(call.span, "a derived type cannot be written here")
            .help(format!("declare it as its own type (`type Derived = {}(…)`) and use it by name here", callee.name)),
        );
        Ty::Error
    }

    /// Marks the declared type a refused derivation names as its innermost base as used (and
    /// records the use for editors), without resolving or reporting anything: the derivation's
    /// own error says what is wrong, and the base is not unused (W0001) for it.
    fn use_base(&mut self, mut call: &ast::Expr) {
        let id = loop {
            let ExprKind::Call { args, .. } = &call.kind else { return };
            match args.first().map(|a| &a.value) {
                Some(inner) if is_derivation(inner) => call = inner,
                Some(ast::Expr { kind: ExprKind::Name(id), .. }) => break id,
                _ => return,
            }
        };
        if let Some(r) = self.names.get(&id.name).filter(|r| r.kind == crate::NameKind::Type) {
            self.names.mark_used(crate::NameKind::Type, r.index);
            self.note_use(r, id.span);
        }
    }

    /// W0016: `pick(User, id, id)`: the second `id` says nothing; the fix removes it.
    fn named_twice(&mut self, kind: &str, name: &str, again: Span, first: Span, with_comma: Span) {
        let key = flow_syntax::lex::key(name);
        self.report(
            Diagnostic::new(codes::DERIVED_FIELD_TWICE, format!("`{kind}` names field `{key}` twice"))
                .primary(again, "named again here")
                .secondary(first, "first named here")
                .help(
                    flow_diagnostics::Help::from(format!("remove the second `{key}`"))
                        .with_fix(flow_diagnostics::Fix::replace(with_comma, "")),
                ),
        );
    }

    fn miswritten(&mut self, at: Span, message: String, label: &str) {
        self.report(Diagnostic::new(codes::DERIVATION_MISWRITTEN, message).primary(at, label.to_string()).help(
            "derivations are `pick(Type, field, …)`, `omit(Type, field, …)` and `partial(Type)`, nested as you like",
        ));
    }
}
