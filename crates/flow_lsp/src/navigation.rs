//! What is under the cursor, as the checker resolved it, and where else it is named:
//! definition, references and highlights.

use flow_check::{Info, NameDecl};
use flow_diagnostics::Span;
use lsp_types as lsp;

use crate::convert::Index;
use crate::document::Doc;

pub(crate) fn on(s: &Span, offset: usize) -> bool {
    (s.start as usize) <= offset && offset <= s.end as usize
}

/// A symbol under the cursor: where it is declared, and every span that names it (the
/// declaration first, then the uses in order), all from the checker's record. A field of a
/// declared type, or a declared name; nothing else (an object key, a property, a word in a
/// comment) is a symbol.
pub(crate) struct Symbol<'a> {
    pub(crate) decl: Span,
    pub(crate) spans: Vec<Span>,
    /// `None` for a field of a declared type.
    pub(crate) name: Option<&'a NameDecl>,
}

pub(crate) fn symbol_at(info: &Info, offset: usize) -> Option<Symbol<'_>> {
    if let Some((decl, spans)) = field_at(info, offset) {
        return Some(Symbol { decl, spans, name: None });
    }
    let decl = info
        .name_uses
        .iter()
        .find(|(u, _)| on(u, offset))
        .map(|(_, d)| *d)
        .or_else(|| info.names.iter().find(|n| on(&n.span, offset)).map(|n| n.span))?;
    let name = info.names.iter().find(|n| n.span == decl)?;
    let mut spans: Vec<Span> = info.name_uses.iter().filter(|(_, d)| *d == decl).map(|(u, _)| *u).collect();
    spans.sort_by_key(|s| (s.start, s.end));
    spans.dedup();
    spans.retain(|s| *s != decl);
    spans.insert(0, decl);
    Some(Symbol { decl, spans, name: Some(name) })
}

/// The field at `offset` (a use, or its declaration): the declaration's name span, and every
/// span that names that field (declaration first).
fn field_at(info: &Info, offset: usize) -> Option<(Span, Vec<Span>)> {
    let decl = info
        .field_uses
        .iter()
        .find(|(u, _)| on(u, offset))
        .map(|(_, d)| *d)
        .or_else(|| info.field_decls.iter().find(|f| on(&f.name_span, offset)).map(|f| f.name_span))?;
    let mut uses: Vec<Span> = info.field_uses.iter().filter(|(_, d)| *d == decl).map(|(u, _)| *u).collect();
    uses.sort_by_key(|s| (s.start, s.end));
    uses.dedup();
    uses.insert(0, decl);
    Some((decl, uses))
}

/// The symbol at a position of a document, with the document's index.
pub(crate) fn at<'d>(doc: &'d Doc, pos: lsp::Position) -> (Index<'d>, usize, Option<Symbol<'d>>) {
    let index = Index::new(&doc.text);
    let offset = index.offset(pos);
    (index, offset, symbol_at(&doc.info, offset))
}

pub(crate) fn definition(doc: &Doc, p: lsp::GotoDefinitionParams) -> Option<lsp::GotoDefinitionResponse> {
    let tp = p.text_document_position_params;
    let (index, _, symbol) = at(doc, tp.position);
    symbol.map(|s| lsp::GotoDefinitionResponse::Scalar(index.location(&tp.text_document.uri, s.decl)))
}

pub(crate) fn references(doc: &Doc, p: lsp::ReferenceParams) -> Option<Vec<lsp::Location>> {
    let tp = p.text_document_position;
    let (index, _, symbol) = at(doc, tp.position);
    let spans = symbol.map(|s| s.spans).unwrap_or_default();
    let skip = usize::from(!p.context.include_declaration);
    Some(spans.into_iter().skip(skip).map(|s| index.location(&tp.text_document.uri, s)).collect())
}

pub(crate) fn highlights(doc: &Doc, p: lsp::DocumentHighlightParams) -> Option<Vec<lsp::DocumentHighlight>> {
    let (index, _, symbol) = at(doc, p.text_document_position_params.position);
    let Some(s) = symbol else { return Some(Vec::new()) };
    // The declaration is where the name is written, every use where it is read.
    let kind = |sp: &Span| {
        if *sp == s.decl {
            lsp::DocumentHighlightKind::WRITE
        } else {
            lsp::DocumentHighlightKind::READ
        }
    };
    Some(s.spans.iter().map(|sp| lsp::DocumentHighlight { range: index.range(*sp), kind: Some(kind(sp)) }).collect())
}
