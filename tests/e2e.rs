//! End-to-end: the `flowc` binary against the fake API on 127.0.0.1. Golden outputs include the
//! exit code; ports and timings are normalized. The cases that are only "this flow and this
//! fake setup give this summary and these received records" are data, run by tests/run.rs;
//! here are those that need code: several commands or two fakes in one test, a release or a
//! barrier of the fake, chaos counts, a clock, records checked against the fake's generators,
//! dead letters read field by field, and the commands other than `run`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{flowc, with_fake, Output, DEMO_SECRETS};
use flow_fakeapi::{Config, FakeApi, Faults};
use serde_json::Value;

const FLOWC: &str = env!("CARGO_BIN_EXE_flowc");

impl Output {
    /// Exit code and both streams, ports and timings normalized, for snapshots.
    fn golden(&self, api: Option<&FakeApi>) -> String {
        let normalize = |s: &str| {
            let mut s = s.to_string();
            if let Some(api) = api {
                s = s.replace(&api.url(), "http://127.0.0.1:PORT");
            }
            s.lines().map(strip_elapsed).collect::<Vec<_>>().join("\n")
        };
        format!(
            "exit code: {}\n--- stdout\n{}\n--- stderr\n{}\n",
            self.code,
            normalize(&self.stdout),
            normalize(&self.stderr)
        )
    }
}

/// `… · 0.01s` at the end of a summary line becomes `… · <elapsed>`.
fn strip_elapsed(line: &str) -> String {
    if let Some((head, tail)) = line.rsplit_once(" · ") {
        if tail.ends_with('s') && tail[..tail.len() - 1].parse::<f64>().is_ok() {
            return format!("{head} · <elapsed>");
        }
    }
    line.to_string()
}

fn demo_secrets() -> Vec<(&'static str, &'static str)> {
    DEMO_SECRETS.to_vec()
}

fn example(name: &str) -> String {
    format!("examples/{name}")
}

/// `flowc map FILE --map MAP --input IN --output OUT`.
fn map_args(file: &str, map: &str, input: &Path, output: &Path) -> Vec<String> {
    ["map", file, "--map", map, "--input", &input.display().to_string(), "--output", &output.display().to_string()]
        .map(String::from)
        .to_vec()
}

fn run_file(name: &str) -> String {
    format!("tests/data/run/{name}")
}

/// A fresh folder for files a run writes (dead letters), with the `.flow` file copied in.
fn scratch(test: &str, flow: &str) -> (PathBuf, String) {
    common::scratch_copy("e2e", test, flow)
}

fn shop_crm(api: &FakeApi) -> Vec<String> {
    vec![format!("shop={}/shop", api.url()), format!("crm={}/crm", api.url())]
}

fn run_args<'a>(file: &'a str, overrides: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["run", file];
    for o in overrides {
        args.push("--base-url");
        args.push(o);
    }
    args
}

fn snapshot(name: &str, text: String) {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.bind(|| insta::assert_snapshot!(format!("e2e__{name}"), text));
}

#[test]
fn orders_to_crm_moves_every_record_through_the_map() {
    with_fake(Config::default(), |api| {
        let overrides = shop_crm(api);
        let file = example("orders_to_crm.flow");
        let out = flowc(&run_args(&file, &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        let contacts = api.received("contacts");
        // 250 orders on 3 pages; every tenth is cancelled and filtered out.
        assert_eq!(contacts.len(), 225);
        let ids: std::collections::HashSet<&str> = contacts.iter().filter_map(|c| c["external_id"].as_str()).collect();
        assert_eq!(ids.len(), 225, "every record delivered exactly once");
        for c in &contacts {
            let id: u64 = c["external_id"]
                .as_str()
                .and_then(|s| s.strip_prefix("shop-"))
                .and_then(|s| s.parse().ok())
                .expect("id");
            let order = flow_fakeapi::order(id);
            let expected_email = order["email"].as_str().map_or("unknown@example.com".to_string(), str::to_lowercase);
            assert_eq!(c["email"], Value::from(expected_email), "{c}");
            let name = format!(
                "{} {}",
                order["customer"]["first_name"].as_str().unwrap_or(""),
                order["customer"]["last_name"].as_str().unwrap_or("")
            );
            assert_eq!(c["name"], Value::from(name));
            let tier = if order["total_price"].as_f64().unwrap_or(0.0) > 1000.0 { "gold" } else { "silver" };
            assert_eq!(c["tier"], tier, "{c}");
            assert_eq!(c["since"].as_str(), order["created_at"].as_str().map(|s| &s[..10]));
            let sum: f64 = order["line_items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| i["quantity"].as_f64().unwrap_or(0.0) * i["price"].as_f64().unwrap_or(0.0))
                        .sum()
                })
                .unwrap_or(0.0);
            let got = c["lifetime_value"].as_f64().expect("number");
            assert!((got - sum).abs() < 1e-9, "{c}: lifetime_value {got} != {sum}");
        }
        assert!(contacts.iter().any(|c| c["tier"] == "gold"));
        snapshot("orders_to_crm", out.golden(Some(api)));
    });
}

#[test]
fn helpdesk_example_follows_relative_next_links() {
    with_fake(Config::default(), |api| {
        let overrides = vec![format!("desk={}/desk", api.url()), format!("chat={}/chat", api.url())];
        let file = example("tickets_to_chat.flow");
        let out = flowc(&run_args(&file, &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        let messages = api.received("messages");
        let open = (1..=60).filter(|id| id % 5 != 0).count();
        assert_eq!(messages.len(), open);
        let urgent = messages
            .iter()
            .find(|m| m["text"].as_str().is_some_and(|t| t.starts_with("[URGENT] #3 ")))
            .expect("ticket 3");
        assert_eq!(urgent["channel"], "#support-urgent");
        assert!(urgent["text"].as_str().is_some_and(|t| t.ends_with("assigned to nobody yet)")), "{urgent}");
    });
}

#[test]
fn directory_example_uses_path_params_and_idempotency_keys() {
    with_fake(Config::default(), |api| {
        let overrides = vec![format!("directory={}/directory", api.url()), format!("mail={}/mail", api.url())];
        let file = example("directory_to_mailing_list.flow");
        let expected = (1..=45u64).filter(|id| id % 6 != 0 && id % 2 == 0).count();
        for _ in 0..2 {
            let out = flowc(&run_args(&file, &overrides), &demo_secrets());
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        // Run twice: the idempotency keys keep the second run from adding anyone again.
        let members = api.received("members");
        assert_eq!(members.len(), expected);
        assert!(members.iter().all(|m| m["list_id"] == "newsletter"));
        let first = &members[0];
        assert!(first["email"].as_str().is_some_and(|e| e.ends_with("@corp.example.com")), "{first}");
        assert_eq!(first["tags"][1], "directory-sync");
    });
}

/// A page with two records that do not fit their type, under `dead_letter`: their page-mates
/// are delivered, and each bad record is in the dead letter file with every mismatch's path and
/// its JSON as the API sent it (scrubbed of the token it echoes).
#[test]
fn records_that_do_not_fit_go_to_the_dead_letter_file_and_their_page_mates_go_on() {
    with_fake(Config::default(), |api| {
        api.set_faults(Faults { malformed_orders: true, ..Faults::default() });
        let (dir, file) = scratch("malformed", &example("orders_to_crm.flow"));
        let overrides = shop_crm(api);
        let out = flowc(&run_args(&file, &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "dead-lettered records do not fail the run: {}", out.stderr);
        // 250 orders: 25 cancelled ones filtered out, #4 and #7 failed, the rest delivered.
        let delivered: Vec<u64> = api
            .received("contacts")
            .iter()
            .filter_map(|c| c["external_id"].as_str()?.strip_prefix("shop-")?.parse().ok())
            .collect();
        assert_eq!(delivered.len(), 223, "{}", out.stderr);
        assert!(delivered.contains(&3) && delivered.contains(&5) && !delivered.contains(&4) && !delivered.contains(&7));
        assert!(
            out.stderr
                .contains("250 records read, 223 delivered, 25 filtered out, 2 failed, 2 to the dead letter file"),
            "the counts reconcile: {}",
            out.stderr
        );
        let text = std::fs::read_to_string(dir.join("failed_orders.ndjson")).expect("dead letter file");
        assert!(!text.contains("demo-shop-token"), "{text}");
        let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect();
        lines.sort_by_key(|l| l["record_index"].as_u64());
        assert_eq!(lines.len(), 2, "{text}");
        let paths = |l: &Value| {
            let mut p: Vec<String> = l["error"]["mismatches"]
                .as_array()
                .expect("mismatches")
                .iter()
                .map(|m| m["path"].as_str().expect("path").to_string())
                .collect();
            p.sort();
            p
        };
        for l in &lines {
            assert_eq!((l["flow"].as_str(), l["source"].as_str()), (Some("sync_orders"), Some("list_orders")));
            assert_eq!(l["error"]["code"], "R0004", "{l}");
        }
        assert_eq!(lines[0]["record_index"], 4);
        assert_eq!(paths(&lines[0]), ["created_at", "customer.last_name", "status", "total_price"]);
        assert!(lines[0]["error"]["message"].as_str().is_some_and(|m| m.contains("4 mismatches")), "{}", lines[0]);
        // The record as the API sent it, undeclared fields and all; the echoed token scrubbed.
        assert_eq!(lines[0]["record"]["status"], "shipped");
        assert_eq!(lines[0]["record"]["note"], "fields the flow does not declare are ignored");
        assert_eq!(lines[0]["record"]["debug"], "Bearer [secret SHOP_TOKEN]");
        assert_eq!(lines[1]["record_index"], 7);
        assert_eq!(paths(&lines[1]), ["email", "line_items[1].quantity"]);
        assert_eq!(lines[1]["record"]["line_items"][1]["quantity"], "two");
        assert!(lines[1]["error"]["notes"].as_array().is_some_and(|n| n
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("at `line_items[1].quantity`: expected Int")))));
    });
}

/// A child record that does not fit its type fails the record whose loop reads it (with the
/// child named), like any failure in that record's steps; the other records go on.
#[test]
fn a_child_record_that_does_not_fit_fails_its_parent_record() {
    with_fake(Config { orders: 40, ..Config::default() }, |api| {
        api.set_faults(Faults { malformed_orders: true, ..Faults::default() });
        let (dir, file) = scratch("malformed_child", &run_file("dependent_dead_letter.flow"));
        let overrides = vec![format!("shop={}/shop", api.url()), format!("chat={}/chat", api.url())];
        let out = flowc(&run_args(&file, &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("40 records read, 38 delivered, 0 filtered out, 2 failed"), "{}", out.stderr);
        let text = std::fs::read_to_string(dir.join("failed.ndjson")).expect("dead letter file");
        let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect();
        lines.sort_by_key(|l| l["record_index"].as_u64());
        assert_eq!(lines.len(), 2, "{text}");
        // #4 itself does not fit: the order as the API sent it.
        assert_eq!(lines[0]["record_index"], 4);
        assert_eq!(lines[0]["error"]["mismatches"][0]["path"], "customer.last_name");
        assert_eq!(lines[0]["record"]["status"], "shipped");
        // #7 fits; its second line does not, so #7 fails, named with the line.
        assert_eq!(lines[1]["record_index"], 7);
        assert_eq!(lines[1]["record"]["id"], 7);
        let message = lines[1]["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("`order_lines`") && message.contains("at `quantity`"), "{message}");
        assert!(
            lines[1]["error"]["notes"].as_array().is_some_and(|n| n
                .iter()
                .any(|n| n.as_str().is_some_and(|n| n.contains("record #2 of `order_lines`")))),
            "{}",
            lines[1]
        );
    });
}

#[test]
fn failed_records_go_to_the_dead_letter_file_and_the_rest_continue() {
    with_fake(Config::default(), |api| {
        api.set_faults(Faults { reject_contacts_ending_in: Some(3), ..Faults::default() });
        let (dir, file) = scratch("dead_letter", &example("orders_to_crm.flow"));
        let overrides = shop_crm(api);
        let out = flowc(&run_args(&file, &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "dead-lettered records do not fail the run: {}", out.stderr);
        let text = std::fs::read_to_string(dir.join("failed_orders.ndjson")).expect("dead letter file");
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect();
        let rejected = (1..=250u64).filter(|id| id % 10 != 0 && id % 10 == 3).count();
        assert_eq!(lines.len(), rejected);
        assert_eq!(api.received("contacts").len() + rejected, 225, "nothing lost, nothing twice");
        for l in &lines {
            assert_eq!(l["flow"], "sync_orders");
            assert_eq!(l["error"]["code"], "R0001");
            assert!(l["error"]["message"].as_str().is_some_and(|m| m.contains("422")), "{l}");
            assert!(l["record"]["id"].as_u64().is_some_and(|id| id % 10 == 3), "{l}");
        }
        assert!(
            out.stderr.contains(&format!("{rejected} failed, {rejected} to the dead letter file")),
            "{}",
            out.stderr
        );
    });
}

/// Every rendition of a secret that must never be printed: each form the fake API echoes it in
/// (as is, JSON-escaped two ways, percent- and form-encoded), and every 12-character piece of
/// each form, since a secret cut in two by an excerpt would leak a piece.
fn secret_pieces(secret: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    for form in flow_fakeapi::echo_forms(secret) {
        let chars: Vec<char> = form.chars().collect();
        if chars.len() <= 12 {
            pieces.push(form);
        } else {
            pieces.extend(chars.windows(12).map(|w| w.iter().collect::<String>()));
        }
    }
    pieces
}

fn assert_no_secret_in(text: &str, secrets: &[String]) {
    for secret in secrets {
        for piece in secret_pieces(secret) {
            assert!(!text.contains(&piece), "secret {secret:?} leaked as {piece:?}");
        }
    }
}

/// Every note of every dead letter in a file, for what excerpts say.
fn dead_letter_notes(text: &str) -> String {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a dead letter is one JSON line"))
        .flat_map(|v| v["error"]["notes"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn secrets_never_appear_in_any_output() {
    const SHOP: &str = "canary-shop-5a1d0c";
    const CRM: &str = "canary-crm-77e2b9";
    const WRONG: &str = "canary-wrong-9f3e41";
    let config = Config { shop_token: SHOP.into(), crm_api_key: CRM.into(), ..Config::default() };
    with_fake(config, |api| {
        api.set_faults(Faults { reject_contacts_ending_in: Some(4), ..Faults::default() });
        let (dir, file) = scratch("canary", &example("orders_to_crm.flow"));
        let overrides = shop_crm(api);
        let mut outputs = Vec::new();
        let good = [("SHOP_TOKEN", SHOP), ("CRM_API_KEY", CRM)];
        for extra in [&[][..], &["-v"][..], &["--format", "json"][..]] {
            let mut args = run_args(&file, &overrides);
            args.extend_from_slice(extra);
            let out = flowc(&args, &good);
            assert_eq!(out.code, 0, "{}", out.stderr);
            outputs.push(out);
        }
        // A wrong key that the API echoes back in its error: still never printed.
        outputs.push(flowc(
            &run_args(&run_file("fail_fast.flow"), &overrides),
            &[("SHOP_TOKEN", SHOP), ("CRM_API_KEY", WRONG)],
        ));
        assert!(outputs[3].stderr.contains("[secret CRM_API_KEY]"), "{}", outputs[3].stderr);
        outputs.push(flowc(&["plan", &file, "--format", "json"], &good));
        outputs.push(flowc(&["plan", &file], &good));
        let dead = std::fs::read_to_string(dir.join("failed_orders.ndjson")).expect("dead letters");
        assert!(!dead.is_empty());
        let mut everything = dead;
        for o in &outputs {
            everything.push_str(&o.stdout);
            everything.push_str(&o.stderr);
        }
        assert_no_secret_in(&everything, &[SHOP.into(), CRM.into(), WRONG.into()]);
        assert!(outputs[1].stderr.contains("GET http://127.0.0.1"), "-v logs requests");
    });

    // Every kind of credential, with characters that every encoding changes, against an API
    // that echoes what it was sent: in next-page links (which flowc follows, with -v printing
    // them, and retries), and in refusals as is, JSON-escaped, percent- and form-encoded, in
    // base64 (basic auth), and placed where the 160-character excerpt cuts it in two.
    let canaries = [
        ("CHAT_TOKEN", "Kq7/chat+tok=\u{eb}n\"z 4411"),
        ("DESK_USER", "desk-\u{fc}ser-8c2e7"),
        ("DESK_PASSWORD", "pw\"9\\Zx/y+Q 71d3"),
        ("CRM_CLIENT_ID", "cid-Wm3k-77a1"),
        ("CRM_CLIENT_SECRET", "cs/Bb+9\"Pq 2e-8d"),
        ("JWT_SECRET", "jwt/Hx9q+\"ZZ-secret-of-32-bytes!!"),
        ("CRM_API_KEY", "crm\"key\\T5v9-0aa1"),
        ("MAIL_TOKEN", "mail.tok/Yy3+e=Lk9"),
    ];
    let value = |name: &str| canaries.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()).expect("canary");
    let config = Config {
        chat_token: value("CHAT_TOKEN"),
        desk_user: value("DESK_USER"),
        desk_password: value("DESK_PASSWORD"),
        crm_client_id: value("CRM_CLIENT_ID"),
        crm_client_secret: value("CRM_CLIENT_SECRET"),
        jwt_secret: value("JWT_SECRET"),
        crm_api_key: value("CRM_API_KEY"),
        mail_token: value("MAIL_TOKEN"),
        ..Config::default()
    };
    with_fake(config, |api| {
        api.set_faults(Faults { echo_credentials: true, ..Faults::default() });
        let (dir, file) = scratch("canary-forms", &run_file("secret_forms.flow"));
        let overrides: Vec<String> = [
            ("chat", "chat"),
            ("desk", "desk"),
            ("crm_oauth", "crm"),
            ("crm_jwt", "crm"),
            ("crm", "crm"),
            ("mail", "mail"),
        ]
        .iter()
        .map(|(name, prefix)| format!("{name}={}/{prefix}", api.url()))
        .collect();
        let mut everything = String::new();
        let mut verbose = String::new();
        for extra in [&[][..], &["-v"][..], &["--format", "json"][..]] {
            let mut args = run_args(&file, &overrides);
            args.extend_from_slice(extra);
            let out = flowc(&args, &canaries);
            assert_eq!(out.code, 0, "{}", out.stderr);
            // 60 messages over three pages; six write routes refuse seven each.
            if extra.is_empty() {
                assert!(
                    out.stderr.contains(
                        "60 records read, 18 delivered, 0 filtered out, 42 failed, 42 to the dead letter file"
                    ),
                    "{}",
                    out.stderr
                );
            }
            if extra == ["-v"] {
                verbose = out.stderr.clone();
            }
            everything.push_str(&out.stdout);
            everything.push_str(&out.stderr);
        }
        let dead = std::fs::read_to_string(dir.join("echoed.ndjson")).expect("dead letters");
        assert_eq!(dead.lines().count(), 3 * 42);
        everything.push_str(&dead);
        let mut secrets: Vec<String> = canaries.iter().map(|(_, v)| v.to_string()).collect();
        // What the API echoed: the base64 of basic auth, OAuth2 tokens, the JWTs flowc signed.
        let echoed = api.echoed();
        assert!(echoed.iter().any(|c| c.starts_with("tok/")) && echoed.iter().any(|c| c.starts_with("eyJ")));
        secrets.extend(echoed);
        secrets.sort();
        secrets.dedup();
        assert_no_secret_in(&everything, &secrets);
        // The next links and their retry are logged, the token in them scrubbed.
        assert!(
            verbose.contains("/chat/history?page=2&token=[secret CHAT_TOKEN] → 200")
                && verbose.contains("retry 1 of http://127.0.0.1")
                && verbose.contains("/chat/history?page=3&token=[secret CHAT_TOKEN] → 200"),
            "{verbose}"
        );
        // Around the secrets, every other character of the excerpts is intact.
        let notes = dead_letter_notes(&dead);
        for expected in [
            "refused: [secret DESK_PASSWORD] [secret basic credentials of api desk] [secret DESK_USER]",
            r#"{"error":"refused","credentials":["[secret DESK_PASSWORD]","[secret basic credentials of api desk]","[secret DESK_USER]"]}"#,
            "refused: https://example.net/callback?credential=[secret CHAT_TOKEN]&retry=1",
            "refused: grant_type=client_credentials&credential=[secret MAIL_TOKEN]&scope=all",
            r#"{"error":"refused","credentials":["[secret token of api crm_oauth]"]}"#,
            r#"{"error":"refused","credentials":["[secret JWT of api crm_jwt]"]}"#,
            r#"{"error":"refused","credentials":["[secret CRM_API_KEY]"]}"#,
        ] {
            assert!(notes.contains(expected), "{expected}\nnot in\n{notes}");
        }
    });

    // A client id that is an ordinary word: W0008 says it is too short to redact safely, and
    // redaction takes whole occurrences only, so the server's `invalid_client` stays whole.
    let config = Config { crm_client_id: "client".into(), ..Config::default() };
    with_fake(config, |api| {
        let overrides = shop_crm(api);
        let secrets = [
            ("SHOP_TOKEN", "demo-shop-token"),
            ("CRM_CLIENT_ID", "client"),
            ("CRM_CLIENT_SECRET", "wrong-secret-7c1d"),
        ];
        let check = flowc(&["check", &run_file("oauth.flow")], &secrets);
        assert_eq!(check.code, 0, "{}", check.stderr);
        assert!(check.stderr.contains("warning[W0008]") && check.stderr.contains("CRM_CLIENT_ID"), "{}", check.stderr);
        let out = flowc(&run_args(&run_file("oauth.flow"), &overrides), &secrets);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("warning[W0008]"), "{}", out.stderr);
        assert!(out.stderr.contains(r#"{"error":"invalid_client"}"#), "{}", out.stderr);
        assert!(!out.stderr.contains("wrong-secret-7c1d"), "{}", out.stderr);
    });
}

#[test]
fn a_malformed_env_line_names_the_file_and_line_never_the_value() {
    let (dir, file) = scratch("dotenv", &run_file("fail_fast.flow"));
    let overrides = vec!["shop=http://127.0.0.1:9/shop".to_string(), "crm=http://127.0.0.1:9/crm".to_string()];
    for (text, line) in [
        ("# demo credentials\nSHOP_TOKEN=demo-shop-token\n\nCRM_API_KEY canary-env-3f9a1c\n", 4),
        // A quoted value that never ends: the line it starts on.
        ("SHOP_TOKEN=demo-shop-token\nCRM_API_KEY=\"canary-env-3f9a1c\nsecond line\n", 2),
        ("SHOP_TOKEN='multi\nline'\nCRM_API_KEY=ok-value-12345\n-canary-env-3f9a1c=x\n", 4),
    ] {
        std::fs::write(dir.join(".env"), text).expect("write .env");
        for out in [flowc(&run_args(&file, &overrides), &[]), flowc(&["check", &file], &[])] {
            assert_eq!(out.code, 2, "{}", out.stderr);
            assert!(out.stderr.contains(&format!(".env: line {line} ")), "{}", out.stderr);
            assert!(!out.stderr.contains("canary-env"), "the value is never printed: {}", out.stderr);
        }
    }
}

#[test]
fn a_base_url_override_obeys_the_plain_http_rule() {
    // Plain http:// to a host that is not this machine: refused, as in the file itself.
    let out = flowc(&["plan", &example("orders_to_crm.flow"), "--base-url", "crm=http://crm.example.net/v3"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("error[E0403]") && out.stderr.contains("`--base-url crm=…`"), "{}", out.stderr);
    let out =
        flowc(&run_args(&example("orders_to_crm.flow"), &["crm=http://crm.example.net/v3".into()]), &demo_secrets());
    assert_eq!(out.code, 2, "refused before anything runs: {}", out.stderr);
    assert!(out.stderr.contains("error[E0403]"), "{}", out.stderr);
    // Unless the api allows it; and loopback hosts and https are always fine.
    let (_, file) = scratch("allow-http", &example("orders_to_crm.flow"));
    let text = std::fs::read_to_string(&file).expect("read").replace(
        "base_url = \"https://crm.example.com/v3\"",
        "base_url = \"https://crm.example.com/v3\"\n  allow_http = true",
    );
    assert!(text.contains("allow_http"), "the example's crm api moved");
    std::fs::write(&file, text).expect("write");
    for (file, url) in [
        (file.as_str(), "crm=http://crm.example.net/v3"),
        (&example("orders_to_crm.flow"), "crm=http://localhost:9/v3"),
        (&example("orders_to_crm.flow"), "crm=https://crm.example.net/v3"),
    ] {
        let out = flowc(&["plan", file, "--base-url", url], &[]);
        assert_eq!(out.code, 0, "{url}: {}", out.stderr);
    }
    // The flag's own text is read by the command line: not an http URL is a usage error.
    for bad in ["crm", "crm=ftp://x.example.net", "crm=http://127.0.0.1:9/v3?key=1", "crm=not a url"] {
        let out = flowc(&["plan", &example("orders_to_crm.flow"), "--base-url", bad], &[]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("--base-url"), "{bad}: {}", out.stderr);
    }
}

#[test]
fn exit_codes_are_documented_and_kept() {
    let ok = flowc(&["check", &example("orders_to_crm.flow"), &example("tickets_to_chat.flow")], &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains("checked 2 files: 0 errors, 0 warnings"));
    assert_eq!(flowc(&["check", "tests/data/err/unknown_field_in_map.flow"], &[]).code, 1);
    assert_eq!(flowc(&["frobnicate"], &[]).code, 2);
    assert_eq!(flowc(&["check", "/no/such/file.flow"], &[]).code, 2);
    let unknown_flow = flowc(&["run", &example("orders_to_crm.flow"), "--flow", "nope"], &[]);
    assert_eq!(unknown_flow.code, 2);
    assert!(unknown_flow.stderr.contains("sync_orders"), "{}", unknown_flow.stderr);
    let bad_override = flowc(&["plan", &example("orders_to_crm.flow"), "--base-url", "nope=http://127.0.0.1:9"], &[]);
    assert_eq!(bad_override.code, 2);
    let help = flowc(&["--help"], &[]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit codes:"));
    for o in [&ok, &unknown_flow, &help] {
        assert!(!o.stderr.contains('\u{1b}') && !o.stdout.contains('\u{1b}'), "no colour when not a terminal");
    }
}

#[test]
fn check_json_is_machine_readable() {
    let out = flowc(&["check", "--format", "json", "tests/data/err/nullable_without_default.flow"], &[]);
    assert_eq!(out.code, 1);
    let diags: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let first = diags.as_array().and_then(|a| a.iter().find(|d| d["code"] == "E0202")).expect("an E0202");
    assert_eq!(first["severity"], "error");
    let primary =
        first["labels"].as_array().and_then(|l| l.iter().find(|l| l["primary"] == true)).expect("primary label");
    assert_eq!(primary["start"]["line"], 5);
    assert_eq!(primary["start"]["column"], 17);
    assert!(first["help"].as_str().is_some_and(|h| h.contains("o.email ??")));
}

#[test]
fn plan_shows_calls_order_and_policy() {
    let out = flowc(&["plan", &example("orders_to_crm.flow"), "--base-url", "crm=http://127.0.0.1:9/crm"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot("plan_orders_to_crm", out.golden(None));
}

#[test]
fn flowc_test_runs_the_test_blocks_of_the_examples() {
    let out = flowc(
        &[
            "test",
            "examples/orders_to_crm.flow",
            "examples/tickets_to_chat.flow",
            "examples/directory_to_mailing_list.flow",
            "examples/campaign_subscriptions.flow",
            "tests/data/ok/mapping_language.flow",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.ends_with("8 passed, 0 failed\n"), "{}", out.stderr);
}

#[test]
fn a_failing_test_shows_both_sides_and_a_diff() {
    let out = flowc(&["test", "tests/data/run/failing_test.flow"], &[]);
    assert_eq!(out.code, 1);
    snapshot("failing_test", out.golden(None));
}

#[test]
fn flowc_map_streams_records_and_rejects_what_does_not_fit() {
    let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-map", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("in.ndjson");
    let good = r#"{"id": 1, "name": "Ada Lovelace", "email": "Ada@Example.com", "phone": null, "status": "active", "address": {"street": "12 Main St", "city": "Berlin", "zip": "10115", "country": "de"}, "tags": ["vip"], "created_at": "2026-01-05T10:20:30Z", "order": {"id": "o1", "currency": "EUR", "line_items": [{"sku": "A", "qty": 2, "price": 89.9}]}}"#;
    let text = format!("{good}\n{{\"id\": \"one\"}}\n\nnot json\n{good}\n");
    std::fs::write(&input, text).expect("write input");
    let (output, rejects) = (dir.join("out.ndjson"), dir.join("rejects.ndjson"));
    let mut args = map_args("tests/data/ok/bench_customer_map.flow", "to_row", &input, &output);
    args.extend(["--rejects".to_string(), rejects.display().to_string()]);
    let out = flowc(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_eq!(out.code, 1, "rejects make the exit code 1: {}", out.stderr);
    assert!(out.stderr.contains("mapped 2 records, rejected 2"), "{}", out.stderr);
    let mapped: Vec<Value> = std::fs::read_to_string(&output)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(mapped.len(), 2);
    assert_eq!(mapped[0]["first_name"], "Ada");
    assert_eq!(mapped[0]["order_total"], 179.8);
    assert_eq!(mapped[0]["tier"], "silver");
    let rejected: Vec<Value> = std::fs::read_to_string(&rejects)
        .expect("rejects")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!((rejected[0]["line"].as_u64(), rejected[0]["error"]["code"].as_str()), (Some(2), Some("R0004")));
    assert!(rejected[0]["error"]["message"].as_str().is_some_and(|m| m.contains("at `id`")), "{}", rejected[0]);
    assert_eq!((rejected[1]["line"].as_u64(), rejected[1]["error"]["code"].as_str()), (Some(4), Some("R0003")));
    assert_eq!(rejected[1]["input"], "not json");
    let unknown = flowc(&["map", "tests/data/ok/bench_customer_map.flow", "--map", "nope"], &[]);
    assert_eq!(unknown.code, 2);
}

fn small_shop() -> Config {
    Config { orders: 5, ..Config::default() }
}

#[test]
fn a_rate_limit_is_shared_by_every_request_to_the_api() {
    with_fake(Config { orders: 30, ..Config::default() }, |api| {
        let overrides = vec![format!("shop={}/shop", api.url())];
        let started = std::time::Instant::now();
        let out = flowc(&run_args(&run_file("rate_limited.flow"), &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        // 3 pages and 30 calls at 10 per second, in 8 concurrent tasks: the last request's slot
        // is 3.2 s after the first (the slots themselves are tested exactly, without a clock, in
        // flow_runtime's `a_rate_limit_hands_out_evenly_spaced_slots`). This is a lower bound on
        // waits the runtime must make: a slow machine only makes it truer, never false.
        assert!(out.stderr.contains("33 requests"), "{}", out.stderr);
        assert!(started.elapsed() >= std::time::Duration::from_millis(3200), "{:?}", started.elapsed());
    });
}

#[test]
fn slow_cut_off_and_redirected_answers_fail_cleanly() {
    // Slow: a server that never answers (each request is held until the test releases it), so
    // the client's 300 ms timeout is the only way out, on a fast machine or a loaded one.
    with_fake(small_shop(), |api| {
        api.set_faults(Faults { hang_orders: true, ..Faults::default() });
        let overrides = vec![format!("shop={}/shop", api.url())];
        let out = flowc(&run_args(&run_file("impatient.flow"), &overrides), &demo_secrets());
        api.release();
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("error[R0002]")
                && out.stderr.contains("the request timed out after 300ms (the api's `timeout`)"),
            "{}",
            out.stderr
        );
        assert_eq!(api.hits("orders"), 2, "a timed-out GET is retried once (attempts: 2), then fails");
    });
    // Too large, cut off, redirected away: with an hour's timeout each fails on its own account,
    // never by running out of time.
    for (faults, code, words) in [
        // Streamed without a declared length: refused once 64 MiB have arrived.
        (Faults { huge_orders: true, ..Faults::default() }, "R0002", "larger than 64 MiB"),
        // A declared length beyond the cap: refused on the header, though the body never comes.
        (Faults { huge_declared_orders: true, ..Faults::default() }, "R0002", "it declares 68157440 bytes"),
        (Faults { truncate_orders: true, ..Faults::default() }, "R0003", "not JSON"),
        (Faults { redirect_orders_elsewhere: true, ..Faults::default() }, "R0001", "answered 302"),
    ] {
        with_fake(small_shop(), |api| {
            api.set_faults(faults);
            let overrides = vec![format!("shop={}/shop", api.url())];
            let out = flowc(&run_args(&run_file("patient.flow"), &overrides), &demo_secrets());
            api.release();
            assert_eq!(out.code, 1, "{}", out.stderr);
            assert!(out.stderr.contains(&format!("error[{code}]")) && out.stderr.contains(words), "{}", out.stderr);
            assert!(!out.stderr.contains("timed out"), "{}", out.stderr);
            // Credentials never follow a redirect to another host: it is not followed at all.
            assert!(!out.stderr.contains("elsewhere.example.net/shop/orders?"), "{}", out.stderr);
        });
    }
}

#[test]
fn a_batched_call_must_end_the_outer_loop() {
    let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-batchcheck", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let src = std::fs::read_to_string(common::root().join("tests/data/run/batched.flow")).expect("read");
    let bad = src.replace("\n  }\n  on_error", "\n    create_contacts(body: [])\n  }\n  on_error");
    assert_ne!(bad, src, "the edit applied");
    let path = dir.join("bad.flow");
    std::fs::write(&path, bad).expect("write");
    let out = flowc(&["check", path.to_str().expect("utf-8")], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("a batched call is the last step of the outermost `for`"), "{}", out.stderr);
}

#[test]
fn signed_jwts_authenticate_and_a_bad_key_fails_before_any_request() {
    let public = std::fs::read_to_string(common::root().join("tests/data/jwt/test_public.pem")).expect("public key");
    let private = std::fs::read_to_string(common::root().join("tests/data/jwt/test_private.pem")).expect("private key");
    let config = Config { jwt_public_pem: Some(public), ..small_shop() };
    with_fake(config, |api| {
        let overrides = vec![
            format!("shop={}/shop", api.url()),
            format!("crm_hs={}/crm", api.url()),
            format!("crm_rs={}/crm", api.url()),
        ];
        let secrets = [
            ("SHOP_TOKEN", "demo-shop-token"),
            ("JWT_SECRET", "demo-jwt-secret-of-32-bytes-long"),
            ("JWT_PRIVATE_KEY", private.as_str()),
        ];
        let out = flowc(&run_args(&run_file("jwt.flow"), &overrides), &secrets);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let ids: Vec<String> =
            api.received("contacts").iter().filter_map(|c| c["external_id"].as_str().map(str::to_string)).collect();
        assert_eq!(ids.iter().filter(|i| i.starts_with("hs-")).count(), 5);
        assert_eq!(ids.iter().filter(|i| i.starts_with("rs-")).count(), 5);
        assert!(!out.stderr.contains("BEGIN") && !out.stdout.contains("BEGIN"), "the key never appears");
        let bad = [
            ("SHOP_TOKEN", "demo-shop-token"),
            ("JWT_SECRET", "demo-jwt-secret-of-32-bytes-long"),
            ("JWT_PRIVATE_KEY", "not a key"),
        ];
        // A key that cannot sign is a check error when the secret is at hand, and the run
        // refuses to start on it.
        let check_file = run_file("jwt.flow");
        let out = flowc(&["check", &check_file], &bad);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("error[E0408]: the JWT key of api `crm_rs` is not an RSA private key in PEM form")
                && out.stderr.contains("signs with RS256"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("not a key"), "the secret's value is never printed");
        let out = flowc(&run_args(&run_file("jwt.flow"), &overrides), &bad);
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("error[E0408]"), "{}", out.stderr);
        assert_eq!(api.received("contacts").len(), 10, "nothing more was sent");
        // With the keys right, check passes.
        let out = flowc(&["check", &check_file], &secrets);
        assert_eq!(out.code, 0, "{}", out.stderr);
    });
}

#[test]
fn dependent_requests_chain_values_and_page_child_sources() {
    with_fake(Config { orders: 40, ..Config::default() }, |api| {
        let overrides = vec![format!("shop={}/shop", api.url()), format!("chat={}/chat", api.url())];
        let out = flowc(&run_args(&run_file("dependent.flow"), &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            (api.hits("customers"), api.hits("lines")),
            (40, 40),
            "one customer and one lines request per order"
        );
        let expected: usize = (1..=40u64)
            .map(|id| {
                let o = flow_fakeapi::order(id);
                o["line_items"]
                    .as_array()
                    .map_or(0, |ls| ls.iter().filter(|l| l["quantity"].as_u64() > Some(1)).count())
            })
            .sum();
        let messages = api.received("messages");
        assert_eq!(messages.len(), expected);
        // The key crossed the path percent-encoded and came back whole, slash and all.
        let o7 = flow_fakeapi::order(7);
        let key7 = format!(
            "{}/{} #7",
            o7["customer"]["first_name"].as_str().unwrap_or(""),
            o7["customer"]["last_name"].as_str().unwrap_or("")
        );
        assert!(
            messages.iter().any(|m| m["text"].as_str().is_some_and(|t| t.starts_with(&key7))),
            "{key7}: {messages:?}"
        );
    });
}

#[test]
fn an_endpoint_timeout_overrides_the_api_timeout() {
    with_fake(small_shop(), |api| {
        // The server never answers; the failure says which limit ended the wait: the
        // endpoint's 300 ms, not the api's 30 s (no clock is read by the test).
        api.set_faults(Faults { hang_orders: true, ..Faults::default() });
        let overrides = vec![format!("shop={}/shop", api.url())];
        let out = flowc(&run_args(&run_file("endpoint_timeout.flow"), &overrides), &demo_secrets());
        api.release();
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains("error[R0002]")
                && out.stderr.contains("timed out after 300ms (the endpoint's `timeout`)"),
            "{}",
            out.stderr
        );
    });
}

#[test]
fn fmt_check_lists_files_that_would_change_and_fmt_rewrites_them() {
    let examples = [
        "examples/orders_to_crm.flow",
        "examples/tickets_to_chat.flow",
        "examples/directory_to_mailing_list.flow",
        "examples/campaign_subscriptions.flow",
    ];
    let mut args = vec!["fmt", "--check"];
    args.extend(examples);
    let out = flowc(&args, &[]);
    assert_eq!(out.code, 0, "the examples are in the canonical layout: {}{}", out.stdout, out.stderr);
    let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-fmt", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("messy.flow");
    std::fs::write(
        &path,
        "secret   TOKEN // the token\napi shop{base_url=\"https://x.example.com\"\n  auth=bearer( TOKEN ) }\n",
    )
    .expect("write");
    let p = path.to_str().expect("utf-8 path");
    let check = flowc(&["fmt", "--check", p], &[]);
    assert_eq!(check.code, 1);
    assert_eq!(check.stdout.trim(), p);
    assert!(std::fs::read_to_string(&path).expect("read").starts_with("secret   TOKEN"), "--check changes nothing");
    assert_eq!(flowc(&["fmt", p], &[]).code, 0);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "secret TOKEN  // the token\n\napi shop {\n  base_url = \"https://x.example.com\"\n  auth = bearer(TOKEN)\n}\n"
    );
    assert_eq!(flowc(&["fmt", "--check", p], &[]).code, 0);
    std::fs::write(&path, "type A {\n  x String\n}\n").expect("write");
    let broken = flowc(&["fmt", p], &[]);
    assert_eq!(broken.code, 1);
    assert!(broken.stderr.contains("error[E0017]") && broken.stderr.contains("not formatted"), "{}", broken.stderr);
}

/// Whether this is a CI run (`CI` set, as CI services and `.ci/run`'s caller do).
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A real editor: headless Neovim (Debian's 0.7; `.ci/run` installs it) runs `flowc lsp`.
/// Without Neovim the test says so and passes, except in CI, which must run it.
#[test]
fn neovim_shows_a_diagnostic_and_clears_it_after_an_edit() {
    if Command::new("nvim").arg("--version").output().is_err() {
        assert!(!in_ci(), "CI is set but Neovim (nvim) is not installed: .ci/run installs it (apt-get install neovim)");
        // Straight to the process's stderr, so the note shows even though the test passes.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: neovim_shows_a_diagnostic_and_clears_it_after_an_edit did NOT run: Neovim (nvim) is not \
             installed. Install it (apt-get install neovim) to run this editor test; in CI (CI set) it is required."
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-nvim", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("orders.flow");
    std::fs::write(
        &file,
        "type Order { id: Int, email: String? }\ntype Contact { email: String }\n\nmap to_contact(o: Order) -> Contact {\n  email = lower(o.emial ?? \"\")\n}\n\ntest \"t\" {\n  expect to_contact({ id: 1, email: null }).email == \"\"\n}\n",
    )
    .expect("write");
    let out = dir.join("seen.txt");
    let status = Command::new("nvim")
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", common::root().join("tests/editors/neovim.lua").display()))
        .env("FLOWC", FLOWC)
        .env("FLOW_FILE", &file)
        .env("OUT", &out)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run nvim");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let seen = std::fs::read_to_string(&out).expect("nvim wrote what it saw");
    assert!(seen.contains("diagnostics=true"), "{seen}");
    assert!(seen.contains("line 4: `Order` has no field `emial`"), "{seen}");
    assert!(seen.contains("cleared=true"), "{seen}");
}

#[test]
fn flowc_map_leaves_absent_optional_fields_out_and_writes_null_for_nullable_ones() {
    let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-optional", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("in.ndjson");
    let lines = "{\"id\":1,\"phone\":null}\n{\"id\":2,\"nickname\":\"ada\",\"address\":{\"city\":\"Berlin\",\"zip\":\"10115\"}}\n";
    std::fs::write(&input, lines).expect("write input");
    let output = dir.join("out.ndjson");
    let args = map_args("tests/data/ok/optional_fields.flow", "to_patch", &input, &output);
    let out = flowc(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(&output).expect("output");
    assert_eq!(
        written,
        "{\"id\":1,\"phone\":null}\n{\"id\":2,\"nickname\":\"ada\",\"phone\":null,\"city\":\"Berlin\",\"zip\":\"10115\"}\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A value that left a nullable field unset has no key for it; written as a type whose field is
/// `x: String | null`, it carries `"x": null`, through a spread, a nested field, an `if` join and
/// a lambda's body.
#[test]
fn flowc_map_writes_null_for_a_present_field_a_value_left_unset() {
    let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-present", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("in.ndjson");
    std::fs::write(&input, "{\"a\":1,\"xs\":[2,3]}\n{\"a\":-1,\"xs\":[]}\n").expect("write input");
    let output = dir.join("out.ndjson");
    for (map, expected) in [
        ("_spread", "{\"a\":1,\"x\":null}\n{\"a\":-1,\"x\":null}\n"),
        ("_nested", "{\"b\":{\"a\":1,\"x\":null}}\n{\"b\":{\"a\":-1,\"x\":null}}\n"),
        ("_joined", "{\"a\":1,\"x\":null}\n{\"a\":0,\"x\":null}\n"),
        ("_lambda", "{\"bs\":[{\"a\":2,\"x\":null},{\"a\":3,\"x\":null}]}\n{\"bs\":[]}\n"),
    ] {
        let args = map_args("tests/data/ok/present_unset.flow", map, &input, &output);
        let out = flowc(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        assert_eq!(out.code, 0, "{map}: {}", out.stderr);
        assert_eq!(std::fs::read_to_string(&output).expect("output"), expected, "{map}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `flowc map` reads a Decimal exactly whatever its key looks like, refuses one it cannot hold
/// (never rounds it), and lists every mismatch of a line.
#[test]
fn flowc_map_keeps_decimals_exact_or_rejects_them_and_lists_every_mismatch() {
    let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-map-exact", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("in.ndjson");
    let lines = [
        r#"{"\u0069d": 1, "amo\u0075nt": 12345678901234567890.12345678}"#,
        r#"{"id": 2, "amount": 0.12345678901234567890123456789}"#,
        r#"{"id": 9223372036854775808, "amount": true}"#,
        r#"{"id": 4, "amount": "1e-3"}"#,
    ];
    std::fs::write(&input, lines.join("\n")).expect("write input");
    let (output, rejects) = (dir.join("out.ndjson"), dir.join("rejects.ndjson"));
    let mut args = map_args(&run_file("exact_decimals.flow"), "to_contact", &input, &output);
    args.extend(["--rejects".to_string(), rejects.display().to_string()]);
    let out = flowc(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let mapped: Vec<Value> = std::fs::read_to_string(&output)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let emails: Vec<&str> = mapped.iter().filter_map(|m| m["email"].as_str()).collect();
    assert_eq!(emails, ["12345678901234567890.12345678", "0.001"]);
    let rejected: Vec<Value> = std::fs::read_to_string(&rejects)
        .expect("rejects")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(rejected.len(), 2);
    assert_eq!((rejected[0]["line"].as_u64(), rejected[0]["error"]["code"].as_str()), (Some(2), Some("R0004")));
    assert_eq!(
        rejected[0]["error"]["message"],
        "does not match the map's input type: at `amount`: expected Decimal (at most 28 significant digits, held exactly), found the number 0.12345678901234567890123456789"
    );
    assert_eq!(
        rejected[1]["error"]["message"],
        "does not match the map's input type: 2 mismatches: at `id`: expected Int (a whole number within 64 bits), found the number 9223372036854775808; at `amount`: expected Decimal (a number, or a string holding one), found true"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn request_bodies_leave_absent_optional_fields_out() {
    with_fake(Config::default(), |api| {
        let overrides = shop_crm(api);
        let out = flowc(&run_args(&run_file("optional_body.flow"), &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        let contacts = api.received("contacts");
        assert_eq!(contacts.len(), 250);
        for c in &contacts {
            let id: i64 = c["external_id"]
                .as_str()
                .and_then(|s| s.strip_prefix("shop-"))
                .and_then(|s| s.parse().ok())
                .expect("an id");
            match c.get("nickname") {
                Some(n) => assert_eq!((id % 2, n.as_str()), (0, Some(format!("even-{id}").as_str())), "{c}"),
                None => assert_eq!(id % 2, 1, "only odd ids have no nickname: {c}"),
            }
        }
    });
}

/// A body built from a value that left `nickname` unset (`nickname: String?`) is sent with
/// `"nickname": null`, as its type `nickname: String | null` promises.
#[test]
fn request_bodies_write_null_for_a_present_field_left_unset() {
    with_fake(Config::default(), |api| {
        let overrides = shop_crm(api);
        let out = flowc(&run_args(&run_file("present_body.flow"), &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        let contacts = api.received("contacts");
        assert_eq!(contacts.len(), 250);
        for c in &contacts {
            assert_eq!(c.get("nickname"), Some(&Value::Null), "{c}");
        }
    });
}

/// The counts of a run's summary line for one flow.
#[derive(Debug, Default)]
struct Summary {
    read: u64,
    delivered: u64,
    filtered: u64,
    failed: u64,
    not_processed: u64,
    retries: u64,
}

/// Reads `flow NAME: ok — 5 records read, 5 delivered, … · 1 page, 6 requests (…), 2 retries · 0.01s`.
fn summary(stderr: &str, flow: &str) -> Summary {
    let prefix = format!("flow {flow}: ");
    let line = stderr.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no summary line: {stderr}"));
    let mut s = Summary::default();
    for piece in line.split([',', '·', '—', '(', ')', ';']) {
        let piece = piece.trim();
        let Some((n, words)) = piece.split_once(' ') else { continue };
        let Ok(n) = n.parse::<u64>() else { continue };
        let slot = match words {
            "record read" | "records read" => &mut s.read,
            "delivered" => &mut s.delivered,
            "filtered out" => &mut s.filtered,
            "failed" => &mut s.failed,
            "not processed" => &mut s.not_processed,
            "retry" | "retries" => &mut s.retries,
            _ => continue,
        };
        *slot = n;
    }
    s
}

/// Issue "trust", 7: 100,000 records against a server that cuts 0.5% of its answers short,
/// fails 2%, rate-limits 0.2% and drops 0.5% of its connections — about half the faults on
/// writes after the write was stored, so only its answer is lost. The schedule is seeded; the
/// flow's backoff is a few milliseconds.
#[test]
fn a_hundred_thousand_records_through_a_flaky_server_each_applied_exactly_once() {
    with_fake(Config { orders: 100_000, ..Config::default() }, |api| {
        let chaos = flow_fakeapi::Chaos { seed: 7, truncate: 50, fail: 200, rate_limit: 20, drop: 50 };
        api.set_faults(Faults { chaos: Some(chaos), ..Faults::default() });
        let out = flowc(&run_args(&run_file("chaos.flow"), &shop_crm(api)), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        let mut ids: Vec<u64> = api
            .received("contacts")
            .iter()
            .filter_map(|c| c["external_id"].as_str()?.strip_prefix("shop-")?.parse().ok())
            .collect();
        ids.sort_unstable();
        assert!(ids.iter().copied().eq(1..=100_000), "every record stored exactly once");
        let faults = api.chaos_counts();
        let writes = api.writes();
        assert_eq!(writes.applied, 100_000);
        assert!(
            faults.truncated > 0
                && faults.failed > 0
                && faults.rate_limited > 0
                && faults.dropped > 0
                && faults.after_applying > 0,
            "the schedule hit every kind of fault: {faults:?}"
        );
        // Each write whose answer was lost was sent again with its key, and answered from it.
        assert_eq!(writes.replayed, faults.after_applying, "{faults:?} {writes:?}");
        let s = summary(&out.stderr, "sync");
        assert_eq!((s.read, s.delivered, s.failed, s.not_processed), (100_000, 100_000, 0, 0), "{}", out.stderr);
        let injected = faults.truncated + faults.failed + faults.rate_limited + faults.dropped;
        assert_eq!(s.retries, injected, "one retry per fault, in the summary: {faults:?}\n{}", out.stderr);
    });
}

/// The events of a `--format json` run: pages read of an endpoint, failed records, requests
/// and retries, and the summary's counts for the flow.
fn json_run(stdout: &str, endpoint: &str) -> (u64, u64, u64, Value) {
    let (mut read, mut failed, mut exchanges) = (0, 0, 0);
    let mut flow = Value::Null;
    for line in stdout.lines() {
        let event: Value = serde_json::from_str(line).expect("one JSON event a line");
        match event["event"].as_str() {
            Some("page") if event["endpoint"] == endpoint => read += event["records"].as_u64().expect("records"),
            Some("record_failed") => failed += 1,
            Some("request" | "retry") => exchanges += 1,
            Some("summary") => flow = event["flows"][0].clone(),
            _ => {}
        }
    }
    (read, failed, exchanges, flow)
}

#[test]
fn a_run_stopped_midway_accounts_for_every_record_it_read() {
    with_fake(Config::default(), |api| {
        // Order 7 is refused: records are in flight, queued, and still in the first page.
        api.set_faults(Faults { reject_contacts_ending_in: Some(7), ..Faults::default() });
        let file = run_file("stopped_midway.flow");
        let overrides = shop_crm(api);
        let out = flowc(&run_args(&file, &overrides), &demo_secrets());
        assert_eq!(out.code, 1);
        let s = summary(&out.stderr, "push_contacts");
        assert_eq!(s.read, 50, "the first page was read whole: {}", out.stderr);
        // Order 7 fails first; 17 fails too when it was already in flight as the flow stopped,
        // which depends on how fast the machine is: at least one, never a fixed number.
        assert!(s.failed >= 1 && s.filtered >= 2 && s.not_processed > 0, "{}", out.stderr);
        assert_eq!(s.read, s.delivered + s.filtered + s.failed + s.not_processed, "{}", out.stderr);
        let mut args = run_args(&file, &overrides);
        args.extend(["--format", "json"]);
        let out = flowc(&args, &demo_secrets());
        assert_eq!(out.code, 1);
        let (read, failed, exchanges, flow) = json_run(&out.stdout, "list_orders");
        let n = |k: &str| flow[k].as_u64().unwrap_or_else(|| panic!("{k} in {flow}"));
        assert_eq!(n("records_in"), read, "every record of every page event is counted: {flow}");
        assert_eq!(
            n("records_in"),
            n("records_ok") + n("records_filtered") + n("records_failed") + n("records_not_processed"),
            "{flow}"
        );
        assert_eq!((n("records_failed"), n("requests")), (failed, exchanges), "{flow}");
    });
}

#[test]
fn an_apis_concurrency_caps_requests_in_flight_whatever_the_flows_concurrency() {
    // The flow takes 16 records at a time; the chat api allows 4 requests at once. The fake holds
    // each message until 4 are waiting together, then lets them go: if the cap let more through,
    // more would be counted in flight; if it let fewer, the barrier would never open.
    with_fake(Config { orders: 40, ..Config::default() }, |api| {
        api.set_faults(Faults { messages_barrier: Some(4), ..Faults::default() });
        let overrides = vec![format!("shop={}/shop", api.url()), format!("chat={}/chat", api.url())];
        let out = flowc(&run_args(&run_file("api_concurrency.flow"), &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(api.max_in_flight("messages"), 4, "exactly the api's concurrency, never more");
        let mut ids: Vec<u64> =
            api.received("messages").iter().filter_map(|m| m["text"].as_str().and_then(|t| t.parse().ok())).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=40).collect::<Vec<u64>>(), "every record delivered once");
    });
}

#[test]
fn same_origin_redirects_are_followed_with_credentials_and_others_are_not() {
    with_fake(Config { orders: 45, ..Config::default() }, |api| {
        let overrides = vec![format!("shop={}/shop", api.url()), format!("chat={}/chat", api.url())];
        let file = run_file("redirects.flow");
        let mut args = run_args(&file, &overrides);
        args.extend(["--flow", "moved"]);
        let out = flowc(&args, &demo_secrets());
        // /shop/orders refuses requests without the bearer token: each page arriving there
        // proves the credentials followed the redirect on the same host.
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!((api.hits("legacy_orders"), api.hits("orders")), (3, 3), "3 pages, each redirected once");
        let mut ids: Vec<u64> =
            api.received("messages").iter().filter_map(|m| m["text"].as_str().and_then(|t| t.parse().ok())).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=45).collect::<Vec<u64>>());
        // The same host on another port is another origin: the redirect is not followed, so the
        // other server never sees a request (nor the token).
        with_fake(Config { orders: 45, ..Config::default() }, |other| {
            api.set_faults(Faults {
                redirect_orders_to: Some(format!("{}/shop/orders", other.url())),
                ..Faults::default()
            });
            let mut args = run_args(&file, &overrides);
            args.extend(["--flow", "elsewhere"]);
            let out = flowc(&args, &demo_secrets());
            assert_eq!(out.code, 1, "{}", out.stderr);
            assert!(out.stderr.contains("error[R0001]") && out.stderr.contains("answered 302"), "{}", out.stderr);
            assert_eq!(other.hits("orders"), 0, "nothing reached the other origin");
            assert!(!out.stderr.contains("demo-shop-token"));
        });
    });
}

#[test]
fn flow_level_lets_are_seen_by_every_later_statement() {
    with_fake(Config { orders: 5, ..Config::default() }, |api| {
        let overrides = vec![format!("shop={}/shop", api.url()), format!("chat={}/chat", api.url())];
        let out = flowc(&run_args(&run_file("lets_between_loops.flow"), &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Each flow-level call is made once, not once per record.
        assert_eq!(api.hits("customers"), 2);
        let messages = api.received("messages");
        let texts: Vec<(&str, &str)> =
            messages.iter().map(|m| (m["channel"].as_str().unwrap_or(""), m["text"].as_str().unwrap_or(""))).collect();
        assert_eq!(texts.len(), 5 + 2 + 1, "{texts:?}");
        for id in 1..=5 {
            assert!(texts.contains(&("#orders", format!("gold {id}").as_str())), "{texts:?}");
        }
        // The fake makes a key of even length a vip: `gold` is one, `plain` is not.
        let urgent = |channel: &str| -> Vec<Value> {
            messages.iter().filter(|m| m["channel"] == channel).map(|m| m["urgent"].clone()).collect()
        };
        assert!(urgent("#orders")[..5].iter().all(|u| *u == true), "{messages:?}");
        assert_eq!(urgent("plain/#orders"), [false, false], "{messages:?}");
        assert!(texts.contains(&("plain/#orders", "1")) && texts.contains(&("plain/#orders", "2")), "{texts:?}");
        assert_eq!(texts.last(), Some(&("#orders", "done: gold, plain/#orders")));
    });
}

#[test]
fn campaign_example_reads_the_list_once_and_tags_every_member() {
    with_fake(Config::default(), |api| {
        let overrides = vec![format!("directory={}/directory", api.url()), format!("mail={}/mail", api.url())];
        let out = flowc(&run_args(&example("campaign_subscriptions.flow"), &overrides), &demo_secrets());
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(api.hits("lists"), 1, "the list's settings are read once, before the loop");
        let plan = flowc(&["plan", &example("campaign_subscriptions.flow")], &[]);
        assert!(plan.stdout.contains("  2. let list = get_list(list_id: \"newsletter\")\n"), "{}", plan.stdout);
        let list = flow_fakeapi::mailing_list_settings("newsletter");
        let expected: Vec<u64> = (1..=45u64).filter(|id| id % 6 != 0 && id % 2 == 0).collect();
        let members = api.received("members");
        assert_eq!(members.len(), expected.len());
        for m in &members {
            assert_eq!(m["list_id"], list["id"], "{m}");
            assert_eq!(m["tags"][0], "directory-sync", "{m}");
            assert_eq!(m["tags"][1], list["campaign"], "{m}");
        }
        let u2 = flow_fakeapi::user(2);
        let m2 = members.iter().find(|m| m["email"] == u2["emails"][0]["address"]).expect("user 2 is a member");
        assert_eq!(m2["tags"][2], u2["department"].as_str().map(str::to_lowercase).unwrap_or_default());
    });
}
