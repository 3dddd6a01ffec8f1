//! Hover: a declaration's header (a type's whole body; a derived type's resulting fields too) with its doc comment, a field's declared
//! type, a local's or any expression's type as the checker inferred it, a built-in's signature.

use flow_check::{Info, NameKind};
use flow_diagnostics::Span;
use lsp_types as lsp;

use crate::document::Doc;
use crate::navigation::{at, on, Symbol};

pub(crate) fn hover(doc: &Doc, p: lsp::HoverParams) -> Option<lsp::Hover> {
    let (_, offset, symbol) = at(doc, p.text_document_position_params.position);
    let value = markdown(doc, symbol.as_ref(), offset)?;
    Some(lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value }),
        range: None,
    })
}

fn markdown(doc: &Doc, symbol: Option<&Symbol>, offset: usize) -> Option<String> {
    let (text, info) = (&doc.text, &doc.info);
    match symbol {
        // A field named through a derived type: as it is there (`UserPatch.login?: String`),
        // then the base's declaration it comes from. A field of an object type written outside
        // a `type` declaration (an endpoint's response, a map's signature) has no recorded
        // declaration: its type, as below.
        Some(Symbol { decl, name: None, .. }) => {
            let derived = info.derived_field_uses.iter().find(|(s, _)| on(s, offset));
            match (derived, field_hover(text, info, *decl)) {
                (Some((_, shown)), Some(base)) => {
                    return Some(format!("```flow\n{shown}\n```\n\nderived from\n\n{base}"));
                }
                (Some((_, shown)), None) => return Some(format!("```flow\n{shown}\n```")),
                (None, Some(base)) => return Some(base),
                (None, None) => {}
            }
        }
        Some(Symbol { name: Some(n), .. }) if n.kind.is_global() => {
            let d = doc.declarations().decls.iter().find(|d| d.kind.is_some() && d.name_span == n.span)?;
            let source = text.get(d.span.range())?;
            let header = source.lines().next().unwrap_or("").trim_end_matches('{').trim_end();
            let body = if d.kind == Some(NameKind::Type) { source.trim_end() } else { header };
            let mut md = format!("```flow\n{body}\n```");
            // A derived type (`pick(User, id)`): the fields it came out with.
            if let Some((_, fields)) = info.derived_types.iter().find(|(s, _)| *s == n.span) {
                md.push_str(&format!("\n\n```flow\n{fields}\n```"));
            }
            return Some(with_doc(md, text, d.span));
        }
        Some(Symbol { name: Some(n), .. }) => {
            if let Some(ty) = &n.ty {
                return Some(format!("```flow\n{}: {ty}\n```", n.name));
            }
        }
        None => {}
    }
    if let Some((_, b)) = info.builtin_uses.iter().find(|(s, _)| on(s, offset)) {
        return Some(format!("```flow\n{}\n```", b.signature()));
    }
    expr_hover(text, info, offset)
}

/// `md`, then the doc comment of what is declared at `span`, if it has one.
fn with_doc(mut md: String, text: &str, span: Span) -> String {
    let doc = doc_comment(text, span.start as usize);
    if !doc.is_empty() {
        md.push_str(&format!("\n\n{doc}"));
    }
    md
}

/// The `//` lines right above a declaration: its doc comment.
fn doc_comment(text: &str, start: usize) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text[..start].lines().rev() {
        match line.trim().strip_prefix("//") {
            Some(c) => lines.push(c.trim()),
            None if line.trim().is_empty() && lines.is_empty() => continue,
            None => break,
        }
    }
    lines.reverse();
    lines.join("\n")
}

/// The field declaration whose name is at `name`: `Type.field: T` (its type as written), with
/// its doc comment.
fn field_hover(text: &str, info: &Info, name: Span) -> Option<String> {
    let field = info.field_decls.iter().find(|f| f.name_span == name)?;
    let mark = if field.optional { "?" } else { "" };
    let sensitive = if field.sensitive { "sensitive " } else { "" };
    let shown = format!("```flow\n{sensitive}{}{mark}: {}\n```", field.path, field.written);
    let shown = if field.sensitive {
        format!("{shown}\n\nsensitive: masked as `[sensitive]` in dead letters, logs, events, errors and `flowc runs`; sent to the API as it is")
    } else {
        shown
    };
    Some(with_doc(shown, text, field.span))
}

/// The type of the innermost expression at `offset`.
fn expr_hover(text: &str, info: &Info, offset: usize) -> Option<String> {
    let (span, ty) = info.expr_types.innermost(offset)?;
    let source = text.get(span.range())?;
    let shown = if source.len() > 60 || source.contains('\n') { "…" } else { source };
    Some(format!("```flow\n{shown}: {ty}\n```"))
}
