//! `flowc check --spec SPEC`: where hand-written declarations have drifted from a vendor's spec.
//!
//! What is compared with what (docs/openapi.md says it for users):
//! - an endpoint of the api the spec describes with the operation of the same method and path
//!   (the api's `base_url` path and the spec's server path before them; placeholders compared by
//!   place, not name): its response type with the operation's first 2xx JSON answer, its `body`
//!   parameter with the JSON request body;
//! - its path, query and header parameters with the operation's `parameters` (`params.rs`);
//! - a declared type with the named schema of its name, by the rule `flowc import openapi` names
//!   types (`account_business_profile` → `AccountBusinessProfile`);
//! - a declared type with the schema a `// spec: KEY` comment just above it names (`// spec:
//!   none`: not by its name);
//! - through all of these, every declared type a compared type names, with the schema the spec
//!   names at that place.
//!
//! The spec side is the importer's own model of the schema (`schema::Convert`), so what the
//! import writes is what the comparison accepts. A response is compared so that every value the
//! spec allows decodes as the declared type; a body so that every value the type allows is one
//! the spec takes.

use std::collections::{HashMap, HashSet};

use flow_diagnostics::{codes, did_you_mean, Diagnostic, Fix, Span};
use flow_syntax::ast::{self, ExprKind, TypeExpr, TypeExprKind};
use serde_json::Value;

use crate::schema::{resolve, Convert, Field, Ty};

mod params;
use params::api_sends;

/// How to compare.
#[derive(Clone, Debug, Default)]
pub struct SpecOptions {
    /// The api the spec describes (default: the file's only api, or the one whose `base_url`
    /// has the spec's server host).
    pub api: Option<String>,
    /// Also warn (W0014) for each field a response schema requires that its type leaves out.
    /// (A body's missing required fields are always reported: the API refuses such requests.)
    pub required: bool,
    /// What the other specs compared with the same file have (several `--spec`, one per api).
    pub others: Others,
}

/// The other specs compared with a file beside this one ([`others_of`] of each, merged): a type
/// is compared with this spec by its name or link only where it is this spec's to compare.
#[derive(Clone, Debug, Default)]
pub struct Others {
    /// Their schemas' keys and pointers: a `// spec:` link to one of them is no E0618 here.
    pub keys: HashSet<String>,
    /// The type names their schemas have (the importer's names).
    pub names: HashSet<String>,
    /// The apis whose endpoints they are compared with.
    pub apis: HashSet<String>,
    /// Leave a link that no spec has (E0618) to another spec to report (once per file).
    pub quiet_links: bool,
}

/// What a spec contributes to the [`Others`] of the specs compared beside it.
pub fn others_of(file: &ast::File, spec: &Value, options: &SpecOptions) -> Others {
    let order = crate::type_names(spec, None);
    let mut keys = HashSet::new();
    for (pointer, _, _) in &order {
        keys.insert(crate::schema_key(pointer));
        keys.insert(pointer.clone());
    }
    let names = order.iter().map(|(_, n, _)| n.clone()).collect();
    let apis =
        apis_compared(file, spec, options).map(|a| a.keys().map(|k| k.to_string()).collect()).unwrap_or_default();
    Others { keys, names, apis, quiet_links: false }
}

/// The declared types the endpoints of the apis `apis` says yes to use, through the types
/// they name.
pub(crate) fn used_by<'f>(file: &'f ast::File, apis: &dyn Fn(&str) -> bool) -> HashSet<&'f str> {
    let types: HashMap<&str, &ast::TypeDecl> = file
        .decls
        .iter()
        .filter_map(|d| if let ast::Decl::Type(t) = d { Some((t.name.name.as_str(), t)) } else { None })
        .collect();
    let mut todo: Vec<&TypeExpr> = Vec::new();
    for d in &file.decls {
        let ast::Decl::Endpoint(e) = d else { continue };
        if apis(&e.api.name) {
            todo.extend(e.response.iter());
            todo.extend(e.params.iter().map(|p| &p.ty));
        }
    }
    let mut out = HashSet::new();
    while let Some(t) = todo.pop() {
        match &t.kind {
            TypeExprKind::Name(n) => {
                if let Some(decl) = types.get(n.name.as_str()) {
                    if out.insert(decl.name.name.as_str()) {
                        todo.push(&decl.ty);
                    }
                }
            }
            TypeExprKind::Union(ms) => todo.extend(ms.iter()),
            TypeExprKind::Array(i) => todo.push(i),
            TypeExprKind::Object(fs) => todo.extend(fs.iter().map(|f| &f.ty)),
            TypeExprKind::Dict { value, .. } => todo.push(value),
            // A derived type uses its base (`pick(User, id)` uses `User`).
            TypeExprKind::Formed(_) => {
                let base = derivation_of(t).and_then(root_base);
                if let Some(decl) = base.and_then(|b| types.get(b.name.as_str())) {
                    if out.insert(decl.name.name.as_str()) {
                        todo.push(&decl.ty);
                    }
                }
            }
            TypeExprKind::Literal(_) => {}
        }
    }
    out
}

const DERIVATIONS: [&str; 3] = ["pick", "omit", "partial"];

fn is_derivation(e: &ast::Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { callee, .. } if DERIVATIONS.contains(&callee.name.as_str()))
}

/// The innermost base a derivation names (`User` in `partial(pick(User, id))`).
fn root_base(mut call: &ast::Expr) -> Option<&ast::Ident> {
    loop {
        let ExprKind::Call { args, .. } = &call.kind else { return None };
        match args.first().map(|a| &a.value) {
            Some(inner) if is_derivation(inner) => call = inner,
            Some(ast::Expr { kind: ExprKind::Name(id), .. }) => return Some(id),
            _ => return None,
        }
    }
}

/// The derivation a type declaration's right side is, if it is one.
fn derivation_of(t: &TypeExpr) -> Option<&ast::Expr> {
    match &t.kind {
        TypeExprKind::Formed(call) if is_derivation(call) => Some(call),
        _ => None,
    }
}

/// `file` with each derived type (`pick`, `omit`, `partial`) declared by the fields the checker
/// resolved it to (`flow_check::Info::derived_fields`: the derivation rules are the checker's
/// alone), each the field's declaration as written in the base (spans included, so drift is
/// reported where the field's type is written) made optional or not as the checker made it;
/// `None` when the file derives none. A derivation the checker refuses is left as written.
fn resolved(file: &ast::File) -> Option<ast::File> {
    if !file.decls.iter().any(|d| matches!(d, ast::Decl::Type(t) if derivation_of(&t.ty).is_some())) {
        return None;
    }
    let checked = flow_check::check_parsed_for_editor(file, Vec::new());
    let derived: HashMap<Span, &Vec<flow_check::DerivedField>> =
        checked.info.derived_fields.iter().map(|(s, fields)| (*s, fields)).collect();
    let mut written: HashMap<Span, &ast::FieldDecl> = HashMap::new();
    for d in &file.decls {
        if let ast::Decl::Type(t) = d {
            if let TypeExprKind::Object(fs) = &t.ty.kind {
                for f in fs {
                    written.insert(f.name.span, f);
                }
            }
        }
    }
    let mut out = file.clone();
    for d in &mut out.decls {
        let ast::Decl::Type(t) = d else { continue };
        if derivation_of(&t.ty).is_none() {
            continue;
        }
        let Some(fields) = derived.get(&t.name.span) else { continue };
        let fields: Option<Vec<ast::FieldDecl>> = fields
            .iter()
            .map(|f| {
                let mut decl = (*written.get(&f.declared?)?).clone();
                decl.optional = f.optional;
                decl.present = f.present;
                Some(decl)
            })
            .collect();
        let Some(fields) = fields else { continue };
        t.ty = TypeExpr { kind: TypeExprKind::Object(fields), nullable: t.ty.nullable, span: t.ty.span };
    }
    Some(out)
}

/// What was compared, and the drift found.
#[derive(Clone, Debug, Default)]
pub struct SpecReport {
    pub diagnostics: Vec<Diagnostic>,
    /// Endpoints matched with an operation of the spec.
    pub endpoints: usize,
    /// Declared types compared with a schema.
    pub types: usize,
}

/// E0611: the spec cannot be read. `file` names it; `why` says what is wrong.
pub fn unreadable_spec(file: &str, why: &str) -> Diagnostic {
    Diagnostic::new(codes::SPEC_UNREADABLE, format!("the spec {file} cannot be compared with: {why}"))
        .help("`--spec` takes an OpenAPI 3.0 or 3.1 (or Swagger 2.0) document, as JSON or YAML")
}

/// Reads a spec's text for `--spec`: JSON or YAML, and an OpenAPI document; E0611 otherwise.
pub fn read_spec_for_check(file: &str, text: &str, yaml: bool) -> Result<Value, Diagnostic> {
    let spec = crate::read_spec(text, yaml).map_err(|why| unreadable_spec(file, &why))?;
    match crate::not_openapi(&spec) {
        Some(why) => Err(unreadable_spec(file, &why)),
        None => Ok(spec),
    }
}

/// Compares a parsed `.flow` file (and its text, for the `// spec:` links above types) with a
/// spec (already read: [`read_spec_for_check`]).
pub fn check_spec(file: &ast::File, source: &str, spec: &Value, options: &SpecOptions) -> SpecReport {
    // Derived types (`pick`, `omit`, `partial`) compared by the fields they give; which types an
    // endpoint uses is found in the file as written (a derived type uses its base).
    let written = file;
    let resolved = resolved(file);
    let file = resolved.as_ref().unwrap_or(file);
    let order = crate::type_names(spec, None);
    let names: HashMap<String, String> = order.iter().map(|(p, n, _)| (p.clone(), n.clone())).collect();
    let by_name: HashMap<String, String> = order.iter().map(|(p, n, _)| (n.clone(), p.clone())).collect();
    let cv = Convert { spec, names: &names };
    let mut types: HashMap<&str, &ast::TypeDecl> = HashMap::new();
    for d in &file.decls {
        if let ast::Decl::Type(t) = d {
            types.entry(t.name.name.as_str()).or_insert(t);
        }
    }
    let mut c = Compare {
        cv: &cv,
        by_name: &by_name,
        types,
        required: options.required,
        out: Vec::new(),
        seen: HashSet::new(),
        not_compared: HashSet::new(),
        compared_types: HashSet::new(),
        schemas: HashMap::new(),
        trials: HashMap::new(),
    };
    let mut endpoints = 0;
    let compared_apis = apis_compared(file, spec, options);
    // With other specs beside this one: the types this spec's endpoints use are its own, those
    // only other specs' endpoints use are theirs, and a type no endpoint uses is compared by
    // name only where no other spec has a schema of its name.
    let others = &options.others;
    let mine: HashSet<&str> = match &compared_apis {
        Ok(apis) => used_by(written, &|a| apis.contains_key(a)),
        Err(_) => HashSet::new(),
    };
    let theirs: HashSet<&str> = used_by(written, &|a| others.apis.contains(a));
    let belongs = |t: &str| mine.contains(t) || !theirs.contains(t);
    match compared_apis {
        Ok(apis) => {
            let ops = operations(spec);
            for d in &file.decls {
                let ast::Decl::Endpoint(e) = d else { continue };
                let Some(prefix) = apis.get(e.api.name.as_str()) else { continue };
                if c.endpoint(e, prefix, &ops) {
                    endpoints += 1;
                    c.params(e, prefix, &ops, api_sends(file, &e.api.name));
                }
            }
        }
        Err(d) => c.out.push(d),
    }
    for d in &file.decls {
        let ast::Decl::Type(t) = d else { continue };
        let name = t.name.name.as_str();
        let schema = match link(source, t.span.start as usize) {
            Some((text, _)) if text == "none" => continue,
            Some((text, span)) => match linked_schema(&order, &text) {
                Some(_) if !belongs(name) => continue,
                Some(schema) => schema,
                None if others.quiet_links || others.keys.contains(&text) => continue,
                None => {
                    let keys: Vec<String> = order.iter().map(|(p, _, _)| crate::schema_key(p)).collect();
                    let mut d = Diagnostic::new(
                        codes::SPEC_LINK,
                        format!("the spec has no schema `{text}` for type `{}`", t.name.name),
                    )
                    .primary(span, "no schema of this name");
                    d = match flow_diagnostics::suggest(&text, keys.iter().map(String::as_str)) {
                        Some(near) => d.help(did_you_mean(span, near)),
                        None => d.help("write a key of `components.schemas` (or `definitions`), or `none`"),
                    };
                    c.out.push(d);
                    continue;
                }
            },
            None if by_name.contains_key(name)
                && belongs(name)
                && (mine.contains(name) || !others.names.contains(name)) =>
            {
                t.name.name.clone()
            }
            None => continue,
        };
        // A type compared as a body already is not also compared as a response.
        if !c.seen.contains(&(t.name.name.clone(), schema.clone(), Dir::Body)) {
            c.named(&t.name.name, &schema, Dir::Response);
        }
    }
    let types = c.compared_types.len();
    let mut diagnostics = c.out;
    flow_diagnostics::sort(&mut diagnostics);
    SpecReport { diagnostics, endpoints, types }
}

/// The link written on the line just above a declaration starting at `start`: `// spec: KEY`
/// (a schema's key, or its `#/…` pointer, or `none`), with the span of what follows `spec:`.
fn link(source: &str, start: usize) -> Option<(String, Span)> {
    let before = source.get(..start)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if line_start == 0 || !before[line_start..].trim().is_empty() {
        return None;
    }
    let prev = &before[..line_start - 1];
    let prev_start = prev.rfind('\n').map_or(0, |i| i + 1);
    let line = &prev[prev_start..];
    let rest = line.trim_start().strip_prefix("//")?.trim_start().strip_prefix("spec:")?;
    let value = rest.trim();
    if value.is_empty() {
        return None;
    }
    let at = prev_start + (line.len() - rest.len()) + (rest.len() - rest.trim_start().len());
    Some((value.to_string(), Span::new(at, at + value.len())))
}

/// The type name of the schema a link names: by its pointer, or its key.
fn linked_schema(order: &[(String, String, &Value)], text: &str) -> Option<String> {
    order
        .iter()
        .find(|(pointer, _, _)| pointer == text || crate::schema_key(pointer) == text)
        .map(|(_, name, _)| name.clone())
}

/// Which way values go: from the API (a response: the spec's values must fit the type), or to
/// it (a body: the type's values must fit the spec).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Dir {
    Response,
    Body,
}

/// An operation of the spec: its method, its full path (server path and path), as written and
/// with each placeholder as `{}`.
struct Operation<'v> {
    method: String,
    path: String,
    shape: String,
    /// `None` for a path item whose `$ref` does not resolve (its methods are not known).
    op: Option<&'v Value>,
    /// The path item (its `parameters` are the operation's too).
    item: Option<&'v Value>,
}

/// `/repos/{owner}/{repo}` → `/repos/{}/{}`; a trailing `/` is not part of the shape.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in path.chars() {
        match ch {
            '{' => {
                if depth == 0 {
                    out.push_str("{}");
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    while out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// The path part of a URL: `https://slack.com/api/` → `/api`; `/v1` → `/v1`.
fn url_path(url: &str) -> String {
    let rest = match url.split_once("://") {
        Some((_, after)) => after.find('/').map_or("", |i| &after[i..]),
        None => url,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.trim_end_matches('/').to_string()
}

fn url_host(url: &str) -> Option<String> {
    let (_, after) = url.split_once("://")?;
    let host = after.split(['/', '?', '#']).next()?;
    Some(host.to_ascii_lowercase())
}

/// The spec's server URL (its variables at their defaults), or Swagger 2's host and base path.
fn server_url(spec: &Value) -> Option<String> {
    if let Some(server) = spec.pointer("/servers/0") {
        let mut url = server.get("url")?.as_str()?.to_string();
        if let Some(vars) = server.get("variables").and_then(Value::as_object) {
            for (k, v) in vars {
                url = url.replace(&format!("{{{k}}}"), v.get("default").and_then(Value::as_str).unwrap_or(""));
            }
        }
        return Some(url);
    }
    let host = spec.get("host").and_then(Value::as_str);
    let base = spec.get("basePath").and_then(Value::as_str).unwrap_or("");
    match host {
        Some(h) => Some(format!("https://{h}{base}")),
        None if !base.is_empty() => Some(base.to_string()),
        None => None,
    }
}

fn operations(spec: &Value) -> Vec<Operation<'_>> {
    let prefix = server_url(spec).map(|u| url_path(&u)).unwrap_or_default();
    let mut out = Vec::new();
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else { return out };
    for (path, item) in paths {
        let full = format!("{prefix}{path}");
        let item = match item.get("$ref").and_then(Value::as_str) {
            Some(r) => match resolve(spec, r) {
                Some(item) => item,
                None => {
                    out.push(Operation {
                        method: r.to_string(),
                        shape: shape(&full),
                        path: full,
                        op: None,
                        item: None,
                    });
                    continue;
                }
            },
            None => item,
        };
        for method in crate::ops::METHODS {
            if let Some(op) = item.get(method) {
                let (path, shape) = (full.clone(), shape(&full));
                out.push(Operation {
                    method: method.to_ascii_uppercase(),
                    shape,
                    path,
                    op: Some(op),
                    item: Some(item),
                });
            }
        }
    }
    out
}

/// A string literal's value (an api's `base_url`).
fn literal(e: &ast::Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Str(s) => Some(s),
        _ => None,
    }
}

/// The apis whose endpoints are compared, each with its `base_url`'s path.
fn apis_compared<'f>(
    file: &'f ast::File,
    spec: &Value,
    options: &SpecOptions,
) -> Result<HashMap<&'f str, String>, Diagnostic> {
    let apis: Vec<&ast::ApiDecl> =
        file.decls.iter().filter_map(|d| if let ast::Decl::Api(a) = d { Some(a) } else { None }).collect();
    let base = |a: &ast::ApiDecl| {
        a.props.iter().find(|p| p.name.name == "base_url").and_then(|p| literal(&p.value)).map(str::to_string)
    };
    let chosen: Vec<&ast::ApiDecl> = match &options.api {
        Some(name) => {
            let found: Vec<&ast::ApiDecl> = apis.iter().copied().filter(|a| &a.name.name == name).collect();
            if found.is_empty() {
                let names: Vec<&str> = apis.iter().map(|a| a.name.name.as_str()).collect();
                let has = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                return Err(Diagnostic::new(
                    codes::SPEC_API,
                    format!("`--spec {name}=…` names no api of this file (it has: {has})"),
                ));
            }
            found
        }
        None if apis.len() <= 1 => apis.clone(),
        None => {
            let host = server_url(spec).and_then(|u| url_host(&u));
            let found: Vec<&ast::ApiDecl> =
                apis.iter().copied().filter(|a| host.is_some() && base(a).and_then(|b| url_host(&b)) == host).collect();
            if found.len() != 1 {
                let names: Vec<&str> = apis.iter().map(|a| a.name.name.as_str()).collect();
                let mut d = Diagnostic::new(
                    codes::SPEC_API,
                    format!(
                        "the file has {} apis ({}), and {} the spec's server{}",
                        apis.len(),
                        names.join(", "),
                        if found.is_empty() { "none has the host of" } else { "several have the host of" },
                        host.map(|h| format!(" ({h})")).unwrap_or_default()
                    ),
                )
                .help("name the api the spec describes: `--spec API=SPEC`; its types are compared all the same");
                for a in &apis {
                    d = d.secondary(a.name.span, "an api");
                }
                return Err(d);
            }
            found
        }
    };
    Ok(chosen.into_iter().map(|a| (a.name.name.as_str(), base(a).map(|b| url_path(&b)).unwrap_or_default())).collect())
}

/// A schema's type with what the importer could not say about it (each loss `at: why`).
struct Schema {
    ty: Ty,
    losses: Vec<String>,
}

/// Where in the spec a comparison is: which schema, and the path inside its type (the
/// importer's own path syntax: `a.b`, `[]`, `[key]`, `|2`), for its losses.
#[derive(Clone)]
struct At<'s> {
    /// The importer's losses in this schema (a field's own are added where it is reached).
    losses: std::rc::Rc<Vec<String>>,
    path: String,
    /// What the spec side is, for notes: `the schema account`, `the response of GET /x`.
    what: &'s str,
}

impl<'s> At<'s> {
    fn down(&self, step: &str) -> At<'s> {
        let path = if step.starts_with(['[', '|']) || self.path.is_empty() {
            format!("{}{step}", self.path)
        } else {
            format!("{}.{step}", self.path)
        };
        At { path, ..self.clone() }
    }

    /// The loss recorded exactly here, if any (the importer writes each as `path: why`).
    fn loss(&self) -> Option<&str> {
        let prefix = format!("{}: ", self.path);
        self.losses.iter().find_map(|l| l.strip_prefix(&prefix))
    }
}

struct Compare<'a, 'v> {
    cv: &'a Convert<'v>,
    /// A type name the importer would give → its schema's pointer.
    by_name: &'a HashMap<String, String>,
    types: HashMap<&'a str, &'a ast::TypeDecl>,
    required: bool,
    out: Vec<Diagnostic>,
    /// (declared type, schema type name, direction) pairs already compared.
    seen: HashSet<(String, String, Dir)>,
    /// Places already reported as not compared.
    not_compared: HashSet<(u32, u32)>,
    compared_types: HashSet<String>,
    schemas: HashMap<String, Schema>,
    /// What trials against named schemas found (`fits`), by place, schema, direction, null.
    trials: HashMap<(u32, u32, String, Dir, bool), bool>,
}

/// A declared type's wire shape, for scalars.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wire {
    Str(Text),
    Num(Number),
    Bool,
    /// `Decimal`: a number, or a numeric text.
    AnyDecimal,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Text {
    Any,
    DateTime,
    /// `DateTime("%…")`: a format of the user's.
    Format,
    Date,
    Unix(bool),
    Decimal,
    Int,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Number {
    Int,
    Any,
    /// Unix time, `true` for milliseconds.
    Unix(bool),
}

/// The importer's spelling of a scalar (`Ty::Prim`) as a wire shape.
fn spec_wire(p: &str) -> Option<Wire> {
    Some(match p {
        "String" => Wire::Str(Text::Any),
        "DateTime" => Wire::Str(Text::DateTime),
        "Date" => Wire::Str(Text::Date),
        "DateTime(unix_seconds, string)" => Wire::Str(Text::Unix(false)),
        "Decimal(string)" => Wire::Str(Text::Decimal),
        "Int" => Wire::Num(Number::Int),
        "DateTime(unix_seconds)" => Wire::Num(Number::Unix(false)),
        "Float" | "Decimal(number)" => Wire::Num(Number::Any),
        "Bool" => Wire::Bool,
        _ => return None,
    })
}

fn word(e: &ast::Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Name(i) => Some(&i.name),
        _ => None,
    }
}

/// A declared scalar's wire shape: a built-in type's name or a type with its form.
fn declared_wire(t: &TypeExpr) -> Option<Wire> {
    match &t.kind {
        TypeExprKind::Name(n) => Some(match n.name.as_str() {
            "String" => Wire::Str(Text::Any),
            "DateTime" => Wire::Str(Text::DateTime),
            "Date" => Wire::Str(Text::Date),
            "Int" => Wire::Num(Number::Int),
            "Float" => Wire::Num(Number::Any),
            "Decimal" => Wire::AnyDecimal,
            "Bool" => Wire::Bool,
            _ => return None,
        }),
        TypeExprKind::Formed(call) => {
            let ExprKind::Call { callee, args } = &call.kind else { return None };
            let positional: Vec<&ast::Expr> = args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
            let second = positional.get(1).and_then(|e| word(e));
            match (callee.name.as_str(), positional.first().map(|e| &e.kind)) {
                ("DateTime", Some(ExprKind::Str(_))) => Some(Wire::Str(Text::Format)),
                ("DateTime", Some(ExprKind::Name(w))) => match w.name.as_str() {
                    "rfc3339" => Some(Wire::Str(Text::DateTime)),
                    "unix_seconds" | "unix_millis" => {
                        let millis = w.name == "unix_millis";
                        Some(if second == Some("string") {
                            Wire::Str(Text::Unix(millis))
                        } else {
                            Wire::Num(Number::Unix(millis))
                        })
                    }
                    _ => None,
                },
                ("Decimal", _) => match positional.first().and_then(|e| word(e)) {
                    Some("string") => Some(Wire::Str(Text::Decimal)),
                    Some("number") => Some(Wire::Num(Number::Any)),
                    _ => None,
                },
                ("Int", _) => match positional.first().and_then(|e| word(e)) {
                    Some("string") => Some(Wire::Str(Text::Int)),
                    Some("number") => Some(Wire::Num(Number::Int)),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether a declared scalar is text of a form (a date, a number as text…), not any text.
fn promises_format(w: Option<Wire>) -> bool {
    matches!(w, Some(Wire::Str(t)) if t != Text::Any)
}

/// Whether every value of `a` is a value of `b` (scalars).
fn wire_within(a: Wire, b: Wire) -> bool {
    match (a, b) {
        (Wire::Bool, Wire::Bool) => true,
        (Wire::AnyDecimal, Wire::AnyDecimal) => true,
        (Wire::Num(_) | Wire::Str(Text::Decimal | Text::Int), Wire::AnyDecimal) => true,
        (Wire::AnyDecimal, Wire::Num(Number::Any)) => true,
        (Wire::Str(x), Wire::Str(y)) => {
            x == y
                || x == Text::Any
                || y == Text::Any
                || matches!((x, y), (Text::DateTime, Text::Format) | (Text::Format, Text::DateTime))
        }
        (Wire::Num(x), Wire::Num(y)) => match (x, y) {
            (Number::Int, _) => true,
            (Number::Any, Number::Any | Number::Unix(_)) => true,
            (Number::Unix(_), Number::Int | Number::Any) => true,
            (Number::Unix(m), Number::Unix(n)) => m == n,
            _ => false,
        },
        _ => false,
    }
}

/// Whether a declared type is nullable for what lies behind a spec type whose null has been
/// judged at this place already (`d_null` against the spec's `s_null`): in a response a null
/// the spec allows is reported once, not again at each schema a chain of references passes; in a
/// body a null the spec takes is taken, whatever the schema behind it says.
fn judged(d_null: bool, s_null: bool, dir: Dir) -> bool {
    match dir {
        Dir::Response => d_null || s_null,
        Dir::Body => d_null && !s_null,
    }
}

/// A spec type in `.flow` words, short: for messages.
fn show(t: &Ty) -> String {
    match t {
        Ty::Named(n) => n.clone(),
        Ty::Prim(p) => (*p).to_string(),
        Ty::Lits(vs) => vs.iter().map(|v| flow_syntax::lex::quote(v)).collect::<Vec<_>>().join(" | "),
        Ty::Array(t) => format!("[{}]", show(t)),
        Ty::Dict(t) => format!("{{ [String]: {} }}", show(t)),
        Ty::Object(_) => "an object".into(),
        Ty::Union(ms) => ms.iter().map(show).collect::<Vec<_>>().join(" | "),
        Ty::Json => "Json".into(),
        Ty::Nullable(t) => match **t {
            Ty::Union(_) | Ty::Lits(_) => format!("({})?", show(t)),
            _ => format!("{}?", show(t)),
        },
    }
}

/// The JSON kind a spec type is written as, for telling union members apart in messages.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Text,
    Number,
    Bool,
    Array,
    Object,
    Other,
}

fn wire_kind(w: Wire) -> Kind {
    match w {
        Wire::Str(_) => Kind::Text,
        Wire::Num(_) | Wire::AnyDecimal => Kind::Number,
        Wire::Bool => Kind::Bool,
    }
}

impl<'a> Compare<'a, '_> {
    fn schema(&mut self, name: &str) -> Option<&Schema> {
        if !self.schemas.contains_key(name) {
            let pointer = self.by_name.get(name)?;
            let s = resolve(self.cv.spec, pointer)?;
            let mut losses = Vec::new();
            let ty = self.cv.ty(s, "", &mut losses);
            self.schemas.insert(name.to_string(), Schema { ty, losses });
        }
        self.schemas.get(name)
    }

    /// A declared name's type declaration (through aliases: the end of the chain), with
    /// whether the chain made it nullable.
    fn declared(&self, t: &'a TypeExpr) -> (&'a TypeExpr, bool, Option<&'a str>) {
        let mut t = t;
        let mut nullable = t.nullable;
        let mut name = None;
        for _ in 0..64 {
            let TypeExprKind::Name(n) = &t.kind else { break };
            let Some(decl) = self.types.get(n.name.as_str()) else { break };
            name = Some(decl.name.name.as_str());
            t = &decl.ty;
            nullable |= t.nullable;
        }
        (t, nullable, name)
    }

    /// Matches an endpoint with its operation and compares its types; whether it matched.
    fn endpoint(&mut self, e: &'a ast::EndpointDecl, prefix: &str, ops: &[Operation<'_>]) -> bool {
        let full = format!("{prefix}{}", e.path.value);
        let want = shape(&full);
        let method = e.method.as_str();
        if let Some(broken) = ops.iter().find(|o| o.op.is_none() && o.shape == want) {
            let why =
                format!("the path item {} is the reference `{}`, which does not resolve", broken.path, broken.method);
            self.not_compared(e.path.span, &why);
            return false;
        }
        let Some((op, op_value)) =
            ops.iter().find(|o| o.method == method && o.shape == want).and_then(|o| Some((o, o.op?)))
        else {
            let same_path: Vec<&str> = ops.iter().filter(|o| o.shape == want).map(|o| o.method.as_str()).collect();
            let mut d = Diagnostic::new(
                codes::SPEC_NO_OPERATION,
                format!("the spec has no operation {method} {full} for endpoint `{}`", e.name.name),
            )
            .primary(e.path.span, "no such operation in the spec");
            if !same_path.is_empty() {
                d = d.note(format!("the spec has {} at this path", same_path.join(", ")));
            } else {
                let paths: Vec<&str> = ops.iter().filter(|o| o.op.is_some()).map(|o| o.path.as_str()).collect();
                if let Some(near) = flow_diagnostics::suggest(&full, paths.iter().copied()) {
                    let methods: Vec<&str> = ops.iter().filter(|o| o.path == near).map(|o| o.method.as_str()).collect();
                    d = d.note(format!("the spec has {} {near}", methods.join(", ")));
                }
            }
            self.out.push(d);
            return false;
        };
        let what = format!("{} {}", op.method, op.path);
        let mut losses = Vec::new();
        if let Some(r) = &e.response {
            let (ty, _) = crate::ops::response(self.cv, op_value, &mut losses);
            match ty {
                Some(ty) => {
                    let what = format!("the response of {what}");
                    let at = At { losses: std::rc::Rc::new(losses), path: "response".into(), what: &what };
                    self.ty(r, false, &ty, &at, Dir::Response, 0);
                }
                None => self.not_compared(r.span, &format!("the spec gives {what} no JSON answer to compare with")),
            }
        }
        if let Some(body) = e.params.iter().find(|p| p.name.name == "body") {
            let mut body_losses = Vec::new();
            match crate::ops::request_body(self.cv, &method.to_ascii_lowercase(), op_value, &mut body_losses) {
                Some(ty) => {
                    let what = format!("the request body of {what}");
                    let at = At { losses: std::rc::Rc::new(body_losses), path: "body".into(), what: &what };
                    self.ty(&body.ty, false, &ty, &at, Dir::Body, 0);
                }
                None => self.not_compared(body.ty.span, &format!("the spec gives {what} no JSON body to compare with")),
            }
        }
        true
    }

    fn not_compared(&mut self, span: Span, why: &str) {
        if self.not_compared.insert((span.start, span.end)) {
            self.out.push(
                Diagnostic::new(codes::SPEC_NOT_COMPARED, format!("not compared with the spec: {why}"))
                    .primary(span, "not compared"),
            );
        }
    }

    /// Compares a declared type (by name) with the schema of a type name, once per pair.
    fn named(&mut self, declared: &str, schema: &str, dir: Dir) {
        if !self.seen.insert((declared.to_string(), schema.to_string(), dir)) {
            return;
        }
        let Some(decl) = self.types.get(declared).copied() else { return };
        let Some(s) = self.schema(schema) else { return };
        let ty = s.ty.clone();
        let losses = s.losses.clone();
        let key = self.by_name.get(schema).map(|p| crate::schema_key(p)).unwrap_or_default();
        let what = format!("the schema `{key}`");
        self.compared_types.insert(declared.to_string());
        let at = At { losses: std::rc::Rc::new(losses), path: String::new(), what: &what };
        // A schema's own `nullable` is judged at each use of the type (`assignee: User?`), not
        // at the type: it is what the schema says of the places that use it.
        self.ty(&decl.ty, judged(false, true, dir), &ty, &at, dir, 0);
    }

    /// Whether a spec type is a named schema that is itself nullable (through a chain of names).
    fn named_nullable(&mut self, s: &Ty) -> bool {
        let mut t = s.clone();
        for _ in 0..64 {
            let Ty::Named(n) = &t else { return false };
            let n = n.clone();
            match self.schema(&n).map(|s| s.ty.clone()) {
                Some(Ty::Nullable(_)) => return true,
                Some(next) => t = next,
                None => return false,
            }
        }
        false
    }

    /// Compares declared `d` (nullable when `d_null`) with spec type `s`.
    fn ty(&mut self, d: &'a TypeExpr, d_null: bool, s: &Ty, at: &At<'_>, dir: Dir, depth: usize) {
        if depth > 64 {
            self.not_compared(
                d.span,
                &format!("the spec's references go round in a cycle, or nest deeper than 64 ({})", at.what),
            );
            return;
        }
        let (dt, alias_null, declared_name) = self.declared(d);
        let d_null = d_null || alias_null;
        if let Some(n) = declared_name {
            self.compared_types.insert(n.to_string());
        }
        if let TypeExprKind::Name(n) = &dt.kind {
            if n.name == "Json" {
                return;
            }
        }
        // Null.
        let s_null = matches!(s, Ty::Nullable(_)) || self.named_nullable(s.non_null());
        let s = s.non_null();
        match dir {
            Dir::Response if s_null && !d_null => self.out.push(
                Diagnostic::new(codes::SPEC_PRESENCE, format!("the spec says this may be null ({})", at.what))
                    .primary(d.span, format!("`{}` takes no null", text_of(d)))
                    .help("make the type nullable: write `?` after it"),
            ),
            Dir::Body if d_null && !s_null && !matches!(s, Ty::Json) => self.out.push(
                Diagnostic::new(codes::SPEC_PRESENCE, format!("the spec takes no null here ({})", at.what))
                    .primary(d.span, "this may send null"),
            ),
            _ => {}
        }
        if let Ty::Json = s {
            if let Some(why) = at.loss() {
                let why = why.trim_end_matches(": `Json`").to_string();
                self.not_compared(d.span, &format!("{why} ({})", at.what));
            }
            return;
        }
        // A declared type against a named schema: each pair once.
        if let (Ty::Named(sn), Some(dn)) = (s, declared_name) {
            self.named(dn, sn, dir);
            return;
        }
        if let Ty::Named(sn) = s {
            let Some(schema) = self.schema(sn) else { return };
            let ty = schema.ty.clone();
            let losses = schema.losses.clone();
            let key = self.by_name.get(sn.as_str()).map(|p| crate::schema_key(p)).unwrap_or_default();
            let what = format!("the schema `{key}`");
            let inner = At { losses: std::rc::Rc::new(losses), path: String::new(), what: &what };
            self.ty(dt, judged(d_null, s_null, dir), &ty, &inner, dir, depth + 1);
            return;
        }
        // String literals on either side.
        let d_lits = literals(dt);
        if let Some(ds) = &d_lits {
            match s {
                Ty::Lits(vs) => return self.enumeration(dt, ds, vs, at, dir),
                Ty::Prim("String") => {
                    if dir == Dir::Response {
                        self.out.push(
                            Diagnostic::new(
                                codes::SPEC_ENUM,
                                format!("the spec allows any text here, not only these values ({})", at.what),
                            )
                            .primary(dt.span, "only these values decode"),
                        );
                    }
                    return;
                }
                _ => {}
            }
        }
        // Unions on either side: in a response each of the spec's members must be taken by one of
        // the type's; in a body each of the type's must be one the spec takes.
        let d_members: Option<Vec<&'a TypeExpr>> = match &dt.kind {
            TypeExprKind::Union(ds) if d_lits.is_none() => Some(ds.iter().collect()),
            _ => None,
        };
        if d_members.is_some() || matches!(s, Ty::Union(_)) {
            // A single declared type is itself, as written (its name, its place).
            let (owner, dm) = match d_members {
                Some(dm) => (dt, dm),
                None => (d, vec![d]),
            };
            let sm: Vec<(At<'_>, &Ty)> = match s {
                Ty::Union(ms) => ms.iter().enumerate().map(|(i, m)| (at.down(&format!("|{}", i + 1)), m)).collect(),
                _ => vec![(at.clone(), s)],
            };
            match dir {
                Dir::Response => {
                    let objects = sm.iter().filter(|(_, m)| self.spec_kind(m) == Kind::Object).count();
                    for (here, m) in &sm {
                        self.cover(owner, &dm, m, objects, here, d_null, dir, depth);
                    }
                }
                Dir::Body => {
                    for d in &dm {
                        self.covered(d, &sm, d_null, depth);
                    }
                }
            }
            return;
        }
        match (&dt.kind, s) {
            (TypeExprKind::Array(di), Ty::Array(si)) => self.ty(di, false, si, &at.down("[]"), dir, depth + 1),
            (TypeExprKind::Dict { value, .. }, Ty::Dict(sv)) => {
                self.ty(value, false, sv, &at.down("[key]"), dir, depth + 1);
            }
            (TypeExprKind::Object(fields), Ty::Object(sf)) => self.fields(dt, fields, sf, at, dir, depth),
            (TypeExprKind::Object(fields), Ty::Dict(sv)) => {
                for f in fields {
                    self.ty(&f.ty, f.optional, sv, &at.down("[key]"), dir, depth + 1);
                }
            }
            (TypeExprKind::Dict { value, .. }, Ty::Object(sf)) => {
                for f in sf {
                    self.ty(value, f.optional, &f.ty, &at.down(&f.name), dir, depth + 1);
                }
            }
            (_, Ty::Lits(_)) if declared_wire(dt) == Some(Wire::Str(Text::Any)) => {
                if dir == Dir::Body {
                    self.out.push(
                        Diagnostic::new(
                            codes::SPEC_ENUM,
                            format!(
                                "the spec takes only `{}` here, and `String` may send any text ({})",
                                show(s),
                                at.what
                            ),
                        )
                        .primary(dt.span, "any text"),
                    );
                }
            }
            _ => {
                let (dw, sw) = (declared_wire(dt), spec_scalar(s));
                if dir == Dir::Response && matches!(s, Ty::Prim("String")) && promises_format(dw) {
                    return self.no_format(dt, at);
                }
                let fits = match (dw, sw) {
                    (Some(dw), Some(sw)) => match dir {
                        Dir::Response => wire_within(sw, dw),
                        Dir::Body => wire_within(dw, sw),
                    },
                    _ => false,
                };
                // A name the comparison does not know is the checker's to report.
                let unknown = matches!(dt.kind, TypeExprKind::Name(_) | TypeExprKind::Formed(_)) && dw.is_none();
                if !fits && !unknown {
                    self.out.push(
                        Diagnostic::new(
                            codes::SPEC_TYPE,
                            format!("`{}` here, but the spec's type is `{}` ({})", text_of(dt), show(s), at.what),
                        )
                        .primary(dt.span, format!("the spec says `{}`", show(s))),
                    );
                }
            }
        }
    }

    /// E0614: a response's text the spec types as a plain string (no `format`), declared as a
    /// form of text (`DateTime`, `Date`, `Decimal(string)`, …) that not every text decodes as.
    fn no_format(&mut self, dt: &TypeExpr, at: &At<'_>) {
        self.out.push(
            Diagnostic::new(
                codes::SPEC_TYPE,
                format!(
                    "`{}` here, but the spec's type is a plain `String` and promises no format: a value that is not one fails to decode ({})",
                    text_of(dt),
                    at.what
                ),
            )
            .primary(dt.span, "the spec promises no format")
            .help(
                flow_diagnostics::Help::from("declare it `String`, and parse it where it is used")
                    .with_fix(Fix::replace(dt.span, "String")),
            ),
        );
    }

    /// Whether `d` takes spec type `s` without a word (diagnostics kept only when it does not
    /// matter: a trial).
    fn fits(&mut self, d: &'a TypeExpr, d_null: bool, s: &Ty, at: &At<'_>, dir: Dir, depth: usize) -> bool {
        // A trial against a named schema walks all of it: once per place, schema and direction.
        let key = match s {
            Ty::Named(n) => Some((d.span.start, d.span.end, n.clone(), dir, d_null)),
            _ => None,
        };
        if let Some(ok) = key.as_ref().and_then(|k| self.trials.get(k)) {
            return *ok;
        }
        let before = self.out.len();
        let seen = self.seen.clone();
        let nc = self.not_compared.clone();
        let compared = self.compared_types.clone();
        self.ty(d, d_null, s, at, dir, depth + 1);
        let ok = self.out[before..].iter().all(|x| x.code == codes::SPEC_NOT_COMPARED.id);
        self.out.truncate(before);
        self.seen = seen;
        self.not_compared = nc;
        self.compared_types = compared;
        if let Some(k) = key {
            self.trials.insert(k, ok);
        }
        ok
    }

    /// A response: the spec's member `s` must be taken by one of the declared members `dm`
    /// (of the declared type `dt`). When none takes it, the member of its JSON kind is compared
    /// for real (its drift is the one to show), or the union has no member for it.
    #[allow(clippy::too_many_arguments)]
    fn cover(
        &mut self,
        dt: &'a TypeExpr,
        dm: &[&'a TypeExpr],
        s: &Ty,
        objects: usize,
        at: &At<'_>,
        d_null: bool,
        dir: Dir,
        depth: usize,
    ) {
        if dm.iter().any(|m| self.fits(m, d_null, s, at, dir, depth)) {
            return;
        }
        if let Some(m) = self.counterpart(dm, s, objects) {
            self.ty(m, d_null, s, at, dir, depth + 1);
            return;
        }
        let message = if dm.len() == 1 {
            format!("the spec also allows `{}` here, which `{}` does not take ({})", show(s), text_of(dt), at.what)
        } else {
            format!("the spec allows `{}` here, and no member of the union takes it ({})", show(s), at.what)
        };
        self.out
            .push(Diagnostic::new(codes::SPEC_TYPE, message).primary(dt.span, format!("no member for `{}`", show(s))));
    }

    /// The declared member to compare a spec member with for real when none takes it: the one
    /// of its name, else the one of its JSON kind (for an object only when the spec has one
    /// object member: among several, which one was meant cannot be told).
    fn counterpart(&mut self, dm: &[&'a TypeExpr], s: &Ty, objects: usize) -> Option<&'a TypeExpr> {
        if let Ty::Named(n) = s {
            if let Some(m) = dm.iter().find(|m| self.declared(m).2 == Some(n.as_str())) {
                return Some(*m);
            }
        }
        let kind = self.spec_kind(s);
        if kind == Kind::Other || (kind == Kind::Object && objects > 1) {
            return None;
        }
        dm.iter().find(|m| self.declared_kind(m) == kind).copied()
    }

    /// A body: the declared member `d` must be one of the spec's members `sm` takes.
    fn covered(&mut self, d: &'a TypeExpr, sm: &[(At<'_>, &Ty)], d_null: bool, depth: usize) {
        if sm.iter().any(|(at, s)| self.fits(d, d_null, s, at, Dir::Body, depth)) {
            return;
        }
        let kind = self.declared_kind(d);
        let name = self.declared(d).2;
        let mut same = sm.iter().position(|(_, s)| matches!(s, Ty::Named(n) if Some(n.as_str()) == name));
        let objects = sm.iter().filter(|(_, s)| self.spec_kind(s) == Kind::Object).count();
        if same.is_none() && kind != Kind::Other && !(kind == Kind::Object && objects > 1) {
            same = sm.iter().position(|(_, s)| self.spec_kind(s) == kind);
        }
        if let Some(i) = same {
            let (at, s) = &sm[i];
            self.ty(d, d_null, s, at, Dir::Body, depth + 1);
            return;
        }
        let spec: Vec<String> = sm.iter().map(|(_, s)| show(s)).collect();
        let what = sm.first().map_or("", |(at, _)| at.what);
        self.out.push(
            Diagnostic::new(
                codes::SPEC_TYPE,
                format!("`{}` here, but the spec takes only `{}` ({what})", text_of(d), spec.join(" | ")),
            )
            .primary(d.span, "the spec takes no value of this"),
        );
    }

    /// The JSON kind of a spec type, through named schemas (a chain of references that goes
    /// round, or deeper than 64, has none: `Other`).
    fn spec_kind(&mut self, s: &Ty) -> Kind {
        let mut t = s.clone();
        for _ in 0..64 {
            match t.non_null() {
                Ty::Prim(p) => return spec_wire(p).map_or(Kind::Other, wire_kind),
                Ty::Lits(_) => return Kind::Text,
                Ty::Array(_) => return Kind::Array,
                Ty::Dict(_) | Ty::Object(_) => return Kind::Object,
                Ty::Named(n) => {
                    let n = n.clone();
                    match self.schema(&n).map(|s| s.ty.clone()) {
                        Some(next) => t = next,
                        None => return Kind::Other,
                    }
                }
                _ => return Kind::Other,
            }
        }
        Kind::Other
    }

    fn declared_kind(&self, d: &'a TypeExpr) -> Kind {
        let (t, _, _) = self.declared(d);
        if literals(t).is_some() {
            return Kind::Text;
        }
        match &t.kind {
            TypeExprKind::Array(_) => Kind::Array,
            TypeExprKind::Object(_) | TypeExprKind::Dict { .. } => Kind::Object,
            _ => declared_wire(t).map_or(Kind::Other, wire_kind),
        }
    }

    fn enumeration(&mut self, dt: &TypeExpr, ds: &[String], vs: &[String], at: &At<'_>, dir: Dir) {
        let extra: Vec<String> = ds.iter().filter(|d| !vs.contains(d)).map(|v| flow_syntax::lex::quote(v)).collect();
        let missing: Vec<String> = vs.iter().filter(|v| !ds.contains(v)).map(|v| flow_syntax::lex::quote(v)).collect();
        if !extra.is_empty() {
            self.out.push(
                Diagnostic::new(
                    codes::SPEC_ENUM,
                    format!(
                        "{} {} not in the spec's enumeration ({})",
                        extra.join(", "),
                        if extra.len() == 1 { "is" } else { "are" },
                        at.what
                    ),
                )
                .primary(
                    dt.span,
                    format!(
                        "the spec has {}",
                        vs.iter().map(|v| flow_syntax::lex::quote(v)).collect::<Vec<_>>().join(" | ")
                    ),
                ),
            );
        }
        if !missing.is_empty() && dir == Dir::Response {
            self.out.push(
                Diagnostic::new(
                    codes::SPEC_ENUM,
                    format!(
                        "the spec's value{} {} {} not in the type: a record with {} fails to decode ({})",
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", "),
                        if missing.len() == 1 { "is" } else { "are" },
                        if missing.len() == 1 { "it" } else { "one" },
                        at.what
                    ),
                )
                .primary(dt.span, format!("add {}", missing.join(" | "))),
            );
        }
    }

    fn fields(
        &mut self,
        dt: &'a TypeExpr,
        fields: &'a [ast::FieldDecl],
        sf: &[Field],
        at: &At<'_>,
        dir: Dir,
        depth: usize,
    ) {
        let declared: HashSet<&str> = fields.iter().map(|f| f.name.name.as_str()).collect();
        for f in fields {
            let Some(s) = sf.iter().find(|s| s.name == f.name.name) else {
                let undeclared: Vec<&str> =
                    sf.iter().map(|s| s.name.as_str()).filter(|n| !declared.contains(n)).collect();
                let mut d = Diagnostic::new(
                    codes::SPEC_NO_FIELD,
                    format!("the spec has no field `{}` ({})", f.name.name, at.what),
                )
                .primary(f.name.span, "not in the spec");
                if let Some(near) = flow_diagnostics::suggest(&f.name.name, undeclared.iter().copied()) {
                    d = d.help(did_you_mean(f.name.span, &flow_syntax::lex::key(near)));
                }
                self.out.push(d);
                continue;
            };
            match dir {
                // `name: T?` decodes an absent field as null: only a field that takes no null,
                // or a present `name: T | null`, fails on a record without it.
                Dir::Response if !f.optional && s.optional && (f.present || !self.declared(&f.ty).1) => {
                    let after = f.name.span.end as usize;
                    self.out.push(
                        Diagnostic::new(
                            codes::SPEC_PRESENCE,
                            format!(
                                "the spec does not require `{}`: a record without it fails to decode ({})",
                                f.name.name, at.what
                            ),
                        )
                        .primary(f.name.span, "declared always present")
                        .help(if f.present {
                            // `name?: T | null` is E0228: the `| null` has to go as well.
                            flow_diagnostics::Help::from(format!(
                                "declare it `{0}?: T` (absent, null or a T) in place of `{0}: T | null`",
                                f.name.name
                            ))
                        } else {
                            flow_diagnostics::Help::from(format!("declare it `{}?`", f.name.name))
                                .with_fix(Fix::replace(Span::new(after, after), "?"))
                        }),
                    );
                }
                Dir::Body if f.optional && !s.optional => self.out.push(
                    Diagnostic::new(
                        codes::SPEC_PRESENCE,
                        format!("the spec requires `{}`, and the type may leave it out ({})", f.name.name, at.what),
                    )
                    .primary(f.name.span, "declared optional"),
                ),
                _ => {}
            }
            // `name: T | null` is nullable in both directions: it reads null, and sends it.
            let null_ok = match dir {
                Dir::Response => f.optional || f.present,
                Dir::Body => f.present,
            };
            let mut here = at.down(&s.name);
            if !s.losses.is_empty() {
                let mut losses = (*here.losses).clone();
                losses.extend(s.losses.iter().cloned());
                here.losses = std::rc::Rc::new(losses);
            }
            // A body may send null where the spec's field allows it, optional or not.
            let sty = match dir {
                Dir::Body if s.null && !matches!(s.ty, Ty::Nullable(_)) => s.ty.clone().nullable(),
                _ => s.ty.clone(),
            };
            self.ty(&f.ty, null_ok, &sty, &here, dir, depth + 1);
        }
        if dir == Dir::Body || self.required {
            let missing: Vec<String> = sf
                .iter()
                .filter(|s| !s.optional && !declared.contains(s.name.as_str()))
                .map(|s| format!("`{}`", s.name))
                .collect();
            if !missing.is_empty() {
                self.out.push(
                    Diagnostic::new(
                        codes::SPEC_MISSING_FIELD,
                        format!(
                            "the spec requires {} {}, which the type does not declare ({})",
                            if missing.len() == 1 { "the field" } else { "the fields" },
                            missing.join(", "),
                            at.what
                        ),
                    )
                    .primary(dt.span, "leaves out what the spec requires"),
                );
            }
        }
    }
}

fn spec_scalar(s: &Ty) -> Option<Wire> {
    match s {
        Ty::Prim(p) => spec_wire(p),
        Ty::Lits(_) => Some(Wire::Str(Text::Any)),
        _ => None,
    }
}

/// The values of a declared union of string literals (or one literal).
fn literals(t: &TypeExpr) -> Option<Vec<String>> {
    match &t.kind {
        TypeExprKind::Literal(v) => Some(vec![v.clone()]),
        TypeExprKind::Union(ms) => {
            let mut out = Vec::new();
            for m in ms {
                out.extend(literals(m)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// A declared type as written, short: for messages.
fn text_of(t: &TypeExpr) -> String {
    let base = match &t.kind {
        TypeExprKind::Name(n) => n.name.clone(),
        TypeExprKind::Literal(v) => flow_syntax::lex::quote(v),
        TypeExprKind::Union(ms) => ms.iter().map(text_of).collect::<Vec<_>>().join(" | "),
        TypeExprKind::Array(i) => format!("[{}]", text_of(i)),
        TypeExprKind::Object(_) => "an object".into(),
        TypeExprKind::Formed(call) => match &call.kind {
            ExprKind::Call { callee, args } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        let v = match &a.value.kind {
                            ExprKind::Name(i) => i.name.clone(),
                            ExprKind::Str(s) => flow_syntax::lex::quote(s),
                            ExprKind::Int(n) => n.to_string(),
                            _ => "…".into(),
                        };
                        match &a.name {
                            Some(n) => format!("{}: {v}", n.name),
                            None => v,
                        }
                    })
                    .collect();
                format!("{}({})", callee.name, args.join(", "))
            }
            _ => "a type".into(),
        },
        TypeExprKind::Dict { value, .. } => format!("{{ [String]: {} }}", text_of(value)),
    };
    if t.nullable {
        format!("{base}?")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_derived_type_uses_its_base() {
        let src = "api a { base_url = \"https://a.example\" }\ntype User { id: Int, login: String }\ntype S = partial(pick(User, id))\nendpoint e = a GET \"/\" -> S\n";
        let (file, _) = flow_syntax::parse(src);
        let used = super::used_by(&file, &|_| true);
        assert!(used.contains("S") && used.contains("User"), "{used:?}");
    }

    use super::*;

    #[test]
    fn a_link_is_the_comment_line_just_above() {
        let src = "// spec: objs_message\ntype Message { ts: String }\n\n// spec:   #/definitions/x  \ntype X = String\n// other\n\ntype Y = Int\n";
        let at = |needle: &str| src.find(needle).expect("in the source");
        let (text, span) = link(src, at("type Message")).expect("a link");
        assert_eq!(text, "objs_message");
        assert_eq!(&src[span.range()], "objs_message");
        let (text, span) = link(src, at("type X")).expect("a link");
        assert_eq!(text, "#/definitions/x");
        assert_eq!(&src[span.range()], "#/definitions/x");
        assert_eq!(link(src, at("type Y")), None);
        assert_eq!(link("type Z = Int", 0), None);
    }

    /// The codes `check_spec` gives a file (`.flow` text) against a spec (JSON text).
    fn codes_of(flow: &str, spec: &str) -> Vec<String> {
        let (file, _) = flow_syntax::parse(flow);
        let spec: Value = serde_json::from_str(spec).expect("a JSON spec");
        let report = check_spec(&file, flow, &spec, &SpecOptions::default());
        report.diagnostics.iter().map(|d| d.code.to_string()).collect()
    }

    const NULLABLE_CYCLE: &str = r##"{"openapi": "3.0.3", "info": {"title": "x", "version": "1"},
      "servers": [{"url": "https://x.example.com"}],
      "paths": {
        "/b": {"get": {"responses": {"200": {"description": "", "content": {"application/json":
          {"schema": {"$ref": "#/components/schemas/A"}}}}}}}},
      "components": {"schemas": {
        "A": {"$ref": "#/components/schemas/B", "nullable": true},
        "B": {"$ref": "#/components/schemas/A", "nullable": true}}}}"##;

    #[test]
    fn a_cycle_of_nullable_references_is_not_compared_and_does_not_overflow() {
        // Through the comparison: the spec's null said once, the cycle not compared.
        let flow =
            "api x {\n  base_url = \"https://x.example.com\"\n}\n\nendpoint b = x GET \"/b\" -> { id: Int } | String\n";
        let codes = codes_of(flow, NULLABLE_CYCLE);
        assert_eq!(codes, ["E0615", "W0015"]);
        // The JSON kind of a member that is such a cycle: none to tell it by.
        let spec: Value = serde_json::from_str(NULLABLE_CYCLE).expect("a JSON spec");
        let order = crate::type_names(&spec, None);
        let names: HashMap<String, String> = order.iter().map(|(p, n, _)| (p.clone(), n.clone())).collect();
        let by_name: HashMap<String, String> = order.iter().map(|(p, n, _)| (n.clone(), p.clone())).collect();
        let cv = Convert { spec: &spec, names: &names };
        let mut c = Compare {
            cv: &cv,
            by_name: &by_name,
            types: HashMap::new(),
            required: false,
            out: Vec::new(),
            seen: HashSet::new(),
            not_compared: HashSet::new(),
            compared_types: HashSet::new(),
            schemas: HashMap::new(),
            trials: HashMap::new(),
        };
        assert!(Kind::Other == c.spec_kind(&Ty::Named("A".into())));
        assert!(Kind::Other == c.spec_kind(&Ty::Named("B".into()).nullable()));
    }

    const NULLS: &str = r##"{"openapi": "3.0.3", "info": {"title": "x", "version": "1"},
      "servers": [{"url": "https://x.example.com"}],
      "paths": {"/issues": {"post": {
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
          "description": {"type": "string", "nullable": true},
          "summary": {"type": "string", "nullable": true},
          "note": {"type": "string"}}}}}},
        "responses": {"200": {"description": "", "content": {"application/json": {"schema": {
          "type": "object", "required": ["assignee"],
          "properties": {"assignee": {"$ref": "#/components/schemas/nullable-simple-user"}}}}}}}}}},
      "components": {"schemas": {"nullable-simple-user": {"type": "object", "nullable": true,
        "required": ["login"], "properties": {"login": {"type": "string"}}}}}}"##;

    /// The (code, line) of each diagnostic.
    fn lines_of(flow: &str, spec: &str) -> Vec<(String, usize)> {
        let (file, _) = flow_syntax::parse(flow);
        let spec: Value = serde_json::from_str(spec).expect("a JSON spec");
        let report = check_spec(&file, flow, &spec, &SpecOptions::default());
        let line =
            |d: &Diagnostic| d.labels.first().map_or(0, |l| flow[..l.span.start as usize].matches('\n').count() + 1);
        report.diagnostics.iter().map(|d| (d.code.to_string(), line(d))).collect()
    }

    #[test]
    fn a_body_may_send_null_where_the_spec_s_optional_field_is_nullable() {
        let flow = "api x {\n  base_url = \"https://x.example.com\"\n}\n\ntype Issue {\n  description: String?\n  summary?: String?\n  note?: String?\n}\n\nendpoint open = x POST \"/issues\" (body: Issue) -> Json\n";
        // Only `note` (line 8) may send a null the spec does not take.
        assert_eq!(lines_of(flow, NULLS), [("E0615".to_string(), 8)]);
    }

    #[test]
    fn a_named_schema_that_is_nullable_takes_the_nullability_of_its_use() {
        let flow = "api x {\n  base_url = \"https://x.example.com\"\n}\n\ntype User {\n  login: String\n}\n\nendpoint open = x POST \"/issues\" (body: Json) -> { assignee: User? }\n";
        assert_eq!(lines_of(flow, NULLS), Vec::<(String, usize)>::new());
        // Without the `?`, the null is drift at the use.
        let flow = flow.replace("User? }", "User }");
        assert_eq!(lines_of(&flow, NULLS), [("E0615".to_string(), 9)]);
    }

    /// `name: T | null` is nullable both ways: it reads the null a required nullable field
    /// holds, sends null only where the spec takes it, and may not be declared where the spec
    /// does not require the field.
    #[test]
    fn a_present_field_is_compared_as_nullable_and_always_there() {
        let head = "api x {\n  base_url = \"https://x.example.com\"\n}\n\ntype User {\n  login: String\n}\n\n";
        let response =
            format!("{head}endpoint open = x POST \"/issues\" (body: Json) -> {{ assignee: User | null }}\n");
        assert_eq!(lines_of(&response, NULLS), Vec::<(String, usize)>::new());
        // In a body: `description` takes null, `note` does not (line 11), and neither is
        // required, so always sending them fits as well.
        let body = format!(
            "{head}type Issue {{\n  description: String | null\n  note: String | null\n}}\n\nendpoint open = x POST \"/issues\" (body: Issue) -> Json\n"
        );
        assert_eq!(lines_of(&body, NULLS), [("E0615".to_string(), 11)]);
    }

    const PLAIN: &str = r##"{"openapi": "3.0.3", "info": {"title": "x", "version": "1"},
      "servers": [{"url": "https://x.example.com"}],
      "paths": {"/t": {"post": {
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
          "at": {"type": "string"}}}}}},
        "responses": {"200": {"description": "", "content": {"application/json": {"schema": {
          "type": "object", "properties": {"at": {"type": "string"}, "when": {"type": "string", "format": "date-time"}}}}}}}}}}}"##;

    #[test]
    fn a_plain_string_in_a_response_is_no_date_and_a_date_as_string_is_no_drift() {
        let flow = |body: &str, response: &str| {
            format!("api x {{\n  base_url = \"https://x.example.com\"\n}}\n\nendpoint t = x POST \"/t\" (body: {{ at?: {body} }}) -> {{ {response} }}\n")
        };
        // A response's plain string declared as a form of text: drift, at the type.
        for form in ["DateTime", "Date", "Decimal(string)", "DateTime(unix_seconds, string)"] {
            assert_eq!(lines_of(&flow("String", &format!("at?: {form}")), PLAIN), [("E0614".to_string(), 5)], "{form}");
        }
        // The other way, and in a body: not drift.
        assert_eq!(lines_of(&flow("DateTime", "when?: String, at?: String"), PLAIN), Vec::<(String, usize)>::new());
        assert_eq!(lines_of(&flow("Date", "when?: DateTime"), PLAIN), Vec::<(String, usize)>::new());
    }

    /// A response field the spec does not require: `at: T?` decodes its absence as null (no
    /// drift, through an alias too); `at: T` and `at: T | null` refuse the absence (E0615).
    #[test]
    fn only_a_field_that_refuses_absence_is_drift_where_the_spec_does_not_require_it() {
        let flow = |head: &str, response: &str| {
            format!("api x {{\n  base_url = \"https://x.example.com\"\n}}\n{head}\nendpoint t = x POST \"/t\" (body: Json) -> {{ {response} }}\n")
        };
        assert_eq!(lines_of(&flow("", "at: String?"), PLAIN), Vec::<(String, usize)>::new());
        assert_eq!(lines_of(&flow("type S = String?\n", "at: S"), PLAIN), Vec::<(String, usize)>::new());
        assert_eq!(lines_of(&flow("", "at: String"), PLAIN), [("E0615".to_string(), 5)]);
        assert_eq!(lines_of(&flow("", "at: String | null"), PLAIN), [("E0615".to_string(), 5)]);
    }

    #[test]
    fn shapes_and_url_paths() {
        assert_eq!(shape("/repos/{owner}/{repo}/"), "/repos/{}/{}");
        assert_eq!(url_path("https://slack.com/api/"), "/api");
        assert_eq!(url_path("https://api.github.com"), "");
        assert_eq!(url_path("/v1"), "/v1");
        assert_eq!(url_host("https://API.github.com/x"), Some("api.github.com".into()));
    }
}
