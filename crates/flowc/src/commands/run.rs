//! `flowc run`: compile, load secrets, execute, report.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flow_runtime::{Event, Observer, RunOptions, Secrets};
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
            let names: Vec<&str> = plan.flows.iter().map(|f| f.name.as_str()).collect();
            return Err(miette::miette!(
                "--flow {name}: the file has no flow of that name (it has: {})",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ));
        }
    }
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut secrets = load_secrets(&plan.secrets, &base_dir)?;
    let state_key = match state_key.map(|name| super::state::store_key(name, &base_dir).map(|k| (name, k))) {
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
    let printer =
        Arc::new(Printer { json, verbose, progress, counts: Counts::default(), started: std::time::Instant::now() });
    let observer: Arc<dyn Observer> = printer.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    let result = runtime.block_on(flow_runtime::run(&plan, options, observer));
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
            let statuses: Vec<String> = f.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
            let mut dead = if f.dead_lettered > 0 {
                format!(", {} to the dead letter file", f.dead_lettered)
            } else {
                String::new()
            };
            let retries = match f.retries {
                0 => String::new(),
                1 => ", 1 retry".to_string(),
                n => format!(", {n} retries"),
            };
            if f.records_not_processed > 0 {
                dead.push_str(&format!(", {} not processed (the flow stopped)", f.records_not_processed));
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
            report::eprint(&format!(
                "flow {}: {} — {} record{} read, {} delivered, {} filtered out, {} failed{dead} · {} page{}{paging}, {} request{} ({}){retries} · {:.2}s",
                f.name,
                if f.ok { "ok" } else { "FAILED" },
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
            ));
        }
    }
    Ok(if result.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
    counts: Counts,
    started: std::time::Instant,
}

#[derive(Default)]
struct Counts {
    pages: AtomicU64,
    records: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
}

impl Printer {
    /// Prints a line above the status line (or plainly without one).
    fn line(&self, text: &str) {
        match &self.progress {
            Some(bar) => bar.suspend(|| report::eprint(text)),
            None => report::eprint(text),
        }
    }

    fn update(&self) {
        let Some(bar) = &self.progress else { return };
        let c = &self.counts;
        let requests = c.requests.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "{} pages · {} records read · {} requests ({:.0}/s) · {} retries · {} failed",
            c.pages.load(Ordering::Relaxed),
            c.records.load(Ordering::Relaxed),
            requests,
            requests as f64 / secs,
            c.retries.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed),
        ));
    }
}

impl Observer for Printer {
    fn event(&self, event: &Event) {
        match event {
            Event::Page { records, .. } => {
                self.counts.pages.fetch_add(1, Ordering::Relaxed);
                self.counts.records.fetch_add(*records as u64, Ordering::Relaxed);
            }
            Event::Request { .. } => {
                self.counts.requests.fetch_add(1, Ordering::Relaxed);
            }
            Event::Retry { .. } => {
                self.counts.retries.fetch_add(1, Ordering::Relaxed);
            }
            Event::RecordFailed { .. } => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
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
