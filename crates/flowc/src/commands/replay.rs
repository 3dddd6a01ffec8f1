//! `flowc replay`: the dead letters kept in the state store sent through their flows again
//! (docs/state.md, "Replay"); `--dry-run` lists them and sends nothing.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use flow_state::{DeadLetter, RunId, StateStore};

use super::state::{store_error, StoreOptions, Target};
use crate::report;

/// What `flowc replay` was asked.
pub(crate) struct ReplayArgs<'a> {
    pub flow: Option<&'a str>,
    pub run: Option<i64>,
    pub dry_run: bool,
    pub overrides: &'a [flow_runtime::BaseUrl],
    /// `--from FILE`: the dead letters of this NDJSON file, not the store's.
    pub from: Option<&'a Path>,
}

pub(crate) fn replay(file: &Path, args: &ReplayArgs<'_>, state: StoreOptions<'_>) -> miette::Result<ExitCode> {
    if let Some(from) = args.from {
        return replay_file(file, from, args, state);
    }
    let mut target = match Target::new(file, args.flow, state)? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    // Flows without state keep their dead letters in their file only: said, with the way to
    // replay them.
    let hints = file_hints(&target, args.flow);
    let store = match target.open_existing() {
        Ok(store) => store,
        Err(mut d) => {
            for h in hints {
                d = d.note(h);
            }
            return Ok(target.fail(d));
        }
    };
    for h in &hints {
        report::eprint(&format!("note: {h}"));
    }
    if let Some(code) = super::base_url::apply(&target.source, &mut target.plan, args.overrides)? {
        return Ok(code);
    }
    if args.dry_run {
        return dry_run(&target, &store, args);
    }
    let mut secrets = super::run::load_secrets(&target.plan.secrets, target.base_dir())?;
    // The store's key secret is scrubbed from the output like a declared one (the store is open,
    // so it has a value).
    if let Some(name) = target.key_secret.as_deref() {
        if let Ok((_, value)) = super::state::store_key(name, target.base_dir()) {
            secrets.insert(name, value);
        }
    }
    let stop = flow_runtime::StopToken::default();
    let options = flow_runtime::ReplayOptions {
        flow: args.flow.map(str::to_string),
        run: args.run,
        secrets,
        base_dir: target.base_dir().to_path_buf(),
        stop: stop.clone(),
    };
    let runtime = runtime()?;
    let stopped_by = Stopping::listen(&runtime, stop);
    let result =
        runtime.block_on(flow_runtime::replay(&target.plan, Box::new(store), options, Arc::new(flow_runtime::Quiet)));
    let nothing = format!("no dead letters to replay in {}", target.store.display());
    let code = print_result(&target, &result, &nothing, "the store");
    Ok(exit_code(result.stopped, stopped_by.code(), code))
}

/// The replay's outcome on stderr: its diagnostics, one line per flow, one per dead letter that
/// failed again; exit code 1 when any failed again (or anything stopped a flow's replay).
fn print_result(target: &Target, result: &flow_runtime::ReplayReport, nothing: &str, place: &str) -> ExitCode {
    if !result.diagnostics.is_empty() {
        report::eprint(&flow_diagnostics::render_diagnostics(
            &target.source.name,
            &target.source.text,
            &result.diagnostics,
            super::stderr_color(),
        ));
    }
    if result.flows.is_empty() && result.diagnostics.is_empty() {
        report::eprint(nothing);
    }
    for f in &result.flows {
        for line in flow_lines(f, place) {
            report::eprint(&line);
        }
    }
    if result.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The exit code of a replay: 128 + the signal's number (130, 143) when a signal stopped it
/// with dead letters left untouched (`report.stopped`); otherwise, as usual (a signal during
/// the very last record stops nothing: that record's outcome is kept, and the replay succeeded
/// or failed as it did).
fn exit_code(stopped: bool, signalled: Option<ExitCode>, code: ExitCode) -> ExitCode {
    match signalled {
        Some(signal) if stopped => signal,
        _ => code,
    }
}

/// One flow's lines of the replay's summary.
fn flow_lines(f: &flow_runtime::FlowReplay, place: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(note) = &f.took_over {
        lines.push(format!("flow {}: {note}", f.flow));
    }
    if f.stopped && f.replayed == 0 {
        let untouched = format!(
            "{} dead letter{} left untouched (kept as they were)",
            f.untouched,
            super::plural(f.untouched as usize)
        );
        lines.push(match f.run {
            // Its lease was taken and its run started, but the signal came before its first record.
            Some(run) => {
                format!("flow {}: stopped before its first dead letter was sent — {untouched} · run {run}", f.flow)
            }
            None => format!("flow {}: stopped before its turn — {untouched}", f.flow),
        });
        return lines;
    }
    {
        let mut line = format!(
            "flow {}: {}{} dead letter{} replayed — {} delivered, {} filtered out (these left {place}), {} failed again (kept)",
            f.flow,
            if f.stopped { "stopped — " } else { "" },
            f.replayed,
            super::plural(f.replayed as usize),
            f.delivered,
            f.filtered,
            f.failed.len()
        );
        if f.stopped {
            line.push_str(&format!(", {} left untouched (the replay was stopped)", f.untouched));
        }
        line.push_str(&format!(" · {} request{}", f.requests, super::plural(f.requests as usize)));
        if let Some(run) = f.run {
            line.push_str(&format!(" · run {run}"));
        }
        lines.push(line);
        for fail in &f.failed {
            lines.push(format!(
                "  dead letter {}, record #{} of `{}` (attempt {}): {}",
                fail.id, fail.record_index, fail.source, fail.attempts, fail.error
            ));
        }
    }
    lines
}

/// `flowc replay FILE --from DEAD_LETTERS`: a dead letter file's records through their flows
/// again, the file rewritten as each succeeds or fails again; no store is opened.
fn replay_file(file: &Path, from: &Path, args: &ReplayArgs<'_>, state: StoreOptions<'_>) -> miette::Result<ExitCode> {
    let mut target = match Target::new(file, args.flow, state)? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    if let Some(code) = super::base_url::apply(&target.source, &mut target.plan, args.overrides)? {
        return Ok(code);
    }
    if args.dry_run {
        return dry_run_file(&target, from, args);
    }
    let secrets = super::run::load_secrets(&target.plan.secrets, target.base_dir())?;
    let stop = flow_runtime::StopToken::default();
    let options = flow_runtime::ReplayOptions {
        flow: args.flow.map(str::to_string),
        run: None,
        secrets,
        base_dir: target.base_dir().to_path_buf(),
        stop: stop.clone(),
    };
    let runtime = runtime()?;
    let stopped_by = Stopping::listen(&runtime, stop);
    let result =
        runtime.block_on(flow_runtime::replay_file(&target.plan, from, options, Arc::new(flow_runtime::Quiet)));
    let nothing = format!("no dead letters to replay in {}", from.display());
    let code = print_result(&target, &result, &nothing, "the file");
    Ok(exit_code(result.stopped, stopped_by.code(), code))
}

/// The dead letters of a file a replay would send, as [`dry_run`] lists the store's.
fn dry_run_file(target: &Target, from: &Path, args: &ReplayArgs<'_>) -> miette::Result<ExitCode> {
    let text = match std::fs::read_to_string(from) {
        Ok(t) => t,
        Err(e) => {
            let d = flow_diagnostics::Diagnostic::new(
                flow_diagnostics::codes::DEAD_LETTER_FILE,
                format!("the dead letter file {} cannot be read: {e}", from.display()),
            );
            return Ok(target.fail(d));
        }
    };
    let mut out = String::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let Some(l) = flow_runtime::read_dead_letter_line(line, i as i64 + 1) else { continue };
        if args.flow.is_some_and(|f| f != l.flow) {
            continue;
        }
        count += 1;
        let head = format!("line {} · flow {}{}", i + 1, l.flow, file_flow_note(target, &l.flow));
        out.push_str(&describe_as(target, &head, &l));
    }
    if count == 0 {
        report::eprint(&format!("no dead letters to replay in {}", from.display()));
        return Ok(ExitCode::SUCCESS);
    }
    report::print(&out);
    report::eprint(&format!(
        "{count} dead letter{} would be replayed (dry run: nothing was sent or changed)",
        super::plural(count)
    ));
    Ok(ExitCode::SUCCESS)
}

/// For each flow (of `--flow`, or all) that declares no `state` and dead-letters to a file: where
/// its dead letters are, and the `--from` that replays them.
fn file_hints(target: &Target, only: Option<&str>) -> Vec<String> {
    target
        .plan
        .flows
        .iter()
        .filter(|f| f.state.is_none() && only.is_none_or(|o| o == f.name))
        .filter_map(|f| match &f.on_error {
            flow_plan::OnError::DeadLetter { path } => Some(format!(
                "flow `{}` declares no `state`: its dead letters are in its dead letter file only; replay them with `--from {}`",
                f.name,
                target.base_dir().join(path).display()
            )),
            flow_plan::OnError::Fail => None,
        })
        .collect()
}

/// The dead letters a replay would send, one paragraph each on stdout; nothing is sent or changed.
fn dry_run(target: &Target, store: &flow_state::SqliteStore, args: &ReplayArgs<'_>) -> miette::Result<ExitCode> {
    let letters = match store.dead_letters(args.flow, args.run.map(RunId)) {
        Ok(l) => l,
        Err(e) => return Ok(target.fail(store_error(e))),
    };
    if letters.is_empty() {
        report::eprint(&format!("no dead letters to replay in {}", target.store.display()));
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for l in &letters {
        out.push_str(&describe(target, l));
    }
    report::print(&out);
    report::eprint(&format!(
        "{} dead letter{} would be replayed (dry run: nothing was sent or changed)",
        letters.len(),
        super::plural(letters.len())
    ));
    Ok(ExitCode::SUCCESS)
}

/// `dead letter ID · flow F · run R · record #N of `SOURCE` · attempts A · CODE: message`, then
/// the record as kept (secrets were scrubbed from it before it was stored), its `sensitive`
/// fields masked (an encrypted store keeps their values).
fn describe(target: &Target, l: &DeadLetter) -> String {
    let run = l.run.map_or_else(|| "-".to_string(), |r| r.0.to_string());
    let known = if target.plan.flow(&l.flow).is_some() { "" } else { " (not a flow of the file)" };
    describe_as(target, &format!("dead letter {} · flow {}{known} · run {run}", l.id.0, l.flow), l)
}

/// Why a `--from` dry run would not send a line of this flow, if it would not.
fn file_flow_note(target: &Target, flow: &str) -> &'static str {
    match target.plan.flow(flow) {
        None => " (not a flow of the file: not sent)",
        Some(f) if f.state.is_some() => " (it declares `state`: replayed from the store, not sent with --from)",
        Some(_) => "",
    }
}

/// `HEAD · record #N of `SOURCE` · attempts A · CODE: message`, then the record, masked.
fn describe_as(target: &Target, head: &str, l: &DeadLetter) -> String {
    format!(
        "{head} · record #{} of `{}` · attempts {} · {}: {}\n  {}\n",
        l.record_index,
        l.source,
        l.attempts,
        l.error.code,
        l.error.message,
        flow_runtime::mask_kept_record(&target.plan, &l.source, &l.record)
    )
}

/// SIGINT and SIGTERM during a replay, as during a run (`run.rs`, `on_signals`): the first
/// stops it gracefully — no new dead letter is sent, the one in flight finishes and its outcome
/// is committed, the summary is printed — and the exit code is 128 + the signal's number; a
/// second one ends the process at once, with that code. That is as safe as a kill: each outcome
/// is committed before the next record is sent.
struct Stopping(Arc<std::sync::atomic::AtomicU8>);

impl Stopping {
    fn listen(runtime: &tokio::runtime::Runtime, stop: flow_runtime::StopToken) -> Stopping {
        let code = Arc::new(std::sync::atomic::AtomicU8::new(0));
        // Listened to before the replay starts, so that no signal during it takes the default action.
        let signals = {
            let _entered = runtime.enter();
            super::run::Signals::listen()
        };
        let by = code.clone();
        runtime.spawn(async move {
            let Some(mut signals) = signals else { return };
            loop {
                let (name, number) = signals.next().await;
                if by.swap(number, std::sync::atomic::Ordering::SeqCst) != 0 {
                    report::eprint(&format!(
                        "{name} again: aborting at once (every outcome so far is kept; the dead letter in flight stays as it was)"
                    ));
                    std::process::exit(i32::from(number));
                }
                // Stopped first, then said: once the line is out, no new dead letter is sent.
                stop.stop();
                report::eprint(&format!(
                    "{name}: stopping: no new dead letters are sent, the one in flight finishes and its outcome is kept (a second signal aborts at once)"
                ));
            }
        });
        Stopping(code)
    }

    /// 128 + the number of the signal that stopped the replay, if one did.
    fn code(&self) -> Option<ExitCode> {
        match self.0.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            n => Some(ExitCode::from(n)),
        }
    }
}

/// The async runtime a replay sends its records on.
fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_stopped_after_its_lease_was_taken_but_before_its_first_record_names_its_run() {
        let stopped = |run| flow_runtime::FlowReplay {
            flow: "f".into(),
            run,
            untouched: 2,
            stopped: true,
            ..flow_runtime::FlowReplay::default()
        };
        assert_eq!(
            flow_lines(&stopped(Some(7)), "the store"),
            ["flow f: stopped before its first dead letter was sent — 2 dead letters left untouched (kept as they were) · run 7"]
        );
        assert_eq!(
            flow_lines(&stopped(None), "the store"),
            ["flow f: stopped before its turn — 2 dead letters left untouched (kept as they were)"]
        );
    }

    #[test]
    fn the_exit_code_is_the_signals_only_when_something_was_left_untouched() {
        let signal = Some(ExitCode::from(130));
        assert_eq!(exit_code(true, signal, ExitCode::SUCCESS), ExitCode::from(130));
        assert_eq!(exit_code(false, signal, ExitCode::SUCCESS), ExitCode::SUCCESS);
        assert_eq!(exit_code(false, signal, ExitCode::from(1)), ExitCode::from(1));
        assert_eq!(exit_code(true, None, ExitCode::from(1)), ExitCode::from(1));
    }
}
