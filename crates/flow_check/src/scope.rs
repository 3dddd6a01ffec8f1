//! Local names: map parameters, `let`s, loop variables, lambda parameters, bound call results.

use flow_diagnostics::{codes, Diagnostic, Span};

use crate::ty::Ty;

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
}

impl Scope {
    pub fn push(&mut self, name: &str, ty: Ty, span: Span, warn_unused: bool) {
        self.locals.push(Local { name: name.to_string(), ty, span, used: false, warn_unused });
    }

    /// Looks a name up, innermost first, and marks it used: its type and where it is declared.
    pub fn lookup(&mut self, name: &str) -> Option<(Ty, Span)> {
        let local = self.locals.iter_mut().rev().find(|l| l.name == name)?;
        local.used = true;
        Some((local.ty.clone(), local.span))
    }

    /// Whether the innermost local of this name has been read.
    pub fn was_used(&self, name: &str) -> bool {
        self.locals.iter().rev().find(|l| l.name == name).is_some_and(|l| l.used)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.locals.iter().any(|l| l.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.locals.iter().map(|l| l.name.as_str())
    }

    pub fn len(&self) -> usize {
        self.locals.len()
    }

    /// Drops the locals pushed since `mark`, reporting unused `let`s.
    pub fn truncate(&mut self, mark: usize, diagnostics: &mut Vec<Diagnostic>) {
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
