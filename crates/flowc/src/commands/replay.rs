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
}

pub(crate) fn replay(file: &Path, args: &ReplayArgs<'_>, state: StoreOptions<'_>) -> miette::Result<ExitCode> {
    let (mut target, store) = match Target::with_existing_store(file, args.flow, state)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    if let Some(code) = super::base_url::apply(&target.source, &mut target.plan, args.overrides)? {
        return Ok(code);
    }
    if args.dry_run {
        return dry_run(&target, &store, args);
    }
    let mut secrets = super::run::load_secrets(&target.plan.secrets, target.base_dir())?;
    // The store's key secret is scrubbed from the output like a declared one (the store is open,
    // so it has a value).
    if let Some(name) = state.key {
        if let Ok((_, value)) = super::state::store_key(name, target.base_dir()) {
            secrets.insert(name, value);
        }
    }
    let options = flow_runtime::ReplayOptions {
        flow: args.flow.map(str::to_string),
        run: args.run,
        secrets,
        base_dir: target.base_dir().to_path_buf(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    let result =
        runtime.block_on(flow_runtime::replay(&target.plan, Box::new(store), options, Arc::new(flow_runtime::Quiet)));
    if !result.diagnostics.is_empty() {
        report::eprint(&flow_diagnostics::render_diagnostics(
            &target.source.name,
            &target.source.text,
            &result.diagnostics,
            super::stderr_color(),
        ));
    }
    if result.flows.is_empty() && result.diagnostics.is_empty() {
        report::eprint(&format!("no dead letters to replay in {}", target.store.display()));
    }
    for f in &result.flows {
        let mut line = format!(
            "flow {}: {} dead letter{} replayed — {} delivered, {} filtered out (these left the store), {} failed again (kept)",
            f.flow,
            f.replayed,
            super::plural(f.replayed as usize),
            f.delivered,
            f.filtered,
            f.failed.len()
        );
        line.push_str(&format!(" · {} request{}", f.requests, super::plural(f.requests as usize)));
        if let Some(run) = f.run {
            line.push_str(&format!(" · run {run}"));
        }
        report::eprint(&line);
        for fail in &f.failed {
            report::eprint(&format!(
                "  dead letter {}, record #{} of `{}` (attempt {}): {}",
                fail.id, fail.record_index, fail.source, fail.attempts, fail.error
            ));
        }
    }
    Ok(if result.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
    format!(
        "dead letter {} · flow {}{known} · run {run} · record #{} of `{}` · attempts {} · {}: {}\n  {}\n",
        l.id.0,
        l.flow,
        l.record_index,
        l.source,
        l.attempts,
        l.error.code,
        l.error.message,
        flow_runtime::mask_kept_record(&target.plan, &l.source, &l.record)
    )
}
