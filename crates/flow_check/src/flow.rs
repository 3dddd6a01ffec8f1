//! `flow` declarations: their settings (`concurrency`, `on_error`), steps (`let`, calls of
//! endpoints, `for` over an endpoint's records) and the calls of endpoints they make.
//!
//! - `check_flows`, `stmts`, `for_stmt`: the steps, in order, with their scopes.
//! - `endpoint_call`: a call of an endpoint: parameters, `body`, `idempotency_key`, `batch`.
//! - `body_arg`: a body argument against the endpoint's body type.

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::call::{Callee, Param};
use crate::expr::{path_text, CallAt, Expect};
use crate::recheck::Body;
use crate::scope::Scope;
use crate::ty::Ty;
use crate::{Checker, NameKind};

/// The settings a `flow` block takes beside its steps, each with the line an editor shows for it.
pub const FLOW_PROPERTIES: [(&str, &str); 2] = [
    (
        "on_error",
        "what a failed record does: `fail` (stop the flow, the default) or `dead_letter(\"FILE\")` (keep it and go on)",
    ),
    ("concurrency", "the most records worked on at once (8 when not set)"),
];

/// A flow's settings as its properties give them; unset ones take the policy defaults.
#[derive(Debug, Default)]
struct FlowSettings {
    concurrency: Option<u32>,
    on_error: Option<plan::OnError>,
}

impl Checker<'_> {
    pub(crate) fn check_flows(&mut self) {
        for i in 0..self.decls.flows.len() {
            if self.replayed(Body::Flow, i) {
                continue;
            }
            let window = self.mark();
            let d = self.decls.flows.decl(i);
            let mut settings = FlowSettings::default();
            let mut scope = Scope::default();
            self.no_repeated_properties(
                &d.body
                    .iter()
                    .filter_map(|s| match s {
                        ast::Stmt::Property(p) => Some(p.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            );
            let declared = self.declare_state(d, &mut scope);
            let body = self.stmts(&d.body, &mut scope, Some(&mut settings));
            let state = declared.and_then(|declared| self.finish_state(d, declared, &body));
            self.end_scope(&mut scope, 0);
            if !d.body.iter().any(|s| matches!(s, ast::Stmt::For(_) | ast::Stmt::Call(_) | ast::Stmt::Let(_))) {
                self.report(
                    Diagnostic::new(codes::BAD_STATEMENT, format!("flow `{}` does nothing", d.name.name))
                        .primary(d.name.span, "no steps")
                        .help("add a step: `for x in endpoint { … }` or a call of an endpoint"),
                );
            }
            self.decls.flows.rows[i].checked = Some(plan::Flow {
                name: d.name.name.clone(),
                concurrency: settings.concurrency.unwrap_or(plan::DEFAULT_FLOW_CONCURRENCY),
                on_error: settings.on_error.unwrap_or(plan::OnError::Fail),
                body,
                state,
                span: d.span,
            });
            self.window_done(Body::Flow, i, window);
        }
    }

    fn stmts(
        &mut self,
        stmts: &[ast::Stmt],
        scope: &mut Scope,
        mut settings: Option<&mut FlowSettings>,
    ) -> Vec<plan::Step> {
        let mark = scope.len();
        let mut steps = Vec::new();
        for s in stmts {
            match s {
                ast::Stmt::Property(p) => match settings.as_deref_mut() {
                    Some(settings) => self.flow_property(p, settings),
                    None => self.report(
                        Diagnostic::new(codes::BAD_STATEMENT, format!("`{}` applies to the whole flow", p.name.name))
                            .primary(p.span, "set inside a loop")
                            .help("move it to the top level of the flow"),
                    ),
                },
                ast::Stmt::Let(l) => {
                    if scope.contains(&l.name.name) {
                        self.shadowing(&l.name);
                    }
                    if let Some((index, callee, args)) = self.endpoint_callee(&l.value) {
                        let call = self.endpoint_call(index, callee, args, l.value.span, scope);
                        if call.as_ref().is_some_and(|c| c.batch.is_some()) {
                            self.report(
                                Diagnostic::new(
                                    codes::BAD_STATEMENT,
                                    "a batched call has no response of its own to bind",
                                )
                                .primary(l.name.span, "bound here")
                                .help("call it without `let`: one response answers a whole batch"),
                            );
                        }
                        let ty = self.endpoints_ty(index);
                        self.bind(scope, &l.name.name, l.name.span, ty, NameKind::Let);
                        if let Some(call) = call {
                            steps.push(plan::Step::Call { call, bind: Some(l.name.name.clone()) });
                        }
                    } else if let Some((callee, args)) = self.unknown_call(&l.value, scope) {
                        self.unknown_step(callee, args, CallAt::FlowLet, scope);
                        self.bind(scope, &l.name.name, l.name.span, Ty::Error, NameKind::Let);
                    } else {
                        let (ty, pe) = self.let_value(l, scope);
                        self.bind(scope, &l.name.name, l.name.span, ty, NameKind::Let);
                        steps.push(plan::Step::Let { name: l.name.name.clone(), value: pe, span: l.span });
                    }
                }
                ast::Stmt::Call(e) => match self.endpoint_callee(e) {
                    Some((index, callee, args)) => {
                        if let Some(call) = self.endpoint_call(index, callee, args, e.span, scope) {
                            let last = std::ptr::eq(s, stmts.last().unwrap_or(s));
                            if call.batch.is_some() && (self.loop_depth != 1 || !last) {
                                self.report(
                                    Diagnostic::new(codes::BAD_STATEMENT, "a batched call is the last step of the outermost `for`")
                                        .primary(e.span, "batched here")
                                        .help("move it to the end of the flow's outer loop; its records are sent together when the batch fills"),
                                );
                            }
                            steps.push(plan::Step::Call { call, bind: None });
                        }
                    }
                    None => {
                        let ExprKind::Call { callee, .. } = &e.kind else {
                            continue;
                        };
                        if self.names.get(&callee.name).is_some_and(|r| r.kind == NameKind::Map)
                            || plan::Builtin::from_name(&callee.name).is_some()
                        {
                            self.infer(e, scope);
                            self.report(
                                Diagnostic::new(
                                    codes::BAD_STATEMENT,
                                    format!("the result of `{}(…)` is not used", callee.name),
                                )
                                .primary(e.span, "computed, then dropped")
                                .help(format!(
                                    "a flow step calls an endpoint; pass this as its body: `create(body: {}(…))`",
                                    callee.name
                                )),
                            );
                        } else if let Some((callee, args)) = self.unknown_call(e, scope) {
                            self.unknown_step(callee, args, CallAt::FlowStep, scope);
                        } else {
                            self.unknown_callee(callee, CallAt::FlowStep);
                        }
                    }
                },
                // Checked by `declare_state` at the flow's top level; it is the whole flow's.
                ast::Stmt::State(st) => {
                    if settings.is_none() {
                        self.report(crate::state::state_in_loop(st));
                    }
                }
                ast::Stmt::For(f) => {
                    if let Some(step) = self.for_stmt(f, scope) {
                        steps.push(step);
                    }
                }
            }
        }
        self.end_scope(scope, mark);
        steps
    }

    fn flow_property(&mut self, p: &ast::Property, settings: &mut FlowSettings) {
        match p.name.name.as_str() {
            "concurrency" => settings.concurrency = self.concurrency_setting(&p.value),
            "on_error" => {
                let policy = match &p.value.kind {
                    ExprKind::Name(id) if id.name == "fail" => Some(plan::OnError::Fail),
                    ExprKind::Call { callee, args } if callee.name == "dead_letter" => match args.as_slice() {
                        [ast::Arg { name: None, value }] => match &value.kind {
                            ExprKind::Str(path) if !path.trim().is_empty() => {
                                Some(plan::OnError::DeadLetter { path: path.clone() })
                            }
                            _ => None,
                        },
                        _ => None,
                    },
                    _ => None,
                };
                match policy {
                    Some(policy) => settings.on_error = Some(policy),
                    None => self.report(
                        Diagnostic::new(codes::BAD_ON_ERROR, "invalid error policy")
                            .primary(p.value.span, "not an error policy")
                            .help("write `on_error = fail` (stop at the first failed record) or `on_error = dead_letter(\"failed.ndjson\")` (keep failed records and go on)"),
                    ),
                }
            }
            _ => self.unknown_property(&p.name, "a flow", &FLOW_PROPERTIES.map(|(name, _)| name)),
        }
    }

    fn for_stmt(&mut self, f: &ast::For, scope: &mut Scope) -> Option<plan::Step> {
        let Some((index, callee, args)) = self.endpoint_callee(&f.source) else {
            if let ExprKind::Name(id) | ExprKind::Call { callee: id, .. } = &f.source.kind {
                if let Some(r) = self.names.get(&id.name).filter(|_| !scope.contains(&id.name)) {
                    self.note_use(r, id.span);
                }
            }
            match &f.source.kind {
                ExprKind::Name(id) | ExprKind::Call { callee: id, .. }
                    if !self.names.contains(&id.name) && !scope.contains(&id.name) =>
                {
                    match &f.source.kind {
                        ExprKind::Call { args, .. } => self.unknown_step(id, args, CallAt::FlowStep, scope),
                        _ => self.unknown_callee(id, CallAt::FlowStep),
                    }
                }
                _ => self.report(
                    Diagnostic::new(codes::NOT_A_SOURCE, "`for` iterates over the records of an endpoint")
                        .primary(f.source.span, "not an endpoint")
                        .help("write `for item in list_items { … }` with an endpoint that declares `records`"),
                ),
            }
            // Check the body anyway, with the variable poisoned, for the errors inside.
            let mark = scope.len();
            self.bind(scope, &f.var.name, f.var.span, Ty::Error, NameKind::LoopVar);
            self.stmts(&f.body, scope, None);
            let mut diags = Vec::new();
            scope.truncate(mark, &mut diags);
            return None;
        };
        let source = self.endpoint_call(index, callee, args, f.source.span, scope);
        let record_ty = match self.decls.endpoints.sig(index) {
            Some(e) => match e.record {
                Some(t) => t,
                None => {
                    let name = &self.decls.endpoints.decl(index).name;
                    let help = self.single_object_help(e.response.as_ref(), &f.var.name, &name.name);
                    self.report(
                        Diagnostic::new(
                            codes::NOT_A_SOURCE,
                            format!("endpoint `{}` does not say where its records are", name.name),
                        )
                        .primary(f.source.span, "iterated here")
                        .secondary(name.span, "declared without `records`")
                        .help(help),
                    );
                    Ty::Error
                }
            },
            None => Ty::Error,
        };
        let mark = scope.len();
        self.bind(scope, &f.var.name, f.var.span, record_ty, NameKind::LoopVar);
        let filter = f.filter.as_ref().map(|c| {
            let expect = Expect { ty: Ty::Bool, origin: None, what: "a `where` condition".into() };
            plan::Filter { expr: self.check_against(c, &expect, scope), span: c.span }
        });
        self.loop_depth += 1;
        // `where p != null`: the body sees only records where `p` is not null.
        let proved = f.filter.as_ref().map_or_else(Vec::new, |c| crate::narrow::facts(c, scope).0);
        let body = self.with_facts(proved, scope, |c, scope| c.stmts(&f.body, scope, None));
        self.loop_depth -= 1;
        self.end_scope(scope, mark);
        Some(plan::Step::For { var: f.var.name.clone(), source: source?, filter, body, span: f.span })
    }

    /// If `e` calls (or names) an endpoint: its index, the name and the arguments.
    /// `e` is a call of a name nothing declares, builds in or binds: its callee and arguments.
    fn unknown_call<'e>(&self, e: &'e ast::Expr, scope: &Scope) -> Option<(&'e ast::Ident, &'e [ast::Arg])> {
        match &e.kind {
            ExprKind::Call { callee, args }
                if !self.names.contains(&callee.name)
                    && !scope.contains(&callee.name)
                    && plan::Builtin::from_name(&callee.name).is_none() =>
            {
                Some((callee, args))
            }
            _ => None,
        }
    }

    /// A flow's call of an unknown name: reported once, its arguments checked for the errors (and
    /// the uses) inside them.
    fn unknown_step(&mut self, callee: &ast::Ident, args: &[ast::Arg], at: CallAt, scope: &mut Scope) {
        for a in args {
            if !matches!(a.value.kind, ExprKind::Lambda { .. }) {
                self.infer(&a.value, scope);
            }
        }
        self.unknown_callee(callee, at);
    }

    fn endpoint_callee<'e>(&self, e: &'e ast::Expr) -> Option<(usize, &'e ast::Ident, &'e [ast::Arg])> {
        let (name, args): (&ast::Ident, &[ast::Arg]) = match &e.kind {
            ExprKind::Call { callee, args } => (callee, args),
            ExprKind::Name(id) => (id, &[]),
            _ => return None,
        };
        match self.names.get(&name.name) {
            Some(r) if r.kind == NameKind::Endpoint => Some((r.index, name, args)),
            _ => None,
        }
    }

    fn endpoints_ty(&self, index: usize) -> Ty {
        self.decls.endpoints.sig(index).map_or(Ty::Error, |e| e.response.unwrap_or(Ty::Null))
    }

    fn endpoint_call(
        &mut self,
        index: usize,
        callee: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        scope: &mut Scope,
    ) -> Option<plan::EndpointCall> {
        self.note_endpoint_uses(index, callee, args);
        let decl = self.decls.endpoints.decl(index);
        let name = decl.name.name.clone();
        let Some(ep) = self.decls.endpoints.sig(index) else {
            // The endpoint has errors of its own; check the arguments' expressions anyway.
            for a in args {
                self.infer(&a.value, scope);
            }
            return None;
        };
        let params = ep.params;
        let mut body_ty = ep.body;
        // The parameters, then what every call may give: `body` (when declared), the
        // idempotency key and a batch size.
        let mut spec: Vec<Param> =
            params.iter().map(|(n, t)| Param { name: n.clone(), required: !self.types.is_nullable(t) }).collect();
        let (body_at, key_at, batch_at) = (spec.len(), spec.len() + 1, spec.len() + 2);
        for (n, required) in [("body", body_ty.is_some()), ("idempotency_key", false), ("batch", false)] {
            spec.push(Param { name: n.into(), required });
        }
        let mut known: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
        if body_ty.is_some() {
            known.push("body");
        }
        known.push("idempotency_key");
        let usage = format!("`{name}` takes: {}", known.join(", "));
        let bound =
            self.bind_args(&Callee { kind: "endpoint", name: &name, positional: false, usage }, &spec, args, span);
        let mut ok = bound.ok;
        let mut out_args = Vec::new();
        let mut body = None;
        let mut key = None;
        let batch = self.batch_arg(bound.args[batch_at], &mut body_ty, &name, &mut ok);
        for ((pname, pty), a) in params.iter().zip(&bound.args) {
            if let Some(a) = a {
                let expect = Expect { ty: pty.clone(), origin: None, what: format!("parameter `{pname}` of `{name}`") };
                out_args.push((pname.clone(), self.check_against(&a.value, &expect, scope)));
            }
        }
        if let Some(a) = bound.args[body_at] {
            match &body_ty {
                Some(bt) => body = Some(self.body_arg(&a.value, bt, &name, scope)),
                None => {
                    self.report(
                        Diagnostic::new(codes::BAD_ARGUMENTS, format!("endpoint `{name}` takes no body"))
                            .primary(a.name.as_ref().map_or(a.value.span, |n| n.span), "not declared by the endpoint")
                            .help("declare it after the path: `(body: Contact)`"),
                    );
                    self.infer(&a.value, scope);
                    ok = false;
                }
            }
        }
        if let Some(a) = bound.args[key_at] {
            let expect = Expect { ty: Ty::String, origin: None, what: "an idempotency key".into() };
            key = Some(self.check_against(&a.value, &expect, scope));
        }
        for a in bound.unbound {
            self.infer(&a.value, scope);
        }
        if batch.is_some() && key.is_some() {
            self.report(
                Diagnostic::new(codes::BAD_ARGUMENTS, "a batched call takes no per-record idempotency key")
                    .primary(span, "one request carries many records")
                    .help("declare the endpoint `idempotent = true` if resending a batch is harmless"),
            );
            ok = false;
        }
        ok.then_some(plan::EndpointCall { endpoint: index, args: out_args, body, idempotency_key: key, batch, span })
    }

    /// The call is a use of the endpoint, and each named argument a use of its parameter.
    fn note_endpoint_uses(&mut self, index: usize, callee: &ast::Ident, args: &[ast::Arg]) {
        self.names.mark_used(NameKind::Endpoint, index);
        if let Some(r) = self.names.get(&callee.name) {
            self.note_use(r, callee.span);
        }
        // A named argument is a use of the endpoint's parameter of that name (`body`,
        // `idempotency_key` and `batch` are words of the language, not names).
        let decl = self.decls.endpoints.decl(index);
        for a in args {
            let Some(n) = &a.name else { continue };
            if let Some(p) = decl.params.iter().find(|p| p.name.name == n.name && p.name.name != "body") {
                self.note_local_use(p.name.span, n.span);
            }
        }
    }

    /// `batch: N`: each call adds one item to an array body, so the body's type becomes the item's.
    fn batch_arg(&mut self, a: Option<&ast::Arg>, body_ty: &mut Option<Ty>, name: &str, ok: &mut bool) -> Option<u32> {
        match a {
            None => None,
            Some(a) => {
                let item = body_ty.as_ref().and_then(|b| match self.types.resolve(b) {
                    Ty::Array(item) => Some((**item).clone()),
                    _ => None,
                });
                match (&a.value.kind, item) {
                    (ExprKind::Int(n), Some(item)) if (1..=10_000).contains(n) => {
                        *body_ty = Some(item);
                        Some(*n as u32)
                    }
                    (_, None) => {
                        self.report(
                            Diagnostic::new(
                                codes::BAD_ARGUMENTS,
                                format!("endpoint `{name}` does not take an array body to batch into"),
                            )
                            .primary(a.value.span, "batching needs `(body: [Item])`")
                            .help("declare the endpoint's body as an array of the items: `(body: [Contact])`"),
                        );
                        *ok = false;
                        None
                    }
                    _ => {
                        self.report(
                            Diagnostic::new(codes::BAD_ARGUMENTS, "`batch` is a whole number from 1 to 10000")
                                .primary(a.value.span, "not a batch size")
                                .help("write e.g. `batch: 100`"),
                        );
                        *ok = false;
                        None
                    }
                }
            }
        }
    }

    /// What to do about a `for` over an endpoint without `records`, by its response: point
    /// `records` at the response's array field when it has one (named), or, when the response is
    /// one object, call it once with `let`.
    fn single_object_help(&self, response: Option<&Ty>, var: &str, endpoint: &str) -> String {
        let arrays: Vec<String> = match response.map(|t| self.types.resolve(t)) {
            Some(Ty::Object(fields)) => fields
                .iter()
                .filter(|f| matches!(self.types.resolve(&self.types.non_null(&f.ty)), Ty::Array(_)))
                .map(|f| f.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        match arrays.as_slice() {
            [] => format!(
                "`{endpoint}` answers one object, not a list: call it once with `let {var} = {endpoint}(…)` and use `{var}` without a loop"
            ),
            [one] => format!(
                "add `records = response.{}` (the array of records) to the endpoint",
                flow_syntax::lex::key(one)
            ),
            many => format!(
                "add `records = response.…` to the endpoint, naming the array of records: {}",
                many.iter().map(|m| format!("`{}`", flow_syntax::lex::key(m))).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// The maps of the file that take one value of type `from` (their one parameter)
    /// and return exactly `to`, by name.
    fn maps_between(&self, from: &Ty, to: &Ty) -> Vec<String> {
        let mut out: Vec<String> = (0..self.decls.maps.len())
            .filter_map(|i| {
                let sig = self.decls.maps.sig(i)?;
                let [(_, param)] = sig.params.as_slice() else { return None };
                let fits = self.types.assignable(from, param).is_ok()
                    && self.types.assignable(&sig.ret, to).is_ok()
                    && self.types.assignable(to, &sig.ret).is_ok();
                fits.then(|| self.decls.maps.decl(i).name.name.clone())
            })
            .collect();
        out.sort();
        out
    }

    /// A body: object literals are checked field by field; anything else must have the body's type.
    fn body_arg(&mut self, value: &ast::Expr, body_ty: &Ty, endpoint: &str, scope: &mut Scope) -> plan::Expr {
        let expect = Expect { ty: body_ty.clone(), origin: None, what: format!("the body of `{endpoint}`") };
        if matches!(value.kind, ExprKind::Object(_) | ExprKind::Array(_)) {
            return self.check_against(value, &expect, scope);
        }
        let (ty, pe) = self.infer(value, scope);
        if let Err(m) = self.types.assignable(&ty, body_ty) {
            let (expected, found) = (self.types.display(body_ty), self.types.display(&ty));
            let (path, inner) = m.innermost();
            let mut d = Diagnostic::new(
                codes::BODY_MISMATCH,
                format!("the body of `{endpoint}` must be `{expected}`, found `{found}`"),
            )
            .primary(value.span, format!("this is `{found}`"));
            if !path.is_empty() || !matches!(inner, crate::ty::Mismatch::Different) {
                d = d.note(crate::expr::mismatch_note(&path, inner));
            }
            let fitting = self.maps_between(&ty, body_ty);
            let help: flow_diagnostics::Help = match (fitting.first(), &value.kind) {
                // A map of the file takes this value and returns the body's type: pass it through.
                (Some(map), _) => {
                    let others = match &fitting[1..] {
                        [] => String::new(),
                        more => format!(" (or {})", more.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")),
                    };
                    flow_diagnostics::Help::from(format!(
                        "map `{map}` takes `{found}` and returns `{expected}`: pass the value through it{others}"
                    ))
                    .with_fix(flow_diagnostics::Fix {
                        title: format!("pass it through `{map}`"),
                        edits: vec![
                            flow_diagnostics::Edit { span: Span::new(value.span.start as usize, value.span.start as usize), replacement: format!("{map}(") },
                            flow_diagnostics::Edit { span: Span::new(value.span.end as usize, value.span.end as usize), replacement: ")".into() },
                        ],
                    })
                }
                (None, ExprKind::Call { callee, .. }) => {
                    format!("`{}` returns `{found}`; call a map that returns `{expected}`", callee.name).into()
                }
                (None, _) => format!(
                    "no map of this file takes `{found}` and returns `{expected}`: declare one, `map to_{}(x: {found}) -> {expected} {{ … }}`, and pass `{}` through it",
                    snake(&expected),
                    path_text(value).unwrap_or_else(|| "the value".into())
                )
                .into(),
            };
            self.report(d.help(help));
        }
        pe
    }
}

/// `Contact` as `contact`, `[Order]` as `orders`: a name for a placeholder map.
fn snake(type_name: &str) -> String {
    let (inner, plural) = match type_name.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => (inner, "s"),
        None => (type_name, ""),
    };
    let mut out = String::new();
    for (i, c) in inner.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push_str("body");
    }
    out + plural
}
