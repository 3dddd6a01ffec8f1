//! Decoding dictionaries (`{ [String]: T }`) and `Json`, as arms of the one decoder.
//!
//! A dictionary keeps every key of the object in the order it came, each value decoded against
//! the value type; a repeated key must fit each time and the last value wins, at the first
//! one's place (as a repeated declared field does). `Json` takes any value, checked to be JSON,
//! and keeps its text with the whitespace between tokens left out: numbers and escapes stay
//! exactly as they were written.

use std::collections::HashMap;

use super::{container, DecodeResult, Fail, Parser, Step};
use crate::{Type, Value};

/// Past this many keys, repeated keys are found through an index instead of a scan.
const SCAN: usize = 16;

impl<const EXPLAIN: bool> Parser<'_, EXPLAIN> {
    /// A dictionary of `item`s (`declared`: the dictionary's type, `named` its name if any).
    pub(super) fn dict(
        &mut self,
        start: usize,
        item: &Type,
        declared: &Type,
        named: Option<&str>,
        slot: &mut Value,
    ) -> DecodeResult<()> {
        if self.peek() != Some(b'{') {
            let types = self.types;
            return self.mismatch(start, || container(named, declared, types), slot);
        }
        self.open()?;
        if !matches!(slot, Value::Dict(_)) {
            *slot = Value::Dict(Vec::new());
        }
        let Value::Dict(entries) = slot else { return Err(Fail) };
        // `entries[..n]` are this object's so far; the rest are buffers of a previous record.
        let mut n = 0;
        let mut index: Option<HashMap<String, usize>> = None;
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                let key = self.string()?;
                self.eat(b':')?;
                let at = match &index {
                    Some(index) => index.get(&key).copied(),
                    None => entries[..n].iter().position(|(k, _)| *k == key),
                };
                let len = self.enter(Step::Field(&key));
                let at = match at {
                    Some(at) => at,
                    None => {
                        if let Some(index) = &mut index {
                            index.insert(key.clone(), n);
                        }
                        if n == entries.len() {
                            entries.push((key, Value::Null));
                        } else {
                            entries[n].0 = key;
                        }
                        n += 1;
                        if n == SCAN && index.is_none() {
                            index = Some(entries[..n].iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
                        }
                        n - 1
                    }
                };
                self.value(item, &mut entries[at].1, None)?;
                self.leave(len);
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
        entries.truncate(n);
        self.depth -= 1;
        Ok(())
    }

    /// Any JSON value, kept as its text.
    pub(super) fn json(&mut self, slot: &mut Value) -> DecodeResult<()> {
        self.peek();
        let start = self.i;
        self.skip()?;
        *slot = Value::Json(compact(&self.text[start..self.i]).into());
        Ok(())
    }
}

/// JSON text (checked) without the whitespace between its tokens.
pub(crate) fn compact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}
