//! Operations to endpoints: parameters (path, query, header), the JSON body, the 2xx response,
//! records and pagination where the spec makes them recognisable.

use serde_json::Value;

use crate::names::{snake, Names};
use crate::render::Out;
use crate::schema::{Convert, Field, Ty};

pub(crate) const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// One endpoint to print.
pub(crate) struct Endpoint {
    pub name: String,
    pub method: String,
    pub path: String,
    pub summary: Option<String>,
    pub params: Vec<Param>,
    pub body: Option<Ty>,
    pub response: Option<Ty>,
    pub records: Option<String>,
    pub paginate: Option<String>,
    pub losses: Vec<String>,
}

pub(crate) struct Param {
    /// Its name in `.flow`.
    pub name: String,
    /// Its name on the wire.
    pub wire: String,
    pub place: Place,
    pub ty: Ty,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Path,
    Query,
    Header,
}

/// What an operation is, for the summary: `GET /v1/charges`.
pub(crate) fn label(method: &str, path: &str) -> String {
    format!("{} {path}", method.to_ascii_uppercase())
}

pub(crate) fn endpoint(
    cv: &Convert<'_>,
    names: &mut Names,
    path: &str,
    item: &Value,
    method: &str,
    op: &Value,
) -> Result<Endpoint, String> {
    if !matches!(method, "get" | "post" | "put" | "patch" | "delete") {
        return Err(format!("the method {} is not one an endpoint can have", method.to_ascii_uppercase()));
    }
    let mut losses = Vec::new();
    let base = match op.get("operationId").and_then(Value::as_str) {
        Some(id) => snake(id),
        None => snake(&format!("{method} {path}")),
    };
    let name = names.unique(&base);
    let mut local = Names::default();
    local.reserve("body");
    // Path-level parameters, then the operation's (which override them by name and place).
    let mut raw: Vec<&Value> = Vec::new();
    for list in [item.get("parameters"), op.get("parameters")] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = cv.deref(p);
            let key = |v: &Value| (v.get("name").cloned(), v.get("in").cloned());
            raw.retain(|q| key(q) != key(p));
            raw.push(p);
        }
    }
    let mut flow_path = path.to_string();
    let mut params = Vec::new();
    for p in raw {
        let (Some(wire), Some(place)) = (p.get("name").and_then(Value::as_str), p.get("in").and_then(Value::as_str))
        else {
            losses.push("a parameter without a name or place is left out".into());
            continue;
        };
        let place = match place {
            "body" | "formData" => continue,
            "path" => Place::Path,
            "query" => Place::Query,
            "header" => Place::Header,
            other => {
                losses.push(format!(
                    "the {other} parameter `{wire}` is not sent: an endpoint sends path, query and header parameters"
                ));
                continue;
            }
        };
        let required = place == Place::Path || p.get("required").and_then(Value::as_bool) == Some(true);
        // OpenAPI 3 gives a parameter a schema; Swagger 2 writes the schema's keys on it.
        let schema = p.get("schema").map(|s| cv.deref(s)).cloned().unwrap_or_else(|| p.clone());
        let mut plosses = Vec::new();
        let ty = cv.ty(&schema, wire, &mut plosses);
        let ty = match scalar(ty.non_null()) {
            Some(t) => t,
            None => {
                if place == Place::Path {
                    losses.push(format!("the path parameter `{wire}` is not a scalar: sent as `String`"));
                    Ty::Prim("String")
                } else {
                    losses.push(format!(
                        "the {} parameter `{wire}` is not sent: its values are not a scalar (an array or an object)",
                        if place == Place::Query { "query" } else { "header" }
                    ));
                    continue;
                }
            }
        };
        losses.extend(plosses);
        let pname = local.unique(&snake(wire));
        if place == Place::Path {
            flow_path = flow_path.replace(&format!("{{{wire}}}"), &format!("{{{pname}}}"));
        }
        let ty = if required { ty } else { ty.nullable() };
        params.push(Param { name: pname, wire: wire.to_string(), place, ty });
    }
    for placeholder in placeholders(&flow_path) {
        if !params.iter().any(|p| p.place == Place::Path && p.name == placeholder) {
            let pname = local.unique(&snake(&placeholder));
            losses.push(format!("the path parameter `{placeholder}` is not declared by the spec: a `String`"));
            flow_path = flow_path.replace(&format!("{{{placeholder}}}"), &format!("{{{pname}}}"));
            params.push(Param { name: pname, wire: placeholder, place: Place::Path, ty: Ty::Prim("String") });
        }
    }

    let body = request_body(cv, method, op, &mut losses);
    let (response, link_header) = response(cv, op, &mut losses);
    let mut endpoint = Endpoint {
        name,
        method: method.to_ascii_uppercase(),
        path: flow_path,
        summary: op.get("summary").and_then(Value::as_str).map(str::to_string),
        params,
        body,
        response,
        records: None,
        paginate: None,
        losses,
    };
    if method == "get" {
        paging(cv, &mut endpoint, link_header);
    }
    Ok(endpoint)
}

/// A parameter's type when it is one a query, a header or a path can carry.
fn scalar(t: &Ty) -> Option<Ty> {
    match t {
        Ty::Prim(_) | Ty::Lits(_) => Some(t.clone()),
        Ty::Json => Some(Ty::Prim("String")),
        _ => None,
    }
}

pub(crate) fn placeholders(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        out.push(rest[i + 1..i + j].to_string());
        rest = &rest[i + j + 1..];
    }
    out
}

/// The JSON media type of a content map, if it has one.
fn json_media(content: &Value) -> Option<&Value> {
    let map = content.as_object()?;
    map.iter()
        .find(|(k, _)| {
            let k = k.split(';').next().unwrap_or("").trim();
            k == "application/json" || k.ends_with("+json")
        })
        .map(|(_, v)| v)
}

pub(crate) fn request_body(cv: &Convert<'_>, method: &str, op: &Value, losses: &mut Vec<String>) -> Option<Ty> {
    // Swagger 2: the body is the parameter `in: body`.
    let params = op.get("parameters").and_then(Value::as_array).into_iter().flatten().map(|p| cv.deref(p));
    if let Some(p) = params.clone().find(|p| p.get("in").and_then(Value::as_str) == Some("body")) {
        let schema = p.get("schema").cloned().unwrap_or(Value::Null);
        let mut l = Vec::new();
        let t = cv.ty(&schema, "body", &mut l);
        losses.extend(l);
        return Some(t);
    }
    if params.clone().any(|p| p.get("in").and_then(Value::as_str) == Some("formData")) {
        losses.push("the form parameters (formData) are not sent: an endpoint sends JSON bodies".into());
    }
    let body = cv.deref(op.get("requestBody")?);
    let content = body.get("content")?;
    let Some(media) = json_media(content) else {
        let kinds: Vec<&str> = content.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
        losses.push(format!("the request body ({}) is not declared: an endpoint sends JSON bodies", kinds.join(", ")));
        return None;
    };
    if matches!(method, "get" | "delete") {
        losses.push(format!("the request body is not declared: {} sends none", method.to_ascii_uppercase()));
        return None;
    }
    let schema = media.get("schema").cloned().unwrap_or(Value::Null);
    let mut l = Vec::new();
    let t = cv.ty(&schema, "body", &mut l);
    losses.extend(l);
    Some(t)
}

/// The type of the first 2xx answer with a JSON body, and whether it documents a `Link` header.
pub(crate) fn response(cv: &Convert<'_>, op: &Value, losses: &mut Vec<String>) -> (Option<Ty>, bool) {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else { return (None, false) };
    let mut codes: Vec<&String> = responses.keys().filter(|k| k.starts_with('2')).collect();
    codes.sort();
    for code in codes {
        let r = cv.deref(&responses[code]);
        let link = r
            .get("headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("link")));
        if let Some(schema) = r.get("schema") {
            // Swagger 2: the answer's schema is on it.
            let mut l = Vec::new();
            let t = cv.ty(schema, "response", &mut l);
            losses.extend(l);
            return (Some(t), link);
        }
        let Some(content) = r.get("content") else {
            if link {
                return (None, true);
            }
            continue;
        };
        let Some(media) = json_media(content) else {
            let kinds: Vec<&str> =
                content.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
            if !kinds.is_empty() {
                losses.push(format!("the {code} answer ({}) is not read: an endpoint reads JSON", kinds.join(", ")));
            }
            continue;
        };
        let schema = media.get("schema").cloned().unwrap_or(Value::Null);
        let mut l = Vec::new();
        let t = cv.ty(&schema, "response", &mut l);
        losses.extend(l);
        return (Some(t), link);
    }
    (None, false)
}

/// Query parameters that carry a cursor, newest names first.
const CURSOR_PARAMS: [&str; 8] =
    ["cursor", "after", "page_token", "pageToken", "next_token", "nextToken", "continuation", "starting_after"];
/// Response fields that hold the next page's cursor.
const CURSOR_FIELDS: [&str; 9] = [
    "next_cursor",
    "nextCursor",
    "next_page_token",
    "nextPageToken",
    "next_token",
    "nextToken",
    "cursor",
    "after",
    "continuation",
];
/// Response fields that hold the next page's URL.
const NEXT_URL_FIELDS: [&str; 5] = ["next", "next_url", "nextUrl", "nextLink", "next_page_url"];
/// Fields that usually hold a page's records.
const RECORD_FIELDS: [&str; 8] = ["data", "items", "results", "records", "values", "entries", "elements", "list"];

fn paging(cv: &Convert<'_>, e: &mut Endpoint, link_header: bool) {
    let Some(response) = e.response.clone() else { return };
    let query: Vec<&str> = e.params.iter().filter(|p| p.place == Place::Query).map(|p| p.wire.as_str()).collect();
    let has = |name: &str| query.contains(&name);
    let kind_for_array = || {
        if link_header {
            Some("link_header()".to_string())
        } else if has("page") {
            Some("page(param: \"page\", start: 1)".to_string())
        } else {
            None
        }
    };
    if let Ty::Array(_) = response.non_null() {
        e.paginate = kind_for_array();
        return;
    }
    let Some(fields) = object_fields(cv, response.non_null()) else { return };
    // The records: the one array field, or among several the one with a usual name.
    let arrays: Vec<&Field> = fields.iter().filter(|f| matches!(f.ty.non_null(), Ty::Array(_))).collect();
    let records = match arrays.as_slice() {
        [] => return,
        [one] => *one,
        many => match many.iter().find(|f| RECORD_FIELDS.contains(&f.name.as_str())) {
            Some(f) => *f,
            None => return,
        },
    };
    if records.optional || matches!(records.ty, Ty::Nullable(_)) {
        // `records` must be there on every page.
        return;
    }
    let path = format!("response.{}", flow_syntax::lex::key(&records.name));
    let more = fields
        .iter()
        .find(|f| f.name == "has_more" && !f.optional && f.ty == Ty::Prim("Bool"))
        .map(|_| ", more: response.has_more".to_string())
        .unwrap_or_default();
    // Stripe: the next page starts after the last record's id.
    if has("starting_after") && !more.is_empty() {
        if let Ty::Array(item) = records.ty.non_null() {
            if object_fields(cv, item.non_null()).is_some_and(|fs| fs.iter().any(|f| f.name == "id" && !f.optional)) {
                e.records = Some(path);
                e.paginate = Some(format!("cursor(param: \"starting_after\", from: last(records)?.id{more})"));
                return;
            }
        }
    }
    let cursor_param = CURSOR_PARAMS.iter().find(|p| has(p) && **p != "starting_after");
    if let Some(param) = cursor_param {
        if let Some(from) = find_field(cv, &fields, &CURSOR_FIELDS, "response", 0) {
            e.records = Some(path);
            e.paginate = Some(format!("cursor(param: {}, from: {from}{more})", flow_syntax::lex::quote(param)));
            return;
        }
    }
    if let Some(from) = find_field(cv, &fields, &NEXT_URL_FIELDS, "response", 0) {
        e.records = Some(path);
        e.paginate = Some(format!("next_url(from: {from}{more})"));
        return;
    }
    if has("offset") {
        let limit = if has("limit") { ", limit_param: \"limit\"" } else { "" };
        e.records = Some(path);
        e.paginate = Some(format!("offset(param: \"offset\", size: 100{limit}{more})"));
        return;
    }
    if link_header {
        e.records = Some(path);
        e.paginate = Some("link_header()".to_string());
        return;
    }
    if has("page") {
        e.records = Some(path);
        e.paginate = Some(format!("page(param: \"page\", start: 1{more})"));
        return;
    }
    e.records = Some(path);
}

/// The fields of an object type, through a named type.
fn object_fields(cv: &Convert<'_>, t: &Ty) -> Option<Vec<Field>> {
    match t {
        Ty::Object(f) => Some(f.clone()),
        Ty::Named(n) => {
            let pointer = cv.names.iter().find(|(_, v)| *v == n).map(|(p, _)| p)?;
            let schema = crate::schema::resolve(cv.spec, pointer)?;
            let mut ignore = Vec::new();
            match cv.ty(schema, "", &mut ignore) {
                Ty::Object(f) => Some(f),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A text field with one of these names, at the top or one object down: its path, with `?.`
/// after every level that may be absent or null.
fn find_field(cv: &Convert<'_>, fields: &[Field], names: &[&str], at: &str, depth: usize) -> Option<String> {
    for want in names {
        if let Some(f) = fields.iter().find(|f| f.name == *want) {
            if matches!(f.ty.non_null(), Ty::Prim("String")) {
                return Some(format!("{at}.{}", flow_syntax::lex::key(&f.name)));
            }
        }
    }
    if depth > 0 {
        return None;
    }
    for f in fields {
        if let Some(inner) = object_fields(cv, f.ty.non_null()) {
            let maybe = f.optional || matches!(f.ty, Ty::Nullable(_));
            let here = format!("{at}.{}", flow_syntax::lex::key(&f.name));
            if let Some(found) = find_field(cv, &inner, names, &here, depth + 1) {
                if maybe {
                    // `response.meta.next` → `response.meta?.next`
                    let rest = &found[here.len()..];
                    return Some(format!("{here}?{rest}"));
                }
                return Some(found);
            }
        }
    }
    None
}

/// Prints an endpoint.
pub(crate) fn print(out: &mut Out, api: &str, e: &Endpoint) {
    let site = format!("op:{}", e.name);
    if let Some(s) = &e.summary {
        out.comment("", &format!("{} {}: {}", e.method, e.path, s.lines().next().unwrap_or("")));
    }
    for loss in &e.losses {
        out.comment("", &format!("lossy: {loss}"));
    }
    let paging_given_up = out.degraded.get(&format!("{site}/paging")).cloned();
    if let Some(why) = &paging_given_up {
        out.comment("", &format!("lossy: records and paging not declared: {why}"));
    }
    out.push(&format!("endpoint {} = {api} {} {}", e.name, e.method, flow_syntax::lex::quote(&e.path)));
    let has_params = !e.params.is_empty() || e.body.is_some();
    if has_params {
        out.push(" (\n");
        for p in &e.params {
            out.push("  ");
            out.push(&p.name);
            out.push(": ");
            out.ty(&format!("{site}/param:{}", p.name), &p.ty, "  ");
            out.push(",\n");
        }
        if let Some(b) = &e.body {
            out.push("  body: ");
            out.ty(&format!("{site}/body"), b, "  ");
            out.push(",\n");
        }
        out.push(")");
    }
    if let Some(r) = &e.response {
        out.push(" -> ");
        out.ty(&format!("{site}/response"), r, "");
    }
    let query: Vec<&Param> = e.params.iter().filter(|p| p.place == Place::Query).collect();
    let headers: Vec<&Param> = e.params.iter().filter(|p| p.place == Place::Header).collect();
    let paging = paging_given_up.is_none() && e.response.is_some();
    let mut props: Vec<(String, String)> = Vec::new();
    let object = |ps: &[&Param]| {
        let items: Vec<String> =
            ps.iter().map(|p| format!("{}: {}", flow_syntax::lex::quote(&p.wire), p.name)).collect();
        format!("{{ {} }}", items.join(", "))
    };
    if !query.is_empty() {
        props.push(("query".into(), object(&query)));
    }
    if !headers.is_empty() {
        props.push(("headers".into(), object(&headers)));
    }
    if paging {
        if let Some(r) = &e.records {
            props.push(("records".into(), r.clone()));
        }
        if let Some(p) = &e.paginate {
            props.push(("paginate".into(), p.clone()));
        }
    }
    if !props.is_empty() {
        out.push(" {\n");
        for (k, v) in props {
            let start = out.text.len();
            out.push(&format!("  {k} = {v}\n"));
            if k == "records" || k == "paginate" {
                out.sites.push(crate::render::Site { id: format!("{site}/paging"), start, end: out.text.len() });
            }
        }
        out.push("}");
    }
    out.push("\n");
}
