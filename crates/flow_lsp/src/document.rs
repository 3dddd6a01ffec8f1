//! An open document and what one parse and one check of it found.

use flow_check::Info;
use flow_diagnostics::Diagnostic;

pub(crate) struct Doc {
    pub(crate) text: String,
    /// What the checker recorded of the whole file; empty when it did not parse (it is then
    /// not checked).
    pub(crate) info: Info,
    /// When the file did not parse: what the checker recorded of the declarations that did.
    partial: Option<Info>,
    /// What `flowc check` reports for this text, sorted; published, and the source of quick fixes.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Doc {
    /// Parses and checks `text` with the same functions as `flowc check`.
    pub(crate) fn new(text: String) -> Doc {
        let (file, parse_diags) = flow_syntax::parse(&text);
        let parsed = !parse_diags.iter().any(Diagnostic::is_error);
        let checked = flow_check::check_parsed(&file, parse_diags);
        // Its diagnostics are not published: a file with a syntax error shows only those.
        let partial = (!parsed).then(|| flow_check::check(&file).info);
        Doc { text, info: checked.info, partial, diagnostics: checked.diagnostics }
    }

    /// The checker's record of the declarations: the whole file's, or, when it did not parse,
    /// the declarations that did (what the outline, a declaration's hover and completion show).
    pub(crate) fn declarations(&self) -> &Info {
        self.partial.as_ref().unwrap_or(&self.info)
    }
}
