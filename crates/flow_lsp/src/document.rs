//! An open document and what one parse and one check of it found.

use flow_check::Info;
use flow_diagnostics::Diagnostic;
use flow_syntax::Reparser;

pub(crate) struct Doc {
    pub(crate) text: String,
    /// What the checker recorded of the file: of every declaration that parsed, when some did not
    /// (the checker checks those and skips only what depends on one that did not).
    pub(crate) info: Info,
    /// What `flowc check` reports for this text, sorted; published, and the source of quick fixes.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// The declarations of the last text, kept so that an edit re-parses only those it touched.
    parser: Reparser,
}

impl Doc {
    /// Parses and checks `text` with the same functions as `flowc check`.
    pub(crate) fn new(text: String) -> Doc {
        let mut doc =
            Doc { text: String::new(), info: Info::default(), diagnostics: Vec::new(), parser: Reparser::new() };
        doc.edit(text);
        doc
    }

    /// The document's new text: parsed again where it changed (the result is exactly a fresh
    /// parse's), then checked.
    pub(crate) fn edit(&mut self, text: String) {
        let (file, parse_diagnostics, _) = self.parser.parse(&text);
        let checked = flow_check::check_parsed(&file, parse_diagnostics);
        self.parser.keep(file);
        self.text = text;
        self.info = checked.info;
        self.diagnostics = checked.diagnostics;
    }

    /// The checker's record of the declarations (what the outline, a declaration's hover and
    /// completion show): with a syntax error, those that parsed.
    pub(crate) fn declarations(&self) -> &Info {
        &self.info
    }
}
