//! `run`: executes a [`Plan`] with tokio and reqwest. The only crate that talks HTTP.
//!
//! Stages of a run: preflight (`preflight.rs`: credentials judged with the secrets at hand,
//! secrets without a value), then the flows (`exec.rs`), paging through sources (`paging.rs`),
//! each request through `http.rs` with its credentials from `auth/`. This crate must never know
//! the source text, the command line or the terminal: it takes a Plan and plain options, and
//! gives events and a Report of Diagnostics that the caller renders.
//!
//! Sources are streamed page by page through a bounded channel, so memory stays flat however
//! many records a source has; records are processed concurrently up to the flow's limit, and
//! requests to each api are bounded by that api's concurrency. Every failure is a
//! [`Diagnostic`] that names the flow, the step and the record, with the span of the `.flow`
//! source that declared the failing step.

mod answer_errors;
mod auth;
mod dead_letter_file;
mod dead_letters;
mod exec;
mod http;
mod paging;
mod preflight;
mod secrets;
mod sensitive;
mod state;

pub use dead_letters::{FlowReplay, ReplayFailure, ReplayOptions, ReplayReport};
pub use exec::Stats as Counters;
pub use flow_state::RunCounts;
pub use preflight::{check_credentials, credential_secrets};
pub use secrets::{Secrets, MIN_SECRET_CHARS};
pub use sensitive::mask_kept_record;

use std::path::PathBuf;
use std::sync::Arc;

use flow_diagnostics::Diagnostic;
use flow_plan::Plan;
use serde::Serialize;

/// How to run a plan.
pub struct RunOptions {
    /// Run only this flow; `None` runs every flow in file order.
    pub flow: Option<String>,
    pub secrets: Secrets,
    /// Relative dead letter paths are resolved against this folder (the `.flow` file's).
    pub base_dir: PathBuf,
    /// The state store (`flowc run --state PATH`); `None`: [`DEFAULT_STATE_FILE`] in `base_dir`.
    /// Opened only when a flow to run declares state.
    pub state: Option<PathBuf>,
    /// The key of an encrypted store (`flowc run --state-key SECRET_NAME`); `None`: a plain store.
    pub state_key: Option<flow_state::StoreKey>,
}

/// The state store's file name when `--state` does not give one: one per project, beside the
/// `.flow` file.
pub const DEFAULT_STATE_FILE: &str = "flowc-state.sqlite";

/// What a run reports as it goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    FlowStarted {
        flow: String,
    },
    /// One HTTP exchange. The URL never contains a secret.
    Request {
        flow: String,
        api: String,
        method: String,
        url: String,
        status: Option<u16>,
        latency_ms: u64,
    },
    Page {
        flow: String,
        endpoint: String,
        records: usize,
    },
    /// A failed request about to be sent again.
    Retry {
        flow: String,
        api: String,
        url: String,
        attempt: u32,
        wait_ms: u64,
        reason: String,
    },
    RecordFailed {
        flow: String,
        code: &'static str,
        message: String,
        dead_lettered: bool,
    },
    /// Something the user should know about a flow's run (where its state starts from).
    Note {
        flow: String,
        message: String,
    },
    FlowFinished {
        flow: String,
        ok: bool,
    },
}

impl Event {
    /// The event with every text in it scrubbed of secrets. Every field is named (no `..`), so a
    /// field or a variant added to `Event` does not compile until it is handled here.
    fn redacted(self, secrets: &Secrets) -> Event {
        let r = |text: String| secrets.redact(&text);
        match self {
            Event::FlowStarted { flow } => Event::FlowStarted { flow: r(flow) },
            Event::Request { flow, api, method, url, status, latency_ms } => {
                Event::Request { flow: r(flow), api: r(api), method: r(method), url: r(url), status, latency_ms }
            }
            Event::Page { flow, endpoint, records } => Event::Page { flow: r(flow), endpoint: r(endpoint), records },
            Event::Retry { flow, api, url, attempt, wait_ms, reason } => {
                Event::Retry { flow: r(flow), api: r(api), url: r(url), attempt, wait_ms, reason: r(reason) }
            }
            Event::RecordFailed { flow, code, message, dead_lettered } => {
                Event::RecordFailed { flow: r(flow), code, message: r(message), dead_lettered }
            }
            Event::Note { flow, message } => Event::Note { flow: r(flow), message: r(message) },
            Event::FlowFinished { flow, ok } => Event::FlowFinished { flow: r(flow), ok },
        }
    }
}

/// The runtime's only way to the observer: every event is scrubbed of secrets on the way, so no
/// event, present or future, reaches output unscrubbed.
pub(crate) struct Events {
    observer: Arc<dyn Observer>,
    secrets: Arc<Secrets>,
}

impl Events {
    pub(crate) fn new(observer: Arc<dyn Observer>, secrets: Arc<Secrets>) -> Events {
        Events { observer, secrets }
    }

    pub(crate) fn emit(&self, event: Event) {
        let event = event.redacted(&self.secrets);
        // Emitted while a record with sensitive values is worked on: scrubbed of those too.
        match crate::sensitive::current() {
            Some(record) => self.observer.event(&event.redacted(&record)),
            None => self.observer.event(&event),
        }
    }

    /// Hands the observer a flow's live counters as the flow starts (numbers only: nothing to
    /// scrub).
    pub(crate) fn counters(&self, counters: Arc<Counters>) {
        self.observer.counters(counters);
    }
}

/// Receives events during a run. Called from many tasks at once.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);

    /// The live counters of the flow that is starting (before its first request; the flow's
    /// `FlowFinished` follows when they are final). They are the ones its [`FlowReport`] is made
    /// of, so what a status line shows from them agrees with the summary.
    fn counters(&self, _counters: Arc<Counters>) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&self, _: &Event) {}
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub flows: Vec<FlowReport>,
    /// Every failure, rendered against the `.flow` source by the caller.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.flows.iter().all(|f| f.ok) && !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowReport {
    pub name: String,
    pub ok: bool,
    /// Records of the flow's outermost source read: every record of every page fetched.
    pub records_in: u64,
    /// Records skipped by a `where` filter.
    pub records_filtered: u64,
    /// Records whose every step succeeded.
    pub records_ok: u64,
    /// Records that failed (and, with `dead_letter`, were written there).
    pub records_failed: u64,
    /// Records read but neither delivered, filtered out nor failed, because the flow stopped
    /// first: still in their page, queued, in flight, or waiting for their batch.
    pub records_not_processed: u64,
    pub dead_lettered: u64,
    pub pages: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    pub retries: u64,
    /// Responses by HTTP status, retried ones included.
    pub statuses: std::collections::BTreeMap<u16, u64>,
    /// Why the paging of each source stopped (a nested source is paged once per record).
    pub paging: Vec<PagingStop>,
    pub elapsed_ms: u64,
    /// Stopped on request ([`run_until`]) while it ran: what was in flight finished, and the
    /// records read after it are not processed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    /// A flow with state: how many records this run may have sent a second time, which the run
    /// before it (interrupted, failed or stopped) had started past its last checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub may_have_resent: Option<u64>,
}

impl FlowReport {
    /// Every record read is delivered, filtered out, failed or not processed, exactly once.
    pub fn reconciles(&self) -> bool {
        [self.records_ok, self.records_filtered, self.records_failed, self.records_not_processed]
            .iter()
            .try_fold(0u64, |sum, n| sum.checked_add(*n))
            == Some(self.records_in)
    }
}

/// Why the paging of a source stopped: `empty page`, `short page`, `total reached`,
/// `` `more` not true ``, `no next cursor`, `no next link` or `max_pages`.
#[derive(Debug, Clone, Serialize)]
pub struct PagingStop {
    pub endpoint: String,
    pub reason: String,
    /// How many times (once per parent record for a nested source).
    pub times: u64,
}

/// Runs the plan's flows (or the one named in the options), one after another.
pub async fn run(plan: &Plan, options: RunOptions, observer: Arc<dyn Observer>) -> Report {
    exec::run(plan, options, observer, StopToken::default()).await
}

/// [`run`], stopped gracefully when `stop` is set (a signal): no new page or record is read,
/// the records in flight finish, the flow's state is checkpointed at its watermark and its run
/// recorded `stopped`; later flows do not start. Each stopped flow's report says `stopped`.
pub async fn run_until(plan: &Plan, options: RunOptions, observer: Arc<dyn Observer>, stop: StopToken) -> Report {
    exec::run(plan, options, observer, stop).await
}

/// Asks a run to stop gracefully ([`run_until`]); clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<std::sync::atomic::AtomicBool>);

impl StopToken {
    pub fn stop(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `flowc replay`: the dead letters of the store sent through their flows again
/// (docs/state.md, "Replay"). The store is opened by the caller (its key included).
pub async fn replay(
    plan: &Plan,
    store: Box<dyn flow_state::StateStore>,
    options: ReplayOptions,
    observer: Arc<dyn Observer>,
) -> ReplayReport {
    dead_letters::replay(plan, store, options, observer).await
}

/// `flowc replay --from FILE`: the dead letters of a `dead_letter(…)` NDJSON file (or an export
/// of the store) sent through their flows again; the file is rewritten atomically as each one
/// succeeds or fails again (docs/state.md, "Replay of a dead letter file"). No store is used.
pub async fn replay_file(
    plan: &Plan,
    file: &std::path::Path,
    options: ReplayOptions,
    observer: Arc<dyn Observer>,
) -> ReplayReport {
    dead_letters::replay_file(plan, file, options, observer).await
}

/// The dead letter a line of a `dead_letter(…)` file holds (its id: `number`, the line's); `None`
/// when the line is not one. For `flowc replay --from --dry-run`.
pub fn read_dead_letter_line(line: &str, number: i64) -> Option<flow_state::DeadLetter> {
    dead_letter_file::parse_line(line, number)
}

/// A base URL override for one run (`flowc run --base-url shop=http://127.0.0.1:8080`), as the
/// command line read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub api: String,
    pub url: url::Url,
}

/// Why an override was refused: plain data, which the caller words (the command line says which
/// flag it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideError {
    /// It names an api the file does not declare; `declared` are the ones it does.
    UnknownApi { api: String, declared: Vec<String> },
    /// Not an http or https URL without a query or fragment (E0401's rule), at `plan.apis[api]`.
    NotHttp { api: usize },
    /// Plain http:// to `host`, not this machine, for an api that does not declare
    /// `allow_http = true` (E0403's rule), at `plan.apis[api]`.
    PlainHttp { api: usize, host: String },
}

impl std::fmt::Display for OverrideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverrideError::UnknownApi { api, .. } => write!(f, "no api `{api}` is declared"),
            OverrideError::NotHttp { .. } => f.write_str("not an http or https URL without a query"),
            OverrideError::PlainHttp { host, .. } => write!(f, "plain http:// to `{host}`, which is not this machine"),
        }
    }
}

/// Replaces api base URLs for a run. An override obeys the rules a declared `base_url` does: an
/// http or https URL without a query or fragment, and plain http:// only to this machine unless
/// the api declares `allow_http = true`.
pub fn override_base_urls(plan: &mut Plan, overrides: &[BaseUrl]) -> Result<(), OverrideError> {
    for BaseUrl { api: name, url } in overrides {
        let Some(index) = plan.apis.iter().position(|a| &a.name == name) else {
            let declared = plan.apis.iter().map(|a| a.name.clone()).collect();
            return Err(OverrideError::UnknownApi { api: name.clone(), declared });
        };
        let api = &mut plan.apis[index];
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
            return Err(OverrideError::NotHttp { api: index });
        }
        if flow_plan::is_plain_http_elsewhere(url) && !api.allow_http {
            return Err(OverrideError::PlainHttp { api: index, host: url.host_str().unwrap_or("").to_string() });
        }
        api.base_url = url.as_str().trim_end_matches('/').to_string();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record(std::sync::Mutex<Vec<String>>);

    impl Observer for Record {
        fn event(&self, event: &Event) {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(format!("{event:?}"));
        }
    }

    #[test]
    fn every_text_of_every_event_is_scrubbed_on_its_way_to_the_observer() {
        let key = "k3y/9f+Qz";
        let mut secrets = Secrets::new();
        secrets.insert("KEY", secrecy::SecretString::from(key.to_string()));
        let record = Arc::new(Record(std::sync::Mutex::new(Vec::new())));
        let events = Events::new(record.clone(), Arc::new(secrets));
        let t = |s: &str| format!("{s} {key} k3y%2F9f%2BQz");
        for event in [
            Event::FlowStarted { flow: t("flow") },
            Event::Request {
                flow: t("flow"),
                api: t("api"),
                method: t("GET"),
                url: format!("https://x/?key={}", t("")),
                status: Some(200),
                latency_ms: 1,
            },
            Event::Page { flow: t("flow"), endpoint: t("endpoint"), records: 1 },
            Event::Retry { flow: t("flow"), api: t("api"), url: t("url"), attempt: 1, wait_ms: 0, reason: t("reason") },
            Event::RecordFailed { flow: t("flow"), code: "R0001", message: t("message"), dead_lettered: true },
            Event::FlowFinished { flow: t("flow"), ok: true },
        ] {
            events.emit(event);
        }
        let seen = record.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).join("\n");
        assert_eq!(seen.lines().count(), 6);
        assert!(!seen.contains("k3y"), "{seen}");
        // Two in each of the 14 text fields.
        assert_eq!(seen.matches("[secret KEY]").count(), 2 * 14, "{seen}");
    }

    #[test]
    fn a_report_reconciles_when_every_record_read_has_one_outcome() {
        let report = |read, ok, filtered, failed, not_processed| FlowReport {
            records_in: read,
            records_ok: ok,
            records_filtered: filtered,
            records_failed: failed,
            records_not_processed: not_processed,
            ..FlowReport::default()
        };
        assert!(report(50, 1, 2, 1, 46).reconciles());
        assert!(report(0, 0, 0, 0, 0).reconciles());
        assert!(!report(50, 1, 2, 1, 0).reconciles(), "records read but unaccounted for");
        assert!(!report(5, 5, 0, 1, 0).reconciles(), "a record counted twice");
        assert!(!report(u64::MAX, u64::MAX, 1, 0, 0).reconciles(), "no overflow");
    }
}
