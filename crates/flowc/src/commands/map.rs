//! `flowc map`: NDJSON records through one map, rejects with their line numbers.

use std::process::ExitCode;

use super::{compile, plural};
use crate::report;

pub(crate) fn map_records(
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
        return Err(super::no_such("--map", "map", name, plan.maps.iter().map(|m| m.name.as_str())));
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
    let summary = flow_eval::mapper::map_ndjson(&flow_eval::Program::new(plan), index, reader, writer, reject_writer)
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
