//! Flows with `state` run by the flowc binary against the fake API's changing records
//! (`flow_fakeapi::changes`): incremental runs, resumption after a crash, the lease.

mod common;

use std::path::PathBuf;

use common::flowc;
use flow_fakeapi::{Config, FakeApi};

const TOKEN: (&str, &str) = ("SHOP_TOKEN", "demo-shop-token");

fn with_fake<T>(f: impl FnOnce(&FakeApi) -> T) -> T {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let api = rt.block_on(FakeApi::start(Config::default(), 0)).expect("start the fake API");
    let out = f(&api);
    drop(api);
    out
}

/// A fresh folder with `source` as `flow.flow`; the state store lands beside it.
fn scratch(test: &str, source: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("flowc-state-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("flow.flow");
    std::fs::write(&file, source).expect("write the flow");
    (dir, file.display().to_string())
}

fn run(api: &FakeApi, file: &str, extra: &[&str]) -> common::Output {
    let base = format!("shop={}/shop", api.url());
    let mut args = vec!["run", file, "--base-url", &base];
    args.extend_from_slice(extra);
    flowc(&args, &[TOKEN])
}

/// The ids and versions copied since the last look.
fn copied(api: &FakeApi) -> Vec<String> {
    let mut out: Vec<String> = api
        .changes()
        .copies()
        .iter()
        .map(|c| format!("{}@{}", c["id"].as_str().unwrap_or("?"), c["updated_at"].as_str().unwrap_or("?")))
        .collect();
    api.changes().clear_received();
    out.sort();
    out
}

fn example() -> String {
    std::fs::read_to_string(common::root().join("examples/incremental_changes.flow")).expect("the example")
}

#[test]
fn an_incremental_flow_delivers_exactly_the_changed_and_new_records_on_its_next_run() {
    let (dir, file) = scratch("incremental", &example());
    with_fake(|api| {
        let c = api.changes();
        c.put("a", "Ada", "2026-03-01T10:00:00Z");
        c.put("b", "Bob", "2026-03-01T10:01:00Z");
        c.put("c", "Cy", "2026-03-01T10:02:00Z");
        let first = run(api, &file, &[]);
        assert_eq!(first.code, 0, "{}", first.stderr);
        assert!(
            first.stderr.contains("starting from the declared initial value 2026-01-01T00:00:00Z"),
            "{}",
            first.stderr
        );
        assert!(dir.join("flowc-state.sqlite").exists());
        assert_eq!(c.pages(), ["", "2"], "two pages of two");
        assert_eq!(copied(api), ["a@2026-03-01T10:00:00Z", "b@2026-03-01T10:01:00Z", "c@2026-03-01T10:02:00Z"]);

        // Between runs: b changes, d is new at the very instant of the cursor, and e arrives
        // late, updated (by the API's clock) before the cursor but inside the 5 minute lag.
        c.put("b", "Bob B.", "2026-03-01T10:03:00Z");
        c.put("d", "Di", "2026-03-01T10:02:00Z");
        c.put("e", "Eve", "2026-03-01T09:59:00Z");
        let second = run(api, &file, &[]);
        assert_eq!(second.code, 0, "{}", second.stderr);
        assert!(second.stderr.contains("starting from the stored cursor 2026-03-01T10:02:00Z"), "{}", second.stderr);
        // a and c come back (the lag, and `>=`), already delivered at those versions: skipped.
        assert_eq!(copied(api), ["b@2026-03-01T10:03:00Z", "d@2026-03-01T10:02:00Z", "e@2026-03-01T09:59:00Z"]);
        assert!(second.stderr.contains("5 records read, 3 delivered, 2 filtered out"), "{}", second.stderr);

        // Nothing changed: nothing is delivered.
        let third = run(api, &file, &[]);
        assert_eq!(third.code, 0, "{}", third.stderr);
        assert!(copied(api).is_empty());
        assert!(third.stderr.contains("starting from the stored cursor 2026-03-01T10:03:00Z"), "{}", third.stderr);
        assert_eq!(c.replayed(), 0, "no write was sent twice");
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_state_store_can_be_chosen_and_a_damaged_one_is_an_error_never_a_fresh_start() {
    let (dir, file) = scratch("store", &example());
    with_fake(|api| {
        api.changes().put("a", "Ada", "2026-03-01T10:00:00Z");
        let store = dir.join("elsewhere.sqlite");
        let store_arg = store.display().to_string();
        let ok = run(api, &file, &["--state", &store_arg]);
        assert_eq!(ok.code, 0, "{}", ok.stderr);
        assert!(store.exists() && !dir.join("flowc-state.sqlite").exists());
        assert_eq!(copied(api).len(), 1);
        // Damaged: the run stops before reading anything, and the file is left as it was.
        std::fs::write(&store, b"this is not a state store").expect("damage it");
        let bad = run(api, &file, &["--state", &store_arg]);
        assert_eq!(bad.code, 1, "{}", bad.stderr);
        assert!(bad.stderr.contains("error[R0014]"), "{}", bad.stderr);
        assert!(api.changes().pages().is_empty(), "nothing was read");
        assert!(copied(api).is_empty());
        assert_eq!(std::fs::read(&store).expect("read"), b"this is not a state store");
    });
    let _ = std::fs::remove_dir_all(dir);
}
