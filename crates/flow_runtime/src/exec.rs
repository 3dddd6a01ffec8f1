//! Executing flows: steps, sources streamed page by page, records processed concurrently,
//! failures routed to the flow's error policy.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flow_diagnostics::{codes, Code, Diagnostic, Span};
use flow_eval::eval::{self, Env};
use flow_eval::{BadRecord, Program, ToText};
use flow_plan::{EndpointCall, OnError, Plan, Step, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::http::{self, Answer, Failure, Http};
use crate::paging::{Pager, Stop};
use crate::preflight;
use crate::secrets::Secrets;
use crate::{Event, Events, FlowReport, Observer, PagingStop, Report, RunOptions};

pub(crate) struct Ctx {
    /// The plan, beside what its call sites compile once.
    pub(crate) plan: Arc<Program>,
    http: Http,
    /// Events go out through here only: scrubbed of secrets on the way.
    pub(crate) events: Events,
    /// The run's secrets, declared and obtained: for the dead letters.
    pub(crate) secrets: Arc<Secrets>,
    base_dir: std::path::PathBuf,
    /// The state store, when a flow to run declares state; and whether it was created now.
    store: Option<(crate::state::Store, bool)>,
    /// Set to stop the run gracefully ([`crate::run_until`]).
    stop: crate::StopToken,
    /// The plan's `sensitive` fields, masked where a record is shown or kept.
    pub(crate) sensitive: crate::sensitive::Sensitive,
}

/// A flow's counters while it runs: its summary ([`FlowReport`]), its run history and a
/// caller's status line ([`crate::Observer::counters`]) all read these, and nothing else counts.
#[derive(Default)]
pub struct Stats {
    records_in: AtomicU64,
    records_filtered: AtomicU64,
    records_ok: AtomicU64,
    records_failed: AtomicU64,
    /// Records read but neither delivered, filtered nor failed, because the flow stopped: still
    /// in their page, queued in the channel, in flight, or waiting in a batch.
    records_not_processed: AtomicU64,
    dead_lettered: AtomicU64,
    pub(crate) pages: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
}

impl Stats {
    /// The counters as they stand (the summary's, in the run history's words).
    pub fn snapshot(&self) -> flow_state::RunCounts {
        let n = |a: &AtomicU64| a.load(Ordering::SeqCst);
        flow_state::RunCounts {
            read: n(&self.records_in),
            delivered: n(&self.records_ok),
            filtered: n(&self.records_filtered),
            failed: n(&self.records_failed),
            dead_lettered: n(&self.dead_lettered),
            not_processed: n(&self.records_not_processed),
            pages: n(&self.pages),
            requests: n(&self.requests),
            retries: n(&self.retries),
            // Of the state's source, which the state's tracker knows (FlowStateRun).
            settled: 0,
            started: 0,
        }
    }
}

/// One flow being run.
pub(crate) struct FlowRun {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) flow: usize,
    pub(crate) stats: Arc<Stats>,
    /// Set when the flow must stop: a failure under `on_error = fail`, or a dead letter that
    /// could not be written.
    stop: AtomicBool,
    diagnostics: Mutex<Vec<Diagnostic>>,
    dead_letter: Mutex<Option<std::fs::File>>,
    /// Items of a batched call waiting for their batch to fill.
    batch: Mutex<Vec<Pending>>,
    /// Why the paging of each source stopped, and how often.
    stops: Mutex<BTreeMap<(String, Stop), u64>>,
    /// The flow's durable state, when it declares one (crate::state).
    pub(crate) state: Option<crate::state::FlowStateRun>,
}

/// A record whose item waits in a batch: counted when the batch is sent.
struct Pending {
    rec: RecordRef,
    record: Value,
    item: Value,
    params: Vec<(String, Value)>,
    query: Vec<(String, Value)>,
    headers: Vec<(String, String)>,
}

/// Which record a step was working on, for messages and dead letters.
#[derive(Clone)]
pub(crate) struct RecordRef {
    /// 1-based position in its source, and the source's endpoint name.
    pub(crate) index: u64,
    pub(crate) source: String,
    pub(crate) id: Option<String>,
    /// A record of the source whose records advance the flow's state.
    pub(crate) settles: bool,
}

impl RecordRef {
    pub(crate) fn describe(&self) -> String {
        match &self.id {
            Some(id) => format!("record #{} of `{}` (id {id})", self.index, self.source),
            None => format!("record #{} of `{}`", self.index, self.source),
        }
    }
}

/// `Ok(true)`: every step ran; `Ok(false)`: the flow was stopped before the steps finished.
type StepResult<'a> = Pin<Box<dyn Future<Output = Result<bool, Diagnostic>> + Send + 'a>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data usable for counting and reporting.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the plan. Everything the run reports passes one of three doors, each of which scrubs
/// secrets: events go through [`Events`], dead letters through [`FlowRun::write_dead_letter`],
/// and the report's diagnostics are scrubbed here, on the way out.
pub(crate) async fn run(
    plan: &Plan,
    options: RunOptions,
    observer: Arc<dyn Observer>,
    stop: crate::StopToken,
) -> Report {
    let RunOptions { flow, secrets, base_dir, state, state_key } = options;
    let secrets = Arc::new(secrets);
    let events = Events::new(observer, secrets.clone());
    let state = state.unwrap_or_else(|| base_dir.join(crate::DEFAULT_STATE_FILE));
    let state = (state.as_path(), state_key.as_ref());
    let mut report = run_flows(plan, flow.as_deref(), secrets.clone(), events, base_dir, state, stop).await;
    for d in &mut report.diagnostics {
        secrets.redact_diagnostic(d);
    }
    report
}

async fn run_flows(
    plan: &Plan,
    only: Option<&str>,
    secrets: Arc<Secrets>,
    events: Events,
    base_dir: std::path::PathBuf,
    state: (&std::path::Path, Option<&flow_state::StoreKey>),
    stop: crate::StopToken,
) -> Report {
    let mut report = Report { flows: Vec::new(), diagnostics: Vec::new() };
    report.diagnostics = preflight::missing_secrets(plan, &secrets);
    if !report.diagnostics.is_empty() {
        return report;
    }
    let http = match Http::new(plan, secrets.clone()) {
        Ok(h) => h,
        Err(f) => {
            report.diagnostics.push(Diagnostic::new(f.code, f.message));
            return report;
        }
    };
    // The store is opened only when a flow to run declares state: others leave no file behind.
    let store = if plan.flows.iter().any(|f| f.state.is_some() && only.is_none_or(|o| o == f.name)) {
        match crate::state::open(state.0, state.1) {
            Ok(opened) => Some(opened),
            Err(d) => {
                report.diagnostics.push(d);
                return report;
            }
        }
    } else {
        None
    };
    let ctx = Arc::new(Ctx {
        plan: Arc::new(Program::new(plan.clone())),
        http,
        events,
        secrets,
        base_dir,
        store,
        stop,
        sensitive: crate::sensitive::Sensitive::new(plan),
    });
    for (i, flow) in plan.flows.iter().enumerate() {
        if only.is_some_and(|f| f != flow.name) {
            continue;
        }
        if ctx.stop.is_stopped() {
            break;
        }
        let (flow_report, mut diagnostics) = run_flow(ctx.clone(), i).await;
        let ok = flow_report.ok;
        report.flows.push(flow_report);
        report.diagnostics.append(&mut diagnostics);
        if !ok {
            // Later flows may depend on this one's effects.
            break;
        }
    }
    report
}

async fn run_flow(ctx: Arc<Ctx>, index: usize) -> (FlowReport, Vec<Diagnostic>) {
    let started = Instant::now();
    let name = ctx.plan.flows[index].name.clone();
    ctx.events.emit(Event::FlowStarted { flow: name.clone() });
    let mut env = Env::new();
    let state = match (&ctx.plan.flows[index].state, &ctx.store) {
        (Some(spec), Some((store, created))) => match crate::state::FlowStateRun::begin(store, spec, &name, *created) {
            Ok((state, note)) => {
                ctx.events.emit(Event::Note { flow: name.clone(), message: note });
                env.push(crate::state::STATE_VAR, state.binding());
                Some(state)
            }
            Err(d) => {
                let d = d.note(format!("in flow `{name}`"));
                ctx.events.emit(Event::FlowFinished { flow: name.clone(), ok: false });
                return (FlowReport { name, ok: false, ..FlowReport::default() }, vec![d]);
            }
        },
        _ => None,
    };
    let fr = FlowRun::new(ctx.clone(), index, state);
    ctx.events.counters(fr.stats.clone());
    // The lease is renewed while the flow runs; a renewal that fails stops the flow.
    let renewer = fr.state.as_ref().map(|_| {
        let fr = fr.clone();
        let flow = name.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(crate::state::LEASE_TTL / 3).await;
                // A renewal is a commit (an fsync, and the store's lock, which the checkpoint
                // writer may hold for one of its own): on a blocking thread, so no worker of the
                // runtime waits for the disk.
                let renewing = fr.clone();
                let renewed = tokio::task::spawn_blocking(move || {
                    renewing.state.as_ref().map(crate::state::FlowStateRun::renew)
                })
                .await
                .unwrap_or_else(|_| {
                    Some(Err(Diagnostic::new(
                        codes::STATE_STORE,
                        "the flow's lease could not be renewed (an internal error; please report it): nothing more is sent",
                    )))
                });
                if let Some(Err(d)) = renewed {
                    lock(&fr.diagnostics).push(d.note(format!("in flow `{flow}`")));
                    fr.stop.store(true, Ordering::SeqCst);
                    return;
                }
            }
        })
    });
    let steps = ctx.plan.flows[index].body.len();
    for j in 0..steps {
        if fr.stop.load(Ordering::SeqCst) || fr.draining() {
            break;
        }
        let plan = ctx.plan.clone();
        let step = &plan.flows[index].body[j];
        let result = match step {
            Step::For { .. } => top_level_for(fr.clone(), j, env.clone()).await,
            // A top-level `let` binds for the rest of the flow: the steps share `env`.
            _ => exec_step(&fr, step, &mut env, None).await.map(|_| ()),
        };
        if let Err(d) = result {
            lock(&fr.diagnostics).push(d);
            fr.stop.store(true, Ordering::SeqCst);
        }
    }
    if let Some(r) = renewer {
        r.abort();
    }
    if let Some(state) = &fr.state {
        let counts = fr.counts();
        let failed = lock(&fr.diagnostics).iter().any(Diagnostic::is_error);
        let status = if failed {
            flow_state::RunStatus::Failed
        } else if fr.draining() {
            flow_state::RunStatus::Stopped
        } else {
            flow_state::RunStatus::Succeeded
        };
        let error = lock(&fr.diagnostics).iter().find(|d| d.is_error()).map(|d| format!("{}: {}", d.code, d.message));
        let error = error.map(|e| fr.ctx.secrets.redact(&e));
        // The last checkpoint, the run's end and the lease's release, in one commit.
        if let Err(d) = state.end(status, counts, error) {
            let d = d.note(format!("in flow `{}`", fr.flow_name()));
            // The store's failure may have stopped the flow already (a checkpoint's commit,
            // reported when a record settled): the same failure is reported once.
            let mut diagnostics = lock(&fr.diagnostics);
            if !diagnostics.iter().any(|e| e.code == d.code && e.message == d.message) {
                diagnostics.push(d);
            }
        }
    }
    let diagnostics = std::mem::take(&mut *lock(&fr.diagnostics));
    let s = &fr.stats;
    let report = FlowReport {
        name: name.clone(),
        ok: !diagnostics.iter().any(Diagnostic::is_error),
        records_in: s.records_in.load(Ordering::SeqCst),
        records_filtered: s.records_filtered.load(Ordering::SeqCst),
        records_ok: s.records_ok.load(Ordering::SeqCst),
        records_failed: s.records_failed.load(Ordering::SeqCst),
        records_not_processed: s.records_not_processed.load(Ordering::SeqCst),
        dead_lettered: s.dead_lettered.load(Ordering::SeqCst),
        pages: s.pages.load(Ordering::SeqCst),
        requests: s.requests.load(Ordering::SeqCst),
        retries: s.retries.load(Ordering::SeqCst),
        statuses: lock(&s.statuses).clone(),
        paging: lock(&fr.stops)
            .iter()
            .map(|((endpoint, stop), times)| PagingStop {
                endpoint: endpoint.clone(),
                reason: stop.describe().to_string(),
                times: *times,
            })
            .collect(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        stopped: fr.draining(),
        may_have_resent: fr.state.as_ref().and_then(|s| match s.resent {
            Some(flow_state::Resent::AtMost { records, .. }) => Some(records),
            _ => None,
        }),
    };
    // Every record read is accounted for exactly once.
    debug_assert!(
        report.reconciles(),
        "flow `{}`: {} read != {} delivered + {} filtered + {} failed + {} not processed",
        report.name,
        report.records_in,
        report.records_ok,
        report.records_filtered,
        report.records_failed,
        report.records_not_processed
    );
    ctx.events.emit(Event::FlowFinished { flow: name, ok: report.ok });
    (report, diagnostics)
}

/// The outermost `for`: a producer task pages through the source and feeds a bounded channel;
/// records are processed concurrently, at most `concurrency` at once.
async fn top_level_for(fr: Arc<FlowRun>, step: usize, env: Env) -> Result<(), Diagnostic> {
    let plan = fr.ctx.plan.clone();
    let flow = &plan.flows[fr.flow];
    let Step::For { source, body: loop_body, .. } = &flow.body[step] else {
        return Ok(());
    };
    let concurrency = flow.concurrency.max(1) as usize;
    let (tx, mut rx) = mpsc::channel::<(u64, Result<Value, BadRecord>)>(concurrency * 2);
    let producer = {
        let fr = fr.clone();
        let env = env.clone();
        let source = source.clone();
        tokio::spawn(async move {
            let state = fr.state.as_ref().filter(|s| s.spec.step == step);
            let paginate = fr.ctx.plan.endpoints.get(source.endpoint).and_then(|e| e.paginate.as_ref());
            let (mut pager, mut n) = match state.and_then(|s| s.resume.as_ref()) {
                Some(p) => match Pager::resume(paginate, &p.next, p.pages_done, p.records_done) {
                    Some(pager) => (pager, p.records_done),
                    None => return Err(crate::state::position_mismatch(&fr.ctx.plan.flows[fr.flow].name, &p.next)),
                },
                None => (Pager::new(), 0u64),
            };
            while !fr.stop.load(Ordering::SeqCst) && !fr.draining() {
                let Some(records) = pager.next_page(&fr, &source, &env, None).await? else { break };
                if let Some(state) = state {
                    state.page_read(n + records.len() as u64, pager.position(paginate));
                }
                // Read: from here on each record is delivered, filtered, failed, or counted as
                // not processed because the flow stopped.
                fr.stats.records_in.fetch_add(records.len() as u64, Ordering::SeqCst);
                let mut left = records.len() as u64;
                for record in records {
                    n += 1;
                    if fr.stop.load(Ordering::SeqCst) || fr.draining() || tx.send((n, record)).await.is_err() {
                        fr.stats.records_not_processed.fetch_add(left, Ordering::SeqCst);
                        return Ok(());
                    }
                    left -= 1;
                }
            }
            Ok::<(), Diagnostic>(())
        })
    };
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    // With state, a record starts at most this far past the watermark: what is in flight, what
    // a batch holds, and three times as many again, so that what a crash sends again stays
    // bounded (docs/state.md) and a batch can always fill. Twice what is in flight held the
    // reader back 250 times a run of 20,000 records (records finish that far out of order on a
    // loaded machine), and cost 6-10 % of the throughput; four times, about 15 times.
    let batch = loop_body
        .iter()
        .filter_map(|s| match s {
            Step::Call { call, .. } => call.batch,
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let window = 4 * concurrency as u64 + u64::from(batch);
    let state = fr.state.as_ref().filter(|s| s.spec.step == step);
    while let Some((n, record)) = rx.recv().await {
        if let Some(state) = state {
            // Nothing in flight means nothing can move the watermark but this record (the
            // oldest may wait in a batch that only new records fill): then it goes.
            let go = || permits.available_permits() == concurrency;
            let stopping = || fr.stop.load(Ordering::SeqCst) || fr.draining();
            state.within_window(n, window, go, stopping).await;
        }
        let permit = match permits.clone().acquire_owned().await {
            Ok(permit) if !fr.stop.load(Ordering::SeqCst) && !fr.draining() => permit,
            _ => {
                fr.stats.records_not_processed.fetch_add(1, Ordering::SeqCst);
                break;
            }
        };
        // The mark of started records covers this one before it is sent.
        if let Some(Err(d)) = state.map(|s| s.starting(n)) {
            drop(permit);
            lock(&fr.diagnostics).push(d.note(format!("in flow `{}`", fr.flow_name())));
            fr.stop.store(true, Ordering::SeqCst);
            fr.stats.records_not_processed.fetch_add(1, Ordering::SeqCst);
            break;
        }
        let fr = fr.clone();
        let env = env.clone();
        // A record with sensitive values is worked on with them scrubbed from what it shows.
        let scrub = fr.record_scrub(source.endpoint, &record);
        tasks.spawn(crate::sensitive::scoped(scrub, async move {
            match record {
                Ok(record) => process_record(&fr, step, env, n, record).await,
                // Read, and failed: it goes to the error policy like any failed record.
                Err(bad) => {
                    let plan = fr.ctx.plan.clone();
                    if let Step::For { source, .. } = &plan.flows[fr.flow].body[step] {
                        let (d, mut rec) = fr.undecodable(source, n, &bad);
                        rec.settles = fr.settles(step);
                        fr.record_failed(d, &rec, &bad);
                    }
                }
            }
            drop(permit);
        }));
        while tasks.try_join_next().is_some() {}
    }
    // Records read and queued but never started: the producer's next send fails, and it
    // counts what is left of its page.
    rx.close();
    while rx.recv().await.is_some() {
        fr.stats.records_not_processed.fetch_add(1, Ordering::SeqCst);
    }
    while tasks.join_next().await.is_some() {}
    // The last, partial batch; left unsent (not processed) when the flow stopped.
    if let Some(Step::Call { call, .. }) = flow.body.get(step).and_then(|s| match s {
        Step::For { body, .. } => body.last(),
        _ => None,
    }) {
        if call.batch.is_some() {
            let rest = std::mem::take(&mut *lock(&fr.batch));
            if fr.stop.load(Ordering::SeqCst) {
                fr.stats.records_not_processed.fetch_add(rest.len() as u64, Ordering::SeqCst);
            } else {
                fr.send_batch(call, rest).await;
            }
        }
    }
    match producer.await {
        Ok(result) => result,
        Err(e) => Err(Diagnostic::new(codes::EVAL, format!("internal error: the page reader stopped: {e}"))),
    }
}

async fn process_record(fr: &Arc<FlowRun>, step: usize, mut env: Env, n: u64, record: Value) {
    let plan = fr.ctx.plan.clone();
    let Step::For { var, source, filter, body, .. } = &plan.flows[fr.flow].body[step] else {
        return;
    };
    let rec = RecordRef {
        index: n,
        source: plan.endpoints.get(source.endpoint).map_or_else(String::new, |e| e.name.clone()),
        id: record.get("id").filter(|v| !v.is_null()).map(ToText::to_text),
        settles: fr.settles(step),
    };
    let kept = record.clone();
    env.push(var.clone(), record);
    let result = async {
        if rec.settles && fr.state.as_ref().is_some_and(|s| s.already_delivered(&kept)) {
            return Ok(Outcome::Filtered);
        }
        if let Some(f) = filter {
            match eval::eval(&f.expr, &mut env, &plan) {
                Ok(Value::Bool(false)) => return Ok(Outcome::Filtered),
                Ok(_) => {}
                Err(e) => return Err(fr.eval_failure(e, f.span, Some(&rec), "the `where` condition")),
            }
        }
        // A batched last step: run the others, then add this record's item to the batch.
        if let Some((Step::Call { call, .. }, others)) =
            body.split_last().filter(|(last, _)| matches!(last, Step::Call { call, .. } if call.batch.is_some()))
        {
            if !exec_steps(fr, others, &mut env, Some(&rec)).await? {
                return Ok(Outcome::Stopped);
            }
            let item = match &call.body {
                Some(e) => eval::eval(e, &mut env, &plan)
                    .map_err(|err| fr.eval_failure(err, call.span, Some(&rec), "the batch item"))?,
                None => Value::Null,
            };
            let (params, query, headers) = fr.request_parts(call, &mut env, Some(&rec))?;
            let full = {
                let mut pending = lock(&fr.batch);
                pending.push(Pending { rec: rec.clone(), record: kept.clone(), item, params, query, headers });
                if pending.len() >= call.batch.unwrap_or(1) as usize {
                    Some(std::mem::take(&mut *pending))
                } else {
                    None
                }
            };
            if let Some(batch) = full {
                fr.send_batch(call, batch).await;
            }
            return Ok(Outcome::Batched);
        }
        exec_steps(fr, body, &mut env, Some(&rec))
            .await
            .map(|done| if done { Outcome::Delivered } else { Outcome::Stopped })
    }
    .await;
    match result {
        Ok(Outcome::Delivered) => {
            fr.stats.records_ok.fetch_add(1, Ordering::SeqCst);
            fr.settle(&rec, Some(&kept));
        }
        Ok(Outcome::Filtered) => {
            fr.stats.records_filtered.fetch_add(1, Ordering::SeqCst);
            fr.settle(&rec, Some(&kept));
        }
        // Read, but neither delivered nor failed.
        Ok(Outcome::Stopped) => {
            fr.stats.records_not_processed.fetch_add(1, Ordering::SeqCst);
        }
        // Counted when its batch is sent.
        Ok(Outcome::Batched) => {}
        Err(d) if stops_every_policy(&d) => fr.halt(d, 1),
        Err(d) => fr.record_failed(d, &rec, &kept),
    }
}

/// A block of steps: what its steps bind is seen by the steps after them, and dropped when the
/// block ends (a loop's body, once per record).
pub(crate) fn exec_steps<'a>(
    fr: &'a Arc<FlowRun>,
    steps: &'a [Step],
    env: &'a mut Env,
    rec: Option<&'a RecordRef>,
) -> StepResult<'a> {
    Box::pin(async move {
        let mark = env.len();
        for step in steps {
            if !exec_step(fr, step, env, rec).await? {
                return Ok(false);
            }
        }
        env.truncate(mark);
        Ok(true)
    })
}

/// One step. What it binds (`let x = …`, `let r = endpoint(…)`) stays in `env` for the steps
/// after it: the flow's top level runs its steps one by one through here, sharing one `env`.
pub(crate) fn exec_step<'a>(
    fr: &'a Arc<FlowRun>,
    step: &'a Step,
    env: &'a mut Env,
    rec: Option<&'a RecordRef>,
) -> StepResult<'a> {
    Box::pin(async move {
        let plan = fr.ctx.plan.clone();
        if fr.stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match step {
            Step::Let { name, value, span } => {
                let v = eval::eval(value, env, &plan).map_err(|e| fr.eval_failure(e, *span, rec, "a `let`"))?;
                env.push(name.clone(), v);
            }
            Step::Call { call, bind } => {
                let v = fr.call(call, env, rec).await?;
                if let Some(name) = bind {
                    env.push(name.clone(), v);
                }
            }
            Step::For { var, source, filter, body, .. } => {
                // A nested loop runs inside its record, one child record at a time.
                let mut pager = Pager::new();
                let mut n = 0u64;
                while let Some(records) = pager.next_page(fr, source, env, rec).await? {
                    for record in records {
                        n += 1;
                        // A child record that does not fit its type fails the record it is in.
                        let record = record.map_err(|bad| fr.undecodable(source, n, &bad).0)?;
                        let child = RecordRef {
                            index: n,
                            source: plan.endpoints.get(source.endpoint).map_or_else(String::new, |e| e.name.clone()),
                            id: record.get("id").filter(|v| !v.is_null()).map(ToText::to_text),
                            settles: false,
                        };
                        let inner = env.len();
                        env.push(var.clone(), record);
                        let keep = match filter {
                            Some(f) => match eval::eval(&f.expr, env, &plan) {
                                Ok(v) => v != Value::Bool(false),
                                Err(e) => {
                                    return Err(fr.eval_failure(e, f.span, Some(&child), "the `where` condition"))
                                }
                            },
                            None => true,
                        };
                        if keep && !exec_steps(fr, body, env, Some(&child)).await? {
                            return Ok(false);
                        }
                        env.truncate(inner);
                    }
                }
            }
        }
        Ok(true)
    })
}

/// The context of `flowc replay` (dead_letters.rs): a run's, with the store it was given (none
/// for a replay of a dead letter file).
pub(crate) fn replay_context(
    plan: &Plan,
    secrets: Arc<Secrets>,
    events: Events,
    base_dir: std::path::PathBuf,
    store: Option<crate::state::Store>,
) -> Result<Arc<Ctx>, Diagnostic> {
    let http = Http::new(plan, secrets.clone()).map_err(|f| Diagnostic::new(f.code, f.message))?;
    let plan = Arc::new(Program::new(plan.clone()));
    Ok(Arc::new(Ctx {
        sensitive: crate::sensitive::Sensitive::new(&plan),
        plan,
        http,
        events,
        secrets,
        base_dir,
        store: store.map(|s| (s, false)),
        stop: crate::StopToken::default(),
    }))
}

impl FlowRun {
    /// A flow run about to start: nothing counted, sent or failed yet.
    fn new(ctx: Arc<Ctx>, flow: usize, state: Option<crate::state::FlowStateRun>) -> Arc<FlowRun> {
        Arc::new(FlowRun {
            ctx,
            flow,
            stats: Arc::default(),
            stop: AtomicBool::new(false),
            diagnostics: Mutex::new(Vec::new()),
            dead_letter: Mutex::new(None),
            batch: Mutex::new(Vec::new()),
            stops: Mutex::new(BTreeMap::new()),
            state,
        })
    }

    /// A flow run for replaying its dead letters: no state of its own (a replay moves no cursor).
    pub(crate) fn for_replay(ctx: Arc<Ctx>, flow: usize) -> Arc<FlowRun> {
        FlowRun::new(ctx, flow, None)
    }
}

/// Credentials that cannot be obtained (R0013) fail every record the same way: the flow
/// stops under every error policy, and no record is dead-lettered for it.
fn stops_every_policy(d: &Diagnostic) -> bool {
    d.code == codes::AUTH_FAILED.id
}

/// What became of one record of the outermost loop.
enum Outcome {
    Delivered,
    Filtered,
    Stopped,
    Batched,
}

impl FlowRun {
    /// The run was asked to stop gracefully: nothing new is read or started, what is in flight
    /// finishes (unlike `stop`, which also stops the records in flight).
    fn draining(&self) -> bool {
        self.ctx.stop.is_stopped()
    }

    /// Whether the records of top-level step `step` advance the flow's state.
    fn settles(&self, step: usize) -> bool {
        self.state.as_ref().is_some_and(|s| s.spec.step == step)
    }

    /// The run's counters, as the state store keeps them.
    pub(crate) fn counts(&self) -> flow_state::RunCounts {
        self.stats.snapshot()
    }

    /// A record of the state's source is settled (delivered, filtered out, dead-lettered): the
    /// state's watermark may advance, and a checkpoint be due. A checkpoint that fails stops
    /// the flow.
    fn settle(&self, rec: &RecordRef, record: Option<&Value>) {
        let Some(state) = self.state.as_ref().filter(|_| rec.settles) else { return };
        if let Some(d) = state.settle(rec.index, record, || self.counts()) {
            lock(&self.diagnostics).push(d.note(format!("in flow `{}`", self.flow_name())));
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    pub(crate) fn flow_name(&self) -> &str {
        &self.ctx.plan.flows[self.flow].name
    }

    /// Counts why the paging of a source stopped, for the summary.
    pub(crate) fn paging_stopped(&self, endpoint: &str, why: Stop) {
        *lock(&self.stops).entry((endpoint.to_string(), why)).or_insert(0) += 1;
    }

    /// A run-time diagnostic: the message, the span of the step, and notes that name the flow
    /// and the record. Secrets are scrubbed where it leaves the run (the report, an event, a
    /// dead letter), not here.
    fn diagnostic(
        &self,
        code: Code,
        message: &str,
        span: Span,
        label: &str,
        rec: Option<&RecordRef>,
        notes: &[String],
    ) -> Diagnostic {
        let mut d = Diagnostic::new(code, message).primary(span, label);
        let mut where_ = format!("in flow `{}`", self.flow_name());
        if let Some(r) = rec {
            where_.push_str(&format!(", {}", r.describe()));
        }
        d = d.note(where_);
        for n in notes {
            d = d.note(n.clone());
        }
        d
    }

    pub(crate) fn eval_failure(
        &self,
        e: eval::EvalError,
        step_span: Span,
        rec: Option<&RecordRef>,
        what: &str,
    ) -> Diagnostic {
        let span = e.span.unwrap_or(step_span);
        self.diagnostic(*e.code, &format!("{what} failed: {}", e.message), span, "failed here", rec, &[])
            .help("guard the expression (`if`, `??`), or fix the data; with `on_error = dead_letter(…)` the record is kept and the run goes on")
    }

    /// Stops the flow for a failure that is not the records' own (see [`stops_every_policy`]):
    /// the `records` it hit count as not processed, and the failure is reported once however
    /// many records waited for the same refusal.
    fn halt(&self, mut d: Diagnostic, records: u64) {
        crate::sensitive::scrub_diagnostic(&mut d);
        self.stats.records_not_processed.fetch_add(records, Ordering::SeqCst);
        let mut diagnostics = lock(&self.diagnostics);
        if !diagnostics.iter().any(|seen| seen.code == d.code) {
            diagnostics.push(d);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn record_failed<'r>(&self, mut d: Diagnostic, rec: &RecordRef, record: impl Into<Kept<'r>>) {
        let record = record.into();
        crate::sensitive::scrub_diagnostic(&mut d);
        self.stats.records_failed.fetch_add(1, Ordering::SeqCst);
        let policy = self.ctx.plan.flows[self.flow].on_error.clone();
        let mut dead_lettered = false;
        if let OnError::DeadLetter { path } = &policy {
            match self.keep_dead_letter(path, &d, rec, record) {
                Ok(()) => {
                    dead_lettered = true;
                    self.stats.dead_lettered.fetch_add(1, Ordering::SeqCst);
                    let decoded = match record {
                        Kept::Decoded(v) => Some(v),
                        Kept::Raw(_) => None,
                    };
                    self.settle(rec, decoded);
                }
                Err(dl) => {
                    lock(&self.diagnostics).push(dl);
                    self.stop.store(true, Ordering::SeqCst);
                }
            }
        }
        self.ctx.events.emit(Event::RecordFailed {
            flow: self.flow_name().to_string(),
            code: d.code,
            message: d.message.clone(),
            dead_lettered,
        });
        if dead_lettered {
            // Kept as a warning-free note in the summary: the record is safe, the run goes on.
            return;
        }
        lock(&self.diagnostics).push(d);
        self.stop.store(true, Ordering::SeqCst);
    }

    pub(crate) fn write_dead_letter(
        &self,
        path: &str,
        d: &Diagnostic,
        rec: &RecordRef,
        record: Kept<'_>,
        kept: &crate::dead_letters::KeptRecord,
    ) -> std::io::Result<()> {
        let mut file = lock(&self.dead_letter);
        let at_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let mut entry = serde_json::json!({
            "flow": self.flow_name(),
            "source": rec.source,
            "record_index": rec.index,
            "error": { "code": d.code, "message": d.message, "notes": d.notes },
            "failed_at_unix_ms": at_ms as u64,
        });
        if let Kept::Raw(bad) = record {
            entry["error"]["mismatches"] = bad_record_mismatches(bad, str::to_string);
        }
        // Every text of the line is scrubbed as data, so the line stays one valid JSON object.
        self.ctx.secrets.redact_json(&mut entry);
        // The record goes in as JSON text, scrubbed: built by the exact encoder (Decimals stay
        // exact), or as the API sent it when it did not fit its type; `secrets` says where it
        // held secrets (names and forms, never values; `[]`: none), for a replay to write them
        // back.
        entry["secrets"] = serde_json::json!(kept.secrets);
        let mut line = entry.to_string();
        line.pop();
        line.push_str(",\"record\":");
        line.push_str(&kept.text);
        line.push_str("}\n");
        // Under the file's lock, into the file at the path now (`flowc replay --from` rewrites it).
        crate::dead_letter_file::append_locked(&mut file, &self.ctx.base_dir.join(path), line.as_bytes())
    }

    /// Sends one batch: every record in it is delivered, or fails, with the batch; with the
    /// sensitive values of all its records scrubbed from what it shows.
    async fn send_batch(&self, call: &EndpointCall, batch: Vec<Pending>) {
        let Some(first) = batch.first() else { return };
        let scrub = self.records_scrub(&first.rec.source, batch.iter().map(|p| &p.record));
        crate::sensitive::scoped(scrub, self.send_batch_scoped(call, batch)).await;
    }

    async fn send_batch_scoped(&self, call: &EndpointCall, batch: Vec<Pending>) {
        let Some(first) = batch.first() else { return };
        let plan = self.ctx.plan.clone();
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        // The URL and headers come from the batch's first record.
        let url = match http::endpoint_url(api, endpoint, &first.params, &first.query) {
            Ok(u) => u,
            Err(f) => {
                let d = self.http_failure(f, call, Some(&first.rec));
                for p in &batch {
                    self.record_failed(d.clone(), &p.rec, &p.record);
                }
                return;
            }
        };
        let items = Value::Array(batch.iter().map(|p| p.item.clone()).collect());
        let headers = first.headers.clone();
        let rec = first.rec.clone();
        let body = match flow_eval::try_encode_as(&items, endpoint.body.as_ref(), &plan.types) {
            Ok(body) => body,
            Err(err) => {
                let d = self.eval_failure(err, call.span, Some(&rec), "the batch's body");
                for p in &batch {
                    self.record_failed(d.clone(), &p.rec, &p.record);
                }
                return;
            }
        };
        match self.send(call, &url, &headers, Some(body), Some(&rec), false).await {
            Ok(_) => {
                self.stats.records_ok.fetch_add(batch.len() as u64, Ordering::SeqCst);
                for p in &batch {
                    self.settle(&p.rec, Some(&p.record));
                }
            }
            Err(d) if stops_every_policy(&d) => self.halt(d, batch.len() as u64),
            Err(mut d) => {
                d.notes.push(format!("the batch held {} records, and all of them failed with it", batch.len()));
                match plan.flows[self.flow].on_error {
                    // Each record goes to the dead letter file, with the error.
                    OnError::DeadLetter { .. } => {
                        for p in &batch {
                            self.record_failed(d.clone(), &p.rec, &p.record);
                        }
                    }
                    // One error stops the flow; every record of the batch counts as failed.
                    OnError::Fail => {
                        self.stats.records_failed.fetch_add(batch.len() as u64 - 1, Ordering::SeqCst);
                        self.record_failed(d, &first.rec, &first.record);
                    }
                }
            }
        }
    }

    /// One HTTP exchange for an endpoint call, with stats and events. `reads_answer`: the
    /// caller decodes the answer, so one whose body is not JSON is retried like a 5xx.
    pub(crate) async fn send(
        &self,
        call: &EndpointCall,
        url: &url::Url,
        headers: &[(String, String)],
        body: Option<String>,
        rec: Option<&RecordRef>,
        reads_answer: bool,
    ) -> Result<Answer, Diagnostic> {
        let plan = &self.ctx.plan;
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        let policy = endpoint.retry.unwrap_or(api.retry);
        // Safe to repeat: idempotent by HTTP's rules, or made so by a key or a declaration.
        let safe = matches!(endpoint.method.as_str(), "GET" | "PUT" | "DELETE")
            || endpoint.idempotent
            || call.idempotency_key.is_some();
        let program = &*self.ctx.plan;
        let judge = endpoint
            .answer_errors
            .as_ref()
            .map(|errors| move |a: &Answer| crate::answer_errors::judge(errors, program, &a.body));
        let exchange = self
            .ctx
            .http
            .exchange(
                endpoint.api,
                api,
                &policy,
                safe,
                http::Request {
                    expect_json: reads_answer && endpoint.response.is_some(),
                    timeout: endpoint.timeout_ms.map(std::time::Duration::from_millis),
                    method: &endpoint.method,
                    url,
                    headers,
                    body,
                    judge: judge.as_ref().map(|j| j as &http::Judge<'_>),
                },
            )
            .await;
        let (result, latency) = (exchange.result, exchange.elapsed);
        for r in &exchange.retries {
            self.stats.retries.fetch_add(1, Ordering::SeqCst);
            self.stats.requests.fetch_add(1, Ordering::SeqCst);
            self.ctx.events.emit(Event::Retry {
                flow: self.flow_name().to_string(),
                api: api.name.clone(),
                url: url.to_string(),
                attempt: r.attempt,
                wait_ms: r.wait_ms,
                reason: r.reason.clone(),
            });
        }
        self.stats.requests.fetch_add(1, Ordering::SeqCst);
        let status = result.as_ref().ok().map(|a| a.status);
        {
            let mut statuses = lock(&self.stats.statuses);
            for s in &exchange.statuses {
                *statuses.entry(*s).or_insert(0) += 1;
            }
        }
        self.ctx.events.emit(Event::Request {
            flow: self.flow_name().to_string(),
            api: api.name.clone(),
            method: endpoint.method.clone(),
            url: url.to_string(),
            status,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        });
        let answer = result.map_err(|f| self.http_failure(f, call, rec))?;
        if !(200..300).contains(&answer.status) {
            let reason =
                reqwest::StatusCode::from_u16(answer.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
            let f = Failure {
                code: codes::HTTP_STATUS,
                message: format!("answered {} {reason}", answer.status),
                notes: vec![format!(
                    "{} {url} — the response body starts with: {}",
                    endpoint.method,
                    http::excerpt(&answer.body, &self.ctx.secrets)
                )],
                class: http::Class::Final,
            };
            return Err(self.http_failure(f, call, rec));
        }
        Ok(answer)
    }

    pub(crate) fn http_failure(&self, f: Failure, call: &EndpointCall, rec: Option<&RecordRef>) -> Diagnostic {
        let endpoint = &self.ctx.plan.endpoints[call.endpoint];
        let help = match f.code.id {
            "R0001" => "check the request the endpoint builds (path, query, body) against the API's documentation; 401/403 mean the credentials",
            "R0002" => "check the api's base_url (or --base-url) and that the server is reachable; raise `timeout` for slow APIs",
            "R0003" => "the API did not answer with JSON: check the base_url and path, and the API's status",
            "R0004" => "correct the declared response type to match what the API sends (a field that can be missing or null is declared with `?`)",
            "R0008" => "the API's pagination is not advancing; check the `paginate` rule's `from` path",
            "R0011" => "raise the endpoint's `max_pages` if the source really has that many pages",
            "R0024" => "the records of the last page were handed on; correct the record type (or the `paginate` expression) so the next page can be worked out",
            "R0025" => "the API answered that the request failed; its message says why (an error the API says passes with time is retried when `error_transient` says so)",
            "R0013" => "check the credentials (client id and secret) and the token URL; the token endpoint's answer is in the notes",
            "R0012" => "give the call an `idempotency_key: …` (or declare the endpoint `idempotent = true` if repeating it is harmless), then check whether the record arrived",
            _ => "see docs/diagnostics.md",
        };
        let message = format!("`{}`: {}", endpoint.name, f.message);
        self.diagnostic(f.code, &message, call.span, "this step failed", rec, &f.notes)
            .secondary(endpoint.span, format!("endpoint `{}` is declared here", endpoint.name))
            .help(help)
    }

    /// Evaluates a call's parameters and the endpoint's query and headers.
    #[allow(clippy::type_complexity)]
    pub(crate) fn request_parts(
        &self,
        call: &EndpointCall,
        env: &mut Env,
        rec: Option<&RecordRef>,
    ) -> Result<(Vec<(String, Value)>, Vec<(String, Value)>, Vec<(String, String)>), Diagnostic> {
        let plan = &self.ctx.plan;
        let endpoint = &plan.endpoints[call.endpoint];
        let mut params = Vec::with_capacity(call.args.len());
        for (name, e) in &call.args {
            let v = eval::eval(e, env, plan)
                .map_err(|err| self.eval_failure(err, call.span, rec, &format!("parameter `{name}`")))?;
            params.push((name.clone(), v));
        }
        // The endpoint's own expressions see its parameters, nothing else.
        let mut penv = Env::new();
        for p in &endpoint.params {
            let v = params.iter().find(|(n, _)| *n == p.name).map_or(Value::Null, |(_, v)| v.clone());
            penv.push(p.name.clone(), v);
        }
        let mut query = Vec::with_capacity(endpoint.query.len());
        for (name, e) in &endpoint.query {
            let v = eval::eval(e, &mut penv, plan)
                .map_err(|err| self.eval_failure(err, endpoint.span, rec, &format!("query parameter `{name}`")))?;
            query.push((name.clone(), v));
        }
        let mut headers = Vec::new();
        for (name, e) in &endpoint.headers {
            let v = eval::eval(e, &mut penv, plan)
                .map_err(|err| self.eval_failure(err, endpoint.span, rec, &format!("header `{name}`")))?;
            if !v.is_null() {
                headers.push((name.clone(), v.to_text()));
            }
        }
        if let Some(key) = &call.idempotency_key {
            let v = eval::eval(key, env, plan)
                .map_err(|err| self.eval_failure(err, call.span, rec, "the idempotency key"))?;
            headers.push(("Idempotency-Key".to_string(), v.to_text()));
        }
        // What is left of the parameters goes into the path, in the form each one declares
        // (the query and headers above saw them as values).
        for (name, v) in &mut params {
            if let Some(p) = endpoint.params.iter().find(|p| p.name == *name) {
                flow_eval::write_forms(v, &p.ty, &plan.types)
                    .map_err(|err| self.eval_failure(err, call.span, rec, &format!("parameter `{name}`")))?;
            }
        }
        Ok((params, query, headers))
    }

    /// Calls an endpoint as a step; the decoded response (or null without a response type).
    async fn call(&self, call: &EndpointCall, env: &mut Env, rec: Option<&RecordRef>) -> Result<Value, Diagnostic> {
        let plan = self.ctx.plan.clone();
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        let (params, query, headers) = self.request_parts(call, env, rec)?;
        let body = match &call.body {
            Some(e) => Some(
                flow_eval::try_encode_as(
                    &eval::eval(e, env, &plan)
                        .map_err(|err| self.eval_failure(err, call.span, rec, "the request body"))?,
                    endpoint.body.as_ref(),
                    &plan.types,
                )
                .map_err(|err| self.eval_failure(err, call.span, rec, "the request body"))?,
            ),
            None => None,
        };
        let url = http::endpoint_url(api, endpoint, &params, &query).map_err(|f| self.http_failure(f, call, rec))?;
        let answer = self.send(call, &url, &headers, body, rec, true).await?;
        match &endpoint.response {
            None => Ok(Value::Null),
            Some(ty) => self.decode(&answer, ty, call, rec),
        }
    }

    fn decode(
        &self,
        answer: &Answer,
        ty: &flow_plan::Type,
        call: &EndpointCall,
        rec: Option<&RecordRef>,
    ) -> Result<Value, Diagnostic> {
        // One pass over the text straight into the declared type, numbers read from their text
        // (so a Decimal is exactly what the API wrote, or refused); what does not fit is read
        // again to list every mismatch.
        response_text(answer)
            .and_then(|text| flow_eval::decode_text(text, ty, &self.ctx.plan.types))
            .map_err(|e| self.decode_failure(e, answer, call, rec))
    }

    fn decode_failure(
        &self,
        e: flow_eval::TextError,
        answer: &Answer,
        call: &EndpointCall,
        rec: Option<&RecordRef>,
    ) -> Diagnostic {
        let f = match e {
            flow_eval::TextError::Syntax(why) => http::not_json(answer, &why, &self.ctx.secrets),
            flow_eval::TextError::Shape(m) => shape_failure("the response does not match its declared type", &m),
        };
        self.http_failure(f, call, rec)
    }

    /// A page: its envelope, decoded whole (paging reads it, so it must fit), and each of its
    /// records on its own, so that one that does not fit fails alone (see [`Self::undecodable`]).
    pub(crate) fn decode_page(
        &self,
        answer: &Answer,
        ty: &flow_plan::Type,
        records: Option<&[String]>,
        call: &EndpointCall,
        rec: Option<&RecordRef>,
    ) -> Result<(Value, Vec<Result<Value, BadRecord>>), Diagnostic> {
        let Some(path) = records else { return Ok((self.decode(answer, ty, call, rec)?, Vec::new())) };
        response_text(answer)
            .and_then(|text| flow_eval::decode_page(text, ty, &self.ctx.plan.types, path))
            .map(|page| (page.envelope, page.records))
            .map_err(|e| self.decode_failure(e, answer, call, rec))
    }

    /// Record `n` of a source that does not fit the source's record type: R0004 with every
    /// mismatch, naming the record (and its id when that could be read).
    fn undecodable(&self, source: &EndpointCall, n: u64, bad: &BadRecord) -> (Diagnostic, RecordRef) {
        let plan = &self.ctx.plan;
        let endpoint = plan.endpoints.get(source.endpoint);
        let rec = RecordRef {
            index: n,
            source: endpoint.map_or_else(String::new, |e| e.name.clone()),
            id: bad.partial.get("id").filter(|v| !v.is_null()).map(ToText::to_text),
            settles: false,
        };
        let ty = endpoint.and_then(|e| record_type(e, &plan.types));
        let what = match &ty {
            Some(ty) => format!("the record does not match its declared type `{ty}`"),
            None => "the record does not match its declared type".to_string(),
        };
        let d = self.http_failure(shape_failure(&what, &bad.mismatches), source, Some(&rec)).help(format!(
            "correct the type{} to match what the API sends (a field that can be missing or null is declared with `?`); with `on_error = dead_letter(…)` a record that does not fit is kept there, with its JSON, and the others go on",
            ty.map(|t| format!(" `{t}`")).unwrap_or_default()
        ));
        (d, rec)
    }
}

/// What a failed record's dead letter keeps: the record as decoded, or, for a record that did
/// not fit its type, its text as the API sent it.
#[derive(Clone, Copy)]
pub(crate) enum Kept<'a> {
    Decoded(&'a Value),
    Raw(&'a BadRecord),
}

impl<'a> From<&'a Value> for Kept<'a> {
    fn from(v: &'a Value) -> Kept<'a> {
        Kept::Decoded(v)
    }
}

impl<'a> From<&'a BadRecord> for Kept<'a> {
    fn from(b: &'a BadRecord) -> Kept<'a> {
        Kept::Raw(b)
    }
}

/// A bad record's mismatches for its dead letter: `[{path, expected, found}]` (what was found is
/// a short excerpt of the record, scrubbed like the rest).
fn bad_record_mismatches(bad: &BadRecord, redact: impl Fn(&str) -> String) -> serde_json::Value {
    bad.mismatches
        .listed
        .iter()
        .map(|m| serde_json::json!({ "path": m.path, "expected": m.expected, "found": redact(&m.found) }))
        .collect()
}

/// The declared type of an endpoint's records, as the `.flow` file names it.
fn record_type(endpoint: &flow_plan::Endpoint, types: &[flow_plan::NamedType]) -> Option<String> {
    let mut ty = endpoint.response.as_ref()?;
    let mut path = endpoint.records.as_deref()?.iter();
    loop {
        match ty {
            flow_plan::Type::Named(i) => ty = &types.get(*i)?.ty,
            flow_plan::Type::Nullable(t) => ty = t,
            flow_plan::Type::Object(fields) => {
                let name = path.next()?;
                ty = &fields.iter().find(|f| *f.name == **name)?.ty;
            }
            flow_plan::Type::Array(item) if path.len() == 0 => return Some(flow_eval::describe_type(item, types)),
            _ => return None,
        }
    }
}

/// A response body as text: JSON is UTF-8.
fn response_text(answer: &Answer) -> Result<&str, flow_eval::TextError> {
    std::str::from_utf8(&answer.body).map_err(|e| flow_eval::TextError::Syntax(format!("not UTF-8: {e}")))
}

/// R0004: one mismatch in the message; several counted there, one note each.
fn shape_failure(what: &str, m: &flow_eval::Mismatches) -> Failure {
    if m.count() == 1 {
        return Failure::new(codes::SHAPE, format!("{what}: {m}"));
    }
    let mut f = Failure::new(codes::SHAPE, format!("{what}: {} mismatches", m.count()));
    f.notes = m.lines();
    f
}
