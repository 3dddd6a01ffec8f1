//! Date and time functions: `date`, `parse_date`, `parse_datetime`, `format_date`,
//! `to_timezone`, `add_days`, `days_between`. Zones are IANA names from the data bundled in
//! chrono-tz, never the machine's.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone};

use super::{fail, int, internal, text};
use crate::compiled::Prepared;
use crate::datefmt::{self, DateFormat};
use crate::eval::EvalError;
use crate::{Builtin, Expr, Span, Value};

/// A date function on its evaluated arguments (`args` are the expressions, for literals).
pub(super) fn call(
    func: Builtin,
    values: Vec<Value>,
    span: Span,
    site: Option<&Prepared>,
    args: &[Expr],
) -> Result<Value, EvalError> {
    use Builtin as B;
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(Value::Null);
    Ok(match func {
        B::Date => match next() {
            Value::DateTime(t) => Value::Date(t.date_naive()),
            other => return internal(&format!("date of {}", other.kind())),
        },
        B::ParseDate => {
            let (s, format) = (text(next())?, text(next())?);
            match NaiveDate::parse_from_str(s.trim(), &format) {
                Ok(d) => Value::Date(d),
                Err(e) => return fail(span, format!("{s:?} is not a date in the format {format:?} ({e})")),
            }
        }
        B::ParseDatetime => {
            let (s, format) = (text(next())?, text(next())?);
            let parsed = match next() {
                Value::Str(z) => {
                    let tz = zone(&z, span)?;
                    match NaiveDateTime::parse_from_str(s.trim(), &format) {
                        Ok(local) => match tz.from_local_datetime(&local).single() {
                            Some(t) => Ok(t.fixed_offset()),
                            None => {
                                return fail(
                                    span,
                                    format!("{s:?} does not exist or is ambiguous in {z} (a clock change)"),
                                )
                            }
                        },
                        Err(e) => Err(e),
                    }
                }
                _ => DateTime::parse_from_str(s.trim(), &format),
            };
            match parsed {
                Ok(t) => Value::DateTime(t),
                Err(e) => return fail(span, format!("{s:?} is not a date-time in the format {format:?} ({e})")),
            }
        }
        B::FormatDate => {
            let v = next();
            let mut out = String::new();
            if format_date_fast(site, args.get(1), &v, &mut out) {
                return Ok(Value::Str(out));
            }
            let format = text(next())?;
            let mut out = String::new();
            let written = match &v {
                Value::Date(d) => write!(out, "{}", d.format(&format)),
                Value::DateTime(t) => write!(out, "{}", t.format(&format)),
                other => return internal(&format!("format_date of {}", other.kind())),
            };
            if written.is_err() {
                return fail(span, format!("the format {format:?} does not fit a {}", v.kind()));
            }
            Value::Str(out)
        }
        B::ToTimezone => match (next(), next()) {
            (Value::DateTime(t), Value::Str(z)) => Value::DateTime(t.with_timezone(&zone(&z, span)?).fixed_offset()),
            _ => return internal("to_timezone of unexpected kinds"),
        },
        B::AddDays => {
            let (v, n) = (next(), int(&next())?);
            let days = Duration::try_days(n);
            let r = match (&v, days) {
                (Value::Date(d), Some(days)) => d.checked_add_signed(days).map(Value::Date),
                (Value::DateTime(t), Some(days)) => t.checked_add_signed(days).map(Value::DateTime),
                (Value::Date(_) | Value::DateTime(_), None) => None,
                _ => return internal(&format!("add_days of {}", v.kind())),
            };
            match r {
                Some(r) => r,
                None => return fail(span, "the date is out of range"),
            }
        }
        B::DaysBetween => match (next(), next()) {
            (Value::Date(a), Value::Date(b)) => Value::Int((b - a).num_days()),
            _ => return internal("days_between of unexpected kinds"),
        },
        other => return internal(&format!("`{}` is not a date function", other.name())),
    })
}

/// `format_date` with a literal format writes the common fields itself, appending to `out`;
/// `false` (nothing written) when chrono must.
pub(super) fn format_date_fast(site: Option<&Prepared>, format: Option<&Expr>, v: &Value, out: &mut String) -> bool {
    // The side table's format, or (a call not from the plan) the format read here.
    let read;
    let format = match site {
        Some(Prepared::DateFormat(f)) => f,
        _ => {
            let Some(Expr::Lit { value: Value::Str(f) }) = format else { return false };
            read = datefmt::compile(f);
            &read
        }
    };
    let DateFormat::Fast(parts) = format else { return false };
    let (at, has_time) = match v {
        Value::Date(d) => ((*d).into(), false),
        Value::DateTime(t) => (t.naive_local(), true),
        _ => return false,
    };
    datefmt::write(parts, at, has_time, out)
}

fn zone(name: &str, span: Span) -> Result<chrono_tz::Tz, EvalError> {
    name.parse::<chrono_tz::Tz>().or_else(|_| fail(span, format!("unknown time zone `{name}`")))
}
