//! `sensitive` fields (`type Contact { sensitive email: String }`): their values are sent to the
//! API as they are, and masked everywhere a run shows or keeps a record (docs/state.md,
//! "Sensitive fields").
//!
//! Two ways, because a value travels two ways:
//! - **by type**, where the runtime holds the record: a dead letter's record (decoded, or its raw
//!   JSON when it did not fit) keeps its shape, each sensitive field's value replaced by
//!   [`MASK`] ([`Sensitive::mask`], [`Sensitive::mask_raw`]);
//! - **by value**, where a value may have been copied into text: the record's sensitive values
//!   are collected ([`Sensitive::values`]) into a redactor of the secrets' kind (every form:
//!   as is, JSON-escaped, percent-encoded, base64) that scrubs the diagnostics of the record's
//!   failure (an API that echoes the value in its error answer, a mismatch that quotes it) and,
//!   through a task-local scope ([`scoped`]), every event emitted while the record is worked on
//!   (a request URL that carries the value).

use std::collections::HashMap;
use std::sync::Arc;

use flow_plan::{Key, NamedType, Plan, Type, Value};
use serde_json::value::RawValue;

use crate::dead_letters::item_type;
use crate::exec::{FlowRun, Kept};
use crate::secrets::{Form, Secrets};

/// What a sensitive value is replaced by.
pub(crate) const MASK: &str = "[sensitive]";

tokio::task_local! {
    /// The sensitive values of the record (or batch) the current task works on.
    static RECORD: Arc<Secrets>;
}

/// Runs `fut` with `scrub` as the current record's redactor (events emitted inside it are
/// scrubbed by it too); with no values, runs it as it is.
pub(crate) async fn scoped<F: std::future::Future>(scrub: Option<Arc<Secrets>>, fut: F) -> F::Output {
    match scrub {
        Some(s) => RECORD.scope(s, fut).await,
        None => fut.await,
    }
}

/// The current record's redactor, when the current task works on a record with sensitive values.
pub(crate) fn current() -> Option<Arc<Secrets>> {
    RECORD.try_with(Arc::clone).ok()
}

/// The plan's sensitive fields, by the index of their type.
#[derive(Debug, Default)]
pub(crate) struct Sensitive {
    fields: HashMap<usize, Vec<Key>>,
    /// Per named type: whether a value of it can hold a sensitive field (its own, or one of a
    /// type it holds).
    reaches: Vec<bool>,
}

impl Sensitive {
    pub(crate) fn new(plan: &Plan) -> Sensitive {
        let mut fields: HashMap<usize, Vec<Key>> = HashMap::new();
        for f in &plan.sensitive {
            fields.entry(f.ty).or_default().push(f.field);
        }
        let mut reaches: Vec<bool> = (0..plan.types.len()).map(|i| fields.contains_key(&i)).collect();
        // A fixpoint over the named types (recursive types included): at most one round per type.
        for _ in 0..plan.types.len() {
            let next: Vec<bool> =
                plan.types.iter().enumerate().map(|(i, t)| reaches[i] || holds(&t.ty, &reaches)).collect();
            if next == reaches {
                break;
            }
            reaches = next;
        }
        Sensitive { fields, reaches }
    }

    /// Whether the plan declares any sensitive field.
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether a value of `ty` can hold a sensitive field.
    pub(crate) fn reaches(&self, ty: &Type) -> bool {
        !self.is_empty() && holds(ty, &self.reaches)
    }

    fn is_sensitive(&self, ty: usize, field: &str) -> bool {
        self.fields.get(&ty).is_some_and(|f| f.iter().any(|k| k.as_str() == field))
    }

    /// `v`, read as `ty`, with the value of every sensitive field replaced by [`MASK`] (a null
    /// stays null); its shape, and every other field, as they were.
    pub(crate) fn mask(&self, v: &Value, ty: &Type, types: &[NamedType]) -> Value {
        if !self.reaches(ty) {
            return v.clone();
        }
        self.walk(v, ty, types, 0, &mut |_| Value::Str(MASK.into()))
    }

    /// The texts of the sensitive values in `v` (read as `ty`): what a redactor must find.
    pub(crate) fn values(&self, v: &Value, ty: &Type, types: &[NamedType], out: &mut Vec<String>) {
        if !self.reaches(ty) {
            return;
        }
        self.walk(v, ty, types, 0, &mut |found| {
            leaves(found, out);
            Value::Null
        });
    }

    fn walk(
        &self,
        v: &Value,
        ty: &Type,
        types: &[NamedType],
        depth: usize,
        hit: &mut dyn FnMut(&Value) -> Value,
    ) -> Value {
        if depth > 256 {
            return v.clone();
        }
        match (ty, v) {
            (Type::Named(i), Value::Object(members)) if self.fields.contains_key(i) => {
                let Some(Type::Object(fields)) = types.get(*i).map(|t| &t.ty) else { return v.clone() };
                Value::Object(
                    members
                        .iter()
                        .map(|(k, fv)| {
                            let out = if self.is_sensitive(*i, k.as_str()) && !fv.is_null() {
                                hit(fv)
                            } else {
                                match fields.iter().find(|f| f.name == *k) {
                                    Some(f) => self.walk(fv, &f.ty, types, depth + 1, hit),
                                    None => fv.clone(),
                                }
                            };
                            (*k, out)
                        })
                        .collect(),
                )
            }
            (Type::Named(i), _) => match types.get(*i) {
                Some(t) if self.reaches.get(*i).copied().unwrap_or(false) => self.walk(v, &t.ty, types, depth + 1, hit),
                _ => v.clone(),
            },
            (Type::Object(fields), Value::Object(members)) => Value::Object(
                members
                    .iter()
                    .map(|(k, fv)| {
                        let out = match fields.iter().find(|f| f.name == *k) {
                            Some(f) => self.walk(fv, &f.ty, types, depth + 1, hit),
                            None => fv.clone(),
                        };
                        (*k, out)
                    })
                    .collect(),
            ),
            (Type::Array(t), Value::Array(items)) => {
                Value::Array(items.iter().map(|i| self.walk(i, t, types, depth + 1, hit)).collect())
            }
            (Type::Dict(t), Value::Dict(entries)) => {
                Value::Dict(entries.iter().map(|(k, e)| (k.clone(), self.walk(e, t, types, depth + 1, hit))).collect())
            }
            (Type::Nullable(t) | Type::Formed(t, _), _) => self.walk(v, t, types, depth + 1, hit),
            // A union's value is walked as the member it is; one that is none of them (never, for
            // a decoded value) is taken whole, rather than risk a sensitive field in it.
            (Type::OneOf(u), _) => match u.pick_value(v, types) {
                Some(t) => self.walk(v, t, types, depth + 1, hit),
                None => hit(v),
            },
            _ => v.clone(),
        }
    }

    /// A record's JSON text as the API sent it (it did not fit its type), read as `ty`: every
    /// sensitive field's value replaced by `"[sensitive]"`; the parts that hold none stay
    /// byte for byte. `values` gets the texts it replaced. Text that is not JSON is kept only
    /// when the type holds no sensitive field; otherwise it is replaced whole.
    pub(crate) fn mask_raw(&self, raw: &str, ty: &Type, types: &[NamedType], values: &mut Vec<String>) -> String {
        if !self.reaches(ty) {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        if self.raw(raw, ty, types, 0, &mut out, values).is_none() {
            values.push(raw.to_string());
            return format!("\"{MASK}\"");
        }
        out
    }

    fn raw(
        &self,
        raw: &str,
        ty: &Type,
        types: &[NamedType],
        depth: usize,
        out: &mut String,
        values: &mut Vec<String>,
    ) -> Option<()> {
        if depth > 256 || !self.reaches(ty) {
            out.push_str(raw);
            return Some(());
        }
        let trimmed = raw.trim();
        match ty {
            Type::Named(i) => {
                let t = &types.get(*i)?.ty;
                match t {
                    Type::Object(fields) if self.fields.contains_key(i) => self.raw_object(
                        trimmed,
                        |k| (self.is_sensitive(*i, k), field_ty(fields, k)),
                        types,
                        depth,
                        out,
                        values,
                    ),
                    _ => self.raw(raw, t, types, depth + 1, out, values),
                }
            }
            Type::Object(fields) => {
                self.raw_object(trimmed, |k| (false, field_ty(fields, k)), types, depth, out, values)
            }
            Type::Array(t) if trimmed.starts_with('[') => {
                let items: Vec<&RawValue> = serde_json::from_str(trimmed).ok()?;
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    self.raw(item.get(), t, types, depth + 1, out, values)?;
                }
                out.push(']');
                Some(())
            }
            Type::Nullable(t) | Type::Formed(t, _) => self.raw(raw, t, types, depth + 1, out, values),
            // Every value of a dictionary is of its value type.
            Type::Dict(t) => self.raw_object(trimmed, |_| (false, Some(&**t)), types, depth, out, values),
            // A union's JSON is read as the member its kind and tag say; text no member takes
            // is unknown ground that may hold a sensitive field: `None` masks it whole.
            Type::OneOf(u) => {
                let kind = flow_plan::Kind::of_byte(*trimmed.as_bytes().first()?);
                let tag = match (&u.tag, kind) {
                    (Some(name), flow_plan::Kind::Object) => {
                        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(trimmed).ok()?;
                        object.get(name.as_str()).and_then(|t| t.as_str()).map(str::to_string)
                    }
                    _ => None,
                };
                let member = u.pick(kind, tag.as_deref(), types)?;
                self.raw(raw, member, types, depth + 1, out, values)
            }
            // Not the shape the type expects (that may be why it did not fit): nothing of it is
            // a declared field, so nothing of it is known to be sensitive.
            _ => {
                out.push_str(raw);
                Some(())
            }
        }
    }

    fn raw_object<'t>(
        &self,
        text: &str,
        field: impl Fn(&str) -> (bool, Option<&'t Type>),
        types: &[NamedType],
        depth: usize,
        out: &mut String,
        values: &mut Vec<String>,
    ) -> Option<()> {
        if !text.starts_with('{') {
            out.push_str(text);
            return Some(());
        }
        let Entries(entries) = serde_json::from_str(text).ok()?;
        out.push('{');
        for (n, (k, v)) in entries.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(k).ok()?);
            out.push(':');
            let (sensitive, ty) = field(k);
            if sensitive && v.get() != "null" {
                raw_leaves(v.get(), values);
                out.push_str(&format!("\"{MASK}\""));
            } else {
                match ty {
                    Some(t) => self.raw(v.get(), t, types, depth + 1, out, values)?,
                    None => out.push_str(v.get()),
                }
            }
        }
        out.push('}');
        Some(())
    }

    /// A redactor for these values (as is and in base64), or none when there are none.
    pub(crate) fn redactor(values: &[String]) -> Option<Arc<Secrets>> {
        let s = Secrets::new();
        for v in values.iter().filter(|v| !v.is_empty()) {
            s.register(crate::secrets::SENSITIVE, v, Form::Text);
            s.register(crate::secrets::SENSITIVE, &base64_of(v), Form::Base64);
        }
        (!values.iter().all(String::is_empty)).then(|| Arc::new(s))
    }
}

/// A failed record as its dead letter shows it: masked, owned.
pub(crate) enum Masked {
    Decoded(Value),
    Raw(flow_eval::BadRecord),
}

impl Masked {
    pub(crate) fn kept(&self) -> Kept<'_> {
        match self {
            Masked::Decoded(v) => Kept::Decoded(v),
            Masked::Raw(b) => Kept::Raw(b),
        }
    }
}

impl FlowRun {
    /// The record type of the loop over the source named `source`.
    fn source_type(&self, source: &str) -> Option<&Type> {
        let plan = &self.ctx.plan;
        let endpoint = plan.endpoints.iter().find(|e| e.name == source)?;
        item_type(endpoint, &plan.types)
    }

    /// The redactor of a record's sensitive values (as read from `source`), if it has any.
    pub(crate) fn record_scrub(
        &self,
        source: usize,
        record: &Result<Value, flow_eval::BadRecord>,
    ) -> Option<Arc<Secrets>> {
        let sensitive = &self.ctx.sensitive;
        if sensitive.is_empty() {
            return None;
        }
        let plan = &self.ctx.plan;
        let ty = item_type(plan.endpoints.get(source)?, &plan.types)?;
        let mut values = Vec::new();
        match record {
            Ok(v) => sensitive.values(v, ty, &plan.types, &mut values),
            Err(bad) => {
                sensitive.mask_raw(&bad.raw, ty, &plan.types, &mut values);
                sensitive.values(&bad.partial, ty, &plan.types, &mut values);
            }
        }
        Sensitive::redactor(&values)
    }

    /// The redactor of the sensitive values of several records (a batch), if they have any.
    pub(crate) fn records_scrub<'v>(
        &self,
        source: &str,
        records: impl Iterator<Item = &'v Value>,
    ) -> Option<Arc<Secrets>> {
        let sensitive = &self.ctx.sensitive;
        if sensitive.is_empty() {
            return None;
        }
        let ty = self.source_type(source)?;
        let mut values = Vec::new();
        for r in records {
            sensitive.values(r, ty, &self.ctx.plan.types, &mut values);
        }
        Sensitive::redactor(&values)
    }

    /// A failed record as its dead letter shows it, when it holds sensitive fields: each value
    /// masked, the rest as it was; mismatches scrubbed of the values they quote.
    pub(crate) fn masked(&self, source: &str, record: Kept<'_>) -> Option<Masked> {
        let sensitive = &self.ctx.sensitive;
        let ty = self.source_type(source).filter(|t| sensitive.reaches(t))?;
        let types = &self.ctx.plan.types;
        Some(match record {
            Kept::Decoded(v) => Masked::Decoded(sensitive.mask(v, ty, types)),
            Kept::Raw(bad) => {
                let mut values = Vec::new();
                let raw = sensitive.mask_raw(&bad.raw, ty, types, &mut values);
                sensitive.values(&bad.partial, ty, types, &mut values);
                let scrub = Sensitive::redactor(&values);
                let mut masked = bad.clone();
                masked.raw = raw;
                masked.partial = sensitive.mask(&bad.partial, ty, types);
                if let Some(s) = scrub {
                    for m in &mut masked.mismatches.listed {
                        m.found = s.redact(&m.found);
                    }
                }
                Masked::Raw(masked)
            }
        })
    }
}

impl Sensitive {
    /// Whether `v` (read as `ty`) holds [`MASK`] where a sensitive field's value should be: a
    /// dead letter kept masked (a plain store), whose value is gone.
    pub(crate) fn holds_mask(&self, v: &Value, ty: &Type, types: &[NamedType]) -> bool {
        let mut masked = false;
        if self.reaches(ty) {
            self.walk(v, ty, types, 0, &mut |found| {
                masked |= matches!(found, Value::Str(s) if s == MASK);
                Value::Null
            });
        }
        masked
    }
}

impl FlowRun {
    /// The redactor of a kept record's sensitive values (its JSON text, read from `source`).
    pub(crate) fn letter_scrub(&self, source: &str, text: &str) -> Option<Arc<Secrets>> {
        let ty = self.source_type(source).filter(|t| self.ctx.sensitive.reaches(t))?;
        let mut values = Vec::new();
        self.ctx.sensitive.mask_raw(text, ty, &self.ctx.plan.types, &mut values);
        Sensitive::redactor(&values)
    }
}

/// A dead letter's record (JSON text, read from the endpoint `source` of `plan`) as `flowc
/// replay --dry-run` shows it: every `sensitive` field of the file's types masked.
pub fn mask_kept_record(plan: &Plan, source: &str, text: &str) -> String {
    let sensitive = Sensitive::new(plan);
    match plan.endpoints.iter().find(|e| e.name == source).and_then(|e| item_type(e, &plan.types)) {
        Some(ty) => sensitive.mask_raw(text, ty, &plan.types, &mut Vec::new()),
        None => text.to_string(),
    }
}

/// Scrubs a record's failure of the record's sensitive values (the current task's record).
pub(crate) fn scrub_diagnostic(d: &mut flow_diagnostics::Diagnostic) {
    if let Some(s) = current() {
        s.redact_diagnostic(d);
    }
}

fn field_ty<'t>(fields: &'t [flow_plan::Field], name: &str) -> Option<&'t Type> {
    fields.iter().find(|f| f.name.as_str() == name).map(|f| &f.ty)
}

fn base64_of(v: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(v)
}

/// Whether a value of `ty` can hold a sensitive field, by what is known of the named types.
fn holds(ty: &Type, reaches: &[bool]) -> bool {
    match ty {
        Type::Named(i) => reaches.get(*i).copied().unwrap_or(false),
        Type::Array(t) | Type::Nullable(t) | Type::Dict(t) | Type::Formed(t, _) => holds(t, reaches),
        Type::Object(fields) => fields.iter().any(|f| holds(&f.ty, reaches)),
        Type::OneOf(u) => u.variants.iter().any(|v| holds(v, reaches)),
        _ => false,
    }
}

/// The scalar texts inside a value (a sensitive field may hold an object).
fn leaves(v: &Value, out: &mut Vec<String>) {
    use flow_eval::ToText;
    match v {
        Value::Null | Value::Bool(_) => {}
        Value::Str(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
        Value::Object(members) => members.iter().for_each(|(_, m)| leaves(m, out)),
        Value::Dict(entries) => entries.iter().for_each(|(k, e)| {
            out.push(k.clone());
            leaves(e, out);
        }),
        Value::Json(text) => raw_leaves(text, out),
        other => out.push(other.to_text()),
    }
}

/// The scalar texts inside a JSON text: strings unescaped, numbers as written.
fn raw_leaves(text: &str, out: &mut Vec<String>) {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => json_leaves(&v, out),
        Err(_) => out.push(text.trim().to_string()),
    }
    // A number is also found as it was written (serde_json may write it another way).
    let t = text.trim();
    if !t.starts_with(['{', '[', '"']) && !matches!(t, "true" | "false" | "null") {
        out.push(t.to_string());
    }
}

fn json_leaves(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Null | serde_json::Value::Bool(_) => {}
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Number(n) => out.push(n.to_string()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| json_leaves(i, out)),
        serde_json::Value::Object(m) => m.iter().for_each(|(k, e)| {
            out.push(k.clone());
            json_leaves(e, out);
        }),
    }
}

/// An object's members in the order they came, values as their text.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Entries<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flow_plan::{Field, SensitiveField};

    fn plan() -> Plan {
        let f = |name: &str, ty: Type| Field { name: name.into(), ty, optional: false, present: false };
        Plan {
            types: vec![
                NamedType {
                    name: "Contact".into(),
                    ty: Type::Object(vec![
                        f("id", Type::Int),
                        f("email", Type::String),
                        f("home", Type::Nullable(Box::new(Type::Named(1)))),
                        f("tags", Type::Array(Box::new(Type::String))),
                    ]),
                },
                NamedType {
                    name: "Home".into(),
                    ty: Type::Object(vec![f("street", Type::String), f("city", Type::String)]),
                },
            ],
            sensitive: vec![
                SensitiveField { ty: 0, field: Key::new("email") },
                SensitiveField { ty: 1, field: Key::new("street") },
            ],
            ..Plan::default()
        }
    }

    #[test]
    fn a_raw_record_keeps_its_bytes_but_the_sensitive_values() {
        let p = plan();
        let s = Sensitive::new(&p);
        let raw =
            r#"{"id": 7, "email":"ann@example.com","home":{"street":"1 Elm St","city":"Oslo"},"tags":["a"],"x":1.10}"#;
        let mut values = Vec::new();
        let out = s.mask_raw(raw, &Type::Named(0), &p.types, &mut values);
        assert_eq!(
            out,
            r#"{"id":7,"email":"[sensitive]","home":{"street":"[sensitive]","city":"Oslo"},"tags":["a"],"x":1.10}"#
        );
        assert_eq!(values, vec!["ann@example.com".to_string(), "1 Elm St".to_string()]);
        // Not JSON at all: replaced whole rather than kept.
        assert_eq!(s.mask_raw("{oops ann@example.com", &Type::Named(0), &p.types, &mut Vec::new()), "\"[sensitive]\"");
    }

    /// A sensitive field inside a union's member (Stripe's expandable `customer`: an id or the
    /// object) or a dictionary's values is masked too, decoded and raw.
    #[test]
    fn a_sensitive_field_under_a_union_or_a_dictionary_is_masked() {
        let mut p = plan();
        let f = |name: &str, ty: Type| Field { name: name.into(), ty, optional: false, present: false };
        let expandable = Type::OneOf(flow_plan::OneOf { variants: vec![Type::String, Type::Named(0)], tag: None });
        p.types.push(NamedType {
            name: "Charge".into(),
            ty: Type::Object(vec![f("customer", expandable), f("by_name", Type::Dict(Box::new(Type::Named(0))))]),
        });
        let s = Sensitive::new(&p);
        let raw = r#"{"customer":{"id":7,"email":"ann@example.com"},"by_name":{"bo":{"id":8,"email":"bo@example.com"}},"x":1}"#;
        let mut values = Vec::new();
        assert_eq!(
            s.mask_raw(raw, &Type::Named(2), &p.types, &mut values),
            r#"{"customer":{"id":7,"email":"[sensitive]"},"by_name":{"bo":{"id":8,"email":"[sensitive]"}},"x":1}"#
        );
        assert_eq!(values, vec!["ann@example.com".to_string(), "bo@example.com".to_string()]);
        // The id member holds nothing sensitive and is kept.
        let raw = r#"{"customer":"cus_1","by_name":{}}"#;
        assert_eq!(s.mask_raw(raw, &Type::Named(2), &p.types, &mut Vec::new()), raw);
        let contact = |id: i64, email: &str| {
            Value::Object(vec![(Key::new("id"), Value::Int(id)), (Key::new("email"), Value::Str(email.into()))])
        };
        let v = Value::Object(vec![
            (Key::new("customer"), contact(7, "ann@example.com")),
            (Key::new("by_name"), Value::Dict(vec![("bo".into(), contact(8, "bo@example.com"))])),
        ]);
        assert_eq!(
            flow_eval::encode(&s.mask(&v, &Type::Named(2), &p.types)),
            r#"{"customer":{"id":7,"email":"[sensitive]"},"by_name":{"bo":{"id":8,"email":"[sensitive]"}}}"#
        );
    }

    #[test]
    fn a_decoded_record_keeps_its_shape() {
        let p = plan();
        let s = Sensitive::new(&p);
        let home = Value::Object(vec![
            (Key::new("street"), Value::Str("1 Elm St".into())),
            (Key::new("city"), Value::Str("Oslo".into())),
        ]);
        let v = Value::Object(vec![
            (Key::new("id"), Value::Int(7)),
            (Key::new("email"), Value::Str("ann@example.com".into())),
            (Key::new("home"), home),
        ]);
        let masked = s.mask(&v, &Type::Named(0), &p.types);
        assert_eq!(
            flow_eval::encode(&masked),
            r#"{"id":7,"email":"[sensitive]","home":{"street":"[sensitive]","city":"Oslo"}}"#
        );
        let mut values = Vec::new();
        s.values(&v, &Type::Named(0), &p.types, &mut values);
        assert_eq!(values, vec!["ann@example.com".to_string(), "1 Elm St".to_string()]);
        let r = Sensitive::redactor(&values).expect("a redactor");
        assert_eq!(
            r.redact("answered 422: {\"email\":\"ann@example.com\"} YW5uQGV4YW1wbGUuY29t"),
            "answered 422: {\"email\":\"[sensitive]\"} [sensitive]"
        );
    }
}
