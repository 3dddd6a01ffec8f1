//! The settings of a declaration block (`name = value`) that apis, endpoints and flows share:
//! a setting given twice, an unknown setting, and the values several of them take (literal
//! strings, header names, durations, retry policies, concurrency).

use flow_diagnostics::{codes, suggest, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::names::{twice, Again};
use crate::Checker;

pub(crate) const MAX_CONCURRENCY: i64 = 1024;
pub(crate) const MAX_TIMEOUT_MS: u64 = 24 * 3_600_000;

impl Checker<'_> {
    pub(crate) fn no_repeated_properties(&mut self, props: &[ast::Property]) {
        for (i, p) in props.iter().enumerate() {
            if let Some(first) = props[..i].iter().find(|q| q.name.name == p.name.name) {
                self.report(twice(
                    Again::Set,
                    &format!("`{}`", p.name.name),
                    p.name.span,
                    Some(first.name.span),
                    "keep one of the two",
                ));
            }
        }
    }

    pub(crate) fn unknown_property(&mut self, name: &ast::Ident, what: &str, known: &[&str]) {
        let help = match suggest(&name.name, known.iter().copied()) {
            Some(s) => flow_diagnostics::did_you_mean(name.span, s),
            None => format!("{what} takes: {}", known.join(", ")).into(),
        };
        self.report(
            Diagnostic::new(codes::UNKNOWN_PROPERTY, format!("{what} has no property `{}`", name.name))
                .primary(name.span, "unknown property")
                .help(help),
        );
    }

    pub(crate) fn literal_string(&mut self, e: &ast::Expr, what: &str) -> Option<String> {
        match &e.kind {
            ExprKind::Str(s) if !s.is_empty() => Some(s.clone()),
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_PROPERTY, format!("{what} must be a non-empty string literal"))
                        .primary(e.span, "not a string literal")
                        .help("write it in quotes"),
                );
                None
            }
        }
    }

    /// Header names are HTTP tokens; anything else would be refused by the HTTP client at run time.
    pub(crate) fn header_name(&mut self, name: &str, span: Span) -> bool {
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !ok {
            self.report(
                Diagnostic::new(codes::BAD_PROPERTY, format!("`{name}` is not a valid header name"))
                    .primary(span, "invalid header name")
                    .help("header names are letters, digits and - (e.g. \"X-Api-Key\")"),
            );
        }
        ok
    }

    /// The fields of an object literal where a spread makes no sense (headers, query).
    pub(crate) fn plain_fields<'e>(&mut self, items: &'e [ast::ObjectItem], what: &str) -> Vec<&'e ast::ObjectField> {
        let mut out = Vec::new();
        for item in items {
            match item {
                ast::ObjectItem::Field(f) => out.push(f),
                ast::ObjectItem::Spread(e) => self.report(
                    Diagnostic::new(codes::BAD_PROPERTY, format!("{what} lists its entries one by one"))
                        .primary(e.span, "a spread here")
                        .help("write each entry as `name: value`"),
                ),
            }
        }
        out
    }

    pub(crate) fn duration_setting(&mut self, e: &ast::Expr, what: &str) -> Option<u64> {
        match e.kind {
            ExprKind::Duration(ms) if ms > 0 && ms <= MAX_TIMEOUT_MS => Some(ms),
            ExprKind::Duration(_) => {
                self.report(
                    Diagnostic::new(codes::BAD_DURATION, format!("`{what}` must be between 1ms and 24h"))
                        .primary(e.span, "out of range")
                        .help("write a duration such as `10s` or `500ms`"),
                );
                None
            }
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_DURATION, format!("`{what}` must be a duration"))
                        .primary(e.span, "not a duration")
                        .help("write a number with a unit: `500ms`, `10s`, `2m`, `1h`"),
                );
                None
            }
        }
    }

    /// `retry = { attempts: 5, backoff: exponential(200ms, max: 30s) }`.
    pub(crate) fn retry_setting(&mut self, e: &ast::Expr) -> Option<plan::Retry> {
        let usage = "write `retry = { attempts: 5, backoff: exponential(200ms, max: 30s) }` (attempts 1 to 20; 1 means no retry)";
        let bad = |checker: &mut Self, span: Span, what: &str| {
            checker.report(
                Diagnostic::new(codes::BAD_PROPERTY, format!("invalid retry policy: {what}"))
                    .primary(span, "here")
                    .help(usage),
            );
            None
        };
        let ExprKind::Object(items) = &e.kind else { return bad(self, e.span, "not an object") };
        let mut retry = plan::Retry::default();
        for f in self.plain_fields(items, "`retry`") {
            match (f.name.name.as_str(), &f.value.kind) {
                ("attempts", ExprKind::Int(n)) if (1..=20).contains(n) => retry.attempts = *n as u32,
                ("backoff", ExprKind::Call { callee, args }) if callee.name == "exponential" => {
                    let base = args.iter().find(|a| a.name.is_none()).map(|a| &a.value.kind);
                    let max =
                        args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == "max")).map(|a| &a.value.kind);
                    match (base, max, args.len()) {
                        (Some(ExprKind::Duration(b)), Some(ExprKind::Duration(m)), 2) if *b > 0 && m >= b => {
                            retry.base_ms = *b;
                            retry.max_ms = *m;
                        }
                        (Some(ExprKind::Duration(b)), None, 1) if *b > 0 => retry.base_ms = *b,
                        _ => {
                            return bad(
                                self,
                                f.value.span,
                                "the backoff is `exponential(BASE, max: CAP)` with 0 < BASE ≤ CAP",
                            )
                        }
                    }
                }
                ("attempts", _) => return bad(self, f.value.span, "`attempts` is a whole number from 1 to 20"),
                ("backoff", _) => {
                    return bad(self, f.value.span, "the backoff is `exponential(BASE, max: CAP)` with 0 < BASE ≤ CAP")
                }
                (name, _) => {
                    return bad(self, f.name.span, &format!("`{name}` is not a retry setting (`attempts`, `backoff`)"))
                }
            }
        }
        Some(retry)
    }

    pub(crate) fn concurrency_setting(&mut self, e: &ast::Expr) -> Option<u32> {
        match e.kind {
            ExprKind::Int(n) if (1..=MAX_CONCURRENCY).contains(&n) => u32::try_from(n).ok(),
            _ => {
                self.report(
                    Diagnostic::new(
                        codes::BAD_PROPERTY,
                        format!("`concurrency` must be a whole number from 1 to {MAX_CONCURRENCY}"),
                    )
                    .primary(e.span, "not in 1..=1024")
                    .help("write e.g. `concurrency = 8`"),
                );
                None
            }
        }
    }
}
