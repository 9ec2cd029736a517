//! A run's identity and its claim on a directory: a run id (ULID), the names of its
//! temporary files, and a lock file held under an exclusive advisory lock for the
//! whole run, which doubles as the run's commit journal.
//!
//! Names in a directory a run writes to (`RUN` is the run id):
//! - `.pm-RUN.lock`: the lock and journal; it exists while the run is alive or
//!   after it died, and is removed last by the run or by `cleanup`;
//! - `.pm-RUN.NNNNN.parquet.tmp`, `.pm-RUN.manifest.tmp`: temporary files, created
//!   exclusively; they never end in `.parquet`, so no reader mistakes them for
//!   outputs.

use super::durable::remove_if_exists;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

const PREFIX: &str = ".pm-";

/// Where runs whose outputs go to object storage keep their lock and journal
/// unless told otherwise: `$PREFIX_MERGE_JOURNAL_DIR`, else
/// `$XDG_STATE_HOME/prefix-merge/journal`, else
/// `$HOME/.local/state/prefix-merge/journal`, else the system temp directory.
pub fn default_journal_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("PREFIX_MERGE_JOURNAL_DIR") {
        return dir;
    }
    let state = env("XDG_STATE_HOME").or_else(|| env("HOME").map(|h| h.join(".local/state")));
    match state {
        Some(s) => s.join("prefix-merge").join("journal"),
        None => std::env::temp_dir().join("prefix-merge-journal"),
    }
}

/// A new run id: a ULID (26 characters, sortable by start time).
pub fn new_run_id() -> String {
    ulid::Ulid::new().to_string()
}

/// Name of the lock/journal file of run `run` in a directory it writes to.
pub fn lock_name(run: &str) -> String {
    format!("{PREFIX}{run}.lock")
}

/// Name of temporary file `what` of run `run`.
pub fn temp_name(run: &str, what: &str) -> String {
    format!("{PREFIX}{run}.{what}.tmp")
}

/// A file name that belongs to a run: its run id, and whether it is the lock.
pub fn parse_run_file(name: &str) -> Option<(&str, bool)> {
    let rest = name.strip_prefix(PREFIX)?;
    if let Some(run) = rest.strip_suffix(".lock") {
        return is_run_id(run).then_some((run, true));
    }
    let (run, tail) = rest.split_once('.')?;
    (is_run_id(run) && tail.ends_with(".tmp")).then_some((run, false))
}

fn is_run_id(s: &str) -> bool {
    ulid::Ulid::from_string(s).is_ok()
}

/// One line of a run's journal (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum JournalRecord {
    /// Written (and fsynced) before the first final name appears: every temporary
    /// file, complete and fsynced, with the final name it is about to get.
    Publish(Vec<Publication>),
    /// The run's outputs and manifest are all durable under their final names.
    Committed,
    /// This lock guards only a manifest: the run's journal is the lock file at this
    /// path (in the output directory), whose cleanup handles the manifest.
    JournalAt(PathBuf),
    /// The final names this run created were removed (by the run or by cleanup);
    /// any temporary file left may be deleted.
    RolledBack,
    /// A multipart upload to `url` was started (outputs in object storage): until
    /// the run commits, `cleanup` aborts it.
    Upload {
        /// The object's URL.
        url: String,
        /// The store's id of the upload.
        upload_id: String,
    },
    /// Written before the first upload is completed: the objects about to become
    /// visible (rolled back by deleting them unless the run committed).
    PublishRemote(Vec<String>),
}

/// A temporary file and the final name it gets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Publication {
    /// The temporary name the output was written under.
    pub temp: PathBuf,
    /// The final name it is linked to.
    pub target: PathBuf,
}

/// A run's exclusive claim on one directory.
pub struct RunLock {
    /// The lock file (`.pm-RUNID.lock`), which also holds the journal.
    pub path: PathBuf,
    file: File,
}

impl RunLock {
    /// Create and lock `.pm-RUN.lock` in `dir`. The file is created exclusively,
    /// then locked, then checked to still be the file at that path: a concurrent
    /// `cleanup` that took it for a dead run's lock in between makes this fail
    /// rather than run unprotected.
    pub fn acquire(dir: &Path, run: &str) -> Result<Self> {
        let path = dir.join(lock_name(run));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let lock = RunLock { path, file };
        match lock.file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::InvalidArgument(format!(
                    "{}: locked by another process",
                    lock.path.display()
                )))
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&lock.path, e)),
        }
        if !lock.still_linked() {
            return Err(Error::InvalidArgument(format!(
                "{}: removed by a concurrent cleanup while the run started",
                lock.path.display()
            )));
        }
        Ok(lock)
    }

    /// Open an existing lock file and lock it, if no live run holds it.
    pub fn try_take(path: &Path) -> Result<Option<Self>> {
        let file = match OpenOptions::new().read(true).append(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        let lock = RunLock {
            path: path.to_path_buf(),
            file,
        };
        Ok(lock.still_linked().then_some(lock))
    }

    #[cfg(unix)]
    fn still_linked(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }

    #[cfg(not(unix))]
    fn still_linked(&self) -> bool {
        self.path.exists()
    }

    /// Append `record` to the journal and make it durable.
    pub fn append(&mut self, record: &JournalRecord) -> Result<()> {
        let mut line = serde_json::to_vec(record).map_err(|e| Error::json("journal record", e))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The journal's records (a torn last line, from a crash mid-append, is ignored).
    pub fn records(&self) -> Result<Vec<JournalRecord>> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut out = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| Error::io(&self.path, e))?;
            if let Ok(r) = serde_json::from_str(&line) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Remove the lock file (still holding the lock), then release the lock.
    pub fn release(self) -> Result<()> {
        remove_if_exists(&self.path)
    }
}
