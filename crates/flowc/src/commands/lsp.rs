//! `flowc lsp`: the language server on stdin and stdout.

use std::process::ExitCode;

pub(crate) fn lsp() -> miette::Result<ExitCode> {
    flow_lsp::run_stdio().map(|()| ExitCode::SUCCESS).map_err(|e| miette::miette!("flowc lsp: {e}"))
}
