//! The built-in functions: one table row per function ([`Row`]) with its name, family, typed
//! arguments (so its arity), result, whether it can fail, and the signature users read. The
//! checker types calls from it (`flow_check::builtins`), the docs test checks
//! docs/language.md's function library against it, completion and help texts show its
//! signatures, and `flow_eval` runs each family's functions (`flow_eval::builtins`).
//!
//! Adding a built-in: a row here, its typing in the checker's family module when its arguments
//! are not all of a fixed [`Shape`], its run time in `flow_eval`'s family module, a line in
//! docs/language.md and a `test` in tests/data/library/builtins.flow.

use serde::{Deserialize, Serialize};

/// Which part of the library a built-in belongs to: the module its typing and run time live
/// in, and the table of docs/language.md that lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Text,
    Arrays,
    Numbers,
    Dates,
    /// `keys`, `values`, `entries`, `from_entries`.
    Dicts,
    /// `fail`.
    Control,
}

/// The type of an argument or a result, as the table states it. The first group are fixed
/// types; a call whose arguments and result are all fixed is typed from the row alone. The
/// others say what the checker's family code works out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    String,
    Int,
    Bool,
    Float,
    Decimal,
    Date,
    DateTime,
    /// `[String]`.
    Strings,
    /// `String?`.
    OptionalString,
    /// Never returns: the record fails.
    Never,
    /// A string literal that is a regex pattern, compiled at check time.
    Regex,
    /// A string literal that is a strftime date format, judged at check time.
    DateFormat,
    /// A string literal that is an IANA time zone name.
    Zone,
    /// A string literal with `{}` holes.
    Template,
    /// An array of any item type.
    Items,
    /// `item => …` over the items of the array before it.
    Lambda,
    /// Any number (Int, Float, Decimal).
    Number,
    /// A Date or a DateTime.
    Dated,
    /// A value of any type the family code accepts.
    Value,
    /// The result's type follows from the arguments' (the family code works it out).
    Depends,
}

impl Shape {
    /// Whether the shape is one type, whatever the call: what [`Row::is_fixed`] asks of a row.
    pub fn is_fixed(self) -> bool {
        !matches!(
            self,
            Shape::Template
                | Shape::DateFormat
                | Shape::Items
                | Shape::Lambda
                | Shape::Number
                | Shape::Dated
                | Shape::Value
                | Shape::Depends
        )
    }
}

/// One argument of a built-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub name: &'static str,
    pub shape: Shape,
    /// May be left out (only trailing arguments are).
    pub optional: bool,
    /// Any number of further arguments like this one may follow (`format`'s values).
    pub repeated: bool,
    /// The text a left-out argument stands for (`pad_left`'s fill is a space).
    pub default: Option<&'static str>,
}

/// A built-in's row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub builtin: Builtin,
    pub name: &'static str,
    pub family: Family,
    pub args: &'static [Arg],
    pub returns: Shape,
    /// Can fail on valid input (bad text to parse): its calls are `Fallible` and must be
    /// handled with `catch`.
    pub fallible: bool,
    /// How a user calls it, for help texts, hover and completion.
    pub signature: &'static str,
}

impl Row {
    /// The fewest and the most arguments a call may give.
    pub fn arity(&self) -> (usize, usize) {
        let least = self.args.iter().filter(|a| !a.optional && !a.repeated).count();
        let most = if self.args.iter().any(|a| a.repeated) { usize::MAX } else { self.args.len() };
        (least, most)
    }

    /// Whether every argument and the result are of one fixed [`Shape`], so that the row alone
    /// types a call.
    pub fn is_fixed(&self) -> bool {
        self.returns.is_fixed() && self.args.iter().all(|a| a.shape.is_fixed())
    }
}

macro_rules! builtins {
    ($(
        $family:ident {
            $($variant:ident = $name:literal $args:tt -> $ret:ident $($fallible:ident)?, $sig:literal;)*
        }
    )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Builtin {
            $($($variant),*),*
        }

        /// The table, in [`Builtin`]'s order.
        static TABLE: &[Row] = &[$($(Row {
            builtin: Builtin::$variant,
            name: $name,
            family: Family::$family,
            args: builtins!(@args $args),
            returns: Shape::$ret,
            fallible: builtins!(@fallible $($fallible)?),
            signature: $sig,
        }),*),*];

        impl Builtin {
            pub const ALL: &'static [Builtin] = &[$($(Builtin::$variant),*),*];
        }
    };
    (@args ($($t:tt)*)) => { builtins!(@munch [] $($t)*) };
    (@munch [$($done:expr),*]) => { &[$($done),*] };
    (@munch [$($done:expr),*] $arg:ident: $shape:ident ? $default:literal $(, $($rest:tt)*)?) => {
        builtins!(@munch [$($done,)* builtins!(@arg $arg $shape, true, false, Some($default))] $($($rest)*)?)
    };
    (@munch [$($done:expr),*] $arg:ident: $shape:ident ? $(, $($rest:tt)*)?) => {
        builtins!(@munch [$($done,)* builtins!(@arg $arg $shape, true, false, None)] $($($rest)*)?)
    };
    (@munch [$($done:expr),*] $arg:ident: $shape:ident * $(, $($rest:tt)*)?) => {
        builtins!(@munch [$($done,)* builtins!(@arg $arg $shape, true, true, None)] $($($rest)*)?)
    };
    (@munch [$($done:expr),*] $arg:ident: $shape:ident $(, $($rest:tt)*)?) => {
        builtins!(@munch [$($done,)* builtins!(@arg $arg $shape, false, false, None)] $($($rest)*)?)
    };
    (@arg $arg:ident $shape:ident, $optional:expr, $repeated:expr, $default:expr) => {
        Arg { name: stringify!($arg), shape: Shape::$shape, optional: $optional, repeated: $repeated, default: $default }
    };
    (@fallible fallible) => { true };
    (@fallible) => { false };
}

// `name: Shape?` may be left out (`name: Shape? "text"`: and then stands for that text);
// `name: Shape*` may be repeated (or left out); `fallible` after the result marks a function
// that can fail on valid input.
builtins! {
    Text {
        Lower = "lower"(s: String) -> String, "lower(s: String) -> String";
        Upper = "upper"(s: String) -> String, "upper(s: String) -> String";
        Trim = "trim"(s: String) -> String, "trim(s: String) -> String";
        Split = "split"(s: String, separator: String) -> Strings, "split(s: String, separator: String) -> [String]";
        Replace = "replace"(s: String, from: String, to: String) -> String, "replace(s: String, from: String, to: String) -> String";
        Contains = "contains"(within: Value, part: Value) -> Bool, "contains(s: String, part: String) -> Bool   or   contains(items: [T], item: T) -> Bool";
        StartsWith = "starts_with"(s: String, prefix: String) -> Bool, "starts_with(s: String, prefix: String) -> Bool";
        EndsWith = "ends_with"(s: String, suffix: String) -> Bool, "ends_with(s: String, suffix: String) -> Bool";
        Substring = "substring"(s: String, start: Int, length: Int?) -> String, "substring(s: String, start: Int, length: Int) -> String   (characters; negative start counts from the end)";
        PadLeft = "pad_left"(s: String, width: Int, fill: String? " ") -> String, "pad_left(s: String, width: Int, fill: String) -> String";
        PadRight = "pad_right"(s: String, width: Int, fill: String? " ") -> String, "pad_right(s: String, width: Int, fill: String) -> String";
        Matches = "matches"(s: String, pattern: Regex) -> Bool, "matches(s: String, pattern: \"regex literal\") -> Bool";
        Capture = "capture"(s: String, pattern: Regex) -> OptionalString, "capture(s: String, pattern: \"regex literal\") -> String?   (the first group, or the whole match)";
        RegexReplace = "regex_replace"(s: String, pattern: Regex, with: String) -> String, "regex_replace(s: String, pattern: \"regex literal\", with: String) -> String   ($1 names a group)";
        Format = "format"(template: Template, values: Value*) -> String, "format(template: \"literal with {} holes\", values…) -> String";
        Str = "str"(x: Value) -> String, "str(x: scalar) -> String";
        Len = "len"(x: Value) -> Int, "len(x: String | [T]) -> Int";
    }
    Arrays {
        Map = "map"(items: Items, f: Lambda) -> Depends, "map(items: [T], item => U) -> [U]";
        Filter = "filter"(items: Items, f: Lambda) -> Depends, "filter(items: [T], item => Bool) -> [T]";
        Find = "find"(items: Items, f: Lambda) -> Depends, "find(items: [T], item => Bool) -> T?";
        Any = "any"(items: Items, f: Lambda) -> Bool, "any(items: [T], item => Bool) -> Bool";
        All = "all"(items: Items, f: Lambda) -> Bool, "all(items: [T], item => Bool) -> Bool";
        Count = "count"(items: Items, f: Lambda?) -> Int, "count(items: [T]) -> Int   or   count(items: [T], item => Bool) -> Int";
        Sum = "sum"(items: Items, f: Lambda?) -> Depends, "sum(items: [T], item => number) -> number   or   sum(numbers: [number]) -> number";
        Min = "min"(a: Value, b: Value?) -> Depends, "min(a: number, b: number) -> number   or   min(items: [T]) -> T?   or   min(items: [T], item => key) -> T?";
        Max = "max"(a: Value, b: Value?) -> Depends, "max(a: number, b: number) -> number   or   max(items: [T]) -> T?   or   max(items: [T], item => key) -> T?";
        SortBy = "sort_by"(items: Items, key: Lambda) -> Depends, "sort_by(items: [T], item => key) -> [T]   (stable, ascending)";
        GroupBy = "group_by"(items: Items, key: Lambda) -> Depends, "group_by(items: [T], item => key) -> [{ key: K, items: [T] }]   (groups in order of first appearance)";
        Flatten = "flatten"(items: Items) -> Depends, "flatten(items: [[T]]) -> [T]";
        Distinct = "distinct"(items: Items) -> Depends, "distinct(items: [T]) -> [T]   (first occurrences, in order)";
        Join = "join"(items: Items, separator: String) -> String, "join(items: [String], separator: String) -> String";
        First = "first"(items: Items) -> Depends, "first(items: [T]) -> T?";
        Last = "last"(items: Items) -> Depends, "last(items: [T]) -> T?";
    }
    Numbers {
        Round = "round"(x: Number, digits: Int?) -> Depends, "round(x: Decimal | Float, digits: Int) -> same   (half away from zero; negative digits: tens, hundreds…)";
        Floor = "floor"(x: Number) -> Int, "floor(x: Decimal | Float) -> Int";
        Ceil = "ceil"(x: Number) -> Int, "ceil(x: Decimal | Float) -> Int";
        Abs = "abs"(x: Number) -> Depends, "abs(x: number) -> same";
        ParseInt = "parse_int"(s: String) -> Int fallible, "parse_int(s: String) -> Int   (fails: handle with `catch`)";
        ParseDecimal = "parse_decimal"(s: String) -> Decimal fallible, "parse_decimal(s: String) -> Decimal   (fails: handle with `catch`)";
        ParseFloat = "parse_float"(s: String) -> Float fallible, "parse_float(s: String) -> Float   (fails: handle with `catch`)";
        ToDecimal = "decimal"(x: Number) -> Decimal, "decimal(x: Int | Float) -> Decimal";
        ToFloat = "float"(x: Number) -> Float, "float(x: Int | Decimal) -> Float";
        ToInt = "int"(x: Number) -> Int, "int(x: Decimal | Float) -> Int   (toward zero)";
    }
    Dates {
        Date = "date"(t: DateTime) -> Date, "date(t: DateTime) -> Date   (in the DateTime's own offset)";
        ParseDate = "parse_date"(s: String, format: DateFormat) -> Date fallible, "parse_date(s: String, format: \"%d.%m.%Y\") -> Date   (fails: handle with `catch`)";
        ParseDatetime = "parse_datetime"(s: String, format: DateFormat, zone: Zone?) -> DateTime fallible, "parse_datetime(s: String, format: \"%Y-%m-%d %H:%M\", zone: \"Europe/Paris\") -> DateTime   (fails: handle with `catch`; without a zone the format must hold an offset, %z)";
        FormatDate = "format_date"(t: Dated, format: DateFormat) -> String, "format_date(t: Date | DateTime, format: \"%d %b %Y\") -> String";
        ToTimezone = "to_timezone"(t: DateTime, zone: Zone) -> DateTime, "to_timezone(t: DateTime, zone: \"Europe/Berlin\") -> DateTime";
        AddDays = "add_days"(t: Dated, days: Int) -> Depends, "add_days(d: Date | DateTime, days: Int) -> same";
        DaysBetween = "days_between"(from: Date, to: Date) -> Int, "days_between(from: Date, to: Date) -> Int";
    }
    Dicts {
        Keys = "keys"(d: Value) -> Strings, "keys(d: { [String]: T }) -> [String]   (in the dictionary's order)";
        Values = "values"(d: Value) -> Depends, "values(d: { [String]: T }) -> [T]";
        Entries = "entries"(d: Value) -> Depends, "entries(d: { [String]: T }) -> [{ key: String, value: T }]";
        FromEntries = "from_entries"(entries: Items) -> Depends, "from_entries(entries: [{ key: String, value: T }]) -> { [String]: T }   (a repeated key: the last value, at the first one's place)";
    }
    Control {
        Fail = "fail"(reason: String) -> Never, "fail(reason: String) -> never   (fails the record; with `catch` it is a default)";
    }
}

impl Builtin {
    /// Its row of the table.
    pub fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    /// Every row, in [`Builtin::ALL`]'s order.
    pub fn table() -> &'static [Row] {
        TABLE
    }

    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// How a user calls it, for help texts and completion.
    pub fn signature(self) -> &'static str {
        self.row().signature
    }

    pub fn family(self) -> Family {
        self.row().family
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        TABLE.iter().find(|r| r.name == name).map(|r| r.builtin)
    }

    /// Whether a call can fail on valid input (bad text to parse): such calls must be handled.
    pub fn is_fallible(self) -> bool {
        self.row().fallible
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_its_builtins() {
        assert_eq!(TABLE.len(), Builtin::ALL.len());
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(TABLE[i].builtin, *b, "row {i}");
            assert_eq!(Builtin::from_name(b.name()), Some(*b));
            // The signature users read starts with the name they call.
            assert!(b.signature().starts_with(&format!("{}(", b.name())), "{b:?}");
            // Only trailing arguments may be left out.
            let args = b.row().args;
            if let Some(first) = args.iter().position(|a| a.optional) {
                assert!(args[first..].iter().all(|a| a.optional), "{b:?}");
            }
        }
    }

    #[test]
    fn arity_follows_from_the_arguments() {
        assert_eq!(Builtin::Lower.row().arity(), (1, 1));
        assert_eq!(Builtin::Substring.row().arity(), (2, 3));
        assert_eq!(Builtin::Count.row().arity(), (1, 2));
        assert_eq!(Builtin::Format.row().arity(), (1, usize::MAX));
        assert!(Builtin::Split.row().is_fixed() && !Builtin::Map.row().is_fixed());
    }
}
