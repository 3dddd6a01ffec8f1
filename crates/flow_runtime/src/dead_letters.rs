//! Dead letters kept durably: a failed record under `on_error = dead_letter(…)` goes to the
//! NDJSON file, and, when the flow uses the state store (it declares `state`), into the store's
//! dead-letter table too, before the record counts as settled (docs/state.md, "Dead letters in
//! the store"). So the low watermark never passes a dead-lettered record whose dead letter is
//! not on disk in both places: a crash in between leaves the record unsettled, and the next run
//! reads it again.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use flow_diagnostics::{codes, Diagnostic};
use flow_eval::eval::{self, Env};
use flow_eval::Program;
use flow_plan::{Step, Type, Value};
use flow_state::{
    DeadLetter, DeadLetterError, Lease, Mismatch, NewDeadLetter, RunCounts, RunEnd, RunId, RunStatus, SecretAt,
};

use crate::dead_letter_file::LetterFile;
use crate::exec::{Ctx, FlowRun, Kept, RecordRef};
use crate::state::{lock, store_failure, Store, LEASE_TTL};

fn now() -> chrono::DateTime<Utc> {
    chrono::DateTime::<Utc>::from(std::time::SystemTime::now())
}

impl FlowRun {
    /// Writes a failed record's dead letter: the line of the `dead_letter(…)` file, flushed to
    /// disk, then, for a flow that uses the store, its row in the store (committed, fsynced). The
    /// R0007 that stops the run (so the record is not lost) when either cannot be written.
    pub(crate) fn keep_dead_letter(
        &self,
        path: &str,
        d: &Diagnostic,
        rec: &RecordRef,
        record: Kept<'_>,
    ) -> Result<(), Diagnostic> {
        // Sensitive fields are masked in the file always, and in the store unless it is
        // encrypted (then it keeps them, sealed, for a replay to send).
        let masked = self.masked(&rec.source, record);
        let shown = masked.as_ref().map_or(record, crate::sensitive::Masked::kept);
        // Scrubbed once for the file, and for the store too unless it keeps the unmasked record.
        let kept = self.kept_record(shown);
        self.write_dead_letter(path, d, rec, shown, &kept).map_err(|e| {
            Diagnostic::new(
                codes::DEAD_LETTER,
                format!("{} could not be written to the dead letter file {path}: {e}", rec.describe()),
            )
            .note(format!("in flow `{}`; the run stops so the record is not lost", self.flow_name()))
            .help("make the dead letter file writable, then run again")
        })?;
        let encrypted = self.state.as_ref().is_some_and(|s| crate::state::lock(&s.store).encrypted());
        if encrypted {
            let unmasked = self.kept_record(record);
            self.store_dead_letter(d, rec, record, unmasked)
        } else {
            self.store_dead_letter(d, rec, shown, kept)
        }
    }

    /// The store's copy of a dead letter (`kept`: `record` as it is kept), for `flowc replay`;
    /// nothing for a flow without state.
    fn store_dead_letter(
        &self,
        d: &Diagnostic,
        rec: &RecordRef,
        record: Kept<'_>,
        kept: KeptRecord,
    ) -> Result<(), Diagnostic> {
        let Some(state) = &self.state else { return Ok(()) };
        let letter = NewDeadLetter {
            run: Some(state.run),
            flow: self.flow_name().to_string(),
            step: self.loop_step(&rec.source),
            source: rec.source.clone(),
            record_index: rec.index,
            error: self.letter_error(d, record),
            record: kept.text,
            secrets: kept.secrets,
            failed_at: Utc::now(),
        };
        // Under the run's lease, checked in the same transaction: a run whose lease was taken
        // over stores no dead letter (the record stays in the file, and unsettled).
        let lease = crate::state::lock(&state.lease).clone();
        let added = crate::state::lock(&state.store).add_dead_letter(&lease, &letter);
        added.map(|_| ()).map_err(|e| {
            let help = match e {
                flow_state::StateError::LeaseLost { .. } => {
                    "another run or replay took this flow over once this run's lease had expired (was the run paused?): let it finish, then run again"
                }
                _ => "make the state store writable, then run again",
            };
            Diagnostic::new(
                codes::DEAD_LETTER,
                format!("{} could not be written to the state store's dead letters: {e}", rec.describe()),
            )
            .note(format!(
                "in flow `{}`; the run stops so the record is not lost (it is in the dead letter file, and not settled: the next run reads it again)",
                self.flow_name()
            ))
            .help(help)
        })
    }

    /// The step a dead letter's record entered the flow by: the top-level `for` over its
    /// source, as `for VAR in SOURCE` (`flowc replay` sends the record through that loop again).
    pub(crate) fn loop_step(&self, source: &str) -> String {
        let plan = &self.ctx.plan;
        plan.flows[self.flow]
            .body
            .iter()
            .find_map(|s| match s {
                Step::For { var, source: call, .. }
                    if plan.endpoints.get(call.endpoint).is_some_and(|e| e.name == source) =>
                {
                    Some(format!("for {var} in {source}"))
                }
                _ => None,
            })
            .unwrap_or_else(|| format!("for … in {source}"))
    }

    /// A dead letter's `error`, scrubbed of secrets (and of sensitive values).
    pub(crate) fn letter_error(&self, d: &Diagnostic, record: Kept<'_>) -> DeadLetterError {
        let secrets = &self.ctx.secrets;
        DeadLetterError {
            code: d.code.to_string(),
            message: secrets.redact(&d.message),
            notes: d.notes.iter().map(|n| secrets.redact(n)).collect(),
            mismatches: match record {
                Kept::Raw(bad) => Some(
                    bad.mismatches
                        .listed
                        .iter()
                        .map(|m| Mismatch {
                            path: m.path.clone(),
                            expected: m.expected.clone(),
                            found: secrets.redact(&m.found),
                        })
                        .collect(),
                ),
                Kept::Decoded(_) => None,
            },
        }
    }

    /// The record a dead letter keeps, as JSON text, scrubbed of secrets, and where it held
    /// them: built by the exact encoder (Decimals stay exact), scrubbed value by value, or as the
    /// API sent it when it did not fit its type, scrubbed as text. Always JSON: text that a
    /// secret's marker made something else (a number that was a secret's value) is kept as a
    /// JSON string, the markers in it unwritable.
    pub(crate) fn kept_record(&self, record: Kept<'_>) -> KeptRecord {
        let secrets = &self.ctx.secrets;
        match record {
            Kept::Decoded(v) => {
                let (text, at) = secrets.encode_located(v);
                KeptRecord { text, secrets: at }
            }
            Kept::Raw(bad) => {
                let (text, at) = secrets.redact_located(&bad.raw);
                if at.is_empty() || serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok() {
                    return KeptRecord { text, secrets: at };
                }
                // Wrapped in a string, its markers move: none of them can be written back.
                let at = at.into_iter().map(|s| SecretAt { forms: Vec::new(), ..s }).collect();
                KeptRecord { text: serde_json::Value::String(text).to_string(), secrets: at }
            }
        }
    }
}

/// A dead letter's record as it is kept: [`FlowRun::kept_record`].
pub(crate) struct KeptRecord {
    pub(crate) text: String,
    pub(crate) secrets: Vec<SecretAt>,
}

/// A dead letter's record with the secrets it held written back, from their values now; R0030
/// (for that record alone: the dead letter stays) when one cannot be. A dead letter that does
/// not say where its record held secrets (kept by an earlier flowc) is sent as it is only when
/// its record holds no marker.
pub(crate) fn restored_record<'l>(
    letter: &'l DeadLetter,
    secrets: &crate::Secrets,
    loop_span: flow_diagnostics::Span,
) -> Result<std::borrow::Cow<'l, str>, Diagnostic> {
    let refuse = |what: String, help: &str| {
        Diagnostic::new(
            codes::SECRET_NOT_RESTORED,
            format!("the dead-lettered record #{} of `{}` {what}", letter.record_index, letter.source),
        )
        .primary(loop_span, "the loop it would be replayed into")
        .note("a dead letter never keeps a secret's value: it keeps where the record held one, and a replay writes the value there again")
        .help(help)
    };
    let read_again = "let a run read the record again from its source (`flowc state set` to an earlier cursor); the dead letter stays";
    let record = &letter.record;
    let Some(held) = &letter.secrets else {
        if record.contains("[secret ") {
            return Err(refuse(
                "was kept by an earlier flowc, which did not keep where the record held secrets, and it holds a secret's marker".into(),
                read_again,
            ));
        }
        return Ok(std::borrow::Cow::Borrowed(record));
    };
    if held.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(record));
    }
    // Refused whole before anything is written: one secret that cannot be written back is enough.
    if let Some(s) = held.iter().find(|s| s.forms.is_empty()) {
        return Err(refuse(
            format!("held {} in a form a replay cannot write again (a credential obtained during the run, secrets run together, a mix of escapes, or a number or date that was a secret's value)", s.marker()),
            read_again,
        ));
    }
    let mut out = String::with_capacity(record.len());
    let mut done = 0;
    for s in held {
        let marker = s.marker();
        let value = match secrets.expose(&s.name) {
            None => {
                return Err(refuse(
                    format!("held the secret `{}`, which the file no longer declares", s.name),
                    &format!("declare `secret {}` again (with its value in the environment or the `.env` file beside the `.flow` file) and replay; the dead letter stays", s.name),
                ));
            }
            Some("") => {
                return Err(refuse(
                    format!("held the secret `{}`, whose value is empty now", s.name),
                    &format!("set `{}` to its value and replay; the dead letter stays", s.name),
                ));
            }
            Some(v) => v,
        };
        let at = usize::try_from(s.at).unwrap_or(usize::MAX);
        if at < done || !record.get(at..).is_some_and(|rest| rest.starts_with(&marker)) {
            return Err(refuse(
                format!("no longer holds `{marker}` where it held that secret (it was changed outside flowc)"),
                read_again,
            ));
        }
        // Every form that fitted the bytes the record had must write the value now the same: a
        // key of letters and digits fits them all, and one rotated since to a value with a `/`
        // or a space would be written differently by each.
        let mut writings = s.forms.iter().map(|f| crate::secrets::write_secret(*f, value));
        let written = writings.next().unwrap_or_default();
        if writings.any(|w| w != written) {
            return Err(refuse(
                format!("held `{marker}` where several ways of writing it (as is, percent-encoded, …) gave the same text, and they write its value now differently (was it changed since?)"),
                read_again,
            ));
        }
        out.push_str(&record[done..at]);
        out.push_str(&written);
        done = at + marker.len();
    }
    out.push_str(&record[done..]);
    Ok(std::borrow::Cow::Owned(out))
}

/// How a replay goes: which dead letters, and with what secrets.
pub struct ReplayOptions {
    /// Only this flow's dead letters; `None`: every flow of the file that has some.
    pub flow: Option<String>,
    /// Only the dead letters of this run.
    pub run: Option<i64>,
    pub secrets: crate::Secrets,
    /// The `.flow` file's folder.
    pub base_dir: std::path::PathBuf,
    /// Set to stop the replay gracefully (a signal): no new dead letter is sent, the one in
    /// flight finishes and its outcome is kept; the rest are left untouched.
    pub stop: crate::StopToken,
}

/// What became of one dead letter that failed again (or could not be sent).
#[derive(Debug, Clone)]
pub struct ReplayFailure {
    pub id: i64,
    pub record_index: u64,
    pub source: String,
    /// `CODE: message`, scrubbed of secrets and sensitive values.
    pub error: String,
    /// Its attempts now.
    pub attempts: u64,
}

/// One flow's replay.
#[derive(Debug, Clone, Default)]
pub struct FlowReplay {
    pub flow: String,
    /// The run history's id of the replay.
    pub run: Option<i64>,
    pub replayed: u64,
    /// Delivered now: removed from the store.
    pub delivered: u64,
    /// Filtered out now by the flow's `where`: removed from the store.
    pub filtered: u64,
    /// Failed again: kept, with their new error and one more attempt.
    pub failed: Vec<ReplayFailure>,
    pub requests: u64,
    /// Not sent, because the replay was stopped (a signal) before their turn: kept as they were.
    pub untouched: u64,
    /// The replay was stopped before this flow's dead letters were all sent.
    pub stopped: bool,
    /// Its lease was taken over from a holder that let it expire or is gone (killed): what
    /// happened to it, as a run's note says it.
    pub took_over: Option<String>,
}

/// What a replay did: per flow, and what stopped it.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub flows: Vec<FlowReplay>,
    /// Failures that stopped a flow's replay (a held lease, an unusable store, a step before the
    /// loop that failed), scrubbed of secrets.
    pub diagnostics: Vec<Diagnostic>,
    /// The replay was stopped (a signal) before every dead letter asked for was sent.
    pub stopped: bool,
}

impl ReplayReport {
    /// Every dead letter asked for was replayed, and left the store.
    pub fn ok(&self) -> bool {
        !self.stopped
            && self.diagnostics.iter().all(|d| !d.is_error())
            && self.flows.iter().all(|f| f.failed.is_empty())
    }
}

/// `flowc replay`: each flow's dead letters in the store sent through the flow again, from the
/// top-level `for` over the source they were read from. One record at a time, in the order
/// they failed; each result is committed before the next record is sent (a delivered record
/// leaves the store, one that fails again stays with its new error and one more attempt), so a
/// replay stopped half way sends again at most the record it was working on.
pub(crate) async fn replay(
    plan: &flow_plan::Plan,
    store: Box<dyn flow_state::StateStore>,
    options: ReplayOptions,
    observer: Arc<dyn crate::Observer>,
) -> ReplayReport {
    let ReplayOptions { flow: only, run, secrets, base_dir, stop } = options;
    let secrets = Arc::new(secrets);
    let mut report = ReplayReport {
        flows: Vec::new(),
        diagnostics: crate::preflight::missing_secrets(plan, &secrets),
        stopped: false,
    };
    if report.diagnostics.is_empty() {
        let store: Store = Arc::new(Mutex::new(store));
        let events = crate::Events::new(observer, secrets.clone());
        match crate::exec::replay_context(plan, secrets.clone(), events, base_dir, Some(store.clone())) {
            Ok(ctx) => {
                for (i, flow) in plan.flows.iter().enumerate() {
                    if only.as_deref().is_some_and(|o| o != flow.name) {
                        continue;
                    }
                    let letters = match lock(&store).dead_letters(Some(&flow.name), run.map(RunId)) {
                        Ok(l) => l,
                        Err(e) => {
                            report.diagnostics.push(store_failure(&e));
                            break;
                        }
                    };
                    if letters.is_empty() && only.is_none() {
                        continue;
                    }
                    // Stopped: the flows not started yet keep their dead letters, untouched.
                    if stop.is_stopped() {
                        report.stopped = true;
                        report.flows.push(FlowReplay {
                            flow: flow.name.clone(),
                            untouched: letters.len() as u64,
                            stopped: true,
                            ..FlowReplay::default()
                        });
                        continue;
                    }
                    match replay_flow(&ctx, &store, i, letters, &stop).await {
                        Ok(r) => {
                            report.stopped |= r.stopped;
                            report.flows.push(r);
                        }
                        Err(d) => report.diagnostics.push(d.note(format!("in flow `{}`", flow.name))),
                    }
                }
            }
            Err(d) => report.diagnostics.push(d),
        }
    }
    for d in &mut report.diagnostics {
        secrets.redact_diagnostic(d);
    }
    report
}

/// `flowc replay --from FILE`: the dead letters of a `dead_letter(…)` file (or an export of
/// the store) sent through their flows again, as [`replay`] sends the store's: one at a time,
/// each outcome written to the file atomically before the next is sent (a delivered or filtered
/// record's line leaves it, one that fails again is replaced by its new error, the time and
/// `attempts` + 1). No store is opened: a flow that declares `state` keeps its dead letters in
/// the store, so its lines are left as they are (R0019), as are those of flows the file does
/// not have, and lines that are not dead letters (R0018).
pub(crate) async fn replay_file(
    plan: &flow_plan::Plan,
    path: &std::path::Path,
    options: ReplayOptions,
    observer: Arc<dyn crate::Observer>,
) -> ReplayReport {
    let ReplayOptions { flow: only, run: _, secrets, base_dir, stop } = options;
    let secrets = Arc::new(secrets);
    let mut report = ReplayReport {
        flows: Vec::new(),
        diagnostics: crate::preflight::missing_secrets(plan, &secrets),
        stopped: false,
    };
    if report.diagnostics.is_empty() {
        let flows = FileFlows { only: only.as_deref(), secrets: &secrets, stop: &stop };
        if let Err(d) = replay_file_flows(plan, path, flows, observer, base_dir, &mut report).await {
            report.diagnostics.push(d);
        }
    }
    for d in &mut report.diagnostics {
        secrets.redact_diagnostic(d);
    }
    report
}

/// Which flows of a dead letter file a replay sends, with what secrets, until when.
struct FileFlows<'a> {
    only: Option<&'a str>,
    secrets: &'a Arc<crate::Secrets>,
    stop: &'a crate::StopToken,
}

async fn replay_file_flows(
    plan: &flow_plan::Plan,
    path: &std::path::Path,
    flows: FileFlows<'_>,
    observer: Arc<dyn crate::Observer>,
    base_dir: std::path::PathBuf,
    report: &mut ReplayReport,
) -> Result<(), Diagnostic> {
    let FileFlows { only, secrets, stop } = flows;
    // A symbolic link is followed once, here: every rewrite renames over the file it names, so
    // the link stays a link (a rename over the link's own path would replace it with a copy).
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let (mut file, notes) = LetterFile::open(&target)?;
    report.diagnostics.extend(notes);
    let letters = file.letters(only);
    // Flows of the file's lines this replay leaves: with state, or not a flow of the file.
    let mut left: Vec<(String, usize)> = Vec::new();
    for l in &letters {
        let sendable = plan.flow(&l.flow).is_some_and(|f| f.state.is_none());
        if !sendable {
            match left.iter_mut().find(|(f, _)| *f == l.flow) {
                Some((_, n)) => *n += 1,
                None => left.push((l.flow.clone(), 1)),
            }
        }
    }
    for (flow, n) in left {
        let lines = if n == 1 { "1 dead letter".to_string() } else { format!("{n} dead letters") };
        let d = match plan.flow(&flow) {
            Some(_) => Diagnostic::new(
                codes::DEAD_LETTER_NOT_SENT,
                format!("{lines} of flow `{flow}` in {} were not sent: the flow declares `state`, so its dead letters are replayed from the state store", path.display()),
            )
            .note("they were left in the file as they are")
            .help(format!("replay them with `flowc replay FILE --flow {flow}` (without `--from`)")),
            None => Diagnostic::new(
                codes::DEAD_LETTER_NOT_SENT,
                format!("{lines} of flow `{flow}` in {} were not sent: `{flow}` is not a flow of the file", path.display()),
            )
            .note("they were left in the file as they are"),
        };
        report.diagnostics.push(d);
    }
    let events = crate::Events::new(observer, secrets.clone());
    let ctx = crate::exec::replay_context(plan, secrets.clone(), events, base_dir, None)?;
    for (i, flow) in plan.flows.iter().enumerate() {
        if only.is_some_and(|o| o != flow.name) || flow.state.is_some() {
            continue;
        }
        let mine: Vec<DeadLetter> = letters.iter().filter(|l| l.flow == flow.name).cloned().collect();
        if mine.is_empty() && only.is_none() {
            continue;
        }
        let fr = FlowRun::for_replay(ctx.clone(), i);
        let mut result = FlowReplay { flow: flow.name.clone(), ..FlowReplay::default() };
        let replayed =
            replay_letters(&fr, &mut FileKeeper { file: &mut file }, Env::new(), mine, &mut result, stop).await;
        result.requests = fr.counts().requests;
        report.stopped |= result.stopped;
        match replayed {
            Ok(()) => report.flows.push(result),
            Err(d) => {
                report.flows.push(result);
                // The file cannot be rewritten: no flow may send another record whose outcome
                // could not be kept (it would be sent again by the next replay).
                let stop = d.code == codes::DEAD_LETTER_FILE.id;
                report.diagnostics.push(d.note(format!("in flow `{}`", flow.name)));
                if stop {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// One flow's dead letters, under its lease, recorded in the run history as a run.
async fn replay_flow(
    ctx: &Arc<Ctx>,
    store: &Store,
    flow: usize,
    letters: Vec<DeadLetter>,
    stop: &crate::StopToken,
) -> Result<FlowReplay, Diagnostic> {
    let name = ctx.plan.flows[flow].name.clone();
    let lease = crate::state::replay_lease(store, &name).map_err(|e| store_failure(&e))?;
    let started = lock(store).start_run(&lease, now());
    let run = match started {
        Ok(r) => r,
        Err(e) => {
            let _ = lock(store).release_lease(&lease);
            return Err(store_failure(&e));
        }
    };
    let fr = FlowRun::for_replay(ctx.clone(), flow);
    let took_over = lease.took_over.as_ref().map(crate::state::took_over_note);
    let mut result = FlowReplay { flow: name, run: Some(run.0), took_over, ..FlowReplay::default() };
    // The lease is renewed on a timer while the replay works, not only between outcomes: one
    // record in flight may take longer than the lease lasts (a 30 s timeout, and its retries).
    let lease = Arc::new(Mutex::new(lease));
    let renewing = Arc::new(tokio::sync::Notify::new());
    let renewer = tokio::spawn(renew_while_replaying(store.clone(), lease.clone(), renewing.clone()));
    let mut keeper = StoreKeeper { store, lease: lease.clone() };
    let replayed = match state_env(&fr, store) {
        Ok(env) => replay_letters(&fr, &mut keeper, env, letters, &mut result, stop).await,
        Err(d) => Err(d),
    };
    // Stopped before the run ends (a renewal in progress finishes first).
    renewing.notify_one();
    let _ = renewer.await;
    let lease = lock(&lease).clone();
    let counts = fr.counts();
    let failed = result.failed.len() as u64;
    let counts = RunCounts {
        read: result.replayed,
        delivered: result.delivered,
        filtered: result.filtered,
        failed,
        dead_lettered: failed,
        not_processed: result.replayed - result.delivered - result.filtered - failed,
        ..counts
    };
    result.requests = counts.requests;
    let error = match (&replayed, result.failed.first()) {
        (Err(d), _) => Some(format!("{}: {}", d.code, d.message)),
        (Ok(()), Some(f)) => Some(format!("replay: {failed} dead letter(s) failed again; the first: {}", f.error)),
        (Ok(()), None) => None,
    };
    let status = if result.stopped {
        RunStatus::Stopped
    } else if error.is_some() {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    let end = RunEnd { status, counts, error: error.map(|e| ctx.secrets.redact(&e)) };
    let mut s = lock(store);
    let ended = s.finish_run(&lease, run, &end, now()).and_then(|()| s.release_lease(&lease));
    drop(s);
    replayed?;
    ended.map_err(|e| store_failure(&e))?;
    Ok(result)
}

/// The steps' environment of a replay of a flow kept in the store: `state`, as a run binds it.
fn state_env(fr: &Arc<FlowRun>, store: &Store) -> Result<Env, Diagnostic> {
    let flow = &fr.ctx.plan.flows[fr.flow];
    let mut env = Env::new();
    if let Some(spec) = &flow.state {
        let stored = lock(store).flow_state(&flow.name).map_err(|e| store_failure(&e))?;
        env.push(crate::state::STATE_VAR, state_binding(spec, stored.and_then(|s| s.cursor)));
    }
    Ok(env)
}

/// Where the dead letters a replay sends are kept, and what it does with each outcome: the
/// store (under the flow's lease) or a dead letter file.
trait Keeper {
    /// Delivered or filtered out now: it leaves.
    fn succeeded(&mut self, letter: &DeadLetter) -> Result<(), Diagnostic>;
    /// Failed again: it stays, with its new error, the time and one more attempt.
    fn failed(&mut self, letter: &DeadLetter, error: &DeadLetterError) -> Result<(), Diagnostic>;
}

/// The store's dead letters, under the flow's lease (renewed by [`renew_while_replaying`]).
struct StoreKeeper<'a> {
    store: &'a Store,
    lease: Arc<Mutex<Lease>>,
}

impl Keeper for StoreKeeper<'_> {
    fn succeeded(&mut self, letter: &DeadLetter) -> Result<(), Diagnostic> {
        let lease = lock(&self.lease).clone();
        lock(self.store).replay_succeeded(&lease, &[letter.id]).map(|_| ()).map_err(|e| store_failure(&e))
    }

    fn failed(&mut self, letter: &DeadLetter, error: &DeadLetterError) -> Result<(), Diagnostic> {
        let lease = lock(&self.lease).clone();
        lock(self.store).replay_failed(&lease, letter.id, error, now()).map_err(|e| store_failure(&e))
    }
}

/// Renews a replay's lease every third of its time to live until `stop` is notified; returns
/// how many renewals succeeded. Each renewal is a commit, on a blocking thread (no worker of
/// the async runtime waits for the disk). A failed one is tried again at the next tick: a lease
/// taken over is seen by the next outcome's commit, which is refused (LeaseLost) and ends the
/// replay.
async fn renew_while_replaying(store: Store, lease: Arc<Mutex<Lease>>, stop: Arc<tokio::sync::Notify>) -> u64 {
    let mut renewals = 0;
    loop {
        tokio::select! {
            () = stop.notified() => return renewals,
            () = tokio::time::sleep(LEASE_TTL / 3) => {}
        }
        let (store, lease) = (store.clone(), lease.clone());
        let renewed = tokio::task::spawn_blocking(move || {
            let current = lock(&lease).clone();
            let renewed = lock(&store).renew_lease(&current, LEASE_TTL, now());
            renewed.map(|l| *lock(&lease) = l).is_ok()
        })
        .await;
        if matches!(renewed, Ok(true)) {
            renewals += 1;
        }
    }
}

/// A dead letter file's lines (`flowc replay --from`), rewritten atomically per outcome.
struct FileKeeper<'a> {
    file: &'a mut LetterFile,
}

impl Keeper for FileKeeper<'_> {
    fn succeeded(&mut self, letter: &DeadLetter) -> Result<(), Diagnostic> {
        self.file.succeeded(letter.id)
    }

    fn failed(&mut self, letter: &DeadLetter, error: &DeadLetterError) -> Result<(), Diagnostic> {
        self.file.failed(letter.id, crate::dead_letter_file::failed_line(letter, error, now()))
    }
}

async fn replay_letters(
    fr: &Arc<FlowRun>,
    keeper: &mut dyn Keeper,
    env: Env,
    letters: Vec<DeadLetter>,
    result: &mut FlowReplay,
    stop: &crate::StopToken,
) -> Result<(), Diagnostic> {
    let plan = fr.ctx.plan.clone();
    let flow = &plan.flows[fr.flow];
    let mut env = env;
    // Letters in the order of their loops, so the steps before each loop run once, in order;
    // within a loop, as given (a stable sort): the store gives them in the order their runs
    // read the records, a dead letter file in its lines' order. Not by id: that is the order
    // they failed, which concurrent sends make vary.
    let mut letters: Vec<(Option<usize>, DeadLetter)> =
        letters.into_iter().map(|l| (loop_of(&plan, fr.flow, &l.source), l)).collect();
    letters.sort_by_key(|(step, _)| step.unwrap_or(usize::MAX));
    let mut prelude_done = 0;
    let total = letters.len() as u64;
    for (n, (step, letter)) in letters.into_iter().enumerate() {
        // Stopped (a signal): nothing more is sent; the outcomes so far are all committed.
        if stop.is_stopped() {
            result.untouched = total - n as u64;
            result.stopped = true;
            break;
        }
        result.replayed += 1;
        let outcome = match step {
            None => Err(Diagnostic::new(
                codes::DEAD_LETTER_MISFIT,
                format!(
                    "flow `{}` no longer has a top-level `for` over `{}`, which this record was read from",
                    flow.name, letter.source
                ),
            )
            .help("restore the loop, or leave the dead letter in the store until it is")),
            Some(step) => {
                // Steps before the loop that bind a name the loop may use (`let`s, and calls
                // bound by `let`) run again; calls that bind nothing and other loops do not.
                for s in &flow.body[prelude_done.min(step)..step] {
                    let binds = matches!(s, Step::Let { .. } | Step::Call { bind: Some(_), .. });
                    if binds && !crate::exec::exec_step(fr, s, &mut env, None).await? {
                        return Ok(());
                    }
                }
                prelude_done = prelude_done.max(step);
                // Its sensitive values are scrubbed from what it shows, as in a run.
                let scrub = fr.letter_scrub(&letter.source, &letter.record);
                let outcome =
                    crate::sensitive::scoped(scrub.clone(), replay_record(fr, step, env.clone(), &letter)).await;
                outcome.map_err(|mut d| {
                    if let Some(s) = &scrub {
                        s.redact_diagnostic(&mut d);
                    }
                    d
                })
            }
        };
        match outcome {
            Ok(delivered) => {
                keeper.succeeded(&letter)?;
                if delivered {
                    result.delivered += 1;
                } else {
                    result.filtered += 1;
                }
            }
            Err(d) => {
                let error = DeadLetterError {
                    code: d.code.to_string(),
                    message: fr.ctx.secrets.redact(&d.message),
                    notes: d.notes.iter().map(|n| fr.ctx.secrets.redact(n)).collect(),
                    mismatches: None,
                };
                keeper.failed(&letter, &error)?;
                result.failed.push(ReplayFailure {
                    id: letter.id.0,
                    record_index: letter.record_index,
                    source: letter.source.clone(),
                    error: format!("{}: {}", error.code, error.message),
                    attempts: letter.attempts + 1,
                });
            }
        }
    }
    Ok(())
}

/// The top-level `for` of the flow over `source`.
fn loop_of(plan: &Program, flow: usize, source: &str) -> Option<usize> {
    plan.flows[flow].body.iter().position(|s| match s {
        Step::For { source: call, .. } => plan.endpoints.get(call.endpoint).is_some_and(|e| e.name == source),
        _ => false,
    })
}

/// `state` as a run binds it: `{ NAME: the stored cursor (or the initial value) less the lag }`.
fn state_binding(spec: &flow_plan::FlowState, stored: Option<flow_state::Cursor>) -> Value {
    let value = match stored.as_ref().map(crate::state::cursor_value).unwrap_or_else(|| spec.initial.clone()) {
        Value::DateTime(t) if spec.lag_ms > 0 => {
            Value::DateTime(t - chrono::Duration::milliseconds(i64::try_from(spec.lag_ms).unwrap_or(i64::MAX)))
        }
        v => v,
    };
    Value::Object(vec![(flow_plan::Key::new(&spec.name), value)])
}

/// The declared type of an endpoint's records: its response type along its `records` path.
pub(crate) fn item_type<'t>(endpoint: &'t flow_plan::Endpoint, types: &'t [flow_plan::NamedType]) -> Option<&'t Type> {
    let mut ty = endpoint.response.as_ref()?;
    let mut path = endpoint.records.as_deref()?.iter();
    loop {
        match ty {
            Type::Named(i) => ty = &types.get(*i)?.ty,
            Type::Nullable(t) | Type::Formed(t, _) => ty = t,
            Type::Object(fields) => {
                let name = path.next()?;
                ty = &fields.iter().find(|f| *f.name == **name)?.ty;
            }
            Type::Array(item) if path.len() == 0 => return Some(item),
            _ => return None,
        }
    }
}

/// One dead-lettered record through its loop again: `Ok(true)` delivered, `Ok(false)` filtered
/// out by the loop's `where`, `Err`: why it failed (a record that no longer fits the loop's
/// record type is R0021, for that record alone).
async fn replay_record(fr: &Arc<FlowRun>, step: usize, mut env: Env, letter: &DeadLetter) -> Result<bool, Diagnostic> {
    let plan = fr.ctx.plan.clone();
    let Step::For { var, source, filter, body, .. } = &plan.flows[fr.flow].body[step] else {
        return Err(Diagnostic::new(codes::DEAD_LETTER_MISFIT, "the step is not a loop"));
    };
    let endpoint = &plan.endpoints[source.endpoint];
    let Some(ty) = item_type(endpoint, &plan.types) else {
        return Err(Diagnostic::new(
            codes::DEAD_LETTER_MISFIT,
            format!("`{}` no longer declares the type of its records", endpoint.name),
        ));
    };
    let text = restored_record(letter, &fr.ctx.secrets, source.span)?;
    let record = flow_eval::decode_text(&text, ty, &plan.types).map_err(|e| {
        let mut d = Diagnostic::new(
            codes::DEAD_LETTER_MISFIT,
            format!(
                "the dead-lettered record #{} of `{}` no longer fits its loop's record type `{}`",
                letter.record_index,
                endpoint.name,
                flow_eval::describe_type(ty, &plan.types)
            ),
        )
        .primary(source.span, "the loop it is replayed into")
        .help("change the type back, or correct the record's source and let a run read it again; the dead letter stays in the store");
        match e {
            flow_eval::TextError::Syntax(why) => d = d.note(format!("the kept record is not JSON: {why}")),
            flow_eval::TextError::Shape(m) => {
                for line in m.lines() {
                    d = d.note(line);
                }
            }
        }
        d
    })?;
    if fr.ctx.sensitive.holds_mask(&record, ty, &plan.types) {
        return Err(Diagnostic::new(
            codes::MASKED_REPLAY,
            format!(
                "the dead-lettered record #{} of `{}` was kept with its sensitive fields masked: their values are not in the store, so it cannot be sent again",
                letter.record_index, endpoint.name
            ),
        )
        .primary(source.span, "the loop it would be replayed into")
        .note("a store that is not encrypted keeps a dead letter's `sensitive` fields as `[sensitive]`; an encrypted one (`--state-key`) keeps them, sealed")
        .help("let a run read the record again from its source (`flowc state set` to an earlier cursor), or encrypt the store with `--state-key` so that dead letters keep what a replay needs; the dead letter stays in the store"));
    }
    let rec = RecordRef {
        index: letter.record_index,
        source: endpoint.name.clone(),
        id: record.get("id").filter(|v| !v.is_null()).map(flow_eval::ToText::to_text),
        settles: false,
    };
    env.push(var.clone(), record);
    if let Some(f) = filter {
        match eval::eval(&f.expr, &mut env, &plan) {
            Ok(Value::Bool(false)) => return Ok(false),
            Ok(_) => {}
            Err(e) => return Err(fr.eval_failure(e, f.span, Some(&rec), "the `where` condition")),
        }
    }
    // A batched last step: the record's item is sent as a batch of one.
    if let Some((Step::Call { call, .. }, others)) =
        body.split_last().filter(|(last, _)| matches!(last, Step::Call { call, .. } if call.batch.is_some()))
    {
        if !crate::exec::exec_steps(fr, others, &mut env, Some(&rec)).await? {
            return Err(Diagnostic::new(codes::EVAL, "the replay was stopped"));
        }
        let item = match &call.body {
            Some(e) => eval::eval(e, &mut env, &plan)
                .map_err(|err| fr.eval_failure(err, call.span, Some(&rec), "the batch item"))?,
            None => Value::Null,
        };
        let (params, query, headers) = fr.request_parts(call, &mut env, Some(&rec))?;
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        let url = crate::http::endpoint_url(api, endpoint, &params, &query)
            .map_err(|f| fr.http_failure(f, call, Some(&rec)))?;
        let body = flow_eval::try_encode_as(&Value::Array(vec![item]), endpoint.body.as_ref(), &plan.types)
            .map_err(|err| fr.eval_failure(err, call.span, Some(&rec), "the batch's body"))?;
        fr.send(call, &url, &headers, Some(body), Some(&rec), false).await?;
        return Ok(true);
    }
    if !crate::exec::exec_steps(fr, body, &mut env, Some(&rec)).await? {
        return Err(Diagnostic::new(codes::EVAL, "the replay was stopped"));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flow_state::SecretForm;

    #[tokio::test(start_paused = true)]
    async fn a_replays_lease_is_renewed_on_a_timer_while_a_record_is_in_flight() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = crate::state::open(&dir.path().join("s.sqlite"), None).expect("open");
        // Taken a minute ago: by the wall clock it has expired, and only a renewal keeps it.
        let taken = now() - chrono::Duration::seconds(60);
        let lease = lock(&store).acquire_lease("f", "flowc replay (test)", LEASE_TTL, taken).expect("lease");
        let lease = Arc::new(Mutex::new(lease));
        let stop = Arc::new(tokio::sync::Notify::new());
        let renewer = tokio::spawn(renew_while_replaying(store.clone(), lease.clone(), stop.clone()));
        // One record in flight for longer than a third of the lease's time to live, with no
        // outcome committed meanwhile (the test clock is paused: this sleep takes no time).
        tokio::time::sleep(LEASE_TTL / 3 + std::time::Duration::from_secs(1)).await;
        stop.notify_one();
        assert_eq!(renewer.await.expect("renewer"), 1);
        // Renewed from now: a run cannot take it over, and the replay's next commit is accepted.
        let Err(flow_state::StateError::Locked { holder, .. }) =
            lock(&store).acquire_lease("f", "flowc run (test)", LEASE_TTL, now())
        else {
            panic!("a run took over a replay's lease while it was renewed")
        };
        assert_eq!(holder, "flowc replay (test)");
        let current = lock(&lease).clone();
        assert!(current.expires_at > now(), "{current:?}");
        assert!(lock(&store).renew_lease(&current, LEASE_TTL, now()).is_ok());
    }

    fn held(record: &str, secrets: Vec<SecretAt>) -> DeadLetter {
        kept_by(record, Some(secrets))
    }

    fn kept_by(record: &str, secrets: Option<Vec<SecretAt>>) -> DeadLetter {
        DeadLetter {
            id: flow_state::DeadLetterId(1),
            run: None,
            flow: "f".into(),
            step: String::new(),
            source: "list".into(),
            record_index: 7,
            error: DeadLetterError { code: "R0001".into(), message: String::new(), notes: vec![], mismatches: None },
            record: record.into(),
            secrets,
            failed_at: now(),
            attempts: 1,
        }
    }

    fn at(at: u64, name: &str, forms: &[SecretForm]) -> SecretAt {
        SecretAt { at, name: name.into(), forms: forms.to_vec() }
    }

    /// A replay writes each secret back where the record held it, in its form, from the value
    /// now; a literal marker the record had of its own is left alone. What it cannot write back
    /// is R0030, naming the record, and the record is not sent.
    #[test]
    fn a_replay_writes_back_the_secrets_a_dead_letter_held_or_refuses_it() {
        let mut secrets = crate::Secrets::new();
        secrets.insert("KEY", secrecy::SecretString::from("new/key value".to_string()));
        let span = flow_diagnostics::Span::new(0, 0);
        let record = r#"{"a":"[secret KEY]","b":"x [secret KEY] y","c":"?k=[secret KEY]"}"#;
        let letter =
            held(record, vec![at(6, "KEY", &[SecretForm::Json]), at(51, "KEY", &[SecretForm::FormUrlencoded])]);
        let back = restored_record(&letter, &secrets, span).unwrap();
        assert_eq!(back, r#"{"a":"new/key value","b":"x [secret KEY] y","c":"?k=new%2Fkey+value"}"#);
        // Nothing held: the record as it is, not copied.
        let plain = held(record, vec![]);
        assert!(matches!(restored_record(&plain, &secrets, span), Ok(std::borrow::Cow::Borrowed(_))));
        let refused_by = |secrets: &crate::Secrets, secrets_at: Vec<SecretAt>| {
            let d = restored_record(&held(record, secrets_at), secrets, span).unwrap_err();
            assert_eq!(d.code, codes::SECRET_NOT_RESTORED.id);
            assert!(d.message.starts_with("the dead-lettered record #7 of `list` "), "{}", d.message);
            assert!(!d.message.contains("new/key") && !d.notes.concat().contains("new/key"));
            d.message
        };
        let refused = |secrets_at: Vec<SecretAt>| refused_by(&secrets, secrets_at);
        assert!(refused(vec![at(6, "GONE", &[SecretForm::Json])])
            .contains("held the secret `GONE`, which the file no longer declares"));
        assert!(refused(vec![at(6, "KEY", &[])]).contains("in a form a replay cannot write again"));
        // The marker is not where the letter says (the record was changed): refused, not guessed.
        for wrong in [
            at(5, "KEY", &[SecretForm::Json]),
            at(500, "KEY", &[SecretForm::Json]),
            at(u64::MAX, "KEY", &[SecretForm::Json]),
        ] {
            assert!(refused(vec![wrong]).contains("no longer holds `[secret KEY]`"));
        }
        // Overlapping or out of order: refused.
        assert!(refused(vec![at(51, "KEY", &[SecretForm::Json]), at(6, "KEY", &[SecretForm::Json])])
            .contains("no longer holds"));
        // Not at a character boundary: refused, no panic.
        let accented = held(r#"{"é":"[secret KEY]"}"#, vec![at(3, "KEY", &[SecretForm::Json])]);
        assert!(restored_record(&accented, &secrets, span).is_err());
        // One unwritable secret refuses the record, whatever comes before it.
        assert!(refused(vec![at(6, "KEY", &[SecretForm::Json]), at(51, "KEY", &[])])
            .contains("in a form a replay cannot write again"));
        // Forms that fitted the record's bytes (a key of letters and digits fits them all) but
        // write the value now differently (`new/key value`): refused, not guessed.
        let both = [SecretForm::Json, SecretForm::Percent];
        assert!(refused(vec![at(51, "KEY", &both)]).contains("write its value now differently"));
        let mut plain = crate::Secrets::new();
        plain.insert("KEY", secrecy::SecretString::from("abc123".to_string()));
        let letter = held(record, vec![at(51, "KEY", &both)]);
        let agreed = restored_record(&letter, &plain, span).unwrap();
        assert!(agreed.ends_with(r#""c":"?k=abc123"}"#), "{agreed}");
        // A value that is empty now is refused, not written back as nothing.
        let mut emptied = crate::Secrets::new();
        emptied.insert("KEY", secrecy::SecretString::from(String::new()));
        assert!(refused_by(&emptied, vec![at(6, "KEY", &[SecretForm::Json])]).contains("whose value is empty now"));
        // Kept by an earlier flowc (where it held secrets not known): sent as it is only when
        // it holds no marker.
        let old = kept_by(record, None);
        let d = restored_record(&old, &secrets, span).unwrap_err();
        assert!(d.message.contains("was kept by an earlier flowc"), "{}", d.message);
        let clean = kept_by(r#"{"a":"no marker"}"#, None);
        assert_eq!(restored_record(&clean, &secrets, span).unwrap(), r#"{"a":"no marker"}"#);
    }
}
