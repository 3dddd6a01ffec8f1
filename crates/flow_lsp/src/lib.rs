//! The `.flow` language server, `flowc lsp`: the only crate that knows LSP. Diagnostics are
//! `flowc check`'s own (same codes, spans, messages and fixes); formatting is `flowc fmt`'s.
//!
//! `server` is the loop (one parse and one check per edit, kept in a [`document::Doc`]);
//! `convert` is the only place that turns spans, positions (UTF-16 columns), severities and kinds
//! into `lsp_types`; each other module answers one feature.
//!
//! It must never analyse a file itself: every answer comes from the parser's tree, the checker's
//! record (`flow_check::Info`) or a diagnostic's structured fixes, never from a second walk of
//! names or types and never by matching words in text.

mod code_actions;
mod completion;
mod convert;
mod document;
mod formatting;
mod hover;
mod navigation;
mod rename;
mod server;
mod symbols;

pub use server::{run_stdio, serve};

#[cfg(test)]
mod tests;
