//! `flowc state show|set|reset`: a flow's durable state, inspected and changed explicitly; and
//! what `runs` and `replay` share with it: where the store is, how it is opened, how its
//! failures are reported (R0020 for a store that is not there; R0014 and R0015, as for a run).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use flow_diagnostics::{codes, Diagnostic};
use flow_plan::Plan;
use flow_state::{Cursor, FlowState, PageAt, SqliteStore, StateError, StateStore, StoreKey};

use secrecy::ExposeSecret;

use super::{run, Source};
use crate::report;

/// The store's file name when `--state` does not give one: beside the `.flow` file, as for `flowc run`.
pub(crate) const DEFAULT_STORE: &str = flow_runtime::DEFAULT_STATE_FILE;

/// How long `state set` and `state reset` hold a flow's lease (they release it when done).
const COMMAND_LEASE: Duration = Duration::from_secs(60);

/// `--state PATH`, or the default beside `file`.
pub(crate) fn store_path(file: &Path, explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None => file.parent().map(Path::to_path_buf).unwrap_or_default().join(DEFAULT_STORE),
    }
}

/// Where the store is and how it is opened: `--state PATH`, `--state-key SECRET_NAME`.
#[derive(Clone, Copy, Default)]
pub(crate) struct StoreOptions<'a> {
    pub state: Option<&'a Path>,
    /// The declared secret whose value the store's encryption key is derived from.
    pub key: Option<&'a str>,
}

/// What the commands on state share: the file, compiled, where its store is, and its key's secret.
pub(crate) struct Target {
    pub source: Source,
    pub plan: Plan,
    pub store: PathBuf,
    pub(crate) key_secret: Option<String>,
    base_dir: PathBuf,
}

impl Target {
    /// Compiles `file` (its errors are printed: `Err(exit code)`); an unknown `--flow` is a usage error.
    pub(crate) fn new(
        file: &Path,
        flow: Option<&str>,
        opts: StoreOptions<'_>,
    ) -> miette::Result<Result<Target, ExitCode>> {
        let Some((source, plan)) = super::compile(file)? else {
            return Ok(Err(ExitCode::from(1)));
        };
        if let Some(name) = flow {
            if plan.flow(name).is_none() {
                return Err(unknown_flow(&plan, name));
            }
        }
        let key_secret = key_secret(&plan, opts.key)?.map(str::to_string);
        Ok(Ok(Target {
            source,
            plan,
            store: store_path(file, opts.state),
            key_secret,
            base_dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        }))
    }

    /// The `.flow` file's folder (where `.env` and dead letter files are).
    pub(crate) fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Prints a failure against the file; exit code 1.
    pub(crate) fn fail(&self, d: Diagnostic) -> ExitCode {
        report::eprint(&flow_diagnostics::render_diagnostics(
            &self.source.name,
            &self.source.text,
            &[d],
            super::stderr_color(),
        ));
        ExitCode::from(1)
    }

    /// [`Target::new`], then the store that must already exist (`state show`, `state reset`,
    /// `runs`): `Err(exit code)` once what went wrong is printed.
    pub(crate) fn with_existing_store(
        file: &Path,
        flow: Option<&str>,
        opts: StoreOptions<'_>,
    ) -> miette::Result<Result<(Target, SqliteStore), ExitCode>> {
        let target = match Target::new(file, flow, opts)? {
            Ok(t) => t,
            Err(code) => return Ok(Err(code)),
        };
        Ok(match target.open_existing() {
            Ok(store) => Ok((target, store)),
            Err(d) => Err(target.fail(d)),
        })
    }

    /// Opens the store, which must exist: a missing one is R0020, never created by a command
    /// that only reads or forgets.
    pub(crate) fn open_existing(&self) -> Result<SqliteStore, Diagnostic> {
        match std::fs::metadata(&self.store) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Diagnostic::new(
                codes::NO_STATE_STORE,
                format!("there is no state store at {}", self.store.display()),
            )
            .note(format!("no flow of {} has run with state there yet; a run with state creates it", self.source.name))
            .help("give the store's path with `--state PATH` if it is elsewhere")),
            _ => self.open(),
        }
    }

    /// Opens the store, creating it when it does not exist.
    pub(crate) fn open(&self) -> Result<SqliteStore, Diagnostic> {
        let key = self.key()?;
        SqliteStore::open(&self.store, key.as_ref()).map(|o| o.store).map_err(|e| {
            let encrypted = matches!(e, StateError::KeyRequired { .. });
            let d = store_error(e);
            if encrypted {
                d.help("give the secret its key is derived from: `store_key = SECRET` in a flow's `state`, or `--state-key SECRET_NAME`")
            } else {
                d
            }
        })
    }

    /// The store's key, derived from the value of the `--state-key` secret (environment, then
    /// `.env` beside the file, as for `flowc run`); a secret without a value is R0006.
    fn key(&self) -> Result<Option<StoreKey>, Diagnostic> {
        let Some(name) = &self.key_secret else { return Ok(None) };
        store_key(name, &self.base_dir).map(|(key, _)| Some(key))
    }
}

/// The secret the store's key is derived from: the file's `store_key` (a flow's state names
/// it), or `--state-key`. Both given must name the same secret: two names are bad usage
/// (exit 2), never a guess of which one was meant.
pub(crate) fn key_secret<'a>(plan: &'a Plan, flag: Option<&'a str>) -> miette::Result<Option<&'a str>> {
    match (flow_plan::store_key_secret(plan), flag) {
        (Some(file), Some(flag)) if file != flag => Err(miette::miette!(
            "--state-key {flag} names another secret than the file's `store_key = {file}`: the store has one key; leave out --state-key, or give `--state-key {file}`"
        )),
        (file, flag) => Ok(file.or(flag)),
    }
}

/// The key of an encrypted store, derived from the value of the secret `name` (environment,
/// then `.env` in `dir`, as every secret); the value too, so a run can scrub it from its output.
/// A secret without a value is R0006; one too short to derive a key from is R0014.
pub(crate) fn store_key(name: &str, dir: &Path) -> Result<(StoreKey, secrecy::SecretString), Diagnostic> {
    let values = run::secret_values(&[name.to_string()], dir)
        .map_err(|e| Diagnostic::new(codes::STATE_STORE, format!("{e}")))?;
    let Some((_, value)) = values.into_iter().next() else {
        return Err(Diagnostic::new(
            codes::MISSING_SECRET,
            format!("secret `{name}`, the state store's key, has no value in the environment or .env"),
        )
        .help(format!("set {name} in the environment, or in the .env file beside the .flow file")));
    };
    StoreKey::derive(value.expose_secret().as_bytes()).map(|k| (k, value)).map_err(store_error)
}

/// `--flow NAME` names no flow of the file: bad usage (exit 2), as for `flowc run`.
pub(crate) fn unknown_flow(plan: &Plan, name: &str) -> miette::Report {
    super::no_such("--flow", "flow", name, plan.flows.iter().map(|f| f.name.as_str()))
}

/// A store's refusal as a diagnostic, with the codes a run uses: R0015 for a flow held by a run, R0014 for the rest.
pub(crate) fn store_error(e: StateError) -> Diagnostic {
    match &e {
        StateError::Locked { .. } => Diagnostic::new(codes::STATE_LOCKED, e.to_string()),
        StateError::LeaseLost { .. } => Diagnostic::new(codes::STATE_LOCKED, e.to_string()),
        _ => Diagnostic::new(codes::STATE_STORE, e.to_string()),
    }
}

/// Who holds a lease taken by a command, as `state show` and a refused run name it.
pub(crate) fn holder(command: &str) -> String {
    format!("flowc {command} (pid {})", std::process::id())
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `flowc state show`: each flow's stored state, one line each, on stdout.
pub(crate) fn show(file: &Path, flow: Option<&str>, state: StoreOptions<'_>) -> miette::Result<ExitCode> {
    let (target, store) = match Target::with_existing_store(file, flow, state)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    let stored = match store.flow_states() {
        Ok(s) => s,
        Err(e) => return Ok(target.fail(store_error(e))),
    };
    let mut out = String::new();
    let of_file: Vec<&str> = target.plan.flows.iter().map(|f| f.name.as_str()).collect();
    for f in target.plan.flows.iter().filter(|f| flow.is_none_or(|n| n == f.name)) {
        let name = &f.name;
        match (stored.iter().find(|s| s.flow == *name), &f.state) {
            (Some(s), _) => out.push_str(&describe(s, "")),
            (None, Some(_)) => out
                .push_str(&format!("flow {name}: no state yet; its next run starts from its declared initial value\n")),
            (None, None) => out.push_str(&format!("flow {name}: declares no state\n")),
        }
    }
    // State kept for flows the file no longer has: shown, so it is not forgotten unseen.
    if flow.is_none() {
        for s in stored.iter().filter(|s| !of_file.contains(&s.flow.as_str())) {
            out.push_str(&describe(s, &format!(" (not a flow of {})", target.source.name)));
        }
    }
    report::print(&out);
    Ok(ExitCode::SUCCESS)
}

/// One flow's state: `flow NAME: cursor V (T) · N boundary keys · position · checkpoints · updated`.
fn describe(s: &FlowState, suffix: &str) -> String {
    let cursor = match &s.cursor {
        Some(c) => format!("cursor {} ({})", c.text(), c.type_name()),
        None => "cursor not set (the declared initial value)".to_string(),
    };
    let boundary = match s.boundary.len() {
        1 => "1 boundary key".to_string(),
        n => format!("{n} boundary keys"),
    };
    let position = match &s.position {
        None => "between pulls".to_string(),
        Some(p) => {
            let next = match &p.next {
                PageAt::Cursor { value } => format!("page cursor {value:?}"),
                // A next link's query may carry what the API put there; only its path is shown.
                PageAt::Url { url } => match url.split_once('?') {
                    Some((path, _)) => format!("link {path}?…"),
                    None => format!("link {url}"),
                },
                PageAt::Page { number } => format!("page {number}"),
                PageAt::Offset { offset } => format!("offset {offset}"),
            };
            format!(
                "mid-pull: resumes at {next} after {} page{} and {} record{}",
                p.pages_done,
                super::plural(p.pages_done as usize),
                p.records_done,
                super::plural(p.records_done as usize)
            )
        }
    };
    let by = match s.run {
        Some(r) => format!(" by run {}", r.0),
        None => " by `flowc state set`".to_string(),
    };
    format!(
        "flow {}{suffix}: {cursor} · {boundary} · {position} · {} checkpoint{} · updated {}{by}\n",
        s.flow,
        s.checkpoints,
        super::plural(s.checkpoints as usize),
        stamp(s.updated_at)
    )
}

/// `flowc state reset --flow NAME`: forgets one flow's state (its runs and dead letters stay),
/// under its lease, so never under a run.
pub(crate) fn reset(file: &Path, flow: &str, state: StoreOptions<'_>) -> miette::Result<ExitCode> {
    let (target, mut store) = match Target::with_existing_store(file, Some(flow), state)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    let result = with_lease(&mut store, flow, "state reset", |store, lease| store.reset_state(lease));
    match result {
        Ok(true) => {
            report::eprint(&format!(
                "flow {flow}: state forgotten (its run history and dead letters are kept); its next run starts from its declared initial value"
            ));
            Ok(ExitCode::SUCCESS)
        }
        Ok(false) => {
            report::eprint(&format!("flow {flow}: had no state; nothing changed"));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(target.fail(store_error(e))),
    }
}

/// `flowc state set --flow NAME VALUE`: sets the flow's cursor explicitly (and clears any
/// resume position), read as the flow's declared cursor type (R0022 otherwise), under its lease
/// (R0015 while a run holds it). A store that does not exist yet is created.
pub(crate) fn set(file: &Path, flow: &str, value: &str, state: StoreOptions<'_>) -> miette::Result<ExitCode> {
    let target = match Target::new(file, Some(flow), state)? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let Some(declared) = target.plan.flow(flow).and_then(|f| f.state.as_ref()) else {
        return Ok(target.fail(
            Diagnostic::new(codes::STATE_VALUE, format!("flow `{flow}` declares no state, so it has no cursor to set"))
                .help("declare it in the flow: `state NAME: DateTime = \"…\" { from = record.FIELD }` (see docs/language.md)"),
        ));
    };
    let ty = declared.ty.name();
    let Some(cursor) = Cursor::from_text(ty, value) else {
        let form = match declared.ty {
            flow_plan::CursorType::DateTime => "an RFC 3339 date and time with its offset, e.g. 2026-01-31T00:00:00Z",
            flow_plan::CursorType::Int => "a whole number in the range of a 64-bit integer",
            flow_plan::CursorType::String => "any text",
        };
        return Ok(target.fail(
            Diagnostic::new(
                codes::STATE_VALUE,
                format!("`{value}` is not a {ty}, the type of flow `{flow}`'s cursor `state.{}`", declared.name),
            )
            .help(format!("give {form}")),
        ));
    };
    let existed = target.store.exists();
    let mut store = match target.open() {
        Ok(s) => s,
        Err(d) => return Ok(target.fail(d)),
    };
    match with_lease(&mut store, flow, "state set", |store, lease| store.set_cursor(lease, &cursor, Utc::now())) {
        Ok(()) => {
            if !existed {
                report::eprint(&format!("created the state store {}", target.store.display()));
            }
            report::eprint(&format!(
                "flow {flow}: cursor set to {} ({ty}); its next run reads from there",
                cursor.text()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(target.fail(store_error(e))),
    }
}

/// `f` under the flow's lease, released afterwards whatever `f` did. A lease held by a run is
/// [`StateError::Locked`] (R0015): nothing is changed.
pub(crate) fn with_lease<T>(
    store: &mut SqliteStore,
    flow: &str,
    command: &str,
    f: impl FnOnce(&mut SqliteStore, &flow_state::Lease) -> Result<T, StateError>,
) -> Result<T, StateError> {
    let lease = store.acquire_lease(flow, &holder(command), COMMAND_LEASE, Utc::now())?;
    let result = f(store, &lease);
    let released = store.release_lease(&lease);
    let value = result?;
    released?;
    Ok(value)
}
