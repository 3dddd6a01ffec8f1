//! `flowc check --spec`: an endpoint's path, query and header parameters against its
//! operation's `parameters` (the path item's merged in, `$ref`s resolved): E0619 for a
//! parameter the spec does not have or whose type differs, W0012 for one the spec requires that
//! the endpoint does not always send.
//!
//! What the endpoint sends: the keys of its `query` and `headers` objects (a value that is one
//! of its parameters has that parameter's type; a literal, its value; another expression is not
//! compared), the query parameters its `paginate` names, and, for W0012 only, what its api sends
//! on every request (`headers`, an `api_key(header: …)` or `api_key(query: …)` auth). Path
//! placeholders are matched by place, and each one's parameter type compared. A parameter goes
//! to the API, so it is compared like a body: every value it may send must be one the spec takes
//! (a null parameter is not sent, so its `?` is judged only against the spec's `required`).

use std::collections::HashMap;

use flow_diagnostics::{codes, did_you_mean, Diagnostic, Span};
use flow_syntax::ast::{self, ExprKind, TypeExpr};
use serde_json::Value;

use super::{shape, spec_wire, At, Compare, Dir, Number, Operation, Wire};
use crate::schema::Ty;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Place {
    Path,
    Query,
    Header,
}

impl Place {
    fn word(self) -> &'static str {
        match self {
            Place::Path => "path",
            Place::Query => "query",
            Place::Header => "header",
        }
    }

    /// Whether two wire names are the same parameter here (header names ignore case).
    fn same(self, a: &str, b: &str) -> bool {
        match self {
            Place::Header => a.eq_ignore_ascii_case(b),
            _ => a == b,
        }
    }
}

/// What an api sends on every request: its `headers`' names, and its `api_key` auth's header or
/// query parameter.
pub(super) fn api_sends(file: &ast::File, api: &str) -> Vec<(Place, String)> {
    let mut out = Vec::new();
    for d in &file.decls {
        let ast::Decl::Api(a) = d else { continue };
        if a.name.name != api {
            continue;
        }
        for p in &a.props {
            match (p.name.name.as_str(), &p.value.kind) {
                ("headers", ExprKind::Object(items)) => {
                    for item in items {
                        if let ast::ObjectItem::Field(f) = item {
                            out.push((Place::Header, f.name.name.clone()));
                        }
                    }
                }
                ("auth", ExprKind::Call { callee, args }) if callee.name == "api_key" => {
                    for arg in args {
                        let (Some(n), ExprKind::Str(v)) = (&arg.name, &arg.value.kind) else { continue };
                        match n.name.as_str() {
                            "header" => out.push((Place::Header, v.clone())),
                            "query" => out.push((Place::Query, v.clone())),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// One parameter of the spec's operation.
struct SpecParam {
    wire: String,
    place: Place,
    required: bool,
    ty: Ty,
    losses: Vec<String>,
}

/// The operation's parameters: the path item's, then the operation's (which override them by
/// name and place), as `flowc import openapi` reads them. Cookie and body parameters, and the
/// headers OpenAPI says a parameter cannot define (`Accept`, `Content-Type`, `Authorization`),
/// are left out.
fn spec_params(c: &Compare<'_, '_>, op: &Operation<'_>) -> Vec<SpecParam> {
    let mut raw: Vec<&Value> = Vec::new();
    let lists = [op.item.and_then(|i| i.get("parameters")), op.op.and_then(|o| o.get("parameters"))];
    for list in lists {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = c.cv.deref(p);
            let key = |v: &Value| (v.get("name").cloned(), v.get("in").cloned());
            raw.retain(|q| key(q) != key(p));
            raw.push(p);
        }
    }
    let mut out = Vec::new();
    for p in raw {
        let (Some(wire), Some(place)) = (p.get("name").and_then(Value::as_str), p.get("in").and_then(Value::as_str))
        else {
            continue;
        };
        let place = match place {
            "path" => Place::Path,
            "query" => Place::Query,
            "header" if !["accept", "content-type", "authorization"].contains(&wire.to_ascii_lowercase().as_str()) => {
                Place::Header
            }
            _ => continue,
        };
        let required = place == Place::Path || p.get("required").and_then(Value::as_bool) == Some(true);
        // OpenAPI 3 gives a parameter a schema; Swagger 2 writes the schema's keys on it.
        let schema = p.get("schema").map(|s| c.cv.deref(s)).unwrap_or(p);
        let mut losses = Vec::new();
        let ty = c.cv.ty(schema, wire, &mut losses);
        out.push(SpecParam { wire: wire.to_string(), place, required, ty, losses });
    }
    out
}

/// What one sent value is: a parameter of the endpoint, a literal, or something not compared.
enum SentValue<'a> {
    Param(&'a TypeExpr),
    Literal(&'a ast::Expr),
    Other,
}

/// One value the endpoint sends.
struct Sent<'a> {
    place: Place,
    wire: String,
    span: Span,
    /// Named by a string literal (`paginate`'s), not an object key.
    literal: bool,
    value: SentValue<'a>,
}

/// What the endpoint sends in its query and headers: its `query` and `headers` objects and its
/// `paginate`'s query parameters.
fn sent<'a>(e: &'a ast::EndpointDecl) -> Vec<Sent<'a>> {
    let params: HashMap<&str, &TypeExpr> =
        e.params.iter().filter(|p| p.name.name != "body").map(|p| (p.name.name.as_str(), &p.ty)).collect();
    let mut out = Vec::new();
    for p in &e.props {
        match (p.name.name.as_str(), &p.value.kind) {
            (name @ ("query" | "headers"), ExprKind::Object(items)) => {
                let place = if name == "query" { Place::Query } else { Place::Header };
                for item in items {
                    let ast::ObjectItem::Field(f) = item else { continue };
                    let value = match &f.value.kind {
                        ExprKind::Name(n) => {
                            params.get(n.name.as_str()).map_or(SentValue::Other, |t| SentValue::Param(t))
                        }
                        ExprKind::Str(_) | ExprKind::Int(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {
                            SentValue::Literal(&f.value)
                        }
                        _ => SentValue::Other,
                    };
                    out.push(Sent { place, wire: f.name.name.clone(), span: f.name.span, literal: false, value });
                }
            }
            ("paginate", ExprKind::Call { callee, args })
                if matches!(callee.name.as_str(), "cursor" | "page" | "offset") =>
            {
                let in_body = args.iter().any(|a| {
                    a.name.as_ref().is_some_and(|n| n.name == "place")
                        && matches!(&a.value.kind, ExprKind::Str(v) if v == "body")
                });
                if in_body {
                    continue;
                }
                for a in args {
                    let (Some(n), ExprKind::Str(v)) = (&a.name, &a.value.kind) else { continue };
                    if n.name == "param" || n.name == "limit_param" {
                        out.push(Sent {
                            place: Place::Query,
                            wire: v.clone(),
                            span: a.value.span,
                            literal: true,
                            value: SentValue::Other,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether a literal is a value the spec's parameter type takes (on the wire a query or header
/// is text, so a literal's text is what is judged).
fn literal_fits(e: &ast::Expr, s: &Ty) -> bool {
    let text = match &e.kind {
        ExprKind::Str(v) => v.clone(),
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Number(x) => x.clone(),
        ExprKind::Bool(b) => b.to_string(),
        _ => return true,
    };
    match s.non_null() {
        Ty::Lits(vs) => vs.contains(&text),
        Ty::Prim(p) => match spec_wire(p) {
            Some(Wire::Num(Number::Int)) => text.parse::<i64>().is_ok(),
            Some(Wire::Num(_) | Wire::AnyDecimal) => text.parse::<f64>().is_ok(),
            Some(Wire::Bool) => text == "true" || text == "false",
            _ => true,
        },
        Ty::Array(_) | Ty::Object(_) | Ty::Dict(_) => false,
        _ => true,
    }
}

impl<'a> Compare<'a, '_> {
    /// Compares an endpoint's parameters with those of its operation (found by `endpoint`);
    /// `api` is what its api sends on every request.
    pub(super) fn params(
        &mut self,
        e: &'a ast::EndpointDecl,
        prefix: &str,
        ops: &[Operation<'_>],
        api: Vec<(Place, String)>,
    ) {
        let full = format!("{prefix}{}", e.path.value);
        let want = shape(&full);
        let Some(op) = ops.iter().find(|o| o.op.is_some() && o.method == e.method.as_str() && o.shape == want) else {
            return;
        };
        let spec = spec_params(self, op);
        let label = format!("{} {}", op.method, op.path);
        let declared: HashMap<&str, &'a TypeExpr> =
            e.params.iter().filter(|p| p.name.name != "body").map(|p| (p.name.name.as_str(), &p.ty)).collect();
        // Path placeholders, by place.
        let mine = crate::ops::placeholders(&full);
        let theirs = crate::ops::placeholders(&op.path);
        for (name, wire) in mine.iter().zip(theirs.iter()) {
            let (Some(t), Some(s)) =
                (declared.get(name.as_str()), spec.iter().find(|s| s.place == Place::Path && &s.wire == wire))
            else {
                continue;
            };
            self.param_type(t, s, &label);
        }
        let sent = sent(e);
        for x in &sent {
            let Some(s) = spec.iter().find(|s| s.place == x.place && x.place.same(&s.wire, &x.wire)) else {
                let others: Vec<&str> = spec
                    .iter()
                    .filter(|s| {
                        s.place == x.place && !sent.iter().any(|y| y.place == s.place && s.place.same(&y.wire, &s.wire))
                    })
                    .map(|s| s.wire.as_str())
                    .collect();
                let mut d = Diagnostic::new(
                    codes::SPEC_PARAM,
                    format!("the spec has no {} parameter `{}` ({label})", x.place.word(), x.wire),
                )
                .primary(x.span, "not a parameter of the operation");
                if let Some(near) = flow_diagnostics::suggest(&x.wire, others.iter().copied()) {
                    // A `paginate` parameter is a string literal, a `query` key an object key.
                    let near = if x.literal { flow_syntax::lex::quote(near) } else { flow_syntax::lex::key(near) };
                    d = d.help(did_you_mean(x.span, &near));
                }
                self.out.push(d);
                continue;
            };
            match &x.value {
                SentValue::Param(t) => self.param_type(t, s, &label),
                SentValue::Literal(l) if !literal_fits(l, &s.ty) => self.out.push(
                    Diagnostic::new(
                        codes::SPEC_PARAM,
                        format!(
                            "the {} parameter `{}` is sent as {}, which is not a value of the spec's `{}` ({label})",
                            s.place.word(),
                            s.wire,
                            flow_syntax::lex::quote(&literal_text(l)),
                            super::show(&s.ty)
                        ),
                    )
                    .primary(l.span, format!("the spec says `{}`", super::show(&s.ty))),
                ),
                _ => {}
            }
        }
        // What the spec requires and the endpoint does not always send.
        for s in spec.iter().filter(|s| s.required && s.place != Place::Path) {
            let by_api = api.iter().any(|(p, w)| *p == s.place && s.place.same(w, &s.wire));
            let mine: Vec<&Sent<'_>> =
                sent.iter().filter(|x| x.place == s.place && s.place.same(&x.wire, &s.wire)).collect();
            if by_api {
                continue;
            }
            if mine.is_empty() {
                self.out.push(
                    Diagnostic::new(
                        codes::SPEC_MISSING_PARAM,
                        format!(
                            "the spec requires the {} parameter `{}`, which endpoint `{}` does not send ({label})",
                            s.place.word(),
                            s.wire,
                            e.name.name
                        ),
                    )
                    .primary(e.name.span, "never sends it"),
                );
                continue;
            }
            for x in mine {
                let SentValue::Param(t) = x.value else { continue };
                let (_, null, _) = self.declared(t);
                if null || t.nullable {
                    self.out.push(
                        Diagnostic::new(
                            codes::SPEC_MISSING_PARAM,
                            format!(
                                "the spec requires the {} parameter `{}`, and endpoint `{}` leaves it out when it is null ({label})",
                                s.place.word(),
                                s.wire,
                                e.name.name
                            ),
                        )
                        .primary(t.span, "may be null"),
                    );
                }
            }
        }
    }

    /// A declared parameter's type against the spec's, like a body's (a null is not sent: not
    /// judged here); the drift found is E0619.
    fn param_type(&mut self, t: &'a TypeExpr, s: &SpecParam, label: &str) {
        let what = format!("the {} parameter `{}` of {label}", s.place.word(), s.wire);
        let at = At { losses: std::rc::Rc::new(s.losses.clone()), path: s.wire.clone(), what: &what };
        let before = self.out.len();
        self.ty(t, false, &s.ty.clone().nullable(), &at, Dir::Body, 0);
        for d in &mut self.out[before..] {
            if d.code != codes::SPEC_NOT_COMPARED.id {
                d.code = codes::SPEC_PARAM.id;
                d.severity = codes::SPEC_PARAM.severity;
            }
        }
    }
}

fn literal_text(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Str(v) => v.clone(),
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Number(x) => x.clone(),
        ExprKind::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}
