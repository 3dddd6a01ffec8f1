//! One module per command; what they share (reading a source, compiling it, colour) is here.

pub(crate) mod base_url;
pub(crate) mod check;
pub(crate) mod fmt;
pub(crate) mod import;
pub(crate) mod lsp;
pub(crate) mod map;
pub(crate) mod plan;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod spec;
pub(crate) mod state;
pub(crate) mod test;

use std::io::IsTerminal;

use flow_diagnostics::{Color, Diagnostic};

use crate::report;

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
    Ok(checked.model.map(|m| (source, m.into_plan())))
}

/// `--flow NAME` or `--map NAME` that names nothing of its kind in the file: bad usage (exit 2),
/// listing the names the file has.
pub(crate) fn no_such<'a>(flag: &str, kind: &str, name: &str, names: impl Iterator<Item = &'a str>) -> miette::Report {
    let names: Vec<&str> = names.collect();
    let has = if names.is_empty() { "none".to_string() } else { names.join(", ") };
    miette::miette!("{flag} {name}: the file has no {kind} of that name (it has: {has})")
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
