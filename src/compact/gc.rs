//! Garbage collection: files of splits retired longer than the grace period ago,
//! orphans (outputs of jobs that died before their commit), leftovers of dead
//! merge runs, and the leases of dead workers.

use super::catalog::{Catalog, SplitState};
use super::failpoint;
use super::table::Table;
use super::worker::owner_is_dead;
use crate::output::cleanup_dir_with;
use crate::output::durable::sync_dir;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// What a gc removed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct GcReport {
    /// Jobs whose worker died (lease expired, or its process is gone).
    pub expired_jobs: Vec<String>,
    /// Files no catalog entry and no running job owns.
    pub orphans: Vec<PathBuf>,
    /// Temporary files and locks of dead merge runs.
    pub temporaries: Vec<PathBuf>,
    /// Retired splits whose files were deleted.
    pub deleted_splits: Vec<String>,
    /// Bytes of the deleted files.
    pub bytes_freed: u64,
    /// Retired splits still inside their grace period (a later gc deletes them).
    pub waiting: Option<GraceWait>,
}

/// Retired splits a gc left alone because their grace period has not passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraceWait {
    /// How many retired splits wait.
    pub splits: usize,
    /// When the first of them becomes collectable, RFC 3339 (UTC).
    pub first_collectable_at: String,
    /// The same time in Unix seconds.
    pub first_collectable_unix: i64,
    /// Seconds from the gc's clock until then.
    pub first_collectable_in_secs: u64,
}

impl GraceWait {
    /// The wait of splits retired at `retired_at` (Unix seconds, each after
    /// `now - grace`), or `None` when there are none.
    pub fn of(retired_at: &[i64], grace: Duration, now: i64) -> Option<GraceWait> {
        let first = retired_at
            .iter()
            .min()?
            .saturating_add_unsigned(grace.as_secs());
        let at = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(first).unwrap_or(0));
        Some(GraceWait {
            splits: retired_at.len(),
            first_collectable_at: humantime::format_rfc3339_seconds(at).to_string(),
            first_collectable_unix: first,
            first_collectable_in_secs: u64::try_from(first.saturating_sub(now)).unwrap_or(0),
        })
    }
}

/// End the jobs of dead workers: leases past expiry, and leases of processes on
/// this host that are gone. Returns their ids.
pub fn reap_dead_jobs(catalog: &mut dyn Catalog, now: i64) -> Result<Vec<String>> {
    let mut reaped = catalog.expire_jobs(now)?;
    for lease in catalog.live_jobs(now)? {
        if owner_is_dead(&lease.owner) {
            catalog.abandon_job(&lease.job)?;
            reaped.push(lease.job);
        }
    }
    Ok(reaped)
}

/// Remove orphans: files in `splits/` that no catalog entry names and whose job
/// is not running, plus what dead merge runs left. Files the table does not own
/// (other names) are left alone.
pub fn remove_orphans(table: &mut Table, now: i64, report: &mut GcReport) -> Result<()> {
    let dir = table.splits_dir();
    let cleaned = cleanup_dir_with(&dir, table.storage())?;
    report.temporaries.extend(cleaned.removed);
    // List the files before reading the catalog: a job that commits in between
    // has its outputs in the catalog by then, and a job still running has its
    // lease (a job writes files only after its lease is recorded). Read the
    // running jobs before the known splits: a job that commits between the two
    // reads is then running in the first or has its outputs in the second (read
    // the other way round, its outputs would be in neither, and deleted).
    let mut files = Vec::new();
    match table.splits_remote()? {
        None => {
            for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                if let Some(name) = entry.file_name().to_str() {
                    if let Some((id, job)) = owned_file(name) {
                        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                        files.push((entry.path(), id.to_string(), job.to_string(), size));
                    }
                }
            }
        }
        Some(prefix) => {
            for (object, size) in prefix.list()? {
                if let Some((id, job)) = object.file_name().and_then(owned_file) {
                    let (id, job) = (id.to_string(), job.to_string());
                    files.push((PathBuf::from(object.url()), id, job, size));
                }
            }
        }
    }
    let catalog = table.catalog();
    let running: HashSet<String> = catalog.live_jobs(now)?.into_iter().map(|l| l.job).collect();
    let known: HashSet<String> = catalog
        .splits(&[SplitState::Live, SplitState::Replaced, SplitState::Dropped])?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut removed = false;
    let storage = table.storage().clone();
    for (path, id, job, size) in files {
        let temp = path.extension().is_some_and(|e| e == "tmp");
        if (temp || !known.contains(&id)) && !running.contains(&job) {
            report.bytes_freed += size;
            storage.remove(&path)?;
            report.orphans.push(path);
            removed = true;
        }
    }
    if removed {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// The grace period `prefix-merge table gc` gives replaced splits by default:
/// 10 minutes for readers that still hold them.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(600);

/// Full gc: reap dead jobs, remove orphans, delete the files of splits retired
/// more than `grace` before `now`, then forget those splits.
pub fn gc(table: &mut Table, grace: Duration, now: i64) -> Result<GcReport> {
    let mut report = GcReport {
        expired_jobs: reap_dead_jobs(table.catalog(), now)?,
        ..GcReport::default()
    };
    failpoint::hit("gc.expired");
    remove_orphans(table, now, &mut report)?;
    let cutoff = now.saturating_sub_unsigned(grace.as_secs());
    let mut retired: Vec<(String, u64)> = Vec::new();
    let mut waiting: Vec<i64> = Vec::new();
    for s in table
        .catalog()
        .splits(&[SplitState::Replaced, SplitState::Dropped])?
    {
        match s.retired_at {
            Some(t) if t <= cutoff => retired.push((s.id, s.bytes)),
            Some(t) => waiting.push(t),
            None => {}
        }
    }
    report.waiting = GraceWait::of(&waiting, grace, now);
    let retired_ids: Vec<String> = retired.iter().map(|(id, _)| id.clone()).collect();
    let storage = table.storage().clone();
    for (id, bytes) in &retired {
        let path = table.split_path(id);
        report.bytes_freed += bytes;
        storage.remove(&path)?;
        failpoint::hit("gc.file-deleted");
    }
    if !retired.is_empty() {
        sync_dir(&table.splits_dir())?;
        table.catalog().forget(&retired_ids)?;
        failpoint::hit("gc.forgotten");
    }
    report.deleted_splits = retired_ids;
    Ok(report)
}

/// For a file name the table owns (`ID.parquet` or `ID.parquet.tmp`, ID =
/// `JOB` or `JOB_NNNNN`): its split id and job id.
fn owned_file(name: &str) -> Option<(&str, &str)> {
    let id = name
        .strip_suffix(".parquet")
        .or_else(|| name.strip_suffix(".parquet.tmp"))?;
    let job = id.split('_').next()?;
    let kind = job.split('-').next()?;
    matches!(kind, "add" | "merge" | "final" | "retention").then_some((id, job))
}
