//! Checking again only the body an edit changed. A map's, function's, flow's or test's body is
//! checked in a *window* of the passes (`Checker::run`), and what the window adds to the check —
//! its diagnostics, its entries of the record ([`Info`]), the declarations it uses, the calls it
//! makes, and the file's `store_key` after it — depends only on the body and on what the passes
//! before it found (the namespace, the types and signatures, the `store_key` of the flows before
//! it). So when an edit changed only one declaration's body (`flow_syntax::Edited`: its name,
//! parameters and result the same, every other declaration only moved), a check of the new file
//! runs every pass but takes each other window's additions from the last check ([`Kept`]),
//! moved, instead of checking its body; the edited body is checked. A window whose additions
//! cannot be moved (a span in the edited text) is checked, and so is every one after it, as is
//! every flow after the edited one when its `store_key` changed. The result is exactly a fresh
//! check's (`a_recheck_equals_a_fresh_check_after_every_random_edit`).

use flow_diagnostics::{Diagnostic, Span};
use flow_syntax::ast;

use crate::checker::Call;
use crate::moved::{Move, MoveTail};
use crate::{Checker, ExprTypes, Info};

/// A kind of declaration whose body is checked in a window of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    Map,
    Function,
    Flow,
    Test,
}

/// How long each of a check's tables was, at a point of the check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    diagnostics: usize,
    info: [usize; 11],
    used: usize,
    calls: usize,
}

/// The lengths of the record's tables, in the order of [`Info`]'s fields.
fn info_lens(info: &Info) -> [usize; 11] {
    let Info {
        expr_types: ExprTypes { types, names: _ },
        decls,
        field_decls,
        field_uses,
        field_choices,
        names,
        name_uses,
        builtin_uses,
        derived_types,
        derived_field_uses,
        derived_fields,
    } = info;
    [
        types.len(),
        decls.len(),
        field_decls.len(),
        field_uses.len(),
        field_choices.len(),
        names.len(),
        name_uses.len(),
        builtin_uses.len(),
        derived_types.len(),
        derived_field_uses.len(),
        derived_fields.len(),
    ]
}

/// One body's window: where its additions are in the check's tables, and the `store_key`
/// after it.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    body: Body,
    index: usize,
    start: Mark,
    end: Mark,
    store_key: Option<(String, Span)>,
}

/// What an editor's check keeps beside its diagnostics and record, so that the next one can
/// take the bodies an edit did not change from it ([`crate::recheck_for_editor`]).
#[derive(Debug, Default)]
pub struct Kept {
    windows: Vec<Window>,
    /// The checker's diagnostics in the order found (not sorted, without the parser's).
    diagnostics: Vec<Diagnostic>,
    /// Every declaration a use marked used, in the order of the uses.
    used: Vec<(crate::NameKind, usize)>,
    calls: Vec<Call>,
}

impl Kept {
    /// Moves every span it holds by `to`, as [`crate::move_spans`] moves a check's diagnostics
    /// and record; `false` when one has no place (what it holds is then unusable).
    pub fn move_spans(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        let Kept { windows, diagnostics, used: _, calls } = self;
        windows.iter_mut().all(|w| w.store_key.as_mut().is_none_or(|(_, s)| s.move_by(to)))
            && diagnostics.iter_mut().all(|d| d.move_by(to))
            && calls.iter_mut().all(|c| c.span.move_by(to))
    }

    pub(crate) fn new(checker: &mut Checker<'_>) -> Kept {
        Kept {
            windows: std::mem::take(&mut checker.windows),
            diagnostics: checker.diagnostics.clone(),
            used: std::mem::take(&mut checker.names.log),
            calls: std::mem::take(&mut checker.calls.calls),
        }
    }
}

/// A table of the last check, taken entry by entry (moved, not copied) in order.
struct Taken<T> {
    items: std::vec::IntoIter<T>,
    at: usize,
}

impl<T: Move> Taken<T> {
    fn new(items: Vec<T>) -> Taken<T> {
        Taken { items: items.into_iter(), at: 0 }
    }

    /// Moves entries `from..to` into `into`, each moved by `by`; `false` when one cannot be
    /// (what was pushed is then taken out again by the caller).
    fn take(&mut self, from: usize, to: usize, into: &mut Vec<T>, by: &dyn Fn(Span) -> Option<Span>) -> bool {
        if from < self.at {
            return false;
        }
        if from > self.at {
            self.items.nth(from - self.at - 1);
            self.at = from;
        }
        while self.at < to {
            let Some(mut x) = self.items.next() else { return false };
            self.at += 1;
            if !x.move_by(by) {
                return false;
            }
            into.push(x);
        }
        true
    }
}

/// The last check's record, taken table by table.
struct TakenInfo {
    types: Taken<(Span, crate::ty::Ty)>,
    decls: Taken<crate::DeclInfo>,
    field_decls: Taken<crate::FieldDecl>,
    field_uses: Taken<(Span, Span)>,
    field_choices: Taken<(Span, Vec<(String, String)>)>,
    names: Taken<crate::NameDecl>,
    name_uses: Taken<(Span, Span)>,
    builtin_uses: Taken<(Span, flow_plan::Builtin)>,
    derived_types: Taken<(Span, String)>,
    derived_field_uses: Taken<(Span, String)>,
    derived_fields: Taken<(Span, Vec<crate::DerivedField>)>,
}

impl TakenInfo {
    fn new(info: Info) -> TakenInfo {
        let Info {
            expr_types: ExprTypes { types, names: _ },
            decls,
            field_decls,
            field_uses,
            field_choices,
            names,
            name_uses,
            builtin_uses,
            derived_types,
            derived_field_uses,
            derived_fields,
        } = info;
        TakenInfo {
            types: Taken::new(types),
            decls: Taken::new(decls),
            field_decls: Taken::new(field_decls),
            field_uses: Taken::new(field_uses),
            field_choices: Taken::new(field_choices),
            names: Taken::new(names),
            name_uses: Taken::new(name_uses),
            builtin_uses: Taken::new(builtin_uses),
            derived_types: Taken::new(derived_types),
            derived_field_uses: Taken::new(derived_field_uses),
            derived_fields: Taken::new(derived_fields),
        }
    }

    fn take(
        &mut self,
        from: &[usize; 11],
        to: &[usize; 11],
        into: &mut Info,
        by: &dyn Fn(Span) -> Option<Span>,
    ) -> bool {
        let Info {
            expr_types: ExprTypes { types, names: _ },
            decls,
            field_decls,
            field_uses,
            field_choices,
            names,
            name_uses,
            builtin_uses,
            derived_types,
            derived_field_uses,
            derived_fields,
        } = into;
        self.types.take(from[0], to[0], types, by)
            && self.decls.take(from[1], to[1], decls, by)
            && self.field_decls.take(from[2], to[2], field_decls, by)
            && self.field_uses.take(from[3], to[3], field_uses, by)
            && self.field_choices.take(from[4], to[4], field_choices, by)
            && self.names.take(from[5], to[5], names, by)
            && self.name_uses.take(from[6], to[6], name_uses, by)
            && self.builtin_uses.take(from[7], to[7], builtin_uses, by)
            && self.derived_types.take(from[8], to[8], derived_types, by)
            && self.derived_field_uses.take(from[9], to[9], derived_field_uses, by)
            && self.derived_fields.take(from[10], to[10], derived_fields, by)
    }
}

/// The last check, for a check that takes the unchanged bodies' windows from it.
pub(crate) struct Replay<'t> {
    /// Where a span of the last check's file is now.
    to: &'t dyn Fn(Span) -> Option<Span>,
    /// The body the edit changed, checked again.
    changed: (Body, usize),
    /// The `store_key` after the changed body's window in the last check.
    changed_store_key: Option<Option<(String, Span)>>,
    windows: std::vec::IntoIter<Window>,
    /// The record's fields of the types (`Info::field_decls`), which only the types give.
    field_decls: Vec<crate::FieldDecl>,
    diagnostics: Taken<Diagnostic>,
    info: TakenInfo,
    used: Vec<(crate::NameKind, usize)>,
    calls: Vec<Call>,
    /// Set once a window could not be taken: it and every one after it are checked.
    stopped: bool,
}

impl<'t> Replay<'t> {
    /// The last check (`info` and `kept`) of the file before `file`, whose declaration `decl`
    /// is the one whose body changed; `to` says where a span of that file is now.
    pub(crate) fn new(
        file: &ast::File,
        decl: usize,
        mut info: Info,
        kept: Kept,
        to: &'t dyn Fn(Span) -> Option<Span>,
    ) -> Option<Replay<'t>> {
        let body = |d: &ast::Decl| match d {
            ast::Decl::Map(_) => Some(Body::Map),
            ast::Decl::Function(_) => Some(Body::Function),
            ast::Decl::Flow(_) => Some(Body::Flow),
            ast::Decl::Test(_) => Some(Body::Test),
            _ => None,
        };
        let kind = body(file.decls.get(decl)?)?;
        let index = file.decls[..decl].iter().filter(|d| body(d) == Some(kind)).count();
        Some(Replay {
            to,
            changed: (kind, index),
            changed_store_key: None,
            windows: kept.windows.into_iter(),
            field_decls: std::mem::take(&mut info.field_decls),
            diagnostics: Taken::new(kept.diagnostics),
            info: TakenInfo::new(info),
            used: kept.used,
            calls: kept.calls,
            stopped: false,
        })
    }
}

impl Replay<'_> {
    /// Makes room in `info` and `diagnostics` for as many entries as the last check had.
    pub(crate) fn reserve(&self, info: &mut Info, diagnostics: &mut Vec<Diagnostic>) {
        let t = &self.info;
        info.expr_types.types.reserve(t.types.items.len());
        info.decls.reserve(t.decls.items.len());
        info.field_uses.reserve(t.field_uses.items.len());
        info.names.reserve(t.names.items.len());
        info.name_uses.reserve(t.name_uses.items.len());
        info.builtin_uses.reserve(t.builtin_uses.items.len());
        diagnostics.reserve(self.diagnostics.items.len());
    }
}

impl Checker<'_> {
    /// How long the check's tables are now.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            diagnostics: self.diagnostics.len(),
            info: info_lens(&self.info),
            used: self.names.log.len(),
            calls: self.calls.calls.len(),
        }
    }

    /// Takes the record's fields of the types from the last check, moved; `false` when there is
    /// none or one cannot be moved (they are then built).
    pub(crate) fn take_field_decls(&mut self) -> bool {
        let Some(r) = self.replay.as_mut() else { return false };
        let mut taken = std::mem::take(&mut r.field_decls);
        if taken.is_empty() || !taken.iter_mut().all(|f| f.move_by(r.to)) {
            return false;
        }
        self.info.field_decls = taken;
        true
    }

    /// Takes the window of `body` `index` from the last check, when there is one and it is not
    /// the changed body; `false` when the body must be checked.
    pub(crate) fn replayed(&mut self, body: Body, index: usize) -> bool {
        let start = self.mark();
        let Some(r) = self.replay.as_mut() else { return false };
        if r.stopped {
            return false;
        }
        let Some(w) = r.windows.next().filter(|w| (w.body, w.index) == (body, index)) else {
            r.stopped = true;
            return false;
        };
        if (body, index) == r.changed {
            r.changed_store_key = Some(w.store_key);
            return false;
        }
        let to = r.to;
        let mut store_key = w.store_key;
        let taken = r.diagnostics.take(w.start.diagnostics, w.end.diagnostics, &mut self.diagnostics, to)
            && r.info.take(&w.start.info, &w.end.info, &mut self.info, to)
            && w.start.calls <= w.end.calls
            && w.end.calls <= r.calls.len()
            && w.start.used <= w.end.used
            && w.end.used <= r.used.len()
            && r.calls[w.start.calls..w.end.calls].iter().all(|c| {
                let mut c = c.clone();
                let moved = c.span.move_by(to);
                self.calls.calls.push(c);
                moved
            })
            && store_key.as_mut().is_none_or(|(_, s)| s.move_by(to));
        if !taken {
            r.stopped = true;
            self.truncate(start);
            return false;
        }
        for &(kind, i) in &r.used[w.start.used..w.end.used] {
            self.names.mark_used(kind, i);
        }
        self.store_key = store_key;
        self.window_done(body, index, start);
        true
    }

    /// Ends the window of `body` `index`, which started at `start`: recorded for the next check.
    pub(crate) fn window_done(&mut self, body: Body, index: usize, start: Mark) {
        if let Some(r) = self.replay.as_mut() {
            if (body, index) == r.changed && !r.stopped {
                // The flows after it read the `store_key` it leaves: taken from the last check
                // only when it is the same.
                let to = r.to;
                let same = r
                    .changed_store_key
                    .take()
                    .is_some_and(|mut was| was.as_mut().is_none_or(|(_, s)| s.move_by(to)) && was == self.store_key);
                if !same {
                    r.stopped = true;
                }
            }
        }
        if self.keep {
            let end = self.mark();
            self.windows.push(Window { body, index, start, end, store_key: self.store_key.clone() });
        }
    }

    /// Takes out what was added to the check's tables since `m`.
    fn truncate(&mut self, m: Mark) {
        self.diagnostics.truncate(m.diagnostics);
        self.calls.calls.truncate(m.calls);
        let Info {
            expr_types: ExprTypes { types, names: _ },
            decls,
            field_decls,
            field_uses,
            field_choices,
            names,
            name_uses,
            builtin_uses,
            derived_types,
            derived_field_uses,
            derived_fields,
        } = &mut self.info;
        types.truncate(m.info[0]);
        decls.truncate(m.info[1]);
        field_decls.truncate(m.info[2]);
        field_uses.truncate(m.info[3]);
        field_choices.truncate(m.info[4]);
        names.truncate(m.info[5]);
        name_uses.truncate(m.info[6]);
        builtin_uses.truncate(m.info[7]);
        derived_types.truncate(m.info[8]);
        derived_field_uses.truncate(m.info[9]);
        derived_fields.truncate(m.info[10]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_corpus::{sources, Rng};

    /// A fresh check of `text`, keeping: what every other result is compared with.
    fn fresh(text: &str) -> (crate::Checked, Kept) {
        let (file, diagnostics) = flow_syntax::parse(text);
        crate::check_parsed_keeping(&file, diagnostics)
    }

    /// One edit as the language server takes it (`flow_lsp`'s `Doc::edit`): the last result
    /// moved when every declaration only moved, the edited body checked again when one body
    /// changed, a whole check otherwise; and which of the three it was.
    fn edit(
        parser: &mut flow_syntax::Reparser,
        last: (crate::Checked, Kept),
        text: &str,
    ) -> ((crate::Checked, Kept), u8) {
        let (file, parse_diags, _) = parser.parse(text);
        let (mut checked, mut kept) = last;
        if let Some(moves) = parser.moves() {
            let to = |s| moves.span(s);
            if crate::move_spans(&mut checked.info, &mut checked.diagnostics, &to) && kept.move_spans(&to) {
                parser.keep(file);
                return ((checked, kept), 0);
            }
        }
        let (result, how) = match parser.edited() {
            Some(edited) => {
                let to = |s| edited.span(s);
                (crate::recheck_for_editor(&file, parse_diags, (checked.info, kept), edited.decl(), &to), 1)
            }
            None => (crate::check_parsed_keeping(&file, parse_diags), 2),
        };
        parser.keep(file);
        (result, how)
    }

    fn assert_same(got: &(crate::Checked, Kept), text: &str, what: &str) {
        let want = fresh(text);
        assert_eq!(got.0.diagnostics, want.0.diagnostics, "{what}: diagnostics, after an edit:\n{text}");
        assert_eq!(format!("{:?}", got.0.info), format!("{:?}", want.0.info), "{what}: record, after an edit:\n{text}");
        assert_eq!(format!("{:?}", got.1), format!("{:?}", want.1), "{what}: what is kept, after an edit:\n{text}");
    }

    /// After each of a long sequence of seeded random edits (a word made another word of the
    /// file or one unknown, characters typed in a string or anywhere, ranges deleted, the text
    /// put back as it was), what the language server would publish — and the record, and what
    /// it keeps for the next edit — is exactly a fresh check's, whether the body was checked
    /// again alone or the result moved.
    #[test]
    fn a_recheck_equals_a_fresh_check_after_every_random_edit() {
        const SNIPPETS: [&str; 14] = ["x", "1", " ", "y", "\n", "// c\n", ".a", "_", "\"", "(", ")", "+ 1", "}", "e"];
        let mut rng = Rng(0x00e1_7ed0);
        let mut counts = [0usize; 3];
        let all = sources();
        let step = (all.len() / 80).max(1);
        for source in all.into_iter().step_by(step) {
            let mut text = source.clone();
            let mut parser = flow_syntax::Reparser::new();
            let (file, parse_diags, _) = parser.parse(&text);
            let mut last = crate::check_parsed_keeping(&file, parse_diags);
            parser.keep(file);
            for _ in 0..40 {
                // Where each word of the text is.
                let words: Vec<(usize, usize)> = {
                    let b = text.as_bytes();
                    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                    let mut words = Vec::new();
                    let mut i = 0;
                    while i < b.len() {
                        if is_word(b[i]) {
                            let start = i;
                            while i < b.len() && is_word(b[i]) {
                                i += 1;
                            }
                            words.push((start, i));
                        } else {
                            i += 1;
                        }
                    }
                    // Mostly the words of bodies (maps, functions, flows and tests), where an
                    // edit is checked again alone.
                    let bodies: Vec<Span> = flow_syntax::parse(&text)
                        .0
                        .decls
                        .iter()
                        .filter(|d| {
                            matches!(
                                d,
                                ast::Decl::Map(_) | ast::Decl::Function(_) | ast::Decl::Flow(_) | ast::Decl::Test(_)
                            )
                        })
                        .map(ast::Decl::span)
                        .collect();
                    let in_body: Vec<(usize, usize)> = words
                        .iter()
                        .copied()
                        .filter(|&(a, _)| bodies.iter().any(|s| s.start as usize + 8 < a && a < s.end as usize))
                        .collect();
                    if in_body.is_empty() || rng.below(4) == 0 {
                        words
                    } else {
                        in_body
                    }
                };
                let boundaries: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
                let at = boundaries[rng.below(boundaries.len())];
                let to = boundaries[(boundaries.partition_point(|&b| b < at) + rng.below(3)).min(boundaries.len() - 1)];
                match rng.below(8) {
                    0 if !words.is_empty() => {
                        // A word made another of the file's words.
                        let (start, end) = words[rng.below(words.len())];
                        let (a, b) = words[rng.below(words.len())];
                        let other = text[a..b].to_string();
                        text.replace_range(start..end, &other);
                    }
                    1 | 2 if !words.is_empty() => {
                        // A word made longer: a name unknown, a number another.
                        let (_, end) = words[rng.below(words.len())];
                        text.insert_str(end, ["x", "1", "_a"][rng.below(3)]);
                    }
                    3 => match text.match_indices('"').map(|(i, _)| i + 1).nth(rng.below(40)) {
                        Some(quote) => text.insert_str(quote, ["x", " ", "%Y"][rng.below(3)]),
                        None => text.insert(at, ' '),
                    },
                    4 => text.replace_range(at..to, ""),
                    5 => text.clone_from(&source),
                    _ => text.insert_str(at, SNIPPETS[rng.below(SNIPPETS.len())]),
                }
                let (result, how) = edit(&mut parser, last, &text);
                counts[how as usize] += 1;
                if how < 2 {
                    assert_same(&result, &text, ["moved", "checked again alone"][how as usize]);
                }
                last = result;
            }
        }
        let [moved, rechecked, checked] = counts;
        assert!(rechecked > 300, "edits of one body are checked again alone ({counts:?})");
        assert!(moved > 300 && checked > 300, "the other two ways are taken too ({counts:?})");
    }

    /// An edit that takes out a map body's only call of another map: that map is now unused
    /// (W0001, found by the pass after the bodies), and an edit putting it back takes it away;
    /// each time exactly a fresh check's, though only the edited body was checked.
    #[test]
    fn an_edit_of_one_body_changes_what_is_unused_elsewhere() {
        let text = "type A { x: Int }\nmap one(a: A) -> A {\n  x = two(a).x\n}\nmap two(a: A) -> A {\n  x = a.x\n}\ntest \"t\" {\n  expect one({ x: 1 }).x == 1\n}\n";
        let mut parser = flow_syntax::Reparser::new();
        let (file, parse_diags, _) = parser.parse(text);
        let last = crate::check_parsed_keeping(&file, parse_diags);
        parser.keep(file);
        assert!(last.0.diagnostics.is_empty(), "{:#?}", last.0.diagnostics);
        let unused = text.replace("two(a).x", "a.x");
        let (last, how) = edit(&mut parser, last, &unused);
        assert_eq!(how, 1, "only one body changed");
        assert_same(&last, &unused, "the call taken out");
        let codes: Vec<_> = last.0.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["W0001"], "{:#?}", last.0.diagnostics);
        let (last, how) = edit(&mut parser, last, text);
        assert_eq!(how, 1);
        assert_same(&last, text, "the call put back");
        assert!(last.0.diagnostics.is_empty(), "{:#?}", last.0.diagnostics);
    }
}
