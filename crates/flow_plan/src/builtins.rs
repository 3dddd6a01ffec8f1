//! The built-in functions. The checker types calls of them; [`crate::eval`] runs them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    Lower,
    Upper,
    Trim,
    Str,
    Len,
    Sum,
    Date,
}

impl Builtin {
    pub const ALL: [Builtin; 7] =
        [Builtin::Lower, Builtin::Upper, Builtin::Trim, Builtin::Str, Builtin::Len, Builtin::Sum, Builtin::Date];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Lower => "lower",
            Builtin::Upper => "upper",
            Builtin::Trim => "trim",
            Builtin::Str => "str",
            Builtin::Len => "len",
            Builtin::Sum => "sum",
            Builtin::Date => "date",
        }
    }

    /// How a user calls it, for help texts and (later) completion.
    pub fn signature(self) -> &'static str {
        match self {
            Builtin::Lower => "lower(s: String) -> String",
            Builtin::Upper => "upper(s: String) -> String",
            Builtin::Trim => "trim(s: String) -> String",
            Builtin::Str => "str(x: Int | Float | Decimal | Bool | Date | DateTime | String) -> String",
            Builtin::Len => "len(x: String | [T]) -> Int",
            Builtin::Sum => "sum(items: [T], item => number) -> number   (or sum(numbers))",
            Builtin::Date => "date(t: DateTime) -> Date",
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }
}
