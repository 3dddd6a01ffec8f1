//! Typing calls of built-in functions. Patterns, formats and zones must be literals, and are
//! validated here, at check time, so a bad regex or date format never reaches a run.

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan::Builtin as B;
use flow_plan::{self as plan};
use flow_syntax::ast::{self, ExprKind};

use crate::expr::Expect;
use crate::formats::{self, Goal};
use crate::scope::Scope;
use crate::ty::{FieldTy, Ty};
use crate::Cx;

const POISON: (Ty, plan::Expr) = (Ty::Error, plan::Expr::Lit { value: plan::Value::Null });

/// How many arguments each builtin takes.
fn arity(b: B) -> (usize, usize) {
    match b {
        B::Lower | B::Upper | B::Trim | B::Str | B::Len | B::Flatten | B::Distinct | B::First | B::Last => (1, 1),
        B::Floor | B::Ceil | B::Abs | B::ParseInt | B::ParseDecimal | B::ParseFloat => (1, 1),
        B::ToDecimal | B::ToFloat | B::ToInt | B::Date | B::Fail => (1, 1),
        B::Split | B::Contains | B::StartsWith | B::EndsWith | B::Matches | B::Capture | B::Join => (2, 2),
        B::Map | B::Filter | B::Find | B::Any | B::All | B::SortBy | B::GroupBy => (2, 2),
        B::ParseDate | B::FormatDate | B::ToTimezone | B::AddDays | B::DaysBetween => (2, 2),
        B::Count | B::Sum | B::Min | B::Max | B::Round => (1, 2),
        B::Substring | B::PadLeft | B::PadRight | B::ParseDatetime => (2, 3),
        B::Replace | B::RegexReplace => (3, 3),
        B::Format => (1, usize::MAX),
    }
}

impl Cx<'_> {
    pub(crate) fn builtin(&mut self, e: &ast::Expr, b: B, args: &[ast::Arg], scope: &mut Scope) -> (Ty, plan::Expr) {
        let (lo, hi) = arity(b);
        if args.len() < lo || args.len() > hi || args.iter().any(|a| a.name.is_some()) {
            self.report(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("wrong arguments for `{}`", b.name()))
                    .primary(e.span, "this call")
                    .help(format!("call it as `{}`", b.signature())),
            );
            for a in args {
                if !matches!(a.value.kind, ExprKind::Lambda { .. }) {
                    self.infer(&a.value, scope);
                }
            }
            return POISON;
        }
        let a: Vec<&ast::Expr> = args.iter().map(|x| &x.value).collect();
        let mut xs: Vec<plan::Expr> = Vec::with_capacity(a.len());
        let ty = match self.builtin_type(b, e.span, &a, &mut xs, scope) {
            Some(t) => t,
            None => return POISON,
        };
        let ty = if b.is_fallible() { Ty::Fallible(Rc::new(ty)) } else { ty };
        (ty, plan::Expr::CallFn { func: b, args: xs, span: e.span, compiled: Default::default() })
    }

    fn want(&mut self, e: &ast::Expr, ty: Ty, b: B, xs: &mut Vec<plan::Expr>, scope: &mut Scope) {
        let x =
            self.check_against(e, &Expect { ty, origin: None, what: format!("the argument of `{}`", b.name()) }, scope);
        xs.push(x);
    }

    /// An argument's type, refusing null (with a `??` suggestion).
    fn value(&mut self, e: &ast::Expr, b: B, xs: &mut Vec<plan::Expr>, scope: &mut Scope) -> Option<Ty> {
        let (t, x) = self.infer(e, scope);
        xs.push(x);
        if self.types.is_nullable(&t) {
            self.nullable_operand(e, &t, b.name());
            return None;
        }
        Some(t)
    }

    /// An array argument: its item type.
    fn array(&mut self, e: &ast::Expr, b: B, xs: &mut Vec<plan::Expr>, scope: &mut Scope) -> Option<Ty> {
        let t = self.value(e, b, xs, scope)?;
        match self.types.resolve(&t).clone() {
            Ty::Array(item) => Some((*item).clone()),
            Ty::Error => None,
            other => {
                self.wrong(e.span, b, &other);
                None
            }
        }
    }

    fn wrong(&mut self, span: Span, b: B, found: &Ty) {
        let shown = self.types.display(found);
        self.report(
            Diagnostic::new(codes::TYPE_MISMATCH, format!("`{}` does not take `{shown}`", b.name()))
                .primary(span, format!("this is `{shown}`"))
                .help(format!("call it as `{}`", b.signature())),
        );
    }

    /// A lambda argument applied to items of `item`: the type of its body.
    fn lambda(&mut self, e: &ast::Expr, item: Ty, b: B, xs: &mut Vec<plan::Expr>, scope: &mut Scope) -> Option<Ty> {
        let ExprKind::Lambda { param, body } = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("the second argument of `{}` is a lambda", b.name()))
                    .primary(e.span, "not a lambda")
                    .help(format!("call it as `{}`", b.signature())),
            );
            self.infer(e, scope);
            return None;
        };
        let mark = scope.len();
        self.bind(scope, &param.name, param.span, item, crate::NameKind::LambdaParam);
        let (t, x) = self.infer(body, scope);
        let mut diags = Vec::new();
        scope.truncate(mark, &mut diags);
        xs.push(plan::Expr::Lambda { param: param.name.as_str().into(), body: Box::new(x) });
        Some(t)
    }

    fn lambda_bool(
        &mut self,
        e: &ast::Expr,
        item: Ty,
        b: B,
        xs: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<()> {
        let t = self.lambda(e, item, b, xs, scope)?;
        if !matches!(self.types.resolve(&t), Ty::Bool | Ty::Error) {
            let body = match &e.kind {
                ExprKind::Lambda { body, .. } => body.span,
                _ => e.span,
            };
            let shown = self.types.display(&t);
            self.report(
                Diagnostic::new(
                    codes::TYPE_MISMATCH,
                    format!("the lambda of `{}` must give a Bool, not `{shown}`", b.name()),
                )
                .primary(body, format!("this is `{shown}`"))
                .help("write a condition: `item => item.quantity > 0`"),
            );
            return None;
        }
        Some(())
    }

    /// Ordering keys: numbers, text, dates, Bools.
    fn sortable(&self, t: &Ty) -> bool {
        !self.types.is_nullable(t)
            && matches!(
                self.types.resolve(t),
                Ty::Int
                    | Ty::Float
                    | Ty::Decimal
                    | Ty::NumLit
                    | Ty::String
                    | Ty::StrLit(_)
                    | Ty::Union(_)
                    | Ty::Date
                    | Ty::DateTime
                    | Ty::Bool
                    | Ty::Error
            )
    }

    fn key_of(&mut self, e: &ast::Expr, t: &Ty, b: B) -> bool {
        if self.sortable(t) {
            return true;
        }
        let shown = self.types.display(t);
        self.report(
            Diagnostic::new(
                codes::TYPE_MISMATCH,
                format!("`{}` orders by numbers, text or dates, not `{shown}`", b.name()),
            )
            .primary(e.span, format!("this gives `{shown}`"))
            .help("give a non-null key: `item => item.name ?? \"\"`"),
        );
        false
    }

    /// A literal string argument (a pattern, format or zone), validated by `check`.
    fn literal(
        &mut self,
        e: &ast::Expr,
        xs: &mut Vec<plan::Expr>,
        what: &str,
        check: impl FnOnce(&str) -> Result<(), String>,
    ) -> Option<String> {
        let ExprKind::Str(s) = &e.kind else {
            self.report(
                Diagnostic::new(codes::BAD_LITERAL_ARGUMENT, format!("the {what} must be a string literal"))
                    .primary(e.span, "not a literal")
                    .help(format!("write the {what} in the call, so flowc can check it before the run")),
            );
            return None;
        };
        if let Err(why) = check(s) {
            self.report(
                Diagnostic::new(codes::BAD_LITERAL_ARGUMENT, format!("invalid {what}: {why}"))
                    .primary(e.span, format!("this {what}"))
                    .help(match what {
                        "regex" => {
                            "see https://docs.rs/regex for the syntax; escape `\\` as `\\\\` in the string".to_string()
                        }
                        "time zone" => {
                            "use an IANA zone name such as \"Europe/Berlin\" or \"America/New_York\"".to_string()
                        }
                        _ => "use strftime items such as %Y-%m-%d, %H:%M:%S, %z".to_string(),
                    }),
            );
            return None;
        }
        xs.push(plan::Expr::Lit { value: plan::Value::Str(s.clone()) });
        Some(s.clone())
    }

    fn builtin_type(
        &mut self,
        b: B,
        span: Span,
        a: &[&ast::Expr],
        xs: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        let regex_ok = |p: &str| {
            regex::Regex::new(p).map(|_| ()).map_err(|e| {
                let text = e.to_string();
                let last = text.lines().last().unwrap_or("").trim();
                last.strip_prefix("error: ").unwrap_or(last).to_string()
            })
        };
        let zone_ok = |z: &str| z.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| format!("unknown zone {z:?}"));
        let format_ok = |f: &str| {
            use chrono::format::{Item, StrftimeItems};
            if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
                Err(format!("{f:?} has an unknown % item"))
            } else {
                Ok(())
            }
        };
        Some(match b {
            B::Lower | B::Upper | B::Trim => {
                self.want(a[0], Ty::String, b, xs, scope);
                Ty::String
            }
            B::Split => {
                self.want(a[0], Ty::String, b, xs, scope);
                self.want(a[1], Ty::String, b, xs, scope);
                Ty::Array(Rc::new(Ty::String))
            }
            B::Replace => {
                for x in a {
                    self.want(x, Ty::String, b, xs, scope);
                }
                Ty::String
            }
            B::StartsWith | B::EndsWith => {
                self.want(a[0], Ty::String, b, xs, scope);
                self.want(a[1], Ty::String, b, xs, scope);
                Ty::Bool
            }
            B::Contains => {
                let t = self.value(a[0], b, xs, scope)?;
                match self.types.resolve(&t).clone() {
                    Ty::Array(item) => self.want(a[1], (*item).clone(), b, xs, scope),
                    Ty::String | Ty::StrLit(_) | Ty::Union(_) | Ty::Error => self.want(a[1], Ty::String, b, xs, scope),
                    other => {
                        self.wrong(a[0].span, b, &other);
                        return None;
                    }
                }
                Ty::Bool
            }
            B::Substring => {
                self.want(a[0], Ty::String, b, xs, scope);
                self.want(a[1], Ty::Int, b, xs, scope);
                if let Some(len) = a.get(2) {
                    self.want(len, Ty::Int, b, xs, scope);
                }
                Ty::String
            }
            B::PadLeft | B::PadRight => {
                self.want(a[0], Ty::String, b, xs, scope);
                self.want(a[1], Ty::Int, b, xs, scope);
                match a.get(2) {
                    Some(fill) => self.want(fill, Ty::String, b, xs, scope),
                    None => xs.push(plan::Expr::Lit { value: plan::Value::Str(" ".into()) }),
                }
                Ty::String
            }
            B::Matches | B::Capture | B::RegexReplace => {
                self.want(a[0], Ty::String, b, xs, scope);
                self.literal(a[1], xs, "regex", regex_ok)?;
                if b == B::RegexReplace {
                    self.want(a[2], Ty::String, b, xs, scope);
                }
                match b {
                    B::Matches => Ty::Bool,
                    B::Capture => Ty::Nullable(Rc::new(Ty::String)),
                    _ => Ty::String,
                }
            }
            B::Format => {
                let template = self.literal(a[0], xs, "format template", |_| Ok(()))?;
                let holes = count_holes(&template);
                if holes != a.len() - 1 {
                    self.report(
                        Diagnostic::new(
                            codes::BAD_ARGUMENTS,
                            format!(
                                "the template has {holes} `{{}}` hole{} but {} value{} follow",
                                if holes == 1 { "" } else { "s" },
                                a.len() - 1,
                                if a.len() == 2 { "" } else { "s" }
                            ),
                        )
                        .primary(span, "this call")
                        .help("give one value per `{}`; write `{{` and `}}` for literal braces"),
                    );
                    return None;
                }
                for x in &a[1..] {
                    let t = self.value(x, b, xs, scope)?;
                    if matches!(self.types.resolve(&t), Ty::Array(_) | Ty::Object(_)) {
                        self.wrong(x.span, b, &t);
                        return None;
                    }
                }
                Ty::String
            }
            B::Str => {
                let t = self.value(a[0], b, xs, scope)?;
                if matches!(self.types.resolve(&t), Ty::Array(_) | Ty::Object(_) | Ty::Duration) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                Ty::String
            }
            B::Len => {
                let t = self.value(a[0], b, xs, scope)?;
                if !matches!(
                    self.types.resolve(&t),
                    Ty::String | Ty::StrLit(_) | Ty::Union(_) | Ty::Array(_) | Ty::Error
                ) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                Ty::Int
            }
            B::Map => {
                let item = self.array(a[0], b, xs, scope)?;
                Ty::Array(Rc::new(self.lambda(a[1], item, b, xs, scope)?))
            }
            B::Filter => {
                let item = self.array(a[0], b, xs, scope)?;
                self.lambda_bool(a[1], item.clone(), b, xs, scope)?;
                Ty::Array(Rc::new(item))
            }
            B::Find => {
                let item = self.array(a[0], b, xs, scope)?;
                self.lambda_bool(a[1], item.clone(), b, xs, scope)?;
                nullable(&item, self)
            }
            B::Any | B::All => {
                let item = self.array(a[0], b, xs, scope)?;
                self.lambda_bool(a[1], item, b, xs, scope)?;
                Ty::Bool
            }
            B::Count => {
                let item = self.array(a[0], b, xs, scope)?;
                if let Some(l) = a.get(1) {
                    self.lambda_bool(l, item, b, xs, scope)?;
                }
                Ty::Int
            }
            B::Sum => {
                let item = self.array(a[0], b, xs, scope)?;
                let t = match a.get(1) {
                    Some(l) => self.lambda(l, item, b, xs, scope)?,
                    None => item,
                };
                if self.types.is_nullable(&t) || !self.types.is_numeric(&t) {
                    let shown = self.types.display(&t);
                    self.report(
                        Diagnostic::new(codes::TYPE_MISMATCH, format!("`sum` adds numbers, not `{shown}`"))
                            .primary(a.get(1).unwrap_or(&a[0]).span, format!("gives `{shown}`"))
                            .help("sum a non-null numeric field: `sum(items, item => item.price)`"),
                    );
                    return None;
                }
                if t == Ty::NumLit {
                    Ty::Decimal
                } else {
                    t
                }
            }
            B::Min | B::Max => {
                let lambda = a.get(1).filter(|x| matches!(x.kind, ExprKind::Lambda { .. }));
                let (first_ty, first_x) = self.infer(a[0], scope);
                xs.push(first_x);
                match (self.types.resolve(&first_ty).clone(), lambda, a.get(1)) {
                    (Ty::Array(item), Some(l), _) => {
                        let key = self.lambda(l, (*item).clone(), b, xs, scope)?;
                        if !self.key_of(l, &key, b) {
                            return None;
                        }
                        nullable(&item, self)
                    }
                    (Ty::Array(item), None, None) => {
                        if !self.key_of(a[0], &item, b) {
                            return None;
                        }
                        nullable(&item, self)
                    }
                    (_, None, Some(second)) => {
                        if self.types.is_nullable(&first_ty) {
                            self.nullable_operand(a[0], &first_ty, b.name());
                            return None;
                        }
                        let t2 = self.value(second, b, xs, scope)?;
                        match self.types.arith(&first_ty, &t2) {
                            Ok(t) if self.types.is_numeric(&first_ty) && self.types.is_numeric(&t2) => {
                                if t == Ty::NumLit {
                                    Ty::Decimal
                                } else {
                                    t
                                }
                            }
                            _ => {
                                self.wrong(span, b, &first_ty);
                                return None;
                            }
                        }
                    }
                    (other, _, _) => {
                        self.wrong(a[0].span, b, &other);
                        return None;
                    }
                }
            }
            B::SortBy | B::GroupBy => {
                let item = self.array(a[0], b, xs, scope)?;
                let key = self.lambda(a[1], item.clone(), b, xs, scope)?;
                if !self.key_of(a[1], &key, b) {
                    return None;
                }
                if b == B::SortBy {
                    Ty::Array(Rc::new(item))
                } else {
                    let key = if let Ty::StrLit(_) = key { Ty::String } else { key };
                    let group = vec![
                        FieldTy { name: "key".into(), ty: key, optional: false },
                        FieldTy { name: "items".into(), ty: Ty::Array(Rc::new(item)), optional: false },
                    ];
                    Ty::Array(Rc::new(Ty::Object(group.into())))
                }
            }
            B::Flatten => {
                let item = self.array(a[0], b, xs, scope)?;
                match self.types.resolve(&item).clone() {
                    Ty::Array(inner) => Ty::Array(inner),
                    Ty::Error => Ty::Error,
                    other => {
                        self.wrong(a[0].span, b, &Ty::Array(Rc::new(other)));
                        return None;
                    }
                }
            }
            B::Distinct => Ty::Array(Rc::new(self.array(a[0], b, xs, scope)?)),
            B::First | B::Last => {
                let item = self.array(a[0], b, xs, scope)?;
                nullable(&item, self)
            }
            B::Join => {
                let item = self.array(a[0], b, xs, scope)?;
                if !self.types.is_stringy(&item) || self.types.is_nullable(&item) {
                    self.wrong(a[0].span, b, &Ty::Array(Rc::new(item)));
                    return None;
                }
                self.want(a[1], Ty::String, b, xs, scope);
                Ty::String
            }
            B::Round | B::Abs => {
                let t = self.value(a[0], b, xs, scope)?;
                if !self.types.is_numeric(&t) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                if let Some(d) = a.get(1) {
                    if b == B::Abs {
                        self.wrong(d.span, b, &Ty::Int);
                        return None;
                    }
                    self.want(d, Ty::Int, b, xs, scope);
                }
                if t == Ty::NumLit {
                    Ty::Decimal
                } else {
                    t
                }
            }
            B::Floor | B::Ceil | B::ToInt => {
                let t = self.value(a[0], b, xs, scope)?;
                if !self.types.is_numeric(&t) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                Ty::Int
            }
            B::ParseInt | B::ParseDecimal | B::ParseFloat => {
                self.want(a[0], Ty::String, b, xs, scope);
                match b {
                    B::ParseInt => Ty::Int,
                    B::ParseDecimal => Ty::Decimal,
                    _ => Ty::Float,
                }
            }
            B::ToDecimal | B::ToFloat => {
                let t = self.value(a[0], b, xs, scope)?;
                if !self.types.is_numeric(&t) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                if b == B::ToDecimal {
                    Ty::Decimal
                } else {
                    Ty::Float
                }
            }
            B::Date => {
                self.want(a[0], Ty::DateTime, b, xs, scope);
                Ty::Date
            }
            B::ParseDate => {
                self.want(a[0], Ty::String, b, xs, scope);
                let format = self.literal(a[1], xs, "date format", format_ok)?;
                self.format_gives(a[1], &format, Goal::Date)?;
                Ty::Date
            }
            B::ParseDatetime => {
                self.want(a[0], Ty::String, b, xs, scope);
                let format = self.literal(a[1], xs, "date format", format_ok)?;
                let goal = if a.len() == 3 { Goal::LocalDateTime } else { Goal::DateTime };
                match a.get(2) {
                    Some(z) => {
                        self.literal(z, xs, "time zone", zone_ok)?;
                    }
                    None => {
                        if !["%z", "%:z", "%#z", "%+"].iter().any(|o| format.contains(o)) {
                            self.report(
                                Diagnostic::new(codes::BAD_LITERAL_ARGUMENT, "a date-time format without an offset needs a time zone")
                                    .primary(a[1].span, "no %z in this format")
                                    .help("say which zone the text is in: `parse_datetime(s, \"%Y-%m-%d %H:%M\", \"Europe/Paris\")`"),
                            );
                            return None;
                        }
                    }
                }
                self.format_gives(a[1], &format, goal)?;
                Ty::DateTime
            }
            B::FormatDate => {
                let t = self.value(a[0], b, xs, scope)?;
                if !matches!(self.types.resolve(&t), Ty::Date | Ty::DateTime | Ty::Error) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                let format = self.literal(a[1], xs, "date format", format_ok)?;
                self.format_writes(a[1], &format, matches!(self.types.resolve(&t), Ty::Date))?;
                Ty::String
            }
            B::ToTimezone => {
                self.want(a[0], Ty::DateTime, b, xs, scope);
                self.literal(a[1], xs, "time zone", zone_ok)?;
                Ty::DateTime
            }
            B::AddDays => {
                let t = self.value(a[0], b, xs, scope)?;
                if !matches!(self.types.resolve(&t), Ty::Date | Ty::DateTime | Ty::Error) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                self.want(a[1], Ty::Int, b, xs, scope);
                t
            }
            B::DaysBetween => {
                self.want(a[0], Ty::Date, b, xs, scope);
                self.want(a[1], Ty::Date, b, xs, scope);
                Ty::Int
            }
            B::Fail => {
                self.want(a[0], Ty::String, b, xs, scope);
                Ty::Never
            }
        })
    }
}

impl Cx<'_> {
    /// E0216 unless the literal date format `format` of a parsing built-in can ever give what
    /// `goal` asks for: the help names the missing strftime items, and the strftime spelling of
    /// a Java-style pattern.
    fn format_gives(&mut self, e: &ast::Expr, format: &str, goal: Goal) -> Option<()> {
        if formats::can_give(format, goal) {
            return Some(());
        }
        let missing = formats::missing(format, goal);
        let missing: Vec<&str> = missing.iter().map(|m| m.trim_start_matches("the ")).collect();
        let mut help = match missing.split_last() {
            Some((last, [])) => format!("the format has no {last}"),
            Some((last, rest)) => format!("the format has no {}, nor {last}", rest.join(", ")),
            None => format!("write a format with the strftime items of {}", goal_items(goal)),
        };
        if let Some(s) = formats::strftime_of(format).filter(|s| formats::can_give(s, goal)) {
            help.push_str(&format!("; {format:?} looks like a Java-style pattern, which in strftime is {s:?}"));
        }
        self.report(
            Diagnostic::new(
                codes::BAD_LITERAL_ARGUMENT,
                format!("the date format {format:?} can never read {}", goal.what()),
            )
            .primary(e.span, "every text read with it would fail")
            .help(help),
        );
        None
    }

    /// E0216 unless `format_date` can write something with `format`: it has at least one
    /// strftime item, and none a Date does not have (a time of day, an offset) when the value is
    /// a Date.
    fn format_writes(&mut self, e: &ast::Expr, format: &str, date: bool) -> Option<()> {
        let (message, label, mut help) = if !formats::has_items(format) {
            (
                format!("the date format {format:?} has no strftime item: every value would give this same text"),
                "writes nothing of the date",
                "write the parts of the date with strftime items: `%Y` year, `%m` month, `%d` day, `%H:%M` time"
                    .to_string(),
            )
        } else if date && !formats::fits_a_date(format) {
            (
                format!("the date format {format:?} writes a time of day or an offset, which a Date does not have"),
                "cannot write a Date",
                "leave out `%H`, `%M`, `%S`, `%z` and the like, or format a DateTime".to_string(),
            )
        } else {
            return Some(());
        };
        if let Some(s) = formats::strftime_of(format).filter(|s| !date || formats::fits_a_date(s)) {
            help.push_str(&format!("; {format:?} looks like a Java-style pattern, which in strftime is {s:?}"));
        }
        self.report(Diagnostic::new(codes::BAD_LITERAL_ARGUMENT, message).primary(e.span, label).help(help));
        None
    }
}

fn goal_items(goal: Goal) -> &'static str {
    match goal {
        Goal::Date => "a date: `%Y-%m-%d`",
        Goal::LocalDateTime => "a date and a time of day: `%Y-%m-%d %H:%M`",
        Goal::DateTime => "a date, a time of day and an offset: `%Y-%m-%d %H:%M %z`",
    }
}

fn nullable(t: &Ty, cx: &Cx) -> Ty {
    if cx.types.is_nullable(t) {
        t.clone()
    } else {
        Ty::Nullable(Rc::new(t.clone()))
    }
}

/// `{}` holes in a format template; `{{` and `}}` are literal braces.
fn count_holes(template: &str) -> usize {
    let mut n = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('{')) | ('}', Some('}')) => {
                chars.next();
            }
            ('{', Some('}')) => {
                chars.next();
                n += 1;
            }
            _ => {}
        }
    }
    n
}
