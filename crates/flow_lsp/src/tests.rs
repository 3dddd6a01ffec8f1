//! In-process protocol tests: a client talks to the server over an in-memory connection.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};

struct Client {
    conn: Connection,
    server: Option<std::thread::JoinHandle<Result<(), String>>>,
    next_id: i32,
}

const URI: &str = "file:///work/orders.flow";

/// How long to wait for an answer before calling the server hung: far beyond any real answer's
/// time (milliseconds), so a slow machine never fails a test.
const HANG: std::time::Duration = std::time::Duration::from_secs(120);

impl Client {
    fn start() -> Client {
        let (server_side, client_side) = Connection::memory();
        let server = std::thread::spawn(move || super::serve(&server_side));
        let mut c = Client { conn: client_side, server: Some(server), next_id: 0 };
        c.request("initialize", json!({ "capabilities": {} }));
        c.notify("initialized", json!({}));
        c
    }

    /// A client with `text` open and its first diagnostics read.
    fn opened(text: &str) -> Client {
        let c = Client::start();
        c.open(text);
        let _ = c.diagnostics();
        c
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn.sender.send(Message::Notification(Notification::new(method.into(), params))).expect("send");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.conn.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).expect("send");
        loop {
            match self.conn.receiver.recv_timeout(HANG).expect("an answer") {
                Message::Response(r) if r.id == id => return r.result.unwrap_or(Value::Null),
                _ => continue,
            }
        }
    }

    /// The next published diagnostics.
    fn diagnostics(&self) -> Vec<Value> {
        loop {
            match self.conn.receiver.recv_timeout(HANG).expect("diagnostics") {
                Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                    return n.params["diagnostics"].as_array().cloned().unwrap_or_default();
                }
                _ => continue,
            }
        }
    }

    fn open(&self, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": URI, "languageId": "flow", "version": 1, "text": text } }),
        );
    }

    fn change(&self, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn at(&mut self, method: &str, line: u32, character: u32, extra: Value) -> Value {
        let mut params =
            json!({ "textDocument": { "uri": URI }, "position": { "line": line, "character": character } });
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                p.insert(k.clone(), v.clone());
            }
        }
        self.request(method, params)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        if let Some(s) = self.server.take() {
            let _ = s.join();
        }
    }
}

const SOURCE: &str = "// An order, as the shop sends it.\ntype Order { id: Int, email: String?, customer: { name: String } }\ntype Contact { id: String, email: String }\n\nmap to_contact(o: Order) -> Contact {\n  id = str(o.id)\n  email = lower(o.emial ?? \"\")\n}\n\ntest \"t\" {\n  expect to_contact({ id: 1, email: null, customer: { name: \"é\" } }).id == \"1\"\n}\n";

#[test]
fn diagnostics_on_open_match_flowc_check_and_clear_after_an_edit() {
    let c = Client::start();
    c.open(SOURCE);
    let diags = c.diagnostics();
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "E0104");
    assert_eq!(diags[0]["range"]["start"], json!({ "line": 6, "character": 18 }));
    assert!(diags[0]["message"].as_str().is_some_and(|m| m.contains("help: did you mean `email`?")));
    assert_eq!(diags[0]["relatedInformation"][0]["location"]["uri"], URI);
    c.change(&SOURCE.replace("emial", "email"));
    assert!(c.diagnostics().is_empty());
}

#[test]
fn positions_are_utf16_columns() {
    let c = Client::start();
    // `é` is one UTF-16 unit but two bytes; `😀` is two units and four bytes.
    c.open("type T { a: Int }\nmap m(t: T) -> T {\n  a = \"é😀\" + 1\n}\n");
    let diags = c.diagnostics();
    let d = diags.iter().find(|d| d["code"] == "E0209").expect("E0209");
    assert_eq!(d["range"], json!({ "start": { "line": 2, "character": 6 }, "end": { "line": 2, "character": 15 } }));
}

#[test]
fn hover_definition_references_and_rename() {
    let mut c = Client::opened(SOURCE);
    let hover = c.at("textDocument/hover", 4, 20, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("type Order { id: Int") && md.contains("An order, as the shop sends it."), "{md}");
    let builtin = c.at("textDocument/hover", 5, 8, json!({}));
    assert!(builtin["contents"]["value"].as_str().is_some_and(|v| v.contains("str(x: scalar) -> String")));
    let def = c.at("textDocument/definition", 4, 20, json!({}));
    assert_eq!(def["range"]["start"], json!({ "line": 1, "character": 5 }));
    let refs = c.at("textDocument/references", 1, 6, json!({ "context": { "includeDeclaration": true } }));
    assert_eq!(refs.as_array().map(Vec::len), Some(2));
    let rename = c.at("textDocument/rename", 1, 6, json!({ "newName": "ShopOrder" }));
    assert_eq!(rename["changes"][URI].as_array().map(Vec::len), Some(2));
}

#[test]
fn completion_offers_names_functions_keywords_and_fields() {
    let text = "type Order { id: Int, customer: { name: String, email: String? } }\ntype Out { n: String }\nmap m(o: Order) -> Out {\n  n = o.customer.\n}\nmap other(o: Order) -> Out {\n  n = str(o.id)\n}\n";
    let mut c = Client::opened(text);
    let fields = c.at("textDocument/completion", 3, 17, json!({}));
    let labels: Vec<&str> = fields.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["name", "email"]);
    assert_eq!(fields[1]["detail"], "String?");
    let all = c.at("textDocument/completion", 3, 6, json!({}));
    let labels: Vec<&str> = all.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    // The map being edited does not parse yet; the other declarations are all offered.
    for want in ["Order", "other", "lower", "sum", "match", "let"] {
        assert!(labels.contains(&want), "{want}: {labels:?}");
    }
}

#[test]
fn symbols_formatting_and_quick_fixes() {
    let mut c = Client::opened(SOURCE);
    let symbols = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": URI } }));
    let names: Vec<&str> = symbols.as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["Order", "Contact", "to_contact", "t"]);
    let edits = c.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let formatted = edits[0]["newText"].as_str().unwrap_or_default();
    assert_eq!(flow_syntax::format(SOURCE).ok().as_deref(), Some(formatted), "the same as flowc fmt");
    let actions = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": URI }, "range": { "start": { "line": 6, "character": 18 }, "end": { "line": 6, "character": 23 } }, "context": { "diagnostics": [] } }),
    );
    assert_eq!(actions[0]["title"], "replace with `email`");
    assert_eq!(actions[0]["edit"]["changes"][URI][0]["newText"], "email");
}

#[test]
fn quick_fixes_are_the_checkers_structured_fixes() {
    // A misspelt union member: the fix writes the whole string literal, quotes included.
    let text = "type O { status: \"open\" | \"closed\" }\nmap m(o: O) -> O {\n  status = \"opne\"\n}\n";
    let mut c = Client::opened(text);
    let actions = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": URI }, "range": { "start": { "line": 2, "character": 11 }, "end": { "line": 2, "character": 11 } }, "context": { "diagnostics": [] } }),
    );
    assert_eq!(actions[0]["title"], "replace with `\"open\"`", "{actions}");
    assert_eq!(actions[0]["kind"], "quickfix");
    assert_eq!(actions[0]["diagnostics"][0]["code"], "E0205");
    let edit = &actions[0]["edit"]["changes"][URI][0];
    assert_eq!(edit["newText"], "\"open\"");
    assert_eq!(
        edit["range"],
        json!({ "start": { "line": 2, "character": 11 }, "end": { "line": 2, "character": 17 } })
    );
    // No action where no diagnostic has a fix.
    let none = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": URI }, "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 1 } }, "context": { "diagnostics": [] } }),
    );
    assert_eq!(none, json!([]));
}

const FIELDS: &str = "type Order {\n  id: Int\n  // Where receipts go.\n  email: String?\n}\ntype Contact { id: String, email: String }\n\nmap to_contact(o: Order) -> Contact {\n  id = str(o.id)\n  email = lower(o.email ?? \"\")\n}\n";

#[test]
fn fields_of_declared_types_navigate_hover_and_rename() {
    let mut c = Client::start();
    c.open(FIELDS);
    // Only W0001: the map is not used by a flow.
    assert!(c.diagnostics().iter().all(|d| d["severity"] == 2));
    // `o.email` on line 9 goes to `email` in `type Order` (line 3), not in `Contact`.
    let def = c.at("textDocument/definition", 9, 18, json!({}));
    assert_eq!(def["range"], json!({ "start": { "line": 3, "character": 2 }, "end": { "line": 3, "character": 7 } }));
    // The map's output field `email =` is `Contact.email`.
    let def = c.at("textDocument/definition", 9, 3, json!({}));
    assert_eq!(def["range"]["start"], json!({ "line": 5, "character": 27 }));
    let hover = c.at("textDocument/hover", 9, 18, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("Order.email: String?") && md.contains("Where receipts go."), "{md}");
    // References from the declaration: the declaration and the one use.
    let refs = c.at("textDocument/references", 3, 3, json!({ "context": { "includeDeclaration": true } }));
    let lines: Vec<u64> =
        refs.as_array().into_iter().flatten().filter_map(|r| r["range"]["start"]["line"].as_u64()).collect();
    assert_eq!(lines, [3, 9]);
    let rename = c.at("textDocument/rename", 9, 18, json!({ "newName": "mail" }));
    let edits = rename["changes"][URI].as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 2);
    let mut renamed = FIELDS.to_string();
    for line in [9, 3] {
        let e = edits.iter().find(|e| e["range"]["start"]["line"] == line).expect("an edit on that line");
        let start = e["range"]["start"]["character"].as_u64().unwrap_or(0) as usize;
        let at = renamed.lines().take(line).map(|l| l.len() + 1).sum::<usize>() + start;
        renamed.replace_range(at..at + "email".len(), "mail");
    }
    // The renamed file checks cleanly, and `Contact.email` kept its name.
    c.change(&renamed);
    assert!(c.diagnostics().iter().all(|d| d["severity"] == 2), "{renamed}");
    assert!(renamed.contains("type Contact { id: String, email: String }"));
}

#[test]
fn hover_shows_the_type_of_paths_and_expressions() {
    let mut c = Client::opened(FIELDS);
    let param = c.at("textDocument/hover", 8, 11, json!({}));
    assert_eq!(param["contents"]["value"], "```flow\no: Order\n```");
    let default = c.at("textDocument/hover", 9, 24, json!({}));
    assert_eq!(default["contents"]["value"], "```flow\no.email ?? \"\": String\n```");
}

#[test]
fn completion_after_a_dot_uses_the_checked_type_of_any_expression() {
    let text = "type Order { id: Int, customer: { name: String, tier: Int }, items: [{ sku: String, qty: Int }] }\ntype Out { n: String, q: Int }\nmap m(o: Order) -> Out {\n  let who = o.customer\n  n = who.\n  q = sum(o.items, i => i.qty)\n}\n";
    let mut c = Client::opened(text);
    let labels = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str().map(String::from)).collect()
    };
    // A `let`: its type comes from the checker, not from a parameter.
    let let_fields = c.at("textDocument/completion", 4, 10, json!({}));
    assert_eq!(labels(&let_fields), ["name", "tier"]);
    assert_eq!(let_fields[1]["detail"], "Int");
    // A lambda parameter: the element type of `o.items`.
    c.change(&text.replace("who.\n", "who.name\n").replace("i.qty", "i."));
    let _ = c.diagnostics();
    let lambda_fields = c.at("textDocument/completion", 5, 26, json!({}));
    assert_eq!(labels(&lambda_fields), ["sku", "qty"]);
}

/// After a `.` on a union, the fields every member has; inside an arm that narrows it, the
/// member's own.
#[test]
fn completion_on_a_union_offers_its_common_fields_and_in_a_narrowed_arm_the_members() {
    let text = "type Card { object: \"card\", id: String, brand: String }\ntype Bank { object: \"bank\", id: String, name: String }\ntype Out { n: String }\nmap m(s: Card | Bank) -> Out {\n  n = s.\n}\n";
    let mut c = Client::opened(text);
    let labels = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str().map(String::from)).collect()
    };
    let common = c.at("textDocument/completion", 4, 8, json!({}));
    assert_eq!(labels(&common), ["object", "id"]);
    c.change(&text.replace("n = s.\n", "n = match s.object {\n    \"card\" => s.,\n    _ => \"-\",\n  }\n"));
    let _ = c.diagnostics();
    let card = c.at("textDocument/completion", 5, 16, json!({}));
    assert_eq!(labels(&card), ["object", "id", "brand"]);
}

/// A file where an endpoint, a type, a map, a secret and a parameter share their names with
/// fields, response fields, object keys and query keys. `[name#TAG]` marks every place that
/// names the declaration TAG (its declaration and its uses): exactly those, and nothing else,
/// must change when it is renamed.
const SHARED: &str = r#"secret [token#S]

api shop {
  base_url = "https://shop.example.com"
  auth = bearer([token#S])
}

type [item#T] { sku: String, qty: Int }

type Order { id: Int, orders: Int, item: [item#T], token: String, summary: String }

type Summary { id: Int, summary: String, orders: Int, item: [item#T] }

endpoint [orders#E] = shop GET "/orders/{[item#P]}" ([item#P]: String) -> { orders: [Order] } {
  records = response.orders
  query = { item: [item#P] }
}

endpoint save = shop POST "/summaries" (body: Summary)

map [summary#M]([o#O]: Order) -> Summary {
  id = [o#O].id
  summary = [o#O].summary + [o#O].token
  orders = [o#O].orders
  item = [o#O].item
}

flow sync {
  for o in [orders#E]([item#P]: "all") {
    save(body: [summary#M](o))
  }
}

test "summary keeps the counts" {
  let o = { id: 1, orders: 2, item: { sku: "a", qty: 1 }, token: "t", summary: "s" }
  expect [summary#M](o).orders == 2
}
"#;

/// The text with `[name#TAG]` marks resolved: `rename` gives TAG's new name, the rest keep theirs.
/// Also the offset of TAG's first mark (its declaration).
fn resolve_marks(marked: &str, rename: Option<(&str, &str)>) -> (String, usize) {
    let (mut out, mut rest, mut first) = (String::new(), marked, None);
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let mark = rest[open + 1..].find(']').map(|j| &rest[open + 1..open + 1 + j]);
        let Some((name, tag)) = mark.and_then(|m| m.split_once('#')) else {
            // An array type or literal, not a mark.
            out.push('[');
            rest = &rest[open + 1..];
            continue;
        };
        match rename {
            Some((t, new)) if t == tag => {
                first.get_or_insert(out.len());
                out.push_str(new);
            }
            _ => out.push_str(name),
        }
        rest = &rest[open + 1 + name.len() + 1 + tag.len() + 1..];
    }
    out.push_str(rest);
    (out, first.unwrap_or(0))
}

fn position_of(text: &str, offset: usize) -> (u32, u32) {
    let line = text[..offset].matches('\n').count();
    let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (line as u32, col as u32)
}

/// Applies a rename's edits (ASCII text: columns are bytes).
fn apply(text: &str, result: &Value) -> String {
    let mut edits: Vec<(usize, usize, String)> = result["changes"][URI]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let at = |p: &Value| {
                let line = p["line"].as_u64().unwrap_or(0) as usize;
                text.split_inclusive('\n').take(line).map(str::len).sum::<usize>()
                    + p["character"].as_u64().unwrap_or(0) as usize
            };
            (at(&e["range"]["start"]), at(&e["range"]["end"]), e["newText"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    out
}

/// The plan as JSON, with the declaration called `new` given back its name `old` (and a secret
/// so named, wherever the plan refers to it): what must be all that differs after a rename.
fn plan_named_back(text: &str, new: &str, old: &str) -> Value {
    let checked = flow_check::check_source(text);
    let model = checked.model.unwrap_or_else(|| panic!("the file checks: {:?}\n{text}", checked.diagnostics));
    let mut plan = serde_json::to_value(model.plan()).unwrap_or_default();
    fn walk(v: &mut Value, new: &str, old: &str) {
        match v {
            Value::Object(o) => {
                if o.len() == 1 && o.get("secret").is_some_and(|s| s == new) {
                    o.insert("secret".into(), json!(old));
                }
                o.values_mut().for_each(|x| walk(x, new, old));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, new, old)),
            _ => {}
        }
    }
    walk(&mut plan, new, old);
    for list in ["apis", "types", "endpoints", "maps", "flows", "tables", "functions"] {
        for d in plan[list].as_array_mut().into_iter().flatten() {
            if d["name"] == new {
                d["name"] = json!(old);
            }
        }
    }
    for s in plan["secrets"].as_array_mut().into_iter().flatten() {
        if *s == new {
            *s = json!(old);
        }
    }
    plan
}

#[test]
fn renaming_a_declaration_changes_its_uses_and_never_a_field_or_key_of_that_name() {
    let (text, _) = resolve_marks(SHARED, None);
    let mut c = Client::start();
    c.open(&text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] == 2), "{text}");
    let original_plan = plan_named_back(&text, "", "");
    // Same-length names keep every span, so the plans compare whole.
    for (tag, old, new) in
        [("E", "orders", "buyers"), ("T", "item", "line"), ("M", "summary", "digests"), ("S", "token", "bearr")]
    {
        let (expected, decl) = resolve_marks(SHARED, Some((tag, new)));
        let (line, col) = position_of(&text, decl);
        let result = c.at("textDocument/rename", line, col, json!({ "newName": new }));
        let renamed = apply(&text, &result);
        assert_eq!(renamed, expected, "renaming {old} to {new}");
        // The renamed file checks, and its plan is the original one but for the name: the same
        // requests, paths, query keys, bodies and response fields.
        assert_eq!(plan_named_back(&renamed, new, old), original_plan, "renaming {old} to {new}");
        // References and highlights name the same places as the rename.
        let refs = c.at("textDocument/references", line, col, json!({ "context": { "includeDeclaration": true } }));
        assert_eq!(refs.as_array().map(Vec::len), result["changes"][URI].as_array().map(Vec::len), "{old}");
        let highlights = c.at("textDocument/documentHighlight", line, col, json!({}));
        assert_eq!(highlights.as_array().map(Vec::len), refs.as_array().map(Vec::len), "{old}");
    }
    // Locals: an endpoint's parameter (its path placeholder, its query value and a call's
    // argument, not the query key `item`), and a map's parameter (not the flow's or the test's `o`).
    for (tag, new) in [("P", "kind"), ("O", "x")] {
        let (expected, decl) = resolve_marks(SHARED, Some((tag, new)));
        let (line, col) = position_of(&text, decl);
        let renamed = apply(&text, &c.at("textDocument/rename", line, col, json!({ "newName": new })));
        assert_eq!(renamed, expected, "renaming parameter {tag}");
        let checked = flow_check::check_source(&renamed);
        assert!(checked.model.is_some(), "{:?}", checked.diagnostics);
    }
    assert!(expected_query_key_kept(&resolve_marks(SHARED, Some(("P", "kind"))).0));
}

fn expected_query_key_kept(renamed: &str) -> bool {
    renamed.contains("query = { item: kind }") && renamed.contains("\"/orders/{kind}\"")
}

#[test]
fn definition_goes_to_the_declaration_the_checker_resolved() {
    let (text, _) = resolve_marks(SHARED, None);
    let mut c = Client::opened(&text);
    let (line, col) = position_of(&text, text.find("for o in orders").unwrap_or(0) + "for o in ".len());
    let def = c.at("textDocument/definition", line, col, json!({}));
    let decl = position_of(&text, text.find("endpoint orders").unwrap_or(0) + "endpoint ".len());
    assert_eq!(def["range"]["start"], json!({ "line": decl.0, "character": decl.1 }));
    // `response.orders` is a field of the response, not the endpoint: it goes to the response
    // type's field.
    let (line, col) = position_of(&text, text.find("response.orders").unwrap_or(0) + "response.".len());
    let field = position_of(&text, text.find("{ orders: [Order] }").unwrap_or(0) + "{ ".len());
    let def = c.at("textDocument/definition", line, col, json!({}));
    assert_eq!(def["range"]["start"], json!({ "line": field.0, "character": field.1 }));
    // An object key is no use of a name either.
    let (line, col) = position_of(&text, text.find("token: \"t\"").unwrap_or(0));
    assert_eq!(c.at("textDocument/definition", line, col, json!({})), Value::Null);
    assert_eq!(c.at("textDocument/prepareRename", line, col, json!({})), Value::Null);
    assert_eq!(c.at("textDocument/rename", line, col, json!({ "newName": "tok" })), Value::Null);
}

#[test]
fn a_rename_that_would_change_the_meaning_is_refused() {
    let (text, _) = resolve_marks(SHARED, None);
    let mut c = Client::opened(&text);
    let (line, col) = position_of(&text, text.find("map summary").unwrap_or(0) + "map ".len());
    for (new, why) in [("save", "already declared"), ("lower", "built-in function"), ("match", "not a name")] {
        let id = {
            c.next_id += 1;
            RequestId::from(c.next_id)
        };
        let params =
            json!({ "textDocument": { "uri": URI }, "position": { "line": line, "character": col }, "newName": new });
        c.conn
            .sender
            .send(Message::Request(Request::new(id.clone(), "textDocument/rename".into(), params)))
            .expect("send");
        let error = loop {
            match c.conn.receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("an answer") {
                Message::Response(r) if r.id == id => break r.error,
                _ => continue,
            }
        };
        let message = error.map(|e| e.message).unwrap_or_default();
        assert!(message.contains(why), "{new}: {message}");
    }
    // A local cannot take the name of another local of its declaration, nor of a declaration.
    let (line, col) = position_of(&text, text.find("map summary(o").unwrap_or(0) + "map summary(".len());
    let r = c.at("textDocument/prepareRename", line, col, json!({}));
    assert_eq!(r["placeholder"], "o");
}

#[test]
fn hover_and_completion_tell_a_field_from_a_declaration_of_the_same_name() {
    let (text, _) = resolve_marks(SHARED, None);
    let mut c = Client::opened(&text);
    let hover_at = |c: &mut Client, needle: &str, skip: usize| {
        let (line, col) = position_of(&text, text.find(needle).unwrap_or(0) + skip);
        c.at("textDocument/hover", line, col, json!({}))["contents"]["value"].as_str().unwrap_or_default().to_string()
    };
    // A response field called like the endpoint: its type, not the endpoint.
    assert_eq!(hover_at(&mut c, "response.orders", 10), "```flow\nresponse.orders: [Order]\n```");
    // A field of a declared type called like the secret and like the map.
    assert!(hover_at(&mut c, ".token\n", 1).contains("Order.token: String"));
    assert!(hover_at(&mut c, "  summary = o", 3).contains("Summary.summary: String"));
    // An object key called like the endpoint is not the endpoint.
    assert!(!hover_at(&mut c, "orders: 2", 1).contains("endpoint"));
    // The declarations themselves, from their uses.
    assert!(hover_at(&mut c, "bearer(token)", 8).contains("secret token"));
    assert!(hover_at(&mut c, "summary(o).orders", 2).contains("map summary(o: Order) -> Summary"));
    assert!(hover_at(&mut c, "in orders(", 4).contains("endpoint orders = shop GET"));
    assert_eq!(hover_at(&mut c, "query = { item: item }", 16), "```flow\nitem: String\n```", "a parameter: its type");
    // Completing a field's name after the `.` offers the fields, not the declarations.
    let partial = text.replace("records = response.orders", "records = response.ord");
    c.change(&partial);
    let _ = c.diagnostics();
    let (line, col) = position_of(&partial, partial.find("response.ord").unwrap_or(0) + "response.ord".len());
    let items = c.at("textDocument/completion", line, col, json!({}));
    let labels: Vec<&str> = items.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["orders"]);
    assert_eq!(items[0]["detail"], "[Order]");
}

#[test]
fn renaming_a_functions_parameter_renames_the_arguments_that_name_it() {
    let text = "fn tag(prefix: String, id: Int) -> String = prefix + str(id)\n\ntest \"t\" {\n  expect tag(id: 3, prefix: \"#\") == \"#3\"\n  expect tag(\"#\", 4) == \"#4\"\n}\n";
    let mut c = Client::opened(text);
    let decl = text.find("prefix").expect("the parameter");
    let (line, col) = position_of(text, decl);
    let renamed = apply(text, &c.at("textDocument/rename", line, col, json!({ "newName": "head" })));
    assert_eq!(
        renamed,
        "fn tag(head: String, id: Int) -> String = head + str(id)\n\ntest \"t\" {\n  expect tag(id: 3, head: \"#\") == \"#3\"\n  expect tag(\"#\", 4) == \"#4\"\n}\n"
    );
    let checked = flow_check::check_source(&renamed);
    assert!(checked.model.is_some(), "{:?}", checked.diagnostics);
}

/// Fields whose JSON keys are no words (`"+1"`, `"sub-tasks"`): read by quoted paths, they
/// hover, complete and rename like any field, and every edit writes the name as the grammar
/// needs it there.
#[test]
fn quoted_field_names_hover_complete_and_rename() {
    let text = "type Reactions { \"+1\": Int, \"-1\": Int, total_count: Int }\ntype Issue { id: Int, reactions: Reactions }\ntype Out { up: Int, all: Int }\nmap m(i: Issue) -> Out {\n  up = i.reactions.\"+1\"\n  all = i.reactions.total_count\n}\n";
    let mut c = Client::opened(text);
    // Hover on the quoted use: the field's declaration.
    let hover = c.at("textDocument/hover", 4, 21, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("Reactions.\"+1\": Int"), "{md}");
    // The declaration and the use are one symbol.
    let refs = c.at("textDocument/references", 0, 19, json!({ "context": { "includeDeclaration": true } }));
    let lines: Vec<u64> =
        refs.as_array().into_iter().flatten().filter_map(|r| r["range"]["start"]["line"].as_u64()).collect();
    assert_eq!(lines, [0, 4]);
    // Completion after the `.` offers every field, and inserts a key that is no word quoted.
    c.change(&text.replace("i.reactions.total_count", "i.reactions."));
    let _ = c.diagnostics();
    let items = c.at("textDocument/completion", 5, 20, json!({}));
    let items = items.as_array().cloned().unwrap_or_default();
    let plus = items.iter().find(|i| i["label"] == "+1").expect("the quoted field is offered");
    assert_eq!(plus["insertText"], "\"+1\"");
    let total = items.iter().find(|i| i["label"] == "total_count").expect("a word field");
    assert!(total.get("insertText").is_none_or(Value::is_null), "{total}");
    c.change(text);
    let _ = c.diagnostics();
    // Renamed to another key that is no word: quoted at the declaration and the use.
    let renamed = apply(text, &c.at("textDocument/rename", 4, 21, json!({ "newName": "thumbs-up" })));
    assert!(renamed.contains("{ \"thumbs-up\": Int,") && renamed.contains("i.reactions.\"thumbs-up\""), "{renamed}");
    assert!(
        !flow_check::check_source(&renamed).diagnostics.iter().any(flow_diagnostics::Diagnostic::is_error),
        "{renamed}"
    );
    // Renamed to a word: the quotes go.
    let renamed = apply(text, &c.at("textDocument/rename", 0, 19, json!({ "newName": "plus_one" })));
    assert!(renamed.contains("{ plus_one: Int,") && renamed.contains("i.reactions.plus_one\n"), "{renamed}");
    // Not to the name of another field of the type.
    assert_eq!(c.at("textDocument/rename", 0, 19, json!({ "newName": "-1" })), Value::Null);
    // The rename box shows the name, not its quotes.
    let prepared = c.at("textDocument/prepareRename", 4, 21, json!({}));
    assert_eq!(prepared["placeholder"], "+1");
}

/// The outline is the checker's record of the declarations: each in file order with its kind, a
/// name declared twice listed twice, a test by its title; in a file with a syntax error, the
/// declarations that parsed.
#[test]
fn the_outline_lists_every_declaration_and_survives_a_syntax_error() {
    let text = "type Order { id: Int }\ntype Order { id: Int }\nfn twice(n: Int) -> Int = n * 2\ntest \"doubles\" {\n  expect twice(2) == 4\n}\nmap broken(o: Order) -> Order {\n  id: o.id +\n}\n";
    let mut c = Client::opened(text);
    let symbols = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": URI } }));
    let outline: Vec<(String, String, i64, i64)> = symbols
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (
                field("name"),
                field("detail"),
                s["kind"].as_i64().unwrap_or(-1),
                s["range"]["start"]["line"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let kind = |k: lsp_types::SymbolKind| serde_json::to_value(k).ok().and_then(|v| v.as_i64()).unwrap_or(-2);
    assert_eq!(
        outline,
        [
            ("Order".to_string(), "type".to_string(), kind(lsp_types::SymbolKind::STRUCT), 0),
            ("Order".to_string(), "type".to_string(), kind(lsp_types::SymbolKind::STRUCT), 1),
            ("twice".to_string(), "fn".to_string(), kind(lsp_types::SymbolKind::FUNCTION), 2),
            ("doubles".to_string(), "test".to_string(), kind(lsp_types::SymbolKind::EVENT), 3),
        ]
    );
}

#[test]
fn hover_shows_a_declared_wire_form_on_paths_and_fields() {
    let text = "type Msg { ts: DateTime(unix_seconds, string, digits: 6), price: Decimal(string) }\ntype Out { at: DateTime }\nmap m(x: Msg) -> Out {\n  at = x.ts\n}\n";
    let mut c = Client::opened(text);
    // A path to the field: its type with its form, as the checker resolved it.
    let path = c.at("textDocument/hover", 3, 10, json!({}));
    let md = path["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("DateTime(unix_seconds, string, digits: 6)"), "{md}");
    // The completion of the fields says so too.
    c.change(&text.replace("x.ts\n", "x.\n"));
    let _ = c.diagnostics();
    let fields = c.at("textDocument/completion", 3, 9, json!({}));
    assert_eq!(fields[1]["detail"], "Decimal(string)");
}

#[test]
fn hover_on_a_sensitive_field_says_it_is_masked_and_the_formatter_keeps_the_mark() {
    let text = "type Contact {\n  id: Int\n  sensitive email: String\n  sensitive: Bool\n}\n";
    let mut c = Client::opened(text);
    let hover = c.at("textDocument/hover", 2, 13, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("sensitive Contact.email: String"), "{md}");
    assert!(md.contains("masked as `[sensitive]`"), "{md}");
    // A field named `sensitive` is an ordinary field.
    let plain = c.at("textDocument/hover", 3, 4, json!({}));
    let md = plain["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("Contact.sensitive: Bool") && !md.contains("masked"), "{md}");
    let formatted = flow_syntax::format("type Contact { id: Int,   sensitive   email: String, sensitive: Bool }\n")
        .expect("formats");
    assert_eq!(formatted, text);
}

const DERIVED: &str = "type User { id: Int, login: String, email: String }\ntype UserSummary = pick(User, id, login)\ntype UserPatch = partial(omit(User, id))\nmap summary(u: User) -> UserSummary {\n  id = u.id\n  login = u.login\n}\n";

#[test]
fn derived_types_hover_with_their_fields_and_their_fields_navigate_and_rename_with_the_base() {
    let mut c = Client::start();
    c.open(DERIVED);
    // Only W0001s: nothing uses the map or the patch type.
    assert!(c.diagnostics().iter().all(|d| d["severity"] == 2));
    // The derived type's name, where declared and where used: its resulting fields.
    let hover = c.at("textDocument/hover", 1, 7, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("pick(User, id, login)") && md.contains("{ id: Int, login: String }"), "{md}");
    let hover = c.at("textDocument/hover", 2, 7, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("{ login?: String, email?: String }"), "{md}");
    let used = c.at("textDocument/hover", 3, 27, json!({}));
    assert!(used["contents"]["value"].as_str().unwrap_or_default().contains("{ id: Int, login: String }"));
    // `login` in `pick(…)` is `User.login`: definition, hover and references.
    let def = c.at("textDocument/definition", 1, 34, json!({}));
    assert_eq!(def["range"], json!({ "start": { "line": 0, "character": 21 }, "end": { "line": 0, "character": 26 } }));
    let hover = c.at("textDocument/hover", 1, 34, json!({}));
    assert!(hover["contents"]["value"].as_str().unwrap_or_default().contains("User.login: String"));
    // The map's `login =` fills `UserSummary.login`, which is `User.login`'s declaration.
    let def = c.at("textDocument/definition", 5, 3, json!({}));
    assert_eq!(def["range"]["start"], json!({ "line": 0, "character": 21 }));
    // Renaming the base's field renames it in the derivation, the map's output and the path.
    let rename = c.at("textDocument/rename", 0, 22, json!({ "newName": "handle" }));
    let edits = rename["changes"][URI].as_array().cloned().unwrap_or_default();
    let mut lines: Vec<u64> = edits.iter().filter_map(|e| e["range"]["start"]["line"].as_u64()).collect();
    lines.sort_unstable();
    assert_eq!(lines, [0, 1, 5, 5], "{edits:?}");
    // Renaming the base type renames it in both derivations and the map's parameter.
    let rename = c.at("textDocument/rename", 0, 6, json!({ "newName": "Member" }));
    let edits = rename["changes"][URI].as_array().cloned().unwrap_or_default();
    let mut lines: Vec<u64> = edits.iter().filter_map(|e| e["range"]["start"]["line"].as_u64()).collect();
    lines.sort_unstable();
    assert_eq!(lines, [0, 1, 2, 3], "{edits:?}");
    let renamed = DERIVED.replace("User,", "Member,").replace("User {", "Member {").replace("u: User)", "u: Member)");
    c.change(&renamed);
    assert!(c.diagnostics().iter().all(|d| d["severity"] == 2), "{renamed}");
}

#[test]
fn the_formatter_keeps_derivations() {
    let formatted =
        flow_syntax::format("type S =   pick( User ,id,\"display-name\" )\ntype P = partial(omit(User,id))\n")
            .expect("formats");
    assert_eq!(formatted, "type S = pick(User, id, \"display-name\")\n\ntype P = partial(omit(User, id))\n");
}

#[test]
fn completion_among_the_field_names_of_pick_and_omit_offers_the_base_s_fields() {
    let text = "type User { id: Int, login: String, \"display-name\": String? }\ntype S = pick(User, id, lo)\ntype P = omit(partial(User), )\n";
    let mut c = Client::opened(text);
    let labels = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str().map(String::from)).collect()
    };
    // After `pick(User, id, ` with `lo` begun: User's fields, a quoted key inserted quoted.
    let items = c.at("textDocument/completion", 1, 26, json!({}));
    assert_eq!(labels(&items), ["id", "login", "display-name"], "{items}");
    assert_eq!(items[1]["detail"], "String");
    assert_eq!(items[2]["insertText"], "\"display-name\"");
    // Of a nested derivation: the fields it came out with (the call closed, as editors write it).
    let items = c.at("textDocument/completion", 2, 29, json!({}));
    assert_eq!(labels(&items), ["id", "login", "display-name"], "{items}");
    assert_eq!(items[0]["detail"], "Int?");
    // The type it derives from is completed as any name: declared types among them.
    let items = c.at("textDocument/completion", 1, 15, json!({}));
    assert!(labels(&items).contains(&"User".to_string()) && labels(&items).contains(&"secret".to_string()));
}

/// A `name: T | null` field: hover shows it as declared, and a use of it goes to it.
#[test]
fn a_present_field_hovers_as_declared_and_its_use_goes_to_it() {
    let text = "type Issue {\n  key: String\n  resolved_at: DateTime | null\n}\n\ntype Row { key: String, done: DateTime | null }\n\nmap row(i: Issue) -> Row {\n  key = i.key\n  done = i.resolved_at\n}\n";
    let mut c = Client::start();
    c.open(text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] == 2), "{text}");
    let hover = c.at("textDocument/hover", 9, 12, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("Issue.resolved_at: DateTime | null"), "{md}");
    let def = c.at("textDocument/definition", 9, 12, json!({}));
    assert_eq!(def["range"]["start"], json!({ "line": 2, "character": 2 }));
}

#[test]
fn a_reserved_word_field_is_completed_and_renamed_quoted_inside_pick_and_omit() {
    // Completion inside `pick(…)` inserts `"in"`: `in` bare does not parse there.
    let text = "type Param { name: String, in: String }\ntype S = pick(Param, name, )\n";
    let mut c = Client::opened(text);
    let items = c.at("textDocument/completion", 1, 27, json!({}));
    let item = items.as_array().into_iter().flatten().find(|i| i["label"] == "in").cloned().unwrap_or_default();
    assert_eq!(item["insertText"], "\"in\"", "{items}");
    // Renaming a field to `in`: bare where it is declared, quoted as `pick`'s argument.
    let text = "type Param { name: String, at: String }\ntype S = pick(Param, name, at)\ntype _U { s: S }\n";
    c.change(text);
    let _ = c.diagnostics();
    let rename = c.at("textDocument/rename", 0, 27, json!({ "newName": "in" }));
    let mut edits: Vec<(u64, String)> = rename["changes"][URI]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["range"]["start"]["line"].as_u64().unwrap_or(9), e["newText"].as_str().unwrap_or("").to_string()))
        .collect();
    edits.sort();
    assert_eq!(edits, [(0, "in".to_string()), (1, "\"in\"".to_string())]);
    let renamed = text.replace("at: String", "in: String").replace("name, at)", "name, \"in\")");
    c.change(&renamed);
    assert!(c.diagnostics().is_empty(), "{renamed}");
}

/// A field of a `partial` type is hovered as it is there (`UserPatch.login?: String`), not as
/// the base declares it (it showed `User.login: String`), the base's declaration after it.
#[test]
fn hover_on_a_field_of_a_derived_type_shows_it_as_it_is_in_that_type() {
    let text = "type User { id: Int, login: String }\ntype UserPatch = partial(User)\nmap patch(u: User) -> UserPatch {\n  login = u.login\n}\nmap back(p: UserPatch) -> User {\n  id = 1\n  login = p.login ?? \"\"\n}\n";
    let mut c = Client::opened(text);
    let md = |v: Value| v["contents"]["value"].as_str().unwrap_or_default().to_string();
    // The map's output field and a path through a `UserPatch`.
    for (line, col) in [(3, 3), (7, 13)] {
        let hover = md(c.at("textDocument/hover", line, col, json!({})));
        assert!(hover.starts_with("```flow\nUserPatch.login?: String\n```"), "{line}:{col}: {hover}");
        assert!(hover.contains("User.login: String"), "{hover}");
    }
    // A field of `User` itself is `User`'s.
    let hover = md(c.at("textDocument/hover", 7, 3, json!({})));
    assert!(hover.starts_with("```flow\nUser.login: String\n```") && !hover.contains("UserPatch"), "{hover}");
}

/// A field of an object type written inline in a declared type (`reactions: { "+1": Int }`) is
/// a field like any other: its use goes to it, hovers as declared, and renames with its uses;
/// completion after the `.` offers it quoted.
#[test]
fn a_field_of_an_inline_object_type_navigates_hovers_renames_and_completes() {
    let text = "type Issue {\n  id: Int\n  reactions: { \"+1\": Int, total: Int }\n}\ntype Out { up: Int }\nmap m(i: Issue) -> Out {\n  up = i.reactions.\"+1\"\n}\n";
    let mut c = Client::start();
    c.open(text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] != 1), "{text}");
    // From the use (line 6, on `+1`) to the declaration (line 2, the quoted name at column 15).
    let def = c.at("textDocument/definition", 6, 21, json!({}));
    assert_eq!(def["range"]["start"], json!({ "line": 2, "character": 15 }), "{def}");
    let hover = c.at("textDocument/hover", 6, 21, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("Issue.reactions.\"+1\": Int"), "{md}");
    // Renamed from the use: the declaration and the use, quoted as each needs.
    let renamed = apply(text, &c.at("textDocument/rename", 6, 21, json!({ "newName": "plus_one" })));
    assert!(renamed.contains("{ plus_one: Int,") && renamed.contains("i.reactions.plus_one\n"), "{renamed}");
    assert!(
        !flow_check::check_source(&renamed).diagnostics.iter().any(flow_diagnostics::Diagnostic::is_error),
        "{renamed}"
    );
    // Not to the name of another field of the same inline object.
    assert_eq!(c.at("textDocument/rename", 6, 21, json!({ "newName": "total" })), Value::Null);
    // Completion after the `.`: the inline object's fields, the key that is no word quoted.
    c.change(&text.replace("i.reactions.\"+1\"", "i.reactions."));
    let _ = c.diagnostics();
    let items = c.at("textDocument/completion", 6, 19, json!({}));
    let items = items.as_array().cloned().unwrap_or_default();
    let plus = items.iter().find(|i| i["label"] == "+1").expect("the quoted field is offered");
    assert_eq!(plus["insertText"], "\"+1\"");
}

/// A dictionary's lookup hovers as `T?`, completion after it offers the value type's fields, and
/// an entry from `entries(d)` completes with `key` and `value`.
#[test]
fn dictionary_lookups_hover_as_nullable_and_complete_the_value_types_fields() {
    let text = "type Item { name: String, qty: Int }\ntype Bag { items: { [String]: Item } }\ntype Out { n: String, ks: [String] }\nmap m(b: Bag) -> Out {\n  n = b.items[\"a\"]?.name ?? \"\"\n  ks = map(entries(b.items), e => e.key)\n}\n";
    let mut c = Client::start();
    c.open(text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] != 1), "{text}");
    // On the `]`: the lookup, not its key.
    let lookup = text.find("\"]").expect("the lookup") + 1;
    let (line, col) = position_of(text, lookup);
    let hover = c.at("textDocument/hover", line, col, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("b.items[\"a\"]: Item?"), "{md}");
    // After `b.items["a"]?.`: the fields of the value type.
    let edited = text.replace("?.name ?? \"\"", "?.");
    c.change(&edited);
    let _ = c.diagnostics();
    let dot = edited.find("?.\n").expect("the dot") + 2;
    let (line, col) = position_of(&edited, dot);
    let items = c.at("textDocument/completion", line, col, json!({}));
    let labels: Vec<&str> = items.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["name", "qty"]);
    // After `e.` on an entry: `key` and `value`.
    let edited = text.replace("e => e.key)", "e => e.)");
    c.change(&edited);
    let _ = c.diagnostics();
    let dot = edited.find("e.)").expect("the dot") + 2;
    let (line, col) = position_of(&edited, dot);
    let items = c.at("textDocument/completion", line, col, json!({}));
    let labels: Vec<&str> = items.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["key", "value"]);
}

/// In a `paginate` expression, completion after `response.` offers the page's fields (quoted
/// where the key is no word), and after `last(records)?.` the record type's fields.
#[test]
fn completion_in_a_paging_expression_offers_the_pages_and_the_records_fields() {
    let text = "api hubspot {\n  base_url = \"https://api.hubapi.com\"\n}\ntype Contact { vid: Int, email: String? }\nendpoint all_contacts = hubspot GET \"/contacts\"\n  -> { contacts: [Contact], \"has-more\": Bool, \"vid-offset\": Int } {\n  records  = response.contacts\n  paginate = cursor(param: \"vidOffset\", from: response.\"vid-offset\", more: response.\"has-more\")\n}\n";
    let mut c = Client::start();
    c.open(text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] != 1), "{text}");
    let edited = text.replace("from: response.\"vid-offset\"", "from: response.");
    c.change(&edited);
    let _ = c.diagnostics();
    let dot = edited.find("response.,").expect("the dot") + "response.".len();
    let (line, col) = position_of(&edited, dot);
    let items = c.at("textDocument/completion", line, col, json!({}));
    let items = items.as_array().cloned().unwrap_or_default();
    let offset = items.iter().find(|i| i["label"] == "vid-offset").expect("the page's field is offered");
    assert_eq!(offset["insertText"], "\"vid-offset\"");
    let edited = text.replace("from: response.\"vid-offset\"", "from: last(records)?.");
    c.change(&edited);
    let _ = c.diagnostics();
    let dot = edited.find("?.,").expect("the dot") + 2;
    let (line, col) = position_of(&edited, dot);
    let items = c.at("textDocument/completion", line, col, json!({}));
    let labels: Vec<&str> = items.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["vid", "email"]);
}

/// A flow's `state` block: after `record.` the source's record fields are offered, `record.FIELD`
/// goes to the record type's field and renames with it, and `state.NAME` hovers with its type.
#[test]
fn a_state_block_reads_the_records_fields_and_state_names_hover() {
    let text = "secret SHOP_TOKEN\n\napi shop {\n  base_url = \"https://shop.example.com/api\"\n  auth     = bearer(SHOP_TOKEN)\n}\n\ntype Order { id: Int, email: String, updated_at: DateTime }\ntype Contact { external_id: String, email: String }\n\nendpoint list_orders = shop GET \"/orders\" (updated_since: DateTime) -> { orders: [Order], next: String? } {\n  query    = { updated_since: updated_since }\n  records  = response.orders\n  paginate = cursor(param: \"cursor\", from: response.next)\n}\nendpoint create_contact = shop POST \"/contacts\" (body: Contact) -> { id: String }\n\nflow sync_orders {\n  state since: DateTime = \"2026-01-01T00:00:00Z\" {\n    from = record.updated_at  // the cursor follows the greatest `updated_at` delivered\n    key  = record.id          // records at the cursor are told apart by their id\n    lag  = 5m                 // each run looks 5 minutes back for late updates\n  }\n  for order in list_orders(updated_since: state.since) {\n    create_contact(\n      body: { external_id: str(order.id), email: order.email },\n      idempotency_key: str(order.id) + \"@\" + str(order.updated_at),\n    )\n  }\n}\n";
    let mut c = Client::start();
    c.open(text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] != 1), "{text}");
    // `record.updated_at` in `from = …`: to `Order.updated_at` (line 7).
    let use_at = text.find("record.updated_at").expect("the use") + "record.".len() + 1;
    let (line, col) = position_of(text, use_at);
    let def = c.at("textDocument/definition", line, col, json!({}));
    assert_eq!(def["range"]["start"]["line"], 7, "{def}");
    let renamed = apply(text, &c.at("textDocument/rename", line, col, json!({ "newName": "changed_at" })));
    assert!(renamed.contains("changed_at: DateTime }") && renamed.contains("from = record.changed_at"), "{renamed}");
    // `state.since`: a DateTime.
    let since = text.find("state.since").expect("the state's use") + "state.".len() + 1;
    let (line, col) = position_of(text, since);
    let hover = c.at("textDocument/hover", line, col, json!({}));
    let md = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("DateTime"), "{md}");
    // After `record.`: the record type's fields.
    let edited = text.replace("key  = record.id", "key  = record.");
    c.change(&edited);
    let _ = c.diagnostics();
    let dot = edited.find("record. ").expect("the dot") + "record.".len();
    let (line, col) = position_of(&edited, dot);
    let items = c.at("textDocument/completion", line, col, json!({}));
    let labels: Vec<&str> = items.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["id", "email", "updated_at"]);
}

/// Errors inside a 2xx answer: in an endpoint's `error_when`/`error_message`, completion after
/// `response.` offers the response's fields.
#[test]
fn completion_in_an_error_when_offers_the_responses_fields() {
    let text = "secret SLACK_TOKEN\napi slack {\n  base_url = \"https://slack.com/api\"\n  auth     = bearer(SLACK_TOKEN)\n}\nendpoint upload = slack POST \"/files.upload\" (body: { channels: String, content: String })\n  -> { ok: Bool, file: { id: String }?, errors: [String]? } {\n  error_when    = len(response.errors ?? []) > 0\n  error_message = join(response.errors ?? [], \", \")\n}\n";
    let mut c = Client::start();
    c.open(text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] != 1), "{text}");
    let edited = text.replace("join(response.errors ?? []", "join(response. ?? []");
    c.change(&edited);
    let _ = c.diagnostics();
    let dot = edited.find("response. ").expect("the dot") + "response.".len();
    let (line, col) = position_of(&edited, dot);
    let items = c.at("textDocument/completion", line, col, json!({}));
    let labels: Vec<&str> = items.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["ok", "file", "errors"]);
    c.change(text);
    let _ = c.diagnostics();
    // The field read is the response type's field.
    let use_at = text.find("len(response.errors").expect("the use") + "len(response.".len() + 1;
    let (line, col) = position_of(text, use_at);
    let def = c.at("textDocument/definition", line, col, json!({}));
    assert_eq!(def["range"]["start"]["line"], 6, "{def}");
}

/// The fields a `records` or `paginate` expression reads through `response` are the response
/// type's fields: definition reaches them.
#[test]
fn a_paging_expression_s_response_fields_go_to_their_declaration() {
    let text = "api hubspot {\n  base_url = \"https://api.hubapi.com\"\n}\ntype Contact { vid: Int }\nendpoint all_contacts = hubspot GET \"/contacts\"\n  -> { contacts: [Contact], \"has-more\": Bool, \"vid-offset\": Int } {\n  records  = response.contacts\n  paginate = cursor(param: \"vidOffset\", from: response.\"vid-offset\", more: response.\"has-more\")\n}\n";
    let mut c = Client::start();
    c.open(text);
    assert!(c.diagnostics().iter().all(|d| d["severity"] != 1), "{text}");
    for read in ["response.contacts", "response.\"vid-offset\""] {
        let use_at = text.find(read).expect("the use") + "response.".len() + 1;
        let (line, col) = position_of(text, use_at);
        let def = c.at("textDocument/definition", line, col, json!({}));
        assert_eq!(def["range"]["start"]["line"], 5, "{read}: {def}");
    }
}

#[test]
fn completion_at_the_start_of_a_line_of_an_api_or_endpoint_block_offers_the_settings_not_set_yet() {
    let text = "secret TOKEN\napi shop {\n  base_url = \"https://shop.example.com\"\n  auth = bearer(TOKEN)\n  ti\n  headers = {\n    \n  }\n}\ntype Order { id: Int }\nendpoint list = shop GET \"/orders\" -> { orders: [Order] } {\n  records = response.orders\n  \n}\n";
    let mut c = Client::opened(text);
    let labels = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str().map(String::from)).collect()
    };
    // In the api block, on a word being written: every api setting but the two set.
    let api = c.at("textDocument/completion", 4, 4, json!({}));
    let got = labels(&api);
    let want: Vec<String> = flow_check::API_PROPERTIES
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| n != "base_url" && n != "auth" && n != "headers")
        .collect();
    assert_eq!(got, want);
    assert_eq!(api[0]["detail"], flow_check::API_PROPERTIES[3].1, "{api}");
    assert_eq!(api[0]["kind"], 10, "a property");
    // In the endpoint block, on an empty line: the endpoint's settings but `records`.
    let endpoint = labels(&c.at("textDocument/completion", 12, 2, json!({})));
    assert!(!endpoint.contains(&"records".to_string()) && endpoint.contains(&"paginate".to_string()), "{endpoint:?}");
    assert_eq!(endpoint.len(), flow_check::ENDPOINT_PROPERTIES.len() - 1);
    // Inside the value of a setting (the headers' object) and at the top level: no settings.
    for (line, character) in [(6, 4), (9, 0)] {
        let other = labels(&c.at("textDocument/completion", line, character, json!({})));
        assert!(!other.contains(&"concurrency".to_string()), "{line}: {other:?}");
        assert!(other.contains(&"Order".to_string()), "{line}: {other:?}");
    }
}

#[test]
fn completion_in_a_flow_s_state_block_offers_the_state_settings_not_set_yet() {
    let text = "type Change { id: String, at: DateTime }\napi feed { base_url = \"https://feed.example.com\" }\nendpoint changes = feed GET \"/changes\" (since: DateTime) -> [Change]\nflow copy {\n  state since: DateTime = \"2026-01-01T00:00:00Z\" {\n    from = record.at\n    \n  }\n  for c in changes(since: state.since) {\n  }\n}\n";
    let mut c = Client::opened(text);
    let got: Vec<String> = c
        .at("textDocument/completion", 6, 4, json!({}))
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["label"].as_str().map(String::from))
        .collect();
    let want: Vec<String> =
        flow_check::STATE_PROPERTIES.iter().map(|(n, _)| n.to_string()).filter(|n| n != "from").collect();
    assert_eq!(got, want);
}

#[test]
fn completion_at_the_start_of_a_line_of_a_flow_offers_its_settings_not_set_yet_then_what_starts_a_step() {
    let text = "type Change { id: String }\napi feed { base_url = \"https://feed.example.com\" }\nendpoint changes = feed GET \"/changes\" -> [Change]\nflow copy {\n  concurrency = 4\n  \n  for c in changes() {\n    \n  }\n}\n";
    let mut c = Client::opened(text);
    let at = |c: &mut Client, line, character| -> Vec<(String, u64)> {
        c.at("textDocument/completion", line, character, json!({}))
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| Some((i["label"].as_str()?.to_string(), i["kind"].as_u64()?)))
            .collect()
    };
    // Directly in the flow: `on_error` (not `concurrency`, set), as a property, first; then the
    // names and keywords a step starts with.
    let flow = at(&mut c, 5, 2);
    assert_eq!(flow[0], ("on_error".to_string(), 10), "{flow:?}");
    assert!(!flow.iter().any(|(l, _)| l == "concurrency"), "{flow:?}");
    assert!(flow.iter().any(|(l, _)| l == "changes") && flow.iter().any(|(l, _)| l == "for"), "{flow:?}");
    // In the loop's body: no flow settings.
    let body = at(&mut c, 7, 4);
    assert!(!body.iter().any(|(l, _)| l == "on_error") && body.iter().any(|(l, _)| l == "changes"), "{body:?}");
}
