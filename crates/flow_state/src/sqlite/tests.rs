use super::*;
use std::io::{BufRead, Write};

const MIN: Duration = Duration::from_secs(60);

fn t(s: i64) -> DateTime<Utc> {
    from_ms(1_800_000_000_000 + s * 1000)
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, None).map(|o| o.store).unwrap_or_else(|e| panic!("{e}"))
}

fn key(b: u8) -> StoreKey {
    StoreKey::from_bytes(&[b; 32]).unwrap()
}

fn cp(run: RunId, n: i64) -> Checkpoint {
    Checkpoint {
        run,
        cursor: Some(Cursor::Int(n)),
        boundary: vec![format!("id-{n}")],
        position: Some(PullPosition {
            next: PageAt::Page { number: n as u64 + 1 },
            pages_done: n as u64,
            records_done: 10 * n as u64,
            seen_max: Some(Cursor::Int(n)),
        }),
        counts: RunCounts { read: n as u64, delivered: n as u64, ..RunCounts::default() },
    }
}

/// A store with one checkpoint of flow `orders`, closed.
fn stored(path: &Path) {
    let mut s = open(path);
    let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
    let run = s.start_run(&lease, t(0)).unwrap();
    s.checkpoint(&lease, &cp(run, 7), t(1)).unwrap();
    s.release_lease(&lease).unwrap();
}

#[test]
fn a_missing_store_is_created_and_says_so_then_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let o = SqliteStore::open(&path, None).unwrap();
    assert!(o.created);
    assert_eq!(o.store.flow_state("orders").unwrap(), None);
    drop(o);
    stored(&path);
    let o = SqliteStore::open(&path, None).unwrap();
    assert!(!o.created);
    let st = o.store.flow_state("orders").unwrap().unwrap();
    assert_eq!(st.cursor, Some(Cursor::Int(7)));
    assert_eq!(st.position, cp(RunId(1), 7).position);
    assert_eq!(st.boundary, vec!["id-7".to_string()]);
    let journal: String = o.store.connection().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(journal, "wal");
    let sync: i64 = o.store.connection().pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn a_truncated_store_is_an_error_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let mut s = open(&path);
        let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
        for i in 0..300 {
            s.add_dead_letter(&lease, &letter(None, &format!("{{\"id\":{i},\"pad\":\"{}\"}}", "x".repeat(400))))
                .unwrap();
        }
        s.release_lease(&lease).unwrap();
    }
    for keep in [50u64, 4096 * 3 + 100] {
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(keep).unwrap();
        drop(f);
        let err = SqliteStore::open(&path, None).map(|_| ()).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), keep, "never reset");
    }
    std::fs::File::create(&path).unwrap();
    let err = SqliteStore::open(&path, None).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("is empty"), "{err}");
}

#[test]
fn a_newer_store_is_an_error_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    stored(&path);
    Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path, None).map(|_| ()).unwrap_err();
    assert!(
        matches!(err, StateError::NewerVersion { found, supported, .. } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn another_sqlite_database_is_not_taken_for_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    Connection::open(&path).unwrap().execute_batch("CREATE TABLE users (id INTEGER)").unwrap();
    let err = SqliteStore::open(&path, None).map(|_| ()).unwrap_err();
    assert!(matches!(err, StateError::NotAStore { .. }), "{err}");
}

#[test]
fn migrations_apply_in_order_and_a_failing_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    stored(&path);
    let mut s = open(&path);
    let mut next = MIGRATIONS.to_vec();
    let n = MIGRATIONS.len();
    next.push("CREATE TABLE extra (x INTEGER); INSERT INTO nowhere VALUES (1);");
    assert!(migrate_for_test(&mut s, &next).is_err());
    let v: i64 = s.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, n as i64);
    next[n] = "CREATE TABLE extra (x INTEGER);";
    migrate_for_test(&mut s, &next).unwrap();
    let v: i64 = s.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, n as i64 + 1);
    assert_eq!(s.flow_state("orders").unwrap().unwrap().cursor, Some(Cursor::Int(7)));
}

#[test]
fn a_live_lease_locks_out_a_second_writer_and_an_expired_one_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut a = open(&path);
    let mut b = open(&path);
    let la = a.acquire_lease("orders", "pid 11 on host-a", MIN, t(0)).unwrap();
    let run = a.start_run(&la, t(0)).unwrap();
    let err = b.acquire_lease("orders", "pid 12 on host-b", MIN, t(30)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StateError::Locked { .. }), "{msg}");
    assert!(msg.contains("pid 11 on host-a") && msg.contains(&stamp(t(60))) && msg.contains("`orders`"), "{msg}");
    // Another flow of the same store is not locked.
    b.acquire_lease("customers", "pid 12 on host-b", MIN, t(30)).unwrap();
    // Renewed, it is still held past its first expiry.
    let la = a.renew_lease(&la, MIN, t(50)).unwrap();
    assert!(b.acquire_lease("orders", "pid 12 on host-b", MIN, t(100)).is_err());
    // Expired (the run was killed): taken over, its run marked interrupted.
    let lb = b.acquire_lease("orders", "pid 12 on host-b", MIN, t(111)).unwrap();
    let over = lb.took_over.clone().unwrap();
    assert_eq!((over.holder.as_str(), over.interrupted_runs.clone()), ("pid 11 on host-a", vec![run]));
    assert_eq!(b.runs(Some("orders"), 10).unwrap()[0].status, RunStatus::Interrupted);
    // The old holder, back from a pause, is fenced off.
    let err = a.checkpoint(&la, &cp(run, 9), t(112)).unwrap_err();
    assert!(matches!(err, StateError::LeaseLost { .. }) && err.to_string().contains("pid 12 on host-b"), "{err}");
    assert!(a.renew_lease(&la, MIN, t(112)).is_err());
    assert_eq!(b.flow_state("orders").unwrap(), None);
    // Released, it is free at once.
    b.release_lease(&lb).unwrap();
    a.acquire_lease("orders", "pid 13", MIN, t(113)).unwrap();
}

#[test]
fn a_failure_inside_a_checkpoint_leaves_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("state.db"));
    let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
    let run = s.start_run(&lease, t(0)).unwrap();
    s.checkpoint(&lease, &cp(run, 1), t(1)).unwrap();
    // The run's counters are written after the state, in the same transaction: make that fail.
    s.connection()
        .execute_batch("CREATE TRIGGER fail BEFORE UPDATE ON runs BEGIN SELECT RAISE(ABORT, 'injected'); END")
        .unwrap();
    assert!(s.checkpoint(&lease, &cp(run, 2), t(2)).is_err());
    let st = s.flow_state("orders").unwrap().unwrap();
    assert_eq!((st.cursor, st.checkpoints), (Some(Cursor::Int(1)), 1));
    assert_eq!(st.position, cp(run, 1).position);
    s.connection().execute_batch("DROP TRIGGER fail").unwrap();
    // A checkpoint naming a run that does not exist changes nothing either.
    let err = s.checkpoint(&lease, &cp(RunId(99), 3), t(3)).unwrap_err();
    assert!(matches!(err, StateError::UnknownRun { run: 99, .. }), "{err}");
    assert_eq!(s.flow_state("orders").unwrap().unwrap().cursor, Some(Cursor::Int(1)));
    assert_eq!(s.runs(None, 10).unwrap()[0].counts.read, 1);
}

#[test]
fn state_show_set_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("state.db"));
    let lease = s.acquire_lease("orders", "cli", MIN, t(0)).unwrap();
    let run = s.start_run(&lease, t(0)).unwrap();
    s.checkpoint(&lease, &cp(run, 4), t(1)).unwrap();
    let since = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678+02:00").unwrap();
    s.set_cursor(&lease, &Cursor::DateTime(since), t(2)).unwrap();
    let st = s.flow_state("orders").unwrap().unwrap();
    assert_eq!((st.cursor, st.position, st.run), (Some(Cursor::DateTime(since)), None, None));
    s.set_cursor(&lease, &Cursor::String("b-17".into()), t(3)).unwrap();
    assert_eq!(s.flow_states().unwrap().len(), 1);
    assert!(s.reset_state(&lease).unwrap());
    assert!(!s.reset_state(&lease).unwrap());
    assert_eq!(s.flow_state("orders").unwrap(), None);
    assert_eq!(s.runs(Some("orders"), 10).unwrap().len(), 1, "history stays");
}

#[test]
fn run_history_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("state.db"));
    let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
    let r1 = s.start_run(&lease, t(0)).unwrap();
    let counts = RunCounts {
        read: 5,
        delivered: 3,
        failed: 2,
        dead_lettered: 2,
        pages: 1,
        requests: 4,
        retries: 1,
        ..RunCounts::default()
    };
    s.finish_run(&lease, r1, &RunEnd { status: RunStatus::Succeeded, counts, error: None }, t(5)).unwrap();
    let r2 = s.start_run(&lease, t(6)).unwrap();
    let end = RunEnd {
        status: RunStatus::Failed,
        counts: RunCounts::default(),
        error: Some("R0012: the API went away".into()),
    };
    s.finish_run(&lease, r2, &end, t(7)).unwrap();
    let other = s.acquire_lease("customers", "test", MIN, t(0)).unwrap();
    s.start_run(&other, t(8)).unwrap();
    let runs = s.runs(Some("orders"), 10).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![r2, r1]);
    assert_eq!((runs[0].status, runs[0].error.as_deref()), (RunStatus::Failed, Some("R0012: the API went away")));
    assert_eq!((runs[1].counts, runs[1].finished_at), (counts, Some(t(5))));
    assert_eq!(s.runs(None, 2).unwrap().len(), 2);
    assert_eq!(s.runs(None, 10).unwrap()[0].status, RunStatus::Running);
}

fn letter(run: Option<RunId>, record: &str) -> NewDeadLetter {
    NewDeadLetter {
        run,
        flow: "orders".into(),
        step: "create_order".into(),
        source: "list_orders".into(),
        record_index: 2,
        error: DeadLetterError {
            code: "R0001".into(),
            message: "record #2 failed".into(),
            notes: vec!["a note".into()],
            mismatches: None,
        },
        record: record.into(),
        secrets: Vec::new(),
        failed_at: t(3),
    }
}

/// Where a dead letter's record held secrets is kept with it (never a value: the record holds
/// the markers), read back as written, and in the export's line; a record that is not JSON is
/// wrapped in a string, which moves its markers, so none of its secrets can be written back.
#[test]
fn where_a_dead_letter_held_secrets_is_kept_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("state.db"));
    let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
    let run = s.start_run(&lease, t(0)).unwrap();
    let at = |at, name: &str, form| SecretAt { at, name: name.into(), forms: vec![form] };
    let mut held = letter(Some(run), r#"{"id":1,"url":"/x?key=[secret API_KEY]"}"#);
    held.secrets = vec![at(22, "API_KEY", SecretForm::Percent)];
    s.add_dead_letter(&lease, &held).unwrap();
    let mut wrapped = letter(Some(run), "{not json [secret API_KEY]");
    wrapped.record_index = 3;
    wrapped.secrets = vec![at(10, "API_KEY", SecretForm::Json)];
    s.add_dead_letter(&lease, &wrapped).unwrap();
    let none = s.add_dead_letter(&lease, &letter(None, "{}")).unwrap();
    let got = s.dead_letters(None, None).unwrap();
    assert_eq!(got[0].secrets.as_ref(), Some(&held.secrets));
    assert_eq!(&got[0].record[22..22 + held.secrets[0].marker().len()], "[secret API_KEY]");
    assert_eq!(got[1].secrets, Some(vec![SecretAt { at: 10, name: "API_KEY".into(), forms: vec![] }]));
    // None held: said so (`[]`), not left unknown.
    assert_eq!((got[2].id, got[2].secrets.as_deref()), (none, Some(&[][..])));
    let mut out = Vec::new();
    s.export_dead_letters(None, None, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["secrets"], serde_json::json!([{"at": 22, "name": "API_KEY", "forms": ["percent"]}]));
    assert_eq!(lines[1]["secrets"][0]["forms"], serde_json::json!([]));
    assert_eq!(lines[2]["secrets"], serde_json::json!([]), "{}", lines[2]);
    // On an encrypted store it is sealed with its record: not in clear, and moved to another
    // dead letter it fails its check (R0014's tampering), never points at another record.
    let key = crate::StoreKey::derive(b"a key of at least sixteen bytes").unwrap();
    let sealed_path = dir.path().join("sealed.db");
    let mut e = SqliteStore::open(&sealed_path, Some(&key)).unwrap().store;
    let lease = e.acquire_lease("orders", "test", MIN, t(0)).unwrap();
    e.add_dead_letter(&lease, &NewDeadLetter { run: None, ..held.clone() }).unwrap();
    e.add_dead_letter(&lease, &letter(None, r#"{"other":"[secret API_KEY]"}"#)).unwrap();
    assert_eq!(e.dead_letters(None, None).unwrap()[0].secrets.as_ref(), Some(&held.secrets));
    let raw: Vec<u8> =
        e.connection().query_row("SELECT secrets FROM dead_letters WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("API_KEY"), "sealed");
    e.connection().execute("UPDATE dead_letters SET secrets = ?1 WHERE id = 2", [raw]).unwrap();
    let moved = e.dead_letters(None, None).unwrap_err();
    assert!(matches!(moved, StateError::Tampered { .. }), "{moved}");
    // A `secrets` column that is not what the store writes is a clear error, not an empty list.
    s.connection().execute("UPDATE dead_letters SET secrets = CAST('nope' AS BLOB) WHERE id = 1", []).unwrap();
    let e = s.dead_letters(None, None).unwrap_err().to_string();
    assert!(e.contains("where dead letter 1 held secrets"), "{e}");
}

#[test]
fn dead_letters_replay_bookkeeping_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("state.db"));
    let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
    let run = s.start_run(&lease, t(0)).unwrap();
    let exact = r#"{"id":2,"amount":12.3450000000000000000000001}"#;
    let a = s.add_dead_letter(&lease, &letter(Some(run), exact)).unwrap();
    let mut bad = letter(Some(run), "{not json");
    bad.error.mismatches =
        Some(vec![Mismatch { path: "amount".into(), expected: "Decimal".into(), found: "\"x\"".into() }]);
    let b = s.add_dead_letter(&lease, &bad).unwrap();
    let c = s.add_dead_letter(&lease, &letter(None, "{}")).unwrap();
    assert!(s.add_dead_letter(&lease, &letter(Some(RunId(42)), "{}")).is_err());
    assert_eq!(s.dead_letters(Some("orders"), Some(run)).unwrap().len(), 2);
    // Replay: `a` now succeeds and leaves, `b` fails again with its new error.
    assert_eq!(s.replay_succeeded(&lease, &[a]).unwrap(), 1);
    let again = DeadLetterError { code: "R0003".into(), message: "HTTP 422".into(), notes: vec![], mismatches: None };
    s.replay_failed(&lease, b, &again, t(9)).unwrap();
    assert!(matches!(s.replay_failed(&lease, a, &again, t(9)), Err(StateError::UnknownDeadLetter { .. })));
    let left = s.dead_letters(None, None).unwrap();
    assert_eq!(left.iter().map(|l| l.id).collect::<Vec<_>>(), vec![b, c]);
    assert_eq!((&left[0].error, left[0].attempts, left[0].failed_at), (&again, 2, t(9)));
    // The export is the runtime's dead letter line, the record verbatim and last.
    let mut s2 = s;
    let a2 = s2.add_dead_letter(&lease, &letter(Some(run), exact)).unwrap();
    let mut out = Vec::new();
    assert_eq!(s2.export_dead_letters(Some("orders"), Some(run), &mut out).unwrap(), 2);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].ends_with(&format!(",\"record\":{exact}}}")), "{}", lines[1]);
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec!["error", "failed_at_unix_ms", "flow", "record", "record_index", "secrets", "source"];
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(v["error"], serde_json::json!({"code": "R0001", "message": "record #2 failed", "notes": ["a note"]}));
    assert_eq!((v["failed_at_unix_ms"].as_i64(), v["record_index"].as_u64()), (Some(ms(t(3))), Some(2)));
    let v0: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v0["record"], "{not json");
    assert_eq!(v0["error"]["code"], "R0003");
    assert!(s2.replay_succeeded(&lease, &[a2, b, c]).unwrap() == 3 && s2.dead_letters(None, None).unwrap().is_empty());
}

/// Every dead-letter write is fenced by the lease, in its own transaction: once the lease is
/// taken over, the old holder can neither add a dead letter nor remove or update one (a
/// replay that lost its lease), and no row changes; the new holder can. A dead letter of
/// another flow than the lease's is refused too.
#[test]
fn a_taken_over_lease_refuses_every_dead_letter_write_and_no_row_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut a = open(&path);
    let mut b = open(&path);
    let la = a.acquire_lease("orders", "pid 11 on host-a", MIN, t(0)).unwrap();
    let run = a.start_run(&la, t(0)).unwrap();
    let kept = a.add_dead_letter(&la, &letter(Some(run), r#"{"id":1}"#)).unwrap();
    let mut other = letter(None, "{}");
    other.flow = "customers".into();
    assert!(matches!(a.add_dead_letter(&la, &other), Err(StateError::Invalid { .. })));
    // The lease expires (the run paused) and another run takes it over.
    let lb = b.acquire_lease("orders", "pid 12 on host-b", MIN, t(61)).unwrap();
    let before = b.dead_letters(None, None).unwrap();
    assert_eq!(before.len(), 1);
    let err = a.add_dead_letter(&la, &letter(Some(run), r#"{"id":2}"#)).unwrap_err();
    assert!(matches!(err, StateError::LeaseLost { .. }) && err.to_string().contains("pid 12 on host-b"), "{err}");
    let again = DeadLetterError { code: "R0001".into(), message: "again".into(), notes: vec![], mismatches: None };
    let err = a.replay_failed(&la, kept, &again, t(62)).unwrap_err();
    assert!(matches!(err, StateError::LeaseLost { .. }), "{err}");
    let err = a.replay_succeeded(&la, &[kept]).unwrap_err();
    assert!(matches!(err, StateError::LeaseLost { .. }), "{err}");
    assert_eq!(b.dead_letters(None, None).unwrap(), before, "no row changed");
    // The lease's new holder writes them; a lease of another flow does not reach them.
    let lc = b.acquire_lease("customers", "pid 12 on host-b", MIN, t(61)).unwrap();
    assert!(matches!(b.replay_failed(&lc, kept, &again, t(62)), Err(StateError::UnknownDeadLetter { .. })));
    assert_eq!(b.replay_succeeded(&lc, &[kept]).unwrap(), 0);
    b.replay_failed(&lb, kept, &again, t(62)).unwrap();
    assert_eq!(b.dead_letters(None, None).unwrap()[0].attempts, 2);
    assert_eq!(b.replay_succeeded(&lb, &[kept]).unwrap(), 1);
    assert!(b.dead_letters(None, None).unwrap().is_empty());
}

#[test]
fn an_encrypted_store_needs_its_key_and_keeps_no_record_data_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let o = SqliteStore::open(&path, Some(&key(7))).unwrap();
        let mut s = o.store;
        let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
        let run = s.start_run(&lease, t(0)).unwrap();
        let mut c = cp(run, 5);
        c.position = Some(PullPosition {
            next: PageAt::Url { url: "https://api/next?after=secret-customer".into() },
            pages_done: 1,
            records_done: 2,
            seen_max: None,
        });
        s.checkpoint(&lease, &c, t(1)).unwrap();
        s.add_dead_letter(&lease, &letter(Some(run), r#"{"email":"alice@example.com"}"#)).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!has("alice@example.com") && !has("secret-customer") && !has("record #2 failed"));
    let before = bytes.clone();
    let err = SqliteStore::open(&path, None).map(|_| ()).unwrap_err();
    assert!(matches!(err, StateError::KeyRequired { .. }), "{err}");
    let err = SqliteStore::open(&path, Some(&key(8))).map(|_| ()).unwrap_err();
    assert!(matches!(err, StateError::WrongKey { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing changed");
    let s = SqliteStore::open(&path, Some(&key(7))).unwrap().store;
    let l = &s.dead_letters(None, None).unwrap()[0];
    assert_eq!(l.record, r#"{"email":"alice@example.com"}"#);
    assert!(matches!(s.flow_state("orders").unwrap().unwrap().position.unwrap().next, PageAt::Url { .. }));
    // A sealed value moved to another place does not open.
    s.connection().execute_batch("UPDATE dead_letters SET record = error").unwrap();
    assert!(matches!(s.dead_letters(None, None), Err(StateError::Tampered { .. })));
    // A key given to a plain store is refused, so nothing is written unencrypted.
    let plain = dir.path().join("plain.db");
    stored(&plain);
    let err = SqliteStore::open(&plain, Some(&key(7))).map(|_| ()).unwrap_err();
    assert!(matches!(err, StateError::NotEncrypted { .. }), "{err}");
    assert!(matches!(StoreKey::from_bytes(&[0; 16]), Err(StateError::KeyLength { len: 16 })));
    assert_eq!(format!("{:?}", key(7)), "StoreKey(…)");
}

#[test]
fn a_missing_folder_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/state.db");
    let err = SqliteStore::open(&path, None).map(|_| ()).unwrap_err();
    assert!(matches!(err, StateError::FolderMissing { .. }) && err.to_string().contains("no/such"), "{err}");
}

const CHILD: &str = "FLOW_STATE_TEST_CHILD";

/// The child's part of the two tests below, which start their own test again as a child
/// process with [`CHILD`] set: `true` when this process is that child and has done its part.
fn run_as_child() -> bool {
    let Ok(role) = std::env::var(CHILD) else { return false };
    let path = PathBuf::from(std::env::var("FLOW_STATE_TEST_PATH").unwrap());
    let mut out = std::io::stdout().lock();
    match role.as_str() {
        "checkpoints" => {
            let mut s = open(&path);
            let lease = s.acquire_lease("orders", "child", MIN, t(0)).unwrap();
            let run = s.start_run(&lease, t(0)).unwrap();
            for n in 1.. {
                s.checkpoint(&lease, &cp(run, n), t(1)).unwrap();
                writeln!(out, "checkpoint {n}").unwrap();
                out.flush().unwrap();
            }
        }
        "readonly" => {
            let err = SqliteStore::open(&path, None).map(|_| ()).unwrap_err();
            assert!(matches!(err, StateError::Unwritable { .. }), "{err}");
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
            writeln!(out, "readonly refused: {err}").unwrap();
        }
        other => panic!("unknown role {other}"),
    }
    true
}

fn child(role: &str, path: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    let test = match role {
        "checkpoints" => "sqlite::tests::kill_9_during_checkpoints_keeps_the_last_committed_one",
        _ => "sqlite::tests::a_read_only_folder_is_an_error_naming_the_store_and_loses_nothing",
    };
    c.args(["--exact", test, "--test-threads=1"])
        .env(CHILD, role)
        .env("FLOW_STATE_TEST_PATH", path)
        .stdout(std::process::Stdio::piped());
    c
}

#[test]
fn kill_9_during_checkpoints_keeps_the_last_committed_one() {
    if run_as_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut proc = child("checkpoints", &path).spawn().unwrap();
    let mut seen = 0;
    let mut lines = std::io::BufReader::new(proc.stdout.take().unwrap()).lines();
    while seen < 200 {
        let line = lines.next().expect("the child stopped early").unwrap();
        if let Some(n) = line.strip_prefix("checkpoint ") {
            seen = n.parse().unwrap();
        }
    }
    proc.kill().unwrap(); // SIGKILL
    proc.wait().unwrap();
    let mut s = SqliteStore::open(&path, None).unwrap().store;
    let st = s.flow_state("orders").unwrap().unwrap();
    let Some(Cursor::Int(n)) = st.cursor else { panic!("{st:?}") };
    assert!(n >= seen, "committed {n}, seen {seen}");
    // All of one checkpoint, never parts of two.
    assert_eq!(
        (st.checkpoints, st.position, st.boundary),
        (n as u64, cp(RunId(1), n).position, vec![format!("id-{n}")])
    );
    assert_eq!(s.runs(None, 1).unwrap()[0].counts.read, n as u64);
    // The killed run still holds its lease until it expires; then it is taken over.
    assert!(matches!(s.acquire_lease("orders", "next", MIN, t(30)), Err(StateError::Locked { .. })));
    let lease = s.acquire_lease("orders", "next", MIN, t(61)).unwrap();
    assert_eq!(lease.took_over.unwrap().interrupted_runs, vec![RunId(1)]);
}

#[test]
fn a_read_only_folder_is_an_error_naming_the_store_and_loses_nothing() {
    if run_as_child() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let existing = ro.join("state.db");
    stored(&existing);
    let fresh = ro.join("new.db");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root (CAP_DAC_OVERRIDE) writes anyway: then the check runs as `nobody`, in a child.
    let enforced = std::fs::File::create(ro.join("probe")).is_err();
    for path in [&existing, &fresh] {
        if enforced {
            let err = SqliteStore::open(path, None).map(|_| ()).unwrap_err();
            assert!(matches!(err, StateError::Unwritable { .. }), "{err}");
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        } else {
            use std::os::unix::process::CommandExt;
            std::os::unix::fs::chown(&existing, Some(65534), Some(65534)).unwrap();
            let exe = dir.path().join("test-binary");
            if !exe.exists() {
                std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
                std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let c = child("readonly", path);
            let c = std::process::Command::new(&exe)
                .args(c.get_args())
                .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
                .uid(65534)
                .gid(65534)
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&c.stdout);
            assert!(c.status.success() && out.contains("readonly refused"), "{out}");
        }
    }
    assert!(!fresh.exists());
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(open(&existing).flow_state("orders").unwrap().unwrap().cursor, Some(Cursor::Int(7)));
}

/// A run's begin (lease and start) and end (last checkpoint, end, release) are one transaction
/// each: a failure in the last part of the end leaves everything as it was before it.
#[test]
fn a_runs_begin_and_end_are_one_transaction_each_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("state.db"));
    let (lease, run) = s.begin_run("orders", "test", MIN, t(0)).unwrap();
    assert_eq!(s.runs(Some("orders"), 10).unwrap()[0].status, RunStatus::Running);
    assert!(matches!(s.begin_run("orders", "other", MIN, t(1)), Err(StateError::Locked { .. })));
    assert_eq!(s.runs(None, 10).unwrap().len(), 1, "a refused begin records no run");
    s.checkpoint(&lease, &cp(run, 1), t(1)).unwrap();
    // The release, the end's last statement, fails: nothing of the end is kept.
    s.connection()
        .execute_batch("CREATE TRIGGER fail BEFORE DELETE ON leases BEGIN SELECT RAISE(ABORT, 'injected'); END")
        .unwrap();
    let end = RunEnd { status: RunStatus::Succeeded, counts: cp(run, 2).counts, error: None };
    assert!(s.end_run(&lease, Some(&cp(run, 2)), run, &end, t(2)).is_err());
    let st = s.flow_state("orders").unwrap().unwrap();
    assert_eq!((st.cursor, st.checkpoints), (Some(Cursor::Int(1)), 1));
    assert_eq!(s.runs(None, 10).unwrap()[0].status, RunStatus::Running);
    assert!(matches!(s.acquire_lease("orders", "other", MIN, t(3)), Err(StateError::Locked { .. })));
    s.connection().execute_batch("DROP TRIGGER fail").unwrap();
    s.end_run(&lease, Some(&cp(run, 2)), run, &end, t(4)).unwrap();
    let st = s.flow_state("orders").unwrap().unwrap();
    assert_eq!((st.cursor, st.checkpoints), (Some(Cursor::Int(2)), 2));
    let r = &s.runs(None, 10).unwrap()[0];
    assert_eq!((r.status, r.counts.read), (RunStatus::Succeeded, 2));
    s.acquire_lease("orders", "other", MIN, t(5)).unwrap();
}

/// A store written by an earlier version (schema 1, before runs kept how far they got and dead
/// letters where they held secrets) is migrated when opened: its runs, state and dead letters
/// stay, the new columns start empty.
#[test]
fn a_version_1_store_is_migrated_keeping_its_runs_state_and_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "wal").unwrap();
        let mut store = SqliteStore { conn, path: path.clone(), sealer: Sealer::new(None) };
        migrate_for_test(&mut store, &MIGRATIONS[..1]).unwrap();
        let v: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 1);
        let lease = store.acquire_lease("orders", "test", MIN, t(0)).unwrap();
        let run = store.start_run(&lease, t(0)).unwrap();
        store.connection()
            .execute(
                "INSERT INTO flow_state (flow, cursor_type, cursor, boundary, position, checkpoints, updated_at_ms, run_id)
                 VALUES ('orders', 'Int', CAST('7' AS BLOB), CAST('[]' AS BLOB), NULL, 1, 0, ?1)",
                [run.0],
            )
            .unwrap();
        store
            .connection()
            .execute("UPDATE runs SET status = 'failed', records_read = 9 WHERE id = ?1", [run.0])
            .unwrap();
        store
            .connection()
            .execute(
                "INSERT INTO dead_letters (run_id, flow, step, source, record_index, code, error, record, failed_at_ms)
                 VALUES (?1, 'orders', 's', 'list_orders', 4, 'R0003', CAST(?2 AS BLOB), CAST('{\"id\":4}' AS BLOB), 0)",
                rusqlite::params![run.0, r#"{"code":"R0003","message":"m","notes":[]}"#],
            )
            .unwrap();
        store.release_lease(&lease).unwrap();
    }
    let mut s = open(&path);
    let v: i64 = s.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    assert_eq!(s.flow_state("orders").unwrap().unwrap().cursor, Some(Cursor::Int(7)));
    let r = &s.runs(None, 10).unwrap()[0];
    assert_eq!(
        (r.status, r.counts.read, r.counts.settled, r.counts.started, r.resent),
        (RunStatus::Failed, 9, 0, 0, None)
    );
    // Where it held secrets is not known: `None`, left out of its export's line.
    let kept = s.dead_letters(None, None).unwrap();
    assert_eq!((kept.len(), kept[0].record.as_str(), kept[0].secrets.as_ref()), (1, r#"{"id":4}"#, None));
    assert!(!kept[0].to_ndjson_line().contains("\"secrets\""), "{}", kept[0].to_ndjson_line());
    // The new columns are written and read back.
    let (lease, run) = s.begin_run("orders", "test", MIN, t(10)).unwrap();
    s.note_resent(&lease, run, Some(Resent::AtMost { run: RunId(1), records: 12 }), 0, 0).unwrap();
    let mut c = cp(run, 8);
    c.counts.settled = 80;
    c.counts.started = 95;
    let end = RunEnd { status: RunStatus::Failed, counts: c.counts, error: None };
    s.end_run(&lease, Some(&c), run, &end, t(11)).unwrap();
    let r = &s.runs(None, 10).unwrap()[0];
    assert_eq!((r.counts.settled, r.counts.started), (80, 95));
    assert_eq!(r.resent, Some(Resent::AtMost { run: RunId(1), records: 12 }));
}

/// Dead letters come back in the order their runs read the records (run, then place in the
/// run's input), not the order they failed: concurrent sends make that order vary, and a
/// replay in it could apply two changes to one entity out of order.
#[test]
fn dead_letters_come_in_the_order_their_runs_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("state.db"));
    let lease = s.acquire_lease("orders", "test", MIN, t(0)).unwrap();
    let first = s.start_run(&lease, t(0)).unwrap();
    let second = s.start_run(&lease, t(1)).unwrap();
    for (run, index) in [(Some(second), 1), (None, 0), (Some(first), 9), (Some(first), 4), (Some(second), 0)] {
        let mut l = letter(run, "{}");
        l.record_index = index;
        s.add_dead_letter(&lease, &l).unwrap();
    }
    let order: Vec<(Option<RunId>, u64)> =
        s.dead_letters(None, None).unwrap().iter().map(|l| (l.run, l.record_index)).collect();
    assert_eq!(order, [(Some(first), 4), (Some(first), 9), (Some(second), 0), (Some(second), 1), (None, 0)]);
}
