//! One output Parquet file written row group by row group: merged batches are
//! encoded column by column, dictionary string columns by [`DictChunkWriter`]
//! (indices remapped, values not re-interned), flat fixed-width columns by
//! [`FixedChunkWriter`] (fed run by run from the source arrays) and every other
//! column by parquet-rs' `ArrowColumnWriter`s; a region with a single contributing row group
//! can instead have its column chunks copied verbatim (`append_column`), without
//! decoding or re-encoding.

use super::chunk_writer::{eligible, fixed_eligible, DictChunkWriter, FixedChunkWriter};
use super::rows::Rows;
use crate::input::ChunkSource;
use crate::page::{CapturedChunk, PageCapture};
use crate::storage::{ErrorSlot, Upload, UploadedParts};
use crate::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::bloom_filter::Sbbf;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnDescPtr;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Who encodes a top-level field.
#[derive(Clone, Copy)]
enum Encoder {
    /// parquet-rs' Arrow writers, one per leaf column (this many).
    Arrow(usize),
    /// The next dictionary transcoder (in field order).
    Dict,
    /// The next fixed-width column writer (in field order).
    Fixed,
}

/// One field's share of a write.
enum Work<'a> {
    /// Field index and its transcoder.
    Dict(usize, &'a mut DictChunkWriter),
    /// Field index and its fixed-width column writer.
    Fixed(usize, &'a mut FixedChunkWriter),
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
                    w.write_gather(&columns, g)
                }
            },
            Work::Fixed(i, w) => match rows {
                Rows::Batch(b) => w.write(b.column(i)),
                Rows::Gathered(g) => {
                    let columns: Vec<&ArrayRef> = g.sources.iter().map(|b| b.column(i)).collect();
                    w.write_gather(&columns, g)
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

/// One leaf column's chunk to close at the end of a row group.
enum Closing<'a> {
    Dict(&'a mut DictChunkWriter),
    Fixed(&'a mut FixedChunkWriter),
    /// Leaf index among the parquet-rs-encoded leaves, and its writer.
    Arrow(usize, Box<ArrowColumnWriter>),
}

/// A closed column chunk, ready to append to the row group.
enum Closed {
    Bytes(bytes::Bytes, ColumnCloseResult),
    Captured(CapturedChunk, ColumnCloseResult),
    Chunk(ArrowColumnChunk),
}

impl Closing<'_> {
    fn close(self, path: &Path, pages: Option<&PageCapture>) -> Result<Closed> {
        let err = |e| Error::parquet(path, e);
        match self {
            Closing::Dict(w) => w.close_chunk().map(|(b, c)| Closed::Bytes(b, c)),
            Closing::Fixed(w) => w.close_chunk().map(|(b, c)| Closed::Bytes(b, c)),
            Closing::Arrow(leaf, w) => {
                let chunk = w.close().map_err(err)?;
                match pages {
                    Some(capture) => {
                        let (bytes, close) = capture.finish(leaf, chunk).map_err(err)?;
                        Ok(Closed::Captured(bytes, close))
                    }
                    None => Ok(Closed::Chunk(chunk)),
                }
            }
        }
    }
}

/// `f` applied to every item, in parallel on the encoding pool when called on
/// one of its threads and the pool has more than one (`OutputSink`), else in
/// order on this thread; the results in the items' order. The items are
/// column writers: each writes its own column, so the bytes are the same
/// either way.
fn in_parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Result<Vec<R>> {
    let pooled = rayon::current_thread_index().is_some() && rayon::current_num_threads() > 1;
    if !pooled || items.len() < 2 {
        return Ok(items.into_iter().map(f).collect());
    }
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let f = &f;
    rayon::scope(|s| {
        for (item, slot) in items.into_iter().zip(results.iter_mut()) {
            s.spawn(move |_| *slot = Some(f(item)));
        }
    });
    // The scope returns once every spawned closure has run (a panic in one
    // comes back here), so no slot is empty.
    results
        .into_iter()
        .collect::<Option<Vec<R>>>()
        .ok_or_else(|| Error::Internal("a column's encoding did not run".into()))
}

/// Where an output's bytes go: a local (temporary) file, or a multipart upload.
pub enum OutputIo {
    /// The output's temporary file.
    File(File),
    /// `None` once the upload has been finished.
    Upload(Option<Upload>, ErrorSlot),
}

impl OutputIo {
    /// Stream to `upload`.
    pub fn upload(upload: Upload) -> Self {
        let slot = upload.error_slot();
        OutputIo::Upload(Some(upload), slot)
    }

    /// The storage error an upload hit, if any (the writer only sees "I/O error").
    fn storage_error(&self) -> Option<Error> {
        match self {
            OutputIo::Upload(_, slot) => slot.lock().ok().and_then(|mut s| s.take()),
            OutputIo::File(_) => None,
        }
    }
}

impl Write for OutputIo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            OutputIo::File(f) => f.write(buf),
            OutputIo::Upload(Some(u), _) => u.write(buf),
            OutputIo::Upload(None, _) => Err(std::io::Error::other("upload already finished")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            OutputIo::File(f) => f.flush(),
            OutputIo::Upload(Some(u), _) => u.flush(),
            OutputIo::Upload(None, _) => Ok(()),
        }
    }
}

/// Writes one output file.
pub struct OutputFileWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: SerializedFileWriter<OutputIo>,
    /// Per top-level field of `schema`.
    encoders: Vec<Encoder>,
    /// Column writers for the fields encoded by parquet-rs (a projection of the
    /// schema without the transcoded fields; `None` if every field is transcoded).
    factory: Option<ArrowRowGroupWriterFactory>,
    /// Where the factory's writers leave their (uncompressed) pages to be
    /// compressed; None when parquet-rs compresses itself.
    pages: Option<Arc<PageCapture>>,
    dict_writers: Vec<DictChunkWriter>,
    fixed_writers: Vec<FixedChunkWriter>,
    /// Column writers of the row group in progress (fields encoded by parquet-rs).
    columns: Option<Vec<ArrowColumnWriter>>,
    row_groups: usize,
}

impl OutputFileWriter {
    /// Create `path` for batches of `schema`. The Arrow schema is embedded in the
    /// footer as parquet-rs' `ArrowWriter` does.
    pub fn create(path: &Path, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        let file = super::durable::create_new(path)?;
        Self::new(path, OutputIo::File(file), schema, properties)
    }

    /// A writer of batches of `schema` into `io`; `path` names it in errors (the
    /// file, or the URL of an upload).
    pub fn new(
        path: &Path,
        io: OutputIo,
        schema: SchemaRef,
        properties: WriterProperties,
    ) -> Result<Self> {
        let err = |e| Error::parquet(path, e);
        let (writer, _) = ArrowWriter::try_new(io, schema.clone(), Some(properties.clone()))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(err)?;
        // Flat string fields (one leaf each) go to the transcoder, flat
        // fixed-width ones to the fixed-width writer.
        let descr = writer.schema_descr();
        let mut encoders = Vec::with_capacity(schema.fields().len());
        let mut dict_writers = Vec::new();
        let mut fixed_writers = Vec::new();
        let mut arrow_leaves = Vec::new();
        for (f, field) in schema.fields().iter().enumerate() {
            let leaves: Vec<usize> = (0..descr.num_columns())
                .filter(|&l| descr.get_column_root_idx(l) == f)
                .collect();
            match leaves.as_slice() {
                [leaf] if eligible(field.data_type(), &descr.column(*leaf), &properties) => {
                    encoders.push(Encoder::Dict);
                    dict_writers.push(DictChunkWriter::new(
                        path,
                        descr.column(*leaf),
                        &properties,
                    )?);
                }
                [leaf] if fixed_eligible(field.data_type(), &descr.column(*leaf), &properties) => {
                    encoders.push(Encoder::Fixed);
                    fixed_writers.push(FixedChunkWriter::new(
                        path,
                        descr.column(*leaf),
                        &properties,
                    )?);
                }
                _ => {
                    arrow_leaves.extend(leaves.iter().map(|&l| descr.column(l)));
                    encoders.push(Encoder::Arrow(leaves.len()));
                }
            }
        }
        let arrow_fields: Vec<_> = schema
            .fields()
            .iter()
            .zip(&encoders)
            .filter(|(_, e)| matches!(e, Encoder::Arrow(_)))
            .map(|(f, _)| f.clone())
            .collect();
        let (factory, pages) = if arrow_fields.is_empty() {
            (None, None)
        } else {
            // Column writers for the fields parquet-rs encodes come from a
            // factory over the projection of those fields (its leaves have the
            // same descriptors), writing uncompressed pages that the file's one
            // compressor compresses (see `page::compress`) where it can.
            let projected = Arc::new(Schema::new_with_metadata(
                arrow_fields,
                schema.metadata().clone(),
            ));
            let (props, compressor) = recompression(&properties, &arrow_leaves)?;
            let (_, factory) = ArrowWriter::try_new(std::io::sink(), projected, Some(props))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(err)?;
            match compressor {
                Some(capture) => {
                    let capture = Arc::new(capture);
                    let factory = factory.with_page_store_factory(capture.clone());
                    (Some(factory), Some(capture))
                }
                None => (Some(factory), None),
            }
        };
        Ok(OutputFileWriter {
            path: path.to_path_buf(),
            schema,
            writer,
            encoders,
            factory,
            pages,
            dict_writers,
            fixed_writers,
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
        // One work item per field: its transcoder, its fixed-width writer or its
        // parquet-rs leaf writers.
        let mut work = Vec::with_capacity(self.encoders.len());
        let mut dicts = self.dict_writers.iter_mut();
        let mut fixed = self.fixed_writers.iter_mut();
        let mut leaves: &mut [ArrowColumnWriter] = writers.as_mut_slice();
        for (i, encoder) in self.encoders.iter().enumerate() {
            match *encoder {
                Encoder::Dict => {
                    let w = dicts.next().ok_or_else(|| {
                        Error::InvalidData("fewer transcoders than dictionary fields".into())
                    })?;
                    work.push(Work::Dict(i, w));
                }
                Encoder::Fixed => {
                    let w = fixed.next().ok_or_else(|| {
                        Error::InvalidData("fewer column writers than fixed-width fields".into())
                    })?;
                    work.push(Work::Fixed(i, w));
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
        let schema = &self.schema;
        in_parallel(work, |w| w.write(path, schema, rows))?
            .into_iter()
            .collect::<Result<Vec<()>>>()
            .map(drop)
    }

    /// Close the row group in progress, if any: its column chunks are closed
    /// in parallel (see `in_parallel`) and appended in schema order.
    pub fn flush_row_group(&mut self) -> Result<()> {
        let Some(writers) = self.columns.take() else {
            return Ok(());
        };
        let path = &self.path;
        let err = |e| Error::parquet(path, e);
        let mut closing = Vec::with_capacity(self.encoders.len());
        let mut writers = writers.into_iter();
        let mut dicts = self.dict_writers.iter_mut();
        let mut fixed = self.fixed_writers.iter_mut();
        let mut leaf = 0;
        for encoder in &self.encoders {
            match *encoder {
                Encoder::Dict => {
                    let w = dicts.next().ok_or_else(|| {
                        Error::Internal("fewer transcoders than dictionary fields".into())
                    })?;
                    closing.push(Closing::Dict(w));
                }
                Encoder::Fixed => {
                    let w = fixed.next().ok_or_else(|| {
                        Error::Internal("fewer column writers than fixed-width fields".into())
                    })?;
                    closing.push(Closing::Fixed(w));
                }
                Encoder::Arrow(leaves) => {
                    for _ in 0..leaves {
                        let w = writers.next().ok_or_else(|| {
                            Error::Internal("fewer column writers than leaf columns".into())
                        })?;
                        closing.push(Closing::Arrow(leaf, Box::new(w)));
                        leaf += 1;
                    }
                }
            }
        }
        let pages = self.pages.as_deref();
        let closed = in_parallel(closing, |c| c.close(path, pages))?;
        let mut row_group = self.writer.next_row_group().map_err(err)?;
        for chunk in closed {
            match chunk? {
                Closed::Bytes(bytes, close) => row_group.append_column(&bytes, close),
                Closed::Captured(bytes, close) => row_group.append_column(&bytes, close),
                Closed::Chunk(chunk) => chunk.append_to_row_group(&mut row_group),
            }
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
        file: &ChunkSource,
        metadata: &ParquetMetaData,
        index: usize,
    ) -> Result<()> {
        self.flush_row_group()?;
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
            let bloom_filter = Sbbf::read_from_column_chunk(column, file)
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
                .append_column(file, close)
                .map_err(|e| Error::parquet(source, e))?;
        }
        row_group.close().map_err(|e| Error::parquet(path, e))?;
        self.row_groups += 1;
        Ok(())
    }

    /// Give up on the output: abort its upload (a local temporary file is the
    /// caller's to remove).
    pub fn abort(mut self) -> Result<()> {
        match self.writer.inner_mut() {
            OutputIo::Upload(upload, _) => upload.take().map_or(Ok(()), Upload::abort),
            OutputIo::File(_) => Ok(()),
        }
    }

    /// An error from writing, or the storage error behind it.
    pub fn explain(&self, e: Error) -> Error {
        self.writer.inner().storage_error().unwrap_or(e)
    }

    /// Finish the file and make it durable: fsync a local file; send the last
    /// part of an upload and wait for every part (the object is not visible
    /// until the upload is completed). Returns the row-group count, the size in
    /// bytes and, for an upload, its parts.
    pub fn close(mut self) -> Result<(usize, u64, Option<UploadedParts>)> {
        let closed = self.close_inner();
        closed.map_err(|e| self.explain(e))
    }

    fn close_inner(&mut self) -> Result<(usize, u64, Option<UploadedParts>)> {
        self.flush_row_group()?;
        let meta = self
            .writer
            .finish()
            .map_err(|e| Error::parquet(&self.path, e))?;
        let bytes = u64::try_from(self.writer.bytes_written()).unwrap_or(u64::MAX);
        let uploaded = match self.writer.inner_mut() {
            OutputIo::File(f) => {
                f.sync_all().map_err(|e| Error::io(&self.path, e))?;
                None
            }
            OutputIo::Upload(upload, _) => match upload.take() {
                Some(u) => Some(u.finish()?),
                None => None,
            },
        };
        Ok((meta.num_row_groups(), bytes, uploaded))
    }
}

/// Properties for parquet-rs' column writers of the leaf columns `leaves`,
/// and the page stores that compress their pages: the same properties with
/// every leaf UNCOMPRESSED when all leaves share one codec and data page v1
/// (what [`PageCapture`] handles); otherwise the properties unchanged and no
/// stores.
fn recompression(
    properties: &WriterProperties,
    leaves: &[ColumnDescPtr],
) -> Result<(WriterProperties, Option<PageCapture>)> {
    let unchanged = || Ok((properties.clone(), None));
    if properties.writer_version() != WriterVersion::PARQUET_1_0 {
        return unchanged();
    }
    let codecs: Vec<Compression> = leaves
        .iter()
        .map(|l| properties.compression(l.path()))
        .collect();
    let Some(&codec) = codecs.first() else {
        return unchanged();
    };
    if codecs.iter().any(|&c| c != codec) {
        return unchanged();
    }
    let Some(capture) = PageCapture::new(leaves.to_vec(), codec)
        .map_err(|e| Error::InvalidData(format!("codec {codec}: {e}")))?
    else {
        return unchanged();
    };
    let mut builder = properties.clone().into_builder();
    for leaf in leaves {
        builder = builder.set_column_compression(leaf.path().clone(), Compression::UNCOMPRESSED);
    }
    Ok((builder.build(), Some(capture)))
}
