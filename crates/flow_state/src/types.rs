//! The values the store keeps.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

/// A flow's incremental cursor, stored with its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum Cursor {
    /// Keeps the offset it was read with.
    DateTime(DateTime<FixedOffset>),
    Int(i64),
    String(String),
}

impl Cursor {
    /// `DateTime`, `Int` or `String`: the `.flow` type name, as stored.
    pub fn type_name(&self) -> &'static str {
        match self {
            Cursor::DateTime(_) => "DateTime",
            Cursor::Int(_) => "Int",
            Cursor::String(_) => "String",
        }
    }

    /// The value as text (RFC 3339 for a DateTime).
    pub fn text(&self) -> String {
        match self {
            Cursor::DateTime(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Cursor::Int(i) => i.to_string(),
            Cursor::String(s) => s.clone(),
        }
    }

    /// Reads a value stored as `type_name` and [`Cursor::text`]; `None` if it does not read.
    pub fn from_text(type_name: &str, text: &str) -> Option<Cursor> {
        match type_name {
            "DateTime" => DateTime::parse_from_rfc3339(text).ok().map(Cursor::DateTime),
            "Int" => text.parse().ok().map(Cursor::Int),
            "String" => Some(Cursor::String(text.to_string())),
            _ => None,
        }
    }
}

/// Where the next page of an interrupted pull starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageAt {
    /// The API's next-page cursor.
    Cursor { value: String },
    /// The next page's URL (a `next` link).
    Url { url: String },
    /// The next page number.
    Page { number: u64 },
    /// The next offset.
    Offset { offset: u64 },
}

/// The resume position within a pull: the page after the last fully processed one.
/// Stored as versioned JSON (`{"version":1,…}`), sealed on an encrypted store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPosition {
    pub next: PageAt,
    /// Pages and records of this pull fully processed before `next`.
    pub pages_done: u64,
    pub records_done: u64,
    /// The greatest cursor value delivered so far in this pull (committed as the cursor when
    /// the pull completes, for a source not sorted by the cursor).
    pub seen_max: Option<Cursor>,
}

/// The version of [`PullPosition`]'s JSON this crate writes and reads.
pub const POSITION_VERSION: u64 = 1;

/// A flow's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    pub flow: String,
    /// `None`: no cursor yet (start from the declared initial value).
    pub cursor: Option<Cursor>,
    /// Keys of the records delivered at exactly the cursor value (dedup of boundary records).
    pub boundary: Vec<String>,
    /// Set while a pull is under way (a crash resumes there).
    pub position: Option<PullPosition>,
    /// Checkpoints committed since the state was created or reset.
    pub checkpoints: u64,
    pub updated_at: DateTime<Utc>,
    /// The run that wrote it last (`None` after `state set`).
    pub run: Option<RunId>,
}

/// What one checkpoint commits, all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub run: RunId,
    /// The flow's cursor after this checkpoint (`None`: still the declared initial value).
    pub cursor: Option<Cursor>,
    pub boundary: Vec<String>,
    /// `None` between pulls.
    pub position: Option<PullPosition>,
    /// The run's counters so far.
    pub counts: RunCounts,
}

/// The single-writer lease of one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub flow: String,
    pub holder: String,
    /// Random per acquisition: fences writes by a holder whose lease was taken over.
    pub token: String,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when an expired lease of another run was taken over.
    pub took_over: Option<TakenOver>,
}

/// The expired lease a new one replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenOver {
    pub holder: String,
    pub expired_at: DateTime<Utc>,
    /// Its runs that never finished, now marked interrupted.
    pub interrupted_runs: Vec<RunId>,
}

/// A run's id: increasing, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub i64);

/// A run's counters (the summary's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunCounts {
    pub read: u64,
    pub delivered: u64,
    pub filtered: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    pub not_processed: u64,
    pub pages: u64,
    pub requests: u64,
    pub retries: u64,
    /// The number of the last record of the source up to which every record is settled (the
    /// watermark of the checkpoint these counts were committed with), in the run's numbering;
    /// for an unsorted source without a key mid-pull, the start of the page the next run
    /// resumes at (it sends that page's records again).
    pub settled: u64,
    /// The greatest number of a record the run started (sent, or was about to send).
    pub started: u64,
}

/// How a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    /// Stopped by a signal, after a final checkpoint.
    Stopped,
    /// Never finished: its lease expired and was taken over (the run was killed).
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        [RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed, RunStatus::Stopped, RunStatus::Interrupted]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// Anything but `Running`.
    pub status: RunStatus,
    pub counts: RunCounts,
    pub error: Option<String>,
}

/// One run of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: RunId,
    pub flow: String,
    pub holder: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub counts: RunCounts,
    pub error: Option<String>,
    /// What this run sent again that an earlier run may have sent already: see [`Resent`].
    pub resent: Option<Resent>,
}

/// How many records a run may have sent a second time: those the run before it (interrupted,
/// failed or stopped) had started past its last committed checkpoint, which this run reads
/// and sends again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    /// At most this many (exact but for a reservation of a few records, [`StartedMark`]).
    AtMost { run: RunId, records: u64 },
    /// The run before was interrupted, and how far it got is not known (the machine restarted
    /// since, or its mark was not kept).
    Unknown { run: RunId },
}

/// A dead letter's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeadLetterId(pub i64);

/// One field of a record that did not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub found: String,
}

/// Why a record failed: the runtime's dead letter `error` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterError {
    pub code: String,
    pub message: String,
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatches: Option<Vec<Mismatch>>,
}

/// A way a secret's value may have been written where a dead letter's record held it: a fixed
/// writer that gives, from the value, the bytes the record had there. The value itself is never
/// kept (docs/state.md, "Secrets in dead letters").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretForm {
    /// As a JSON string's content, escaped as flowc's encoder escapes it (`\"`, `\\`, `\n`,
    /// `\u0001`; other characters as they are).
    Json,
    /// As `Json`, with every character past ASCII as `\uXXXX` (lowercase hex, surrogate pairs).
    JsonAscii,
    /// Percent-encoded, every byte but the unreserved `A-Z a-z 0-9 - . _ ~` as `%XX` (RFC 3986).
    Percent,
    /// The same with lowercase hex.
    PercentLower,
    /// As in a URL's path: the same, keeping `/` (Python's `quote`).
    PercentPath,
    /// As JavaScript's `encodeURIComponent`: keeps `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
    UriComponent,
    /// As an HTML form's `application/x-www-form-urlencoded`: keeps `A-Z a-z 0-9 * - . _`,
    /// a space as `+`.
    FormUrlencoded,
}

/// Where a dead letter's record held a secret's value, replaced by its marker
/// `[secret NAME]`: the marker's byte offset in `record`, the secret (or what the marker
/// names: several, joined by `, `), and every form that gives back the bytes the record had
/// there. A replay writes the secret's value there again, from the secret as it is then, when
/// those forms all write it the same; none (`[]`) means it cannot be written back (a credential
/// obtained during the run, secrets run together, a mix of escapes, a number that was a
/// secret's value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretAt {
    pub at: u64,
    pub name: String,
    pub forms: Vec<SecretForm>,
}

impl SecretAt {
    /// The marker the record holds at `at`.
    pub fn marker(&self) -> String {
        format!("[secret {}]", self.name)
    }
}

/// A dead letter to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadLetter {
    pub run: Option<RunId>,
    pub flow: String,
    /// The step that failed (e.g. the endpoint call), for replay.
    pub step: String,
    /// The source endpoint and the record's 1-based position in it.
    pub source: String,
    pub record_index: u64,
    pub error: DeadLetterError,
    /// The record as JSON text, kept verbatim (a Decimal stays exactly as written). Text that is
    /// not JSON is kept as a JSON string, so an export stays valid NDJSON.
    pub record: String,
    /// Where `record` held secrets' values, in the order they come in it.
    pub secrets: Vec<SecretAt>,
    pub failed_at: DateTime<Utc>,
}

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: DeadLetterId,
    pub run: Option<RunId>,
    pub flow: String,
    pub step: String,
    pub source: String,
    pub record_index: u64,
    pub error: DeadLetterError,
    pub record: String,
    /// Where `record` held secrets' values, in the order they come in it; `None` when that is
    /// not known: a dead letter kept by a flowc before store schema 3, or a dead letter file's
    /// line without `secrets` (a replay refuses such a record if it holds a marker).
    pub secrets: Option<Vec<SecretAt>>,
    /// When it last failed (its first failure, or its last replay).
    pub failed_at: DateTime<Utc>,
    /// 1, plus one per replay that failed again.
    pub attempts: u64,
}

impl DeadLetter {
    /// The line the runtime's dead letter file holds today (without the newline): `flow`,
    /// `source`, `record_index`, `error` (`code`, `message`, `notes`, `mismatches` when the
    /// record did not fit its type), `failed_at_unix_ms`, `attempts` when a replay failed again
    /// (more than 1), `secrets` (where the record held secrets' values and how they were
    /// written, never the values: `[]` for none; left out when not known), then `record` as its
    /// JSON text.
    pub fn to_ndjson_line(&self) -> String {
        let mut error = serde_json::json!({
            "code": self.error.code, "message": self.error.message, "notes": self.error.notes,
        });
        if let Some(m) = &self.error.mismatches {
            error["mismatches"] = serde_json::json!(m);
        }
        let mut entry = serde_json::json!({
            "flow": self.flow,
            "source": self.source,
            "record_index": self.record_index,
            "error": error,
            "failed_at_unix_ms": self.failed_at.timestamp_millis().max(0) as u64,
        });
        // After a replay that failed again (a first failure's line has none).
        if self.attempts > 1 {
            entry["attempts"] = serde_json::json!(self.attempts);
        }
        // Where the record held secrets (`[]`: none; left out when that is not known).
        if let Some(secrets) = &self.secrets {
            entry["secrets"] = serde_json::json!(secrets);
        }
        // As the runtime does: the record goes in as text, so it stays exactly as written.
        let mut line = entry.to_string();
        line.pop();
        line.push_str(",\"record\":");
        line.push_str(&self.record);
        line.push('}');
        line
    }
}
