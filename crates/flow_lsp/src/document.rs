//! An open document and what one parse and one check of it found.

use flow_check::Info;
use flow_diagnostics::Diagnostic;

pub(crate) struct Doc {
    pub(crate) text: String,
    /// What the checker recorded of the file: of every declaration that parsed, when some did not
    /// (the checker checks those and skips only what depends on one that did not).
    pub(crate) info: Info,
    /// What `flowc check` reports for this text, sorted; published, and the source of quick fixes.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Doc {
    /// Parses and checks `text` with the same function as `flowc check`.
    pub(crate) fn new(text: String) -> Doc {
        let checked = flow_check::check_source(&text);
        Doc { text, info: checked.info, diagnostics: checked.diagnostics }
    }

    /// The checker's record of the declarations (what the outline, a declaration's hover and
    /// completion show): with a syntax error, those that parsed.
    pub(crate) fn declarations(&self) -> &Info {
        &self.info
    }
}
