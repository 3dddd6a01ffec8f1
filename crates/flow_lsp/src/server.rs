//! The server loop: documents are kept in full sync, parsed (only the declarations an edit
//! touched) and checked once per edit (the diagnostics published at once), and each request is answered by its feature's module.

use std::collections::HashMap;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response, ResponseError};
use lsp_types as lsp;
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentHighlightRequest, DocumentSymbolRequest, Formatting, GotoDefinition,
    HoverRequest, PrepareRenameRequest, References, Rename, Request as _,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::convert::{self, Index};
use crate::document::Doc;
use crate::{code_actions, completion, formatting, hover, navigation, rename, symbols};

/// Open documents by their URI's text (`Uri` has interior mutability, so it is no map key).
type Docs = HashMap<String, Doc>;

/// Serves the protocol on stdin and stdout until the client says `exit`.
pub fn run_stdio() -> Result<(), String> {
    let (connection, threads) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    threads.join().map_err(|e| e.to_string())
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Kind(lsp::TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        document_highlight_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
        })),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Simple(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..lsp::CompletionOptions::default()
        }),
        ..lsp::ServerCapabilities::default()
    }
}

/// Serves one connection (stdio, or in memory for tests).
pub fn serve(connection: &Connection) -> Result<(), String> {
    let capabilities = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    connection.initialize(capabilities).map_err(|e| e.to_string())?;
    let mut docs = Docs::new();
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if connection.handle_shutdown(&req).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                let response = match handle(&req, &docs) {
                    Ok(result) => Response { id: req.id, result: Some(result), error: None },
                    Err(error) => Response { id: req.id, result: None, error: Some(error) },
                };
                connection.sender.send(Message::Response(response)).map_err(|e| e.to_string())?;
            }
            Message::Notification(n) => {
                let Some(uri) = update(n, &mut docs) else { continue };
                let Some(doc) = docs.get_mut(uri.as_str()) else { continue };
                let index = Index::new(&doc.text);
                let diagnostics = doc.diagnostics.iter().map(|d| convert::diagnostic(d, &index, &uri)).collect();
                let params = lsp::PublishDiagnosticsParams { uri, diagnostics, version: None };
                let note = Notification::new(PublishDiagnostics::METHOD.into(), params);
                connection.sender.send(Message::Notification(note)).map_err(|e| e.to_string())?;
                // Published: what the edit replaced is freed after, not before, the client hears.
                doc.release();
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// Applies didOpen/didChange/didClose (one parse and check per edit); the URI whose diagnostics
/// must be published.
fn update(n: Notification, docs: &mut Docs) -> Option<lsp::Uri> {
    match n.method.as_str() {
        DidOpenTextDocument::METHOD => {
            let p: lsp::DidOpenTextDocumentParams = serde_json::from_value(n.params).ok()?;
            docs.insert(p.text_document.uri.as_str().to_string(), Doc::new(p.text_document.text));
            Some(p.text_document.uri)
        }
        DidChangeTextDocument::METHOD => {
            // Full sync: the last change holds the whole text.
            let p: lsp::DidChangeTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let text = p.content_changes.into_iter().last()?.text;
            match docs.get_mut(p.text_document.uri.as_str()) {
                // Re-parses only the declarations the edit touched.
                Some(doc) => doc.edit(text),
                None => {
                    docs.insert(p.text_document.uri.as_str().to_string(), Doc::new(text));
                }
            }
            Some(p.text_document.uri)
        }
        DidCloseTextDocument::METHOD => {
            let p: lsp::DidCloseTextDocumentParams = serde_json::from_value(n.params).ok()?;
            docs.remove(p.text_document.uri.as_str());
            None
        }
        _ => None,
    }
}

/// The document a request's parameters are about.
trait OnDocument {
    fn uri(&self) -> &lsp::Uri;
}

macro_rules! on_document {
    ($($params:ty => $($field:ident).+;)*) => {
        $(impl OnDocument for $params {
            fn uri(&self) -> &lsp::Uri {
                &self.$($field).+
            }
        })*
    };
}

on_document! {
    lsp::HoverParams => text_document_position_params.text_document.uri;
    lsp::GotoDefinitionParams => text_document_position_params.text_document.uri;
    lsp::DocumentHighlightParams => text_document_position_params.text_document.uri;
    lsp::TextDocumentPositionParams => text_document.uri;
    lsp::ReferenceParams => text_document_position.text_document.uri;
    lsp::RenameParams => text_document_position.text_document.uri;
    lsp::CompletionParams => text_document_position.text_document.uri;
    lsp::DocumentSymbolParams => text_document.uri;
    lsp::DocumentFormattingParams => text_document.uri;
    lsp::CodeActionParams => text_document.uri;
}

/// Answers one request; an error is a request that cannot be carried out (a rename that would
/// change what the file means), with the reason, or parameters that are not the protocol's.
fn handle(req: &Request, docs: &Docs) -> Result<Value, ResponseError> {
    match req.method.as_str() {
        Formatting::METHOD => answer::<Formatting>(req, docs, always(formatting::format)),
        DocumentSymbolRequest::METHOD => answer::<DocumentSymbolRequest>(req, docs, always(symbols::symbols)),
        GotoDefinition::METHOD => answer::<GotoDefinition>(req, docs, always(navigation::definition)),
        References::METHOD => answer::<References>(req, docs, always(navigation::references)),
        DocumentHighlightRequest::METHOD => {
            answer::<DocumentHighlightRequest>(req, docs, always(navigation::highlights))
        }
        PrepareRenameRequest::METHOD => answer::<PrepareRenameRequest>(req, docs, always(rename::prepare)),
        Rename::METHOD => answer::<Rename>(req, docs, rename::rename),
        HoverRequest::METHOD => answer::<HoverRequest>(req, docs, always(hover::hover)),
        Completion::METHOD => answer::<Completion>(req, docs, always(completion::completion)),
        CodeActionRequest::METHOD => answer::<CodeActionRequest>(req, docs, always(code_actions::code_actions)),
        _ => Ok(Value::Null),
    }
}

/// Reads a request's parameters, finds its document (none: a null answer) and answers with `f`.
fn answer<R>(
    req: &Request,
    docs: &Docs,
    f: impl Fn(&Doc, R::Params) -> Result<R::Result, String>,
) -> Result<Value, ResponseError>
where
    R: lsp::request::Request,
    R::Params: DeserializeOwned + OnDocument,
{
    let params: R::Params =
        serde_json::from_value(req.params.clone()).map_err(|e| failed(ErrorCode::InvalidParams, e))?;
    let Some(doc) = docs.get(params.uri().as_str()) else { return Ok(Value::Null) };
    let result = f(doc, params).map_err(|m| failed(ErrorCode::RequestFailed, m))?;
    serde_json::to_value(result).map_err(|e| failed(ErrorCode::InternalError, e))
}

/// A feature that always has an answer (possibly empty).
fn always<P, T>(f: fn(&Doc, P) -> T) -> impl Fn(&Doc, P) -> Result<T, String> {
    move |doc, p| Ok(f(doc, p))
}

fn failed(code: ErrorCode, message: impl ToString) -> ResponseError {
    ResponseError { code: code as i32, message: message.to_string(), data: None }
}
