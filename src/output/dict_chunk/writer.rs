//! The transcoder of one string column of one output file: rows in (run by run),
//! pages out, chunk by chunk.

use super::chunk::{
    histogram, index_bit_width, Chunk, PageState, PendingPage, Settings, BAD_KEY, NULL_VALUE,
};
use super::source::{is_bytes, Keys, Source};
use crate::output::truncate::{lower_bound, upper_bound};
use crate::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, ConvertedType, Encoding, EncodingMask, LogicalType, PageType};
use parquet::bloom_filter::Sbbf;
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::compression::{create_codec, Codec, CodecOptionsBuilder};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::encodings::encoding::get_encoder;
use parquet::encodings::levels::LevelEncoder;
use parquet::encodings::rle::RleEncoder;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Runs shorter than this go row by row (the slice remap's setup costs more).
const SHORT_RUN: usize = 8;

/// Maximal runs of consecutive rows from one source in gather `indices`.
fn runs(indices: &[(usize, usize)]) -> impl Iterator<Item = (usize, Range<usize>)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let &(s, first) = indices.get(i)?;
        let mut end = first + 1;
        i += 1;
        while indices.get(i) == Some(&(s, end)) {
            end += 1;
            i += 1;
        }
        Some((s, first..end))
    })
}

/// Whether a column of `data_type` at leaf `descr` can be written by
/// [`DictChunkWriter`] under `props`: flat byte values (plain or in an Arrow
/// dictionary), dictionary encoding on, data page v1.
pub(crate) fn eligible(
    data_type: &DataType,
    descr: &ColumnDescPtr,
    props: &WriterProperties,
) -> bool {
    let byte_values = match data_type {
        DataType::Dictionary(_, values) => is_bytes(values),
        other => is_bytes(other),
    };
    byte_values
        && descr.physical_type() == parquet::basic::Type::BYTE_ARRAY
        && descr.max_rep_level() == 0
        && descr.max_def_level() <= 1
        && props.dictionary_enabled(descr.path())
        && props.writer_version() == WriterVersion::PARQUET_1_0
}

/// Writes one string column, chunk after chunk, for one output file.
pub(crate) struct DictChunkWriter {
    file: PathBuf,
    descr: ColumnDescPtr,
    settings: Settings,
    compressor: Option<Box<dyn Codec>>,
    chunk: Chunk,
}

impl DictChunkWriter {
    /// A writer for leaf `descr` of output `file` under `props`.
    pub fn new(file: &Path, descr: ColumnDescPtr, props: &WriterProperties) -> Result<Self> {
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
            page_bytes: props.data_page_size_limit().max(1),
            write_batch: props.write_batch_size().max(1),
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
        let chunk = Chunk::new(&descr, &settings);
        Ok(DictChunkWriter {
            file: file.to_path_buf(),
            descr,
            settings,
            compressor,
            chunk,
        })
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::InvalidData(format!(
            "{}: column {}: {}",
            self.file.display(),
            self.descr.path().string(),
            reason.into()
        ))
    }

    fn parquet_err(&self, e: parquet::errors::ParquetError) -> Error {
        Error::parquet(&self.file, e)
    }

    /// A source array of a write.
    fn source<'a>(&mut self, array: &'a ArrayRef) -> Result<Source<'a>> {
        if is_bytes(array.data_type()) {
            return Ok(Source::Plain(array.as_ref()));
        }
        let Some(dict) = array.as_any_dictionary_opt() else {
            return Err(self.err(format!("expected string values, got {}", array.data_type())));
        };
        let Some(keys) = Keys::new(dict.keys()) else {
            return Err(self.err(format!(
                "unsupported dictionary key type {}",
                dict.keys().data_type()
            )));
        };
        let values = dict.values().clone();
        let slot = self.chunk.remap_slot(&values);
        Ok(Source::Dict {
            keys,
            nulls: dict.keys().nulls().cloned(),
            values,
            slot,
        })
    }

    /// Append the rows of `array` (byte values, plain or in a dictionary).
    pub fn write(&mut self, array: &ArrayRef) -> Result<()> {
        let source = [self.source(array)?];
        let result = self.write_runs(&source, std::iter::once((0, 0..array.len())));
        self.chunk.trim_remaps();
        result
    }

    /// Append rows picked from several arrays: `indices` holds (position in
    /// `columns`, row) per output row.
    pub fn write_gather(
        &mut self,
        columns: &[&ArrayRef],
        indices: &[(usize, usize)],
    ) -> Result<()> {
        let sources = columns
            .iter()
            .map(|c| self.source(c))
            .collect::<Result<Vec<_>>>()?;
        let result = self.write_runs(&sources, runs(indices));
        self.chunk.trim_remaps();
        result
    }

    /// Append runs of rows, each (position in `sources`, consecutive rows).
    fn write_runs(
        &mut self,
        sources: &[Source<'_>],
        runs: impl Iterator<Item = (usize, Range<usize>)>,
    ) -> Result<()> {
        for (s, rows) in runs {
            let Some(source) = sources.get(s) else {
                return Err(self.err(format!("row from source {s} of {}", sources.len())));
            };
            self.write_run(source, rows)?;
        }
        Ok(())
    }

    /// Append consecutive rows of one source in segments of at most the
    /// properties' write batch size, the page limits and the dictionary limit
    /// checked after each segment (as parquet-rs checks them after each
    /// mini-batch): a dictionary that reached its limit closes the page, and the
    /// chunk continues with PLAIN pages. A segment of dictionary keys without
    /// nulls is remapped in one loop over the key slice; short runs (interleaved
    /// inputs make runs of one row) and others go row by row.
    fn write_run(&mut self, source: &Source<'_>, rows: Range<usize>) -> Result<()> {
        let mut start = rows.start;
        while start < rows.end {
            let room = self.settings.page_rows.saturating_sub(self.chunk.page.rows);
            let end = rows
                .end
                .min(start + room.clamp(1, self.settings.write_batch));
            if self.chunk.fallback || end - start < SHORT_RUN || !source.dense(start..end) {
                for r in start..end {
                    self.push_row(source, r)?;
                }
            } else if let Err(r) = self.chunk.push_dense(source, start..end, self.nullable()) {
                return Err(self.err(format!("row {r}: dictionary key out of range")));
            }
            self.chunk.page.rows += end - start;
            if self.chunk.page.rows >= self.settings.page_rows
                || self.chunk.page_full(self.settings.page_bytes)
                || (!self.chunk.fallback
                    && self.chunk.dictionary_bytes >= self.settings.dictionary_limit)
            {
                self.flush_page()?;
            }
            start = end;
        }
        Ok(())
    }

    fn nullable(&self) -> bool {
        self.descr.max_def_level() > 0
    }

    /// Append row `r` of `source` (the page's row count is the caller's).
    fn push_row(&mut self, source: &Source<'_>, r: usize) -> Result<()> {
        let nullable = self.nullable();
        let chunk = &mut self.chunk;
        let null = if chunk.fallback {
            match source.value(r) {
                Some(v) => {
                    chunk.push_plain(v, nullable);
                    false
                }
                None => true,
            }
        } else {
            let code = chunk.code(source, r);
            if code == BAD_KEY {
                return Err(self.err(format!("row {r}: dictionary key out of range")));
            }
            if code != NULL_VALUE {
                chunk.push_code(code, nullable);
            }
            code == NULL_VALUE
        };
        if null {
            if !nullable {
                return Err(self.err("null value in a required column"));
            }
            self.chunk.page.levels.push(0);
            self.chunk.page.nulls += 1;
        }
        Ok(())
    }

    fn compress(&mut self, buf: Vec<u8>) -> Result<Bytes> {
        let Some(codec) = self.compressor.as_mut() else {
            return Ok(Bytes::from(buf));
        };
        let mut out = Vec::with_capacity(buf.len() / 2 + 64);
        codec
            .compress(&buf, &mut out)
            .map_err(|e| Error::parquet(&self.file, e))?;
        Ok(Bytes::from(out))
    }

    /// (min, max) values among the dictionary indices `used`, by unsigned byte order.
    fn bounds(dictionary: &[Bytes], used: &[u32]) -> Option<(Bytes, Bytes)> {
        let (&first, rest) = used.split_first()?;
        let value = |i: u32| &dictionary[i as usize];
        let (mut min, mut max) = (first, first);
        for &i in rest {
            if value(i) < value(min) {
                min = i;
            }
            if value(i) > value(max) {
                max = i;
            }
        }
        Some((value(min).clone(), value(max).clone()))
    }

    /// Close the data page in progress (if it has rows); switch to PLAIN pages
    /// once the dictionary is over its limit.
    fn flush_page(&mut self) -> Result<()> {
        if self.chunk.page.rows == 0 {
            return Ok(());
        }
        let page = std::mem::take(&mut self.chunk.page);
        let max_def = self.descr.max_def_level();
        let mut buf = Vec::new();
        if max_def > 0 {
            let mut levels = LevelEncoder::v1_streaming(max_def);
            levels.put_with_observer(&page.levels, |_, _| {});
            buf = levels.consume();
        }
        let plain = self.chunk.fallback;
        let bounds = if plain {
            let mut encoder = get_encoder::<ByteArrayType>(Encoding::PLAIN, &self.descr)
                .map_err(|e| self.parquet_err(e))?;
            encoder.put(&page.plain).map_err(|e| self.parquet_err(e))?;
            if let Some(bloom) = self
                .chunk
                .bloom(&self.settings, None)
                .map_err(|e| Error::parquet(&self.file, e))?
            {
                for v in &page.plain {
                    bloom.insert(v);
                }
            }
            let values = encoder.flush_buffer().map_err(|e| self.parquet_err(e))?;
            buf.extend_from_slice(&values);
            page.plain_bounds.clone()
        } else {
            let chunk = &mut self.chunk;
            chunk.epoch = chunk.epoch.wrapping_add(1);
            if chunk.epoch == u32::MAX {
                chunk.epoch = 0;
                chunk.seen_in_page.iter_mut().for_each(|s| *s = u32::MAX);
            }
            let bit_width = index_bit_width(chunk.dictionary.len());
            buf.push(bit_width);
            buf.reserve(RleEncoder::max_buffer_size(bit_width, page.indices.len()));
            let mut rle = RleEncoder::new_from_buf(bit_width, buf);
            for &i in &page.indices {
                rle.put(u64::from(i));
            }
            buf = rle.consume();
            Self::bounds(&chunk.dictionary, &page.used)
        };
        let uncompressed = buf.len();
        self.record_page_bounds(&page, bounds.as_ref());
        let statistics = bounds
            .as_ref()
            .filter(|_| self.settings.header_statistics)
            .filter(|_| self.settings.statistics == EnabledStatistics::Page)
            .map(|(min, max)| self.settings.statistics(Some((min, max)), page.nulls));
        let data = self.compress(buf)?;
        let data_page = Page::DataPage {
            buf: data,
            num_values: u32::try_from(page.rows).map_err(|_| self.err("page too large"))?,
            encoding: if plain {
                Encoding::PLAIN
            } else {
                Encoding::RLE_DICTIONARY
            },
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics,
        };
        let chunk = &mut self.chunk;
        if plain {
            chunk.plain_pages += 1;
        } else {
            chunk.dictionary_pages += 1;
            chunk.fallback = chunk.dictionary_bytes >= self.settings.dictionary_limit;
        }
        chunk.pages.push(PendingPage {
            page: CompressedPage::new(data_page, uncompressed),
            rows: page.rows,
            value_bytes: page.value_bytes,
        });
        Ok(())
    }

    /// Column index entry, boundary order and chunk statistics of a finished page
    /// (as parquet-rs' column writer keeps them).
    fn record_page_bounds(&mut self, page: &PageState, bounds: Option<&(Bytes, Bytes)>) {
        let max_def = self.descr.max_def_level();
        let chunk = &mut self.chunk;
        if chunk.column_index.valid() {
            let null_page = page.nulls == page.rows as u64;
            let (min, max) = match bounds {
                Some((min, max)) => {
                    if let Some((last_min, last_max)) = &chunk.last_page_bounds {
                        if last_min > min || last_max > max {
                            chunk.ascending = false;
                        }
                        if min > last_min || max > last_max {
                            chunk.descending = false;
                        }
                    }
                    chunk.last_page_bounds = Some((min.clone(), max.clone()));
                    let limit = self.settings.index_limit;
                    (
                        lower_bound(min, limit, self.settings.utf8).0,
                        upper_bound(max, limit, self.settings.utf8).0,
                    )
                }
                None => (Vec::new(), Vec::new()),
            };
            chunk
                .column_index
                .append(null_page, min, max, page.nulls as i64, None);
            chunk
                .column_index
                .append_histograms(&None, &histogram(max_def, page.nulls, page.rows as u64));
        }
        if let Some((min, max)) = bounds {
            if chunk.min.as_ref().is_none_or(|m| min < m) {
                chunk.min = Some(min.clone());
            }
            if chunk.max.as_ref().is_none_or(|m| max > m) {
                chunk.max = Some(max.clone());
            }
        }
        chunk.nulls += page.nulls;
        chunk.rows += page.rows as u64;
    }

    /// Finish the chunk in progress: its serialized pages (dictionary page first,
    /// offsets relative to the start of the returned bytes) and its close result,
    /// for `SerializedRowGroupWriter::append_column`. The writer is ready for the
    /// next chunk afterwards. Stages: flush the last data page, add the
    /// dictionary to the bloom filter, write the dictionary page, write the data
    /// pages, build the chunk metadata and indexes.
    pub fn close_chunk(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page()?;
        self.bloom_dictionary()?;
        let fresh = Chunk::new(&self.descr, &self.settings);
        let mut chunk = std::mem::replace(&mut self.chunk, fresh);
        let mut sink = TrackedWrite::new(Vec::new());
        let mut page_writer = SerializedPageWriter::new(&mut sink);
        let mut totals = PageTotals::default();
        if !chunk.pages.is_empty() {
            self.write_dictionary_page(&chunk, &mut page_writer, &mut totals)?;
        }
        let offsets = self.write_data_pages(&mut chunk, &mut page_writer, &mut totals)?;
        page_writer.close().map_err(|e| self.parquet_err(e))?;
        let bytes = Bytes::from(sink.into_inner().map_err(|e| self.parquet_err(e))?);
        let metadata = self.chunk_metadata(&chunk, totals)?;
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: chunk.rows,
            metadata,
            bloom_filter: self.finished_bloom(&mut chunk),
            column_index: self.finished_column_index(&mut chunk)?,
            offset_index: self.settings.offset_index.then(|| offsets.build()),
        };
        Ok((bytes, close))
    }

    /// Add the dictionary's values to the bloom filter (PLAIN values are in already).
    fn bloom_dictionary(&mut self) -> Result<()> {
        let settings = &self.settings;
        let chunk = &mut self.chunk;
        if settings.bloom.is_none() || chunk.dictionary.is_empty() {
            return Ok(());
        }
        let dictionary = std::mem::take(&mut chunk.dictionary);
        if let Some(bloom) = chunk
            .bloom(settings, Some(dictionary.len()))
            .map_err(|e| Error::parquet(&self.file, e))?
        {
            for v in &dictionary {
                bloom.insert(v.as_ref());
            }
        }
        chunk.dictionary = dictionary;
        Ok(())
    }

    /// Write the chunk's dictionary as a PLAIN dictionary page.
    fn write_dictionary_page(
        &mut self,
        chunk: &Chunk,
        page_writer: &mut SerializedPageWriter<'_, Vec<u8>>,
        totals: &mut PageTotals,
    ) -> Result<()> {
        let values: Vec<ByteArray> = chunk
            .dictionary
            .iter()
            .cloned()
            .map(ByteArray::from)
            .collect();
        let mut encoder = get_encoder::<ByteArrayType>(Encoding::PLAIN, &self.descr)
            .map_err(|e| self.parquet_err(e))?;
        encoder.put(&values).map_err(|e| self.parquet_err(e))?;
        let plain = encoder.flush_buffer().map_err(|e| self.parquet_err(e))?;
        let uncompressed = plain.len();
        let buf = self.compress(plain.to_vec())?;
        let page = Page::DictionaryPage {
            buf,
            num_values: u32::try_from(values.len())
                .map_err(|_| self.err("dictionary too large"))?,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let spec = page_writer
            .write_page(CompressedPage::new(page, uncompressed))
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
        chunk: &mut Chunk,
        page_writer: &mut SerializedPageWriter<'_, Vec<u8>>,
        totals: &mut PageTotals,
    ) -> Result<OffsetIndexBuilder> {
        let mut offsets = OffsetIndexBuilder::new();
        for pending in chunk.pages.drain(..) {
            let spec = page_writer
                .write_page(pending.page)
                .map_err(|e| self.parquet_err(e))?;
            totals.data_offset.get_or_insert(spec.offset as i64);
            totals.uncompressed += spec.uncompressed_size as i64;
            totals.compressed += spec.compressed_size as i64;
            totals.value_bytes += pending.value_bytes;
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            offsets.append_row_count(pending.rows as i64);
            offsets.append_unencoded_byte_array_data_bytes(Some(pending.value_bytes));
        }
        for (count, encoding) in [
            (chunk.dictionary_pages, Encoding::RLE_DICTIONARY),
            (chunk.plain_pages, Encoding::PLAIN),
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
    fn chunk_metadata(&self, chunk: &Chunk, totals: PageTotals) -> Result<ColumnChunkMetaData> {
        let encodings = [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY];
        let mut builder = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.settings.codec)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(totals.encoding_stats)
            .set_total_compressed_size(totals.compressed)
            .set_total_uncompressed_size(totals.uncompressed)
            .set_num_values(chunk.rows as i64)
            .set_data_page_offset(totals.data_offset.unwrap_or(0))
            .set_dictionary_page_offset(totals.dictionary_offset);
        if self.settings.statistics != EnabledStatistics::None {
            let bounds = chunk.min.as_ref().zip(chunk.max.as_ref());
            let statistics = match self.settings.statistics(bounds, chunk.nulls) {
                Statistics::ByteArray(s) => Statistics::ByteArray(
                    s.with_backwards_compatible_min_max(self.descr.sort_order().is_signed()),
                ),
                other => other,
            };
            builder = builder
                .set_statistics(statistics)
                .set_unencoded_byte_array_data_bytes(Some(totals.value_bytes))
                .set_definition_level_histogram(histogram(
                    self.descr.max_def_level(),
                    chunk.nulls,
                    chunk.rows,
                ));
        }
        builder.build().map_err(|e| self.parquet_err(e))
    }

    /// The chunk's bloom filter, shrunk to the target false-positive rate as
    /// parquet-rs does.
    fn finished_bloom(&self, chunk: &mut Chunk) -> Option<Sbbf> {
        let (mut filter, (_, fpp)) = chunk.bloom.take().zip(self.settings.bloom)?;
        filter.fold_to_target_fpp(fpp);
        Some(filter)
    }

    /// The chunk's column index with its boundary order (`None` when disabled).
    fn finished_column_index(&self, chunk: &mut Chunk) -> Result<Option<ColumnIndexMetaData>> {
        let index = &mut chunk.column_index;
        index.set_boundary_order(match (chunk.ascending, chunk.descending) {
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

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_are_maximal_stretches_of_consecutive_rows_of_one_source() {
        let indices = [
            (0, 4),
            (0, 5),
            (0, 6),
            (1, 0),
            (1, 1),
            (0, 7),
            (0, 9),
            (2, 3),
        ];
        let got: Vec<_> = runs(&indices).collect();
        assert_eq!(
            got,
            vec![(0, 4..7), (1, 0..2), (0, 7..8), (0, 9..10), (2, 3..4)]
        );
        assert_eq!(runs(&[]).count(), 0);
    }
}
