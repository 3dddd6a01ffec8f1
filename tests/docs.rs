//! The documentation is tested: every example in docs/language.md compiles, every example in
//! docs/diagnostics.md raises its code, and every code in the registry is documented and
//! asserted by a test (see `where_codes_are_asserted` for what counts).

mod common;

use flow_diagnostics::CODES;

/// The ```flow blocks of a Markdown text, with the line each starts on.
fn flow_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```flow" => current = Some((i + 2, String::new())),
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn read(path: &str) -> String {
    std::fs::read_to_string(common::root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_language_example_compiles() {
    for (path, at_least) in [("docs/language.md", 8), ("README.md", 1), ("docs/cookbook.md", 5), ("docs/openapi.md", 1)]
    {
        let blocks = flow_blocks(&read(path));
        assert!(blocks.len() >= at_least, "{path} lost its examples");
        for (line, source) in blocks {
            let (rendered, diags) = common::check(&format!("{path}:{line}"), &source);
            assert!(!diags.iter().any(|d| d.is_error()), "the example at {path}:{line} does not compile:\n{rendered}");
        }
    }
}

/// `## CODE — summary` sections of docs/diagnostics.md: (code, summary, body).
fn sections(text: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("## ") {
            let (code, summary) = head.split_once(" — ").unwrap_or((head, ""));
            out.push((code.trim().to_string(), summary.trim().to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.2.push_str(line);
            last.2.push('\n');
        }
    }
    out
}

#[test]
fn every_diagnostics_example_raises_its_code() {
    let text = read("docs/diagnostics.md");
    for (code, _, body) in sections(&text) {
        for (_, source) in flow_blocks(&body) {
            let (rendered, diags) = common::check("example.flow", &source);
            assert!(diags.iter().any(|d| d.code == code), "the example for {code} does not raise it:\n{rendered}");
        }
    }
}

/// A Rust source with its comments blanked out (strings, raw strings and chars kept), so that
/// what is left is code and literals, at the same byte offsets.
fn without_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        out[i] = b' ';
                        out[i + 1] = b' ';
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        out[i] = b' ';
                        out[i + 1] = b' ';
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if b[i] != b'\n' {
                            out[i] = b' ';
                        }
                        i += 1;
                    }
                }
            }
            _ => i = skip_literal(b, i).unwrap_or(i + 1),
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The end of the string, raw string or char literal starting at `i`, if one starts there.
fn skip_literal(b: &[u8], i: usize) -> Option<usize> {
    let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    match b[i] {
        b'"' => {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            Some(j + 1)
        }
        b'r' if !ident_before && matches!(b.get(i + 1), Some(b'#' | b'"')) => {
            let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                return None;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let body = i + 2 + hashes;
            let end = b[body..].windows(close.len()).position(|w| w == close.as_slice())?;
            Some(body + end + close.len())
        }
        // A char literal ('x', '\n', '\u{1F600}'), not a lifetime ('a).
        b'\'' => {
            if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|c| *c == b'\'').map(|p| i + 3 + p)
            } else {
                let len = std::str::from_utf8(&b[i + 1..]).ok()?.chars().next()?.len_utf8();
                (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 2 + len)
            }
        }
        _ => None,
    }
}

/// The test code of a source file: all of it for a test file, else its `#[cfg(test)] mod … { }`
/// blocks. Comments are blanked.
fn test_code(path: &std::path::Path, src: &str) -> String {
    let code = without_comments(src);
    let whole =
        path.components().any(|c| c.as_os_str() == "tests") || path.file_name().is_some_and(|n| n == "tests.rs");
    if whole {
        return code;
    }
    let mut out = String::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at..];
        let Some(open) = after.find(['{', ';']) else { break };
        if after.as_bytes()[open] == b';' {
            // `#[cfg(test)] mod tests;`: the module is a file of its own, read as a whole.
            rest = &after[open..];
            continue;
        }
        let end = bracketed(after, open).map_or(after.len(), |(end, _)| end);
        out.push_str(&after[..end]);
        out.push('\n');
        rest = &after[end..];
    }
    out
}

/// Scans from the bracket at `open` to the one that closes it, string and char literals
/// skipped: the index just past the closing bracket, and where the commas directly inside it
/// are (what separates a call's arguments).
fn bracketed(text: &str, open: usize) -> Option<(usize, Vec<usize>)> {
    let b = text.as_bytes();
    let (mut depth, mut commas, mut i) = (0usize, Vec::new(), open);
    while i < b.len() {
        if let Some(end) = skip_literal(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some((i + 1, commas));
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The arguments of every `assert!`, `assert_eq!` and `assert_ne!` in `code` that assert
/// something: the condition of `assert!`, both sides of `assert_eq!`; never the message
/// arguments, and nothing of `assert_ne!` (it asserts a difference).
fn asserted_arguments(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = skip_literal(b, i) {
            i = end; // a macro's name inside a string is text, not a call
            continue;
        }
        let word_start = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'); // not debug_assert!
        let macro_len = [("assert!(", 1), ("assert_eq!(", 2)]
            .into_iter()
            .find(|(m, _)| word_start && code[i..].starts_with(m))
            .map(|(m, n)| (m.len(), n));
        let Some((len, asserted)) = macro_len else {
            i += 1;
            continue;
        };
        let open = i + len - 1;
        match bracketed(code, open) {
            Some((close, commas)) => {
                // The top-level arguments: between the brackets, split at the commas.
                let bounds = std::iter::once(open).chain(commas).chain(std::iter::once(close - 1));
                let bounds: Vec<usize> = bounds.collect();
                out.extend(bounds.windows(2).take(asserted).map(|w| code[w[0] + 1..w[1]].to_string()));
                i = close;
            }
            None => i += len,
        }
    }
    out
}

/// Whether an asserted argument asserts `code` (its id in a string literal, or its registry
/// constant), in a place that is not negated (`!out.contains("error[R0002]")` asserts that it is
/// absent).
fn asserts_code(argument: &str, id: &str, constant: &str) -> bool {
    let b = argument.as_bytes();
    let mut hits = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = skip_literal(b, i) {
            if b[i] == b'"' || b[i] == b'r' {
                let text = &argument[i..end];
                let mut from = 0;
                while let Some(p) = text[from..].find(id) {
                    let after = text.as_bytes().get(from + p + id.len());
                    if !after.is_some_and(u8::is_ascii_digit) {
                        hits.push(i);
                    }
                    from += p + id.len();
                }
            }
            i = end;
            continue;
        }
        if argument[i..].starts_with(constant)
            && !argument[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            && !argument[i + constant.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        {
            hits.push(i);
        }
        i += 1;
    }
    hits.into_iter().any(|at| !negated(argument, at))
}

/// Whether the term holding the byte at `at` is under a `!`: the chain of calls, paths and
/// fields around it (`!out.stderr.contains(…)`) starts with one.
fn negated(text: &str, at: usize) -> bool {
    let b = text.as_bytes();
    let mut depth = 0i32;
    let mut i = at;
    while i > 0 {
        let c = b[i - 1];
        match c {
            b')' | b']' => depth += 1,
            b'(' | b'[' if depth > 0 => depth -= 1,
            // An opening bracket we are inside: the argument list of a call; step out of it.
            b'(' | b'[' => {}
            _ if depth > 0 => {}
            b'.' | b':' | b'&' | b'_' | b' ' | b'\n' => {}
            _ if c.is_ascii_alphanumeric() => {}
            b'!' => return b.get(i) != Some(&b'='),
            _ => return false,
        }
        i -= 1;
    }
    false
}

/// Where each code is asserted by a test: a rendered `error[CODE]`/`warning[CODE]` in a
/// committed insta snapshot; a `// expect:` header of the err corpus; a docs/diagnostics.md
/// example that raises it (asserted by `every_diagnostics_example_raises_its_code`); a text
/// that a run case of tests/data/run expects on stderr (`stderr_contains`, or a
/// `stderr_counts` above zero: tests/run.rs asserts each); or, in test
/// code (tests/*.rs, a crate's tests.rs, a `#[cfg(test)]` module), the code's id in a string
/// literal or its `codes::` constant inside what an `assert!` or `assert_eq!` asserts, not
/// negated. A code that appears only in a comment, a message or a panic does not count.
fn where_codes_are_asserted(docs: &[(String, String, String)]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut found: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    let mut note = |code: &str, why: String| found.entry(code.to_string()).or_default().push(why);
    let registry = read("crates/flow_diagnostics/src/codes.rs");
    let constant_of = |id: &str| {
        registry
            .lines()
            .find_map(|l| {
                let (name, rest) = l.trim().split_once(" = ")?;
                rest.starts_with(&format!("\"{id}\"")).then(|| name.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no constant for {id} in codes.rs"))
    };
    let mut snapshot_dirs = vec![common::root().join("tests/snapshots")];
    for krate in std::fs::read_dir(common::root().join("crates")).expect("crates") {
        snapshot_dirs.push(krate.expect("crate").path().join("src/snapshots"));
    }
    let mut snapshots = Vec::new();
    for dir in snapshot_dirs.iter().filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(dir).expect("snapshots") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "snap") {
                snapshots.push((common::display(&path), std::fs::read_to_string(&path).expect("snapshot")));
            }
        }
    }
    let mut sources = Vec::new();
    let mut stack = vec![common::root().join("tests"), common::root().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let src = std::fs::read_to_string(&path).expect("source");
                let shown = common::display(&path);
                sources.push((shown.clone(), asserted_arguments(&test_code(std::path::Path::new(&shown), &src))));
            }
        }
    }
    let err_headers: Vec<(String, String)> = common::flow_files("tests/data/err")
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).expect("read");
            (common::display(p), String::from_utf8_lossy(&bytes).lines().next().unwrap_or("").to_string())
        })
        .collect();
    // A run case's expected stderr texts are asserted by tests/run.rs, each as a whole.
    let run_cases: Vec<(String, Vec<String>)> = common::run_cases::case_files()
        .iter()
        .flat_map(|f| {
            let file = common::display(&f.path);
            f.sidecar.case.iter().map(move |(name, case)| {
                (format!("{file} [case.{name}]"), case.asserted_texts().map(|t| format!("{t:?}")).collect())
            })
        })
        .collect();
    for code in CODES {
        let id = code.id;
        for (name, text) in &snapshots {
            if text.contains(&format!("error[{id}]")) || text.contains(&format!("warning[{id}]")) {
                note(id, format!("snapshot {name}"));
            }
        }
        for (name, header) in &err_headers {
            if header.strip_prefix("// expect:").is_some_and(|h| h.split_whitespace().any(|c| c == id)) {
                note(id, format!("err corpus {name}"));
            }
        }
        if let Some((_, _, body)) = docs.iter().find(|(c, _, _)| c == id) {
            if flow_blocks(body).iter().any(|(_, src)| common::check("x.flow", src).1.iter().any(|d| d.code == id)) {
                note(id, "docs/diagnostics.md example".into());
            }
        }
        let constant = constant_of(id);
        for (name, texts) in &run_cases {
            // Each text as a string literal: the same rule as a literal inside an assertion.
            if texts.iter().any(|t| asserts_code(t, id, &constant)) {
                note(id, format!("run case {name}"));
            }
        }
        for (name, arguments) in &sources {
            if arguments.iter().any(|a| asserts_code(a, id, &constant)) {
                note(id, format!("an assertion in {name}"));
            }
        }
    }
    found
}

#[test]
fn the_assertion_finder_reads_only_what_is_asserted() {
    // Made-up codes (Q…, FAKE_…), so that this test asserts no real code itself.
    let code = without_comments(
        r#"
        // assert!(out.contains("Q0001"));
        assert!(out.stderr.contains("error[Q0002]") && x, "{}", "Q0003");
        assert!(!out.stderr.contains("error[Q0004]"), "Q0005");
        assert_eq!(d.code, codes::FAKE_ELEVEN, "{:?}", "Q0006");
        assert_ne!(d.code, "Q0007");
        debug_assert!(d.code == "Q0013");
        assert!(a != "Q0021" && f(|x, y| x == "Q0022"), "msg, with a comma");
        panic!("Q0009");
        let s = "assert!(x == \"Q0010\")";
        /* assert!(y == "Q0012"); */
        "#,
    );
    let args = asserted_arguments(&code);
    let asserted = |id: &str, constant: &str| args.iter().any(|a| asserts_code(a, id, constant));
    for (id, constant, why) in [
        ("Q0002", "FAKE_TWO", "a literal in the condition"),
        ("Q0011", "FAKE_ELEVEN", "a registry constant"),
        ("Q0022", "FAKE_TWENTY_TWO", "inside a closure in the condition"),
        ("Q0021", "FAKE_TWENTY_ONE", "an operand of `!=`, not a negation"),
    ] {
        let found = asserted(id, constant);
        assert!(found, "{why}");
    }
    for id in ["Q0001", "Q0003", "Q0004", "Q0005", "Q0006", "Q0007", "Q0009", "Q0010", "Q0012", "Q0013"] {
        let found = asserted(id, "FAKE_NONE");
        assert!(!found, "{id} is in a comment, a message, a negation, assert_ne!, debug_assert!, a panic or a string");
    }
    // A run case's expected text is read as a string literal of it (escapes and all).
    let in_a_case = asserts_code(&format!("{:?}", "stderr: error[Q0030] \"quoted\""), "Q0030", "FAKE_THIRTY");
    assert!(in_a_case, "a run case's expected stderr text");
    let longer = asserts_code("\"Q00020\"", "Q0002", "FAKE_TWO");
    assert!(!longer, "a longer number is another code");
}

#[test]
fn every_code_is_documented_and_asserted_by_a_test() {
    let docs = sections(&read("docs/diagnostics.md"));
    let asserted = where_codes_are_asserted(&docs);
    let mut problems = Vec::new();
    for code in CODES {
        match docs.iter().find(|(c, _, _)| c == code.id) {
            None => problems.push(format!("{}: no `## {} — …` entry in docs/diagnostics.md", code.id, code.id)),
            Some((_, summary, _)) => {
                if summary != code.summary {
                    problems
                        .push(format!("{}: docs say \"{summary}\", the registry says \"{}\"", code.id, code.summary));
                }
                if !asserted.contains_key(code.id) {
                    problems.push(format!(
                        "{}: no test asserts it (a snapshot showing `error[{}]`, an err corpus `// expect:` \
                         header, a docs example that raises it, a run case's expected stderr, or an \
                         assert!/assert_eq! on the code)",
                        code.id, code.id
                    ));
                }
            }
        }
    }
    for (code, _, _) in &docs {
        if !CODES.iter().any(|c| c.id == code) {
            problems.push(format!("docs/diagnostics.md documents {code}, which is not in the registry"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The editor grammar stays in step with the language: it is valid JSON, the VS Code extension
/// ships the same file, and every keyword of grammar/flow.pest is highlighted.
#[test]
fn textmate_grammar_covers_every_keyword() {
    let grammar = read("grammar/flow.tmLanguage.json");
    let parsed: serde_json::Value = serde_json::from_str(&grammar).expect("grammar/flow.tmLanguage.json is JSON");
    assert_eq!(parsed["scopeName"], "source.flow");
    let pest = read("grammar/flow.pest");
    let mut keywords: Vec<&str> = pest
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_lowercase()))
        .filter(|w| !["ms", "min"].contains(w))
        .collect();
    keywords.sort_unstable();
    keywords.dedup();
    assert!(keywords.len() > 20, "found the keywords of flow.pest: {keywords:?}");
    let missing: Vec<_> = keywords
        .iter()
        .filter(|k| {
            !grammar.contains(&format!("|{k}|"))
                && !grammar.contains(&format!("({k}|"))
                && !grammar.contains(&format!("|{k})"))
                && !grammar.contains(&format!("({k})"))
                && !grammar.contains(&format!("\\\\b{k}\\\\b"))
        })
        .collect();
    assert!(missing.is_empty(), "keywords the TextMate grammar does not highlight: {missing:?}");
    assert!(
        grammar == read("editors/vscode/syntaxes/flow.tmLanguage.json"),
        "copy grammar/flow.tmLanguage.json into editors/vscode/syntaxes"
    );
}

/// The function library of docs/language.md, read from its tables: per family heading (`Text:`,
/// `Arrays …:`, `Numbers:`, `Dates and times …:`, and the `fail(…)` line), the functions named
/// at the start of a row, `` `name(…)` ``.
fn documented_builtins(text: &str) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let section = text.split("### The function library").nth(1).expect("docs/language.md has the function library");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut out = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    let mut family = String::new();
    for line in section.lines() {
        for (heading, name) in [
            ("Text:", "Text"),
            ("Arrays", "Arrays"),
            ("Numbers:", "Numbers"),
            ("Dates and times", "Dates"),
            ("Dictionaries:", "Dicts"),
        ] {
            if line.starts_with(heading) {
                family = name.to_string();
            }
        }
        let cell = if line.starts_with("| `") {
            line.split('|').nth(1).unwrap_or("")
        } else if line.starts_with("`fail(") {
            family = "Control".to_string();
            line
        } else {
            continue;
        };
        for call in cell.split('`').skip(1).step_by(2) {
            if let Some((name, _)) = call.split_once('(') {
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    out.entry(family.clone()).or_default().insert(name.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_function_library_lists_the_table_s_built_ins_by_family() {
    let documented = documented_builtins(&read("docs/language.md"));
    let mut table = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for row in flow_plan::Builtin::table() {
        table.entry(format!("{:?}", row.family)).or_default().insert(row.name.to_string());
    }
    assert_eq!(documented, table, "docs/language.md's function library and the built-ins' table differ");
}
