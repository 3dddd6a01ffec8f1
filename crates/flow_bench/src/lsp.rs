//! `flow-bench lsp`: how long an editor waits on a large `.flow` file. The file is made of copies
//! of the examples and the benchmark map, every declared name suffixed per copy so the copies do
//! not clash, until it has the requested number of lines. It times `check_source` (what
//! `flowc check` and the server run per edit) and the full round trip through `flowc lsp`'s
//! server: a `didChange` with the whole text in, `publishDiagnostics` out, then a hover.
//! Typed at the end of the file, and in the middle (every declaration after the edit moves).
//! Run with `cargo run --release -p flow_bench -- lsp [--lines N] [--write FILE]`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};

use crate::Result;

const SOURCES: [&str; 4] = [
    "examples/orders_to_crm.flow",
    "examples/directory_to_mailing_list.flow",
    "examples/tickets_to_chat.flow",
    "tests/data/ok/bench_customer_map.flow",
];

/// Copies of the sources (paths relative to `root`), names suffixed `_<copy>`, until the text
/// has `lines` lines.
fn large_file(root: &std::path::Path, lines: usize) -> Result<String> {
    let mut sources = Vec::new();
    for path in SOURCES {
        let text = std::fs::read_to_string(root.join(path))
            .map_err(|e| format!("{path}: {e} (run from the repository root)"))?;
        let (file, _) = flow_syntax::parse(&text);
        let names: HashSet<String> = file.decls.iter().map(|d| d.name().name.clone()).collect();
        sources.push((text, names));
    }
    let mut out = String::new();
    let mut copy = 0;
    while out.lines().count() < lines {
        for (text, names) in &sources {
            out.push_str(&suffixed(text, names, copy));
            out.push('\n');
        }
        copy += 1;
    }
    Ok(out)
}

/// `text` with every whole-word occurrence of a name in `names` suffixed with `_<copy>`.
fn suffixed(text: &str, names: &HashSet<String>, copy: usize) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push_str(&word);
            if names.contains(&word) {
                out.push_str(&format!("_{copy}"));
            }
            word.clear();
        }
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// `flow-bench parse`: the parse of the same file alone, `runs` times, and its median.
pub(crate) fn parse_only(lines: usize, runs: usize) -> Result<()> {
    let text = large_file(std::path::Path::new("."), lines)?;
    let mut times = Vec::new();
    let mut decls = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let (file, _) = flow_syntax::parse(&text);
        times.push(t.elapsed());
        decls = file.decls.len();
    }
    println!("file: {} lines, {} KB, {decls} declarations", text.lines().count(), text.len() / 1024);
    println!("parse:            median {:>7.2} ms ({runs} runs)", median(times).as_secs_f64() * 1e3);
    Ok(())
}

pub(crate) fn bench(lines: usize, write: Option<&std::path::Path>) -> Result<()> {
    let text = large_file(std::path::Path::new("."), lines)?;
    if let Some(path) = write {
        std::fs::write(path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let checked = flow_check::check_source(&text);
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(format!("the generated file has {errors} errors; the benchmark needs a valid file"));
    }
    println!(
        "file: {} lines, {} KB, {} declarations, {} diagnostics (warnings)",
        text.lines().count(),
        text.len() / 1024,
        flow_syntax::parse(&text).0.decls.len(),
        checked.diagnostics.len()
    );
    let runs = 21;
    let mut parse = Vec::new();
    let mut check = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let (file, _) = flow_syntax::parse(&text);
        parse.push(t.elapsed());
        let t = Instant::now();
        let _ = flow_check::check(&file);
        check.push(t.elapsed());
    }
    println!("parse:            median {:>7.2} ms", median(parse).as_secs_f64() * 1e3);
    println!("check:            median {:>7.2} ms", median(check).as_secs_f64() * 1e3);

    let (server_side, client) = Connection::memory();
    let server = std::thread::spawn(move || flow_lsp::serve(&server_side));
    let uri = "file:///bench/large.flow";
    request(&client, 1, "initialize", json!({ "capabilities": {} }))?;
    notify(&client, "initialized", json!({}))?;
    notify(
        &client,
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "flow", "version": 1, "text": text } }),
    )?;
    published(&client)?;
    let mut edits = Vec::new();
    let mut hovers = Vec::new();
    // The last line of the file: hover there after each edit.
    let last = text.lines().count().saturating_sub(3);
    for i in 0..runs {
        // Typing at the end of the file: a comment that grows by one character per edit.
        let edited = format!("{text}// {}\n", "x".repeat(i + 1));
        let t = Instant::now();
        notify(
            &client,
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": i + 2 }, "contentChanges": [{ "text": edited }] }),
        )?;
        published(&client)?;
        edits.push(t.elapsed());
        let t = Instant::now();
        request(
            &client,
            100 + i as i32,
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": { "line": last, "character": 4 } }),
        )?;
        hovers.push(t.elapsed());
    }
    println!(
        "edit→diagnostics: median {:>7.2} ms (didChange with the whole text → publishDiagnostics)",
        median(edits).as_secs_f64() * 1e3
    );
    // Typing in the middle: a comment growing before a declaration halfway down, so every
    // declaration after it moves.
    let middle = middle_declaration(&text);
    let mut middle_edits = Vec::new();
    for i in 0..runs {
        let edited = format!("{}// {}\n{}", &text[..middle], "x".repeat(i + 1), &text[middle..]);
        let t = Instant::now();
        notify(
            &client,
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": runs + i + 2 }, "contentChanges": [{ "text": edited }] }),
        )?;
        published(&client)?;
        middle_edits.push(t.elapsed());
    }
    println!(
        "edit in the middle: median {:>7.2} ms (the same, the declarations after the edit moved)",
        median(middle_edits).as_secs_f64() * 1e3
    );
    // Typing in code: a string literal halfway down that grows by one character per edit,
    // so that declaration's tree changes and the file is checked again.
    let quote = middle + text[middle..].find('"').ok_or("no string literal after the middle")? + 1;
    let mut code_edits = Vec::new();
    for i in 0..runs {
        let edited = format!("{}{}{}", &text[..quote], "x".repeat(i + 1), &text[quote..]);
        let t = Instant::now();
        notify(
            &client,
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": 2 * runs + i + 2 }, "contentChanges": [{ "text": edited }] }),
        )?;
        published(&client)?;
        code_edits.push(t.elapsed());
    }
    println!(
        "edit in code:     median {:>7.2} ms (the same, in a string literal: the file is checked again)",
        median(code_edits).as_secs_f64() * 1e3
    );
    println!("hover:            median {:>7.2} ms", median(hovers).as_secs_f64() * 1e3);
    request(&client, 99_999, "shutdown", Value::Null)?;
    notify(&client, "exit", Value::Null)?;
    drop(client);
    server.join().map_err(|_| "the server panicked".to_string())??;
    Ok(())
}

/// The offset of the first `map` declaration at or after the middle of `text`.
fn middle_declaration(text: &str) -> usize {
    let half = text.len() / 2;
    text[half..].find("\nmap ").map_or(half, |i| half + i + 1)
}

fn notify(c: &Connection, method: &str, params: Value) -> Result<()> {
    c.sender.send(Message::Notification(Notification::new(method.into(), params))).map_err(|e| e.to_string())
}

fn request(c: &Connection, id: i32, method: &str, params: Value) -> Result<Value> {
    let id = RequestId::from(id);
    c.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).map_err(|e| e.to_string())?;
    loop {
        match c.receiver.recv_timeout(Duration::from_secs(60)).map_err(|e| e.to_string())? {
            Message::Response(r) if r.id == id => return Ok(r.result.unwrap_or(Value::Null)),
            _ => continue,
        }
    }
}

fn published(c: &Connection) -> Result<()> {
    loop {
        match c.receiver.recv_timeout(Duration::from_secs(60)).map_err(|e| e.to_string())? {
            Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => return Ok(()),
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    /// The benchmark's file must check cleanly, or it measures an error path.
    #[test]
    fn the_large_file_checks_without_errors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = super::large_file(&root, 600).expect("the sources are in the repository");
        assert!(text.lines().count() >= 600);
        let checked = flow_check::check_source(&text);
        let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(checked.model.is_some());
    }
}
