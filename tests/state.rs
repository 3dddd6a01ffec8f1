//! Flows with `state` run by the flowc binary against the fake API's changing records
//! (`flow_fakeapi::changes`): incremental runs, resumption after a crash, the lease.

mod common;

use std::path::PathBuf;

use common::{flowc, with_fake, Child};
use flow_fakeapi::{Config, FakeApi};

const TOKEN: (&str, &str) = ("SHOP_TOKEN", "demo-shop-token");

/// A fresh folder with `source` as `flow.flow`; the state store lands beside it.
fn scratch(test: &str, source: &str) -> (PathBuf, String) {
    common::scratch_source("state", test, source)
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
        .take_received()
        .iter()
        .map(|c| format!("{}@{}", c["id"].as_str().unwrap_or("?"), c["updated_at"].as_str().unwrap_or("?")))
        .collect();
    out.sort();
    out
}

fn example() -> String {
    std::fs::read_to_string(common::root().join("examples/incremental_changes.flow")).expect("the example")
}

#[test]
fn an_incremental_flow_delivers_exactly_the_changed_and_new_records_on_its_next_run() {
    let (dir, file) = scratch("incremental", &example());
    with_fake(Config::default(), |api| {
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
    with_fake(Config::default(), |api| {
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

/// The flow of the crash tests: one record at a time, a checkpoint after each, pages of two.
fn crash_flow(order: &str, sorted: bool) -> String {
    example()
        .replace(
            "query = { updated_since: updated_since, limit: 2 }",
            &format!("query = {{ updated_since: updated_since, limit: 2, order: \"{order}\" }}"),
        )
        .replace("    lag = 5m\n", &format!("    lag = 5m\n    sorted = {sorted}\n    checkpoint_every = 1\n"))
        .replace(
            "    save_copy(body: c, idempotency_key: c.id + \"@\" + str(c.updated_at))\n  }\n",
            "    save_copy(body: c, idempotency_key: c.id + \"@\" + str(c.updated_at))\n  }\n  concurrency = 1\n",
        )
}

/// Six records whose id order is not their `updated_at` order.
fn six(api: &FakeApi) {
    for (id, at) in
        [("r1", "10:05"), ("r2", "10:01"), ("r3", "10:04"), ("r4", "10:02"), ("r5", "10:06"), ("r6", "10:03")]
    {
        api.changes().put(id, id, &format!("2026-03-01T{at}:00Z"));
    }
}

/// Starts a run, waits until the fake has stored `n` copies (the next write is held there)
/// and `flowc state show` says `checkpointed` (the checkpoint the test resumes from is
/// committed: the writer commits it on a thread of its own, after the answers are read), and
/// kills the run with SIGKILL.
fn run_and_kill_after(api: &FakeApi, file: &str, n: usize, checkpointed: impl Fn(&str) -> bool) {
    api.changes().hold_after(n);
    let base = format!("shop={}/shop", api.url());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .current_dir(common::root())
        .args(["run", file, "--base-url", &base])
        .env("NO_COLOR", "1")
        .env(TOKEN.0, TOKEN.1)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start flowc");
    // Synchronised on the fake's count; the bound only ends a test that went wrong.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while api.changes().copies().len() < n || !checkpointed(&flowc(&["state", "show", file], &[]).stdout) {
        assert!(std::time::Instant::now() < give_up, "the run never wrote {n} copies and checkpointed");
        assert!(child.try_wait().expect("wait").is_none(), "the run ended before writing {n} copies");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    api.changes().release();
}

#[test]
fn an_unsorted_source_killed_mid_pull_resumes_at_the_checkpointed_page_under_the_old_cursor() {
    let (dir, file) = scratch("crash-unsorted", &crash_flow("id", false));
    with_fake(Config::default(), |api| {
        six(api);
        run_and_kill_after(api, &file, 3, |shown| shown.contains("resumes at page cursor \"2\" after 1 page"));
        // Killed with record 4 (page 2) in flight; the reader may have read page 3 ahead.
        assert_eq!(api.changes().pages()[..2], ["", "2"]);
        let before = copied(api);
        let resumed = run(api, &file, &[]);
        assert_eq!(resumed.code, 0, "{}", resumed.stderr);
        assert!(resumed.stderr.contains("(the run was killed)"), "{}", resumed.stderr);
        assert!(
            resumed.stderr.contains(
                "resuming the interrupted pull after page 1 (2 records done) under cursor 2026-01-01T00:00:00Z"
            ),
            "{}",
            resumed.stderr
        );
        // The pull went on at page 2 (asked under the old cursor), not at the start.
        assert_eq!(api.changes().pages(), ["2", "4"]);
        let mut all = before.clone();
        all.extend(copied(api));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6, "every record delivered: {all:?}");
        // Record 3 was stored when the run was killed: skipped as already delivered if its
        // checkpoint was committed, else sent again as a no-op by its key; never applied twice.
        assert!(api.changes().replayed() <= 1, "at most the record in flight is sent again");
        // The cursor is the greatest delivered: nothing is delivered again.
        let again = run(api, &file, &[]);
        assert!(again.stderr.contains("starting from the stored cursor 2026-03-01T10:06:00Z"), "{}", again.stderr);
        assert!(copied(api).is_empty());
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_sorted_source_killed_mid_pull_resumes_from_its_advanced_cursor() {
    let (dir, file) = scratch("crash-sorted", &crash_flow("updated", true));
    with_fake(Config::default(), |api| {
        six(api);
        run_and_kill_after(api, &file, 3, |shown| {
            shown.contains("cursor 2026-03-01T10:02:00Z") || shown.contains("cursor 2026-03-01T10:03:00Z")
        });
        let before = copied(api);
        let resumed = run(api, &file, &[]);
        assert_eq!(resumed.code, 0, "{}", resumed.stderr);
        // Sorted: the cursor advanced mid-pull (to the second or third record's time).
        assert!(
            resumed.stderr.contains("starting from the stored cursor 2026-03-01T10:02:00Z")
                || resumed.stderr.contains("starting from the stored cursor 2026-03-01T10:03:00Z"),
            "{}",
            resumed.stderr
        );
        let mut all = before;
        all.extend(copied(api));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6, "every record delivered: {all:?}");
        assert!(api.changes().replayed() <= 1, "at most the record in flight is sent again");
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// A run of `file` against the fake, its stderr read as it runs.
fn start_run(api: &FakeApi, file: &str) -> Child {
    let base = format!("shop={}/shop", api.url());
    Child::start(&["run", file, "--base-url", &base], &[TOKEN])
}

/// Waits until the fake holds a write of this run (the run is parked there).
fn parked(run: &mut Child, api: &FakeApi) {
    run.wait_until("was parked", || api.changes().held() > 0);
}

/// `N records read, N delivered, N filtered out, N failed[, N not processed …]` of a summary.
fn summary_counts(line: &str) -> [u64; 5] {
    let number = |after: &str| -> u64 {
        let end = line.find(after).unwrap_or_else(|| panic!("no {after:?} in {line:?}"));
        line[..end].rsplit(" ").next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    };
    let not_processed = if line.contains(" not processed") { number(" not processed") } else { 0 };
    [number(" records read"), number(" delivered"), number(" filtered out"), number(" failed"), not_processed]
}

fn runs_json(file: &str) -> serde_json::Value {
    let out = flowc(&["runs", file, "--format", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("json")
}

/// SIGTERM while a write is in flight (held by the fake): the write finishes, nothing new is
/// read or sent, the watermark is checkpointed, the run is recorded `stopped` and exits 143;
/// the next run delivers exactly the rest, and no write is sent twice.
#[test]
fn sigterm_finishes_what_is_in_flight_checkpoints_and_the_next_run_delivers_exactly_the_rest() {
    let (dir, file) = scratch("sigterm", &crash_flow("id", false));
    with_fake(Config::default(), |api| {
        six(api);
        api.changes().hold_after(3);
        let mut run1 = start_run(api, &file);
        parked(&mut run1, api);
        run1.signal("TERM");
        run1.said("SIGTERM: stopping");
        api.changes().release();
        let (code, stderr) = run1.end();
        assert_eq!(code, 143, "{stderr}");
        let summary = stderr.lines().find(|l| l.starts_with("flow copy_changes: stopped — ")).expect(&stderr);
        let [read, delivered, filtered, failed, not_processed] = summary_counts(summary);
        assert_eq!((delivered, filtered, failed), (4, 0, 0), "the write in flight finished: {summary}");
        assert_eq!(read, delivered + filtered + failed + not_processed, "{summary}");
        assert_eq!(api.changes().copies().len(), 4);
        let runs = runs_json(&file);
        assert_eq!(runs[0]["status"], "stopped", "{runs}");
        assert_eq!((&runs[0]["delivered"], &runs[0]["read"]), (&serde_json::json!(4), &serde_json::json!(read)));
        // The checkpoint: after page 2 (records 1 to 4, all delivered), under the old cursor.
        let shown = flowc(&["state", "show", &file], &[]);
        assert!(
            shown.stdout.contains("cursor 2026-01-01T00:00:00Z (DateTime)")
                && shown.stdout.contains("mid-pull: resumes at page cursor \"4\" after 2 pages and 4 records"),
            "{}",
            shown.stdout
        );
        let before = copied(api);
        let next = run(api, &file, &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains("resuming the interrupted pull after page 2 (4 records done)"), "{}", next.stderr);
        let rest = copied(api);
        assert_eq!(rest.len(), 2, "exactly the rest: {rest:?}");
        let mut all = before;
        all.extend(rest);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6, "every record delivered once: {all:?}");
        assert_eq!(api.changes().replayed(), 0, "nothing was sent twice");
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// A second signal while the first stop waits for the write in flight: the process ends at once
/// (exit 130 for SIGINT), the store keeps its last committed checkpoint, and the next run takes
/// the flow over and delivers every record, none applied twice.
#[test]
fn a_second_signal_aborts_at_once_and_the_store_stays_consistent() {
    let (dir, file) = scratch("second-signal", &crash_flow("id", false));
    with_fake(Config::default(), |api| {
        six(api);
        api.changes().hold_after(3);
        let mut run1 = start_run(api, &file);
        parked(&mut run1, api);
        run1.signal("TERM");
        run1.said("SIGTERM: stopping");
        run1.signal("INT");
        // Ends while its write is still held: the abort does not wait for what is in flight.
        let (code, stderr) = run1.end();
        assert_eq!(code, 130, "{stderr}");
        assert!(stderr.contains("SIGINT again: aborting at once"), "{stderr}");
        assert!(!stderr.contains("flow copy_changes: stopped"), "no summary after an abort: {stderr}");
        api.changes().release();
        let before = copied(api);
        let next = run(api, &file, &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains("(the run was killed)"), "{}", next.stderr);
        let mut all = before;
        all.extend(copied(api));
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!((all.len(), n), (6, 6), "every record applied exactly once: {all:?}");
        let statuses: Vec<String> =
            runs_json(&file).as_array().expect("runs").iter().map(|r| r["status"].to_string()).collect();
        assert_eq!(statuses, ["\"succeeded\"", "\"interrupted\""]);
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Two runs of the same flow at once: the second, started while the first is parked at the
/// fake, refuses with R0015 naming the holder and sends nothing; the first then finishes.
#[test]
fn a_second_run_of_the_same_flow_at_once_refuses_with_r0015_and_sends_nothing() {
    let (dir, file) = scratch("lease", &crash_flow("id", false));
    with_fake(Config::default(), |api| {
        six(api);
        api.changes().hold_after(3);
        let mut first = start_run(api, &file);
        parked(&mut first, api);
        let pages = api.changes().pages().len();
        let second = run(api, &file, &[]);
        assert_eq!(second.code, 1, "{}", second.stderr);
        assert!(second.stderr.contains("error[R0015]"), "{}", second.stderr);
        assert!(second.stderr.contains("flowc run (process"), "names the holder: {}", second.stderr);
        assert_eq!(api.changes().pages().len(), pages, "the second run read nothing");
        assert_eq!(api.changes().copies().len(), 3, "and sent nothing");
        api.changes().release();
        let (code, stderr) = first.end();
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(api.changes().copies().len(), 6);
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// The flow of the out-of-order tests: a source sorted by the cursor, a checkpoint after each
/// settled record, four records in flight at once.
fn out_of_order_flow() -> String {
    example()
        .replace(
            "query = { updated_since: updated_since, limit: 2 }",
            "query = { updated_since: updated_since, limit: 2, order: \"updated\" }",
        )
        .replace("    lag = 5m\n", "    lag = 5m\n    sorted = true\n    checkpoint_every = 1\n")
        .replace(
            "    save_copy(body: c, idempotency_key: c.id + \"@\" + str(c.updated_at))\n  }\n",
            "    save_copy(body: c, idempotency_key: c.id + \"@\" + str(c.updated_at))\n  }\n  concurrency = 4\n",
        )
}

/// Records r01 to r20, updated at 10:01 to 10:20 (id order is cursor order).
fn twenty(api: &FakeApi) {
    for i in 1..=20 {
        api.changes().put(&format!("r{i:02}"), &format!("r{i:02}"), &format!("2026-03-01T10:{i:02}:00Z"));
    }
}

/// The cursor `flowc state show` prints for the flow (`None` before the first checkpoint).
fn stored_cursor(file: &str) -> Option<String> {
    let shown = flowc(&["state", "show", file], &[]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let rest = shown.stdout.split_once("cursor ")?.1;
    Some(rest.split_once(" (DateTime)")?.0.to_string())
}

/// Waits until the fake holds `gated` writes at its gate and has stored `stored` copies:
/// every record but the gated ones has been written, the gated ones have not.
fn parked_at_gate(run: &mut Child, api: &FakeApi, gated: usize, stored: usize) {
    run.wait_until(&format!("reached the gate with {stored} copies"), || {
        api.changes().at_gate() == gated && api.changes().copies().len() == stored
    });
}

/// Waits until the store's committed cursor is `cursor` (a checkpoint the writer commits
/// after the record settled).
fn checkpointed_at(run: &mut Child, file: &str, cursor: &str) {
    run.wait_until(&format!("checkpointed {cursor}"), || stored_cursor(file).as_deref() == Some(cursor));
}

/// Records forced to finish out of order: r05's write waits behind the fake's gate while the
/// fifteen after it (within the reorder window) are all written. The committed checkpoint
/// reaches r04 and stays there — never past the record in flight — however many records after
/// it have finished; once r05 finishes, the run ends with the cursor at the last record.
#[test]
fn the_checkpoint_never_passes_a_record_in_flight_while_later_records_finish_first() {
    let (dir, file) = scratch("out-of-order", &out_of_order_flow());
    with_fake(Config::default(), |api| {
        twenty(api);
        api.changes().gate(&["r05"]);
        let mut run1 = start_run(api, &file);
        parked_at_gate(&mut run1, api, 1, 19);
        checkpointed_at(&mut run1, &file, "2026-03-01T10:04:00Z");
        let stored: Vec<String> =
            api.changes().copies().iter().map(|c| c["id"].as_str().unwrap_or("?").to_string()).collect();
        assert!(stored.contains(&"r20".to_string()) && !stored.contains(&"r05".to_string()), "{stored:?}");
        // Everything but r05 is written, and the checkpoint is still at r04 (read again after
        // all nineteen were stored: nothing past the record in flight was committed).
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:04:00Z"));
        api.changes().open_gate();
        let (code, stderr) = run1.end();
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("20 records read, 20 delivered"), "{stderr}");
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:20:00Z"));
        assert_eq!(api.changes().copies().len(), 20);
        assert_eq!(api.changes().replayed(), 0);
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// The same, with r05 refused by the receiver once its gate opens, under `on_error = fail`
/// (the default): the run fails, and the checkpoint it commits is still at r04, never past the
/// failed record, though the fifteen after it were delivered. The next run (the receiver
/// fixed) resumes from r04: r05 is delivered, the others are re-sent as replays of their
/// idempotency keys, and no record is lost or applied twice.
#[test]
fn a_record_that_fails_under_fail_is_never_passed_by_the_checkpoint() {
    let (dir, file) = scratch("out-of-order-fail", &out_of_order_flow());
    with_fake(Config::default(), |api| {
        twenty(api);
        api.changes().gate(&["r05"]);
        api.changes().refuse(&["r05"]);
        let mut run1 = start_run(api, &file);
        parked_at_gate(&mut run1, api, 1, 19);
        checkpointed_at(&mut run1, &file, "2026-03-01T10:04:00Z");
        api.changes().open_gate();
        let (code, stderr) = run1.end();
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("record #5 of `list_changes` (id r05)"), "the failure names the record: {stderr}");
        assert!(stderr.contains("19 delivered, 0 filtered out, 1 failed"), "{stderr}");
        assert_eq!(api.changes().copies().len(), 19);
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:04:00Z"), "never past the failed r05");
        api.changes().accept_all();
        let next = run(api, &file, &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains("starting from the stored cursor 2026-03-01T10:04:00Z"), "{}", next.stderr);
        let mut ids: Vec<String> =
            api.changes().copies().iter().map(|c| c["id"].as_str().unwrap_or("?").to_string()).collect();
        assert_eq!(ids.len(), 20, "r05 delivered, nothing applied twice: {ids:?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20);
        assert_eq!(api.changes().replayed(), 15, "r06 to r20 sent again, as replays of their keys");
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:20:00Z"));
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Records r01 to r40, updated at 10:01 to 10:40 (more than one reorder window past r05).
fn forty(api: &FakeApi) {
    for i in 1..=40 {
        api.changes().put(&format!("r{i:02}"), &format!("r{i:02}"), &format!("2026-03-01T10:{i:02}:00Z"));
    }
}

/// A graceful stop with four records in flight at once: SIGTERM while r05 waits at the fake's
/// gate and the fifteen after it (its reorder window) are written. Nothing new is started; once
/// r05 finishes, the checkpoint is committed at the watermark (r20), the summary is printed and
/// the run exits 143. The next run resumes there and delivers exactly the other twenty: each
/// of the forty records once, none sent twice.
#[test]
fn sigterm_with_records_in_flight_at_concurrency_four_checkpoints_and_the_next_run_delivers_each_record_once() {
    let (dir, file) = scratch("sigterm-concurrent", &out_of_order_flow());
    with_fake(Config::default(), |api| {
        forty(api);
        api.changes().gate(&["r05"]);
        let mut run1 = start_run(api, &file);
        parked_at_gate(&mut run1, api, 1, 19);
        run1.signal("TERM");
        run1.said("SIGTERM: stopping");
        api.changes().open_gate();
        let (code, stderr) = run1.end();
        assert_eq!(code, 143, "{stderr}");
        let summary = stderr.lines().find(|l| l.starts_with("flow copy_changes: stopped — ")).expect(&stderr);
        let [read, delivered, filtered, failed, not_processed] = summary_counts(summary);
        assert_eq!((delivered, filtered, failed), (20, 0, 0), "what was in flight finished: {summary}");
        assert_eq!(read, delivered + not_processed, "{summary}");
        assert_eq!(api.changes().copies().len(), 20);
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:20:00Z"));
        assert_eq!(runs_json(&file)[0]["status"], "stopped");
        let next = run(api, &file, &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains("starting from the stored cursor 2026-03-01T10:20:00Z"), "{}", next.stderr);
        let mut ids: Vec<String> =
            api.changes().copies().iter().map(|c| c["id"].as_str().unwrap_or("?").to_string()).collect();
        assert_eq!(ids.len(), 40, "{ids:?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 40, "each record delivered once");
        assert_eq!(api.changes().replayed(), 0, "nothing was sent twice");
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:40:00Z"));
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// A second signal while the first stop waits for r05 (four in flight at once): the process
/// ends at once (130), the store keeps its last committed checkpoint (r04), and the next run
/// takes the flow over, resumes there and delivers every record: the fifteen written after r05
/// are sent again as replays of their keys, nothing is lost and nothing applied twice.
#[test]
fn a_second_signal_at_concurrency_four_aborts_at_once_and_the_next_run_loses_nothing() {
    let (dir, file) = scratch("second-signal-concurrent", &out_of_order_flow());
    with_fake(Config::default(), |api| {
        forty(api);
        api.changes().gate(&["r05"]);
        let mut run1 = start_run(api, &file);
        parked_at_gate(&mut run1, api, 1, 19);
        checkpointed_at(&mut run1, &file, "2026-03-01T10:04:00Z");
        run1.signal("TERM");
        run1.said("SIGTERM: stopping");
        run1.signal("INT");
        let (code, stderr) = run1.end();
        assert_eq!(code, 130, "{stderr}");
        assert!(stderr.contains("SIGINT again: aborting at once"), "{stderr}");
        assert!(!stderr.contains("flow copy_changes: stopped"), "no summary after an abort: {stderr}");
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:04:00Z"));
        // The write of r05 may still be applied by the fake once its gate opens (the server
        // does not know its client is gone); the next run then replays it.
        api.changes().open_gate();
        let next = run(api, &file, &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains("(the run was killed)"), "{}", next.stderr);
        assert!(next.stderr.contains("starting from the stored cursor 2026-03-01T10:04:00Z"), "{}", next.stderr);
        let mut ids: Vec<String> =
            api.changes().copies().iter().map(|c| c["id"].as_str().unwrap_or("?").to_string()).collect();
        assert_eq!(ids.len(), 40, "{ids:?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 40, "every record applied exactly once");
        assert!((15..=16).contains(&api.changes().replayed()), "{}", api.changes().replayed());
        assert_eq!(stored_cursor(&file).as_deref(), Some("2026-03-01T10:40:00Z"));
        let statuses: Vec<String> =
            runs_json(&file).as_array().expect("runs").iter().map(|r| r["status"].to_string()).collect();
        assert_eq!(statuses, ["\"succeeded\"", "\"interrupted\""]);
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `flowc run FILE` under a shell that limits the size of every file it writes to
/// `blocks` of 512 bytes (`ulimit -f`, dash's unit) and ignores SIGXFSZ, so that a write past
/// the limit fails with EFBIG, as on a full disk (the workspace forbids `unsafe`, so no
/// `pre_exec`). Returns the exit code and stderr.
fn run_with_file_limit(api: &FakeApi, file: &str, blocks: u64) -> (i32, String) {
    let base = format!("shop={}/shop", api.url());
    let out = std::process::Command::new("sh")
        .current_dir(common::root())
        .args(["-c", &format!("ulimit -f {blocks}; trap '' XFSZ; exec \"$0\" run \"$1\" --base-url \"$2\"")])
        .args([env!("CARGO_BIN_EXE_flowc"), file, &base])
        .env("NO_COLOR", "1")
        .env(TOKEN.0, TOKEN.1)
        .output()
        .expect("start sh");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The store's disk fills mid-run: the run stops with R0014 naming the store and SQLite's
/// reason, and nothing is lost — the next run, without the limit, resumes from the last
/// checkpoint committed, and every record is delivered (those sent again are replays of their
/// keys, none applied twice).
#[test]
fn a_full_disk_while_writing_the_store_is_a_clear_error_and_the_next_run_loses_nothing() {
    // Enough records that the limit is always reached: a record starts at most
    // `checkpoint_every` (1) and two windows (2 × 16) past the last committed checkpoint, so a
    // run of N commits at least N / 33 = 60 checkpoints, each a page or more of the WAL
    // (4 KiB), more than the 200 KiB allowed; the new store itself takes far less.
    const N: usize = 2_000;
    let (dir, file) = scratch("disk-full", &out_of_order_flow());
    with_fake(Config::default(), |api| {
        let at = |i: usize| format!("2026-03-01T{:02}:{:02}:{:02}Z", i / 3600, i / 60 % 60, i % 60);
        for i in 0..N {
            let at = at(i);
            api.changes().put(&format!("r{i:04}"), &format!("r{i:04}"), &at);
        }
        let (code, stderr) = run_with_file_limit(api, &file, 400);
        assert_eq!(code, 1, "{stderr}");
        // What is shown: R0014 naming the store and SQLite's reason, once, and the summary.
        assert_eq!(stderr.matches("error[R0014]").count(), 1, "the failure is reported once: {stderr}");
        assert!(stderr.contains("flowc-state.sqlite cannot be written (disk I/O error)"), "{stderr}");
        assert!(stderr.contains("check the disk is not full"), "{stderr}");
        assert!(stderr.contains("flow copy_changes: FAILED"), "{stderr}");
        let before = api.changes().copies().len();
        assert!(before > 0 && before < N, "the limit was hit mid-run: {before} copies");
        // The store is readable, at its last committed checkpoint, short of what was delivered.
        let cursor = stored_cursor(&file).expect("a checkpoint was committed before the disk filled");
        assert!((0..before).any(|i| at(i) == cursor), "{cursor} is a delivered record's");
        let next = run(api, &file, &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains(&format!("starting from the stored cursor {cursor}")), "{}", next.stderr);
        let mut ids: Vec<String> =
            api.changes().copies().iter().map(|c| c["id"].as_str().unwrap_or("?").to_string()).collect();
        assert_eq!(ids.len(), N, "every record delivered, none applied twice");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), N);
        assert_eq!(stored_cursor(&file).as_deref(), Some(at(N - 1).as_str()));
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// A store in a folder that cannot be written (what a full or read-only disk leaves a run): the
/// folder and the store lose their write permission, and the run is made as `nobody` when the
/// test runs as root (whom permissions do not stop; the flowc binary is copied where `nobody`
/// can run it). The run stops with R0014 naming the store before it reads or sends anything,
/// the store is left byte for byte, and once the folder is writable again the next run resumes
/// from the stored cursor and delivers exactly the records it had not.
#[test]
fn a_store_in_a_read_only_folder_is_a_clear_error_sends_nothing_and_loses_nothing() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let (dir, file) = scratch("read-only", &example());
    let bin = common::scratch_dir("state", "read-only-bin");
    let flowc_copy = bin.join("flowc");
    std::fs::copy(env!("CARGO_BIN_EXE_flowc"), &flowc_copy).expect("copy flowc");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    with_fake(Config::default(), |api| {
        api.changes().put("a", "Ada", "2026-03-01T10:00:00Z");
        api.changes().put("b", "Bob", "2026-03-01T11:00:00Z");
        let first = run(api, &file, &[]);
        assert_eq!(first.code, 0, "{}", first.stderr);
        assert_eq!(copied(api).len(), 2);
        let cursor = stored_cursor(&file).expect("a cursor");
        api.changes().put("c", "Cy", "2026-03-01T12:00:00Z");
        let store = dir.join("flowc-state.sqlite");
        assert!(!dir.join("flowc-state.sqlite-wal").exists(), "the store was closed cleanly");
        let before = std::fs::read(&store).expect("read the store");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        let root = std::fs::File::create(dir.join("probe")).is_ok();
        let _ = std::fs::remove_file(dir.join("probe"));
        let base = format!("shop={}/shop", api.url());
        let mut cmd = std::process::Command::new(&flowc_copy);
        cmd.args(["run", &file, "--base-url", &base]).env("NO_COLOR", "1").env(TOKEN.0, TOKEN.1).current_dir(&bin);
        if root {
            cmd.uid(65534).gid(65534);
        }
        let out = cmd.output().expect("run flowc");
        let stderr = String::from_utf8_lossy(&out.stderr);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("error[R0014]"), "{stderr}");
        assert!(stderr.contains(&format!("{} cannot be written", store.display())), "{stderr}");
        assert!(api.changes().pages().is_empty(), "nothing was read: {stderr}");
        assert!(copied(api).is_empty(), "nothing was sent");
        assert_eq!(std::fs::read(&store).expect("read the store"), before, "the store is left as it was");
        let next = run(api, &file, &[]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(next.stderr.contains(&format!("starting from the stored cursor {cursor}")), "{}", next.stderr);
        assert_eq!(copied(api), ["c@2026-03-01T12:00:00Z"]);
    });
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(bin);
}

/// The store is the file's, one for all its flows with state: `flowc plan` says it is
/// encrypted for each of them, not only for the flow that names `store_key`.
#[test]
fn the_plan_says_the_store_is_encrypted_for_every_flow_with_state() {
    let second = example()
        .split("flow copy_changes {")
        .nth(1)
        .map(|rest| format!("flow copy_again {{{rest}"))
        .expect("the example's flow");
    let source = example()
        .replace("secret SHOP_TOKEN\n", "secret SHOP_TOKEN\nsecret STATE_KEY\n")
        .replace("    lag = 5m\n", "    lag = 5m\n    store_key = STATE_KEY\n")
        + "\n"
        + &second;
    let (dir, file) = scratch("plan-store-key", &source);
    let out = flowc(&["plan", &file], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(
        plan.matches("    store: encrypted at rest, its key derived from secret STATE_KEY").count(),
        2,
        "{plan}"
    );
    assert!(plan.contains("flow copy_again"), "{plan}");
    let _ = std::fs::remove_dir_all(dir);
}
