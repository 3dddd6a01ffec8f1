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
