//! Dead letters in the state store and `flowc replay`, by the flowc binary against the fake
//! API's changing records (`flow_fakeapi::changes`), whose receiving endpoint can refuse some
//! records (`Changes::refuse`) and be fixed (`Changes::accept_all`).

mod common;

use std::path::{Path, PathBuf};

use common::{flowc, with_fake, Child};
use flow_fakeapi::{Config, FakeApi};
use flow_state::StateStore;

const TOKEN: (&str, &str) = ("SHOP_TOKEN", "demo-shop-token");

/// A fresh folder with `source` as `flow.flow`; the state store lands beside it.
fn scratch(test: &str, source: &str) -> (PathBuf, String) {
    common::scratch_source("replay", test, source)
}

fn base(api: &FakeApi) -> String {
    format!("shop={}/shop", api.url())
}

fn run(api: &FakeApi, file: &str, extra: &[&str], env: &[(&str, &str)]) -> common::Output {
    let base = base(api);
    let mut args = vec!["run", file, "--base-url", &base];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(TOKEN);
    flowc(&args, &env)
}

/// The names of the copies the fake stored since the last look, sorted.
fn copied(api: &FakeApi) -> Vec<String> {
    let mut out: Vec<String> =
        api.changes().take_received().iter().map(|c| c["name"].as_str().unwrap_or("?").to_string()).collect();
    out.sort();
    out
}

/// The example incremental flow, dead-lettering what the receiver refuses.
fn dead_lettering() -> String {
    let example = std::fs::read_to_string(common::root().join("examples/incremental_changes.flow")).expect("example");
    example.replace(
        "    save_copy(body: c, idempotency_key: c.id + \"@\" + str(c.updated_at))\n  }\n",
        "    save_copy(body: c, idempotency_key: c.id + \"@\" + str(c.updated_at))\n  }\n  on_error = dead_letter(\"failed.ndjson\")\n",
    )
}

fn stored_letters(store: &Path) -> Vec<flow_state::DeadLetter> {
    let opened = flow_state::SqliteStore::open(store, None).expect("open the store");
    opened.store.dead_letters(None, None).expect("read the dead letters")
}

fn four(api: &FakeApi) {
    let c = api.changes();
    c.put("a", "Ada", "2026-03-01T10:00:00Z");
    c.put("b", "Bob", "2026-03-01T10:01:00Z");
    c.put("c", "Cy", "2026-03-01T10:02:00Z");
    c.put("d", "Di", "2026-03-01T10:03:00Z");
}

#[test]
fn a_flow_with_state_keeps_its_dead_letters_in_the_store_as_well_as_in_the_file() {
    let (dir, file) = scratch("into-store", &dead_lettering());
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob", "Di"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stderr.contains("4 records read, 2 delivered, 0 filtered out, 2 failed, 2 to the dead letter file"),
            "{}",
            out.stderr
        );
        assert_eq!(copied(api), ["Ada", "Cy"]);
        // The file, as before.
        let lines = std::fs::read_to_string(dir.join("failed.ndjson")).expect("the dead letter file");
        assert_eq!(lines.lines().count(), 2, "{lines}");
        // The store: one row per dead letter, with its step, source, index, code and record.
        // Records are sent concurrently, so they may fail in either order.
        let mut letters = stored_letters(&dir.join("flowc-state.sqlite"));
        letters.sort_by_key(|l| l.record_index);
        assert_eq!(letters.len(), 2);
        let b = &letters[0];
        assert_eq!(
            (b.flow.as_str(), b.step.as_str(), b.source.as_str()),
            ("copy_changes", "for c in list_changes", "list_changes")
        );
        assert_eq!((b.record_index, b.attempts, b.error.code.as_str()), (2, 1, "R0001"));
        assert_eq!(b.record, r#"{"id":"b","name":"Bob","updated_at":"2026-03-01T10:01:00Z"}"#);
        assert!(b.error.message.contains("answered 422"), "{}", b.error.message);
        assert_eq!(letters[1].record_index, 4);
        // The export of the store is what the file holds, line for line, but for the time.
        let strip = |l: &str| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            v.as_object_mut().expect("object").remove("failed_at_unix_ms");
            v
        };
        let mut from_file: Vec<serde_json::Value> = lines.lines().map(strip).collect();
        from_file.sort_by_key(|v| v["record_index"].as_u64());
        let exported: Vec<serde_json::Value> = letters.iter().map(|l| strip(&l.to_ndjson_line())).collect();
        assert_eq!(from_file, exported);
        // Dead-lettered records are settled: the cursor passed them.
        let again = run(api, &file, &[], &[]);
        assert!(again.stderr.contains("starting from the stored cursor 2026-03-01T10:03:00Z"), "{}", again.stderr);
    });
    let _ = std::fs::remove_dir_all(dir);
}

fn replay(api: &FakeApi, file: &str, extra: &[&str], env: &[(&str, &str)]) -> common::Output {
    let base = base(api);
    let mut args = vec!["replay", file, "--base-url", &base];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(TOKEN);
    flowc(&args, &env)
}

#[test]
fn replay_sends_the_dead_letters_again_and_keeps_those_that_fail_again() {
    let (dir, file) = scratch("replay", &dead_lettering());
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob", "Di"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(copied(api), ["Ada", "Cy"]);

        // A dry run lists them, and sends and changes nothing.
        let dry = replay(api, &file, &["--dry-run"], &[]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert_eq!(dry.stdout.matches("dead letter ").count(), 2, "{}", dry.stdout);
        assert!(dry.stdout.contains("record #2 of `list_changes` · attempts 1 · R0001"), "{}", dry.stdout);
        assert!(
            dry.stdout.contains(r#"{"id":"b","name":"Bob","updated_at":"2026-03-01T10:01:00Z"}"#),
            "{}",
            dry.stdout
        );
        assert!(dry.stderr.contains("2 dead letters would be replayed (dry run"), "{}", dry.stderr);
        assert!(copied(api).is_empty() && api.changes().pages().is_empty(), "a dry run sends nothing");
        assert_eq!(stored_letters(&store).len(), 2);

        // The receiver is fixed for Bob only: Bob is delivered and leaves; Di stays, attempt 2.
        api.changes().refuse(&["Di"]);
        let first = replay(api, &file, &[], &[]);
        assert_eq!(first.code, 1, "one failed again: {}", first.stderr);
        assert!(
            first.stderr.contains("flow copy_changes: 2 dead letters replayed — 1 delivered, 0 filtered out (these left the store), 1 failed again (kept)"),
            "{}",
            first.stderr
        );
        assert!(
            first.stderr.contains("record #4 of `list_changes` (attempt 2): R0001: `save_copy`: answered 422"),
            "{}",
            first.stderr
        );
        assert_eq!(copied(api), ["Bob"]);
        assert!(api.changes().pages().is_empty(), "a replay reads no source");
        let left = stored_letters(&store);
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].record_index, left[0].attempts, left[0].error.code.as_str()), (4, 2, "R0001"));

        // The replay is a run in the history, with its counts.
        let runs = flowc(&["runs", &file, "--format", "json"], &[]);
        assert_eq!(runs.code, 0, "{}", runs.stderr);
        let list: serde_json::Value = serde_json::from_str(&runs.stdout).expect("json");
        let newest = &list[0];
        assert_eq!(
            (&newest["kind"], &newest["status"]),
            (&serde_json::json!("replay"), &serde_json::json!("failed")),
            "{newest}"
        );
        assert_eq!(list[1]["kind"], "run", "{}", list[1]);
        assert_eq!(
            (newest["read"].as_u64(), newest["delivered"].as_u64(), newest["failed"].as_u64()),
            (Some(2), Some(1), Some(1)),
            "{newest}"
        );
        assert!(newest["error"].as_str().is_some_and(|e| e.contains("1 dead letter(s) failed again")), "{newest}");

        // Fixed for all: the last one is delivered, and the store holds no dead letter.
        api.changes().accept_all();
        let second = replay(api, &file, &[], &[]);
        assert_eq!(second.code, 0, "{}", second.stderr);
        assert!(second.stderr.contains("1 dead letter replayed — 1 delivered"), "{}", second.stderr);
        assert_eq!(copied(api), ["Di"]);
        assert!(stored_letters(&store).is_empty());
        let runs = flowc(&["runs", &file, "--format", "json"], &[]);
        let list: serde_json::Value = serde_json::from_str(&runs.stdout).expect("json");
        assert_eq!(list[0]["status"], "succeeded", "{}", list[0]);
        // Nothing left to replay.
        let none = replay(api, &file, &[], &[]);
        assert_eq!(none.code, 0, "{}", none.stderr);
        assert!(
            none.stderr.contains("0 dead letters replayed") || none.stderr.contains("no dead letters"),
            "{}",
            none.stderr
        );
        assert!(copied(api).is_empty());
        // The dead letter file is as the run left it.
        let lines = std::fs::read_to_string(dir.join("failed.ndjson")).expect("the dead letter file");
        assert_eq!(lines.lines().count(), 2);
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_dead_letter_that_no_longer_fits_its_loop_is_an_error_for_that_record_and_stays() {
    let (dir, file) = scratch("misfit", &dead_lettering());
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(copied(api), ["Ada", "Cy", "Di"]);
        api.changes().accept_all();
        // The file changed since: `name` is now an Int, which the kept record does not fit.
        let changed = dead_lettering().replace("  name: String\n", "  name: Int\n");
        std::fs::write(&file, changed).expect("change the file");
        let again = replay(api, &file, &[], &[]);
        assert_eq!(again.code, 1, "{}", again.stderr);
        assert!(!again.stderr.contains("panicked"), "{}", again.stderr);
        assert!(again.stderr.contains("(attempt 2): R0021: the dead-lettered record #2 of `list_changes` no longer fits its loop's record type `Change`"), "{}", again.stderr);
        assert!(copied(api).is_empty(), "nothing sent");
        let left = stored_letters(&store);
        assert_eq!((left.len(), left[0].attempts, left[0].error.code.as_str()), (1, 2, "R0021"));
        assert!(left[0].error.notes.iter().any(|n| n.contains("name")), "{:?}", left[0].error.notes);
        // The kept record itself is unchanged, so the old type replays it.
        assert_eq!(left[0].record, r#"{"id":"b","name":"Bob","updated_at":"2026-03-01T10:01:00Z"}"#);
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn replay_is_refused_while_a_run_holds_the_flow_r0015() {
    let (dir, file) = scratch("leased", &dead_lettering());
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob"]);
        assert_eq!(run(api, &file, &[], &[]).code, 0);
        api.changes().accept_all();
        api.changes().put("e", "Eve", "2026-03-01T10:09:00Z");
        copied(api);
        // A second run, held at its first write: it holds the flow's lease while held.
        api.changes().hold_after(0);
        let base = base(api);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
            .current_dir(common::root())
            .args(["run", &file, "--base-url", &base])
            .env("NO_COLOR", "1")
            .env(TOKEN.0, TOKEN.1)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start flowc");
        // The run takes the lease before it reads its first page: once a page is served, it holds it.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while api.changes().pages().is_empty() {
            assert!(std::time::Instant::now() < give_up, "the run never read a page");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let refused = replay(api, &file, &[], &[]);
        assert_eq!(refused.code, 1, "{}", refused.stderr);
        assert!(refused.stderr.contains("error[R0015]"), "{}", refused.stderr);
        assert_eq!(stored_letters(&store)[0].attempts, 1, "nothing changed");
        api.changes().release();
        assert!(child.wait().expect("reap").success());
        assert_eq!(copied(api), ["Eve"], "the refused replay sent nothing");
        let after = replay(api, &file, &[], &[]);
        assert_eq!(after.code, 0, "{}", after.stderr);
        assert_eq!(copied(api), ["Bob"]);
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Standard base64 of `bytes`, unpadded.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Whether `value` is in `bytes` as is, or base64-encoded at any alignment (the encoded middle,
/// which does not depend on the bytes around it).
fn holds(bytes: &[u8], value: &str) -> bool {
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if find(value.as_bytes()) {
        return true;
    }
    (0..3).any(|shift| {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(value.as_bytes());
        let encoded = base64(&padded);
        // Drop the characters that mix in the padding and the unknown byte after the value.
        let skip = if shift == 0 { 0 } else { (shift * 8).div_ceil(6) };
        let middle = &encoded[skip..encoded.len().saturating_sub(2)];
        middle.len() >= 8 && find(middle.as_bytes())
    })
}

/// Every file of the store: the database and its WAL and shared-memory files.
fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("flowc-state.sqlite")) {
            all.extend(std::fs::read(&path).expect("read"));
        }
    }
    all
}

const KEY: (&str, &str) = ("STATE_KEY", "kP3v9Qx2Lm8Zr5Tw1Yb7Nc4Hd6Fg0Js2");

#[test]
fn a_run_with_state_key_keeps_no_record_data_in_clear_and_a_missing_or_wrong_key_changes_nothing() {
    let (dir, file) = scratch("encrypted", &dead_lettering());
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        let c = api.changes();
        c.put("a", "Zenobia Quartermaine", "2026-03-01T10:00:00Z");
        c.put("b", "Bartholomew Fairweather", "2026-03-01T10:01:00Z");
        c.refuse(&["Bartholomew Fairweather"]);
        let out = run(api, &file, &["--state-key", KEY.0], &[KEY]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains(KEY.1));
        assert_eq!(copied(api), ["Zenobia Quartermaine"]);
        let bytes = store_bytes(&dir);
        assert!(!bytes.is_empty());
        for value in ["Bartholomew Fairweather", "Zenobia Quartermaine", "2026-03-01T10:01:00Z", KEY.1] {
            assert!(!holds(&bytes, value), "{value} is in the store's files");
        }
        assert!(holds(b"xx Bartholomew Fairweather", "Bartholomew Fairweather"), "the search finds it in clear");
        let encoded = base64(b"{\"name\":\"Bartholomew Fairweather\"}");
        assert!(holds(encoded.as_bytes(), "Bartholomew Fairweather"), "the search finds it in base64");

        // Without the key, or with another: R0014, nothing read, sent or changed.
        let before = std::fs::read(&store).expect("read");
        c.put("c", "Cy", "2026-03-01T10:05:00Z");
        let keyless = run(api, &file, &[], &[]);
        assert_eq!(keyless.code, 1, "{}", keyless.stderr);
        assert!(keyless.stderr.contains("error[R0014]"), "{}", keyless.stderr);
        assert!(keyless.stderr.contains("--state-key SECRET_NAME"), "{}", keyless.stderr);
        let wrong = run(api, &file, &["--state-key", KEY.0], &[(KEY.0, "another-value-of-enough-length-0123")]);
        assert_eq!(wrong.code, 1, "{}", wrong.stderr);
        assert!(wrong.stderr.contains("error[R0014]"), "{}", wrong.stderr);
        let unset = run(api, &file, &["--state-key", KEY.0], &[]);
        assert_eq!(unset.code, 1, "{}", unset.stderr);
        assert!(unset.stderr.contains("error[R0006]"), "{}", unset.stderr);
        assert!(api.changes().pages().is_empty() && copied(api).is_empty(), "nothing was read or sent");
        assert_eq!(std::fs::read(&store).expect("read"), before, "the store is as it was");

        // With the key: the dead letter is listed and replayed.
        let dry = replay(api, &file, &["--dry-run"], &[]);
        assert_eq!(dry.code, 1, "{}", dry.stderr);
        assert!(dry.stderr.contains("error[R0014]"), "{}", dry.stderr);
        let dry = replay(api, &file, &["--dry-run", "--state-key", KEY.0], &[KEY]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert!(dry.stdout.contains("Bartholomew Fairweather"), "{}", dry.stdout);
        c.accept_all();
        let replayed = replay(api, &file, &["--state-key", KEY.0], &[KEY]);
        assert_eq!(replayed.code, 0, "{}", replayed.stderr);
        assert_eq!(copied(api), ["Bartholomew Fairweather"]);
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// The dead-lettering example with the copy's `name` declared sensitive.
fn sensitive_names() -> String {
    dead_lettering().replace(
        "type Change {\n  id: String\n  name: String\n",
        "type Change {\n  id: String\n  sensitive name: String\n",
    )
}

/// Every form a value may be written in: as is, JSON-escaped, base64.
fn forms(value: &str) -> Vec<String> {
    use base64::Engine;
    let escaped = serde_json::to_string(value).expect("json");
    vec![
        value.to_string(),
        escaped.trim_matches('"').to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(value),
    ]
}

/// Every byte of the store's files (the database, its WAL) as text, lossily.
fn store_text(dir: &Path) -> String {
    String::from_utf8_lossy(&store_bytes(dir)).into_owned()
}

const HIDDEN: &str = "Zoë \"Q\" Secretsdóttir";

#[test]
fn a_sensitive_field_is_sent_as_it_is_and_masked_in_every_output_and_in_the_store() {
    let (dir, file) = scratch("sensitive", &sensitive_names());
    with_fake(Config::default(), |api| {
        let c = api.changes();
        c.put("a", "Ada Lovelace", "2026-03-01T10:00:00Z");
        c.put("b", HIDDEN, "2026-03-01T10:01:00Z");
        // The receiver refuses it, and its 422 answer echoes the name back.
        c.refuse(&[HIDDEN]);
        let out = run(api, &file, &["-v"], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        c.put("d", HIDDEN, "2026-03-01T10:01:30Z");
        let json = run(api, &file, &["--format", "json"], &[]);
        assert_eq!(json.code, 0, "{}", json.stderr);
        // Sent to the target unchanged: the fake got the real value (and refused it).
        c.accept_all();
        c.put("c", HIDDEN, "2026-03-01T10:02:00Z");
        let sent = run(api, &file, &[], &[]);
        assert_eq!(sent.code, 0, "{}", sent.stderr);
        assert!(copied(api).contains(&HIDDEN.to_string()), "the value is sent as it is");
        let runs = flowc(&["runs", &file], &[]);
        let runs_json = flowc(&["runs", &file, "--format", "json"], &[]);
        let dry = replay(api, &file, &["--dry-run"], &[]);
        let file_letters = std::fs::read_to_string(dir.join("failed.ndjson")).expect("the dead letter file");
        let everything = [
            &out.stdout,
            &out.stderr,
            &json.stdout,
            &json.stderr,
            &sent.stderr,
            &runs.stdout,
            &runs_json.stdout,
            &dry.stdout,
            &dry.stderr,
            &file_letters,
            &store_text(&dir),
        ];
        for (i, text) in everything.iter().enumerate() {
            for form in forms(HIDDEN) {
                assert!(!text.contains(&form), "output {i} holds the sensitive value as {form:?}:\n{text}");
            }
        }
        // The masked record keeps its shape and its other fields.
        let line = file_letters.lines().next().expect("a dead letter");
        assert!(
            line.ends_with(r#""record":{"id":"b","name":"[sensitive]","updated_at":"2026-03-01T10:01:00Z"}}"#),
            "{line}"
        );
        assert!(line.contains("answered 422"), "{line}");
        assert!(line.contains(r#"\"name\":\"[sensitive]\""#), "the echoed answer is masked too: {line}");
        let letters = stored_letters(&dir.join("flowc-state.sqlite"));
        assert_eq!(letters[0].record, r#"{"id":"b","name":"[sensitive]","updated_at":"2026-03-01T10:01:00Z"}"#);
        assert!(dry.stdout.contains(r#""name":"[sensitive]""#), "{}", dry.stdout);
        assert!(out.stderr.contains("POST ") && out.stderr.contains("answered 422"), "{}", out.stderr);
        assert!(json.stdout.contains("\"dead_lettered\":true"), "{}", json.stdout);
        // Its replay cannot send the masked value: R0026, and it stays.
        let replayed = replay(api, &file, &[], &[]);
        assert_eq!(replayed.code, 1, "{}", replayed.stderr);
        assert!(replayed.stderr.contains("R0026"), "{}", replayed.stderr);
        assert!(!copied(api).iter().any(|n| n.contains("sensitive")), "no mask was sent");
        assert_eq!(stored_letters(&dir.join("flowc-state.sqlite")).len(), 2, "they stay");
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_encrypted_store_keeps_a_sensitive_value_sealed_for_replay_and_shows_it_masked() {
    let (dir, file) = scratch("sensitive-sealed", &sensitive_names());
    with_fake(Config::default(), |api| {
        let c = api.changes();
        c.put("b", HIDDEN, "2026-03-01T10:01:00Z");
        c.refuse(&[HIDDEN]);
        let out = run(api, &file, &["--state-key", KEY.0], &[KEY]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let dry = replay(api, &file, &["--dry-run", "--state-key", KEY.0], &[KEY]);
        assert!(dry.stdout.contains(r#""name":"[sensitive]""#), "{}", dry.stdout);
        let file_letters = std::fs::read_to_string(dir.join("failed.ndjson")).expect("the dead letter file");
        for text in [&out.stderr, &dry.stdout, &file_letters, &store_text(&dir)] {
            for form in forms(HIDDEN) {
                assert!(!text.contains(&form), "{form:?} in:\n{text}");
            }
        }
        c.accept_all();
        let replayed = replay(api, &file, &["--state-key", KEY.0], &[KEY]);
        assert_eq!(replayed.code, 0, "{}", replayed.stderr);
        assert_eq!(copied(api), [HIDDEN], "the replay sends the real value, kept sealed");
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// The dead-lettering example without `state`: its dead letters are in its file only.
const PARTNER: (&str, &str) = ("PARTNER_KEY", "pk/live key+9");

/// The dead-lettering flow, declaring a second secret that no api sends.
fn holding_secrets() -> String {
    dead_lettering().replace("secret SHOP_TOKEN\n", "secret SHOP_TOKEN\nsecret PARTNER_KEY\n")
}

/// A record that held a secret's value: the value is kept nowhere — not in the dead letter
/// file, the store or any output — but where it was, and how it was written, is; a replay writes
/// the secret's value back there, and the receiver gets the record exactly as it was. A secret
/// the file no longer declares cannot be written back: R0030 for that record, which stays.
#[test]
fn a_dead_letter_keeps_where_a_record_held_a_secret_and_a_replay_writes_the_value_back() {
    use flow_state::{SecretAt, SecretForm};
    let (dir, file) = scratch("held-secrets", &holding_secrets());
    let store = dir.join("flowc-state.sqlite");
    let bob = "Bob (token demo-shop-token)";
    let cy = "Cy https://partner.example/cb?key=pk%2Flive%20key%2B9&x=1";
    with_fake(Config::default(), |api| {
        let c = api.changes();
        c.put("a", "Ada", "2026-03-01T10:00:00Z");
        c.put("b", bob, "2026-03-01T10:01:00Z");
        c.put("c", cy, "2026-03-01T10:02:00Z");
        c.refuse(&[bob, cy]);
        let out = run(api, &file, &[], &[PARTNER]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(copied(api), ["Ada"]);
        let dry = replay(api, &file, &["--dry-run"], &[PARTNER]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert!(dry.stdout.contains("Bob (token [secret SHOP_TOKEN])"), "{}", dry.stdout);
        assert!(dry.stdout.contains("cb?key=[secret PARTNER_KEY]&x=1"), "{}", dry.stdout);
        let lines = std::fs::read_to_string(dir.join("failed.ndjson")).expect("the dead letter file");
        let everything = [
            lines.as_bytes(),
            &store_bytes(&dir),
            out.stdout.as_bytes(),
            out.stderr.as_bytes(),
            dry.stdout.as_bytes(),
            dry.stderr.as_bytes(),
        ];
        for (i, bytes) in everything.iter().enumerate() {
            for value in [TOKEN.1, PARTNER.1, "pk%2Flive%20key%2B9"] {
                for form in forms(value) {
                    assert!(!holds(bytes, &form), "output {i} holds a secret's value ({form:?})");
                }
            }
        }
        // The store: the records with their markers, and where each was and how it was written.
        let mut letters = stored_letters(&store);
        letters.sort_by_key(|l| l.record_index);
        assert_eq!(
            letters[0].record,
            r#"{"id":"b","name":"Bob (token [secret SHOP_TOKEN])","updated_at":"2026-03-01T10:01:00Z"}"#
        );
        // A token of letters and `-` fits every form; the partner's key (a `/`, a space, a `+`)
        // was percent-encoded, as RFC 3986 and as `encodeURIComponent` write it alike.
        assert_eq!(letters[0].secrets.as_ref().map(|s| (s.len(), s[0].at, s[0].forms.len())), Some((1, 29, 7)));
        assert_eq!(
            letters[1].record,
            r#"{"id":"c","name":"Cy https://partner.example/cb?key=[secret PARTNER_KEY]&x=1","updated_at":"2026-03-01T10:02:00Z"}"#
        );
        assert_eq!(
            letters[1].secrets,
            Some(vec![SecretAt {
                at: 52,
                name: "PARTNER_KEY".into(),
                forms: vec![SecretForm::Percent, SecretForm::UriComponent]
            }])
        );
        // The file's lines say the same.
        let mut from_file: Vec<serde_json::Value> =
            lines.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        from_file.sort_by_key(|v| v["record_index"].as_u64());
        for (line, letter) in from_file.iter().zip(&letters) {
            assert_eq!(line["secrets"], serde_json::json!(letter.secrets), "{line}");
        }

        // The receiver is fixed, and the file no longer declares PARTNER_KEY: Bob is delivered
        // with the token written back; Cy is refused (R0030) and stays, as it was.
        api.changes().accept_all();
        std::fs::write(&file, dead_lettering()).expect("write the file");
        let first = replay(api, &file, &[], &[]);
        assert_eq!(first.code, 1, "{}", first.stderr);
        assert!(
            first.stderr.contains("R0030: the dead-lettered record #3 of `list_changes` held the secret `PARTNER_KEY`, which the file no longer declares"),
            "{}",
            first.stderr
        );
        assert_eq!(copied(api), [bob]);
        let left = stored_letters(&store);
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].record_index, left[0].attempts, left[0].error.code.as_str()), (3, 2, "R0030"));
        assert_eq!((&left[0].record, &left[0].secrets), (&letters[1].record, &letters[1].secrets));
        // Declared again: Cy is delivered, its key percent-encoded as it was.
        std::fs::write(&file, holding_secrets()).expect("write the file");
        let second = replay(api, &file, &[], &[PARTNER]);
        assert_eq!(second.code, 0, "{}", second.stderr);
        assert_eq!(copied(api), [cy]);
        assert!(stored_letters(&store).is_empty());
        for bytes in [first.stdout, first.stderr, second.stdout, second.stderr] {
            assert!(!holds(bytes.as_bytes(), TOKEN.1) && !holds(bytes.as_bytes(), PARTNER.1), "{bytes}");
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

fn stateless() -> String {
    dead_lettering()
        .replace(
            "  state since: DateTime = \"2026-01-01T00:00:00Z\" {\n    from = record.updated_at\n    key = record.id\n    lag = 5m\n  }\n",
            "",
        )
        .replace("(updated_since: DateTime) ->", "(updated_since: String) ->")
        .replace("list_changes(updated_since: state.since)", "list_changes(updated_since: \"2026-01-01T00:00:00Z\")")
}

/// `flowc replay FILE --from DIR/failed.ndjson EXTRA…`.
fn replay_from(api: &FakeApi, file: &str, dir: &Path, extra: &[&str]) -> common::Output {
    let dead = dir.join("failed.ndjson");
    let mut args = vec!["--from", dead.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    replay(api, file, &args, &[])
}

#[test]
fn replay_from_a_dead_letter_file_rewrites_it_keeping_only_the_failures_with_their_new_error() {
    let (dir, file) = scratch("from-file", &stateless());
    let dead = dir.join("failed.ndjson");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob", "Di"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(copied(api), ["Ada", "Cy"]);
        assert!(!dir.join("flowc-state.sqlite").exists(), "a flow without state uses no store");
        let before = std::fs::read_to_string(&dead).expect("the dead letter file");
        assert_eq!(before.lines().count(), 2, "{before}");

        // Without `--from`, the replay says where such a flow's dead letters are.
        let store = replay(api, &file, &[], &[]);
        assert_eq!(store.code, 1, "{}", store.stderr);
        assert!(store.stderr.contains("R0020"), "{}", store.stderr);
        assert!(
            store.stderr.contains("replay them with `--from") && store.stderr.contains("failed.ndjson"),
            "{}",
            store.stderr
        );

        // The dry run lists the lines, and sends and changes nothing.
        let dry = replay_from(api, &file, &dir, &["--dry-run"]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert!(dry.stdout.contains("line 1 · flow copy_changes · record #"), "{}", dry.stdout);
        assert!(
            dry.stdout.contains(r#"{"id":"b","name":"Bob","updated_at":"2026-03-01T10:01:00Z"}"#),
            "{}",
            dry.stdout
        );
        assert!(dry.stderr.contains("2 dead letters would be replayed"), "{}", dry.stderr);
        assert_eq!(std::fs::read_to_string(&dead).expect("file"), before);
        assert!(copied(api).is_empty());

        // Bob's receiver is fixed, Di's not: Bob leaves the file, Di stays with her new error.
        api.changes().refuse(&["Di"]);
        let first = replay_from(api, &file, &dir, &[]);
        assert_eq!(first.code, 1, "{}", first.stderr);
        assert!(
            first.stderr.contains("flow copy_changes: 2 dead letters replayed — 1 delivered, 0 filtered out (these left the file), 1 failed again (kept)"),
            "{}",
            first.stderr
        );
        assert_eq!(copied(api), ["Bob"]);
        let after = std::fs::read_to_string(&dead).expect("file");
        assert_eq!(after.lines().count(), 1, "{after}");
        let kept: serde_json::Value = serde_json::from_str(after.trim()).expect("a JSON line");
        assert_eq!(kept["record"]["name"], "Di");
        assert_eq!(kept["attempts"], 2);
        assert_eq!(kept["flow"], "copy_changes");
        assert!(kept["error"]["message"].as_str().is_some_and(|m| m.contains("answered 422")), "{kept}");
        assert!(!after.contains(TOKEN.1) && !first.stderr.contains(TOKEN.1), "the token is never written");
        // No temporary file is left beside it.
        let names: Vec<String> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");

        // Fixed: the last one is delivered, and the file is empty.
        api.changes().accept_all();
        let second = replay_from(api, &file, &dir, &[]);
        assert_eq!(second.code, 0, "{}", second.stderr);
        assert_eq!(copied(api), ["Di"]);
        assert_eq!(std::fs::read_to_string(&dead).expect("file"), "");
        let none = replay_from(api, &file, &dir, &[]);
        assert!(none.stderr.contains("no dead letters to replay"), "{}", none.stderr);
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn replay_from_a_file_leaves_what_it_cannot_send_and_masks_sensitive_fields() {
    let source = stateless().replace(
        "type Change {\n  id: String\n  name: String\n",
        "type Change {\n  id: String\n  sensitive name: String\n",
    );
    let (dir, file) = scratch("from-file-left", &source);
    let dead = dir.join("failed.ndjson");
    with_fake(Config::default(), |api| {
        let c = api.changes();
        c.put("b", HIDDEN, "2026-03-01T10:01:00Z");
        c.refuse(&[HIDDEN]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Beside the run's line: a line that is not a dead letter, one of a flow the file does
        // not have, and one of a stateless flow's record that replays.
        let mut text = std::fs::read_to_string(&dead).expect("file");
        let masked = text.lines().next().expect("a line").to_string();
        let other = masked.replace("\"flow\":\"copy_changes\"", "\"flow\":\"gone\"");
        text.push_str("{\"half\": a line\n");
        text.push_str(&other);
        text.push('\n');
        std::fs::write(&dead, &text).expect("write");
        c.accept_all();
        let replayed = replay_from(api, &file, &dir, &[]);
        assert_eq!(replayed.code, 1, "{}", replayed.stderr);
        assert!(replayed.stderr.contains("R0018") && replayed.stderr.contains("line 2"), "{}", replayed.stderr);
        assert!(replayed.stderr.contains("R0019") && replayed.stderr.contains("`gone`"), "{}", replayed.stderr);
        // The file keeps sensitive values masked, so that record cannot be sent: R0026.
        assert!(replayed.stderr.contains("R0026"), "{}", replayed.stderr);
        assert!(copied(api).is_empty(), "no mask was sent");
        let after = std::fs::read_to_string(&dead).expect("file");
        assert_eq!(after.lines().count(), 3, "{after}");
        assert!(after.contains("{\"half\": a line\n") && after.contains(&other), "{after}");
        let kept: serde_json::Value = serde_json::from_str(after.lines().next().expect("line")).expect("json");
        assert_eq!((kept["attempts"].as_u64(), kept["error"]["code"].as_str()), (Some(2), Some("R0026")));
        for t in [&after, &replayed.stderr, &replayed.stdout] {
            for form in forms(HIDDEN) {
                assert!(!t.contains(&form), "{form:?} in:\n{t}");
            }
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// R0019's other branch: `--from` names a file whose lines are of a flow that declares `state`
/// (its dead letters are replayed from the store), so they are not sent and the file is kept
/// byte for byte; the store's dead letter stays too.
#[test]
fn replay_from_leaves_the_lines_of_a_flow_that_declares_state_r0019() {
    let (dir, file) = scratch("from-file-stateful", &dead_lettering());
    let dead = dir.join("failed.ndjson");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(copied(api), ["Ada", "Cy", "Di"]);
        let before = std::fs::read(&dead).expect("the dead letter file");
        assert_eq!(String::from_utf8_lossy(&before).lines().count(), 1);
        api.changes().accept_all();
        let replayed = replay_from(api, &file, &dir, &[]);
        assert_eq!(replayed.code, 1, "{}", replayed.stderr);
        assert!(
            replayed.stderr.contains("R0019")
                && replayed.stderr.contains("1 dead letter of flow `copy_changes`")
                && replayed.stderr.contains("the flow declares `state`")
                && replayed.stderr.contains("flowc replay FILE --flow copy_changes"),
            "{}",
            replayed.stderr
        );
        assert!(copied(api).is_empty(), "nothing was sent from the file");
        assert_eq!(std::fs::read(&dead).expect("file"), before, "the file is left exactly as it was");
        assert_eq!(stored_letters(&dir.join("flowc-state.sqlite")).len(), 1, "the store keeps its dead letter");
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// `--from` naming a symbolic link: the file it points to is the one rewritten, and the link
/// stays a link (a rename over the link's own path would replace it with a copy and leave the
/// file it names holding every line, to be sent again).
#[test]
fn replay_from_a_symbolic_link_rewrites_the_file_it_points_to_and_keeps_the_link() {
    let (dir, file) = scratch("from-file-symlink", &stateless());
    let dead = dir.join("failed.ndjson");
    let link = dir.join("link.ndjson");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob", "Di"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(copied(api), ["Ada", "Cy"]);
        std::os::unix::fs::symlink("failed.ndjson", &link).expect("symlink");
        api.changes().refuse(&["Di"]);
        let replayed = replay(api, &file, &["--from", link.to_str().expect("utf-8")], &[]);
        assert_eq!(replayed.code, 1, "{}", replayed.stderr);
        assert_eq!(copied(api), ["Bob"]);
        assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink(), "still a link");
        let after = std::fs::read_to_string(&dead).expect("file");
        assert_eq!(after.lines().count(), 1, "{after}");
        assert!(after.contains("\"Di\"") && !after.contains("\"Bob\""), "{after}");
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits until the fake holds one write at its gate (the process is parked there).
fn parked_at_gate(process: &mut Child, api: &FakeApi) {
    process.wait_until("parked at the gate", || api.changes().at_gate() == 1);
}

/// A run whose lease is taken over while a record it will dead-letter is in flight: the
/// store refuses the dead letter (its write checks the lease in the same transaction), so the
/// flow stops with R0007 naming the flow, the record and the new holder; the record is not
/// lost — it is in the dead letter file — and the store holds no row of it.
#[test]
fn a_run_whose_lease_was_taken_over_stores_no_dead_letter_and_stops_naming_the_record() {
    let source = dead_lettering().replace(
        "  on_error = dead_letter(\"failed.ndjson\")\n",
        "  on_error = dead_letter(\"failed.ndjson\")\n  concurrency = 1\n",
    );
    let (dir, file) = scratch("lease-lost", &source);
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().gate(&["Ada"]);
        api.changes().refuse(&["Ada"]);
        let base = base(api);
        let mut running = Child::start(&["run", &file, "--base-url", &base], &[TOKEN]);
        parked_at_gate(&mut running, api);
        // Another holder takes the lease over, as once it has expired (the store is told a
        // time past its expiry, so nothing here waits for a clock).
        let mut other = flow_state::SqliteStore::open(&store, None).expect("open the store").store;
        let later = chrono::Utc::now() + chrono::Duration::hours(1);
        other
            .acquire_lease("copy_changes", "the test's takeover", std::time::Duration::from_secs(3600), later)
            .expect("take the lease over");
        api.changes().open_gate();
        let (code, stderr) = running.end();
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("error[R0007]"), "{stderr}");
        assert!(
            stderr
                .contains("record #1 of `list_changes` (id a) could not be written to the state store's dead letters"),
            "the error names the record: {stderr}"
        );
        assert!(
            stderr.contains("the lease of flow `copy_changes`") && stderr.contains("taken over by the test's takeover"),
            "{stderr}"
        );
        assert!(stderr.contains("it is in the dead letter file"), "{stderr}");
        assert!(stderr.contains("another run or replay took this flow over"), "{stderr}");
        assert!(!stderr.contains("make the state store writable"), "{stderr}");
        let lines = std::fs::read_to_string(dir.join("failed.ndjson")).expect("the dead letter file");
        assert_eq!(lines.lines().count(), 1, "{lines}");
        assert!(lines.contains(r#""name":"Ada""#), "{lines}");
        assert!(stored_letters(&store).is_empty(), "no row of the fenced-off run");
        assert!(copied(api).is_empty());
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Two dead letters in the store (Bob's and Di's), the receiver fixed; the replay's first
/// request (Bob's) is held at the fake's gate.
fn replay_parked_at_bob(api: &FakeApi, file: &str, store: &Path) -> Child {
    replay_parked_at(api, file, store, "Bob")
}

/// [`replay_parked_at_bob`] with the request of `who` held at the gate.
fn replay_parked_at(api: &FakeApi, file: &str, store: &Path, who: &str) -> Child {
    four(api);
    api.changes().refuse(&["Bob", "Di"]);
    let out = run(api, file, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(copied(api), ["Ada", "Cy"]);
    assert_eq!(stored_letters(store).len(), 2);
    replay_held_at(api, file, &[], who)
}

/// `flowc replay FILE EXTRA…` started with every record accepted and the request of `who` held
/// at the fake's gate, returned once that request is parked there.
fn replay_held_at(api: &FakeApi, file: &str, extra: &[&str], who: &str) -> Child {
    api.changes().accept_all();
    api.changes().gate(&[who]);
    let base = base(api);
    let mut args = vec!["replay", file];
    args.extend_from_slice(extra);
    args.extend(["--base-url", &base]);
    let mut replaying = Child::start(&args, &[TOKEN]);
    parked_at_gate(&mut replaying, api);
    replaying
}

/// SIGINT to a replay parked at the gate: once it says it is stopping, the gate opens and the
/// replay ends; its exit code and stderr.
fn interrupted(mut replaying: Child, api: &FakeApi) -> (i32, String) {
    replaying.signal("INT");
    replaying.said("SIGINT: stopping: no new dead letters are sent");
    api.changes().open_gate();
    replaying.end()
}

/// SIGINT while a replayed record's request is in flight (held by the fake): the replay sends
/// no new dead letter, the one in flight finishes and its outcome is committed (Bob is
/// delivered and leaves the store), the summary says what was replayed and what was left
/// untouched (Di, as it was), the replay is recorded `stopped`, and flowc exits 130.
#[test]
fn sigint_during_replay_finishes_the_record_in_flight_keeps_its_outcome_and_leaves_the_rest() {
    let (dir, file) = scratch("replay-sigint", &dead_lettering());
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        // Nothing new is sent once the replay says it is stopping.
        let (code, stderr) = interrupted(replay_parked_at_bob(api, &file, &store), api);
        assert_eq!(code, 130, "{stderr}");
        assert!(
            stderr.contains(
                "flow copy_changes: stopped — 1 dead letter replayed — 1 delivered, 0 filtered out (these left the store), 0 failed again (kept), 1 left untouched (the replay was stopped) · 1 request"
            ),
            "{stderr}"
        );
        assert_eq!(copied(api), ["Bob"], "Di was not sent");
        let left = stored_letters(&store);
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].record_index, left[0].attempts), (4, 1), "Di untouched");
        let runs = flowc(&["runs", &file, "--format", "json"], &[]);
        let list: serde_json::Value = serde_json::from_str(&runs.stdout).expect("json");
        let newest = &list[0];
        assert_eq!((&newest["kind"], &newest["status"]), (&serde_json::json!("replay"), &serde_json::json!("stopped")));
        assert_eq!((newest["read"].as_u64(), newest["delivered"].as_u64()), (Some(1), Some(1)), "{newest}");
        // The next replay sends only what is left.
        let next = replay(api, &file, &[], &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains("1 dead letter replayed — 1 delivered"), "{}", next.stderr);
        assert_eq!(copied(api), ["Di"]);
        assert!(stored_letters(&store).is_empty());
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// SIGINT while the very last dead letter's request is in flight (Di's, held by the fake):
/// that record finishes and leaves the store, nothing is left untouched, so the replay is not
/// stopped: it is recorded `succeeded`, its summary says no "stopped", and flowc exits 0.
#[test]
fn sigint_during_the_last_record_stops_nothing_and_the_exit_code_says_so() {
    let (dir, file) = scratch("replay-sigint-last", &dead_lettering());
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        let (code, stderr) = interrupted(replay_parked_at(api, &file, &store, "Di"), api);
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("flow copy_changes: 2 dead letters replayed — 2 delivered"), "{stderr}");
        assert!(!stderr.contains("stopped —"), "{stderr}");
        assert_eq!(copied(api), ["Bob", "Di"]);
        assert!(stored_letters(&store).is_empty());
        let runs = flowc(&["runs", &file, "--format", "json"], &[]);
        let list: serde_json::Value = serde_json::from_str(&runs.stdout).expect("json");
        assert_eq!(
            (&list[0]["kind"], &list[0]["status"]),
            (&serde_json::json!("replay"), &serde_json::json!("succeeded"))
        );
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// A second signal aborts the replay at once (143 for SIGTERM), with no summary: the record in
/// flight has no outcome committed, so both dead letters are still in the store as they were,
/// and the next replay sends them (Bob's as a replay of its idempotency key if the fake applied
/// the held write), leaving none.
#[test]
fn a_second_signal_aborts_the_replay_at_once_and_the_store_keeps_every_dead_letter() {
    let (dir, file) = scratch("replay-abort", &dead_lettering());
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        let mut replaying = replay_parked_at_bob(api, &file, &store);
        replaying.signal("TERM");
        replaying.said("SIGTERM: stopping");
        replaying.signal("TERM");
        let (code, stderr) = replaying.end();
        assert_eq!(code, 143, "{stderr}");
        assert!(stderr.contains("SIGTERM again: aborting at once"), "{stderr}");
        assert!(!stderr.contains("dead letter replayed"), "no summary: {stderr}");
        let left = stored_letters(&store);
        assert_eq!(left.iter().map(|l| (l.record_index, l.attempts)).collect::<Vec<_>>(), [(2, 1), (4, 1)]);
        api.changes().open_gate();
        let next = replay(api, &file, &[], &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains("2 dead letters replayed — 2 delivered"), "{}", next.stderr);
        assert!(stored_letters(&store).is_empty());
        // The aborted replay's lease was taken over at once (its process is gone), said as a
        // run says it, and its run marked interrupted.
        assert!(
            next.stderr.contains("flow copy_changes: the lease of flowc replay (process ")
                && next.stderr.contains("(the replay was killed); taken over, its runs marked interrupted."),
            "{}",
            next.stderr
        );
        let runs = flowc(&["runs", &file, "--format", "json"], &[]);
        let list: serde_json::Value = serde_json::from_str(&runs.stdout).expect("json");
        assert_eq!(
            (&list[1]["kind"], &list[1]["status"]),
            (&serde_json::json!("replay"), &serde_json::json!("interrupted"))
        );
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// The store's key named in the file (`store_key = STATE_KEY` in the flow's state): a run
/// encrypts the store without `--state-key`, every command opens it with the file's secret,
/// `--state-key` naming the same secret is accepted and naming another is bad usage (exit 2),
/// and without the secret's value nothing is opened.
#[test]
fn a_store_key_named_in_the_file_encrypts_the_store_and_every_command_uses_it() {
    let source = format!("secret {}\n", KEY.0)
        + &dead_lettering().replace("    lag = 5m\n", &format!("    lag = 5m\n    store_key = {}\n", KEY.0));
    let (dir, file) = scratch("store-key", &source);
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        let c = api.changes();
        c.put("a", "Zenobia Quartermaine", "2026-03-01T10:00:00Z");
        c.put("b", "Bartholomew Fairweather", "2026-03-01T10:01:00Z");
        c.refuse(&["Bartholomew Fairweather"]);
        let out = run(api, &file, &[], &[KEY]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains(KEY.1));
        assert_eq!(copied(api), ["Zenobia Quartermaine"]);
        let err = flow_state::SqliteStore::open(&store, None).map(|_| ()).unwrap_err();
        assert!(matches!(err, flow_state::StateError::KeyRequired { .. }), "encrypted: {err}");
        assert!(!holds(&store_bytes(&dir), "Bartholomew Fairweather"));
        // Every command opens it with the file's secret.
        let shown = flowc(&["state", "show", &file], &[KEY]);
        assert_eq!(shown.code, 0, "{}", shown.stderr);
        assert!(shown.stdout.contains("cursor 2026-03-01T10:01:00Z"), "{}", shown.stdout);
        let runs = flowc(&["runs", &file], &[KEY]);
        assert_eq!(runs.code, 0, "{}", runs.stderr);
        let dry = replay(api, &file, &["--dry-run"], &[KEY]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert!(dry.stdout.contains("Bartholomew Fairweather"), "{}", dry.stdout);
        // The same secret on the command line too: accepted; another: bad usage, nothing opened.
        let same = flowc(&["runs", &file, "--state-key", KEY.0], &[KEY]);
        assert_eq!(same.code, 0, "{}", same.stderr);
        let before = std::fs::read(&store).expect("read");
        let other = flowc(&["state", "show", &file, "--state-key", "OTHER_KEY"], &[KEY]);
        assert_eq!(other.code, 2, "{}", other.stderr);
        assert!(
            other.stderr.contains("--state-key OTHER_KEY names another secret") && other.stderr.contains("`store_key"),
            "{}",
            other.stderr
        );
        let other_run = run(api, &file, &["--state-key", "OTHER_KEY"], &[KEY]);
        assert_eq!(other_run.code, 2, "{}", other_run.stderr);
        // Without the secret's value: R0006, nothing read, sent or changed.
        let unset = run(api, &file, &[], &[]);
        assert_eq!(unset.code, 1, "{}", unset.stderr);
        assert!(unset.stderr.contains("error[R0006]"), "{}", unset.stderr);
        assert!(api.changes().pages().is_empty() && copied(api).is_empty(), "nothing was read or sent");
        assert_eq!(std::fs::read(&store).expect("read"), before, "the store is as it was");
        c.accept_all();
        let replayed = replay(api, &file, &[], &[KEY]);
        assert_eq!(replayed.code, 0, "{}", replayed.stderr);
        assert_eq!(copied(api), ["Bartholomew Fairweather"]);
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// SIGINT while a replay from a dead letter file has a record in flight: the record finishes
/// and leaves the file, the line not yet sent stays in it byte for byte, the summary counts it
/// as untouched, and flowc exits 130.
#[test]
fn sigint_during_a_replay_from_a_file_keeps_the_line_not_sent_as_it_was() {
    let (dir, file) = scratch("from-file-sigint", &stateless());
    let dead = dir.join("failed.ndjson");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob", "Di"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(copied(api), ["Ada", "Cy"]);
        let before = std::fs::read_to_string(&dead).expect("the dead letter file");
        let lines: Vec<&str> = before.lines().collect();
        assert_eq!(lines.len(), 2, "{before}");
        // The file is replayed in the order of its lines: the first is held at the gate.
        let name = |line: &str| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            v["record"]["name"].as_str().expect("a name").to_string()
        };
        let (first, second) = (name(lines[0]), name(lines[1]));
        let from = dead.to_str().expect("utf-8");
        let replaying = replay_held_at(api, &file, &["--from", from], &first);
        let (code, stderr) = interrupted(replaying, api);
        assert_eq!(code, 130, "{stderr}");
        assert!(
            stderr.contains("flow copy_changes: stopped — 1 dead letter replayed — 1 delivered")
                && stderr.contains("1 left untouched (the replay was stopped)"),
            "{stderr}"
        );
        assert_eq!(copied(api), [first], "{second} was not sent");
        let after = std::fs::read_to_string(&dead).expect("file");
        assert_eq!(after, format!("{}\n", lines[1]), "the line not sent is kept as it was");
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Two flows with state in one file, each with its own dead letters: SIGINT while the first
/// flow's first record is in flight finishes that record, and each flow's summary counts what
/// it left untouched — the rest of the first flow's, and every one of the second's, which
/// stay in the store as they were.
#[test]
fn sigint_during_a_replay_of_two_flows_counts_what_each_left_untouched() {
    let one = dead_lettering();
    let at = one.find("flow copy_changes {").expect("the flow");
    let again = one[at..]
        .replace("flow copy_changes {", "flow copy_again {")
        .replace("dead_letter(\"failed.ndjson\")", "dead_letter(\"failed_again.ndjson\")");
    let (dir, file) = scratch("replay-sigint-two-flows", &format!("{one}\n{again}"));
    let store = dir.join("flowc-state.sqlite");
    with_fake(Config::default(), |api| {
        four(api);
        api.changes().refuse(&["Bob", "Di"]);
        let out = run(api, &file, &[], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let by_flow = |flow: &str| {
            stored_letters(&store).iter().filter(|l| l.flow == flow).map(|l| l.record_index).collect::<Vec<_>>()
        };
        assert_eq!((by_flow("copy_changes"), by_flow("copy_again")), (vec![2, 4], vec![2, 4]));
        let (code, stderr) = interrupted(replay_held_at(api, &file, &[], "Bob"), api);
        assert_eq!(code, 130, "{stderr}");
        // The flows are replayed in the file's order: the first stops after its record in
        // flight, the second never starts.
        assert!(
            stderr.contains(
                "flow copy_changes: stopped — 1 dead letter replayed — 1 delivered, 0 filtered out (these left the store), 0 failed again (kept), 1 left untouched (the replay was stopped)"
            ),
            "{stderr}"
        );
        assert!(
            stderr.contains(
                "flow copy_again: stopped before its turn — 2 dead letters left untouched (kept as they were)"
            ),
            "{stderr}"
        );
        assert_eq!((by_flow("copy_changes"), by_flow("copy_again")), (vec![4], vec![2, 4]));
        let left = stored_letters(&store);
        assert!(left.iter().all(|l| l.attempts == 1), "untouched letters keep their attempts");
    });
    let _ = std::fs::remove_dir_all(dir);
}
