//! `parse`: `.flow` source text to a typed AST, and `format`, the one canonical layout of it.
//! Parsing never fails: it returns the declarations it could read and a diagnostic for each piece
//! it could not.
//!
//! The file is first scanned (`scan.rs`; strings and comments found by the rules of `lex.rs`, the
//! only place they are written) to find the top-level declarations and to refuse input nested
//! deeper than [`MAX_DEPTH`]; each declaration is then parsed on its own with the pest grammar in
//! `grammar/flow.pest`, and `tree_to_ast.rs` builds its AST, so one syntax error does not hide the
//! others. In front of pest, `fast.rs` parses a declaration by hand into exactly the tree pest
//! would give, and declines (to pest) whatever it is not sure of. A declaration the grammar refuses is explained by `recover.rs` (the cause at its own
//! span, with the fix that removes it) and listed in `File::broken` for the checker.
//!
//! This crate must never know about names resolving, types, plans or running: it sees text and
//! gives a tree. pest never leaves `tree_to_ast.rs`.

pub mod ast;
mod fast;
mod format;
pub use format::format;
mod incremental;
pub use incremental::{Edited, Moves, Reparser};
pub mod lex;
mod recover;
mod scan;
mod tree_to_ast;

use flow_diagnostics::{codes, Diagnostic, Span};

/// Deepest nesting of brackets accepted; deeper input gets E0003 instead of risking the parser's
/// stack. (`if`s, `match`es and lambdas are bounded by count per declaration, 256, in `scan.rs`;
/// expressions by depth, [`MAX_EXPR_DEPTH`].)
pub const MAX_DEPTH: usize = 64;

/// Deepest expression tree accepted (a chain `a + b + c` is as deep as it is long). Every stage
/// after the parser recurses over expressions; this bound keeps that safe on any thread.
pub const MAX_EXPR_DEPTH: usize = 256;

/// Stack for the parser thread: pest recurses once per grammar level, and debug builds use large
/// frames. The memory is reserved, not committed, so this costs nothing unless it is used.
const PARSER_STACK: usize = 64 * 1024 * 1024;

/// Parses a whole file. The AST holds every declaration that parsed; the diagnostics say what did not.
pub fn parse(source: &str) -> (ast::File, Vec<Diagnostic>) {
    parse_with(source, &mut |piece| parse_piece(source, piece))
}

/// Scans `source` into its pieces and builds the file from what `piece` gives for each (parsed
/// now, or the same text's result from an earlier parse: `incremental.rs`), on a thread with
/// the parser's stack.
fn parse_with(
    source: &str,
    piece: &mut (dyn FnMut(std::ops::Range<usize>) -> incremental::Piece + Send),
) -> (ast::File, Vec<Diagnostic>) {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("flow-parser".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || parse_on_this_thread(source, piece))
            .ok()
            .and_then(|handle| handle.join().ok())
    })
    .unwrap_or_else(|| {
        let d = Diagnostic::new(codes::SYNTAX, "internal parser error: the parser thread failed")
            .primary(Span::new(0, 0), "while parsing this file")
            .help("this is a bug in flowc; please report it with the file");
        (ast::File::default(), vec![d])
    })
}

fn parse_on_this_thread(
    source: &str,
    parse_piece: &mut dyn FnMut(std::ops::Range<usize>) -> incremental::Piece,
) -> (ast::File, Vec<Diagnostic>) {
    let pieces = match scan::split(source) {
        Ok(pieces) => pieces,
        Err(d) => return (ast::File::default(), vec![d]),
    };
    let mut file = ast::File::default();
    let mut diagnostics = Vec::new();
    for range in pieces {
        let mut piece = parse_piece(range);
        file.decls.append(&mut piece.decls);
        file.broken.append(&mut piece.broken);
        diagnostics.append(&mut piece.diagnostics);
    }
    (file, diagnostics)
}

/// Parses one scanned piece of `source` (`range`): what it gives depends on its text alone
/// (its spans on where it starts), which is what lets `incremental.rs` keep it.
fn parse_piece(source: &str, range: std::ops::Range<usize>) -> incremental::Piece {
    let mut out = incremental::Piece { start: range.start, ..incremental::Piece::default() };
    let mut queue = vec![range];
    while let Some(piece) = queue.pop() {
        match tree_to_ast::parse_decl(&source[piece.clone()], piece.start) {
            Ok((decl, mut ds)) => {
                out.diagnostics.append(&mut ds);
                out.decls.push(decl);
            }
            Err(tree_to_ast::ParseError::Internal(d)) => out.diagnostics.push(*d),
            Err(tree_to_ast::ParseError::Syntax(failure)) => {
                let recovered = recover::recover(&source[piece.clone()], piece.start, failure);
                out.diagnostics.extend(recovered.diagnostics);
                out.broken.push(broken_decl(source, piece.clone()));
                if let Some(rest) = recovered.rest {
                    // A declaration keyword inside a bracket left open: what follows it is parsed
                    // as the declarations it is.
                    queue.push(piece.start + rest..piece.end);
                }
            }
        }
    }
    out
}

/// What the checker needs of a declaration that did not parse: its name (so uses of it are not
/// reported as unknown) and the words it holds (so what it uses is not reported as unused).
fn broken_decl(source: &str, piece: std::ops::Range<usize>) -> ast::Broken {
    let text = &source[piece.clone()];
    let mut words = lex::lex(text).filter(|(k, _)| *k == lex::Lexeme::Word).map(|(_, s)| &text[s.range()]);
    let keyword = words.next().unwrap_or_default();
    let name = if scan::DECL_KEYWORDS.contains(&keyword) && keyword != "test" { words.next() } else { None };
    let mut uses: Vec<String> = words.map(str::to_string).collect();
    uses.sort_unstable();
    uses.dedup();
    ast::Broken { name: name.map(str::to_string), uses, span: Span::new(piece.start, piece.end) }
}

/// Decodes file bytes as UTF-8, or says where it is not.
pub fn decode(bytes: &[u8]) -> Result<&str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        Diagnostic::new(codes::NOT_UTF8, format!("the file is not valid UTF-8 (byte {at} starts an invalid sequence)"))
            .primary(Span::new(at, at), "invalid UTF-8 here")
            .help("save the file as UTF-8; .flow files are text")
    })
}

#[cfg(test)]
mod tests;
