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
