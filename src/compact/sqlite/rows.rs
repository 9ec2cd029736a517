//! Rows read from SQLite, and its errors named by the catalog file.

use crate::compact::catalog::Split;
use crate::compact::sql_row::{split_from, RowError, SqlRow};
use crate::Error;
use std::path::Path;

pub(super) fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Catalog {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

impl SqlRow for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
}

impl From<RowError<rusqlite::Error>> for rusqlite::Error {
    fn from(e: RowError<rusqlite::Error>) -> Self {
        match e {
            RowError::Driver(e) => e,
            RowError::Invalid { column, value } => {
                rusqlite::Error::InvalidColumnType(column, value, rusqlite::types::Type::Text)
            }
        }
    }
}

pub(super) fn split_from_row(row: &rusqlite::Row) -> rusqlite::Result<Split> {
    Ok(split_from(row)?)
}

/// A split's state, skip reason, lease holder and the holder's lease expiry.
pub(super) type ClaimRow = (String, Option<String>, Option<String>, Option<i64>);
