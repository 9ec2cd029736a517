//! The steps of a fenced commit and how rows are read.

use super::client::*;
use super::schema::*;
use crate::compact::catalog::{JobRecord, Split, SplitState};
use crate::compact::sql_row::{json_text, to_i64, SqlRow, SPLIT_COLUMNS};
use postgres::Row;

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
pub(super) enum Refusal {
    /// The job no longer holds its lease or an input (fenced).
    LeaseLost(String),
    /// An output's content is already in the table as this split.
    Duplicate(String),
}

/// Lock the job's lease row; why it may not commit, if so.
pub(super) fn lease_problem(
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
pub(super) fn retire_inputs(
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
pub(super) fn insert_output(
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
pub(super) fn take_seq(tx: &mut postgres::Transaction, table: &str) -> PgResult<i64> {
    let row = query_opt(
        tx,
        "UPDATE pm_tables SET next_seq = next_seq + 1 WHERE name = $1 RETURNING next_seq - 1",
        &[&table],
    )?;
    row.map_or(Ok(1), |r| r.try_get(0))
}

/// Length in seconds of a lease from the caller's `now` to its `until`.
pub(super) fn lease_secs(until: i64, now: i64) -> f64 {
    (until.saturating_sub(now)).max(1) as f64
}
