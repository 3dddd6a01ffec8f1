//! Typing the date functions whose formats are judged here: whether a literal format can
//! ever read (or write) what it is asked for, and zones.

use flow_plan::Builtin as B;
use flow_plan::{self as plan};
use flow_syntax::ast;

use crate::formats::{self, Goal};
use crate::scope::Scope;
use crate::ty::Ty;
use crate::Checker;
use flow_diagnostics::{codes, Diagnostic, Span};

impl Checker<'_> {
    /// Types a call of a dates built-in whose row is not all fixed shapes; the others are
    /// typed from the table (`super::fixed`).
    pub(super) fn dates_type(
        &mut self,
        b: B,
        _span: Span,
        a: &[&ast::Expr],
        plan_args: &mut Vec<plan::Expr>,
        scope: &mut Scope,
    ) -> Option<Ty> {
        Some(match b {
            B::ParseDate => {
                self.want(a[0], Ty::String, b, plan_args, scope);
                let format = self.literal(a[1], plan_args, "date format", format_ok)?;
                self.format_gives(a[1], &format, Goal::Date)?;
                Ty::Date
            }
            B::ParseDatetime => {
                self.want(a[0], Ty::String, b, plan_args, scope);
                let format = self.literal(a[1], plan_args, "date format", format_ok)?;
                let goal = if a.len() == 3 { Goal::LocalDateTime } else { Goal::DateTime };
                match a.get(2) {
                    Some(z) => {
                        self.literal(z, plan_args, "time zone", super::zone_ok)?;
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
                let t = self.value(a[0], b, plan_args, scope)?;
                if !matches!(self.types.resolve(&t), Ty::Date | Ty::DateTime | Ty::Error) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                let format = self.literal(a[1], plan_args, "date format", format_ok)?;
                self.format_writes(a[1], &format, matches!(self.types.resolve(&t), Ty::Date))?;
                Ty::String
            }
            B::AddDays => {
                let t = self.value(a[0], b, plan_args, scope)?;
                if !matches!(self.types.resolve(&t), Ty::Date | Ty::DateTime | Ty::Error) {
                    self.wrong(a[0].span, b, &t);
                    return None;
                }
                self.want(a[1], Ty::Int, b, plan_args, scope);
                t
            }
            _ => return self.fixed(b, a, plan_args, scope),
        })
    }
}

impl Checker<'_> {
    /// E0216 unless the literal date format `format` of a parsing built-in can ever give what
    /// `goal` asks for: the help names the missing strftime items, and the strftime spelling of
    /// a Java-style pattern.
    fn format_gives(&mut self, e: &ast::Expr, format: &str, goal: Goal) -> Option<()> {
        if formats::can_give(format, goal) {
            return Some(());
        }
        let mut help = formats::lacks(format, goal)
            .unwrap_or_else(|| format!("write a format with the strftime items of {}", goal_items(goal)));
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

/// Whether a literal date format has only strftime items chrono knows.
fn format_ok(f: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        Err(format!("{f:?} has an unknown % item"))
    } else {
        Ok(())
    }
}
