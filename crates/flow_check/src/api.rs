//! `api` declarations: base URL, auth, headers and the request policy (timeouts, concurrency,
//! retry, rate limit, TLS).
//!
//! - `check_apis` / `api`: one declaration's properties, in the order written.
//! - `base_url`: an absolute http(s) URL, plain http only where allowed.
//! - `auth`: the auth kinds (bearer, basic, api_key, JWT, OAuth2), their arguments checked.
//! - `template`: text joined from literals and secrets (tokens, header values).

use flow_diagnostics::{codes, suggest, Diagnostic, Fix};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::{Checker, NameKind};

/// The settings an `api` block takes, each with the line an editor shows for it.
pub const API_PROPERTIES: [(&str, &str); 13] = [
    ("base_url", "the API's absolute https URL; endpoint paths are joined to it"),
    ("auth", "how requests authenticate: bearer, basic, api_key, JWT or OAuth2"),
    ("headers", "headers sent with every request to this API"),
    ("timeout", "how long one request may take, e.g. `10s`"),
    ("connect_timeout", "how long connecting may take, e.g. `2s`"),
    ("concurrency", "the most requests in flight to this API at once"),
    ("allow_http", "whether a plain `http://` base URL is allowed"),
    ("retry", "which failures are retried, how often and with what backoff"),
    ("rate_limit", "the most requests sent per period"),
    ("tls_verify", "whether the server's certificate is verified"),
    ("error_when", "when an answer with a success status is an error (an expression over `response`)"),
    ("error_message", "the message of such an error"),
    ("error_transient", "when such an error is retried"),
];

impl Checker<'_> {
    pub(crate) fn check_apis(&mut self) {
        for i in 0..self.decls.apis.len() {
            self.decls.apis.rows[i].checked = self.api(self.decls.apis.decl(i));
        }
    }

    fn api(&mut self, d: &ast::ApiDecl) -> Option<plan::Api> {
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
                // Checked against each endpoint's answer (`answer_errors`).
                "error_when" | "error_message" | "error_transient" => {}
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
                _ => self.unknown_property(&p.name, "an api", &API_PROPERTIES.map(|(name, _)| name)),
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
        Some(plan::Api {
            name: d.name.name.clone(),
            base_url: base_url?,
            auth,
            headers,
            timeout_ms: timeout_ms.unwrap_or(plan::DEFAULT_TIMEOUT_MS),
            connect_timeout_ms: connect_timeout_ms.unwrap_or(plan::DEFAULT_CONNECT_TIMEOUT_MS),
            concurrency: concurrency.unwrap_or(plan::DEFAULT_API_CONCURRENCY),
            retry: retry.unwrap_or_default(),
            rate_limit,
            tls_verify,
            allow_http,
            span: d.span,
        })
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
        let bad = |checker: &mut Checker, why: String| {
            checker.report(
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
                let index = self.resolve_global(id, NameKind::Secret, codes::UNKNOWN_NAME)?;
                Some(plan::Template(vec![plan::Part::Secret(self.decls.secrets.decl(index).name.name.clone())]))
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

    // Long because it is one arm per auth kind (bearer, basic, jwt, the two OAuth2 grants), each
    // checking its own arguments; a new kind is a new arm.
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
        // The secrets the call names are used by it, whether or not its arguments are right: a
        // malformed call is one diagnostic (E0404), not also "never used" for its secrets.
        for a in args {
            self.secrets_used_in(&a.value);
        }
        // A name given twice would bind its first value and drop the second without a word
        // (and the second's secret would count as used): refused.
        let mut seen: Vec<&str> = Vec::new();
        for n in args.iter().filter_map(|a| a.name.as_ref()) {
            if seen.contains(&n.name.as_str()) {
                self.report(
                    Diagnostic::new(
                        codes::BAD_AUTH,
                        format!("argument `{}` of `{}` is given twice", n.name, callee.name),
                    )
                    .primary(n.span, "given again here")
                    .help("give each argument once"),
                );
                return None;
            }
            seen.push(&n.name);
        }
        let positional: Vec<&ast::Expr> = args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
        let named = |n: &str| args.iter().find(|a| a.name.as_ref().is_some_and(|x| x.name == n)).map(|a| &a.value);
        let bad_args = |checker: &mut Checker, usage: &str| {
            checker.report(
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

    /// Marks every secret a value of an auth call names as used (a name, a `+` of them, an
    /// object's values): the names as written, before the call's shape is judged.
    fn secrets_used_in(&mut self, e: &ast::Expr) {
        match &e.kind {
            ExprKind::Name(id) => {
                if let Some(r) = self.names.get(&id.name).filter(|r| r.kind == NameKind::Secret) {
                    self.names.mark_used(NameKind::Secret, r.index);
                }
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                self.secrets_used_in(lhs);
                self.secrets_used_in(rhs);
            }
            ExprKind::Call { args, .. } => {
                for a in args {
                    self.secrets_used_in(&a.value);
                }
            }
            ExprKind::Object(items) => {
                for item in items {
                    if let ast::ObjectItem::Field(f) = item {
                        self.secrets_used_in(&f.value);
                    }
                }
            }
            ExprKind::Array(items) => {
                for item in items {
                    self.secrets_used_in(item);
                }
            }
            _ => {}
        }
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
}
