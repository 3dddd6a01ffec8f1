//! The embedded store: one SQLite file per project.
//!
//! Durability: WAL mode with `synchronous=FULL`. Every commit (a checkpoint, a dead letter, a
//! run's start or end) is fsynced in the WAL before it returns. `kill -9` alone would only need
//! WAL with `synchronous=NORMAL` (a commit is in the OS's page cache, which outlives the
//! process); `NORMAL` may lose the last commits on a power loss or an OS crash, `FULL` does not.
//! Checkpoints come every N records or T seconds, so an fsync each costs little, and dead
//! letters were fsynced one by one before this store too.
//!
//! Opening never starts afresh over something that exists: a missing file is created (and
//! [`Opened::created`] says so); an empty, damaged (`PRAGMA quick_check`), foreign or newer
//! file is an error and is left untouched.

use crate::crypt::{random_token, SealError, Sealer};
use crate::*;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};

/// The schema version this crate writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 3;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  flow TEXT NOT NULL,
  holder TEXT NOT NULL,
  lease_token TEXT NOT NULL,
  started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER,
  status TEXT NOT NULL CHECK (status IN ('running','succeeded','failed','stopped','interrupted')),
  records_read INTEGER NOT NULL DEFAULT 0,
  delivered INTEGER NOT NULL DEFAULT 0,
  filtered INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  dead_lettered INTEGER NOT NULL DEFAULT 0,
  not_processed INTEGER NOT NULL DEFAULT 0,
  pages INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0,
  retries INTEGER NOT NULL DEFAULT 0,
  error BLOB
) STRICT;
CREATE INDEX runs_by_flow ON runs (flow, id);
CREATE TABLE flow_state (
  flow TEXT PRIMARY KEY,
  cursor_type TEXT CHECK (cursor_type IN ('DateTime','Int','String')),
  cursor BLOB,
  boundary BLOB NOT NULL,
  position BLOB,
  checkpoints INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  run_id INTEGER REFERENCES runs (id)
) STRICT;
CREATE TABLE leases (
  flow TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  token TEXT NOT NULL,
  acquired_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER REFERENCES runs (id),
  flow TEXT NOT NULL,
  step TEXT NOT NULL,
  source TEXT NOT NULL,
  record_index INTEGER NOT NULL,
  code TEXT NOT NULL,
  error BLOB NOT NULL,
  record BLOB NOT NULL,
  failed_at_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX dead_letters_by_flow ON dead_letters (flow, id);
"#,
    r#"
ALTER TABLE runs ADD COLUMN settled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN resent_from INTEGER;
ALTER TABLE runs ADD COLUMN resent INTEGER;
"#,
    // Where a dead letter's record held secrets (a JSON list of `SecretAt`, sealed with the
    // record it belongs to on an encrypted store; NULL: not known, a dead letter of before).
    r#"
ALTER TABLE dead_letters ADD COLUMN secrets BLOB;
"#,
];

const STORE_MARK: &str = "flowc state";
const CIPHER: &str = "xchacha20poly1305";
const KEY_CHECK: &[u8] = b"flowc state key check v1";

/// The SQLite store. See the module documentation for its durability.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    sealer: Sealer,
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn count(what: &str, n: u64) -> Result<i64> {
    i64::try_from(n)
        .map_err(|_| StateError::Invalid { what: what.to_string(), detail: format!("{n} is too large to store") })
}

fn ttl_ms(ttl: Duration) -> Result<i64> {
    i64::try_from(ttl.as_millis())
        .map_err(|_| StateError::Invalid { what: "a lease's duration".into(), detail: "too long".into() })
}

impl SqliteStore {
    /// Opens the store at `path`, creating it when it does not exist. `key`: the store is (or,
    /// when created now, will be) encrypted with it.
    pub fn open(path: &Path, key: Option<&StoreKey>) -> Result<Opened<SqliteStore>> {
        let path = path.to_path_buf();
        let folder = folder_of(&path);
        let mut created = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                return Err(StateError::NotAStore { path, detail: "it is a folder".into() });
            }
            Ok(m) if m.len() == 0 => {
                return Err(StateError::Corrupt {
                    path,
                    detail: "the file is empty; it may have been truncated".into(),
                });
            }
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !folder.is_dir() {
                    return Err(StateError::FolderMissing { path, folder });
                }
                true
            }
            Err(e) => return Err(StateError::Unwritable { path, folder, detail: e.to_string() }),
        };
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if created {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut store = SqliteStore {
            conn: Connection::open_with_flags(&path, flags).map_err(|e| classify(&path, e))?,
            path,
            sealer: Sealer::new(key),
        };
        let s = &mut store;
        // Another process may be inside a (short) transaction; wait for it rather than fail.
        s.conn.busy_timeout(Duration::from_secs(10)).map_err(|e| s.err(e))?;
        if s.conn.is_readonly(rusqlite::MAIN_DB).map_err(|e| s.err(e))? {
            return Err(s.unwritable("the file is read-only"));
        }
        // Read before anything is written: a newer store is left exactly as it is.
        let version: i64 = s.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| s.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(StateError::NewerVersion { path: s.path.clone(), found: version, supported: SCHEMA_VERSION });
        }
        let problems = s.quick_check()?;
        if !problems.is_empty() {
            return Err(StateError::Corrupt { path: s.path.clone(), detail: problems.join("; ") });
        }
        if version == 0 {
            let tables: i64 =
                s.conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).map_err(|e| s.err(e))?;
            if tables > 0 {
                return Err(StateError::NotAStore {
                    path: s.path.clone(),
                    detail: "it is an SQLite database of something else".into(),
                });
            }
            // A file with no schema yet holds nothing: a store whose creation was interrupted.
            created = true;
        }
        let mode: String =
            s.conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0)).map_err(|e| s.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(s.unwritable(&format!("it could not be put in WAL mode (journal mode {mode})")));
        }
        s.conn.pragma_update(None, "foreign_keys", "ON").map_err(|e| s.err(e))?;
        // The migrations and the proof of writing are committed without waiting for the disk
        // (`NORMAL`): in WAL mode the next commit, which is `FULL`, makes them durable with it,
        // and a power loss before that loses only them (a store of the older version, or of no
        // version yet, which the next open migrates or creates again).
        s.conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| s.err(e))?;
        s.init(MIGRATIONS)?;
        s.conn.pragma_update(None, "synchronous", "FULL").map_err(|e| s.err(e))?;
        Ok(Opened { store, created })
    }

    /// Migrates, marks a new store (and its encryption), checks the key, and proves the file
    /// writable, in one transaction.
    fn init(&mut self, migrations: &[&str]) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| classify(&path, e))?;
        let e = |e| classify(&path, e);
        let mut version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(e)?;
        let target = migrations.len() as i64;
        if version > target {
            return Err(StateError::NewerVersion { path, found: version, supported: target });
        }
        while version < target {
            tx.execute_batch(migrations[version as usize]).map_err(e)?;
            version += 1;
            tx.pragma_update(None, "user_version", version).map_err(e)?;
        }
        let meta = |key: &str| -> Result<Option<Vec<u8>>> {
            tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(e)
        };
        match meta("store")? {
            Some(m) if m == STORE_MARK.as_bytes() => {}
            Some(_) => return Err(StateError::NotAStore { path, detail: "its mark is not flowc's".into() }),
            None => {
                let check =
                    self.sealer.seal("meta.key_check", KEY_CHECK).map_err(|s| seal_error(&path, "the key check", s))?;
                let cipher = if self.sealer.encrypted() { CIPHER } else { "none" };
                tx.execute("INSERT INTO meta (key, value) VALUES ('store', ?1)", [STORE_MARK.as_bytes()]).map_err(e)?;
                tx.execute("INSERT INTO meta (key, value) VALUES ('encryption', ?1)", [cipher.as_bytes()])
                    .map_err(e)?;
                if self.sealer.encrypted() {
                    tx.execute("INSERT INTO meta (key, value) VALUES ('key_check', ?1)", [check]).map_err(e)?;
                }
            }
        }
        let encrypted = meta("encryption")?.is_some_and(|c| c != b"none");
        match (encrypted, self.sealer.encrypted()) {
            (true, false) => return Err(StateError::KeyRequired { path }),
            (false, true) => return Err(StateError::NotEncrypted { path }),
            (true, true) => {
                let check = meta("key_check")?.ok_or_else(|| StateError::Corrupt {
                    path: path.clone(),
                    detail: "the key check value is missing".into(),
                })?;
                match self.sealer.open("meta.key_check", &check) {
                    Ok(v) if v == KEY_CHECK => {}
                    _ => return Err(StateError::WrongKey { path }),
                }
            }
            (false, false) => {}
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('opened_at_ms', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis()).to_string().into_bytes()],
        )
        .map_err(e)?;
        tx.commit().map_err(e)
    }

    fn quick_check(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("PRAGMA quick_check").map_err(|e| self.err(e))?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        let mut problems = Vec::new();
        for r in rows {
            let r = r.map_err(|e| self.err(e))?;
            if r != "ok" {
                problems.push(r);
            }
        }
        Ok(problems)
    }

    fn err(&self, e: rusqlite::Error) -> StateError {
        classify(&self.path, e)
    }

    fn unwritable(&self, detail: &str) -> StateError {
        StateError::Unwritable { path: self.path.clone(), folder: folder_of(&self.path), detail: detail.to_string() }
    }

    fn tx(&mut self) -> Result<Transaction<'_>> {
        let path = self.path.clone();
        self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| classify(&path, e))
    }

    fn seal(&self, place: &str, flow: &str, plain: &str) -> Result<Vec<u8>> {
        self.sealer.seal(&format!("{place}\0{flow}"), plain.as_bytes()).map_err(|s| seal_error(&self.path, place, s))
    }

    fn unseal(&self, place: &str, flow: &str, blob: &[u8]) -> Result<String> {
        let plain = self
            .sealer
            .open(&format!("{place}\0{flow}"), blob)
            .map_err(|s| seal_error(&self.path, &format!("{place} of flow `{flow}`"), s))?;
        String::from_utf8(plain).map_err(|e| StateError::BadValue {
            path: self.path.clone(),
            what: format!("{place} of flow `{flow}`"),
            detail: e.to_string(),
        })
    }

    /// Where a dead letter's record held secrets, sealed (on an encrypted store) with a digest
    /// of that record as associated data: moved to another dead letter, or left beside a record
    /// that was changed, it fails its check, so it can never point a replay's secret at text of
    /// another record.
    fn seal_secrets(&self, flow: &str, record: &str, secrets: &str) -> Result<Vec<u8>> {
        self.sealer
            .seal(&Self::secrets_aad(flow, record), secrets.as_bytes())
            .map_err(|s| seal_error(&self.path, "dead_letters.secrets", s))
    }

    fn unseal_secrets(&self, flow: &str, record: &str, blob: &[u8]) -> Result<String> {
        let what = format!("dead_letters.secrets of flow `{flow}` (where a record held secrets)");
        let plain =
            self.sealer.open(&Self::secrets_aad(flow, record), blob).map_err(|s| seal_error(&self.path, &what, s))?;
        String::from_utf8(plain).map_err(|e| StateError::BadValue {
            path: self.path.clone(),
            what,
            detail: e.to_string(),
        })
    }

    /// The place of a dead letter's `secrets`, bound to its record by the record's SHA-256.
    fn secrets_aad(flow: &str, record: &str) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(record.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("dead_letters.secrets\0{flow}\0{hex}")
    }

    fn bad(&self, what: String, detail: impl ToString) -> StateError {
        StateError::BadValue { path: self.path.clone(), what, detail: detail.to_string() }
    }

    /// Fails unless `lease` is the flow's current lease.
    fn check_lease(path: &Path, tx: &Transaction<'_>, lease: &Lease) -> Result<()> {
        let row: Option<(String, String)> = tx
            .query_row("SELECT token, holder FROM leases WHERE flow = ?1", [&lease.flow], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| classify(path, e))?;
        match row {
            Some((token, _)) if token == lease.token => Ok(()),
            other => Err(StateError::LeaseLost {
                path: path.to_path_buf(),
                flow: lease.flow.clone(),
                taken_by: other.map(|(_, holder)| holder),
            }),
        }
    }

    fn read_state(&self, row: &rusqlite::Row<'_>) -> rusqlite::Result<RawState> {
        Ok(RawState {
            flow: row.get(0)?,
            cursor_type: row.get(1)?,
            cursor: row.get(2)?,
            boundary: row.get(3)?,
            position: row.get(4)?,
            checkpoints: row.get(5)?,
            updated_at_ms: row.get(6)?,
            run: row.get(7)?,
        })
    }

    fn decode_state(&self, raw: RawState) -> Result<FlowState> {
        let flow = raw.flow;
        let cursor = match (raw.cursor_type, raw.cursor) {
            (Some(ty), Some(blob)) => {
                let text = self.unseal("flow_state.cursor", &flow, &blob)?;
                Some(
                    Cursor::from_text(&ty, &text)
                        .ok_or_else(|| self.bad(format!("the cursor of flow `{flow}`"), format!("not a {ty}")))?,
                )
            }
            _ => None,
        };
        let boundary = self.unseal("flow_state.boundary", &flow, &raw.boundary)?;
        let boundary =
            serde_json::from_str(&boundary).map_err(|e| self.bad(format!("the boundary keys of flow `{flow}`"), e))?;
        let position = match raw.position {
            None => None,
            Some(blob) => Some(self.decode_position(&flow, &self.unseal("flow_state.position", &flow, &blob)?)?),
        };
        Ok(FlowState {
            flow,
            cursor,
            boundary,
            position,
            checkpoints: raw.checkpoints.max(0) as u64,
            updated_at: from_ms(raw.updated_at_ms),
            run: raw.run.map(RunId),
        })
    }

    fn decode_position(&self, flow: &str, text: &str) -> Result<PullPosition> {
        let what = || format!("the resume position of flow `{flow}`");
        #[derive(serde::Deserialize)]
        struct Versioned {
            version: u64,
        }
        let v: Versioned = serde_json::from_str(text).map_err(|e| self.bad(what(), e))?;
        if v.version != POSITION_VERSION {
            return Err(
                self.bad(what(), format!("version {} (this flowc reads version {POSITION_VERSION})", v.version))
            );
        }
        #[derive(serde::Deserialize)]
        struct V1 {
            #[serde(flatten)]
            p: PullPosition,
        }
        serde_json::from_str::<V1>(text).map(|v| v.p).map_err(|e| self.bad(what(), e))
    }

    fn encode_position(p: &PullPosition) -> String {
        let mut v = serde_json::to_value(p).unwrap_or_default();
        v["version"] = POSITION_VERSION.into();
        v.to_string()
    }

    fn write_counts(tx: &Transaction<'_>, path: &Path, flow: &str, run: RunId, c: &RunCounts) -> Result<()> {
        let n = tx
            .execute(
                "UPDATE runs SET records_read = ?2, delivered = ?3, filtered = ?4, failed = ?5, dead_lettered = ?6,
                 not_processed = ?7, pages = ?8, requests = ?9, retries = ?10, settled = ?12, started = ?13
                 WHERE id = ?1 AND flow = ?11",
                params![
                    run.0,
                    count("records read", c.read)?,
                    count("records delivered", c.delivered)?,
                    count("records filtered", c.filtered)?,
                    count("records failed", c.failed)?,
                    count("records dead-lettered", c.dead_lettered)?,
                    count("records not processed", c.not_processed)?,
                    count("pages", c.pages)?,
                    count("requests", c.requests)?,
                    count("retries", c.retries)?,
                    flow,
                    count("records settled", c.settled)?,
                    count("records started", c.started)?,
                ],
            )
            .map_err(|e| classify(path, e))?;
        if n == 0 {
            return Err(StateError::UnknownRun { path: path.to_path_buf(), flow: flow.to_string(), run: run.0 });
        }
        Ok(())
    }

    fn read_run(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<(RunRecord, Option<Vec<u8>>)> {
        let status: String = r.get(5)?;
        let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
        Ok((
            RunRecord {
                id: RunId(r.get(0)?),
                flow: r.get(1)?,
                holder: r.get(2)?,
                started_at: from_ms(r.get(3)?),
                finished_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
                status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
                counts: RunCounts {
                    read: n(6)?,
                    delivered: n(7)?,
                    filtered: n(8)?,
                    failed: n(9)?,
                    dead_lettered: n(10)?,
                    not_processed: n(11)?,
                    pages: n(12)?,
                    requests: n(13)?,
                    retries: n(14)?,
                    settled: n(16)?,
                    started: n(17)?,
                },
                error: None,
                resent: match (r.get::<_, Option<i64>>(18)?, r.get::<_, Option<i64>>(19)?) {
                    (Some(run), Some(n)) if n >= 0 => Some(Resent::AtMost { run: RunId(run), records: n as u64 }),
                    (Some(run), _) => Some(Resent::Unknown { run: RunId(run) }),
                    _ => None,
                },
            },
            r.get(15)?,
        ))
    }

    /// Takes the lease inside `tx` (see [`StateStore::acquire_lease`]).
    fn acquire_in(
        path: &Path,
        tx: &Transaction<'_>,
        flow: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease> {
        let e = |e| classify(path, e);
        let token = random_token().map_err(|s| seal_error(path, "a lease token", s))?;
        let expires_at = from_ms(ms(now).saturating_add(ttl_ms(ttl)?));
        let old: Option<(String, String, i64, i64)> = tx
            .query_row("SELECT holder, token, acquired_at_ms, expires_at_ms FROM leases WHERE flow = ?1", [flow], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(e)?;
        let mut took_over = None;
        if let Some((old_holder, old_token, acquired, expires)) = old {
            if expires > ms(now) {
                return Err(StateError::Locked {
                    path: path.to_path_buf(),
                    flow: flow.to_string(),
                    holder: old_holder,
                    since: stamp(from_ms(acquired)),
                    expires_at: stamp(from_ms(expires)),
                });
            }
            let mut st = tx
                .prepare("UPDATE runs SET status = 'interrupted' WHERE flow = ?1 AND lease_token = ?2 AND status = 'running' RETURNING id")
                .map_err(e)?;
            let ids = st.query_map(params![flow, old_token], |r| r.get(0)).map_err(e)?;
            let interrupted_runs = ids.map(|r| r.map(RunId)).collect::<rusqlite::Result<Vec<_>>>().map_err(e)?;
            drop(st);
            took_over = Some(TakenOver { holder: old_holder, expired_at: from_ms(expires), interrupted_runs });
        }
        tx.execute(
            "INSERT INTO leases (flow, holder, token, acquired_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (flow) DO UPDATE SET holder = excluded.holder, token = excluded.token,
             acquired_at_ms = excluded.acquired_at_ms, expires_at_ms = excluded.expires_at_ms",
            params![flow, holder, token, ms(now), ms(expires_at)],
        )
        .map_err(e)?;
        Ok(Lease { flow: flow.to_string(), holder: holder.to_string(), token, acquired_at: now, expires_at, took_over })
    }

    /// Records a run's start inside `tx`.
    fn start_in(path: &Path, tx: &Transaction<'_>, lease: &Lease, now: DateTime<Utc>) -> Result<RunId> {
        Self::check_lease(path, tx, lease)?;
        tx.execute(
            "INSERT INTO runs (flow, holder, lease_token, started_at_ms, status) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![lease.flow, lease.holder, lease.token, ms(now)],
        )
        .map_err(|e| classify(path, e))?;
        Ok(RunId(tx.last_insert_rowid()))
    }

    /// A checkpoint's record data, sealed (on an encrypted store) before its transaction.
    fn seal_checkpoint(&self, flow: &str, cp: &Checkpoint) -> Result<SealedCheckpoint> {
        let cursor = cp.cursor.as_ref().map(|c| self.seal("flow_state.cursor", flow, &c.text())).transpose()?;
        let boundary = serde_json::to_string(&cp.boundary).unwrap_or_else(|_| "[]".into());
        let boundary = self.seal("flow_state.boundary", flow, &boundary)?;
        let position = cp
            .position
            .as_ref()
            .map(|p| self.seal("flow_state.position", flow, &Self::encode_position(p)))
            .transpose()?;
        Ok(SealedCheckpoint { cursor, boundary, position })
    }

    /// Commits a checkpoint's rows inside `tx` (the lease checked by the caller); the flow's
    /// checkpoint count.
    fn checkpoint_in(
        path: &Path,
        tx: &Transaction<'_>,
        lease: &Lease,
        cp: &Checkpoint,
        sealed: &SealedCheckpoint,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let flow = &lease.flow;
        let checkpoints: i64 = tx
            .query_row(
                "INSERT INTO flow_state (flow, cursor_type, cursor, boundary, position, checkpoints, updated_at_ms, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)
                 ON CONFLICT (flow) DO UPDATE SET cursor_type = excluded.cursor_type, cursor = excluded.cursor,
                 boundary = excluded.boundary, position = excluded.position, checkpoints = checkpoints + 1,
                 updated_at_ms = excluded.updated_at_ms, run_id = excluded.run_id
                 RETURNING checkpoints",
                params![
                    flow,
                    cp.cursor.as_ref().map(Cursor::type_name),
                    sealed.cursor,
                    sealed.boundary,
                    sealed.position,
                    ms(now),
                    cp.run.0
                ],
                |r| r.get(0),
            )
            .map_err(|err| match err.sqlite_error_code() {
                Some(ErrorCode::ConstraintViolation) => {
                    StateError::UnknownRun { path: path.to_path_buf(), flow: flow.clone(), run: cp.run.0 }
                }
                _ => classify(path, err),
            })?;
        Self::write_counts(tx, path, flow, cp.run, &cp.counts)?;
        Ok(checkpoints.max(0) as u64)
    }

    /// A run's end, checked, and its error sealed, before its transaction.
    fn seal_end(&self, lease: &Lease, run: RunId, end: &RunEnd) -> Result<Option<Vec<u8>>> {
        if end.status == RunStatus::Running {
            return Err(StateError::Invalid {
                what: format!("finishing run {}", run.0),
                detail: "a run ends with a status other than running".into(),
            });
        }
        end.error.as_deref().map(|m| self.seal("runs.error", &lease.flow, m)).transpose()
    }

    /// Records how a run ended inside `tx` (the lease checked by the caller).
    fn finish_in(
        path: &Path,
        tx: &Transaction<'_>,
        lease: &Lease,
        run: RunId,
        end: &RunEnd,
        error: Option<Vec<u8>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        Self::write_counts(tx, path, &lease.flow, run, &end.counts)?;
        tx.execute(
            "UPDATE runs SET status = ?2, finished_at_ms = ?3, error = ?4 WHERE id = ?1",
            params![run.0, end.status.as_str(), ms(now), error],
        )
        .map_err(|e| classify(path, e))?;
        Ok(())
    }

    /// Gives the lease up inside `tx`.
    fn release_in(path: &Path, tx: &Transaction<'_>, lease: &Lease) -> Result<()> {
        tx.execute("DELETE FROM leases WHERE flow = ?1 AND token = ?2", params![lease.flow, lease.token])
            .map_err(|e| classify(path, e))?;
        Ok(())
    }

    /// The connection, for tests that make the database itself fail.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A checkpoint's sealed columns.
struct SealedCheckpoint {
    cursor: Option<Vec<u8>>,
    boundary: Vec<u8>,
    position: Option<Vec<u8>>,
}

struct RawState {
    flow: String,
    cursor_type: Option<String>,
    cursor: Option<Vec<u8>>,
    boundary: Vec<u8>,
    position: Option<Vec<u8>>,
    checkpoints: i64,
    updated_at_ms: i64,
    run: Option<i64>,
}

const STATE_COLUMNS: &str = "flow, cursor_type, cursor, boundary, position, checkpoints, updated_at_ms, run_id";
const RUN_COLUMNS: &str = "id, flow, holder, started_at_ms, finished_at_ms, status, records_read, delivered, filtered, failed, dead_lettered, not_processed, pages, requests, retries, error, settled, started, resent_from, resent";

fn seal_error(path: &Path, what: &str, e: SealError) -> StateError {
    match e {
        SealError::Random(detail) => StateError::Invalid { what: "the system's random source".into(), detail },
        SealError::Open => StateError::Tampered { path: path.to_path_buf(), what: what.to_string() },
    }
}

/// Words an SQLite failure with the store's path: damage, no permission or no space, or else.
fn classify(path: &Path, e: rusqlite::Error) -> StateError {
    let detail = e.to_string();
    let code = e.sqlite_error_code();
    match code {
        Some(ErrorCode::DatabaseCorrupt) => StateError::Corrupt { path: path.to_path_buf(), detail },
        Some(ErrorCode::NotADatabase) => StateError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("{detail}; it may have been truncated or overwritten"),
        },
        Some(
            ErrorCode::ReadOnly
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure,
        ) => StateError::Unwritable { path: path.to_path_buf(), folder: folder_of(path), detail },
        _ => StateError::Database { path: path.to_path_buf(), detail },
    }
}

impl StateStore for SqliteStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn encrypted(&self) -> bool {
        matches!(self.sealer, Sealer::Sealed(_))
    }

    fn acquire_lease(&mut self, flow: &str, holder: &str, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        let path = self.path.clone();
        let tx = self.tx()?;
        let lease = Self::acquire_in(&path, &tx, flow, holder, ttl, now)?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(lease)
    }

    fn begin_run(&mut self, flow: &str, holder: &str, ttl: Duration, now: DateTime<Utc>) -> Result<(Lease, RunId)> {
        let path = self.path.clone();
        let tx = self.tx()?;
        let lease = Self::acquire_in(&path, &tx, flow, holder, ttl, now)?;
        let run = Self::start_in(&path, &tx, &lease, now)?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok((lease, run))
    }

    fn end_run(
        &mut self,
        lease: &Lease,
        checkpoint: Option<&Checkpoint>,
        run: RunId,
        end: &RunEnd,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sealed = checkpoint.map(|cp| self.seal_checkpoint(&lease.flow, cp)).transpose()?;
        let error = self.seal_end(lease, run, end)?;
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        if let (Some(cp), Some(sealed)) = (checkpoint, &sealed) {
            Self::checkpoint_in(&path, &tx, lease, cp, sealed, now)?;
        }
        Self::finish_in(&path, &tx, lease, run, end, error, now)?;
        Self::release_in(&path, &tx, lease)?;
        tx.commit().map_err(|e| classify(&path, e))
    }

    fn renew_lease(&mut self, lease: &Lease, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        let path = self.path.clone();
        let expires_at = from_ms(ms(now).saturating_add(ttl_ms(ttl)?));
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        tx.execute("UPDATE leases SET expires_at_ms = ?2 WHERE flow = ?1", params![lease.flow, ms(expires_at)])
            .map_err(|e| classify(&path, e))?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(Lease { expires_at, ..lease.clone() })
    }

    fn release_lease(&mut self, lease: &Lease) -> Result<()> {
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::release_in(&path, &tx, lease)?;
        tx.commit().map_err(|e| classify(&path, e))
    }

    fn flow_state(&self, flow: &str) -> Result<Option<FlowState>> {
        let raw = self
            .conn
            .query_row(&format!("SELECT {STATE_COLUMNS} FROM flow_state WHERE flow = ?1"), [flow], |r| {
                self.read_state(r)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        raw.map(|r| self.decode_state(r)).transpose()
    }

    fn flow_states(&self) -> Result<Vec<FlowState>> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {STATE_COLUMNS} FROM flow_state ORDER BY flow"))
            .map_err(|e| self.err(e))?;
        let raws = st
            .query_map([], |r| self.read_state(r))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(|r| self.decode_state(r)).collect()
    }

    fn set_cursor(&mut self, lease: &Lease, cursor: &Cursor, now: DateTime<Utc>) -> Result<()> {
        let flow = &lease.flow;
        let sealed = self.seal("flow_state.cursor", flow, &cursor.text())?;
        let boundary = self.seal("flow_state.boundary", flow, "[]")?;
        let path = self.path.clone();
        let e = |e| classify(&path, e);
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        tx.execute(
            "INSERT INTO flow_state (flow, cursor_type, cursor, boundary, position, checkpoints, updated_at_ms, run_id)
             VALUES (?1, ?2, ?3, ?4, NULL, 0, ?5, NULL)
             ON CONFLICT (flow) DO UPDATE SET cursor_type = excluded.cursor_type, cursor = excluded.cursor,
             boundary = excluded.boundary, position = NULL, updated_at_ms = excluded.updated_at_ms, run_id = NULL",
            params![flow, cursor.type_name(), sealed, boundary, ms(now)],
        )
        .map_err(e)?;
        tx.commit().map_err(e)
    }

    fn reset_state(&mut self, lease: &Lease) -> Result<bool> {
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        let n = tx.execute("DELETE FROM flow_state WHERE flow = ?1", [&lease.flow]).map_err(|e| classify(&path, e))?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(n > 0)
    }

    fn checkpoint(&mut self, lease: &Lease, cp: &Checkpoint, now: DateTime<Utc>) -> Result<u64> {
        let sealed = self.seal_checkpoint(&lease.flow, cp)?;
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        let checkpoints = Self::checkpoint_in(&path, &tx, lease, cp, &sealed, now)?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(checkpoints)
    }

    fn start_run(&mut self, lease: &Lease, now: DateTime<Utc>) -> Result<RunId> {
        let path = self.path.clone();
        let tx = self.tx()?;
        let run = Self::start_in(&path, &tx, lease, now)?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(run)
    }

    fn finish_run(&mut self, lease: &Lease, run: RunId, end: &RunEnd, now: DateTime<Utc>) -> Result<()> {
        let error = self.seal_end(lease, run, end)?;
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        Self::finish_in(&path, &tx, lease, run, end, error, now)?;
        tx.commit().map_err(|e| classify(&path, e))
    }

    fn runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut st = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR flow = ?1 ORDER BY id DESC LIMIT ?2"))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![flow, limit], |r| self.read_run(r))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(mut run, error)| {
                run.error = error.map(|b| self.unseal("runs.error", &run.flow, &b)).transpose()?;
                Ok(run)
            })
            .collect()
    }

    fn note_resent(
        &mut self,
        lease: &Lease,
        run: RunId,
        resent: Option<Resent>,
        settled: u64,
        started: u64,
    ) -> Result<()> {
        let (from, n) = match resent {
            Some(Resent::AtMost { run, records }) => (Some(run.0), Some(count("records sent again", records)?)),
            Some(Resent::Unknown { run }) => (Some(run.0), Some(-1)),
            None => (None, None),
        };
        let (settled, started) = (count("records settled", settled)?, count("records started", started)?);
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        tx.execute(
            "UPDATE runs SET resent_from = ?2, resent = ?3, settled = ?4, started = ?5 WHERE id = ?1",
            params![run.0, from, n, settled, started],
        )
        .map_err(|e| classify(&path, e))?;
        tx.commit().map_err(|e| classify(&path, e))
    }

    fn started_mark(&self, flow: &str, run: RunId, reserve: u64, from: u64) -> Result<Option<StartedMark>> {
        StartedMark::create(&self.path, flow, run, reserve, from).map(Some)
    }

    fn last_started(&self, flow: &str) -> Option<StartedSeen> {
        StartedMark::read(&self.path, flow)
    }

    fn add_dead_letter(&mut self, lease: &Lease, l: &NewDeadLetter) -> Result<DeadLetterId> {
        if l.flow != lease.flow {
            return Err(StateError::Invalid {
                what: format!("a dead letter of flow `{}`", l.flow),
                detail: format!("it is written under the lease of flow `{}`", lease.flow),
            });
        }
        let (record, secrets) = if serde_json::from_str::<serde::de::IgnoredAny>(&l.record).is_ok() {
            (l.record.clone(), l.secrets.clone())
        } else {
            // Wrapped in a string, the markers move: a replay cannot write the secrets back.
            let unwritable = l.secrets.iter().map(|s| SecretAt { forms: Vec::new(), ..s.clone() }).collect();
            (serde_json::Value::String(l.record.clone()).to_string(), unwritable)
        };
        // `[]` for none: NULL is a dead letter of a store before schema 3, where it is not known.
        let secrets = serde_json::to_string(&secrets).unwrap_or_else(|_| "[]".into());
        let secrets = self.seal_secrets(&l.flow, &record, &secrets)?;
        let error = serde_json::to_string(&l.error).unwrap_or_default();
        let error = self.seal("dead_letters.error", &l.flow, &error)?;
        let record = self.seal("dead_letters.record", &l.flow, &record)?;
        let index = count("a record index", l.record_index)?;
        let path = self.path.clone();
        let tx = self.tx()?;
        // Fenced: a run whose lease was taken over writes no dead letter (in this transaction).
        Self::check_lease(&path, &tx, lease)?;
        tx.execute(
            "INSERT INTO dead_letters (run_id, flow, step, source, record_index, code, error, record, failed_at_ms, secrets)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![l.run.map(|r| r.0), l.flow, l.step, l.source, index, l.error.code, error, record, ms(l.failed_at), secrets],
        )
        .map_err(|err| match (err.sqlite_error_code(), l.run) {
            (Some(ErrorCode::ConstraintViolation), Some(run)) => {
                StateError::UnknownRun { path: path.clone(), flow: l.flow.clone(), run: run.0 }
            }
            _ => classify(&path, err),
        })?;
        let id = DeadLetterId(tx.last_insert_rowid());
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(id)
    }

    fn dead_letters(&self, flow: Option<&str>, run: Option<RunId>) -> Result<Vec<DeadLetter>> {
        type Raw = (i64, Option<i64>, String, String, String, i64, Vec<u8>, Vec<u8>, i64, i64, Option<Vec<u8>>);
        let mut st = self
            .conn
            .prepare(
                "SELECT id, run_id, flow, step, source, record_index, error, record, failed_at_ms, attempts, secrets FROM dead_letters
                 WHERE (?1 IS NULL OR flow = ?1) AND (?2 IS NULL OR run_id = ?2)
                 ORDER BY run_id IS NULL, run_id, record_index, id",
            )
            .map_err(|e| self.err(e))?;
        let rows: Vec<Raw> = st
            .query_map(params![flow, run.map(|r| r.0)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(id, run, flow, step, source, index, error, record, at, attempts, secrets)| {
                let error = self.unseal("dead_letters.error", &flow, &error)?;
                let error =
                    serde_json::from_str(&error).map_err(|e| self.bad(format!("the error of dead letter {id}"), e))?;
                let record = self.unseal("dead_letters.record", &flow, &record)?;
                let secrets = match secrets {
                    Some(blob) => Some(
                        serde_json::from_str(&self.unseal_secrets(&flow, &record, &blob)?)
                            .map_err(|e| self.bad(format!("where dead letter {id} held secrets"), e))?,
                    ),
                    None => None,
                };
                Ok(DeadLetter {
                    id: DeadLetterId(id),
                    run: run.map(RunId),
                    flow,
                    step,
                    source,
                    record_index: index.max(0) as u64,
                    error,
                    record,
                    secrets,
                    failed_at: from_ms(at),
                    attempts: attempts.max(0) as u64,
                })
            })
            .collect()
    }

    fn replay_succeeded(&mut self, lease: &Lease, ids: &[DeadLetterId]) -> Result<u64> {
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        let mut removed = 0;
        for id in ids {
            removed += tx
                .execute("DELETE FROM dead_letters WHERE id = ?1 AND flow = ?2", params![id.0, lease.flow])
                .map_err(|e| classify(&path, e))? as u64;
        }
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(removed)
    }

    fn replay_failed(
        &mut self,
        lease: &Lease,
        id: DeadLetterId,
        error: &DeadLetterError,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sealed = self.seal("dead_letters.error", &lease.flow, &serde_json::to_string(error).unwrap_or_default())?;
        let path = self.path.clone();
        let tx = self.tx()?;
        Self::check_lease(&path, &tx, lease)?;
        let changed = tx
            .execute(
                "UPDATE dead_letters SET code = ?3, error = ?4, failed_at_ms = ?5, attempts = attempts + 1
                 WHERE id = ?1 AND flow = ?2",
                params![id.0, lease.flow, error.code, sealed, ms(now)],
            )
            .map_err(|e| classify(&path, e))?;
        if changed == 0 {
            return Err(StateError::UnknownDeadLetter { path, id: id.0 });
        }
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) fn migrate_for_test(store: &mut SqliteStore, migrations: &[&str]) -> Result<()> {
    store.init(migrations)
}

#[cfg(test)]
mod tests;
