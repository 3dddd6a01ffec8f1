//! `flowc fmt`: the one canonical layout, or with `--check` the list of files it would change.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{read_source, stderr_color};
use crate::report;

pub(crate) fn fmt(files: &[PathBuf], check: bool) -> miette::Result<ExitCode> {
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
