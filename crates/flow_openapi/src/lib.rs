//! OpenAPI (3.0, 3.1) to `.flow`: plain data in (the spec as a JSON value), `.flow` text out, with
//! a report of what imported cleanly, with a loss, or not at all. `flowc import openapi` is its
//! edge. The output is checked by `flow_check` before it is handed back: a type the checker
//! refuses is put back as `Json` at its place, with the checker's reason as a comment, so the
//! file always passes `flowc check` and, laid out by the formatter, `flowc fmt --check`.

mod drift;
mod glob;
mod names;
mod ops;
mod render;
mod schema;

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

pub use crate::drift::{check_spec, others_of, read_spec_for_check, unreadable_spec, Others, SpecOptions, SpecReport};
use crate::names::{pascal, snake, Names};
use crate::render::{Out, Site};
use crate::schema::{Convert, Ty};

/// What to import.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only operations whose path matches this glob (`*` within a segment, `**` across).
    pub paths: Option<String>,
    /// Only operations with this tag.
    pub tag: Option<String>,
    /// The api's name in the output (default: from the spec's title).
    pub api: Option<String>,
}

/// The imported file and what became of each schema and operation.
#[derive(Clone, Debug)]
pub struct Import {
    pub text: String,
    pub report: Report,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub clean: usize,
    pub lossy: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.clean + self.lossy + self.skipped
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Imported, with something the language cannot say (a comment at the place).
    Lossy,
    /// Not imported.
    Skipped,
}

/// One schema or operation that did not import cleanly, and why.
#[derive(Clone, Debug)]
pub struct Note {
    /// `schema charge` or `operation GET /v1/charges`.
    pub what: String,
    pub outcome: Outcome,
    pub why: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub schemas: Counts,
    pub operations: Counts,
    pub notes: Vec<Note>,
}

impl Report {
    /// The summary for stderr: the counts, then each schema and operation with a loss or
    /// skipped, with why.
    pub fn render(&self) -> String {
        let counts =
            |c: &Counts| format!("{} ({} clean, {} with a loss, {} skipped)", c.total(), c.clean, c.lossy, c.skipped);
        let mut s = format!("schemas: {}\noperations: {}\n", counts(&self.schemas), counts(&self.operations));
        for n in &self.notes {
            let outcome = match n.outcome {
                Outcome::Lossy => "with a loss",
                Outcome::Skipped => "skipped",
            };
            s.push_str(&format!("{} {outcome}:\n", n.what));
            for w in &n.why {
                s.push_str(&format!("  - {w}\n"));
            }
        }
        s
    }
}

/// Reads a spec's text: JSON, or YAML when `yaml` (or when it does not start like JSON).
pub fn read_spec(text: &str, yaml: bool) -> Result<Value, String> {
    if !yaml && text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"));
    }
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| format!("not YAML: {e}"))
}

/// The named schemas: `#/components/schemas/X` (or Swagger 2's `#/definitions/X`) and the schema.
pub(crate) fn named_schemas(spec: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (base, pointer) in [("#/components/schemas/", "/components/schemas"), ("#/definitions/", "/definitions")] {
        if let Some(m) = spec.pointer(pointer).and_then(Value::as_object) {
            for (k, v) in m {
                out.push((format!("{base}{}", escape_pointer(k)), v));
            }
        }
    }
    out
}

/// The type name each named schema gets (the schemas in `wanted` only, when given): its key in
/// PascalCase, made unique in spec order. `flowc import openapi` names its types so, and
/// `flowc check --spec` matches a declared type with the schema of its name by the same rule.
pub(crate) fn type_names<'v>(spec: &'v Value, wanted: Option<&BTreeSet<String>>) -> Vec<(String, String, &'v Value)> {
    let mut type_names = Names::default();
    let mut order = Vec::new();
    for (pointer, s) in named_schemas(spec) {
        if wanted.is_some_and(|w| !w.contains(&pointer)) {
            continue;
        }
        let name = type_names.unique(&pascal(&schema_key(&pointer)));
        order.push((pointer, name, s));
    }
    order
}

/// A named schema's key: `#/components/schemas/account` → `account`.
pub(crate) fn schema_key(pointer: &str) -> String {
    pointer.rsplit('/').next().unwrap_or("").replace("~1", "/").replace("~0", "~")
}

/// Whether a value is an OpenAPI (or Swagger) document at all.
pub(crate) fn not_openapi(spec: &Value) -> Option<String> {
    if !spec.is_object()
        || (spec.get("openapi").is_none() && spec.get("swagger").is_none() && spec.get("paths").is_none())
    {
        return Some("not an OpenAPI document: it has no `openapi` version and no `paths`".into());
    }
    None
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every `$ref` in a value.
fn refs<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    if let Some(r) = x.as_str() {
                        out.push(r);
                    }
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// The schemas the selected operations use, through every reference.
fn reachable(spec: &Value, roots: &[&Value]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<&Value> = roots.to_vec();
    while let Some(v) = pending.pop() {
        let mut found = Vec::new();
        refs(v, &mut found);
        for r in found {
            if seen.insert(r.to_string()) {
                if let Some(t) = schema::resolve(spec, r) {
                    pending.push(t);
                }
            }
        }
    }
    seen
}

/// Every loss inside a type: its fields' and theirs.
fn losses_in(t: &Ty, out: &mut Vec<String>) {
    match t {
        Ty::Object(fields) => {
            for f in fields {
                out.extend(f.losses.iter().cloned());
                losses_in(&f.ty, out);
            }
        }
        Ty::Array(t) | Ty::Dict(t) | Ty::Nullable(t) => losses_in(t, out),
        Ty::Union(ms) => ms.iter().for_each(|m| losses_in(m, out)),
        _ => {}
    }
}

struct TypeDecl {
    name: String,
    pointer: String,
    ty: Ty,
    /// Losses at the top of the schema (those inside fields are on the fields).
    losses: Vec<String>,
}

struct Skipped {
    label: String,
    why: String,
}

/// Imports a spec. Fails only when the spec is no OpenAPI document at all.
pub fn import(spec: &Value, options: &Options) -> Result<Import, String> {
    if let Some(why) = not_openapi(spec) {
        return Err(why);
    }
    let mut global = Names::default();
    let api = match &options.api {
        Some(a) => snake(a),
        None => {
            let title = spec.pointer("/info/title").and_then(Value::as_str).unwrap_or("api");
            // The title's first word: `GitHub v3 REST API` → `github`, `Slack Web API` → `slack`.
            let first = title.split(|c: char| !c.is_ascii_alphanumeric()).find(|w| !w.is_empty()).unwrap_or("api");
            snake(&first.to_ascii_lowercase())
        }
    };
    let api = if api.starts_with('_') { format!("api{api}") } else { api };
    global.reserve(&api);

    // The operations chosen.
    let mut chosen: Vec<(String, &Value, String, &Value)> = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            if let Some(g) = &options.paths {
                if !glob::matches(g, path) {
                    continue;
                }
            }
            let item = schema::resolve(spec, item.get("$ref").and_then(Value::as_str).unwrap_or("#"))
                .filter(|_| item.get("$ref").is_some())
                .unwrap_or(item);
            for method in ops::METHODS {
                let Some(op) = item.get(method) else { continue };
                if let Some(t) = &options.tag {
                    let tags = op.get("tags").and_then(Value::as_array);
                    if !tags.is_some_and(|ts| ts.iter().any(|x| x.as_str() == Some(t.as_str()))) {
                        continue;
                    }
                }
                chosen.push((path.clone(), item, method.to_string(), op));
            }
        }
    }
    let filtered = options.paths.is_some() || options.tag.is_some();
    let wanted = if filtered {
        let roots: Vec<&Value> =
            chosen.iter().flat_map(|(_, item, _, op)| [*op, item.get("parameters").unwrap_or(&Value::Null)]).collect();
        Some(reachable(spec, &roots))
    } else {
        None
    };

    // Type names first: references between schemas need them all.
    let order = type_names(spec, wanted.as_ref());
    let names: HashMap<String, String> = order.iter().map(|(p, n, _)| (p.clone(), n.clone())).collect();
    let cv = Convert { spec, names: &names };
    let mut decls = Vec::new();
    for (pointer, name, s) in &order {
        let mut losses = Vec::new();
        let ty = cv.ty(s, "", &mut losses);
        // A loss at the schema itself has no path to name.
        let losses = losses.into_iter().map(|l| l.strip_prefix(": ").map(str::to_string).unwrap_or(l)).collect();
        decls.push(TypeDecl { name: name.clone(), pointer: pointer.clone(), ty, losses });
    }

    let mut endpoints = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut op_names = Names::default();
    op_names.reserve(&api);
    for (path, item, method, op) in &chosen {
        match ops::endpoint(&cv, &mut op_names, path, item, method, op) {
            Ok(e) => endpoints.push((ops::label(method, path), e)),
            Err(why) => skipped.push(Skipped { label: ops::label(method, path), why }),
        }
    }

    let (auth_text, secrets, auth_losses) = auth(spec, &api);
    let (base_url, url_loss) = base_url(spec);
    let mut api_losses = auth_losses;
    api_losses.extend(url_loss);

    // Print, check, give up what the checker refuses, again until it passes.
    let header = header(spec);
    let mut degraded: HashMap<String, String> = HashMap::new();
    let mut text = String::new();
    for _round in 0..16 {
        let mut out = Out::new(degraded.clone());
        out.push(&header);
        for s in &secrets {
            out.push(&format!("secret {s}\n"));
        }
        out.push("\n");
        for l in &api_losses {
            out.comment("", &format!("lossy: {l}"));
        }
        out.push(&format!("api {api} {{\n  base_url = {}\n", flow_syntax::lex::quote(&base_url)));
        if let Some(a) = &auth_text {
            out.push(&format!("  auth = {a}\n"));
        }
        out.push("}\n\n");
        for d in &decls {
            let site = format!("type:{}", d.name);
            let start = out.text.len();
            for l in &d.losses {
                out.comment("", &format!("lossy: {l}"));
            }
            if let Some(why) = degraded.get(&site) {
                out.comment("", &format!("lossy: {why}: `Json`"));
                out.push(&format!("type {} = Json\n\n", d.name));
            } else if let Ty::Object(fields) = &d.ty {
                out.push(&format!("type {} ", d.name));
                out.object(&site, fields, "");
                out.push("\n\n");
            } else {
                out.push(&format!("type {} = ", d.name));
                out.ty(&format!("{site}="), &d.ty, "");
                out.push("\n\n");
            }
            out.sites.push(Site { id: site, start, end: out.text.len() });
        }
        for (label, e) in &endpoints {
            let site = format!("op:{}", e.name);
            if let Some(why) = degraded.get(&site) {
                out.comment("", &format!("skipped: {label}: {why}"));
                out.push("\n");
                continue;
            }
            let start = out.text.len();
            ops::print(&mut out, &api, e);
            out.sites.push(Site { id: site, start, end: out.text.len() });
            out.push("\n");
        }
        for s in &skipped {
            out.comment("", &format!("skipped: {}: {}", s.label, s.why));
        }
        let checked = flow_check::check_source(&out.text);
        let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
        text = out.text.clone();
        if errors.is_empty() {
            break;
        }
        let mut progressed = false;
        let mut unplaced = Vec::new();
        for d in errors {
            let Some(span) = d.primary_span() else { continue };
            let (s, e) = (span.start as usize, span.end as usize);
            let site = out
                .sites
                .iter()
                .filter(|x| x.start <= s && e <= x.end.max(x.start + 1) && !degraded.contains_key(&x.id))
                .min_by_key(|x| x.end - x.start);
            match site {
                Some(site) => {
                    degraded
                        .entry(site.id.clone())
                        .or_insert_with(|| format!("{} ({})", first_line(&d.message), d.code));
                    progressed = true;
                }
                None => unplaced.push(format!("{}: {}", d.code, d.message)),
            }
        }
        if !progressed {
            return Err(format!(
                "the imported file does not check, and no type can be given up for it: {}",
                unplaced.join("; ")
            ));
        }
    }
    let text = flow_syntax::format(&text).map_err(|d| {
        format!(
            "the imported file does not parse: {}",
            d.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; ")
        )
    })?;

    // The report.
    let mut report = Report::default();
    for d in &decls {
        let prefix = format!("type:{}", d.name);
        let mut why = d.losses.clone();
        losses_in(&d.ty, &mut why);
        let mut gave_up: Vec<(&String, &String)> = degraded
            .iter()
            .filter(|(k, _)| {
                k.as_str() == prefix || k.starts_with(&format!("{prefix}.")) || k.starts_with(&format!("{prefix}="))
            })
            .collect();
        gave_up.sort();
        for (site, reason) in gave_up {
            let at = site[prefix.len()..].trim_start_matches(['.', '=']);
            why.push(if at.is_empty() { format!("{reason}: `Json`") } else { format!("{at}: {reason}: `Json`") });
        }
        let key = d.pointer.rsplit('/').next().unwrap_or("");
        if why.is_empty() {
            report.schemas.clean += 1;
        } else {
            report.schemas.lossy += 1;
            report.notes.push(Note { what: format!("schema {key} (type {})", d.name), outcome: Outcome::Lossy, why });
        }
    }
    for (label, e) in &endpoints {
        let site = format!("op:{}", e.name);
        if let Some(why) = degraded.get(&site) {
            report.operations.skipped += 1;
            report.notes.push(Note {
                what: format!("operation {label}"),
                outcome: Outcome::Skipped,
                why: vec![why.clone()],
            });
            continue;
        }
        let mut why = e.losses.clone();
        for t in e.params.iter().map(|p| &p.ty).chain(e.body.iter()).chain(e.response.iter()) {
            losses_in(t, &mut why);
        }
        let mut gave_up: Vec<(&String, &String)> =
            degraded.iter().filter(|(k, _)| k.starts_with(&format!("{site}/"))).collect();
        gave_up.sort();
        for (s, reason) in gave_up {
            why.push(format!("{}: {reason}", &s[site.len() + 1..]));
        }
        if why.is_empty() {
            report.operations.clean += 1;
        } else {
            report.operations.lossy += 1;
            report.notes.push(Note {
                what: format!("operation {label} (endpoint {})", e.name),
                outcome: Outcome::Lossy,
                why,
            });
        }
    }
    for s in &skipped {
        report.operations.skipped += 1;
        report.notes.push(Note {
            what: format!("operation {}", s.label),
            outcome: Outcome::Skipped,
            why: vec![s.why.clone()],
        });
    }
    if !api_losses.is_empty() {
        report.notes.insert(0, Note { what: format!("api {api}"), outcome: Outcome::Lossy, why: api_losses });
    }
    Ok(Import { text, report })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn header(spec: &Value) -> String {
    let title = spec.pointer("/info/title").and_then(Value::as_str).unwrap_or("an OpenAPI document");
    let version = spec.pointer("/info/version").and_then(Value::as_str).unwrap_or("");
    let oas = spec.get("openapi").or_else(|| spec.get("swagger")).and_then(Value::as_str).unwrap_or("?");
    let mut s = String::new();
    s.push_str(&format!(
        "// Imported from {} {} (OpenAPI {oas}) by `flowc import openapi`.\n",
        one_line(title),
        one_line(version)
    ));
    s.push_str("// `lossy:` comments mark what the language could not say; `skipped:` what was left out.\n\n");
    s
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The api's base URL: the first server's, its variables at their defaults.
fn base_url(spec: &Value) -> (String, Option<String>) {
    let server = spec.pointer("/servers/0");
    let Some(url) = server.and_then(|s| s.get("url")).and_then(Value::as_str) else {
        if let Some(host) = spec.get("host").and_then(Value::as_str) {
            let base = spec.get("basePath").and_then(Value::as_str).unwrap_or("");
            return (format!("https://{host}{}", base.trim_end_matches('/')), None);
        }
        return (
            "https://api.example.com".into(),
            Some("the spec names no server: `base_url` is a placeholder to replace".into()),
        );
    };
    let mut url = url.to_string();
    if let Some(vars) = server.and_then(|s| s.get("variables")).and_then(Value::as_object) {
        for (k, v) in vars {
            let default = v.get("default").and_then(Value::as_str).unwrap_or("");
            url = url.replace(&format!("{{{k}}}"), default);
        }
    }
    let url = url.trim_end_matches('/').to_string();
    if url.starts_with("https://") && !url.contains('?') && !url.contains('{') {
        return (url, None);
    }
    let loss = format!("the server URL `{url}` is not an absolute https URL: `base_url` is a placeholder to replace");
    let path = if url.starts_with('/') { url.clone() } else { String::new() };
    (format!("https://api.example.com{path}"), Some(loss))
}

/// The api's `auth` from the security schemes (the first the spec requires, else the first
/// declared), the secrets it needs, and what it could not say.
fn auth(spec: &Value, api: &str) -> (Option<String>, Vec<String>, Vec<String>) {
    let Some(schemes) = spec
        .pointer("/components/securitySchemes")
        .or_else(|| spec.get("securityDefinitions"))
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty())
    else {
        return (None, Vec::new(), Vec::new());
    };
    let required: Vec<&str> = spec
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    let chosen = required
        .iter()
        .find(|n| schemes.contains_key(**n))
        .copied()
        .or_else(|| schemes.keys().next().map(String::as_str));
    let Some(name) = chosen else { return (None, Vec::new(), Vec::new()) };
    let s = &schemes[name];
    let upper = api.to_ascii_uppercase();
    let mut losses = Vec::new();
    let others: Vec<&String> = schemes.keys().filter(|k| k.as_str() != name).collect();
    if !others.is_empty() {
        losses.push(format!(
            "the spec has other security schemes too ({}); `auth` is `{name}`",
            others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    let kind = s.get("type").and_then(Value::as_str).unwrap_or("");
    let scheme = s.get("scheme").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
    let quote = flow_syntax::lex::quote;
    match (kind, scheme.as_str()) {
        ("http", "bearer") => (Some(format!("bearer({upper}_TOKEN)")), vec![format!("{upper}_TOKEN")], losses),
        ("http", "basic") | ("basic", _) => (
            Some(format!("basic({upper}_USER, {upper}_PASSWORD)")),
            vec![format!("{upper}_USER"), format!("{upper}_PASSWORD")],
            losses,
        ),
        ("apiKey", _) => {
            let key_name = s.get("name").and_then(Value::as_str).unwrap_or("api_key");
            let secret = format!("{upper}_API_KEY");
            match s.get("in").and_then(Value::as_str) {
                Some("header") if key_name.eq_ignore_ascii_case("authorization") => {
                    losses.push(format!("the key `{name}` goes in the Authorization header: sent as a bearer token"));
                    (Some(format!("bearer({upper}_TOKEN)")), vec![format!("{upper}_TOKEN")], losses)
                }
                Some("header") => {
                    (Some(format!("api_key(header: {}, value: {secret})", quote(key_name))), vec![secret], losses)
                }
                Some("query") => {
                    (Some(format!("api_key(query: {}, value: {secret})", quote(key_name))), vec![secret], losses)
                }
                other => {
                    losses.push(format!(
                        "the key `{name}` goes in {}: an api sends keys in a header or the query; no `auth`",
                        other.unwrap_or("?")
                    ));
                    (None, Vec::new(), losses)
                }
            }
        }
        ("oauth2", _) => {
            let flows = s.get("flows");
            if let Some(cc) = flows.and_then(|f| f.get("clientCredentials")) {
                let url = cc.get("tokenUrl").and_then(Value::as_str).unwrap_or("/oauth/token");
                return (
                    Some(format!(
                        "oauth2_client_credentials(token_url: {}, client_id: {upper}_CLIENT_ID, client_secret: {upper}_CLIENT_SECRET)",
                        quote(url)
                    )),
                    vec![format!("{upper}_CLIENT_ID"), format!("{upper}_CLIENT_SECRET")],
                    losses,
                );
            }
            losses.push(format!("`{name}` is OAuth2 by a user's consent: the access token is obtained elsewhere and sent as a bearer token"));
            (Some(format!("bearer({upper}_TOKEN)")), vec![format!("{upper}_TOKEN")], losses)
        }
        _ => {
            losses.push(format!("the security scheme `{name}` ({kind} {scheme}) has no `auth` kind: none declared"));
            (None, Vec::new(), losses)
        }
    }
}

#[cfg(test)]
mod tests;
