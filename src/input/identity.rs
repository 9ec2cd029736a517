//! File identity: whether two paths name the same file (same canonical path or,
//! on Unix, the same device and inode, as hard links do).

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// What makes two paths the same file.
pub struct FileIdentity {
    canonical: PathBuf,
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl FileIdentity {
    /// The identity of the file at `path`.
    pub fn of(path: &Path) -> Result<Self> {
        if path.to_str().is_some_and(crate::storage::is_url) {
            // An object: its URL is its identity.
            return Ok(FileIdentity {
                canonical: path.to_path_buf(),
                #[cfg(unix)]
                dev_ino: (u64::MAX, u64::MAX),
            });
        }
        let canonical = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        #[cfg(unix)]
        let dev_ino = {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
            (m.dev(), m.ino())
        };
        Ok(FileIdentity {
            canonical,
            #[cfg(unix)]
            dev_ino,
        })
    }

    /// Whether both identities name one file.
    pub fn same_file(&self, other: &FileIdentity) -> bool {
        #[cfg(unix)]
        if self.dev_ino == other.dev_ino && self.dev_ino != (u64::MAX, u64::MAX) {
            return true;
        }
        self.canonical == other.canonical
    }
}

/// Whether `a` and `b` name the same existing file (false if either is missing).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (FileIdentity::of(a), FileIdentity::of(b)) {
        (Ok(a), Ok(b)) => a.same_file(&b),
        _ => false,
    }
}
