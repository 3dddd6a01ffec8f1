//! Declarations: collecting names, then checking types, apis, endpoints, maps and flows.

use std::rc::Rc;

use flow_diagnostics::{codes, suggest, Diagnostic, Fix, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, Decl, ExprKind, TypeExprKind};

use crate::call::{Callee, Param};
use crate::expr::{path_text, Expect};
use crate::scope::Scope;
use crate::ty::{FieldTy, Ty};
use crate::{ApiM, Cx, DeclRef, EndpointM, FlowSettings, Kind, MapM, NameKind, BUILTIN_TYPES};

const API_PROPERTIES: [&str; 10] = [
    "base_url",
    "auth",
    "headers",
    "timeout",
    "connect_timeout",
    "concurrency",
    "allow_http",
    "retry",
    "rate_limit",
    "tls_verify",
];
const ENDPOINT_PROPERTIES: [&str; 8] =
    ["records", "paginate", "query", "headers", "retry", "idempotent", "max_pages", "timeout"];
const FLOW_PROPERTIES: [&str; 2] = ["on_error", "concurrency"];
const MAX_CONCURRENCY: i64 = 1024;
const MAX_TIMEOUT_MS: u64 = 24 * 3_600_000;

impl<'a> Cx<'a> {
    // ------------------------------------------------------------------ names

    pub(crate) fn collect(&mut self) {
        let file = self.file;
        for decl in &file.decls {
            let (kind, index) = match decl {
                Decl::Secret(d) => (Kind::Secret, push(&mut self.secrets, d)),
                Decl::Api(d) => (Kind::Api, push(&mut self.api_decls, d)),
                Decl::Type(d) => (Kind::Type, push(&mut self.type_decls, d)),
                Decl::Endpoint(d) => (Kind::Endpoint, push(&mut self.endpoint_decls, d)),
                Decl::Map(d) => (Kind::Map, push(&mut self.map_decls, d)),
                Decl::Flow(d) => (Kind::Flow, push(&mut self.flow_decls, d)),
                Decl::Table(d) => (Kind::Table, push(&mut self.table_decls, d)),
                Decl::Function(d) => (Kind::Function, push(&mut self.fn_decls, d)),
                Decl::Test(d) => {
                    // Tests are named by a title, not an identifier: not in the namespace.
                    self.test_decls.push(d);
                    continue;
                }
            };
            let name = decl.name();
            if kind == Kind::Type && BUILTIN_TYPES.contains(&name.name.as_str()) {
                self.report(
                    Diagnostic::new(codes::DUPLICATE, format!("`{}` is a built-in type", name.name))
                        .primary(name.span, "cannot be declared again")
                        .help("choose another name for this type"),
                );
                continue;
            }
            if let Some(prev) = self.names.get(&name.name) {
                let d = Diagnostic::new(codes::DUPLICATE, format!("`{}` is declared twice", name.name))
                    .primary(name.span, format!("{} `{}` declared again here", kind.word(), name.name))
                    .secondary(prev.span, format!("first declared here as a {}", prev.kind.word()))
                    .help("rename one of them: apis, types, endpoints, maps, secrets and flows share one namespace");
                self.report(d);
                continue;
            }
            self.names.insert(name.name.clone(), DeclRef { kind, index, span: name.span });
            self.note_global(kind, name);
        }
    }

    /// Resolves a global name that must be of `kind`, reporting unknown and wrong-kind names.
    pub(crate) fn resolve_global(
        &mut self,
        ident: &ast::Ident,
        kind: Kind,
        unknown: flow_diagnostics::Code,
    ) -> Option<usize> {
        match self.names.get(&ident.name).copied() {
            Some(r) if r.kind == kind => {
                self.used.insert((kind, r.index));
                self.note_use(r, ident.span);
                Some(r.index)
            }
            Some(r) => {
                self.note_use(r, ident.span);
                self.report(
                    Diagnostic::new(
                        codes::WRONG_KIND,
                        format!("`{}` is a {}, not a {}", ident.name, r.kind.word(), kind.word()),
                    )
                    .primary(ident.span, format!("expected a {} here", kind.word()))
                    .secondary(r.span, format!("`{}` is declared here", ident.name))
                    .help(format!("name a declared {} here", kind.word())),
                );
                None
            }
            None => {
                let candidates: Vec<&str> =
                    self.names.iter().filter(|(_, r)| r.kind == kind).map(|(n, _)| n.as_str()).collect();
                let help = match suggest(&ident.name, candidates.iter().copied()) {
                    Some(s) => flow_diagnostics::did_you_mean(ident.span, s),
                    None if candidates.is_empty() => format!("declare it: `{} {} …`", kind.word(), ident.name).into(),
                    None => {
                        let mut c = candidates.clone();
                        c.sort_unstable();
                        format!("declared {}s: {}", kind.word(), c.join(", ")).into()
                    }
                };
                self.report(
                    Diagnostic::new(unknown, format!("unknown {} `{}`", kind.word(), ident.name))
                        .primary(ident.span, format!("no {} of this name", kind.word()))
                        .help(help),
                );
                None
            }
        }
    }

    // ------------------------------------------------------------------ types

    pub(crate) fn check_types(&mut self) {
        let decls = self.type_decls.clone();
        self.types.names = decls.iter().map(|d| d.name.name.clone()).collect();
        self.types.defs = vec![Ty::Error; decls.len()];
        for (i, d) in decls.iter().enumerate() {
            let ty = self.type_expr(&d.ty);
            if let TypeExprKind::Object(fields) = &d.ty.kind {
                for f in fields {
                    self.field_spans.entry((i, f.name.name.clone())).or_insert(f.span);
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        self.field_names.entry((i, f.name.name.clone()))
                    {
                        e.insert(f.name.span);
                        self.info.field_decls.push((f.name.span, format!("{}.{}", d.name.name, f.name.name)));
                    }
                }
            }
            self.types.defs[i] = ty;
        }
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
                _ => match self.names.get(&id.name).copied() {
                    Some(r) if r.kind == Kind::Type => {
                        self.used.insert((Kind::Type, r.index));
                        self.note_use(r, id.span);
                        Ty::Named(r.index)
                    }
                    _ if !self.names.contains_key(&id.name) => {
                        let candidates: Vec<&str> = BUILTIN_TYPES
                            .iter()
                            .copied()
                            .chain(self.type_decls.iter().map(|d| d.name.name.as_str()))
                            .collect();
                        let help = match suggest(&id.name, candidates) {
                            Some(s) => flow_diagnostics::did_you_mean(id.span, s),
                            None => format!(
                                "declare it with `type {} {{ … }}`, or use a built-in type: {}",
                                id.name,
                                BUILTIN_TYPES.join(", ")
                            )
                            .into(),
                        };
                        self.report(
                            Diagnostic::new(codes::UNKNOWN_TYPE, format!("unknown type `{}`", id.name))
                                .primary(id.span, "no type of this name")
                                .help(help),
                        );
                        Ty::Error
                    }
                    _ => {
                        self.resolve_global(id, Kind::Type, codes::UNKNOWN_TYPE);
                        Ty::Error
                    }
                },
            },
            TypeExprKind::Literal(s) => Ty::Union(vec![s.clone()].into()),
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
            TypeExprKind::Object(fields) => {
                let mut out: Vec<FieldTy> = Vec::new();
                let mut seen: Vec<(&str, Span)> = Vec::new();
                for f in fields {
                    if let Some((_, first)) = seen.iter().find(|(n, _)| *n == f.name.name) {
                        self.report(
                            Diagnostic::new(codes::DUPLICATE, format!("field `{}` is declared twice", f.name.name))
                                .primary(f.name.span, "declared again here")
                                .secondary(*first, "first declared here")
                                .help("remove one of the two declarations"),
                        );
                        continue;
                    }
                    seen.push((&f.name.name, f.name.span));
                    let mut ty = self.type_expr(&f.ty);
                    // Absent reads as null: an optional field's value is handled like a nullable one.
                    if f.optional && !matches!(ty, Ty::Nullable(_) | Ty::Error) {
                        ty = Ty::Nullable(Rc::new(ty));
                    }
                    out.push(FieldTy { name: f.name.name.clone(), ty, optional: f.optional });
                }
                Ty::Object(out.into())
            }
        };
        if te.nullable && !matches!(ty, Ty::Nullable(_) | Ty::Error) {
            Ty::Nullable(Rc::new(ty))
        } else {
            ty
        }
    }

    // ------------------------------------------------------------------ apis

    pub(crate) fn check_apis(&mut self) {
        let decls = self.api_decls.clone();
        for d in decls {
            let api = self.api(d);
            self.apis.push(api);
        }
    }

    fn api(&mut self, d: &ast::ApiDecl) -> Option<ApiM> {
        let errors_before = self.error_count();
        self.no_repeated_properties(&d.props);
        let mut base_url = None;
        let mut auth = plan::Auth::None;
        let mut headers = Vec::new();
        let mut timeout_ms = None;
        let mut connect_timeout_ms = None;
        let mut concurrency = None;
        let mut retry = None;
        let mut rate_limit = None;
        let mut tls_verify = true;
        let allow_http = d.props.iter().any(|p| p.name.name == "allow_http" && p.value.kind == ExprKind::Bool(true));
        for p in &d.props {
            match p.name.name.as_str() {
                "base_url" => base_url = self.base_url(&p.value, allow_http),
                "auth" => auth = self.auth(&p.value).unwrap_or(plan::Auth::None),
                "headers" => headers = self.api_headers(&p.value),
                "timeout" => timeout_ms = self.duration_setting(&p.value, "timeout"),
                "connect_timeout" => connect_timeout_ms = self.duration_setting(&p.value, "connect_timeout"),
                "concurrency" => concurrency = self.concurrency_setting(&p.value),
                "retry" => retry = self.retry_setting(&p.value),
                "rate_limit" => rate_limit = self.rate_setting(&p.value),
                "tls_verify" => match p.value.kind {
                    ExprKind::Bool(true) => {}
                    ExprKind::Bool(false) => {
                        tls_verify = false;
                        self.report(
                            Diagnostic::new(codes::TLS_UNVERIFIED, format!("TLS certificates of api `{}` are not verified", d.name.name))
                                .primary(p.span, "verification turned off")
                                .help("anyone on the way can read and change this traffic, credentials included; remove this line as soon as the API has a valid certificate"),
                        );
                    }
                    _ => self.report(
                        Diagnostic::new(codes::BAD_PROPERTY, "`tls_verify` takes `true` or `false`")
                            .primary(p.value.span, "not a Bool literal")
                            .help("write `tls_verify = false` only for a test server with a self-signed certificate"),
                    ),
                },
                "allow_http" => {
                    if !matches!(p.value.kind, ExprKind::Bool(_)) {
                        self.report(
                            Diagnostic::new(codes::BAD_PROPERTY, "`allow_http` takes `true` or `false`")
                                .primary(p.value.span, "not a Bool literal")
                                .help("write `allow_http = true`"),
                        );
                    }
                }
                _ => self.unknown_property(&p.name, "an api", &API_PROPERTIES),
            }
        }
        if !d.props.iter().any(|p| p.name.name == "base_url") {
            self.report(
                Diagnostic::new(codes::MISSING_PROPERTY, format!("api `{}` has no `base_url`", d.name.name))
                    .primary(d.name.span, "declared without a base URL")
                    .help("add `base_url = \"https://api.example.com/v1\"` to the block"),
            );
        }
        if self.error_count() > errors_before {
            return None;
        }
        Some(ApiM {
            name: d.name.name.clone(),
            base_url: base_url?,
            auth,
            headers,
            timeout_ms,
            connect_timeout_ms,
            concurrency,
            retry,
            rate_limit,
            tls_verify,
            allow_http,
            span: d.span,
        })
    }

    pub(crate) fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    fn no_repeated_properties(&mut self, props: &[ast::Property]) {
        for (i, p) in props.iter().enumerate() {
            if let Some(first) = props[..i].iter().find(|q| q.name.name == p.name.name) {
                self.report(
                    Diagnostic::new(codes::FIELD_TWICE, format!("`{}` is set twice", p.name.name))
                        .primary(p.name.span, "set again here")
                        .secondary(first.name.span, "first set here")
                        .help("keep one of the two"),
                );
            }
        }
    }

    fn unknown_property(&mut self, name: &ast::Ident, what: &str, known: &[&str]) {
        let help = match suggest(&name.name, known.iter().copied()) {
            Some(s) => flow_diagnostics::did_you_mean(name.span, s),
            None => format!("{what} takes: {}", known.join(", ")).into(),
        };
        self.report(
            Diagnostic::new(codes::UNKNOWN_PROPERTY, format!("{what} has no property `{}`", name.name))
                .primary(name.span, "unknown property")
                .help(help),
        );
    }

    fn base_url(&mut self, value: &ast::Expr, allow_http: bool) -> Option<String> {
        let ExprKind::Str(text) = &value.kind else {
            self.report(
                Diagnostic::new(codes::BAD_URL, "`base_url` must be a string literal")
                    .primary(value.span, "not a string")
                    .help("write the URL in quotes: `base_url = \"https://api.example.com\"`; override it per run with `flowc run --base-url NAME=URL`"),
            );
            return None;
        };
        let bad = |cx: &mut Cx, why: String| {
            cx.report(
                Diagnostic::new(codes::BAD_URL, format!("invalid base URL: {why}"))
                    .primary(value.span, "this URL")
                    .help("write an absolute URL such as \"https://api.example.com/v1\""),
            );
        };
        let url = match url::Url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                bad(self, e.to_string());
                return None;
            }
        };
        if !matches!(url.scheme(), "http" | "https") {
            bad(self, format!("the scheme is `{}`; flowc speaks http and https", url.scheme()));
            return None;
        }
        if url.query().is_some() || url.fragment().is_some() {
            bad(self, "it has a query or fragment".into());
            return None;
        }
        if plan::is_plain_http_elsewhere(&url) && !allow_http {
            self.report(
                Diagnostic::new(codes::INSECURE_HTTP, "plain http:// to a host that is not this machine")
                    .primary(value.span, "credentials and records would cross the network unencrypted")
                    .help("use https://; if this API really has no TLS, say so with `allow_http = true`"),
            );
            return None;
        }
        Some(text.trim_end_matches('/').to_string())
    }

    /// Text built from string literals and secrets joined with `+`.
    fn template(&mut self, e: &ast::Expr, what: &str) -> Option<plan::Template> {
        match &e.kind {
            ExprKind::Str(s) => Some(plan::Template(vec![plan::Part::Text(s.clone())])),
            ExprKind::Name(id) => {
                let index = self.resolve_global(id, Kind::Secret, codes::UNKNOWN_NAME)?;
                Some(plan::Template(vec![plan::Part::Secret(self.secrets[index].name.name.clone())]))
            }
            ExprKind::Binary { op: ast::BinaryOp::Add, lhs, rhs } => {
                let mut l = self.template(lhs, what)?;
                let r = self.template(rhs, what)?;
                l.0.extend(r.0);
                Some(l)
            }
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_AUTH, format!("{what} must be text or a secret"))
                        .primary(e.span, "not a string literal or a secret")
                        .help("use a string, a declared `secret`, or both joined with `+`: `\"Token \" + API_TOKEN`"),
                );
                None
            }
        }
    }

    fn auth(&mut self, e: &ast::Expr) -> Option<plan::Auth> {
        const KINDS: &str = "bearer(TOKEN), basic(USER, PASSWORD), api_key(header: \"X-Api-Key\", value: KEY), api_key(query: \"api_key\", value: KEY), oauth2_client_credentials(token_url: …, client_id: …, client_secret: …)";
        let ExprKind::Call { callee, args } = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_AUTH, "`auth` must be one of the auth kinds")
                    .primary(e.span, "not an auth kind")
                    .help(format!("write one of: {KINDS}")),
            );
            return None;
        };
        let positional: Vec<&ast::Expr> = args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
        let named = |n: &str| args.iter().find(|a| a.name.as_ref().is_some_and(|x| x.name == n)).map(|a| &a.value);
        let bad_args = |cx: &mut Cx, usage: &str| {
            cx.report(
                Diagnostic::new(codes::BAD_AUTH, format!("wrong arguments for `{}`", callee.name))
                    .primary(e.span, "these arguments")
                    .help(format!("write `{usage}`")),
            );
            None
        };
        match callee.name.as_str() {
            "bearer" => match positional.as_slice() {
                [token] if args.len() == 1 => {
                    Some(plan::Auth::Bearer { token: self.template(token, "a bearer token")? })
                }
                _ => bad_args(self, "bearer(TOKEN)"),
            },
            "basic" => match positional.as_slice() {
                [user, password] if args.len() == 2 => {
                    let user = self.template(user, "a user name");
                    let password = self.template(password, "a password");
                    Some(plan::Auth::Basic { user: user?, password: password? })
                }
                _ => bad_args(self, "basic(USER, PASSWORD)"),
            },
            "jwt" => {
                let usage =
                    "jwt(algorithm: \"RS256\", key: PRIVATE_KEY_PEM, claims: { iss: \"…\", aud: \"…\" }, ttl: 1h)";
                let allowed = ["algorithm", "key", "claims", "ttl"];
                let all_named =
                    args.iter().all(|a| a.name.as_ref().is_some_and(|n| allowed.contains(&n.name.as_str())));
                let (Some(alg), Some(key), true) = (named("algorithm"), named("key"), all_named) else {
                    return bad_args(self, usage);
                };
                let algorithm = self.literal_string(alg, "the algorithm")?;
                if !matches!(algorithm.as_str(), "HS256" | "RS256") {
                    self.report(
                        Diagnostic::new(codes::BAD_AUTH, format!("unsupported JWT algorithm {algorithm:?}"))
                            .primary(alg.span, "not HS256 or RS256")
                            .help("write `algorithm: \"HS256\"` (a shared secret) or `algorithm: \"RS256\"` (a PEM private key)"),
                    );
                    return None;
                }
                let mut claims = Vec::new();
                if let Some(c) = named("claims") {
                    let ExprKind::Object(items) = &c.kind else { return bad_args(self, usage) };
                    for f in self.plain_fields(items, "`claims`") {
                        let value = match &f.value.kind {
                            ExprKind::Str(s) => serde_json::Value::from(s.clone()),
                            ExprKind::Int(n) => serde_json::Value::from(*n),
                            ExprKind::Bool(b) => serde_json::Value::from(*b),
                            _ => {
                                self.report(
                                    Diagnostic::new(codes::BAD_AUTH, "JWT claims are string, number or Bool literals")
                                        .primary(f.value.span, "not a literal")
                                        .help("write the claim's value in the file: `iss: \"flowc\"`"),
                                );
                                return None;
                            }
                        };
                        if matches!(f.name.name.as_str(), "iat" | "exp") {
                            self.report(
                                Diagnostic::new(codes::BAD_AUTH, format!("`{}` is set by flowc", f.name.name))
                                    .primary(f.name.span, "set for each token")
                                    .help("leave it out; choose the lifetime with `ttl: 1h`"),
                            );
                            return None;
                        }
                        claims.push((f.name.name.clone(), value));
                    }
                }
                let ttl_ms = match named("ttl") {
                    None => 3_600_000,
                    Some(t) => self.duration_setting(t, "ttl")?,
                };
                let key = self.template(key, "a signing key")?;
                Some(plan::Auth::Jwt { algorithm, key, claims, ttl_ms })
            }
            "oauth2_client_credentials" | "oauth2_refresh_token" => {
                let refresh = callee.name == "oauth2_refresh_token";
                let allowed: &[&str] = if refresh {
                    &["token_url", "client_id", "client_secret", "refresh_token"]
                } else {
                    &["token_url", "client_id", "client_secret", "scope"]
                };
                let all_named =
                    args.iter().all(|a| a.name.as_ref().is_some_and(|n| allowed.contains(&n.name.as_str())));
                let (Some(url), Some(id), Some(secret), true) =
                    (named("token_url"), named("client_id"), named("client_secret"), all_named)
                else {
                    return bad_args(self, "oauth2_client_credentials(token_url: \"/oauth/token\", client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scope: \"…\")");
                };
                let token_url = self.literal_string(url, "the token URL")?;
                if !token_url.starts_with('/') {
                    match url::Url::parse(&token_url) {
                        Ok(u) if matches!(u.scheme(), "http" | "https") && !plan::is_plain_http_elsewhere(&u) => {}
                        _ => {
                            self.report(
                                Diagnostic::new(codes::BAD_URL, "the token URL must be an https:// URL or a path")
                                    .primary(url.span, "not an https URL or a path")
                                    .help("write the full https URL, or a path such as \"/oauth/token\" relative to the api's base_url"),
                            );
                            return None;
                        }
                    }
                }
                let client_id = self.template(id, "a client id");
                let client_secret = self.template(secret, "a client secret");
                if refresh {
                    let Some(rt) = named("refresh_token") else {
                        return bad_args(self, "oauth2_refresh_token(token_url: \"/oauth/token\", client_id: ID, client_secret: SECRET, refresh_token: REFRESH_TOKEN)");
                    };
                    let refresh_token = self.template(rt, "a refresh token");
                    return Some(plan::Auth::OAuth2RefreshToken {
                        token_url,
                        client_id: client_id?,
                        client_secret: client_secret?,
                        refresh_token: refresh_token?,
                    });
                }
                let scope = match named("scope") {
                    Some(s) => Some(self.literal_string(s, "the scope")?),
                    None => None,
                };
                Some(plan::Auth::OAuth2ClientCredentials {
                    token_url,
                    client_id: client_id?,
                    client_secret: client_secret?,
                    scope,
                })
            }
            "api_key" => {
                let value = named("value");
                let place = (named("header"), named("query"));
                match (value, place, positional.is_empty(), args.len()) {
                    (Some(v), (Some(h), None), true, 2) => {
                        let name = self.literal_string(h, "the header name")?;
                        self.header_name(&name, h.span);
                        Some(plan::Auth::ApiKeyHeader { header: name, value: self.template(v, "an API key")? })
                    }
                    (Some(v), (None, Some(q)), true, 2) => Some(plan::Auth::ApiKeyQuery {
                        param: self.literal_string(q, "the query parameter name")?,
                        value: self.template(v, "an API key")?,
                    }),
                    _ => bad_args(
                        self,
                        "api_key(header: \"X-Api-Key\", value: KEY)` or `api_key(query: \"api_key\", value: KEY)",
                    ),
                }
            }
            other => {
                let help = match suggest(
                    other,
                    ["bearer", "basic", "api_key", "oauth2_client_credentials", "oauth2_refresh_token", "jwt"],
                ) {
                    Some(s) => flow_diagnostics::Help::from(format!("did you mean `{s}`? The auth kinds: {KINDS}"))
                        .with_fix(Fix::replace(callee.span, s)),
                    None => format!("the auth kinds: {KINDS}").into(),
                };
                self.report(
                    Diagnostic::new(codes::BAD_AUTH, format!("unknown auth kind `{other}`"))
                        .primary(callee.span, "not an auth kind")
                        .help(help),
                );
                None
            }
        }
    }

    fn literal_string(&mut self, e: &ast::Expr, what: &str) -> Option<String> {
        match &e.kind {
            ExprKind::Str(s) if !s.is_empty() => Some(s.clone()),
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_PROPERTY, format!("{what} must be a non-empty string literal"))
                        .primary(e.span, "not a string literal")
                        .help("write it in quotes"),
                );
                None
            }
        }
    }

    /// Header names are HTTP tokens; anything else would be refused by the HTTP client at run time.
    fn header_name(&mut self, name: &str, span: Span) -> bool {
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !ok {
            self.report(
                Diagnostic::new(codes::BAD_PROPERTY, format!("`{name}` is not a valid header name"))
                    .primary(span, "invalid header name")
                    .help("header names are letters, digits and - (e.g. \"X-Api-Key\")"),
            );
        }
        ok
    }

    fn api_headers(&mut self, e: &ast::Expr) -> Vec<plan::Header> {
        let ExprKind::Object(fields) = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_PROPERTY, "`headers` must be an object literal")
                    .primary(e.span, "not an object")
                    .help("write `headers = { \"Accept\": \"application/json\" }`"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        let fields = self.plain_fields(fields, "`headers`");
        for f in fields {
            if !self.header_name(&f.name.name, f.name.span) {
                continue;
            }
            if let ExprKind::Str(s) = &f.value.kind {
                if s.contains(['\r', '\n']) {
                    self.report(
                        Diagnostic::new(codes::BAD_PROPERTY, "header values cannot hold line breaks")
                            .primary(f.value.span, "contains CR or LF")
                            .help("remove the line break"),
                    );
                    continue;
                }
            }
            if let Some(value) = self.template(&f.value, "a header value") {
                out.push(plan::Header { name: f.name.name.clone(), value });
            }
        }
        out
    }

    /// The fields of an object literal where a spread makes no sense (headers, query).
    fn plain_fields<'e>(&mut self, items: &'e [ast::ObjectItem], what: &str) -> Vec<&'e ast::ObjectField> {
        let mut out = Vec::new();
        for item in items {
            match item {
                ast::ObjectItem::Field(f) => out.push(f),
                ast::ObjectItem::Spread(e) => self.report(
                    Diagnostic::new(codes::BAD_PROPERTY, format!("{what} lists its entries one by one"))
                        .primary(e.span, "a spread here")
                        .help("write each entry as `name: value`"),
                ),
            }
        }
        out
    }

    fn duration_setting(&mut self, e: &ast::Expr, what: &str) -> Option<u64> {
        match e.kind {
            ExprKind::Duration(ms) if ms > 0 && ms <= MAX_TIMEOUT_MS => Some(ms),
            ExprKind::Duration(_) => {
                self.report(
                    Diagnostic::new(codes::BAD_DURATION, format!("`{what}` must be between 1ms and 24h"))
                        .primary(e.span, "out of range")
                        .help("write a duration such as `10s` or `500ms`"),
                );
                None
            }
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_DURATION, format!("`{what}` must be a duration"))
                        .primary(e.span, "not a duration")
                        .help("write a number with a unit: `500ms`, `10s`, `2m`, `1h`"),
                );
                None
            }
        }
    }

    /// `place: "query"` (the default) or `place: "body"`: where a cursor, page or offset is sent.
    fn pagination_place(&mut self, place: Option<&ast::Expr>, object_body: bool) -> Option<bool> {
        let Some(place) = place else { return Some(false) };
        match &place.kind {
            ExprKind::Str(s) if s == "query" => Some(false),
            ExprKind::Str(s) if s == "body" && object_body => Some(true),
            ExprKind::Str(s) if s == "body" => {
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, "paging in the body needs an object body")
                        .primary(place.span, "the endpoint has no object body")
                        .help("declare the body after the path, `(body: { query: String })`, and pass it in the `for`"),
                );
                None
            }
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, "`place` is \"query\" or \"body\"")
                        .primary(place.span, "not a place")
                        .help("write `place: \"body\"` to send the cursor, page or offset in the JSON body"),
                );
                None
            }
        }
    }

    /// `retry = { attempts: 5, backoff: exponential(200ms, max: 30s) }`.
    fn retry_setting(&mut self, e: &ast::Expr) -> Option<plan::Retry> {
        let usage = "write `retry = { attempts: 5, backoff: exponential(200ms, max: 30s) }` (attempts 1 to 20; 1 means no retry)";
        let bad = |cx: &mut Self, span: Span, what: &str| {
            cx.report(
                Diagnostic::new(codes::BAD_PROPERTY, format!("invalid retry policy: {what}"))
                    .primary(span, "here")
                    .help(usage),
            );
            None
        };
        let ExprKind::Object(items) = &e.kind else { return bad(self, e.span, "not an object") };
        let mut retry = plan::Retry::default();
        for f in self.plain_fields(items, "`retry`") {
            match (f.name.name.as_str(), &f.value.kind) {
                ("attempts", ExprKind::Int(n)) if (1..=20).contains(n) => retry.attempts = *n as u32,
                ("backoff", ExprKind::Call { callee, args }) if callee.name == "exponential" => {
                    let base = args.iter().find(|a| a.name.is_none()).map(|a| &a.value.kind);
                    let max =
                        args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == "max")).map(|a| &a.value.kind);
                    match (base, max, args.len()) {
                        (Some(ExprKind::Duration(b)), Some(ExprKind::Duration(m)), 2) if *b > 0 && m >= b => {
                            retry.base_ms = *b;
                            retry.max_ms = *m;
                        }
                        (Some(ExprKind::Duration(b)), None, 1) if *b > 0 => retry.base_ms = *b,
                        _ => {
                            return bad(
                                self,
                                f.value.span,
                                "the backoff is `exponential(BASE, max: CAP)` with 0 < BASE ≤ CAP",
                            )
                        }
                    }
                }
                ("attempts", _) => return bad(self, f.value.span, "`attempts` is a whole number from 1 to 20"),
                ("backoff", _) => {
                    return bad(self, f.value.span, "the backoff is `exponential(BASE, max: CAP)` with 0 < BASE ≤ CAP")
                }
                (name, _) => {
                    return bad(self, f.name.span, &format!("`{name}` is not a retry setting (`attempts`, `backoff`)"))
                }
            }
        }
        Some(retry)
    }

    /// `rate_limit = 10/s` (or `/min`, `/h`).
    fn rate_setting(&mut self, e: &ast::Expr) -> Option<plan::Rate> {
        match e.kind {
            ExprKind::Rate { requests, per_ms } if (1..=1_000_000).contains(&requests) => {
                Some(plan::Rate { requests: requests as u32, per_ms })
            }
            _ => {
                self.report(
                    Diagnostic::new(
                        codes::BAD_PROPERTY,
                        "`rate_limit` must be a rate such as `10/s`, `600/min` or `5000/h`",
                    )
                    .primary(e.span, "not a rate")
                    .help("write requests per second, minute or hour: `rate_limit = 10/s`"),
                );
                None
            }
        }
    }

    fn concurrency_setting(&mut self, e: &ast::Expr) -> Option<u32> {
        match e.kind {
            ExprKind::Int(n) if (1..=MAX_CONCURRENCY).contains(&n) => u32::try_from(n).ok(),
            _ => {
                self.report(
                    Diagnostic::new(
                        codes::BAD_PROPERTY,
                        format!("`concurrency` must be a whole number from 1 to {MAX_CONCURRENCY}"),
                    )
                    .primary(e.span, "not in 1..=1024")
                    .help("write e.g. `concurrency = 8`"),
                );
                None
            }
        }
    }

    // ------------------------------------------------------------------ endpoints

    pub(crate) fn check_endpoints(&mut self) {
        let decls = self.endpoint_decls.clone();
        for d in decls {
            let e = self.endpoint(d);
            self.endpoints.push(e);
        }
    }

    fn endpoint(&mut self, d: &ast::EndpointDecl) -> Option<EndpointM> {
        let errors_before = self.error_count();
        let api = self.resolve_global(&d.api, Kind::Api, codes::UNKNOWN_API);
        let mut params: Vec<(String, Ty)> = Vec::new();
        let mut param_spans: Vec<Span> = Vec::new();
        let mut body = None;
        for p in &d.params {
            let ty = self.type_expr(&p.ty);
            if params.iter().any(|(n, _)| *n == p.name.name) || (p.name.name == "body" && body.is_some()) {
                self.report(
                    Diagnostic::new(codes::DUPLICATE, format!("parameter `{}` is declared twice", p.name.name))
                        .primary(p.name.span, "declared again here")
                        .help("remove one of them"),
                );
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
        let mut paginate = None;
        let mut stop = plan::Stop::default();
        let mut retry = None;
        let mut timeout_ms = None;
        let mut idempotent = false;
        let mut max_pages = None;
        for p in &d.props {
            match p.name.name.as_str() {
                "retry" => retry = self.retry_setting(&p.value),
                "timeout" => timeout_ms = self.duration_setting(&p.value, "timeout"),
                "idempotent" => match p.value.kind {
                    ExprKind::Bool(b) => idempotent = b,
                    _ => self.report(
                        Diagnostic::new(codes::BAD_PROPERTY, "`idempotent` takes `true` or `false`")
                            .primary(p.value.span, "not a Bool literal")
                            .help("write `idempotent = true` when repeating the request is harmless"),
                    ),
                },
                "max_pages" => match p.value.kind {
                    ExprKind::Int(n) if n >= 1 => max_pages = u64::try_from(n).ok(),
                    _ => self.report(
                        Diagnostic::new(codes::BAD_PROPERTY, "`max_pages` must be a whole number of at least 1")
                            .primary(p.value.span, "not a page count")
                            .help("write e.g. `max_pages = 1000`"),
                    ),
                },
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
                    if let Some((path, ty)) =
                        self.response_path(&p.value, response.as_ref(), codes::BAD_RECORDS, "records")
                    {
                        match self.types.resolve(&self.types.non_null(&ty)).clone() {
                            Ty::Array(item) => {
                                records = Some(path);
                                record_ty = Some((*item).clone());
                            }
                            Ty::Error => {}
                            other => {
                                let shown = self.types.display(&other);
                                self.report(
                                    Diagnostic::new(codes::BAD_RECORDS, "the records path does not lead to an array")
                                        .primary(p.value.span, format!("this is a `{shown}`"))
                                        .help("point `records` at the array of records in the response, e.g. `records = response.items`"),
                                );
                            }
                        }
                    }
                }
                "paginate" => {
                    let object_body = body.as_ref().is_some_and(|b| matches!(self.types.resolve(b), Ty::Object(_)));
                    paginate = self.pagination(&p.value, response.as_ref(), object_body);
                    stop = self.pagination_stop(&p.value, response.as_ref());
                }
                _ => self.unknown_property(&p.name, "an endpoint", &ENDPOINT_PROPERTIES),
            }
        }
        if records.is_none() && !d.props.iter().any(|p| p.name.name == "records") {
            if let Some(Ty::Array(item)) = response.as_ref().map(|r| self.types.resolve(r).clone()) {
                records = Some(Vec::new());
                record_ty = Some((*item).clone());
            }
        }
        let records_declared = d.props.iter().any(|p| p.name.name == "records");
        if let (Some(p), None, false) = (&paginate, &records, records_declared) {
            let span = p.span();
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, "pagination without records")
                    .primary(span, "pages of what?")
                    .help("say where each page's records are: `records = response.items`"),
            );
        }
        // Every parameter must be sent somewhere.
        let unsent: Vec<(String, Span)> = params
            .iter()
            .zip(&param_spans)
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
        if self.error_count() > errors_before {
            return None;
        }
        Some(EndpointM {
            name: d.name.name.clone(),
            api: api?,
            method: d.method,
            path,
            params,
            body,
            query,
            headers,
            response,
            records,
            record_ty,
            paginate,
            stop,
            retry,
            timeout_ms,
            idempotent,
            max_pages,
            span: d.span,
        })
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
                    let scalar = matches!(
                        self.types.resolve(ty),
                        Ty::String | Ty::Int | Ty::Union(_) | Ty::Decimal | Ty::Date | Ty::Bool | Ty::Error
                    );
                    if !scalar {
                        let shown = self.types.display(ty);
                        self.report(
                            Diagnostic::new(
                                codes::PATH_PARAMS,
                                format!("path parameter `{name}` must be a non-null scalar, not `{shown}`"),
                            )
                            .primary(span, "used in the path here")
                            .help("path parameters are String, Int, Decimal, Bool, Date or a string union"),
                        );
                    }
                    parts.push(plan::PathPart::Param(name.to_string()));
                }
                None => {
                    let help = match suggest(name, params.iter().map(|(n, _)| n.as_str())) {
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
            out.push((f.name.name.clone(), pe));
        }
        out
    }

    /// `response.a.b`: the path and the type at its end.
    fn response_path(
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
                        ty = f.ty.clone();
                        // For editors: the path so far has the field's type.
                        let path = Span::new(e.span.start as usize, name.span.end as usize);
                        self.info.expr_types.push((path, self.types.display(&ty)));
                    }
                    None => {
                        // For editors: the fields a name here could be.
                        let choices = fields.iter().map(|f| (f.name.clone(), self.types.display(&f.ty))).collect();
                        self.info.field_choices.push((name.span, choices));
                        let help = match suggest(&name.name, fields.iter().map(|f| f.name.as_str())) {
                            Some(s) => flow_diagnostics::did_you_mean(name.span, s),
                            None => format!(
                                "the response has: {}",
                                fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                            )
                            .into(),
                        };
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

    /// `more: response.has_more` and `total: response.total`, on any pagination kind.
    fn pagination_stop(&mut self, e: &ast::Expr, response: Option<&Ty>) -> plan::Stop {
        let mut stop = plan::Stop::default();
        let ExprKind::Call { args, .. } = &e.kind else { return stop };
        for a in args {
            let Some(name) = &a.name else { continue };
            let (want, what) = match name.name.as_str() {
                "more" => (Ty::Bool, "a Bool (go on while it is true)"),
                "total" => (Ty::Int, "an Int (the number of records in all)"),
                _ => continue,
            };
            let Some((path, ty)) = self.response_path(&a.value, response, codes::BAD_PAGINATION, &name.name) else {
                continue;
            };
            let found = self.types.resolve(&self.types.non_null(&ty)).clone();
            if found != want && found != Ty::Error {
                let shown = self.types.display(&ty);
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, format!("`{}` must lead to {what}, not `{shown}`", name.name))
                        .primary(a.value.span, format!("this is `{shown}`"))
                        .help("point it at the response field that says whether more pages follow, or how many records there are"),
                );
                continue;
            }
            if name.name == "more" {
                stop.more = Some(path);
            } else {
                stop.total = Some(path);
            }
        }
        stop
    }

    fn pagination(&mut self, e: &ast::Expr, response: Option<&Ty>, object_body: bool) -> Option<plan::Pagination> {
        const KINDS: &str = "cursor(param: \"cursor\", from: response.next_cursor), next_url(from: response.next), link_header(), page(param: \"page\", start: 1) or offset(param: \"offset\", size: 100, limit_param: \"limit\")";
        let ExprKind::Call { callee, args } = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, "`paginate` must be a pagination kind")
                    .primary(e.span, "not a pagination kind")
                    .help(format!("write {KINDS}")),
            );
            return None;
        };
        // `more:` and `total:` are read by `pagination_stop`; the kinds see the other arguments.
        let args: Vec<ast::Arg> = args
            .iter()
            .filter(|a| !a.name.as_ref().is_some_and(|n| n.name == "more" || n.name == "total"))
            .cloned()
            .collect();
        let args = args.as_slice();
        let named = |n: &str| args.iter().find(|a| a.name.as_ref().is_some_and(|x| x.name == n)).map(|a| &a.value);
        let span = e.span;
        let bad_args = |cx: &mut Self| {
            cx.report(
                Diagnostic::new(codes::BAD_PAGINATION, format!("wrong arguments for `{}`", callee.name))
                    .primary(span, "these arguments")
                    .help(format!("write {KINDS}")),
            );
            None
        };
        let allowed =
            |names: &[&str]| args.iter().all(|a| a.name.as_ref().is_some_and(|n| names.contains(&n.name.as_str())));
        match callee.name.as_str() {
            "link_header" => {
                return if args.is_empty() { Some(plan::Pagination::LinkHeader { span }) } else { bad_args(self) };
            }
            "page" => {
                if !allowed(&["param", "start", "place"]) {
                    return bad_args(self);
                }
                let param = self.literal_string(named("param")?, "the page parameter")?;
                let start = match named("start").map(|s| &s.kind) {
                    None => 1,
                    Some(ExprKind::Int(n)) => *n,
                    Some(_) => return bad_args(self),
                };
                let in_body = self.pagination_place(named("place"), object_body)?;
                return Some(plan::Pagination::Page { param, start, span, in_body });
            }
            "offset" => {
                if !allowed(&["param", "size", "limit_param", "place"]) {
                    return bad_args(self);
                }
                let param = self.literal_string(named("param")?, "the offset parameter")?;
                let size = match named("size").map(|s| &s.kind) {
                    Some(ExprKind::Int(n)) if *n >= 1 => *n as u64,
                    _ => return bad_args(self),
                };
                let limit_param = match named("limit_param") {
                    Some(l) => Some(self.literal_string(l, "the limit parameter")?),
                    None => None,
                };
                let in_body = self.pagination_place(named("place"), object_body)?;
                return Some(plan::Pagination::Offset { param, limit_param, size, span, in_body });
            }
            _ => {}
        }
        let from = named("from");
        let param = named("param");
        let expected_args = match callee.name.as_str() {
            "cursor" => 2,
            "next_url" => 1,
            other => {
                let help = match suggest(other, ["cursor", "next_url", "link_header", "page", "offset"]) {
                    Some(s) => flow_diagnostics::Help::from(format!("did you mean `{s}`? The kinds: {KINDS}"))
                        .with_fix(Fix::replace(callee.span, s)),
                    None => format!("the kinds: {KINDS}").into(),
                };
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, format!("unknown pagination kind `{other}`"))
                        .primary(callee.span, "not a pagination kind")
                        .help(help),
                );
                return None;
            }
        };
        let placed = usize::from(named("place").is_some() && callee.name == "cursor");
        let Some(from) =
            from.filter(|_| args.len() == expected_args + placed && (expected_args == 1 || param.is_some()))
        else {
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, format!("wrong arguments for `{}`", callee.name))
                    .primary(e.span, "these arguments")
                    .help(format!("write {KINDS}")),
            );
            return None;
        };
        let (path, ty) = self.response_path(from, response, codes::BAD_PAGINATION, "from")?;
        let ok = match callee.name.as_str() {
            "cursor" => matches!(self.types.resolve(&self.types.non_null(&ty)), Ty::String | Ty::Int | Ty::Error),
            _ => matches!(self.types.resolve(&self.types.non_null(&ty)), Ty::String | Ty::Error),
        };
        if !ok {
            let shown = self.types.display(&ty);
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, format!("`from` must lead to a {}, not `{shown}`", if callee.name == "cursor" { "String or Int cursor" } else { "String URL" }))
                    .primary(from.span, format!("this is `{shown}`"))
                    .help("point `from` at the field that holds the next cursor or URL, declared nullable (`String?`) since the last page has none"),
            );
            return None;
        }
        let span = e.span;
        Some(match callee.name.as_str() {
            "cursor" => plan::Pagination::Cursor {
                param: self.literal_string(param?, "the cursor parameter")?,
                from: path,
                span,
                in_body: self.pagination_place(named("place"), object_body)?,
            },
            _ => plan::Pagination::NextUrl { from: path, span },
        })
    }

    // ------------------------------------------------------------------ maps

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

    /// The parameters of a map or function, resolved; a name given twice is E0101.
    pub(crate) fn signature_params(&mut self, params: &[ast::Param]) -> Vec<(String, Ty)> {
        let mut out: Vec<(String, Ty)> = Vec::new();
        for p in params {
            let ty = self.type_expr(&p.ty);
            if out.iter().any(|(n, _)| *n == p.name.name) {
                self.report(
                    Diagnostic::new(codes::DUPLICATE, format!("parameter `{}` is declared twice", p.name.name))
                        .primary(p.name.span, "declared again here")
                        .help("rename one of them"),
                );
            }
            out.push((p.name.name.clone(), ty));
        }
        out
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
                        self.report(
                            Diagnostic::new(codes::FIELD_TWICE, format!("field `{}` is set twice", f.name.name))
                                .primary(f.name.span, "set again here")
                                .secondary(*first, "first set here")
                                .help("set each field once; combine the two values with `if … then … else` or `??`"),
                        );
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
                            let help = match suggest(&f.name.name, unset) {
                                Some(s) => flow_diagnostics::did_you_mean(f.name.span, s),
                                None => format!(
                                    "`{target_name}` has: {}",
                                    target_fields.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                                )
                                .into(),
                            };
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

    fn let_value(&mut self, l: &ast::Let, scope: &mut Scope) -> (Ty, plan::Expr) {
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

    fn shadowing(&mut self, name: &ast::Ident) {
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

    // ------------------------------------------------------------------ flows

    pub(crate) fn check_flows(&mut self) {
        let decls = self.flow_decls.clone();
        for d in decls {
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
            let body = self.stmts(&d.body, &mut scope, Some(&mut settings));
            let mut diags = Vec::new();
            scope.truncate(0, &mut diags);
            self.diagnostics.append(&mut diags);
            if !d.body.iter().any(|s| matches!(s, ast::Stmt::For(_) | ast::Stmt::Call(_) | ast::Stmt::Let(_))) {
                self.report(
                    Diagnostic::new(codes::BAD_STATEMENT, format!("flow `{}` does nothing", d.name.name))
                        .primary(d.name.span, "no steps")
                        .help("add a step: `for x in endpoint { … }` or a call of an endpoint"),
                );
            }
            self.flows.push(plan::Flow {
                name: d.name.name.clone(),
                concurrency: 0,
                on_error: plan::OnError::Fail,
                body,
                span: d.span,
            });
            self.flow_settings.push(settings);
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
                        if self.names.get(&callee.name).is_some_and(|r| r.kind == Kind::Map)
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
                        } else {
                            self.unknown_callee(callee, true);
                        }
                    }
                },
                ast::Stmt::For(f) => {
                    if let Some(step) = self.for_stmt(f, scope) {
                        steps.push(step);
                    }
                }
            }
        }
        let mut diags = Vec::new();
        scope.truncate(mark, &mut diags);
        self.diagnostics.append(&mut diags);
        steps
    }

    fn endpoints_ty(&self, index: usize) -> Ty {
        self.endpoints.get(index).and_then(|e| e.as_ref()).map_or(Ty::Error, |e| e.response.clone().unwrap_or(Ty::Null))
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
            _ => self.unknown_property(&p.name, "a flow", &FLOW_PROPERTIES),
        }
    }

    /// If `e` calls (or names) an endpoint: its index, the name and the arguments.
    fn endpoint_callee<'e>(&self, e: &'e ast::Expr) -> Option<(usize, &'e ast::Ident, &'e [ast::Arg])> {
        let (name, args): (&ast::Ident, &[ast::Arg]) = match &e.kind {
            ExprKind::Call { callee, args } => (callee, args),
            ExprKind::Name(id) => (id, &[]),
            _ => return None,
        };
        match self.names.get(&name.name) {
            Some(r) if r.kind == Kind::Endpoint => Some((r.index, name, args)),
            _ => None,
        }
    }

    fn for_stmt(&mut self, f: &ast::For, scope: &mut Scope) -> Option<plan::Step> {
        let Some((index, callee, args)) = self.endpoint_callee(&f.source) else {
            if let ExprKind::Name(id) | ExprKind::Call { callee: id, .. } = &f.source.kind {
                if let Some(r) = self.names.get(&id.name).copied().filter(|_| !scope.contains(&id.name)) {
                    self.note_use(r, id.span);
                }
            }
            match &f.source.kind {
                ExprKind::Name(id) | ExprKind::Call { callee: id, .. }
                    if !self.names.contains_key(&id.name) && !scope.contains(&id.name) =>
                {
                    self.unknown_callee(id, true);
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
        let record_ty = match self.endpoints.get(index).and_then(|e| e.as_ref()) {
            Some(e) => match &e.record_ty {
                Some(t) => t.clone(),
                None => {
                    let name = &self.endpoint_decls[index].name;
                    self.report(
                        Diagnostic::new(
                            codes::NOT_A_SOURCE,
                            format!("endpoint `{}` does not say where its records are", name.name),
                        )
                        .primary(f.source.span, "iterated here")
                        .secondary(name.span, "declared without `records`")
                        .help("add `records = response.items` (the array of records) to the endpoint"),
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
        let body = self.stmts(&f.body, scope, None);
        self.loop_depth -= 1;
        let mut diags = Vec::new();
        scope.truncate(mark, &mut diags);
        self.diagnostics.append(&mut diags);
        Some(plan::Step::For { var: f.var.name.clone(), source: source?, filter, body, span: f.span })
    }

    fn endpoint_call(
        &mut self,
        index: usize,
        callee: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        scope: &mut Scope,
    ) -> Option<plan::EndpointCall> {
        self.used.insert((Kind::Endpoint, index));
        if let Some(r) = self.names.get(&callee.name).copied() {
            self.note_use(r, callee.span);
        }
        // A named argument is a use of the endpoint's parameter of that name (`body`,
        // `idempotency_key` and `batch` are words of the language, not names).
        let decl = self.endpoint_decls[index];
        for a in args {
            let Some(n) = &a.name else { continue };
            if let Some(p) = decl.params.iter().find(|p| p.name.name == n.name && p.name.name != "body") {
                self.note_local_use(p.name.span, n.span);
            }
        }
        let name = self.endpoint_decls[index].name.name.clone();
        let Some(Some(ep)) = self.endpoints.get(index) else {
            // The endpoint has errors of its own; check the arguments' expressions anyway.
            for a in args {
                self.infer(&a.value, scope);
            }
            return None;
        };
        let params = ep.params.clone();
        let mut body_ty = ep.body.clone();
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
        // `batch: N`: each call adds one item to an array body.
        let batch = match bound.args[batch_at] {
            None => None,
            Some(a) => {
                let item = body_ty.as_ref().and_then(|b| match self.types.resolve(b) {
                    Ty::Array(item) => Some((**item).clone()),
                    _ => None,
                });
                match (&a.value.kind, item) {
                    (ExprKind::Int(n), Some(item)) if (1..=10_000).contains(n) => {
                        body_ty = Some(item);
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
                        ok = false;
                        None
                    }
                    _ => {
                        self.report(
                            Diagnostic::new(codes::BAD_ARGUMENTS, "`batch` is a whole number from 1 to 10000")
                                .primary(a.value.span, "not a batch size")
                                .help("write e.g. `batch: 100`"),
                        );
                        ok = false;
                        None
                    }
                }
            }
        };
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
            let help = match value.kind {
                ExprKind::Call { ref callee, .. } => {
                    format!("`{}` returns `{found}`; call a map that returns `{expected}`", callee.name)
                }
                _ => format!(
                    "build the body with a map that returns `{expected}`: `{endpoint}(body: to_x({}))`",
                    path_text(value).unwrap_or_else(|| "…".into())
                ),
            };
            self.report(d.help(help));
        }
        pe
    }

    // ------------------------------------------------------------------ unused

    pub(crate) fn unused(&mut self) {
        let mut found = Vec::new();
        for (kind, decls) in [
            (Kind::Secret, self.secrets.iter().map(|d| &d.name).collect::<Vec<_>>()),
            (Kind::Api, self.api_decls.iter().map(|d| &d.name).collect()),
            (Kind::Type, self.type_decls.iter().map(|d| &d.name).collect()),
            (Kind::Endpoint, self.endpoint_decls.iter().map(|d| &d.name).collect()),
            (Kind::Map, self.map_decls.iter().map(|d| &d.name).collect()),
            (Kind::Table, self.table_decls.iter().map(|d| &d.name).collect()),
            (Kind::Function, self.fn_decls.iter().map(|d| &d.name).collect()),
        ] {
            for (i, name) in decls.into_iter().enumerate() {
                let is_first = self.names.get(&name.name).is_some_and(|r| r.kind == kind && r.index == i);
                if is_first && !self.used.contains(&(kind, i)) && !name.name.starts_with('_') {
                    found.push(
                        Diagnostic::new(codes::UNUSED, format!("{} `{}` is never used", kind.word(), name.name))
                            .primary(name.span, "declared here")
                            .help("remove it, or use it; a name starting with `_` is exempt"),
                    );
                }
            }
        }
        self.diagnostics.append(&mut found);
    }
}

fn push<'a, T>(v: &mut Vec<&'a T>, item: &'a T) -> usize {
    v.push(item);
    v.len() - 1
}
