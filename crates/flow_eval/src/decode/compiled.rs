//! The quick mode's decoder compiled once per stream (`flowc map`): the declared type turned
//! into a flat program of nodes ([`Nodes`]), one per type met (names and `?` resolved, each
//! object's key table and each field's node found) before the first record is read. The general
//! reading resolves names and `?`, matches the whole declared type and looks up an object's
//! key table for every value; a node has all of that done, so decoding a value is one match on
//! a small kind, and a field's value is read by the node found for it when the stream began.
//!
//! It reads exactly what the general quick mode reads and refuses what it refuses (it is the
//! same code for each kind, tested against it and against the reference on generated
//! documents); what it has no node kind for (dictionaries, `Json`, unions of types, wire forms,
//! `Date`, `Float`) it hands to the general reading, which then goes on as before below it.

use std::collections::HashMap;

use super::{exact_decimal, exact_number, resolve, rfc3339, starts_number, DecodeResult, Fail, Parser, Seen};
use crate::keys::{KeyTable, Keys};
use crate::{NamedType, Type, Value};
use flow_plan::Field;

/// The nodes of one declared type, the root first.
pub(crate) struct Nodes<'t> {
    nodes: Vec<Node<'t>>,
}

/// One type of the stream, resolved.
pub(crate) struct Node<'t> {
    /// The type as declared where it was first met: what the general reading is given.
    declared: &'t Type,
    /// Whether null fits (a `T?`, through names).
    nullable: bool,
    kind: Kind<'t>,
}

pub(crate) enum Kind<'t> {
    Str,
    Int,
    Decimal,
    Bool,
    DateTime,
    Union(&'t [String]),
    Object {
        fields: &'t [Field],
        /// The key table's place in [`Keys`], when the type has one.
        table: Option<usize>,
        /// Per field: its node, and whether it must be in the text (not `T?`, or `T | null`).
        children: Box<[(u32, bool)]>,
    },
    Array {
        /// The item type as declared (spare items are kept by it).
        item: &'t Type,
        child: u32,
    },
    /// Everything else, and a name that is only an alias of itself: the general reading.
    Other,
}

impl<'t> Nodes<'t> {
    /// The nodes of `ty` and of every type it reaches, each resolved type (and whether null
    /// fits it) once, so a recursive type is a cycle of nodes, not an endless tree.
    pub(crate) fn new(ty: &'t Type, types: &'t [NamedType], keys: &Keys<'t>) -> Nodes<'t> {
        let mut b = Builder { nodes: Vec::new(), seen: HashMap::new(), types, keys };
        b.node(ty);
        Nodes { nodes: b.nodes }
    }
}

struct Builder<'t, 'k> {
    nodes: Vec<Node<'t>>,
    seen: HashMap<(*const Type, bool), u32>,
    types: &'t [NamedType],
    keys: &'k Keys<'t>,
}

impl<'t> Builder<'t, '_> {
    fn node(&mut self, declared: &'t Type) -> u32 {
        let at = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        let Some((ty, nullable, _)) = resolve(declared, self.types) else {
            self.nodes.push(Node { declared, nullable: false, kind: Kind::Other });
            return at;
        };
        if let Some(&known) = self.seen.get(&(std::ptr::from_ref(ty), nullable)) {
            return known;
        }
        self.seen.insert((std::ptr::from_ref(ty), nullable), at);
        self.nodes.push(Node { declared, nullable, kind: Kind::Other });
        let kind = match ty {
            Type::String => Kind::Str,
            Type::Int => Kind::Int,
            Type::Decimal => Kind::Decimal,
            Type::Bool => Kind::Bool,
            Type::DateTime => Kind::DateTime,
            Type::Union(members) => Kind::Union(members),
            Type::Object(fields) => {
                let children = fields
                    .iter()
                    .map(|f| {
                        let required = f.present || !super::nullable_type(&f.ty, self.types);
                        (self.node(&f.ty), required)
                    })
                    .collect();
                Kind::Object { fields, table: self.keys.index(fields), children }
            }
            Type::Array(item) => Kind::Array { item, child: self.node(item) },
            _ => Kind::Other,
        };
        if let Some(node) = self.nodes.get_mut(at as usize) {
            node.kind = kind;
        }
        at
    }
}

impl<'a> Parser<'a, false> {
    /// The value of node `n` into `slot`, as [`Parser::value`] reads the node's declared type.
    pub(super) fn node_value(
        &mut self,
        nodes: &Nodes<'_>,
        keys: &Keys<'_>,
        n: u32,
        slot: &mut Value,
    ) -> DecodeResult<()> {
        let node = nodes.nodes.get(n as usize).ok_or(Fail)?;
        let c = self.peek().ok_or(Fail)?;
        if node.nullable && c == b'n' {
            self.literal(b"null")?;
            *slot = Value::Null;
            return Ok(());
        }
        match &node.kind {
            Kind::Str => {
                if c != b'"' {
                    return Err(Fail);
                }
                self.str_into(slot)
            }
            Kind::Int => {
                if !starts_number(c) {
                    return Err(Fail);
                }
                *slot = Value::Int(self.number()?.parse::<i64>().map_err(|_| Fail)?);
                Ok(())
            }
            Kind::Decimal => {
                let d = if c == b'"' {
                    let s = self.str_ref()?;
                    exact_decimal(s.trim())
                } else if starts_number(c) {
                    exact_number(self.number()?)
                } else {
                    None
                };
                match d {
                    Some(Ok(d)) => {
                        *slot = Value::Decimal(d);
                        Ok(())
                    }
                    _ => Err(Fail),
                }
            }
            Kind::Bool => {
                match c {
                    b't' => {
                        self.literal(b"true")?;
                        *slot = Value::Bool(true);
                    }
                    b'f' => {
                        self.literal(b"false")?;
                        *slot = Value::Bool(false);
                    }
                    _ => return Err(Fail),
                }
                Ok(())
            }
            Kind::DateTime => {
                if c != b'"' {
                    return Err(Fail);
                }
                *slot = Value::DateTime(rfc3339(&self.str_ref()?).ok_or(Fail)?);
                Ok(())
            }
            Kind::Union(members) => {
                if c != b'"' {
                    return Err(Fail);
                }
                let s = self.str_ref()?;
                if !members.iter().any(|m| **m == *s) {
                    return Err(Fail);
                }
                super::set_str(slot, &s);
                Ok(())
            }
            Kind::Object { fields, table, children } => {
                if c != b'{' {
                    return Err(Fail);
                }
                let table = table.and_then(|t| keys.table(t));
                self.node_object(nodes, keys, fields, table, children, slot)
            }
            Kind::Array { item, child } => {
                if c != b'[' {
                    return Err(Fail);
                }
                self.node_array(nodes, keys, item, *child, slot)
            }
            Kind::Other => self.any_value(node.declared, slot, None),
        }
    }

    /// A field's or item's value by its node. The commonest kinds (a `String`, an object, an
    /// `Int`, an array; no more, or the compiler makes the tests one jump again), when the next byte starts
    /// their value, are read here, each by its own test, as [`Self::node_value`] reads them
    /// (a `String` as [`Parser::value`] does): a value's kind is then told by branches that
    /// follow the fields' order from record to record, not by one jump whose target changes
    /// from field to field.
    #[inline(always)]
    fn child_value(&mut self, nodes: &Nodes<'_>, keys: &Keys<'_>, n: u32, slot: &mut Value) -> DecodeResult<()> {
        let Some(node) = nodes.nodes.get(n as usize) else { return Err(Fail) };
        let next = self.b.get(self.i).copied().unwrap_or(0);
        if let Kind::Str = node.kind {
            if next == b'"' {
                return self.str_into(slot);
            }
        } else if let Kind::Object { fields, table, children } = &node.kind {
            if next == b'{' {
                return self.node_object(nodes, keys, fields, table.and_then(|t| keys.table(t)), children, slot);
            }
        } else if let Kind::Int = node.kind {
            if starts_number(next) {
                *slot = Value::Int(self.number()?.parse::<i64>().map_err(|_| Fail)?);
                return Ok(());
            }
        } else if let Kind::Array { item, child } = &node.kind {
            if next == b'[' {
                return self.node_array(nodes, keys, item, *child, slot);
            }
        }
        self.node_value(nodes, keys, n, slot)
    }

    /// An object (its `{` is next) of the node's fields, as the general reading's object arm
    /// reads it in the quick mode: in place, in declaration order, a repeated key's last value
    /// kept, unknown keys skipped, a missing field null when it may be absent and a failure when
    /// it may not.
    fn node_object(
        &mut self,
        nodes: &Nodes<'_>,
        keys: &Keys<'_>,
        fields: &[Field],
        table: Option<&KeyTable>,
        children: &[(u32, bool)],
        slot: &mut Value,
    ) -> DecodeResult<()> {
        self.open()?;
        let reusable = matches!(slot, Value::Object(out)
            if out.len() == fields.len() && out.iter().zip(fields).all(|((k, _), f)| *k == f.name));
        if !reusable {
            *slot = Value::Object(fields.iter().map(|f| (f.name, Value::Null)).collect());
        }
        let Value::Object(out) = slot else { return Err(Fail) };
        let mut seen = Seen::new(fields.len());
        let mut guess = 0;
        let mut last = fields.len();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                let at = self.field_of_key(table, fields, guess, last)?;
                match at.and_then(|i| Some((i, children.get(i)?.0, out.get_mut(i)?))) {
                    Some((i, child, (_, value))) => {
                        seen.set(i);
                        self.child_value(nodes, keys, child, value)?;
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
        if !seen.all(fields.len()) {
            for (i, ((_, value), &(_, required))) in out.iter_mut().zip(children).enumerate() {
                if !seen.get(i) {
                    if required {
                        return Err(Fail);
                    }
                    *value = Value::Null;
                }
            }
        }
        Ok(())
    }

    /// An array (its `[` is next) of the node's items, decoded into the items `slot` holds, new
    /// ones taken from the stream's spares and those past its end kept there.
    fn node_array(
        &mut self,
        nodes: &Nodes<'_>,
        keys: &Keys<'_>,
        item: &Type,
        child: u32,
        slot: &mut Value,
    ) -> DecodeResult<()> {
        self.open()?;
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
                let value = items.get_mut(n).ok_or(Fail)?;
                self.child_value(nodes, keys, child, value)?;
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode_into, decode_keyed};
    use crate::keys::Keys;
    use crate::oracle::{decode as reference, Verdict};
    use crate::spares::Spares;
    use crate::{NamedType, Type, Value};
    use flow_plan::Field;

    fn field(name: &str, ty: Type) -> Field {
        Field { name: name.into(), ty, optional: false, present: false }
    }

    fn nullable(ty: Type) -> Type {
        Type::Nullable(Box::new(ty))
    }

    /// The benchmark's customer, with a recursive type, a `T | null` field, a name for a name,
    /// a Bool and a union of types (which the general reading reads, below its node).
    fn customer() -> (Type, Vec<NamedType>) {
        let types = vec![
            NamedType {
                name: "Node".into(),
                ty: Type::Object(vec![
                    field("name", Type::String),
                    field("kids", Type::Array(Box::new(Type::Named(0)))),
                ]),
            },
            NamedType { name: "Money".into(), ty: Type::Decimal },
            NamedType { name: "Price".into(), ty: Type::Named(1) },
        ];
        let item = Type::Object(vec![
            field("sku", Type::String),
            field("qty", Type::Int),
            field("price", Type::Named(2)),
            field("gift", nullable(Type::Bool)),
        ]);
        let ty = Type::Object(vec![
            field("id", Type::Int),
            field("name", Type::String),
            field("phone", nullable(Type::String)),
            field("status", Type::Union(vec!["active".into(), "banned".into()])),
            field("address", Type::Object(vec![field("city", Type::String), field("zip", nullable(Type::String))])),
            field("tags", Type::Array(Box::new(Type::String))),
            field("created_at", Type::DateTime),
            field("items", Type::Array(Box::new(item))),
            Field { name: "closed".into(), ty: nullable(Type::DateTime), optional: false, present: true },
            field("tree", nullable(Type::Named(0))),
            field(
                "extra",
                nullable(Type::OneOf(crate::OneOf {
                    variants: vec![
                        Type::Int,
                        Type::Object(vec![field("x", Type::Int), field("y", nullable(Type::Float))]),
                    ],
                    tag: None,
                })),
            ),
        ]);
        (ty, types)
    }

    const GOOD: &str = r#"{"id":7,"name":"Ada","phone":null,"status":"active","address":{"city":"Berlin","zip":"10115"},"tags":["a","b"],"created_at":"2026-01-05T10:20:30Z","items":[{"sku":"A","qty":2,"price":89.90,"gift":null},{"sku":"B","qty":1,"price":"0.10","gift":true}],"closed":null,"tree":{"name":"r","kids":[{"name":"k","kids":[]}]},"extra":{"x":1}}"#;

    /// `GOOD` with the first `from` replaced by `to`.
    fn with(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replacen(from, to, 1)
    }

    /// A tree nested `depth` objects deep, as the `tree` field.
    fn deep(depth: usize) -> String {
        let mut tree = String::from(r#"{"name":"leaf","kids":[]}"#);
        for _ in 1..depth {
            tree = format!(r#"{{"name":"n","kids":[{tree}]}}"#);
        }
        with(r#"{"name":"r","kids":[{"name":"k","kids":[]}]}"#, &tree)
    }

    /// Each document decoded by the compiled decoder (into a fresh slot, and into the slot of
    /// the documents before it, with the stream's spares), by the general quick mode and by the
    /// reference: the same verdict and the same value.
    fn agree(docs: &[String], ty: &Type, types: &[NamedType]) -> (usize, usize) {
        let keys = Keys::new(ty, types);
        assert!(keys.nodes(ty).is_some(), "a compiled decoder for the stream's type");
        let mut spares = Spares::default();
        let mut stream = Value::Null;
        let (mut fits, mut refused) = (0, 0);
        for doc in docs {
            let mut general = Value::Null;
            let quick = decode_into(doc, ty, types, &mut general).is_ok();
            let mut fresh = Value::Null;
            let compiled = decode_keyed(doc, ty, types, Some(&keys), None, &mut fresh).is_ok();
            let streamed = decode_keyed(doc, ty, types, Some(&keys), Some(&mut spares), &mut stream).is_ok();
            assert_eq!((compiled, streamed), (quick, quick), "{doc}");
            match reference(doc, ty, types) {
                Verdict::Ok(want) => {
                    assert!(compiled, "refused what fits: {doc}");
                    assert_eq!((&fresh, &stream, &general), (&want, &want, &want), "{doc}");
                    fits += 1;
                }
                verdict => {
                    assert!(!compiled, "took what does not fit: {doc}: {verdict:?}");
                    refused += 1;
                }
            }
        }
        (fits, refused)
    }

    #[test]
    fn the_compiled_decoder_reads_what_the_general_one_reads_and_refuses_what_it_refuses() {
        let (ty, types) = customer();
        let max_int = i64::MAX.to_string();
        let docs: Vec<String> = vec![
            GOOD.to_string(),
            // Keys in another order, unknown keys (deep ones too), whitespace, escapes.
            r#" { "tree" : null , "closed":"2026-02-02T01:01:00+02:00", "unknown":[{"a":[1,{"b":null}]}], "items":[], "created_at":"2026-01-05T10:20:30.5Z", "tags":[], "address":{"zip":null,"city":"Ber\u006cin"}, "status":"banned", "phone":"+49 \"1\"", "name":"A\nda", "id":-0 } "#.to_string(),
            // A field that may be absent left out; a repeated key, the last one kept.
            with(r#""phone":null,"#, ""),
            with(r#""id":7,"#, r#""id":1,"id":2,"#),
            with(r#""city":"Berlin","#, r#""city":"x","city":"Berlin","#),
            // A repeated key whose first value does not fit: refused.
            with(r#""id":7,"#, r#""id":"7","id":7,"#),
            // Wrong types, field by field.
            with(r#""id":7"#, r#""id":"7""#),
            with(r#""id":7"#, r#""id":7.5"#),
            with(r#""id":7"#, r#""id":7e0"#),
            with(r#""name":"Ada""#, r#""name":1"#),
            with(r#""name":"Ada""#, r#""name":["Ada"]"#),
            with(r#""phone":null"#, r#""phone":5"#),
            with(r#""status":"active""#, r#""status":"gone""#),
            with(r#""status":"active""#, r#""status":true"#),
            with(r#""address":{"city":"Berlin","zip":"10115"}"#, r#""address":["Berlin"]"#),
            with(r#""tags":["a","b"]"#, r#""tags":"a,b""#),
            with(r#""tags":["a","b"]"#, r#""tags":["a",2]"#),
            with(r#""created_at":"2026-01-05T10:20:30Z""#, r#""created_at":"2026-13-05T10:20:30Z""#),
            with(r#""created_at":"2026-01-05T10:20:30Z""#, r#""created_at":1767608430"#),
            with(r#""qty":2"#, r#""qty":"2""#),
            with(r#""price":89.90"#, r#""price":true"#),
            with(r#""price":89.90"#, r#""price":"ninety""#),
            with(r#""gift":true"#, r#""gift":"yes""#),
            with(r#""extra":{"x":1}"#, r#""extra":{"x":"1"}"#),
            with(r#""extra":{"x":1}"#, r#""extra":[1]"#),
            with(r#""extra":{"x":1}"#, r#""extra":5"#),
            with(r#""extra":{"x":1}"#, r#""extra":{"x":1,"y":0.5}"#),
            with(r#""extra":{"x":1}"#, r#""extra":{"y":0.5}"#),
            // Nulls where null does not fit, and where it does.
            with(r#""name":"Ada""#, r#""name":null"#),
            with(r#""address":{"city":"Berlin","zip":"10115"}"#, r#""address":null"#),
            with(r#""tags":["a","b"]"#, r#""tags":[null]"#),
            with(r#""items":[{"sku":"A","qty":2"#, r#""items":[null,{"sku":"A","qty":2"#),
            with(r#""zip":"10115""#, r#""zip":null"#),
            with(r#""extra":{"x":1}"#, r#""extra":null"#),
            // Missing fields: one that must be there, one that may be null but not absent, one
            // inside an array's item, and a whole empty object.
            with(r#""name":"Ada","#, ""),
            with(r#","closed":null"#, ""),
            with(r#""sku":"A","#, ""),
            with(r#","zip":"10115""#, ""),
            "{}".to_string(),
            // Numbers: the largest and smallest Int, one past them; a Decimal of 28 significant
            // digits (exact) and of 29 (refused, never rounded); exponents; a number beyond a
            // double's range in a field that is not read (not JSON).
            with(r#""id":7"#, &format!(r#""id":{max_int}"#)),
            with(r#""id":7"#, r#""id":-9223372036854775808"#),
            with(r#""id":7"#, r#""id":9223372036854775808"#),
            with(r#""id":7"#, r#""id":-9223372036854775809"#),
            with(r#""id":7"#, &format!(r#""id":{}"#, "9".repeat(400))),
            with(r#""price":89.90"#, r#""price":1234567890123456789012345678"#),
            with(r#""price":89.90"#, r#""price":0.1234567890123456789012345678"#),
            with(r#""price":89.90"#, r#""price":12345678901234567890123456789"#),
            with(r#""price":89.90"#, r#""price":"1.00000000000000000000000000001""#),
            with(r#""price":89.90"#, r#""price":1.5e3"#),
            with(r#""price":89.90"#, r#""price":1e400"#),
            with(r#""price":89.90"#, r#""price":089.90"#),
            with(r#""id":7,"#, r#""big":1e400,"id":7,"#),
            // Deep nesting: within the limit, at it, past it.
            deep(10),
            deep(120),
            deep(63),
            deep(64),
            deep(70),
            // Not JSON: cut short, trailing text, a bad escape, a control byte, a lone key.
            GOOD[..GOOD.len() / 2].to_string(),
            format!("{GOOD} x"),
            format!("{GOOD}{GOOD}"),
            with(r#""Ada""#, r#""A\qda""#),
            with(r#""Ada""#, "\"A\u{1}da\""),
            with(r#""id":7,"#, r#""id","#),
            String::new(),
            "null".to_string(),
        ];
        let (fits, refused) = agree(&docs, &ty, &types);
        assert!(fits >= 15 && refused >= 40, "{fits} fit, {refused} refused");
        // Numbers stay exact: the Decimal keeps its scale and all its digits.
        let keys = Keys::new(&ty, &types);
        let mut slot = Value::Null;
        let doc = with(r#""price":89.90"#, r#""price":1234567890.123456789012345678"#);
        assert!(decode_keyed(&doc, &ty, &types, Some(&keys), None, &mut slot).is_ok());
        let Value::Object(fields) = &slot else { panic!("an object: {slot:?}") };
        let Some((_, Value::Array(items))) = fields.iter().find(|(k, _)| k.as_str() == "items") else {
            panic!("items")
        };
        let Value::Object(item) = &items[0] else { panic!("an item") };
        assert_eq!(
            item[2].1,
            Value::Decimal(rust_decimal::Decimal::from_str_exact("1234567890.123456789012345678").expect("a decimal"))
        );
        assert_eq!(fields[0].1, Value::Int(7));
    }

    #[test]
    fn a_name_that_is_only_an_alias_of_itself_is_refused_by_the_compiled_decoder_too() {
        let types = vec![NamedType { name: "Loop".into(), ty: Type::Named(0) }];
        let ty = Type::Object(vec![field("id", Type::Int), field("x", nullable(Type::Named(0)))]);
        let keys = Keys::new(&ty, &types);
        for doc in [r#"{"id":1,"x":1}"#, r#"{"id":1,"x":null}"#, r#"{"id":1}"#] {
            let (mut a, mut b) = (Value::Null, Value::Null);
            let compiled = decode_keyed(doc, &ty, &types, Some(&keys), None, &mut a).is_ok();
            let general = decode_into(doc, &ty, &types, &mut b).is_ok();
            assert_eq!(compiled, general, "{doc}");
            if compiled {
                assert_eq!(a, b, "{doc}");
            }
        }
        // Whatever the alias, `{"id":1,"x":1}` cannot fit it.
        assert!(decode_keyed(r#"{"id":1,"x":1}"#, &ty, &types, Some(&keys), None, &mut Value::Null).is_err());
    }
}
