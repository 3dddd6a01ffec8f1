use super::*;
use crate::ast::*;

fn ok(src: &str) -> File {
    let (file, diags) = parse(src);
    assert!(diags.is_empty(), "unexpected diagnostics: {diags:#?}");
    file
}

fn first_error(src: &str) -> Diagnostic {
    let (_, diags) = parse(src);
    diags.into_iter().next().expect("a diagnostic")
}

fn map_field_expr(src: &str) -> Expr {
    let file = ok(&format!("map m(x: A) -> B {{\n f = {src}\n}}"));
    let Decl::Map(m) = &file.decls[0] else { panic!("not a map") };
    let MapItem::Field(f) = &m.items[0] else { panic!("not a field") };
    f.value.clone()
}

#[test]
fn parses_every_declaration_kind() {
    let file = ok(r#"
// a comment
secret TOKEN
api shop {
  base_url = "https://shop.example.com"
  auth = bearer(TOKEN),
  headers = { "Accept": "application/json" }
}
type Order {
  id: Int
  email: String?, tags: [String]
  status: "open" | "closed"
  "odd-name": { a: Bool }
}
endpoint list_orders = shop GET "/orders" -> { orders: [Order] } {
  records = response.orders
}
endpoint create = shop POST "/x/{id}" (id: Int, body: Order) -> { id: String }
map m(o: Order) -> Order {
  let x: Int = 1
  id = o.id
}
flow f {
  for o in list_orders where o.status != "closed" {
    create(id: o.id, body: m(o))
  }
  on_error = dead_letter("x.ndjson")
}
"#);
    let kinds: Vec<&str> = file.decls.iter().map(Decl::kind).collect();
    assert_eq!(kinds, ["secret", "api", "type", "endpoint", "endpoint", "map", "flow"]);
    let Decl::Type(t) = &file.decls[2] else { panic!() };
    let TypeExprKind::Object(fields) = &t.ty.kind else { panic!() };
    assert_eq!(fields.len(), 5);
    assert!(fields[1].ty.nullable);
    assert_eq!(fields[4].name.name, "odd-name");
    assert!(matches!(&fields[3].ty.kind, TypeExprKind::Union(m) if m.len() == 2));
    let Decl::Endpoint(e) = &file.decls[3] else { panic!() };
    assert_eq!(e.method, Method::Get);
    assert_eq!(e.props[0].name.name, "records");
}

#[test]
fn spans_are_byte_offsets_into_the_file() {
    let src = "secret A\n\n// é\nsecret B\nsecret C";
    let file = ok(src);
    let Decl::Secret(c) = &file.decls[2] else { panic!() };
    assert_eq!(&src[c.name.span.range()], "C");
    assert_eq!(&src[c.span.range()], "secret C");
}

/// A span ends at its node's last token: the comments after it (on its line, or on the lines
/// before the next declaration) belong to no node.
#[test]
fn spans_end_at_the_last_token_not_at_a_comment_after_it() {
    let src = "fn f(x: Int) -> Int = x + 1 // one\n/* two */\n// about T\n\ntype T { a: Int }\nmap m(o: T) -> T {\n  a = o.a /* three */ // four\n  // five\n}\nflow fl {\n  concurrency = 2 // six \"//\"\n  for x in e { c(body: x) }\n}\napi a {\n  base_url = \"https://a.example\" // seven\n}\n";
    let file = ok(src);
    let text = |s: flow_diagnostics::Span| &src[s.range()];
    assert_eq!(text(file.decls[0].span()), "fn f(x: Int) -> Int = x + 1");
    let Decl::Map(m) = &file.decls[2] else { panic!() };
    let MapItem::Field(f) = &m.items[0] else { panic!() };
    assert_eq!(text(f.span), "a = o.a");
    let Decl::Flow(fl) = &file.decls[3] else { panic!() };
    let Stmt::Property(p) = &fl.body[0] else { panic!() };
    assert_eq!(text(p.span), "concurrency = 2");
    let Decl::Api(a) = &file.decls[4] else { panic!() };
    assert_eq!(text(a.props[0].span), "base_url = \"https://a.example\"");
}

/// Text before the first declaration that starts with a blank line and reads like a block
/// written without braces: explained as a syntax error, not an internal one (the recovery took
/// the header to end before its first token and panicked; found by the random edits of
/// `flow_check`'s moved-check test).
#[test]
fn a_braceless_block_after_a_blank_line_is_a_syntax_error_not_a_panic() {
    for src in ["\n}type T\n  a: Int\n", "\n}type T { a: Int }\n", "\n\n  x\n  y\n"] {
        let (_, diagnostics) = parse(src);
        assert!(!diagnostics.is_empty(), "{src:?}");
        assert!(diagnostics.iter().all(|d| !d.message.contains("internal parser error")), "{src:?}: {diagnostics:#?}");
    }
}

#[test]
fn precedence_and_associativity() {
    let e = map_field_expr("a + b * c == d && !e || f ?? g ?? h");
    let ExprKind::Binary { op: BinaryOp::Coalesce, rhs, .. } = &e.kind else { panic!("{e:?}") };
    assert!(matches!(&rhs.kind, ExprKind::Binary { op: BinaryOp::Coalesce, .. }));
    let e = map_field_expr("1 - 2 - 3");
    let ExprKind::Binary { op: BinaryOp::Sub, lhs, .. } = &e.kind else { panic!() };
    assert!(matches!(&lhs.kind, ExprKind::Binary { op: BinaryOp::Sub, .. }));
    let e = map_field_expr("if a then 1 else 2 + 3");
    assert!(matches!(&e.kind, ExprKind::If { .. }));
}

#[test]
fn literals() {
    assert_eq!(map_field_expr("-42").kind, ExprKind::Int(-42));
    assert_eq!(map_field_expr("12.50").kind, ExprKind::Number("12.50".into()));
    assert_eq!(map_field_expr("1500ms").kind, ExprKind::Duration(1500));
    assert_eq!(map_field_expr("2m").kind, ExprKind::Duration(120_000));
    assert_eq!(map_field_expr(r#""a\"b\n\u{e9}""#).kind, ExprKind::Str("a\"b\né".into()));
    let e = map_field_expr("o?.customer.name[0]");
    assert!(matches!(e.kind, ExprKind::Index { .. }));
    let e = map_field_expr("sum(o.items, li => li.q * li.p)");
    let ExprKind::Call { args, .. } = &e.kind else { panic!() };
    assert!(matches!(args[1].value.kind, ExprKind::Lambda { .. }));
}

#[test]
fn field_names_may_be_declaration_keywords() {
    let e = map_field_expr("o.type + o.map + o.if");
    assert!(matches!(e.kind, ExprKind::Binary { .. }));
}

#[test]
fn syntax_errors_are_reported_per_declaration() {
    let (file, diags) = parse("type A {\n  x String\n}\ntype B { y: Int }\nmap m(a: A) -> B {\n  y = (1\n}\n");
    assert_eq!(diags.len(), 2, "{diags:#?}");
    let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0017", "E0005"], "a missing `:`, then the `(` left open");
    assert_eq!(file.decls.len(), 1, "the good declaration survives");
    let names: Vec<Option<&str>> = file.broken.iter().map(|b| b.name.as_deref()).collect();
    assert_eq!(names, [Some("A"), Some("m")], "the broken declarations are named for the checker");
}

#[test]
fn an_unterminated_string_ends_at_its_line_so_the_next_declaration_survives() {
    // The scan that splits the file finds strings by the lexer's rule: the line break after an
    // unterminated string is not part of it, so a declaration on the next line starts a piece.
    let (file, diags) = parse("type A = \"open\ntype B { y: Int }\n");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(file.decls.len(), 1, "the declaration after the broken string survives");
    assert_eq!(file.decls[0].name().name, "B");
}

#[test]
fn syntax_error_says_what_was_expected() {
    let d = first_error("type A {\n  x String\n}");
    assert_eq!(d.code, "E0017");
    assert_eq!(d.primary_span(), Some(Span::new(13, 19)));
    // A failure no cause explains is worded by its block, never as pest's token list.
    let d = first_error("type A {\n  x: Int,,\n}");
    assert_eq!(d.code, "E0001");
    assert_eq!(d.message, "unexpected `,` in the fields of type A");
    assert_eq!(d.help.as_deref(), Some("fields are written `name: Type`, one per line or separated by commas"));
}

/// Each cause is reported at its own span, with the fix that removes it: the recovery applies
/// the fix and parses again before it believes a cause.
#[test]
fn recovery_reports_the_cause_where_it_is_and_its_fix_parses() {
    let cases: [(&str, &str, &str); 6] = [
        ("api a {\n  base_url = \"https://x\n  timeout = 5s\n}", "E0004", "\""),
        ("map m(o: A) -> B {\n  x = o.a +\n  y = o.b\n}", "E0006", "+"),
        ("api a {\n  base_url = \"https://x\"\n  timeout = 20 sec\n}", "E0008", "20 sec"),
        ("test \"t\" {\n  expect f(1 2)\n}", "E0007", "2"),
        ("test \"t\" {\n  expect a and b\n}", "E0010", "and"),
        ("api a {\n  base_url: \"https://x\"\n}", "E0013", "base_url:"),
    ];
    for (src, code, at) in cases {
        let (_, diags) = parse(src);
        assert_eq!(diags.len(), 1, "{src}: {diags:#?}");
        let d = &diags[0];
        assert_eq!(d.code, code, "{src}: {d:#?}");
        let span = d.primary_span().expect("a primary label");
        assert!(src[span.range().start..].starts_with(at), "{src}: the span is at {span:?}");
        let fixed = d.fixes[0].apply(src).expect("the fix applies");
        assert!(parse(&fixed).1.is_empty(), "{src}: the fix leaves {:#?}\n{fixed}", parse(&fixed).1);
    }
}

/// A declaration keyword at the start of a line inside an open `{` ends that declaration: the
/// opener is named and the next declaration is parsed on its own.
#[test]
fn an_unclosed_block_is_named_and_the_next_declaration_survives() {
    let src = "map m(o: A) -> B {\n  x = o.a\n\nmap n(o: A) -> B {\n  x = o.a\n}\n";
    let (file, diags) = parse(src);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, "E0005");
    assert_eq!(diags[0].message, "the `{` of map m is not closed before `map n`");
    assert_eq!(file.decls.len(), 1);
    assert_eq!(file.decls[0].name().name, "n");
}

#[test]
fn junk_before_the_first_declaration_is_an_error() {
    let d = first_error("hello\nsecret A");
    assert_eq!(d.code, "E0001");
}

#[test]
fn integer_out_of_range() {
    let (_, diags) = parse("map m(x: A) -> B {\n f = 99999999999999999999\n}");
    assert_eq!(diags[0].code, "E0212");
    // The digits are read before the minus: the least Int is not a literal.
    let (_, diags) = parse("map m(x: A) -> B {\n f = -9223372036854775808\n}");
    assert_eq!(diags.iter().map(|d| d.code).collect::<Vec<_>>(), ["E0212"]);
    let (_, diags) = parse("map m(x: A) -> B {\n f = -9223372036854775807 - 1\n}");
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn bad_input_never_panics() {
    let deep_brackets = "map m(x: A) -> B { f = ".to_string() + &"(".repeat(10_000) + &")".repeat(10_000) + " }";
    assert_eq!(first_error(&deep_brackets).code, "E0003");
    let deep_ifs = "map m(x: A) -> B { f = ".to_string() + &"if a then 1 else ".repeat(10_000) + "2 }";
    assert_eq!(first_error(&deep_ifs).code, "E0003");
    let long_chain = "map m(x: A) -> B { f = 1".to_string() + &" + 1".repeat(50_000) + " }";
    assert_eq!(first_error(&long_chain).code, "E0003");
    let fine_chain = "map m(x: A) -> B { f = 1".to_string() + &" + 1".repeat(200) + " }";
    assert!(parse(&fine_chain).1.is_empty());
    let huge = "map m(x: A) -> B { f = \"".to_string() + &"x".repeat(1_000_000) + "\" }";
    assert!(parse(&huge).1.is_empty());
    for src in ["", "   \n// only a comment\n", "\u{0}\u{1}\u{7f}", "}}}}", "\"unterminated", "/* open", "type", "é"] {
        let _ = parse(src);
    }
    assert!(parse("").0.decls.is_empty());
}

#[test]
fn nesting_at_the_limit_parses_from_a_small_stack() {
    let depth = MAX_DEPTH - 4;
    let src = "map m(x: A) -> B { f = ".to_string() + &"[".repeat(depth) + &"]".repeat(depth) + " }";
    let ifs =
        "map m(x: A) -> B { f = ".to_string() + &"if a then 1 else ".repeat(scan::MAX_NESTING_KEYWORDS - 1) + "2 }";
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || (parse(&src).1.len(), parse(&ifs).1.len()))
        .expect("spawn");
    assert_eq!(handle.join().expect("no stack overflow"), (0, 0));
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let d = decode(b"secret A\n\xff\xfe").unwrap_err();
    assert_eq!(d.code, "E0002");
    assert_eq!(d.primary_span(), Some(Span::new(9, 9)));
}

#[test]
fn quoted_field_names_are_read_like_bare_ones() {
    // `reactions."+1"`, `fields."sub-tasks"`, `response."vid-offset"`: any JSON key after `.`
    // or `?.`, with the string's escapes; the name's span covers the quotes.
    let e = map_field_expr(r#"o.reactions."+1" + o?."sub\u{2d}tasks""#);
    let ExprKind::Binary { lhs, rhs, .. } = &e.kind else { panic!("not a sum: {e:?}") };
    let ExprKind::Field { name, optional: false, base } = &lhs.kind else { panic!("not a field: {lhs:?}") };
    assert_eq!(name.name, "+1");
    assert_eq!(name.span.range().len(), "\"+1\"".len());
    assert!(matches!(&base.kind, ExprKind::Field { name, .. } if name.name == "reactions"));
    let ExprKind::Field { name, optional: true, .. } = &rhs.kind else { panic!("not a field: {rhs:?}") };
    assert_eq!(name.name, "sub-tasks");
    // A quoted name that is a word is the same field as the bare one.
    assert_eq!(
        format!("{:?}", map_field_expr(r#"o."id""#).kind).replace(char::is_numeric, ""),
        format!("{:?}", map_field_expr(r#"o.id"#).kind).replace(char::is_numeric, "")
    );
}

#[test]
fn the_formatter_keeps_quotes_on_field_paths_only_where_needed() {
    let src = "map m(o: A) -> B {\n  a = o.\"id\" + o.\"+1\"?.\"vid-offset\" + o.\"say \\\"hi\\\"\"\n}\n";
    let out = crate::format::format(src).expect("formats");
    assert_eq!(out, "map m(o: A) -> B {\n  a = o.id + o.\"+1\"?.\"vid-offset\" + o.\"say \\\"hi\\\"\"\n}\n");
    assert_eq!(crate::format::format(&out).expect("formats again"), out);
}

#[test]
fn a_flow_declares_its_state_and_the_formatter_keeps_it() {
    let src = "flow f {\n  // the cursor\n  state since: DateTime = \"2026-01-01T00:00:00Z\" { from = record.updated_at, /* id */ key = record.id }\n  state n: Int = -1\n  for x in list(after: state.since) {\n    save(body: x)\n  }\n}\n";
    let file = ok(src);
    let Decl::Flow(fl) = &file.decls[0] else { panic!() };
    let Stmt::State(st) = &fl.body[0] else { panic!("{:?}", fl.body[0]) };
    assert_eq!(st.name.name, "since");
    assert_eq!(&src[st.ty.span.range()], "DateTime");
    assert_eq!(st.props.iter().map(|p| p.name.name.as_str()).collect::<Vec<_>>(), ["from", "key"]);
    assert!(st.span.range().end <= src.find("\n  state n").unwrap());
    let Stmt::State(bare) = &fl.body[1] else { panic!() };
    assert!(bare.props.is_empty());
    // `state` stays an ordinary name in expressions and as a flow setting's name.
    let Stmt::For(f) = &fl.body[2] else { panic!() };
    assert!(matches!(&f.source.kind, ExprKind::Call { .. }));
    let formatted = crate::format(src).expect("formats");
    assert!(formatted.contains("  // the cursor\n  state since: DateTime = \"2026-01-01T00:00:00Z\" {\n    from = record.updated_at  /* id */\n    key = record.id\n  }\n  state n: Int = -1\n"), "{formatted}");
    assert_eq!(crate::format(&formatted).expect("formats"), formatted, "formatting is idempotent");
    assert_eq!(ok(&formatted).decls.len(), 1);
}

/// Recovery never panics and its fixes always apply, whatever one-character mistake is made
/// anywhere in a file: every position of a small file, with each of the characters people
/// drop or add by mistake inserted there, and each character deleted.
#[test]
fn recovery_survives_any_one_character_mistake() {
    let src = "api a {\n  base_url = \"https://x\"\n  timeout = 5s\n}\ntype T { id: Int, tags: [String] }\nmap m(t: T, n: Int) -> T {\n  id = if t.id > 1 && n < 2 then f(t.id, [1, 2]) else 0\n}\n";
    let mut mutants = Vec::new();
    for i in (0..=src.len()).filter(|i| src.is_char_boundary(*i)) {
        for c in ["\"", "'", "{", "}", "(", ")", "[", "]", ",", ":", "=", "+", "?", "map ", " sec"] {
            mutants.push(format!("{}{c}{}", &src[..i], &src[i..]));
        }
        if i < src.len() {
            mutants.push(format!("{}{}", &src[..i], &src[i + 1..]));
        }
    }
    for text in &mutants {
        let (_, diags) = parse(text);
        for d in &diags {
            assert!(!d.message.contains("expected `\"`"), "a token list: {}\n{text}", d.message);
            for fix in &d.fixes {
                assert!(fix.apply(text).is_some(), "{:?} does not apply to\n{text}", fix.title);
            }
        }
    }
}

/// The files the random-edit test starts from: every example, and every file of the syntax
/// corpus (broken ones too, so recovered and split declarations are reused as well).
/// A file with the nodes two branches added at once: a union type pattern's member and a
/// field's `sensitive` mark (each a span the incremental parse must move).
const MERGED: &str = "type Customer {\n  id: String\n  sensitive email: String\n}\n\n\
type Charge {\n  id: String\n  customer: String | Customer\n}\n\n\
map who(c: Charge) -> { who: String } {\n  who = match c.customer {\n    id: String => id,\n    full: Customer => full.email,\n  }\n}\n\n\
type After { a: Int }\n";

fn edit_test_sources() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut paths = Vec::new();
    for dir in ["examples", "tests/data/syntax", "tests/data/ok"] {
        let entries = std::fs::read_dir(root.join(dir)).expect("the corpus is in the repository");
        paths.extend(
            entries
                .map(|e| e.expect("a directory entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "flow")),
        );
    }
    paths.sort();
    paths.iter().map(|p| std::fs::read_to_string(p).expect("a .flow file")).collect()
}

/// A small deterministic generator (xorshift64*), so the edits are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// The language server re-parses only the declarations an edit touched (`Reparser`); after
/// every one of a long sequence of random edits — insertions of brackets, quotes, keywords and
/// declaration headers, deletions, replacements, anywhere — its file and diagnostics are exactly
/// those of a fresh parse of the same text.
#[test]
fn an_incremental_parse_equals_a_fresh_one_after_every_random_edit() {
    const SNIPPETS: [&str; 16] = [
        "x",
        "\"",
        "{",
        "}",
        "(",
        ")",
        "\n",
        "\nmap m(a: A) -> B {\n",
        "\nflow f {\n",
        "\ntype T { a: Int }\n",
        " + ",
        "//",
        "/*",
        ",",
        "10 sec",
        "é",
    ];
    let mut rng = Rng(0x5eed_f10c);
    let mut reused = 0;
    // The sampled files hold no type pattern's member and no `sensitive` mark: MERGED does,
    // edited three times over.
    let sources = edit_test_sources().into_iter().step_by(3).take(24).chain(std::iter::repeat_n(MERGED.to_string(), 3));
    for source in sources {
        let mut text = source;
        let mut reparser = Reparser::new();
        let (file, _, _) = reparser.parse(&text);
        reparser.keep(file);
        for _ in 0..40 {
            let boundaries: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
            let at = boundaries[rng.below(boundaries.len())];
            let to = boundaries[(boundaries.partition_point(|&b| b < at) + rng.below(8)).min(boundaries.len() - 1)];
            match rng.below(3) {
                0 => text.insert_str(at, SNIPPETS[rng.below(SNIPPETS.len())]),
                1 => text.replace_range(at..to, ""),
                _ => text.replace_range(at..to, SNIPPETS[rng.below(SNIPPETS.len())]),
            }
            let (file, diagnostics, reparsed) = reparser.parse(&text);
            let (fresh, fresh_diagnostics) = parse(&text);
            assert_eq!(file, fresh, "after an edit at {at}:\n{text}");
            assert_eq!(diagnostics, fresh_diagnostics, "after an edit at {at}:\n{text}");
            reused += (fresh.decls.len() + fresh.broken.len()).saturating_sub(reparsed);
            reparser.keep(file);
        }
    }
    assert!(reused > 1000, "the pieces an edit did not touch are taken again ({reused} reused)");
}

/// Every `.flow` text of the repository: the files under examples/ and tests/data/ (all of
/// them: ok, err, syntax, fmt, run, …) and the `flow` examples of the docs.
fn every_flow_text() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the corpus is in the repository") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "flow" || x == "md") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut paths = Vec::new();
    for dir in ["examples", "tests/data", "docs"] {
        walk(&root.join(dir), &mut paths);
    }
    paths.sort();
    let mut texts = Vec::new();
    for path in paths {
        // (A file that is not UTF-8 is a test of E0002: no text to parse.)
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let name = path.display().to_string();
        if path.extension().is_some_and(|x| x == "md") {
            for (n, block) in text.split("```flow\n").skip(1).enumerate() {
                let code = block.split("```").next().unwrap_or_default();
                texts.push((format!("{name} example {n}"), code.to_string()));
            }
        } else {
            texts.push((name, text));
        }
    }
    texts
}

/// The fast path (`fast.rs`) on one declaration's text: it declines, or gives exactly what the
/// grammar gives (the tree with its spans, and the diagnostics). Returns whether it took it.
fn fast_path_agrees(text: &str, base: usize, what: &str) -> bool {
    let Some(fast) = crate::fast::parse_decl(text, base) else { return false };
    match crate::tree_to_ast::parse_decl_with_pest(text, base) {
        Ok(pest) => {
            assert_eq!(fast.0, pest.0, "the fast path's tree differs from pest's: {what}\n{text}");
            assert_eq!(fast.1, pest.1, "the fast path's diagnostics differ from pest's: {what}\n{text}");
        }
        Err(_) => panic!("the fast path took what the grammar refuses: {what}\n{text}"),
    }
    true
}

/// The hand-written fast path builds exactly pest's tree, spans and diagnostics for every
/// declaration of every `.flow` text in the repository, and takes every one of them that the
/// grammar takes (so what users write is parsed fast, not only benchmarks).
#[test]
fn the_fast_path_gives_pest_s_tree_for_every_declaration_in_the_repository() {
    let (mut taken, mut parsed_by_pest) = (0, 0);
    let mut missed = Vec::new();
    for (name, text) in every_flow_text() {
        let Ok(pieces) = scan::split(&text) else { continue };
        for piece in pieces {
            let decl = &text[piece.clone()];
            let fast = fast_path_agrees(decl, piece.start, &name);
            taken += usize::from(fast);
            if crate::tree_to_ast::parse_decl_with_pest(decl, piece.start).is_ok() {
                parsed_by_pest += 1;
                if !fast {
                    missed.push(format!("{name}:\n{decl}"));
                }
            }
        }
    }
    assert!(missed.is_empty(), "the fast path declined {} declarations pest parses, e.g. {}", missed.len(), missed[0]);
    assert!(taken > 1000, "{taken} declarations taken by the fast path");
    assert_eq!(taken, parsed_by_pest);
}

/// Mutated declarations — each of the repository's declarations with tokens inserted, deleted
/// and replaced at seeded random places — are either declined by the fast path or given
/// exactly pest's tree: the fast path never takes text the grammar refuses, and never reads
/// what it takes differently.
#[test]
fn the_fast_path_declines_or_agrees_on_mutated_declarations() {
    const SNIPPETS: [&str; 58] = [
        "?",
        "??",
        "?.",
        ".",
        "...",
        "|",
        "||",
        "=>",
        "=",
        "==",
        "!=",
        "<",
        ">=",
        "-",
        "->",
        "!",
        "+",
        "*",
        "/",
        "%",
        "&&",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "\"",
        "\\",
        "/*",
        "*/",
        "//",
        "\n",
        " ",
        "5",
        "5s",
        "5/min",
        "1.5e3",
        "e",
        "_",
        "let ",
        "state ",
        "sensitive ",
        "if ",
        "then ",
        "else ",
        "match ",
        "catch ",
        "true",
        "null",
        "\u{FEFF}",
        "x",
        "GET ",
        "\\u{41}",
        "\"a\"",
        "99999999999999999999",
    ];
    let mut rng = Rng(0xfa57_9a7e);
    let (mut cases, mut taken) = (0, 0);
    let decls: Vec<(String, String)> = every_flow_text()
        .into_iter()
        .flat_map(|(name, text)| {
            let pieces = scan::split(&text).unwrap_or_default();
            pieces.into_iter().map(move |p| (name.clone(), text[p].to_string())).collect::<Vec<_>>()
        })
        .filter(|(_, d)| d.len() < 1500)
        .collect();
    for (name, decl) in &decls {
        for _ in 0..12 {
            let mut text = decl.clone();
            for _ in 0..=rng.below(2) {
                let boundaries: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
                let at = boundaries[rng.below(boundaries.len())];
                let to = boundaries[(boundaries.partition_point(|&b| b < at) + rng.below(4)).min(boundaries.len() - 1)];
                match rng.below(3) {
                    0 => text.insert_str(at, SNIPPETS[rng.below(SNIPPETS.len())]),
                    1 => text.replace_range(at..to, ""),
                    _ => text.replace_range(at..to, SNIPPETS[rng.below(SNIPPETS.len())]),
                }
            }
            cases += 1;
            taken += usize::from(fast_path_agrees(&text, 7, name));
        }
    }
    assert!(cases > 20_000 && taken > 3000, "{cases} mutants, {taken} taken by the fast path");
}

/// Each of the grammar's choices and repetitions where the fast path decides by the next token
/// (a `let`/`state`/`sensitive` that is a name, `...` after a field, `1.x`, units, patterns,
/// trailing commas, comments and parentheses that spans leave out): taken, and pest's tree.
#[test]
fn the_fast_path_takes_every_construct_with_pest_s_tree() {
    let decls = [
        "map m(a: A,) -> B {\n  let = 1, state = 2\n  x = a.b ...c\n  ...d f = -9223372036854775808\n  g = 1.x h = a. b\n  i = a?.\"k\" j = a[0][1] k = (a).b l = -(a) m = !!a - -1.5\n  n = a ?? b ?? c, o = a catch b catch (c) p = 5m + 5ms + 5/min + 10/s + 2h + 3d + 1e5 + 1.5E-3 + 7e+2\n  q = x => y => x r = if a then b else (c)\n  s = match a { \"x\" | \"y\" => 1, _ => 2, c: C => 3 d: [D] => 4, 5 => 5, true => 6, null => 7, _: E => 8 }\n  t = {a: 1, \"b\": 2, ...c, if: 3} u = [1, 2,] v = f(a: 1, b, ) w = a < b || a <= b && a >= b\n  x = a != b y = \"\\u{41}\\n\\\"\\t\\r\\0\\\\\" z = g () + [] + {} + f()\n  \"quoted key\" = a % b * c / d\n  let v: [Int]? = 99999999999999999999\n}",
        "type T {\n  sensitive a: String, sensitive: Int, sensitive?: Int\n  \"q\"?: [A] d: { [String]: Int, }, e: (A | B)?, f: DateTime(unix_seconds), g: \"a\" | \"b\"\n  let: Int sensitive \"s\": Int\n}",
        "type T = (A)?",
        "type U = { a: Int } | { [K]: V }",
        "endpoint e = a GET \"/x\" (id: Int, n: Int?,) -> [T] { paginate = 1, limit = 2 }",
        "endpoint e = a DELETE \"/x/{id}\"",
        "endpoint e = a POST \"/x\" { }",
        "endpoint e = a PATCH \"/x\" -> T",
        "flow f {\n  state since: DateTime = \"x\" { from = r.a }\n  state = 1\n  for x in y where x.a { c(body: x) for z in x.b { d(z) } }\n  let z: Int = 1\n  concurrency = 2\n  e ()\n}",
        "table t: String -> Int { \"a\" => 1, 2 => 3 true => 4, 1.5 => 5 }",
        "fn f(x: Int) -> Int = x",
        "fn g() -> Int = 1 // trailing\n/* and more */\n",
        "test \"t \\\"q\\\"\" { let a = 1 expect a == 1 expect f(a) }",
        "secret S",
        "api a { base_url = \"x\", timeout = 5s rate_limit = 10/min }",
        "map /* c */ m(a: A) -> B { // c\n  a = 1 /* c */\n  b = a\n    .c // d\n    .e\n} // trailing\n\n",
        "  // before\nsecret S2",
    ];
    for (n, decl) in decls.iter().enumerate() {
        assert!(fast_path_agrees(decl, 11, &format!("construct {n}")), "declined:\n{decl}");
    }
    // What the fast path leaves to pest: a byte-order mark in trivia, an unterminated comment.
    for decl in ["secret\u{FEFF} S", "secret S /* open"] {
        assert!(crate::fast::parse_decl(decl, 0).is_none(), "{decl}");
    }
}

/// `name: T | null` (the grammar's `null_member`): pest reads it as a present field with the
/// type before `| null`, after a union too; the fast path gives the same tree; `null` names no type
/// anywhere else.
#[test]
fn a_field_typed_t_or_null_is_present_and_left_to_pest() {
    let text = "type T { a: DateTime | null, b: \"x\" | \"y\" | null, c?: String, d: Int? }";
    assert!(fast_path_agrees(text, 0, "`| null`"), "the fast path declined `| null`");
    let file = ok(text);
    let Decl::Type(t) = &file.decls[0] else { panic!() };
    let TypeExprKind::Object(fields) = &t.ty.kind else { panic!() };
    let present: Vec<bool> = fields.iter().map(|f| f.present).collect();
    assert_eq!(present, [true, true, false, false]);
    assert!(!fields[0].ty.nullable && matches!(&fields[0].ty.kind, TypeExprKind::Name(n) if n.name == "DateTime"));
    assert!(matches!(&fields[1].ty.kind, TypeExprKind::Union(m) if m.len() == 2));
    for refused in ["type U = String | null", "map m(a: A | null) -> B { }", "type V { a: [String | null] }"] {
        assert!(!crate::parse(refused).1.is_empty(), "{refused}");
    }
}
