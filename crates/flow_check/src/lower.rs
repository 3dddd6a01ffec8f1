//! `lower`: a checked [`Model`] to a [`Plan`]. Applies policy defaults, orders each map's output
//! by its target type, and turns the checker's types into the plan's. It cannot fail: anything
//! that could go wrong here is a check the checker makes first.

use flow_plan as plan;

use crate::ty::{Ty, Types};
use crate::{Model, DEFAULT_API_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_FLOW_CONCURRENCY, DEFAULT_TIMEOUT_MS};

/// Lowers a checked model to the plan the runtime executes.
pub fn lower(model: &Model) -> plan::Plan {
    let types = &model.types;
    let named: Vec<plan::NamedType> = types
        .names
        .iter()
        .zip(&types.defs)
        .map(|(name, ty)| plan::NamedType { name: name.clone(), ty: plan_type(ty) })
        .collect();
    plan::Plan {
        secrets: model.secrets.clone(),
        apis: model
            .apis
            .iter()
            .map(|a| plan::Api {
                name: a.name.clone(),
                base_url: a.base_url.clone(),
                auth: a.auth.clone(),
                headers: a.headers.clone(),
                timeout_ms: a.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
                connect_timeout_ms: a.connect_timeout_ms.unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS),
                concurrency: a.concurrency.unwrap_or(DEFAULT_API_CONCURRENCY),
                retry: a.retry.unwrap_or_default(),
                rate_limit: a.rate_limit,
                tls_verify: a.tls_verify,
                allow_http: a.allow_http,
                span: a.span,
            })
            .collect(),
        types: named.clone(),
        endpoints: model
            .endpoints
            .iter()
            .map(|e| plan::Endpoint {
                name: e.name.clone(),
                api: e.api,
                method: e.method.as_str().to_string(),
                path: e.path.clone(),
                params: e
                    .params
                    .iter()
                    .map(|(name, ty)| plan::Param { name: name.clone(), ty: plan_type(ty) })
                    .collect(),
                body: e.body.as_ref().map(plan_type),
                query: e.query.clone(),
                headers: e.headers.clone(),
                response: e.response.as_ref().map(plan_type),
                records: e.records.clone(),
                paginate: e.paginate.clone(),
                stop: e.stop.clone(),
                retry: e.retry,
                timeout_ms: e.timeout_ms,
                idempotent: e.idempotent,
                max_pages: e.max_pages.unwrap_or(plan::DEFAULT_MAX_PAGES),
                span: e.span,
            })
            .collect(),
        maps: model
            .maps
            .iter()
            .map(|m| plan::Map {
                name: m.name.clone(),
                params: m.params.iter().map(|(n, _)| n.into()).collect(),
                param_types: m.params.iter().map(|(_, t)| plan_type(t)).collect(),
                lets: m.lets.iter().map(|(n, e)| (n.into(), e.clone())).collect(),
                spreads: m.spreads.clone(),
                fields: ordered_fields(types, &m.ret, &m.fields),
                order: if m.spreads.is_empty() { Vec::new() } else { field_order(types, &m.ret) },
                ret: Some(plan_type(&m.ret)).filter(|t| plan::has_optional(t, &named)),
                span: m.span,
            })
            .collect(),
        flows: model
            .flows
            .iter()
            .zip(&model.flow_settings)
            .map(|(f, s)| plan::Flow {
                concurrency: s.concurrency.unwrap_or(DEFAULT_FLOW_CONCURRENCY),
                on_error: s.on_error.clone().unwrap_or(plan::OnError::Fail),
                ..f.clone()
            })
            .collect(),
        tables: model.tables.iter().map(|t| plan::Table { name: t.name.clone(), entries: t.entries.clone() }).collect(),
        functions: model
            .functions
            .iter()
            .map(|f| plan::Function {
                name: f.name.clone(),
                params: f.params.iter().map(plan::Key::from).collect(),
                body: f.body.clone(),
                span: f.span,
            })
            .collect(),
        tests: model.tests.clone(),
    }
}

/// A map's fields in the order its target type declares them: the output reads like the type.
fn ordered_fields(types: &Types, ret: &Ty, fields: &[(String, plan::Expr)]) -> Vec<(plan::Key, plan::Expr)> {
    let Ty::Object(declared) = types.resolve(ret) else {
        return fields.iter().map(|(n, e)| (n.into(), e.clone())).collect();
    };
    declared
        .iter()
        .filter_map(|d| fields.iter().find(|(n, _)| *n == d.name).map(|(n, e)| (n.into(), e.clone())))
        .collect()
}

fn field_order(types: &Types, ret: &Ty) -> Vec<plan::Key> {
    match types.resolve(ret) {
        Ty::Object(declared) => declared.iter().map(|d| d.name.as_str().into()).collect(),
        _ => Vec::new(),
    }
}

fn plan_type(ty: &Ty) -> plan::Type {
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
                .map(|f| plan::Field { name: f.name.as_str().into(), ty: plan_type(&f.ty), optional: f.optional })
                .collect(),
        ),
        Ty::Named(i) => plan::Type::Named(*i),
        Ty::Nullable(t) => plan::Type::Nullable(Box::new(plan_type(t))),
        // Declared types never hold these: the checker only puts them on expressions, and a
        // model exists only when every declaration resolved. Null is the value they could hold.
        Ty::Fallible(t) => plan_type(t),
        Ty::Error | Ty::Null | Ty::Duration | Ty::Never => plan::Type::Nullable(Box::new(plan::Type::String)),
    }
}
