//! Recovery after the grammar fails on a declaration: pest says where it stopped, which is often
//! a line after the mistake (an unterminated string, a dangling `+`, `20 sec`) and always in its
//! own words. This module re-reads the declaration as tokens with what the grammar knows of
//! strings, brackets and line ends, and with the shape each block expects (a map's body takes
//! `field = value`, a type's `name: Type`, a call's arguments are separated by commas), and looks
//! for the cause at or before that point.
//!
//! Every cause it can name comes with the edit that would remove it, and an edit is believed
//! only if it works: the declaration is parsed again with the edit applied, and the cause is
//! reported only when the grammar then gets further than before (or parses it whole). So the
//! structured fix is never a guess presented as a fix. When the edited text still fails further
//! on, the next cause is looked for there (a declaration with three independent mistakes gets
//! three diagnostics); when no cause fits, the failure is reported in words of the block it is
//! in (`unexpected `=` in the parameters of map to_contact`), never as pest's token list.
//!
//! A declaration whose bracket is still open when a declaration keyword starts a line (`map x(`,
//! `type T {`) is cut there: the opener is reported by name, and the rest is parsed as the
//! declarations it holds ([`Recovered::rest`]).

use flow_diagnostics::{codes, Diagnostic, Edit, Fix, Help, Span};

use crate::lex;
use crate::scan::DECL_KEYWORDS;
use crate::tree_to_ast::{failure, Failure};

/// What recovery found in one declaration.
pub(crate) struct Recovered {
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Where, in the declaration's text, a declaration keyword starts a line inside a bracket
    /// left open: the text from there is parsed again as declarations of their own.
    pub(crate) rest: Option<usize>,
}

/// Rounds of "find a cause, apply its fix, parse again" in one declaration: each reported cause
/// is one round.
const MAX_ROUNDS: usize = 16;

const RESERVED: [&str; 12] =
    ["if", "then", "else", "true", "false", "null", "let", "for", "in", "where", "match", "catch"];

/// Words that never end an expression (keywords between its parts, and foreign operators).
const NOT_ENDING: [&str; 14] =
    ["if", "then", "else", "in", "where", "match", "catch", "let", "for", "and", "or", "not", "state", "expect"];

/// Explains why `text` (one declaration, at byte `base` of the file) does not parse; `first` is
/// where pest stopped on it.
pub(crate) fn recover(text: &str, base: usize, first: Failure) -> Recovered {
    let toks = tokens(text);
    let cut = cut_at_keyword(text, &toks);
    let ended_by = cut.map(|at| {
        let words: Vec<&str> = toks.iter().filter(|t| t.start >= at).take(2).map(|t| &text[t.start..t.end]).collect();
        words.join(" ")
    });
    let (text, first) = match cut {
        Some(at) => {
            let head = text[..at].trim_end();
            match failure(head) {
                Some(f) => (head, f),
                // A head that parses has nothing more to say (it cannot, with a bracket open).
                None => return Recovered { diagnostics: Vec::new(), rest: cut },
            }
        }
        None => (text, first),
    };
    let mut work = text.to_string();
    // For each byte offset of `work` (and its end), the offset in `text` it came from.
    let mut origin: Vec<usize> = (0..=text.len()).collect();
    let mut fail = Some(first);
    let mut out = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let Some(f) = fail.take() else { break };
        let analysis = Analysis::new(&work, ended_by.as_deref());
        let mut accepted = None;
        for cand in analysis.candidates(&f) {
            let Some(repaired) = cand.fix.apply(&work) else { continue };
            let next = failure(&repaired);
            let further = match &next {
                None => true,
                Some(g) => cand.certain || back_through(&cand.fix, g.pos) > f.pos,
            };
            if further {
                accepted = Some((cand, repaired, next));
                break;
            }
        }
        match accepted {
            Some((cand, repaired, next)) => {
                let mut edits = cand.fix.edits.clone();
                edits.sort_by_key(|e| (e.span.start, e.span.end));
                let d = cand.diagnostic.help(Help::from(cand.help).with_fix(cand.fix));
                out.push(map_diagnostic(d, &origin, base));
                origin = shift_origin(&origin, &edits, &work);
                work = repaired;
                fail = next;
            }
            None => {
                out.push(map_diagnostic(analysis.generic(&f), &origin, base));
                break;
            }
        }
    }
    Recovered { diagnostics: out, rest: cut }
}

/// Where position `pos` of the text with `fix` applied was before it (a position inside an
/// inserted or replaced text maps to the edit's start).
fn back_through(fix: &Fix, pos: usize) -> usize {
    let mut shift: isize = 0;
    let mut edits: Vec<&Edit> = fix.edits.iter().collect();
    edits.sort_by_key(|e| e.span.start);
    for e in edits {
        let (s, end) = (e.span.start as usize, e.span.end as usize);
        let new_s = (s as isize + shift) as usize;
        let new_end = new_s + e.replacement.len();
        if pos < new_s {
            break;
        }
        if pos < new_end {
            return s;
        }
        shift += e.replacement.len() as isize - (end - s) as isize;
    }
    (pos as isize - shift).max(0) as usize
}

/// The origin map of the text after `edits` (sorted, in `work`'s coordinates) are applied.
fn shift_origin(origin: &[usize], edits: &[Edit], work: &str) -> Vec<usize> {
    let mut out = Vec::with_capacity(origin.len() + 8);
    let mut done = 0;
    for e in edits {
        let (s, end) = (e.span.start as usize, e.span.end as usize);
        out.extend_from_slice(&origin[done..s]);
        out.extend(std::iter::repeat_n(origin[s], e.replacement.len()));
        done = end;
    }
    out.extend_from_slice(&origin[done..=work.len()]);
    out
}

fn map_span(span: Span, origin: &[usize], base: usize) -> Span {
    let at = |o: u32| origin.get(o as usize).copied().unwrap_or_else(|| origin.last().copied().unwrap_or(0)) + base;
    Span::new(at(span.start), at(span.end).max(at(span.start)))
}

fn map_diagnostic(mut d: Diagnostic, origin: &[usize], base: usize) -> Diagnostic {
    for l in &mut d.labels {
        l.span = map_span(l.span, origin, base);
    }
    for f in &mut d.fixes {
        for e in &mut f.edits {
            e.span = map_span(e.span, origin, base);
        }
    }
    d
}

// ---------------------------------------------------------------- tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Num,
    /// A string; `closed` when its closing quote is on its line.
    Str {
        closed: bool,
    },
    /// A `'single-quoted'` string, which the grammar does not have.
    Quote {
        closed: bool,
    },
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
    /// A line break between the previous token and this one (or this is the first).
    line_start: bool,
}

const PUNCTS: [&str; 13] = ["===", "!==", "...", "=>", "->", "==", "!=", "<=", ">=", "&&", "||", "??", "?."];

fn tokens(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        if matches!(c, b' ' | b'\t' | b'\r') || text[i..].starts_with('\u{FEFF}') {
            i += if c < 0x80 { 1 } else { 3 };
            continue;
        }
        if let Some(end) = lex::comment_end(b, i) {
            if text[i..end].contains('\n') {
                line_start = true;
            }
            i = end;
            continue;
        }
        let start = i;
        let kind = if c == b'"' {
            i = lex::string_end(b, i);
            Kind::Str { closed: i > start + 1 && b[i - 1] == b'"' }
        } else if c == b'\'' {
            let close = b[i + 1..].iter().position(|&x| x == b'\'' || x == b'\n');
            match close {
                Some(n) if b[i + 1 + n] == b'\'' => {
                    i += n + 2;
                    Kind::Quote { closed: true }
                }
                Some(n) => {
                    i += n + 1;
                    Kind::Quote { closed: false }
                }
                None => {
                    i = b.len();
                    Kind::Quote { closed: false }
                }
            }
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            Kind::Num
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Kind::Word
        } else {
            let p = PUNCTS.iter().find(|p| text[i..].starts_with(**p));
            i += p.map_or_else(|| text[i..].chars().next().map_or(1, char::len_utf8), |p| p.len());
            Kind::Punct
        };
        out.push(Tok { kind, start, end: i, line_start });
        line_start = false;
    }
    out
}

/// Where a declaration keyword starts a line while a bracket of this declaration is open (and a
/// name follows it, so it is not a field called `type`): the declaration cannot go on there.
fn cut_at_keyword(text: &str, toks: &[Tok]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        let s = &text[t.start..t.end];
        match s {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            _ => {}
        }
        let named = toks.get(i + 1).is_some_and(|n| matches!(n.kind, Kind::Word | Kind::Str { .. }));
        if i > 0 && depth > 0 && t.line_start && t.kind == Kind::Word && DECL_KEYWORDS.contains(&s) && named {
            return Some(t.start);
        }
    }
    None
}

// ---------------------------------------------------------------- brackets and blocks

/// What a bracket holds, by where it is: the shape the grammar expects inside.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ctx {
    /// `name = value` settings: an api's, an endpoint's, a state's.
    Settings,
    MapBody,
    FlowBody,
    /// A `for` loop's body (a flow's statements).
    ForBody,
    TestBody,
    TableBody,
    /// `name: Type` fields.
    TypeFields,
    /// `name: value` fields.
    ObjectLit,
    Params,
    Call(String),
    Array,
    TypeArray,
    Index,
    Paren,
    Match,
}

struct Frame {
    /// Index of the opening token.
    open: usize,
    ctx: Ctx,
    /// At the declaration's own level (its body or its parameter list).
    top: bool,
}

struct Analysis<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    frames: Vec<Frame>,
    /// For each token, the innermost frame it is inside.
    inside: Vec<Option<usize>>,
    /// Tokens that begin an item of their frame (first after the opener, first on a line, or
    /// after a `,`).
    item_start: Vec<bool>,
    /// A closer that does not close the innermost open bracket: (the frame left open, the closer).
    mismatch: Option<(usize, usize)>,
    /// A closer with nothing open.
    stray: Option<usize>,
    /// Frames still open at the end.
    unclosed: Vec<usize>,
    keyword: String,
    name: String,
    /// `map to_x` when a declaration keyword inside an open bracket ended this text.
    ended_by: Option<&'a str>,
}

struct Candidate {
    diagnostic: Diagnostic,
    help: String,
    fix: Fix,
    /// The text it repairs is never valid (an unterminated string, single quotes, `===`): the
    /// cause is taken even when the repaired text fails no further on.
    certain: bool,
}

fn fix(title: impl Into<String>, edits: Vec<Edit>) -> Fix {
    Fix { title: title.into(), edits }
}

fn edit(start: usize, end: usize, replacement: impl Into<String>) -> Edit {
    Edit { span: Span::new(start, end), replacement: replacement.into() }
}

fn closer(open: &str) -> &'static str {
    match open {
        "(" => ")",
        "[" => "]",
        _ => "}",
    }
}

impl<'a> Analysis<'a> {
    fn new(text: &'a str, ended_by: Option<&'a str>) -> Analysis<'a> {
        let toks = tokens(text);
        let keyword = toks.first().map(|t| text[t.start..t.end].to_string()).unwrap_or_default();
        let name = toks.get(1).map(|t| text[t.start..t.end].to_string()).unwrap_or_default();
        let mut a = Analysis {
            text,
            inside: vec![None; toks.len()],
            item_start: vec![false; toks.len()],
            toks,
            frames: Vec::new(),
            mismatch: None,
            stray: None,
            unclosed: Vec::new(),
            keyword,
            name,
            ended_by,
        };
        a.brackets();
        a
    }

    fn s(&self, i: usize) -> &'a str {
        let t = &self.toks[i];
        &self.text[t.start..t.end]
    }

    fn ends_expr(&self, i: usize) -> bool {
        let s = self.s(i);
        match self.toks[i].kind {
            Kind::Word => !NOT_ENDING.contains(&s),
            Kind::Num | Kind::Quote { .. } => true,
            Kind::Str { closed } => closed,
            Kind::Punct => matches!(s, ")" | "]" | "}"),
        }
    }

    fn starts_expr(&self, i: usize) -> bool {
        let s = self.s(i);
        match self.toks[i].kind {
            Kind::Word => !matches!(s, "then" | "else" | "in" | "where" | "catch" | "and" | "or"),
            Kind::Num | Kind::Str { .. } | Kind::Quote { .. } => true,
            Kind::Punct => matches!(s, "(" | "[" | "{" | "!" | "-"),
        }
    }

    fn typeish(ctx: &Ctx) -> bool {
        matches!(ctx, Ctx::TypeFields | Ctx::Params | Ctx::TypeArray)
    }

    fn brackets(&mut self) {
        let mut stack: Vec<usize> = Vec::new();
        // Per open level (index 0: the declaration's own), a `match`, `for` or `state` whose `{`
        // is still to come.
        let mut pending: Vec<Option<Ctx>> = vec![None];
        let mut after_comma = false;
        for i in 0..self.toks.len() {
            let s = self.s(i);
            let t = self.toks[i];
            self.inside[i] = stack.last().copied();
            let first_in_frame = i > 0 && stack.last().is_some_and(|&f| self.frames[f].open + 1 == i);
            self.item_start[i] = stack.last().is_some() && (first_in_frame || t.line_start || after_comma);
            after_comma = s == ",";
            let top_ctx = stack.last().map(|&f| self.frames[f].ctx.clone());
            let level = pending.len() - 1;
            match s {
                "match" if t.kind == Kind::Word => pending[level] = Some(Ctx::Match),
                "for"
                    if t.kind == Kind::Word
                        && self.item_start[i]
                        && matches!(top_ctx, Some(Ctx::FlowBody | Ctx::ForBody)) =>
                {
                    pending[level] = Some(Ctx::ForBody)
                }
                "state" if t.kind == Kind::Word && self.item_start[i] && matches!(top_ctx, Some(Ctx::FlowBody)) => {
                    pending[level] = Some(Ctx::Settings)
                }
                "(" | "[" | "{" => {
                    let ctx = self.classify(i, s, top_ctx.as_ref(), &mut pending[level]);
                    let top = stack.is_empty();
                    self.frames.push(Frame { open: i, ctx, top });
                    stack.push(self.frames.len() - 1);
                    pending.push(None);
                }
                ")" | "]" | "}" => {
                    let matching = stack.iter().rposition(|&f| closer(self.s(self.frames[f].open)) == s);
                    match matching {
                        Some(n) if n + 1 == stack.len() => {
                            stack.pop();
                            pending.pop();
                        }
                        Some(n) => {
                            if self.mismatch.is_none() {
                                self.mismatch = Some((stack[stack.len() - 1], i));
                            }
                            stack.truncate(n);
                            pending.truncate(n + 1);
                        }
                        None => {
                            if self.stray.is_none() {
                                self.stray = Some(i);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.unclosed = stack;
    }

    fn classify(&self, i: usize, open: &str, top: Option<&Ctx>, pending: &mut Option<Ctx>) -> Ctx {
        let prev = i.checked_sub(1);
        let prev_s = prev.map_or("", |p| self.s(p));
        let prev_ends = prev.is_some_and(|p| self.ends_expr(p));
        let kw = self.keyword.as_str();
        match open {
            "(" => match top {
                None if matches!(kw, "map" | "fn" | "endpoint")
                    && !self.frames.iter().any(|f| f.top && f.ctx == Ctx::Params) =>
                {
                    Ctx::Params
                }
                Some(c) if Self::typeish(c) => Ctx::Paren,
                _ if prev.is_some_and(|p| self.toks[p].kind == Kind::Word && self.ends_expr(p)) => {
                    Ctx::Call(prev_s.to_string())
                }
                _ => Ctx::Paren,
            },
            "[" => match top {
                None if kw == "fn" && prev_s == "=" => Ctx::Array,
                None => Ctx::TypeArray,
                Some(c) if Self::typeish(c) => Ctx::TypeArray,
                _ if prev_ends => Ctx::Index,
                _ => Ctx::Array,
            },
            _ => match top {
                None => match kw {
                    "type" => Ctx::TypeFields,
                    "fn" if prev_s == "=" => Ctx::ObjectLit,
                    _ if matches!(prev_s, "->" | "|" | ":") => Ctx::TypeFields,
                    "api" | "endpoint" => Ctx::Settings,
                    "map" => Ctx::MapBody,
                    "flow" => Ctx::FlowBody,
                    "test" => Ctx::TestBody,
                    "table" => Ctx::TableBody,
                    _ => Ctx::ObjectLit,
                },
                Some(c) if Self::typeish(c) => Ctx::TypeFields,
                Some(_) if prev_ends => pending.take().unwrap_or(Ctx::ObjectLit),
                Some(_) => Ctx::ObjectLit,
            },
        }
    }

    /// The innermost frame at token `i` (the frame the token opens does not count).
    fn frame_at(&self, i: usize) -> Option<&Frame> {
        self.inside.get(i).copied().flatten().map(|f| &self.frames[f])
    }

    /// "the `{` of map to_contact", "the `(` of the call to `lower`", …
    fn opener_name(&self, f: &Frame) -> String {
        let o = self.s(f.open);
        let decl = format!("{} {}", self.keyword, self.name);
        match &f.ctx {
            Ctx::Params if f.top => format!("the `(` of {decl}'s parameters"),
            _ if f.top => format!("the `{o}` of {decl}"),
            Ctx::Call(n) => format!("the `(` of the call to `{n}`"),
            Ctx::Match => "the `{` of this `match`".into(),
            Ctx::ForBody => "the `{` of this `for` loop".into(),
            Ctx::Settings => "the `{` of these settings".into(),
            Ctx::ObjectLit => "the `{` of this object".into(),
            Ctx::TypeFields => "the `{` of this object type".into(),
            Ctx::Array | Ctx::TypeArray => "the `[` of this array".into(),
            Ctx::Index => "the `[` of this index".into(),
            _ => format!("this `{o}`"),
        }
    }

    /// Where a token is, for messages: "in the body of map to_contact".
    fn place(&self, f: Option<&Frame>) -> String {
        let decl = format!("{} {}", self.keyword, self.name);
        let Some(f) = f else {
            return if DECL_KEYWORDS.contains(&self.keyword.as_str()) {
                format!("in the declaration of {decl}")
            } else {
                "at the top level of the file".into()
            };
        };
        match &f.ctx {
            Ctx::Settings if f.top => format!("in the settings of {decl}"),
            Ctx::Settings => "in these settings".into(),
            Ctx::MapBody => format!("in the body of {decl}"),
            Ctx::FlowBody => format!("in the body of {decl}"),
            Ctx::ForBody => "in the body of this `for` loop".into(),
            Ctx::TestBody => format!("in the body of test {}", self.name),
            Ctx::TableBody => format!("in the entries of {decl}"),
            Ctx::TypeFields if f.top => format!("in the fields of {decl}"),
            Ctx::TypeFields => "in this object type".into(),
            Ctx::ObjectLit => "in this object".into(),
            Ctx::Params => format!("in the parameters of {decl}"),
            Ctx::Call(n) => format!("in the arguments of `{n}`"),
            Ctx::Array | Ctx::TypeArray => "in this array".into(),
            Ctx::Index => "in this index".into(),
            Ctx::Paren => "in these parentheses".into(),
            Ctx::Match => "in this `match`".into(),
        }
    }

    /// What the block holds, as a user writes it.
    fn shape(&self, f: Option<&Frame>) -> String {
        let Some(f) = f else {
            return match self.keyword.as_str() {
                "api" => "an api is written `api name { base_url = \"https://…\" }`".into(),
                "type" => "a type is written `type Name { field: Type }` or `type Name = Type`".into(),
                "endpoint" => "an endpoint is written `endpoint name = api GET \"/path\" -> Type`, then optional `(params)` before `->` and `{ settings }` after the type".into(),
                "map" => "a map is written `map name(param: Type) -> Type { field = value }`".into(),
                "flow" => "a flow is written `flow name { … }`".into(),
                "secret" => "a secret is written `secret NAME`".into(),
                "fn" => "a function is written `fn name(param: Type) -> Type = expression`".into(),
                "table" => "a table is written `table name: KeyType -> ValueType { \"key\" => value }`".into(),
                "test" => "a test is written `test \"what it checks\" { expect condition }`".into(),
                _ => "a file is a list of declarations (`api`, `type`, `endpoint`, `map`, `flow`, `secret`, `table`, `fn`, `test`), each at the start of a line".into(),
            };
        };
        match &f.ctx {
            Ctx::Settings => "each setting is written `name = value`, one per line or separated by commas".into(),
            Ctx::MapBody => "a map's body holds `field = value`, `let name = value` and `...value` lines".into(),
            Ctx::FlowBody | Ctx::ForBody => {
                "a flow holds `let name = value`, `for x in source { … }`, `state`, `name = value` settings and calls"
                    .into()
            }
            Ctx::TestBody => "a test holds `let name = value` and `expect condition` lines".into(),
            Ctx::TableBody => "each entry is written `\"key\" => value`".into(),
            Ctx::TypeFields => "fields are written `name: Type`, one per line or separated by commas".into(),
            Ctx::ObjectLit => "an object's fields are written `name: value`, separated by commas or line breaks".into(),
            Ctx::Params => "parameters are written `name: Type`, separated by commas".into(),
            Ctx::Call(_) => "arguments are expressions (or `name: value`), separated by commas".into(),
            Ctx::Array | Ctx::TypeArray => "an array's items are separated by commas".into(),
            Ctx::Index => "an index is one expression: `items[0]`".into(),
            Ctx::Paren => "parentheses hold one expression".into(),
            Ctx::Match => "each arm is written `pattern => value`".into(),
        }
    }

    /// The index of the first token at or after byte `pos` (`toks.len()` at the end).
    fn tok_at(&self, pos: usize) -> usize {
        self.toks.iter().position(|t| t.end > pos).unwrap_or(self.toks.len())
    }

    /// The end of the line holding `pos`, without trailing spaces.
    fn line_end(&self, pos: usize) -> usize {
        let end = self.text[pos..].find('\n').map_or(self.text.len(), |n| pos + n);
        pos + self.text[pos..end].trim_end().len()
    }

    fn candidates(&self, f: &Failure) -> Vec<Candidate> {
        let limit = self.line_end(f.pos.min(self.text.len()));
        let upto = self.toks.iter().take_while(|t| t.start <= limit).count();
        let mut out = Vec::new();
        self.unterminated_string(upto, &mut out);
        self.single_quotes(upto, &mut out);
        self.foreign_operators(upto, &mut out);
        self.ternary(upto, &mut out);
        self.durations(upto, &mut out);
        self.separators(upto, &mut out);
        self.braceless_block(&mut out);
        self.reserved_names(upto, &mut out);
        let at = self.tok_at(f.pos);
        self.dangling_operator(at, &mut out);
        self.missing_comma(at, &mut out);
        self.missing_colon(at, &mut out);
        self.brackets_left_open(&mut out);
        out
    }

    fn unterminated_string(&self, upto: usize, out: &mut Vec<Candidate>) {
        let Some(t) = self.toks[..upto].iter().find(|t| t.kind == Kind::Str { closed: false }) else { return };
        let raw = self.text[t.start..t.end].trim_end();
        let end = t.start + raw.len();
        // `test "adds up {`, `lower("X)`: the string probably ends before the brackets that end
        // its line; believed only if the grammar gets further that way.
        let inner = raw.trim_end_matches(['{', '(', '[', ')', ']', '}', ',', ' ']);
        let before = t.start + inner.len();
        let d = Diagnostic::new(codes::UNTERMINATED_STRING, "this string is not closed on its line")
            .primary(Span::new(t.start, t.start + 1), "the string starts here and runs to the end of the line");
        let help = "close it with `\"` on the same line (a string cannot span lines; write `\\n` for a line break)";
        if before > t.start + 1 && before < end {
            out.push(Candidate {
                certain: false,
                diagnostic: d.clone(),
                help: help.into(),
                fix: fix("close the string", vec![edit(before, before, "\"")]),
            });
        }
        out.push(Candidate {
            certain: true,
            diagnostic: d,
            help: help.into(),
            fix: fix("close the string", vec![edit(end, end, "\"")]),
        });
    }

    fn single_quotes(&self, upto: usize, out: &mut Vec<Candidate>) {
        let Some(t) = self.toks[..upto].iter().find(|t| matches!(t.kind, Kind::Quote { .. })) else { return };
        let raw = &self.text[t.start..t.end];
        let inner = raw.trim_start_matches('\'');
        let inner = inner.strip_suffix('\'').unwrap_or(inner.trim_end());
        let quoted = lex::quote(&inner.replace("\\'", "'"));
        out.push(Candidate {
            certain: true,
            diagnostic: Diagnostic::new(codes::SINGLE_QUOTES, "strings are written in double quotes")
                .primary(Span::new(t.start, t.end), "single quotes do not make a string"),
            help: format!("write {quoted}"),
            fix: fix(format!("replace with {quoted}"), vec![edit(t.start, t.end, quoted.clone())]),
        });
    }

    fn foreign_operators(&self, upto: usize, out: &mut Vec<Candidate>) {
        for i in 0..upto {
            let s = self.s(i);
            let t = self.toks[i];
            let prev_ends = i > 0 && self.ends_expr(i - 1) && self.s(i - 1) != ".";
            let next_starts = i + 1 < self.toks.len() && self.starts_expr(i + 1);
            let after_dot = i > 0 && matches!(self.s(i - 1), "." | "?.");
            let (ours, end) = match (t.kind, s) {
                (Kind::Punct, "===") => ("==", t.end),
                (Kind::Punct, "!==") => ("!=", t.end),
                (Kind::Word, "and") if prev_ends && next_starts && !after_dot => ("&&", t.end),
                (Kind::Word, "or") if prev_ends && next_starts && !after_dot => ("||", t.end),
                (Kind::Word, "not") if !prev_ends && next_starts && !after_dot => ("!", self.toks[i + 1].start),
                _ => continue,
            };
            out.push(Candidate {
                certain: s.contains('='),
                diagnostic: Diagnostic::new(codes::FOREIGN_OPERATOR, format!("`{s}` is written `{ours}` in flow"))
                    .primary(Span::new(t.start, t.end), format!("write `{ours}` here")),
                help: match s {
                    "===" | "!==" => format!("flow has one equality, `==` (and `!=`), which compares values of the same type: write `{ours}`"),
                    _ => format!("the logical operators are `&&`, `||` and `!`: write `{ours}`"),
                },
                fix: fix(format!("replace with `{ours}`"), vec![edit(t.start, end, ours)]),
            });
            return;
        }
    }

    fn ternary(&self, upto: usize, out: &mut Vec<Candidate>) {
        for q in 1..upto {
            if self.s(q) != "?" || !self.ends_expr(q - 1) || q + 1 >= self.toks.len() || !self.starts_expr(q + 1) {
                continue;
            }
            if self.frame_at(q).is_some_and(|f| Self::typeish(&f.ctx)) || self.keyword == "type" {
                continue;
            }
            // The `:` at the same depth, before the item ends.
            let mut depth = 0i32;
            let mut colon = None;
            for j in q + 1..self.toks.len() {
                match self.s(j) {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" if depth == 0 => break,
                    ")" | "]" | "}" => depth -= 1,
                    ":" if depth == 0 => {
                        colon = Some(j);
                        break;
                    }
                    "," if depth == 0 => break,
                    _ => {}
                }
            }
            let Some(colon) = colon else { continue };
            // The condition starts after the `=`, `:`, `(`, `,`, `[`, `{`, `=>` before it.
            let mut depth = 0i32;
            let mut cond = q;
            while cond > 0 {
                let s = self.s(cond - 1);
                match s {
                    ")" | "]" | "}" => depth += 1,
                    "(" | "[" | "{" if depth > 0 => depth -= 1,
                    "(" | "[" | "{" | "=" | ":" | "," | "=>" | "then" | "else" | "return" if depth == 0 => break,
                    _ => {}
                }
                cond -= 1;
            }
            let (c, qt, ct) = (self.toks[cond], self.toks[q], self.toks[colon]);
            let cond_text = &self.text[c.start..self.toks[q - 1].end];
            out.push(Candidate {
                certain: false,
                diagnostic: Diagnostic::new(
                    codes::TERNARY,
                    "`condition ? a : b` is written `if condition then a else b`",
                )
                .primary(Span::new(qt.start, qt.end), "flow has no `? :`")
                .secondary(Span::new(ct.start, ct.end), "its `:`"),
                help: format!("write `if {cond_text} then … else …`"),
                fix: fix(
                    "rewrite as `if … then … else …`",
                    vec![edit(c.start, c.start, "if "), edit(qt.start, qt.end, "then"), edit(ct.start, ct.end, "else")],
                ),
            });
            return;
        }
    }

    fn durations(&self, upto: usize, out: &mut Vec<Candidate>) {
        for i in 0..upto.min(self.toks.len().saturating_sub(1)) {
            let (n, u) = (self.toks[i], self.toks[i + 1]);
            if n.kind != Kind::Num || u.kind != Kind::Word || u.line_start || self.text[n.start..n.end].contains('.') {
                continue;
            }
            let word = self.s(i + 1);
            let Some(unit) = duration_unit(word) else { continue };
            if n.end == u.start && unit == word {
                continue; // already `20s`
            }
            if self.toks.get(i + 2).is_some_and(|t| matches!(&self.text[t.start..t.end], "=" | ":" | "(" | "=>")) {
                continue;
            }
            let written = format!("{}{unit}", &self.text[n.start..n.end]);
            out.push(Candidate {
                certain: false,
                diagnostic: Diagnostic::new(codes::DURATION_SPELLING, format!("a duration is written `{written}`"))
                    .primary(Span::new(n.start, u.end), "not a duration flow reads"),
                help: format!(
                    "write `{written}`: a number and its unit with no space between, the units are ms, s, m, h and d"
                ),
                fix: fix(format!("replace with `{written}`"), vec![edit(n.start, u.end, written.clone())]),
            });
            return;
        }
    }

    /// `key: value` where the block takes `key = value`, and `key = value` where it takes `key: value`.
    fn separators(&self, upto: usize, out: &mut Vec<Candidate>) {
        for i in 0..upto.min(self.toks.len().saturating_sub(1)) {
            if !self.item_start[i] || !matches!(self.toks[i].kind, Kind::Word | Kind::Str { closed: true }) {
                continue;
            }
            let Some(frame) = self.frame_at(i) else { continue };
            let sep = self.toks[i + 1];
            let sep_s = self.s(i + 1);
            let name = self.s(i);
            let eq_block = matches!(frame.ctx, Ctx::Settings | Ctx::MapBody | Ctx::FlowBody | Ctx::ForBody);
            let colon_block = matches!(frame.ctx, Ctx::TypeFields | Ctx::ObjectLit | Ctx::Params);
            if eq_block && sep_s == ":" && !matches!(name, "let" | "state" | "for") {
                let key = match self.toks[i].kind {
                    Kind::Str { .. } => {
                        let value = lex::key_value(name);
                        if frame.ctx == Ctx::MapBody {
                            lex::key(&value)
                        } else {
                            value
                        }
                    }
                    _ => name.to_string(),
                };
                let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '"');
                if !key_ok {
                    continue;
                }
                let mut edits = Vec::new();
                if key != name {
                    edits.push(edit(self.toks[i].start, self.toks[i].end, key.clone()));
                }
                edits.push(edit(self.toks[i].end, sep.end, " ="));
                out.push(Candidate {
                    certain: false,
                    diagnostic: Diagnostic::new(
                        codes::COLON_FOR_EQUALS,
                        format!("`{name}: …` where `{key} = …` is expected"),
                    )
                    .primary(Span::new(self.toks[i].start, sep.end), format!("write `{key} =` here"))
                    .secondary(
                        Span::new(self.toks[frame.open].start, self.toks[frame.open].end),
                        self.place(Some(frame)),
                    ),
                    help: format!("{}: write `{key} = …`", self.shape(Some(frame))),
                    fix: fix(format!("write `{key} =`"), edits),
                });
                return;
            }
            if colon_block && sep_s == "=" {
                let what = if frame.ctx == Ctx::ObjectLit { "value" } else { "Type" };
                out.push(Candidate {
                    certain: false,
                    diagnostic: Diagnostic::new(
                        codes::EQUALS_FOR_COLON,
                        format!("`{name} = …` where `{name}: …` is expected"),
                    )
                    .primary(Span::new(sep.start, sep.end), "write `:` here")
                    .secondary(
                        Span::new(self.toks[frame.open].start, self.toks[frame.open].end),
                        self.place(Some(frame)),
                    ),
                    help: format!("{}: write `{name}: {what}`", self.shape(Some(frame))),
                    fix: fix("write `:`", vec![edit(self.toks[i].end, sep.end, ":")]),
                });
                return;
            }
        }
    }

    /// `api shop:` (or no `{`) followed by indented lines: a block written the YAML way.
    fn braceless_block(&self, out: &mut Vec<Candidate>) {
        let kw = self.keyword.as_str();
        if !matches!(kw, "api" | "type" | "map" | "flow" | "test" | "table") || self.toks.len() < 3 {
            return;
        }
        // The header is the first line; nothing on it opens a block.
        // (The first token starts the header even on a line of its own: text before the first
        // declaration may start with a blank line.)
        let body = self.toks.iter().skip(1).position(|t| t.line_start).map(|i| i + 1);
        let Some(body) = body else { return };
        let header_has_brace = (0..body).any(|i| self.s(i) == "{");
        let top_brace = self.frames.iter().any(|f| f.top && self.s(f.open) == "{");
        let last = body - 1;
        let colon = self.s(last) == ":";
        if header_has_brace || top_brace || self.text[self.toks[body].start..].starts_with('{') {
            return;
        }
        let line_of = |pos: usize| self.text[..pos].rfind('\n').map_or(0, |n| n + 1);
        let indented = self.toks[body].start > line_of(self.toks[body].start);
        if !indented {
            return;
        }
        let header_end = self.toks[last];
        let mut edits = vec![if colon {
            edit(header_end.start, header_end.end, " {")
        } else {
            edit(header_end.end, header_end.end, " {")
        }];
        if matches!(kw, "api" | "map" | "flow") {
            for i in body..self.toks.len() - 1 {
                if self.toks[i].line_start
                    && self.toks[i].kind == Kind::Word
                    && self.s(i + 1) == ":"
                    && !matches!(self.s(i), "let" | "state")
                {
                    edits.push(edit(self.toks[i].end, self.toks[i + 1].end, " ="));
                }
            }
        }
        let end = self.toks[self.toks.len() - 1].end;
        edits.push(edit(end, end, "\n}"));
        let decl = format!("{kw} {}", self.name);
        out.push(Candidate {
            certain: false,
            diagnostic: Diagnostic::new(codes::BRACELESS_BLOCK, format!("the body of {decl} is not in braces"))
                .primary(Span::new(header_end.start, header_end.end), "a `{` is expected here")
                .note("indentation does not make a block in flow: braces do"),
            help: format!(
                "put the body in `{{ … }}`{}",
                if matches!(kw, "api" | "map" | "flow") { ", and write its lines `name = value`" } else { "" }
            ),
            fix: fix("put the body in braces", edits),
        });
    }

    fn reserved_names(&self, upto: usize, out: &mut Vec<Candidate>) {
        for i in 1..upto {
            let s = self.s(i);
            if self.toks[i].kind != Kind::Word || !RESERVED.contains(&s) {
                continue;
            }
            let prev = self.s(i - 1);
            let next = if i + 1 < self.toks.len() { self.s(i + 1) } else { "" };
            let named = (i == 1 && DECL_KEYWORDS.contains(&prev))
                || matches!(prev, "let" | "for")
                || (self.frame_at(i).is_some_and(|f| f.ctx == Ctx::Params) && self.item_start[i] && next == ":")
                || (next == "=>" && !matches!(self.frame_at(i).map(|f| &f.ctx), Some(Ctx::Match | Ctx::TableBody)));
            if !named {
                continue;
            }
            let t = self.toks[i];
            let new = format!("{s}_");
            out.push(Candidate {
                certain: false,
                diagnostic: Diagnostic::new(
                    codes::RESERVED_NAME,
                    format!("`{s}` is a reserved word and cannot be a name"),
                )
                .primary(Span::new(t.start, t.end), "reserved word")
                .note(format!("reserved words: {}", RESERVED.join(", "))),
                help: format!("choose another name, such as `{new}`"),
                fix: fix(format!("rename to `{new}`"), vec![edit(t.start, t.end, new.clone())]),
            });
            return;
        }
    }

    fn dangling_operator(&self, at: usize, out: &mut Vec<Candidate>) {
        // The first token of the failing line (or the end).
        let mut j = at.min(self.toks.len());
        while j > 0 && j < self.toks.len() && !self.toks[j].line_start {
            j -= 1;
        }
        if j == 0 {
            return;
        }
        let o = j - 1;
        let op = self.s(o);
        let binary = matches!(
            op,
            "+" | "-" | "*" | "/" | "%" | "&&" | "||" | "??" | "==" | "!=" | "<" | ">" | "<=" | ">=" | "." | "?."
        ) || (self.toks[o].kind == Kind::Word && matches!(op, "and" | "or" | "catch"));
        if !binary || o == 0 || !self.ends_expr(o - 1) {
            return;
        }
        let t = self.toks[o];
        let from = self.toks[o - 1].end;
        out.push(Candidate {
            certain: false,
            diagnostic: Diagnostic::new(
                codes::DANGLING_OPERATOR,
                format!("`{op}` ends the line with nothing after it"),
            )
            .primary(Span::new(t.start, t.end), "this operator has no right-hand side"),
            help: format!("write what `{op}` applies to on this line, or remove the `{op}`"),
            fix: fix(format!("remove the `{op}`"), vec![edit(from, t.end, "")]),
        });
    }

    fn missing_comma(&self, at: usize, out: &mut Vec<Candidate>) {
        if at == 0 || at >= self.toks.len() || !self.ends_expr(at - 1) || !self.starts_expr(at) {
            return;
        }
        let Some(frame) = self.frame_at(at) else { return };
        let what = match &frame.ctx {
            Ctx::Call(_) => "two arguments",
            Ctx::Array => "two items",
            Ctx::Params => "two parameters",
            _ => return,
        };
        let (p, t) = (self.toks[at - 1], self.toks[at]);
        out.push(Candidate {
            certain: false,
            diagnostic: Diagnostic::new(codes::MISSING_COMMA, format!("a `,` is missing between {what}"))
                .primary(Span::new(t.start, t.end), "a `,` is needed before this")
                .secondary(Span::new(self.toks[frame.open].start, self.toks[frame.open].end), self.place(Some(frame))),
            help: format!("{}: add a `,` after `{}`", self.shape(Some(frame)), &self.text[p.start..p.end]),
            fix: fix("add the `,`", vec![edit(p.end, p.end, ",")]),
        });
    }

    fn missing_colon(&self, at: usize, out: &mut Vec<Candidate>) {
        if at == 0 || at >= self.toks.len() {
            return;
        }
        let Some(frame) = self.frame_at(at) else { return };
        if !matches!(frame.ctx, Ctx::TypeFields | Ctx::Params) {
            return;
        }
        let mut n = at - 1;
        if self.s(n) == "?" && n > 0 {
            n -= 1;
        }
        let name_ok = self.item_start[n] && matches!(self.toks[n].kind, Kind::Word | Kind::Str { closed: true });
        let type_start = matches!(self.toks[at].kind, Kind::Word | Kind::Str { closed: true })
            || matches!(self.s(at), "{" | "[" | "(");
        if !name_ok || !type_start {
            return;
        }
        let p = self.toks[at - 1];
        let name = self.s(n);
        out.push(Candidate {
            certain: false,
            diagnostic: Diagnostic::new(
                codes::MISSING_COLON,
                format!("a `:` is missing between `{name}` and its type"),
            )
            .primary(Span::new(self.toks[at].start, self.toks[at].end), "a `:` is needed before this"),
            help: format!("{}: write `{name}: {}`", self.shape(Some(frame)), self.s(at)),
            fix: fix("add the `:`", vec![edit(p.end, p.end, ":")]),
        });
    }

    fn brackets_left_open(&self, out: &mut Vec<Candidate>) {
        if let Some((open, close)) = self.mismatch {
            let f = &self.frames[open];
            let (c, prev) = (self.toks[close], self.toks[close - 1]);
            let want = closer(self.s(f.open));
            let name = self.opener_name(f);
            let found = self.s(close);
            let d = Diagnostic::new(codes::UNCLOSED, format!("{name} is not closed before `{found}`"))
                .primary(Span::new(self.toks[f.open].start, self.toks[f.open].end), "not closed")
                .secondary(Span::new(c.start, c.end), format!("this `{found}` closes an outer bracket"));
            out.push(Candidate {
                certain: false,
                diagnostic: d.clone(),
                help: format!("add the `{want}` it needs"),
                fix: fix(format!("add `{want}`"), vec![edit(prev.end, prev.end, want)]),
            });
            out.push(Candidate {
                certain: false,
                diagnostic: d,
                help: format!("this `{found}` was meant to be `{want}`"),
                fix: fix(format!("replace with `{want}`"), vec![edit(c.start, c.end, want)]),
            });
        }
        if let Some(i) = self.stray {
            let t = self.toks[i];
            let s = self.s(i);
            out.push(Candidate {
                certain: true,
                diagnostic: Diagnostic::new(codes::STRAY_CLOSER, format!("this `{s}` closes nothing"))
                    .primary(Span::new(t.start, t.end), "no bracket is open here"),
                help: format!("remove the `{s}`, or add the opening bracket it was meant to close"),
                fix: fix(format!("remove the `{s}`"), vec![edit(t.start, t.end, "")]),
            });
        }
        if self.unclosed.is_empty() || self.mismatch.is_some() {
            return;
        }
        let outer = &self.frames[self.unclosed[0]];
        let inner = &self.frames[*self.unclosed.last().unwrap_or(&self.unclosed[0])];
        let end = self.toks.last().map_or(0, |t| t.end);
        let closers: String = self
            .unclosed
            .iter()
            .rev()
            .map(|&f| {
                let c = closer(self.s(self.frames[f].open));
                if c == "}" {
                    "\n}".to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        let name = self.opener_name(inner);
        let (message, label) = match self.ended_by {
            Some(next) => {
                (format!("{name} is not closed before `{next}`"), format!("`{next}` starts a new declaration"))
            }
            None => (format!("{name} is not closed at the end of the file"), String::new()),
        };
        let mut d = Diagnostic::new(codes::UNCLOSED, message)
            .primary(Span::new(self.toks[inner.open].start, self.toks[inner.open].end), "not closed");
        if self.unclosed.len() > 1 {
            d = d.secondary(Span::new(self.toks[outer.open].start, self.toks[outer.open].end), "nor is this");
        }
        if !label.is_empty() {
            d = d.note(label);
        }
        let shown = closers.replace('\n', "");
        out.push(Candidate {
            certain: false,
            diagnostic: d,
            help: format!("add the `{shown}` it needs at the end of {} {}", self.keyword, self.name),
            fix: fix(format!("add `{shown}`"), vec![edit(end, end, closers)]),
        });
    }

    /// No cause found: pest's failure, in the words of the block it is in.
    fn generic(&self, f: &Failure) -> Diagnostic {
        let at = self.tok_at(f.pos);
        let frame =
            if at < self.toks.len() { self.frame_at(at) } else { self.unclosed.last().map(|&i| &self.frames[i]) };
        let (found, span) = match self.toks.get(at) {
            Some(t) => (format!("`{}`", &self.text[t.start..t.end]), Span::new(t.start, t.end)),
            None => {
                let end = self.toks.last().map_or(0, |t| t.end);
                ("end of the declaration".to_string(), Span::new(end, end))
            }
        };
        const PLAIN: [&str; 14] = ["{", "}", "(", ")", "[", "]", ":", "=", "->", "=>", ",", "then", "else", "in"];
        let plain: Vec<&str> = f.tokens.iter().map(String::as_str).filter(|t| PLAIN.contains(t)).collect();
        let all_plain = plain.len() == f.tokens.len();
        let expected = if all_plain && (1..=2).contains(&plain.len()) {
            Some(plain.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" or "))
        } else if frame.is_none() && f.tokens.is_empty() && (1..=2).contains(&f.wanted.len()) {
            Some(f.wanted.join(" or "))
        } else {
            None
        };
        let place = self.place(frame);
        let message = match expected {
            Some(e) => format!("expected {e}, found {found} {place}"),
            None => format!("unexpected {found} {place}"),
        };
        let mut d = Diagnostic::new(codes::SYNTAX, message).primary(span, "unexpected here");
        if let Some(fr) = frame {
            let o = self.toks[fr.open];
            d = d.secondary(Span::new(o.start, o.end), "in this block");
        }
        d.help(self.shape(frame))
    }
}

fn duration_unit(word: &str) -> Option<&'static str> {
    Some(match word {
        "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        _ => return None,
    })
}
