//! The commit protocol (docs/architecture.md): sealed outputs (complete, fsynced, under
//! temporary names) become visible under final names that never replace a file,
//! the directory is fsynced, then the manifest is published the same way. A
//! journal in the run's lock file makes a crash at any point recoverable: before
//! the `publish` record nothing is visible; after it, recovery either finds the
//! `committed` record or removes exactly the final names the run created.

use super::durable::{
    link_no_replace, parent_dir, publish_no_replace, remove_if_exists, same_file, sync_dir,
    write_synced,
};
use super::run::{temp_name, JournalRecord, Publication, RunLock};
use super::summary::OutputSummary;
use crate::storage::{RemoteObject, UploadedParts};
use crate::Result;
use std::path::{Path, PathBuf};

/// Whether the run that journaled `p` created `p.target`: the target exists and
/// either is still the same file as the temporary name (crash between link and
/// unlink) or the temporary name is gone (it is removed only after a successful
/// link, or after a `rolled_back` record, which ends recovery).
pub fn created_target(p: &Publication) -> bool {
    p.target.exists() && (!p.temp.exists() || same_file(&p.temp, &p.target))
}

/// Undo a journaled publication: remove the final names this run created, record
/// that, then remove the temporary files.
pub fn roll_back(lock: &mut RunLock, publications: &[Publication]) -> Result<()> {
    for p in publications.iter().filter(|p| created_target(p)) {
        remove_if_exists(&p.target)?;
    }
    lock.append(&JournalRecord::RolledBack)?;
    for p in publications {
        remove_if_exists(&p.temp)?;
    }
    Ok(())
}

/// Where a run's manifest goes: its final path (or URL), the lock the run holds
/// in the manifest's directory when that differs from the output directory, and
/// the object when it goes to object storage.
pub struct ManifestTarget {
    /// The manifest's final path (or URL).
    pub path: PathBuf,
    /// The run's lock in the manifest's directory, when that is not the output
    /// directory.
    pub lock: Option<RunLock>,
    /// The object, when the manifest goes to object storage.
    pub remote: Option<RemoteObject>,
}

/// An output that is complete and durable but not yet visible.
pub enum Pending {
    /// Under a temporary name in the output directory.
    Temp(PathBuf),
    /// Every part uploaded; visible once the upload is completed.
    Upload(UploadedParts),
}

impl Pending {
    fn temp(&self) -> Option<&Path> {
        match self {
            Pending::Temp(p) => Some(p),
            Pending::Upload(_) => None,
        }
    }
}

/// Outputs that are complete and durable under temporary names; nothing is
/// visible yet. Dropping it without [`publish`](Self::publish) removes them.
pub struct Sealed {
    pub(super) run_id: String,
    pub(super) dir: PathBuf,
    pub(super) lock: Option<RunLock>,
    pub(super) manifest: Option<ManifestTarget>,
    /// (pending output, summary naming the final path) per output.
    pub(super) outputs: Vec<(Pending, OutputSummary)>,
    /// Set once the `publish` record is journaled: what a rollback must undo.
    pub(super) journaled: Vec<Publication>,
    /// Whether the remote manifest was written (a rollback deletes it).
    pub(super) manifest_put: bool,
    pub(super) done: bool,
}

impl Sealed {
    /// The outputs' summaries, under their final names.
    pub fn summaries(&self) -> Vec<OutputSummary> {
        self.outputs.iter().map(|(_, s)| s.clone()).collect()
    }

    /// Make every output visible, then the manifest (`manifest_bytes`, when the run
    /// has a manifest path); fsyncs as it goes. On error everything is rolled back.
    pub fn publish(mut self, manifest_bytes: Option<&[u8]>) -> Result<()> {
        let mut publications: Vec<Publication> = self
            .outputs
            .iter()
            .filter_map(|(p, s)| {
                p.temp().map(|temp| Publication {
                    temp: temp.to_path_buf(),
                    target: s.path.clone(),
                })
            })
            .collect();
        let remote_targets: Vec<String> = self
            .outputs
            .iter()
            .filter(|(p, _)| matches!(p, Pending::Upload(_)))
            .map(|(_, s)| s.path.display().to_string())
            .chain(
                self.manifest
                    .as_ref()
                    .and_then(|m| m.remote.as_ref())
                    .map(RemoteObject::url),
            )
            .collect();
        let manifest = match (&self.manifest, manifest_bytes) {
            (Some(m), Some(_)) if m.remote.is_some() => None,
            (Some(m), Some(bytes)) => {
                let temp = parent_dir(&m.path).join(temp_name(&self.run_id, "manifest"));
                write_synced(&temp, bytes)?;
                let p = Publication {
                    temp,
                    target: m.path.clone(),
                };
                publications.push(p.clone());
                Some(p)
            }
            _ => None,
        };
        let Some(lock) = self.lock.as_mut() else {
            return Err(crate::Error::Internal(
                "the run's lock was already released".into(),
            ));
        };
        lock.append(&JournalRecord::Publish(publications.clone()))?;
        if !remote_targets.is_empty() {
            lock.append(&JournalRecord::PublishRemote(remote_targets))?;
        }
        self.journaled = publications;
        // The lock file (and its journal) must be durable before any final name is.
        sync_dir(&self.dir)?;
        for (pending, s) in &mut self.outputs {
            match pending {
                Pending::Temp(temp) => link_no_replace(temp, &s.path)?,
                Pending::Upload(parts) => parts.complete()?,
            }
        }
        sync_dir(&self.dir)?;
        if let Some(m) = &manifest {
            publish_no_replace(&m.temp, &m.target)?;
        }
        if let (Some(m), Some(bytes)) = (&self.manifest, manifest_bytes) {
            if let Some(object) = &m.remote {
                object.put_new(bytes::Bytes::copy_from_slice(bytes))?;
                self.manifest_put = true;
            }
        }
        lock.append(&JournalRecord::Committed)?;
        self.done = true;
        self.release_locks()
    }

    fn release_locks(&mut self) -> Result<()> {
        if let Some(l) = self.manifest.as_mut().and_then(|m| m.lock.take()) {
            l.release()?;
        }
        match self.lock.take() {
            Some(l) => l.release(),
            None => Ok(()),
        }
    }
}

impl Drop for Sealed {
    /// Without a complete publication, remove everything this run created and
    /// release its locks. If that fails the lock file stays for `cleanup`.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Remote outputs: delete what was completed, abort the rest.
        let mut remote_clean = true;
        for (pending, _) in &mut self.outputs {
            if let Pending::Upload(parts) = pending {
                let undone = if parts.is_done() {
                    parts.object().delete()
                } else {
                    parts.abort()
                };
                remote_clean &= undone.is_ok();
            }
        }
        if self.manifest_put {
            if let Some(object) = self.manifest.as_ref().and_then(|m| m.remote.as_ref()) {
                remote_clean &= object.delete().is_ok();
            }
        }
        let cleaned = match self.lock.as_mut() {
            Some(lock) if !self.journaled.is_empty() => roll_back(lock, &self.journaled).is_ok(),
            _ => {
                let manifest_temp = self
                    .manifest
                    .as_ref()
                    .filter(|m| m.remote.is_none())
                    .map(|m| parent_dir(&m.path).join(temp_name(&self.run_id, "manifest")));
                self.outputs
                    .iter()
                    .filter_map(|(p, _)| p.temp())
                    .chain(manifest_temp.as_deref())
                    .all(|temp| remove_if_exists(temp).is_ok())
            }
        };
        if cleaned && remote_clean {
            let _ = self.release_locks();
        }
    }
}

/// Fail early if a final name a run will use already exists (the no-replace link
/// is what actually guarantees it; this only avoids doing the work for nothing).
pub fn check_free(path: &Path) -> Result<()> {
    if path.exists() {
        return Err(crate::Error::OutputExists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
