//! Decoding a union (`Card | BankAccount`, `String | Customer`), as an arm of the one decoder.
//!
//! The member is picked from the data before anything is built: by the kind of JSON value, and
//! among object members by the tag, read ahead in the object (skipped over, then read again as
//! the member picked). The checker admits only unions where this is never in doubt. A value no
//! member takes is one mismatch at its path that names, for each member, its first mismatch.

use super::{decode, DecodeResult, Fail, Parser};
use crate::json::{describe_type, ShapeError};
use crate::{Key, Kind, OneOf, Type, Value};

impl<const EXPLAIN: bool> Parser<'_, EXPLAIN> {
    /// A value of one of `u`'s members (its first byte `c` at `start`).
    pub(super) fn one_of(&mut self, start: usize, c: u8, u: &OneOf, slot: &mut Value) -> DecodeResult<()> {
        let kind = Kind::of_byte(c);
        let tag = match (&u.tag, kind) {
            (Some(name), Kind::Object) => self.tag_ahead(*name)?,
            _ => None,
        };
        let types = self.types;
        match u.pick(kind, tag.as_deref(), types) {
            Some(member) => self.value(member, slot, None),
            None => self.fits_none(start, u, slot),
        }
    }

    /// The string value of the object's `tag` key (the object's `{` next), without moving on;
    /// `None` when it has none or it is not a string.
    fn tag_ahead(&mut self, tag: Key) -> DecodeResult<Option<String>> {
        let (at, depth) = (self.i, self.depth);
        let found = self.find_tag(tag);
        (self.i, self.depth) = (at, depth);
        found
    }

    fn find_tag(&mut self, tag: Key) -> DecodeResult<Option<String>> {
        self.open()?;
        if self.peek() == Some(b'}') {
            return Ok(None);
        }
        let mut found = None;
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            if key == *tag {
                // A repeated key: the last one wins, as when the object is read.
                found = if self.peek() == Some(b'"') { Some(self.string()?) } else { None };
                if found.is_none() {
                    self.skip()?;
                }
            } else {
                self.skip()?;
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => return Ok(found),
                _ => return Err(Fail),
            }
        }
    }

    /// No member takes the value at `start`: in the quick mode a failure; in the explaining
    /// mode one mismatch naming each member's first.
    #[cold]
    fn fits_none(&mut self, start: usize, u: &OneOf, slot: &mut Value) -> DecodeResult<()> {
        if !EXPLAIN {
            return Err(Fail);
        }
        self.i = start;
        self.skip()?;
        let raw = &self.text[start..self.i];
        let types = self.types;
        let mut why = Vec::new();
        for member in &u.variants {
            let name = describe_member(u, member, types);
            let mut scratch = Value::Null;
            let first = match decode(raw, member, types, None, true, &mut scratch) {
                Ok(d) => d.mismatches.listed.first().cloned(),
                Err(_) => None,
            };
            why.push(match first {
                Some(m) if m.path.is_empty() => format!("as {name}: expected {}, found {}", m.expected, m.found),
                Some(m) => format!("as {name}: at `{}`: expected {}, found {}", m.path, m.expected, m.found),
                None => format!("as {name}: it does not fit"),
            });
        }
        let found = format!("{}, which fits no member ({})", super::describe(raw), why.join("; "));
        if let Some(e) = &mut self.explain {
            e.mismatches.push(ShapeError { path: e.path.clone(), expected: describe_union(u, types), found });
        }
        *slot = Value::Null;
        Ok(())
    }
}

/// `one of Card, BankAccount`.
pub(crate) fn describe_union(u: &OneOf, types: &[crate::NamedType]) -> String {
    let names: Vec<String> = u.variants.iter().map(|v| describe_member(u, v, types)).collect();
    format!("one of {}", names.join(", "))
}

/// A member by its name, or an inline object by its tag (`an object with object: "card"`).
fn describe_member(u: &OneOf, member: &Type, types: &[crate::NamedType]) -> String {
    match (member, &u.tag) {
        (Type::Object(_), Some(tag)) => match flow_plan::tag_values(member, tag, types) {
            Some(values) => format!("an object with {tag}: {}", crate::json::quote_all(values)),
            None => describe_type(member, types),
        },
        _ => describe_type(member, types),
    }
}
