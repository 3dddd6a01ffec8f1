//! `format`: one canonical layout for `.flow` files. Printed from the AST, so the result parses to
//! the same tree; comments are collected from the source and kept, word for word: a comment on a
//! line of its own stays before the item that follows it, a comment after code stays at the end
//! of that line. Idempotent: formatting formatted text changes nothing.

use crate::lex::Lexeme;
use flow_diagnostics::Diagnostic;

use crate::ast::*;

/// Lines longer than this are broken: objects, arrays and calls get one item per line.
const WIDTH: usize = 100;

/// Formats a file; files with syntax errors are not formatted (their diagnostics come back).
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = crate::parse(source);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let mut p = Printer { out: String::new(), comments: comments(source), next: 0 };
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

struct Printer {
    out: String,
    comments: Vec<Comment>,
    next: usize,
}

fn pad(level: usize) -> String {
    "  ".repeat(level)
}

impl Printer {
    /// Emits the comments that start before `pos`.
    fn comments_before(&mut self, pos: u32, level: usize) {
        while let Some(c) = self.comments.get(self.next) {
            if c.start >= pos {
                break;
            }
            if !c.own_line && self.out.ends_with('\n') && !self.out.ends_with("\n\n") && !self.out.is_empty() {
                // A comment after code: back at the end of the line it followed.
                self.out.pop();
                self.out.push_str("  ");
                self.out.push_str(&c.text);
                self.out.push('\n');
            } else {
                self.out.push_str(&pad(level));
                self.out.push_str(&c.text);
                self.out.push('\n');
                if c.blank_after && level == 0 {
                    self.out.push('\n');
                }
            }
            self.next += 1;
        }
    }

    /// Emits the comments before `pos` that follow code on their line, at the end of that line.
    fn trailing_before(&mut self, pos: u32) {
        while let Some(c) = self.comments.get(self.next) {
            if c.start >= pos || c.own_line || !self.out.ends_with('\n') {
                break;
            }
            self.out.pop();
            self.out.push_str("  ");
            self.out.push_str(&c.text);
            self.out.push('\n');
            self.next += 1;
        }
    }

    fn line(&mut self, level: usize, text: &str) {
        self.out.push_str(&pad(level));
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn decl(&mut self, decl: &Decl) {
        match decl {
            Decl::Secret(d) => self.line(0, &format!("secret {}", d.name.name)),
            Decl::Api(d) => {
                self.line(0, &format!("api {} {{", d.name.name));
                self.props(&d.props, 1, d.span.end);
                self.line(0, "}");
            }
            Decl::Type(d) => match &d.ty.kind {
                TypeExprKind::Object(fields) if !d.ty.nullable => {
                    self.line(0, &format!("type {} {{", d.name.name));
                    for f in fields {
                        self.comments_before(f.span.start, 1);
                        self.line(1, &format!("{}{}: {}", field_name(&f.name.name), mark(f), ty(&f.ty, 1)));
                    }
                    self.comments_before(d.span.end, 1);
                    self.line(0, "}");
                }
                _ => self.line(0, &format!("type {} = {}", d.name.name, ty(&d.ty, 0))),
            },
            Decl::Endpoint(d) => {
                let mut head = format!(
                    "endpoint {} = {} {} {}",
                    d.name.name,
                    d.api.name,
                    d.method.as_str(),
                    string(&d.path.value)
                );
                if !d.params.is_empty() {
                    head.push_str(&format!(" ({})", params(&d.params)));
                }
                if let Some(r) = &d.response {
                    head.push_str(&format!(" -> {}", ty(r, 0)));
                }
                if d.props.is_empty() {
                    self.line(0, &head);
                } else {
                    self.line(0, &format!("{head} {{"));
                    self.props(&d.props, 1, d.span.end);
                    self.line(0, "}");
                }
            }
            Decl::Map(d) => {
                self.line(0, &format!("map {}({}) -> {} {{", d.name.name, params(&d.params), ty(&d.ret, 0)));
                for item in &d.items {
                    match item {
                        MapItem::Let(l) => {
                            self.comments_before(l.span.start, 1);
                            self.line(1, &let_text(l, 1));
                        }
                        MapItem::Field(f) => {
                            self.comments_before(f.span.start, 1);
                            self.line(1, &format!("{} = {}", field_name(&f.name.name), expr(&f.value, 0, 1)));
                        }
                        MapItem::Spread(e) => {
                            self.comments_before(e.span.start, 1);
                            self.line(1, &format!("...{}", expr(e, 9, 1)));
                        }
                    }
                }
                self.comments_before(d.span.end, 1);
                self.line(0, "}");
            }
            Decl::Flow(d) => {
                self.line(0, &format!("flow {} {{", d.name.name));
                self.stmts(&d.body, 1);
                self.comments_before(d.span.end, 1);
                self.line(0, "}");
            }
            Decl::Table(d) => {
                self.line(0, &format!("table {}: {} -> {} {{", d.name.name, ty(&d.key, 0), ty(&d.value, 0)));
                for (k, v) in &d.entries {
                    self.comments_before(k.span.start, 1);
                    self.line(1, &format!("{} => {},", expr(k, 0, 1), expr(v, 0, 1)));
                }
                self.comments_before(d.span.end, 1);
                self.line(0, "}");
            }
            Decl::Function(d) => {
                let head = format!("fn {}({}) -> {} = ", d.name.name, params(&d.params), ty(&d.ret, 0));
                let body = expr(&d.body, 0, 0);
                self.line(0, &format!("{head}{body}"));
            }
            Decl::Test(d) => {
                self.line(0, &format!("test {} {{", string(&d.name.name)));
                for item in &d.items {
                    match item {
                        TestItem::Let(l) => {
                            self.comments_before(l.span.start, 1);
                            self.line(1, &let_text(l, 1));
                        }
                        TestItem::Expect(e) => {
                            self.comments_before(e.span.start, 1);
                            self.line(1, &format!("expect {}", expr(e, 0, 1)));
                        }
                    }
                }
                self.comments_before(d.span.end, 1);
                self.line(0, "}");
            }
        }
    }

    fn props(&mut self, props: &[Property], level: usize, end: u32) {
        for p in props {
            self.comments_before(p.span.start, level);
            self.line(level, &format!("{} = {}", p.name.name, expr(&p.value, 0, level)));
        }
        self.comments_before(end, level);
    }

    fn stmts(&mut self, stmts: &[Stmt], level: usize) {
        for s in stmts {
            match s {
                Stmt::Let(l) => {
                    self.comments_before(l.span.start, level);
                    self.line(level, &let_text(l, level));
                }
                Stmt::Property(p) => {
                    self.comments_before(p.span.start, level);
                    self.line(level, &format!("{} = {}", p.name.name, expr(&p.value, 0, level)));
                }
                Stmt::Call(e) => {
                    self.comments_before(e.span.start, level);
                    self.line(level, &expr(e, 0, level));
                }
                Stmt::For(f) => {
                    self.comments_before(f.span.start, level);
                    let mut head = format!("for {} in {}", f.var.name, expr(&f.source, 0, level));
                    if let Some(c) = &f.filter {
                        head.push_str(&format!(" where {}", expr(c, 0, level)));
                    }
                    self.line(level, &format!("{head} {{"));
                    self.stmts(&f.body, level + 1);
                    self.comments_before(f.span.end, level + 1);
                    self.line(level, "}");
                }
            }
        }
    }
}

fn let_text(l: &Let, level: usize) -> String {
    match &l.ty {
        Some(t) => format!("let {}: {} = {}", l.name.name, ty(t, level), expr(&l.value, 0, level)),
        None => format!("let {} = {}", l.name.name, expr(&l.value, 0, level)),
    }
}

fn params(params: &[Param]) -> String {
    params.iter().map(|p| format!("{}: {}", p.name.name, ty(&p.ty, 0))).collect::<Vec<_>>().join(", ")
}

/// A field or key: bare when it is a word, quoted otherwise.
/// `?` after an optional field's name.
fn mark(f: &FieldDecl) -> &'static str {
    if f.optional {
        "?"
    } else {
        ""
    }
}

fn field_name(name: &str) -> String {
    let word = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if word {
        name.to_string()
    } else {
        string(name)
    }
}

fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn ty(t: &TypeExpr, level: usize) -> String {
    let inner = match &t.kind {
        TypeExprKind::Name(id) => id.name.clone(),
        TypeExprKind::Literal(s) => string(s),
        TypeExprKind::Union(members) => members.iter().map(|m| ty(m, level)).collect::<Vec<_>>().join(" | "),
        TypeExprKind::Array(item) => format!("[{}]", ty(item, level)),
        TypeExprKind::Object(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|f| format!("{}{}: {}", field_name(&f.name.name), mark(f), ty(&f.ty, level + 1)))
                .collect();
            let inline = format!("{{ {} }}", parts.join(", "));
            if inline.len() + level * 2 <= WIDTH && !inline.contains('\n') {
                inline
            } else {
                let mut s = String::from("{\n");
                for p in parts {
                    s.push_str(&format!("{}{p}\n", pad(level + 1)));
                }
                s.push_str(&format!("{}}}", pad(level)));
                s
            }
        }
    };
    if t.nullable {
        // `"a" | "b"?` would make only the last member nullable in a reader's eyes: parenthesize.
        if matches!(t.kind, TypeExprKind::Union(_)) {
            format!("({inner})?")
        } else {
            format!("{inner}?")
        }
    } else {
        inner
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

/// An expression, in parentheses when it binds looser than `min`. `level` is the indentation of
/// the line it starts on, for the lines of a multi-line form.
fn expr(e: &Expr, min: u8, level: usize) -> String {
    let text = expr_inner(e, level);
    if prec(e) < min {
        format!("({text})")
    } else {
        text
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

fn expr_inner(e: &Expr, level: usize) -> String {
    match &e.kind {
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
        ExprKind::Field { base, name, optional } => {
            format!("{}{}{}", expr(base, 9, level), if *optional { "?." } else { "." }, name.name)
        }
        ExprKind::Index { base, index } => format!("{}[{}]", expr(base, 9, level), expr(index, 0, level)),
        ExprKind::Call { callee, args } => {
            // A long call whose last argument is an object or array hugs it: `f(x, body: {` … `})`.
            if let Some((last, init)) = args.split_last() {
                if matches!(last.value.kind, ExprKind::Object(_) | ExprKind::Array(_)) {
                    let head: Vec<String> = init
                        .iter()
                        .map(|a| match &a.name {
                            Some(n) => format!("{}: {}", n.name, expr(&a.value, 0, level)),
                            None => expr(&a.value, 0, level),
                        })
                        .collect();
                    let tail = expr(&last.value, 0, level);
                    let name = last.name.as_ref().map_or_else(String::new, |n| format!("{}: ", n.name));
                    let sep = if head.is_empty() { "" } else { ", " };
                    let hugged = format!("{}({}{sep}{name}{tail})", callee.name, head.join(", "));
                    if tail.contains('\n') && !head.iter().any(|h| h.contains('\n')) {
                        return hugged;
                    }
                }
            }
            let items: Vec<String> = args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}: {}", n.name, expr(&a.value, 0, level + 1)),
                    None => expr(&a.value, 0, level + 1),
                })
                .collect();
            format!("{}{}", callee.name, list("(", &items, ")", level))
        }
        ExprKind::Unary { op, expr: inner } => {
            let sym = if *op == UnaryOp::Not { "!" } else { "-" };
            format!("{sym}{}", expr(inner, 8, level))
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
            format!("{} {} {}", expr(lhs, lmin, level), op.as_str(), expr(rhs, rmin, level))
        }
        ExprKind::Catch { expr: inner, default } => {
            format!("{} catch {}", expr(inner, 2, level), expr(default, 3, level))
        }
        ExprKind::If { cond, then, otherwise } => {
            format!("if {} then {} else {}", expr(cond, 0, level), expr(then, 0, level), expr(otherwise, 0, level))
        }
        ExprKind::Lambda { param, body } => format!("{} => {}", param.name, expr(body, 0, level)),
        ExprKind::Match { scrutinee, arms } => {
            let mut s = format!("match {} {{\n", expr(scrutinee, 0, level));
            for arm in arms {
                let pats: Vec<String> = arm
                    .patterns
                    .iter()
                    .map(|p| p.literal.as_ref().map_or_else(|| "_".to_string(), |l| expr(l, 0, level + 1)))
                    .collect();
                s.push_str(&format!("{}{} => {},\n", pad(level + 1), pats.join(" | "), expr(&arm.body, 0, level + 1)));
            }
            s.push_str(&format!("{}}}", pad(level)));
            s
        }
        ExprKind::Object(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    ObjectItem::Field(f) => format!("{}: {}", field_name(&f.name.name), expr(&f.value, 0, level + 1)),
                    ObjectItem::Spread(s) => format!("...{}", expr(s, 9, level + 1)),
                })
                .collect();
            if parts.is_empty() {
                "{}".into()
            } else {
                list("{", &parts, "}", level)
            }
        }
        ExprKind::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| expr(i, 0, level + 1)).collect();
            list("[", &parts, "]", level)
        }
    }
}
