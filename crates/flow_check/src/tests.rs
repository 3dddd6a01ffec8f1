//! The checker's API in one place; its behaviour is tested by the corpora in tests/data.

use super::*;

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
fn a_good_file_checks_and_lowers() {
    let checked = check_source(GOOD);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    let plan = lower(&checked.model.expect("a model"));
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

/// Thousands of random files built from the language's own tokens go through parse, check and
/// lower without a panic. Deterministic (a fixed xorshift seed), so a failure reproduces.
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
            let _ = lower(&model);
        }
    }
    // And a good file with every character position cut off.
    for cut in (0..GOOD.len()).filter(|c| GOOD.is_char_boundary(*c)) {
        let checked = check_source(&GOOD[..cut]);
        if let Some(model) = checked.model {
            let _ = lower(&model);
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
