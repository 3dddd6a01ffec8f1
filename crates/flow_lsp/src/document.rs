//! An open document and what one parse and one check of it found.

use flow_check::Info;
use flow_diagnostics::Diagnostic;
use flow_syntax::ast;

pub(crate) struct Doc {
    pub(crate) text: String,
    pub(crate) file: ast::File,
    /// Whether the whole file parsed (otherwise the checker did not run and `info` is empty).
    pub(crate) parsed: bool,
    pub(crate) info: Info,
    /// What `flowc check` reports for this text, sorted; published, and the source of quick fixes.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Doc {
    /// Parses and checks `text` with the same functions as `flowc check`.
    pub(crate) fn new(text: String) -> Doc {
        let (file, parse_diags) = flow_syntax::parse(&text);
        let parsed = !parse_diags.iter().any(Diagnostic::is_error);
        let checked = flow_check::check_parsed(&file, parse_diags);
        Doc { text, file, parsed, info: checked.info, diagnostics: checked.diagnostics }
    }
}
