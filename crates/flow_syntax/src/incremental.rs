//! Re-parsing only what an edit touched. A file is parsed one scanned piece at a time (one
//! top-level declaration each, `scan.rs`), and what a piece gives — its declarations, the broken
//! ones, its diagnostics — depends on the piece's text alone, except for where it starts. So a
//! [`Reparser`] keeps each piece's result from the previous parse, keyed by the piece's text, and
//! takes it again, moved to where the piece now starts, when the same text comes back: a keystroke
//! re-parses the one declaration it is in. The result is exactly that of [`crate::parse`] on the
//! whole text (`an_incremental_parse_equals_a_fresh_one_after_every_random_edit` in the tests).

use rustc_hash::FxHashMap;

use flow_diagnostics::{Diagnostic, Span};

use crate::ast::*;

/// What one scanned piece of the file gave, with its spans where the piece started then.
#[derive(Debug, Default)]
pub(crate) struct Piece {
    pub(crate) start: usize,
    pub(crate) decls: Vec<Decl>,
    pub(crate) broken: Vec<Broken>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Piece {
    /// The same piece, started at `start` instead.
    fn moved_to(mut self, start: usize) -> Piece {
        if start != self.start {
            let by = Delta(start as i64 - self.start as i64);
            self.decls.iter_mut().for_each(|d| d.shift(by));
            for Broken { name: _, uses: _, span } in &mut self.broken {
                span.shift(by);
            }
            self.diagnostics.iter_mut().for_each(|d| d.shift(by));
            self.start = start;
        }
        self
    }
}

impl Piece {
    /// How far this piece (of the text before) is moved in `now`, when `now` is exactly this
    /// piece moved: the same declarations, broken declarations and diagnostics, every span moved
    /// by the same distance (the distance its first declaration or diagnostic moved).
    fn moved_by(&self, now: &Piece) -> Option<i64> {
        let first = |p: &Piece| {
            p.decls
                .first()
                .map(Decl::span)
                .or_else(|| p.broken.first().map(|b| b.span))
                .or_else(|| p.diagnostics.first().and_then(Diagnostic::primary_span))
        };
        let by = match (first(self), first(now)) {
            (Some(a), Some(b)) => i64::from(b.start) - i64::from(a.start),
            (None, None) => now.start as i64 - self.start as i64,
            _ => return None,
        };
        if self.decls.len() != now.decls.len()
            || self.broken.len() != now.broken.len()
            || self.diagnostics.len() != now.diagnostics.len()
        {
            return None;
        }
        let mut moved = Piece {
            start: self.start,
            decls: self.decls.clone(),
            broken: self.broken.clone(),
            diagnostics: self.diagnostics.clone(),
        };
        moved.decls.iter_mut().for_each(|d| d.shift(Delta(by)));
        for Broken { name: _, uses: _, span } in &mut moved.broken {
            span.shift(Delta(by));
        }
        moved.diagnostics.iter_mut().for_each(|d| d.shift(Delta(by)));
        (moved.decls == now.decls && moved.broken == now.broken && moved.diagnostics == now.diagnostics).then_some(by)
    }
}

/// One piece of the last parse: its text and where it started, how many declarations (parsed
/// and broken) it gave to the file, and its diagnostics.
#[derive(Debug)]
struct Entry {
    text: String,
    start: usize,
    decls: usize,
    broken: usize,
    diagnostics: Vec<Diagnostic>,
}

/// A parser that remembers the pieces of the last text it parsed (what the language server
/// keeps per open document). Its declarations are not copied: the file a parse returns is
/// handed back with [`Reparser::keep`] once it has been checked, and the next parse takes from
/// it the declarations of the pieces whose text has not changed.
#[derive(Debug, Default)]
pub struct Reparser {
    entries: Vec<Entry>,
    file: Option<File>,
    moves: Option<Moves>,
    edited: Option<Edited>,
}

/// How the file of the last [`Reparser::parse`] is the one before it with one declaration's body
/// edited: the same pieces in the same order, every one only moved except one, which holds one
/// declaration before and after (a map, function, flow or test), of the same kind, with the same
/// name, parameters and result, only its body changed. The checker then checks that body again
/// and takes the others' results from its last check (`flow_check::recheck_for_editor`).
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    /// Where each position of the file before is now: every piece's move, and in the edited
    /// piece, only the text before the first byte that changed.
    moves: Moves,
    /// The index of the edited declaration in the file's declarations (before and now).
    decl: usize,
}

impl Edited {
    /// Where the span `span` of the file before is now; `None` when it is in no piece, or in the
    /// edited piece at or after the first byte the edit changed.
    pub fn span(&self, span: Span) -> Option<Span> {
        self.moves.span(span)
    }

    /// The index of the edited declaration in `File::decls`.
    pub fn decl(&self) -> usize {
        self.decl
    }
}

/// Whether `now` is `before` (a declaration of the text before, moved by `by`) with only its
/// body changed: the same kind, start, name, and for a map or function its parameters and result.
fn only_body_changed(before: &Decl, now: &Decl, by: i64) -> bool {
    let mut before = before.clone();
    before.shift(Delta(by));
    match (&before, now) {
        (Decl::Map(a), Decl::Map(b)) => {
            a.name == b.name && a.params == b.params && a.ret == b.ret && a.span.start == b.span.start
        }
        (Decl::Function(a), Decl::Function(b)) => {
            a.name == b.name && a.params == b.params && a.ret == b.ret && a.span.start == b.span.start
        }
        (Decl::Flow(a), Decl::Flow(b)) => a.name == b.name && a.span.start == b.span.start,
        (Decl::Test(a), Decl::Test(b)) => a.name == b.name && a.span.start == b.span.start,
        _ => false,
    }
}

/// How the file of the last [`Reparser::parse`] is the one before it: the same pieces in the same
/// order, each giving the same declarations, broken declarations and diagnostics, only moved
/// (each piece by its own distance). An edit of a comment or of blank lines, or one undone, gives
/// this; the checker's result for the file before is then that for this one, moved the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Moves {
    /// For each piece of the file before, in order: where it started and ended then, and how
    /// far everything in it moved.
    pieces: Vec<(usize, usize, i64)>,
}

impl Moves {
    /// Where the position `at` of the file before is now, as a start (`end` false: in the piece
    /// that starts at or before it) or as an end (`end` true: in the piece that holds the byte
    /// before it). `None` when no piece holds it.
    fn position(&self, at: usize, end: bool) -> Option<usize> {
        let i = if end && at > 0 {
            self.pieces.partition_point(|&(start, _, _)| start < at)
        } else {
            self.pieces.partition_point(|&(start, _, _)| start <= at)
        };
        let &(start, stop, by) = self.pieces.get(i.checked_sub(1)?)?;
        if at < start || at > stop {
            return None;
        }
        usize::try_from(at as i64 + by).ok()
    }

    /// Where the span `span` of the file before is now; `None` when it is not within the pieces.
    pub fn span(&self, span: Span) -> Option<Span> {
        let start = self.position(span.start as usize, false)?;
        let end = if span.end == span.start { start } else { self.position(span.end as usize, true)? };
        (start <= end).then(|| Span::new(start, end))
    }
}

impl Reparser {
    pub fn new() -> Reparser {
        Reparser::default()
    }

    /// Parses `source` as [`crate::parse`] does, re-parsing only the pieces whose text is not one
    /// of the last parse's (when its file was handed back with [`Reparser::keep`]). Returns the
    /// file and its diagnostics, and how many pieces were parsed again (the others were reused).
    pub fn parse(&mut self, source: &str) -> (File, Vec<Diagnostic>, usize) {
        let kept = self.file.is_some();
        // The last parse's pieces, in order: where each started and its text.
        let before: Vec<(usize, String)> = self.entries.iter().map(|e| (e.start, e.text.clone())).collect();
        let mut old = self.last_pieces();
        let mut reparsed = 0;
        let mut entries = Vec::new();
        let mut moves = kept.then(|| Moves { pieces: Vec::with_capacity(before.len()) });
        // The same as `moves`, allowing one piece whose one declaration's body changed.
        let mut edited =
            kept.then(|| Edited { moves: Moves { pieces: Vec::with_capacity(before.len()) }, decl: usize::MAX });
        let mut decls_before = 0;
        let result = crate::parse_with(source, &mut |range: std::ops::Range<usize>| {
            let text = &source[range.clone()];
            let index = entries.len();
            let was = before.get(index);
            let piece = match old.remove(text) {
                Some(piece) => {
                    let piece = piece.moved_to(range.start);
                    match was.filter(|(_, was_text)| was_text == text) {
                        Some((start, _)) => {
                            let moved = (*start, start + text.len(), range.start as i64 - *start as i64);
                            if let Some(m) = moves.as_mut() {
                                m.pieces.push(moved);
                            }
                            if let Some(e) = edited.as_mut() {
                                e.moves.pieces.push(moved);
                            }
                        }
                        None => {
                            moves = None;
                            edited = None;
                        }
                    }
                    piece
                }
                None => {
                    reparsed += 1;
                    let piece = crate::parse_piece(source, range.clone());
                    let before = was
                        .and_then(|(start, was_text)| Some((*start, was_text.as_str(), old.get(was_text.as_str())?)));
                    match before {
                        Some((start, was_text, before)) => match before.moved_by(&piece) {
                            Some(by) => {
                                let moved = (start, start + was_text.len(), by);
                                if let Some(m) = moves.as_mut() {
                                    m.pieces.push(moved);
                                }
                                if let Some(e) = edited.as_mut() {
                                    e.moves.pieces.push(moved);
                                }
                            }
                            None => {
                                moves = None;
                                let by = range.start as i64 - start as i64;
                                let one_body = |p: &Piece| p.decls.len() == 1 && p.broken.is_empty();
                                match edited.as_mut() {
                                    Some(e)
                                        if e.decl == usize::MAX
                                            && one_body(before)
                                            && one_body(&piece)
                                            && only_body_changed(&before.decls[0], &piece.decls[0], by) =>
                                    {
                                        // Only the text before the first byte that changed keeps
                                        // its place.
                                        let same =
                                            was_text.bytes().zip(text.bytes()).take_while(|(a, b)| a == b).count();
                                        e.moves.pieces.push((start, start + same, by));
                                        e.decl = decls_before;
                                    }
                                    _ => edited = None,
                                }
                            }
                        },
                        None => {
                            moves = None;
                            edited = None;
                        }
                    }
                    piece
                }
            };
            decls_before += piece.decls.len();
            entries.push(Entry {
                text: text.to_string(),
                start: piece.start,
                decls: piece.decls.len(),
                broken: piece.broken.len(),
                diagnostics: piece.diagnostics.clone(),
            });
            piece
        });
        // The file must also be the one those pieces make: a scan that failed (nothing parsed, its
        // error alone) or a parser thread that failed after the pieces gives another file, which
        // is not the last one moved, even when as many pieces were seen as before.
        let made_of_pieces = result.0.decls.len() == entries.iter().map(|e| e.decls).sum::<usize>()
            && result.0.broken.len() == entries.iter().map(|e| e.broken).sum::<usize>()
            && result.1.len() == entries.iter().map(|e| e.diagnostics.len()).sum::<usize>();
        if entries.len() != before.len() || !made_of_pieces {
            moves = None;
            edited = None;
        }
        self.entries = entries;
        self.moves = moves;
        self.edited = edited.filter(|e| e.decl != usize::MAX);
        (result.0, result.1, reparsed)
    }

    /// How the file of the last [`Reparser::parse`] is the file of the parse before it, moved;
    /// `None` when it is not (or when that earlier file was not handed back).
    pub fn moves(&self) -> Option<&Moves> {
        self.moves.as_ref()
    }

    /// How the file of the last [`Reparser::parse`] is the file of the parse before it with one
    /// declaration's body edited and everything else only moved; `None` when it is not (or when
    /// it is only moved: [`Reparser::moves`]).
    pub fn edited(&self) -> Option<&Edited> {
        self.edited.as_ref()
    }

    /// Hands back the file the last [`Reparser::parse`] returned, so the next parse can take its
    /// unchanged declarations from it. Any other file is not kept.
    pub fn keep(&mut self, file: File) {
        let decls: usize = self.entries.iter().map(|e| e.decls).sum();
        let broken: usize = self.entries.iter().map(|e| e.broken).sum();
        self.file = (file.decls.len() == decls && file.broken.len() == broken).then_some(file);
    }

    /// The last parse's pieces, by their text, with their declarations taken from the file
    /// handed back (none when it was not).
    /// Keyed by Fx, not SipHash: the keys are the document's own text, and hashing a large
    /// file's pieces with SipHash was a third of an edit's parse.
    fn last_pieces(&mut self) -> FxHashMap<String, Piece> {
        let Some(file) = self.file.take() else {
            self.entries.clear();
            return FxHashMap::default();
        };
        let (mut decls, mut broken) = (file.decls.into_iter(), file.broken.into_iter());
        let mut pieces = FxHashMap::with_capacity_and_hasher(self.entries.len(), Default::default());
        for e in std::mem::take(&mut self.entries) {
            let piece = Piece {
                start: e.start,
                decls: decls.by_ref().take(e.decls).collect(),
                broken: broken.by_ref().take(e.broken).collect(),
                diagnostics: e.diagnostics,
            };
            pieces.insert(e.text, piece);
        }
        pieces
    }
}

/// How far a piece moved, in bytes.
#[derive(Debug, Clone, Copy)]
struct Delta(i64);

/// Moving every span of a tree by the same distance.
trait Shift {
    fn shift(&mut self, by: Delta);
}

impl Shift for Span {
    fn shift(&mut self, by: Delta) {
        let at = |n: u32| u32::try_from(i64::from(n) + by.0).unwrap_or(0);
        self.start = at(self.start);
        self.end = at(self.end);
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, by: Delta) {
        self.iter_mut().for_each(|x| x.shift(by));
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, by: Delta) {
        if let Some(x) = self {
            x.shift(by);
        }
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, by: Delta) {
        (**self).shift(by);
    }
}

impl Shift for Diagnostic {
    fn shift(&mut self, by: Delta) {
        self.labels.iter_mut().for_each(|l| l.span.shift(by));
        self.fixes.iter_mut().flat_map(|f| f.edits.iter_mut()).for_each(|e| e.span.shift(by));
    }
}

impl Shift for Ident {
    fn shift(&mut self, by: Delta) {
        let Ident { name: _, span } = self;
        span.shift(by);
    }
}

impl Shift for Decl {
    fn shift(&mut self, by: Delta) {
        match self {
            Decl::Secret(SecretDecl { name, span }) => {
                name.shift(by);
                span.shift(by);
            }
            Decl::Api(ApiDecl { name, props, span }) => {
                name.shift(by);
                props.shift(by);
                span.shift(by);
            }
            Decl::Type(TypeDecl { name, ty, span }) => {
                name.shift(by);
                ty.shift(by);
                span.shift(by);
            }
            Decl::Endpoint(EndpointDecl { name, api, method: _, path, params, response, props, span }) => {
                name.shift(by);
                api.shift(by);
                path.span.shift(by);
                params.shift(by);
                response.shift(by);
                props.shift(by);
                span.shift(by);
            }
            Decl::Map(MapDecl { name, params, ret, items, span }) => {
                name.shift(by);
                params.shift(by);
                ret.shift(by);
                items.shift(by);
                span.shift(by);
            }
            Decl::Flow(FlowDecl { name, body, span }) => {
                name.shift(by);
                body.shift(by);
                span.shift(by);
            }
            Decl::Table(TableDecl { name, key, value, entries, span }) => {
                name.shift(by);
                key.shift(by);
                value.shift(by);
                for (k, v) in entries {
                    k.shift(by);
                    v.shift(by);
                }
                span.shift(by);
            }
            Decl::Function(FnDecl { name, params, ret, body, span }) => {
                name.shift(by);
                params.shift(by);
                ret.shift(by);
                body.shift(by);
                span.shift(by);
            }
            Decl::Test(TestDecl { name, items, span }) => {
                name.shift(by);
                items.shift(by);
                span.shift(by);
            }
        }
    }
}

impl Shift for Property {
    fn shift(&mut self, by: Delta) {
        let Property { name, value, span } = self;
        name.shift(by);
        value.shift(by);
        span.shift(by);
    }
}

impl Shift for Param {
    fn shift(&mut self, by: Delta) {
        let Param { name, ty, span } = self;
        name.shift(by);
        ty.shift(by);
        span.shift(by);
    }
}

impl Shift for Let {
    fn shift(&mut self, by: Delta) {
        let Let { name, ty, value, span } = self;
        name.shift(by);
        ty.shift(by);
        value.shift(by);
        span.shift(by);
    }
}

impl Shift for MapItem {
    fn shift(&mut self, by: Delta) {
        match self {
            MapItem::Let(l) => l.shift(by),
            MapItem::Field(FieldAssign { name, value, span }) => {
                name.shift(by);
                value.shift(by);
                span.shift(by);
            }
            MapItem::Spread(e) => e.shift(by),
        }
    }
}

impl Shift for TestItem {
    fn shift(&mut self, by: Delta) {
        match self {
            TestItem::Let(l) => l.shift(by),
            TestItem::Expect(e) => e.shift(by),
        }
    }
}

impl Shift for Stmt {
    fn shift(&mut self, by: Delta) {
        match self {
            Stmt::Let(l) => l.shift(by),
            Stmt::For(For { var, source, filter, body, span }) => {
                var.shift(by);
                source.shift(by);
                filter.shift(by);
                body.shift(by);
                span.shift(by);
            }
            Stmt::Call(e) => e.shift(by),
            Stmt::Property(p) => p.shift(by),
            Stmt::State(StateDecl { name, ty, initial, props, span }) => {
                name.shift(by);
                ty.shift(by);
                initial.shift(by);
                props.shift(by);
                span.shift(by);
            }
        }
    }
}

impl Shift for TypeExpr {
    fn shift(&mut self, by: Delta) {
        let TypeExpr { kind, nullable: _, span } = self;
        span.shift(by);
        match kind {
            TypeExprKind::Name(n) => n.shift(by),
            TypeExprKind::Literal(_) => {}
            TypeExprKind::Union(members) => members.shift(by),
            TypeExprKind::Array(item) => item.shift(by),
            TypeExprKind::Object(fields) => fields.shift(by),
            TypeExprKind::Formed(call) => call.shift(by),
            TypeExprKind::Dict { key, value } => {
                key.shift(by);
                value.shift(by);
            }
        }
    }
}

impl Shift for FieldDecl {
    fn shift(&mut self, by: Delta) {
        let FieldDecl { name, optional: _, sensitive: _, present: _, ty, span } = self;
        name.shift(by);
        ty.shift(by);
        span.shift(by);
    }
}

impl Shift for Expr {
    fn shift(&mut self, by: Delta) {
        let Expr { kind, span } = self;
        span.shift(by);
        match kind {
            ExprKind::Str(_)
            | ExprKind::Int(_)
            | ExprKind::Number(_)
            | ExprKind::Duration(_)
            | ExprKind::Rate { .. }
            | ExprKind::Bool(_)
            | ExprKind::Null => {}
            ExprKind::Name(n) => n.shift(by),
            ExprKind::Field { base, name, optional: _ } => {
                base.shift(by);
                name.shift(by);
            }
            ExprKind::Index { base, index } => {
                base.shift(by);
                index.shift(by);
            }
            ExprKind::Call { callee, args } => {
                callee.shift(by);
                for Arg { name, value } in args {
                    name.shift(by);
                    value.shift(by);
                }
            }
            ExprKind::Unary { op: _, expr } => expr.shift(by),
            ExprKind::Binary { op: _, lhs, rhs } => {
                lhs.shift(by);
                rhs.shift(by);
            }
            ExprKind::If { cond, then, otherwise } => {
                cond.shift(by);
                then.shift(by);
                otherwise.shift(by);
            }
            ExprKind::Lambda { param, body } => {
                param.shift(by);
                body.shift(by);
            }
            ExprKind::Catch { expr, default } => {
                expr.shift(by);
                default.shift(by);
            }
            ExprKind::Match { scrutinee, arms } => {
                scrutinee.shift(by);
                for MatchArm { patterns, body, span } in arms {
                    for Pattern { literal, member, span } in patterns {
                        literal.shift(by);
                        if let Some((name, ty)) = member {
                            name.shift(by);
                            ty.shift(by);
                        }
                        span.shift(by);
                    }
                    body.shift(by);
                    span.shift(by);
                }
            }
            ExprKind::Object(items) => {
                for item in items {
                    match item {
                        ObjectItem::Field(ObjectField { name, value }) => {
                            name.shift(by);
                            value.shift(by);
                        }
                        ObjectItem::Spread(e) => e.shift(by),
                    }
                }
            }
            ExprKind::Array(items) => items.shift(by),
        }
    }
}
