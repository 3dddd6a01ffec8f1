//! Derived types for `flowc check --spec`: `type S = pick(User, id)`, `omit(User, …)`,
//! `partial(User)`, nested, written as their resulting fields, so `drift.rs` compares a derived
//! type field by field like one written with its fields. The fields are the base's (in the
//! base's order, as written there, spans included, so drift is reported where the field's type
//! is written); `partial` makes each optional (`name?: T`), as the checker does. A derivation
//! the checker refuses (unknown base or field, not an object, a cycle) is left as written.

use std::collections::{HashMap, HashSet};

use flow_syntax::ast::{self, ExprKind, FieldDecl, TypeExpr, TypeExprKind};

const DERIVATIONS: [&str; 3] = ["pick", "omit", "partial"];

fn is_derivation(e: &ast::Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { callee, .. } if DERIVATIONS.contains(&callee.name.as_str()))
}

/// The innermost base a derivation names (`User` in `partial(pick(User, id))`).
pub(crate) fn root_base(mut call: &ast::Expr) -> Option<&ast::Ident> {
    loop {
        let ExprKind::Call { args, .. } = &call.kind else { return None };
        match args.first().map(|a| &a.value) {
            Some(inner) if is_derivation(inner) => call = inner,
            Some(ast::Expr { kind: ExprKind::Name(id), .. }) => return Some(id),
            _ => return None,
        }
    }
}

/// The derivation a type declaration's right side is, if it is one.
pub(crate) fn derivation_of(t: &TypeExpr) -> Option<&ast::Expr> {
    match &t.kind {
        TypeExprKind::Formed(call) if is_derivation(call) => Some(call),
        _ => None,
    }
}

/// `file` with each derived type declared by its fields; `None` when it derives none.
pub(crate) fn resolved(file: &ast::File) -> Option<ast::File> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, d) in file.decls.iter().enumerate() {
        if let ast::Decl::Type(t) = d {
            index.entry(t.name.name.as_str()).or_insert(i);
        }
    }
    let decl = |i: usize| match &file.decls[i] {
        ast::Decl::Type(t) => Some(t),
        _ => None,
    };
    let derived: Vec<usize> =
        index.values().copied().filter(|&i| decl(i).is_some_and(|t| derivation_of(&t.ty).is_some())).collect();
    if derived.is_empty() {
        return None;
    }
    // The declaration a name leads to through aliases written with `=` (bounded: a cycle ends).
    let leads_to = |name: &str| -> Option<usize> {
        let mut i = *index.get(name)?;
        for _ in 0..=file.decls.len() {
            match &decl(i)?.ty.kind {
                TypeExprKind::Name(n) => i = *index.get(n.name.as_str())?,
                _ => return Some(i),
            }
        }
        None
    };
    let mut done: HashMap<usize, Option<Vec<FieldDecl>>> = HashMap::new();
    // Each derived type after the one its base leads to, by an explicit worklist (a chain of
    // derived types declared before their bases is as long as it likes).
    let mut sorted = derived;
    sorted.sort_unstable();
    for start in sorted {
        let mut work = vec![start];
        let mut on: HashSet<usize> = HashSet::from([start]);
        while let Some(&t) = work.last() {
            if done.contains_key(&t) {
                work.pop();
                continue;
            }
            let call = decl(t).and_then(|d| derivation_of(&d.ty)).expect("a derived type");
            let base = root_base(call).and_then(|id| leads_to(&id.name));
            match base {
                Some(b)
                    if !done.contains_key(&b)
                        && !on.contains(&b)
                        && decl(b).is_some_and(|d| derivation_of(&d.ty).is_some()) =>
                {
                    on.insert(b);
                    work.push(b);
                }
                _ => {
                    work.pop();
                    let fields = derive(call, &|name| {
                        let i = leads_to(name)?;
                        match &decl(i)?.ty.kind {
                            TypeExprKind::Object(fs) => Some(fs.clone()),
                            _ => done.get(&i).cloned().flatten(),
                        }
                    });
                    done.insert(t, fields);
                }
            }
        }
    }
    let mut out = file.clone();
    for (i, fields) in done {
        let (Some(fields), ast::Decl::Type(t)) = (fields, &mut out.decls[i]) else { continue };
        t.ty = TypeExpr { kind: TypeExprKind::Object(fields), nullable: t.ty.nullable, span: t.ty.span };
    }
    Some(out)
}

/// The fields derivation `call` gives, the fields of a type named as a base given by `fields_of`;
/// `None` for one the checker refuses.
fn derive(call: &ast::Expr, fields_of: &dyn Fn(&str) -> Option<Vec<FieldDecl>>) -> Option<Vec<FieldDecl>> {
    let ExprKind::Call { callee, args } = &call.kind else { return None };
    let (base, names) = args.split_first()?;
    if args.iter().any(|a| a.name.is_some()) {
        return None;
    }
    let fields = match &base.value.kind {
        ExprKind::Name(id) => fields_of(&id.name)?,
        _ if is_derivation(&base.value) => derive(&base.value, fields_of)?,
        _ => return None,
    };
    let mut named = Vec::new();
    for a in names {
        let name = match &a.value.kind {
            ExprKind::Name(id) => id.name.as_str(),
            ExprKind::Str(s) => s.as_str(),
            _ => return None,
        };
        if !fields.iter().any(|f| f.name.name == name) {
            return None;
        }
        named.push(name);
    }
    let kept = |f: &FieldDecl| named.contains(&f.name.name.as_str());
    match callee.name.as_str() {
        "pick" if !named.is_empty() => Some(fields.into_iter().filter(kept).collect()),
        "omit" if !named.is_empty() => Some(fields.into_iter().filter(|f| !kept(f)).collect()),
        "partial" if named.is_empty() => Some(
            fields
                .into_iter()
                .map(|mut f| {
                    // As the checker does: a field always present (`T | null`) may be absent now.
                    f.optional = true;
                    f.present = false;
                    f
                })
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    const API: &str = "api a { base_url = \"https://a.example\" }\n";

    #[test]
    fn a_derived_type_uses_its_base() {
        let src = format!(
            "{API}type User {{ id: Int, login: String }}\ntype S = partial(pick(User, id))\nendpoint e = a GET \"/\" -> S\n"
        );
        let (file, _) = flow_syntax::parse(&src);
        let used = crate::drift::used_by(&file, &|_| true);
        assert!(used.contains("S") && used.contains("User"), "{used:?}");
    }

    /// A chain of derived types each declared before its base is resolved by a worklist: 50,000
    /// of them on a 2 MiB stack.
    #[test]
    fn a_long_chain_of_derived_types_is_resolved_without_deep_recursion() {
        const N: usize = 50_000;
        let mut src = String::from(API);
        for i in 0..N {
            src.push_str(&format!("type T{i} = partial(T{})\n", i + 1));
        }
        src.push_str(&format!("type T{N} {{ id: Int, login: String }}\n"));
        let (file, _) = flow_syntax::parse(&src);
        let optional = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let resolved = super::resolved(&file).expect("derived types");
                let flow_syntax::ast::Decl::Type(t0) = &resolved.decls[1] else { return None };
                match &t0.ty.kind {
                    flow_syntax::ast::TypeExprKind::Object(fs) => {
                        Some(fs.iter().map(|f| (f.name.name.clone(), f.optional)).collect::<Vec<_>>())
                    }
                    _ => None,
                }
            })
            .expect("a thread")
            .join()
            .expect("resolved without overflowing the stack");
        assert_eq!(optional, Some(vec![("id".to_string(), true), ("login".to_string(), true)]));
    }
}
