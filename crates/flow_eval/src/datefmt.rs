//! `format_date` with a literal format: the format is read once, and the common fields (`%Y`,
//! `%m`, `%d`, `%H`, `%M`, `%S`, `%%`, literal text) are written as digits straight into the
//! output. Anything else, and years outside 0000–9999, goes through chrono, which gives the same
//! text (a test compares them).

use chrono::{Datelike, NaiveDateTime, Timelike};

#[derive(Debug)]
pub(crate) enum DateFormat {
    /// The format only uses the fields written here.
    Fast(Vec<Part>),
    /// chrono formats it.
    Chrono,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Part {
    Lit(String),
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Part {
    fn is_time(&self) -> bool {
        matches!(self, Part::Hour | Part::Minute | Part::Second)
    }
}

pub(crate) fn compile(format: &str) -> DateFormat {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        let part = match chars.next() {
            Some('%') => {
                lit.push('%');
                continue;
            }
            Some('Y') => Part::Year,
            Some('m') => Part::Month,
            Some('d') => Part::Day,
            Some('H') => Part::Hour,
            Some('M') => Part::Minute,
            Some('S') => Part::Second,
            _ => return DateFormat::Chrono,
        };
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        parts.push(part);
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    DateFormat::Fast(parts)
}

/// Writes `at` (a date when `has_time` is false) in `parts`; `false` when chrono must do it: a
/// year outside 0000–9999, or a time field for a date (chrono says that does not fit).
pub(crate) fn write(parts: &[Part], at: NaiveDateTime, has_time: bool, out: &mut String) -> bool {
    let year = at.year();
    if !(0..=9999).contains(&year) || (!has_time && parts.iter().any(Part::is_time)) {
        return false;
    }
    let two = |n: u32, out: &mut String| {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    for p in parts {
        match p {
            Part::Lit(s) => out.push_str(s),
            Part::Year => {
                let y = year as u32;
                two(y / 100, out);
                two(y % 100, out);
            }
            Part::Month => two(at.month(), out),
            Part::Day => two(at.day(), out),
            Part::Hour => two(at.hour(), out),
            Part::Minute => two(at.minute(), out),
            Part::Second => two(at.second(), out),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate};

    fn fast(format: &str, at: NaiveDateTime, has_time: bool) -> Option<String> {
        let DateFormat::Fast(parts) = compile(format) else { return None };
        let mut out = String::new();
        write(&parts, at, has_time, &mut out).then_some(out)
    }

    #[test]
    fn the_fast_path_writes_what_chrono_writes() {
        let times = ["2026-01-05T10:20:30+02:00", "0001-12-31T00:00:59Z", "9999-07-04T23:59:00-05:00"];
        let formats = ["%Y-%m-%d", "%d.%m.%Y %H:%M", "%Y%m%dT%H%M%S", "at %H:%M:%S, 100%% sure", "", "%m/%d"];
        for t in times {
            let t = DateTime::parse_from_rfc3339(t).unwrap();
            for f in formats {
                assert_eq!(fast(f, t.naive_local(), true), Some(t.format(f).to_string()), "{f} on {t}");
            }
            let d = t.date_naive();
            assert_eq!(fast("%d.%m.%Y", d.into(), false), Some(d.format("%d.%m.%Y").to_string()));
        }
    }

    #[test]
    fn chrono_takes_what_the_fast_path_does_not_write() {
        assert!(matches!(compile("%A, %B %e"), DateFormat::Chrono));
        assert!(matches!(compile("%Y-%j"), DateFormat::Chrono));
        let far = NaiveDate::from_ymd_opt(12345, 1, 1).unwrap();
        assert_eq!(fast("%Y", far.into(), false), None);
        // A time field on a Date: chrono reports that it does not fit.
        assert_eq!(fast("%H", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().into(), false), None);
    }
}
