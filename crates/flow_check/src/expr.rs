//! Expressions: inferring types, checking against an expected type, and elaborating to the plan's
//! resolved expression form.

use std::rc::Rc;

use flow_diagnostics::{codes, suggest, Diagnostic, Fix, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, BinaryOp, ExprKind, ObjectItem, UnaryOp};
use flow_syntax::lex::key;
use rust_decimal::Decimal;

use crate::meant::{Candidate, Sort};
use crate::names::{twice, Again};
use crate::record::{Item, Part, Site, Target, SET_ONCE};
use crate::scope::Scope;
use crate::ty::{ArithError, FieldTy, Mismatch, Ty};
use crate::{Checker, NameKind};

/// The help for a field name an object does not have: the closest of `candidates`, or
/// "`owner` has: a, b" listing every field.
/// The did-you-mean carries its fix: `wrong` (written at `span`) replaced by the name meant.
pub(crate) fn field_help<'f>(
    span: Span,
    wrong: &str,
    candidates: impl IntoIterator<Item = &'f str>,
    owner: &str,
    fields: &[FieldTy],
) -> flow_diagnostics::Help {
    match suggest(wrong, candidates) {
        // Written as the source writes it: `"sub-tasks"` quoted, so the fix stays a field name.
        Some(s) => flow_diagnostics::did_you_mean(span, &key(s)),
        None => {
            format!("{owner} has: {}", fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")).into()
        }
    }
}

/// Where an unknown name is called: what kinds of declaration could be called there.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallAt {
    /// Inside an expression: a map, a function or a built-in.
    Expr,
    /// The whole value of a flow's `let`: an endpoint too.
    FlowLet,
    /// A flow's step or a `for`'s source: an endpoint.
    FlowStep,
}

/// What an expression is checked against: the type, where that type was declared, and a phrase
/// naming the place (`field \`email\` of \`Contact\``).
pub(crate) struct Expect {
    pub ty: Ty,
    pub origin: Option<Span>,
    pub what: String,
}

/// A binary operator's checked operands: the whole expression, both sides and their types.
#[derive(Clone, Copy)]
struct Operands<'a> {
    e: &'a ast::Expr,
    lhs: &'a ast::Expr,
    rhs: &'a ast::Expr,
    lt: &'a Ty,
    rt: &'a Ty,
}

fn lit(value: plan::Value) -> plan::Expr {
    plan::Expr::Lit { value }
}

const POISON: (Ty, plan::Expr) = (Ty::Error, plan::Expr::Lit { value: plan::Value::Null });

/// `o.customer.name` as text, for help messages; `None` for anything but a path.
pub(crate) fn path_text(e: &ast::Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Field { base, name, optional } => {
            Some(format!("{}{}{}", path_text(base)?, if *optional { "?." } else { "." }, key(&name.name)))
        }
        _ => None,
    }
}

/// A note explaining a mismatch found inside a value.
pub(crate) fn mismatch_note(path: &str, m: &Mismatch) -> String {
    let at = if path.is_empty() { String::new() } else { format!(" in field `{path}`") };
    match m {
        Mismatch::Nullable => format!("a value that may be null{at}"),
        Mismatch::NotInUnion(v) => format!(
            "{}{at} is outside the allowed strings",
            v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        ),
        Mismatch::MissingField(f) => format!("field `{f}` is missing{at}"),
        Mismatch::ExtraField(f) => format!("field `{f}` is not expected{at}"),
        Mismatch::Different | Mismatch::Inside(..) => format!("the types differ{at}"),
    }
}

/// An expression whose type comes only from where it is used: `[]`, an array of such
/// expressions, or an `if` whose branches both are. It is checked against the type the other
/// side of a `??`, an `if` or a comparison has, or the expected type; alone it is E0218.
pub(crate) fn needs_context(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Array(items) => items.iter().all(needs_context),
        ExprKind::If { then, otherwise, .. } => needs_context(then) && needs_context(otherwise),
        _ => false,
    }
}

/// A placeholder default of a type, for `?? default` suggestions.
fn default_for(ty: &Ty) -> &'static str {
    match ty {
        Ty::String | Ty::StrLit(_) => "\"\"",
        Ty::Int => "0",
        Ty::Decimal | Ty::Float | Ty::NumLit => "0.0",
        Ty::Bool => "false",
        Ty::Array(_) => "[]",
        _ => "…",
    }
}

impl Checker<'_> {
    /// Checks `e` where a value of `expect.ty` is wanted.
    pub(crate) fn check_against(&mut self, e: &ast::Expr, expect: &Expect, scope: &mut Scope) -> plan::Expr {
        let want = self.types.resolve(&expect.ty).clone();
        let want_inner = self.types.resolve(&self.types.non_null(&want)).clone();
        match (&e.kind, &want_inner) {
            (ExprKind::Object(fields), Ty::Object(expected_fields)) => {
                let type_index = match self.types.non_null(&expect.ty) {
                    Ty::Named(i) => Some(i),
                    _ => None,
                };
                return self.object_against(e.span, fields, expected_fields, type_index, expect, scope);
            }
            (ExprKind::Object(items), Ty::Dict(value)) => {
                return self.dict_literal(items, value, expect, scope);
            }
            (ExprKind::If { cond, then, otherwise }, _) => {
                let c = self.check_against(cond, &self.bool_expect("an `if` condition"), scope);
                self.constant_condition(cond, then, otherwise);
                let (when_true, when_false) = crate::narrow::facts(cond, scope);
                let t = self.with_facts(when_true, scope, |c, scope| c.check_against(then, expect, scope));
                let o = self.with_facts(when_false, scope, |c, scope| c.check_against(otherwise, expect, scope));
                return plan::Expr::If { cond: Box::new(c), then: Box::new(t), otherwise: Box::new(o) };
            }
            // `[]` where no array is expected: nothing to take its type from, or the wrong type.
            (ExprKind::Array(items), _) if needs_context(e) && !matches!(want_inner, Ty::Array(_) | Ty::Never) => {
                if want_inner == Ty::Error {
                    // The context was already reported.
                    let items = items.iter().map(|i| self.check_against(i, expect, scope)).collect();
                    return plan::Expr::Array { items };
                }
                let want_s = self.types.display(&expect.ty);
                let mut d = Diagnostic::new(
                    codes::TYPE_MISMATCH,
                    format!("mismatched types: {} is `{want_s}`, found an array", expect.what),
                )
                .primary(e.span, format!("expected `{want_s}`, found an array"))
                .help(format!("give a `{want_s}` here"));
                if let Some(origin) = expect.origin {
                    d = d.secondary(origin, "expected because of this declaration");
                }
                self.report(d);
                return lit(plan::Value::Null);
            }
            (ExprKind::Array(items), Ty::Array(item_ty)) => {
                let inner = Expect {
                    ty: (**item_ty).clone(),
                    origin: expect.origin,
                    what: format!("an item of {}", expect.what),
                };
                let items = items.iter().map(|i| self.check_against(i, &inner, scope)).collect();
                return plan::Expr::Array { items };
            }
            // A whole number where a Decimal is expected is that Decimal (so `round(…, 2)` of it
            // has its two digits, as of any Decimal).
            (ExprKind::Int(n), Ty::Decimal) => return lit(plan::Value::Decimal((*n).into())),
            (ExprKind::Number(text), Ty::Float) => {
                if let Ok(f) = text.parse::<f64>() {
                    return lit(plan::Value::Float(f));
                }
            }
            // Date and date-time literals are written as strings and checked here.
            (ExprKind::Str(text), Ty::Date) => {
                return match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                    Ok(d) => lit(plan::Value::Date(d)),
                    Err(_) => {
                        self.bad_literal(e.span, format!("{text:?} is not a Date"), "write dates as \"YYYY-MM-DD\"")
                    }
                };
            }
            (ExprKind::Str(text), Ty::DateTime) => {
                return match chrono::DateTime::parse_from_rfc3339(text) {
                    Ok(t) => lit(plan::Value::DateTime(t)),
                    Err(_) => self.bad_literal(
                        e.span,
                        format!("{text:?} is not a DateTime"),
                        "write date-times in RFC 3339, with an offset: \"2026-01-31T09:30:00Z\"",
                    ),
                };
            }
            (ExprKind::Match { scrutinee, arms }, _) => {
                return self.match_expr(e, scrutinee, arms, Some(expect), scope).1;
            }
            (ExprKind::Catch { expr, default }, _) => {
                let (lt, le) = self.infer_raw(expr, scope);
                let inner = self.handled(expr, lt);
                if let Err(m) = self.types.assignable(&inner, &expect.ty) {
                    self.mismatch(expr, &inner, expect, &m);
                }
                let de = self.check_against(default, expect, scope);
                return plan::Expr::Catch { expr: Box::new(le), default: Box::new(de) };
            }
            _ => {}
        }
        let (found, pe) = self.infer(e, scope);
        if let Err(m) = self.types.assignable(&found, &expect.ty) {
            self.mismatch(e, &found, expect, &m);
        }
        pe
    }

    /// What an expression without a type of its own (`[]`) is checked against: the type of the
    /// value beside it. A type that is itself unknown is the poison type, already reported.
    fn context_expect(&self, ty: &Ty, what: &str) -> Expect {
        Expect { ty: ty.clone(), origin: None, what: what.to_string() }
    }

    fn bool_expect(&self, what: &str) -> Expect {
        Expect { ty: Ty::Bool, origin: None, what: what.to_string() }
    }

    /// An object literal where a declared object type is wanted: its fields filled as a map
    /// body's are (`record.rs`), output in the declared order.
    fn object_against(
        &mut self,
        span: Span,
        items: &[ObjectItem],
        expected_fields: &Rc<[FieldTy]>,
        type_index: Option<usize>,
        expect: &Expect,
        scope: &mut Scope,
    ) -> plan::Expr {
        let name = self.types.display(&self.types.non_null(&expect.ty));
        let target = Target { fields: expected_fields.clone(), index: type_index, name, known: true };
        let any_spread = items.iter().any(|i| matches!(i, ObjectItem::Spread(_)));
        let items = items.iter().map(|item| match item {
            ObjectItem::Field(f) => Item::Field(&f.name, &f.value),
            ObjectItem::Spread(s) => Item::Spread(s),
        });
        let parts: Vec<plan::ObjectPart> = self
            .fill_record(&target, &Site::Literal { span, what: &expect.what }, items, scope)
            .into_iter()
            .filter_map(|p| match p {
                Part::Field(name, value) => Some(plan::ObjectPart::Field { name: name.as_str().into(), value }),
                Part::Spread(value) => Some(plan::ObjectPart::Spread { value }),
                Part::Let(..) => None,
            })
            .collect();
        let order: Vec<plan::Key> = expected_fields.iter().map(|f| f.name.as_str().into()).collect();
        if any_spread {
            return plan::Expr::Build { parts, keep: Some(order) };
        }
        // Output in the declared order: the JSON reads like the type.
        let mut fields: Vec<(plan::Key, plan::Expr)> = parts
            .into_iter()
            .filter_map(|p| match p {
                plan::ObjectPart::Field { name, value } => Some((name, value)),
                plan::ObjectPart::Spread { .. } => None,
            })
            .collect();
        let mut ordered = Vec::with_capacity(fields.len());
        for name in &order {
            if let Some(i) = fields.iter().position(|(n, _)| n == name) {
                ordered.push(fields.swap_remove(i));
            }
        }
        plan::Expr::Object { fields: ordered }
    }

    /// `...value`: the fields it brings.
    pub(crate) fn spread(&mut self, s: &ast::Expr, scope: &mut Scope) -> (Rc<[FieldTy]>, plan::Expr) {
        let (t, x) = self.infer(s, scope);
        if self.types.is_nullable(&t) {
            self.nullable_operand(s, &t, "...");
            return (Rc::from(Vec::new()), x);
        }
        match self.types.resolve(&t).clone() {
            Ty::Object(fields) => (fields, x),
            Ty::Error => (Rc::from(Vec::new()), x),
            other => {
                let shown = self.types.display(&other);
                self.report(
                    Diagnostic::new(codes::TYPE_MISMATCH, format!("only objects can be spread, not `{shown}`"))
                        .primary(s.span, format!("this is `{shown}`"))
                        .help("spread a record: `{ ...order, status: \"closed\" }`"),
                );
                (Rc::from(Vec::new()), x)
            }
        }
    }

    /// Reports why `found` does not fit `expect`.
    pub(crate) fn mismatch(&mut self, e: &ast::Expr, found: &Ty, expect: &Expect, m: &Mismatch) {
        if matches!(self.types.resolve(&self.types.non_null(found)), Ty::Json) {
            let want = self.types.display(&expect.ty);
            return self.json_read_as(e, &want, expect.origin);
        }
        let (path, inner) = m.innermost();
        let found_s = self.types.display(found);
        let want_s = self.types.display(&expect.ty);
        let text = path_text(e);
        let mut d = match inner {
            Mismatch::Nullable => {
                let default = default_for(self.types.resolve(&self.types.non_null(&expect.ty)));
                let mut help = match &text {
                    Some(t) => format!("give a default: `{t} ?? {default}`"),
                    None => format!("give a default with `?? {default}`"),
                };
                // Only what the file declares can be declared nullable (not a built-in's argument).
                if expect.origin.is_some() {
                    help.push_str(&format!(", or declare {} nullable (`{want_s}?`)", expect.what));
                }
                Diagnostic::new(
                    codes::NULLABLE,
                    format!(
                        "{} {}, but {} is `{want_s}`",
                        text.as_deref().map_or("this value".to_string(), |t| format!("`{t}`")),
                        self.may_be_null(e),
                        expect.what
                    ),
                )
                .primary(e.span, format!("this is `{found_s}`"))
                .help(help)
            }
            Mismatch::NotInUnion(values) => {
                let members = match self.types.resolve(&self.types.non_null(&expect.ty)) {
                    Ty::Union(m) => m.to_vec(),
                    _ => Vec::new(),
                };
                let shown: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
                let near = values.first().and_then(|v| suggest(v, members.iter().map(String::as_str)));
                let help = match near {
                    Some(s) => flow_diagnostics::Help::from(format!("did you mean \"{s}\"?"))
                        .with_fix(matches!(e.kind, ExprKind::Str(_)).then(|| Fix::replace(e.span, format!("{s:?}")))),
                    None => format!(
                        "{} takes {}",
                        expect.what,
                        members.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ")
                    )
                    .into(),
                };
                Diagnostic::new(
                    codes::NOT_IN_UNION,
                    format!("{} {} not one of {want_s}", shown.join(", "), if shown.len() == 1 { "is" } else { "are" }),
                )
                .primary(
                    e.span,
                    format!(
                        "{} can be {}",
                        if matches!(e.kind, ExprKind::Str(_)) { "this" } else { "this value" },
                        shown.join(", ")
                    ),
                )
                .help(help)
            }
            Mismatch::MissingField(f) => Diagnostic::new(
                codes::MISSING_FIELD,
                format!("`{found_s}` has no field `{f}`, which {} requires", expect.what),
            )
            .primary(e.span, format!("this is `{found_s}`"))
            .help(format!("build the value with a map or an object literal that sets `{f}`")),
            Mismatch::ExtraField(f) => Diagnostic::new(
                codes::EXTRA_FIELD,
                format!("`{found_s}` has field `{f}`, which {} does not take", expect.what),
            )
            .primary(e.span, format!("this is `{found_s}`"))
            .help(format!("build a `{want_s}` with a map or an object literal that leaves out `{f}`")),
            Mismatch::Different | Mismatch::Inside(..) => {
                let fr = self.types.resolve(found).clone();
                let wr = self.types.resolve(&self.types.non_null(&expect.ty)).clone();
                let help = match (&fr, &wr) {
                    (Ty::Int | Ty::Float | Ty::Decimal | Ty::NumLit | Ty::Bool | Ty::Date | Ty::DateTime, Ty::String) => {
                        format!("convert it to text: `str({})`", text.as_deref().unwrap_or("…"))
                    }
                    (Ty::String, Ty::Union(ms)) => format!(
                        "a `String` may hold any text; choose one of the allowed strings, e.g. `if {} == {:?} then {:?} else …`",
                        text.as_deref().unwrap_or("x"),
                        ms.first().map_or("", String::as_str),
                        ms.first().map_or("", String::as_str)
                    ),
                    (Ty::DateTime, Ty::Date) => format!("take the date part: `date({})`", text.as_deref().unwrap_or("…")),
                    (Ty::Float, Ty::Decimal) => "Float is inexact; declare the source field `Decimal` to keep money exact".into(),
                    _ => format!("change the value, or declare {} as `{found_s}`", expect.what),
                };
                let mut d = Diagnostic::new(
                    codes::TYPE_MISMATCH,
                    format!("mismatched types: {} is `{want_s}`, found `{found_s}`", expect.what),
                )
                .primary(e.span, format!("expected `{want_s}`, found `{found_s}`"))
                .help(help);
                if !path.is_empty() {
                    d = d.note(mismatch_note(&path, inner));
                }
                d
            }
        };
        if let Some(origin) = expect.origin {
            d = d.secondary(origin, "expected because of this declaration");
        }
        self.report(d);
    }

    fn bad_literal(&mut self, span: Span, message: String, help: &str) -> plan::Expr {
        self.report(Diagnostic::new(codes::BAD_LITERAL_ARGUMENT, message).primary(span, "invalid").help(help));
        lit(plan::Value::Null)
    }

    /// Infers the type of `e` and elaborates it. An operation that can fail must be handled
    /// right where it is produced (`… catch default`): anything else is E0215.
    pub(crate) fn infer(&mut self, e: &ast::Expr, scope: &mut Scope) -> (Ty, plan::Expr) {
        let (ty, x) = self.infer_raw(e, scope);
        if self.record && !matches!(ty, Ty::Error) {
            self.info.expr_types.push(e.span, ty.clone());
        }
        if let Ty::Fallible(inner) = ty {
            let what = match &e.kind {
                ExprKind::Call { callee, .. } => format!("`{}(…)`", callee.name),
                _ => "this expression".to_string(),
            };
            self.report(
                Diagnostic::new(codes::UNHANDLED_FAILURE, format!("{what} can fail, and the failure is not handled"))
                    .primary(e.span, "fails on text it cannot read")
                    .help(format!(
                        "give a value for that case: `{} catch {}`, or send the record away with `catch fail(\"why\")`",
                        match &e.kind {
                            ExprKind::Call { callee, .. } => format!("{}(…)", callee.name),
                            _ => path_text(e).unwrap_or_else(|| "…".into()),
                        },
                        default_for(self.types.resolve(&inner))
                    )),
            );
            return ((*inner).clone(), x);
        }
        (ty, x)
    }

    /// Like [`infer`](Self::infer), without reporting: for a second look at something already checked.
    pub(crate) fn infer_quiet(&mut self, e: &ast::Expr, scope: &mut Scope) -> (Ty, plan::Expr) {
        let n = self.diagnostics.len();
        let r = self.infer(e, scope);
        self.diagnostics.truncate(n);
        r
    }

    /// The type under a `catch`; warns when the expression cannot fail.
    fn handled(&mut self, expr: &ast::Expr, ty: Ty) -> Ty {
        match ty {
            Ty::Fallible(inner) => (*inner).clone(),
            Ty::Error => Ty::Error,
            other => {
                self.report(
                    Diagnostic::new(codes::NEEDLESS_CATCH, "this expression cannot fail; the `catch` is never used")
                        .primary(expr.span, "cannot fail")
                        .help("remove the `catch` and its default; for null values use `??`"),
                );
                other
            }
        }
    }

    // Long on purpose: one arm per expression kind, the one place each kind's type is inferred.
    fn infer_raw(&mut self, e: &ast::Expr, scope: &mut Scope) -> (Ty, plan::Expr) {
        match &e.kind {
            ExprKind::Catch { expr, default } => {
                let (lt, le) = self.infer_raw(expr, scope);
                let inner = self.handled(expr, lt);
                if needs_context(default) {
                    let de = self.check_against(default, &self.context_expect(&inner, "the `catch` default"), scope);
                    return (inner, plan::Expr::Catch { expr: Box::new(le), default: Box::new(de) });
                }
                let (dt, de) = self.infer(default, scope);
                let ty = self.join_or_report(&inner, &dt, |a, b| {
                    Diagnostic::new(
                        codes::TYPE_MISMATCH,
                        format!("the `catch` default is `{b}`, but the value is `{a}`"),
                    )
                    .primary(default.span, format!("this is `{b}`"))
                    .help(format!("give a default of type `{a}`"))
                });
                (ty, plan::Expr::Catch { expr: Box::new(le), default: Box::new(de) })
            }
            ExprKind::Match { scrutinee, arms } => {
                // Arms that are `[]` take their type from the other arms: checked against it.
                if arms.iter().any(|a| needs_context(&a.body)) {
                    let mut others: Option<Ty> = None;
                    for arm in arms.iter().filter(|a| !needs_context(&a.body)) {
                        let (t, _) = self.infer_quiet(&arm.body, scope);
                        others = Some(match others {
                            None => t,
                            Some(prev) => self.types.join(&prev, &t).unwrap_or(Ty::Error),
                        });
                    }
                    if let Some(ty) = others.filter(|t| *t != Ty::Error) {
                        let expect = self.context_expect(&ty, "this `match`");
                        return (ty, self.match_expr(e, scrutinee, arms, Some(&expect), scope).1);
                    }
                }
                self.match_expr(e, scrutinee, arms, None, scope)
            }
            ExprKind::Str(s) => (Ty::StrLit(s.as_str().into()), lit(plan::Value::Str(s.clone()))),
            ExprKind::Int(n) => (Ty::Int, lit(plan::Value::Int(*n))),
            ExprKind::Number(text) => match Decimal::from_str_exact(text).or_else(|_| Decimal::from_scientific(text)) {
                Ok(d) => (Ty::NumLit, lit(plan::Value::Decimal(d))),
                Err(_) => {
                    self.report(
                        Diagnostic::new(codes::INT_RANGE, "number literal out of range")
                            .primary(e.span, "does not fit a Decimal (28 significant digits)")
                            .help("write fewer digits"),
                    );
                    POISON
                }
            },
            ExprKind::Rate { .. } => {
                self.report(
                    Diagnostic::new(codes::TYPE_MISMATCH, "a rate is a setting (`rate_limit = 10/s`), not a value")
                        .primary(e.span, "not allowed in an expression")
                        .help("for division, put spaces around `/`: `10 / s`"),
                );
                POISON
            }
            ExprKind::Duration(ms) => (Ty::Duration, lit(plan::Value::Int(i64::try_from(*ms).unwrap_or(i64::MAX)))),
            ExprKind::Bool(b) => (Ty::Bool, lit(plan::Value::Bool(*b))),
            ExprKind::Null => (Ty::Null, lit(plan::Value::Null)),
            ExprKind::Name(id) => {
                let index_base = std::mem::take(&mut self.index_base);
                let (t, x) = self.name(id, scope, index_base);
                (self.narrowed(e, t, scope), x)
            }
            ExprKind::Field { base, name, optional } => {
                let (t, x) = self.field(e, base, name, *optional, scope);
                (self.narrowed(e, t, scope), x)
            }
            ExprKind::Index { base, index } => {
                if let ExprKind::Name(id) = &base.kind {
                    if !scope.contains(&id.name) {
                        if let Some(r) = self.names.get(&id.name).filter(|r| r.kind == NameKind::Table) {
                            self.names.mark_used(NameKind::Table, r.index);
                            self.note_use(r, id.span);
                            let (key_ty, value_ty) =
                                self.decls.tables.sig(r.index).map_or((Ty::Error, Ty::Error), |s| (s.key, s.value));
                            let key = self.check_against(
                                index,
                                &Expect { ty: key_ty, origin: None, what: format!("a key of `{}`", id.name) },
                                scope,
                            );
                            // A key the table lacks gives null: the lookup is nullable.
                            let ty = if self.types.is_nullable(&value_ty) {
                                value_ty
                            } else {
                                Ty::Nullable(Rc::new(value_ty))
                            };
                            return (ty, plan::Expr::Lookup { table: r.index, key: Box::new(key) });
                        }
                    }
                }
                // A misspelt name as an index's base may have meant a table (a table fits only here).
                self.index_base = matches!(base.kind, ExprKind::Name(_));
                let (bt, be) = self.infer(base, scope);
                if let Ty::Dict(value) = self.types.resolve(&bt).clone() {
                    return self.dict_index(&value, be, index, scope);
                }
                if bt == Ty::Error {
                    // The base was reported (a misspelt table or array): what the index must be
                    // is unknown, so only the errors inside it are.
                    self.infer(index, scope);
                    return POISON;
                }
                let ie =
                    self.check_against(index, &Expect { ty: Ty::Int, origin: None, what: "an index".into() }, scope);
                let item = match self.types.resolve(&bt).clone() {
                    Ty::Array(item) => (*item).clone(),
                    Ty::Error => return POISON,
                    Ty::Nullable(_) => {
                        self.report(
                            Diagnostic::new(
                                codes::NULLABLE,
                                format!(
                                    "{} {}",
                                    path_text(base).map_or("the array".into(), |t| format!("`{t}`")),
                                    self.may_be_null(base)
                                ),
                            )
                            .primary(base.span, "indexed here")
                            .help(format!(
                                "give a default first: `({} ?? [])[…]`",
                                path_text(base).unwrap_or_else(|| "…".into())
                            )),
                        );
                        return POISON;
                    }
                    other => {
                        let shown = self.types.display(&other);
                        self.report(
                            Diagnostic::new(codes::BAD_OPERANDS, format!("only arrays can be indexed, not `{shown}`"))
                                .primary(base.span, format!("this is `{shown}`"))
                                .help("index an array: `items[0]`"),
                        );
                        return POISON;
                    }
                };
                // Past the end is null: the result is nullable.
                let ty = if self.types.is_nullable(&item) { item } else { Ty::Nullable(Rc::new(item)) };
                (ty, plan::Expr::Index { base: Box::new(be), index: Box::new(ie) })
            }
            ExprKind::Call { callee, args } => self.call(e, callee, args, scope),
            ExprKind::Unary { op: UnaryOp::Not, expr } => {
                let x = self.check_against(expr, &self.bool_expect("the operand of `!`"), scope);
                (Ty::Bool, plan::Expr::Not { expr: Box::new(x) })
            }
            ExprKind::Unary { op: UnaryOp::Neg, expr } => {
                let (t, x) = self.infer(expr, scope);
                if self.types.is_nullable(&t) {
                    self.nullable_operand(expr, &t, "-");
                    return POISON;
                }
                if !self.types.is_numeric(&t) {
                    let shown = self.types.display(&t);
                    self.report(
                        Diagnostic::new(codes::BAD_OPERANDS, format!("`-` takes a number, not `{shown}`"))
                            .primary(expr.span, format!("this is `{shown}`"))
                            .help("negate a number"),
                    );
                    return POISON;
                }
                (t, plan::Expr::Neg { expr: Box::new(x), span: e.span })
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, *op, lhs, rhs, scope),
            ExprKind::If { cond, then, otherwise } => {
                let (yes, no) = crate::narrow::facts(cond, scope);
                let c = self.check_against(cond, &self.bool_expect("an `if` condition"), scope);
                self.constant_condition(cond, then, otherwise);
                // A branch that is `[]` takes its type from the other one.
                let if_node = |t, o| plan::Expr::If { cond: Box::new(c), then: Box::new(t), otherwise: Box::new(o) };
                if needs_context(then) && !needs_context(otherwise) {
                    let (ot, oe) = self.with_facts(no, scope, |c, scope| c.infer(otherwise, scope));
                    let want = self.context_expect(&ot, "this branch");
                    let te = self.with_facts(yes, scope, |c, scope| c.check_against(then, &want, scope));
                    return (ot, if_node(te, oe));
                }
                let (tt, te) = self.with_facts(yes, scope, |c, scope| c.infer(then, scope));
                if needs_context(otherwise) {
                    let want = self.context_expect(&tt, "this branch");
                    let oe = self.with_facts(no, scope, |c, scope| c.check_against(otherwise, &want, scope));
                    return (tt, if_node(te, oe));
                }
                let (ot, oe) = self.with_facts(no, scope, |c, scope| c.infer(otherwise, scope));
                let ty = self.join_or_report(&tt, &ot, |a, b| {
                    Diagnostic::new(
                        codes::TYPE_MISMATCH,
                        format!("`if` branches have different types: `{a}` and `{b}`"),
                    )
                    .primary(otherwise.span, format!("this is `{b}`"))
                    .secondary(then.span, format!("this is `{a}`"))
                    .help("make both branches the same type, e.g. convert with `str(…)`")
                });
                (ty, if_node(te, oe))
            }
            ExprKind::Lambda { .. } => {
                self.report(
                    Diagnostic::new(
                        codes::BAD_ARGUMENTS,
                        "a lambda is only allowed as an argument of a function that takes one",
                    )
                    .primary(e.span, "not allowed here")
                    .help("use it in `sum(items, item => item.price)`"),
                );
                POISON
            }
            ExprKind::Object(items) if items.iter().any(|i| matches!(i, ObjectItem::Spread(_))) => {
                let mut tys: Vec<FieldTy> = Vec::new();
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        ObjectItem::Field(f) => {
                            let (t, x) = self.infer(&f.value, scope);
                            tys.retain(|ft| ft.name != f.name.name);
                            tys.push(FieldTy { name: f.name.name.clone(), ty: t, optional: false, present: false });
                            parts.push(plan::ObjectPart::Field { name: f.name.name.as_str().into(), value: x });
                        }
                        ObjectItem::Spread(s) => {
                            let (fields, x) = self.spread(s, scope);
                            for f in fields.iter() {
                                tys.retain(|ft| ft.name != f.name);
                                tys.push(f.clone());
                            }
                            parts.push(plan::ObjectPart::Spread { value: x });
                        }
                    }
                }
                (Ty::Object(tys.into()), plan::Expr::Build { parts, keep: None })
            }
            ExprKind::Object(items) => {
                let fields: Vec<&ast::ObjectField> = items
                    .iter()
                    .filter_map(|i| match i {
                        ObjectItem::Field(f) => Some(f),
                        ObjectItem::Spread(_) => None,
                    })
                    .collect();
                let mut tys: Vec<FieldTy> = Vec::new();
                let mut out = Vec::new();
                for f in fields {
                    if tys.iter().any(|t| t.name == f.name.name) {
                        self.report(twice(
                            Again::Set,
                            &format!("field `{}`", f.name.name),
                            f.name.span,
                            None,
                            SET_ONCE,
                        ));
                        continue;
                    }
                    let (t, x) = self.infer(&f.value, scope);
                    tys.push(FieldTy { name: f.name.name.clone(), ty: t, optional: false, present: false });
                    out.push((f.name.name.as_str().into(), x));
                }
                (Ty::Object(tys.into()), plan::Expr::Object { fields: out })
            }
            ExprKind::Array(items) if needs_context(e) => {
                // `[]`, `[[]]`: nothing says what the items are.
                self.report(
                    Diagnostic::new(codes::EMPTY_ARRAY, "nothing says what the items of this empty array are")
                        .primary(e.span, "an empty array of what?")
                        .help("give it a type where it is named: `let xs: [String] = []`, or use it where an array type is expected (a field, an argument, the other side of `??` or of an `if`)"),
                );
                let items = items.iter().map(|i| self.infer(i, scope).1).collect();
                (Ty::Array(Rc::new(Ty::Error)), plan::Expr::Array { items })
            }
            ExprKind::Array(items) => {
                // Items whose type comes from the others (`[]` among arrays) are checked last,
                // against the others' type.
                let mut ty: Option<Ty> = None;
                let mut out: Vec<Option<plan::Expr>> = vec![None; items.len()];
                for (slot, item) in out.iter_mut().zip(items).filter(|(_, i)| !needs_context(i)) {
                    let (t, x) = self.infer(item, scope);
                    *slot = Some(x);
                    ty = match ty {
                        None => Some(t),
                        Some(prev) => match self.types.join(&prev, &t) {
                            Some(j) => Some(j),
                            None => {
                                let (a, b) = (self.types.display(&prev), self.types.display(&t));
                                self.report(
                                    Diagnostic::new(
                                        codes::TYPE_MISMATCH,
                                        format!("array items of different types: `{a}` and `{b}`"),
                                    )
                                    .primary(item.span, format!("this is `{b}`"))
                                    .help("all items of an array have one type"),
                                );
                                Some(Ty::Error)
                            }
                        },
                    };
                }
                let item_ty = ty.unwrap_or(Ty::Error);
                for (slot, item) in out.iter_mut().zip(items) {
                    if slot.is_none() {
                        *slot = Some(self.check_against(
                            item,
                            &self.context_expect(&item_ty, "an item of this array"),
                            scope,
                        ));
                    }
                }
                let items = out.into_iter().flatten().collect();
                (Ty::Array(Rc::new(item_ty)), plan::Expr::Array { items })
            }
        }
    }

    /// A name as a value; `index_base` when it is the base of an index (`x[k]`), the one place
    /// a table fits, so a misspelt name is offered a table's name with a fix only there.
    fn name(&mut self, id: &ast::Ident, scope: &mut Scope, index_base: bool) -> (Ty, plan::Expr) {
        if let Some((ty, decl)) = scope.lookup(&id.name) {
            self.note_local_use(decl, id.span);
            return (ty, plan::Expr::Var { name: id.name.as_str().into() });
        }
        if let Some(r) = self.names.get(&id.name) {
            self.note_use(r, id.span);
        }
        match self.names.get(&id.name) {
            Some(r) if r.kind == NameKind::Secret => {
                self.names.mark_used(NameKind::Secret, r.index);
                self.report(
                    Diagnostic::new(codes::SECRET_LEAK, format!("secret `{}` cannot be used here", id.name))
                        .primary(id.span, "a secret in a value that could be sent, logged or stored")
                        .secondary(r.span, "declared as a secret here")
                        .help("secrets may only be used in an api's `auth` and `headers`, where flowc keeps them out of every output"),
                );
            }
            Some(r) => {
                let help = match r.kind {
                    NameKind::Map => format!("call it: `{}(…)`", id.name),
                    NameKind::Endpoint => {
                        format!("endpoints are called as flow steps: `{}(…)` or `for x in {}`", id.name, id.name)
                    }
                    _ => "use a value here: a parameter, a `let`, a loop variable or a literal".to_string(),
                };
                self.report(
                    Diagnostic::new(codes::WRONG_KIND, format!("`{}` is a {}, not a value", id.name, r.kind.word()))
                        .primary(id.span, "expected a value")
                        .secondary(r.span, format!("`{}` is declared here", id.name))
                        .help(help),
                );
            }
            None if id.name == crate::state::STATE_VAR => self.report(crate::state::no_state(id.span)),
            None if self.broken_name(&id.name) => {}
            None => {
                let mut candidates = self.local_candidates(scope);
                candidates.extend(["null", "true", "false"].map(|l| Candidate::new(l, Sort::Literal, true)));
                candidates.extend(self.global_candidates(|s| index_base && s == Sort::Table));
                candidates.extend(Self::builtin_candidates(|_| false));
                let help = self.meant_help(&id.name, id.span, &candidates, Some(scope), || {
                    format!("no name in scope, declared or built in, is close to `{}`", id.name)
                });
                self.report(
                    Diagnostic::new(codes::UNKNOWN_NAME, format!("unknown name `{}`", id.name))
                        .primary(id.span, "not found in this scope")
                        .help(help),
                );
            }
        }
        POISON
    }

    fn field(
        &mut self,
        e: &ast::Expr,
        base: &ast::Expr,
        name: &ast::Ident,
        optional: bool,
        scope: &mut Scope,
    ) -> (Ty, plan::Expr) {
        let (bt, be) = self.infer(base, scope);
        let resolved = self.types.resolve(&bt).clone();
        let (object_ty, via_null) = match &resolved {
            Ty::Error => return POISON,
            Ty::Nullable(inner) => ((**inner).clone(), true),
            // `null?.x` is null, of type null: never the poison type, which fits anywhere.
            Ty::Null if optional => return (Ty::Null, lit(plan::Value::Null)),
            Ty::Null => (Ty::Error, true),
            _ => (bt.clone(), false),
        };
        if via_null && !optional {
            let t = path_text(base);
            self.report(
                Diagnostic::new(
                    codes::NULLABLE,
                    format!(
                        "{} {}",
                        t.as_deref().map_or("this value".to_string(), |t| format!("`{t}`")),
                        self.may_be_null(base)
                    ),
                )
                .primary(base.span, format!("this is `{}`", self.types.display(&bt)))
                .help(match &t {
                    Some(t) => {
                        format!("use `?.` to get null instead: `{t}?.{}`, then a default with `??`", key(&name.name))
                    }
                    None => format!("use `?.{}` to get null instead, then a default with `??`", key(&name.name)),
                }),
            );
        }
        let fields = match self.types.resolve(&object_ty).clone() {
            Ty::Object(fields) => fields,
            Ty::Dict(value) => return self.dict_field(&value, be, &name.name),
            Ty::OneOf(u) => {
                let Ok(mut ty) = self.union_field(base, &object_ty, &u, name) else { return POISON };
                if via_null && optional && !self.types.is_nullable(&ty) {
                    ty = Ty::Nullable(Rc::new(ty));
                }
                return (ty, plan::Expr::Field { base: Box::new(be), name: name.name.as_str().into(), slot: None });
            }
            Ty::Error => return POISON,
            other => {
                let shown = self.types.display(&other);
                self.report(
                    Diagnostic::new(codes::UNKNOWN_FIELD, format!("`{shown}` has no fields"))
                        .primary(name.span, format!("`{}` read from a `{shown}`", name.name))
                        .help("only objects have fields"),
                );
                return POISON;
            }
        };
        let Some((slot, f)) = fields.iter().enumerate().find(|(_, f)| f.name == name.name) else {
            let choices = fields.iter().map(|f| (f.name.clone(), self.types.display(&f.ty))).collect();
            self.info.field_choices.push((name.span, choices));
            let type_name = self.types.display(&object_ty);
            let help = field_help(
                name.span,
                &name.name,
                fields.iter().map(|f| f.name.as_str()),
                &format!("`{type_name}`"),
                &fields,
            );
            let mut d = Diagnostic::new(codes::UNKNOWN_FIELD, format!("`{type_name}` has no field `{}`", name.name))
                .primary(name.span, "unknown field")
                .help(help);
            if let Ty::Named(i) = self.types.non_null(&object_ty) {
                if let Some(decl) = self.decls.types.rows.get(i).map(|r| r.decl) {
                    d = d.secondary(decl.name.span, format!("`{type_name}` is declared here"));
                }
            }
            self.report(d);
            return POISON;
        };
        if f.optional {
            self.absent_reads.insert(e.span);
        }
        let field_index = self.named_index(&object_ty);
        self.note_field(field_index, &name.name, name.span);
        if field_index.is_none() {
            if let Some(decl) = self.fields.inline_name_span(&fields, &name.name) {
                self.info.field_uses.push((name.span, decl));
            }
        }
        let mut ty = f.ty.clone();
        // Through `?.` the result may be null; through a reported `.` it is left non-null, so
        // one mistake gives one error.
        if via_null && optional && !self.types.is_nullable(&ty) {
            ty = Ty::Nullable(Rc::new(ty));
        }
        let _ = e;
        let slot = u32::try_from(slot).ok();
        (ty, plan::Expr::Field { base: Box::new(be), name: name.name.as_str().into(), slot })
    }

    /// The type two values share (`if` branches, a default and its value), or E0201 built by
    /// `mismatch` from the two types as shown.
    fn join_or_report(&mut self, a: &Ty, b: &Ty, mismatch: impl FnOnce(&str, &str) -> Diagnostic) -> Ty {
        match self.types.join(a, b) {
            Some(t) => t,
            None => {
                let d = mismatch(&self.types.display(a), &self.types.display(b));
                self.report(d);
                Ty::Error
            }
        }
    }

    /// W0007: `if true then …` / `if false then …`: one branch can never be taken.
    pub(crate) fn constant_condition(&mut self, cond: &ast::Expr, then: &ast::Expr, otherwise: &ast::Expr) {
        let ExprKind::Bool(b) = cond.kind else { return };
        let (taken, dead) = if b { (then, otherwise) } else { (otherwise, then) };
        self.report(
            Diagnostic::new(
                codes::CONSTANT_CONDITION,
                format!("the condition is always `{b}`; one branch is never taken"),
            )
            .primary(dead.span, "never taken")
            .secondary(cond.span, "always the same")
            .help(format!(
                "replace the whole `if` with `{}`",
                path_text(taken).unwrap_or_else(|| "the branch that is taken".into())
            )),
        );
    }

    pub(crate) fn nullable_operand(&mut self, operand: &ast::Expr, ty: &Ty, op: &str) {
        let t = path_text(operand);
        let default = default_for(self.types.resolve(&self.types.non_null(ty)));
        self.report(
            Diagnostic::new(
                codes::NULLABLE,
                format!(
                    "{} {}, and `{op}` needs a value",
                    t.as_deref().map_or("this operand".to_string(), |t| format!("`{t}`")),
                    self.may_be_null(operand)
                ),
            )
            .primary(operand.span, format!("this is `{}`", self.types.display(ty)))
            .help(format!("give a default: `({} ?? {default})`", t.as_deref().unwrap_or("…"))),
        );
    }

    fn binary(
        &mut self,
        e: &ast::Expr,
        op: BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        scope: &mut Scope,
    ) -> (Ty, plan::Expr) {
        match op {
            BinaryOp::And | BinaryOp::Or => return self.logical(op, lhs, rhs, scope),
            BinaryOp::Coalesce => return self.coalesce(lhs, rhs, scope),
            _ => {}
        }
        let (lt, le, rt, re) = self.operands(lhs, rhs, scope);
        let plan_op = match op {
            BinaryOp::Eq => plan::BinOp::Eq,
            BinaryOp::Ne => plan::BinOp::Ne,
            BinaryOp::Lt => plan::BinOp::Lt,
            BinaryOp::Le => plan::BinOp::Le,
            BinaryOp::Gt => plan::BinOp::Gt,
            BinaryOp::Ge => plan::BinOp::Ge,
            BinaryOp::Add => plan::BinOp::Add,
            BinaryOp::Sub => plan::BinOp::Sub,
            BinaryOp::Mul => plan::BinOp::Mul,
            BinaryOp::Div => plan::BinOp::Div,
            _ => plan::BinOp::Rem,
        };
        let node =
            move |ty: Ty| (ty, plan::Expr::Binary { op: plan_op, lhs: Box::new(le), rhs: Box::new(re), span: e.span });
        if lt == Ty::Error || rt == Ty::Error {
            return node(Ty::Error);
        }
        let operands = Operands { e, lhs, rhs, lt: &lt, rt: &rt };
        match op {
            BinaryOp::Eq | BinaryOp::Ne => self.equality(&operands, node),
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => self.ordering(op, &operands, node),
            _ => self.arithmetic(op, &operands, node),
        }
    }

    /// `and` / `or`: both operands must be Bool.
    fn logical(&mut self, op: BinaryOp, lhs: &ast::Expr, rhs: &ast::Expr, scope: &mut Scope) -> (Ty, plan::Expr) {
        let what = format!("an operand of `{}`", op.as_str());
        let l = self.check_against(lhs, &self.bool_expect(&what), scope);
        // `p != null && …p…`, `p == null || …p…`: the right side runs only where `p` is not null.
        let (when_true, when_false) = crate::narrow::facts(lhs, scope);
        let proved = if op == BinaryOp::And { when_true } else { when_false };
        let r = self.with_facts(proved, scope, |c, scope| c.check_against(rhs, &c.bool_expect(&what), scope));
        let (lhs, rhs) = (Box::new(l), Box::new(r));
        let x = if op == BinaryOp::And { plan::Expr::And { lhs, rhs } } else { plan::Expr::Or { lhs, rhs } };
        (Ty::Bool, x)
    }

    /// `a ?? b`: the default must fit the non-null value; a default on a never-null value is reported.
    fn coalesce(&mut self, lhs: &ast::Expr, rhs: &ast::Expr, scope: &mut Scope) -> (Ty, plan::Expr) {
        let (lt, le) = self.infer(lhs, scope);
        if !self.types.is_nullable(&lt) && !matches!(self.types.resolve(&lt), Ty::Error | Ty::Null) {
            self.report(
                Diagnostic::new(codes::NEEDLESS_DEFAULT, "this value is never null; the default is never used")
                    .primary(rhs.span, "never used")
                    .secondary(lhs.span, format!("this is `{}`, never null", self.types.display(&lt)))
                    .help("remove the `??` and its default"),
            );
        }
        let inner = self.types.non_null(&lt);
        if needs_context(rhs) {
            let re = self.check_against(rhs, &self.context_expect(&inner, "the default"), scope);
            return (inner, plan::Expr::Coalesce { lhs: Box::new(le), rhs: Box::new(re) });
        }
        let (rt, re) = self.infer(rhs, scope);
        let default = default_for(self.types.resolve(&inner));
        let ty = self.join_or_report(&inner, &rt, |a, b| {
            Diagnostic::new(codes::TYPE_MISMATCH, format!("the default is `{b}`, but the value is `{a}`"))
                .primary(rhs.span, format!("this is `{b}`"))
                .secondary(lhs.span, format!("this is `{a}` when not null"))
                .help(format!("give a default of type `{a}`, e.g. `?? {default}`"))
        });
        (ty, plan::Expr::Coalesce { lhs: Box::new(le), rhs: Box::new(re) })
    }

    /// `==` / `!=`: the two sides must be comparable, and a string literal must be in the other side's union.
    fn equality(&mut self, o: &Operands<'_>, node: impl FnOnce(Ty) -> (Ty, plan::Expr)) -> (Ty, plan::Expr) {
        let Operands { e, lhs, rhs, lt, rt } = *o;
        // Comparing a union to a literal outside it is a typo that would silently never match.
        for (a, at, b) in [(lhs, lt, rt), (rhs, rt, lt)] {
            if let (Ty::StrLit(s), Ty::Union(members)) =
                (self.types.resolve(at), self.types.resolve(&self.types.non_null(b)))
            {
                if !members.iter().any(|m| **m == **s) {
                    let help = not_in_union_help(s, members, a);
                    self.report(
                        Diagnostic::new(
                            codes::NOT_IN_UNION,
                            format!("{s:?} is not one of {}", self.types.display(&self.types.non_null(b))),
                        )
                        .primary(a.span, "this comparison can never be true")
                        .help(help),
                    );
                    return node(Ty::Error);
                }
            }
        }
        let with_null = *lt == Ty::Null || *rt == Ty::Null;
        if let Some(json) = [(lhs, lt), (rhs, rt)]
            .into_iter()
            .find(|(_, t)| !with_null && matches!(self.types.resolve(&self.types.non_null(t)), Ty::Json))
        {
            self.report(crate::dicts::json_compared(json.0.span, e.span));
            return node(Ty::Error);
        }
        let comparable = *lt == Ty::Null || *rt == Ty::Null || self.types.join(lt, rt).is_some();
        if !comparable {
            let (a, b) = (self.types.display(lt), self.types.display(rt));
            self.report(
                Diagnostic::new(codes::BAD_OPERANDS, format!("`{a}` and `{b}` cannot be compared"))
                    .primary(e.span, "never equal")
                    .help("compare values of the same type; convert with `str(…)` if needed"),
            );
            return node(Ty::Error);
        }
        if let Err(ArithError::DecimalFloat) = self.numeric_mix(lt, rt) {
            self.decimal_float(e);
        }
        node(Ty::Bool)
    }

    /// `<`, `<=`, `>`, `>=`: two numbers, two strings, two Dates or two DateTimes.
    fn ordering(
        &mut self,
        op: BinaryOp,
        o: &Operands<'_>,
        node: impl FnOnce(Ty) -> (Ty, plan::Expr),
    ) -> (Ty, plan::Expr) {
        let Operands { e, lhs, rhs, lt, rt } = *o;
        if self.any_nullable(op, lhs, lt, rhs, rt) {
            return node(Ty::Error);
        }
        let (l, r) = (self.types.resolve(lt).clone(), self.types.resolve(rt).clone());
        let ok = (self.types.is_numeric(&l) && self.types.is_numeric(&r))
            || (self.types.is_stringy(&l) && self.types.is_stringy(&r))
            || matches!((&l, &r), (Ty::Date, Ty::Date) | (Ty::DateTime, Ty::DateTime));
        if !ok {
            return self.bad_operands(e, op, lt, rt, node);
        }
        if let Err(ArithError::DecimalFloat) = self.numeric_mix(&l, &r) {
            self.decimal_float(e);
        }
        node(Ty::Bool)
    }

    /// `+`, `-`, `*`, `/`, `%`: numbers, string concatenation, or a DateTime moved by a Duration.
    fn arithmetic(
        &mut self,
        op: BinaryOp,
        o: &Operands<'_>,
        node: impl FnOnce(Ty) -> (Ty, plan::Expr),
    ) -> (Ty, plan::Expr) {
        let Operands { e, lhs, rhs, lt, rt } = *o;
        if self.any_nullable(op, lhs, lt, rhs, rt) {
            return node(Ty::Error);
        }
        if op == BinaryOp::Add && self.types.is_stringy(lt) && self.types.is_stringy(rt) {
            return node(Ty::String);
        }
        if matches!(op, BinaryOp::Add | BinaryOp::Sub)
            && matches!(self.types.resolve(lt), Ty::DateTime)
            && matches!(self.types.resolve(rt), Ty::Duration)
        {
            return node(Ty::DateTime);
        }
        match self.types.arith(lt, rt) {
            Ok(t) => {
                let t = match (op, t) {
                    (BinaryOp::Div, Ty::Int) => Ty::Decimal,
                    (_, Ty::NumLit) => Ty::Decimal,
                    (_, t) => t,
                };
                node(t)
            }
            Err(ArithError::DecimalFloat) => {
                self.decimal_float(e);
                node(Ty::Error)
            }
            Err(ArithError::NotNumbers) => self.bad_operands(e, op, lt, rt, node),
        }
    }

    /// Both operands; a string literal beside a Date or DateTime is read as one (checked here).
    fn operands(&mut self, lhs: &ast::Expr, rhs: &ast::Expr, scope: &mut Scope) -> (Ty, plan::Expr, Ty, plan::Expr) {
        // `xs == []`: the empty side takes the other side's type.
        if needs_context(lhs) != needs_context(rhs) {
            let (typed, empty) = if needs_context(lhs) { (rhs, lhs) } else { (lhs, rhs) };
            let (t, x) = self.infer(typed, scope);
            let want = self.types.non_null(&t);
            let ex = self.check_against(empty, &self.context_expect(&want, "this comparison"), scope);
            return if needs_context(lhs) { (want, ex, t, x) } else { (t, x, want, ex) };
        }
        let is_date = |checker: &Self, t: &Ty| {
            matches!(checker.types.resolve(&checker.types.non_null(t)), Ty::Date | Ty::DateTime)
        };
        if matches!(lhs.kind, ExprKind::Str(_)) {
            let (rt, re) = self.infer(rhs, scope);
            if is_date(self, &rt) {
                let want = self.types.non_null(&rt);
                let le = self.check_against(
                    lhs,
                    &Expect { ty: want.clone(), origin: None, what: "this comparison".into() },
                    scope,
                );
                return (want, le, rt, re);
            }
            let (lt, le) = self.infer(lhs, scope);
            return (lt, le, rt, re);
        }
        let (lt, le) = self.infer(lhs, scope);
        if matches!(rhs.kind, ExprKind::Str(_)) && is_date(self, &lt) {
            let want = self.types.non_null(&lt);
            let re = self.check_against(
                rhs,
                &Expect { ty: want.clone(), origin: None, what: "this comparison".into() },
                scope,
            );
            return (lt, le, want, re);
        }
        let (rt, re) = self.infer(rhs, scope);
        (lt, le, rt, re)
    }

    fn numeric_mix(&self, a: &Ty, b: &Ty) -> Result<Ty, ArithError> {
        if self.types.is_numeric(a) && self.types.is_numeric(b) {
            self.types.arith(a, b)
        } else {
            Ok(Ty::Error)
        }
    }

    fn any_nullable(&mut self, op: BinaryOp, lhs: &ast::Expr, lt: &Ty, rhs: &ast::Expr, rt: &Ty) -> bool {
        let mut any = false;
        for (x, t) in [(lhs, lt), (rhs, rt)] {
            if self.types.is_nullable(t) {
                self.nullable_operand(x, t, op.as_str());
                any = true;
            }
        }
        any
    }

    fn decimal_float(&mut self, e: &ast::Expr) {
        self.report(
            Diagnostic::new(codes::DECIMAL_FLOAT, "Decimal and Float mixed")
                .primary(e.span, "exact and inexact numbers in one operation")
                .help("declare both fields `Decimal` (exact, for money) or both `Float`"),
        );
    }

    fn bad_operands(
        &mut self,
        e: &ast::Expr,
        op: BinaryOp,
        lt: &Ty,
        rt: &Ty,
        node: impl FnOnce(Ty) -> (Ty, plan::Expr),
    ) -> (Ty, plan::Expr) {
        let (a, b) = (self.types.display(lt), self.types.display(rt));
        let help = if op == BinaryOp::Add && (self.types.is_stringy(lt) || self.types.is_stringy(rt)) {
            "convert the other side to text first: `\"…\" + str(x)`".to_string()
        } else {
            format!("`{}` takes two numbers{}", op.as_str(), if op == BinaryOp::Add { " or two strings" } else { "" })
        };
        self.report(
            Diagnostic::new(codes::BAD_OPERANDS, format!("`{}` cannot be applied to `{a}` and `{b}`", op.as_str()))
                .primary(e.span, format!("`{a}` {} `{b}`", op.as_str()))
                .help(help),
        );
        node(Ty::Error)
    }

    /// A call of a name nothing declares or builds in, written at `at`: its did-you-mean is
    /// chosen among every name, those that can be called there first (a flow step calls an
    /// endpoint, an expression a map, function or built-in, a flow's `let` either).
    pub(crate) fn unknown_callee(&mut self, callee: &ast::Ident, at: CallAt) {
        if self.broken_name(&callee.name) {
            return;
        }
        let fits: crate::meant::Fits = match at {
            CallAt::Expr => |s| matches!(s, Sort::Map | Sort::Function | Sort::Builtin),
            CallAt::FlowLet => |s| matches!(s, Sort::Map | Sort::Function | Sort::Builtin | Sort::Endpoint),
            CallAt::FlowStep => |s| s == Sort::Endpoint,
        };
        let mut candidates = self.global_candidates(fits);
        candidates.extend(Self::builtin_candidates(fits));
        let what = match at {
            CallAt::Expr => "function or map",
            CallAt::FlowLet => "function, map or endpoint",
            CallAt::FlowStep => "endpoint",
        };
        let help = self.meant_help(&callee.name, callee.span, &candidates, None, || {
            format!("no {what}, declared or built in, has a name close to `{}`", callee.name)
        });
        self.report(
            Diagnostic::new(codes::UNKNOWN_CALLEE, format!("unknown {what} `{}`", callee.name))
                .primary(callee.span, "not declared")
                .help(help),
        );
    }

    fn call(&mut self, e: &ast::Expr, callee: &ast::Ident, args: &[ast::Arg], scope: &mut Scope) -> (Ty, plan::Expr) {
        if let Some(b) = plan::Builtin::from_name(&callee.name) {
            if !scope.contains(&callee.name) {
                self.info.builtin_uses.push((callee.span, b));
                return self.builtin(e, b, args, scope);
            }
        }
        if let Some(r) = self.names.get(&callee.name) {
            self.note_use(r, callee.span);
        }
        match self.names.get(&callee.name) {
            Some(r) if matches!(r.kind, NameKind::Map | NameKind::Function) => {
                self.declared_call(e, r.kind, r.index, callee, args, scope)
            }
            Some(r) => {
                for a in args {
                    self.infer(&a.value, scope);
                }
                let help = match r.kind {
                    NameKind::Endpoint => "endpoints are called as flow steps (`create(body: …)` or `let r = create(…)`), not inside expressions",
                    _ => "only functions and maps can be called",
                };
                self.report(
                    Diagnostic::new(
                        codes::WRONG_KIND,
                        format!("`{}` is a {}; it cannot be called here", callee.name, r.kind.word()),
                    )
                    .primary(callee.span, "called here")
                    .secondary(r.span, "declared here")
                    .help(help),
                );
                POISON
            }
            None => {
                for a in args {
                    if !matches!(a.value.kind, ExprKind::Lambda { .. }) {
                        self.infer(&a.value, scope);
                    }
                }
                self.unknown_callee(callee, CallAt::Expr);
                POISON
            }
        }
    }

    /// `match x { p | q => a, _ => b }`: every pattern a value `x` can have, every value covered
    /// (or a `_`), no arm that can never be taken.
    pub(crate) fn match_expr(
        &mut self,
        e: &ast::Expr,
        scrutinee: &ast::Expr,
        arms: &[ast::MatchArm],
        expect: Option<&Expect>,
        scope: &mut Scope,
    ) -> (Ty, plan::Expr) {
        let (scrutinee_ty, scrutinee_plan) = self.infer(scrutinee, scope);
        let nullable = self.types.is_nullable(&scrutinee_ty);
        let inner = self.types.resolve(&self.types.non_null(&scrutinee_ty)).clone();
        let mut covered: Vec<plan::Value> = Vec::new();
        let mut wildcard = false;
        let mut out_arms = Vec::new();
        let mut otherwise = None;
        let mut result: Option<Ty> = expect.map(|x| x.ty.clone());
        let mut members_covered: Vec<usize> = Vec::new();
        for arm in arms {
            let mut patterns = Vec::new();
            let mut reachable = false;
            if let Some(test) = self.member_arm(arm, &inner, wildcard, &mut members_covered) {
                let (name, member_ty, reached) = test;
                if !reached {
                    self.report(
                        Diagnostic::new(codes::UNREACHABLE, "this arm can never be taken")
                            .primary(arm.span, "every value it matches is matched above")
                            .help("remove the arm, or move it above the arm that takes its values"),
                    );
                }
                let mark = scope.len();
                self.bind(scope, &name.name, name.span, member_ty, crate::NameKind::Param);
                let body = self.arm_body(arm, expect, &mut result, scope);
                scope.truncate(mark, &mut self.diagnostics);
                if let (Ty::OneOf(u), Some(i)) = (&inner, members_covered.last()) {
                    out_arms.push(plan::MatchArm {
                        patterns: Vec::new(),
                        member: Some(plan::MemberTest {
                            union: match crate::ty::plan_type(&Ty::OneOf(u.clone())) {
                                plan::Type::OneOf(pu) => pu,
                                _ => plan::OneOf { variants: Vec::new(), tag: None },
                            },
                            member: *i,
                            bind: name.name.as_str().into(),
                        }),
                        body,
                    });
                }
                continue;
            }
            for p in &arm.patterns {
                let Some(literal) = &p.literal else {
                    reachable |= !wildcard;
                    wildcard = true;
                    continue;
                };
                let (pt, px) = self.infer(literal, scope);
                let plan::Expr::Lit { value } = px else { continue };
                if !self.pattern_fits(p, literal, &pt, &value, &inner, nullable, scrutinee, &scrutinee_ty) {
                    continue;
                }
                let already = wildcard
                    || covered.iter().any(|c| flow_eval::eval::compare(c, &value) == Some(std::cmp::Ordering::Equal));
                reachable |= !already;
                if !already {
                    covered.push(value.clone());
                }
                patterns.push(value);
            }
            if !reachable {
                self.report(
                    Diagnostic::new(codes::UNREACHABLE, "this arm can never be taken")
                        .primary(arm.span, "every value it matches is matched above")
                        .help("remove the arm, or move it above the arm that takes its values"),
                );
            }
            // Only a value that is not null reaches an arm without `null` whose patterns are all
            // values, or a `_` after the `null` arm: there the scrutinee is not null.
            let null_arm =
                arm.patterns.iter().any(|p| p.literal.as_ref().is_some_and(|l| matches!(l.kind, ExprKind::Null)));
            let past_null = covered.iter().any(plan::Value::is_null);
            let proved = if !null_arm && (past_null || arm.patterns.iter().all(|p| p.literal.is_some())) {
                crate::narrow::scrutinee_path(scrutinee, scope)
            } else {
                Vec::new()
            };
            let mut proved = proved;
            proved.extend(self.tag_facts(scrutinee, &inner, arm, &covered, &patterns, nullable, scope));
            let body = self.with_facts(proved, scope, |c, scope| c.arm_body(arm, expect, &mut result, scope));
            if arm.patterns.iter().any(|p| p.literal.is_none()) && otherwise.is_none() {
                otherwise = Some(Box::new(body.clone()));
            }
            if !patterns.is_empty() {
                out_arms.push(plan::MatchArm { patterns, member: None, body });
            }
        }
        if let Ty::OneOf(u) = &inner {
            self.members_exhaustive(scrutinee, &scrutinee_ty, u, nullable, &covered, &members_covered, wildcard);
        } else {
            self.exhaustive(scrutinee, &scrutinee_ty, &inner, nullable, &covered, wildcard);
        }
        let ty = result.unwrap_or(Ty::Never);
        (ty, plan::Expr::Match { scrutinee: Box::new(scrutinee_plan), arms: out_arms, otherwise, span: e.span })
    }

    /// Whether an arm's literal pattern can match the scrutinee; reports why not when it cannot.
    #[allow(clippy::too_many_arguments)]
    fn pattern_fits(
        &mut self,
        p: &ast::Pattern,
        literal: &ast::Expr,
        pt: &Ty,
        value: &plan::Value,
        inner: &Ty,
        nullable: bool,
        scrutinee: &ast::Expr,
        scrutinee_ty: &Ty,
    ) -> bool {
        let fits = match (value, inner) {
            (plan::Value::Null, _) => nullable,
            (plan::Value::Str(s), Ty::Union(members)) => {
                if !members.contains(s) {
                    let help = not_in_union_help(s, members, literal);
                    self.report(
                        Diagnostic::new(
                            codes::NOT_IN_UNION,
                            format!("{s:?} is not one of {}", self.types.display(inner)),
                        )
                        .primary(p.span, "this arm can never match")
                        .help(help),
                    );
                    return false;
                }
                true
            }
            _ => *inner == Ty::Error || self.types.join(pt, inner).is_some(),
        };
        if !fits {
            let (a, b) = (self.types.display(pt), self.types.display(scrutinee_ty));
            self.report(
                Diagnostic::new(codes::TYPE_MISMATCH, format!("a `{a}` pattern on a `{b}` value"))
                    .primary(p.span, format!("this is `{a}`"))
                    .secondary(scrutinee.span, format!("this is `{b}`"))
                    .help("match values of the scrutinee's type"),
            );
            return false;
        }
        true
    }

    /// An arm's body: checked against the expected type, or inferred and joined with the arms before it.
    fn arm_body(
        &mut self,
        arm: &ast::MatchArm,
        expect: Option<&Expect>,
        result: &mut Option<Ty>,
        scope: &mut Scope,
    ) -> plan::Expr {
        match expect {
            Some(x) => self.check_against(&arm.body, x, scope),
            None => {
                let (bt, bx) = self.infer(&arm.body, scope);
                *result = match result.take() {
                    None => Some(bt),
                    Some(prev) => match self.types.join(&prev, &bt) {
                        Some(j) => Some(j),
                        None => {
                            let (a, b) = (self.types.display(&prev), self.types.display(&bt));
                            self.report(
                                Diagnostic::new(
                                    codes::TYPE_MISMATCH,
                                    format!("`match` arms have different types: `{a}` and `{b}`"),
                                )
                                .primary(arm.body.span, format!("this is `{b}`"))
                                .help("make every arm the same type"),
                            );
                            Some(Ty::Error)
                        }
                    },
                };
                bx
            }
        }
    }

    /// Exhaustiveness: reports the values no arm covers, unless there is a `_`.
    fn exhaustive(
        &mut self,
        scrutinee: &ast::Expr,
        scrutinee_ty: &Ty,
        inner: &Ty,
        nullable: bool,
        covered: &[plan::Value],
        wildcard: bool,
    ) {
        // Exhaustive: a `_`, or every member of a union / both Bools, and null when nullable.
        let mut missing: Vec<String> = match inner {
            Ty::Union(members) => members
                .iter()
                .filter(|m| !covered.contains(&plan::Value::Str((*m).clone())))
                .map(|m| format!("{m:?}"))
                .collect(),
            Ty::Bool => [true, false]
                .into_iter()
                .filter(|b| !covered.contains(&plan::Value::Bool(*b)))
                .map(|b| b.to_string())
                .collect(),
            Ty::Error => Vec::new(),
            other => vec![format!("other {} values", self.types.display(other))],
        };
        if nullable && !covered.contains(&plan::Value::Null) {
            missing.push("null".into());
        }
        if !wildcard && !missing.is_empty() {
            let arms_text: Vec<String> =
                missing.iter().filter(|m| !m.starts_with("other ")).map(|m| format!("`{m} => …`")).collect();
            let help = if arms_text.len() == missing.len() {
                format!("add {}, or `_ => …` for the rest", arms_text.join(", "))
            } else {
                "add `_ => …` for the values no arm names".to_string()
            };
            self.report(
                Diagnostic::new(codes::NOT_EXHAUSTIVE, format!("this `match` does not cover {}", missing.join(", ")))
                    .primary(scrutinee.span, format!("this is `{}`", self.types.display(scrutinee_ty)))
                    .help(help),
            );
        }
    }
}

/// The help of a string literal outside a union (`==` and `match` patterns): the closest member
/// as a fix of the literal, or, with none close, the members.
fn not_in_union_help(s: &str, members: &[String], literal: &ast::Expr) -> flow_diagnostics::Help {
    match suggest(s, members.iter().map(String::as_str)) {
        Some(n) => flow_diagnostics::Help::from(format!("did you mean \"{n}\"?"))
            .with_fix(matches!(literal.kind, ExprKind::Str(_)).then(|| Fix::replace(literal.span, format!("{n:?}")))),
        None => {
            format!("the value is one of {}", members.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", "))
                .into()
        }
    }
}
