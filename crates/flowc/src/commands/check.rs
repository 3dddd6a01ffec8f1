//! `flowc check`: every mistake in the files, without running anything; with the secrets at
//! hand, the run's preflight too.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{plural, read_source, stderr_color};
use crate::{report, Format};

pub(crate) fn check(files: &[PathBuf], format: Format, spec: &super::spec::SpecArgs) -> miette::Result<ExitCode> {
    let specs = super::spec::load(spec)?;
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let mut json = Vec::new();
    let mut compared = Vec::new();
    for path in files {
        let (name, text, diagnostics) = match read_source(path)? {
            Ok(s) => {
                let (file, parse_diags) = flow_syntax::parse(&s.text);
                let checked = flow_check::check_parsed_without_record(&file, parse_diags);
                let mut d = checked.diagnostics;
                // With the secrets at hand (the environment, or the .env file), credentials that
                // could never work are check errors, and secrets too short to redact warnings.
                let plan = checked.model.map(flow_check::Model::into_plan);
                let needed = plan.as_ref().map(flow_runtime::credential_secrets).unwrap_or_default();
                if let (Some(plan), false) = (&plan, needed.is_empty()) {
                    let dir = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
                    d.extend(flow_runtime::check_credentials(plan, &super::run::load_secrets(&needed, &dir)?));
                    flow_diagnostics::sort(&mut d);
                }
                // With `--spec`: where the file has drifted from each spec.
                let (drift, lines) = super::spec::compare(&s.text, &specs);
                if !drift.is_empty() {
                    d.extend(drift);
                    flow_diagnostics::sort(&mut d);
                }
                compared.extend(lines);
                // The tree, the editor record and the plan are left for the process's exit to
                // free: freeing them node by node was a tenth of the command's instructions on a
                // 10,000-line file, and `check` exits once its files are checked.
                std::mem::forget((file, checked.info, plan));
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
                for c in compared.drain(..) {
                    report::eprint(&format!("{name}: {}", c.line()));
                }
            }
            Format::Json => {
                json.extend(diagnostics.iter().map(|d| report::diagnostic_json(&name, &text, d)));
                json.extend(compared.drain(..).map(|c| c.json(&name)));
            }
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
