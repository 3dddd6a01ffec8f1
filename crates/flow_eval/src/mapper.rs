//! `flowc map`: NDJSON in, through one map, NDJSON out. A line that does not fit the map's input
//! type, or fails in the map, goes to the rejects with its line number and the reason; the rest
//! go on. Memory stays flat: one line at a time.

use std::io::{self, BufRead, Write};

use crate::eval::MapWriter;
use crate::{Program, TextError, Value};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapSummary {
    pub mapped: u64,
    pub rejected: u64,
}

/// Maps every line of `input` with map number `map` of the plan.
pub fn map_ndjson(
    plan: &Program,
    map: usize,
    input: impl BufRead,
    mut output: impl Write,
    mut rejects: impl Write,
) -> io::Result<MapSummary> {
    let Some(m) = plan.maps.get(map) else {
        return Err(io::Error::other("no such map"));
    };
    let Some(ty) = m.param_types.first().filter(|_| m.param_types.len() == 1) else {
        return Err(io::Error::other(format!(
            "map `{}` takes {} parameters; `flowc map` maps one record at a time",
            m.name,
            m.param_types.len()
        )));
    };
    let mut summary = MapSummary::default();
    let mut record = String::with_capacity(1024);
    let mut buf = Vec::with_capacity(1024);
    let mut input = input;
    let mut line_no = 0u64;
    let mut value = Value::Null;
    let mut writer = MapWriter::new(m, plan);
    // Each object type of the input keyed once: a key finds its field by a table, not a search.
    let keys = crate::keys::Keys::new(ty, &plan.types);
    // Array items that a record no longer holds, kept for the next records' arrays.
    let mut spares = crate::spares::Spares::default();
    loop {
        // One buffer for every line: reading a line allocates nothing.
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = match std::str::from_utf8(bytes) {
            Ok(line) => line,
            Err(e) => {
                let lossy = String::from_utf8_lossy(bytes);
                reject(&mut rejects, line_no, "R0003", &format!("not UTF-8: {e}"), &lossy)?;
                summary.rejected += 1;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        // Each record is decoded into the previous one's strings and arrays, and lent to the map.
        match crate::json::decode_text_keyed(line, ty, &plan.types, &keys, &mut spares, &mut value) {
            Ok(()) => {}
            Err(TextError::Syntax(e)) => {
                reject(&mut rejects, line_no, "R0003", &format!("not JSON: {e}"), line)?;
                summary.rejected += 1;
                continue;
            }
            Err(TextError::Shape(e)) => {
                reject(&mut rejects, line_no, "R0004", &format!("does not match the map's input type: {e}"), line)?;
                summary.rejected += 1;
                continue;
            }
        };
        record.clear();
        match writer.write(&mut value, &mut record) {
            Ok(()) => {
                record.push('\n');
                output.write_all(record.as_bytes())?;
                summary.mapped += 1;
            }
            Err(e) => {
                reject(&mut rejects, line_no, e.code.id, &e.message, line)?;
                summary.rejected += 1;
            }
        }
    }
    output.flush()?;
    rejects.flush()?;
    Ok(summary)
}

fn reject(out: &mut impl Write, line: u64, code: &str, message: &str, input: &str) -> io::Result<()> {
    let entry = serde_json::json!({ "line": line, "error": { "code": code, "message": message }, "input": input });
    writeln!(out, "{entry}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expr, Field, Type, Value};
    use flow_plan::{Map, Plan};

    #[test]
    fn maps_good_lines_and_rejects_the_rest_with_line_numbers() {
        let plan = Program::new(Plan {
            maps: vec![Map {
                name: "m".into(),
                params: vec!["r".into()],
                param_types: vec![Type::Object(vec![Field { optional: false, name: "n".into(), ty: Type::Int }])],
                lets: vec![],
                spreads: vec![],
                ret: None,
                fields: vec![(
                    "double".into(),
                    Expr::Binary {
                        op: crate::BinOp::Mul,
                        lhs: Box::new(Expr::Field {
                            base: Box::new(Expr::Var { name: "r".into() }),
                            name: "n".into(),
                            slot: Some(0),
                        }),
                        rhs: Box::new(Expr::Lit { value: Value::Int(2) }),
                        span: crate::Span::new(0, 1),
                    },
                )],
                order: vec![],
                span: crate::Span::new(0, 1),
            }],
            ..Plan::default()
        });
        let input = "{\"n\": 2, \"x\": [1, {\"y\": 2}]}\n\n{\"n\": \"two\"}\nnot json\n{\"n\": 9223372036854775807}\n{\"n\": 5}\n";
        let (mut out, mut rej) = (Vec::new(), Vec::new());
        let s = map_ndjson(&plan, 0, input.as_bytes(), &mut out, &mut rej).unwrap();
        assert_eq!(s, MapSummary { mapped: 2, rejected: 3 });
        assert_eq!(String::from_utf8(out).unwrap(), "{\"double\":4}\n{\"double\":10}\n");
        let rej = String::from_utf8(rej).unwrap();
        let lines: Vec<serde_json::Value> = rej.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["line"], 3);
        assert_eq!(lines[0]["error"]["code"], "R0004");
        assert!(lines[0]["error"]["message"].as_str().unwrap().contains("at `n`"));
        assert_eq!(lines[1]["error"]["code"], "R0003");
        assert_eq!((lines[2]["line"].clone(), lines[2]["error"]["code"].clone()), (5.into(), "R0005".into()));

        // A line that is not UTF-8 is rejected with its number; the lines after it go on.
        let input: &[u8] = b"{\"n\": 1}\r\n{\"n\": \"\xff\"}\n{\"n\": 3}";
        let (mut out, mut rej) = (Vec::new(), Vec::new());
        let s = map_ndjson(&plan, 0, input, &mut out, &mut rej).unwrap();
        assert_eq!(s, MapSummary { mapped: 2, rejected: 1 });
        assert_eq!(String::from_utf8(out).unwrap(), "{\"double\":2}\n{\"double\":6}\n");
        let rej: serde_json::Value = serde_json::from_slice(&rej).unwrap();
        assert_eq!((rej["line"].clone(), rej["error"]["code"].clone()), (2.into(), "R0003".into()));
        assert!(rej["error"]["message"].as_str().unwrap().contains("not UTF-8"));
    }
}
