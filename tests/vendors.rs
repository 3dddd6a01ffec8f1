//! The flowc binary against the fake API's vendor-shaped routes, which serve the vendors' own
//! payloads (tests/data/vendors, with their SOURCE notes) and page as the vendors do: Stripe's
//! `starting_after` (the id of the last record) while `has_more`, HubSpot v1's `"vid-offset"`
//! while `"has-more"`, Slack's cursor inside `response_metadata`.

mod common;

use common::{flowc, with_fake};
use flow_fakeapi::{Config, FakeApi, VENDOR_TOKEN};

fn run(api: &FakeApi, file: &str, apis: &[(&str, &str)]) -> common::Output {
    let mut args = vec!["run".to_string(), format!("tests/data/vendors/{file}")];
    for (name, prefix) in apis {
        args.push("--base-url".into());
        args.push(format!("{name}={}/{prefix}", api.url()));
    }
    let env = [("STRIPE_KEY", VENDOR_TOKEN), ("HUBSPOT_KEY", VENDOR_TOKEN), ("SLACK_TOKEN", VENDOR_TOKEN)];
    flowc(&args, &env)
}

fn texts(api: &FakeApi) -> Vec<String> {
    api.vendors().posted().iter().filter_map(|m| m["text"].as_str().map(String::from)).collect()
}

#[test]
fn stripe_is_paged_by_the_id_of_the_last_record_while_has_more() {
    with_fake(Config::default(), |api| {
        let out = run(api, "stripe_to_slack.flow", &[("stripe", "stripe"), ("slack", "slack/api")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // 7 customers, 3 a page: the second page starts after the third id, the third after the
        // sixth, and `has_more` false on it ends the paging (no request for an empty page).
        assert_eq!(
            api.vendors().queries(),
            [
                "stripe_customers?limit=3",
                "stripe_customers?limit=3&starting_after=cus_demo0003",
                "stripe_customers?limit=3&starting_after=cus_demo0006",
            ]
        );
        let mut posted = texts(api);
        posted.sort();
        let expected: Vec<String> = (1..=7).map(|n| format!("cus_demo{n:04} customer{n}@example.com")).collect();
        assert_eq!(posted, expected);
        assert!(out.stderr.contains("`more` not true"), "{}", out.stderr);
    });
}

#[test]
fn hubspot_v1_is_paged_by_its_quoted_vid_offset_while_has_more() {
    with_fake(Config::default(), |api| {
        let out = run(api, "hubspot_to_slack.flow", &[("hubspot", "hubspot"), ("slack", "slack/api")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            api.vendors().queries(),
            [
                "hubspot_contacts?count=3",
                "hubspot_contacts?count=3&vidOffset=1003",
                "hubspot_contacts?count=3&vidOffset=1006",
            ]
        );
        let mut posted = texts(api);
        posted.sort();
        // The recorded contacts' first names, cycled over vids 1001..=1007.
        let names = ["HubSpot", "Charles", "Curtis"];
        let mut expected: Vec<String> = (1..=7).map(|n| format!("{} {}", 1000 + n, names[(n - 1) % 3])).collect();
        expected.sort();
        assert_eq!(posted, expected);
    });
}

#[test]
fn slack_is_paged_by_the_cursor_inside_its_nested_envelope() {
    with_fake(Config::default(), |api| {
        let out = run(api, "slack_channels.flow", &[("slack", "slack/api")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            api.vendors().queries(),
            ["slack_conversations?limit=1", "slack_conversations?cursor=dGVhbTpC222&limit=1"]
        );
        // The two pages' records are posted concurrently, so in either order.
        let mut posted = texts(api);
        posted.sort();
        assert_eq!(posted, ["hello #general", "hello #random"]);
        assert!(out.stderr.contains("no next cursor"), "{}", out.stderr);
    });
}

/// A cursor read from the records cannot be read from a record that does not fit its type: the
/// page's records go on (the one that does not fit to the dead letters), then the source stops
/// with R0024, naming the flow and the step, and no page is skipped silently.
#[test]
fn a_cursor_read_from_a_record_that_does_not_fit_stops_the_source_after_its_page() {
    with_fake(Config::default(), |api| {
        api.vendors().set_stripe_bad_customer(3);
        let dir = std::env::temp_dir().join(format!("flowc-vendors-{}-bad-last", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let source = std::fs::read_to_string(common::root().join("tests/data/vendors/stripe_to_slack.flow"))
            .expect("read flow")
            .replace("  }\n}\n", "  }\n  on_error = dead_letter(\"failed.ndjson\")\n}\n");
        let file = dir.join("stripe.flow");
        std::fs::write(&file, source).expect("write flow");
        let args = [
            "run".to_string(),
            file.display().to_string(),
            "--base-url".into(),
            format!("stripe={}/stripe", api.url()),
            "--base-url".into(),
            format!("slack={}/slack/api", api.url()),
        ];
        let out = flowc(&args, &[("STRIPE_KEY", VENDOR_TOKEN), ("SLACK_TOKEN", VENDOR_TOKEN)]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("error[R0024]"), "{}", out.stderr);
        assert!(out.stderr.contains("record #3 of the page does not fit its type"), "{}", out.stderr);
        assert!(out.stderr.contains("flow `announce`") || out.stderr.contains("announce"), "{}", out.stderr);
        // Only the first page was asked for; its two good records were posted, the third went
        // to the dead letters.
        assert_eq!(api.vendors().queries(), ["stripe_customers?limit=3"]);
        let mut posted = texts(api);
        posted.sort();
        assert_eq!(posted, ["cus_demo0001 customer1@example.com", "cus_demo0002 customer2@example.com"]);
        let dead = std::fs::read_to_string(dir.join("failed.ndjson")).expect("dead letters");
        assert_eq!(dead.lines().count(), 1, "{dead}");
        assert!(dead.contains("cus_demo0003") && dead.contains("R0004"), "{dead}");
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// `flowc map` over vendor records (each JSON value of `records` as one NDJSON line): its output
/// lines, parsed.
fn map_records(map: &str, records: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!("flowc-vendors-{}-{map}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("in.ndjson");
    let lines: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    std::fs::write(&input, lines.join("\n") + "\n").expect("write input");
    let out = common::flowc(
        &["map", "tests/data/vendors/dicts.flow", "--map", map, "--input", input.to_str().expect("path")],
        &[],
    );
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout.lines().map(|l| serde_json::from_str(l).expect("an output line is JSON")).collect()
}

fn vendor_json(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(common::root().join("tests/data/vendors").join(path)).expect("read");
    serde_json::from_str(&text).expect("vendor JSON")
}

#[test]
fn stripe_metadata_and_content_passed_through_lose_nothing() {
    let refund = vendor_json("stripe/refund_updated.json");
    let out = map_records("refund_copy", std::slice::from_ref(&refund));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["order_id"], "6735");
    assert_eq!(out[0]["metadata"], serde_json::json!({ "order_id": "6735", "synced_by": "flowc" }));
    // `Json` passes Stripe's nested object on as it came.
    assert_eq!(out[0]["destination_details"], refund["destination_details"]);
    assert_eq!(out[0]["reason"], serde_json::Value::Null);
}

#[test]
fn hubspot_properties_are_a_dictionary_iterated_in_their_order() {
    let page = vendor_json("hubspot/contacts_v1_all.json");
    let contacts = page["contacts"].as_array().expect("contacts").clone();
    let out = map_records("contact_row", &contacts);
    assert_eq!(out.len(), contacts.len());
    for (row, contact) in out.iter().zip(&contacts) {
        let props = contact["properties"].as_object().expect("properties");
        let names: Vec<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(row["names"], serde_json::json!(names), "keys in the order HubSpot sent them");
        for (k, v) in props {
            assert_eq!(row["fields"][k], v["value"]);
        }
    }
    assert_eq!(out[0]["first"], "HubSpot");
}

#[test]
fn jira_avatar_urls_are_looked_up_by_their_size_keys() {
    let page = vendor_json("jira/project_search.json");
    let projects = page["values"].as_array().expect("values").clone();
    let out = map_records("project_avatars", &projects);
    assert_eq!(out[0]["key"], "EX");
    assert_eq!(out[0]["large"], "https://your-domain.atlassian.net/secure/projectavatar?size=large&pid=10000");
    assert_eq!(out[1]["sizes"], serde_json::json!(["16x16", "24x24", "32x32", "48x48"]));
}
