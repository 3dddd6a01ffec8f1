//! The outline: every declaration the checker collected, in file order.

use lsp_types as lsp;

use crate::convert::{declared_with, symbol_kind, Index};
use crate::document::Doc;

pub(crate) fn symbols(doc: &Doc, _: lsp::DocumentSymbolParams) -> Option<lsp::DocumentSymbolResponse> {
    let index = Index::new(&doc.text);
    #[allow(deprecated)] // `deprecated` is a field of the type; it must be given.
    let symbols = doc
        .declarations()
        .decls
        .iter()
        .map(|d| lsp::DocumentSymbol {
            name: d.name.clone(),
            detail: Some(d.kind.map_or("test", declared_with).to_string()),
            kind: symbol_kind(d.kind),
            tags: None,
            deprecated: None,
            range: index.range(d.span),
            selection_range: index.range(d.name_span),
            children: None,
        })
        .collect();
    Some(lsp::DocumentSymbolResponse::Nested(symbols))
}
