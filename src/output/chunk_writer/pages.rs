//! The stages every chunk writer shares, whatever its values: the column's
//! settings, data pages framed and compressed with the file's one codec, the
//! column index entries and boundary order, and at close the dictionary page,
//! the data pages, the chunk metadata, the offset index and the bloom filter.

use super::chunk::Settings;
use crate::{Error, Result};
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, ConvertedType, Encoding, EncodingMask, LogicalType, PageType};
use parquet::bloom_filter::Sbbf;
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::compression::{create_codec, Codec, CodecOptionsBuilder};
use parquet::encodings::levels::LevelEncoder;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, LevelHistogram, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::path::{Path, PathBuf};

/// Definition-level histogram of `rows` rows of which `nulls` are null (`None`
/// for a required column).
pub(super) fn histogram(max_def: i16, nulls: u64, rows: u64) -> Option<LevelHistogram> {
    LevelHistogram::try_new(max_def).map(|mut h| {
        h.increment_by(0, nulls as i64);
        h.increment_by(max_def, rows.saturating_sub(nulls) as i64);
        h
    })
}

/// A finished, compressed data page waiting for the dictionary page.
pub(super) struct PendingPage {
    pub(super) page: CompressedPage,
    pub(super) rows: usize,
    /// Unencoded byte-array bytes of the page (byte-array columns only).
    pub(super) value_bytes: i64,
}

/// A finished data page's body and counts, before compression.
pub(super) struct PageBody<'a> {
    /// Levels then values, uncompressed.
    pub(super) body: &'a [u8],
    pub(super) rows: usize,
    /// PLAIN values (else RLE_DICTIONARY indices).
    pub(super) plain: bool,
    pub(super) value_bytes: i64,
    /// Page header statistics, if written.
    pub(super) statistics: Option<Statistics>,
}

/// The finished pages of the chunk in progress and what its metadata and
/// indexes need.
pub(super) struct ChunkPages {
    pub(super) pages: Vec<PendingPage>,
    pub(super) dictionary_pages: i32,
    pub(super) plain_pages: i32,
    pub(super) column_index: ColumnIndexBuilder,
    pub(super) ascending: bool,
    pub(super) descending: bool,
    pub(super) nulls: u64,
    pub(super) rows: u64,
    pub(super) bloom: Option<Sbbf>,
}

impl ChunkPages {
    pub(super) fn new(descr: &ColumnDescPtr, settings: &Settings) -> Self {
        let mut column_index = ColumnIndexBuilder::new(descr.physical_type());
        if settings.statistics != EnabledStatistics::Page {
            column_index.to_invalid();
        }
        ChunkPages {
            pages: Vec::new(),
            dictionary_pages: 0,
            plain_pages: 0,
            column_index,
            ascending: true,
            descending: true,
            nulls: 0,
            rows: 0,
            bloom: None,
        }
    }

    /// The chunk's bloom filter, created on first use: for `distinct` values when
    /// the caller knows how many, else at the configured size (folded at close).
    pub(super) fn bloom(
        &mut self,
        settings: &Settings,
        distinct: Option<usize>,
    ) -> std::result::Result<Option<&mut Sbbf>, parquet::errors::ParquetError> {
        let Some((ndv, fpp)) = settings.bloom else {
            return Ok(None);
        };
        if self.bloom.is_none() {
            // Sized for the values the chunk holds when they are known (its
            // dictionary), not built at the configured size and folded down.
            let ndv = distinct.map_or(ndv, |d| ndv.min(d.max(1) as u64));
            self.bloom = Some(Sbbf::new_with_ndv_fpp(ndv, fpp)?);
        }
        Ok(self.bloom.as_mut())
    }

    /// Record a finished page in the column index (`bounds`: its minimum and
    /// maximum as the index stores them, `None` for an all-null page) and in the
    /// chunk's counts. `not_ascending` / `not_descending`: whether its bounds
    /// break the order of the previous non-null page's.
    pub(super) fn index_page(
        &mut self,
        max_def: i16,
        (rows, nulls, nan_count): (usize, u64, Option<i64>),
        bounds: Option<(Vec<u8>, Vec<u8>)>,
        (not_ascending, not_descending): (bool, bool),
    ) {
        self.ascending &= !not_ascending;
        self.descending &= !not_descending;
        if self.column_index.valid() {
            let null_page = nulls == rows as u64;
            let (min, max) = bounds.unwrap_or_default();
            self.column_index
                .append(null_page, min, max, nulls as i64, nan_count);
            self.column_index
                .append_histograms(&None, &histogram(max_def, nulls, rows as u64));
        }
        self.nulls += nulls;
        self.rows += rows as u64;
    }
}

/// One leaf column of one output file: its settings and the file's codec.
pub(super) struct ColumnOut {
    pub(super) file: PathBuf,
    pub(super) descr: ColumnDescPtr,
    pub(super) settings: Settings,
    compressor: Option<Box<dyn Codec>>,
}

impl ColumnOut {
    /// The column of leaf `descr` of output `file` under `props`.
    pub(super) fn new(file: &Path, descr: ColumnDescPtr, props: &WriterProperties) -> Result<Self> {
        let path = descr.path().clone();
        let statistics = props.statistics_enabled(&path);
        // All pages but a fallback's are dictionary encoded: parquet-rs writes the
        // filter of such chunks only if `bloom_filter_for_dictionary_encoded_chunks`
        // (the default) says so.
        let bloom = props
            .bloom_filter_properties(&path)
            .filter(|_| props.bloom_filter_for_dictionary_encoded_chunks())
            .map(|b| (b.ndv(), b.fpp()));
        let settings = Settings {
            codec: props.compression(&path),
            page_rows: props.data_page_row_count_limit().max(1),
            write_batch: props.write_batch_size().max(1),
            page_bytes: props.data_page_size_limit().max(1),
            dictionary_limit: props.dictionary_page_size_limit(),
            statistics,
            header_statistics: props.write_page_header_statistics(&path),
            offset_index: !props.offset_index_disabled() || statistics == EnabledStatistics::Page,
            bloom,
            statistics_limit: props.statistics_truncate_length(),
            index_limit: props.column_index_truncate_length(),
            utf8: descr.logical_type_ref() == Some(&LogicalType::String)
                || descr.converted_type() == ConvertedType::UTF8,
        };
        let options = CodecOptionsBuilder::default().build();
        let compressor =
            create_codec(settings.codec, &options).map_err(|e| Error::parquet(file, e))?;
        Ok(ColumnOut {
            file: file.to_path_buf(),
            descr,
            settings,
            compressor,
        })
    }

    pub(super) fn err(&self, reason: impl Into<String>) -> Error {
        Error::InvalidData(format!(
            "{}: column {}: {}",
            self.file.display(),
            self.descr.path().string(),
            reason.into()
        ))
    }

    pub(super) fn parquet_err(&self, e: parquet::errors::ParquetError) -> Error {
        Error::parquet(&self.file, e)
    }

    pub(super) fn nullable(&self) -> bool {
        self.descr.max_def_level() > 0
    }

    /// Whether page header statistics are written.
    pub(super) fn header_statistics(&self) -> bool {
        self.settings.header_statistics && self.settings.statistics == EnabledStatistics::Page
    }

    fn byte_array(&self) -> bool {
        self.descr.physical_type() == parquet::basic::Type::BYTE_ARRAY
    }

    /// Definition levels, v1-framed, at the start of a page body (nothing for a
    /// required column).
    pub(super) fn levels(&self, levels: &[i16], body: &mut Vec<u8>) {
        let max_def = self.descr.max_def_level();
        if max_def > 0 {
            let mut encoder = LevelEncoder::v1_streaming(max_def);
            encoder.put_with_observer(levels, |_, _| {});
            body.extend_from_slice(&encoder.consume());
        }
    }

    pub(super) fn compress(&mut self, buf: &[u8]) -> Result<Bytes> {
        let Some(codec) = self.compressor.as_mut() else {
            return Ok(Bytes::copy_from_slice(buf));
        };
        let mut out = Vec::with_capacity(buf.len() / 2 + 64);
        codec
            .compress(buf, &mut out)
            .map_err(|e| Error::parquet(&self.file, e))?;
        Ok(Bytes::from(out))
    }

    /// Compress a finished data page and queue it in `pages`.
    pub(super) fn data_page(&mut self, pages: &mut ChunkPages, page: PageBody<'_>) -> Result<()> {
        let data = self.compress(page.body)?;
        let data_page = Page::DataPage {
            buf: data,
            num_values: u32::try_from(page.rows).map_err(|_| self.err("page too large"))?,
            encoding: if page.plain {
                Encoding::PLAIN
            } else {
                Encoding::RLE_DICTIONARY
            },
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: page.statistics,
        };
        if page.plain {
            pages.plain_pages += 1;
        } else {
            pages.dictionary_pages += 1;
        }
        pages.pages.push(PendingPage {
            page: CompressedPage::new(data_page, page.body.len()),
            rows: page.rows,
            value_bytes: page.value_bytes,
        });
        Ok(())
    }

    /// Finish a chunk: its serialized pages (dictionary page first, offsets
    /// relative to the start of the returned bytes) and its close result, for
    /// `SerializedRowGroupWriter::append_column`. `dictionary`: the PLAIN
    /// dictionary page body and its entry count; `statistics`: the chunk's.
    pub(super) fn close(
        &mut self,
        mut pages: ChunkPages,
        dictionary: (&[u8], usize),
        statistics: Option<Statistics>,
    ) -> Result<(Bytes, ColumnCloseResult)> {
        let mut sink = TrackedWrite::new(Vec::new());
        let mut page_writer = SerializedPageWriter::new(&mut sink);
        let mut totals = PageTotals::default();
        if !pages.pages.is_empty() {
            self.write_dictionary_page(dictionary, &mut page_writer, &mut totals)?;
        }
        let offsets = self.write_data_pages(&mut pages, &mut page_writer, &mut totals)?;
        page_writer.close().map_err(|e| self.parquet_err(e))?;
        let bytes = Bytes::from(sink.into_inner().map_err(|e| self.parquet_err(e))?);
        let metadata = self.chunk_metadata(&pages, totals, statistics)?;
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: pages.rows,
            metadata,
            bloom_filter: self.finished_bloom(&mut pages),
            column_index: self.finished_column_index(&mut pages)?,
            offset_index: self.settings.offset_index.then(|| offsets.build()),
        };
        Ok((bytes, close))
    }

    /// Write the chunk's dictionary as a PLAIN dictionary page.
    fn write_dictionary_page(
        &mut self,
        (plain, entries): (&[u8], usize),
        page_writer: &mut SerializedPageWriter<'_, Vec<u8>>,
        totals: &mut PageTotals,
    ) -> Result<()> {
        let buf = self.compress(plain)?;
        let page = Page::DictionaryPage {
            buf,
            num_values: u32::try_from(entries).map_err(|_| self.err("dictionary too large"))?,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let spec = page_writer
            .write_page(CompressedPage::new(page, plain.len()))
            .map_err(|e| self.parquet_err(e))?;
        totals.dictionary_offset = Some(spec.offset as i64);
        totals.uncompressed += spec.uncompressed_size as i64;
        totals.compressed += spec.compressed_size as i64;
        totals.encoding_stats.push(PageEncodingStats {
            page_type: PageType::DICTIONARY_PAGE,
            encoding: Encoding::PLAIN,
            count: 1,
        });
        Ok(())
    }

    /// Write the chunk's data pages; their offset index.
    fn write_data_pages(
        &self,
        pages: &mut ChunkPages,
        page_writer: &mut SerializedPageWriter<'_, Vec<u8>>,
        totals: &mut PageTotals,
    ) -> Result<OffsetIndexBuilder> {
        let mut offsets = OffsetIndexBuilder::new();
        let byte_array = self.byte_array();
        for pending in pages.pages.drain(..) {
            let spec = page_writer
                .write_page(pending.page)
                .map_err(|e| self.parquet_err(e))?;
            totals.data_offset.get_or_insert(spec.offset as i64);
            totals.uncompressed += spec.uncompressed_size as i64;
            totals.compressed += spec.compressed_size as i64;
            totals.value_bytes += pending.value_bytes;
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            offsets.append_row_count(pending.rows as i64);
            offsets
                .append_unencoded_byte_array_data_bytes(byte_array.then_some(pending.value_bytes));
        }
        for (count, encoding) in [
            (pages.dictionary_pages, Encoding::RLE_DICTIONARY),
            (pages.plain_pages, Encoding::PLAIN),
        ] {
            if count > 0 {
                totals.encoding_stats.push(PageEncodingStats {
                    page_type: PageType::DATA_PAGE,
                    encoding,
                    count,
                });
            }
        }
        Ok(offsets)
    }

    /// The column chunk metadata: sizes, offsets, encodings and statistics.
    fn chunk_metadata(
        &self,
        pages: &ChunkPages,
        totals: PageTotals,
        statistics: Option<Statistics>,
    ) -> Result<ColumnChunkMetaData> {
        let encodings = [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY];
        let mut builder = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.settings.codec)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(totals.encoding_stats)
            .set_total_compressed_size(totals.compressed)
            .set_total_uncompressed_size(totals.uncompressed)
            .set_num_values(pages.rows as i64)
            .set_data_page_offset(totals.data_offset.unwrap_or(0))
            .set_dictionary_page_offset(totals.dictionary_offset);
        if let Some(statistics) = statistics {
            builder = builder
                .set_statistics(statistics)
                .set_unencoded_byte_array_data_bytes(
                    self.byte_array().then_some(totals.value_bytes),
                )
                .set_definition_level_histogram(histogram(
                    self.descr.max_def_level(),
                    pages.nulls,
                    pages.rows,
                ));
        }
        builder.build().map_err(|e| self.parquet_err(e))
    }

    /// The chunk's bloom filter, shrunk to the target false-positive rate as
    /// parquet-rs does.
    fn finished_bloom(&self, pages: &mut ChunkPages) -> Option<Sbbf> {
        let (mut filter, (_, fpp)) = pages.bloom.take().zip(self.settings.bloom)?;
        filter.fold_to_target_fpp(fpp);
        Some(filter)
    }

    /// The chunk's column index with its boundary order (`None` when disabled).
    fn finished_column_index(&self, pages: &mut ChunkPages) -> Result<Option<ColumnIndexMetaData>> {
        let index = &mut pages.column_index;
        index.set_boundary_order(match (pages.ascending, pages.descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (false, true) => BoundaryOrder::DESCENDING,
            (false, false) => BoundaryOrder::UNORDERED,
        });
        if !index.valid() {
            return Ok(None);
        }
        let index = std::mem::replace(index, ColumnIndexBuilder::new(self.descr.physical_type()));
        index.build().map(Some).map_err(|e| self.parquet_err(e))
    }
}

/// Sizes, offsets and page counts of a chunk's written pages.
#[derive(Default)]
struct PageTotals {
    uncompressed: i64,
    compressed: i64,
    /// Sum of the data pages' unencoded byte-array bytes.
    value_bytes: i64,
    dictionary_offset: Option<i64>,
    data_offset: Option<i64>,
    encoding_stats: Vec<PageEncodingStats>,
}
