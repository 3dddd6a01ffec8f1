//! A local fake of the APIs the examples talk to, on 127.0.0.1 only. It serves realistic,
//! deterministic, paginated records, accepts writes (with idempotency keys honoured), checks
//! credentials, and can be switched into the faults real APIs have, one by one or as a seeded
//! [`Chaos`] schedule (answers cut short, 5xx, 429, dropped connections, answers lost after a
//! write was stored); [`FakeApi::writes`] tells applied writes from replayed ones.
//!
//! What it must never know: flowc itself (no crate of the workspace; it stands for the real
//! APIs and speaks only HTTP, so the tests judge flowc from outside), and anything beyond
//! 127.0.0.1.
//!
//! | prefix        | auth                                  | routes                                             |
//! |---------------|---------------------------------------|----------------------------------------------------|
//! | `/shop`       | `Authorization: Bearer <shop_token>`  | `GET /orders?status=&limit=&cursor=&offset=&page=&after=` (cursor, offset or page pages; `after`: ids above it only), `GET /legacy/orders` (308 to `/orders`) |
//! | `/crm`        | `X-Api-Key: <crm_api_key>`            | `POST /contacts`, `GET /contacts`                  |
//! | `/desk`       | HTTP basic `<desk_user>:<desk_password>` | `GET /tickets?after=` (next-URL pages)          |
//! | `/chat`       | `?token=<chat_token>`                 | `POST /messages`                                   |
//! | `/directory`  | `X-Api-Key: <directory_key>`          | `GET /users?page=` (next-URL pages)                |
//! | `/mail`       | `Authorization: Bearer <mail_token>`  | `GET /lists/{list_id}`, `POST /lists/{list_id}/members` |
//! | `/chat`       | `?token=<chat_token>` (exactly once)  | `GET /history?page=` (next-URL pages)              |
//! | `/desk`       | HTTP basic                            | `POST /notes`                                      |
//! | `/shop`       | `Authorization: Bearer <shop_token>`  | `GET /changes?updated_since=&order=&cursor=&limit=`, `POST /changes/copies` (records that change between runs: [`changes`]) |
//! | `/_control`   | none                                  | `GET /received/{collection}`, `GET /receipts/{collection}`, `POST /faults` |
//! | `/stripe`, `/hubspot`, `/slack` | [`VENDOR_TOKEN`]            | the vendors' own payloads, paged and failing as the vendors do (`vendors.rs`) |

mod receipts;

pub use receipts::{Applied, Receipts};

pub mod changes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod vendors;
pub use vendors::{Vendors, TOKEN as VENDOR_TOKEN};

/// What the fake serves and which credentials it accepts.
#[derive(Debug, Clone)]
pub struct Config {
    pub orders: u64,
    pub tickets: u64,
    pub users: u64,
    pub shop_token: String,
    pub crm_api_key: String,
    pub desk_user: String,
    pub desk_password: String,
    pub chat_token: String,
    pub directory_key: String,
    pub mail_token: String,
    /// OAuth2 client credentials the CRM's token endpoint accepts.
    pub crm_client_id: String,
    pub crm_client_secret: String,
    /// The refresh token the CRM accepts first; each use rotates it.
    pub crm_refresh_token: String,
    /// Lifetime of issued tokens.
    pub token_ttl_secs: u64,
    /// JWTs are accepted when signed HS256 with this secret, or RS256 with the key for this
    /// public key (PEM).
    pub jwt_secret: String,
    pub jwt_public_pem: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            orders: 250,
            tickets: 60,
            users: 45,
            shop_token: "demo-shop-token".into(),
            crm_api_key: "demo-crm-key".into(),
            desk_user: "demo".into(),
            desk_password: "demo-desk-password".into(),
            chat_token: "demo-chat-token".into(),
            directory_key: "demo-directory-key".into(),
            mail_token: "demo-mail-token".into(),
            crm_client_id: "demo-client".into(),
            crm_client_secret: "demo-client-secret".into(),
            crm_refresh_token: "demo-refresh-token".into(),
            token_ttl_secs: 3600,
            jwt_secret: "demo-jwt-secret-of-32-bytes-long".into(),
            jwt_public_pem: None,
        }
    }
}

/// Faults to switch on, as real APIs have them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Order pages are an HTML error page with status 200.
    pub html_instead_of_json: bool,
    /// Order #3 lacks its `status` field.
    pub missing_field: bool,
    /// Every contact whose external id ends in this digit is refused with 422.
    pub reject_contacts_ending_in: Option<u8>,
    /// The order cursor never advances.
    pub repeat_cursor: bool,
    /// The directory's next link points at another host.
    pub cross_host_next: bool,
    /// Requests to /shop answer 500.
    pub shop_down: bool,
    /// The first N requests for orders answer 503.
    pub shop_flaky: u32,
    /// The first request for orders answers 429 with this `Retry-After` value.
    pub shop_retry_after: Option<String>,
    /// The first N contact writes answer 503 (before anything is stored).
    pub crm_flaky: u32,
    /// After this many writes with OAuth2 tokens, every token issued so far is revoked.
    pub revoke_tokens_after: Option<u32>,
    /// Order pages never answer: each request waits until the test calls [`FakeApi::release`]
    /// (or the server stops), so a client's timeout is the only way out, whatever the machine's speed.
    pub hang_orders: bool,
    /// Order pages end in the middle of the JSON.
    pub truncate_orders: bool,
    /// Order pages redirect to another host.
    pub redirect_orders_elsewhere: bool,
    /// Order pages are larger than any client should accept: 65 MiB, streamed without a
    /// declared length.
    pub huge_orders: bool,
    /// Order pages declare a length larger than any client should accept (65 MiB) and then hold
    /// the body back until [`FakeApi::release`]: a client must refuse on the header alone.
    pub huge_declared_orders: bool,
    /// Order pages redirect (302) to this URL, with the request's query.
    pub redirect_orders_to: Option<String>,
    /// The desk's last ticket page links back to the first page.
    pub cycle_ticket_links: bool,
    /// Each chat message waits until this many are in flight at once, then they all go on: a
    /// barrier, so how many requests a client keeps in flight shows in a count, not in timing.
    pub messages_barrier: Option<u32>,
    /// The first N order pages end in the middle of the JSON.
    pub truncate_orders_first: u32,
    /// The first N contact writes are stored, and their answer ends in the middle of the JSON.
    pub truncate_contacts_first: u32,
    /// Order pages hold at most this many orders, whatever `limit` asks for (as real APIs cap
    /// their page size).
    pub max_page_size: Option<u64>,
    /// The first N requests to the OAuth2 token endpoint answer 503.
    pub token_flaky: u32,
    /// Tokens are issued without `expires_in`.
    pub token_without_expiry: bool,
    /// The token endpoint's answer is larger than any client should accept (65 MiB).
    pub huge_token: bool,
    /// A flaky network and a busy server, on order pages and contact writes.
    pub chaos: Option<Chaos>,
    /// Two orders of the first page do not fit the order type, as records of an older API
    /// version would not, and one line of order #7's lines does not fit either: see
    /// [`malformed_order`].
    pub malformed_orders: bool,
    /// The ledger writes its keys with escapes (`"amo\u0075nt"`), as some encoders do.
    pub escaped_ledger_keys: bool,
    /// The fake echoes the credentials it was sent, as careless real APIs do: chat history's
    /// next links carry the token (and every other request for its second page fails with 503,
    /// so the link is retried), and each write route refuses ten records of its own with a 422 whose body
    /// echoes the credentials it came with, in one of the [`ECHO_FORMS`] forms (see
    /// [`echo_form`]).
    pub echo_credentials: bool,
}

/// A deterministic schedule of faults, as a flaky network and a busy server produce them. A
/// request is hit or spared by a hash of the seed, the route, what the request asks for (an
/// order page's query, a write's idempotency key) and how many times that was asked before, so
/// the same run meets the same faults whatever the timing, and a request asked again is hit
/// again only by the schedule. Rates are per 10,000 requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Chaos {
    pub seed: u64,
    /// A 200 (201 for a write) whose JSON body is cut in half; a write is stored first.
    pub truncate: u32,
    /// A 5xx. Half the writes it hits are stored first: a 502, the answer lost on its way back.
    pub fail: u32,
    /// A 429 with `Retry-After: 0`, before anything is stored.
    pub rate_limit: u32,
    /// The connection is dropped without a whole answer. Half the writes it hits are stored
    /// first, and half their answer is sent before the connection drops.
    pub drop: u32,
}

/// The faults the chaos schedule injected, and the writes the fake applied or answered again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChaosCounts {
    pub truncated: u64,
    pub failed: u64,
    pub rate_limited: u64,
    pub dropped: u64,
    /// Faults that hit a write after it was stored (its answer was lost).
    pub after_applying: u64,
}

/// What a write did to the fake's store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Writes {
    /// Writes stored.
    pub applied: u64,
    /// Writes whose idempotency key had been seen: answered again, stored nothing.
    pub replayed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Truncate,
    Fail,
    RateLimit,
    Drop,
}

impl Chaos {
    /// The fault for the `attempt`-th (from 0) request for `identity` on `route`, and whether a
    /// write it hits is stored first.
    fn fault(&self, route: &str, identity: &str, attempt: u32) -> Option<(Fault, bool)> {
        // FNV-1a over the route and identity, then a splitmix64 finish with the seed and attempt.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in route.bytes().chain([0]).chain(identity.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut x = h ^ self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(attempt).rotate_left(32);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        let roll = (x % 10_000) as u32;
        let after = (x >> 40) & 1 == 1;
        let mut edge = 0;
        for (rate, fault, can_be_after) in [
            (self.truncate, Fault::Truncate, true),
            (self.fail, Fault::Fail, after),
            (self.rate_limit, Fault::RateLimit, false),
            (self.drop, Fault::Drop, after),
        ] {
            edge += rate;
            if roll < edge {
                // A truncated answer is always an answer to a stored write.
                return Some((fault, can_be_after));
            }
        }
        None
    }
}

/// How many forms an echoed credential comes in: as is, JSON (two ways), percent-encoded, form-encoded,
/// and as is and JSON-escaped again, placed so that a 160-character excerpt cuts it in two.
pub const ECHO_FORMS: u64 = 7;

/// With `echo_credentials`, which form the write route of `band` echoes its credentials in for
/// record `n` (a `message_id`, or the number that ends an `external_id`): records 10·band + 1 to
/// 10·band + 7 are refused, in forms 0 to 6; the rest are accepted. Bands: 0 `/desk/notes`, 1
/// `/chat/messages`, 2 `/crm/v2/contacts` (OAuth2), 3 `/crm/jwt/contacts`, 4 `/crm/contacts`,
/// 5 `/mail/lists/…/members`.
pub fn echo_form(band: u64, n: u64) -> Option<u64> {
    n.checked_sub(band * 10 + 1).filter(|form| *form < ECHO_FORMS)
}

/// The chat history's messages (`GET /chat/history`), 20 a page.
pub const HISTORY_MESSAGES: u64 = 60;

/// The renditions of a credential that echoing refusals contain: as is; JSON-escaped as
/// serde_json writes it; JSON-escaped ASCII-only with escaped slashes, as Python and PHP write
/// it; percent-encoded with upper-case hex; form-encoded with lower-case hex and `+` for a space.
pub fn echo_forms(credential: &str) -> Vec<String> {
    vec![
        credential.to_string(),
        json_escaped(credential),
        json_ascii(credential),
        percent(credential, true),
        form_encoded(credential),
    ]
}

fn json_escaped(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn json_ascii(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out
}

fn percent(s: &str, upper: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn form_encoded(s: &str) -> String {
    s.split(' ').map(|part| percent(part, false)).collect::<Vec<_>>().join("+")
}

/// A 422 whose body echoes `credentials` in `form` (see [`ECHO_FORMS`]).
fn echo_body(form: u64, credentials: &[String]) -> Response {
    let text =
        |body: String| (StatusCode::UNPROCESSABLE_ENTITY, [("content-type", "text/plain")], body).into_response();
    let json_text =
        |body: String| (StatusCode::UNPROCESSABLE_ENTITY, [("content-type", "application/json")], body).into_response();
    let first = credentials.first().map_or("", String::as_str);
    match form {
        0 => text(format!("refused: {}", credentials.join(" "))),
        1 => (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": "refused", "credentials": credentials })))
            .into_response(),
        2 => {
            let items: Vec<String> = credentials.iter().map(|c| format!("\"{}\"", json_ascii(c))).collect();
            json_text(format!("{{\"error\":\"refused\",\"credentials\":[{}]}}", items.join(",")))
        }
        3 => {
            let pairs: Vec<String> = credentials.iter().map(|c| format!("credential={}", percent(c, true))).collect();
            text(format!("refused: https://example.net/callback?{}&retry=1", pairs.join("&")))
        }
        4 => {
            let pairs: Vec<String> = credentials.iter().map(|c| format!("credential={}", form_encoded(c))).collect();
            text(format!("refused: grant_type=client_credentials&{}&scope=all", pairs.join("&")))
        }
        5 => {
            // The first credential's middle falls on the 160th byte.
            let head = "refused: ";
            let pad = ".".repeat(160usize.saturating_sub(head.len() + first.len() / 2));
            text(format!("{head}{pad}{}", credentials.join(" ")))
        }
        _ => {
            let head = "{\"error\":\"";
            let middle = "\",\"credentials\":[\"";
            let escaped = json_escaped(first);
            let pad = ".".repeat(160usize.saturating_sub(head.len() + middle.len() + escaped.len() / 2));
            let rest: Vec<String> = credentials.iter().skip(1).map(|c| format!(",\"{}\"", json_escaped(c))).collect();
            json_text(format!("{head}{pad}{middle}{escaped}\"{}]}}", rest.concat()))
        }
    }
}

/// The number of a written record: its `message_id`, or the digits that end its `external_id`.
fn record_number(body: &Value) -> Option<u64> {
    body["message_id"].as_u64().or_else(|| {
        let id = body["external_id"].as_str()?;
        let digits = id.len() - id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        id[id.len() - digits..].parse().ok()
    })
}

#[derive(Default)]
struct Inner {
    /// Requests seen per route, for faults that hit the first N.
    hits: HashMap<&'static str, u32>,
    received: HashMap<String, Vec<Value>>,
    /// Valid OAuth2 tokens.
    tokens: Vec<String>,
    /// The refresh token the endpoint accepts next (rotated on each use).
    refresh_token: Option<String>,
    /// Every refresh token presented, in order.
    refresh_tokens_used: Vec<String>,
    token_requests: u32,
    token_uses: u32,
    idempotency: HashMap<String, Value>,
    faults: Faults,
    next_id: u64,
    /// Requests being handled per route, now and at most.
    in_flight: HashMap<&'static str, (u32, u32)>,
    /// Messages waiting at the barrier of [`Faults::messages_barrier`].
    barrier_waiting: u32,
    /// Requests seen per route and identity, for the chaos schedule.
    asked: HashMap<String, u32>,
    chaos_counts: ChaosCounts,
    writes: Writes,
    /// What each write did to each collection (see [`Receipts`]).
    ledger: receipts::Ledger,
    /// Every credential an echoing refusal put in a body.
    echoed: Vec<String>,
}

struct AppState {
    config: Config,
    /// Records that change between runs, and their copies (`changes.rs`).
    changes: Arc<changes::Changes>,
    inner: Mutex<Inner>,
    /// Set to true to let every held request go on ([`FakeApi::release`], or the server stopping).
    released: tokio::sync::watch::Sender<bool>,
    /// How many times the barrier opened.
    barrier: tokio::sync::watch::Sender<u64>,
    vendors: vendors::Vendors,
}

impl AppState {
    fn new(config: Config) -> Arc<AppState> {
        Arc::new(AppState {
            config,
            changes: Arc::default(),
            inner: Mutex::new(Inner::default()),
            released: tokio::sync::watch::Sender::new(false),
            barrier: tokio::sync::watch::Sender::new(0),
            vendors: vendors::Vendors::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// With `echo_credentials`, the refusal of record `body` by the write route of `band`,
    /// echoing `credentials` (see [`echo_form`]).
    fn echo_refusal(&self, band: u64, body: &Value, credentials: &[&str]) -> Option<Response> {
        let mut inner = self.lock();
        if !inner.faults.echo_credentials {
            return None;
        }
        let form = echo_form(band, record_number(body)?)?;
        let credentials: Vec<String> = credentials.iter().filter(|c| !c.is_empty()).map(|c| c.to_string()).collect();
        inner.echoed.extend(credentials.iter().cloned());
        Some(echo_body(form, &credentials))
    }

    /// Counts a request to `route`; its number, from 1.
    fn hit(&self, route: &'static str) -> u32 {
        let mut inner = self.lock();
        let n = inner.hits.entry(route).or_insert(0);
        *n += 1;
        *n
    }

    /// Counts a request to `route` as in flight until the guard is dropped (the handler returns or
    /// the client goes away).
    fn enter(self: &Arc<AppState>, route: &'static str) -> InFlight {
        let mut inner = self.lock();
        let (now, max) = inner.in_flight.entry(route).or_insert((0, 0));
        *now += 1;
        *max = (*max).max(*now);
        InFlight { state: self.clone(), route }
    }

    /// Waits until [`FakeApi::release`] is called or the server stops.
    async fn held(&self) {
        let mut released = self.released.subscribe();
        let _ = released.wait_for(|r| *r).await;
    }

    /// Waits until `n` requests wait here, then lets them all go on.
    async fn barrier(&self, n: u32) {
        let mut opened = self.barrier.subscribe();
        let generation = {
            let mut inner = self.lock();
            inner.barrier_waiting += 1;
            if inner.barrier_waiting >= n {
                inner.barrier_waiting = 0;
                self.barrier.send_modify(|g| *g += 1);
                return;
            }
            *opened.borrow_and_update()
        };
        let _ = opened.wait_for(|g| *g != generation).await;
    }

    /// The chaos schedule's fault for this request, counted, if there is one.
    fn chaos(&self, route: &str, identity: &str) -> Option<(Fault, bool)> {
        let mut inner = self.lock();
        let chaos = inner.faults.chaos.clone()?;
        let asked = inner.asked.entry(format!("{route} {identity}")).or_insert(0);
        let attempt = *asked;
        *asked += 1;
        let (fault, after) = chaos.fault(route, identity, attempt)?;
        let c = &mut inner.chaos_counts;
        match fault {
            Fault::Truncate => c.truncated += 1,
            Fault::Fail => c.failed += 1,
            Fault::RateLimit => c.rate_limited += 1,
            Fault::Drop => c.dropped += 1,
        }
        Some((fault, after))
    }
}

/// A request in flight, counted by [`AppState::enter`].
struct InFlight {
    state: Arc<AppState>,
    route: &'static str,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((now, _)) = self.state.lock().in_flight.get_mut(self.route) {
            *now -= 1;
        }
    }
}

/// A fault's answer: `answer` is what the server meant to send (for a fault after a write was
/// stored, the write's answer).
fn faulty(fault: Fault, status: StatusCode, answer: &Value) -> Response {
    let text = answer.to_string();
    let half = text[..text.len() / 2].to_string();
    match fault {
        Fault::Truncate => (status, [("content-type", "application/json")], half).into_response(),
        Fault::Fail => error(StatusCode::BAD_GATEWAY, "the upstream did not answer in time"),
        Fault::RateLimit => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], Json(json!({ "error": "slow down" })))
                .into_response()
        }
        Fault::Drop => {
            // The status line and half the body go out, then the connection breaks.
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(Bytes::from(half)), Err(std::io::Error::other("connection dropped"))];
            let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
            (status, [("content-type", "application/json")], body).into_response()
        }
    }
}

/// A fault that hits before anything is stored.
fn faulty_before(fault: Fault) -> Response {
    match fault {
        Fault::Fail => error(StatusCode::SERVICE_UNAVAILABLE, "try again"),
        Fault::Drop => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![Err(std::io::Error::other("connection dropped"))];
            (StatusCode::OK, axum::body::Body::from_stream(futures_util::stream::iter(chunks))).into_response()
        }
        other => faulty(other, StatusCode::OK, &json!({})),
    }
}

/// A running fake API.
pub struct FakeApi {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    tls: bool,
}

impl FakeApi {
    /// Starts the server on 127.0.0.1 (`port` 0 picks a free one), in the current tokio runtime.
    pub async fn start(config: Config, port: u16) -> std::io::Result<FakeApi> {
        let state = AppState::new(config);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(FakeApi { addr, state, shutdown: Some(tx), tls: false })
    }

    /// The same API over TLS, with a self-signed certificate for 127.0.0.1: clients that verify
    /// certificates (the default) must refuse it.
    pub async fn start_tls(config: Config) -> std::io::Result<FakeApi> {
        use tokio_rustls::rustls;
        let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(|e| other(&e))?;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| other(&e))?
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .map_err(|e| other(&e))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let state = AppState::new(config);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = &mut rx => return,
                };
                let Ok((tcp, _)) = accepted else { continue };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(FakeApi { addr, state, shutdown: Some(tx), tls: true })
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`FakeApi::start_tls`]).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The records that change between runs (`GET /shop/changes`) and their copies.
    pub fn changes(&self) -> &changes::Changes {
        &self.state.changes
    }

    /// Everything written to a collection (`contacts`, `messages`, `members`), in arrival order.
    pub fn received(&self, collection: &str) -> Vec<Value> {
        self.state.lock().received.get(collection).cloned().unwrap_or_default()
    }

    /// How many requests a route has had (`lines`, `customers`, `orders`, …).
    pub fn hits(&self, route: &'static str) -> u32 {
        self.state.lock().hits.get(route).copied().unwrap_or(0)
    }

    /// The refresh tokens presented to the token endpoint, in order.
    pub fn refresh_tokens_used(&self) -> Vec<String> {
        self.state.lock().refresh_tokens_used.clone()
    }

    /// Every credential an echoing refusal has put in a body (`echo_credentials`), tokens and
    /// signed JWTs included.
    pub fn echoed(&self) -> Vec<String> {
        self.state.lock().echoed.clone()
    }

    /// How many tokens the OAuth2 token endpoint issued or refused.
    pub fn token_requests(&self) -> u32 {
        self.state.lock().token_requests
    }

    /// The faults the chaos schedule injected so far.
    pub fn chaos_counts(&self) -> ChaosCounts {
        self.state.lock().chaos_counts
    }

    /// Writes stored, and writes answered again for an idempotency key seen before.
    pub fn writes(&self) -> Writes {
        self.state.lock().writes
    }

    /// The vendor-shaped routes (Stripe, HubSpot, Slack): their settings and what they saw.
    pub fn vendors(&self) -> &Vendors {
        &self.state.vendors
    }

    /// What the writes to a collection did: applied, replayed, duplicate effects (see [`Receipts`]).
    pub fn receipts(&self, collection: &str) -> Receipts {
        self.state.lock().ledger.receipts(collection)
    }

    /// The records of a collection applied more than once, with how often and under which keys.
    pub fn duplicated(&self, collection: &str) -> Vec<Applied> {
        self.state.lock().ledger.duplicated(collection)
    }

    /// How many writes to a collection with this idempotency key were answered again, without effect.
    pub fn replays_of(&self, collection: &str, key: &str) -> u64 {
        self.state.lock().ledger.replays_of(collection, key)
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().faults = faults;
    }

    /// The most requests to a route (`messages`) that were being handled at once.
    pub fn max_in_flight(&self, route: &'static str) -> u32 {
        self.state.lock().in_flight.get(route).map_or(0, |(_, max)| *max)
    }

    /// Lets every held request go on ([`Faults::hang_orders`], [`Faults::huge_declared_orders`]);
    /// requests that arrive later are not held.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.release();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    let changes = changes::router(state.changes.clone(), state.config.shop_token.clone());
    Router::new()
        .route("/shop/orders", get(list_orders))
        .route("/shop/orders/search", post(search_orders))
        .route("/shop/legacy/orders", get(legacy_orders))
        .route("/shop/orders/{id}/lines", get(order_lines))
        .route("/shop/customers/{key}", get(customer))
        .route("/shop/ledger", get(ledger))
        .route("/crm/contacts", post(create_contact).get(list_contacts))
        .route("/crm/oauth/token", post(issue_token))
        .route("/crm/contacts/batch", post(create_contacts_batch))
        .route("/crm/v2/contacts", post(create_contact_oauth))
        .route("/crm/jwt/contacts", post(create_contact_jwt))
        .route("/desk/tickets", get(list_tickets))
        .route("/desk/tickets_linked", get(list_tickets_linked))
        .route("/chat/messages", post(post_message))
        .route("/chat/history", get(chat_history))
        .route("/desk/notes", post(add_note))
        .route("/directory/users", get(list_users))
        .route("/mail/lists/{list_id}", get(mailing_list))
        .route("/mail/lists/{list_id}/members", post(add_member))
        .route("/_control/received/{collection}", get(received))
        .route("/_control/receipts/{collection}", get(receipts_of))
        .route("/_control/faults", post(set_faults))
        .merge(vendors::router())
        .with_state(state)
        .merge(changes)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn bearer_ok(headers: &HeaderMap, token: &str) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v == format!("Bearer {token}"))
}

/// The value of a header, or "".
fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn header_ok(headers: &HeaderMap, name: &str, value: &str) -> bool {
    headers.get(name).and_then(|v| v.to_str().ok()) == Some(value)
}

fn basic_ok(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v == format!("Basic {expected}"))
}

const FIRST: [&str; 12] =
    ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Niklaus", "Radia", "John"];
const LAST: [&str; 10] =
    ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen", "Wirth"];
const SKUS: [(&str, f64); 6] =
    [("KB-01", 89.9), ("MS-02", 39.5), ("MN-27", 329.0), ("HD-05", 119.99), ("CB-10", 12.25), ("DK-30", 649.0)];

/// Order `id`, the same every time.
pub fn order(id: u64) -> Value {
    let first = FIRST[(id as usize * 7) % FIRST.len()];
    let last = LAST[(id as usize * 3) % LAST.len()];
    let items: Vec<Value> = (0..(id % 4))
        .map(|k| {
            let (sku, price) = SKUS[((id + k * 5) % SKUS.len() as u64) as usize];
            json!({ "sku": sku, "quantity": 1 + (id + k) % 3, "price": price })
        })
        .collect();
    let total: f64 =
        items.iter().map(|i| i["price"].as_f64().unwrap_or(0.0) * i["quantity"].as_f64().unwrap_or(0.0)).sum();
    let status = if id % 10 == 0 {
        "cancelled"
    } else if id % 3 == 0 {
        "closed"
    } else {
        "open"
    };
    let email = if id % 7 == 0 { Value::Null } else { json!(format!("{}.{}{}@Example.com", first, last, id)) };
    json!({
        "id": id,
        "email": email,
        "customer": { "first_name": first, "last_name": last },
        "total_price": (total * 100.0).round() / 100.0,
        "status": status,
        "created_at": format!("2026-{:02}-{:02}T{:02}:15:00Z", 1 + (id / 28) % 12, 1 + id % 28, id % 24),
        "line_items": items,
        "note": "fields the flow does not declare are ignored",
    })
}

#[derive(Deserialize)]
struct OrdersQuery {
    status: Option<String>,
    limit: Option<u64>,
    cursor: Option<String>,
    offset: Option<u64>,
    /// Page numbers from 1, pages of `limit`.
    page: Option<u64>,
    /// Only orders with a greater id (an incremental sync's cursor).
    after: Option<u64>,
}

async fn list_orders(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    Query(q): Query<OrdersQuery>,
) -> Response {
    if !bearer_ok(&headers, &state.config.shop_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let faults = state.lock().faults.clone();
    if faults.shop_down {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "the shop is down");
    }
    let hit = state.hit("orders");
    if hit == 1 {
        if let Some(after) = &faults.shop_retry_after {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", after.clone())],
                Json(json!({ "error": "slow down" })),
            )
                .into_response();
        }
    }
    if hit <= faults.shop_flaky {
        return error(StatusCode::SERVICE_UNAVAILABLE, "try again");
    }
    if faults.hang_orders {
        state.held().await;
    }
    if faults.huge_orders {
        // 65 chunks of 1 MiB, streamed (chunked transfer): no length is declared up front.
        let head = std::iter::once(Bytes::from_static(b"{\"orders\": [], \"pad\": \""));
        let pad = std::iter::repeat_n(Bytes::from(vec![b'x'; 1024 * 1024]), 65);
        let chunks = head.chain(pad).chain(std::iter::once(Bytes::from_static(b"\"}"))).map(Ok::<_, std::io::Error>);
        let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
        return (StatusCode::OK, [("content-type", "application/json")], body).into_response();
    }
    if faults.huge_declared_orders {
        // The header promises 65 MiB; the body waits until the test releases it.
        let state = state.clone();
        let body = futures_util::stream::once(async move {
            state.held().await;
            Err::<Bytes, _>(std::io::Error::other("the body was never going to come"))
        });
        return (
            StatusCode::OK,
            [("content-type", "application/json"), ("content-length", "68157440")],
            axum::body::Body::from_stream(body),
        )
            .into_response();
    }
    if faults.redirect_orders_elsewhere {
        return (StatusCode::FOUND, [("location", "http://elsewhere.example.net/shop/orders")], "").into_response();
    }
    if let Some(target) = &faults.redirect_orders_to {
        let location = match &raw_query {
            Some(q) => format!("{target}?{q}"),
            None => target.clone(),
        };
        return (StatusCode::FOUND, [("location", location)], "").into_response();
    }
    if faults.html_instead_of_json {
        return (StatusCode::OK, [("content-type", "text/html")], "<html><body><h1>Maintenance</h1></body></html>")
            .into_response();
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500).min(faults.max_page_size.unwrap_or(u64::MAX).max(1));
    let start = match (q.cursor.as_deref().map(str::parse::<u64>), q.offset, q.page) {
        (None, None, None) => 1,
        (None, Some(offset), _) => offset + 1,
        (None, None, Some(page)) => (page.max(1) - 1) * limit + 1,
        (Some(Ok(c)), _, _) => c,
        (Some(Err(_)), _, _) => return error(StatusCode::BAD_REQUEST, "bad cursor"),
    };
    let start = start.max(q.after.map_or(0, |a| a.saturating_add(1)));
    let mut orders = Vec::new();
    let mut id = start;
    while id <= state.config.orders && (orders.len() as u64) < limit {
        let mut o = order(id);
        let keep = q.status.as_deref().is_none_or(|s| o["status"] == s);
        if faults.missing_field && id == 3 {
            if let Some(obj) = o.as_object_mut() {
                obj.remove("status");
            }
        }
        if faults.malformed_orders {
            malformed_order(&mut o, id, &state.config.shop_token);
        }
        if keep {
            orders.push(o);
        }
        id += 1;
    }
    let next = if faults.repeat_cursor {
        json!(start.to_string())
    } else if id <= state.config.orders {
        json!(id.to_string())
    } else {
        Value::Null
    };
    let page = json!({ "orders": orders, "next_cursor": next, "total": state.config.orders });
    if faults.truncate_orders || hit <= faults.truncate_orders_first {
        let text = page.to_string();
        let cut = text.len() / 2;
        return (StatusCode::OK, [("content-type", "application/json")], text[..cut].to_string()).into_response();
    }
    let asked = format!("{:?} {:?} {:?} {:?} {:?}", q.status, q.limit, q.cursor, q.offset, q.page);
    if let Some((fault, _)) = state.chaos("orders", &asked) {
        return faulty(fault, StatusCode::OK, &page);
    }
    Json(page).into_response()
}

/// The orders' old address: a permanent redirect (relative, so the same origin) to `/shop/orders`
/// with the same query. Credentials must follow it, as they stay on the same host.
async fn legacy_orders(State(state): State<Arc<AppState>>, RawQuery(raw_query): RawQuery) -> Response {
    state.hit("legacy_orders");
    let location = match raw_query {
        Some(q) => format!("/shop/orders?{q}"),
        None => "/shop/orders".to_string(),
    };
    (StatusCode::PERMANENT_REDIRECT, [("location", location)], "").into_response()
}

/// Orders #4 and #7 do not fit the order type of the examples. #4 has four mismatches: its
/// `created_at` is not a date, its customer has no `last_name`, its `status` is unknown and its
/// `total_price` is not a number; it also echoes the shop token, which a dead letter must not
/// keep. #7 has two: its `email` is a number and its second line item's `quantity` a word.
pub fn malformed_order(o: &mut Value, id: u64, token: &str) {
    match id {
        4 => {
            o["created_at"] = json!("yesterday");
            if let Some(c) = o["customer"].as_object_mut() {
                c.remove("last_name");
            }
            o["status"] = json!("shipped");
            o["total_price"] = json!("n/a");
            o["debug"] = json!(format!("Bearer {token}"));
        }
        7 => {
            o["email"] = json!(7);
            o["line_items"][1]["quantity"] = json!("two");
        }
        _ => {}
    }
}

/// An order's lines: a child resource, for dependent requests.
async fn order_lines(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    if !bearer_ok(&headers, &state.config.shop_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    state.hit("lines");
    let mut o = order(id);
    if state.lock().faults.malformed_orders {
        malformed_order(&mut o, id, &state.config.shop_token);
    }
    let lines: Vec<Value> = o["line_items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| json!({ "sku": l["sku"], "quantity": l["quantity"] }))
        .collect();
    Json(json!({ "order_id": id, "lines": lines })).into_response()
}

/// Ledger entries whose amounts have more digits than a double holds, written as text: a
/// client that reads them through an f64 gets them wrong.
pub const LEDGER: &str = r#"{"entries":[{"id":1,"amount":12345678901234567890.12345678},{"id":2,"amount":0.10000000000000000000000001},{"id":3,"amount":-7.5}]}"#;

async fn ledger(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !bearer_ok(&headers, &state.config.shop_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    state.hit("ledger");
    let body = if state.lock().faults.escaped_ledger_keys {
        LEDGER.replace("\"amount\"", "\"amo\\u0075nt\"").replace("\"id\"", "\"\\u0069d\"")
    } else {
        LEDGER.to_string()
    };
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

/// A customer by key; the key comes back as the server decoded it from the path.
async fn customer(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(key): Path<String>) -> Response {
    if !bearer_ok(&headers, &state.config.shop_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    state.hit("customers");
    Json(json!({ "key": key, "vip": key.len() % 2 == 0 })).into_response()
}

/// A search API: the filter, page size and cursor in a JSON body.
async fn search_orders(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !bearer_ok(&headers, &state.config.shop_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let Some(q) = json_body(&body) else {
        return not_an_object();
    };
    let status = q["status"].as_str().map(str::to_string);
    let limit = q["limit"].as_u64().unwrap_or(50).clamp(1, 500);
    let mut id = match &q["cursor"] {
        Value::Null => 1,
        Value::String(c) => match c.parse::<u64>() {
            Ok(c) => c,
            Err(_) => return error(StatusCode::BAD_REQUEST, "bad cursor"),
        },
        _ => return error(StatusCode::BAD_REQUEST, "the cursor is a string"),
    };
    let mut orders = Vec::new();
    while id <= state.config.orders && (orders.len() as u64) < limit {
        let o = order(id);
        if status.as_deref().is_none_or(|s| o["status"] == s) {
            orders.push(o);
        }
        id += 1;
    }
    let next = if id <= state.config.orders { json!(id.to_string()) } else { Value::Null };
    Json(json!({ "orders": orders, "next_cursor": next })).into_response()
}

/// Stores a write, honouring `Idempotency-Key`: a repeated key answers the first answer again.
fn store(state: &AppState, headers: &HeaderMap, collection: &str, body: Value, prefix: &str) -> Value {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(|k| format!("{collection}:{k}"));
    let mut inner = state.lock();
    if let Some(k) = &key {
        if let Some(answer) = inner.idempotency.get(k).cloned() {
            inner.writes.replayed += 1;
            inner.ledger.replayed(collection, header(headers, "idempotency-key"));
            return answer;
        }
    }
    inner.writes.applied += 1;
    inner.ledger.applied(collection, &body, headers.get("idempotency-key").and_then(|v| v.to_str().ok()));
    inner.next_id += 1;
    let answer = json!({ "id": format!("{prefix}_{}", inner.next_id) });
    inner.received.entry(collection.to_string()).or_default().push(body);
    if let Some(k) = key {
        inner.idempotency.insert(k, answer.clone());
    }
    answer
}

/// The body as a JSON object, if it is one.
fn json_body(body: &Bytes) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok().filter(Value::is_object)
}

fn not_an_object() -> Response {
    error(StatusCode::BAD_REQUEST, "the body must be a JSON object")
}

async fn create_contact(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !header_ok(&headers, "x-api-key", &state.config.crm_api_key) {
        // Some real APIs echo the credential they refused; clients must not print it.
        let given = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or("");
        return error(StatusCode::UNAUTHORIZED, &format!("wrong X-Api-Key: {given}"));
    }
    let Some(body) = json_body(&body) else {
        return not_an_object();
    };
    for field in ["external_id", "email", "name"] {
        if !body[field].is_string() {
            return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("`{field}` must be a string"));
        }
    }
    if let Some(refusal) = state.echo_refusal(4, &body, &[header(&headers, "x-api-key")]) {
        return refusal;
    }
    if state.hit("contacts") <= state.lock().faults.crm_flaky {
        return error(StatusCode::SERVICE_UNAVAILABLE, "try again");
    }
    let reject = state.lock().faults.reject_contacts_ending_in;
    if let Some(d) = reject {
        if body["external_id"].as_str().is_some_and(|s| s.ends_with(char::from(b'0' + d))) {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "this contact is on the suppression list");
        }
    }
    let identity = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| body["external_id"].to_string(), str::to_string);
    if state.hit("contacts_answered") <= state.lock().faults.truncate_contacts_first {
        let answer = store(&state, &headers, "contacts", body, "c");
        return faulty(Fault::Truncate, StatusCode::CREATED, &answer);
    }
    match state.chaos("contacts", &identity) {
        None => (StatusCode::CREATED, Json(store(&state, &headers, "contacts", body, "c"))).into_response(),
        Some((fault, false)) => faulty_before(fault),
        Some((fault, true)) => {
            let answer = store(&state, &headers, "contacts", body, "c");
            state.lock().chaos_counts.after_applying += 1;
            faulty(fault, StatusCode::CREATED, &answer)
        }
    }
}

/// The OAuth2 token endpoint: `grant_type=client_credentials` with the client id and secret.
async fn issue_token(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url_form(&body);
    let mut inner = state.lock();
    inner.token_requests += 1;
    if inner.token_requests <= inner.faults.token_flaky {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the token service is starting");
    }
    if inner.faults.huge_token {
        let padding = "x".repeat(65 * 1024 * 1024);
        return (StatusCode::OK, [("content-type", "application/json")], format!("{{\"pad\": \"{padding}\"}}"))
            .into_response();
    }
    let client_ok = form.get("client_id") == Some(&state.config.crm_client_id)
        && form.get("client_secret") == Some(&state.config.crm_client_secret);
    let mut rotated = None;
    // RFC 6749 §5.2: a client that fails to authenticate is 401 `invalid_client`; a refresh
    // token that is not (or no longer) valid is 400 `invalid_grant`.
    let refused = match form.get("grant_type").map(String::as_str) {
        _ if !client_ok => Some((StatusCode::UNAUTHORIZED, "invalid_client")),
        Some("client_credentials") => None,
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let expected = inner.refresh_token.clone().unwrap_or_else(|| state.config.crm_refresh_token.clone());
            inner.refresh_tokens_used.push(presented.clone());
            if presented == expected {
                let next = format!("refresh-{}", inner.token_requests);
                inner.refresh_token = Some(next.clone());
                rotated = Some(next);
                None
            } else {
                Some((StatusCode::BAD_REQUEST, "invalid_grant"))
            }
        }
        _ => Some((StatusCode::BAD_REQUEST, "unsupported_grant_type")),
    };
    if let Some((status, code)) = refused {
        return (status, Json(json!({ "error": code }))).into_response();
    }
    // Tokens as many servers issue them: base64-like, with `/`, `+` and `=` in them.
    let token = format!("tok/{}+{}=", inner.token_requests, inner.next_id);
    inner.tokens.push(token.clone());
    let mut answer =
        json!({ "access_token": token, "token_type": "Bearer", "expires_in": state.config.token_ttl_secs });
    if inner.faults.token_without_expiry {
        if let Some(obj) = answer.as_object_mut() {
            obj.remove("expires_in");
        }
    }
    if let Some(r) = rotated {
        answer["refresh_token"] = json!(r);
    }
    Json(answer).into_response()
}

fn url_form(body: &[u8]) -> HashMap<String, String> {
    url_pairs(body).into_iter().collect()
}

/// Every `name=value` pair of a query or form body, repeated names included.
fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(k, v)| (decode_component(k), decode_component(v)))
        .collect()
}

fn decode_component(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Contacts behind OAuth2: a bearer token from the token endpoint.
async fn create_contact_oauth(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    {
        let mut inner = state.lock();
        if !inner.tokens.iter().any(|t| t == given) {
            return error(StatusCode::UNAUTHORIZED, "invalid or expired token");
        }
        inner.token_uses += 1;
        if inner.faults.revoke_tokens_after.is_some_and(|n| inner.token_uses == n) {
            inner.tokens.clear();
        }
    }
    let Some(body) = json_body(&body) else {
        return not_an_object();
    };
    if let Some(refusal) = state.echo_refusal(2, &body, &[given]) {
        return refusal;
    }
    (StatusCode::CREATED, Json(store(&state, &headers, "contacts", body, "c"))).into_response()
}

/// Contacts in batches: a JSON array; one refused contact refuses the whole batch.
async fn create_contacts_batch(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !header_ok(&headers, "x-api-key", &state.config.crm_api_key) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong X-Api-Key");
    }
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body must be a JSON array");
    };
    let reject = state.lock().faults.reject_contacts_ending_in;
    if let Some(d) = reject {
        if items.iter().any(|c| c["external_id"].as_str().is_some_and(|s| s.ends_with(char::from(b'0' + d)))) {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "a contact in this batch is on the suppression list");
        }
    }
    state.hit("batches");
    let n = items.len();
    let mut inner = state.lock();
    for item in &items {
        inner.ledger.applied("contacts", item, None);
    }
    let list = inner.received.entry("contacts".to_string()).or_default();
    list.extend(items);
    (StatusCode::CREATED, Json(json!({ "created": n }))).into_response()
}

/// Contacts behind a signed JWT: the signature, `exp` and the `aud` claim ("crm") are checked.
async fn create_contact_jwt(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let key = match decode_header(token).map(|h| h.alg) {
        Ok(Algorithm::HS256) => Some((Algorithm::HS256, DecodingKey::from_secret(state.config.jwt_secret.as_bytes()))),
        Ok(Algorithm::RS256) => state
            .config
            .jwt_public_pem
            .as_ref()
            .and_then(|pem| DecodingKey::from_rsa_pem(pem.as_bytes()).ok())
            .map(|k| (Algorithm::RS256, k)),
        _ => None,
    };
    let Some((alg, key)) = key else {
        return error(StatusCode::UNAUTHORIZED, "a bearer JWT (HS256 or RS256) is required");
    };
    let mut validation = Validation::new(alg);
    validation.set_audience(&["crm"]);
    if decode::<Value>(token, &key, &validation).is_err() {
        return error(StatusCode::UNAUTHORIZED, "the JWT does not verify");
    }
    state.hit("jwt");
    let Some(body) = json_body(&body) else {
        return not_an_object();
    };
    if let Some(refusal) = state.echo_refusal(3, &body, &[token]) {
        return refusal;
    }
    (StatusCode::CREATED, Json(store(&state, &headers, "contacts", body, "c"))).into_response()
}

async fn list_contacts(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !header_ok(&headers, "x-api-key", &state.config.crm_api_key) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong X-Api-Key");
    }
    let contacts = state.lock().received.get("contacts").cloned().unwrap_or_default();
    Json(json!({ "contacts": contacts })).into_response()
}

/// Ticket `id`.
pub fn ticket(id: u64) -> Value {
    const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
    let priority = PRIORITIES[(id % 4) as usize];
    json!({
        "id": id,
        "subject": format!("Order {} arrived damaged", 1000 + id),
        "priority": priority,
        "status": if id % 5 == 0 { "solved" } else { "open" },
        "requester": { "name": FIRST[(id as usize) % FIRST.len()], "email": format!("customer{id}@example.com") },
        "assignee": if id % 3 == 0 { Value::Null } else { json!({ "name": LAST[(id as usize) % LAST.len()] }) },
        "updated_at": format!("2026-03-{:02}T08:{:02}:00Z", 1 + id % 28, id % 60),
    })
}

async fn list_tickets(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !basic_ok(&headers, &state.config.desk_user, &state.config.desk_password) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong basic credentials");
    }
    state.hit("tickets");
    let after: u64 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = (after + 1..=state.config.tickets).take(25).map(ticket).collect();
    let last = after + page.len() as u64;
    // A relative next link, as many APIs send.
    let next = if last < state.config.tickets {
        json!(format!("/desk/tickets?after={last}"))
    } else if state.lock().faults.cycle_ticket_links {
        json!("/desk/tickets")
    } else {
        Value::Null
    };
    Json(json!({ "tickets": page, "links": { "next": next } })).into_response()
}

/// Tickets with the next page in a `Link` header, as GitHub does.
async fn list_tickets_linked(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !basic_ok(&headers, &state.config.desk_user, &state.config.desk_password) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong basic credentials");
    }
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let per_page = 20;
    let first = (page - 1) * per_page + 1;
    let tickets: Vec<Value> = (first..=state.config.tickets).take(per_page as usize).map(ticket).collect();
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let last = state.config.tickets.div_ceil(per_page).max(1);
    let mut link = format!("<http://{host}/desk/tickets_linked?page={last}>; rel=\"last\"");
    if page < last {
        link = format!("<http://{host}/desk/tickets_linked?page={}>; rel=\"next\", {link}", page + 1);
    }
    ([("link", link)], Json(Value::Array(tickets))).into_response()
}

async fn post_message(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if q.get("token") != Some(&state.config.chat_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong token");
    }
    let _in_flight = state.enter("messages");
    let barrier = state.lock().faults.messages_barrier;
    if let Some(n) = barrier {
        state.barrier(n).await;
    }
    let Some(body) = json_body(&body) else {
        return not_an_object();
    };
    if let Some(refusal) = state.echo_refusal(1, &body, &[&state.config.chat_token]) {
        return refusal;
    }
    (StatusCode::OK, Json(store(&state, &headers, "messages", body, "m"))).into_response()
}

/// Chat history, 20 messages a page, with the token in the query exactly once (a client that
/// adds its token to a link that already carries it is refused). With `echo_credentials` the
/// next links carry the token, and every other request for the second page fails with 503.
async fn chat_history(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let pairs = url_pairs(query.unwrap_or_default().as_bytes());
    let tokens: Vec<&str> = pairs.iter().filter(|(k, _)| k == "token").map(|(_, v)| v.as_str()).collect();
    if tokens.len() > 1 {
        return error(StatusCode::BAD_REQUEST, &format!("`token` given {} times; give it once", tokens.len()));
    }
    if tokens.first() != Some(&state.config.chat_token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong token");
    }
    let page: u64 = pairs.iter().find(|(k, _)| k == "page").and_then(|(_, v)| v.parse().ok()).unwrap_or(1).max(1);
    let echo = state.lock().faults.echo_credentials;
    // Every other request for the second page fails: each run's first one is retried.
    if echo && page == 2 && state.hit("history_page_2") % 2 == 1 {
        return error(StatusCode::SERVICE_UNAVAILABLE, "try again");
    }
    let per_page = 20;
    let first = (page - 1) * per_page + 1;
    let messages: Vec<Value> = (first..=HISTORY_MESSAGES)
        .take(per_page as usize)
        .map(|id| json!({ "id": id, "text": format!("message {id}") }))
        .collect();
    let host = header(&headers, "host");
    let next = if first + per_page <= HISTORY_MESSAGES {
        let mut link = format!("http://{host}/chat/history?page={}", page + 1);
        if echo {
            link.push_str(&format!("&token={}", form_encoded(&state.config.chat_token)));
        }
        json!(link)
    } else {
        Value::Null
    };
    Json(json!({ "messages": messages, "next": next })).into_response()
}

/// Notes on the helpdesk, behind HTTP basic auth.
async fn add_note(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !basic_ok(&headers, &state.config.desk_user, &state.config.desk_password) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong basic credentials");
    }
    let Some(body) = json_body(&body) else {
        return not_an_object();
    };
    let basic = header(&headers, "authorization").trim_start_matches("Basic ");
    let (user, password) = (&state.config.desk_user, &state.config.desk_password);
    if let Some(refusal) = state.echo_refusal(0, &body, &[password, basic, user]) {
        return refusal;
    }
    (StatusCode::CREATED, Json(store(&state, &headers, "notes", body, "n"))).into_response()
}

const DEPARTMENTS: [&str; 4] = ["Engineering", "Sales", "Support", "Finance"];

/// Directory user `id`.
pub fn user(id: u64) -> Value {
    let first = FIRST[(id as usize * 5) % FIRST.len()];
    let last = LAST[(id as usize * 7) % LAST.len()];
    json!({
        "id": format!("u{id:04}"),
        "name": { "given": first, "family": last },
        "emails": [
            { "address": format!("{}.{}@corp.example.com", first.to_lowercase(), last.to_lowercase()), "primary": true },
        ],
        "department": DEPARTMENTS[(id % 4) as usize],
        "active": id % 6 != 0,
        "marketing_opt_in": id % 2 == 0,
    })
}

async fn list_users(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !header_ok(&headers, "x-api-key", &state.config.directory_key) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong X-Api-Key");
    }
    state.hit("users");
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let per_page = 20;
    let first = (page - 1) * per_page + 1;
    let users: Vec<Value> = (first..=state.config.users).take(per_page as usize).map(user).collect();
    let cross = state.lock().faults.cross_host_next;
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let next = if first + per_page <= state.config.users {
        if cross {
            json!(format!("http://elsewhere.example.net/directory/users?page={}", page + 1))
        } else {
            // An absolute next link, as many APIs send.
            json!(format!("http://{host}/directory/users?page={}", page + 1))
        }
    } else {
        Value::Null
    };
    let has_more = first + per_page <= state.config.users;
    Json(json!({ "users": users, "next": next, "has_more": has_more })).into_response()
}

/// The settings of mailing list `list_id`: its id as the API spells it, and its current campaign.
pub fn mailing_list_settings(list_id: &str) -> Value {
    json!({ "id": format!("{list_id}-2026"), "name": format!("The {list_id}"), "campaign": "spring-2026" })
}

async fn mailing_list(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(list_id): Path<String>) -> Response {
    if !bearer_ok(&headers, &state.config.mail_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    state.hit("lists");
    Json(mailing_list_settings(&list_id)).into_response()
}

async fn add_member(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(list_id): Path<String>,
    body: Bytes,
) -> Response {
    if !bearer_ok(&headers, &state.config.mail_token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let Some(mut body) = json_body(&body) else {
        return not_an_object();
    };
    if let Some(refusal) = state.echo_refusal(5, &body, &[&state.config.mail_token]) {
        return refusal;
    }
    if let Some(obj) = body.as_object_mut() {
        obj.insert("list_id".into(), json!(list_id));
    }
    (StatusCode::CREATED, Json(store(&state, &headers, "members", body, "mem"))).into_response()
}

async fn received(State(state): State<Arc<AppState>>, Path(collection): Path<String>) -> Response {
    let items = state.lock().received.get(&collection).cloned().unwrap_or_default();
    Json(Value::Array(items)).into_response()
}

async fn receipts_of(State(state): State<Arc<AppState>>, Path(collection): Path<String>) -> Response {
    Json(state.lock().ledger.receipts(&collection)).into_response()
}

async fn set_faults(State(state): State<Arc<AppState>>, Json(faults): Json<Faults>) -> Response {
    state.lock().faults = faults;
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::{Chaos, Fault};

    #[test]
    fn the_chaos_schedule_is_a_function_of_the_request_and_keeps_its_rates() {
        let chaos = Chaos { seed: 7, truncate: 50, fail: 200, rate_limit: 20, drop: 50 };
        let draws: Vec<Option<(Fault, bool)>> =
            (0..100_000).map(|i| chaos.fault("contacts", &format!("order-{i}"), 0)).collect();
        let again: Vec<Option<(Fault, bool)>> =
            (0..100_000).map(|i| chaos.fault("contacts", &format!("order-{i}"), 0)).collect();
        assert_eq!(draws, again, "the same request meets the same fault");
        let count = |f: Fault| draws.iter().filter(|d| d.is_some_and(|(g, _)| g == f)).count();
        // Within 15% of the configured rates (per 10,000): 500, 2000, 200, 500 of 100,000.
        for (fault, expected) in
            [(Fault::Truncate, 500.0), (Fault::Fail, 2000.0), (Fault::RateLimit, 200.0), (Fault::Drop, 500.0)]
        {
            let n = count(fault) as f64;
            assert!((n - expected).abs() < expected * 0.15, "{fault:?}: {n}");
        }
        let after = draws.iter().filter(|d| d.is_some_and(|(_, after)| after)).count();
        let cut = count(Fault::Truncate);
        let maybe_after = (count(Fault::Fail) + count(Fault::Drop)) as f64;
        assert!(((after - cut) as f64 - maybe_after / 2.0).abs() < maybe_after * 0.1, "about half after storing");
        assert!(
            draws.iter().all(|d| !matches!(d, Some((Fault::RateLimit, true)))),
            "a 429 never follows a stored write"
        );
        // Another attempt of the same request is drawn afresh; another seed is another schedule.
        let retried = (0..100_000).filter(|i| chaos.fault("contacts", &format!("order-{i}"), 1) != draws[*i]).count();
        assert!(retried > 2_000, "{retried}");
        let other = Chaos { seed: 8, ..chaos };
        assert!((0..1000).any(|i| other.fault("contacts", &format!("order-{i}"), 0) != draws[i]));
    }
}
