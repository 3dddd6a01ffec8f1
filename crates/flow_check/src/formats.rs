//! Date formats judged before the run: a literal strftime format of a built-in that parses must
//! be able to produce what it is asked for (a Date, a date-time), and one that formats must
//! write something of the value; otherwise every record would fail on it. chrono, which the
//! run uses, is the judge: a sample value written with the format is read back with it.

use chrono::format::{Fixed, Item, Numeric, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

/// What a format is asked to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Goal {
    /// `parse_date(s, format)`: a Date.
    Date,
    /// `parse_datetime(s, format, zone)`: a local date and time of day, placed in the zone.
    LocalDateTime,
    /// `parse_datetime(s, format)`: a date and time of day with its offset.
    DateTime,
}

impl Goal {
    pub(crate) fn what(self) -> &'static str {
        match self {
            Goal::Date => "a Date",
            Goal::LocalDateTime => "a date and a time of day",
            Goal::DateTime => "a date and a time of day with its offset",
        }
    }
}

/// Samples the format is tried on: one with a fraction of a second and one without (`%.f`
/// writes nothing for a whole second), both with an hour past noon.
fn samples() -> [DateTime<FixedOffset>; 2] {
    let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap_or_default();
    [at("2033-11-22T13:44:55.123456789+02:00"), at("2031-04-09T17:05:06-05:30")]
}

/// Reads `text` as the run does for `goal`: `Ok(false)` when the format lacks the items to give a
/// value at all (chrono's "not enough"), whatever the text.
fn reads(text: &str, format: &str, goal: Goal) -> bool {
    use chrono::format::ParseErrorKind::NotEnough;
    let kind = match goal {
        Goal::Date => NaiveDate::parse_from_str(text, format).err(),
        Goal::LocalDateTime => NaiveDateTime::parse_from_str(text, format).err(),
        Goal::DateTime => DateTime::parse_from_str(text, format).err(),
    }
    .map(|e| e.kind());
    kind != Some(NotEnough)
}

/// Whether a (valid strftime) format can ever produce what `goal` asks for.
pub(crate) fn can_give(format: &str, goal: Goal) -> bool {
    samples().iter().any(|t| reads(&t.format(format).to_string(), format, goal))
}

/// What the items of a format say.
#[derive(Default)]
struct Has {
    /// `%Y`, `%y` (`%C` alone is not a year).
    year: bool,
    month: bool,
    day: bool,
    ordinal: bool,
    week: bool,
    iso_year: bool,
    iso_week: bool,
    weekday: bool,
    hour: bool,
    hour12: bool,
    am_pm: bool,
    minute: bool,
    /// `%s`: seconds since 1970, a whole date and time.
    timestamp: bool,
    offset: bool,
    /// Any item at all that writes or reads part of a date or time.
    any: bool,
}

fn items_of(format: &str) -> Has {
    let mut h = Has::default();
    for item in StrftimeItems::new(format) {
        match item {
            Item::Numeric(n, _) => {
                h.any = true;
                match n {
                    Numeric::Year | Numeric::YearMod100 => h.year = true,
                    Numeric::IsoYear | Numeric::IsoYearMod100 => h.iso_year = true,
                    Numeric::Month => h.month = true,
                    Numeric::Day => h.day = true,
                    Numeric::Ordinal => h.ordinal = true,
                    Numeric::WeekFromSun | Numeric::WeekFromMon => h.week = true,
                    Numeric::IsoWeek => h.iso_week = true,
                    Numeric::NumDaysFromSun | Numeric::WeekdayFromMon => h.weekday = true,
                    Numeric::Hour => h.hour = true,
                    Numeric::Hour12 => h.hour12 = true,
                    Numeric::Minute => h.minute = true,
                    Numeric::Timestamp => h.timestamp = true,
                    _ => {}
                }
            }
            Item::Fixed(f) => {
                h.any = true;
                match f {
                    Fixed::ShortMonthName | Fixed::LongMonthName => h.month = true,
                    Fixed::ShortWeekdayName | Fixed::LongWeekdayName => h.weekday = true,
                    Fixed::LowerAmPm | Fixed::UpperAmPm => h.am_pm = true,
                    Fixed::TimezoneOffset
                    | Fixed::TimezoneOffsetZ
                    | Fixed::TimezoneOffsetColon
                    | Fixed::TimezoneOffsetColonZ
                    | Fixed::TimezoneOffsetDoubleColon
                    | Fixed::TimezoneOffsetTripleColon => h.offset = true,
                    Fixed::RFC2822 | Fixed::RFC3339 => {
                        h.year = true;
                        h.month = true;
                        h.day = true;
                        h.hour = true;
                        h.minute = true;
                        h.offset = true;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    h
}

/// The strftime items a format lacks to give `goal`, as help text (`the year (`%Y`…)`), by the
/// rules chrono reads dates by: a year with a month and a day, or with a day of the year, or
/// with a week and a weekday; or an ISO year, week and weekday; a time of day needs hours
/// (24-hour, or 12-hour with AM/PM) and minutes; `%s` is a whole date and time.
/// "the format has no X, nor Y": what `format` lacks for `goal`, in words; `None` when
/// [`missing`] names nothing.
pub(crate) fn lacks(format: &str, goal: Goal) -> Option<String> {
    let missing = missing(format, goal);
    let missing: Vec<&str> = missing.iter().map(|m| m.trim_start_matches("the ")).collect();
    match missing.split_last() {
        Some((last, [])) => Some(format!("the format has no {last}")),
        Some((last, rest)) => Some(format!("the format has no {}, nor {last}", rest.join(", "))),
        None => None,
    }
}

pub(crate) fn missing(format: &str, goal: Goal) -> Vec<&'static str> {
    let h = items_of(format);
    let whole = h.timestamp && goal != Goal::Date;
    let mut out = Vec::new();
    let date =
        (h.year && (h.month && h.day || h.ordinal || h.week && h.weekday)) || (h.iso_year && h.iso_week && h.weekday);
    if !date && !whole {
        if h.iso_week {
            if !h.iso_year {
                out.push("the ISO week-numbering year (`%G`), which `%V` needs");
            }
        } else if !h.year {
            out.push("the year (`%Y`, or `%y` for two digits)");
        }
        if h.iso_week || h.week {
            if !h.weekday {
                out.push("the day of the week (`%u`, or `%a` for its name)");
            }
        } else if !h.ordinal {
            if !h.month {
                out.push("the month (`%m`, or `%b` for its name)");
            }
            if !h.day {
                out.push("the day of the month (`%d`)");
            }
        }
    }
    if goal != Goal::Date && !whole {
        if !h.hour && !h.hour12 {
            out.push("the hour (`%H`)");
        } else if !h.hour && !h.am_pm {
            out.push("AM or PM (`%p`), which a 12-hour `%I` needs, or a 24-hour hour (`%H`) instead");
        }
        if !h.minute {
            out.push("the minutes (`%M`)");
        }
    }
    if goal == Goal::DateTime && !h.offset && !h.timestamp {
        out.push("the offset (`%z`)");
    }
    out
}

/// Whether the format writes anything of a date or time at all (not only literal text).
pub(crate) fn has_items(format: &str) -> bool {
    items_of(format).any
}

/// Whether a format can write a Date: a Date has no time of day and no offset.
pub(crate) fn fits_a_date(format: &str) -> bool {
    use std::fmt::Write as _;
    let mut out = String::new();
    write!(out, "{}", NaiveDate::from_ymd_opt(2033, 11, 22).unwrap_or_default().format(format)).is_ok()
}

/// The strftime spelling of a Java-, ICU- or moment-style pattern (`dd.MM.yyyy`,
/// `yyyy-MM-dd'T'HH:mm:ssXXX`, `YYYY-MM-DD`), when every letter in it is one those styles use
/// for a date or time field; `None` for anything else.
pub(crate) fn strftime_of(pattern: &str) -> Option<String> {
    if pattern.contains('%') || !pattern.chars().any(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // 'text' is literal text; '' is a quote.
            let close = chars[i + 1..].iter().position(|&q| q == '\'')? + i + 1;
            if close == i + 1 {
                out.push('\'');
            } else {
                out.extend(&chars[i + 1..close]);
            }
            i = close + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let item = match (c, run) {
            ('y' | 'Y' | 'u', 2) => "%y",
            ('y' | 'Y' | 'u', _) => "%Y",
            ('M' | 'L', 1 | 2) => "%m",
            ('M' | 'L', 3) => "%b",
            ('M' | 'L', _) => "%B",
            ('d' | 'D', 1 | 2) => "%d",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('H', 1 | 2) => "%H",
            ('h', 1 | 2) => "%I",
            ('m', 1 | 2) => "%M",
            ('s', 1 | 2) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a' | 'A', 1) => "%p",
            ('Z', 1..=4) | ('X' | 'x', 1 | 2) => "%z",
            ('Z', 5) | ('X' | 'x', 3) => "%:z",
            _ => return None,
        };
        out.push_str(item);
        i += run;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_that_cannot_give_a_date_are_found() {
        for f in ["%d.%m.%Y", "%Y%m%d", "%d.%m.%y", "%Y-%j", "%G-W%V-%u", "%Y %U %a", "%e %b %Y", "%+", "%c", "%D"] {
            assert!(can_give(f, Goal::Date), "{f}");
            assert!(missing(f, Goal::Date).is_empty(), "{f}: {:?}", missing(f, Goal::Date));
        }
        for f in ["dd.MM.yyyy", "%m/%Y", "%b %Y", "%H:%M", "%s", "%Y-%m", "%d %H"] {
            assert!(!can_give(f, Goal::Date), "{f}");
        }
        assert_eq!(missing("dd.MM.yyyy", Goal::Date).len(), 3);
        assert_eq!(missing("%m/%Y", Goal::Date), ["the day of the month (`%d`)"]);
    }

    #[test]
    fn a_date_time_needs_a_date_hours_and_minutes() {
        for f in ["%Y-%m-%d %H:%M", "%Y-%m-%d %I:%M %p", "%s", "%c", "%D %R", "%y%m%d%H%M", "%Y-%m-%d %H:%M:%S%.f"] {
            assert!(can_give(f, Goal::LocalDateTime), "{f}");
            assert!(missing(f, Goal::LocalDateTime).is_empty(), "{f}");
        }
        for f in ["%Y-%m-%d", "%Y-%m-%d %H", "%Y-%m-%d %I:%M", "%H:%M", "%Y-%m-%d %p:%M", "yyyy-MM-dd HH:mm"] {
            assert!(!can_give(f, Goal::LocalDateTime), "{f}");
            assert!(!missing(f, Goal::LocalDateTime).is_empty(), "{f}");
        }
        assert!(can_give("%Y-%m-%dT%H:%M:%S%z", Goal::DateTime));
        assert!(can_give("%+", Goal::DateTime));
        assert!(!can_give("%H:%M%z", Goal::DateTime));
    }

    /// The help's account of what is missing agrees with chrono's verdict, item by item.
    #[test]
    fn the_missing_items_agree_with_chrono() {
        let items = [
            "%Y", "%y", "%C", "%m", "%b", "%d", "%e", "%j", "%U", "%W", "%a", "%G", "%g", "%V", "%u", "%H", "%I", "%p",
            "%M", "%S", "%.f", "%s", "%F", "%T", "%r", "%D",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..3000 {
            let count = 1 + next(6);
            let format: Vec<&str> = (0..count).map(|_| items[next(items.len())]).collect();
            let format = format.join(" ");
            for goal in [Goal::Date, Goal::LocalDateTime, Goal::DateTime] {
                let format =
                    if goal == Goal::DateTime && next(2) == 0 { format!("{format} %z") } else { format.clone() };
                assert_eq!(can_give(&format, goal), missing(&format, goal).is_empty(), "{format} for {goal:?}");
            }
        }
    }

    #[test]
    fn java_style_patterns_get_their_strftime_spelling() {
        assert_eq!(strftime_of("dd.MM.yyyy").as_deref(), Some("%d.%m.%Y"));
        assert_eq!(strftime_of("yyyy-MM-dd'T'HH:mm:ssXXX").as_deref(), Some("%Y-%m-%dT%H:%M:%S%:z"));
        assert_eq!(strftime_of("YYYY-MM-DD").as_deref(), Some("%Y-%m-%d"));
        assert_eq!(strftime_of("dd MMM yyyy hh:mm a").as_deref(), Some("%d %b %Y %I:%M %p"));
        assert_eq!(strftime_of("HH:mm:ss.SSS").as_deref(), Some("%H:%M:%S.%3f"));
        assert_eq!(strftime_of("%d.%m.%Y"), None);
        assert_eq!(strftime_of("quarterly"), None);
        assert_eq!(strftime_of("12.05"), None);
    }

    #[test]
    fn a_date_cannot_be_written_with_a_time_of_day() {
        assert!(fits_a_date("%d %b %Y"));
        assert!(!fits_a_date("%Y-%m-%d %H:%M"));
        assert!(!fits_a_date("%z"));
        assert!(has_items("%Y") && !has_items("dd.MM.yyyy"));
    }
}
