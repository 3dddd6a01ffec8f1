//! Vendor-shaped endpoints, serving the vendors' own payloads (tests/data/vendors, with their
//! SOURCE notes) the way the vendors page and fail:
//!
//! | route | auth | as the vendor does it |
//! |---|---|---|
//! | `GET /stripe/v1/customers?limit=&starting_after=` | `Authorization: Bearer <TOKEN>` | Stripe's list envelope (`object`, `data`, `has_more`, `url`); the next page starts after the id of the last record; an unknown id is a 400 |
//! | `GET /stripe/v1/charges?limit=&starting_after=` | `Authorization: Bearer <TOKEN>` | as customers: Stripe's charge fixture, its `source` a card, a bank account or a source (Stripe's own fixtures of each), its `customer` an id, the expanded customer, or null |
//! | `GET /hubspot/contacts/v1/lists/all/contacts/all?count=&vidOffset=` | `?hapikey=<TOKEN>` | HubSpot v1: `contacts`, `"has-more"`, `"vid-offset"` (the last vid served, also on the last page) |
//! | `GET /slack/api/conversations.list?limit=&cursor=` | `Authorization: Bearer <TOKEN>` | Slack: `ok`, `channels`, `response_metadata.next_cursor` (`""` on the last page) |
//! | `GET /slack/api/conversations.history` | `Authorization: Bearer <TOKEN>` | Slack: `ok`, `messages` (one whose `blocks` hold Slack's own rich_text block fixture; then, after [`Vendors::set_slack_nested_blocks`], one whose block nests that deep), `has_more` |
//! | `POST /slack/api/chat.postMessage` | `Authorization: Bearer <TOKEN>` | Slack: `{"ok": true, "channel", "ts"}`, or `{"ok": false, "error": "not_in_channel"}` |
//!
//! Every Slack answer is status 200, errors included: a wrong token is `invalid_auth`, and the
//! first [`Vendors::set_slack_ratelimited`] requests are `ratelimited`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::AppState;

/// The credential every vendor route accepts.
pub const TOKEN: &str = "demo-vendor-token";

const STRIPE_CUSTOMER: &str = include_str!("../../../tests/data/vendors/stripe/customer.json");
const STRIPE_CHARGE: &str = include_str!("../../../tests/data/vendors/stripe/charge.json");
const STRIPE_CARD: &str = include_str!("../../../tests/data/vendors/stripe/card.json");
const STRIPE_BANK_ACCOUNT: &str = include_str!("../../../tests/data/vendors/stripe/bank_account.json");
const HUBSPOT_CONTACTS: &str = include_str!("../../../tests/data/vendors/hubspot/contacts_v1_all.json");
const SLACK_CHANNELS: &str = include_str!("../../../tests/data/vendors/slack/conversations_list.json");
const SLACK_RICH_TEXT: &str = include_str!("../../../tests/data/vendors/slack/rich_text_block.json");

/// What the vendor routes serve, and what they were asked.
#[derive(Debug)]
pub struct Vendors {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    customers: u64,
    contacts: u64,
    /// Customers whose `created` is text, not a number (a record that does not fit).
    bad_customers: Vec<u64>,
    ratelimited: u32,
    not_in_channel: Vec<String>,
    /// How deep the second message of `conversations.history` nests its block (0: no such message).
    nested_blocks: usize,
    hits: HashMap<&'static str, u32>,
    posted: Vec<Value>,
    queries: Vec<String>,
}

impl Default for Vendors {
    fn default() -> Vendors {
        Vendors {
            inner: Mutex::new(Inner {
                customers: 7,
                contacts: 7,
                bad_customers: Vec::new(),
                ratelimited: 0,
                not_in_channel: Vec::new(),
                nested_blocks: 0,
                hits: HashMap::new(),
                posted: Vec::new(),
                queries: Vec::new(),
            }),
        }
    }
}

impl Vendors {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many Stripe customers and HubSpot contacts there are (7 each by default).
    pub fn set_sizes(&self, customers: u64, contacts: u64) {
        let mut inner = self.lock();
        inner.customers = customers;
        inner.contacts = contacts;
    }

    /// Customer `n` (from 1) is served with `"created": "yesterday"`, which a declared `Int` refuses.
    pub fn set_stripe_bad_customer(&self, n: u64) {
        self.lock().bad_customers.push(n);
    }

    /// The next `n` Slack requests (of any route) answer `{"ok": false, "error": "ratelimited"}`.
    pub fn set_slack_ratelimited(&self, n: u32) {
        self.lock().ratelimited = n;
    }

    /// `chat.postMessage` to these channels answers `not_in_channel`.
    pub fn set_slack_not_in_channel(&self, channels: &[&str]) {
        self.lock().not_in_channel = channels.iter().map(|c| c.to_string()).collect();
    }

    /// `conversations.history` serves a second message, whose rich_text block holds a section
    /// inside a section … `depth` times (a payload no stack should have to recurse through).
    pub fn set_slack_nested_blocks(&self, depth: usize) {
        self.lock().nested_blocks = depth;
    }

    /// How many requests a vendor route had (`stripe_customers`, `hubspot_contacts`,
    /// `slack_conversations`, `slack_post`), answered or refused.
    pub fn hits(&self, route: &str) -> u32 {
        self.lock().hits.get(route).copied().unwrap_or(0)
    }

    /// The messages `chat.postMessage` accepted, in order.
    pub fn posted(&self) -> Vec<Value> {
        self.lock().posted.clone()
    }

    /// The query strings of the listing routes, in order (`stripe_customers?limit=3`).
    pub fn queries(&self) -> Vec<String> {
        self.lock().queries.clone()
    }

    /// Counts a request; a listing route's query is kept too.
    fn hit(&self, route: &'static str, query: Option<&HashMap<String, String>>) {
        let mut inner = self.lock();
        *inner.hits.entry(route).or_insert(0) += 1;
        let Some(query) = query else { return };
        let mut q: Vec<String> =
            query.iter().filter(|(k, _)| *k != "hapikey").map(|(k, v)| format!("{k}={v}")).collect();
        q.sort();
        inner.queries.push(format!("{route}?{}", q.join("&")));
    }

    /// Whether this Slack request is one of the seeded `ratelimited` answers.
    fn slack_ratelimited(&self) -> bool {
        let mut inner = self.lock();
        if inner.ratelimited == 0 {
            return false;
        }
        inner.ratelimited -= 1;
        true
    }
}

/// The routes, for the fake's router to merge.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/stripe/v1/customers", get(stripe_customers))
        .route("/stripe/v1/charges", get(stripe_charges))
        .route("/hubspot/contacts/v1/lists/all/contacts/all", get(hubspot_contacts))
        .route("/slack/api/conversations.list", get(slack_conversations))
        .route("/slack/api/conversations.history", get(slack_history))
        .route("/slack/api/chat.postMessage", post(slack_post))
}

fn bearer(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Customer `n` (from 1): Stripe's fixture with its own id and email, newest first as Stripe lists.
fn stripe_customer(n: u64) -> Value {
    let mut c = parse(STRIPE_CUSTOMER);
    c["id"] = json!(format!("cus_demo{n:04}"));
    c["email"] = json!(format!("customer{n}@example.com"));
    c["created"] = json!(1_700_000_000 - n as i64);
    c
}

async fn stripe_customers(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = &state.vendors;
    v.hit("stripe_customers", Some(&q));
    if !bearer(&headers) {
        let e = json!({ "error": { "message": "Invalid API Key provided", "type": "invalid_request_error" } });
        return (StatusCode::UNAUTHORIZED, Json(e)).into_response();
    }
    let total = v.lock().customers;
    let limit = q.get("limit").and_then(|l| l.parse::<u64>().ok()).unwrap_or(10).clamp(1, 100);
    // `created[gte]` is unix seconds, as Stripe takes it; anything else is refused as Stripe does.
    let since = match q.get("created[gte]").map(|c| c.parse::<i64>()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            let e = json!({ "error": {
                "message": format!("Invalid integer: {}", q["created[gte]"]),
                "param": "created[gte]",
                "type": "invalid_request_error",
            } });
            return (StatusCode::BAD_REQUEST, Json(e)).into_response();
        }
    };
    let listed: Vec<u64> =
        (1..=total).filter(|n| since.is_none_or(|t| stripe_customer(*n)["created"].as_i64() >= Some(t))).collect();
    let start = match q.get("starting_after") {
        None => 0,
        Some(id) => match listed.iter().position(|n| stripe_customer(*n)["id"] == json!(id)) {
            Some(i) => i + 1,
            None => {
                let e = json!({ "error": {
                    "message": format!("No such customer: '{id}'"),
                    "param": "starting_after",
                    "type": "invalid_request_error",
                } });
                return (StatusCode::BAD_REQUEST, Json(e)).into_response();
            }
        },
    };
    let bad = v.lock().bad_customers.clone();
    let data: Vec<Value> = listed[start.min(listed.len())..]
        .iter()
        .copied()
        .take(limit as usize)
        .map(|n| {
            let mut c = stripe_customer(n);
            if bad.contains(&n) {
                c["created"] = json!("yesterday");
            }
            c
        })
        .collect();
    let has_more = start + (limit as usize) < listed.len();
    Json(json!({ "object": "list", "data": data, "has_more": has_more, "url": "/v1/customers" })).into_response()
}

/// How many charges the Stripe route lists.
const CHARGES: u64 = 5;

/// Charge `n` (from 1): Stripe's fixture with its own id; its `source` in turn a card, a bank
/// account and the fixture's own source, its `customer` an id, the expanded customer or null
/// (as `expand[]=customer` gives it), and a `metadata` entry on every other one.
fn stripe_charge(n: u64) -> Value {
    let mut c = parse(STRIPE_CHARGE);
    c["id"] = json!(format!("ch_demo{n:04}"));
    c["created"] = json!(1_700_000_000 - n as i64);
    c["amount"] = json!(1000 * n);
    match n % 3 {
        1 => {
            c["source"] = parse(STRIPE_CARD);
            c["customer"] = json!(format!("cus_demo{n:04}"));
        }
        2 => {
            c["source"] = parse(STRIPE_BANK_ACCOUNT);
            c["customer"] = stripe_customer(n);
        }
        _ => {}
    }
    if n % 2 == 1 {
        c["metadata"] = json!({ "order_id": format!("{}", 6730 + n) });
    }
    c
}

async fn stripe_charges(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = &state.vendors;
    v.hit("stripe_charges", Some(&q));
    if !bearer(&headers) {
        let e = json!({ "error": { "message": "Invalid API Key provided", "type": "invalid_request_error" } });
        return (StatusCode::UNAUTHORIZED, Json(e)).into_response();
    }
    let limit = q.get("limit").and_then(|l| l.parse::<u64>().ok()).unwrap_or(10).clamp(1, 100);
    let start = match q.get("starting_after") {
        None => 1,
        Some(id) => match (1..=CHARGES).find(|n| stripe_charge(*n)["id"] == json!(id)) {
            Some(n) => n + 1,
            None => {
                let e = json!({ "error": { "message": format!("No such charge: '{id}'"), "type": "invalid_request_error" } });
                return (StatusCode::BAD_REQUEST, Json(e)).into_response();
            }
        },
    };
    let data: Vec<Value> = (start..=CHARGES).take(limit as usize).map(stripe_charge).collect();
    let has_more = start + limit <= CHARGES;
    Json(json!({ "object": "list", "data": data, "has_more": has_more, "url": "/v1/charges" })).into_response()
}

/// Contact `n` (from 1): one of HubSpot's recorded contacts, with vid `1000 + n`.
fn hubspot_contact(n: u64) -> Value {
    let page = parse(HUBSPOT_CONTACTS);
    let recorded = page["contacts"].as_array().cloned().unwrap_or_default();
    let mut c = recorded.get(((n - 1) as usize) % recorded.len().max(1)).cloned().unwrap_or(Value::Null);
    let vid = 1000 + n;
    c["vid"] = json!(vid);
    c["canonical-vid"] = json!(vid);
    if let Some(p) = c["identity-profiles"].get_mut(0) {
        p["vid"] = json!(vid);
    }
    c
}

async fn hubspot_contacts(State(state): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let v = &state.vendors;
    v.hit("hubspot_contacts", Some(&q));
    if q.get("hapikey").map(String::as_str) != Some(TOKEN) {
        let e = json!({ "status": "error", "message": "The API key provided is invalid." });
        return (StatusCode::UNAUTHORIZED, Json(e)).into_response();
    }
    let total = v.lock().contacts;
    let count = q.get("count").and_then(|c| c.parse::<u64>().ok()).unwrap_or(20).clamp(1, 100);
    let after = q.get("vidOffset").and_then(|o| o.parse::<u64>().ok()).unwrap_or(0);
    let first = after.saturating_sub(1000) + 1;
    let contacts: Vec<Value> = (first..=total).take(count as usize).map(hubspot_contact).collect();
    let last = contacts.last().and_then(|c| c["vid"].as_u64()).unwrap_or(after);
    let has_more = first + count <= total;
    Json(json!({ "contacts": contacts, "has-more": has_more, "vid-offset": last })).into_response()
}

/// A Slack error: status 200, `ok: false`.
fn slack_error(code: &str) -> Response {
    Json(json!({ "ok": false, "error": code })).into_response()
}

async fn slack_conversations(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = &state.vendors;
    v.hit("slack_conversations", Some(&q));
    if !bearer(&headers) {
        return slack_error("invalid_auth");
    }
    if v.slack_ratelimited() {
        return slack_error("ratelimited");
    }
    let mut page = parse(SLACK_CHANNELS);
    let channels = page["channels"].as_array().cloned().unwrap_or_default();
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(100).max(1);
    // The cursor is the id of the next channel, as Slack's opaque cursors encode it.
    let start = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => {
            match channels.iter().position(|ch| ch["id"].as_str().map(|id| format!("dGVhbTp{id}")) == Some(c.clone())) {
                Some(i) => i,
                None => return slack_error("invalid_cursor"),
            }
        }
    };
    let served: Vec<Value> = channels.iter().skip(start).take(limit).cloned().collect();
    let next = channels
        .get(start + limit)
        .and_then(|ch| ch["id"].as_str())
        .map_or_else(String::new, |id| format!("dGVhbTp{id}"));
    page["channels"] = json!(served);
    page["response_metadata"]["next_cursor"] = json!(next);
    Json(page).into_response()
}

/// One page of messages, written as text: a block nested 100,000 deep is more than serde_json
/// writes (or reads) from a `Value`.
async fn slack_history(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let v = &state.vendors;
    v.hit("slack_history", None);
    if !bearer(&headers) {
        return slack_error("invalid_auth");
    }
    let depth = v.lock().nested_blocks;
    let mut messages = vec![format!(
        r#"{{"type": "message", "user": "U061F7AUR", "ts": "1512085950.000216", "text": "Hey!", "blocks": [{SLACK_RICH_TEXT}]}}"#
    )];
    if depth > 0 {
        let open = r#"{"type": "rich_text_section", "elements": ["#.repeat(depth);
        let close = "]}".repeat(depth);
        messages.push(format!(
            r#"{{"type": "message", "user": "U061F7AUR", "ts": "1512085951.000216", "text": "deep", "blocks": [{{"type": "rich_text", "elements": [{open}{{"type": "text", "text": "bottom"}}{close}]}}]}}"#
        ));
    }
    let body = format!(r#"{{"ok": true, "messages": [{}], "has_more": false}}"#, messages.join(", "));
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn slack_post(State(state): State<Arc<AppState>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let v = &state.vendors;
    v.hit("slack_post", None);
    if !bearer(&headers) {
        return slack_error("invalid_auth");
    }
    if v.slack_ratelimited() {
        return slack_error("ratelimited");
    }
    let Some(channel) = body["channel"].as_str().map(str::to_string) else {
        return slack_error("channel_not_found");
    };
    if v.lock().not_in_channel.contains(&channel) {
        return slack_error("not_in_channel");
    }
    let ts = {
        let mut inner = v.lock();
        inner.posted.push(body.clone());
        format!("1512085950.{:06}", inner.posted.len())
    };
    Json(json!({ "ok": true, "channel": channel, "ts": ts, "message": { "text": body["text"], "ts": ts } }))
        .into_response()
}
