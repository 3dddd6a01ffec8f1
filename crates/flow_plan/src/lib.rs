//! The Plan: what the checker builds from a `.flow` file and what the runtime executes, and
//! nothing else. Plain, serializable, comparable data: it keeps the source span of everything
//! that can fail at run time so failures render against the `.flow` file, and it holds secret
//! *names*, never their values. The built-in functions' table ([`Builtin`]: name, arity, typed
//! signature) and the policy defaults live here once, for the checker, the docs and the runtime.
//!
//! It must never know how a plan is run: no evaluator, no JSON decoding of data, no compiled
//! regexes or caches (those are `flow_eval`'s, in a side table built per plan), no I/O.

mod builtins;
mod forms;
mod unions;
mod value;

pub use builtins::{Arg, Builtin, Family, Row, Shape};
pub use flow_diagnostics::Span;
pub use forms::{has_form, needs_shaping, Form, UnixUnit};
pub use unions::{kinds, resolved, tag_values, Kind, OneOf};
pub use value::{Key, Value};

/// Whole-request timeout of an api that sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Time to establish a connection, when an api sets none.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Requests in flight per api, when it sets none.
pub const DEFAULT_API_CONCURRENCY: u32 = 8;
/// Records of a flow processed at once, when it sets none.
pub const DEFAULT_FLOW_CONCURRENCY: u32 = 8;
/// Pages an endpoint may fetch before paging stops with an error, when it sets none.
pub const DEFAULT_MAX_PAGES: u64 = 100_000;
/// Retries of failed requests, when neither the api nor the endpoint sets them.
pub const DEFAULT_RETRY: Retry = Retry { attempts: 3, base_ms: 200, max_ms: 30_000 };

use serde::{Deserialize, Serialize};

/// Whether a type has an optional field (`name?: T`) or a present one (`name: T | null`)
/// anywhere, so output must be shaped by it: the first left out when null, the second written
/// as `null` when a value lacks it.
pub fn has_optional(ty: &Type, types: &[NamedType]) -> bool {
    fn walk(ty: &Type, types: &[NamedType], depth: usize) -> bool {
        depth < 32
            && match ty {
                Type::Object(fields) => fields.iter().any(|f| f.optional || f.present || walk(&f.ty, types, depth + 1)),
                Type::Array(t) | Type::Nullable(t) | Type::Dict(t) => walk(t, types, depth + 1),
                Type::Named(i) => types.get(*i).is_some_and(|n| walk(&n.ty, types, depth + 1)),
                Type::OneOf(u) => u.variants.iter().any(|v| walk(v, types, depth + 1)),
                _ => false,
            }
    }
    walk(ty, types, 0)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Names of the secrets the plan needs; values are looked up at run time.
    pub secrets: Vec<String>,
    pub apis: Vec<Api>,
    /// Named types, referenced by index from [`Type::Named`] (so recursive types stay finite).
    pub types: Vec<NamedType>,
    pub endpoints: Vec<Endpoint>,
    pub maps: Vec<Map>,
    pub flows: Vec<Flow>,
    /// Static lookup tables, referenced by index from [`Expr::Lookup`].
    #[serde(default)]
    pub tables: Vec<Table>,
    /// Helper functions, referenced by index from [`Expr::CallFunction`].
    #[serde(default)]
    pub functions: Vec<Function>,
    /// `test` blocks, run by `flowc test`.
    #[serde(default)]
    pub tests: Vec<Test>,
    /// The `sensitive` fields of the named types: masked wherever a run shows or keeps a record
    /// (dead letters, events, errors, run history), and sent as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<SensitiveField>,
}

/// `type T { sensitive name: … }`: field `field` of [`Plan::types`]`[ty]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitiveField {
    pub ty: usize,
    pub field: Key,
}

impl Plan {
    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Api {
    pub name: String,
    pub base_url: String,
    pub auth: Auth,
    pub headers: Vec<Header>,
    /// Whole-request timeout.
    pub timeout_ms: u64,
    /// Time to establish a connection.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Verify the server's TLS certificate (off only when declared, with a warning).
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// Plain `http://` to a host that is not this machine is allowed (declared `allow_http = true`);
    /// it binds `--base-url` overrides too.
    #[serde(default)]
    pub allow_http: bool,
    /// Requests to this api in flight at once.
    pub concurrency: u32,
    #[serde(default)]
    pub retry: Retry,
    /// At most this many requests per period, shared by every task that calls the api.
    #[serde(default)]
    pub rate_limit: Option<Rate>,
    pub span: Span,
}

/// Retries of failed requests: connection errors, timeouts, 408, 429 and 5xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Attempts in all; 1 means no retry.
    pub attempts: u32,
    /// Backoff before retry n (1-based) is a random wait in [0, min(max, base × 2^(n-1))].
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Default for Retry {
    fn default() -> Retry {
        DEFAULT_RETRY
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub requests: u32,
    pub per_ms: u64,
}

/// Text built from literal parts and secrets: `"Token " + API_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template(pub Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Text(String),
    /// A secret, by name.
    Secret(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Auth {
    None,
    Bearer {
        token: Template,
    },
    Basic {
        user: Template,
        password: Template,
    },
    ApiKeyHeader {
        header: String,
        value: Template,
    },
    ApiKeyQuery {
        param: String,
        value: Template,
    },
    /// OAuth2 client credentials: a token fetched from `token_url` (absolute, or a path relative
    /// to the api's base URL), cached, refreshed before it expires and once on a 401.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials {
        token_url: String,
        client_id: Template,
        client_secret: Template,
        scope: Option<String>,
    },
    /// OAuth2 refresh token: like client credentials, with `grant_type=refresh_token`; a refresh
    /// token the server rotates is used for the next renewal.
    #[serde(rename = "oauth2_refresh_token")]
    OAuth2RefreshToken {
        token_url: String,
        client_id: Template,
        client_secret: Template,
        refresh_token: Template,
    },
    /// A JWT signed by flowc (HS256 with a shared secret, RS256 with a PEM private key), sent as a
    /// bearer token; `iat` and `exp` are added to the claims, and it is re-signed before it expires.
    Jwt {
        algorithm: String,
        key: Template,
        claims: Vec<(String, serde_json::Value)>,
        ttl_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: Template,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedType {
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum Type {
    String,
    Int,
    Float,
    Decimal,
    Bool,
    Date,
    DateTime,
    /// One of these strings.
    Union(Vec<String>),
    Array(Box<Type>),
    Object(Vec<Field>),
    /// Index into [`Plan::types`].
    Named(usize),
    /// The value may be null or absent.
    Nullable(Box<Type>),
    /// A scalar (DateTime, Decimal, Int) in a declared wire form: `DateTime(unix_seconds)`.
    Formed(Box<Type>, Form),
    /// `{ [String]: T }`: an object of any keys, each value a T, keys in the order they came.
    Dict(Box<Type>),
    /// `Json`: any JSON value, kept as its text.
    Json,
    /// `A | B`: one of these types, told apart by the kind of JSON value and, among objects,
    /// by the tag (`unions.rs`).
    OneOf(OneOf),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: Key,
    pub ty: Type,
    /// Declared `name?: T`: output leaves the field out when its value is null.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Declared `name: T | null`: always present, maybe null (`ty` is nullable). Decoding
    /// refuses its absence (R0004), and output always writes it (`null` when null).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub present: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    /// Index into [`Plan::apis`].
    pub api: usize,
    pub method: String,
    pub path: Vec<PathPart>,
    /// Declared parameters other than `body`, in order.
    pub params: Vec<Param>,
    /// The request body's type, when the endpoint takes one.
    pub body: Option<Type>,
    pub query: Vec<(String, Expr)>,
    pub headers: Vec<(String, Expr)>,
    pub response: Option<Type>,
    /// Where the records are in the response; empty means the response itself is the array.
    pub records: Option<Vec<String>>,
    pub paginate: Option<Pagination>,
    /// Declared stop conditions for paging, beside the kind's own.
    #[serde(default)]
    pub stop: Stop,
    /// Overrides the api's retry policy.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Overrides the api's whole-request timeout.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Declared safe to repeat: a POST or PATCH may be retried without an idempotency key.
    #[serde(default)]
    pub idempotent: bool,
    /// Paging stops with an error after this many pages.
    #[serde(default = "default_max_pages")]
    pub max_pages: u64,
    /// When a 2xx answer is an error (the endpoint's `error_when`, or its api's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_errors: Option<AnswerErrors>,
    pub span: Span,
}

/// When an answer with a 2xx status is an error (Slack's `{"ok": false, "error": "…"}`), what
/// its message is, and whether it passes with time (retried under the retry policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerErrors {
    /// What is decoded of an answer to judge it: the top-level fields the expressions read,
    /// each of them nullable (an error answer seldom has the fields of a good one).
    pub view: Type,
    /// Over `response` (the view): true when the answer is an error.
    pub when: Expr,
    /// The error's text; none, or null: the answer is reported without one.
    #[serde(default)]
    pub message: Option<Expr>,
    /// True when the error passes with time: retried, like a 429.
    #[serde(default)]
    pub transient: Option<Expr>,
    /// The `error_when = …` declaration.
    pub span: Span,
}

fn default_true() -> bool {
    true
}

/// Whether a base URL is plain `http://` to a host that is not this machine (`localhost`,
/// `*.localhost`, a loopback address): what only an api declared `allow_http = true` may use.
/// The one rule for the checker's `base_url` and the command line's `--base-url` (E0403).
pub fn is_plain_http_elsewhere(url: &url::Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.scheme() == "http" && !loopback
}

fn default_connect_timeout() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}

fn default_max_pages() -> u64 {
    DEFAULT_MAX_PAGES
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathPart {
    Text(String),
    /// A path parameter, percent-encoded when the path is built.
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pagination {
    /// Send the cursor read from `from` as query parameter `param`; stop when it is null or empty.
    Cursor {
        param: String,
        from: PageRead,
        span: Span,
        /// Sent in the JSON body instead of the query (`place: "body"`).
        #[serde(default)]
        in_body: bool,
    },
    /// Fetch the URL read from `from` next; stop when it is null or empty.
    NextUrl { from: PageRead, span: Span },
    /// Follow the `Link` response header's `rel="next"` URL; stop when there is none.
    LinkHeader { span: Span },
    /// Send page numbers `start`, `start + 1`, … as query parameter `param`; stop at an empty page.
    Page {
        param: String,
        start: i64,
        span: Span,
        #[serde(default)]
        in_body: bool,
    },
    /// Send offsets 0, `size`, 2 × `size`, … as `param` (and `size` as `limit_param`); stop at a
    /// page with fewer than `size` records.
    Offset {
        param: String,
        limit_param: Option<String>,
        size: u64,
        span: Span,
        #[serde(default)]
        in_body: bool,
    },
}

impl PageRead {
    /// As the plan view shows it: `response.a.b`, or that an expression decides.
    pub fn describe(&self) -> String {
        match self {
            PageRead::Path(path) => {
                std::iter::once("response").chain(path.iter().map(String::as_str)).collect::<Vec<_>>().join(".")
            }
            PageRead::Expr { reads_records: true, .. } => "an expression over the page's response and records".into(),
            PageRead::Expr { .. } => "an expression over the page's response".into(),
        }
    }
}

/// `more: response.has_more` (go on only while true), `total: response.total` (stop once that
/// many records were read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    pub more: Option<PageRead>,
    pub total: Option<PageRead>,
}

/// What paging reads from a page (`from:`, `more:`, `total:`): a path into the page's envelope
/// (`response.paging.next`; in a plan, the array of its names), or an expression over the page,
/// evaluated with `response` (the envelope: the records' array is empty there) and `records`
/// (the page's records, decoded): Stripe's `last(records)?.id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PageRead {
    Path(Vec<String>),
    Expr {
        expr: Expr,
        /// The expression reads `records`: a page with a record that did not fit its type gives
        /// no value (R0024), since the record cannot be read.
        reads_records: bool,
    },
}

impl Pagination {
    pub fn span(&self) -> Span {
        match self {
            Pagination::Cursor { span, .. }
            | Pagination::NextUrl { span, .. }
            | Pagination::LinkHeader { span }
            | Pagination::Page { span, .. }
            | Pagination::Offset { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Map {
    pub name: String,
    pub params: Vec<Key>,
    /// The parameters' types, for decoding input (`flowc map`).
    #[serde(default)]
    pub param_types: Vec<Type>,
    /// `let`s in order, then the target's fields in the target type's order.
    pub lets: Vec<(Key, Expr)>,
    /// `...expr` items: their fields go under the explicit `fields`.
    #[serde(default)]
    pub spreads: Vec<Expr>,
    pub fields: Vec<(Key, Expr)>,
    /// With spreads: the output's fields, in the target type's order.
    #[serde(default)]
    pub order: Vec<Key>,
    /// The target type, when it has optional fields (`name?: T`) that output leaves out when
    /// null, present fields (`name: T | null`) output writes as `null` when a value lacks them,
    /// or declared wire forms output writes (`flow_eval::omit_absent`, `write_forms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<Type>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// Keys and values in declaration order; a key given twice keeps its first entry.
    pub entries: Vec<(Value, Value)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub params: Vec<Key>,
    pub body: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    pub name: String,
    pub steps: Vec<TestStep>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum TestStep {
    Let {
        name: String,
        value: Expr,
        span: Span,
    },
    /// `expect cond`; for `expect a == b` the two sides, to show both values on failure.
    Expect {
        expr: Expr,
        sides: Option<(Expr, Expr)>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub name: String,
    /// Records of the outermost `for` processed at once.
    pub concurrency: u32,
    pub on_error: OnError,
    pub body: Vec<Step>,
    /// The flow's durable incremental cursor, when it declares one (`state NAME: T = … { … }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<FlowState>,
    pub span: Span,
}

/// Records between two checkpoints of a flow's state, unless `checkpoint_every` says otherwise.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1_000;
/// Milliseconds between two checkpoints, unless `checkpoint_interval` says otherwise.
pub const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 5_000;

/// The secret the file's state store is encrypted with, named by a flow's `store_key` (the
/// checker makes every flow that names one name the same).
pub fn store_key_secret(plan: &Plan) -> Option<&str> {
    plan.flows.iter().find_map(|f| f.state.as_ref()?.store_key.as_deref())
}

/// What a flow's state is and how its records advance it: plain data, read by the runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowState {
    /// The name the flow reads it by: `state.NAME`.
    pub name: String,
    pub ty: CursorType,
    /// The declared initial value (of `ty`): the cursor of a flow with no stored state.
    pub initial: Value,
    /// The field path, in each record of the source, that advances the cursor (`record.updated_at`).
    pub from: Vec<Key>,
    /// The field path of a record's identity, for dedup of records at exactly the cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<Key>>,
    /// The lookback window (DateTime cursors): the source is asked for records since the cursor less this.
    pub lag_ms: u64,
    /// The source returns records in cursor order, so the cursor may advance mid-pull.
    pub sorted: bool,
    pub checkpoint_every: u64,
    pub checkpoint_interval_ms: u64,
    /// `store_key = SECRET`: the declared secret the state store's encryption key is derived
    /// from (the same for every flow of the file that names one: the store is the file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_key: Option<String>,
    /// The index in the flow's body of the top-level `for` whose source reads the state and whose
    /// records advance it.
    pub step: usize,
    pub span: Span,
}

/// The type of a flow's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CursorType {
    DateTime,
    Int,
    String,
}

impl CursorType {
    pub fn name(self) -> &'static str {
        match self {
            CursorType::DateTime => "DateTime",
            CursorType::Int => "Int",
            CursorType::String => "String",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OnError {
    /// Stop the flow at the first failed record and fail the run.
    Fail,
    /// Write each failed record, with the error, as a line of NDJSON to `path`, and go on.
    DeadLetter { path: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Let {
        name: String,
        value: Expr,
        span: Span,
    },
    /// Call an endpoint; `bind` names its response for later steps.
    Call {
        call: EndpointCall,
        bind: Option<String>,
    },
    For {
        var: String,
        source: EndpointCall,
        filter: Option<Filter>,
        body: Vec<Step>,
        span: Span,
    },
}

/// `where cond`: records for which it is false are skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub expr: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointCall {
    /// Index into [`Plan::endpoints`].
    pub endpoint: usize,
    /// Values of the endpoint's parameters, by name.
    pub args: Vec<(String, Expr)>,
    pub body: Option<Expr>,
    /// Sent as the `Idempotency-Key` header.
    pub idempotency_key: Option<Expr>,
    /// `batch: N`: the endpoint takes an array; each record adds one item, and items are sent N
    /// at a time (the rest when the loop ends).
    #[serde(default)]
    pub batch: Option<u32>,
    pub span: Span,
}

/// An expression, names resolved and types checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum Expr {
    Lit {
        value: Value,
    },
    /// A parameter, `let`, loop variable or lambda parameter.
    Var {
        name: Key,
    },
    Field {
        base: Box<Expr>,
        name: Key,
        /// The field's place in its object's declared type, when the checker knew the type:
        /// records hold their fields in declaration order, so the field is looked up there first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slot: Option<u32>,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Not {
        expr: Box<Expr>,
    },
    Neg {
        expr: Box<Expr>,
        span: Span,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        span: Span,
    },
    /// `lhs ?? rhs`: rhs when lhs is null or absent.
    Coalesce {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    And {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Or {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Object {
        fields: Vec<(Key, Expr)>,
    },
    Array {
        items: Vec<Expr>,
    },
    CallMap {
        map: usize,
        args: Vec<Expr>,
        span: Span,
    },
    /// A built-in function. (Serialized as `call_fn`, the name plans have always shown.)
    #[serde(rename = "call_fn")]
    CallBuiltin {
        func: Builtin,
        args: Vec<Expr>,
        span: Span,
    },
    /// A helper function, by index into [`Plan::functions`].
    CallFunction {
        func: usize,
        args: Vec<Expr>,
        span: Span,
    },
    /// `expr catch default`: `default` when `expr` fails.
    Catch {
        expr: Box<Expr>,
        default: Box<Expr>,
    },
    /// `match x { "a" | "b" => …, _ => … }`.
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<MatchArm>,
        otherwise: Option<Box<Expr>>,
        span: Span,
    },
    /// An object built from parts in order (`{ ...base, name: x }`); later parts win. With
    /// `keep`, only those fields, in that order (the target type's).
    Build {
        parts: Vec<ObjectPart>,
        keep: Option<Vec<Key>>,
    },
    /// `table[key]`: the table's value, or null.
    Lookup {
        table: usize,
        key: Box<Expr>,
    },
    Lambda {
        param: Key,
        body: Box<Expr>,
    },
    /// `d["key"]`, `d.key` on a dictionary: the value at that key, or null.
    DictGet {
        base: Box<Expr>,
        key: Box<Expr>,
    },
    /// A dictionary literal, `{ order_id: x, ...other }` where a dictionary is expected: built
    /// in order, a later value of a key replacing an earlier one at its place.
    Dict {
        parts: Vec<DictPart>,
    },
    /// A request's query or header value whose type declares a wire form
    /// (`DateTime(unix_seconds)`, `Decimal(string)`): the value, written in that form.
    Written {
        expr: Box<Expr>,
        ty: Type,
    },
}

impl Expr {
    /// Calls `f` on each direct sub-expression.
    pub fn each_child<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        match self {
            Expr::Lit { .. } | Expr::Var { .. } => {}
            Expr::Field { base, .. } => f(base),
            Expr::Index { base, index } => {
                f(base);
                f(index);
            }
            Expr::Not { expr } | Expr::Neg { expr, .. } | Expr::Written { expr, .. } => f(expr),
            Expr::Binary { lhs, rhs, .. }
            | Expr::Coalesce { lhs, rhs }
            | Expr::And { lhs, rhs }
            | Expr::Or { lhs, rhs } => {
                f(lhs);
                f(rhs);
            }
            Expr::If { cond, then, otherwise } => {
                f(cond);
                f(then);
                f(otherwise);
            }
            Expr::Object { fields } => fields.iter().for_each(|(_, e)| f(e)),
            Expr::Array { items: args }
            | Expr::CallMap { args, .. }
            | Expr::CallBuiltin { args, .. }
            | Expr::CallFunction { args, .. } => args.iter().for_each(f),
            Expr::Catch { expr, default } => {
                f(expr);
                f(default);
            }
            Expr::Match { scrutinee, arms, otherwise, .. } => {
                f(scrutinee);
                arms.iter().for_each(|a| f(&a.body));
                if let Some(o) = otherwise {
                    f(o);
                }
            }
            Expr::Build { parts, .. } => parts.iter().for_each(|p| match p {
                ObjectPart::Field { value, .. } | ObjectPart::Spread { value } => f(value),
            }),
            Expr::Lookup { key, .. } => f(key),
            Expr::Lambda { body, .. } => f(body),
            Expr::DictGet { base, key } => {
                f(base);
                f(key);
            }
            Expr::Dict { parts } => parts.iter().for_each(|p| match p {
                DictPart::Entry { value, .. } | DictPart::Spread { value } => f(value),
            }),
        }
    }

    /// Whether the variable `name` is read anywhere in this expression (shadowing aside: a
    /// lambda parameter of the same name counts too, which errs on the safe side).
    pub fn mentions(&self, name: &str) -> bool {
        if let Expr::Var { name: n } = self {
            return n == name;
        }
        let mut found = false;
        self.each_child(&mut |c| found = found || c.mentions(name));
        found
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchArm {
    pub patterns: Vec<Value>,
    /// A type pattern (`c: Customer =>`): the arm takes the values that are this member of the
    /// union matched; `patterns` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberTest>,
    pub body: Expr,
}

/// The arm of one member of a union: the value is bound to `bind` in the arm's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberTest {
    pub union: OneOf,
    /// Its index among the union's members.
    pub member: usize,
    pub bind: Key,
}

impl MemberTest {
    /// Whether `value` is this member.
    pub fn takes(&self, value: &Value, types: &[NamedType]) -> bool {
        self.union.pick_value(value, types).and_then(|m| self.union.variants.iter().position(|v| std::ptr::eq(v, m)))
            == Some(self.member)
    }
}

/// A part of a dictionary literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum DictPart {
    Entry { key: String, value: Expr },
    Spread { value: Expr },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum ObjectPart {
    Field { name: Key, value: Expr },
    Spread { value: Expr },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}
