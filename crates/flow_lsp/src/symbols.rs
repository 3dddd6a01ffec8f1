//! The outline: every declaration the parser read, in file order.

use lsp_types as lsp;

use crate::convert::{symbol_kind, Index};
use crate::document::Doc;

pub(crate) fn symbols(doc: &Doc, _: lsp::DocumentSymbolParams) -> Option<lsp::DocumentSymbolResponse> {
    let index = Index::new(&doc.text);
    #[allow(deprecated)] // `deprecated` is a field of the type; it must be given.
    let symbols = doc
        .file
        .decls
        .iter()
        .map(|d| lsp::DocumentSymbol {
            name: d.name().name.clone(),
            detail: Some(d.kind().to_string()),
            kind: symbol_kind(d),
            tags: None,
            deprecated: None,
            range: index.range(d.span()),
            selection_range: index.range(d.name().span),
            children: None,
        })
        .collect();
    Some(lsp::DocumentSymbolResponse::Nested(symbols))
}
