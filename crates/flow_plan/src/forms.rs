//! How a scalar travels in JSON where its type declares it: `DateTime(unix_seconds)`,
//! `DateTime("%Y-%m-%dT%H:%M:%S%.f%z")`, `Decimal(string)`. A declared form is the one form
//! decoding accepts and the one encoding writes; an undeclared type keeps its default
//! (RFC 3339 for a DateTime; a Decimal read from a number or a string, written as a number).

use serde::{Deserialize, Serialize};

use crate::{NamedType, Type};

/// A declared wire form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Form {
    /// A number written as a JSON string: `"598.94"` (a Decimal), `"1234"` (an Int).
    Text,
    /// A number written as a JSON number, never as a string.
    Number,
    /// A DateTime in RFC 3339, declared: `"2026-01-31T09:30:00Z"`.
    Rfc3339,
    /// A DateTime as time since 1970-01-01T00:00:00Z.
    Unix {
        unit: UnixUnit,
        /// Written as a JSON string (`"1512085950.000216"`), not a number.
        text: bool,
        /// Fraction digits written (Slack's `ts` always has six); `None`: as few as keep the
        /// time exact.
        digits: Option<u8>,
    },
    /// A DateTime as a strftime format; `zone`: the IANA zone of a format without an offset.
    Format { format: String, zone: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnixUnit {
    Seconds,
    Millis,
}

impl UnixUnit {
    /// Fraction digits a value of this unit can hold and still be nanoseconds.
    pub fn max_digits(self) -> u8 {
        match self {
            UnixUnit::Seconds => 9,
            UnixUnit::Millis => 6,
        }
    }
}

impl Form {
    /// The form as the language writes it, inside `DateTime(…)` or `Decimal(…)`.
    pub fn written(&self) -> String {
        match self {
            Form::Text => "string".into(),
            Form::Number => "number".into(),
            Form::Rfc3339 => "rfc3339".into(),
            Form::Unix { unit, text, digits } => {
                let mut s = String::from(match unit {
                    UnixUnit::Seconds => "unix_seconds",
                    UnixUnit::Millis => "unix_millis",
                });
                if *text {
                    s.push_str(", string");
                }
                if let Some(d) = digits {
                    s.push_str(&format!(", digits: {d}"));
                }
                s
            }
            Form::Format { format, zone } => match zone {
                Some(z) => format!("{format:?}, zone: {z:?}"),
                None => format!("{format:?}"),
            },
        }
    }

    /// What a value of this form looks like, for messages: `unix seconds as a JSON number`.
    pub fn expected(&self, base: &str) -> String {
        match self {
            Form::Text => format!("a {base} written as a string (\"10.00\")"),
            Form::Number => format!("a {base} written as a JSON number"),
            Form::Rfc3339 => "an RFC 3339 date-time (\"2026-01-31T09:30:00Z\")".into(),
            Form::Unix { unit, text, .. } => {
                let unit = match unit {
                    UnixUnit::Seconds => "unix seconds",
                    UnixUnit::Millis => "unix milliseconds",
                };
                if *text {
                    format!("a DateTime as {unit} in a string")
                } else {
                    format!("a DateTime as {unit} (a JSON number)")
                }
            }
            Form::Format { format, zone: Some(z) } => format!("a DateTime written {format:?} (in {z})"),
            Form::Format { format, zone: None } => format!("a DateTime written {format:?}"),
        }
    }
}

/// Whether a type declares a wire form anywhere, so output must be shaped by it.
pub fn has_form(ty: &Type, types: &[NamedType]) -> bool {
    fn walk(ty: &Type, types: &[NamedType], depth: usize) -> bool {
        depth < 32
            && match ty {
                Type::Formed(..) => true,
                Type::Object(fields) => fields.iter().any(|f| walk(&f.ty, types, depth + 1)),
                Type::Array(t) | Type::Nullable(t) => walk(t, types, depth + 1),
                Type::Named(i) => types.get(*i).is_some_and(|n| walk(&n.ty, types, depth + 1)),
                Type::OneOf(u) => u.variants.iter().any(|v| walk(v, types, depth + 1)),
                _ => false,
            }
    }
    walk(ty, types, 0)
}

/// Whether output of this type must be shaped by it: optional fields left out, present fields
/// a value lacks written as `null`, declared forms written.
pub fn needs_shaping(ty: &Type, types: &[NamedType]) -> bool {
    crate::has_optional(ty, types) || has_form(ty, types)
}
