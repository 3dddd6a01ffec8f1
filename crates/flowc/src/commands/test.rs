//! `flowc test`: the `test` blocks of the files.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{compile, plural, stderr_color};
use crate::report;

pub(crate) fn test(files: &[PathBuf]) -> miette::Result<ExitCode> {
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    for path in files {
        let Some((source, plan)) = compile(path)? else {
            broken += 1;
            continue;
        };
        for t in flow_eval::test_blocks::run_tests(&flow_eval::Program::new(plan)) {
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
