//! State of the column chunk being transcoded: its dictionary, the remaps of the
//! input dictionaries into it, the data page being filled and the finished pages.

use super::pages::ChunkPages;
use super::source::{value_at, Keys, Source};
use crate::output::truncate::{lower_bound, upper_bound};
use arrow_array::{Array, ArrayRef};
use bytes::Bytes;
use parquet::basic::Compression;
use parquet::data_type::ByteArray;
use parquet::file::properties::EnabledStatistics;
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::schema::types::ColumnDescPtr;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// Remap entry of an input dictionary value not seen yet in this chunk.
pub(super) const UNSEEN: u32 = u32::MAX;
/// Remap entry of a null dictionary value.
pub(super) const NULL_VALUE: u32 = u32::MAX - 1;
/// Code of a row whose dictionary key is out of range (invalid input).
pub(super) const BAD_KEY: u32 = u32::MAX - 2;
/// Input dictionaries whose remaps are kept per chunk.
pub(super) const REMAP_CACHE: usize = 64;

/// Bit width of dictionary indices for a dictionary of `len` entries.
pub(super) fn index_bit_width(len: usize) -> u8 {
    let max = len.saturating_sub(1) as u64;
    (64 - max.leading_zeros()) as u8
}

/// The data page being filled.
#[derive(Default)]
pub(super) struct PageState {
    /// Dictionary indices (dictionary pages) ...
    pub(super) indices: Vec<u32>,
    /// ... or the values themselves (PLAIN pages after a fallback).
    pub(super) plain: Vec<ByteArray>,
    /// Definition levels (nullable columns only).
    pub(super) levels: Vec<i16>,
    pub(super) rows: usize,
    pub(super) nulls: u64,
    /// Sum of the lengths of the non-null values (`unencoded_byte_array_data_bytes`).
    pub(super) value_bytes: i64,
    /// Dictionary indices used in this page, each once (for min / max).
    pub(super) used: Vec<u32>,
    pub(super) last: Option<u32>,
    /// Bounds of a PLAIN page.
    pub(super) plain_bounds: Option<(Bytes, Bytes)>,
}

impl PageState {
    /// An empty page that keeps this one's buffers (their capacity).
    pub(super) fn recycled(self) -> Self {
        let PageState {
            mut indices,
            mut plain,
            mut levels,
            mut used,
            ..
        } = self;
        indices.clear();
        plain.clear();
        levels.clear();
        used.clear();
        PageState {
            indices,
            plain,
            levels,
            used,
            ..PageState::default()
        }
    }
}

/// Settings resolved from the writer properties for one column.
pub(super) struct Settings {
    pub(super) codec: Compression,
    pub(super) page_rows: usize,
    /// Data page size limit: a page closes once its encoded values reach it.
    pub(super) page_bytes: usize,
    /// Rows appended between two checks of the page and dictionary limits
    /// (parquet-rs' write batch size).
    pub(super) write_batch: usize,
    pub(super) dictionary_limit: usize,
    pub(super) statistics: EnabledStatistics,
    pub(super) header_statistics: bool,
    pub(super) offset_index: bool,
    /// (ndv, fpp) of the bloom filter, if one is written.
    pub(super) bloom: Option<(u64, f64)>,
    /// Cut lengths of statistics and column index bounds; UTF-8 values are cut
    /// at character boundaries.
    pub(super) statistics_limit: Option<usize>,
    pub(super) index_limit: Option<usize>,
    pub(super) utf8: bool,
}

impl Settings {
    /// Chunk or page-header statistics of byte values with these bounds.
    pub(super) fn statistics(&self, bounds: Option<(&Bytes, &Bytes)>, nulls: u64) -> Statistics {
        let (min, max) = match bounds {
            Some((min, max)) => {
                let (min, min_cut) = lower_bound(min, self.statistics_limit, self.utf8);
                let (max, max_cut) = upper_bound(max, self.statistics_limit, self.utf8);
                (Some((min, min_cut)), Some((max, max_cut)))
            }
            None => (None, None),
        };
        let mut stats = ValueStatistics::<ByteArray>::new(
            min.as_ref().map(|(v, _)| ByteArray::from(v.clone())),
            max.as_ref().map(|(v, _)| ByteArray::from(v.clone())),
            None,
            Some(nulls),
            false,
        );
        if let (Some((_, min_cut)), Some((_, max_cut))) = (&min, &max) {
            stats = stats
                .with_min_is_exact(!min_cut)
                .with_max_is_exact(!max_cut);
        }
        Statistics::ByteArray(stats)
    }
}

/// The column chunk in progress.
pub(super) struct Chunk {
    pub(super) dictionary: Vec<Bytes>,
    pub(super) dictionary_bytes: usize,
    pub(super) lookup: HashMap<Bytes, u32>,
    /// Per dictionary index: the page epoch that last saw it (dedups `PageState::used`).
    pub(super) seen_in_page: Vec<u32>,
    pub(super) epoch: u32,
    pub(super) remaps: Vec<(ArrayRef, Vec<u32>)>,
    /// PLAIN pages from here on (the dictionary outgrew its limit).
    pub(super) fallback: bool,
    pub(super) page: PageState,
    pub(super) last_page_bounds: Option<(Bytes, Bytes)>,
    pub(super) min: Option<Bytes>,
    pub(super) max: Option<Bytes>,
    /// (bit width, index count) at which a dictionary page reaches the data
    /// page size limit (see [`page_full`](Self::page_full)).
    full_at: (u8, usize),
    /// Finished pages, index and counts.
    pub(super) out: ChunkPages,
}

impl Chunk {
    pub(super) fn new(descr: &ColumnDescPtr, settings: &Settings) -> Self {
        Chunk {
            dictionary: Vec::new(),
            dictionary_bytes: 0,
            lookup: HashMap::new(),
            seen_in_page: Vec::new(),
            epoch: 0,
            remaps: Vec::new(),
            fallback: false,
            page: PageState::default(),
            last_page_bounds: None,
            min: None,
            max: None,
            full_at: (u8::MAX, 0),
            out: ChunkPages::new(descr, settings),
        }
    }

    /// The dictionary index of `value`, added if new.
    pub(super) fn intern(&mut self, value: &[u8]) -> u32 {
        if let Some(&i) = self.lookup.get(value) {
            return i;
        }
        let i = self.dictionary.len() as u32;
        let value = Bytes::copy_from_slice(value);
        self.dictionary_bytes += value.len() + 4;
        self.dictionary.push(value.clone());
        self.lookup.insert(value, i);
        self.seen_in_page.push(u32::MAX);
        i
    }

    /// Position in `remaps` of the remap table for `values`, created if new.
    /// Entries are only evicted by [`trim_remaps`](Self::trim_remaps), between calls.
    pub(super) fn remap_slot(&mut self, values: &ArrayRef) -> usize {
        if let Some(i) = self.remaps.iter().position(|(v, _)| Arc::ptr_eq(v, values)) {
            return i;
        }
        self.remaps
            .push((values.clone(), vec![UNSEEN; values.len()]));
        self.remaps.len() - 1
    }

    pub(super) fn trim_remaps(&mut self) {
        if self.remaps.len() > REMAP_CACHE {
            let excess = self.remaps.len() - REMAP_CACHE;
            self.remaps.drain(..excess);
        }
    }

    /// Dictionary index of row `r` of `source` (`NULL_VALUE` for null).
    #[inline]
    pub(super) fn code(&mut self, source: &Source<'_>, r: usize) -> u32 {
        match source {
            Source::Dict {
                keys,
                nulls,
                values,
                slot,
            } => {
                if nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                    return NULL_VALUE;
                }
                let k = keys.get(r);
                let Some(&code) = self.remaps[*slot].1.get(k) else {
                    return BAD_KEY;
                };
                if code != UNSEEN {
                    return code;
                }
                let code = match value_at(values.as_ref(), k) {
                    Some(v) => self.intern(v),
                    None => NULL_VALUE,
                };
                self.remaps[*slot].1[k] = code;
                code
            }
            Source::Plain(array) => match value_at(*array, r) {
                None => NULL_VALUE,
                // Sorted data repeats values: compare with the previous row first.
                Some(v) => match self.page.last {
                    Some(last) if self.dictionary[last as usize] == v => last,
                    _ => self.intern(v),
                },
            },
        }
    }

    /// Output codes of rows `rows` of dictionary `source` into `codes`, in one
    /// loop over the key slice: `NULL_VALUE` for a null, `BAD_KEY` for a key out
    /// of range, `UNSEEN` where the value is not in this chunk's dictionary yet
    /// (left for [`code`](Self::code), so that values enter the dictionary in
    /// row order). `false` if `source` is not a dictionary.
    pub(super) fn precode(
        &self,
        source: &Source<'_>,
        rows: Range<usize>,
        codes: &mut Vec<u32>,
    ) -> bool {
        let Source::Dict {
            keys, nulls, slot, ..
        } = source
        else {
            return false;
        };
        codes.clear();
        let remap = &self.remaps[*slot].1;
        match keys {
            Keys::I8(k) => remap_keys(k, rows.clone(), remap, codes),
            Keys::I16(k) => remap_keys(k, rows.clone(), remap, codes),
            Keys::I32(k) => remap_keys(k, rows.clone(), remap, codes),
            Keys::I64(k) => remap_keys(k, rows.clone(), remap, codes),
            Keys::U8(k) => remap_keys(k, rows.clone(), remap, codes),
            Keys::U16(k) => remap_keys(k, rows.clone(), remap, codes),
            Keys::U32(k) => remap_keys(k, rows.clone(), remap, codes),
            Keys::U64(k) => remap_keys(k, rows.clone(), remap, codes),
        }
        if let Some(nulls) = nulls.as_ref().filter(|n| n.null_count() > 0) {
            for (code, r) in codes.iter_mut().zip(rows) {
                if nulls.is_null(r) {
                    *code = NULL_VALUE;
                }
            }
        }
        true
    }

    /// Estimated encoded size of the values of the page in progress, as parquet-rs
    /// estimates it against the data page size limit: the RLE buffer bound of
    /// the dictionary indices, or the PLAIN bytes (4-byte length + value).
    pub(super) fn page_bytes(&self) -> usize {
        let page = &self.page;
        if self.fallback {
            usize::try_from(page.value_bytes).unwrap_or(usize::MAX) + 4 * page.plain.len()
        } else {
            let bit_width = index_bit_width(self.dictionary.len());
            parquet::encodings::rle::RleEncoder::max_buffer_size(bit_width, page.indices.len())
        }
    }

    /// Whether the page in progress reached `limit` bytes by [`page_bytes`](Self::page_bytes),
    /// in O(1): for dictionary indices, the row count at which the RLE bound
    /// reaches the limit is found once per bit width (the bound grows with the
    /// rows), so runs of one row do not recompute the bound each time.
    pub(super) fn page_full(&mut self, limit: usize) -> bool {
        if self.fallback {
            return self.page_bytes() >= limit;
        }
        self.page.indices.len() >= self.full_at(limit)
    }

    /// Rows the page in progress can take before [`page_full`](Self::page_full)
    /// (at the dictionary's current bit width; `usize::MAX` after a fallback).
    pub(super) fn rows_until_full(&mut self, limit: usize) -> usize {
        if self.fallback {
            return usize::MAX;
        }
        self.full_at(limit).saturating_sub(self.page.indices.len())
    }

    /// The index count at which a dictionary page reaches `limit` bytes,
    /// found once per bit width.
    fn full_at(&mut self, limit: usize) -> usize {
        let bit_width = index_bit_width(self.dictionary.len());
        if self.full_at.0 != bit_width {
            let bound = |n| parquet::encodings::rle::RleEncoder::max_buffer_size(bit_width, n);
            // Each index takes at least one bit: 8 * limit rows reach any limit
            // unless the bound stays below it (bit width 0).
            let (mut lo, mut hi) = (0usize, limit.saturating_mul(8).saturating_add(64));
            let rows = if bound(hi) < limit {
                usize::MAX
            } else {
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if bound(mid) >= limit {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                lo
            };
            self.full_at = (bit_width, rows);
        }
        self.full_at.1
    }

    /// Add a non-null dictionary-encoded row.
    #[inline]
    pub(super) fn push_code(&mut self, code: u32, nullable: bool) {
        let page = &mut self.page;
        if nullable {
            page.levels.push(1);
        }
        page.indices.push(code);
        page.value_bytes += self.dictionary[code as usize].len() as i64;
        self.mark_used(code);
    }

    /// Add `n` non-null dictionary-encoded rows of one value (sorted data
    /// repeats a value for the rows of a series).
    #[inline]
    pub(super) fn push_repeated(&mut self, code: u32, n: usize, nullable: bool) {
        let page = &mut self.page;
        if nullable {
            page.levels.resize(page.levels.len() + n, 1);
        }
        page.indices.resize(page.indices.len() + n, code);
        page.value_bytes += (self.dictionary[code as usize].len() * n) as i64;
        self.mark_used(code);
    }

    /// Note dictionary index `code` as used in the page in progress (once).
    #[inline]
    fn mark_used(&mut self, code: u32) {
        let page = &mut self.page;
        if page.last != Some(code) {
            page.last = Some(code);
            let seen = &mut self.seen_in_page[code as usize];
            if *seen != self.epoch {
                *seen = self.epoch;
                page.used.push(code);
            }
        }
    }

    /// Add `n` null rows.
    #[inline]
    pub(super) fn push_nulls(&mut self, n: usize) {
        let page = &mut self.page;
        page.levels.resize(page.levels.len() + n, 0);
        page.nulls += n as u64;
    }

    /// Add a non-null row to a PLAIN page.
    pub(super) fn push_plain(&mut self, value: &[u8], nullable: bool) {
        let page = &mut self.page;
        if nullable {
            page.levels.push(1);
        }
        page.value_bytes += value.len() as i64;
        let value = Bytes::copy_from_slice(value);
        page.plain_bounds = match page.plain_bounds.take() {
            None => Some((value.clone(), value.clone())),
            Some((min, max)) => Some((
                if value < min { value.clone() } else { min },
                if value > max { value.clone() } else { max },
            )),
        };
        page.plain.push(ByteArray::from(value));
    }
}

/// Push the remapped `keys[rows]` onto `codes` (`BAD_KEY` for a key out of
/// range, of `keys` or of `remap`).
fn remap_keys<K: Copy + TryInto<usize>>(
    keys: &[K],
    rows: Range<usize>,
    remap: &[u32],
    codes: &mut Vec<u32>,
) {
    let Some(keys) = keys.get(rows.clone()) else {
        codes.extend(rows.map(|_| BAD_KEY));
        return;
    };
    codes.extend(keys.iter().map(|&k| {
        k.try_into()
            .ok()
            .and_then(|k: usize| remap.get(k).copied())
            .unwrap_or(BAD_KEY)
    }));
}
