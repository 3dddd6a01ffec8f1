//! Key tables: each object type of a declared type, keyed once for decoding a stream of records
//! of it (`flowc map`), so that a key read from the text finds its field with one hash of its
//! length, first and last bytes and one comparison, instead of being compared with each
//! declared field in turn. Built once per stream ([`Keys::new`]); the decoder looks up an
//! object type's table once per object, and a type without one (or a decoding without tables)
//! is searched field by field as before. Before a key is read at all, the text is compared with
//! the key that came next in the last object of the type ([`KeyTable::expected`]): keys usually
//! come in the same order record after record, and then a key costs one comparison of two words.
//! Either way a key finds the first declared field of its name, so the tables change how fast a
//! field is found, never which.

use std::cell::Cell;

use crate::decode::Nodes;
use crate::{NamedType, Type};
use flow_plan::Field;

/// The most fields a table is built for; a larger object type is searched field by field.
const MAX_FIELDS: usize = 255;

/// The key tables of every object type reachable from one declared type.
pub(crate) struct Keys<'t> {
    /// Each object type's fields (compared by address: the very slice of the plan) beside its
    /// table, sorted by address.
    tables: Vec<(&'t [Field], KeyTable)>,
    /// The declared type the tables were built for, and its decoder compiled
    /// (`decode/compiled.rs`), which finds each object's table by its place in `tables`.
    root: &'t Type,
    nodes: Option<Nodes<'t>>,
}

impl<'t> Keys<'t> {
    /// The tables of `ty` and of every type it reaches, each named type visited once (so a
    /// recursive type is keyed once, not without end).
    pub(crate) fn new(ty: &'t Type, types: &'t [NamedType]) -> Keys<'t> {
        let mut keys = Keys { tables: Vec::new(), root: ty, nodes: None };
        let mut visited = vec![false; types.len()];
        keys.visit(ty, types, &mut visited);
        keys.tables.sort_by_key(|(fields, _)| fields.as_ptr() as usize);
        keys.nodes = Some(Nodes::new(ty, types, &keys));
        keys
    }

    /// The compiled decoder of `ty`, when these are its tables.
    #[inline]
    pub(crate) fn nodes(&self, ty: &Type) -> Option<&Nodes<'t>> {
        self.nodes.as_ref().filter(|_| std::ptr::eq(self.root, ty))
    }

    /// The place in [`Self::table`] of this object type's table, if it has one.
    pub(crate) fn index(&self, fields: &[Field]) -> Option<usize> {
        let at = fields.as_ptr() as usize;
        let i = self.tables.binary_search_by_key(&at, |(f, _)| f.as_ptr() as usize).ok()?;
        (self.tables[i].0.len() == fields.len()).then_some(i)
    }

    /// The table at place `i` (from [`Self::index`]).
    #[inline]
    pub(crate) fn table(&self, i: usize) -> Option<&KeyTable> {
        self.tables.get(i).map(|(_, t)| t)
    }

    fn visit(&mut self, ty: &'t Type, types: &'t [NamedType], visited: &mut [bool]) {
        match ty {
            Type::Named(i) => {
                if let (Some(named), Some(seen)) = (types.get(*i), visited.get_mut(*i)) {
                    if !*seen {
                        *seen = true;
                        self.visit(&named.ty, types, visited);
                    }
                }
            }
            Type::Nullable(inner) | Type::Array(inner) => self.visit(inner, types, visited),
            Type::OneOf(u) => {
                for v in &u.variants {
                    self.visit(v, types, visited);
                }
            }
            Type::Object(fields) => {
                if let Some(table) = KeyTable::new(fields) {
                    self.tables.push((fields, table));
                }
                for f in fields {
                    self.visit(&f.ty, types, visited);
                }
            }
            _ => {}
        }
    }

    /// The table of this object type's fields, if it has one.
    #[inline]
    pub(crate) fn get(&self, fields: &[Field]) -> Option<&KeyTable> {
        let at = fields.as_ptr() as usize;
        let i = self.tables.binary_search_by_key(&at, |(f, _)| f.as_ptr() as usize).ok()?;
        let (f, table) = &self.tables[i];
        // The same slice: the same start and the same length.
        (f.len() == fields.len()).then_some(table)
    }
}

/// One object type's fields by a hash of a key's first eight bytes, length and last byte: each
/// slot holds a field's index plus one (0: none), and each field its first eight bytes as a
/// word, so a key is told from a field by comparing a word and a length (and, past eight bytes,
/// the rest).
pub(crate) struct KeyTable {
    slots: Vec<u8>,
    /// Each field's first eight bytes (as [`word`] reads them) and its length.
    words: Vec<(u64, usize)>,
    /// The multiplier of the hash, chosen so that the fields' slots differ where it can be.
    seed: u64,
    /// How far the hash is shifted: the table has `2^(64 - shift)` slots.
    shift: u32,
    /// Every field is in its own slot, so a key whose slot does not hold its name is no field's.
    /// When two fields hash alike whatever the seed, only one of them can be found by its slot,
    /// and a key missed is searched for field by field.
    exact: bool,
    /// Per field, and last for the object's start: the field whose key came next in the last
    /// object of this type decoded (plus one; 0: none yet). Keys usually come in the same order
    /// record after record, so the next key is first compared with the text where it would be.
    follow: Vec<Cell<u8>>,
    /// Per field: its name and closing quote (`name"`) as two little-endian words with zeros
    /// after, and the masks of their bytes. A name that does not fit in 15 bytes, or that holds
    /// a quote, a backslash or a control byte (whose key is never the name's bytes as written), has
    /// masks of zero and a first word of one, which no text matches.
    quoted: Vec<([u64; 2], [u64; 2])>,
}

impl KeyTable {
    fn new(fields: &[Field]) -> Option<KeyTable> {
        if fields.is_empty() || fields.len() > MAX_FIELDS {
            return None;
        }
        // At least four slots a field, so that a seed without collisions is easy to find.
        let bits = (fields.len() * 4).next_power_of_two().trailing_zeros().max(4);
        let shift = 64 - bits;
        let words: Vec<(u64, usize)> = fields.iter().map(|f| (word(f.name.as_bytes()), f.name.len())).collect();
        let mut best: Option<KeyTable> = None;
        for seed in SEEDS {
            let mut slots = vec![0u8; 1 << bits];
            let mut exact = true;
            for (i, f) in fields.iter().enumerate() {
                // The first field of a name wins, as in a search from the first field on.
                if fields[..i].iter().any(|g| g.name == f.name) {
                    continue;
                }
                let s = slot(f.name.as_bytes(), words[i].0, seed, shift);
                if slots[s] == 0 {
                    slots[s] = u8::try_from(i + 1).ok()?;
                } else {
                    exact = false;
                }
            }
            let table = KeyTable {
                slots,
                words: words.clone(),
                seed,
                shift,
                exact,
                follow: vec![Cell::new(0); fields.len() + 1],
                quoted: fields.iter().map(|f| quoted(f.name.as_bytes())).collect(),
            };
            if exact {
                return Some(table);
            }
            if best.is_none() {
                best = Some(table);
            }
        }
        best
    }

    /// The index of the first declared field named `key`, if any. `fields` are the fields the
    /// table was built from ([`Keys::get`] gives a table only for its own).
    // Inlined into the decoder's object loop: a call would cost as much as the lookup.
    #[inline(always)]
    pub(crate) fn find(&self, fields: &[Field], key: &[u8]) -> Option<usize> {
        let w = word(key);
        let at = usize::from(self.slots[slot(key, w, self.seed, self.shift)]);
        if let Some(i) = at.checked_sub(1) {
            if let (Some(&(fw, len)), Some(f)) = (self.words.get(i), fields.get(i)) {
                if fw == w && len == key.len() && (len <= 8 || rest_same(&f.name.as_bytes()[8..], &key[8..])) {
                    return Some(i);
                }
            }
        }
        if self.exact {
            None
        } else {
            fields.iter().position(|f| f.name.as_bytes() == key)
        }
    }
}

impl KeyTable {
    /// The field whose key is expected next in an object of this type, after field `after` (the
    /// number of fields: at the object's start), when the text at `i` is exactly that key, its
    /// quotes included: the field and where its key ends. `None` (nothing read) otherwise: the
    /// key is then read and found as usual. A key written exactly as a declared name, with no
    /// escape, is that name, so this finds what [`Self::find`] finds for it (the expected field
    /// is only ever one [`Self::find`] found, the first of its name).
    #[inline(always)]
    pub(crate) fn expected(&self, after: usize, b: &[u8], i: usize) -> Option<(usize, usize)> {
        let f = usize::from(self.follow.get(after)?.get()).checked_sub(1)?;
        let ([w0, w1], [m0, m1]) = *self.quoted.get(f)?;
        let text = b.get(i..i + 17)?;
        let (Some(lo), Some(hi)) = (text[1..].first_chunk::<8>(), text[9..].first_chunk::<8>()) else { return None };
        if text[0] == b'"' && u64::from_le_bytes(*lo) & m0 == w0 && u64::from_le_bytes(*hi) & m1 == w1 {
            let len = self.words.get(f)?.1;
            Some((f, i + len + 2))
        } else {
            None
        }
    }

    /// Notes that field `next`'s key came after field `after`'s (or the object's start).
    #[inline]
    pub(crate) fn learn(&self, after: usize, next: usize) {
        if let (Some(cell), Ok(next)) = (self.follow.get(after), u8::try_from(next + 1)) {
            cell.set(next);
        }
    }
}

/// A name and its closing quote as two words and their masks (see [`KeyTable::quoted`]).
fn quoted(name: &[u8]) -> ([u64; 2], [u64; 2]) {
    if name.len() > 15 || name.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20) {
        return ([1, 0], [0, 0]);
    }
    let mut bytes = [0u8; 16];
    bytes[..name.len()].copy_from_slice(name);
    bytes[name.len()] = b'"';
    let mut mask = [0u8; 16];
    mask[..=name.len()].fill(0xFF);
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    ([word(&bytes[..8]), word(&bytes[8..])], [word(&mask[..8]), word(&mask[8..])])
}

/// Odd multipliers tried in turn for a hash without collisions.
const SEEDS: [u64; 8] = [
    0x9E37_79B9_7F4A_7C15,
    0xBF58_476D_1CE4_E5B9,
    0x94D0_49BB_1331_11EB,
    0xD6E8_FEB8_6659_FD93,
    0xA076_1D64_78BD_642F,
    0xE703_7ED1_A0B4_28DB,
    0x8EBC_6AF0_9C88_C6E3,
    0x5899_65CC_7537_4CC3,
];

/// The slot of a key: its first eight bytes, its length and its last byte, multiplied, and the
/// top bits taken.
#[inline(always)]
fn slot(key: &[u8], word: u64, seed: u64, shift: u32) -> usize {
    let last = u64::from(key.last().copied().unwrap_or(0));
    let tail = ((key.len() as u64) << 8 | last).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    ((word ^ tail).wrapping_mul(seed) >> shift) as usize
}

/// The first eight bytes of `b` as a little-endian word, zeros after its end: read with two
/// overlapping loads, never byte by byte.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let n = b.len();
    if let Some(w) = b.first_chunk::<8>() {
        u64::from_le_bytes(*w)
    } else if let (Some(lo), Some(hi)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << (8 * (n - 4))
    } else if let (Some(lo), Some(hi)) = (b.first_chunk::<2>(), b.last_chunk::<2>()) {
        u64::from(u16::from_le_bytes(*lo)) | u64::from(u16::from_le_bytes(*hi)) << (8 * (n - 2))
    } else {
        b.first().map_or(0, |&c| u64::from(c))
    }
}

/// Whether the bytes of two names past their first eight (of equal lengths) are the same.
#[inline]
fn rest_same(a: &[u8], b: &[u8]) -> bool {
    let (mut a, mut b) = (a, b);
    while a.len() > 8 {
        if word(a) != word(b) {
            return false;
        }
        (a, b) = (&a[8..], b.get(8..).unwrap_or_default());
    }
    a.len() == b.len() && word(a) == word(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn fields(names: &[&str]) -> Vec<Field> {
        names.iter().map(|n| Field { name: (*n).into(), ty: Type::Int, optional: false, present: false }).collect()
    }

    /// What a search from the first field on finds: the reference the table must agree with.
    fn search(fields: &[Field], key: &[u8]) -> Option<usize> {
        fields.iter().position(|f| f.name.as_bytes() == key)
    }

    #[test]
    fn a_table_finds_what_a_search_from_the_first_field_finds() {
        let cases: [&[&str]; 6] = [
            &["id", "name", "email", "phone", "status", "address", "tags", "created_at", "order"],
            // Same length, first and last bytes: only one can be found by its slot.
            &["cat", "cut", "cot", "c", "", "ct"],
            // A name declared twice: the first wins.
            &["a", "b", "a"],
            &["a_rather_long_field_name_1", "a_rather_long_field_name_2", "a_rather_long_field_name_"],
            &["ü", "é", "ée", "名前"],
            &["x"],
        ];
        let probes: &[&[u8]] = &[
            b"",
            b"c",
            b"ct",
            b"cat",
            b"cut",
            b"cot",
            b"cbt",
            b"a",
            b"b",
            b"id",
            b"order",
            b"orders",
            b"tags ",
            b"a_rather_long_field_name_1",
            b"a_rather_long_field_name_3",
            b"a_rather_long_field_name_",
            "ü".as_bytes(),
            "ée".as_bytes(),
            "名前".as_bytes(),
            b"x",
            b"y",
            b"name\0",
        ];
        for names in cases {
            let fields = fields(names);
            let table = KeyTable::new(&fields).expect("a table for a small object type");
            for name in names {
                assert_eq!(
                    table.find(&fields, name.as_bytes()),
                    search(&fields, name.as_bytes()),
                    "{name:?} in {names:?}"
                );
            }
            for key in probes {
                assert_eq!(table.find(&fields, key), search(&fields, key), "{key:?} in {names:?}");
            }
        }
        let long: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        assert!(KeyTable::new(&fields(&long)).is_none(), "an object type too large for a table is searched");
        assert!(KeyTable::new(&[]).is_none());
    }

    /// The key expected next is taken only when the text is exactly its name between quotes:
    /// never a longer key it begins, an escaped spelling, a key after whitespace, text too short
    /// to compare, or a name that a key cannot spell as written or that is too long to compare.
    #[test]
    fn an_expected_key_is_taken_only_when_the_text_is_exactly_it() {
        let names = ["id", "name", "ü", "fifteen_bytes_x", "sixteen_bytes_xy", "a\"b", "a\\b", "tab\t"];
        let fields = fields(&names);
        let table = KeyTable::new(&fields).expect("a table");
        let start = fields.len();
        // Nothing learnt yet: nothing expected.
        assert_eq!(table.expected(start, br#""id":1,"name":"a long enough line""#, 0), None);
        let pad = r#":1,"rest":"enough text after the key to compare it whole""#;
        for (f, name) in names.iter().enumerate() {
            table.learn(start, f);
            let text = format!("\"{name}\"{pad}");
            let want = (name.len() <= 15 && !name.contains(['"', '\\', '\t'])).then_some((f, name.len() + 2));
            assert_eq!(table.expected(start, text.as_bytes(), 0), want, "{name:?}");
            // The same key later in the text, at its own offset.
            let text = format!(r#"{{"x":0,"{name}"{pad}"#);
            assert_eq!(table.expected(start, text.as_bytes(), 7), want.map(|(f, end)| (f, end + 7)), "{name:?}");
        }
        table.learn(start, 0);
        for text in [
            r#""idx":1,"name":"a long enough line""#,
            r#""i":1,"name":"a long enough line""#,
            r#""\u0069d":1,"name":"a long enough line""#,
            r#" "id":1,"name":"a long enough line""#,
            r#"id":1,"name":"a long enough line""#,
            r#""ID":1,"name":"a long enough line""#,
            r#""id":1"#,
        ] {
            assert_eq!(table.expected(start, text.as_bytes(), 0), None, "{text}");
        }
        // What follows each field is learnt apart, and a new order replaces the old.
        table.learn(0, 1);
        assert_eq!(table.expected(0, br#""name":"a long enough line""#, 0), Some((1, 6)));
        assert_eq!(table.expected(1, br#""name":"a long enough line""#, 0), None);
        table.learn(0, 2);
        assert_eq!(table.expected(0, br#""name":"a long enough line""#, 0), None);
        assert_eq!(table.expected(0, "\"ü\":\"a long enough line\"".as_bytes(), 0), Some((2, 4)));
    }

    #[test]
    fn a_word_is_the_first_eight_bytes_with_zeros_after() {
        for n in 0..=12 {
            let b: Vec<u8> = (1..=n).map(|i| i as u8 * 17).collect();
            let mut want = [0u8; 8];
            for (w, c) in want.iter_mut().zip(&b) {
                *w = *c;
            }
            assert_eq!(word(&b), u64::from_le_bytes(want), "{n} bytes");
        }
        assert!(rest_same(b"abcdefghi", b"abcdefghi") && !rest_same(b"abcdefghi", b"abcdefghj"));
    }

    #[test]
    fn every_object_type_reachable_is_keyed_once_recursive_ones_included() {
        // type Node { name: String, children: [Node], parent: Node? }, reached through an array.
        let node = Type::Object(vec![
            Field { name: "name".into(), ty: Type::String, optional: false, present: false },
            Field {
                name: "children".into(),
                ty: Type::Array(Box::new(Type::Named(0))),
                optional: false,
                present: false,
            },
            Field {
                name: "parent".into(),
                ty: Type::Nullable(Box::new(Type::Named(0))),
                optional: false,
                present: false,
            },
        ]);
        let types = vec![NamedType { name: "Node".into(), ty: node }];
        let root = Type::Object(vec![
            Field { name: "root".into(), ty: Type::Named(0), optional: false, present: false },
            Field {
                name: "extra".into(),
                ty: Type::Array(Box::new(Type::Object(fields(&["k"])))),
                optional: true,
                present: false,
            },
        ]);
        let keys = Keys::new(&root, &types);
        assert_eq!(keys.tables.len(), 3);
        let Type::Object(root_fields) = &root else { unreachable!() };
        assert_eq!(keys.get(root_fields).map(|t| t.find(root_fields, b"extra")), Some(Some(1)));
        let Type::Object(node_fields) = &types[0].ty else { unreachable!() };
        assert_eq!(keys.get(node_fields).map(|t| t.find(node_fields, b"parent")), Some(Some(2)));
        // A slice that is not one of the plan's own has no table: it is searched.
        let other = fields(&["name", "children", "parent"]);
        assert!(keys.get(&other).is_none());
    }

    /// Documents decoded with the key tables and without them: the same verdict and the same
    /// value, for escaped, repeated, unknown and absent keys, nested and recursive objects, and
    /// an object type whose names collide in the table (searched past it).
    #[test]
    fn decoding_with_key_tables_gives_what_decoding_without_them_gives() {
        let f = |name: &str, ty: Type| Field { name: name.into(), ty, optional: false, present: false };
        let opt = |name: &str, ty: Type| Field {
            name: name.into(),
            ty: Type::Nullable(Box::new(ty)),
            optional: true,
            present: false,
        };
        let node = Type::Object(vec![
            f("name", Type::String),
            f("kids", Type::Array(Box::new(Type::Named(0)))),
            opt("parent", Type::Named(0)),
        ]);
        let types = vec![NamedType { name: "Node".into(), ty: node }];
        let ty = Type::Object(vec![
            f("id", Type::Int),
            f("total", Type::Decimal),
            opt("note", Type::String),
            f("a_rather_long_name_1", Type::Int),
            f("a_rather_long_name_2", Type::Int),
            f("tree", Type::Named(0)),
            f("pair", Type::Object(vec![f("ab", Type::Int), f("a\u{0}b", Type::Int), f("", Type::Bool)])),
        ]);
        let tree = r#"{"name":"r","kids":[{"name":"k","kids":[],"parent":{"name":"p","kids":[]}}]}"#;
        let rest = r#""a_rather_long_name_1":1,"a_rather_long_name_2":2,"pair":{"ab":1,"a\u0000b":2,"":true}"#;
        let docs = [
            format!(r#"{{"id":1,"total":12345678901234567890.12345678,"note":"n","tree":{tree},{rest}}}"#),
            // Keys in another order, an optional one absent, unknown ones skipped.
            format!(r#"{{{rest},"tree":{tree},"x":{{"id":2}},"total":"0.10","id":2,"zz":[1]}}"#),
            // Escaped keys, a repeated key (the last wins), and a key only its escape tells apart.
            format!(r#"{{"\u0069d":3,"id":4,"tot\u0061l":1.5,"tree":{tree},{rest},"a_rather_long_name_3":0}}"#),
            // After documents that begin with `id`: a key it begins, then its escaped spelling, and
            // whitespace before the keys, none of them taken for the key expected.
            format!(r#"{{"idx":5,"\u0069d":5,"total":2,"tree":{tree},{rest}}}"#),
            format!(r#"{{ "id" :6, "total":3,"tree":{tree},{rest}}}"#),
            // Missing required fields, and a wrong type under a matched key: refused alike.
            format!(r#"{{"id":1,"tree":{tree},{rest}}}"#),
            format!(r#"{{"id":"1","total":1,"tree":{tree},{rest}}}"#),
            r#"{"id":1,"total":1,"tree":{"name":"r","kids":[{"name":1,"kids":[]}]}}"#.to_string(),
            // More digits than a Decimal holds (31): refused, never rounded.
            format!(r#"{{"id":1,"total":123456789012345678901234567890.1,"tree":{tree},{rest}}}"#),
        ];
        let keys = Keys::new(&ty, &types);
        // The same documents again, each twice and in turn, so that the key expected next
        // (learnt from the document before) is right, then wrong.
        let docs: Vec<String> = docs.iter().chain(&docs).flat_map(|d| [d.clone(), d.clone()]).collect();
        let Type::Object(top) = &ty else { unreachable!() };
        let Some(Type::Object(pair)) = top.last().map(|f| &f.ty) else { unreachable!() };
        assert!(keys.get(pair).is_some_and(|t| t.find(pair, b"") == Some(2)));
        let (mut with, mut without) = (Value::Null, Value::Null);
        for (i, doc) in docs.iter().enumerate() {
            let a = crate::decode::decode_keyed(doc, &ty, &types, Some(&keys), None, &mut with).is_ok();
            let b = crate::decode::decode_keyed(doc, &ty, &types, None, None, &mut without).is_ok();
            assert_eq!(a, b, "{doc}");
            assert_eq!(a, i % 18 < 10, "document {i}: {doc}");
            if a {
                assert_eq!(with, without, "{doc}");
                assert_eq!(with, crate::decode_text(doc, &ty, &types).expect("fits"), "{doc}");
            }
        }
        // The value read is the last of a repeated key, and the Decimal is exact.
        let v = crate::decode_text(&docs[4], &ty, &types).expect("fits");
        let Value::Object(fields) = &v else { unreachable!() };
        assert_eq!(fields[0].1, Value::Int(4));
        let v = crate::decode_text(&docs[0], &ty, &types).expect("fits");
        let Value::Object(fields) = &v else { unreachable!() };
        let Value::Decimal(total) = &fields[1].1 else { unreachable!() };
        assert_eq!(total.to_string(), "12345678901234567890.12345678");
    }
}
