//! A flow's durable state at run time (docs/state.md, "How the runtime uses the store"): the
//! store opened once per run, the flow's lease (renewed while it runs), the cursor it starts
//! from, and the checkpoints — a low watermark over the records of the source that reads the
//! state, committed every N records or T seconds and at the end.
//!
//! The watermark: records are numbered in source order; `settle(n, …)` marks one delivered,
//! filtered out or dead-lettered, and the watermark is the greatest `n` with every record up to
//! it settled. A record in flight, not processed, or failed under `fail` is never settled, so
//! nothing past it is committed. The cursor is the greatest cursor value at or below the
//! watermark: committed at each checkpoint for a `sorted` source, and otherwise only when the
//! pull completes — mid-pull, an unsorted source checkpoints the page after the last page whose
//! records are all settled, under the old cursor.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use flow_diagnostics::{codes, Diagnostic};
use flow_plan::{CursorType, FlowState, Key, Value};
use flow_state::{
    Checkpoint, Cursor, Lease, PageAt, PullPosition, RunCounts, RunId, SqliteStore, StateError, StateStore,
};

/// The name steps read the state by (`state.since`).
pub(crate) const STATE_VAR: &str = "state";

/// How long a lease lasts without renewal: a killed run blocks the flow at most this long.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(30);

/// The run's store, shared by its flows.
pub(crate) type Store = Arc<Mutex<Box<dyn StateStore>>>;

/// This machine's name, as lease holders name it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "this machine".into(), |h| h.trim().to_string())
}

/// This process's PID namespace and boot, as lease holders name them (`pid namespace
/// pid:[INODE], boot ID`): a holder's PID is looked up only where both are ours, since the same
/// host name may be given to containers with separate PID namespaces (sharing one store), or
/// to another machine. Empty where either cannot be read: then no holder is judged gone.
fn namespace() -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid").map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
    let boot =
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|b| b.trim().to_string()).unwrap_or_default();
    if ns.is_empty() || boot.is_empty() {
        return String::new();
    }
    format!("pid namespace {ns}, boot {boot}")
}

/// The lease holder text of this process: `flowc KIND (process PID on HOST, pid namespace …, boot …)`.
fn holder_text(kind: &str) -> String {
    let ns = namespace();
    let pid = std::process::id();
    if ns.is_empty() {
        format!("flowc {kind} (process {pid} on {})", host())
    } else {
        format!("flowc {kind} (process {pid} on {}, {ns})", host())
    }
}

/// Whether a lease holder is a flowc run (or replay) of this machine's PID namespace and boot
/// whose process no longer exists.
fn holder_is_gone(holder: &str) -> bool {
    holder_is_gone_in(holder, &host(), &namespace())
}

/// [`holder_is_gone`] with our host name and namespace given. A holder of another host,
/// namespace or boot, or of the old format that names none (`… on HOST)`), is never judged
/// gone: its lease is taken over only when it expires.
fn holder_is_gone_in(holder: &str, host: &str, ns: &str) -> bool {
    let rest = holder.strip_prefix("flowc run (process ").or_else(|| holder.strip_prefix("flowc replay (process "));
    let Some(rest) = rest.and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    let Some((pid, on)) = rest.split_once(" on ") else { return false };
    let Some((their_host, their_ns)) = on.split_once(", ") else { return false };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    !ns.is_empty() && their_host == host && their_ns == ns && !process_exists(pid)
}

/// Whether process `pid` exists: unless `kill(pid, 0)` fails with ESRCH, it does (EPERM is a
/// live process of another user, which /proc may hide under `hidepid=2`).
fn process_exists(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // PID 0 (and anything past i32) is no process: kill(0, 0) would test our own group.
        let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
            return true;
        };
        !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The lease of a `flowc replay` (process PID on HOST, …): as a run takes it, a live lease of
/// another holder is R0015, and one whose holder was a flowc process of this machine's PID
/// namespace and boot that no longer exists (killed, or aborted by a second signal) is taken over at once, as at its expiry.
pub(crate) fn replay_lease(store: &Store, flow: &str) -> Result<Lease, StateError> {
    let holder = holder_text("replay");
    let mut s = lock(store);
    let now = now();
    match s.acquire_lease(flow, &holder, LEASE_TTL, now) {
        Err(StateError::Locked { holder: other, expires_at, .. }) if holder_is_gone(&other) => {
            let at = chrono::DateTime::parse_from_rfc3339(&expires_at)
                .map(|t| t.with_timezone(&Utc) + chrono::Duration::seconds(1))
                .unwrap_or(now);
            let taken = s.acquire_lease(flow, &holder, LEASE_TTL, at.max(now))?;
            let mut renewed = s.renew_lease(&taken, LEASE_TTL, now)?;
            renewed.took_over = taken.took_over;
            Ok(renewed)
        }
        other => other,
    }
}

/// The note of a lease taken over from a holder that is gone or let it expire: `the lease of
/// HOLDER expired at T (the run was killed); taken over, its runs marked interrupted.` (a
/// replay's holder: "the replay was killed").
pub(crate) fn took_over_note(t: &flow_state::TakenOver) -> String {
    let who = if t.holder.starts_with("flowc replay") { "replay" } else { "run" };
    format!(
        "the lease of {} expired at {} (the {who} was killed); taken over, its runs marked interrupted.",
        t.holder,
        t.expired_at.to_rfc3339()
    )
}

/// The wall clock, for the store's times (leases, runs, checkpoints).
fn now() -> chrono::DateTime<Utc> {
    chrono::DateTime::<Utc>::from(std::time::SystemTime::now())
}

pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens the store at `path`: a store that cannot be read, is newer, or cannot be written is an
/// error (R0014), never a fresh start. `Ok((store, created))`.
pub(crate) fn open(path: &Path, key: Option<&flow_state::StoreKey>) -> Result<(Store, bool), Diagnostic> {
    match SqliteStore::open(path, key) {
        Ok(o) => Ok((Arc::new(Mutex::new(Box::new(o.store) as Box<dyn StateStore>)), o.created)),
        Err(e @ StateError::KeyRequired { .. }) => {
            Err(store_failure(&e)
                .help("give the secret its key is derived from: `flowc run FILE --state-key SECRET_NAME`"))
        }
        Err(e) => Err(store_failure(&e)),
    }
}

/// A checkpointed in-pull position that does not fit the source's paging (the `.flow` file's
/// `paginate` changed since the checkpoint): refused, never resumed at the wrong place, and never
/// dropped (ending the pull there would commit a cursor past records that were never read).
pub(crate) fn position_mismatch(flow: &str, at: &PageAt) -> Diagnostic {
    let kind = match at {
        PageAt::Cursor { .. } => "a cursor",
        PageAt::Url { .. } => "a next-page URL",
        PageAt::Page { .. } => "a page number",
        PageAt::Offset { .. } => "an offset",
    };
    Diagnostic::new(
        codes::STATE_MISMATCH,
        format!(
            "the interrupted pull of flow `{flow}` was checkpointed at {kind}, which its source's paging does not use (was `paginate` changed?): nothing was read and the stored state was not changed"
        ),
    )
    .help(format!(
        "restore the paging the pull was checkpointed with, or start the pull again from the stored cursor with `flowc state set FILE --flow {flow} VALUE`, or from the initial value with `flowc state reset FILE --flow {flow}`"
    ))
}

pub(crate) fn store_failure(e: &StateError) -> Diagnostic {
    let code = match e {
        StateError::Locked { .. } => codes::STATE_LOCKED,
        _ => codes::STATE_STORE,
    };
    Diagnostic::new(code, e.to_string())
}

/// The cursor as a value of the flow's language.
pub(crate) fn cursor_value(c: &Cursor) -> Value {
    match c {
        Cursor::DateTime(t) => Value::DateTime(*t),
        Cursor::Int(i) => Value::Int(*i),
        Cursor::String(s) => Value::Str(s.clone()),
    }
}

/// A value of the record's cursor field as a cursor of type `ty`; `None` if it has none.
fn as_cursor(v: &Value, ty: CursorType) -> Option<Cursor> {
    match (v, ty) {
        (Value::DateTime(t), CursorType::DateTime) => Some(Cursor::DateTime(*t)),
        (Value::Int(i), CursorType::Int) => Some(Cursor::Int(*i)),
        (Value::Str(s), CursorType::String) => Some(Cursor::String(s.clone())),
        _ => None,
    }
}

/// Cursor order: DateTimes by instant, Ints by value, Strings by their text.
fn after(a: &Cursor, b: &Cursor) -> bool {
    match (a, b) {
        (Cursor::DateTime(x), Cursor::DateTime(y)) => x > y,
        (Cursor::Int(x), Cursor::Int(y)) => x > y,
        (Cursor::String(x), Cursor::String(y)) => x > y,
        _ => false,
    }
}

fn path_value<'v>(record: &'v Value, path: &[Key]) -> Option<&'v Value> {
    path.iter().try_fold(record, |v, k| v.get(k.as_str())).filter(|v| !v.is_null())
}

/// The boundary entry of a record: its key and its cursor value, so a record that changed (a new
/// cursor value) is not mistaken for one already delivered.
fn boundary_entry(key: &str, cursor: &Cursor) -> String {
    // The same text as `json!([key, text]).to_string()` (what stores hold), without building a
    // JSON value first.
    serde_json::to_string(&[key, cursor.text().as_str()]).unwrap_or_default()
}

/// A record's key as its boundary entry writes it.
fn key_text(key: &Value) -> String {
    match key {
        Value::Str(s) => s.clone(),
        other => flow_eval::encode(other),
    }
}

/// What a settled record leaves for the state: its cursor value, and its key (its boundary
/// entry, when it has both, is written only if a checkpoint keeps it: [`FlowStateRun::take`]).
struct Settled {
    cursor: Option<Cursor>,
    key: Option<Value>,
}

/// One flow's state during a run.
pub(crate) struct FlowStateRun {
    pub(crate) spec: FlowState,
    pub(crate) store: Store,
    pub(crate) lease: Arc<Mutex<Lease>>,
    pub(crate) run: RunId,
    /// The cursor stored when the run started (or the declared initial value): what the
    /// source is asked with, less the lag.
    committed: Option<Cursor>,
    /// Where the interrupted pull resumes, when it does.
    pub(crate) resume: Option<PullPosition>,
    /// Boundary entries stored by earlier runs: records delivered at these cursor values.
    seen: HashSet<String>,
    track: Mutex<Tracker>,
    /// The watermark and the watermark of the last checkpoint committed, for the reader of
    /// records to wait on ([`FlowStateRun::within_window`]).
    settled: Arc<tokio::sync::watch::Sender<Marks>>,
    /// Commits the checkpoints `settle` takes, one at a time, off the tasks that settle.
    writer: Arc<Writer>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// What `checkpoint_interval` is measured on.
    clock: Clock,
    /// The greatest number of a record started, and the mark that keeps it beside the store
    /// (`flow_state::StartedMark`), written before the records it covers start.
    started: std::sync::atomic::AtomicU64,
    mark: Mutex<Option<flow_state::StartedMark>>,
    /// What this run may send a second time: what the run before it started past its last
    /// checkpoint.
    pub(crate) resent: Option<flow_state::Resent>,
}

/// Records reserved at a time in the mark of started records: one write per this many.
const MARK_RESERVE: u64 = 16;

/// What the reader of records waits on: every record up to `live` is settled, and every record
/// up to `durable` is in a committed checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Marks {
    live: u64,
    durable: u64,
    /// The `settled` of the last checkpoint committed (where the next run sends again from).
    resends_after: u64,
}

/// The flow's one checkpoint writer. `settle` takes a checkpoint under the tracker's lock (a
/// copy of a few values) and hands it here; a thread of its own commits it (a transaction and
/// its fsync, milliseconds), so the tasks that settle records never wait for the disk, and
/// never hold the tracker's lock while it is written. A checkpoint taken while another is being
/// committed waits as `pending`; a newer one replaces it (it holds everything the older one
/// does). Checkpoints are committed in the order they were taken, by this thread alone.
struct Writer {
    state: Mutex<WriterState>,
    wake: Condvar,
}

#[derive(Default)]
struct WriterState {
    /// The checkpoint to commit next, and the watermark it was taken at.
    pending: Option<(Checkpoint, u64)>,
    /// A checkpoint is being committed.
    busy: bool,
    /// The flow ends: the thread stops once nothing is pending.
    closed: bool,
    /// A commit failed: nothing more is committed, and the run stops.
    failed: Option<Diagnostic>,
}

impl Writer {
    fn run(self: Arc<Self>, store: Store, lease: Arc<Mutex<Lease>>, marks: Arc<tokio::sync::watch::Sender<Marks>>) {
        loop {
            let (checkpoint, at) = {
                let mut w = lock(&self.state);
                loop {
                    if w.failed.is_none() {
                        if let Some(p) = w.pending.take() {
                            w.busy = true;
                            break p;
                        }
                    }
                    if w.closed {
                        return;
                    }
                    w = self.wake.wait(w).unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            let lease = lock(&lease).clone();
            // A panic in the store must not leave `busy` set (`idle` would wait forever): it is
            // a failed commit like any other.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                lock(&store).checkpoint(&lease, &checkpoint, now())
            }))
            .unwrap_or_else(|_| {
                Err(StateError::Invalid {
                    what: "the checkpoint".into(),
                    detail: "its commit stopped on an internal error (please report it); it was not committed".into(),
                })
            })
            .map_err(|e| store_failure(&e));
            let mut w = lock(&self.state);
            w.busy = false;
            match result {
                Ok(_) => {
                    marks.send_modify(|m| {
                        m.durable = m.durable.max(at);
                        m.resends_after = checkpoint.counts.settled;
                    });
                }
                Err(d) => {
                    w.failed = Some(d);
                    // The reader may wait on the durable mark: it looks again, and sees the stop.
                    marks.send_modify(|_| {});
                }
            }
            self.wake.notify_all();
        }
    }

    /// Waits until nothing is pending or being committed; the failure of a commit, if one failed.
    fn idle(&self) -> Option<Diagnostic> {
        let mut w = lock(&self.state);
        while (w.pending.is_some() || w.busy) && w.failed.is_none() {
            w = self.wake.wait(w).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        w.failed.clone()
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.wake.notify_all();
    }
}

impl Drop for FlowStateRun {
    fn drop(&mut self) {
        self.writer.close();
        if let Some(t) = lock(&self.writer_thread).take() {
            let _ = t.join();
        }
    }
}

/// The monotonic time the `checkpoint_interval` trigger reads: the machine's, or a test's that
/// moves only when it is told to.
#[derive(Clone, Default)]
pub(crate) struct Clock(Option<Arc<Mutex<Instant>>>);

impl Clock {
    fn now(&self) -> Instant {
        self.0.as_ref().map_or_else(Instant::now, |t| *lock(t))
    }

    #[cfg(test)]
    fn manual() -> Clock {
        Clock(Some(Arc::new(Mutex::new(Instant::now()))))
    }

    #[cfg(test)]
    fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            let mut t = lock(t);
            *t += by;
        }
    }
}

/// Records settled past the watermark, by their distance from it: slot `i` is record
/// `watermark + 1 + i`. A ring whose capacity grows to the most records ever in flight at once
/// and is then reused, so settling a record is O(1) and allocates nothing (a map of them
/// allocated a node for nearly every record, as most settle in order).
#[derive(Default)]
struct Ahead {
    slots: VecDeque<Option<Settled>>,
    held: usize,
}

impl Ahead {
    /// Record `n` is settled, with every record up to `watermark` settled before it. A record
    /// at or below the watermark is already counted and is left out.
    fn insert(&mut self, watermark: u64, n: u64, s: Settled) {
        let Some(i) = n.checked_sub(watermark.saturating_add(1)).and_then(|i| usize::try_from(i).ok()) else { return };
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].replace(s).is_none() {
            self.held += 1;
        }
    }

    /// The record just past the watermark, if it is settled (the watermark then moves by one).
    fn pop_next(&mut self) -> Option<Settled> {
        let s = self.slots.front_mut()?.take()?;
        self.slots.pop_front();
        self.held -= 1;
        Some(s)
    }

    fn is_empty(&self) -> bool {
        self.held == 0
    }
}

struct Tracker {
    /// Every record up to here is settled.
    watermark: u64,
    /// Settled records past the watermark (they finished out of order).
    ahead: Ahead,
    /// The greatest cursor value at or below the watermark.
    max: Option<Cursor>,
    /// (cursor, key) of settled records at or below the watermark, kept within the window.
    boundary: Vec<(Cursor, Value)>,
    /// Pages read: the number of the last record of each, and where the page after it starts.
    pages: VecDeque<(u64, Option<PageAt>)>,
    pages_done: u64,
    /// The page after the last one whose records are all settled.
    position: Option<(u64, u64, PageAt)>,
    /// The pull read its last page.
    pull_done: bool,
    since_checkpoint: u64,
    last_checkpoint: Instant,
    /// The last checkpoint failed: the run stops.
    failed: Option<Diagnostic>,
}

impl FlowStateRun {
    /// Takes the flow's lease, records the run's start and reads the stored state.
    /// `Ok((state, note))`: the note says where the run starts from.
    pub(crate) fn begin(
        store: &Store,
        spec: &FlowState,
        flow: &str,
        created: bool,
    ) -> Result<(FlowStateRun, String), Diagnostic> {
        Self::begin_on(store, spec, flow, created, Clock::default())
    }

    /// [`FlowStateRun::begin`], with the interval trigger on `clock`.
    fn begin_on(
        store: &Store,
        spec: &FlowState,
        flow: &str,
        created: bool,
        clock: Clock,
    ) -> Result<(FlowStateRun, String), Diagnostic> {
        let holder = holder_text("run");
        let mut s = lock(store);
        let now = now();
        // The lease and the run's start in one commit: one wait for the disk before the run.
        let (lease, run) = match s.begin_run(flow, &holder, LEASE_TTL, now) {
            Ok(begun) => begun,
            // The holder was a run on this machine whose process is gone (killed): its lease is
            // as good as expired. Taken over as at its expiry (its runs are marked
            // interrupted), then renewed from now.
            Err(StateError::Locked { holder: other, expires_at, .. }) if holder_is_gone(&other) => {
                let at = chrono::DateTime::parse_from_rfc3339(&expires_at)
                    .map(|t| t.with_timezone(&Utc) + chrono::Duration::seconds(1))
                    .unwrap_or(now);
                let taken = s.acquire_lease(flow, &holder, LEASE_TTL, at.max(now)).map_err(|e| store_failure(&e))?;
                let mut renewed = s.renew_lease(&taken, LEASE_TTL, now).map_err(|e| store_failure(&e))?;
                renewed.took_over = taken.took_over;
                let run = s.start_run(&renewed, now).map_err(|e| store_failure(&e))?;
                (renewed, run)
            }
            Err(e) => return Err(store_failure(&e)),
        };
        let stored = s.flow_state(flow).map_err(|e| store_failure(&e))?;
        // The record this run resumes after: its numbering starts there.
        let base = stored.as_ref().and_then(|st| st.position.as_ref()).map_or(0, |p| p.records_done);
        // What the runs before may have sent that this one sends again: read before this run's
        // mark replaces the last one, and noted (with where this run starts, and the greatest
        // record at risk, in this run's numbering) before the mark is replaced, so that a
        // failure between the two loses nothing.
        let (resent, at_risk) = resent_by_previous(&**s, flow, run, base).map_err(|e| store_failure(&e))?;
        if resent.is_some() || base > 0 {
            s.note_resent(&lease, run, resent, base, at_risk).map_err(|e| store_failure(&e))?;
        }
        let mark = s.started_mark(flow, run, MARK_RESERVE, at_risk).map_err(|e| store_failure(&e))?;
        drop(s);
        let mut note = lease.took_over.as_ref().map_or_else(String::new, |t| format!("{} ", took_over_note(t)));
        match resent {
            Some(flow_state::Resent::AtMost { run, records }) => note.push_str(&format!(
                "run {} did not finish with every record it started in a checkpoint: {records} record{} it started past its last checkpoint {} read again, and may be sent twice. ",
                run.0,
                if records == 1 { "" } else { "s" },
                if records == 1 { "is" } else { "are" },
            )),
            Some(flow_state::Resent::Unknown { run }) => note.push_str(&format!(
                "run {} was interrupted, and how many records it started past its last checkpoint is not known (the machine restarted since, or its mark is gone): those records are read again, and may be sent twice. ",
                run.0
            )),
            None => {}
        }
        let initial = as_cursor(&spec.initial, spec.ty);
        let (committed, resume, seen) = match stored {
            None => {
                note.push_str(&format!(
                    "no stored state{}: starting from the declared initial value {}",
                    if created { " (a new state store)" } else { "" },
                    initial.as_ref().map_or_else(String::new, Cursor::text)
                ));
                (initial, None, HashSet::new())
            }
            Some(st) => {
                if let Some(c) = &st.cursor {
                    if c.type_name() != spec.ty.name() {
                        return Err(Diagnostic::new(
                            codes::STATE_MISMATCH,
                            format!(
                                "the stored cursor of flow `{flow}` is a {} ({}), the flow declares a {}: nothing was changed",
                                c.type_name(),
                                c.text(),
                                spec.ty.name()
                            ),
                        )
                        .help("set it explicitly (`flowc state set`) or reset it (`flowc state reset`)"));
                    }
                }
                let cursor = st.cursor.clone().or(initial);
                match &st.position {
                    Some(p) => note.push_str(&format!(
                        "resuming the interrupted pull after page {} ({} records done) under cursor {}",
                        p.pages_done,
                        p.records_done,
                        cursor.as_ref().map_or_else(String::new, Cursor::text)
                    )),
                    None => note.push_str(&format!(
                        "starting from the stored cursor {}",
                        cursor.as_ref().map_or_else(String::new, Cursor::text)
                    )),
                }
                (cursor, st.position.clone(), st.boundary.into_iter().collect())
            }
        };
        let watermark = resume.as_ref().map_or(0, |p| p.records_done);
        let track = Tracker {
            watermark,
            ahead: Ahead::default(),
            max: resume.as_ref().and_then(|p| p.seen_max.clone()).or_else(|| committed.clone()),
            boundary: Vec::new(),
            pages: VecDeque::new(),
            pages_done: resume.as_ref().map_or(0, |p| p.pages_done),
            position: None,
            pull_done: false,
            since_checkpoint: 0,
            last_checkpoint: clock.now(),
            failed: None,
        };
        let lease = Arc::new(Mutex::new(lease));
        let settled = Arc::new(tokio::sync::watch::Sender::new(Marks {
            live: watermark,
            durable: watermark,
            resends_after: watermark,
        }));
        let writer = Arc::new(Writer { state: Mutex::new(WriterState::default()), wake: Condvar::new() });
        let writer_thread = {
            let (writer, store, lease, settled) = (writer.clone(), store.clone(), lease.clone(), settled.clone());
            std::thread::Builder::new()
                .name(format!("checkpoints of {flow}"))
                .spawn(move || writer.run(store, lease, settled))
                .map_err(|e| Diagnostic::new(codes::STATE_STORE, format!("cannot start the checkpoint writer: {e}")))?
        };
        let state = FlowStateRun {
            spec: spec.clone(),
            store: store.clone(),
            lease,
            run,
            committed,
            resume,
            seen,
            track: Mutex::new(track),
            settled,
            writer,
            writer_thread: Mutex::new(Some(writer_thread)),
            clock,
            started: std::sync::atomic::AtomicU64::new(at_risk),
            mark: Mutex::new(mark),
            resent,
        };
        Ok((state, note))
    }

    /// The value steps read as `state`: `{ NAME: cursor less the lag }`.
    pub(crate) fn binding(&self) -> Value {
        let value = match &self.committed {
            Some(Cursor::DateTime(t)) if self.spec.lag_ms > 0 => Value::DateTime(
                *t - chrono::Duration::milliseconds(i64::try_from(self.spec.lag_ms).unwrap_or(i64::MAX)),
            ),
            Some(c) => cursor_value(c),
            None => self.spec.initial.clone(),
        };
        Value::Object(vec![(Key::new(&self.spec.name), value)])
    }

    fn entry_of(&self, record: &Value) -> Option<(Cursor, String)> {
        let key = path_value(record, self.spec.key.as_deref()?)?;
        let cursor = as_cursor(path_value(record, &self.spec.from)?, self.spec.ty)?;
        let entry = boundary_entry(&key_text(key), &cursor);
        Some((cursor, entry))
    }

    /// Whether an earlier run delivered this record at this same cursor value (a boundary
    /// record, fetched again by a `>=` filter or the lag): it is not delivered again.
    pub(crate) fn already_delivered(&self, record: &Value) -> bool {
        !self.seen.is_empty() && self.entry_of(record).is_some_and(|(_, e)| self.seen.contains(&e))
    }

    /// Record `n` of the state's source is about to start: the mark of started records covers
    /// it before this returns. A mark that cannot be written stops the run (R0014).
    pub(crate) fn starting(&self, n: u64) -> Result<(), Diagnostic> {
        self.started.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
        let mut mark = lock(&self.mark);
        let Some(m) = mark.as_mut() else { return Ok(()) };
        m.starting(n).map_err(|e| {
            Diagnostic::new(
                codes::STATE_STORE,
                format!(
                    "the state store's mark of started records {} cannot be written ({e}): nothing more is sent",
                    m.location().display()
                ),
            )
            .help("make the store's folder writable (and check the disk is not full)")
        })
    }

    /// The watermark and the greatest record started, in the counts a checkpoint commits.
    fn progress(&self, mut counts: RunCounts, settled: u64) -> RunCounts {
        counts.settled = settled;
        counts.started = self.started.load(std::sync::atomic::Ordering::SeqCst).max(settled);
        counts
    }

    /// A page of the pull was read: its last record's number and where the next page starts.
    pub(crate) fn page_read(&self, last_record: u64, next: Option<PageAt>) {
        let mut t = lock(&self.track);
        if next.is_none() {
            t.pull_done = true;
        }
        t.pages.push_back((last_record, next));
        t.advance_pages();
    }

    /// Record `n` is delivered, filtered out or dead-lettered (`record`: as decoded, if it was).
    /// Commits a checkpoint when one is due. Returns a failure to stop the run with.
    /// `counts`: the run's counters, read only when a checkpoint is taken.
    pub(crate) fn settle(
        &self,
        n: u64,
        record: Option<&Value>,
        counts: impl FnOnce() -> RunCounts,
    ) -> Option<Diagnostic> {
        let settled = Settled {
            cursor: record.and_then(|r| path_value(r, &self.spec.from)).and_then(|v| as_cursor(v, self.spec.ty)),
            key: self.spec.key.as_deref().and_then(|k| path_value(record?, k)).cloned(),
        };
        let mut t = lock(&self.track);
        if t.failed.is_some() {
            return None;
        }
        let watermark = t.watermark;
        t.ahead.insert(watermark, n, settled);
        while let Some(s) = t.ahead.pop_next() {
            t.watermark += 1;
            t.since_checkpoint += 1;
            if let Some(c) = s.cursor {
                if let Some(key) = s.key {
                    t.boundary.push((c.clone(), key));
                }
                if t.max.as_ref().is_none_or(|m| after(&c, m)) {
                    t.max = Some(c);
                }
            }
        }
        t.advance_pages();
        self.settled.send_if_modified(|m| std::mem::replace(&mut m.live, t.watermark) != t.watermark);
        if let Some(d) = lock(&self.writer.state).failed.clone() {
            t.failed = Some(d.clone());
            return Some(d);
        }
        let due = t.since_checkpoint >= self.spec.checkpoint_every
            || self.clock.now().saturating_duration_since(t.last_checkpoint)
                >= Duration::from_millis(self.spec.checkpoint_interval_ms);
        if due {
            // Taken here, committed by the writer: the lock is not held while the disk works.
            let checkpoint = self.take(&mut t, counts(), false);
            let at = t.watermark;
            // Handed over before the tracker's lock is let go (the order of `failed` above:
            // tracker, then writer), so a checkpoint taken later is always handed over later
            // and an older one never replaces a newer one.
            lock(&self.writer.state).pending = Some((checkpoint, at));
            drop(t);
            self.writer.wake.notify_all();
        }
        None
    }

    /// Waits until record `n` is at most `window` records past the watermark, or `go` says it
    /// may start anyway (the flow stops, or nothing else is in flight).
    /// Records finish out of order; without this bound one slow record would let the others run
    /// arbitrarily far ahead of the watermark, and a crash would send all of those again.
    ///
    /// Checkpoints are committed while records go on; a record starts only while it is within
    /// `checkpoint_every` and two windows of the last one committed, so a disk that is slow to
    /// commit holds the reader back rather than letting a crash send more again.
    pub(crate) async fn within_window(&self, n: u64, window: u64, go: impl Fn() -> bool, stopping: impl Fn() -> bool) {
        let mut watermark = self.settled.subscribe();
        let reach = self.spec.checkpoint_every.saturating_add(window.saturating_mul(2));
        loop {
            let m = *watermark.borrow_and_update();
            // A commit that failed stops the run: the record starts, and its settling says so.
            if stopping()
                || lock(&self.writer.state).failed.is_some()
                || (n <= m.durable.saturating_add(reach) && (n <= m.live.saturating_add(window) || go()))
            {
                return;
            }
            // A stop, and a task finishing, set no notification: look again now and then. This
            // bounds how long the reader waits here, never what is sent.
            let _ = tokio::time::timeout(Duration::from_millis(50), watermark.changed()).await;
        }
    }

    /// The checkpoint at the watermark, to commit (by the writer, or by `end`).
    fn take(&self, t: &mut Tracker, counts: RunCounts, complete: bool) -> Checkpoint {
        let (cursor, position) = if complete || self.spec.sorted {
            (t.max.clone().or_else(|| self.committed.clone()), None)
        } else {
            let position = t.position.as_ref().map(|(pages, records, next)| PullPosition {
                next: next.clone(),
                pages_done: *pages,
                records_done: *records,
                seen_max: t.max.clone(),
            });
            // Nothing fully done yet in this pull: keep the position it resumed at.
            (self.committed.clone(), position.or_else(|| self.resume.clone()))
        };
        // Boundary entries within the window below the committed cursor: what the next pull
        // (asked from the cursor less the lag) may return again.
        let floor = cursor.as_ref().map(|c| match c {
            Cursor::DateTime(x) => Cursor::DateTime(
                *x - chrono::Duration::milliseconds(i64::try_from(self.spec.lag_ms).unwrap_or(i64::MAX)),
            ),
            other => other.clone(),
        });
        let keep = |c: &Cursor| floor.as_ref().is_none_or(|f| !after(f, c));
        t.boundary.retain(|(c, _)| keep(c));
        let mut boundary: Vec<String> = t.boundary.iter().map(|(c, k)| boundary_entry(&key_text(k), c)).collect();
        // Entries of earlier runs stay while they are in the window (a resumed unsorted pull
        // may meet them again on a later page).
        for e in &self.seen {
            let c: Option<Cursor> = serde_json::from_str::<(String, String)>(e)
                .ok()
                .and_then(|(_, text)| Cursor::from_text(self.spec.ty.name(), &text));
            if c.as_ref().is_some_and(keep) && !boundary.contains(e) {
                boundary.push(e.clone());
            }
        }
        boundary.sort();
        boundary.dedup();
        t.since_checkpoint = 0;
        t.last_checkpoint = self.clock.now();
        // The record the next run sends again after: the watermark, but for an unsorted source
        // without a key mid-pull the start of the page it resumes at (it reads that page again,
        // and no boundary entry says which of its records were delivered).
        let resends_after = match &position {
            _ if complete || self.spec.sorted || self.spec.key.is_some() => t.watermark,
            Some(p) => p.records_done.min(t.watermark),
            None => 0,
        };
        let counts = self.progress(counts, resends_after);
        Checkpoint { run: self.run, cursor, boundary, position, counts }
    }

    /// Waits until every checkpoint taken so far is committed (tests read the store after it).
    #[cfg(test)]
    fn committed(&self) {
        let _ = self.writer.idle();
    }

    /// Extends the lease; called periodically while the flow runs.
    pub(crate) fn renew(&self) -> Result<(), Diagnostic> {
        let lease = lock(&self.lease).clone();
        let renewed = lock(&self.store).renew_lease(&lease, LEASE_TTL, now()).map_err(|e| store_failure(&e))?;
        *lock(&self.lease) = renewed;
        Ok(())
    }

    /// The flow's end: its last checkpoint (at the watermark, with the new cursor if the pull
    /// completed with every record settled), how the run ended, and the lease given up — one
    /// transaction, committed after every checkpoint taken before it. When a checkpoint failed
    /// (or this one fails), no checkpoint is committed over it: the run is recorded `failed`
    /// and the failure returned.
    pub(crate) fn end(
        &self,
        status: flow_state::RunStatus,
        counts: RunCounts,
        error: Option<String>,
    ) -> Result<(), Diagnostic> {
        // The checkpoints taken before are committed first (in order), then this one, here.
        let failed = self.writer.idle();
        let mut t = lock(&self.track);
        let failed = match t.failed.clone().or(failed) {
            Some(d) => d,
            None => {
                // Every page read, and every record of every page settled.
                let complete = t.pull_done && t.ahead.is_empty() && t.pages.is_empty();
                let checkpoint = self.take(&mut t, counts, complete);
                let lease = lock(&self.lease).clone();
                let end = flow_state::RunEnd { status, counts: checkpoint.counts, error: error.clone() };
                match lock(&self.store).end_run(&lease, Some(&checkpoint), self.run, &end, now()) {
                    Ok(()) => {
                        let at = t.watermark;
                        self.settled.send_modify(|m| m.durable = m.durable.max(at));
                        return Ok(());
                    }
                    Err(e) => store_failure(&e),
                }
            }
        };
        drop(t);
        // The run's end without a checkpoint, as well as the store still takes it: settled as
        // far as the last checkpoint committed.
        let lease = lock(&self.lease).clone();
        let counts = self.progress(counts, self.settled.borrow().resends_after);
        let end = flow_state::RunEnd { status: flow_state::RunStatus::Failed, counts, error };
        let _ = lock(&self.store).end_run(&lease, None, self.run, &end, now());
        Err(failed)
    }
}

/// What the runs of `flow` before `run` (not replays) may have sent that `run` sends again,
/// and the greatest record number at risk, in `run`'s numbering (which starts after `base`):
/// the records the run before started past its last committed checkpoint. A run that
/// succeeded settled them all; one that failed or stopped recorded how far it got when it
/// ended; one that was interrupted (killed) left its mark of started records beside the
/// store. A run that reads again records of the runs before it counts them as its own started
/// records from its start (its row and its mark), so what a run after it is told covers them
/// too until a checkpoint gets past them; a run told "not known" passes that on until a run
/// succeeds.
fn resent_by_previous(
    store: &dyn StateStore,
    flow: &str,
    run: RunId,
    base: u64,
) -> Result<(Option<flow_state::Resent>, u64), StateError> {
    use flow_state::{Resent, RunStatus};
    let before = store.runs(Some(flow), 64)?.into_iter().find(|r| r.id != run && !r.holder.starts_with("flowc replay"));
    let Some(before) = before else { return Ok((None, base)) };
    if before.status == RunStatus::Succeeded {
        return Ok((None, base));
    }
    if let Some(Resent::Unknown { run }) = before.resent {
        return Ok((Some(Resent::Unknown { run }), base));
    }
    let started = match before.status {
        RunStatus::Succeeded => return Ok((None, base)),
        RunStatus::Failed | RunStatus::Stopped => before.counts.started,
        RunStatus::Interrupted | RunStatus::Running => match store.last_started(flow) {
            Some(seen) if seen.run == before.id && seen.same_boot => seen.started_at_most.max(before.counts.started),
            _ => return Ok((Some(Resent::Unknown { run: before.id }), base)),
        },
    };
    let records = started.saturating_sub(before.counts.settled);
    // A resumed pull numbers its records as the run before did; a fresh one from 0, its first
    // records being those the run before started past its checkpoint.
    let at_risk = if base > 0 { started.max(base + records) } else { records };
    Ok(((records > 0).then_some(Resent::AtMost { run: before.id, records }), at_risk))
}

impl Tracker {
    /// Moves the position past every page whose records are all settled.
    fn advance_pages(&mut self) {
        while let Some((last, _)) = self.pages.front() {
            if *last > self.watermark {
                break;
            }
            let Some((last, next)) = self.pages.pop_front() else { break };
            self.pages_done += 1;
            if let Some(next) = next {
                self.position = Some((self.pages_done, last, next));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn spec(ty: CursorType, initial: Value, sorted: bool, every: u64) -> FlowState {
        FlowState {
            name: "since".into(),
            ty,
            initial,
            from: vec![Key::new("at")],
            key: Some(vec![Key::new("id")]),
            lag_ms: 0,
            sorted,
            checkpoint_every: every,
            checkpoint_interval_ms: 3_600_000,
            store_key: None,
            step: 0,
            span: flow_diagnostics::Span::new(0, 0),
        }
    }

    fn record(id: &str, at: i64) -> Value {
        Value::Object(vec![(Key::new("id"), Value::Str(id.into())), (Key::new("at"), Value::Int(at))])
    }

    fn stored(store: &Store) -> flow_state::FlowState {
        lock(store).flow_state("f").expect("readable").expect("a state")
    }

    #[test]
    fn ahead_gives_records_back_in_order_and_reuses_its_slots() {
        let settled = |at: i64| Settled { cursor: Some(Cursor::Int(at)), key: None };
        let mut ahead = Ahead::default();
        let mut watermark = 0;
        let drain = |ahead: &mut Ahead, watermark: &mut u64| {
            let mut got = Vec::new();
            while let Some(s) = ahead.pop_next() {
                *watermark += 1;
                got.push(s.cursor);
            }
            got
        };
        // 3 and 2 finish before 1: nothing moves until 1 does, then all three in order.
        ahead.insert(watermark, 3, settled(3));
        ahead.insert(watermark, 2, settled(2));
        assert!(drain(&mut ahead, &mut watermark).is_empty());
        assert!(!ahead.is_empty());
        ahead.insert(watermark, 1, settled(1));
        assert_eq!(
            drain(&mut ahead, &mut watermark),
            [Some(Cursor::Int(1)), Some(Cursor::Int(2)), Some(Cursor::Int(3))]
        );
        assert_eq!(watermark, 3);
        assert!(ahead.is_empty());
        // A record at or below the watermark is already counted: left out.
        ahead.insert(watermark, 2, settled(99));
        assert!(ahead.is_empty() && drain(&mut ahead, &mut watermark).is_empty());
        // Settled twice past the watermark: counted once.
        ahead.insert(watermark, 5, settled(5));
        ahead.insert(watermark, 5, settled(5));
        ahead.insert(watermark, 4, settled(4));
        assert_eq!(drain(&mut ahead, &mut watermark).len(), 2);
        assert!(ahead.is_empty());
        // Many records, at most 16 in flight, finishing in reverse within each group: the ring
        // stops growing once it holds the most in flight.
        let mut capacity = None;
        for group in 0..1000u64 {
            for i in (1..=16).rev() {
                let n = 5 + group * 16 + i;
                ahead.insert(watermark, n, settled(i64::try_from(n).unwrap()));
            }
            assert_eq!(drain(&mut ahead, &mut watermark).len(), 16);
            let now = ahead.slots.capacity();
            assert!(capacity.is_none_or(|c| c == now), "the ring grew after warming up");
            capacity = Some(now);
        }
        assert_eq!(watermark, 5 + 16 * 1000);
        assert!(ahead.is_empty());
    }

    #[test]
    fn a_store_that_cannot_be_read_is_r0014_and_is_left_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.sqlite");
        std::fs::write(&path, b"not a database, and not empty").expect("write");
        let Err(d) = open(&path, None) else { panic!("opened a damaged store") };
        assert_eq!(d.code, codes::STATE_STORE.id);
        assert_eq!(std::fs::read(&path).expect("read"), b"not a database, and not empty");
    }

    #[test]
    fn a_second_run_of_the_same_flow_is_refused_naming_the_holder_r0015() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, created) = open(&dir.path().join("s.sqlite"), None).expect("open");
        assert!(created);
        let spec = spec(CursorType::Int, Value::Int(0), true, 10);
        let (_first, note) = FlowStateRun::begin(&store, &spec, "f", created).expect("first run");
        assert!(note.contains("starting from the declared initial value 0"), "{note}");
        let Err(d) = FlowStateRun::begin(&store, &spec, "f", false) else { panic!("two writers") };
        assert_eq!(d.code, codes::STATE_LOCKED.id);
        assert!(d.message.contains("flowc run (process"), "{}", d.message);
    }

    /// Past PID_MAX_LIMIT (2^22): no process has it.
    const NO_SUCH_PID: u32 = (1 << 22) + 1;

    #[test]
    fn a_holder_is_gone_only_if_its_process_is_not_found_in_our_namespace_and_boot() {
        let (host, ns) = ("box", "pid namespace pid:[4026531836], boot 1f2e");
        let holder = |kind: &str, pid: u32, rest: &str| format!("flowc {kind} (process {pid} on {rest})");
        // A live process (our own) is not gone; one that does not exist, in our namespace, is.
        assert!(!holder_is_gone_in(&holder("run", std::process::id(), &format!("{host}, {ns}")), host, ns));
        assert!(holder_is_gone_in(&holder("run", NO_SUCH_PID, &format!("{host}, {ns}")), host, ns));
        assert!(holder_is_gone_in(&holder("replay", NO_SUCH_PID, &format!("{host}, {ns}")), host, ns));
        // Another PID namespace, another boot, another host: not looked up, never gone.
        let other_ns = "pid namespace pid:[4026532999], boot 1f2e";
        let other_boot = "pid namespace pid:[4026531836], boot 9a9a";
        assert!(!holder_is_gone_in(&holder("run", NO_SUCH_PID, &format!("{host}, {other_ns}")), host, ns));
        assert!(!holder_is_gone_in(&holder("run", NO_SUCH_PID, &format!("{host}, {other_boot}")), host, ns));
        assert!(!holder_is_gone_in(&holder("run", NO_SUCH_PID, &format!("other, {ns}")), host, ns));
        // The old format names no namespace: it waits for the lease to expire.
        assert!(!holder_is_gone_in(&holder("run", NO_SUCH_PID, host), host, ns));
        // Where our namespace cannot be read, nothing is judged gone.
        assert!(!holder_is_gone_in(&holder("run", NO_SUCH_PID, &format!("{host}, ")), host, ""));
        assert!(!process_exists(NO_SUCH_PID));
        assert!(process_exists(std::process::id()));
    }

    #[test]
    fn this_process_names_its_namespace_in_its_lease_and_is_not_gone() {
        let holder = holder_text("run");
        if !namespace().is_empty() {
            assert!(holder.ends_with(&format!(", {})", namespace())), "{holder}");
        }
        assert!(!holder_is_gone(&holder), "{holder}");
    }

    #[test]
    fn a_live_replays_lease_is_refused_to_a_run_r0015() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, created) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let _replay = replay_lease(&store, "f").expect("the replay's lease");
        let spec = spec(CursorType::Int, Value::Int(0), true, 10);
        let Err(d) = FlowStateRun::begin(&store, &spec, "f", created) else {
            panic!("a run took a live replay's lease")
        };
        assert_eq!(d.code, codes::STATE_LOCKED.id);
        assert!(d.message.contains("flowc replay (process"), "{}", d.message);
    }

    #[test]
    fn the_note_of_a_lease_taken_over_names_a_replay_as_a_replay() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").expect("time").with_timezone(&Utc);
        let taken =
            |holder: &str| flow_state::TakenOver { holder: holder.into(), expired_at: at, interrupted_runs: vec![] };
        let replay = took_over_note(&taken("flowc replay (process 7 on box)"));
        assert_eq!(
            replay,
            "the lease of flowc replay (process 7 on box) expired at 2026-12-01T10:00:00+00:00 (the replay was killed); taken over, its runs marked interrupted."
        );
        assert!(took_over_note(&taken("flowc run (process 7 on box)")).contains("(the run was killed)"));
    }

    #[test]
    fn a_stored_cursor_of_another_type_is_r0016_not_a_fresh_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let int = spec(CursorType::Int, Value::Int(0), true, 1);
        let (run, _) = FlowStateRun::begin(&store, &int, "f", true).expect("run");
        assert!(run.settle(1, Some(&record("a", 5)), RunCounts::default).is_none());
        run.end(flow_state::RunStatus::Succeeded, RunCounts::default(), None).expect("end");
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").expect("time");
        let dt = spec(CursorType::DateTime, Value::DateTime(at), true, 1);
        let Err(d) = FlowStateRun::begin(&store, &dt, "f", false) else { panic!("started afresh") };
        assert_eq!(d.code, codes::STATE_MISMATCH.id);
        assert_eq!(stored(&store).cursor, Some(Cursor::Int(5)));
    }

    /// Records finishing out of order: the cursor advances only past records all settled.
    #[test]
    fn the_checkpoint_is_a_low_watermark_over_records_in_flight() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let (run, _) =
            FlowStateRun::begin(&store, &spec(CursorType::Int, Value::Int(0), true, 1), "f", true).expect("run");
        run.page_read(4, None);
        // Record 1 is still in flight: 2, 3 and 4 finish first, and nothing passes record 1.
        for (n, at) in [(2, 20), (4, 40), (3, 30)] {
            assert!(run.settle(n, Some(&record(&format!("r{n}"), at)), RunCounts::default).is_none());
        }
        run.committed();
        assert!(lock(&store).flow_state("f").expect("readable").is_none_or(|s| s.cursor.is_none()));
        assert!(run.settle(1, Some(&record("r1", 10)), RunCounts::default).is_none());
        run.committed();
        assert_eq!(stored(&store).cursor, Some(Cursor::Int(40)));
    }

    /// A checkpoint that is due is committed by the flow's writer thread: the task that settles
    /// the record returns while the store is busy (here: held by the test), instead of waiting
    /// for the disk with the tracker's lock held (which stalled the other settling tasks and a
    /// worker thread of the runtime for every commit).
    #[test]
    fn settling_a_record_never_waits_for_a_checkpoint_to_be_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let (run, _) =
            FlowStateRun::begin(&store, &spec(CursorType::Int, Value::Int(0), true, 1), "f", true).expect("run");
        let run = Arc::new(run);
        run.page_read(2, None);
        let busy = lock(&store);
        let (tx, rx) = std::sync::mpsc::channel();
        let settling = {
            let run = run.clone();
            std::thread::spawn(move || {
                let failed = run.settle(1, Some(&record("r1", 10)), RunCounts::default);
                let _ = tx.send(failed.is_none());
            })
        };
        // Only a broken build waits here; a working one answers at once.
        let answered = rx.recv_timeout(Duration::from_secs(60));
        drop(busy);
        settling.join().expect("join");
        assert_eq!(answered, Ok(true), "settle waited for the store");
        run.committed();
        assert_eq!(stored(&store).cursor, Some(Cursor::Int(10)));
    }

    /// With `checkpoint_every` out of reach, a checkpoint is committed once `checkpoint_interval`
    /// has passed on the run's clock — a test clock here, so nothing sleeps and nothing races.
    #[test]
    fn a_checkpoint_is_due_once_its_interval_has_passed_on_the_runs_clock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let mut every = spec(CursorType::Int, Value::Int(0), true, 1_000_000);
        every.checkpoint_interval_ms = 5_000;
        let clock = Clock::manual();
        let (run, _) = FlowStateRun::begin_on(&store, &every, "f", true, clock.clone()).expect("run");
        run.page_read(4, None);
        let nothing_stored = || {
            run.committed();
            lock(&store).flow_state("f").expect("readable").is_none_or(|s| s.cursor.is_none())
        };
        assert!(run.settle(1, Some(&record("r1", 10)), RunCounts::default).is_none());
        assert!(nothing_stored(), "no time has passed");
        clock.advance(Duration::from_millis(4_999));
        assert!(run.settle(2, Some(&record("r2", 20)), RunCounts::default).is_none());
        assert!(nothing_stored(), "a millisecond short of the interval");
        clock.advance(Duration::from_millis(1));
        assert!(run.settle(3, Some(&record("r3", 30)), RunCounts::default).is_none());
        run.committed();
        assert_eq!(stored(&store).cursor, Some(Cursor::Int(30)));
        assert_eq!(stored(&store).checkpoints, 1);
        // The interval starts again from that checkpoint.
        clock.advance(Duration::from_millis(4_999));
        assert!(run.settle(4, Some(&record("r4", 40)), RunCounts::default).is_none());
        run.committed();
        assert_eq!(stored(&store).cursor, Some(Cursor::Int(30)));
    }

    /// An unsorted source: mid-pull, only the page position is committed, under the old cursor;
    /// the cursor moves when the pull completes.
    #[test]
    fn an_unsorted_source_commits_its_cursor_only_when_the_pull_completes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let (run, _) =
            FlowStateRun::begin(&store, &spec(CursorType::Int, Value::Int(0), false, 1), "f", true).expect("run");
        run.page_read(2, Some(PageAt::Cursor { value: "2".into() }));
        assert!(run.settle(1, Some(&record("b", 50)), RunCounts::default).is_none());
        assert!(run.settle(2, Some(&record("a", 10)), RunCounts::default).is_none());
        run.committed();
        let mid = stored(&store);
        assert_eq!(mid.cursor, Some(Cursor::Int(0)), "the old cursor stays mid-pull");
        let p = mid.position.expect("a position");
        assert_eq!((p.next, p.pages_done, p.records_done), (PageAt::Cursor { value: "2".into() }, 1, 2));
        assert_eq!(p.seen_max, Some(Cursor::Int(50)));
        run.page_read(3, None);
        assert!(run.settle(3, Some(&record("c", 30)), RunCounts::default).is_none());
        run.end(flow_state::RunStatus::Succeeded, RunCounts::default(), None).expect("end");
        let end = stored(&store);
        assert_eq!((end.cursor, end.position), (Some(Cursor::Int(50)), None));
        assert_eq!(end.boundary, vec![boundary_entry("b", &Cursor::Int(50))]);
    }

    /// A run "killed": its lease given up behind it, its row left `running`, its mark as it was.
    fn killed(run: &FlowStateRun) {
        let lease = lock(&run.lease).clone();
        lock(&run.store).release_lease(&lease).expect("release");
    }

    fn resent(run: &FlowStateRun) -> Option<flow_state::Resent> {
        run.resent
    }

    /// A resumed unsorted pull killed before its first checkpoint: the records it may have sent
    /// are counted from where it resumed (its numbering starts there), not from 0.
    #[test]
    fn a_resumed_pull_killed_before_its_first_checkpoint_counts_from_where_it_resumed() {
        use flow_state::Resent;
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let unsorted = spec(CursorType::Int, Value::Int(0), false, 1);
        let (a, _) = FlowStateRun::begin(&store, &unsorted, "f", true).expect("run a");
        a.page_read(2, Some(PageAt::Cursor { value: "2".into() }));
        assert!(a.settle(1, Some(&record("a", 1)), RunCounts::default).is_none());
        assert!(a.settle(2, Some(&record("b", 2)), RunCounts::default).is_none());
        a.committed();
        a.end(flow_state::RunStatus::Failed, RunCounts::default(), None).expect("end a");
        let (b, _) = FlowStateRun::begin(&store, &unsorted, "f", false).expect("run b");
        assert_eq!(b.resume.as_ref().map(|p| p.records_done), Some(2));
        assert_eq!(resent(&b), None, "a settled all it started");
        b.starting(3).expect("mark");
        killed(&b);
        let (c, _) = FlowStateRun::begin(&store, &unsorted, "f", false).expect("run c");
        // b started at most records 3..=18 (one reservation of 16), not 18.
        assert_eq!(resent(&c), Some(Resent::AtMost { run: b.run, records: 16 }));
    }

    /// Two failed runs in a row: the second never got past what the first had started, so the
    /// third is told of the first one's records as well.
    #[test]
    fn records_at_risk_are_carried_through_runs_that_do_not_get_past_them() {
        use flow_state::Resent;
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let sorted = spec(CursorType::Int, Value::Int(0), true, 1_000);
        let (a, _) = FlowStateRun::begin(&store, &sorted, "f", true).expect("run a");
        for n in 1..=16 {
            a.starting(n).expect("mark");
        }
        a.end(flow_state::RunStatus::Failed, RunCounts::default(), None).expect("end a");
        let (b, _) = FlowStateRun::begin(&store, &sorted, "f", false).expect("run b");
        assert_eq!(resent(&b), Some(Resent::AtMost { run: a.run, records: 16 }));
        b.end(flow_state::RunStatus::Failed, RunCounts::default(), None).expect("end b");
        let (c, _) = FlowStateRun::begin(&store, &sorted, "f", false).expect("run c");
        assert_eq!(resent(&c), Some(Resent::AtMost { run: b.run, records: 16 }));
        // Killed this time: its mark carries them too.
        killed(&c);
        let (d, _) = FlowStateRun::begin(&store, &sorted, "f", false).expect("run d");
        assert_eq!(resent(&d), Some(Resent::AtMost { run: c.run, records: 16 }));
        // A run that settles past them (here: all of them, and succeeds) clears the count.
        d.page_read(20, None);
        for n in 1..=20 {
            d.starting(n).expect("mark");
            assert!(d
                .settle(n, Some(&record(&format!("r{n}"), i64::try_from(n).expect("n"))), RunCounts::default)
                .is_none());
        }
        d.end(flow_state::RunStatus::Succeeded, RunCounts::default(), None).expect("end d");
        let (e, _) = FlowStateRun::begin(&store, &sorted, "f", false).expect("run e");
        assert_eq!(resent(&e), None);
    }

    /// An unsorted source without a key: a resumed pull reads again, and sends again, the whole
    /// page it resumes at (no boundary entry says which of its records were delivered), so
    /// they are counted from the page's start, not from the watermark.
    #[test]
    fn an_unsorted_source_without_a_key_counts_the_page_it_resends_from_its_start() {
        use flow_state::Resent;
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = open(&dir.path().join("s.sqlite"), None).expect("open");
        let mut keyless = spec(CursorType::Int, Value::Int(0), false, 1);
        keyless.key = None;
        let (a, _) = FlowStateRun::begin(&store, &keyless, "f", true).expect("run a");
        a.page_read(2, Some(PageAt::Cursor { value: "2".into() }));
        a.page_read(4, Some(PageAt::Cursor { value: "4".into() }));
        for n in 1..=4 {
            a.starting(n).expect("mark");
        }
        // Page 1 done, and record 3 of page 2: the watermark is 3, the position page 2's start.
        for n in 1..=3 {
            assert!(a.settle(n, Some(&record(&format!("r{n}"), 1)), RunCounts::default).is_none());
        }
        a.end(flow_state::RunStatus::Failed, RunCounts::default(), None).expect("end a");
        let (b, _) = FlowStateRun::begin(&store, &keyless, "f", false).expect("run b");
        assert_eq!(b.resume.as_ref().map(|p| p.records_done), Some(2));
        // Records 3 and 4 are read and sent again (3 delivered before, 4 perhaps).
        assert_eq!(resent(&b), Some(Resent::AtMost { run: a.run, records: 2 }));
    }

    /// A run told that how many may have been sent twice is not known, and that then fails,
    /// passes "not known" on: it cannot say it got past records it does not know of.
    #[test]
    fn not_known_is_passed_on_until_a_run_succeeds() {
        use flow_state::Resent;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite");
        let (store, _) = open(&path, None).expect("open");
        let sorted = spec(CursorType::Int, Value::Int(0), true, 1_000);
        let (a, _) = FlowStateRun::begin(&store, &sorted, "f", true).expect("run a");
        a.starting(1).expect("mark");
        killed(&a);
        std::fs::remove_file(flow_state::StartedMark::path(&path, "f")).expect("the mark");
        let (b, _) = FlowStateRun::begin(&store, &sorted, "f", false).expect("run b");
        assert_eq!(resent(&b), Some(Resent::Unknown { run: a.run }));
        b.end(flow_state::RunStatus::Failed, RunCounts::default(), None).expect("end b");
        let (c, _) = FlowStateRun::begin(&store, &sorted, "f", false).expect("run c");
        assert_eq!(resent(&c), Some(Resent::Unknown { run: a.run }));
        c.end(flow_state::RunStatus::Succeeded, RunCounts::default(), None).expect("end c");
        let (d, _) = FlowStateRun::begin(&store, &sorted, "f", false).expect("run d");
        assert_eq!(resent(&d), None);
    }
}
