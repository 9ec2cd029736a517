//! The writer of one fixed-width column (INT32, INT64, FLOAT, DOUBLE whose Arrow
//! values are the physical values bit for bit) of one output file: rows in run
//! by run straight from the source arrays' value slices, each value compared
//! with the previous row's before its bits are hashed into the chunk's
//! dictionary; pages, statistics and indexes as parquet-rs' column writer
//! makes them (floats: NaN skipped and counted, IEEE 754 total order).

use super::chunk::index_bit_width;
use super::native::{widen, BitsHasher, Native};
use super::pages::{ChunkPages, ColumnOut, PageBody};
use super::writer::SHORT_RUN;
use crate::output::rows::Gathered;
use crate::Result;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;
use bytes::Bytes;
use parquet::basic::{SortOrder, Type as PhysicalType};
use parquet::column::writer::ColumnCloseResult;
use parquet::encodings::rle::RleEncoder;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnDescPtr;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::ops::Range;
use std::path::Path;

/// A source array: its values and nulls.
type Source<'a, T> = (&'a [T], Option<&'a NullBuffer>);

/// The data page being filled; its buffers live as long as the writer.
struct Page<T: Native> {
    /// Dictionary indices, or the values of a PLAIN page.
    indices: Vec<u32>,
    plain: Vec<T>,
    levels: Vec<i16>,
    rows: usize,
    nulls: u64,
    /// NaN values (floats) and non-null values.
    nans: u64,
    values: u64,
    bounds: (Option<T>, Option<T>),
}

impl<T: Native> Page<T> {
    fn clear(&mut self) {
        self.indices.clear();
        self.plain.clear();
        self.levels.clear();
        (self.rows, self.nulls, self.nans, self.values) = (0, 0, 0, 0);
        self.bounds = (None, None);
    }
}

/// Writes one fixed-width column of physical type `T`, chunk after chunk.
pub(crate) struct FixedWriter<T: Native> {
    out: ColumnOut,
    dictionary: Vec<T>,
    lookup: HashMap<T::Bits, u32, BuildHasherDefault<BitsHasher>>,
    /// PLAIN pages from here on (the dictionary reached its limit).
    fallback: bool,
    /// The previous row's value and dictionary index (within the page).
    last: Option<(T::Bits, u32)>,
    page: Page<T>,
    /// Page bodies are assembled here.
    body: Vec<u8>,
    bounds: (Option<T>, Option<T>),
    nans: Option<u64>,
    last_page_bounds: Option<(T, T)>,
    pages: ChunkPages,
}

impl<T: Native> FixedWriter<T> {
    fn new(out: ColumnOut) -> Self {
        let pages = ChunkPages::new(&out.descr, &out.settings);
        FixedWriter {
            out,
            dictionary: Vec::new(),
            lookup: HashMap::default(),
            fallback: false,
            last: None,
            page: Page {
                indices: Vec::new(),
                plain: Vec::new(),
                levels: Vec::new(),
                rows: 0,
                nulls: 0,
                nans: 0,
                values: 0,
                bounds: (None, None),
            },
            body: Vec::new(),
            bounds: (None, None),
            nans: None,
            last_page_bounds: None,
            pages,
        }
    }

    /// The value slice and nulls of a source array.
    fn source<'a>(&self, array: &'a ArrayRef) -> Result<Source<'a, T>> {
        match T::values(array.as_ref()) {
            Some(values) => Ok((values, array.nulls())),
            None => Err(self.out.err(format!(
                "expected {} values, got {}",
                self.out.descr.physical_type(),
                array.data_type()
            ))),
        }
    }

    fn write(&mut self, array: &ArrayRef) -> Result<()> {
        let source = [self.source(array)?];
        self.write_runs(&source, std::iter::once((0, 0..array.len())))
    }

    /// Rows of interleaved inputs (runs shorter than [`SHORT_RUN`] rows on
    /// average) are first gathered into one array, which is then written as one
    /// run: per-run work costs more than the copy. The pages are the same.
    fn write_gather(&mut self, columns: &[&ArrayRef], picks: &Gathered) -> Result<()> {
        let (indices, runs) = (picks.indices.as_slice(), picks.runs.as_slice());
        if indices.len() < SHORT_RUN * runs.len() {
            let arrays: Vec<&dyn Array> = columns.iter().map(|c| c.as_ref()).collect();
            let gathered = arrow_select::interleave::interleave(&arrays, indices)
                .map_err(|e| self.out.err(format!("gathering rows: {e}")))?;
            return self.write(&gathered);
        }
        let sources = columns
            .iter()
            .map(|c| self.source(c))
            .collect::<Result<Vec<_>>>()?;
        self.write_runs(&sources, runs.iter().cloned())
    }

    /// Append runs of rows, each (position in `sources`, consecutive rows), in
    /// mini-batches as parquet-rs cuts the rows of one write: windows of
    /// `write_batch_size` rows from the write's first row (the page row limit
    /// for a nullable column without nulls), each cut further where its values
    /// could overrun the dictionary (or, after a fallback, the page) byte limit;
    /// the limits are checked after each mini-batch.
    fn write_runs(
        &mut self,
        sources: &[Source<'_, T>],
        runs: impl Iterator<Item = (usize, Range<usize>)>,
    ) -> Result<()> {
        let runs: Vec<(Source<'_, T>, Range<usize>)> = runs
            .map(|(s, rows)| match sources.get(s) {
                Some(&source) if rows.end <= source.0.len() => Ok((source, rows)),
                _ => Err(self
                    .out
                    .err(format!("rows {rows:?} of source {s}: out of range"))),
            })
            .collect::<Result<_>>()?;
        let no_nulls = sources
            .iter()
            .all(|(_, n)| n.is_none_or(|n| n.null_count() == 0));
        let batch = if self.out.nullable() && no_nulls {
            self.out.settings.page_rows
        } else {
            self.out.settings.write_batch
        };
        let total: usize = runs.iter().map(|(_, r)| r.len()).sum();
        let mut cursor = (0, 0);
        let mut done = 0;
        while done < total {
            let window = batch.min(total - done);
            let step = self.sub_batch(batch, window, &runs, cursor);
            let mut left = window;
            while left > 0 {
                let n = step.min(left);
                cursor = self.push_pieces(&runs, cursor, n)?;
                self.end_mini_batch()?;
                left -= n;
            }
            done += window;
        }
        Ok(())
    }

    /// Rows per mini-batch of a window of `window` rows starting at `cursor`
    /// (run, offset), as parquet-rs' byte budget chunker sizes them: the window
    /// whole unless `batch` values could overrun the dictionary page limit
    /// (the data page limit after a fallback); else the values that fit in
    /// what is left of it, scaled to rows by the window's share of non-nulls.
    fn sub_batch(
        &self,
        batch: usize,
        window: usize,
        runs: &[(Source<'_, T>, Range<usize>)],
        cursor: (usize, usize),
    ) -> usize {
        let width = std::mem::size_of::<T>();
        let settings = &self.out.settings;
        let (limit, used) = if self.fallback {
            (settings.page_bytes, 0)
        } else {
            let used = std::mem::size_of_val(self.dictionary.as_slice());
            (settings.dictionary_limit, used)
        };
        if batch.saturating_mul(width) <= limit {
            return window;
        }
        let mut values = 0;
        let (mut run, mut offset, mut left) = (cursor.0, cursor.1, window);
        while left > 0 {
            let Some(((_, nulls), rows)) = runs.get(run) else {
                break;
            };
            let n = (rows.len() - offset).min(left);
            let nulls = nulls.map_or(0, |b| b.slice(rows.start + offset, n).null_count());
            values += n - nulls;
            (run, offset, left) = (run + 1, 0, left - n);
        }
        let fit = (limit.saturating_sub(used) / width).max(1).min(values);
        if values == 0 || fit >= values {
            window
        } else if values == window {
            fit
        } else {
            (fit * window).div_ceil(values).clamp(1, window)
        }
    }

    /// Append the next `n` rows of `runs` from `cursor` (run, offset); the
    /// cursor after them.
    fn push_pieces(
        &mut self,
        runs: &[(Source<'_, T>, Range<usize>)],
        (mut run, mut offset): (usize, usize),
        mut n: usize,
    ) -> Result<(usize, usize)> {
        while n > 0 {
            let Some(&(source, ref rows)) = runs.get(run) else {
                return Err(self.out.err("fewer rows than runs announced"));
            };
            let take = (rows.len() - offset).min(n);
            let start = rows.start + offset;
            self.push_rows(source, start..start + take)?;
            n -= take;
            offset += take;
            if offset == rows.len() {
                (run, offset) = (run + 1, 0);
            }
        }
        Ok((run, offset))
    }

    /// Append consecutive rows of one source.
    fn push_rows(&mut self, (values, nulls): Source<'_, T>, rows: Range<usize>) -> Result<()> {
        let Some(slice) = values.get(rows.clone()) else {
            return Err(self
                .out
                .err(format!("row {} of {}", rows.end, values.len())));
        };
        let nullable = self.out.nullable();
        match nulls.filter(|n| n.slice(rows.start, rows.len()).null_count() > 0) {
            None => {
                if nullable {
                    self.page
                        .levels
                        .resize(self.page.levels.len() + rows.len(), 1);
                }
                self.push_values(slice);
            }
            Some(n) if nullable => {
                for r in rows.clone() {
                    if n.is_valid(r) {
                        self.page.levels.push(1);
                        self.push_values(&values[r..r + 1]);
                    } else {
                        self.page.levels.push(0);
                        self.page.nulls += 1;
                    }
                }
            }
            Some(_) => return Err(self.out.err("null value in a required column")),
        }
        self.page.rows += rows.len();
        Ok(())
    }

    /// After a mini-batch: close the page at its row or size limit, then fall
    /// back to PLAIN once the dictionary reached its limit (parquet-rs' order).
    fn end_mini_batch(&mut self) -> Result<()> {
        if self.page.rows >= self.out.settings.page_rows
            || self.page_bytes() >= self.out.settings.page_bytes
        {
            self.flush_page()?;
        }
        let dictionary_bytes = std::mem::size_of_val(self.dictionary.as_slice());
        if !self.fallback && dictionary_bytes >= self.out.settings.dictionary_limit {
            self.flush_page()?;
            self.fallback = true;
        }
        Ok(())
    }

    /// Append non-null values: dictionary indices (a value equal to the previous
    /// row's is not hashed), or PLAIN values after a fallback.
    #[inline]
    fn push_values(&mut self, values: &[T]) {
        let page = &mut self.page;
        page.values += values.len() as u64;
        if T::FLOAT {
            page.nans += values.iter().filter(|v| v.is_nan()).count() as u64;
        }
        if self.fallback {
            let mut last = self.last.map(|(b, _)| b);
            for &v in values {
                if last != Some(v.bits()) {
                    last = Some(v.bits());
                    widen(&mut page.bounds, v);
                }
            }
            self.last = last.map(|b| (b, 0));
            page.plain.extend_from_slice(values);
            return;
        }
        page.indices.reserve(values.len());
        for &v in values {
            let bits = v.bits();
            let code = match self.last {
                Some((b, code)) if b == bits => code,
                _ => {
                    let next = self.dictionary.len() as u32;
                    let code = *self.lookup.entry(bits).or_insert(next);
                    if code == next {
                        self.dictionary.push(v);
                    }
                    widen(&mut page.bounds, v);
                    self.last = Some((bits, code));
                    code
                }
            };
            page.indices.push(code);
        }
    }

    /// Estimated encoded size of the page's values, as parquet-rs estimates it.
    fn page_bytes(&self) -> usize {
        if self.fallback {
            std::mem::size_of_val(self.page.plain.as_slice())
        } else {
            let bit_width = index_bit_width(self.dictionary.len());
            RleEncoder::max_buffer_size(bit_width, self.page.indices.len())
        }
    }

    /// Close the data page in progress (if it has rows).
    fn flush_page(&mut self) -> Result<()> {
        if self.page.rows == 0 {
            return Ok(());
        }
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        self.out.levels(&self.page.levels, &mut body);
        if self.fallback {
            T::extend_le(&self.page.plain, &mut body);
            self.bloom_plain()?;
        } else {
            let bit_width = index_bit_width(self.dictionary.len());
            body.push(bit_width);
            body.reserve(RleEncoder::max_buffer_size(
                bit_width,
                self.page.indices.len(),
            ));
            let mut rle = RleEncoder::new_from_buf(bit_width, body);
            for &i in &self.page.indices {
                rle.put(u64::from(i));
            }
            body = rle.consume();
        }
        let page_nans = (T::FLOAT && self.page.values > 0).then_some(self.page.nans);
        let bounds = self.page.bounds.0.zip(self.page.bounds.1);
        let signed = self.out.descr.sort_order().is_signed();
        let statistics = bounds
            .filter(|_| self.out.header_statistics())
            .map(|b| T::statistics(Some(b), self.page.nulls, page_nans, signed));
        self.record_page(bounds, page_nans);
        let page = PageBody {
            body: &body,
            rows: self.page.rows,
            plain: self.fallback,
            value_bytes: 0,
            statistics,
        };
        let result = self.out.data_page(&mut self.pages, page);
        self.body = body;
        self.page.clear();
        self.last = None;
        result
    }

    /// Column index entry, boundary order and chunk statistics of a finished page.
    fn record_page(&mut self, bounds: Option<(T, T)>, page_nans: Option<u64>) {
        let mut order = (false, false);
        if let Some((min, max)) = bounds {
            if let Some((last_min, last_max)) = self.last_page_bounds {
                order = (
                    T::greater(last_min, min) || T::greater(last_max, max),
                    T::greater(min, last_min) || T::greater(max, last_max),
                );
            }
            self.last_page_bounds = Some((min, max));
            widen(&mut self.bounds, min);
            widen(&mut self.bounds, max);
        }
        if let Some(n) = page_nans {
            *self.nans.get_or_insert(0) += n;
        }
        let index_nans = T::FLOAT.then(|| page_nans.unwrap_or(0) as i64);
        let index_bounds =
            bounds.map(|(min, max)| (min.as_bytes().to_vec(), max.as_bytes().to_vec()));
        let counts = (self.page.rows, self.page.nulls, index_nans);
        let max_def = self.out.descr.max_def_level();
        self.pages.index_page(max_def, counts, index_bounds, order);
    }

    /// Add a PLAIN page's values to the bloom filter.
    fn bloom_plain(&mut self) -> Result<()> {
        let bloom = self.pages.bloom(&self.out.settings, None);
        if let Some(bloom) = bloom.map_err(|e| self.out.parquet_err(e))? {
            let mut last = None;
            for v in &self.page.plain {
                if last != Some(v.bits()) {
                    last = Some(v.bits());
                    bloom.insert(v);
                }
            }
        }
        Ok(())
    }

    /// Finish the chunk in progress (see [`ColumnOut::close`]); the writer is
    /// ready for the next chunk afterwards, its buffers kept.
    fn close_chunk(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page()?;
        if !self.dictionary.is_empty() {
            let bloom = self
                .pages
                .bloom(&self.out.settings, Some(self.dictionary.len()));
            if let Some(bloom) = bloom.map_err(|e| self.out.parquet_err(e))? {
                for v in &self.dictionary {
                    bloom.insert(v);
                }
            }
        }
        self.body.clear();
        T::extend_le(&self.dictionary, &mut self.body);
        let statistics = (self.out.settings.statistics != EnabledStatistics::None).then(|| {
            let bounds = self.bounds.0.zip(self.bounds.1);
            let signed = self.out.descr.sort_order().is_signed();
            T::statistics(bounds, self.pages.nulls, self.nans, signed)
        });
        let fresh = ChunkPages::new(&self.out.descr, &self.out.settings);
        let pages = std::mem::replace(&mut self.pages, fresh);
        let dictionary = std::mem::take(&mut self.body);
        let closed = self
            .out
            .close(pages, (&dictionary, self.dictionary.len()), statistics);
        self.body = dictionary;
        self.dictionary.clear();
        self.lookup.clear();
        self.fallback = false;
        self.last = None;
        (self.bounds, self.nans, self.last_page_bounds) = ((None, None), None, None);
        closed
    }
}

/// Writes one fixed-width column, chunk after chunk, for one output file.
pub(crate) enum FixedChunkWriter {
    Int32(FixedWriter<i32>),
    Int64(FixedWriter<i64>),
    UInt32(FixedWriter<u32>),
    UInt64(FixedWriter<u64>),
    Float(FixedWriter<f32>),
    Double(FixedWriter<f64>),
}

macro_rules! each {
    ($self:ident, $w:ident => $e:expr) => {
        match $self {
            FixedChunkWriter::Int32($w) => $e,
            FixedChunkWriter::Int64($w) => $e,
            FixedChunkWriter::UInt32($w) => $e,
            FixedChunkWriter::UInt64($w) => $e,
            FixedChunkWriter::Float($w) => $e,
            FixedChunkWriter::Double($w) => $e,
        }
    };
}

impl FixedChunkWriter {
    /// A writer for leaf `descr` of output `file` under `props` (see
    /// [`fixed_eligible`](super::native::fixed_eligible)).
    pub fn new(file: &Path, descr: ColumnDescPtr, props: &WriterProperties) -> Result<Self> {
        let out = ColumnOut::new(file, descr, props)?;
        let unsigned = out.descr.sort_order() == SortOrder::UNSIGNED;
        Ok(match out.descr.physical_type() {
            PhysicalType::INT32 if unsigned => FixedChunkWriter::UInt32(FixedWriter::new(out)),
            PhysicalType::INT64 if unsigned => FixedChunkWriter::UInt64(FixedWriter::new(out)),
            PhysicalType::INT32 => FixedChunkWriter::Int32(FixedWriter::new(out)),
            PhysicalType::INT64 => FixedChunkWriter::Int64(FixedWriter::new(out)),
            PhysicalType::FLOAT => FixedChunkWriter::Float(FixedWriter::new(out)),
            PhysicalType::DOUBLE => FixedChunkWriter::Double(FixedWriter::new(out)),
            other => return Err(out.err(format!("no fixed-width writer for {other}"))),
        })
    }

    /// Append the rows of `array`.
    pub fn write(&mut self, array: &ArrayRef) -> Result<()> {
        each!(self, w => w.write(array))
    }

    /// Append the rows `picks` picks from `columns` (column `i` of its
    /// source `i`).
    pub fn write_gather(&mut self, columns: &[&ArrayRef], picks: &Gathered) -> Result<()> {
        each!(self, w => w.write_gather(columns, picks))
    }

    /// Finish the chunk in progress: its serialized pages and close result.
    pub fn close_chunk(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        each!(self, w => w.close_chunk())
    }
}
