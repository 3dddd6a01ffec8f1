//! The only module that knows pest: runs the grammar on one declaration and turns the parse tree
//! into the typed AST. `Pair<Rule>` never leaves this file.

use flow_diagnostics::{codes, Diagnostic, Span};
use pest::iterators::{Pair, Pairs};
use pest::Parser as _;

use crate::ast::*;
use crate::lex::{unescape, Lexeme};

#[derive(pest_derive::Parser)]
#[grammar = "../../../grammar/flow.pest"]
struct FlowParser;

type Result<T> = std::result::Result<T, Box<Diagnostic>>;

/// Parses one top-level declaration found at byte `base` of the file: by the hand-written
/// parser of `fast.rs` when it takes the text (it gives exactly the tree pest would), else by
/// pest. A declaration that does not follow the grammar is `Err` with where pest stopped.
pub(crate) fn parse_decl(text: &str, base: usize) -> std::result::Result<(Decl, Vec<Diagnostic>), ParseError> {
    if let Some(parsed) = crate::fast::parse_decl(text, base) {
        return Ok(parsed);
    }
    parse_decl_with_pest(text, base)
}

/// [`parse_decl`] by the grammar alone, without the fast path (what `fast.rs` is tested against).
pub(crate) fn parse_decl_with_pest(
    text: &str,
    base: usize,
) -> std::result::Result<(Decl, Vec<Diagnostic>), ParseError> {
    let mut pairs = match FlowParser::parse(Rule::single_decl, text) {
        Ok(pairs) => pairs,
        Err(_) => return Err(ParseError::Syntax(failure(text).unwrap_or_default())),
    };
    build(&mut pairs, base).map_err(ParseError::Internal)
}

/// Why a declaration gave no AST.
pub(crate) enum ParseError {
    /// It does not follow the grammar: `recover.rs` says why.
    Syntax(Failure),
    /// The converter met a tree it did not expect (a bug), or a declaration too deep.
    Internal(Box<Diagnostic>),
}

fn build(pairs: &mut Pairs<Rule>, base: usize) -> Result<(Decl, Vec<Diagnostic>)> {
    let single = pairs.next().ok_or_else(|| internal(base, "empty parse"))?;
    let mut builder = AstBuilder { base, diagnostics: Vec::new() };
    let mut inner = single.into_inner();
    let decl = builder.decl(next(&mut inner, base)?)?;
    Ok((decl, builder.diagnostics))
}

/// Builds the AST of one declaration from its pest tree: where the declaration starts in the
/// file (pest's offsets are the declaration's own) and the diagnostics found on the way.
struct AstBuilder {
    base: usize,
    diagnostics: Vec<Diagnostic>,
}

fn next<'a>(pairs: &mut Pairs<'a, Rule>, base: usize) -> Result<Pair<'a, Rule>> {
    pairs.next().ok_or_else(|| internal(base, "the parse tree ended early"))
}

/// The length of `text` up to the end of its last token: trailing whitespace and comments left out.
fn code_len(text: &str) -> usize {
    let trimmed = text.trim_end();
    let last_line = &trimmed[trimmed.rfind('\n').map_or(0, |i| i + 1)..];
    // Only text ending in `*/`, or whose last line has a `//`, can end in a comment.
    if !trimmed.ends_with("*/") && !last_line.contains("//") {
        return trimmed.len();
    }
    crate::lex::lex(text)
        .filter(|(kind, _)| !matches!(kind, Lexeme::Comment | Lexeme::Newline))
        .last()
        .map_or(0, |(_, span)| span.end as usize)
}

/// A parse tree the converter did not expect: a bug in flowc, reported as a diagnostic, never a panic.
fn internal(base: usize, what: &str) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::new(codes::SYNTAX, format!("internal parser error: {what}"))
            .primary(Span::new(base, base), "while parsing this declaration")
            .help("this is a bug in flowc; please report it with the file"),
    )
}

impl AstBuilder {
    /// The pair's span, without the whitespace and comments pest may leave at its end (a rule
    /// that ends in `x?` or `x*` keeps what it skipped looking for one more `x`).
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.base + s.start(), self.base + s.start() + code_len(pair.as_str()))
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        let span = self.span(&pair);
        let name = match pair.as_rule() {
            Rule::string => unescape(pair.into_inner().as_str()),
            _ => pair.as_str().to_string(),
        };
        Ident { name, span }
    }

    fn decl(&mut self, pair: Pair<Rule>) -> Result<Decl> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = pair.into_inner();
        let _keyword = next(&mut it, self.base)?;
        let name = self.ident(next(&mut it, self.base)?);
        Ok(match rule {
            Rule::secret_decl => Decl::Secret(SecretDecl { name, span }),
            Rule::api_decl => {
                let props = self.block(next(&mut it, self.base)?)?;
                Decl::Api(ApiDecl { name, props, span })
            }
            Rule::type_decl => {
                // `type A { … }` or `type A = …`: the object form is a bare term.
                let ty = self.type_term(next(&mut it, self.base)?)?;
                Decl::Type(TypeDecl { name, ty, span })
            }
            Rule::endpoint_decl => {
                let api = self.ident(next(&mut it, self.base)?);
                let method = match next(&mut it, self.base)?.as_str() {
                    "GET" => Method::Get,
                    "POST" => Method::Post,
                    "PUT" => Method::Put,
                    "PATCH" => Method::Patch,
                    _ => Method::Delete,
                };
                let path_pair = next(&mut it, self.base)?;
                let path = StrLit { span: self.span(&path_pair), value: unescape(path_pair.into_inner().as_str()) };
                let mut params = Vec::new();
                let mut response = None;
                let mut props = Vec::new();
                for p in it {
                    match p.as_rule() {
                        Rule::params => params = self.params(p)?,
                        Rule::type_expr => response = Some(self.type_expr(p)?),
                        _ => props = self.block(p)?,
                    }
                }
                Decl::Endpoint(EndpointDecl { name, api, method, path, params, response, props, span })
            }
            Rule::map_decl => {
                let params = self.params(next(&mut it, self.base)?)?;
                let ret = self.type_expr(next(&mut it, self.base)?)?;
                let mut items = Vec::new();
                for p in it {
                    items.push(match p.as_rule() {
                        Rule::let_stmt => MapItem::Let(self.let_stmt(p)?),
                        Rule::map_spread => {
                            let mut s = p.into_inner();
                            MapItem::Spread(self.top_expr(next(&mut s, self.base)?)?)
                        }
                        _ => {
                            let span = self.span(&p);
                            let mut f = p.into_inner();
                            let name = self.ident(next(&mut f, self.base)?);
                            let value = self.top_expr(next(&mut f, self.base)?)?;
                            MapItem::Field(FieldAssign { name, value, span })
                        }
                    });
                }
                Decl::Map(MapDecl { name, params, ret, items, span })
            }
            Rule::table_decl => {
                let key = self.type_expr(next(&mut it, self.base)?)?;
                let value = self.type_expr(next(&mut it, self.base)?)?;
                let mut entries = Vec::new();
                for entry in it {
                    let mut e = entry.into_inner();
                    let k = self.expr(next(&mut e, self.base)?)?;
                    let v = self.top_expr(next(&mut e, self.base)?)?;
                    entries.push((k, v));
                }
                Decl::Table(TableDecl { name, key, value, entries, span })
            }
            Rule::fn_decl => {
                let params = self.params(next(&mut it, self.base)?)?;
                let ret = self.type_expr(next(&mut it, self.base)?)?;
                let body = self.top_expr(next(&mut it, self.base)?)?;
                Decl::Function(FnDecl { name, params, ret, body, span })
            }
            Rule::test_decl => {
                let mut items = Vec::new();
                for item in it {
                    items.push(match item.as_rule() {
                        Rule::let_stmt => TestItem::Let(self.let_stmt(item)?),
                        _ => {
                            let mut e = item.into_inner();
                            let _kw = next(&mut e, self.base)?;
                            TestItem::Expect(self.top_expr(next(&mut e, self.base)?)?)
                        }
                    });
                }
                Decl::Test(TestDecl { name, items, span })
            }
            _ => {
                let body = self.stmts(it)?;
                Decl::Flow(FlowDecl { name, body, span })
            }
        })
    }

    fn block(&mut self, pair: Pair<Rule>) -> Result<Vec<Property>> {
        pair.into_inner().map(|p| self.property(p)).collect()
    }

    fn property(&mut self, pair: Pair<Rule>) -> Result<Property> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let name = self.ident(next(&mut it, self.base)?);
        let value = self.top_expr(next(&mut it, self.base)?)?;
        Ok(Property { name, value, span })
    }

    fn params(&mut self, pair: Pair<Rule>) -> Result<Vec<Param>> {
        pair.into_inner()
            .map(|p| {
                let span = self.span(&p);
                let mut it = p.into_inner();
                let name = self.ident(next(&mut it, self.base)?);
                let ty = self.type_expr(next(&mut it, self.base)?)?;
                Ok(Param { name, ty, span })
            })
            .collect()
    }

    fn let_stmt(&mut self, pair: Pair<Rule>) -> Result<Let> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let _kw = next(&mut it, self.base)?;
        let name = self.ident(next(&mut it, self.base)?);
        let mut p = next(&mut it, self.base)?;
        let ty = if p.as_rule() == Rule::type_expr {
            let ty = self.type_expr(p)?;
            p = next(&mut it, self.base)?;
            Some(ty)
        } else {
            None
        };
        let value = self.top_expr(p)?;
        Ok(Let { name, ty, value, span })
    }

    fn stmts(&mut self, pairs: Pairs<Rule>) -> Result<Vec<Stmt>> {
        pairs.map(|p| self.stmt(p)).collect()
    }

    fn stmt(&mut self, pair: Pair<Rule>) -> Result<Stmt> {
        Ok(match pair.as_rule() {
            Rule::let_stmt => Stmt::Let(self.let_stmt(pair)?),
            Rule::property => Stmt::Property(self.property(pair)?),
            Rule::state_stmt => {
                let span = self.span(&pair);
                let mut it = pair.into_inner();
                let _kw = next(&mut it, self.base)?;
                let name = self.ident(next(&mut it, self.base)?);
                let ty = self.type_expr(next(&mut it, self.base)?)?;
                let initial = self.top_expr(next(&mut it, self.base)?)?;
                let props = match it.next() {
                    Some(b) => self.block(b)?,
                    None => Vec::new(),
                };
                Stmt::State(StateDecl { name, ty, initial, props, span })
            }
            Rule::call_stmt => {
                let mut it = pair.into_inner();
                Stmt::Call(self.top_expr(next(&mut it, self.base)?)?)
            }
            _ => {
                let span = self.span(&pair);
                let mut it = pair.into_inner();
                let _kw = next(&mut it, self.base)?;
                let var = self.ident(next(&mut it, self.base)?);
                let _in = next(&mut it, self.base)?;
                let source = self.top_expr(next(&mut it, self.base)?)?;
                let mut filter = None;
                let mut body = Vec::new();
                while let Some(p) = it.next() {
                    if p.as_rule() == Rule::kw_where {
                        filter = Some(self.top_expr(next(&mut it, self.base)?)?);
                    } else {
                        body.push(self.stmt(p)?);
                    }
                }
                Stmt::For(For { var, source, filter, body, span })
            }
        })
    }

    fn type_expr(&mut self, pair: Pair<Rule>) -> Result<TypeExpr> {
        let span = self.span(&pair);
        let mut nullable = false;
        let mut terms = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::nullable => nullable = true,
                _ => terms.push(self.type_term(p)?),
            }
        }
        if terms.len() == 1 {
            let mut only = terms.pop().ok_or_else(|| internal(self.base, "empty type"))?;
            only.nullable |= nullable;
            only.span = span;
            return Ok(only);
        }
        Ok(TypeExpr { kind: TypeExprKind::Union(terms), nullable, span })
    }

    fn type_term(&mut self, pair: Pair<Rule>) -> Result<TypeExpr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::type_expr => return self.type_expr(pair),
            Rule::string => TypeExprKind::Literal(unescape(pair.into_inner().as_str())),
            Rule::array_type => {
                let mut it = pair.into_inner();
                TypeExprKind::Array(Box::new(self.type_expr(next(&mut it, self.base)?)?))
            }
            Rule::dict_type => {
                let mut it = pair.into_inner();
                let key = self.ident(next(&mut it, self.base)?);
                let value = Box::new(self.type_expr(next(&mut it, self.base)?)?);
                TypeExprKind::Dict { key, value }
            }
            Rule::object_type => {
                let mut fields = Vec::new();
                for f in pair.into_inner() {
                    let span = self.span(&f);
                    let mut it = f.into_inner();
                    let sensitive = it.peek().is_some_and(|p| p.as_rule() == Rule::sensitive_mark);
                    if sensitive {
                        it.next();
                    }
                    let name = self.ident(next(&mut it, self.base)?);
                    let mut ty_pair = next(&mut it, self.base)?;
                    let optional = ty_pair.as_rule() == Rule::optional_mark;
                    if optional {
                        ty_pair = next(&mut it, self.base)?;
                    }
                    let ty = self.type_expr(ty_pair)?;
                    let present = it.next().is_some_and(|p| p.as_rule() == Rule::null_member);
                    fields.push(FieldDecl { name, optional, sensitive, present, ty, span });
                }
                TypeExprKind::Object(fields)
            }
            Rule::call => TypeExprKind::Formed(Box::new(self.call(pair)?)),
            _ => TypeExprKind::Name(self.ident(pair)),
        };
        Ok(TypeExpr { kind, nullable: false, span })
    }

    /// An expression that stands on its own (a property value, a field, a `let`, a statement):
    /// refused with E0003 if its tree is deeper than the later stages may recurse.
    fn top_expr(&mut self, pair: Pair<Rule>) -> Result<Expr> {
        let e = self.expr(pair)?;
        Ok(bounded(e, &mut self.diagnostics))
    }

    // Long on purpose: one arm per grammar rule of an expression, each building its node.
    fn expr(&mut self, pair: Pair<Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => {
                let mut it = pair.into_inner();
                self.expr(next(&mut it, self.base)?)
            }
            Rule::if_expr => {
                let mut it = pair.into_inner();
                let _if = next(&mut it, self.base)?;
                let cond = self.expr(next(&mut it, self.base)?)?;
                let _then = next(&mut it, self.base)?;
                let then = self.expr(next(&mut it, self.base)?)?;
                let _else = next(&mut it, self.base)?;
                let otherwise = self.expr(next(&mut it, self.base)?)?;
                Ok(Expr {
                    kind: ExprKind::If { cond: Box::new(cond), then: Box::new(then), otherwise: Box::new(otherwise) },
                    span,
                })
            }
            Rule::lambda => {
                let mut it = pair.into_inner();
                let param = self.ident(next(&mut it, self.base)?);
                let body = self.expr(next(&mut it, self.base)?)?;
                Ok(Expr { kind: ExprKind::Lambda { param, body: Box::new(body) }, span })
            }
            Rule::catch_expr => {
                let mut it = pair.into_inner();
                let mut e = self.expr(next(&mut it, self.base)?)?;
                for p in it {
                    if p.as_rule() == Rule::kw_catch {
                        continue;
                    }
                    let default = self.expr(p)?;
                    e = Expr {
                        span: e.span.to(default.span),
                        kind: ExprKind::Catch { expr: Box::new(e), default: Box::new(default) },
                    };
                }
                Ok(e)
            }
            Rule::match_expr => {
                let mut it = pair.into_inner();
                let _kw = next(&mut it, self.base)?;
                let scrutinee = self.expr(next(&mut it, self.base)?)?;
                let mut arms = Vec::new();
                for arm in it {
                    let arm_span = self.span(&arm);
                    let mut parts: Vec<Pair<Rule>> = arm.into_inner().collect();
                    let body_pair = parts.pop().ok_or_else(|| internal(self.base, "match arm without a body"))?;
                    let mut patterns = Vec::new();
                    for pat in parts {
                        let pspan = self.span(&pat);
                        let inner = pat.into_inner().next().ok_or_else(|| internal(self.base, "empty pattern"))?;
                        if inner.as_rule() == Rule::type_pat {
                            let mut it = inner.into_inner();
                            let name = self.ident(next(&mut it, self.base)?);
                            let ty = self.type_term(next(&mut it, self.base)?)?;
                            patterns.push(Pattern { literal: None, member: Some((name, ty)), span: pspan });
                            continue;
                        }
                        let literal = if inner.as_rule() == Rule::wildcard { None } else { Some(self.expr(inner)?) };
                        patterns.push(Pattern { literal, member: None, span: pspan });
                    }
                    let body = self.expr(body_pair)?;
                    arms.push(MatchArm { patterns, body, span: arm_span });
                }
                Ok(Expr { kind: ExprKind::Match { scrutinee: Box::new(scrutinee), arms }, span })
            }
            Rule::coalesce | Rule::or_expr | Rule::and_expr | Rule::cmp_expr | Rule::add_expr | Rule::mul_expr => {
                self.binary_chain(pair)
            }
            Rule::unary => {
                let mut ops = Vec::new();
                let mut operand = None;
                for p in pair.into_inner() {
                    if p.as_rule() == Rule::op_unary {
                        ops.push((if p.as_str() == "!" { UnaryOp::Not } else { UnaryOp::Neg }, self.span(&p).start));
                    } else {
                        operand = Some(self.expr(p)?);
                    }
                }
                let mut e = operand.ok_or_else(|| internal(self.base, "unary without operand"))?;
                for (op, start) in ops.into_iter().rev() {
                    // A minus before an Int literal is folded into it (`-5` is the literal -5), but the
                    // digits are read first, on their own: `-9223372036854775808` is E0212, since
                    // 9223372036854775808 does not fit an Int (the least Int is written
                    // `-9223372036854775807 - 1`). A literal already folded negative (`--5`) stays a negation.
                    e = match (op, e.kind) {
                        (UnaryOp::Neg, ExprKind::Int(n)) if n >= 0 => {
                            Expr { kind: ExprKind::Int(-n), span: Span::new(start as usize, e.span.end as usize) }
                        }
                        (UnaryOp::Neg, ExprKind::Number(s)) => Expr {
                            kind: ExprKind::Number(format!("-{s}")),
                            span: Span::new(start as usize, e.span.end as usize),
                        },
                        (op, kind) => {
                            let inner = Expr { kind, span: e.span };
                            Expr {
                                span: Span::new(start as usize, inner.span.end as usize),
                                kind: ExprKind::Unary { op, expr: Box::new(inner) },
                            }
                        }
                    };
                }
                Ok(e)
            }
            Rule::postfix => {
                let mut it = pair.into_inner();
                let mut e = self.expr(next(&mut it, self.base)?)?;
                for p in it {
                    let end = self.span(&p).end as usize;
                    let span = Span::new(e.span.start as usize, end);
                    let rule = p.as_rule();
                    let mut inner = p.into_inner();
                    let arg = next(&mut inner, self.base)?;
                    e = Expr {
                        kind: match rule {
                            Rule::index => ExprKind::Index { base: Box::new(e), index: Box::new(self.expr(arg)?) },
                            _ => ExprKind::Field {
                                base: Box::new(e),
                                name: self.ident(arg),
                                optional: rule == Rule::opt_field_access,
                            },
                        },
                        span,
                    };
                }
                Ok(e)
            }
            Rule::call | Rule::call_stmt => self.call(pair),
            Rule::ident => Ok(Expr { kind: ExprKind::Name(self.ident(pair)), span }),
            Rule::string => Ok(Expr { kind: ExprKind::Str(unescape(pair.into_inner().as_str())), span }),
            Rule::number => Ok(number(pair.as_str(), span, &mut self.diagnostics)),
            Rule::duration => Ok(duration(pair.as_str(), span, &mut self.diagnostics)),
            Rule::rate => Ok(rate(pair.as_str(), span)),
            Rule::kw_true => Ok(Expr { kind: ExprKind::Bool(true), span }),
            Rule::kw_false => Ok(Expr { kind: ExprKind::Bool(false), span }),
            Rule::kw_null => Ok(Expr { kind: ExprKind::Null, span }),
            Rule::object_lit => {
                let mut fields = Vec::new();
                for f in pair.into_inner() {
                    let mut it = f.into_inner();
                    let first = next(&mut it, self.base)?;
                    if first.as_rule() == Rule::spread {
                        let mut s = first.into_inner();
                        fields.push(ObjectItem::Spread(self.expr(next(&mut s, self.base)?)?));
                        continue;
                    }
                    let name = self.ident(first);
                    let value = self.expr(next(&mut it, self.base)?)?;
                    fields.push(ObjectItem::Field(ObjectField { name, value }));
                }
                Ok(Expr { kind: ExprKind::Object(fields), span })
            }
            Rule::array_lit => {
                let items = pair.into_inner().map(|p| self.expr(p)).collect::<Result<_>>()?;
                Ok(Expr { kind: ExprKind::Array(items), span })
            }
            _ => Err(internal(self.span(&pair).start as usize, "unexpected expression node")),
        }
    }

    /// `a op b op c` folded to the left, iteratively: long chains never deepen the stack.
    fn binary_chain(&mut self, pair: Pair<Rule>) -> Result<Expr> {
        let mut it = pair.into_inner();
        let mut lhs = self.expr(next(&mut it, self.base)?)?;
        let mut rest: Vec<(BinaryOp, Expr)> = Vec::new();
        while let Some(op) = it.next() {
            let op = match op.as_str() {
                "??" => BinaryOp::Coalesce,
                "||" => BinaryOp::Or,
                "&&" => BinaryOp::And,
                "==" => BinaryOp::Eq,
                "!=" => BinaryOp::Ne,
                "<" => BinaryOp::Lt,
                "<=" => BinaryOp::Le,
                ">" => BinaryOp::Gt,
                ">=" => BinaryOp::Ge,
                "+" => BinaryOp::Add,
                "-" => BinaryOp::Sub,
                "*" => BinaryOp::Mul,
                "/" => BinaryOp::Div,
                _ => BinaryOp::Rem,
            };
            rest.push((op, self.expr(next(&mut it, self.base)?)?));
        }
        if rest.first().is_some_and(|(op, _)| *op == BinaryOp::Coalesce) {
            // `a ?? b ?? c` means `a ?? (b ?? c)`: fold from the right.
            let mut operands = vec![lhs];
            operands.extend(rest.into_iter().map(|(_, e)| e));
            let mut acc = operands.pop().ok_or_else(|| internal(self.base, "empty chain"))?;
            while let Some(e) = operands.pop() {
                acc = Expr {
                    span: e.span.to(acc.span),
                    kind: ExprKind::Binary { op: BinaryOp::Coalesce, lhs: Box::new(e), rhs: Box::new(acc) },
                };
            }
            return Ok(acc);
        }
        for (op, rhs) in rest {
            lhs = Expr {
                span: lhs.span.to(rhs.span),
                kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) },
            };
        }
        Ok(lhs)
    }

    fn call(&mut self, pair: Pair<Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let callee = self.ident(next(&mut it, self.base)?);
        let mut args = Vec::new();
        for a in it {
            if a.as_rule() == Rule::named_arg {
                let mut na = a.into_inner();
                let name = self.ident(next(&mut na, self.base)?);
                let value = self.expr(next(&mut na, self.base)?)?;
                args.push(Arg { name: Some(name), value });
            } else {
                args.push(Arg { name: None, value: self.expr(a)? });
            }
        }
        Ok(Expr { kind: ExprKind::Call { callee, args }, span })
    }
}

/// An expression that stands on its own, or E0003 (and `null` in its place) if its tree is
/// deeper than [`crate::MAX_EXPR_DEPTH`].
pub(crate) fn bounded(e: Expr, diagnostics: &mut Vec<Diagnostic>) -> Expr {
    if deeper_than(&e, crate::MAX_EXPR_DEPTH) {
        diagnostics.push(
            Diagnostic::new(codes::TOO_DEEP, format!("expression nested more than {} deep", crate::MAX_EXPR_DEPTH))
                .primary(e.span, "this expression is too deep")
                .help("split it: give parts names with `let`, or move them into separate maps"),
        );
        return Expr { kind: ExprKind::Null, span: e.span };
    }
    e
}

/// A `number` token's expression: an Int when it is all digits (E0212 when it does not fit),
/// else the number as written. Shared by both parsers (`fast.rs`), so they agree.
pub(crate) fn number(text: &str, span: Span, diagnostics: &mut Vec<Diagnostic>) -> Expr {
    let kind = if text.bytes().all(|b| b.is_ascii_digit()) {
        match text.parse::<i64>() {
            Ok(n) => ExprKind::Int(n),
            Err(_) => {
                diagnostics.push(
                    Diagnostic::new(codes::INT_RANGE, "integer literal out of range")
                        .primary(span, "does not fit in a 64-bit Int")
                        .help("Int holds −9223372036854775808 to 9223372036854775807; write a Decimal with a fraction (`1.0`) for larger values"),
                );
                ExprKind::Int(0)
            }
        }
    } else {
        ExprKind::Number(text.to_string())
    };
    Expr { kind, span }
}

/// A `duration` token's expression, in milliseconds (E0402 when it does not fit).
pub(crate) fn duration(text: &str, span: Span, diagnostics: &mut Vec<Diagnostic>) -> Expr {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let unit_ms: u64 = match &text[digits_end..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => 86_400_000,
    };
    let ms = text[..digits_end].parse::<u64>().ok().and_then(|n| n.checked_mul(unit_ms));
    let ms = ms.unwrap_or_else(|| {
        diagnostics.push(
            Diagnostic::new(codes::BAD_DURATION, "duration out of range")
                .primary(span, "too large")
                .help("durations are at most about 584 million years; use a smaller value"),
        );
        0
    });
    Expr { kind: ExprKind::Duration(ms), span }
}

/// A `rate` token's expression (`10/s`).
pub(crate) fn rate(text: &str, span: Span) -> Expr {
    let (n, unit) = text.split_once('/').unwrap_or(("0", "s"));
    let per_ms = match unit {
        "s" => 1_000,
        "min" => 60_000,
        _ => 3_600_000,
    };
    let requests = n.parse::<u64>().unwrap_or(u64::MAX);
    Expr { kind: ExprKind::Rate { requests, per_ms }, span }
}

/// Whether the expression tree is deeper than `budget`. Recurses at most `budget` levels.
fn deeper_than(e: &Expr, budget: usize) -> bool {
    if budget == 0 {
        return true;
    }
    let b = budget - 1;
    match &e.kind {
        ExprKind::Str(_)
        | ExprKind::Rate { .. }
        | ExprKind::Int(_)
        | ExprKind::Number(_)
        | ExprKind::Duration(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Name(_) => false,
        ExprKind::Field { base, .. } => deeper_than(base, b),
        ExprKind::Index { base, index } => deeper_than(base, b) || deeper_than(index, b),
        ExprKind::Call { args, .. } => args.iter().any(|a| deeper_than(&a.value, b)),
        ExprKind::Unary { expr, .. } => deeper_than(expr, b),
        ExprKind::Binary { lhs, rhs, .. } => deeper_than(lhs, b) || deeper_than(rhs, b),
        ExprKind::If { cond, then, otherwise } => {
            deeper_than(cond, b) || deeper_than(then, b) || deeper_than(otherwise, b)
        }
        ExprKind::Lambda { body, .. } => deeper_than(body, b),
        ExprKind::Catch { expr, default } => deeper_than(expr, b) || deeper_than(default, b),
        ExprKind::Match { scrutinee, arms } => {
            deeper_than(scrutinee, b) || arms.iter().any(|a| deeper_than(&a.body, b))
        }
        ExprKind::Object(fields) => fields.iter().any(|f| match f {
            ObjectItem::Field(f) => deeper_than(&f.value, b),
            ObjectItem::Spread(e) => deeper_than(e, b),
        }),
        ExprKind::Array(items) => items.iter().any(|i| deeper_than(i, b)),
    }
}

/// Where pest's parse of one declaration stops, and what it would have taken there: the literal
/// tokens, and the rules that wanted something else, in words (`rule_name`). Uses pest's record of
/// the attempts at the furthest position reached, so the position is the token that broke the
/// rule (`x String` → at `String`), not the start of the rule. `recover.rs` words the diagnostic.
#[derive(Default)]
pub(crate) struct Failure {
    /// Offset in the declaration's text of the first token pest could not take (whitespace skipped).
    pub(crate) pos: usize,
    /// The literal tokens that would have fitted (operators folded into "an operator").
    pub(crate) tokens: Vec<String>,
    /// What the rules that stopped there wanted, in words.
    pub(crate) wanted: Vec<&'static str>,
}

/// Runs the grammar on one declaration's text: `None` when it parses; where it stopped, with
/// what pest tried there, when it does not.
///
/// pest records what it tried ("error detail") only when asked, process-wide, and recording it
/// costs more than half of every parse. So a declaration is first parsed without it
/// ([`parse_decl`]: a declaration that parses gives the same tree either way), and only one that
/// fails is parsed again here with it. The switch is read when a parse starts; it is turned on
/// only under this lock, so every parse here sees it on, and a parse elsewhere that starts
/// meanwhile merely records what it need not.
pub(crate) fn failure(text: &str) -> Option<Failure> {
    static DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _only_one = DETAIL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    pest::set_error_detail(true);
    let result = FlowParser::parse(Rule::single_decl, text);
    pest::set_error_detail(false);
    result.err().map(|e| failure_of(&e, text))
}

fn failure_of(e: &pest::error::Error<Rule>, text: &str) -> Failure {
    use pest::error::{ErrorVariant, InputLocation};
    let mut pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut tokens: Vec<String> = Vec::new();
    let mut wanted: Vec<&'static str> = Vec::new();
    if let Some(attempts) = e.parse_attempts() {
        pos = pos.max(attempts.max_position);
        for token in attempts.expected_tokens() {
            let token = token.to_string();
            let trivia = token.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}').is_empty()
                || token == "//"
                || token == "/*";
            // Keywords and methods (`GET`) are said by the rule that wanted them.
            if trivia
                || token.chars().any(|c| c.is_alphanumeric() || c == '_')
                    && token != "then"
                    && token != "else"
                    && token != "in"
            {
                continue;
            }
            if token.chars().all(|c| "!=%&*+-./<>?|".contains(c)) && !matches!(token.as_str(), "=" | "->" | "=>") {
                tokens.push("an operator".to_string());
            } else {
                tokens.push(token);
            }
        }
        for stack in &attempts.call_stacks {
            let rule = stack.deepest.get_rule().copied().or(stack.parent);
            wanted.extend(rule.and_then(rule_name));
        }
    }
    if wanted.is_empty() {
        if let ErrorVariant::ParsingError { positives, .. } = &e.variant {
            wanted.extend(positives.iter().filter_map(|r| rule_name(*r)));
        }
    }
    tokens.sort_unstable();
    tokens.dedup();
    wanted.sort_unstable();
    wanted.dedup();
    let pos = pos.min(text.len());
    let skipped = text[pos..].len() - text[pos..].trim_start().len();
    Failure { pos: pos + skipped, tokens, wanted }
}

fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of input",
        Rule::decl | Rule::single_decl | Rule::file => "a declaration",
        Rule::secret_decl | Rule::kw_secret => "`secret`",
        Rule::api_decl | Rule::kw_api => "`api`",
        Rule::type_decl | Rule::kw_type => "`type`",
        Rule::endpoint_decl | Rule::kw_endpoint => "`endpoint`",
        Rule::map_decl | Rule::kw_map => "`map`",
        Rule::flow_decl | Rule::kw_flow => "`flow`",
        Rule::block => "`{`",
        Rule::property => "a property (`name = value`)",
        Rule::params => "a parameter list `(name: Type)`",
        Rule::param => "a parameter (`name: Type`)",
        Rule::method => "an HTTP method (GET, POST, PUT, PATCH, DELETE)",
        Rule::type_expr | Rule::type_term | Rule::array_type | Rule::dict_type | Rule::object_type => "a type",
        Rule::nullable => "`?`",
        Rule::optional_mark => "`?` (an optional field)",
        Rule::null_member => "`| null`",
        Rule::type_field => "a field (`name: Type`)",
        Rule::field_assign => "a field assignment (`name = value`)",
        Rule::let_stmt | Rule::kw_let => "`let`",
        Rule::for_stmt | Rule::kw_for => "`for`",
        Rule::state_stmt | Rule::kw_state => "`state`",
        Rule::kw_in => "`in`",
        Rule::kw_where => "`where`",
        Rule::call_stmt | Rule::call => "a call",
        Rule::expr
        | Rule::if_expr
        | Rule::lambda
        | Rule::coalesce
        | Rule::or_expr
        | Rule::and_expr
        | Rule::cmp_expr
        | Rule::add_expr
        | Rule::mul_expr
        | Rule::unary
        | Rule::postfix
        | Rule::literal => "an expression",
        Rule::field_access | Rule::opt_field_access => "`.`",
        Rule::index => "`[`",
        Rule::named_arg => "an argument",
        Rule::object_lit => "`{`",
        Rule::object_field => "a field (`name: value`)",
        Rule::array_lit => "`[`",
        Rule::op_coalesce | Rule::op_or | Rule::op_and | Rule::op_cmp | Rule::op_add | Rule::op_mul => "an operator",
        Rule::op_unary => "an expression",
        Rule::duration | Rule::number | Rule::rate => "a number",
        Rule::string | Rule::str_inner | Rule::escape => "a string",
        Rule::ident | Rule::word | Rule::field_name => "a name",
        Rule::kw_if => "`if`",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
        Rule::kw_true | Rule::kw_false | Rule::kw_null => "an expression",
        Rule::table_decl | Rule::kw_table => "`table`",
        Rule::fn_decl | Rule::kw_fn => "`fn`",
        Rule::test_decl | Rule::kw_test => "`test`",
        Rule::expect_stmt | Rule::kw_expect => "`expect`",
        Rule::table_entry => "a table entry (`\"key\" => value`)",
        Rule::match_expr | Rule::kw_match => "`match`",
        Rule::match_arm => "a match arm (`\"value\" => result`)",
        Rule::match_pat | Rule::wildcard => "a pattern (a literal or `_`)",
        Rule::catch_expr => "an expression",
        Rule::kw_catch => "`catch`",
        Rule::spread | Rule::map_spread => "`...`",
        _ => return None,
    })
}
