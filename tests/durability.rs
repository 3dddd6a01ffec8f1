//! Durable state from the outside: the fake API's ledger of applied and replayed writes, the
//! `flowc state` and `flowc runs` commands against a store on disk, and the crash test (runs
//! killed with SIGKILL and resumed). The incremental runs themselves are in tests/state.rs.

mod common;

use common::{flowc, with_fake, DEMO_SECRETS};
use flow_fakeapi::{Config, FakeApi};

fn shop_crm(api: &FakeApi) -> Vec<String> {
    vec!["--base-url".into(), format!("shop={}/shop", api.url()), "--base-url".into(), format!("crm={}/crm", api.url())]
}

fn run(file: &str, api: &FakeApi, extra: &[&str]) -> common::Output {
    let mut args: Vec<String> = vec!["run".into(), file.into()];
    args.extend(shop_crm(api));
    args.extend(extra.iter().map(|s| s.to_string()));
    flowc(&args, &DEMO_SECRETS)
}

#[test]
fn the_fake_counts_a_keyed_write_sent_again_as_a_replay_and_an_unkeyed_one_as_a_duplicate_effect() {
    with_fake(Config { orders: 120, ..Config::default() }, |api| {
        for _ in 0..2 {
            let out = run("tests/data/state/contacts_keyed.flow", api, &[]);
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        let r = api.receipts("contacts");
        assert_eq!((r.applied, r.replayed, r.duplicates, r.distinct, r.keyed), (120, 120, 0, 120, 120), "{r:?}");
        assert!(r.no_duplicate_effects());
        assert_eq!(api.replays_of("contacts", "order-7"), 1);
        assert!(api.duplicated("contacts").is_empty());
    });
    with_fake(Config { orders: 120, ..Config::default() }, |api| {
        for _ in 0..2 {
            let out = run("tests/data/state/contacts_unkeyed.flow", api, &[]);
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        let r = api.receipts("contacts");
        assert_eq!((r.applied, r.replayed, r.duplicates, r.distinct, r.keyed), (240, 0, 120, 120, 0), "{r:?}");
        let dup = api.duplicated("contacts");
        assert_eq!(dup.len(), 120);
        assert!(dup.iter().all(|a| a.times == 2 && a.keys.is_empty()));
    });
}

/// A fresh folder for a test's state store.
fn scratch(test: &str) -> std::path::PathBuf {
    common::scratch_dir("durability", test)
}

const KEYED: &str = "tests/data/state/contacts_keyed.flow";

fn at(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).expect("time")
}

/// A store where flow `sync` ran twice (the second run stopped mid-pull with a position) and
/// flow `gone`, which the file no longer has, kept a cursor.
fn stored_runs(path: &std::path::Path) {
    use flow_state::*;
    let mut store = SqliteStore::open(path, None).expect("open").store;
    let lease = store.acquire_lease("sync", "test", std::time::Duration::from_secs(60), at(1_000)).expect("lease");
    let first = store.start_run(&lease, at(1_000)).expect("run");
    let counts = RunCounts {
        read: 120,
        delivered: 110,
        filtered: 8,
        failed: 2,
        dead_lettered: 2,
        pages: 2,
        requests: 123,
        retries: 1,
        ..RunCounts::default()
    };
    let cursor = Cursor::Int(120);
    let cp = Checkpoint { run: first, cursor: Some(cursor), boundary: vec!["120".into()], position: None, counts };
    store.checkpoint(&lease, &cp, at(1_010)).expect("checkpoint");
    store
        .finish_run(&lease, first, &RunEnd { status: RunStatus::Succeeded, counts, error: None }, at(1_011))
        .expect("finish");
    let second = store.start_run(&lease, at(2_000)).expect("run");
    let position = PullPosition { next: PageAt::Page { number: 3 }, pages_done: 2, records_done: 200, seen_max: None };
    let counts = RunCounts { read: 200, delivered: 199, failed: 1, pages: 2, requests: 3, ..RunCounts::default() };
    let cp = Checkpoint {
        run: second,
        cursor: Some(Cursor::Int(130)),
        boundary: vec!["129".into(), "130".into()],
        position: Some(position),
        counts,
    };
    store.checkpoint(&lease, &cp, at(2_005)).expect("checkpoint");
    let end =
        RunEnd { status: RunStatus::Failed, counts, error: Some("`create_contact`: answered 500\nsecond line".into()) };
    store.finish_run(&lease, second, &end, at(2_006)).expect("finish");
    store.release_lease(&lease).expect("release");
    let lease = store.acquire_lease("gone", "test", std::time::Duration::from_secs(60), at(3_000)).expect("lease");
    store.set_cursor(&lease, &Cursor::String("b".into()), at(3_000)).expect("set");
    store.release_lease(&lease).expect("release");
}

fn state_args(cmd: &[&str], store: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    args.push("--state".into());
    args.push(store.display().to_string());
    args
}

#[test]
fn state_show_prints_each_flows_cursor_boundary_position_and_last_update() {
    let dir = scratch("show");
    let store = dir.join("state.db");
    let out = flowc(&state_args(&["state", "show", KEYED], &store), &[]);
    assert_eq!(out.code, 1, "a missing store says so: {}", out.stderr);
    assert!(out.stderr.contains("error[R0020]: there is no state store at"), "{}", out.stderr);
    assert!(!store.exists(), "showing creates nothing");
    stored_runs(&store);
    let out = flowc(&state_args(&["state", "show", KEYED], &store), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "flow sync: cursor 130 (Int) · 2 boundary keys · mid-pull: resumes at page 3 after 2 pages and 200 records · 2 checkpoints · updated 1970-01-01T00:33:25Z by run 2\n\
         flow gone (not a flow of tests/data/state/contacts_keyed.flow): cursor b (String) · 0 boundary keys · between pulls · 0 checkpoints · updated 1970-01-01T00:50:00Z by `flowc state set`\n"
    );
    let out = flowc(&state_args(&["state", "show", KEYED, "--flow", "sync"], &store), &[]);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let out = flowc(&state_args(&["state", "show", KEYED, "--flow", "nope"], &store), &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--flow nope: the file has no flow of that name (it has: sync)"), "{}", out.stderr);
}

#[test]
fn runs_lists_the_history_newest_first_as_a_table_and_as_json() {
    let dir = scratch("runs");
    let store = dir.join("state.db");
    let out = flowc(&state_args(&["runs", KEYED], &store), &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("error[R0020]"), "{}", out.stderr);
    stored_runs(&store);
    let out = flowc(&state_args(&["runs", KEYED], &store), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "id",
            "flow",
            "started",
            "ended",
            "status",
            "read",
            "delivered",
            "filtered",
            "failed",
            "pages",
            "requests",
            "retries",
            "resent",
            "error"
        ]
    );
    let newest: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        newest[..12],
        ["2", "sync", "1970-01-01T00:33:20Z", "1970-01-01T00:33:26Z", "failed", "200", "199", "0", "1", "2", "3", "0"]
    );
    assert!(lines[1].ends_with("`create_contact`: answered 500 second line"), "the error on one line: {}", lines[1]);
    assert_eq!(
        lines[2].split_whitespace().take(5).collect::<Vec<_>>(),
        ["1", "sync", "1970-01-01T00:16:40Z", "1970-01-01T00:16:51Z", "succeeded"]
    );
    assert!(lines[2].ends_with(" -"), "no error: {}", lines[2]);
    let out = flowc(&state_args(&["runs", KEYED, "--format", "json"], &store), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(runs[0]["id"], 2);
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[1]["status"], "succeeded");
    assert_eq!(runs[1]["error"], serde_json::Value::Null);
    assert_eq!(
        [
            &runs[1]["read"],
            &runs[1]["delivered"],
            &runs[1]["filtered"],
            &runs[1]["failed"],
            &runs[1]["pages"],
            &runs[1]["requests"],
            &runs[1]["retries"]
        ],
        [120, 110, 8, 2, 2, 123, 1]
    );
    assert_eq!(runs[1]["ended"], "1970-01-01T00:16:51Z");
    let out = flowc(&state_args(&["runs", KEYED, "--flow", "sync", "--limit", "1", "--format", "json"], &store), &[]);
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
}

#[test]
fn state_reset_forgets_one_flow_and_is_refused_while_a_run_holds_it() {
    let dir = scratch("reset");
    let store = dir.join("state.db");
    stored_runs(&store);
    // A run holds the flow: the reset is refused and changes nothing.
    let lease = {
        let mut s = flow_state::SqliteStore::open(&store, None).expect("open").store;
        use flow_state::StateStore;
        s.acquire_lease("sync", "flowc run (pid 1)", std::time::Duration::from_secs(3600), chrono::Utc::now())
            .expect("lease")
    };
    let out = flowc(&state_args(&["state", "reset", INCREMENTAL, "--flow", "sync"], &store), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error[R0015]: flow `sync` is locked"), "{}", out.stderr);
    assert!(out.stderr.contains("flowc run (pid 1)"), "names the holder: {}", out.stderr);
    let shown = flowc(&state_args(&["state", "show", INCREMENTAL, "--flow", "sync"], &store), &[]);
    assert!(shown.stdout.contains("cursor 130"), "{}", shown.stdout);
    {
        let mut s = flow_state::SqliteStore::open(&store, None).expect("open").store;
        use flow_state::StateStore;
        s.release_lease(&lease).expect("release");
    }
    let out = flowc(&state_args(&["state", "reset", INCREMENTAL, "--flow", "sync"], &store), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("flow sync: state forgotten"), "{}", out.stderr);
    let shown = flowc(&state_args(&["state", "show", INCREMENTAL], &store), &[]);
    assert!(shown.stdout.starts_with("flow sync: no state yet"), "{}", shown.stdout);
    assert!(shown.stdout.contains("flow gone"), "the other flow's state stays: {}", shown.stdout);
    let runs = flowc(&state_args(&["runs", INCREMENTAL, "--format", "json"], &store), &[]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&runs.stdout).expect("json").as_array().map(Vec::len),
        Some(2)
    );
    let again = flowc(&state_args(&["state", "reset", INCREMENTAL, "--flow", "sync"], &store), &[]);
    assert!(again.stderr.contains("flow sync: had no state; nothing changed"), "{}", again.stderr);
    let out = flowc(&["state", "reset", INCREMENTAL], &[]);
    assert_eq!(out.code, 2, "never all flows implicitly: {}", out.stderr);
}

#[test]
fn a_damaged_or_newer_store_is_a_clear_error_and_is_left_as_it_was() {
    let dir = scratch("damaged");
    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, b"this is not a database at all, but it is long enough to look like one".repeat(100))
        .expect("write");
    let before = std::fs::read(&garbage).expect("read");
    for cmd in [&["state", "show", KEYED][..], &["runs", KEYED], &["state", "reset", KEYED, "--flow", "sync"]] {
        let out = flowc(&state_args(cmd, &garbage), &[]);
        assert_eq!(out.code, 1, "{cmd:?}: {}", out.stderr);
        assert!(out.stderr.contains("error[R0014]"), "{cmd:?}: {}", out.stderr);
    }
    assert_eq!(std::fs::read(&garbage).expect("read"), before, "left as it was");
    let newer = dir.join("newer.db");
    stored_runs(&newer);
    // The schema version a later flowc would write: SQLite's `user_version`, bytes 60..64 of the header.
    let mut bytes = std::fs::read(&newer).expect("read");
    assert!(!dir.join("newer.db-wal").exists(), "the store was closed cleanly");
    bytes[60..64].copy_from_slice(&(flow_state::SCHEMA_VERSION as u32 + 1).to_be_bytes());
    std::fs::write(&newer, &bytes).expect("write");
    let out = flowc(&state_args(&["state", "show", KEYED], &newer), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("error[R0014]") && out.stderr.contains("newer than this flowc reads"),
        "{}",
        out.stderr
    );
    // A run of flows with `state` refuses it too, before anything is sent (both apis point at
    // a closed local port, so nothing could leave this machine), and leaves it as it was.
    let mut run = state_args(&["run", INCREMENTAL], &newer);
    for api in ["shop", "crm"] {
        run.extend(["--base-url".to_string(), format!("{api}=http://127.0.0.1:9")]);
    }
    let out = flowc(&run, &[("SHOP_TOKEN", "shop-token-0123456789"), ("CRM_API_KEY", "crm-key-0123456789")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("error[R0014]") && out.stderr.contains("newer than this flowc reads"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("R0002"), "nothing was sent: {}", out.stderr);
    assert_eq!(std::fs::read(&newer).expect("read"), bytes, "left as it was");
}

const INCREMENTAL: &str = "tests/data/state/incremental.flow";

#[test]
fn state_set_reads_the_value_as_the_flows_declared_cursor_type_and_takes_the_lease() {
    let dir = scratch("set");
    let store = dir.join("state.db");
    let out = flowc(&state_args(&["state", "set", INCREMENTAL, "--flow", "sync", "41"], &store), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("created the state store"), "{}", out.stderr);
    assert!(out.stderr.contains("flow sync: cursor set to 41 (Int)"), "{}", out.stderr);
    let out = flowc(
        &state_args(&["state", "set", INCREMENTAL, "--flow", "stamped", "2026-03-01T10:00:00+02:00"], &store),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = flowc(&state_args(&["state", "show", INCREMENTAL], &store), &[]);
    let lines: Vec<&str> = shown.stdout.lines().collect();
    assert!(lines[0].starts_with("flow sync: cursor 41 (Int) · 0 boundary keys · between pulls"), "{}", shown.stdout);
    assert!(
        lines[1].starts_with("flow stamped: cursor 2026-03-01T10:00:00+02:00 (DateTime)"),
        "keeps its offset: {}",
        shown.stdout
    );
    // A value of another type, a negative Int, a flow without state.
    let out = flowc(&state_args(&["state", "set", INCREMENTAL, "--flow", "sync", "yesterday"], &store), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("error[R0022]: `yesterday` is not a Int, the type of flow `sync`'s cursor `state.after`"),
        "{}",
        out.stderr
    );
    let out = flowc(&state_args(&["state", "set", INCREMENTAL, "--flow", "stamped", "2026-03-01"], &store), &[]);
    assert!(out.stderr.contains("error[R0022]") && out.stderr.contains("RFC 3339"), "{}", out.stderr);
    let out = flowc(&state_args(&["state", "set", INCREMENTAL, "--flow", "sync", "-5"], &store), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = flowc(&state_args(&["state", "set", KEYED, "--flow", "sync", "5"], &store), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error[R0022]: flow `sync` declares no state"), "{}", out.stderr);
    // Under a run's lease: refused, nothing changed.
    let lease = {
        use flow_state::StateStore;
        let mut s = flow_state::SqliteStore::open(&store, None).expect("open").store;
        s.acquire_lease("sync", "flowc run (pid 1)", std::time::Duration::from_secs(3600), chrono::Utc::now())
            .expect("lease")
    };
    let out = flowc(&state_args(&["state", "set", INCREMENTAL, "--flow", "sync", "99"], &store), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error[R0015]"), "{}", out.stderr);
    let shown = flowc(&state_args(&["state", "show", INCREMENTAL, "--flow", "sync"], &store), &[]);
    assert!(shown.stdout.starts_with("flow sync: cursor -5 (Int)"), "{}", shown.stdout);
    drop(lease);
}

#[test]
fn an_encrypted_store_opens_only_with_the_key_derived_from_its_secret() {
    let dir = scratch("key");
    let store = dir.join("state.db");
    let secret = "k9Qw-2b7Lx_Zp0Vt8sR3mN6yH1cJ4fG5";
    let keyed = |cmd: &[&str]| {
        let mut args = state_args(cmd, &store);
        args.extend(["--state-key".to_string(), "STATE_KEY".to_string()]);
        args
    };
    let when = "2026-03-01T10:00:00+02:00";
    let out = flowc(&keyed(&["state", "set", INCREMENTAL, "--flow", "stamped", when]), &[("STATE_KEY", secret)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = std::fs::read(&store).expect("read");
    let wal = std::fs::read(dir.join("state.db-wal")).unwrap_or_default();
    for b in [&bytes, &wal] {
        assert!(!b.windows(when.len()).any(|w| w == when.as_bytes()), "the cursor is not stored in clear");
        assert!(!b.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is never stored");
    }
    let out = flowc(&keyed(&["state", "show", INCREMENTAL, "--flow", "stamped"]), &[("STATE_KEY", secret)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&format!("cursor {when} (DateTime)")), "{}", out.stdout);
    // Without the key, with another key, without a value, with a value too short to derive from.
    let out = flowc(&state_args(&["state", "show", INCREMENTAL], &store), &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error[R0014]") && out.stderr.contains("is encrypted and no key was given"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--state-key SECRET_NAME"), "{}", out.stderr);
    let out = flowc(&keyed(&["state", "show", INCREMENTAL]), &[("STATE_KEY", "another-secret-of-enough-bytes")]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error[R0014]") && out.stderr.contains("does not open the state store"),
        "{}",
        out.stderr
    );
    let out = flowc(&keyed(&["runs", INCREMENTAL]), &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error[R0006]: secret `STATE_KEY`, the state store's key, has no value"),
        "{}",
        out.stderr
    );
    let out = flowc(&keyed(&["state", "show", INCREMENTAL]), &[("STATE_KEY", "short")]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("error[R0014]") && out.stderr.contains("at least 16"), "{}", out.stderr);
    assert!(!out.stderr.contains("short"), "the secret is not shown: {}", out.stderr);
    // A key for a store that is not encrypted is refused: nothing is written in clear by mistake.
    let plain = dir.join("plain.db");
    let out = flowc(&state_args(&["state", "set", INCREMENTAL, "--flow", "sync", "3"], &plain), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut args = state_args(&["state", "show", INCREMENTAL], &plain);
    args.extend(["--state-key".to_string(), "STATE_KEY".to_string()]);
    let out = flowc(&args, &[("STATE_KEY", secret)]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is not encrypted, but a key was given"), "{}", out.stderr);
    assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret));
}

/// Takes over the lease a killed run left, as a run after its expiry would: the store is told
/// "now" is past the lease's expiry (its test clock), so the test does not wait 30 seconds.
fn expire_lease(store: &std::path::Path, flow: &str) {
    use flow_state::StateStore;
    let mut s = flow_state::SqliteStore::open(store, None).expect("open").store;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let lease = s.acquire_lease(flow, "the crash test", std::time::Duration::from_secs(1), later).expect("take over");
    s.release_lease(&lease).expect("release");
}

/// A 100,000-record incremental sync (ids as the cursor, a sorted source, idempotency keys)
/// killed with SIGKILL at 20 seeded moments and resumed each time. The moments are counts of
/// writes applied at the fake (a structural signal, not a time): wherever the run is then
/// (pulling a page, writing, committing a checkpoint), it is killed. At the end every record
/// was applied exactly once (the re-sent ones were replays of their keys), and the stored
/// cursor is the greatest id.
#[test]
fn a_hundred_thousand_record_sync_killed_twenty_times_delivers_every_record_with_no_duplicate_effect() {
    let (r, _, _) = killed_and_resumed(INCREMENTAL, "crash");
    assert_eq!((r.applied, r.duplicates), (N, 0), "zero duplicate effects: {r:?}");
    // What was re-sent after each kill is at most what was past the last checkpoint: a
    // checkpoint's worth (200), a page (100) and, twice, how far a record may start past the
    // watermark (4 × 16: one window past the watermark, one the watermark may have moved in a
    // checkpoint that the kill cut short).
    assert!(r.replayed <= KILLS as u64 * RESENT_AT_MOST, "{r:?}");
}

/// The same without idempotency keys: at-least-once. Each crash makes the next run send again
/// at most what was past the last checkpoint.
#[test]
fn the_same_sync_without_keys_sends_again_per_crash_at_most_what_was_past_its_checkpoint() {
    let file = "tests/data/state/incremental_unkeyed.flow";
    let (r, resent, runs) = killed_and_resumed(file, "crash-unkeyed");
    assert_eq!(r.replayed, 0);
    assert_eq!(r.applied, N + r.duplicates, "{r:?}");
    assert_eq!(resent.iter().sum::<u64>(), r.duplicates);
    assert!(resent.iter().all(|n| *n <= RESENT_AT_MOST), "{resent:?}");
    // Each resumed run said how many records may have been sent twice (what the killed run had
    // started past its last checkpoint, from its mark beside the store): never fewer than the
    // duplicates the fake counted, and at most what was in flight — past the checkpoint, and
    // more than was applied by at most the requests under way at the kill (concurrency 16) and
    // the mark's reservation (16) per crash.
    let said: Vec<u64> = runs
        .as_array()
        .expect("runs")
        .iter()
        .rev()
        .skip(1)
        .map(|r| r["resent"]["at_most"].as_u64().unwrap_or_else(|| panic!("a resumed run says a number: {r}")))
        .collect();
    assert_eq!(said.len(), KILLS, "{runs}");
    let total: u64 = said.iter().sum();
    assert!(total >= r.duplicates, "said {said:?}, duplicates {resent:?}");
    assert!(total <= r.duplicates + KILLS as u64 * (16 + 16), "said {said:?}, duplicates {resent:?}");
    assert!(said.iter().all(|n| *n <= RESENT_AT_MOST), "{said:?}");
}

const N: u64 = 100_000;
const KILLS: usize = 20;
/// Past a checkpoint, at most: a checkpoint's worth (200), a page (100), and twice the window a
/// record may start in past the watermark (4 × concurrency 16; docs/state.md).
const RESENT_AT_MOST: u64 = 200 + 100 + 2 * 64;

/// Runs flow `sync` of `file` over N orders, killed at KILLS seeded moments and resumed, then
/// once to the end; checks what holds with or without keys. The fake's receipts, and the
/// duplicate effects each crash caused (measured at the next kill, or at the end).
/// And the run history (`flowc runs --format json`).
fn killed_and_resumed(file: &str, test: &str) -> (flow_fakeapi::Receipts, Vec<u64>, serde_json::Value) {
    with_fake(Config { orders: N, ..Config::default() }, |api| {
        let dir = scratch(test);
        let store = dir.join("state.sqlite");
        let mut resent = Vec::new();
        let mut duplicates = 0;
        let mut args: Vec<String> = vec!["run".into(), file.into(), "--flow".into(), "sync".into()];
        args.extend(shop_crm(api));
        args.extend(["--state".to_string(), store.display().to_string()]);
        // Seeded moments (xorshift), sorted: kill when this many writes were applied.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut moments: Vec<u64> = (0..KILLS)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % (N - 1_000)
            })
            .collect();
        moments.sort_unstable();
        let mut killed = 0;
        for moment in moments {
            let before = api.receipts("contacts").applied;
            // Each kill lands inside a run: at least one write of its own first.
            let moment = moment.max(before + 1);
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
                .current_dir(common::root())
                .args(&args)
                .envs(DEMO_SECRETS)
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn flowc");
            let finished = loop {
                if api.receipts("contacts").applied >= moment {
                    break false;
                }
                if child.try_wait().expect("wait").is_some() {
                    break true;
                }
                std::thread::yield_now();
            };
            assert!(!finished, "the run ended before {moment} writes were applied");
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            if killed > 0 {
                resent.push(api.receipts("contacts").duplicates - duplicates);
            }
            duplicates = api.receipts("contacts").duplicates;
            killed += 1;
            expire_lease(&store, "sync");
        }
        assert_eq!(killed, KILLS);
        let out = flowc(&args, &DEMO_SECRETS);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Resumed after a kill: it says so at its start and in its summary.
        assert!(
            out.stderr.contains("past its last checkpoint are read again, and may be sent twice"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("may have been sent twice (started by the run before"), "{}", out.stderr);
        let r = api.receipts("contacts");
        resent.push(r.duplicates - duplicates);
        assert_eq!(r.distinct, N, "every record delivered: {r:?}");
        let shown = flowc(&state_args(&["state", "show", file, "--flow", "sync"], &store), &[]);
        assert!(shown.stdout.starts_with(&format!("flow sync: cursor {N} (Int)")), "{}", shown.stdout);
        let runs = flowc(&state_args(&["runs", file, "--flow", "sync", "--format", "json"], &store), &[]);
        let runs: serde_json::Value = serde_json::from_str(&runs.stdout).expect("json");
        let statuses: Vec<&str> = runs.as_array().expect("runs").iter().filter_map(|r| r["status"].as_str()).collect();
        assert_eq!(statuses.len(), KILLS + 1);
        assert_eq!(statuses[0], "succeeded");
        assert!(statuses[1..].iter().all(|s| *s == "interrupted"), "{statuses:?}");
        (r, resent, runs)
    })
}
