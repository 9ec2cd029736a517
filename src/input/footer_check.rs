//! Sanity checks on a parsed footer before any reader trusts it: parquet-rs
//! asserts (panics) on some impossible values, e.g. negative column chunk offsets,
//! so a corrupt footer must be turned into a typed error first.

use crate::{Error, Result};
use parquet::file::metadata::ParquetMetaData;
use std::path::Path;

/// The magic bytes a Parquet file starts and ends with.
pub(super) const MAGIC: &[u8; 4] = b"PAR1";

/// Tell a file that is not Parquet at all (no `PAR1` at its start) from a
/// truncated or corrupt one (`PAR1` at its start but not at its end), before its
/// footer is parsed. `head` and `tail` are the file's first and last bytes (at
/// least 4 of each when the file is that long), `len` its size.
pub(super) fn check_magic(path: &Path, head: &[u8], tail: &[u8], len: u64) -> Result<()> {
    if !head.starts_with(MAGIC) {
        return Err(Error::NotParquet {
            path: path.to_path_buf(),
        });
    }
    // Magic, footer length and magic: no Parquet file is shorter.
    if len < 12 || !tail.ends_with(MAGIC) {
        return Err(Error::Truncated {
            path: path.to_path_buf(),
            len,
        });
    }
    Ok(())
}

/// The first and last 4 bytes of a local file and its size.
pub(super) fn local_magic(path: &Path, file: &std::fs::File) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let read = |offset: u64| -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len.min(4) as usize];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io(path, e))?;
        Ok(buf)
    };
    let head = read(0)?;
    let tail = read(len.saturating_sub(4))?;
    check_magic(path, &head, &tail, len)
}

/// Every column chunk's byte range must be non-negative and lie within the file,
/// and row counts must be non-negative.
pub(super) fn check_footer(path: &Path, metadata: &ParquetMetaData, file_len: u64) -> Result<()> {
    let bad = |rg: usize, column: &str, reason: String| Error::CorruptFooter {
        path: path.to_path_buf(),
        row_group: rg,
        column: column.to_string(),
        reason,
    };
    for (i, rg) in metadata.row_groups().iter().enumerate() {
        if rg.num_rows() < 0 {
            return Err(bad(i, "-", format!("negative row count {}", rg.num_rows())));
        }
        for c in rg.columns() {
            let name = c.column_path().string();
            let start = c
                .dictionary_page_offset()
                .unwrap_or_else(|| c.data_page_offset());
            let offsets = [
                Some(c.data_page_offset()),
                c.dictionary_page_offset(),
                Some(start),
            ];
            if offsets.iter().flatten().any(|&o| o < 0) || c.compressed_size() < 0 {
                return Err(bad(i, &name, "negative column chunk offset or size".into()));
            }
            let end = u64::try_from(start)
                .ok()
                .zip(u64::try_from(c.compressed_size()).ok())
                .and_then(|(s, l)| s.checked_add(l));
            if end.is_none_or(|e| e > file_len) {
                return Err(bad(
                    i,
                    &name,
                    format!("column chunk extends past the end of the {file_len}-byte file"),
                ));
            }
            if c.num_values() < 0 {
                return Err(bad(i, &name, "negative value count".into()));
            }
        }
    }
    Ok(())
}
