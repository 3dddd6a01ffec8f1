//! `flowc run`: compile, load secrets, execute, report.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use flow_runtime::{Counters, Event, Observer, RunCounts, RunOptions, Secrets};
use secrecy::SecretString;

use crate::report;

pub(crate) fn run(
    path: &Path,
    flow: Option<&str>,
    overrides: &[flow_runtime::BaseUrl],
    json: bool,
    verbose: bool,
    state: Option<std::path::PathBuf>,
    state_key: Option<&str>,
) -> miette::Result<ExitCode> {
    let Some((source, mut plan)) = super::compile(path)? else {
        return Ok(ExitCode::from(1));
    };
    if let Some(code) = super::base_url::apply(&source, &mut plan, overrides)? {
        return Ok(code);
    }
    if let Some(name) = flow {
        if plan.flow(name).is_none() {
            return Err(super::state::unknown_flow(&plan, name));
        }
    }
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut secrets = load_secrets(&plan.secrets, &base_dir)?;
    let state_key = super::state::key_secret(&plan, state_key)?.map(str::to_string);
    let state_key = match state_key.as_deref().map(|name| super::state::store_key(name, &base_dir).map(|k| (name, k))) {
        None => None,
        Some(Ok((name, (key, value)))) => {
            // Scrubbed from the run's output like a declared secret.
            secrets.insert(name, value);
            Some(key)
        }
        Some(Err(d)) => {
            report::eprint(&flow_diagnostics::render_diagnostics(
                &source.name,
                &source.text,
                &[d],
                super::stderr_color(),
            ));
            return Ok(ExitCode::from(1));
        }
    };
    // Credentials that could never work stop the run before it starts; warnings (a secret too
    // short to redact safely) are shown and the run goes on.
    let mut judged = flow_runtime::check_credentials(&plan, &secrets);
    if !judged.is_empty() {
        flow_diagnostics::sort(&mut judged);
        report::eprint(&flow_diagnostics::render_diagnostics(
            &source.name,
            &source.text,
            &judged,
            super::stderr_color(),
        ));
        if judged.iter().any(flow_diagnostics::Diagnostic::is_error) {
            return Ok(ExitCode::from(1));
        }
    }
    let options = RunOptions { flow: flow.map(str::to_string), secrets, base_dir, state, state_key };
    let progress = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let printer = Arc::new(Printer::new(json, verbose, progress));
    let observer: Arc<dyn Observer> = printer.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    let stop = flow_runtime::StopToken::default();
    let stopped_by = Arc::new(std::sync::atomic::AtomicU8::new(0));
    // Listened to before the run starts, so that no signal during it takes the default action.
    let listening = {
        let _entered = runtime.enter();
        Signals::listen()
    };
    let signals = runtime.spawn(on_signals(listening, stop.clone(), stopped_by.clone(), printer.clone()));
    let result = runtime.block_on(flow_runtime::run_until(&plan, options, observer, stop));
    signals.abort();
    if let Some(bar) = &printer.progress {
        bar.finish_and_clear();
    }
    if !result.diagnostics.is_empty() {
        report::eprint(&flow_diagnostics::render_diagnostics(
            &source.name,
            &source.text,
            &result.diagnostics,
            super::stderr_color(),
        ));
    }
    if json {
        let summary = serde_json::json!({ "event": "summary", "ok": result.ok(), "flows": result.flows });
        report::print(&format!("{summary}\n"));
    } else {
        for f in &result.flows {
            report::eprint(&summary_line(f));
        }
    }
    // Stopped by a signal: 128 + its number (130 SIGINT, 143 SIGTERM), however the run went.
    Ok(match stopped_by.load(std::sync::atomic::Ordering::SeqCst) {
        0 if result.ok() => ExitCode::SUCCESS,
        0 => ExitCode::from(1),
        code => ExitCode::from(code),
    })
}

/// A flow's line of the human summary: what became of its records, its pages and requests.
fn summary_line(f: &flow_runtime::FlowReport) -> String {
    let statuses: Vec<String> = f.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
    let mut dead =
        if f.dead_lettered > 0 { format!(", {} to the dead letter file", f.dead_lettered) } else { String::new() };
    let retries = match f.retries {
        0 => String::new(),
        1 => ", 1 retry".to_string(),
        n => format!(", {n} retries"),
    };
    if f.records_not_processed > 0 {
        dead.push_str(&format!(", {} not processed (the flow stopped)", f.records_not_processed));
    }
    if let Some(n) = f.may_have_resent {
        dead.push_str(&format!(", {n} may have been sent twice (started by the run before, past its last checkpoint)"));
    }
    let paging = if f.paging.is_empty() {
        String::new()
    } else {
        let stops: Vec<String> = f
            .paging
            .iter()
            .map(|p| match p.times {
                1 => format!("{} stopped: {}", p.endpoint, p.reason),
                n => format!("{} stopped: {} ×{n}", p.endpoint, p.reason),
            })
            .collect();
        format!(" ({})", stops.join("; "))
    };
    let outcome = if f.stopped && f.ok {
        "stopped"
    } else if f.ok {
        "ok"
    } else {
        "FAILED"
    };
    format!(
            "flow {}: {} — {} record{} read, {} delivered, {} filtered out, {} failed{dead} · {} page{}{paging}, {} request{} ({}){retries} · {:.2}s",
            f.name,
            outcome,
            f.records_in,
            super::plural(f.records_in as usize),
            f.records_ok,
            f.records_filtered,
            f.records_failed,
            f.pages,
            super::plural(f.pages as usize),
            f.requests,
            super::plural(f.requests as usize),
            if statuses.is_empty() { "none".to_string() } else { statuses.join(" ") },
            f.elapsed_ms as f64 / 1000.0,
        )
}

/// SIGINT and SIGTERM while the run goes: the first stops it gracefully (nothing new is read,
/// what is in flight finishes, the state is checkpointed) and sets the exit code, 128 + the
/// signal's number; a second one ends the process at once, with that code. Exiting there is as
/// safe as a kill: every checkpoint is one transaction, so the store holds the last one
/// committed, and the next run takes the lease of a process that is gone at once.
async fn on_signals(
    signals: Option<Signals>,
    stop: flow_runtime::StopToken,
    code: Arc<std::sync::atomic::AtomicU8>,
    printer: Arc<Printer>,
) {
    let Some(mut signals) = signals else { return };
    loop {
        let (name, number) = signals.next().await;
        if code.swap(number, std::sync::atomic::Ordering::SeqCst) != 0 {
            printer.line(&format!("{name} again: aborting at once (the state keeps its last checkpoint)"));
            std::process::exit(i32::from(number));
        }
        // Stopped first, then said: once the line is out, nothing new starts.
        stop.stop();
        printer.line(&format!(
            "{name}: stopping: no new records are read, the records in flight finish and the state is checkpointed (a second signal aborts at once)"
        ));
    }
}

/// The signals that stop a run, listened to from the start of the run (so none is missed
/// between two).
#[cfg(unix)]
pub(super) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    pub(super) fn listen() -> Option<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Signals { int: signal(SignalKind::interrupt()).ok()?, term: signal(SignalKind::terminate()).ok()? })
    }

    /// The next signal's name and exit code (128 + its number).
    pub(super) async fn next(&mut self) -> (&'static str, u8) {
        tokio::select! {
            _ = self.int.recv() => ("SIGINT", 130),
            _ = self.term.recv() => ("SIGTERM", 143),
        }
    }
}

#[cfg(not(unix))]
pub(super) struct Signals;

#[cfg(not(unix))]
impl Signals {
    pub(super) fn listen() -> Option<Signals> {
        Some(Signals)
    }

    pub(super) async fn next(&mut self) -> (&'static str, u8) {
        let _ = tokio::signal::ctrl_c().await;
        ("Ctrl-C", 130)
    }
}

/// Secrets from the environment, then from a `.env` file beside the `.flow` file. The
/// environment wins, so CI can override a developer's `.env`.
pub(crate) fn load_secrets(names: &[String], dir: &Path) -> miette::Result<Secrets> {
    let mut secrets = Secrets::new();
    for (name, value) in secret_values(names, dir)? {
        secrets.insert(name, value);
    }
    Ok(secrets)
}

/// The values of the named secrets that have one, by the same rule as [`load_secrets`].
pub(crate) fn secret_values(names: &[String], dir: &Path) -> miette::Result<Vec<(String, SecretString)>> {
    let mut file_values = std::collections::HashMap::new();
    let env_path = dir.join(".env");
    if env_path.exists() {
        let file =
            std::fs::File::open(&env_path).map_err(|e| miette::miette!("cannot read {}: {e}", env_path.display()))?;
        let lines = LineCounter::new(file);
        let read = lines.read.clone();
        for item in dotenvy::Iter::new(lines) {
            let (k, v) = item.map_err(|e| dotenv_error(&env_path, &e, read.get()))?;
            file_values.insert(k, v);
        }
    }
    let mut values = Vec::new();
    for name in names {
        let value = std::env::var(name).ok().or_else(|| file_values.remove(name));
        if let Some(v) = value {
            values.push((name.clone(), SecretString::from(v)));
        }
    }
    Ok(values)
}

/// What a `.env` file that cannot be read says: the file and the line, never the line's text
/// (dotenvy's own message quotes the line, and with it the value).
fn dotenv_error(path: &Path, e: &dotenvy::Error, lines_read: usize) -> miette::Report {
    match e {
        dotenvy::Error::LineParse(entry, _) => {
            // The entry that failed ends at the last line read, and spans as many lines as it has.
            let line = (lines_read + 1).saturating_sub(entry.lines().count().max(1));
            miette::miette!(
                "{}: line {line} is not `NAME=value` (the line is not shown, as it may hold a secret)",
                path.display()
            )
        }
        dotenvy::Error::Io(io) => miette::miette!("cannot read {}: {io}", path.display()),
        other => miette::miette!("{}: {other}", path.display()),
    }
}

/// Hands a file to the `.env` parser one line at a time, counting the lines. The parser reads
/// through a `BufReader`, which asks for more only when it has used up what it holds, so when it
/// reports a malformed entry, the lines handed out so far end with that entry.
struct LineCounter<R> {
    inner: std::io::BufReader<R>,
    read: std::rc::Rc<std::cell::Cell<usize>>,
}

impl<R: std::io::Read> LineCounter<R> {
    fn new(inner: R) -> LineCounter<R> {
        LineCounter { inner: std::io::BufReader::new(inner), read: std::rc::Rc::default() }
    }
}

impl<R: std::io::Read> std::io::Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        let available = self.inner.fill_buf()?;
        let line_end = available.iter().position(|b| *b == b'\n').map_or(available.len(), |i| i + 1);
        let n = line_end.min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        let ends_line = buf[..n].ends_with(b"\n");
        self.inner.consume(n);
        // A line is counted when its end is handed out: its newline, or the end of the file.
        if ends_line || (n > 0 && self.inner.fill_buf()?.is_empty()) {
            self.read.set(self.read.get() + 1);
        }
        Ok(n)
    }
}

struct Printer {
    json: bool,
    verbose: bool,
    /// A live status line, on a terminal only.
    progress: Option<indicatif::ProgressBar>,
    /// What the status line shows: the runtime's own counters, never a count of its own.
    tally: Mutex<Tally>,
    started: std::time::Instant,
}

/// The counters of the flows run so far and of the one running.
#[derive(Default)]
struct Tally {
    finished: RunCounts,
    running: Option<Arc<Counters>>,
}

impl Tally {
    fn now(&self) -> RunCounts {
        let mut total = self.finished;
        if let Some(c) = &self.running {
            add(&mut total, &c.snapshot());
        }
        total
    }
}

/// `into += more`, counter by counter.
fn add(into: &mut RunCounts, more: &RunCounts) {
    let RunCounts { read, delivered, filtered, failed, dead_lettered, not_processed, pages, requests, retries, .. } =
        more;
    into.read += read;
    into.delivered += delivered;
    into.filtered += filtered;
    into.failed += failed;
    into.dead_lettered += dead_lettered;
    into.not_processed += not_processed;
    into.pages += pages;
    into.requests += requests;
    into.retries += retries;
}

impl Printer {
    fn new(json: bool, verbose: bool, progress: Option<indicatif::ProgressBar>) -> Printer {
        Printer { json, verbose, progress, tally: Mutex::default(), started: std::time::Instant::now() }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Prints a line above the status line (or plainly without one).
    fn line(&self, text: &str) {
        match &self.progress {
            Some(bar) => bar.suspend(|| report::eprint(text)),
            None => report::eprint(text),
        }
    }

    fn update(&self) {
        let Some(bar) = &self.progress else { return };
        bar.set_message(self.status());
    }

    /// The status line's text.
    fn status(&self) -> String {
        let c = self.tally().now();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        format!(
            "{} pages · {} records read · {} requests ({:.0}/s) · {} retries · {} failed",
            c.pages,
            c.read,
            c.requests,
            c.requests as f64 / secs,
            c.retries,
            c.failed,
        )
    }
}

impl Observer for Printer {
    fn counters(&self, counters: Arc<Counters>) {
        self.tally().running = Some(counters);
    }

    fn event(&self, event: &Event) {
        if let Event::FlowFinished { .. } = event {
            let mut tally = self.tally();
            if let Some(done) = tally.running.take() {
                add(&mut tally.finished, &done.snapshot());
            }
        }
        self.update();
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                report::print(&format!("{line}\n"));
            }
            return;
        }
        match event {
            Event::Request { method, url, status, latency_ms, .. } if self.verbose => {
                let status = status.map_or_else(|| "failed".to_string(), |s| s.to_string());
                self.line(&format!("  {method} {url} → {status} ({latency_ms} ms)"));
            }
            Event::Retry { url, attempt, wait_ms, reason, .. } if self.verbose => {
                self.line(&format!("  retry {attempt} of {url} in {wait_ms} ms: {reason}"));
            }
            Event::RecordFailed { message, dead_lettered: true, .. } => {
                self.line(&format!("  record kept in the dead letter file: {message}"));
            }
            Event::Note { flow, message } => self.line(&format!("flow {flow}: {message}")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `file` (from tests/data/run) against the fake API with `faults`, observed by a
    /// printer without a terminal; the printer and the report.
    fn observed(file: &str, faults: flow_fakeapi::Faults) -> (Arc<Printer>, flow_runtime::Report) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("tests/data/run").join(file)).expect("read the flow");
        let mut plan = flow_check::check_source(&text).model.expect("the flow checks").into_plan();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async {
            let api = flow_fakeapi::FakeApi::start(flow_fakeapi::Config::default(), 0).await.expect("the fake API");
            api.set_faults(faults);
            let url = |api_name: &str, path: &str| flow_runtime::BaseUrl {
                api: api_name.to_string(),
                url: url::Url::parse(&format!("{}/{path}", api.url())).expect("url"),
            };
            flow_runtime::override_base_urls(&mut plan, &[url("shop", "shop"), url("crm", "crm")]).expect("override");
            let mut secrets = Secrets::new();
            secrets.insert("SHOP_TOKEN", SecretString::from("demo-shop-token".to_string()));
            secrets.insert("CRM_API_KEY", SecretString::from("demo-crm-key".to_string()));
            let printer = Arc::new(Printer::new(false, false, None));
            let options = RunOptions { flow: None, secrets, base_dir: root.clone(), state: None, state_key: None };
            let report = flow_runtime::run(&plan, options, printer.clone()).await;
            (printer, report)
        })
    }

    /// What the summary says, in the status line's words.
    fn summary_numbers(report: &flow_runtime::Report) -> String {
        let sum = |f: fn(&flow_runtime::FlowReport) -> u64| report.flows.iter().map(f).sum::<u64>();
        format!(
            "{} pages · {} records read · {} requests · {} retries · {} failed",
            sum(|f| f.pages),
            sum(|f| f.records_in),
            sum(|f| f.requests),
            sum(|f| f.retries),
            sum(|f| f.records_failed)
        )
    }

    /// The status line without its rate (the one number that depends on the clock).
    fn without_rate(status: &str) -> String {
        match (status.find(" ("), status.find("/s)")) {
            (Some(a), Some(b)) => format!("{}{}", &status[..a], &status[b + 3..]),
            _ => status.to_string(),
        }
    }

    /// Retried requests and a refused batch (one failure, a hundred records failed): the status
    /// line counts what the summary counts, from the same counters.
    #[test]
    fn the_status_line_says_what_the_summary_says() {
        for (file, faults) in [
            ("retries.flow", flow_fakeapi::Faults { shop_flaky: 2, ..Default::default() }),
            (
                "batched_fail_fast.flow",
                flow_fakeapi::Faults { reject_contacts_ending_in: Some(0), ..Default::default() },
            ),
        ] {
            let (printer, report) = observed(file, faults);
            assert!(report.flows.iter().all(|f| f.retries > 0 || f.records_failed > 0), "{file}: {report:?}");
            assert_eq!(without_rate(&printer.status()), summary_numbers(&report), "{file}");
        }
    }
}
