//! Wire forms of declared types: `DateTime(unix_seconds)`, `DateTime(unix_millis, string)`,
//! `DateTime("%Y-%m-%dT%H:%M:%S%.f%z")`, `DateTime("%Y-%m-%d %H:%M", zone: "Europe/Paris")`,
//! `Decimal(string)`, `Int(string)`. A form says how JSON writes the value; the checker reads
//! the written arguments into a [`plan::Form`] and refuses one that could never read a value
//! (E0219 a form the type cannot have, E0220 a time format or zone that can never work).

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic, Span};
use flow_plan::{Form, UnixUnit};
use flow_syntax::ast::{self, ExprKind};

use crate::formats::{self, Goal};
use crate::ty::Ty;
use crate::Checker;

/// The forms each type may declare, for messages.
const FORMS: &str = "`DateTime(rfc3339)`, `DateTime(unix_seconds)`, `DateTime(unix_millis, string)`, \
`DateTime(\"%Y-%m-%dT%H:%M:%S%.f%z\")`, `DateTime(\"%Y-%m-%d %H:%M\", zone: \"Europe/Paris\")`, \
`Decimal(string)`, `Decimal(number)`, `Int(string)`";

impl Checker<'_> {
    /// The type of a written `Type(form…)`; `Ty::Error` (reported) when the form is not one.
    pub(crate) fn formed_type(&mut self, call: &ast::Expr) -> Ty {
        let ExprKind::Call { callee, args } = &call.kind else { return Ty::Error };
        let base = match callee.name.as_str() {
            "DateTime" => Ty::DateTime,
            "Decimal" => Ty::Decimal,
            "Int" => Ty::Int,
            _ => {
                self.bad_form(callee.span, format!("`{}` has no wire form to declare", callee.name), "no form here");
                return Ty::Error;
            }
        };
        let form = match base {
            Ty::DateTime => self.time_form(call.span, args),
            _ => self.number_form(&callee.name, call.span, args),
        };
        match form {
            Some(form) => Ty::Formed(Rc::new(base), Rc::new(form)),
            None => Ty::Error,
        }
    }

    fn bad_form(&mut self, at: Span, message: String, label: &str) {
        self.report(
            Diagnostic::new(codes::BAD_TYPE_FORM, message)
                .primary(at, label.to_string())
                .help(format!("the forms a type can declare: {FORMS}")),
        );
    }

    /// `Decimal(string)`, `Decimal(number)`, `Int(string)`, `Int(number)`.
    fn number_form(&mut self, base: &str, span: Span, args: &[ast::Arg]) -> Option<Form> {
        match args {
            [ast::Arg { name: None, value }] => match word(value) {
                Some("string") => Some(Form::Text),
                Some("number") => Some(Form::Number),
                _ => {
                    self.bad_form(
                        value.span,
                        format!("`{base}` is written as a `string` or a `number`"),
                        "not a form of it",
                    );
                    None
                }
            },
            _ => {
                self.bad_form(span, format!("`{base}(…)` takes one form: `string` or `number`"), "one word expected");
                None
            }
        }
    }

    /// `rfc3339`, `unix_seconds` / `unix_millis` [, `string` | `number`] [, `digits: N`], or a
    /// format [, `zone: "…"`].
    fn time_form(&mut self, span: Span, args: &[ast::Arg]) -> Option<Form> {
        let (positional, named): (Vec<&ast::Arg>, Vec<&ast::Arg>) = args.iter().partition(|a| a.name.is_none());
        let Some(first) = positional.first() else {
            self.bad_form(
                span,
                "`DateTime(…)` needs a form: `unix_seconds`, `unix_millis`, `rfc3339` or a format".into(),
                "no form",
            );
            return None;
        };
        let named_arg = |name: &str| named.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == name));
        for a in &named {
            let n = a.name.as_ref().map_or("", |n| n.name.as_str());
            let fits = match (&first.value.kind, n) {
                (ExprKind::Str(_), "zone") => true,
                (ExprKind::Name(w), "digits") => w.name.starts_with("unix_"),
                _ => false,
            };
            if !fits {
                self.bad_form(
                    a.value.span,
                    format!("`{n}:` is not a setting of this form"),
                    "not a setting of this form",
                );
                return None;
            }
        }
        match &first.value.kind {
            ExprKind::Str(format) => {
                if let Some(extra) = positional.get(1) {
                    self.bad_form(
                        extra.value.span,
                        "a format takes only a `zone:` beside it".into(),
                        "not a setting of a format",
                    );
                    return None;
                }
                let zone = match named_arg("zone") {
                    Some(z) => match &z.value.kind {
                        ExprKind::Str(name) if name.parse::<chrono_tz::Tz>().is_ok() => Some(name.clone()),
                        ExprKind::Str(name) => {
                            self.report(
                                Diagnostic::new(codes::IMPOSSIBLE_TIME_FORM, format!("unknown time zone {name:?}"))
                                    .primary(z.value.span, "no IANA zone of this name")
                                    .help("write an IANA zone name, such as \"Europe/Paris\", \"America/New_York\" or \"UTC\""),
                            );
                            return None;
                        }
                        _ => {
                            self.bad_form(z.value.span, "`zone:` is a zone name in a string".into(), "not a string");
                            return None;
                        }
                    },
                    None => None,
                };
                self.time_format_reads(first.value.span, format, zone.is_some())?;
                Some(Form::Format { format: format.clone(), zone })
            }
            ExprKind::Name(w) => {
                let unit = match w.name.as_str() {
                    "rfc3339" if positional.len() == 1 => return Some(Form::Rfc3339),
                    "unix_seconds" => UnixUnit::Seconds,
                    "unix_millis" => UnixUnit::Millis,
                    _ => {
                        self.bad_form(
                            first.value.span,
                            format!("`{}` is not a form of a DateTime", w.name),
                            "not a form",
                        );
                        return None;
                    }
                };
                let text = match positional.get(1).map(|a| (a, word(&a.value))) {
                    None | Some((_, Some("number"))) => false,
                    Some((_, Some("string"))) => true,
                    Some((a, _)) => {
                        self.bad_form(
                            a.value.span,
                            "unix time is written as a `string` or a `number`".into(),
                            "not `string` or `number`",
                        );
                        return None;
                    }
                };
                if let Some(extra) = positional.get(2) {
                    self.bad_form(
                        extra.value.span,
                        "unix time takes a unit, `string` or `number`, and `digits:`".into(),
                        "one too many",
                    );
                    return None;
                }
                let digits = match named_arg("digits") {
                    None => None,
                    Some(d) => match d.value.kind {
                        ExprKind::Int(n) if (0..=i64::from(unit.max_digits())).contains(&n) => Some(n as u8),
                        _ => {
                            self.bad_form(
                                d.value.span,
                                format!("`digits:` is a whole number from 0 to {}", unit.max_digits()),
                                "not a number of fraction digits this unit can hold",
                            );
                            return None;
                        }
                    },
                };
                Some(Form::Unix { unit, text, digits })
            }
            _ => {
                self.bad_form(first.value.span, "a DateTime's form is a word or a format string".into(), "not a form");
                None
            }
        }
    }

    /// E0220 unless `format` can read a date and a time of day (with its offset, when no zone
    /// is given): otherwise no value of the field could ever be read.
    fn time_format_reads(&mut self, at: Span, format: &str, zoned: bool) -> Option<()> {
        use chrono::format::{Item, StrftimeItems};
        if StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) {
            self.report(
                Diagnostic::new(
                    codes::IMPOSSIBLE_TIME_FORM,
                    format!("the time format {format:?} has an unknown % item"),
                )
                .primary(at, "not a strftime format")
                .help("write the format with strftime items: `%Y-%m-%dT%H:%M:%S%.f%z`"),
            );
            return None;
        }
        let goal = if zoned { Goal::LocalDateTime } else { Goal::DateTime };
        if formats::can_give(format, goal) {
            return Some(());
        }
        let mut help = formats::lacks(format, goal).unwrap_or_else(|| {
            "write a format with a date, a time of day and an offset: `%Y-%m-%dT%H:%M:%S%.f%z`".to_string()
        });
        if !zoned && formats::can_give(format, Goal::LocalDateTime) {
            help = "the format has no offset: add `%z`, or say which zone its times are in: `zone: \"Europe/Paris\"`"
                .into();
        }
        if let Some(s) = formats::strftime_of(format).filter(|s| formats::can_give(s, goal)) {
            help.push_str(&format!("; {format:?} looks like a Java-style pattern, which in strftime is {s:?}"));
        }
        self.report(
            Diagnostic::new(
                codes::IMPOSSIBLE_TIME_FORM,
                format!("the time format {format:?} can never read {}", goal.what()),
            )
            .primary(at, "no value of this field could be read")
            .help(help),
        );
        None
    }
}

/// A bare word argument: `string`, `unix_seconds`.
fn word(e: &ast::Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Name(w) => Some(w.name.as_str()),
        _ => None,
    }
}

/// A written form as the source has it, for editors: `DateTime(unix_seconds, string)`.
pub(crate) fn written(call: &ast::Expr) -> String {
    let ExprKind::Call { callee, args } = &call.kind else { return "(…)".into() };
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            let value = match &a.value.kind {
                ExprKind::Name(w) => w.name.clone(),
                ExprKind::Str(s) => format!("{s:?}"),
                ExprKind::Int(n) => n.to_string(),
                _ => "…".into(),
            };
            match &a.name {
                Some(n) => format!("{}: {value}", n.name),
                None => value,
            }
        })
        .collect();
    format!("{}({})", callee.name, args.join(", "))
}
