//! A flow's `state`: its durable incremental cursor (docs/language.md, "State").
//!
//! ```text
//! state since: DateTime = "2026-01-01T00:00:00Z" {
//!   from = record.updated_at   // the records' field that advances the cursor (required)
//!   key = record.id            // their identity: dedup of records at the cursor, within `lag`
//!   lag = 5m                   // lookback for late updates (DateTime cursors only)
//!   sorted = true              // the source returns records in cursor order
//!   checkpoint_every = 1000    // records between checkpoints
//!   checkpoint_interval = 5s   // time between checkpoints
//!   store_key = STATE_KEY      // the secret the state store is encrypted with
//! }
//! ```
//!
//! - `declare_state`: before the flow's steps: the declaration, its type and initial value, and
//!   `state` bound for the steps to read (`list_orders(updated_since: state.since)`).
//! - `finish_state`: after them: the one top-level `for` whose source reads it, and `from` and
//!   `key` against that source's record type.
//!
//! The flow's other hooks: `flow.rs` calls both, and reports a `state` inside a loop;
//! `expr.rs` reports `state` read where no state is declared.

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::scope::Scope;
use crate::ty::{FieldTy, Ty};
use crate::{Checker, NameKind};

/// The settings a flow's `state { … }` block takes, each with the line an editor shows for it.
pub const STATE_PROPERTIES: [(&str, &str); 7] = [
    ("from", "the record's value the cursor moves to, e.g. `record.updated_at`"),
    ("key", "the record's unique key, so a record seen at the cursor's edge is not sent twice"),
    ("lag", "how far behind the stored cursor the next run starts, e.g. `5m`"),
    ("sorted", "whether the source gives records in the cursor's order"),
    ("checkpoint_every", "how many settled records between checkpoints (1,000 when not set)"),
    ("checkpoint_interval", "the longest time between checkpoints, e.g. `30s`"),
    ("store_key", "the secret the state store is encrypted under"),
];

/// The name steps read the state by: `state.NAME`.
pub(crate) const STATE_VAR: &str = "state";

/// A state declaration checked on its own, waiting for the flow's steps.
pub(crate) struct Declared<'a> {
    decl: &'a ast::StateDecl,
    ty: Option<plan::CursorType>,
    initial: Option<plan::Value>,
    lag_ms: u64,
    sorted: bool,
    checkpoint_every: u64,
    checkpoint_interval_ms: u64,
    store_key: Option<String>,
}

impl Checker<'_> {
    /// The flow's state declaration, if any (a second one is reported), with `state` bound in
    /// `scope` for the steps.
    pub(crate) fn declare_state<'d>(&mut self, d: &'d ast::FlowDecl, scope: &mut Scope) -> Option<Declared<'d>> {
        let mut decls = d.body.iter().filter_map(|s| match s {
            ast::Stmt::State(st) => Some(st),
            _ => None,
        });
        let decl = decls.next()?;
        for again in decls {
            self.report(crate::names::twice_as(
                codes::STATE_PLACE,
                &format!("the state of flow `{}`", d.name.name),
                "declared",
                again.name.span,
                Some(decl.name.span),
                "a flow has one cursor: remove one of the declarations",
            ));
        }
        let ty = self.cursor_type(decl);
        let initial = ty.and_then(|t| self.initial_value(decl, t));
        let mut declared = Declared {
            decl,
            ty,
            initial,
            lag_ms: 0,
            sorted: false,
            checkpoint_every: plan::DEFAULT_CHECKPOINT_EVERY,
            checkpoint_interval_ms: plan::DEFAULT_CHECKPOINT_INTERVAL_MS,
            store_key: None,
        };
        self.no_repeated_properties(&decl.props);
        for p in &decl.props {
            self.state_property(p, &mut declared);
        }
        if !decl.props.iter().any(|p| p.name.name == "from") {
            self.report(
                Diagnostic::new(
                    codes::STATE_FROM,
                    format!("state `{}` does not say which field advances it", decl.name.name),
                )
                .primary(decl.name.span, "no `from`")
                .help("add `{ from = record.updated_at }`: the field of the source's records the cursor follows"),
            );
        }
        let field_ty = match ty {
            Some(plan::CursorType::DateTime) => Ty::DateTime,
            Some(plan::CursorType::Int) => Ty::Int,
            Some(plan::CursorType::String) => Ty::String,
            None => Ty::Error,
        };
        let fields: std::rc::Rc<[FieldTy]> =
            vec![FieldTy { name: decl.name.name.clone(), ty: field_ty, optional: false, present: false }].into();
        // Declared by the `state` keyword: go to definition of `state.since` lands there.
        let start = decl.span.start as usize;
        let keyword = Span::new(start, start + STATE_VAR.len());
        self.bind(scope, STATE_VAR, keyword, Ty::Object(fields), NameKind::State);
        Some(declared)
    }

    fn cursor_type(&mut self, decl: &ast::StateDecl) -> Option<plan::CursorType> {
        if let ast::TypeExprKind::Name(id) = &decl.ty.kind {
            if !decl.ty.nullable {
                match id.name.as_str() {
                    "DateTime" => return Some(plan::CursorType::DateTime),
                    "Int" => return Some(plan::CursorType::Int),
                    "String" => return Some(plan::CursorType::String),
                    _ => {}
                }
            }
        }
        self.report(
            Diagnostic::new(codes::STATE_TYPE, "a state cursor is a DateTime, an Int or a String")
                .primary(decl.ty.span, "not a cursor type")
                .help("declare it `DateTime` (an `updated_at`), `Int` (an increasing id or version) or `String` (an opaque token)"),
        );
        None
    }

    fn initial_value(&mut self, decl: &ast::StateDecl, ty: plan::CursorType) -> Option<plan::Value> {
        let e = &decl.initial;
        let value = match (&e.kind, ty) {
            (ExprKind::Str(s), plan::CursorType::DateTime) => {
                chrono::DateTime::parse_from_rfc3339(s).ok().map(plan::Value::DateTime)
            }
            (ExprKind::Str(s), plan::CursorType::String) => Some(plan::Value::Str(s.clone())),
            (ExprKind::Int(i), plan::CursorType::Int) => Some(plan::Value::Int(*i)),
            (ExprKind::Unary { op: ast::UnaryOp::Neg, expr }, plan::CursorType::Int) => match expr.kind {
                ExprKind::Int(i) => Some(plan::Value::Int(-i)),
                _ => None,
            },
            _ => None,
        };
        if value.is_none() {
            let example = match ty {
                plan::CursorType::DateTime => "\"2026-01-01T00:00:00Z\" (RFC 3339, with an offset)",
                plan::CursorType::Int => "0",
                plan::CursorType::String => "\"\"",
            };
            self.report(
                Diagnostic::new(
                    codes::STATE_INITIAL,
                    format!("the initial value of state `{}` is not {} literal", decl.name.name, article(ty)),
                )
                .primary(e.span, format!("not {}", article(ty)))
                .secondary(decl.ty.span, "the state's type")
                .help(format!("write the value a first run starts from, e.g. {example}")),
            );
        }
        value
    }

    fn state_property(&mut self, p: &ast::Property, declared: &mut Declared<'_>) {
        let bad = |what: &str, help: &str| {
            Diagnostic::new(codes::STATE_SETTING, format!("`{}` {what}", p.name.name))
                .primary(p.value.span, "not a valid value")
                .help(help.to_string())
        };
        match p.name.name.as_str() {
            // Read against the source's record type in `finish_state`.
            "from" | "key" => {}
            "lag" => match (p.value.kind.clone(), declared.ty) {
                (ExprKind::Duration(ms), Some(plan::CursorType::DateTime)) => declared.lag_ms = ms,
                (ExprKind::Duration(_), None) => {}
                (ExprKind::Duration(_), Some(t)) => self.report(
                    Diagnostic::new(codes::STATE_LAG, format!("a lag on {} cursor", article(t)))
                        .primary(p.span, "a lookback in time")
                        .secondary(declared.decl.ty.span, format!("the cursor is {}", article(t)))
                        .help("a lag looks back in time, so it takes a DateTime cursor; remove it"),
                ),
                _ => self.report(
                    Diagnostic::new(codes::STATE_LAG, "`lag` is a duration")
                        .primary(p.value.span, "not a duration")
                        .help("write how far back each run looks for late updates, e.g. `lag = 5m`"),
                ),
            },
            "sorted" => match p.value.kind {
                ExprKind::Bool(b) => declared.sorted = b,
                _ => self.report(bad(
                    "is `true` or `false`",
                    "write `sorted = true` when the source returns records in cursor order",
                )),
            },
            "checkpoint_every" => match p.value.kind {
                ExprKind::Int(n) if (1..=1_000_000_000).contains(&n) => declared.checkpoint_every = n as u64,
                _ => {
                    self.report(bad("is a whole number of records, at least 1", "write e.g. `checkpoint_every = 1000`"))
                }
            },
            "checkpoint_interval" => match p.value.kind {
                ExprKind::Duration(ms) if ms > 0 => declared.checkpoint_interval_ms = ms,
                _ => self.report(bad("is a duration longer than zero", "write e.g. `checkpoint_interval = 5s`")),
            },
            "store_key" => declared.store_key = self.store_key(p),
            _ => self.unknown_property(&p.name, "a state", &STATE_PROPERTIES.map(|(name, _)| name)),
        }
    }

    /// After the flow's steps: the state's plan, when it checks.
    pub(crate) fn finish_state(
        &mut self,
        d: &ast::FlowDecl,
        declared: Declared<'_>,
        body: &[plan::Step],
    ) -> Option<plan::FlowState> {
        let decl = declared.decl;
        // Which top-level `for`s read it in their source's arguments. Steps that failed to check
        // are missing from `body`; the AST's loops say where each plan step came from.
        let readers: Vec<(usize, &plan::EndpointCall, Span)> = body
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                plan::Step::For { source, span, .. }
                    if source.args.iter().any(|(_, e)| e.mentions(STATE_VAR))
                        || source.body.as_ref().is_some_and(|e| e.mentions(STATE_VAR)) =>
                {
                    Some((i, source, *span))
                }
                _ => None,
            })
            .collect();
        let (step, source) = match readers.as_slice() {
            [(i, source, _)] => (*i, *source),
            [] => {
                // A loop that did not check may have read it: nothing more to say then.
                if self.flow_loops_checked(d, body) {
                    self.report(
                        Diagnostic::new(codes::STATE_UNREAD, format!("no source of flow `{}` reads state `{}`", d.name.name, decl.name.name))
                            .primary(decl.name.span, "declared, never passed to a source")
                            .help(format!(
                                "pass it to the source of the flow's loop: `for x in list_items(updated_since: state.{}) {{ … }}`",
                                decl.name.name
                            )),
                    );
                }
                return None;
            }
            [_, (_, _, second), ..] => {
                self.report(
                    Diagnostic::new(
                        codes::STATE_UNREAD,
                        format!("state `{}` is read by more than one source", decl.name.name),
                    )
                    .primary(*second, "a second source reading it")
                    .secondary(decl.name.span, "the state")
                    .help("one cursor follows one source: split the flow in two, each with its own state"),
                );
                return None;
            }
        };
        let record_ty = self.decls.endpoints.sig(source.endpoint).and_then(|e| e.record);
        let from = decl.props.iter().find(|p| p.name.name == "from");
        let key = decl.props.iter().find(|p| p.name.name == "key");
        let from_path = match (from, &record_ty) {
            (Some(p), Some(rt)) => self.cursor_field(p, rt, &declared),
            _ => None,
        };
        let key_path = match (key, &record_ty) {
            (Some(p), Some(rt)) => self.key_field(p, rt),
            (None, _) => {
                self.report(
                    Diagnostic::new(codes::NO_STATE_KEY, format!("state `{}` has no `key`", decl.name.name))
                        .primary(decl.name.span, "records at exactly the cursor cannot be told apart")
                        .note("a source that filters with `>=` returns the records at the cursor again on the next run, and a `lag` returns every record of its window again")
                        .help("name the records' identity: `key = record.id`"),
                );
                None
            }
            _ => None,
        };
        if key.is_some() && key_path.is_none() {
            return None;
        }
        Some(plan::FlowState {
            name: decl.name.name.clone(),
            ty: declared.ty?,
            initial: declared.initial?,
            from: from_path?,
            key: key_path,
            lag_ms: declared.lag_ms,
            sorted: declared.sorted,
            checkpoint_every: declared.checkpoint_every,
            checkpoint_interval_ms: declared.checkpoint_interval_ms,
            store_key: declared.store_key,
            step,
            span: decl.span,
        })
    }

    /// `store_key = SECRET`: a declared secret (it counts as used), the same one every flow of
    /// the file names (the state store is the file's, with one key).
    fn store_key(&mut self, p: &ast::Property) -> Option<String> {
        let ExprKind::Name(id) = &p.value.kind else {
            // A quoted name (`store_key = "SHOP_KEY"`) is the name the help uses.
            let quoted = match &p.value.kind {
                ExprKind::Str(text) if is_name(text) => Some(text.as_str()),
                _ => None,
            };
            let name = quoted.unwrap_or("STATE_KEY");
            let declared = self.decls.secrets.decls().any(|d| d.name.name == name);
            let help = if declared {
                format!("write `store_key = {name}`, the secret's name without quotes; its value is read at run time")
            } else {
                format!("declare `secret {name}` and write `store_key = {name}`; its value (random, e.g. `openssl rand -base64 32`) is read at run time")
            };
            self.report(
                Diagnostic::new(codes::STORE_KEY_SECRET, "`store_key` names a secret")
                    .primary(p.value.span, "not the name of a secret")
                    .help(help),
            );
            return None;
        };
        let index = self.resolve_global(id, NameKind::Secret, codes::STORE_KEY_SECRET)?;
        let name = self.decls.secrets.decl(index).name.name.clone();
        match &self.store_key {
            Some((first, at)) if *first != name => {
                let (first, at) = (first.clone(), *at);
                self.report(
                    Diagnostic::new(
                        codes::STORE_KEY_TWICE,
                        format!("the state store's key is named twice: `{first}` and `{name}`"),
                    )
                    .primary(id.span, format!("`{name}` here"))
                    .secondary(at, format!("`{first}` here"))
                    .note("the flows of a file keep their state in one store, encrypted with one key")
                    .help(format!("name the same secret in every flow (`store_key = {first}`), or in one flow only")),
                );
                return None;
            }
            Some(_) => {}
            None => self.store_key = Some((name.clone(), id.span)),
        }
        Some(name)
    }

    /// Whether every top-level `for` of the flow made it into its plan.
    fn flow_loops_checked(&self, d: &ast::FlowDecl, body: &[plan::Step]) -> bool {
        let loops = d.body.iter().filter(|s| matches!(s, ast::Stmt::For(_))).count();
        loops == body.iter().filter(|s| matches!(s, plan::Step::For { .. })).count()
    }

    /// `record.a.b`: the path and the type it reaches in the record type, or a diagnostic.
    fn record_path(&mut self, p: &ast::Property, record_ty: &Ty) -> Option<(Vec<plan::Key>, Ty)> {
        let mut names = Vec::new();
        let mut e = &p.value;
        loop {
            match &e.kind {
                ExprKind::Field { base, name, optional: false } => {
                    names.push(name);
                    e = base;
                }
                ExprKind::Name(id) if id.name == "record" && !names.is_empty() => break,
                _ => {
                    self.report(
                        Diagnostic::new(
                            codes::STATE_FROM,
                            format!("`{}` is a field of the source's records", p.name.name),
                        )
                        .primary(p.value.span, "not a field path")
                        .help(format!("write the field as `{} = record.updated_at`", p.name.name)),
                    );
                    return None;
                }
            }
        }
        names.reverse();
        let mut ty = record_ty.clone();
        let mut path = Vec::new();
        for name in names {
            let owner = self.object_owner(&self.types.non_null(&ty));
            if let Some(i) = owner.filter(|i| self.fields.sensitive.iter().any(|(t, n)| t == i && *n == name.name)) {
                self.stored_sensitive(p, i, name);
            }
            let fields = match self.types.resolve(&self.types.non_null(&ty)) {
                Ty::Object(fields) => fields.clone(),
                Ty::Error => return None,
                _ => {
                    self.report(
                        Diagnostic::new(codes::STATE_FROM, format!("`{}` is not in an object", name.name))
                            .primary(name.span, "no fields here")
                            .help("name a field of the source's records"),
                    );
                    return None;
                }
            };
            let Some(f) = fields.iter().find(|f| f.name == name.name) else {
                // For editors: the fields offered after `record.`.
                let choices = fields.iter().map(|f| (f.name.clone(), self.types.display(&f.ty))).collect();
                self.info.field_choices.push((name.span, choices));
                let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                self.report(
                    Diagnostic::new(codes::STATE_FROM, format!("the source's records have no field `{}`", name.name))
                        .primary(name.span, "not a field of the records")
                        .help(format!("its fields: {}", known.join(", "))),
                );
                return None;
            };
            // For editors: `record.FIELD` is a use of the record type's field.
            let declared = self.named_index(&ty);
            self.note_field(declared, &name.name, name.span);
            if declared.is_none() {
                if let Some(decl) = self.fields.inline_name_span(&fields, &name.name) {
                    self.info.field_uses.push((name.span, decl));
                }
            }
            let nullable = self.types.is_nullable(&ty);
            ty = if f.optional || nullable {
                Ty::Nullable(std::rc::Rc::new(self.types.non_null(&f.ty)))
            } else {
                f.ty.clone()
            };
            path.push(plan::Key::new(&name.name));
        }
        Some((path, ty))
    }

    /// The declared type whose object `ty` is (through aliases), if it is one.
    fn object_owner(&self, ty: &Ty) -> Option<usize> {
        let mut ty = ty;
        let mut found = None;
        for _ in 0..64 {
            match ty {
                Ty::Named(i) => {
                    found = Some(*i);
                    ty = self.types.defs.get(*i)?;
                }
                _ => break,
            }
        }
        found
    }

    /// W0011: a `sensitive` field as a state's cursor or key has its values kept in the state
    /// store (the cursor, the boundary keys) and printed by `flowc state show`.
    fn stored_sensitive(&mut self, p: &ast::Property, ty: usize, field: &ast::Ident) {
        let owner = self.types.names.get(ty).cloned().unwrap_or_default();
        let what = if p.name.name == "from" { "cursor" } else { "dedup key" };
        self.report(
            Diagnostic::new(
                codes::SENSITIVE_STORED,
                format!(
                    "the sensitive field `{owner}.{}` is the state's {what}: its values are kept in the state store",
                    field.name
                ),
            )
            .primary(p.value.span, format!("stored as the {what}"))
            .note("the state store keeps cursors and boundary keys in plain text unless it is encrypted (`--state-key`), and `flowc state show` prints the cursor")
            .help("follow a field that is not sensitive (an id, an update time), or encrypt the store with `--state-key` and keep `flowc state show` output private"),
        );
    }

    fn cursor_field(&mut self, p: &ast::Property, record_ty: &Ty, declared: &Declared<'_>) -> Option<Vec<plan::Key>> {
        let (path, ty) = self.record_path(p, record_ty)?;
        let want = declared.ty?;
        let inner = self.types.non_null(&ty);
        let fits = matches!(
            (self.types.resolve(&inner), want),
            (Ty::DateTime, plan::CursorType::DateTime)
                | (Ty::Int, plan::CursorType::Int)
                | (Ty::String, plan::CursorType::String)
        );
        if !fits {
            let found = self.types.display(&inner);
            self.report(
                Diagnostic::new(
                    codes::STATE_FROM_TYPE,
                    format!("the cursor field is `{found}`, the state is {}", article(want)),
                )
                .primary(p.value.span, format!("this is `{found}`"))
                .secondary(declared.decl.ty.span, "the state's type")
                .help(format!("follow a field of type {} (a cursor is compared by its order)", want.name())),
            );
            return None;
        }
        if self.types.is_nullable(&ty) {
            self.report(
                Diagnostic::new(codes::NULLABLE_CURSOR, "the cursor field may be null or absent")
                    .primary(p.value.span, "may have no value")
                    .help("a record without it is delivered but does not advance the cursor; follow a field every record has"),
            );
        }
        Some(path)
    }

    fn key_field(&mut self, p: &ast::Property, record_ty: &Ty) -> Option<Vec<plan::Key>> {
        let (path, ty) = self.record_path(p, record_ty)?;
        if !matches!(self.types.resolve(&ty), Ty::String | Ty::Int | Ty::Error) {
            let found = self.types.display(&ty);
            self.report(
                Diagnostic::new(codes::STATE_KEY, format!("the key field is `{found}`"))
                    .primary(p.value.span, format!("this is `{found}`"))
                    .help("name a String or Int field every record has: its identity (`key = record.id`)"),
            );
            return None;
        }
        Some(path)
    }
}

/// A `state` declaration inside a loop: it is the whole flow's.
pub(crate) fn state_in_loop(st: &ast::StateDecl) -> Diagnostic {
    Diagnostic::new(codes::STATE_PLACE, format!("state `{}` is declared inside a loop", st.name.name))
        .primary(st.span, "declared here")
        .help("declare the state at the top of the flow: it is the whole flow's")
}

/// `state` read where no state is declared (outside a flow, or in a flow without one).
pub(crate) fn no_state(span: Span) -> Diagnostic {
    Diagnostic::new(codes::NO_STATE, "`state` is read where no state is declared")
        .primary(span, "no state here")
        .help("declare it at the top of the flow: `state since: DateTime = \"2026-01-01T00:00:00Z\" { from = record.updated_at }`")
}

/// `a DateTime`, `an Int`, `a String`.
fn article(t: plan::CursorType) -> String {
    match t {
        plan::CursorType::Int => "an Int".into(),
        t => format!("a {}", t.name()),
    }
}

/// Whether `text` could be written as a name (a letter or `_`, then letters, digits and `_`).
fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
