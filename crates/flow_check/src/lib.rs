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
//! Where things are: one file per declaration kind (`names`, `types`, `api`, `endpoint` with
//! `pagination`, `map`, `flow`, `table`, `function`, `test_block`), the settings they share
//! (`properties`), expressions (`expr`), the fields of a declared object (`record`), calls
//! (`call`), built-ins (`builtins`, `formats`), the checker's types (`ty`), locals and `let`s
//! (`scope`) and `lower`.
mod api;
mod builtins;
mod call;
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

use std::collections::{HashMap, HashSet};

use flow_diagnostics::{Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast;

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
    let mut cx = Cx::new(file);
    cx.run();
    let mut diagnostics = std::mem::take(&mut cx.diagnostics);
    flow_diagnostics::sort(&mut diagnostics);
    let info = std::mem::take(&mut cx.info);
    let model = if diagnostics.iter().any(Diagnostic::is_error) { None } else { Some(cx.into_model()) };
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

#[derive(Debug, Clone, Copy)]
pub(crate) struct DeclRef {
    pub kind: NameKind,
    pub index: usize,
    pub span: Span,
}

/// Names that cannot be declared: the built-in types.
pub(crate) const BUILTIN_TYPES: [&str; 7] = ["String", "Int", "Float", "Decimal", "Bool", "Date", "DateTime"];

pub(crate) struct Cx<'a> {
    pub file: &'a ast::File,
    pub diagnostics: Vec<Diagnostic>,
    pub names: HashMap<String, DeclRef>,
    pub used: HashSet<(NameKind, usize)>,
    pub secrets: Vec<&'a ast::SecretDecl>,
    pub type_decls: Vec<&'a ast::TypeDecl>,
    pub api_decls: Vec<&'a ast::ApiDecl>,
    pub endpoint_decls: Vec<&'a ast::EndpointDecl>,
    pub map_decls: Vec<&'a ast::MapDecl>,
    pub flow_decls: Vec<&'a ast::FlowDecl>,
    pub table_decls: Vec<&'a ast::TableDecl>,
    pub fn_decls: Vec<&'a ast::FnDecl>,
    pub test_decls: Vec<&'a ast::TestDecl>,
    /// Table key and value types, known before expressions are checked.
    pub table_sigs: Vec<(Ty, Ty)>,
    pub tables: Vec<Option<TableM>>,
    /// Function signatures, known before any body is checked.
    pub fn_sigs: Vec<(Vec<(String, Ty)>, Ty)>,
    pub functions: Vec<Option<FunctionM>>,
    /// Which functions each function calls, for the cycle check.
    pub fn_calls: Vec<Vec<(usize, Span)>>,
    pub current_fn: Option<usize>,
    /// How many `for` loops enclose the statement being checked.
    pub loop_depth: usize,
    pub tests: Vec<plan::Test>,
    pub types: Types,
    /// Where each field of a named object type was declared, for "expected because of this".
    pub field_spans: HashMap<(usize, String), Span>,
    /// Where each field's name is declared, for editors' go to definition.
    pub field_names: HashMap<(usize, String), Span>,
    /// Paths that read an optional field (`name?: T`): their value may be absent, which the
    /// null diagnostics say instead of "null".
    pub absent_reads: HashSet<Span>,
    pub info: Info,
    pub apis: Vec<Option<ApiM>>,
    pub endpoints: Vec<Option<EndpointM>>,
    /// Map signatures, known before any body is checked so maps can call later maps.
    pub map_sigs: Vec<(Vec<(String, Ty)>, Ty)>,
    pub maps: Vec<Option<MapM>>,
    /// Which maps each map calls, for the cycle check.
    pub map_calls: Vec<Vec<(usize, Span)>>,
    pub current_map: Option<usize>,
    pub flows: Vec<plan::Flow>,
    pub flow_settings: Vec<FlowSettings>,
}

impl<'a> Cx<'a> {
    fn new(file: &'a ast::File) -> Cx<'a> {
        Cx {
            file,
            diagnostics: Vec::new(),
            names: HashMap::new(),
            used: HashSet::new(),
            secrets: Vec::new(),
            type_decls: Vec::new(),
            api_decls: Vec::new(),
            endpoint_decls: Vec::new(),
            map_decls: Vec::new(),
            flow_decls: Vec::new(),
            table_decls: Vec::new(),
            fn_decls: Vec::new(),
            test_decls: Vec::new(),
            table_sigs: Vec::new(),
            tables: Vec::new(),
            fn_sigs: Vec::new(),
            functions: Vec::new(),
            fn_calls: Vec::new(),
            current_fn: None,
            loop_depth: 0,
            tests: Vec::new(),
            types: Types::default(),
            field_spans: HashMap::new(),
            field_names: HashMap::new(),
            absent_reads: HashSet::new(),
            info: Info::default(),
            apis: Vec::new(),
            endpoints: Vec::new(),
            map_sigs: Vec::new(),
            maps: Vec::new(),
            map_calls: Vec::new(),
            current_map: None,
            flows: Vec::new(),
            flow_settings: Vec::new(),
        }
    }

    pub fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub(crate) fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The declared object type a type names, through aliases and `?`.
    pub fn named_index(&self, ty: &Ty) -> Option<usize> {
        let mut ty = self.types.non_null(ty);
        for _ in 0..16 {
            let Ty::Named(i) = ty else { return None };
            match self.types.non_null(self.types.defs.get(i)?) {
                Ty::Named(j) => ty = Ty::Named(j),
                _ => return Some(i),
            }
        }
        None
    }

    /// "may be null", or "may be absent" for a path that reads an optional field.
    pub fn may_be_null(&self, e: &ast::Expr) -> &'static str {
        if self.absent_reads.contains(&e.span) {
            "may be absent"
        } else {
            "may be null"
        }
    }

    /// Records a use of field `name` of declared type `type_index`, for editors.
    pub fn note_field(&mut self, type_index: Option<usize>, name: &str, at: Span) {
        if let Some(decl) = type_index.and_then(|i| self.field_names.get(&(i, name.to_string()))) {
            self.info.field_uses.push((at, *decl));
        }
    }

    /// Records the declaration of a global name, for editors.
    pub fn note_global(&mut self, kind: NameKind, name: &ast::Ident) {
        self.info.names.push(NameDecl { span: name.span, name: name.name.clone(), kind, ty: None });
    }

    /// Records that the name at `at` resolved to the declaration `r`, for editors.
    pub fn note_use(&mut self, r: DeclRef, at: Span) {
        self.info.name_uses.push((at, r.span));
    }

    /// Records that the name at `at` resolved to the local or parameter declared at `decl`.
    pub fn note_local_use(&mut self, decl: Span, at: Span) {
        self.info.name_uses.push((at, decl));
    }

    /// Declares a local in `scope` and records it for editors. `let`s are reported when unused;
    /// parameters and loop variables are not.
    pub(crate) fn bind(&mut self, scope: &mut scope::Scope, name: &str, span: Span, ty: Ty, kind: NameKind) {
        let shown = (!matches!(ty, Ty::Error)).then(|| self.types.display(&ty));
        self.info.names.push(NameDecl { span, name: name.to_string(), kind, ty: shown });
        scope.push(name, ty, span, kind == NameKind::Let);
    }

    fn run(&mut self) {
        self.collect();
        self.check_types();
        self.check_apis();
        self.check_endpoints();
        self.table_signatures();
        self.map_signatures();
        self.fn_signatures();
        self.check_tables();
        self.check_functions();
        self.check_maps();
        self.check_map_cycles();
        self.check_flows();
        self.check_tests();
        self.unused();
    }

    fn into_model(self) -> Model {
        Model {
            secrets: self.secrets.iter().map(|s| s.name.name.clone()).collect(),
            types: self.types,
            apis: self.apis.into_iter().flatten().collect(),
            endpoints: self.endpoints.into_iter().flatten().collect(),
            maps: self.maps.into_iter().flatten().collect(),
            flows: self.flows,
            flow_settings: self.flow_settings,
            tables: self.tables.into_iter().flatten().collect(),
            functions: self.functions.into_iter().flatten().collect(),
            tests: self.tests,
        }
    }
}

#[cfg(test)]
mod tests;
