//! The [`Catalog`] operations on a PostgreSQL table.

use super::catalog::PgCatalog;
use super::client::*;
use super::commit::*;
use super::schema::*;
use crate::compact::catalog::{
    Catalog, JobRecord, Lease, Split, SplitState, TableSettings, Tombstone,
};
use crate::compact::sql_row::{to_i64, to_u64, tombstone_from, TOMBSTONE_COLUMNS};
use crate::compact::worker::now_secs;
use crate::{Error, Result};
use std::sync::atomic::Ordering;

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
