//! The one error type of the store. Every message names what a user can act on: the file, the
//! flow, the holder of a lock. No diagnostic codes: the runtime maps these to its codes.

use std::path::PathBuf;

/// Why the store refused or failed. Nothing is ever reset or started afresh on an error.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the folder {} of the state store {} does not exist: create it, or choose another path for the state", .folder.display(), .path.display())]
    FolderMissing { path: PathBuf, folder: PathBuf },
    #[error("the state store {} cannot be written ({detail}): make its folder {} writable (and check the disk is not full); nothing was changed", .path.display(), .folder.display())]
    Unwritable { path: PathBuf, folder: PathBuf, detail: String },
    #[error("the state store {} is damaged ({detail}); it was not opened and nothing was reset: restore it from a backup, or move it away to start every flow from its declared initial value", .path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{} is not a flowc state store ({detail}); it was left untouched: choose another path for the state", .path.display())]
    NotAStore { path: PathBuf, detail: String },
    #[error("the state store {} has schema version {found}, newer than this flowc reads (version {supported}); it was left untouched: use a newer flowc", .path.display())]
    NewerVersion { path: PathBuf, found: i64, supported: i64 },
    #[error("the state store {} is encrypted and no key was given: give the key it was created with", .path.display())]
    KeyRequired { path: PathBuf },
    #[error("the key given does not open the state store {} (it was encrypted with another key); nothing was read or changed", .path.display())]
    WrongKey { path: PathBuf },
    #[error("the state store {} is not encrypted, but a key was given: it was not opened, so that no record data is written unencrypted; open it without a key, or move it away to start an encrypted one", .path.display())]
    NotEncrypted { path: PathBuf },
    #[error("a state store key must be 32 bytes, not {len}")]
    KeyLength { len: usize },
    #[error("the secret for the state store's key has {len} bytes; it must have at least {min}, and be random (e.g. `openssl rand -base64 32`), not a password")]
    WeakKeySecret { len: usize, min: usize },
    #[error("flow `{flow}` is locked in the state store {}: it is being run by {holder} (since {since}); the lease expires at {expires_at}. Wait for that run to finish; if it was killed, run again after the lease expires", .path.display())]
    Locked { path: PathBuf, flow: String, holder: String, since: String, expires_at: String },
    #[error("the lease of flow `{flow}` in the state store {} is no longer held by this run{}: it writes nothing more and must stop", .path.display(), .taken_by.as_ref().map(|h| format!(" (it expired and was taken over by {h})")).unwrap_or_default())]
    LeaseLost { path: PathBuf, flow: String, taken_by: Option<String> },
    #[error("run {run} of flow `{flow}` is not in the state store {}", .path.display())]
    UnknownRun { path: PathBuf, flow: String, run: i64 },
    #[error("dead letter {id} is not in the state store {}", .path.display())]
    UnknownDeadLetter { path: PathBuf, id: i64 },
    #[error("{what} in the state store {} failed its integrity check: it was changed outside flowc, or the file is damaged", .path.display())]
    Tampered { path: PathBuf, what: String },
    #[error("{what} in the state store {} cannot be read ({detail})", .path.display())]
    BadValue { path: PathBuf, what: String, detail: String },
    #[error("{what}: {detail}")]
    Invalid { what: String, detail: String },
    #[error("the state store {} failed: {detail}", .path.display())]
    Database { path: PathBuf, detail: String },
    #[error("the dead letters could not be exported: {detail}")]
    Export { detail: String },
}
