//! The lexical rules of strings and comments, in one place: the scan that splits a file at its
//! declarations, the formatter and editors all find them here, the way the grammar finds them (a
//! string ends at its closing quote or the line's end, `\` escapes one character; `//` runs to
//! the line's end; `/* */` does not nest). [`lex`] gives strings, comments and words without a
//! parse.

use flow_diagnostics::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lexeme {
    /// A string literal, quotes included.
    Str,
    /// A `//` or `/* */` comment.
    Comment,
    /// A name or keyword: a letter or `_`, then letters, digits and `_`.
    Word,
    Newline,
    /// Any other byte that is not a space, a tab or a carriage return.
    Other,
}

/// Where the string literal whose opening quote is at `start` ends: past its closing quote, or
/// at its line's end (the line break is not part of it), or at the end of the text.
pub(crate) fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    // The closing quote belongs to the string; a line's end does not.
    if b.get(i) == Some(&b'"') {
        i + 1
    } else {
        i.min(b.len())
    }
}

/// Where the `//` comment at `start` ends: at its line break (not part of it), or at the end.
pub(crate) fn line_comment_end(b: &[u8], start: usize) -> usize {
    b[start..].iter().position(|&c| c == b'\n').map_or(b.len(), |n| start + n)
}

/// Where the `/* */` comment at `start` ends: past its `*/` (comments do not nest), or at the end.
pub(crate) fn block_comment_end(b: &[u8], start: usize) -> usize {
    let body = start + 2;
    b.get(body..).and_then(|rest| rest.windows(2).position(|w| w == b"*/")).map_or(b.len(), |n| body + n + 2)
}

/// Where the comment starting at `i` ends, if one starts there (`//` or `/*`).
pub(crate) fn comment_end(b: &[u8], i: usize) -> Option<usize> {
    match (b.get(i), b.get(i + 1)) {
        (Some(b'/'), Some(b'/')) => Some(line_comment_end(b, i)),
        (Some(b'/'), Some(b'*')) => Some(block_comment_end(b, i)),
        _ => None,
    }
}

/// The lexemes of `source`, in order; spaces, tabs and carriage returns are skipped.
pub fn lex(source: &str) -> Lexer<'_> {
    Lexer { source, i: 0 }
}

pub struct Lexer<'a> {
    source: &'a str,
    i: usize,
}

impl Iterator for Lexer<'_> {
    type Item = (Lexeme, Span);

    fn next(&mut self) -> Option<(Lexeme, Span)> {
        let b = self.source.as_bytes();
        while matches!(b.get(self.i), Some(b' ' | b'\t' | b'\r')) {
            self.i += 1;
        }
        let start = self.i;
        if let Some(end) = comment_end(b, start) {
            self.i = end;
            return Some((Lexeme::Comment, Span::new(start, end)));
        }
        let kind = match *b.get(start)? {
            b'"' => {
                self.i = string_end(b, start);
                Lexeme::Str
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut i = start;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                self.i = i;
                Lexeme::Word
            }
            b'\n' => {
                self.i += 1;
                Lexeme::Newline
            }
            _ => {
                self.i += 1;
                Lexeme::Other
            }
        };
        Some((kind, Span::new(start, self.i)))
    }
}

/// A field name or key as it is written: bare when it is a word (`id`), quoted otherwise
/// (`"+1"`, `"vid-offset"`): where the grammar takes a field name (a type's field, a path after
/// `.`, a map's or object's field), the formatter, fixes and editors write it this way.
pub fn key(name: &str) -> String {
    let word = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if word {
        name.to_string()
    } else {
        quote(name)
    }
}

/// The grammar's reserved words: a name is never one, so a field of one of these names is
/// written quoted where a name would be an expression (an argument of `pick` or `omit`).
pub const RESERVED: [&str; 12] =
    ["if", "then", "else", "true", "false", "null", "let", "for", "in", "where", "match", "catch"];

/// A field's name as an argument of `pick(…)` or `omit(…)`: bare when it is a word and no
/// reserved word, quoted otherwise (`pick(Param, name, "in")`, `omit(T, "display-name")`).
pub fn argument_key(name: &str) -> String {
    if RESERVED.contains(&name) {
        quote(name)
    } else {
        key(name)
    }
}

/// A string literal that reads as `s`, with the escapes the grammar knows.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of a string literal's inside, escapes resolved (the grammar has validated them; a
/// malformed `\u{…}` would give U+FFFD).
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                out.push(ch.unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The name a field name's text stands for: a quoted key's value (`"+1"` → `+1`), or the word.
pub fn key_value(text: &str) -> String {
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if text.len() >= 2 => unescape(inner),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_comments_hide_their_words() {
        let src = "map m /* map */ \"m \\\" m\" // m\nm_1 1x é";
        let words: Vec<&str> =
            lex(src).filter(|(k, _)| *k == Lexeme::Word).map(|(_, s)| &src[s.start as usize..s.end as usize]).collect();
        assert_eq!(words, ["map", "m", "m_1", "x"]);
        let kinds: Vec<Lexeme> =
            lex(src).map(|(k, _)| k).filter(|k| *k != Lexeme::Word && *k != Lexeme::Other).collect();
        assert_eq!(kinds, [Lexeme::Comment, Lexeme::Str, Lexeme::Comment, Lexeme::Newline]);
    }

    #[test]
    fn unterminated_string_and_comment_end_at_the_text_end() {
        assert_eq!(lex("\"abc\\").collect::<Vec<_>>(), [(Lexeme::Str, Span::new(0, 5))]);
        assert_eq!(lex("/* x").collect::<Vec<_>>(), [(Lexeme::Comment, Span::new(0, 4))]);
    }
}
