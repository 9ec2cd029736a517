//! Durable file operations: fsync of files and directories, and publication of a
//! finished file under a final name that never replaces an existing one.

use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

pub use crate::input::same_file;

/// fsync a directory, so that the names created or removed in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io(dir, e))?;
    d.sync_all().map_err(|e| Error::io(dir, e))
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Create `path` exclusively (it must not exist) for writing.
pub fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Give the complete, fsynced file `temp` the name `target` without ever replacing
/// an existing file: a hard link (which fails if `target` exists, atomically, with
/// no check-then-act window), then removal of the temporary name. A crash between
/// the two leaves both names on one inode, which recovery recognises
/// ([`same_file`], from the input layer).
pub fn link_no_replace(temp: &Path, target: &Path) -> Result<()> {
    std::fs::hard_link(temp, target).map_err(|e| {
        if e.kind() == ErrorKind::AlreadyExists {
            Error::OutputExists {
                path: target.to_path_buf(),
            }
        } else {
            Error::io(target, e)
        }
    })?;
    remove_if_exists(temp)
}

/// Publish the complete, fsynced file `temp` as `target`: [`link_no_replace`], then
/// fsync `target`'s directory so that the new name survives a crash.
pub fn publish_no_replace(temp: &Path, target: &Path) -> Result<()> {
    link_no_replace(temp, target)?;
    sync_dir(parent_dir(target))
}

/// Remove `path`; a file that is already gone is not an error.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Write `bytes` to the new file `temp` and fsync it (the caller publishes it).
pub fn write_synced(temp: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = create_new(temp)?;
    f.write_all(bytes).map_err(|e| Error::io(temp, e))?;
    f.sync_all().map_err(|e| Error::io(temp, e))
}
