//! Deletes in a table: tombstones recorded with the next sequence number,
//! which tombstones apply to a split (pending for it, and able to match its
//! rows by metadata), the delete-only jobs of a compaction, and retirement of
//! tombstones no live split needs any more.
//!
//! A tombstone deletes the matching rows of adds numbered below it. It is
//! pending for a split when its number is above the split's
//! [`Split::deletes_applied_through`]: every job applies the pending
//! tombstones to each of its inputs, and its outputs record the newest
//! tombstone known to the job (`applied_seq`).

use super::catalog::{Split, Tombstone};
use super::policy::{JobKind, JobSpec, Policy};
use super::table::Table;
use super::worker::now_secs;
use crate::input::InputFile;
use crate::predicate::{key_value_from_json, Coverage, Predicate, TimeRange};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// A pending tombstone with its parsed predicate.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The catalog's record.
    pub tombstone: Tombstone,
    /// Its predicate, parsed against the table's sort schema.
    pub predicate: Arc<Predicate>,
}

/// What a job needs to apply deletes: the pending tombstones and the live
/// splits (its inputs' sequence numbers and metadata), read when it was planned.
#[derive(Debug, Clone, Default)]
pub struct Deletes {
    /// Pending tombstones, in sequence order.
    pub pending: Vec<Pending>,
    /// The live splits by id.
    pub splits: HashMap<String, Split>,
}

impl Deletes {
    /// The table's pending tombstones and live splits, now.
    pub fn load(table: &mut Table) -> Result<Deletes> {
        let pending = table.pending_tombstones()?;
        let splits = table
            .live()?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        Ok(Deletes { pending, splits })
    }

    /// The newest tombstone known: a job's outputs have applied every one up
    /// to it.
    pub fn newest(&self) -> u64 {
        self.pending
            .iter()
            .map(|p| p.tombstone.seq)
            .max()
            .unwrap_or(0)
    }

    /// The predicates to apply to split `id` (empty: none).
    pub fn for_split(&self, id: &str) -> Vec<Arc<Predicate>> {
        match self.splits.get(id) {
            Some(s) => applicable(s, &self.pending).1,
            None => Vec::new(),
        }
    }
}

/// The tombstones pending for `split` that may match its rows: whether they
/// match none, some or all of them, and their predicates (without the time
/// range when the split's times lie inside it).
pub fn applicable(split: &Split, pending: &[Pending]) -> (Coverage, Vec<Arc<Predicate>>) {
    let values = |v: &Option<serde_json::Value>| -> Vec<crate::key::KeyValue> {
        match v {
            Some(serde_json::Value::Array(a)) => a.iter().map(key_value_from_json).collect(),
            _ => Vec::new(),
        }
    };
    let (first, last) = (values(&split.first_prefix), values(&split.last_prefix));
    let time = |v: &Option<serde_json::Value>| {
        v.as_ref().and_then(|v| match key_value_from_json(v) {
            crate::key::KeyValue::Int(t) => Some(t),
            crate::key::KeyValue::UInt(t) => Some(i64::try_from(t).unwrap_or(i64::MAX)),
            _ => None,
        })
    };
    let times = time(&split.time_min).zip(time(&split.time_max));
    let mut coverage = Coverage::None;
    let mut preds = Vec::new();
    for p in pending {
        if p.tombstone.seq <= split.deletes_applied_through() {
            continue;
        }
        let c = p.predicate.split_coverage(&first, &last, times);
        if c == Coverage::None {
            continue;
        }
        let inside = times
            .is_some_and(|(lo, hi)| p.predicate.time.contains(lo) && p.predicate.time.contains(hi));
        preds.push(if inside && !p.predicate.time.is_all() {
            Arc::new(p.predicate.without_time())
        } else {
            p.predicate.clone()
        });
        coverage = match (coverage, c) {
            (_, Coverage::All) | (Coverage::All, _) => Coverage::All,
            _ => Coverage::Some,
        };
    }
    (coverage, preds)
}

/// Delete-only jobs for the splits no planned job takes: a split that a
/// pending tombstone matches whole is dropped without being rewritten (any
/// window); in a closed window, a split some pending tombstone may match is
/// rewritten alone with the tombstones applied (the window's final merge
/// applies all its tombstones even when nothing else would run).
pub fn delete_jobs(
    policy: &Policy,
    live: &[Split],
    pending: &[Pending],
    planned: &[JobSpec],
    now: i64,
) -> Vec<JobSpec> {
    if pending.is_empty() {
        return Vec::new();
    }
    let taken: BTreeSet<&str> = planned
        .iter()
        .flat_map(|j| j.inputs.iter().map(String::as_str))
        .collect();
    let mut jobs = Vec::new();
    for s in live {
        let free = s.lease_until.is_none_or(|u| u < now);
        if taken.contains(s.id.as_str()) || !free {
            continue;
        }
        let kind = match applicable(s, pending).0 {
            Coverage::All => JobKind::Purge,
            Coverage::Some if s.skipped.is_none() && policy.window_closed(s, now) => {
                JobKind::Delete
            }
            _ => continue,
        };
        jobs.push(JobSpec {
            kind,
            window_start: s.window_start,
            window_secs: s.window_secs,
            level: s.level,
            inputs: vec![s.id.clone()],
            rows: s.rows,
            bytes: s.bytes,
            num_outputs: usize::from(kind == JobKind::Delete),
        });
    }
    jobs
}

/// One tombstone as `table tombstones` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TombstoneReport {
    #[serde(flatten)]
    /// The catalog's record.
    pub tombstone: Tombstone,
    /// Live splits it is pending for and may match.
    pub splits: usize,
    /// Rows of those splits (an upper bound on the rows it still deletes,
    /// from metadata).
    pub rows_covered: u64,
    /// Of those, rows of splits it matches whole.
    pub rows_matched_whole: u64,
}

impl Table {
    /// Record a delete of the rows matching `predicate` (and `[from, to)` of
    /// the time column) in every split added before it. The predicate is
    /// checked first; on error nothing is recorded.
    pub fn delete(
        &mut self,
        predicate: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Tombstone> {
        let other = self.other_columns()?;
        Predicate::parse(
            predicate,
            &self.sort_schema()?,
            self.settings().prefix_len,
            &other,
            TimeRange { from, to },
        )?;
        self.catalog()
            .add_tombstone(predicate, from, to, now_secs())
    }

    /// The pending tombstones, parsed.
    pub fn pending_tombstones(&mut self) -> Result<Vec<Pending>> {
        let sort = self.sort_schema()?;
        let p = self.settings().prefix_len;
        let path = self.dir().join(super::table::CATALOG_FILE);
        self.catalog()
            .tombstones()?
            .into_iter()
            .map(|t| {
                let time = TimeRange {
                    from: t.from,
                    to: t.to,
                };
                let predicate =
                    Predicate::parse(&t.predicate, &sort, p, &[], time).map_err(|e| {
                        Error::Catalog {
                            path: path.clone(),
                            detail: format!("tombstone {}: {e}", t.id),
                        }
                    })?;
                Ok(Pending {
                    tombstone: t,
                    predicate: Arc::new(predicate),
                })
            })
            .collect()
    }

    /// The pending tombstones with the live splits and rows each still covers.
    pub fn tombstone_reports(&mut self) -> Result<Vec<TombstoneReport>> {
        let pending = self.pending_tombstones()?;
        let live = self.live()?;
        Ok(pending
            .iter()
            .map(|p| {
                let mut report = TombstoneReport {
                    tombstone: p.tombstone.clone(),
                    splits: 0,
                    rows_covered: 0,
                    rows_matched_whole: 0,
                };
                for s in &live {
                    match applicable(s, std::slice::from_ref(p)).0 {
                        Coverage::None => {}
                        c => {
                            report.splits += 1;
                            report.rows_covered += s.rows;
                            if c == Coverage::All {
                                report.rows_matched_whole += s.rows;
                            }
                        }
                    }
                }
                report
            })
            .collect())
    }

    /// Retire the tombstones no live split can need any more (none it is
    /// pending for may hold a matching row); returns their ids.
    pub fn retire_tombstones(&mut self) -> Result<Vec<u64>> {
        let reports = self.tombstone_reports()?;
        let mut retired = Vec::new();
        for r in reports.iter().filter(|r| r.splits == 0) {
            self.catalog()
                .retire_tombstone(r.tombstone.id, now_secs())?;
            retired.push(r.tombstone.id);
        }
        Ok(retired)
    }

    /// Columns of the table's files that are not sort columns (from the footer
    /// of a live split; empty when there is none or it cannot be read).
    fn other_columns(&mut self) -> Result<Vec<String>> {
        let Some(first) = self.live()?.into_iter().next() else {
            return Ok(Vec::new());
        };
        let path = self.split_path(&first.id);
        let opened = self
            .storage()
            .resolve(&path)
            .and_then(|l| InputFile::open_location(&l, None));
        let sort: Vec<String> = self
            .sort_schema()?
            .column_names()
            .map(String::from)
            .collect();
        Ok(opened
            .map(|i| {
                i.metadata
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .filter(|n| !sort.contains(n))
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(id: &str, seq: u64, metrics: (&str, &str), window_start: i64) -> Split {
        Split {
            rows: 10,
            bytes: 100,
            window_start: Some(window_start),
            window_secs: Some(900),
            seq_min: seq,
            seq_max: seq,
            first_prefix: Some(json!([metrics.0])),
            last_prefix: Some(json!([metrics.1])),
            time_min: Some(json!(window_start)),
            time_max: Some(json!(window_start + 899)),
            ..Split::for_test(id)
        }
    }

    fn pending(seq: u64, text: &str, time: TimeRange) -> Pending {
        let sort = crate::gen::sort_schema();
        Pending {
            tombstone: Tombstone {
                id: seq,
                seq,
                predicate: text.into(),
                from: time.from,
                to: time.to,
                created_at: 0,
            },
            predicate: Arc::new(Predicate::parse(text, &sort, 1, &[], time).unwrap()),
        }
    }

    #[test]
    fn a_tombstone_applies_to_older_splits_not_yet_rewritten() {
        let t = [pending(5, "metric_name = 'cpu'", TimeRange::default())];
        let mut s = split("a", 3, ("a", "z"), 0);
        assert_eq!(applicable(&s, &t).0, Coverage::Some);
        s.seq_max = 6; // holds adds after it (a merge that applied it)
        assert_eq!(applicable(&s, &t).0, Coverage::None);
        s.seq_max = 3;
        s.applied_seq = 5; // rewritten with it applied
        assert_eq!(applicable(&s, &t).0, Coverage::None);
        let only = split("b", 1, ("cpu", "cpu"), 0);
        assert_eq!(applicable(&only, &t).0, Coverage::All);
        let other = split("c", 1, ("db", "mem"), 0);
        assert_eq!(applicable(&other, &t).0, Coverage::None);
    }

    #[test]
    fn a_time_range_around_the_split_is_dropped_from_the_row_test() {
        let inside = TimeRange {
            from: Some(-10),
            to: Some(10_000),
        };
        let t = [pending(5, "metric_name = 'cpu'", inside)];
        let (c, preds) = applicable(&split("a", 1, ("a", "z"), 0), &t);
        assert_eq!(c, Coverage::Some);
        assert!(preds[0].time.is_all());
        let later = TimeRange {
            from: Some(2000),
            to: None,
        };
        let t = [pending(5, "metric_name = 'cpu'", later)];
        assert_eq!(
            applicable(&split("a", 1, ("cpu", "cpu"), 0), &t).0,
            Coverage::None
        );
    }

    #[test]
    fn delete_jobs_purge_anywhere_and_rewrite_closed_windows_only() {
        let policy = Policy::default();
        let closed = 0;
        let open = 1_000_000;
        let now = open;
        let live = vec![
            split("covered", 1, ("cpu", "cpu"), open),
            split("open", 2, ("a", "z"), open),
            split("closed", 3, ("a", "z"), closed),
            split("taken", 4, ("a", "z"), closed),
            split("untouched", 5, ("db", "mem"), closed),
        ];
        let t = [pending(9, "metric_name = 'cpu'", TimeRange::default())];
        let planned = [JobSpec {
            kind: JobKind::FinalMerge,
            window_start: Some(closed),
            window_secs: Some(900),
            level: 0,
            inputs: vec!["taken".into()],
            rows: 10,
            bytes: 100,
            num_outputs: 1,
        }];
        let jobs = delete_jobs(&policy, &live, &t, &planned, now);
        let got: Vec<(JobKind, &str, usize)> = jobs
            .iter()
            .map(|j| (j.kind, j.inputs[0].as_str(), j.num_outputs))
            .collect();
        assert_eq!(
            got,
            vec![
                (JobKind::Purge, "covered", 0),
                (JobKind::Delete, "closed", 1)
            ]
        );
        assert!(delete_jobs(&policy, &live, &[], &planned, now).is_empty());
    }
}
