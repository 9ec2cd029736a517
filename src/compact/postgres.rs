//! The catalog in PostgreSQL (rust-postgres, no TLS): many tables in one
//! database, every row keyed by table name; leases timed by the database's
//! clock and fenced at commit, so workers on several machines can share it.
//!
//! Clocks: the `now` and `until` arguments of the [`Catalog`] methods are the
//! caller's clock. Here they only give a lease's *length* (`until - now`);
//! every expiry, `created_at` and `retired_at` is the database's `now()`, so
//! workers with skewed clocks agree on who holds what. `live_jobs` and
//! `expire_jobs` ignore their argument and use the database's clock.
//!
//! Fencing: a lease is the row `(table, job)` in `pm_jobs`; the job id is a
//! ULID never reused, so it is the lease's generation. A commit locks that row
//! and refuses ([`Error::LeaseLost`]) when it is gone (reaped, abandoned) or
//! expired by the database's clock, and retires only inputs still claimed by
//! that job id. A renewal never revives an expired lease.

use super::catalog::{Catalog, JobRecord, Lease, Split, SplitState, TableSettings, Tombstone};
use super::sql_row::{
    json_text, split_from, to_i64, to_u64, tombstone_from, RowError, SqlRow, SPLIT_COLUMNS,
    TOMBSTONE_COLUMNS,
};
use super::worker::now_secs;
use crate::{Error, Result};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The schema version this build writes and reads (`pm_schema.version`).
pub const SCHEMA_VERSION: i32 = 2;

/// Advisory lock key held while the schema is created or migrated.
const MIGRATION_LOCK: i64 = 0x706d_5f73_6368_656d; // "pm_schem"

/// Schema version 1.
const SCHEMA_V1: &str = "
CREATE TABLE pm_tables (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    location TEXT NOT NULL,
    next_seq BIGINT NOT NULL DEFAULT 1,
    collected_until BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE pm_splits (
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    id TEXT NOT NULL,
    rows BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    window_start BIGINT,
    window_secs BIGINT,
    level BIGINT NOT NULL,
    min_key TEXT NOT NULL,
    max_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    retired_at BIGINT,
    skipped TEXT,
    seq_min BIGINT NOT NULL,
    seq_max BIGINT NOT NULL,
    first_prefix TEXT,
    last_prefix TEXT,
    time_min TEXT,
    time_max TEXT,
    source TEXT,
    lease_job TEXT,
    PRIMARY KEY (tbl, id)
);
CREATE UNIQUE INDEX pm_splits_source ON pm_splits (tbl, source) WHERE source IS NOT NULL;
CREATE INDEX pm_splits_state ON pm_splits (tbl, state);
CREATE INDEX pm_splits_lease ON pm_splits (tbl, lease_job) WHERE lease_job IS NOT NULL;
CREATE TABLE pm_jobs (
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    renewals BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tbl, id)
);
CREATE TABLE pm_history (
    seq BIGSERIAL PRIMARY KEY,
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    job TEXT NOT NULL,
    kind TEXT NOT NULL,
    inputs TEXT[] NOT NULL,
    outputs TEXT[] NOT NULL,
    bytes_in BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    committed_at BIGINT NOT NULL,
    UNIQUE (tbl, job)
);
";

/// Schema version 2: deletes (tombstones, and what each split has applied).
const SCHEMA_V2: &str = "
ALTER TABLE pm_splits ADD COLUMN applied_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE pm_tombstones (
    id BIGSERIAL PRIMARY KEY,
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    seq BIGINT NOT NULL,
    predicate TEXT NOT NULL,
    time_from BIGINT,
    time_to BIGINT,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX pm_tombstones_pending ON pm_tombstones (tbl, seq) WHERE retired_at IS NULL;
";

/// The database clock in Unix seconds, as SQL.
const DB_NOW: &str = "floor(EXTRACT(EPOCH FROM now()))::bigint";

/// Round trips (statements, BEGIN and COMMIT; a connection's setup counts as
/// one) and time spent waiting for them, over every PostgreSQL catalog in this
/// process (for benchmarks and metrics).
static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);
static CATALOG_NANOS: AtomicU64 = AtomicU64::new(0);
/// Connections opened, and the time that took (part of the above).
static CONNECTS: AtomicU64 = AtomicU64::new(0);
static CONNECT_NANOS: AtomicU64 = AtomicU64::new(0);

/// Connections opened to the catalog so far in this process, and the time
/// that took (included in [`catalog_stats`]).
pub fn connect_stats() -> (u64, std::time::Duration) {
    (
        CONNECTS.load(Ordering::Relaxed),
        std::time::Duration::from_nanos(CONNECT_NANOS.load(Ordering::Relaxed)),
    )
}

/// Catalog round trips and the time spent in them so far in this process.
pub fn catalog_stats() -> (u64, std::time::Duration) {
    (
        ROUND_TRIPS.load(Ordering::Relaxed),
        std::time::Duration::from_nanos(CATALOG_NANOS.load(Ordering::Relaxed)),
    )
}

/// Count one round trip that started at `t`.
fn counted<T>(t: Instant, r: T) -> T {
    ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
    let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
    CATALOG_NANOS.fetch_add(nanos, Ordering::Relaxed);
    r
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
type PgResult<T> = std::result::Result<T, postgres::Error>;

fn query(c: &mut impl GenericClient, sql: &str, p: Params) -> PgResult<Vec<Row>> {
    let t = Instant::now();
    counted(t, c.query(sql, p))
}

fn query_opt(c: &mut impl GenericClient, sql: &str, p: Params) -> PgResult<Option<Row>> {
    let t = Instant::now();
    counted(t, c.query_opt(sql, p))
}

fn execute(c: &mut impl GenericClient, sql: &str, p: Params) -> PgResult<u64> {
    let t = Instant::now();
    counted(t, c.execute(sql, p))
}

/// Whether `name` can name a table (letters, digits, `_`, `-`, `.`; at most
/// 128 characters, not starting with a punctuation mark).
pub fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A catalog URL as shown in messages: without its password.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Whether `s` names a PostgreSQL catalog (`postgres://` or `postgresql://`).
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// Idle connections kept for reuse, with their URL: a job's connection and
/// its heartbeat's come back here when dropped, so a job does not pay for two
/// new backends.
static IDLE: Mutex<Vec<(String, Client)>> = Mutex::new(Vec::new());
/// At most this many idle connections are kept.
const MAX_IDLE: usize = 16;

/// A connection that goes back to [`IDLE`] when dropped (if still open).
struct Pooled {
    url: String,
    client: Option<Client>,
}

impl Pooled {
    fn get(&mut self) -> &mut Client {
        match self.client.as_mut() {
            Some(c) => c,
            // Taken only by `drop`.
            None => unreachable!("a pooled connection is used after it was returned"),
        }
    }

    /// An idle connection to `url` that still answers, if any.
    fn take_idle(url: &str) -> Option<Client> {
        loop {
            let mut client = {
                let mut idle = IDLE.lock().ok()?;
                let i = idle.iter().position(|(u, _)| u == url)?;
                idle.swap_remove(i).1
            };
            let t = Instant::now();
            if counted(t, client.is_valid(Duration::from_secs(5))).is_ok() {
                return Some(client);
            }
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if client.is_closed() {
            return;
        }
        if let Ok(mut idle) = IDLE.lock() {
            if idle.len() < MAX_IDLE {
                idle.push((std::mem::take(&mut self.url), client));
            }
        }
    }
}

/// One table's catalog in a PostgreSQL database.
pub struct PgCatalog {
    url: String,
    table: String,
    client: Pooled,
}

impl PgCatalog {
    /// Connect to the database at `url`, create or migrate its schema, and
    /// address table `table` (which need not exist yet: see [`Self::create`]).
    pub fn open(url: &str, table: &str) -> Result<Self> {
        let mut catalog = PgCatalog::connect_to(url, table)?;
        catalog.migrate()?;
        Ok(catalog)
    }

    fn connect_to(url: &str, table: &str) -> Result<Self> {
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

    fn err(&self, e: postgres::Error) -> Error {
        Error::Catalog {
            path: self.name(),
            detail: pg_detail(&e),
        }
    }

    /// A row that could not be read.
    fn row_err(&self, e: RowError<postgres::Error>) -> Error {
        match e {
            RowError::Driver(e) => self.err(e),
            RowError::Invalid { column, value } => self.refused(format!(
                "column {column} holds {value}, which this version cannot read"
            )),
        }
    }

    fn refused(&self, detail: impl Into<String>) -> Error {
        Error::Catalog {
            path: self.name(),
            detail: detail.into(),
        }
    }

    /// Create the schema when the database has none; refuse a schema newer
    /// than this build. One process at a time (an advisory lock).
    fn migrate(&mut self) -> Result<()> {
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

    fn select_splits(&mut self, filter: &str, p: Params) -> Result<Vec<Split>> {
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
    fn write<T, R>(
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

static RENEWALS: AtomicU64 = AtomicU64::new(0);

/// A client error as one line: the server's message, or the error and its cause.
fn pg_detail(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl SqlRow for Row {
    type Error = postgres::Error;
    fn int(&self, i: usize) -> PgResult<i64> {
        self.try_get(i)
    }
    fn opt_int(&self, i: usize) -> PgResult<Option<i64>> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> PgResult<String> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> PgResult<Option<String>> {
        self.try_get(i)
    }
}

/// Why a commit changed nothing.
enum Refusal {
    /// The job no longer holds its lease or an input (fenced).
    LeaseLost(String),
    /// An output's content is already in the table as this split.
    Duplicate(String),
}

/// Lock the job's lease row; why it may not commit, if so.
fn lease_problem(
    tx: &mut postgres::Transaction,
    table: &str,
    job: &str,
) -> PgResult<Option<String>> {
    let row = query_opt(
        tx,
        "SELECT lease_until >= now(), floor(EXTRACT(EPOCH FROM lease_until))::bigint
         FROM pm_jobs WHERE tbl = $1 AND id = $2 FOR UPDATE",
        &[&table, &job],
    )?;
    Ok(match row {
        None => Some("the job's lease is gone (expired and reaped, or abandoned)".into()),
        Some(r) if !r.try_get::<_, bool>(0)? => Some(format!(
            "the job's lease expired at {} (database clock)",
            r.try_get::<_, i64>(1)?
        )),
        Some(_) => None,
    })
}

/// Retire the job's inputs: their sequence range (None without inputs), or
/// which input the job no longer holds.
fn retire_inputs(
    tx: &mut postgres::Transaction,
    table: &str,
    record: &JobRecord,
    retire_as: SplitState,
) -> PgResult<std::result::Result<Option<(i64, i64)>, String>> {
    if record.inputs.is_empty() {
        return Ok(Ok(None));
    }
    let sql = format!(
        "UPDATE pm_splits SET state = $1, retired_at = {DB_NOW}, lease_job = NULL
         WHERE tbl = $2 AND id = ANY($3) AND state = 'live' AND lease_job = $4
         RETURNING id, seq_min, seq_max"
    );
    let rows = query(
        tx,
        &sql,
        &[&retire_as.as_str(), &table, &record.inputs, &record.job],
    )?;
    if rows.len() != record.inputs.len() {
        let done: Vec<String> = rows.iter().map(|r| r.try_get(0)).collect::<PgResult<_>>()?;
        let lost = record
            .inputs
            .iter()
            .find(|i| !done.contains(i))
            .cloned()
            .unwrap_or_default();
        return Ok(Err(format!("input split {lost} is no longer held")));
    }
    let mut range: Option<(i64, i64)> = None;
    for r in &rows {
        let (lo, hi): (i64, i64) = (r.try_get(1)?, r.try_get(2)?);
        range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    Ok(Ok(range))
}

/// Register `s` as live with sequence range `seq`; false when its `source`
/// is already in the table.
fn insert_output(
    tx: &mut postgres::Transaction,
    table: &str,
    s: &Split,
    seq: (i64, i64),
) -> PgResult<bool> {
    let sql = format!(
        "INSERT INTO pm_splits (tbl, {SPLIT_COLUMNS}) VALUES
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, {DB_NOW}, 'live', NULL, NULL,
          $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (tbl, source) WHERE source IS NOT NULL DO NOTHING"
    );
    let n = execute(
        tx,
        &sql,
        &[
            &table,
            &s.id,
            &to_i64(s.rows),
            &to_i64(s.bytes),
            &s.window_start,
            &s.window_secs.map(to_i64),
            &to_i64(s.level),
            &s.min_key,
            &s.max_key,
            &seq.0,
            &seq.1,
            &json_text(&s.first_prefix),
            &json_text(&s.last_prefix),
            &json_text(&s.time_min),
            &json_text(&s.time_max),
            &s.source,
            &to_i64(s.applied_seq),
        ],
    )?;
    Ok(n == 1)
}

/// The next sequence number of the table (taken).
fn take_seq(tx: &mut postgres::Transaction, table: &str) -> PgResult<i64> {
    let row = query_opt(
        tx,
        "UPDATE pm_tables SET next_seq = next_seq + 1 WHERE name = $1 RETURNING next_seq - 1",
        &[&table],
    )?;
    row.map_or(Ok(1), |r| r.try_get(0))
}

/// Length in seconds of a lease from the caller's `now` to its `until`.
fn lease_secs(until: i64, now: i64) -> f64 {
    (until.saturating_sub(now)).max(1) as f64
}

impl Catalog for PgCatalog {
    fn connect(&self) -> Result<Box<dyn Catalog>> {
        Ok(Box::new(PgCatalog::connect_to(&self.url, &self.table)?))
    }

    fn settings(&mut self) -> Result<Option<TableSettings>> {
        let row = query_opt(
            self.client.get(),
            "SELECT settings FROM pm_tables WHERE name = $1",
            &[&self.table],
        )
        .map_err(|e| self.err(e))?;
        let Some(row) = row else { return Ok(None) };
        let json: String = row.try_get(0).map_err(|e| self.err(e))?;
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| self.refused(format!("table settings: {e}")))
    }

    fn init(&mut self, _settings: &TableSettings) -> Result<()> {
        Err(self.refused("a table in PostgreSQL is created with its location (PgCatalog::create)"))
    }

    fn splits(&mut self, states: &[SplitState]) -> Result<Vec<Split>> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let table = self.table.clone();
        self.select_splits("AND s.state = ANY($2)", &[&table, &states])
    }

    fn set_settings(&mut self, settings: &TableSettings) -> Result<()> {
        let old = self
            .settings()?
            .ok_or_else(|| self.refused("no such table"))?;
        if old.sort_schema != settings.sort_schema || old.prefix_len != settings.prefix_len {
            return Err(Error::InvalidArgument(
                "the sort schema and P of a table are fixed when it is created".into(),
            ));
        }
        let json = serde_json::to_string(settings).map_err(|e| Error::json("table settings", e))?;
        execute(
            self.client.get(),
            "UPDATE pm_tables SET settings = $2 WHERE name = $1",
            &[&self.table, &json],
        )
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    fn find_source(&mut self, source: &str) -> Result<Option<Split>> {
        let table = self.table.clone();
        let found = self.select_splits("AND s.source = $2", &[&table, &source])?;
        Ok(found.into_iter().next())
    }

    fn live_at(&mut self, at: i64) -> Result<Vec<Split>> {
        let row = query_opt(
            self.client.get(),
            "SELECT collected_until FROM pm_tables WHERE name = $1",
            &[&self.table],
        )
        .map_err(|e| self.err(e))?;
        let collected: Option<i64> = match row {
            Some(r) => r.try_get(0).map_err(|e| self.err(e))?,
            None => None,
        };
        if let Some(until) = collected.filter(|u| *u > at) {
            return Err(Error::InvalidArgument(format!(
                "the live set at {at} is gone: gc already deleted splits retired at {until}, after it"
            )));
        }
        let table = self.table.clone();
        self.select_splits(
            "AND s.created_at <= $2 AND (s.retired_at IS NULL OR s.retired_at > $2)",
            &[&table, &at],
        )
    }

    fn begin_job(&mut self, lease: &Lease, splits: &[String], now: i64) -> Result<bool> {
        let table = self.table.clone();
        let secs = lease_secs(lease.until, now);
        let claimed = self.write(|tx| {
            if !splits.is_empty() {
                // Rows another transaction is claiming are skipped, not waited for.
                let rows = query(
                    tx,
                    "SELECT s.id FROM pm_splits s
                     LEFT JOIN pm_jobs j ON j.tbl = s.tbl AND j.id = s.lease_job
                     WHERE s.tbl = $1 AND s.id = ANY($2) AND s.state = 'live'
                       AND s.skipped IS NULL AND (j.id IS NULL OR j.lease_until < now())
                     FOR UPDATE OF s SKIP LOCKED",
                    &[&table, &splits],
                )?;
                if rows.len() != splits.len() {
                    return Ok(Err(()));
                }
            }
            execute(
                tx,
                "INSERT INTO pm_jobs (tbl, id, owner, lease_until)
                 VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
                &[&table, &lease.job, &lease.owner, &secs],
            )?;
            if !splits.is_empty() {
                execute(
                    tx,
                    "UPDATE pm_splits SET lease_job = $3 WHERE tbl = $1 AND id = ANY($2)",
                    &[&table, &splits, &lease.job],
                )?;
            }
            Ok(Ok(()))
        })?;
        Ok(claimed.is_ok())
    }

    fn renew(&mut self, job: &str, until: i64) -> Result<bool> {
        let secs = lease_secs(until, now_secs());
        // An expired lease is never revived: its job may already be fenced.
        let n = execute(
            self.client.get(),
            "UPDATE pm_jobs SET lease_until = now() + make_interval(secs => $3),
                 renewals = renewals + 1
             WHERE tbl = $1 AND id = $2 AND lease_until >= now()",
            &[&self.table, &job, &secs],
        )
        .map_err(|e| self.err(e))?;
        if n == 1 {
            RENEWALS.fetch_add(1, Ordering::Relaxed);
        }
        Ok(n == 1)
    }

    fn commit_job(
        &mut self,
        record: &JobRecord,
        outputs: &[Split],
        retire_as: SplitState,
        _now: i64,
    ) -> Result<()> {
        let table = self.table.clone();
        let refused = self.write(|tx| {
            if let Some(problem) = lease_problem(tx, &table, &record.job)? {
                return Ok(Err(Refusal::LeaseLost(problem)));
            }
            let range = match retire_inputs(tx, &table, record, retire_as)? {
                Ok(range) => range,
                Err(problem) => return Ok(Err(Refusal::LeaseLost(problem))),
            };
            for s in outputs {
                // An add (no inputs) takes the next number; a merge spans its inputs.
                let seq = match range {
                    Some(r) => r,
                    None => {
                        let n = take_seq(tx, &table)?;
                        (n, n)
                    }
                };
                if !insert_output(tx, &table, s, seq)? {
                    let known = query_opt(
                        tx,
                        "SELECT id FROM pm_splits WHERE tbl = $1 AND source = $2",
                        &[&table, &s.source],
                    )?;
                    let id = known.map(|r| r.try_get(0)).transpose()?.unwrap_or_default();
                    return Ok(Err(Refusal::Duplicate(id)));
                }
            }
            let sql = format!(
                "INSERT INTO pm_history (tbl, job, kind, inputs, outputs, bytes_in, bytes_out, committed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, {DB_NOW})"
            );
            execute(
                tx,
                &sql,
                &[
                    &table,
                    &record.job,
                    &record.kind,
                    &record.inputs,
                    &record.outputs,
                    &to_i64(record.bytes_in),
                    &to_i64(record.bytes_out),
                ],
            )?;
            execute(
                tx,
                "DELETE FROM pm_jobs WHERE tbl = $1 AND id = $2",
                &[&table, &record.job],
            )?;
            Ok(Ok(()))
        })?;
        match refused {
            Ok(()) => Ok(()),
            Err(Refusal::Duplicate(existing)) => Err(Error::DuplicateContent {
                path: self.name(),
                existing,
            }),
            Err(Refusal::LeaseLost(detail)) => Err(Error::LeaseLost {
                path: self.name(),
                job: record.job.clone(),
                detail,
            }),
        }
    }

    fn abandon_job(&mut self, job: &str) -> Result<()> {
        let table = self.table.clone();
        let done: std::result::Result<(), ()> = self.write(|tx| {
            execute(
                tx,
                "UPDATE pm_splits SET lease_job = NULL WHERE tbl = $1 AND lease_job = $2",
                &[&table, &job],
            )?;
            execute(
                tx,
                "DELETE FROM pm_jobs WHERE tbl = $1 AND id = $2",
                &[&table, &job],
            )?;
            Ok(Ok(()))
        })?;
        let _ = done;
        Ok(())
    }

    fn live_jobs(&mut self, _now: i64) -> Result<Vec<Lease>> {
        let rows = query(
            self.client.get(),
            "SELECT id, owner, floor(EXTRACT(EPOCH FROM lease_until))::bigint FROM pm_jobs
             WHERE tbl = $1 AND lease_until >= now() ORDER BY id COLLATE \"C\"",
            &[&self.table],
        )
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok(Lease {
                    job: r.try_get(0)?,
                    owner: r.try_get(1)?,
                    until: r.try_get(2)?,
                })
            })
            .collect::<PgResult<_>>()
            .map_err(|e| self.err(e))
    }

    fn expire_jobs(&mut self, _now: i64) -> Result<Vec<String>> {
        let table = self.table.clone();
        let ids: std::result::Result<Vec<String>, ()> = self.write(|tx| {
            let rows = query(
                tx,
                "DELETE FROM pm_jobs WHERE tbl = $1 AND lease_until < now() RETURNING id",
                &[&table],
            )?;
            let ids: Vec<String> = rows.iter().map(|r| r.try_get(0)).collect::<PgResult<_>>()?;
            if !ids.is_empty() {
                execute(
                    tx,
                    "UPDATE pm_splits SET lease_job = NULL WHERE tbl = $1 AND lease_job = ANY($2)",
                    &[&table, &ids],
                )?;
            }
            Ok(Ok(ids))
        })?;
        Ok(ids.unwrap_or_default())
    }

    fn set_skipped(&mut self, split: &str, error: Option<&str>) -> Result<()> {
        execute(
            self.client.get(),
            "UPDATE pm_splits SET skipped = $3 WHERE tbl = $1 AND id = $2",
            &[&self.table, &split, &error],
        )
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    fn forget(&mut self, splits: &[String]) -> Result<()> {
        let table = self.table.clone();
        let done: std::result::Result<(), ()> = self.write(|tx| {
            let rows = query(
                tx,
                "DELETE FROM pm_splits WHERE tbl = $1 AND id = ANY($2) AND state != 'live'
                 RETURNING retired_at",
                &[&table, &splits],
            )?;
            let mut until: Option<i64> = None;
            for r in &rows {
                let t: Option<i64> = r.try_get(0)?;
                until = until.max(t);
            }
            if let Some(until) = until {
                execute(
                    tx,
                    "UPDATE pm_tables SET collected_until = GREATEST(COALESCE(collected_until, $2), $2)
                     WHERE name = $1",
                    &[&table, &until],
                )?;
            }
            Ok(Ok(()))
        })?;
        let _ = done;
        Ok(())
    }

    fn history(&mut self) -> Result<Vec<JobRecord>> {
        let rows = query(
            self.client.get(),
            "SELECT job, kind, inputs, outputs, bytes_in, bytes_out, committed_at
             FROM pm_history WHERE tbl = $1 ORDER BY seq",
            &[&self.table],
        )
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok(JobRecord {
                    job: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    inputs: r.try_get(2)?,
                    outputs: r.try_get(3)?,
                    bytes_in: to_u64(r.try_get(4)?),
                    bytes_out: to_u64(r.try_get(5)?),
                    committed_at: r.try_get(6)?,
                })
            })
            .collect::<PgResult<_>>()
            .map_err(|e| self.err(e))
    }

    fn add_tombstone(
        &mut self,
        predicate: &str,
        from: Option<i64>,
        to: Option<i64>,
        _now: i64,
    ) -> Result<Tombstone> {
        let table = self.table.clone();
        let made: std::result::Result<Tombstone, ()> = self.write(|tx| {
            let seq = take_seq(tx, &table)?;
            let sql = format!(
                "INSERT INTO pm_tombstones (tbl, seq, predicate, time_from, time_to, created_at)
                 VALUES ($1, $2, $3, $4, $5, {DB_NOW}) RETURNING id, created_at"
            );
            let row = query(tx, &sql, &[&table, &seq, &predicate, &from, &to])?;
            let Some(row) = row.first() else {
                return Ok(Err(()));
            };
            Ok(Ok(Tombstone {
                id: to_u64(row.try_get(0)?),
                seq: to_u64(seq),
                predicate: predicate.to_string(),
                from,
                to,
                created_at: row.try_get(1)?,
            }))
        })?;
        made.map_err(|()| self.refused("recording the tombstone returned no row"))
    }

    fn tombstones(&mut self) -> Result<Vec<Tombstone>> {
        let rows = query(
            self.client.get(),
            &format!(
                "SELECT {TOMBSTONE_COLUMNS} FROM pm_tombstones
                 WHERE tbl = $1 AND retired_at IS NULL ORDER BY seq"
            ),
            &[&self.table],
        )
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(tombstone_from)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.row_err(e))
    }

    fn retire_tombstone(&mut self, id: u64, _now: i64) -> Result<()> {
        let sql = format!(
            "UPDATE pm_tombstones SET retired_at = {DB_NOW}
             WHERE tbl = $1 AND id = $2 AND retired_at IS NULL"
        );
        execute(self.client.get(), &sql, &[&self.table, &to_i64(id)])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}
