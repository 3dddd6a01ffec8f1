//! Spans, diagnostics and their fixes, the code registry and the one renderer used by every
//! stage of flowc.
//!
//! It must never know the language: no syntax tree, no types, no grammar, no protocol. A span is
//! bytes, a fix is text over a span; the stages that know what a name or a string literal is
//! build them, and the editors' side (`flow_lsp`) converts them.
//!
//! Every stage (parse, check, run) reports problems as [`Diagnostic`] values; none of them
//! prints. The CLI renders them with [`render_diagnostics`] (codespan-reporting), the LSP
//! converts them; a diagnostic's [`Fix`]es (span + replacement) are shown as its `help:` and
//! offered by editors as quick fixes.

pub mod codes;

pub use codes::{lookup, Code, CODES};

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::{Deserialize, Serialize};

/// A byte range in one source file. Line and column are computed only when rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: clamp_u32(start), end: clamp_u32(end.max(start)) }
    }

    /// The smallest span that covers both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// One problem, from any stage. `code` is stable and documented in `docs/diagnostics.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    /// What to do about it, in words: rendered as `help:`.
    pub help: Option<String>,
    /// The mechanical changes the help describes, when there are any: an editor applies them
    /// (a quick fix); applying one makes this diagnostic go away.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Fix>,
}

/// A change of the source that fixes a diagnostic: one or more edits, applied together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    /// What applying it does, as an editor offers it ("replace with `email`").
    pub title: String,
    /// Non-overlapping edits of the source the diagnostic was found in.
    pub edits: Vec<Edit>,
}

/// Replace the text at `span` with `replacement` (an empty span inserts, an empty replacement
/// deletes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}

impl Fix {
    /// Writes `replacement` over `span`.
    pub fn replace(span: Span, replacement: impl Into<String>) -> Fix {
        let replacement = replacement.into();
        Fix { title: format!("replace with `{replacement}`"), edits: vec![Edit { span, replacement }] }
    }

    /// The source with every edit applied; `None` when an edit does not fit the source (past its
    /// end, inside a character, or overlapping another edit).
    pub fn apply(&self, source: &str) -> Option<String> {
        let mut edits: Vec<&Edit> = self.edits.iter().collect();
        edits.sort_by_key(|e| (e.span.start, e.span.end));
        let mut out = String::with_capacity(source.len());
        let mut done = 0;
        for e in edits {
            let range = e.span.range();
            if range.start < done || !source.is_char_boundary(range.start) || !source.is_char_boundary(range.end) {
                return None;
            }
            out.push_str(source.get(done..range.start)?);
            out.push_str(&e.replacement);
            done = range.end;
        }
        out.push_str(source.get(done..)?);
        Some(out)
    }
}

/// A diagnostic's help: the words, and the fix they describe when the fix is mechanical.
/// A plain `String` converts into a help without a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Help {
    pub text: String,
    pub fix: Option<Fix>,
}

impl Help {
    /// The same words, fixed by `fix` (given as an `Option` where the fix applies only sometimes).
    pub fn with_fix(mut self, fix: impl Into<Option<Fix>>) -> Help {
        self.fix = fix.into();
        self
    }
}

impl From<String> for Help {
    fn from(text: String) -> Help {
        Help { text, fix: None }
    }
}

impl From<&str> for Help {
    fn from(text: &str) -> Help {
        Help { text: text.to_string(), fix: None }
    }
}

/// The help of a misspelt name whose likely meaning is `name`: "did you mean `name`?", fixed by
/// writing `name` over the misspelling at `span`.
pub fn did_you_mean(span: Span, name: &str) -> Help {
    Help::from(format!("did you mean `{name}`?")).with_fix(Fix::replace(span, name))
}

impl Diagnostic {
    /// A diagnostic with the severity its code is registered with.
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code: code.id,
            severity: code.severity,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }

    /// The primary label: where the problem is.
    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: true });
        self
    }

    /// A secondary label: context that explains the problem.
    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The help, and the fix it describes if it has one.
    pub fn help(mut self, help: impl Into<Help>) -> Diagnostic {
        let help = help.into();
        self.help = Some(help.text);
        self.fixes.extend(help.fix);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The span of the primary label, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }
}

/// Sorts diagnostics by position (then code) so output is stable whatever order stages found them in.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let ka = a.primary_span().map(|s| (s.start, s.end));
        let kb = b.primary_span().map(|s| (s.start, s.end));
        ka.cmp(&kb).then(a.code.cmp(b.code))
    });
}

/// Line index of a source text: byte offset to 1-based line and column (in chars).
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 0-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.starts.get(line).copied().unwrap_or(0)
    }
}

/// Whether rendered output uses colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Never,
    Always,
}

/// Renders diagnostics against their source, the way rustc does, into a string: the text
/// `flowc` prints.
pub fn render_diagnostics(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: Color) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut out: Vec<u8> = Vec::new();
    {
        let mut writer: Box<dyn termcolor::WriteColor> = match color {
            Color::Never => Box::new(termcolor::NoColor::new(&mut out)),
            Color::Always => Box::new(termcolor::Ansi::new(&mut out)),
        };
        for d in diagnostics {
            let cs_diag = to_codespan(d, source.len());
            // Writing into a Vec cannot fail; a span past the end was clamped by to_codespan.
            let _ = term::emit_to_write_style(&mut writer, &config, &file, &cs_diag);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn to_codespan(d: &Diagnostic, len: usize) -> cs::Diagnostic<()> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let clamp = |s: Span| {
        let start = (s.start as usize).min(len);
        let end = (s.end as usize).clamp(start, len);
        start..end
    };
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let style = if l.primary { cs::LabelStyle::Primary } else { cs::LabelStyle::Secondary };
            cs::Label::new(style, (), clamp(l.span)).with_message(l.message.clone())
        })
        .collect();
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code)
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

/// The "did you mean" candidate closest to `name`, if one is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = strsim_jaro_winkler(name, c);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// How alike two names are, from 0 to 1: Jaro-Winkler, case-insensitive (names that differ only in
/// case are likely typos). [`suggest`] takes a candidate above 0.8.
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim_jaro_winkler(a, b)
}

/// The edits (insertions, deletions, changes, swaps of neighbours) between two names,
/// case-insensitive: `cmr` is one from `crm`.
pub fn edits(a: &str, b: &str) -> usize {
    strsim::osa_distance(&a.to_lowercase(), &b.to_lowercase())
}

/// Jaro-Winkler similarity, case-insensitive (names that differ only in case are likely typos).
fn strsim_jaro_winkler(a: &str, b: &str) -> f64 {
    strsim::jaro_winkler(&a.to_lowercase(), &b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["orders", "contacts", "customer"];
        assert_eq!(suggest("ordrs", names), Some("orders"));
        assert_eq!(suggest("Contacts", names), Some("contacts"));
        assert_eq!(suggest("zzz", names), None);
        assert_eq!(suggest("orders", names), None);
    }

    #[test]
    fn line_index_maps_offsets() {
        let idx = LineIndex::new("ab\ncd\n\nx");
        assert_eq!(idx.line(0), 0);
        assert_eq!(idx.line(2), 0);
        assert_eq!(idx.line(3), 1);
        assert_eq!(idx.line(6), 2);
        assert_eq!(idx.line(7), 3);
        assert_eq!(idx.line_start(3), 7);
    }

    #[test]
    fn renders_code_labels_and_help_without_colour() {
        let src = "type A {\n  x: Strng\n}\n";
        let d = Diagnostic::new(codes::UNKNOWN_TYPE, "unknown type `Strng`")
            .primary(Span::new(14, 19), "not declared")
            .help("did you mean `String`?");
        let out = render_diagnostics("a.flow", src, &[d], Color::Never);
        assert!(out.contains("error[E0103]: unknown type `Strng`"), "{out}");
        assert!(out.contains("a.flow:2:6"), "{out}");
        assert!(out.contains("help: did you mean `String`?"), "{out}");
        assert!(!out.contains('\u{1b}'), "no escape codes without colour");
    }

    #[test]
    fn a_fix_is_rendered_as_its_help_and_applies_its_edits() {
        let src = "type A {\n  x: Strng\n}\n";
        let d = Diagnostic::new(codes::UNKNOWN_TYPE, "unknown type `Strng`")
            .primary(Span::new(14, 19), "not declared")
            .help(did_you_mean(Span::new(14, 19), "String"));
        let plain = Diagnostic::new(codes::UNKNOWN_TYPE, "unknown type `Strng`")
            .primary(Span::new(14, 19), "not declared")
            .help("did you mean `String`?");
        assert_eq!(
            render_diagnostics("a.flow", src, std::slice::from_ref(&d), Color::Never),
            render_diagnostics("a.flow", src, &[plain], Color::Never),
            "the fix shows as the help it comes with"
        );
        assert_eq!(d.fixes.len(), 1);
        assert_eq!(d.fixes[0].title, "replace with `String`");
        assert_eq!(d.fixes[0].apply(src).as_deref(), Some("type A {\n  x: String\n}\n"));
    }

    #[test]
    fn a_fix_that_does_not_fit_its_source_is_not_applied() {
        let edit = |start, end, text: &str| Edit { span: Span::new(start, end), replacement: text.into() };
        let fix = |edits| Fix { title: "t".into(), edits };
        assert_eq!(fix(vec![edit(4, 4, "!"), edit(0, 1, "B")]).apply("abcd").as_deref(), Some("Bbcd!"));
        assert_eq!(fix(vec![edit(2, 9, "x")]).apply("abcd"), None, "past the end");
        assert_eq!(fix(vec![edit(1, 2, "x")]).apply("é"), None, "inside a character");
        assert_eq!(fix(vec![edit(0, 2, "x"), edit(1, 3, "y")]).apply("abcd"), None, "overlapping");
    }

    #[test]
    fn render_survives_spans_past_the_end() {
        let d = Diagnostic::new(codes::SYNTAX, "x").primary(Span::new(50, 90), "here");
        let out = render_diagnostics("a.flow", "abc", &[d], Color::Never);
        assert!(out.contains("E0001"));
    }
}
