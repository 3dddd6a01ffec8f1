//! HTTP: one client per api (timeout, redirect policy, concurrency), URLs built with
//! percent-encoding, retries with backoff and Retry-After, rate limits, responses size-capped
//! and parsed. Credentials (`crate::auth`) are added to a request at the last moment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flow_diagnostics::{codes, Code};
use flow_eval::ToText;
use flow_plan::{Api, Endpoint, PathPart, Plan, Rate, Retry, Value};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use tokio::sync::Semaphore;

use crate::auth::Credentials;
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
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: Code,
    pub message: String,
    pub notes: Vec<String>,
    pub class: Class,
}

impl Failure {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into(), notes: Vec::new(), class: Class::Final }
    }
}

pub(crate) struct ApiClient {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
}

pub(crate) struct Http {
    pub clients: Vec<ApiClient>,
    pub pacers: Vec<Option<Pacer>>,
    /// What each api's requests are authorized with: added to a request as it is sent.
    credentials: Credentials,
}

/// One answer.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    /// The `Link` header, for `link_header()` pagination.
    pub link: Option<String>,
    pub retry_after: Option<String>,
}

/// One request to send: no secret in it (auth is added when it is sent).
pub(crate) struct Request<'a> {
    /// The caller reads the body as JSON: a 2xx answer whose body is not JSON (cut short, or a
    /// proxy's page) is a failed attempt, retried like a 5xx.
    pub expect_json: bool,
    /// The endpoint's own whole-request timeout, over the api's.
    pub timeout: Option<Duration>,
    pub method: &'a str,
    pub url: &'a url::Url,
    pub headers: &'a [(String, String)],
    pub body: Option<String>,
    /// Whether a 2xx answer is an error by the endpoint's declaration (`error_when`): its
    /// message, and whether it is transient (retried like a 429).
    pub judge: Option<&'a Judge<'a>>,
}

/// Says whether a 2xx answer is an error by the endpoint's declaration.
pub(crate) type Judge<'a> = dyn Fn(&Answer) -> Option<AnswerError> + Send + Sync + 'a;

/// A 2xx answer that says it is an error.
pub(crate) struct AnswerError {
    pub message: String,
    pub transient: bool,
}

/// The outcome of [`Http::exchange`], with the retries it made.
pub(crate) struct Exchange {
    pub result: Result<Answer, Failure>,
    pub elapsed: Duration,
    pub retries: Vec<RetryNote>,
    /// The status of every answer, retried ones included, in order.
    pub statuses: Vec<u16>,
}

pub(crate) struct RetryNote {
    pub attempt: u32,
    pub wait_ms: u64,
    pub reason: String,
}

/// Whether a failed request may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not a transport failure (a bad answer, a refused header): retrying would not help.
    Final,
    /// It never left: connecting failed. Always safe to retry.
    BeforeSend,
    /// It may have been applied (a timeout, a dropped connection).
    Ambiguous,
}

/// Spaces requests to one api evenly: at most `requests` per period, shared by every task.
pub(crate) struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    fn new(rate: &Rate) -> Pacer {
        let nanos = (rate.per_ms as u128 * 1_000_000) / u128::from(rate.requests.max(1));
        Pacer {
            interval: Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            reserve(&mut *next, tokio::time::Instant::now(), self.interval)
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The next free slot at or after `now`, one `interval` after the last one handed out.
fn reserve<T: Copy + Ord + std::ops::Add<Duration, Output = T>>(next: &mut T, now: T, interval: Duration) -> T {
    let slot = (*next).max(now);
    *next = slot + interval;
    slot
}

/// Capped exponential backoff with full jitter: a random wait in [0, min(cap, base × 2^(n-1))].
fn backoff_ms(policy: &Retry, attempt: u32) -> u64 {
    let ceiling = policy.base_ms.saturating_mul(1u64 << (attempt - 1).min(30)).min(policy.max_ms);
    static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64);
    let mut x = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::Relaxed) ^ now;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x % (ceiling + 1)
}

/// Why a failed attempt may be worth another.
pub(crate) struct Transient {
    /// It may have been applied: repeated only when repeating it is harmless.
    ambiguous: bool,
    pub reason: String,
    /// The wait the server asked for (`Retry-After`), in ms.
    asked_ms: Option<u64>,
}

/// Whether an attempt failed in a way that another attempt may not: a connection that could
/// not be made, a 429 (refused, so never applied); a timeout, a dropped connection, a 408 or
/// 5xx, and, when the caller reads JSON, a 2xx whose body is not JSON (cut short, or a proxy's
/// error page) — these may have been applied.
pub(crate) fn transient(result: &Result<Answer, Failure>, expect_json: bool) -> Option<Transient> {
    let asked = |a: &Answer| a.retry_after.as_deref().and_then(|v| retry_after_ms(v, std::time::SystemTime::now()));
    match result {
        Ok(a) if a.status == 429 => {
            Some(Transient { ambiguous: false, reason: "answered 429".into(), asked_ms: asked(a) })
        }
        Ok(a) if a.status == 408 || (500..600).contains(&a.status) => {
            Some(Transient { ambiguous: true, reason: format!("answered {}", a.status), asked_ms: asked(a) })
        }
        // 204 and 205 have no body by definition: reading one as JSON is a final mismatch.
        Ok(a) if expect_json && (200..300).contains(&a.status) && !matches!(a.status, 204 | 205) => {
            json_syntax_error(&a.body).map(|why| Transient {
                ambiguous: true,
                reason: format!("answered {} with a body that is not JSON ({why})", a.status),
                asked_ms: None,
            })
        }
        Err(f) if f.class == Class::BeforeSend => {
            Some(Transient { ambiguous: false, reason: f.message.clone(), asked_ms: None })
        }
        Err(f) if f.class == Class::Ambiguous => {
            Some(Transient { ambiguous: true, reason: f.message.clone(), asked_ms: None })
        }
        _ => None,
    }
}

/// Why a body is not JSON, or `None` when it is: what [`parse_json`] would say, without
/// building the value.
pub(crate) fn json_syntax_error(body: &[u8]) -> Option<String> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str::<serde::de::IgnoredAny>(text).err().map(|e| e.to_string()),
        Err(e) => Some(format!("not UTF-8: {e}")),
    }
}

/// The wait before attempt `attempt + 1`, or why there is none: an ambiguous failure of a
/// request that is not safe to repeat (R0012), or a `Retry-After` beyond the policy's cap.
pub(crate) fn next_wait(policy: &Retry, attempt: u32, t: &Transient, safe: bool) -> Result<u64, Failure> {
    if t.ambiguous && !safe {
        let mut f = Failure::new(
            codes::OUTCOME_UNKNOWN,
            format!("{}; the request may have been applied, so it is not repeated", t.reason),
        );
        f.notes.push("a POST or PATCH is retried only with an `idempotency_key` or when the endpoint is declared `idempotent = true`".into());
        return Err(f);
    }
    match t.asked_ms {
        Some(ms) if ms > policy.max_ms => {
            let mut f = Failure::new(
                codes::HTTP_STATUS,
                format!(
                    "{} and asked to wait {:.1}s (Retry-After), more than the retry cap of {:.1}s",
                    t.reason,
                    ms as f64 / 1000.0,
                    policy.max_ms as f64 / 1000.0
                ),
            );
            f.notes.push("raise the cap (`retry = { backoff: exponential(…, max: …) }`) or lower `rate_limit`".into());
            Err(f)
        }
        Some(ms) => Ok(ms),
        None => Ok(backoff_ms(policy, attempt)),
    }
}

/// Reads a body to its end, refusing one larger than [`MAX_RESPONSE_BYTES`].
pub(crate) async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, Failure> {
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
    Ok(body)
}

/// `Retry-After`: seconds, or an HTTP date (a date at or before `now` means now).
fn retry_after_ms(value: &str, now: std::time::SystemTime) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let now_ms =
        now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let ms = when.timestamp_millis().saturating_sub(now_ms);
    Some(u64::try_from(ms).unwrap_or(0))
}

impl Http {
    pub(crate) fn new(plan: &Plan, secrets: Arc<Secrets>) -> Result<Http, Failure> {
        let mut clients = Vec::with_capacity(plan.apis.len());
        for api in &plan.apis {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_millis(api.timeout_ms))
                .connect_timeout(Duration::from_millis(api.connect_timeout_ms.min(api.timeout_ms)))
                .redirect(same_origin_redirects())
                .danger_accept_invalid_certs(!api.tls_verify)
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
        let pacers = plan.apis.iter().map(|a| a.rate_limit.as_ref().map(Pacer::new)).collect();
        let credentials = Credentials::new(plan, secrets)?;
        Ok(Http { clients, pacers, credentials })
    }

    /// Sends a request, retrying what is safe to retry: connection errors always; timeouts,
    /// dropped connections, 408, 5xx and (when `expect_json`) a 2xx whose body is not JSON when
    /// repeating the request is harmless (`safe`: GET, PUT, DELETE, or an idempotency key, or an
    /// endpoint declared idempotent); 429 always, since the server refused it. `Retry-After`
    /// (seconds or an HTTP date) is honoured; a wait beyond the cap fails the call. `url`
    /// carries no secret; an api key in the query is added when it is sent.
    pub(crate) async fn exchange(
        &self,
        api_index: usize,
        api: &Api,
        policy: &Retry,
        safe: bool,
        request: Request<'_>,
    ) -> Exchange {
        let started = Instant::now();
        let mut retries = Vec::new();
        let mut statuses = Vec::new();
        let mut attempt = 1u32;
        let mut refreshed = false;
        let mut stale: Option<String> = None;
        loop {
            if let Some(pacer) = self.pacers.get(api_index).and_then(Option::as_ref) {
                pacer.wait().await;
            }
            let client = self.clients.get(api_index).map(|c| &c.client);
            let bearer = match self.credentials.bearer(api_index, api, client, stale.as_deref(), &mut retries).await {
                Ok(t) => t,
                Err(f) => return Exchange { result: Err(f), elapsed: started.elapsed(), retries, statuses },
            };
            let (result, _) = self.send_once(api_index, api, &request, bearer.as_deref()).await;
            if let Ok(a) = &result {
                statuses.push(a.status);
            }
            // A 401 with a token we obtained: the token may have been revoked. Refresh once.
            if let (Ok(a), Some(token), false) = (&result, &bearer, refreshed) {
                if a.status == 401 {
                    refreshed = true;
                    stale = Some(token.clone());
                    retries.push(RetryNote { attempt, wait_ms: 0, reason: "answered 401; token refreshed".into() });
                    continue;
                }
            }
            let declared = match (&result, request.judge) {
                (Ok(a), Some(judge)) if (200..300).contains(&a.status) => judge(a).map(|e| (a, e)),
                _ => None,
            };
            if let Some((a, e)) = declared {
                let asked = a.retry_after.as_deref().and_then(|v| retry_after_ms(v, std::time::SystemTime::now()));
                let reason = format!("answered {} with an error: {}", a.status, e.message);
                if !e.transient || attempt >= policy.attempts {
                    let mut f = Failure::new(codes::ANSWER_ERROR, reason);
                    if e.transient {
                        f.notes.push(format!("the error is transient; all {} attempts were spent", policy.attempts));
                    }
                    return Exchange { result: Err(f), elapsed: started.elapsed(), retries, statuses };
                }
                // The API says it did not do it: repeating is harmless, like after a 429.
                let t = Transient { ambiguous: false, reason, asked_ms: asked };
                let wait_ms = match next_wait(policy, attempt, &t, safe) {
                    Ok(ms) => ms,
                    Err(f) => return Exchange { result: Err(f), elapsed: started.elapsed(), retries, statuses },
                };
                retries.push(RetryNote { attempt, wait_ms, reason: t.reason });
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                attempt += 1;
                continue;
            }
            let Some(t) = transient(&result, request.expect_json).filter(|_| attempt < policy.attempts) else {
                return Exchange { result, elapsed: started.elapsed(), retries, statuses };
            };
            let wait_ms = match next_wait(policy, attempt, &t, safe) {
                Ok(ms) => ms,
                Err(f) => return Exchange { result: Err(f), elapsed: started.elapsed(), retries, statuses },
            };
            retries.push(RetryNote { attempt, wait_ms, reason: t.reason });
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        api_index: usize,
        api: &Api,
        request: &Request<'_>,
        bearer: Option<&str>,
    ) -> (Result<Answer, Failure>, Duration) {
        let Request { method, url, headers, ref body, timeout, .. } = *request;
        let body = body.clone();
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
        self.credentials.add_to_query(&mut url, api);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = client.client.request(method, url);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        req = self.credentials.add_to_request(req, api, bearer);
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
        // A timeout says which limit it hit, so a reader knows which setting to raise.
        let failure = |e: &reqwest::Error| {
            let mut f = request_failure(e);
            if e.is_timeout() {
                f.message = match (e.is_connect(), timeout) {
                    (true, _) => format!(
                        "connecting timed out after {} (the api's `connect_timeout`)",
                        duration_text(api.connect_timeout_ms.min(api.timeout_ms))
                    ),
                    (false, Some(t)) => format!(
                        "the request timed out after {} (the endpoint's `timeout`)",
                        duration_text(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
                    ),
                    (false, None) => {
                        format!("the request timed out after {} (the api's `timeout`)", duration_text(api.timeout_ms))
                    }
                };
            }
            f
        };
        let too_large = || {
            Failure::new(
                codes::REQUEST_FAILED,
                format!("the response is larger than {} MiB; refused", MAX_RESPONSE_BYTES / (1024 * 1024)),
            )
        };
        let result = async {
            let mut response = req.send().await.map_err(|e| failure(&e))?;
            // A declared length beyond the cap is refused before any of the body is read.
            if let Some(declared) = response.content_length().filter(|n| *n > MAX_RESPONSE_BYTES as u64) {
                let mut f = too_large();
                f.notes.push(format!("it declares {declared} bytes (Content-Length)"));
                return Err(f);
            }
            let status = response.status().as_u16();
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let content_type = header("content-type").unwrap_or_default();
            let link = header("link");
            let retry_after = header("retry-after");
            let body = read_capped(&mut response).await?;
            Ok(Answer { status, body, content_type, link, retry_after })
        }
        .await;
        (result, started.elapsed())
    }
}

/// A duration as the language writes it: `300ms`, `30s`, `2m`, `1h`.
fn duration_text(ms: u64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
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

pub(crate) fn request_failure(e: &reqwest::Error) -> Failure {
    // `without_url`: the URL may carry an api key in its query.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut f = Failure::new(codes::REQUEST_FAILED, format!("the request {kind}"));
    f.class = if e.is_connect() {
        Class::BeforeSend
    } else if e.is_builder() {
        Class::Final
    } else {
        Class::Ambiguous
    };
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

/// Sets query parameter `name` to `value`: every parameter of that name already in the URL is
/// replaced, and the other parameters are kept exactly as they were written.
pub(crate) fn set_query_param(url: &mut url::Url, name: &str, value: &str) {
    let kept: Vec<&str> = url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| url::form_urlencoded::parse(pair.as_bytes()).next().is_none_or(|(k, _)| k != name))
        .collect();
    let mut query = kept.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(&url::form_urlencoded::Serializer::new(String::new()).append_pair(name, value).finish());
    url.set_query(Some(&query));
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

/// An answer whose body is not JSON (`why`), with what it was instead.
pub(crate) fn not_json(answer: &Answer, why: &str, secrets: &Secrets) -> Failure {
    let mut f = Failure::new(codes::NOT_JSON, format!("the response body is not JSON ({why})"));
    let ct = if answer.content_type.is_empty() { "none" } else { &answer.content_type };
    f.notes.push(format!("content type: {ct}; the body starts with: {}", excerpt(&answer.body, secrets)));
    f
}

/// How many characters of a body a message shows.
const EXCERPT_CHARS: usize = 160;

/// The first characters of a body, for messages, on one line (runs of white space become one
/// space). Secrets are scrubbed before the excerpt is cut, so a secret the cut falls in shows as
/// (the start of) its marker, never as a piece of itself.
pub(crate) fn excerpt(body: &[u8], secrets: &Secrets) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let (mut count, mut space, mut more) = (0usize, false, false);
    secrets.scrub(&text, &mut |piece| {
        for c in piece.chars() {
            if c.is_whitespace() {
                space = count > 0;
                continue;
            }
            if count + usize::from(space) >= EXCERPT_CHARS {
                more = true;
                return false;
            }
            if std::mem::take(&mut space) {
                out.push(' ');
                count += 1;
            }
            out.push(c);
            count += 1;
        }
        true
    });
    if more {
        out.push('…');
        out
    } else if out.is_empty() {
        "(empty)".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        // A fixed "now", so nothing depends on the clock or on how fast the test runs.
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(retry_after_ms("7", now), Some(7_000));
        assert_eq!(retry_after_ms(" 0 ", now), Some(0));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:29:00 GMT", now), Some(60_000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(0), "a date of now means now");
        assert_eq!(retry_after_ms("Tue, 20 Oct 2015 07:28:00 GMT", now), Some(0), "a date in the past means now");
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 09:28:00 +0200", now), Some(0), "offsets are honoured");
        assert_eq!(retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", now), Some(253_402_300_799_000 - 1_445_412_480_000));
        assert_eq!(retry_after_ms("18446744073709551615", now), Some(u64::MAX), "huge waits saturate");
        assert_eq!(retry_after_ms("soon", now), None);
        assert_eq!(retry_after_ms("-5", now), None);
    }

    #[test]
    fn a_rate_limit_hands_out_evenly_spaced_slots() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let mut next = start;
        // Eight tasks asking at the same moment get slots one interval apart, in order.
        let slots: Vec<Duration> = (0..8).map(|_| reserve(&mut next, start, interval) - start).collect();
        assert_eq!(slots, (0..8).map(|i| interval * i).collect::<Vec<_>>());
        // Asking later than the next free slot gives the moment asked: an idle api is not paced.
        let later = start + Duration::from_secs(5);
        assert_eq!(reserve(&mut next, later, interval), later);
        assert_eq!(reserve(&mut next, later, interval), later + interval);
        // 10/s: 33 requests take at least 3.2 s between the first and the last.
        let pacer = Pacer::new(&Rate { requests: 10, per_ms: 1000 });
        let mut next = start;
        let last = (0..33).map(|_| reserve(&mut next, start, pacer.interval)).last().expect("slots");
        assert_eq!(last - start, Duration::from_millis(3200));
    }

    #[test]
    fn backoff_is_capped_with_full_jitter() {
        let policy = Retry { attempts: 10, base_ms: 100, max_ms: 1_000 };
        for attempt in 1..10 {
            for _ in 0..50 {
                let wait = backoff_ms(&policy, attempt);
                assert!(wait <= (100u64 << (attempt - 1)).min(1_000), "attempt {attempt}: {wait}");
            }
        }
        let spread: std::collections::HashSet<u64> = (0..50).map(|_| backoff_ms(&policy, 5)).collect();
        assert!(spread.len() > 10, "jittered, not constant");
    }

    fn answer(status: u16, body: &str) -> Result<Answer, Failure> {
        Ok(Answer {
            status,
            body: body.as_bytes().to_vec(),
            content_type: "application/json".into(),
            link: None,
            retry_after: None,
        })
    }

    #[test]
    fn a_body_that_is_not_json_is_a_transient_failure_when_json_is_read() {
        let cut = answer(200, r#"{"orders": [{"id": 1}, {"id""#);
        let t = transient(&cut, true).expect("transient");
        assert!(t.ambiguous, "it may have been applied");
        assert!(t.reason.starts_with("answered 200 with a body that is not JSON (EOF while parsing"), "{}", t.reason);
        assert!(transient(&cut, false).is_none(), "a body nobody reads is not judged");
        assert!(transient(&answer(200, r#"{"orders": []}"#), true).is_none());
        assert!(transient(&answer(201, "<html>busy</html>"), true).is_some());
        assert!(transient(&answer(200, r#"{"a": 1} trailing"#), true).is_some());
        // No content by definition: a final mismatch, not worth another attempt.
        assert!(transient(&answer(204, ""), true).is_none());
        assert!(transient(&answer(422, "<html>"), true).is_none(), "a refusal is final");
        let t = transient(&answer(429, ""), true).expect("429");
        assert!(!t.ambiguous, "a 429 was refused, never applied");
    }

    #[test]
    fn the_json_judgement_agrees_with_the_parser() {
        for body in [
            &b"{\"a\": [1, 2.5, \"x\", null, true]}"[..],
            b"  [] ",
            b"{\"a\": 1",
            b"",
            b"nul",
            b"{\"a\": \"\xff\"}",
            b"[1,]",
        ] {
            // The decoder's own verdict: a syntax error, whatever the declared type.
            let decoder_reads_json = std::str::from_utf8(body).is_ok_and(|text| {
                !matches!(
                    flow_eval::decode_text(text, &flow_plan::Type::Bool, &[]),
                    Err(flow_eval::TextError::Syntax(_))
                )
            });
            assert_eq!(json_syntax_error(body).is_none(), decoder_reads_json, "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn an_ambiguous_failure_of_an_unsafe_request_is_not_repeated() {
        let policy = Retry { attempts: 3, base_ms: 0, max_ms: 1_000 };
        let cut = transient(&answer(201, "{\"id\""), true).expect("transient");
        let f = next_wait(&policy, 1, &cut, false).expect_err("not safe");
        assert_eq!(f.code, codes::OUTCOME_UNKNOWN);
        assert_eq!(next_wait(&policy, 1, &cut, true).ok(), Some(0));
        let asked = Transient { ambiguous: false, reason: "answered 429".into(), asked_ms: Some(5_000) };
        assert_eq!(next_wait(&policy, 1, &asked, false).expect_err("beyond the cap").code, codes::HTTP_STATUS);
    }

    #[test]
    fn reads_the_first_chars_of_a_body_for_messages() {
        let none = Secrets::new();
        assert_eq!(excerpt(b"", &none), "(empty)");
        assert_eq!(excerpt(b"  {\n \"a\": 1 }", &none), "{ \"a\": 1 }");
        let long = excerpt(&[b'x'; 500], &none);
        assert!(long.ends_with('…') && long.chars().count() == EXCERPT_CHARS + 1, "{long}");
        assert_eq!(
            excerpt(&[b'x'; EXCERPT_CHARS], &none).chars().count(),
            EXCERPT_CHARS,
            "no … when nothing is left out"
        );
        // Characters, not bytes: a cut never splits one.
        assert_eq!(excerpt("é".repeat(200).as_bytes(), &none), format!("{}…", "é".repeat(EXCERPT_CHARS)));
    }

    #[test]
    fn an_excerpt_is_cut_after_its_secrets_are_scrubbed() {
        let mut secrets = Secrets::new();
        let key = "k3y-0123456789-abcdef";
        secrets.insert("KEY", secrecy::SecretString::from(key.to_string()));
        // The cut falls in the middle of the secret, as is, JSON-escaped, after white space
        // that collapses, and after a secret that is longer than its marker.
        for head in [
            ".".repeat(150),
            format!("{{\"e\":\"{}", ".".repeat(140)),
            format!("{}{}", " \n\t ".repeat(300), ".".repeat(150)),
            format!("{} {key} {key} {}", ".".repeat(100), ".".repeat(8)),
        ] {
            let body = format!("{head}{key}, and more text after it");
            let cut = excerpt(body.as_bytes(), &secrets);
            assert!(cut.ends_with('…'), "{cut}");
            for piece in key.as_bytes().windows(4) {
                assert!(!cut.contains(std::str::from_utf8(piece).unwrap()), "{cut}");
            }
            assert!(cut.contains("[secret"), "{cut}");
        }
    }

    #[test]
    fn a_query_credential_is_set_never_appended() {
        let mut url = url::Url::parse("https://x.example.com/items?page=2&token=old&q=a%20b+c&token=again").unwrap();
        set_query_param(&mut url, "token", "n3w/k+y=");
        assert_eq!(url.as_str(), "https://x.example.com/items?page=2&q=a%20b+c&token=n3w%2Fk%2By%3D");
        let mut url = url::Url::parse("https://x.example.com/items").unwrap();
        set_query_param(&mut url, "token", "t");
        assert_eq!(url.as_str(), "https://x.example.com/items?token=t");
        // A parameter whose name only starts the same is another parameter.
        let mut url = url::Url::parse("https://x.example.com/items?tokens=1&token").unwrap();
        set_query_param(&mut url, "token", "t");
        assert_eq!(url.as_str(), "https://x.example.com/items?tokens=1&token=t");
    }
}
