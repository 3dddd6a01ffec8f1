//! HTTP: one client per api (timeout, redirect policy, concurrency), URLs built with
//! percent-encoding, auth applied at the last moment, responses size-capped and parsed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flow_diagnostics::{codes, Code};
use flow_plan::{Api, Auth, Endpoint, PathPart, Plan, Template, Value};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use tokio::sync::Semaphore;

use crate::secrets::Secrets;

/// Characters escaped in a path segment: everything but unreserved characters.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']')
    .add(b';')
    .add(b'=')
    .add(b'&')
    .add(b'+')
    .add(b':')
    .add(b'@')
    .add(b'$')
    .add(b',');

/// Responses larger than this are refused: a runaway or hostile API cannot exhaust memory.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A failure of one HTTP exchange or of reading its answer.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: Code,
    pub message: String,
    pub notes: Vec<String>,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into(), notes: Vec::new() }
    }
}

pub(crate) struct ApiClient {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
}

pub(crate) struct Http {
    pub clients: Vec<ApiClient>,
    pub secrets: Secrets,
}

/// One answer.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
}

impl Http {
    pub fn new(plan: &Plan, secrets: Secrets) -> Result<Http, Failure> {
        let mut clients = Vec::with_capacity(plan.apis.len());
        for api in &plan.apis {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_millis(api.timeout_ms))
                .connect_timeout(Duration::from_millis(api.timeout_ms.min(10_000)))
                .redirect(same_origin_redirects())
                .user_agent(concat!("flowc/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| {
                    Failure::new(
                        codes::REQUEST_FAILED,
                        format!("cannot set up the HTTP client for api `{}`: {}", api.name, e.without_url()),
                    )
                })?;
            clients.push(ApiClient { client, permits: Arc::new(Semaphore::new(api.concurrency.max(1) as usize)) });
        }
        Ok(Http { clients, secrets })
    }

    fn template(&self, t: &Template) -> String {
        let mut out = String::new();
        for part in &t.0 {
            match part {
                flow_plan::Part::Text(s) => out.push_str(s),
                // Presence was checked before the run started.
                flow_plan::Part::Secret(name) => out.push_str(self.secrets.expose(name).unwrap_or_default()),
            }
        }
        out
    }

    /// Sends one request. `url` carries no secret; an api key in the query is added here.
    pub async fn exchange(
        &self,
        api_index: usize,
        api: &Api,
        method: &str,
        url: &url::Url,
        headers: &[(String, String)],
        body: Option<String>,
    ) -> (Result<Answer, Failure>, Duration) {
        let started = Instant::now();
        let Some(client) = self.clients.get(api_index) else {
            return (
                Err(Failure::new(codes::REQUEST_FAILED, "internal error: no client for this api")),
                started.elapsed(),
            );
        };
        let Ok(_permit) = client.permits.acquire().await else {
            return (
                Err(Failure::new(codes::REQUEST_FAILED, "internal error: the api's request limiter closed")),
                started.elapsed(),
            );
        };
        let started = Instant::now();
        let mut url = url.clone();
        if let Auth::ApiKeyQuery { param, value } = &api.auth {
            url.query_pairs_mut().append_pair(param, &self.template(value));
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = client.client.request(method, url);
        req = match &api.auth {
            Auth::None | Auth::ApiKeyQuery { .. } => req,
            Auth::Bearer { token } => req.bearer_auth(self.template(token)),
            Auth::Basic { user, password } => req.basic_auth(self.template(user), Some(self.template(password))),
            Auth::ApiKeyHeader { header, value } => req.header(header.as_str(), self.template(value)),
        };
        for h in &api.headers {
            req = req.header(h.name.as_str(), self.template(&h.value));
        }
        for (name, value) in headers {
            if value.contains(['\r', '\n']) {
                return (
                    Err(Failure::new(
                        codes::REQUEST_FAILED,
                        format!("header `{name}` would contain a line break; the request was not sent"),
                    )),
                    started.elapsed(),
                );
            }
            req = req.header(name.as_str(), value.as_str());
        }
        req = req.header("accept", "application/json");
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let result = async {
            let mut response = req.send().await.map_err(|e| request_failure(&e))?;
            let status = response.status().as_u16();
            let content_type =
                response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| request_failure(&e))? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(Failure::new(
                        codes::REQUEST_FAILED,
                        format!("the response is larger than {} MiB; refused", MAX_RESPONSE_BYTES / (1024 * 1024)),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Answer { status, body, content_type })
        }
        .await;
        (result, started.elapsed())
    }
}

/// Redirects are followed only within the same scheme, host and port, so credentials never
/// travel to another host and https is never downgraded.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 5 {
            attempt.error("more than 5 redirects")
        } else if same {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

fn request_failure(e: &reqwest::Error) -> Failure {
    // `without_url`: the URL may carry an api key in its query.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut f = Failure::new(codes::REQUEST_FAILED, format!("the request {kind}"));
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut causes = Vec::new();
    while let Some(err) = source {
        let text = err.to_string();
        if !text.contains("http") || !text.contains("://") {
            causes.push(text);
        }
        source = err.source();
    }
    if !causes.is_empty() {
        f.notes.push(format!("cause: {}", causes.join(": ")));
    }
    f
}

/// The URL of an endpoint for the given parameter values (no secrets in it).
pub(crate) fn endpoint_url(
    api: &Api,
    endpoint: &Endpoint,
    params: &[(String, Value)],
    query: &[(String, Value)],
) -> Result<url::Url, Failure> {
    let mut path = String::new();
    for part in &endpoint.path {
        match part {
            PathPart::Text(t) => path.push_str(t),
            PathPart::Param(name) => {
                let value = params.iter().find(|(n, _)| n == name).map(|(_, v)| v);
                match value {
                    Some(v) if !v.is_null() => path.extend(utf8_percent_encode(&v.to_text(), SEGMENT)),
                    _ => return Err(Failure::new(codes::EVAL, format!("path parameter `{name}` is null"))),
                }
            }
        }
    }
    let mut url = url::Url::parse(&format!("{}{}", api.base_url, path)).map_err(|e| {
        Failure::new(codes::REQUEST_FAILED, format!("cannot build the URL for `{}`: {e}", endpoint.name))
    })?;
    append_query(&mut url, query);
    Ok(url)
}

pub(crate) fn append_query(url: &mut url::Url, query: &[(String, Value)]) {
    let present: Vec<&(String, Value)> = query.iter().filter(|(_, v)| !v.is_null()).collect();
    if present.is_empty() {
        return;
    }
    let mut pairs = url.query_pairs_mut();
    for (k, v) in present {
        pairs.append_pair(k, &v.to_text());
    }
}

/// Parses an answer's body as JSON, or says what it was instead.
pub(crate) fn parse_json(answer: &Answer) -> Result<serde_json::Value, Failure> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        let mut f = Failure::new(codes::NOT_JSON, format!("the response body is not JSON ({e})"));
        let ct = if answer.content_type.is_empty() { "none" } else { &answer.content_type };
        f.notes.push(format!("content type: {ct}; the body starts with: {}", excerpt(&answer.body)));
        f
    })
}

/// The first characters of a body, for messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(160)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > 160 {
        format!("{one_line}…")
    } else if one_line.is_empty() {
        "(empty)".into()
    } else {
        one_line
    }
}
