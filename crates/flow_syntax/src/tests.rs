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
    assert!(diags.iter().all(|d| d.code == "E0001"));
    assert_eq!(file.decls.len(), 1, "the good declaration survives");
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
    assert!(d.message.contains("expected"), "{}", d.message);
    assert!(d.message.contains("found `String`"), "{}", d.message);
    assert_eq!(d.primary_span(), Some(Span::new(13, 19)));
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
