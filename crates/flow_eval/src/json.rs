//! JSON in and out. Decoding checks JSON text against a declared type and keeps only the
//! declared fields (in `decode.rs`, the one decoder); a mismatch names the path of the field, and
//! every mismatch of a document is listed. Encoding writes JSON text directly, so Decimal values
//! stay exact.

use std::fmt::Write as _;

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

/// Every way a document does not fit its type, in the order of the text: the first
/// [`Mismatches::LISTED`] in full, then how many more, so a type can be fixed in one round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mismatches {
    pub listed: Vec<ShapeError>,
    /// Mismatches past the listed ones.
    pub more: usize,
}

impl Mismatches {
    /// How many are listed before "and N more".
    pub const LISTED: usize = 10;

    pub(crate) fn one(e: ShapeError) -> Mismatches {
        Mismatches { listed: vec![e], more: 0 }
    }

    pub(crate) fn push(&mut self, e: ShapeError) {
        if self.listed.len() < Self::LISTED {
            self.listed.push(e);
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// How many there are in all.
    pub fn count(&self) -> usize {
        self.listed.len() + self.more
    }

    /// One line per listed mismatch, and `and N more` when some were left out.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.listed.iter().map(ToString::to_string).collect();
        if self.more > 0 {
            out.push(format!("and {} more", self.more));
        }
        out
    }
}

/// One mismatch as it is; several as `N mismatches: at `a`: …; at `b`: …`.
impl std::fmt::Display for Mismatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.count() {
            0 => write!(f, "no mismatch"),
            1 => write!(f, "{}", self.listed[0]),
            n => write!(f, "{n} mismatches: {}", self.lines().join("; ")),
        }
    }
}

/// Why JSON text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// Not JSON at all.
    Syntax(String),
    /// JSON, but not of the declared type.
    Shape(Mismatches),
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextError::Syntax(s) => write!(f, "not JSON: {s}"),
            TextError::Shape(m) => write!(f, "{m}"),
        }
    }
}

/// Decodes JSON text as a value of type `ty`, in one pass over the text (no intermediate tree),
/// numbers read from their text: a Decimal is exactly what was written, or refused with its
/// path. When the text does not fit, it is read again to list every mismatch.
pub fn decode_text(text: &str, ty: &Type, types: &[NamedType]) -> Result<Value, TextError> {
    let mut v = Value::Null;
    decode_text_into(text, ty, types, &mut v)?;
    Ok(v)
}

/// [`decode_text`] into `slot`, reusing the strings, arrays and objects it holds (a stream of
/// records of one type allocates little after the first). On error `slot` holds part of a record.
pub(crate) fn decode_text_into(text: &str, ty: &Type, types: &[NamedType], slot: &mut Value) -> Result<(), TextError> {
    if crate::decode::decode_into(text, ty, types, slot).is_ok() {
        return Ok(());
    }
    explained(text, ty, types, slot)
}

/// [`decode_text_into`] with the key tables of the type (`flowc map`: built once per stream);
/// only the quick pass uses them, and they change how fast a field is found, never which.
pub(crate) fn decode_text_keyed(
    text: &str,
    ty: &Type,
    types: &[NamedType],
    keys: &crate::keys::Keys<'_>,
    spares: &mut crate::spares::Spares,
    slot: &mut Value,
) -> Result<(), TextError> {
    if crate::decode::decode_keyed(text, ty, types, Some(keys), Some(spares), slot).is_ok() {
        return Ok(());
    }
    explained(text, ty, types, slot)
}

/// The explaining pass, after the quick one failed: every mismatch, or why it is not JSON.
fn explained(text: &str, ty: &Type, types: &[NamedType], slot: &mut Value) -> Result<(), TextError> {
    let d = crate::decode::decode(text, ty, types, None, true, slot).map_err(|at| syntax(text, at))?;
    if d.mismatches.is_empty() {
        Ok(())
    } else {
        Err(TextError::Shape(d.mismatches))
    }
}

/// A page of records: the response with the records array taken out, and each record.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The response, with an empty array at the records path: the values paging reads.
    pub envelope: Value,
    /// Each record in order: decoded, or why it does not fit its type.
    pub records: Vec<Result<Value, BadRecord>>,
}

/// A record that does not fit its type.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRecord {
    /// Its place in the page's records, from 0.
    pub index: usize,
    /// Its JSON text, as the page had it.
    pub raw: String,
    /// What does not fit, with paths from the record.
    pub mismatches: Mismatches,
    /// The fields that fit (null where they did not): its `id`, for messages.
    pub partial: Value,
}

/// Decodes a page of type `ty` whose records are the array at `records` (field names from the
/// root; empty: the page is the array). The envelope must fit its type (paging reads it); each
/// record is decoded against the item type on its own, so a record that does not fit is kept
/// apart, with its raw text and every mismatch, and the others are decoded as usual.
pub fn decode_page(text: &str, ty: &Type, types: &[NamedType], records: &[String]) -> Result<Page, TextError> {
    let mut envelope = Value::Null;
    match crate::decode::decode(text, ty, types, Some(records), false, &mut envelope) {
        Ok(d) => Ok(Page { envelope, records: d.records }),
        Err(_) => {
            let d = crate::decode::decode(text, ty, types, Some(records), true, &mut envelope)
                .map_err(|at| syntax(text, at))?;
            if d.mismatches.is_empty() {
                Ok(Page { envelope, records: d.records })
            } else {
                Err(TextError::Shape(d.mismatches))
            }
        }
    }
}

/// Why text is not JSON, in serde_json's words (it only validates the text here: nothing is
/// read through it), or by position where serde_json's validation would let it pass (nesting too
/// deep, an escape that is half a character).
fn syntax(text: &str, stop: crate::decode::Stop) -> TextError {
    let position = || {
        let mut at = stop.at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line} column {column}")
    };
    TextError::Syntax(if stop.too_deep {
        format!("recursion limit exceeded (more than 127 nested arrays and objects) at {}", position())
    } else {
        match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(e) => e.to_string(),
            Ok(_) => format!("malformed JSON at {}", position()),
        }
    })
}

pub(crate) fn quote_all(members: &[String]) -> String {
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
        Type::Formed(t, form) => format!("{}({})", describe_type(t, types), form.written()),
        Type::Dict(t) => format!("{{ [String]: {} }}", describe_type(t, types)),
        Type::Json => "Json".into(),
        Type::OneOf(u) => crate::decode::describe_union(u, types),
    }
}

/// Encodes a value as JSON text.
pub fn encode(value: &Value) -> String {
    let mut out = String::new();
    encode_to(value, &mut out);
    out
}

/// Appends a value's JSON text to `out`.
/// A Decimal as its exact text with its own scale (`12.50` stays `12.50`, `-0.05`, `3`), as its
/// `Display` writes it, without going through the formatting machinery.
fn decimal(d: &rust_decimal::Decimal, out: &mut String) {
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
        Value::Object(fields) => members(fields, out),
        Value::Dict(entries) => members(entries, out),
        // Checked JSON as it came, whitespace between tokens left out.
        Value::Json(text) => out.push_str(text),
    }
}

/// The text of a value: what `str()` gives, and what query parameters, headers, paths and
/// table keys are built from. Arrays and objects are their JSON.
pub trait ToText {
    fn to_text(&self) -> String;
}

impl ToText for Value {
    fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Decimal(d) => d.to_string(),
            Value::Str(s) => s.clone(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Value::Array(_) | Value::Object(_) | Value::Dict(_) | Value::Json(_) => encode(self),
        }
    }
}

/// `"name":` for an object key.
pub(crate) fn encode_key(name: &str, out: &mut String) {
    string(name, out);
    out.push(':');
}

/// A JSON object of `entries`, in their order: a record's fields or a dictionary's keys.
fn members<K: AsRef<str>>(entries: &[(K, Value)], out: &mut String) {
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(k.as_ref(), out);
        out.push(':');
        encode_to(v, out);
    }
    out.push('}');
}

pub(crate) fn string(s: &str, out: &mut String) {
    out.push('"');
    // Copy runs of bytes that need no escape at once; escapes are all ASCII, so every cut is at
    // a character boundary.
    let bytes = s.as_bytes();
    // Most strings need no escape at all: one quick pass, eight bytes at a time, says so.
    if crate::decode::plain_run(bytes, 0) == bytes.len() {
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

    fn order_type() -> Type {
        Type::Object(vec![
            Field { optional: false, present: false, name: "id".into(), ty: Type::Int },
            Field { optional: false, present: false, name: "email".into(), ty: Type::Nullable(Box::new(Type::String)) },
            Field { optional: false, present: false, name: "total".into(), ty: Type::Decimal },
            Field {
                optional: false,
                present: false,
                name: "status".into(),
                ty: Type::Union(vec!["open".into(), "closed".into()]),
            },
            Field {
                optional: false,
                present: false,
                name: "items".into(),
                ty: Type::Array(Box::new(Type::Object(vec![Field {
                    optional: false,
                    present: false,
                    name: "sku".into(),
                    ty: Type::String,
                }]))),
            },
        ])
    }

    fn shape(text: &str, ty: &Type, types: &[NamedType]) -> Mismatches {
        match decode_text(text, ty, types) {
            Err(TextError::Shape(m)) => m,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn decodes_declared_fields_only_and_keeps_decimals_exact() {
        let j = r#"{"id": 7, "total": "1234.10", "status": "open", "items": [{"sku": "A", "x": 1}], "extra": true}"#;
        let v = decode_text(j, &order_type(), &[]).unwrap();
        assert_eq!(v.get("email"), Some(&Value::Null));
        assert_eq!(v.get("extra"), None);
        assert_eq!(encode(&v), r#"{"id":7,"email":null,"total":1234.10,"status":"open","items":[{"sku":"A"}]}"#);
        let j = r#"{"id": 7, "total": 0.1, "status": "open", "items": []}"#;
        let v = decode_text(j, &order_type(), &[]).unwrap();
        assert_eq!(v.get("total"), Some(&Value::Decimal(rust_decimal::Decimal::new(1, 1))));
    }

    #[test]
    fn shape_errors_name_the_path() {
        let j = r#"{"id": 7, "total": 1, "status": "open", "items": [{"sku": "A"}, {"sku": 5}]}"#;
        let e = shape(j, &order_type(), &[]);
        assert_eq!(e.to_string(), "at `items[1].sku`: expected String, found the number 5");
        let e = shape(r#"{"id": 7, "total": 1, "items": []}"#, &order_type(), &[]);
        assert_eq!(e.listed[0].path, "status");
        assert!(e.listed[0].found.contains("missing"));
        let e = shape(r#"{"id": 7, "total": 1, "status": "weird", "items": []}"#, &order_type(), &[]);
        assert_eq!(e.listed[0].expected, "one of \"open\" | \"closed\"");
        let e = shape(r#"{"id": 1.5}"#, &order_type(), &[]);
        assert_eq!(e.listed[0].path, "id");
    }

    #[test]
    fn every_mismatch_of_a_document_is_listed_up_to_a_bound() {
        let j = r#"{"id": "7", "email": 5, "total": true, "status": "weird", "items": [{"sku": 1}, {}, "x"]}"#;
        let e = shape(j, &order_type(), &[]);
        let paths: Vec<&str> = e.listed.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["id", "email", "total", "status", "items[0].sku", "items[1].sku", "items[2]"]);
        assert_eq!(e.listed[0].found, "the string \"7\"");
        assert_eq!(e.listed[2].found, "true");
        assert_eq!(e.listed[6].found, "the string \"x\"");
        assert!(e.to_string().starts_with("7 mismatches: at `id`: expected Int"), "{e}");
        // Past the bound: counted, not listed.
        let items: Vec<String> = (0..25).map(|i| format!("{{\"sku\": {i}}}")).collect();
        let j = format!(r#"{{"id": 1, "total": 1, "status": "open", "items": [{}]}}"#, items.join(","));
        let e = shape(&j, &order_type(), &[]);
        assert_eq!((e.listed.len(), e.more, e.count()), (Mismatches::LISTED, 15, 25));
        assert!(e.to_string().ends_with("; and 15 more"), "{e}");
        // Not JSON is not a mismatch, wherever it is.
        assert!(matches!(decode_text(r#"{"id": "7", "email": [1,}"#, &order_type(), &[]), Err(TextError::Syntax(_))));
    }

    #[test]
    fn recursive_named_types_stop_at_a_depth() {
        let types = vec![NamedType {
            name: "Node".into(),
            ty: Type::Object(vec![Field {
                optional: false,
                present: false,
                name: "next".into(),
                ty: Type::Nullable(Box::new(Type::Named(0))),
            }]),
        }];
        let nested = |n: usize| format!("{}null{}", "{\"next\": ".repeat(n), "}".repeat(n));
        assert!(decode_text(&nested(10), &Type::Named(0), &types).is_ok());
        assert!(decode_text(&nested(127), &Type::Named(0), &types).is_ok());
        // Deeper than serde_json reads (it words the message): not JSON here either.
        match decode_text(&nested(200), &Type::Named(0), &types) {
            Err(TextError::Syntax(m)) => assert!(m.contains("recursion limit"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A type that is only an alias of itself fits no document, and does not recurse forever.
        let selfish = vec![NamedType { name: "A".into(), ty: Type::Nullable(Box::new(Type::Named(0))) }];
        assert!(decode_text("1", &Type::Named(0), &selfish).is_err());
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
        let ty =
            Type::Object(vec![crate::Field { name: "name".into(), ty: Type::String, optional: false, present: false }]);
        let plain = decode_text(r#"{"name":"a\"b"}"#, &ty, &[]).unwrap();
        let escaped = decode_text(r#"{"n\u0061me":"a\"b"}"#, &ty, &[]).unwrap();
        assert_eq!(plain, escaped);
        let mut slot = plain.clone();
        decode_text_into(r#"{"nam\u0065":"c"}"#, &ty, &[], &mut slot).unwrap();
        assert_eq!(slot, Value::Object(vec![("name".into(), Value::Str("c".into()))]));
    }

    #[test]
    fn numbers_are_written_as_display_writes_them_with_their_scale() {
        use rust_decimal::Decimal;
        let decimals = ["1", "-1", "12.50", "0.001", "-0.05", "100", "1e20", "123456789.000100", "-7.9", "10.00"];
        for d in decimals {
            let d = Decimal::from_str_exact(d).or_else(|_| Decimal::from_scientific(d)).unwrap();
            let mut out = String::new();
            decimal(&d, &mut out);
            assert_eq!(out, d.to_string(), "{d:?}");
        }
        for d in [Decimal::MAX, Decimal::MIN, Decimal::new(1, 28), Decimal::new(-123, 28)] {
            let mut out = String::new();
            decimal(&d, &mut out);
            assert_eq!(out, d.to_string());
        }
        // The scale is kept ("10.00" stays "10.00"); a zero is written without a sign.
        for (d, text) in [("0", "0"), ("-0", "0"), ("0.00", "0.00"), ("-0.00", "0.00"), ("10.00", "10.00")] {
            let mut out = String::new();
            decimal(&Decimal::from_str_exact(d).unwrap(), &mut out);
            assert_eq!(out, text, "{d}");
        }
        for n in [0, -1, 42, i64::MAX, i64::MIN] {
            assert_eq!(encode(&Value::Int(n)), n.to_string());
        }
    }
    use crate::Field;

    #[test]
    fn the_one_pass_decoder_agrees_with_the_reference_decoder() {
        let ty = Type::Object(vec![
            Field { optional: false, present: false, name: "id".into(), ty: Type::Int },
            Field { optional: false, present: false, name: "price".into(), ty: Type::Decimal },
            Field { optional: false, present: false, name: "note".into(), ty: Type::Nullable(Box::new(Type::String)) },
            Field { optional: false, present: false, name: "at".into(), ty: Type::DateTime },
            Field {
                optional: false,
                present: false,
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
            let v = decode_text(text, &ty, &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(crate::oracle::decode(text, &ty, &[]), crate::oracle::Verdict::Ok(v), "{text}");
        }
        let bad = r#"{"id": 1, "price": 1, "at": "2026-01-01T00:00:00Z", "tags": ["c"]}"#;
        match decode_text(bad, &ty, &[]) {
            Err(TextError::Shape(e)) => assert_eq!(e.listed[0].path, "tags[0]"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode_text("{", &ty, &[]), Err(TextError::Syntax(_))));
        for broken in [r#"{"id": 1,}"#, r#"{"id": 01}"#, r#"{"id": 1} x"#, "{\"id\": \"a\u{1}\"}", r#"{"skip": [1 2]}"#]
        {
            assert!(decode_text(broken, &ty, &[]).is_err(), "{broken}");
        }
    }
}

#[cfg(test)]
mod exactness_tests {
    use super::*;
    use crate::Field;

    fn amount() -> Type {
        Type::Object(vec![Field { optional: false, present: false, name: "amount".into(), ty: Type::Decimal }])
    }

    #[test]
    fn an_escaped_key_does_not_make_a_decimal_inexact() {
        let v = decode_text(r#"{"amo\u0075nt": 12345678901234567890.12345678}"#, &amount(), &[]).expect("decodes");
        assert_eq!(encode(&v), r#"{"amount":12345678901234567890.12345678}"#);
        let v = decode_text(r#"{"\u0061mount": 1.5e-3, "x\u0020": 123456789012345678901234567890123}"#, &amount(), &[])
            .expect("decodes");
        assert_eq!(encode(&v), r#"{"amount":0.0015}"#);
    }

    #[test]
    fn a_decimal_that_cannot_be_held_exactly_is_refused_with_its_path() {
        for text in [
            "0.12345678901234567890123456789",
            "79228162514264337593543950336",
            "123456789012345678901234567890",
            "1.00000000000000000000000000001e1",
            "1e29",
            "1e-29",
            "\"0.12345678901234567890123456789\"",
        ] {
            match decode_text(&format!("{{\"amount\": {text}}}"), &amount(), &[]) {
                Err(TextError::Shape(e)) => assert!(e.to_string().contains("at `amount`"), "{text}: {e}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let int = Type::Object(vec![Field { optional: false, present: false, name: "n".into(), ty: Type::Int }]);
        match decode_text(r#"{"n": 9223372036854775808}"#, &int, &[]) {
            Err(TextError::Shape(e)) => assert!(e.to_string().contains("at `n`"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
