//! Decoding JSON text straight into a [`Value`] of a declared type, in one pass over the bytes:
//! declared fields are built, undeclared ones are skipped without building anything, numbers are
//! read from their text (so a Decimal is exactly what was written, or refused), and no
//! intermediate tree is made.
//!
//! This is the only decoder of JSON against a declared type, and it reads every document: keys
//! written with escapes, numbers of any length, any nesting up to the limit. It has two modes
//! over the same code. The quick mode stops at the first mismatch without saying where (the
//! common case is a document that fits). The explaining mode goes on past each mismatch,
//! skipping the value that does not fit, and lists every mismatch with its path, so a user can
//! fix a type in one round. A document that is not JSON fails in both modes alike.
//!
//! A page of records can be decoded with its records path: the envelope (cursor, next link,
//! totals) is decoded as usual, and each record at the path on its own, so a record that does
//! not fit is reported with its raw text while its page-mates are kept.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;

use crate::json::{describe_type, BadRecord, Mismatches, ShapeError};
use crate::keys::Keys;
use crate::spares::Spares;
use crate::{NamedType, Type, Value};

mod compiled;
mod dicts;
mod unions;

pub(crate) use compiled::Nodes;

pub(crate) use unions::describe_union;

/// A mismatch (in the quick mode) or malformed JSON (in either mode).
pub(crate) struct Fail;

/// What each step of a decoding gives: its value, or [`Fail`].
type DecodeResult<T> = Result<T, Fail>;

/// Containers may be open at once: as many as serde_json allows, so the same documents are
/// JSON for both (serde_json words the messages of syntax errors).
const MAX_DEPTH: u32 = 127;

/// Names and `?` resolved one after another before a value is read; past this a type is an
/// alias of itself, which no document can fit.
const MAX_HOPS: usize = 64;

/// What decoding gave beside the value (which is in the slot; in the explaining mode with null
/// where a value did not fit): the mismatches, and the records found at the records path.
pub(crate) struct Decoded {
    pub mismatches: Mismatches,
    pub records: Vec<Result<Value, BadRecord>>,
}

/// Decodes `text` into `slot`, reusing what it holds: decoding a stream of records of one type
/// into the same slot reuses the previous record's strings, arrays and objects instead of
/// allocating new ones. On failure `slot` holds part of a record.
pub(crate) fn decode_into(text: &str, ty: &Type, types: &[NamedType], slot: &mut Value) -> DecodeResult<()> {
    decode_keyed(text, ty, types, None, None, slot)
}

/// [`decode_into`], finding each object's fields by the key tables of its type when `keys` has
/// them (`flowc map` builds them once per stream), and taking new array items from `spares`
/// (and keeping what arrays no longer hold there) when it is given.
pub(crate) fn decode_keyed(
    text: &str,
    ty: &Type,
    types: &[NamedType],
    keys: Option<&Keys<'_>>,
    spares: Option<&mut Spares>,
    slot: &mut Value,
) -> DecodeResult<()> {
    let mut p = Parser::<false>::new(text, types);
    p.keys = keys;
    if let (Some(keys), Some(nodes)) = (keys, keys.and_then(|k| k.nodes(ty))) {
        // The stream's decoder, compiled once: each value read by its node.
        if let Some(spares) = spares {
            std::mem::swap(&mut p.spares, spares);
            let result = p.node_value(nodes, keys, 0, slot);
            std::mem::swap(&mut p.spares, spares);
            result?;
        } else {
            p.node_value(nodes, keys, 0, slot)?;
        }
    } else if let Some(spares) = spares {
        std::mem::swap(&mut p.spares, spares);
        let result = p.value(ty, slot, None);
        std::mem::swap(&mut p.spares, spares);
        result?;
    } else {
        p.value(ty, slot, None)?;
    }
    p.ws();
    if p.i == p.b.len() {
        Ok(())
    } else {
        Err(Fail)
    }
}

/// Decodes `text`; with `records`, each item of the array at that path is decoded on its own
/// and returned apart (the envelope holds an empty array there). In the explaining mode every
/// mismatch is listed; in the quick mode the first is a failure.
pub(crate) fn decode(
    text: &str,
    ty: &Type,
    types: &[NamedType],
    records: Option<&[String]>,
    explain: bool,
    slot: &mut Value,
) -> Result<Decoded, Stop> {
    if explain {
        decode_as::<true>(text, ty, types, records, slot)
    } else {
        decode_as::<false>(text, ty, types, records, slot)
    }
}

fn decode_as<const EXPLAIN: bool>(
    text: &str,
    ty: &Type,
    types: &[NamedType],
    records: Option<&[String]>,
    slot: &mut Value,
) -> Result<Decoded, Stop> {
    let mut p = Parser::<EXPLAIN>::new(text, types);
    p.target = records;
    let result = p.value(ty, slot, records.map(|_| 0));
    p.ws();
    match result {
        Ok(()) if p.i == p.b.len() => {
            Ok(Decoded { mismatches: p.explain.map(|e| e.mismatches).unwrap_or_default(), records: p.records })
        }
        _ => Err(Stop { at: p.i, too_deep: p.too_deep }),
    }
}

/// Where decoding stopped (in the explaining mode: where the text is not JSON), and whether
/// because it nests too deep.
pub(crate) struct Stop {
    pub at: usize,
    pub too_deep: bool,
}

/// The explaining mode's state: where it is, and what did not fit so far.
struct Explain {
    path: String,
    mismatches: Mismatches,
}

impl Explain {
    /// Adds `.name` or `[n]` to the path; the length to go back to.
    #[cold]
    fn enter(&mut self, step: Step<'_>) -> usize {
        let len = self.path.len();
        match step {
            Step::Field(name) => {
                if !self.path.is_empty() {
                    self.path.push('.');
                }
                self.path.push_str(name);
            }
            Step::Index(n) => {
                let _ = write!(self.path, "[{n}]");
            }
        }
        len
    }
}

/// The quick mode (`EXPLAIN` false) and the explaining mode are the same code; the mode is a
/// constant, so the quick mode carries nothing of the other.
struct Parser<'a, const EXPLAIN: bool> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
    types: &'a [NamedType],
    /// Containers open.
    depth: u32,
    /// Set when more than [`MAX_DEPTH`] would be.
    too_deep: bool,
    /// `Some` in the explaining mode.
    explain: Option<Explain>,
    /// The records path of a page, when decoding one.
    target: Option<&'a [String]>,
    records: Vec<Result<Value, BadRecord>>,
    /// The key tables of the declared type's objects, when decoding a stream of its records.
    keys: Option<&'a Keys<'a>>,
    /// Spare array items of the stream (empty unless `decode_keyed` is given some).
    spares: Spares,
}

impl<'a, const EXPLAIN: bool> Parser<'a, EXPLAIN> {
    fn new(text: &'a str, types: &'a [NamedType]) -> Parser<'a, EXPLAIN> {
        Parser {
            b: text.as_bytes(),
            text,
            i: 0,
            types,
            depth: 0,
            too_deep: false,
            explain: EXPLAIN.then(|| Explain { path: String::new(), mismatches: Mismatches::default() }),
            target: None,
            records: Vec::new(),
            keys: None,
            spares: Spares::default(),
        }
    }

    #[inline(never)]
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
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
    fn eat(&mut self, c: u8) -> DecodeResult<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Fail)
        }
    }

    fn literal(&mut self, word: &[u8]) -> DecodeResult<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Fail)
        }
    }

    /// Opens a container (its bracket is the next byte).
    #[inline]
    fn open(&mut self) -> DecodeResult<()> {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return Err(Fail);
        }
        self.depth += 1;
        self.i += 1;
        Ok(())
    }

    /// A value that does not fit: in the quick mode, a failure; in the explaining mode, the
    /// value from `start` is skipped (it must still be JSON), noted with its path, and left null.
    #[cold]
    fn mismatch(&mut self, start: usize, expected: impl FnOnce() -> String, slot: &mut Value) -> DecodeResult<()> {
        if !EXPLAIN {
            return Err(Fail);
        }
        self.i = start;
        self.skip()?;
        let found = describe(&self.text[start..self.i]);
        if let Some(e) = &mut self.explain {
            e.mismatches.push(ShapeError { path: e.path.clone(), expected: expected(), found });
        }
        *slot = Value::Null;
        Ok(())
    }

    /// Adds `.name` or `[n]` to the path (explaining mode only); the length to go back to.
    #[inline(always)]
    fn enter(&mut self, step: Step<'_>) -> usize {
        match &mut self.explain {
            Some(e) if EXPLAIN => e.enter(step),
            _ => 0,
        }
    }

    #[inline(always)]
    fn leave(&mut self, len: usize) {
        if let Some(e) = &mut self.explain.as_mut().filter(|_| EXPLAIN) {
            e.path.truncate(len);
        }
    }

    /// A value of type `declared` into `slot`. `here`: how much of the records path leads to
    /// this value (`None`: it is off the path, as every value is when no page is decoded).
    /// A `String` whose quote is the next byte, the commonest value, is read here without the
    /// call of [`Self::any_value`] (which would read it alike).
    #[inline(always)]
    fn value(&mut self, declared: &Type, slot: &mut Value, here: Option<usize>) -> DecodeResult<()> {
        if matches!(declared, Type::String) && self.b.get(self.i) == Some(&b'"') {
            return self.str_into(slot);
        }
        self.any_value(declared, slot, here)
    }

    /// A string (its quote is the next byte) into `slot`, as [`Self::any_value`] reads a
    /// `String`: in the string `slot` holds, when it holds one.
    #[inline(always)]
    fn str_into(&mut self, slot: &mut Value) -> DecodeResult<()> {
        let start = self.i + 1;
        let end = plain_run(self.b, start);
        if self.b.get(end) == Some(&b'"') {
            // Both ends are ASCII quotes, so this is a char boundary of valid UTF-8 text.
            set_str(slot, self.text.get(start..end).ok_or(Fail)?);
            self.i = end + 1;
            return Ok(());
        }
        // An escape, or not JSON: the general reading.
        let s = self.str_ref()?;
        set_str(slot, &s);
        Ok(())
    }

    /// [`Self::value`] for every type.
    // Long on purpose: one arm per declared type, each short; the dispatch is the decoder.
    fn any_value(&mut self, declared: &Type, slot: &mut Value, here: Option<usize>) -> DecodeResult<()> {
        let c = self.peek().ok_or(Fail)?;
        let start = self.i;
        // What the value must be, names and `?` seen through.
        let types = self.types;
        let (ty, nullable, named) = match declared {
            Type::Named(_) | Type::Nullable(_) => resolve(declared, types).ok_or(Fail)?,
            _ => (declared, false, None),
        };
        if nullable && c == b'n' {
            self.literal(b"null")?;
            *slot = Value::Null;
            return Ok(());
        }
        let types = self.types;
        match ty {
            Type::Named(_) | Type::Nullable(_) => return Err(Fail),
            Type::Dict(item) => return self.dict(start, item, ty, named, slot),
            Type::Json => return self.json(slot),
            Type::OneOf(u) => return self.one_of(start, c, u, slot),
            Type::String => {
                if c != b'"' {
                    return self.mismatch(start, text("String"), slot);
                }
                let s = self.str_ref()?;
                set_str(slot, &s);
            }
            Type::Union(members) => {
                if c != b'"' {
                    return self.mismatch(start, || one_of(members), slot);
                }
                let s = self.str_ref()?;
                if !members.iter().any(|m| **m == *s) {
                    return self.mismatch(start, || one_of(members), slot);
                }
                set_str(slot, &s);
            }
            Type::Int => {
                if !starts_number(c) {
                    return self.mismatch(start, text(INT), slot);
                }
                match self.number()?.parse::<i64>() {
                    Ok(n) => *slot = Value::Int(n),
                    Err(_) => return self.mismatch(start, text(INT), slot),
                }
            }
            Type::Float => {
                if !starts_number(c) {
                    return self.mismatch(start, text("Float"), slot);
                }
                // `number` has checked the text is a finite double.
                *slot = Value::Float(self.number()?.parse::<f64>().map_err(|_| Fail)?);
            }
            Type::Decimal => {
                let d = if c == b'"' {
                    let s = self.str_ref()?;
                    exact_decimal(s.trim())
                } else if starts_number(c) {
                    exact_number(self.number()?)
                } else {
                    None
                };
                match d {
                    Some(Ok(d)) => *slot = Value::Decimal(d),
                    Some(Err(Inexact)) => return self.mismatch(start, text(DECIMAL_DIGITS), slot),
                    None => return self.mismatch(start, text(DECIMAL), slot),
                }
            }
            Type::Bool => match c {
                b't' => {
                    self.literal(b"true")?;
                    *slot = Value::Bool(true);
                }
                b'f' => {
                    self.literal(b"false")?;
                    *slot = Value::Bool(false);
                }
                _ => return self.mismatch(start, text("Bool"), slot),
            },
            Type::Date => {
                let d = if c == b'"' { NaiveDate::parse_from_str(&self.str_ref()?, "%Y-%m-%d").ok() } else { None };
                match d {
                    Some(d) => *slot = Value::Date(d),
                    None => return self.mismatch(start, text(DATE), slot),
                }
            }
            Type::DateTime => {
                let t = if c == b'"' { rfc3339(&self.str_ref()?) } else { None };
                match t {
                    Some(t) => *slot = Value::DateTime(t),
                    None => return self.mismatch(start, text(DATETIME), slot),
                }
            }
            Type::Formed(base, form) => {
                // Only the declared form: a string, or a number, as the form says.
                let v = match c {
                    b'"' => crate::forms::read_text(base, form, &self.str_ref()?),
                    c if starts_number(c) => crate::forms::read_number(base, form, self.number()?),
                    _ => None,
                };
                match v {
                    Some(v) => *slot = v,
                    None => return self.mismatch(start, || crate::forms::expected(base, form), slot),
                }
            }
            Type::Array(item) => {
                if c != b'[' {
                    return self.mismatch(start, || container(named, ty, types), slot);
                }
                self.open()?;
                if here.is_some() && here == self.target.map(<[String]>::len) {
                    // The records of a page: each decoded on its own, none kept in the envelope.
                    *slot = Value::Array(Vec::new());
                    self.records_here(item)?;
                    self.depth -= 1;
                    return Ok(());
                }
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
                            items.push(self.spares.take(item));
                        }
                        let len = self.enter(Step::Index(n));
                        self.value(item, &mut items[n], None)?;
                        self.leave(len);
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
                self.spares.keep(item, items, n);
                self.depth -= 1;
            }
            Type::Object(fields) => {
                if c != b'{' {
                    return self.mismatch(start, || container(named, ty, types), slot);
                }
                self.open()?;
                // Decoded in place, in declaration order; `seen` marks the fields the text had.
                let reusable = matches!(slot, Value::Object(out)
                    if out.len() == fields.len() && out.iter().zip(fields).all(|((k, _), f)| *k == f.name));
                if !reusable {
                    *slot = Value::Object(fields.iter().map(|f| (f.name, Value::Null)).collect());
                }
                let Value::Object(out) = slot else { return Err(Fail) };
                let mut seen = Seen::new(fields.len());
                // Keys usually come in the same order record after record: without a key table,
                // try the one after the last match first.
                let table = self.keys.and_then(|k| k.get(fields));
                let mut guess = 0;
                // The field matched last (at the start: the number of fields), whose follower in
                // the last object of this type is the key expected next.
                let mut last = fields.len();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        let at = self.field_of_key(table, fields, guess, last)?;
                        match at {
                            Some(i) => {
                                // A repeated key: each must fit, the last one wins.
                                seen.set(i);
                                let on_path = match (here, self.target) {
                                    (Some(k), Some(target)) if target.get(k).is_some_and(|t| *t == *fields[i].name) => {
                                        Some(k + 1)
                                    }
                                    _ => None,
                                };
                                let len = self.enter(Step::Field(&fields[i].name));
                                self.value(&fields[i].ty, &mut out[i].1, on_path)?;
                                self.leave(len);
                                guess = i + 1;
                                last = i;
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
                self.depth -= 1;
                // Usually every field was there: one comparison says so.
                let missing = if seen.all(fields.len()) { &fields[..0] } else { &fields[..] };
                for (i, f) in missing.iter().enumerate() {
                    if !seen.get(i) {
                        // `name: T | null` may be null but never absent.
                        if f.present || !nullable_type(&f.ty, self.types) {
                            let Some(e) = &mut self.explain else { return Err(Fail) };
                            let mut path = e.path.clone();
                            if !path.is_empty() {
                                path.push('.');
                            }
                            path.push_str(&f.name);
                            e.mismatches.push(ShapeError {
                                path,
                                expected: describe_type(&f.ty, self.types),
                                found: "nothing (the field is missing)".into(),
                            });
                        }
                        out[i].1 = Value::Null;
                    }
                }
            }
        }
        Ok(())
    }

    /// The items of a page's records array (its `[` read): each is decoded on its own, quickly;
    /// one that does not fit is skipped (it must be JSON), explained on its own, and kept with
    /// its raw text. Not JSON anywhere is a failure of the page.
    fn records_here(&mut self, item: &Type) -> DecodeResult<()> {
        // A repeated records key: the last one wins, like any repeated key.
        self.records.clear();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let start = self.i;
            // Quickly, whatever the mode of the page.
            let mut quick = Parser::<false>::new(self.text, self.types);
            (quick.i, quick.depth) = (start, self.depth);
            let mut record = Value::Null;
            let fits = quick.value(item, &mut record, None).is_ok();
            let index = self.records.len();
            if fits {
                self.i = quick.i;
                self.records.push(Ok(record));
            } else {
                self.skip()?;
                let raw = &self.text[start..self.i];
                let mut partial = Value::Null;
                let result = match decode(raw, item, self.types, None, true, &mut partial) {
                    Ok(d) if d.mismatches.is_empty() => Ok(partial),
                    Ok(d) => Err(BadRecord { index, raw: raw.to_string(), mismatches: d.mismatches, partial }),
                    // Cannot happen: the text was skipped as JSON. Said, not lost.
                    Err(_) => Err(BadRecord {
                        index,
                        raw: raw.to_string(),
                        mismatches: Mismatches::one(ShapeError {
                            path: String::new(),
                            expected: describe_type(item, self.types),
                            found: "a value that could not be read".into(),
                        }),
                        partial,
                    }),
                };
                self.records.push(result);
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Fail),
            }
        }
    }

    /// The field an object's next key names, its `:` read too: by the type's key table when it
    /// has one (the key that followed field `last` in the last object first, then a search;
    /// what is found is learnt), else the field after the last match (`guess`), then a search.
    /// `None`: a key the type does not declare. The general reading's and the compiled
    /// decoder's object loops both read keys so.
    #[inline(always)]
    fn field_of_key(
        &mut self,
        table: Option<&crate::keys::KeyTable>,
        fields: &[flow_plan::Field],
        guess: usize,
        last: usize,
    ) -> DecodeResult<Option<usize>> {
        let at = match table.and_then(|t| t.expected(last, self.b, self.i)) {
            Some((f, end)) => {
                self.i = end;
                Some(f)
            }
            None => {
                let escaped;
                let key = match self.plain_key()? {
                    Some(key) => key,
                    None => {
                        escaped = self.string()?;
                        escaped.as_bytes()
                    }
                };
                let at = match (table, fields.get(guess)) {
                    (Some(table), _) => table.find(fields, key),
                    (None, Some(f)) if same(&f.name, key) => Some(guess),
                    (None, _) => fields.iter().position(|f| same(&f.name, key)),
                };
                if let (Some(table), Some(f)) = (table, at) {
                    table.learn(last, f);
                }
                at
            }
        };
        self.eat(b':')?;
        Ok(at)
    }

    /// A key's bytes as written, when it has no escapes; `None` (the key still to read, with
    /// [`Self::string`]) when it has.
    #[inline]
    fn plain_key(&mut self) -> DecodeResult<Option<&'a [u8]>> {
        self.eat(b'"')?;
        let start = self.i;
        let end = plain_run(self.b, start);
        match self.b.get(end) {
            Some(b'"') => {
                self.i = end + 1;
                Ok(Some(self.b.get(start..end).ok_or(Fail)?))
            }
            Some(b'\\') => {
                self.i = start - 1;
                Ok(None)
            }
            _ => Err(Fail),
        }
    }

    /// A string (its quote is next), borrowed when it has no escapes.
    fn str_ref(&mut self) -> DecodeResult<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let end = plain_run(self.b, start);
        match self.b.get(end) {
            Some(b'"') => {
                self.i = end + 1;
                // Both ends are ASCII quotes, so this is a char boundary of valid UTF-8 text.
                Ok(Cow::Borrowed(self.text.get(start..end).ok_or(Fail)?))
            }
            Some(b'\\') => {
                self.i = start - 1;
                self.string().map(Cow::Owned)
            }
            _ => Err(Fail),
        }
    }

    fn string(&mut self) -> DecodeResult<String> {
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
    fn hex4(&mut self) -> DecodeResult<u32> {
        let h = self.b.get(self.i..self.i + 4).ok_or(Fail)?;
        self.i += 4;
        h.iter().try_fold(0u32, |n, &c| Ok(n * 16 + char::from(c).to_digit(16).ok_or(Fail)?))
    }

    /// A JSON number's text, validated. A number beyond the range of a double is refused, as
    /// serde_json refuses it, wherever it is (even in a field that is not read).
    fn number(&mut self) -> DecodeResult<&'a str> {
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
        let mut exponent = false;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            exponent = true;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return Err(Fail);
            }
        }
        self.i = i;
        let text = &self.text[start..i];
        // Without an exponent, fewer than 309 digits is always within a double's range.
        if (exponent || text.len() > 300) && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(Fail);
        }
        Ok(text)
    }

    /// Skips one value of any shape without building it, checking it is well-formed JSON (each
    /// bracket closed by its own kind, keys as strings followed by `:`). Iterative, with the open
    /// containers as bits: nesting cannot overflow the stack.
    fn skip(&mut self) -> DecodeResult<()> {
        // Bit d of `objects` says whether the container open at depth d is an object.
        let (mut objects, mut depth) = (0u128, 0u32);
        loop {
            // A value.
            match self.peek().ok_or(Fail)? {
                open @ (b'{' | b'[') => {
                    if self.depth + depth >= MAX_DEPTH {
                        self.too_deep = true;
                        return Err(Fail);
                    }
                    self.i += 1;
                    let object = open == b'{';
                    objects = (objects & !(1 << depth)) | (u128::from(object) << depth);
                    depth += 1;
                    if self.peek() == Some(if object { b'}' } else { b']' }) {
                        self.i += 1;
                        depth -= 1;
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
                    self.number()?;
                }
            }
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

    /// Skips a string; a control character in it is malformed JSON. A string with escapes is
    /// read in full, so a bad escape is refused as JSON refuses it.
    fn skip_string(&mut self) -> DecodeResult<()> {
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

enum Step<'s> {
    Field(&'s str),
    Index(usize),
}

const INT: &str = "Int (a whole number within 64 bits)";
const DECIMAL: &str = "Decimal (a number, or a string holding one)";
const DECIMAL_DIGITS: &str = "Decimal (at most 28 significant digits, held exactly)";
const DATE: &str = "Date (\"YYYY-MM-DD\")";
const DATETIME: &str = "DateTime (RFC 3339, e.g. \"2026-01-31T09:30:00Z\")";

/// A type with its names and `?` seen through: the type, whether null fits it, and the last
/// name on the way (for messages). `None` for a name that is only an alias of itself.
fn resolve<'t>(declared: &'t Type, types: &'t [NamedType]) -> Option<(&'t Type, bool, Option<&'t str>)> {
    let (mut ty, mut nullable, mut named) = (declared, false, None);
    for _ in 0..=MAX_HOPS {
        match ty {
            Type::Named(i) => {
                let t = types.get(*i)?;
                named = Some(t.name.as_str());
                ty = &t.ty;
            }
            Type::Nullable(inner) => {
                nullable = true;
                ty = inner;
            }
            _ => return Some((ty, nullable, named)),
        }
    }
    None
}

/// A message's expected text, worked out only when a message is written.
fn text(what: &'static str) -> impl FnOnce() -> String {
    move || what.to_string()
}

fn starts_number(c: u8) -> bool {
    c == b'-' || c.is_ascii_digit()
}

fn one_of(members: &[String]) -> String {
    format!("one of {}", crate::json::quote_all(members))
}

/// An array or object type as the declaration names it.
fn container(named: Option<&str>, ty: &Type, types: &[NamedType]) -> String {
    match (named, ty) {
        (Some(name), Type::Object(_)) => format!("{name} (an object)"),
        (Some(name), _) => format!("{name} ({})", describe_type(ty, types)),
        (None, _) => describe_type(ty, types),
    }
}

/// What a JSON value is, briefly, for messages: never the whole value (records may be large),
/// and a number as it was written.
fn describe(raw: &str) -> String {
    match raw.as_bytes().first() {
        Some(b'n') => "null".into(),
        Some(b't') => "true".into(),
        Some(b'f') => "false".into(),
        Some(b'"') => match Parser::<false>::new(raw, &[]).string() {
            Ok(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
            _ => "a string".into(),
        },
        Some(b'[') => {
            let mut p = Parser::<false>::new(raw, &[]);
            p.i = 1;
            let mut n = 0;
            if p.peek() != Some(b']') {
                while p.skip().is_ok() {
                    n += 1;
                    if p.peek() != Some(b',') {
                        break;
                    }
                    p.i += 1;
                }
            }
            match n {
                0 => "an empty array".into(),
                1 => "an array of 1 item".into(),
                n => format!("an array of {n} items"),
            }
        }
        Some(b'{') => "an object".into(),
        _ if raw.len() <= 40 => format!("the number {raw}"),
        _ => format!("a number of {} characters", raw.len()),
    }
}

/// [`exact_decimal`] of a JSON number's text (already checked to be one). Most are short and
/// plain (`19.99`): at most 28 digits always fit, and `from_str_exact` reads them quickly.
#[inline]
fn exact_number(text: &str) -> Option<Result<Decimal, Inexact>> {
    // At most 28 digits, and no exponent (which `from_str_exact` refuses).
    if text.len() <= 29 {
        if let Ok(d) = Decimal::from_str_exact(text) {
            return Some(Ok(d));
        }
    }
    exact_decimal(text)
}

/// A number that a Decimal cannot hold exactly (too many digits, too large, too small).
pub(crate) struct Inexact;

/// The Decimal a number's text means, exactly: `12.50`, `-3`, `1.5e3`, `0.1E-2`, and in a
/// string also `+7`, `.5` or `007` (no `_` separators). `None`: not a number's text.
/// `Some(Err(Inexact))`: a number a Decimal cannot hold without rounding it (more than 28
/// significant digits, or beyond its range), which is refused, never rounded. Trailing zeros are
/// kept as written while they fit, dropped when only that makes the number fit.
// Long on purpose: one left-to-right pass over the number's text (sign, digits, point,
// exponent, then scale), kept together so each step sees the state the earlier ones left.
pub(crate) fn exact_decimal(text: &str) -> Option<Result<Decimal, Inexact>> {
    // The 96-bit mantissa of a Decimal.
    const MAX_MANTISSA: u128 = (1u128 << 96) - 1;
    let b = text.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    // The digits, without leading zeros and with trailing zeros counted apart: the number is
    // `mantissa * 10^zeros / 10^scale`.
    let (mut mantissa, mut zeros, mut scale, mut any, mut overflow) = (0u128, 0i64, 0i64, false, false);
    let mut digit = |d: u8, fraction: bool| {
        any = true;
        if fraction {
            scale += 1;
        }
        if d == 0 {
            if mantissa != 0 {
                zeros += 1;
            }
            return;
        }
        for _ in 0..=zeros {
            mantissa = match mantissa.checked_mul(10) {
                Some(m) if m <= MAX_MANTISSA => m,
                _ => {
                    overflow = true;
                    0
                }
            };
        }
        zeros = 0;
        mantissa += u128::from(d);
        if mantissa > MAX_MANTISSA {
            overflow = true;
        }
    };
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        digit(d - b'0', false);
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            digit(d - b'0', true);
            i += 1;
        }
    }
    if !any {
        return None;
    }
    let mut exponent = 0i64;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let sign = match b.get(i) {
            Some(b'-') => {
                i += 1;
                -1
            }
            Some(b'+') => {
                i += 1;
                1
            }
            _ => 1,
        };
        let first = i;
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            // Saturated: an exponent this large is out of range whatever the digits.
            exponent = (exponent * 10 + i64::from(d - b'0')).min(1_000_000);
            i += 1;
        }
        if i == first {
            return None;
        }
        exponent *= sign;
    }
    if i != b.len() {
        return None;
    }
    if overflow {
        return Some(Err(Inexact));
    }
    if mantissa == 0 {
        // Zero keeps its scale too (`"0.00"`), where it fits.
        let scale = u32::try_from((scale - exponent).clamp(0, 28)).unwrap_or(0);
        return Some(Ok(Decimal::new(0, scale)));
    }
    let scale = scale - exponent;
    // As written, trailing zeros and all, when that fits; else with as few zeros as it takes.
    let shifted = |m: u128, by: i64| -> Option<u128> {
        let mut m = m;
        for _ in 0..by {
            m = m.checked_mul(10).filter(|m| *m <= MAX_MANTISSA)?;
        }
        Some(m)
    };
    let (m, s) = if (0..=28).contains(&scale) && zeros <= 40 && shifted(mantissa, zeros).is_some() {
        (shifted(mantissa, zeros), scale)
    } else {
        // Without the trailing zeros: `mantissa * 10^(zeros - scale)`.
        let e = zeros - scale;
        if e >= 0 {
            (if e <= 40 { shifted(mantissa, e) } else { None }, 0)
        } else {
            (Some(mantissa), -e)
        }
    };
    match m {
        Some(m) if s <= 28 => {
            let m = i128::try_from(m).ok()?;
            let d = Decimal::try_from_i128_with_scale(if negative { -m } else { m }, u32::try_from(s).ok()?).ok()?;
            Some(Ok(d))
        }
        _ => Some(Err(Inexact)),
    }
}

/// The end of the run of plain string bytes starting at `i`: the index of the first `"`, `\\` or
/// control character, or the length. Eight bytes at a time: a byte that is a quote, a backslash
/// or below 0x20 sets its high bit in `hit`, and the lowest such byte is exact.
#[inline]
pub(crate) fn plain_run(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else { break };
        let hit = stops(u64::from_le_bytes(chunk));
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    // Fewer than eight bytes left: the last eight of the text, shifted so that byte `i` is the
    // lowest. The bytes shifted in are zeros, so they stop the run, past the end; the bytes
    // before `i` are shifted out, so what they are cannot make the lowest hit wrong.
    if i < b.len() {
        if let Some(Ok(last)) = b.len().checked_sub(8).and_then(|at| b.get(at..)).map(<[u8; 8]>::try_from) {
            let hit = stops(u64::from_le_bytes(last) >> (8 * (i + 8 - b.len())));
            return (i + (hit.trailing_zeros() / 8) as usize).min(b.len());
        }
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// The bytes of the word `x` (little-endian) that are a quote, a backslash or below 0x20, each
/// as its high bit; the lowest set bit is exact (the bits above it may be set by a borrow).
#[inline(always)]
fn stops(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    (quote.wrapping_sub(ONES) & !quote | backslash.wrapping_sub(ONES) & !backslash | x.wrapping_sub(ONES * 0x20) & !x)
        & HIGH
}

/// An RFC 3339 date-time, as chrono reads it: `2026-02-02T01:01:00Z`, the commonest form, read
/// here from its digits; every other form (offsets, fractions, lowercase, a leap second) and
/// every text this does not take is chrono's to read or refuse.
fn rfc3339(s: &str) -> Option<DateTime<chrono::FixedOffset>> {
    utc_seconds(s.as_bytes()).or_else(|| DateTime::parse_from_rfc3339(s).ok())
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly, a valid date and a time with seconds below 60; `None` for
/// anything else.
fn utc_seconds(b: &[u8]) -> Option<DateTime<chrono::FixedOffset>> {
    let b: &[u8; 20] = b.try_into().ok()?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let mut digits = [0u32; 14];
    for (d, &at) in digits.iter_mut().zip(&[0usize, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]) {
        let c = b[at];
        if !c.is_ascii_digit() {
            return None;
        }
        *d = u32::from(c - b'0');
    }
    let two = |i: usize| digits[i] * 10 + digits[i + 1];
    let year = i32::try_from(two(0) * 100 + two(2)).ok()?;
    let date = NaiveDate::from_ymd_opt(year, two(4), two(6))?;
    let time = chrono::NaiveTime::from_hms_opt(two(8), two(10), two(12))?;
    Some(date.and_time(time).and_utc().fixed_offset())
}

/// Whether a declared name is the key read: lengths first, then bytes, inline (names are short).
#[inline]
fn same(name: &str, key: &[u8]) -> bool {
    let a = name.as_bytes();
    a.len() == key.len() && a.iter().zip(key).all(|(x, y)| x == y)
}

/// Sets `slot` to the string `s`, in the string it already holds when it holds one.
pub(crate) fn set_str(slot: &mut Value, s: &str) {
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

    /// Whether all of the first `n` fields were seen (`n` as given to [`Seen::new`]).
    #[inline]
    fn all(&self, n: usize) -> bool {
        match self {
            Seen::Small(bits) => *bits == u128::MAX.checked_shr(128 - n as u32).unwrap_or(0),
            Seen::Large(v) => v.iter().all(|&b| b),
        }
    }
}

/// Whether a field of this type may be absent: `T?`, or a name for one (through any aliases).
fn nullable_type(ty: &Type, types: &[NamedType]) -> bool {
    let mut ty = ty;
    for _ in 0..=MAX_HOPS {
        match ty {
            Type::Nullable(_) => return true,
            Type::Named(i) => match types.get(*i) {
                Some(n) => ty = &n.ty,
                None => return false,
            },
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Field;

    fn decode(text: &str, ty: &Type, types: &[NamedType]) -> DecodeResult<Value> {
        let mut v = Value::Null;
        decode_into(text, ty, types, &mut v)?;
        Ok(v)
    }

    fn field(name: &str, ty: Type) -> Field {
        Field { name: name.into(), ty, optional: false, present: false }
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
                    // From every start: a tail shorter than a word is read as the text's
                    // last word, whose bytes before the start may be stops themselves.
                    for start in 0..text.len() {
                        assert_eq!(Some(plain_run(&text, start)), naive(&text, start), "{text:?} from {start}");
                    }
                }
            }
        }
    }

    /// The quick reading of `YYYY-MM-DDTHH:MM:SSZ` gives what chrono gives (the instant and the
    /// offset), takes nothing chrono refuses, and leaves every other form to chrono.
    #[test]
    fn utc_date_times_are_read_as_chrono_reads_them() {
        let texts = [
            "2026-02-02T01:01:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
            "2026-12-31T23:59:60Z",
            "2026-01-01t00:00:00Z",
            "2026-01-01T00:00:00z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00.5Z",
            "2026-01-01T00:00:00+02:00",
            "2026-01-01T00:00:00-00:00",
            "2026-1-01T00:00:00Z",
            "2026-01-01T00:00:0aZ",
            "+2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z ",
            "２026-01-01T00:00:00Z",
            "",
        ];
        let mut quick = 0;
        for t in texts {
            let chrono = DateTime::parse_from_rfc3339(t).ok();
            let mine = utc_seconds(t.as_bytes());
            if let Some(m) = mine {
                quick += 1;
                let c = chrono.unwrap_or_else(|| panic!("{t}: read quickly, refused by chrono"));
                assert_eq!((m, m.offset(), m.naive_local()), (c, c.offset(), c.naive_local()), "{t}");
            }
            assert_eq!(rfc3339(t).map(|m| (m, *m.offset())), chrono.map(|c| (c, *c.offset())), "{t}");
        }
        assert_eq!(quick, 4, "the four valid UTC texts are read quickly");
        // Every second of a day and the days of a leap year's February, against chrono.
        for s in (0..86_400).step_by(7) {
            let t = format!("2024-02-{:02}T{:02}:{:02}:{:02}Z", 1 + s % 30, s / 3600, s / 60 % 60, s % 60);
            assert_eq!(utc_seconds(t.as_bytes()), DateTime::parse_from_rfc3339(&t).ok(), "{t}");
        }
    }

    #[test]
    fn seen_says_all_only_when_every_field_was_seen() {
        for n in [0, 1, 2, 63, 64, 65, 127, 128, 129, 300] {
            let mut seen = Seen::new(n);
            assert!(seen.all(n) == (n == 0), "{n} fields, none seen");
            for i in 0..n {
                seen.set(i);
                assert_eq!(seen.all(n), i + 1 == n, "{n} fields, {} seen", i + 1);
            }
        }
        // Absent fields are still found (and refused, or left null when they may be absent).
        let ty = Type::Object(vec![field("a", Type::Int), field("b", Type::Nullable(Box::new(Type::Int)))]);
        assert!(decode(r#"{"b": 1}"#, &ty, &[]).is_err());
        let v = decode(r#"{"a": 1}"#, &ty, &[]).ok().unwrap();
        assert_eq!(v, Value::Object(vec![("a".into(), Value::Int(1)), ("b".into(), Value::Null)]));
    }

    /// `name: T | null` takes null but not absence, in both modes and in the reference, at any
    /// depth; a `T?` beside it still takes both.
    #[test]
    fn a_present_field_may_be_null_but_not_absent() {
        let nullable = |t: Type| Type::Nullable(Box::new(t));
        let present = Field { name: "closed_at".into(), ty: nullable(Type::DateTime), optional: false, present: true };
        let inner = Type::Object(vec![present.clone(), field("note", nullable(Type::String))]);
        let ty = Type::Object(vec![field("id", Type::Int), field("last", inner)]);
        let null = r#"{"id": 1, "last": {"closed_at": null}}"#;
        let v = decode(null, &ty, &[]).ok().unwrap();
        let closed = Value::Object(vec![("closed_at".into(), Value::Null), ("note".into(), Value::Null)]);
        assert_eq!(v, Value::Object(vec![("id".into(), Value::Int(1)), ("last".into(), closed)]));
        assert!(matches!(crate::oracle::decode(null, &ty, &[]), crate::oracle::Verdict::Ok(_)));
        let absent = r#"{"id": 1, "last": {"note": "x"}}"#;
        assert!(decode(absent, &ty, &[]).is_err());
        let mut slot = Value::Null;
        let explained = super::decode(absent, &ty, &[], None, true, &mut slot).ok().unwrap();
        assert_eq!(paths(&explained.mismatches), ["last.closed_at"]);
        assert_eq!(explained.mismatches.listed[0].found, "nothing (the field is missing)");
        match crate::oracle::decode(absent, &ty, &[]) {
            crate::oracle::Verdict::Shape(errors) => assert_eq!(errors, ["last.closed_at"]),
            _ => panic!("the reference took an absent `T | null` field"),
        }
    }

    /// Texts of stops and the bytes one above each stop (where a borrow would show), every
    /// start: the run ends where a byte-at-a-time scan ends, short tails included.
    #[test]
    fn plain_runs_agree_with_a_byte_scan_on_mixed_short_texts() {
        let naive = |b: &[u8], i: usize| (i..b.len()).find(|&j| b[j] == b'"' || b[j] == b'\\' || b[j] < 0x20);
        let alphabet: [u8; 8] = [b'"', b'#', b'\\', b']', 0x1f, b' ', b'!', b'a'];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..4000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 20) as usize;
            let text: Vec<u8> = (0..len).map(|k| alphabet[((seed >> (3 * k % 60)) & 7) as usize]).collect();
            for start in 0..=len {
                assert_eq!(plain_run(&text, start), naive(&text, start).unwrap_or(len), "{text:?} from {start}");
            }
        }
    }

    #[test]
    fn decimals_are_read_exactly_from_their_text() {
        let ty = Type::Object(vec![field("amount", Type::Decimal)]);
        for (text, expect) in [
            ("12345678901234567890.12345678", "12345678901234567890.12345678"),
            ("3E25", "30000000000000000000000000"),
            ("0.1", "0.1"),
            ("1.5e-3", "0.0015"),
            ("-0.10000000000000000000000001", "-0.10000000000000000000000001"),
            ("79228162514264337593543950335", "79228162514264337593543950335"),
            ("1.0000000000000000000000000000000", "1"),
            ("100e-2", "1.00"),
            ("\" 19.990 \"", "19.990"),
            ("\"0.00\"", "0.00"),
            ("\"+.5\"", "0.5"),
            ("-0", "0"),
        ] {
            let line = format!("{{\"amount\":{text}}}");
            let v = decode(&line, &ty, &[]).unwrap_or_else(|_| panic!("{line}"));
            assert_eq!(crate::encode(&v), format!("{{\"amount\":{expect}}}"));
        }
        // What a Decimal cannot hold is refused, never rounded.
        for text in [
            "79228162514264337593543950336",
            "0.12345678901234567890123456789",
            "1e-29",
            "1e29",
            "1.00000000000000000000000000001e1",
            "\"1_000\"",
            "\"1e\"",
            "\"\"",
        ] {
            assert!(decode(&format!("{{\"amount\":{text}}}"), &ty, &[]).is_err(), "{text}");
        }
    }

    /// Declared types with every kind of field: optional and nullable ones, names, a name for
    /// a name for `Decimal?`, a recursive type, a key that needs escapes.
    fn differential_types() -> (Type, Vec<NamedType>) {
        let named = |i| Type::Named(i);
        let opt = |name: &str, ty: Type| Field {
            name: name.into(),
            ty: Type::Nullable(Box::new(ty)),
            optional: true,
            present: false,
        };
        // `name: T | null`: always there, maybe null.
        let present = |name: &str, ty: Type| Field { name: name.into(), ty, optional: false, present: true };
        let types = vec![
            NamedType {
                name: "Item".into(),
                ty: Type::Object(vec![
                    field("sku", Type::String),
                    field("qty", Type::Int),
                    field("price", named(2)),
                    field("we\"ird key", Type::Nullable(Box::new(Type::Bool))),
                    present("discount", named(3)),
                ]),
            },
            NamedType {
                name: "Node".into(),
                ty: Type::Object(vec![
                    field("name", Type::String),
                    field("kids", Type::Array(Box::new(named(1)))),
                    opt("parent", named(1)),
                    opt("tag", Type::Union(vec!["a".into(), "b".into()])),
                ]),
            },
            NamedType { name: "Money".into(), ty: Type::Decimal },
            NamedType { name: "MaybeMoney".into(), ty: Type::Nullable(Box::new(named(2))) },
            NamedType { name: "Tip".into(), ty: named(3) },
        ];
        let top = Type::Object(vec![
            field("id", Type::Int),
            field("name", Type::String),
            field("score", Type::Float),
            field("ok", Type::Bool),
            field("status", Type::Union(vec!["open".into(), "closed".into()])),
            field("nick", Type::Nullable(Box::new(Type::String))),
            opt("alias", Type::String),
            present("closed_at", Type::Nullable(Box::new(Type::DateTime))),
            field("at", Type::DateTime),
            field("day", Type::Date),
            field("items", Type::Array(Box::new(named(0)))),
            field("total", named(2)),
            field("tip", named(4)),
            field("tree", named(1)),
            // A tagged union, its tag anywhere in the object, beside a scalar member.
            field(
                "pay",
                Type::OneOf(crate::OneOf {
                    variants: vec![
                        Type::Object(vec![
                            field("kind", Type::Union(vec!["card".into()])),
                            field("last4", Type::String),
                        ]),
                        Type::Object(vec![
                            field("bank", Type::Nullable(Box::new(Type::String))),
                            field("kind", Type::Union(vec!["bank".into(), "wire".into()])),
                        ]),
                        Type::Int,
                    ],
                    tag: Some("kind".into()),
                }),
            ),
            field(
                "meta",
                Type::Object(vec![field("cursor", Type::Nullable(Box::new(Type::String))), field("more", Type::Bool)]),
            ),
        ]);
        (top, types)
    }

    /// A seeded generator; `noisy` documents are given values that do not fit now and then.
    struct Rng(u64, bool);

    impl Rng {
        /// Whether to write something that does not fit here: one in `n`, in noisy documents.
        fn bad(&mut self, n: usize) -> bool {
            self.1 && self.one_in(n)
        }

        /// A pick from `good`, or now and then from `bad`.
        fn choose<'s>(&mut self, good: &[&'s str], bad: &[&'s str]) -> &'s str {
            if self.bad(3) {
                self.pick(bad)
            } else {
                self.pick(good)
            }
        }

        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn one_in(&mut self, n: usize) -> bool {
            self.below(n) == 0
        }

        fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
            from[self.below(from.len())]
        }

        fn digits(&mut self, n: usize) -> String {
            (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
        }
    }

    /// A key as JSON text, sometimes with one of its characters written as an escape.
    fn key(name: &str, rng: &mut Rng, out: &mut String) {
        let chars: Vec<char> = name.chars().collect();
        let escape = if rng.one_in(4) { Some(rng.below(chars.len().max(1))) } else { None };
        out.push('"');
        for (i, c) in chars.iter().enumerate() {
            match c {
                '"' => out.push_str("\\\""),
                c if Some(i) == escape => {
                    let _ = write!(out, "\\u{:04x}", u32::from(*c));
                }
                c => out.push(*c),
            }
        }
        out.push('"');
    }

    /// Some JSON that is not read: nested, with escapes, numbers long and short.
    fn junk(rng: &mut Rng, out: &mut String, depth: usize) {
        match rng.below(if depth > 2 { 4 } else { 6 }) {
            0 => out.push_str(rng.pick(&["null", "true", "false", "\"x\\\"\\u00e9\"", "\"\""])),
            1 => {
                let len = 1 + rng.below(40);
                let n = rng.digits(len);
                out.push_str(n.trim_start_matches('0'));
                out.push('1');
            }
            2 => out.push_str(rng.pick(&["-1.5e-3", "1E+308", "0", "-0.0", "12345678901234567890123.5"])),
            3 => out.push_str(rng.pick(&["\"]}\\\"\"", "\"\\ud83d\\ude00\"", "\"caf\u{e9}\""])),
            4 => {
                out.push('[');
                for i in 0..rng.below(3) {
                    if i > 0 {
                        out.push(',');
                    }
                    junk(rng, out, depth + 1);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..rng.below(3) {
                    if i > 0 {
                        out.push(',');
                    }
                    key(rng.pick(&["k", "items", "name", "x y"]), rng, out);
                    out.push(':');
                    junk(rng, out, depth + 1);
                }
                out.push('}');
            }
        }
    }

    /// A random decimal's text: up to 35 digits, a point anywhere, sometimes an exponent,
    /// sometimes in a string.
    fn decimal_text(rng: &mut Rng, out: &mut String) {
        let most = if rng.one_in(3) { 35 } else { 12 };
        let n = 1 + rng.below(if rng.1 { most } else { 28 });
        let digits = rng.digits(n);
        let digits = match digits.trim_start_matches('0') {
            "" => "0",
            d => d,
        };
        let mut text = if rng.one_in(3) { "-".to_string() } else { String::new() };
        let point = rng.below(digits.len() + 1);
        if point == 0 || point == digits.len() {
            text.push_str(digits);
        } else {
            text.push_str(&digits[..point]);
            text.push('.');
            text.push_str(&digits[point..]);
        }
        if rng.one_in(4) {
            let _ = write!(text, "{}{}", rng.pick(&["e", "E", "e-", "e+"]), rng.below(35));
        }
        if rng.one_in(4) {
            let _ = write!(out, "\"{}{text}{}\"", rng.pick(&["", " "]), rng.pick(&["", " "]));
        } else {
            out.push_str(&text);
        }
    }

    /// A document of type `ty` as JSON text: mostly fitting it, sometimes not (a value of
    /// another kind, a required field left out, a number too large), keys in any order, some
    /// repeated, some written with escapes, undeclared fields between them.
    fn document(ty: &Type, types: &[NamedType], rng: &mut Rng, out: &mut String, depth: usize) {
        if rng.bad(40) {
            return junk(rng, out, 3);
        }
        match ty {
            // Not among `differential_types`: decode/dicts.rs tests these on their own.
            Type::Dict(_) | Type::Json => out.push_str("{}"),
            Type::Named(i) => document(&types[*i].ty, types, rng, out, depth),
            Type::Nullable(inner) => {
                if rng.one_in(4) {
                    out.push_str("null");
                } else {
                    document(inner, types, rng, out, depth);
                }
            }
            // Short, escaped, empty; longer than a word, plain or with an escape after a plain run.
            Type::String => out.push_str(rng.pick(&[
                "\"Ann\"",
                "\"Z\\u00fcrich \\\\ x\"",
                "\"\"",
                "\"a\\nb\\t\\/\"",
                "\"Grüße aus Köln, 12 Main Street\"",
                "\"a plain run, then \\\" a quote\"",
            ])),
            Type::Union(members) => {
                let m = if rng.bad(8) { "weird" } else { &members[rng.below(members.len())] };
                let _ = write!(out, "\"{m}\"");
            }
            Type::Int => out.push_str(rng.choose(
                &["0", "-7", "42", "9223372036854775807", "-9223372036854775808", "-0"],
                &["9223372036854775808", "1.0", "2e3"],
            )),
            Type::Float => {
                out.push_str(rng.pick(&["1.5", "-2e3", "0", "3.141592653589793238462643383279", "1e-400", "7"]))
            }
            Type::Decimal => decimal_text(rng, out),
            Type::Bool => out.push_str(rng.pick(&["true", "false"])),
            Type::Date => out.push_str(rng.choose(&["\"2026-01-02\"", "\"1999-12-31\""], &["\"2026-02-30\"", "1"])),
            Type::DateTime => out.push_str(
                rng.choose(&["\"2026-01-02T03:04:05Z\"", "\"1999-12-31T23:59:59.5+01:00\""], &["\"2026-01-02\"", "{}"]),
            ),
            Type::Formed(base, _) => document(base, types, rng, out, depth),
            Type::OneOf(u) => document(&u.variants[rng.below(u.variants.len())], types, rng, out, depth),
            Type::Array(item) => {
                out.push('[');
                for i in 0..if depth > 3 { 0 } else { rng.below(4) } {
                    if i > 0 {
                        out.push(',');
                    }
                    document(item, types, rng, out, depth + 1);
                }
                out.push(']');
            }
            Type::Object(fields) => {
                let mut order: Vec<usize> = (0..fields.len()).collect();
                if rng.one_in(3) {
                    for i in (1..order.len()).rev() {
                        order.swap(i, rng.below(i + 1));
                    }
                }
                out.push('{');
                let mut first = true;
                let mut comma = |out: &mut String| {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                };
                for i in order {
                    let f = &fields[i];
                    let nullable = nullable_type(&f.ty, types) && !f.present;
                    if (nullable && rng.one_in(3))
                        || rng.bad(60)
                        || (f.present && rng.bad(8))
                        || (depth > 3 && nullable)
                    {
                        continue;
                    }
                    if rng.one_in(5) {
                        comma(out);
                        key(rng.pick(&["extra", "x", "n\u{e9}"]), rng, out);
                        out.push(':');
                        junk(rng, out, 0);
                    }
                    for _ in 0..if rng.one_in(25) { 2 } else { 1 } {
                        comma(out);
                        key(&f.name, rng, out);
                        out.push(':');
                        document(&f.ty, types, rng, out, depth + 1);
                    }
                }
                out.push('}');
            }
        }
    }

    /// A few bytes changed, inserted or removed: mostly no longer JSON.
    fn mutate(text: &str, rng: &mut Rng) -> Option<String> {
        let alphabet: &[u8] = b"{}[],:\"\\ nulltrfaseE0123456789.-+xu\t\n\x01";
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..1 + rng.below(2) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(3) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                _ if at < bytes.len() => bytes[at] = alphabet[rng.below(alphabet.len())],
                _ => {}
            }
        }
        String::from_utf8(bytes).ok()
    }

    fn paths(m: &Mismatches) -> Vec<String> {
        m.listed.iter().map(|e| e.path.clone()).collect()
    }

    /// What the reference lists, as the decoder lists it: the first ten, and how many in all.
    fn bounded(all: &[String]) -> (Vec<String>, usize) {
        (all.iter().take(Mismatches::LISTED).cloned().collect(), all.len())
    }

    /// Both ways: what the decoder accepts the reference accepts with exactly the same value,
    /// and what the reference accepts the decoder accepts alike; what either finds does not fit,
    /// the other finds does not fit at the same paths; what either finds is not JSON, so does
    /// the other. Values are compared with `==`: a Decimal exactly, never through a double.
    /// The quick mode, decoding each document into the slot of the one before, agrees too.
    #[test]
    fn the_decoder_and_the_reference_agree_both_ways() {
        use crate::oracle::{decode as reference, Verdict};
        let (ty, types) = differential_types();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d, false);
        let (mut ok, mut shape, mut syntax, mut escaped, mut refused_decimals) = (0, 0, 0, 0, 0);
        let mut slot = Value::Null;
        // The quick mode with key tables (as `flowc map` decodes) agrees with it without them.
        let keys = crate::keys::Keys::new(&ty, &types);
        // With the stream's spare array items too, as `flowc map` decodes.
        let mut spares = Spares::default();
        let mut keyed_slot = Value::Null;
        for round in 0..12_000 {
            rng.1 = round % 2 == 1;
            let mut text = String::new();
            document(&ty, &types, &mut rng, &mut text, 0);
            if round % 3 == 0 {
                match mutate(&text, &mut rng) {
                    Some(t) => text = t,
                    None => continue,
                }
            }
            let quick = decode_into(&text, &ty, &types, &mut slot).is_ok();
            let keyed = decode_keyed(&text, &ty, &types, Some(&keys), Some(&mut spares), &mut keyed_slot).is_ok();
            assert_eq!(keyed, quick, "with key tables: {text}");
            if keyed {
                assert_eq!(keyed_slot, slot, "with key tables: {text}");
            }
            match (crate::decode_text(&text, &ty, &types), reference(&text, &ty, &types)) {
                (Ok(v), Verdict::Ok(w)) => {
                    assert_eq!(v, w, "{text}");
                    assert!(quick, "the quick mode refused what fits: {text}");
                    assert_eq!(slot, v, "{text}");
                    ok += 1;
                    escaped += usize::from(text.contains("\\u00"));
                }
                (Err(crate::TextError::Shape(m)), Verdict::Shape(all)) => {
                    assert_eq!((paths(&m), m.count()), bounded(&all), "{text}");
                    assert!(!quick, "{text}");
                    shape += 1;
                    refused_decimals += usize::from(m.listed.iter().any(|e| e.expected.contains("28 significant")));
                }
                (Err(crate::TextError::Syntax(_)), Verdict::Syntax) => {
                    assert!(!quick, "{text}");
                    syntax += 1;
                }
                (mine, theirs) => panic!("{text}\n  decoder:   {mine:?}\n  reference: {theirs:?}"),
            }
        }
        assert!(
            ok > 2_000 && shape > 3_000 && syntax > 1_500,
            "too few of a kind: {ok} ok, {shape} shape, {syntax} syntax"
        );
        assert!(escaped > 200 && refused_decimals > 100, "{escaped} escaped, {refused_decimals} refused decimals");
    }

    /// Pages: the envelope and each record, against the reference reading the same tree, both
    /// ways; a record that does not fit is kept with its raw text, which the reference refuses
    /// at the same paths.
    #[test]
    fn pages_split_into_records_agree_with_the_reference_both_ways() {
        use crate::oracle::{decode as reference, decode_page as reference_page, PageVerdict, Verdict};
        let (record, mut types) = differential_types();
        types.push(NamedType { name: "Record".into(), ty: record });
        let record = Type::Named(types.len() - 1);
        let envelope = Type::Object(vec![
            field(
                "data",
                Type::Nullable(Box::new(Type::Object(vec![field("items", Type::Array(Box::new(record.clone())))]))),
            ),
            field("next", Type::Nullable(Box::new(Type::String))),
            field("total", Type::Int),
        ]);
        let root = Type::Array(Box::new(record.clone()));
        let path = vec!["data".to_string(), "items".to_string()];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15, false);
        let (mut kept, mut bad, mut failed) = (0, 0, 0);
        for round in 0..3_000 {
            rng.1 = round % 3 != 0;
            let (ty, records): (&Type, &[String]) = if round % 4 == 0 { (&root, &[]) } else { (&envelope, &path) };
            let mut text = String::new();
            document(ty, &types, &mut rng, &mut text, 0);
            if round % 5 == 0 {
                match mutate(&text, &mut rng) {
                    Some(t) => text = t,
                    None => continue,
                }
            }
            match (crate::decode_page(&text, ty, &types, records), reference_page(&text, ty, &types, records)) {
                (Ok(page), PageVerdict::Ok(env, recs)) => {
                    assert_eq!(page.envelope, env, "{text}");
                    assert_eq!(page.records.len(), recs.len(), "{text}");
                    for (i, (mine, theirs)) in page.records.iter().zip(&recs).enumerate() {
                        match (mine, theirs) {
                            (Ok(v), Ok(w)) => {
                                assert_eq!(v, w, "{text}");
                                kept += 1;
                            }
                            (Err(b), Err(all)) => {
                                assert_eq!(b.index, i);
                                assert_eq!((paths(&b.mismatches), b.mismatches.count()), bounded(all), "{text}");
                                assert_eq!(
                                    reference(&b.raw, &record, &types),
                                    Verdict::Shape(all.clone()),
                                    "{}",
                                    b.raw
                                );
                                bad += 1;
                            }
                            (mine, theirs) => panic!("{text}\n  record {i}: {mine:?}\n  reference: {theirs:?}"),
                        }
                    }
                }
                (Err(crate::TextError::Shape(m)), PageVerdict::Shape(all)) => {
                    assert_eq!((paths(&m), m.count()), bounded(&all), "{text}");
                    failed += 1;
                }
                (Err(crate::TextError::Syntax(_)), PageVerdict::Syntax) => failed += 1,
                (mine, theirs) => panic!("{text}\n  decoder:   {mine:?}\n  reference: {theirs:?}"),
            }
        }
        assert!(kept > 500 && bad > 800 && failed > 600, "{kept} kept, {bad} bad, {failed} failed");
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
