//! [`SqliteCatalog`]: opening the database file and running one transaction per
//! operation.

use super::rows::*;
use super::schema::*;
use crate::{Error, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};

/// A table catalog stored in one SQLite database file.
pub struct SqliteCatalog {
    pub(super) path: PathBuf,
    pub(super) conn: Connection,
}

impl SqliteCatalog {
    /// Open (creating if missing) the catalog database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| db_error(path, e))?;
        // WAL: readers never block the writer; FULL sync: a commit is durable when
        // it returns.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db_error(path, e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| db_error(path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| db_error(path, e))?;
        migrate(&conn).map_err(|e| db_error(path, e))?;
        Ok(SqliteCatalog {
            path: path.to_path_buf(),
            conn,
        })
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// Run `f` in an immediate (write-locking) transaction, committed when `f`
    /// returns Ok(true), rolled back otherwise.
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> std::result::Result<(bool, T), rusqlite::Error>,
    ) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))?;
        let (commit, value) = f(&tx).map_err(|e| db_error(&path, e))?;
        if commit {
            tx.commit().map_err(|e| db_error(&path, e))?;
        } else {
            tx.rollback().map_err(|e| db_error(&path, e))?;
        }
        Ok(value)
    }
}
