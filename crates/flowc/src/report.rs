//! Output: the only module that writes to stdout and stderr.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use flow_diagnostics::{Diagnostic, LineIndex};

/// Writes to stdout; a closed pipe (`flowc plan | head`) is not an error worth a panic.
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

pub(crate) fn eprint(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}

/// One diagnostic as JSON: what `--format json` prints. Lines and columns are 1-based; columns
/// count characters.
pub(crate) fn diagnostic_json(file: &str, source: &str, d: &Diagnostic) -> serde_json::Value {
    let index = LineIndex::new(source);
    let position = |offset: u32| {
        let offset = (offset as usize).min(source.len());
        let line = index.line(offset);
        let start = index.line_start(line);
        let column = source.get(start..offset).map_or(0, |s| s.chars().count());
        serde_json::json!({ "offset": offset, "line": line + 1, "column": column + 1 })
    };
    serde_json::json!({
        "file": file,
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "labels": d.labels.iter().map(|l| serde_json::json!({
            "start": position(l.span.start),
            "end": position(l.span.end),
            "message": l.message,
            "primary": l.primary,
        })).collect::<Vec<_>>(),
        "notes": d.notes,
        "help": d.help,
    })
}
