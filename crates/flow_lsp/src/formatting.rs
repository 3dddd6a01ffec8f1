//! Formatting: `flowc fmt`'s output as one edit of the whole text.

use flow_diagnostics::Span;
use lsp_types as lsp;

use crate::convert::Index;
use crate::document::Doc;

pub(crate) fn format(doc: &Doc, _: lsp::DocumentFormattingParams) -> Option<Vec<lsp::TextEdit>> {
    let text = &doc.text;
    Some(match flow_syntax::format(text) {
        Ok(formatted) if formatted != *text => {
            vec![lsp::TextEdit { range: Index::new(text).range(Span::new(0, text.len())), new_text: formatted }]
        }
        _ => Vec::new(),
    })
}
