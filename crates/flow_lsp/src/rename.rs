//! Rename: every span the checker recorded for the symbol, refused where the new name would
//! change what the file means.

use std::collections::HashMap;

use flow_check::NameKind;
use flow_diagnostics::Span;
use lsp_types as lsp;

use crate::document::Doc;
use crate::navigation::{at, on, Symbol};

pub(crate) fn prepare(doc: &Doc, p: lsp::TextDocumentPositionParams) -> Option<lsp::PrepareRenameResponse> {
    let (index, offset, symbol) = at(doc, p.position);
    let s = symbol?;
    let here = s.spans.iter().find(|sp| on(sp, offset)).copied().unwrap_or(s.decl);
    let text = doc.text.get(here.range()).unwrap_or_default();
    Some(lsp::PrepareRenameResponse::RangeWithPlaceholder {
        range: index.range(here),
        // A field is shown by its name, not as the source quotes it (`"+1"` is `+1`).
        placeholder: if s.name.is_none() { flow_syntax::lex::key_value(text) } else { text.to_string() },
    })
}

/// An error is a rename that cannot be carried out, with the reason.
pub(crate) fn rename(doc: &Doc, p: lsp::RenameParams) -> Result<Option<lsp::WorkspaceEdit>, String> {
    let tp = p.text_document_position;
    let (index, _, symbol) = at(doc, tp.position);
    let Some(s) = symbol else { return Ok(None) };
    // A field may become any JSON key: each place names it bare when it is a word, quoted
    // otherwise (every place a field is named takes either); a declared name must be a name.
    let new_text = if s.name.is_none() {
        let key = flow_syntax::lex::key(&flow_syntax::lex::key_value(&p.new_name));
        check_field_rename(&s, doc, &key)?;
        key
    } else {
        check_rename(&s, doc, &p.new_name)?;
        p.new_name.clone()
    };
    let edits = s
        .spans
        .iter()
        .map(|sp| {
            // A field named as an argument of `pick`/`omit` is an expression there: a reserved
            // word is quoted (`pick(Param, "in")`), as the grammar reads no name of one.
            let new_text = match s.name.is_none() && derivation_argument(&doc.text, *sp) {
                true => flow_syntax::lex::argument_key(&flow_syntax::lex::key_value(&new_text)),
                false => new_text.clone(),
            };
            lsp::TextEdit { range: index.range(*sp), new_text }
        })
        .collect();
    Ok(Some(lsp::WorkspaceEdit {
        changes: Some(HashMap::from([(tp.text_document.uri, edits)])),
        ..lsp::WorkspaceEdit::default()
    }))
}

/// Whether the field named at `span` is an argument of `pick(…)`/`omit(…)` after the base: the
/// only place a field's name is written between a `,` and a `,` or `)` (a declaration or an
/// object's key has `:` after it, a map's output `=`, a path `.` before it).
fn derivation_argument(text: &str, span: Span) -> bool {
    let before = text.get(..span.start as usize).unwrap_or_default().trim_end();
    let after = text.get(span.end as usize..).unwrap_or_default().trim_start();
    before.ends_with(',') && (after.starts_with(',') || after.starts_with(')'))
}

/// Words a name cannot become: the grammar's reserved words, the declaration keywords, and the
/// words with a fixed meaning where names are also written.
const NOT_NAMES: [&str; 26] = [
    "if",
    "then",
    "else",
    "true",
    "false",
    "null",
    "let",
    "for",
    "in",
    "where",
    "match",
    "catch",
    "secret",
    "api",
    "type",
    "endpoint",
    "map",
    "flow",
    "table",
    "fn",
    "test",
    "expect",
    "response",
    "body",
    "idempotency_key",
    "batch",
];

/// A field may not take the name of another field of its type (`key` as the source writes it).
fn check_field_rename(s: &Symbol, doc: &Doc, key: &str) -> Result<(), String> {
    let decls = &doc.info.field_decls;
    let Some(owner) = decls.iter().find(|f| f.name_span == s.decl).map(|f| &f.path) else { return Ok(()) };
    // `Type.key`, or `Type.field.key` in an object type written inline: the path without the
    // field's own key (as the path writes it) is what owns it.
    let old = flow_syntax::lex::key(&flow_syntax::lex::key_value(doc.text.get(s.decl.range()).unwrap_or_default()));
    let ty = owner.strip_suffix(&old).and_then(|o| o.strip_suffix('.')).unwrap_or(owner);
    let clash = decls.iter().any(|f| f.name_span != s.decl && f.path == format!("{ty}.{key}"));
    if clash {
        return Err(format!("`{ty}` already has a field `{key}`"));
    }
    Ok(())
}

/// Whether renaming to `new_name` keeps the file's meaning: the new name is a name, and it
/// neither clashes with nor captures another.
fn check_rename(s: &Symbol, doc: &Doc, new_name: &str) -> Result<(), String> {
    let (text, info) = (&doc.text, &doc.info);
    if !is_name(new_name) || NOT_NAMES.contains(&new_name) {
        return Err(format!("`{new_name}` is not a name that can be declared"));
    }
    let Some(name) = s.name else { return Ok(()) };
    if new_name == name.name {
        return Ok(());
    }
    if name.kind == NameKind::State {
        return Err("`state` is a word of the language; rename the state's field instead".into());
    }
    if flow_plan::Builtin::from_name(new_name).is_some() {
        return Err(format!("`{new_name}` is a built-in function"));
    }
    if name.kind == NameKind::Type
        && ["String", "Int", "Float", "Decimal", "Bool", "Date", "DateTime"].contains(&new_name)
    {
        return Err(format!("`{new_name}` is a built-in type"));
    }
    if let Some(other) = info.names.iter().find(|n| n.name == new_name && n.kind.is_global()) {
        return Err(format!("`{new_name}` is already declared (line {})", line_of(text, other.span) + 1));
    }
    if !name.kind.is_global() {
        // A local: no other local of that name in the same declaration.
        let within = info.decls.iter().map(|d| d.span).find(|d| d.range().contains(&(name.span.start as usize)));
        let clash = info
            .names
            .iter()
            .find(|n| n.name == new_name && within.is_some_and(|d| d.range().contains(&(n.span.start as usize))));
        if let Some(other) = clash {
            return Err(format!("`{new_name}` is already a name here (line {})", line_of(text, other.span) + 1));
        }
    }
    // Every span must read the old name: a use inside a string (a path's `{id}`) whose text
    // differs from its value (an escape before it) cannot be renamed in place.
    if s.spans.iter().any(|sp| text.get(sp.range()) != Some(name.name.as_str())) {
        return Err(format!("a use of `{}` could not be located exactly; rename it by hand", name.name));
    }
    Ok(())
}

fn line_of(text: &str, span: Span) -> usize {
    text[..(span.start as usize).min(text.len())].matches('\n').count()
}

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && s.chars().all(is_word_char)
}
