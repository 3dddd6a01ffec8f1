//! A quick scan before the real parse: finds where top-level declarations start and refuses input
//! nested deeper than the parser can take without risking its stack.

use std::ops::Range;

use flow_diagnostics::{codes, Diagnostic, Span};

use crate::{lex, MAX_DEPTH};

pub(crate) const DECL_KEYWORDS: [&str; 9] = ["secret", "api", "type", "endpoint", "map", "flow", "table", "fn", "test"];

/// How many `if`s and lambdas one declaration may hold: each can nest inside the previous one
/// without any bracket, so the count bounds the depth the parser and checker recurse to.
pub(crate) const MAX_NESTING_KEYWORDS: usize = 256;

/// Splits `source` into one range per top-level declaration. A declaration starts with one of
/// its keywords at the start of a line, outside brackets, strings and comments.
pub(crate) fn split(source: &str) -> Result<Vec<Range<usize>>, Diagnostic> {
    let bytes = source.as_bytes();
    let mut starts = Vec::new();
    let mut depth = 0usize;
    let mut nesting_keywords = 0usize;
    let mut first_nesting_keyword = 0usize;
    let mut line_blank = true; // nothing but whitespace so far on this line
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                i = lex::string_end(bytes, i);
                line_blank = false;
                continue;
            }
            b'/' if lex::comment_end(bytes, i).is_some() => {
                i = lex::comment_end(bytes, i).unwrap_or(bytes.len());
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                line_blank = false;
                if depth > MAX_DEPTH {
                    return Err(Diagnostic::new(
                        codes::TOO_DEEP,
                        format!("brackets nested more than {MAX_DEPTH} deep"),
                    )
                    .primary(Span::new(i, i + 1), "this bracket is too deep")
                    .help("flatten the expression: move inner parts into `let`s or separate maps"));
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                line_blank = false;
            }
            b'\n' => line_blank = true,
            b' ' | b'\t' | b'\r' => {}
            b'=' if bytes.get(i + 1) == Some(&b'>') => {
                nesting_keywords += 1;
                if nesting_keywords == 1 {
                    first_nesting_keyword = i;
                }
                line_blank = false;
            }
            _ if is_word_start(b) => {
                let start = i;
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                let word = &source[start..i];
                if depth == 0 && line_blank && DECL_KEYWORDS.contains(&word) {
                    starts.push(start);
                    nesting_keywords = 0;
                } else if word == "if" || word == "match" {
                    nesting_keywords += 1;
                    if nesting_keywords == 1 {
                        first_nesting_keyword = start;
                    }
                }
                if nesting_keywords > MAX_NESTING_KEYWORDS {
                    return Err(Diagnostic::new(
                        codes::TOO_DEEP,
                        format!("more than {MAX_NESTING_KEYWORDS} `if`s and lambdas in one declaration"),
                    )
                    .primary(Span::new(start, i), "one too many")
                    .secondary(Span::new(first_nesting_keyword, first_nesting_keyword + 2), "counting from here")
                    .help("split the declaration into smaller maps"));
                }
                line_blank = false;
                continue;
            }
            _ => line_blank = false,
        }
        i += 1;
    }
    let mut ranges = Vec::with_capacity(starts.len() + 1);
    let first = starts.first().copied().unwrap_or(source.len());
    if !only_trivia(&source[..first]) {
        // Text before the first declaration: parse it so the user gets a syntax error for it.
        ranges.push(0..first);
    }
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(source.len());
        ranges.push(start..end);
    }
    Ok(ranges)
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whitespace and comments only (an unterminated block comment is not: it is a syntax error).
fn only_trivia(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        i = text.len() - text[i..].trim_start().len();
        if i == b.len() {
            return true;
        }
        match lex::comment_end(b, i) {
            Some(end) if b[i + 1] == b'/' || (end - i >= 4 && text[i..end].ends_with("*/")) => i = end,
            _ => return false,
        }
    }
}
