//! `run`: executes a [`Plan`] with tokio and reqwest. The only crate that talks HTTP.
//!
//! Sources are streamed page by page through a bounded channel, so memory stays flat however
//! many records a source has; records are processed concurrently up to the flow's limit, and
//! requests to each api are bounded by that api's concurrency. Every failure is a
//! [`Diagnostic`] that names the flow, the step and the record, with the span of the `.flow`
//! source that declared the failing step.

mod exec;
mod http;
mod paging;
mod secrets;

pub use http::{check_credentials, credential_secrets};
pub use secrets::Secrets;

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
}

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
    FlowFinished {
        flow: String,
        ok: bool,
    },
}

/// Receives events during a run. Called from many tasks at once.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
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
    exec::run(plan, options, observer).await
}

/// Replaces api base URLs for a run (`--base-url shop=http://127.0.0.1:8080`).
pub fn override_base_urls(plan: &mut Plan, overrides: &[(String, String)]) -> Result<(), String> {
    for (name, url) in overrides {
        let Some(api) = plan.apis.iter_mut().find(|a| &a.name == name) else {
            let names: Vec<&str> = plan.apis.iter().map(|a| a.name.as_str()).collect();
            return Err(format!(
                "--base-url names api `{name}`, which the file does not declare (it declares: {})",
                if names.is_empty() { "no apis".to_string() } else { names.join(", ") }
            ));
        };
        let parsed = url::Url::parse(url).map_err(|e| format!("--base-url {name}={url}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(format!("--base-url {name}={url}: expected an http or https URL without a query"));
        }
        api.base_url = url.trim_end_matches('/').to_string();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::FlowReport;

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
