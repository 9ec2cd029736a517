//! [`PgCatalog`]: connecting, migrating, creating and listing tables.

use super::client::*;
use super::schema::*;
use crate::compact::catalog::{Split, TableSettings};
use crate::compact::sql_row::{split_from, RowError, SPLIT_COLUMNS};
use crate::{Error, Result};
use postgres::{Client, NoTls};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// One table's catalog in a PostgreSQL database.
pub struct PgCatalog {
    pub(super) url: String,
    pub(super) table: String,
    pub(super) client: Pooled,
}

impl PgCatalog {
    /// Connect to the database at `url`, create or migrate its schema, and
    /// address table `table` (which need not exist yet: see [`Self::create`]).
    pub fn open(url: &str, table: &str) -> Result<Self> {
        let mut catalog = PgCatalog::connect_to(url, table)?;
        catalog.migrate()?;
        Ok(catalog)
    }

    pub(super) fn connect_to(url: &str, table: &str) -> Result<Self> {
        if !valid_table_name(table) {
            return Err(Error::InvalidArgument(format!(
                "'{table}': not a table name (letters, digits, '_', '-', '.'; at most 128)"
            )));
        }
        if let Some(client) = Pooled::take_idle(url) {
            return Ok(PgCatalog {
                url: url.to_string(),
                table: table.to_string(),
                client: Pooled {
                    url: url.to_string(),
                    client: Some(client),
                },
            });
        }
        let t = Instant::now();
        let client = Client::connect(url, NoTls);
        let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        CONNECTS.fetch_add(1, Ordering::Relaxed);
        CONNECT_NANOS.fetch_add(nanos, Ordering::Relaxed);
        let client = counted(t, client).map_err(|e| Error::Catalog {
            path: PathBuf::from(display_url(url)),
            detail: format!("cannot connect: {}", pg_detail(&e)),
        })?;
        Ok(PgCatalog {
            url: url.to_string(),
            table: table.to_string(),
            client: Pooled {
                url: url.to_string(),
                client: Some(client),
            },
        })
    }

    /// The name messages use for this catalog: URL (no password) and table.
    pub fn name(&self) -> PathBuf {
        PathBuf::from(format!("{} (table {})", display_url(&self.url), self.table))
    }

    pub(super) fn err(&self, e: postgres::Error) -> Error {
        Error::Catalog {
            path: self.name(),
            detail: pg_detail(&e),
        }
    }

    /// A row that could not be read.
    pub(super) fn row_err(&self, e: RowError<postgres::Error>) -> Error {
        match e {
            RowError::Driver(e) => self.err(e),
            RowError::Invalid { column, value } => self.refused(format!(
                "column {column} holds {value}, which this version cannot read"
            )),
        }
    }

    pub(super) fn refused(&self, detail: impl Into<String>) -> Error {
        Error::Catalog {
            path: self.name(),
            detail: detail.into(),
        }
    }

    /// Create the schema when the database has none; refuse a schema newer
    /// than this build. One process at a time (an advisory lock).
    pub(super) fn migrate(&mut self) -> Result<()> {
        let r = (|| -> PgResult<std::result::Result<(), i32>> {
            let t = Instant::now();
            let mut tx = counted(t, self.client.get().transaction())?;
            execute(
                &mut tx,
                "SELECT pg_advisory_xact_lock($1)",
                &[&MIGRATION_LOCK],
            )?;
            execute(
                &mut tx,
                "CREATE TABLE IF NOT EXISTS pm_schema (version INTEGER NOT NULL)",
                &[],
            )?;
            let version: Option<i32> =
                query_opt(&mut tx, "SELECT max(version) FROM pm_schema", &[])?
                    .and_then(|r| r.try_get(0).ok().flatten());
            let steps: &[&str] = match version {
                None => &[SCHEMA_V1, SCHEMA_V2],
                Some(1) => &[SCHEMA_V2],
                Some(v) if v > SCHEMA_VERSION => return Ok(Err(v)),
                Some(_) => &[],
            };
            for step in steps {
                let t = Instant::now();
                counted(t, tx.batch_execute(step))?;
            }
            if !steps.is_empty() {
                execute(
                    &mut tx,
                    "INSERT INTO pm_schema (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )?;
            }
            let t = Instant::now();
            counted(t, tx.commit())?;
            Ok(Ok(()))
        })();
        match r.map_err(|e| self.err(e))? {
            Ok(()) => Ok(()),
            Err(v) => Err(self.refused(format!(
                "the catalog's schema version is {v}, newer than this build's {SCHEMA_VERSION}: upgrade prefix-merge"
            ))),
        }
    }

    /// Register a new table with `settings`, its split files at `location` (an
    /// object-store URL prefix, or a local directory); fails if it exists.
    pub fn create(&mut self, settings: &TableSettings, location: &str) -> Result<()> {
        let json = serde_json::to_string(settings).map_err(|e| Error::json("table settings", e))?;
        let sql = format!(
            "INSERT INTO pm_tables (name, settings, location, created_at) VALUES ($1, $2, $3, {DB_NOW})
             ON CONFLICT (name) DO NOTHING"
        );
        let n = execute(self.client.get(), &sql, &[&self.table, &json, &location])
            .map_err(|e| self.err(e))?;
        if n == 1 {
            Ok(())
        } else {
            Err(self.refused("the table already exists"))
        }
    }

    /// Where the table's split files live (None: no such table).
    pub fn location(&mut self) -> Result<Option<String>> {
        let row = query_opt(
            self.client.get(),
            "SELECT location FROM pm_tables WHERE name = $1",
            &[&self.table],
        )
        .map_err(|e| self.err(e))?;
        row.map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| self.err(e))
    }

    /// Names of every table in the catalog.
    pub fn tables(&mut self) -> Result<Vec<String>> {
        let rows = query(
            self.client.get(),
            "SELECT name FROM pm_tables ORDER BY name COLLATE \"C\"",
            &[],
        )
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<PgResult<_>>()
            .map_err(|e| self.err(e))
    }

    /// Whether the database answers (for `/readyz`).
    pub fn ping(&mut self) -> Result<()> {
        execute(self.client.get(), "SELECT 1", &[])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Lease renewals done by this process (every catalog).
    pub fn renewals() -> u64 {
        RENEWALS.load(Ordering::Relaxed)
    }

    pub(super) fn select_splits(&mut self, filter: &str, p: Params) -> Result<Vec<Split>> {
        // `id` and `tbl` are in both tables: qualify the split's. Ids sort
        // bytewise (as in SQLite), whatever the database's collation.
        let columns = SPLIT_COLUMNS.replacen("id,", "s.id,", 1);
        let sql = format!(
            "SELECT {columns}, floor(EXTRACT(EPOCH FROM j.lease_until))::bigint
             FROM pm_splits s LEFT JOIN pm_jobs j ON j.tbl = s.tbl AND j.id = s.lease_job
             WHERE s.tbl = $1 {filter} ORDER BY s.id COLLATE \"C\""
        );
        let rows = query(self.client.get(), &sql, p).map_err(|e| self.err(e))?;
        rows.iter()
            .map(split_from)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.row_err(e))
    }

    /// Run `f` in a transaction, committed when it returns `Ok(Ok(_))`.
    pub(super) fn write<T, R>(
        &mut self,
        f: impl FnOnce(&mut postgres::Transaction) -> PgResult<std::result::Result<T, R>>,
    ) -> Result<std::result::Result<T, R>> {
        let r = (|| {
            let t = Instant::now();
            let mut tx = counted(t, self.client.get().transaction())?;
            let out = f(&mut tx)?;
            let t = Instant::now();
            if out.is_ok() {
                counted(t, tx.commit())?;
            } else {
                counted(t, tx.rollback())?;
            }
            Ok(out)
        })();
        r.map_err(|e| self.err(e))
    }
}
