//! A `dead_letter(…)` NDJSON file as `flowc replay --from FILE` reads and rewrites it
//! (docs/state.md, "Replay of a dead letter file"), and the one way a run appends to it.
//!
//! The file is shared by a run, which appends a line per failed record, and a replay, which
//! removes the lines of the records that now succeed and replaces those that fail again. Both
//! take an exclusive lock of the file (`File::lock`) around each change:
//!
//! - a run appends under the lock, after checking that the file it holds open is still the file
//!   at its path (a replay may have replaced it): if not, it opens the new one and appends there;
//! - a replay commits each outcome by reading the file under the lock, editing the one line,
//!   writing the result to a temporary file in the same folder (fsynced), renaming it over the
//!   file and fsyncing the folder. A crash leaves the old file or the new one, never a mix, and
//!   every line a run appended meanwhile is in what it rewrites.
//!
//! Two replays of one file at once are refused: a replay holds `FILE.replay-lock` locked for its
//! whole duration (the lock file stays; an empty file beside the dead letter file).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flow_diagnostics::{codes, Diagnostic};
use flow_state::{DeadLetter, DeadLetterError, DeadLetterId};

/// Appends `line` (with its newline) to the dead letter file at `path` under its lock, reopening
/// `slot`'s handle first when the file at `path` is no longer the one it holds (a replay renamed
/// a new file over it), and fsyncs it.
pub(crate) fn append_locked(slot: &mut Option<File>, path: &Path, line: &[u8]) -> std::io::Result<()> {
    loop {
        if slot.is_none() {
            *slot = Some(OpenOptions::new().create(true).append(true).open(path)?);
        }
        let file = slot.as_mut().ok_or_else(|| std::io::Error::other("dead letter file not open"))?;
        lock(file)?;
        if !is_file_at(file, path) {
            unlock(file);
            *slot = None;
            continue;
        }
        let written = file.write_all(line).and_then(|()| file.sync_data());
        unlock(file);
        return written;
    }
}

/// Takes `file`'s exclusive lock (flock), waiting for it.
fn lock(file: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive)?;
    let _ = file;
    Ok(())
}

/// Takes `file`'s exclusive lock if no one holds it: `false` when someone does.
fn try_lock(file: &File) -> std::io::Result<bool> {
    #[cfg(unix)]
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let _ = file;
    Ok(true)
}

fn unlock(file: &File) {
    #[cfg(unix)]
    let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock);
    let _ = file;
}

/// Whether `file` is the file `path` names now.
fn is_file_at(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// One line of a dead letter file as it is read: the fields the runtime writes, the record kept
/// as its JSON text (a Decimal stays exactly as written).
#[derive(serde::Deserialize)]
struct LineIn<'a> {
    flow: String,
    source: String,
    record_index: u64,
    error: DeadLetterError,
    failed_at_unix_ms: u64,
    #[serde(default)]
    attempts: Option<u64>,
    /// Where the record held secrets (absent: not known, a line of an earlier flowc).
    #[serde(default)]
    secrets: Option<Vec<flow_state::SecretAt>>,
    #[serde(borrow)]
    record: &'a serde_json::value::RawValue,
}

/// A line of the file: its text as read, and the dead letter it holds (`None`: not one).
struct Entry {
    line: String,
    letter: Option<DeadLetter>,
}

/// What replay does to one line.
enum Edit {
    Remove,
    Replace(String),
}

/// A dead letter file opened by a replay: its lines as read when it started, each dead letter's
/// id its line number (1-based).
pub(crate) struct LetterFile {
    path: PathBuf,
    entries: Vec<Entry>,
    /// Held for the replay's duration: another replay of the file is refused.
    _replay_lock: File,
}

fn file_failure(path: &Path, what: &str, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::new(codes::DEAD_LETTER_FILE, format!("the dead letter file {} cannot be {what}: {e}", path.display()))
        .note("nothing was sent for the lines not yet replayed, and the file keeps every line it had")
}

impl LetterFile {
    /// Opens the file for a replay: takes the replay lock (R0017 when another replay holds it),
    /// reads every line. A line that is not a dead letter is kept as it is, and reported (R0018)
    /// in the returned diagnostics, by its line number only (it may hold record data).
    pub(crate) fn open(path: &Path) -> Result<(LetterFile, Vec<Diagnostic>), Diagnostic> {
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".replay-lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| file_failure(path, "locked for the replay", e))?;
        match try_lock(&lock) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Diagnostic::new(
                    codes::DEAD_LETTER_FILE,
                    format!("another `flowc replay` is replaying the dead letter file {}", path.display()),
                )
                .note(format!("it holds {} locked; nothing was sent or changed", Path::new(&lock_path).display()))
                .help("wait for that replay to finish, then replay again"));
            }
            Err(e) => return Err(file_failure(path, "locked for the replay", e)),
        }
        let text = read_locked(path).map_err(|e| file_failure(path, "read", e))?;
        let mut diagnostics = Vec::new();
        let entries = text
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let number = i as i64 + 1;
                let letter = if line.trim().is_empty() { None } else { parse_line(line, number) };
                if letter.is_none() && !line.trim().is_empty() {
                    diagnostics.push(
                        Diagnostic::new(
                            codes::NOT_A_DEAD_LETTER,
                            format!("line {number} of the dead letter file {} is not a dead letter", path.display()),
                        )
                        .note("it was left in the file as it is, and not sent")
                        .help("a dead letter line is what `on_error = dead_letter(…)` writes: `flow`, `source`, `record_index`, `error`, `failed_at_unix_ms` and `record`"),
                    );
                }
                Entry { line: line.to_string(), letter }
            })
            .collect();
        Ok((LetterFile { path: path.to_path_buf(), entries, _replay_lock: lock }, diagnostics))
    }

    /// The dead letters of the file, in file order, of one flow or all.
    pub(crate) fn letters(&self, flow: Option<&str>) -> Vec<DeadLetter> {
        self.entries
            .iter()
            .filter_map(|e| e.letter.as_ref())
            .filter(|l| flow.is_none_or(|f| f == l.flow))
            .cloned()
            .collect()
    }

    /// A dead letter replayed successfully leaves the file.
    pub(crate) fn succeeded(&mut self, id: DeadLetterId) -> Result<(), Diagnostic> {
        self.commit(id, Edit::Remove)
    }

    /// A dead letter that failed again stays, its line replaced: the new error, the time, one more
    /// attempt, the record as it was. `line` is built by the caller ([`failed_line`]), scrubbed.
    pub(crate) fn failed(&mut self, id: DeadLetterId, line: String) -> Result<(), Diagnostic> {
        self.commit(id, Edit::Replace(line))
    }

    /// One outcome, written atomically under the file's lock. The line is found by its text (a
    /// run only appends, so it is where it was or earlier); one no longer there (edited by
    /// hand) is not removed twice, and a failure is then appended, so it is never lost.
    fn commit(&mut self, id: DeadLetterId, edit: Edit) -> Result<(), Diagnostic> {
        let index = usize::try_from(id.0 - 1).ok().filter(|i| *i < self.entries.len());
        let Some(index) = index else {
            return Err(file_failure(&self.path, "rewritten", format!("it has no line {}", id.0)));
        };
        let path = self.path.clone();
        let original = self.entries[index].line.clone();
        let failure = |what: &str, e: std::io::Error| file_failure(&path, what, e);
        let (mut file, text) = open_current(&path).map_err(|e| failure("read", e))?;
        let mut out = String::with_capacity(text.len() + 64);
        let mut done = false;
        for line in text.lines() {
            if !done && line == original {
                done = true;
                if let Edit::Replace(new) = &edit {
                    out.push_str(new);
                    out.push('\n');
                }
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        if let (false, Edit::Replace(new)) = (done, &edit) {
            out.push_str(new);
            out.push('\n');
        }
        let written = replace_file(&path, &file, out.as_bytes()).map_err(|e| failure("rewritten", e));
        unlock(&file);
        drop(file.flush());
        written?;
        if let Edit::Replace(new) = edit {
            self.entries[index].line = new;
        }
        Ok(())
    }
}

/// The dead letter a line holds, its id `number`; `None` when it is not one.
pub(crate) fn parse_line(line: &str, number: i64) -> Option<DeadLetter> {
    let l: LineIn<'_> = serde_json::from_str(line).ok()?;
    Some(DeadLetter {
        id: DeadLetterId(number),
        run: None,
        flow: l.flow,
        step: String::new(),
        source: l.source,
        record_index: l.record_index,
        error: l.error,
        record: l.record.get().to_string(),
        secrets: l.secrets,
        failed_at: DateTime::from_timestamp_millis(i64::try_from(l.failed_at_unix_ms).unwrap_or(i64::MAX))
            .unwrap_or_default(),
        attempts: l.attempts.unwrap_or(1).max(1),
    })
}

/// The line of a dead letter that failed again: as the runtime writes a line, with `attempts`
/// (absent on a first failure), the record verbatim.
pub(crate) fn failed_line(letter: &DeadLetter, error: &DeadLetterError, at: DateTime<Utc>) -> String {
    let again = DeadLetter { error: error.clone(), failed_at: at, attempts: letter.attempts + 1, ..letter.clone() };
    again.to_ndjson_line()
}

/// The file at `path`, read under its lock (shared by nobody else while read).
fn read_locked(path: &Path) -> std::io::Result<String> {
    let (file, text) = open_current(path)?;
    unlock(&file);
    Ok(text)
}

/// Opens the file at `path`, locks it, and reads it: retried when a rename replaced it between
/// the open and the lock, so what is read is the file at the path.
fn open_current(path: &Path) -> std::io::Result<(File, String)> {
    loop {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        lock(&file)?;
        if !is_file_at(&file, path) {
            unlock(&file);
            continue;
        }
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        return Ok((file, text));
    }
}

/// Writes `bytes` to a temporary file beside `path` (with `old`'s permissions), fsyncs it,
/// renames it over `path` and fsyncs the folder.
fn replace_file(path: &Path, old: &File, bytes: &[u8]) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = folder.join(format!(".{name}.replay-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().create(true).truncate(true).write(true).open(&tmp)?;
        f.set_permissions(old.metadata()?.permissions())?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        File::open(&folder)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(flow: &str, index: u64, record: &str) -> String {
        format!(
            r#"{{"flow":"{flow}","source":"list","record_index":{index},"error":{{"code":"R0001","message":"answered 422","notes":[]}},"failed_at_unix_ms":1,"record":{record}}}"#
        )
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flowc-dlfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("dead.ndjson")
    }

    #[test]
    fn outcomes_rewrite_the_file_and_keep_what_a_run_appended_meanwhile() {
        let path = scratch("outcomes");
        let a = line("f", 1, r#"{"id":"a","amount":10.00}"#);
        let b = line("f", 2, r#"{"id":"b","amount":1e400}"#);
        std::fs::write(&path, format!("{a}\nnot json\n{b}\n")).unwrap();
        let (mut file, diagnostics) = LetterFile::open(&path).unwrap();
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, codes::NOT_A_DEAD_LETTER.id);
        assert!(diagnostics[0].message.contains("line 2"), "{}", diagnostics[0].message);
        let letters = file.letters(None);
        assert_eq!(letters.len(), 2);
        // The record is kept verbatim: a Decimal's scale, a number no double holds.
        assert_eq!(letters[0].record, r#"{"id":"a","amount":10.00}"#);
        assert_eq!(letters[1].record, r#"{"id":"b","amount":1e400}"#);
        assert_eq!((letters[1].id, letters[1].attempts), (DeadLetterId(3), 1));

        // A run holds the file open, and appends after the replay replaced it.
        let mut run_slot = None;
        let c = line("f", 3, r#"{"id":"c"}"#);
        append_locked(&mut run_slot, &path, format!("{c}\n").as_bytes()).unwrap();
        file.succeeded(letters[0].id).unwrap();
        let again =
            DeadLetterError { code: "R0001".into(), message: "answered 500".into(), notes: vec![], mismatches: None };
        let replaced = failed_line(&letters[1], &again, DateTime::from_timestamp_millis(7).unwrap());
        file.failed(letters[1].id, replaced.clone()).unwrap();
        let d = line("f", 4, r#"{"id":"d"}"#);
        append_locked(&mut run_slot, &path, format!("{d}\n").as_bytes()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("not json\n{replaced}\n{c}\n{d}\n"));
        assert!(
            replaced.contains(r#""attempts":2"#) && replaced.ends_with(r#""record":{"id":"b","amount":1e400}}"#),
            "{replaced}"
        );
        // Read back, the replaced line is a dead letter with its new error and attempt.
        drop(file);
        let (file, _) = LetterFile::open(&path).unwrap();
        let kept = file.letters(Some("f"));
        assert_eq!(kept.len(), 3);
        assert_eq!((kept[0].attempts, kept[0].error.message.as_str()), (2, "answered 500"));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A line's `secrets` (where its record held secrets) is read, and kept when the line is
    /// replaced after a replay that failed again; a line without it (an earlier flowc's) says
    /// nothing of it; one whose
    /// `secrets` is not a list of them is not a dead letter (R0018), never read as holding none.
    #[test]
    fn where_a_line_held_secrets_is_read_and_kept_when_it_fails_again() {
        let record = r#"{"id":"a","url":"?k=[secret KEY]"}"#;
        let held = line("f", 1, record)
            .replace(r#","record":"#, r#","secrets":[{"at":20,"name":"KEY","forms":["percent_lower"]}],"record":"#);
        let letter = parse_line(&held, 1).expect("a dead letter");
        let want =
            flow_state::SecretAt { at: 20, name: "KEY".into(), forms: vec![flow_state::SecretForm::PercentLower] };
        assert_eq!(letter.secrets.as_deref(), Some(std::slice::from_ref(&want)));
        assert!(letter.record[20..].starts_with("[secret KEY]"));
        let again = DeadLetterError { code: "R0001".into(), message: "m".into(), notes: vec![], mismatches: None };
        let replaced = failed_line(&letter, &again, DateTime::from_timestamp_millis(7).unwrap());
        assert_eq!(parse_line(&replaced, 1).expect("a dead letter").secrets, Some(vec![want]));
        // A line of an earlier flowc: where it held secrets is not known, and stays not known.
        let old = parse_line(&line("f", 1, record), 1).expect("a dead letter");
        assert_eq!(old.secrets, None);
        assert!(!failed_line(&old, &again, DateTime::from_timestamp_millis(7).unwrap()).contains("\"secrets\""));
        let bad = line("f", 1, record).replace(r#","record":"#, r#","secrets":"KEY","record":"#);
        assert!(parse_line(&bad, 1).is_none());
    }

    #[test]
    fn a_second_replay_of_the_same_file_is_refused() {
        let path = scratch("twice");
        std::fs::write(&path, format!("{}\n", line("f", 1, "{}"))).unwrap();
        let (first, _) = LetterFile::open(&path).unwrap();
        let second = LetterFile::open(&path).err().expect("refused");
        assert_eq!(second.code, codes::DEAD_LETTER_FILE.id);
        assert!(second.message.contains("another `flowc replay`"), "{}", second.message);
        drop(first);
        assert!(LetterFile::open(&path).is_ok());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
