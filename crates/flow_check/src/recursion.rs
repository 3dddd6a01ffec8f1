//! Recursion over recursive data: a map or function may call itself, directly or through
//! others, when one of the calls in the cycle takes a value of a recursive type (`type Node {
//! children: [Node] }`), so that a tree is read to whatever depth it has. A cycle over data that
//! is not recursive stays E0214 (`report_cycles`). At run time the depth is bounded
//! (`flow_eval::eval::MAX_CALL_DEPTH`, R0029), so no recursion of calls overflows the stack (the
//! depth of the values a recursion builds is not bounded yet: docs/language.md).

use crate::checker::Signature;
use crate::ty::Ty;
use crate::Checker;

impl Checker<'_> {
    /// For each declared type, whether it reaches itself through its fields, items, values,
    /// members or aliases.
    pub(crate) fn recursive_types(&self) -> Vec<bool> {
        let defs = &self.types.defs;
        (0..defs.len()).map(|i| self.reaches(vec![&defs[i]], |j| j == i)).collect()
    }

    /// For each signature, whether one of its parameters holds a recursive type somewhere.
    pub(crate) fn takes_recursive_data(&self, sigs: &[Option<&Signature>]) -> Vec<bool> {
        let recursive = self.recursive_types();
        sigs.iter()
            .map(|sig| {
                sig.is_some_and(|sig| {
                    self.reaches(sig.params.iter().map(|(_, t)| t).collect(), |j| {
                        recursive.get(j).copied().unwrap_or(false)
                    })
                })
            })
            .collect()
    }

    /// Whether the declared types named by `start`, or by the types they name in turn, include
    /// one that `hit` picks (each declared type looked into once).
    fn reaches(&self, start: Vec<&Ty>, hit: impl Fn(usize) -> bool) -> bool {
        let defs = &self.types.defs;
        let mut seen = vec![false; defs.len()];
        let mut todo = start;
        while let Some(ty) = todo.pop() {
            for j in named_in(ty) {
                if hit(j) {
                    return true;
                }
                if let (Some(false), Some(def)) = (seen.get(j).copied(), defs.get(j)) {
                    seen[j] = true;
                    todo.push(def);
                }
            }
        }
        false
    }
}

/// The declared types `ty` names, at any depth short of another declared type.
fn named_in(ty: &Ty) -> Vec<usize> {
    let mut out = Vec::new();
    let mut todo = vec![ty];
    while let Some(ty) = todo.pop() {
        match ty {
            Ty::Named(j) => out.push(*j),
            Ty::Array(t) | Ty::Nullable(t) | Ty::Dict(t) | Ty::Fallible(t) | Ty::Formed(t, _) => todo.push(t),
            Ty::Object(fields) => todo.extend(fields.iter().map(|f| &f.ty)),
            Ty::OneOf(u) => todo.extend(u.members.iter()),
            _ => {}
        }
    }
    out
}
