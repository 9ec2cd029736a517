//! `cleanup DIR`: remove what dead runs left in a directory. A run is alive while
//! it holds the advisory lock on its `.pm-RUN.lock`; cleanup never touches a live
//! run's files. A dead run that had begun publishing is rolled back from its
//! journal (its final names removed, unless it had committed).

use super::commit::roll_back;
use super::durable::remove_if_exists;
use super::run::{lock_name, parse_run_file, JournalRecord, RunLock};
use crate::storage::{abort_upload, Location, Storage};
use crate::{Error, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a cleanup did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CleanupReport {
    /// Files removed (temporary files, lock files, final names of runs that died
    /// while publishing).
    pub removed: Vec<PathBuf>,
    /// Runs still alive (their files were left alone).
    pub live_runs: Vec<String>,
    /// Dead runs whose published outputs were rolled back.
    pub rolled_back_runs: Vec<String>,
    /// Multipart uploads of dead runs that were aborted (`URL upload-id`).
    pub aborted_uploads: Vec<String>,
}

/// Remove the leftovers of dead runs in `dir` (URLs in journals reached with
/// the environment's credentials).
pub fn cleanup_dir(dir: &Path) -> Result<CleanupReport> {
    cleanup_dir_with(dir, &Storage::default())
}

/// Undo a dead, uncommitted run's object-storage work: delete the objects it
/// was completing, abort every upload it started. Errors leave the journal for
/// a later cleanup.
fn roll_back_remote(
    records: &[JournalRecord],
    storage: &Storage,
    report: &mut CleanupReport,
) -> Result<()> {
    let object = |url: &str| match storage.resolve(Path::new(url))? {
        Location::Remote(o) => Ok(o),
        Location::Local(p) => Err(Error::InvalidArgument(format!(
            "journal names {} as an object URL",
            p.display()
        ))),
    };
    for r in records {
        if let JournalRecord::PublishRemote(urls) = r {
            for url in urls {
                object(url)?.delete()?;
                report.removed.push(PathBuf::from(url));
            }
        }
    }
    for r in records {
        if let JournalRecord::Upload { url, upload_id } = r {
            abort_upload(&object(url)?, upload_id)?;
            report.aborted_uploads.push(format!("{url} {upload_id}"));
        }
    }
    Ok(())
}

/// [`cleanup_dir`] with the given storage options for URLs in journals (runs
/// whose outputs went to object storage keep their journal in a local
/// directory: `cleanup` there aborts their uploads).
pub fn cleanup_dir_with(dir: &Path, storage: &Storage) -> Result<CleanupReport> {
    let mut report = CleanupReport::default();
    let mut locks = BTreeSet::new();
    let mut temps: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some((run, is_lock)) = name.to_str().and_then(parse_run_file) else {
            continue;
        };
        if is_lock {
            locks.insert(run.to_string());
        } else {
            temps.push((run.to_string(), entry.path()));
        }
    }
    for run in &locks {
        let path = dir.join(lock_name(run));
        let Some(mut lock) = RunLock::try_take(&path)? else {
            if path.exists() {
                report.live_runs.push(run.clone());
            }
            continue;
        };
        let records = lock.records()?;
        let journal_elsewhere = records.iter().any(|r| match r {
            JournalRecord::JournalAt(main) => main.exists(),
            _ => false,
        });
        if journal_elsewhere {
            // The run's main lock decides; cleaning its output directory removes
            // this manifest's temporary file too.
            report.live_runs.push(run.clone());
            continue;
        }
        let publications = records.iter().find_map(|r| match r {
            JournalRecord::Publish(p) => Some(p.clone()),
            _ => None,
        });
        let ended = records
            .iter()
            .any(|r| matches!(r, JournalRecord::Committed | JournalRecord::RolledBack));
        if !ended {
            roll_back_remote(&records, storage, &mut report)?;
        }
        if let Some(publications) = &publications {
            if !ended {
                let created: Vec<PathBuf> = publications
                    .iter()
                    .filter(|p| super::commit::created_target(p))
                    .map(|p| p.target.clone())
                    .collect();
                roll_back(&mut lock, publications)?;
                report.removed.extend(created);
                report.rolled_back_runs.push(run.clone());
            }
            for p in publications {
                if p.temp.exists() {
                    remove_if_exists(&p.temp)?;
                    report.removed.push(p.temp.clone());
                }
            }
        }
        for (_, temp) in temps.iter().filter(|(r, _)| r == run) {
            remove_if_exists(temp)?;
            report.removed.push(temp.clone());
        }
        lock.release()?;
        report.removed.push(path);
    }
    // Temporary files whose run has no lock file here: the run is gone (a run
    // creates its lock before any temporary file and removes it after them), or
    // it wrote only its manifest here and holds a lock in this directory too.
    for (run, temp) in &temps {
        if locks.contains(run) || dir.join(lock_name(run)).exists() {
            continue;
        }
        remove_if_exists(temp)?;
        report.removed.push(temp.clone());
    }
    if !report.removed.is_empty() {
        super::durable::sync_dir(dir)?;
    }
    Ok(report)
}
