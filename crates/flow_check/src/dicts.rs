//! Dictionaries (`{ [String]: T }`) and `Json` in the checker.
//!
//! - A dictionary's lookups, `d["key"]` and `d.key` (or `d."any key"`), are nullable: a key the
//!   data lacks is null. A dictionary literal is an object literal where a dictionary is
//!   expected: each value checked against the value type, a key given twice refused (E0223),
//!   `...other` spreading another dictionary of a fitting type.
//! - `Json` takes any data (it is written as it is) and gives nothing out unchecked: a `Json`
//!   value where another type is wanted is E0225.
//! - An empty object type `{}` accepts any object and keeps none of it: W0013, with `Json` as
//!   the fix.

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic, Fix, Help, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, ObjectItem};

use crate::expr::Expect;
use crate::scope::Scope;
use crate::ty::{Ty, Types};
use crate::Checker;

/// Whether a value of this type is data that JSON can hold, so it may stand where `Json` is
/// wanted (durations and unhandled failures are not).
pub(crate) fn is_data(types: &Types, ty: &Ty) -> bool {
    match types.resolve(ty) {
        Ty::Duration | Ty::Fallible(_) => false,
        Ty::Nullable(t) | Ty::Array(t) | Ty::Dict(t) => is_data(types, t),
        _ => true,
    }
}

impl Checker<'_> {
    /// The type of a lookup in a dictionary of `value`s: the value, or null for a missing key.
    fn looked_up(&self, value: &Ty) -> Ty {
        if self.types.is_nullable(value) {
            value.clone()
        } else {
            Ty::Nullable(Rc::new(value.clone()))
        }
    }

    /// `d.key`, `d."any key"`: the value at that key, or null.
    pub(crate) fn dict_field(&mut self, value: &Ty, base: plan::Expr, key: &str) -> (Ty, plan::Expr) {
        let key = Box::new(plan::Expr::Lit { value: plan::Value::Str(key.to_string()) });
        (self.looked_up(value), plan::Expr::DictGet { base: Box::new(base), key })
    }

    /// `d[key]`: `key` a String; the value at that key, or null.
    pub(crate) fn dict_index(
        &mut self,
        value: &Ty,
        base: plan::Expr,
        index: &ast::Expr,
        scope: &mut Scope,
    ) -> (Ty, plan::Expr) {
        let key =
            self.check_against(index, &Expect { ty: Ty::String, origin: None, what: "a dictionary key".into() }, scope);
        (self.looked_up(value), plan::Expr::DictGet { base: Box::new(base), key: Box::new(key) })
    }

    /// An object literal where a dictionary of `value`s is expected.
    pub(crate) fn dict_literal(
        &mut self,
        items: &[ObjectItem],
        value: &Ty,
        expect: &Expect,
        scope: &mut Scope,
    ) -> plan::Expr {
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let mut parts = Vec::with_capacity(items.len());
        let dict = Ty::Dict(Rc::new(value.clone()));
        for item in items {
            match item {
                ObjectItem::Field(f) => {
                    if let Some((_, first)) = seen.iter().find(|(k, _)| *k == f.name.name) {
                        self.report(crate::names::twice_as(
                            codes::DICT_KEY_TWICE,
                            &format!("the key {:?}", f.name.name),
                            "given",
                            f.name.span,
                            Some(*first),
                            "give each key once: a dictionary holds one value per key",
                        ));
                    }
                    seen.push((&f.name.name, f.name.span));
                    let inner = Expect {
                        ty: value.clone(),
                        origin: expect.origin,
                        what: format!("the value of {:?} in {}", f.name.name, expect.what),
                    };
                    let x = self.check_against(&f.value, &inner, scope);
                    parts.push(plan::DictPart::Entry { key: f.name.name.clone(), value: x });
                }
                ObjectItem::Spread(s) => {
                    let inner = Expect { ty: dict.clone(), origin: expect.origin, what: "a spread dictionary".into() };
                    let x = self.check_against(s, &inner, scope);
                    parts.push(plan::DictPart::Spread { value: x });
                }
            }
        }
        plan::Expr::Dict { parts }
    }

    /// E0225: a `Json` value where a value of `want` is wanted.
    pub(crate) fn json_read_as(&mut self, e: &ast::Expr, want: &str, origin: Option<Span>) {
        let mut d = Diagnostic::new(
            codes::FROM_JSON,
            format!("a `Json` value cannot be used as `{want}`: nothing checked what it holds"),
        )
        .primary(e.span, "this is `Json`, any JSON at all")
        .help(format!(
            "declare the field with the type it has (`{want}`, a record, or a dictionary): decoding then checks it, and `Json` is for content passed on untouched"
        ));
        if let Some(origin) = origin {
            d = d.secondary(origin, "expected because of this declaration");
        }
        self.report(d);
    }

    /// W0013: `{}` declares an object with no fields: it accepts any object and keeps nothing.
    pub(crate) fn keeps_nothing(&mut self, span: Span) {
        self.report(
            Diagnostic::new(
                codes::KEEPS_NOTHING,
                "an empty object type accepts any object and keeps none of it",
            )
            .primary(span, "decoding skips every key of this object, and output writes `{}`")
            .help(
                Help::from(
                    "declare what it holds: `Json` to pass the content on untouched, a dictionary such as `{ [String]: String }`, or the fields",
                )
                .with_fix(Some(Fix::replace(span, "Json"))),
            ),
        );
    }

    /// E0222: a dictionary's key type must be `String` (JSON keys are text).
    pub(crate) fn dict_key(&mut self, key: &ast::Ident) {
        if key.name != "String" {
            self.report(
                Diagnostic::new(codes::DICT_KEY, format!("a dictionary's keys are `String`, not `{}`", key.name))
                    .primary(key.span, "JSON object keys are always text")
                    .help(
                        Help::from("write `[String]`, and convert keys where they are read: `parse_int(k) catch 0`")
                            .with_fix(Some(Fix::replace(key.span, "String"))),
                    ),
            );
        }
    }
}

/// E0226: `==`/`!=` with a `Json` side: the same JSON can be written in many ways (`1.0` and
/// `1`, keys in another order, escapes), so no comparison of its text would be sound.
pub(crate) fn json_compared(json: Span, whole: Span) -> Diagnostic {
    Diagnostic::new(codes::JSON_COMPARED, "`Json` values cannot be compared")
        .primary(json, "this is `Json`, any JSON at all")
        .secondary(whole, "compared here")
        .help("declare the part you compare with its type (a field, a dictionary), and compare that; `== null` works on `Json?`")
}
