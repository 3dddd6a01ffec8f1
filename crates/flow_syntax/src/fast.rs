//! A hand-written parser of one declaration that gives exactly the tree pest's grammar gives
//! (`tree_to_ast.rs`, the same nodes, spans and diagnostics), in about a fifteenth of the
//! instructions (docs/performance.md). It is a fast path, not a second grammar: the grammar in
//! `grammar/flow.pest` stays normative, and this parser *declines* (`None`) wherever it is not
//! certain to agree with it, so the declaration is then parsed by pest as before, with pest's
//! failure, recovery and diagnostics unchanged.
//!
//! How it stays equal to the grammar: pest's grammar is a PEG, and a PEG parse is determined by
//! its ordered choices and greedy repetitions. At each choice this parser looks at the next
//! token and picks one alternative only where every alternative before it must fail there (by
//! its first token); at each repetition it stops only where the next item must fail. Whatever
//! then does not go as the picked alternative expects — where pest would backtrack — is a
//! decline, never a guess. Trivia is skipped after every token as pest's implicit whitespace is;
//! the rare trivia whose span pest reports differently (a U+FEFF) and an unterminated `/*` are
//! declines too. `tests.rs` checks it against pest on every `.flow` file of the repository and on
//! many thousands of mutations of them: it either declines or builds the same tree.

use flow_diagnostics::{Diagnostic, Span};

use crate::ast::*;
use crate::lex::unescape;
use crate::tree_to_ast::{bounded, duration, number, rate};

/// Words the grammar's `ident` refuses (`reserved` in `grammar/flow.pest`).
const RESERVED: [&str; 12] =
    ["if", "then", "else", "true", "false", "null", "let", "for", "in", "where", "match", "catch"];

/// Parses the declaration `text` (found at byte `base` of the file) as pest would, or `None`
/// where it does not know that it would.
pub(crate) fn parse_decl(text: &str, base: usize) -> Option<(Decl, Vec<Diagnostic>)> {
    let mut p = Parser { text, s: text.as_bytes(), i: 0, last: 0, base, bad: false, diagnostics: Vec::new() };
    p.skip();
    let decl = p.decl()?;
    (p.i == p.s.len() && !p.bad).then_some((decl, p.diagnostics))
}

/// `None` is "decline": pest parses the declaration instead.
type R<T> = Option<T>;

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    /// The next token (trivia already skipped).
    i: usize,
    /// The end of the last token taken: where the span of what was just parsed ends.
    last: usize,
    base: usize,
    /// Trivia this parser does not follow pest in was met: decline, whatever else happens.
    bad: bool,
    diagnostics: Vec<Diagnostic>,
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    // ------------------------------------------------------------ tokens and trivia

    /// Where the trivia (whitespace and comments) at `j` ends; `None` where pest's trivia differs
    /// from what this parser knows (an unterminated `/*`, a U+FEFF).
    fn trivia_end(&self, mut j: usize) -> Option<usize> {
        let s = self.s;
        while j < s.len() {
            match s[j] {
                b' ' | b'\t' | b'\r' | b'\n' => j += 1,
                b'/' if s.get(j + 1) == Some(&b'/') => {
                    j = s[j..].iter().position(|&c| c == b'\n').map_or(s.len(), |n| j + n);
                }
                b'/' if s.get(j + 1) == Some(&b'*') => {
                    let body = j + 2;
                    j = body + s[body..].windows(2).position(|w| w == b"*/")? + 2;
                }
                0xEF => return None,
                _ => break,
            }
        }
        Some(j)
    }

    fn skip(&mut self) {
        match self.trivia_end(self.i) {
            Some(j) => self.i = j,
            None => self.bad = true,
        }
    }

    /// Takes the token `[self.i, end)` and the trivia after it.
    fn take(&mut self, end: usize) {
        self.last = end;
        self.i = end;
        self.skip();
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at(&self, lit: &[u8]) -> bool {
        self.s[self.i..].starts_with(lit)
    }

    /// Takes the literal token `lit` if it is next.
    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.at(lit) {
            self.take(self.i + lit.len());
            true
        } else {
            false
        }
    }

    fn expect(&mut self, lit: &[u8]) -> R<()> {
        self.eat(lit).then_some(())
    }

    /// The end of the word starting at `j`, if one does.
    fn word_end(&self, j: usize) -> Option<usize> {
        if !self.s.get(j).is_some_and(|&b| is_word_start(b)) {
            return None;
        }
        let mut k = j + 1;
        while k < self.s.len() && is_word_char(self.s[k]) {
            k += 1;
        }
        Some(k)
    }

    /// The word that is next, if one is.
    fn word(&self) -> Option<&'a str> {
        self.word_end(self.i).map(|end| &self.text[self.i..end])
    }

    /// Whether the keyword `kw` is next (the word itself, not a longer one: `kw ~ !ident_char`).
    fn at_kw(&self, kw: &str) -> bool {
        self.word() == Some(kw)
    }

    fn expect_kw(&mut self, kw: &str) -> R<()> {
        let end = self.word_end(self.i)?;
        (&self.text[self.i..end] == kw).then(|| self.take(end))
    }

    /// The first byte after the next word and the trivia after it.
    fn after_word(&self) -> Option<u8> {
        let end = self.word_end(self.i)?;
        self.trivia_end(end).and_then(|j| self.s.get(j).copied())
    }

    /// Whether a name (`ident`: a word that is not reserved) is next.
    fn at_ident(&self) -> bool {
        self.word().is_some_and(|w| !RESERVED.contains(&w))
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.base + start, self.base + end)
    }

    /// The span from `start` to the end of the last token taken.
    fn span_from(&self, start: usize) -> Span {
        self.span(start, self.last)
    }

    fn ident(&mut self) -> R<Ident> {
        let start = self.i;
        let end = self.word_end(start)?;
        let name = &self.text[start..end];
        if RESERVED.contains(&name) {
            return None;
        }
        self.take(end);
        Some(Ident { name: name.to_string(), span: self.span(start, end) })
    }

    /// The end of the string literal at `j` (the grammar's `string`), if a valid one is there.
    fn string_end(&self, j: usize) -> Option<usize> {
        let s = self.s;
        if s.get(j) != Some(&b'"') {
            return None;
        }
        let mut k = j + 1;
        loop {
            match *s.get(k)? {
                b'"' => return Some(k + 1),
                b'\n' => return None,
                b'\\' => {
                    k += 1;
                    match *s.get(k)? {
                        b'"' | b'\\' | b'n' | b't' | b'r' | b'0' => k += 1,
                        b'u' if s.get(k + 1) == Some(&b'{') => {
                            k += 2;
                            let hex = s[k..].iter().take(6).take_while(|b| b.is_ascii_hexdigit()).count();
                            if hex == 0 || s.get(k + hex) != Some(&b'}') {
                                return None;
                            }
                            k += hex + 1;
                        }
                        _ => return None,
                    }
                }
                _ => k += 1,
            }
        }
    }

    /// A string literal: its span (quotes included) and its value.
    fn string(&mut self) -> R<(Span, String)> {
        let start = self.i;
        let end = self.string_end(start)?;
        let value = unescape(&self.text[start + 1..end - 1]);
        self.take(end);
        Some((self.span(start, end), value))
    }

    /// `field_name = _{ word | string }`: any word (reserved ones too), or a string.
    fn field_name(&mut self) -> R<Ident> {
        if self.peek() == Some(b'"') {
            let (span, name) = self.string()?;
            return Some(Ident { name, span });
        }
        let start = self.i;
        let end = self.word_end(start)?;
        self.take(end);
        Some(Ident { name: self.text[start..end].to_string(), span: self.span(start, end) })
    }

    fn digits_end(&self, mut j: usize) -> usize {
        while j < self.s.len() && self.s[j].is_ascii_digit() {
            j += 1;
        }
        j
    }

    /// Whether no word character is at `j` (`!ident_char`).
    fn boundary(&self, j: usize) -> bool {
        !self.s.get(j).is_some_and(|&b| is_word_char(b))
    }

    /// `rate = @{ ASCII_DIGIT+ ~ "/" ~ ("s" | "min" | "h") ~ !ident_char }`
    fn rate_end(&self, j: usize) -> Option<usize> {
        let d = self.digits_end(j);
        if d == j || self.s.get(d) != Some(&b'/') {
            return None;
        }
        let unit = ["s", "min", "h"].into_iter().find(|u| self.s[d + 1..].starts_with(u.as_bytes()))?;
        let end = d + 1 + unit.len();
        self.boundary(end).then_some(end)
    }

    /// `duration = @{ ASCII_DIGIT+ ~ ("ms" | "s" | "m" | "h" | "d") ~ !ident_char }`
    fn duration_end(&self, j: usize) -> Option<usize> {
        let d = self.digits_end(j);
        if d == j {
            return None;
        }
        let unit = ["ms", "s", "m", "h", "d"].into_iter().find(|u| self.s[d..].starts_with(u.as_bytes()))?;
        let end = d + unit.len();
        self.boundary(end).then_some(end)
    }

    /// `number = @{ ASCII_DIGIT+ ~ ("." ~ ASCII_DIGIT+)? ~ (^"e" ~ ("+" | "-")? ~ ASCII_DIGIT+)? ~ !ident_char }`
    fn number_end(&self, j: usize) -> Option<usize> {
        let s = self.s;
        let mut end = self.digits_end(j);
        if end == j {
            return None;
        }
        if s.get(end) == Some(&b'.') {
            let f = self.digits_end(end + 1);
            if f > end + 1 {
                end = f;
            }
        }
        if matches!(s.get(end), Some(b'e' | b'E')) {
            let mut k = end + 1;
            if matches!(s.get(k), Some(b'+' | b'-')) {
                k += 1;
            }
            let e = self.digits_end(k);
            if e > k {
                end = e;
            }
        }
        self.boundary(end).then_some(end)
    }

    /// A `number` token (not a duration or a rate: a table key, a match pattern).
    fn number(&mut self) -> R<Expr> {
        let start = self.i;
        let end = self.number_end(start)?;
        self.take(end);
        Some(number(&self.text[start..end], self.span(start, end), &mut self.diagnostics))
    }

    /// `true`, `false` or `null`, if one is next.
    fn keyword_literal(&mut self) -> Option<Expr> {
        let kind = match self.word()? {
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            "null" => ExprKind::Null,
            _ => return None,
        };
        let start = self.i;
        self.take(start + self.word()?.len());
        Some(Expr { kind, span: self.span_from(start) })
    }

    // ------------------------------------------------------------ declarations

    fn decl(&mut self) -> R<Decl> {
        let start = self.i;
        let keyword = self.word()?;
        if keyword == "test" {
            self.expect_kw("test")?;
            let (span, name) = self.string()?;
            let name = Ident { name, span };
            self.expect(b"{")?;
            let mut items = Vec::new();
            while !self.eat(b"}") {
                if self.at_kw("let") {
                    items.push(TestItem::Let(self.let_stmt()?));
                } else {
                    self.expect_kw("expect")?;
                    items.push(TestItem::Expect(self.top_expr()?));
                }
            }
            return Some(Decl::Test(TestDecl { name, items, span: self.span_from(start) }));
        }
        if !crate::scan::DECL_KEYWORDS.contains(&keyword) {
            return None;
        }
        self.expect_kw(keyword)?;
        let name = self.ident()?;
        Some(match keyword {
            "secret" => Decl::Secret(SecretDecl { name, span: self.span_from(start) }),
            "api" => {
                let props = self.block()?;
                Decl::Api(ApiDecl { name, props, span: self.span_from(start) })
            }
            "type" => {
                let ty = if self.peek() == Some(b'{') {
                    self.object_type()?
                } else {
                    self.expect(b"=")?;
                    self.type_expr()?
                };
                Decl::Type(TypeDecl { name, ty, span: self.span_from(start) })
            }
            "endpoint" => {
                self.expect(b"=")?;
                let api = self.ident()?;
                let method = match self.word()? {
                    "GET" => Method::Get,
                    "POST" => Method::Post,
                    "PUT" => Method::Put,
                    "PATCH" => Method::Patch,
                    "DELETE" => Method::Delete,
                    _ => return None,
                };
                self.take(self.word_end(self.i)?);
                let (span, value) = self.string()?;
                let path = StrLit { value, span };
                let params = if self.peek() == Some(b'(') { self.params()? } else { Vec::new() };
                let response = if self.eat(b"->") { Some(self.type_expr()?) } else { None };
                let props = if self.peek() == Some(b'{') { self.block()? } else { Vec::new() };
                Decl::Endpoint(EndpointDecl {
                    name,
                    api,
                    method,
                    path,
                    params,
                    response,
                    props,
                    span: self.span_from(start),
                })
            }
            "map" => {
                let params = self.params()?;
                self.expect(b"->")?;
                let ret = self.type_expr()?;
                self.expect(b"{")?;
                let mut items = Vec::new();
                while !self.eat(b"}") {
                    items.push(self.map_item()?);
                }
                Decl::Map(MapDecl { name, params, ret, items, span: self.span_from(start) })
            }
            "table" => {
                self.expect(b":")?;
                let key = self.type_expr()?;
                self.expect(b"->")?;
                let value = self.type_expr()?;
                self.expect(b"{")?;
                let mut entries = Vec::new();
                while !self.eat(b"}") {
                    let k = match self.peek()? {
                        b'"' => {
                            let (span, value) = self.string()?;
                            Expr { kind: ExprKind::Str(value), span }
                        }
                        b'0'..=b'9' => self.number()?,
                        _ => match self.word()? {
                            "true" | "false" => self.keyword_literal()?,
                            _ => return None,
                        },
                    };
                    self.expect(b"=>")?;
                    let v = self.top_expr()?;
                    entries.push((k, v));
                    self.eat(b",");
                }
                Decl::Table(TableDecl { name, key, value, entries, span: self.span_from(start) })
            }
            "fn" => {
                let params = self.params()?;
                self.expect(b"->")?;
                let ret = self.type_expr()?;
                self.expect(b"=")?;
                let body = self.top_expr()?;
                Decl::Function(FnDecl { name, params, ret, body, span: self.span_from(start) })
            }
            "flow" => {
                self.expect(b"{")?;
                let body = self.stmts()?;
                Decl::Flow(FlowDecl { name, body, span: self.span_from(start) })
            }
            _ => return None,
        })
    }

    /// `map_item = _{ let_stmt | map_spread | field_assign }`
    fn map_item(&mut self) -> R<MapItem> {
        // `let` is a field's name too (`let = 1`): a `let` only when a name follows it.
        if self.at_kw("let") && self.after_word().is_some_and(is_word_start) {
            return Some(MapItem::Let(self.let_stmt()?));
        }
        if self.eat(b"...") {
            return Some(MapItem::Spread(self.top_expr()?));
        }
        let start = self.i;
        let name = self.field_name()?;
        self.expect(b"=")?;
        let value = self.top_expr()?;
        // `field_assign = { field_name ~ "=" ~ expr ~ ","? }`: the comma is in its span.
        self.eat(b",");
        Some(MapItem::Field(FieldAssign { name, value, span: self.span_from(start) }))
    }

    /// `block = { "{" ~ (property ~ ","?)* ~ "}" }`
    fn block(&mut self) -> R<Vec<Property>> {
        self.expect(b"{")?;
        let mut props = Vec::new();
        while !self.eat(b"}") {
            props.push(self.property()?);
            self.eat(b",");
        }
        Some(props)
    }

    fn property(&mut self) -> R<Property> {
        let start = self.i;
        let name = self.ident()?;
        self.expect(b"=")?;
        let value = self.top_expr()?;
        Some(Property { name, value, span: self.span_from(start) })
    }

    /// `params = { "(" ~ (param ~ ("," ~ param)* ~ ","?)? ~ ")" }`
    fn params(&mut self) -> R<Vec<Param>> {
        self.expect(b"(")?;
        let mut params = Vec::new();
        if self.eat(b")") {
            return Some(params);
        }
        loop {
            let start = self.i;
            let name = self.ident()?;
            self.expect(b":")?;
            let ty = self.type_expr()?;
            params.push(Param { name, ty, span: self.span_from(start) });
            if !self.eat(b",") {
                self.expect(b")")?;
                return Some(params);
            }
            if self.eat(b")") {
                return Some(params);
            }
        }
    }

    fn let_stmt(&mut self) -> R<Let> {
        let start = self.i;
        self.expect_kw("let")?;
        let name = self.ident()?;
        let ty = if self.eat(b":") { Some(self.type_expr()?) } else { None };
        self.expect(b"=")?;
        let value = self.top_expr()?;
        Some(Let { name, ty, value, span: self.span_from(start) })
    }

    /// `stmt*` and the `}` after them.
    fn stmts(&mut self) -> R<Vec<Stmt>> {
        let mut body = Vec::new();
        while !self.eat(b"}") {
            body.push(self.stmt()?);
        }
        Some(body)
    }

    /// `stmt = _{ state_stmt | let_stmt | for_stmt | property | call_stmt }`
    fn stmt(&mut self) -> R<Stmt> {
        let start = self.i;
        let word = self.word()?;
        // `state` is a setting's name too (`state = …`): a `state` only when a name follows it.
        if word == "state" && self.after_word().is_some_and(is_word_start) {
            self.expect_kw("state")?;
            let name = self.ident()?;
            self.expect(b":")?;
            let ty = self.type_expr()?;
            self.expect(b"=")?;
            let initial = self.top_expr()?;
            let props = if self.peek() == Some(b'{') { self.block()? } else { Vec::new() };
            return Some(Stmt::State(StateDecl { name, ty, initial, props, span: self.span_from(start) }));
        }
        match word {
            "let" => Some(Stmt::Let(self.let_stmt()?)),
            "for" => {
                self.expect_kw("for")?;
                let var = self.ident()?;
                self.expect_kw("in")?;
                let source = self.top_expr()?;
                let filter = if self.at_kw("where") {
                    self.expect_kw("where")?;
                    Some(self.top_expr()?)
                } else {
                    None
                };
                self.expect(b"{")?;
                let body = self.stmts()?;
                Some(Stmt::For(For { var, source, filter, body, span: self.span_from(start) }))
            }
            _ => match self.after_word()? {
                b'=' => Some(Stmt::Property(self.property()?)),
                b'(' => {
                    let call = self.call()?;
                    Some(Stmt::Call(bounded(call, &mut self.diagnostics)))
                }
                _ => None,
            },
        }
    }

    // ------------------------------------------------------------ types

    /// `type_expr = { type_term ~ ("|" ~ type_term)* ~ nullable? }`
    fn type_expr(&mut self) -> R<TypeExpr> {
        let start = self.i;
        let mut terms = vec![self.type_term()?];
        // `| null` is no term (`null` is reserved): pest's repetition gives it back, for
        // `type_field`'s `null_member`.
        while !self.at_null_member() && self.eat(b"|") {
            terms.push(self.type_term()?);
        }
        let nullable = self.eat(b"?");
        let span = self.span_from(start);
        if terms.len() == 1 {
            let mut only = terms.pop()?;
            only.nullable |= nullable;
            only.span = span;
            return Some(only);
        }
        Some(TypeExpr { kind: TypeExprKind::Union(terms), nullable, span })
    }

    /// Whether `null_member = { "|" ~ kw_null }` is next.
    fn at_null_member(&self) -> bool {
        if !self.at(b"|") {
            return false;
        }
        let Some(j) = self.trivia_end(self.i + 1) else { return false };
        self.word_end(j).is_some_and(|end| &self.text[j..end] == "null")
    }

    /// `type_term = _{ string | array_type | dict_type | object_type | call | ident | "(" ~ type_expr ~ ")" }`
    fn type_term(&mut self) -> R<TypeExpr> {
        let start = self.i;
        let kind = match self.peek()? {
            b'"' => TypeExprKind::Literal(self.string()?.1),
            b'[' => TypeExprKind::Array(Box::new(self.array_type()?)),
            b'{' if self.trivia_end(self.i + 1).and_then(|j| self.s.get(j).copied()) == Some(b'[') => {
                self.expect(b"{")?;
                self.expect(b"[")?;
                let key = self.ident()?;
                self.expect(b"]")?;
                self.expect(b":")?;
                let value = Box::new(self.type_expr()?);
                self.eat(b",");
                self.expect(b"}")?;
                TypeExprKind::Dict { key, value }
            }
            b'{' => return self.object_type(),
            b'(' => {
                self.expect(b"(")?;
                let inner = self.type_expr()?;
                self.expect(b")")?;
                return Some(inner);
            }
            _ if self.at_ident() && self.after_word() == Some(b'(') => TypeExprKind::Formed(Box::new(self.call()?)),
            _ => TypeExprKind::Name(self.ident()?),
        };
        Some(TypeExpr { kind, nullable: false, span: self.span_from(start) })
    }

    /// `array_type = { "[" ~ type_expr ~ "]" }`: the item type.
    fn array_type(&mut self) -> R<TypeExpr> {
        self.expect(b"[")?;
        let item = self.type_expr()?;
        self.expect(b"]")?;
        Some(item)
    }

    /// `object_type = { "{" ~ (type_field ~ ","?)* ~ "}" }`
    fn object_type(&mut self) -> R<TypeExpr> {
        let start = self.i;
        self.expect(b"{")?;
        let mut fields = Vec::new();
        while !self.eat(b"}") {
            let field_start = self.i;
            // `sensitive_mark = { kw_sensitive ~ &field_name }`: a field may be named `sensitive`.
            let sensitive = self.at_kw("sensitive") && self.after_word().is_some_and(|b| is_word_start(b) || b == b'"');
            if sensitive {
                self.expect_kw("sensitive")?;
            }
            let name = self.field_name()?;
            let optional = self.eat(b"?");
            self.expect(b":")?;
            let ty = self.type_expr()?;
            // `null_member = { "|" ~ kw_null }`
            let present = self.at_null_member();
            if present {
                self.expect(b"|")?;
                self.expect_kw("null")?;
            }
            fields.push(FieldDecl { name, optional, sensitive, present, ty, span: self.span_from(field_start) });
            self.eat(b",");
        }
        Some(TypeExpr { kind: TypeExprKind::Object(fields), nullable: false, span: self.span_from(start) })
    }

    // ------------------------------------------------------------ expressions

    /// An expression that stands on its own: bounded in depth (E0003), as `tree_to_ast` does.
    fn top_expr(&mut self) -> R<Expr> {
        let e = self.expr()?;
        Some(bounded(e, &mut self.diagnostics))
    }

    /// `expr = { if_expr | match_expr | lambda | coalesce }`
    fn expr(&mut self) -> R<Expr> {
        let start = self.i;
        if self.at_kw("if") {
            self.expect_kw("if")?;
            let cond = Box::new(self.expr()?);
            self.expect_kw("then")?;
            let then = Box::new(self.expr()?);
            self.expect_kw("else")?;
            let otherwise = Box::new(self.expr()?);
            return Some(Expr { kind: ExprKind::If { cond, then, otherwise }, span: self.span_from(start) });
        }
        if self.at_kw("match") {
            return self.match_expr();
        }
        if self.at_ident() && self.after_word() == Some(b'=') {
            let end = self.word_end(self.i)?;
            if self.trivia_end(end).is_some_and(|j| self.s[j..].starts_with(b"=>")) {
                let param = self.ident()?;
                self.expect(b"=>")?;
                let body = Box::new(self.expr()?);
                return Some(Expr { kind: ExprKind::Lambda { param, body }, span: self.span_from(start) });
            }
        }
        self.coalesce()
    }

    fn match_expr(&mut self) -> R<Expr> {
        let start = self.i;
        self.expect_kw("match")?;
        let scrutinee = Box::new(self.expr()?);
        self.expect(b"{")?;
        let mut arms = Vec::new();
        while !self.eat(b"}") {
            let arm_start = self.i;
            let mut patterns = vec![self.pattern()?];
            while self.eat(b"|") {
                patterns.push(self.pattern()?);
            }
            self.expect(b"=>")?;
            let body = self.expr()?;
            arms.push(MatchArm { patterns, body, span: self.span_from(arm_start) });
            self.eat(b",");
        }
        Some(Expr { kind: ExprKind::Match { scrutinee, arms }, span: self.span_from(start) })
    }

    /// `match_pat = { type_pat | wildcard | string | number | kw_true | kw_false | kw_null }`
    fn pattern(&mut self) -> R<Pattern> {
        let start = self.i;
        let literal = match self.peek()? {
            b'"' => {
                let (span, value) = self.string()?;
                Some(Expr { kind: ExprKind::Str(value), span })
            }
            b'0'..=b'9' => Some(self.number()?),
            _ if self.at_ident() && self.after_word() == Some(b':') => {
                // `type_pat = { ident ~ ":" ~ (array_type | ident) }`
                let name = self.ident()?;
                self.expect(b":")?;
                let ty_start = self.i;
                let kind = if self.peek() == Some(b'[') {
                    TypeExprKind::Array(Box::new(self.array_type()?))
                } else {
                    TypeExprKind::Name(self.ident()?)
                };
                let ty = TypeExpr { kind, nullable: false, span: self.span_from(ty_start) };
                return Some(Pattern { literal: None, member: Some((name, ty)), span: self.span_from(start) });
            }
            _ if self.at_kw("_") => {
                self.take(self.i + 1);
                None
            }
            _ => Some(self.keyword_literal()?),
        };
        Some(Pattern { literal, member: None, span: self.span_from(start) })
    }

    /// `coalesce = { catch_expr ~ (op_coalesce ~ catch_expr)* }`: `a ?? b ?? c` is `a ?? (b ?? c)`.
    fn coalesce(&mut self) -> R<Expr> {
        let first = self.catch_expr()?;
        if !self.at(b"??") {
            return Some(first);
        }
        let mut operands = vec![first];
        while self.eat(b"??") {
            operands.push(self.catch_expr()?);
        }
        let mut acc = operands.pop()?;
        while let Some(e) = operands.pop() {
            acc = Expr {
                span: e.span.to(acc.span),
                kind: ExprKind::Binary { op: BinaryOp::Coalesce, lhs: Box::new(e), rhs: Box::new(acc) },
            };
        }
        Some(acc)
    }

    /// `catch_expr = { or_expr ~ (kw_catch ~ or_expr)* }`
    fn catch_expr(&mut self) -> R<Expr> {
        let mut e = self.or_expr()?;
        while self.at_kw("catch") {
            self.expect_kw("catch")?;
            let default = self.or_expr()?;
            e = Expr {
                span: e.span.to(default.span),
                kind: ExprKind::Catch { expr: Box::new(e), default: Box::new(default) },
            };
        }
        Some(e)
    }

    fn binary(lhs: Expr, op: BinaryOp, rhs: Expr) -> Expr {
        Expr { span: lhs.span.to(rhs.span), kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) } }
    }

    fn or_expr(&mut self) -> R<Expr> {
        let mut e = self.and_expr()?;
        while self.eat(b"||") {
            let rhs = self.and_expr()?;
            e = Self::binary(e, BinaryOp::Or, rhs);
        }
        Some(e)
    }

    fn and_expr(&mut self) -> R<Expr> {
        let mut e = self.cmp_expr()?;
        while self.eat(b"&&") {
            let rhs = self.cmp_expr()?;
            e = Self::binary(e, BinaryOp::And, rhs);
        }
        Some(e)
    }

    /// `cmp_expr = { add_expr ~ (op_cmp ~ add_expr)? }`, `op_cmp = { "==" | "!=" | "<=" | ">=" | "<" | ">" }`
    fn cmp_expr(&mut self) -> R<Expr> {
        let e = self.add_expr()?;
        let op = [
            (&b"=="[..], BinaryOp::Eq),
            (b"!=", BinaryOp::Ne),
            (b"<=", BinaryOp::Le),
            (b">=", BinaryOp::Ge),
            (b"<", BinaryOp::Lt),
            (b">", BinaryOp::Gt),
        ]
        .into_iter()
        .find(|(lit, _)| self.at(lit));
        let Some((lit, op)) = op else { return Some(e) };
        self.eat(lit);
        let rhs = self.add_expr()?;
        Some(Self::binary(e, op, rhs))
    }

    fn add_expr(&mut self) -> R<Expr> {
        let mut e = self.mul_expr()?;
        loop {
            let op = match self.peek() {
                Some(b'+') => BinaryOp::Add,
                Some(b'-') => BinaryOp::Sub,
                _ => return Some(e),
            };
            self.take(self.i + 1);
            let rhs = self.mul_expr()?;
            e = Self::binary(e, op, rhs);
        }
    }

    fn mul_expr(&mut self) -> R<Expr> {
        let mut e = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(b'*') => BinaryOp::Mul,
                Some(b'/') => BinaryOp::Div,
                Some(b'%') => BinaryOp::Rem,
                _ => return Some(e),
            };
            self.take(self.i + 1);
            let rhs = self.unary()?;
            e = Self::binary(e, op, rhs);
        }
    }

    /// `unary = { op_unary* ~ postfix }`, folded as `tree_to_ast` folds it.
    fn unary(&mut self) -> R<Expr> {
        let mut ops = Vec::new();
        loop {
            let op = match self.peek() {
                Some(b'!') => UnaryOp::Not,
                Some(b'-') => UnaryOp::Neg,
                _ => break,
            };
            ops.push((op, self.base + self.i));
            self.take(self.i + 1);
        }
        let mut e = self.postfix()?;
        for (op, start) in ops.into_iter().rev() {
            // A minus before an Int literal is folded into it (`-5` is the literal -5), but the
            // digits are read first, on their own: `-9223372036854775808` is E0212, since
            // 9223372036854775808 does not fit an Int (the least Int is written
            // `-9223372036854775807 - 1`). A literal already folded negative (`--5`) stays a negation.
            e = match (op, e.kind) {
                (UnaryOp::Neg, ExprKind::Int(n)) if n >= 0 => {
                    Expr { kind: ExprKind::Int(-n), span: Span::new(start, e.span.end as usize) }
                }
                (UnaryOp::Neg, ExprKind::Number(s)) => {
                    Expr { kind: ExprKind::Number(format!("-{s}")), span: Span::new(start, e.span.end as usize) }
                }
                (op, kind) => {
                    let inner = Expr { kind, span: e.span };
                    Expr {
                        span: Span::new(start, inner.span.end as usize),
                        kind: ExprKind::Unary { op, expr: Box::new(inner) },
                    }
                }
            };
        }
        Some(e)
    }

    /// `postfix = { atom ~ (field_access | opt_field_access | index)* }`
    fn postfix(&mut self) -> R<Expr> {
        let mut e = self.atom()?;
        loop {
            let kind = match self.peek() {
                // `."key"` or `. key`; a `.` before no field name (`...spread`) ends the path.
                Some(b'.') => {
                    let next = self.trivia_end(self.i + 1).and_then(|j| self.s.get(j).copied());
                    if !next.is_some_and(|b| is_word_start(b) || b == b'"') {
                        return Some(e);
                    }
                    self.take(self.i + 1);
                    let name = self.field_name()?;
                    ExprKind::Field { base: Box::new(e), name, optional: false }
                }
                Some(b'?') if self.at(b"?.") => {
                    self.take(self.i + 2);
                    let name = self.field_name()?;
                    ExprKind::Field { base: Box::new(e), name, optional: true }
                }
                Some(b'[') => {
                    self.take(self.i + 1);
                    let index = self.expr()?;
                    self.expect(b"]")?;
                    ExprKind::Index { base: Box::new(e), index: Box::new(index) }
                }
                _ => return Some(e),
            };
            let span = Span::new(kind_base_start(&kind), self.base + self.last);
            e = Expr { kind, span };
        }
    }

    /// `atom = _{ literal | object_lit | array_lit | call | ident | "(" ~ expr ~ ")" }`
    fn atom(&mut self) -> R<Expr> {
        let start = self.i;
        match self.peek()? {
            b'0'..=b'9' => {
                let span_of = |end: usize| Span::new(self.base + start, self.base + end);
                if let Some(end) = self.rate_end(start) {
                    let e = rate(&self.text[start..end], span_of(end));
                    self.take(end);
                    return Some(e);
                }
                if let Some(end) = self.duration_end(start) {
                    let e = duration(&self.text[start..end], span_of(end), &mut self.diagnostics);
                    self.take(end);
                    return Some(e);
                }
                self.number()
            }
            b'"' => {
                let (span, value) = self.string()?;
                Some(Expr { kind: ExprKind::Str(value), span })
            }
            b'{' => self.object_lit(),
            b'[' => {
                self.expect(b"[")?;
                let mut items = Vec::new();
                if !self.eat(b"]") {
                    loop {
                        items.push(self.expr()?);
                        if !self.eat(b",") {
                            self.expect(b"]")?;
                            break;
                        }
                        if self.eat(b"]") {
                            break;
                        }
                    }
                }
                Some(Expr { kind: ExprKind::Array(items), span: self.span_from(start) })
            }
            b'(' => {
                self.expect(b"(")?;
                let inner = self.expr()?;
                self.expect(b")")?;
                Some(inner)
            }
            _ => {
                if let Some(literal) = self.keyword_literal() {
                    return Some(literal);
                }
                if self.at_ident() && self.after_word() == Some(b'(') {
                    return self.call();
                }
                let name = self.ident()?;
                Some(Expr { span: name.span, kind: ExprKind::Name(name) })
            }
        }
    }

    /// `object_lit = { "{" ~ (object_field ~ ","?)* ~ "}" }`
    fn object_lit(&mut self) -> R<Expr> {
        let start = self.i;
        self.expect(b"{")?;
        let mut fields = Vec::new();
        while !self.eat(b"}") {
            if self.eat(b"...") {
                fields.push(ObjectItem::Spread(self.expr()?));
            } else {
                let name = self.field_name()?;
                self.expect(b":")?;
                let value = self.expr()?;
                fields.push(ObjectItem::Field(ObjectField { name, value }));
            }
            self.eat(b",");
        }
        Some(Expr { kind: ExprKind::Object(fields), span: self.span_from(start) })
    }

    /// `call = { ident ~ "(" ~ (arg ~ ("," ~ arg)* ~ ","?)? ~ ")" }`, `arg = _{ named_arg | expr }`
    fn call(&mut self) -> R<Expr> {
        let start = self.i;
        let callee = self.ident()?;
        self.expect(b"(")?;
        let mut args = Vec::new();
        if !self.eat(b")") {
            loop {
                if self.at_ident() && self.after_word() == Some(b':') {
                    let name = self.ident()?;
                    self.expect(b":")?;
                    args.push(Arg { name: Some(name), value: self.expr()? });
                } else {
                    args.push(Arg { name: None, value: self.expr()? });
                }
                if !self.eat(b",") {
                    self.expect(b")")?;
                    break;
                }
                if self.eat(b")") {
                    break;
                }
            }
        }
        Some(Expr { kind: ExprKind::Call { callee, args }, span: self.span_from(start) })
    }
}

/// Where a postfix node starts: where its base does (`(a).b` starts at `a`, as in `tree_to_ast`).
fn kind_base_start(kind: &ExprKind) -> usize {
    match kind {
        ExprKind::Field { base, .. } | ExprKind::Index { base, .. } => base.span.start as usize,
        _ => 0,
    }
}
