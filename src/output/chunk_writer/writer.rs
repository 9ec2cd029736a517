//! The transcoder of one string column of one output file: rows in (run by run),
//! pages out, chunk by chunk.

use super::chunk::{index_bit_width, Chunk, PageState, BAD_KEY, NULL_VALUE, UNSEEN};
use super::pages::{ColumnOut, PageBody};
use super::source::{is_bytes, Keys, Source};
use crate::output::rows::Gathered;
use crate::output::truncate::{lower_bound, upper_bound};
use crate::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::basic::Encoding;
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::encodings::encoding::get_encoder;
use parquet::encodings::rle::RleEncoder;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnDescPtr;
use std::ops::Range;
use std::path::Path;

/// Runs shorter than this go row by row (the slice remap's setup costs more).
pub(super) const SHORT_RUN: usize = 8;

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
    out: ColumnOut,
    chunk: Chunk,
    /// Per source of an interleaved gather: its first row and the codes of
    /// its rows from there (reused across writes).
    precoded: Vec<(usize, Vec<u32>)>,
    /// Codes of a run's segment (reused across writes).
    codes: Vec<u32>,
    /// A data page's encoded body (reused across pages).
    body: Vec<u8>,
}

impl DictChunkWriter {
    /// A writer for leaf `descr` of output `file` under `props`.
    pub fn new(file: &Path, descr: ColumnDescPtr, props: &WriterProperties) -> Result<Self> {
        let out = ColumnOut::new(file, descr, props)?;
        let chunk = Chunk::new(&out.descr, &out.settings);
        Ok(DictChunkWriter {
            out,
            chunk,
            precoded: Vec::new(),
            codes: Vec::new(),
            body: Vec::new(),
        })
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        self.out.err(reason)
    }

    fn parquet_err(&self, e: parquet::errors::ParquetError) -> Error {
        self.out.parquet_err(e)
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

    /// Append the rows `picks` picks from `columns` (column `i` of its
    /// source `i`).
    pub fn write_gather(&mut self, columns: &[&ArrayRef], picks: &Gathered) -> Result<()> {
        let (indices, runs) = (picks.indices.as_slice(), picks.runs.as_slice());
        let sources = columns
            .iter()
            .map(|c| self.source(c))
            .collect::<Result<Vec<_>>>()?;
        let result = if indices.len() < SHORT_RUN * runs.len() {
            self.write_interleaved(&sources, indices, &picks.spans)
        } else {
            self.write_runs(&sources, runs.iter().cloned())
        };
        self.chunk.trim_remaps();
        result
    }

    /// Rows of interleaved inputs (runs shorter than [`SHORT_RUN`] rows on
    /// average), row by row in segments (see [`segment_end`](Self::segment_end)):
    /// no per-run set-up, and the limits checked once per segment. While the
    /// chunk has a dictionary and every source is one, the rows' codes are
    /// looked up per source first, in one loop over its keys.
    fn write_interleaved(
        &mut self,
        sources: &[Source<'_>],
        indices: &[(usize, usize)],
        spans: &[Range<usize>],
    ) -> Result<()> {
        let precoded = !self.chunk.fallback && self.precode(sources, spans);
        let mut start = 0;
        while start < indices.len() {
            let end = self.segment_end(start, indices.len());
            // A new dictionary value may widen the indices: the segment ends
            // there, so that the next one is sized at the new width.
            let entries = self.chunk.dictionary.len();
            let mut at = start;
            while at < end && self.chunk.dictionary.len() == entries {
                let (s, r) = indices[at];
                let Some(source) = sources.get(s) else {
                    return Err(self.err(format!("row from source {s} of {}", sources.len())));
                };
                if precoded && !self.chunk.fallback {
                    self.push_precoded(source, s, r)?;
                } else {
                    self.push_row(source, r)?;
                }
                at += 1;
            }
            self.segment_done(at - start)?;
            start = at;
        }
        Ok(())
    }

    /// Fill `precoded` for a gather from `sources`, each over its `spans`
    /// (rows from its first to its last gathered row); `false` if a source is
    /// not a dictionary.
    fn precode(&mut self, sources: &[Source<'_>], spans: &[Range<usize>]) -> bool {
        if spans.len() != sources.len() {
            return false;
        }
        self.precoded.resize_with(sources.len(), Default::default);
        for ((source, span), (at, codes)) in sources.iter().zip(spans).zip(&mut self.precoded) {
            *at = span.start;
            if !self.chunk.precode(source, span.clone(), codes) {
                return false;
            }
        }
        true
    }

    /// Append row `r` of source `s` by its precoded code (a value new to the
    /// dictionary is added here, in row order; bad keys go through
    /// [`push_row`](Self::push_row), which names them).
    #[inline]
    fn push_precoded(&mut self, source: &Source<'_>, s: usize, r: usize) -> Result<()> {
        let mut code = self
            .precoded
            .get(s)
            .and_then(|(first, codes)| codes.get(r.checked_sub(*first)?))
            .copied()
            .unwrap_or(BAD_KEY);
        if code == UNSEEN {
            code = self.chunk.code(source, r);
        }
        let nullable = self.out.nullable();
        if code < BAD_KEY {
            self.chunk.push_code(code, nullable);
        } else if code == NULL_VALUE && nullable {
            self.chunk.push_nulls(1);
        } else {
            self.push_row(source, r)?;
        }
        Ok(())
    }

    /// End of the segment of rows `start..end` to append before the next check
    /// of the limits: at most the properties' write batch size, and no further
    /// than the page's row limit or (at the current bit width) its byte limit.
    #[inline]
    fn segment_end(&mut self, start: usize, end: usize) -> usize {
        let settings = &self.out.settings;
        let room = settings
            .page_rows
            .saturating_sub(self.chunk.page.rows)
            .min(self.chunk.rows_until_full(settings.page_bytes));
        end.min(start + room.clamp(1, settings.write_batch))
    }

    /// Count a segment of `rows` appended rows and check the limits (as
    /// parquet-rs checks them after each mini-batch): the page closes at its
    /// row or byte limit, or when the dictionary reached its limit.
    #[inline]
    fn segment_done(&mut self, rows: usize) -> Result<()> {
        self.chunk.page.rows += rows;
        let settings = &self.out.settings;
        if self.chunk.page.rows >= settings.page_rows
            || self.chunk.page_full(settings.page_bytes)
            || (!self.chunk.fallback && self.chunk.dictionary_bytes >= settings.dictionary_limit)
        {
            self.flush_page()?;
        }
        Ok(())
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
            let end = self.segment_end(start, rows.end);
            let precoded = !self.chunk.fallback
                && end - start >= SHORT_RUN
                && self.chunk.precode(source, start..end, &mut self.codes);
            if precoded {
                self.push_codes(source, start)?;
            } else if !self.chunk.fallback && matches!(source, Source::Plain(_)) {
                self.push_plain(source, start..end)?;
            } else {
                for r in start..end {
                    self.push_row(source, r)?;
                }
            }
            self.segment_done(end - start)?;
            start = end;
        }
        Ok(())
    }

    /// Append plain byte rows `rows` of `source` to a dictionary page, stretch
    /// by stretch of equal values (one dictionary lookup per stretch).
    fn push_plain(&mut self, source: &Source<'_>, rows: Range<usize>) -> Result<()> {
        let nullable = self.nullable();
        let mut r = rows.start;
        while r < rows.end {
            let value = source.value(r);
            let n = 1
                + (r + 1..rows.end)
                    .take_while(|&q| source.value(q) == value)
                    .count();
            match value {
                Some(_) => {
                    let code = self.chunk.code(source, r);
                    self.chunk.push_repeated(code, n, nullable);
                }
                None if nullable => self.chunk.push_nulls(n),
                None => return Err(self.err("null value in a required column")),
            }
            r += n;
        }
        Ok(())
    }

    /// Append the rows of `source` from `first` whose codes `codes` holds
    /// (see [`Chunk::precode`]), stretch by stretch of equal codes: sorted data
    /// repeats a value for every row of a series. Values new to the
    /// dictionary are added first, in row order; bad keys go through
    /// [`push_row`](Self::push_row), which names them.
    fn push_codes(&mut self, source: &Source<'_>, first: usize) -> Result<()> {
        let mut codes = std::mem::take(&mut self.codes);
        for (r, code) in (first..).zip(codes.iter_mut()) {
            if *code == UNSEEN {
                *code = self.chunk.code(source, r);
            }
        }
        let nullable = self.nullable();
        let mut result = Ok(());
        let mut i = 0;
        while i < codes.len() && result.is_ok() {
            let code = codes[i];
            let n = codes[i..].iter().take_while(|&&c| c == code).count();
            if code < BAD_KEY {
                self.chunk.push_repeated(code, n, nullable);
            } else if code == NULL_VALUE && nullable {
                self.chunk.push_nulls(n);
            } else {
                result = (first + i..first + i + n).try_for_each(|r| self.push_row(source, r));
            }
            i += n;
        }
        self.codes = codes;
        result
    }

    fn nullable(&self) -> bool {
        self.out.nullable()
    }

    /// Append row `r` of `source` (the page's row count is the caller's).
    #[inline]
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
        let mut buf = std::mem::take(&mut self.body);
        buf.clear();
        self.out.levels(&page.levels, &mut buf);
        let plain = self.chunk.fallback;
        let bounds = if plain {
            let mut encoder = get_encoder::<ByteArrayType>(Encoding::PLAIN, &self.out.descr)
                .map_err(|e| self.parquet_err(e))?;
            encoder.put(&page.plain).map_err(|e| self.parquet_err(e))?;
            let settings = &self.out.settings;
            if let Some(bloom) = self
                .chunk
                .out
                .bloom(settings, None)
                .map_err(|e| self.out.parquet_err(e))?
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
        self.record_page_bounds(&page, bounds.as_ref());
        let statistics = bounds
            .as_ref()
            .filter(|_| self.out.header_statistics())
            .map(|(min, max)| self.out.settings.statistics(Some((min, max)), page.nulls));
        let body = PageBody {
            body: &buf,
            rows: page.rows,
            plain,
            value_bytes: page.value_bytes,
            statistics,
        };
        self.out.data_page(&mut self.chunk.out, body)?;
        if !plain {
            self.chunk.fallback = self.chunk.dictionary_bytes >= self.out.settings.dictionary_limit;
        }
        // The page's and the body's buffers serve the next page.
        self.chunk.page = page.recycled();
        self.body = buf;
        Ok(())
    }

    /// Column index entry, boundary order and chunk statistics of a finished page
    /// (as parquet-rs' column writer keeps them).
    fn record_page_bounds(&mut self, page: &PageState, bounds: Option<&(Bytes, Bytes)>) {
        let settings = &self.out.settings;
        let chunk = &mut self.chunk;
        let mut order = (false, false);
        let index_bounds = bounds.map(|(min, max)| {
            if let Some((last_min, last_max)) = &chunk.last_page_bounds {
                order = (
                    last_min > min || last_max > max,
                    min > last_min || max > last_max,
                );
            }
            chunk.last_page_bounds = Some((min.clone(), max.clone()));
            let limit = settings.index_limit;
            (
                lower_bound(min, limit, settings.utf8).0,
                upper_bound(max, limit, settings.utf8).0,
            )
        });
        let counts = (page.rows, page.nulls, None);
        let max_def = self.out.descr.max_def_level();
        chunk.out.index_page(max_def, counts, index_bounds, order);
        if let Some((min, max)) = bounds {
            if chunk.min.as_ref().is_none_or(|m| min < m) {
                chunk.min = Some(min.clone());
            }
            if chunk.max.as_ref().is_none_or(|m| max > m) {
                chunk.max = Some(max.clone());
            }
        }
    }

    /// Finish the chunk in progress: its serialized pages (dictionary page first,
    /// offsets relative to the start of the returned bytes) and its close result,
    /// for `SerializedRowGroupWriter::append_column`. The writer is ready for the
    /// next chunk afterwards. Stages: flush the last data page, add the
    /// dictionary to the bloom filter, then the shared close
    /// ([`ColumnOut::close`]) with the PLAIN dictionary and the chunk statistics.
    pub fn close_chunk(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page()?;
        self.bloom_dictionary()?;
        let mut fresh = Chunk::new(&self.out.descr, &self.out.settings);
        fresh.page = std::mem::take(&mut self.chunk.page).recycled();
        let chunk = std::mem::replace(&mut self.chunk, fresh);
        let values: Vec<ByteArray> = chunk
            .dictionary
            .iter()
            .cloned()
            .map(ByteArray::from)
            .collect();
        let mut encoder = get_encoder::<ByteArrayType>(Encoding::PLAIN, &self.out.descr)
            .map_err(|e| self.parquet_err(e))?;
        encoder.put(&values).map_err(|e| self.parquet_err(e))?;
        let plain = encoder.flush_buffer().map_err(|e| self.parquet_err(e))?;
        let statistics = (self.out.settings.statistics != EnabledStatistics::None).then(|| {
            let bounds = chunk.min.as_ref().zip(chunk.max.as_ref());
            match self.out.settings.statistics(bounds, chunk.out.nulls) {
                Statistics::ByteArray(s) => Statistics::ByteArray(
                    s.with_backwards_compatible_min_max(self.out.descr.sort_order().is_signed()),
                ),
                other => other,
            }
        });
        self.out
            .close(chunk.out, (&plain, values.len()), statistics)
    }

    /// Add the dictionary's values to the bloom filter (PLAIN values are in already).
    fn bloom_dictionary(&mut self) -> Result<()> {
        let settings = &self.out.settings;
        let chunk = &mut self.chunk;
        if settings.bloom.is_none() || chunk.dictionary.is_empty() {
            return Ok(());
        }
        if let Some(bloom) = chunk
            .out
            .bloom(settings, Some(chunk.dictionary.len()))
            .map_err(|e| self.out.parquet_err(e))?
        {
            for v in &chunk.dictionary {
                bloom.insert(v.as_ref());
            }
        }
        Ok(())
    }
}
