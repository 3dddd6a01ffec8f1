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

/// `flowc map FILE --map NAME` over one line: a vendor's whole answer (its JSON on one line).
/// The map's output line, or the rejects' line and the exit code when it was rejected.
fn map_answer(map: &str, answer: &str) -> (i32, String, String) {
    map_answer_in("tests/data/vendors/times_and_money.flow", map, answer)
}

/// [`map_answer`] with a map of another file.
fn map_answer_in(file: &str, map: &str, answer: &str) -> (i32, String, String) {
    // A folder per call: tests of the same map run at the same time.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("flowc-vendors-{}-{map}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("in.ndjson");
    std::fs::write(&input, format!("{}\n", answer.replace('\n', " "))).expect("write input");
    let (output, rejects) = (dir.join("out.ndjson"), dir.join("rejects.ndjson"));
    let args = [
        "map".to_string(),
        file.into(),
        "--map".into(),
        map.into(),
        "--input".into(),
        input.display().to_string(),
        "--output".into(),
        output.display().to_string(),
        "--rejects".into(),
        rejects.display().to_string(),
    ];
    let out = flowc(&args, &[]);
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default().trim_end().to_string();
    let result = (out.code, read(&output), read(&rejects));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn vendor_file(path: &str) -> String {
    std::fs::read_to_string(common::root().join("tests/data/vendors").join(path)).expect("vendor payload")
}

/// Jira writes offsets without a colon and always three fraction digits: read without a
/// `catch`, written as RFC 3339, as Jira writes it again, and as unix milliseconds.
#[test]
fn jira_times_with_offsets_without_a_colon_decode_and_are_written_back_as_declared() {
    let (code, out, rejects) = map_answer("jira_times", &vendor_file("jira/search_issues.json"));
    assert_eq!(code, 0, "{rejects}");
    assert_eq!(
        out,
        concat!(
            r#"{"issues":[{"key":"JUZT-36","created":"2017-08-07T04:46:31-07:00","created_as_jira":"2017-08-07T04:46:31.000-0700","resolved_ms":null,"viewed":"2017-08-11T06:54:41.970-07:00"},"#,
            r#"{"key":"JUZT-34","created":"2017-07-06T15:47:19-07:00","created_as_jira":"2017-07-06T15:47:19.000-0700","resolved_ms":1499390850000,"viewed":null}]}"#
        )
    );
}

/// Jira writes `resolutiondate` on every issue, `null` until it is resolved: declared
/// `JiraTime | null` it reads null, and an answer without it is a mismatch naming its path, where
/// `lastViewed?:` may be absent. Output writes the present field as `null`, leaves the optional
/// one out.
#[test]
fn jira_s_always_written_resolution_date_may_be_null_but_not_absent() {
    let file = "tests/data/vendors/presence.flow";
    let (code, out, rejects) = map_answer_in(file, "jira_resolutions", &vendor_file("jira/search_issues.json"));
    assert_eq!(code, 0, "{rejects}");
    assert_eq!(
        out,
        concat!(
            r#"{"issues":[{"key":"JUZT-36","resolved":null,"viewed":"2017-08-11T06:54:41.970-07:00"},"#,
            r#"{"key":"JUZT-34","resolved":"2017-07-06T18:27:30-07:00"}]}"#
        )
    );
    let without = vendor_file("jira/search_issues.json").replace(",\n        \"resolutiondate\": null", "");
    assert!(!without.contains("\"resolutiondate\": null"), "the payload changed: {without}");
    let (code, out, rejects) = map_answer_in(file, "jira_resolutions", &without);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(rejects.contains("R0004"), "{rejects}");
    assert!(rejects.contains("issues[0].fields.resolutiondate"), "{rejects}");
    assert!(rejects.contains("found nothing (the field is missing)"), "{rejects}");
    // The same answer without `lastViewed`: optional, so it fits.
    let unviewed = vendor_file("jira/search_issues.json").replace("\"lastViewed\": null,", "");
    let (code, out, rejects) = map_answer_in(file, "jira_resolutions", &unviewed);
    assert_eq!((code, out.contains("JUZT-34")), (0, true), "{rejects}");
}

/// A time that is not in the declared form does not fit: R0004 names the field's path and the
/// form it expected.
#[test]
fn a_time_in_another_form_than_declared_is_a_mismatch_naming_the_path_and_the_form() {
    let answer = vendor_file("jira/search_issues.json").replace("2017-08-07T04:46:31.000-0700", "2017-08-07T11:46:31Z");
    let (code, out, rejects) = map_answer("jira_times", &answer);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(rejects.contains("R0004"), "{rejects}");
    assert!(rejects.contains("issues[0].fields.created"), "{rejects}");
    assert!(rejects.contains(r#"a DateTime written \"%Y-%m-%dT%H:%M:%S%.3f%z\""#), "{rejects}");
}

/// Slack's `ts` is unix seconds in a string, and the message's id: it keeps its microseconds
/// exactly (no double on the way) and is written back as Slack wrote it.
#[test]
fn slack_ts_keeps_its_microseconds_and_is_written_back_as_slack_wrote_it() {
    let (code, out, rejects) = map_answer("slack_replies", &vendor_file("slack/conversations_history.json"));
    assert_eq!(code, 0, "{rejects}");
    assert_eq!(
        out,
        concat!(
            r#"{"replies":[{"thread_ts":"1512085950.000216","at":"2017-11-30T23:52:30.000216Z","seconds":1512085950.000216},"#,
            r#"{"thread_ts":"1512104434.000490","at":"2017-12-01T05:00:34.000490Z","seconds":1512104434.00049}]}"#
        )
    );
}

/// HubSpot v1 writes milliseconds as a number (`addedAt`) and in a string (a property's value).
#[test]
fn hubspot_milliseconds_as_numbers_and_as_strings_decode() {
    let (code, out, rejects) = map_answer("hubspot_times", &vendor_file("hubspot/contacts_v1_all.json"));
    assert_eq!(code, 0, "{rejects}");
    assert!(
        out.starts_with(r#"{"contacts":[{"vid":154835,"added":"2014-07-14T14:24:11.360Z","modified":"1414183315068"}"#),
        "{out}"
    );
}

/// A request value of a type with a wire form is sent in that form: Stripe filters lists by
/// `created[gte]`, unix seconds (it refuses RFC 3339 with "Invalid integer"). An incremental
/// sync's DateTime cursor goes out as seconds on the first run and, advanced, on the next.
#[test]
fn a_query_value_declared_in_unix_seconds_is_sent_as_unix_seconds() {
    let source = std::fs::read_to_string(common::root().join("tests/data/vendors/stripe_to_slack.flow"))
        .expect("flow")
        .replace(r#""/v1/customers" -> {"#, r#""/v1/customers" (since: DateTime(unix_seconds)) -> {"#)
        .replace("query = { limit: 3 }", r#"query = { limit: 3, "created[gte]": since }"#)
        .replace(
            "flow announce {\n  for c in list_customers {",
            concat!(
                "flow announce {\n",
                "  state since: DateTime = \"2023-11-14T22:13:16Z\" {\n",
                "    from = record.created\n",
                "    key = record.id\n",
                "  }\n",
                "  for c in list_customers(since: state.since) {"
            ),
        )
        .replace("  created: Int\n", "  created: DateTime(unix_seconds)\n")
        .replace(
            "endpoint post_message",
            concat!(
                "secret MAIL_TOKEN\n",
                "api mail {\n  base_url = \"https://mail.example.com\"\n  auth = bearer(MAIL_TOKEN)\n}\n",
                "endpoint list_at = mail GET \"/lists/{at}\" (at: DateTime(unix_seconds)) -> { id: String }\n\n",
                "endpoint post_message"
            ),
        )
        .replace("  for c in list_customers(", "  let list = list_at(at: state.since)\n  for c in list_customers(")
        .replace(r#"(c.email ?? "-") })"#, r#"(c.email ?? "-") + " " + list.id })"#);
    assert!(
        source.contains("state.since") && source.contains("created[gte]") && source.contains("list.id"),
        "{source}"
    );
    let (_dir, file) = common::scratch_source("vendors", "unix_query", &source);
    with_fake(Config::default(), |api| {
        let mut args = vec!["run".to_string(), file.clone()];
        for (name, prefix) in [("stripe", "stripe"), ("slack", "slack/api"), ("mail", "mail")] {
            args.extend(["--base-url".to_string(), format!("{name}={}/{prefix}", api.url())]);
        }
        let env = [("STRIPE_KEY", VENDOR_TOKEN), ("SLACK_TOKEN", VENDOR_TOKEN), ("MAIL_TOKEN", "demo-mail-token")];
        let out = flowc(&args, &env);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // 2023-11-14T22:13:16Z is 1699999996; customer n was created at 1700000000 - n.
        assert_eq!(
            api.vendors().queries(),
            [
                "stripe_customers?created[gte]=1699999996&limit=3",
                "stripe_customers?created[gte]=1699999996&limit=3&starting_after=cus_demo0003"
            ]
        );
        let mut posted = texts(api);
        posted.sort();
        // The path parameter went out as seconds too: the fake names the list after it.
        let expected: Vec<String> =
            (1..=4).map(|n| format!("cus_demo{n:04} customer{n}@example.com 1699999996-2026")).collect();
        assert_eq!(posted, expected);
        // The cursor advanced to the newest customer's time, and goes out as seconds again.
        let again = flowc(&args, &env);
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert_eq!(api.vendors().queries()[2], "stripe_customers?created[gte]=1699999999&limit=3");
    });
}

/// Stripe's `created` is unix seconds as a number; a string there is not the declared form.
#[test]
fn stripe_unix_seconds_decode_and_a_string_there_does_not_fit() {
    let customer = vendor_file("stripe/customer.json");
    let (code, out, rejects) = map_answer("stripe_times", &customer);
    assert_eq!(code, 0, "{rejects}");
    assert!(out.contains(r#""created":"2009-02-13T23:31:30Z","created_unix":1234567890"#), "{out}");
    let (code, _, rejects) = map_answer("stripe_times", &customer.replace("1234567890", "\"1234567890\""));
    assert_eq!(code, 1);
    assert!(rejects.contains("a DateTime as unix seconds (a JSON number)"), "{rejects}");
}

/// Shopify's money travels in strings: read from strings, kept at its scale through
/// arithmetic, written back as strings; a plain Decimal is written as a number with its scale.
#[test]
fn shopify_money_in_strings_keeps_its_scale_and_goes_back_as_strings() {
    let (code, out, rejects) = map_answer("shopify_totals", &vendor_file("shopify/order.json"));
    assert_eq!(code, 0, "{rejects}");
    assert_eq!(
        out,
        r#"{"id":450789469,"lines_total":"398.00","total_price":"409.94","discounts":0.00,"tax_rate":0.06,"doubled":"819.88"}"#
    );
}

/// `Decimal(string)` given a number is not the declared form: the record is rejected with the
/// field's path, never read as if it were a string.
#[test]
fn money_declared_as_a_string_refuses_a_number() {
    let answer = vendor_file("shopify/order.json").replace(r#""total_price": "409.94""#, r#""total_price": 409.94"#);
    let (code, out, rejects) = map_answer("shopify_totals", &answer);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(rejects.contains("R0004") && rejects.contains("order.total_price"), "{rejects}");
    assert!(rejects.contains("a Decimal written as a string"), "{rejects}");
}

/// Runs a copy of `tests/data/vendors/slack_errors.flow` (edited by `edit`) in a folder of its
/// own, against the fake's Slack; the output and the dead letters written beside it.
fn run_slack_errors(api: &FakeApi, name: &str, edit: impl Fn(String) -> String) -> (common::Output, String) {
    let dir = std::env::temp_dir().join(format!("flowc-vendors-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let source =
        std::fs::read_to_string(common::root().join("tests/data/vendors/slack_errors.flow")).expect("read flow");
    let file = dir.join("slack.flow");
    std::fs::write(&file, edit(source)).expect("write flow");
    let args =
        ["run".to_string(), file.display().to_string(), "--base-url".into(), format!("slack={}/slack/api", api.url())];
    let out = flowc(&args, &[("SLACK_TOKEN", VENDOR_TOKEN)]);
    let dead = std::fs::read_to_string(dir.join("failed_posts.ndjson")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    (out, dead)
}

/// `{"ok": false, "error": "ratelimited"}` with status 200 is a transient error by the api's
/// declaration: retried under its retry policy, and then the run goes on as if it had not been.
#[test]
fn slack_ratelimited_in_a_200_is_retried_under_the_retry_policy() {
    with_fake(Config::default(), |api| {
        api.vendors().set_slack_ratelimited(2);
        let (out, dead) = run_slack_errors(api, "ratelimited", |s| s);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(dead, "");
        // The first page was asked for three times: twice `ratelimited`, then answered.
        assert_eq!(
            api.vendors().queries(),
            [
                "slack_conversations?limit=1",
                "slack_conversations?limit=1",
                "slack_conversations?limit=1",
                "slack_conversations?cursor=dGVhbTpC222&limit=1"
            ]
        );
        let mut posted = texts(api);
        posted.sort();
        assert_eq!(posted, ["hello #general", "hello #random"]);
    });
}

/// An error the api does not declare transient (`not_in_channel`) fails its record on the first
/// answer, with Slack's message: the record goes to the dead letters, the others go on.
#[test]
fn a_slack_error_in_a_200_fails_its_record_with_the_message_and_is_dead_lettered() {
    with_fake(Config::default(), |api| {
        api.vendors().set_slack_not_in_channel(&["C222"]);
        let (out, dead) = run_slack_errors(api, "not-in-channel", |s| s);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(texts(api), ["hello #general"]);
        assert_eq!(api.vendors().hits("slack_post"), 2, "not retried");
        assert_eq!(dead.lines().count(), 1, "{dead}");
        assert!(dead.contains("R0025") && dead.contains("answered 200 with an error: not_in_channel"), "{dead}");
        assert!(dead.contains("C222"), "{dead}");
    });
}

/// Under `on_error = fail` the error in a 200 stops the run like a non-2xx answer: R0025 with
/// the message, at the step, naming the flow and the record.
#[test]
fn a_slack_error_in_a_200_fails_the_step_like_a_non_2xx_answer() {
    with_fake(Config::default(), |api| {
        api.vendors().set_slack_not_in_channel(&["C111"]);
        let (out, _) =
            run_slack_errors(api, "fail", |s| s.replace("  on_error = dead_letter(\"failed_posts.ndjson\")\n", ""));
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("error[R0025]"), "{}", out.stderr);
        assert!(out.stderr.contains("`post_message`: answered 200 with an error: not_in_channel"), "{}", out.stderr);
        assert!(out.stderr.contains("greet"), "{}", out.stderr);
        assert!(out.stderr.contains("record #1 of `list_channels` (id C111)"), "{}", out.stderr);
        assert!(out.stderr.contains("slack.flow:"), "the step's span: {}", out.stderr);
    });
}

/// A transient error whose retries are spent fails the call, saying so.
#[test]
fn a_transient_error_in_a_200_fails_once_the_attempts_are_spent() {
    with_fake(Config::default(), |api| {
        api.vendors().set_slack_ratelimited(10);
        let (out, _) = run_slack_errors(api, "spent", |s| s);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("error[R0025]"), "{}", out.stderr);
        assert!(out.stderr.contains("answered 200 with an error: ratelimited"), "{}", out.stderr);
        assert!(out.stderr.contains("all 4 attempts were spent"), "{}", out.stderr);
        assert_eq!(api.vendors().hits("slack_conversations"), 4);
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

/// `flowc map` of `tests/data/vendors/unions.flow` over one line: (exit code, output, rejects).
fn map_union(record: &serde_json::Value) -> (i32, String, String) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("flowc-vendors-{}-unions-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("in.ndjson");
    std::fs::write(&input, format!("{record}\n")).expect("write input");
    let (output, rejects) = (dir.join("out.ndjson"), dir.join("rejects.ndjson"));
    let path = |p: &std::path::Path| p.display().to_string();
    let args = [
        "map".to_string(),
        "tests/data/vendors/unions.flow".into(),
        "--map".into(),
        "charge_copy".into(),
        "--input".into(),
        path(&input),
        "--output".into(),
        path(&output),
        "--rejects".into(),
        path(&rejects),
    ];
    let out = flowc(&args, &[]);
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default().trim_end().to_string();
    let result = (out.code, read(&output), read(&rejects));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The declared fields of `value` as `ty` declares them: what an identity copy must write.
fn declared(value: &serde_json::Value, fields: &[&str]) -> serde_json::Value {
    serde_json::Value::Object(fields.iter().map(|f| (f.to_string(), value[*f].clone())).collect())
}

/// Stripe's charge with each kind of `source` (its own card, bank account and source fixtures)
/// and each form of `customer` (an id, the expanded customer, null): each decodes as the member
/// it is, is read through its tag and its type, and is written back as it came, declared fields
/// all kept.
#[test]
fn stripe_sources_and_expandable_customers_decode_as_their_member_and_lose_nothing() {
    let charge = vendor_json("stripe/charge.json");
    let card = vendor_json("stripe/card.json");
    let bank = vendor_json("stripe/bank_account.json");
    let customer = vendor_json("stripe/customer.json");
    let cases = [
        (card.clone(), serde_json::json!("cus_9s6XKzkNRiz8i3"), "4242", "cus_9s6XKzkNRiz8i3"),
        (bank.clone(), customer.clone(), "6789", customer["id"].as_str().expect("id")),
    ];
    for (source, cust, last4, customer_id) in cases {
        let mut c = charge.clone();
        c["source"] = source.clone();
        c["customer"] = cust.clone();
        let (code, out, rejects) = map_union(&c);
        assert_eq!(code, 0, "{rejects}");
        let out: serde_json::Value = serde_json::from_str(&out).expect("output is JSON");
        assert_eq!(out["last4"], last4);
        assert_eq!(out["customer_id"], customer_id);
        let source_fields: &[&str] = if source["object"] == "card" {
            &["id", "object", "brand", "last4", "exp_month", "exp_year", "metadata"]
        } else {
            &["id", "object", "bank_name", "last4", "routing_number"]
        };
        assert_eq!(out["source"], declared(&source, source_fields));
        let expected_customer =
            if cust.is_string() { cust.clone() } else { declared(&cust, &["id", "object", "email", "created"]) };
        assert_eq!(out["customer"], expected_customer);
    }
    // The fixture as Stripe publishes it: a `source` object, no customer.
    let (code, out, rejects) = map_union(&charge);
    assert_eq!(code, 0, "{rejects}");
    let out: serde_json::Value = serde_json::from_str(&out).expect("output is JSON");
    assert_eq!(out["source"], declared(&charge["source"], &["id", "object", "type", "created"]));
    assert_eq!(out["customer"], serde_json::Value::Null);
    assert_eq!(out["last4"], serde_json::Value::Null);
}

/// A source that is no member (an unknown tag, or a member's field of the wrong type) is a
/// rejected record, R0004, whose message names each member's first mismatch.
#[test]
fn a_stripe_source_that_fits_no_member_names_each_members_first_mismatch() {
    let mut c = vendor_json("stripe/charge.json");
    c["source"] = vendor_json("stripe/card.json");
    c["source"]["object"] = serde_json::json!("wire");
    let (code, out, rejects) = map_union(&c);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(rejects.contains("R0004"), "{rejects}");
    assert!(rejects.contains("`source`") || rejects.contains("source:"), "{rejects}");
    assert!(rejects.contains("which fits no member"), "{rejects}");
    for member in ["as Card: at `object`", "as BankAccount: at `object`", "as Source: at `object`"] {
        assert!(rejects.contains(member), "{member}: {rejects}");
    }
    // The tag picks the member: a card whose `last4` is a number is a mismatch inside the card.
    let mut c = vendor_json("stripe/charge.json");
    c["source"] = vendor_json("stripe/card.json");
    c["source"]["last4"] = serde_json::json!(4242);
    let (code, _, rejects) = map_union(&c);
    assert_eq!(code, 1);
    assert!(rejects.contains("source.last4"), "{rejects}");
    // An expandable field given neither an id nor an object.
    let mut c = vendor_json("stripe/charge.json");
    c["customer"] = serde_json::json!(42);
    let (code, _, rejects) = map_union(&c);
    assert_eq!(code, 1);
    assert!(rejects.contains("as String: expected String, found the number 42"), "{rejects}");
}

/// The cookbook's Stripe recipe against the fake's Stripe charges: paged by the id of the last
/// charge, each source narrowed by its tag, each customer by its type, metadata looked up, unix
/// times read.
#[test]
fn the_stripe_recipe_reads_sources_expandable_customers_metadata_and_unix_times() {
    with_fake(Config::default(), |api| {
        let out = run(api, "stripe_charges.flow", &[("stripe", "stripe"), ("slack", "slack/api")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            api.vendors().queries(),
            [
                "stripe_charges?limit=2",
                "stripe_charges?limit=2&starting_after=ch_demo0002",
                "stripe_charges?limit=2&starting_after=ch_demo0004",
            ]
        );
        let mut posted = texts(api);
        posted.sort();
        assert_eq!(
            posted,
            [
                "ch_demo0001 1000 usd by cus_demo0001 with Visa ending 4242, order 6731, 2023-11-14T22:13:19Z",
                "ch_demo0002 2000 usd by cus_demo0002 <customer2@example.com> with STRIPE TEST BANK ending 6789, order -, 2023-11-14T22:13:18Z",
                "ch_demo0003 3000 usd by guest with a ach_credit_transfer source, order 6733, 2023-11-14T22:13:17Z",
                "ch_demo0004 4000 usd by cus_demo0004 with Visa ending 4242, order -, 2023-11-14T22:13:16Z",
                "ch_demo0005 5000 usd by cus_demo0005 <customer5@example.com> with STRIPE TEST BANK ending 6789, order 6735, 2023-11-14T22:13:15Z",
            ]
        );
    });
}

/// Runs a flow of `tests/data/vendors/slack_rich_text.flow` in a folder of its own against the
/// fake's Slack; the output and the dead letters it wrote to `dead`.
fn run_rich_text(api: &FakeApi, flow: &str, dead: &str, edit: impl Fn(String) -> String) -> (common::Output, String) {
    let dir =
        std::env::temp_dir().join(format!("flowc-vendors-{}-{flow}-{}", std::process::id(), edit(String::new()).len()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let source =
        std::fs::read_to_string(common::root().join("tests/data/vendors/slack_rich_text.flow")).expect("read flow");
    let file = dir.join("rich_text.flow");
    std::fs::write(&file, edit(source)).expect("write flow");
    let args = [
        "run".to_string(),
        file.display().to_string(),
        "--flow".into(),
        flow.into(),
        "--base-url".into(),
        format!("slack={}/slack/api", api.url()),
    ];
    let out = flowc(&args, &[("SLACK_TOKEN", VENDOR_TOKEN)]);
    let dead = std::fs::read_to_string(dir.join(dead)).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    (out, dead)
}

/// A recursive function reads Slack's own rich_text block to its whole depth (lists of sections
/// of texts, links, mentions, dates) and the message is posted as the plain text it holds.
#[test]
fn a_recursive_function_turns_a_slack_rich_text_tree_into_plain_text() {
    with_fake(Config::default(), |api| {
        let (out, dead) = run_rich_text(api, "to_plain_text", "rich_text_failed.ndjson", |s| s);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(dead, "");
        assert_eq!(
            texts(api),
            ["Hey! this is very rich text block test linksSlack website! <https://slack.com>- a\n- b\n- bb\n- BBB\n- c\n\n- todo\n- todo\n- todo\n\nthis is very importantprint(\"Hello world\")<@WJC6QG0MS> <!subteam^S01BL602YLU> <#C02GD0YEHDJ>August 10, 2021timey"]
        );
    });
}

/// A page with a message nested 100,000 deep is refused by its depth, with a clear error: no
/// stack overflows decoding it (nor the function that would read it). The depth is judged as
/// the text is read, so the page fails as a whole (R0003), as a page that is not JSON does.
#[test]
fn a_page_nested_100000_deep_is_refused_by_its_depth_not_a_stack_overflow() {
    with_fake(Config::default(), |api| {
        api.vendors().set_slack_nested_blocks(100_000);
        let (out, _) = run_rich_text(api, "to_plain_text", "rich_text_failed.ndjson", |s| s);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("error[R0003]"), "{}", out.stderr);
        assert!(out.stderr.contains("more than 127 nested arrays and objects"), "{}", out.stderr);
        assert!(out.stderr.contains("in flow `to_plain_text`"), "{}", out.stderr);
        assert_eq!(texts(api), Vec::<String>::new());
    });
}

/// `flowc map` over messages, one 100,000 deep: that line is rejected by its depth, the others
/// are mapped by the recursive function to their plain text.
#[test]
fn flowc_map_rejects_a_line_nested_100000_deep_and_maps_the_rest() {
    let dir = std::env::temp_dir().join(format!("flowc-vendors-{}-deep-map", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let block = std::fs::read_to_string(common::root().join("tests/data/vendors/slack/rich_text_block.json"))
        .expect("fixture")
        .replace('\n', " ");
    let block: serde_json::Value = serde_json::from_str(&block).expect("fixture JSON");
    let shallow = serde_json::json!({ "ts": "1", "text": "t", "blocks": [block] }).to_string();
    let n = 100_000;
    let deep = format!(
        r#"{{"ts": "2", "text": "t", "blocks": [{}{{"type": "text", "text": "x"}}{}]}}"#,
        r#"{"type": "rich_text_section", "elements": ["#.repeat(n),
        "]}".repeat(n)
    );
    let input = dir.join("in.ndjson");
    std::fs::write(&input, format!("{shallow}\n{deep}\n{shallow}\n")).expect("write input");
    let rejects = dir.join("rejects.ndjson");
    let out = common::flowc(
        &[
            "map",
            "tests/data/vendors/slack_rich_text.flow",
            "--map",
            "message_text",
            "--input",
            input.to_str().expect("path"),
            "--rejects",
            rejects.to_str().expect("path"),
        ],
        &[],
    );
    let rejected = std::fs::read_to_string(&rejects).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<serde_json::Value> =
        out.stdout.lines().map(|l| serde_json::from_str(l).expect("an output line")).collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0]["text"].as_str().unwrap_or_default().starts_with("Hey! this is very rich text"), "{}", lines[0]);
    let reject: serde_json::Value = serde_json::from_str(rejected.trim()).expect("one reject");
    assert_eq!(reject["line"], 2);
    assert_eq!(reject["error"]["code"], "R0003");
    assert!(reject["error"]["message"].as_str().unwrap_or_default().contains("more than 127 nested"), "{reject}");
}

/// A recursion that never ends fails its record at the call depth limit (R0029, naming the
/// function, at the call's span, with the flow and the record), into the dead letters; nothing
/// overflows and the run goes on.
#[test]
fn an_endless_recursion_fails_its_record_with_r0029_into_the_dead_letters() {
    with_fake(Config::default(), |api| {
        let (out, dead) = run_rich_text(api, "recursion_bug", "rich_text_endless.ndjson", |s| s);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(texts(api), Vec::<String>::new());
        assert_eq!(dead.lines().count(), 1, "{dead}");
        let letter: serde_json::Value = serde_json::from_str(dead.trim()).expect("a JSON line");
        assert_eq!(letter["flow"], "recursion_bug");
        assert_eq!(letter["error"]["code"], "R0029", "{letter}");
        let message = letter["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("calls nested more than 1000 deep: the function `endless`"), "{message}");
        // Under `on_error = fail` it stops the run, shown at the recursive call in the source.
        let stop = |s: String| s.replace("  on_error = dead_letter(\"rich_text_endless.ndjson\")\n", "");
        let (out, _) = run_rich_text(api, "recursion_bug", "rich_text_endless.ndjson", stop);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("error[R0029]"), "{}", out.stderr);
        assert!(out.stderr.contains("recursion_bug"), "{}", out.stderr);
        assert!(out.stderr.contains("record #1 of `history`"), "{}", out.stderr);
        assert!(out.stderr.contains("rich_text.flow:59:"), "the recursive call's span: {}", out.stderr);
    });
}
