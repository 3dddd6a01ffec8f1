//! JSON in and out. Decoding checks a JSON document against a declared type and keeps only the
//! declared fields; a mismatch names the path of the field. Encoding writes JSON text directly,
//! so Decimal values stay exact.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;

use crate::{NamedType, Type, Value};

/// A JSON value that does not have the declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Where, from the document's root: `orders[3].customer.email`.
    pub path: String,
    pub expected: String,
    pub found: String,
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.path.is_empty() { "the document" } else { &self.path };
        write!(f, "at `{at}`: expected {}, found {}", self.expected, self.found)
    }
}

/// Decodes `json` as a value of type `ty`.
pub fn decode(json: &serde_json::Value, ty: &Type, types: &[NamedType]) -> Result<Value, ShapeError> {
    let mut path = String::new();
    decode_at(json, ty, types, &mut path, 0)
}

/// Why a line of JSON text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// Not JSON at all.
    Syntax(String),
    /// JSON, but not of the declared type.
    Shape(ShapeError),
}

/// Decodes JSON text as a value of type `ty`, in one pass over the text (no intermediate tree).
/// When the text does not fit, it is decoded again the slow way to say exactly where.
pub fn decode_text(text: &str, ty: &Type, types: &[NamedType]) -> Result<Value, TextError> {
    let mut v = Value::Null;
    decode_text_into(text, ty, types, &mut v)?;
    Ok(v)
}

/// [`decode_text`] into `slot`, reusing the strings, arrays and objects it holds (a stream of
/// records of one type allocates little after the first). On error `slot` holds part of a record.
pub fn decode_text_into(text: &str, ty: &Type, types: &[NamedType], slot: &mut Value) -> Result<(), TextError> {
    match crate::fast::decode_into(text, ty, types, slot) {
        Ok(()) => Ok(()),
        Err(crate::fast::Fail) => {
            let json: serde_json::Value = serde_json::from_str(text).map_err(|e| TextError::Syntax(e.to_string()))?;
            *slot = decode(&json, ty, types).map_err(TextError::Shape)?;
            Ok(())
        }
    }
}

/// Named types can refer to themselves; a document deeper than this is refused, not recursed into.
const MAX_DECODE_DEPTH: usize = 128;

fn decode_at(
    json: &serde_json::Value,
    ty: &Type,
    types: &[NamedType],
    path: &mut String,
    depth: usize,
) -> Result<Value, ShapeError> {
    use serde_json::Value as J;
    let fail = |path: &String, expected: &str| ShapeError {
        path: path.clone(),
        expected: expected.to_string(),
        found: describe(json),
    };
    if depth > MAX_DECODE_DEPTH {
        return Err(fail(path, "a document at most 128 levels deep"));
    }
    Ok(match (ty, json) {
        (Type::Nullable(_), J::Null) => Value::Null,
        (Type::Nullable(inner), _) => decode_at(json, inner, types, path, depth)?,
        (Type::Named(i), _) => match types.get(*i) {
            Some(named) => decode_at(json, &named.ty, types, path, depth + 1)?,
            None => return Err(fail(path, "a declared type")),
        },
        (Type::String, J::String(s)) => Value::Str(s.clone()),
        (Type::Int, J::Number(n)) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => return Err(fail(path, "Int (a whole number within 64 bits)")),
        },
        (Type::Float, J::Number(n)) => match n.as_f64() {
            Some(f) => Value::Float(f),
            None => return Err(fail(path, "Float")),
        },
        // Money often arrives as a string ("19.99"); both forms are exact here.
        (Type::Decimal, J::Number(n)) => match parse_decimal(&n.to_string()) {
            Some(d) => Value::Decimal(d),
            None => return Err(fail(path, "Decimal (at most 28 significant digits)")),
        },
        (Type::Decimal, J::String(s)) => match parse_decimal(s.trim()) {
            Some(d) => Value::Decimal(d),
            None => return Err(fail(path, "Decimal (a number, or a string holding one)")),
        },
        (Type::Bool, J::Bool(b)) => Value::Bool(*b),
        (Type::Date, J::String(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Value::Date(d),
            Err(_) => return Err(fail(path, "Date (\"YYYY-MM-DD\")")),
        },
        (Type::DateTime, J::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Value::DateTime(t),
            Err(_) => return Err(fail(path, "DateTime (RFC 3339, e.g. \"2026-01-31T09:30:00Z\")")),
        },
        (Type::Union(members), J::String(s)) => {
            if members.iter().any(|m| m == s) {
                Value::Str(s.clone())
            } else {
                return Err(fail(path, &format!("one of {}", quote_all(members))));
            }
        }
        (Type::Array(item), J::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            let len = path.len();
            for (i, j) in items.iter().enumerate() {
                let _ = write!(path, "[{i}]");
                out.push(decode_at(j, item, types, path, depth + 1)?);
                path.truncate(len);
            }
            Value::Array(out)
        }
        (Type::Object(fields), J::Object(map)) => {
            let mut out = Vec::with_capacity(fields.len());
            let len = path.len();
            for f in fields {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&f.name);
                let v = match map.get(&*f.name) {
                    Some(j) => decode_at(j, &f.ty, types, path, depth + 1)?,
                    None if is_nullable(&f.ty, types) => Value::Null,
                    None => {
                        return Err(ShapeError {
                            path: path.clone(),
                            expected: describe_type(&f.ty, types),
                            found: "nothing (the field is missing)".into(),
                        })
                    }
                };
                path.truncate(len);
                out.push((f.name, v));
            }
            Value::Object(out)
        }
        _ => return Err(fail(path, &describe_type(ty, types))),
    })
}

fn parse_decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str_exact(text).ok().or_else(|| Decimal::from_scientific(text).ok())
}

fn is_nullable(ty: &Type, types: &[NamedType]) -> bool {
    match ty {
        Type::Nullable(_) => true,
        Type::Named(i) => types.get(*i).is_some_and(|n| matches!(n.ty, Type::Nullable(_))),
        _ => false,
    }
}

fn quote_all(members: &[String]) -> String {
    members.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join(" | ")
}

/// A type as a user wrote it, for messages.
pub fn describe_type(ty: &Type, types: &[NamedType]) -> String {
    match ty {
        Type::String => "String".into(),
        Type::Int => "Int".into(),
        Type::Float => "Float".into(),
        Type::Decimal => "Decimal".into(),
        Type::Bool => "Bool".into(),
        Type::Date => "Date".into(),
        Type::DateTime => "DateTime".into(),
        Type::Union(m) => quote_all(m),
        Type::Array(t) => format!("[{}]", describe_type(t, types)),
        Type::Object(_) => "an object".into(),
        Type::Named(i) => types.get(*i).map_or_else(|| "?".into(), |n| n.name.clone()),
        Type::Nullable(t) => format!("{}?", describe_type(t, types)),
    }
}

/// What a JSON value is, briefly, for messages. Never the whole value: records may be large.
fn describe(json: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match json {
        J::Null => "null".into(),
        J::Bool(b) => format!("{b}"),
        J::Number(n) => format!("the number {n}"),
        J::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        J::String(_) => "a string".into(),
        J::Array(a) => format!("an array of {} items", a.len()),
        J::Object(_) => "an object".into(),
    }
}

/// Encodes a value as JSON text.
pub fn encode(value: &Value) -> String {
    let mut out = String::new();
    encode_to(value, &mut out);
    out
}

/// Appends a value's JSON text to `out`.
/// A Decimal as its shortest exact text (`12.5`, `-0.05`, `3`), as its `Display` writes it
/// normalized, without going through the formatting machinery.
fn decimal(d: &rust_decimal::Decimal, out: &mut String) {
    let d = d.normalize();
    let m = d.mantissa();
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(m.unsigned_abs());
    let scale = d.scale() as usize;
    if m < 0 {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(digits);
    }
}

pub fn encode_to(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
        // Non-finite floats are refused by the evaluator; null is a safe fallback, not a path.
        Value::Float(f) if !f.is_finite() => out.push_str("null"),
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Decimal(d) => decimal(d, out),
        Value::Str(s) => string(s, out),
        Value::Date(_) | Value::DateTime(_) => string(&value.to_text(), out),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_to(v, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(k, out);
                out.push(':');
                encode_to(v, out);
            }
            out.push('}');
        }
    }
}

/// `"name":` for an object key.
pub(crate) fn encode_key(name: &str, out: &mut String) {
    string(name, out);
    out.push(':');
}

pub(crate) fn string(s: &str, out: &mut String) {
    out.push('"');
    // Copy runs of bytes that need no escape at once; escapes are all ASCII, so every cut is at
    // a character boundary.
    let bytes = s.as_bytes();
    // Most strings need no escape at all: one quick pass, eight bytes at a time, says so.
    if crate::fast::plain_run(bytes, 0) == bytes.len() {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Field;
    use serde_json::json;

    fn order_type() -> Type {
        Type::Object(vec![
            Field { optional: false, name: "id".into(), ty: Type::Int },
            Field { optional: false, name: "email".into(), ty: Type::Nullable(Box::new(Type::String)) },
            Field { optional: false, name: "total".into(), ty: Type::Decimal },
            Field { optional: false, name: "status".into(), ty: Type::Union(vec!["open".into(), "closed".into()]) },
            Field {
                optional: false,
                name: "items".into(),
                ty: Type::Array(Box::new(Type::Object(vec![Field {
                    optional: false,
                    name: "sku".into(),
                    ty: Type::String,
                }]))),
            },
        ])
    }

    #[test]
    fn decodes_declared_fields_only_and_keeps_decimals_exact() {
        let j = json!({"id": 7, "total": "1234.10", "status": "open", "items": [{"sku": "A", "x": 1}], "extra": true});
        let v = decode(&j, &order_type(), &[]).unwrap();
        assert_eq!(v.get("email"), Some(&Value::Null));
        assert_eq!(v.get("extra"), None);
        assert_eq!(encode(&v), r#"{"id":7,"email":null,"total":1234.1,"status":"open","items":[{"sku":"A"}]}"#);
        let j = json!({"id": 7, "total": 0.1, "status": "open", "items": []});
        let v = decode(&j, &order_type(), &[]).unwrap();
        assert_eq!(v.get("total"), Some(&Value::Decimal(Decimal::new(1, 1))));
    }

    #[test]
    fn shape_errors_name_the_path() {
        let j = json!({"id": 7, "total": 1, "status": "open", "items": [{"sku": "A"}, {"sku": 5}]});
        let e = decode(&j, &order_type(), &[]).unwrap_err();
        assert_eq!(e.to_string(), "at `items[1].sku`: expected String, found the number 5");
        let j = json!({"id": 7, "total": 1, "items": []});
        let e = decode(&j, &order_type(), &[]).unwrap_err();
        assert_eq!(e.path, "status");
        assert!(e.found.contains("missing"));
        let j = json!({"id": 7, "total": 1, "status": "weird", "items": []});
        let e = decode(&j, &order_type(), &[]).unwrap_err();
        assert_eq!(e.expected, "one of \"open\" | \"closed\"");
        let e = decode(&json!({"id": 1.5}), &order_type(), &[]).unwrap_err();
        assert_eq!(e.path, "id");
    }

    #[test]
    fn recursive_named_types_stop_at_a_depth() {
        let types = vec![NamedType {
            name: "Node".into(),
            ty: Type::Object(vec![Field {
                optional: false,
                name: "next".into(),
                ty: Type::Nullable(Box::new(Type::Named(0))),
            }]),
        }];
        let mut j = json!(null);
        for _ in 0..10 {
            j = json!({ "next": j });
        }
        assert!(decode(&j, &Type::Named(0), &types).is_ok());
        let mut j = json!(null);
        for _ in 0..200 {
            j = json!({ "next": j });
        }
        assert!(decode(&j, &Type::Named(0), &types).is_err());
    }

    #[test]
    fn encodes_escapes() {
        let v = Value::Object(vec![("a\"".into(), Value::Str("x\n\u{1}é".into())), ("f".into(), Value::Float(1.0))]);
        assert_eq!(encode(&v), "{\"a\\\"\":\"x\\n\\u0001é\",\"f\":1.0}");
        let parsed: serde_json::Value = serde_json::from_str(&encode(&v)).unwrap();
        assert_eq!(parsed["a\""], "x\n\u{1}é");
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn a_key_written_with_escapes_is_the_same_key() {
        let ty = Type::Object(vec![crate::Field { name: "name".into(), ty: Type::String, optional: false }]);
        let plain = decode_text(r#"{"name":"a\"b"}"#, &ty, &[]).unwrap();
        let escaped = decode_text(r#"{"n\u0061me":"a\"b"}"#, &ty, &[]).unwrap();
        assert_eq!(plain, escaped);
        let mut slot = plain.clone();
        decode_text_into(r#"{"nam\u0065":"c"}"#, &ty, &[], &mut slot).unwrap();
        assert_eq!(slot, Value::Object(vec![("name".into(), Value::Str("c".into()))]));
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        use rust_decimal::Decimal;
        let decimals = ["0", "-0", "1", "-1", "12.50", "0.001", "-0.05", "100", "1e20", "123456789.000100", "-7.9"];
        for d in decimals {
            let d = Decimal::from_str_exact(d).or_else(|_| Decimal::from_scientific(d)).unwrap();
            let mut out = String::new();
            decimal(&d, &mut out);
            assert_eq!(out, d.normalize().to_string(), "{d:?}");
        }
        for d in [Decimal::MAX, Decimal::MIN, Decimal::new(1, 28), Decimal::new(-123, 28)] {
            let mut out = String::new();
            decimal(&d, &mut out);
            assert_eq!(out, d.normalize().to_string());
        }
        for n in [0, -1, 42, i64::MAX, i64::MIN] {
            assert_eq!(encode(&Value::Int(n)), n.to_string());
        }
    }
    use crate::Field;

    #[test]
    fn the_one_pass_decoder_agrees_with_the_tree_decoder() {
        let ty = Type::Object(vec![
            Field { optional: false, name: "id".into(), ty: Type::Int },
            Field { optional: false, name: "price".into(), ty: Type::Decimal },
            Field { optional: false, name: "note".into(), ty: Type::Nullable(Box::new(Type::String)) },
            Field { optional: false, name: "at".into(), ty: Type::DateTime },
            Field {
                optional: false,
                name: "tags".into(),
                ty: Type::Array(Box::new(Type::Union(vec!["a".into(), "b".into()]))),
            },
        ]);
        for text in [
            r#"{"id": 1, "price": 19.99, "note": null, "at": "2026-01-01T00:00:00Z", "tags": ["a"], "skip": {"x": [1,2]}}"#,
            r#"{"tags": [], "at": "2026-01-01T10:00:00+02:00", "price": "0.10", "id": -5}"#,
            r#"{"id": 1, "price": 1e2, "note": "x\"y", "at": "2026-01-01T00:00:00Z", "tags": ["b", "a"]}"#,
            r#"{"skip": [{"a": "]}\"", "b": [true, false, null, -1.5e-3]}, {}], "id": 0, "price": -0.5,
                "note": "caf\u00e9 \ud83d\ude00 \n\t\/", "at": "2026-01-01T00:00:00.123Z", "tags": ["a"], "z": {}}"#,
        ] {
            let json: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(decode_text(text, &ty, &[]), decode(&json, &ty, &[]).map_err(TextError::Shape), "{text}");
        }
        let bad = r#"{"id": 1, "price": 1, "at": "2026-01-01T00:00:00Z", "tags": ["c"]}"#;
        match decode_text(bad, &ty, &[]) {
            Err(TextError::Shape(e)) => assert_eq!(e.path, "tags[0]"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode_text("{", &ty, &[]), Err(TextError::Syntax(_))));
        for broken in [r#"{"id": 1,}"#, r#"{"id": 01}"#, r#"{"id": 1} x"#, "{\"id\": \"a\u{1}\"}", r#"{"skip": [1 2]}"#]
        {
            assert!(decode_text(broken, &ty, &[]).is_err(), "{broken}");
        }
    }
}
