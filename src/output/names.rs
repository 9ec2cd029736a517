//! Output names (`PREFIX_NNNNN.parquet`, the default prefix) and the output
//! directory.

use crate::{Error, Result};
use std::path::Path;

/// Final file name of output `i` for the given name prefix: `PREFIX_NNNNN.parquet`.
pub fn output_name(prefix: &str, i: usize) -> String {
    format!("{prefix}_{i:05}.parquet")
}

/// The default output name prefix of a run: `merged_RUNID`.
pub fn default_output_prefix(run_id: &str) -> String {
    format!("merged_{run_id}")
}

/// Check a caller's output name prefix: a plain file-name stem.
pub fn check_output_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && !prefix.starts_with('.')
        && !prefix.contains(['/', '\\', '\n', '\r', '\0']);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "output prefix '{prefix}' must be a non-empty file name stem without '/' and not starting with '.'"
        )))
    }
}

/// Create `dir` (and its parents) if missing; an existing file there is
/// [`Error::NotADirectory`], not the operating system's "File exists".
pub fn create_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}
