//! Every structured fix the checker attaches, applied: over every file of the err corpus, each
//! fix applies cleanly and the diagnostic it belongs to is gone when the result is checked again.

use std::path::Path;

use flow_diagnostics::Diagnostic;

/// How many diagnostics say the same thing as `d` (its code and message).
fn same(ds: &[Diagnostic], d: &Diagnostic) -> usize {
    ds.iter().filter(|x| x.code == d.code && x.message == d.message).count()
}

/// The syntax errors (E00xx) among `ds`.
fn syntax_errors(ds: &[Diagnostic]) -> usize {
    ds.iter().filter(|d| d.is_error() && d.code.starts_with("E00")).count()
}

#[test]
fn every_fix_in_the_err_corpus_applies_and_removes_its_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/err");
    let mut paths: Vec<_> =
        std::fs::read_dir(&dir).expect("tests/data/err").filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "flow"));
    paths.sort();
    let (mut applied, mut failures) = (0, Vec::new());
    for path in &paths {
        // A file that is not UTF-8 is refused before it is checked: it has no fixes.
        let Ok(source) = std::fs::read_to_string(path) else { continue };
        let before = flow_check::check_source(&source).diagnostics;
        for d in &before {
            // A did-you-mean is a mechanical fix: it must come with it.
            if d.help.as_deref().is_some_and(|h| h.starts_with("did you mean")) && d.fixes.is_empty() {
                failures.push(format!("{}: {} `{}` has a did-you-mean but no fix", path.display(), d.code, d.message));
            }
            for fix in &d.fixes {
                let Some(fixed) = fix.apply(&source) else {
                    failures.push(format!("{}: {} fix {:?} does not apply", path.display(), d.code, fix.title));
                    continue;
                };
                applied += 1;
                let after = flow_check::check_source(&fixed).diagnostics;
                if same(&after, d) >= same(&before, d) {
                    failures.push(format!(
                        "{}: {} `{}` stays after {:?}",
                        path.display(),
                        d.code,
                        d.message,
                        fix.title
                    ));
                }
                // A syntax error's fix leaves the others of its file; no fix adds one.
                if syntax_errors(&after) > syntax_errors(&before) {
                    failures.push(format!("{}: {:?} breaks the syntax:\n{fixed}", path.display(), fix.title));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(applied >= 10, "only {applied} fixes in the err corpus");
}
