//! An endpoint's `paginate` property: the paging kinds (cursor, next_url, link_header, page,
//! offset), where the cursor or page is sent, and the `more:`/`total:` stop rules.

use flow_diagnostics::{codes, suggest, Diagnostic, Fix};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::ty::Ty;
use crate::Checker;

impl Checker<'_> {
    // Long because it is one arm per pagination kind (link_header, page, offset, cursor,
    // next_url), each checking its own arguments; a new kind is a new arm.
    pub(crate) fn pagination(
        &mut self,
        e: &ast::Expr,
        response: Option<&Ty>,
        object_body: bool,
    ) -> Option<plan::Pagination> {
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
        let (path, ty) = self.response_path(from, response, codes::BAD_PAGINATION, "from")?;
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
    pub(crate) fn pagination_stop(&mut self, e: &ast::Expr, response: Option<&Ty>) -> plan::Stop {
        let mut stop = plan::Stop::default();
        let ExprKind::Call { args, .. } = &e.kind else { return stop };
        for a in args {
            let Some(name) = &a.name else { continue };
            let (want, what) = match name.name.as_str() {
                "more" => (Ty::Bool, "a Bool (go on while it is true)"),
                "total" => (Ty::Int, "an Int (the number of records in all)"),
                _ => continue,
            };
            let Some((path, ty)) = self.response_path(&a.value, response, codes::BAD_PAGINATION, &name.name) else {
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
}
