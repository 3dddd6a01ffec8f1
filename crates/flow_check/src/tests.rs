//! The checker's API in one place; its behaviour is tested by the corpora in tests/data.

use super::*;
use flow_plan::{DEFAULT_FLOW_CONCURRENCY, DEFAULT_TIMEOUT_MS};

const GOOD: &str = r#"
secret TOKEN
api shop {
  base_url = "https://shop.example.com/api"
  auth = bearer(TOKEN)
}
type Order { id: Int, email: String?, total: Decimal, status: "open" | "closed" }
type Contact { external_id: String, email: String, tier: "gold" | "silver" }
endpoint list_orders = shop GET "/orders" -> { orders: [Order], next: String? } {
  records = response.orders
  paginate = cursor(param: "cursor", from: response.next)
}
endpoint create_contact = shop POST "/contacts" (body: Contact) -> { id: String }
map to_contact(o: Order) -> Contact {
  tier = if o.total > 1000 then "gold" else "silver"
  external_id = "shop-" + str(o.id)
  email = lower(o.email ?? "unknown@example.com")
}
flow sync {
  for o in list_orders where o.status != "closed" {
    create_contact(body: to_contact(o))
  }
}
"#;

#[test]
fn a_good_file_checks_into_a_plan() {
    let checked = check_source(GOOD);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    let plan = checked.model.expect("a model").into_plan();
    assert_eq!(plan.apis[0].timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(plan.flows[0].concurrency, DEFAULT_FLOW_CONCURRENCY);
    // Fields come out in the target type's order, whatever order the map set them in.
    let names: Vec<&str> = plan.maps[0].fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["external_id", "email", "tier"]);
    assert_eq!(plan.secrets, ["TOKEN"]);
}

#[test]
fn errors_mean_no_model_and_all_are_reported() {
    let bad = GOOD.replace("o.email ??", "o.emial ??").replace("\"gold\" else", "\"bronze\" else");
    let checked = check_source(&bad);
    assert!(checked.model.is_none());
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0205", "E0104"], "{:#?}", checked.diagnostics);
}

#[test]
fn warnings_alone_keep_the_model() {
    let src = format!("{GOOD}\nsecret UNUSED_ONE\n");
    let checked = check_source(&src);
    assert!(checked.model.is_some());
    assert_eq!(checked.diagnostics.len(), 1);
    assert_eq!(checked.diagnostics[0].code, "W0001");
}

/// Thousands of random files built from the language's own tokens go through parse and check
/// (which builds the plan) without a panic. Deterministic (a fixed xorshift seed), so a failure reproduces.
#[test]
fn token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "secret ",
        "api ",
        "type ",
        "endpoint ",
        "map ",
        "flow ",
        "for ",
        "in ",
        "where ",
        "let ",
        "if ",
        "then ",
        "else ",
        "null",
        "true",
        "A",
        "b",
        "Order",
        "String",
        "Int",
        "Decimal",
        "Date",
        "DateTime",
        "[",
        "]",
        "{",
        "}",
        "(",
        ")",
        ":",
        "=",
        ",",
        ".",
        "?.",
        "?",
        "??",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "!=",
        "<",
        ">=",
        "&&",
        "||",
        "!",
        "=>",
        "->",
        "|",
        "\"x\"",
        "\"/p/{id}\"",
        "1",
        "2.5",
        "10s",
        "GET ",
        "POST ",
        "records",
        "response",
        "paginate",
        "cursor(",
        "next_url(",
        "bearer(",
        "base_url",
        "\"https://h.example.com\"",
        "sum(",
        "str(",
        "lower(",
        "body",
        "\n",
        " ",
        "99999999999999999999",
        "on_error",
        "dead_letter(",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 60) as usize;
        let src: String = (0..len).map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize]).collect();
        let checked = check_source(&src);
        if let Some(model) = checked.model {
            let _ = model.into_plan();
        }
    }
    // And a good file with every character position cut off.
    for cut in (0..GOOD.len()).filter(|c| GOOD.is_char_boundary(*c)) {
        let checked = check_source(&GOOD[..cut]);
        if let Some(model) = checked.model {
            let _ = model.into_plan();
        }
    }
}

/// Every name an expression, a type or a call's argument uses in the repository's .flow files is
/// recorded with the declaration the checker resolved it to, and that declaration reads the same
/// name: editors rename and navigate from this record alone.
#[test]
fn every_use_of_a_declared_name_is_recorded_with_its_declaration() {
    use ast::{ExprKind, TypeExprKind};
    fn exprs<'a>(e: &'a ast::Expr, out: &mut Vec<&'a ast::Ident>, calls: &mut Vec<&'a ast::Ident>) {
        match &e.kind {
            ExprKind::Name(id) => out.push(id),
            ExprKind::Call { callee, args } => {
                calls.push(callee);
                args.iter().for_each(|a| exprs(&a.value, out, calls));
            }
            ExprKind::Field { base, .. } => exprs(base, out, calls),
            ExprKind::Index { base, index } => {
                exprs(base, out, calls);
                exprs(index, out, calls);
            }
            ExprKind::Unary { expr, .. } => exprs(expr, out, calls),
            ExprKind::Binary { lhs, rhs, .. } => {
                exprs(lhs, out, calls);
                exprs(rhs, out, calls);
            }
            ExprKind::If { cond, then, otherwise } => {
                [cond, then, otherwise].into_iter().for_each(|x| exprs(x, out, calls));
            }
            ExprKind::Lambda { body, .. } => exprs(body, out, calls),
            ExprKind::Catch { expr, default } => {
                exprs(expr, out, calls);
                exprs(default, out, calls);
            }
            ExprKind::Match { scrutinee, arms } => {
                exprs(scrutinee, out, calls);
                arms.iter().for_each(|a| exprs(&a.body, out, calls));
            }
            ExprKind::Object(items) => items.iter().for_each(|i| match i {
                ast::ObjectItem::Field(f) => exprs(&f.value, out, calls),
                ast::ObjectItem::Spread(s) => exprs(s, out, calls),
            }),
            ExprKind::Array(items) => items.iter().for_each(|i| exprs(i, out, calls)),
            _ => {}
        }
    }
    fn types<'a>(t: &'a ast::TypeExpr, out: &mut Vec<&'a ast::Ident>) {
        match &t.kind {
            TypeExprKind::Name(id) if !BUILTIN_TYPES.contains(&id.name.as_str()) => out.push(id),
            TypeExprKind::Union(m) => m.iter().for_each(|x| types(x, out)),
            TypeExprKind::Array(x) => types(x, out),
            TypeExprKind::Object(fields) => fields.iter().for_each(|f| types(&f.ty, out)),
            TypeExprKind::Dict { value, .. } => types(value, out),
            _ => {}
        }
    }
    fn stmts<'a>(body: &'a [ast::Stmt], out: &mut Vec<&'a ast::Ident>, calls: &mut Vec<&'a ast::Ident>) {
        for s in body {
            match s {
                ast::Stmt::Let(l) => exprs(&l.value, out, calls),
                ast::Stmt::Call(e) => exprs(e, out, calls),
                ast::Stmt::For(f) => {
                    exprs(&f.source, out, calls);
                    f.filter.iter().for_each(|c| exprs(c, out, calls));
                    stmts(&f.body, out, calls);
                }
                ast::Stmt::Property(_) | ast::Stmt::State(_) => {}
            }
        }
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut files = Vec::new();
    for dir in ["examples", "tests/data/ok"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).expect("a directory").flatten() {
            if entry.path().extension().is_some_and(|e| e == "flow") {
                files.push(entry.path());
            }
        }
    }
    assert!(files.len() >= 5);
    for path in files {
        let source = std::fs::read_to_string(&path).expect("readable");
        let (file, _) = flow_syntax::parse(&source);
        let checked = check(&file);
        assert!(checked.model.is_some(), "{}: {:?}", path.display(), checked.diagnostics);
        let info = &checked.info;
        let (mut names, mut calls) = (Vec::new(), Vec::new());
        for d in &file.decls {
            match d {
                ast::Decl::Type(t) => types(&t.ty, &mut names),
                ast::Decl::Endpoint(e) => {
                    names.push(&e.api);
                    e.params.iter().for_each(|p| types(&p.ty, &mut names));
                    e.response.iter().for_each(|t| types(t, &mut names));
                }
                ast::Decl::Map(m) => {
                    m.params.iter().for_each(|p| types(&p.ty, &mut names));
                    types(&m.ret, &mut names);
                    for item in &m.items {
                        match item {
                            ast::MapItem::Let(l) => exprs(&l.value, &mut names, &mut calls),
                            ast::MapItem::Field(f) => exprs(&f.value, &mut names, &mut calls),
                            ast::MapItem::Spread(e) => exprs(e, &mut names, &mut calls),
                        }
                    }
                }
                ast::Decl::Function(f) => {
                    f.params.iter().for_each(|p| types(&p.ty, &mut names));
                    exprs(&f.body, &mut names, &mut calls);
                }
                ast::Decl::Flow(f) => stmts(&f.body, &mut names, &mut calls),
                ast::Decl::Test(t) => t.items.iter().for_each(|i| match i {
                    ast::TestItem::Let(l) => exprs(&l.value, &mut names, &mut calls),
                    ast::TestItem::Expect(e) => exprs(e, &mut names, &mut calls),
                }),
                _ => {}
            }
        }
        let text = |s: Span| &source[s.range()];
        for id in names.iter().chain(calls.iter().filter(|c| plan::Builtin::from_name(&c.name).is_none())) {
            let decl = info.name_uses.iter().find(|(u, _)| *u == id.span).map(|(_, d)| *d);
            let decl =
                decl.unwrap_or_else(|| panic!("{}: `{}` at {:?} is not recorded", path.display(), id.name, id.span));
            assert_eq!(text(decl), id.name, "{}", path.display());
            assert!(info.names.iter().any(|n| n.span == decl && n.name == id.name), "{}", path.display());
        }
        for c in calls.iter().filter(|c| plan::Builtin::from_name(&c.name).is_some()) {
            assert!(info.builtin_uses.iter().any(|(s, b)| *s == c.span && b.name() == c.name), "{}", c.name);
        }
        // And nothing else: every recorded use reads its declaration's name.
        for (u, d) in &info.name_uses {
            assert_eq!(text(*u), text(*d), "{}", path.display());
        }
    }
}

/// The poison type (what the checker gives a value it already reported) fits anywhere, so it
/// must never come out of a file without errors: each of these once did, silently.
#[test]
fn a_file_without_errors_never_types_a_value_as_poison() {
    // A chain of aliases longer than any bound: the last one is still Int, not poison.
    let mut aliases = String::from("type A0 = Int\n");
    for i in 1..80 {
        aliases.push_str(&format!("type A{i} = A{}\n", i - 1));
    }
    let src =
        format!("{aliases}type Row {{ n: A79 }}\ntype Out {{ n: A79 }}\nmap m(r: Row) -> Out {{\n  n = \"text\"\n}}\n");
    let codes: Vec<&str> = check_source(&src).diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"E0201"), "{codes:?}");
    // `null?.x` is null, and null is no Int.
    let src = "type Out { n: Int }\nmap m(r: Out) -> Out {\n  let z = null\n  n = z?.count\n}\n";
    let codes: Vec<&str> = check_source(src).diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"E0202"), "{codes:?}");
    // `[]` alone: refused, not an array of poison.
    let src = "type Out { n: [Int] }\nmap m(r: Out) -> Out {\n  n = map([], x => x.anything)\n}\n";
    let codes: Vec<&str> = check_source(src).diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["W0001", "E0218"], "{codes:?}");
}

/// Two types that differ only far down, and two recursive types, are compared all the way:
/// no depth is deep enough to stop looking and say "they agree".
#[test]
fn deeply_nested_types_are_compared_all_the_way_down() {
    let mut src = String::from("type A0 { v: Int }\ntype B0 { v: String }\n");
    for i in 1..40 {
        src.push_str(&format!("type A{i} {{ x: A{} }}\ntype B{i} {{ x: B{} }}\n", i - 1, i - 1));
    }
    src.push_str("map m(a: A39) -> B39 {\n  x = a.x\n}\n");
    let codes: Vec<&str> = check_source(&src).diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"E0201"), "{codes:?}");
    // Recursive types: a tree of Ints is no tree of Strings, and is itself.
    let src = "type T { v: Int, kids: [T] }\ntype U { v: String, kids: [U] }\ntype W { v: Int, kids: [W] }\n\
               map bad(t: T) -> U {\n  v = \"x\"\n  kids = t.kids\n}\nmap good(t: T) -> W {\n  v = t.v\n  kids = t.kids\n}\n";
    let checked = check_source(src);
    let errors: Vec<&str> = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
    assert_eq!(errors, ["E0201"], "{:#?}", checked.diagnostics);
}

/// A test's `expect a == b` keeps both sides as the comparison inferred them; they must be what
/// inferring each side alone gives (the plan is the same as when they are inferred again), for
/// every `.flow` file of the repository that has tests.
#[test]
fn a_tests_sides_are_each_side_inferred_alone() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["examples", "tests/data/ok", "tests/data/library", "tests/data/err", "tests/data/run"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "flow") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut compared = 0;
    for path in &files {
        // Some err files are not UTF-8 on purpose.
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let (file, _) = flow_syntax::parse(&text);
        if file.decls.iter().all(|d| !matches!(d, ast::Decl::Test(_))) {
            continue;
        }
        let run = |again: bool| {
            let mut checker = Checker::new(&file);
            checker.infer_sides_again = again;
            checker.run();
            let diagnostics = std::mem::take(&mut checker.diagnostics);
            (diagnostics, checker.into_model().into_plan())
        };
        let (reused, reference) = (run(false), run(true));
        assert_eq!(reused.0, reference.0, "{}: diagnostics", path.display());
        assert_eq!(reused.1, reference.1, "{}: plan", path.display());
        compared += 1;
    }
    assert!(compared >= 5, "only {compared} files with tests");
}

/// `type T0 = partial(T1)`, `type T1 = partial(T2)`, …: each base declared after the type
/// derived from it. Resolved without recursion as deep as the chain: 50,000 of them check on a
/// 2 MiB stack (this overflowed the stack before).
#[test]
fn a_long_chain_of_derived_types_declared_before_their_bases_checks() {
    const N: usize = 50_000;
    let mut src = String::new();
    for i in 0..N {
        src.push_str(&format!("type T{i} = partial(T{})\n", i + 1));
    }
    src.push_str(&format!("type T{N} {{ id: Int, login: String }}\n"));
    src.push_str("endpoint e = a GET \"/\" -> T0\napi a { base_url = \"https://a.example\" }\n");
    let codes = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || check_source(&src).diagnostics.iter().map(|d| d.code).collect::<Vec<_>>())
        .expect("a thread")
        .join()
        .expect("checked without overflowing the stack");
    assert!(!codes.iter().any(|c| c.starts_with('E')), "{codes:?}");
}

/// `type X = Y`, `type Y = X`: the aliases' cycle (E0213) is the whole story; a derivation from
/// either says nothing more (it said E0239, "not an object type", before).
#[test]
fn a_derivation_from_an_alias_cycle_reports_only_the_cycle() {
    let src = "type X = Y\ntype Y = X\ntype S = partial(X)\ntype _U { s: S }\n";
    let codes: Vec<&str> = check_source(src).diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"E0213"), "{codes:?}");
    assert!(!codes.contains(&"E0239"), "{codes:?}");
}

/// A derivation written where none can be, or miswritten, still uses its base: no W0001 for it.
#[test]
fn a_refused_derivation_still_uses_its_base() {
    for (src, code) in [
        ("type User { id: Int }\ntype _T { owner: pick(User, id) }\n", "E0240"),
        ("type User { id: Int }\ntype _S = pick(User)\n", "E0240"),
        ("type User { id: Int }\ntype _S = partial(User, id)\n", "E0240"),
        ("type User { id: Int }\ntype _S = partial(pick(User))\n", "E0240"),
        ("type User { id: Int }\ntype _S = omit(User, field: id)\n", "E0240"),
    ] {
        let codes: Vec<&str> = check_source(src).diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [code], "{src}");
    }
}

/// A field named by a reserved word is written quoted as an argument of `pick`/`omit` (the
/// grammar reads no name `in`), and the did-you-mean's fix writes it so (it wrote `in` bare,
/// which does not parse).
#[test]
fn a_reserved_word_field_is_picked_quoted_and_the_fix_quotes_it() {
    let ok = "type Param { name: String, in: String }\ntype S = pick(Param, name, \"in\")\ntype _U { s: S, o: O }\ntype O = omit(Param, \"in\")\n";
    let checked = check_source(ok);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    let wrong = "type Param { name: String, in: String }\ntype _S = pick(Param, inn)\n";
    let checked = check_source(wrong);
    let d = checked.diagnostics.iter().find(|d| d.code == "E0238").expect("E0238");
    assert_eq!(d.fixes[0].edits[0].replacement, "\"in\"");
}

/// `flowc check`'s check without the editors' record gives exactly the diagnostics and the plan
/// of the check with it, on every `.flow` text of the repository.
#[test]
fn a_check_without_the_record_has_the_same_diagnostics_and_plan() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut compared = 0;
    for dir in ["examples", "tests/data/ok", "tests/data/err", "tests/data/syntax", "tests/data/library"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for path in entries.map(|e| e.expect("a directory entry").path()) {
            if path.extension().is_none_or(|x| x != "flow") {
                continue;
            }
            let Ok(text) = String::from_utf8(std::fs::read(&path).expect("a .flow file")) else { continue };
            let (file, parse_diags) = flow_syntax::parse(&text);
            let with = crate::check_parsed(&file, parse_diags.clone());
            let without = crate::check_parsed_without_record(&file, parse_diags);
            assert_eq!(with.diagnostics, without.diagnostics, "{}", path.display());
            assert_eq!(
                with.model.as_ref().map(|m| format!("{:?}", m.plan())),
                without.model.as_ref().map(|m| format!("{:?}", m.plan())),
                "{}",
                path.display()
            );
            assert!(without.info.field_decls.is_empty(), "{}", path.display());
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared} files compared");
}
