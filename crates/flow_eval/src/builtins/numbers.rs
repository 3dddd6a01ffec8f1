//! Number functions: `round`, `floor`, `ceil`, `abs`, `int`, `decimal`, `float`, and the
//! parsers `parse_int`, `parse_decimal`, `parse_float` (which fail on text that is not one).

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{fail, int, internal, text};
use crate::compiled::Prepared;
use crate::eval::EvalError;
use crate::json::ToText;
use crate::{Builtin, Expr, Span, Value};

/// A number function on its evaluated arguments (`args` are the expressions, for literals).
pub(super) fn call(
    func: Builtin,
    values: Vec<Value>,
    span: Span,
    _site: Option<&Prepared>,
    _args: &[Expr],
) -> Result<Value, EvalError> {
    use Builtin as B;
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(Value::Null);
    Ok(match func {
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
        other => return internal(&format!("`{}` is not a number function", other.name())),
    })
}

/// `round(x, digits)`, half away from zero. Negative `digits` round to tens, hundreds, …; a
/// Decimal comes back with `digits` digits after the point (zeros added), a Float as it is.
fn round(x: Value, digits: i64) -> Result<Value, String> {
    let away = RoundingStrategy::MidpointAwayFromZero;
    Ok(match x {
        // A Decimal holds at most 28 digits after the point: rounding to more changes nothing.
        // The result has exactly `digits` digits after the point, as money is written
        // (`round(10.5, 2)` is `10.50`), as far as the 28 significant digits allow; a zero
        // rounded from a negative number is written without its sign.
        Value::Decimal(d) if digits >= 0 => {
            let places = digits.min(28) as u32;
            let mut r = d.round_dp_with_strategy(places, away);
            r.rescale(places);
            if r.is_zero() {
                r.set_sign_positive(true);
            }
            Value::Decimal(r)
        }
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
