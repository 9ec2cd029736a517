//! Connections: statements counted and timed, idle connections reused, URLs
//! and table names checked, client errors as one line.

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Round trips (statements, BEGIN and COMMIT; a connection's setup counts as
/// one) and time spent waiting for them, over every PostgreSQL catalog in this
/// process (for benchmarks and metrics).
pub(super) static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);
pub(super) static CATALOG_NANOS: AtomicU64 = AtomicU64::new(0);
/// Connections opened, and the time that took (part of the above).
pub(super) static CONNECTS: AtomicU64 = AtomicU64::new(0);
pub(super) static CONNECT_NANOS: AtomicU64 = AtomicU64::new(0);

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
pub(super) fn counted<T>(t: Instant, r: T) -> T {
    ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
    let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
    CATALOG_NANOS.fetch_add(nanos, Ordering::Relaxed);
    r
}

pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
pub(super) type PgResult<T> = std::result::Result<T, postgres::Error>;

pub(super) fn query(c: &mut impl GenericClient, sql: &str, p: Params) -> PgResult<Vec<Row>> {
    let t = Instant::now();
    counted(t, c.query(sql, p))
}

pub(super) fn query_opt(c: &mut impl GenericClient, sql: &str, p: Params) -> PgResult<Option<Row>> {
    let t = Instant::now();
    counted(t, c.query_opt(sql, p))
}

pub(super) fn execute(c: &mut impl GenericClient, sql: &str, p: Params) -> PgResult<u64> {
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
pub(super) static IDLE: Mutex<Vec<(String, Client)>> = Mutex::new(Vec::new());
/// At most this many idle connections are kept.
pub(super) const MAX_IDLE: usize = 16;

/// A connection that goes back to [`IDLE`] when dropped (if still open).
pub(super) struct Pooled {
    pub(super) url: String,
    pub(super) client: Option<Client>,
}

impl Pooled {
    pub(super) fn get(&mut self) -> &mut Client {
        match self.client.as_mut() {
            Some(c) => c,
            // Taken only by `drop`.
            None => unreachable!("a pooled connection is used after it was returned"),
        }
    }

    /// An idle connection to `url` that still answers, if any.
    pub(super) fn take_idle(url: &str) -> Option<Client> {
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

pub(super) static RENEWALS: AtomicU64 = AtomicU64::new(0);

/// A client error as one line: the server's message, or the error and its cause.
pub(super) fn pg_detail(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
