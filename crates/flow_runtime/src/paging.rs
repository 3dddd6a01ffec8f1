//! When the paging of a source stops, and why: the count-based rules of the pagination kinds,
//! apart from the HTTP that fetches the pages, so they can be tested on their own.

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
}
