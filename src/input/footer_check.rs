//! Sanity checks on a parsed footer before any reader trusts it: parquet-rs
//! asserts (panics) on some impossible values, e.g. negative column chunk offsets,
//! so a corrupt footer must be turned into a typed error first.

use crate::{Error, Result};
use parquet::file::metadata::ParquetMetaData;
use std::path::Path;

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
