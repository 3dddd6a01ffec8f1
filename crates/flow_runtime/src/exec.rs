//! Executing flows: steps, sources streamed page by page, records processed concurrently,
//! failures routed to the flow's error policy.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flow_diagnostics::{codes, Code, Diagnostic, Span};
use flow_plan::eval::{self, Env};
use flow_plan::{EndpointCall, OnError, Pagination, Plan, Step, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::http::{self, Answer, Failure, Http};
use crate::secrets::Secrets;
use crate::{Event, Events, FlowReport, Observer, Report, RunOptions};

struct Ctx {
    plan: Arc<Plan>,
    http: Http,
    /// Events go out through here only: scrubbed of secrets on the way.
    events: Events,
    /// The run's secrets, declared and obtained: for the dead letters.
    secrets: Arc<Secrets>,
    base_dir: std::path::PathBuf,
}

#[derive(Default)]
struct Stats {
    records_in: AtomicU64,
    records_filtered: AtomicU64,
    records_ok: AtomicU64,
    records_failed: AtomicU64,
    dead_lettered: AtomicU64,
    pages: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
}

/// One flow being run.
struct FlowRun {
    ctx: Arc<Ctx>,
    flow: usize,
    stats: Stats,
    /// Set when the flow must stop: a failure under `on_error = fail`, or a dead letter that
    /// could not be written.
    stop: AtomicBool,
    diagnostics: Mutex<Vec<Diagnostic>>,
    dead_letter: Mutex<Option<std::fs::File>>,
    /// Items of a batched call waiting for their batch to fill.
    batch: Mutex<Vec<Pending>>,
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
struct RecordRef {
    /// 1-based position in its source, and the source's endpoint name.
    index: u64,
    source: String,
    id: Option<String>,
}

impl RecordRef {
    fn describe(&self) -> String {
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
pub(crate) async fn run(plan: &Plan, options: RunOptions, observer: Arc<dyn Observer>) -> Report {
    let RunOptions { flow, secrets, base_dir } = options;
    let secrets = Arc::new(secrets);
    let events = Events::new(observer, secrets.clone());
    let mut report = run_flows(plan, flow.as_deref(), secrets.clone(), events, base_dir).await;
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
) -> Report {
    let mut report = Report { flows: Vec::new(), diagnostics: Vec::new() };
    let missing: Vec<&String> = plan.secrets.iter().filter(|s| !secrets.contains(s)).collect();
    if !missing.is_empty() {
        for name in missing {
            let mut d = Diagnostic::new(codes::MISSING_SECRET, format!("secret `{name}` has no value")).help(format!(
                "set the environment variable {name}, or add `{name}=…` to the .env file beside the .flow file"
            ));
            for api in plan.apis.iter().filter(|a| uses_secret(a, name)) {
                d = d.secondary(api.span, format!("api `{}` needs it", api.name));
            }
            if let Some(l) = d.labels.first_mut() {
                l.primary = true;
            }
            report.diagnostics.push(d);
        }
        return report;
    }
    let http = match Http::new(plan, secrets.clone()) {
        Ok(h) => h,
        Err(f) => {
            report.diagnostics.push(Diagnostic::new(f.code, f.message));
            return report;
        }
    };
    let ctx = Arc::new(Ctx { plan: Arc::new(plan.clone()), http, events, secrets, base_dir });
    for (i, flow) in plan.flows.iter().enumerate() {
        if only.is_some_and(|f| f != flow.name) {
            continue;
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

pub(crate) fn uses_secret(api: &flow_plan::Api, name: &str) -> bool {
    let in_template =
        |t: &flow_plan::Template| t.0.iter().any(|p| matches!(p, flow_plan::Part::Secret(s) if s == name));
    let in_auth = match &api.auth {
        flow_plan::Auth::None => false,
        flow_plan::Auth::Bearer { token } => in_template(token),
        flow_plan::Auth::Basic { user, password } => in_template(user) || in_template(password),
        flow_plan::Auth::ApiKeyHeader { value, .. } | flow_plan::Auth::ApiKeyQuery { value, .. } => in_template(value),
        flow_plan::Auth::OAuth2ClientCredentials { client_id, client_secret, .. } => {
            in_template(client_id) || in_template(client_secret)
        }
        flow_plan::Auth::OAuth2RefreshToken { client_id, client_secret, refresh_token, .. } => {
            in_template(client_id) || in_template(client_secret) || in_template(refresh_token)
        }
        flow_plan::Auth::Jwt { key, .. } => in_template(key),
    };
    in_auth || api.headers.iter().any(|h| in_template(&h.value))
}

async fn run_flow(ctx: Arc<Ctx>, index: usize) -> (FlowReport, Vec<Diagnostic>) {
    let started = Instant::now();
    let name = ctx.plan.flows[index].name.clone();
    ctx.events.emit(Event::FlowStarted { flow: name.clone() });
    let fr = Arc::new(FlowRun {
        ctx: ctx.clone(),
        flow: index,
        stats: Stats::default(),
        stop: AtomicBool::new(false),
        diagnostics: Mutex::new(Vec::new()),
        dead_letter: Mutex::new(None),
        batch: Mutex::new(Vec::new()),
    });
    let mut env = Env::new();
    let steps = ctx.plan.flows[index].body.len();
    for j in 0..steps {
        if fr.stop.load(Ordering::SeqCst) {
            break;
        }
        let plan = ctx.plan.clone();
        let step = &plan.flows[index].body[j];
        let result = match step {
            Step::For { .. } => top_level_for(fr.clone(), j, env.clone()).await,
            _ => exec_steps(&fr, std::slice::from_ref(step), &mut env, None).await.map(|_| ()),
        };
        if let Err(d) = result {
            lock(&fr.diagnostics).push(d);
            fr.stop.store(true, Ordering::SeqCst);
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
        records_not_processed: s.records_in.load(Ordering::SeqCst).saturating_sub(
            s.records_ok.load(Ordering::SeqCst)
                + s.records_filtered.load(Ordering::SeqCst)
                + s.records_failed.load(Ordering::SeqCst),
        ),
        dead_lettered: s.dead_lettered.load(Ordering::SeqCst),
        pages: s.pages.load(Ordering::SeqCst),
        requests: s.requests.load(Ordering::SeqCst),
        retries: s.retries.load(Ordering::SeqCst),
        statuses: lock(&s.statuses).clone(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    ctx.events.emit(Event::FlowFinished { flow: name, ok: report.ok });
    (report, diagnostics)
}

/// The outermost `for`: a producer task pages through the source and feeds a bounded channel;
/// records are processed concurrently, at most `concurrency` at once.
async fn top_level_for(fr: Arc<FlowRun>, step: usize, env: Env) -> Result<(), Diagnostic> {
    let plan = fr.ctx.plan.clone();
    let flow = &plan.flows[fr.flow];
    let Step::For { source, .. } = &flow.body[step] else {
        return Ok(());
    };
    let concurrency = flow.concurrency.max(1) as usize;
    let (tx, mut rx) = mpsc::channel::<(u64, Value)>(concurrency * 2);
    let producer = {
        let fr = fr.clone();
        let env = env.clone();
        let source = source.clone();
        tokio::spawn(async move {
            let mut pager = Pager::new();
            let mut n = 0u64;
            while let Some(records) = pager.next_page(&fr, &source, &env, None).await? {
                for record in records {
                    n += 1;
                    if fr.stop.load(Ordering::SeqCst) || tx.send((n, record)).await.is_err() {
                        return Ok(());
                    }
                }
            }
            Ok::<(), Diagnostic>(())
        })
    };
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    while let Some((n, record)) = rx.recv().await {
        if fr.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        if fr.stop.load(Ordering::SeqCst) {
            break;
        }
        // Started: from here on the record is delivered, filtered, failed, or counted as not
        // processed because the flow stopped while its steps were running.
        fr.stats.records_in.fetch_add(1, Ordering::SeqCst);
        let fr = fr.clone();
        let env = env.clone();
        tasks.spawn(async move {
            process_record(&fr, step, env, n, record).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    drop(rx);
    while tasks.join_next().await.is_some() {}
    // The last, partial batch; left unsent (not processed) when the flow stopped.
    if !fr.stop.load(Ordering::SeqCst) {
        if let Some(Step::Call { call, .. }) = flow.body.get(step).and_then(|s| match s {
            Step::For { body, .. } => body.last(),
            _ => None,
        }) {
            if call.batch.is_some() {
                let rest = std::mem::take(&mut *lock(&fr.batch));
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
        id: record.get("id").filter(|v| !v.is_null()).map(Value::to_text),
    };
    let kept = record.clone();
    env.push(var.clone(), record);
    let result = async {
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
        }
        Ok(Outcome::Filtered) => {
            fr.stats.records_filtered.fetch_add(1, Ordering::SeqCst);
        }
        // Counted as not processed: read, but neither delivered nor failed.
        Ok(Outcome::Stopped) => {}
        // Counted when its batch is sent.
        Ok(Outcome::Batched) => {}
        Err(d) => fr.record_failed(d, &rec, &kept),
    }
}

fn exec_steps<'a>(
    fr: &'a Arc<FlowRun>,
    steps: &'a [Step],
    env: &'a mut Env,
    rec: Option<&'a RecordRef>,
) -> StepResult<'a> {
    Box::pin(async move {
        let mark = env.len();
        let plan = fr.ctx.plan.clone();
        for step in steps {
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
                            let child = RecordRef {
                                index: n,
                                source: plan
                                    .endpoints
                                    .get(source.endpoint)
                                    .map_or_else(String::new, |e| e.name.clone()),
                                id: record.get("id").filter(|v| !v.is_null()).map(Value::to_text),
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
        }
        env.truncate(mark);
        Ok(true)
    })
}

/// What became of one record of the outermost loop.
enum Outcome {
    Delivered,
    Filtered,
    Stopped,
    Batched,
}

impl FlowRun {
    fn flow_name(&self) -> &str {
        &self.ctx.plan.flows[self.flow].name
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

    fn eval_failure(&self, e: eval::EvalError, step_span: Span, rec: Option<&RecordRef>, what: &str) -> Diagnostic {
        let span = e.span.unwrap_or(step_span);
        self.diagnostic(codes::EVAL, &format!("{what} failed: {}", e.message), span, "failed here", rec, &[])
            .help("guard the expression (`if`, `??`), or fix the data; with `on_error = dead_letter(…)` the record is kept and the run goes on")
    }

    fn record_failed(&self, d: Diagnostic, rec: &RecordRef, record: &Value) {
        self.stats.records_failed.fetch_add(1, Ordering::SeqCst);
        let policy = self.ctx.plan.flows[self.flow].on_error.clone();
        let mut dead_lettered = false;
        if let OnError::DeadLetter { path } = &policy {
            match self.write_dead_letter(path, &d, rec, record) {
                Ok(()) => {
                    dead_lettered = true;
                    self.stats.dead_lettered.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => {
                    let dl = Diagnostic::new(
                        codes::DEAD_LETTER,
                        format!("{} could not be written to the dead letter file {path}: {e}", rec.describe()),
                    )
                    .note(format!("in flow `{}`; the run stops so the record is not lost", self.flow_name()))
                    .help("make the dead letter file writable, then run again");
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

    fn write_dead_letter(&self, path: &str, d: &Diagnostic, rec: &RecordRef, record: &Value) -> std::io::Result<()> {
        let mut file = lock(&self.dead_letter);
        if file.is_none() {
            let full = self.ctx.base_dir.join(path);
            *file = Some(std::fs::OpenOptions::new().create(true).append(true).open(full)?);
        }
        let at_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let mut entry = serde_json::json!({
            "flow": self.flow_name(),
            "source": rec.source,
            "record_index": rec.index,
            "error": { "code": d.code, "message": d.message, "notes": d.notes },
            "failed_at_unix_ms": at_ms as u64,
        });
        // Every text of the line is scrubbed as data, so the line stays one valid JSON object.
        let secrets = &self.ctx.secrets;
        secrets.redact_json(&mut entry);
        // The record goes in as JSON text built by the exact encoder (Decimals stay exact).
        let mut line = entry.to_string();
        line.pop();
        line.push_str(",\"record\":");
        line.push_str(&flow_plan::encode(&secrets.redact_value(record)));
        line.push_str("}\n");
        let f = file.as_mut().ok_or_else(|| std::io::Error::other("dead letter file not open"))?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// Sends one batch: every record in it is delivered, or fails, with the batch.
    async fn send_batch(&self, call: &EndpointCall, batch: Vec<Pending>) {
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
        let body = flow_plan::encode_as(&items, endpoint.body.as_ref(), &plan.types);
        match self.send(call, &url, &headers, Some(body), Some(&rec)).await {
            Ok(_) => {
                self.stats.records_ok.fetch_add(batch.len() as u64, Ordering::SeqCst);
            }
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

    /// One HTTP exchange for an endpoint call, with stats and events.
    async fn send(
        &self,
        call: &EndpointCall,
        url: &url::Url,
        headers: &[(String, String)],
        body: Option<String>,
        rec: Option<&RecordRef>,
    ) -> Result<Answer, Diagnostic> {
        let plan = &self.ctx.plan;
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        let policy = endpoint.retry.unwrap_or(api.retry);
        // Safe to repeat: idempotent by HTTP's rules, or made so by a key or a declaration.
        let safe = matches!(endpoint.method.as_str(), "GET" | "PUT" | "DELETE")
            || endpoint.idempotent
            || call.idempotency_key.is_some();
        let exchange = self
            .ctx
            .http
            .exchange(
                endpoint.api,
                api,
                &policy,
                safe,
                http::Request {
                    timeout: endpoint.timeout_ms.map(std::time::Duration::from_millis),
                    method: &endpoint.method,
                    url,
                    headers,
                    body,
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
        if let Some(s) = status {
            *lock(&self.stats.statuses).entry(s).or_insert(0) += 1;
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

    fn http_failure(&self, f: Failure, call: &EndpointCall, rec: Option<&RecordRef>) -> Diagnostic {
        let endpoint = &self.ctx.plan.endpoints[call.endpoint];
        let help = match f.code.id {
            "R0001" => "check the request the endpoint builds (path, query, body) against the API's documentation; 401/403 mean the credentials",
            "R0002" => "check the api's base_url (or --base-url) and that the server is reachable; raise `timeout` for slow APIs",
            "R0003" => "the API did not answer with JSON: check the base_url and path, and the API's status",
            "R0004" => "correct the declared response type to match what the API sends (a field that can be missing or null is declared with `?`)",
            "R0008" => "the API's pagination is not advancing; check the `paginate` rule's `from` path",
            "R0011" => "raise the endpoint's `max_pages` if the source really has that many pages",
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
    fn request_parts(
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
        Ok((params, query, headers))
    }

    /// Calls an endpoint as a step; the decoded response (or null without a response type).
    async fn call(&self, call: &EndpointCall, env: &mut Env, rec: Option<&RecordRef>) -> Result<Value, Diagnostic> {
        let plan = self.ctx.plan.clone();
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        let (params, query, headers) = self.request_parts(call, env, rec)?;
        let body = match &call.body {
            Some(e) => Some(flow_plan::encode_as(
                &eval::eval(e, env, &plan).map_err(|err| self.eval_failure(err, call.span, rec, "the request body"))?,
                endpoint.body.as_ref(),
                &plan.types,
            )),
            None => None,
        };
        let url = http::endpoint_url(api, endpoint, &params, &query).map_err(|f| self.http_failure(f, call, rec))?;
        let answer = self.send(call, &url, &headers, body, rec).await?;
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
        // (so a Decimal is exactly what the API wrote); what does not fit is parsed again below,
        // to say what is wrong and where.
        if let Ok(Ok(v)) =
            std::str::from_utf8(&answer.body).map(|t| flow_plan::decode_text(t, ty, &self.ctx.plan.types))
        {
            return Ok(v);
        }
        let json = http::parse_json(answer, &self.ctx.secrets).map_err(|f| self.http_failure(f, call, rec))?;
        flow_plan::decode(&json, ty, &self.ctx.plan.types).map_err(|e| {
            let f = Failure::new(codes::SHAPE, format!("the response does not match its declared type: {e}"));
            self.http_failure(f, call, rec)
        })
    }
}

/// Walks the pages of a source.
struct Pager {
    started: bool,
    next: Option<NextPage>,
    seen: HashSet<String>,
    pages: u64,
    /// Records read so far, for a declared `total`.
    records: u64,
}

enum NextPage {
    /// Values to add to the endpoint's own request (cursor, page number, offset): to the query,
    /// or to the JSON body with `place: "body"`.
    Params(Vec<(String, Value)>),
    Url(url::Url),
}

impl Pager {
    fn new() -> Pager {
        Pager { started: false, next: None, seen: HashSet::new(), pages: 0, records: 0 }
    }

    /// The next page's records, or `None` after the last page.
    async fn next_page(
        &mut self,
        fr: &FlowRun,
        call: &EndpointCall,
        env: &Env,
        rec: Option<&RecordRef>,
    ) -> Result<Option<Vec<Value>>, Diagnostic> {
        if self.started && self.next.is_none() {
            return Ok(None);
        }
        let plan = fr.ctx.plan.clone();
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        if self.pages >= endpoint.max_pages {
            let f = Failure::new(
                codes::TOO_MANY_PAGES,
                format!("more than {} pages; paging stopped (`max_pages`)", endpoint.max_pages),
            );
            return Err(fr.http_failure(f, call, rec));
        }
        let mut env = env.clone();
        let (params, query, headers) = fr.request_parts(call, &mut env, rec)?;
        // A source may take a body (a search API): evaluated once per page.
        let mut body = match &call.body {
            Some(e) => Some(
                eval::eval(e, &mut env, &plan)
                    .map_err(|err| fr.eval_failure(err, call.span, rec, "the request body"))?,
            ),
            None => None,
        };
        let in_body = matches!(
            endpoint.paginate,
            Some(
                Pagination::Cursor { in_body: true, .. }
                    | Pagination::Page { in_body: true, .. }
                    | Pagination::Offset { in_body: true, .. }
            )
        );
        // The first page carries the page number or offset too.
        let first = match (&endpoint.paginate, self.started) {
            (Some(Pagination::Page { param, start, .. }), false) => {
                Some(NextPage::Params(vec![(param.clone(), Value::Int(*start))]))
            }
            (Some(Pagination::Offset { param, limit_param, size, .. }), false) => {
                Some(NextPage::Params(offset_params(param, limit_param.as_deref(), 0, *size)))
            }
            _ => None,
        };
        let url = match self.next.take().or(first) {
            None => http::endpoint_url(api, endpoint, &params, &query).map_err(|f| fr.http_failure(f, call, rec))?,
            Some(NextPage::Params(extra)) => {
                let mut url =
                    http::endpoint_url(api, endpoint, &params, &query).map_err(|f| fr.http_failure(f, call, rec))?;
                for (k, v) in extra {
                    match (&mut body, in_body) {
                        (Some(Value::Object(fields)), true) => match fields.iter_mut().find(|(name, _)| *name == k) {
                            Some(slot) => slot.1 = v,
                            None => fields.push((k.into(), v)),
                        },
                        _ => {
                            url.query_pairs_mut().append_pair(&k, &v.to_text());
                        }
                    }
                }
                url
            }
            Some(NextPage::Url(url)) => url,
        };
        self.started = true;
        self.pages += 1;
        let body = body.as_ref().map(|b| flow_plan::encode_as(b, endpoint.body.as_ref(), &fr.ctx.plan.types));
        let answer = fr.send(call, &url, &headers, body, rec).await?;
        let Some(ty) = &endpoint.response else {
            return Ok(Some(Vec::new()));
        };
        let page = fr.decode(&answer, ty, call, rec)?;
        let records = match &endpoint.records {
            Some(path) => match page.get_path(path) {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        fr.stats.pages.fetch_add(1, Ordering::SeqCst);
        fr.ctx.events.emit(Event::Page {
            flow: fr.flow_name().to_string(),
            endpoint: endpoint.name.clone(),
            records: records.len(),
        });
        let next_url = |this: &mut Pager, text: &str, span: Span, what: &str| -> Result<Option<NextPage>, Diagnostic> {
            let next = url.join(text).map_err(|e| {
                fr.http_failure(Failure::new(codes::SHAPE, format!("the {what} is not a URL: {e}")), call, rec)
            })?;
            if next.origin() != url.origin() {
                let mut f = Failure::new(
                    codes::CROSS_ORIGIN,
                    format!(
                        "the {what} points to another host ({}); not followed",
                        next.origin().ascii_serialization()
                    ),
                );
                f.notes.push("credentials are never sent to another host, nor over plain http after https".into());
                let mut d = fr.http_failure(f, call, rec);
                d.labels.push(flow_diagnostics::Label {
                    span,
                    message: "the link is read here".into(),
                    primary: false,
                });
                return Err(d);
            }
            if !this.seen.insert(next.to_string()) {
                return Err(cycle(fr, call, span, rec, what));
            }
            Ok(Some(NextPage::Url(next)))
        };
        self.next = match &endpoint.paginate {
            None => None,
            Some(Pagination::Cursor { from, span, param, .. }) => match page.get_path(from) {
                Some(v) if !v.is_null() && !v.to_text().is_empty() && !records.is_empty() => {
                    if !self.seen.insert(v.to_text()) {
                        return Err(cycle(fr, call, *span, rec, "cursor"));
                    }
                    Some(NextPage::Params(vec![(param.clone(), v.clone())]))
                }
                _ => None,
            },
            Some(Pagination::NextUrl { from, span }) => match page.get_path(from) {
                Some(v) if !v.is_null() && !v.to_text().is_empty() => {
                    next_url(self, &v.to_text(), *span, "next-page link")?
                }
                _ => None,
            },
            Some(Pagination::LinkHeader { span }) => match answer.link.as_deref().and_then(link_next) {
                Some(target) => next_url(self, &target, *span, "Link header's next page")?,
                None => None,
            },
            Some(Pagination::Page { param, start, .. }) => {
                if records.is_empty() {
                    None
                } else {
                    let n = *start + i64::try_from(self.pages).unwrap_or(i64::MAX);
                    Some(NextPage::Params(vec![(param.clone(), Value::Int(n))]))
                }
            }
            Some(Pagination::Offset { param, limit_param, size, .. }) => {
                if (records.len() as u64) < *size {
                    None
                } else {
                    Some(NextPage::Params(offset_params(param, limit_param.as_deref(), self.pages * size, *size)))
                }
            }
        };
        // Declared stop conditions.
        if let Some(path) = &endpoint.stop.more {
            if page.get_path(path) != Some(&Value::Bool(true)) {
                self.next = None;
            }
        }
        self.records += records.len() as u64;
        if let Some(path) = &endpoint.stop.total {
            if let Some(Value::Int(total)) = page.get_path(path) {
                if i64::try_from(self.records).unwrap_or(i64::MAX) >= *total {
                    self.next = None;
                }
            }
        }
        Ok(Some(records))
    }
}

fn offset_params(param: &str, limit_param: Option<&str>, offset: u64, size: u64) -> Vec<(String, Value)> {
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let mut v = vec![(param.to_string(), int(offset))];
    if let Some(l) = limit_param {
        v.push((l.to_string(), int(size)));
    }
    v
}

/// The `rel="next"` target of a `Link` header: `<https://…?page=2>; rel="next", <…>; rel="last"`.
fn link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .is_some_and(|r| r.trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next")))
        });
        is_next.then(|| target.to_string())
    })
}

fn cycle(fr: &FlowRun, call: &EndpointCall, span: Span, rec: Option<&RecordRef>, what: &str) -> Diagnostic {
    let f = Failure::new(
        codes::PAGINATION_CYCLE,
        format!("the API returned a {what} it had returned before; paging would never end"),
    );
    let mut d = fr.http_failure(f, call, rec);
    d.labels.push(flow_diagnostics::Label { span, message: format!("the {what} is read here"), primary: false });
    d
}

#[cfg(test)]
mod tests {
    use super::link_next;

    #[test]
    fn reads_the_next_link() {
        let h =
            r#"<https://api.example.com/items?page=3>; rel="next", <https://api.example.com/items?page=9>; rel="last""#;
        assert_eq!(link_next(h).as_deref(), Some("https://api.example.com/items?page=3"));
        assert_eq!(link_next(r#"</x?p=2>; rel="prev next""#).as_deref(), Some("/x?p=2"));
        assert_eq!(link_next(r#"<https://a/x>; rel="last""#), None);
    }
}
