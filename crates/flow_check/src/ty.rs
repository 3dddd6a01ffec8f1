//! The checker's types: declared types plus what only expressions have (literals, null, the
//! poison type that stops one mistake from causing a cascade of others).

use std::rc::Rc;

use flow_plan as plan;

/// A type as the checker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Poison: something already reported. Accepted everywhere, silently.
    Error,
    /// The `null` literal.
    Null,
    String,
    Int,
    Float,
    Decimal,
    Bool,
    Date,
    DateTime,
    Duration,
    /// A number literal with a fraction: a Decimal, or a Float where one is wanted.
    NumLit,
    /// A string literal: a String, or a member of a union.
    StrLit(Rc<str>),
    /// One of these strings.
    Union(Rc<[String]>),
    Array(Rc<Ty>),
    Object(Rc<[FieldTy]>),
    /// A declared type, by index into the type table.
    Named(usize),
    /// Null or absent, or the inner type.
    Nullable(Rc<Ty>),
    /// `{ [String]: T }`: a dictionary of values of this type, keys in the order they came.
    Dict(Rc<Ty>),
    /// `Json`: any JSON value, passed through untouched.
    Json,
    /// The result of an operation that can fail on valid input (parsing): must be handled with
    /// `catch` where it is produced, so it never reaches a variable or a field.
    Fallible(Rc<Ty>),
    /// `fail(…)`: never produces a value, so it fits anywhere.
    Never,
    /// A declared scalar with its wire form (`DateTime(unix_seconds)`): the scalar everywhere
    /// but at the edges, where JSON is read and written (`resolve` sees through it).
    Formed(Rc<Ty>, Rc<plan::Form>),
    /// `A | B`: one of these types (objects told apart by a tag): `unions.rs`.
    OneOf(Rc<crate::unions::Variants>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldTy {
    pub name: String,
    pub ty: Ty,
    /// Declared `name?: T`: may be absent; output leaves it out when it has no value.
    pub optional: bool,
    /// Declared `name: T | null`: always present, maybe null (its `ty` is nullable); absence is
    /// a mismatch, and a map or an object literal must set it.
    pub present: bool,
}

/// The table of declared types.
#[derive(Debug, Default, Clone)]
pub(crate) struct Types {
    pub names: Vec<String>,
    pub defs: Vec<Ty>,
}

impl Types {
    /// The declared types as the plan holds them, by index.
    pub(crate) fn plan_types(&self) -> Vec<plan::NamedType> {
        self.names
            .iter()
            .zip(&self.defs)
            .map(|(name, ty)| plan::NamedType { name: name.clone(), ty: plan_type(ty) })
            .collect()
    }

    /// The structure behind named types and nullable wrappers' insides stay as they are.
    pub(crate) fn resolve<'a>(&'a self, mut ty: &'a Ty) -> &'a Ty {
        // Alias chains were checked for cycles; the bound is a second guard.
        for _ in 0..64 {
            match ty {
                Ty::Named(i) => match self.defs.get(*i) {
                    Some(t) => ty = t,
                    None => return &Ty::Error,
                },
                Ty::Formed(t, _) => ty = t,
                _ => return ty,
            }
        }
        &Ty::Error
    }

    pub(crate) fn is_nullable(&self, ty: &Ty) -> bool {
        matches!(self.resolve(ty), Ty::Nullable(_) | Ty::Null)
    }

    /// The type without its nullability.
    pub(crate) fn non_null(&self, ty: &Ty) -> Ty {
        match self.resolve(ty) {
            Ty::Nullable(inner) => (**inner).clone(),
            _ => ty.clone(),
        }
    }

    pub(crate) fn is_numeric(&self, ty: &Ty) -> bool {
        matches!(self.resolve(ty), Ty::Int | Ty::Float | Ty::Decimal | Ty::NumLit | Ty::Error)
    }

    pub(crate) fn is_stringy(&self, ty: &Ty) -> bool {
        matches!(self.resolve(ty), Ty::String | Ty::StrLit(_) | Ty::Union(_) | Ty::Error)
    }

    /// A type as the user would write it.
    pub(crate) fn display(&self, ty: &Ty) -> String {
        let mut out = String::new();
        self.write(ty, &mut out, 0);
        out
    }

    fn write(&self, ty: &Ty, out: &mut String, depth: usize) {
        if depth > 3 {
            out.push('…');
            return;
        }
        match ty {
            Ty::Error => out.push_str("{unknown}"),
            Ty::Never => out.push_str("never"),
            Ty::Fallible(t) => self.write(t, out, depth),
            Ty::Null => out.push_str("null"),
            Ty::String => out.push_str("String"),
            Ty::Int => out.push_str("Int"),
            Ty::Float => out.push_str("Float"),
            Ty::Decimal => out.push_str("Decimal"),
            Ty::Bool => out.push_str("Bool"),
            Ty::Date => out.push_str("Date"),
            Ty::DateTime => out.push_str("DateTime"),
            Ty::Duration => out.push_str("Duration"),
            Ty::NumLit => out.push_str("Decimal"),
            // A literal's type is String; unions show their members.
            Ty::StrLit(_) => out.push_str("String"),
            Ty::Union(members) => {
                let parts: Vec<String> = members.iter().map(|m| format!("{m:?}")).collect();
                out.push_str(&parts.join(" | "));
            }
            Ty::Array(t) => {
                out.push('[');
                self.write(t, out, depth + 1);
                out.push(']');
            }
            Ty::Object(fields) => {
                out.push_str("{ ");
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if i == 4 {
                        out.push('…');
                        break;
                    }
                    out.push_str(&flow_syntax::lex::key(&f.name));
                    out.push_str(": ");
                    self.write(&f.ty, out, depth + 1);
                }
                out.push_str(" }");
            }
            Ty::Named(i) => out.push_str(self.names.get(*i).map_or("?", String::as_str)),
            Ty::Formed(t, form) => {
                self.write(t, out, depth);
                out.push('(');
                out.push_str(&form.written());
                out.push(')');
            }
            Ty::Dict(t) => {
                out.push_str("{ [String]: ");
                self.write(t, out, depth + 1);
                out.push_str(" }");
            }
            Ty::Json => out.push_str("Json"),
            Ty::OneOf(u) => {
                for (i, m) in u.members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" | ");
                    }
                    self.write(m, out, depth + 1);
                }
            }
            Ty::Nullable(t) => {
                let union = matches!(**t, Ty::Union(_) | Ty::OneOf(_));
                if union {
                    out.push('(');
                }
                self.write(t, out, depth);
                if union {
                    out.push(')');
                }
                out.push('?');
            }
        }
    }

    /// Whether a value of type `found` may stand where `expected` is wanted; if not, why.
    pub(crate) fn assignable(&self, found: &Ty, expected: &Ty) -> Result<(), Mismatch> {
        self.assignable_in(found, expected, &mut Vec::new())
    }

    /// Compares structurally, however deep. Recursive types are compared coinductively: a pair
    /// of types met again below itself, through a declared type, agrees if nothing on the way
    /// disagreed (`assumed` holds the pairs met so far). Types are finite trees over finitely
    /// many declarations, so the pairs are finitely many and the comparison ends.
    pub(crate) fn assignable_in(&self, found: &Ty, expected: &Ty, assumed: &mut Vec<(Ty, Ty)>) -> Result<(), Mismatch> {
        if let (Ty::Named(a), Ty::Named(b)) = (found, expected) {
            if a == b {
                return Ok(());
            }
        }
        if matches!(found, Ty::Named(_)) || matches!(expected, Ty::Named(_)) {
            if assumed.iter().any(|(f, e)| f == found && e == expected) {
                return Ok(());
            }
            assumed.push((found.clone(), expected.clone()));
        }
        let f = self.resolve(found);
        let e = self.resolve(expected);
        match (f, e) {
            (Ty::Error | Ty::Never, _) | (_, Ty::Error) => Ok(()),
            (Ty::Null, Ty::Nullable(_)) => Ok(()),
            (Ty::Nullable(fi), Ty::Nullable(ei)) => self.assignable_in(fi, ei, assumed),
            (_, Ty::Nullable(ei)) => self.assignable_in(f, ei, assumed),
            (Ty::Null | Ty::Nullable(_), _) => Err(Mismatch::Nullable),
            (_, Ty::OneOf(_)) | (Ty::OneOf(_), _) => self.union_assignable(f, e, assumed),
            (Ty::String | Ty::StrLit(_) | Ty::Union(_), Ty::String) => Ok(()),
            (Ty::StrLit(s), Ty::Union(members)) => {
                if members.iter().any(|m| **m == **s) {
                    Ok(())
                } else {
                    Err(Mismatch::NotInUnion(vec![s.to_string()]))
                }
            }
            (Ty::Union(found), Ty::Union(members)) => {
                let outside: Vec<String> = found.iter().filter(|f| !members.contains(f)).cloned().collect();
                if outside.is_empty() {
                    Ok(())
                } else {
                    Err(Mismatch::NotInUnion(outside))
                }
            }
            (Ty::Int, Ty::Int | Ty::Float | Ty::Decimal) => Ok(()),
            (Ty::NumLit, Ty::Float | Ty::Decimal) => Ok(()),
            (Ty::Float, Ty::Float) | (Ty::Decimal, Ty::Decimal) => Ok(()),
            (Ty::Bool, Ty::Bool)
            | (Ty::Date, Ty::Date)
            | (Ty::DateTime, Ty::DateTime)
            | (Ty::Duration, Ty::Duration) => Ok(()),
            (Ty::Dict(found_value), Ty::Dict(expected_value)) => self
                .assignable_in(found_value, expected_value, assumed)
                .map_err(|m| Mismatch::Inside("[…]".to_string(), Box::new(m))),
            // Any data fits `Json`: it is written as it is. Nothing comes out of `Json` unchecked.
            (_, Ty::Json) if crate::dicts::is_data(self, f) => Ok(()),
            (Ty::Array(found_item), Ty::Array(expected_item)) => self
                .assignable_in(found_item, expected_item, assumed)
                .map_err(|m| Mismatch::Inside(format!("[{}]", "…"), Box::new(m))),
            (Ty::Object(found_fields), Ty::Object(expected_fields)) => {
                for expected in expected_fields.iter() {
                    match found_fields.iter().find(|f| f.name == expected.name) {
                        Some(f) => self
                            .assignable_in(&f.ty, &expected.ty, assumed)
                            .map_err(|m| Mismatch::Inside(expected.name.clone(), Box::new(m)))?,
                        None if self.is_nullable(&expected.ty) && !expected.present => {}
                        None => return Err(Mismatch::MissingField(expected.name.clone())),
                    }
                }
                if let Some(extra) = found_fields.iter().find(|f| !expected_fields.iter().any(|e| e.name == f.name)) {
                    return Err(Mismatch::ExtraField(extra.name.clone()));
                }
                Ok(())
            }
            _ => Err(Mismatch::Different),
        }
    }

    /// The type of `if c then a else b`: both branches' types joined, if they join.
    pub(crate) fn join(&self, a: &Ty, b: &Ty) -> Option<Ty> {
        if a == b {
            return Some(a.clone());
        }
        let (ra, rb) = (self.resolve(a), self.resolve(b));
        Some(match (ra, rb) {
            (Ty::Error, _) | (_, Ty::Error) => Ty::Error,
            (Ty::OneOf(_), _) | (_, Ty::OneOf(_)) => self.union_join(a, b)?,
            (Ty::Never, _) => b.clone(),
            (_, Ty::Never) => a.clone(),
            (Ty::Null, Ty::Nullable(_)) => rb.clone(),
            (Ty::Nullable(_), Ty::Null) => ra.clone(),
            (Ty::Null, _) => Ty::Nullable(Rc::new(b.clone())),
            (_, Ty::Null) => Ty::Nullable(Rc::new(a.clone())),
            (Ty::Nullable(x), Ty::Nullable(y)) => Ty::Nullable(Rc::new(self.join(x, y)?)),
            (Ty::Nullable(x), _) => Ty::Nullable(Rc::new(self.join(x, b)?)),
            (_, Ty::Nullable(y)) => Ty::Nullable(Rc::new(self.join(a, y)?)),
            (Ty::StrLit(_) | Ty::Union(_), Ty::StrLit(_) | Ty::Union(_)) => {
                let mut members: Vec<String> = Vec::new();
                for t in [ra, rb] {
                    match t {
                        Ty::StrLit(s) => members.push(s.to_string()),
                        Ty::Union(m) => members.extend(m.iter().cloned()),
                        _ => {}
                    }
                }
                let mut seen = std::collections::HashSet::new();
                members.retain(|m| seen.insert(m.clone()));
                Ty::Union(members.into())
            }
            (Ty::String | Ty::StrLit(_) | Ty::Union(_), Ty::String | Ty::StrLit(_) | Ty::Union(_)) => Ty::String,
            _ if self.is_numeric(ra) && self.is_numeric(rb) => self.arith(ra, rb).ok()?,
            // Arrays and objects join item by item and field by field, so `[["a"], ["b", "c"]]`
            // and `[{ s: "a" }, { s: "b" }]` have one item type.
            (Ty::Array(x), Ty::Array(y)) => Ty::Array(Rc::new(self.join(x, y)?)),
            (Ty::Dict(x), Ty::Dict(y)) => Ty::Dict(Rc::new(self.join(x, y)?)),
            (Ty::Object(fa), Ty::Object(fb)) if fa.len() == fb.len() => {
                let mut fields = Vec::with_capacity(fa.len());
                for f in fa.iter() {
                    let g = fb.iter().find(|g| g.name == f.name)?;
                    fields.push(FieldTy {
                        name: f.name.clone(),
                        ty: self.join(&f.ty, &g.ty)?,
                        optional: f.optional || g.optional,
                        present: f.present && g.present,
                    });
                }
                Ty::Object(fields.into())
            }
            _ if self.assignable(a, b).is_ok() => b.clone(),
            _ if self.assignable(b, a).is_ok() => a.clone(),
            _ => return None,
        })
    }

    /// The result type of arithmetic on two numeric types.
    pub(crate) fn arith(&self, a: &Ty, b: &Ty) -> Result<Ty, ArithError> {
        use Ty::*;
        Ok(match (self.resolve(a), self.resolve(b)) {
            (Error, _) | (_, Error) => Error,
            (Int, Int) => Int,
            (Float, Decimal) | (Decimal, Float) => return Err(ArithError::DecimalFloat),
            (Float, _) | (_, Float) => Float,
            (Decimal | NumLit | Int, Decimal | NumLit | Int) => Decimal,
            _ => return Err(ArithError::NotNumbers),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArithError {
    DecimalFloat,
    NotNumbers,
}

/// Why a value does not fit where it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mismatch {
    Different,
    Nullable,
    NotInUnion(Vec<String>),
    MissingField(String),
    ExtraField(String),
    /// The mismatch is inside this field (or array items).
    Inside(String, Box<Mismatch>),
}

impl Mismatch {
    /// The innermost reason, and the field path that leads to it.
    pub(crate) fn innermost(&self) -> (String, &Mismatch) {
        let mut path = Vec::new();
        let mut m = self;
        while let Mismatch::Inside(name, inner) = m {
            path.push(name.as_str());
            m = inner;
        }
        (path.join("."), m)
    }
}

/// The plan's form of a checker's type (the checker's own types erased).
pub(crate) fn plan_type(ty: &Ty) -> plan::Type {
    match ty {
        Ty::String => plan::Type::String,
        Ty::Int => plan::Type::Int,
        Ty::Float => plan::Type::Float,
        Ty::Decimal | Ty::NumLit => plan::Type::Decimal,
        Ty::Bool => plan::Type::Bool,
        Ty::Date => plan::Type::Date,
        Ty::DateTime => plan::Type::DateTime,
        Ty::StrLit(s) => plan::Type::Union(vec![s.to_string()]),
        Ty::Union(m) => plan::Type::Union(m.to_vec()),
        Ty::Array(t) => plan::Type::Array(Box::new(plan_type(t))),
        Ty::Object(fields) => plan::Type::Object(
            fields
                .iter()
                .map(|f| plan::Field {
                    name: f.name.as_str().into(),
                    ty: plan_type(&f.ty),
                    optional: f.optional,
                    present: f.present,
                })
                .collect(),
        ),
        Ty::Named(i) => plan::Type::Named(*i),
        Ty::Nullable(t) => plan::Type::Nullable(Box::new(plan_type(t))),
        Ty::Formed(t, form) => plan::Type::Formed(Box::new(plan_type(t)), (**form).clone()),
        Ty::Dict(t) => plan::Type::Dict(Box::new(plan_type(t))),
        Ty::Json => plan::Type::Json,
        Ty::OneOf(u) => plan::Type::OneOf(plan::OneOf {
            variants: u.members.iter().map(plan_type).collect(),
            tag: u.tag().map(plan::Key::new),
        }),
        // Declared types never hold these: the checker only puts them on expressions, and a
        // model exists only when every declaration resolved. Null is the value they could hold.
        Ty::Fallible(t) => plan_type(t),
        Ty::Error | Ty::Null | Ty::Duration | Ty::Never => plan::Type::Nullable(Box::new(plan::Type::String)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(fields: &[(&str, Ty)]) -> Ty {
        Ty::Object(
            fields
                .iter()
                .map(|(n, t)| FieldTy { name: n.to_string(), ty: t.clone(), optional: false, present: false })
                .collect::<Vec<_>>()
                .into(),
        )
    }

    #[test]
    fn assignability() {
        let t = Types::default();
        let union = Ty::Union(vec!["gold".to_string(), "silver".to_string()].into());
        assert!(t.assignable(&Ty::StrLit("gold".into()), &union).is_ok());
        assert_eq!(
            t.assignable(&Ty::StrLit("bronze".into()), &union),
            Err(Mismatch::NotInUnion(vec!["bronze".into()]))
        );
        assert_eq!(t.assignable(&Ty::String, &union), Err(Mismatch::Different));
        let nullable = Ty::Nullable(Rc::new(Ty::String));
        assert_eq!(t.assignable(&nullable, &Ty::String), Err(Mismatch::Nullable));
        assert!(t.assignable(&Ty::Null, &nullable).is_ok());
        assert!(t.assignable(&Ty::Int, &Ty::Decimal).is_ok());
        assert_eq!(t.assignable(&Ty::Float, &Ty::Decimal), Err(Mismatch::Different));
        let want = obj(&[("a", Ty::Int), ("b", nullable.clone())]);
        assert!(t.assignable(&obj(&[("a", Ty::Int)]), &want).is_ok());
        assert_eq!(t.assignable(&obj(&[("b", Ty::Null)]), &want), Err(Mismatch::MissingField("a".into())));
        let m = t.assignable(&obj(&[("a", Ty::String)]), &want).unwrap_err();
        assert_eq!(m.innermost(), ("a".to_string(), &Mismatch::Different));
    }

    #[test]
    fn joins() {
        let t = Types::default();
        let j = t.join(&Ty::StrLit("gold".into()), &Ty::StrLit("silver".into())).unwrap();
        assert_eq!(t.display(&j), "\"gold\" | \"silver\"");
        assert_eq!(t.join(&Ty::Int, &Ty::NumLit), Some(Ty::Decimal));
        assert_eq!(t.display(&t.join(&Ty::Null, &Ty::Int).unwrap()), "Int?");
        assert_eq!(t.join(&Ty::Bool, &Ty::Int), None);
        // Structured types join inside: arrays of different literals, objects field by field.
        let arr = |x: Ty| Ty::Array(Rc::new(x));
        let lit = |s: &str| Ty::StrLit(s.into());
        let j = t.join(&arr(lit("a")), &arr(Ty::Union(vec!["b".to_string(), "c".to_string()].into()))).unwrap();
        assert_eq!(t.display(&j), "[\"a\" | \"b\" | \"c\"]");
        let s_of = |x: Ty| obj(&[("s", x)]);
        let j = t.join(&s_of(lit("a")), &s_of(lit("b"))).unwrap();
        assert_eq!(t.join(&j, &s_of(Ty::String)), Some(s_of(Ty::String)));
        assert_eq!(t.join(&s_of(Ty::Int), &s_of(Ty::Bool)), None);
        assert_eq!(t.join(&s_of(Ty::Int), &obj(&[("s", Ty::Int), ("t", Ty::Int)])), None);
        assert_eq!(t.join(&arr(Ty::Int), &arr(Ty::Bool)), None);
    }
}
