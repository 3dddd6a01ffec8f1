//! Unions of types (`Card | BankAccount`, `String | Customer`, `[TextBlock | ImageBlock]`): which
//! member a JSON value, or a value, is. The checker admits a union only when this is never in
//! doubt: each kind of JSON value (string, number, bool, array, object) is taken by at most one
//! member, except objects, which several members may take when each says which it is in its tag
//! (a field every object member has, a string literal or a union of them, their values apart).

use serde::{Deserialize, Serialize};

use crate::{Form, Key, NamedType, Type, Value};

/// `A | B | …`: the members in declaration order, and the tag field that tells the object
/// members apart (when more than one member is an object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneOf {
    pub variants: Vec<Type>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Key>,
}

/// What JSON writes a value as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    /// The kind of the JSON value whose first byte is `c`.
    pub fn of_byte(c: u8) -> Kind {
        match c {
            b'n' => Kind::Null,
            b't' | b'f' => Kind::Bool,
            b'"' => Kind::String,
            b'[' => Kind::Array,
            b'{' => Kind::Object,
            _ => Kind::Number,
        }
    }

    /// How the user would say it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a Bool",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// The type with its names seen through (not its `?`), or `None` for an alias of itself.
pub fn resolved<'t>(ty: &'t Type, types: &'t [NamedType]) -> Option<&'t Type> {
    let mut ty = ty;
    for _ in 0..64 {
        match ty {
            Type::Named(i) => ty = &types.get(*i)?.ty,
            _ => return Some(ty),
        }
    }
    None
}

/// The kinds of JSON value a member takes (a Decimal: a number or a string holding one).
pub fn kinds(ty: &Type, types: &[NamedType]) -> Vec<Kind> {
    match resolved(ty, types) {
        Some(Type::String | Type::Union(_) | Type::Date | Type::DateTime) => vec![Kind::String],
        Some(Type::Int | Type::Float) => vec![Kind::Number],
        Some(Type::Decimal) => vec![Kind::Number, Kind::String],
        Some(Type::Bool) => vec![Kind::Bool],
        Some(Type::Array(_)) => vec![Kind::Array],
        Some(Type::Object(_) | Type::Dict(_)) => vec![Kind::Object],
        Some(Type::Formed(_, form)) => match form {
            Form::Text | Form::Rfc3339 | Form::Format { .. } | Form::Unix { text: true, .. } => vec![Kind::String],
            Form::Number | Form::Unix { text: false, .. } => vec![Kind::Number],
        },
        Some(Type::Nullable(t)) => {
            let mut k = kinds(t, types);
            k.push(Kind::Null);
            k
        }
        Some(Type::OneOf(u)) => u.variants.iter().flat_map(|v| kinds(v, types)).collect(),
        Some(Type::Json) => vec![Kind::Null, Kind::Bool, Kind::Number, Kind::String, Kind::Array, Kind::Object],
        Some(Type::Named(_)) | None => Vec::new(),
    }
}

/// The values of a member's tag field (`object: "card"`), when it is an object that has one.
pub fn tag_values<'t>(ty: &'t Type, tag: &Key, types: &'t [NamedType]) -> Option<&'t [String]> {
    let Some(Type::Object(fields)) = resolved(ty, types) else { return None };
    match fields.iter().find(|f| f.name == *tag).map(|f| resolved(&f.ty, types)) {
        Some(Some(Type::Union(values))) => Some(values),
        _ => None,
    }
}

impl OneOf {
    /// The member a JSON value of this kind is, with the tag's value when the value is an
    /// object (`None`: no tag, or not a string). `None`: no member takes it.
    pub fn pick<'t>(&'t self, kind: Kind, tag: Option<&str>, types: &'t [NamedType]) -> Option<&'t Type> {
        let mut takers = self.variants.iter().filter(|v| kinds(v, types).contains(&kind));
        match (kind, &self.tag) {
            (Kind::Object, Some(name)) => {
                let tag = tag?;
                takers.find(|v| tag_values(v, name, types).is_some_and(|vals| vals.iter().any(|t| t == tag)))
            }
            _ => takers.next(),
        }
    }

    /// The member a value is (its kind as JSON writes it, and its tag), for writing it.
    pub fn pick_value<'t>(&'t self, value: &Value, types: &'t [NamedType]) -> Option<&'t Type> {
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Str(_) | Value::Date(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) | Value::Dict(_) => Kind::Object,
            Value::Int(_) | Value::Float(_) | Value::Decimal(_) | Value::DateTime(_) | Value::Json(_) => {
                // Scalars that more than one kind may write: the member of their own type.
                return self.variants.iter().find(|v| {
                    matches!(
                        (value, resolved(v, types)),
                        (Value::Int(_), Some(Type::Int | Type::Decimal | Type::Float))
                            | (Value::Float(_), Some(Type::Float))
                            | (Value::Decimal(_), Some(Type::Decimal))
                            | (Value::DateTime(_), Some(Type::DateTime))
                            | (Value::Int(_) | Value::Decimal(_) | Value::DateTime(_), Some(Type::Formed(..)))
                    )
                });
            }
        };
        let tag = match (value, &self.tag) {
            (Value::Object(fields), Some(name)) => fields.iter().find(|(k, _)| k == name).and_then(|(_, v)| match v {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            }),
            _ => None,
        };
        self.pick(kind, tag, types)
    }
}
