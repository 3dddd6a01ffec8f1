//! `flowc plan`: what a run would do, as text or JSON. Secrets appear by name only.

use std::process::ExitCode;

use super::compile;
use crate::{report, Format};

pub(crate) fn plan(
    path: &std::path::Path,
    format: Format,
    overrides: &[flow_runtime::BaseUrl],
) -> miette::Result<ExitCode> {
    let Some((source, mut plan)) = compile(path)? else {
        return Ok(ExitCode::from(1));
    };
    if let Some(code) = super::base_url::apply(&source, &mut plan, overrides)? {
        return Ok(code);
    }
    match format {
        Format::Json => {
            let text =
                serde_json::to_string_pretty(&plan).map_err(|e| miette::miette!("cannot serialize the plan: {e}"))?;
            report::print(&format!("{text}\n"));
        }
        Format::Human => report::print(&crate::plan_view::render_plan(&plan, &source.text)),
    }
    Ok(ExitCode::SUCCESS)
}
