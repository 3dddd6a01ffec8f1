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
    let mut buf = Vec::new();
    let mut input = input;
    let mut value = Value::Null;
    let mut writer = MapWriter::new(m, plan);
    // Each object type of the input keyed once: a key finds its field by a table, not a search.
    let keys = crate::keys::Keys::new(ty, &plan.types);
    // Array items that a record no longer holds, kept for the next records' arrays.
    let mut spares = crate::spares::Spares::default();
    let mut state = Lines { summary: MapSummary::default(), line_no: 0, record: String::with_capacity(1024) };
    loop {
        // A line wholly in the reader's buffer is mapped where it is, without a copy; one
        // that runs past the buffer's end (or the input's last, without a newline) is read
        // into one buffer for every such line, so reading a line allocates nothing.
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        if let Some(end) = memchr::memchr(b'\n', available) {
            state.one(
                &available[..end],
                ty,
                plan,
                &keys,
                &mut spares,
                &mut value,
                &mut writer,
                &mut output,
                &mut rejects,
            )?;
            input.consume(end + 1);
            continue;
        }
        buf.clear();
        input.read_until(b'\n', &mut buf)?;
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        state.one(bytes, ty, plan, &keys, &mut spares, &mut value, &mut writer, &mut output, &mut rejects)?;
    }
    let summary = state.summary;
    output.flush()?;
    rejects.flush()?;
    Ok(summary)
}

/// The state `map_ndjson` carries from line to line.
struct Lines {
    summary: MapSummary,
    line_no: u64,
    /// The output row, one buffer for every row.
    record: String,
}

impl Lines {
    /// Maps one line (its newline cut off), or rejects it.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn one(
        &mut self,
        bytes: &[u8],
        ty: &crate::Type,
        plan: &Program,
        keys: &crate::keys::Keys<'_>,
        spares: &mut crate::spares::Spares,
        value: &mut Value,
        writer: &mut MapWriter<'_>,
        output: &mut impl Write,
        rejects: &mut impl Write,
    ) -> io::Result<()> {
        let summary = &mut self.summary;
        self.line_no += 1;
        let line_no = self.line_no;
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = match std::str::from_utf8(bytes) {
            Ok(line) => line,
            Err(e) => {
                let lossy = String::from_utf8_lossy(bytes);
                reject(rejects, line_no, "R0003", &format!("not UTF-8: {e}"), &lossy)?;
                summary.rejected += 1;
                return Ok(());
            }
        };
        if line.trim().is_empty() {
            return Ok(());
        }
        // Each record is decoded into the previous one's strings and arrays, and lent to the map.
        match crate::json::decode_text_keyed(line, ty, &plan.types, keys, spares, value) {
            Ok(()) => {}
            Err(TextError::Syntax(e)) => {
                reject(rejects, line_no, "R0003", &format!("not JSON: {e}"), line)?;
                summary.rejected += 1;
                return Ok(());
            }
            Err(TextError::Shape(e)) => {
                reject(rejects, line_no, "R0004", &format!("does not match the map's input type: {e}"), line)?;
                summary.rejected += 1;
                return Ok(());
            }
        };
        let record = &mut self.record;
        record.clear();
        match writer.write(value, record) {
            Ok(()) => {
                record.push('\n');
                output.write_all(record.as_bytes())?;
                summary.mapped += 1;
            }
            Err(e) => {
                reject(rejects, line_no, e.code.id, &e.message, line)?;
                summary.rejected += 1;
            }
        }
        Ok(())
    }
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
        let plan = doubling();
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

    /// The plan of `{double: r.n * 2}`.
    fn doubling() -> Program {
        Program::new(Plan {
            maps: vec![Map {
                name: "m".into(),
                params: vec!["r".into()],
                param_types: vec![Type::Object(vec![Field {
                    optional: false,
                    present: false,
                    name: "n".into(),
                    ty: Type::Int,
                }])],
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
        })
    }

    #[test]
    fn lines_across_the_readers_buffer_map_as_lines_within_it() {
        // Lines mapped where they are in the reader's buffer, and lines that run past its end
        // (read into a buffer of their own), give the same rows, rejects and line numbers,
        // whatever the buffer's size: CRLF, blank lines, a long line after a short one, a bad
        // line, a line that is not UTF-8, and a last line without its newline.
        let plan = doubling();
        let input: &[u8] = b"{\"n\": 1}\r\n\n{\"n\": 22, \"pad\": \"a long line that runs past a small buffer\"}\n\
            {\"n\": 3}\nnot json\n{\"n\": \"\xff\"}\n  \r\n{\"n\":4}\n{\"n\": 5}";
        let (mut want, mut want_rej) = (Vec::new(), Vec::new());
        let s = map_ndjson(&plan, 0, input, &mut want, &mut want_rej).unwrap();
        assert_eq!(s, MapSummary { mapped: 5, rejected: 2 });
        assert_eq!(
            String::from_utf8(want.clone()).unwrap(),
            "{\"double\":2}\n{\"double\":44}\n{\"double\":6}\n{\"double\":8}\n{\"double\":10}\n"
        );
        let lines: Vec<u64> = String::from_utf8_lossy(&want_rej)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines, vec![5, 6]);
        for capacity in 1..=input.len() + 1 {
            let (mut out, mut rej) = (Vec::new(), Vec::new());
            let reader = std::io::BufReader::with_capacity(capacity, input);
            assert_eq!(map_ndjson(&plan, 0, reader, &mut out, &mut rej).unwrap(), s, "capacity {capacity}");
            assert_eq!(out, want, "capacity {capacity}");
            assert_eq!(rej, want_rej, "capacity {capacity}");
        }
    }
}
