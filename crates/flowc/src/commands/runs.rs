//! `flowc runs`: the run history kept in the state store, newest first, as a table or JSON.

use std::path::Path;
use std::process::ExitCode;

use flow_state::{RunRecord, StateStore};

use super::state::{store_error, StoreOptions, Target};
use crate::report;

/// The columns of the table, in order.
const COLUMNS: [&str; 14] = [
    "id",
    "flow",
    "started",
    "ended",
    "status",
    "read",
    "delivered",
    "filtered",
    "failed",
    "pages",
    "requests",
    "retries",
    "resent",
    "error",
];

pub(crate) fn runs(
    file: &Path,
    flow: Option<&str>,
    json: bool,
    limit: usize,
    state: StoreOptions<'_>,
) -> miette::Result<ExitCode> {
    let (target, store) = match Target::with_existing_store(file, flow, state)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    let runs = match store.runs(flow, limit) {
        Ok(r) => r,
        Err(e) => return Ok(target.fail(store_error(e))),
    };
    if json {
        let list: Vec<serde_json::Value> = runs.iter().map(run_json).collect();
        report::print(&format!("{}\n", serde_json::Value::Array(list)));
    } else if runs.is_empty() {
        report::eprint(&match flow {
            Some(f) => format!("no runs of flow {f} in {}", target.store.display()),
            None => format!("no runs in {}", target.store.display()),
        });
    } else {
        report::print(&table(&runs));
    }
    Ok(ExitCode::SUCCESS)
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One run as JSON: every count, times in RFC 3339 (UTC), `ended` and `error` null when absent.
fn run_json(r: &RunRecord) -> serde_json::Value {
    let c = &r.counts;
    serde_json::json!({
        "id": r.id.0,
        "flow": r.flow,
        // A `flowc replay` is recorded as a run of its flow, by its lease's holder.
        "kind": if r.holder.starts_with("flowc replay") { "replay" } else { "run" },
        "started": stamp(r.started_at),
        "ended": r.finished_at.map(stamp),
        "status": r.status.as_str(),
        "read": c.read,
        "delivered": c.delivered,
        "filtered": c.filtered,
        "failed": c.failed,
        "dead_lettered": c.dead_lettered,
        "not_processed": c.not_processed,
        "pages": c.pages,
        "requests": c.requests,
        "retries": c.retries,
        "resent": match r.resent {
            Some(flow_state::Resent::AtMost { run, records }) => serde_json::json!({ "from_run": run.0, "at_most": records }),
            Some(flow_state::Resent::Unknown { run }) => serde_json::json!({ "from_run": run.0, "at_most": null }),
            None => serde_json::Value::Null,
        },
        "error": r.error,
    })
}

/// The runs as an aligned table; the error is the last column, on one line.
fn table(runs: &[RunRecord]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let c = &r.counts;
            vec![
                r.id.0.to_string(),
                r.flow.clone(),
                stamp(r.started_at),
                r.finished_at.map_or_else(|| "-".to_string(), stamp),
                r.status.as_str().to_string(),
                c.read.to_string(),
                c.delivered.to_string(),
                c.filtered.to_string(),
                c.failed.to_string(),
                c.pages.to_string(),
                c.requests.to_string(),
                c.retries.to_string(),
                match r.resent {
                    Some(flow_state::Resent::AtMost { records, .. }) => records.to_string(),
                    Some(flow_state::Resent::Unknown { .. }) => "?".to_string(),
                    None => "-".to_string(),
                },
                r.error.as_deref().map_or_else(|| "-".to_string(), |e| e.lines().collect::<Vec<_>>().join(" ")),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = COLUMNS.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut s = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                // Counts right-aligned, words left-aligned.
                let pad = widths[i].saturating_sub(cell.chars().count());
                if (5..12).contains(&i) {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                }
                s.push_str("  ");
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(COLUMNS.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
