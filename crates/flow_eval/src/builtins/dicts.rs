//! Dictionaries at run time: lookups (`d["key"]`, `d.key`), literals, and `keys`, `values`,
//! `entries`, `from_entries`. A dictionary holds each key once, in the order the keys came; a
//! key set again keeps its place and takes the new value (as a repeated key does when JSON is
//! decoded).

use super::{internal, items, text};
use crate::eval::{eval, Env, EvalError};
use crate::{Builtin, DictPart, Key, Program, Value};

/// The value at `key`, or null (also for a null dictionary, reached through `?.`).
pub(crate) fn get(dict: &Value, key: &Value) -> Value {
    match (dict, key) {
        (Value::Dict(entries), Value::Str(k)) => {
            entries.iter().find(|(name, _)| name == k).map_or(Value::Null, |(_, v)| v.clone())
        }
        _ => Value::Null,
    }
}

/// Sets `key` to `value`: in its place when it is there, else at the end.
pub(crate) fn set(entries: &mut Vec<(String, Value)>, key: String, value: Value) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = value,
        None => entries.push((key, value)),
    }
}

/// A dictionary literal, built in order.
pub(crate) fn build(parts: &[DictPart], env: &mut Env, plan: &Program) -> Result<Value, EvalError> {
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            DictPart::Entry { key, value } => {
                let v = eval(value, env, plan)?;
                set(&mut out, key.clone(), v);
            }
            DictPart::Spread { value } => match eval(value, env, plan)? {
                Value::Dict(entries) => entries.into_iter().for_each(|(k, v)| set(&mut out, k, v)),
                Value::Null => {}
                other => return internal(&format!("spread of {} into a dictionary", other.kind())),
            },
        }
    }
    Ok(Value::Dict(out))
}

fn entries(v: Value) -> Result<Vec<(String, Value)>, EvalError> {
    match v {
        Value::Dict(entries) => Ok(entries),
        Value::Null => Ok(Vec::new()),
        other => internal(&format!("dictionary expected, found {}", other.kind())),
    }
}

/// A dictionary function on its evaluated arguments.
pub(super) fn call(func: Builtin, values: Vec<Value>) -> Result<Value, EvalError> {
    let first = values.into_iter().next().unwrap_or(Value::Null);
    Ok(match func {
        Builtin::Keys => Value::Array(entries(first)?.into_iter().map(|(k, _)| Value::Str(k)).collect()),
        Builtin::Values => Value::Array(entries(first)?.into_iter().map(|(_, v)| v).collect()),
        Builtin::Entries => {
            let (key, value) = (Key::new("key"), Key::new("value"));
            Value::Array(
                entries(first)?
                    .into_iter()
                    .map(|(k, v)| Value::Object(vec![(key, Value::Str(k)), (value, v)]))
                    .collect(),
            )
        }
        Builtin::FromEntries => {
            let mut out = Vec::new();
            for item in items(first)? {
                let k = text(item.get("key").cloned().unwrap_or(Value::Null))?;
                let v = item.get("value").cloned().unwrap_or(Value::Null);
                set(&mut out, k, v);
            }
            Value::Dict(out)
        }
        other => return internal(&format!("`{}` is not a dictionary function", other.name())),
    })
}
