//! The [`Catalog`] operations on an SQLite table catalog.

use super::catalog::SqliteCatalog;
use super::commit::*;
use super::rows::*;
use super::schema::*;
use crate::compact::catalog::{
    Catalog, JobRecord, Lease, Split, SplitState, TableSettings, Tombstone,
};
use crate::compact::sql_row::{to_i64, to_u64, tombstone_from, SPLIT_COLUMNS, TOMBSTONE_COLUMNS};
use crate::{Error, Result};
use rusqlite::{params, OptionalExtension};

impl Catalog for SqliteCatalog {
    fn connect(&self) -> Result<Box<dyn Catalog>> {
        Ok(Box::new(SqliteCatalog::open(&self.path)?))
    }

    fn settings(&mut self) -> Result<Option<TableSettings>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'table'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| Error::Catalog {
                path: self.path.clone(),
                detail: format!("table settings: {e}"),
            })
        })
        .transpose()
    }

    fn init(&mut self, settings: &TableSettings) -> Result<()> {
        let json = serde_json::to_string(settings).map_err(|e| Error::json("table settings", e))?;
        let created = self.write(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES ('table', ?1)",
                params![json],
            )?;
            Ok((n == 1, n == 1))
        })?;
        if created {
            Ok(())
        } else {
            Err(Error::Catalog {
                path: self.path.clone(),
                detail: "the table already exists".into(),
            })
        }
    }

    fn splits(&mut self, states: &[SplitState]) -> Result<Vec<Split>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {SPLIT_COLUMNS}, lease_until FROM splits ORDER BY id"
            ))
            .map_err(|e| db_error(&self.path, e))?;
        let rows = stmt
            .query_map([], split_from_row)
            .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| db_error(&self.path, e))?;
        Ok(rows
            .into_iter()
            .filter(|s| states.contains(&s.state))
            .collect())
    }

    fn set_settings(&mut self, settings: &TableSettings) -> Result<()> {
        let old = self.settings()?.ok_or_else(|| Error::Catalog {
            path: self.path.clone(),
            detail: "the table has no settings (never created)".into(),
        })?;
        if old.sort_schema != settings.sort_schema || old.prefix_len != settings.prefix_len {
            return Err(Error::InvalidArgument(
                "the sort schema and P of a table are fixed when it is created".into(),
            ));
        }
        let json = serde_json::to_string(settings).map_err(|e| Error::json("table settings", e))?;
        self.write(|tx| {
            set_setting(tx, "table", &json)?;
            Ok((true, ()))
        })
    }

    fn find_source(&mut self, source: &str) -> Result<Option<Split>> {
        self.conn
            .query_row(
                &format!("SELECT {SPLIT_COLUMNS}, lease_until FROM splits WHERE source = ?1"),
                params![source],
                split_from_row,
            )
            .optional()
            .map_err(|e| db_error(&self.path, e))
    }

    fn live_at(&mut self, at: i64) -> Result<Vec<Split>> {
        let collected = setting_i64(&self.conn, COLLECTED_UNTIL).map_err(|e| self.err(e))?;
        if let Some(until) = collected.filter(|u| *u > at) {
            return Err(Error::InvalidArgument(format!(
                "the live set at {at} is gone: gc already deleted splits retired at {until}, after it"
            )));
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {SPLIT_COLUMNS}, lease_until FROM splits
                 WHERE created_at <= ?1 AND (retired_at IS NULL OR retired_at > ?1) ORDER BY id"
            ))
            .map_err(|e| db_error(&self.path, e))?;
        let rows = stmt
            .query_map(params![at], split_from_row)
            .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| db_error(&self.path, e));
        rows
    }

    fn begin_job(&mut self, lease: &Lease, splits: &[String], now: i64) -> Result<bool> {
        self.write(|tx| {
            for id in splits {
                let row: Option<ClaimRow> = tx
                    .query_row(
                        "SELECT s.state, s.skipped, s.lease_job, j.lease_until
                         FROM splits s LEFT JOIN jobs j ON j.id = s.lease_job
                         WHERE s.id = ?1",
                        params![id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                let free = match row {
                    Some((state, None, holder, until)) => {
                        state == SplitState::Live.as_str()
                            && (holder.is_none() || until.is_none_or(|u| u < now))
                    }
                    _ => false,
                };
                if !free {
                    return Ok((false, false));
                }
            }
            tx.execute(
                "INSERT INTO jobs (id, owner, lease_until) VALUES (?1, ?2, ?3)",
                params![lease.job, lease.owner, lease.until],
            )?;
            for id in splits {
                tx.execute(
                    "UPDATE splits SET lease_job = ?1, lease_until = ?2 WHERE id = ?3",
                    params![lease.job, lease.until, id],
                )?;
            }
            Ok((true, true))
        })
    }

    fn renew(&mut self, job: &str, until: i64) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE jobs SET lease_until = ?1 WHERE id = ?2",
                params![until, job],
            )?;
            tx.execute(
                "UPDATE splits SET lease_until = ?1 WHERE lease_job = ?2",
                params![until, job],
            )?;
            Ok((true, n == 1))
        })
    }

    fn commit_job(
        &mut self,
        record: &JobRecord,
        outputs: &[Split],
        retire_as: SplitState,
        now: i64,
    ) -> Result<()> {
        let path = self.path.clone();
        let refused = self.write(|tx| {
            if let Some(problem) = lease_problem(tx, &record.job, now)? {
                return Ok((false, Some(Refusal::Problem(problem))));
            }
            let range = match retire_inputs(tx, record, retire_as, now)? {
                Ok(range) => range,
                Err(problem) => return Ok((false, Some(Refusal::Problem(problem)))),
            };
            for s in outputs {
                if let Some(known) = known_source(tx, s.source.as_deref())? {
                    return Ok((false, Some(Refusal::Duplicate(known))));
                }
                // An add (no inputs) takes the next number; a merge spans its inputs.
                let seq = match range {
                    Some(r) => r,
                    None => {
                        let next = setting_i64(tx, NEXT_SEQ)?.unwrap_or(1);
                        set_setting(tx, NEXT_SEQ, &(next + 1).to_string())?;
                        (next, next)
                    }
                };
                insert_output(tx, s, seq, now)?;
            }
            record_history(tx, record, now)?;
            tx.execute("DELETE FROM jobs WHERE id = ?1", params![record.job])?;
            Ok((true, None))
        })?;
        match refused {
            None => Ok(()),
            Some(Refusal::Duplicate(existing)) => Err(Error::DuplicateContent { path, existing }),
            Some(Refusal::Problem(detail)) => Err(Error::LeaseLost {
                path,
                job: record.job.clone(),
                detail,
            }),
        }
    }

    fn abandon_job(&mut self, job: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE splits SET lease_job = NULL, lease_until = NULL WHERE lease_job = ?1",
                params![job],
            )?;
            tx.execute("DELETE FROM jobs WHERE id = ?1", params![job])?;
            Ok((true, ()))
        })
    }

    fn live_jobs(&mut self, now: i64) -> Result<Vec<Lease>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, owner, lease_until FROM jobs WHERE lease_until >= ?1 ORDER BY id")
            .map_err(|e| db_error(&self.path, e))?;
        stmt.query_map(params![now], |r| {
            Ok(Lease {
                job: r.get(0)?,
                owner: r.get(1)?,
                until: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db_error(&self.path, e))
    }

    fn expire_jobs(&mut self, now: i64) -> Result<Vec<String>> {
        self.write(|tx| {
            let mut stmt = tx.prepare("SELECT id FROM jobs WHERE lease_until < ?1")?;
            let ids: Vec<String> = stmt
                .query_map(params![now], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            for id in &ids {
                tx.execute(
                    "UPDATE splits SET lease_job = NULL, lease_until = NULL WHERE lease_job = ?1",
                    params![id],
                )?;
                tx.execute("DELETE FROM jobs WHERE id = ?1", params![id])?;
            }
            Ok((true, ids))
        })
    }

    fn set_skipped(&mut self, split: &str, error: Option<&str>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE splits SET skipped = ?1 WHERE id = ?2",
                params![error, split],
            )?;
            Ok((true, ()))
        })
    }

    fn forget(&mut self, splits: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut until = setting_i64(tx, COLLECTED_UNTIL)?.unwrap_or(i64::MIN);
            for id in splits {
                let retired: Option<Option<i64>> = tx
                    .query_row(
                        "DELETE FROM splits WHERE id = ?1 AND state != 'live' RETURNING retired_at",
                        params![id],
                        |r| r.get(0),
                    )
                    .optional()?;
                until = until.max(retired.flatten().unwrap_or(i64::MIN));
            }
            if until > i64::MIN {
                set_setting(tx, COLLECTED_UNTIL, &until.to_string())?;
            }
            Ok((true, ()))
        })
    }

    fn history(&mut self) -> Result<Vec<JobRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT job, kind, inputs, outputs, bytes_in, bytes_out, committed_at
                 FROM history ORDER BY seq",
            )
            .map_err(|e| db_error(&self.path, e))?;
        let list = |s: String| -> Vec<String> {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        };
        stmt.query_map([], |r| {
            Ok(JobRecord {
                job: r.get(0)?,
                kind: r.get(1)?,
                inputs: list(r.get(2)?),
                outputs: list(r.get(3)?),
                bytes_in: to_u64(r.get(4)?),
                bytes_out: to_u64(r.get(5)?),
                committed_at: r.get(6)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db_error(&self.path, e))
    }

    fn add_tombstone(
        &mut self,
        predicate: &str,
        from: Option<i64>,
        to: Option<i64>,
        now: i64,
    ) -> Result<Tombstone> {
        self.write(|tx| {
            let seq = setting_i64(tx, NEXT_SEQ)?.unwrap_or(1);
            set_setting(tx, NEXT_SEQ, &(seq + 1).to_string())?;
            tx.execute(
                "INSERT INTO tombstones (seq, predicate, time_from, time_to, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![seq, predicate, from, to, now],
            )?;
            Ok((
                true,
                Tombstone {
                    id: to_u64(tx.last_insert_rowid()),
                    seq: to_u64(seq),
                    predicate: predicate.to_string(),
                    from,
                    to,
                    created_at: now,
                },
            ))
        })
    }

    fn tombstones(&mut self) -> Result<Vec<Tombstone>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {TOMBSTONE_COLUMNS} FROM tombstones
                     WHERE retired_at IS NULL ORDER BY seq"
            ))
            .map_err(|e| db_error(&self.path, e))?;
        stmt.query_map([], |r| Ok(tombstone_from(r)?))
            .and_then(|rows| rows.collect())
            .map_err(|e| db_error(&self.path, e))
    }

    fn retire_tombstone(&mut self, id: u64, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE tombstones SET retired_at = ?1 WHERE id = ?2 AND retired_at IS NULL",
                params![now, to_i64(id)],
            )?;
            Ok((true, ()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(id: &str) -> Split {
        Split::for_test(id)
    }

    fn add(c: &mut SqliteCatalog, id: &str) {
        let lease = Lease {
            job: format!("add-{id}"),
            owner: "test".into(),
            until: 100,
        };
        assert!(c.begin_job(&lease, &[], 0).unwrap());
        let record = JobRecord {
            job: lease.job.clone(),
            kind: "add".into(),
            inputs: vec![],
            outputs: vec![id.into()],
            bytes_in: 0,
            bytes_out: 1,
            committed_at: 0,
        };
        c.commit_job(&record, &[split(id)], SplitState::Replaced, 1)
            .unwrap();
    }

    #[test]
    fn tombstones_take_the_next_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = SqliteCatalog::open(&dir.path().join("c.sqlite")).unwrap();
        add(&mut c, "a");
        let t = c.add_tombstone("host = 'x'", Some(1), None, 5).unwrap();
        add(&mut c, "b");
        let live = c.splits(&[SplitState::Live]).unwrap();
        assert_eq!((live[0].seq_max, t.seq, live[1].seq_min), (1, 2, 3));
        let u = c.add_tombstone("host = 'y'", None, None, 6).unwrap();
        assert_eq!(c.tombstones().unwrap(), vec![t.clone(), u.clone()]);
        c.retire_tombstone(t.id, 7).unwrap();
        c.retire_tombstone(t.id, 8).unwrap();
        assert_eq!(c.tombstones().unwrap(), vec![u]);
    }

    #[test]
    fn old_catalog_gains_applied_seq_and_keeps_its_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        {
            let mut c = SqliteCatalog::open(&path).unwrap();
            add(&mut c, "a");
            add(&mut c, "b");
            c.conn
                .execute_batch(
                    "DROP TABLE tombstones; ALTER TABLE splits DROP COLUMN applied_seq;
                     UPDATE splits SET seq_min = seq_min + 10, seq_max = seq_max + 10;",
                )
                .unwrap();
        }
        let mut c = SqliteCatalog::open(&path).unwrap();
        let live = c.splits(&[SplitState::Live]).unwrap();
        assert_eq!(
            live.iter()
                .map(|s| (s.seq_max, s.applied_seq))
                .collect::<Vec<_>>(),
            vec![(11, 0), (12, 0)]
        );
        assert!(c.tombstones().unwrap().is_empty());
    }

    #[test]
    fn a_column_this_version_cannot_read_is_an_error_not_a_missing_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let mut c = SqliteCatalog::open(&path).unwrap();
        add(&mut c, "a");
        assert_eq!(c.splits(&[SplitState::Live]).unwrap().len(), 1);
        for (id, column, value) in [
            ("b", "first_prefix", "{not json"),
            ("c", "state", "sideways"),
        ] {
            add(&mut c, id);
            c.conn
                .execute(
                    &format!("UPDATE splits SET {column} = ?1 WHERE id = ?2"),
                    [value, id],
                )
                .unwrap();
            let err = c.splits(&[SplitState::Live]).unwrap_err().to_string();
            assert!(err.contains(value), "{column}: {err}");
            c.conn
                .execute("DELETE FROM splits WHERE id = ?1", [id])
                .unwrap();
        }
    }
}
