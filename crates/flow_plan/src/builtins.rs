//! The built-in functions: names and signatures. The checker types calls of them
//! (`flow_check::expr`); [`crate::eval`] runs them.

use serde::{Deserialize, Serialize};

macro_rules! builtins {
    ($($variant:ident = $name:literal, $sig:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Builtin {
            $($variant),*
        }

        impl Builtin {
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Builtin::$variant => $name),*
                }
            }

            /// How a user calls it, for help texts and completion.
            pub fn signature(self) -> &'static str {
                match self {
                    $(Builtin::$variant => $sig),*
                }
            }
        }
    };
}

builtins! {
    // Text
    Lower = "lower", "lower(s: String) -> String";
    Upper = "upper", "upper(s: String) -> String";
    Trim = "trim", "trim(s: String) -> String";
    Split = "split", "split(s: String, separator: String) -> [String]";
    Replace = "replace", "replace(s: String, from: String, to: String) -> String";
    Contains = "contains", "contains(s: String, part: String) -> Bool   or   contains(items: [T], item: T) -> Bool";
    StartsWith = "starts_with", "starts_with(s: String, prefix: String) -> Bool";
    EndsWith = "ends_with", "ends_with(s: String, suffix: String) -> Bool";
    Substring = "substring", "substring(s: String, start: Int, length: Int) -> String   (characters; negative start counts from the end)";
    PadLeft = "pad_left", "pad_left(s: String, width: Int, fill: String) -> String";
    PadRight = "pad_right", "pad_right(s: String, width: Int, fill: String) -> String";
    Matches = "matches", "matches(s: String, pattern: \"regex literal\") -> Bool";
    Capture = "capture", "capture(s: String, pattern: \"regex literal\") -> String?   (the first group, or the whole match)";
    RegexReplace = "regex_replace", "regex_replace(s: String, pattern: \"regex literal\", with: String) -> String   ($1 names a group)";
    Format = "format", "format(template: \"literal with {} holes\", values…) -> String";
    Str = "str", "str(x: scalar) -> String";
    Len = "len", "len(x: String | [T]) -> Int";
    // Arrays
    Map = "map", "map(items: [T], item => U) -> [U]";
    Filter = "filter", "filter(items: [T], item => Bool) -> [T]";
    Find = "find", "find(items: [T], item => Bool) -> T?";
    Any = "any", "any(items: [T], item => Bool) -> Bool";
    All = "all", "all(items: [T], item => Bool) -> Bool";
    Count = "count", "count(items: [T]) -> Int   or   count(items: [T], item => Bool) -> Int";
    Sum = "sum", "sum(items: [T], item => number) -> number   or   sum(numbers: [number]) -> number";
    Min = "min", "min(a: number, b: number) -> number   or   min(items: [T]) -> T?   or   min(items: [T], item => key) -> T?";
    Max = "max", "max(a: number, b: number) -> number   or   max(items: [T]) -> T?   or   max(items: [T], item => key) -> T?";
    SortBy = "sort_by", "sort_by(items: [T], item => key) -> [T]   (stable, ascending)";
    GroupBy = "group_by", "group_by(items: [T], item => key) -> [{ key: K, items: [T] }]   (groups in order of first appearance)";
    Flatten = "flatten", "flatten(items: [[T]]) -> [T]";
    Distinct = "distinct", "distinct(items: [T]) -> [T]   (first occurrences, in order)";
    Join = "join", "join(items: [String], separator: String) -> String";
    First = "first", "first(items: [T]) -> T?";
    Last = "last", "last(items: [T]) -> T?";
    // Numbers
    Round = "round", "round(x: Decimal | Float, digits: Int) -> same   (half away from zero; negative digits: tens, hundreds…)";
    Floor = "floor", "floor(x: Decimal | Float) -> Int";
    Ceil = "ceil", "ceil(x: Decimal | Float) -> Int";
    Abs = "abs", "abs(x: number) -> same";
    ParseInt = "parse_int", "parse_int(s: String) -> Int   (fails: handle with `catch`)";
    ParseDecimal = "parse_decimal", "parse_decimal(s: String) -> Decimal   (fails: handle with `catch`)";
    ParseFloat = "parse_float", "parse_float(s: String) -> Float   (fails: handle with `catch`)";
    ToDecimal = "decimal", "decimal(x: Int | Float) -> Decimal";
    ToFloat = "float", "float(x: Int | Decimal) -> Float";
    ToInt = "int", "int(x: Decimal | Float) -> Int   (toward zero)";
    // Dates and times
    Date = "date", "date(t: DateTime) -> Date   (in the DateTime's own offset)";
    ParseDate = "parse_date", "parse_date(s: String, format: \"%d.%m.%Y\") -> Date   (fails: handle with `catch`)";
    ParseDatetime = "parse_datetime", "parse_datetime(s: String, format: \"%Y-%m-%d %H:%M\", zone: \"Europe/Paris\") -> DateTime   (fails: handle with `catch`; without a zone the format must hold an offset, %z)";
    FormatDate = "format_date", "format_date(t: Date | DateTime, format: \"%d %b %Y\") -> String";
    ToTimezone = "to_timezone", "to_timezone(t: DateTime, zone: \"Europe/Berlin\") -> DateTime";
    AddDays = "add_days", "add_days(d: Date | DateTime, days: Int) -> same";
    DaysBetween = "days_between", "days_between(from: Date, to: Date) -> Int";
    // Control
    Fail = "fail", "fail(reason: String) -> never   (fails the record; with `catch` it is a default)";
}

impl Builtin {
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.name() == name)
    }

    /// Whether a call can fail on valid input (bad text to parse): such calls must be handled.
    pub fn is_fallible(self) -> bool {
        matches!(
            self,
            Builtin::ParseInt
                | Builtin::ParseDecimal
                | Builtin::ParseFloat
                | Builtin::ParseDate
                | Builtin::ParseDatetime
        )
    }
}
