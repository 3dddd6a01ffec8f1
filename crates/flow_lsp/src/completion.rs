//! Completion, from the checker's record alone: after a `.`, the fields the checker says the
//! value has; among the field names of a `pick(…)`/`omit(…)`, the fields of its base; at the
//! start of a line of an `api`, `endpoint` or `state` block, the settings it takes and has not set (the
//! checker's own lists); elsewhere the declared names the checker recorded, the built-ins and
//! the keywords.

use lsp_types as lsp;

use crate::convert::{completion_kind, declared_with, Index};
use crate::document::Doc;
use crate::rename::is_word_char;

const KEYWORDS: [&str; 20] = [
    "secret", "api", "type", "endpoint", "map", "flow", "table", "fn", "test", "let", "for", "in", "where", "if",
    "then", "else", "match", "catch", "expect", "null",
];

/// What the checker writes where a field's name is missing after a `.`, so that it records the
/// fields the value has there.
const PLACEHOLDER: &str = "__flowc_completion__";

pub(crate) fn completion(doc: &Doc, p: lsp::CompletionParams) -> Option<lsp::CompletionResponse> {
    let text = &doc.text;
    let offset = Index::new(text).offset(p.text_document_position.position).min(text.len());
    // After `a.b.` (and after `a.b.em`, the start of a field's name): the fields of the type that
    // path has, never the declared names.
    let word_start = start_of_run(&text[..offset], is_word_char);
    if text[..word_start].ends_with('.') {
        let fields = fields_after(text, word_start - 1).unwrap_or_default();
        let items = fields.into_iter().map(|(name, ty)| {
            // A key that is no word is inserted quoted, as a path must write it (`."+1"`).
            let written = flow_syntax::lex::key(&name);
            let insert_text = (written != name).then_some(written);
            lsp::CompletionItem { insert_text, ..item(name, lsp::CompletionItemKind::FIELD, Some(ty)) }
        });
        return Some(lsp::CompletionResponse::Array(items.collect()));
    }
    // A field's name in `pick(User, …)` or `omit(User, …)`: the fields of what it derives from.
    if in_derived_fields(&text[..word_start]) {
        let repaired = format!("{}{PLACEHOLDER}{}", &text[..word_start], &text[word_start..]);
        let (file, _) = flow_syntax::parse(&repaired);
        let info = flow_check::check(&file).info;
        if let Some((_, fields)) = info.field_choices.into_iter().find(|(span, _)| span.start as usize == word_start) {
            let items = fields.into_iter().map(|(name, ty)| {
                // An argument, so a reserved word is quoted too (`pick(Param, "in")`).
                let written = flow_syntax::lex::argument_key(&name);
                let insert_text = (written != name).then_some(written);
                lsp::CompletionItem { insert_text, ..item(name, lsp::CompletionItemKind::FIELD, Some(ty)) }
            });
            return Some(lsp::CompletionResponse::Array(items.collect()));
        }
    }
    // A setting's name at the start of a line of an `api`, `endpoint` or `state` block: the settings
    // that block takes and does not have yet. In a `flow` block a line may be a step too: its
    // settings come first, then what a step can start with.
    let settings = settings_at(text, word_start);
    let as_items = |settings: Vec<(&'static str, &'static str)>| -> Vec<lsp::CompletionItem> {
        settings
            .into_iter()
            .map(|(name, doc)| item(name.into(), lsp::CompletionItemKind::PROPERTY, Some(doc.into())))
            .collect()
    };
    let mut items = match settings {
        Some((settings, Block::Settings)) => return Some(lsp::CompletionResponse::Array(as_items(settings))),
        Some((settings, Block::Steps)) => as_items(settings),
        None => Vec::new(),
    };
    // A file that does not parse was not checked; its declarations that parsed are.
    let info = doc.declarations();
    items.extend(
        info.names
            .iter()
            .filter(|n| n.kind.is_global())
            .map(|n| item(n.name.clone(), completion_kind(n.kind), Some(declared_with(n.kind).into()))),
    );
    items.extend(
        flow_plan::Builtin::ALL
            .iter()
            .map(|b| item(b.name().into(), lsp::CompletionItemKind::FUNCTION, Some(b.signature().to_string()))),
    );
    items.extend(KEYWORDS.iter().map(|k| item(k.to_string(), lsp::CompletionItemKind::KEYWORD, None)));
    Some(lsp::CompletionResponse::Array(items))
}

fn item(label: String, kind: lsp::CompletionItemKind, detail: Option<String>) -> lsp::CompletionItem {
    lsp::CompletionItem { label, kind: Some(kind), detail, ..lsp::CompletionItem::default() }
}

/// The fields of the value before the `.` at `dot`, as the checker typed it: the text is
/// completed with a placeholder field and checked (every declaration that parses, so a mistake
/// elsewhere does not hide them), and the checker records which fields the value has. Works for
/// any expression: parameters, `let`s, loop variables, lambda parameters, response paths.
fn fields_after(text: &str, dot: usize) -> Option<Vec<(String, String)>> {
    let repaired = format!("{}.{PLACEHOLDER}{}", &text[..dot], &text[dot + 1..]);
    let (file, _) = flow_syntax::parse(&repaired);
    let info = flow_check::check(&file).info;
    info.field_choices.into_iter().find(|(span, _)| span.start as usize == dot + 1).map(|(_, fields)| fields)
}

/// Whether `before` (the text before the word being written) ends inside the field names of a
/// `pick(…)` or `omit(…)`: after a comma, with the call's `(` open on the same line and a
/// comma after the type it derives from.
fn in_derived_fields(before: &str) -> bool {
    let line = before.rsplit('\n').next().unwrap_or("");
    if !line.trim_end().ends_with(',') {
        return false;
    }
    let mut depth = 0usize;
    let mut commas = 0usize;
    for (i, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let callee = &line[start_of_run(&line[..i], |c| c.is_ascii_alphanumeric() || c == '_')..i];
                return commas > 0 && (callee == "pick" || callee == "omit");
            }
            ',' if depth == 0 => commas += 1,
            _ => {}
        }
    }
    false
}

/// Where the run of characters matching `keep` that ends `text` starts (a char boundary).
fn start_of_run(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.char_indices().rev().find(|(_, c)| !keep(*c)).map_or(0, |(i, c)| i + c.len_utf8())
}

/// What a block's lines hold: settings alone, or steps beside them (a `flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Settings,
    Steps,
}

/// The settings to offer for a word starting at `word_start`: when it is the first thing on its
/// line, directly inside an `api { … }`, `endpoint … { … }`, `flow … { … }` or a flow's
/// `state … { … }` block, the settings that block takes less those already set in it
/// (`name =` at the start of one of its lines), and what else its lines may hold.
fn settings_at(text: &str, word_start: usize) -> Option<(Vec<(&'static str, &'static str)>, Block)> {
    let before = &text[..word_start];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if !before[line_start..].trim().is_empty() {
        return None;
    }
    // The innermost `{` still open before the word (braces in strings and comments are rare
    // in a block's first lines and only make this offer nothing).
    let mut depth = 0usize;
    let open = before.char_indices().rev().find_map(|(i, c)| match c {
        '}' => {
            depth += 1;
            None
        }
        '{' if depth > 0 => {
            depth -= 1;
            None
        }
        '{' => Some(i),
        _ => None,
    })?;
    let opener = text[..open].rsplit('\n').next().unwrap_or("").trim_start();
    let (table, block): (&[(&'static str, &'static str)], Block) = if opener.starts_with("api ") {
        (&flow_check::API_PROPERTIES, Block::Settings)
    } else if opener.starts_with("endpoint ") {
        (&flow_check::ENDPOINT_PROPERTIES, Block::Settings)
    } else if opener.starts_with("state ") {
        (&flow_check::STATE_PROPERTIES, Block::Settings)
    } else if opener.starts_with("flow ") {
        (&flow_check::FLOW_PROPERTIES, Block::Steps)
    } else {
        return None;
    };
    // The block's text: from its `{` to the `}` that closes it (or the end of the file).
    let mut depth = 0usize;
    let close = text[open..]
        .char_indices()
        .find_map(|(i, c)| match c {
            '{' => {
                depth += 1;
                None
            }
            '}' if depth == 1 => Some(open + i),
            '}' => {
                depth -= 1;
                None
            }
            _ => None,
        })
        .unwrap_or(text.len());
    let set: Vec<&str> = text[open + 1..close]
        .lines()
        .filter_map(|l| {
            let (name, _) = l.split_once('=')?;
            let name = name.trim();
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(name)
        })
        .collect();
    Some((table.iter().copied().filter(|(name, _)| !set.contains(name)).collect(), block))
}
