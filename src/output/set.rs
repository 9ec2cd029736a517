//! The set of outputs of one merge ([`OutputSet`]): opens each output under a
//! temporary name, feeds it rows or verbatim row groups, and seals the finished
//! ones for the commit protocol.

use super::commit::{check_free, ManifestTarget, Pending, Sealed};
use super::durable::{self, parent_dir};
use super::file_writer::{OutputFileWriter, OutputIo};
use super::names::{check_output_prefix, create_dir, output_name};
use super::rows::Rows;
use super::run::{temp_name, JournalRecord, RunLock};
use super::summary::{OutputSummary, SummarySpec, SummaryTracker};
use crate::input::ChunkSource;
use crate::key::KeyValue;
use crate::storage::{Location, RemoteObject, Upload};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};

/// Where and how a merge writes its outputs.
pub struct OutputConfig {
    /// The output directory; with `remote`, the local directory of the run's
    /// lock and journal.
    pub dir: PathBuf,
    /// Outputs go to object storage under this key prefix (multipart uploads).
    pub remote: Option<RemoteObject>,
    /// The run's id (in temporary names and the journal).
    pub run_id: String,
    /// Final names are `PREFIX_NNNNN.parquet`.
    pub prefix: String,
    /// The outputs' Arrow schema.
    pub schema: SchemaRef,
    /// Writer properties of every output.
    pub properties: WriterProperties,
    /// What each output's summary records (prefix and summary columns).
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
        check_names_free(&config)?;
        let manifest = manifest_destination(config.manifest.as_ref())?;
        let lock = RunLock::acquire(&config.dir, &config.run_id)?;
        let manifest = match manifest.map(|m| manifest_target(m, &config, &lock)) {
            Some(Err(e)) => {
                let _ = lock.release();
                return Err(e);
            }
            Some(Ok(m)) => Some(m),
            None => None,
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
                        lock.append(&JournalRecord::Upload {
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
            .ok_or_else(|| Error::Internal("no open output".into()))
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

/// Fail early if a final name the run may use is taken (in the output directory,
/// or under the remote prefix).
fn check_names_free(config: &OutputConfig) -> Result<()> {
    let Some(prefix) = &config.remote else {
        for i in 0..config.max_outputs {
            check_free(&config.dir.join(output_name(&config.prefix, i)))?;
        }
        return Ok(());
    };
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
    Ok(())
}

/// The manifest's destination (a local path made absolute), checked to be free.
fn manifest_destination(manifest: Option<&Location>) -> Result<Option<Location>> {
    match manifest {
        Some(Location::Local(path)) => {
            let path = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
            check_free(&path)?;
            Ok(Some(Location::Local(path)))
        }
        Some(Location::Remote(object)) => {
            if object.size()?.is_some() {
                return Err(Error::OutputExists {
                    path: PathBuf::from(object.url()),
                });
            }
            Ok(Some(Location::Remote(object.clone())))
        }
        None => Ok(None),
    }
}

/// Where the manifest goes; a local manifest in another directory than the
/// outputs takes the run's lock there too, journaling where the main lock is.
fn manifest_target(
    destination: Location,
    config: &OutputConfig,
    lock: &RunLock,
) -> Result<ManifestTarget> {
    let path = match destination {
        Location::Remote(object) => {
            return Ok(ManifestTarget {
                path: PathBuf::from(object.url()),
                lock: None,
                remote: Some(object),
            })
        }
        Location::Local(path) => path,
    };
    let mdir = parent_dir(&path);
    let lock = if mdir == config.dir || durable::same_file(mdir, &config.dir) {
        None
    } else {
        let mut l = RunLock::acquire(mdir, &config.run_id)?;
        l.append(&JournalRecord::JournalAt(lock.path.clone()))?;
        Some(l)
    };
    Ok(ManifestTarget {
        path,
        lock,
        remote: None,
    })
}
