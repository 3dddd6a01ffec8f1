//! Local names: map parameters, `let`s, loop variables, lambda parameters, bound call results;
//! and the value of a `let`, which maps, flows and tests share.

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast;

use crate::expr::Expect;
use crate::ty::Ty;
use crate::Checker;

#[derive(Debug)]
pub(crate) struct Local {
    pub name: String,
    pub ty: Ty,
    pub span: Span,
    pub used: bool,
    /// `let`s are reported when unused; parameters and loop variables are not.
    pub warn_unused: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Scope {
    locals: Vec<Local>,
    /// Paths known not to be null here (`narrow.rs`): a local, by where it is declared, and
    /// the fields read from it.
    pub(crate) narrowed: Vec<crate::narrow::Path>,
}

impl Scope {
    pub(crate) fn push(&mut self, name: &str, ty: Ty, span: Span, warn_unused: bool) {
        self.locals.push(Local { name: name.to_string(), ty, span, used: false, warn_unused });
    }

    /// Looks a name up, innermost first, and marks it used: its type and where it is declared.
    pub(crate) fn lookup(&mut self, name: &str) -> Option<(Ty, Span)> {
        let local = self.locals.iter_mut().rev().find(|l| l.name == name)?;
        local.used = true;
        Some((local.ty.clone(), local.span))
    }

    /// Where the innermost local of this name is declared, without marking it used.
    pub(crate) fn decl_of(&self, name: &str) -> Option<Span> {
        self.locals.iter().rev().find(|l| l.name == name).map(|l| l.span)
    }

    /// Whether the innermost local of this name has been read.
    pub(crate) fn was_used(&self, name: &str) -> bool {
        self.locals.iter().rev().find(|l| l.name == name).is_some_and(|l| l.used)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.locals.iter().any(|l| l.name == name)
    }

    /// The locals in scope with their types, innermost first.
    pub(crate) fn visible(&self) -> impl Iterator<Item = (&str, &Ty)> {
        self.locals.iter().rev().map(|l| (l.name.as_str(), &l.ty))
    }

    pub(crate) fn len(&self) -> usize {
        self.locals.len()
    }

    /// Drops the locals pushed since `mark`, reporting unused `let`s.
    pub(crate) fn truncate(&mut self, mark: usize, diagnostics: &mut Vec<Diagnostic>) {
        for l in self.locals.drain(mark..) {
            if l.warn_unused && !l.used && !l.name.starts_with('_') {
                diagnostics.push(
                    Diagnostic::new(codes::UNUSED_LET, format!("`{}` is never used", l.name))
                        .primary(l.span, "assigned here, never read")
                        .help(
                            flow_diagnostics::Help::from(format!(
                                "remove the `let`, or name it `_{}` to keep it on purpose",
                                l.name
                            ))
                            .with_fix(flow_diagnostics::Fix::replace(l.span, format!("_{}", l.name))),
                        ),
                );
            }
        }
    }
}

impl Checker<'_> {
    /// The value of a `let` (of a map, a flow or a test): checked against its written type, if any.
    pub(crate) fn let_value(&mut self, l: &ast::Let, scope: &mut Scope) -> (Ty, plan::Expr) {
        match &l.ty {
            Some(te) => {
                let ty = self.type_expr(te);
                let expect = Expect { ty: ty.clone(), origin: Some(te.span), what: format!("`{}`", l.name.name) };
                let pe = self.check_against(&l.value, &expect, scope);
                (ty, pe)
            }
            None => self.infer(&l.value, scope),
        }
    }

    /// A `let` that reuses the name of a local in scope.
    pub(crate) fn shadowing(&mut self, name: &ast::Ident) {
        self.report(
            Diagnostic::new(codes::DUPLICATE, format!("`{}` is already defined here", name.name))
                .primary(name.span, "defined again")
                .help("choose another name; a map's parameters and lets must be distinct"),
        );
    }
}
