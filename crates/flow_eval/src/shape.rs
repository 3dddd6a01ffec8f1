//! Output shaped by its declared type: an optional field (`name?: T`) is left out when null,
//! and a present field (`name: T | null`) that nothing set is written as `null`, wherever a
//! body or an output record is written.

use flow_plan::needs_shaping;

use crate::eval::EvalError;
use crate::{encode, NamedType, Type, Value};

/// Leaves out of `value` every optional field (`name?: T`) of `ty` whose value is null, at any
/// depth: "absent" is how such a field says it has no value, where `name: T?` says `null`.
/// Puts back, as `null` at its declared place, every present field (`name: T | null`) an object
/// lacks: a value built where the field was `T?` or `T?:` and left unset has no key for it, and
/// the type it is written as promises the key.
pub fn omit_absent(value: &mut Value, ty: &Type, types: &[NamedType]) {
    fn walk(value: &mut Value, ty: &Type, types: &[NamedType], depth: usize) {
        if depth > 32 {
            return;
        }
        match (value, ty) {
            (v, Type::Named(i)) => {
                if let Some(n) = types.get(*i) {
                    walk(v, &n.ty, types, depth + 1);
                }
            }
            (v, Type::Nullable(t)) => walk(v, t, types, depth + 1),
            (v, Type::OneOf(u)) => {
                if let Some(member) = u.pick_value(v, types) {
                    walk(v, member, types, depth + 1);
                }
            }
            (Value::Array(items), Type::Array(t)) => {
                for item in items {
                    walk(item, t, types, depth + 1);
                }
            }
            (Value::Dict(entries), Type::Dict(t)) => {
                for (_, v) in entries {
                    walk(v, t, types, depth + 1);
                }
            }
            (Value::Object(fields), Type::Object(decl)) => {
                fields.retain(|(k, v)| !(v.is_null() && decl.iter().any(|f| f.optional && f.name == *k)));
                if decl.iter().any(|f| f.present) {
                    // After the last declared field before it that the object has, so a value
                    // in the declared order stays in it.
                    let mut at = 0;
                    for f in decl {
                        if let Some(i) = fields.iter().position(|(k, _)| *k == f.name) {
                            at = at.max(i + 1);
                        } else if f.present {
                            fields.insert(at, (f.name, Value::Null));
                            at += 1;
                        }
                    }
                }
                for (k, v) in fields.iter_mut() {
                    if let Some(f) = decl.iter().find(|f| f.name == *k) {
                        walk(v, &f.ty, types, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }
    walk(value, ty, types, 0)
}

/// A request body or output record as JSON, shaped by its declared type: optional fields left
/// out when null, declared wire forms written (`DateTime(unix_seconds)`, `Decimal(string)`); an
/// error when a value cannot be written exactly in its declared form.
pub fn try_encode_as(value: &Value, ty: Option<&Type>, types: &[NamedType]) -> Result<String, EvalError> {
    match ty {
        Some(t) if needs_shaping(t, types) => {
            let mut v = value.clone();
            omit_absent(&mut v, t, types);
            crate::write_forms(&mut v, t, types)?;
            Ok(encode(&v))
        }
        _ => Ok(encode(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Field;
    use flow_plan::has_optional;

    fn field(name: &str, ty: Type, optional: bool) -> Field {
        Field { name: name.into(), ty, optional, present: false }
    }

    /// `name: T | null` is written whatever its value, `null` when null, beside an optional
    /// field that is left out.
    #[test]
    fn a_present_field_is_written_as_null_where_an_optional_one_is_left_out() {
        let nullable = |t: Type| Type::Nullable(Box::new(t));
        let present = Field { name: "closed_at".into(), ty: nullable(Type::DateTime), optional: false, present: true };
        let ty = Type::Object(vec![field("note", Type::String, true), present]);
        let value = Value::Object(vec![("note".into(), Value::Null), ("closed_at".into(), Value::Null)]);
        assert_eq!(try_encode_as(&value, Some(&ty), &[]).unwrap(), r#"{"closed_at":null}"#);
    }

    /// A value with no key for a present field (built where the field was `T?` and left unset)
    /// is written with `null` at the field's declared place, at any depth; a type whose only
    /// special fields are present ones is shaped.
    #[test]
    fn a_present_field_a_value_lacks_is_written_as_null_in_its_place() {
        let nullable = |t: Type| Type::Nullable(Box::new(t));
        let present =
            |name: &str| Field { name: name.into(), ty: nullable(Type::String), optional: false, present: true };
        let b = Type::Object(vec![field("a", Type::Int, false), present("x"), field("z", Type::Int, false)]);
        let types = vec![NamedType { name: "B".into(), ty: b }];
        let outer = Type::Object(vec![present("first"), field("bs", Type::Array(Box::new(Type::Named(0))), false)]);
        assert!(needs_shaping(&outer, &types));
        let obj = |fields: Vec<(&str, Value)>| Value::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect());
        let value = obj(vec![(
            "bs",
            Value::Array(vec![
                obj(vec![("a", Value::Int(1)), ("z", Value::Int(2))]),
                obj(vec![("a", Value::Int(3)), ("x", Value::Str("s".into())), ("z", Value::Int(4))]),
            ]),
        )]);
        assert_eq!(
            try_encode_as(&value, Some(&outer), &types).unwrap(),
            r#"{"first":null,"bs":[{"a":1,"x":null,"z":2},{"a":3,"x":"s","z":4}]}"#
        );
    }

    #[test]
    fn omit_absent_leaves_out_null_optional_fields_at_any_depth() {
        let item = Type::Object(vec![
            field("sku", Type::String, false),
            field("note", Type::String, true),
            field("gift", Type::Nullable(Box::new(Type::Bool)), false),
        ]);
        let types = vec![NamedType { name: "Item".into(), ty: item }];
        let order = Type::Object(vec![
            field("id", Type::Int, false),
            field("items", Type::Array(Box::new(Type::Named(0))), false),
            field("coupon", Type::String, true),
        ]);
        assert!(has_optional(&order, &types));
        assert!(!has_optional(&Type::Array(Box::new(Type::Int)), &types));
        let obj = |fields: Vec<(&str, Value)>| Value::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect());
        let value = obj(vec![
            ("id", Value::Int(1)),
            (
                "items",
                Value::Array(vec![
                    obj(vec![("sku", Value::Str("A".into())), ("note", Value::Null), ("gift", Value::Null)]),
                    obj(vec![
                        ("sku", Value::Str("B".into())),
                        ("note", Value::Str("wrap".into())),
                        ("gift", Value::Null),
                    ]),
                ]),
            ),
            ("coupon", Value::Null),
        ]);
        assert_eq!(
            try_encode_as(&value, Some(&order), &types).unwrap(),
            r#"{"id":1,"items":[{"sku":"A","gift":null},{"sku":"B","note":"wrap","gift":null}]}"#
        );
        // Without a type, or with one that has no optional field, the value is written as it is.
        assert!(try_encode_as(&value, None, &types).unwrap().contains("\"coupon\":null"));
    }
}
