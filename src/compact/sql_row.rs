//! Catalog rows as both SQL catalogs (SQLite, PostgreSQL) read and write them:
//! the split and tombstone columns, and their conversion to [`Split`] and
//! [`Tombstone`] from a row of either driver.

use super::catalog::{Split, SplitState, Tombstone};

/// The split columns, in the order [`split_from`] reads them (a query appends
/// the lease expiry as column 20).
pub(crate) const SPLIT_COLUMNS: &str = "id, rows, bytes, window_start, window_secs, level, \
     min_key, max_key, created_at, state, retired_at, skipped, seq_min, seq_max, first_prefix, \
     last_prefix, time_min, time_max, source, applied_seq";

/// The tombstone columns, in the order [`tombstone_from`] reads them.
pub(crate) const TOMBSTONE_COLUMNS: &str = "id, seq, predicate, time_from, time_to, created_at";

/// Why a row could not be read: the driver failed, or a column holds a value
/// this version cannot read.
pub(crate) enum RowError<E> {
    /// The driver's error.
    Driver(E),
    /// Column `column` holds `value`.
    Invalid { column: usize, value: String },
}

impl<E> From<E> for RowError<E> {
    fn from(e: E) -> Self {
        RowError::Driver(e)
    }
}

/// A result row of either driver, read by column position.
pub(crate) trait SqlRow {
    /// The driver's error.
    type Error;
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    /// A nullable integer column.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    /// A text column.
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    /// A nullable text column.
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
}

/// Rows read with driver error `E`.
type RowResult<T, E> = Result<T, RowError<E>>;

/// A split from a row selected as `SPLIT_COLUMNS, lease expiry`.
pub(crate) fn split_from<R: SqlRow>(r: &R) -> RowResult<Split, R::Error> {
    let state = r.text(9)?;
    let json = |i: usize| -> RowResult<Option<serde_json::Value>, R::Error> {
        match r.opt_text(i)? {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|_| RowError::Invalid {
                    column: i,
                    value: format!("not JSON: {t}"),
                }),
        }
    };
    Ok(Split {
        id: r.text(0)?,
        rows: to_u64(r.int(1)?),
        bytes: to_u64(r.int(2)?),
        window_start: r.opt_int(3)?,
        window_secs: r.opt_int(4)?.map(to_u64),
        level: to_u64(r.int(5)?),
        min_key: r.text(6)?,
        max_key: r.text(7)?,
        created_at: r.int(8)?,
        state: SplitState::parse(&state).ok_or_else(|| RowError::Invalid {
            column: 9,
            value: format!("state {state}"),
        })?,
        retired_at: r.opt_int(10)?,
        skipped: r.opt_text(11)?,
        seq_min: to_u64(r.int(12)?),
        seq_max: to_u64(r.int(13)?),
        first_prefix: json(14)?,
        last_prefix: json(15)?,
        time_min: json(16)?,
        time_max: json(17)?,
        source: r.opt_text(18)?,
        applied_seq: to_u64(r.int(19)?),
        lease_until: r.opt_int(20)?,
    })
}

/// A tombstone from a row selected as `TOMBSTONE_COLUMNS`.
pub(crate) fn tombstone_from<R: SqlRow>(r: &R) -> RowResult<Tombstone, R::Error> {
    Ok(Tombstone {
        id: to_u64(r.int(0)?),
        seq: to_u64(r.int(1)?),
        predicate: r.text(2)?,
        from: r.opt_int(3)?,
        to: r.opt_int(4)?,
        created_at: r.int(5)?,
    })
}

/// A count or size stored as a signed integer (negative ones read as 0).
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A count or size as a signed integer (saturating).
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A JSON column's text.
pub(crate) fn json_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}
