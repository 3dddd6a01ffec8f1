//! Running built-in functions. Argument kinds were checked; an unexpected kind is an internal
//! error, reported, never a panic.

use std::cmp::Ordering;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::cache::Cache;
use crate::eval::{binary, compare, eval, literal_or_eval, place_mut, place_or_eval, root_var, Env, EvalError};
use crate::{BinOp, Builtin, Compiled, Expr, Key, Plan, Span, Value};

fn fail<T>(span: Span, message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError { message: message.into(), span: Some(span) })
}

fn internal<T>(what: &str) -> Result<T, EvalError> {
    Err(EvalError {
        message: format!("internal error: {what} (the checker should have refused this; please report it)"),
        span: None,
    })
}

fn text(v: Value) -> Result<String, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        other => internal(&format!("text expected, found {}", other.kind())),
    }
}

fn int(v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => internal(&format!("Int expected, found {}", other.kind())),
    }
}

fn items(v: Value) -> Result<Vec<Value>, EvalError> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(Vec::new()),
        other => internal(&format!("array expected, found {}", other.kind())),
    }
}

fn reads_first(func: Builtin) -> bool {
    matches!(func, Builtin::Lower | Builtin::Upper | Builtin::Trim | Builtin::Len | Builtin::Join | Builtin::Split)
}

/// The functions of [`reads_first`]: they only read their first argument, so it may be
/// borrowed from the record.
fn reading_first(func: Builtin, first: &Value, second: Option<&Value>) -> Result<Value, EvalError> {
    use Builtin as B;
    let sep = || match second {
        Some(Value::Str(sep)) => Ok(sep.as_str()),
        _ => internal("a separator that is not text"),
    };
    Ok(match (func, first) {
        (B::Lower | B::Upper, Value::Str(s)) => {
            let mut out = String::with_capacity(s.len());
            case_into(func, s, &mut out);
            Value::Str(out)
        }
        (B::Trim, Value::Str(s)) => Value::Str(s.trim().to_string()),
        (B::Len, Value::Str(s)) => Value::Int(s.chars().count() as i64),
        (B::Len, Value::Array(a)) => Value::Int(a.len() as i64),
        (B::Join, Value::Null) => Value::Str(String::new()),
        (B::Join, Value::Array(xs)) => {
            let mut out = String::new();
            join_into(xs, sep()?, &mut out);
            Value::Str(out)
        }
        (B::Split, Value::Str(s)) => match sep()? {
            "" => Value::Array(s.chars().map(|c| Value::Str(c.to_string())).collect()),
            // One byte is one ASCII char: split on the char (a byte search), not on a pattern.
            sep if sep.len() == 1 => {
                let c = char::from(sep.as_bytes()[0]);
                Value::Array(s.split(c).map(|p| Value::Str(p.to_string())).collect())
            }
            sep => Value::Array(s.split(sep).map(|p| Value::Str(p.to_string())).collect()),
        },
        (f, other) => return internal(&format!("{} of {}", f.name(), other.kind())),
    })
}

/// `lower(s)` or `upper(s)`, appended to `out`: ASCII text is copied and mapped in place.
fn case_into(func: Builtin, s: &str, out: &mut String) {
    let lower = func == Builtin::Lower;
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        let added = &mut out.as_mut_str()[start..];
        if lower {
            added.make_ascii_lowercase();
        } else {
            added.make_ascii_uppercase();
        }
    } else if lower {
        out.push_str(&s.to_lowercase());
    } else {
        out.push_str(&s.to_uppercase());
    }
}

/// `join(xs, sep)`, appended to `out`.
fn join_into(xs: &[Value], sep: &str, out: &mut String) {
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        match x {
            Value::Str(s) => out.push_str(s),
            other => out.push_str(&other.to_text()),
        }
    }
}

/// A lambda argument and the array it runs over.
struct Lambda<'p, 'l> {
    param: &'p Key,
    body: &'p Expr,
    list: &'l mut [Value],
}

impl Lambda<'_, '_> {
    /// Calls the lambda on item `i`. The item is moved into the lambda's variable and back, so
    /// the array is never copied; it is whole again afterwards, on error too.
    fn apply(&mut self, i: usize, env: &mut Env, plan: &Plan) -> Result<Value, EvalError> {
        let item = std::mem::replace(&mut self.list[i], Value::Null);
        env.push(*self.param, item);
        let result = eval(self.body, env, plan);
        self.list[i] = env.pop().unwrap_or(Value::Null);
        result
    }
}

fn truth(v: Value) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(b),
        other => internal(&format!("Bool expected, found {}", other.kind())),
    }
}

fn regex<'a>(cache: &'a Cache<Compiled>, pattern: Option<&Expr>) -> Result<&'a regex::Regex, EvalError> {
    if let Some(Compiled::Regex(r)) = cache.get() {
        return Ok(r);
    }
    let Some(Expr::Lit { value: Value::Str(p) }) = pattern else {
        return internal("a regex pattern that is not a literal");
    };
    // The checker compiled the same pattern; failing here means a hand-edited plan.
    let compiled =
        regex::Regex::new(p).map_err(|e| EvalError { message: format!("invalid regex: {e}"), span: None })?;
    match cache.get_or_init(|| Compiled::Regex(compiled)) {
        Compiled::Regex(r) => Ok(r),
        _ => internal("a regex call whose cache holds something else"),
    }
}

/// `format_date` with a literal format writes the common fields itself, appending to `out`;
/// `false` (nothing written) when chrono must.
fn format_date_fast(cache: &Cache<Compiled>, format: Option<&Expr>, v: &Value, out: &mut String) -> bool {
    let Some(Expr::Lit { value: Value::Str(f) }) = format else { return false };
    let Compiled::DateFormat(crate::datefmt::DateFormat::Fast(parts)) =
        cache.get_or_init(|| Compiled::DateFormat(crate::datefmt::compile(f)))
    else {
        return false;
    };
    let (at, has_time) = match v {
        Value::Date(d) => ((*d).into(), false),
        Value::DateTime(t) => (t.naive_local(), true),
        _ => return false,
    };
    crate::datefmt::write(parts, at, has_time, out)
}

/// Built-ins that [`text_call_into`] writes straight into a buffer.
pub(crate) fn writes_text(func: Builtin) -> bool {
    matches!(func, Builtin::Lower | Builtin::Upper | Builtin::Join | Builtin::FormatDate)
}

/// A call of a [`writes_text`] built-in, appending its text to `buf`; its first argument is read
/// where it is when it is a path, a literal second argument is not copied.
pub(crate) fn text_call_into(
    func: Builtin,
    args: &[Expr],
    span: Span,
    cache: &Cache<Compiled>,
    env: &mut Env,
    plan: &Plan,
    buf: &mut String,
) -> Result<bool, EvalError> {
    let Some(first) = args.first() else { return internal("missing argument") };
    let second = args.get(1).map(|e| literal_or_eval(e, env, plan)).transpose()?;
    let second = second.as_deref();
    let first = place_or_eval(first, env, plan)?;
    match (func, &*first) {
        (Builtin::Lower | Builtin::Upper, Value::Str(s)) => case_into(func, s, buf),
        (Builtin::Join, Value::Null) => {}
        (Builtin::Join, Value::Array(xs)) => {
            let Some(Value::Str(sep)) = second else { return internal("a separator that is not text") };
            join_into(xs, sep, buf);
        }
        (Builtin::FormatDate, v) => {
            if !format_date_fast(cache, args.get(1), v, buf) {
                // chrono formats it, or says why it cannot.
                let v = v.clone();
                match call_builtin_values(func, vec![v, second.cloned().unwrap_or(Value::Null)], span, cache, args)? {
                    Value::Str(s) => buf.push_str(&s),
                    other => return internal(&format!("format_date gave {}", other.kind())),
                }
            }
        }
        (f, other) => return internal(&format!("{} of {}", f.name(), other.kind())),
    }
    Ok(true)
}

fn zone(name: &str, span: Span) -> Result<chrono_tz::Tz, EvalError> {
    name.parse::<chrono_tz::Tz>().or_else(|_| fail(span, format!("unknown time zone `{name}`")))
}

pub(crate) fn call_builtin(
    func: Builtin,
    args: &[Expr],
    span: Span,
    cache: &Cache<Compiled>,
    env: &mut Env,
    plan: &Plan,
) -> Result<Value, EvalError> {
    // Functions with a lambda evaluate it per item; the others take values.
    if let (Some(first), Some(Expr::Lambda { param, body })) = (args.first(), args.get(1)) {
        // An array read from a path the lambda does not itself read is lent, not copied: taken
        // out of the record for the call and put back after it.
        let lend = match cache.get() {
            Some(Compiled::Lends(lend)) => *lend,
            _ => {
                // Decided once per call site: whether the lambda reads the array's variable.
                let lend = root_var(first).is_some_and(|v| !body.mentions(v));
                cache.get_or_init(|| Compiled::Lends(lend));
                lend
            }
        };
        if lend {
            if let Some(Value::Array(slot)) = place_mut(first, env) {
                let mut list = std::mem::take(slot);
                let result = with_lambda(func, Lambda { param, body, list: &mut list }, span, env, plan);
                if let Some(Value::Array(slot)) = place_mut(first, env) {
                    *slot = list;
                }
                return result;
            }
        }
        let mut list = items(eval(first, env, plan)?)?;
        return with_lambda(func, Lambda { param, body, list: &mut list }, span, env, plan);
    }
    // Functions that only read their first argument read it where it is when it is a path:
    // `lower(c.email)` copies nothing but its result.
    if let (true, Some((first, others))) = (reads_first(func), args.split_first()) {
        // A literal second argument (a separator) is read where it is too.
        let second = others.first().map(|e| literal_or_eval(e, env, plan)).transpose()?;
        let first = place_or_eval(first, env, plan)?;
        return reading_first(func, &first, second.as_deref());
    }
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        // Regex patterns are literals, read from the expression itself.
        vals.push(eval(a, env, plan)?);
    }
    call_builtin_values(func, vals, span, cache, args)
}

/// A built-in on its evaluated arguments (`args` are the expressions, for literal patterns).
fn call_builtin_values(
    func: Builtin,
    vals: Vec<Value>,
    span: Span,
    cache: &Cache<Compiled>,
    args: &[Expr],
) -> Result<Value, EvalError> {
    use Builtin as B;
    let mut it = vals.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    Ok(match func {
        // Taken above, before any argument is copied.
        B::Lower | B::Upper | B::Trim | B::Split | B::Len | B::Join => {
            return reading_first(func, &next(), Some(&next()))
        }
        B::Replace => {
            let (s, from, to) = (text(next())?, text(next())?, text(next())?);
            Value::Str(if from.is_empty() { s } else { s.replace(&from, &to) })
        }
        B::Contains => match (next(), next()) {
            (Value::Str(s), Value::Str(part)) => Value::Bool(s.contains(&part)),
            (Value::Array(xs), x) => Value::Bool(xs.iter().any(|y| compare(y, &x) == Some(Ordering::Equal))),
            _ => return internal("contains on values of unexpected kinds"),
        },
        B::StartsWith => Value::Bool(text(next())?.starts_with(&text(next())?)),
        B::EndsWith => Value::Bool(text(next())?.ends_with(&text(next())?)),
        B::Substring => {
            let s = text(next())?;
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let start = int(&next())?;
            let start = if start < 0 { (len + start).max(0) } else { start.min(len) };
            let count = match next() {
                Value::Null => len - start,
                v => int(&v)?.clamp(0, len - start),
            };
            Value::Str(chars[start as usize..(start + count) as usize].iter().collect())
        }
        B::PadLeft | B::PadRight => {
            let s = text(next())?;
            let width = int(&next())?;
            // A width from the data could ask for any amount of memory: refused, never cut short.
            if width > MAX_PAD_WIDTH {
                return fail(span, format!("`{}` to {width} characters: more than {MAX_PAD_WIDTH}", func.name()));
            }
            let width = width.max(0) as usize;
            let fill = text(next())?.chars().next().unwrap_or(' ');
            let have = s.chars().count();
            let pad: String = std::iter::repeat_n(fill, width.saturating_sub(have)).collect();
            Value::Str(if func == B::PadLeft { pad + &s } else { s + &pad })
        }
        B::Matches => {
            let s = text(next())?;
            Value::Bool(regex(cache, args.get(1))?.is_match(&s))
        }
        B::Capture => {
            let s = text(next())?;
            match regex(cache, args.get(1))?.captures(&s) {
                Some(c) => c.get(1).or_else(|| c.get(0)).map_or(Value::Null, |m| Value::Str(m.as_str().to_string())),
                None => Value::Null,
            }
        }
        B::RegexReplace => {
            let s = text(next())?;
            let _pattern = next();
            let with = text(next())?;
            Value::Str(regex(cache, args.get(1))?.replace_all(&s, with.as_str()).into_owned())
        }
        B::Format => {
            let template = text(next())?;
            let mut out = String::with_capacity(template.len() + 16);
            let mut chars = template.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, chars.peek()) {
                    ('{', Some('{')) | ('}', Some('}')) => {
                        out.push(c);
                        chars.next();
                    }
                    ('{', Some('}')) => {
                        chars.next();
                        out.push_str(&next().to_text());
                    }
                    _ => out.push(c),
                }
            }
            Value::Str(out)
        }
        B::Str => Value::Str(next().to_text()),
        B::Count => Value::Int(items(next())?.len() as i64),
        B::Sum => {
            let mut total = Value::Int(0);
            for v in items(next())? {
                total = binary(BinOp::Add, total, v, span)?;
            }
            total
        }
        B::Min | B::Max => {
            let a = next();
            let b = next();
            let better = |x: &Value, y: &Value| {
                let ord = compare(x, y).unwrap_or(Ordering::Equal);
                if func == B::Min {
                    ord == Ordering::Less
                } else {
                    ord == Ordering::Greater
                }
            };
            match (a, b) {
                (Value::Array(xs), Value::Null) => {
                    let mut best: Option<Value> = None;
                    for x in xs {
                        if best.as_ref().is_none_or(|b| better(&x, b)) {
                            best = Some(x);
                        }
                    }
                    best.unwrap_or(Value::Null)
                }
                (x, y) => {
                    if better(&y, &x) {
                        y
                    } else {
                        x
                    }
                }
            }
        }
        B::Flatten => {
            let mut out = Vec::new();
            for inner in items(next())? {
                out.extend(items(inner)?);
            }
            Value::Array(out)
        }
        B::Distinct => {
            let mut out: Vec<Value> = Vec::new();
            for x in items(next())? {
                if !out.iter().any(|y| compare(y, &x) == Some(Ordering::Equal)) {
                    out.push(x);
                }
            }
            Value::Array(out)
        }
        B::First => items(next())?.into_iter().next().unwrap_or(Value::Null),
        B::Last => items(next())?.pop().unwrap_or(Value::Null),
        B::Round => {
            let x = next();
            let digits = match next() {
                Value::Null => 0,
                v => int(&v)?,
            };
            match round(x, digits) {
                Ok(v) => v,
                Err(why) => return fail(span, why),
            }
        }
        B::Floor | B::Ceil | B::ToInt => {
            let x = next();
            let r = match (&x, func) {
                (Value::Int(i), _) => Some(*i),
                (Value::Decimal(d), B::Floor) => d.floor().to_i64(),
                (Value::Decimal(d), B::Ceil) => d.ceil().to_i64(),
                (Value::Decimal(d), _) => d.trunc().to_i64(),
                (Value::Float(f), B::Floor) => float_to_int(f.floor()),
                (Value::Float(f), B::Ceil) => float_to_int(f.ceil()),
                (Value::Float(f), _) => float_to_int(f.trunc()),
                _ => return internal(&format!("{} of {}", func.name(), x.kind())),
            };
            match r {
                Some(i) => Value::Int(i),
                None => return fail(span, format!("{} does not fit in an Int", x.to_text())),
            }
        }
        B::Abs => match next() {
            Value::Int(i) => match i.checked_abs() {
                Some(a) => Value::Int(a),
                None => return fail(span, "integer overflow in `abs`"),
            },
            Value::Decimal(d) => Value::Decimal(d.abs()),
            Value::Float(f) => Value::Float(f.abs()),
            other => return internal(&format!("abs of {}", other.kind())),
        },
        B::ParseInt => {
            let s = text(next())?;
            match s.trim().parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => return fail(span, format!("{s:?} is not a whole number")),
            }
        }
        B::ParseDecimal => {
            let s = text(next())?;
            let t = s.trim();
            match Decimal::from_str_exact(t).or_else(|_| Decimal::from_scientific(t)) {
                Ok(d) => Value::Decimal(d),
                Err(_) => return fail(span, format!("{s:?} is not a decimal number")),
            }
        }
        B::ParseFloat => {
            let s = text(next())?;
            match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => return fail(span, format!("{s:?} is not a finite number")),
            }
        }
        B::ToDecimal => match next() {
            Value::Int(i) => Value::Decimal(Decimal::from(i)),
            Value::Decimal(d) => Value::Decimal(d),
            Value::Float(f) => match Decimal::from_f64(f) {
                Some(d) => Value::Decimal(d),
                None => return fail(span, format!("{f} does not fit in a Decimal")),
            },
            other => return internal(&format!("decimal of {}", other.kind())),
        },
        B::ToFloat => match next() {
            Value::Int(i) => Value::Float(i as f64),
            Value::Decimal(d) => Value::Float(d.to_f64().unwrap_or(f64::NAN)),
            Value::Float(f) => Value::Float(f),
            other => return internal(&format!("float of {}", other.kind())),
        },
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
            if format_date_fast(cache, args.get(1), &v, &mut out) {
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
        B::Fail => return fail(span, text(next())?),
        B::Map | B::Filter | B::Find | B::Any | B::All | B::SortBy | B::GroupBy => {
            return internal(&format!("`{}` without its lambda", func.name()))
        }
    })
}

/// The widest `pad_left`/`pad_right` result, in characters.
const MAX_PAD_WIDTH: i64 = 1 << 20;

/// `round(x, digits)`, half away from zero. Negative `digits` round to tens, hundreds, …; more
/// digits than the number has leave it as it is.
fn round(x: Value, digits: i64) -> Result<Value, String> {
    let away = RoundingStrategy::MidpointAwayFromZero;
    Ok(match x {
        // A Decimal holds at most 28 digits after the point: rounding to more changes nothing.
        Value::Decimal(d) if digits >= 0 => Value::Decimal(d.round_dp_with_strategy(digits.min(28) as u32, away)),
        Value::Decimal(d) => {
            // 10^28 is the largest power of ten a Decimal holds.
            let scale = Decimal::from_i128_with_scale(10i128.pow(digits.unsigned_abs().min(28) as u32), 0);
            // Exactly: the remainder decides, so no digit of `d` is rounded away on the way.
            let rounded = if digits < -28 {
                None
            } else {
                d.checked_rem(scale).and_then(|r| {
                    let toward_zero = d - r;
                    // Half the scale is 5 × 10^(k-1), exact; doubling `r` might not be.
                    if r.abs() >= scale / Decimal::TWO {
                        toward_zero.checked_add(if d.is_sign_negative() { -scale } else { scale })
                    } else {
                        Some(toward_zero)
                    }
                })
            };
            match rounded {
                Some(r) => Value::Decimal(r.normalize()),
                None => return Err(format!("round({d}, {digits}) does not fit in a Decimal")),
            }
        }
        Value::Float(f) => {
            // Beyond 10^±300 the scale itself is not a finite double.
            let m = 10f64.powi(digits.clamp(-300, 300) as i32);
            let r = (f * m).round() / m;
            if digits > 300 || !(f * m).is_finite() {
                // So large that it has no digits at that scale: it is its own rounding.
                Value::Float(f)
            } else if r.is_finite() {
                Value::Float(r)
            } else {
                return Err(format!("round({f}, {digits}) is not a finite number"));
            }
        }
        Value::Int(i) if digits >= 0 => Value::Int(i),
        Value::Int(i) => match round(Value::Decimal(Decimal::from(i)), digits)? {
            Value::Decimal(d) => match d.to_i64() {
                Some(r) => Value::Int(r),
                None => return Err(format!("round({i}, {digits}) does not fit in an Int")),
            },
            other => other,
        },
        other => return Err(format!("internal error: round of {}", other.kind())),
    })
}

fn float_to_int(f: f64) -> Option<i64> {
    // Exactly representable bounds: -2^63 fits, 2^63 does not.
    (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f).then_some(f as i64)
}

fn with_lambda(
    func: Builtin,
    mut l: Lambda<'_, '_>,
    span: Span,
    env: &mut Env,
    plan: &Plan,
) -> Result<Value, EvalError> {
    use Builtin as B;
    let n = l.list.len();
    Ok(match func {
        B::Map => {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(l.apply(i, env, plan)?);
            }
            Value::Array(out)
        }
        B::Filter => {
            let mut out = Vec::new();
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? {
                    out.push(l.list[i].clone());
                }
            }
            Value::Array(out)
        }
        B::Find => {
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? {
                    return Ok(l.list[i].clone());
                }
            }
            Value::Null
        }
        B::Any | B::All => {
            let want = func == B::Any;
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? == want {
                    return Ok(Value::Bool(want));
                }
            }
            Value::Bool(!want)
        }
        B::Count => {
            let mut count = 0i64;
            for i in 0..n {
                if truth(l.apply(i, env, plan)?)? {
                    count += 1;
                }
            }
            Value::Int(count)
        }
        B::Sum => {
            let mut total = Value::Int(0);
            for i in 0..n {
                let v = l.apply(i, env, plan)?;
                total = binary(BinOp::Add, total, v, span)?;
            }
            total
        }
        B::Min | B::Max | B::SortBy => {
            let mut keyed = Vec::with_capacity(n);
            for i in 0..n {
                keyed.push((l.apply(i, env, plan)?, i));
            }
            let order = |a: &Value, b: &Value| compare(a, b).unwrap_or(Ordering::Equal);
            match func {
                B::SortBy => {
                    keyed.sort_by(|a, b| order(&a.0, &b.0));
                    Value::Array(keyed.into_iter().map(|(_, i)| l.list[i].clone()).collect())
                }
                B::Min => {
                    keyed.into_iter().min_by(|a, b| order(&a.0, &b.0)).map_or(Value::Null, |(_, i)| l.list[i].clone())
                }
                _ => keyed
                    .into_iter()
                    .rev()
                    .max_by(|a, b| order(&a.0, &b.0))
                    .map_or(Value::Null, |(_, i)| l.list[i].clone()),
            }
        }
        B::GroupBy => {
            let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
            for i in 0..n {
                let k = l.apply(i, env, plan)?;
                let x = l.list[i].clone();
                match groups.iter_mut().find(|(g, _)| compare(g, &k) == Some(Ordering::Equal)) {
                    Some((_, members)) => members.push(x),
                    None => groups.push((k, vec![x])),
                }
            }
            Value::Array(
                groups
                    .into_iter()
                    .map(|(k, members)| Value::Object(vec![("key".into(), k), ("items".into(), Value::Array(members))]))
                    .collect(),
            )
        }
        other => return internal(&format!("`{}` with a lambda", other.name())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Env;

    fn var(name: &str) -> Expr {
        Expr::Var { name: name.into() }
    }

    fn field(base: Expr, name: &str) -> Expr {
        Expr::Field { base: Box::new(base), name: name.into(), slot: None }
    }

    fn call(func: Builtin, args: Vec<Expr>) -> Expr {
        Expr::CallFn { func, args, span: Span::new(0, 1), compiled: Default::default() }
    }

    fn lambda(param: &str, body: Expr) -> Expr {
        Expr::Lambda { param: param.into(), body: Box::new(body) }
    }

    fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), span: Span::new(2, 3) }
    }

    fn int(n: i64) -> Expr {
        Expr::Lit { value: Value::Int(n) }
    }

    fn basket() -> Value {
        let item = |q| Value::Object(vec![("q".into(), Value::Int(q))]);
        Value::Object(vec![("items".into(), Value::Array(vec![item(1), item(0), item(2)]))])
    }

    #[test]
    fn a_lent_array_is_whole_again_after_the_lambda_fails() {
        let mut env = Env::new();
        env.push("b", basket());
        // sum(b.items, i => 10 / i.q) fails on the second item: division by zero.
        let failing = call(
            Builtin::Sum,
            vec![field(var("b"), "items"), lambda("i", bin(BinOp::Div, int(10), field(var("i"), "q")))],
        );
        let caught = Expr::Catch { expr: Box::new(failing), default: Box::new(int(-1)) };
        assert_eq!(eval(&caught, &mut env, &Plan::default()), Ok(Value::Int(-1)));
        assert_eq!(env.get(&"b".into()), Some(&basket()));
        assert_eq!(env.len(), 1);
        // Lent again: every item is where it was, and what the result keeps is a copy.
        let kept = call(
            Builtin::Filter,
            vec![field(var("b"), "items"), lambda("i", bin(BinOp::Gt, field(var("i"), "q"), int(0)))],
        );
        let Ok(Value::Array(kept)) = eval(&kept, &mut env, &Plan::default()) else { panic!("filter gave no array") };
        assert_eq!(kept.len(), 2);
        assert_eq!(env.get(&"b".into()), Some(&basket()));
    }

    #[test]
    fn a_lambda_that_reads_the_array_s_record_gets_a_copy() {
        let mut env = Env::new();
        env.push("b", basket());
        // sum(b.items, i => i.q + len(b.items)): the body reads `b`, so the array is not lent.
        let len = call(Builtin::Len, vec![field(var("b"), "items")]);
        let sum =
            call(Builtin::Sum, vec![field(var("b"), "items"), lambda("i", bin(BinOp::Add, field(var("i"), "q"), len))]);
        assert_eq!(eval(&sum, &mut env, &Plan::default()), Ok(Value::Int(12)));
        assert_eq!(env.get(&"b".into()), Some(&basket()));
    }
}
