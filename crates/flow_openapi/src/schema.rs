//! JSON Schema (as OpenAPI 3.0 and 3.1 write it) to `.flow` types. What a type cannot say is
//! kept as a [`Loss`] at the place it happened, never dropped.

use std::collections::HashMap;

use serde_json::Value;

/// A `.flow` type, as the importer builds it before printing.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    /// A declared type's name.
    Named(String),
    /// A built-in type, or one with a wire form: `String`, `DateTime(unix_seconds)`.
    Prim(&'static str),
    /// `"a" | "b"`.
    Lits(Vec<String>),
    Array(Box<Ty>),
    Dict(Box<Ty>),
    Object(Vec<Field>),
    /// A union of types (each of another JSON kind, objects told apart by a tag).
    Union(Vec<Ty>),
    Json,
    Nullable(Box<Ty>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Field {
    pub name: String,
    pub optional: bool,
    pub ty: Ty,
    /// The spec also allows null here: said by `ty` itself, except for an optional field, whose
    /// `Nullable` is dropped from `ty` (`name?: T` takes null already) and kept here.
    pub null: bool,
    /// What this field's type could not say (printed as comments before the field).
    pub losses: Vec<String>,
}

impl Ty {
    pub(crate) fn nullable(self) -> Ty {
        match self {
            Ty::Nullable(_) | Ty::Json => self,
            t => Ty::Nullable(Box::new(t)),
        }
    }

    pub(crate) fn non_null(&self) -> &Ty {
        match self {
            Ty::Nullable(t) => t,
            t => t,
        }
    }
}

/// The JSON kinds a union member takes (E0230: each kind at most once).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Str,
    Num,
    StrOrNum,
    Bool,
    Arr,
    Obj,
}

/// Where a `$ref` into the spec's schemas leads: the name its type has in the output.
pub(crate) struct Convert<'a> {
    pub spec: &'a Value,
    /// `#/components/schemas/X` (or `#/definitions/X`) → the type's name.
    pub names: &'a HashMap<String, String>,
}

/// The JSON value a local reference (`#/a/b`) points at.
pub(crate) fn resolve<'v>(spec: &'v Value, reference: &str) -> Option<&'v Value> {
    spec.pointer(reference.strip_prefix('#')?)
}

const MAX_DEPTH: usize = 48;

impl Convert<'_> {
    /// A schema with every `$ref` that is not a named schema followed (parameters, responses).
    pub(crate) fn deref<'v>(&'v self, mut s: &'v Value) -> &'v Value {
        for _ in 0..MAX_DEPTH {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => match resolve(self.spec, r) {
                    Some(t) => s = t,
                    None => return s,
                },
                None => return s,
            }
        }
        s
    }

    /// The type of a schema; `losses` gets what it cannot say, each with where (`at`).
    pub(crate) fn ty(&self, s: &Value, at: &str, losses: &mut Vec<String>) -> Ty {
        self.ty_at(s, at, losses, 0)
    }

    fn ty_at(&self, s: &Value, at: &str, losses: &mut Vec<String>, depth: usize) -> Ty {
        let t = self.ty_inner(s, at, losses, depth);
        if is_nullable(s) {
            t.nullable()
        } else {
            t
        }
    }

    fn ty_inner(&self, s: &Value, at: &str, losses: &mut Vec<String>, depth: usize) -> Ty {
        if depth > MAX_DEPTH {
            losses.push(format!("{at}: nested deeper than {MAX_DEPTH} levels: `Json`"));
            return Ty::Json;
        }
        let Some(obj) = s.as_object() else {
            // `true` (any value) or `false` (none) as a schema.
            return Ty::Json;
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            if let Some(name) = self.names.get(r) {
                return Ty::Named(name.clone());
            }
            return match resolve(self.spec, r) {
                Some(t) if r.starts_with('#') => self.ty_at(t, at, losses, depth + 1),
                _ => {
                    losses.push(format!("{at}: the reference `{r}` is outside this file or does not resolve: `Json`"));
                    Ty::Json
                }
            };
        }
        if let Some(members) = obj.get("allOf").and_then(Value::as_array) {
            return self.all_of(s, members, at, losses, depth);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(members) = obj.get(key).and_then(Value::as_array) {
                return self.union(obj, members, key, at, losses, depth);
            }
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            return self.enumeration(obj, values, at, losses);
        }
        if let Some(c) = obj.get("const") {
            return match c.as_str() {
                Some(text) => Ty::Lits(vec![text.to_string()]),
                None => {
                    losses.push(format!("{at}: the constant {c} is not checked: its type only"));
                    self.by_type(obj, at, losses, depth)
                }
            };
        }
        self.by_type(obj, at, losses, depth)
    }

    fn by_type(&self, obj: &serde_json::Map<String, Value>, at: &str, losses: &mut Vec<String>, depth: usize) -> Ty {
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
            _ => Vec::new(),
        };
        let format = obj.get("format").and_then(Value::as_str).unwrap_or("");
        match types.as_slice() {
            [] if obj.contains_key("properties") || obj.contains_key("additionalProperties") => {
                self.object(obj, at, losses, depth)
            }
            [] => Ty::Json,
            [one] => self.one_type(one, format, obj, at, losses, depth),
            many => {
                let members: Vec<Ty> = many.iter().map(|t| self.one_type(t, format, obj, at, losses, depth)).collect();
                self.union_of(members, at, losses)
            }
        }
    }

    fn one_type(
        &self,
        t: &str,
        format: &str,
        obj: &serde_json::Map<String, Value>,
        at: &str,
        losses: &mut Vec<String>,
        depth: usize,
    ) -> Ty {
        match t {
            "string" => Ty::Prim(match format {
                "date-time" => "DateTime",
                "date" => "Date",
                "unix-time" => "DateTime(unix_seconds, string)",
                "decimal" => "Decimal(string)",
                _ => "String",
            }),
            "integer" => Ty::Prim(if format == "unix-time" { "DateTime(unix_seconds)" } else { "Int" }),
            "number" => Ty::Prim(match format {
                "unix-time" => "DateTime(unix_seconds)",
                "float" | "double" => "Float",
                _ => "Decimal(number)",
            }),
            "boolean" => Ty::Prim("Bool"),
            "array" => self.array(obj, at, losses, depth),
            "object" => self.object(obj, at, losses, depth),
            other => {
                losses.push(format!("{at}: the type `{other}` is not known: `Json`"));
                Ty::Json
            }
        }
    }

    fn array(&self, obj: &serde_json::Map<String, Value>, at: &str, losses: &mut Vec<String>, depth: usize) -> Ty {
        match obj.get("items") {
            Some(items) => {
                let item = self.ty_at(items, &format!("{at}[]"), losses, depth + 1);
                Ty::Array(Box::new(item))
            }
            None => Ty::Array(Box::new(Ty::Json)),
        }
    }

    fn object(&self, obj: &serde_json::Map<String, Value>, at: &str, losses: &mut Vec<String>, depth: usize) -> Ty {
        let extra =
            obj.get("additionalProperties").or_else(|| obj.get("patternProperties").and(Some(&Value::Bool(true))));
        let props = obj.get("properties").and_then(Value::as_object).filter(|p| !p.is_empty());
        let Some(props) = props else {
            return match extra {
                Some(Value::Bool(false)) => {
                    losses.push(format!("{at}: an object that allows no field: `Json`"));
                    Ty::Json
                }
                Some(Value::Object(m)) if !m.is_empty() => {
                    Ty::Dict(Box::new(self.ty_at(&Value::Object(m.clone()), &format!("{at}[key]"), losses, depth + 1)))
                }
                _ => Ty::Dict(Box::new(Ty::Json)),
            };
        };
        if matches!(extra, Some(v) if v != &Value::Bool(false)) {
            losses.push(format!(
                "{at}: keys beyond the declared fields (additionalProperties) are not kept: a type has fields or is a dictionary"
            ));
        }
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Ty::Object(self.fields(props, &required, at, depth))
    }

    pub(crate) fn fields(
        &self,
        props: &serde_json::Map<String, Value>,
        required: &[&str],
        at: &str,
        depth: usize,
    ) -> Vec<Field> {
        props
            .iter()
            .map(|(name, schema)| {
                let mut field_losses = Vec::new();
                let here = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
                let mut ty = self.ty_at(schema, &here, &mut field_losses, depth + 1);
                let optional = !required.contains(&name.as_str());
                let null = matches!(ty, Ty::Nullable(_));
                if optional {
                    // `name?: T` already takes null.
                    if let Ty::Nullable(inner) = ty {
                        ty = *inner;
                    }
                }
                Field { name: name.clone(), optional, ty, null, losses: field_losses }
            })
            .collect()
    }

    /// `allOf`: the members' fields, merged (a field in several keeps the type the schema's own
    /// `properties` give it, else the last member's that has it; it is required when any member
    /// requires it). Members that only annotate (a `description`, an `example`) are not members;
    /// members that are not objects (a `$ref` to a string) cannot be merged: one alone is that
    /// type, several are `Json`, with the loss said.
    fn all_of(&self, s: &Value, members: &[Value], at: &str, losses: &mut Vec<String>, depth: usize) -> Ty {
        const SHAPES: [&str; 9] =
            ["type", "properties", "allOf", "oneOf", "anyOf", "items", "enum", "additionalProperties", "$ref"];
        let shaped = |m: &Value| m.as_object().is_some_and(|o| SHAPES.iter().any(|k| o.contains_key(*k)));
        let real: Vec<&Value> = members.iter().filter(|m| shaped(m)).collect();
        if real.len() == 1 && s.get("properties").is_none() {
            return self.ty_at(real[0], at, losses, depth + 1);
        }
        let not_object = |m: &Value| {
            let m = self.deref(m);
            m.get("type").and_then(Value::as_str).is_some_and(|t| t != "object")
        };
        if real.iter().any(|m| not_object(m)) {
            losses.push(format!(
                "{at}: an `allOf` of members that are not all objects cannot be merged: imported as Json"
            ));
            return Ty::Json;
        }
        let mut props = serde_json::Map::new();
        let mut required: Vec<String> = Vec::new();
        let mut pending: Vec<&Value> = real;
        pending.push(s);
        let mut seen = 0;
        while let Some(m) = pending.pop() {
            seen += 1;
            if seen > 256 {
                losses.push(format!(
                    "{at}: an `allOf` of more than 256 members: the fields of the rest are not merged in"
                ));
                break;
            }
            let m = self.deref(m);
            if let Some(inner) = m.get("allOf").and_then(Value::as_array) {
                pending.extend(inner.iter());
            }
            if m.get("oneOf").is_some() || m.get("anyOf").is_some() {
                losses.push(format!("{at}: an `allOf` member that is a `oneOf`/`anyOf`: its fields are not merged in"));
            }
            if let Some(p) = m.get("properties").and_then(Value::as_object) {
                for (k, v) in p {
                    props.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            if let Some(r) = m.get("required").and_then(Value::as_array) {
                required.extend(r.iter().filter_map(Value::as_str).map(str::to_string));
            }
        }
        if props.is_empty() {
            return Ty::Dict(Box::new(Ty::Json));
        }
        let required: Vec<&str> = required.iter().map(String::as_str).collect();
        Ty::Object(self.fields(&props, &required, at, depth))
    }

    fn enumeration(
        &self,
        obj: &serde_json::Map<String, Value>,
        values: &[Value],
        at: &str,
        losses: &mut Vec<String>,
    ) -> Ty {
        let texts: Vec<String> = values.iter().filter_map(Value::as_str).map(str::to_string).collect();
        let non_null = values.iter().filter(|v| !v.is_null()).count();
        if !texts.is_empty() && texts.len() == non_null {
            let mut unique: Vec<String> = Vec::new();
            for t in texts {
                if !unique.contains(&t) {
                    unique.push(t);
                }
            }
            return Ty::Lits(unique);
        }
        let shown: Vec<String> = values.iter().take(6).map(Value::to_string).collect();
        losses.push(format!("{at}: the enumeration [{}] is not checked: its type only", shown.join(", ")));
        let mut ignore = Vec::new();
        let mut rest = obj.clone();
        rest.remove("enum");
        if rest.get("type").is_none() {
            return Ty::Json;
        }
        self.by_type(&rest, at, &mut ignore, 0)
    }

    fn union(
        &self,
        obj: &serde_json::Map<String, Value>,
        members: &[Value],
        key: &str,
        at: &str,
        losses: &mut Vec<String>,
        depth: usize,
    ) -> Ty {
        let real: Vec<&Value> = members.iter().filter(|m| !is_null_schema(self.deref(m))).collect();
        let nullable = real.len() < members.len();
        let t = match real.as_slice() {
            [] => Ty::Json,
            [one] => {
                // Stripe: `anyOf: [{$ref}]` beside `nullable: true`; the sibling keys stay.
                let t = self.ty_at(one, at, losses, depth + 1);
                if obj.contains_key("properties") {
                    losses.push(format!("{at}: fields beside `{key}` are not merged in"));
                }
                t
            }
            many => {
                let tys: Vec<Ty> = many
                    .iter()
                    .enumerate()
                    .map(|(i, m)| self.ty_at(m, &format!("{at}|{}", i + 1), losses, depth + 1))
                    .collect();
                self.union_of(tys, at, losses)
            }
        };
        if nullable {
            t.nullable()
        } else {
            t
        }
    }

    /// A union `.flow` can decode: string-literal unions merged, each JSON kind at most once, the
    /// object members told apart by a tag. Otherwise `Json`, with the reason.
    pub(crate) fn union_of(&self, members: Vec<Ty>, at: &str, losses: &mut Vec<String>) -> Ty {
        let mut nullable = false;
        let mut flat: Vec<Ty> = Vec::new();
        for m in members {
            let m = match m {
                Ty::Nullable(t) => {
                    nullable = true;
                    *t
                }
                t => t,
            };
            match m {
                Ty::Union(inner) => flat.extend(inner),
                Ty::Json => {
                    losses.push(format!("{at}: a union with a member of any JSON value: `Json`"));
                    return Ty::Json;
                }
                t if !flat.contains(&t) => flat.push(t),
                _ => {}
            }
        }
        // String literals join into one union of strings; beside `String` they are that.
        let lits: Vec<String> =
            flat.iter().filter_map(|t| if let Ty::Lits(l) = t { Some(l.clone()) } else { None }).flatten().collect();
        if !lits.is_empty() {
            flat.retain(|t| !matches!(t, Ty::Lits(_)));
            if !flat.contains(&Ty::Prim("String")) {
                flat.insert(0, Ty::Lits(lits));
            }
        }
        let t = if flat.len() == 1 {
            flat.pop().unwrap_or(Ty::Json)
        } else {
            match self.kinds_ok(&flat) {
                Ok(()) => Ty::Union(flat),
                Err(why) => {
                    losses.push(format!("{at}: a union of {}: {why}: `Json`", describe(&flat)));
                    Ty::Json
                }
            }
        };
        if nullable {
            t.nullable()
        } else {
            t
        }
    }

    fn kinds_ok(&self, members: &[Ty]) -> Result<(), String> {
        let mut kinds: Vec<Kind> = Vec::new();
        let mut objects: Vec<&Ty> = Vec::new();
        for m in members {
            let Some(k) = self.kind(m, 0) else {
                return Err("a member that is itself a union or any JSON".into());
            };
            if k == Kind::Obj {
                objects.push(m);
                continue;
            }
            let clash = kinds.iter().any(|have| {
                *have == k
                    || (*have == Kind::StrOrNum && matches!(k, Kind::Str | Kind::Num))
                    || (k == Kind::StrOrNum && matches!(have, Kind::Str | Kind::Num))
            });
            if clash {
                return Err("two members JSON writes the same way".into());
            }
            kinds.push(k);
        }
        if objects.len() > 1 && self.tag(&objects).is_none() {
            return Err("several objects without a tag (a required field of string literals, different in each)".into());
        }
        Ok(())
    }

    fn kind(&self, t: &Ty, depth: usize) -> Option<Kind> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match t {
            Ty::Prim(p) => match *p {
                "Int" | "Float" | "Decimal(number)" | "DateTime(unix_seconds)" => Kind::Num,
                "Bool" => Kind::Bool,
                "Decimal" => Kind::StrOrNum,
                _ => Kind::Str,
            },
            Ty::Lits(_) => Kind::Str,
            Ty::Array(_) => Kind::Arr,
            Ty::Dict(_) | Ty::Object(_) => Kind::Obj,
            Ty::Named(n) => {
                let schema = self.schema_of(n)?;
                let mut ignore = Vec::new();
                let t = self.ty_inner(schema, "", &mut ignore, depth + 1);
                if is_nullable(schema) {
                    return None;
                }
                return self.kind(&t, depth + 1);
            }
            Ty::Union(_) | Ty::Json | Ty::Nullable(_) => return None,
        })
    }

    pub(crate) fn schema_of(&self, name: &str) -> Option<&Value> {
        let pointer = self.names.iter().find(|(_, n)| n.as_str() == name).map(|(p, _)| p)?;
        resolve(self.spec, pointer)
    }

    /// The fields of an object member (a named type's, or an inline object's).
    fn member_fields(&self, t: &Ty) -> Option<Vec<Field>> {
        match t {
            Ty::Object(f) => Some(f.clone()),
            Ty::Named(n) => {
                let schema = self.schema_of(n)?;
                let mut ignore = Vec::new();
                match self.ty_inner(schema, "", &mut ignore, 1) {
                    Ty::Object(f) => Some(f),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The tag several object members are told apart by: the first field of the first member that
    /// every member has, required, as string literals, with no value in two members.
    fn tag(&self, objects: &[&Ty]) -> Option<String> {
        let fields: Vec<Vec<Field>> = objects.iter().map(|o| self.member_fields(o)).collect::<Option<_>>()?;
        'candidates: for f in &fields[0] {
            let mut seen: Vec<&String> = Vec::new();
            for member in &fields {
                let Some(g) = member.iter().find(|g| g.name == f.name) else { continue 'candidates };
                let Ty::Lits(values) = &g.ty else { continue 'candidates };
                if g.optional {
                    continue 'candidates;
                }
                for v in values {
                    if seen.contains(&v) {
                        continue 'candidates;
                    }
                    seen.push(v);
                }
            }
            return Some(f.name.clone());
        }
        None
    }
}

fn describe(members: &[Ty]) -> String {
    let names: Vec<String> = members
        .iter()
        .map(|m| match m {
            Ty::Named(n) => n.clone(),
            Ty::Prim(p) => (*p).to_string(),
            Ty::Lits(_) => "string literals".into(),
            Ty::Array(_) => "an array".into(),
            Ty::Dict(_) => "a dictionary".into(),
            Ty::Object(_) => "an object".into(),
            _ => "any JSON".into(),
        })
        .collect();
    names.join(", ")
}

/// `nullable: true` (OpenAPI 3.0), `type: [T, "null"]` (3.1), or `null` among its enum values.
pub(crate) fn is_nullable(s: &Value) -> bool {
    s.get("nullable").and_then(Value::as_bool) == Some(true)
        || s.get("type").and_then(Value::as_array).is_some_and(|ts| ts.iter().any(|t| t == "null"))
        || s.get("enum").and_then(Value::as_array).is_some_and(|vs| vs.iter().any(Value::is_null))
}

fn is_null_schema(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("null")
        || s.get("enum").and_then(Value::as_array).is_some_and(|vs| vs.len() == 1 && vs[0].is_null())
}
