//! An open document and what one parse and one check of it found.

use flow_check::{Info, Kept};
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
    /// What the last check keeps so that the next one, after an edit of one body, checks only
    /// that body (`flow_check::recheck_for_editor`); `None` when it could not be moved.
    kept: Option<Kept>,
    /// What the last edit replaced: freed by [`Doc::release`] once the new diagnostics are
    /// published, not before, since freeing a large file's record is a good part of an edit's
    /// work.
    replaced: Option<Replaced>,
}

/// The text, the checker's record and the diagnostics an edit replaced.
struct Replaced {
    _text: String,
    _info: Info,
    _diagnostics: Vec<Diagnostic>,
}

impl Doc {
    /// Parses and checks `text` with the same functions as `flowc check` (without building the
    /// plan, which an editor never reads).
    pub(crate) fn new(text: String) -> Doc {
        let mut doc = Doc {
            text: String::new(),
            info: Info::default(),
            diagnostics: Vec::new(),
            parser: Reparser::new(),
            kept: None,
            replaced: None,
        };
        doc.edit(text);
        doc
    }

    /// The document's new text: parsed again where it changed (the result is exactly a fresh
    /// parse's), then checked, unless every declaration is the last text's, only moved: then the
    /// last check's diagnostics and record are moved instead (exactly a fresh check's). When the
    /// edit changed one declaration's body only, only that body is checked again, the others'
    /// results taken from the last check (`flow_check::recheck_for_editor`, exactly a fresh
    /// check's too).
    pub(crate) fn edit(&mut self, text: String) {
        let (file, parse_diagnostics, _) = self.parser.parse(&text);
        if let Some(moves) = self.parser.moves() {
            // The same declarations, only moved (an edit of a comment or of blank lines): the
            // last check's result, moved the same way, is this file's (`flow_check::move_spans`).
            let to = |s| moves.span(s);
            if flow_check::move_spans(&mut self.info, &mut self.diagnostics, &to) {
                if !self.kept.as_mut().is_some_and(|k| k.move_spans(&to)) {
                    self.kept = None;
                }
                self.parser.keep(file);
                let text = std::mem::replace(&mut self.text, text);
                self.replaced = Some(Replaced { _text: text, _info: Info::default(), _diagnostics: Vec::new() });
                return;
            }
        }
        let (checked, kept) = match (self.parser.edited(), self.kept.take()) {
            (Some(edited), Some(kept)) => {
                let last = (std::mem::take(&mut self.info), kept);
                flow_check::recheck_for_editor(&file, parse_diagnostics, last, edited.decl(), &|s| edited.span(s))
            }
            _ => flow_check::check_parsed_keeping(&file, parse_diagnostics),
        };
        self.kept = Some(kept);
        self.parser.keep(file);
        let text = std::mem::replace(&mut self.text, text);
        let info = std::mem::replace(&mut self.info, checked.info);
        let diagnostics = std::mem::replace(&mut self.diagnostics, checked.diagnostics);
        // Still held from an edit whose diagnostics were not released: freed now.
        self.replaced = Some(Replaced { _text: text, _info: info, _diagnostics: diagnostics });
    }

    /// Frees what the last edit replaced; the server calls it once the edit's diagnostics are
    /// published, so that a keystroke does not wait for it.
    pub(crate) fn release(&mut self) {
        self.replaced = None;
    }

    /// The checker's record of the declarations (what the outline, a declaration's hover and
    /// completion show): with a syntax error, those that parsed.
    pub(crate) fn declarations(&self) -> &Info {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A comment put in before a declaration, and blank lines at the end: the edit moves the last
    /// check's result (the re-parse says every declaration only moved), and what the document
    /// then holds is exactly what a fresh document of the new text holds.
    #[test]
    fn an_edit_of_comments_moves_the_last_check_and_equals_a_fresh_one() {
        let text = "type Order { id: Int, email: String }\ntype Contact { email: String }\nmap to_contact(o: Order) -> Contact {\n  let unused = 1\n  email = lower(o.emial)\n}\n";
        let mut doc = Doc::new(text.to_string());
        assert!(doc.diagnostics.iter().any(|d| d.is_error() && !d.fixes.is_empty()), "{:#?}", doc.diagnostics);
        let at = text.find("map ").expect("a map");
        let edited = format!("{}// about the map\n{}\n\n", &text[..at], &text[at..]);
        doc.edit(edited.clone());
        assert!(doc.parser.moves().is_some(), "the edit only moved declarations");
        let fresh = Doc::new(edited);
        assert_eq!(doc.diagnostics, fresh.diagnostics);
        assert_eq!(format!("{:?}", doc.info), format!("{:?}", fresh.info));
        // An edit of the code is checked again.
        let typed = doc.text.replace("o.emial", "o.email");
        doc.edit(typed.clone());
        assert!(doc.parser.moves().is_none());
        assert_eq!(doc.diagnostics, Doc::new(typed).diagnostics);
    }

    /// A file the scan refuses (brackets nested too deeply) has no pieces, as the empty file
    /// before it had none: it is not the empty file moved, and its error is published.
    #[test]
    fn a_file_the_scan_refuses_after_an_empty_one_is_checked_again() {
        let mut doc = Doc::new(String::new());
        assert!(doc.diagnostics.is_empty());
        let deep = format!(
            "map m(x: Int) -> Int {{
  y = {}x{}
}}
",
            "(".repeat(100),
            ")".repeat(100)
        );
        doc.edit(deep.clone());
        assert!(doc.parser.moves().is_none());
        let fresh = Doc::new(deep);
        assert!(fresh.diagnostics.iter().any(Diagnostic::is_error), "{:#?}", fresh.diagnostics);
        assert_eq!(doc.diagnostics, fresh.diagnostics);
    }
}
