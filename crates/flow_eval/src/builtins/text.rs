//! Text functions: `lower`, `upper`, `trim`, `split`, `replace`, `contains`, `starts_with`,
//! `ends_with`, `substring`, `pad_left`, `pad_right`, `matches`, `capture`, `regex_replace`,
//! `format`, `str`, `len`.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::{fail, int, internal, text};
use crate::compiled::Prepared;
use crate::eval::{compare, place_or_eval, Env, EvalError};
use crate::json::ToText;
use crate::{Builtin, Expr, Program, Span, Value};

/// Up to this many bytes, a text is searched for a one-byte separator byte by byte: for names
/// and codes, a plain loop is quicker than memchr's setup.
const SHORT_TEXT: usize = 32;

/// `split(s, sep)` with a separator of text that is not empty, its parts written into the
/// strings and the array `slot` holds (a map's `let` reuses the last record's); `false`, with
/// nothing evaluated that must not be repeated, when the general path must do it.
pub(crate) fn split_into(args: &[Expr], env: &mut Env, plan: &Program, slot: &mut Value) -> Result<bool, EvalError> {
    let [first, second] = args else { return Ok(false) };
    let Expr::Lit { value: Value::Str(sep) } = second else { return Ok(false) };
    if sep.is_empty() || !crate::eval::is_place(first) {
        return Ok(false);
    }
    let Value::Str(s) = &*place_or_eval(first, env, plan)? else { return Ok(false) };
    if !matches!(slot, Value::Array(_)) {
        *slot = Value::Array(Vec::new());
    }
    let Value::Array(parts) = slot else { return Ok(false) };
    let mut n = 0;
    let mut put = |part: &str| {
        match parts.get_mut(n) {
            Some(p) => crate::decode::set_str(p, part),
            None => parts.push(Value::Str(part.to_string())),
        }
        n += 1;
    };
    // One byte is one ASCII char: split on the char (a byte search), as `reading_first` does.
    if let [byte] = sep.as_bytes() {
        // An ASCII byte, so each cut is at a char boundary. The rest of a short text is
        // searched byte by byte, without a searcher's setup; a longer rest with memchr, which
        // reads it a word at a time.
        let mut rest = s.as_str();
        loop {
            let at = if rest.len() <= SHORT_TEXT {
                rest.bytes().position(|c| c == *byte)
            } else {
                memchr::memchr(*byte, rest.as_bytes())
            };
            let Some(at) = at else { break };
            put(&rest[..at]);
            rest = &rest[at + 1..];
        }
        put(rest);
    } else {
        s.split(sep.as_str()).for_each(&mut put);
    }
    parts.truncate(n);
    Ok(true)
}

/// A text function on its evaluated arguments (`args` are the expressions, for literals).
pub(super) fn call(
    func: Builtin,
    values: Vec<Value>,
    span: Span,
    site: Option<&Prepared>,
    args: &[Expr],
) -> Result<Value, EvalError> {
    use Builtin as B;
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(Value::Null);
    Ok(match func {
        // Taken before any argument is copied (`super::reading_first`).
        B::Lower | B::Upper | B::Trim | B::Split | B::Len => return super::reading_first(func, &next(), Some(&next())),
        B::Replace => {
            let (s, from, to) = (text(next())?, text(next())?, text(next())?);
            Value::Str(if from.is_empty() { s } else { s.replace(&from, &to) })
        }
        B::Contains => match (next(), next()) {
            (Value::Str(s), Value::Str(part)) => Value::Bool(s.contains(&part)),
            (Value::Array(items), x) => Value::Bool(items.iter().any(|y| compare(y, &x) == Some(Ordering::Equal))),
            _ => return internal("contains on values of unexpected kinds"),
        },
        B::StartsWith => Value::Bool(text(next())?.starts_with(&text(next())?)),
        B::EndsWith => Value::Bool(text(next())?.ends_with(&text(next())?)),
        B::Substring => {
            let s = text(next())?;
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let start = int(&next())?;
            let start = if start < 0 { (len + start).max(0) } else { start.min(len) };
            let count = match next() {
                Value::Null => len - start,
                v => int(&v)?.clamp(0, len - start),
            };
            Value::Str(chars[start as usize..(start + count) as usize].iter().collect())
        }
        B::PadLeft | B::PadRight => {
            let s = text(next())?;
            let width = int(&next())?;
            // A width from the data could ask for any amount of memory: refused, never cut short.
            if width > MAX_PAD_WIDTH {
                return fail(span, format!("`{}` to {width} characters: more than {MAX_PAD_WIDTH}", func.name()));
            }
            let width = width.max(0) as usize;
            let fill = text(next())?.chars().next().unwrap_or(' ');
            let have = s.chars().count();
            let pad: String = std::iter::repeat_n(fill, width.saturating_sub(have)).collect();
            Value::Str(if func == B::PadLeft { pad + &s } else { s + &pad })
        }
        B::Matches => {
            let s = text(next())?;
            Value::Bool(regex(site, args.get(1))?.is_match(&s))
        }
        B::Capture => {
            let s = text(next())?;
            match regex(site, args.get(1))?.captures(&s) {
                Some(c) => c.get(1).or_else(|| c.get(0)).map_or(Value::Null, |m| Value::Str(m.as_str().to_string())),
                None => Value::Null,
            }
        }
        B::RegexReplace => {
            let s = text(next())?;
            let _pattern = next();
            let with = text(next())?;
            Value::Str(regex(site, args.get(1))?.replace_all(&s, with.as_str()).into_owned())
        }
        B::Format => {
            let template = text(next())?;
            let mut out = String::with_capacity(template.len() + 16);
            let mut chars = template.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, chars.peek()) {
                    ('{', Some('{')) | ('}', Some('}')) => {
                        out.push(c);
                        chars.next();
                    }
                    ('{', Some('}')) => {
                        chars.next();
                        out.push_str(&next().to_text());
                    }
                    _ => out.push(c),
                }
            }
            Value::Str(out)
        }
        B::Str => Value::Str(next().to_text()),
        other => return internal(&format!("`{}` is not a text function", other.name())),
    })
}

/// `lower(s)` or `upper(s)`, appended to `out`: ASCII text is copied and mapped in place.
pub(super) fn case_into(func: Builtin, s: &str, out: &mut String) {
    let lower = func == Builtin::Lower;
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        let added = &mut out.as_mut_str()[start..];
        if lower {
            added.make_ascii_lowercase();
        } else {
            added.make_ascii_uppercase();
        }
    } else if lower {
        out.push_str(&s.to_lowercase());
    } else {
        out.push_str(&s.to_uppercase());
    }
}

/// The compiled pattern of a regex call: the side table's, or (a call not from the plan)
/// compiled here.
fn regex<'a>(site: Option<&'a Prepared>, pattern: Option<&Expr>) -> Result<Cow<'a, regex::Regex>, EvalError> {
    if let Some(Prepared::Regex(r)) = site {
        return Ok(Cow::Borrowed(r));
    }
    let Some(Expr::Lit { value: Value::Str(p) }) = pattern else {
        return internal("a regex pattern that is not a literal");
    };
    // The checker compiled the same pattern; failing here means a hand-edited plan.
    regex::Regex::new(p).map(Cow::Owned).map_err(|e| EvalError::new(format!("invalid regex: {e}"), None))
}

/// The widest `pad_left`/`pad_right` result, in characters.
const MAX_PAD_WIDTH: i64 = 1 << 20;
