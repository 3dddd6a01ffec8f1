//! An endpoint's `paginate` property: the paging kinds (cursor, next_url, link_header, page,
//! offset), where the cursor or page is sent, and the `more:`/`total:` stop rules; what they read
//! of a page (`page_read`): a response path, or an expression over `response` and `records`.

use flow_diagnostics::{codes, suggest, Diagnostic, Fix, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::scope::Scope;
use crate::ty::Ty;
use crate::Checker;

/// What paging may read of a page: the response type, and the records (their path in the
/// response and their item type) when the endpoint declares them.
pub(crate) struct Page<'a> {
    pub response: Option<&'a Ty>,
    pub records: Option<(&'a [String], &'a Ty)>,
}

impl Checker<'_> {
    // Long because it is one arm per pagination kind (link_header, page, offset, cursor,
    // next_url), each checking its own arguments; a new kind is a new arm.
    pub(crate) fn pagination(&mut self, e: &ast::Expr, page: &Page<'_>, object_body: bool) -> Option<plan::Pagination> {
        const KINDS: &str = "cursor(param: \"cursor\", from: response.next_cursor), next_url(from: response.next), link_header(), page(param: \"page\", start: 1) or offset(param: \"offset\", size: 100, limit_param: \"limit\")";
        let ExprKind::Call { callee, args } = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, "`paginate` must be a pagination kind")
                    .primary(e.span, "not a pagination kind")
                    .help(format!("write {KINDS}")),
            );
            return None;
        };
        // `more:` and `total:` are read by `pagination_stop`; the kinds see the other arguments.
        let args: Vec<ast::Arg> = args
            .iter()
            .filter(|a| !a.name.as_ref().is_some_and(|n| n.name == "more" || n.name == "total"))
            .cloned()
            .collect();
        let args = args.as_slice();
        let named = |n: &str| args.iter().find(|a| a.name.as_ref().is_some_and(|x| x.name == n)).map(|a| &a.value);
        let span = e.span;
        let bad_args = |checker: &mut Self| {
            checker.report(
                Diagnostic::new(codes::BAD_PAGINATION, format!("wrong arguments for `{}`", callee.name))
                    .primary(span, "these arguments")
                    .help(format!("write {KINDS}")),
            );
            None
        };
        let allowed =
            |names: &[&str]| args.iter().all(|a| a.name.as_ref().is_some_and(|n| names.contains(&n.name.as_str())));
        match callee.name.as_str() {
            "link_header" => {
                return if args.is_empty() { Some(plan::Pagination::LinkHeader { span }) } else { bad_args(self) };
            }
            "page" => {
                if !allowed(&["param", "start", "place"]) {
                    return bad_args(self);
                }
                let param = self.literal_string(named("param")?, "the page parameter")?;
                let start = match named("start").map(|s| &s.kind) {
                    None => 1,
                    Some(ExprKind::Int(n)) => *n,
                    Some(_) => return bad_args(self),
                };
                let in_body = self.pagination_place(named("place"), object_body)?;
                return Some(plan::Pagination::Page { param, start, span, in_body });
            }
            "offset" => {
                if !allowed(&["param", "size", "limit_param", "place"]) {
                    return bad_args(self);
                }
                let param = self.literal_string(named("param")?, "the offset parameter")?;
                let size = match named("size").map(|s| &s.kind) {
                    Some(ExprKind::Int(n)) if *n >= 1 => *n as u64,
                    _ => return bad_args(self),
                };
                let limit_param = match named("limit_param") {
                    Some(l) => Some(self.literal_string(l, "the limit parameter")?),
                    None => None,
                };
                let in_body = self.pagination_place(named("place"), object_body)?;
                return Some(plan::Pagination::Offset { param, limit_param, size, span, in_body });
            }
            _ => {}
        }
        let from = named("from");
        let param = named("param");
        let expected_args = match callee.name.as_str() {
            "cursor" => 2,
            "next_url" => 1,
            other => {
                let help = match suggest(other, ["cursor", "next_url", "link_header", "page", "offset"]) {
                    Some(s) => flow_diagnostics::Help::from(format!("did you mean `{s}`? The kinds: {KINDS}"))
                        .with_fix(Fix::replace(callee.span, s)),
                    None => format!("the kinds: {KINDS}").into(),
                };
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, format!("unknown pagination kind `{other}`"))
                        .primary(callee.span, "not a pagination kind")
                        .help(help),
                );
                return None;
            }
        };
        let placed = usize::from(named("place").is_some() && callee.name == "cursor");
        let Some(from) =
            from.filter(|_| args.len() == expected_args + placed && (expected_args == 1 || param.is_some()))
        else {
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, format!("wrong arguments for `{}`", callee.name))
                    .primary(e.span, "these arguments")
                    .help(format!("write {KINDS}")),
            );
            return None;
        };
        let (path, ty) = self.page_read(from, page, "from")?;
        let ok = match callee.name.as_str() {
            "cursor" => matches!(self.types.resolve(&self.types.non_null(&ty)), Ty::String | Ty::Int | Ty::Error),
            _ => matches!(self.types.resolve(&self.types.non_null(&ty)), Ty::String | Ty::Error),
        };
        if !ok {
            let shown = self.types.display(&ty);
            self.report(
                Diagnostic::new(codes::BAD_PAGINATION, format!("`from` must lead to a {}, not `{shown}`", if callee.name == "cursor" { "String or Int cursor" } else { "String URL" }))
                    .primary(from.span, format!("this is `{shown}`"))
                    .help("point `from` at the field that holds the next cursor or URL, declared nullable (`String?`) since the last page has none"),
            );
            return None;
        }
        let span = e.span;
        Some(match callee.name.as_str() {
            "cursor" => plan::Pagination::Cursor {
                param: self.literal_string(param?, "the cursor parameter")?,
                from: path,
                span,
                in_body: self.pagination_place(named("place"), object_body)?,
            },
            _ => plan::Pagination::NextUrl { from: path, span },
        })
    }

    /// `place: "query"` (the default) or `place: "body"`: where a cursor, page or offset is sent.
    fn pagination_place(&mut self, place: Option<&ast::Expr>, object_body: bool) -> Option<bool> {
        let Some(place) = place else { return Some(false) };
        match &place.kind {
            ExprKind::Str(s) if s == "query" => Some(false),
            ExprKind::Str(s) if s == "body" && object_body => Some(true),
            ExprKind::Str(s) if s == "body" => {
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, "paging in the body needs an object body")
                        .primary(place.span, "the endpoint has no object body")
                        .help("declare the body after the path, `(body: { query: String })`, and pass it in the `for`"),
                );
                None
            }
            _ => {
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, "`place` is \"query\" or \"body\"")
                        .primary(place.span, "not a place")
                        .help("write `place: \"body\"` to send the cursor, page or offset in the JSON body"),
                );
                None
            }
        }
    }

    /// `more: response.has_more` and `total: response.total`, on any pagination kind.
    pub(crate) fn pagination_stop(&mut self, e: &ast::Expr, page: &Page<'_>) -> plan::Stop {
        let mut stop = plan::Stop::default();
        let ExprKind::Call { args, .. } = &e.kind else { return stop };
        for a in args {
            let Some(name) = &a.name else { continue };
            let (want, what) = match name.name.as_str() {
                "more" => (Ty::Bool, "a Bool (go on while it is true)"),
                "total" => (Ty::Int, "an Int (the number of records in all)"),
                _ => continue,
            };
            let Some((path, ty)) = self.page_read(&a.value, page, &name.name) else {
                continue;
            };
            let found = self.types.resolve(&self.types.non_null(&ty)).clone();
            if found != want && found != Ty::Error {
                let shown = self.types.display(&ty);
                self.report(
                    Diagnostic::new(codes::BAD_PAGINATION, format!("`{}` must lead to {what}, not `{shown}`", name.name))
                        .primary(a.value.span, format!("this is `{shown}`"))
                        .help("point it at the response field that says whether more pages follow, or how many records there are"),
                );
                continue;
            }
            if name.name == "more" {
                stop.more = Some(path);
            } else {
                stop.total = Some(path);
            }
        }
        stop
    }

    /// `from:`, `more:`, `total:`: a path into the response (`response.paging."vid-offset"`), or
    /// an expression over the page's `response` (its envelope) and `records` (its records),
    /// checked against their types like any expression: `last(records)?.id`.
    fn page_read(&mut self, e: &ast::Expr, page: &Page<'_>, what: &str) -> Option<(plan::PageRead, Ty)> {
        if is_response_path(e) {
            let (path, ty) = self.response_path(e, page.response, codes::BAD_PAGINATION, what)?;
            return Some((plan::PageRead::Path(path), ty));
        }
        let Some(response) = page.response else {
            self.report(
                Diagnostic::new(
                    codes::BAD_PAGINATION,
                    format!("`{what}` reads the response, but the endpoint declares no response type"),
                )
                .primary(e.span, "no response type to read")
                .help("declare the response after the path: `-> { items: [Item] }`"),
            );
            return None;
        };
        if let Some((records, _)) = page.records {
            if let Some(at) = reads_records_through_response(e, records, false) {
                let path = std::iter::once("response".to_string())
                    .chain(records.iter().map(|n| flow_syntax::lex::key(n)))
                    .collect::<Vec<_>>()
                    .join(".");
                self.report(
                    Diagnostic::new(codes::PAGE_RECORDS_THROUGH_RESPONSE, format!("`{what}` reads the records through `{path}`"))
                        .primary(at, "the page's records are not in `response` here")
                        .help(
                            flow_diagnostics::Help::from(format!(
                                "write `records`: paging sees the page's records there (`{path}` is read apart from the rest of the page)"
                            ))
                            .with_fix((at.range().len() == path.len()).then(|| Fix::replace(at, "records"))),
                        ),
                );
                return None;
            }
        }
        let mut scope = Scope::default();
        scope.push("response", response.clone(), e.span, false);
        if let Some((_, item)) = page.records {
            scope.push("records", Ty::Array(std::rc::Rc::new(item.clone())), e.span, false);
        }
        let errors = self.error_count();
        let (ty, expr) = self.infer(e, &mut scope);
        // `response` and `records` are declared nowhere: their uses are no uses of a declaration.
        self.info.name_uses.retain(|(_, decl)| *decl != e.span);
        if self.error_count() > errors {
            return None;
        }
        let reads_records = scope.was_used("records");
        Some((plan::PageRead::Expr { expr, reads_records }, ty))
    }
}

/// `response.a.b` (with `.` or `?.`): what paging has always read, kept as a path in the plan.
fn is_response_path(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Field { base, .. } => is_response_path(base),
        ExprKind::Name(id) => id.name == "response",
        _ => false,
    }
}

/// Where `e` reads the records' array (at `records` in the response; the whole response when
/// the response is the array) through `response`, where paging has taken them out: the span of
/// that read. A lambda parameter named `response` (`shadowed`) is another value.
fn reads_records_through_response(e: &ast::Expr, records: &[String], shadowed: bool) -> Option<Span> {
    // A path from `response`: its names, if it starts there.
    fn chain(e: &ast::Expr, names: &mut Vec<String>) -> bool {
        match &e.kind {
            ExprKind::Name(id) => id.name == "response",
            ExprKind::Field { base, name, .. } => {
                let ok = chain(base, names);
                names.push(name.name.clone());
                ok
            }
            _ => false,
        }
    }
    let mut names = Vec::new();
    if !shadowed && chain(e, &mut names) && names.len() >= records.len() && names[..records.len()] == *records {
        // The shortest such read: the path up to the records' array.
        let mut at = e;
        for _ in records.len()..names.len() {
            if let ExprKind::Field { base, .. } = &at.kind {
                at = base;
            }
        }
        return Some(at.span);
    }
    let inner = |x: &ast::Expr| reads_records_through_response(x, records, shadowed);
    match &e.kind {
        ExprKind::Field { base, .. } => inner(base),
        ExprKind::Index { base, index } => inner(base).or_else(|| inner(index)),
        ExprKind::Call { args, .. } => args.iter().find_map(|a| inner(&a.value)),
        ExprKind::Unary { expr, .. } => inner(expr),
        ExprKind::Binary { lhs, rhs, .. } => inner(lhs).or_else(|| inner(rhs)),
        ExprKind::If { cond, then, otherwise } => inner(cond).or_else(|| inner(then)).or_else(|| inner(otherwise)),
        ExprKind::Lambda { param, body } => {
            reads_records_through_response(body, records, shadowed || param.name == "response")
        }
        ExprKind::Catch { expr, default } => inner(expr).or_else(|| inner(default)),
        ExprKind::Match { scrutinee, arms } => inner(scrutinee).or_else(|| arms.iter().find_map(|a| inner(&a.body))),
        ExprKind::Object(items) => items.iter().find_map(|i| match i {
            ast::ObjectItem::Field(f) => inner(&f.value),
            ast::ObjectItem::Spread(x) => inner(x),
        }),
        ExprKind::Array(items) => items.iter().find_map(inner),
        ExprKind::Str(_)
        | ExprKind::Int(_)
        | ExprKind::Number(_)
        | ExprKind::Duration(_)
        | ExprKind::Rate { .. }
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Name(_) => None,
    }
}
