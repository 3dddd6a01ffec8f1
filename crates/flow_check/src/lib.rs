//! The checker: `check` gives names, types and every diagnostic of a parsed `.flow` file, all at
//! once, and, when there are no errors, the [`Plan`](flow_plan::Plan) it built (in a [`Model`]).
//!
//! `check` validates and elaborates: it resolves every name, types every expression (checking
//! against the expected type where there is one, so errors land on the exact field) and builds
//! the plan's own types as it goes: resolved expressions, policy defaults applied, map output in
//! the target type's order, the checker's own types (literal types, the poison type) erased.
//! A [`Model`] exists only when there are no errors.
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
//! (`call`), built-ins (`builtins`, `formats`), the checker's types and their plan form (`ty`),
//! locals and `let`s (`scope`).
mod answer_errors;
mod api;
mod builtins;
mod call;
mod checker;
mod derive;
mod dicts;
mod endpoint;
mod expr;
mod flow;
mod formats;
mod forms;
mod function;
mod map;
mod meant;
mod moved;
mod names;
mod narrow;
mod pagination;
mod properties;
mod recheck;
mod record;
mod recursion;
mod scope;
mod state;
mod table;
mod test_block;
#[cfg(test)]
mod test_corpus;
mod ty;
mod types;
mod unions;

use flow_diagnostics::{Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast;

pub use crate::api::API_PROPERTIES;
pub(crate) use crate::checker::{Checker, DeclRef, BUILTIN_TYPES};
pub use crate::endpoint::ENDPOINT_PROPERTIES;
pub use crate::flow::FLOW_PROPERTIES;
pub use crate::moved::move_spans;
pub use crate::recheck::Kept;
pub use crate::state::STATE_PROPERTIES;

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
    /// The type of every expression the checker inferred, shown (as diagnostics show types)
    /// only when asked for: [`ExprTypes::innermost`].
    pub expr_types: ExprTypes,
    /// Every declaration, in the order of the file, as the checker collected it (one declared
    /// twice is listed twice): what an editor's outline shows, and a declaration's hover.
    pub decls: Vec<DeclInfo>,
    /// Every field a type declaration declares (the first of each name in a type), and the
    /// fields of the object types written inline in its fields (`Issue.reactions."+1"`).
    pub field_decls: Vec<FieldDecl>,
    /// Every use of a declared field (a path `o.email`, a map or object field `email: …`): the
    /// use's span and the span of the field's name in its type declaration, or in the object
    /// type written inline that declares it (a field of a field, an endpoint's response).
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
    /// Every derived type (`type S = pick(User, id)`): the span of its name and its fields as
    /// they came out (`{ id: Int }`), what a hover shows beside the declaration.
    pub derived_types: Vec<(Span, String)>,
    /// Every place a field of a derived type is named through that type (`patch.login` of a
    /// `partial(User)`, a map's `login =`, `pick(UserPatch, login)`): the name's span and the
    /// field as it is in the derived type (`UserPatch.login?: String`), what a hover shows
    /// (the field's declaration is the base's, so go to definition and rename lead there).
    pub derived_field_uses: Vec<(Span, String)>,
    /// Every derived type the checker resolved: the span of its name and its fields in order,
    /// each with where the field is declared as written (`flowc check --spec` compares a
    /// derived type by these, so the derivation rules are the checker's alone).
    pub derived_fields: Vec<(Span, Vec<DerivedField>)>,
}

/// One field of a derived type as the checker resolved it.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedField {
    pub name: String,
    /// The span of the field's name where it is declared as written (in the base, or in the
    /// base's base); `None` for a field whose declaration was not recorded.
    pub declared: Option<Span>,
    /// `name?: T` in the derived type (`partial` makes every field so).
    pub optional: bool,
    /// `name: T | null`, always present (`partial` takes that away).
    pub present: bool,
}

/// The type the checker inferred for each expression, by span. Kept as the checker's own types
/// and written out as text only for the one an editor asks about (a hover): writing every one
/// of them, on every check, was a tenth of the checker's work.
#[derive(Debug, Default, Clone)]
pub struct ExprTypes {
    types: Vec<(Span, ty::Ty)>,
    /// The declared types' names (no definitions: a type is shown by its name), as they were
    /// when these types were inferred.
    names: ty::Types,
}

impl ExprTypes {
    pub(crate) fn push(&mut self, span: Span, ty: ty::Ty) {
        self.types.push((span, ty));
    }

    /// The innermost expression whose span holds byte `offset` (the first recorded of the
    /// shortest), with its type as diagnostics show types.
    pub fn innermost(&self, offset: usize) -> Option<(Span, String)> {
        let (span, ty) = self
            .types
            .iter()
            .filter(|(s, _)| (s.start as usize) <= offset && offset < s.end as usize)
            .min_by_key(|(s, _)| s.end - s.start)?;
        Some((*span, self.names.display(ty)))
    }
}

/// A declaration of the file, as an outline shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclInfo {
    /// What it declares; `None` for a `test`, which is named by a title, not in the namespace.
    pub kind: Option<NameKind>,
    /// Its name (a test's title).
    pub name: String,
    pub name_span: Span,
    /// The whole declaration.
    pub span: Span,
}

/// A field of a declared object type.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    /// The field's name.
    pub name_span: Span,
    /// The whole field declaration (`email?: String`).
    pub span: Span,
    /// `Type.field`.
    pub path: String,
    /// Declared `name?: T`: it may be absent.
    pub optional: bool,
    /// Declared `sensitive name: T`: its value is masked where a run shows or keeps it.
    pub sensitive: bool,
    /// Its type as written (`String?`, `[Item]`, `"a" | "b"`, `{ … }` for an inline object).
    pub written: String,
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

/// A checked file: the plan the checker built, with every name resolved, every expression typed
/// and the policy defaults applied. It exists only when there are no errors.
#[derive(Debug)]
pub struct Model(plan::Plan);

impl Model {
    /// The plan, for the runtime and the evaluator.
    pub fn plan(&self) -> &plan::Plan {
        &self.0
    }

    pub fn into_plan(self) -> plan::Plan {
        self.0
    }
}

/// Checks a parsed file.
pub fn check(file: &ast::File) -> Checked {
    check_building(file, true)
}

/// Checks a parsed file, building the plan (`model`) only when `plan` is asked for (and there
/// are no errors); the diagnostics and the record are the same either way.
fn check_building(file: &ast::File, plan: bool) -> Checked {
    check_with(Checker::new(file), plan).0
}

/// Runs `checker`'s passes; with `checker.keep`, also what the next check needs to take the
/// bodies an edit did not change from this one ([`Kept`]).
fn check_with(mut checker: Checker<'_>, plan: bool) -> (Checked, Option<Kept>) {
    checker.run();
    let kept = checker.keep.then(|| Kept::new(&mut checker));
    let mut diagnostics = std::mem::take(&mut checker.diagnostics);
    flow_diagnostics::sort(&mut diagnostics);
    let mut info = std::mem::take(&mut checker.info);
    info.expr_types.names = ty::Types { names: checker.types.names.clone(), defs: Vec::new() };
    let model = if !plan || diagnostics.iter().any(Diagnostic::is_error) { None } else { Some(checker.into_model()) };
    (Checked { model, diagnostics, info }, kept)
}

/// Parses and checks source text: what `flowc check` does for one file.
pub fn check_source(source: &str) -> Checked {
    let (file, parse_diags) = flow_syntax::parse(source);
    check_parsed(&file, parse_diags)
}

/// Checks a parsed file, given the parser's diagnostics. Every declaration that parsed is
/// checked even when others did not ("all errors at once"); what depends on a declaration that
/// did not parse is skipped (`ast::File::broken`: its name is not unknown, what it uses is not
/// unused), and a file with a syntax error has no model.
pub fn check_parsed(file: &ast::File, parse_diags: Vec<Diagnostic>) -> Checked {
    check_parsed_building(file, parse_diags, true)
}

/// [`check_parsed`] for an editor, which reads the diagnostics and the record ([`Info`]) and
/// never the plan: the same diagnostics and record, and no `model` (building it and freeing it
/// again was a twentieth of an edit).
pub fn check_parsed_for_editor(file: &ast::File, parse_diags: Vec<Diagnostic>) -> Checked {
    check_parsed_building(file, parse_diags, false)
}

/// [`check_parsed`] for a command that reads only the diagnostics and the plan (`flowc check`):
/// the same diagnostics and model, without the record for editors (`info` is left without the
/// types' fields, the expressions' types and the locals).
pub fn check_parsed_without_record(file: &ast::File, parse_diags: Vec<Diagnostic>) -> Checked {
    let mut checker = Checker::new(file);
    checker.record = false;
    with_parse_diagnostics(check_with(checker, true).0, parse_diags)
}

/// [`check_parsed_for_editor`], also keeping what the next check needs to check again only the
/// body an edit changed ([`recheck_for_editor`]).
pub fn check_parsed_keeping(file: &ast::File, parse_diags: Vec<Diagnostic>) -> (Checked, Kept) {
    let mut checker = Checker::new(file);
    checker.keep = true;
    checker.names.logging = true;
    let (checked, kept) = check_with(checker, false);
    (with_parse_diagnostics(checked, parse_diags), kept.unwrap_or_default())
}

/// [`check_parsed_keeping`] of `file`, which is the file of the last check (`info` and `kept`)
/// with only the body of declaration `decl` (`file.decls[decl]`, a map, function, flow or test)
/// changed and every other declaration only moved, `to` saying where a span of that file is now
/// (`flow_syntax::Edited`): the other bodies are not checked again, their diagnostics and record
/// are the last check's, moved. The result is exactly [`check_parsed_keeping`]'s.
pub fn recheck_for_editor(
    file: &ast::File,
    parse_diags: Vec<Diagnostic>,
    last: (Info, Kept),
    decl: usize,
    to: &dyn Fn(Span) -> Option<Span>,
) -> (Checked, Kept) {
    let mut checker = Checker::new(file);
    checker.keep = true;
    checker.names.logging = true;
    checker.replay = recheck::Replay::new(file, decl, last.0, last.1, to);
    if let Some(r) = &checker.replay {
        r.reserve(&mut checker.info, &mut checker.diagnostics);
    }
    let (checked, kept) = check_with(checker, false);
    (with_parse_diagnostics(checked, parse_diags), kept.unwrap_or_default())
}

fn check_parsed_building(file: &ast::File, parse_diags: Vec<Diagnostic>, plan: bool) -> Checked {
    with_parse_diagnostics(check_building(file, plan), parse_diags)
}

/// A check's result with the parser's diagnostics among its own, sorted; no model when the
/// parser found an error.
fn with_parse_diagnostics(mut checked: Checked, mut parse_diags: Vec<Diagnostic>) -> Checked {
    if parse_diags.iter().any(Diagnostic::is_error) {
        checked.model = None;
    }
    parse_diags.append(&mut checked.diagnostics);
    flow_diagnostics::sort(&mut parse_diags);
    checked.diagnostics = parse_diags;
    checked
}

#[cfg(test)]
mod tests;
