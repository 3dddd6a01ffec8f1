//! `format`: one canonical layout for `.flow` files. Printed from the AST, so the result parses to
//! the same tree; comments are collected from the source and kept, word for word and where they
//! were (see [`Printer`]): a comment on a line of its own stays before the item that follows it, a
//! comment after code stays at the end of that line, a comment inside a call, an object, an array,
//! a match or a lambda stays inside it, a block comment stays a block comment. Idempotent:
//! formatting formatted text changes nothing.

use crate::lex::{key as field_name, quote as string, Lexeme};
use flow_diagnostics::{Diagnostic, Span};

use crate::ast::*;

/// Lines longer than this are broken: objects, arrays and calls get one item per line.
const WIDTH: usize = 100;

/// Formats a file; files with syntax errors are not formatted (their diagnostics come back).
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = crate::parse(source);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let tokens = crate::lex::lex(source)
        .filter(|(k, _)| !matches!(k, Lexeme::Comment | Lexeme::Newline))
        .map(|(_, s)| (s.start, source.as_bytes()[s.start as usize]))
        .collect();
    let mut p = Printer { out: String::new(), comments: comments(source), next: 0, tokens };
    for (i, decl) in file.decls.iter().enumerate() {
        // A comment after the previous declaration's last code stays on that line.
        p.trailing_before(decl.span().start);
        if i > 0 {
            let both_secrets = matches!((&file.decls[i - 1], decl), (Decl::Secret(_), Decl::Secret(_)));
            if !both_secrets {
                p.out.push('\n');
            }
        }
        p.comments_before(decl.span().start, 0);
        p.decl(decl);
    }
    p.comments_before(u32::MAX, 0);
    Ok(p.out)
}

struct Comment {
    start: u32,
    text: String,
    /// Nothing but whitespace before it on its line.
    own_line: bool,
    /// A blank line follows it in the source (kept: it separates a header from what follows).
    blank_after: bool,
}

/// Every comment of the source, in order.
fn comments(source: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let mut line_blank = true;
    for (kind, span) in crate::lex::lex(source) {
        match kind {
            Lexeme::Comment => {
                let (start, end) = (span.start as usize, span.end as usize);
                let after = &source[end..];
                let blank_after = after
                    .strip_prefix(|c: char| c == '\n' || c == '\r')
                    .map(|rest| rest.trim_start_matches([' ', '\t', '\r']).starts_with('\n'))
                    .unwrap_or(false)
                    || after
                        .trim_start_matches([' ', '\t', '\r'])
                        .strip_prefix('\n')
                        .is_some_and(|rest| rest.trim_start_matches([' ', '\t', '\r']).starts_with('\n'));
                out.push(Comment {
                    start: span.start,
                    text: source[start..end].trim_end().to_string(),
                    own_line: line_blank,
                    blank_after,
                });
            }
            Lexeme::Newline => line_blank = true,
            Lexeme::Str | Lexeme::Word | Lexeme::Other => line_blank = false,
        }
    }
    out
}

/// Prints the tree in source order, and every comment at the first place after the code that
/// came before it: so a comment stays between the same two pieces of code, inside the same
/// block, call, object, array, match or lambda. Between the items of a block or a list a
/// comment keeps its own line (or the end of the line it followed, and the list goes one item
/// per line); between the parts of an expression or a declaration's header a block comment is
/// written in line, and a line comment ends its line, the code going on on the next.
struct Printer {
    out: String,
    comments: Vec<Comment>,
    /// The first comment not yet printed.
    next: usize,
    /// Where each token (not a comment) starts, and its first byte, in order: the places of
    /// `(`, `]`, `expect`, … that the tree does not record.
    tokens: Vec<(u32, u8)>,
}

fn pad(level: usize) -> String {
    "  ".repeat(level)
}

/// An object type's fields, `{ a: T, b: U }` on one line when it fits, else one field a line.
fn object_fields(parts: &[String], level: usize) -> String {
    let inline = format!("{{ {} }}", parts.join(", "));
    if inline.len() + level * 2 <= WIDTH && !inline.contains('\n') {
        return inline;
    }
    let mut s = String::from("{\n");
    for p in parts {
        s.push_str(&format!("{}{p}\n", pad(level + 1)));
    }
    s.push_str(&format!("{}}}", pad(level)));
    s
}

/// Writes comment lines into `s`: one that followed code on its line at the end of the line `s`
/// ends with, the others on lines of their own at `level`.
fn comment_line(s: &mut String, c: &Comment, level: usize) {
    if !c.own_line && s.ends_with('\n') && !s.ends_with("\n\n") && s.len() > 1 && !ends_in_line_comment(s) {
        s.pop();
        s.push_str("  ");
    } else {
        s.push_str(&pad(level));
    }
    s.push_str(&c.text);
    s.push('\n');
}

/// Whether the last line of `s` ends with a `//` comment (which would swallow anything after it).
fn ends_in_line_comment(s: &str) -> bool {
    let body = s.strip_suffix('\n').unwrap_or(s);
    let line = &body[body.rfind('\n').map_or(0, |i| i + 1)..];
    crate::lex::lex(line).last().is_some_and(|(k, span)| k == Lexeme::Comment && line[span.range()].starts_with("//"))
}

impl Printer {
    /// Emits the comments that start before `pos`, as lines of the output.
    fn comments_before(&mut self, pos: u32, level: usize) {
        while let Some(c) = self.comments.get(self.next).filter(|c| c.start < pos) {
            let trailing = !c.own_line && self.out.ends_with('\n') && !self.out.ends_with("\n\n");
            comment_line(&mut self.out, c, level);
            if !trailing && c.blank_after && level == 0 {
                self.out.push('\n');
            }
            self.next += 1;
        }
    }

    /// Emits the comments before `pos` that follow code on their line, at the end of that line.
    fn trailing_before(&mut self, pos: u32) {
        while let Some(c) = self.comments.get(self.next) {
            if c.start >= pos || c.own_line || !self.out.ends_with('\n') || ends_in_line_comment(&self.out) {
                break;
            }
            self.out.pop();
            self.out.push_str("  ");
            self.out.push_str(&c.text);
            self.out.push('\n');
            self.next += 1;
        }
    }

    /// Comments before `pos` as lines of `s` (a list being built).
    fn comment_lines(&mut self, s: &mut String, pos: u32, level: usize) {
        while let Some(c) = self.comments.get(self.next).filter(|c| c.start < pos) {
            comment_line(s, c, level);
            self.next += 1;
        }
    }

    /// Whether a comment not yet printed lies in `span` outside every one of `items`: between
    /// the items of a list, or before its first or after its last.
    fn between(&self, span: Span, items: &[Span]) -> bool {
        self.comments[self.next..]
            .iter()
            .take_while(|c| c.start < span.end)
            .filter(|c| c.start >= span.start)
            .any(|c| !items.iter().any(|i| i.start <= c.start && c.start < i.end))
    }

    /// The comments before `pos`, written in line before the code at `pos`: a block comment and
    /// a space, or a line comment and a new line (indented one step past `level`).
    fn gap(&mut self, pos: u32, level: usize) -> String {
        let mut s = String::new();
        while let Some(c) = self.comments.get(self.next).filter(|c| c.start < pos) {
            s.push_str(&c.text);
            if c.text.starts_with("//") {
                s.push('\n');
                s.push_str(&pad(level + 1));
            } else {
                s.push(' ');
            }
            self.next += 1;
        }
        s
    }

    /// `text`, then the comments before `pos` in line (for those before a closing bracket).
    fn gap_after(&mut self, text: String, pos: u32, level: usize) -> String {
        let g = self.gap(pos, level);
        if g.is_empty() {
            text
        } else {
            format!("{text} {g}")
        }
    }

    /// Where the operator or keyword after an operand ending at `end` is (past its `)`s).
    fn op_after(&self, end: u32) -> u32 {
        let i = self.tokens.partition_point(|&(t, _)| t < end);
        self.tokens[i..].iter().find(|t| t.1 != b')').map_or(end, |t| t.0)
    }

    /// `left`, a space, and the comments before the operator at `op_at`, in line: what an
    /// operator and its right side follow.
    fn before_op(&mut self, left: String, op_at: u32, level: usize) -> String {
        let g = self.gap(op_at, level);
        format!("{left} {g}")
    }

    /// Where the last token before `pos` starts: a node's closing bracket.
    fn token_before(&self, pos: u32) -> u32 {
        let i = self.tokens.partition_point(|&(t, _)| t < pos);
        if i == 0 {
            pos
        } else {
            self.tokens[i - 1].0
        }
    }

    /// Where the first token at or after `pos` starts.
    fn token_at(&self, pos: u32) -> u32 {
        let i = self.tokens.partition_point(|&(t, _)| t < pos);
        self.tokens.get(i).map_or(pos, |t| t.0)
    }

    /// Where the first `byte` token at or after `pos` is.
    fn find(&self, pos: u32, byte: u8) -> u32 {
        let i = self.tokens.partition_point(|&(t, _)| t < pos);
        self.tokens[i..].iter().find(|t| t.1 == byte).map_or(pos, |t| t.0)
    }

    /// Where the closing bracket of a type ends: its span, less a trailing `?`.
    fn type_close(&self, t: &TypeExpr) -> u32 {
        let last = self.token_before(t.span.end);
        if t.nullable {
            self.token_before(last)
        } else {
            last
        }
    }

    /// One item per line between `open` and `close` (at `end`), with the comments between them;
    /// `item` gives an item's text with its separator.
    fn block<F: FnMut(&mut Self, usize) -> String>(
        &mut self,
        open: &str,
        starts: &[u32],
        end: u32,
        close: &str,
        level: usize,
        mut item: F,
    ) -> String {
        let mut s = format!("{open}\n");
        for (i, &start) in starts.iter().enumerate() {
            self.comment_lines(&mut s, start, level + 1);
            let text = item(self, i);
            s.push_str(&pad(level + 1));
            s.push_str(&text);
            s.push('\n');
        }
        self.comment_lines(&mut s, end, level + 1);
        s.push_str(&pad(level));
        s.push_str(close);
        s
    }

    fn line(&mut self, level: usize, text: &str) {
        self.out.push_str(&pad(level));
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn decl(&mut self, decl: &Decl) {
        let keyword = decl.kind();
        let name = decl.name();
        let named = |p: &mut Self| format!("{keyword} {}{}", p.gap(name.span.start, 0), name.name);
        match decl {
            Decl::Secret(_) => {
                let head = named(self);
                self.line(0, &head);
            }
            Decl::Api(d) => {
                let head = named(self);
                self.line(0, &format!("{head} {{"));
                self.props(&d.props, 1, d.span.end);
                self.line(0, "}");
            }
            Decl::Type(d) => match &d.ty.kind {
                TypeExprKind::Object(fields) if !d.ty.nullable => {
                    let head = named(self);
                    self.line(0, &format!("{head} {{"));
                    for f in fields {
                        self.comments_before(f.span.start, 1);
                        let text = self.field_decl(f, 1);
                        self.line(1, &text);
                    }
                    self.comments_before(d.span.end, 1);
                    self.line(0, "}");
                }
                _ => {
                    let head = named(self);
                    let g = self.gap(d.ty.span.start, 0);
                    let t = self.ty(&d.ty, 0);
                    self.line(0, &format!("{head} = {g}{t}"));
                }
            },
            Decl::Endpoint(d) => {
                let head = named(self);
                self.endpoint(d, head);
            }
            Decl::Map(d) => {
                let head = named(self);
                self.map(d, head);
            }
            Decl::Flow(d) => {
                let head = named(self);
                self.line(0, &format!("{head} {{"));
                self.stmts(&d.body, 1);
                self.comments_before(d.span.end, 1);
                self.line(0, "}");
            }
            Decl::Table(d) => {
                let head = named(self);
                self.table(d, head);
            }
            Decl::Function(d) => {
                let head = named(self);
                let ps = self.params(&d.params, 0);
                let gr = self.gap(d.ret.span.start, 0);
                let ret = self.ty(&d.ret, 0);
                let gb = self.gap(d.body.span.start, 0);
                let body = self.expr(&d.body, 0, 0);
                let sep = if ps.starts_with('(') { "" } else { " " };
                self.line(0, &format!("{head}{sep}{ps} -> {gr}{ret} = {gb}{body}"));
            }
            Decl::Test(d) => self.test(d),
        }
    }

    /// `endpoint NAME = API METHOD "PATH" (params) -> Type { props }`. `head` is `KEYWORD NAME`, with the comments before the name.
    fn endpoint(&mut self, d: &EndpointDecl, mut head: String) {
        head.push_str(&format!(" = {}{}", self.gap(d.api.span.start, 0), d.api.name));
        let method = self.token_at(d.api.span.end);
        head.push_str(&format!(" {}{}", self.gap(method, 0), d.method.as_str()));
        head.push_str(&format!(" {}{}", self.gap(d.path.span.start, 0), string(&d.path.value)));
        if !d.params.is_empty() {
            head.push_str(&format!(" {}", self.params(&d.params, 0)));
        }
        if let Some(r) = &d.response {
            let g = self.gap(r.span.start, 0);
            head.push_str(&format!(" -> {g}{}", self.ty(r, 0)));
        }
        if d.props.is_empty() {
            self.line(0, &head);
        } else {
            self.line(0, &format!("{head} {{"));
            self.props(&d.props, 1, d.span.end);
            self.line(0, "}");
        }
    }

    /// `map NAME(params) -> Type { let …, field = …, ...spread }`. `head` is `KEYWORD NAME`, with the comments before the name.
    fn map(&mut self, d: &MapDecl, head: String) {
        let ps = self.params(&d.params, 0);
        let g = self.gap(d.ret.span.start, 0);
        let ret = self.ty(&d.ret, 0);
        let sep = if ps.starts_with('(') { "" } else { " " };
        self.line(0, &format!("{head}{sep}{ps} -> {g}{ret} {{"));
        for item in &d.items {
            match item {
                MapItem::Let(l) => {
                    self.comments_before(l.span.start, 1);
                    let text = self.let_text(l, 1);
                    self.line(1, &text);
                }
                MapItem::Field(f) => {
                    self.comments_before(f.span.start, 1);
                    let g = self.gap(f.value.span.start, 1);
                    let value = self.expr(&f.value, 0, 1);
                    self.line(1, &format!("{} = {g}{value}", field_name(&f.name.name)));
                }
                MapItem::Spread(e) => {
                    self.comments_before(e.span.start, 1);
                    let value = self.expr(e, 9, 1);
                    self.line(1, &format!("...{value}"));
                }
            }
        }
        self.comments_before(d.span.end, 1);
        self.line(0, "}");
    }

    /// `table NAME: Key -> Value { key => value, … }`. `head` is `KEYWORD NAME`, with the comments before the name.
    fn table(&mut self, d: &TableDecl, head: String) {
        let gk = self.gap(d.key.span.start, 0);
        let key = self.ty(&d.key, 0);
        let gv = self.gap(d.value.span.start, 0);
        let value = self.ty(&d.value, 0);
        self.line(0, &format!("{head}: {gk}{key} -> {gv}{value} {{"));
        for (k, v) in &d.entries {
            self.comments_before(k.span.start, 1);
            let key = self.expr(k, 0, 1);
            let g = self.gap(v.span.start, 1);
            let value = self.expr(v, 0, 1);
            self.line(1, &format!("{key} => {g}{value},"));
        }
        self.comments_before(d.span.end, 1);
        self.line(0, "}");
    }

    /// `test "name" { let …, expect … }`.
    fn test(&mut self, d: &TestDecl) {
        let g = self.gap(d.name.span.start, 0);
        self.line(0, &format!("test {g}{} {{", string(&d.name.name)));
        for item in &d.items {
            match item {
                TestItem::Let(l) => {
                    self.comments_before(l.span.start, 1);
                    let text = self.let_text(l, 1);
                    self.line(1, &text);
                }
                TestItem::Expect(e) => {
                    // The comments before the `expect`, then those between it and its condition.
                    self.comments_before(self.token_before(e.span.start), 1);
                    let g = self.gap(e.span.start, 1);
                    let cond = self.expr(e, 0, 1);
                    self.line(1, &format!("expect {g}{cond}"));
                }
            }
        }
        self.comments_before(d.span.end, 1);
        self.line(0, "}");
    }

    fn props(&mut self, props: &[Property], level: usize, end: u32) {
        for p in props {
            self.comments_before(p.span.start, level);
            let text = self.property(p, level);
            self.line(level, &text);
        }
        self.comments_before(end, level);
    }

    fn property(&mut self, p: &Property, level: usize) -> String {
        let g = self.gap(p.value.span.start, level);
        format!("{} = {g}{}", p.name.name, self.expr(&p.value, 0, level))
    }

    fn stmts(&mut self, stmts: &[Stmt], level: usize) {
        for s in stmts {
            match s {
                Stmt::Let(l) => {
                    self.comments_before(l.span.start, level);
                    let text = self.let_text(l, level);
                    self.line(level, &text);
                }
                Stmt::Property(p) => {
                    self.comments_before(p.span.start, level);
                    let text = self.property(p, level);
                    self.line(level, &text);
                }
                Stmt::State(st) => self.state(st, level),
                Stmt::Call(e) => {
                    self.comments_before(e.span.start, level);
                    let text = self.expr(e, 0, level);
                    self.line(level, &text);
                }
                Stmt::For(f) => {
                    self.comments_before(f.span.start, level);
                    let gv = self.gap(f.var.span.start, level);
                    let var = self.before_op(format!("{gv}{}", f.var.name), self.op_after(f.var.span.end), level);
                    let gs = self.gap(f.source.span.start, level);
                    let mut head = format!("for {var}in {gs}{}", self.expr(&f.source, 0, level));
                    if let Some(c) = &f.filter {
                        let head_end = self.op_after(f.source.span.end);
                        head = self.before_op(head, head_end, level);
                        let g = self.gap(c.span.start, level);
                        head.push_str(&format!("where {g}{}", self.expr(c, 0, level)));
                    }
                    self.line(level, &format!("{head} {{"));
                    self.stmts(&f.body, level + 1);
                    self.comments_before(f.span.end, level + 1);
                    self.line(level, "}");
                }
            }
        }
    }

    /// `state NAME: TYPE = INITIAL { settings }`; the block only when it has settings.
    fn state(&mut self, st: &StateDecl, level: usize) {
        self.comments_before(st.span.start, level);
        let gn = self.gap(st.name.span.start, level);
        let gt = self.gap(st.ty.span.start, level);
        let ty = self.ty(&st.ty, level);
        let gv = self.gap(st.initial.span.start, level);
        let initial = self.expr(&st.initial, 0, level);
        let head = format!("state {gn}{}: {gt}{ty} = {gv}{initial}", st.name.name);
        if st.props.is_empty() {
            self.line(level, &head);
            return;
        }
        self.line(level, &format!("{head} {{"));
        self.props(&st.props, level + 1, st.span.end);
        self.line(level, "}");
    }

    fn let_text(&mut self, l: &Let, level: usize) -> String {
        let gn = self.gap(l.name.span.start, level);
        let ty = match &l.ty {
            Some(t) => {
                let g = self.gap(t.span.start, level);
                format!(": {g}{}", self.ty(t, level))
            }
            None => String::new(),
        };
        let gv = self.gap(l.value.span.start, level);
        format!("let {gn}{}{ty} = {gv}{}", l.name.name, self.expr(&l.value, 0, level))
    }

    /// `(a: T, b: U)`, or one per line when comments lie between them.
    fn params(&mut self, ps: &[Param], level: usize) -> String {
        let (Some(first), Some(last)) = (ps.first(), ps.last()) else { return "()".into() };
        let open = self.token_before(first.span.start);
        let close = self.find(last.span.end, b')');
        // The comments before the `(`.
        let g = self.gap(open, level);
        // A type is laid out at the level of the line it starts on: one deeper in a block.
        let param = |p: &mut Self, x: &Param, ty_level: usize| {
            let g = p.gap(x.ty.span.start, level + 1);
            format!("{}: {g}{}", x.name.name, p.ty(&x.ty, ty_level))
        };
        let spans: Vec<Span> = ps.iter().map(|p| p.span).collect();
        if self.between(Span::new(open as usize + 1, close as usize), &spans) {
            let starts: Vec<u32> = spans.iter().map(|s| s.start).collect();
            let list = self.block("(", &starts, close, ")", level, |p, i| param(p, &ps[i], level + 1) + ",");
            return format!("{g}{list}");
        }
        let parts: Vec<String> = ps.iter().map(|x| param(self, x, level)).collect();
        format!("{g}({})", parts.join(", "))
    }

    fn field_decl(&mut self, f: &FieldDecl, level: usize) -> String {
        let g = self.gap(f.ty.span.start, level);
        let mut ty = self.ty(&f.ty, level);
        if f.present {
            // `T | null`: the comments before the `|` and before the `null` stay where they were.
            let null_at = self.token_before(f.span.end);
            let bar = self.token_before(null_at);
            let ty_text = self.gap_after(ty, bar, level);
            let g = self.gap(null_at, level);
            ty = format!("{ty_text} | {g}null");
        }
        format!("{}{}{}: {g}{ty}", if f.sensitive { "sensitive " } else { "" }, field_name(&f.name.name), mark(f))
    }

    /// A type, with the comments inside it.
    fn ty(&mut self, t: &TypeExpr, level: usize) -> String {
        let inner = match &t.kind {
            TypeExprKind::Name(id) => id.name.clone(),
            TypeExprKind::Formed(call) => self.expr(call, 0, level),
            TypeExprKind::Literal(s) => string(s),
            TypeExprKind::Union(members) => {
                let parts: Vec<String> = members
                    .iter()
                    .map(|m| {
                        let g = self.gap(m.span.start, level);
                        format!("{g}{}", self.ty(m, level))
                    })
                    .collect();
                parts.join(" | ")
            }
            TypeExprKind::Array(item) => {
                let g = self.gap(item.span.start, level);
                let text = format!("{g}{}", self.ty(item, level));
                let close = self.type_close(t);
                format!("[{}]", self.gap_after(text, close, level))
            }
            TypeExprKind::Object(fields) => {
                let close = self.type_close(t);
                let spans: Vec<Span> = fields.iter().map(|f| f.span).collect();
                if self.between(Span::new(t.span.start as usize, close as usize), &spans) {
                    let starts: Vec<u32> = fields.iter().map(|f| f.span.start).collect();
                    self.block("{", &starts, close, "}", level, |p, i| p.field_decl(&fields[i], level + 1))
                } else {
                    let parts: Vec<String> = fields.iter().map(|f| self.field_decl(f, level + 1)).collect();
                    object_fields(&parts, level)
                }
            }
            TypeExprKind::Dict { key, value } => {
                let g = self.gap(value.span.start, level);
                let text = format!("{g}{}", self.ty(value, level));
                let close = self.type_close(t);
                format!("{{ [{}]: {} }}", key.name, self.gap_after(text, close, level))
            }
        };
        if t.nullable {
            // `"a" | "b"?` would make only the last member nullable in a reader's eyes: parenthesize.
            let inner = if matches!(t.kind, TypeExprKind::Union(_)) { format!("({inner})") } else { inner };
            let text = self.gap_after(inner, t.span.end, level);
            format!("{text}?")
        } else {
            inner
        }
    }

    /// An expression, with the comments inside it; in parentheses when it binds looser than `min`.
    /// `level` is the indentation of the line it starts on, for the lines of a multi-line form.
    fn expr(&mut self, e: &Expr, min: u8, level: usize) -> String {
        let text = self.expr_inner(e, level);
        if prec(e) < min {
            format!("({text})")
        } else {
            text
        }
    }

    fn arg(&mut self, a: &Arg, level: usize) -> String {
        match &a.name {
            Some(n) => {
                let g = self.gap(a.value.span.start, level);
                format!("{}: {g}{}", n.name, self.expr(&a.value, 0, level))
            }
            None => self.expr(&a.value, 0, level),
        }
    }

    fn expr_inner(&mut self, e: &Expr, level: usize) -> String {
        let close = self.token_before(e.span.end);
        match &e.kind {
            ExprKind::Field { base, name, optional } => {
                let b = self.expr(base, 9, level);
                let b = self.gap_after(b, name.span.start, level);
                format!("{b}{}{}", if *optional { "?." } else { "." }, field_name(&name.name))
            }
            ExprKind::Index { base, index } => {
                let b = self.expr(base, 9, level);
                let g = self.gap(index.span.start, level);
                let i = format!("{g}{}", self.expr(index, 0, level));
                format!("{b}[{}]", self.gap_after(i, close, level))
            }
            ExprKind::Call { callee, args } => self.call(e, callee, args, close, level),
            ExprKind::Unary { op, expr: inner } => {
                let sym = if *op == UnaryOp::Not { "!" } else { "-" };
                let g = self.gap(inner.span.start, level);
                format!("{sym}{g}{}", self.expr(inner, 8, level))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let p = prec(e);
                let (lmin, rmin) = match op {
                    BinaryOp::Coalesce => (p + 1, p),
                    BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                        (p + 1, p + 1)
                    }
                    _ => (p, p + 1),
                };
                let l = self.expr(lhs, lmin, level);
                let l = self.before_op(l, self.op_after(lhs.span.end), level);
                let g = self.gap(rhs.span.start, level);
                format!("{l}{} {g}{}", op.as_str(), self.expr(rhs, rmin, level))
            }
            ExprKind::Catch { expr: inner, default } => {
                let i = self.expr(inner, 2, level);
                let i = self.before_op(i, self.op_after(inner.span.end), level);
                let g = self.gap(default.span.start, level);
                format!("{i}catch {g}{}", self.expr(default, 3, level))
            }
            ExprKind::If { cond, then, otherwise } => {
                let gc = self.gap(cond.span.start, level);
                let c = self.expr(cond, 0, level);
                let c = self.before_op(c, self.op_after(cond.span.end), level);
                let gt = self.gap(then.span.start, level);
                let t = self.expr(then, 0, level);
                let t = self.before_op(t, self.op_after(then.span.end), level);
                let go = self.gap(otherwise.span.start, level);
                let o = self.expr(otherwise, 0, level);
                format!("if {gc}{c}then {gt}{t}else {go}{o}")
            }
            ExprKind::Lambda { param, body } => {
                let p = self.before_op(param.name.clone(), self.op_after(param.span.end), level);
                let g = self.gap(body.span.start, level);
                format!("{p}=> {g}{}", self.expr(body, 0, level))
            }
            ExprKind::Match { scrutinee, arms } => self.match_expr(scrutinee, arms, close, level),
            ExprKind::Object(items) => self.object(e, items, close, level),
            ExprKind::Array(items) => {
                let spans: Vec<Span> = items.iter().map(|i| i.span).collect();
                if self.between(e.span, &spans) {
                    let starts: Vec<u32> = spans.iter().map(|s| s.start).collect();
                    return self.block("[", &starts, close, "]", level, |p, i| p.expr(&items[i], 0, level + 1) + ",");
                }
                let parts: Vec<String> = items.iter().map(|i| self.expr(i, 0, level + 1)).collect();
                list("[", &parts, "]", level)
            }
            ExprKind::Str(s) => string(s),
            ExprKind::Int(n) => n.to_string(),
            ExprKind::Number(s) => s.clone(),
            ExprKind::Duration(ms) => duration(*ms),
            ExprKind::Rate { requests, per_ms } => {
                let unit = match per_ms {
                    1_000 => "s",
                    60_000 => "min",
                    _ => "h",
                };
                format!("{requests}/{unit}")
            }
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Null => "null".into(),
            ExprKind::Name(id) => id.name.clone(),
        }
    }

    /// `name(args)`: inline, one argument a line, or hugging a last object or array when that breaks.
    fn call(&mut self, e: &Expr, callee: &Ident, args: &[Arg], close: u32, level: usize) -> String {
        let spans: Vec<Span> = args.iter().map(arg_span).collect();
        if self.between(Span::new(callee.span.end as usize, e.span.end as usize), &spans) {
            let starts: Vec<u32> = spans.iter().map(|s| s.start).collect();
            let open = format!("{}(", callee.name);
            return self.block(&open, &starts, close, ")", level, |p, i| p.arg(&args[i], level + 1) + ",");
        }
        // A long call whose last argument is an object or array hugs it: `f(x, body: {` … `})`.
        let save = self.next;
        if let Some((last, init)) = args.split_last() {
            if matches!(last.value.kind, ExprKind::Object(_) | ExprKind::Array(_)) {
                let head: Vec<String> = init.iter().map(|a| self.arg(a, level)).collect();
                let tail = self.arg(last, level);
                let sep = if head.is_empty() { "" } else { ", " };
                if tail.contains('\n') && !head.iter().any(|h| h.contains('\n')) {
                    return format!("{}({}{sep}{tail})", callee.name, head.join(", "));
                }
                self.next = save;
            }
        }
        let items: Vec<String> = args.iter().map(|a| self.arg(a, level + 1)).collect();
        format!("{}{}", callee.name, list("(", &items, ")", level))
    }

    /// `match x { pattern | pattern => value, … }`, one arm a line.
    fn match_expr(&mut self, scrutinee: &Expr, arms: &[MatchArm], close: u32, level: usize) -> String {
        let g = self.gap(scrutinee.span.start, level);
        let open = format!("match {g}{} {{", self.expr(scrutinee, 0, level));
        let starts: Vec<u32> = arms.iter().map(|a| a.span.start).collect();
        self.block(&open, &starts, close, "}", level, |p, i| {
            let arm = &arms[i];
            let pats: Vec<String> = arm
                .patterns
                .iter()
                .map(|pat| {
                    let g = p.gap(pat.span.start, level + 1);
                    let text = match (&pat.literal, &pat.member) {
                        (Some(l), _) => p.expr(l, 0, level + 1),
                        (None, Some((name, ty))) => format!("{}: {}", name.name, p.ty(ty, level + 1)),
                        (None, None) => "_".to_string(),
                    };
                    format!("{g}{text}")
                })
                .collect();
            let last = arm.patterns.last().map_or(arm.span.start, |pat| pat.span.end);
            let pats = p.before_op(pats.join(" | "), p.op_after(last), level + 1);
            let g = p.gap(arm.body.span.start, level + 1);
            format!("{pats}=> {g}{},", p.expr(&arm.body, 0, level + 1))
        })
    }

    /// `{ field: value, ...spread }`: inline when short, else one item a line.
    fn object(&mut self, e: &Expr, items: &[ObjectItem], close: u32, level: usize) -> String {
        let spans: Vec<Span> = items
            .iter()
            .map(|i| match i {
                ObjectItem::Field(f) => f.name.span.to(f.value.span),
                ObjectItem::Spread(s) => s.span,
            })
            .collect();
        let item = |p: &mut Self, i: &ObjectItem| match i {
            ObjectItem::Field(f) => {
                let g = p.gap(f.value.span.start, level + 1);
                format!("{}: {g}{}", field_name(&f.name.name), p.expr(&f.value, 0, level + 1))
            }
            ObjectItem::Spread(s) => format!("...{}", p.expr(s, 9, level + 1)),
        };
        if self.between(e.span, &spans) {
            let starts: Vec<u32> = spans.iter().map(|s| s.start).collect();
            return self.block("{", &starts, close, "}", level, |p, i| item(p, &items[i]) + ",");
        }
        let parts: Vec<String> = items.iter().map(|i| item(self, i)).collect();
        list("{", &parts, "}", level)
    }
}

/// A call's argument, from its name (if it has one) to the end of its value.
fn arg_span(a: &Arg) -> Span {
    match &a.name {
        Some(n) => n.span.to(a.value.span),
        None => a.value.span,
    }
}

/// `?` after an optional field's name.
fn mark(f: &FieldDecl) -> &'static str {
    if f.optional {
        "?"
    } else {
        ""
    }
}

/// How tightly an expression binds (higher binds tighter).
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If { .. } | ExprKind::Match { .. } | ExprKind::Lambda { .. } => 0,
        ExprKind::Binary { op, .. } => match op {
            BinaryOp::Coalesce => 1,
            BinaryOp::Or => 3,
            BinaryOp::And => 4,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 5,
            BinaryOp::Add | BinaryOp::Sub => 6,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 7,
        },
        ExprKind::Catch { .. } => 2,
        ExprKind::Unary { .. } => 8,
        // A negative literal is a unary minus to a reader of `a.b` or `-1.x`.
        ExprKind::Int(n) if *n < 0 => 8,
        ExprKind::Number(s) if s.starts_with('-') => 8,
        _ => 9,
    }
}

fn duration(ms: u64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Items inline (`open item, item close`) when short, else one per line.
fn list(open: &str, items: &[String], close: &str, level: usize) -> String {
    let inline = if open == "{" && !items.is_empty() {
        format!("{{ {} }}", items.join(", "))
    } else {
        format!("{open}{}{close}", items.join(", "))
    };
    if inline.len() + level * 2 <= WIDTH && !inline.contains('\n') {
        return inline;
    }
    let mut s = format!("{open}\n");
    for item in items {
        s.push_str(&format!("{}{item},\n", pad(level + 1)));
    }
    s.push_str(&format!("{}{close}", pad(level)));
    s
}
