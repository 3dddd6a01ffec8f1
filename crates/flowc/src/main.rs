//! `flowc`: check, plan and run `.flow` integrations. The only crate that prints.

mod plan_view;
mod report;
mod run;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use flow_diagnostics::{Color, Diagnostic};

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
        #[arg(long = "base-url", value_name = "API=URL", value_parser = parse_override)]
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
        #[arg(long = "base-url", value_name = "API=URL", value_parser = parse_override)]
        base_urls: Vec<flow_runtime::BaseUrl>,
        /// `json` prints the run's events and summary as JSON lines on stdout.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Log each request (method, URL without secrets, status, latency) to stderr.
        #[arg(short, long)]
        verbose: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// The text of `--base-url API=URL`. Whether the URL is one the api may take is the runtime's
/// rule ([`flow_runtime::override_base_urls`]); the URL itself is not repeated in the error, as it
/// might carry a password.
fn parse_override(s: &str) -> Result<flow_runtime::BaseUrl, String> {
    let Some((api, url)) = s.split_once('=').filter(|(api, url)| !api.is_empty() && !url.is_empty()) else {
        return Err("expected API=URL, such as `shop=https://staging.example.com/v1`".into());
    };
    let url = url::Url::parse(url).map_err(|e| format!("the URL for api `{api}` is not an absolute URL ({e})"))?;
    Ok(flow_runtime::BaseUrl { api: api.to_string(), url })
}

/// Applies `--base-url` overrides; a refused one is rendered against the source, and is a usage
/// error (exit 2) either way.
pub(crate) fn apply_overrides(
    source: &Source,
    plan: &mut flow_plan::Plan,
    overrides: &[flow_runtime::BaseUrl],
) -> miette::Result<Option<ExitCode>> {
    match flow_runtime::override_base_urls(plan, overrides) {
        Ok(()) => Ok(None),
        Err(flow_runtime::OverrideError::UnknownApi(message)) => Err(miette::miette!("{message}")),
        Err(flow_runtime::OverrideError::Refused(d)) => {
            report::eprint(&flow_diagnostics::render_diagnostics(&source.name, &source.text, &[d], stderr_color()));
            Ok(Some(ExitCode::from(2)))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { files, format } => check(&files, format),
        Command::Plan { file, format, base_urls } => plan(&file, format, &base_urls),
        Command::Test { files } => test(&files),
        Command::Fmt { files, check } => fmt(&files, check),
        Command::Lsp => {
            flow_lsp::run_stdio().map(|()| ExitCode::SUCCESS).map_err(|e| miette::miette!("flowc lsp: {e}"))
        }
        Command::Map { file, map, input, output, rejects } => {
            map_records(&file, &map, input.as_deref(), output.as_deref(), rejects.as_deref())
        }
        Command::Run { file, flow, base_urls, format, verbose } => {
            run::run(&file, flow.as_deref(), &base_urls, format == Format::Json, verbose)
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

/// Colour for rendered diagnostics on stderr.
pub(crate) fn stderr_color() -> Color {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) {
        Color::Always
    } else {
        Color::Never
    }
}

/// A source file, read and decoded; I/O errors are the CLI's own (exit 2), bad UTF-8 is a diagnostic.
pub(crate) struct Source {
    pub name: String,
    pub text: String,
}

/// The file's text, or the UTF-8 diagnostic with the text decoded lossily (to render it against).
pub(crate) fn read_source(path: &std::path::Path) -> miette::Result<Result<Source, (Diagnostic, String)>> {
    let bytes = std::fs::read(path).map_err(|e| miette::miette!("cannot read {}: {e}", path.display()))?;
    let name = path.display().to_string();
    Ok(match flow_syntax::decode(&bytes) {
        Ok(text) => Ok(Source { name, text: text.to_string() }),
        Err(d) => Err((d, String::from_utf8_lossy(&bytes).into_owned())),
    })
}

/// Reads, parses and checks one file; prints its diagnostics (human format). The plan, if no errors.
pub(crate) fn compile(path: &std::path::Path) -> miette::Result<Option<(Source, flow_plan::Plan)>> {
    let source = match read_source(path)? {
        Ok(s) => s,
        Err((d, lossy)) => {
            report::eprint(&flow_diagnostics::render_diagnostics(
                &path.display().to_string(),
                &lossy,
                &[d],
                stderr_color(),
            ));
            return Ok(None);
        }
    };
    let checked = flow_check::check_source(&source.text);
    if !checked.diagnostics.is_empty() {
        report::eprint(&flow_diagnostics::render_diagnostics(
            &source.name,
            &source.text,
            &checked.diagnostics,
            stderr_color(),
        ));
    }
    Ok(checked.model.map(|m| {
        let plan = flow_check::lower(&m);
        (source, plan)
    }))
}

fn check(files: &[PathBuf], format: Format) -> miette::Result<ExitCode> {
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let mut json = Vec::new();
    for path in files {
        let (name, text, diagnostics) = match read_source(path)? {
            Ok(s) => {
                let checked = flow_check::check_source(&s.text);
                let mut d = checked.diagnostics;
                // With the secrets at hand (the environment, or the .env file), credentials that
                // could never work are check errors, and secrets too short to redact warnings.
                let plan = checked.model.as_ref().map(flow_check::lower);
                let needed = plan.as_ref().map(flow_runtime::credential_secrets).unwrap_or_default();
                if let (Some(plan), false) = (&plan, needed.is_empty()) {
                    let dir = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
                    d.extend(flow_runtime::check_credentials(plan, &run::load_secrets(&needed, &dir)?));
                    flow_diagnostics::sort(&mut d);
                }
                (s.name, s.text, d)
            }
            Err((d, lossy)) => (path.display().to_string(), lossy, vec![d]),
        };
        errors += diagnostics.iter().filter(|d| d.is_error()).count();
        warnings += diagnostics.iter().filter(|d| !d.is_error()).count();
        match format {
            Format::Human => {
                if !diagnostics.is_empty() {
                    report::eprint(&flow_diagnostics::render_diagnostics(&name, &text, &diagnostics, stderr_color()));
                }
            }
            Format::Json => json.extend(diagnostics.iter().map(|d| report::diagnostic_json(&name, &text, d))),
        }
    }
    match format {
        Format::Human => report::eprint(&format!(
            "checked {} file{}: {} error{}, {} warning{}\n",
            files.len(),
            plural(files.len()),
            errors,
            plural(errors),
            warnings,
            plural(warnings)
        )),
        Format::Json => report::print(&format!("{}\n", serde_json::Value::Array(json))),
    }
    Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn plan(path: &std::path::Path, format: Format, overrides: &[flow_runtime::BaseUrl]) -> miette::Result<ExitCode> {
    let Some((source, mut plan)) = compile(path)? else {
        return Ok(ExitCode::from(1));
    };
    if let Some(code) = apply_overrides(&source, &mut plan, overrides)? {
        return Ok(code);
    }
    match format {
        Format::Json => {
            let text =
                serde_json::to_string_pretty(&plan).map_err(|e| miette::miette!("cannot serialize the plan: {e}"))?;
            report::print(&format!("{text}\n"));
        }
        Format::Human => report::print(&plan_view::render_plan(&plan, &source.text)),
    }
    Ok(ExitCode::SUCCESS)
}

fn map_records(
    path: &std::path::Path,
    name: &str,
    input: Option<&std::path::Path>,
    output: Option<&std::path::Path>,
    rejects: Option<&std::path::Path>,
) -> miette::Result<ExitCode> {
    use std::io::{BufReader, BufWriter, Write};
    let Some((_, plan)) = compile(path)? else {
        return Ok(ExitCode::from(1));
    };
    let Some(index) = plan.maps.iter().position(|m| m.name == name) else {
        let names: Vec<&str> = plan.maps.iter().map(|m| m.name.as_str()).collect();
        return Err(miette::miette!(
            "--map {name}: the file has no map of that name (it has: {})",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        ));
    };
    let open_out = |p: Option<&std::path::Path>, default: Box<dyn Write>| -> miette::Result<Box<dyn Write>> {
        Ok(match p {
            Some(p) => {
                Box::new(std::fs::File::create(p).map_err(|e| miette::miette!("cannot create {}: {e}", p.display()))?)
            }
            None => default,
        })
    };
    let reader: Box<dyn std::io::BufRead> = match input {
        Some(p) => Box::new(BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(p).map_err(|e| miette::miette!("cannot read {}: {e}", p.display()))?,
        )),
        None => Box::new(BufReader::new(std::io::stdin().lock())),
    };
    let writer = BufWriter::with_capacity(1 << 16, open_out(output, Box::new(std::io::stdout().lock()))?);
    let reject_writer = BufWriter::new(open_out(rejects, Box::new(std::io::stderr()))?);
    let summary = flow_plan::mapper::map_ndjson(&plan, index, reader, writer, reject_writer)
        .map_err(|e| miette::miette!("map {name}: {e}"))?;
    report::eprint(&format!(
        "mapped {} record{}, rejected {}{}",
        summary.mapped,
        plural(summary.mapped as usize),
        summary.rejected,
        match (summary.rejected, rejects) {
            (0, _) => String::new(),
            (_, Some(p)) => format!(" (see {})", p.display()),
            (_, None) => " (listed above)".to_string(),
        }
    ));
    Ok(if summary.rejected > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn fmt(files: &[PathBuf], check: bool) -> miette::Result<ExitCode> {
    let mut failed = false;
    for path in files {
        let source = match read_source(path)? {
            Ok(s) => s,
            Err((d, lossy)) => {
                report::eprint(&flow_diagnostics::render_diagnostics(
                    &path.display().to_string(),
                    &lossy,
                    &[d],
                    stderr_color(),
                ));
                failed = true;
                continue;
            }
        };
        let formatted = match flow_syntax::format(&source.text) {
            Ok(f) => f,
            Err(diags) => {
                report::eprint(&flow_diagnostics::render_diagnostics(
                    &source.name,
                    &source.text,
                    &diags,
                    stderr_color(),
                ));
                report::eprint(&format!("{}: not formatted (it has syntax errors)", source.name));
                failed = true;
                continue;
            }
        };
        if formatted == source.text {
            continue;
        }
        if check {
            report::print(&format!("{}\n", source.name));
            failed = true;
        } else {
            std::fs::write(path, formatted).map_err(|e| miette::miette!("cannot write {}: {e}", path.display()))?;
            report::eprint(&format!("formatted {}", source.name));
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn test(files: &[PathBuf]) -> miette::Result<ExitCode> {
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    for path in files {
        let Some((source, plan)) = compile(path)? else {
            broken += 1;
            continue;
        };
        for t in flow_plan::testing::run_tests(&plan) {
            if t.passed {
                passed += 1;
                report::eprint(&format!("test {} … ok", t.name));
            } else {
                failed += 1;
                report::eprint(&format!("test {} … FAILED", t.name));
                report::eprint(&flow_diagnostics::render_diagnostics(
                    &source.name,
                    &source.text,
                    &t.diagnostics,
                    stderr_color(),
                ));
            }
        }
    }
    if broken > 0 {
        report::eprint(&format!("{broken} file{} did not compile", plural(broken)));
    }
    report::eprint(&format!("{passed} passed, {failed} failed"));
    Ok(if failed > 0 || broken > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
