//! `flowc`: check, plan and run `.flow` integrations. The only crate that prints, and the only one
//! that knows the command line: this file is the clap definitions and the dispatch; each command
//! is a module of `commands/`, and `report.rs` is the only place that writes to stdout or stderr.
//! It must never hold a stage's logic: checking, planning and running are the library crates'.

mod commands;
mod plan_view;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

const EXIT_HELP: &str = "\
Exit codes:
  0  success (warnings allowed)
  1  the .flow file has errors, or the run failed
  2  bad usage, or an input file that cannot be read

Colour is used only when stderr is a terminal and NO_COLOR is not set.";

#[derive(Parser)]
#[command(name = "flowc", version, about = "Check, plan and run .flow API integrations", after_help = EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report every mistake in the files, without running anything.
    #[command(after_help = EXIT_HELP)]
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// `json` prints machine-readable diagnostics on stdout.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Also report where the file's endpoints and types have drifted from this OpenAPI
        /// spec (JSON or YAML, a local file): `--spec SPEC`, or `--spec API=SPEC` to name the
        /// api it describes. Repeatable, one per api.
        #[arg(long = "spec", value_name = "[API=]SPEC")]
        specs: Vec<String>,
        /// With --spec: also warn (W0014) for each field a response schema requires that its
        /// type does not declare (sparse types are the norm, so this is off by default).
        #[arg(long = "spec-required", requires = "specs")]
        spec_required: bool,
    },
    /// Show what a run would do: calls, order, policies. Secrets appear by name only.
    #[command(after_help = EXIT_HELP)]
    Plan {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// `json` prints the plan as data.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Override an api's base URL, e.g. `--base-url shop=http://127.0.0.1:8080`.
        #[arg(long = "base-url", value_name = "API=URL", value_parser = commands::base_url::parse)]
        base_urls: Vec<flow_runtime::BaseUrl>,
    },
    /// Stream NDJSON records through one map: records that do not fit, or fail, go to the rejects
    /// with their line number and the reason; exit 1 if any was rejected.
    #[command(after_help = EXIT_HELP)]
    Map {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The map to apply; it takes one record.
        #[arg(long = "map", value_name = "NAME")]
        map: String,
        /// NDJSON input (default: stdin).
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// NDJSON output (default: stdout).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Rejected records, one JSON line each with `line`, `error` and `input` (default: stderr).
        #[arg(long, value_name = "FILE")]
        rejects: Option<PathBuf>,
    },
    /// Rewrite files in the one canonical layout (comments kept). With --check, change nothing:
    /// list the files that would change and exit 1 if any would.
    #[command(after_help = EXIT_HELP)]
    Fmt {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long)]
        check: bool,
    },
    /// Write a .flow file from another description of an API.
    #[command(after_help = EXIT_HELP)]
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Serve the Language Server Protocol on stdin and stdout, for editors.
    Lsp,
    /// Run the `test` blocks of the files; exit 1 if any expectation fails.
    #[command(after_help = EXIT_HELP)]
    Test {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Run the flows of a file. Secrets come from the environment, or a .env file beside it.
    #[command(after_help = EXIT_HELP)]
    Run {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Run only this flow (default: every flow, in file order).
        #[arg(long, value_name = "NAME")]
        flow: Option<String>,
        /// Override an api's base URL, e.g. `--base-url shop=http://127.0.0.1:8080`; plain
        /// http:// only to this machine, unless the api declares `allow_http = true`.
        #[arg(long = "base-url", value_name = "API=URL", value_parser = commands::base_url::parse)]
        base_urls: Vec<flow_runtime::BaseUrl>,
        /// `json` prints the run's events and summary as JSON lines on stdout.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Log each request (method, URL without secrets, status, latency) to stderr.
        #[arg(short, long)]
        verbose: bool,
        /// The state store of flows that declare `state` (default: flowc-state.sqlite beside
        /// the .flow file; created when missing).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
        /// The state store is encrypted with a key derived from this secret's value (from the
        /// environment or .env); a new store is created encrypted. A file whose state names a
        /// `store_key` needs no flag; given as well, it must name the same secret.
        #[arg(long = "state-key", value_name = "SECRET_NAME")]
        state_key: Option<String>,
    },
    /// Inspect or change the flows' durable state (cursors, resume positions), explicitly.
    #[command(after_help = EXIT_HELP)]
    State {
        #[command(subcommand)]
        action: StateAction,
    },
    /// The run history of the file's flows, newest first: counts, status and error of each run.
    #[command(after_help = EXIT_HELP)]
    Runs {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Only this flow's runs.
        #[arg(long, value_name = "NAME")]
        flow: Option<String>,
        /// `json` prints the runs as a JSON array on stdout.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// At most this many runs.
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Send the dead letters kept in the state store through their flows again, from the loop
    /// they failed in: those that now succeed leave the store, those that fail again stay with
    /// their new error. Refused while a run holds the flow.
    #[command(after_help = EXIT_HELP)]
    Replay {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Only this flow's dead letters.
        #[arg(long, value_name = "NAME")]
        flow: Option<String>,
        /// Only the dead letters of this run (its id in `flowc runs`).
        #[arg(long, value_name = "ID")]
        run: Option<i64>,
        /// List the dead letters that would be replayed; send and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replay the dead letters of this NDJSON file (a flow's `dead_letter(…)` file, or an
        /// export of the store) instead of the store's: flows without `state` keep theirs there.
        #[arg(long, value_name = "DEAD_LETTER_FILE", conflicts_with = "run")]
        from: Option<PathBuf>,
        /// Override an api's base URL, as for `run`.
        #[arg(long = "base-url", value_name = "API=URL", value_parser = commands::base_url::parse)]
        base_urls: Vec<flow_runtime::BaseUrl>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// An OpenAPI 3 spec (JSON or YAML): its schemas as types, its operations as endpoints, its
    /// security scheme as the api's auth. What the language cannot say is a `lossy:` comment at
    /// its place and in the summary on stderr.
    #[command(after_help = EXIT_HELP)]
    Openapi {
        #[arg(value_name = "SPEC")]
        spec: PathBuf,
        /// Only operations whose path matches (`*` within a segment, `**` across), and the types they use.
        #[arg(long, value_name = "GLOB")]
        paths: Option<String>,
        /// Only operations with this tag, and the types they use.
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        /// The api's name (default: from the spec's title).
        #[arg(long, value_name = "NAME")]
        api: Option<String>,
        /// Write the .flow file here (default: stdout).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Where the state store is.
#[derive(clap::Args)]
struct StoreArgs {
    /// The state store (default: `flowc-state.sqlite` beside FILE, as for `run`).
    #[arg(long = "state", value_name = "PATH")]
    state: Option<PathBuf>,
    /// The store is encrypted with a key derived from this secret's value (from the
    /// environment or .env, as for `run`); the file's `store_key`, if any, must be the same.
    #[arg(long = "state-key", value_name = "SECRET_NAME")]
    state_key: Option<String>,
}

impl StoreArgs {
    fn options(&self) -> commands::state::StoreOptions<'_> {
        commands::state::StoreOptions { state: self.state.as_deref(), key: self.state_key.as_deref() }
    }
}

#[derive(Subcommand)]
enum StateAction {
    /// Each flow's cursor, boundary keys, resume position, last update and run.
    #[command(after_help = EXIT_HELP)]
    Show {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Only this flow.
        #[arg(long, value_name = "NAME")]
        flow: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set one flow's cursor explicitly (read as the flow's declared cursor type); a pull under
    /// way is forgotten, so the next run starts a pull from that cursor. Refused while a run holds the flow.
    #[command(after_help = EXIT_HELP)]
    Set {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The flow whose cursor to set.
        #[arg(long, value_name = "NAME", required = true)]
        flow: String,
        /// The cursor: an RFC 3339 date and time, a whole number or a text, as the flow declares it.
        #[arg(value_name = "VALUE", allow_hyphen_values = true)]
        value: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Forget one flow's state (its run history and dead letters stay): its next run starts
    /// from its declared initial value. Refused while a run holds the flow.
    #[command(after_help = EXIT_HELP)]
    Reset {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The flow whose state to forget; never all at once.
        #[arg(long, value_name = "NAME", required = true)]
        flow: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { files, format, specs, spec_required } => {
            commands::check::check(&files, format, &commands::spec::parse(&specs, spec_required))
        }
        Command::Plan { file, format, base_urls } => commands::plan::plan(&file, format, &base_urls),
        Command::Test { files } => commands::test::test(&files),
        Command::Fmt { files, check } => commands::fmt::fmt(&files, check),
        Command::Lsp => commands::lsp::lsp(),
        Command::Import { what: ImportWhat::Openapi { spec, paths, tag, api, output } } => {
            commands::import::openapi(&spec, &flow_openapi::Options { paths, tag, api }, output.as_deref())
        }
        Command::Map { file, map, input, output, rejects } => {
            commands::map::map_records(&file, &map, input.as_deref(), output.as_deref(), rejects.as_deref())
        }
        Command::Run { file, flow, base_urls, format, verbose, state, state_key } => commands::run::run(
            &file,
            flow.as_deref(),
            &base_urls,
            format == Format::Json,
            verbose,
            state,
            state_key.as_deref(),
        ),
        Command::State { action: StateAction::Show { file, flow, store } } => {
            commands::state::show(&file, flow.as_deref(), store.options())
        }
        Command::State { action: StateAction::Set { file, flow, value, store } } => {
            commands::state::set(&file, &flow, &value, store.options())
        }
        Command::State { action: StateAction::Reset { file, flow, store } } => {
            commands::state::reset(&file, &flow, store.options())
        }
        Command::Runs { file, flow, format, limit, store } => {
            commands::runs::runs(&file, flow.as_deref(), format == Format::Json, limit, store.options())
        }
        Command::Replay { file, flow, run, dry_run, from, base_urls, store } => {
            let args = commands::replay::ReplayArgs {
                flow: flow.as_deref(),
                run,
                dry_run,
                overrides: &base_urls,
                from: from.as_deref(),
            };
            commands::replay::replay(&file, &args, store.options())
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report::eprint(&format!("{:?}", e));
            ExitCode::from(2)
        }
    }
}
