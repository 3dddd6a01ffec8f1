//! The file's namespace: every declaration collected by kind (a name declared twice, or a
//! built-in type declared again, is E0101), global names resolved where they are used (unknown
//! and wrong-kind names reported, uses recorded for editors), and the unused-declaration warnings
//! once everything is checked.
//!
//! - `collect`: declarations into their per-kind lists and the shared namespace.
//! - `resolve_global`: a name that must be of one kind.
//! - `unused`: W0001 for every declaration nothing uses.

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_syntax::ast::{self, Decl};

use crate::meant::{Candidate, Sort};
use crate::{Checker, DeclInfo, DeclRef, NameKind, BUILTIN_TYPES};

impl Checker<'_> {
    pub(crate) fn collect(&mut self) {
        let file = self.file;
        for decl in &file.decls {
            self.info.decls.push(DeclInfo {
                kind: decl_kind(decl),
                name: decl.name().name.clone(),
                name_span: decl.name().span,
                span: decl.span(),
            });
            let (kind, index) = match decl {
                Decl::Secret(d) => (NameKind::Secret, self.decls.secrets.push(d)),
                Decl::Api(d) => (NameKind::Api, self.decls.apis.push(d)),
                Decl::Type(d) => (NameKind::Type, self.decls.types.push(d)),
                Decl::Endpoint(d) => (NameKind::Endpoint, self.decls.endpoints.push(d)),
                Decl::Map(d) => (NameKind::Map, self.decls.maps.push(d)),
                Decl::Flow(d) => (NameKind::Flow, self.decls.flows.push(d)),
                Decl::Table(d) => (NameKind::Table, self.decls.tables.push(d)),
                Decl::Function(d) => (NameKind::Function, self.decls.functions.push(d)),
                Decl::Test(d) => {
                    // Tests are named by a title, not an identifier: not in the namespace.
                    self.decls.tests.push(d);
                    continue;
                }
            };
            let name = decl.name();
            if kind == NameKind::Type && BUILTIN_TYPES.contains(&name.name.as_str()) {
                self.report(
                    Diagnostic::new(codes::DUPLICATE, format!("`{}` is a built-in type", name.name))
                        .primary(name.span, "cannot be declared again")
                        .help("choose another name for this type"),
                );
                continue;
            }
            if let Some(prev) = self.names.get(&name.name) {
                let d = Diagnostic::new(codes::DUPLICATE, format!("`{}` is declared twice", name.name))
                    .primary(name.span, format!("{} `{}` declared again here", kind.word(), name.name))
                    .secondary(prev.span, format!("first declared here as a {}", prev.kind.word()))
                    .help("rename one of them: apis, types, endpoints, maps, secrets and flows share one namespace");
                self.report(d);
                continue;
            }
            self.names.insert(&name.name, DeclRef { kind, index, span: name.span });
            self.note_global(kind, name);
        }
    }

    /// Resolves a global name that must be of `kind`, reporting unknown and wrong-kind names.
    pub(crate) fn resolve_global(
        &mut self,
        ident: &ast::Ident,
        kind: NameKind,
        unknown: flow_diagnostics::Code,
    ) -> Option<usize> {
        match self.names.get(&ident.name) {
            Some(r) if r.kind == kind => {
                self.names.mark_used(kind, r.index);
                self.note_use(r, ident.span);
                Some(r.index)
            }
            Some(r) => {
                self.note_use(r, ident.span);
                self.report(
                    Diagnostic::new(
                        codes::WRONG_KIND,
                        format!("`{}` is a {}, not a {}", ident.name, r.kind.word(), kind.word()),
                    )
                    .primary(ident.span, format!("expected a {} here", kind.word()))
                    .secondary(r.span, format!("`{}` is declared here", ident.name))
                    .help(format!("name a declared {} here", kind.word())),
                );
                None
            }
            None if self.broken_name(&ident.name) => None,
            None => {
                let sort = Sort::of(kind);
                let mut candidates = self.global_candidates(|s| s == sort);
                if kind == NameKind::Type {
                    candidates.extend(BUILTIN_TYPES.iter().map(|t| Candidate::new(t, Sort::BuiltinType, true)));
                }
                let none_of_kind = !candidates.iter().any(|c| c.sort == sort);
                let help = self.meant_help(&ident.name, ident.span, &candidates, None, || {
                    if none_of_kind {
                        format!("declare it: `{} {} …`", kind.word(), ident.name)
                    } else {
                        format!("no declared {} has a name close to `{}`", kind.word(), ident.name)
                    }
                });
                self.report(
                    Diagnostic::new(unknown, format!("unknown {} `{}`", kind.word(), ident.name))
                        .primary(ident.span, format!("no {} of this name", kind.word()))
                        .help(help),
                );
                None
            }
        }
    }

    /// A declaration of this name is in the file but did not parse: uses of it are not unknown.
    pub(crate) fn broken_name(&self, name: &str) -> bool {
        self.file.broken.iter().any(|b| b.name.as_deref() == Some(name))
    }

    /// A declaration that did not parse mentions this name: it may be what uses it.
    fn used_by_broken(&self, name: &str) -> bool {
        self.file.broken.iter().any(|b| b.uses.binary_search_by(|u| u.as_str().cmp(name)).is_ok())
    }

    pub(crate) fn unused(&mut self) {
        let mut found = Vec::new();
        for (kind, decls) in [
            (NameKind::Secret, self.decls.secrets.decls().map(|d| &d.name).collect::<Vec<_>>()),
            (NameKind::Api, self.decls.apis.decls().map(|d| &d.name).collect()),
            (NameKind::Type, self.decls.types.decls().map(|d| &d.name).collect()),
            (NameKind::Endpoint, self.decls.endpoints.decls().map(|d| &d.name).collect()),
            (NameKind::Map, self.decls.maps.decls().map(|d| &d.name).collect()),
            (NameKind::Table, self.decls.tables.decls().map(|d| &d.name).collect()),
            (NameKind::Function, self.decls.functions.decls().map(|d| &d.name).collect()),
        ] {
            for (i, name) in decls.into_iter().enumerate() {
                let is_first = self.names.get(&name.name).is_some_and(|r| r.kind == kind && r.index == i);
                if is_first
                    && !self.names.is_used(kind, i)
                    && !name.name.starts_with('_')
                    && !self.used_by_broken(&name.name)
                {
                    found.push(
                        Diagnostic::new(codes::UNUSED, format!("{} `{}` is never used", kind.word(), name.name))
                            .primary(name.span, "declared here")
                            .help("remove it, or use it; a name starting with `_` is exempt"),
                    );
                }
            }
        }
        self.diagnostics.append(&mut found);
    }
}

/// What a declaration declares; `None` for a test, which is named by a title, not a name.
fn decl_kind(decl: &Decl) -> Option<NameKind> {
    Some(match decl {
        Decl::Secret(_) => NameKind::Secret,
        Decl::Api(_) => NameKind::Api,
        Decl::Type(_) => NameKind::Type,
        Decl::Endpoint(_) => NameKind::Endpoint,
        Decl::Map(_) => NameKind::Map,
        Decl::Flow(_) => NameKind::Flow,
        Decl::Table(_) => NameKind::Table,
        Decl::Function(_) => NameKind::Function,
        Decl::Test(_) => return None,
    })
}

/// Whether a name was declared again (E0101) or a value set again (E0211).
#[derive(Clone, Copy)]
pub(crate) enum Again {
    Declared,
    Set,
}

/// "parameter `x` is declared twice" / "field `x` is set twice": the one wording of a name or
/// value given a second time, at `again`, with the first where it is known.
pub(crate) fn twice(again_kind: Again, what: &str, again: Span, first: Option<Span>, help: &str) -> Diagnostic {
    let (code, verb) = match again_kind {
        Again::Declared => (codes::DUPLICATE, "declared"),
        Again::Set => (codes::FIELD_TWICE, "set"),
    };
    twice_as(code, what, verb, again, first, help)
}

/// [`twice`] under another code and verb: "the key \"k\" is given twice", "flow `f`'s state is
/// declared twice" (dictionary keys, arguments, table keys, a flow's state).
pub(crate) fn twice_as(
    code: codes::Code,
    what: &str,
    verb: &str,
    again: Span,
    first: Option<Span>,
    help: &str,
) -> Diagnostic {
    let mut d = Diagnostic::new(code, format!("{what} is {verb} twice")).primary(again, format!("{verb} again here"));
    if let Some(first) = first {
        d = d.secondary(first, format!("first {verb} here"));
    }
    d.help(help)
}
