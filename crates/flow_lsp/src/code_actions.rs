//! Quick fixes: the structured fixes of the diagnostics in the requested range, as the checker
//! attached them. Nothing is read back from a diagnostic's words.

use std::collections::HashMap;

use lsp_types as lsp;

use crate::convert::{self, Index};
use crate::document::Doc;

pub(crate) fn code_actions(doc: &Doc, p: lsp::CodeActionParams) -> Option<lsp::CodeActionResponse> {
    let index = Index::new(&doc.text);
    let uri = &p.text_document.uri;
    let (from, to) = (index.offset(p.range.start), index.offset(p.range.end));
    let mut actions = Vec::new();
    for d in &doc.diagnostics {
        let Some(span) = d.primary_span() else { continue };
        if (span.end as usize) < from || (span.start as usize) > to {
            continue;
        }
        for fix in &d.fixes {
            let edits =
                fix.edits.iter().map(|e| lsp::TextEdit { range: index.range(e.span), new_text: e.replacement.clone() });
            actions.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: fix.title.clone(),
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![convert::diagnostic(d, &index, uri)]),
                edit: Some(lsp::WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits.collect())])),
                    ..lsp::WorkspaceEdit::default()
                }),
                is_preferred: Some(d.fixes.len() == 1),
                ..lsp::CodeAction::default()
            }));
        }
    }
    Some(actions)
}
