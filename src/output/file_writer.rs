//! One output Parquet file written row group by row group: merged batches are
//! encoded column by column, dictionary string columns by [`DictChunkWriter`]
//! (indices remapped, values not re-interned) and every other column by
//! parquet-rs' `ArrowColumnWriter`s; a region with a single contributing row group
//! can instead have its column chunks copied verbatim (`append_column`), without
//! decoding or re-encoding.

use super::dict_chunk::{eligible, DictChunkWriter};
use super::rows::Rows;
use crate::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::bloom_filter::Sbbf;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Who encodes a top-level field.
#[derive(Clone, Copy)]
enum Encoder {
    /// parquet-rs' Arrow writers, one per leaf column (this many).
    Arrow(usize),
    /// The dictionary transcoder with this index.
    Dict(usize),
}

/// One field's share of a write.
enum Work<'a> {
    /// Field index and its transcoder.
    Dict(usize, &'a mut DictChunkWriter),
    /// Field index and the parquet-rs writers of its leaves.
    Arrow(usize, &'a mut [ArrowColumnWriter]),
}

impl Work<'_> {
    fn write(self, path: &Path, schema: &SchemaRef, rows: &Rows) -> Result<()> {
        match self {
            Work::Dict(i, w) => match rows {
                Rows::Batch(b) => w.write(b.column(i)),
                Rows::Gathered(g) => {
                    let columns: Vec<&ArrayRef> = g.sources.iter().map(|b| b.column(i)).collect();
                    w.write_gather(&columns, &g.indices)
                }
            },
            Work::Arrow(i, writers) => {
                let err = |e| Error::parquet(path, e);
                let column = match rows {
                    Rows::Batch(b) => b.column(i).clone(),
                    Rows::Gathered(g) => g.column(i)?,
                };
                let leaves = compute_leaves(&schema.fields()[i], &column).map_err(err)?;
                if leaves.len() != writers.len() {
                    return Err(Error::InvalidData(format!(
                        "column {i}: {} leaf columns for {} writers",
                        leaves.len(),
                        writers.len()
                    )));
                }
                for (leaf, writer) in leaves.iter().zip(writers.iter_mut()) {
                    writer.write(leaf).map_err(err)?;
                }
                Ok(())
            }
        }
    }
}

/// Writes one output file.
pub struct OutputFileWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: SerializedFileWriter<File>,
    /// Per top-level field of `schema`.
    encoders: Vec<Encoder>,
    /// Column writers for the fields encoded by parquet-rs (a projection of the
    /// schema without the transcoded fields; `None` if every field is transcoded).
    factory: Option<ArrowRowGroupWriterFactory>,
    dict_writers: Vec<DictChunkWriter>,
    /// Column writers of the row group in progress (fields encoded by parquet-rs).
    columns: Option<Vec<ArrowColumnWriter>>,
    row_groups: usize,
}

impl OutputFileWriter {
    /// Create `path` for batches of `schema`. The Arrow schema is embedded in the
    /// footer as parquet-rs' `ArrowWriter` does.
    pub fn create(path: &Path, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        let file = super::durable::create_new(path)?;
        let err = |e| Error::parquet(path, e);
        let (writer, full_factory) =
            ArrowWriter::try_new(file, schema.clone(), Some(properties.clone()))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(err)?;
        // Flat dictionary string fields (one leaf each) go to the transcoder.
        let descr = writer.schema_descr();
        let mut encoders = Vec::with_capacity(schema.fields().len());
        let mut dict_writers = Vec::new();
        for (f, field) in schema.fields().iter().enumerate() {
            let leaves: Vec<usize> = (0..descr.num_columns())
                .filter(|&l| descr.get_column_root_idx(l) == f)
                .collect();
            match leaves.as_slice() {
                [leaf] if eligible(field.data_type(), &descr.column(*leaf), &properties) => {
                    encoders.push(Encoder::Dict(dict_writers.len()));
                    dict_writers.push(DictChunkWriter::new(
                        path,
                        descr.column(*leaf),
                        &properties,
                    )?);
                }
                _ => encoders.push(Encoder::Arrow(leaves.len())),
            }
        }
        let factory = if dict_writers.is_empty() {
            Some(full_factory)
        } else {
            // Column writers for the other fields come from a factory over the
            // projected schema: its leaves have the same descriptors.
            let rest: Vec<_> = schema
                .fields()
                .iter()
                .zip(&encoders)
                .filter(|(_, e)| matches!(e, Encoder::Arrow(_)))
                .map(|(f, _)| f.clone())
                .collect();
            if rest.is_empty() {
                None
            } else {
                let projected =
                    Arc::new(Schema::new_with_metadata(rest, schema.metadata().clone()));
                let (_, factory) =
                    ArrowWriter::try_new(std::io::sink(), projected, Some(properties))
                        .and_then(ArrowWriter::into_serialized_writer)
                        .map_err(err)?;
                Some(factory)
            }
        };
        Ok(OutputFileWriter {
            path: path.to_path_buf(),
            schema,
            writer,
            encoders,
            factory,
            dict_writers,
            columns: None,
            row_groups: 0,
        })
    }

    /// Encode `batch` into the row group in progress.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_rows(&Rows::Batch(batch.clone()))
    }

    /// Encode `rows` into the row group in progress. Gathered rows are gathered
    /// here, column by column; transcoded columns remap their source keys directly.
    pub fn write_rows(&mut self, rows: &Rows) -> Result<()> {
        let path = &self.path;
        let err = |e| Error::parquet(path, e);
        if self.columns.is_none() {
            let writers = match &self.factory {
                Some(factory) => factory
                    .create_column_writers(self.row_groups)
                    .map_err(err)?,
                None => Vec::new(),
            };
            self.columns = Some(writers);
        }
        let Some(writers) = self.columns.as_mut() else {
            return Ok(());
        };
        // One work item per field: its transcoder or its parquet-rs leaf writers.
        let mut work = Vec::with_capacity(self.encoders.len());
        let mut dicts = self.dict_writers.iter_mut();
        let mut leaves: &mut [ArrowColumnWriter] = writers.as_mut_slice();
        for (i, encoder) in self.encoders.iter().enumerate() {
            match *encoder {
                Encoder::Dict(_) => {
                    let w = dicts.next().ok_or_else(|| {
                        Error::InvalidData("fewer transcoders than dictionary fields".into())
                    })?;
                    work.push(Work::Dict(i, w));
                }
                Encoder::Arrow(n) => {
                    if leaves.len() < n {
                        return Err(Error::InvalidData(
                            "fewer column writers than leaf columns".into(),
                        ));
                    }
                    let (mine, rest) = leaves.split_at_mut(n);
                    leaves = rest;
                    work.push(Work::Arrow(i, mine));
                }
            }
        }
        work.into_iter()
            .try_for_each(|w| w.write(path, &self.schema, rows))
    }

    /// Close the row group in progress, if any.
    pub fn flush_row_group(&mut self) -> Result<()> {
        let Some(writers) = self.columns.take() else {
            return Ok(());
        };
        let path = &self.path;
        let err = |e| Error::parquet(path, e);
        let mut row_group = self.writer.next_row_group().map_err(err)?;
        let mut writers = writers.into_iter();
        for encoder in &self.encoders {
            match *encoder {
                Encoder::Dict(d) => {
                    let (bytes, close) = self.dict_writers[d].close_chunk()?;
                    row_group.append_column(&bytes, close).map_err(err)?;
                }
                Encoder::Arrow(leaves) => {
                    for _ in 0..leaves {
                        let w = writers.next().ok_or_else(|| {
                            Error::InvalidData("fewer column writers than leaf columns".into())
                        })?;
                        w.close()
                            .and_then(|chunk| chunk.append_to_row_group(&mut row_group))
                            .map_err(err)?;
                    }
                }
            }
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
