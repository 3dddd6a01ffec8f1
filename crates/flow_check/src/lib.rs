//! The checker: `check` gives names, types and every diagnostic of a parsed `.flow` file, all at
//! once; `lower` turns the checked model into a [`Plan`].
//!
//! `check` validates and elaborates: it resolves every name, types every expression (checking
//! against the expected type where there is one, so errors land on the exact field) and turns
//! expressions into the plan's resolved form. A [`Model`] exists only when there are no errors.
//! `lower` then applies policy defaults, orders map output by the target type and erases the
//! checker's own types; it cannot fail.
//!
//! What it must never know: pest or the text's layout beyond spans (it sees only the AST), the
//! values of secrets (only their names), the network, files, clocks or threads (it is a pure
//! function of the AST; tokio and reqwest are the runtime's), and how a plan is run.
//!
//! Where things are: the checker's state and its passes in order (`checker`: one table of
//! declarations per kind, the namespace, declared fields, the call graph, what editors read, the
//! diagnostics); one file per declaration kind (`names`, `types`, `api`, `endpoint` with
//! `pagination`, `map`, `flow`, `table`, `function`, `test_block`), the settings they share
//! (`properties`), expressions (`expr`), the fields of a declared object (`record`), calls
//! (`call`), built-ins (`builtins`, `formats`), the checker's types (`ty`), locals and `let`s
//! (`scope`) and `lower`.
mod api;
mod builtins;
mod call;
mod checker;
mod endpoint;
mod expr;
mod flow;
mod formats;
mod function;
mod lower;
mod map;
mod names;
mod pagination;
mod properties;
mod record;
mod scope;
mod state;
mod table;
mod test_block;
mod ty;
mod types;

pub use lower::lower;

use flow_diagnostics::{Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast;

pub(crate) use crate::checker::{Checker, DeclRef, BUILTIN_TYPES};
use crate::ty::{Ty, Types};

/// The policy defaults `lower` applies, defined once in the plan crate.
pub use flow_plan::{
    DEFAULT_API_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_FLOW_CONCURRENCY, DEFAULT_TIMEOUT_MS,
};

/// What `check` found: the model (only when there are no errors), every diagnostic, sorted, and
/// what editors show (kept even when there are errors).
pub struct Checked {
    pub model: Option<Model>,
    pub diagnostics: Vec<Diagnostic>,
    pub info: Info,
}

/// What the checker learned about the source, for editors: types and field references by span.
#[derive(Debug, Default, Clone)]
pub struct Info {
    /// The type of every expression the checker inferred, as diagnostics show types.
    pub expr_types: Vec<(Span, String)>,
    /// Every field a type declaration declares: the field's name span and `Type.field: T`.
    pub field_decls: Vec<(Span, String)>,
    /// Every use of a declared field (a path `o.email`, a map or object field `email: …`): the
    /// use's span and the span of the field's name in its type declaration.
    pub field_uses: Vec<(Span, Span)>,
    /// Where a path names a field its object does not have: the name's span and the fields the
    /// object does have, with their types (what an editor completes after a `.`).
    pub field_choices: Vec<(Span, Vec<(String, String)>)>,
    /// Every declared name: declarations (apis, types, endpoints, maps, functions, tables,
    /// secrets, flows) and locals (parameters, `let`s, loop variables, lambda parameters).
    pub names: Vec<NameDecl>,
    /// Every use of a declared name, as the checker resolved it: the use's span and the span of
    /// the name in its declaration. A field, an object key or a property is never a use of a name.
    pub name_uses: Vec<(Span, Span)>,
    /// Every call of a built-in function: the callee's span and the function.
    pub builtin_uses: Vec<(Span, plan::Builtin)>,
}

/// A declared name: where it is declared, what it is, and (for a local) the type the checker
/// gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct NameDecl {
    pub span: Span,
    pub name: String,
    pub kind: NameKind,
    pub ty: Option<String>,
}

/// What a declared name names: a declaration (in the file's one namespace) or a local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Secret,
    Api,
    Type,
    Endpoint,
    Map,
    Flow,
    Table,
    Function,
    /// A parameter of a map, function or endpoint.
    Param,
    /// A `let` of a map, flow or test.
    Let,
    /// The variable of a `for`.
    LoopVar,
    /// The parameter of a lambda.
    LambdaParam,
    /// A flow's `state` (`state.since`), bound by its `state` declaration.
    State,
}

impl NameKind {
    /// Declarations share one namespace for the whole file; locals live in one declaration.
    pub fn is_global(self) -> bool {
        !matches!(self, NameKind::Param | NameKind::Let | NameKind::LoopVar | NameKind::LambdaParam | NameKind::State)
    }

    /// The word diagnostics use for it (`api \`crm\``).
    pub fn word(self) -> &'static str {
        match self {
            NameKind::Table => "table",
            NameKind::Function => "function",
            NameKind::Secret => "secret",
            NameKind::Api => "api",
            NameKind::Type => "type",
            NameKind::Endpoint => "endpoint",
            NameKind::Map => "map",
            NameKind::Flow => "flow",
            NameKind::Param => "parameter",
            NameKind::Let => "let",
            NameKind::LoopVar => "loop variable",
            NameKind::LambdaParam => "lambda parameter",
            NameKind::State => "state",
        }
    }
}

/// A checked file: everything resolved and typed. Input of [`lower`].
#[derive(Debug)]
pub struct Model {
    pub(crate) secrets: Vec<String>,
    pub(crate) types: Types,
    pub(crate) apis: Vec<ApiM>,
    pub(crate) endpoints: Vec<EndpointM>,
    pub(crate) maps: Vec<MapM>,
    pub(crate) flows: Vec<plan::Flow>,
    pub(crate) flow_settings: Vec<FlowSettings>,
    pub(crate) tables: Vec<TableM>,
    pub(crate) functions: Vec<FunctionM>,
    pub(crate) tests: Vec<plan::Test>,
}

#[derive(Debug)]
pub(crate) struct TableM {
    pub name: String,
    pub entries: Vec<(plan::Value, plan::Value)>,
}

#[derive(Debug)]
pub(crate) struct FunctionM {
    pub name: String,
    pub params: Vec<String>,
    pub body: plan::Expr,
    pub span: Span,
}

#[derive(Debug)]
pub(crate) struct ApiM {
    pub name: String,
    pub base_url: String,
    pub auth: plan::Auth,
    pub headers: Vec<plan::Header>,
    pub timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub concurrency: Option<u32>,
    pub retry: Option<plan::Retry>,
    pub rate_limit: Option<plan::Rate>,
    pub tls_verify: bool,
    pub allow_http: bool,
    pub span: Span,
}

#[derive(Debug)]
pub(crate) struct EndpointM {
    pub name: String,
    pub api: usize,
    pub method: ast::Method,
    pub path: Vec<plan::PathPart>,
    pub params: Vec<(String, Ty)>,
    pub body: Option<Ty>,
    pub query: Vec<(String, plan::Expr)>,
    pub headers: Vec<(String, plan::Expr)>,
    pub response: Option<Ty>,
    pub records: Option<Vec<String>>,
    /// Type of one record, when the endpoint declares where its records are.
    pub record_ty: Option<Ty>,
    pub paginate: Option<plan::Pagination>,
    pub stop: plan::Stop,
    pub retry: Option<plan::Retry>,
    pub timeout_ms: Option<u64>,
    pub idempotent: bool,
    pub max_pages: Option<u64>,
    pub span: Span,
}

#[derive(Debug)]
pub(crate) struct MapM {
    pub name: String,
    pub params: Vec<(String, Ty)>,
    pub ret: Ty,
    pub lets: Vec<(String, plan::Expr)>,
    pub spreads: Vec<plan::Expr>,
    pub fields: Vec<(String, plan::Expr)>,
    pub span: Span,
}

#[derive(Debug, Default)]
pub(crate) struct FlowSettings {
    pub concurrency: Option<u32>,
    pub on_error: Option<plan::OnError>,
}

/// Checks a parsed file.
pub fn check(file: &ast::File) -> Checked {
    let mut checker = Checker::new(file);
    checker.run();
    let mut diagnostics = std::mem::take(&mut checker.diagnostics);
    flow_diagnostics::sort(&mut diagnostics);
    let info = std::mem::take(&mut checker.info);
    let model = if diagnostics.iter().any(Diagnostic::is_error) { None } else { Some(checker.into_model()) };
    Checked { model, diagnostics, info }
}

/// Parses and checks source text: what `flowc check` does for one file.
pub fn check_source(source: &str) -> Checked {
    let (file, parse_diags) = flow_syntax::parse(source);
    check_parsed(&file, parse_diags)
}

/// Checks a parsed file, given the parser's diagnostics: a file that did not parse is not checked.
pub fn check_parsed(file: &ast::File, mut parse_diags: Vec<Diagnostic>) -> Checked {
    if parse_diags.iter().any(Diagnostic::is_error) {
        flow_diagnostics::sort(&mut parse_diags);
        return Checked { model: None, diagnostics: parse_diags, info: Info::default() };
    }
    let mut checked = check(file);
    parse_diags.append(&mut checked.diagnostics);
    flow_diagnostics::sort(&mut parse_diags);
    checked.diagnostics = parse_diags;
    checked
}

#[cfg(test)]
mod tests;
