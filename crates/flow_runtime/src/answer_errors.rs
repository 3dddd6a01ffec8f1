//! Errors inside a 2xx answer, as an endpoint (or its api) declares them (`error_when`,
//! `error_message`, `error_transient`; `flow_plan::AnswerErrors`): the answer's fields the
//! declaration reads are decoded, and its expressions evaluated over them.

use flow_eval::eval::{self, Env};
use flow_eval::{Program, ToText};
use flow_plan::{AnswerErrors, Value};

use crate::http::AnswerError;

/// Whether `body` is an error by the declaration; its message and whether it is transient. An
/// answer whose fields do not fit even the declaration's view is no declared error: the
/// endpoint's own decoding reports it as what it is.
pub(crate) fn judge(errors: &AnswerErrors, plan: &Program, body: &[u8]) -> Option<AnswerError> {
    let text = std::str::from_utf8(body).ok()?;
    let view = flow_eval::decode_text(text, &errors.view, &plan.types).ok()?;
    let mut env = Env::new();
    env.push("response", view);
    if !matches!(eval::eval(&errors.when, &mut env, plan), Ok(Value::Bool(true))) {
        return None;
    }
    let message = match errors.message.as_ref().map(|m| eval::eval(m, &mut env, plan)) {
        Some(Ok(v)) if !v.is_null() => v.to_text(),
        _ => "the answer says it is an error, and gives no message".to_string(),
    };
    let transient =
        errors.transient.as_ref().is_some_and(|t| matches!(eval::eval(t, &mut env, plan), Ok(Value::Bool(true))));
    Some(AnswerError { message, transient })
}
