//! `endpoint` declarations: method, path, parameters, body, response and properties (records,
//! query, headers, retry, timeout, idempotency, max pages); `paginate` is in `pagination.rs`.
//!
//! - `check_endpoints` / `endpoint`: one declaration, every parameter sent somewhere.
//! - `endpoint_path`: the path's `{placeholders}` against the parameters.
//! - `request_values`: `query` and `headers` values, scalars over the parameters.
//! - `response_path`: `response.a.b`, for `records` and paging.

use flow_diagnostics::{codes, suggest, Diagnostic, Fix, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::checker::EndpointSig;
use crate::expr::field_help;
use crate::names::{twice, Again};
use crate::pagination::Page;
use crate::scope::Scope;
use crate::ty::plan_type;
use crate::ty::Ty;
use crate::{Checker, NameKind};

/// The settings an `endpoint` block takes, each with the line an editor shows for it.
pub const ENDPOINT_PROPERTIES: [(&str, &str); 11] = [
    ("records", "where the records are in the response, e.g. `response.items`"),
    ("paginate", "how the next page is asked for: cursor, page, offset, next_url or link_header"),
    ("query", "the query string sent with each request"),
    ("headers", "headers sent with this endpoint's requests"),
    ("retry", "this endpoint's retry policy, in place of its api's"),
    ("idempotent", "whether a request may be sent again safely"),
    ("max_pages", "the most pages read in one pull"),
    ("timeout", "how long one request may take, in place of its api's"),
    ("error_when", "when an answer with a success status is an error (an expression over `response`)"),
    ("error_message", "the message of such an error"),
    ("error_transient", "when such an error is retried"),
];

impl Checker<'_> {
    pub(crate) fn check_endpoints(&mut self) {
        for i in 0..self.decls.endpoints.len() {
            if let Some((sig, checked)) = self.endpoint(self.decls.endpoints.decl(i)) {
                let row = &mut self.decls.endpoints.rows[i];
                row.sig = Some(sig);
                row.checked = Some(checked);
            }
        }
    }

    fn endpoint(&mut self, d: &ast::EndpointDecl) -> Option<(EndpointSig, plan::Endpoint)> {
        let errors_before = self.error_count();
        let api = self.resolve_global(&d.api, NameKind::Api, codes::UNKNOWN_API);
        let (params, param_spans, body) = self.endpoint_params(d);
        let path = self.endpoint_path(d, &params, &param_spans);
        let response = d.response.as_ref().map(|t| self.type_expr(t));
        self.no_repeated_properties(&d.props);

        // query and headers see the parameters.
        let mut scope = Scope::default();
        for ((name, ty), span) in params.iter().zip(&param_spans) {
            self.bind(&mut scope, name, *span, ty.clone(), NameKind::Param);
        }
        let mut query = Vec::new();
        let mut headers = Vec::new();
        let mut records = None;
        let mut record_ty = None;
        let mut retry = None;
        let mut timeout_ms = None;
        let mut idempotent = false;
        let mut max_pages = None;
        for p in &d.props {
            match p.name.name.as_str() {
                "retry" => retry = self.retry_setting(&p.value),
                "timeout" => timeout_ms = self.duration_setting(&p.value, "timeout"),
                "idempotent" => {
                    if let Some(b) = self.idempotent_setting(&p.value) {
                        idempotent = b;
                    }
                }
                "max_pages" => {
                    if let Some(n) = self.max_pages_setting(&p.value) {
                        max_pages = n;
                    }
                }
                "query" => query = self.request_values(&p.value, &mut scope, "query"),
                "headers" => {
                    headers = self.request_values(&p.value, &mut scope, "headers");
                    if let ExprKind::Object(items) = &p.value.kind {
                        for item in items {
                            if let ast::ObjectItem::Field(f) = item {
                                self.header_name(&f.name.name, f.name.span);
                            }
                        }
                    }
                }
                "records" => {
                    if let Some((path, item)) = self.records_path(&p.value, response.as_ref()) {
                        records = Some(path);
                        record_ty = Some(item);
                    }
                }
                // Checked below, once the records (which paging may read) are known.
                "paginate" => {}
                // Checked with the api's (`answer_errors`).
                "error_when" | "error_message" | "error_transient" => {}
                _ => self.unknown_property(&p.name, "an endpoint", &ENDPOINT_PROPERTIES.map(|(name, _)| name)),
            }
        }
        let (paginate, stop) = self.endpoint_paging(d, body.as_ref(), response.as_ref(), &mut records, &mut record_ty);
        let answer_errors = self.answer_errors(d, response.as_ref());
        self.unsent_params(&params, &param_spans, &path, &scope);
        if self.error_count() > errors_before {
            return None;
        }
        let checked = plan::Endpoint {
            name: d.name.name.clone(),
            api: api?,
            method: d.method.as_str().to_string(),
            path,
            params: params.iter().map(|(name, ty)| plan::Param { name: name.clone(), ty: plan_type(ty) }).collect(),
            body: body.as_ref().map(plan_type),
            query,
            headers,
            response: response.as_ref().map(plan_type),
            records,
            paginate,
            stop,
            retry,
            timeout_ms,
            idempotent,
            max_pages: max_pages.unwrap_or(plan::DEFAULT_MAX_PAGES),
            answer_errors,
            span: d.span,
        };
        Some((EndpointSig { params, body, response, record: record_ty }, checked))
    }

    /// Paging: the records default to the whole response when it is an array; `paginate` is checked
    /// once the records (which paging may read) are known, and needs records to page through.
    fn endpoint_paging(
        &mut self,
        d: &ast::EndpointDecl,
        body: Option<&Ty>,
        response: Option<&Ty>,
        records: &mut Option<Vec<String>>,
        record_ty: &mut Option<Ty>,
    ) -> (Option<plan::Pagination>, plan::Stop) {
        let mut paginate = None;
        let mut stop = plan::Stop::default();
        if records.is_none() && !d.props.iter().any(|p| p.name.name == "records") {
            if let Some(Ty::Array(item)) = response.map(|r| self.types.resolve(r).clone()) {
                *records = Some(Vec::new());
                *record_ty = Some((*item).clone());
            }
        }
        if let Some(p) = d.props.iter().find(|p| p.name.name == "paginate") {
            let object_body = body.is_some_and(|b| matches!(self.types.resolve(b), Ty::Object(_)));
            let page = Page { response, records: records.as_deref().zip(record_ty.as_ref()) };
            paginate = self.pagination(&p.value, &page, object_body);
            stop = self.pagination_stop(&p.value, &page);
        }
        let records_declared = d.props.iter().any(|p| p.name.name == "records");
        if let (Some(p), None, false) = (&paginate, &*records, records_declared) {
            let span = p.span();
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, "pagination without records")
                    .primary(span, "pages of what?")
                    .help("say where each page's records are: `records = response.items`"),
            );
        }
        (paginate, stop)
    }

    /// `idempotent = true|false`; anything else is reported (and `None`).
    fn idempotent_setting(&mut self, value: &ast::Expr) -> Option<bool> {
        match value.kind {
            ExprKind::Bool(b) => Some(b),
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_PROPERTY, "`idempotent` takes `true` or `false`")
                        .primary(value.span, "not a Bool literal")
                        .help("write `idempotent = true` when repeating the request is harmless"),
                );
                None
            }
        }
    }

    /// `max_pages = N` with N at least 1; anything else is reported (and `None`).
    fn max_pages_setting(&mut self, value: &ast::Expr) -> Option<Option<u64>> {
        match value.kind {
            ExprKind::Int(n) if n >= 1 => Some(u64::try_from(n).ok()),
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_PROPERTY, "`max_pages` must be a whole number of at least 1")
                        .primary(value.span, "not a page count")
                        .help("write e.g. `max_pages = 1000`"),
                );
                None
            }
        }
    }

    /// The declared parameters (names, types, spans) and the body's type, each declared once.
    fn endpoint_params(&mut self, d: &ast::EndpointDecl) -> (Vec<(String, Ty)>, Vec<Span>, Option<Ty>) {
        let mut params: Vec<(String, Ty)> = Vec::new();
        let mut param_spans: Vec<Span> = Vec::new();
        let mut body = None;
        for p in &d.params {
            let ty = self.type_expr(&p.ty);
            if params.iter().any(|(n, _)| *n == p.name.name) || (p.name.name == "body" && body.is_some()) {
                self.report(twice(
                    Again::Declared,
                    &format!("parameter `{}`", p.name.name),
                    p.name.span,
                    None,
                    "remove one of them",
                ));
                continue;
            }
            if p.name.name == "body" {
                if matches!(d.method, ast::Method::Get | ast::Method::Delete) {
                    self.report(
                        Diagnostic::new(codes::BAD_PROPERTY, format!("{} requests carry no body", d.method.as_str()))
                            .primary(p.span, "a body on a GET or DELETE")
                            .help("use POST, PUT or PATCH, or send the values as query parameters"),
                    );
                }
                body = Some(ty);
            } else {
                params.push((p.name.name.clone(), ty));
                param_spans.push(p.name.span);
            }
        }
        (params, param_spans, body)
    }

    /// `records = response.…`: the path to the array of records in the response, and the record's type.
    fn records_path(&mut self, value: &ast::Expr, response: Option<&Ty>) -> Option<(Vec<String>, Ty)> {
        if let Some((path, ty)) = self.response_path(value, response, codes::BAD_RECORDS, "records") {
            match self.types.resolve(&self.types.non_null(&ty)).clone() {
                Ty::Array(item) => return Some((path, (*item).clone())),
                Ty::Error => {}
                other => {
                    let shown = self.types.display(&other);
                    self.report(
                        Diagnostic::new(codes::BAD_RECORDS, "the records path does not lead to an array")
                            .primary(value.span, format!("this is a `{shown}`"))
                            .help("point `records` at the array of records in the response, e.g. `records = response.items`"),
                    );
                }
            }
        }
        None
    }

    /// Every parameter must be sent somewhere: in the path, or used by `query` or `headers`.
    fn unsent_params(&mut self, params: &[(String, Ty)], param_spans: &[Span], path: &[plan::PathPart], scope: &Scope) {
        let unsent: Vec<(String, Span)> = params
            .iter()
            .zip(param_spans)
            .filter(|((name, _), _)| !path.iter().any(|p| matches!(p, plan::PathPart::Param(n) if n == name)))
            .filter(|((name, _), _)| !scope.was_used(name))
            .map(|((name, _), span)| (name.clone(), *span))
            .collect();
        for (name, span) in unsent {
            self.report(
                Diagnostic::new(codes::PATH_PARAMS, format!("parameter `{name}` is never sent"))
                    .primary(span, "declared here, used nowhere")
                    .help(format!("use it in the path as `{{{name}}}`, or in `query = {{ {name}: {name} }}`")),
            );
        }
    }

    fn endpoint_path(&mut self, d: &ast::EndpointDecl, params: &[(String, Ty)], spans: &[Span]) -> Vec<plan::PathPart> {
        let text = &d.path.value;
        let at = |offset: usize, len: usize| {
            // +1 for the opening quote; escapes in paths are rare, so offsets match the source.
            let start = d.path.span.start as usize + 1 + offset;
            Span::new(start, start + len)
        };
        if !text.starts_with('/') {
            self.report(
                Diagnostic::new(codes::BAD_URL, "an endpoint path must start with `/`")
                    .primary(d.path.span, "relative to the api's base_url")
                    .help(format!("write \"/{}\"", text.trim_start_matches('/'))),
            );
            return Vec::new();
        }
        let mut parts = Vec::new();
        let mut rest = text.as_str();
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            if let Some(stray) = rest[..open].find('}') {
                self.report(
                    Diagnostic::new(codes::PATH_PARAMS, "a `}` without a `{` in the path")
                        .primary(at(offset + stray, 1), "unmatched")
                        .help("path placeholders are written `{name}`"),
                );
            }
            if open > 0 {
                parts.push(plan::PathPart::Text(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                self.report(
                    Diagnostic::new(codes::PATH_PARAMS, "a `{` without a `}` in the path")
                        .primary(at(offset + open, 1), "unclosed placeholder")
                        .help("path placeholders are written `{name}`"),
                );
                return parts;
            };
            let name = &rest[open + 1..open + close];
            let span = at(offset + open, close + 1);
            match params.iter().position(|(n, _)| n == name) {
                Some(i) => {
                    let ty = &params[i].1;
                    // The placeholder's name is a use of the parameter (when the path's text is
                    // the source's: an escape before it would shift it, and editors check).
                    self.note_local_use(spans[i], at(offset + open + 1, name.len()));
                    // A DateTime goes into a path only in a declared form (unix seconds, a
                    // format): RFC 3339's `:` and `+` are no path text.
                    let scalar = matches!(
                        self.types.resolve(ty),
                        Ty::String | Ty::Int | Ty::Union(_) | Ty::Decimal | Ty::Date | Ty::Bool | Ty::Error
                    ) || (matches!(self.types.resolve(ty), Ty::DateTime)
                        && written_in_a_form(&self.types, ty));
                    if !scalar {
                        let shown = self.types.display(ty);
                        self.report(
                            Diagnostic::new(
                                codes::PATH_PARAMS,
                                format!("path parameter `{name}` must be a non-null scalar, not `{shown}`"),
                            )
                            .primary(span, "used in the path here")
                            .help("path parameters are String, Int, Decimal, Bool, Date, a string union, or a DateTime in a declared form (`DateTime(unix_seconds)`)"),
                        );
                    }
                    parts.push(plan::PathPart::Param(name.to_string()));
                }
                None => {
                    let meant = suggest(name, params.iter().map(|(n, _)| n.as_str()));
                    // The parameter it was meant to be counts as sent (not also E0303 "never
                    // sent": one wrong placeholder, one diagnostic). No plan is built from it.
                    parts.extend(meant.map(|s| plan::PathPart::Param(s.to_string())));
                    let help = match meant {
                        // The fix only where the path's text is the source's (no escape shifts it).
                        Some(s) => flow_diagnostics::Help::from(format!("did you mean `{{{s}}}`?")).with_fix(
                            (d.path.span.range().len() == text.len() + 2)
                                .then(|| Fix::replace(span, format!("{{{s}}}"))),
                        ),
                        None if params.is_empty() => format!("declare it after the path: `({name}: String)`").into(),
                        None => format!(
                            "use a declared parameter ({}), or declare `{name}` after the path",
                            params.iter().map(|(n, _)| format!("`{{{n}}}`")).collect::<Vec<_>>().join(", ")
                        )
                        .into(),
                    };
                    self.report(
                        Diagnostic::new(
                            codes::PATH_PARAMS,
                            format!("path placeholder `{{{name}}}` is not a parameter"),
                        )
                        .primary(span, "not declared")
                        .help(help),
                    );
                }
            }
            offset += open + close + 1;
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(plan::PathPart::Text(rest.to_string()));
        }
        parts
    }

    /// `query = { a: expr }` / `headers = { "X-A": expr }`: scalar values, null meaning "leave out".
    fn request_values(&mut self, e: &ast::Expr, scope: &mut Scope, what: &str) -> Vec<(String, plan::Expr)> {
        let ExprKind::Object(fields) = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_PROPERTY, format!("`{what}` must be an object literal"))
                    .primary(e.span, "not an object")
                    .help(format!("write `{what} = {{ name: value }}`")),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        let fields = self.plain_fields(fields, &format!("`{what}`"));
        for f in fields {
            let (ty, pe) = self.infer(&f.value, scope);
            let scalar = matches!(
                self.types.resolve(&self.types.non_null(&ty)),
                Ty::String
                    | Ty::StrLit(_)
                    | Ty::Union(_)
                    | Ty::Int
                    | Ty::Float
                    | Ty::Decimal
                    | Ty::NumLit
                    | Ty::Bool
                    | Ty::Date
                    | Ty::DateTime
                    | Ty::Error
            ) || ty == Ty::Null;
            if !scalar {
                let shown = self.types.display(&ty);
                self.report(
                    Diagnostic::new(codes::TYPE_MISMATCH, format!("a {what} value must be a scalar, not `{shown}`"))
                        .primary(f.value.span, format!("this is `{shown}`"))
                        .help("send text, numbers, booleans or dates; join arrays into one string first"),
                );
            }
            // A value declared in a wire form is sent in it, as a body would write it.
            let pe = if written_in_a_form(&self.types, &ty) {
                plan::Expr::Written { expr: Box::new(pe), ty: plan_type(&ty) }
            } else {
                pe
            };
            out.push((f.name.name.clone(), pe));
        }
        out
    }

    /// `response.a.b`: the path and the type at its end.
    pub(crate) fn response_path(
        &mut self,
        e: &ast::Expr,
        response: Option<&Ty>,
        code: flow_diagnostics::Code,
        what: &str,
    ) -> Option<(Vec<String>, Ty)> {
        let mut names = Vec::new();
        let mut cur = e;
        loop {
            match &cur.kind {
                ExprKind::Field { base, name, .. } => {
                    names.push(name);
                    cur = base;
                }
                ExprKind::Name(id) if id.name == "response" => break,
                _ => {
                    self.report(
                        Diagnostic::new(code, format!("`{what}` must be a path into the response"))
                            .primary(e.span, "not a `response.…` path")
                            .help("write a path such as `response.items`"),
                    );
                    return None;
                }
            }
        }
        names.reverse();
        let Some(mut ty) = response.cloned() else {
            self.report(
                Diagnostic::new(
                    code,
                    format!("`{what}` reads the response, but the endpoint declares no response type"),
                )
                .primary(e.span, "no response type to read")
                .help("declare the response after the path: `-> { items: [Item] }`"),
            );
            return None;
        };
        let mut path = Vec::new();
        for name in names {
            let inner = self.types.resolve(&self.types.non_null(&ty)).clone();
            match inner {
                Ty::Object(ref fields) => match fields.iter().find(|f| f.name == name.name) {
                    Some(f) => {
                        let owner = self.named_index(&ty);
                        self.note_field(owner, &name.name, name.span);
                        if owner.is_none() {
                            if let Some(decl) = self.fields.inline_name_span(fields, &name.name) {
                                self.info.field_uses.push((name.span, decl));
                            }
                        }
                        ty = f.ty.clone();
                        // For editors: the path so far has the field's type.
                        let path = Span::new(e.span.start as usize, name.span.end as usize);
                        self.info.expr_types.push(path, ty.clone());
                    }
                    None => {
                        // For editors: the fields a name here could be.
                        let choices = fields.iter().map(|f| (f.name.clone(), self.types.display(&f.ty))).collect();
                        self.info.field_choices.push((name.span, choices));
                        let help = field_help(
                            name.span,
                            &name.name,
                            fields.iter().map(|f| f.name.as_str()),
                            "the response",
                            fields,
                        );
                        self.report(
                            Diagnostic::new(code, format!("the response type has no field `{}`", name.name))
                                .primary(name.span, format!("not in `{}`", self.types.display(&inner)))
                                .help(help),
                        );
                        return None;
                    }
                },
                Ty::Error => return None,
                other => {
                    let shown = self.types.display(&other);
                    self.report(
                        Diagnostic::new(code, format!("`{}` is read from a `{shown}`, which has no fields", name.name))
                            .primary(name.span, "no such field")
                            .help("follow the response type's fields"),
                    );
                    return None;
                }
            }
            path.push(name.name.clone());
        }
        Some((path, ty))
    }
}

/// Whether a request value of type `ty` is written in a declared form (`DateTime(unix_seconds)`,
/// `Decimal(string)`, directly, through a named type or when nullable).
fn written_in_a_form<'a>(types: &'a crate::ty::Types, mut ty: &'a Ty) -> bool {
    // Alias chains were checked for cycles; the bound is a second guard.
    for _ in 0..64 {
        match ty {
            Ty::Formed(..) => return true,
            Ty::Nullable(t) => ty = t,
            Ty::Named(i) => match types.defs.get(*i) {
                Some(t) => ty = t,
                None => return false,
            },
            _ => return false,
        }
    }
    false
}
