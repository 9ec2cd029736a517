//! The steps of a fenced commit: lease checks, retiring inputs, inserting
//! outputs, the job history.

use crate::compact::catalog::{JobRecord, Split, SplitState};
use crate::compact::sql_row::{json_text, to_i64, SPLIT_COLUMNS};
use rusqlite::{params, OptionalExtension};

/// Why a commit changed nothing.
pub(super) enum Refusal {
    /// The job no longer holds what it needs (lease gone, input taken).
    Problem(String),
    /// An output's content is already in the table as this split.
    Duplicate(String),
}

/// Why `job` may not commit at `now` (its lease is gone or expired), if so.
pub(super) fn lease_problem(
    tx: &rusqlite::Connection,
    job: &str,
    now: i64,
) -> std::result::Result<Option<String>, rusqlite::Error> {
    let until: Option<i64> = tx
        .query_row(
            "SELECT lease_until FROM jobs WHERE id = ?1",
            params![job],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match until {
        None => Some("the job's lease is gone".to_string()),
        Some(u) if u < now => Some(format!("the job's lease expired at {u}")),
        Some(_) => None,
    })
}

/// Retire the job's inputs as `retire_as`: their sequence range (None without
/// inputs), or which input is no longer held by the job.
pub(super) fn retire_inputs(
    tx: &rusqlite::Connection,
    record: &JobRecord,
    retire_as: SplitState,
    now: i64,
) -> std::result::Result<std::result::Result<Option<(i64, i64)>, String>, rusqlite::Error> {
    let mut range: Option<(i64, i64)> = None;
    for id in &record.inputs {
        let n = tx.execute(
            "UPDATE splits SET state = ?1, retired_at = ?2, lease_job = NULL, lease_until = NULL
             WHERE id = ?3 AND state = 'live' AND lease_job = ?4",
            params![retire_as.as_str(), now, id, record.job],
        )?;
        if n != 1 {
            return Ok(Err(format!("input split {id} is no longer held")));
        }
        let (lo, hi): (i64, i64) = tx.query_row(
            "SELECT seq_min, seq_max FROM splits WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    Ok(Ok(range))
}

/// The split already added from content `source`, if any.
pub(super) fn known_source(
    tx: &rusqlite::Connection,
    source: Option<&str>,
) -> std::result::Result<Option<String>, rusqlite::Error> {
    let Some(source) = source else {
        return Ok(None);
    };
    tx.query_row(
        "SELECT id FROM splits WHERE source = ?1",
        params![source],
        |r| r.get(0),
    )
    .optional()
}

/// Register `s` as live with sequence range `seq`.
pub(super) fn insert_output(
    tx: &rusqlite::Connection,
    s: &Split,
    seq: (i64, i64),
    now: i64,
) -> std::result::Result<(), rusqlite::Error> {
    tx.execute(
        &format!(
            "INSERT INTO splits ({SPLIT_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'live', NULL, NULL, \
              ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        ),
        params![
            s.id,
            to_i64(s.rows),
            to_i64(s.bytes),
            s.window_start,
            s.window_secs.map(to_i64),
            to_i64(s.level),
            s.min_key,
            s.max_key,
            now,
            seq.0,
            seq.1,
            json_text(&s.first_prefix),
            json_text(&s.last_prefix),
            json_text(&s.time_min),
            json_text(&s.time_max),
            s.source,
            to_i64(s.applied_seq),
        ],
    )?;
    Ok(())
}

/// Append the job to the history.
pub(super) fn record_history(
    tx: &rusqlite::Connection,
    record: &JobRecord,
    now: i64,
) -> std::result::Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO history (job, kind, inputs, outputs, bytes_in, bytes_out, committed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            record.job,
            record.kind,
            record.inputs.join(","),
            record.outputs.join(","),
            to_i64(record.bytes_in),
            to_i64(record.bytes_out),
            now
        ],
    )?;
    Ok(())
}
