//! Output column chunks compressed with one long-lived compressor per output file: parquet-rs encodes them uncompressed, the pages are re-read and compressed here.
//!
//! parquet-rs 60.1 builds a codec (for zstd a compression AND a decompression
//! context) in every `GenericColumnWriter`, that is per (row group, column). Its
//! Arrow column writers are therefore given UNCOMPRESSED as their codec (no
//! context built), their pages are captured by a [`PageCapture`] store, and
//! [`ChunkCompressor::compress`] reads them back with parquet-rs' page reader,
//! compresses each page body with the file's one codec and writes them with
//! parquet-rs' page writer. Page boundaries, encodings, statistics, column
//! index and bloom filter do not depend on the codec, so the chunk is the one
//! parquet-rs would have written; the offset index and the chunk's sizes and
//! offsets are rebuilt for the compressed pages.

use bytes::Bytes;
use parquet::arrow::arrow_writer::ArrowColumnChunk;
use parquet::basic::Compression;
use parquet::column::page::{CompressedPage, Page, PageReader, PageWriter};
use parquet::column::page_store::{PageKey, PageStore, PageStoreArgs, PageStoreFactory};
use parquet::column::writer::ColumnCloseResult;
use parquet::compression::{create_codec, Codec, CodecOptionsBuilder};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use std::sync::{Arc, Mutex, MutexGuard};

/// The page blobs (header, body, header, body, ...) one column writer produced.
#[derive(Default)]
struct Captured {
    blobs: Vec<Bytes>,
    bytes: usize,
}

type Shared = Arc<Mutex<Captured>>;

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| ParquetError::General("page capture lock poisoned".to_string()))
}

/// A page store that keeps its blobs where the [`PageCapture`] that made it can take them.
struct CaptureStore {
    shared: Shared,
}

impl PageStore for CaptureStore {
    fn put(&mut self, value: Bytes) -> Result<PageKey> {
        let mut c = lock(&self.shared)?;
        c.bytes += value.len();
        c.blobs.push(value);
        Ok(PageKey::new((c.blobs.len() - 1) as u64))
    }

    fn take(&mut self, key: PageKey) -> Result<Bytes> {
        let c = lock(&self.shared)?;
        usize::try_from(key.get())
            .ok()
            .and_then(|k| c.blobs.get(k).cloned())
            .ok_or_else(|| ParquetError::General(format!("no captured page {}", key.get())))
    }

    fn memory_size(&self) -> usize {
        lock(&self.shared).map(|c| c.bytes).unwrap_or(0)
    }
}

/// Page stores for the Arrow column writers of an output file, one per leaf
/// column of the row group in progress, whose pages [`take`](Self::take) hands over.
#[derive(Default)]
pub struct PageCapture {
    slots: Mutex<Vec<Option<Shared>>>,
}

impl std::fmt::Debug for PageCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCapture").finish_non_exhaustive()
    }
}

impl PageStoreFactory for PageCapture {
    fn create(&self, args: &PageStoreArgs<'_>) -> Result<Box<dyn PageStore>> {
        let shared = Shared::default();
        let mut slots = lock(&self.slots)?;
        let i = args.column_index();
        if slots.len() <= i {
            slots.resize(i + 1, None);
        }
        slots[i] = Some(shared.clone());
        Ok(Box::new(CaptureStore { shared }))
    }
}

impl PageCapture {
    /// The page blobs of leaf column `column` of the row group in progress.
    pub fn take(&self, column: usize) -> Result<Vec<Bytes>> {
        let slot = lock(&self.slots)?.get_mut(column).and_then(Option::take);
        let shared = slot.ok_or_else(|| {
            ParquetError::General(format!("no pages captured for leaf column {column}"))
        })?;
        let mut c = lock(&shared)?;
        c.bytes = 0;
        Ok(std::mem::take(&mut c.blobs))
    }
}

/// Compresses captured column chunks with one codec for the life of an output file.
pub struct ChunkCompressor {
    codec: Compression,
    compressor: Box<dyn Codec>,
}

/// A chunk's pages laid out as a file holds them: the dictionary page first.
struct Laid {
    bytes: Bytes,
    dictionary_len: usize,
}

impl ChunkCompressor {
    /// A compressor for `codec`; None for UNCOMPRESSED (nothing to do).
    pub fn new(codec: Compression) -> Result<Option<Self>> {
        let options = CodecOptionsBuilder::default().build();
        Ok(create_codec(codec, &options)?.map(|compressor| ChunkCompressor { codec, compressor }))
    }

    /// The codec the chunks are compressed with.
    pub fn codec(&self) -> Compression {
        self.codec
    }

    /// Compress `chunk`, written uncompressed, whose page blobs are `blobs` (from
    /// [`PageCapture::take`]): its serialized pages (dictionary page first,
    /// offsets relative to the start of the returned bytes) and its close result,
    /// for `SerializedRowGroupWriter::append_column`.
    pub fn compress(
        &mut self,
        mut chunk: ArrowColumnChunk,
        blobs: Vec<Bytes>,
    ) -> Result<(Bytes, ColumnCloseResult)> {
        let close = chunk.close_mut();
        let metadata = close.metadata.clone();
        let rows = close.rows_written;
        let bloom_filter = close.bloom_filter.take();
        let column_index = close.column_index.take();
        let old_offsets = close.offset_index.take();
        drop(chunk);
        let laid = lay_out(&metadata, blobs)?;
        let plain = metadata
            .clone()
            .into_builder()
            .set_dictionary_page_offset((laid.dictionary_len > 0).then_some(0))
            .set_data_page_offset(laid.dictionary_len as i64)
            .set_total_compressed_size(laid.bytes.len() as i64)
            .build()?;
        let total_rows = usize::try_from(rows).unwrap_or(usize::MAX);
        let mut pages = SerializedPageReader::new(Arc::new(laid.bytes), &plain, total_rows, None)?;
        let mut sink = TrackedWrite::new(Vec::new());
        let mut writer = SerializedPageWriter::new(&mut sink);
        let mut offsets = PageOffsets::new(old_offsets.as_ref(), rows);
        let (mut uncompressed, mut compressed) = (0i64, 0i64);
        let (mut dictionary_offset, mut data_offset) = (None, None);
        while let Some(page) = pages.get_next_page()? {
            let dictionary = matches!(page, Page::DictionaryPage { .. });
            let spec = writer.write_page(self.compress_page(page)?)?;
            uncompressed += spec.uncompressed_size as i64;
            compressed += spec.compressed_size as i64;
            if dictionary {
                dictionary_offset = Some(spec.offset as i64);
            } else {
                data_offset.get_or_insert(spec.offset as i64);
                offsets.page(spec.offset as i64, spec.compressed_size)?;
            }
        }
        writer.close()?;
        let bytes = Bytes::from(sink.into_inner()?);
        let metadata = metadata
            .into_builder()
            .set_compression(self.codec)
            .set_total_compressed_size(compressed)
            .set_total_uncompressed_size(uncompressed)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset)
            .build()?;
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: rows,
            metadata,
            bloom_filter,
            column_index,
            offset_index: offsets.build(),
        };
        Ok((bytes, close))
    }

    /// A page with its body compressed (data page v1 and dictionary pages).
    fn compress_page(&mut self, page: Page) -> Result<CompressedPage> {
        match page {
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
                statistics,
            } => {
                let size = buf.len();
                let page = Page::DataPage {
                    buf: self.compress_body(&buf)?,
                    num_values,
                    encoding,
                    def_level_encoding,
                    rep_level_encoding,
                    statistics,
                };
                Ok(CompressedPage::new(page, size))
            }
            Page::DictionaryPage {
                buf,
                num_values,
                encoding,
                is_sorted,
            } => {
                let size = buf.len();
                let page = Page::DictionaryPage {
                    buf: self.compress_body(&buf)?,
                    num_values,
                    encoding,
                    is_sorted,
                };
                Ok(CompressedPage::new(page, size))
            }
            Page::DataPageV2 { .. } => Err(ParquetError::General(
                "data page v2 chunks are compressed by parquet-rs' own writer".to_string(),
            )),
        }
    }

    /// `body` compressed as parquet-rs' column writer compresses a page.
    fn compress_body(&mut self, body: &[u8]) -> Result<Bytes> {
        let mut out = Vec::with_capacity(body.len());
        self.compressor.compress(body, &mut out)?;
        out.shrink_to_fit();
        Ok(Bytes::from(out))
    }
}

/// The chunk's blobs (header and body of each page, in the order the column
/// writer produced them) in file order: the dictionary page, which the writer
/// may produce after data pages, first.
fn lay_out(metadata: &ColumnChunkMetaData, blobs: Vec<Bytes>) -> Result<Laid> {
    if !blobs.len().is_multiple_of(2) {
        return Err(ParquetError::General(format!(
            "{} page blobs captured: not header and body pairs",
            blobs.len()
        )));
    }
    let total: usize = blobs.iter().map(Bytes::len).sum();
    let mut out = Vec::with_capacity(total);
    let mut dictionary_len = 0;
    if let Some(at) = metadata.dictionary_page_offset() {
        let mut offset = 0i64;
        let pair = blobs.chunks(2).find(|pair| {
            let start = offset;
            offset += (pair[0].len() + pair[1].len()) as i64;
            start == at
        });
        let pair = pair.ok_or_else(|| {
            ParquetError::General(format!("no captured page at dictionary offset {at}"))
        })?;
        out.extend_from_slice(&pair[0]);
        out.extend_from_slice(&pair[1]);
        dictionary_len = out.len();
    }
    let mut offset = 0i64;
    for pair in blobs.chunks(2) {
        let start = offset;
        offset += (pair[0].len() + pair[1].len()) as i64;
        if Some(start) != metadata.dictionary_page_offset() {
            out.extend_from_slice(&pair[0]);
            out.extend_from_slice(&pair[1]);
        }
    }
    Ok(Laid {
        bytes: Bytes::from(out),
        dictionary_len,
    })
}

/// The offset index of the compressed chunk: new offsets and sizes, the old
/// one's first rows and unencoded byte counts.
struct PageOffsets<'a> {
    old: Option<&'a OffsetIndexMetaData>,
    rows: u64,
    builder: OffsetIndexBuilder,
    next: usize,
}

impl<'a> PageOffsets<'a> {
    fn new(old: Option<&'a OffsetIndexMetaData>, rows: u64) -> Self {
        PageOffsets {
            old,
            rows,
            builder: OffsetIndexBuilder::new(),
            next: 0,
        }
    }

    /// The next data page, written at `offset` in `size` bytes.
    fn page(&mut self, offset: i64, size: usize) -> Result<()> {
        let Some(old) = self.old else {
            return Ok(());
        };
        let locations = old.page_locations();
        let k = self.next;
        let first = locations.get(k).map(|l| l.first_row_index).ok_or_else(|| {
            ParquetError::General(format!(
                "data page {k} is not in the offset index ({} pages)",
                locations.len()
            ))
        })?;
        let end = locations
            .get(k + 1)
            .map_or(self.rows as i64, |l| l.first_row_index);
        let size = i32::try_from(size)
            .map_err(|_| ParquetError::General(format!("page of {size} bytes")))?;
        self.builder.append_offset_and_size(offset, size);
        self.builder.append_row_count(end - first);
        let unencoded = old
            .unencoded_byte_array_data_bytes()
            .and_then(|u| u.get(k).copied());
        self.builder
            .append_unencoded_byte_array_data_bytes(unencoded);
        self.next += 1;
        Ok(())
    }

    fn build(self) -> Option<OffsetIndexMetaData> {
        self.old.map(|_| self.builder.build())
    }
}
