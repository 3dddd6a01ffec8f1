//! Paging: walking the pages of a source ([`Pager`]: the request of each page, the kind's rule
//! for the next one, cycles and cross-origin links refused), and when it stops and why: the
//! count-based rules of the pagination kinds, apart from the HTTP, so they can be tested on their
//! own. A new pagination kind goes here: its next page in [`Pager::next_page`], its stop reason
//! in [`Stop`].

use std::collections::HashSet;

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_eval::eval::{self, Env};
use flow_eval::BadRecord;
use flow_eval::ToText;
use flow_plan::{EndpointCall, PageRead, Pagination, Value};

use crate::exec::{FlowRun, RecordRef};
use crate::http::{self, Failure};
use crate::Event;

/// Why the paging of a source stopped, as the run summary says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stop {
    /// A page without records.
    EmptyPage,
    /// A page shorter than the largest page the server served (offset paging).
    ShortPage,
    /// As many records read as the page's declared `total`.
    TotalReached,
    /// The page's declared `more` was not true.
    NoMore,
    /// No cursor for the next page (cursor paging).
    NoNextCursor,
    /// No link to the next page (`next_url`, `link_header`).
    NoNextLink,
    /// The endpoint's `max_pages` was reached: R0011.
    MaxPages,
}

impl Stop {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Stop::EmptyPage => "empty page",
            Stop::ShortPage => "short page",
            Stop::TotalReached => "total reached",
            Stop::NoMore => "`more` not true",
            Stop::NoNextCursor => "no next cursor",
            Stop::NoNextLink => "no next link",
            Stop::MaxPages => "max_pages",
        }
    }
}

/// What the pages of one source have shown so far.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Records received: a declared `total` counts these, and offsets advance by them.
    pub records: u64,
    /// The most records one page held: what the server serves at most.
    pub largest: u64,
}

impl Progress {
    /// Counts a page of `len` records.
    pub(crate) fn page(&mut self, len: u64) {
        self.records += len;
        self.largest = self.largest.max(len);
    }
}

/// Offset paging, after a page of `len` records (already counted in `progress`): the offset of
/// the next page, or why there is none. The next offset is the number of records received, not
/// pages × `size`, so a server that serves fewer records than asked for skips none. A page
/// shorter than the largest one served ends the paging; a page as long as the largest does not,
/// even when it is shorter than the `size` asked for: the server may cap its pages (so a source
/// that fits in one page costs one more request, for the empty page). With a declared `total`
/// or `more` on the page (`declared`), the declaration decides instead: only an empty page
/// ends the paging here.
pub(crate) fn next_offset(progress: &Progress, len: u64, declared: bool) -> Result<u64, Stop> {
    if len == 0 {
        Err(Stop::EmptyPage)
    } else if !declared && len < progress.largest {
        Err(Stop::ShortPage)
    } else {
        Ok(progress.records)
    }
}

/// Walks the pages of a source.
pub(crate) struct Pager {
    started: bool,
    next: Option<NextPage>,
    seen: HashSet<String>,
    pages: u64,
    /// Records and the largest page so far, for offsets, short pages and a declared `total`.
    progress: Progress,
    /// Why the page after the last one could not be worked out (R0024): the last page's records
    /// are handed on first, then this stops the source.
    unreadable: Option<Diagnostic>,
}

enum NextPage {
    /// Values to add to the endpoint's own request (cursor, page number, offset): to the query,
    /// or to the JSON body with `place: "body"`.
    Params(Vec<(String, Value)>),
    Url(url::Url),
}

impl Pager {
    pub(crate) fn new() -> Pager {
        Pager {
            started: false,
            next: None,
            seen: HashSet::new(),
            pages: 0,
            progress: Progress::default(),
            unreadable: None,
        }
    }

    /// A pager that starts at a checkpointed position: the page after `pages` pages and
    /// `records` records already processed (a resumed pull, flow_runtime/src/state.rs); `None` when
    /// the position does not fit the endpoint's paging.
    pub(crate) fn resume(
        paginate: Option<&Pagination>,
        at: &flow_state::PageAt,
        pages: u64,
        records: u64,
    ) -> Option<Pager> {
        use flow_state::PageAt;
        let next = match (paginate, at) {
            (Some(Pagination::Cursor { param, .. }), PageAt::Cursor { value }) => {
                Some(NextPage::Params(vec![(param.clone(), Value::Str(value.clone()))]))
            }
            (Some(Pagination::Page { param, .. }), PageAt::Page { number }) => {
                Some(NextPage::Params(vec![(param.clone(), Value::Int(i64::try_from(*number).unwrap_or(i64::MAX)))]))
            }
            (Some(Pagination::Offset { param, limit_param, size, .. }), PageAt::Offset { offset }) => {
                Some(NextPage::Params(offset_params(param, limit_param.as_deref(), *offset, *size)))
            }
            (_, PageAt::Url { url }) => url::Url::parse(url).ok().map(NextPage::Url),
            // A position of another kind than the endpoint's paging (the file changed since the
            // checkpoint): there is no page to resume at, and ending the pull here would commit
            // a cursor past records never read. The caller refuses it.
            _ => return None,
        };
        let progress = Progress { records, largest: 0 };
        Some(Pager { started: true, next: Some(next?), seen: HashSet::new(), pages, progress, unreadable: None })
    }

    /// Where the next page starts, as a checkpoint keeps it; `None` after the last page.
    pub(crate) fn position(&self, paginate: Option<&Pagination>) -> Option<flow_state::PageAt> {
        use flow_state::PageAt;
        match (self.next.as_ref()?, paginate) {
            (NextPage::Url(u), _) => Some(PageAt::Url { url: u.to_string() }),
            (NextPage::Params(params), kind) => match (params.first()?, kind) {
                ((_, Value::Int(n)), Some(Pagination::Offset { .. })) => {
                    Some(PageAt::Offset { offset: u64::try_from(*n).ok()? })
                }
                ((_, Value::Int(n)), Some(Pagination::Page { .. })) => {
                    Some(PageAt::Page { number: u64::try_from(*n).ok()? })
                }
                ((_, v), _) => Some(PageAt::Cursor { value: v.to_text() }),
            },
        }
    }

    /// The next page's records, or `None` after the last page.
    // Long (~170 lines) because it is one page's whole life in order: the request, the fetch, the
    // kind's rule for the next page, then the declared stops; split, each part would need all of it.
    pub(crate) async fn next_page(
        &mut self,
        fr: &FlowRun,
        call: &EndpointCall,
        env: &Env,
        rec: Option<&RecordRef>,
    ) -> Result<Option<Vec<Result<Value, BadRecord>>>, Diagnostic> {
        if let Some(d) = self.unreadable.take() {
            return Err(d);
        }
        if self.started && self.next.is_none() {
            return Ok(None);
        }
        let plan = fr.ctx.plan.clone();
        let endpoint = &plan.endpoints[call.endpoint];
        let api = &plan.apis[endpoint.api];
        if self.pages >= endpoint.max_pages {
            fr.paging_stopped(&endpoint.name, Stop::MaxPages);
            let f = Failure::new(
                codes::TOO_MANY_PAGES,
                format!("more than {} pages; paging stopped (`max_pages`)", endpoint.max_pages),
            );
            return Err(fr.http_failure(f, call, rec));
        }
        let mut env = env.clone();
        let (params, query, headers) = fr.request_parts(call, &mut env, rec)?;
        // A source may take a body (a search API): evaluated once per page.
        let mut body = match &call.body {
            Some(e) => Some(
                eval::eval(e, &mut env, &plan)
                    .map_err(|err| fr.eval_failure(err, call.span, rec, "the request body"))?,
            ),
            None => None,
        };
        let in_body = matches!(
            endpoint.paginate,
            Some(
                Pagination::Cursor { in_body: true, .. }
                    | Pagination::Page { in_body: true, .. }
                    | Pagination::Offset { in_body: true, .. }
            )
        );
        // The first page carries the page number or offset too.
        let first = match (&endpoint.paginate, self.started) {
            (Some(Pagination::Page { param, start, .. }), false) => {
                Some(NextPage::Params(vec![(param.clone(), Value::Int(*start))]))
            }
            (Some(Pagination::Offset { param, limit_param, size, .. }), false) => {
                Some(NextPage::Params(offset_params(param, limit_param.as_deref(), 0, *size)))
            }
            _ => None,
        };
        let url = match self.next.take().or(first) {
            None => http::endpoint_url(api, endpoint, &params, &query).map_err(|f| fr.http_failure(f, call, rec))?,
            Some(NextPage::Params(extra)) => {
                let mut url =
                    http::endpoint_url(api, endpoint, &params, &query).map_err(|f| fr.http_failure(f, call, rec))?;
                for (k, v) in extra {
                    match (&mut body, in_body) {
                        (Some(Value::Object(fields)), true) => match fields.iter_mut().find(|(name, _)| *name == k) {
                            Some(slot) => slot.1 = v,
                            None => fields.push((k.into(), v)),
                        },
                        _ => {
                            url.query_pairs_mut().append_pair(&k, &v.to_text());
                        }
                    }
                }
                url
            }
            Some(NextPage::Url(url)) => url,
        };
        // A page fetched by URL is remembered, so a link back to any page already read (the
        // first one too) is a cycle before it is fetched again.
        if matches!(endpoint.paginate, Some(Pagination::NextUrl { .. } | Pagination::LinkHeader { .. })) {
            self.seen.insert(url.to_string());
        }
        self.started = true;
        self.pages += 1;
        let body = match body.as_ref().map(|b| flow_eval::try_encode_as(b, endpoint.body.as_ref(), &fr.ctx.plan.types))
        {
            Some(Err(err)) => return Err(fr.eval_failure(err, call.span, rec, "the request body")),
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let answer = fr.send(call, &url, &headers, body, rec, true).await?;
        let Some(ty) = &endpoint.response else {
            return Ok(Some(Vec::new()));
        };
        let (page, records) = fr.decode_page(&answer, ty, endpoint.records.as_deref(), call, rec)?;
        fr.stats.pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        fr.ctx.events.emit(Event::Page {
            flow: fr.flow_name().to_string(),
            endpoint: endpoint.name.clone(),
            records: records.len(),
        });
        let next_url = |this: &mut Pager, text: &str, span: Span, what: &str| -> Result<Option<NextPage>, Diagnostic> {
            let next = url.join(text).map_err(|e| {
                fr.http_failure(Failure::new(codes::SHAPE, format!("the {what} is not a URL: {e}")), call, rec)
            })?;
            if next.origin() != url.origin() {
                let mut f = Failure::new(
                    codes::CROSS_ORIGIN,
                    format!(
                        "the {what} points to another host ({}); not followed",
                        next.origin().ascii_serialization()
                    ),
                );
                f.notes.push("credentials are never sent to another host, nor over plain http after https".into());
                let mut d = fr.http_failure(f, call, rec);
                d.labels.push(flow_diagnostics::Label {
                    span,
                    message: "the link is read here".into(),
                    primary: false,
                });
                return Err(d);
            }
            if !this.seen.insert(next.to_string()) {
                return Err(cycle(fr, call, span, rec, what));
            }
            Ok(Some(NextPage::Url(next)))
        };
        let len = records.len() as u64;
        self.progress.page(len);
        let span = endpoint.paginate.as_ref().map_or(endpoint.span, Pagination::span);
        let read = |what: &PageRead, pager: &mut Pager| match page_value(what, &page, &records, &plan) {
            Ok(v) => v,
            Err(why) => {
                // The page's records go on; the source stops at the next page (R0024).
                let mut d = fr.http_failure(Failure::new(codes::PAGE_UNREADABLE, why), call, rec);
                d.labels.push(flow_diagnostics::Label {
                    span,
                    message: "the next page is worked out here".into(),
                    primary: false,
                });
                pager.unreadable.get_or_insert(d);
                None
            }
        };
        let total = endpoint.stop.total.as_ref().map(|r| read(r, self));
        let more = endpoint.stop.more.as_ref().map(|r| read(r, self));
        let declared = matches!(total, Some(Some(Value::Int(_)))) || matches!(more, Some(Some(Value::Bool(_))));
        let usable = |v: &Value| !v.is_null() && !v.to_text().is_empty();
        // The kind's own rule: the next page, or why there is none.
        let (next, mut stop) = match &endpoint.paginate {
            None => (None, None),
            Some(Pagination::Cursor { from, span, param, .. }) => match read(from, self).as_ref() {
                Some(v) if usable(v) && !records.is_empty() => {
                    if !self.seen.insert(v.to_text()) {
                        return Err(cycle(fr, call, *span, rec, "cursor"));
                    }
                    (Some(NextPage::Params(vec![(param.clone(), v.clone())])), None)
                }
                Some(v) if usable(v) => (None, Some(Stop::EmptyPage)),
                _ => (None, Some(Stop::NoNextCursor)),
            },
            Some(Pagination::NextUrl { from, span }) => match read(from, self).as_ref() {
                Some(v) if usable(v) => (next_url(self, &v.to_text(), *span, "next-page link")?, None),
                _ => (None, Some(Stop::NoNextLink)),
            },
            Some(Pagination::LinkHeader { span }) => match answer.link.as_deref().and_then(link_next) {
                Some(target) => (next_url(self, &target, *span, "Link header's next page")?, None),
                None => (None, Some(Stop::NoNextLink)),
            },
            Some(Pagination::Page { param, start, .. }) => {
                // Page numbers need no page size: only an empty page (or a declaration) ends them.
                if records.is_empty() {
                    (None, Some(Stop::EmptyPage))
                } else {
                    let n = *start + i64::try_from(self.pages).unwrap_or(i64::MAX);
                    (Some(NextPage::Params(vec![(param.clone(), Value::Int(n))])), None)
                }
            }
            Some(Pagination::Offset { param, limit_param, size, .. }) => {
                match next_offset(&self.progress, len, declared) {
                    Ok(offset) => {
                        (Some(NextPage::Params(offset_params(param, limit_param.as_deref(), offset, *size))), None)
                    }
                    Err(why) => (None, Some(why)),
                }
            }
        };
        self.next = next;
        // Declared stop conditions; when one holds, it is the reason given.
        if more.as_ref().is_some_and(|v| v.as_ref() != Some(&Value::Bool(true))) {
            self.next = None;
            stop = Some(Stop::NoMore);
        }
        if self.unreadable.is_some() {
            self.next = None;
        }
        if let Some(Some(Value::Int(total))) = total {
            if i64::try_from(self.progress.records).unwrap_or(i64::MAX) >= total {
                self.next = None;
                stop = Some(Stop::TotalReached);
            }
        }
        if let (None, Some(why)) = (&self.next, stop) {
            fr.paging_stopped(&endpoint.name, why);
        }
        Ok(Some(records))
    }
}

/// What paging reads of a page: a path into its envelope, or an expression over `response` (the
/// envelope) and `records` (the page's records). `Err` says why it cannot be read: the
/// expression failed, or it reads the records and one of them did not fit its type.
fn page_value(
    what: &PageRead,
    page: &Value,
    records: &[Result<Value, BadRecord>],
    plan: &flow_eval::Program,
) -> Result<Option<Value>, String> {
    let (expr, reads_records) = match what {
        PageRead::Path(path) => return Ok(page.get_path(path).cloned()),
        PageRead::Expr { expr, reads_records } => (expr, *reads_records),
    };
    let mut env = Env::new();
    env.push("response", page.clone());
    if reads_records {
        let mut decoded = Vec::with_capacity(records.len());
        for r in records {
            match r {
                Ok(v) => decoded.push(v.clone()),
                Err(bad) => {
                    return Err(format!(
                        "the next page is worked out from the page's records, and record #{} of the page does not fit its type; paging cannot go on",
                        bad.index + 1
                    ))
                }
            }
        }
        env.push("records", Value::Array(decoded));
    }
    eval::eval(expr, &mut env, plan)
        .map(Some)
        .map_err(|e| format!("the next page could not be worked out: {}", e.message))
}

fn offset_params(param: &str, limit_param: Option<&str>, offset: u64, size: u64) -> Vec<(String, Value)> {
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let mut v = vec![(param.to_string(), int(offset))];
    if let Some(l) = limit_param {
        v.push((l.to_string(), int(size)));
    }
    v
}

/// The `rel="next"` target of a `Link` header: `<https://…?page=2>; rel="next", <…>; rel="last"`.
fn link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .is_some_and(|r| r.trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next")))
        });
        is_next.then(|| target.to_string())
    })
}

fn cycle(fr: &FlowRun, call: &EndpointCall, span: Span, rec: Option<&RecordRef>, what: &str) -> Diagnostic {
    let f = Failure::new(
        codes::PAGINATION_CYCLE,
        format!("the API returned a {what} it had returned before; paging would never end"),
    );
    let mut d = fr.http_failure(f, call, rec);
    d.labels.push(flow_diagnostics::Label { span, message: format!("the {what} is read here"), primary: false });
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages a server of `total` records that serves at most `cap` per page, asked for `size`.
    fn offsets(total: u64, cap: u64, size: u64, declared: bool) -> (Vec<u64>, u64, Stop) {
        let mut progress = Progress::default();
        let mut asked = vec![0];
        loop {
            let offset = *asked.last().expect("an offset");
            let len = total.saturating_sub(offset).min(cap.min(size));
            progress.page(len);
            match next_offset(&progress, len, declared) {
                Ok(next) => asked.push(next),
                Err(stop) => return (asked, progress.records, stop),
            }
        }
    }

    #[test]
    fn a_checkpointed_position_resumes_only_under_the_paging_it_was_taken_with() {
        use flow_state::PageAt;
        let span = flow_diagnostics::Span::new(0, 0);
        let page = Pagination::Page { param: "page".into(), start: 1, span, in_body: false };
        let cursor = Pagination::Cursor {
            param: "cursor".into(),
            from: PageRead::Path(vec!["next".into()]),
            span,
            in_body: false,
        };
        let resumed = Pager::resume(Some(&page), &PageAt::Page { number: 3 }, 2, 200).expect("same paging");
        assert_eq!(resumed.position(Some(&page)), Some(PageAt::Page { number: 3 }));
        assert_eq!(resumed.pages, 2);
        // The file's paging changed since the checkpoint: no pager (the run refuses, R0016)
        // rather than one with no next page, which would end the pull and commit its cursor.
        assert!(Pager::resume(Some(&cursor), &PageAt::Page { number: 3 }, 2, 200).is_none());
        assert!(Pager::resume(Some(&page), &PageAt::Offset { offset: 200 }, 2, 200).is_none());
        assert!(Pager::resume(None, &PageAt::Cursor { value: "c".into() }, 1, 100).is_none());
        let url = Pager::resume(None, &PageAt::Url { url: "http://127.0.0.1:1/p?page=2".into() }, 1, 100);
        assert!(url.is_some(), "a next-page URL needs no declared parameter");
        assert!(Pager::resume(None, &PageAt::Url { url: "not a url".into() }, 1, 100).is_none());
    }

    #[test]
    fn a_server_that_caps_its_pages_is_read_to_the_end() {
        // Asked for 100, served 50: every record, offsets by what arrived.
        let (asked, read, stop) = offsets(230, 50, 100, false);
        assert_eq!(asked, [0, 50, 100, 150, 200]);
        assert_eq!((read, stop), (230, Stop::ShortPage));
        let (asked, read, stop) = offsets(250, 50, 100, false);
        assert_eq!(asked, [0, 50, 100, 150, 200, 250]);
        assert_eq!((read, stop), (250, Stop::EmptyPage));
    }

    #[test]
    fn a_server_that_serves_what_is_asked_stops_at_the_short_page() {
        let (asked, read, stop) = offsets(250, 500, 40, false);
        assert_eq!(asked, [0, 40, 80, 120, 160, 200, 240]);
        assert_eq!((read, stop), (250, Stop::ShortPage));
    }

    #[test]
    fn a_first_page_shorter_than_asked_is_not_taken_for_the_last() {
        let (asked, read, stop) = offsets(30, 500, 100, false);
        assert_eq!(asked, [0, 30]);
        assert_eq!((read, stop), (30, Stop::EmptyPage));
    }

    #[test]
    fn with_a_declaration_only_an_empty_page_stops_here() {
        let mut progress = Progress::default();
        progress.page(50);
        progress.page(20);
        assert_eq!(next_offset(&progress, 20, true), Ok(70));
        assert_eq!(next_offset(&progress, 20, false), Err(Stop::ShortPage));
        assert_eq!(next_offset(&progress, 0, true), Err(Stop::EmptyPage));
    }

    #[test]
    fn reads_the_next_link() {
        let h =
            r#"<https://api.example.com/items?page=3>; rel="next", <https://api.example.com/items?page=9>; rel="last""#;
        assert_eq!(link_next(h).as_deref(), Some("https://api.example.com/items?page=3"));
        assert_eq!(link_next(r#"</x?p=2>; rel="prev next""#).as_deref(), Some("/x?p=2"));
        assert_eq!(link_next(r#"<https://a/x>; rel="last""#), None);
    }
}
