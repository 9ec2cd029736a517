//! One output Parquet file written row group by row group: merged batches are
//! encoded column by column with parquet-rs' `ArrowColumnWriter`s, and a region
//! with a single contributing row group can instead have its column chunks copied
//! verbatim (`append_column`), without decoding or re-encoding.

use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::bloom_filter::Sbbf;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Writes one output file.
pub struct OutputFileWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    /// Column writers of the row group in progress (one per leaf column).
    columns: Option<Vec<ArrowColumnWriter>>,
    row_groups: usize,
}

impl OutputFileWriter {
    /// Create `path` for batches of `schema`. The Arrow schema is embedded in the
    /// footer as parquet-rs' `ArrowWriter` does.
    pub fn create(path: &Path, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        let file = super::durable::create_new(path)?;
        let (writer, factory) = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(|e| Error::parquet(path, e))?;
        Ok(OutputFileWriter {
            path: path.to_path_buf(),
            schema,
            writer,
            factory,
            columns: None,
            row_groups: 0,
        })
    }

    /// Encode `batch` into the row group in progress.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.columns.is_none() {
            let writers = self
                .factory
                .create_column_writers(self.row_groups)
                .map_err(|e| Error::parquet(&self.path, e))?;
            self.columns = Some(writers);
        }
        let Some(writers) = self.columns.as_mut() else {
            return Ok(());
        };
        let mut leaf = 0;
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            for leaf_column in
                compute_leaves(field, column).map_err(|e| Error::parquet(&self.path, e))?
            {
                let writer = writers.get_mut(leaf).ok_or_else(|| {
                    Error::InvalidData("batch has more leaf columns than the schema".into())
                })?;
                writer
                    .write(&leaf_column)
                    .map_err(|e| Error::parquet(&self.path, e))?;
                leaf += 1;
            }
        }
        Ok(())
    }

    /// Close the row group in progress, if any.
    pub fn flush_row_group(&mut self) -> Result<()> {
        let Some(writers) = self.columns.take() else {
            return Ok(());
        };
        let path = &self.path;
        let err = |e| Error::parquet(path, e);
        let mut row_group = self.writer.next_row_group().map_err(err)?;
        for w in writers {
            w.close()
                .and_then(|chunk| chunk.append_to_row_group(&mut row_group))
                .map_err(err)?;
        }
        row_group.close().map_err(err)?;
        self.row_groups += 1;
        Ok(())
    }

    /// Copy row group `index` of `source` (whose footer is `metadata`) as a whole
    /// row group, column chunk by column chunk, without decoding.
    pub fn copy_row_group(
        &mut self,
        source: &Path,
        metadata: &ParquetMetaData,
        index: usize,
    ) -> Result<()> {
        self.flush_row_group()?;
        let file = File::open(source).map_err(|e| Error::io(source, e))?;
        let rg = metadata.row_groups().get(index).ok_or_else(|| {
            Error::InvalidArgument(format!("{}: no row group {index}", source.display()))
        })?;
        let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
        let path = &self.path;
        let mut row_group = self
            .writer
            .next_row_group()
            .map_err(|e| Error::parquet(path, e))?;
        for column in rg.columns() {
            // Carry the chunk's bloom filter along with its pages.
            let bloom_filter = Sbbf::read_from_column_chunk(column, &file)
                .map_err(|e| Error::parquet(source, e))?;
            let close = ColumnCloseResult {
                bytes_written: u64::try_from(column.compressed_size()).unwrap_or(0),
                rows_written: rows,
                metadata: column.clone(),
                bloom_filter,
                column_index: None,
                offset_index: None,
            };
            row_group
                .append_column(&file, close)
                .map_err(|e| Error::parquet(source, e))?;
        }
        row_group.close().map_err(|e| Error::parquet(path, e))?;
        self.row_groups += 1;
        Ok(())
    }

    /// Finish the file and fsync it; returns its row-group count and size in bytes.
    pub fn close(mut self) -> Result<(usize, u64)> {
        self.flush_row_group()?;
        let meta = self
            .writer
            .finish()
            .map_err(|e| Error::parquet(&self.path, e))?;
        self.writer
            .inner()
            .sync_all()
            .map_err(|e| Error::io(&self.path, e))?;
        let bytes = u64::try_from(self.writer.bytes_written()).unwrap_or(u64::MAX);
        Ok((meta.num_row_groups(), bytes))
    }
}
