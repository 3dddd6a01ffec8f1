//! Authorization: what each api's requests carry, added to a request as it is sent. Basic,
//! bearer and api keys (header or query) come straight from the api's templates; a token the run
//! obtains is cached per api, from a token endpoint (`oauth2.rs`) or signed here (`jwt.rs`).
//! Every credential the requests carry that is not a declared secret as it is (base64 of basic
//! auth, a secret joined with text, an obtained token) is registered with the run's secrets, so
//! it is redacted like them. A new auth kind goes here: its variant of `flow_plan::Auth`, how it
//! is added in [`Credentials::add_to_request`], what it registers, and what it sends in
//! [`uses_secret`].

mod jwt;
mod oauth2;

pub(crate) use jwt::jwt_key;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flow_diagnostics::codes;
use flow_plan::{Api, Auth, Plan, Template};

use crate::http::{Failure, RetryNote};
use crate::secrets::{Form, Secrets};

/// The credentials of every api of a run.
pub(crate) struct Credentials {
    /// Tokens per api (OAuth2, JWT). The lock is held while a token is fetched, so concurrent
    /// requests wait for one fetch instead of each making their own, and share its failure too.
    tokens: Vec<tokio::sync::Mutex<Slot>>,
    /// JWT signing keys, parsed before the run starts so a bad key fails before any request.
    jwt_keys: Vec<Option<jsonwebtoken::EncodingKey>>,
    secrets: Arc<Secrets>,
}

/// An api's token, as far as the run knows.
enum Slot {
    Empty,
    Valid(Token),
    /// The token endpoint refused the credentials, or could not be reached with the api's
    /// retries: every request that needs a token from now on fails with this, and no other
    /// token request is made.
    Failed(Failure),
}

struct Token {
    value: secrecy::SecretString,
    /// When to renew it: before it really expires. `None`: the token endpoint did not say how
    /// long the token lives, so it is used until the api refuses it (a 401), then renewed once.
    expires: Option<Instant>,
    /// A refresh token the server rotated in, for the next renewal.
    refresh: Option<secrecy::SecretString>,
}

/// A token is renewed this long before it expires, or at half its life if that is shorter.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// When a token that lives `ttl` from `now` should be renewed.
fn renew_at(now: Instant, ttl: Duration) -> Instant {
    now + ttl - TOKEN_MARGIN.min(ttl / 2)
}

impl Credentials {
    /// Registers the credentials derived from secrets, and parses JWT keys: a key that cannot
    /// sign fails the run before any request.
    pub(crate) fn new(plan: &Plan, secrets: Arc<Secrets>) -> Result<Credentials, Failure> {
        let tokens = plan.apis.iter().map(|_| tokio::sync::Mutex::new(Slot::Empty)).collect();
        let mut credentials = Credentials { tokens, jwt_keys: Vec::new(), secrets };
        for api in &plan.apis {
            credentials.register_derived(api);
        }
        for api in &plan.apis {
            let key = match &api.auth {
                Auth::Jwt { algorithm, key, .. } => {
                    let material = credentials.template(key);
                    let parsed = jwt_key(algorithm, &material, &api.name)
                        .map_err(|why| Failure::new(codes::AUTH_FAILED, format!("{why}; no request was sent")))?;
                    Some(parsed)
                }
                _ => None,
            };
            credentials.jwt_keys.push(key);
        }
        Ok(credentials)
    }

    fn template(&self, t: &Template) -> String {
        resolve(t, &self.secrets).unwrap_or_default()
    }

    /// Registers, as secrets, the credentials an api's requests carry that are not a declared
    /// secret as it is: the base64 of basic auth's `user:password`, and every auth or header
    /// value that joins a secret with text or with another secret (two secrets side by side are
    /// no whole word each, so only the joined value can be found).
    fn register_derived(&self, api: &Api) {
        let mut templates: Vec<(&str, &Template)> = Vec::new();
        match &api.auth {
            Auth::None => {}
            Auth::Bearer { token } => templates.push(("bearer token", token)),
            Auth::Basic { user, password } => {
                templates.push(("basic user", user));
                templates.push(("basic password", password));
                if user.0.iter().chain(&password.0).any(|p| matches!(p, flow_plan::Part::Secret(_))) {
                    use base64::Engine as _;
                    let pair = format!("{}:{}", self.template(user), self.template(password));
                    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                    self.secrets.register(&format!("basic credentials of api {}", api.name), &encoded, Form::Base64);
                }
            }
            Auth::ApiKeyHeader { value, .. } | Auth::ApiKeyQuery { value, .. } => templates.push(("key", value)),
            Auth::OAuth2ClientCredentials { client_id, client_secret, .. } => {
                templates.push(("client id", client_id));
                templates.push(("client secret", client_secret));
            }
            Auth::OAuth2RefreshToken { client_id, client_secret, refresh_token, .. } => {
                templates.push(("client id", client_id));
                templates.push(("client secret", client_secret));
                templates.push(("refresh token", refresh_token));
            }
            Auth::Jwt { .. } => {}
        }
        let headers: Vec<(String, &Template)> =
            api.headers.iter().map(|h| (format!("header {}", h.name), &h.value)).collect();
        for (what, t) in templates.into_iter().map(|(w, t)| (w.to_string(), t)).chain(headers) {
            let joined = t.0.len() > 1 && t.0.iter().any(|p| matches!(p, flow_plan::Part::Secret(_)));
            if joined {
                self.secrets.obtained(&format!("{what} of api {}", api.name), &self.template(t));
            }
        }
    }

    /// The token a request to the api carries, for the auth kinds that obtain one (OAuth2, JWT);
    /// `None` for the others. `stale` is a token the api refused: replaced, once.
    pub(crate) async fn bearer(
        &self,
        api_index: usize,
        api: &Api,
        client: Option<&reqwest::Client>,
        stale: Option<&str>,
        retries: &mut Vec<RetryNote>,
    ) -> Result<Option<String>, Failure> {
        match &api.auth {
            Auth::Jwt { algorithm, claims, ttl_ms, .. } => {
                self.signed(api_index, api, algorithm, claims, *ttl_ms, stale).await.map(Some)
            }
            Auth::OAuth2ClientCredentials { .. } | Auth::OAuth2RefreshToken { .. } => {
                let Some(client) = client else {
                    return Err(Failure::new(codes::AUTH_FAILED, "internal error: no client for the token endpoint"));
                };
                self.oauth2_token(api_index, api, client, stale, retries).await.map(Some)
            }
            Auth::None
            | Auth::Bearer { .. }
            | Auth::Basic { .. }
            | Auth::ApiKeyHeader { .. }
            | Auth::ApiKeyQuery { .. } => Ok(None),
        }
    }

    /// An api key that travels in the query. Set, never appended: a next-page link may carry
    /// the key already.
    pub(crate) fn add_to_query(&self, url: &mut url::Url, api: &Api) {
        if let Auth::ApiKeyQuery { param, value } = &api.auth {
            crate::http::set_query_param(url, param, &self.template(value));
        }
    }

    /// The api's auth header (`bearer` is the token [`Credentials::bearer`] gave) and its
    /// declared headers.
    pub(crate) fn add_to_request(
        &self,
        req: reqwest::RequestBuilder,
        api: &Api,
        bearer: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = match &api.auth {
            Auth::None | Auth::ApiKeyQuery { .. } => req,
            Auth::OAuth2ClientCredentials { .. } | Auth::OAuth2RefreshToken { .. } | Auth::Jwt { .. } => {
                req.bearer_auth(bearer.unwrap_or_default())
            }
            Auth::Bearer { token } => req.bearer_auth(self.template(token)),
            Auth::Basic { user, password } => req.basic_auth(self.template(user), Some(self.template(password))),
            Auth::ApiKeyHeader { header, value } => req.header(header.as_str(), self.template(value)),
        };
        for h in &api.headers {
            req = req.header(h.name.as_str(), self.template(&h.value));
        }
        req
    }
}

/// A template's text with its secrets filled in; `None` when a secret it names is not set.
pub(crate) fn resolve(t: &Template, secrets: &Secrets) -> Option<String> {
    let mut out = String::new();
    for part in &t.0 {
        match part {
            flow_plan::Part::Text(s) => out.push_str(s),
            flow_plan::Part::Secret(name) => out.push_str(secrets.expose(name)?),
        }
    }
    Some(out)
}

/// Whether the api's requests send secret `name`: in its auth or its headers.
pub(crate) fn uses_secret(api: &Api, name: &str) -> bool {
    let in_template = |t: &Template| t.0.iter().any(|p| matches!(p, flow_plan::Part::Secret(s) if s == name));
    let in_auth = match &api.auth {
        Auth::None => false,
        Auth::Bearer { token } => in_template(token),
        Auth::Basic { user, password } => in_template(user) || in_template(password),
        Auth::ApiKeyHeader { value, .. } | Auth::ApiKeyQuery { value, .. } => in_template(value),
        Auth::OAuth2ClientCredentials { client_id, client_secret, .. } => {
            in_template(client_id) || in_template(client_secret)
        }
        Auth::OAuth2RefreshToken { client_id, client_secret, refresh_token, .. } => {
            in_template(client_id) || in_template(client_secret) || in_template(refresh_token)
        }
        Auth::Jwt { key, .. } => in_template(key),
    };
    in_auth || api.headers.iter().any(|h| in_template(&h.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        let now = Instant::now();
        assert_eq!(renew_at(now, Duration::from_secs(3600)) - now, Duration::from_secs(3570));
        // A short-lived token is kept for half its life, not renewed on every request.
        assert_eq!(renew_at(now, Duration::from_secs(10)) - now, Duration::from_secs(5));
    }

    fn basic_api(user: Template, password: Template, headers: Vec<flow_plan::Header>) -> Plan {
        let plan = serde_json::json!({
            "secrets": ["USER", "PASSWORD", "TENANT"],
            "apis": [{
                "name": "desk", "base_url": "https://desk.example.com", "timeout_ms": 1000, "concurrency": 1,
                "auth": { "kind": "basic", "user": user, "password": password },
                "headers": headers,
                "span": { "start": 0, "end": 0 },
            }],
            "types": [], "endpoints": [], "maps": [], "flows": [],
        });
        serde_json::from_value(plan).expect("a plan")
    }

    #[test]
    fn derived_credentials_are_redacted_like_the_secrets_they_come_from() {
        use flow_plan::Part;
        let secret = |n: &str| Part::Secret(n.to_string());
        let header = flow_plan::Header {
            name: "X-Tenant".into(),
            value: Template(vec![Part::Text("acme-".into()), secret("TENANT"), secret("USER")]),
        };
        let plan = basic_api(Template(vec![secret("USER")]), Template(vec![secret("PASSWORD")]), vec![header]);
        let mut secrets = Secrets::new();
        for (n, v) in [("USER", "ada"), ("PASSWORD", "pa55-word"), ("TENANT", "tenant7")] {
            secrets.insert(n, secrecy::SecretString::from(v.to_string()));
        }
        let secrets = Arc::new(secrets);
        Credentials::new(&plan, secrets.clone()).expect("credentials");
        // base64("ada:pa55-word"), with and without its padding; and the joined header value,
        // whose two secrets side by side are no whole word each.
        assert_eq!(
            secrets.redact("Authorization: Basic YWRhOnBhNTUtd29yZA==, or YWRhOnBhNTUtd29yZA"),
            "Authorization: Basic [secret basic credentials of api desk], or [secret basic credentials of api desk]"
        );
        assert_eq!(secrets.redact("X-Tenant: acme-tenant7ada"), "X-Tenant: [secret header X-Tenant of api desk]");
    }
}
