//! How far a run got in starting records, kept where writing it costs no wait for the disk.
//!
//! A checkpoint is committed every N records; the records a run starts past its last one are
//! sent again by the next run after a crash. To say how many, the run keeps a mark: a small
//! file beside the store (`STORE-started-FLOW`), overwritten in place, without an fsync, with
//! the greatest record number it may start — reserved a few records ahead, so that it is
//! written once per `reserve` records, always before the records it covers start. A write to
//! the file is in the operating system's page cache when it returns, so it outlives the
//! process (`kill -9`, a crash of flowc); it may not outlive a power loss or an OS crash, so
//! the mark names the machine's boot (`/proc/sys/kernel/random/boot_id`), and a mark of an
//! earlier boot is not believed.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Result, RunId, StateError};

/// What a mark says, as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartedSeen {
    /// The run that wrote it.
    pub run: RunId,
    /// No record past this number was started.
    pub started_at_most: u64,
    /// Written since the machine last started: believable.
    pub same_boot: bool,
}

/// A run's mark of the records it starts (see the module documentation).
#[derive(Debug)]
pub struct StartedMark {
    file: std::fs::File,
    path: PathBuf,
    run: RunId,
    boot: String,
    reserved: u64,
    reserve: u64,
}

/// The size of a mark: written whole at offset 0 by one write.
const SIZE: usize = 128;
const HEADER: &str = "flowc started v1";

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map_or_else(|_| String::new(), |b| b.trim().to_string())
}

impl StartedMark {
    /// Where the mark of `flow` is kept, beside the store file `store`.
    pub fn path(store: &Path, flow: &str) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push(format!("-started-{flow}"));
        PathBuf::from(name)
    }

    /// Starts the mark of `run`, reserving `reserve` records at a time. It covers `from` from
    /// the start: the records of earlier runs this run reads again (still at risk of being
    /// sent twice until a checkpoint passes them), so that a run killed before it gets past
    /// them leaves them in its mark.
    pub fn create(store: &Path, flow: &str, run: RunId, reserve: u64, from: u64) -> Result<StartedMark> {
        let path = Self::path(store, flow);
        let unwritable = |e: std::io::Error| StateError::Unwritable {
            path: path.clone(),
            folder: path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            detail: e.to_string(),
        };
        let file =
            std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&path).map_err(unwritable)?;
        let mark =
            StartedMark { file, path: path.clone(), run, boot: boot_id(), reserved: from, reserve: reserve.max(1) };
        mark.write(from).map_err(unwritable)?;
        Ok(mark)
    }

    /// Record `n` is about to start: the mark covers it before this returns.
    pub fn starting(&mut self, n: u64) -> std::io::Result<()> {
        if n > self.reserved {
            let upto = n.saturating_add(self.reserve - 1);
            self.write(upto)?;
            self.reserved = upto;
        }
        Ok(())
    }

    /// Where the mark is, for messages.
    pub fn location(&self) -> &Path {
        &self.path
    }

    fn write(&self, upto: u64) -> std::io::Result<()> {
        let mut text = Vec::with_capacity(SIZE);
        write!(text, "{HEADER} run={} boot={} started_at_most={upto}", self.run.0, self.boot)?;
        if text.len() >= SIZE {
            return Err(std::io::Error::other("the machine's boot id is too long for the mark"));
        }
        text.resize(SIZE - 1, b' ');
        text.push(b'\n');
        self.file.write_all_at(&text, 0)
    }

    /// Reads the mark of `flow` beside `store`; `None` when there is none, or it cannot be read.
    pub fn read(store: &Path, flow: &str) -> Option<StartedSeen> {
        let text = std::fs::read_to_string(Self::path(store, flow)).ok()?;
        let rest = text.trim_end().strip_prefix(HEADER)?;
        let mut run = None;
        let mut boot = None;
        let mut upto = None;
        for part in rest.split_whitespace() {
            match part.split_once('=') {
                Some(("run", v)) => run = v.parse().ok(),
                Some(("boot", v)) => boot = Some(v.to_string()),
                Some(("started_at_most", v)) => upto = v.parse().ok(),
                _ => return None,
            }
        }
        let boot = boot?;
        Some(StartedSeen { run: RunId(run?), started_at_most: upto?, same_boot: !boot.is_empty() && boot == boot_id() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_written_before_the_records_it_covers_and_once_per_reservation() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("state.db");
        let mut mark = StartedMark::create(&store, "sync", RunId(3), 16, 0).unwrap();
        let seen = StartedMark::read(&store, "sync").unwrap();
        assert_eq!((seen.run, seen.started_at_most), (RunId(3), 0));
        assert_eq!(seen.same_boot, !boot_id().is_empty());
        mark.starting(1).unwrap();
        assert_eq!(StartedMark::read(&store, "sync").unwrap().started_at_most, 16);
        // Within the reservation nothing is written (the file is changed behind it to show it).
        std::fs::write(StartedMark::path(&store, "sync"), "changed").unwrap();
        mark.starting(16).unwrap();
        assert_eq!(StartedMark::read(&store, "sync"), None);
        mark.starting(17).unwrap();
        assert_eq!(StartedMark::read(&store, "sync").unwrap().started_at_most, 32);
        assert_eq!(StartedMark::read(&store, "other"), None);
    }

    /// A run that reads again records an earlier run may have sent starts its mark past them.
    #[test]
    fn a_mark_covers_what_it_starts_from_before_any_record_starts() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("state.db");
        let mut mark = StartedMark::create(&store, "sync", RunId(4), 16, 21).unwrap();
        assert_eq!(StartedMark::read(&store, "sync").unwrap().started_at_most, 21);
        mark.starting(21).unwrap();
        assert_eq!(StartedMark::read(&store, "sync").unwrap().started_at_most, 21);
        mark.starting(22).unwrap();
        assert_eq!(StartedMark::read(&store, "sync").unwrap().started_at_most, 37);
    }

    #[test]
    fn a_mark_of_another_boot_is_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("state.db");
        let text = format!("{HEADER} run=2 boot=00000000-0000-0000-0000-000000000000 started_at_most=40");
        std::fs::write(StartedMark::path(&store, "sync"), text).unwrap();
        let seen = StartedMark::read(&store, "sync").unwrap();
        assert_eq!((seen.run, seen.started_at_most, seen.same_boot), (RunId(2), 40, false));
    }
}
