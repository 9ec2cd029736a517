//! Output files: written under temporary names, renamed only when the whole merge
//! succeeded; on any error (or drop) every file the run created is removed.

mod file_writer;
mod sink;
mod summary;

pub use file_writer::OutputFileWriter;
pub use sink::OutputSink;
pub use summary::{OutputSummary, SummaryTracker};

use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};

/// Final file name of output `i`.
pub fn output_name(i: usize) -> String {
    format!("merged_{i:05}.parquet")
}

struct OpenOutput {
    index: usize,
    temp_path: PathBuf,
    writer: OutputFileWriter,
    tracker: SummaryTracker,
}

/// The set of outputs of one merge.
pub struct OutputSet {
    dir: PathBuf,
    schema: SchemaRef,
    properties: WriterProperties,
    sort_names: Vec<String>,
    time_column: Option<String>,
    current: Option<OpenOutput>,
    finished: Vec<(PathBuf, OutputSummary)>,
    temp_files: Vec<PathBuf>,
    committed: bool,
}

impl OutputSet {
    /// Prepare outputs in `dir` (created if missing). Fails if any of the first
    /// `max_outputs` output names already exists: outputs never overwrite.
    pub fn new(
        dir: &Path,
        schema: SchemaRef,
        properties: WriterProperties,
        sort_names: Vec<String>,
        time_column: Option<String>,
        max_outputs: usize,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for i in 0..max_outputs {
            let p = dir.join(output_name(i));
            if p.exists() {
                return Err(Error::InvalidArgument(format!(
                    "{} already exists; refusing to overwrite",
                    p.display()
                )));
            }
        }
        Ok(OutputSet {
            dir: dir.to_path_buf(),
            schema,
            properties,
            sort_names,
            time_column,
            current: None,
            finished: Vec::new(),
            temp_files: Vec::new(),
            committed: false,
        })
    }

    fn open_next(&mut self) -> Result<&mut OpenOutput> {
        if self.current.is_none() {
            let index = self.finished.len();
            let temp_path = self.dir.join(format!(".{}.inprogress", output_name(index)));
            self.temp_files.push(temp_path.clone());
            let writer =
                OutputFileWriter::create(&temp_path, self.schema.clone(), self.properties.clone())?;
            self.current = Some(OpenOutput {
                index,
                temp_path,
                writer,
                tracker: SummaryTracker::new(self.sort_names.clone(), self.time_column.clone()),
            });
        }
        self.current
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument("no open output".into()))
    }

    /// Append merged rows to the current output (opening one if needed).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let out = self.open_next()?;
        out.writer.write(batch)?;
        out.tracker.observe(batch);
        Ok(())
    }

    /// Copy row group `index` of `source` verbatim as one row group of the current
    /// output.
    pub fn copy_row_group(
        &mut self,
        source: &Path,
        metadata: &ParquetMetaData,
        index: usize,
    ) -> Result<()> {
        let out = self.open_next()?;
        out.writer.copy_row_group(source, metadata, index)
    }

    /// Account for rows that reach the current output without passing through
    /// [`write`](Self::write) (verbatim copies): `batch` holds their sort columns.
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        let out = self.open_next()?;
        out.tracker.observe(batch);
        Ok(())
    }

    /// Record that the current output holds rows of a region with these prefix values.
    pub fn note_prefix(&mut self, values: &str) -> Result<()> {
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

    /// Close the current output file (it stays under its temporary name).
    pub fn finish_current(&mut self) -> Result<()> {
        if let Some(out) = self.current.take() {
            let row_groups = out.writer.close()?;
            let bytes = std::fs::metadata(&out.temp_path)
                .map_err(|e| Error::io(&out.temp_path, e))?
                .len();
            let final_path = self.dir.join(output_name(out.index));
            let summary = out.tracker.finish(final_path, row_groups, bytes);
            self.finished.push((out.temp_path, summary));
        }
        Ok(())
    }

    /// Make every output visible under its final name.
    pub fn commit(mut self) -> Result<Vec<OutputSummary>> {
        self.finish_current()?;
        for (temp, summary) in &self.finished {
            std::fs::rename(temp, &summary.path).map_err(|e| Error::io(&summary.path, e))?;
        }
        self.committed = true;
        Ok(self.finished.iter().map(|(_, s)| s.clone()).collect())
    }
}

impl Drop for OutputSet {
    /// Without a commit, remove everything this run created.
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        self.current = None;
        for p in &self.temp_files {
            let _ = std::fs::remove_file(p);
        }
        for (_, s) in &self.finished {
            let _ = std::fs::remove_file(&s.path);
        }
    }
}
