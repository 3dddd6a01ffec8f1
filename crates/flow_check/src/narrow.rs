//! Null narrowing: where a condition proves a path is not null, the path's type there is not
//! nullable, so no `??` is needed.
//!
//! A path is a local (a parameter, `let`, loop or lambda variable) and the fields read from it
//! (`r`, `r.email`, `r.customer?.email`, `o.metadata.order_id` on a dictionary). Locals and
//! records never change once bound, so what a condition proved about a path holds wherever the
//! condition does: the `then` branch of `if p != null`, the `else` branch of `if p == null`, the
//! right side of `p != null && …` (and of `p == null || …`), the body of
//! `for x in … where p != null`, and the arms of `match p { … }` that only a non-null value
//! reaches. `!`, `&&` and `||` combine what their operands prove. A path is known by the
//! declaration of its local, so a lambda parameter or `let` of the same name inside is another
//! path. `a?.b != null` proves `a` is not null too.

use flow_diagnostics::Span;
use flow_syntax::ast::{self, BinaryOp, ExprKind, UnaryOp};

use crate::scope::Scope;
use crate::ty::Ty;
use crate::Checker;

/// A path known not to be null: its local (where it is declared) and the fields after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    pub local: Span,
    pub fields: Vec<String>,
    /// Empty: the path is not null. Otherwise the path holds one of these strings (`u.object ==
    /// "card"`, an arm of `match u.object`), which narrows a union tagged there (`unions.rs`).
    pub is: Vec<String>,
}

/// The path an expression reads, if it is one, with the shorter paths it proves non-null
/// when it is not null (the bases of its `?.` steps).
fn path_of(e: &ast::Expr, scope: &Scope, out: &mut Vec<Path>) -> Option<Path> {
    match &e.kind {
        ExprKind::Name(id) => Some(Path { local: scope.decl_of(&id.name)?, fields: Vec::new(), is: Vec::new() }),
        ExprKind::Field { base, name, optional } => {
            let mut p = path_of(base, scope, out)?;
            if *optional {
                out.push(p.clone());
            }
            p.fields.push(name.name.clone());
            Some(p)
        }
        _ => None,
    }
}

/// What a condition proves: the paths not null when it is true, and when it is false.
pub(crate) fn facts(cond: &ast::Expr, scope: &Scope) -> (Vec<Path>, Vec<Path>) {
    match &cond.kind {
        ExprKind::Binary { op: op @ (BinaryOp::Ne | BinaryOp::Eq), lhs, rhs } => {
            // `u.object == "card"`: the path holds that string.
            let string_side = match (&lhs.kind, &rhs.kind) {
                (ExprKind::Str(s), _) => Some((s, rhs)),
                (_, ExprKind::Str(s)) => Some((s, lhs)),
                _ => None,
            };
            if let Some((s, e)) = string_side {
                let holds: Vec<Path> =
                    path_of(e, scope, &mut Vec::new()).map(|p| Path { is: vec![s.clone()], ..p }).into_iter().collect();
                return if *op == BinaryOp::Eq { (holds, Vec::new()) } else { (Vec::new(), holds) };
            }
            let other = match (&lhs.kind, &rhs.kind) {
                (_, ExprKind::Null) => lhs,
                (ExprKind::Null, _) => rhs,
                _ => return (Vec::new(), Vec::new()),
            };
            let mut proved = Vec::new();
            if let Some(p) = path_of(other, scope, &mut proved) {
                proved.push(p);
            } else {
                proved.clear();
            }
            if *op == BinaryOp::Ne {
                (proved, Vec::new())
            } else {
                (Vec::new(), proved)
            }
        }
        ExprKind::Binary { op: BinaryOp::And, lhs, rhs } => {
            let (mut t, _) = facts(lhs, scope);
            t.extend(facts(rhs, scope).0);
            (t, Vec::new())
        }
        ExprKind::Binary { op: BinaryOp::Or, lhs, rhs } => {
            let (_, mut f) = facts(lhs, scope);
            f.extend(facts(rhs, scope).1);
            (Vec::new(), f)
        }
        ExprKind::Unary { op: UnaryOp::Not, expr } => {
            let (t, f) = facts(expr, scope);
            (f, t)
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// The path `e` reads, for a `match` on it.
pub(crate) fn scrutinee_path(e: &ast::Expr, scope: &Scope) -> Vec<Path> {
    let mut out = Vec::new();
    match path_of(e, scope, &mut out) {
        Some(p) => {
            out.push(p);
            out
        }
        None => Vec::new(),
    }
}

impl Checker<'_> {
    /// Runs `f` with `paths` known not to be null.
    pub(crate) fn with_facts<T>(
        &mut self,
        paths: Vec<Path>,
        scope: &mut Scope,
        f: impl FnOnce(&mut Self, &mut Scope) -> T,
    ) -> T {
        let mark = scope.narrowed.len();
        scope.narrowed.extend(paths);
        let out = f(self, scope);
        scope.narrowed.truncate(mark);
        out
    }

    /// The type of the path `e` (already typed `ty`): without its nullability where a
    /// condition proved it is not null.
    pub(crate) fn narrowed(&self, e: &ast::Expr, ty: Ty, scope: &Scope) -> Ty {
        if scope.narrowed.is_empty() {
            return ty;
        }
        if let Some(member) = self.narrowed_member(e, &ty, scope) {
            return member;
        }
        if !self.types.is_nullable(&ty) {
            return ty;
        }
        let mut ignored = Vec::new();
        match path_of(e, scope, &mut ignored) {
            Some(p) if scope.narrowed.contains(&p) => self.types.non_null(&ty),
            _ => ty,
        }
    }
}

/// The path `e` reads, if it is one.
pub(crate) fn path_for(e: &ast::Expr, scope: &Scope) -> Option<Path> {
    path_of(e, scope, &mut Vec::new())
}

impl Checker<'_> {
    /// A union (or a nullable one) whose tag a condition proved holds some of its values: the
    /// members with those values (and not null, since its tag is not).
    fn narrowed_member(&self, e: &ast::Expr, ty: &Ty, scope: &Scope) -> Option<Ty> {
        let Ty::OneOf(u) = self.types.resolve(&self.types.non_null(ty)).clone() else { return None };
        let tag = u.tag()?;
        let p = path_for(e, scope)?;
        let fact = scope.narrowed.iter().rev().find(|q| {
            !q.is.is_empty()
                && q.local == p.local
                && q.fields.len() == p.fields.len() + 1
                && q.fields.starts_with(&p.fields)
                && q.fields.last().is_some_and(|l| l == tag)
        })?;
        crate::unions::of_members(&u, self.types.members_tagged(&u, &fact.is))
    }
}
