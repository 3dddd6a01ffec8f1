//! Data-driven corpora, one test per file: every file in tests/data/err must produce the
//! diagnostics its header names, rendered as snapshotted (`err/NAME`); every file in
//! tests/data/ok and examples/ must check without a diagnostic, and its plan is snapshotted
//! (`ok/NAME`, `examples/NAME`); tests/data/fmt keeps every comment where it was (`fmt/NAME`);
//! every `.flow` file of the tree formats to the same tree with the same comments
//! (`format/PATH`). Run one with `cargo test --test corpus -- err/unknown_api`. The tests that
//! are not one file's (orphan snapshots, the differential tests of `flowc map`, comments
//! between any two tokens) are registered below them, by their function's name.

mod common;

use common::{check, display, flow_files, root, stem};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let mut trials = Vec::new();
    let per_file =
        |trials: &mut Vec<Trial>, prefix: &str, files: Vec<std::path::PathBuf>, test: fn(&std::path::Path)| {
            for path in files {
                let name = format!("{prefix}/{}", if prefix == "format" { display(&path) } else { stem(&path) });
                trials.push(Trial::test(name, move || {
                    test(&path);
                    Ok::<(), Failed>(())
                }));
            }
        };
    per_file(&mut trials, "err", flow_files("tests/data/err"), err_file_renders_the_expected_diagnostics);
    per_file(
        &mut trials,
        "syntax",
        flow_files("tests/data/syntax"),
        syntax_file_gives_its_diagnostics_with_their_fixes,
    );
    per_file(&mut trials, "ok", flow_files("tests/data/ok"), file_checks_clean_and_its_plan_is_stable);
    per_file(&mut trials, "examples", flow_files("examples"), file_checks_clean_and_its_plan_is_stable);
    per_file(&mut trials, "fmt", flow_files("tests/data/fmt"), fmt_file_keeps_every_comment_where_it_was);
    per_file(&mut trials, "format", every_flow_file(), the_formatter_keeps_meaning_and_comments_and_is_idempotent);
    let whole: [(&str, fn()); 7] = [
        ("corpora_are_present", corpora_are_present),
        (
            "every_fix_of_the_syntax_corpus_removes_its_diagnostic",
            every_fix_of_the_syntax_corpus_removes_its_diagnostic,
        ),
        ("no_orphan_snapshots", no_orphan_snapshots),
        ("flowc_map_writes_what_the_evaluator_gives", flowc_map_writes_what_the_evaluator_gives),
        (
            "flowc_map_agrees_with_the_evaluator_on_random_records",
            flowc_map_agrees_with_the_evaluator_on_random_records,
        ),
        ("a_comment_between_any_two_tokens_stays_between_them", a_comment_between_any_two_tokens_stays_between_them),
        ("the_formatter_formats_most_flow_files", the_formatter_formats_most_flow_files),
    ];
    for (name, test) in whole {
        trials.push(Trial::test(name, move || {
            test();
            Ok(())
        }));
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

fn settings(description: String) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.set_description(description);
    s
}

/// The corpora are where the tests look for them (an empty folder would pass every test).
fn corpora_are_present() {
    assert!(flow_files("tests/data/err").len() > 30, "the err corpus is missing");
    assert!(flow_files("tests/data/fmt").len() >= 4, "the fmt corpus is missing");
    assert!(flow_files("tests/data/syntax").len() >= 80, "the syntax corpus is missing");
    assert!(!flow_files("tests/data/ok").is_empty() && !flow_files("examples").is_empty(), "the ok corpus is missing");
}

fn err_file_renders_the_expected_diagnostics(path: &std::path::Path) {
    let bytes = std::fs::read(path).expect("read");
    let name = display(path);
    let (rendered, codes) = match flow_syntax::decode(&bytes) {
        Ok(source) => {
            let (rendered, diags) = check(&name, source);
            (rendered, diags.iter().map(|d| d.code).collect::<Vec<_>>())
        }
        Err(d) => {
            let lossy = String::from_utf8_lossy(&bytes);
            (
                flow_diagnostics::render_diagnostics(
                    &name,
                    &lossy,
                    std::slice::from_ref(&d),
                    flow_diagnostics::Color::Never,
                ),
                vec![d.code],
            )
        }
    };
    let header = String::from_utf8_lossy(&bytes).lines().next().unwrap_or("").to_string();
    let expected: Vec<&str> = header
        .strip_prefix("// expect:")
        .unwrap_or_else(|| panic!("{name}: first line must be `// expect: CODE…`"))
        .split_whitespace()
        .collect();
    for code in &expected {
        assert!(codes.contains(code), "{name}: expected {code}, got {codes:?}\n{rendered}");
    }
    // Errors are exactly the header's; warnings (often "unused") show in the snapshot.
    for code in codes.iter().filter(|c| c.starts_with('E')) {
        assert!(expected.contains(code), "{name}: unexpected {code} (add it to the header if it is right)\n{rendered}");
    }
    settings(name.clone()).bind(|| insta::assert_snapshot!(format!("err__{}", stem(path)), rendered));
}

/// What a file of tests/data/syntax says it gives: `// expect: CODE@LINE …` (each error, and the
/// line of its primary label), then `// fix: TITLE | …` (the title of each one's structured fix,
/// in the same order; `-` for none); a third line `// warnings: …` is read by the test itself.
fn syntax_header(source: &str, name: &str) -> Vec<(String, usize, Option<String>)> {
    let mut lines = source.lines();
    let expect =
        lines.next().and_then(|l| l.strip_prefix("// expect:")).unwrap_or_else(|| panic!("{name}: no `// expect:`"));
    let fixes = lines.next().and_then(|l| l.strip_prefix("// fix:")).unwrap_or_else(|| panic!("{name}: no `// fix:`"));
    let fixes: Vec<&str> = fixes.split(" | ").map(str::trim).collect();
    let expect: Vec<&str> = expect.split_whitespace().collect();
    assert_eq!(expect.len(), fixes.len(), "{name}: one fix (or `-`) per expected code");
    expect
        .iter()
        .zip(fixes)
        .map(|(e, f)| {
            let (code, line) = e.split_once('@').unwrap_or_else(|| panic!("{name}: `{e}` is not CODE@LINE"));
            let line = line.parse().unwrap_or_else(|_| panic!("{name}: `{e}`: the line is not a number"));
            (code.to_string(), line, (f != "-").then(|| f.to_string()))
        })
        .collect()
}

/// A file of tests/data/syntax: its errors are exactly those of its header, each with its primary
/// label on the line the header says and the structured fix it names; rendered as snapshotted.
fn syntax_file_gives_its_diagnostics_with_their_fixes(path: &std::path::Path) {
    let source = std::fs::read_to_string(path).expect("read");
    let name = display(path);
    let (rendered, diags) = check(&name, &source);
    let index = flow_diagnostics::LineIndex::new(&source);
    let mut errors: Vec<&flow_diagnostics::Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    for (code, line, fix) in syntax_header(&source, &name) {
        let found = errors.iter().position(|d| {
            d.code == code
                && d.primary_span().is_some_and(|s| index.line(s.start as usize) + 1 == line)
                && match &fix {
                    Some(title) => d.fixes.iter().any(|f| &f.title == title),
                    None => d.fixes.is_empty(),
                }
        });
        let Some(found) = found else {
            panic!("{name}: no {code} on line {line} with fix {fix:?}\n{rendered}\n{diags:#?}");
        };
        errors.remove(found);
    }
    assert!(errors.is_empty(), "{name}: errors the header does not name:\n{rendered}");
    // An optional third line, `// warnings: CODE@LINE …` (or `-` for none), names the warnings
    // exactly: a file that proves a cascade is suppressed says that nothing else is reported.
    if let Some(listed) = source.lines().nth(2).and_then(|l| l.strip_prefix("// warnings:")) {
        let mut want: Vec<String> = listed.split_whitespace().filter(|w| *w != "-").map(str::to_string).collect();
        let mut got: Vec<String> = diags
            .iter()
            .filter(|d| !d.is_error())
            .map(|d| format!("{}@{}", d.code, d.primary_span().map_or(0, |s| index.line(s.start as usize) + 1)))
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{name}: the warnings are not those of the header\n{rendered}");
    }
    assert!(!rendered.contains("expected `\"`"), "{name}: a token list in a message\n{rendered}");
    settings(name.clone()).bind(|| insta::assert_snapshot!(format!("syntax__{}", stem(path)), rendered));
}

/// Every structured fix of tests/data/syntax, applied alone to its file: the file is checked
/// again, the diagnostic it fixes is gone (no diagnostic of its code and message is left where
/// there was one more), and the file has no more errors than before.
fn every_fix_of_the_syntax_corpus_removes_its_diagnostic() {
    let same = |ds: &[flow_diagnostics::Diagnostic], d: &flow_diagnostics::Diagnostic| {
        ds.iter().filter(|x| x.code == d.code && x.message == d.message).count()
    };
    let (mut applied, mut failures) = (0, Vec::new());
    for path in flow_files("tests/data/syntax") {
        let source = std::fs::read_to_string(&path).expect("read");
        let name = display(&path);
        let before = flow_check::check_source(&source).diagnostics;
        let errors_before = before.iter().filter(|d| d.is_error()).count();
        for d in &before {
            for fix in &d.fixes {
                let Some(fixed) = fix.apply(&source) else {
                    failures.push(format!("{name}: {} fix {:?} does not apply", d.code, fix.title));
                    continue;
                };
                applied += 1;
                let after = flow_check::check_source(&fixed).diagnostics;
                if same(&after, d) >= same(&before, d) {
                    failures.push(format!("{name}: {} `{}` stays after {:?}:\n{fixed}", d.code, d.message, fix.title));
                }
                let errors_after = after.iter().filter(|d| d.is_error()).count();
                if errors_after > errors_before {
                    failures.push(format!(
                        "{name}: {:?} makes {errors_before} errors {errors_after}:\n{fixed}\n{after:#?}",
                        fix.title
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(applied >= 80, "only {applied} fixes in the syntax corpus");
}

/// A file of tests/data/ok or examples/: checks clean, its `test` blocks pass, its plan
/// round-trips and is snapshotted.
fn file_checks_clean_and_its_plan_is_stable(path: &std::path::Path) {
    let source = std::fs::read_to_string(path).expect("read");
    let name = display(path);
    let checked = flow_check::check_source(&source);
    let rendered =
        flow_diagnostics::render_diagnostics(&name, &source, &checked.diagnostics, flow_diagnostics::Color::Never);
    assert!(checked.diagnostics.is_empty(), "{name} should check clean:\n{rendered}");
    let plan = checked.model.expect("a model").into_plan();
    for t in flow_eval::test_blocks::run_tests(&flow_eval::Program::new(plan.clone())) {
        let why = flow_diagnostics::render_diagnostics(&name, &source, &t.diagnostics, flow_diagnostics::Color::Never);
        assert!(t.passed, "{name}: test {:?} fails:\n{why}", t.name);
    }
    let json = serde_json::to_string_pretty(&plan).expect("plan serializes");
    // The plan round-trips: it is the contract between compiler and runtime.
    let back: flow_plan::Plan = serde_json::from_str(&json).expect("plan deserializes");
    assert_eq!(back, plan, "{name}: plan does not round-trip");
    let kind = if name.starts_with("examples/") { "example" } else { "ok" };
    settings(name.clone()).bind(|| insta::assert_snapshot!(format!("plan__{kind}__{}", stem(path)), json));
}

/// Every snapshot belongs to a corpus file that still exists (insta's `--unreferenced reject`,
/// without needing cargo-insta installed).
fn no_orphan_snapshots() {
    let dir = root().join("tests/snapshots");
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/snapshots") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        // Only committed snapshots count; insta's `.snap.new`/`.pending-snap` are its own
        // work in progress (and may appear while other tests of this run are writing).
        let Some(base) = name.strip_suffix(".snap") else {
            continue;
        };
        let source = if let Some(s) = base.strip_prefix("err__") {
            format!("tests/data/err/{s}.flow")
        } else if let Some(s) = base.strip_prefix("syntax__") {
            format!("tests/data/syntax/{s}.flow")
        } else if let Some(s) = base.strip_prefix("fmt_corpus__") {
            format!("tests/data/fmt/{s}.flow")
        } else if let Some(s) = base.strip_prefix("fmt__") {
            format!("tests/data/ok/{s}.flow")
        } else if let Some(s) = base.strip_prefix("plan__ok__") {
            format!("tests/data/ok/{s}.flow")
        } else if let Some(s) = base.strip_prefix("plan__example__") {
            format!("examples/{s}.flow")
        } else if let Some(s) = base.strip_prefix("e2e__") {
            // End-to-end snapshots are named after their test: tests/e2e.rs mentions the name,
            // or a run case of tests/data/run names it as its `snapshot`.
            let e2e = std::fs::read_to_string(root().join("tests/e2e.rs")).expect("e2e.rs");
            let in_a_case = common::run_cases::case_files()
                .iter()
                .any(|f| f.sidecar.case.values().any(|c| c.snapshot.as_deref() == Some(s)));
            if !e2e.contains(&format!("\"{s}\"")) && !in_a_case {
                orphans.push(name.clone());
            }
            continue;
        } else if let Some(s) = base.strip_prefix("spec__") {
            // tests/openapi.rs: one `flowc check --spec` case per file of tests/data/spec.
            format!("tests/data/spec/{s}.flow")
        } else if let Some(s) = base.strip_prefix("openapi__") {
            // tests/openapi.rs: one imported file and one summary per vendor's excerpt.
            let vendor = s.strip_suffix("_summary").unwrap_or(s);
            if !root().join("tests/data/openapi").join(vendor).join("spec.json").exists() {
                orphans.push(name.clone());
            }
            continue;
        } else {
            orphans.push(name.clone());
            continue;
        };
        if !root().join(&source).exists() {
            orphans.push(name.clone());
        }
    }
    assert!(orphans.is_empty(), "snapshots without a source (delete them): {orphans:?}");
}

/// `{:?}` of a syntax tree without its spans: the tree's meaning.
fn shape(file: &flow_syntax::ast::File) -> String {
    let text = format!("{file:?}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("Span { start: ") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after.find('}').map_or(after.len(), |e| e + 1);
        out.push_str("Span");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every `.flow` file below the root (the build's own folders left out), sorted.
fn every_flow_file() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a folder").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "flow") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The comments of a source, word for word, sorted: what formatting must keep.
fn comment_texts(source: &str) -> Vec<String> {
    let mut out: Vec<String> = flow_syntax::lex::lex(source)
        .filter(|(kind, _)| *kind == flow_syntax::lex::Lexeme::Comment)
        .map(|(_, span)| source[span.range()].trim_end().to_string())
        .collect();
    out.sort();
    out
}

/// Formats `source` and checks what formatting promises: the result parses to the same tree
/// (spans aside), has the same comments (as a multiset, each a block or a line comment as it
/// was), and formats to itself. `None` when the source does not parse (it is then refused).
fn format_checked(name: &str, source: &str) -> Option<String> {
    let (before, diags) = flow_syntax::parse(source);
    if diags.iter().any(flow_diagnostics::Diagnostic::is_error) {
        assert!(flow_syntax::format(source).is_err(), "{name}: a file that does not parse is not formatted");
        return None;
    }
    let formatted = flow_syntax::format(source).unwrap_or_else(|d| panic!("{name}: {d:?}"));
    let (after, diags) = flow_syntax::parse(&formatted);
    assert!(diags.is_empty(), "{name}: the formatted file does not parse: {diags:?}\n{formatted}");
    assert_eq!(shape(&before), shape(&after), "{name}: formatting changed the meaning\n{formatted}");
    assert_eq!(comment_texts(source), comment_texts(&formatted), "{name}: the comments changed\n{formatted}");
    let again = flow_syntax::format(&formatted).expect("formats again");
    assert_eq!(formatted, again, "{name}: formatting is not idempotent");
    Some(formatted)
}

/// Of every `.flow` file of the tree, most format (the rest are the err corpus's files that do
/// not parse, or are not UTF-8).
fn the_formatter_formats_most_flow_files() {
    let files = every_flow_file();
    assert!(files.len() > 60, "{} files", files.len());
    let formatted_files = files
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).expect("read");
            std::str::from_utf8(&bytes).is_ok_and(|source| flow_syntax::format(source).is_ok())
        })
        .count();
    assert!(formatted_files > 40, "{formatted_files} files formatted");
}

/// tests/data/fmt: comments in every position a comment can take; the snapshots show where
/// each one ends up.
fn fmt_file_keeps_every_comment_where_it_was(path: &std::path::Path) {
    let name = display(path);
    let source = std::fs::read_to_string(path).expect("read");
    let formatted = format_checked(&name, &source).unwrap_or_else(|| panic!("{name} does not parse"));
    settings(name.clone()).bind(|| insta::assert_snapshot!(format!("fmt_corpus__{}", stem(path)), formatted));
}

/// Any `.flow` file of the tree: if it parses, formatting keeps its meaning and comments and
/// is idempotent (`format_checked`). The files of examples/, tests/data/ok, tests/data/run and
/// tests/data/library must format, and keep every line comment outside a string word for word;
/// the formatted files of tests/data/ok are snapshotted.
fn the_formatter_keeps_meaning_and_comments_and_is_idempotent(path: &std::path::Path) {
    let name = display(path);
    let folder = name.rsplit_once('/').map_or("", |(folder, _)| folder);
    let must_format = ["examples", "tests/data/ok", "tests/data/run", "tests/data/library"].contains(&folder);
    let bytes = std::fs::read(path).expect("read");
    // A file that is not UTF-8 (the corpus has one on purpose) is no source to format.
    let Ok(source) = std::str::from_utf8(&bytes) else {
        assert!(!must_format, "{name} is not UTF-8");
        return;
    };
    let Some(formatted) = format_checked(&name, source) else {
        assert!(!must_format, "{name} does not parse");
        return;
    };
    if must_format {
        for line in source.lines() {
            if let Some(i) = line.find("//") {
                // Comments outside strings are kept word for word.
                let comment = line[i..].trim_end();
                if !line[..i].contains('"') {
                    assert!(formatted.contains(comment), "{name}: lost the comment {comment:?}\n{formatted}");
                }
            }
        }
    }
    if name.starts_with("tests/data/ok/") {
        settings(name.clone()).bind(|| insta::assert_snapshot!(format!("fmt__{}", stem(path)), formatted));
    }
}

/// `flowc map` writes a map's output straight to text, decoding each record into the previous
/// one's buffers; the evaluator builds a value. Both must give the same record, line after line.
fn flowc_map_writes_what_the_evaluator_gives() {
    let cases: [(&str, &str, &[&str]); 2] = [
        (
            "tests/data/ok/text_building.flow",
            "to_card",
            &[
                r#"{"name":"Zoë Ünal","city":null,"langs":["de","tr"],"score":61,"seen":"2026-03-01T08:05:00+01:00","born":"1990-12-24"}"#,
                r#"{"name":"Ann \"Q\" Lee","city":"OSLO\n","langs":[],"score":3,"seen":"0001-01-01T00:00:00Z","born":"2000-02-29"}"#,
                r#"{"born":"1999-01-01","seen":"9999-12-31T23:59:59-12:00","score":50,"langs":["x"],"name":"ß","extra":{"a":[1,2]}}"#,
            ],
        ),
        (
            "tests/data/ok/bench_customer_map.flow",
            "to_row",
            &[
                r#"{"id":1,"name":"Grace Lovelace","email":"Grace@Example.COM","phone":null,"status":"active","address":{"street":"1 Main St","city":"Paris","zip":"75001","country":"fr"},"tags":["a","b"],"created_at":"2026-02-02T01:01:00Z","order":{"id":"o","currency":"EUR","line_items":[{"sku":"A","qty":2,"price":39.5},{"sku":"B","qty":3,"price":329.0}]}}"#,
                r#"{"id":2,"name":"Mononym","email":"m@x.io","phone":"+1","status":"banned","address":{"street":"Straße 5","city":"Köln","zip":"50667","country":"de"},"tags":[],"created_at":"2026-03-03T23:30:00-05:00","order":{"id":"p","currency":"EUR","line_items":[]}}"#,
            ],
        ),
    ];
    for (file, map, lines) in cases {
        let source = std::fs::read_to_string(root().join(file)).expect("read");
        let plan = flow_eval::Program::new(flow_check::check_source(&source).model.expect("a model").into_plan());
        let index = plan.maps.iter().position(|m| m.name == map).expect("the map");
        let m = &plan.maps[index];
        let input = lines.join("\n");
        let (mut out, mut rejects) = (Vec::new(), Vec::new());
        let summary =
            flow_eval::mapper::map_ndjson(&plan, index, input.as_bytes(), &mut out, &mut rejects).expect("io");
        assert_eq!(summary.rejected, 0, "{}", String::from_utf8_lossy(&rejects));
        let written: Vec<&str> = std::str::from_utf8(&out).expect("utf-8").lines().collect();
        assert_eq!(written.len(), lines.len());
        for (line, written) in lines.iter().zip(written) {
            let record = flow_eval::decode_text(line, &m.param_types[0], &plan.types).expect("decodes");
            let value = flow_eval::eval::run_map(m, vec![record], &plan).expect("maps");
            assert_eq!(written, flow_eval::encode(&value), "{file}: {line}");
        }
    }
}

/// A random JSON value of a declared type: every kind, nulls and absent optional fields, text
/// with escapes and non-ASCII letters, arrays of 0 to 3 items.
fn random_json(
    ty: &flow_plan::Type,
    types: &[flow_plan::NamedType],
    depth: usize,
    next: &mut impl FnMut(usize) -> usize,
) -> String {
    use flow_plan::Type;
    const TEXTS: [&str; 12] = [
        "",
        "Ada Lovelace",
        "Zoë Ünal",
        "x\"y\\z",
        "line\nbreak",
        "DE",
        "vip",
        "  padded ",
        "42",
        "12,50",
        "31.12.2025",
        "a b c",
    ];
    match ty {
        Type::Nullable(inner) => {
            // Deep down, null: recursive types end.
            if depth > 4 || next(4) == 0 {
                "null".into()
            } else {
                random_json(inner, types, depth + 1, next)
            }
        }
        Type::Named(i) => random_json(&types[*i].ty, types, depth + 1, next),
        // A member, which writes its own tag.
        Type::OneOf(u) => random_json(&u.variants[next(u.variants.len())], types, depth + 1, next),
        Type::String => serde_json::to_string(TEXTS[next(TEXTS.len())]).expect("text"),
        Type::Union(members) => serde_json::to_string(&members[next(members.len())]).expect("member"),
        Type::Int => format!("{}", next(2001) as i64 - 1000),
        Type::Float => format!("{}.{}", next(2001) as i64 - 1000, next(100)),
        Type::Decimal => match next(3) {
            0 => format!("{}", next(5000)),
            1 => format!("{}.{:02}", next(5000), next(100)),
            _ => format!("\"{}.5\"", next(100)),
        },
        Type::Bool => (next(2) == 0).to_string(),
        Type::Date => format!("\"20{:02}-{:02}-{:02}\"", 10 + next(20), 1 + next(12), 1 + next(28)),
        // A declared wire form: its own form, or now and then the other one (a mismatch).
        Type::Formed(base, form) => match (form, next(4)) {
            (flow_plan::Form::Text, 0) | (flow_plan::Form::Number, 1..) => format!("{}", next(5000)),
            (flow_plan::Form::Text, _) | (flow_plan::Form::Number, 0) => format!("\"{}\"", next(5000)),
            (flow_plan::Form::Unix { text: true, .. }, n) => {
                format!("\"{}.{:06}\"", 1_500_000_000 + n, next(1_000_000))
            }
            (flow_plan::Form::Unix { .. }, n) => format!("{}", 1_500_000_000_000 + n),
            _ => random_json(base, types, depth, next),
        },
        Type::DateTime => format!(
            "\"2026-{:02}-{:02}T{:02}:{:02}:{:02}{}\"",
            1 + next(12),
            1 + next(28),
            next(24),
            next(60),
            next(60),
            ["Z", "+02:00", "-05:30"][next(3)]
        ),
        Type::Array(item) => {
            let count = if depth > 4 { 0 } else { next(4) };
            let items: Vec<String> = (0..count).map(|_| random_json(item, types, depth + 1, next)).collect();
            format!("[{}]", items.join(","))
        }
        Type::Dict(value) => {
            let count = if depth > 4 { 0 } else { next(4) };
            let entries: Vec<String> = (0..count)
                .map(|_| {
                    let key = serde_json::to_string(TEXTS[next(TEXTS.len())]).expect("key");
                    format!("{key}: {}", random_json(value, types, depth + 1, next))
                })
                .collect();
            format!("{{{}}}", entries.join(","))
        }
        Type::Json => {
            ["null", "1.50", "\"x\"", "[1, 2.0e3, {\"k\": true}]", "{ \"order_id\" : \"123\" }"][next(5)].to_string()
        }
        Type::Object(fields) => {
            let mut parts = Vec::new();
            for f in fields {
                if f.optional && next(3) == 0 {
                    continue;
                }
                parts.push(format!(
                    "{}:{}",
                    serde_json::to_string(f.name.as_str()).expect("key"),
                    random_json(&f.ty, types, depth + 1, next)
                ));
            }
            if next(2) == 0 {
                parts.reverse();
            }
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// Every one-record map of the ok corpus and the examples, on random records of its input type:
/// `flowc map`'s fast paths (decoding into the previous record, text written straight out, lent
/// arrays, field slots) must write what the evaluator builds, and reject what it fails on.
fn flowc_map_agrees_with_the_evaluator_on_random_records() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let mut files = flow_files("tests/data/ok");
    files.extend(flow_files("examples"));
    let mut maps = 0;
    for path in files {
        let source = std::fs::read_to_string(&path).expect("read");
        let plan = flow_eval::Program::new(flow_check::check_source(&source).model.expect("a model").into_plan());
        for (index, m) in plan.maps.iter().enumerate() {
            let [ty] = m.param_types.as_slice() else { continue };
            maps += 1;
            let lines: Vec<String> = (0..200).map(|_| random_json(ty, &plan.types, 0, &mut next)).collect();
            let input = lines.join("\n");
            let (mut out, mut rejects) = (Vec::new(), Vec::new());
            flow_eval::mapper::map_ndjson(&plan, index, input.as_bytes(), &mut out, &mut rejects).expect("io");
            let mut written = std::str::from_utf8(&out).expect("utf-8").lines();
            let rejected: Vec<u64> = std::str::from_utf8(&rejects)
                .expect("utf-8")
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).expect("a reject")["line"].as_u64().expect("line")
                })
                .collect();
            let name = format!("{}: map {}", display(&path), m.name);
            for (n, line) in lines.iter().enumerate() {
                let record =
                    flow_eval::decode_text(line, ty, &plan.types).unwrap_or_else(|e| panic!("{name}: {line}: {e:?}"));
                match flow_eval::eval::run_map(m, vec![record], &plan) {
                    Ok(mut v) => {
                        if let Some(ret) = &m.ret {
                            flow_eval::omit_absent(&mut v, ret, &plan.types);
                        }
                        assert_eq!(written.next(), Some(flow_eval::encode(&v).as_str()), "{name}: {line}");
                    }
                    Err(e) => {
                        assert!(rejected.contains(&(n as u64 + 1)), "{name}: {line} fails ({e:?}) but was not rejected")
                    }
                }
            }
            assert_eq!(written.next(), None, "{name}: more output than records");
        }
    }
    assert!(maps >= 8, "only {maps} maps were tried");
}

/// A comment put between any two tokens of the fmt corpus and an example is kept, once, word
/// for word, between the same words, and the result formats to itself.
fn a_comment_between_any_two_tokens_stays_between_them() {
    use flow_syntax::lex::{lex, Lexeme};
    // The fmt corpus has every construct; one example adds a real file's layout.
    let mut files = flow_files("tests/data/fmt");
    files.push(root().join("examples/orders_to_crm.flow"));
    let mut tried = 0;
    for (f, path) in files.into_iter().enumerate() {
        let source = std::fs::read_to_string(&path).expect("read");
        let (file, _) = flow_syntax::parse(&source);
        let shape_before = shape(&file);
        let starts: Vec<usize> =
            lex(&source).filter(|(k, _)| *k != Lexeme::Comment).map(|(_, s)| s.start as usize).collect();
        // Words and strings before `at`: what a comment must still follow.
        let words_before = |text: &str, at: usize| {
            lex(text).filter(|(k, s)| matches!(k, Lexeme::Word | Lexeme::Str) && (s.end as usize) <= at).count()
        };
        // Every third place (the places of a file's first comment kind are the next file's
        // second), a block and a line comment in turn: each gap a construct has, in some file.
        for (n, &at) in starts.iter().enumerate().skip(f % 3).step_by(3) {
            for comment in [if (n / 3) % 2 == 0 { format!("/* c{n} */") } else { format!("// c{n}\n") }] {
                let variant = format!("{} {comment} {}", &source[..at], &source[at..]);
                let (file, diags) = flow_syntax::parse(&variant);
                if !diags.is_empty() || shape(&file) != shape_before {
                    continue; // inside a token: not a place for a comment
                }
                tried += 1;
                let name = format!("{} with {comment:?} at {at}", display(&path));
                let formatted = format_checked(&name, &variant).expect("parses");
                let text = comment.trim_end();
                let found = formatted.find(text).unwrap_or_else(|| panic!("{name}: lost\n{formatted}"));
                assert_eq!(words_before(&formatted, found), words_before(&variant, at), "{name}: moved\n{formatted}");
            }
        }
    }
    assert!(tried > 300, "{tried} variants");
}
