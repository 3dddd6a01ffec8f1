//! OAuth2: the client-credentials and refresh-token grants. One token per api, cached until it
//! is due for renewal, fetched by one request at a time (the slot's lock is held while it is
//! fetched, so concurrent requests wait for that fetch and share its outcome, a failure too).

use std::time::{Duration, Instant};

use flow_diagnostics::codes;
use flow_plan::{Api, Auth, Retry};

use super::{renew_at, Credentials, Slot, Token};
use crate::http::excerpt;
use crate::http::{next_wait, read_capped, request_failure, transient, Answer, Class, Failure, RetryNote};
use crate::secrets::Secrets;

impl Credentials {
    /// The api's OAuth2 token: the cached one while it is fresh, else a new one. `stale` is a
    /// token the server refused: replaced unless another task already replaced it. A token
    /// fetch that fails is shared like one that succeeds: every waiting request, and every one
    /// after, gets the same failure without another token request.
    pub(super) async fn oauth2_token(
        &self,
        api_index: usize,
        api: &Api,
        client: &reqwest::Client,
        stale: Option<&str>,
        retries: &mut Vec<RetryNote>,
    ) -> Result<String, Failure> {
        use secrecy::ExposeSecret;
        let (token_url, client_id, client_secret, scope, refresh) = match &api.auth {
            Auth::OAuth2ClientCredentials { token_url, client_id, client_secret, scope } => {
                (token_url, client_id, client_secret, scope.as_deref(), None)
            }
            Auth::OAuth2RefreshToken { token_url, client_id, client_secret, refresh_token } => {
                (token_url, client_id, client_secret, None, Some(refresh_token))
            }
            _ => return Err(Failure::new(codes::AUTH_FAILED, "internal error: no OAuth2 settings")),
        };
        let Some(slot) = self.tokens.get(api_index) else {
            return Err(Failure::new(codes::AUTH_FAILED, "internal error: no token slot"));
        };
        let mut cached = slot.lock().await;
        match &*cached {
            Slot::Failed(f) => return Err(f.clone()),
            Slot::Valid(t) => {
                let current = t.value.expose_secret();
                let fresh = t.expires.is_none_or(|e| e > Instant::now());
                let replaced_meanwhile = stale.is_some_and(|s| s != current);
                if (stale.is_none() && fresh) || replaced_meanwhile {
                    return Ok(current.to_string());
                }
            }
            Slot::Empty => {}
        }
        let url = if token_url.starts_with('/') { format!("{}{token_url}", api.base_url) } else { token_url.clone() };
        let rotated = match &*cached {
            Slot::Valid(t) => t.refresh.as_ref().map(|r| r.expose_secret().to_string()),
            _ => None,
        };
        // Built in a block: the serializer must not live across an await (it is not Send).
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            match refresh {
                Some(declared) => {
                    form.append_pair("grant_type", "refresh_token");
                    form.append_pair("refresh_token", &rotated.unwrap_or_else(|| self.template(declared)));
                }
                None => {
                    form.append_pair("grant_type", "client_credentials");
                }
            }
            form.append_pair("client_id", &self.template(client_id));
            form.append_pair("client_secret", &self.template(client_secret));
            if let Some(s) = scope {
                form.append_pair("scope", s);
            }
            form.finish()
        };
        // A client-credentials grant may be repeated (it only issues another token); a refresh
        // grant may not after an ambiguous failure, since the server may have rotated the
        // refresh token in an answer that was lost.
        let granted = match fetch_token(client, &api.retry, &url, form, refresh.is_none(), retries, &self.secrets).await
        {
            Ok(g) => g,
            Err(mut f) => {
                f.code = codes::AUTH_FAILED;
                f.class = Class::Final;
                f.notes.push(format!("token endpoint: POST {url}"));
                *cached = Slot::Failed(f.clone());
                return Err(f);
            }
        };
        self.secrets.obtained(&format!("token of api {}", api.name), &granted.access_token);
        let rotated = granted.refresh_token.filter(|r| !r.is_empty() && refresh.is_some()).map(|r| {
            self.secrets.obtained(&format!("refresh token of api {}", api.name), &r);
            secrecy::SecretString::from(r)
        });
        let refresh_kept = rotated.or_else(|| match &mut *cached {
            Slot::Valid(t) => t.refresh.take(),
            _ => None,
        });
        *cached = Slot::Valid(Token {
            value: secrecy::SecretString::from(granted.access_token.clone()),
            expires: granted.lifetime.map(|ttl| renew_at(Instant::now(), ttl)),
            refresh: refresh_kept,
        });
        Ok(granted.access_token)
    }
}

/// What a token endpoint granted.
struct Grant {
    access_token: String,
    refresh_token: Option<String>,
    lifetime: Option<Duration>,
}

/// Asks the token endpoint for a token, retrying transient failures (connection, timeout, 408,
/// 429, 5xx, an answer that is not JSON) with the api's retry policy; ambiguous ones only when
/// `safe`. A 4xx is a refusal: not retried. The answer is size-capped like every answer.
async fn fetch_token(
    client: &reqwest::Client,
    policy: &Retry,
    url: &str,
    form: String,
    safe: bool,
    retries: &mut Vec<RetryNote>,
    secrets: &Secrets,
) -> Result<Grant, Failure> {
    let mut attempt = 1u32;
    let answer = loop {
        let result = async {
            let mut response = client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(form.clone())
                .send()
                .await
                .map_err(|e| request_failure(&e))?;
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let (content_type, retry_after) = (header("content-type").unwrap_or_default(), header("retry-after"));
            let status = response.status().as_u16();
            let body = read_capped(&mut response).await?;
            Ok(Answer { status, body, content_type, link: None, retry_after })
        }
        .await;
        let Some(t) = transient(&result, true).filter(|_| attempt < policy.attempts) else {
            break result;
        };
        let wait_ms = next_wait(policy, attempt, &t, safe).map_err(|mut f| {
            f.message = format!("the token endpoint {}", f.message);
            if f.code == codes::OUTCOME_UNKNOWN {
                f.notes = vec!["a refresh-token grant is not repeated after an ambiguous failure: the server may have rotated the refresh token in the answer that was lost".into()];
            }
            f
        })?;
        retries.push(RetryNote { attempt, wait_ms, reason: format!("the token endpoint {}", t.reason) });
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        attempt += 1;
    };
    let tries = if attempt > 1 { format!(" ({attempt} attempts)") } else { String::new() };
    let answer = answer.map_err(|mut f| {
        f.message = format!("the token endpoint could not be reached: {}{tries}", f.message);
        f
    })?;
    if !(200..300).contains(&answer.status) {
        let oauth_error = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|j| j["error"].as_str().map(str::to_string))
            .filter(|e| !e.is_empty() && e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()));
        let reason = reqwest::StatusCode::from_u16(answer.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        let message = match (answer.status, oauth_error) {
            (400 | 401 | 403, Some(e)) => {
                format!("the token endpoint refused the credentials: it answered {} (`{e}`)", answer.status)
            }
            (400 | 401 | 403, None) => {
                format!("the token endpoint refused the credentials: it answered {}", answer.status)
            }
            (status, _) => format!("the token endpoint answered {status} {reason}{tries}"),
        };
        let mut f = Failure::new(codes::AUTH_FAILED, message);
        f.notes.push(format!("the response body starts with: {}", excerpt(&answer.body, secrets)));
        return Err(f);
    }
    let json: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|_| Failure::new(codes::AUTH_FAILED, format!("the token endpoint's answer is not JSON{tries}")))?;
    let Some(token) = json["access_token"].as_str().filter(|t| !t.is_empty()) else {
        return Err(Failure::new(codes::AUTH_FAILED, "the token endpoint's answer has no `access_token`"));
    };
    if let Some(kind) = json["token_type"].as_str() {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(Failure::new(
                codes::AUTH_FAILED,
                format!("the token endpoint issued a `{kind}` token; flowc sends bearer tokens"),
            ));
        }
    }
    Ok(Grant {
        access_token: token.to_string(),
        refresh_token: json["refresh_token"].as_str().map(str::to_string),
        lifetime: token_lifetime(&json),
    })
}

/// How long a token lives, from the token response's `expires_in` (seconds: a number, or a
/// number in a string as some servers send it). `None` when the answer does not say (the field
/// is only RECOMMENDED by RFC 6749): the token is then used until the api refuses it with a
/// 401, and renewed once at that point.
fn token_lifetime(json: &serde_json::Value) -> Option<Duration> {
    let secs = match &json["expires_in"] {
        serde_json::Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
        }
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }?;
    Some(Duration::from_secs(secs.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lives_as_long_as_expires_in_says_or_until_refused() {
        let life = |v: serde_json::Value| token_lifetime(&serde_json::json!({ "access_token": "t", "expires_in": v }));
        assert_eq!(life(serde_json::json!(3600)), Some(Duration::from_secs(3600)));
        assert_eq!(life(serde_json::json!("120")), Some(Duration::from_secs(120)), "some servers send a string");
        assert_eq!(life(serde_json::json!(59.9)), Some(Duration::from_secs(59)));
        assert_eq!(life(serde_json::json!(0)), Some(Duration::from_secs(1)));
        assert_eq!(life(serde_json::json!(-5)), None);
        assert_eq!(life(serde_json::json!("soon")), None);
        assert_eq!(life(serde_json::Value::Null), None);
        assert_eq!(token_lifetime(&serde_json::json!({ "access_token": "t" })), None, "not said: used until a 401");
    }
}
