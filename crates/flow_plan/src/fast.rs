//! Decoding JSON text straight into a [`Value`] of a declared type, in one pass over the bytes:
//! declared fields are built, undeclared ones are skipped without building anything, numbers are
//! read from their text (so a Decimal is exactly what was written), and no intermediate tree is
//! made. On any mismatch it gives up; the caller then decodes the slow way, which names the exact
//! field (see [`crate::decode_text`]).

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;

use crate::{NamedType, Type, Value};

/// Mismatch or malformed input: the slow path will say which.
pub(crate) struct Fail;

type R<T> = Result<T, Fail>;

/// Decodes into `slot`, reusing what it holds: decoding a stream of records of one type into the
/// same slot reuses the previous record's strings, arrays and objects instead of allocating
/// new ones. On failure `slot` holds part of a record.
pub(crate) fn decode_into(text: &str, ty: &Type, types: &[NamedType], slot: &mut Value) -> R<()> {
    let mut p = Parser { b: text.as_bytes(), text, i: 0, types, depth: 0 };
    p.value(ty, slot)?;
    p.ws();
    if p.i == p.b.len() {
        Ok(())
    } else {
        Err(Fail)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
    types: &'a [NamedType],
    depth: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        // Compact JSON has no whitespace between tokens: a byte above ' ' is the next token.
        match self.b.get(self.i) {
            Some(&c) if c > b' ' => Some(c),
            _ => {
                self.ws();
                self.b.get(self.i).copied()
            }
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Fail)
        }
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Fail)
        }
    }

    fn value(&mut self, ty: &Type, slot: &mut Value) -> R<()> {
        self.depth += 1;
        if self.depth > 128 {
            return Err(Fail);
        }
        let c = self.peek().ok_or(Fail)?;
        match ty {
            Type::Nullable(inner) => {
                if c == b'n' {
                    self.literal(b"null")?;
                    *slot = Value::Null;
                } else {
                    self.value(inner, slot)?;
                }
            }
            Type::Named(i) => {
                let t = &self.types.get(*i).ok_or(Fail)?.ty;
                self.value(t, slot)?;
            }
            Type::String => {
                let s = self.str_ref()?;
                set_str(slot, &s);
            }
            Type::Union(members) => {
                let s = self.str_ref()?;
                if !members.iter().any(|m| **m == *s) {
                    return Err(Fail);
                }
                set_str(slot, &s);
            }
            Type::Int => {
                let n = self.number()?;
                // `-0` is JSON's negative zero, a float: not an Int (as serde_json reads it).
                if n == "-0" {
                    return Err(Fail);
                }
                *slot = Value::Int(n.parse::<i64>().map_err(|_| Fail)?);
            }
            Type::Float => {
                let n = self.number()?;
                *slot = Value::Float(finite(n)?);
            }
            Type::Decimal => {
                let text = if c == b'"' { self.str_ref()? } else { std::borrow::Cow::Borrowed(self.number()?) };
                let t = text.trim();
                *slot = Value::Decimal(
                    Decimal::from_str_exact(t).or_else(|_| Decimal::from_scientific(t)).map_err(|_| Fail)?,
                );
            }
            Type::Bool => {
                if c == b't' {
                    self.literal(b"true")?;
                    *slot = Value::Bool(true);
                } else {
                    self.literal(b"false")?;
                    *slot = Value::Bool(false);
                }
            }
            Type::Date => {
                *slot = Value::Date(NaiveDate::parse_from_str(&self.str_ref()?, "%Y-%m-%d").map_err(|_| Fail)?)
            }
            Type::DateTime => {
                *slot = Value::DateTime(DateTime::parse_from_rfc3339(&self.str_ref()?).map_err(|_| Fail)?)
            }
            Type::Array(item) => {
                self.eat(b'[')?;
                if !matches!(slot, Value::Array(_)) {
                    *slot = Value::Array(Vec::new());
                }
                let Value::Array(items) = slot else { return Err(Fail) };
                let mut n = 0;
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        if n == items.len() {
                            items.push(Value::Null);
                        }
                        self.value(item, &mut items[n])?;
                        n += 1;
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(Fail),
                        }
                    }
                }
                items.truncate(n);
            }
            Type::Object(fields) => {
                self.eat(b'{')?;
                // Decoded in place, in declaration order; `seen` marks the fields the text had.
                let reusable = matches!(slot, Value::Object(out)
                    if out.len() == fields.len() && out.iter().zip(fields).all(|((k, _), f)| *k == f.name));
                if !reusable {
                    *slot = Value::Object(fields.iter().map(|f| (f.name, Value::Null)).collect());
                }
                let Value::Object(out) = slot else { return Err(Fail) };
                let mut seen = Seen::new(fields.len());
                // Keys usually come in the same order record after record: try the one after the
                // last match first.
                let mut guess = 0;
                if self.peek() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        let key = self.key()?;
                        self.eat(b':')?;
                        let at = match fields.get(guess) {
                            Some(f) if same(&f.name, key) => Some(guess),
                            _ => fields.iter().position(|f| same(&f.name, key)),
                        };
                        match at {
                            Some(i) => {
                                // A repeated key: the last one wins, as in the slow path.
                                seen.set(i);
                                self.value(&fields[i].ty, &mut out[i].1)?;
                                guess = i + 1;
                            }
                            None => self.skip()?,
                        }
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(Fail),
                        }
                    }
                }
                for (i, f) in fields.iter().enumerate() {
                    if !seen.get(i) {
                        if !nullable(&f.ty, self.types) {
                            return Err(Fail);
                        }
                        out[i].1 = Value::Null;
                    }
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// A key.
    ///
    /// Its bytes, as written: a key with an escape in it is left to the slow path, which says
    /// the same as for any key (escaped keys are legal but rare).
    fn key(&mut self) -> R<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let end = plain_run(self.b, start);
        if self.b.get(end) != Some(&b'"') {
            return Err(Fail);
        }
        self.i = end + 1;
        self.b.get(start..end).ok_or(Fail)
    }

    /// A string, borrowed when it has no escapes.
    fn str_ref(&mut self) -> R<std::borrow::Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let end = plain_run(self.b, start);
        match self.b.get(end) {
            Some(b'"') => {
                self.i = end + 1;
                // Both ends are ASCII quotes, so this is a char boundary of valid UTF-8 text.
                Ok(std::borrow::Cow::Borrowed(self.text.get(start..end).ok_or(Fail)?))
            }
            Some(b'\\') => {
                self.i = start - 1;
                self.string().map(std::borrow::Cow::Owned)
            }
            _ => Err(Fail),
        }
    }

    fn string(&mut self) -> R<String> {
        self.eat(b'"')?;
        let start = self.i;
        self.i = plain_run(self.b, start);
        let mut out = String::from(self.text.get(start..self.i).ok_or(Fail)?);
        loop {
            let c = *self.b.get(self.i).ok_or(Fail)?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let e = *self.b.get(self.i + 1).ok_or(Fail)?;
                    self.i += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.literal(b"\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(Fail);
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).ok_or(Fail)?);
                        }
                        _ => return Err(Fail),
                    }
                }
                c if c < 0x20 => return Err(Fail),
                _ => {
                    // Copy a run of plain bytes at once (UTF-8 boundaries are at ASCII bytes).
                    let run = self.i;
                    self.i = plain_run(self.b, run);
                    out.push_str(self.text.get(run..self.i).ok_or(Fail)?);
                }
            }
        }
    }

    /// Four hex digits, exactly (`from_str_radix` alone would take a sign).
    fn hex4(&mut self) -> R<u32> {
        let h = self.b.get(self.i..self.i + 4).ok_or(Fail)?;
        self.i += 4;
        h.iter().try_fold(0u32, |n, &c| Ok(n * 16 + char::from(c).to_digit(16).ok_or(Fail)?))
    }

    /// A JSON number's text, validated.
    fn number(&mut self) -> R<&'a str> {
        self.ws();
        let start = self.i;
        let b = self.b;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        // JSON writes no leading zeros: `0` alone, or `0.5`, never `02`.
        let first = i;
        if !digits(&mut i) || (b.get(first) == Some(&b'0') && i - first > 1) {
            return Err(Fail);
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return Err(Fail);
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return Err(Fail);
            }
        }
        self.i = i;
        Ok(&self.text[start..i])
    }

    /// Skips one value of any shape without building it, checking it is well-formed JSON (each
    /// bracket closed by its own kind, keys as strings followed by `:`). Iterative, with the open
    /// containers as bits: nesting cannot overflow, and past 128 levels the slow path decides.
    fn skip(&mut self) -> R<()> {
        // Bit d of `objects` says whether the container open at depth d is an object.
        let (mut objects, mut depth) = (0u128, 0u32);
        loop {
            // A value.
            let mut closed = false;
            match self.peek().ok_or(Fail)? {
                open @ (b'{' | b'[') => {
                    if depth == 128 {
                        return Err(Fail);
                    }
                    self.i += 1;
                    let object = open == b'{';
                    objects = (objects & !(1 << depth)) | (u128::from(object) << depth);
                    depth += 1;
                    if self.peek() == Some(if object { b'}' } else { b']' }) {
                        self.i += 1;
                        depth -= 1;
                        closed = true;
                    } else if object {
                        self.skip_string()?;
                        self.eat(b':')?;
                        continue;
                    } else {
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => {
                    // JSON parsers refuse a number too large for a double, even unread.
                    finite(self.number()?)?;
                }
            }
            let _ = closed;
            // After a value: close the containers that end here, or go on after a comma.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = objects & (1 << (depth - 1)) != 0;
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if object {
                            self.skip_string()?;
                            self.eat(b':')?;
                        }
                        break;
                    }
                    Some(b'}') if object => {
                        self.i += 1;
                        depth -= 1;
                    }
                    Some(b']') if !object => {
                        self.i += 1;
                        depth -= 1;
                    }
                    _ => return Err(Fail),
                }
            }
        }
    }

    /// Skips a string; a control character in it is malformed JSON, left to the slow path. A
    /// string with escapes is read in full, so a bad escape is refused as JSON refuses it.
    fn skip_string(&mut self) -> R<()> {
        self.eat(b'"')?;
        let start = self.i - 1;
        self.i = plain_run(self.b, self.i);
        match self.b.get(self.i) {
            Some(b'"') => {
                self.i += 1;
                Ok(())
            }
            Some(b'\\') => {
                self.i = start;
                self.string().map(drop)
            }
            _ => Err(Fail),
        }
    }
}

/// The end of the run of plain string bytes starting at `i`: the index of the first `"`, `\\` or
/// control character, or the length. Eight bytes at a time: a byte that is a quote, a backslash
/// or below 0x20 sets its high bit in `hit`, and the lowest such byte is exact.
#[inline]
pub(crate) fn plain_run(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else { break };
        let x = u64::from_le_bytes(chunk);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let hit = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Whether a declared name is the key read: lengths first, then bytes, inline (names are short).
#[inline]
fn same(name: &str, key: &[u8]) -> bool {
    let a = name.as_bytes();
    a.len() == key.len() && a.iter().zip(key).all(|(x, y)| x == y)
}

/// A number's text as a finite double; a number beyond the double range is refused, as
/// serde_json refuses it.
fn finite(text: &str) -> R<f64> {
    text.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or(Fail)
}

/// Sets `slot` to the string `s`, in the string it already holds when it holds one.
fn set_str(slot: &mut Value, s: &str) {
    match slot {
        Value::Str(buf) => {
            buf.clear();
            buf.push_str(s);
        }
        _ => *slot = Value::Str(s.to_owned()),
    }
}

/// Which fields of an object were in the text: a bit each, on the stack up to 128 fields.
enum Seen {
    Small(u128),
    Large(Vec<bool>),
}

impl Seen {
    fn new(n: usize) -> Seen {
        if n <= 128 {
            Seen::Small(0)
        } else {
            Seen::Large(vec![false; n])
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Seen::Small(bits) => bits & (1u128 << i) != 0,
            Seen::Large(v) => v[i],
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Seen::Small(bits) => *bits |= 1u128 << i,
            Seen::Large(v) => v[i] = true,
        }
    }
}

fn nullable(ty: &Type, types: &[NamedType]) -> bool {
    match ty {
        Type::Nullable(_) => true,
        Type::Named(i) => types.get(*i).is_some_and(|n| matches!(n.ty, Type::Nullable(_))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Field;

    fn decode(text: &str, ty: &Type, types: &[NamedType]) -> R<Value> {
        let mut v = Value::Null;
        decode_into(text, ty, types, &mut v)?;
        Ok(v)
    }

    fn field(name: &str, ty: Type) -> Field {
        Field { name: name.into(), ty, optional: false }
    }

    #[test]
    fn plain_runs_stop_where_a_byte_at_a_time_scan_stops() {
        let naive = |b: &[u8], i: usize| (i..b.len()).find(|&j| b[j] == b'"' || b[j] == b'\\' || b[j] < 0x20);
        let stops: [&[u8]; 5] = [b"\"", b"\\", b"\n", b"\x1f", b"\x00"];
        let fillers: [&[u8]; 4] = [b"a", "é".as_bytes(), b" ", b"\x7f"];
        for len in 0..20 {
            for filler in fillers {
                let mut text: Vec<u8> = filler.repeat(len);
                assert_eq!(plain_run(&text, 0), text.len());
                for stop in stops {
                    text.truncate(len * filler.len());
                    text.extend_from_slice(stop);
                    text.extend_from_slice(b"tail\"");
                    for start in 0..3.min(text.len()) {
                        assert_eq!(Some(plain_run(&text, start)), naive(&text, start), "{text:?} from {start}");
                    }
                }
            }
        }
    }

    /// Equal, numbers aside: the fast path reads them from their text (a Decimal exactly, a
    /// Float correctly rounded), serde_json through an f64 that may be a unit off in the last
    /// place.
    fn alike(a: &Value, b: &Value) -> bool {
        use rust_decimal::prelude::ToPrimitive;
        let number = |v: &Value| match v {
            Value::Decimal(d) => d.to_f64(),
            Value::Float(f) => Some(*f),
            _ => None,
        };
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((k, v), (l, w))| k == l && alike(v, w))
            }
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| alike(v, w)),
            (Value::Decimal(_) | Value::Float(_), _) => match (number(a), number(b)) {
                (Some(x), Some(y)) => {
                    (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
                        && std::mem::discriminant(a) == std::mem::discriminant(b)
                }
                _ => false,
            },
            _ => a == b,
        }
    }

    #[test]
    fn decimals_are_read_exactly_from_their_text() {
        let ty = Type::Object(vec![field("amount", Type::Decimal)]);
        for (text, expect) in [
            ("12345678901234567890.12345678", "12345678901234567890.12345678"),
            ("3E25", "30000000000000000000000000"),
            ("0.1", "0.1"),
        ] {
            let line = format!("{{\"amount\":{text}}}");
            let v = decode(&line, &ty, &[]).unwrap_or_else(|_| panic!("{line}"));
            assert_eq!(crate::encode(&v), format!("{{\"amount\":{expect}}}"));
        }
    }

    /// The fast path may give up on anything, but what it accepts the slow path (serde_json,
    /// then the typed decode) must accept too, with the same value: checked on thousands of
    /// mutations of valid records, each decoded into the slot of the one before.
    #[test]
    fn what_the_fast_path_accepts_the_slow_path_accepts_alike() {
        let item =
            Type::Object(vec![field("sku", Type::String), field("qty", Type::Int), field("price", Type::Decimal)]);
        let ty = Type::Object(vec![
            field("id", Type::Int),
            field("name", Type::String),
            field("score", Type::Float),
            field("ok", Type::Bool),
            field("status", Type::Union(vec!["a".into(), "b".into()])),
            field("nick", Type::Nullable(Box::new(Type::String))),
            field("at", Type::DateTime),
            field("day", Type::Date),
            field("items", Type::Array(Box::new(item))),
        ]);
        let seeds = [
            r#"{"id":1,"name":"Ann","score":1.5,"ok":true,"status":"a","nick":null,"at":"2026-01-02T03:04:05Z","day":"2026-01-02","items":[{"sku":"x","qty":2,"price":3.25}],"extra":{"k":[1,"\u00e9",null]}}"#,
            r#"{"items":[],"day":"1999-12-31","at":"1999-12-31T23:59:59.5+01:00","nick":"B\"b","status":"b","ok":false,"score":-2e3,"name":"Z\u00fcrich \\ x","id":-7}"#,
        ];
        let alphabet: &[u8] = b"{}[],:\"\\ nulltrfaseE0123456789.-+xu\t\n\x01\xc3\xa9";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut accepted, mut slot) = (0, Value::Null);
        for round in 0..20_000 {
            let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..1 + next(3) {
                let at = next(bytes.len() + 1);
                match next(3) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, alphabet[next(alphabet.len())]),
                    _ if at < bytes.len() => bytes[at] = alphabet[next(alphabet.len())],
                    _ => {}
                }
            }
            let Ok(text) = std::str::from_utf8(&bytes) else { continue };
            let slow = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|j| crate::json::decode(&j, &ty, &[]).ok());
            if decode_into(text, &ty, &[], &mut slot).is_ok() {
                accepted += 1;
                let slow = slow.unwrap_or_else(|| panic!("the fast path accepted {text}"));
                assert!(alike(&slot, &slow), "{text}: {slot:?} vs {slow:?}");
            }
        }
        assert!(accepted > 1_000, "the mutations left too few valid records ({accepted})");
    }

    #[test]
    fn decoding_into_the_previous_record_gives_what_a_fresh_decode_gives() {
        let item = Type::Object(vec![field("sku", Type::String), field("qty", Type::Int)]);
        let ty = Type::Object(vec![
            field("name", Type::String),
            field("status", Type::Union(vec!["a".into(), "b".into()])),
            field("nick", Type::Nullable(Box::new(Type::String))),
            field("items", Type::Array(Box::new(item.clone()))),
            field("address", Type::Nullable(Box::new(Type::Object(vec![field("city", Type::String)])))),
        ]);
        let lines = [
            r#"{"name":"a long name that needs its own buffer","status":"a","nick":"x","items":[{"sku":"s1","qty":1},{"sku":"s2","qty":2}],"address":{"city":"Paris"}}"#,
            // Fewer items, a missing nullable field, a null object, keys in another order.
            r#"{"items":[{"qty":3,"sku":"s3"}],"status":"b","name":"b","address":null}"#,
            r#"{"name":"c","status":"a","nick":null,"items":[],"address":{"city":"Rome"},"extra":[1,{"x":2}]}"#,
            r#"{"name":"d","status":"b","items":[{"sku":"s4","qty":4},{"sku":"s5","qty":5},{"sku":"s6","qty":6}]}"#,
        ];
        let mut slot = Value::Null;
        for line in lines {
            let fresh = decode(line, &ty, &[]).unwrap_or_else(|_| panic!("{line} decodes"));
            assert!(decode_into(line, &ty, &[], &mut slot).is_ok());
            assert_eq!(slot, fresh, "{line}");
        }
        // A line that does not fit fails, whatever the slot held.
        assert!(decode_into(r#"{"name":"e","status":"c","items":[]}"#, &ty, &[], &mut slot).is_err());
        assert!(decode_into(r#"{"status":"a","items":[]}"#, &ty, &[], &mut slot).is_err());
    }
}
