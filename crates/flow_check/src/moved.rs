//! The checker's result for a file moved: when a file is another with every declaration only
//! moved (an edit of a comment or of blank lines: the same trees, spans shifted), checking it
//! gives the other's diagnostics and record with their spans moved the same way, since the checker
//! is a function of the tree and reads spans only to point at them. The language server moves
//! its last result instead of checking again (`flow_lsp`'s `Doc::edit`); tested equal to a fresh
//! check over random edits (`a_moved_check_equals_a_fresh_one_after_every_random_edit`).

use flow_diagnostics::{Diagnostic, Span};

use crate::{DeclInfo, DerivedField, ExprTypes, FieldDecl, Info, NameDecl};

/// Moves every span of `info` and `diagnostics` by `to` (where a span of the file before is
/// now). `false` when `to` has no place for one of them: what was moved is then unusable, and
/// the file must be checked again.
pub fn move_spans(info: &mut Info, diagnostics: &mut [Diagnostic], to: &dyn Fn(Span) -> Option<Span>) -> bool {
    move_info(info, to) && move_diagnostics(diagnostics, to)
}

fn moved(span: &mut Span, to: &dyn Fn(Span) -> Option<Span>) -> bool {
    match to(*span) {
        Some(now) => {
            *span = now;
            true
        }
        None => false,
    }
}

/// Something of a check's result with spans in it, which can be moved (`false` when one of its
/// spans has no place): every entry of the record and every diagnostic. The record's tables are
/// moved entry by entry, here and when a re-check takes an unchanged body's entries
/// (`recheck.rs`).
pub(crate) trait Move {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool;
}

/// The second part of a record's `(Span, …)` entry.
pub(crate) trait MoveTail {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool;
}

impl<T: MoveTail> Move for (Span, T) {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        moved(&mut self.0, to) && self.1.move_by(to)
    }
}

impl MoveTail for Span {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        moved(self, to)
    }
}

macro_rules! no_spans {
    ($($t:ty),*) => {$(
        impl MoveTail for $t {
            fn move_by(&mut self, _: &dyn Fn(Span) -> Option<Span>) -> bool {
                true
            }
        }
    )*};
}
no_spans!(crate::ty::Ty, String, flow_plan::Builtin, Vec<(String, String)>);

impl MoveTail for Vec<DerivedField> {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        self.iter_mut().all(|DerivedField { name: _, declared, optional: _, present: _ }| {
            declared.as_mut().is_none_or(|d| moved(d, to))
        })
    }
}

impl Move for DeclInfo {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        let DeclInfo { kind: _, name: _, name_span, span } = self;
        moved(name_span, to) && moved(span, to)
    }
}

impl Move for FieldDecl {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        let FieldDecl { name_span, span, path: _, optional: _, sensitive: _, written: _ } = self;
        moved(name_span, to) && moved(span, to)
    }
}

impl Move for NameDecl {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        let NameDecl { span, name: _, kind: _, ty: _ } = self;
        moved(span, to)
    }
}

impl Move for Diagnostic {
    fn move_by(&mut self, to: &dyn Fn(Span) -> Option<Span>) -> bool {
        self.labels.iter_mut().all(|l| moved(&mut l.span, to))
            && self.fixes.iter_mut().flat_map(|f| f.edits.iter_mut()).all(|e| moved(&mut e.span, to))
    }
}

fn all<T: Move>(v: &mut [T], to: &dyn Fn(Span) -> Option<Span>) -> bool {
    v.iter_mut().all(|x| x.move_by(to))
}

fn move_info(info: &mut Info, to: &dyn Fn(Span) -> Option<Span>) -> bool {
    // Every field named, so that a new one cannot be left unmoved.
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
    all(types, to)
        && all(decls, to)
        && all(field_decls, to)
        && all(field_uses, to)
        && all(field_choices, to)
        && all(names, to)
        && all(name_uses, to)
        && all(builtin_uses, to)
        && all(derived_types, to)
        && all(derived_field_uses, to)
        && all(derived_fields, to)
}

fn move_diagnostics(diagnostics: &mut [Diagnostic], to: &dyn Fn(Span) -> Option<Span>) -> bool {
    let all = all(diagnostics, to);
    // Moving keeps the order of spans within a declaration and between declarations; sorted
    // again all the same (stable, so what was in order stays so), as a fresh check sorts them.
    flow_diagnostics::sort(diagnostics);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_corpus::{sources, Rng};

    /// What the language server does on an edit (`Doc::edit`): when the re-parse says every
    /// declaration only moved, the last check's result is moved; after each of a long sequence
    /// of seeded random edits (comments, blank lines and spaces put in or taken out anywhere, and
    /// edits of the code, which must be checked again), the result is exactly a fresh check's.
    #[test]
    fn a_moved_check_equals_a_fresh_one_after_every_random_edit() {
        const SNIPPETS: [&str; 10] = [" ", "\n", "\n\n", "// a note\n", "/* c */", "  ", "\t", "// x", "x", "}"];
        let mut rng = Rng(0x0c4e_c4ed);
        let (mut moved_times, mut checked_times) = (0, 0);
        let all = sources();
        let step = (all.len() / 60).max(1);
        for source in all.into_iter().step_by(step) {
            let mut text = source;
            let mut parser = flow_syntax::Reparser::new();
            let (file, parse_diags) = {
                let (f, d, _) = parser.parse(&text);
                (f, d)
            };
            let mut last = crate::check_parsed_for_editor(&file, parse_diags);
            parser.keep(file);
            for _ in 0..40 {
                let boundaries: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
                let at = boundaries[rng.below(boundaries.len())];
                let to = boundaries[(boundaries.partition_point(|&b| b < at) + rng.below(4)).min(boundaries.len() - 1)];
                match rng.below(4) {
                    0 | 1 => text.insert_str(at, SNIPPETS[rng.below(SNIPPETS.len())]),
                    2 => text.replace_range(at..to, ""),
                    _ => {
                        // Somewhere a line starts: a comment line or a blank one.
                        let line = text[..at].rfind('\n').map_or(0, |i| i + 1);
                        text.insert_str(line, ["\n", "// a comment\n", "   \n"][rng.below(3)]);
                    }
                }
                let (file, parse_diags, _) = parser.parse(&text);
                let fresh = crate::check_parsed_for_editor(&flow_syntax::parse(&text).0, flow_syntax::parse(&text).1);
                let moves = parser.moves().cloned();
                let mut result = None;
                if let Some(moves) = moves {
                    let (mut info, mut diagnostics) = (last.info.clone(), last.diagnostics.clone());
                    if move_spans(&mut info, &mut diagnostics, &|s| moves.span(s)) {
                        moved_times += 1;
                        assert_eq!(diagnostics, fresh.diagnostics, "moved diagnostics, after an edit at {at}:\n{text}");
                        assert_eq!(
                            format!("{info:?}"),
                            format!("{:?}", fresh.info),
                            "moved record, after an edit at {at}:\n{text}"
                        );
                        result = Some(crate::Checked { model: None, diagnostics, info });
                    }
                }
                let result = result.unwrap_or_else(|| {
                    checked_times += 1;
                    crate::check_parsed_for_editor(&file, parse_diags)
                });
                parser.keep(file);
                last = result;
            }
        }
        assert!(moved_times > 400, "edits of comments and blank lines are moved ({moved_times} moved)");
        assert!(checked_times > 300, "edits of the code are checked again ({checked_times} checked)");
    }
}
