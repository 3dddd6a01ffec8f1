//! Records that change between runs, for incremental syncs (`state` in a flow).
//!
//! - `GET /shop/changes?updated_since=T&order=id|updated&cursor=N&limit=K` (bearer shop token):
//!   the records whose `updated_at` is at or after `T` (inclusive, as many real APIs filter, so
//!   the records at the cursor come back), in id order (the default: not sorted by the cursor)
//!   or in `updated_at` order, `limit` per page (default 2), `{ "items": […], "next": "N" | null }`.
//! - `POST /shop/changes/copies` (bearer shop token): stores the copy it is sent, in arrival
//!   order; a repeated `Idempotency-Key` is answered from the first write and counted as
//!   replayed. With [`Changes::hold_after`], the write after the first N waits until
//!   [`Changes::release`], so a test can stop a run at an exact record.
//!
//! With [`Changes::gate`], the copies of the named records wait behind a gate until
//! [`Changes::open_gate`], whatever else goes on: records finish out of order, at a moment the
//! test chooses ([`Changes::at_gate`] says how many wait there).
//!
//! With [`Changes::refuse`], a copy whose `name` is one of the given names is answered 422 (the
//! receiving API refuses it) and not stored, until [`Changes::accept_all`]: dead letters, then
//! their replay once the receiver is fixed.
//!
//! A test changes the records between runs with [`Changes::put`] (a new record, or a new
//! version of one), at any `updated_at`: the same instant as the previous cursor, or a late
//! arrival inside the lookback window.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// The changing records and the copies received.
#[derive(Default)]
pub struct Changes {
    inner: Mutex<Inner>,
    released: tokio::sync::Notify,
}

#[derive(Default)]
struct Inner {
    /// By id: `{ id, name, updated_at }`.
    records: BTreeMap<String, Value>,
    copies: Vec<Value>,
    idempotency: HashMap<String, Value>,
    replayed: u64,
    hold_after: Option<usize>,
    released: bool,
    /// Writes waiting now for [`Changes::release`].
    held: usize,
    /// Pages served, with the `cursor` each asked for ("" for the first).
    pages: Vec<String>,
    /// Copies with one of these names are refused (422).
    refused: Vec<String>,
    /// Copies with one of these names wait until [`Changes::open_gate`].
    gated: Vec<String>,
    /// Writes waiting at the gate now.
    at_gate: usize,
}

impl Changes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a record, or a new version of one: `updated_at` in RFC 3339.
    pub fn put(&self, id: &str, name: &str, updated_at: &str) {
        self.lock().records.insert(id.to_string(), json!({ "id": id, "name": name, "updated_at": updated_at }));
    }

    /// The copies received, in arrival order (replays of an idempotency key not included).
    pub fn copies(&self) -> Vec<Value> {
        self.lock().copies.clone()
    }

    /// Writes answered from an earlier write with the same idempotency key.
    pub fn replayed(&self) -> u64 {
        self.lock().replayed
    }

    /// The `cursor` of each page served, in order ("" for a first page).
    pub fn pages(&self) -> Vec<String> {
        self.lock().pages.clone()
    }

    /// The copies received since the last look, in arrival order, and forgets them and the
    /// pages served (the records stay), in one step: a copy that lands meanwhile (a held write released) is in
    /// this look or the next, never lost between a read and a clear.
    pub fn take_received(&self) -> Vec<Value> {
        let mut inner = self.lock();
        inner.pages.clear();
        std::mem::take(&mut inner.copies)
    }

    /// From now on, the write after the first `n` copies waits until [`Changes::release`].
    pub fn hold_after(&self, n: usize) {
        let mut inner = self.lock();
        inner.hold_after = Some(n);
        inner.released = false;
    }

    /// From now on, a copy whose `name` is one of `names` is answered 422 and not stored.
    pub fn refuse(&self, names: &[&str]) {
        self.lock().refused = names.iter().map(|n| n.to_string()).collect();
    }

    /// From now on, a copy whose `name` is one of `names` waits until [`Changes::open_gate`]
    /// (then it is answered as any other: stored, replayed or refused).
    pub fn gate(&self, names: &[&str]) {
        self.lock().gated = names.iter().map(|n| n.to_string()).collect();
    }

    /// How many writes wait at the gate now.
    pub fn at_gate(&self) -> usize {
        self.lock().at_gate
    }

    /// Lets the writes at the gate go on, and gates no more.
    pub fn open_gate(&self) {
        self.lock().gated.clear();
        self.released.notify_waiters();
    }

    /// Accepts every copy again (the receiving API was fixed).
    pub fn accept_all(&self) {
        self.lock().refused.clear();
    }

    /// How many writes are held now: a run is parked there, a structural moment for a test to
    /// act at (send a signal), never a guess of time.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    /// Lets held writes go on, and stops holding.
    pub fn release(&self) {
        let mut inner = self.lock();
        inner.hold_after = None;
        inner.released = true;
        drop(inner);
        self.released.notify_waiters();
    }
}

pub(crate) fn router(changes: Arc<Changes>, token: String) -> Router {
    Router::new()
        .route("/shop/changes", get(list))
        .route("/shop/changes/copies", post(copy))
        .with_state((changes, Arc::new(token)))
}

type St = State<(Arc<Changes>, Arc<String>)>;

fn refused(headers: &HeaderMap, token: &str) -> Option<Response> {
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v == format!("Bearer {token}"));
    (!ok).then(|| (StatusCode::UNAUTHORIZED, Json(json!({ "error": "bad token" }))).into_response())
}

async fn list(State((changes, token)): St, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = refused(&headers, &token) {
        return r;
    }
    let since = match q.get("updated_since").map(|s| chrono::DateTime::parse_from_rfc3339(s)) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": "bad updated_since" }))).into_response()
        }
    };
    let at = |v: &Value| v["updated_at"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let mut inner = changes.lock();
    let mut items: Vec<Value> =
        inner.records.values().filter(|r| since.is_none_or(|s| at(r).is_some_and(|t| t >= s))).cloned().collect();
    if q.get("order").map(String::as_str) == Some("updated") {
        items.sort_by(|a, b| at(a).cmp(&at(b)).then_with(|| a["id"].as_str().cmp(&b["id"].as_str())));
    }
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|c| c.parse().ok()).unwrap_or(2).max(1);
    inner.pages.push(q.get("cursor").cloned().unwrap_or_default());
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let next = (start + limit < items.len()).then(|| (start + limit).to_string());
    Json(json!({ "items": page, "next": next })).into_response()
}

async fn copy(State((changes, token)): St, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = refused(&headers, &token) {
        return r;
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut waiting = Waiting { changes: &changes, counted: false, gated: false };
    loop {
        let notified = changes.released.notified();
        {
            let mut inner = changes.lock();
            let gated = body["name"].as_str().is_some_and(|n| inner.gated.iter().any(|g| g == n));
            if gated != waiting.gated {
                if gated {
                    inner.at_gate += 1;
                } else {
                    inner.at_gate -= 1;
                }
                waiting.gated = gated;
            }
            // At the gate: nothing else happens until it opens.
            if !gated {
                if let Some(answer) = key.as_ref().and_then(|k| inner.idempotency.get(k).cloned()) {
                    inner.replayed += 1;
                    return Json(answer).into_response();
                }
                if body["name"].as_str().is_some_and(|n| inner.refused.iter().any(|r| r == n)) {
                    let error = json!({ "error": "the copy was refused", "name": body["name"] });
                    return (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response();
                }
                let held = inner.hold_after.is_some_and(|n| inner.copies.len() >= n) && !inner.released;
                if held && !waiting.counted {
                    inner.held += 1;
                    waiting.counted = true;
                }
                if !held {
                    let answer = json!({ "id": format!("copy-{}", inner.copies.len() + 1) });
                    inner.copies.push(body);
                    if let Some(k) = key {
                        inner.idempotency.insert(k, answer.clone());
                    }
                    return Json(answer).into_response();
                }
            }
        }
        notified.await;
    }
}

/// A held write, counted in [`Changes::held`] until it goes on or its client goes away.
struct Waiting<'a> {
    changes: &'a Changes,
    counted: bool,
    /// Counted in [`Changes::at_gate`].
    gated: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut inner = self.changes.lock();
        if self.counted {
            inner.held -= 1;
        }
        if self.gated {
            inner.at_gate -= 1;
        }
    }
}
