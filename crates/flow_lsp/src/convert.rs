//! Between flowc's values and the protocol's: byte offsets and LSP positions (UTF-16 columns),
//! spans and ranges, diagnostics, severities and kinds. Nowhere else is a position converted.

use flow_check::NameKind;
use flow_diagnostics::{Diagnostic, LineIndex, Severity, Span};
use flow_syntax::ast;
use lsp_types as lsp;

/// Byte offsets to LSP positions (UTF-16 columns) and back, for one text.
pub(crate) struct Index<'a> {
    text: &'a str,
    lines: LineIndex,
}

impl<'a> Index<'a> {
    pub(crate) fn new(text: &'a str) -> Index<'a> {
        Index { text, lines: LineIndex::new(text) }
    }

    pub(crate) fn position(&self, offset: usize) -> lsp::Position {
        let offset = offset.min(self.text.len());
        let line = self.lines.line(offset);
        let start = self.lines.line_start(line);
        let col = self.text.get(start..offset).map_or(0, |s| s.encode_utf16().count());
        lsp::Position::new(line as u32, col as u32)
    }

    pub(crate) fn range(&self, span: Span) -> lsp::Range {
        lsp::Range::new(self.position(span.start as usize), self.position(span.end as usize))
    }

    /// The byte offset of a position (a column past the line's end is its end).
    pub(crate) fn offset(&self, pos: lsp::Position) -> usize {
        let col = pos.character as usize;
        let start = self.lines.line_start(pos.line as usize).min(self.text.len());
        let mut units = 0;
        for (i, c) in self.text[start..].char_indices() {
            if units >= col || c == '\n' {
                return start + i;
            }
            units += c.len_utf16();
        }
        self.text.len()
    }

    pub(crate) fn location(&self, uri: &lsp::Uri, span: Span) -> lsp::Location {
        lsp::Location { uri: uri.clone(), range: self.range(span) }
    }
}

pub(crate) fn severity(s: Severity) -> lsp::DiagnosticSeverity {
    match s {
        Severity::Error => lsp::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp::DiagnosticSeverity::WARNING,
    }
}

/// A diagnostic as an editor shows it: the notes and help follow the message, the secondary
/// labels are related information.
pub(crate) fn diagnostic(d: &Diagnostic, index: &Index, uri: &lsp::Uri) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    for n in &d.notes {
        message.push_str(&format!("\nnote: {n}"));
    }
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    let related = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .map(|l| lsp::DiagnosticRelatedInformation {
            location: index.location(uri, l.span),
            message: l.message.clone(),
        })
        .collect();
    lsp::Diagnostic {
        range: index.range(d.primary_span().unwrap_or_default()),
        severity: Some(severity(d.severity)),
        code: Some(lsp::NumberOrString::String(d.code.to_string())),
        source: Some("flowc".into()),
        message,
        related_information: Some(related),
        ..lsp::Diagnostic::default()
    }
}

/// How completion shows a declared name.
pub(crate) fn completion_kind(kind: NameKind) -> lsp::CompletionItemKind {
    match kind {
        NameKind::Type => lsp::CompletionItemKind::STRUCT,
        NameKind::Map | NameKind::Function => lsp::CompletionItemKind::FUNCTION,
        NameKind::Secret => lsp::CompletionItemKind::CONSTANT,
        _ => lsp::CompletionItemKind::VARIABLE,
    }
}

/// The keyword that declares a name of this kind, as completion details it.
pub(crate) fn declared_with(kind: NameKind) -> &'static str {
    match kind {
        NameKind::Secret => "secret",
        NameKind::Api => "api",
        NameKind::Type => "type",
        NameKind::Endpoint => "endpoint",
        NameKind::Map => "map",
        NameKind::Flow => "flow",
        NameKind::Table => "table",
        NameKind::Function => "fn",
        NameKind::Param => "parameter",
        NameKind::Let => "let",
        NameKind::LoopVar => "for",
        NameKind::LambdaParam => "lambda parameter",
        NameKind::State => "state",
    }
}

/// How the outline shows a declaration.
pub(crate) fn symbol_kind(d: &ast::Decl) -> lsp::SymbolKind {
    match d {
        ast::Decl::Type(_) => lsp::SymbolKind::STRUCT,
        ast::Decl::Map(_) | ast::Decl::Function(_) => lsp::SymbolKind::FUNCTION,
        ast::Decl::Secret(_) => lsp::SymbolKind::CONSTANT,
        ast::Decl::Endpoint(_) => lsp::SymbolKind::METHOD,
        ast::Decl::Api(_) => lsp::SymbolKind::MODULE,
        ast::Decl::Flow(_) => lsp::SymbolKind::CONSTRUCTOR,
        ast::Decl::Table(_) => lsp::SymbolKind::OBJECT,
        ast::Decl::Test(_) => lsp::SymbolKind::EVENT,
    }
}
