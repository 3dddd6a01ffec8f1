//! The reference the one-pass decoder (`decode.rs`) is tested against, written apart from it and
//! as plainly as possible: serde_json says what is JSON and reads the text into a tree whose
//! numbers stay their text (through `RawValue`), and a recursive function reads that tree against
//! the declared type. A Decimal is worked out from the digits as text and handed to
//! `Decimal::from_str_exact`, so neither side's arithmetic checks itself. Slow, test-only.

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::{NamedType, Type, Value};

/// A JSON document with its numbers as written and its keys in order, repeats kept.
#[derive(Debug)]
pub(crate) enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// What the reference makes of a document.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    Ok(Value),
    /// Not JSON.
    Syntax,
    /// The path of every mismatch, in the order of the text.
    Shape(Vec<String>),
}

/// What the reference makes of a page: the envelope's verdict, and each record's.
#[derive(Debug, PartialEq)]
pub(crate) enum PageVerdict {
    Ok(Value, Vec<Result<Value, Vec<String>>>),
    Syntax,
    Shape(Vec<String>),
}

pub(crate) fn tree(text: &str) -> Option<J> {
    serde_json::from_str::<serde_json::Value>(text).ok()?;
    Some(build(text))
}

fn build(raw: &str) -> J {
    let t = raw.trim_matches([' ', '\t', '\n', '\r']);
    match t.as_bytes().first() {
        Some(b'n') => J::Null,
        Some(b't') => J::Bool(true),
        Some(b'f') => J::Bool(false),
        Some(b'"') => J::Str(serde_json::from_str(t).expect("a string")),
        Some(b'[') => J::Arr(
            serde_json::from_str::<Vec<&RawValue>>(t).expect("an array").into_iter().map(|r| build(r.get())).collect(),
        ),
        Some(b'{') => J::Obj(
            serde_json::from_str::<Entries<'_>>(t)
                .expect("an object")
                .0
                .into_iter()
                .map(|(k, r)| (k, build(r.get())))
                .collect(),
        ),
        _ => J::Num(t.to_string()),
    }
}

/// An object's entries in order, repeated keys kept.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entries<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

pub(crate) fn decode(text: &str, ty: &Type, types: &[NamedType]) -> Verdict {
    let Some(j) = tree(text) else { return Verdict::Syntax };
    let mut errors = Vec::new();
    let v = read(&j, ty, types, "", &mut errors, None);
    if errors.is_empty() {
        Verdict::Ok(v)
    } else {
        Verdict::Shape(errors)
    }
}

pub(crate) fn decode_page(text: &str, ty: &Type, types: &[NamedType], records: &[String]) -> PageVerdict {
    let Some(j) = tree(text) else { return PageVerdict::Syntax };
    let mut errors = Vec::new();
    let mut found = Vec::new();
    let v = read(&j, ty, types, "", &mut errors, Some((records, &mut found)));
    if errors.is_empty() {
        PageVerdict::Ok(v, found)
    } else {
        PageVerdict::Shape(errors)
    }
}

type Records<'r, 'p> = Option<(&'p [String], &'r mut Vec<Result<Value, Vec<String>>>)>;

fn resolve<'t>(ty: &'t Type, types: &'t [NamedType]) -> (&'t Type, bool) {
    match ty {
        Type::Named(i) => resolve(&types[*i].ty, types),
        Type::Nullable(t) => (resolve(t, types).0, true),
        t => (t, false),
    }
}

fn read(
    j: &J,
    ty: &Type,
    types: &[NamedType],
    path: &str,
    errors: &mut Vec<String>,
    records: Records<'_, '_>,
) -> Value {
    let (ty, nullable) = resolve(ty, types);
    let mut bad = || {
        errors.push(path.to_string());
        Value::Null
    };
    match (ty, j) {
        (_, J::Null) if nullable => Value::Null,
        (Type::String, J::Str(s)) => Value::Str(s.clone()),
        (Type::Union(m), J::Str(s)) if m.contains(s) => Value::Str(s.clone()),
        (Type::Int, J::Num(t)) if !t.contains(['.', 'e', 'E']) => t.parse().map_or_else(|_| bad(), Value::Int),
        (Type::Float, J::Num(t)) => Value::Float(t.parse().expect("a finite number")),
        (Type::Decimal, J::Num(t)) => decimal(t).map_or_else(bad, Value::Decimal),
        (Type::Decimal, J::Str(s)) => decimal(s.trim()).map_or_else(bad, Value::Decimal),
        (Type::OneOf(u), j) => match member(u, j, types) {
            Some(m) => read(j, m, types, path, errors, None),
            None => bad(),
        },
        (Type::Bool, J::Bool(b)) => Value::Bool(*b),
        (Type::Date, J::Str(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_or_else(|_| bad(), Value::Date),
        (Type::DateTime, J::Str(s)) => DateTime::parse_from_rfc3339(s).map_or_else(|_| bad(), Value::DateTime),
        (Type::Array(item), J::Arr(items)) => match records {
            Some(([], found)) => {
                // A repeated records key: the last one wins, like any repeated key.
                found.clear();
                for it in items {
                    let mut errs = Vec::new();
                    let v = read(it, item, types, "", &mut errs, None);
                    found.push(if errs.is_empty() { Ok(v) } else { Err(errs) });
                }
                Value::Array(Vec::new())
            }
            _ => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(n, it)| read(it, item, types, &format!("{path}[{n}]"), errors, None))
                    .collect(),
            ),
        },
        (Type::Object(fields), J::Obj(entries)) => {
            let mut out: Vec<(crate::Key, Value)> = fields.iter().map(|f| (f.name, Value::Null)).collect();
            let mut seen = vec![false; fields.len()];
            let mut records = records;
            for (k, v) in entries {
                let Some(i) = fields.iter().position(|f| *f.name == **k) else { continue };
                seen[i] = true;
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let on_path = match &mut records {
                    Some((target, found)) if target.first() == Some(k) => Some((&target[1..], &mut **found)),
                    _ => None,
                };
                out[i].1 = read(v, &fields[i].ty, types, &sub, errors, on_path);
            }
            for (i, f) in fields.iter().enumerate() {
                if !seen[i] && (f.present || !resolve(&f.ty, types).1) {
                    errors.push(if path.is_empty() { f.name.to_string() } else { format!("{path}.{}", f.name) });
                }
            }
            Value::Object(out)
        }
        _ => bad(),
    }
}

/// The member of a union a JSON value is, worked out plainly: the members that take its kind,
/// and among objects the one whose tag field holds the value's tag (the last one, if repeated).
fn member<'t>(u: &'t crate::OneOf, j: &J, types: &'t [NamedType]) -> Option<&'t Type> {
    let kind = match j {
        J::Null => crate::Kind::Null,
        J::Bool(_) => crate::Kind::Bool,
        J::Num(_) => crate::Kind::Number,
        J::Str(_) => crate::Kind::String,
        J::Arr(_) => crate::Kind::Array,
        J::Obj(_) => crate::Kind::Object,
    };
    let takers: Vec<&Type> = u.variants.iter().filter(|v| flow_plan::kinds(v, types).contains(&kind)).collect();
    match (&u.tag, j) {
        (Some(tag), J::Obj(entries)) => {
            let value = entries.iter().rev().find(|(k, _)| *k == **tag).and_then(|(_, v)| match v {
                J::Str(s) => Some(s),
                _ => None,
            })?;
            takers.into_iter().find(|v| flow_plan::tag_values(v, tag, types).is_some_and(|vals| vals.contains(value)))
        }
        _ => takers.into_iter().next(),
    }
}

/// A number's text as a Decimal: the point moved by the exponent in the text itself, zeros
/// trimmed, then `from_str_exact`, which refuses what it cannot hold.
pub(crate) fn decimal(t: &str) -> Option<Decimal> {
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{int}{frac}");
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if digits.bytes().all(|c| c == b'0') {
        return Some(Decimal::ZERO);
    }
    if exponent.abs() > 10_000 {
        return None;
    }
    let point = int.len() as i64 + exponent;
    let plain = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    };
    let plain = if plain.contains('.') { plain.trim_end_matches('0').trim_end_matches('.') } else { &plain };
    let plain = plain.trim_start_matches('0');
    let plain = if plain.is_empty() || plain.starts_with('.') { format!("0{plain}") } else { plain.to_string() };
    Decimal::from_str_exact(&format!("{}{plain}", if negative { "-" } else { "" })).ok()
}
