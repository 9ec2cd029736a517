//! Output column chunks compressed with one long-lived compressor per output file: parquet-rs encodes them uncompressed, the pages are re-read and compressed here.
//!
//! parquet-rs 60.1 builds a codec (for zstd a compression AND a decompression
//! context) in every `GenericColumnWriter`, that is per (row group, column). Its
//! Arrow column writers are therefore given UNCOMPRESSED as their codec (no
//! context built); a [`PageCapture`] store reads each page back with
//! parquet-rs' page reader as it arrives and compresses its body with the
//! file's one codec, and [`PageCapture::finish`] writes the chunk's pages with
//! parquet-rs' page writer. Page boundaries, encodings, statistics, column
//! index and bloom filter do not depend on the codec, so the chunk is the one
//! parquet-rs would have written; the offset index and the chunk's sizes and
//! offsets are rebuilt for the compressed pages.

use super::body::with_body;
use bytes::{Buf, Bytes};
use parquet::arrow::arrow_writer::ArrowColumnChunk;
use parquet::basic::Compression;
use parquet::column::page::{CompressedPage, Page, PageReader, PageWriter};
use parquet::column::page_store::{PageKey, PageStore, PageStoreArgs, PageStoreFactory};
use parquet::column::writer::ColumnCloseResult;
use parquet::compression::{create_codec, Codec, CodecOptionsBuilder};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| ParquetError::General("page capture lock poisoned".to_string()))
}

/// One codec, with its context, for the life of an output file.
struct Compressor {
    codec_impl: Box<dyn Codec>,
}

impl Compressor {
    /// `page` (as parquet-rs' page reader gives it back) with its body
    /// compressed as parquet-rs' column writer compresses it.
    fn page(&mut self, page: Page) -> Result<CompressedPage> {
        if let Page::DataPageV2 { .. } = page {
            return Err(ParquetError::General(
                "data page v2 chunks are compressed by parquet-rs' own writer".to_string(),
            ));
        }
        let size = page.buffer().len();
        let page = with_body(page, |body| self.body(body))?;
        Ok(CompressedPage::new(page, size))
    }

    fn body(&mut self, body: &[u8]) -> Result<Bytes> {
        let mut out = Vec::with_capacity(body.len());
        self.codec_impl.compress(body, &mut out)?;
        out.shrink_to_fit();
        Ok(Bytes::from(out))
    }
}

/// The compressed pages of one column chunk so far, in the order the column
/// writer produced them (a dictionary page may come after data pages).
#[derive(Default)]
struct Captured {
    pages: Vec<Serialized>,
    /// The header of the page whose body comes next.
    header: Option<Bytes>,
    bytes: usize,
}

type Shared = Arc<Mutex<Captured>>;

/// A compressed page serialized as a file holds it (header, then body).
struct Serialized {
    blob: Bytes,
    /// The page's uncompressed size plus its header, as the chunk's total counts it.
    uncompressed: usize,
    dictionary: bool,
}

impl Serialized {
    fn new(page: CompressedPage) -> Result<Self> {
        let dictionary = matches!(page.compressed_page(), Page::DictionaryPage { .. });
        let mut sink = TrackedWrite::new(Vec::with_capacity(page.compressed_size() + 64));
        let spec = SerializedPageWriter::new(&mut sink).write_page(page)?;
        Ok(Serialized {
            blob: Bytes::from(sink.into_inner()?),
            uncompressed: spec.uncompressed_size,
            dictionary,
        })
    }
}

/// A page store that compresses each page as the column writer hands it over
/// (so a row group in progress holds compressed pages, as parquet-rs' own
/// writer does) and keeps it for [`PageCapture::finish`].
struct CaptureStore {
    shared: Shared,
    descr: ColumnDescPtr,
    compressor: Arc<Mutex<Compressor>>,
    keys: u64,
}

impl PageStore for CaptureStore {
    fn put(&mut self, value: Bytes) -> Result<PageKey> {
        self.keys += 1;
        let mut c = lock(&self.shared)?;
        match c.header.take() {
            None => c.header = Some(value),
            Some(header) => {
                let page = read_page(&self.descr, &header, &value)?;
                let page = Serialized::new(lock(&self.compressor)?.page(page)?)?;
                c.bytes += page.blob.len();
                c.pages.push(page);
            }
        }
        Ok(PageKey::new(self.keys))
    }

    fn take(&mut self, key: PageKey) -> Result<Bytes> {
        Err(ParquetError::General(format!(
            "page {} was compressed on capture: the chunk is written by PageCapture::finish",
            key.get()
        )))
    }

    fn memory_size(&self) -> usize {
        lock(&self.shared).map(|c| c.bytes).unwrap_or(0)
    }
}

/// One serialized page (`header` and `body`, uncompressed) read back with
/// parquet-rs' page reader; the body is not copied.
fn read_page(descr: &ColumnDescPtr, header: &Bytes, body: &Bytes) -> Result<Page> {
    let page = HeaderBody {
        header: header.clone(),
        body: body.clone(),
    };
    let meta = ColumnChunkMetaData::builder(descr.clone())
        .set_compression(Compression::UNCOMPRESSED)
        .set_data_page_offset(0)
        .set_total_compressed_size(page.len() as i64)
        .build()?;
    let mut reader = SerializedPageReader::new(Arc::new(page), &meta, 0, None)?;
    reader
        .get_next_page()?
        .ok_or_else(|| ParquetError::General("a captured page read back as no page".to_string()))
}

/// A serialized page as two buffers (header, then body) presented as one chunk.
struct HeaderBody {
    header: Bytes,
    body: Bytes,
}

impl Length for HeaderBody {
    fn len(&self) -> u64 {
        (self.header.len() + self.body.len()) as u64
    }
}

impl ChunkReader for HeaderBody {
    type T = std::io::Chain<bytes::buf::Reader<Bytes>, bytes::buf::Reader<Bytes>>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        let h = self.header.len();
        let header = self.header.slice(start.min(h)..);
        let body = self
            .body
            .slice(start.saturating_sub(h).min(self.body.len())..);
        Ok(header.reader().chain(body.reader()))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        let h = self.header.len();
        let out_of_range = || {
            ParquetError::General(format!(
                "bytes {start}..+{length} of a captured page of {} bytes",
                self.len()
            ))
        };
        if start >= h {
            let from = start - h;
            let to = from.checked_add(length).ok_or_else(out_of_range)?;
            if to > self.body.len() {
                return Err(out_of_range());
            }
            return Ok(self.body.slice(from..to));
        }
        // Spanning the header (never asked by the page reader): copied.
        let mut out = Vec::with_capacity(length);
        self.get_read(start as u64)?
            .take(length as u64)
            .read_to_end(&mut out)
            .map_err(|e| ParquetError::General(format!("captured page: {e}")))?;
        if out.len() != length {
            return Err(out_of_range());
        }
        Ok(Bytes::from(out))
    }
}

/// Page stores for the Arrow column writers of an output file that write
/// UNCOMPRESSED pages: each page is compressed on arrival with the file's one
/// codec, and [`finish`](Self::finish) lays out a closed chunk.
pub struct PageCapture {
    /// The leaf columns of the writers' schema, by index.
    leaves: Vec<ColumnDescPtr>,
    slots: Mutex<Vec<Option<Shared>>>,
    /// One compressor per leaf, created on the leaf's first page and kept for
    /// the file's life, so that columns encoded in parallel never wait on one
    /// another's codec.
    compressors: Mutex<Vec<Option<Arc<Mutex<Compressor>>>>>,
    codec: Compression,
}

impl std::fmt::Debug for PageCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCapture").finish_non_exhaustive()
    }
}

impl PageStoreFactory for PageCapture {
    fn create(&self, args: &PageStoreArgs<'_>) -> Result<Box<dyn PageStore>> {
        let shared = Shared::default();
        let i = args.column_index();
        let descr = self.leaves.get(i).cloned().ok_or_else(|| {
            ParquetError::General(format!(
                "leaf column {i} of {} asked for a page store",
                self.leaves.len()
            ))
        })?;
        let mut slots = lock(&self.slots)?;
        if slots.len() <= i {
            slots.resize(i + 1, None);
        }
        slots[i] = Some(shared.clone());
        Ok(Box::new(CaptureStore {
            shared,
            descr,
            compressor: self.compressor(i)?,
            keys: 0,
        }))
    }
}

impl PageCapture {
    /// Stores for writers of the leaf columns `leaves` (in schema order),
    /// compressing with `codec`; None for UNCOMPRESSED (nothing to do).
    pub fn new(leaves: Vec<ColumnDescPtr>, codec: Compression) -> Result<Option<Self>> {
        if create_codec(codec, &CodecOptionsBuilder::default().build())?.is_none() {
            return Ok(None);
        }
        Ok(Some(PageCapture {
            leaves,
            slots: Mutex::default(),
            compressors: Mutex::default(),
            codec,
        }))
    }

    /// Leaf `i`'s compressor, created on first use.
    fn compressor(&self, i: usize) -> Result<Arc<Mutex<Compressor>>> {
        let mut compressors = lock(&self.compressors)?;
        if compressors.len() <= i {
            compressors.resize(i + 1, None);
        }
        if let Some(c) = &compressors[i] {
            return Ok(c.clone());
        }
        let options = CodecOptionsBuilder::default().build();
        let codec_impl = create_codec(self.codec, &options)?.ok_or_else(|| {
            ParquetError::General(format!("codec {} has no compressor", self.codec))
        })?;
        let compressor = Arc::new(Mutex::new(Compressor { codec_impl }));
        compressors[i] = Some(compressor.clone());
        Ok(compressor)
    }

    /// The closed `chunk` of leaf column `column` (written UNCOMPRESSED, its
    /// pages compressed as they came): its serialized pages (dictionary page
    /// first, offsets relative to their start) and its close result, for
    /// `SerializedRowGroupWriter::append_column`.
    pub fn finish(
        &self,
        column: usize,
        mut chunk: ArrowColumnChunk,
    ) -> Result<(CapturedChunk, ColumnCloseResult)> {
        let slot = lock(&self.slots)?.get_mut(column).and_then(Option::take);
        let shared = slot.ok_or_else(|| {
            ParquetError::General(format!("no pages captured for leaf column {column}"))
        })?;
        let pages = std::mem::take(&mut lock(&shared)?.pages);
        let codec = self.codec;
        let close = chunk.close_mut();
        let metadata = close.metadata.clone();
        let rows = close.rows_written;
        let bloom_filter = close.bloom_filter.take();
        let column_index = close.column_index.take();
        let old_offsets = close.offset_index.take();
        drop(chunk);
        // File order: the dictionary page first, then the data pages as written.
        let (dictionary, data): (Vec<_>, Vec<_>) = pages.into_iter().partition(|p| p.dictionary);
        let mut offsets = PageOffsets::new(old_offsets.as_ref(), rows);
        let (mut at, mut uncompressed) = (0usize, 0usize);
        let mut dictionary_offset = None;
        for page in &dictionary {
            dictionary_offset = Some(at as i64);
            at += page.blob.len();
            uncompressed += page.uncompressed;
        }
        let mut data_offset = None;
        for page in &data {
            data_offset.get_or_insert(at as i64);
            offsets.page(at as i64, page.blob.len())?;
            at += page.blob.len();
            uncompressed += page.uncompressed;
        }
        let compressed = at as i64;
        let uncompressed = uncompressed as i64;
        let metadata = metadata
            .into_builder()
            .set_compression(codec)
            .set_total_compressed_size(compressed)
            .set_total_uncompressed_size(uncompressed)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset)
            .build()?;
        let close = ColumnCloseResult {
            bytes_written: at as u64,
            rows_written: rows,
            metadata,
            bloom_filter,
            column_index,
            offset_index: offsets.build(),
        };
        let blobs = dictionary.into_iter().chain(data).map(|p| p.blob).collect();
        Ok((
            CapturedChunk {
                blobs,
                len: at as u64,
            },
            close,
        ))
    }
}

/// A finished chunk's serialized pages in file order, read as one chunk
/// (offsets from 0) by `SerializedRowGroupWriter::append_column`, which
/// streams them into the file without joining them first.
pub struct CapturedChunk {
    blobs: Vec<Bytes>,
    len: u64,
}

impl Length for CapturedChunk {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for CapturedChunk {
    type T = BlobReader;

    fn get_read(&self, start: u64) -> Result<BlobReader> {
        let mut skip = usize::try_from(start).unwrap_or(usize::MAX);
        let mut blobs = std::collections::VecDeque::with_capacity(self.blobs.len());
        for blob in &self.blobs {
            if skip >= blob.len() {
                skip -= blob.len();
            } else {
                blobs.push_back(blob.slice(skip..));
                skip = 0;
            }
        }
        Ok(BlobReader { blobs })
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let mut out = Vec::with_capacity(length);
        self.get_read(start)?
            .take(length as u64)
            .read_to_end(&mut out)
            .map_err(|e| ParquetError::General(format!("captured chunk: {e}")))?;
        if out.len() != length {
            return Err(ParquetError::General(format!(
                "bytes {start}..+{length} of a captured chunk of {} bytes",
                self.len
            )));
        }
        Ok(Bytes::from(out))
    }
}

/// Reads a list of buffers as one stream.
pub struct BlobReader {
    blobs: std::collections::VecDeque<Bytes>,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(front) = self.blobs.front_mut() {
            if front.is_empty() {
                self.blobs.pop_front();
                continue;
            }
            let n = front.len().min(buf.len());
            buf[..n].copy_from_slice(&front[..n]);
            front.advance(n);
            return Ok(n);
        }
        Ok(0)
    }
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
