//! The `.flow` language server, `flowc lsp`: the only crate that knows LSP. Diagnostics are
//! `flowc check`'s own (same codes, spans and messages); formatting is `flowc fmt`'s.
//! Positions are converted to UTF-16 columns here and nowhere else.

use std::collections::HashMap;

use flow_check::{Info, NameDecl};
use flow_diagnostics::{Diagnostic, Severity, Span};
use flow_syntax::ast;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response, ResponseError};
use lsp_types as lsp;
use serde_json::{json, Value};

/// Serves the protocol on stdin and stdout until the client says `exit`.
pub fn run_stdio() -> Result<(), String> {
    let (connection, threads) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    threads.join().map_err(|e| e.to_string())
}

/// Serves one connection (stdio, or in memory for tests).
pub fn serve(connection: &Connection) -> Result<(), String> {
    let capabilities = json!({
        "textDocumentSync": 1,
        "hoverProvider": true,
        "definitionProvider": true,
        "referencesProvider": true,
        "documentHighlightProvider": true,
        "renameProvider": { "prepareProvider": true },
        "documentSymbolProvider": true,
        "documentFormattingProvider": true,
        "codeActionProvider": true,
        "completionProvider": { "triggerCharacters": ["."] },
    });
    connection.initialize(capabilities).map_err(|e| e.to_string())?;
    let mut docs: HashMap<String, Doc> = HashMap::new();
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if connection.handle_shutdown(&req).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                let response = match handle(&req, &docs) {
                    Ok(result) => Response { id: req.id, result: Some(result), error: None },
                    Err(message) => Response {
                        id: req.id,
                        result: None,
                        error: Some(ResponseError { code: ErrorCode::RequestFailed as i32, message, data: None }),
                    },
                };
                connection.sender.send(Message::Response(response)).map_err(|e| e.to_string())?;
            }
            Message::Notification(n) => {
                if let Some(uri) = update(&n, &mut docs) {
                    let Some(doc) = docs.get_mut(&uri) else { continue };
                    // One check per edit: its diagnostics are published, its types and field
                    // references answer hover, definition, references and rename.
                    let (file, parse_diags) = flow_syntax::parse(&doc.text);
                    let checked = flow_check::check_parsed(&file, parse_diags);
                    doc.file = file;
                    let index = Index::new(&doc.text);
                    let diagnostics: Vec<Value> =
                        checked.diagnostics.iter().map(|d| lsp_diagnostic(d, &index, &uri)).collect();
                    doc.info = checked.info;
                    let params = json!({ "uri": uri, "diagnostics": diagnostics });
                    let note = Notification::new("textDocument/publishDiagnostics".into(), params);
                    connection.sender.send(Message::Notification(note)).map_err(|e| e.to_string())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// An open document: its text and what the checker learned from it.
struct Doc {
    text: String,
    file: ast::File,
    info: Info,
}

/// Applies didOpen/didChange/didClose; the URI whose diagnostics must be published.
fn update(n: &Notification, docs: &mut HashMap<String, Doc>) -> Option<String> {
    let p = &n.params;
    let uri = p["textDocument"]["uri"].as_str()?.to_string();
    match n.method.as_str() {
        "textDocument/didOpen" => {
            let text = p["textDocument"]["text"].as_str()?.to_string();
            docs.insert(uri.clone(), Doc { text, file: ast::File::default(), info: Info::default() });
            Some(uri)
        }
        "textDocument/didChange" => {
            // Full sync: the last change holds the whole text.
            let text = p["contentChanges"].as_array()?.last()?["text"].as_str()?.to_string();
            docs.insert(uri.clone(), Doc { text, file: ast::File::default(), info: Info::default() });
            Some(uri)
        }
        "textDocument/didClose" => {
            docs.remove(&uri);
            None
        }
        _ => None,
    }
}

/// Answers one request; an error is a request that cannot be carried out (a rename that would
/// change what the file means), with the reason.
fn handle(req: &Request, docs: &HashMap<String, Doc>) -> Result<Value, String> {
    let p = &req.params;
    let uri = p["textDocument"]["uri"].as_str().unwrap_or_default().to_string();
    let Some(Doc { text, file, info }) = docs.get(&uri) else { return Ok(Value::Null) };
    let index = Index::new(text);
    let at = p.get("position").map(|pos| index.offset(pos));
    // What is under the cursor, as the checker resolved it: a field of a declared type, or a
    // declared name. Nothing else (an object key, a property, a word in a comment) is a symbol.
    let symbol = at.and_then(|o| symbol_at(info, o));
    let location = |s: Span| json!({ "uri": uri, "range": index.range(s) });
    Ok(match req.method.as_str() {
        "textDocument/formatting" => match flow_syntax::format(text) {
            Ok(formatted) if formatted != *text => {
                json!([{ "range": index.range(Span::new(0, text.len())), "newText": formatted }])
            }
            _ => json!([]),
        },
        "textDocument/documentSymbol" => symbols(file, &index),
        "textDocument/definition" => symbol.map_or(Value::Null, |s| location(s.decl)),
        "textDocument/references" => {
            let with_decl = p["context"]["includeDeclaration"].as_bool().unwrap_or(true);
            let spans = symbol.map(|s| s.spans).unwrap_or_default();
            json!(spans.into_iter().skip(usize::from(!with_decl)).map(location).collect::<Vec<_>>())
        }
        "textDocument/documentHighlight" => match symbol {
            // 3 is a write (the declaration), 2 a read (a use).
            Some(s) => json!(s
                .spans
                .iter()
                .map(|sp| json!({ "range": index.range(*sp), "kind": if *sp == s.decl { 3 } else { 2 } }))
                .collect::<Vec<_>>()),
            None => json!([]),
        },
        "textDocument/prepareRename" => match symbol {
            Some(s) => {
                let here = s.spans.iter().find(|sp| at.is_some_and(|o| on(sp, o))).copied().unwrap_or(s.decl);
                json!({ "range": index.range(here), "placeholder": text.get(here.range()).unwrap_or_default() })
            }
            None => Value::Null,
        },
        "textDocument/rename" => {
            let Some(s) = symbol else { return Ok(Value::Null) };
            let new_name = p["newName"].as_str().unwrap_or_default();
            s.check_rename(text, file, info, new_name)?;
            let edits: Vec<Value> =
                s.spans.iter().map(|sp| json!({ "range": index.range(*sp), "newText": new_name })).collect();
            json!({ "changes": { uri: edits } })
        }
        "textDocument/hover" => match at.and_then(|o| hover(text, file, info, symbol.as_ref(), o)) {
            Some(md) => json!({ "contents": { "kind": "markdown", "value": md } }),
            None => Value::Null,
        },
        "textDocument/completion" => completion(text, file, at.unwrap_or(0)),
        "textDocument/codeAction" => code_actions(text, &index, &uri, p),
        _ => Value::Null,
    })
}

fn on(s: &Span, offset: usize) -> bool {
    (s.start as usize) <= offset && offset <= s.end as usize
}

/// A symbol under the cursor: where it is declared, and every span that names it (the
/// declaration first, then the uses in order), all from the checker's record.
struct Symbol<'a> {
    decl: Span,
    spans: Vec<Span>,
    /// `None` for a field of a declared type.
    name: Option<&'a NameDecl>,
}

fn symbol_at(info: &Info, offset: usize) -> Option<Symbol<'_>> {
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

impl Symbol<'_> {
    /// Whether renaming to `new_name` keeps the file's meaning: the new name is a name, and it
    /// neither clashes with nor captures another.
    fn check_rename(&self, text: &str, file: &ast::File, info: &Info, new_name: &str) -> Result<(), String> {
        if !is_name(new_name) || NOT_NAMES.contains(&new_name) {
            return Err(format!("`{new_name}` is not a name that can be declared"));
        }
        let Some(name) = self.name else { return Ok(()) };
        if new_name == name.name {
            return Ok(());
        }
        if flow_plan::Builtin::from_name(new_name).is_some() {
            return Err(format!("`{new_name}` is a built-in function"));
        }
        if name.kind == flow_check::NameKind::Type
            && ["String", "Int", "Float", "Decimal", "Bool", "Date", "DateTime"].contains(&new_name)
        {
            return Err(format!("`{new_name}` is a built-in type"));
        }
        if let Some(other) = info.names.iter().find(|n| n.name == new_name && n.kind.is_global()) {
            return Err(format!("`{new_name}` is already declared (line {})", line_of(text, other.span) + 1));
        }
        if !name.kind.is_global() {
            // A local: no other local of that name in the same declaration.
            let within = file.decls.iter().map(|d| d.span()).find(|d| d.range().contains(&(name.span.start as usize)));
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
        if self.spans.iter().any(|s| text.get(s.range()) != Some(name.name.as_str())) {
            return Err(format!("a use of `{}` could not be located exactly; rename it by hand", name.name));
        }
        Ok(())
    }
}

fn line_of(text: &str, span: Span) -> usize {
    text[..(span.start as usize).min(text.len())].matches('\n').count()
}

/// Byte offsets to LSP positions (UTF-16 columns) and back.
struct Index<'a> {
    text: &'a str,
    lines: flow_diagnostics::LineIndex,
}

impl<'a> Index<'a> {
    fn new(text: &'a str) -> Index<'a> {
        Index { text, lines: flow_diagnostics::LineIndex::new(text) }
    }

    fn position(&self, offset: usize) -> lsp::Position {
        let offset = offset.min(self.text.len());
        let line = self.lines.line(offset);
        let start = self.lines.line_start(line);
        let col = self.text.get(start..offset).map_or(0, |s| s.encode_utf16().count());
        lsp::Position::new(line as u32, col as u32)
    }

    fn range(&self, span: Span) -> lsp::Range {
        lsp::Range::new(self.position(span.start as usize), self.position(span.end as usize))
    }

    fn offset(&self, pos: &Value) -> usize {
        let line = pos["line"].as_u64().unwrap_or(0) as usize;
        let col = pos["character"].as_u64().unwrap_or(0) as usize;
        let start = self.lines.line_start(line).min(self.text.len());
        let mut units = 0;
        for (i, c) in self.text[start..].char_indices() {
            if units >= col || c == '\n' {
                return start + i;
            }
            units += c.len_utf16();
        }
        self.text.len()
    }
}

fn lsp_diagnostic(d: &Diagnostic, index: &Index, uri: &str) -> Value {
    let span = d.primary_span().unwrap_or_default();
    let mut message = d.message.clone();
    for n in &d.notes {
        message.push_str(&format!("\nnote: {n}"));
    }
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    let related: Vec<Value> = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .map(|l| json!({ "location": { "uri": uri, "range": index.range(l.span) }, "message": l.message }))
        .collect();
    json!({
        "range": index.range(span),
        "severity": if d.severity == Severity::Error { 1 } else { 2 },
        "code": d.code,
        "source": "flowc",
        "message": message,
        "relatedInformation": related,
    })
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Where the run of characters matching `keep` that ends `text` starts (a char boundary).
fn start_of_run(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.char_indices().rev().find(|(_, c)| !keep(*c)).map_or(0, |(i, c)| i + c.len_utf8())
}

fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && s.chars().all(is_word_char)
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

/// The field at `offset` (a use, or its declaration): the declaration's name span, and every
/// span that names that field (declaration first), for definition, references and rename.
fn field_at(info: &Info, offset: usize) -> Option<(Span, Vec<Span>)> {
    let on = |s: &Span| (s.start as usize) <= offset && offset <= s.end as usize;
    let decl = info
        .field_uses
        .iter()
        .find(|(u, _)| on(u))
        .map(|(_, d)| *d)
        .or_else(|| info.field_decls.iter().find(|(d, _)| on(d)).map(|(d, _)| *d))?;
    let mut uses: Vec<Span> = info.field_uses.iter().filter(|(_, d)| *d == decl).map(|(u, _)| *u).collect();
    uses.sort_by_key(|s| (s.start, s.end));
    uses.dedup();
    uses.insert(0, decl);
    Some((decl, uses))
}

/// The field declaration whose name is at `name`: `Type.field: T`, with its doc comment.
fn field_hover(text: &str, file: &ast::File, info: &Info, name: Span) -> Option<String> {
    let (_, owner) = info.field_decls.iter().find(|(d, _)| *d == name)?;
    let field = file.decls.iter().find_map(|d| match d {
        ast::Decl::Type(t) => match &t.ty.kind {
            ast::TypeExprKind::Object(fields) => fields.iter().find(|f| f.name.span == name),
            _ => None,
        },
        _ => None,
    })?;
    let mark = if field.optional { "?" } else { "" };
    let mut md = format!("```flow\n{owner}{mark}: {}\n```", type_text(&field.ty));
    let doc = doc_comment(text, field.span.start as usize);
    if !doc.is_empty() {
        md.push_str(&format!("\n\n{doc}"));
    }
    Some(md)
}

/// The type of the innermost expression at `offset`.
fn expr_hover(text: &str, info: &Info, offset: usize) -> Option<String> {
    let (span, ty) = info
        .expr_types
        .iter()
        .filter(|(s, _)| (s.start as usize) <= offset && offset < s.end as usize)
        .min_by_key(|(s, _)| s.end - s.start)?;
    let source = text.get(span.range())?;
    let shown = if source.len() > 60 || source.contains('\n') { "…" } else { source };
    Some(format!("```flow\n{shown}: {ty}\n```"))
}

fn hover(text: &str, file: &ast::File, info: &Info, symbol: Option<&Symbol>, offset: usize) -> Option<String> {
    match symbol {
        Some(Symbol { decl, name: None, .. }) => return field_hover(text, file, info, *decl),
        Some(Symbol { name: Some(n), .. }) if n.kind.is_global() => {
            let d = file.decls.iter().find(|d| !matches!(d, ast::Decl::Test(_)) && d.name().span == n.span)?;
            let span = d.span();
            let source = &text[span.range()];
            let header = source.lines().next().unwrap_or("").trim_end_matches('{').trim_end();
            let doc = doc_comment(text, span.start as usize);
            let body = if matches!(d, ast::Decl::Type(_)) { source.trim_end() } else { header };
            let mut md = format!("```flow\n{body}\n```");
            if !doc.is_empty() {
                md.push_str(&format!("\n\n{doc}"));
            }
            return Some(md);
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

const KEYWORDS: [&str; 20] = [
    "secret", "api", "type", "endpoint", "map", "flow", "table", "fn", "test", "let", "for", "in", "where", "if",
    "then", "else", "match", "catch", "expect", "null",
];

fn completion(text: &str, file: &ast::File, offset: usize) -> Value {
    let offset = offset.min(text.len());
    // After `a.b.` (and after `a.b.em`, the start of a field's name): the fields of the type that
    // path has, never the declared names.
    let word_start = start_of_run(&text[..offset], is_word_char);
    if text[..word_start].ends_with('.') {
        let dot = word_start - 1;
        if let Some(fields) = checked_fields(text, dot).or_else(|| fields_before(text, dot)) {
            return json!(fields
                .into_iter()
                .map(|(name, ty)| json!({ "label": name, "kind": 5, "detail": ty }))
                .collect::<Vec<_>>());
        }
        return json!([]);
    }
    let mut items: Vec<Value> = file
        .decls
        .iter()
        .filter(|d| !matches!(d, ast::Decl::Test(_)))
        .map(|d| {
            let kind = match d {
                ast::Decl::Type(_) => 22,
                ast::Decl::Map(_) | ast::Decl::Function(_) => 3,
                ast::Decl::Secret(_) => 21,
                _ => 6,
            };
            json!({ "label": d.name().name, "kind": kind, "detail": d.kind() })
        })
        .collect();
    items.extend(
        flow_plan::Builtin::ALL.iter().map(|b| json!({ "label": b.name(), "kind": 3, "detail": b.signature() })),
    );
    items.extend(KEYWORDS.iter().map(|k| json!({ "label": k, "kind": 14 })));
    json!(items)
}

/// The fields of the value before the `.` at `dot`, as the checker typed it: the text is
/// completed with a placeholder field and checked, and the checker says which fields the value
/// has. Works for any expression: parameters, `let`s, loop variables, lambda parameters.
fn checked_fields(text: &str, dot: usize) -> Option<Vec<(String, String)>> {
    let repaired = format!("{}.{PLACEHOLDER}{}", &text[..dot], &text[dot + 1..]);
    let checked = flow_check::check_source(&repaired);
    checked.info.field_choices.into_iter().find(|(span, _)| span.start as usize == dot + 1).map(|(_, fields)| fields)
}

const PLACEHOLDER: &str = "__flowc_completion__";

/// When the checker cannot see the path (the file does not parse): the fields of a path like
/// `o.customer`, from the enclosing map's or function's parameter types.
fn fields_before(text: &str, dot: usize) -> Option<Vec<(String, String)>> {
    let start = start_of_run(&text[..dot], |c| is_word_char(c) || c == '.' || c == '?');
    let path: Vec<&str> = text[start..dot].split(['.', '?']).filter(|s| !s.is_empty()).collect();
    let (root, rest) = path.split_first()?;
    // The text being typed does not parse (`o.customer.`): complete it with a placeholder.
    let repaired = format!("{}.{PLACEHOLDER}{}", &text[..dot], &text[dot + 1..]);
    let (file, _) = flow_syntax::parse(&repaired);
    let params = file.decls.iter().find_map(|d| match d {
        ast::Decl::Map(m) if m.span.range().contains(&dot) => Some(&m.params),
        ast::Decl::Function(f) if f.span.range().contains(&dot) => Some(&f.params),
        _ => None,
    })?;
    let mut ty = &params.iter().find(|p| p.name.name == *root)?.ty;
    for name in rest {
        ty = &object_fields(&file, ty)?.iter().find(|f| f.name.name == *name)?.ty;
    }
    Some(object_fields(&file, ty)?.iter().map(|f| (f.name.name.clone(), type_text(&f.ty))).collect())
}

fn object_fields<'a>(file: &'a ast::File, ty: &'a ast::TypeExpr) -> Option<&'a Vec<ast::FieldDecl>> {
    let mut ty = ty;
    for _ in 0..16 {
        match &ty.kind {
            ast::TypeExprKind::Object(fields) => return Some(fields),
            ast::TypeExprKind::Array(_) => return None,
            ast::TypeExprKind::Name(id) => {
                ty = file.decls.iter().find_map(|d| match d {
                    ast::Decl::Type(t) if t.name.name == id.name => Some(&t.ty),
                    _ => None,
                })?;
            }
            _ => return None,
        }
    }
    None
}

fn type_text(ty: &ast::TypeExpr) -> String {
    let inner = match &ty.kind {
        ast::TypeExprKind::Name(id) => id.name.clone(),
        ast::TypeExprKind::Literal(s) => format!("{s:?}"),
        ast::TypeExprKind::Union(m) => m.iter().map(type_text).collect::<Vec<_>>().join(" | "),
        ast::TypeExprKind::Array(t) => format!("[{}]", type_text(t)),
        ast::TypeExprKind::Object(_) => "{ … }".into(),
    };
    if ty.nullable {
        format!("{inner}?")
    } else {
        inner
    }
}

fn symbols(file: &ast::File, index: &Index) -> Value {
    json!(file
        .decls
        .iter()
        .map(|d| {
            let kind = match d {
                ast::Decl::Type(_) => 23,
                ast::Decl::Map(_) | ast::Decl::Function(_) => 12,
                ast::Decl::Secret(_) => 14,
                ast::Decl::Endpoint(_) => 6,
                ast::Decl::Api(_) => 2,
                ast::Decl::Flow(_) => 9,
                ast::Decl::Table(_) => 19,
                ast::Decl::Test(_) => 24,
            };
            json!({
                "name": d.name().name,
                "detail": d.kind(),
                "kind": kind,
                "range": index.range(d.span()),
                "selectionRange": index.range(d.name().span),
            })
        })
        .collect::<Vec<_>>())
}

/// Quick fixes: a diagnostic whose help says "did you mean `x`?" replaces its span with `x`.
fn code_actions(text: &str, index: &Index, uri: &str, params: &Value) -> Value {
    let want = &params["range"];
    let (from, to) = (index.offset(&want["start"]), index.offset(&want["end"]));
    let checked = flow_check::check_source(text);
    let mut actions = Vec::new();
    for d in &checked.diagnostics {
        let Some(span) = d.primary_span() else { continue };
        if (span.end as usize) < from || (span.start as usize) > to {
            continue;
        }
        let Some(fix) =
            d.help.as_deref().and_then(|h| h.strip_prefix("did you mean `")).and_then(|h| h.strip_suffix("`?"))
        else {
            continue;
        };
        actions.push(json!({
            "title": format!("replace with `{fix}`"),
            "kind": "quickfix",
            "diagnostics": [lsp_diagnostic(d, index, uri)],
            "isPreferred": true,
            "edit": { "changes": { uri: [{ "range": index.range(span), "newText": fix }] } },
        }));
    }
    json!(actions)
}

#[cfg(test)]
mod tests;
