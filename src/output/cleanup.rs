//! `cleanup DIR`: remove what dead runs left in a directory. A run is alive while
//! it holds the advisory lock on its `.pm-RUN.lock`; cleanup never touches a live
//! run's files. A dead run that had begun publishing is rolled back from its
//! journal (its final names removed, unless it had committed).

use super::commit::roll_back;
use super::durable::remove_if_exists;
use super::run::{lock_name, parse_run_file, JournalRecord, Publication, RunLock};
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
    let RunFiles { locks, temps } = scan_run_files(dir)?;
    for run in &locks {
        let run_temps: Vec<&PathBuf> = temps
            .iter()
            .filter(|(r, _)| r == run)
            .map(|(_, t)| t)
            .collect();
        clean_run(dir, run, &run_temps, storage, &mut report)?;
    }
    remove_orphan_temps(dir, &locks, &temps, &mut report)?;
    if !report.removed.is_empty() {
        super::durable::sync_dir(dir)?;
    }
    Ok(report)
}

/// The run files found in a directory.
struct RunFiles {
    /// Runs with a lock file.
    locks: BTreeSet<String>,
    /// Every run file that is not a lock (temporary files), with its run id.
    temps: Vec<(String, PathBuf)>,
}

/// The run files in `dir`.
fn scan_run_files(dir: &Path) -> Result<RunFiles> {
    let mut locks = BTreeSet::new();
    let mut temps = Vec::new();
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
    Ok(RunFiles { locks, temps })
}

/// One run with a lock file here: left alone while alive (or while its main
/// journal is elsewhere); otherwise rolled back unless it ended, its files and
/// lock removed.
fn clean_run(
    dir: &Path,
    run: &str,
    temps: &[&PathBuf],
    storage: &Storage,
    report: &mut CleanupReport,
) -> Result<()> {
    let path = dir.join(lock_name(run));
    let Some(mut lock) = RunLock::try_take(&path)? else {
        if path.exists() {
            report.live_runs.push(run.to_string());
        }
        return Ok(());
    };
    let records = lock.records()?;
    let journal_elsewhere = records.iter().any(|r| match r {
        JournalRecord::JournalAt(main) => main.exists(),
        _ => false,
    });
    if journal_elsewhere {
        // The run's main lock decides; cleaning its output directory removes
        // this manifest's temporary file too.
        report.live_runs.push(run.to_string());
        return Ok(());
    }
    let ended = records
        .iter()
        .any(|r| matches!(r, JournalRecord::Committed | JournalRecord::RolledBack));
    if !ended {
        roll_back_remote(&records, storage, report)?;
    }
    let publications = records.iter().find_map(|r| match r {
        JournalRecord::Publish(p) => Some(p.clone()),
        _ => None,
    });
    if let Some(publications) = &publications {
        roll_back_local(&mut lock, run, publications, ended, report)?;
    }
    for temp in temps {
        remove_if_exists(temp)?;
        report.removed.push(temp.to_path_buf());
    }
    lock.release()?;
    report.removed.push(path);
    Ok(())
}

/// A dead run's journaled publications: unless it `ended`, remove the final
/// names it created; then remove the temporary names still there.
fn roll_back_local(
    lock: &mut RunLock,
    run: &str,
    publications: &[Publication],
    ended: bool,
    report: &mut CleanupReport,
) -> Result<()> {
    if !ended {
        let created: Vec<PathBuf> = publications
            .iter()
            .filter(|p| super::commit::created_target(p))
            .map(|p| p.target.clone())
            .collect();
        roll_back(lock, publications)?;
        report.removed.extend(created);
        report.rolled_back_runs.push(run.to_string());
    }
    for p in publications {
        if p.temp.exists() {
            remove_if_exists(&p.temp)?;
            report.removed.push(p.temp.clone());
        }
    }
    Ok(())
}

/// Temporary files whose run has no lock file here: the run is gone (a run
/// creates its lock before any temporary file and removes it after them), or
/// it wrote only its manifest here and holds a lock in this directory too.
fn remove_orphan_temps(
    dir: &Path,
    locks: &BTreeSet<String>,
    temps: &[(String, PathBuf)],
    report: &mut CleanupReport,
) -> Result<()> {
    for (run, temp) in temps {
        if locks.contains(run) || dir.join(lock_name(run)).exists() {
            continue;
        }
        remove_if_exists(temp)?;
        report.removed.push(temp.clone());
    }
    Ok(())
}
