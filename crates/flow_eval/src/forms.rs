//! Declared wire forms at the edges (`flow_plan::Form`): reading a scalar from the one JSON form
//! its type declares, and writing it back in that form. Unix times are read from their digits
//! (never through a double), so `"1512085950.000216"` is exactly 216 microseconds past the
//! second; a time a form cannot write exactly is refused, never rounded.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use flow_plan::{Form, UnixUnit};

use crate::eval::EvalError;
use crate::{NamedType, Type, Value};

const NANOS: i128 = 1_000_000_000;

/// What a value of `base` in `form` looks like, for a mismatch's message.
pub(crate) fn expected(base: &Type, form: &Form) -> String {
    let name = match base {
        Type::Int => "Int",
        Type::Decimal => "Decimal",
        _ => "DateTime",
    };
    form.expected(name)
}

/// A JSON string's content as `base` in `form`; `None` when it is not one.
pub(crate) fn read_text(base: &Type, form: &Form, s: &str) -> Option<Value> {
    match (base, form) {
        (Type::Decimal, Form::Text) => match crate::decode::exact_decimal(s) {
            Some(Ok(d)) => Some(Value::Decimal(d)),
            _ => None,
        },
        (Type::Int, Form::Text) if plain_int(s) => s.parse::<i64>().ok().map(Value::Int),
        (Type::DateTime, Form::Rfc3339) => DateTime::parse_from_rfc3339(s).ok().map(Value::DateTime),
        (Type::DateTime, Form::Unix { unit, text: true, .. }) => unix(s, *unit).map(Value::DateTime),
        (Type::DateTime, Form::Format { format, zone }) => formatted(s, format, zone.as_deref()).map(Value::DateTime),
        _ => None,
    }
}

/// A JSON number's text (validated JSON) as `base` in `form`; `None` when it is not one.
pub(crate) fn read_number(base: &Type, form: &Form, n: &str) -> Option<Value> {
    match (base, form) {
        (Type::Decimal, Form::Number) => match crate::decode::exact_decimal(n) {
            Some(Ok(d)) => Some(Value::Decimal(d)),
            _ => None,
        },
        (Type::Int, Form::Number) => n.parse::<i64>().ok().map(Value::Int),
        (Type::DateTime, Form::Unix { unit, text: false, .. }) => unix(n, *unit).map(Value::DateTime),
        _ => None,
    }
}

/// `-?[0-9]+`: an Int's text in a string, nothing around it.
fn plain_int(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Unix time from its digits: `1234567890`, `-5`, `1512085950.000216`; at most nanoseconds
/// (nine fraction digits of seconds, six of milliseconds; zeros past them are fine). No
/// exponent, no double: the digits are the time.
fn unix(s: &str, unit: UnixUnit) -> Option<DateTime<FixedOffset>> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if int.is_empty() || int.len() > 20 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let max = usize::from(unit.max_digits());
    let frac = match frac {
        None => "",
        Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => return None,
        Some(f) if f.len() > max && f[max..].bytes().any(|b| b != b'0') => return None,
        Some(f) => &f[..f.len().min(max)],
    };
    let per_unit: i128 = match unit {
        UnixUnit::Seconds => NANOS,
        UnixUnit::Millis => 1_000_000,
    };
    let whole: i128 = int.parse().ok()?;
    let mut part: i128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    for _ in frac.len()..max {
        part *= 10;
    }
    let mut total = whole.checked_mul(per_unit)?.checked_add(part)?;
    if negative {
        total = -total;
    }
    let secs = i64::try_from(total.div_euclid(NANOS)).ok()?;
    let nanos = u32::try_from(total.rem_euclid(NANOS)).ok()?;
    DateTime::from_timestamp(secs, nanos).map(|t| t.fixed_offset())
}

/// A time written with a strftime format: with its offset (`%z`), or local to `zone`, where a
/// time that does not exist or is ambiguous there (a clock change) is refused.
fn formatted(s: &str, format: &str, zone: Option<&str>) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_str(s, format) {
        return Some(t);
    }
    let tz: chrono_tz::Tz = zone?.parse().ok()?;
    let local = NaiveDateTime::parse_from_str(s, format).ok()?;
    tz.from_local_datetime(&local).single().map(|t| t.fixed_offset())
}

/// `value` as `base` in `form`, for JSON output; an error when the form cannot write it exactly.
pub(crate) fn write(value: &Value, base: &Type, form: &Form) -> Result<Value, String> {
    Ok(match (value, form) {
        (Value::Null, _) => Value::Null,
        (Value::Decimal(_) | Value::Int(_), Form::Text) => Value::Str(crate::ToText::to_text(value)),
        (Value::Int(n), Form::Number) if matches!(base, Type::Decimal) => Value::Decimal((*n).into()),
        (Value::Decimal(_) | Value::Int(_), Form::Number) => value.clone(),
        (Value::DateTime(_), Form::Rfc3339) => Value::Str(crate::ToText::to_text(value)),
        (Value::DateTime(t), Form::Unix { unit, text, digits }) => {
            let written = unix_text(t, *unit, *digits)?;
            if *text {
                Value::Str(written)
            } else if written.contains('.') {
                match crate::decode::exact_decimal(&written) {
                    Some(Ok(d)) => Value::Decimal(d),
                    _ => return Err(format!("{written} cannot be written as an exact JSON number")),
                }
            } else {
                Value::Int(written.parse().map_err(|_| format!("{written} is beyond a 64-bit number"))?)
            }
        }
        (Value::DateTime(t), Form::Format { format, zone }) => {
            let mut out = String::new();
            let shown = match zone.as_deref().and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
                Some(tz) => {
                    std::fmt::Write::write_fmt(&mut out, format_args!("{}", t.with_timezone(&tz).format(format)))
                }
                None => std::fmt::Write::write_fmt(&mut out, format_args!("{}", t.format(format))),
            };
            if shown.is_err() {
                return Err(format!("the format {format:?} cannot write {}", crate::ToText::to_text(value)));
            }
            // Exact or refused: what is written must read back as the same instant.
            match formatted(&out, format, zone.as_deref()) {
                Some(back) if back == *t => Value::Str(out),
                _ => {
                    return Err(format!(
                        "{} cannot be written exactly as {format:?} (it would read back as another time)",
                        crate::ToText::to_text(value)
                    ))
                }
            }
        }
        (other, _) => other.clone(),
    })
}

/// A time as unix seconds or milliseconds: `digits` fraction digits, or as few as keep it exact.
fn unix_text(t: &DateTime<FixedOffset>, unit: UnixUnit, digits: Option<u8>) -> Result<String, String> {
    let total = i128::from(t.timestamp()) * NANOS + i128::from(t.timestamp_subsec_nanos());
    let (per_unit, places): (i128, usize) = match unit {
        UnixUnit::Seconds => (NANOS, 9),
        UnixUnit::Millis => (1_000_000, 6),
    };
    let (whole, part) = (total.abs() / per_unit, total.abs() % per_unit);
    let mut frac = format!("{part:0places$}");
    match digits {
        Some(d) => {
            let d = usize::from(d).min(places);
            if frac[d..].bytes().any(|b| b != b'0') {
                let what = match unit {
                    UnixUnit::Seconds => "seconds",
                    UnixUnit::Millis => "milliseconds",
                };
                return Err(format!(
                    "{} has more precision than unix {what} with {d} fraction digits can write",
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ));
            }
            frac.truncate(d);
        }
        None => {
            while frac.ends_with('0') {
                frac.pop();
            }
        }
    }
    let sign = if total < 0 { "-" } else { "" };
    Ok(if frac.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}.{frac}") })
}

/// Writes every declared form of `ty` in `value`, at any depth, so the value encodes as the
/// target declares (`DateTime(unix_seconds)` as a number, `Decimal(string)` as a string). An
/// error names the field's path and what could not be written.
pub fn write_forms(value: &mut Value, ty: &Type, types: &[NamedType]) -> Result<(), EvalError> {
    fn walk(value: &mut Value, ty: &Type, types: &[NamedType], path: &mut String, depth: usize) -> Result<(), String> {
        if depth > 64 {
            return Ok(());
        }
        match (&mut *value, ty) {
            (v, Type::Named(i)) => match types.get(*i) {
                Some(n) => walk(v, &n.ty, types, path, depth + 1),
                None => Ok(()),
            },
            (v, Type::Nullable(t)) => walk(v, t, types, path, depth + 1),
            (v, Type::OneOf(u)) => match u.pick_value(v, types) {
                Some(member) => walk(v, member, types, path, depth + 1),
                None => Ok(()),
            },
            (v, Type::Formed(base, form)) => {
                *v = write(v, base, form).map_err(|e| {
                    let at = if path.is_empty() { "the value".to_string() } else { format!("`{path}`") };
                    format!("{at} cannot be written as {}: {e}", expected(base, form))
                })?;
                Ok(())
            }
            (Value::Array(items), Type::Array(t)) => {
                for (n, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{n}]"));
                    walk(item, t, types, path, depth + 1)?;
                    path.truncate(len);
                }
                Ok(())
            }
            (Value::Object(fields), Type::Object(decl)) => {
                for (k, v) in fields.iter_mut() {
                    if let Some(f) = decl.iter().find(|f| f.name == *k) {
                        let len = path.len();
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(k);
                        walk(v, &f.ty, types, path, depth + 1)?;
                        path.truncate(len);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    if !flow_plan::has_form(ty, types) {
        return Ok(());
    }
    walk(value, ty, types, &mut String::new(), 0).map_err(|message| EvalError::new(message, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn unix_times_are_read_from_their_digits() {
        let s = UnixUnit::Seconds;
        assert_eq!(unix("1234567890", s), Some(at("2009-02-13T23:31:30Z")));
        // Slack's `ts`: microseconds exactly, where a double would give 1512085950.0002160072.
        assert_eq!(unix("1512085950.000216", s), Some(at("2017-11-30T23:52:30.000216Z")));
        assert_eq!(unix("1512085950.123456789", s).map(|t| t.timestamp_subsec_nanos()), Some(123_456_789));
        assert_eq!(unix("1.5000000000", s), Some(at("1970-01-01T00:00:01.5Z")), "zeros past nanoseconds are exact");
        assert_eq!(unix("1.0000000001", s), None, "below a nanosecond is refused, not rounded");
        assert_eq!(unix("-1.5", s), Some(at("1969-12-31T23:59:58.5Z")));
        for bad in ["", "1e9", "12a", "1.", ".5", "--1", "99999999999999999999"] {
            assert_eq!(unix(bad, s), None, "{bad}");
        }
        assert_eq!(unix("1634051282521", UnixUnit::Millis), Some(at("2021-10-12T15:08:02.521Z")));
        assert_eq!(unix("1634051282521.5", UnixUnit::Millis).map(|t| t.timestamp_subsec_nanos()), Some(521_500_000));
    }

    #[test]
    fn a_format_reads_offsets_with_and_without_a_colon_and_local_times_in_their_zone() {
        let jira = "%Y-%m-%dT%H:%M:%S%.3f%z";
        let want = Some(at("2022-07-15T09:19:44.990Z"));
        assert_eq!(formatted("2022-07-15T09:19:44.990+0000", jira, None), want);
        assert_eq!(formatted("2022-07-15T09:19:44.990+00:00", jira, None), want);
        // chrono reads `%.3f` leniently: no fraction is a whole second (written back with `.000`).
        assert_eq!(formatted("2022-07-15T09:19:44+0000", jira, None), Some(at("2022-07-15T09:19:44Z")));
        let paris = Some("Europe/Paris");
        assert_eq!(formatted("2026-01-31 10:30", "%Y-%m-%d %H:%M", paris), Some(at("2026-01-31T09:30:00Z")));
        // A clock change: 02:30 does not exist that night, 02:30 in October twice.
        assert_eq!(formatted("2026-03-29 02:30", "%Y-%m-%d %H:%M", paris), None);
        assert_eq!(formatted("2026-10-25 02:30", "%Y-%m-%d %H:%M", paris), None);
    }

    #[test]
    fn times_are_written_back_exactly_or_refused() {
        let seconds = |digits| Form::Unix { unit: UnixUnit::Seconds, text: true, digits };
        let ts = Value::DateTime(at("2017-11-30T23:52:30.0002Z"));
        assert_eq!(write(&ts, &Type::DateTime, &seconds(Some(6))), Ok(Value::Str("1512085950.000200".into())));
        assert_eq!(write(&ts, &Type::DateTime, &seconds(None)), Ok(Value::Str("1512085950.0002".into())));
        assert!(write(&ts, &Type::DateTime, &seconds(Some(3))).unwrap_err().contains("more precision"));
        let millis = Form::Unix { unit: UnixUnit::Millis, text: false, digits: None };
        let t = Value::DateTime(at("2021-10-12T17:08:02.521+02:00"));
        assert_eq!(write(&t, &Type::DateTime, &millis), Ok(Value::Int(1_634_051_282_521)));
        let jira = Form::Format { format: "%Y-%m-%dT%H:%M:%S%.3f%z".into(), zone: None };
        assert_eq!(write(&t, &Type::DateTime, &jira), Ok(Value::Str("2021-10-12T17:08:02.521+0200".into())));
        let local = Form::Format { format: "%Y-%m-%d %H:%M".into(), zone: Some("America/New_York".into()) };
        assert_eq!(
            write(&Value::DateTime(at("2026-01-31T14:30:00Z")), &Type::DateTime, &local),
            Ok(Value::Str("2026-01-31 09:30".into()))
        );
        assert!(write(&t, &Type::DateTime, &local).unwrap_err().contains("another time"), "seconds would be lost");
    }
}
