//! Output files and the commit protocol (docs/architecture.md): outputs are written under
//! temporary names carrying the run id, fsynced, and given final names that never
//! replace a file only when the whole merge succeeded; the manifest comes last.
//!
//! - [`run`]: run ids, temporary names, the lock/journal file;
//! - [`durable`]: fsync of files and directories, no-replace publication;
//! - [`commit`]: sealed outputs, publication and rollback;
//! - [`cleanup`]: removal of what dead runs left behind;
//! - [`manifest`]: the run manifest, the hand-off document of a merge;
//! - `summary`, `file_writer`, `sink`: per-output summary, one output file, the
//!   writer thread;
//! - [`writer_options`]: the outputs' compression, page size, row-group cap and
//!   bloom filters, one validated type;
//! - `rows`, `dict_chunk`, `truncate`: rows handed to the writer (gathered on
//!   its thread), the dictionary transcoder for string columns, and the cut of
//!   long statistics bounds.

pub mod cleanup;
pub mod commit;
mod dict_chunk;
pub mod durable;
mod file_writer;
pub mod manifest;
mod rows;
pub mod run;
mod sink;
mod summary;
mod truncate;
pub mod writer_options;

pub use cleanup::{cleanup_dir, cleanup_dir_with, CleanupReport};
pub use commit::{ManifestTarget, Pending, Sealed};
pub use file_writer::{OutputFileWriter, OutputIo};
pub use manifest::{InputEntry, Manifest, SortColumnEntry};
pub use rows::{Gathered, Rows};
pub use sink::OutputSink;
pub use summary::{
    ColumnValues, OutputSummary, SortKey, SummarySpec, SummaryTracker, DISTINCT_CAP,
};
pub use writer_options::{CompressionSpec, WriterOptions};

use crate::input::ChunkSource;
use crate::key::KeyValue;
use crate::storage::{Location, RemoteObject, Upload};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use commit::check_free;
use durable::parent_dir;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use run::{temp_name, RunLock};
use std::path::{Path, PathBuf};

/// Final file name of output `i` for the given name prefix: `PREFIX_NNNNN.parquet`.
pub fn output_name(prefix: &str, i: usize) -> String {
    format!("{prefix}_{i:05}.parquet")
}

/// The default output name prefix of a run: `merged_RUNID`.
pub fn default_output_prefix(run_id: &str) -> String {
    format!("merged_{run_id}")
}

/// Check a caller's output name prefix: a plain file-name stem.
pub fn check_output_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && !prefix.starts_with('.')
        && !prefix.contains(['/', '\\', '\n', '\r', '\0']);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "output prefix '{prefix}' must be a non-empty file name stem without '/' and not starting with '.'"
        )))
    }
}

/// Create `dir` (and its parents) if missing; an existing file there is
/// [`Error::NotADirectory`], not the operating system's "File exists".
pub fn create_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Where and how a merge writes its outputs.
pub struct OutputConfig {
    /// The output directory; with `remote`, the local directory of the run's
    /// lock and journal.
    pub dir: PathBuf,
    /// Outputs go to object storage under this key prefix (multipart uploads).
    pub remote: Option<RemoteObject>,
    pub run_id: String,
    /// Final names are `PREFIX_NNNNN.parquet`.
    pub prefix: String,
    pub schema: SchemaRef,
    pub properties: WriterProperties,
    pub summary: SummarySpec,
    /// Upper bound on the number of outputs (their names are checked up front).
    pub max_outputs: usize,
    /// Where the run manifest goes, if the run writes one.
    pub manifest: Option<Location>,
}

struct OpenOutput {
    index: usize,
    /// The temporary file (local outputs).
    temp_path: Option<PathBuf>,
    writer: OutputFileWriter,
    tracker: SummaryTracker,
}

/// The set of outputs of one merge.
pub struct OutputSet {
    config: OutputConfig,
    lock: Option<RunLock>,
    manifest: Option<ManifestTarget>,
    current: Option<OpenOutput>,
    finished: Vec<(Pending, OutputSummary)>,
    /// Every temporary file created, for removal if the run fails.
    temps: Vec<PathBuf>,
}

impl OutputSet {
    /// Prepare outputs in `config.dir` (created if missing): take the run's lock
    /// there (and in the manifest's directory), and fail early if a final name the
    /// run may use is taken.
    pub fn new(mut config: OutputConfig) -> Result<Self> {
        check_output_prefix(&config.prefix)?;
        create_dir(&config.dir)?;
        // Absolute paths, so that the journal means the same to any later cleanup.
        config.dir = std::path::absolute(&config.dir).map_err(|e| Error::io(&config.dir, e))?;
        match &config.remote {
            None => {
                for i in 0..config.max_outputs {
                    check_free(&config.dir.join(output_name(&config.prefix, i)))?;
                }
            }
            Some(prefix) => {
                let taken: std::collections::HashSet<String> = prefix
                    .list()?
                    .into_iter()
                    .filter_map(|(o, _)| o.file_name().map(str::to_string))
                    .collect();
                for i in 0..config.max_outputs {
                    let name = output_name(&config.prefix, i);
                    if taken.contains(&name) {
                        return Err(Error::OutputExists {
                            path: PathBuf::from(prefix.child(&name).url()),
                        });
                    }
                }
            }
        }
        let (manifest, remote_manifest) = match &config.manifest {
            Some(Location::Local(path)) => {
                let path = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
                check_free(&path)?;
                (Some(path), None)
            }
            Some(Location::Remote(object)) => {
                if object.size()?.is_some() {
                    return Err(Error::OutputExists {
                        path: PathBuf::from(object.url()),
                    });
                }
                (None, Some(object.clone()))
            }
            None => (None, None),
        };
        let lock = RunLock::acquire(&config.dir, &config.run_id)?;
        let manifest = match (manifest, remote_manifest) {
            (None, Some(object)) => Some(ManifestTarget {
                path: PathBuf::from(object.url()),
                lock: None,
                remote: Some(object),
            }),
            (Some(path), _) => {
                let mdir = parent_dir(&path);
                let lock = if mdir == config.dir || durable::same_file(mdir, &config.dir) {
                    None
                } else {
                    let taken = RunLock::acquire(mdir, &config.run_id).and_then(|mut l| {
                        l.append(&run::JournalRecord::JournalAt(lock.path.clone()))?;
                        Ok(l)
                    });
                    match taken {
                        Ok(l) => Some(l),
                        Err(e) => {
                            let _ = lock.release();
                            return Err(e);
                        }
                    }
                };
                Some(ManifestTarget {
                    path,
                    lock,
                    remote: None,
                })
            }
            (None, None) => None,
        };
        Ok(OutputSet {
            config,
            lock: Some(lock),
            manifest,
            current: None,
            finished: Vec::new(),
            temps: Vec::new(),
        })
    }

    fn open_next(&mut self) -> Result<&mut OpenOutput> {
        if self.current.is_none() {
            let index = self.finished.len();
            let (temp_path, writer) = match &self.config.remote {
                None => {
                    let what = format!("{index:05}.parquet");
                    let temp_path = self.config.dir.join(temp_name(&self.config.run_id, &what));
                    self.temps.push(temp_path.clone());
                    let writer = OutputFileWriter::create(
                        &temp_path,
                        self.config.schema.clone(),
                        self.config.properties.clone(),
                    )?;
                    (Some(temp_path), writer)
                }
                Some(prefix) => {
                    let object = prefix.child(&output_name(&self.config.prefix, index));
                    let upload = Upload::create(&object)?;
                    // Journaled before a byte is sent: a crash leaves an upload
                    // that `cleanup` can abort.
                    if let Some(lock) = self.lock.as_mut() {
                        lock.append(&run::JournalRecord::Upload {
                            url: object.url(),
                            upload_id: upload.id().to_string(),
                        })?;
                    }
                    let writer = OutputFileWriter::new(
                        &PathBuf::from(object.url()),
                        OutputIo::upload(upload),
                        self.config.schema.clone(),
                        self.config.properties.clone(),
                    )?;
                    (None, writer)
                }
            };
            self.current = Some(OpenOutput {
                index,
                temp_path,
                writer,
                tracker: SummaryTracker::new(self.config.summary.clone()),
            });
        }
        self.current
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument("no open output".into()))
    }

    /// Append merged rows to the current output (opening one if needed);
    /// `series_starts` of them start a new series.
    pub fn write(&mut self, rows: &Rows, series_starts: u64) -> Result<()> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let out = self.open_next()?;
        out.writer.write_rows(rows)?;
        out.tracker.observe_rows(rows, series_starts);
        Ok(())
    }

    /// Copy row group `index` of `source` verbatim as one row group of the current
    /// output.
    pub fn copy_row_group(
        &mut self,
        source: &Path,
        chunks: &ChunkSource,
        metadata: &ParquetMetaData,
        index: usize,
    ) -> Result<()> {
        let out = self.open_next()?;
        out.writer.copy_row_group(source, chunks, metadata, index)
    }

    /// Account for rows that reach the current output without passing through
    /// [`write`](Self::write) (verbatim copies): `batch` holds their sort and
    /// summary columns.
    pub fn observe(&mut self, batch: &RecordBatch, series_starts: u64) -> Result<()> {
        let out = self.open_next()?;
        out.tracker.observe(batch, series_starts);
        Ok(())
    }

    /// Record that the current output holds rows of a region with these prefix values.
    pub fn note_prefix(&mut self, values: &[KeyValue]) -> Result<()> {
        let out = self.open_next()?;
        out.tracker.note_prefix(values);
        Ok(())
    }

    /// Close the row group in progress, if any.
    pub fn flush_row_group(&mut self) -> Result<()> {
        if let Some(out) = self.current.as_mut() {
            out.writer.flush_row_group()?;
        }
        Ok(())
    }

    /// Close the current output file: complete and fsynced, still under its
    /// temporary name.
    pub fn finish_current(&mut self) -> Result<()> {
        if let Some(out) = self.current.take() {
            let (row_groups, bytes, uploaded) = out.writer.close()?;
            let name = output_name(&self.config.prefix, out.index);
            let (final_path, pending) = match (&self.config.remote, out.temp_path, uploaded) {
                (None, Some(temp), None) => (self.config.dir.join(&name), Pending::Temp(temp)),
                (Some(prefix), None, Some(parts)) => (
                    PathBuf::from(prefix.child(&name).url()),
                    Pending::Upload(parts),
                ),
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "output {name}: closed without its file or upload"
                    )))
                }
            };
            let summary = out.tracker.finish(final_path, row_groups, bytes);
            self.finished.push((pending, summary));
        }
        Ok(())
    }

    /// Finish the last output; the outputs are then ready to be published.
    pub fn seal(mut self) -> Result<Sealed> {
        self.finish_current()?;
        Ok(Sealed {
            run_id: self.config.run_id.clone(),
            dir: self.config.dir.clone(),
            lock: self.lock.take(),
            manifest: self.manifest.take(),
            outputs: std::mem::take(&mut self.finished),
            journaled: Vec::new(),
            manifest_put: false,
            done: false,
        })
    }
}

impl Drop for OutputSet {
    /// Without a seal, remove every file this run created and release its locks.
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else {
            return; // sealed: the `Sealed` owns the rest
        };
        let mut cleaned = match self.current.take() {
            Some(out) => out.writer.abort().is_ok(),
            None => true,
        };
        for (pending, _) in &mut self.finished {
            if let Pending::Upload(parts) = pending {
                cleaned &= parts.abort().is_ok();
            }
        }
        cleaned &= self
            .temps
            .iter()
            .all(|t| durable::remove_if_exists(t).is_ok());
        if cleaned {
            if let Some(l) = self.manifest.as_mut().and_then(|m| m.lock.take()) {
                let _ = l.release();
            }
            let _ = lock.release();
        }
    }
}
