//! The checker's state: small tables, each with one meaning, and the passes over them.
//!
//! - [`Decls`]: one [`DeclTable`] per declaration kind; a row holds the declaration as written,
//!   its signature (what other declarations may know of it before its body is checked) and its
//!   checked form. A new declaration kind is one more table here (and its line in `collect`,
//!   `unused` and `into_model`).
//! - [`Namespace`]: the file's one namespace of declared names, and which declarations are used.
//! - [`Fields`]: where each field of each declared object type is declared.
//! - [`CallGraph`]: which map or function calls which, for the cycle check.
//! - `info`: what editors read ([`Info`]); `diagnostics`: everything reported, in the order found.
//! - [`Checker::run`]: the passes, in order.

use std::collections::{HashMap, HashSet};

use flow_diagnostics::{Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast;

use crate::scope::Scope;
use crate::ty::{Ty, Types};
use crate::{Info, Model, NameDecl, NameKind};

/// One declaration kind's table: a row per declaration, in the order of the file.
pub(crate) struct DeclTable<'a, D, Sig, Done> {
    pub rows: Vec<Row<'a, D, Sig, Done>>,
}

/// One declaration: as written, its signature once the signatures pass has run, and its
/// checked form once its body is checked (`None` while it has errors).
pub(crate) struct Row<'a, D, Sig, Done> {
    pub decl: &'a D,
    pub sig: Option<Sig>,
    pub checked: Option<Done>,
}

impl<'a, D, Sig, Done> Default for DeclTable<'a, D, Sig, Done> {
    fn default() -> Self {
        DeclTable { rows: Vec::new() }
    }
}

impl<'a, D, Sig: Clone, Done> DeclTable<'a, D, Sig, Done> {
    /// Adds a declaration; its index in this table.
    pub(crate) fn push(&mut self, decl: &'a D) -> usize {
        self.rows.push(Row { decl, sig: None, checked: None });
        self.rows.len() - 1
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The declaration at `index`, as written (borrowed from the file, not from the table).
    pub(crate) fn decl(&self, index: usize) -> &'a D {
        self.rows[index].decl
    }

    /// Every declaration, as written.
    pub(crate) fn decls(&self) -> impl Iterator<Item = &'a D> + '_ {
        self.rows.iter().map(|r| r.decl)
    }

    /// The signature at `index`, when the signatures pass has given it one.
    pub(crate) fn sig(&self, index: usize) -> Option<Sig> {
        self.rows.get(index)?.sig.clone()
    }

    /// The checked forms of the declarations without errors, in order.
    fn into_checked(self) -> Vec<Done> {
        self.rows.into_iter().filter_map(|r| r.checked).collect()
    }
}

/// A map's or function's parameters and result, known before any body is checked.
#[derive(Debug, Clone)]
pub(crate) struct Signature {
    pub params: Vec<(String, Ty)>,
    pub ret: Ty,
}

/// A table's key and value types, known before expressions are checked.
#[derive(Debug, Clone)]
pub(crate) struct TableSig {
    pub key: Ty,
    pub value: Ty,
}

/// What a flow calls an endpoint against: its parameters' and body's types, its response's and
/// one record's (when it says where its records are).
#[derive(Debug, Clone)]
pub(crate) struct EndpointSig {
    pub params: Vec<(String, Ty)>,
    pub body: Option<Ty>,
    pub response: Option<Ty>,
    pub record: Option<Ty>,
}

/// Every declaration of the file, one table per kind; the checked forms are the plan's.

#[derive(Default)]
pub(crate) struct Decls<'a> {
    pub secrets: DeclTable<'a, ast::SecretDecl, (), ()>,
    pub types: DeclTable<'a, ast::TypeDecl, (), ()>,
    pub apis: DeclTable<'a, ast::ApiDecl, (), plan::Api>,
    /// An endpoint is checked whole before any flow; its signature is given with its checked
    /// form, when it has no errors.
    pub endpoints: DeclTable<'a, ast::EndpointDecl, EndpointSig, plan::Endpoint>,
    pub maps: DeclTable<'a, ast::MapDecl, Signature, plan::Map>,
    pub functions: DeclTable<'a, ast::FnDecl, Signature, plan::Function>,
    pub tables: DeclTable<'a, ast::TableDecl, TableSig, plan::Table>,
    pub flows: DeclTable<'a, ast::FlowDecl, (), plan::Flow>,
    /// Tests are named by a title, not an identifier: they are not in the namespace.
    pub tests: DeclTable<'a, ast::TestDecl, (), plan::Test>,
}

/// Where a declared name points: its kind, its index in its kind's table, and its name's span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeclRef {
    pub kind: NameKind,
    pub index: usize,
    pub span: Span,
}

/// The file's one namespace: every declared name (the first declaration of it), and which
/// declarations something uses (for W0001).
#[derive(Default)]
pub(crate) struct Namespace {
    names: HashMap<String, DeclRef>,
    used: HashSet<(NameKind, usize)>,
    /// Every mark of a use, in order, when `logging` (an editor's check keeps them: `recheck.rs`).
    pub log: Vec<(NameKind, usize)>,
    pub logging: bool,
}

impl Namespace {
    pub(crate) fn get(&self, name: &str) -> Option<DeclRef> {
        self.names.get(name).copied()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    pub(crate) fn insert(&mut self, name: &str, r: DeclRef) {
        self.names.insert(name.to_string(), r);
    }

    /// The declared names of one kind, in no particular order.
    pub(crate) fn of_kind(&self, kind: NameKind) -> impl Iterator<Item = &str> {
        self.names.iter().filter(move |(_, r)| r.kind == kind).map(|(n, _)| n.as_str())
    }

    pub(crate) fn mark_used(&mut self, kind: NameKind, index: usize) {
        if self.logging {
            self.log.push((kind, index));
        }
        self.used.insert((kind, index));
    }

    pub(crate) fn is_used(&self, kind: NameKind, index: usize) -> bool {
        self.used.contains(&(kind, index))
    }
}

/// Where each field of a declared object type (by the type's index) is declared.
#[derive(Default)]
pub(crate) struct Fields {
    /// By the type's index, each field's name, its whole declaration (for "expected because of
    /// this") and its name's span (for editors' go to definition): the first of each name.
    /// Looked up by a borrowed name, without building a key.
    sites: Vec<HashMap<String, FieldSite>>,
    /// `sensitive` fields: (the type's index, the field's name), in declaration order.
    pub sensitive: Vec<(usize, String)>,
    /// The object type of the `type` declaration being resolved: only its own fields may be
    /// `sensitive` (E0227 elsewhere).
    pub top_object: Option<Span>,
    /// Object types written inline (`reactions: { "+1": Int }`), by the address of their
    /// fields: each field's name and its name's span, for editors. The fields are kept here so
    /// that no address is freed and reused while the checker runs.
    inline: HashMap<usize, InlineFields>,
}

/// The fields of an object type written inline, kept alive, and each field's name with its
/// name's span.
type InlineFields = (std::rc::Rc<[crate::ty::FieldTy]>, Vec<(String, Span)>);

/// Where one field of a declared object type is declared.
#[derive(Clone, Copy)]
struct FieldSite {
    decl: Span,
    name_span: Span,
}

impl Fields {
    /// Records field `name` of type `ty`, unless the type already has a field of that name;
    /// whether it was new.
    pub(crate) fn declare(&mut self, ty: usize, name: &str, decl: Span, name_span: Span) -> bool {
        if self.sites.len() <= ty {
            self.sites.resize_with(ty + 1, HashMap::new);
        }
        let fields = &mut self.sites[ty];
        if fields.contains_key(name) {
            return false;
        }
        fields.insert(name.to_string(), FieldSite { decl, name_span });
        true
    }

    fn site(&self, ty: usize, name: &str) -> Option<FieldSite> {
        self.sites.get(ty)?.get(name).copied()
    }

    /// The whole declaration of field `name` of type `ty`.
    pub(crate) fn decl(&self, ty: usize, name: &str) -> Option<Span> {
        self.site(ty, name).map(|f| f.decl)
    }

    /// The span of the name of field `name` of type `ty`.
    pub(crate) fn name_span(&self, ty: usize, name: &str) -> Option<Span> {
        self.site(ty, name).map(|f| f.name_span)
    }

    /// Records the fields of an object type written inline: each name with its name's span.
    pub(crate) fn declare_inline(&mut self, fields: &std::rc::Rc<[crate::ty::FieldTy]>, names: Vec<(String, Span)>) {
        self.inline.insert(std::rc::Rc::as_ptr(fields) as *const () as usize, (fields.clone(), names));
    }

    /// The span of the name of field `name` of the object type written inline whose fields
    /// these are (the same fields, not equal ones).
    pub(crate) fn inline_name_span(&self, fields: &std::rc::Rc<[crate::ty::FieldTy]>, name: &str) -> Option<Span> {
        let (_, names) = self.inline.get(&(std::rc::Rc::as_ptr(fields) as *const () as usize))?;
        names.iter().find(|(n, _)| n == name).map(|(_, s)| *s)
    }
}

/// Which map or function calls which, for the cycle check.
#[derive(Default)]
pub(crate) struct CallGraph {
    /// The map or function whose body is being checked.
    pub caller: Option<(NameKind, usize)>,
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    kind: NameKind,
    from: usize,
    to: usize,
    pub span: Span,
}

impl CallGraph {
    /// Records a call of the `kind` declaration `to`, made by the body being checked when it is
    /// of the same kind (a cycle runs through one kind: functions cannot call maps back).
    pub(crate) fn record(&mut self, kind: NameKind, to: usize, span: Span) {
        if let Some((caller_kind, from)) = self.caller {
            if caller_kind == kind {
                self.calls.push(Call { kind, from, to, span });
            }
        }
    }

    /// For each of the `n` declarations of `kind`, the calls its body makes: callee and span.
    pub(crate) fn edges(&self, kind: NameKind, n: usize) -> Vec<Vec<(usize, Span)>> {
        let mut edges = vec![Vec::new(); n];
        for c in self.calls.iter().filter(|c| c.kind == kind) {
            if let Some(from) = edges.get_mut(c.from) {
                from.push((c.to, c.span));
            }
        }
        edges
    }
}

/// Names that cannot be declared: the built-in types.
pub(crate) const BUILTIN_TYPES: [&str; 8] = ["String", "Int", "Float", "Decimal", "Bool", "Date", "DateTime", "Json"];

pub(crate) struct Checker<'a> {
    pub file: &'a ast::File,
    pub decls: Decls<'a>,
    pub names: Namespace,
    /// The declared types, resolved (the model's types).
    pub types: Types,
    pub fields: Fields,
    /// Which declared types are derived (`pick`, `omit`, `partial`) and how far each is.
    pub derived: crate::derive::Derivations,
    pub calls: CallGraph,
    /// How many `for` loops enclose the statement being checked.
    pub loop_depth: usize,
    /// Paths that read an optional field (`name?: T`): their value may be absent, which the
    /// null diagnostics say instead of "null".
    pub absent_reads: HashSet<Span>,
    pub info: Info,
    pub diagnostics: Vec<Diagnostic>,
    /// Unions written in declared types, checked once those are all known (`unions.rs`).
    pub pending_unions: Option<Vec<crate::unions::Pending>>,
    /// The name being checked is the base of an index (`x[k]`), the one place a table fits.
    pub index_base: bool,
    /// The secret the first flow's `store_key` named, where (`state.rs`): every other flow's
    /// must name the same, the store being the file's.
    pub store_key: Option<(String, Span)>,
    /// Infer the sides of a test's `expect a == b` again, alone, even where the comparison's own
    /// are the same (`test_block.rs`): the reference that reuse is tested against.
    #[cfg(test)]
    pub infer_sides_again: bool,
    /// Build the record for editors ([`Info`]); `flowc check` reads only the diagnostics and the
    /// plan.
    pub record: bool,
    /// Record each body's window for the next check (an editor's check: `recheck.rs`).
    pub keep: bool,
    pub windows: Vec<crate::recheck::Window>,
    /// The last check, whose windows are taken for the bodies an edit did not change.
    pub replay: Option<crate::recheck::Replay<'a>>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(file: &'a ast::File) -> Checker<'a> {
        Checker {
            file,
            decls: Decls::default(),
            names: Namespace::default(),
            types: Types::default(),
            fields: Fields::default(),
            derived: crate::derive::Derivations::default(),
            calls: CallGraph::default(),
            loop_depth: 0,
            absent_reads: HashSet::new(),
            info: Info::default(),
            diagnostics: Vec::new(),
            pending_unions: None,
            index_base: false,
            store_key: None,
            #[cfg(test)]
            infer_sides_again: false,
            record: true,
            keep: false,
            windows: Vec::new(),
            replay: None,
        }
    }

    /// The passes, in order: names first, then what other declarations rely on (types, apis,
    /// endpoints, the signatures of tables, maps and functions), then the bodies.
    pub(crate) fn run(&mut self) {
        self.collect();
        self.check_types();
        self.record_field_decls();
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

    pub(crate) fn into_model(self) -> Model {
        let d = self.decls;
        Model(plan::Plan {
            secrets: d.secrets.decls().map(|s| s.name.name.clone()).collect(),
            apis: d.apis.into_checked(),
            types: self.types.plan_types(),
            endpoints: d.endpoints.into_checked(),
            maps: d.maps.into_checked(),
            flows: d.flows.into_checked(),
            tables: d.tables.into_checked(),
            functions: d.functions.into_checked(),
            tests: d.tests.into_checked(),
            sensitive: self
                .fields
                .sensitive
                .iter()
                .map(|(ty, field)| plan::SensitiveField { ty: *ty, field: plan::Key::new(field) })
                .collect(),
        })
    }

    pub(crate) fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub(crate) fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Drops the locals bound since `mark`, reporting the unused `let`s among them.
    pub(crate) fn end_scope(&mut self, scope: &mut Scope, mark: usize) {
        scope.truncate(mark, &mut self.diagnostics);
    }

    /// The declared object type a type names, through aliases and `?`.
    pub(crate) fn named_index(&self, ty: &Ty) -> Option<usize> {
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
    pub(crate) fn may_be_null(&self, e: &ast::Expr) -> &'static str {
        if self.absent_reads.contains(&e.span) {
            "may be absent"
        } else {
            "may be null"
        }
    }

    /// Records a use of field `name` of declared type `type_index`, for editors.
    pub(crate) fn note_field(&mut self, type_index: Option<usize>, name: &str, at: Span) {
        if let Some(decl) = type_index.and_then(|i| self.fields.name_span(i, name)) {
            self.info.field_uses.push((at, decl));
        }
        if let Some(shown) = type_index.and_then(|i| self.derived.shown(i, name)) {
            self.info.derived_field_uses.push((at, shown.to_string()));
        }
    }

    /// Records the declaration of a global name, for editors.
    pub(crate) fn note_global(&mut self, kind: NameKind, name: &ast::Ident) {
        self.info.names.push(NameDecl { span: name.span, name: name.name.clone(), kind, ty: None });
    }

    /// Records that the name at `at` resolved to the declaration `r`, for editors.
    pub(crate) fn note_use(&mut self, r: DeclRef, at: Span) {
        self.info.name_uses.push((at, r.span));
    }

    /// Records that the name at `at` resolved to the local or parameter declared at `decl`.
    pub(crate) fn note_local_use(&mut self, decl: Span, at: Span) {
        self.info.name_uses.push((at, decl));
    }

    /// Declares a local in `scope` and records it for editors. `let`s are reported when unused;
    /// parameters and loop variables are not.
    pub(crate) fn bind(&mut self, scope: &mut Scope, name: &str, span: Span, ty: Ty, kind: NameKind) {
        if self.record {
            let shown = (!matches!(ty, Ty::Error)).then(|| self.types.display(&ty));
            self.info.names.push(NameDecl { span, name: name.to_string(), kind, ty: shown });
        }
        scope.push(name, ty, span, kind == NameKind::Let);
    }
}
