//! `flowc import openapi SPEC`: the spec's types and operations as a `.flow` file (the logic is
//! `flow_openapi`'s); the summary of what imported cleanly, with a loss, or not at all on stderr.

use std::path::Path;
use std::process::ExitCode;

use crate::report;

pub(crate) fn openapi(
    spec_path: &Path,
    options: &flow_openapi::Options,
    out: Option<&Path>,
) -> miette::Result<ExitCode> {
    let text =
        std::fs::read_to_string(spec_path).map_err(|e| miette::miette!("cannot read {}: {e}", spec_path.display()))?;
    let yaml = spec_path.extension().is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let spec = flow_openapi::read_spec(&text, yaml).map_err(|e| miette::miette!("{}: {e}", spec_path.display()))?;
    let import = flow_openapi::import(&spec, options).map_err(|e| miette::miette!("{}: {e}", spec_path.display()))?;
    match out {
        Some(path) => {
            std::fs::write(path, &import.text).map_err(|e| miette::miette!("cannot write {}: {e}", path.display()))?;
        }
        None => report::print(&import.text),
    }
    report::eprint(&format!("imported {}\n{}", spec_path.display(), import.report.render()));
    Ok(ExitCode::SUCCESS)
}
