//! Merge keys of a batch: the series columns encoded once per run of rows of one
//! series (sorted data repeats a series for many rows), the time column once per
//! row, both as arrow `Rows`; a row's key is the pair, compared series first.
//! A region's streams share [`SeriesIds`]: rows of one series carry one tag, so
//! comparing them (interleaved inputs hold the same series) skips the bytes.

use crate::key::SortKeys;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, UInt32Array};
use arrow_buffer::Buffer;
use arrow_row::{RowConverter, Rows};
use arrow_schema::ArrowError;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

/// Distinct series a [`SeriesIds`] holds before it starts a new generation.
pub(crate) const SERIES_IDS: usize = 1024;

/// Generations of series ids, unique in the process.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// Tags for encoded series: equal bytes get equal tags within one generation,
/// and tags of different generations (or of two `SeriesIds`) never meet, so two
/// equal non-zero tags always mean equal series. At most [`SERIES_IDS`] series
/// are held: then a new generation starts (the merge walks series in order, so
/// old ones are rarely met again; when they are, their bytes are compared).
pub(crate) struct SeriesIds {
    generation: u64,
    ids: HashMap<Box<[u8]>, u32>,
}

impl SeriesIds {
    pub fn new() -> Self {
        SeriesIds {
            generation: GENERATIONS.fetch_add(1, AtomicOrdering::Relaxed),
            ids: HashMap::new(),
        }
    }

    /// The tag of `series` (never 0).
    fn tag(&mut self, series: &[u8]) -> u64 {
        let id = match self.ids.get(series) {
            Some(&id) => id,
            None => {
                if self.ids.len() >= SERIES_IDS {
                    self.ids.clear();
                    self.generation = GENERATIONS.fetch_add(1, AtomicOrdering::Relaxed);
                }
                let id = self.ids.len() as u32 + 1;
                self.ids.insert(series.into(), id);
                id
            }
        };
        (self.generation << 32) | u64::from(id)
    }
}

/// One row's merge key: its series part and its time part (empty when the sort
/// schema has no such column). Arrow's row encoding of each column is
/// self-delimiting, so no series encoding is a proper prefix of another and
/// comparing (series, time) field by field orders rows exactly as comparing the
/// row encoding of all key columns would. Equal non-zero tags (see
/// [`SeriesIds`]) stand for equal series.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRef<'a> {
    /// The encoded series columns.
    pub series: &'a [u8],
    /// The encoded time column.
    pub time: &'a [u8],
    /// The series' tag (0: none).
    pub tag: u64,
}

impl KeyRef<'_> {
    /// A copy that outlives the batch.
    pub fn owned(&self) -> OwnedKey {
        OwnedKey {
            series: self.series.to_vec(),
            time: self.time.to_vec(),
            tag: self.tag,
        }
    }

    /// Whether both keys have the same series (by tag when they share one).
    #[inline]
    pub fn same_series(&self, other: &KeyRef<'_>) -> bool {
        (self.tag != 0 && self.tag == other.tag) || self.series == other.series
    }
}

impl PartialEq for KeyRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.same_series(other)
    }
}

impl Eq for KeyRef<'_> {}

impl PartialOrd for KeyRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyRef<'_> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        if self.tag != 0 && self.tag == other.tag {
            return cmp_short(self.time, other.time);
        }
        self.series
            .cmp(other.series)
            .then_with(|| cmp_short(self.time, other.time))
    }
}

/// Byte order of two short slices (time encodings: 9 bytes for 64-bit
/// values), eight bytes at a time as big-endian integers rather than through
/// a `memcmp` call.
#[inline]
fn cmp_short(mut a: &[u8], mut b: &[u8]) -> Ordering {
    while let (Some((x, rest_a)), Some((y, rest_b))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        match u64::from_be_bytes(*x).cmp(&u64::from_be_bytes(*y)) {
            Ordering::Equal => (a, b) = (rest_a, rest_b),
            unequal => return unequal,
        }
    }
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// A merge key kept across batches (the last row of a window or batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OwnedKey {
    series: Vec<u8>,
    time: Vec<u8>,
    tag: u64,
}

impl OwnedKey {
    /// The key, borrowed.
    pub fn key(&self) -> KeyRef<'_> {
        KeyRef {
            series: &self.series,
            time: &self.time,
            tag: self.tag,
        }
    }
}

/// The merge keys of one batch.
pub(crate) struct MergeKeys {
    /// One row per run of rows that share a series (`None`: no series column).
    series: Option<Rows>,
    /// Per row, its run in `series`.
    run: Vec<u32>,
    /// Per run, its series' tag (empty: no tags).
    tags: Vec<u64>,
    /// Per row, the time column: fixed-width encodings back to back, and
    /// their width (`None`: no time column).
    time: Option<(Buffer, usize)>,
}

/// The columns a batch's keys are built from, with their converters.
pub(crate) struct KeyColumns<'a> {
    /// Converter of the series columns and the columns (`None`: none).
    pub series: Option<(&'a RowConverter, Vec<ArrayRef>)>,
    /// Converter of the time column and the column (`None`: none).
    pub time: Option<(&'a RowConverter, ArrayRef)>,
    /// Rows of the batch.
    pub len: usize,
    /// The region's series tags (`None`: keys without tags).
    pub ids: Option<&'a mut SeriesIds>,
}

impl MergeKeys {
    /// Encode the keys of a batch's `columns`.
    pub fn build(columns: KeyColumns<'_>) -> Result<Self, ArrowError> {
        let len = columns.len;
        let (series, run) = match columns.series {
            Some((converter, cols)) => {
                let starts = run_starts(&cols, len);
                let mut run = Vec::with_capacity(len);
                for (r, _) in starts.iter().enumerate() {
                    let end = starts.get(r + 1).map_or(len, |&e| e as usize);
                    run.resize(end, r as u32);
                }
                let rows = if starts.len() == len {
                    converter.convert_columns(&cols)?
                } else {
                    let at = UInt32Array::from(starts);
                    let taken = cols
                        .iter()
                        .map(|c| arrow_select::take::take(c.as_ref(), &at, None))
                        .collect::<Result<Vec<_>, _>>()?;
                    converter.convert_columns(&taken)?
                };
                (Some(rows), run)
            }
            None => (None, vec![0; len]),
        };
        let tags = match (&series, columns.ids) {
            (Some(rows), Some(ids)) => rows.iter().map(|r| ids.tag(r.data())).collect(),
            _ => Vec::new(),
        };
        let time = match columns.time {
            Some((converter, col)) => {
                let rows = converter.convert_columns(&[col])?;
                let width = if len == 0 {
                    0
                } else {
                    rows.row(0).data().len()
                };
                let values = rows.try_into_binary()?.values().clone();
                if values.len() != width * len {
                    return Err(ArrowError::ComputeError(format!(
                        "time column: {} bytes of keys for {len} rows of {width} bytes",
                        values.len()
                    )));
                }
                Some((values, width))
            }
            None => None,
        };
        Ok(MergeKeys {
            series,
            run,
            tags,
            time,
        })
    }

    /// Rows in the batch.
    pub fn num_rows(&self) -> usize {
        self.run.len()
    }

    /// Key of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> KeyRef<'_> {
        let run = self.run[i] as usize;
        KeyRef {
            series: match &self.series {
                Some(s) => s.row(run).data(),
                None => &[],
            },
            time: self.time_of(i),
            tag: self.tags.get(run).copied().unwrap_or(0),
        }
    }

    /// The time part of row `i`'s key.
    #[inline]
    fn time_of(&self, i: usize) -> &[u8] {
        match &self.time {
            Some((values, width)) => &values[i * width..(i + 1) * width],
            None => &[],
        }
    }

    /// Whether row `i` (> 0) has the series of row `i - 1`.
    #[inline]
    pub fn same_series_as_previous(&self, i: usize) -> bool {
        self.run[i] == self.run[i - 1] || self.row(i).same_series(&self.row(i - 1))
    }
}

impl SortKeys for MergeKeys {
    type Owned = OwnedKey;

    fn num_rows(&self) -> usize {
        MergeKeys::num_rows(self)
    }

    fn less(&self, i: usize, j: usize) -> bool {
        self.row(i) < self.row(j)
    }

    /// Within a run only the time part can differ.
    fn less_than_previous(&self, i: usize) -> bool {
        if self.run[i] == self.run[i - 1] {
            self.time_of(i) < self.time_of(i - 1)
        } else {
            self.less(i, i - 1)
        }
    }

    fn less_than(&self, i: usize, last: &OwnedKey) -> bool {
        self.row(i) < last.key()
    }

    fn owned(&self, i: usize) -> OwnedKey {
        self.row(i).owned()
    }
}

/// First rows of the runs of rows whose series columns repeat the row before
/// (row 0 always starts one). Rows compared equal by arrow's `distinct` kernel
/// (nulls equal to nulls) share a run; a column the kernel cannot compare
/// makes every row start a run (more encoding, same keys).
fn run_starts(columns: &[ArrayRef], len: usize) -> Vec<u32> {
    if len == 0 {
        return Vec::new();
    }
    // changed[i]: row i + 1 may differ from row i.
    let mut changed = vec![false; len - 1];
    for c in columns {
        if mark_changes(c.as_ref(), &mut changed).is_none() {
            return (0..len as u32).collect();
        }
    }
    let mut starts = vec![0u32];
    starts.extend(
        changed
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c)
            .map(|(i, _)| i as u32 + 1),
    );
    starts
}

/// Set `changed[i]` where row `i + 1` of `column` may differ from row `i`
/// (`None`: the column cannot be compared). Dictionary columns compare their
/// keys and validity (one batch has one dictionary; equal values under two keys
/// only split a run), others their values with arrow's `distinct` kernel
/// (nulls equal to nulls).
fn mark_changes(column: &dyn Array, changed: &mut [bool]) -> Option<()> {
    let len = changed.len() + 1;
    if let Some(dict) = column.as_dictionary_opt::<Int32Type>() {
        let keys = dict.keys().values();
        let pairs = keys[1..len].iter().zip(&keys[..len - 1]);
        for (c, (now, before)) in changed.iter_mut().zip(pairs) {
            *c |= now != before;
        }
        if let Some(nulls) = dict.keys().nulls().filter(|n| n.null_count() > 0) {
            let valid = nulls.inner();
            let flips = &valid.slice(1, len - 1) ^ &valid.slice(0, len - 1);
            flips.set_indices().for_each(|i| changed[i] = true);
        }
        return Some(());
    }
    let (now, before) = (column.slice(1, len - 1), column.slice(0, len - 1));
    // `distinct` never yields nulls: its values are the answer.
    let distinct = arrow_ord::cmp::distinct(&now, &before).ok()?;
    distinct
        .values()
        .set_indices()
        .for_each(|i| changed[i] = true);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::types::Int32Type;
    use arrow_array::{Array, Int64Array};
    use arrow_row::SortField;
    use std::sync::Arc;

    /// The keys order rows exactly as arrow's row encoding of all the key
    /// columns does, and equal rows have equal keys.
    #[test]
    fn keys_order_rows_as_the_full_row_encoding() {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        for v in [
            Some("a"),
            Some("a"),
            None,
            None,
            Some("ab"),
            Some("b"),
            Some("b"),
            Some("a"),
        ] {
            b.append_option(v);
        }
        let tag: ArrayRef = Arc::new(b.finish());
        let id: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1),
            Some(1),
            None,
            Some(2),
            Some(2),
            Some(2),
            Some(2),
            Some(1),
        ]));
        let time: ArrayRef = Arc::new(Int64Array::from(vec![5, 4, 4, 9, 1, 3, 3, 7]));
        let field = |a: &ArrayRef| SortField::new(a.data_type().clone());
        let series = RowConverter::new(vec![field(&tag), field(&id)]).unwrap();
        let times = RowConverter::new(vec![field(&time)]).unwrap();
        let all = RowConverter::new(vec![field(&tag), field(&id), field(&time)]).unwrap();
        let mut ids = SeriesIds::new();
        let build = |ids: Option<&mut SeriesIds>| {
            MergeKeys::build(KeyColumns {
                series: Some((&series, vec![tag.clone(), id.clone()])),
                time: Some((&times, time.clone())),
                len: tag.len(),
                ids,
            })
            .unwrap()
        };
        let keys = build(Some(&mut ids));
        // The same rows as another batch of the region, and without tags.
        let again = build(Some(&mut ids));
        let untagged = build(None);
        let full = all.convert_columns(&[tag, id, time]).unwrap();
        // Runs: [a,1] [a,1] | [null,null] | [null,2] | [ab,2] | [b,2] [b,2] | [a,1].
        assert_eq!(keys.run, vec![0, 0, 1, 2, 3, 4, 4, 5]);
        // Rows 0 and 7 are runs apart but one series: one tag, also in `again`.
        assert_eq!(keys.row(0).tag, keys.row(7).tag);
        assert_eq!(keys.row(0).tag, again.row(7).tag);
        assert_ne!(keys.row(0).tag, keys.row(4).tag);
        for i in 0..8 {
            for j in 0..8 {
                let want = full.row(i).cmp(&full.row(j));
                for (a, b) in [(&keys, &keys), (&keys, &again), (&untagged, &keys)] {
                    assert_eq!(a.row(i).cmp(&b.row(j)), want, "rows {i} and {j}");
                    assert_eq!(a.row(i) == b.row(j), want.is_eq(), "rows {i} and {j}");
                }
            }
            assert_eq!(keys.row(i).owned().key(), keys.row(i));
            assert_eq!(keys.row(i).owned().key().tag, keys.row(i).tag);
        }
        assert!(keys.same_series_as_previous(1));
        assert!(!keys.same_series_as_previous(2));
        assert!(keys.same_series_as_previous(6));
    }

    /// A full `SeriesIds` starts a new generation: a series tagged before and
    /// after gets two tags, which never compare equal to each other, so its keys
    /// are compared by bytes; equal tags only ever come from equal series.
    #[test]
    fn tags_of_two_generations_never_meet() {
        let mut ids = SeriesIds::new();
        let first = ids.tag(b"s");
        assert_eq!(ids.tag(b"s"), first);
        for i in 0..SERIES_IDS {
            ids.tag(format!("other {i}").as_bytes());
        }
        let later = ids.tag(b"s");
        assert_ne!(first, later);
        assert_eq!(ids.tag(b"s"), later);
        let key = |tag| KeyRef {
            series: b"s",
            time: b"t",
            tag,
        };
        assert_eq!(key(first), key(later));
        assert_ne!(SeriesIds::new().tag(b"s"), first);
    }

    /// `cmp_short` orders byte slices as slices do, lengths included.
    #[test]
    fn cmp_short_is_slice_order() {
        let samples: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 0],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9],
            vec![1, 2, 3, 4, 5, 6, 7, 9, 0],
            vec![255; 9],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16],
        ];
        for a in &samples {
            for b in &samples {
                assert_eq!(cmp_short(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
