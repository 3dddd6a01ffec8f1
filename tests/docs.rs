//! The documentation is tested: every example in docs/language.md compiles, every example in
//! docs/diagnostics.md raises its code, and every code in the registry is documented and
//! triggered by a test.

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
    for (path, at_least) in [("docs/language.md", 8), ("README.md", 1), ("docs/cookbook.md", 5)] {
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

#[test]
fn every_code_is_documented_and_triggered_by_a_test() {
    let docs = sections(&read("docs/diagnostics.md"));
    // What the tests show: rendered outputs in the snapshots, and the end-to-end assertions.
    let mut evidence = read("tests/e2e.rs");
    for entry in std::fs::read_dir(common::root().join("tests/snapshots")).expect("snapshots") {
        evidence.push_str(&std::fs::read_to_string(entry.expect("entry").path()).expect("snapshot"));
    }
    let mut problems = Vec::new();
    for code in CODES {
        match docs.iter().find(|(c, _, _)| c == code.id) {
            None => problems.push(format!("{}: no `## {} — …` entry in docs/diagnostics.md", code.id, code.id)),
            Some((_, summary, body)) => {
                if summary != code.summary {
                    problems
                        .push(format!("{}: docs say \"{summary}\", the registry says \"{}\"", code.id, code.summary));
                }
                let example_raises = flow_blocks(body)
                    .iter()
                    .any(|(_, src)| common::check("x.flow", src).1.iter().any(|d| d.code == code.id));
                let shown = evidence.contains(&format!("[{}]", code.id));
                if !example_raises && !shown {
                    problems.push(format!("{}: no test triggers it", code.id));
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
