//! The durable state of flows: typed cursors, in-pull resume positions, checkpoints, the
//! single-writer lease, run history and dead letters, behind one small interface,
//! [`StateStore`], with an embedded SQLite implementation, [`SqliteStore`].
//!
//! `flow_runtime` (its `state.rs`) uses it for flows that declare `state`; see docs/state.md.
//!
//! What this crate must never know: the Plan, the checker, HTTP, tokio, the `.flow` language or
//! its diagnostics codes. It stores what it is given — flow names, typed cursor values, opaque
//! record JSON text and error texts — and answers with [`StateError`]s a caller maps to its own
//! codes. It never sees a secret: the encryption key arrives as bytes ([`StoreKey`]) and is
//! never written anywhere; only a key check value (a known text sealed with the key) is stored.
//! Clock-dependent operations take "now" as an argument, so tests use a test clock.

mod crypt;
mod error;
mod sqlite;
mod started;
mod types;

pub use crypt::StoreKey;
pub use error::StateError;
pub use sqlite::{SqliteStore, SCHEMA_VERSION};
pub use started::{StartedMark, StartedSeen};
pub use types::*;

use chrono::{DateTime, Utc};
use std::time::Duration;

/// Results of this crate.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// A store opened by an implementation's `open`: the store, and whether it was created just now
/// (the caller reports "no state yet: starting from the declared initial value").
#[derive(Debug)]
pub struct Opened<S> {
    pub store: S,
    pub created: bool,
}

/// What a flow's state lives in. Opening is each implementation's own constructor
/// ([`SqliteStore::open`]; a shared PostgreSQL store would connect to a URL), returning [`Opened`].
///
/// Every write to a flow's state is fenced by its [`Lease`]: a writer whose lease was taken over
/// gets [`StateError::LeaseLost`] and changes nothing.
pub trait StateStore: Send {
    /// Where the store is, for messages (a file path, or a URL without credentials).
    fn location(&self) -> String;

    /// Whether the record data it keeps (the columns docs/state.md marks) is encrypted at rest:
    /// then a dead letter keeps its `sensitive` fields' values, for `flowc replay` to send.
    fn encrypted(&self) -> bool;

    /// Takes the single-writer lease of `flow` for `ttl` from `now`. A live lease of another
    /// holder is [`StateError::Locked`]; an expired one (a killed run) is taken over, its
    /// unfinished runs are marked [`RunStatus::Interrupted`], and [`Lease::took_over`] says so.
    fn acquire_lease(&mut self, flow: &str, holder: &str, ttl: Duration, now: DateTime<Utc>) -> Result<Lease>;
    /// Extends a held lease to `now + ttl`.
    fn renew_lease(&mut self, lease: &Lease, ttl: Duration, now: DateTime<Utc>) -> Result<Lease>;
    /// Gives the lease up (a lease already taken over is left to its new holder).
    fn release_lease(&mut self, lease: &Lease) -> Result<()>;

    /// The stored state of one flow; `None`: nothing stored, start from the declared initial value.
    fn flow_state(&self, flow: &str) -> Result<Option<FlowState>>;
    /// Every flow's stored state, by flow name (`state show` without a flow).
    fn flow_states(&self) -> Result<Vec<FlowState>>;
    /// `state set`: sets the cursor explicitly and clears any in-pull position.
    fn set_cursor(&mut self, lease: &Lease, cursor: &Cursor, now: DateTime<Utc>) -> Result<()>;
    /// `state reset`: forgets the flow's state (its runs and dead letters stay). `true` if there was one.
    fn reset_state(&mut self, lease: &Lease) -> Result<bool>;
    /// Commits state, position and the run's counters in one transaction; all or nothing.
    /// Returns the flow's checkpoint count.
    fn checkpoint(&mut self, lease: &Lease, checkpoint: &Checkpoint, now: DateTime<Utc>) -> Result<u64>;

    /// Records the start of a run of the lease's flow.
    fn start_run(&mut self, lease: &Lease, now: DateTime<Utc>) -> Result<RunId>;
    /// Records how a run ended.
    fn finish_run(&mut self, lease: &Lease, run: RunId, end: &RunEnd, now: DateTime<Utc>) -> Result<()>;
    /// Takes the lease and records the start of a run: [`StateStore::acquire_lease`] then
    /// [`StateStore::start_run`], in one commit where the store can (one wait for the disk
    /// before a run starts, not two).
    fn begin_run(&mut self, flow: &str, holder: &str, ttl: Duration, now: DateTime<Utc>) -> Result<(Lease, RunId)> {
        let lease = self.acquire_lease(flow, holder, ttl, now)?;
        let run = self.start_run(&lease, now)?;
        Ok((lease, run))
    }
    /// A run's last checkpoint (if it takes one), its end and the lease's release:
    /// [`StateStore::checkpoint`], [`StateStore::finish_run`], [`StateStore::release_lease`], in
    /// one transaction where the store can (all or nothing, one wait for the disk).
    fn end_run(
        &mut self,
        lease: &Lease,
        checkpoint: Option<&Checkpoint>,
        run: RunId,
        end: &RunEnd,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(cp) = checkpoint {
            self.checkpoint(lease, cp, now)?;
        }
        self.finish_run(lease, run, end, now)?;
        self.release_lease(lease)
    }
    /// Run history, newest first, at most `limit` runs, of one flow or all.
    fn runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<RunRecord>>;
    /// Records, in one commit, what a run may send a second time ([`Resent`]) and where it
    /// starts: `settled` (the record it resumes after) and `started` (the greatest record
    /// number at risk of being sent twice already: those of earlier runs it reads again), so
    /// that a run ended or killed before its first checkpoint still leaves both.
    fn note_resent(
        &mut self,
        lease: &Lease,
        run: RunId,
        resent: Option<Resent>,
        settled: u64,
        started: u64,
    ) -> Result<()>;
    /// The mark a run keeps of the records it starts, written as it goes without waiting for
    /// the disk ([`StartedMark`]), covering at least `from` from the start; `None` where the
    /// store keeps none.
    fn started_mark(&self, _flow: &str, _run: RunId, _reserve: u64, _from: u64) -> Result<Option<StartedMark>> {
        Ok(None)
    }
    /// The mark the last run of `flow` that kept one left.
    fn last_started(&self, _flow: &str) -> Option<StartedSeen> {
        None
    }

    /// Appends a dead letter of the lease's flow, checking in the same transaction that the
    /// lease is still held ([`StateError::LeaseLost`] otherwise, and nothing is written).
    fn add_dead_letter(&mut self, lease: &Lease, letter: &NewDeadLetter) -> Result<DeadLetterId>;
    /// Dead letters of one flow or all, of one run or all, in the order their runs read the
    /// records: by run, then by the record's place in its run's input, then by when each failed (one
    /// written with no run comes after those of runs).
    /// Not in the order they failed: records are sent concurrently, so that order changes from
    /// run to run, and a replay in it could apply two changes to one entity out of order.
    fn dead_letters(&self, flow: Option<&str>, run: Option<RunId>) -> Result<Vec<DeadLetter>>;
    /// Removes the dead letters of the lease's flow that replayed successfully, under the lease
    /// (checked in the same transaction: [`StateError::LeaseLost`] removes nothing); returns how
    /// many were removed.
    fn replay_succeeded(&mut self, lease: &Lease, ids: &[DeadLetterId]) -> Result<u64>;
    /// Keeps a dead letter of the lease's flow that failed again, with its new error, under the
    /// lease (checked in the same transaction: [`StateError::LeaseLost`] changes nothing).
    fn replay_failed(
        &mut self,
        lease: &Lease,
        id: DeadLetterId,
        error: &DeadLetterError,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Writes the dead letters as the NDJSON lines the runtime's dead letter file holds today;
    /// returns how many were written.
    fn export_dead_letters(&self, flow: Option<&str>, run: Option<RunId>, out: &mut dyn std::io::Write) -> Result<u64> {
        let letters = self.dead_letters(flow, run)?;
        for l in &letters {
            let mut line = l.to_ndjson_line();
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(|e| StateError::Export { detail: e.to_string() })?;
        }
        out.flush().map_err(|e| StateError::Export { detail: e.to_string() })?;
        Ok(letters.len() as u64)
    }
}
