//! Running what a [`Plan`] says, without I/O of its own: the expression evaluator ([`eval`]),
//! the built-in functions' run time by family ([`builtins`]), decoding JSON text against a
//! declared type ([`decode_text`], [`decode_page`]) and encoding values back ([`encode`]), date
//! formats, and the two drivers that need nothing else: `flowc map` ([`mapper`]) and `flowc
//! test` ([`test_blocks`]). A plan is run as a [`Program`]: the plan beside what its call sites
//! compile once ([`Compiled`]: regexes, date formats, table indexes), built once per plan.
//!
//! It must never know HTTP, tokio, files other than the streams it is handed, secrets'
//! values, or the checker's types: the runtime and the CLI call it; it calls only `flow_plan`.

mod builtins;
mod compiled;
mod datefmt;
mod decode;
mod fold;
mod forms;
mod json;
mod keys;
mod ops;
#[cfg(test)]
mod oracle;
mod shape;
mod spares;

pub mod eval;
pub mod mapper;
pub mod test_blocks;

pub use compiled::{Compiled, Program};
pub use forms::write_forms;
pub use json::{
    decode_page, decode_text, describe_type, encode, encode_to, BadRecord, Mismatches, Page, ShapeError, TextError,
    ToText,
};
pub use shape::{omit_absent, try_encode_as};

// The IR, in scope crate-wide (`crate::Expr`, …) for the modules that moved here from flow_plan.
#[cfg(test)]
use flow_plan::Field;
use flow_plan::{
    BinOp, Builtin, DictPart, Expr, Key, Kind, Map, NamedType, ObjectPart, OneOf, Plan, Span, Test, TestStep, Type,
    Value,
};
