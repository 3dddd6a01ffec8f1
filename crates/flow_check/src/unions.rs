//! Unions of types: `Card | BankAccount` (objects told apart by a tag field), `String | Customer`
//! (Stripe's expandable fields: told apart by the kind of JSON value), `[TextBlock | ImageBlock]`.
//!
//! - A union is admitted only when the member a JSON value is can never be in doubt: each kind of
//!   JSON value (string, number, bool, array, object) is taken by at most one member (E0230),
//!   except objects, which several members may take when a tag tells them apart: a field every
//!   object member has, required, whose type is a string literal or a union of them, no value in
//!   two members (E0231). The tag is the first such field of the first object member.
//! - A field every member has (all are objects) is read without narrowing, its type the members'
//!   joined; another is E0232, with the `match` that narrows it as the help.
//! - Narrowing: `match u.tag { "a" => … }` and `match u { c: Card => … }` (type patterns), see
//!   `expr.rs`; `if u.tag == "a"` in `narrow.rs`.

use std::cell::OnceCell;
use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan::{self as plan, Kind};
use flow_syntax::lex::key;

use crate::ty::{FieldTy, Mismatch, Ty, Types};
use crate::Checker;

/// The members of a union, and its tag once the declared types are known.
#[derive(Debug, Clone)]
pub(crate) struct Variants {
    pub members: Vec<Ty>,
    /// Set by [`Checker::check_union`]: the field that tells the object members apart.
    pub tag: OnceCell<Option<String>>,
}

impl PartialEq for Variants {
    fn eq(&self, other: &Variants) -> bool {
        self.members == other.members
    }
}

impl Eq for Variants {}

impl Variants {
    pub(crate) fn tag(&self) -> Option<&str> {
        self.tag.get().and_then(|t| t.as_deref())
    }
}

/// A union written in a type, to be checked once every declared type is known.
pub(crate) struct Pending {
    pub union: Rc<Variants>,
    pub span: Span,
    pub spans: Vec<Span>,
}

impl Types {
    /// The kinds of JSON value a member takes.
    pub(crate) fn kinds(&self, ty: &Ty) -> Vec<Kind> {
        match self.resolve(ty) {
            Ty::String | Ty::StrLit(_) | Ty::Union(_) | Ty::Date | Ty::DateTime => vec![Kind::String],
            Ty::Int | Ty::Float => vec![Kind::Number],
            Ty::Decimal | Ty::NumLit => vec![Kind::Number, Kind::String],
            Ty::Bool => vec![Kind::Bool],
            Ty::Array(_) => vec![Kind::Array],
            Ty::Object(_) | Ty::Dict(_) => vec![Kind::Object],
            Ty::OneOf(u) => u.members.iter().flat_map(|m| self.kinds(m)).collect(),
            _ => Vec::new(),
        }
    }

    /// A type's declared wire form's kinds, where it has one (`resolve` sees through forms).
    fn member_kinds(&self, ty: &Ty) -> Vec<Kind> {
        let mut t = ty;
        for _ in 0..64 {
            match t {
                Ty::Named(i) => match self.defs.get(*i) {
                    Some(d) => t = d,
                    None => return Vec::new(),
                },
                Ty::Formed(..) => return plan::kinds(&crate::ty::plan_type(t), &[]),
                _ => return self.kinds(t),
            }
        }
        Vec::new()
    }

    /// The fields of a member that is an object.
    pub(crate) fn object_fields(&self, ty: &Ty) -> Option<Rc<[FieldTy]>> {
        match self.resolve(ty) {
            Ty::Object(fields) => Some(fields.clone()),
            _ => None,
        }
    }

    /// The values of a member's tag (`object: "card"`).
    pub(crate) fn tag_values(&self, member: &Ty, tag: &str) -> Vec<String> {
        let Some(fields) = self.object_fields(member) else { return Vec::new() };
        match fields.iter().find(|f| f.name == tag).map(|f| self.resolve(&f.ty)) {
            Some(Ty::Union(values)) => values.to_vec(),
            Some(Ty::StrLit(s)) => vec![s.to_string()],
            _ => Vec::new(),
        }
    }

    /// `found` where the union `expected` is wanted (a member, or a union of members), or the
    /// union `found` where `expected` is wanted (every member must fit).
    pub(crate) fn union_assignable(
        &self,
        found: &Ty,
        expected: &Ty,
        assumed: &mut Vec<(Ty, Ty)>,
    ) -> Result<(), Mismatch> {
        if let Ty::OneOf(fu) = found {
            // Each member on its own: a union fits where each of its members does.
            for m in &fu.members {
                self.assignable_in(m, expected, assumed)?;
            }
            return Ok(());
        }
        let Ty::OneOf(eu) = expected else { return Err(Mismatch::Different) };
        // An object with a tag is checked against its own member, so the mismatch is that one's.
        if let (Some(tag), Some(fields)) = (eu.tag(), self.object_fields(found)) {
            if let Some(Ty::StrLit(value)) = fields.iter().find(|f| f.name == tag).map(|f| self.resolve(&f.ty)) {
                if let Some(m) = eu.members.iter().find(|m| self.tag_values(m, tag).iter().any(|v| **v == **value)) {
                    return self.assignable_in(found, m, assumed);
                }
            }
        }
        let mark = assumed.len();
        for m in &eu.members {
            // A failed try leaves no assumption behind for the next.
            assumed.truncate(mark);
            if self.assignable_in(found, m, assumed).is_ok() {
                return Ok(());
            }
        }
        assumed.truncate(mark);
        Err(Mismatch::Different)
    }

    /// Two values of which one is (or both are) a union: the wider, if one fits the other.
    pub(crate) fn union_join(&self, a: &Ty, b: &Ty) -> Option<Ty> {
        if self.assignable(a, b).is_ok() {
            Some(b.clone())
        } else if self.assignable(b, a).is_ok() {
            Some(a.clone())
        } else {
            None
        }
    }

    /// The members a value of the union `u` can still be when its tag is one of `values`.
    pub(crate) fn members_tagged(&self, u: &Variants, values: &[String]) -> Vec<Ty> {
        let Some(tag) = u.tag() else { return Vec::new() };
        u.members.iter().filter(|m| self.tag_values(m, tag).iter().any(|v| values.contains(v))).cloned().collect()
    }
}

/// One member, or a union of several (`None` for none).
pub(crate) fn of_members(u: &Variants, members: Vec<Ty>) -> Option<Ty> {
    match members.len() {
        0 => None,
        1 => members.into_iter().next(),
        _ => {
            let tag = OnceCell::new();
            let _ = tag.set(u.tag().map(str::to_string));
            Some(Ty::OneOf(Rc::new(Variants { members, tag })))
        }
    }
}

impl Checker<'_> {
    /// A union of types, as written; checked at once, or when the declared types are all known.
    pub(crate) fn union_of(&mut self, members: Vec<Ty>, span: Span, spans: Vec<Span>) -> Ty {
        let union = Rc::new(Variants { members, tag: OnceCell::new() });
        let pending = Pending { union: union.clone(), span, spans };
        match &mut self.pending_unions {
            Some(list) => list.push(pending),
            None => self.check_union(&pending),
        }
        Ty::OneOf(union)
    }

    /// Checks the unions written in declared types, now that those are known.
    pub(crate) fn check_unions(&mut self) {
        for p in self.pending_unions.take().unwrap_or_default() {
            self.check_union(&p);
        }
    }

    /// E0230: two members JSON writes alike, or one that cannot be a member; E0231: object
    /// members with no tag to tell them apart. Sets the tag.
    fn check_union(&mut self, p: &Pending) {
        let u = &p.union;
        let mut taken: Vec<(Kind, usize)> = Vec::new();
        let mut objects: Vec<usize> = Vec::new();
        let mut tag = None;
        for (i, m) in u.members.iter().enumerate() {
            let span = p.spans.get(i).copied().unwrap_or(p.span);
            let resolved = self.types.resolve(m).clone();
            let refused = match &resolved {
                Ty::Error => continue,
                Ty::Json => Some("`Json` is any JSON: no value could be told to be another member"),
                Ty::Nullable(_) | Ty::Null => {
                    Some("a member cannot be nullable: make the whole union nullable, `(A | B)?`")
                }
                Ty::OneOf(_) => Some("a union inside a union: list its members here instead"),
                _ => None,
            };
            if let Some(why) = refused {
                self.report(
                    Diagnostic::new(
                        codes::UNION_AMBIGUOUS,
                        format!("`{}` cannot be a member of a union", self.types.display(m)),
                    )
                    .primary(span, why)
                    .help("list types that JSON writes differently: `String | Customer`, or objects with a tag"),
                );
                continue;
            }
            if matches!(resolved, Ty::Object(_)) {
                objects.push(i);
                if objects.len() > 1 {
                    continue;
                }
            }
            for kind in self.types.member_kinds(m) {
                if let Some((_, j)) = taken.iter().find(|(k, _)| *k == kind) {
                    let other = &u.members[*j];
                    let (a, b) = (self.types.display(other), self.types.display(m));
                    let mut d = Diagnostic::new(
                        codes::UNION_AMBIGUOUS,
                        format!("`{a}` and `{b}` are both written as {} in JSON", kind.name()),
                    )
                    .primary(span, format!("this is {} too", kind.name()))
                    .help(
                        "a value must say which member it is: keep one member of each kind (string, number, Bool, array, object); objects may be several, told apart by a tag field",
                    );
                    if let Some(s) = p.spans.get(*j) {
                        d = d.secondary(*s, format!("`{a}` is here"));
                    }
                    self.report(d);
                    break;
                }
                taken.push((kind, i));
            }
        }
        if objects.len() > 1 {
            tag = self.find_tag(p, &objects);
        }
        let _ = u.tag.set(tag);
    }

    /// The tag of the object members: the first field of the first one that every one has,
    /// required, as string literals, no value in two of them; E0231 when there is none.
    fn find_tag(&mut self, p: &Pending, objects: &[usize]) -> Option<String> {
        let u = &p.union;
        let fields: Vec<Rc<[FieldTy]>> =
            objects.iter().filter_map(|i| self.types.object_fields(&u.members[*i])).collect();
        let literal = |f: &FieldTy, types: &Types| -> Option<Vec<String>> {
            match types.resolve(&f.ty) {
                Ty::Union(values) if !f.optional => Some(values.to_vec()),
                _ => None,
            }
        };
        let mut clash: Option<(String, String)> = None;
        for candidate in fields[0].iter() {
            let mut seen: Vec<String> = Vec::new();
            let mut ok = true;
            for fs in &fields {
                match fs.iter().find(|f| f.name == candidate.name).and_then(|f| literal(f, &self.types)) {
                    Some(values) => {
                        if let Some(v) = values.iter().find(|v| seen.contains(v)) {
                            clash.get_or_insert((candidate.name.clone(), v.clone()));
                            ok = false;
                            break;
                        }
                        seen.extend(values);
                    }
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return Some(candidate.name.clone());
            }
        }
        let names: Vec<String> = objects.iter().map(|i| format!("`{}`", self.types.display(&u.members[*i]))).collect();
        let message = match &clash {
            Some((field, value)) => {
                format!("{} cannot be told apart: two of them have `{}: {value:?}`", names.join(" and "), key(field))
            }
            None => format!("{} cannot be told apart: no tag field says which one an object is", names.join(" and ")),
        };
        self.report(
            Diagnostic::new(codes::UNION_UNTAGGED, message)
                .primary(p.span, "objects of this union have no tag")
                .help("give every object member a required field with its own string literal, as APIs do (`object: \"card\"`, `type: \"section\"`)"),
        );
        None
    }

    /// `u.name` on a union: a field every member has, its type the members' joined; another
    /// is E0232, with the `match` that narrows `u` as the help.
    pub(crate) fn union_field(
        &mut self,
        base: &flow_syntax::ast::Expr,
        union_ty: &Ty,
        u: &Variants,
        name: &flow_syntax::ast::Ident,
    ) -> Result<Ty, ()> {
        let mut ty: Option<Ty> = None;
        let mut without: Vec<String> = Vec::new();
        let mut with: Vec<String> = Vec::new();
        for m in &u.members {
            let found = self.types.object_fields(m).and_then(|fs| fs.iter().find(|f| f.name == name.name).cloned());
            match found {
                Some(f) => {
                    with.push(self.types.display(m));
                    ty = match ty {
                        None => Some(f.ty.clone()),
                        Some(t) => match self.types.join(&t, &f.ty) {
                            Some(j) => Some(j),
                            None => {
                                without.push(self.types.display(m));
                                Some(t)
                            }
                        },
                    }
                }
                None => without.push(self.types.display(m)),
            }
        }
        if without.is_empty() {
            return ty.ok_or(());
        }
        // What an editor offers after `.` here: the fields every member has.
        let common = self.common_fields(u);
        self.info
            .field_choices
            .push((name.span, common.iter().map(|f| (f.name.clone(), self.types.display(&f.ty))).collect()));
        let shown = self.types.display(union_ty);
        if with.is_empty() {
            let help = crate::expr::field_help(
                name.span,
                &name.name,
                common.iter().map(|f| f.name.as_str()),
                &format!("every member of `{shown}`"),
                &common,
            );
            self.report(
                Diagnostic::new(codes::UNKNOWN_FIELD, format!("no member of `{shown}` has a field `{}`", name.name))
                    .primary(name.span, "unknown field")
                    .help(help),
            );
            return Err(());
        }
        let base_text = crate::expr::path_text(base).unwrap_or_else(|| "value".to_string());
        let help = match u.tag() {
            Some(tag) => {
                let values: Vec<String> = u
                    .members
                    .iter()
                    .filter(|m| self.types.object_fields(m).is_some_and(|fs| fs.iter().any(|f| f.name == name.name)))
                    .flat_map(|m| self.types.tag_values(m, tag))
                    .take(1)
                    .collect();
                let value = values.first().cloned().unwrap_or_default();
                format!(
                    "narrow it first with a `match` on its tag: `match {base_text}.{} {{ {value:?} => {base_text}.{}, _ => … }}`",
                    key(tag),
                    key(&name.name)
                )
            }
            None => format!(
                "narrow it first with a `match` on its type: `match {base_text} {{ x: {} => x.{}, _ => … }}`",
                with[0],
                key(&name.name)
            ),
        };
        self.report(
            Diagnostic::new(codes::UNION_FIELD, format!("`{}` is not a field of every member of `{shown}`", name.name))
                .primary(name.span, format!("`{}` has it, `{}` does not", with.join("`, `"), without.join("`, `")))
                .help(help),
        );
        Err(())
    }

    /// The fields every member has (all members objects), with their joined types.
    pub(crate) fn common_fields(&self, u: &Variants) -> Vec<FieldTy> {
        let Some(first) = u.members.first().and_then(|m| self.types.object_fields(m)) else { return Vec::new() };
        let mut out = Vec::new();
        'fields: for f in first.iter() {
            let mut ty = f.ty.clone();
            for m in &u.members[1..] {
                let Some(g) = self.types.object_fields(m).and_then(|fs| fs.iter().find(|g| g.name == f.name).cloned())
                else {
                    continue 'fields;
                };
                match self.types.join(&ty, &g.ty) {
                    Some(j) => ty = j,
                    None => continue 'fields,
                }
            }
            out.push(FieldTy { name: f.name.clone(), ty, optional: f.optional, present: f.present });
        }
        out
    }
}

/// A type pattern's arm: its bound name, the member's type, and whether anything reaches it.
type MemberArm<'a> = (&'a flow_syntax::ast::Ident, Ty, bool);

impl Checker<'_> {
    /// An arm of type patterns (`c: Customer =>`) of a `match` on the union `inner`: the member
    /// it takes (added to `covered`); `None` when the arm has no type pattern. A type that is no
    /// member, or a type pattern beside other patterns, is E0233.
    pub(crate) fn member_arm<'a>(
        &mut self,
        arm: &'a flow_syntax::ast::MatchArm,
        inner: &Ty,
        wildcard: bool,
        covered: &mut Vec<usize>,
    ) -> Option<MemberArm<'a>> {
        let (p, (name, te)) = arm.patterns.iter().find_map(|p| p.member.as_ref().map(|m| (p, m)))?;
        let ty = self.type_expr(te);
        if arm.patterns.len() > 1 {
            self.report(
                Diagnostic::new(codes::NOT_A_MEMBER, "a type pattern stands alone in its arm")
                    .primary(p.span, "beside other patterns")
                    .help("give each member its own arm: `a: A => …, b: B => …`"),
            );
            return Some((name, Ty::Error, true));
        }
        if ty == Ty::Error || *inner == Ty::Error {
            return Some((name, Ty::Error, true));
        }
        let Ty::OneOf(u) = inner else {
            let shown = self.types.display(inner);
            self.report(
                Diagnostic::new(
                    codes::NOT_A_MEMBER,
                    format!("a type pattern on a `{shown}` value, which is not a union"),
                )
                .primary(p.span, "only a union's members are matched by type")
                .help("match its values (`\"open\" => …`), or `_`"),
            );
            return Some((name, Ty::Error, true));
        };
        let at = u.members.iter().position(|m| *m == ty).or_else(|| {
            u.members
                .iter()
                .position(|m| self.types.assignable(&ty, m).is_ok() && self.types.assignable(m, &ty).is_ok())
        });
        match at {
            Some(i) => {
                let reached = !wildcard && !covered.contains(&i);
                covered.push(i);
                Some((name, u.members[i].clone(), reached))
            }
            None => {
                let members: Vec<String> = u.members.iter().map(|m| format!("`{}`", self.types.display(m))).collect();
                self.report(
                    Diagnostic::new(
                        codes::NOT_A_MEMBER,
                        format!("`{}` is not a member of `{}`", self.types.display(&ty), self.types.display(inner)),
                    )
                    .primary(te.span, "not one of the union's members")
                    .help(format!("its members are {}", members.join(", "))),
                );
                Some((name, Ty::Error, true))
            }
        }
    }

    /// An arm of a `match` on a string union that is a tag (`match u.object { "card" => … }`):
    /// the path holds the arm's strings (a `_` arm: also those no arm above took), which
    /// narrows the union in the arm (`narrow.rs`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tag_facts(
        &self,
        scrutinee: &flow_syntax::ast::Expr,
        inner: &Ty,
        arm: &flow_syntax::ast::MatchArm,
        covered: &[plan::Value],
        patterns: &[plan::Value],
        nullable: bool,
        scope: &crate::scope::Scope,
    ) -> Vec<crate::narrow::Path> {
        let Ty::Union(all) = inner else { return Vec::new() };
        // An arm that null reaches proves nothing of the tag.
        if patterns.contains(&plan::Value::Null) {
            return Vec::new();
        }
        let Some(path) = crate::narrow::path_for(scrutinee, scope) else { return Vec::new() };
        let mut is: Vec<String> = patterns
            .iter()
            .filter_map(|v| match v {
                plan::Value::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        if arm.patterns.iter().any(flow_syntax::ast::Pattern::is_wildcard) {
            // A `_` that null may reach proves nothing.
            if nullable && !covered.contains(&plan::Value::Null) {
                return Vec::new();
            }
            is.extend(all.iter().filter(|m| !covered.contains(&plan::Value::Str((*m).clone()))).cloned());
        }
        if is.is_empty() {
            return Vec::new();
        }
        vec![crate::narrow::Path { is, ..path }]
    }

    /// E0217 for a `match` on a union by type patterns: every member (and null, when nullable),
    /// or a `_`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn members_exhaustive(
        &mut self,
        scrutinee: &flow_syntax::ast::Expr,
        scrutinee_ty: &Ty,
        u: &Variants,
        nullable: bool,
        values: &[plan::Value],
        covered: &[usize],
        wildcard: bool,
    ) {
        if wildcard {
            return;
        }
        let mut missing: Vec<String> =
            (0..u.members.len()).filter(|i| !covered.contains(i)).map(|i| self.types.display(&u.members[i])).collect();
        if nullable && !values.contains(&plan::Value::Null) {
            missing.push("null".into());
        }
        if missing.is_empty() {
            return;
        }
        let arms: Vec<String> = missing
            .iter()
            .map(|m| if m == "null" { "`null => …`".to_string() } else { format!("`x: {m} => …`") })
            .collect();
        self.report(
            Diagnostic::new(codes::NOT_EXHAUSTIVE, format!("this `match` does not cover {}", missing.join(", ")))
                .primary(scrutinee.span, format!("this is `{}`", self.types.display(scrutinee_ty)))
                .help(format!("add {}, or `_ => …` for the rest", arms.join(", "))),
        );
    }
}
