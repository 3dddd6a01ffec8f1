//! Run-time values. Records decoded against their declared type hold only declared fields, in
//! declaration order.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Decimal(Decimal),
    Str(String),
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
    Array(Vec<Value>),
    Object(Vec<(Key, Value)>),
    /// A dictionary: keys from the data (never interned), in the order they came, each once.
    Dict(Vec<(String, Value)>),
    /// Any JSON, as its text without the whitespace between tokens: numbers and escapes exactly
    /// as they were written.
    Json(Box<str>),
}

/// A field or variable name, interned: the same text is always the same pointer, so copying a
/// name is copying a pointer and comparing two names is comparing two pointers. Every record
/// decoded against a declared type holds its type's names, with no allocation and no reference
/// count. Names come from `.flow` files (declared fields, variables, literals), never from the
/// data a run reads, so the interned set stays as small as the programs it has seen.
#[derive(Clone, Copy, Eq)]
pub struct Key(&'static str);

impl Key {
    pub fn new(name: &str) -> Key {
        // Fx, not SipHash: the names are the programs' own (never data a run reads), and this
        // runs for every field name the checker builds into a plan.
        static NAMES: std::sync::OnceLock<std::sync::Mutex<rustc_hash::FxHashSet<&'static str>>> =
            std::sync::OnceLock::new();
        let names = NAMES.get_or_init(Default::default);
        // A poisoned lock still holds a consistent set: every insert is a single step.
        let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = names.get(name) {
            return Key(k);
        }
        let k: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(k);
        Key(k)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        // Interned: equal names are the same pointer.
        std::ptr::eq(self.0, other.0)
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.0.cmp(other.0)
    }
}

impl Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::new(s)
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::new(&s)
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Key {
        Key::new(s)
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.0.to_string()
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Key {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_str()
    }
}

impl PartialEq<Key> for str {
    fn eq(&self, other: &Key) -> bool {
        self == other.0
    }
}

impl PartialEq<Key> for String {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        String::deserialize(d).map(Key::from)
    }
}

impl Value {
    /// A field of an object; `None` when absent or when this is not an object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A field by its interned name, looked for first at `slot` (its place in the declared
    /// type), then everywhere.
    #[inline]
    pub fn field_at(&self, name: &Key, slot: Option<u32>) -> Option<&Value> {
        match self {
            Value::Object(fields) => match slot.and_then(|i| fields.get(i as usize)) {
                Some((k, v)) if k == name => Some(v),
                _ => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            },
            _ => None,
        }
    }

    /// Follows a path of field names.
    pub fn get_path<S: AsRef<str>>(&self, path: &[S]) -> Option<&Value> {
        path.iter().try_fold(self, |v, name| v.get(name.as_ref()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "Bool",
            Value::Int(_) => "Int",
            Value::Float(_) => "Float",
            Value::Decimal(_) => "Decimal",
            Value::Str(_) => "String",
            Value::Date(_) => "Date",
            Value::DateTime(_) => "DateTime",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Dict(_) => "dictionary",
            Value::Json(_) => "Json",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_the_same_text_are_one_key() {
        let a = Key::from("customer_id");
        let b = Key::from(String::from("customer_") + "id");
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "interned: one copy of the text");
        assert_ne!(a, Key::from("customer"));
        // Ordering and hashing go by the text, consistent with equality.
        let mut keys = [Key::from("b"), Key::from("a"), Key::from("c")];
        keys.sort();
        assert_eq!(keys.iter().map(Key::as_str).collect::<Vec<_>>(), ["a", "b", "c"]);
        let set: std::collections::HashSet<Key> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        // Keys serialize as their text and come back as the same key.
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"customer_id\"");
        let back: Key = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
