//! The writer of one fixed-width column (INT32, INT64, FLOAT, DOUBLE whose Arrow
//! values are the physical values bit for bit) of one output file: rows in run
//! by run straight from the source arrays' value slices, each value compared
//! with the previous row's before its bits are hashed into the chunk's
//! dictionary; pages, statistics and indexes as parquet-rs' column writer
//! makes them (floats: NaN skipped and counted, IEEE 754 total order).

use super::chunk::index_bit_width;
use super::pages::{ChunkPages, ColumnOut, PageBody};
use super::writer::runs;
use crate::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use parquet::basic::{SortOrder, Type as PhysicalType};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::AsBytes;
use parquet::encodings::rle::RleEncoder;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::schema::types::ColumnDescPtr;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::Range;
use std::path::Path;

/// A multiplicative hasher for value bits (one folded 64x64->128 multiply).
#[derive(Default, Clone, Copy)]
struct BitsHasher(u64);

impl BitsHasher {
    #[inline]
    fn mix(x: u64) -> u64 {
        let m = u128::from(x) * 0x9E37_79B9_7F4A_7C15;
        (m as u64) ^ ((m >> 64) as u64)
    }
}

impl Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = Self::mix(self.0 ^ u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = Self::mix(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = Self::mix(v);
    }
}

/// A physical value type of a fixed-width column.
pub(crate) trait Native: Copy + AsBytes + 'static {
    /// The value's bits (equal bits: the same dictionary entry).
    type Bits: Copy + Eq + Hash;
    /// The value mapped to an integer in the column's order.
    type Key: Ord;
    /// Whether the type is a float (NaN counted and skipped by statistics).
    const FLOAT: bool;
    fn bits(self) -> Self::Bits;
    fn is_nan(self) -> bool;
    /// `a > b` as parquet-rs' `compare_greater`: floats in IEEE 754 total
    /// order, unsigned integers unsigned, others signed.
    fn greater(a: Self, b: Self) -> bool;
    fn extend_le(values: &[Self], out: &mut Vec<u8>);
    /// The value slice of an array of an Arrow type with these physical values.
    fn values(array: &dyn Array) -> Option<&[Self]>;
    fn statistics(
        bounds: Option<(Self, Self)>,
        nulls: u64,
        nans: Option<u64>,
        signed: bool,
    ) -> Statistics;
}

macro_rules! native {
    ($t:ty, $bits:ty, $float:expr, $variant:ident($phys:ty), $to_bits:expr, $is_nan:expr,
     $key:ty, $to_key:expr, [$($arrow:ty),*]) => {
        impl Native for $t {
            type Bits = $bits;
            type Key = $key;
            const FLOAT: bool = $float;
            #[inline]
            fn bits(self) -> $bits {
                $to_bits(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                $is_nan(self)
            }
            #[inline]
            fn greater(a: Self, b: Self) -> bool {
                let key: fn(Self) -> $key = $to_key;
                key(a) > key(b)
            }
            fn extend_le(values: &[Self], out: &mut Vec<u8>) {
                out.reserve(std::mem::size_of_val(values));
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            fn values(array: &dyn Array) -> Option<&[Self]> {
                $(if let Some(a) = array.as_primitive_opt::<$arrow>() {
                    return Some(a.values());
                })*
                None
            }
            fn statistics(
                bounds: Option<(Self, Self)>,
                nulls: u64,
                nans: Option<u64>,
                signed: bool,
            ) -> Statistics {
                #[allow(clippy::unnecessary_cast)]
                let (min, max) = bounds.map(|(a, b)| (a as $phys, b as $phys)).unzip();
                Statistics::$variant(
                    ValueStatistics::new(min, max, None, Some(nulls), false)
                        .with_nan_count(nans)
                        .with_backwards_compatible_min_max(signed),
                )
            }
        }
    };
}

native!(
    i32,
    u32,
    false,
    Int32(i32),
    |v: i32| v as u32,
    |_| false,
    i32,
    |v| v,
    [Int32Type, Date32Type]
);
native!(
    i64,
    u64,
    false,
    Int64(i64),
    |v: i64| v as u64,
    |_| false,
    i64,
    |v| v,
    [
        Int64Type,
        TimestampMillisecondType,
        TimestampMicrosecondType,
        TimestampNanosecondType
    ]
);
native!(
    f32,
    u32,
    true,
    Float(f32),
    f32::to_bits,
    f32::is_nan,
    i32,
    |v: f32| {
        let bits = v.to_bits() as i32;
        bits ^ ((((bits >> 31) as u32) >> 1) as i32)
    },
    [Float32Type]
);
native!(
    f64,
    u64,
    true,
    Double(f64),
    f64::to_bits,
    f64::is_nan,
    i64,
    |v: f64| {
        let bits = v.to_bits() as i64;
        bits ^ ((((bits >> 63) as u64) >> 1) as i64)
    },
    [Float64Type]
);

// UInt32 / UInt64: parquet-rs writes their bits as INT32 / INT64 (no cast),
// ordered unsigned.
native!(
    u32,
    u32,
    false,
    Int32(i32),
    |v: u32| v,
    |_| false,
    u32,
    |v| v,
    [UInt32Type]
);
native!(
    u64,
    u64,
    false,
    Int64(i64),
    |v: u64| v,
    |_| false,
    u64,
    |v| v,
    [UInt64Type]
);

/// Whether a column of `data_type` at leaf `descr` can be written by
/// [`FixedChunkWriter`] under `props`: Arrow values that are the physical values
/// bit for bit (not Timestamp(Second), rescaled by parquet-rs; not the 8- and
/// 16-bit integers, cast), flat, dictionary on, data page v1; unsigned order
/// for UInt32 / UInt64, signed for the others.
pub(crate) fn fixed_eligible(
    data_type: &DataType,
    descr: &ColumnDescPtr,
    props: &WriterProperties,
) -> bool {
    use SortOrder::{SIGNED, TOTAL_ORDER, UNSIGNED};
    // Floats compare in total order whatever the column's order says.
    let (physical, orders): (_, &[SortOrder]) = match data_type {
        DataType::Int32 | DataType::Date32 => (PhysicalType::INT32, &[SIGNED]),
        DataType::Int64 => (PhysicalType::INT64, &[SIGNED]),
        DataType::Timestamp(TimeUnit::Millisecond | TimeUnit::Microsecond, _) => {
            (PhysicalType::INT64, &[SIGNED])
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (PhysicalType::INT64, &[SIGNED]),
        DataType::UInt32 => (PhysicalType::INT32, &[UNSIGNED]),
        DataType::UInt64 => (PhysicalType::INT64, &[UNSIGNED]),
        DataType::Float32 => (PhysicalType::FLOAT, &[SIGNED, TOTAL_ORDER]),
        DataType::Float64 => (PhysicalType::DOUBLE, &[SIGNED, TOTAL_ORDER]),
        _ => return false,
    };
    descr.physical_type() == physical
        && orders.contains(&descr.sort_order())
        && descr.max_rep_level() == 0
        && descr.max_def_level() <= 1
        && props.dictionary_enabled(descr.path())
        && props.writer_version() == WriterVersion::PARQUET_1_0
}

/// Update `cur` with `v` as parquet-rs' `update_min` / `update_max` do: a NaN
/// never replaces a number, a number replaces a NaN; else `replace(cur, v)`.
#[inline]
fn update<T: Native>(cur: &mut Option<T>, v: T, replace: impl Fn(T, T) -> bool) {
    match cur {
        None => *cur = Some(v),
        Some(c) => match (c.is_nan(), v.is_nan()) {
            (false, true) => {}
            (true, false) => *cur = Some(v),
            _ => {
                if replace(*c, v) {
                    *cur = Some(v)
                }
            }
        },
    }
}

/// (min, max) of values, updated with parquet-rs' rules.
#[inline]
fn widen<T: Native>(bounds: &mut (Option<T>, Option<T>), v: T) {
    update(&mut bounds.0, v, |c, v| T::greater(c, v));
    update(&mut bounds.1, v, |c, v| T::greater(v, c));
}

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

    fn write_gather(&mut self, columns: &[&ArrayRef], indices: &[(usize, usize)]) -> Result<()> {
        let sources = columns
            .iter()
            .map(|c| self.source(c))
            .collect::<Result<Vec<_>>>()?;
        self.write_runs(&sources, runs(indices))
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
    /// [`fixed_eligible`]).
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

    /// Append rows picked from several arrays: `indices` holds (position in
    /// `columns`, row) per output row.
    pub fn write_gather(
        &mut self,
        columns: &[&ArrayRef],
        indices: &[(usize, usize)],
    ) -> Result<()> {
        each!(self, w => w.write_gather(columns, indices))
    }

    /// Finish the chunk in progress: its serialized pages and close result.
    pub fn close_chunk(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        each!(self, w => w.close_chunk())
    }
}

#[cfg(test)]
mod tests {
    use super::widen;

    #[test]
    fn bounds_skip_nan_and_order_signed_zeros() {
        let mut bounds = (None, None);
        for v in [1.0f64, f64::NAN, 2.0, 0.0, -0.0, f64::NAN] {
            widen(&mut bounds, v);
        }
        let (min, max) = (bounds.0.unwrap(), bounds.1.unwrap());
        assert_eq!(min.to_bits(), (-0.0f64).to_bits());
        assert_eq!(max, 2.0);
        let mut nan_only = (None, None);
        widen(&mut nan_only, f32::NAN);
        assert!(nan_only.0.is_some_and(f32::is_nan));
    }
}
