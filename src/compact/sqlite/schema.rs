//! The catalog's schema in SQLite: tables, columns added since, migration and
//! the settings table.

use rusqlite::{params, Connection, OptionalExtension};
use std::time::Duration;

/// How long a writer waits for another process's transaction before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS splits (
    id TEXT PRIMARY KEY,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    window_start INTEGER,
    window_secs INTEGER,
    level INTEGER NOT NULL,
    min_key TEXT NOT NULL,
    max_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    retired_at INTEGER,
    skipped TEXT,
    lease_job TEXT,
    lease_until INTEGER,
    seq_min INTEGER NOT NULL DEFAULT 0,
    seq_max INTEGER NOT NULL DEFAULT 0,
    first_prefix TEXT,
    last_prefix TEXT,
    time_min TEXT,
    time_max TEXT,
    source TEXT,
    applied_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS splits_source ON splits(source);
CREATE INDEX IF NOT EXISTS splits_state ON splits(state);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    bytes_in INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    committed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    predicate TEXT NOT NULL,
    time_from INTEGER,
    time_to INTEGER,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);
";

/// Columns added after the first release, with their declarations: a catalog
/// created before gets them on open (`ALTER TABLE`), its splits numbered in
/// registration order.
pub(super) const ADDED_COLUMNS: [(&str, &str); 8] = [
    ("seq_min", "INTEGER NOT NULL DEFAULT 0"),
    ("seq_max", "INTEGER NOT NULL DEFAULT 0"),
    ("first_prefix", "TEXT"),
    ("last_prefix", "TEXT"),
    ("time_min", "TEXT"),
    ("time_max", "TEXT"),
    ("source", "TEXT"),
    ("applied_seq", "INTEGER NOT NULL DEFAULT 0"),
];

/// Settings-table key of the next sequence number to hand out.
pub(super) const NEXT_SEQ: &str = "next_seq";
/// Settings-table key of the latest `retired_at` among forgotten splits: live
/// sets before it can no longer be shown whole.
pub(super) const COLLECTED_UNTIL: &str = "collected_until";

/// Bring a catalog written by an older version up to [`SCHEMA`]: add missing
/// columns and number existing splits in registration order.
pub(super) fn migrate(conn: &Connection) -> std::result::Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('splits')")?;
    let have: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let missing: Vec<_> = ADDED_COLUMNS
        .iter()
        .filter(|(name, _)| !have.iter().any(|h| h == name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    for (name, decl) in &missing {
        tx.execute_batch(&format!("ALTER TABLE splits ADD COLUMN {name} {decl}"))?;
    }
    if !missing.iter().any(|(name, _)| *name == "seq_min") {
        return tx.commit();
    }
    tx.execute_batch(
        "UPDATE splits SET seq_min = n, seq_max = n FROM
             (SELECT id AS sid, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM splits)
         WHERE splits.id = sid;
         INSERT OR REPLACE INTO settings (key, value)
             SELECT 'next_seq', CAST(COALESCE(MAX(seq_max), 0) + 1 AS TEXT) FROM splits;",
    )?;
    tx.commit()
}

/// An integer stored as text in the settings table (None when absent).
pub(super) fn setting_i64(
    tx: &rusqlite::Connection,
    key: &str,
) -> std::result::Result<Option<i64>, rusqlite::Error> {
    let text: Option<String> = tx
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            params![key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text.and_then(|t| t.parse().ok()))
}

pub(super) fn set_setting(
    tx: &rusqlite::Connection,
    key: &str,
    value: &str,
) -> std::result::Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(())
}
